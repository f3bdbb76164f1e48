/*
 * test-reconcile.c - unit tests of store/reconcile.c and the crash points:
 * what a store finds and repairs after an installer lost a race, died
 * mid-way, or crashed at each named point (the rest of store/:
 * test-store.c)
 *
 * The test directory, the sample tree and the child roles (this program
 * run again as "test-reconcile --child ROLE ARGS"): tests/unit/store-fixture.h.
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

/* ---- reconcile -------------------------------------------------------------------- */

/* make_tree - artifacts/<name> with foo = content, by hand (no row). */
static void make_tree(const char *dir, const char *name, const char *content)
{
	char path[PATH_MAX];
	int fd;

	snprintf(path, sizeof(path), "%s/artifacts/%s", dir, name);
	mkdir(path, 0755);
	fd = open(path, O_RDONLY | O_DIRECTORY);
	sf_put_file(fd, "foo", content, 0644);
	close(fd);
}

/* commit finds artifacts/<hash> without a row: a dead winner's tree, or a squatter */
static void test_lost_race(void)
{
	char *dir = tu_path(sf_base, "lost-race"), path[PATH_MAX + 64];
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
	make_tree(dir, SF_HELLO_HASH, "Hello, world!");
	r = store_install_begin(s, SF_HELLO_HASH, &in);
	if (r == 0) {
		sf_put_file(store_install_dirfd(in), "foo", "Hello, world!", 0644);
		r = store_install_commit(in, NULL);
	}
	is_int(r, 0, "commit over a complete tree without a row returns 0");
	ok(store_lookup(s, SF_HELLO_HASH, &info) == 0 && info.state == STORE_INSTALLED &&
			info.bytes == 13,
		"that tree was verified and indexed");
	store_info_release(&info);
	is_int(tu_count_entries(dir, "tmp"), 0, "our tree removed");

	snprintf(path, sizeof(path), "%s/artifacts/%s", dir, SF_OTHER_HASH);
	close(open(path, O_WRONLY | O_CREAT, 0644));
	r = store_install_begin(s, SF_OTHER_HASH, &in);
	if (r == 0) {
		sf_put_file(store_install_dirfd(in), "foo1", "Hello", 0644);
		sf_put_file(store_install_dirfd(in), "foo2", "world!", 0644);
		r = store_install_commit(in, NULL);
	}
	is_int(r, 0, "commit over a file squatting the name (%s)", store_errmsg(s));
	ok(store_lookup(s, SF_OTHER_HASH, &info) == 0 && info.state == STORE_INSTALLED,
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
 * live-install: lock SF_ABSENT_HASH, begin its install, say so on readyfd,
 * wait for EOF on gofd, then die by SIGKILL holding both
 */
static int child_live_install(const char *dir, int readyfd, int gofd)
{
	struct store *s = sf_child_store = tu_store_open(dir, STORE_NO_RECONCILE);
	struct pollfd pfd = { .events = POLLIN };
	static struct store_install *in;	/* reachable, as sf_child_store */
	struct store_lock *l;
	char c;

	if (!s || store_lock_hash(s, SF_ABSENT_HASH, 0, &l) < 0)
		return 2;
	sf_child_lock = l;
	if (store_install_begin(s, SF_ABSENT_HASH, &in) < 0 || write(readyfd, "R", 1) != 1)
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
	char *dir = tu_path(sf_base, "reconcile"), path[PATH_MAX];
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
	snprintf(path, sizeof(path), "%s/tmp/%s.dead", dir, SF_OTHER_HASH);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/tmp/%s.dead/sub", dir, SF_OTHER_HASH);
	mkdir(path, 0500);
	snprintf(path, sizeof(path), "%s/tmp/unrelated", dir);
	mkdir(path, 0755);
	if (pipe2(go, O_CLOEXEC) < 0 || pipe2(ready, O_CLOEXEC) < 0)
		abort();
	/* the child keeps go[0] (spawn's keep) and ready[1] (inheritable for this spawn) */
	snprintf(goarg, sizeof(goarg), "%d", go[0]);
	snprintf(readyarg, sizeof(readyarg), "%d", ready[1]);
	fcntl(ready[1], F_SETFD, 0);	/* closed below, before any other spawn */
	pid = sf_spawn(go[0], "live-install", dir, readyarg, goarg, NULL);
	close(go[0]);
	close(ready[1]);
	ok(read(ready[0], &c, 1) == 1, "child is installing");
	close(ready[0]);
	/* a live install of this process that did not take the hash lock */
	r = store_install_begin(s, SF_HELLO_HASH, &live);

	/* a row without a tree, a good tree and a bad tree without rows */
	store_hash_parse("00000000000000000000000000000000000000aa", h);
	store_idx_set(s, h, &info, 0);
	make_tree(dir, SF_HELLO_HASH, "Hello, world!");
	make_tree(dir, SF_OTHER_HASH, "not what the hash says");

	is_int(store_reconcile(s, 0, &rep), 0, "reconcile (%s)", store_errmsg(s));
	is_int(rep.tmp_removed, 1, "dead leftover removed");
	is_int(tu_count_entries(dir, "tmp"), 3, "live installs and unknown names kept");
	ok(r == 0 && access(store_install_path(live), F_OK) == 0, "unlocked live install kept");
	is_int(rep.rows_dropped, 1, "row without a tree dropped");
	is_int(store_lookup(s, "00000000000000000000000000000000000000aa", &info), -ENOENT,
		"its row is gone");
	/* SF_HELLO_HASH is locked by nobody, but our own live install... holds its flock only */
	is_int(rep.trees_indexed, 1, "tree with the right hash indexed");
	ok(store_lookup(s, SF_HELLO_HASH, &info) == 0 && info.state == STORE_INSTALLED &&
			info.bytes == 13 && info.files == 1,
		"its row: installed, 13 bytes, 1 file");
	store_info_release(&info);
	is_int(rep.trees_quarantined, 1, "tree with a wrong hash quarantined");
	ok(!sf_exists(dir, "artifacts/" SF_OTHER_HASH) && tu_count_entries(dir, "quarantine") == 1,
		"moved to quarantine/");
	ok(store_lookup(s, SF_OTHER_HASH, &info) == 0 && info.state == STORE_QUARANTINED,
		"row marked quarantined");
	store_info_release(&info);

	close(go[1]);
	ok(sf_killed(tu_wait_child(pid)), "child died holding its lock and flock");
	is_int(store_reconcile(s, 0, &rep), 0, "reconcile again");
	is_int(rep.tmp_removed, 1, "the dead child's tree removed");
	is_int(rep.trees_indexed + rep.trees_quarantined + rep.rows_dropped, 0,
		"nothing else to do");
	if (r == 0)
		store_install_abort(live);
	is_int(tu_count_entries(dir, "tmp"), 1, "only the unknown name left");

	/* verify, and STORE_VERIFY_ALL */
	is_int(store_verify(s, SF_HELLO_HASH, false), 0, "verify: ok");
	is_int(store_verify(s, SF_ABSENT_HASH, true), -ENOENT, "verify: absent");
	is_int(store_verify(s, "xyz", true), -EINVAL, "verify: bad hash");
	snprintf(path, sizeof(path), "%s/artifacts/%s/foo", dir, SF_HELLO_HASH);
	chmod(path, 0644);
	truncate(path, 5);
	is_int(store_reconcile(s, 0, &rep), 0, "reconcile without VERIFY_ALL");
	is_int(rep.trees_quarantined, 0, "does not re-hash indexed trees");
	is_int(store_verify(s, SF_HELLO_HASH, false), -EBADMSG, "verify: mismatch");
	ok(sf_exists(dir, "artifacts/" SF_HELLO_HASH), "left in place without quarantine");
	is_int(store_reconcile(s, STORE_VERIFY_ALL, &rep), 0, "reconcile with VERIFY_ALL");
	is_int(rep.trees_quarantined, 1, "the corrupt tree quarantined");
	ok(!sf_exists(dir, "artifacts/" SF_HELLO_HASH) && tu_count_entries(dir, "quarantine") == 2,
		"moved to quarantine/");
	store_close(s);
	free(dir);
}

/* ---- crash points ----------------------------------------------------------------- */

/* crash: install sf_tree_hash with ARTIFACTFS_CRASH_AT=point; the point kills us */
static int child_crash(const char *dir, const char *point, const char *hash)
{
	struct store_lock *l;
	struct store *s;

	setenv("ARTIFACTFS_CRASH_AT", point, 1);
	s = sf_child_store = tu_store_open(dir, STORE_CREATE);
	if (!s || store_lock_hash(s, hash, 10, &l) < 0)
		return 2;
	sf_child_lock = l;
	sf_install(s, hash, "https://example.org/crash.tar.gz");
	store_unlock(l);
	store_close(s);
	return 0;	/* the crash point did not fire */
}

static int crash_child(const char *dir, const char *point)
{
	return sf_killed(tu_wait_child(sf_spawn(-1, "crash", dir, point, sf_tree_hash, NULL)));
}

/* consistent - artifacts/<hash> absent without a row, or complete with one. */
static int consistent(struct store *s, const char *dir, bool *installed)
{
	struct store_info info;
	int r = store_lookup(s, sf_tree_hash, &info);
	char rel[128];

	snprintf(rel, sizeof(rel), "artifacts/%s", sf_tree_hash);
	*installed = r == 0;
	if (r == -ENOENT)
		return !sf_exists(dir, rel) && tu_count_entries(dir, "tmp") == 0;
	store_info_release(&info);
	return r == 0 && info.state == STORE_INSTALLED && store_verify(s, sf_tree_hash, false) == 0 &&
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
		dir = tu_path(sf_base, points[i].point);
		ok(crash_child(dir, points[i].point), "child killed at %s", points[i].point);
		s = tu_store_open(dir, 0);
		ok(s && consistent(s, dir, &installed) && installed == points[i].installed,
			"%s: reopened store is consistent, artifact %s", points[i].point,
			points[i].installed ? "installed" : "absent");
		store_close(s);
		free(dir);
	}

	/* killed in the middle of reconciling an after-rename crash */
	dir = tu_path(sf_base, "reconcile-crash");
	ok(crash_child(dir, "after-rename"), "child killed at after-rename");
	ok(crash_child(dir, "reconcile"), "next opener killed while reconciling");
	s = tu_store_open(dir, 0);
	ok(s && consistent(s, dir, &installed) && installed, "reconcile: consistent, installed");
	store_close(s);
	free(dir);
}

/* child_main - the roles of sf_spawn(); returns the exit status */
static int child_main(int argc, char **argv)
{
	const char *role = argv[0];

	if (strcmp(role, "live-install") == 0 && argc == 4)
		return child_live_install(argv[1], atoi(argv[2]), atoi(argv[3]));
	if (strcmp(role, "crash") == 0 && argc == 4)
		return child_crash(argv[1], argv[2], argv[3]);
	fprintf(stderr, "test-reconcile: bad child role '%s'\n", role);
	return 64;
}

/* ---- deferred durability (store/durable.c) ---------------------------------------- */

/* boot - stand for the kernel's boot id from now on (store_open reads it) */
static void boot(const char *id)
{
	setenv("ARTIFACTFS_TEST_BOOT_ID", id, 1);
}

static uint64_t pending(struct store *s)
{
	uint64_t n = UINT64_MAX;

	return store_pending_count(s, &n) == 0 ? n : UINT64_MAX;
}

/* damage - what a power loss leaves of a file written back late: nothing */
static int damage(const char *dir)
{
	char path[PATH_MAX + 128];

	snprintf(path, sizeof(path), "%s/artifacts/%s/foo", dir, sf_tree_hash);
	return truncate(path, 0);
}

/* installed_deferred - a new store at sf_base/name with the sample tree, committed in boot-a */
static char *installed_deferred(const char *name)
{
	char *dir = tu_path(sf_base, name);
	struct store *s;

	boot("boot-a");
	s = tu_store_open(dir, STORE_CREATE);
	if (!s)
		return dir;
	is_int(sf_install(s, sf_tree_hash, "https://example.org/x.tar.gz"), 0,
		"%s: install committed without a sync", name);
	is_int((int)pending(s), 1, "%s: its row has a pending mark", name);
	store_close(s);
	return dir;
}

/* reopen - open dir in boot id, no reconcile yet; NULL after a failed check */
static struct store *reopen(const char *dir, const char *id, unsigned flags)
{
	boot(id);
	return tu_store_open(dir, flags);
}

/* age_mark - make the mark of the sample tree two minutes old (store_idx_write fn) */
static int age_mark(struct store *s, MDB_txn *txn, void *arg)
{
	uint8_t h[STORE_HASH_LEN], v[8 + STORE_BOOT_ID_LEN + 8];
	MDB_val key = { STORE_HASH_LEN, h }, val;
	int64_t then = store_now() - 120;
	int rc;

	(void)arg;
	store_hash_parse(sf_tree_hash, h);
	rc = mdb_get(txn, s->dbi_pending, &key, &val);
	if (rc)
		return rc;
	if (val.mv_size != sizeof(v))
		return MDB_CORRUPTED;
	memcpy(v, val.mv_data, sizeof(v));
	memcpy(v, &then, sizeof(then));
	val = (MDB_val){ sizeof(v), v };
	return mdb_put(txn, s->dbi_pending, &key, &val, 0);
}

static void test_deferred(void)
{
	struct store_reconcile_report rep;
	struct store_info info;
	struct store_lock *l;
	struct store *s;
	unsigned n = 99;
	char *dir;

	/* in the same boot: synced later, once */
	dir = installed_deferred("deferred-sync");
	s = reopen(dir, "boot-a", 0);
	if (s) {
		ok(tu_installed(s, sf_tree_hash), "same boot: the tree is served at once");
		is_int(store_sync_pending(s, &n), 0, "store_sync_pending succeeds");
		is_int((int)n, 1, "... it made the one install durable");
		is_int((int)pending(s), 0, "... and removed its mark");
		is_int(store_sync_pending(s, &n), 0, "a second sync succeeds");
		is_int((int)n, 0, "... with nothing to do");
		store_close(s);
	}
	/* a synced tree is not hashed again after a reboot */
	s = reopen(dir, "boot-b", STORE_NO_RECONCILE);
	if (s) {
		ok(tu_installed(s, sf_tree_hash), "synced, after a reboot: served without a check");
		is_int(store_reconcile(s, 0, &rep), 0, "reconcile");
		is_int((int)rep.trees_rechecked, 0, "... hashes no tree again");
		store_close(s);
	}
	free(dir);

	/* after a reboot, a whole tree is hashed again and kept */
	dir = installed_deferred("deferred-whole");
	s = reopen(dir, "boot-b", STORE_RDONLY);
	if (s) {
		is_int(store_lookup(s, sf_tree_hash, &info), -ENOENT,
			"another boot, read-only opener: the unchecked tree has no row");
		store_close(s);
	}
	s = reopen(dir, "boot-b", STORE_NO_RECONCILE);
	if (s) {
		is_int(store_lookup(s, sf_tree_hash, &info), -ENOENT,
			"another boot, before reconcile: no row either");
		/* an installer holding the hash lock keeps its tree from the check */
		if (store_lock_hash(s, sf_tree_hash, 0, &l) == 0) {
			is_int(store_reconcile(s, 0, &rep), 0, "reconcile with the hash lock held");
			is_int((int)rep.trees_rechecked, 0, "... leaves the locked tree");
			is_int(store_lookup(s, sf_tree_hash, &info), -ENOENT, "... still hidden");
			store_unlock(l);
		}
		is_int(store_reconcile(s, 0, &rep), 0, "reconcile");
		is_int((int)rep.trees_rechecked, 1, "... hashed the tree again");
		is_int((int)rep.trees_quarantined, 0, "... and found it whole");
		ok(tu_installed(s, sf_tree_hash), "... it keeps its row");
		if (store_lookup(s, sf_tree_hash, &info) == 0) {
			is_str(info.source ? info.source : "", "https://example.org/x.tar.gz",
				"... with its source");
			store_info_release(&info);
		}
		is_int((int)pending(s), 0, "... and loses its mark");
		store_close(s);
	}
	free(dir);

	/* after a reboot, a damaged tree goes to quarantine */
	dir = installed_deferred("deferred-damaged");
	is_int(damage(dir), 0, "a file of the tree lost its bytes");
	s = reopen(dir, "boot-b", STORE_NO_RECONCILE);
	if (s) {
		is_int(store_reconcile(s, 0, &rep), 0, "reconcile");
		is_int((int)rep.trees_quarantined, 1, "... quarantined the damaged tree");
		ok(!tu_installed(s, sf_tree_hash), "... which is no longer installed");
		is_int(tu_count_entries(dir, "artifacts"), 0, "... nor in artifacts/");
		is_int(tu_count_entries(dir, "quarantine"), 1, "... but in quarantine/");
		is_int((int)pending(s), 0, "... and its mark is gone");
		is_int(sf_install(s, sf_tree_hash, NULL), 0, "it can be installed again");
		ok(tu_installed(s, sf_tree_hash), "... and is served");
		store_close(s);
	}
	free(dir);

	/* a store_open() in the new boot does the check itself */
	dir = installed_deferred("deferred-open");
	is_int(damage(dir), 0, "a file of the tree lost its bytes");
	s = reopen(dir, "boot-b", 0);
	if (s) {
		ok(!tu_installed(s, sf_tree_hash), "store_open after a reboot: damage found");
		store_close(s);
	}
	free(dir);

	/* after a reboot, a tree that is gone loses its row */
	dir = installed_deferred("deferred-gone");
	{
		char path[PATH_MAX + 128];

		snprintf(path, sizeof(path), "%s/artifacts/%s", dir, sf_tree_hash);
		tu_rmtree(path);
	}
	s = reopen(dir, "boot-b", STORE_NO_RECONCILE);
	if (s) {
		is_int(store_reconcile(s, 0, &rep), 0, "reconcile");
		is_int((int)rep.rows_dropped, 1, "... dropped the row of the missing tree");
		is_int(store_lookup(s, sf_tree_hash, &info), -ENOENT, "... it has no row");
		is_int((int)pending(s), 0, "... nor a mark");
		store_close(s);
	}
	free(dir);

	/* the same boot trusts its page cache: no check */
	dir = installed_deferred("deferred-same-boot");
	s = reopen(dir, "boot-a", STORE_NO_RECONCILE);
	if (s) {
		is_int(store_reconcile(s, 0, &rep), 0, "reconcile in the same boot");
		is_int((int)rep.trees_rechecked, 0, "... hashes nothing again");
		is_int((int)pending(s), 1, "... and keeps the mark for the sync");
		store_close(s);
	}
	free(dir);

	/* a store_open() syncs the marks of this boot older than a minute, not newer ones */
	dir = installed_deferred("deferred-settled");
	s = reopen(dir, "boot-a", 0);
	if (s) {
		is_int((int)pending(s), 1, "store_open keeps a mark of a few seconds");
		is_int(store_idx_write(s, age_mark, NULL), 0, "(the mark made 2 minutes old)");
		store_close(s);
	}
	s = reopen(dir, "boot-a", 0);
	if (s) {
		is_int((int)pending(s), 0, "store_open syncs a mark older than a minute");
		ok(tu_installed(s, sf_tree_hash), "... and the tree stays installed");
		store_close(s);
	}
	free(dir);

	/* STORE_SYNC_COMMIT: the commit waits, no mark; and it clears an older one */
	dir = installed_deferred("deferred-commit");
	s = reopen(dir, "boot-a", STORE_SYNC_COMMIT);
	if (s) {
		char path[PATH_MAX + 128];

		snprintf(path, sizeof(path), "%s/artifacts/%s", dir, sf_tree_hash);
		tu_rmtree(path);
		store_drop_missing(s, sf_tree_hash);
		is_int(sf_install(s, sf_tree_hash, NULL), 0, "STORE_SYNC_COMMIT: install");
		is_int((int)pending(s), 0, "... leaves no mark, and removed the old one");
		store_close(s);
	}
	free(dir);

	/* a failed sync keeps the marks */
	dir = installed_deferred("deferred-fault");
	unsetenv("ARTIFACTFS_UNSAFE_NO_FSYNC");
	s = reopen(dir, "boot-a", 0);
	if (s) {
		store_fault_set("syncfs", 1, EIO);
		is_int(store_sync_pending(s, &n), -EIO, "EIO at syncfs: the sync fails");
		store_fault_clear();
		ok(strstr(store_errmsg(s), dir) != NULL, "... naming the store (%s)",
			store_errmsg(s));
		is_int((int)pending(s), 1, "... and the mark stays");
		store_clear_error(s);
		is_int(store_sync_pending(s, &n), 0, "the next sync succeeds");
		is_int((int)pending(s), 0, "... and removes it");
		store_close(s);
	}
	setenv("ARTIFACTFS_UNSAFE_NO_FSYNC", "1", 1);
	free(dir);
	unsetenv("ARTIFACTFS_TEST_BOOT_ID");
}

int main(int argc, char **argv)
{
	static void (*const tests[])(void) = {
		test_reconcile, test_lost_race, test_crash, test_deferred, NULL,
	};

	return sf_main(argc, argv, "artifactfs-reconcile", child_main, tests, tap_done);
}
