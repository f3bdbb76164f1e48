/*
 * durable.c - deferred durability: installs committed before their bytes
 * reach the disk, made durable later, and checked again after a reboot
 *
 * A commit that waited for the disk (syncfs() of the tree, then fsync() of
 * artifacts/) cost a third of a whole install: 0.8 s of 2.4 s for the
 * 504 MB LLVM workload of tests/bench/bench-install.sh, the time the disk
 * takes to write what the page cache already holds.  So by default a
 * commit no longer waits (store.h, STORE_SYNC_COMMIT): it writes, in the
 * same LMDB transaction as the row, a mark in the "pending" database,
 *
 *   key: the 20-byte tree hash
 *   value: i64 commit time (seconds since the epoch), the 36 bytes of the
 *          kernel's boot id (/proc/sys/kernel/random/boot_id), and a
 *          random u64 that tells two commits of one second apart
 *
 * and store_sync_pending() later makes every marked tree durable with one
 * syncfs() and removes the marks.
 *
 * Why this is safe.  The bytes of an unsynced tree can be lost only with
 * the page cache, that is by a crash or power loss of the machine: a
 * killed process loses nothing the kernel holds.  A machine that went down
 * came back with another boot id.  So a mark of the current boot means
 * "verified, and whole in the page cache"; a mark of another boot means
 * "verified once, maybe not on disk".  store_open() (reconcile) hashes
 * every tree with a mark of another boot again before anyone may use it:
 * a whole tree keeps its row, a damaged one goes to quarantine/, a missing
 * one loses its row, and the next access installs it again.  Until that
 * check ran (a read-only opener, or a tree whose installer holds its lock),
 * store_lookup() does not report such a tree.  A reader never sees bytes
 * that were not verified in the boot that serves them.
 *
 * Without a boot id (no /proc) nothing can tell a reboot from a restart,
 * and every commit waits for the disk as before.
 */
#include "store/internal.h"
#include "store/util/random.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BOOT_ID_FILE "/proc/sys/kernel/random/boot_id"
#define MARK_LEN (8 + STORE_BOOT_ID_LEN + 8)

/* ---- the boot id ------------------------------------------------------------------- */

void store_boot_id_read(struct store *s)
{
	const char *v = getenv("ARTIFACTFS_TEST_BOOT_ID");
	char buf[64];
	ssize_t n = -1;
	int fd;

	s->boot_known = false;
	memset(s->boot_id, 0, sizeof(s->boot_id));
	if (v && *v) {
		/* tests: another value stands for another boot */
		n = (ssize_t)strnlen(v, sizeof(buf));
		memcpy(buf, v, (size_t)n);
	} else {
		fd = open(BOOT_ID_FILE, O_RDONLY | O_CLOEXEC);
		if (fd >= 0) {
			n = read(fd, buf, sizeof(buf));
			close(fd);
		}
	}
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
		n--;
	if (n <= 0)
		return;
	memcpy(s->boot_id, buf, (size_t)n < STORE_BOOT_ID_LEN ? (size_t)n : STORE_BOOT_ID_LEN);
	s->boot_known = true;
}

bool store_defers_sync(const struct store *s)
{
	return s->boot_known && !(s->flags & STORE_SYNC_COMMIT);
}

/* ---- marks ------------------------------------------------------------------------- */

int store_pending_put(struct store *s, MDB_txn *txn, const uint8_t hash[STORE_HASH_LEN])
{
	MDB_val key = { STORE_HASH_LEN, (void *)hash };
	uint8_t v[MARK_LEN];
	int64_t now = store_now();
	uint64_t nonce = random_id();
	MDB_val val = { sizeof(v), v };

	if (!s->has_pending_db)
		return 0;
	memcpy(v, &now, 8);
	memcpy(v + 8, s->boot_id, STORE_BOOT_ID_LEN);
	memcpy(v + 8 + STORE_BOOT_ID_LEN, &nonce, 8);
	return mdb_put(txn, s->dbi_pending, &key, &val, 0);
}

int store_pending_del(struct store *s, MDB_txn *txn, const uint8_t hash[STORE_HASH_LEN])
{
	MDB_val key = { STORE_HASH_LEN, (void *)hash };
	int rc;

	if (!s->has_pending_db)
		return 0;
	rc = mdb_del(txn, s->dbi_pending, &key, NULL);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

/* this_boot - whether a mark was written in the boot that runs now. */
static bool this_boot(const struct store *s, const MDB_val *val)
{
	return s->boot_known && val->mv_size == MARK_LEN &&
	       memcmp((const uint8_t *)val->mv_data + 8, s->boot_id, STORE_BOOT_ID_LEN) == 0;
}

bool store_pending_foreign(struct store *s, MDB_txn *txn, const uint8_t hash[STORE_HASH_LEN])
{
	MDB_val key = { STORE_HASH_LEN, (void *)hash }, val;

	if (!s->has_pending_db || !s->foreign_pending)
		return false;
	return mdb_get(txn, s->dbi_pending, &key, &val) == 0 && !this_boot(s, &val);
}

/* ---- walking the marks --------------------------------------------------------------- */

struct mark {
	uint8_t hash[STORE_HASH_LEN];
	uint8_t val[MARK_LEN];
};

struct marks {
	struct store *s;
	bool foreign;		/* collect the marks of other boots, else of this one */
	int64_t before;		/* only marks written before this time (this boot's) */
	struct mark *v;
	size_t n, cap;
};

static int collect(const MDB_val *key, const MDB_val *val, void *ctx, int *rc)
{
	struct marks *m = ctx;
	struct mark *nv;

	if (key->mv_size != STORE_HASH_LEN) {
		*rc = MDB_CORRUPTED;
		return 0;
	}
	if (this_boot(m->s, val) == m->foreign)
		return 0;
	if (!m->foreign && val->mv_size == MARK_LEN) {
		int64_t when;

		memcpy(&when, val->mv_data, sizeof(when));
		if (when >= m->before)
			return 0;
	}
	if (m->n == m->cap) {
		nv = realloc(m->v, (m->cap ? m->cap * 2 : 16) * sizeof(*nv));
		if (!nv) {
			*rc = ENOMEM;
			return 0;
		}
		m->v = nv;
		m->cap = m->cap ? m->cap * 2 : 16;
	}
	memcpy(m->v[m->n].hash, key->mv_data, STORE_HASH_LEN);
	memset(m->v[m->n].val, 0, MARK_LEN);
	memcpy(m->v[m->n].val, val->mv_data, val->mv_size < MARK_LEN ? val->mv_size : MARK_LEN);
	m->n++;
	return 0;
}

static int marks_collect(struct store *s, bool foreign, int64_t before, struct marks *m)
{
	*m = (struct marks){ .s = s, .foreign = foreign, .before = before };
	if (!s->has_pending_db)
		return 0;
	return store_idx_walk(s, s->dbi_pending, "the pending marks", collect, m);
}

int store_pending_scan(struct store *s)
{
	struct marks m;
	int r;

	r = marks_collect(s, true, 0, &m);
	s->foreign_pending = r < 0 || m.n > 0;	/* unsure: check each lookup */
	free(m.v);
	return r;
}

int store_pending_count(struct store *s, uint64_t *ret)
{
	MDB_stat st;
	MDB_txn *txn;
	int r, rc;

	*ret = 0;
	if (!s->has_pending_db)
		return 0;
	r = store_idx_read_begin(s, &txn);
	if (r < 0)
		return r;
	rc = mdb_stat(txn, s->dbi_pending, &st);
	store_idx_read_end(s, txn);
	if (rc)
		return store_seterr(s, store_mdb_errno(rc), "cannot read the pending marks of '%s': %s",
			s->dir, mdb_strerror(rc));
	*ret = st.ms_entries;
	return 0;
}

/* ---- making them durable ------------------------------------------------------------- */

struct unmark {
	const struct marks *m;
	unsigned removed;
};

/* Remove the marks taken before the sync that were not written again since. */
static int unmark(struct store *s, MDB_txn *txn, void *arg)
{
	struct unmark *u = arg;
	MDB_val key, val;
	size_t i;
	int rc;

	u->removed = 0;
	for (i = 0; i < u->m->n; i++) {
		key = (MDB_val){ STORE_HASH_LEN, u->m->v[i].hash };
		rc = mdb_get(txn, s->dbi_pending, &key, &val);
		if (rc == MDB_NOTFOUND)
			continue;
		if (rc)
			return rc;
		if (val.mv_size != MARK_LEN || memcmp(val.mv_data, u->m->v[i].val, MARK_LEN) != 0)
			continue;	/* marked again after the sync began */
		rc = mdb_del(txn, s->dbi_pending, &key, NULL);
		if (rc)
			return rc;
		u->removed++;
	}
	return 0;
}

/* sync_marks - store_sync_pending() of the marks of this boot older than before. */
static int sync_marks(struct store *s, int64_t before, unsigned *synced)
{
	struct marks m;
	struct unmark u = { &m, 0 };
	int r;

	if (synced)
		*synced = 0;
	if (s->flags & STORE_RDONLY)
		return store_seterr(s, -EROFS, "store '%s' is open read-only", s->dir);
	r = marks_collect(s, false, before, &m);
	if (r < 0 || m.n == 0)
		goto out;
	/*
	 * One syncfs() writes every tree of the filesystem of artifacts/ (and
	 * of tmp/, where they were written: a rename does not cross
	 * filesystems); then the fsync() of artifacts/ makes the renames
	 * durable.  Only the marks
	 * seen before the sync began are removed.  A failed sync keeps them,
	 * so that a reboot checks those trees again.
	 */
	if (!s->no_fsync &&
	    (store_sys_syncfs(s->artifacts_fd) < 0 || store_sys_fsync(s->artifacts_fd) < 0)) {
		r = -errno;
		store_seterr(s, r, "cannot sync store '%s': %s", s->dir, strerror(-r));
		goto out;
	}
	r = store_idx_write(s, unmark, &u);
	if (r == 0 && synced)
		*synced = u.removed;
out:
	free(m.v);
	return r;
}

int store_sync_pending(struct store *s, unsigned *synced)
{
	return sync_marks(s, INT64_MAX, synced);
}

int store_sync_settled(struct store *s)
{
	return sync_marks(s, store_now() - STORE_SETTLED_AGE, NULL);
}

/* ---- after a reboot ------------------------------------------------------------------- */

static int drop_row_and_mark(struct store *s, MDB_txn *txn, void *arg)
{
	int rc = store_idx_del(s, txn, arg);

	if (rc && rc != MDB_NOTFOUND)
		return rc;
	return store_pending_del(s, txn, arg);
}

static int drop_mark(struct store *s, MDB_txn *txn, void *arg)
{
	return store_pending_del(s, txn, arg);
}

/*
 * recheck - hash again the tree of one mark of another boot, under its hash
 * lock, and settle it: 0 (kept, or its row gone), 1 when it was left for
 * later (its lock is busy), or -errno.
 */
static int recheck(struct store *s, const uint8_t h[STORE_HASH_LEN],
	struct store_reconcile_report *rep)
{
	char hex[STORE_HASH_HEX + 1];
	struct store_info info;
	struct store_lock *l;
	MDB_txn *txn;
	bool had_msg;
	int r, rc;

	hash_to_hex(h, STORE_HASH_LEN, hex);
	r = store_lock_hash(s, hex, 0, &l);
	if (r == -ETIMEDOUT)
		return 1;
	if (r < 0)
		return r;
	r = store_idx_read_begin(s, &txn);
	if (r < 0)
		goto out;
	rc = store_idx_get(s, txn, h, &info);
	store_idx_read_end(s, txn);
	if (rc == MDB_NOTFOUND || (rc == 0 && info.state != STORE_INSTALLED)) {
		r = store_idx_write(s, drop_mark, (void *)h);	/* nothing to check */
		goto out;
	}
	if (rc) {
		r = store_seterr(s, store_mdb_errno(rc), "cannot read the row of %s: %s", hex,
			mdb_strerror(rc));
		goto out;
	}
	had_msg = *store_errmsg(s) != '\0';
	r = store_verify(s, hex, true);
	if (r == 0) {
		rep->trees_rechecked++;
		r = store_idx_write(s, drop_mark, (void *)h);
	} else if (r == -EBADMSG) {
		/* quarantined, row marked so: an outcome, not an error */
		if (!had_msg)
			store_clear_error(s);
		rep->trees_quarantined++;
		r = store_idx_write(s, drop_mark, (void *)h);
	} else if (r == -ENOENT) {
		rep->rows_dropped++;
		r = store_idx_write(s, drop_row_and_mark, (void *)h);
	}
out:
	store_unlock(l);
	return r;
}

int store_pending_recover(struct store *s, struct store_reconcile_report *rep)
{
	struct marks m;
	bool left = false;
	size_t i;
	int r, first = 0;

	r = marks_collect(s, true, 0, &m);
	if (r < 0) {
		s->foreign_pending = true;
		return r;
	}
	for (i = 0; i < m.n; i++) {
		r = recheck(s, m.v[i].hash, rep);
		if (r != 0)
			left = true;
		if (r < 0 && !first)
			first = r;
	}
	free(m.v);
	s->foreign_pending = left;
	return first;
}
