/*
 * inflate.c - gzip through ISA-L, zstd through libzstd, bzip2 and xz
 * through libarchive (fetch/inflate.h)
 *
 * Why not libarchive for everything, as before: its gzip filter is zlib,
 * which inflates at about 250 MB/s per core where ISA-L's igzip does about
 * 600 MB/s, and gzip is what nearly every artifact uses; its zstd filter
 * adds a copy.  libarchive stays for the rarer bzip2 and xz, restricted to
 * its built-in filters: archive_read_support_filter_all() would also
 * register filters that run external programs (lrzip, grzip, lzop), which
 * a daemon must not spawn on downloaded bytes.
 *
 * The codec is chosen by the magic bytes, as libarchive's bidders choose
 * theirs: a gzip header is 1f 8b 08 with no reserved flag bit (anything
 * else starting 1f 8b is handed on as it is, and the tar reader reports an
 * unsupported compression, as before), zstd is a frame or a skippable
 * frame.  Gzip members follow each other while the bytes after a member
 * start a new header; other trailing bytes are ignored, as libarchive and
 * gzip -d (with a warning) do.
 */
#include "config.h"

#include "fetch/inflate.h"

#include <archive.h>
#include <errno.h>
#include <isa-l/igzip_lib.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#define MAGIC_LEN 8

enum codec { C_UNKNOWN = 0, C_NONE, C_GZIP, C_ZSTD, C_ARCHIVE };

struct inflate {
	inflate_source_fn src;
	void *arg;
	unsigned flags;
	enum codec codec;

	/* the input not yet consumed: the source's last chunk, or peek */
	const unsigned char *in;
	size_t in_len;
	bool in_eof;
	/* the bytes read while choosing the codec, when the first chunk was short */
	unsigned char *peek;
	size_t peek_len;
	unsigned char magic[MAGIC_LEN];
	size_t magic_len;

	bool done; /* the end of the decompressed data */
	int err;
	bool src_err;
	char msg[256];

	struct inflate_state *isal;
	/*
	 * The gzip header is read here with isal_read_gzip_header() and a
	 * header struct that lives as long as the member: isal_inflate()'s
	 * own ISAL_GZIP mode keeps it on its stack, so a header split
	 * across two calls (FEXTRA, FNAME...) loses its flags between them
	 * (valgrind: uninitialised values in isal_read_gzip_header()).
	 */
	struct isal_gzip_header gzh;
	bool in_hdr;
	ZSTD_DStream *zd;
	size_t zret; /* ZSTD_decompressStream()'s last answer: 0 between frames */
	bool zfull;  /* the last call filled the output: zstd may hold more */
	struct archive *a;
	const unsigned char *ablk; /* libarchive's block not yet copied out */
	size_t ablk_len;
	const char *aname;
};

static int __attribute__((format(printf, 3, 4)))
fail(struct inflate *z, int err, const char *fmt, ...)
{
	va_list ap;

	if (z->err)
		return z->err;
	z->err = err;
	va_start(ap, fmt);
	vsnprintf(z->msg, sizeof(z->msg), fmt, ap);
	va_end(ap);
	return err;
}

int inflate_new(inflate_source_fn src, void *arg, unsigned flags, struct inflate **ret)
{
	struct inflate *z = calloc(1, sizeof(*z));

	if (!z)
		return -ENOMEM;
	z->src = src;
	z->arg = arg;
	z->flags = flags;
	*ret = z;
	return 0;
}

void inflate_free(struct inflate *z)
{
	if (!z)
		return;
	free(z->isal);
	ZSTD_freeDStream(z->zd);
	if (z->a)
		archive_read_free(z->a);
	free(z->peek);
	free(z);
}

/* The next source chunk as the input, unless input is left; at the end in_len stays 0. */
static int in_fill(struct inflate *z)
{
	const void *b = NULL;
	size_t n = 0;
	int r;

	while (z->in_len == 0 && !z->in_eof) {
		r = z->src(z->arg, &b, &n);
		if (r < 0) {
			z->src_err = true;
			return fail(z, r, "%s", "the source failed");
		}
		if (n == 0)
			z->in_eof = true;
		z->in = b;
		z->in_len = n;
	}
	return 0;
}

static void consume(struct inflate *z, size_t n)
{
	if (n == 0)
		return; /* z->in may be NULL (an empty stream) */
	z->in += n;
	z->in_len -= n;
}

/* --- choosing the codec ----------------------------------------------------------------- */

static bool is_gzip(const unsigned char *m, size_t n)
{
	return n >= 4 && m[0] == 0x1f && m[1] == 0x8b && m[2] == 8 && (m[3] & 0xe0) == 0;
}

static bool is_zstd(const unsigned char *m, size_t n)
{
	if (n < 4)
		return false;
	if (m[0] == 0x28 && m[1] == 0xb5 && m[2] == 0x2f && m[3] == 0xfd)
		return true;
	return (m[0] & 0xf0) == 0x50 && m[1] == 0x2a && m[2] == 0x4d && m[3] == 0x18;
}

static bool is_archive(const unsigned char *m, size_t n)
{
	static const unsigned char xz[6] = {0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00};

	return (n >= 3 && memcmp(m, "BZh", 3) == 0) || (n >= 6 && memcmp(m, xz, 6) == 0);
}

static int archive_start(struct inflate *z);

/*
 * Read until MAGIC_LEN bytes or the end are at hand.  Usually the first
 * chunk holds them and stays the input as it is; otherwise the chunks are
 * gathered in peek.
 */
static int detect(struct inflate *z)
{
	unsigned char *np;
	int r;

	r = in_fill(z);
	while (r == 0 && z->in_len < MAGIC_LEN && !z->in_eof) {
		np = realloc(z->peek, z->peek_len + z->in_len);
		if (!np)
			return fail(z, -ENOMEM, "out of memory");
		memcpy(np + z->peek_len, z->in, z->in_len);
		z->peek = np;
		z->peek_len += z->in_len;
		z->in_len = 0;
		r = in_fill(z);
		if (r == 0 && z->in_eof) {
			z->in = z->peek;
			z->in_len = z->peek_len;
		} else if (r == 0 && z->peek_len + z->in_len >= MAGIC_LEN) {
			np = realloc(z->peek, z->peek_len + z->in_len);
			if (!np)
				return fail(z, -ENOMEM, "out of memory");
			memcpy(np + z->peek_len, z->in, z->in_len);
			z->peek = np;
			z->peek_len += z->in_len;
			z->in = z->peek;
			z->in_len = z->peek_len;
		}
	}
	if (r < 0)
		return r;
	z->magic_len = z->in_len < MAGIC_LEN ? z->in_len : MAGIC_LEN;
	if (z->magic_len == 0) { /* z->in may be NULL then: no memcpy from it */
		z->codec = C_NONE; /* an empty stream: an empty tarball, as Tar.jl reads it */
		return 0;
	}
	memcpy(z->magic, z->in, z->magic_len);
	if (!(z->flags & INFLATE_LIBARCHIVE) && is_gzip(z->magic, z->magic_len)) {
		z->isal = calloc(1, sizeof(*z->isal)); /* isal_inflate_init() leaves some fields */
		if (!z->isal)
			return fail(z, -ENOMEM, "out of memory");
		isal_inflate_init(z->isal);
		isal_gzip_header_init(&z->gzh);
		z->in_hdr = true;
		z->isal->crc_flag =
			ISAL_GZIP_NO_HDR_VER; /* the trailer's CRC-32 and size checked */
		z->codec = C_GZIP;
		return 0;
	}
	if (!(z->flags & INFLATE_LIBARCHIVE) && is_zstd(z->magic, z->magic_len)) {
		z->zd = ZSTD_createDStream();
		if (!z->zd)
			return fail(z, -ENOMEM, "out of memory");
		z->codec = C_ZSTD;
		return 0;
	}
	if (is_archive(z->magic, z->magic_len) || (z->flags & INFLATE_LIBARCHIVE))
		return archive_start(z);
	z->codec = C_NONE;
	return 0;
}

/* --- gzip: ISA-L ---------------------------------------------------------------------------- */

static const char *isal_why(int ret)
{
	switch (ret) {
	case ISAL_INVALID_BLOCK:
		return "invalid deflate block";
	case ISAL_INVALID_SYMBOL:
		return "invalid deflate symbol";
	case ISAL_INVALID_LOOKBACK:
		return "invalid deflate distance";
	case ISAL_INVALID_WRAPPER:
		return "invalid gzip header";
	case ISAL_UNSUPPORTED_METHOD:
		return "unsupported gzip compression method";
	case ISAL_INCORRECT_CHECKSUM:
		return "gzip CRC or length mismatch (corrupted data)";
	case ISAL_NEED_DICT:
		return "gzip stream needs a dictionary";
	default:
		return "gzip decompression failed";
	}
}

/*
 * After a member: another one when the next bytes start a gzip header,
 * else the end of the data (trailing bytes ignored).
 */
static int gzip_next_member(struct inflate *z)
{
	int r = in_fill(z);

	if (r < 0)
		return r;
	if (z->in_len == 0 || z->in[0] != 0x1f || (z->in_len >= 2 && z->in[1] != 0x8b)) {
		z->done = true;
		return 0;
	}
	isal_inflate_reset(z->isal);
	isal_gzip_header_init(&z->gzh);
	z->in_hdr = true;
	z->isal->crc_flag = ISAL_GZIP_NO_HDR_VER;
	return 0;
}

static int gzip_read(struct inflate *z, unsigned char *out, size_t cap, size_t *got)
{
	struct inflate_state *st = z->isal;
	size_t n = 0, used;
	int ret, r;

	if (cap > UINT32_MAX)
		cap = UINT32_MAX;
	while (n < cap && !z->done) {
		if (st->block_state == ISAL_BLOCK_FINISH) {
			r = gzip_next_member(z);
			if (r < 0)
				return r;
			continue;
		}
		if (z->in_len == 0) {
			if (n > 0)
				break; /* hand out what we have before waiting for more */
			r = in_fill(z);
			if (r < 0)
				return r;
			if (z->in_len == 0)
				return fail(z, -EILSEQ, "truncated gzip input");
		}
		st->next_in = (uint8_t *)z->in;
		st->avail_in = z->in_len > UINT32_MAX ? UINT32_MAX : (uint32_t)z->in_len;
		used = st->avail_in;
		if (z->in_hdr) {
			ret = isal_read_gzip_header(st, &z->gzh);
			if (ret != ISAL_DECOMP_OK && ret != ISAL_END_INPUT)
				return fail(z, -EILSEQ, "%s", isal_why(ret));
			if (st->avail_in > used)
				return fail(z, -EILSEQ, "invalid gzip header");
			consume(z, used - st->avail_in);
			z->in_hdr = ret != ISAL_DECOMP_OK;
			continue;
		}
		st->next_out = out + n;
		st->avail_out = (uint32_t)(cap - n);
		ret = isal_inflate(st);
		/* after an error avail_in may be anything (0xffffffff, seen by fuzz-inflate) */
		if (ret < 0 || ret == ISAL_NEED_DICT)
			return fail(z, -EILSEQ, "%s", isal_why(ret));
		if (st->avail_in > used)
			return fail(z, -EILSEQ, "invalid gzip data");
		if (used == st->avail_in && cap - st->avail_out == n &&
			st->block_state != ISAL_BLOCK_FINISH)
			return fail(z, -EILSEQ, "invalid gzip data (no progress)");
		consume(z, used - st->avail_in);
		n = cap - st->avail_out;
	}
	*got = n;
	return 0;
}

/* --- zstd: libzstd -------------------------------------------------------------------------- */

static int zstd_read(struct inflate *z, unsigned char *out, size_t cap, size_t *got)
{
	ZSTD_outBuffer ob = {out, cap, 0};
	ZSTD_inBuffer ib;
	size_t ret;
	int r;

	while (ob.pos < ob.size) {
		/* after a full output, zstd may hold bytes: ask it before reading on */
		if (z->in_len == 0 && !(z->zfull && z->zret != 0)) {
			if (ob.pos > 0)
				break;
			r = in_fill(z);
			if (r < 0)
				return r;
			if (z->in_len == 0) {
				if (z->zret != 0)
					return fail(z, -EILSEQ, "truncated zstd input");
				z->done = true;
				break;
			}
		}
		ib.src = z->in;
		ib.size = z->in_len;
		ib.pos = 0;
		ret = ZSTD_decompressStream(z->zd, &ob, &ib);
		consume(z, ib.pos);
		if (ZSTD_isError(ret))
			return fail(z, -EILSEQ, "zstd: %s", ZSTD_getErrorName(ret));
		z->zret = ret;
		z->zfull = ob.pos == ob.size;
	}
	*got = ob.pos;
	return 0;
}

/* --- bzip2, xz (and, as a benchmark knob, gzip and zstd): libarchive ------------------------- */

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

/* libarchive's read callback: the input left (the detected bytes first), then the source. */
static la_ssize_t arch_read(struct archive *a, void *arg, const void **buf)
{
	struct inflate *z = arg;
	size_t n;

	if (in_fill(z) < 0) {
		archive_set_error(a, -z->err, "%s", z->msg);
		return -1;
	}
	*buf = z->in;
	n = z->in_len;
	z->in_len = 0;
	return (la_ssize_t)n;
}

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

static int arch_fail(struct inflate *z)
{
	const char *s;

	if (z->src_err)
		return z->err;
	if (archive_errno(z->a) == ENOMEM)
		return fail(z, -ENOMEM, "out of memory in libarchive");
	s = archive_error_string(z->a);
	return fail(z, -EILSEQ, "%s", s ? s : "decompression failed");
}

static int archive_start(struct inflate *z)
{
	struct archive_entry *ae;
	int r;

	pthread_once(&filters_once, probe_filters);
	z->codec = C_ARCHIVE;
	z->aname = "none";
	z->a = archive_read_new();
	if (!z->a)
		return fail(z, -ENOMEM, "out of memory");
	if (have_gzip)
		archive_read_support_filter_gzip(z->a);
	if (have_bzip2)
		archive_read_support_filter_bzip2(z->a);
	if (have_xz)
		archive_read_support_filter_xz(z->a);
	if (have_zstd)
		archive_read_support_filter_zstd(z->a);
	archive_read_support_format_raw(z->a);
	/* a compressed empty stream (xz of nothing) is an empty tarball too */
	archive_read_support_format_empty(z->a);
	r = archive_read_open(z->a, z, NULL, arch_read, NULL);
	if (r == ARCHIVE_OK)
		r = archive_read_next_header(z->a, &ae);
	if (r == ARCHIVE_EOF) {
		z->done = true;
		return 0;
	}
	if (r < ARCHIVE_WARN)
		return arch_fail(z);
	z->aname = filter_name(archive_filter_code(z->a, 0));
	return 0;
}

static int archive_read(struct inflate *z, unsigned char *out, size_t cap, size_t *got)
{
	la_int64_t off;
	const void *b;
	size_t n = 0, k;
	int r;

	while (n < cap && !z->done) {
		if (z->ablk_len == 0) {
			if (n > 0)
				break;
			r = archive_read_data_block(z->a, &b, &k, &off);
			if (r == ARCHIVE_EOF) {
				z->done = true;
				break;
			}
			if (r < ARCHIVE_WARN)
				return arch_fail(z);
			z->ablk = b;
			z->ablk_len = k;
		}
		k = cap - n < z->ablk_len ? cap - n : z->ablk_len;
		memcpy(out + n, z->ablk, k);
		z->ablk += k;
		z->ablk_len -= k;
		n += k;
	}
	*got = n;
	return 0;
}

/* --- none ------------------------------------------------------------------------------------ */

static int none_read(struct inflate *z, unsigned char *out, size_t cap, size_t *got)
{
	size_t k;
	int r = in_fill(z);

	if (r < 0)
		return r;
	if (z->in_len == 0)
		z->done = true;
	k = cap < z->in_len ? cap : z->in_len;
	if (k)
		memcpy(out, z->in, k);
	consume(z, k);
	*got = k;
	return 0;
}

/* --- the interface ------------------------------------------------------------------------- */

int inflate_read(struct inflate *z, void *out, size_t cap, size_t *got)
{
	int r;

	*got = 0;
	if (z->err)
		return z->err;
	if (z->codec == C_UNKNOWN) {
		r = detect(z);
		if (r < 0)
			return r;
	}
	if (z->done || cap == 0)
		return 0;
	switch (z->codec) {
	case C_GZIP:
		return gzip_read(z, out, cap, got);
	case C_ZSTD:
		return zstd_read(z, out, cap, got);
	case C_ARCHIVE:
		return archive_read(z, out, cap, got);
	default:
		return none_read(z, out, cap, got);
	}
}

int inflate_drain(struct inflate *z)
{
	int r = 0;

	if (z->err)
		return z->err;
	while (r == 0 && !z->in_eof) {
		z->in_len = 0;
		r = in_fill(z);
	}
	z->in_len = 0;
	return r;
}

const char *inflate_name(const struct inflate *z)
{
	switch (z->codec) {
	case C_GZIP:
		return "gzip";
	case C_ZSTD:
		return "zstd";
	case C_ARCHIVE:
		return z->aname;
	default:
		return "none";
	}
}

const unsigned char *inflate_magic(const struct inflate *z, size_t *len)
{
	*len = z->magic_len;
	return z->magic;
}

const char *inflate_errmsg(const struct inflate *z)
{
	return z->msg;
}

bool inflate_source_failed(const struct inflate *z)
{
	return z->src_err;
}
