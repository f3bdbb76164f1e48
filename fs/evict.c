/*
 * evict.c - what keeps an artifact in the store and what takes it out:
 * open-file pins, quota eviction, and making the kernel forget artifacts
 * that were removed (evicted, collected, or deleted by hand)
 */
#include "fs/daemon.h"
#include "store/store.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* ---- the missing-tree check ------------------------------------------------------- */

bool fs_evict_installed(struct fs *fs, const char *hash)
{
	struct store_info info;
	char path[4096];
	struct stat st;
	int r;

	if (store_lookup(fs->store, hash, &info) < 0)
		return false;
	store_info_release(&info);
	if (info.state != STORE_INSTALLED)
		return false;
	if (store_path(fs->store, hash, path, sizeof(path)) < 0 || lstat(path, &st) == 0 ||
	    errno != ENOENT)
		return true;
	r = store_drop_missing(fs->store, hash);
	if (r > 0)
		fs_log(FS_LOG_WARNING, "artifact %s is in the index but '%s' is missing: "
		       "row dropped, it will be installed again", hash, path);
	else if (r < 0 && r != -EBUSY)
		fs_log(FS_LOG_ERR, "artifact %s: '%s' is missing and its row cannot be "
		       "dropped: %s", hash, path, strerror(-r));
	return false;
}

/* ---- pins: open files per artifact ------------------------------------------------ */

struct fs_pin {
	struct fs_pin *next;
	char hash[41];
	unsigned count;
	struct store_pin *pin;	/* the store's use lock, so no process removes it */
};

void fs_evict_pin(struct fs *fs, const char *hash, int delta)
{
	struct fs_pin **pp, *p;
	int r;

	pthread_mutex_lock(&fs->pin_lock);
	for (pp = &fs->pins; (p = *pp); pp = &p->next)
		if (strcmp(p->hash, hash) == 0)
			break;
	if (!p && delta > 0) {
		p = calloc(1, sizeof(*p));
		if (p) {
			memcpy(p->hash, hash, 41);
			/*
			 * -EBUSY means a removal holds the lock for the instant of
			 * its rename; the file just opened stays readable anyway.
			 */
			r = store_pin(fs->store, hash, &p->pin);
			if (r < 0)
				fs_log(FS_LOG_DEBUG, "cannot pin %s: %s", hash, strerror(-r));
			p->next = fs->pins;
			fs->pins = p;
		}
	}
	if (p) {
		p->count = delta > 0 ? p->count + 1 : (p->count ? p->count - 1 : 0);
		if (p->count == 0) {
			for (pp = &fs->pins; *pp != p; pp = &(*pp)->next)
				;
			*pp = p->next;
			store_unpin(p->pin);
			free(p);
		}
	}
	pthread_mutex_unlock(&fs->pin_lock);
}

/* The number of open files of hash. */
static unsigned pinned(struct fs *fs, const char *hash)
{
	struct fs_pin *p;
	unsigned n = 0;

	pthread_mutex_lock(&fs->pin_lock);
	for (p = fs->pins; p; p = p->next)
		if (strcmp(p->hash, hash) == 0)
			n = p->count;
	pthread_mutex_unlock(&fs->pin_lock);
	return n;
}

void fs_evict_release(struct fs *fs)
{
	struct fs_pin *p;

	while (fs->pins) {
		p = fs->pins;
		fs->pins = p->next;
		store_unpin(p->pin);
		free(p);
	}
}

/* ---- quota -------------------------------------------------------------------- */

/*
 * After artifacts were removed from the store, make the kernel forget what
 * it cached of them, so that the next access installs them again.
 */
static void forget_removed(struct fs *fs)
{
	struct fs_inode_artifact *v;
	size_t i, n;

	fs_inode_artifacts(fs, &v, &n);
	/*
	 * Outside the inode lock (the kernel may call back): for every artifact
	 * that is no longer installed, drop the dentry of /<hash> (and with it
	 * the cached subtree) and the cached attributes, so that the next
	 * access looks it up again and installs it.
	 */
	for (i = 0; i < n; i++) {
		if (fs_evict_installed(fs, v[i].hash))
			continue;
		fuse_lowlevel_notify_inval_entry(fs->se, FUSE_ROOT_ID, v[i].hash, 40);
		fuse_lowlevel_notify_inval_inode(fs->se, v[i].ino, 0, 0);
	}
	free(v);
}

static bool has_open_files(const char *hash, void *arg)
{
	return pinned(arg, hash) > 0;
}

void fs_evict_quota(struct fs *fs)
{
	const struct fs_config *c = fs->cfg;
	struct store_stats st;
	uint64_t target, freed = 0;
	unsigned removed = 0;
	int r;

	if (!c->quota)
		return;
	pthread_mutex_lock(&fs->quota_lock);
	if (store_stats(fs->store, &st) < 0 || st.bytes <= c->quota)
		goto out;
	/* Least recently used first: write out the batched access times. */
	store_flush_access(fs->store);
	target = c->quota / 100 * c->quota_low;
	r = store_evict_lru(fs->store, target, has_open_files, fs, &freed, &removed);
	fs_log(FS_LOG_NOTICE, "quota: %" PRIu64 " bytes installed, quota %" PRIu64
	       "; evicted %u artifacts, %" PRIu64 " bytes", st.bytes, c->quota, removed, freed);
	if (r == -ENOSPC)
		fs_log(FS_LOG_WARNING, "quota: still above %u%% of the quota: the rest is in use",
		       c->quota_low);
	fs_stats_add(&fs->stats, FS_STAT_EVICTIONS, removed);
	if (removed)
		forget_removed(fs);
out:
	pthread_mutex_unlock(&fs->quota_lock);
}
