/*
 * pack_out.c - the output stream of pack.c: the uncompressed tar bytes go
 * through libarchive's gzip, zstd or xz filter (its raw format, so that
 * libarchive never formats the tar itself), or are gathered for write(2)
 * when there is no compression; the bytes written are counted and hashed
 * (sha256) on their way to the output descriptor.  gzip gets a zero mtime
 * and no block padding, so the output depends on the tree only.  Also the
 * compression names of pack.h.
 */
#include "tools/publish/pack_int.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

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

int pack_out_open(struct packer *pk, enum pack_compress c, int level)
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
	pk->ar = archive_write_new();
	if (!pk->ar)
		return pack_failf(pk, -ENOMEM, "cannot set up %s compression", filter);
	if (archive_write_set_format_raw(pk->ar) != ARCHIVE_OK)
		return archive_fail(pk, "set up the raw format");
	if (c == PACK_COMPRESS_GZIP)
		r = archive_write_add_filter_gzip(pk->ar);
	else if (c == PACK_COMPRESS_ZSTD)
		r = archive_write_add_filter_zstd(pk->ar);
	else
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
	/* Deterministic gzip: a zero mtime in the header (it never holds a file name). */
	if (c == PACK_COMPRESS_GZIP &&
		archive_write_set_filter_option(pk->ar, filter, "timestamp", NULL) != ARCHIVE_OK)
		return archive_fail(pk, "turn off the gzip timestamp");
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
	if (!pk->ar)
		return flush_obuf(pk);
	if (archive_write_close(pk->ar) != ARCHIVE_OK)
		return archive_fail(pk, "finish compressing");
	return 0;
}
