/*
 * tar.c - the tar stream of fetch/unpack.c: decompressed by fetch/pipeline.c
 * (gzip, zstd, bzip2, xz, found by magic bytes: fetch/inflate.c), and the tar headers
 * read block by block as Tar.jl reads them (src/header.jl, src/extract.jl;
 * spec §2.4).  unpack.c explains why libarchive's own tar reader is not
 * used; this file is the half of it that reads, unpack.c the half that
 * writes.
 */
#include "config.h"

#include "fetch/tar.h"
#include "fetch/pipeline.h"
#include "fetch/unpack_int.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --- the decompressed stream (fetch/pipeline.c) ------------------------------------------ */

/* The first error of the pipeline, as this unpack's error. */
static int input_fail(struct unpack *u, int r)
{
	const char *m = pipeline_errmsg(u->pipe, NULL);

	return unpack_fail(u, r, "%s", *m ? m : strerror(-r));
}

/*
 * Names a compression we recognise but do not decompress, from its magic
 * bytes; NULL when a codec decompressed the stream (then what came out is
 * just not a tarball).
 */
static const char *unsupported_compression(struct unpack *u)
{
	size_t magic_len;
	const unsigned char *magic = pipeline_magic(u->pipe, &magic_len);
	static const struct {
		const char *name;
		size_t len;
		const char *magic;
	} m[] = {
		{"gzip", 2, "\x1f\x8b"},
		{"bzip2", 3, "BZh"},
		{"xz", 6, "\xfd\x37\x7a\x58\x5a\x00"},
		{"zstd", 4, "\x28\xb5\x2f\xfd"},
		{"lz4", 4, "\x04\x22\x4d\x18"},
		{"lzip", 4, "LZIP"},
		{"compress (.Z)", 2, "\x1f\x9d"},
		{"lzop", 4, "\x89LZO"},
		{"lrzip", 4, "LRZI"},
		{"7-zip", 6, "7z\xbc\xaf\x27\x1c"},
		{"zip", 4, "PK\x03\x04"},
	};
	size_t i;

	if (strcmp(pipeline_codec(u->pipe), "none") != 0)
		return NULL;
	for (i = 0; i < sizeof(m) / sizeof(m[0]); i++)
		if (magic_len >= m[i].len && memcmp(magic, m[i].magic, m[i].len) == 0)
			return m[i].name;
	return NULL;
}

/*
 * The ratio guard (fetch.h): the larger of the output (the decompressed
 * bytes, plus what hardlink copies write without reading anything) and the
 * memory of the path table (deep paths, each under a new top directory,
 * make more of it than of either) against the compressed bytes, the larger
 * of those received and the source's announced size.  A file's declared
 * size is not output yet: the guard sees its bytes as they arrive, so one
 * large file of a real artifact is judged by how well it compresses.
 */
int tar_ratio_check(struct unpack *u)
{
	uint64_t in = u->in_bytes, size = u->in_limit;
	uint64_t out = u->produced + u->copied;
	uint64_t tab = (uint64_t)u->tab.n * (sizeof(struct rec) + 2 * sizeof(uint32_t)) +
		       u->tab.bytes;

	if (tab > out)
		out = tab;

	if (!u->ratio_guard || out <= FETCH_UNPACK_RATIO_FLOOR)
		return 0;
	if (size > in)
		in = size;
	if (out / FETCH_UNPACK_RATIO <= in)
		return 0;
	return unpack_fail(u, -E2BIG,
		"unpacked data or its paths exceed %d times the %" PRIu64 " compressed bytes "
		"(a decompression bomb?  set max_unpacked to accept it)",
		FETCH_UNPACK_RATIO, in);
}

/* Make sure some decompressed bytes are at hand, unless the stream ended. */
static int in_more(struct unpack *u)
{
	const void *b;
	size_t n;
	int r;

	while (u->blk_len == 0 && !u->data_eof) {
		r = pipeline_read(u->pipe, &b, &n, &u->in_bytes);
		if (r < 0)
			return input_fail(u, r);
		if (n == 0) {
			u->data_eof = true;
			break;
		}
		u->blk = b;
		u->blk_len = n;
		u->produced += n;
		r = tar_ratio_check(u);
		if (r < 0)
			return r;
	}
	return 0;
}

/* Copy up to n bytes into dst; *got < n only at the end of the stream. */
static int in_read(struct unpack *u, void *dst, size_t n, size_t *got)
{
	unsigned char *d = dst;
	size_t k;
	int r;

	*got = 0;
	while (*got < n) {
		r = in_more(u);
		if (r < 0)
			return r;
		if (u->blk_len == 0)
			break;
		k = n - *got < u->blk_len ? n - *got : u->blk_len;
		memcpy(d + *got, u->blk, k);
		u->blk += k;
		u->blk_len -= k;
		*got += k;
		u->offset += k;
	}
	return 0;
}

static int premature_end(struct unpack *u)
{
	return unpack_fail(u, -EILSEQ,
		"malformed tarball: premature end of tar data at byte %llu "
		"(truncated download or archive)",
		(unsigned long long)u->offset);
}

/* Point *p at up to max bytes of the stream, without copying (file data). */
int tar_in_span(struct unpack *u, uint64_t max, const void **p, size_t *n)
{
	int r = in_more(u);

	if (r < 0)
		return r;
	if (u->blk_len == 0)
		return premature_end(u);
	*p = u->blk;
	*n = max < u->blk_len ? (size_t)max : u->blk_len;
	u->blk += *n;
	u->blk_len -= *n;
	u->offset += *n;
	return 0;
}

int tar_in_skip(struct unpack *u, uint64_t n)
{
	const void *p;
	size_t k = 0;
	int r;

	while (n > 0) {
		r = tar_in_span(u, n, &p, &k);
		if (r < 0)
			return r;
		n -= k;
	}
	return 0;
}

uint64_t tar_pad512(uint64_t size)
{
	return (512 - (size & 511)) & 511;
}

/* --- tar headers, as Tar.jl reads them (src/header.jl, src/extract.jl) ----------------- */

static int header_error(struct unpack *u, const char *what)
{
	const char *c = unsupported_compression(u);

	if (u->offset == 512 && c)
		return unpack_fail(u, -ENOTSUP,
			"unsupported compression: %s (gzip, bzip2, xz, zstd "
			"or none are accepted)",
			c);
	if (u->offset == 512)
		return unpack_fail(u, -EILSEQ, "this does not appear to be a tarball: %s", what);
	return unpack_fail(u, -EILSEQ, "malformed tarball: %s in the header at byte %llu", what,
		(unsigned long long)(u->offset - 512));
}

/* read_header_int: leading spaces, octal digits, ended by NUL or space. */
static int octal_field(struct unpack *u, size_t off, size_t len, const char *name, uint64_t *ret)
{
	char what[64];
	uint64_t n = 0;
	bool before = true;
	size_t i;

	for (i = off; i < off + len; i++) {
		unsigned char c = u->raw[i];

		if (before && c == ' ')
			continue;
		if (c == 0 || c == ' ')
			break;
		if (c < '0' || c > '7' || (n >> 60) != 0) {
			snprintf(what, sizeof(what), "malformed %s field", name);
			return header_error(u, what);
		}
		n = (n << 3) | (uint64_t)(c - '0');
		before = false;
	}
	if (before) {
		snprintf(what, sizeof(what), "malformed %s field", name);
		return header_error(u, what);
	}
	*ret = n;
	return 0;
}

static void str_field(const struct unpack *u, size_t off, size_t len, const char **p, size_t *n)
{
	const unsigned char *z = memchr(u->raw + off, 0, len);

	*p = (const char *)u->raw + off;
	*n = z ? (size_t)(z - (u->raw + off)) : len;
}

/*
 * read_standard_header: one 512-byte block.  *end is set at the end of the
 * archive: a zero block, or the end of the stream on a block boundary.
 */
static int read_std(struct unpack *u, struct hdr *h, bool *end)
{
	const char *name, *prefix, *link;
	size_t got, nlen, plen, llen, i;
	uint64_t chk, sum = 0, mode, size = 0;
	bool zero = true, space = false;
	int r;

	*end = false;
	r = in_read(u, u->raw, 512, &got);
	if (r < 0)
		return r;
	if (got == 0) {
		*end = true;
		return 0;
	}
	if (got < 512 && u->offset == got) {
		const char *c = unsupported_compression(u);

		if (c)
			return unpack_fail(u, -ENOTSUP, "unsupported compression: %s", c);
		return unpack_fail(u, -EILSEQ, "this does not appear to be a tarball: %zu bytes", got);
	}
	if (got < 512)
		return premature_end(u);
	for (i = 0; i < 512 && zero; i++)
		zero = u->raw[i] == 0;
	if (zero) {
		*end = true;
		return 0;
	}
	/* version: ^0* *$ up to a NUL */
	for (i = 263; i < 265 && u->raw[i]; i++) {
		if (u->raw[i] == ' ')
			space = true;
		else if (u->raw[i] != '0' || space)
			return header_error(u, "invalid version field");
	}
	r = octal_field(u, 148, 8, "checksum", &chk);
	if (r < 0)
		return r;
	for (i = 0; i < 512; i++)
		sum += (i >= 148 && i < 156) ? ' ' : u->raw[i];
	if (chk != sum)
		return header_error(u, "incorrect header checksum");
	if (u->raw[124] & 0x80) {
		if (u->raw[124] != 0x80)
			return header_error(u, "binary size value too large");
		for (i = 125; i < 136; i++) {
			if (size >> 55)
				return header_error(u, "binary size value too large");
			size = (size << 8) | u->raw[i];
		}
	} else {
		r = octal_field(u, 124, 12, "size", &size);
		if (r < 0)
			return r;
	}
	if (size > INT64_MAX)
		return header_error(u, "size value too large");
	r = octal_field(u, 100, 8, "mode", &mode);
	if (r < 0)
		return r;
	if (mode > 0xffff)
		return header_error(u, "mode value too large");
	if (u->raw[156] & 0x80)
		return header_error(u, "invalid type flag");
	str_field(u, 0, 100, &name, &nlen);
	str_field(u, 157, 100, &link, &llen);
	str_field(u, 345, 155, &prefix, &plen);
	h->type = (char)u->raw[156];
	h->mode = (unsigned)mode;
	h->size = size;
	unpack_bstr_free(&h->path);
	unpack_bstr_free(&h->link);
	if (plen) {
		char tmp[256 + 2];

		memcpy(tmp, prefix, plen);
		tmp[plen] = '/';
		memcpy(tmp + plen + 1, name, nlen);
		r = unpack_bstr_set(&h->path, tmp, plen + 1 + nlen);
	} else {
		r = unpack_bstr_set(&h->path, name, nlen);
	}
	if (r == 0)
		r = unpack_bstr_set(&h->link, link, llen);
	return r < 0 ? unpack_fail(u, r, "out of memory") : 0;
}

/* Tar.jl's tryparse(UInt64, s) for the decimal values tar writers produce. */
static bool parse_u64(const struct bstr *v, uint64_t *ret)
{
	size_t i = 0, end = v->len;
	uint64_t n = 0;

	while (i < end && (v->p[i] == ' ' || v->p[i] == '\t' || v->p[i] == '\n'))
		i++;
	while (end > i && (v->p[end - 1] == ' ' || v->p[end - 1] == '\t' || v->p[end - 1] == '\n'))
		end--;
	if (i < end && v->p[i] == '+')
		i++;
	if (i == end)
		return false;
	for (; i < end; i++) {
		if (v->p[i] < '0' || v->p[i] > '9' || n > (UINT64_MAX - 9) / 10)
			return false;
		n = n * 10 + (uint64_t)(v->p[i] - '0');
	}
	*ret = n;
	return true;
}

/* The payload of an extension header (size bytes plus padding) into a fresh buffer. */
static int read_ext_data(struct unpack *u, uint64_t size, unsigned char **ret)
{
	unsigned char *d;
	size_t got;
	int r;

	if (size > EXT_MAX)
		return unpack_fail(u, -E2BIG,
			"malformed tarball: extension header of %llu bytes "
			"(at most %u accepted)",
			(unsigned long long)size, EXT_MAX);
	d = malloc(size + 1);
	if (!d)
		return unpack_fail(u, -ENOMEM, "out of memory");
	r = in_read(u, d, (size_t)size, &got);
	if (r == 0 && got < size)
		r = premature_end(u);
	if (r == 0)
		r = tar_in_skip(u, tar_pad512(size));
	if (r < 0) {
		free(d);
		return r;
	}
	d[size] = 0;
	*ret = d;
	return 0;
}

struct meta {
	struct bstr path, link, size;
	bool has_path, has_link, has_size;
};

static int meta_set(struct unpack *u, struct meta *m, bool global, const char *key, size_t klen,
	const char *val, size_t vlen)
{
	struct bstr *dst = NULL, *gdst = NULL;
	bool *has = NULL, *ghas = NULL;
	int r;

	if (klen == 4 && memcmp(key, "size", 4) == 0) {
		dst = &m->size, has = &m->has_size, gdst = &u->g_size, ghas = &u->g_has_size;
	} else if (klen == 4 && memcmp(key, "path", 4) == 0) {
		dst = &m->path, has = &m->has_path, gdst = &u->g_path, ghas = &u->g_has_path;
	} else if (klen == 8 && memcmp(key, "linkpath", 8) == 0) {
		dst = &m->link, has = &m->has_link, gdst = &u->g_link, ghas = &u->g_has_link;
	} else {
		return 0; /* every other key is ignored, as Tar.jl does */
	}
	r = unpack_bstr_set(dst, val, vlen);
	*has = true;
	if (r == 0 && global) {
		r = unpack_bstr_set(gdst, val, vlen);
		*ghas = true;
	}
	return r < 0 ? unpack_fail(u, r, "out of memory") : 0;
}

/* read_extended_metadata: records "<len> <key>=<value>\n". */
static int parse_pax(
	struct unpack *u, struct meta *m, bool global, const unsigned char *d, size_t size)
{
	size_t i = 0, j, k, l, len;
	int r;

	while (i < size) {
		len = 0;
		for (j = i; j < size && d[j] != ' '; j++) {
			if (d[j] < '0' || d[j] > '9' || len > (SIZE_MAX - 9) / 10)
				goto malformed;
			len = len * 10 + (size_t)(d[j] - '0');
		}
		if (j == i || j >= size || len > size - i || len < 2)
			goto malformed;
		l = i + len - 1; /* the newline */
		for (k = j + 1; k < l && d[k] != '='; k++)
			;
		if (!(j < k && k < l) || d[l] != '\n')
			goto malformed;
		r = meta_set(u, m, global, (const char *)d + j + 1, k - j - 1,
			(const char *)d + k + 1, l - k - 1);
		if (r < 0)
			return r;
		i = l + 1;
	}
	return 0;
malformed:
	return unpack_fail(u, -EILSEQ, "malformed tarball: malformed extended header metadata");
}

/*
 * read_header: a standard header after any number of extension headers.
 * *end is set at the end of the archive.
 */
int tar_read_hdr(struct unpack *u, struct hdr *h, bool *end)
{
	struct meta m = {0};
	unsigned char *d = NULL;
	bool first = true;
	uint64_t size;
	int r = 0;

	if (u->g_has_path)
		r = r ?: meta_set(u, &m, false, "path", 4, u->g_path.p, u->g_path.len);
	if (u->g_has_link)
		r = r ?: meta_set(u, &m, false, "linkpath", 8, u->g_link.p, u->g_link.len);
	if (u->g_has_size)
		r = r ?: meta_set(u, &m, false, "size", 4, u->g_size.p, u->g_size.len);
	for (; r == 0; first = false) {
		r = read_std(u, h, end);
		if (r < 0)
			break;
		if (*end) {
			if (!first)
				r = premature_end(u);
			break;
		}
		if (h->type == 'x' || h->type == 'g') {
			r = read_ext_data(u, h->size, &d);
			if (r == 0)
				r = parse_pax(u, &m, h->type == 'g', d, (size_t)h->size);
		} else if ((h->type == 'L' || h->type == 'K') && h->path.len == 13 &&
			   memcmp(h->path.p, "././@LongLink", 13) == 0) {
			r = read_ext_data(u, h->size, &d);
			if (r == 0 && (h->size == 0 || d[h->size - 1] != 0))
				r = unpack_fail(u, -EILSEQ,
					"malformed tarball: malformed GNU long header "
					"(trailing NUL expected)");
			if (r == 0)
				r = meta_set(u, &m, false, h->type == 'L' ? "path" : "linkpath",
					h->type == 'L' ? 4 : 8, (const char *)d,
					(size_t)h->size - 1);
		} else {
			break;
		}
		free(d);
		d = NULL;
	}
	free(d);
	if (r == 0 && !*end) {
		if (m.has_size) {
			if (!parse_u64(&m.size, &size) || size > INT64_MAX)
				r = unpack_fail(u, -EILSEQ,
					"malformed tarball: invalid extended header "
					"size value");
			else
				h->size = size;
		}
		if (r == 0 && m.has_path) {
			unpack_bstr_free(&h->path);
			h->path = m.path;
			m.path.p = NULL;
		}
		if (r == 0 && m.has_link) {
			unpack_bstr_free(&h->link);
			h->link = m.link;
			m.link.p = NULL;
		}
	}
	unpack_bstr_free(&m.path);
	unpack_bstr_free(&m.link);
	unpack_bstr_free(&m.size);
	return r;
}

enum etype tar_etype_of(char t)
{
	switch (t) {
	case '0':
	case '\0':
		return T_FILE;
	case '1':
		return T_HARDLINK;
	case '2':
		return T_SYMLINK;
	case '5':
		return T_DIR;
	default:
		return T_OTHER;
	}
}

/* For messages: what a hardlink target is. */
const char *tar_etype_name(enum etype t)
{
	switch (t) {
	case T_FILE:
		return "a file";
	case T_HARDLINK:
		return "a hardlink";
	case T_SYMLINK:
		return "a symlink";
	default:
		return "a directory"; /* T_DIR, or T_NONE: a directory made for a path */
	}
}

/* (^|/)\.\.(/|$) */
static bool has_dotdot(const struct bstr *s)
{
	size_t i;

	for (i = 0; i + 1 < s->len; i++)
		if (s->p[i] == '.' && s->p[i + 1] == '.' && (i == 0 || s->p[i - 1] == '/') &&
			(i + 2 == s->len || s->p[i + 2] == '/'))
			return true;
	return false;
}

/*
 * check_header: the first violated rule, or NULL.  Runs on the header as
 * read (path not normalised), as Tar.jl's does.  One deliberate difference:
 * Tar.jl normalises a hardlink's target before this check, which makes its
 * "absolute link path" rule unreachable; the spec (§2.4) lists it, so an
 * absolute hardlink target is rejected here.
 */
const char *tar_check_header(const struct hdr *h, char *tmp, size_t size)
{
	enum etype t = tar_etype_of(h->type);
	const struct bstr *p = &h->path;

	if (p->len == 0)
		return "path is empty";
	if (memchr(p->p, 0, p->len))
		return "path contains NUL bytes";
	if (h->link.len && memchr(h->link.p, 0, h->link.len))
		return "link contains NUL bytes";
	if (p->p[0] == '/')
		return "path is absolute";
	if (has_dotdot(p))
		return "path contains '..' component";
	if (t == T_OTHER) {
		switch (h->type) {
		case '3':
			return "unsupported entry type (character device)";
		case '4':
			return "unsupported entry type (block device)";
		case '6':
			return "unsupported entry type (fifo)";
		default:
			if (h->type > 0x20 && h->type < 0x7f)
				snprintf(tmp, size, "unsupported entry type '%c'", h->type);
			else
				snprintf(tmp, size, "unsupported entry type 0x%02x",
					(unsigned char)h->type);
			return tmp;
		}
	}
	if (t != T_HARDLINK && t != T_SYMLINK && h->link.len)
		return "non-link with link path";
	if ((t == T_HARDLINK || t == T_SYMLINK) && h->link.len == 0)
		return t == T_SYMLINK ? "symlink with empty link path"
				      : "hardlink with empty link path";
	if ((t == T_HARDLINK || t == T_SYMLINK) && h->size != 0)
		return t == T_SYMLINK ? "symlink with non-zero size"
				      : "hardlink with non-zero size";
	if (t == T_HARDLINK && h->link.p[0] == '/')
		return "hardlink with absolute link path";
	if (t == T_HARDLINK && has_dotdot(&h->link))
		return "hardlink contains '..' component";
	if (t == T_DIR && h->size != 0)
		return "directory with non-zero size";
	if (t != T_DIR && p->p[p->len - 1] == '/')
		return "non-directory path ending with '/'";
	if (t != T_DIR &&
		((p->len == 1 && p->p[0] == '.') ||
			(p->len >= 2 && p->p[p->len - 2] == '/' && p->p[p->len - 1] == '.')))
		return "non-directory path ending with '.' component";
	return NULL;
}

/* Drop "" and "." components: "./a//b/" -> "a/b". */
int tar_normalize(const struct bstr *in, struct bstr *out)
{
	char *o = malloc(in->len + 1);
	size_t i = 0, n = 0, s;

	if (!o)
		return -ENOMEM;
	while (i < in->len) {
		for (s = i; i < in->len && in->p[i] != '/'; i++)
			;
		if (i > s && !(i - s == 1 && in->p[s] == '.')) {
			if (n)
				o[n++] = '/';
			memcpy(o + n, in->p + s, i - s);
			n += i - s;
		}
		i++;
	}
	o[n] = '\0';
	out->p = o;
	out->len = n;
	return 0;
}

/* --- opening and draining the stream ----------------------------------------------------- */

/*
 * Benchmark knobs, read once per unpack: ARTIFACTFS_INFLATE=libarchive
 * decompresses gzip and zstd with libarchive as before ISA-L, and
 * ARTIFACTFS_PIPELINE=0 runs every stage on the calling thread.
 */
int tar_open_input(struct unpack *u)
{
	const char *inf = getenv("ARTIFACTFS_INFLATE"), *pl = getenv("ARTIFACTFS_PIPELINE");
	unsigned flags = u->stop_at_end ? 0 : PIPELINE_DRAIN;
	int r;

	if (inf && strcmp(inf, "libarchive") == 0)
		flags |= PIPELINE_LIBARCHIVE;
	if (pl && strcmp(pl, "0") == 0)
		flags |= PIPELINE_INLINE;
	u->in_limit = fetch_stream_limit(u->in);
	r = pipeline_start(u->in, flags, &u->pipe);
	if (r < 0)
		return unpack_fail(u, r, "cannot start unpacking: %s", strerror(-r));
	return 0;
}

/*
 * After the end of the tar data: the rest of the decompressed stream
 * (and, by PIPELINE_DRAIN, the rest of the download) is read and hashed.
 */
int tar_drain(struct unpack *u)
{
	int r;

	u->blk_len = 0;
	while (!u->data_eof) {
		r = in_more(u);
		if (r < 0)
			return r;
		u->blk_len = 0;
	}
	return 0;
}

/* --- the header layout shared with writers (fetch/tar.h) ---------------------------------- */

uint32_t tar_header_sum(const uint8_t *h)
{
	uint32_t sum = 0;
	size_t i;

	for (i = 0; i < TAR_BLOCK; i++)
		sum += (i >= TAR_CHKSUM && i < TAR_CHKSUM + TAR_CHKSUM_LEN) ? ' ' : h[i];
	return sum;
}
