/*
 * test-gc.c - unit tests of store/gc.c: use pins, removal, orphan marks,
 * the gc lock, LRU eviction, the tmp/ and quarantine/ sweep, a crash in
 * the middle of a removal and syscall faults at its rename
 *
 * As test-store.c: each test works in its own store under one mkdtemp()
 * directory, and other processes are this program run again in a child
 * role ("test-gc --child ROLE ARGS"), so that each opens its own store and
 * takes its own locks, as a daemon or a second artifactctl would.  Children
 * report through their exit status; only the parent prints TAP.
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
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define ABSENT_HASH "0123456789abcdef0123456789abcdef01234567"

static char base[1024];		/* the test directory */
static const char *self;	/* this program, run again for the child roles */

/* Stores and locks of children that die by SIGKILL, kept reachable for valgrind. */
static struct store *volatile child_store;
static struct store_pin *volatile child_pin;
static struct store_gc_lock *volatile child_gc;
static struct store_lock *volatile child_lock;

/* ---- helpers ------------------------------------------------------------------ */

/*
 * art_hash - the git-tree-sha1 of artifact i: one read-only file "f"
 * holding "artifact <i>\n" (a tree object "100644 f\0<blob id>").
 */
static void art_content(unsigned i, char *buf, size_t size)
{
	snprintf(buf, size, "artifact %u\n", i);
}

static void art_hash(unsigned i, char hex[STORE_HASH_HEX + 1])
{
	char content[64];

	art_content(i, content, sizeof(content));
	tu_one_file_tree(content, hex);
}

/* install_art - install artifact i (under its hash lock); its hash in hex. */
static int install_art(struct store *s, unsigned i, char hex[STORE_HASH_HEX + 1])
{
	char content[64];

	art_content(i, content, sizeof(content));
	return tu_install_file(s, content, "https://example.org/a.tar.gz", 10, hex);
}

static bool tree_exists(const char *dir, const char *hash)
{
	char path[PATH_MAX + 64];
	struct stat st;

	snprintf(path, sizeof(path), "%.*s/artifacts/%.40s", PATH_MAX - 1, dir, hash);
	return lstat(path, &st) == 0;
}

static int put_file(const char *path, const char *content)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, content, strlen(content));
	close(fd);
	return n == (ssize_t)strlen(content) ? 0 : -EIO;
}

static bool exited(int st, int code)
{
	return WIFEXITED(st) && WEXITSTATUS(st) == code;
}

static bool killed(int st)
{
	return WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL;
}

/*
 * spawn - run "self --child role args..." (NULL-terminated); keep1 and
 * keep2 (or -1) are the descriptors that survive the exec.
 */
static pid_t spawn(int keep1, int keep2, const char *role, ...)
{
	va_list ap;
	pid_t pid;

	va_start(ap, role);
	pid = tu_spawn_va(self, keep1, keep2, role, ap);
	va_end(ap);
	return pid;
}

/*
 * A child that holds something until told: it writes "R" on ready when it
 * holds it, then waits for EOF on go (the parent closes its end).
 */
struct holder {
	pid_t pid;
	int ready, go;	/* the parent's ends */
};

static bool holder_start(struct holder *h, const char *role, const char *dir, const char *hash)
{
	int rp[2], gp[2];
	char rfd[16], gfd[16], c;

	if (pipe2(rp, O_CLOEXEC) < 0 || pipe2(gp, O_CLOEXEC) < 0)
		abort();
	snprintf(rfd, sizeof(rfd), "%d", rp[1]);
	snprintf(gfd, sizeof(gfd), "%d", gp[0]);
	h->pid = spawn(rp[1], gp[0], role, dir, hash, rfd, gfd, NULL);
	close(rp[1]);
	close(gp[0]);
	h->ready = rp[0];
	h->go = gp[1];
	return read(h->ready, &c, 1) == 1 && c == 'R';
}

/* holder_stop - release the child (or kill it); its wait status. */
static int holder_stop(struct holder *h, bool kill9)
{
	if (kill9)
		kill(h->pid, SIGKILL);
	close(h->go);
	close(h->ready);
	return tu_wait_child(h->pid);
}

/* child_wait_go - "R" on readyfd, then wait for EOF on gofd (60 s at most). */
static int child_wait_go(int readyfd, int gofd)
{
	struct pollfd pfd = { .fd = gofd, .events = POLLIN };
	char c;

	if (write(readyfd, "R", 1) != 1)
		return 3;
	poll(&pfd, 1, 60000);
	return read(gofd, &c, 1) < 0 ? 3 : 0;
}

/* ---- child roles --------------------------------------------------------------- */

/* pin-hold DIR HASH READY GO: pin HASH until released */
static int child_pin_hold(const char *dir, const char *hash, int readyfd, int gofd)
{
	struct store *s = child_store = tu_store_open(dir, STORE_NO_RECONCILE);
	struct store_pin *p;
	int r;

	if (!s || store_pin(s, hash, &p) < 0)
		return 2;
	child_pin = p;
	r = child_wait_go(readyfd, gofd);
	store_unpin(p);
	store_close(s);
	return r;
}

/* gc-hold DIR - READY GO: the gc lock until released */
static int child_gc_hold(const char *dir, int readyfd, int gofd)
{
	struct store *s = child_store = tu_store_open(dir, STORE_NO_RECONCILE);
	struct store_gc_lock *l;
	int r;

	if (!s || store_gc_lock(s, &l) < 0)
		return 2;
	child_gc = l;
	r = child_wait_go(readyfd, gofd);
	store_gc_unlock(l);
	store_close(s);
	return r;
}

/* install-hold DIR HASH READY GO: an install in flight (lock, tmp/ tree) */
static int child_install_hold(const char *dir, const char *hash, int readyfd, int gofd)
{
	struct store *s = child_store = tu_store_open(dir, STORE_NO_RECONCILE);
	static struct store_install *in;	/* reachable, as child_store */
	struct store_lock *l;
	int r;

	if (!s || store_lock_hash(s, hash, 0, &l) < 0)
		return 2;
	child_lock = l;
	if (store_install_begin(s, hash, &in) < 0)
		return 2;
	r = child_wait_go(readyfd, gofd);
	store_install_abort(in);
	store_unlock(l);
	store_close(s);
	return r;
}

/* remove DIR HASH: exit 0 removed, 10 -EBUSY, 11 -ENOENT, 12 other */
static int child_remove(const char *dir, const char *hash)
{
	struct store *s = tu_store_open(dir, STORE_NO_RECONCILE);
	int r;

	if (!s)
		return 2;
	r = store_remove(s, hash, NULL);
	store_close(s);
	return r == 0 ? 0 : r == -EBUSY ? 10 : r == -ENOENT ? 11 : 12;
}

/* gc-try DIR: exit 0 when the gc lock was taken, 10 on -EBUSY */
static int child_gc_try(const char *dir)
{
	struct store *s = tu_store_open(dir, STORE_NO_RECONCILE);
	struct store_gc_lock *l;
	int r;

	if (!s)
		return 2;
	r = store_gc_lock(s, &l);
	store_gc_unlock(r == 0 ? l : NULL);
	store_close(s);
	return r == 0 ? 0 : r == -EBUSY ? 10 : 12;
}

/* crash-remove DIR HASH: store_remove with ARTIFACTFS_CRASH_AT=gc-after-rename */
static int child_crash_remove(const char *dir, const char *hash)
{
	struct store *s;

	setenv("ARTIFACTFS_CRASH_AT", "gc-after-rename", 1);
	s = child_store = tu_store_open(dir, STORE_NO_RECONCILE);
	if (!s)
		return 2;
	store_remove(s, hash, NULL);
	store_close(s);
	return 0;	/* the crash point did not fire */
}

/* ---- pins and removal ------------------------------------------------------------ */

static void test_pin_remove(void)
{
	char *dir = tu_path(base, "pin");
	struct store *s = tu_store_open(dir, STORE_CREATE);
	char a[STORE_HASH_HEX + 1], b[STORE_HASH_HEX + 1];
	struct store_pin *p1, *p2, *p3;
	struct store_stats st;
	struct store_lock *l;
	uint64_t freed = 0;

	if (!s || install_art(s, 1, a) < 0 || install_art(s, 2, b) < 0) {
		ok(0, "pin: setup");
		store_close(s);
		free(dir);
		return;
	}
	is_int(store_pin(s, "nothex", &p1), -EINVAL, "pin: malformed hash");
	is_int(store_remove(s, "nothex", NULL), -EINVAL, "remove: malformed hash");
	is_int(store_pin(s, a, &p1), 0, "pin");
	is_int(store_pin(s, a, &p2), 0, "a second pin (shared)");
	is_int(store_remove(s, a, &freed), -EBUSY, "remove of a pinned artifact: -EBUSY");
	ok(tree_exists(dir, a) && tu_installed(s, a), "the pinned artifact is intact");
	store_unpin(p1);
	is_int(store_remove(s, a, NULL), -EBUSY, "still pinned by the second pin");
	store_unpin(p2);
	store_unpin(NULL);

	/* pins and the install lock are independent bytes of one file */
	is_int(store_lock_hash(s, b, 0, &l), 0, "install lock of b");
	is_int(store_pin(s, b, &p3), 0, "a pin while the install lock is held");
	store_unlock(l);
	is_int(store_lock_hash(s, b, 0, &l), 0, "the install lock while a pin is held");
	store_unlock(l);
	store_unpin(p3);

	is_int(store_remove(s, a, &freed), 0, "remove once unpinned");
	is_int(freed, strlen("artifact 1\n"), "freed: the row's bytes");
	ok(!tree_exists(dir, a) && !tu_installed(s, a), "tree and row gone");
	is_int(tu_count_entries(dir, "tmp"), 0, "tmp/ empty after the removal");
	is_int(store_stats(s, &st), 0, "stats");
	ok(st.artifacts == 1 && st.bytes == strlen("artifact 2\n"),
		"counters follow (%" PRIu64 " artifacts, %" PRIu64 " bytes)", st.artifacts,
		st.bytes);
	is_int(store_remove(s, a, NULL), -ENOENT, "remove again: -ENOENT");
	is_int(store_remove(s, ABSENT_HASH, NULL), -ENOENT, "remove of an absent hash: -ENOENT");
	is_int(store_pin(s, ABSENT_HASH, &p1), 0, "a pin does not look at the index");
	store_unpin(p1);
	ok(tree_exists(dir, b) && tu_installed(s, b), "the other artifact is untouched");
	is_int(install_art(s, 1, a), 0, "reinstall after removal");
	ok(tree_exists(dir, a) && tu_installed(s, a), "reinstalled");
	store_close(s);

	s = tu_store_open(dir, STORE_RDONLY);
	ok(s && store_pin(s, a, &p1) == 0, "pin on a read-only store");
	if (s && p1)
		store_unpin(p1);
	is_int(s ? store_remove(s, a, NULL) : 0, -EROFS, "remove on a read-only store: -EROFS");
	store_close(s);
	free(dir);
}

static void test_pin_processes(void)
{
	char *dir = tu_path(base, "pin-proc");
	struct store *s = tu_store_open(dir, STORE_CREATE);
	char a[STORE_HASH_HEX + 1];
	struct holder h;
	double t0;
	int st;

	if (!s || install_art(s, 1, a) < 0) {
		ok(0, "pin-proc: setup");
		store_close(s);
		free(dir);
		return;
	}
	ok(holder_start(&h, "pin-hold", dir, a), "another process pins the artifact");
	is_int(store_remove(s, a, NULL), -EBUSY, "remove while another process pins: -EBUSY");
	st = tu_wait_child(spawn(-1, -1, "remove", dir, a, NULL));
	ok(exited(st, 10), "a third process cannot remove it either");
	ok(tree_exists(dir, a) && tu_installed(s, a), "intact");
	ok(exited(holder_stop(&h, false), 0), "the pinning process unpins and exits");
	is_int(store_remove(s, a, NULL), 0, "then the removal succeeds");

	is_int(install_art(s, 1, a), 0, "reinstall");
	ok(holder_start(&h, "pin-hold", dir, a), "pinned again by another process");
	is_int(store_remove(s, a, NULL), -EBUSY, "-EBUSY");
	ok(killed(holder_stop(&h, true)), "the pinning process dies by SIGKILL");
	t0 = tu_now_s();
	is_int(store_remove(s, a, NULL), 0, "a dead process's pin is gone at once");
	ok(tu_now_s() - t0 < 0.5, "without waiting");

	/* remove from another process */
	is_int(install_art(s, 1, a), 0, "reinstall");
	st = tu_wait_child(spawn(-1, -1, "remove", dir, a, NULL));
	ok(exited(st, 0), "another process removes it");
	ok(!tree_exists(dir, a) && !tu_installed(s, a), "gone for this process too");
	store_close(s);
	free(dir);
}

static void test_remove_installing(void)
{
	char *dir = tu_path(base, "installing");
	struct store *s = tu_store_open(dir, STORE_CREATE);
	char a[STORE_HASH_HEX + 1];
	struct store_lock *l;
	struct holder h;
	uint64_t freed;

	if (!s || install_art(s, 1, a) < 0) {
		ok(0, "installing: setup");
		store_close(s);
		free(dir);
		return;
	}
	is_int(store_lock_hash(s, a, 0, &l), 0, "the install lock is held (an installer)");
	is_int(store_remove(s, a, NULL), -EBUSY, "remove of an installing hash: -EBUSY");
	store_unlock(l);
	ok(tree_exists(dir, a) && tu_installed(s, a), "intact");

	/* an install in flight in another process: its tmp/ tree is never swept */
	ok(holder_start(&h, "install-hold", dir, a), "another process has an install in flight");
	is_int(store_remove(s, a, NULL), -EBUSY, "remove during its install: -EBUSY");
	is_int(store_tmp_sweep(s, 0, &freed), 0, "tmp sweep leaves the live install alone");
	is_int(tu_count_entries(dir, "tmp"), 1, "its tmp/ tree is still there");
	ok(exited(holder_stop(&h, false), 0), "the installer finishes");
	is_int(store_remove(s, a, NULL), 0, "then the removal succeeds");
	store_close(s);
	free(dir);
}

static void test_remove_many(void)
{
	char *dir = tu_path(base, "many");
	struct store *s = tu_store_open(dir, STORE_CREATE);
	char hex[150][STORE_HASH_HEX + 1];
	const char *hs[152];
	uint64_t freed[152], sum = 0;
	struct store_stats st;
	struct store_pin *p;
	struct store_lock *l;
	int res[152], r, i, bad = 0;

	for (i = 0; s && i < 150; i++)
		if (install_art(s, (unsigned)i, hex[i]) < 0)
			bad++;
	if (!s || bad) {
		ok(0, "many: setup");
		store_close(s);
		free(dir);
		return;
	}
	for (i = 0; i < 150; i++)
		hs[i] = hex[i];
	hs[150] = "nothex";
	hs[151] = ABSENT_HASH;
	is_int(store_pin(s, hex[3], &p), 0, "pin #3");
	is_int(store_lock_hash(s, hex[70], 0, &l), 0, "install lock of #70");
	r = store_remove_many(s, hs, 152, res, freed);
	is_int(r, 148, "150 artifacts in 3 batches: 148 removed");
	is_int(res[3], -EBUSY, "#3 pinned: -EBUSY");
	is_int(res[70], -EBUSY, "#70 installing: -EBUSY");
	is_int(res[150], -EINVAL, "malformed: -EINVAL");
	is_int(res[151], -ENOENT, "absent: -ENOENT");
	for (i = 0; i < 150; i++) {
		if (i != 3 && i != 70 && (res[i] != 0 || tree_exists(dir, hex[i])))
			bad++;
		sum += freed[i];
	}
	is_int(bad, 0, "the others removed, trees gone");
	is_int(freed[3] + freed[70], 0, "nothing freed for the busy ones");
	r = store_stats(s, &st);
	ok(r == 0 && st.artifacts == 2, "2 artifacts left (%" PRIu64 ")", st.artifacts);
	ok(sum > 0 && tree_exists(dir, hex[3]) && tree_exists(dir, hex[70]), "busy ones intact");
	is_int(tu_count_entries(dir, "tmp"), 0, "tmp/ empty");
	store_unpin(p);
	store_unlock(l);
	is_int(store_remove_many(s, NULL, 1, NULL, NULL), -EINVAL, "NULL hashes: -EINVAL");
	is_int(store_remove_many(s, hs, 0, NULL, NULL), 0, "nothing to remove");
	store_close(s);
	free(dir);
}

static void test_row_without_tree(void)
{
	char *dir = tu_path(base, "rowonly"), path[PATH_MAX];
	struct store *s = tu_store_open(dir, STORE_CREATE);
	char a[STORE_HASH_HEX + 1];

	if (!s || install_art(s, 1, a) < 0) {
		ok(0, "rowonly: setup");
		store_close(s);
		free(dir);
		return;
	}
	snprintf(path, sizeof(path), "%s/artifacts/%s", dir, a);
	store_rmtree(AT_FDCWD, path);
	is_int(store_remove(s, a, NULL), -ENOENT, "a row whose tree is gone: -ENOENT");
	ok(!tu_installed(s, a), "and the row is dropped");
	store_close(s);
	free(dir);
}

/* A tree removed by hand: only its row goes, and only while it is missing. */
static void test_drop_missing(void)
{
	char *dir = tu_path(base, "dropmissing"), path[PATH_MAX];
	struct store *s = tu_store_open(dir, STORE_CREATE);
	char a[STORE_HASH_HEX + 1];
	struct store_lock *l;

	if (!s || install_art(s, 1, a) < 0) {
		ok(0, "dropmissing: setup");
		store_close(s);
		free(dir);
		return;
	}
	is_int(store_drop_missing(s, a), 0, "a tree that is there: nothing dropped");
	ok(tree_exists(dir, a) && tu_installed(s, a), "tree and row intact");
	snprintf(path, sizeof(path), "%s/artifacts/%s", dir, a);
	store_rmtree(AT_FDCWD, path);
	is_int(store_lock_hash(s, a, 0, &l), 0, "an installer holds the lock");
	is_int(store_drop_missing(s, a), -EBUSY, "while it installs: -EBUSY");
	ok(tu_installed(s, a), "and the row stays");
	store_unlock(l);
	is_int(store_drop_missing(s, a), 1, "a missing tree: its row is dropped");
	ok(!tu_installed(s, a), "the row is gone");
	is_int(store_drop_missing(s, a), 0, "no row: nothing to drop");
	is_int(store_drop_missing(s, "xyz"), -EINVAL, "a malformed hash: -EINVAL");
	store_close(s);
	free(dir);
}

/* ---- orphan marks -------------------------------------------------------------------- */

static void test_orphaned(void)
{
	char *dir = tu_path(base, "orphaned");
	struct store *s = tu_store_open(dir, STORE_CREATE);
	char a[STORE_HASH_HEX + 1], b[STORE_HASH_HEX + 1];
	const char *hs[3];
	struct store_info info = { 0 }, before = { 0 };
	struct store_stats st0, st1;

	if (!s || install_art(s, 1, a) < 0 || install_art(s, 2, b) < 0 ||
	    store_lookup(s, a, &before) < 0) {
		ok(0, "orphaned: setup");
		store_close(s);
		free(dir);
		return;
	}
	store_stats(s, &st0);
	is_int(before.orphaned, 0, "a new artifact is not orphaned");
	is_int(store_set_orphaned(s, a, 1000), 0, "mark orphaned at 1000");
	is_int(store_set_orphaned(s, a, 2000), 0, "mark again at 2000");
	is_int(store_lookup(s, a, &info), 0, "lookup");
	is_int(info.orphaned, 1000, "the first time is kept");
	ok(info.bytes == before.bytes && info.files == before.files &&
		   info.installed == before.installed && info.source && before.source &&
		   strcmp(info.source, before.source) == 0,
		"the rest of the row is unchanged");
	store_info_release(&info);
	store_stats(s, &st1);
	ok(st0.artifacts == st1.artifacts && st0.bytes == st1.bytes, "counters unchanged");
	store_close(s);

	s = tu_store_open(dir, 0);
	ok(s && store_lookup(s, a, &info) == 0 && info.orphaned == 1000,
		"kept across close and open");
	store_info_release(&info);
	is_int(store_set_orphaned(s, a, 0), 0, "clear (rooted again)");
	ok(store_lookup(s, a, &info) == 0 && info.orphaned == 0, "cleared");
	store_info_release(&info);
	is_int(store_set_orphaned(s, ABSENT_HASH, 5), -ENOENT, "no row: -ENOENT");
	is_int(store_set_orphaned(s, "nothex", 5), -EINVAL, "malformed hash: -EINVAL");
	is_int(store_set_orphaned(s, a, -1), -EINVAL, "negative time: -EINVAL");

	hs[0] = a;
	hs[1] = b;
	hs[2] = ABSENT_HASH;
	is_int(store_set_orphaned(s, b, 1500), 0, "b orphaned at 1500");
	is_int(store_set_orphaned_many(s, hs, 3, 3000), 1, "many: one row changed (b kept)");
	ok(store_lookup(s, a, &info) == 0 && info.orphaned == 3000, "a marked at 3000");
	store_info_release(&info);
	ok(store_lookup(s, b, &info) == 0 && info.orphaned == 1500, "b kept 1500");
	store_info_release(&info);
	is_int(store_set_orphaned_many(s, hs, 3, 0), 2, "many: both cleared");
	is_int(store_set_orphaned_many(s, hs, 0, 0), 0, "many: nothing");
	store_close(s);
	store_info_release(&before);

	s = tu_store_open(dir, STORE_RDONLY);
	is_int(s ? store_set_orphaned(s, a, 1) : 0, -EROFS, "read-only store: -EROFS");
	store_close(s);
	free(dir);
}

/* ---- the gc lock ------------------------------------------------------------------------ */

static void test_gc_lock(void)
{
	char *dir = tu_path(base, "gclock");
	struct store *s = tu_store_open(dir, STORE_CREATE), *ro;
	struct store_gc_lock *l1, *l2;
	struct holder h;
	double t0;

	if (!s) {
		ok(0, "gclock: setup");
		free(dir);
		return;
	}
	is_int(store_gc_lock(s, &l1), 0, "take the gc lock");
	is_int(store_gc_lock(s, &l2), -EBUSY, "a second one in this process: -EBUSY");
	ok(exited(tu_wait_child(spawn(-1, -1, "gc-try", dir, NULL)), 10),
		"another process: -EBUSY");
	store_gc_unlock(l1);
	store_gc_unlock(NULL);
	ok(exited(tu_wait_child(spawn(-1, -1, "gc-try", dir, NULL)), 0),
		"free again once released");

	ok(holder_start(&h, "gc-hold", dir, "-"), "another process holds the gc lock");
	is_int(store_gc_lock(s, &l1), -EBUSY, "-EBUSY here");
	ok(*store_errmsg(s) != '\0', "with a message: %s", store_errmsg(s));
	store_clear_error(s);
	ok(killed(holder_stop(&h, true)), "the holder dies by SIGKILL");
	t0 = tu_now_s();
	is_int(store_gc_lock(s, &l1), 0, "its lock is free at once");
	ok(tu_now_s() - t0 < 0.5, "without waiting");
	store_gc_unlock(l1);
	store_close(s);
	ro = tu_store_open(dir, STORE_RDONLY);
	is_int(ro ? store_gc_lock(ro, &l1) : 0, -EROFS, "read-only store: -EROFS");
	store_close(ro);
	free(dir);
}

/* ---- LRU eviction ------------------------------------------------------------------------- */

/* set_access - give hash the last_access t (through the index directly). */
static int set_access(struct store *s, const char *hash, int64_t t)
{
	uint8_t h[STORE_HASH_LEN];
	struct store_info info;
	int r;

	r = store_lookup(s, hash, &info);
	if (r < 0)
		return r;
	info.last_access = t;
	store_hash_parse(hash, h);
	r = store_idx_set(s, h, &info, 0);
	store_info_release(&info);
	return r;
}

static bool veto(const char *hash, void *arg)
{
	return strcmp(hash, arg) == 0;
}

static void test_evict(void)
{
	char *dir = tu_path(base, "evict"), *edir = tu_path(base, "evict-empty");
	struct store *s = tu_store_open(dir, STORE_CREATE);
	struct store *empty = tu_store_open(edir, STORE_CREATE);
	static const int64_t when[5] = { 20, 40, 10, 50, 30 };	/* A B C D E */
	char h[5][STORE_HASH_HEX + 1];
	uint64_t freed, each;
	struct store_pin *p;
	unsigned removed, i, bad = 0;
	int r;

	r = empty ? store_evict_lru(empty, 0, NULL, NULL, &freed, &removed) : -1;
	ok(r == 0 && removed == 0 && freed == 0, "an empty store is at any target");
	store_close(empty);
	free(edir);
	for (i = 0; s && i < 5; i++)
		if (install_art(s, i + 10, h[i]) < 0 || set_access(s, h[i], when[i]) < 0)
			bad++;
	if (!s || bad) {
		ok(0, "evict: setup");
		store_close(s);
		free(dir);
		return;
	}
	each = strlen("artifact 10\n");	/* every one has that size */
	r = store_evict_lru(s, 5 * each, NULL, NULL, &freed, &removed);
	ok(r == 0 && removed == 0 && freed == 0, "at the target already: nothing goes");
	r = store_evict_lru(s, 3 * each + 1, NULL, NULL, &freed, &removed);
	ok(r == 0 && removed == 2 && freed == 2 * each, "down to the target: 2 removed");
	ok(!tu_installed(s, h[2]) && !tu_installed(s, h[0]), "the two least recently used (C, A)");
	ok(tu_installed(s, h[1]) && tu_installed(s, h[3]) && tu_installed(s, h[4]), "B, D, E stay");

	/* E pinned, B vetoed: only D can go, and the target is out of reach */
	is_int(store_pin(s, h[4], &p), 0, "pin E");
	r = store_evict_lru(s, 0, veto, h[1], &freed, &removed);
	is_int(r, -ENOSPC, "target 0 with the rest pinned or vetoed: -ENOSPC");
	ok(removed == 1 && !tu_installed(s, h[3]), "D went (removed %u)", removed);
	ok(tu_installed(s, h[1]) && tu_installed(s, h[4]), "the vetoed and the pinned stay");
	store_unpin(p);
	r = store_evict_lru(s, each, NULL, NULL, &freed, &removed);
	ok(r == 0 && removed == 1 && !tu_installed(s, h[4]) && tu_installed(s, h[1]),
		"unpinned: E (older than B) goes, B stays");
	ok(tree_exists(dir, h[1]) && !tree_exists(dir, h[4]), "trees follow the rows");
	store_close(s);
	free(dir);
}

/* ---- tmp/ and quarantine/ --------------------------------------------------------------- */

static void test_tmp_sweep(void)
{
	char *dir = tu_path(base, "sweep"), path[PATH_MAX * 2], a[STORE_HASH_HEX + 1];
	struct store *s = tu_store_open(dir, STORE_CREATE), *ro;
	int64_t now = time(NULL);
	struct store_install *in;
	struct store_pin *p;
	struct store_lock *l;
	uint64_t freed = 0;

	if (!s) {
		ok(0, "sweep: setup");
		free(dir);
		return;
	}
	art_hash(1, a);
	/* a dead install's leftover, with 10 bytes in it, and a live install */
	snprintf(path, sizeof(path), "%s/tmp/%s.dead", dir, ABSENT_HASH);
	mkdir(path, 0700);
	snprintf(path, sizeof(path), "%s/tmp/%s.dead/file", dir, ABSENT_HASH);
	put_file(path, "0123456789");
	is_int(store_lock_hash(s, a, 0, &l), 0, "a live installer holds its lock");
	is_int(store_install_begin(s, a, &in), 0, "and has its tmp/ tree");
	snprintf(path, sizeof(path), "%s/tmp/junk", dir);
	mkdir(path, 0700);
	/* quarantined trees 100 s and 10 s old, and a file that is not one */
	snprintf(path, sizeof(path), "%s/quarantine/%s.%" PRId64, dir, a, now - 100);
	mkdir(path, 0700);
	snprintf(path, sizeof(path), "%s/quarantine/%s.%" PRId64 ".1", dir, a, now - 10);
	mkdir(path, 0700);
	snprintf(path, sizeof(path), "%s/quarantine/%s.%" PRId64 ".1/x", dir, a, now - 10);
	put_file(path, "12345");
	snprintf(path, sizeof(path), "%s/quarantine/notes.txt", dir);
	put_file(path, "keep me");

	ro = tu_store_open(dir, STORE_RDONLY);
	is_int(ro ? store_tmp_sweep(ro, 50, &freed) : -1, 2,
		"read-only store: a dry run counts the dead leftover and the old tree");
	is_int(freed, 10, "and their bytes");
	store_close(ro);
	is_int(tu_count_entries(dir, "tmp") + tu_count_entries(dir, "quarantine"), 6,
		"the dry run removed nothing");

	is_int(store_tmp_sweep(s, -1, NULL), -EINVAL, "negative age: -EINVAL");
	is_int(store_tmp_sweep(s, 50, &freed), 2, "sweep: the dead leftover and the old tree");
	is_int(freed, 10, "freed their bytes");
	is_int(tu_count_entries(dir, "tmp"), 2, "the live install and junk stay in tmp/");
	is_int(tu_count_entries(dir, "quarantine"), 2, "the young tree and notes.txt stay");
	is_int(store_tmp_sweep(s, 0, &freed), 1, "min_age 0: the young tree goes too");
	is_int(freed, 5, "its bytes");
	store_install_abort(in);
	store_unlock(l);

	/* a pin (byte 1) does not keep a dead leftover: only the install lock does */
	snprintf(path, sizeof(path), "%s/tmp/%s.left", dir, a);
	mkdir(path, 0700);
	is_int(store_pin(s, a, &p), 0, "pin the leftover's hash");
	is_int(store_tmp_sweep(s, 0, NULL), 1, "the leftover goes all the same");
	store_unpin(p);
	is_int(tu_count_entries(dir, "tmp"), 1, "only junk is left in tmp/");
	store_close(s);
	free(dir);
}

/* reconcile's tmp/ removal keys on the install lock (byte 0), not on pins */
static void test_reconcile_keys(void)
{
	char *dir = tu_path(base, "rec-keys"), path[PATH_MAX * 2];
	struct store *s = tu_store_open(dir, STORE_CREATE);
	struct store_reconcile_report rep;
	struct store_lock *l;
	struct store_pin *p;

	if (!s) {
		ok(0, "rec-keys: setup");
		free(dir);
		return;
	}
	snprintf(path, sizeof(path), "%s/tmp/%s.x", dir, ABSENT_HASH);
	mkdir(path, 0700);
	is_int(store_lock_hash(s, ABSENT_HASH, 0, &l), 0, "hold the install lock");
	ok(store_reconcile(s, 0, &rep) == 0 && rep.tmp_removed == 0,
		"reconcile keeps a tmp/ entry whose install lock is held");
	store_unlock(l);
	is_int(store_pin(s, ABSENT_HASH, &p), 0, "hold a pin instead");
	ok(store_reconcile(s, 0, &rep) == 0 && rep.tmp_removed == 1,
		"reconcile removes it: a pin is not an install");
	store_unpin(p);
	store_close(s);
	free(dir);
}

/* ---- crashes and faults ------------------------------------------------------------------ */

static void test_crash(void)
{
	char *dir = tu_path(base, "crash");
	struct store *s = tu_store_open(dir, STORE_CREATE);
	char a[STORE_HASH_HEX + 1], b[STORE_HASH_HEX + 1];
	struct store_reconcile_report rep;
	struct store_stats st;

	if (!s || install_art(s, 1, a) < 0 || install_art(s, 2, b) < 0) {
		ok(0, "crash: setup");
		store_close(s);
		free(dir);
		return;
	}
	store_close(s);
	ok(killed(tu_wait_child(spawn(-1, -1, "crash-remove", dir, a, NULL))),
		"a removal killed at gc-after-rename");
	ok(!tree_exists(dir, a), "the tree left artifacts/ (the commit point)");
	is_int(tu_count_entries(dir, "tmp"), 1, "a tmp/ leftover");
	s = tu_store_open(dir, STORE_NO_RECONCILE);
	ok(s && store_reconcile(s, 0, &rep) == 0 && rep.tmp_removed == 1 && rep.rows_dropped == 1,
		"the next open reconciles: leftover removed, row dropped");
	ok(s && !tu_installed(s, a) && tu_installed(s, b),
		"the artifact is gone, the other one stays");
	ok(s && store_verify(s, b, false) == 0, "the other one verifies");
	ok(s && store_stats(s, &st) == 0 && st.artifacts == 1, "counters consistent");
	is_int(tu_count_entries(dir, "tmp"), 0, "tmp/ empty");
	is_int(s ? install_art(s, 1, a) : -1, 0, "the removed artifact installs again");
	store_close(s);
	free(dir);
}

static void test_faults(void)
{
	static const int errs[] = { ENOSPC, EIO };
	char *dir = tu_path(base, "faults");
	struct store *s = tu_store_open(dir, STORE_CREATE);
	char a[STORE_HASH_HEX + 1];
	size_t i;
	int r;

	if (!s || install_art(s, 1, a) < 0) {
		ok(0, "faults: setup");
		store_close(s);
		free(dir);
		return;
	}
	for (i = 0; i < sizeof(errs) / sizeof(errs[0]); i++) {
		store_clear_error(s);
		store_fault_set("renameat", 1, errs[i]);
		r = store_remove(s, a, NULL);
		store_fault_clear();
		is_int(r, -errs[i], "%s at the rename: the removal fails (%s)", strerror(errs[i]),
			store_errmsg(s));
		ok(tree_exists(dir, a) && tu_installed(s, a) && store_verify(s, a, false) == 0,
			"%s: the artifact is intact and verifies", strerror(errs[i]));
		is_int(tu_count_entries(dir, "tmp"), 0, "%s: nothing left in tmp/",
			strerror(errs[i]));
	}
	/* a failure while deleting the renamed tree: removed all the same */
	store_fault_set("unlinkat", 1, EIO);
	r = store_remove(s, a, NULL);
	store_fault_clear();
	is_int(r, 0, "EIO while deleting the tree: removed all the same");
	ok(!tree_exists(dir, a) && !tu_installed(s, a), "gone from artifacts/ and the index");
	is_int(tu_count_entries(dir, "tmp"), 1, "a tmp/ leftover");
	is_int(store_tmp_sweep(s, 0, NULL), 1, "which the sweep removes");
	store_close(s);
	free(dir);
}

/* ---- threads: a pin that saw the artifact keeps it ------------------------------------- */

struct race {
	struct store *s;
	const char *dir;
	char hash[STORE_HASH_HEX + 1];
	atomic_int stop, held, violations, removals;
};

/*
 * A pinner that then finds the row must find the tree until it unpins:
 * removal takes the use lock before its rename and keeps it until the row
 * is gone, so a pin either precedes the whole removal or follows it.
 */
static void *pinner(void *arg)
{
	struct race *rc = arg;
	struct timespec hold = { 0, 100000 }, idle = { 0, 300000 };
	struct store_pin *p;

	while (!atomic_load(&rc->stop)) {
		if (store_pin(rc->s, rc->hash, &p) < 0)
			continue;
		if (tu_installed(rc->s, rc->hash)) {
			atomic_fetch_add(&rc->held, 1);
			nanosleep(&hold, NULL);
			if (!tree_exists(rc->dir, rc->hash))
				atomic_fetch_add(&rc->violations, 1);
		}
		store_unpin(p);
		nanosleep(&idle, NULL);	/* let removals in */
	}
	return NULL;
}

static void *remover(void *arg)
{
	struct race *rc = arg;
	char hex[STORE_HASH_HEX + 1];

	while (!atomic_load(&rc->stop)) {
		if (store_remove(rc->s, rc->hash, NULL) == 0) {
			atomic_fetch_add(&rc->removals, 1);
			install_art(rc->s, 1, hex);
		}
	}
	return NULL;
}

static void test_race(void)
{
	char *dir = tu_path(base, "race");
	struct store *s = tu_store_open(dir, STORE_CREATE);
	struct timespec ts = { 1, 0 };
	struct race rc = { .s = s, .dir = dir };
	pthread_t t[3];
	int i;

	if (!s || install_art(s, 1, rc.hash) < 0) {
		ok(0, "race: setup");
		store_close(s);
		free(dir);
		return;
	}
	for (i = 0; i < 2; i++)
		pthread_create(&t[i], NULL, pinner, &rc);
	pthread_create(&t[2], NULL, remover, &rc);
	nanosleep(&ts, NULL);
	atomic_store(&rc.stop, 1);
	for (i = 0; i < 3; i++)
		pthread_join(t[i], NULL);
	diag("race: %d pins saw the artifact, %d removals", atomic_load(&rc.held),
		atomic_load(&rc.removals));
	ok(atomic_load(&rc.held) > 0 && atomic_load(&rc.removals) > 0, "both sides ran");
	is_int(atomic_load(&rc.violations), 0, "no tree vanished under a pin");
	store_close(s);
	free(dir);
}

/* ---- main ------------------------------------------------------------------------------ */

static int child_main(int argc, char **argv)
{
	const char *role = argv[0];

	if (strcmp(role, "pin-hold") == 0 && argc == 5)
		return child_pin_hold(argv[1], argv[2], atoi(argv[3]), atoi(argv[4]));
	if (strcmp(role, "gc-hold") == 0 && argc == 5)
		return child_gc_hold(argv[1], atoi(argv[3]), atoi(argv[4]));
	if (strcmp(role, "install-hold") == 0 && argc == 5)
		return child_install_hold(argv[1], argv[2], atoi(argv[3]), atoi(argv[4]));
	if (strcmp(role, "remove") == 0 && argc == 3)
		return child_remove(argv[1], argv[2]);
	if (strcmp(role, "gc-try") == 0 && argc == 2)
		return child_gc_try(argv[1]);
	if (strcmp(role, "crash-remove") == 0 && argc == 3)
		return child_crash_remove(argv[1], argv[2]);
	fprintf(stderr, "test-gc: bad child role '%s'\n", role);
	return 64;
}

int main(int argc, char **argv)
{
	const char *tmp = getenv("TMPDIR");
	char me[PATH_MAX];

	if (argc > 2 && strcmp(argv[1], "--child") == 0)
		return child_main(argc - 2, argv + 2);
	if (tu_find_self(argv[0], me) < 0)
		return 1;
	self = me;
	snprintf(base, sizeof(base), "%s/artifactfs-gc.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(base)) {
		printf("Bail out! mkdtemp: %s\n", strerror(errno));
		return 1;
	}
	/* fsync costs time and proves nothing here */
	setenv("ARTIFACTFS_UNSAFE_NO_FSYNC", "1", 1);
	unsetenv("ARTIFACTFS_CRASH_AT");

	test_pin_remove();
	test_pin_processes();
	test_remove_installing();
	test_remove_many();
	test_row_without_tree();
	test_drop_missing();
	test_orphaned();
	test_gc_lock();
	test_evict();
	test_tmp_sweep();
	test_reconcile_keys();
	test_crash();
	test_faults();
	test_race();	/* threads last: see test-store.c */

	if (!getenv("ARTIFACTFS_KEEP"))
		store_rmtree(AT_FDCWD, base);
	return tap_done();
}
