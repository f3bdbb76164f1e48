/*
 * test-inflate.c - fetch/inflate.c (the codecs) and fetch/pipeline.c (the
 * stages on their threads)
 *
 * Known answers come from the gzip, zstd, xz and bzip2 programs: the data
 * is compressed by them and must come back byte for byte, fed in chunks of
 * 1 byte up to the whole input (headers and frames split anywhere).  A
 * program that is missing skips its checks.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif

#include "fetch/fetch.h"
#include "fetch/inflate.h"
#include "fetch/pipeline.h"
#include "tests/tap.h"
#include "tests/unit/util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static char tmpdir[512];

/* ---- data -------------------------------------------------------------------------- */

struct mem {
	unsigned char *p;
	size_t len, cap;
};

static void mem_free(struct mem *m)
{
	free(m->p);
	m->p = NULL;
	m->len = 0;
	m->cap = 0;
}

static void mem_add(struct mem *m, const void *p, size_t len)
{
	if (m->len + len + 1 > m->cap) {
		m->cap = (m->len + len + 1) * 2;
		m->p = realloc(m->p, m->cap);
	}
	memcpy(m->p + m->len, p, len);
	m->len += len;
}

/* Compressible and not: text lines and a pseudo-random tail. */
static struct mem sample(size_t len, unsigned seed)
{
	struct mem m = {malloc(len + 1), len, len + 1};
	uint32_t x = seed * 2654435761u + 1;
	size_t i;

	for (i = 0; i < len; i++) {
		x = x * 1103515245u + 12345u;
		m.p[i] = i < len / 2 ? (unsigned char)("line of text\n"[i % 13] + (i / 4096) % 3)
				     : (unsigned char)(x >> 24);
	}
	return m;
}

/* The output of "PROG ARGS < in" (NULL: the program failed or is missing). */
static bool run_filter(const char *cmd, const struct mem *in, struct mem *out)
{
	char *ip = tu_path(tmpdir, "filter.in"), *op = tu_path(tmpdir, "filter.out"), *sh;
	bool okay = false;
	size_t n;

	tu_write_bytes(ip, in->p, in->len);
	if (asprintf(&sh, "%s < '%s' > '%s' 2>/dev/null", cmd, ip, op) > 0) {
		okay = system(sh) == 0;
		free(sh);
	}
	memset(out, 0, sizeof(*out));
	if (okay) {
		out->p = (unsigned char *)tu_slurp(op, &n);
		out->len = n;
		okay = out->p != NULL;
	}
	unlink(ip);
	unlink(op);
	free(ip);
	free(op);
	return okay;
}

static bool have(const char *prog)
{
	char *sh;
	int r;

	if (asprintf(&sh, "command -v %s >/dev/null 2>&1", prog) < 0)
		return false;
	r = system(sh);
	free(sh);
	return r == 0;
}

/* ---- the codecs ----------------------------------------------------------------------- */

struct src {
	const struct mem *m;
	size_t off, chunk;
	int fail_at; /* the call that fails with -EIO, -1: none */
	int calls;
};

static int src_read(void *arg, const void **buf, size_t *len)
{
	struct src *s = arg;
	size_t k = s->m->len - s->off;

	if (s->fail_at >= 0 && s->calls++ >= s->fail_at)
		return -EIO;
	if (k > s->chunk)
		k = s->chunk;
	*buf = s->m->p + s->off;
	*len = k;
	s->off += k;
	return 0;
}

struct result {
	int r;
	struct mem out;
	char name[16];
	char msg[256];
	bool src_failed;
	size_t src_left; /* source bytes never read */
};

/* Everything z hands out, through an output buffer of outcap bytes. */
static struct result inflate_all(const struct mem *in, size_t chunk, size_t outcap, unsigned flags)
{
	struct src s = {in, 0, chunk, -1, 0};
	struct result res = {0};
	unsigned char *buf = malloc(outcap);
	struct inflate *z = NULL;
	size_t got;

	res.r = inflate_new(src_read, &s, flags, &z);
	while (res.r == 0) {
		res.r = inflate_read(z, buf, outcap, &got);
		if (res.r < 0 || got == 0)
			break;
		mem_add(&res.out, buf, got);
	}
	if (z) {
		snprintf(res.name, sizeof(res.name), "%s", inflate_name(z));
		snprintf(res.msg, sizeof(res.msg), "%s", inflate_errmsg(z));
		res.src_failed = inflate_source_failed(z);
	}
	res.src_left = in->len - s.off;
	inflate_free(z);
	free(buf);
	return res;
}

static bool same(const struct mem *a, const struct mem *b)
{
	return a->len == b->len && (a->len == 0 || memcmp(a->p, b->p, a->len) == 0);
}

/* Round trips of data through cmd, in several chunk and output sizes. */
static void round_trip(const char *label, const char *cmd, const char *name, const struct mem *data,
	unsigned flags)
{
	static const size_t chunks[] = {1, 7, 4096, 1u << 20};
	struct mem c;
	size_t i;

	if (!run_filter(cmd, data, &c)) {
		skip("%s: '%s' not available", label, cmd);
		return;
	}
	for (i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++) {
		struct result res;

		if (chunks[i] == 1 && c.len > (64u << 10))
			continue; /* byte by byte only for the small ones */
		res = inflate_all(&c, chunks[i], i % 2 ? 1000 : (256u << 10), flags);
		ok(res.r == 0 && same(&res.out, data),
			"%s: %zu-byte chunks: %zu bytes back (r=%d %s)", label, chunks[i],
			res.out.len, res.r, res.msg);
		is_str(res.name, name, "%s: detected as %s", label, name);
		mem_free(&res.out);
	}
	mem_free(&c);
}

static void test_round_trips(void)
{
	static unsigned char nothing[1];
	struct mem small = sample(20000, 1), big = sample(3u << 20, 2), empty = {nothing, 0, 0};
	struct result res;

	round_trip("gzip small", "gzip -c", "gzip", &small, 0);
	round_trip("gzip 3 MiB", "gzip -9 -c", "gzip", &big, 0);
	round_trip("gzip of nothing", "gzip -c", "gzip", &empty, 0);
	round_trip("zstd small", "zstd -q -c", "zstd", &small, 0);
	round_trip("zstd 3 MiB", "zstd -q -c", "zstd", &big, 0);
	round_trip("xz small", "xz -c", "xz", &small, 0);
	round_trip("bzip2 small", "bzip2 -c", "bzip2", &small, 0);
	round_trip("gzip via libarchive", "gzip -c", "gzip", &big, INFLATE_LIBARCHIVE);
	round_trip("zstd via libarchive", "zstd -q -c", "zstd", &small, INFLATE_LIBARCHIVE);

	res = inflate_all(&small, 3, 100, 0);
	ok(res.r == 0 && same(&res.out, &small), "plain bytes come back as they are");
	is_str(res.name, "none", "plain bytes: none");
	mem_free(&res.out);
	res = inflate_all(&empty, 3, 100, 0);
	ok(res.r == 0 && res.out.len == 0, "an empty source: no bytes, no error");
	is_str(res.name, "none", "an empty source: none");
	mem_free(&small);
	mem_free(&big);
}

static void test_gzip_members(void)
{
	struct mem a = sample(70000, 3), b = sample(5000, 4), ca, cb, cat = {0}, both = {0};
	struct result res;
	static const unsigned char zeros[1024];

	if (!have("gzip") || !run_filter("gzip -c", &a, &ca) ||
		!run_filter("gzip -n -c", &b, &cb)) {
		skip("gzip not available");
		return;
	}
	mem_add(&cat, ca.p, ca.len);
	mem_add(&cat, cb.p, cb.len);
	mem_add(&cat, ca.p, ca.len);
	mem_add(&both, a.p, a.len);
	mem_add(&both, b.p, b.len);
	mem_add(&both, a.p, a.len);
	res = inflate_all(&cat, 1000, 4096, 0);
	ok(res.r == 0 && same(&res.out, &both), "three concatenated members: all of them (r=%d %s)",
		res.r, res.msg);
	mem_free(&res.out);
	res = inflate_all(&cat, 1, 4096, 0);
	ok(res.r == 0 && same(&res.out, &both), "three members, byte by byte");
	mem_free(&res.out);

	/* trailing zeros (a tape's padding): ignored, as libarchive and gzip -d do */
	mem_add(&cat, zeros, sizeof(zeros));
	res = inflate_all(&cat, 4096, 4096, 0);
	ok(res.r == 0 && same(&res.out, &both), "trailing zeros after the last member: ignored");
	ok(res.src_left == 0 || res.src_left < sizeof(zeros),
		"trailing zeros: left unread or read");
	mem_free(&res.out);
	mem_free(&cat);
	mem_free(&ca);
	mem_free(&cb);
	mem_free(&a);
	mem_free(&b);
	mem_free(&both);
}

/* A gzip member with FEXTRA, FNAME and FCOMMENT around gzip -n's deflate data. */
static void test_gzip_fields(void)
{
	static const unsigned char extra[] = {'A', 'F', 4, 0, 1, 2, 3, 4};
	struct mem d = sample(30000, 5), c, x = {0};
	unsigned char h[10];
	struct result res;

	if (!run_filter("gzip -n -c", &d, &c)) {
		skip("gzip not available");
		return;
	}
	memcpy(h, c.p, 10);
	h[3] = 0x04 | 0x08 | 0x10; /* FEXTRA | FNAME | FCOMMENT */
	mem_add(&x, h, 10);
	mem_add(&x, "\x08\x00", 2); /* XLEN */
	mem_add(&x, extra, sizeof(extra));
	mem_add(&x, "artifact.tar", 13);
	mem_add(&x, "a comment", 10);
	mem_add(&x, c.p + 10, c.len - 10);
	res = inflate_all(&x, 5, 4096, 0);
	ok(res.r == 0 && same(&res.out, &d), "extra, name and comment fields: skipped (r=%d %s)",
		res.r, res.msg);
	mem_free(&res.out);
	mem_free(&x);
	mem_free(&c);
	mem_free(&d);
}

static void expect_bad(const char *label, const struct mem *in, size_t chunk, const char *needle)
{
	struct result res = inflate_all(in, chunk, 8192, 0);

	is_int(res.r, -EILSEQ, "%s: -EILSEQ", label);
	ok(!needle || strstr(res.msg, needle), "%s: the message says so ('%s')", label, res.msg);
	ok(!res.src_failed, "%s: not the source's error", label);
	mem_free(&res.out);
}

/*
 * What fuzz-inflate found: deflate data with a bad distance, in 78-byte
 * chunks, made ISA-L return avail_in 0xffffffff with its error, and the
 * input pointer was moved by it before the error was looked at (clang UBSan:
 * pointer overflow).  The input is the harness's committed corpus entry.
 */
static void test_fuzz_finding(void)
{
	const char *src = getenv("TESTS_SRCDIR");
	struct result res;
	struct mem m = {0};
	char *path;
	size_t n;

	if (!src || asprintf(&path, "%s/fuzz/corpus/inflate/isal-error-avail-in.gz", src) < 0) {
		skip("fuzz finding: TESTS_SRCDIR not set (run through make check)");
		return;
	}
	m.p = (unsigned char *)tu_slurp(path, &n);
	m.len = n;
	free(path);
	if (!m.p) {
		skip("fuzz finding: the corpus file is missing");
		return;
	}
	res = inflate_all(&m, 78, 65536, 0);
	is_int(res.r, -EILSEQ, "fuzz finding (bad distance, 78-byte chunks): -EILSEQ (%s)",
		res.msg);
	mem_free(&res.out);
	mem_free(&m);
}

static void test_gzip_corrupt(void)
{
	struct mem d = sample(200000, 6), c, t;
	size_t cuts[] = {5, 10, 11, 100, 0, 0, 0}, i;

	if (!run_filter("gzip -c", &d, &c)) {
		skip("gzip not available");
		return;
	}
	cuts[4] = c.len / 2;
	cuts[5] = c.len - 8; /* the trailer missing */
	cuts[6] = c.len - 1;
	for (i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
		char label[64];

		t.p = c.p;
		t.len = cuts[i];
		snprintf(label, sizeof(label), "gzip cut at %zu of %zu", cuts[i], c.len);
		expect_bad(label, &t, 4096, cuts[i] > 10 ? "truncated" : NULL);
	}
	c.p[c.len - 6] ^= 0x55; /* the CRC-32 */
	expect_bad("bad CRC", &c, 4096, "CRC");
	c.p[c.len - 6] ^= 0x55;
	c.p[c.len - 2] ^= 0x01; /* ISIZE */
	expect_bad("bad ISIZE", &c, 4096, NULL);
	c.p[c.len - 2] ^= 0x01;
	c.p[c.len / 3] ^= 0xff; /* the deflate data */
	expect_bad("corrupted deflate data", &c, 4096, NULL);
	{
		/*
		 * In every chunk size: after an error ISA-L's avail_in is not
		 * to be trusted (fuzz-inflate found 0xffffffff: UBSan then
		 * stopped on the pointer arithmetic).
		 */
		size_t k, bad = 0;

		for (k = 1; k < 200; k++) {
			struct result res = inflate_all(&c, k, 65536, 0);

			bad += res.r != -EILSEQ;
			mem_free(&res.out);
		}
		is_int(bad, 0, "corrupted deflate data in chunks of 1 to 199 bytes: -EILSEQ each");
	}
	test_fuzz_finding();
	mem_free(&c);
	mem_free(&d);
}

static void test_zstd(void)
{
	struct mem a = sample(100000, 7), b = sample(3000, 8), ca, cb, cat = {0}, both = {0}, t;
	static const unsigned char skippable[] = {
		0x50, 0x2a, 0x4d, 0x18, 3, 0, 0, 0, 'x', 'y', 'z'};
	struct result res;

	if (!run_filter("zstd -q -c", &a, &ca) || !run_filter("zstd -q -c", &b, &cb)) {
		skip("zstd not available");
		return;
	}
	mem_add(&cat, ca.p, ca.len);
	mem_add(&cat, skippable, sizeof(skippable));
	mem_add(&cat, cb.p, cb.len);
	mem_add(&both, a.p, a.len);
	mem_add(&both, b.p, b.len);
	res = inflate_all(&cat, 333, 1000, 0);
	ok(res.r == 0 && same(&res.out, &both), "zstd: two frames and a skippable one (r=%d %s)",
		res.r, res.msg);
	mem_free(&res.out);
	t.p = ca.p;
	t.len = ca.len / 2;
	expect_bad("zstd cut in the middle", &t, 1000, "truncated");
	t.len = ca.len - 1;
	expect_bad("zstd cut before the checksum's end", &t, 1000, NULL);
	ca.p[ca.len / 2] ^= 0xff;
	expect_bad("zstd corrupted", &ca, 1000, "zstd");
	mem_free(&cat);
	mem_free(&both);
	mem_free(&ca);
	mem_free(&cb);
	mem_free(&a);
	mem_free(&b);
}

static void test_source_error(void)
{
	struct mem d = sample(300000, 9), c;
	unsigned char buf[4096];
	struct src s;
	struct inflate *z;
	size_t got;
	int r = 0;

	if (!run_filter("gzip -c", &d, &c)) {
		skip("gzip not available");
		return;
	}
	s = (struct src){&c, 0, 1000, 5, 0};
	inflate_new(src_read, &s, 0, &z);
	do
		r = inflate_read(z, buf, sizeof(buf), &got);
	while (r == 0 && got > 0);
	is_int(r, -EIO, "the source's error comes back");
	ok(inflate_source_failed(z), "and is marked as the source's");
	is_int(inflate_read(z, buf, sizeof(buf), &got), -EIO, "and sticks");
	inflate_free(z);
	mem_free(&c);
	mem_free(&d);
}

/* ---- the pipeline ------------------------------------------------------------------------ */

static void *idle(void *arg)
{
	return arg;
}

/*
 * The threads of this process; the first call starts and joins a thread
 * first, so that a sanitizer's own helper thread (TSan starts one with the
 * first thread) is in every count.
 */
static int count_threads(void)
{
	static bool warm;
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	int n = 0;

	if (!warm) {
		pthread_t t;

		warm = pthread_create(&t, NULL, idle, NULL) == 0 && pthread_join(t, NULL) == 0;
	}
	if (!d)
		return -1;
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

/* All of the pipeline's output for the file at path; *ret_err its error. */
static struct mem pipe_all(const char *path, unsigned flags, uint64_t limit, int *ret_err,
	char *msg, size_t msgsize, bool *from_stream, char codec[16])
{
	struct fetch_stream *s = NULL;
	struct pipeline *p = NULL;
	struct mem out = {0};
	const void *b;
	size_t n;
	uint64_t in;
	int fd = open(path, O_RDONLY | O_CLOEXEC), r;

	r = fetch_stream_open_fd(fd, path, NULL, &s);
	if (r == 0 && limit)
		fetch_stream_set_limit(s, limit);
	if (r == 0)
		r = pipeline_start(s, flags, &p);
	while (r == 0) {
		r = pipeline_read(p, &b, &n, &in);
		if (r < 0 || n == 0)
			break;
		mem_add(&out, b, n);
	}
	*ret_err = r;
	if (p) {
		pipeline_stop(p); /* no stage can still fail while the message is read */
		snprintf(msg, msgsize, "%s", pipeline_errmsg(p, from_stream));
		snprintf(codec, 16, "%s", pipeline_codec(p));
	}
	pipeline_free(p);
	fetch_stream_free(s);
	close(fd);
	return out;
}

static void test_pipeline(void)
{
	struct mem d = sample(6u << 20, 10), c, out;
	char *path = tu_path(tmpdir, "p.gz"), msg[512], codec[16];
	unsigned modes[] = {0, PIPELINE_INLINE, PIPELINE_DRAIN, PIPELINE_LIBARCHIVE}, i;
	int threads = count_threads(), r;
	bool fs;

	if (!run_filter("gzip -c", &d, &c)) {
		skip("gzip not available");
		free(path);
		return;
	}
	tu_write_bytes(path, c.p, c.len);
	for (i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		out = pipe_all(path, modes[i], 0, &r, msg, sizeof(msg), &fs, codec);
		ok(r == 0 && same(&out, &d), "pipeline flags %#x: the data back (r=%d %s)",
			modes[i], r, msg);
		is_str(codec, "gzip", "pipeline flags %#x: gzip", modes[i]);
		is_int(count_threads(), threads, "pipeline flags %#x: no thread left behind",
			modes[i]);
		mem_free(&out);
	}

	/* stage 1 fails: the stream is longer than its announced size */
	for (i = 0; i < 2; i++) {
		out = pipe_all(
			path, i ? PIPELINE_INLINE : 0, c.len / 2, &r, msg, sizeof(msg), &fs, codec);
		is_int(r, -EBADMSG, "receive stage fails (%s): its error",
			i ? "inline" : "threads");
		ok(fs && strstr(msg, "expected size"),
			"receive stage fails: the stream's message ('%s')", msg);
		ok(out.len < d.len, "receive stage fails: the output stops");
		is_int(count_threads(), threads, "receive stage fails: no thread left behind");
		mem_free(&out);
	}

	/* stage 2 fails: corrupted deflate data */
	c.p[c.len / 2] ^= 0xff;
	tu_write_bytes(path, c.p, c.len);
	for (i = 0; i < 2; i++) {
		out = pipe_all(path, i ? PIPELINE_INLINE : 0, 0, &r, msg, sizeof(msg), &fs, codec);
		is_int(r, -EILSEQ, "inflate stage fails (%s): -EILSEQ", i ? "inline" : "threads");
		ok(!fs && strncmp(msg, "malformed tarball: ", 19) == 0,
			"inflate stage fails: its message ('%s')", msg);
		is_int(count_threads(), threads, "inflate stage fails: no thread left behind");
		mem_free(&out);
	}
	c.p[c.len / 2] ^= 0xff;
	tu_write_bytes(path, c.p, c.len);

	/* stage 3 (the consumer) stops after one chunk while the others wait on full rings */
	{
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		struct fetch_stream *s = NULL;
		struct pipeline *p = NULL;
		const void *b;
		size_t n = 0;
		uint64_t in = 0;

		r = fetch_stream_open_fd(fd, path, NULL, &s);
		if (r == 0)
			r = pipeline_start(s, 0, &p);
		if (r == 0)
			r = pipeline_read(p, &b, &n, &in);
		ok(r == 0 && n > 0 && in > 0, "consumer: a first chunk (%zu bytes, %llu in)", n,
			(unsigned long long)in);
		ok(count_threads() == threads + 2, "consumer: two stage threads run");
		pipeline_stop(p);
		is_int(count_threads(), threads, "consumer stops: every stage joined");
		ok(fetch_stream_bytes(s) < (uint64_t)c.len,
			"consumer stops: the stream left unread");
		is_int(pipeline_read(p, &b, &n, &in), -ECANCELED,
			"consumer stops: reads cancelled");
		pipeline_free(p);
		fetch_stream_free(s);
		close(fd);
	}

	/* stage 3 fails in fetch_unpack(): 6 MiB of gzip that is not a tar */
	for (i = 0; i < 2; i++) {
		struct fetch_unpack_limits lim = {.max_unpacked = UINT64_MAX, .stop_at_end = i};
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		struct fetch_stream *s = NULL;
		struct fetch_digests dg;
		char *m = NULL;

		r = fetch_stream_open_fd(fd, path, NULL, &s);
		if (r == 0)
			r = fetch_unpack_ex(s, -1, &lim, &dg, &m);
		is_int(r, -EILSEQ, "tar stage fails (stop_at_end %u): -EILSEQ", i);
		ok(m && strstr(m, "not appear to be a tarball"),
			"tar stage fails: its message ('%s')", m ? m : "");
		is_int(count_threads(), threads, "tar stage fails: every stage joined");
		ok(fetch_stream_bytes(s) < (uint64_t)c.len,
			"tar stage fails: the download stopped early");
		free(m);
		fetch_stream_free(s);
		close(fd);
	}
	unlink(path);
	free(path);
	mem_free(&c);
	mem_free(&d);
}

int main(void)
{
	if (tu_mkdtemp(tmpdir, sizeof(tmpdir), "test-inflate") < 0)
		return 1;
	test_round_trips();
	test_gzip_members();
	test_gzip_fields();
	test_gzip_corrupt();
	test_zstd();
	test_source_error();
	test_pipeline();
	tu_rmtree(tmpdir);
	return tap_done();
}
