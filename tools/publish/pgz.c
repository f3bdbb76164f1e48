/*
 * pgz.c - parallel gzip, the same bytes for every thread count (pgz.h)
 *
 * Blocks live in a ring of 2 * jobs + 2 slots (one slot with jobs == 1).
 * The caller's thread fills the slot at seq_in, hands it to the compressors
 * (state QUEUED, seq_queued), and writes the slots out in order from
 * seq_out once they are DONE; a slot is FREE again once written.  The
 * compressor threads take QUEUED slots in order (seq_take).  Every state
 * change and sequence number is under mu; a slot's buffers belong to the
 * caller while FREE, to one compressor from QUEUED to DONE, and are read
 * by the caller once DONE.
 *
 * A full block is handed over only when more input arrives, so that the
 * last block, full or not, is the one that ends with Z_FINISH.
 */
#include "tools/publish/pgz.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

enum slot_state { SLOT_FREE, SLOT_FILLING, SLOT_QUEUED, SLOT_DONE };

struct slot {
	uint8_t *in; /* PGZ_DICT + PGZ_BLOCK: dictionary, then the block */
	size_t dlen, len;
	uint8_t *out;
	size_t olen, ocap;
	uint32_t crc; /* of the block, not the dictionary */
	bool last;
	int err;
	enum slot_state state;
};

struct pgz {
	int level;
	unsigned nthreads; /* 0: compress in the caller's thread */
	pgz_sink_fn *sink;
	void *arg;
	struct slot *ring;
	unsigned nring;
	uint64_t seq_in, seq_queued, seq_take, seq_out;
	struct slot *cur; /* the slot being filled, or NULL */
	uint8_t dict[PGZ_DICT];
	size_t dict_len;
	z_stream *zs; /* one per thread (one for the caller when nthreads == 0) */
	unsigned nzs, nzs_init;
	pthread_t *threads;
	unsigned started;
	pthread_mutex_t mu;
	pthread_cond_t work, done;
	bool stop;
	uint32_t crc;
	uint64_t total;
	int err;
	bool finished;
};

struct worker_arg {
	struct pgz *z;
	z_stream *zs;
};

/* Compress one block into s->out (grown as needed). */
static int compress_slot(z_stream *zs, struct slot *s)
{
	int flush = s->last ? Z_FINISH : Z_SYNC_FLUSH, r;

	s->crc = (uint32_t)crc32(0, s->in + s->dlen, (uInt)s->len);
	s->olen = 0;
	if (deflateReset(zs) != Z_OK)
		return -EIO;
	if (s->dlen && deflateSetDictionary(zs, s->in, (uInt)s->dlen) != Z_OK)
		return -EIO;
	zs->next_in = s->in + s->dlen;
	zs->avail_in = (uInt)s->len;
	for (;;) {
		if (s->olen == s->ocap) {
			size_t cap = s->ocap * 2;
			uint8_t *o = realloc(s->out, cap);

			if (!o)
				return -ENOMEM;
			s->out = o;
			s->ocap = cap;
		}
		zs->next_out = s->out + s->olen;
		zs->avail_out = (uInt)(s->ocap - s->olen);
		r = deflate(zs, flush);
		s->olen = s->ocap - zs->avail_out;
		if (r == Z_STREAM_END)
			return 0;
		if (r != Z_OK && r != Z_BUF_ERROR)
			return -EIO;
		/* A sync flush is complete when deflate left output space unused. */
		if (!s->last && zs->avail_out && !zs->avail_in)
			return 0;
	}
}

static void *worker_main(void *p)
{
	struct worker_arg *wa = p;
	struct pgz *z = wa->z;
	struct slot *s;
	int r;

	pthread_mutex_lock(&z->mu);
	for (;;) {
		while (!z->stop && z->seq_take == z->seq_queued)
			pthread_cond_wait(&z->work, &z->mu);
		if (z->stop)
			break;
		s = &z->ring[z->seq_take++ % z->nring];
		pthread_mutex_unlock(&z->mu);
		r = compress_slot(wa->zs, s);
		pthread_mutex_lock(&z->mu);
		s->err = r;
		s->state = SLOT_DONE;
		pthread_cond_broadcast(&z->done);
	}
	pthread_mutex_unlock(&z->mu);
	free(wa);
	return NULL;
}

static int fail(struct pgz *z, int r)
{
	if (!z->err)
		z->err = r;
	return z->err;
}

static int emit(struct pgz *z, const void *p, size_t len)
{
	int r = z->sink(z->arg, p, len);

	return r < 0 ? fail(z, r) : 0;
}

/* Write the slot at seq_out once it is compressed (waiting for it when wait). */
static int write_next(struct pgz *z, bool wait)
{
	struct slot *s = &z->ring[z->seq_out % z->nring];
	uint8_t hdr[10] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3};
	int r;

	if (z->nthreads) {
		pthread_mutex_lock(&z->mu);
		while (wait && s->state != SLOT_DONE)
			pthread_cond_wait(&z->done, &z->mu);
		r = s->state == SLOT_DONE;
		pthread_mutex_unlock(&z->mu);
		if (!r)
			return 0;
	}
	if (s->err)
		return fail(z, s->err);
	if (z->seq_out == 0) {
		hdr[8] = z->level == 9 ? 2 : z->level == 1 ? 4 : 0;
		if ((r = emit(z, hdr, sizeof(hdr))) < 0)
			return r;
	}
	if ((r = emit(z, s->out, s->olen)) < 0)
		return r;
	z->crc = (uint32_t)crc32_combine(z->crc, s->crc, (z_off_t)s->len);
	z->total += s->len;
	s->state = SLOT_FREE;
	z->seq_out++;
	return 1;
}

/* Hand the slot being filled to the compressors (or compress it here). */
static int submit(struct pgz *z, bool last)
{
	struct slot *s = z->cur;
	size_t keep = s->len < PGZ_DICT ? s->len : PGZ_DICT;
	int r;

	/*
	 * The next block's dictionary: the last 32 KiB of input so far.  Every
	 * block but the last is full, and PGZ_BLOCK >= PGZ_DICT.
	 */
	memcpy(z->dict, s->in + s->dlen + s->len - keep, keep);
	z->dict_len = keep;
	s->last = last;
	z->cur = NULL;
	z->seq_in++;
	if (!z->nthreads) {
		s->err = compress_slot(&z->zs[0], s);
		s->state = SLOT_DONE;
		z->seq_queued++;
		return (r = write_next(z, true)) < 0 ? r : 0;
	}
	pthread_mutex_lock(&z->mu);
	s->state = SLOT_QUEUED;
	z->seq_queued++;
	pthread_cond_signal(&z->work);
	pthread_mutex_unlock(&z->mu);
	/* Write out whatever is ready, without waiting. */
	while ((r = write_next(z, false)) > 0)
		;
	return r;
}

/* Take the next slot for filling, writing out older ones until it is free. */
static int start_slot(struct pgz *z)
{
	struct slot *s = &z->ring[z->seq_in % z->nring];
	int r;

	while (z->seq_out + z->nring <= z->seq_in)
		if ((r = write_next(z, true)) < 0)
			return r;
	memcpy(s->in, z->dict, z->dict_len);
	s->dlen = z->dict_len;
	s->len = 0;
	s->state = SLOT_FILLING;
	z->cur = s;
	return 0;
}

int pgz_write(struct pgz *z, const void *p, size_t len)
{
	const uint8_t *b = p;
	int r;

	if (z->err)
		return z->err;
	if (z->finished)
		return fail(z, -EINVAL);
	while (len) {
		size_t n;

		if (z->cur && z->cur->len == PGZ_BLOCK && (r = submit(z, false)) < 0)
			return r;
		if (!z->cur && (r = start_slot(z)) < 0)
			return r;
		n = PGZ_BLOCK - z->cur->len;
		if (n > len)
			n = len;
		memcpy(z->cur->in + z->cur->dlen + z->cur->len, b, n);
		z->cur->len += n;
		b += n;
		len -= n;
	}
	return 0;
}

int pgz_finish(struct pgz *z)
{
	uint8_t tr[8];
	int r, i;

	if (z->err)
		return z->err;
	if (z->finished)
		return fail(z, -EINVAL);
	z->finished = true;
	if (!z->cur && (r = start_slot(z)) < 0)
		return r;
	if ((r = submit(z, true)) < 0)
		return r;
	while (z->seq_out < z->seq_in)
		if ((r = write_next(z, true)) < 0)
			return r;
	for (i = 0; i < 4; i++) {
		tr[i] = (uint8_t)(z->crc >> (8 * i));
		tr[4 + i] = (uint8_t)(z->total >> (8 * i));
	}
	return emit(z, tr, sizeof(tr));
}

int pgz_new(int level, unsigned jobs, pgz_sink_fn *sink, void *arg, struct pgz **ret)
{
	struct pgz *z;
	unsigned i;
	int r = -ENOMEM;

	if (level < 0)
		level = 6;
	if (level < 1 || level > 9 || jobs < 1 || jobs > PGZ_JOBS_MAX || !sink)
		return -EINVAL;
	z = calloc(1, sizeof(*z));
	if (!z)
		return -ENOMEM;
	z->level = level;
	z->sink = sink;
	z->arg = arg;
	z->nthreads = jobs > 1 ? jobs : 0;
	z->nring = jobs > 1 ? 2 * jobs + 2 : 1;
	z->nzs = jobs;
	pthread_mutex_init(&z->mu, NULL);
	pthread_cond_init(&z->work, NULL);
	pthread_cond_init(&z->done, NULL);
	z->ring = calloc(z->nring, sizeof(*z->ring));
	z->zs = calloc(z->nzs, sizeof(*z->zs));
	z->threads = calloc(jobs, sizeof(*z->threads));
	if (!z->ring || !z->zs || !z->threads)
		goto fail;
	for (i = 0; i < z->nring; i++) {
		struct slot *s = &z->ring[i];

		s->ocap = PGZ_BLOCK + PGZ_BLOCK / 8 + 64;
		s->in = malloc(PGZ_DICT + PGZ_BLOCK);
		s->out = malloc(s->ocap);
		if (!s->in || !s->out)
			goto fail;
	}
	for (i = 0; i < z->nzs; i++) {
		if (deflateInit2(&z->zs[i], level, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK)
			goto fail;
		z->nzs_init++;
	}
	for (i = 0; i < z->nthreads; i++) {
		struct worker_arg *wa = malloc(sizeof(*wa));

		if (!wa)
			goto fail;
		wa->z = z;
		wa->zs = &z->zs[i];
		r = -pthread_create(&z->threads[i], NULL, worker_main, wa);
		if (r < 0) {
			free(wa);
			goto fail;
		}
		z->started++;
		r = -ENOMEM;
	}
	*ret = z;
	return 0;
fail:
	pgz_free(z);
	return r;
}

void pgz_free(struct pgz *z)
{
	unsigned i;

	if (!z)
		return;
	pthread_mutex_lock(&z->mu);
	z->stop = true;
	pthread_cond_broadcast(&z->work);
	pthread_mutex_unlock(&z->mu);
	for (i = 0; i < z->started; i++)
		pthread_join(z->threads[i], NULL);
	for (i = 0; i < z->nzs_init; i++)
		deflateEnd(&z->zs[i]);
	for (i = 0; z->ring && i < z->nring; i++) {
		free(z->ring[i].in);
		free(z->ring[i].out);
	}
	free(z->ring);
	free(z->zs);
	free(z->threads);
	pthread_mutex_destroy(&z->mu);
	pthread_cond_destroy(&z->work);
	pthread_cond_destroy(&z->done);
	free(z);
}
