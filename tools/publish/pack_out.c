/*
 * pack_out.c - the output stream of pack.c: the uncompressed tar bytes go
 * through pgz.c's parallel gzip, libzstd's multithreaded streaming API, or
 * libarchive's xz filter (its raw format, so that libarchive never formats
 * the tar itself), or are gathered for write(2) when there is no
 * compression; the bytes written are counted and hashed (sha256) on their
 * way to the output descriptor.  gzip and zstd produce the same bytes for
 * every thread count (fixed block and job sizes), and xz gets no block
 * padding, so the output depends on the tree and the level only.  Also the
 * compression names of pack.h and the default thread count.
 */
#include "tools/publish/pack_int.h"

#include "tools/publish/pgz.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zstd.h>

/*
 * zstd's job size: input bytes per worker job, fixed so that the frame does
 * not depend on the number of workers (libzstd's default for level 3).
 */
#define PACK_ZSTD_JOB_SIZE (8u << 20)

_Static_assert(PACK_JOBS_MAX <= PGZ_JOBS_MAX, "pgz must take every thread count of pack");

/* ---- compression names ------------------------------------------------------ */

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && strcmp(s + n - m, suffix) == 0;
}

enum pack_compress pack_compress_from_name(const char *name)
{
	if (ends_with(name, ".tar.zst") || ends_with(name, ".tzst"))
		return PACK_COMPRESS_ZSTD;
	if (ends_with(name, ".tar.xz") || ends_with(name, ".txz"))
		return PACK_COMPRESS_XZ;
	if (ends_with(name, ".tar"))
		return PACK_COMPRESS_NONE;
	return PACK_COMPRESS_GZIP;
}

const char *pack_compress_name(enum pack_compress c)
{
	switch (c) {
	case PACK_COMPRESS_AUTO:
		return "auto";
	case PACK_COMPRESS_NONE:
		return "none";
	case PACK_COMPRESS_GZIP:
		return "gzip";
	case PACK_COMPRESS_ZSTD:
		return "zstd";
	case PACK_COMPRESS_XZ:
		return "xz";
	}
	return "?";
}

const char *pack_compress_suffix(enum pack_compress c)
{
	switch (c) {
	case PACK_COMPRESS_NONE:
		return ".tar";
	case PACK_COMPRESS_ZSTD:
		return ".tar.zst";
	case PACK_COMPRESS_XZ:
		return ".tar.xz";
	default:
		return ".tar.gz";
	}
}

int pack_default_jobs(void)
{
	cpu_set_t set;
	long n = 0;

	if (sched_getaffinity(0, sizeof(set), &set) == 0)
		n = CPU_COUNT(&set);
	if (n < 1)
		n = sysconf(_SC_NPROCESSORS_ONLN);
	return n < 1 ? 1 : n > PACK_JOBS_MAX ? PACK_JOBS_MAX : (int)n;
}

/* ---- output ------------------------------------------------------------------- */

/* The final bytes: sha256, count, write(2). */
static int sink(struct packer *pk, const void *p, size_t len)
{
	const uint8_t *b = p;
	int r;

	r = hash_ctx_update(pk->sha256, p, len);
	if (r < 0)
		return r;
	pk->out_bytes += len;
	while (len) {
		ssize_t n = write(pk->outfd, b, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		b += n;
		len -= (size_t)n;
	}
	return 0;
}

static la_ssize_t archive_sink(struct archive *a, void *arg, const void *p, size_t len)
{
	struct packer *pk = arg;
	int r = sink(pk, p, len);

	if (r < 0) {
		if (!pk->werr)
			pk->werr = r;
		archive_set_error(a, -r, "cannot write: %s", strerror(-r));
		return -1;
	}
	return (la_ssize_t)len;
}

static int gz_sink(void *arg, const void *p, size_t len)
{
	struct packer *pk = arg;
	int r = sink(pk, p, len);

	if (r < 0 && !pk->werr)
		pk->werr = r;
	return r;
}

/* The first error of the gzip stream: a write(2) error, or the compressor's. */
static int gz_fail(struct packer *pk, int r, const char *what)
{
	if (pk->werr)
		return pack_failf(pk, pk->werr, "cannot write the tarball: %s",
			strerror(-pk->werr));
	return pack_failf(pk, r, "cannot %s: %s", what, strerror(-r));
}

/* Feed in to libzstd with directive op, writing what it produces. */
static int zstd_run(struct packer *pk, ZSTD_inBuffer *in, ZSTD_EndDirective op)
{
	size_t left;
	int r;

	do {
		ZSTD_outBuffer out = {pk->obuf, PACK_IO_SIZE, 0};

		left = ZSTD_compressStream2(pk->zc, &out, in, op);
		if (ZSTD_isError(left))
			return pack_failf(pk, -EIO, "cannot compress the tarball: %s",
				ZSTD_getErrorName(left));
		if (out.pos && (r = sink(pk, pk->obuf, out.pos)) < 0)
			return pack_failf(pk, r, "cannot write the tarball: %s", strerror(-r));
	} while (op == ZSTD_e_end ? left != 0 : in->pos < in->size);
	return 0;
}

static int archive_fail(struct packer *pk, const char *what)
{
	int r = pk->werr ? pk->werr : -EIO;

	return pack_failf(pk, r, "cannot %s: %s", what,
		pk->werr ? strerror(-r)
			 : (archive_error_string(pk->ar) ? archive_error_string(pk->ar)
							 : "libarchive error"));
}

static int flush_obuf(struct packer *pk)
{
	int r = 0;

	if (pk->olen)
		r = sink(pk, pk->obuf, pk->olen);
	pk->olen = 0;
	return r < 0 ? pack_failf(pk, r, "cannot write the tarball: %s", strerror(-r)) : 0;
}

/* Uncompressed tar bytes: into the compressor, or gathered for write(2). */
int pack_out_tar(struct packer *pk, const void *p, size_t len)
{
	const uint8_t *b = p;
	int r;

	pk->tar_bytes += len;
	if (pk->gz) {
		r = pgz_write(pk->gz, p, len);
		return r < 0 ? gz_fail(pk, r, "compress the tarball") : 0;
	}
	if (pk->zc) {
		ZSTD_inBuffer in = {p, len, 0};

		return zstd_run(pk, &in, ZSTD_e_continue);
	}
	if (pk->ar) {
		while (len) {
			la_ssize_t n = archive_write_data(pk->ar, b, len);

			if (n <= 0)
				return archive_fail(pk, "compress the tarball");
			b += n;
			len -= (size_t)n;
		}
		return 0;
	}
	while (len) {
		size_t n = PACK_IO_SIZE - pk->olen;

		if (n > len)
			n = len;
		memcpy(pk->obuf + pk->olen, b, n);
		pk->olen += n;
		b += n;
		len -= n;
		if (pk->olen == PACK_IO_SIZE && (r = flush_obuf(pk)) < 0)
			return r;
	}
	return 0;
}

/* libzstd in multithreaded mode: workers >= 1 always, so -j1 writes the same frame. */
static int zstd_open(struct packer *pk, int level, int jobs)
{
	ZSTD_CCtx *zc = ZSTD_createCCtx();
	size_t e;

	if (!zc || !(pk->obuf = malloc(PACK_IO_SIZE))) {
		ZSTD_freeCCtx(zc);
		return pack_failf(pk, -ENOMEM, "cannot set up zstd compression: out of memory");
	}
	pk->zc = zc;
	if (ZSTD_isError(e = ZSTD_CCtx_setParameter(zc, ZSTD_c_compressionLevel,
				 level < 0 ? 3 : level)) ||
		ZSTD_isError(e = ZSTD_CCtx_setParameter(zc, ZSTD_c_checksumFlag, 1)) ||
		ZSTD_isError(e = ZSTD_CCtx_setParameter(zc, ZSTD_c_nbWorkers, jobs)) ||
		ZSTD_isError(e = ZSTD_CCtx_setParameter(zc, ZSTD_c_jobSize, PACK_ZSTD_JOB_SIZE)))
		return pack_failf(pk, -ENOTSUP, "cannot set up zstd compression: %s",
			ZSTD_getErrorName(e));
	return 0;
}

int pack_out_open(struct packer *pk, enum pack_compress c, int level, int jobs)
{
	struct archive_entry *e;
	const char *filter = NULL;
	char lv[16];
	int r = ARCHIVE_OK, lo = 0, hi = 0;

	switch (c) {
	case PACK_COMPRESS_NONE:
		return 0;
	case PACK_COMPRESS_GZIP:
		filter = "gzip", lo = 1, hi = 9;
		break;
	case PACK_COMPRESS_ZSTD:
		filter = "zstd", lo = 1, hi = 22;
		break;
	case PACK_COMPRESS_XZ:
		filter = "xz", lo = 0, hi = 9;
		break;
	default:
		return pack_failf(pk, -EINVAL, "invalid compression %d", (int)c);
	}
	if (level >= 0 && (level < lo || level > hi))
		return pack_failf(
			pk, -EINVAL, "invalid %s level %d: use %d to %d", filter, level, lo, hi);
	if (jobs < 1 || jobs > PACK_JOBS_MAX)
		return pack_failf(pk, -EINVAL, "invalid number of threads %d: use 1 to %d", jobs,
			PACK_JOBS_MAX);
	if (c == PACK_COMPRESS_GZIP) {
		r = pgz_new(level, (unsigned)jobs, gz_sink, pk, &pk->gz);
		return r < 0 ? pack_failf(pk, r, "cannot set up gzip compression: %s",
				       strerror(-r))
			     : 0;
	}
	if (c == PACK_COMPRESS_ZSTD)
		return zstd_open(pk, level, jobs);
	pk->ar = archive_write_new();
	if (!pk->ar)
		return pack_failf(pk, -ENOMEM, "cannot set up %s compression", filter);
	if (archive_write_set_format_raw(pk->ar) != ARCHIVE_OK)
		return archive_fail(pk, "set up the raw format");
	r = archive_write_add_filter_xz(pk->ar);
	if (r != ARCHIVE_OK) {
		pack_failf(pk, -ENOTSUP, "cannot compress with %s: %s", filter,
			archive_error_string(pk->ar) ? archive_error_string(pk->ar)
						     : "not supported by libarchive");
		return -ENOTSUP;
	}
	if (level >= 0) {
		snprintf(lv, sizeof(lv), "%d", level);
		if (archive_write_set_filter_option(pk->ar, filter, "compression-level", lv) !=
			ARCHIVE_OK)
			return archive_fail(pk, "set the compression level");
	}
	/* No block padding: the last block holds exactly the bytes produced. */
	archive_write_set_bytes_per_block(pk->ar, PACK_IO_SIZE);
	archive_write_set_bytes_in_last_block(pk->ar, 1);
	if (archive_write_open(pk->ar, pk, NULL, archive_sink, NULL) != ARCHIVE_OK)
		return archive_fail(pk, "start compressing");
	e = archive_entry_new();
	if (!e)
		return pack_failf(pk, -ENOMEM, "cannot start compressing: out of memory");
	archive_entry_set_pathname(e, "tar");
	archive_entry_set_filetype(e, AE_IFREG);
	r = archive_write_header(pk->ar, e);
	archive_entry_free(e);
	if (r != ARCHIVE_OK)
		return archive_fail(pk, "start compressing");
	return 0;
}

int pack_out_close(struct packer *pk)
{
	int r;

	if (pk->gz) {
		r = pgz_finish(pk->gz);
		return r < 0 ? gz_fail(pk, r, "finish compressing") : 0;
	}
	if (pk->zc) {
		ZSTD_inBuffer in = {NULL, 0, 0};

		return zstd_run(pk, &in, ZSTD_e_end);
	}
	if (!pk->ar)
		return flush_obuf(pk);
	if (archive_write_close(pk->ar) != ARCHIVE_OK)
		return archive_fail(pk, "finish compressing");
	return 0;
}

void pack_out_release(struct packer *pk)
{
	if (pk->ar)
		archive_write_free(pk->ar);
	pgz_free(pk->gz);
	ZSTD_freeCCtx(pk->zc);
	free(pk->obuf);
	pk->ar = NULL;
	pk->gz = NULL;
	pk->zc = NULL;
	pk->obuf = NULL;
}
