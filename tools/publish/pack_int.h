/*
 * pack_int.h - what the files of the packer share: struct packer, one
 * pack_create()/pack_write() run, and the calls between them.
 *   pack.c      the walk (name order, paths, files, symlinks, progress), the
 *               entry points, the output file, messages (pack_failf)
 *   pack_out.c  the output stream: uncompressed tar bytes in, through
 *               libarchive's gzip/zstd/xz filters, sha256 and write(2) out;
 *               compression names
 *   pack_tar.c  Tar.jl's header blocks (pack_tar_header, public)
 * Not a public header: commands and tests use tools/publish/pack.h.
 *
 * Thread safety: a struct packer belongs to the one thread running it.
 */
#ifndef ARTIFACTCTL_PACK_INT_H
#define ARTIFACTCTL_PACK_INT_H

#include <stddef.h>
#include <stdint.h>

#include "tools/publish/pack.h"

struct archive;

#define PACK_IO_SIZE (1u << 20) /* read buffer and output buffer */

struct packer {
	/* output */
	int outfd;
	struct archive *ar;	 /* NULL for PACK_COMPRESS_NONE */
	struct hash_ctx *sha256; /* of the bytes written to outfd */
	uint64_t out_bytes, tar_bytes;
	uint8_t *obuf; /* uncompressed output is gathered here */
	size_t olen;
	int werr; /* first write(2) error, from the libarchive callback */
	/* input */
	uint8_t *rbuf;
	struct hash_ctx *blob;
	struct tree_builder *tb;
	struct pack_result res;
	char *path; /* tarball path of the current entry */
	size_t plen, pcap;
	const char *root; /* the directory as the caller named it, for messages */
	char *shown;	  /* root + "/" + path, built by cur_path() */
	/* progress */
	pack_progress_fn *progress;
	void *parg;
	uint64_t total, done, next_report;
	char *errmsg; /* first error wins */
};

/* ---- pack.c ------------------------------------------------------------- */

/*
 * pack_failf - record the formatted message as the run's error unless one is
 * already recorded (first error wins); returns r (a negative errno) so that
 * callers can write "return pack_failf(pk, -EIO, ...)".
 */
int pack_failf(struct packer *pk, int r, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* ---- pack_out.c --------------------------------------------------------- */

/*
 * pack_out_open - set up the output of pk for compression c (never
 * PACK_COMPRESS_AUTO) at level (< 0: the filter's default).  pk->outfd, and
 * pk->obuf (PACK_IO_SIZE bytes) for PACK_COMPRESS_NONE, are set by the caller;
 * pk->ar is freed by the caller, whatever happens.  Returns 0 or -errno, with
 * the message recorded (-EINVAL for a level out of range, -ENOTSUP when
 * libarchive lacks the filter).
 */
int pack_out_open(struct packer *pk, enum pack_compress c, int level);

/*
 * pack_out_tar - append len bytes at p to the uncompressed tar stream (they
 * count in pk->tar_bytes); the compressed bytes go to the sha256 and to
 * outfd.  Returns 0 or -errno, with the message recorded.
 */
int pack_out_tar(struct packer *pk, const void *p, size_t len);

/*
 * pack_out_close - flush the compressor (or the gathered bytes) to outfd.
 * Returns 0 or -errno, with the message recorded.
 */
int pack_out_close(struct packer *pk);

#endif
