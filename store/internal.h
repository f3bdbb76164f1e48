/*
 * internal.h - private declarations shared by the store/ implementation
 * files (store.c, index.c, roots.c, lock.c, install.c, reconcile.c, gc.c)
 * and by tests/unit/test-store.c.  Not a public header: fetch/, fs/ and tools/ use
 * store/store.h only.
 */
#ifndef ARTIFACTFS_STORE_INTERNAL_H
#define ARTIFACTFS_STORE_INTERNAL_H

#include <dirent.h>
#include <lmdb.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "store/hash.h"
#include "store/store.h"

#define STORE_HASH_LEN HASH_SHA1_LEN	/* a git-tree-sha1 in bytes */
#define STORE_POOL_MAX 16		/* reset read transactions kept for reuse */
#define STORE_BOOT_ID_LEN 36		/* a boot id: a UUID in text, no NUL */

/* One pending access time (store_touch), kept until store_flush_access(). */
struct access_slot {
	uint8_t hash[STORE_HASH_LEN];
	bool used;
	int64_t when;		/* seconds since the epoch */
};

struct store {
	char *dir;		/* realpath of the store root */
	unsigned flags;		/* enum store_flags given to store_open */
	uint64_t id;		/* unique per store_open: keys per-thread state */

	int dirfd;		/* the root and its subdirectories, O_DIRECTORY */
	int artifacts_fd;
	int tmp_fd;		/* -1 when missing (STORE_RDONLY only) */
	int quarantine_fd;	/* -1 when missing (STORE_RDONLY only) */
	int locks_fd;		/* -1 when missing (STORE_RDONLY only) */
	int store_lock_fd;	/* locks/store.lock, held shared; -1 if none */
	mode_t artifacts_mode;	/* permission bits of artifacts/, given to new trees */

	char crash_at[32];	/* ARTIFACTFS_CRASH_AT read at open, "" if unset */
	bool no_fsync;		/* ARTIFACTFS_UNSAFE_NO_FSYNC: tests and benchmarks */
	bool boot_known;	/* boot_id was read: commits may defer the sync */
	char boot_id[STORE_BOOT_ID_LEN];	/* durable.c */
	bool has_pending_db;	/* dbi_pending is open (absent in an old index opened read-only) */
	bool foreign_pending;	/* marks of another boot may be left: lookups check */

	MDB_env *env;
	MDB_dbi dbi_artifacts;	/* 20-byte hash -> row (layout in index.c) */
	MDB_dbi dbi_roots;	/* absolute path -> int64 last seen */
	MDB_dbi dbi_counters;	/* name -> uint64 */
	MDB_dbi dbi_pending;	/* 20-byte hash -> mark of an unsynced commit (durable.c) */

	/*
	 * Held shared by every transaction, exclusive by a map resize; see
	 * "Map growth" in index.c.
	 */
	pthread_rwlock_t maplock;

	pthread_mutex_t pool_mu;	/* protects pool, npool */
	MDB_txn *pool[STORE_POOL_MAX];	/* reset read transactions */
	unsigned npool;

	pthread_mutex_t access_mu;	/* protects access, access_cap, access_used */
	struct access_slot *access;	/* open-addressing table, power of 2 */
	size_t access_cap;
	size_t access_used;
};

/* ---- store.c: messages, hashes, crash points --------------------------- */

/*
 * store_seterr - record a message for the calling thread unless one is
 * already recorded (first error wins); returns err (a negative errno) so that
 * callers can write "return store_seterr(s, -EIO, ...)".
 */
int store_seterr(const struct store *s, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* store_hash_parse - 40 lowercase hex digits and a NUL into 20 bytes; -EINVAL. */
int store_hash_parse(const char *hex, uint8_t out[STORE_HASH_LEN]);

/* store_hash_valid - true when hex is 40 lowercase hex digits and a NUL. */
bool store_hash_valid(const char *hex);

/* store_now - the current time in seconds since the epoch. */
int64_t store_now(void);

/* ---- store.c: syscall fault table (SQLite os_unix.c aSyscall[] style) ---- */

/*
 * Every system call of store/ that changes the store goes through one of
 * these wrappers.  They behave as the system call (-1 and errno on failure)
 * unless a test armed a fault for it with store_fault_set().
 */
int store_sys_mkdirat(int dirfd, const char *path, mode_t mode);
int store_sys_openat(int dirfd, const char *path, int flags, mode_t mode);
int store_sys_renameat(int olddirfd, const char *oldpath, int newdirfd, const char *newpath,
	unsigned flags);
int store_sys_unlinkat(int dirfd, const char *path, int flags);
int store_sys_fchmod(int fd, mode_t mode);
int store_sys_fchmodat(int dirfd, const char *path, mode_t mode, int flags);
int store_sys_fsync(int fd);
int store_sys_syncfs(int fd);

/*
 * store_fault_set - make the nth call (1 = the next one) of the wrapper of
 * syscall (its name without "store_sys_": "mkdirat", "openat", "renameat",
 * "unlinkat", "fchmod", "fchmodat", "fsync", "syncfs") fail with errno err.
 * The fault fires once; nth = 0 disarms it.  Counting starts at this call and
 * covers every thread of the process.  Returns 0, or -EINVAL for an unknown
 * name or a negative nth.  For tests only.
 */
int store_fault_set(const char *syscall, int nth, int err);

/* store_fault_clear - disarm every fault. */
void store_fault_clear(void);

/* ---- index.c: the LMDB environment -------------------------------------- */

/*
 * store_idx_open - open (creating with STORE_CREATE) the environment in
 * index/ and its named databases; fresh says that data.mdb did not exist.
 * On failure msg (size bytes) says why.  store_idx_close() undoes it.
 */
int store_idx_open(struct store *s, bool fresh, char *msg, size_t size);
void store_idx_close(struct store *s);

/* store_mdb_errno - an LMDB return code (or a positive errno) as -errno. */
int store_mdb_errno(int rc);

/*
 * store_idx_read_begin/store_idx_read_end - a read transaction, taken from
 * the pool of reset transactions when possible.  In between, the thread
 * holds maplock shared.  Returns 0 or -errno.
 */
int store_idx_read_begin(struct store *s, MDB_txn **ret);
void store_idx_read_end(struct store *s, MDB_txn *txn);

/*
 * store_idx_walk - every row of dbi in key order, in one read transaction:
 * row(key, val, ctx, &rc) for each.  The walk stops at the first row that
 * returns non-zero (that value is returned) or sets rc to an LMDB error (a
 * row that does not decode: "cannot walk <what> of '<dir>'", -errno).
 */
int store_idx_walk(struct store *s, MDB_dbi dbi, const char *what,
	int (*row)(const MDB_val *key, const MDB_val *val, void *ctx, int *rc), void *ctx);

/*
 * store_idx_write - run fn in a write transaction and commit it.  fn
 * returns 0 to commit, or an LMDB code or a positive errno to abort; after
 * MDB_MAP_FULL the map grows and fn runs again in a new transaction, so fn
 * must be idempotent.  Returns 0 or -errno; -EROFS on a read-only store.
 */
typedef int (*store_idx_write_fn)(struct store *s, MDB_txn *txn, void *arg);
int store_idx_write(struct store *s, store_idx_write_fn fn, void *arg);

/*
 * store_idx_get - decode the row of hash inside txn into *info; info->source
 * is borrowed from the map, valid until the transaction ends.  Returns 0,
 * MDB_NOTFOUND, MDB_CORRUPTED or another LMDB code.
 */
int store_idx_get(struct store *s, MDB_txn *txn, const uint8_t hash[STORE_HASH_LEN],
	struct store_info *info);

/*
 * store_idx_put - write the row of hash inside txn and move the "artifacts"
 * and "bytes" counters from the row it replaces to this one.  LMDB code.
 */
int store_idx_put(struct store *s, MDB_txn *txn, const uint8_t hash[STORE_HASH_LEN],
	const struct store_info *info);

/* store_idx_del - delete the row of hash (counters too); MDB_NOTFOUND when absent. */
int store_idx_del(struct store *s, MDB_txn *txn, const uint8_t hash[STORE_HASH_LEN]);

/* store_idx_counter_add - add delta to the counter name inside txn (floor 0). */
int store_idx_counter_add(struct store *s, MDB_txn *txn, const char *name, int64_t delta);

/*
 * store_idx_set - store_idx_put() in a transaction of its own, adding
 * installs to the "installs" counter.  Returns 0 or -errno.
 */
int store_idx_set(struct store *s, const uint8_t hash[STORE_HASH_LEN],
	const struct store_info *info, int64_t installs);

/*
 * store_idx_set_tree - store_idx_set() for a tree just put in artifacts/,
 * with its durability in the same transaction: synced removes a mark the
 * hash may have, !synced writes one (durable.c).  Returns 0 or -errno.
 */
int store_idx_set_tree(struct store *s, const uint8_t hash[STORE_HASH_LEN],
	const struct store_info *info, int64_t installs, bool synced);

/* ---- lock.c ------------------------------------------------------------- */

/*
 * The byte ranges of locks/<hash>.lock (store.h "use pins"): byte 0 is the
 * install lock (store_lock_hash), byte 1 the use lock (store_pin, taken
 * exclusive by store_remove).
 */
#define STORE_LOCK_INSTALL_BYTE 0
#define STORE_LOCK_USE_BYTE 1

/*
 * store_ofd_lock - fcntl(fd, cmd, ...) (F_OFD_SETLK, F_OFD_SETLKW or
 * F_OFD_GETLK) with an OFD lock of type (F_RDLCK, F_WRLCK, F_UNLCK) on len
 * bytes from start (len 0: to the end of the file).  Returns what fcntl
 * returns, errno set.
 */
int store_ofd_lock(int fd, short type, int cmd, off_t start, off_t len);

/* store_lock_fd - the descriptor of a held hash lock (borrowed, as long as l). */
int store_lock_fd(const struct store_lock *l);

/*
 * store_lock_store_open - take locks/store.lock shared, waiting while a gc
 * holds it exclusive (see lock.c).  Returns 0 or -errno, with msg set.
 */
int store_lock_store_open(struct store *s, char *msg, size_t size);
void store_lock_store_close(struct store *s);

/* ---- install.c: trees on disk ------------------------------------------- */

/* store_rmtree() is public: store.h. */

/*
 * store_tree_stats - *bytes = sum of the regular file sizes and *files =
 * count of regular files and symlinks under the directory dirfd/name,
 * symlinks not followed.  Returns 0 or -errno.
 */
int store_tree_stats(int dirfd, const char *name, uint64_t *bytes, uint64_t *files);

/*
 * store_opendirat - a directory stream over the directory dirfd, through a
 * description of its own (dirfd's file offset is not moved; the stream's
 * closedir() leaves dirfd open).  Returns NULL with errno set on failure.
 */
DIR *store_opendirat(int dirfd);

/* A list of directory entry names, malloc'ed; zero-initialise before use. */
struct store_names {
	char **v;
	size_t n, cap;
};

/* store_names_free - free the names and empty the list (it stays usable). */
void store_names_free(struct store_names *ns);

/*
 * store_list_names - append to ns the names of the directory dirfd for
 * which keep() is true, read in one go through a description of their own
 * (dirfd's file offset is not moved).  Returns 0, -ENOMEM or -errno; on
 * error ns holds what was read so far (free it).
 */
int store_list_names(int dirfd, bool (*keep)(const char *name), struct store_names *ns);

/*
 * store_is_tmp_name - whether name is "<40 hex>.<anything>", the form of
 * what store_install_begin() and removals create in tmp/.
 */
bool store_is_tmp_name(const char *name);

/* ---- partial.c ------------------------------------------------------------ */

/*
 * store_partial_sweep - remove the tmp/ temporaries of store/partial.c
 * (tmp/partial.* and tmp/seekidx.*) that no live writer holds (flock); the
 * part of store_tmp_sweep() for them.  *freed receives their bytes.
 * Returns the number removed or -errno.
 */
int store_partial_sweep(struct store *s, uint64_t *freed);

/* ---- durable.c: deferred durability ------------------------------------------ */

/*
 * store_boot_id_read - read the kernel's boot id (or, for tests, the
 * variable ARTIFACTFS_TEST_BOOT_ID) into s->boot_id; s->boot_known tells
 * whether there was one.  Called once by store_open().
 */
void store_boot_id_read(struct store *s);

/* store_defers_sync - whether commits on s write a mark instead of syncing. */
bool store_defers_sync(const struct store *s);

/*
 * store_pending_put/store_pending_del - write (or overwrite) the mark of
 * hash, stamped now with this boot's id, or remove it (absent is fine),
 * inside txn.  No-ops without the database.  Return an LMDB code.
 */
int store_pending_put(struct store *s, MDB_txn *txn, const uint8_t hash[STORE_HASH_LEN]);
int store_pending_del(struct store *s, MDB_txn *txn, const uint8_t hash[STORE_HASH_LEN]);

/*
 * store_pending_foreign - whether hash has a mark of another boot (its
 * tree awaits a check).  Costs nothing unless s->foreign_pending.
 */
bool store_pending_foreign(struct store *s, MDB_txn *txn, const uint8_t hash[STORE_HASH_LEN]);

/*
 * store_sync_settled - store_sync_pending() of the marks of this boot older
 * than STORE_SETTLED_AGE seconds, which the kernel has most likely written
 * back already (so the syncfs() is short): store_open() runs it, so that
 * installs of a process that never syncs (artifactctl fetch) are not left
 * for a reboot to check.  Returns 0 or -errno.
 */
#define STORE_SETTLED_AGE 60
int store_sync_settled(struct store *s);

/*
 * store_pending_scan - set s->foreign_pending from the marks (read-only
 * openers, which cannot check the trees).  Returns 0 or -errno.
 */
int store_pending_scan(struct store *s);

/*
 * store_pending_recover - the reconcile step for marks of another boot:
 * hash each marked tree again under its hash lock (not waiting: a busy
 * one is left, and lookups keep hiding it), keep it, quarantine it or drop
 * its row, and remove its mark.  Counts go to rep.  Returns the first
 * error, or 0.
 */
int store_pending_recover(struct store *s, struct store_reconcile_report *rep);

/* ---- reconcile.c ---------------------------------------------------------- */

/*
 * store_quarantine_tree - move artifacts/<hash> to quarantine/<hash>.<time>
 * and mark its row STORE_QUARANTINED (a row is made from the tree when it
 * had none).  Returns 0, -ENOENT when the tree is absent, -EROFS, -errno.
 */
int store_quarantine_tree(struct store *s, const char *hash);

/*
 * store_adopt_tree - hash artifacts/<hash>, a tree without a row: index it
 * (source and sha256 may be NULL) and return 0, or quarantine it and return
 * -EBADMSG.  -ENOENT when there is no such directory.  The caller holds the
 * hash lock.
 */
int store_adopt_tree(struct store *s, const char *hash, const char *source, const char *sha256);

#endif
