/*
 * reload.c - the name snapshot the mount serves and its reload
 *
 * A maintenance thread reloads the names on SIGHUP or when a configured
 * Artifacts.toml changes (inotify on its directory), swaps the snapshot
 * pointer so that lookups never wait for a reload, and makes the kernel
 * forget the names that changed.  It also flushes the store's batched
 * access times every 5 s.
 */
#include "fs/daemon.h"
#include "store/store.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <unistd.h>

struct fs_names *fs_reload_names(struct fs *fs)
{
	struct fs_names *n;

	pthread_mutex_lock(&fs->names_lock);
	n = fs->names;
	fs_names_ref(n);
	pthread_mutex_unlock(&fs->names_lock);
	return n;
}

/*
 * inval_name - make the kernel forget what it cached of name at the root:
 * its dentry and, when the name's inode is known, its symlink target (page
 * cache).  Called for every changed name, from outside any FUSE request.
 */
static void inval_name(struct fs *fs, const char *name)
{
	fuse_ino_t ino = fs_inode_find_name(fs, name);

	/*
	 * Outside the inode lock: the kernel may call back into the filesystem.
	 * If the inode was forgotten meanwhile the kernel no longer knows the
	 * number and ignores the call.
	 */
	fuse_lowlevel_notify_inval_entry(fs->se, FUSE_ROOT_ID, name, strlen(name));
	if (ino)
		fuse_lowlevel_notify_inval_inode(fs->se, ino, 0, 0);
}

/*
 * Invalidate the kernel's dentries of every name that changed in a reload,
 * and tell change() (may be NULL) about each.
 */
static void invalidate_changes(struct fs *fs, struct fs_names *old, struct fs_names *new,
			       void (*change)(void *, char, const char *), void *arg)
{
	const struct fs_name *a, *b;
	size_t i;

	for (i = 0; i < fs_names_count(old); i++) {
		a = fs_names_at(old, i);
		b = fs_names_find(new, a->name);
		if (!b || strcmp(a->hash, b->hash) != 0) {
			inval_name(fs, a->name);
			if (change)
				change(arg, b ? '~' : '-', a->name);
		}
	}
	for (i = 0; i < fs_names_count(new); i++) {
		b = fs_names_at(new, i);
		if (!fs_names_find(old, b->name)) {
			inval_name(fs, b->name);
			if (change)
				change(arg, '+', b->name);
		}
	}
}

/* One reload at a time: SIGHUP, inotify and the control socket may ask at once. */
static pthread_mutex_t reload_lock = PTHREAD_MUTEX_INITIALIZER;

int fs_reload_now(struct fs *fs, void (*change)(void *arg, char what, const char *name),
		  void *arg, char **errmsg)
{
	struct fs_names *n = NULL, *old;
	char *msg = NULL;
	int r;

	pthread_mutex_lock(&reload_lock);
	/* Strict, as at start: a malformed edit keeps the names being served. */
	r = fs_names_build(fs->cfg, fs->host, true, &n, &msg);
	if (r < 0) {
		fs_log(FS_LOG_ERR, "reload failed, keeping the old names: %s",
		       msg ? msg : strerror(-r));
		if (errmsg)
			*errmsg = msg;
		else
			free(msg);
		goto out;
	}
	pthread_mutex_lock(&fs->names_lock);
	old = fs->names;
	fs->names = n;
	fs->names_loaded = (int64_t)time(NULL);
	pthread_mutex_unlock(&fs->names_lock);
	invalidate_changes(fs, old, n, change, arg);
	fs_names_unref(old);
	fs_log(FS_LOG_NOTICE, "reloaded: %zu names", fs_names_count(n));
out:
	pthread_mutex_unlock(&reload_lock);
	return r;
}

static void reload(struct fs *fs)
{
	fs_reload_now(fs, NULL, NULL, NULL);
}

static int sighup_fd = -1;

/* A reload waits for RELOAD_SETTLE_MS without events, at most RELOAD_MAX_MS. */
#define RELOAD_SETTLE_MS 200
#define RELOAD_MAX_MS 1000

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void on_sighup(int sig)
{
	uint64_t one = 1;
	int saved = errno;

	if (write(sighup_fd, &one, sizeof(one)) < 0) {
		/* nothing to do: a reload is already pending */
	}
	errno = saved;
}

/* Is this inotify event about one of the configured files? */
static bool event_matters(struct fs *fs, const struct inotify_event *ev, int *wds)
{
	const char *base;
	size_t i;

	if (!ev->len)
		return false;
	for (i = 0; i < fs->cfg->n_tomls; i++) {
		if (wds[i] != ev->wd)
			continue;
		base = strrchr(fs->cfg->tomls[i], '/');
		base = base ? base + 1 : fs->cfg->tomls[i];
		if (strcmp(ev->name, base) == 0)
			return true;
	}
	return false;
}

static void *maint_thread(void *arg)
{
	struct fs *fs = arg;
	struct fs_reload *m = &fs->reload;
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	const struct inotify_event *ev;
	struct pollfd pfd[3];
	int *wds, timeout, ready;
	bool pending = false, event;
	uint64_t first = 0;
	int64_t left;
	char dir[PATH_MAX], *slash;
	uint64_t v;
	ssize_t len;
	size_t i;

	wds = calloc(fs->cfg->n_tomls ? fs->cfg->n_tomls : 1, sizeof(*wds));
	for (i = 0; wds && i < fs->cfg->n_tomls; i++) {
		snprintf(dir, sizeof(dir), "%s", fs->cfg->tomls[i]);
		slash = strrchr(dir, '/');
		if (slash)
			*slash = '\0';
		/* Watch the directory: editors and Pkg replace the file by rename. */
		wds[i] = inotify_add_watch(m->inotify_fd, dir[0] ? dir : "/",
					   IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE | IN_DELETE);
	}
	pfd[0].fd = m->stop_fd;
	pfd[1].fd = sighup_fd;
	pfd[2].fd = m->inotify_fd;
	for (i = 0; i < 3; i++)
		pfd[i].events = POLLIN;
	for (;;) {
		/*
		 * Flush access times every 5 s.  Events are merged until
		 * RELOAD_SETTLE_MS pass without one, but a reload waits at most
		 * RELOAD_MAX_MS after the first: a steady stream of events (a
		 * tool rewriting the file in a loop) must not postpone it forever.
		 */
		timeout = 5000;
		if (pending) {
			left = (int64_t)(first + RELOAD_MAX_MS) - (int64_t)mono_ms();
			timeout = left < RELOAD_SETTLE_MS ? (int)(left > 0 ? left : 0) :
				  RELOAD_SETTLE_MS;
		}
		ready = poll(pfd, 3, timeout);
		if (ready < 0 && errno != EINTR)
			break;
		if (pfd[0].revents)
			break;
		event = false;
		if (ready > 0 && (pfd[1].revents & POLLIN)) {
			if (read(sighup_fd, &v, sizeof(v)) > 0)
				fs_log(FS_LOG_NOTICE, "SIGHUP: reloading");
			event = true;
		}
		if (ready > 0 && (pfd[2].revents & POLLIN)) {
			len = read(m->inotify_fd, buf, sizeof(buf));
			for (ev = (const void *)buf; wds && len > 0 && (const char *)ev < buf + len;
			     ev = (const void *)((const char *)ev + sizeof(*ev) + ev->len))
				if (event_matters(fs, ev, wds))
					event = true;
		}
		if (event && !pending) {
			pending = true;
			first = mono_ms();
		}
		if (pending && (ready == 0 || mono_ms() >= first + RELOAD_MAX_MS)) {
			pending = false;
			reload(fs);
		}
		if (ready == 0)
			store_flush_access(fs->store);
	}
	free(wds);
	return NULL;
}

int fs_reload_catch_sighup(void)
{
	struct sigaction sa;

	/* libfuse ends the session on SIGHUP; artifactfs reloads instead. */
	sighup_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (sighup_fd < 0)
		return -errno;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_sighup;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	if (sigaction(SIGHUP, &sa, NULL) < 0)
		return -errno;
	return 0;
}

void fs_reload_init(struct fs *fs)
{
	fs->reload.inotify_fd = -1;
	fs->reload.stop_fd = -1;
	fs->reload.started = false;
}

void fs_reload_start(struct fs *fs)
{
	struct fs_reload *m = &fs->reload;

	m->inotify_fd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
	m->stop_fd = eventfd(0, EFD_CLOEXEC);
	if (m->inotify_fd >= 0 && m->stop_fd >= 0 &&
	    pthread_create(&m->thread, NULL, maint_thread, fs) == 0)
		m->started = true;
	else
		fs_log(FS_LOG_WARNING, "cannot watch the Artifacts.toml files: %s",
		       strerror(errno));
}

void fs_reload_stop(struct fs *fs)
{
	struct fs_reload *m = &fs->reload;
	uint64_t one = 1;

	if (m->started) {
		if (write(m->stop_fd, &one, sizeof(one)) < 0)
			fs_log(FS_LOG_WARNING, "cannot stop the maintenance thread");
		pthread_join(m->thread, NULL);
		m->started = false;
	}
	if (m->inotify_fd >= 0)
		close(m->inotify_fd);
	if (m->stop_fd >= 0)
		close(m->stop_fd);
	m->inotify_fd = m->stop_fd = -1;
}
