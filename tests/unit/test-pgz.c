/*
 * test-pgz.c - parallel gzip with thread-count-independent bytes
 * (tools/publish/pgz.h)
 *
 * Each input is compressed with 1, 2, 3 and 8 threads and in several write
 * sizes; the outputs must be identical, equal to a reference built here
 * block by block with zlib directly (the format pgz.h states: 128 KiB
 * blocks, the 32 KiB before each as dictionary, sync flushes, one gzip
 * member), and inflate (zlib's gzip decoding) back to the input.  The
 * integration test t0600-pack.sh has gzip(1), bsdtar and p7zip read pack's
 * output.
 */
#include "tools/publish/pgz.h"
#include "tests/tap.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <zlib.h>

struct buf {
	uint8_t *p;
	size_t len, cap;
	size_t calls, fail_after; /* fail_after: calls before -ENOSPC (0: never) */
};

static int buf_sink(void *arg, const void *p, size_t len)
{
	struct buf *b = arg;

	if (b->fail_after && ++b->calls > b->fail_after)
		return -ENOSPC;
	if (b->len + len > b->cap) {
		b->cap = (b->len + len) * 2 + 64;
		b->p = realloc(b->p, b->cap);
		if (!b->p)
			abort();
	}
	memcpy(b->p + b->len, p, len);
	b->len += len;
	return 0;
}

/* pgz on jobs threads, the input written in pieces of chunk bytes. */
static int run_pgz(const uint8_t *in, size_t len, int level, unsigned jobs, size_t chunk,
	struct buf *out)
{
	struct pgz *z;
	size_t off = 0;
	int r;

	memset(out, 0, sizeof(*out));
	r = pgz_new(level, jobs, buf_sink, out, &z);
	if (r < 0)
		return r;
	while (off < len && r == 0) {
		size_t n = len - off < chunk ? len - off : chunk;

		r = pgz_write(z, in + off, n);
		off += n;
	}
	if (r == 0)
		r = pgz_finish(z);
	pgz_free(z);
	return r;
}

/* The format of pgz.h, one block after the other with zlib, no threads. */
static void reference(const uint8_t *in, size_t len, int level, struct buf *out)
{
	static const uint8_t hdr[10] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3};
	uint8_t tr[8], *o = malloc(2 * PGZ_BLOCK);
	uLong crc = crc32(0, NULL, 0);
	size_t off = 0;
	z_stream zs;
	int i;

	memset(out, 0, sizeof(*out));
	memset(&zs, 0, sizeof(zs));
	if (!o || deflateInit2(&zs, level, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		abort();
	buf_sink(out, hdr, sizeof(hdr));
	out->p[8] = level == 9 ? 2 : level == 1 ? 4 : 0;
	do {
		size_t n = len - off < PGZ_BLOCK ? len - off : PGZ_BLOCK;
		bool last = off + n == len;

		deflateReset(&zs);
		if (off)
			deflateSetDictionary(&zs, in + off - PGZ_DICT, PGZ_DICT);
		zs.next_in = (uint8_t *)in + off;
		zs.avail_in = (uInt)n;
		zs.next_out = o;
		zs.avail_out = 2 * PGZ_BLOCK;
		deflate(&zs, last ? Z_FINISH : Z_SYNC_FLUSH);
		buf_sink(out, o, 2 * PGZ_BLOCK - zs.avail_out);
		crc = crc32(crc, in + off, (uInt)n);
		off += n;
	} while (off < len);
	for (i = 0; i < 4; i++) {
		tr[i] = (uint8_t)(crc >> (8 * i));
		tr[4 + i] = (uint8_t)((uint64_t)len >> (8 * i));
	}
	buf_sink(out, tr, sizeof(tr));
	deflateEnd(&zs);
	free(o);
}

/* zlib's gzip decoding: one member that uses every byte and gives back in. */
static bool inflates_to(const struct buf *gz, const uint8_t *in, size_t len)
{
	uint8_t *o = malloc(len + 1);
	z_stream zs;
	bool good;
	int r;

	memset(&zs, 0, sizeof(zs));
	if (!o || inflateInit2(&zs, 16 + 15) != Z_OK)
		abort();
	zs.next_in = gz->p;
	zs.avail_in = (uInt)gz->len;
	zs.next_out = o;
	zs.avail_out = (uInt)len + 1;
	r = inflate(&zs, Z_FINISH);
	good = r == Z_STREAM_END && zs.avail_in == 0 && zs.total_out == len &&
	       memcmp(o, in, len) == 0;
	inflateEnd(&zs);
	free(o);
	return good;
}

static void check_input(const char *name, const uint8_t *in, size_t len, int level)
{
	static const unsigned jobs[] = {1, 2, 3, 8};
	static const size_t chunks[] = {1 << 20, 7, 65537};
	struct buf ref, got;
	bool same = true, all_ok = true;
	unsigned i, k;

	reference(in, len, level < 0 ? 6 : level, &ref);
	for (i = 0; i < sizeof(jobs) / sizeof(jobs[0]); i++) {
		for (k = 0; k < sizeof(chunks) / sizeof(chunks[0]); k++) {
			/* Byte-sized writes of a large input take long: once is enough. */
			if (chunks[k] == 7 && len > 4 * PGZ_BLOCK && jobs[i] != 2)
				continue;
			if (run_pgz(in, len, level, jobs[i], chunks[k], &got) < 0)
				all_ok = false;
			else if (got.len != ref.len || memcmp(got.p, ref.p, ref.len) != 0) {
				same = false;
				diag("%s: %u threads, writes of %zu: %zu bytes, reference %zu", name,
					jobs[i], chunks[k], got.len, ref.len);
			}
			free(got.p);
		}
	}
	ok(all_ok, "%s: every run succeeds", name);
	ok(same, "%s: 1, 2, 3 and 8 threads, any write size: the reference's bytes", name);
	ok(inflates_to(&ref, in, len), "%s: zlib inflates one gzip member back to the input",
		name);
	free(ref.p);
}

static void fill_random(uint8_t *p, size_t len, uint32_t seed)
{
	size_t i;

	for (i = 0; i < len; i++) {
		seed = seed * 1103515245u + 12345u;
		p[i] = (uint8_t)(seed >> 16);
	}
}

static void test_inputs(void)
{
	size_t big = 5 * PGZ_BLOCK + PGZ_BLOCK / 2, i;
	uint8_t *p = malloc(big), *rnd = malloc(1 << 20);

	if (!p || !rnd)
		abort();
	for (i = 0; i < big; i++)
		p[i] = (uint8_t)"artifact tree, line of text\n"[i % 28] ^ (uint8_t)(i / 4096 % 3);
	fill_random(rnd, 1 << 20, 42);
	check_input("empty", p, 0, -1);
	check_input("1 byte", p, 1, -1);
	check_input("block - 1", p, PGZ_BLOCK - 1, -1);
	check_input("exactly one block", p, PGZ_BLOCK, -1);
	check_input("block + 1", p, PGZ_BLOCK + 1, -1);
	check_input("5.5 blocks of text", p, big, -1);
	check_input("5.5 blocks, level 1", p, big, 1);
	check_input("5.5 blocks, level 9", p, big, 9);
	check_input("1 MiB incompressible", rnd, 1 << 20, -1);
	free(p);
	free(rnd);
}

/*
 * A block that repeats the 16 KiB before it compresses to almost nothing
 * (zlib reaches 32 KiB - 262 bytes back at most: a 16 KiB period).
 */
static void test_dictionary(void)
{
	size_t len = 2 * PGZ_BLOCK;
	uint8_t *p = malloc(len);
	struct buf a, b;
	int r, r2;

	if (!p)
		abort();
	fill_random(p, PGZ_BLOCK, 7);
	for (size_t i = PGZ_BLOCK; i < len; i++)
		p[i] = p[PGZ_BLOCK - PGZ_DICT / 2 + (i - PGZ_BLOCK) % (PGZ_DICT / 2)];
	r = run_pgz(p, PGZ_BLOCK, -1, 2, len, &a);
	r2 = run_pgz(p, len, -1, 2, len, &b);
	ok(r == 0 && r2 == 0 && b.len < a.len + 2048,
		"the second block is primed with the first's last bytes (%zu -> %zu bytes)", a.len,
		b.len);
	free(a.p);
	free(b.p);
	free(p);
}

static void test_header_and_errors(void)
{
	struct buf b;
	struct pgz *z = NULL;
	uint8_t *p = malloc(20 * PGZ_BLOCK);
	unsigned j;
	int r;

	if (!p)
		abort();
	r = run_pgz((const uint8_t *)"x", 1, 9, 1, 1, &b);
	ok(r == 0 && b.len > 10 && b.p[0] == 0x1f && b.p[1] == 0x8b && b.p[2] == 8 &&
			b.p[3] == 0 && !b.p[4] && !b.p[5] && !b.p[6] && !b.p[7] && b.p[8] == 2 &&
			b.p[9] == 3,
		"header: deflate, no flags, mtime 0, XFL 2 at level 9, OS 3");
	free(b.p);
	is_int(pgz_new(10, 1, buf_sink, &b, &z), -EINVAL, "level 10: -EINVAL");
	is_int(pgz_new(0, 1, buf_sink, &b, &z), -EINVAL, "level 0: -EINVAL");
	is_int(pgz_new(6, 0, buf_sink, &b, &z), -EINVAL, "0 threads: -EINVAL");
	is_int(pgz_new(6, PGZ_JOBS_MAX + 1, buf_sink, &b, &z), -EINVAL, "too many threads");
	ok(z == NULL, "nothing returned on failure");
	pgz_free(NULL);

	/* The sink's error stops the stream, on every thread count. */
	fill_random(p, 20 * PGZ_BLOCK, 3);
	for (j = 1; j <= 8; j *= 2) {
		bool stopped;

		memset(&b, 0, sizeof(b));
		b.fail_after = 2;
		r = pgz_new(6, j, buf_sink, &b, &z);
		if (r == 0)
			r = pgz_write(z, p, 20 * PGZ_BLOCK);
		if (r == 0)
			r = pgz_finish(z);
		stopped = r == -ENOSPC && pgz_write(z, p, 1) == -ENOSPC &&
			  pgz_finish(z) == -ENOSPC;
		pgz_free(z);
		ok(stopped, "%u thread(s): a failing sink's -ENOSPC stops the stream", j);
		free(b.p);
	}
	/* Dropped unfinished, blocks in flight: the threads are joined (ASan: no leak). */
	memset(&b, 0, sizeof(b));
	r = pgz_new(6, 8, buf_sink, &b, &z);
	if (r == 0)
		r = pgz_write(z, p, 20 * PGZ_BLOCK);
	pgz_free(z);
	is_int(r, 0, "an unfinished stream can be freed");
	free(b.p);
	free(p);
}

int main(void)
{
	test_inputs();
	test_dictionary();
	test_header_and_errors();
	return tap_done();
}
