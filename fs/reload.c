/*
 * reload.c - the name snapshot the mount serves and its reload
 *
 * A maintenance thread reloads the names on SIGHUP or when a configured
 * Artifacts.toml changes (inotify on its directory), swaps the snapshot
 * pointer so that lookups never wait for a reload, and makes the kernel
 * forget the names that changed.  It also flushes the store's batched
 * access times every 5 s.
 */
#include "config.h"

#include "fs/daemon.h"
#include "store/util/time.h"
#include "store/store.h"

#ifdef HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#endif

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
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

static bool same_list(char *const *a, size_t na, char *const *b, size_t nb)
{
	size_t i;

	if (na != nb)
		return false;
	for (i = 0; i < na; i++)
		if (strcmp(a[i], b[i]) != 0)
			return false;
	return true;
}

static bool in_list(char *const *v, size_t n, const char *s)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(v[i], s) == 0)
			return true;
	return false;
}

static void free_list(char **v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/*
 * The toml= list the config file gives now, when it differs from the one
 * in effect: *ret the new list of fs->cfg (the file's files, absolute, then
 * those of -o toml=, which the file never changes), *ret_file the file's
 * own list as written.  Returns 1 when it changed, 0 when not (or there is
 * no config file), -errno with *errmsg (malloc'ed) when the file cannot be
 * read or names a file that is not there.  Called with reload_lock held.
 */
static int new_tomls(struct fs *fs, char ***ret, size_t *ret_n, struct fs_config *now,
		     char **errmsg)
{
	const struct fs_config *c = fs->cfg, *f = fs->file_cfg;
	size_t i, n = 0, n_cmd;
	char **v;
	int r;

	if (!c->config_file || !f)
		return 0;
	r = fs_config_load_file(now, c->config_file, errmsg);
	if (r < 0)
		return r;
	if (same_list(f->tomls, f->n_tomls, now->tomls, now->n_tomls))
		return 0;
	n_cmd = c->n_tomls >= f->n_tomls ? c->n_tomls - f->n_tomls : 0;
	v = calloc(now->n_tomls + n_cmd + 1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (i = 0; i < now->n_tomls; i++, n++) {
		v[n] = realpath(now->tomls[i], NULL);
		if (!v[n]) {
			r = -errno;
			if (asprintf(errmsg, "%s: toml '%s': %s", c->config_file, now->tomls[i],
				     strerror(errno)) < 0)
				*errmsg = NULL;
			free_list(v, n);
			return r;
		}
	}
	for (i = c->n_tomls - n_cmd; i < c->n_tomls; i++, n++) {
		v[n] = strdup(c->tomls[i]);
		if (!v[n]) {
			free_list(v, n);
			return -ENOMEM;
		}
	}
	*ret = v;
	*ret_n = n;
	return 1;
}

void fs_reload_notify(const char *state)
{
#ifdef HAVE_SYSTEMD
	struct timespec t;

	/* systemd >= 253 wants the time of RELOADING=1; older ones ignore it. */
	if (strcmp(state, "RELOADING=1") == 0) {
		clock_gettime(CLOCK_MONOTONIC, &t);
		sd_notifyf(0, "RELOADING=1\nMONOTONIC_USEC=%llu",
			   (unsigned long long)t.tv_sec * 1000000ULL +
			   (unsigned long long)t.tv_nsec / 1000);
		return;
	}
	sd_notify(0, state);
#else
	(void)state;
#endif
}

int fs_reload_now(struct fs *fs, void (*change)(void *arg, char what, const char *name),
		  void *arg, char **errmsg)
{
	struct fs_names *n = NULL, *old;
	struct fs_config now, with;
	char *msg = NULL, **tomls = NULL, **ov;
	size_t n_tomls = 0, i, on;
	int r;

	pthread_mutex_lock(&reload_lock);
	fs_reload_notify("RELOADING=1");
	fs_config_init(&now);
	/* A changed toml= list of the config file applies, a new file first. */
	r = new_tomls(fs, &tomls, &n_tomls, &now, &msg);
	if (r < 0)
		goto failed;
	with = *fs->cfg;
	if (r > 0) {
		with.tomls = tomls;
		with.n_tomls = n_tomls;
	}
	/* Strict, as at start: a malformed edit keeps the names being served. */
	r = fs_names_build(&with, fs->host, true, &n, &msg);
	if (r < 0)
		goto failed;
	pthread_mutex_lock(&fs->names_lock);
	old = fs->names;
	fs->names = n;
	fs->names_loaded = (int64_t)time(NULL);
	ov = fs->cfg->tomls;
	on = fs->cfg->n_tomls;
	if (tomls) {
		fs->cfg->tomls = tomls;
		fs->cfg->n_tomls = n_tomls;
		/* The file's own list, against which the next reload compares. */
		free_list(fs->file_cfg->tomls, fs->file_cfg->n_tomls);
		fs->file_cfg->tomls = now.tomls;
		fs->file_cfg->n_tomls = now.n_tomls;
		now.tomls = NULL;
		now.n_tomls = 0;
	}
	pthread_mutex_unlock(&fs->names_lock);
	if (tomls) {
		uint64_t one = 1;

		/* The maintenance thread watches the new list from now on. */
		atomic_fetch_add(&fs->reload.generation, 1);
		if (fs->reload.wake_fd >= 0 && write(fs->reload.wake_fd, &one, sizeof(one)) < 0)
			fs_log(FS_LOG_DEBUG, "cannot wake the maintenance thread");
		for (i = 0; i < on; i++)
			if (!in_list(tomls, n_tomls, ov[i])) {
				fs_log(FS_LOG_NOTICE, "reload: no longer serving '%s'", ov[i]);
				if (change)
					change(arg, 't', ov[i]);
			}
		for (i = 0; i < n_tomls; i++)
			if (!in_list(ov, on, tomls[i])) {
				fs_log(FS_LOG_NOTICE, "reload: now serving '%s'", tomls[i]);
				store_root_add(fs->store, tomls[i]);
				if (change)
					change(arg, 'T', tomls[i]);
			}
		free_list(ov, on);
	}
	invalidate_changes(fs, old, n, change, arg);
	fs_evict_listing_changed(fs);
	fs_names_unref(old);
	fs_log(FS_LOG_NOTICE, "reloaded: %zu names", fs_names_count(n));
	goto out;
failed:
	fs_log(FS_LOG_ERR, "reload failed, keeping the old names: %s", msg ? msg : strerror(-r));
	if (errmsg)
		*errmsg = msg;
	else
		free(msg);
	if (tomls)
		free_list(tomls, n_tomls);
out:
	fs_config_release(&now);
	fs_reload_notify("READY=1");
	pthread_mutex_unlock(&reload_lock);
	return r < 0 ? r : 0;
}

struct settings_filter {
	void (*fn)(void *arg, const char *key);
	void *arg;
};

/* Every changed setting but toml=, which a reload applies. */
static void not_toml(void *arg, const char *key)
{
	struct settings_filter *f = arg;

	if (strcmp(key, "toml") != 0)
		f->fn(f->arg, key);
}

int fs_reload_settings(struct fs *fs, void (*fn)(void *arg, const char *key), void *arg,
		       char **errmsg)
{
	struct settings_filter filter = { fn, arg };
	struct fs_config now;
	int r = 0;

	if (!fs->cfg->config_file || !fs->file_cfg)
		return 0;
	pthread_mutex_lock(&reload_lock);
	fs_config_init(&now);
	r = fs_config_load_file(&now, fs->cfg->config_file, errmsg);
	if (r == 0)
		fs_config_diff(fs->file_cfg, &now, not_toml, &filter);
	fs_config_release(&now);
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

static void on_sighup(int sig)
{
	uint64_t one = 1;
	int saved = errno;

	if (write(sighup_fd, &one, sizeof(one)) < 0) {
		/* nothing to do: a reload is already pending */
	}
	errno = saved;
}

/* The configured files the maintenance thread watches (its own copy). */
struct watched {
	char **paths;
	int *wds;
	size_t n;
	unsigned generation;		/* of fs->reload.generation when copied */
};

static void unwatch(struct fs *fs, struct watched *w)
{
	size_t i;

	for (i = 0; i < w->n; i++)
		if (w->wds[i] >= 0)
			inotify_rm_watch(fs->reload.inotify_fd, w->wds[i]);
	free_list(w->paths, w->n);
	free(w->wds);
	w->paths = NULL;
	w->wds = NULL;
	w->n = 0;
}

/*
 * Watch the directory of every configured file (editors and Pkg replace a
 * file by rename), again after a reload changed the list.  Two files of
 * one directory share a watch descriptor; removing it for one is harmless,
 * the other file's watch is added again right after.
 */
static void watch(struct fs *fs, struct watched *w)
{
	char dir[PATH_MAX], *slash;
	size_t i, n;

	unwatch(fs, w);
	pthread_mutex_lock(&fs->names_lock);
	w->generation = atomic_load(&fs->reload.generation);
	n = fs->cfg->n_tomls;
	w->paths = calloc(n ? n : 1, sizeof(*w->paths));
	w->wds = calloc(n ? n : 1, sizeof(*w->wds));
	for (i = 0; w->paths && w->wds && i < n; i++) {
		w->paths[i] = strdup(fs->cfg->tomls[i]);
		if (!w->paths[i])
			break;
		w->n = i + 1;
	}
	pthread_mutex_unlock(&fs->names_lock);
	for (i = 0; i < w->n; i++) {
		snprintf(dir, sizeof(dir), "%s", w->paths[i]);
		slash = strrchr(dir, '/');
		if (slash)
			*slash = '\0';
		w->wds[i] = inotify_add_watch(fs->reload.inotify_fd, dir[0] ? dir : "/",
					      IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE | IN_DELETE);
	}
}

/* Is this inotify event about one of the configured files? */
static bool event_matters(const struct watched *w, const struct inotify_event *ev)
{
	const char *base;
	size_t i;

	if (!ev->len)
		return false;
	for (i = 0; i < w->n; i++) {
		if (w->wds[i] != ev->wd)
			continue;
		base = strrchr(w->paths[i], '/');
		base = base ? base + 1 : w->paths[i];
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
	struct watched w = { 0 };
	struct pollfd pfd[4];
	int timeout, ready;
	bool pending = false, event;
	uint64_t first = 0;
	int64_t left;
	uint64_t v;
	ssize_t len;
	size_t i;

	watch(fs, &w);
	pfd[0].fd = m->stop_fd;
	pfd[1].fd = sighup_fd;
	pfd[2].fd = m->inotify_fd;
	pfd[3].fd = m->wake_fd;
	for (i = 0; i < 4; i++)
		pfd[i].events = POLLIN;
	for (;;) {
		if (w.generation != atomic_load(&m->generation))
			watch(fs, &w);
		/*
		 * Flush access times every 5 s.  Events are merged until
		 * RELOAD_SETTLE_MS pass without one, but a reload waits at most
		 * RELOAD_MAX_MS after the first: a steady stream of events (a
		 * tool rewriting the file in a loop) must not postpone it forever.
		 */
		timeout = 5000;
		if (pending) {
			left = (int64_t)(first + RELOAD_MAX_MS) - (int64_t)time_mono_ms();
			timeout = left < RELOAD_SETTLE_MS ? (int)(left > 0 ? left : 0) :
				  RELOAD_SETTLE_MS;
		}
		ready = poll(pfd, m->wake_fd >= 0 ? 4 : 3, timeout);
		if (ready < 0 && errno != EINTR)
			break;
		if (pfd[0].revents)
			break;
		if (ready > 0 && m->wake_fd >= 0 && (pfd[3].revents & POLLIN)) {
			if (read(m->wake_fd, &v, sizeof(v)) < 0)
				fs_log(FS_LOG_DEBUG, "cannot read the wake-up");
			if (ready == 1)
				continue;	/* watch the new list, nothing else to do */
		}
		event = false;
		if (ready > 0 && (pfd[1].revents & POLLIN)) {
			if (read(sighup_fd, &v, sizeof(v)) > 0)
				fs_log(FS_LOG_NOTICE, "SIGHUP: reloading");
			event = true;
		}
		if (ready > 0 && (pfd[2].revents & POLLIN)) {
			len = read(m->inotify_fd, buf, sizeof(buf));
			for (ev = (const void *)buf; len > 0 && (const char *)ev < buf + len;
			     ev = (const void *)((const char *)ev + sizeof(*ev) + ev->len))
				if (event_matters(&w, ev))
					event = true;
		}
		if (event && !pending) {
			pending = true;
			first = time_mono_ms();
		}
		if (pending && (ready == 0 || time_mono_ms() >= first + RELOAD_MAX_MS)) {
			pending = false;
			reload(fs);
		}
		if (ready == 0)
			store_flush_access(fs->store);
	}
	unwatch(fs, &w);
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
	fs->reload.wake_fd = -1;
	fs->reload.started = false;
}

void fs_reload_start(struct fs *fs)
{
	struct fs_reload *m = &fs->reload;

	m->inotify_fd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
	m->stop_fd = eventfd(0, EFD_CLOEXEC);
	m->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
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
	if (m->wake_fd >= 0)
		close(m->wake_fd);
	m->inotify_fd = m->stop_fd = m->wake_fd = -1;
}
