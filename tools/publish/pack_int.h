/*
 * pack_int.h - what the files of the packer share: struct packer, one
 * pack_create()/pack_write() run, and the calls between them.
 *   pack.c      the walk (name order, paths, files, symlinks, progress), the
 *               entry points, the output file, messages (pack_failf)
 *   pack_out.c  the output stream: uncompressed tar bytes in, through
 *               pgz.c (gzip), libzstd or libarchive's xz filter, sha256 and
 *               write(2) out; compression names, the default thread count
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
struct pgz;
struct ZSTD_CCtx_s;

#define PACK_IO_SIZE (1u << 20) /* read buffer and output buffer */

struct packer {
	/* output */
	int outfd;
	struct pgz *gz;		 /* PACK_COMPRESS_GZIP */
	struct ZSTD_CCtx_s *zc;	 /* PACK_COMPRESS_ZSTD */
	struct archive *ar;	 /* PACK_COMPRESS_XZ */
	struct hash_ctx *sha256; /* of the bytes written to outfd */
	uint64_t out_bytes, tar_bytes;
	uint8_t *obuf; /* uncompressed (or zstd) output is gathered here */
	size_t olen;
	int werr; /* first write(2) error, from the libarchive or pgz callback */
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
 * PACK_COMPRESS_AUTO) at level (< 0: the compressor's default) on jobs
 * threads (1 to PACK_JOBS_MAX; gzip and zstd only, the bytes do not depend
 * on it).  pk->outfd, and pk->obuf (PACK_IO_SIZE bytes) for
 * PACK_COMPRESS_NONE, are set by the caller; the caller calls
 * pack_out_release() whatever happens.  Returns 0 or -errno,
 * with the message recorded (-EINVAL for a level or thread count out of
 * range, -ENOTSUP when libarchive lacks xz or libzstd refuses a parameter).
 */
int pack_out_open(struct packer *pk, enum pack_compress c, int level, int jobs);

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

/*
 * pack_out_release - free the compressor of pk (joining its threads) and
 * pk->obuf; pk->outfd stays open.  Safe after a failed pack_out_open() and
 * on a zeroed packer.
 */
void pack_out_release(struct packer *pk);

#endif
