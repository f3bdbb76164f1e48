/*
 * reconcile.c - keep the index in line with the trees: reconcile at open,
 * verify, quarantine
 *
 * The trees are the truth and the index follows them (store.h).  A crash
 * leaves at most: a tmp/ entry (install-begin, before-rename), a tree
 * without its row (after-rename), or, after someone deleted a tree by hand,
 * a row without its tree.  store_reconcile() repairs all three and costs a
 * readdir of tmp/ and artifacts/ plus one walk of the index; only trees
 * without a row are hashed, unless STORE_VERIFY_ALL asks for every tree.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1	/* renameat2 flags */
#endif

#include "store/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#define QUARANTINE_TRIES 100	/* names <hash>.<time>[.<n>] tried */

/* ---- quarantine and adoption ------------------------------------------------ */

int store_quarantine_tree(struct store *s, const char *hash)
{
	char name[STORE_HASH_HEX + 48];
	uint8_t h[STORE_HASH_LEN];
	struct store_info info;
	int64_t now = store_now();
	MDB_txn *txn;
	int i, r, rc;

	if (store_hash_parse(hash, h) < 0)
		return -EINVAL;
	if ((s->flags & STORE_RDONLY) || s->quarantine_fd < 0)
		return store_seterr(s, -EROFS, "store '%s' is open read-only", s->dir);
	for (i = 0;; i++) {
		if (i == QUARANTINE_TRIES)
			return store_seterr(s, -EEXIST, "no free name for %s in '%s/quarantine'",
				hash, s->dir);
		if (i)
			snprintf(name, sizeof(name), "%s.%" PRId64 ".%d", hash, now, i);
		else
			snprintf(name, sizeof(name), "%s.%" PRId64, hash, now);
		if (store_sys_renameat(s->artifacts_fd, hash, s->quarantine_fd, name,
			    RENAME_NOREPLACE) == 0)
			break;
		r = -errno;
		if (r == -ENOENT)
			return r;
		if (r != -EEXIST && r != -ENOTEMPTY)
			return store_seterr(s, r, "cannot move '%s/artifacts/%s' to quarantine: %s",
				s->dir, hash, strerror(-r));
	}
	/* keep what the row knew; a tree without a row is described from disk */
	r = store_idx_read_begin(s, &txn);
	if (r < 0)
		return r;
	rc = store_idx_get(s, txn, h, &info);
	if (rc == 0 && info.source && !(info.source = strdup(info.source)))
		rc = ENOMEM;
	store_idx_read_end(s, txn);
	if (rc == MDB_NOTFOUND) {
		memset(&info, 0, sizeof(info));
		info.installed = now;
		r = store_tree_stats(s->quarantine_fd, name, &info.bytes, &info.files);
		if (r < 0)
			info.bytes = info.files = 0;	/* only informative */
	} else if (rc) {
		return store_seterr(s, store_mdb_errno(rc), "cannot read the row of %s: %s", hash,
			mdb_strerror(rc));
	}
	info.state = STORE_QUARANTINED;
	r = store_idx_set(s, h, &info, 0);
	store_info_release(&info);
	return r;
}

/*
 * hash_tree - the tree hash of artifacts/<hash>: 0 when it matches,
 * -EBADMSG when not, -ENOENT when there is no directory of that name (a
 * symlink does not count), or the error of reading it.
 */
static int hash_tree(struct store *s, const char *hash)
{
	uint8_t want[STORE_HASH_LEN], got[STORE_HASH_LEN];
	char hex[STORE_HASH_HEX + 1];
	char *errpath = NULL;
	struct stat st;
	int r;

	if (store_hash_parse(hash, want) < 0)
		return -EINVAL;
	if (fstatat(s->artifacts_fd, hash, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	if (!S_ISDIR(st.st_mode))
		return -ENOENT;
	r = tree_hash_dirat(s->artifacts_fd, hash, 0, got, &errpath);
	if (r < 0) {
		store_seterr(s, r, "cannot hash '%s/artifacts/%s': %s%s%s", s->dir, hash,
			errpath ? errpath : "", errpath ? ": " : "", strerror(-r));
		free(errpath);
		return r;
	}
	if (memcmp(want, got, sizeof(want)) == 0)
		return 0;
	hash_to_hex(got, STORE_HASH_LEN, hex);
	return store_seterr(s, -EBADMSG, "tree hash mismatch in '%s/artifacts/%s': found %s",
		s->dir, hash, hex);
}

int store_adopt_tree(struct store *s, const char *hash, const char *source, const char *sha256)
{
	struct store_info info = { .state = STORE_INSTALLED };
	uint8_t h[STORE_HASH_LEN];
	int r;

	if (store_hash_parse(hash, h) < 0)
		return -EINVAL;
	r = hash_tree(s, hash);
	if (r == -EBADMSG) {
		r = store_quarantine_tree(s, hash);
		return r < 0 ? r : -EBADMSG;
	}
	if (r < 0)
		return r;
	r = store_tree_stats(s->artifacts_fd, hash, &info.bytes, &info.files);
	if (r < 0)
		return store_seterr(s, r, "cannot walk '%s/artifacts/%s': %s", s->dir, hash,
			strerror(-r));
	info.installed = info.last_access = store_now();
	info.source = (char *)source;
	if (sha256 && strlen(sha256) == STORE_SHA256_HEX)
		memcpy(info.tarball_sha256, sha256, sizeof(info.tarball_sha256));
	/*
	 * Its installer may have skipped the sync (durable.c): the bytes just
	 * hashed may be in the page cache only, so the row gets a mark.
	 */
	return store_idx_set_tree(s, h, &info, 0, !s->boot_known);
}

int store_verify(struct store *s, const char *hash, bool quarantine)
{
	int r;

	if (!store_hash_valid(hash))
		return -EINVAL;
	r = hash_tree(s, hash);
	if (r == -EBADMSG && quarantine) {
		r = store_quarantine_tree(s, hash);
		if (r == 0)
			r = -EBADMSG;
	}
	return r;
}

/* ---- reconcile ------------------------------------------------------------------ */

/*
 * A tmp/ entry is removed only when its hash lock and its own flock can both
 * be taken: the installer is gone (store_install_begin() explains the
 * flock).  Taken without waiting: a live installer's entry is skipped.
 */
static int reap_tmp(struct store *s, const char *name, unsigned *removed)
{
	char hash[STORE_HASH_HEX + 1];
	struct store_lock *l;
	int fd, r;

	memcpy(hash, name, STORE_HASH_HEX);
	hash[STORE_HASH_HEX] = '\0';
	r = store_lock_hash(s, hash, 0, &l);
	if (r == -ETIMEDOUT)
		return 0;
	if (r < 0)
		return r;
	fd = openat(s->tmp_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 && errno != ENOTDIR && errno != ELOOP) {
		r = errno == ENOENT ? 0 : -errno;
		goto out;
	}
	if (fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) < 0) {
		r = errno == EWOULDBLOCK ? 0 : -errno;
		goto out;
	}
	r = store_rmtree(s->tmp_fd, name);
	if (r == 0)
		(*removed)++;
	else if (r == -ENOENT)
		r = 0;
	else
		store_seterr(s, r, "cannot remove '%s/tmp/%s': %s", s->dir, name, strerror(-r));
out:
	if (fd >= 0)
		close(fd);
	store_unlock(l);
	return r;
}

struct hashes {
	uint8_t (*v)[STORE_HASH_LEN];
	size_t n, cap;
};

static int hashes_add(struct hashes *hs, const uint8_t *h)
{
	void *v;

	if (hs->n == hs->cap) {
		v = realloc(hs->v, (hs->cap ? 2 * hs->cap : 64) * STORE_HASH_LEN);
		if (!v)
			return -ENOMEM;
		hs->v = v;
		hs->cap = hs->cap ? 2 * hs->cap : 64;
	}
	memcpy(hs->v[hs->n++], h, STORE_HASH_LEN);
	return 0;
}

/* tree_present - artifacts/<hash> exists as a directory. */
static bool tree_present(struct store *s, const uint8_t *h)
{
	char hex[STORE_HASH_HEX + 1];
	struct stat st;

	hash_to_hex(h, STORE_HASH_LEN, hex);
	return fstatat(s->artifacts_fd, hex, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	       S_ISDIR(st.st_mode);
}

struct drop {
	struct hashes *missing;
	unsigned dropped;
};

/*
 * drop_rows runs inside the write transaction, so the tree check is
 * repeated there: an installer renames before it writes its row, so a tree
 * that appeared since the read transaction keeps its row.
 */
static int drop_rows(struct store *s, MDB_txn *txn, void *arg)
{
	struct drop *d = arg;
	size_t i;
	int rc;

	d->dropped = 0;
	for (i = 0; i < d->missing->n; i++) {
		if (tree_present(s, d->missing->v[i]))
			continue;
		rc = store_idx_del(s, txn, d->missing->v[i]);
		if (rc == MDB_NOTFOUND)
			continue;
		if (rc)
			return rc;
		d->dropped++;
	}
	return 0;
}

/* scan_rows - rows of installed trees that are missing, and (all) the others. */
static int scan_rows(struct store *s, struct hashes *missing, struct hashes *present)
{
	struct store_info info;
	MDB_cursor *cur = NULL;
	MDB_val key, val;
	MDB_txn *txn;
	int r = 0, rc, op;

	r = store_idx_read_begin(s, &txn);
	if (r < 0)
		return r;
	rc = mdb_cursor_open(txn, s->dbi_artifacts, &cur);
	for (op = MDB_FIRST; rc == 0 && r == 0; op = MDB_NEXT) {
		rc = mdb_cursor_get(cur, &key, &val, op);
		if (rc)
			break;
		if (key.mv_size != STORE_HASH_LEN ||
		    store_idx_get(s, txn, key.mv_data, &info) != 0 ||
		    info.state != STORE_INSTALLED)
			continue;
		if (!tree_present(s, key.mv_data))
			r = hashes_add(missing, key.mv_data);
		else if (present)
			r = hashes_add(present, key.mv_data);
	}
	if (cur)
		mdb_cursor_close(cur);
	store_idx_read_end(s, txn);
	if (r == 0 && rc && rc != MDB_NOTFOUND)
		r = store_seterr(s, store_mdb_errno(rc), "cannot walk the index of '%s': %s",
			s->dir, mdb_strerror(rc));
	return r;
}

static bool is_hash_name(const char *name)
{
	return store_hash_valid(name);
}

/* unindexed - drop from ns the trees whose row says STORE_INSTALLED. */
static int unindexed(struct store *s, struct store_names *ns)
{
	uint8_t h[STORE_HASH_LEN];
	struct store_info info;
	size_t i, kept = 0;
	MDB_txn *txn;
	int r;

	r = store_idx_read_begin(s, &txn);
	if (r < 0)
		return r;
	for (i = 0; i < ns->n; i++) {
		store_hash_parse(ns->v[i], h);
		if (store_idx_get(s, txn, h, &info) == 0 && info.state == STORE_INSTALLED)
			free(ns->v[i]);
		else
			ns->v[kept++] = ns->v[i];
	}
	ns->n = kept;
	store_idx_read_end(s, txn);
	return 0;
}

/* adopt - hash and index (or quarantine) a tree without a row, under its lock. */
static int adopt(struct store *s, const char *hash, struct store_reconcile_report *rep)
{
	struct store_info info;
	struct store_lock *l;
	bool had_msg;
	int r;

	r = store_lock_hash(s, hash, 0, &l);
	if (r == -ETIMEDOUT)
		return 0;	/* a live installer will write the row */
	if (r < 0)
		return r;
	r = store_lookup(s, hash, &info);
	if (r == 0) {
		store_info_release(&info);
		if (info.state == STORE_INSTALLED)
			goto out;	/* indexed meanwhile */
	} else if (r != -ENOENT) {
		goto out;
	}
	had_msg = *store_errmsg(s) != '\0';
	r = store_adopt_tree(s, hash, NULL, NULL);
	/* a quarantine is an outcome, not an error: its message must not stay */
	if (!had_msg && (r == 0 || r == -EBADMSG))
		store_clear_error(s);
	if (r == 0)
		rep->trees_indexed++;
	else if (r == -EBADMSG)
		rep->trees_quarantined++;
	if (r == -EBADMSG || r == -ENOENT)
		r = 0;
out:
	store_unlock(l);
	return r;
}

/* keep_first - remember the first error: reconcile goes on after one. */
static void keep_first(int *first, int r)
{
	if (r < 0 && !*first)
		*first = r;
}

int store_reconcile(struct store *s, unsigned flags, struct store_reconcile_report *report)
{
	struct store_reconcile_report rep = { 0 };
	struct hashes missing = { 0 }, present = { 0 };
	char hex[STORE_HASH_HEX + 1];
	struct store_names ns = { 0 };
	struct drop d = { &missing, 0 };
	int r, first = 0;
	bool had_msg;
	size_t i;

	if ((s->flags & STORE_RDONLY) || s->tmp_fd < 0)
		return store_seterr(s, -EROFS, "store '%s' is open read-only", s->dir);

	/* 1. leftovers of dead installs */
	r = store_list_names(s->tmp_fd, store_is_tmp_name, &ns);
	keep_first(&first, r);
	for (i = 0; i < ns.n; i++) {
		r = reap_tmp(s, ns.v[i], &rep.tmp_removed);
		keep_first(&first, r);
	}
	store_names_free(&ns);
	store_crash_point(s, "reconcile");

	/* 2. commits of an earlier boot that were never made durable (durable.c) */
	keep_first(&first, store_pending_recover(s, &rep));

	/* 3. rows whose tree is gone */
	r = scan_rows(s, &missing, (flags & STORE_VERIFY_ALL) ? &present : NULL);
	keep_first(&first, r);
	if (r == 0 && missing.n) {
		r = store_idx_write(s, drop_rows, &d);
		keep_first(&first, r);
		if (r == 0)
			rep.rows_dropped = d.dropped;
	}

	/* 4. trees without a row */
	r = store_list_names(s->artifacts_fd, is_hash_name, &ns);
	if (r == 0)
		r = unindexed(s, &ns);
	keep_first(&first, r);
	for (i = 0; r == 0 && i < ns.n; i++)
		keep_first(&first, adopt(s, ns.v[i], &rep));
	store_names_free(&ns);

	/* 5. STORE_VERIFY_ALL: every indexed tree again */
	for (i = 0; i < present.n; i++) {
		hash_to_hex(present.v[i], STORE_HASH_LEN, hex);
		had_msg = *store_errmsg(s) != '\0';
		r = store_verify(s, hex, true);
		if (r == -EBADMSG && !had_msg)
			store_clear_error(s);
		if (r == -EBADMSG)
			rep.trees_quarantined++;
		else
			keep_first(&first, r == -ENOENT ? 0 : r);
	}
	free(missing.v);
	free(present.v);
	if (report)
		*report = rep;
	return first;
}
