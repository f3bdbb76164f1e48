/*
 * test-store.c - unit tests of store/: layout, index, single flight,
 * installs, faults, map growth and gc roots (reconcile and crash points:
 * test-reconcile.c)
 *
 * The test directory, the sample tree and the child roles (this program
 * run again as "test-store --child ROLE ARGS"): tests/unit/store-fixture.h.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif

#include "tests/tap.h"
#include "tests/unit/store-fixture.h"
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

/* ---- layout, open, close ---------------------------------------------------- */

static void test_open(void)
{
	char *dir = tu_path(sf_base, "open"), real[PATH_MAX], path[PATH_MAX * 2];
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
	ok(sf_exists(dir, "artifacts") && sf_exists(dir, "tmp") && sf_exists(dir, "quarantine") &&
			sf_exists(dir, "index/data.mdb") && sf_exists(dir, "locks/store.lock"),
		"layout created");
	r = store_path(s, SF_HELLO_HASH, path, sizeof(path));
	ok(r > 0 && strcmp(path + strlen(real), "/artifacts/" SF_HELLO_HASH) == 0, "store_path");
	is_int(store_path(s, SF_HELLO_HASH, path, 10), -ENAMETOOLONG, "store_path: short buffer");
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

		is_int(store_install_begin(s, SF_HELLO_HASH, &in), -EROFS, "read-only: no install");
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

	store_verify(s, SF_ABSENT_HASH, false);	/* no message for -ENOENT */
	store_lookup(s, SF_ABSENT_HASH, &info);
	store_root_remove(s, "/no/such/root");
	m = store_errmsg(s);
	return (void *)(uintptr_t)(fresh && strstr(m, "not a gc root") != NULL);
}

/*
 * Whether S (opened in DIR) is open; if not, reports the failure and frees DIR,
 * and the caller returns.
 */
static bool sf_opened(struct store *s, char *dir)
{
	if (s)
		return true;
	ok(0, "open");
	free(dir);
	return false;
}

static void test_errmsg(void)
{
	char *dir = tu_path(sf_base, "errmsg");
	struct store *s = tu_store_open(dir, STORE_CREATE);
	struct store_install *in;
	pthread_t t;
	void *res = NULL;

	if (!sf_opened(s, dir))
		return;
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

/* the mode that install gives the path SUB below a tree */
struct sf_mode_case {
	const char *sub;
	mode_t mode;
	const char *what;
};

static void test_install(void)
{
	char *dir = tu_path(sf_base, "install"), last[STORE_HASH_HEX + 1] = "";
	struct store *s = tu_store_open(dir, STORE_CREATE);
	struct store_install *a, *b;
	struct store_stats st;
	struct store_info info;
	char rel[128];
	int64_t t0 = time(NULL);
	static const struct sf_mode_case modes[] = {
		{"foo", 0555, "file: read-only, setuid gone"},
		{"d", 0775, "dir: writable, setgid gone"},
		{"d/bar", 0444, "group-writable file: 0444"},
	};
	size_t i;
	mode_t m;
	int r;

	if (!sf_opened(s, dir))
		return;
	is_int(store_lookup(s, SF_ABSENT_HASH, &info), -ENOENT, "lookup: absent");
	is_int(store_lookup(s, "0123", &info), -EINVAL, "lookup: short hash");
	is_int(store_lookup(s, "339AAD93C0F854604248EA3B7C5B7EDEA20625A9", &info), -EINVAL,
		"lookup: uppercase hash");

	r = sf_install(s, sf_tree_hash, "https://example.org/a.tar.gz");
	is_int(r, 0, "install begin/build/commit");
	for (i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		snprintf(rel, sizeof(rel), "artifacts/%s/%s", sf_tree_hash, modes[i].sub);
		r = sf_mode_of(dir, rel, &m);
		ok(r == 0 && (m & 07777) == modes[i].mode, "%s (%o)", modes[i].what, m & 07777);
	}
	snprintf(rel, sizeof(rel), "artifacts/%s/link", sf_tree_hash);
	r = sf_mode_of(dir, rel, &m);
	ok(r == 0 && S_ISLNK(m), "symlink kept");
	is_int(tu_count_entries(dir, "tmp"), 0, "tmp/ empty after commit");
	is_int(store_verify(s, sf_tree_hash, false), 0, "installed tree verifies");

	r = store_lookup(s, sf_tree_hash, &info);
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
	r = store_install_begin(s, SF_HELLO_HASH, &a);
	is_int(r, 0, "begin A");
	r = store_install_begin(s, SF_HELLO_HASH, &b);
	is_int(r, 0, "begin B");
	if (a && b) {
		ok(strcmp(store_install_path(a), store_install_path(b)) != 0 &&
				strncmp(store_install_path(a), dir, 0) == 0,
			"distinct tmp paths: %s", store_install_path(a));
		sf_put_file(store_install_dirfd(a), "foo", "Hello, world!", 0644);
		sf_put_file(store_install_dirfd(b), "foo", "Hello, world!", 0644);
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
	r = store_install_begin(s, SF_OTHER_HASH, &a);
	if (r == 0) {
		sf_build_tree(store_install_dirfd(a), NULL);
		store_install_abort(a);
	}
	store_install_abort(NULL);
	ok(r == 0 && tu_count_entries(dir, "tmp") == 0 && !sf_exists(dir, "artifacts/" SF_OTHER_HASH),
		"abort removes the tree");
	is_int(store_lookup(s, SF_OTHER_HASH, &info), -ENOENT, "abort: no row");

	/* invalid meta */
	r = store_install_begin(s, SF_OTHER_HASH, &a);
	if (r == 0) {
		struct store_install_meta meta = { 0, 0, NULL, "xyz" };

		is_int(store_install_commit(a, &meta), -EINVAL, "commit: bad sha256");
		ok(tu_count_entries(dir, "tmp") == 0 && !sf_exists(dir, "artifacts/" SF_OTHER_HASH),
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
	char *dir = tu_path(sf_base, "symlinks"), outside[PATH_MAX], path[PATH_MAX + 16];
	struct store *s = tu_store_open(dir, STORE_CREATE);
	struct store_install *in;
	mode_t m;
	int fd, r;

	snprintf(outside, sizeof(outside), "%s/outside", sf_base);
	mkdir(outside, 0755);
	fd = open(outside, O_RDONLY | O_DIRECTORY);
	sf_put_file(fd, "victim", "keep me", 0644);
	close(fd);
	snprintf(path, sizeof(path), "%s/victim", outside);
	if (!s || store_install_begin(s, SF_OTHER_HASH, &in) < 0) {
		ok(0, "begin");
		goto out;
	}
	sf_build_tree(store_install_dirfd(in), path);
	symlinkat(outside, store_install_dirfd(in), "dirlink");
	is_int(store_install_commit(in, NULL), 0, "commit a tree with outward symlinks");
	r = sf_mode_of(sf_base, "outside/victim", &m);
	ok(r == 0 && (m & 07777) == 0644,
		"symlink target not chmod'ed (%o)", m & 07777);

	if (store_install_begin(s, SF_ABSENT_HASH, &in) < 0) {
		ok(0, "begin");
		goto out;
	}
	sf_build_tree(store_install_dirfd(in), path);
	symlinkat(outside, store_install_dirfd(in), "dirlink");
	store_install_abort(in);
	ok(sf_exists(sf_base, "outside/victim") && tu_count_entries(dir, "tmp") == 0,
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
	if (!s || store_install_begin(s, SF_HELLO_HASH, &in) < 0)
		return 2;
	fd = dup(store_install_dirfd(in));
	for (i = 0; i < 300 && r == 0; i++) {
		if (mkdirat(fd, "d", 0755) < 0 || sf_put_file(fd, "f", "x", 0444) < 0)
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
	char *dir = tu_path(sf_base, "deep");
	struct store *s = tu_store_open(dir, STORE_CREATE);
	int st;

	store_close(s);
	st = tu_wait_child(sf_spawn(-1, "deep", dir, NULL));
	ok(sf_exited_ok(st), "300 levels removed with 32 descriptors (%d)",
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

	if (store_lock_hash(a->s, SF_HELLO_HASH, 60, &l) < 0)
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
	if (!s || fd < 0 || store_lock_hash(s, SF_HELLO_HASH, 60, &l) < 0) {
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
	struct store *s = sf_child_store = tu_store_open(dir, STORE_NO_RECONCILE);
	struct store_lock *l;

	if (!s || store_lock_hash(s, SF_HELLO_HASH, 0, &l) < 0)
		return 2;
	sf_child_lock = l;
	if (write(fd, "L", 1) != 1)
		return 3;
	raise(SIGKILL);
	return 3;
}

static void test_locks(void)
{
	char *dir = tu_path(sf_base, "locks");
	struct store *s = tu_store_open(dir, STORE_CREATE);
	char log[sizeof(sf_base) + 16], line[64], fdarg[16];
	int i, fds[2], nok, depth, max_depth;
	struct store_lock *l, *l2;
	pid_t pids[4], pid;
	double t0;
	FILE *f;
	char c;

	if (!sf_opened(s, dir))
		return;
	is_int(store_lock_hash(s, "nothex", 1, &l), -EINVAL, "lock: bad hash");
	is_int(store_lock_hash(s, SF_HELLO_HASH, -1, &l), -EINVAL, "lock: negative timeout");

	/* 4 processes, each with its own store handle, log when they hold */
	snprintf(log, sizeof(log), "%s/locks.log", sf_base);
	for (i = 0; i < 4; i++)
		pids[i] = sf_spawn(-1, "lock-hold", dir, log, NULL);
	nok = 0;
	for (i = 0; i < 4; i++)
		nok += sf_exited_ok(tu_wait_child(pids[i]));
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
	pid = sf_spawn(fds[1], "dead-holder", dir, fdarg, NULL);
	close(fds[1]);
	ok(read(fds[0], &c, 1) == 1, "child took the lock");
	close(fds[0]);
	ok(sf_killed(tu_wait_child(pid)), "and died");
	t0 = tu_now_s();
	is_int(store_lock_hash(s, SF_HELLO_HASH, 0, &l), 0, "dead holder's lock is free");
	ok(tu_now_s() - t0 < 0.1, "at once");

	/* timeouts: a second holder in this process waits and gives up */
	t0 = tu_now_s();
	is_int(store_lock_hash(s, SF_HELLO_HASH, 0, &l2), -ETIMEDOUT, "timeout 0: try once");
	ok(tu_now_s() - t0 < 0.05, "timeout 0 does not wait");
	t0 = tu_now_s();
	is_int(store_lock_hash(s, SF_HELLO_HASH, 0.3, &l2), -ETIMEDOUT, "held: -ETIMEDOUT");
	ok(tu_now_s() - t0 >= 0.29 && tu_now_s() - t0 < 1.0, "after the timeout (%.3f s)",
		tu_now_s() - t0);
	is_int(store_lock_hash(s, SF_OTHER_HASH, 0, &l2), 0, "another hash is independent");
	store_unlock(l2);
	store_unlock(l);
	store_unlock(NULL);
	is_int(store_lock_hash(s, SF_HELLO_HASH, 0, &l), 0, "free again after unlock");
	store_unlock(l);
	ok(sf_exists(dir, "locks/" SF_HELLO_HASH ".lock"), "lock files stay");
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
	char *dir = tu_path(sf_base, "lock-threads");
	struct store *s = tu_store_open(dir, STORE_CREATE);
	struct lock_arg arg = { s, 1.0 };
	pthread_t t[8];
	double t0;
	int i;

	if (!sf_opened(s, dir))
		return;
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
		r = store_lookup(a->s, SF_HELLO_HASH, &info);
		if (r < 0 || info.state != STORE_INSTALLED)
			atomic_fetch_add(a->errors, 1);
		if (r == 0)
			store_info_release(&info);
		store_touch(a->s, SF_HELLO_HASH);
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
	char *dir = tu_path(sf_base, "concurrency");
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
	if (!sf_opened(s, dir))
		return;
	store_hash_parse(SF_HELLO_HASH, h);
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
	char *dir = tu_path(sf_base, "mapsize");
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
	if (!sf_opened(s, dir))
		return;
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
	dir = tu_path(sf_base, "resized");
	setenv("ARTIFACTFS_TEST_MAPSIZE", "65536", 1);
	s = tu_store_open(dir, STORE_CREATE);
	unsetenv("ARTIFACTFS_TEST_MAPSIZE");
	if (!sf_opened(s, dir))
		return;
	h[0] = h[1] = 0;
	h[2] = 1;
	info.source = NULL;
	store_idx_set(s, h, &info, 0);
	r = tu_wait_child(sf_spawn(-1, "grow", dir, NULL));
	ok(sf_exited_ok(r), "a child wrote 3000 rows");
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
	char *dir = tu_path(sf_base, "access");
	struct store *s = tu_store_open(dir, STORE_CREATE);
	struct store_info info = { .state = STORE_INSTALLED, .last_access = 1000 };
	uint8_t h[STORE_HASH_LEN];
	int64_t t0 = time(NULL);
	int i;

	if (!sf_opened(s, dir))
		return;
	store_hash_parse(SF_HELLO_HASH, h);
	store_idx_set(s, h, &info, 0);
	for (i = 0; i < 100; i++)
		store_touch(s, SF_HELLO_HASH);
	store_touch(s, SF_ABSENT_HASH);
	store_touch(s, "junk");
	ok(store_lookup(s, SF_HELLO_HASH, &info) == 0 && info.last_access == 1000,
		"touch without flush: row unchanged");
	is_int(store_flush_access(s), 0, "flush");
	ok(store_lookup(s, SF_HELLO_HASH, &info) == 0 && info.last_access >= t0,
		"flush wrote the time");
	is_int(store_lookup(s, SF_ABSENT_HASH, &info), -ENOENT, "touch makes no row");
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
	store_hash_parse(SF_HELLO_HASH, h);
	store_idx_set(s, h, &info, 0);
	store_touch(s, SF_HELLO_HASH);
	store_close(s);
	s = tu_store_open(dir, STORE_NO_RECONCILE);	/* the row has no tree */
	ok(s && store_lookup(s, SF_HELLO_HASH, &info) == 0 && info.last_access >= t0,
		"store_close flushed");
	store_close(s);
	free(dir);
}

/* ---- syscall faults ----------------------------------------------------------------- */

static void test_faults(void)
{
	char *dir = tu_path(sf_base, "faults");
	struct store *s;
	struct store_install *in;
	struct store_info info;
	static const char *const calls[] = { "renameat", "syncfs", "fsync", "fchmod" };
	size_t i;
	int r;

	is_int(store_fault_set("nosuchcall", 1, EIO), -EINVAL, "fault: unknown syscall");
	unsetenv("ARTIFACTFS_UNSAFE_NO_FSYNC");
	/* the commit that waits for the disk (the deferred sync: test-reconcile) */
	s = tu_store_open(dir, STORE_CREATE | STORE_SYNC_COMMIT);
	if (!sf_opened(s, dir))
		return;
	for (i = 0; i < sizeof(calls) / sizeof(calls[0]); i++) {
		store_clear_error(s);
		store_fault_set(calls[i], 1, ENOSPC);
		r = sf_install(s, sf_tree_hash, NULL);
		store_fault_clear();
		is_int(r, -ENOSPC, "ENOSPC at %s: commit fails (%s)", calls[i], store_errmsg(s));
		ok(tu_count_entries(dir, "artifacts") == 0 && tu_count_entries(dir, "tmp") == 0,
			"%s: nothing in artifacts/, tmp/ cleaned", calls[i]);
		is_int(store_lookup(s, sf_tree_hash, &info), -ENOENT, "%s: no row", calls[i]);
	}
	store_fault_set("mkdirat", 1, ENOSPC);
	is_int(store_install_begin(s, sf_tree_hash, &in), -ENOSPC, "ENOSPC at mkdirat: begin fails");
	store_fault_set("openat", 1, EMFILE);
	is_int(store_install_begin(s, sf_tree_hash, &in), -EMFILE, "EMFILE at openat: begin fails");
	ok(tu_count_entries(dir, "tmp") == 0, "begin failures leave nothing");
	store_fault_set("renameat", 2, EIO);
	is_int(sf_install(s, sf_tree_hash, NULL), 0, "a fault on the 2nd call spares the 1st");
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
	char *dir = tu_path(sf_base, "roots"), cwd[PATH_MAX], want[PATH_MAX * 2], link[PATH_MAX];
	struct store *s = tu_store_open(dir, STORE_CREATE);
	struct roots rs = { .n = 0 };
	int64_t t0 = time(NULL);

	if (!s || !getcwd(cwd, sizeof(cwd))) {
		ok(0, "open");
		free(dir);
		return;
	}
	snprintf(link, sizeof(link), "%s/rootlink", sf_base);
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

/* child_main - the roles of sf_spawn(); returns the exit status */
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
	fprintf(stderr, "test-store: bad child role '%s'\n", role);
	return 64;
}

int main(int argc, char **argv)
{
	static void (*const tests[])(void) = {
		test_open, test_install, test_symlinks, test_deep_remove, test_locks,
		test_mapsize, test_access, test_faults, test_roots, test_errmsg,
		test_lock_threads, test_concurrency, NULL,
	};

	return sf_main(argc, argv, "artifactfs-store", child_main, tests, tap_done);
}
