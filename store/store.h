/*
 * store.h - the content-addressed artifact store and its LMDB index
 *
 * Layout (DESIGN.md "On-disk store"; a Julia depot as far as artifacts/ goes):
 *
 *   <store>/artifacts/<hash>/   installed trees, lowercase hex git-tree-sha1;
 *                               regular files read-only (spec §3.3 step 5)
 *   <store>/tmp/<hash>.<id>/    installs in progress (same filesystem)
 *   <store>/quarantine/<hash>.<time>/  trees whose tree hash was found wrong
 *   <store>/index/              LMDB environment (data.mdb, lock.mdb)
 *   <store>/locks/<hash>.lock   per-hash lock files (single flight)
 *   <store>/locks/store.lock    held shared by every opener (exclusively only
 *                               by a maintenance that must stop all users)
 *   <store>/locks/gc.lock       held by the one running gc (store_gc_lock)
 *   <store>/partial/<oid>       single verified files (store/partial.h)
 *   <store>/seekidx/<hash>      kept seek indexes (store/partial.h)
 *
 * Lock files are never removed (removing one races with its waiters).
 *
 * The directory tree is the truth and LMDB is the index: rename(2) of a
 * finished tree into artifacts/ is the commit point, the index row follows.
 * store_open() reconciles the two, so a crash at any point loses nothing that
 * was committed and never exposes a partial tree.
 *
 * Concurrency: one struct store may be shared by all threads of a process.
 * Readers (store_lookup, store_foreach) run in LMDB read transactions and
 * never block; writers are serialised by LMDB.  Single flight across threads
 * and processes goes through store_lock_hash(): open file description (OFD)
 * locks on locks/<hash>.lock, which the kernel drops when the holder dies,
 * so a crashed installer never wedges a hash.
 *
 * Errors are -errno: LMDB's MDB_NOTFOUND -> -ENOENT, MDB_MAP_FULL (after
 * the map could not grow) -> -ENOSPC, other LMDB codes -> -EIO; a tree hash
 * mismatch -> -EBADMSG.  store_errmsg() keeps the first detailed message.
 */
#ifndef ARTIFACTFS_STORE_H
#define ARTIFACTFS_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define STORE_HASH_HEX 40	/* length of a git-tree-sha1 in hex */
#define STORE_SHA256_HEX 64	/* length of a tarball sha256 in hex */

struct store;

enum store_flags {
	STORE_CREATE = 1 << 0,		/* create the layout when missing */
	STORE_RDONLY = 1 << 1,		/* never write (ls, resolve); no reconcile */
	STORE_NO_RECONCILE = 1 << 2,	/* skip the reconcile pass at open (tests) */
	STORE_VERIFY_ALL = 1 << 3,	/* reconcile also re-hashes indexed trees */
	STORE_SYNC_COMMIT = 1 << 4,	/* each commit waits for the disk (no deferral) */
};

/*
 * store_open - open (and with STORE_CREATE create) the store at dir.
 * STORE_CREATE makes dir itself (not its parents) and the layout; the root
 * is resolved with realpath() once.  Takes locks/store.lock shared until
 * store_close(), waiting while a gc holds it exclusive.
 * Unless STORE_RDONLY or STORE_NO_RECONCILE is given, reconciles the store
 * (see store_reconcile()) and fails when that fails, then makes durable the
 * installs of this boot committed more than a minute ago without a sync
 * (store_sync_pending(); a failure there is not one of the open).  @ret receives a handle
 * owned by the caller, released with store_close(); untouched on failure.
 * Test knobs, read here once from the environment: ARTIFACTFS_CRASH_AT (see
 * store_crash_point()), ARTIFACTFS_TEST_MAPSIZE (initial LMDB map size in
 * bytes; the map grows on demand), ARTIFACTFS_UNSAFE_NO_FSYNC (non-empty
 * and not "0": no syncfs/fsync at install commit or in store_sync_pending,
 * no LMDB sync at commit) and ARTIFACTFS_TEST_BOOT_ID (stands for the
 * kernel's boot id: another value acts as a reboot, see durable.c).
 * Errors: -ENOENT (no store and no STORE_CREATE), -ENOTDIR, -EACCES, -EROFS,
 * -ENOSPC, -EIO (LMDB failure, or an index written by a newer version),
 * -ENOMEM, -EINVAL (STORE_CREATE with STORE_RDONLY), and those of
 * store_reconcile().  A message naming the path and the
 * cause is available through *errmsg when errmsg is not NULL (malloc'ed,
 * caller frees; NULL on success).
 * Thread safety: call once per process per store; the handle is thread-safe.
 * A child made by fork() must not use its parent's handle; it may open the
 * store itself.
 */
int store_open(const char *dir, unsigned flags, struct store **ret, char **errmsg);

/*
 * store_close - flush pending access times, close the index and free the
 * handle.  NULL is a no-op.  No other call on the handle may be running.
 */
void store_close(struct store *s);

/* store_dir - the store's root directory (borrowed, lives as long as s). */
const char *store_dir(const struct store *s);

/*
 * store_errmsg - the first detailed error message recorded on s since the
 * last store_clear_error(), or "" (borrowed; valid until the next call that
 * fails or store_clear_error()).  Per thread: each thread sees its own.
 */
const char *store_errmsg(const struct store *s);
void store_clear_error(struct store *s);

/* --- the index ------------------------------------------------------------- */

enum store_state {
	STORE_ABSENT = 0,	/* no row */
	STORE_INSTALLED = 1,	/* artifacts/<hash> complete and verified */
	STORE_QUARANTINED = 2,	/* moved aside: tree hash did not match */
};

/*
 * What the index knows of one artifact.  Times are seconds since the epoch
 * (UTC); sizes in bytes.
 */
struct store_info {
	enum store_state state;
	uint64_t bytes;			/* sum of regular file sizes */
	uint64_t files;			/* regular files + symlinks */
	int64_t installed;		/* when it was installed */
	int64_t last_access;		/* last store_touch() that was flushed;
					   the install time until then */
	int64_t orphaned;		/* first seen unrooted by gc, 0 = rooted */
	char tarball_sha256[STORE_SHA256_HEX + 1];	/* "" when unknown */
	char *source;			/* URL it came from, malloc'ed; may be NULL */
};

/* store_info_release - free what a struct store_info owns. */
void store_info_release(struct store_info *info);

/*
 * store_lookup - copy the index row of hash (40 lowercase hex) into *ret.
 * Never blocks and never touches the network or the trees (it waits only
 * while a resize of the index map is pending: for the transactions already
 * running, then an munmap and an mmap).
 * A row may be STORE_QUARANTINED: check info.state.
 * Returns 0, -ENOENT when there is no row, -EINVAL for a malformed hash,
 * -EIO, -ENOMEM.  A tree committed without a sync in an earlier boot and
 * not checked again yet (store_reconcile) has no row here (-ENOENT).  On
 * success the caller releases *ret with store_info_release().  Thread-safe.
 */
int store_lookup(struct store *s, const char *hash, struct store_info *ret);

/*
 * store_path - write "<store>/artifacts/<hash>" into buf (size bytes).
 * Returns the length, or -ENAMETOOLONG / -EINVAL.
 */
int store_path(const struct store *s, const char *hash, char *buf, size_t size);

/*
 * store_touch - note that hash was used now.  Costs no I/O: times are kept in
 * memory and written in one transaction by store_flush_access(), which the
 * caller runs periodically (the daemon: every few seconds) and store_close()
 * runs at the end.  Thread-safe.  A malformed hash, and any hash on a
 * STORE_RDONLY store, is ignored; a flush only updates existing rows.  At
 * most 65536 distinct hashes wait for a flush; beyond that, new ones are
 * dropped until the next flush.
 * store_flush_access returns 0 or -errno (-ENOSPC, -EIO); on failure the
 * times are kept for the next flush.  Thread-safe.
 */
void store_touch(struct store *s, const char *hash);
int store_flush_access(struct store *s);

/*
 * store_foreach - call fn for every index row, in hash order, inside one read
 * transaction.  info is borrowed for the duration of the call (info->source
 * must not be freed).  A non-zero return from fn stops the walk and is
 * returned.  Returns 0 or -EIO otherwise.  fn may call other store
 * functions, but a write that needs the index map to grow then fails with
 * -ENOSPC (the map cannot be resized under a running transaction), and fn
 * must not wait for another thread that uses the store (a pending resize
 * waits for this walk, and that thread for the resize).  Long work is
 * better done after the walk, on a list of hashes.
 */
int store_foreach(struct store *s,
		  int (*fn)(const char *hash, const struct store_info *info, void *arg), void *arg);

/*
 * Store-wide counters kept in the index, updated in the transaction that
 * changes the rows.  store_stats returns 0 or -errno (-EIO).
 */
struct store_stats {
	uint64_t artifacts;		/* rows in STORE_INSTALLED */
	uint64_t bytes;			/* their bytes */
	uint64_t installs;		/* successful installs since creation */
	uint64_t failures;		/* failed installs since creation */
};
int store_stats(struct store *s, struct store_stats *ret);

/*
 * store_count_failure - add one to the failures counter (the install
 * pipeline calls it; a failed store_install_commit() does not count itself).
 * Returns 0 or -errno (-EROFS, -ENOSPC, -EIO).
 */
int store_count_failure(struct store *s);

/* --- single flight ----------------------------------------------------------- */

struct store_lock;

/*
 * store_lock_hash - take the install lock of hash, waiting at most timeout
 * seconds (0 = try once).  Exactly one holder per hash on the host, across
 * threads and processes; a lock whose holder died is free again at once
 * (OFD lock).  The usual pattern: lock, store_lookup() again (someone else
 * may have installed it meanwhile), install if still absent, unlock.
 * The wait polls with a backoff from 1 ms to 50 ms, so a release is noticed
 * at most 50 ms late; waiters are not served in order.  A thread that
 * already holds the lock of hash and asks again waits like anyone else,
 * until its timeout.  *ret is owned by the caller until store_unlock(); a
 * child made by fork() shares the lock until it exits or execs.
 * Returns 0 with *ret set, -ETIMEDOUT (no message recorded), -EINVAL
 * (malformed hash, negative or NaN timeout), or -errno from open/fcntl
 * (-ENOENT when a STORE_RDONLY store has no locks/).  Thread-safe.
 */
int store_lock_hash(struct store *s, const char *hash, double timeout, struct store_lock **ret);

/* store_unlock - release and free the lock; NULL is a no-op. */
void store_unlock(struct store_lock *l);

/* --- installing ------------------------------------------------------------ */

struct store_install;

/*
 * store_install_begin - create a fresh empty directory tmp/<hash>.<id> (mode
 * 0700) for the tree of hash.  The caller should hold the hash lock; the
 * handle also holds a flock on the directory, so store_reconcile() never
 * removes a live install's tree either way.  @ret receives the install
 * handle; finish it with exactly one of store_install_commit() or
 * store_install_abort().  The handle belongs to one thread at a time.
 * Errors: -EINVAL, -ENOSPC, -EACCES, -ENOMEM, -EROFS (STORE_RDONLY), or
 * -errno of mkdirat/openat.
 */
int store_install_begin(struct store *s, const char *hash, struct store_install **ret);

/*
 * store_install_dirfd - an O_DIRECTORY fd of the temporary tree (borrowed:
 * valid until commit or abort; do not close it).
 */
int store_install_dirfd(const struct store_install *in);

/* store_install_path - the temporary tree's path (borrowed, same lifetime). */
const char *store_install_path(const struct store_install *in);

/* What the installer learnt while unpacking, recorded in the index row. */
struct store_install_meta {
	uint64_t bytes;			/* sum of regular file sizes */
	uint64_t files;			/* regular files + symlinks */
	const char *source;		/* URL the tree came from, or NULL */
	const char *tarball_sha256;	/* 64 hex, or NULL */
};

/*
 * store_install_commit - make the tree read-only (write bits cleared on
 * regular files; directories stay writable, as Pkg leaves them; setuid,
 * setgid and sticky bits cleared everywhere; symlinks never followed; the
 * root gets the mode of artifacts/, spec §3.3), rename(2) it to
 * artifacts/<hash>, then write the index row (installed = last_access =
 * now) and count the install.  Durability: with STORE_SYNC_COMMIT (or
 * without a boot id) the tree is synced (syncfs) before the rename and
 * artifacts/ fsync'ed after it; by default the row is written with a mark
 * of this boot instead and store_sync_pending() makes it durable later
 * (durable.c: after a reboot the tree is hashed again before use).  When
 * artifacts/<hash> already exists someone else won: the temporary tree is
 * removed and 0 returned; if the winner left no row (it died after its
 * rename), its tree is verified and indexed, or quarantined and ours takes
 * its place.  The handle is freed in every case.  meta may be NULL.
 * The caller has already verified the tree hash.
 * Errors: -ENOSPC, -EIO, -EROFS, -EINVAL (tarball_sha256 not 64 hex digits),
 * or -errno of the failing call; on error nothing is left in artifacts/ or
 * tmp/ (unless even moving the tree back out failed; reconcile indexes it).
 */
int store_install_commit(struct store_install *in, const struct store_install_meta *meta);

/*
 * store_install_abort - remove the temporary tree (never following a
 * symlink) and free the handle.  NULL is a no-op.
 */
void store_install_abort(struct store_install *in);

/* --- deferred durability (durable.c) -------------------------------------------- */

/*
 * store_sync_pending - make durable every install of this boot committed
 * without waiting for the disk: one syncfs() of the store's filesystem and
 * one fsync() of artifacts/, then their marks are removed (only those
 * written before the sync began).  Costs nothing when there is none; the
 * time of a syncfs() otherwise (short once the kernel has written the
 * pages back on its own, about 30 s after they were written).  *synced
 * (may be NULL) receives the number of installs made durable.  Errors:
 * -EROFS (STORE_RDONLY), -EIO or the -errno of syncfs/fsync (a writeback
 * error: the marks stay, so a reboot hashes those trees again), -ENOSPC.
 * Thread-safe; may run beside installs.
 */
int store_sync_pending(struct store *s, unsigned *synced);

/*
 * store_pending_count - *ret = installs committed and not yet made durable
 * (of this boot, or of an earlier one and not yet checked again).
 * Returns 0 or -EIO.  Thread-safe.
 */
int store_pending_count(struct store *s, uint64_t *ret);

/* --- maintenance ------------------------------------------------------------- */

/* Counts of what store_reconcile() did, for logs and tests. */
struct store_reconcile_report {
	unsigned tmp_removed;		/* leftovers of dead installs */
	unsigned rows_dropped;		/* rows whose tree is gone */
	unsigned trees_indexed;		/* trees verified and given a row */
	unsigned trees_quarantined;	/* trees whose hash was wrong */
	unsigned trees_rechecked;	/* unsynced commits of another boot found whole */
};

/*
 * store_reconcile - bring the index in line with the trees: remove tmp/
 * leftovers whose installer is gone (its hash lock is free), drop rows whose
 * tree is missing, hash every tree that has no row and index it or move it
 * to quarantine/ when its tree hash differs from its name, and hash again
 * every tree committed without a sync in an earlier boot (durable.c): it
 * keeps its row, or goes to quarantine/, or loses its row when it is gone.
 * With STORE_VERIFY_ALL in flags, also re-hash indexed trees.  Safe to run while
 * other processes use the store: a tree without a row whose hash lock is
 * held is left to its installer.  Only tmp/ entries named <hash>.<id> and
 * artifacts/ directories named by 40 lowercase hex digits are considered;
 * anything else (Overrides.toml, Julia's temporary directories) is left
 * alone.  Quarantined rows stay in the index, as a record.  @report may be
 * NULL.  Goes on after an error and returns the first (-EROFS on a
 * STORE_RDONLY store, -EIO, -ENOSPC, -errno of reading a tree), or 0.
 */
int store_reconcile(struct store *s, unsigned flags, struct store_reconcile_report *report);

/*
 * store_verify - re-hash artifacts/<hash> (Pkg rules) and compare.  Returns
 * 0 when it matches, -EBADMSG (the tree is moved to quarantine/<hash>.<time>
 * and its row marked STORE_QUARANTINED, or made so, when quarantine is
 * true), -ENOENT (no such directory; a symlink does not count), -EINVAL,
 * -EROFS (quarantine on a STORE_RDONLY store), -EIO or the -errno of
 * reading the tree.  Uses tree_hash_dirat(), with its worker threads.
 */
int store_verify(struct store *s, const char *hash, bool quarantine);

/* --- gc roots -------------------------------------------------------------- */

/*
 * store_root_add - register path (made absolute) as a gc root, stamped now;
 * registering again refreshes the time.  store_root_remove drops it
 * (-ENOENT when absent).  store_root_foreach walks them in path order;
 * arguments borrowed for the call; a non-zero return stops the walk and is
 * returned.  A path is made absolute with realpath() when it exists, else
 * joined to the current directory with "." and ".." resolved lexically.
 * Errors: -EINVAL (empty path), -ENAMETOOLONG (over 511 bytes, LMDB's key
 * limit), -EROFS, -ENOSPC, -EIO.
 */
int store_root_add(struct store *s, const char *path);
int store_root_remove(struct store *s, const char *path);
int store_root_foreach(struct store *s,
		       int (*fn)(const char *path, int64_t last_seen, void *arg), void *arg);

/* --- tests ------------------------------------------------------------------- */

/*
 * store_crash_point - a crash point for the crash tests: when the
 * environment variable ARTIFACTFS_CRASH_AT held the string point when s was
 * opened, the process dies here with raise(SIGKILL), as a power cut would
 * stop it.  Otherwise, and when s is NULL, nothing happens (one strcmp at
 * most).  store/ uses the points "install-begin", "before-rename",
 * "after-rename" (renamed, no row yet), "reconcile" and "gc-after-rename"
 * (a removal renamed its tree into tmp/, its row not dropped yet); other
 * layers add their own (fetch/: "mid-download", "mid-unpack").  Thread-safe.
 */
void store_crash_point(const struct store *s, const char *point);

/* --- use pins, removal, gc (spec §5; CernVM-FS-style quota) ------------------ */

/*
 * Each locks/<hash>.lock carries two OFD byte-range locks: byte 0 is the
 * install lock (store_lock_hash), byte 1 the use lock.  Whoever serves files
 * of an artifact (the daemon, while it has any open) holds the use lock
 * shared; removal takes it exclusive without waiting, so an artifact in use
 * by any process on the host is never removed, and a process that dies
 * drops its pins with it.
 */
struct store_pin;

/*
 * store_pin - hold the use lock of hash shared until store_unpin().  Does
 * not wait: a removal holds the exclusive side only for the instant of its
 * rename.  Returns 0, -EBUSY (being removed right now; retry), -EINVAL,
 * -errno from open/fcntl.  Thread-safe; each pin is its own descriptor.
 * A pin does not look at the index: a removal may have completed just
 * before it, so a caller that needs the tree looks the hash up (or opens
 * its directory) after pinning.  A STORE_RDONLY store pins through a
 * read-only descriptor when the lock file exists.  store_unpin(NULL) is a
 * no-op.
 */
int store_pin(struct store *s, const char *hash, struct store_pin **ret);
void store_unpin(struct store_pin *p);

/*
 * store_remove - remove an installed artifact: take its install lock and its
 * use lock exclusively without waiting, rename artifacts/<hash> into tmp/
 * (the commit point: from then on it is gone, and a crash leaves only a tmp/
 * leftover that reconcile removes), drop its row, release the locks, then
 * delete the tree.  @freed (may be NULL) receives the bytes of its regular
 * files (the row's size).
 * Returns 0, -EBUSY (installing or in use: pinned by some process), -ENOENT
 * (not installed; a row whose tree is missing is dropped), -EINVAL, -EROFS
 * (STORE_RDONLY), -EIO, or the -errno of the rename (-ENOSPC, -EIO ...;
 * the artifact is then intact) or of the index write (the tree is put
 * back).  The crash point "gc-after-rename" fires after the rename.
 */
int store_remove(struct store *s, const char *hash, uint64_t *freed);

/*
 * store_drop_missing - drop the installed row of hash when its tree is
 * missing from artifacts/ (removed by hand), so that the next install puts
 * it back.  Takes the install lock of hash without waiting; a tree that is
 * there, or comes back, is never touched.
 * Returns 1 when the row was dropped, 0 when there was nothing to drop (the
 * tree is there, or no installed row), -EBUSY (an install or removal of
 * hash holds the lock), -EINVAL (malformed hash), -EROFS (STORE_RDONLY),
 * -EIO.  Thread-safe.
 */
int store_drop_missing(struct store *s, const char *hash);

/*
 * store_remove_many - store_remove() for n hashes: each one is locked and
 * renamed as store_remove() does, but the rows of up to 64 removals are
 * dropped in one index transaction (a gc of thousands of artifacts then
 * costs tens of commits, not thousands), and their trees are deleted by up
 * to 8 threads at once.  results[i] (may be NULL)
 * receives store_remove()'s return value for hashes[i], freed[i] (may be
 * NULL) its bytes (0 unless removed).  Returns the number removed, or
 * -EINVAL (s or hashes NULL) or -EROFS before anything is tried.
 */
int store_remove_many(struct store *s, const char *const *hashes, size_t n, int *results,
		      uint64_t *freed);

/*
 * store_set_orphaned - record in the row of hash the time it was first found
 * unrooted (gc's mark phase, spec §5 step 4), or clear it with when == 0.
 * An existing non-zero time is kept (first seen wins).  Returns 0, -ENOENT,
 * -EINVAL (malformed hash, negative when), -EROFS, -ENOSPC, -EIO.
 */
int store_set_orphaned(struct store *s, const char *hash, int64_t when);

/*
 * store_set_orphaned_many - store_set_orphaned() for n hashes, in one
 * index transaction per 8192 of them; hashes without a row are skipped.
 * Returns the number of rows changed, or -errno as store_set_orphaned()
 * (-EINVAL when any hash is malformed; the rows of earlier transactions
 * stay changed).
 */
int store_set_orphaned_many(struct store *s, const char *const *hashes, size_t n,
			    int64_t when);

/*
 * store_gc_lock - become the one gc of this store: an exclusive OFD lock on
 * locks/gc.lock, taken without waiting.  Returns 0, or -EBUSY when another
 * gc (any process, or another handle of this one) runs, -EROFS on a
 * STORE_RDONLY store, -errno of open/fcntl; release with store_gc_unlock()
 * (NULL is a no-op).  It excludes other gcs only: daemons, installs and
 * evictions go on beside a gc, coordinated by the per-hash locks.
 */
struct store_gc_lock;
int store_gc_lock(struct store *s, struct store_gc_lock **ret);
void store_gc_unlock(struct store_gc_lock *l);

/*
 * store_evict_lru - quota: remove least-recently-used installed artifacts
 * (by last_access, oldest first; flushed access times only) until the
 * installed bytes are at most target bytes.  Artifacts in use or installing
 * (-EBUSY from store_remove) are skipped; skip(hash, arg), when not NULL, may
 * veto others (the daemon's own open files).  @freed/@removed (may be NULL)
 * receive what went.  Returns 0 when the target was reached, -ENOSPC when
 * everything left is pinned, or another -errno (-EROFS on a STORE_RDONLY
 * store; the first removal error when the target was not reached).
 * Flushes this process's pending access times first (store_flush_access),
 * then reads every row and sorts them: one scan per call.  skip() is called
 * with no store lock held.
 */
int store_evict_lru(struct store *s, uint64_t target,
		    bool (*skip)(const char *hash, void *arg), void *arg,
		    uint64_t *freed, unsigned *removed);

/*
 * store_tmp_sweep - remove tmp/ and quarantine/ entries that no live
 * installer owns (tmp/) or that are older than min_age seconds
 * (quarantine/).  @freed may be NULL.  Returns the number removed or -errno.
 * Only the names the store makes are considered: tmp/<hash>.<id> (owned
 * while its hash lock or its flock is held: installs, and removals still
 * deleting their tree) and quarantine/<hash>.<time>[.<n>], aged by the
 * <time> in the name.  Also tmp/partial.* and tmp/seekidx.* (store/partial.h:
 * owned while their flock is held).  Quarantined rows stay in the index.
 * On a STORE_RDONLY store nothing is removed and nothing written: the
 * return value and @freed say what would go (a dry run).  Goes on after an
 * error and returns the first; -EINVAL for a negative min_age.
 */
int store_tmp_sweep(struct store *s, int64_t min_age, uint64_t *freed);

/* ---- a tree on disk (libc only; no struct store needed) -------------------- */

/*
 * store_rmtree - remove dirfd/name (dirfd may be AT_FDCWD) and everything
 * below it, never following a symlink: a symlink or other non-directory at
 * name is unlinked itself, a symlink inside is removed, not its target.
 * Directories are made writable (u+rwx) first, so read-only trees (installed
 * artifacts) go too.  Iterative, with two descriptors whatever the depth, so
 * a hostile tarball nested deeper than RLIMIT_NOFILE is removed as well.
 * Climbing back, each ".." is checked against the device and inode seen on
 * the way down: a directory renamed away during the removal ends it with
 * -ESTALE instead of deleting outside the tree.
 * Returns 0, -ENOENT when name does not exist, -ESTALE as above, or -errno
 * of the failing call (what was removed before stays removed).  Goes
 * through the store's syscall table (store_sys_*), so tests can inject
 * failures.  Thread-safe for distinct trees; two removals of one tree race
 * as rm -r does.
 */
int store_rmtree(int dirfd, const char *name);

#endif
