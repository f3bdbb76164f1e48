/*
 * lookup.h - whether a tree is already published under a destination,
 * decided from the listing and the sidecars, before anything is packed
 *
 * "artifactctl publish" names its objects NAME.PLATFORM.TREE16-SHA16.SUFFIX
 * with the sidecar NAME.PLATFORM.TREE16-SHA16.SUFFIX.json beside
 * (tools/cmd_publish.c).  The git-tree-sha1 of a directory is known without
 * packing it (tree_hash_dir(), store/hash.h), so one listing of the
 * NAME.PLATFORM. prefix and one GET of each sidecar whose TREE16 matches
 * tell whether the same tree is there: the sidecar's name, platform and full
 * git-tree-sha1 equal ours and its tarball is listed with the sidecar's
 * size.  The tarball's bytes need not equal what packing would give now (a
 * gzip level may differ): Julia verifies the tree, and the sha256 bound is
 * the sidecar's.
 *
 * Thread safety: as the struct upload passed in (one thread at a time).
 */
#ifndef ARTIFACTCTL_LOOKUP_H
#define ARTIFACTCTL_LOOKUP_H

#include <stdbool.h>
#include <stdint.h>

struct upload;

enum lookup_state {
	LOOKUP_NEW = 1,	      /* nothing is published for this name and platform */
	LOOKUP_CHANGED = 2,   /* other trees are, not this one */
	LOOKUP_UNCHANGED = 3, /* this tree is published: key, sha256, size */
};

struct lookup_result {
	enum lookup_state state;
	char *key;	     /* LOOKUP_UNCHANGED: malloc'ed key of the tarball; else NULL */
	char sha256[64 + 1]; /* LOOKUP_UNCHANGED: its sha256 (the sidecar's) */
	uint64_t size;	     /* LOOKUP_UNCHANGED: its size in bytes */
	bool has_seekidx;    /* LOOKUP_UNCHANGED: KEY.seekidx is listed beside it (issue 16) */
};

/*
 * lookup_published - whether the tree tree (40 lowercase hex digits) of
 * name for platform (a triplet, or NULL: platform independent, "any" in the
 * key) is published under u, as above.  Of several published tarballs of
 * the tree, the first key in byte order is taken.
 * @ret: filled on success, released with lookup_result_release(); untouched
 *   on failure.
 * Returns 0, -EOPNOTSUPP (u cannot list: http(s); the caller packs and
 * looks the object up by its key instead), the error of upload_list() or
 * upload_get() with upload_errmsg(u) set, -ENOMEM.  A sidecar that cannot
 * be parsed does not match (it is no error).
 */
int lookup_published(struct upload *u, const char *name, const char *platform, const char *tree,
	struct lookup_result *ret);

/* lookup_result_release - free the key of r and zero it. */
void lookup_result_release(struct lookup_result *r);

#endif
