/*
 * perfile.c - per-file access through a seek index (per_file=on, issue 16):
 * the index of each artifact, got once, and the fetches of single files,
 * one at a time per blob
 *
 * FUSE-free (fs.h): the daemon's side (view.c) gives the network and the
 * store as callbacks (struct fs_perfile_src), the unit tests a stub
 * (tests/unit/test-fs-perfile.c).  One mutex guards the table of artifacts
 * and the fetches in flight; one condition variable, broadcast when an
 * index or a fetch ends, wakes the callers that wait for one.  The
 * callbacks run with the mutex released.
 *
 * An artifact's record lives as long as the state: its index, once got,
 * is never freed before fs_perfile_free(), so that the kernel's inodes of
 * the view may keep borrowing its tree objects after a fall back or the
 * whole install.
 */
#include "fs/fs.h"
#include "fetch/seekidx.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum art_state {
	ART_NONE,	/* not asked yet, or no index configured the last time */
	ART_LOADING,	/* index() runs */
	ART_READY,	/* x is the verified index */
	ART_FAILED,	/* no verified index: installed whole */
};

struct art {
	struct art *next;
	char hash[41];
	enum art_state state;
	bool fallen;		/* a fetch failed: installed whole */
	bool install_started;	/* install() was called */
	struct seekidx *x;	/* READY, and kept after a fall back */
	char *tar_url, *idx_url;
	uint64_t bytes, files;	/* fetched per file so far */
};

/* One fetch of a blob in flight; the waiters dup() its descriptor. */
struct flight {
	struct flight *next;
	uint8_t oid[HASH_SHA1_LEN];
	bool done;
	int r;			/* the fetch's result once done */
	int fd;			/* its descriptor once done (r == 0) */
	unsigned users;		/* the fetcher and the waiters still to take it */
};

struct fs_perfile {
	struct fs_perfile_src src;
	uint64_t full_bytes, full_files;
	struct fs_stats *stats;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct art *arts;
	struct flight *flights;
	unsigned waiting;
};

int fs_perfile_new(const struct fs_perfile_src *src, uint64_t full_bytes, uint64_t full_files,
		   struct fs_stats *stats, struct fs_perfile **ret)
{
	struct fs_perfile *p = calloc(1, sizeof(*p));

	if (!p)
		return -ENOMEM;
	p->src = *src;
	p->full_bytes = full_bytes;
	p->full_files = full_files;
	p->stats = stats;
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->cond, NULL);
	*ret = p;
	return 0;
}

void fs_perfile_free(struct fs_perfile *p)
{
	struct art *a, *an;
	struct flight *f, *fn;

	if (!p)
		return;
	for (a = p->arts; a; a = an) {
		an = a->next;
		if (a->x && p->src.free_index)
			p->src.free_index(a->x);
		free(a->tar_url);
		free(a->idx_url);
		free(a);
	}
	for (f = p->flights; f; f = fn) {
		fn = f->next;
		if (f->done && f->r == 0)
			close(f->fd);
		free(f);
	}
	pthread_cond_destroy(&p->cond);
	pthread_mutex_destroy(&p->lock);
	free(p);
}

/* The record of hash, made when absent (NULL: ENOMEM); with p->lock held. */
static struct art *art_get_locked(struct fs_perfile *p, const char *hash, bool make)
{
	struct art *a;

	for (a = p->arts; a; a = a->next)
		if (strcmp(a->hash, hash) == 0)
			return a;
	if (!make)
		return NULL;
	a = calloc(1, sizeof(*a));
	if (!a)
		return NULL;
	memcpy(a->hash, hash, 40);
	a->next = p->arts;
	p->arts = a;
	return a;
}

/* Count a fall back and start the whole install, once per artifact; with p->lock held. */
static bool fall_back_locked(struct fs_perfile *p, struct art *a)
{
	a->fallen = true;
	if (a->install_started)
		return false;
	a->install_started = true;
	if (p->stats)
		fs_stats_add(p->stats, FS_STAT_PF_FALLBACKS, 1);
	return true;
}

const struct seekidx *fs_perfile_index(struct fs_perfile *p, const char *hash, bool get)
{
	struct seekidx *x = NULL;
	char *tar = NULL, *idx = NULL, *msg = NULL;
	struct art *a;
	int r;

	pthread_mutex_lock(&p->lock);
	a = art_get_locked(p, hash, get);
	if (!a)
		goto out;
	if (!get) {
		x = a->x;
		goto out;
	}
	while (a->state == ART_LOADING) {
		p->waiting++;
		pthread_cond_wait(&p->cond, &p->lock);
		p->waiting--;
	}
	if (a->state == ART_NONE) {
		a->state = ART_LOADING;
		pthread_mutex_unlock(&p->lock);
		r = p->src.index(p->src.ctx, hash, &x, &tar, &idx, &msg);
		pthread_mutex_lock(&p->lock);
		if (r == 0) {
			a->x = x;
			a->tar_url = tar;
			a->idx_url = idx;
			a->state = ART_READY;
			fs_log(FS_LOG_INFO, "artifact %s: served per file through the seek index "
			       "'%s'", hash, idx);
		} else {
			a->state = r > 0 ? ART_NONE : ART_FAILED;
			if (r < 0)
				fs_log(FS_LOG_WARNING, "artifact %s: no verified seek index (%s); "
				       "installing it whole", hash, msg ? msg : strerror(-r));
			free(tar);
			free(idx);
		}
		free(msg);	/* a source may leave one on success too */
		pthread_cond_broadcast(&p->cond);
	}
	x = a->state == ART_READY && !a->fallen ? a->x : NULL;
out:
	pthread_mutex_unlock(&p->lock);
	return x;
}

bool fs_perfile_fallen(struct fs_perfile *p, const char *hash)
{
	struct art *a;
	bool fallen;

	pthread_mutex_lock(&p->lock);
	a = art_get_locked(p, hash, false);
	fallen = a && (a->fallen || a->state == ART_FAILED);
	pthread_mutex_unlock(&p->lock);
	return fallen;
}

unsigned fs_perfile_waiting(struct fs_perfile *p)
{
	unsigned n;

	pthread_mutex_lock(&p->lock);
	n = p->waiting;
	pthread_mutex_unlock(&p->lock);
	return n;
}

/* Leave flight f (one user fewer), freeing it with the last; with p->lock held. */
static void flight_leave_locked(struct fs_perfile *p, struct flight *f)
{
	struct flight **pp;

	if (--f->users > 0)
		return;
	for (pp = &p->flights; *pp != f; pp = &(*pp)->next)
		;
	*pp = f->next;
	if (f->r == 0)
		close(f->fd);
	free(f);
}

/* Take the result of a done flight: a descriptor of one's own, or its error. */
static int flight_take_locked(struct fs_perfile *p, struct flight *f, int *fd)
{
	int r = f->r;

	if (r == 0) {
		*fd = fcntl(f->fd, F_DUPFD_CLOEXEC, 0);
		if (*fd < 0)
			r = -errno;
	}
	flight_leave_locked(p, f);
	return r;
}

/*
 * count_locked - add one fetch of n bytes to a's totals; whether the
 * artifact just passed full_install_after (then install() is due).
 */
static bool count_locked(struct fs_perfile *p, struct art *a, uint64_t n)
{
	a->bytes += n;
	a->files++;
	if (p->stats) {
		fs_stats_add(p->stats, FS_STAT_PF_FETCHES, 1);
		fs_stats_add(p->stats, FS_STAT_PF_BYTES, n);
	}
	if (a->install_started)
		return false;
	if ((p->full_bytes && a->bytes >= p->full_bytes) ||
	    (p->full_files && a->files >= p->full_files)) {
		a->install_started = true;
		fs_log(FS_LOG_INFO, "artifact %s: %" PRIu64 " files, %" PRIu64 " bytes fetched "
		       "per file (full_install_after): installing it whole", a->hash, a->files,
		       a->bytes);
		return true;
	}
	return false;
}

int fs_perfile_open(struct fs_perfile *p, const char *hash, const struct seekidx_file *sf,
		    bool executable, int *fd)
{
	const struct seekidx *x;
	struct flight *f;
	struct art *a;
	char *tar, *idx, *msg = NULL;
	uint64_t fetched = 0;
	bool install = false;
	int r, got = -1;

	pthread_mutex_lock(&p->lock);
	a = art_get_locked(p, hash, false);
	if (!a || !a->x) {
		pthread_mutex_unlock(&p->lock);
		return -ENOENT;
	}
	for (f = p->flights; f; f = f->next)
		if (memcmp(f->oid, sf->oid, HASH_SHA1_LEN) == 0)
			break;
	if (f) {
		/* Another opener fetches this blob: wait for its result. */
		f->users++;
		p->waiting++;
		while (!f->done)
			pthread_cond_wait(&p->cond, &p->lock);
		p->waiting--;
		r = flight_take_locked(p, f, fd);
		pthread_mutex_unlock(&p->lock);
		return r < 0 ? -EIO : 0;
	}
	f = calloc(1, sizeof(*f));
	if (!f) {
		pthread_mutex_unlock(&p->lock);
		return -ENOMEM;
	}
	memcpy(f->oid, sf->oid, HASH_SHA1_LEN);
	f->users = 1;
	f->fd = -1;
	f->next = p->flights;
	p->flights = f;
	/* borrowed: an artifact's index and URLs stay until fs_perfile_free() */
	x = a->x;
	tar = a->tar_url;
	idx = a->idx_url;
	pthread_mutex_unlock(&p->lock);

	r = p->src.fetch(p->src.ctx, hash, tar, idx, x, sf, executable, &got, &fetched, &msg);

	pthread_mutex_lock(&p->lock);
	if (r == 0 && fetched)
		install = count_locked(p, a, fetched);
	if (r < 0) {
		char oid[2 * HASH_SHA1_LEN + 1];

		hash_to_hex(sf->oid, HASH_SHA1_LEN, oid);
		fs_log(FS_LOG_ERR, "artifact %s: cannot fetch blob %s per file: %s; installing it "
		       "whole", hash, oid, msg ? msg : strerror(-r));
		install = fall_back_locked(p, a);
		r = -EIO;
	}
	f->done = true;
	f->r = r;
	f->fd = got;
	pthread_cond_broadcast(&p->cond);
	r = flight_take_locked(p, f, fd);
	pthread_mutex_unlock(&p->lock);
	free(msg);
	if (install && p->src.install)
		p->src.install(p->src.ctx, hash);
	return r;
}
