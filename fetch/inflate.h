/*
 * inflate.h - the decompressor of fetch/unpack.c: one interface, three
 * implementations chosen by the stream's magic bytes (never by URL):
 *
 *   gzip  ISA-L's streaming isal_inflate(), multi-member aware
 *   zstd  libzstd's ZSTD_decompressStream(), multi-frame
 *   other libarchive's built-in bzip2 and xz filters, or the bytes as they
 *         are ("none": a plain tar, or something the tar reader rejects)
 *
 * A struct inflate pulls compressed bytes from a source callback and hands
 * out decompressed bytes into the caller's buffer.  Internal to libfetch.
 * Not thread-safe: one struct inflate belongs to one thread at a time.
 */
#ifndef FETCH_INFLATE_H
#define FETCH_INFLATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * inflate_source_fn - the next compressed bytes into *buf and *len: a pointer
 * valid until the next call, *len 0 at the end.  Returns 0 or -errno; an
 * error is returned by every later inflate_read() (the source keeps its
 * own message: see inflate_source_failed()).
 */
typedef int (*inflate_source_fn)(void *arg, const void **buf, size_t *len);

enum inflate_flags {
	/*
	 * gzip and zstd through libarchive too (libarchive's zlib and zstd
	 * filters): the decompressor before ISA-L, kept only to compare
	 * speeds (ARTIFACTFS_INFLATE=libarchive, a benchmark knob).
	 */
	INFLATE_LIBARCHIVE = 1 << 0,
};

struct inflate;

/*
 * inflate_new - a decompressor reading from src(arg) (borrowed, called
 * only from inflate_read()).  Nothing is read yet.  Returns 0 or -ENOMEM.
 */
int inflate_new(inflate_source_fn src, void *arg, unsigned flags, struct inflate **ret);

/* inflate_free - free z and its codec state; NULL is a no-op. */
void inflate_free(struct inflate *z);

/*
 * inflate_read - up to cap decompressed bytes into out; *got is 0 only at
 * the end of the data.  The first call reads up to 8 bytes of the source to
 * choose the codec (inflate_magic()).  After the end of a gzip member,
 * another member follows when the next bytes are a gzip header (as gzip -d
 * and libarchive read them); other trailing bytes end the data and are left
 * unread.  Returns 0, -EILSEQ for malformed or truncated compressed data,
 * -ENOMEM, or the source's -errno; the error sticks, with a message in
 * inflate_errmsg().
 */
int inflate_read(struct inflate *z, void *out, size_t cap, size_t *got);

/*
 * inflate_drain - read the source to its end, after inflate_read() said
 * the data ended; the bytes are dropped.  Returns 0 or the source's -errno.
 */
int inflate_drain(struct inflate *z);

/* inflate_name - "gzip", "zstd", "bzip2", "xz" or "none" (static), "none" before the first read */
const char *inflate_name(const struct inflate *z);

/*
 * inflate_magic - the first bytes of the source (at most 8, fewer only for
 * a shorter source) into *len; borrowed, valid while z lives and unchanged
 * after the first inflate_read() returned.
 */
const unsigned char *inflate_magic(const struct inflate *z, size_t *len);

/* inflate_errmsg - the message of the sticky error ("" when none; borrowed). */
const char *inflate_errmsg(const struct inflate *z);

/* inflate_source_failed - whether the sticky error is the source's own. */
bool inflate_source_failed(const struct inflate *z);

#endif
