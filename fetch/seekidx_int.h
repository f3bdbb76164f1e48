/*
 * seekidx_int.h - what seekidx.c (parse, lookup) and seekidx_read.c (span,
 * window, reader) share: the parsed index.  Not a public header.
 */
#ifndef FETCH_SEEKIDX_INT_H
#define FETCH_SEEKIDX_INT_H

#include "fetch/seekidx.h"

/* A symlink target and its blob id. */
struct seekidx_link {
	uint8_t oid[HASH_SHA1_LEN];
	const char *target; /* NUL-terminated, in link_text */
	size_t len;
};

/* A tree object's content in the head copy. */
struct seekidx_raw {
	const uint8_t *p;
	size_t len;
};

struct seekidx {
	uint8_t *head; /* the copy of the head */
	size_t head_len;
	uint64_t file_len, tarball_size, stream_size;
	uint8_t tree[HASH_SHA1_LEN];
	uint8_t sha256[HASH_SHA256_LEN];
	size_t ntrees, nlinks, nfiles, npoints;
	struct seekidx_tree *trees;	    /* ntrees, index order; [0] the root */
	struct seekidx_tree **tree_by_oid;  /* ntrees, sorted by oid */
	struct seekidx_raw *tree_raw;	    /* ntrees */
	struct seekidx_entry *entries;	    /* all trees' entries */
	struct seekidx_link *links;	    /* nlinks, sorted by oid after parsing */
	char *link_text;
	struct seekidx_file *files;	    /* nfiles, ascending oid */
	struct seekidx_point *points;	    /* npoints, ascending out */
};

#endif
