/*
 * control.c - the control socket: status, metrics and reload of a running
 * daemon, and the door to evict, wipe, prefetch and sources (manage.c)
 *
 * A Unix stream socket (control_path(): under CONTROL_DIR when the
 * daemon runs as root, else in the store), mode 0600, or 0660 and the
 * group of control_group= when set.  One thread accepts the connections
 * one at a time: it reads one request line (at most CONTROL_MAX bytes, or
 * CONTROL_ARGS_MAX for a request with arguments; 5 s), answers one JSON
 * object and closes.  A request with --wait is handed to a thread of its
 * own, so that it never holds up the others.  It takes no lock a FUSE
 * thread holds for long, so it never stops the mount.  The peer's
 * credentials (SO_PEERCRED) decide the owner-only requests (reload, evict,
 * wipe, prefetch): the daemon's user and root may, others get {"ok":
 * false, "error": ...}.
 */
#include "fs/daemon.h"
#include "fetch/proxy.h"
#include "store/store.h"
#include "store/util/control.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <jansson.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "config.h"

#define IO_TIMEOUT_S 5	/* seconds a client may take to send or to read */

/* ---- the answers ----------------------------------------------------------------- */

/* RssAnon and RssFile of this process from /proc/self/status, in bytes (0: unknown). */
static void own_memory(uint64_t *anon, uint64_t *file)
{
	char line[256];
	unsigned long long kb;
	FILE *f = fopen("/proc/self/status", "re");

	*anon = *file = 0;
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "RssAnon: %llu kB", &kb) == 1)
			*anon = (uint64_t)kb * 1024;
		else if (sscanf(line, "RssFile: %llu kB", &kb) == 1)
			*file = (uint64_t)kb * 1024;
	}
	fclose(f);
}

static int add_flight(const struct fs_flight_info *i, void *arg)
{
	json_t *a = arg, *o;

	o = json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:f, s:f}", "hash", i->hash,
		      "state", i->running ? "running" : "queued", "name", i->name, "url", i->url,
		      "bytes", (json_int_t)i->bytes, "total_bytes", (json_int_t)i->total,
		      "age_seconds", i->age,
		      "bytes_per_second", i->age > 0 ? (double)i->bytes / i->age : 0.0);
	return o && json_array_append_new(a, o) == 0 ? 0 : -ENOMEM;
}

static int cmp_hash(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The number of distinct hashes the names bind. */
static size_t count_artifacts(const struct fs_names *n)
{
	size_t i, k = 0, c = fs_names_count(n);
	const char **v;

	if (c == 0)
		return 0;
	v = malloc(c * sizeof(*v));
	if (!v)
		return c;	/* an upper bound */
	for (i = 0; i < c; i++)
		v[i] = fs_names_at(n, i)->hash;
	qsort(v, c, sizeof(*v), cmp_hash);
	for (i = 0; i < c; i++)
		if (i == 0 || strcmp(v[i], v[i - 1]) != 0)
			k++;
	free(v);
	return k;
}

/*
 * The proxies of proxy= and their state: "in use" (healthy, of the group
 * tried first), "ok" (healthy, a later group), "failed" (skipped until
 * "failed_until", seconds since the epoch).  An empty array without proxy=.
 */
static json_t *proxies_doc(struct fs *fs, const struct timespec *now)
{
	struct fetch_proxies *px = fs->install.proxies;
	struct fetch_proxy_state st;
	json_t *a = json_array(), *o;
	size_t i;

	for (i = 0; a && px && i < fetch_proxies_count(px); i++) {
		fetch_proxies_state(px, (unsigned)i, &st);
		o = json_pack("{s:s, s:i, s:s, s:I, s:I}", "proxy", st.name, "group", (int)st.group,
			      "state", st.failed ? "failed" : st.active ? "in use" : "ok",
			      "failures", (json_int_t)st.failures,
			      "successes", (json_int_t)st.successes);
		if (o && st.failed)
			json_object_set_new(o, "failed_until",
					    json_integer((json_int_t)(now->tv_sec + st.retry_in + 0.5)));
		if (!o || json_array_append_new(a, o) < 0) {
			json_decref(a);
			return NULL;
		}
	}
	return a;
}

/* The status document (artifactfs(8) CONTROL SOCKET); NULL on ENOMEM. */
static json_t *status_doc(struct fs *fs)
{
	const struct fs_config *c = fs->cfg;
	struct fs_stats_error errs[FS_STATS_ERRORS];
	struct store_stats st = { 0 };
	struct fs_names *names;
	struct timespec now;
	json_t *doc, *a, *o;
	uint64_t anon, file, pending = 0;
	int64_t loaded;
	size_t i, n;
	struct stat sb;
	int e = 0;

	clock_gettime(CLOCK_REALTIME, &now);
	store_stats(fs->store, &st);
	own_memory(&anon, &file);
	names = fs_reload_names(fs);

	doc = json_pack("{s:b, s:s, s:s, s:s, s:s?, s:I, s:I, s:f}", "ok", 1,
			"version", PACKAGE_VERSION, "mountpoint", fs->mountpoint,
			"store", store_dir(fs->store), "socket", fs->control.path,
			"pid", (json_int_t)getpid(), "started", (json_int_t)fs->started.tv_sec,
			"uptime_seconds", (double)(now.tv_sec - fs->started.tv_sec) +
			(double)(now.tv_nsec - fs->started.tv_nsec) / 1e9);
	if (!doc)
		goto fail;
	a = json_array();
	e |= json_object_set_new(doc, "tomls", a);
	/* cfg->tomls changes in a reload (under names_lock) */
	pthread_mutex_lock(&fs->names_lock);
	loaded = fs->names_loaded;
	for (i = 0; a && i < c->n_tomls; i++) {
		o = json_pack("{s:s, s:I}", "path", c->tomls[i], "loaded", (json_int_t)loaded);
		if (o && stat(c->tomls[i], &sb) == 0)
			e |= json_object_set_new(o, "modified", json_integer(sb.st_mtim.tv_sec));
		e |= json_array_append_new(a, o);
	}
	pthread_mutex_unlock(&fs->names_lock);
	e |= json_object_set_new(doc, "names", json_integer((json_int_t)fs_names_count(names)));
	e |= json_object_set_new(doc, "no_open", json_boolean(fs->no_open));
	e |= json_object_set_new(doc, "no_opendir", json_boolean(fs->no_opendir));
	e |= json_object_set_new(doc, "artifacts_known",
				 json_integer((json_int_t)count_artifacts(names)));
	e |= json_object_set_new(doc, "installed", json_pack("{s:I, s:I}",
				 "artifacts", (json_int_t)st.artifacts, "bytes", (json_int_t)st.bytes));
	/* installs served but not on disk yet (syncer.c); 0 with sync_commit */
	if (store_pending_count(fs->store, &pending) < 0)
		store_clear_error(fs->store);
	e |= json_object_set_new(doc, "pending_sync", json_integer((json_int_t)pending));
	o = json_pack("{s:I, s:i, s:I}", "bytes", (json_int_t)c->quota,
		      "low_percent", (int)c->quota_low,
		      "low_bytes", (json_int_t)(c->quota / 100 * c->quota_low));
	if (o && c->quota)
		e |= json_object_set_new(o, "used_percent",
					 json_real(100.0 * (double)st.bytes / (double)c->quota));
	e |= json_object_set_new(doc, "quota", o);
	a = json_array();
	e |= json_object_set_new(doc, "inflight", a);
	if (a && fs->flights)
		e |= fs_flights_foreach(fs->flights, add_flight, a) != 0;
	o = json_object();
	e |= json_object_set_new(doc, "counters", o);
	for (i = 0; o && i < FS_STAT_N; i++)
		e |= json_object_set_new(o, fs_stats_name((enum fs_stat)i),
					 json_integer((json_int_t)fs_stats_get(&fs->stats,
									      (enum fs_stat)i)));
	a = json_array();
	e |= json_object_set_new(doc, "errors", a);
	n = fs_stats_errors(&fs->stats, errs, FS_STATS_ERRORS);
	for (i = 0; a && i < n; i++)
		e |= json_array_append_new(a, json_pack("{s:s, s:s, s:s, s:I}",
					   "artifact", errs[i].artifact, "url", errs[i].url,
					   "cause", errs[i].cause, "time", (json_int_t)errs[i].when));
	e |= json_object_set_new(doc, "proxies", proxies_doc(fs, &now));
	e |= json_object_set_new(doc, "memory", json_pack("{s:I, s:I}",
				 "rss_anon_bytes", (json_int_t)anon, "rss_file_bytes", (json_int_t)file));
	fs_names_unref(names);
	if (e) {
		json_decref(doc);
		return NULL;
	}
	return doc;
fail:
	fs_names_unref(names);
	return NULL;
}

struct changes {
	json_t *added, *removed, *changed, *tomls_added, *tomls_removed;
};

static void on_change(void *arg, char what, const char *name)
{
	struct changes *ch = arg;
	json_t *a;

	switch (what) {
	case '+':
		a = ch->added;
		break;
	case '-':
		a = ch->removed;
		break;
	case 'T':
		a = ch->tomls_added;
		break;
	case 't':
		a = ch->tomls_removed;
		break;
	default:
		a = ch->changed;
		break;
	}
	json_array_append_new(a, json_string(name));
}

static void on_setting(void *arg, const char *key)
{
	json_array_append_new(arg, json_string(key));
}

/*
 * The settings of the config file that changed since start and that a
 * reload does not apply (all but toml=), each named in the answer.  NULL
 * on ENOMEM.
 */
static json_t *config_changes(struct fs *fs)
{
	char *msg = NULL;
	json_t *o;
	int r;

	if (!fs->file_cfg)
		return json_pack("{s:n, s:[]}", "config", "needs_remount");
	o = json_pack("{s:s, s:[]}", "config", fs->cfg->config_file, "needs_remount");
	if (!o)
		return NULL;
	r = fs_reload_settings(fs, on_setting, json_object_get(o, "needs_remount"), &msg);
	if (r < 0)
		json_object_set_new(o, "config_error", json_string(msg ? msg : strerror(-r)));
	free(msg);
	return o;
}

/* reload: the config file's toml= list and the Artifacts.toml files again, and what changed. */
static json_t *reload_doc(struct fs *fs)
{
	struct changes ch = { json_array(), json_array(), json_array(), json_array(),
			      json_array() };
	struct fs_names *names;
	char *msg = NULL;
	json_t *doc, *cc;
	int r;

	if (!ch.added || !ch.removed || !ch.changed || !ch.tomls_added || !ch.tomls_removed) {
		doc = NULL;
		goto out;
	}
	r = fs_reload_now(fs, on_change, &ch, &msg);
	if (r < 0) {
		doc = json_pack("{s:b, s:s}", "ok", 0, "error",
				msg ? msg : strerror(-r));
		free(msg);
		goto out;
	}
	names = fs_reload_names(fs);
	doc = json_pack("{s:b, s:I, s:O, s:O, s:O, s:O, s:O}", "ok", 1,
			"names", (json_int_t)fs_names_count(names), "added", ch.added,
			"removed", ch.removed, "changed", ch.changed, "tomls_added",
			ch.tomls_added, "tomls_removed", ch.tomls_removed);
	fs_names_unref(names);
	cc = doc ? config_changes(fs) : NULL;
	if (doc && (!cc || json_object_update(doc, cc) < 0)) {
		json_decref(doc);
		doc = NULL;
	}
	json_decref(cc);
out:
	json_decref(ch.added);
	json_decref(ch.removed);
	json_decref(ch.changed);
	json_decref(ch.tomls_added);
	json_decref(ch.tomls_removed);
	return doc;
}

/* ---- the connections ------------------------------------------------------------- */

static void reply(int fd, json_t *doc)
{
	char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
	const char *p = text ? text : "{\"ok\":false,\"error\":\"out of memory\"}";
	size_t len = strlen(p);
	ssize_t w;

	while (len > 0) {
		w = send(fd, p, len, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;	/* the client went, or timed out: nothing to do */
		p += w;
		len -= (size_t)w;
	}
	if (len == 0)
		send(fd, "\n", 1, MSG_NOSIGNAL);
	free(text);
}

static json_t *error_doc(const char *msg)
{
	return json_pack("{s:b, s:s}", "ok", 0, "error", msg);
}

/*
 * Read one request (up to its newline or EOF; beyond CONTROL_MAX bytes only
 * for a verb with arguments) into buf; its length, or
 * -errno (-ETIMEDOUT after IO_TIMEOUT_S in all, however slowly the bytes
 * trickle in: each recv() is bounded by SO_RCVTIMEO, the whole by this).
 */
static ssize_t read_request(int fd, char *buf, size_t size)
{
	struct timespec t0, t;
	size_t len = 0;
	ssize_t r;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (len < size) {
		clock_gettime(CLOCK_MONOTONIC, &t);
		if (t.tv_sec - t0.tv_sec > IO_TIMEOUT_S)
			return -ETIMEDOUT;
		r = recv(fd, buf + len, size - len, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			break;
		len += (size_t)r;
		if (memchr(buf + len - (size_t)r, '\n', (size_t)r))
			break;
		/* Only requests with arguments may be longer than CONTROL_MAX. */
		if (len >= CONTROL_MAX && !control_has_args(buf, len))
			break;
	}
	return (ssize_t)len;
}

/* End a connection: the answer, then drop what is queued (unread bytes reset it). */
static void finish(int fd, json_t *doc)
{
	char buf[4096];

	reply(fd, doc);
	json_decref(doc);
	shutdown(fd, SHUT_WR);
	while (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) > 0)
		;
	close(fd);
}

/* The answer of a request that may wait (evict, wipe, prefetch). */
static json_t *run(struct fs *fs, const struct control_request *rq, int fd)
{
	switch (rq->verb) {
	case CONTROL_EVICT:
	case CONTROL_WIPE:
		return fs_manage_evict(fs, rq, fd);
	case CONTROL_PREFETCH:
		return fs_manage_prefetch(fs, rq, fd);
	case CONTROL_SOURCES:
		return fs_manage_sources(fs);
	case CONTROL_RELOAD:
		return reload_doc(fs);
	default:
		return status_doc(fs);
	}
}

struct waiter {
	struct fs *fs;
	int fd;
	struct control_request rq;
};

static void *waiter_thread(void *arg)
{
	struct waiter *w = arg;
	struct fs *fs = w->fs;

	finish(w->fd, run(fs, &w->rq, w->fd));
	control_request_release(&w->rq);
	free(w);
	pthread_mutex_lock(&fs->control.lock);
	fs->control.n_waiters--;
	pthread_cond_broadcast(&fs->control.cond);
	pthread_mutex_unlock(&fs->control.lock);
	return NULL;
}

/* Answer rq on a thread of its own; false when none could start (answer here). */
static bool hand_off(struct fs *fs, int fd, struct control_request *rq)
{
	struct waiter *w = malloc(sizeof(*w));
	pthread_attr_t attr;
	pthread_t t;
	bool started;

	if (!w)
		return false;
	w->fs = fs;
	w->fd = fd;
	w->rq = *rq;
	pthread_mutex_lock(&fs->control.lock);
	fs->control.n_waiters++;
	pthread_mutex_unlock(&fs->control.lock);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	started = pthread_create(&t, &attr, waiter_thread, w) == 0;
	pthread_attr_destroy(&attr);
	if (!started) {
		pthread_mutex_lock(&fs->control.lock);
		fs->control.n_waiters--;
		pthread_mutex_unlock(&fs->control.lock);
		free(w);
	}
	return started;
}

/* Answer the connection fd, and close it (or hand it to a waiter thread). */
static void serve(struct fs *fs, int fd)
{
	struct timeval tv = { IO_TIMEOUT_S, 0 };
	struct control_request rq = { 0 };
	struct ucred cred;
	socklen_t clen = sizeof(cred);
	const char *msg = NULL;
	json_t *doc = NULL;
	char text[160], *buf;
	ssize_t len;

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	buf = malloc(CONTROL_ARGS_MAX + 1);
	if (!buf || getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) < 0) {
		free(buf);
		close(fd);
		return;
	}
	len = read_request(fd, buf, CONTROL_ARGS_MAX + 1);
	if (len < 0) {
		free(buf);
		close(fd);
		return;
	}
	if (control_parse_request(buf, (size_t)len, &rq, &msg) < 0) {
		doc = error_doc(msg ? msg : "out of memory");
	} else if (control_owner_only(rq.verb) && cred.uid != 0 && cred.uid != geteuid()) {
		snprintf(text, sizeof(text), "'%s' is for the daemon's owner (uid %u) and root only; "
			 "you are uid %u", control_verb_name(rq.verb), (unsigned)geteuid(),
			 (unsigned)cred.uid);
		doc = error_doc(text);
		fs_log(FS_LOG_WARNING, "control: '%s' refused to uid %u (pid %d)",
		       control_verb_name(rq.verb), (unsigned)cred.uid, (int)cred.pid);
	} else {
		if (control_owner_only(rq.verb))
			fs_log(FS_LOG_NOTICE, "control: %s asked by uid %u (pid %d)",
			       control_verb_name(rq.verb), (unsigned)cred.uid, (int)cred.pid);
		free(buf);
		if ((rq.flags & CONTROL_WAIT) && hand_off(fs, fd, &rq))
			return;
		finish(fd, run(fs, &rq, fd));
		control_request_release(&rq);
		return;
	}
	free(buf);
	control_request_release(&rq);
	finish(fd, doc);
}

static void *control_thread(void *arg)
{
	struct fs *fs = arg;
	struct pollfd p[2];
	int fd;

	p[0].fd = fs->control.listen_fd;
	p[0].events = POLLIN;
	p[1].fd = fs->control.stop_fd[0];
	p[1].events = POLLIN;
	for (;;) {
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p[1].revents)
			break;
		if (!(p[0].revents & POLLIN))
			continue;
		fd = accept4(fs->control.listen_fd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0)
			continue;
		serve(fs, fd);
	}
	return NULL;
}

/* ---- start and stop ------------------------------------------------------------- */

void fs_control_init(struct fs *fs)
{
	fs->control.listen_fd = -1;
	fs->control.stop_fd[0] = fs->control.stop_fd[1] = -1;
	fs->control.started = false;
	fs->control.path = NULL;
	pthread_mutex_init(&fs->control.lock, NULL);
	pthread_cond_init(&fs->control.cond, NULL);
	fs->control.n_waiters = 0;
	fs->control.stopping = false;
}

/* Whether a daemon answers at path (a live socket, not a stale file). */
static bool socket_alive(const struct sockaddr_un *sa)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool alive;

	if (fd < 0)
		return false;
	alive = connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) == 0;
	close(fd);
	return alive;
}

/* Create, bind, chmod/chown and listen; the descriptor or -errno (*what says which step). */
static int make_socket(const char *path, gid_t gid, bool group,
		       const char **what)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat sb;
	int fd, r;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (lstat(path, &sb) == 0) {
		*what = "a daemon answers on it already";
		if (!S_ISSOCK(sb.st_mode))
			return -EEXIST;
		if (socket_alive(&sa))
			return -EADDRINUSE;
		unlink(path);	/* left by a daemon that ended */
	}
	*what = "socket";
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	*what = "bind";
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		goto fail;
	/* Before listen(): nobody connects while the mode is still the umask's. */
	*what = "chmod";
	if (chmod(path, group ? 0660 : 0600) < 0)
		goto fail_unlink;
	*what = "chown to control_group";
	if (group && chown(path, (uid_t)-1, gid) < 0)
		goto fail_unlink;
	*what = "listen";
	if (listen(fd, 16) < 0)
		goto fail_unlink;
	return fd;
fail_unlink:
	r = -errno;
	unlink(path);
	close(fd);
	return r;
fail:
	r = -errno;
	close(fd);
	return r;
}

int fs_control_group(const char *name, gid_t *ret)
{
	struct group gr, *res = NULL;
	char buf[4096];
	char *end;
	unsigned long v;

	if (getgrnam_r(name, &gr, buf, sizeof(buf), &res) == 0 && res) {
		*ret = res->gr_gid;
		return 0;
	}
	errno = 0;
	v = strtoul(name, &end, 10);
	if (*name && !*end && errno == 0 && v < (gid_t)-1) {
		*ret = (gid_t)v;
		return 0;
	}
	return -ENOENT;
}

void fs_control_start(struct fs *fs)
{
	struct fs_control *ctl = &fs->control;
	const char *what = "";
	bool system = geteuid() == 0;
	gid_t gid = 0;
	int r;

	r = control_path(fs->mountpoint, store_dir(fs->store), system, &ctl->path);
	if (r < 0) {
		fs_log(FS_LOG_WARNING, "no control socket for '%s': %s", fs->mountpoint,
		       strerror(-r));
		return;
	}
	if (fs->cfg->control_group) {
		if (fs_control_group(fs->cfg->control_group, &gid) < 0) {
			/* main() checked it before mounting; a group removed since */
			fs_log(FS_LOG_WARNING, "control_group '%s' is no group: the control "
			       "socket is the owner's only", fs->cfg->control_group);
		} else {
			ctl->group_set = true;
		}
	}
	if (system && mkdir(CONTROL_DIR, 0755) < 0 && errno != EEXIST) {
		r = -errno;
		what = "mkdir " CONTROL_DIR;
		goto fail;
	}
	r = make_socket(ctl->path, gid, ctl->group_set, &what);
	if (r < 0)
		goto fail;
	ctl->listen_fd = r;
	if (pipe2(ctl->stop_fd, O_CLOEXEC) < 0) {
		r = -errno;
		what = "pipe";
		goto fail;
	}
	r = -pthread_create(&ctl->thread, NULL, control_thread, fs);
	if (r < 0) {
		what = "thread";
		goto fail;
	}
	ctl->started = true;
	fs_log(FS_LOG_NOTICE, "control socket %s (mode %s%s)", ctl->path,
	       ctl->group_set ? "0660, group " : "0600",
	       ctl->group_set ? fs->cfg->control_group : "");
	return;
fail:
	fs_log(FS_LOG_WARNING, "no control socket at '%s': %s: %s", ctl->path, what,
	       strerror(-r));
	if (ctl->listen_fd >= 0) {
		close(ctl->listen_fd);
		ctl->listen_fd = -1;
		unlink(ctl->path);
	}
	free(ctl->path);
	ctl->path = NULL;
}

void fs_control_stop(struct fs *fs)
{
	struct fs_control *ctl = &fs->control;
	ssize_t w;

	if (ctl->started) {
		do
			w = write(ctl->stop_fd[1], "x", 1);
		while (w < 0 && errno == EINTR);
		pthread_join(ctl->thread, NULL);
		ctl->started = false;
	}
	/* The requests that wait give up (within WAIT_TICK_MS) and answer. */
	pthread_mutex_lock(&ctl->lock);
	ctl->stopping = true;
	pthread_mutex_unlock(&ctl->lock);
	fs_evict_wake(fs);
	pthread_mutex_lock(&ctl->lock);
	while (ctl->n_waiters > 0)
		pthread_cond_wait(&ctl->cond, &ctl->lock);
	pthread_mutex_unlock(&ctl->lock);
	if (ctl->listen_fd >= 0) {
		close(ctl->listen_fd);
		ctl->listen_fd = -1;
		unlink(ctl->path);
	}
	if (ctl->stop_fd[0] >= 0)
		close(ctl->stop_fd[0]);
	if (ctl->stop_fd[1] >= 0)
		close(ctl->stop_fd[1]);
	ctl->stop_fd[0] = ctl->stop_fd[1] = -1;
	free(ctl->path);
	ctl->path = NULL;
}
