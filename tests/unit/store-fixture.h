/*
 * store-fixture.h - what test-store and test-reconcile share
 *
 * Every test works in its own store under one mkdtemp() directory
 * (sf_base), removed at the end (sf_main()).  Other processes are the test program
 * run again in a child role (fork and exec "PROGRAM --child ROLE ARGS",
 * sf_spawn()): a fresh process opens its own store, as a real second
 * process would, and valgrind and the sanitizers check it like the parent
 * (a forked copy would inherit the parent's memory, which it can neither
 * use nor free).  Children report through their exit status, or die by
 * SIGKILL on purpose; only the parent prints TAP.  Not thread safe: the
 * tests call these from their main thread.
 */
#ifndef ARTIFACTFS_TESTS_STORE_FIXTURE_H
#define ARTIFACTFS_TESTS_STORE_FIXTURE_H

#include "store/store.h"

#include <stdbool.h>
#include <sys/types.h>

/* spec §2.6: "foo" = "Hello, world!" (0644) */
#define SF_HELLO_HASH "339aad93c0f854604248ea3b7c5b7edea20625a9"
#define SF_OTHER_HASH "98cda294312216b19e2a973e9c291c0f5181c98c"
#define SF_ABSENT_HASH "0123456789abcdef0123456789abcdef01234567"
#define SF_SHA256_X "E65D2F13F2085F2C279830E863292312A72930FEE5BA3C792B14C33CE5F5CC58"

extern char sf_base[1024];	/* the test directory: short enough for any path below */
extern char sf_tree_hash[STORE_HASH_HEX + 1];	/* hash of sf_build_tree() */
extern const char *sf_self;	/* this program, run again for the child roles */

/*
 * The store and lock of a child role that dies by SIGKILL on purpose, kept
 * reachable: valgrind checks for leaks even in a process that kills itself.
 */
extern struct store *volatile sf_child_store;	/* volatile: written, never read */
extern struct store_lock *volatile sf_child_lock;

/*
 * sf_main - the main of a test program: with "--child ROLE ARGS" (argv[1])
 * return child(argc - 2, argv + 2), the child role's exit status.  Else
 * find this program (argv[0]) for sf_spawn(), make sf_base
 * ($TMPDIR/NAME.XXXXXX), turn fsync off (ARTIFACTFS_UNSAFE_NO_FSYNC), hash
 * the sample tree into sf_tree_hash, run each test of the NULL-ended
 * tests, remove sf_base unless ARTIFACTFS_KEEP is set, and return done()
 * (tap_done, whose counters are the test program's own).  Returns 1 when
 * the set-up failed, after a TAP "Bail out!".
 */
int sf_main(int argc, char **argv, const char *name, int (*child)(int argc, char **argv),
	void (*const *tests)(void), int (*done)(void));

/* sf_put_file - create dfd/path (it must not exist) with content and mode; 0 or -errno. */
int sf_put_file(int dfd, const char *path, const char *content, mode_t mode);

/*
 * sf_build_tree - in dfd: foo (setuid, executable), d/ (setgid), d/bar
 * (group writable), link -> foo, and a symlink d/evil to a file outside
 * the tree when outside is not NULL.  Returns 0 or -errno.
 */
int sf_build_tree(int dfd, const char *outside);

/* sf_mode_of - *mode = lstat(dir/rel)'s st_mode; 0 or -errno. */
int sf_mode_of(const char *dir, const char *rel, mode_t *mode);

/* sf_exists - dir/rel exists (not followed when a symlink). */
bool sf_exists(const char *dir, const char *rel);

/* sf_install - begin, sf_build_tree, commit; returns the commit's result. */
int sf_install(struct store *s, const char *hash, const char *source);

/*
 * sf_spawn - run "sf_self --child role args..." (NULL-terminated) in a new
 * process.  The test's pipes are O_CLOEXEC; the one descriptor the child
 * needs is named by keep (or -1) and survives the exec.  Returns its pid.
 */
pid_t sf_spawn(int keep, const char *role, ...);

/* sf_exited_ok - the wait status st says exit 0. */
bool sf_exited_ok(int st);

/* sf_killed - the wait status st says killed by SIGKILL. */
bool sf_killed(int st);

#endif
