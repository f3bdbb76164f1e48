/*
 * seekidx.h - the seek index of a gzip tarball: what a reader needs to
 * serve one file of an artifact without the rest of the tarball, verified
 * against the artifact's git-tree-sha1 (issue 16; format in
 * doc/internals/seek-index.md).
 *
 * An index holds, for one tarball:
 *  - the artifact's git tree objects (Pkg GitTools.tree_hash, spec §2.2):
 *    they hash up to the git-tree-sha1, so the names, modes and blob ids
 *    of every entry are verified against the pinned hash alone;
 *  - the target of every symlink (its blob, verified by its blob id);
 *  - for every distinct regular-file blob: the offset and size of one
 *    copy of its data in the uncompressed tar stream;
 *  - gzip restart points about every SEEKIDX_SPAN bytes of output: the
 *    compressed bit position of a deflate block boundary, the uncompressed
 *    offset there, and the 32 KiB of output before it (the window), each
 *    window raw-deflated and stored at the end of the file, so that a
 *    reader fetches the "head" (everything but the windows) first and
 *    each window only when it needs it (HTTP Range).
 * Nothing but the tree objects and symlink targets is trusted: a wrong
 * offset, point or window yields bytes whose blob SHA-1 differs, which
 * seekidx_reader_finish() reports, so a reader never serves them.
 *
 * seekidx.c parses, seekidx_read.c reads, seekidx_build.c builds; all
 * follow the format of doc/internals/seek-index.md.  Pure computation (zlib,
 * and libcrypto through store/hash.h): no network, no files.  The builder, the parser and the reader are each
 * owned by one thread at a time; a parsed struct seekidx is read-only and
 * may be shared by threads.
 */
#ifndef FETCH_SEEKIDX_H
#define FETCH_SEEKIDX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/hash.h"

#define SEEKIDX_MAGIC "AFSSEEK\n"	/* the first 8 bytes of an index */
#define SEEKIDX_VERSION 1		/* the format this code writes and reads */
#define SEEKIDX_FIXED 128		/* bytes of the fixed header (head_len is in it) */
#define SEEKIDX_WINDOW 32768		/* bytes of history a restart point needs */
#define SEEKIDX_SPAN (1u << 20)		/* default output bytes between restart points */
#define SEEKIDX_HEAD_MAX (256u << 20)	/* largest head accepted, bytes */

/* One distinct regular-file blob and where one copy of it is. */
struct seekidx_file {
	uint8_t oid[HASH_SHA1_LEN]; /* git blob id */
	uint64_t offset;	    /* of its data in the uncompressed tar stream, bytes */
	uint64_t size;		    /* bytes */
};

/* One gzip restart point (a deflate block boundary). */
struct seekidx_point {
	uint64_t in;	      /* compressed offset of the byte holding the block's first bit */
	uint64_t out;	      /* uncompressed offset at the boundary */
	uint8_t bits;	      /* bits of byte in-1 that belong to the new block: 0..7 */
	uint64_t window_off;  /* offset of its compressed window in the index file */
	uint32_t window_len;  /* bytes of that compressed window */
};

/* One entry of a tree object, in git order. */
struct seekidx_entry {
	const char *name;	    /* NUL-terminated (names hold no NUL) */
	uint32_t mode;		    /* 040000, 0100644, 0100755 or 0120000 */
	uint8_t oid[HASH_SHA1_LEN];
	/* resolved by seekidx_parse(): exactly one is set, by mode */
	const struct seekidx_tree *tree;  /* 040000 */
	const struct seekidx_file *file;  /* 0100644, 0100755 */
	const char *target;		  /* 0120000: symlink target, NUL-terminated */
	size_t target_len;		  /* its bytes */
};

/* One verified tree object. */
struct seekidx_tree {
	uint8_t oid[HASH_SHA1_LEN];
	size_t n;
	const struct seekidx_entry *e; /* n entries, git order */
};

struct seekidx;

/*
 * seekidx_head_len - from the first SEEKIDX_FIXED bytes of an index (len
 * may be more), the number of bytes of its head: what seekidx_parse() needs.
 * Returns 0 with *ret set, or -EILSEQ (not an index, a newer version, a
 * head over SEEKIDX_HEAD_MAX) with a static message in *why.
 */
int seekidx_head_len(const void *buf, size_t len, uint64_t *ret, const char **why);

/*
 * seekidx_parse - parse and verify the head of an index (buf, len bytes,
 * at least its head_len; bytes past the head are ignored; copied, buf may
 * go after the call).  Every tree object must hash to its oid, the root
 * must be the header's tree and, when tree is not NULL, tree (NULL: an
 * index checked on its own, e.g. by its builder), every entry must
 * resolve (a 040000 to a tree object, a file to a file record of its oid,
 * a symlink to a target that hashes to its oid), and file records and
 * points must be ordered and inside the stream; anything else is -EBADMSG.
 * Malformed bytes are -EILSEQ.  On success *ret is owned by the caller
 * (seekidx_free()); on failure *errmsg (when not NULL) gets a malloc'ed
 * message naming what is wrong, and *ret is untouched.  -ENOMEM.
 * Never reads past len; every length is checked before use (fuzzed).
 */
int seekidx_parse(const void *buf, size_t len, const uint8_t tree[HASH_SHA1_LEN],
	struct seekidx **ret, char **errmsg);

/* seekidx_free - free an index; NULL is a no-op. */
void seekidx_free(struct seekidx *x);

/* Accessors; pointers borrowed, valid until seekidx_free(). */
const struct seekidx_tree *seekidx_root(const struct seekidx *x);
const uint8_t *seekidx_tarball_sha256(const struct seekidx *x); /* 32 bytes */
uint64_t seekidx_tarball_size(const struct seekidx *x);	 /* compressed bytes */
uint64_t seekidx_stream_size(const struct seekidx *x);		 /* uncompressed tar bytes */
size_t seekidx_nfiles(const struct seekidx *x);
size_t seekidx_npoints(const struct seekidx *x);
const struct seekidx_point *seekidx_point(const struct seekidx *x, size_t i);
uint64_t seekidx_file_size(const struct seekidx *x); /* bytes of the whole index file */

/*
 * seekidx_lookup - the entry name (len bytes, no NUL needed) of tree t, or
 * NULL.  Binary search in git order.
 */
const struct seekidx_entry *seekidx_lookup(const struct seekidx_tree *t, const char *name,
	size_t len);

/*
 * seekidx_find_file - the file record of blob oid, or NULL.
 */
const struct seekidx_file *seekidx_find_file(const struct seekidx *x,
	const uint8_t oid[HASH_SHA1_LEN]);

/* --- reading one file ------------------------------------------------------ */

/*
 * What to fetch for one file: the compressed bytes [in_start, in_end) of
 * the tarball (in_end is the tarball size when the file runs to the last
 * point), and the restart point to start from (NULL: the start of the
 * stream, gzip header included; no window needed).
 */
struct seekidx_span {
	const struct seekidx_point *point;
	uint64_t in_start, in_end; /* compressed bytes, in_end exclusive */
	uint64_t skip;		   /* uncompressed bytes between the point and the file's data */
};

/*
 * seekidx_span_of - the span of file f of x: from the last point with out
 * <= f->offset (in_start is its in, less one when its bits are not 0), to
 * one byte past the in of the first point with out >= f->offset + f->size,
 * or to the tarball's end.  f must be a record of x (an entry's file, or
 * seekidx_find_file()); -EINVAL otherwise.  Returns 0 or -EINVAL.
 */
int seekidx_span_of(const struct seekidx *x, const struct seekidx_file *f,
	struct seekidx_span *ret);

/*
 * seekidx_window - inflate a point's compressed window (comp, len bytes:
 * the index file's bytes [window_off, window_off + window_len)) into out
 * (SEEKIDX_WINDOW bytes); *got receives its length (less than
 * SEEKIDX_WINDOW only near the start of the stream).  -EILSEQ when
 * malformed (corrupt, longer than SEEKIDX_WINDOW, bytes after its end),
 * -ENOMEM.
 */
int seekidx_window(const void *comp, size_t len, uint8_t *out, size_t *got);

struct seekidx_reader;

/*
 * seekidx_reader_new - inflate span sp of file f from the window (wlen
 * bytes, at most SEEKIDX_WINDOW; ignored when sp->point is NULL; copied).
 * Feed it the compressed bytes of the span in order, from sp->in_start,
 * with seekidx_reader_feed(); each byte of the file's data goes to
 * out(arg, p, n) as it is inflated, and is hashed.  out returns 0 or a
 * -errno, which stops the reader with that value.  sp and f are read by
 * every call: they must live as long as the reader.  -ENOMEM, -EINVAL.
 */
typedef int (*seekidx_out_fn)(void *arg, const void *p, size_t n);
int seekidx_reader_new(const struct seekidx_span *sp, const struct seekidx_file *f,
	const void *window, size_t wlen, seekidx_out_fn out, void *arg,
	struct seekidx_reader **ret);

/*
 * seekidx_reader_feed - the next n compressed bytes.  Returns 0 (more
 * wanted), 1 (the file is complete: stop sending), -EILSEQ (corrupt
 * data), -ENOMEM, -EIO (hashing), or out's value; after a failure every
 * later call returns it again.  Crosses gzip member boundaries.
 */
int seekidx_reader_feed(struct seekidx_reader *r, const void *p, size_t n);

/*
 * seekidx_reader_finish - 0 when all f->size bytes came out and their git
 * blob SHA-1 equals f->oid; -EBADMSG when it differs, -EPIPE when the span
 * ended first (or feed failed).  Call it once.  The caller must not serve
 * the bytes otherwise.
 */
int seekidx_reader_finish(struct seekidx_reader *r);
void seekidx_reader_free(struct seekidx_reader *r);

/* --- building -------------------------------------------------------------- */

struct seekidx_builder;

/*
 * seekidx_builder_new - a builder with a restart point about every span
 * output bytes (0: SEEKIDX_SPAN).  Feed it, in any interleaving, the
 * compressed tarball (seekidx_builder_compressed(), in order) and what the
 * tar reader found (seekidx_builder_file(), _link(), _trees()).  -ENOMEM.
 */
int seekidx_builder_new(uint64_t span, struct seekidx_builder **ret);
void seekidx_builder_free(struct seekidx_builder *b);

/* The next n compressed bytes.  -EILSEQ when not gzip or corrupt; -ENOTSUP (zstd, xz...). */
int seekidx_builder_compressed(struct seekidx_builder *b, const void *p, size_t n);
/* A regular file's blob at offset (uncompressed tar stream) of size bytes. */
int seekidx_builder_file(struct seekidx_builder *b, const uint8_t oid[HASH_SHA1_LEN],
	uint64_t offset, uint64_t size);
/* A symlink's target (len bytes). */
int seekidx_builder_link(struct seekidx_builder *b, const char *target, size_t len);
/* The tree objects of the finished tree builder, Pkg rule (flags 0). */
int seekidx_builder_trees(struct seekidx_builder *b, struct tree_builder *tb);

/*
 * seekidx_builder_finish - the whole index (head then windows) into a
 * malloc'ed buffer *ret of *len bytes (caller frees).  sha256 (32 bytes)
 * is the tarball's.  -EILSEQ when the compressed stream was incomplete.
 */
int seekidx_builder_finish(struct seekidx_builder *b, const uint8_t sha256[HASH_SHA256_LEN],
	uint8_t **ret, size_t *len);

/*
 * seekidx_builder_error - a static message for the error the compressed
 * side or seekidx_builder_finish() returned last (e.g. "the tarball is
 * zstd-compressed; a seek index needs gzip"), or "no error".  Records are
 * filtered at finish: only the blobs the tree objects name are written, one
 * file record per blob (the first copy in the stream) and one link record
 * per distinct target.
 */
const char *seekidx_builder_error(const struct seekidx_builder *b);

#endif
