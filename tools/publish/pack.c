/*
 * pack.c - deterministic artifact tarballs in Tar.jl's canonical form
 *
 * The tar stream is formatted here, block by block, exactly as JuliaIO/Tar.jl
 * src/create.jl writes it (write_tarball, write_header,
 * write_extended_header, write_standard_header); libarchive only compresses
 * it, through its raw format.  One pass: each file is read once, its bytes
 * go to the git blob hash and to the tar stream, and the compressed bytes go
 * to the sha256 and to the output.  See tools/publish/pack.h.
 */
#include "tools/publish/pack.h"

#include "fetch/tar.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define BLOCK TAR_BLOCK
#define IO_SIZE (1u << 20)	 /* read buffer and output buffer */
#define PROGRESS_STEP (1u << 20) /* report about every MiB of content */

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

/* ---- messages ------------------------------------------------------------- */

static int failf(struct packer *pk, int r, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int failf(struct packer *pk, int r, const char *fmt, ...)
{
	va_list ap;

	if (pk->errmsg)
		return r;
	va_start(ap, fmt);
	if (vasprintf(&pk->errmsg, fmt, ap) < 0)
		pk->errmsg = NULL;
	va_end(ap);
	return r;
}

/* The current entry for messages: "<root>/<path>", or "<root>" itself. */
static const char *cur_path(struct packer *pk)
{
	free(pk->shown);
	pk->shown = NULL;
	if (!pk->plen)
		return pk->root;
	if (asprintf(&pk->shown, "%s/%s", pk->root, pk->path) < 0) {
		pk->shown = NULL;
		return pk->path;
	}
	return pk->shown;
}

/* Set *msg to a formatted message (NULL when out of memory). */
static void set_msg(char **msg, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_msg(char **msg, const char *fmt, ...)
{
	va_list ap;

	free(*msg);
	va_start(ap, fmt);
	if (vasprintf(msg, fmt, ap) < 0)
		*msg = NULL;
	va_end(ap);
}

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

/* ---- header blocks ----------------------------------------------------------- */

/* Copy s into the field at off, at most max bytes, no terminator added. */
static void put_field(uint8_t *h, size_t off, const char *s, size_t len)
{
	memcpy(h + off, s, len);
}

/* Tar.jl write_standard_header(): one ustar block at h (layout: fetch/tar.h). */
static void standard_header(uint8_t *h, const char *name, size_t namelen, const char *prefix,
	size_t prefixlen, char type, unsigned mode, uint64_t size, const char *link, size_t linklen)
{
	char num[32];
	int n, i;

	memset(h, 0, BLOCK);
	put_field(h, TAR_NAME, name, namelen);
	snprintf(num, sizeof(num), "%06o ", mode & 0777777);
	memcpy(h + TAR_MODE, num, 8);	     /* "%06o \0": the NUL from snprintf */
	memcpy(h + TAR_UID, "000000 \0", 8); /* uid */
	memcpy(h + TAR_GID, "000000 \0", 8); /* gid */
	n = snprintf(num, sizeof(num), "%011" PRIo64, size);
	if (n <= TAR_SIZE_LEN) {
		memcpy(h + TAR_SIZE, num, (size_t)n);
		if (n < TAR_SIZE_LEN)
			h[TAR_SIZE + n] = ' ';
	} else {
		/* GNU base-256 as Tar.jl emulates it: 0x80 then 11 big-endian bytes */
		h[TAR_SIZE] = 0x80;
		for (i = 10; i >= 0; i--)
			h[TAR_SIZE + TAR_SIZE_LEN - 1 - i] = i >= 8 ? 0 : (uint8_t)(size >> (8 * i));
	}
	memcpy(h + TAR_MTIME, "00000000000 ", 12);
	h[TAR_TYPEFLAG] = (uint8_t)type;
	put_field(h, TAR_LINKNAME, link, linklen);
	memcpy(h + TAR_MAGIC, "ustar\0", 6);
	memcpy(h + TAR_VERSION, "00", 2);
	memcpy(h + TAR_DEVMAJOR, "000000 \0", 8);
	memcpy(h + TAR_DEVMINOR, "000000 \0", 8);
	put_field(h, TAR_PREFIX, prefix, prefixlen);
	snprintf(num, sizeof(num), "%06o", tar_header_sum(h));
	memcpy(h + TAR_CHKSUM, num, 6);
	h[TAR_CHKSUM + 6] = '\0';
	h[TAR_CHKSUM + 7] = ' ';
}

static size_t ndigits(size_t n)
{
	size_t d = 1;

	while (n >= 10) {
		n /= 10;
		d++;
	}
	return d;
}

/* Length of the PAX record "<n> key=value\n": n counts its own digits. */
static size_t pax_record_len(const char *key, size_t vlen)
{
	size_t l = 1 + strlen(key) + 1 + vlen + 1, n = l;

	while (n < l + ndigits(n))
		n = l + ndigits(n);
	return n;
}

static size_t pax_record(uint8_t *p, const char *key, const char *val, size_t vlen)
{
	size_t n = pax_record_len(key, vlen), off;

	off = (size_t)sprintf((char *)p, "%zu %s=", n, key);
	memcpy(p + off, val, vlen);
	p[off + vlen] = '\n';
	return n;
}

long pack_tar_header(uint8_t *buf, size_t bufsize, const char *path, char type, unsigned mode,
	uint64_t size, const char *link)
{
	size_t plen, llen, namelen, prefixlen = 0, paxlen = 0, need, off = 0;
	bool pax_link = false, pax_path = false, pax_size = false;
	const char *name = path, *prefix = "";
	char sizestr[24];
	size_t i;

	if (!path || !*path || path[0] == '/' || mode > 0777777 ||
		(type != '0' && type != '2' && type != '5'))
		return -EINVAL;
	link = link ? link : "";
	plen = strlen(path);
	llen = strlen(link);
	namelen = plen;

	/* Tar.jl write_header(): the same decisions, in the same order. */
	if (llen > 100) {
		pax_link = true;
		paxlen += pax_record_len("linkpath", llen);
	}
	if (plen > 100) {
		if (plen < 256) {
			for (i = 100; i-- > 0;) {
				if (path[i] == '/') {
					prefix = path;
					prefixlen = i;
					name = path + i + 1;
					namelen = plen - i - 1;
					break;
				}
			}
		}
		if (namelen > 100 || prefixlen > 155) {
			pax_path = true;
			paxlen += pax_record_len("path", plen);
			name = prefix = "";
			namelen = prefixlen = 0;
		}
	}
	if (size >= (UINT64_C(1) << 36)) { /* 8^12 */
		pax_size = true;
		snprintf(sizestr, sizeof(sizestr), "%" PRIu64, size);
		paxlen += pax_record_len("size", strlen(sizestr));
	}

	need = BLOCK + (paxlen ? BLOCK + (paxlen + BLOCK - 1) / BLOCK * BLOCK : 0);
	if (bufsize < need)
		return -ENOBUFS;
	if (paxlen) {
		uint8_t *d = buf + BLOCK;

		standard_header(buf, "", 0, "", 0, 'x', 0, paxlen, "", 0);
		memset(d, 0, (paxlen + BLOCK - 1) / BLOCK * BLOCK);
		/* records sorted by key: linkpath < path < size */
		if (pax_link)
			d += pax_record(d, "linkpath", link, llen);
		if (pax_path)
			d += pax_record(d, "path", path, plen);
		if (pax_size)
			d += pax_record(d, "size", sizestr, strlen(sizestr));
		off = BLOCK + (paxlen + BLOCK - 1) / BLOCK * BLOCK;
	}
	standard_header(buf + off, name, namelen, prefix, prefixlen, type, mode, size,
		pax_link ? "" : link, pax_link ? 0 : llen);
	return (long)(off + BLOCK);
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

	return failf(pk, r, "cannot %s: %s", what,
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
	return r < 0 ? failf(pk, r, "cannot write the tarball: %s", strerror(-r)) : 0;
}

/* Uncompressed tar bytes: into the compressor, or gathered for write(2). */
static int tar_out(struct packer *pk, const void *p, size_t len)
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
		size_t n = IO_SIZE - pk->olen;

		if (n > len)
			n = len;
		memcpy(pk->obuf + pk->olen, b, n);
		pk->olen += n;
		b += n;
		len -= n;
		if (pk->olen == IO_SIZE && (r = flush_obuf(pk)) < 0)
			return r;
	}
	return 0;
}

static int out_open(struct packer *pk, enum pack_compress c, int level)
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
		return failf(pk, -EINVAL, "invalid compression %d", (int)c);
	}
	if (level >= 0 && (level < lo || level > hi))
		return failf(
			pk, -EINVAL, "invalid %s level %d: use %d to %d", filter, level, lo, hi);
	pk->ar = archive_write_new();
	if (!pk->ar)
		return failf(pk, -ENOMEM, "cannot set up %s compression", filter);
	if (archive_write_set_format_raw(pk->ar) != ARCHIVE_OK)
		return archive_fail(pk, "set up the raw format");
	if (c == PACK_COMPRESS_GZIP)
		r = archive_write_add_filter_gzip(pk->ar);
	else if (c == PACK_COMPRESS_ZSTD)
		r = archive_write_add_filter_zstd(pk->ar);
	else
		r = archive_write_add_filter_xz(pk->ar);
	if (r != ARCHIVE_OK) {
		failf(pk, -ENOTSUP, "cannot compress with %s: %s", filter,
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
	archive_write_set_bytes_per_block(pk->ar, IO_SIZE);
	archive_write_set_bytes_in_last_block(pk->ar, 1);
	if (archive_write_open(pk->ar, pk, NULL, archive_sink, NULL) != ARCHIVE_OK)
		return archive_fail(pk, "start compressing");
	e = archive_entry_new();
	if (!e)
		return failf(pk, -ENOMEM, "cannot start compressing: out of memory");
	archive_entry_set_pathname(e, "tar");
	archive_entry_set_filetype(e, AE_IFREG);
	r = archive_write_header(pk->ar, e);
	archive_entry_free(e);
	if (r != ARCHIVE_OK)
		return archive_fail(pk, "start compressing");
	return 0;
}

static int out_close(struct packer *pk)
{
	if (!pk->ar)
		return flush_obuf(pk);
	if (archive_write_close(pk->ar) != ARCHIVE_OK)
		return archive_fail(pk, "finish compressing");
	return 0;
}

/* ---- walking the tree ----------------------------------------------------------- */

/* Set the path to parent (the first plen bytes) + "/" + name. */
static int path_push(struct packer *pk, size_t plen, const char *name)
{
	size_t n = strlen(name), need = plen + 1 + n + 1;
	char *p;

	if (need > pk->pcap) {
		size_t cap = pk->pcap ? pk->pcap : 256;

		while (cap < need)
			cap *= 2;
		p = realloc(pk->path, cap);
		if (!p)
			return failf(pk, -ENOMEM, "out of memory");
		pk->path = p;
		pk->pcap = cap;
	}
	if (plen)
		pk->path[plen++] = '/';
	memcpy(pk->path + plen, name, n + 1);
	pk->plen = plen + n;
	return 0;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void free_names(char **names, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

/*
 * The names in directory dfd, sorted byte-wise (Tar.jl: sort!(keys)).  The
 * fd is not consumed: the listing reads a duplicate.
 */
static int list_dir(struct packer *pk, int dfd, char ***ret, size_t *nret)
{
	char **names = NULL, **p;
	size_t n = 0, cap = 0;
	struct dirent *de;
	DIR *d;
	int fd, r = 0;

	fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || !(d = fdopendir(fd))) {
		r = -errno;
		if (fd >= 0)
			close(fd);
		return failf(pk, r, "cannot read '%s': %s", cur_path(pk), strerror(-r));
	}
	for (;;) {
		errno = 0;
		de = readdir(d);
		if (!de) {
			if (errno)
				r = failf(pk, -errno, "cannot read '%s': %s", cur_path(pk),
					strerror(errno));
			break;
		}
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (n == cap) {
			cap = cap ? 2 * cap : 32;
			p = realloc(names, cap * sizeof(*names));
			if (!p) {
				r = failf(pk, -ENOMEM, "out of memory");
				break;
			}
			names = p;
		}
		names[n] = strdup(de->d_name);
		if (!names[n]) {
			r = failf(pk, -ENOMEM, "out of memory");
			break;
		}
		n++;
	}
	closedir(d);
	if (r < 0) {
		free_names(names, n);
		return r;
	}
	if (n)
		qsort(names, n, sizeof(*names), cmp_names);
	*ret = names;
	*nret = n;
	return 0;
}

static const char *type_name(mode_t m)
{
	if (S_ISFIFO(m))
		return "a fifo";
	if (S_ISSOCK(m))
		return "a socket";
	if (S_ISCHR(m))
		return "a character device";
	if (S_ISBLK(m))
		return "a block device";
	return "of an unknown type";
}

static int emit_header(struct packer *pk, char type, unsigned mode, uint64_t size, const char *link)
{
	uint8_t stackbuf[3 * BLOCK], *buf = stackbuf;
	size_t bufsize = sizeof(stackbuf);
	long n;
	int r;

	n = pack_tar_header(buf, bufsize, pk->path, type, mode, size, link);
	if (n == -ENOBUFS) {
		bufsize = 3 * BLOCK + pk->plen + (link ? strlen(link) : 0);
		bufsize = (bufsize + BLOCK - 1) / BLOCK * BLOCK;
		buf = malloc(bufsize);
		if (!buf)
			return failf(pk, -ENOMEM, "out of memory");
		n = pack_tar_header(buf, bufsize, pk->path, type, mode, size, link);
	}
	if (n < 0)
		r = failf(pk, (int)n, "cannot write a header for '%s'", cur_path(pk));
	else
		r = tar_out(pk, buf, (size_t)n);
	if (buf != stackbuf)
		free(buf);
	return r;
}

static void report_progress(struct packer *pk, bool last)
{
	if (!pk->progress)
		return;
	if (last || pk->done >= pk->next_report) {
		pk->progress(pk->done, pk->total, pk->parg);
		pk->next_report = pk->done + PROGRESS_STEP;
	}
}

/* A regular file: header, then its bytes, hashed as they stream by. */
static int pack_file(struct packer *pk, int dfd, const char *name)
{
	static const uint8_t zeros[BLOCK];
	uint8_t oid[HASH_SHA1_LEN];
	uint64_t size, left;
	struct stat st;
	bool exec;
	ssize_t n;
	int fd, r;

	fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		r = -errno;
		return failf(pk, r, "cannot open '%s': %s", cur_path(pk), strerror(-r));
	}
	if (fstat(fd, &st) < 0) {
		r = -errno;
		r = failf(pk, r, "cannot stat '%s': %s", cur_path(pk), strerror(-r));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		r = failf(pk, -EIO, "'%s' changed while being packed", cur_path(pk));
		goto out;
	}
	posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	size = (uint64_t)st.st_size;
	exec = st.st_mode & S_IXUSR;
	r = emit_header(pk, '0', exec ? 0755 : 0644, size, NULL);
	if (r < 0)
		goto out;
	r = hash_git_blob_start(pk->blob, size);
	if (r < 0)
		goto out;
	for (left = size; left;) {
		n = read(fd, pk->rbuf, left < IO_SIZE ? (size_t)left : IO_SIZE);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = -errno;
			r = failf(pk, r, "cannot read '%s': %s", cur_path(pk), strerror(-r));
			goto out;
		}
		if (n == 0) {
			r = failf(pk, -EIO, "'%s' shrank while being packed", cur_path(pk));
			goto out;
		}
		if ((r = hash_ctx_update(pk->blob, pk->rbuf, (size_t)n)) < 0 ||
			(r = tar_out(pk, pk->rbuf, (size_t)n)) < 0)
			goto out;
		left -= (uint64_t)n;
		pk->done += (uint64_t)n;
		report_progress(pk, false);
	}
	do
		n = read(fd, pk->rbuf, 1);
	while (n < 0 && errno == EINTR);
	if (n != 0) {
		r = n > 0 ? -EIO : -errno;
		r = failf(pk, r, n > 0 ? "'%s' grew while being packed" : "cannot read '%s'",
			cur_path(pk));
		goto out;
	}
	if (size % BLOCK && (r = tar_out(pk, zeros, BLOCK - size % BLOCK)) < 0)
		goto out;
	if ((r = hash_ctx_final(pk->blob, oid)) < 0 ||
		(r = tree_builder_add_file(pk->tb, pk->path, exec, oid)) < 0) {
		r = failf(pk, r, "cannot hash '%s': %s", cur_path(pk), strerror(-r));
		goto out;
	}
	pk->res.files++;
	pk->res.bytes += size;
out:
	close(fd);
	return r;
}

static int pack_symlink(struct packer *pk, int dfd, const char *name, size_t hint)
{
	size_t cap = hint + 1 > 256 ? hint + 1 : 256;
	char *target = NULL, *p;
	ssize_t n;
	int r;

	for (;;) {
		p = realloc(target, cap);
		if (!p) {
			r = failf(pk, -ENOMEM, "out of memory");
			goto out;
		}
		target = p;
		n = readlinkat(dfd, name, target, cap);
		if (n < 0) {
			r = -errno;
			r = failf(pk, r, "cannot read link '%s': %s", cur_path(pk), strerror(-r));
			goto out;
		}
		if ((size_t)n < cap)
			break;
		cap *= 2;
	}
	target[n] = '\0';
	if (n == 0) {
		r = failf(pk, -EIO, "symlink '%s' has an empty target", cur_path(pk));
		goto out;
	}
	r = emit_header(pk, '2', 0755, 0, target);
	if (r == 0 && (r = tree_builder_add_symlink(pk->tb, pk->path, target, (size_t)n)) < 0)
		r = failf(pk, r, "cannot hash '%s': %s", cur_path(pk), strerror(-r));
	if (r == 0)
		pk->res.files++;
out:
	free(target);
	return r;
}

/*
 * One directory, already emitted: its children in name order, depth
 * first.  Each subdirectory is entered with openat(O_NOFOLLOW) from its
 * parent's fd, so a symlink swapped in after the lstat is not followed.
 */
static int pack_dir(struct packer *pk, int dfd, unsigned depth)
{
	size_t i, n = 0, plen = pk->plen;
	char **names = NULL;
	struct stat st;
	int fd, r;

	if (depth >= TREE_MAX_DEPTH)
		return failf(pk, -ENAMETOOLONG, "'%s' is nested too deeply", cur_path(pk));
	r = list_dir(pk, dfd, &names, &n);
	if (r < 0)
		return r;
	for (i = 0; i < n && r == 0; i++) {
		if ((r = path_push(pk, plen, names[i])) < 0)
			break;
		if (strcmp(names[i], ".git") == 0)
			pk->res.dotgit++;
		if (fstatat(dfd, names[i], &st, AT_SYMLINK_NOFOLLOW) < 0) {
			r = -errno;
			r = failf(pk, r, "cannot stat '%s': %s", cur_path(pk), strerror(-r));
		} else if (S_ISREG(st.st_mode)) {
			r = pack_file(pk, dfd, names[i]);
		} else if (S_ISLNK(st.st_mode)) {
			r = pack_symlink(pk, dfd, names[i], (size_t)st.st_size);
		} else if (S_ISDIR(st.st_mode)) {
			r = emit_header(pk, '5', 0755, 0, NULL);
			if (r == 0 && (r = tree_builder_add_dir(pk->tb, pk->path)) < 0)
				r = failf(
					pk, r, "cannot hash '%s': %s", cur_path(pk), strerror(-r));
			if (r < 0)
				break;
			pk->res.dirs++;
			fd = openat(dfd, names[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (fd < 0) {
				r = -errno;
				r = failf(
					pk, r, "cannot open '%s': %s", cur_path(pk), strerror(-r));
				break;
			}
			r = pack_dir(pk, fd, depth + 1);
			close(fd);
		} else {
			r = failf(pk, -ENOTSUP,
				"'%s' is %s: only files, directories and symlinks "
				"can be packed",
				cur_path(pk), type_name(st.st_mode));
		}
	}
	pk->plen = plen;
	if (pk->path)
		pk->path[plen] = '\0';
	free_names(names, n);
	return r;
}

/* The progress total: regular file bytes below dfd (a walk with lstat only). */
static int scan_dir(struct packer *pk, int dfd, unsigned depth)
{
	size_t i, n = 0, plen = pk->plen;
	char **names = NULL;
	struct stat st;
	int fd, r;

	if (depth >= TREE_MAX_DEPTH)
		return failf(pk, -ENAMETOOLONG, "'%s' is nested too deeply", cur_path(pk));
	r = list_dir(pk, dfd, &names, &n);
	for (i = 0; i < n && r == 0; i++) {
		if ((r = path_push(pk, plen, names[i])) < 0)
			break;
		if (fstatat(dfd, names[i], &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue; /* the real walk reports it */
		if (S_ISREG(st.st_mode))
			pk->total += (uint64_t)st.st_size;
		if (!S_ISDIR(st.st_mode))
			continue;
		fd = openat(dfd, names[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			continue;
		r = scan_dir(pk, fd, depth + 1);
		close(fd);
	}
	pk->plen = plen;
	if (pk->path)
		pk->path[plen] = '\0';
	free_names(names, n);
	return r;
}

/* ---- entry points ------------------------------------------------------------------ */

static void packer_release(struct packer *pk)
{
	if (pk->ar)
		archive_write_free(pk->ar);
	hash_ctx_free(pk->sha256);
	hash_ctx_free(pk->blob);
	tree_builder_free(pk->tb);
	free(pk->rbuf);
	free(pk->obuf);
	free(pk->path);
	free(pk->shown);
	free(pk->errmsg);
}

/* pack_write() with the name to show for dir in messages. */
static int pack_run(int dirfd, const char *dir, const char *shown, int outfd,
	const struct pack_opts *opts, struct pack_result *ret, char **errmsg)
{
	static const struct pack_opts defaults = {.compress = PACK_COMPRESS_GZIP, .level = -1};
	struct packer pk = {.outfd = outfd, .root = shown};
	enum pack_compress c;
	int fd = -1, r;

	if (errmsg)
		*errmsg = NULL;
	opts = opts ? opts : &defaults;
	c = opts->compress;
	pk.progress = opts->progress;
	pk.parg = opts->progress_arg;
	if (c == PACK_COMPRESS_AUTO || !dir) {
		r = failf(&pk, -EINVAL, "invalid arguments: %s",
			dir ? "no compression given" : "no directory");
		goto out;
	}
	if ((r = hash_ctx_new(HASH_SHA256, &pk.sha256)) < 0 ||
		(r = hash_ctx_new(HASH_SHA1, &pk.blob)) < 0 || (r = tree_builder_new(&pk.tb)) < 0) {
		r = failf(&pk, r, "cannot set up hashing: %s", strerror(-r));
		goto out;
	}
	pk.rbuf = malloc(IO_SIZE);
	pk.obuf = c == PACK_COMPRESS_NONE ? malloc(IO_SIZE) : NULL;
	if (!pk.rbuf || (c == PACK_COMPRESS_NONE && !pk.obuf)) {
		r = failf(&pk, -ENOMEM, "out of memory");
		goto out;
	}
	fd = openat(dirfd, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		r = failf(&pk, r, "cannot open '%s': %s", shown, strerror(-r));
		goto out;
	}
	if (pk.progress) {
		r = scan_dir(&pk, fd, 0);
		if (r < 0)
			goto out;
		pk.next_report = 0;
		report_progress(&pk, true);
	}
	if ((r = out_open(&pk, c, opts->level)) < 0)
		goto out;

	r = pack_dir(&pk, fd, 0);
	if (r < 0)
		goto out;
	if (pk.tar_bytes == 0) {
		/* An empty root is a single "." directory entry (Tar.jl write_tarball). */
		if ((r = path_push(&pk, 0, ".")) < 0 ||
			(r = emit_header(&pk, '5', 0755, 0, NULL)) < 0)
			goto out;
		pk.plen = 0;
		pk.res.dirs++;
	}
	if ((r = out_close(&pk)) < 0)
		goto out;
	if ((r = hash_ctx_final(pk.sha256, pk.res.sha256)) < 0 ||
		(r = tree_builder_final(pk.tb, 0, pk.res.tree)) < 0 ||
		(r = tree_builder_final(pk.tb, TREE_TARJL, pk.res.tree_tarjl)) < 0) {
		r = failf(&pk, r, "cannot compute the tree hash: %s", strerror(-r));
		goto out;
	}
	report_progress(&pk, true);
	pk.res.size = pk.out_bytes;
	pk.res.tar_bytes = pk.tar_bytes;
	pk.res.compress = c;
	*ret = pk.res;
	r = 0;
out:
	if (fd >= 0)
		close(fd);
	if (r < 0 && errmsg) {
		*errmsg = pk.errmsg ? pk.errmsg : strdup(strerror(-r));
		pk.errmsg = NULL;
	}
	packer_release(&pk);
	return r;
}

int pack_write(int dirfd, const char *dir, int outfd, const struct pack_opts *opts,
	struct pack_result *ret, char **errmsg)
{
	return pack_run(dirfd, dir, dir ? dir : "", outfd, opts, ret, errmsg);
}

/*
 * Whether the directory dfd lies inside (or is) the directory with st_dev
 * and st_ino of top: walk up through "..", comparing, until the root.
 */
static int is_inside(int dfd, const struct stat *top)
{
	struct stat st, up;
	int fd, next, r = 0;
	unsigned i;

	fd = dup(dfd);
	if (fd < 0)
		return -errno;
	for (i = 0; i < 4096; i++) {
		if (fstat(fd, &st) < 0) {
			r = -errno;
			break;
		}
		if (st.st_dev == top->st_dev && st.st_ino == top->st_ino) {
			r = 1;
			break;
		}
		if (fstatat(fd, "..", &up, 0) < 0) {
			r = -errno;
			break;
		}
		if (up.st_dev == st.st_dev && up.st_ino == st.st_ino)
			break; /* the root */
		next = openat(fd, "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (next < 0) {
			r = -errno;
			break;
		}
		close(fd);
		fd = next;
	}
	close(fd);
	return r;
}

int pack_create(const char *dir, const char *out, const struct pack_opts *opts,
	struct pack_result *ret, char **errmsg)
{
	struct pack_opts o = {.compress = PACK_COMPRESS_AUTO, .level = -1};
	char *odir = NULL, *tmp = NULL, *msg = NULL;
	const char *base, *slash;
	int dfd = -1, ofd = -1, fd = -1, r;
	struct stat top;
	unsigned i;

	if (errmsg)
		*errmsg = NULL;
	if (!dir || !out || !*out) {
		r = -EINVAL;
		msg = strdup("invalid arguments: no directory or output");
		goto out;
	}
	if (opts)
		o = *opts;
	if (o.compress == PACK_COMPRESS_AUTO)
		o.compress = pack_compress_from_name(out);

	slash = strrchr(out, '/');
	base = slash ? slash + 1 : out;
	odir = slash ? (slash == out ? strdup("/") : strndup(out, (size_t)(slash - out)))
		     : strdup(".");
	if (!odir) {
		r = -ENOMEM;
		goto out;
	}
	if (!*base) {
		r = -EINVAL;
		set_msg(&msg, "invalid output name '%s'", out);
		goto out;
	}
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0 || fstat(dfd, &top) < 0) {
		r = -errno;
		set_msg(&msg, "cannot open '%s': %s", dir, strerror(-r));
		goto out;
	}
	ofd = open(odir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (ofd < 0) {
		r = -errno;
		set_msg(&msg, "cannot open '%s': %s", odir, strerror(-r));
		goto out;
	}
	r = is_inside(ofd, &top);
	if (r != 0) {
		if (r > 0)
			r = -EINVAL;
		set_msg(&msg,
			r == -EINVAL ? "output '%s' is inside '%s', which would pack "
				       "it into itself"
				     : "cannot check where '%s' is: %s",
			out, r == -EINVAL ? dir : strerror(-r));
		goto out;
	}
	for (i = 0; i < 1000 && fd < 0; i++) {
		free(tmp);
		if (asprintf(&tmp, ".%s.%ld.%u", base, (long)getpid(), i) < 0) {
			tmp = NULL;
			r = -ENOMEM;
			goto out;
		}
		fd = openat(ofd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
		if (fd < 0 && errno != EEXIST)
			break;
	}
	if (fd < 0) {
		r = -errno;
		set_msg(&msg, "cannot create a temporary file in '%s': %s", odir, strerror(-r));
		goto out;
	}

	r = pack_run(dfd, ".", dir, fd, &o, ret, &msg);
	if (r < 0)
		goto out;
	if (fsync(fd) < 0 || close(fd) < 0) {
		r = -errno;
		fd = -1;
		set_msg(&msg, "cannot write '%s': %s", out, strerror(-r));
		goto out;
	}
	fd = -1;
	if (renameat(ofd, tmp, ofd, base) < 0) {
		r = -errno;
		set_msg(&msg, "cannot rename to '%s': %s", out, strerror(-r));
		goto out;
	}
	free(tmp);
	tmp = NULL;
	fsync(ofd); /* durability of the rename; the tarball is complete either way */
	r = 0;
out:
	if (fd >= 0)
		close(fd);
	if (tmp && ofd >= 0)
		unlinkat(ofd, tmp, 0);
	if (ofd >= 0)
		close(ofd);
	if (dfd >= 0)
		close(dfd);
	free(tmp);
	free(odir);
	if (r < 0 && errmsg)
		*errmsg = msg ? msg : strdup(strerror(-r));
	else
		free(msg);
	return r;
}
