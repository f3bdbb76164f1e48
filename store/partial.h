/*
 * partial.h - the store's partial area: single files of artifacts that are
 * not installed whole, fetched one by one through a seek index (issue 16,
 * fetch/seekidx.h), each verified against its git blob id before it lands.
 *
 * Layout (beside DESIGN.md's "On-disk store"):
 *
 *   <store>/partial/<oid>       one verified regular file, named by its
 *                               git blob SHA-1 in lowercase hex, read-only
 *                               (0444, or 0555 when made executable)
 *   <store>/seekidx/<hash>      the seek index of artifact <hash> (its
 *                               git-tree-sha1), as fetched or as written by
 *                               a whole install; verified when read
 *
 * artifacts/<hash> never holds a partial tree: it appears only by the whole,
 * verified install.  A file enters partial/ only by rename(2) of a complete,
 * verified temporary under tmp/, so a crash leaves no partial file; leftovers
 * are tmp/ entries that store_tmp_sweep() removes.  Files are shared by
 * content: two artifacts holding the same blob share one file.
 *
 * The bytes of partial/ count in the quota (store_partial_usage()); gc and
 * the quota reclaim them by access time (the file's atime, set with
 * futimens() by store_partial_open(), since stores are often noatime).
 *
 * Thread safety: every function is thread-safe; processes sharing the store
 * coordinate by rename(2) only (two fetchers of one blob both succeed, the
 * second rename replaces the first with identical bytes).
 */
#ifndef STORE_PARTIAL_H
#define STORE_PARTIAL_H

#include <stdbool.h>
#include <stdint.h>

#include "store/hash.h"
#include "store/store.h"

/*
 * store_partial_open - open partial/<oid> read-only (O_CLOEXEC) into *fd and
 * mark it used now.  Returns 0, -ENOENT when absent, -errno of open(2).
 */
int store_partial_open(struct store *s, const uint8_t oid[HASH_SHA1_LEN], int *fd);

struct store_partial_tmp;

/*
 * store_partial_begin - a new temporary file under tmp/ for blob oid of
 * size bytes; *fd (owned by the tmp, do not close) receives its descriptor,
 * opened read-write.  Returns 0, -EROFS, -ENOSPC, -errno of open(2).
 */
int store_partial_begin(struct store *s, const uint8_t oid[HASH_SHA1_LEN], uint64_t size,
	struct store_partial_tmp **ret, int *fd);

/*
 * store_partial_commit - the caller verified the blob id of what it wrote:
 * fsync (unless ARTIFACTFS_UNSAFE_NO_FSYNC), chmod 0444 (0555 when
 * executable), rename into partial/, and free tmp.  *fd (may be NULL)
 * receives a new read-only descriptor of the committed file, owned by the
 * caller.  On failure the temporary is removed and tmp freed.  Returns 0 or
 * -errno (-ENOSPC, -EIO).
 */
int store_partial_commit(struct store_partial_tmp *tmp, bool executable, int *fd);

/* store_partial_abort - remove the temporary and free tmp; NULL is a no-op. */
void store_partial_abort(struct store_partial_tmp *tmp);

/*
 * store_partial_usage - bytes (of file data) and files in partial/.
 * Returns 0 or -errno of the directory scan.
 */
int store_partial_usage(struct store *s, uint64_t *bytes, uint64_t *files);

/*
 * store_partial_reclaim - remove partial files, least recently used first,
 * until partial/ holds at most target bytes; files used less than min_age
 * seconds ago are kept (0: none kept).  A file open elsewhere keeps
 * working (unlinked, not truncated).  @freed (may be NULL) receives the
 * bytes removed.  Returns the number removed or -errno.  On a STORE_RDONLY
 * store nothing is removed: the count and @freed say what would go (a dry
 * run, as store_tmp_sweep()).  -EINVAL for a negative min_age.  gc calls it with
 * target 0 for files unused for its orphan grace period; the quota with the
 * bytes it needs.
 */
int store_partial_reclaim(struct store *s, uint64_t target, int64_t min_age, uint64_t *freed);

/*
 * store_seekidx_path - write "<store>/seekidx/<hash>" into buf (size
 * bytes).  Returns the length, -EINVAL (malformed hash) or -ENAMETOOLONG.
 */
int store_seekidx_path(const struct store *s, const char *hash, char *buf, size_t size);

/*
 * store_seekidx_put - store the index of hash (len bytes at p) atomically
 * (temporary + rename).  Not verified here: readers verify.  Returns 0 or
 * -errno (-EROFS, -ENOSPC, -EIO, -EINVAL).
 */
int store_seekidx_put(struct store *s, const char *hash, const void *p, size_t len);

#endif
