/*
 * index.h - the index of what is published under a destination: every
 * tarball's sidecar read back, sorted, as one JSON array
 *
 * Every key ending in ".tar[.gz|.xz|.bz2|.zst].json" (sidecar_is_key()) is
 * read as a sidecar; its tarball is the key without ".json".  The index is
 * a JSON array sorted by name, platform (null first), git-tree-sha1 and
 * url, one object per line:
 *
 *   [
 *   {"name": "Zlib", "platform": "x86_64-linux-gnu", "git-tree-sha1": "...",
 *    "sha256": "...", "size": 123, "url": "...", "created": "2024-05-01T12:00:00Z",
 *    "meta": {...}},
 *   ...
 *   ]
 * "created" is null when the sidecar has none; "meta" is the sidecar's meta
 * object, {} without one.  The same sidecars give the same bytes.
 *
 * Thread safety: none of its own; the struct upload belongs to the caller's
 * thread (tools/publish/upload.h).
 */
#ifndef ARTIFACTCTL_INDEX_H
#define ARTIFACTCTL_INDEX_H

#include "tools/publish/sidecar.h"

#include <stddef.h>

struct upload;

/* Largest index text formatted (bytes). */
#define INDEX_MAX (1u << 30)

struct index_entry {
	struct sidecar sc; /* the sidecar as read */
	char *url;	   /* malloc'ed URL of the tarball */
};

struct index {
	struct index_entry *v; /* malloc'ed, sorted */
	size_t n;
};

/* A tarball left out of the index: msg names it and says why (borrowed for the call). */
typedef void (*index_warn_fn)(void *arg, const char *msg);

/*
 * index_read - list every object of u, read every sidecar and keep those
 * whose tarball is there with the sidecar's size; the others are left out
 * and told to warn (may be NULL).  The url of an entry is
 * public_url/TARBALL (upload_join_url()) when public_url is not NULL, else
 * upload_url() of the tarball.
 * @ret: filled on success, released with index_release(); untouched on
 *   failure.
 * @errmsg: receives on failure a malloc'ed message naming the object and the
 *   cause (caller frees), or NULL when there is none to add to the error
 *   (-ENOMEM).
 * Returns 0, the error of upload_list() or upload_get(), -EBADMSG or -E2BIG
 * (a sidecar that cannot be read: the whole index fails, as a half index
 * would silently drop artifacts), -ENOMEM.
 */
int index_read(struct upload *u, const char *public_url, index_warn_fn warn, void *arg,
	struct index *ret, char **errmsg);

/* index_release - free the entries of ix and zero it. */
void index_release(struct index *ix);

/*
 * index_keep_latest - keep one entry per name and platform of the sorted ix:
 * the one created last (an entry without created counts as the oldest; of
 * equal times, the first in the order above), freeing the others.
 */
void index_keep_latest(struct index *ix);

/*
 * index_format - ix as the JSON text above.
 * @ret: malloc'ed text (caller frees), @len its length; untouched on failure.
 * Returns 0, -E2BIG (over INDEX_MAX), -ENOMEM.
 */
int index_format(const struct index *ix, char **ret, size_t *len);

/*
 * index_write - write len bytes of text to path atomically: a temporary file
 * beside it (mode 0666 & ~umask), fsync'ed, renamed over path, the
 * directory fsync'ed; or to standard output when path is "-".
 * Returns 0 or -errno (nothing is left at path's temporary name).
 */
int index_write(const char *path, const char *text, size_t len);

#endif
