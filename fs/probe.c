/*
 * probe.c - the cache of the Pkg server's answers for hashes no configured
 * Artifacts.toml names (any_hash=; fs.h)
 *
 * A chained hash table of answers under one mutex.  A question in flight
 * is an entry in state PENDING: later callers of that hash wait on the
 * table's condition variable until the first caller, which asks with no
 * lock held, stores the answer and broadcasts.  Lookups of other hashes
 * only take the mutex for a moment, never wait for a question.
 */
#include "fs/fs.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum probe_state { PROBE_PENDING, PROBE_YES, PROBE_NO };

struct probe {
	struct probe *next;
	char hash[41];
	enum probe_state state;
	double expires;		/* PROBE_NO: when it goes */
};

#define PROBE_BUCKETS 1024

struct fs_probes {
	pthread_mutex_t lock;
	pthread_cond_t answered;
	struct probe *table[PROBE_BUCKETS];
	size_t n;
	double negative_timeout;
	struct fs_prober prober;
	double (*now)(void *arg);
	void *now_arg;
	_Atomic uint64_t asked;
};

static double mono_now(void *arg)
{
	struct timespec ts;

	(void)arg;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int fs_probes_new(double negative_timeout, const struct fs_prober *prober,
		  struct fs_probes **ret)
{
	struct fs_probes *p = calloc(1, sizeof(*p));

	if (!p)
		return -ENOMEM;
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->answered, NULL);
	p->negative_timeout = negative_timeout;
	p->prober = *prober;
	p->now = mono_now;
	*ret = p;
	return 0;
}

void fs_probes_free(struct fs_probes *p)
{
	struct probe *e, *next;
	size_t i;

	if (!p)
		return;
	for (i = 0; i < PROBE_BUCKETS; i++)
		for (e = p->table[i]; e; e = next) {
			next = e->next;
			free(e);
		}
	pthread_cond_destroy(&p->answered);
	pthread_mutex_destroy(&p->lock);
	free(p);
}

void fs_probes_set_clock(struct fs_probes *p, double (*now)(void *arg), void *arg)
{
	p->now = now;
	p->now_arg = arg;
}

uint64_t fs_probes_asked(struct fs_probes *p)
{
	return atomic_load(&p->asked);
}

static size_t bucket(const char *hash)
{
	uint64_t h = 1469598103934665603ULL;	/* FNV-1a */
	const unsigned char *c;

	for (c = (const unsigned char *)hash; *c; c++)
		h = (h ^ *c) * 1099511628211ULL;
	return (size_t)(h % PROBE_BUCKETS);
}

/* prune - make room: drop the expired answers, and when none was, every answer. */
static void prune(struct fs_probes *p, double now)
{
	struct probe **link, *e;
	size_t i, before = p->n;
	int pass;

	for (pass = 0; pass < 2 && p->n == before; pass++)
		for (i = 0; i < PROBE_BUCKETS; i++)
			for (link = &p->table[i]; (e = *link);) {
				if (e->state == PROBE_PENDING ||
				    (pass == 0 && (e->state == PROBE_YES || e->expires > now))) {
					link = &e->next;
					continue;
				}
				*link = e->next;
				free(e);
				p->n--;
			}
}

bool fs_probe(struct fs_probes *p, const char *hash)
{
	struct probe *e;
	char *msg = NULL;
	size_t b = bucket(hash);
	double now;
	int r;

	pthread_mutex_lock(&p->lock);
	for (;;) {
		now = p->now(p->now_arg);
		for (e = p->table[b]; e; e = e->next)
			if (strcmp(e->hash, hash) == 0)
				break;
		if (!e || e->state != PROBE_PENDING)
			break;
		pthread_cond_wait(&p->answered, &p->lock);
	}
	if (e && (e->state == PROBE_YES || e->expires > now)) {
		r = e->state == PROBE_YES;
		pthread_mutex_unlock(&p->lock);
		return r;
	}
	if (!e) {
		if (p->n >= FS_PROBES_MAX)
			prune(p, now);
		e = calloc(1, sizeof(*e));
		if (!e) {
			pthread_mutex_unlock(&p->lock);
			return false;
		}
		memcpy(e->hash, hash, 40);
		e->next = p->table[b];
		p->table[b] = e;
		p->n++;
	}
	e->state = PROBE_PENDING;
	pthread_mutex_unlock(&p->lock);

	atomic_fetch_add(&p->asked, 1);
	r = p->prober.ask(p->prober.ctx, hash, &msg);
	if (r < 0)
		fs_log(FS_LOG_WARNING, "cannot ask the Pkg server for '%s': %s; taken as absent "
		       "for %g s", hash, msg ? msg : strerror(-r), p->negative_timeout);
	else
		fs_log(FS_LOG_DEBUG, "the Pkg server %s '%s'", r ? "has" : "does not have", hash);
	free(msg);

	pthread_mutex_lock(&p->lock);
	e->state = r > 0 ? PROBE_YES : PROBE_NO;
	e->expires = p->now(p->now_arg) + p->negative_timeout;
	pthread_cond_broadcast(&p->answered);
	pthread_mutex_unlock(&p->lock);
	return r > 0;
}
