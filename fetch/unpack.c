/*
 * unpack.c - stream a tarball through Tar.jl's rules into a directory fd,
 * hashing as it goes
 *
 * Why libarchive only decompresses here, and the tar headers are read by
 * this file: Julia accepts exactly what Tar.jl accepts (spec §2.4), and
 * libarchive's tar reader accepts more and hides what we must check.  It
 * takes any unknown typeflag for a regular file, drops the size of a
 * symlink entry, turns a regular file named "x/" into a directory, accepts
 * signed header checksums, ignores the version field, and converts names
 * through the locale's charset (a daemon in the C locale can lose non-ASCII
 * names, and symlink targets must hash byte for byte).  So libarchive runs
 * with the gzip, bzip2, xz and zstd filters (found by magic bytes, never by
 * URL) and the "raw" format, and the tar stream it produces is read here
 * block by block with Tar.jl's header rules: read_standard_header,
 * read_header (PAX x/g: size, path, linkpath; GNU L/K), check_header and the
 * symlink-prefix and hardlink checks of read_tarball.  Not
 * archive_read_support_filter_all(): it also registers filters that run
 * external programs (lrzip, grzip, lzop), which a daemon must not spawn on
 * downloaded bytes; a filter that this libarchive only has as an external
 * program is not registered at all.
 *
 * Why no archive_write_disk: it resolves paths against the current
 * directory, and a multithreaded daemon cannot chdir(2) per install (the
 * cwd is per process) nor pass it a directory fd (libarchive 3.6 has no such
 * API).  Files are written here with openat(2) relative to the install
 * directory's fd: every path component is opened with O_NOFOLLOW |
 * O_DIRECTORY, leaves are created with O_CREAT | O_EXCL | O_NOFOLLOW after
 * removing what was there, so nothing is ever followed out of the tree, on
 * top of Tar.jl's checks (no absolute path, no "..", no path through an
 * earlier symlink).  tests/unit/test-unpack.c tests every rule.
 */
#include "config.h"

#include "fetch/fetch.h"

#include <archive.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/hash.h"
#include "store/util/buf.h"

#define EXT_MAX (1u << 20)	   /* largest PAX or GNU long-name payload accepted */
#define TAB_MAX_ENTRIES (1u << 24) /* distinct paths in one tarball */
#define TAB_MAX_BYTES (1ull << 30) /* bytes of those paths */
#define COPY_BUF (128u << 10)
#define ERRMSG_MAX 4096

/* Entry types as Tar.jl names them; T_NONE marks an intermediate directory. */
enum etype { T_NONE = 0, T_FILE, T_HARDLINK, T_SYMLINK, T_DIR, T_OTHER };

/* A byte string that may hold NULs (PAX values may). */
struct bstr {
	char *p; /* NUL-terminated, may be NULL when len is 0 */
	size_t len;
};

/* --- the path table --------------------------------------------------------------- */

/*
 * Every path seen, with two views of it:
 *  - tarjl: the type Tar.jl's read_tarball() records in its `paths` dict:
 *    set only by entries, never cleared when an ancestor is replaced (so a
 *    stale symlink still blocks paths through it, as in Tar.jl);
 *  - cur/seq: the current tree, exactly.  seq is when the path was last
 *    (re)created; a path is live when its parent is live and its seq is
 *    newer than its parent's, so replacing a directory kills its whole
 *    subtree without visiting it.
 */
struct rec {
	char *path;
	size_t len;
	uint64_t hash;
	uint64_t seq;
	uint64_t size;	     /* regular file size */
	unsigned char cur;   /* enum etype of the live node (T_NONE: implicit dir) */
	unsigned char tarjl; /* enum etype Tar.jl recorded, T_NONE when none */
};

struct ptab {
	struct rec *v;
	size_t cap, n;
	uint64_t bytes;
};

static uint64_t fnv1a(const char *p, size_t len)
{
	uint64_t h = 14695981039346656037ull;
	size_t i;

	for (i = 0; i < len; i++) {
		h ^= (unsigned char)p[i];
		h *= 1099511628211ull;
	}
	return h;
}

static struct rec *ptab_get(struct ptab *t, const char *p, size_t len)
{
	uint64_t h;
	size_t i;

	if (!t->cap)
		return NULL;
	h = fnv1a(p, len);
	for (i = h & (t->cap - 1);; i = (i + 1) & (t->cap - 1)) {
		struct rec *r = &t->v[i];

		if (!r->path)
			return NULL;
		if (r->hash == h && r->len == len && memcmp(r->path, p, len) == 0)
			return r;
	}
}

static int ptab_grow(struct ptab *t)
{
	size_t ncap = t->cap ? t->cap * 2 : 1024, i, j;
	struct rec *nv = calloc(ncap, sizeof(*nv));

	if (!nv)
		return -ENOMEM;
	for (i = 0; i < t->cap; i++) {
		if (!t->v[i].path)
			continue;
		for (j = t->v[i].hash & (ncap - 1); nv[j].path; j = (j + 1) & (ncap - 1))
			;
		nv[j] = t->v[i];
	}
	free(t->v);
	t->v = nv;
	t->cap = ncap;
	return 0;
}

/* Find or add p; a new record is zeroed (not live, no Tar.jl type). */
static int ptab_put(struct ptab *t, const char *p, size_t len, struct rec **ret)
{
	struct rec *r = ptab_get(t, p, len);
	uint64_t h;
	size_t i;
	int e;

	if (r) {
		*ret = r;
		return 0;
	}
	if (t->n >= TAB_MAX_ENTRIES || t->bytes + len > TAB_MAX_BYTES)
		return -E2BIG;
	if ((t->n + 1) * 2 > t->cap) {
		e = ptab_grow(t);
		if (e < 0)
			return e;
	}
	h = fnv1a(p, len);
	for (i = h & (t->cap - 1); t->v[i].path; i = (i + 1) & (t->cap - 1))
		;
	r = &t->v[i];
	r->path = malloc(len + 1);
	if (!r->path)
		return -ENOMEM;
	memcpy(r->path, p, len);
	r->path[len] = '\0';
	r->len = len;
	r->hash = h;
	t->n++;
	t->bytes += len;
	*ret = r;
	return 0;
}

static void ptab_release(struct ptab *t)
{
	size_t i;

	for (i = 0; i < t->cap; i++)
		free(t->v[i].path);
	free(t->v);
	memset(t, 0, sizeof(*t));
}

/* --- state ---------------------------------------------------------------------------- */

/* One tar header after the extension headers were applied (Tar.jl's Header). */
struct hdr {
	struct bstr path;
	struct bstr link;
	char type; /* the typeflag byte */
	unsigned mode;
	uint64_t size;
};

struct unpack {
	struct fetch_stream *in;
	uint64_t max_bytes;	/* ceiling of the unpacked size; 0 = none */
	struct archive *a;
	int stream_err;
	unsigned char magic[8];
	size_t magic_len;

	/* the decompressed tar stream */
	const unsigned char *blk;
	size_t blk_len;
	bool data_eof;
	uint64_t offset; /* tar bytes consumed, for messages */

	int dirfd; /* -1: hash only */
	struct tree_builder *tb;
	struct hash_ctx *blob;
	struct ptab tab;
	uint64_t seq;
	bool any_symlink;

	/* the directory of the last entry, kept open: tarballs are grouped by directory */
	char *cache_path;
	size_t cache_len;
	int cache_fd;

	/* PAX 'g' values, applied to every later entry */
	struct bstr g_path, g_link, g_size;
	bool g_has_path, g_has_link, g_has_size;

	unsigned char raw[512];
	unsigned char *copybuf;
	uint64_t bytes, files;
	bool crash_mid_unpack, wrote_file;

	int err;
	struct buf msg;
};

static void bstr_free(struct bstr *s)
{
	free(s->p);
	s->p = NULL;
	s->len = 0;
}

static int bstr_set(struct bstr *s, const void *p, size_t len)
{
	char *n = malloc(len + 1);

	if (!n)
		return -ENOMEM;
	if (len)
		memcpy(n, p, len);
	n[len] = '\0';
	free(s->p);
	s->p = n;
	s->len = len;
	return 0;
}

static int __attribute__((format(printf, 3, 4)))
fail(struct unpack *u, int err, const char *fmt, ...)
{
	va_list ap;

	if (u->err)
		return u->err;
	u->err = err;
	buf_reset(&u->msg);
	va_start(ap, fmt);
	buf_vaddf(&u->msg, fmt, ap);
	va_end(ap);
	return err;
}

/* A path for messages: printable ASCII as is, other bytes as \xNN, at most ~200 bytes. */
static const char *show(const struct bstr *s, char *out, size_t size)
{
	size_t i, o = 0;

	for (i = 0; i < s->len && o + 8 < size; i++) {
		unsigned char c = (unsigned char)s->p[i];

		if (c >= 0x20 && c < 0x7f && c != '\\' && c != '\'')
			out[o++] = (char)c;
		else
			o += (size_t)snprintf(out + o, size - o, "\\x%02x", c);
	}
	if (i < s->len && o + 4 < size)
		o += (size_t)snprintf(out + o, size - o, "...");
	out[o] = '\0';
	return out;
}

/* --- libarchive: decompression only ----------------------------------------------------- */

static pthread_once_t filters_once = PTHREAD_ONCE_INIT;
static bool have_gzip, have_bzip2, have_xz, have_zstd;

/* ARCHIVE_OK means built in; ARCHIVE_WARN means "will run an external program". */
static void probe_filters(void)
{
	struct archive *a = archive_read_new();

	if (!a)
		return;
	have_gzip = archive_read_support_filter_gzip(a) == ARCHIVE_OK;
	have_bzip2 = archive_read_support_filter_bzip2(a) == ARCHIVE_OK;
	have_xz = archive_read_support_filter_xz(a) == ARCHIVE_OK;
	have_zstd = archive_read_support_filter_zstd(a) == ARCHIVE_OK;
	archive_read_free(a);
}

static la_ssize_t arch_read(struct archive *a, void *arg, const void **buf)
{
	struct unpack *u = arg;
	size_t n = 0, k;
	int r;

	r = fetch_stream_read(u->in, buf, &n);
	if (r < 0) {
		u->stream_err = r;
		archive_set_error(a, -r, "%s", fetch_stream_errmsg(u->in));
		return -1;
	}
	if (u->magic_len < sizeof(u->magic) && n > 0) {	/* at the end *buf may be NULL */
		k = sizeof(u->magic) - u->magic_len;
		if (k > n)
			k = n;
		memcpy(u->magic + u->magic_len, *buf, k);
		u->magic_len += k;
	}
	return (la_ssize_t)n;
}

static int arch_fail(struct unpack *u)
{
	const char *s;

	if (u->stream_err)
		return fail(u, u->stream_err, "%s", fetch_stream_errmsg(u->in));
	if (archive_errno(u->a) == ENOMEM)
		return fail(u, -ENOMEM, "out of memory in libarchive");
	s = archive_error_string(u->a);
	return fail(u, -EILSEQ, "malformed tarball: %s", s ? s : "decompression failed");
}

/* Names a compression we recognise but do not decompress, from its magic bytes. */
static const char *unsupported_compression(const struct unpack *u)
{
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

	for (i = 0; i < sizeof(m) / sizeof(m[0]); i++)
		if (u->magic_len >= m[i].len && memcmp(u->magic, m[i].magic, m[i].len) == 0)
			return m[i].name;
	return NULL;
}

/* Make sure some decompressed bytes are at hand, unless the stream ended. */
static int in_more(struct unpack *u)
{
	const void *b;
	size_t n;
	la_int64_t off;
	int r;

	while (u->blk_len == 0 && !u->data_eof) {
		r = archive_read_data_block(u->a, &b, &n, &off);
		if (r == ARCHIVE_EOF) {
			u->data_eof = true;
			break;
		}
		if (r < ARCHIVE_WARN)
			return arch_fail(u);
		u->blk = b;
		u->blk_len = n;
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
	return fail(u, -EILSEQ,
		"malformed tarball: premature end of tar data at byte %llu "
		"(truncated download or archive)",
		(unsigned long long)u->offset);
}

/* Point *p at up to max bytes of the stream, without copying (file data). */
static int in_span(struct unpack *u, uint64_t max, const void **p, size_t *n)
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

static int in_skip(struct unpack *u, uint64_t n)
{
	const void *p;
	size_t k = 0;
	int r;

	while (n > 0) {
		r = in_span(u, n, &p, &k);
		if (r < 0)
			return r;
		n -= k;
	}
	return 0;
}

static uint64_t pad512(uint64_t size)
{
	return (512 - (size & 511)) & 511;
}

/* --- tar headers, as Tar.jl reads them (src/header.jl, src/extract.jl) ----------------- */

static int header_error(struct unpack *u, const char *what)
{
	const char *c = unsupported_compression(u);

	if (u->offset == 512 && c)
		return fail(u, -ENOTSUP,
			"unsupported compression: %s (gzip, bzip2, xz, zstd "
			"or none are accepted)",
			c);
	if (u->offset == 512)
		return fail(u, -EILSEQ, "this does not appear to be a tarball: %s", what);
	return fail(u, -EILSEQ, "malformed tarball: %s in the header at byte %llu", what,
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
			return fail(u, -ENOTSUP, "unsupported compression: %s", c);
		return fail(u, -EILSEQ, "this does not appear to be a tarball: %zu bytes", got);
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
	bstr_free(&h->path);
	bstr_free(&h->link);
	if (plen) {
		char tmp[256 + 2];

		memcpy(tmp, prefix, plen);
		tmp[plen] = '/';
		memcpy(tmp + plen + 1, name, nlen);
		r = bstr_set(&h->path, tmp, plen + 1 + nlen);
	} else {
		r = bstr_set(&h->path, name, nlen);
	}
	if (r == 0)
		r = bstr_set(&h->link, link, llen);
	return r < 0 ? fail(u, r, "out of memory") : 0;
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
		return fail(u, -E2BIG,
			"malformed tarball: extension header of %llu bytes "
			"(at most %u accepted)",
			(unsigned long long)size, EXT_MAX);
	d = malloc(size + 1);
	if (!d)
		return fail(u, -ENOMEM, "out of memory");
	r = in_read(u, d, (size_t)size, &got);
	if (r == 0 && got < size)
		r = premature_end(u);
	if (r == 0)
		r = in_skip(u, pad512(size));
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
	r = bstr_set(dst, val, vlen);
	*has = true;
	if (r == 0 && global) {
		r = bstr_set(gdst, val, vlen);
		*ghas = true;
	}
	return r < 0 ? fail(u, r, "out of memory") : 0;
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
	return fail(u, -EILSEQ, "malformed tarball: malformed extended header metadata");
}

/*
 * read_header: a standard header after any number of extension headers.
 * *end is set at the end of the archive.
 */
static int read_hdr(struct unpack *u, struct hdr *h, bool *end)
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
				r = fail(u, -EILSEQ,
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
				r = fail(u, -EILSEQ,
					"malformed tarball: invalid extended header "
					"size value");
			else
				h->size = size;
		}
		if (r == 0 && m.has_path) {
			bstr_free(&h->path);
			h->path = m.path;
			m.path.p = NULL;
		}
		if (r == 0 && m.has_link) {
			bstr_free(&h->link);
			h->link = m.link;
			m.link.p = NULL;
		}
	}
	bstr_free(&m.path);
	bstr_free(&m.link);
	bstr_free(&m.size);
	return r;
}

static enum etype etype_of(char t)
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
static const char *etype_name(enum etype t)
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
static const char *check_header(const struct hdr *h, char *tmp, size_t size)
{
	enum etype t = etype_of(h->type);
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
static int normalize(const struct bstr *in, struct bstr *out)
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

/* --- the tree on disk ----------------------------------------------------------------- */

static void cache_drop(struct unpack *u)
{
	if (u->cache_fd >= 0 && u->cache_fd != u->dirfd)
		close(u->cache_fd);
	u->cache_fd = -1;
	free(u->cache_path);
	u->cache_path = NULL;
	u->cache_len = 0;
}

/*
 * Remove the directory name under parent and everything in it, never
 * following a symlink.  Iterative, holding one directory fd at a time, so
 * a hostile tarball's 4000-level tree cannot exhaust file descriptors.
 */
static int remove_tree(int parent, const char *name)
{
	struct buf stack; /* names from parent down to cur, NUL-separated */
	int cur = -1, up, r = 0;
	DIR *d = NULL;
	struct dirent *e;
	bool descended;

	buf_init(&stack, 1u << 24);
	r = buf_add(&stack, name, strlen(name) + 1);
	if (r < 0)
		goto out;
	cur = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (cur < 0) {
		r = -errno;
		goto out;
	}
	for (;;) {
		int dfd = dup(cur);

		if (dfd < 0 || !(d = fdopendir(dfd))) {
			r = -errno;
			if (dfd >= 0)
				close(dfd);
			goto out;
		}
		descended = false;
		while ((e = readdir(d))) {
			struct stat st;
			int sub;

			if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
				continue;
			if (fstatat(cur, e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
				r = -errno;
				goto out;
			}
			if (!S_ISDIR(st.st_mode)) {
				if (unlinkat(cur, e->d_name, 0) < 0) {
					r = -errno;
					goto out;
				}
				continue;
			}
			sub = openat(
				cur, e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (sub < 0) {
				r = -errno;
				goto out;
			}
			r = buf_add(&stack, e->d_name, strlen(e->d_name) + 1);
			if (r < 0) {
				close(sub);
				goto out;
			}
			close(cur);
			cur = sub;
			descended = true;
			break;
		}
		closedir(d);
		d = NULL;
		if (descended)
			continue;
		/* cur is empty: remove it from its parent and go up */
		stack.len--; /* the NUL of the last name */
		while (stack.len > 0 && stack.ptr[stack.len - 1] != '\0')
			stack.len--;
		if (stack.len == 0) {
			close(cur);
			cur = -1;
			if (unlinkat(parent, name, AT_REMOVEDIR) < 0)
				r = -errno;
			goto out;
		}
		up = openat(cur, "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (up < 0) {
			r = -errno;
			goto out;
		}
		close(cur);
		cur = up;
		if (unlinkat(cur, stack.ptr + stack.len, AT_REMOVEDIR) < 0) {
			r = -errno;
			goto out;
		}
		stack.ptr[stack.len] = '\0';
	}
out:
	if (d)
		closedir(d);
	if (cur >= 0)
		close(cur);
	buf_release(&stack);
	return r;
}

/* Open (creating or replacing a non-directory) the directory name under parent. */
static int open_dir(struct unpack *u, int parent, const char *name, int *ret)
{
	int fd, e;

	for (;;) {
		fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd >= 0) {
			*ret = fd;
			return 0;
		}
		e = errno;
		if (e == ENOENT) {
			if (mkdirat(parent, name, 0755) < 0 && errno != EEXIST)
				return -errno;
			fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (fd < 0)
				return -errno;
			if (fchmod(fd, 0755) < 0) {
				e = errno;
				close(fd);
				return -e;
			}
			*ret = fd;
			return 0;
		}
		if (e == ELOOP)
			return -EPERM; /* a symlink: the prefix check makes this unreachable */
		if (e != ENOTDIR)
			return -e;
		/* a regular file in the way: Tar.jl replaces it by a directory */
		if (unlinkat(parent, name, 0) < 0)
			return -errno;
	}
}

/*
 * An fd of the directory holding the normalised path p (p itself excluded),
 * creating directories as needed.  The fd is cached: do not close it.
 */
static int parent_fd(struct unpack *u, const struct bstr *p, int *ret)
{
	const char *slash = memrchr(p->p, '/', p->len);
	size_t plen = slash ? (size_t)(slash - p->p) : 0, i, s;
	char comp[NAME_MAX + 1];
	int cur, next, r;

	if (plen == 0) {
		*ret = u->dirfd;
		return 0;
	}
	if (u->cache_fd >= 0 && u->cache_len == plen && memcmp(u->cache_path, p->p, plen) == 0) {
		*ret = u->cache_fd;
		return 0;
	}
	cache_drop(u);
	cur = u->dirfd;
	for (i = 0; i < plen; i++) {
		for (s = i; i < plen && p->p[i] != '/'; i++)
			;
		if (i - s > NAME_MAX) {
			r = -ENAMETOOLONG;
			goto fail;
		}
		memcpy(comp, p->p + s, i - s);
		comp[i - s] = '\0';
		r = open_dir(u, cur, comp, &next);
		if (cur != u->dirfd)
			close(cur);
		if (r < 0)
			return r;
		cur = next;
	}
	u->cache_path = malloc(plen);
	if (!u->cache_path) {
		r = -ENOMEM;
		goto fail;
	}
	memcpy(u->cache_path, p->p, plen);
	u->cache_len = plen;
	u->cache_fd = cur;
	*ret = cur;
	return 0;
fail:
	if (cur != u->dirfd)
		close(cur);
	return r;
}

static const char *base_name(const struct bstr *p)
{
	const char *slash = memrchr(p->p, '/', p->len);

	return slash ? slash + 1 : p->p;
}

static int write_all(int fd, const void *p, size_t n)
{
	const char *c = p;
	ssize_t w;

	while (n > 0) {
		w = write(fd, c, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

/*
 * Open the existing file at the normalised path p for reading, walking from
 * the root without creating anything or following a symlink.  The
 * directory cache is left alone: the caller holds its fd.
 */
static int open_existing(struct unpack *u, const struct bstr *p, int *ret)
{
	char comp[NAME_MAX + 1];
	int cur = u->dirfd, next;
	size_t i = 0, s;

	for (;;) {
		for (s = i; i < p->len && p->p[i] != '/'; i++)
			;
		if (i - s > NAME_MAX) {
			next = -1;
			errno = ENAMETOOLONG;
		} else {
			memcpy(comp, p->p + s, i - s);
			comp[i - s] = '\0';
			next = openat(cur, comp,
				O_RDONLY | O_NOFOLLOW | O_CLOEXEC | (i < p->len ? O_DIRECTORY : 0));
		}
		if (cur != u->dirfd) {
			int e = errno;

			close(cur);
			errno = e;
		}
		if (next < 0)
			return -errno;
		if (i >= p->len) {
			*ret = next;
			return 0;
		}
		cur = next;
		i++;
	}
}

/* Copy the regular file src (normalised path) into the open file out. */
static int copy_file(struct unpack *u, const struct bstr *src, int out, uint64_t size)
{
	uint64_t done = 0;
	int in = -1, r;
	ssize_t n;

	r = open_existing(u, src, &in);
	if (r < 0)
		return r;
	while (done < size) {
		n = copy_file_range(in, NULL, out, NULL, (size_t)(size - done), 0);
		if (n <= 0)
			break;
		done += (uint64_t)n;
	}
	if (done < size && !u->copybuf && !(u->copybuf = malloc(COPY_BUF)))
		r = -ENOMEM;
	while (r == 0 && done < size) {
		n = pread(in, u->copybuf, COPY_BUF, (off_t)done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			r = n < 0 ? -errno : -EIO;
			break;
		}
		r = write_all(out, u->copybuf, (size_t)n);
		done += (uint64_t)n;
	}
	close(in);
	return r;
}

/*
 * Make room for the entry at p under pfd: remove what is there unless a
 * directory entry meets a directory (Tar.jl keeps it: *keep is set).
 */
static int clear_leaf(struct unpack *u, int pfd, const char *name, enum etype t, bool *keep)
{
	struct stat st;
	int r;

	*keep = false;
	if (fstatat(pfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (S_ISDIR(st.st_mode)) {
		if (t == T_DIR) {
			*keep = true;
			return 0;
		}
		/*
		 * The cached directory may lie inside, unless it is pfd itself
		 * (then it is the parent, which stays).
		 */
		if (u->cache_fd != pfd)
			cache_drop(u);
		r = remove_tree(pfd, name);
		return r;
	}
	return unlinkat(pfd, name, 0) < 0 ? -errno : 0;
}

/* --- one entry ------------------------------------------------------------------------ */

/*
 * Bring the model of the current tree up to date for an entry at p:
 * (re)create the intermediate directories and tell whether p is live and
 * what it is.  Returns the record of p, created if needed.
 */
static int model_walk(struct unpack *u, const struct bstr *p, struct rec **leaf, bool *live)
{
	uint64_t parent_seq = 0;
	struct rec *r;
	size_t i = 0;
	int e;

	for (;;) {
		for (; i < p->len && p->p[i] != '/'; i++)
			;
		e = ptab_put(&u->tab, p->p, i, &r);
		if (e < 0)
			return e;
		if (i == p->len) {
			*leaf = r;
			*live = r->seq > parent_seq;
			return 0;
		}
		if (!(r->seq > parent_seq && (r->cur == T_DIR || r->cur == T_NONE))) {
			/* a missing, dead or non-directory component becomes a fresh directory */
			r->cur = T_NONE;
			r->seq = ++u->seq;
		}
		parent_seq = r->seq;
		i++;
	}
}

static int tree_err(struct unpack *u, int r, const struct bstr *path)
{
	char s[256];

	if (r == -ENOMEM)
		return fail(u, r, "out of memory");
	if (r == -ENAMETOOLONG)
		return fail(
			u, -EPERM, "tarball entry '%s': path too deep", show(path, s, sizeof(s)));
	return fail(u, r == -EINVAL ? -EPERM : r, "tarball entry '%s': %s",
		show(path, s, sizeof(s)), strerror(-r));
}

static int disk_err(struct unpack *u, int r, const char *what, const struct bstr *path)
{
	char s[256];

	return fail(u, r, "cannot %s '%s': %s", what, show(path, s, sizeof(s)), strerror(-r));
}

/* A regular file: data written to disk (unless hashing only) and into the blob hash. */
static int do_file(struct unpack *u, const struct hdr *h, const struct bstr *p, bool exec)
{
	uint8_t oid[HASH_SHA1_LEN];
	uint64_t left = h->size;
	const void *d = NULL;
	size_t n = 0;
	int pfd, fd = -1, r;
	bool keep;

	if (u->dirfd >= 0) {
		r = parent_fd(u, p, &pfd);
		if (r == 0)
			r = clear_leaf(u, pfd, base_name(p), T_FILE, &keep);
		if (r == 0) {
			fd = openat(pfd, base_name(p),
				O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
				exec ? 0755 : 0644);
			if (fd < 0)
				r = -errno;
		}
		if (r < 0)
			return disk_err(u, r, "create", p);
	}
	/* The quota's ceiling, checked before a byte of the file is written. */
	if (u->max_bytes && (h->size > u->max_bytes || u->bytes > u->max_bytes - h->size)) {
		if (fd >= 0)
			close(fd);
		return fail(u, -EFBIG, "unpacked size exceeds the limit of %" PRIu64 " bytes",
			u->max_bytes);
	}
	r = hash_git_blob_start(u->blob, h->size);
	while (r == 0 && left > 0) {
		r = in_span(u, left, &d, &n);
		if (r < 0)
			break;
		left -= n;
		r = hash_ctx_update(u->blob, d, n);
		if (r < 0)
			break;
		if (fd >= 0) {
			r = write_all(fd, d, n);
			if (r < 0)
				r = disk_err(u, r, "write", p);
		}
	}
	if (r == 0 && fd >= 0 && fchmod(fd, exec ? 0755 : 0644) < 0)
		r = disk_err(u, -errno, "chmod", p);
	if (fd >= 0 && close(fd) < 0 && r == 0)
		r = disk_err(u, -errno, "write", p);
	if (r == 0)
		r = in_skip(u, pad512(h->size));
	if (r == 0)
		r = hash_ctx_final(u->blob, oid);
	if (r == 0) {
		r = tree_builder_add_file(u->tb, p->p, exec, oid);
		if (r < 0)
			return tree_err(u, r, p);
	}
	if (r < 0)
		return u->err ? u->err : fail(u, r, "hashing failed");
	u->bytes += h->size;
	u->files++;
	if (fd >= 0 && !u->wrote_file) {
		u->wrote_file = true;
		if (u->crash_mid_unpack)
			raise(SIGKILL);
	}
	return 0;
}

/*
 * A directory, symlink or hardlink (a copy of the file at target, tsize
 * bytes; self: the hardlink names its own path, and Tar.jl only applies
 * the mode then).
 */
static int do_other(struct unpack *u, const struct hdr *h, enum etype t, const struct bstr *p,
	const struct bstr *target, uint64_t tsize, bool exec)
{
	bool self =
		t == T_HARDLINK && target->len == p->len && memcmp(target->p, p->p, p->len) == 0;
	const char *name = base_name(p);
	bool keep = false;
	int pfd, fd, r = 0;

	if (u->dirfd >= 0) {
		r = parent_fd(u, p, &pfd);
		if (r == 0 && !self)
			r = clear_leaf(u, pfd, name, t, &keep);
		if (r == 0 && t == T_DIR && !keep) {
			r = open_dir(u, pfd, name, &fd);
			if (r == 0)
				close(fd);
		} else if (r == 0 && t == T_SYMLINK) {
			if (symlinkat(h->link.p, pfd, name) < 0)
				r = -errno;
		} else if (r == 0 && self) {
			if (fchmodat(pfd, name, exec ? 0755 : 0644, 0) < 0)
				r = -errno;
		} else if (r == 0 && t == T_HARDLINK) {
			fd = openat(pfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
				exec ? 0755 : 0644);
			if (fd < 0)
				r = -errno;
			if (r == 0)
				r = copy_file(u, target, fd, tsize);
			if (r == 0 && fchmod(fd, exec ? 0755 : 0644) < 0)
				r = -errno;
			if (fd >= 0 && close(fd) < 0 && r == 0)
				r = -errno;
		}
		if (r < 0)
			return disk_err(u, r, "create", p);
	}
	if (t == T_DIR)
		r = tree_builder_add_dir(u->tb, p->p);
	else if (t == T_SYMLINK)
		r = tree_builder_add_symlink(u->tb, p->p, h->link.p, h->link.len);
	else
		r = tree_builder_add_hardlink(u->tb, p->p, target->p, exec);
	if (r < 0)
		return tree_err(u, r, p);
	if (t != T_DIR)
		u->files++;
	if (t == T_HARDLINK)
		u->bytes += tsize;
	return 0;
}

/* The live record of the normalised path p, or NULL; the model is not changed. */
static struct rec *model_lookup(struct unpack *u, const struct bstr *p)
{
	uint64_t parent_seq = 0;
	struct rec *r;
	size_t i = 0;

	for (;;) {
		for (; i < p->len && p->p[i] != '/'; i++)
			;
		r = ptab_get(&u->tab, p->p, i);
		if (!r || r->seq <= parent_seq)
			return NULL;
		if (i == p->len)
			return r;
		if (r->cur != T_DIR && r->cur != T_NONE)
			return NULL;
		parent_seq = r->seq;
		i++;
	}
}

/* Tar.jl's symlink attack guard: no path through an earlier symlink entry. */
static int check_prefixes(struct unpack *u, const struct hdr *h, const struct bstr *p)
{
	char s1[256], s2[256];
	struct rec *r;
	size_t i;

	for (i = 0; u->any_symlink && i < p->len; i++) {
		if (p->p[i] != '/')
			continue;
		/* Tar.jl's view: a symlink entry still counts after its parent was replaced */
		r = ptab_get(&u->tab, p->p, i);
		if (r && r->tarjl == T_SYMLINK) {
			struct bstr pre = {p->p, i};

			return fail(u, -EPERM,
				"unsafe tarball entry '%s': path through the "
				"symlink '%s' (refusing to extract, possible attack)",
				show(&h->path, s1, sizeof(s1)), show(&pre, s2, sizeof(s2)));
		}
	}
	return 0;
}

/* read_tarball's per-entry work: normalise, check, record, then extract and hash. */
static int do_entry(struct unpack *u, struct hdr *h)
{
	enum etype t = etype_of(h->type);
	struct bstr p = {0}, target = {0};
	struct rec *leaf, *trec;
	const char *why;
	char s1[256], s2[256];
	bool live, exec = (h->mode & 0100) != 0;
	uint64_t tsize = 0;
	int e = 0;

	why = check_header(h, s2, sizeof(s2));
	if (why) {
		e = fail(u, -EPERM, "unsafe tarball entry '%s': %s", show(&h->path, s1, sizeof(s1)),
			why);
		goto out;
	}
	if (normalize(&h->path, &p) < 0 || (t == T_HARDLINK && normalize(&h->link, &target) < 0)) {
		e = fail(u, -ENOMEM, "out of memory");
		goto out;
	}
	e = check_prefixes(u, h, &p);
	if (e < 0 || p.len == 0)
		goto out; /* p.len == 0: the root ("./"), necessarily a directory */
	if (t == T_HARDLINK) {
		trec = model_lookup(u, &target);
		if (!trec || trec->cur != T_FILE) {
			e = fail(u, -EPERM,
				"unsafe tarball entry '%s': hardlink to %s '%s' (only "
				"an earlier regular file may be linked)",
				show(&h->path, s1, sizeof(s1)),
				!trec ? "a non-existent target" : etype_name(trec->cur),
				show(&h->link, s2, sizeof(s2)));
			goto out;
		}
		tsize = trec->size;
	}
	e = model_walk(u, &p, &leaf, &live);
	if (e < 0) {
		e = fail(
			u, e, "%s", e == -E2BIG ? "tarball has too many entries" : "out of memory");
		goto out;
	}
	if (t == T_DIR && live && (leaf->cur == T_DIR || leaf->cur == T_NONE)) {
		/* a directory over a directory: Tar.jl keeps it and what it holds */
		leaf->cur = T_DIR;
		leaf->tarjl = T_DIR;
		goto out;
	}
	if (t == T_FILE)
		e = do_file(u, h, &p, exec);
	else
		e = do_other(u, h, t, &p, &target, tsize, exec);
	if (e < 0)
		goto out;
	leaf->seq = ++u->seq; /* replaced: everything that was below it is dead now */
	leaf->cur = (unsigned char)t;
	leaf->tarjl = (unsigned char)t;
	leaf->size = t == T_FILE ? h->size : tsize;
	if (t == T_SYMLINK)
		u->any_symlink = true;
out:
	bstr_free(&p);
	bstr_free(&target);
	return e;
}

/* --- the whole stream ----------------------------------------------------------------- */

static const char *filter_name(int code)
{
	switch (code) {
	case ARCHIVE_FILTER_GZIP:
		return "gzip";
	case ARCHIVE_FILTER_BZIP2:
		return "bzip2";
	case ARCHIVE_FILTER_XZ:
		return "xz";
	case ARCHIVE_FILTER_ZSTD:
		return "zstd";
	default:
		return "none";
	}
}

static int open_archive(struct unpack *u)
{
	struct archive_entry *ae;
	int r;

	pthread_once(&filters_once, probe_filters);
	u->a = archive_read_new();
	if (!u->a)
		return fail(u, -ENOMEM, "out of memory");
	if (have_gzip)
		archive_read_support_filter_gzip(u->a);
	if (have_bzip2)
		archive_read_support_filter_bzip2(u->a);
	if (have_xz)
		archive_read_support_filter_xz(u->a);
	if (have_zstd)
		archive_read_support_filter_zstd(u->a);
	archive_read_support_format_raw(u->a);
	r = archive_read_open(u->a, u, NULL, arch_read, NULL);
	if (r == ARCHIVE_OK)
		r = archive_read_next_header(u->a, &ae);
	if (r == ARCHIVE_EOF || (r != ARCHIVE_OK && u->magic_len == 0 && !u->stream_err)) {
		u->data_eof = true; /* an empty stream: an empty tarball, as Tar.jl reads it */
		return 0;
	}
	if (r < ARCHIVE_WARN)
		return arch_fail(u);
	return 0;
}

/* After the end of the tar data: read (and hash) the rest of the stream. */
static int drain(struct unpack *u)
{
	const void *b;
	size_t n;
	int r;

	u->blk_len = 0;
	while (!u->data_eof) {
		r = in_more(u);
		if (r < 0)
			return r;
		u->blk_len = 0;
	}
	do {
		r = fetch_stream_read(u->in, &b, &n);
		if (r < 0)
			return fail(u, r, "%s", fetch_stream_errmsg(u->in));
	} while (n > 0);
	return 0;
}

static int finish(struct unpack *u, struct fetch_digests *ret)
{
	struct fetch_digests d;
	int r;

	memset(&d, 0, sizeof(d));
	r = fetch_stream_sha256(u->in, d.sha256);
	if (r == 0)
		r = tree_builder_final(u->tb, 0, d.tree);
	if (r == 0)
		r = tree_builder_final(u->tb, TREE_LEGACY_SYMLINKS, d.tree_legacy);
	if (r == 0)
		r = tree_builder_final(u->tb, TREE_KEEP_EMPTY, d.tree_keep_empty);
	if (r == 0)
		r = tree_builder_final(u->tb, TREE_TARJL, d.tree_tarjl);
	if (r < 0)
		return fail(u, r, "cannot compute the tree hash: %s", strerror(-r));
	d.tarball_bytes = fetch_stream_bytes(u->in);
	d.bytes = u->bytes;
	d.files = u->files;
	d.compression = filter_name(archive_filter_code(u->a, 0));
	*ret = d;
	return 0;
}

int fetch_unpack(struct fetch_stream *in, int dirfd, struct fetch_digests *ret, char **errmsg)
{
	return fetch_unpack_max(in, dirfd, 0, ret, errmsg);
}

int fetch_unpack_max(struct fetch_stream *in, int dirfd, uint64_t max_bytes,
	struct fetch_digests *ret, char **errmsg)
{
	struct unpack u;
	struct hdr h = {0};
	const char *crash = getenv("ARTIFACTFS_CRASH_AT");
	bool end = false;
	int r;

	if (errmsg)
		*errmsg = NULL;
	memset(&u, 0, sizeof(u));
	u.in = in;
	u.max_bytes = max_bytes;
	u.dirfd = dirfd;
	u.cache_fd = -1;
	u.crash_mid_unpack = crash && strcmp(crash, "mid-unpack") == 0;
	buf_init(&u.msg, ERRMSG_MAX);
	r = tree_builder_new(&u.tb);
	if (r == 0)
		r = hash_ctx_new(HASH_SHA1, &u.blob);
	if (r < 0) {
		fail(&u, r, "cannot set up hashing: %s", strerror(-r));
		goto out;
	}
	r = open_archive(&u);
	while (r == 0) {
		r = read_hdr(&u, &h, &end);
		if (r < 0 || end)
			break;
		r = do_entry(&u, &h);
	}
	if (r == 0)
		r = drain(&u);
	if (r == 0)
		r = finish(&u, ret);
out:
	if (r < 0 && errmsg)
		*errmsg = buf_detach(&u.msg, NULL);
	bstr_free(&h.path);
	bstr_free(&h.link);
	bstr_free(&u.g_path);
	bstr_free(&u.g_link);
	bstr_free(&u.g_size);
	cache_drop(&u);
	ptab_release(&u.tab);
	tree_builder_free(u.tb);
	hash_ctx_free(u.blob);
	free(u.copybuf);
	if (u.a)
		archive_read_free(u.a);
	buf_release(&u.msg);
	return r < 0 ? (u.err ? u.err : r) : 0;
}

int fetch_hash_tarball(int fd, const char *path, struct fetch_digests *ret, char **errmsg)
{
	struct fetch_stream *s = NULL;
	int own = -1, r;

	if (errmsg)
		*errmsg = NULL;
	if (fd < 0) {
		own = fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
		if (fd < 0) {
			r = -errno;
			if (errmsg &&
				asprintf(errmsg, "cannot open '%s': %s", path, strerror(-r)) < 0)
				*errmsg = NULL;
			return r;
		}
	}
	r = fetch_stream_open_fd(fd, path, NULL, &s);
	if (r == 0)
		r = fetch_unpack(s, -1, ret, errmsg);
	else if (errmsg)
		*errmsg = strdup(strerror(-r));
	fetch_stream_free(s);
	if (own >= 0)
		close(own);
	return r;
}
