/*
 * pipeline.c - receive + SHA-256, inflate and the tar reader on their own
 * threads (fetch/pipeline.h)
 *
 * Why threads and rings: a verified install does three kinds of work on
 * every byte - SHA-256 of the compressed stream, decompression, and the
 * tar side (headers, writes, the git blob SHA-1) - and on one thread their
 * times add up.  Here each stage runs on its own thread and hands fixed-size
 * chunks to the next through a ring of a few slots, so on two or more cores
 * the install takes about as long as its slowest stage.
 *
 * The protocol: one mutex and one condition variable guard every ring
 * index, the stop flag and the first error; chunk bytes are touched without
 * the lock, by the producer between acquire and commit and by the consumer
 * between take and its next take, and the ring's count keeps those two
 * sets of slots apart.  Any stage failing records the first error, sets
 * stop and wakes everyone; a stage that sees stop returns without touching
 * a ring again.  The consumer stops the others the same way when the tar
 * data ends or fails, then joins them, so no thread outlives the unpack.
 * The receive stage owns the fetch_stream from pipeline_start() to the
 * join: only it calls into the stream in between.
 */
#include "config.h"

#include "fetch/pipeline.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fetch/inflate.h"

#define RAW_SLOTS 4
#define RAW_SLOT (256u << 10) /* compressed bytes per chunk */
#define OUT_SLOTS 4
#define OUT_SLOT (512u << 10) /* decompressed bytes per chunk */
#define MSG_MAX 512

struct chunk {
	unsigned char *data;
	size_t len;
	uint64_t in_bytes; /* compressed bytes received up to the end of this chunk */
};

/*
 * A bounded FIFO of n chunks: the consumer's next chunk at head, count
 * chunks committed (including the one the consumer holds), the producer's
 * next at head + count.
 */
struct ring {
	struct chunk c[OUT_SLOTS > RAW_SLOTS ? OUT_SLOTS : RAW_SLOTS];
	size_t n, size, head, count;
	bool closed; /* the producer's end: nothing more follows */
	bool held;   /* the consumer holds c[head] */
};

struct pipeline {
	struct fetch_stream *in;
	unsigned flags;
	struct inflate *z;
	uint64_t src_bytes; /* in_bytes of the chunk the inflate stage reads */

	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct ring raw, out;
	bool stop;
	int err;
	bool from_stream;
	char msg[MSG_MAX];
	bool magic_set;
	unsigned char magic[8];
	size_t magic_len;
	const char *codec;

	pthread_t recv_th, infl_th;
	bool recv_run, infl_run;

	unsigned char *ibuf; /* PIPELINE_INLINE: the output buffer */
};

/* --- the shared state ---------------------------------------------------------------- */

/* Record the first error, stop every stage and wake them.  Under no lock. */
static void pipe_fail(
	struct pipeline *p, int err, bool from_stream, const char *prefix, const char *msg)
{
	pthread_mutex_lock(&p->lock);
	if (!p->err) {
		p->err = err;
		p->from_stream = from_stream;
		snprintf(p->msg, sizeof(p->msg), "%s%s", prefix, *msg ? msg : strerror(-err));
	}
	p->stop = true;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
}

/* The inflate stage: publish what the codec learnt from the first bytes. */
static void pipe_set_magic(struct pipeline *p)
{
	const unsigned char *m;
	size_t n;

	if (p->magic_set)
		return; /* only this stage writes it: reading without the lock is fine */
	m = inflate_magic(p->z, &n);
	pthread_mutex_lock(&p->lock);
	memcpy(p->magic, m, n);
	p->magic_len = n;
	p->codec = inflate_name(p->z);
	p->magic_set = true;
	pthread_mutex_unlock(&p->lock);
}

static void inflate_failed(struct pipeline *p, int r)
{
	/* a failing source has recorded its error already (or the consumer stopped) */
	if (inflate_source_failed(p->z))
		return;
	pipe_fail(p, r, false, r == -ENOMEM ? "" : "malformed tarball: ", inflate_errmsg(p->z));
}

/* --- rings ------------------------------------------------------------------------------ */

static int ring_init(struct ring *r, size_t n, size_t size)
{
	size_t i;

	r->n = n;
	r->size = size;
	for (i = 0; i < n; i++) {
		r->c[i].data = malloc(size);
		if (!r->c[i].data)
			return -ENOMEM;
	}
	return 0;
}

static void ring_release(struct ring *r)
{
	size_t i;

	for (i = 0; i < r->n; i++)
		free(r->c[i].data);
}

/* The producer's next free chunk, waiting for one; NULL when stopped. */
static struct chunk *ring_acquire(struct pipeline *p, struct ring *r)
{
	struct chunk *c = NULL;

	pthread_mutex_lock(&p->lock);
	while (!p->stop && r->count == r->n)
		pthread_cond_wait(&p->cond, &p->lock);
	if (!p->stop)
		c = &r->c[(r->head + r->count) % r->n];
	pthread_mutex_unlock(&p->lock);
	return c;
}

/* Hand the acquired chunk to the consumer (close: or end the ring instead). */
static void ring_commit(struct pipeline *p, struct ring *r, bool close)
{
	pthread_mutex_lock(&p->lock);
	if (close)
		r->closed = true;
	else
		r->count++;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
}

/*
 * The consumer: give back the chunk it held and take the next into *ret,
 * waiting for one; NULL at the end.  Returns 0, the first error, or
 * -ECANCELED when stopped without one.
 */
static int ring_take(struct pipeline *p, struct ring *r, struct chunk **ret)
{
	int e = 0;

	pthread_mutex_lock(&p->lock);
	if (r->held) {
		r->head = (r->head + 1) % r->n;
		r->count--;
		r->held = false;
		pthread_cond_broadcast(&p->cond);
	}
	while (!p->stop && r->count == 0 && !r->closed)
		pthread_cond_wait(&p->cond, &p->lock);
	*ret = NULL;
	if (p->stop) {
		e = p->err ? p->err : -ECANCELED;
	} else if (r->count) {
		*ret = &r->c[r->head];
		r->held = true;
	}
	pthread_mutex_unlock(&p->lock);
	return e;
}

static bool stopped(struct pipeline *p)
{
	bool s;

	pthread_mutex_lock(&p->lock);
	s = p->stop;
	pthread_mutex_unlock(&p->lock);
	return s;
}

/* --- the stages -------------------------------------------------------------------------- */

/* Receive + SHA-256 (inside fetch_stream_read()), into the raw ring. */
static void *recv_main(void *arg)
{
	struct pipeline *p = arg;
	const unsigned char *b;
	const void *v;
	struct chunk *c;
	uint64_t bytes;
	size_t n, k;
	int r;

	while (!stopped(p)) {
		r = fetch_stream_read(p->in, &v, &n);
		if (r < 0) {
			pipe_fail(p, r, true, "", fetch_stream_errmsg(p->in));
			break;
		}
		if (n == 0) {
			ring_commit(p, &p->raw, true);
			break;
		}
		bytes = fetch_stream_bytes(p->in);
		for (b = v; n > 0; b += k, n -= k) {
			c = ring_acquire(p, &p->raw);
			if (!c)
				return NULL;
			k = n < p->raw.size ? n : p->raw.size;
			memcpy(c->data, b, k);
			c->len = k;
			c->in_bytes = bytes - (n - k);
			ring_commit(p, &p->raw, false);
		}
	}
	return NULL;
}

/* The inflate stage's source: the raw ring. */
static int raw_source(void *arg, const void **buf, size_t *len)
{
	struct pipeline *p = arg;
	struct chunk *c;
	int r = ring_take(p, &p->raw, &c);

	if (r < 0)
		return r;
	*buf = c ? c->data : NULL;
	*len = c ? c->len : 0;
	if (c)
		p->src_bytes = c->in_bytes;
	return 0;
}

/* Inflate, from the raw ring into the out ring. */
static void *infl_main(void *arg)
{
	struct pipeline *p = arg;
	struct chunk *c;
	size_t got;
	int r;

	for (;;) {
		c = ring_acquire(p, &p->out);
		if (!c)
			break;
		r = inflate_read(p->z, c->data, p->out.size, &got);
		pipe_set_magic(p);
		if (r < 0) {
			inflate_failed(p, r);
			break;
		}
		if (got == 0) {
			if (p->flags & PIPELINE_DRAIN) {
				r = inflate_drain(p->z);
				if (r < 0)
					break; /* the source's error, recorded */
			}
			ring_commit(p, &p->out, true);
			break;
		}
		c->len = got;
		c->in_bytes = p->src_bytes;
		ring_commit(p, &p->out, false);
	}
	return NULL;
}

/* PIPELINE_INLINE: the stream itself is the inflate's source. */
static int stream_source(void *arg, const void **buf, size_t *len)
{
	struct pipeline *p = arg;
	int r = fetch_stream_read(p->in, buf, len);

	if (r < 0) {
		pipe_fail(p, r, true, "", fetch_stream_errmsg(p->in));
		return r;
	}
	p->src_bytes = fetch_stream_bytes(p->in);
	return 0;
}

/* --- the interface ---------------------------------------------------------------------- */

int pipeline_start(struct fetch_stream *in, unsigned flags, struct pipeline **ret)
{
	bool inl = flags & PIPELINE_INLINE;
	struct pipeline *p = calloc(1, sizeof(*p));
	int r;

	if (!p)
		return -ENOMEM;
	p->in = in;
	p->flags = flags;
	p->codec = "none";
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->cond, NULL);
	r = inflate_new(inl ? stream_source : raw_source, p,
		flags & PIPELINE_LIBARCHIVE ? INFLATE_LIBARCHIVE : 0, &p->z);
	if (r == 0 && inl) {
		p->ibuf = malloc(OUT_SLOT);
		r = p->ibuf ? 0 : -ENOMEM;
	}
	if (r == 0 && !inl)
		r = ring_init(&p->raw, RAW_SLOTS, RAW_SLOT);
	if (r == 0 && !inl)
		r = ring_init(&p->out, OUT_SLOTS, OUT_SLOT);
	if (r == 0 && !inl) {
		r = -pthread_create(&p->recv_th, NULL, recv_main, p);
		p->recv_run = r == 0;
	}
	if (r == 0 && !inl) {
		r = -pthread_create(&p->infl_th, NULL, infl_main, p);
		p->infl_run = r == 0;
	}
	if (r < 0) {
		pipeline_free(p);
		return r;
	}
	*ret = p;
	return 0;
}

static int inline_read(struct pipeline *p, const void **buf, size_t *len, uint64_t *in_bytes)
{
	size_t got;
	int r;

	if (p->err)
		return p->err;
	r = inflate_read(p->z, p->ibuf, OUT_SLOT, &got);
	pipe_set_magic(p);
	if (r == 0 && got == 0 && (p->flags & PIPELINE_DRAIN))
		r = inflate_drain(p->z);
	if (r < 0) {
		inflate_failed(p, r);
		return p->err;
	}
	*buf = p->ibuf;
	*len = got;
	*in_bytes = p->src_bytes;
	return 0;
}

int pipeline_read(struct pipeline *p, const void **buf, size_t *len, uint64_t *in_bytes)
{
	struct chunk *c;
	int r;

	*buf = NULL;
	*len = 0;
	if (p->flags & PIPELINE_INLINE)
		return inline_read(p, buf, len, in_bytes);
	r = ring_take(p, &p->out, &c);
	if (r < 0 || !c)
		return r;
	*buf = c->data;
	*len = c->len;
	*in_bytes = c->in_bytes;
	return 0;
}

const char *pipeline_errmsg(struct pipeline *p, bool *from_stream)
{
	const char *m;

	pthread_mutex_lock(&p->lock);
	m = p->msg;
	if (from_stream)
		*from_stream = p->from_stream;
	pthread_mutex_unlock(&p->lock);
	return m; /* written once, before err was set: stable from here on */
}

const unsigned char *pipeline_magic(struct pipeline *p, size_t *len)
{
	pthread_mutex_lock(&p->lock);
	*len = p->magic_len;
	pthread_mutex_unlock(&p->lock);
	return p->magic;
}

const char *pipeline_codec(struct pipeline *p)
{
	const char *c;

	pthread_mutex_lock(&p->lock);
	c = p->codec;
	pthread_mutex_unlock(&p->lock);
	return c;
}

void pipeline_stop(struct pipeline *p)
{
	pthread_mutex_lock(&p->lock);
	p->stop = true;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
	if (p->recv_run)
		pthread_join(p->recv_th, NULL);
	if (p->infl_run)
		pthread_join(p->infl_th, NULL);
	p->recv_run = p->infl_run = false;
}

void pipeline_free(struct pipeline *p)
{
	if (!p)
		return;
	pipeline_stop(p);
	inflate_free(p->z);
	ring_release(&p->raw);
	ring_release(&p->out);
	free(p->ibuf);
	pthread_cond_destroy(&p->cond);
	pthread_mutex_destroy(&p->lock);
	free(p);
}
