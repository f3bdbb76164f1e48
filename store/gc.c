/*
 * gc.c - use pins, removal, orphan marks, the gc lock, LRU eviction and the
 * sweep of tmp/ and quarantine/ (store.h "use pins, removal, gc")
 *
 * Who may remove what.  An artifact goes only through store_remove(), which
 * holds, for the instant of its rename, the install lock (byte 0 of
 * locks/<hash>.lock: no install or adoption of the hash is running) and the
 * use lock exclusively (byte 1: no process has it pinned).  Both are taken
 * without waiting, so a busy artifact is skipped, never waited for, and a
 * reader that pins never waits for a removal either.  The rename of
 * artifacts/<hash> into tmp/ is the commit point; the row is dropped next,
 * and the tree deleted after the locks are released.  A crash after the
 * rename leaves a row without its tree and a tmp/ leftover, both repaired by
 * store_reconcile() at the next open; so a store never shows a half-removed
 * tree under artifacts/.
 *
 * Cost.  A gc may remove tens of thousands of artifacts.  Each removal's
 * rename is its own commit point, but the rows of up to REMOVE_BATCH
 * removals are dropped in one index transaction (one LMDB commit, one
 * fsync), and orphan marks are written ORPHAN_BATCH to a transaction, so a
 * gc costs a few dozen commits rather than one per artifact; the trees of
 * a batch are deleted by several threads (delete_batch).  The locks of
 * a batch are held until its transaction is committed, so no installer
 * reinstalls a hash whose old row is still about to be dropped.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1	/* F_OFD_SETLK, renameat2 flags */
#endif

#include "store/internal.h"
#include "store/util/random.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define REMOVE_BATCH 64		/* removals per index transaction (2 fds each) */
#define ORPHAN_BATCH 8192	/* orphan marks per index transaction */
#define TMP_NAME_TRIES 8	/* fresh tmp/ names tried for a removal */

/* ---- pins ------------------------------------------------------------------ */

struct store_pin {
	int fd;
};

/* the gc lock is held the way a pin is: one locked descriptor, owned */
struct store_gc_lock {
	struct store_pin held;
};

/*
 * hold_lock - take an OFD lock of type on [start, start + len) of fd without
 * waiting and move fd into a new holder (*ret, freed by store_unpin).
 * Returns 0; -EBUSY when another descriptor holds a conflicting lock; -ENOMEM;
 * another -errno from fcntl. fd is closed on every error.
 */
static int hold_lock(int fd, short type, off_t start, off_t len, struct store_pin **ret)
{
	struct store_pin *p;
	int r;

	if (store_ofd_lock(fd, type, F_OFD_SETLK, start, len) < 0) {
		r = errno == EAGAIN || errno == EACCES ? -EBUSY : -errno;
		close(fd);
		return r;
	}
	p = malloc(sizeof(*p));
	if (!p) {
		close(fd);
		return -ENOMEM;
	}
	p->fd = fd;
	*ret = p;
	return 0;
}

/*
 * open_lock_file - open locks/<hash>.lock for a shared lock: read-write
 * (creating it) when possible, read-only when the store or the directory
 * is not writable (F_RDLCK needs only read access).
 */
static int open_lock_file(struct store *s, const char *hash)
{
	char name[STORE_HASH_HEX + sizeof(".lock")];
	int fd, r;

	if (s->locks_fd < 0)
		return store_seterr(s, -ENOENT, "no locks directory in '%s'", s->dir);
	snprintf(name, sizeof(name), "%s.lock", hash);
	fd = -1;
	if (!(s->flags & STORE_RDONLY))
		fd = store_sys_openat(s->locks_fd, name,
			O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0 && ((s->flags & STORE_RDONLY) || errno == EACCES || errno == EROFS))
		fd = openat(s->locks_fd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		return store_seterr(s, r, "cannot open '%s/locks/%s': %s", s->dir, name,
			strerror(-r));
	}
	return fd;
}

int store_pin(struct store *s, const char *hash, struct store_pin **ret)
{
	int fd;

	if (!s || !store_hash_valid(hash) || !ret)
		return -EINVAL;
	fd = open_lock_file(s, hash);
	if (fd < 0)
		return fd;
	return hold_lock(fd, F_RDLCK, STORE_LOCK_USE_BYTE, 1, ret);	/* -EBUSY: no message */
}

void store_unpin(struct store_pin *p)
{
	if (!p)
		return;
	close(p->fd);	/* its only descriptor: drops the use lock */
	free(p);
}

/* ---- the gc lock ------------------------------------------------------------- */

int store_gc_lock(struct store *s, struct store_gc_lock **ret)
{
	struct store_pin *held;
	int fd, r;

	if (!s || !ret)
		return -EINVAL;
	if ((s->flags & STORE_RDONLY) || s->locks_fd < 0)
		return store_seterr(s, -EROFS, "store '%s' is open read-only", s->dir);
	fd = store_sys_openat(s->locks_fd, "gc.lock", O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC,
		0644);
	if (fd < 0) {
		r = -errno;
		return store_seterr(s, r, "cannot open '%s/locks/gc.lock': %s", s->dir,
			strerror(-r));
	}
	r = hold_lock(fd, F_WRLCK, 0, 0, &held);
	if (r == -EBUSY)
		return store_seterr(s, r, "another gc of '%s' is running", s->dir);
	if (r == -ENOMEM)
		return r;
	if (r < 0)
		return store_seterr(s, r, "cannot lock '%s/locks/gc.lock': %s", s->dir,
			strerror(-r));
	*ret = (struct store_gc_lock *)held;	/* its only member */
	return 0;
}

void store_gc_unlock(struct store_gc_lock *l)
{
	if (l)
		store_unpin(&l->held);
}

/* ---- orphan marks ------------------------------------------------------------- */

struct orphan_op {
	const uint8_t (*h)[STORE_HASH_LEN];
	size_t n;
	int64_t when;
	size_t changed, missing;	/* outputs, recomputed on each run of the fn */
};

/*
 * orphan_rows runs inside one write transaction and may run again after a
 * map growth: it recomputes its counts each time.  The row is decoded and
 * written back whole (store_idx_put), its source URL copied first because
 * it points into the map that the put changes.
 */
static int orphan_rows(struct store *s, MDB_txn *txn, void *arg)
{
	struct orphan_op *op = arg;
	struct store_info info;
	size_t i;
	int rc;

	op->changed = op->missing = 0;
	for (i = 0; i < op->n; i++) {
		rc = store_idx_get(s, txn, op->h[i], &info);
		if (rc == MDB_NOTFOUND || rc == MDB_CORRUPTED) {
			op->missing++;
			continue;
		}
		if (rc)
			return rc;
		if (op->when == 0 ? info.orphaned == 0 : info.orphaned != 0)
			continue;	/* cleared already, or first seen wins */
		info.orphaned = op->when;
		if (info.source && !(info.source = strdup(info.source)))
			return ENOMEM;
		rc = store_idx_put(s, txn, op->h[i], &info);
		free(info.source);
		if (rc)
			return rc;
		op->changed++;
	}
	return 0;
}

/* set_orphaned - the marks of n hashes, ORPHAN_BATCH per transaction. */
static int set_orphaned(struct store *s, const char *const *hashes, size_t n, int64_t when,
	size_t *changed, size_t *missing)
{
	uint8_t (*h)[STORE_HASH_LEN];
	struct orphan_op op;
	size_t i, k, chunk;
	int r = 0;

	*changed = *missing = 0;
	if (when < 0 || (n && !hashes))
		return -EINVAL;
	if (s->flags & STORE_RDONLY)
		return store_seterr(s, -EROFS, "store '%s' is open read-only", s->dir);
	chunk = n < ORPHAN_BATCH ? n : ORPHAN_BATCH;
	h = malloc((chunk ? chunk : 1) * sizeof(*h));
	if (!h)
		return -ENOMEM;
	for (i = 0; i < n && r == 0; i += chunk) {
		if (chunk > n - i)
			chunk = n - i;
		for (k = 0; k < chunk; k++)
			if (store_hash_parse(hashes[i + k], h[k]) < 0) {
				r = -EINVAL;
				goto out;
			}
		op = (struct orphan_op){ (const uint8_t (*)[STORE_HASH_LEN])h, chunk, when, 0, 0 };
		r = store_idx_write(s, orphan_rows, &op);
		*changed += op.changed;
		*missing += op.missing;
	}
out:
	free(h);
	return r;
}

int store_set_orphaned(struct store *s, const char *hash, int64_t when)
{
	size_t changed, missing;
	int r;

	if (!s || !store_hash_valid(hash))
		return -EINVAL;
	r = set_orphaned(s, &hash, 1, when, &changed, &missing);
	if (r == 0 && missing)
		return -ENOENT;
	return r;
}

int store_set_orphaned_many(struct store *s, const char *const *hashes, size_t n, int64_t when)
{
	size_t changed, missing;
	int r;

	if (!s)
		return -EINVAL;
	r = set_orphaned(s, hashes, n, when, &changed, &missing);
	return r < 0 ? r : (int)(changed > INT32_MAX ? INT32_MAX : changed);
}

/* ---- removal ----------------------------------------------------------------- */

/* One removal of a batch, from its locks to the deletion of its tree. */
struct removal {
	size_t index;			/* in the caller's arrays */
	char hash[STORE_HASH_HEX + 1];
	uint8_t h[STORE_HASH_LEN];
	struct store_lock *lock;	/* install lock (byte 0) and use lock (byte 1) */
	int dfd;			/* the tree, flock'ed: reconcile skips it in tmp/ */
	char tmpname[STORE_HASH_HEX + 24];	/* "<hash>.rm<16 hex>" under tmp/ */
	uint64_t bytes;			/* the row's size */
	bool renamed;			/* false: the row had no tree; only the row goes */
	int rm_err;			/* of deleting the tree after the commit */
};

static void removal_release(struct removal *rm)
{
	store_unlock(rm->lock);
	rm->lock = NULL;
	if (rm->dfd >= 0)
		close(rm->dfd);
	rm->dfd = -1;
}

/*
 * take - lock hash, check its row and rename its tree into tmp/.  On
 * success the removal holds both locks and the tree's flock; on failure
 * nothing is held and nothing changed.  -EBUSY (installing or pinned),
 * -ENOENT (no installed row), or the -errno of the lookup or the rename.
 */
static int take(struct store *s, struct removal *rm)
{
	struct store_info info;
	int r, tries;

	r = store_lock_hash(s, rm->hash, 0, &rm->lock);
	if (r == -ETIMEDOUT)
		return -EBUSY;
	if (r < 0)
		return r;
	if (store_ofd_lock(store_lock_fd(rm->lock), F_WRLCK, F_OFD_SETLK, STORE_LOCK_USE_BYTE,
		    1) < 0) {
		r = errno == EAGAIN || errno == EACCES ? -EBUSY : -errno;
		goto fail;
	}
	r = store_lookup(s, rm->hash, &info);
	if (r < 0)
		goto fail;
	store_info_release(&info);
	if (info.state != STORE_INSTALLED) {
		r = -ENOENT;
		goto fail;
	}
	rm->bytes = info.bytes;
	rm->dfd = openat(s->artifacts_fd, rm->hash,
		O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (rm->dfd < 0) {
		r = -errno;
		if (r == -ENOENT) {
			rm->bytes = 0;
			return 0;	/* a row without its tree: drop the row only */
		}
		store_seterr(s, r, "cannot open '%s/artifacts/%s': %s", s->dir, rm->hash,
			strerror(-r));
		goto fail;
	}
	if (flock(rm->dfd, LOCK_EX | LOCK_NB) < 0) {
		r = errno == EWOULDBLOCK ? -EBUSY : -errno;
		goto fail;
	}
	for (tries = 0;; tries++) {
		/* the hash copied apart: gcc sees a false overlap in one snprintf */
		memcpy(rm->tmpname, rm->hash, STORE_HASH_HEX);
		snprintf(rm->tmpname + STORE_HASH_HEX, sizeof(rm->tmpname) - STORE_HASH_HEX,
			".rm%016llx", (unsigned long long)random_id());
		if (store_sys_renameat(s->artifacts_fd, rm->hash, s->tmp_fd, rm->tmpname,
			    RENAME_NOREPLACE) == 0)
			break;
		r = -errno;
		if ((r == -EEXIST || r == -ENOTEMPTY) && tries < TMP_NAME_TRIES)
			continue;
		store_seterr(s, r, "cannot move '%s/artifacts/%s' to '%s/tmp/%s': %s", s->dir,
			rm->hash, s->dir, rm->tmpname, strerror(-r));
		goto fail;
	}
	rm->renamed = true;
	store_crash_point(s, "gc-after-rename");
	return 0;
fail:
	removal_release(rm);
	return r;
}

struct drop_op {
	struct removal *v;
	size_t n;
};

static int drop_rows(struct store *s, MDB_txn *txn, void *arg)
{
	struct drop_op *op = arg;
	size_t i;
	int rc;

	for (i = 0; i < op->n; i++) {
		rc = store_idx_del(s, txn, op->v[i].h);
		if (rc && rc != MDB_NOTFOUND)
			return rc;
	}
	return 0;
}

/*
 * finish - after the batch's transaction: r == 0, the rows are gone and the
 * locks are released (pins and installs may go on; the tree's flock keeps
 * reconcile away from it until it is deleted); r < 0, each renamed tree is
 * put back (its row is still there).  A tree that cannot be put back stays
 * in tmp/ with its row: once the flock is dropped, reconcile removes both,
 * a removal that completes late but never a partial tree.  Returns the
 * result for the caller: 0, -ENOENT (a row without a tree), or r.
 */
static int finish(struct store *s, struct removal *rm, int r)
{
	int rr;

	if (r < 0) {
		if (rm->renamed && store_sys_renameat(s->tmp_fd, rm->tmpname, s->artifacts_fd,
					   rm->hash, RENAME_NOREPLACE) < 0) {
			rr = -errno;
			store_seterr(s, rr, "cannot move '%s/tmp/%s' back: %s", s->dir,
				rm->tmpname, strerror(-rr));
		}
		removal_release(rm);
		return r;
	}
	store_unlock(rm->lock);
	rm->lock = NULL;
	if (!rm->renamed) {
		removal_release(rm);
		return -ENOENT;	/* there was no tree: nothing freed */
	}
	return 0;
}

/*
 * Deleting the trees.  On a filesystem that discards freed blocks at once
 * (ext4 mounted with -o discard, common on virtual disks), the last close
 * or unlink of each inode waits for its discard: about a millisecond per
 * inode, so deleting many small trees one after the other is slow, while
 * the device serves many discards at a time.  Measured on ext4 with discard
 * on a virtio disk: 1,111 one-file directories in 3.2 s with one rm -rf,
 * 889 in 0.34 s with 8 at once.  So the trees of a batch are deleted by up
 * to DELETE_THREADS threads; each one's result comes back in its struct
 * removal, and messages are recorded by the calling thread (store_errmsg()
 * is per thread).
 */
#define DELETE_THREADS 8

struct deleter {
	struct store *s;
	struct removal *v;
	size_t n;
	atomic_size_t next;
};

static void *delete_trees(void *arg)
{
	struct deleter *d = arg;
	struct removal *rm;
	size_t i;

	while ((i = atomic_fetch_add(&d->next, 1)) < d->n) {
		rm = &d->v[i];
		if (!rm->renamed || rm->lock)
			continue;	/* not removed: nothing to delete */
		rm->rm_err = store_rmtree(d->s->tmp_fd, rm->tmpname);
		close(rm->dfd);	/* the last reference: the inode goes now */
		rm->dfd = -1;
	}
	return NULL;
}

static void delete_batch(struct store *s, struct removal *v, size_t n)
{
	struct deleter d = { s, v, n, 0 };
	pthread_t th[DELETE_THREADS];
	size_t i, want = 0, started = 0;

	for (i = 0; i < n; i++)
		want += v[i].renamed && !v[i].lock;
	if (want > DELETE_THREADS)
		want = DELETE_THREADS;
	for (i = 1; i < want; i++) {
		if (pthread_create(&th[started], NULL, delete_trees, &d) != 0)
			break;
		started++;
	}
	delete_trees(&d);	/* this thread works too */
	for (i = 0; i < started; i++)
		pthread_join(th[i], NULL);
	for (i = 0; i < n; i++) {
		/* the artifact is gone all the same; store_tmp_sweep() retries */
		if (v[i].rm_err < 0 && v[i].rm_err != -ENOENT)
			store_seterr(s, v[i].rm_err, "cannot delete '%s/tmp/%s': %s", s->dir,
				v[i].tmpname, strerror(-v[i].rm_err));
	}
}

int store_remove_many(struct store *s, const char *const *hashes, size_t n, int *results,
	uint64_t *freed)
{
	struct removal batch[REMOVE_BATCH];
	struct drop_op op = { batch, 0 };
	size_t i = 0, k, removed = 0;
	int r, res;

	if (!s || (n && !hashes))
		return -EINVAL;
	if ((s->flags & STORE_RDONLY) || s->tmp_fd < 0)
		return store_seterr(s, -EROFS, "store '%s' is open read-only", s->dir);
	while (i < n) {
		for (op.n = 0; i < n && op.n < REMOVE_BATCH; i++) {
			struct removal *rm = &batch[op.n];

			memset(rm, 0, sizeof(*rm));
			rm->index = i;
			rm->dfd = -1;
			if (freed)
				freed[i] = 0;
			r = store_hash_parse(hashes[i], rm->h);
			if (r == 0) {
				memcpy(rm->hash, hashes[i], sizeof(rm->hash));
				r = take(s, rm);
			}
			if (results)
				results[i] = r;
			if (r == 0)
				op.n++;
		}
		if (!op.n)
			continue;
		r = store_idx_write(s, drop_rows, &op);
		for (k = 0; k < op.n; k++) {
			res = finish(s, &batch[k], r);
			if (results)
				results[batch[k].index] = res;
			if (res == 0) {
				if (freed)
					freed[batch[k].index] = batch[k].bytes;
				removed++;
			}
		}
		if (r == 0)
			delete_batch(s, batch, op.n);
		for (k = 0; k < op.n; k++)
			removal_release(&batch[k]);
	}
	return removed > INT32_MAX ? INT32_MAX : (int)removed;
}

int store_remove(struct store *s, const char *hash, uint64_t *freed)
{
	uint64_t f = 0;
	int r, res = 0;

	if (!s || !store_hash_valid(hash))
		return -EINVAL;
	r = store_remove_many(s, &hash, 1, &res, &f);
	if (r < 0)
		return r;
	if (res == 0 && freed)
		*freed = f;
	return res;
}

/*
 * A tree removed by hand (rm -rf artifacts/<hash>) leaves an installed row
 * behind.  Its row goes under the install lock, so that an install of the
 * hash that runs meanwhile (and puts the tree back) keeps its row.
 */
int store_drop_missing(struct store *s, const char *hash)
{
	struct removal rm;
	struct drop_op op = { &rm, 1 };
	struct store_info info;
	struct stat st;
	int r;

	if (!s || !store_hash_valid(hash))
		return -EINVAL;
	if ((s->flags & STORE_RDONLY) || s->tmp_fd < 0)
		return store_seterr(s, -EROFS, "store '%s' is open read-only", s->dir);
	memset(&rm, 0, sizeof(rm));
	rm.dfd = -1;
	r = store_hash_parse(hash, rm.h);
	if (r < 0)
		return r;
	r = store_lock_hash(s, hash, 0, &rm.lock);
	if (r == -ETIMEDOUT)
		return -EBUSY;
	if (r < 0)
		return r;
	r = store_lookup(s, hash, &info);
	if (r < 0) {
		r = r == -ENOENT ? 0 : r;
		goto out;
	}
	store_info_release(&info);
	r = 0;
	if (info.state != STORE_INSTALLED)
		goto out;
	if (fstatat(s->artifacts_fd, hash, &st, AT_SYMLINK_NOFOLLOW) == 0 || errno != ENOENT)
		goto out;
	r = store_idx_write(s, drop_rows, &op);
	if (r == 0)
		r = 1;
out:
	removal_release(&rm);
	return r;
}

/* ---- LRU eviction ------------------------------------------------------------- */

struct lru_row {
	int64_t last_access;
	uint64_t bytes;
	char hash[STORE_HASH_HEX + 1];
};

struct lru {
	struct lru_row *v;
	size_t n, cap;
	uint64_t total;
};

static int lru_collect(const char *hash, const struct store_info *info, void *arg)
{
	struct lru *l = arg;
	struct lru_row *v;

	if (info->state != STORE_INSTALLED)
		return 0;
	if (l->n == l->cap) {
		v = realloc(l->v, (l->cap ? 2 * l->cap : 1024) * sizeof(*v));
		if (!v)
			return -ENOMEM;
		l->v = v;
		l->cap = l->cap ? 2 * l->cap : 1024;
	}
	v = &l->v[l->n++];
	v->last_access = info->last_access;
	v->bytes = info->bytes;
	memcpy(v->hash, hash, sizeof(v->hash));
	l->total += info->bytes;
	return 0;
}

/* oldest access first; the hash breaks ties, so the order is stable */
static int lru_cmp(const void *a, const void *b)
{
	const struct lru_row *x = a, *y = b;

	if (x->last_access != y->last_access)
		return x->last_access < y->last_access ? -1 : 1;
	return strcmp(x->hash, y->hash);
}

/*
 * A full scan of the index and a sort: 100,000 rows take a few tens of
 * milliseconds (tests/bench/bench-gc.sh), far less than the removals.  The
 * walk collects first and removes after, as store_foreach() asks.
 */
int store_evict_lru(struct store *s, uint64_t target,
		    bool (*skip)(const char *hash, void *arg), void *arg,
		    uint64_t *freed, unsigned *removed)
{
	const char *batch[REMOVE_BATCH];
	size_t idx[REMOVE_BATCH], i = 0, nb, k;
	uint64_t fr[REMOVE_BATCH], left, planned, gone = 0;
	int res[REMOVE_BATCH], r, first = 0;
	struct lru l = { 0 };
	unsigned count = 0;

	if (!s)
		return -EINVAL;
	if (s->flags & STORE_RDONLY)
		return store_seterr(s, -EROFS, "store '%s' is open read-only", s->dir);
	store_flush_access(s);	/* this process's own recent uses count too */
	r = store_foreach(s, lru_collect, &l);
	if (r < 0)
		goto out;
	if (l.n)	/* l.v is NULL when the index is empty */
		qsort(l.v, l.n, sizeof(*l.v), lru_cmp);
	left = l.total;
	while (left > target && i < l.n) {
		for (nb = 0, planned = 0; i < l.n && nb < REMOVE_BATCH && planned < left - target;
			i++) {
			if (skip && skip(l.v[i].hash, arg))
				continue;
			idx[nb] = i;
			batch[nb++] = l.v[i].hash;
			planned += l.v[i].bytes;
		}
		if (!nb)
			break;
		store_remove_many(s, batch, nb, res, fr);
		for (k = 0; k < nb; k++) {
			if (res[k] == 0) {
				gone += fr[k];
				count++;
			}
			if (res[k] == 0 || res[k] == -ENOENT) {
				/* removed, by us or by someone else meanwhile */
				left -= l.v[idx[k]].bytes < left ? l.v[idx[k]].bytes : left;
			} else if (res[k] != -EBUSY && !first) {
				first = res[k];
			}
		}
	}
	r = left <= target ? 0 : first ? first : -ENOSPC;
out:
	free(l.v);
	if (freed)
		*freed = gone;
	if (removed)
		*removed = count;
	return r;
}

/* ---- tmp/ and quarantine/ ------------------------------------------------------ */

/* quarantine_time - the time of "<40 hex>.<time>[.<n>]", or -1. */
static int64_t quarantine_time(const char *name)
{
	const char *p = name + STORE_HASH_HEX + 1;
	int64_t t = 0;
	int digits = 0;

	if (!store_is_tmp_name(name))
		return -1;
	for (; *p >= '0' && *p <= '9' && digits < 18; p++, digits++)
		t = t * 10 + (*p - '0');
	if (!digits)
		return -1;
	if (*p == '.') {
		for (p++, digits = 0; *p >= '0' && *p <= '9'; p++)
			digits++;
		if (!digits)
			return -1;
	}
	return *p ? -1 : t;
}

static bool is_quarantine_name(const char *name)
{
	return quarantine_time(name) >= 0;
}

/* entry_bytes - the regular file bytes under dirfd/name (0 when unknown). */
static uint64_t entry_bytes(int dirfd, const char *name)
{
	uint64_t bytes = 0, files;
	struct stat st;

	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return 0;
	if (!S_ISDIR(st.st_mode))
		return S_ISREG(st.st_mode) ? (uint64_t)st.st_size : 0;
	if (store_tree_stats(dirfd, name, &bytes, &files) < 0)
		return 0;	/* only informative */
	return bytes;
}

/*
 * tmp_dead - true when no live installer or removal owns tmp/<name>: its
 * hash lock is free and its flock can be taken (store_install_begin()).  A
 * writable store takes both and keeps them in *lock and *fd until the
 * entry is gone; a STORE_RDONLY store only tests them.
 */
static int tmp_dead(struct store *s, const char *name, struct store_lock **lock, int *fd)
{
	char hash[STORE_HASH_HEX + 1], lname[STORE_HASH_HEX + sizeof(".lock")];
	bool dry = s->flags & STORE_RDONLY;
	int lfd, r;

	*lock = NULL;
	*fd = -1;
	memcpy(hash, name, STORE_HASH_HEX);
	hash[STORE_HASH_HEX] = '\0';
	if (!dry) {
		r = store_lock_hash(s, hash, 0, lock);
		if (r == -ETIMEDOUT)
			return 0;
		if (r < 0)
			return r;
	} else if (s->locks_fd >= 0) {
		struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET,
			.l_start = STORE_LOCK_INSTALL_BYTE, .l_len = 1 };

		snprintf(lname, sizeof(lname), "%s.lock", hash);
		lfd = openat(s->locks_fd, lname, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		if (lfd >= 0) {
			r = fcntl(lfd, F_OFD_GETLK, &fl);
			close(lfd);
			if (r == 0 && fl.l_type != F_UNLCK)
				return 0;
		}
	}
	*fd = openat(s->tmp_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (*fd < 0) {
		r = errno;
		if (r == ENOTDIR || r == ELOOP)
			return 1;	/* not a directory: nobody's tree */
		store_unlock(*lock);
		*lock = NULL;
		return r == ENOENT ? 0 : -r;
	}
	if (flock(*fd, LOCK_EX | LOCK_NB) < 0) {
		r = errno == EWOULDBLOCK ? 0 : -errno;
		goto busy;
	}
	if (dry)
		flock(*fd, LOCK_UN);
	return 1;
busy:
	close(*fd);
	*fd = -1;
	store_unlock(*lock);
	*lock = NULL;
	return r;
}

/* sweep_one - remove dirfd/name (or only count it when dry); 1 when it went. */
static int sweep_one(struct store *s, int dirfd, const char *dirname, const char *name,
	uint64_t *bytes)
{
	int r;

	*bytes = entry_bytes(dirfd, name);
	if (s->flags & STORE_RDONLY)
		return 1;
	r = store_rmtree(dirfd, name);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return store_seterr(s, r, "cannot remove '%s/%s/%s': %s", s->dir, dirname, name,
			strerror(-r));
	return 1;
}

/* A sweep's running totals: entries removed, their bytes, the first error. */
struct sweep {
	uint64_t total;
	unsigned count;
	int first;
};

/* list_swept - the names in s's dir dirname that keep() accepts, into *ns. */
static void list_swept(struct store *s, struct sweep *sw, int dirfd, const char *dirname,
	bool (*keep)(const char *name), struct store_names *ns)
{
	int r;

	r = store_list_names(dirfd, keep, ns);
	if (r < 0 && !sw->first)
		sw->first = store_seterr(s, r, "cannot read '%s/%s': %s", s->dir, dirname,
			strerror(-r));
}

/* count_swept - add sweep_one()'s answer r (bytes removed when r > 0). */
static void count_swept(struct sweep *sw, int r, uint64_t bytes)
{
	if (r > 0) {
		sw->count++;
		sw->total += bytes;
	} else if (r < 0 && !sw->first) {
		sw->first = r;
	}
}

int store_tmp_sweep(struct store *s, int64_t min_age, uint64_t *freed)
{
	struct store_names ns = { 0 };
	struct sweep sw = { 0 };
	struct store_lock *lock;
	int64_t now = store_now();
	uint64_t bytes = 0;
	int r, fd;
	size_t i;

	if (!s || min_age < 0)
		return -EINVAL;
	if (s->tmp_fd >= 0) {
		list_swept(s, &sw, s->tmp_fd, "tmp", store_is_tmp_name, &ns);
		for (i = 0; i < ns.n; i++) {
			r = tmp_dead(s, ns.v[i], &lock, &fd);
			if (r > 0)
				r = sweep_one(s, s->tmp_fd, "tmp", ns.v[i], &bytes);
			if (fd >= 0)
				close(fd);
			store_unlock(lock);
			count_swept(&sw, r, bytes);
		}
		store_names_free(&ns);
		r = store_partial_sweep(s, &bytes);
		if (r > 0) {
			sw.count += (unsigned)r;
			sw.total += bytes;
		} else if (r < 0 && !sw.first) {
			sw.first = r;
		}
	}
	if (s->quarantine_fd >= 0) {
		list_swept(s, &sw, s->quarantine_fd, "quarantine", is_quarantine_name, &ns);
		for (i = 0; i < ns.n; i++) {
			if (now - quarantine_time(ns.v[i]) < min_age)
				continue;
			r = sweep_one(s, s->quarantine_fd, "quarantine", ns.v[i], &bytes);
			count_swept(&sw, r, bytes);
		}
		store_names_free(&ns);
	}
	if (freed)
		*freed = sw.total;
	if (sw.first)
		return sw.first;
	return sw.count > INT32_MAX ? INT32_MAX : (int)sw.count;
}
