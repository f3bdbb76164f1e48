/*
 * test-store.c - unit tests of store/: layout, index, single flight,
 * installs, reconcile, crash points, faults, map growth and gc roots
 *
 * Every test works in its own store under one mkdtemp() directory, removed
 * at the end.  Other processes are this program run again in a child role
 * (fork and exec "test-store --child ROLE ARGS"): a fresh process opens its
 * own store, as a real second process would, and valgrind and the
 * sanitizers check it like the parent (a forked copy would inherit the
 * parent's memory, which it can neither use nor free).  Children report
 * through their exit status, or die by SIGKILL on purpose; only the parent
 * prints TAP.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif

#include "tests/tap.h"
#include "tests/unit/util.h"

#include "store/hash.h"
#include "store/internal.h"
#include "store/store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* spec §2.6: "foo" = "Hello, world!" (0644) */
#define HELLO_HASH "339aad93c0f854604248ea3b7c5b7edea20625a9"
#define OTHER_HASH "98cda294312216b19e2a973e9c291c0f5181c98c"
#define ABSENT_HASH "0123456789abcdef0123456789abcdef01234567"
#define SHA256_X "E65D2F13F2085F2C279830E863292312A72930FEE5BA3C792B14C33CE5F5CC58"

static char base[1024];	/* the test directory: short enough for any path below */
static char tree_hash[STORE_HASH_HEX + 1];	/* hash of build_tree() */

/* ---- helpers -------------------------------------------------------------- */

static int put_file(int dfd, const char *path, const char *content, mode_t mode)
{
	size_t len = strlen(content);
	int fd, r = 0;

	fd = openat(dfd, path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	if (write(fd, content, len) != (ssize_t)len || fchmod(fd, mode) < 0)
		r = -errno ? -errno : -EIO;
	close(fd);
	return r;
}

/*
 * build_tree - foo (setuid, executable), d/ (setgid), d/bar (group
 * writable), link -> foo, and a symlink to a file outside the tree when
 * outside is not NULL.
 */
static int build_tree(int dfd, const char *outside)
{
	int r;

	r = put_file(dfd, "foo", "Hello, world!", 04775);
	if (r == 0 && mkdirat(dfd, "d", 0700) < 0)
		r = -errno;
	if (r == 0 && fchmodat(dfd, "d", 02775, 0) < 0)
		r = -errno;
	if (r == 0)
		r = put_file(dfd, "d/bar", "bar\n", 0664);
	if (r == 0 && symlinkat("foo", dfd, "link") < 0)
		r = -errno;
	if (r == 0 && outside && symlinkat(outside, dfd, "d/evil") < 0)
		r = -errno;
	return r;
}

static int mode_of(const char *dir, const char *rel, mode_t *mode)
{
	char path[PATH_MAX];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	if (lstat(path, &st) < 0)
		return -errno;
	*mode = st.st_mode;
	return 0;
}

static bool exists(const char *dir, const char *rel)
{
	mode_t m;

	return mode_of(dir, rel, &m) == 0;
}

/* install - begin, build_tree, commit; returns the commit's result. */
static int install(struct store *s, const char *hash, const char *source)
{
	struct store_install_meta meta = { 17, 2, source, SHA256_X };
	struct store_install *in;
	int r;

	r = store_install_begin(s, hash, &in);
	if (r < 0)
		return r;
	r = build_tree(store_install_dirfd(in), NULL);
	if (r < 0) {
		store_install_abort(in);
		return r;
	}
	return store_install_commit(in, &meta);
}

static const char *self;	/* this program, run again for the child roles */

/*
 * The store of a child role that dies by SIGKILL on purpose, kept reachable:
 * valgrind checks for leaks even in a process that kills itself.
 */
static struct store *volatile child_store;	/* volatile: written, never read */
static struct store_lock *volatile child_lock;

/*
 * spawn - run "self --child role args..." (NULL-terminated) in a new
 * process.  The test's pipes are O_CLOEXEC; the one descriptor the child
 * needs is named by keep (or -1) and survives the exec.
 */
static pid_t spawn(int keep, const char *role, ...)
{
	va_list ap;
	pid_t pid;

	va_start(ap, role);
	pid = tu_spawn_va(self, keep, -1, role, ap);
	va_end(ap);
	return pid;
}

static bool exited_ok(int st)
{
	return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

static bool killed(int st)
{
	return WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL;
}

/* ---- layout, open, close ---------------------------------------------------- */

static void test_open(void)
{
	char *dir = tu_path(base, "open"), real[PATH_MAX], path[PATH_MAX * 2];
	struct store *s = NULL;
	char *msg = NULL;
	int r;

	r = store_open(dir, 0, &s, &msg);
	is_int(r, -ENOENT, "open without STORE_CREATE: no store");
	ok(s == NULL && msg && strstr(msg, dir), "no handle, message names the path: %s",
		msg ? msg : "(null)");
	free(msg);

	s = tu_store_open(dir, STORE_CREATE);
	ok(s != NULL, "open with STORE_CREATE");
	if (!s)
		goto out;
	ok(realpath(dir, real) && strcmp(store_dir(s), real) == 0, "store_dir is the realpath");
	ok(exists(dir, "artifacts") && exists(dir, "tmp") && exists(dir, "quarantine") &&
			exists(dir, "index/data.mdb") && exists(dir, "locks/store.lock"),
		"layout created");
	r = store_path(s, HELLO_HASH, path, sizeof(path));
	ok(r > 0 && strcmp(path + strlen(real), "/artifacts/" HELLO_HASH) == 0, "store_path");
	is_int(store_path(s, HELLO_HASH, path, 10), -ENAMETOOLONG, "store_path: short buffer");
	is_int(store_path(s, "ABC", path, sizeof(path)), -EINVAL, "store_path: bad hash");
	store_close(s);
	store_close(NULL);

	s = tu_store_open(dir, 0);
	ok(s != NULL, "reopen without STORE_CREATE");
	store_close(s);
	s = tu_store_open(dir, STORE_RDONLY);
	ok(s != NULL, "open STORE_RDONLY");
	if (s) {
		struct store_install *in;

		is_int(store_install_begin(s, HELLO_HASH, &in), -EROFS, "read-only: no install");
		is_int(store_root_add(s, "/x"), -EROFS, "read-only: no root");
		ok(strstr(store_errmsg(s), "read-only") != NULL, "errmsg: %s", store_errmsg(s));
		store_clear_error(s);
		is_str(store_errmsg(s), "", "store_clear_error");
		store_close(s);
	}
	snprintf(path, sizeof(path), "%s/index/data.mdb", dir);
	s = NULL;
	r = store_open(path, 0, &s, NULL);
	is_int(r, -ENOTDIR, "a file is not a store");
	r = store_open(dir, STORE_CREATE | STORE_RDONLY, &s, NULL);
	is_int(r, -EINVAL, "STORE_CREATE with STORE_RDONLY");
out:
	free(dir);
}

/* ---- per-thread messages ------------------------------------------------------ */

static void *errmsg_thread(void *arg)
{
	struct store *s = arg;
	struct store_info info;
	bool fresh = strcmp(store_errmsg(s), "") == 0;
	const char *m;

	store_verify(s, ABSENT_HASH, false);	/* no message for -ENOENT */
	store_lookup(s, ABSENT_HASH, &info);
	store_root_remove(s, "/no/such/root");
	m = store_errmsg(s);
	return (void *)(uintptr_t)(fresh && strstr(m, "not a gc root") != NULL);
}

static void test_errmsg(void)
{
	char *dir = tu_path(base, "errmsg");
	struct store *s = tu_store_open(dir, STORE_CREATE);
	struct store_install *in;
	pthread_t t;
	void *res = NULL;

	if (!s) {
		ok(0, "open");
		free(dir);
		return;
	}
	store_clear_error(s);
	is_int(store_root_remove(s, "/first"), -ENOENT, "removing an unknown root");
	store_install_begin(s, "bad", &in);
	ok(strstr(store_errmsg(s), "/first") != NULL, "first error wins: %s", store_errmsg(s));
	pthread_create(&t, NULL, errmsg_thread, s);
	pthread_join(t, &res);
	ok(res != NULL, "another thread sees its own message");
	ok(strstr(store_errmsg(s), "/first") != NULL, "ours is unchanged");
	store_close(s);
	free(dir);
}

/* ---- lookup, install ----------------------------------------------------------- */

static int count_rows(const char *hash, const struct store_info *info, void *arg)
{
	char *last = arg;

	if (strcmp(last, hash) >= 0)
		return -1;	/* not in hash order */
	strcpy(last, hash);
	return 0;
}

static int stop_walk(const char *hash, const struct store_info *info, void *arg)
{
	return 42;
}

static void test_install(void)
{
	char *dir = tu_path(base, "install"), last[STORE_HASH_HEX + 1] = "";
	struct store *s = tu_store_open(dir, STORE_CREATE);
	struct store_install *a, *b;
	struct store_stats st;
	struct store_info info;
	char rel[128];
	int64_t t0 = time(NULL);
	mode_t m;
	int r;

	if (!s) {
		ok(0, "open");
		free(dir);
		return;
	}
	is_int(store_lookup(s, ABSENT_HASH, &info), -ENOENT, "lookup: absent");
	is_int(store_lookup(s, "0123", &info), -EINVAL, "lookup: short hash");
	is_int(store_lookup(s, "339AAD93C0F854604248EA3B7C5B7EDEA20625A9", &info), -EINVAL,
		"lookup: uppercase hash");

	r = install(s, tree_hash, "https://example.org/a.tar.gz");
	is_int(r, 0, "install begin/build/commit");
	snprintf(rel, sizeof(rel), "artifacts/%s/foo", tree_hash);
	r = mode_of(dir, rel, &m);
	ok(r == 0 && (m & 07777) == 0555, "file: read-only, setuid gone (%o)",
		m & 07777);
	snprintf(rel, sizeof(rel), "artifacts/%s/d", tree_hash);
	r = mode_of(dir, rel, &m);
	ok(r == 0 && (m & 07777) == 0775, "dir: writable, setgid gone (%o)",
		m & 07777);
	snprintf(rel, sizeof(rel), "artifacts/%s/d/bar", tree_hash);
	r = mode_of(dir, rel, &m);
	ok(r == 0 && (m & 07777) == 0444, "group-writable file: 0444 (%o)",
		m & 07777);
	snprintf(rel, sizeof(rel), "artifacts/%s/link", tree_hash);
	r = mode_of(dir, rel, &m);
	ok(r == 0 && S_ISLNK(m), "symlink kept");
	is_int(tu_count_entries(dir, "tmp"), 0, "tmp/ empty after commit");
	is_int(store_verify(s, tree_hash, false), 0, "installed tree verifies");

	r = store_lookup(s, tree_hash, &info);
	is_int(r, 0, "lookup: installed");
	if (r == 0) {
		is_int(info.state, STORE_INSTALLED, "row: state");
		is_int(info.bytes, 17, "row: bytes");
		is_int(info.files, 2, "row: files");
		ok(info.installed >= t0 && info.installed <= time(NULL), "row: installed time");
		is_str(info.source, "https://example.org/a.tar.gz", "row: source");
		is_str(info.tarball_sha256,
			"e65d2f13f2085f2c279830e863292312a72930fee5ba3c792b14c33ce5f5cc58",
			"row: tarball sha256, lowercased");
		store_info_release(&info);
	}

	/* two installs of one hash: the second loses, gets 0, leaves nothing */
	r = store_install_begin(s, HELLO_HASH, &a);
	is_int(r, 0, "begin A");
	r = store_install_begin(s, HELLO_HASH, &b);
	is_int(r, 0, "begin B");
	if (a && b) {
		ok(strcmp(store_install_path(a), store_install_path(b)) != 0 &&
				strncmp(store_install_path(a), dir, 0) == 0,
			"distinct tmp paths: %s", store_install_path(a));
		put_file(store_install_dirfd(a), "foo", "Hello, world!", 0644);
		put_file(store_install_dirfd(b), "foo", "Hello, world!", 0644);
		is_int(tu_count_entries(dir, "tmp"), 2, "two trees in tmp/");
		is_int(store_install_commit(a, NULL), 0, "commit A");
		is_int(store_install_commit(b, NULL), 0, "commit B (lost) returns 0");
		is_int(tu_count_entries(dir, "tmp"), 0, "loser's tmp tree gone");
	}
	r = store_stats(s, &st);
	ok(r == 0 && st.artifacts == 2 && st.installs == 2 && st.bytes == 17 + 0,
		"stats: 2 artifacts, 2 installs (%d %ju %ju %ju)", r, (uintmax_t)st.artifacts,
		(uintmax_t)st.installs, (uintmax_t)st.bytes);
	is_int(store_count_failure(s), 0, "count a failure");
	ok(store_stats(s, &st) == 0 && st.failures == 1, "stats: 1 failure");

	/* abort leaves nothing */
	r = store_install_begin(s, OTHER_HASH, &a);
	if (r == 0) {
		build_tree(store_install_dirfd(a), NULL);
		store_install_abort(a);
	}
	store_install_abort(NULL);
	ok(r == 0 && tu_count_entries(dir, "tmp") == 0 && !exists(dir, "artifacts/" OTHER_HASH),
		"abort removes the tree");
	is_int(store_lookup(s, OTHER_HASH, &info), -ENOENT, "abort: no row");

	/* invalid meta */
	r = store_install_begin(s, OTHER_HASH, &a);
	if (r == 0) {
		struct store_install_meta meta = { 0, 0, NULL, "xyz" };

		is_int(store_install_commit(a, &meta), -EINVAL, "commit: bad sha256");
		ok(tu_count_entries(dir, "tmp") == 0 && !exists(dir, "artifacts/" OTHER_HASH),
			"bad meta: nothing left");
	}

	is_int(store_foreach(s, count_rows, last), 0, "foreach in hash order");
	is_int(store_foreach(s, stop_walk, NULL), 42, "foreach: callback stops the walk");
	store_close(s);
	free(dir);
}

/* commit and abort never follow symlinks out of the tree */
static void test_symlinks(void)
{
	char *dir = tu_path(base, "symlinks"), outside[PATH_MAX], path[PATH_MAX + 16];
	struct store *s = tu_store_open(dir, STORE_CREATE);
	struct store_install *in;
	mode_t m;
	int fd, r;

	snprintf(outside, sizeof(outside), "%s/outside", base);
	mkdir(outside, 0755);
	fd = open(outside, O_RDONLY | O_DIRECTORY);
	put_file(fd, "victim", "keep me", 0644);
	close(fd);
	snprintf(path, sizeof(path), "%s/victim", outside);
	if (!s || store_install_begin(s, OTHER_HASH, &in) < 0) {
		ok(0, "begin");
		goto out;
	}
	build_tree(store_install_dirfd(in), path);
	symlinkat(outside, store_install_dirfd(in), "dirlink");
	is_int(store_install_commit(in, NULL), 0, "commit a tree with outward symlinks");
	r = mode_of(base, "outside/victim", &m);
	ok(r == 0 && (m & 07777) == 0644,
		"symlink target not chmod'ed (%o)", m & 07777);

	if (store_install_begin(s, ABSENT_HASH, &in) < 0) {
		ok(0, "begin");
		goto out;
	}
	build_tree(store_install_dirfd(in), path);
	symlinkat(outside, store_install_dirfd(in), "dirlink");
	store_install_abort(in);
	ok(exists(base, "outside/victim") && tu_count_entries(dir, "tmp") == 0,
		"abort removes the links, not their targets");
out:
	store_close(s);
	free(dir);
}

/* a tree deeper than the descriptor limit is still removed */
static int child_deep(const char *dir)
{
	struct rlimit rl = { 32, 32 };
	struct store_install *in;
	struct store *s;
	int fd, nfd, i, r = 0;

	s = tu_store_open(dir, STORE_NO_RECONCILE);
	if (!s || store_install_begin(s, HELLO_HASH, &in) < 0)
		return 2;
	fd = dup(store_install_dirfd(in));
	for (i = 0; i < 300 && r == 0; i++) {
		if (mkdirat(fd, "d", 0755) < 0 || put_file(fd, "f", "x", 0444) < 0)
			r = 3;
		nfd = openat(fd, "d", O_RDONLY | O_DIRECTORY);
		close(fd);
		fd = nfd;
		if (i % 7 == 0)
			fchmod(fd, 0555);	/* not writable: must be fixed */
	}
	close(fd);
	setrlimit(RLIMIT_NOFILE, &rl);
	store_install_abort(in);
	if (r == 0 && tu_count_entries(dir, "tmp") != 0)
		r = 4;
	store_close(s);
	return r;
}

static void test_deep_remove(void)
{
	char *dir = tu_path(base, "deep");
	struct store *s = tu_store_open(dir, STORE_CREATE);
	int st;

	store_close(s);
	st = tu_wait_child(spawn(-1, "deep", dir, NULL));
	ok(exited_ok(st), "300 levels removed with 32 descriptors (%d)",
		WIFEXITED(st) ? WEXITSTATUS(st) : -1);
	free(dir);
}

/* ---- single flight ----------------------------------------------------------- */

static atomic_int holders, max_holders, lock_ok;

struct lock_arg {
	struct store *s;
	double hold;
};

static void *lock_thread(void *p)
{
	struct lock_arg *a = p;
	struct store_lock *l;
	struct timespec ts = { (time_t)a->hold, (long)((a->hold - (time_t)a->hold) * 1e9) };
	int n;

	if (store_lock_hash(a->s, HELLO_HASH, 60, &l) < 0)
		return NULL;
	n = atomic_fetch_add(&holders, 1) + 1;
	if (n > atomic_load(&max_holders))
		atomic_store(&max_holders, n);
	nanosleep(&ts, NULL);
	atomic_fetch_sub(&holders, 1);
	store_unlock(l);
	atomic_fetch_add(&lock_ok, 1);
	return NULL;
}

/* lock-hold: take the lock, log "E" and "L" around a 0.3 s hold */
static int child_lock_hold(const char *dir, const char *log)
{
	struct store *s = tu_store_open(dir, STORE_NO_RECONCILE);
	struct timespec ts = { 0, 300000000 };
	struct store_lock *l;
	int fd, r = 0;

	fd = open(log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (!s || fd < 0 || store_lock_hash(s, HELLO_HASH, 60, &l) < 0) {
		r = 2;
		goto out;
	}
	if (write(fd, "E\n", 2) != 2)
		r = 3;
	nanosleep(&ts, NULL);
	if (write(fd, "L\n", 2) != 2)
		r = 3;
	store_unlock(l);
out:
	if (fd >= 0)
		close(fd);
	store_close(s);
	return r;
}

/* dead-holder: take the lock, say so on fd, die by SIGKILL holding it */
static int child_dead_holder(const char *dir, int fd)
{
	struct store *s = child_store = tu_store_open(dir, STORE_NO_RECONCILE);
	struct store_lock *l;

	if (!s || store_lock_hash(s, HELLO_HASH, 0, &l) < 0)
		return 2;
	child_lock = l;
	if (write(fd, "L", 1) != 1)
		return 3;
	raise(SIGKILL);
	return 3;
}

static void test_locks(void)
{
	char *dir = tu_path(base, "locks");
	struct store *s = tu_store_open(dir, STORE_CREATE);
	char log[sizeof(base) + 16], line[64], fdarg[16];
	int i, fds[2], nok, depth, max_depth;
	struct store_lock *l, *l2;
	pid_t pids[4], pid;
	double t0;
	FILE *f;
	char c;

	if (!s) {
		ok(0, "open");
		free(dir);
		return;
	}
	is_int(store_lock_hash(s, "nothex", 1, &l), -EINVAL, "lock: bad hash");
	is_int(store_lock_hash(s, HELLO_HASH, -1, &l), -EINVAL, "lock: negative timeout");

	/* 4 processes, each with its own store handle, log when they hold */
	snprintf(log, sizeof(log), "%s/locks.log", base);
	for (i = 0; i < 4; i++)
		pids[i] = spawn(-1, "lock-hold", dir, log, NULL);
	nok = 0;
	for (i = 0; i < 4; i++)
		nok += exited_ok(tu_wait_child(pids[i]));
	is_int(nok, 4, "4 processes got the lock");
	f = fopen(log, "r");
	for (i = 0, depth = 0, max_depth = 0; f && fgets(line, sizeof(line), f); i++) {
		depth += line[0] == 'E' ? 1 : -1;
		if (depth > max_depth)
			max_depth = depth;
	}
	if (f)
		fclose(f);
	ok(i == 8 && max_depth == 1, "never two holders at once (processes): %d lines", i);

	/* a dead holder's lock is free at once */
	if (pipe2(fds, O_CLOEXEC) < 0)
		abort();
	snprintf(fdarg, sizeof(fdarg), "%d", fds[1]);
	pid = spawn(fds[1], "dead-holder", dir, fdarg, NULL);
	close(fds[1]);
	ok(read(fds[0], &c, 1) == 1, "child took the lock");
	close(fds[0]);
	ok(killed(tu_wait_child(pid)), "and died");
	t0 = tu_now_s();
	is_int(store_lock_hash(s, HELLO_HASH, 0, &l), 0, "dead holder's lock is free");
	ok(tu_now_s() - t0 < 0.1, "at once");

	/* timeouts: a second holder in this process waits and gives up */
	t0 = tu_now_s();
	is_int(store_lock_hash(s, HELLO_HASH, 0, &l2), -ETIMEDOUT, "timeout 0: try once");
	ok(tu_now_s() - t0 < 0.05, "timeout 0 does not wait");
	t0 = tu_now_s();
	is_int(store_lock_hash(s, HELLO_HASH, 0.3, &l2), -ETIMEDOUT, "held: -ETIMEDOUT");
	ok(tu_now_s() - t0 >= 0.29 && tu_now_s() - t0 < 1.0, "after the timeout (%.3f s)",
		tu_now_s() - t0);
	is_int(store_lock_hash(s, OTHER_HASH, 0, &l2), 0, "another hash is independent");
	store_unlock(l2);
	store_unlock(l);
	store_unlock(NULL);
	is_int(store_lock_hash(s, HELLO_HASH, 0, &l), 0, "free again after unlock");
	store_unlock(l);
	ok(exists(dir, "locks/" HELLO_HASH ".lock"), "lock files stay");
	store_close(s);
	free(dir);
}

/*
 * Tests that start threads run after every fork(): a child would inherit
 * glibc's cache of dead threads' stacks, which valgrind reports as possibly
 * lost in the child.
 */
static void test_lock_threads(void)
{
	char *dir = tu_path(base, "lock-threads");
	struct store *s = tu_store_open(dir, STORE_CREATE);
	struct lock_arg arg = { s, 1.0 };
	pthread_t t[8];
	double t0;
	int i;

	if (!s) {
		ok(0, "open");
		free(dir);
		return;
	}
	/* 8 threads, 1 s each */
	t0 = tu_now_s();
	for (i = 0; i < 8; i++)
		pthread_create(&t[i], NULL, lock_thread, &arg);
	for (i = 0; i < 8; i++)
		pthread_join(t[i], NULL);
	is_int(atomic_load(&lock_ok), 8, "8 threads got the lock");
	is_int(atomic_load(&max_holders), 1, "never two holders at once (threads)");
	ok(tu_now_s() - t0 >= 7.9, "the holds were serial (%.2f s)", tu_now_s() - t0);
	store_close(s);
	free(dir);
}

/* readers, writers and flushes across map resizes */
struct stress {
	struct store *s;
	int id;
	atomic_int *stop;
	atomic_int *errors;
};

static void *stress_reader(void *p)
{
	struct stress *a = p;
	struct store_info info;
	int r;

	while (!atomic_load(a->stop)) {
		r = store_lookup(a->s, HELLO_HASH, &info);
		if (r < 0 || info.state != STORE_INSTALLED)
			atomic_fetch_add(a->errors, 1);
		if (r == 0)
			store_info_release(&info);
		store_touch(a->s, HELLO_HASH);
	}
	return NULL;
}

static void *stress_writer(void *p)
{
	struct stress *a = p;
	struct store_info info = { .state = STORE_INSTALLED, .bytes = 1 };
	uint8_t h[STORE_HASH_LEN] = { 0 };
	char url[128];
	int i;

	memset(url, 'w', sizeof(url) - 1);
	url[sizeof(url) - 1] = '\0';
	info.source = url;
	h[0] = (uint8_t)(0x80 + a->id);
	for (i = 0; i < 800; i++) {
		h[1] = (uint8_t)(i >> 8);
		h[2] = (uint8_t)i;
		if (store_idx_set(a->s, h, &info, 0) < 0)
			atomic_fetch_add(a->errors, 1);
		if (i % 100 == 0 && store_flush_access(a->s) < 0)
			atomic_fetch_add(a->errors, 1);
	}
	return NULL;
}

static void test_concurrency(void)
{
	char *dir = tu_path(base, "concurrency");
	struct store_info info = { .state = STORE_INSTALLED };
	atomic_int stop = 0, errors = 0;
	struct stress args[6];
	struct store_stats st;
	uint8_t h[STORE_HASH_LEN];
	struct store *s;
	pthread_t t[6];
	MDB_envinfo ei;
	int i;

	setenv("ARTIFACTFS_TEST_MAPSIZE", "65536", 1);
	s = tu_store_open(dir, STORE_CREATE);
	unsetenv("ARTIFACTFS_TEST_MAPSIZE");
	if (!s) {
		ok(0, "open");
		free(dir);
		return;
	}
	store_hash_parse(HELLO_HASH, h);
	store_idx_set(s, h, &info, 0);
	for (i = 0; i < 6; i++) {
		args[i] = (struct stress){ s, i, &stop, &errors };
		pthread_create(&t[i], NULL, i < 4 ? stress_reader : stress_writer, &args[i]);
	}
	pthread_join(t[4], NULL);
	pthread_join(t[5], NULL);
	atomic_store(&stop, 1);
	for (i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	is_int(atomic_load(&errors), 0, "4 readers, 2 writers: no error (%s)", store_errmsg(s));
	mdb_env_info(s->env, &ei);
	ok(ei.me_mapsize > 65536, "the map grew under them (%zu)", ei.me_mapsize);
	i = store_stats(s, &st);
	ok(i == 0 && st.artifacts == 1601, "all rows there (%ju)", (uintmax_t)st.artifacts);
	store_close(s);
	free(dir);
}

/* ---- map growth, access times -------------------------------------------------- */

/* grow: 3000 rows with a long source, from another process */
static int child_grow(const char *dir)
{
	struct store *s = tu_store_open(dir, STORE_NO_RECONCILE);
	struct store_info info = { .state = STORE_INSTALLED };
	uint8_t h[STORE_HASH_LEN] = { 0 };
	char url[200];
	int i, r = !s;

	memset(url, 'u', sizeof(url) - 1);
	url[sizeof(url) - 1] = '\0';
	info.source = url;
	h[2] = 1;
	for (i = 0; i < 3000 && r == 0; i++) {
		h[0] = (uint8_t)(i >> 8);
		h[1] = (uint8_t)i;
		r = store_idx_set(s, h, &info, 0);
	}
	store_close(s);
	return r == 0 ? 0 : 1;
}

static void test_mapsize(void)
{
	char *dir = tu_path(base, "mapsize");
	char hex[STORE_HASH_HEX + 1], url[200];
	uint8_t h[STORE_HASH_LEN] = { 0 };
	struct store_info info = { .state = STORE_INSTALLED, .bytes = 1 };
	struct store_stats st;
	MDB_envinfo ei;
	struct store *s;
	int i, r = 0, found = 0;

	setenv("ARTIFACTFS_TEST_MAPSIZE", "65536", 1);
	s = tu_store_open(dir, STORE_CREATE);
	unsetenv("ARTIFACTFS_TEST_MAPSIZE");
	if (!s) {
		ok(0, "open");
		free(dir);
		return;
	}
	mdb_env_info(s->env, &ei);
	ok(ei.me_mapsize <= 65536, "tiny map: %zu bytes", ei.me_mapsize);
	for (i = 0; i < 5000 && r == 0; i++) {
		h[0] = (uint8_t)(i >> 8);
		h[1] = (uint8_t)i;
		snprintf(url, sizeof(url), "https://example.org/long/path/artifact-%06d.tar.gz", i);
		info.source = url;
		r = store_idx_set(s, h, &info, 1);
	}
	is_int(r, 0, "5000 rows written (%s)", store_errmsg(s));
	mdb_env_info(s->env, &ei);
	ok(ei.me_mapsize >= 4 * 65536, "the map grew to %zu bytes", ei.me_mapsize);
	for (i = 0; i < 5000; i += 7) {
		h[0] = (uint8_t)(i >> 8);
		h[1] = (uint8_t)i;
		hash_to_hex(h, STORE_HASH_LEN, hex);
		if (store_lookup(s, hex, &info) == 0) {
			snprintf(url, sizeof(url), "https://example.org/long/path/artifact-%06d.tar.gz",
				i);
			found += info.source && strcmp(info.source, url) == 0;
			store_info_release(&info);
		}
	}
	is_int(found, (5000 + 6) / 7, "rows read back");
	r = store_stats(s, &st);
	ok(r == 0 && st.artifacts == 5000 && st.bytes == 5000 && st.installs == 5000,
		"counters follow (%ju)", (uintmax_t)st.artifacts);
	store_close(s);
	s = tu_store_open(dir, STORE_NO_RECONCILE);
	if (s) {
		mdb_env_info(s->env, &ei);
		ok(ei.me_mapsize >= 4 * 65536, "the grown size persists (%zu)", ei.me_mapsize);
		store_close(s);
	}
	free(dir);

	/* another process grows the map: we see MDB_MAP_RESIZED and adopt its size */
	dir = tu_path(base, "resized");
	setenv("ARTIFACTFS_TEST_MAPSIZE", "65536", 1);
	s = tu_store_open(dir, STORE_CREATE);
	unsetenv("ARTIFACTFS_TEST_MAPSIZE");
	if (!s) {
		ok(0, "open");
		free(dir);
		return;
	}
	h[0] = h[1] = 0;
	h[2] = 1;
	info.source = NULL;
	store_idx_set(s, h, &info, 0);
	r = tu_wait_child(spawn(-1, "grow", dir, NULL));
	ok(exited_ok(r), "a child wrote 3000 rows");
	h[0] = 0x0b;
	h[1] = 0xb7;	/* row 2999 */
	h[2] = 1;
	hash_to_hex(h, STORE_HASH_LEN, hex);
	r = store_lookup(s, hex, &info);
	ok(r == 0 && info.source && strlen(info.source) == 199,
		"we read its last row after adopting the new map size (%d)", r);
	if (r == 0)
		store_info_release(&info);
	mdb_env_info(s->env, &ei);
	ok(ei.me_mapsize > 65536, "our map follows (%zu)", ei.me_mapsize);
	h[0] = 0xff;
	info.source = NULL;
	is_int(store_idx_set(s, h, &info, 0), 0, "and we write again");
	store_close(s);
	free(dir);
}

static void test_access(void)
{
	char *dir = tu_path(base, "access");
	struct store *s = tu_store_open(dir, STORE_CREATE);
	struct store_info info = { .state = STORE_INSTALLED, .last_access = 1000 };
	uint8_t h[STORE_HASH_LEN];
	int64_t t0 = time(NULL);
	int i;

	if (!s) {
		ok(0, "open");
		free(dir);
		return;
	}
	store_hash_parse(HELLO_HASH, h);
	store_idx_set(s, h, &info, 0);
	for (i = 0; i < 100; i++)
		store_touch(s, HELLO_HASH);
	store_touch(s, ABSENT_HASH);
	store_touch(s, "junk");
	ok(store_lookup(s, HELLO_HASH, &info) == 0 && info.last_access == 1000,
		"touch without flush: row unchanged");
	is_int(store_flush_access(s), 0, "flush");
	ok(store_lookup(s, HELLO_HASH, &info) == 0 && info.last_access >= t0,
		"flush wrote the time");
	is_int(store_lookup(s, ABSENT_HASH, &info), -ENOENT, "touch makes no row");
	is_int(store_flush_access(s), 0, "empty flush");
	/* many hashes: the table grows */
	for (i = 0; i < 3000; i++) {
		char hex[STORE_HASH_HEX + 1];

		memset(h, 0, sizeof(h));
		h[0] = (uint8_t)(i >> 8);
		h[1] = (uint8_t)i;
		h[19] = 1;
		hash_to_hex(h, STORE_HASH_LEN, hex);
		store_touch(s, hex);
	}
	ok(s->access_used == 3000, "3000 pending times (%zu)", s->access_used);
	is_int(store_flush_access(s), 0, "flush 3000");
	/* store_close flushes */
	info.last_access = 1000;
	store_hash_parse(HELLO_HASH, h);
	store_idx_set(s, h, &info, 0);
	store_touch(s, HELLO_HASH);
	store_close(s);
	s = tu_store_open(dir, STORE_NO_RECONCILE);	/* the row has no tree */
	ok(s && store_lookup(s, HELLO_HASH, &info) == 0 && info.last_access >= t0,
		"store_close flushed");
	store_close(s);
	free(dir);
}

/* ---- reconcile -------------------------------------------------------------------- */

/* make_tree - artifacts/<name> with foo = content, by hand (no row). */
static void make_tree(const char *dir, const char *name, const char *content)
{
	char path[PATH_MAX];
	int fd;

	snprintf(path, sizeof(path), "%s/artifacts/%s", dir, name);
	mkdir(path, 0755);
	fd = open(path, O_RDONLY | O_DIRECTORY);
	put_file(fd, "foo", content, 0644);
	close(fd);
}

/* commit finds artifacts/<hash> without a row: a dead winner's tree, or a squatter */
static void test_lost_race(void)
{
	char *dir = tu_path(base, "lost-race"), path[PATH_MAX + 64];
	struct store *s = tu_store_open(dir, STORE_CREATE);
	struct store_info info = { .source = NULL };	/* lookups leave it alone on failure */
	struct store_install *in;
	struct store_stats st;
	int r;

	if (!s) {
		ok(0, "open");
		free(dir);
		return;
	}
	make_tree(dir, HELLO_HASH, "Hello, world!");
	r = store_install_begin(s, HELLO_HASH, &in);
	if (r == 0) {
		put_file(store_install_dirfd(in), "foo", "Hello, world!", 0644);
		r = store_install_commit(in, NULL);
	}
	is_int(r, 0, "commit over a complete tree without a row returns 0");
	ok(store_lookup(s, HELLO_HASH, &info) == 0 && info.state == STORE_INSTALLED &&
			info.bytes == 13,
		"that tree was verified and indexed");
	store_info_release(&info);
	is_int(tu_count_entries(dir, "tmp"), 0, "our tree removed");

	snprintf(path, sizeof(path), "%s/artifacts/%s", dir, OTHER_HASH);
	close(open(path, O_WRONLY | O_CREAT, 0644));
	r = store_install_begin(s, OTHER_HASH, &in);
	if (r == 0) {
		put_file(store_install_dirfd(in), "foo1", "Hello", 0644);
		put_file(store_install_dirfd(in), "foo2", "world!", 0644);
		r = store_install_commit(in, NULL);
	}
	is_int(r, 0, "commit over a file squatting the name (%s)", store_errmsg(s));
	ok(store_lookup(s, OTHER_HASH, &info) == 0 && info.state == STORE_INSTALLED,
		"our tree installed");
	store_info_release(&info);
	ok(tu_count_entries(dir, "quarantine") == 1 && tu_count_entries(dir, "tmp") == 0,
		"the squatter is in quarantine/");
	is_str(store_errmsg(s), "", "no error message left behind");
	ok(store_stats(s, &st) == 0 && st.installs == 1 && st.artifacts == 2,
		"one install counted, two artifacts");
	store_close(s);
	free(dir);
}

/*
 * live-install: lock ABSENT_HASH, begin its install, say so on readyfd,
 * wait for EOF on gofd, then die by SIGKILL holding both
 */
static int child_live_install(const char *dir, int readyfd, int gofd)
{
	struct store *s = child_store = tu_store_open(dir, STORE_NO_RECONCILE);
	struct pollfd pfd = { .events = POLLIN };
	static struct store_install *in;	/* reachable, as child_store */
	struct store_lock *l;
	char c;

	if (!s || store_lock_hash(s, ABSENT_HASH, 0, &l) < 0)
		return 2;
	child_lock = l;
	if (store_install_begin(s, ABSENT_HASH, &in) < 0 || write(readyfd, "R", 1) != 1)
		return 2;
	pfd.fd = gofd;
	poll(&pfd, 1, 60000);	/* EOF when the parent closes; never hang a test run */
	if (read(gofd, &c, 1) < 0)
		return 3;
	raise(SIGKILL);
	return 4;
}

static void test_reconcile(void)
{
	char *dir = tu_path(base, "reconcile"), path[PATH_MAX];
	struct store *s = tu_store_open(dir, STORE_CREATE);
	struct store_reconcile_report rep;
	struct store_info info = { .state = STORE_INSTALLED };
	struct store_install *live;
	uint8_t h[STORE_HASH_LEN];
	char readyarg[16], goarg[16], c;
	int go[2], ready[2], r;
	pid_t pid;

	if (!s) {
		ok(0, "open");
		free(dir);
		return;
	}
	/* a dead install's leftover, and a live child's install */
	snprintf(path, sizeof(path), "%s/tmp/%s.dead", dir, OTHER_HASH);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/tmp/%s.dead/sub", dir, OTHER_HASH);
	mkdir(path, 0500);
	snprintf(path, sizeof(path), "%s/tmp/unrelated", dir);
	mkdir(path, 0755);
	if (pipe2(go, O_CLOEXEC) < 0 || pipe2(ready, O_CLOEXEC) < 0)
		abort();
	/* the child keeps go[0] (spawn's keep) and ready[1] (inheritable for this spawn) */
	snprintf(goarg, sizeof(goarg), "%d", go[0]);
	snprintf(readyarg, sizeof(readyarg), "%d", ready[1]);
	fcntl(ready[1], F_SETFD, 0);	/* closed below, before any other spawn */
	pid = spawn(go[0], "live-install", dir, readyarg, goarg, NULL);
	close(go[0]);
	close(ready[1]);
	ok(read(ready[0], &c, 1) == 1, "child is installing");
	close(ready[0]);
	/* a live install of this process that did not take the hash lock */
	r = store_install_begin(s, HELLO_HASH, &live);

	/* a row without a tree, a good tree and a bad tree without rows */
	store_hash_parse("00000000000000000000000000000000000000aa", h);
	store_idx_set(s, h, &info, 0);
	make_tree(dir, HELLO_HASH, "Hello, world!");
	make_tree(dir, OTHER_HASH, "not what the hash says");

	is_int(store_reconcile(s, 0, &rep), 0, "reconcile (%s)", store_errmsg(s));
	is_int(rep.tmp_removed, 1, "dead leftover removed");
	is_int(tu_count_entries(dir, "tmp"), 3, "live installs and unknown names kept");
	ok(r == 0 && access(store_install_path(live), F_OK) == 0, "unlocked live install kept");
	is_int(rep.rows_dropped, 1, "row without a tree dropped");
	is_int(store_lookup(s, "00000000000000000000000000000000000000aa", &info), -ENOENT,
		"its row is gone");
	/* HELLO_HASH is locked by nobody, but our own live install... holds its flock only */
	is_int(rep.trees_indexed, 1, "tree with the right hash indexed");
	ok(store_lookup(s, HELLO_HASH, &info) == 0 && info.state == STORE_INSTALLED &&
			info.bytes == 13 && info.files == 1,
		"its row: installed, 13 bytes, 1 file");
	store_info_release(&info);
	is_int(rep.trees_quarantined, 1, "tree with a wrong hash quarantined");
	ok(!exists(dir, "artifacts/" OTHER_HASH) && tu_count_entries(dir, "quarantine") == 1,
		"moved to quarantine/");
	ok(store_lookup(s, OTHER_HASH, &info) == 0 && info.state == STORE_QUARANTINED,
		"row marked quarantined");
	store_info_release(&info);

	close(go[1]);
	ok(killed(tu_wait_child(pid)), "child died holding its lock and flock");
	is_int(store_reconcile(s, 0, &rep), 0, "reconcile again");
	is_int(rep.tmp_removed, 1, "the dead child's tree removed");
	is_int(rep.trees_indexed + rep.trees_quarantined + rep.rows_dropped, 0,
		"nothing else to do");
	if (r == 0)
		store_install_abort(live);
	is_int(tu_count_entries(dir, "tmp"), 1, "only the unknown name left");

	/* verify, and STORE_VERIFY_ALL */
	is_int(store_verify(s, HELLO_HASH, false), 0, "verify: ok");
	is_int(store_verify(s, ABSENT_HASH, true), -ENOENT, "verify: absent");
	is_int(store_verify(s, "xyz", true), -EINVAL, "verify: bad hash");
	snprintf(path, sizeof(path), "%s/artifacts/%s/foo", dir, HELLO_HASH);
	chmod(path, 0644);
	truncate(path, 5);
	is_int(store_reconcile(s, 0, &rep), 0, "reconcile without VERIFY_ALL");
	is_int(rep.trees_quarantined, 0, "does not re-hash indexed trees");
	is_int(store_verify(s, HELLO_HASH, false), -EBADMSG, "verify: mismatch");
	ok(exists(dir, "artifacts/" HELLO_HASH), "left in place without quarantine");
	is_int(store_reconcile(s, STORE_VERIFY_ALL, &rep), 0, "reconcile with VERIFY_ALL");
	is_int(rep.trees_quarantined, 1, "the corrupt tree quarantined");
	ok(!exists(dir, "artifacts/" HELLO_HASH) && tu_count_entries(dir, "quarantine") == 2,
		"moved to quarantine/");
	store_close(s);
	free(dir);
}

/* ---- crash points ----------------------------------------------------------------- */

/* crash: install tree_hash with ARTIFACTFS_CRASH_AT=point; the point kills us */
static int child_crash(const char *dir, const char *point, const char *hash)
{
	struct store_lock *l;
	struct store *s;

	setenv("ARTIFACTFS_CRASH_AT", point, 1);
	s = child_store = tu_store_open(dir, STORE_CREATE);
	if (!s || store_lock_hash(s, hash, 10, &l) < 0)
		return 2;
	child_lock = l;
	install(s, hash, "https://example.org/crash.tar.gz");
	store_unlock(l);
	store_close(s);
	return 0;	/* the crash point did not fire */
}

static int crash_child(const char *dir, const char *point)
{
	return killed(tu_wait_child(spawn(-1, "crash", dir, point, tree_hash, NULL)));
}

/* consistent - artifacts/<hash> absent without a row, or complete with one. */
static int consistent(struct store *s, const char *dir, bool *installed)
{
	struct store_info info;
	int r = store_lookup(s, tree_hash, &info);
	char rel[128];

	snprintf(rel, sizeof(rel), "artifacts/%s", tree_hash);
	*installed = r == 0;
	if (r == -ENOENT)
		return !exists(dir, rel) && tu_count_entries(dir, "tmp") == 0;
	store_info_release(&info);
	return r == 0 && info.state == STORE_INSTALLED && store_verify(s, tree_hash, false) == 0 &&
	       tu_count_entries(dir, "tmp") == 0;
}

static void test_crash(void)
{
	static const struct {
		const char *point;
		bool installed;
	} points[] = {
		{ "install-begin", false },
		{ "before-rename", false },
		{ "after-rename", true },
	};
	struct store *s;
	bool installed;
	size_t i;
	char *dir;

	for (i = 0; i < sizeof(points) / sizeof(points[0]); i++) {
		dir = tu_path(base, points[i].point);
		ok(crash_child(dir, points[i].point), "child killed at %s", points[i].point);
		s = tu_store_open(dir, 0);
		ok(s && consistent(s, dir, &installed) && installed == points[i].installed,
			"%s: reopened store is consistent, artifact %s", points[i].point,
			points[i].installed ? "installed" : "absent");
		store_close(s);
		free(dir);
	}

	/* killed in the middle of reconciling an after-rename crash */
	dir = tu_path(base, "reconcile-crash");
	ok(crash_child(dir, "after-rename"), "child killed at after-rename");
	ok(crash_child(dir, "reconcile"), "next opener killed while reconciling");
	s = tu_store_open(dir, 0);
	ok(s && consistent(s, dir, &installed) && installed, "reconcile: consistent, installed");
	store_close(s);
	free(dir);
}

/* ---- syscall faults ----------------------------------------------------------------- */

static void test_faults(void)
{
	char *dir = tu_path(base, "faults");
	struct store *s;
	struct store_install *in;
	struct store_info info;
	static const char *const calls[] = { "renameat", "syncfs", "fsync", "fchmod" };
	size_t i;
	int r;

	is_int(store_fault_set("nosuchcall", 1, EIO), -EINVAL, "fault: unknown syscall");
	unsetenv("ARTIFACTFS_UNSAFE_NO_FSYNC");
	s = tu_store_open(dir, STORE_CREATE);
	if (!s) {
		ok(0, "open");
		free(dir);
		return;
	}
	for (i = 0; i < sizeof(calls) / sizeof(calls[0]); i++) {
		store_clear_error(s);
		store_fault_set(calls[i], 1, ENOSPC);
		r = install(s, tree_hash, NULL);
		store_fault_clear();
		is_int(r, -ENOSPC, "ENOSPC at %s: commit fails (%s)", calls[i], store_errmsg(s));
		ok(tu_count_entries(dir, "artifacts") == 0 && tu_count_entries(dir, "tmp") == 0,
			"%s: nothing in artifacts/, tmp/ cleaned", calls[i]);
		is_int(store_lookup(s, tree_hash, &info), -ENOENT, "%s: no row", calls[i]);
	}
	store_fault_set("mkdirat", 1, ENOSPC);
	is_int(store_install_begin(s, tree_hash, &in), -ENOSPC, "ENOSPC at mkdirat: begin fails");
	store_fault_set("openat", 1, EMFILE);
	is_int(store_install_begin(s, tree_hash, &in), -EMFILE, "EMFILE at openat: begin fails");
	ok(tu_count_entries(dir, "tmp") == 0, "begin failures leave nothing");
	store_fault_set("renameat", 2, EIO);
	is_int(install(s, tree_hash, NULL), 0, "a fault on the 2nd call spares the 1st");
	store_fault_clear();
	store_close(s);
	setenv("ARTIFACTFS_UNSAFE_NO_FSYNC", "1", 1);
	free(dir);
}

/* ---- gc roots ------------------------------------------------------------------------ */

struct roots {
	char paths[4][PATH_MAX];
	int64_t seen[4];
	int n;
};

static int collect_root(const char *path, int64_t last_seen, void *arg)
{
	struct roots *r = arg;

	if (r->n < 4) {
		snprintf(r->paths[r->n], PATH_MAX, "%s", path);
		r->seen[r->n] = last_seen;
	}
	r->n++;
	return 0;
}

static void test_roots(void)
{
	char *dir = tu_path(base, "roots"), cwd[PATH_MAX], want[PATH_MAX * 2], link[PATH_MAX];
	struct store *s = tu_store_open(dir, STORE_CREATE);
	struct roots rs = { .n = 0 };
	int64_t t0 = time(NULL);

	if (!s || !getcwd(cwd, sizeof(cwd))) {
		ok(0, "open");
		free(dir);
		return;
	}
	snprintf(link, sizeof(link), "%s/rootlink", base);
	symlink(dir, link);
	is_int(store_root_add(s, "no/such/./dir/../Artifacts.toml"), 0, "add a relative path");
	is_int(store_root_add(s, link), 0, "add through a symlink");
	is_int(store_root_add(s, link), 0, "add again");
	is_int(store_root_add(s, ""), -EINVAL, "empty path");
	is_int(store_root_foreach(s, collect_root, &rs), 0, "foreach");
	is_int(rs.n, 2, "two roots");
	snprintf(want, sizeof(want), "%s/no/such/Artifacts.toml", cwd);
	ok(rs.n == 2 && ((strcmp(rs.paths[0], want) == 0 && strcmp(rs.paths[1], dir) == 0) ||
				(strcmp(rs.paths[1], want) == 0 && strcmp(rs.paths[0], dir) == 0)),
		"absolute, resolved: %s, %s", rs.paths[0], rs.paths[1]);
	ok(rs.n == 2 && strcmp(rs.paths[0], rs.paths[1]) < 0, "in path order");
	ok(rs.seen[0] >= t0 && rs.seen[1] >= t0, "stamped now");
	is_int(store_root_remove(s, link), 0, "remove");
	is_int(store_root_remove(s, dir), -ENOENT, "remove again: -ENOENT");
	rs.n = 0;
	store_root_foreach(s, collect_root, &rs);
	is_int(rs.n, 1, "one root left");
	store_close(s);
	free(dir);
}

/* child_main - the roles of spawn(); returns the exit status */
static int child_main(int argc, char **argv)
{
	const char *role = argv[0];

	if (strcmp(role, "deep") == 0 && argc == 2)
		return child_deep(argv[1]);
	if (strcmp(role, "lock-hold") == 0 && argc == 3)
		return child_lock_hold(argv[1], argv[2]);
	if (strcmp(role, "dead-holder") == 0 && argc == 3)
		return child_dead_holder(argv[1], atoi(argv[2]));
	if (strcmp(role, "grow") == 0 && argc == 2)
		return child_grow(argv[1]);
	if (strcmp(role, "live-install") == 0 && argc == 4)
		return child_live_install(argv[1], atoi(argv[2]), atoi(argv[3]));
	if (strcmp(role, "crash") == 0 && argc == 4)
		return child_crash(argv[1], argv[2], argv[3]);
	fprintf(stderr, "test-store: bad child role '%s'\n", role);
	return 64;
}

int main(int argc, char **argv)
{
	const char *tmp = getenv("TMPDIR");
	char scratch[PATH_MAX + 16], me[PATH_MAX];
	uint8_t h[STORE_HASH_LEN];
	int fd;

	if (argc > 2 && strcmp(argv[1], "--child") == 0)
		return child_main(argc - 2, argv + 2);
	if (tu_find_self(argv[0], me) < 0)
		return 1;
	self = me;

	snprintf(base, sizeof(base), "%s/artifactfs-store.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(base)) {
		printf("Bail out! mkdtemp: %s\n", strerror(errno));
		return 1;
	}
	/* fsync costs time and proves nothing here, except in test_faults */
	setenv("ARTIFACTFS_UNSAFE_NO_FSYNC", "1", 1);
	snprintf(scratch, sizeof(scratch), "%s/scratch", base);
	mkdir(scratch, 0755);
	fd = open(scratch, O_RDONLY | O_DIRECTORY);
	if (build_tree(fd, NULL) < 0 || fchmodat(fd, "foo", 0555, 0) < 0 ||
	    fchmodat(fd, "d", 0775, 0) < 0 || tree_hash_dir(scratch, 0, h, NULL) < 0) {
		printf("Bail out! cannot build the sample tree\n");
		return 1;
	}
	close(fd);
	hash_to_hex(h, STORE_HASH_LEN, tree_hash);
	diag("sample tree %s", tree_hash);

	test_open();
	test_install();
	test_symlinks();
	test_deep_remove();
	test_locks();
	test_mapsize();
	test_access();
	test_reconcile();
	test_lost_race();
	test_crash();
	test_faults();
	test_roots();
	test_errmsg();
	test_lock_threads();
	test_concurrency();

	if (!getenv("ARTIFACTFS_KEEP"))
		store_rmtree(AT_FDCWD, base);
	return tap_done();
}
