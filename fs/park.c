/*
 * park.c - FUSE requests that wait for an install
 *
 * A request that needs an artifact that is not installed (a lookup inside
 * /<hash>, an opendir of /<hash>, an open of a file whose tree went) is
 * parked on the hash's flight (flight.c) with what the install needs, and
 * answered from the install worker when it finishes, so no FUSE thread
 * waits for a download.  The op that parked it gives a resume() callback
 * that runs the op again and replies.
 */
#include "fs/daemon.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the name a hash was reached through ------------------------------------------ */

/* The via slot of hash: its first two hex digits (hashes are uniform). */
static struct fs_via *via_slot(struct fs *fs, const char *hash)
{
	unsigned v = 0, d;
	int i;

	for (i = 0; i < 2 && hash[i]; i++) {
		d = hash[i] <= '9' ? (unsigned)(hash[i] - '0') : (unsigned)((hash[i] | 0x20) - 'a' + 10);
		v = v << 4 | d;
	}
	return &fs->via[v % FS_VIA_SLOTS];
}

void fs_park_via(struct fs *fs, const char *hash, const char *name)
{
	struct fs_via *v = via_slot(fs, hash);

	pthread_mutex_lock(&fs->via_lock);
	memcpy(v->hash, hash, 41);
	snprintf(v->name, sizeof(v->name), "%s", name);
	pthread_mutex_unlock(&fs->via_lock);
}

/* The name hash was last reached through, into name (256 bytes), or "". */
static void via_get(struct fs *fs, const char *hash, char *name)
{
	struct fs_via *v = via_slot(fs, hash);

	pthread_mutex_lock(&fs->via_lock);
	if (strcmp(v->hash, hash) == 0)
		memcpy(name, v->name, sizeof(v->name));
	else
		name[0] = '\0';
	pthread_mutex_unlock(&fs->via_lock);
}

int fs_park_request(struct fs *fs, const char *hash, struct fs_install_req **ret)
{
	struct fs_names *names;
	char via[256];
	int r;

	via_get(fs, hash, via);
	names = fs_reload_names(fs);
	r = fs_names_request(names, hash, via[0] ? via : NULL, ret);
	fs_names_unref(names);
	return r;
}

/* ---- parking ---------------------------------------------------------------------- */

/*
 * Interrupts of parked requests.  A reader that gets a signal while its
 * request waits for an install must get EINTR at once (a SIGKILLed process
 * otherwise stays in D state until the install ends), while the install
 * goes on for the others.  libfuse calls park_interrupt() on another
 * thread, with the request held, when the kernel sends FUSE_INTERRUPT; the
 * request is identified by its address, which no other live request has.
 *
 * The callback is registered before the request is queued on the flight:
 * once queued, a worker may answer it and libfuse free it at any moment, so
 * fs_park() must not touch it afterwards.  An interrupt that comes between
 * the registration and the queueing would find nothing to cancel; park_lock
 * closes that window: fs_park() checks fuse_req_interrupted() and queues
 * under it, and park_interrupt() cancels under it, so one of them sees the
 * other.  Lock order: park_lock, then the flights' lock.
 */
static pthread_mutex_t park_lock = PTHREAD_MUTEX_INITIALIZER;

static void park_interrupt(fuse_req_t req, void *data)
{
	struct fs *fs = data;
	void *p = NULL;
	int r;

	pthread_mutex_lock(&park_lock);
	r = fs_flight_cancel(fs->flights, req, &p);
	pthread_mutex_unlock(&park_lock);
	if (r == 1) {
		fs_log(FS_LOG_DEBUG, "a request waiting for an install was interrupted");
		fuse_reply_err(req, EINTR);
		free(p);
	}
}

static void park_done(void *arg, int err)
{
	struct fs_parked *p = arg;

	if (err < 0)
		fuse_reply_err(p->req, -err);	/* EIO, or EFBIG over the quota */
	else
		p->resume(p);
	free(p);
}

int fs_park(struct fs *fs, fuse_req_t req, const char *hash, void (*resume)(struct fs_parked *),
	    fuse_ino_t ino, const char *name, const struct fuse_file_info *fi)
{
	struct fs_install_req *ir = NULL;
	struct fs_parked *p;
	size_t len = name ? strlen(name) : 0;
	int r;

	if (fs->cfg->offline)
		return -EIO;
	/* What the install needs travels with the flight (fs_names_request()). */
	r = fs_park_request(fs, hash, &ir);
	if (r < 0)
		return r;
	p = calloc(1, sizeof(*p) + len + 1);
	if (!p) {
		fs_install_req_free(ir);
		return -ENOMEM;
	}
	p->fs = fs;
	p->req = req;
	p->resume = resume;
	p->ino = ino;
	if (fi)
		p->fi = *fi;
	if (name)
		memcpy(p->name, name, len + 1);
	fuse_req_interrupt_func(req, park_interrupt, fs);
	pthread_mutex_lock(&park_lock);
	if (fuse_req_interrupted(req)) {
		fs_install_req_free(ir);	/* fs_flight_wait_req() would have taken it */
		r = -EINTR;
	} else {
		r = fs_flight_wait_req(fs->flights, hash, req, ir, park_done, p);
	}
	pthread_mutex_unlock(&park_lock);
	if (r < 0) {
		fuse_req_interrupt_func(req, NULL, NULL);
		free(p);
	} else {
		fs_stats_add(&fs->stats, FS_STAT_MISSES, 1);
	}
	return r;
}

int fs_park_unless_installed(struct fs *fs, fuse_req_t req, const char *hash, bool may_park,
			     void (*resume)(struct fs_parked *), fuse_ino_t ino, const char *name,
			     const struct fuse_file_info *fi)
{
	int r;

	if (fs_evict_installed(fs, hash)) {
		if (may_park)	/* not again when a parked request resumes */
			fs_stats_add(&fs->stats, FS_STAT_HITS, 1);
		return 0;
	}
	if (!may_park)
		return -EIO;
	r = fs_park(fs, req, hash, resume, ino, name, fi);
	return r < 0 ? r : 1;
}
