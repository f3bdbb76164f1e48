/*
 * index.c - the LMDB index: environment, map growth, rows, counters and
 * access times (the rows of the gc roots: roots.c)
 *
 * One environment in <store>/index/, opened with MDB_NOTLS so that read
 * transactions are not tied to threads (the FUSE daemon's worker threads
 * come and go) and can be reset and reused from a small pool.  Four named
 * databases:
 *
 *   artifacts  key: the 20-byte binary tree hash (so byte order is hex
 *              order); value: a versioned fixed header and the source URL
 *              (struct layout below)
 *   roots      key: an absolute path, no NUL; value: int64 last seen
 *   counters   key: a name ("artifacts", "bytes", "installs", "failures",
 *              "schema"); value: uint64
 *   pending    key: the 20-byte tree hash; value: the mark of a commit not
 *              yet durable (durable.c)
 *
 * Values are in host byte order: an LMDB file is not portable across
 * endianness anyway.  LMDB codes become -errno here and nowhere else
 * (store_mdb_errno).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1	/* pthread_rwlockattr_setkind_np */
#endif

#include "store/internal.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define INDEX_SCHEMA 1			/* counters "schema": the layout below */
#define MAPSIZE_NEW (64u << 20)		/* initial map of a new index: 64 MiB */
#define GROW_MAX 4			/* doublings one write may ask for */
#define RESIZED_MAX 4			/* MDB_MAP_RESIZED retries */
#define ACCESS_MAX (1u << 16)		/* pending access times kept at most */

/*
 * Row layout, version 1.  hdr_len lets a later version append fields to the
 * header while a version-1 reader still finds these at the same offsets.
 */
enum {
	ROW_VERSION = 1,
	ROW_OFF_VERSION = 0,	/* u8 */
	ROW_OFF_STATE = 1,	/* u8, enum store_state */
	ROW_OFF_HDR_LEN = 2,	/* u16, offset of the source URL */
	ROW_OFF_FLAGS = 4,	/* u32, ROW_F_* */
	ROW_OFF_BYTES = 8,	/* u64 */
	ROW_OFF_FILES = 16,	/* u64 */
	ROW_OFF_INSTALLED = 24,	/* i64 */
	ROW_OFF_ACCESS = 32,	/* i64 */
	ROW_OFF_ORPHANED = 40,	/* i64 */
	ROW_OFF_SHA256 = 48,	/* 32 bytes */
	ROW_OFF_SRC_LEN = 80,	/* u32, bytes of the URL without its NUL */
	ROW_HDR_V1 = 88,	/* then the URL and a NUL when ROW_F_SOURCE */
	ROW_F_SHA256 = 1 << 0,
	ROW_F_SOURCE = 1 << 1,
};

/* ---- error codes ------------------------------------------------------------ */

int store_mdb_errno(int rc)
{
	if (rc == 0)
		return 0;
	if (rc == MDB_NOTFOUND)
		return -ENOENT;
	if (rc == MDB_MAP_FULL)
		return -ENOSPC;
	if (rc > 0)
		return -rc;	/* a system error LMDB passed on */
	return -EIO;		/* other MDB_* codes */
}

/* ---- map growth ------------------------------------------------------------- */

/*
 * Map growth.  mdb_env_set_mapsize() unmaps and maps the file again, so no
 * transaction of this process may be running: every read and write
 * transaction holds maplock shared for its whole life and a resize holds it
 * exclusive.  A write that fails with MDB_MAP_FULL aborts, releases its
 * shared hold, doubles the map under the exclusive hold (unless another
 * thread already grew it past the size that failed) and runs again.  When
 * another process grew the file, mdb_txn_begin() says MDB_MAP_RESIZED and we
 * adopt its size with mdb_env_set_mapsize(env, 0), also exclusive.
 *
 * Readers never wait for one another or for LMDB's writer.  They wait only
 * while a resize is pending or running: maplock prefers writers, because
 * with the default reader preference a steady stream of FUSE lookups could
 * starve a resize, and every write with it, for ever.  Resizes are rare (the
 * map doubles) and wait only for the transactions already running, which
 * are short unless a store_foreach() callback works long.
 *
 * A writer-preferring rwlock deadlocks when a thread that holds it shared
 * asks for it shared again while a resize waits, e.g. a store_lookup() inside
 * a store_foreach() callback.  So each thread counts its holds per store
 * (held[] below) and only the first one takes the rwlock.  For the same
 * reason a thread that holds maplock cannot take it exclusive: such a write
 * (inside a store_foreach() callback) fails with -ENOSPC instead of growing.
 *
 * Lock order: maplock, then LMDB's writer mutex (inside mdb_txn_begin); a
 * thread never waits for maplock while it holds the writer mutex, because a
 * write transaction is over before its resize starts.
 */
#define HELD_SLOTS 4	/* stores one thread holds at once, tracked */

static __thread struct held {
	uint64_t id;	/* store id */
	unsigned depth;	/* shared holds of this thread; 0: free slot */
} held[HELD_SLOTS];

static struct held *held_find(const struct store *s)
{
	unsigned i;

	for (i = 0; i < HELD_SLOTS; i++)
		if (held[i].depth && held[i].id == s->id)
			return &held[i];
	return NULL;
}

static void maplock_shared(struct store *s)
{
	struct held *h = held_find(s);
	unsigned i;

	if (h) {
		h->depth++;	/* already held by this thread: no second rdlock */
		return;
	}
	pthread_rwlock_rdlock(&s->maplock);
	for (i = 0; i < HELD_SLOTS; i++) {
		if (!held[i].depth) {
			held[i].id = s->id;
			held[i].depth = 1;
			return;
		}
	}
	/* more than HELD_SLOTS stores at once: held, but not tracked */
}

static void maplock_release(struct store *s)
{
	struct held *h = held_find(s);

	if (h && --h->depth)
		return;
	pthread_rwlock_unlock(&s->maplock);
}

/* map_resize - grow the map from seen bytes to twice that, or adopt (seen 0). */
static int map_resize(struct store *s, size_t seen)
{
	MDB_envinfo info;
	int rc = 0;

	if (held_find(s))
		return seen ? MDB_MAP_FULL : MDB_MAP_RESIZED;
	pthread_rwlock_wrlock(&s->maplock);
	if (!seen) {
		rc = mdb_env_set_mapsize(s->env, 0);
	} else {
		mdb_env_info(s->env, &info);
		if (info.me_mapsize == seen && seen <= SIZE_MAX / 2)
			rc = mdb_env_set_mapsize(s->env, seen * 2);
	}
	pthread_rwlock_unlock(&s->maplock);
	return rc;
}

/* ---- transactions --------------------------------------------------------- */

static MDB_txn *pool_get(struct store *s)
{
	MDB_txn *txn = NULL;

	pthread_mutex_lock(&s->pool_mu);
	if (s->npool)
		txn = s->pool[--s->npool];
	pthread_mutex_unlock(&s->pool_mu);
	return txn;
}

static bool pool_put(struct store *s, MDB_txn *txn)
{
	bool kept = false;

	pthread_mutex_lock(&s->pool_mu);
	if (s->npool < STORE_POOL_MAX) {
		s->pool[s->npool++] = txn;
		kept = true;
	}
	pthread_mutex_unlock(&s->pool_mu);
	return kept;
}

int store_idx_read_begin(struct store *s, MDB_txn **ret)
{
	MDB_txn *txn;
	int rc, tries;

	for (tries = 0;; tries++) {
		txn = pool_get(s);
		maplock_shared(s);
		if (txn) {
			rc = mdb_txn_renew(txn);
			if (rc) {
				mdb_txn_abort(txn);
				txn = NULL;
			}
		} else {
			rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn);
		}
		if (rc == 0) {
			*ret = txn;
			return 0;
		}
		maplock_release(s);
		if (rc != MDB_MAP_RESIZED || tries >= RESIZED_MAX)
			break;
		rc = map_resize(s, 0);
		if (rc)
			break;
	}
	return store_seterr(s, store_mdb_errno(rc), "cannot read the index of '%s': %s", s->dir,
		mdb_strerror(rc));
}

void store_idx_read_end(struct store *s, MDB_txn *txn)
{
	mdb_txn_reset(txn);
	maplock_release(s);
	if (!pool_put(s, txn))
		mdb_txn_abort(txn);
}

int store_idx_write(struct store *s, store_idx_write_fn fn, void *arg)
{
	MDB_envinfo info = { 0 };
	int rc, grown = 0, resized = 0;
	MDB_txn *txn;

	if (s->flags & STORE_RDONLY)
		return store_seterr(s, -EROFS, "store '%s' is open read-only", s->dir);
	for (;;) {
		maplock_shared(s);
		rc = mdb_txn_begin(s->env, NULL, 0, &txn);
		if (rc == 0) {
			rc = fn(s, txn, arg);
			if (rc == 0)
				rc = mdb_txn_commit(txn);
			else
				mdb_txn_abort(txn);
		}
		if (rc == MDB_MAP_FULL)
			mdb_env_info(s->env, &info);
		maplock_release(s);
		if (rc == MDB_MAP_RESIZED && resized++ < RESIZED_MAX) {
			rc = map_resize(s, 0);
			if (rc == 0)
				continue;
		} else if (rc == MDB_MAP_FULL && grown++ < GROW_MAX) {
			rc = map_resize(s, info.me_mapsize);
			if (rc == 0)
				continue;
		}
		break;
	}
	if (rc == 0)
		return 0;
	/* when fn recorded a better message, it stays (first error wins) */
	return store_seterr(s, store_mdb_errno(rc), "cannot write the index of '%s': %s", s->dir,
		mdb_strerror(rc));
}

/* ---- rows ----------------------------------------------------------------- */

static uint64_t get_u64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static void put_u64(uint8_t *p, uint64_t v)
{
	memcpy(p, &v, sizeof(v));
}

static int row_decode(const MDB_val *v, struct store_info *info)
{
	const uint8_t *p = v->mv_data;
	uint16_t hdr_len;
	uint32_t flags, src_len;

	if (v->mv_size < ROW_HDR_V1 || p[ROW_OFF_VERSION] < ROW_VERSION)
		return MDB_CORRUPTED;
	memcpy(&hdr_len, p + ROW_OFF_HDR_LEN, sizeof(hdr_len));
	memcpy(&flags, p + ROW_OFF_FLAGS, sizeof(flags));
	memcpy(&src_len, p + ROW_OFF_SRC_LEN, sizeof(src_len));
	if (hdr_len < ROW_HDR_V1 || hdr_len > v->mv_size)
		return MDB_CORRUPTED;
	memset(info, 0, sizeof(*info));
	info->state = p[ROW_OFF_STATE];
	info->bytes = get_u64(p + ROW_OFF_BYTES);
	info->files = get_u64(p + ROW_OFF_FILES);
	info->installed = (int64_t)get_u64(p + ROW_OFF_INSTALLED);
	info->last_access = (int64_t)get_u64(p + ROW_OFF_ACCESS);
	info->orphaned = (int64_t)get_u64(p + ROW_OFF_ORPHANED);
	if (flags & ROW_F_SHA256)
		hash_to_hex(p + ROW_OFF_SHA256, HASH_SHA256_LEN, info->tarball_sha256);
	if (flags & ROW_F_SOURCE) {
		if ((size_t)src_len + 1 > v->mv_size - hdr_len || p[hdr_len + src_len] != '\0')
			return MDB_CORRUPTED;
		info->source = (char *)(p + hdr_len);	/* borrowed from the map */
	}
	return 0;
}

int store_idx_get(struct store *s, MDB_txn *txn, const uint8_t hash[STORE_HASH_LEN],
	struct store_info *info)
{
	MDB_val key = { STORE_HASH_LEN, (void *)hash }, val;
	int rc;

	rc = mdb_get(txn, s->dbi_artifacts, &key, &val);
	if (rc == 0)
		rc = row_decode(&val, info);
	return rc;
}

static int row_put(struct store *s, MDB_txn *txn, const uint8_t hash[STORE_HASH_LEN],
	const struct store_info *info)
{
	MDB_val key = { STORE_HASH_LEN, (void *)hash }, val;
	size_t src_len = info->source ? strlen(info->source) : 0;
	uint32_t flags = 0, len32 = (uint32_t)src_len;
	uint16_t hdr_len = ROW_HDR_V1;
	uint8_t *p;
	int rc;

	if (src_len > UINT32_MAX - 1)
		return EINVAL;
	val.mv_size = ROW_HDR_V1 + (info->source ? src_len + 1 : 0);
	rc = mdb_put(txn, s->dbi_artifacts, &key, &val, MDB_RESERVE);
	if (rc)
		return rc;
	p = val.mv_data;
	memset(p, 0, ROW_HDR_V1);
	p[ROW_OFF_VERSION] = ROW_VERSION;
	p[ROW_OFF_STATE] = (uint8_t)info->state;
	memcpy(p + ROW_OFF_HDR_LEN, &hdr_len, sizeof(hdr_len));
	put_u64(p + ROW_OFF_BYTES, info->bytes);
	put_u64(p + ROW_OFF_FILES, info->files);
	put_u64(p + ROW_OFF_INSTALLED, (uint64_t)info->installed);
	put_u64(p + ROW_OFF_ACCESS, (uint64_t)info->last_access);
	put_u64(p + ROW_OFF_ORPHANED, (uint64_t)info->orphaned);
	if (info->tarball_sha256[0] &&
	    hash_from_hex(info->tarball_sha256, STORE_SHA256_HEX, p + ROW_OFF_SHA256,
		    HASH_SHA256_LEN) == 0)
		flags |= ROW_F_SHA256;
	if (info->source) {
		flags |= ROW_F_SOURCE;
		memcpy(p + ROW_HDR_V1, info->source, src_len + 1);
	}
	memcpy(p + ROW_OFF_FLAGS, &flags, sizeof(flags));
	memcpy(p + ROW_OFF_SRC_LEN, &len32, sizeof(len32));
	return 0;
}

/* counted - what a row adds to the "artifacts" and "bytes" counters. */
static void counted(const struct store_info *info, int64_t *n, int64_t *bytes)
{
	bool in = info && info->state == STORE_INSTALLED;

	*n = in ? 1 : 0;
	*bytes = in ? (int64_t)info->bytes : 0;
}

static int counters_move(struct store *s, MDB_txn *txn, const struct store_info *old,
	const struct store_info *new)
{
	int64_t n0, b0, n1, b1;
	int rc = 0;

	counted(old, &n0, &b0);
	counted(new, &n1, &b1);
	if (n1 != n0)
		rc = store_idx_counter_add(s, txn, "artifacts", n1 - n0);
	if (rc == 0 && b1 != b0)
		rc = store_idx_counter_add(s, txn, "bytes", b1 - b0);
	return rc;
}

int store_idx_put(struct store *s, MDB_txn *txn, const uint8_t hash[STORE_HASH_LEN],
	const struct store_info *info)
{
	struct store_info old;
	bool had;
	int rc;

	rc = store_idx_get(s, txn, hash, &old);
	if (rc && rc != MDB_NOTFOUND && rc != MDB_CORRUPTED)
		return rc;
	had = rc == 0;
	rc = counters_move(s, txn, had ? &old : NULL, info);
	if (rc == 0)
		rc = row_put(s, txn, hash, info);
	return rc;
}

int store_idx_del(struct store *s, MDB_txn *txn, const uint8_t hash[STORE_HASH_LEN])
{
	MDB_val key = { STORE_HASH_LEN, (void *)hash };
	struct store_info old;
	int rc;

	rc = store_idx_get(s, txn, hash, &old);
	if (rc && rc != MDB_CORRUPTED)
		return rc;
	rc = counters_move(s, txn, rc == 0 ? &old : NULL, NULL);
	if (rc == 0)
		rc = mdb_del(txn, s->dbi_artifacts, &key, NULL);
	return rc;
}

struct set_op {
	const uint8_t *hash;
	const struct store_info *info;
	int64_t installs;
	int mark;		/* 1: mark unsynced, -1: unmark, 0: leave the mark */
};

static int set_row(struct store *s, MDB_txn *txn, void *arg)
{
	struct set_op *op = arg;
	int rc;

	rc = store_idx_put(s, txn, op->hash, op->info);
	if (rc == 0 && op->installs)
		rc = store_idx_counter_add(s, txn, "installs", op->installs);
	if (rc == 0 && op->mark > 0)
		rc = store_pending_put(s, txn, op->hash);
	else if (rc == 0 && op->mark < 0)
		rc = store_pending_del(s, txn, op->hash);
	return rc;
}

int store_idx_set(struct store *s, const uint8_t hash[STORE_HASH_LEN],
	const struct store_info *info, int64_t installs)
{
	struct set_op op = { hash, info, installs, 0 };

	return store_idx_write(s, set_row, &op);
}

int store_idx_set_tree(struct store *s, const uint8_t hash[STORE_HASH_LEN],
	const struct store_info *info, int64_t installs, bool synced)
{
	struct set_op op = { hash, info, installs, synced ? -1 : 1 };

	return store_idx_write(s, set_row, &op);
}

/* ---- counters ------------------------------------------------------------- */

static int counter_get(struct store *s, MDB_txn *txn, const char *name, uint64_t *ret)
{
	MDB_val key = { strlen(name), (void *)name }, val;
	int rc;

	*ret = 0;
	rc = mdb_get(txn, s->dbi_counters, &key, &val);
	if (rc == MDB_NOTFOUND)
		return 0;
	if (rc)
		return rc;
	if (val.mv_size != sizeof(uint64_t))
		return MDB_CORRUPTED;
	*ret = get_u64(val.mv_data);
	return 0;
}

static int counter_set(struct store *s, MDB_txn *txn, const char *name, uint64_t v)
{
	MDB_val key = { strlen(name), (void *)name }, val = { sizeof(v), &v };

	return mdb_put(txn, s->dbi_counters, &key, &val, 0);
}

int store_idx_counter_add(struct store *s, MDB_txn *txn, const char *name, int64_t delta)
{
	uint64_t v;
	int rc;

	rc = counter_get(s, txn, name, &v);
	if (rc)
		return rc;
	if (delta < 0 && (uint64_t)-delta > v)
		v = 0;	/* never wrap below zero, even after a lost update */
	else
		v += (uint64_t)delta;
	return counter_set(s, txn, name, v);
}

int store_stats(struct store *s, struct store_stats *ret)
{
	struct store_stats st;
	MDB_txn *txn;
	int r, rc;

	r = store_idx_read_begin(s, &txn);
	if (r < 0)
		return r;
	rc = counter_get(s, txn, "artifacts", &st.artifacts);
	if (rc == 0)
		rc = counter_get(s, txn, "bytes", &st.bytes);
	if (rc == 0)
		rc = counter_get(s, txn, "installs", &st.installs);
	if (rc == 0)
		rc = counter_get(s, txn, "failures", &st.failures);
	store_idx_read_end(s, txn);
	if (rc)
		return store_seterr(s, store_mdb_errno(rc), "cannot read the counters of '%s': %s",
			s->dir, mdb_strerror(rc));
	*ret = st;
	return 0;
}

static int add_failure(struct store *s, MDB_txn *txn, void *arg)
{
	return store_idx_counter_add(s, txn, "failures", 1);
}

int store_count_failure(struct store *s)
{
	return store_idx_write(s, add_failure, NULL);
}

/* ---- open and close ----------------------------------------------------- */

static int open_dbis(struct store *s, MDB_txn *txn, bool rdonly)
{
	unsigned f = rdonly ? 0 : MDB_CREATE;
	uint64_t schema;
	int rc;

	rc = mdb_dbi_open(txn, "artifacts", f, &s->dbi_artifacts);
	if (rc == 0)
		rc = mdb_dbi_open(txn, "roots", f, &s->dbi_roots);
	if (rc == 0)
		rc = mdb_dbi_open(txn, "counters", f, &s->dbi_counters);
	if (rc == 0) {
		/* added later: an older index opened read-only has none */
		rc = mdb_dbi_open(txn, "pending", f, &s->dbi_pending);
		s->has_pending_db = rc == 0;
		if (rc == MDB_NOTFOUND && rdonly)
			rc = 0;
	}
	if (rc == 0)
		rc = counter_get(s, txn, "schema", &schema);
	if (rc == 0 && schema == 0 && !rdonly)
		rc = counter_set(s, txn, "schema", schema = INDEX_SCHEMA);
	if (rc == 0 && schema > INDEX_SCHEMA)
		rc = EPROTO;
	return rc;
}

int store_idx_open(struct store *s, bool fresh, char *msg, size_t size)
{
	bool rdonly = s->flags & STORE_RDONLY;
	const char *knob = getenv("ARTIFACTFS_TEST_MAPSIZE");
	char path[PATH_MAX];
	MDB_txn *txn;
	int rc, dead;

	if (snprintf(path, sizeof(path), "%s/index", s->dir) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	rc = mdb_env_create(&s->env);
	if (rc)
		goto out;
	rc = mdb_env_set_maxdbs(s->env, 8);
	if (rc == 0)
		rc = mdb_env_set_maxreaders(s->env, 510);
	/*
	 * A new index starts with MAPSIZE_NEW; an existing one keeps the size
	 * recorded in it (LMDB uses it when none is set).  The test knob sets
	 * a tiny map to exercise growth; LMDB rounds it up to the data size.
	 */
	if (rc == 0 && knob && *knob)
		rc = mdb_env_set_mapsize(s->env, (size_t)strtoull(knob, NULL, 0));
	else if (rc == 0 && fresh)
		rc = mdb_env_set_mapsize(s->env, MAPSIZE_NEW);
	if (rc == 0)
		rc = mdb_env_open(s->env, path,
			MDB_NOTLS | (rdonly ? MDB_RDONLY : 0) | (s->no_fsync ? MDB_NOSYNC : 0),
			0644);
	if (rc)
		goto out;
	/* free the reader slots of processes that died in a read transaction */
	mdb_reader_check(s->env, &dead);
	rc = mdb_txn_begin(s->env, NULL, rdonly ? MDB_RDONLY : 0, &txn);
	if (rc)
		goto out;
	rc = open_dbis(s, txn, rdonly);
	if (rc == 0)
		rc = mdb_txn_commit(txn);
	else
		mdb_txn_abort(txn);
out:
	if (rc == 0)
		return 0;
	if (rc == EPROTO)
		snprintf(msg, size, "index of '%s' has a newer format than this program reads",
			s->dir);
	else if (rc == MDB_NOTFOUND)
		snprintf(msg, size, "no store at '%s': the index is empty", s->dir);
	else
		snprintf(msg, size, "cannot open index '%s': %s", path, mdb_strerror(rc));
	if (s->env)
		mdb_env_close(s->env);
	s->env = NULL;
	return rc == EPROTO ? -EIO : store_mdb_errno(rc);
}

void store_idx_close(struct store *s)
{
	unsigned i;

	if (!s->env)
		return;
	for (i = 0; i < s->npool; i++)
		mdb_txn_abort(s->pool[i]);
	s->npool = 0;
	mdb_env_close(s->env);
	s->env = NULL;
}

/* ---- lookup and walk ------------------------------------------------------ */

void store_info_release(struct store_info *info)
{
	if (!info)
		return;
	free(info->source);
	info->source = NULL;
}

int store_lookup(struct store *s, const char *hash, struct store_info *ret)
{
	uint8_t h[STORE_HASH_LEN];
	struct store_info info;
	MDB_txn *txn;
	int r, rc;

	if (store_hash_parse(hash, h) < 0)
		return -EINVAL;
	r = store_idx_read_begin(s, &txn);
	if (r < 0)
		return r;
	rc = store_idx_get(s, txn, h, &info);
	if (rc == 0 && store_pending_foreign(s, txn, h))
		rc = MDB_NOTFOUND;	/* to be checked again first (durable.c) */
	if (rc == 0 && info.source) {
		info.source = strdup(info.source);
		if (!info.source)
			rc = ENOMEM;
	}
	store_idx_read_end(s, txn);
	if (rc == MDB_NOTFOUND)
		return -ENOENT;
	if (rc)
		return store_seterr(s, store_mdb_errno(rc), "cannot read the row of %s: %s", hash,
			mdb_strerror(rc));
	*ret = info;
	return 0;
}

int store_idx_walk(struct store *s, MDB_dbi dbi, const char *what,
	int (*row)(const MDB_val *key, const MDB_val *val, void *ctx, int *rc), void *ctx)
{
	MDB_cursor *cur = NULL;
	MDB_val key, val;
	MDB_txn *txn;
	int r, rc, op;

	r = store_idx_read_begin(s, &txn);
	if (r < 0)
		return r;
	rc = mdb_cursor_open(txn, dbi, &cur);
	for (op = MDB_FIRST; rc == 0; op = MDB_NEXT) {
		rc = mdb_cursor_get(cur, &key, &val, op);
		if (rc)
			break;
		r = row(&key, &val, ctx, &rc);
		if (r || rc)
			break;
	}
	if (cur)
		mdb_cursor_close(cur);
	store_idx_read_end(s, txn);
	if (r)
		return r;
	if (rc && rc != MDB_NOTFOUND)
		return store_seterr(s, store_mdb_errno(rc), "cannot walk %s of '%s': %s", what,
			s->dir, mdb_strerror(rc));
	return 0;
}

struct foreach_ctx {
	int (*fn)(const char *hash, const struct store_info *info, void *arg);
	void *arg;
};

static int foreach_row(const MDB_val *key, const MDB_val *val, void *ctx, int *rc)
{
	const struct foreach_ctx *c = ctx;
	char hex[STORE_HASH_HEX + 1];
	struct store_info info;

	if (key->mv_size != STORE_HASH_LEN)
		return 0;	/* not a row of ours */
	*rc = row_decode(val, &info);
	if (*rc)
		return 0;
	hash_to_hex(key->mv_data, STORE_HASH_LEN, hex);
	return c->fn(hex, &info, c->arg);
}

int store_foreach(struct store *s,
		  int (*fn)(const char *hash, const struct store_info *info, void *arg), void *arg)
{
	struct foreach_ctx c = { fn, arg };

	return store_idx_walk(s, s->dbi_artifacts, "the index", foreach_row, &c);
}

/* ---- access times --------------------------------------------------------- */

/*
 * Pending access times: an open-addressing table (linear probing) keyed by
 * the hash, whose first bytes are already uniform.  store_touch() only takes
 * access_mu; store_flush_access() swaps the table out under access_mu and
 * writes it in one transaction without holding the mutex.
 */
static size_t slot_of(const uint8_t hash[STORE_HASH_LEN], size_t cap)
{
	uint64_t h;

	memcpy(&h, hash, sizeof(h));
	return (size_t)h & (cap - 1);
}

static void access_set(struct access_slot *tab, size_t cap, const uint8_t *hash, int64_t when,
	size_t *used, bool insert)
{
	size_t i = slot_of(hash, cap);

	while (tab[i].used && memcmp(tab[i].hash, hash, STORE_HASH_LEN) != 0)
		i = (i + 1) & (cap - 1);
	if (tab[i].used) {
		if (when > tab[i].when)
			tab[i].when = when;
	} else if (insert) {
		memcpy(tab[i].hash, hash, STORE_HASH_LEN);
		tab[i].used = true;
		tab[i].when = when;
		(*used)++;
	}
}

/*
 * access_note - record one time; called with access_mu held.  The table is
 * kept at most half full; when it cannot grow (ACCESS_MAX hashes pending, or
 * no memory) only the hashes already in it are updated: access times are
 * advisory and the next flush makes room.
 */
static void access_note(struct store *s, const uint8_t *hash, int64_t when)
{
	struct access_slot *tab;
	size_t cap, i, used = 0;

	if ((s->access_used + 1) * 2 > s->access_cap) {
		cap = s->access_cap ? s->access_cap * 2 : 64;
		tab = cap <= 2 * ACCESS_MAX ? calloc(cap, sizeof(*tab)) : NULL;
		if (!tab) {
			if (s->access_cap)
				access_set(s->access, s->access_cap, hash, when, &s->access_used,
					false);
			return;
		}
		for (i = 0; i < s->access_cap; i++)
			if (s->access[i].used)
				access_set(tab, cap, s->access[i].hash, s->access[i].when, &used,
					true);
		free(s->access);
		s->access = tab;
		s->access_cap = cap;
		s->access_used = used;
	}
	access_set(s->access, s->access_cap, hash, when, &s->access_used, true);
}

void store_touch(struct store *s, const char *hash)
{
	uint8_t h[STORE_HASH_LEN];

	if (!s || (s->flags & STORE_RDONLY) || store_hash_parse(hash, h) < 0)
		return;
	pthread_mutex_lock(&s->access_mu);
	access_note(s, h, store_now());
	pthread_mutex_unlock(&s->access_mu);
}

struct flush {
	struct access_slot *tab;
	size_t cap;
	uint8_t *buf;	/* copy of one row, grown as needed */
	size_t buf_size;
};

static int flush_rows(struct store *s, MDB_txn *txn, void *arg)
{
	struct flush *f = arg;
	MDB_val key, val;
	size_t i;
	int rc;

	for (i = 0; i < f->cap; i++) {
		if (!f->tab[i].used)
			continue;
		key.mv_size = STORE_HASH_LEN;
		key.mv_data = f->tab[i].hash;
		rc = mdb_get(txn, s->dbi_artifacts, &key, &val);
		if (rc == MDB_NOTFOUND)
			continue;	/* no row (gone, or never installed) */
		if (rc)
			return rc;
		if (val.mv_size < ROW_HDR_V1)
			continue;
		if ((int64_t)get_u64((const uint8_t *)val.mv_data + ROW_OFF_ACCESS) >=
		    f->tab[i].when)
			continue;
		if (val.mv_size > f->buf_size) {
			free(f->buf);
			f->buf = malloc(val.mv_size);
			f->buf_size = f->buf ? val.mv_size : 0;
			if (!f->buf)
				return ENOMEM;
		}
		/* the row must be copied: val points into the map that mdb_put changes */
		memcpy(f->buf, val.mv_data, val.mv_size);
		put_u64(f->buf + ROW_OFF_ACCESS, (uint64_t)f->tab[i].when);
		val.mv_data = f->buf;
		rc = mdb_put(txn, s->dbi_artifacts, &key, &val, 0);
		if (rc)
			return rc;
	}
	return 0;
}

int store_flush_access(struct store *s)
{
	struct flush f = { 0 };
	size_t i;
	int r;

	if (s->flags & STORE_RDONLY)
		return 0;
	pthread_mutex_lock(&s->access_mu);
	f.tab = s->access;
	f.cap = s->access_cap;
	r = s->access_used != 0;
	s->access = NULL;
	s->access_cap = s->access_used = 0;
	pthread_mutex_unlock(&s->access_mu);
	if (!r) {
		free(f.tab);
		return 0;
	}
	r = store_idx_write(s, flush_rows, &f);
	if (r < 0) {
		/* keep the times for the next flush */
		pthread_mutex_lock(&s->access_mu);
		for (i = 0; i < f.cap; i++)
			if (f.tab[i].used)
				access_note(s, f.tab[i].hash, f.tab[i].when);
		pthread_mutex_unlock(&s->access_mu);
	}
	free(f.buf);
	free(f.tab);
	return r;
}
