/*
 * syncer.c - the daemon's deferred sync: installs are served as soon as
 * they are committed, before their bytes reach the disk, and one thread of
 * its own makes them durable a little later (store_sync_pending(), whose
 * marks make a reboot check what was not synced yet: store/durable.c).
 *
 * The sync runs sync_after seconds after the first install not yet synced
 * (30 s by default: about when the kernel writes dirty pages back on its
 * own, so that the syncfs() mostly finds them written), never in a
 * reader's way, and once more when the daemon stops.  Installs that land
 * while it waits share the one sync.
 */
#include "config.h"

#include "fs/fs.h"
#include "store/store.h"
#include "store/util/time.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct fs_syncer {
	struct store *store;
	double after;			/* seconds from the first note to the sync */
	pthread_mutex_t lock;
	pthread_cond_t cond;		/* CLOCK_MONOTONIC: a note, or stop */
	bool noted;			/* installs wait for a sync */
	struct timespec due;		/* when they are synced */
	bool stop;
	pthread_t thread;
};

static void sync_now(struct fs_syncer *sy)
{
	uint64_t t0 = time_mono_ms();
	unsigned n = 0;
	int r;

	r = store_sync_pending(sy->store, &n);
	if (r < 0) {
		/* the marks stay: a reboot checks those trees again */
		fs_log(FS_LOG_ERR, "cannot make installs durable: %s",
		       *store_errmsg(sy->store) ? store_errmsg(sy->store) : strerror(-r));
		store_clear_error(sy->store);
	} else if (n) {
		fs_log(FS_LOG_INFO, "made %u install%s durable in %llu ms", n, n == 1 ? "" : "s",
		       (unsigned long long)(time_mono_ms() - t0));
	}
}

static void *syncer_main(void *arg)
{
	struct fs_syncer *sy = arg;

	pthread_mutex_lock(&sy->lock);
	while (!sy->stop) {
		if (!sy->noted) {
			pthread_cond_wait(&sy->cond, &sy->lock);
			continue;
		}
		if (pthread_cond_timedwait(&sy->cond, &sy->lock, &sy->due) != ETIMEDOUT)
			continue;	/* a note or stop: look again */
		sy->noted = false;
		pthread_mutex_unlock(&sy->lock);
		sync_now(sy);
		pthread_mutex_lock(&sy->lock);
	}
	pthread_mutex_unlock(&sy->lock);
	return NULL;
}

int fs_syncer_new(struct store *s, double after, struct fs_syncer **ret)
{
	struct fs_syncer *sy;
	pthread_condattr_t ca;
	uint64_t pending = 0;
	int r;

	sy = calloc(1, sizeof(*sy));
	if (!sy)
		return -ENOMEM;
	sy->store = s;
	sy->after = after;
	pthread_mutex_init(&sy->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&sy->cond, &ca);
	pthread_condattr_destroy(&ca);
	r = -pthread_create(&sy->thread, NULL, syncer_main, sy);
	if (r < 0) {
		pthread_cond_destroy(&sy->cond);
		pthread_mutex_destroy(&sy->lock);
		free(sy);
		return r;
	}
	/* what an earlier daemon or artifactctl fetch left unsynced */
	if (store_pending_count(s, &pending) == 0 && pending)
		fs_syncer_note(sy);
	*ret = sy;
	return 0;
}

void fs_syncer_note(struct fs_syncer *sy)
{
	if (!sy)
		return;
	pthread_mutex_lock(&sy->lock);
	if (!sy->noted) {
		time_deadline(CLOCK_MONOTONIC, sy->after, &sy->due);
		sy->noted = true;
		pthread_cond_signal(&sy->cond);
	}
	pthread_mutex_unlock(&sy->lock);
}

void fs_syncer_free(struct fs_syncer *sy)
{
	bool noted;

	if (!sy)
		return;
	pthread_mutex_lock(&sy->lock);
	sy->stop = true;
	noted = sy->noted;
	pthread_cond_signal(&sy->cond);
	pthread_mutex_unlock(&sy->lock);
	pthread_join(sy->thread, NULL);
	if (noted)
		sync_now(sy);	/* a clean stop leaves nothing for a reboot to check */
	pthread_cond_destroy(&sy->cond);
	pthread_mutex_destroy(&sy->lock);
	free(sy);
}
