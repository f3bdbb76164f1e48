/*
 * evict.c - what keeps an artifact in the store and what takes it out:
 * open-file pins, quota eviction, and making the kernel forget artifacts
 * that were removed (evicted, collected, or deleted by hand)
 */
#include "fs/daemon.h"
#include "store/partial.h"
#include "store/store.h"
#include "store/util/time.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/*
 * How long an eviction waits for the kernel's forgets after asking it to
 * drop an artifact's dentries (no-open mode), milliseconds: they are
 * queued before the request returns and take a few to arrive.
 */
#define FS_EVICT_FORGET_MS 1000

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
			pthread_cond_broadcast(&fs->pin_cond);	/* evict --wait */
		}
	}
	pthread_mutex_unlock(&fs->pin_lock);
}

/* The number of open files of hash; called with fs->pin_lock held. */
static unsigned pinned_locked(struct fs *fs, const char *hash)
{
	struct fs_pin *p;

	for (p = fs->pins; p; p = p->next)
		if (strcmp(p->hash, hash) == 0)
			return p->count;
	return 0;
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

unsigned fs_evict_open_files(struct fs *fs, const char *hash)
{
	return pinned(fs, hash);
}

bool fs_evict_wait_closed(struct fs *fs, const char *hash, unsigned ms)
{
	struct timespec t;
	bool closed;

	time_deadline(CLOCK_REALTIME, ms / 1000.0, &t);
	/*
	 * With files open here, the last close broadcasts; with none (another
	 * process pins it) nothing will: the wait is then the caller's tick,
	 * cut short only by fs_evict_wake().
	 */
	pthread_mutex_lock(&fs->pin_lock);
	pthread_cond_timedwait(&fs->pin_cond, &fs->pin_lock, &t);
	closed = pinned_locked(fs, hash) == 0;
	pthread_mutex_unlock(&fs->pin_lock);
	return closed;
}

void fs_evict_wake(struct fs *fs)
{
	pthread_mutex_lock(&fs->pin_lock);
	pthread_cond_broadcast(&fs->pin_cond);
	pthread_mutex_unlock(&fs->pin_lock);
}

/* ---- holders: who has files of an artifact open ------------------------------------ */

/* Whether link (a /proc/PID/fd/N or cwd target) is at or below prefix (plen bytes). */
static bool below(const char *link, const char *prefix, size_t plen)
{
	return strncmp(link, prefix, plen) == 0 && (link[plen] == '\0' || link[plen] == '/');
}

/* Whether process dir (a /proc/PID directory descriptor) holds something below prefix. */
static bool holds(int dir, const char *prefix, size_t plen)
{
	char target[PATH_MAX];
	struct dirent *de;
	ssize_t n;
	DIR *d;
	int fd;
	bool found = false;

	n = readlinkat(dir, "cwd", target, sizeof(target) - 1);
	if (n > 0) {
		target[n] = '\0';
		if (below(target, prefix, plen))
			return true;
	}
	fd = openat(dir, "fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return false;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return false;
	}
	while (!found && (de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		n = readlinkat(dirfd(d), de->d_name, target, sizeof(target) - 1);
		if (n <= 0)
			continue;
		target[n] = '\0';
		found = below(target, prefix, plen);
	}
	closedir(d);
	return found;
}

size_t fs_evict_holders(struct fs *fs, const char *hash, struct fs_evict_holder *out, size_t max)
{
	char prefix[PATH_MAX];
	struct dirent *de;
	size_t n = 0, plen;
	ssize_t len;
	char *end;
	long pid;
	DIR *proc;
	int dir, fd;

	plen = (size_t)snprintf(prefix, sizeof(prefix), "%s/%s",
				strcmp(fs->mountpoint, "/") == 0 ? "" : fs->mountpoint, hash);
	if (plen >= sizeof(prefix))
		return 0;
	proc = opendir("/proc");
	if (!proc)
		return 0;
	while ((de = readdir(proc))) {
		pid = strtol(de->d_name, &end, 10);
		if (*end || pid <= 0 || pid == (long)getpid())
			continue;
		dir = openat(dirfd(proc), de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dir < 0)
			continue;
		if (holds(dir, prefix, plen)) {
			if (n < max) {
				out[n].pid = (int)pid;
				out[n].comm[0] = '\0';
				fd = openat(dir, "comm", O_RDONLY | O_CLOEXEC);
				len = fd >= 0 ? read(fd, out[n].comm, sizeof(out[n].comm) - 1) : -1;
				if (fd >= 0)
					close(fd);
				if (len > 0) {
					out[n].comm[len] = '\0';
					out[n].comm[strcspn(out[n].comm, "\n")] = '\0';
				}
			}
			n++;
		}
		close(dir);
	}
	closedir(proc);
	return n;
}

void fs_evict_listing_changed(struct fs *fs)
{
	fuse_ino_t depot;

	if (!fs->no_opendir)
		return;
	fuse_lowlevel_notify_inval_inode(fs->se, FUSE_ROOT_ID, 0, 0);
	depot = fs_inode_find_depot(fs);
	if (depot)
		fuse_lowlevel_notify_inval_inode(fs->se, depot, 0, 0);
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

/*
 * Make the kernel forget /<hash> and the attributes of its inode.  From
 * the control thread, never from a FUSE request handler, with no lock
 * held: the kernel may call back into the filesystem.
 */
static void forget_hash(struct fs *fs, const char *hash)
{
	fuse_ino_t ino = fs_inode_find_hash(fs, hash);

	fuse_lowlevel_notify_inval_entry(fs->se, FUSE_ROOT_ID, hash, 40);
	if (ino)
		fuse_lowlevel_notify_inval_inode(fs->se, ino, 0, 0);
}

size_t fs_evict_forget(struct fs *fs, const char *hash, enum fs_kind kind)
{
	struct fs_inode_entry *v;
	size_t i, n;

	fs_inode_tree_entries(fs, hash, kind, &v, &n);
	for (i = 0; i < n; i++) {
		fuse_lowlevel_notify_inval_entry(fs->se, v[i].parent, v[i].name,
						 strlen(v[i].name));
		free(v[i].name);
	}
	free(v);
	forget_hash(fs, hash);
	return n;
}

/*
 * Whether the pins of hash went within ms milliseconds, woken by the last
 * unpin (fs_evict_pin() broadcasts pin_cond).
 */
static bool wait_unpinned(struct fs *fs, const char *hash, unsigned ms)
{
	struct timespec t;
	bool gone;

	time_deadline(CLOCK_REALTIME, ms / 1000.0, &t);
	pthread_mutex_lock(&fs->pin_lock);
	while (!(gone = pinned_locked(fs, hash) == 0))
		if (pthread_cond_timedwait(&fs->pin_cond, &fs->pin_lock, &t) != 0)
			break;
	pthread_mutex_unlock(&fs->pin_lock);
	return gone;
}

/*
 * No-open mode: the pins are the kernel's inodes, which it keeps for a day
 * unless told otherwise.  Ask it to drop its dentries of /<hash> (and with
 * them the unused ones below: a file open or a working directory keeps
 * its own), then wait for the forgets it queued meanwhile.  Returns
 * whether hash is unpinned now.
 */
static bool release_kernel(struct fs *fs, const char *hash, unsigned ms)
{
	size_t n;
	bool gone;

	if (!fs->no_open || pinned(fs, hash) == 0)
		return true;
	/*
	 * Every entry, deepest first: the dentry of /<hash>, once dropped
	 * while a file below was open, is no longer found by name, and what
	 * stayed below it is reached only through its directory inodes.
	 */
	n = fs_evict_forget(fs, hash, FS_TREE);
	gone = wait_unpinned(fs, hash, ms);
	fs_log(FS_LOG_DEBUG, "artifact %s: the kernel was asked to forget %zu entries: %s", hash,
	       n, gone ? "unpinned" : "still held");
	return gone;
}

int fs_evict_remove(struct fs *fs, const char *hash, uint64_t *freed)
{
	uint64_t bytes = 0;
	int r;

	release_kernel(fs, hash, FS_EVICT_FORGET_MS);
	pthread_mutex_lock(&fs->quota_lock);
	/* Our pins hold the store's use lock too; this only names the cause first. */
	if (pinned(fs, hash) > 0) {
		r = -EBUSY;
		goto out;
	}
	r = store_remove(fs->store, hash, &bytes);
	if (r == 0) {
		fs_log(FS_LOG_NOTICE, "evicted %s: %" PRIu64 " bytes", hash, bytes);
		fs_stats_add(&fs->stats, FS_STAT_EVICTIONS, 1);
	}
out:
	pthread_mutex_unlock(&fs->quota_lock);
	if (r == 0) {
		forget_hash(fs, hash);
		fs_evict_listing_changed(fs);
		if (freed)
			*freed = bytes;
	}
	return r;
}

/* What store_evict_lru()'s veto needs: the mount and the hash to keep. */
struct veto {
	struct fs *fs;
	const char *keep;
};

/*
 * store_evict_lru()'s veto, for each candidate in LRU order: the artifact
 * just installed, whose waiters have not had it yet (with access times of
 * one second, it may tie with older ones and sort before them; and when
 * all the others are in use it would be the only candidate, and the access
 * that installed it would fail); open files here, or in no-open mode the
 * inodes the kernel holds after it was asked to drop them (a file open or
 * a working directory keeps them).
 */
static bool has_open_files(const char *hash, void *arg)
{
	const struct veto *v = arg;

	if (v->keep && strcmp(hash, v->keep) == 0)
		return true;
	return !release_kernel(v->fs, hash, FS_EVICT_FORGET_MS / 4);
}

/*
 * reclaim_partial - with per_file=on, the single files of partial/ count in
 * the quota too and go first, least recently used first (cheaper to fetch
 * again than a whole artifact; an open one keeps working): down to what
 * target leaves beside the installed bytes.  Returns the bytes left in
 * partial/.  With quota_lock held.
 */
static uint64_t reclaim_partial(struct fs *fs, uint64_t installed, uint64_t target)
{
	uint64_t bytes = 0, files = 0, freed = 0;
	int n;

	if (!fs->perfile || store_partial_usage(fs->store, &bytes, &files) < 0 || !bytes)
		return 0;
	if (installed + bytes <= fs->cfg->quota)
		return bytes;
	n = store_partial_reclaim(fs->store, target > installed ? target - installed : 0, 0,
				  &freed);
	if (n > 0)
		fs_log(FS_LOG_NOTICE, "quota: %" PRIu64 " bytes of single files in partial/; "
		       "removed %d, %" PRIu64 " bytes", bytes, n, freed);
	return freed < bytes ? bytes - freed : 0;
}

void fs_evict_quota(struct fs *fs, const char *keep)
{
	const struct fs_config *c = fs->cfg;
	struct veto veto = { fs, keep };
	struct store_stats st;
	uint64_t target, partial, freed = 0;
	unsigned removed = 0;
	int r;

	if (!c->quota)
		return;
	pthread_mutex_lock(&fs->quota_lock);
	if (store_stats(fs->store, &st) < 0)
		goto out;
	target = c->quota / 100 * c->quota_low;
	partial = reclaim_partial(fs, st.bytes, target);
	if (st.bytes + partial <= c->quota)
		goto out;
	/* Least recently used first: write out the batched access times. */
	store_flush_access(fs->store);
	r = store_evict_lru(fs->store, target > partial ? target - partial : 0, has_open_files,
			    &veto, &freed, &removed);
	fs_log(FS_LOG_NOTICE, "quota: %" PRIu64 " bytes installed, quota %" PRIu64
	       "; evicted %u artifacts, %" PRIu64 " bytes", st.bytes, c->quota, removed, freed);
	if (r == -ENOSPC)
		fs_log(FS_LOG_WARNING, "quota: still above %u%% of the quota: the rest is in use",
		       c->quota_low);
	fs_stats_add(&fs->stats, FS_STAT_EVICTIONS, removed);
	if (removed) {
		forget_removed(fs);
		fs_evict_listing_changed(fs);
	}
out:
	pthread_mutex_unlock(&fs->quota_lock);
}

void fs_evict_quota_partial(struct fs *fs)
{
	struct store_stats st;

	if (!fs->cfg->quota || !fs->perfile)
		return;
	pthread_mutex_lock(&fs->quota_lock);
	if (store_stats(fs->store, &st) == 0)
		reclaim_partial(fs, st.bytes, fs->cfg->quota / 100 * fs->cfg->quota_low);
	pthread_mutex_unlock(&fs->quota_lock);
}
