/*
 * test-seekidx-build.c - the builder of fetch/seekidx.h against the format
 * of doc/internals/seek-index.md: header fields and CRC, the records kept
 * (named by the trees, once each, sorted), and every restart point resumed
 * with zlib exactly as the doc says (raw inflate, the window as dictionary,
 * inflatePrime of the bits of byte in-1), across two gzip members, with the
 * compressed bytes fed in chunks of every size; non-gzip and truncated
 * input.
 */
#include "fetch/seekidx.h"
#include "store/hash.h"
#include "tests/tap.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define DATA_LEN (3u << 20)

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get64(const uint8_t *p)
{
	return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

/* gzip one member of n bytes at p at level, appended to out at *olen */
static void gz_member(const uint8_t *p, size_t n, int level, uint8_t *out, size_t *olen, size_t cap)
{
	z_stream z;

	memset(&z, 0, sizeof(z));
	deflateInit2(&z, level, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY);
	z.next_in = (Bytef *)p;
	z.avail_in = (uInt)n;
	z.next_out = out + *olen;
	z.avail_out = (uInt)(cap - *olen);
	deflate(&z, Z_FINISH);
	*olen = cap - z.avail_out;
	deflateEnd(&z);
}

/* resume - inflate from point pt of gz with window w; the first n bytes into out */
static int resume(const uint8_t *gz, size_t gzlen, const struct seekidx_point *pt, const uint8_t *w,
	size_t wlen, uint8_t *out, size_t n)
{
	z_stream z;
	int r;

	memset(&z, 0, sizeof(z));
	if (inflateInit2(&z, -15) != Z_OK)
		return -1;
	r = inflateSetDictionary(&z, w, (uInt)wlen);
	if (r == Z_OK && pt->bits)
		r = inflatePrime(&z, pt->bits, gz[pt->in - 1] >> (8 - pt->bits));
	z.next_in = (Bytef *)gz + pt->in;
	z.avail_in = (uInt)(gzlen - pt->in);
	z.next_out = out;
	z.avail_out = (uInt)n;
	if (r == Z_OK)
		r = inflate(&z, Z_SYNC_FLUSH);
	inflateEnd(&z);
	return (r == Z_OK || r == Z_STREAM_END) ? (int)(n - z.avail_out) : -1;
}

static void test_points(void)
{
	uint8_t *data = malloc(DATA_LEN), *gz = malloc(2 * DATA_LEN), *idx = NULL;
	uint8_t oid[HASH_SHA1_LEN], oid2[HASH_SHA1_LEN], sha[HASH_SHA256_LEN] = {1, 2, 3};
	uint8_t w[SEEKIDX_WINDOW], got[4096];
	struct seekidx_builder *b = NULL;
	struct tree_builder *tb = NULL;
	size_t gzlen = 0, m1, len = 0, off, n, i, step = 1, wl;
	unsigned good_win = 0, good_resume = 0, primed = 0, second = 0, npoints;
	uint32_t x = 12345;
	const uint8_t *p;
	int r;

	/*
	 * text-like bytes, compressible, so that blocks span many output
	 * bytes, with 40 KiB of noise in every 256 KiB: stored blocks, whose
	 * byte alignment a wrong bit count breaks
	 */
	for (i = 0; i < DATA_LEN; i++) {
		x = x * 1103515245u + 12345u;
		data[i] = (i & 0x3ffff) < 40960 ? (uint8_t)(x >> 23)
						: (uint8_t)("abcdefgh ijklmnop\n"[(x >> 16) % 18]);
	}
	gz_member(data, DATA_LEN / 2, 6, gz, &gzlen, 2 * DATA_LEN);
	m1 = gzlen;
	gz_member(data + DATA_LEN / 2, DATA_LEN - DATA_LEN / 2, 1, gz, &gzlen, 2 * DATA_LEN);

	ok(seekidx_builder_new(128 << 10, &b) == 0, "builder_new");
	/* chunks of 1, 2, 3, ... bytes at first, then large ones */
	for (off = 0, r = 0; off < gzlen && r == 0; off += n, step++) {
		n = step < 64 ? step : 65536;
		if (n > gzlen - off)
			n = gzlen - off;
		r = seekidx_builder_compressed(b, gz + off, n);
	}
	is_int(r, 0, "all compressed bytes taken");
	hash_git_blob(HASH_SHA1, data, 100, oid);
	hash_git_blob(HASH_SHA1, data + 200, 50, oid2);
	tree_builder_new(&tb);
	tree_builder_add_file(tb, "a", false, oid);
	tree_builder_add_file(tb, "d/b", true, oid);
	tree_builder_add_file(tb, "d/c", false, oid2);
	tree_builder_add_symlink(tb, "l", "a", 1);
	/* the same blob twice (the first kept), one no tree names, a link no tree names */
	seekidx_builder_file(b, oid, 1000, 100);
	seekidx_builder_file(b, oid, 0, 100);
	seekidx_builder_file(b, oid2, 200, 50);
	seekidx_builder_file(b, sha, 300, 7);
	seekidx_builder_link(b, "a", 1);
	seekidx_builder_link(b, "a", 1);
	seekidx_builder_link(b, "gone", 4);
	ok(seekidx_builder_trees(b, tb) == 0, "trees");
	r = seekidx_builder_finish(b, sha, &idx, &len);
	is_int(r, 0, "finish");
	if (r < 0)
		goto out;
	ok(memcmp(idx, SEEKIDX_MAGIC, 8) == 0 && get32(idx + 8) == 1 && get32(idx + 12) == 0,
		"magic, version, flags");
	is_int((long long)get32(idx + 124), (long long)(uint32_t)crc32(0, idx, 124), "header CRC");
	ok(get64(idx + 24) == len && get64(idx + 16) <= len, "file_len, head_len");
	ok(memcmp(idx + 52, sha, HASH_SHA256_LEN) == 0, "tarball sha256");
	ok(get64(idx + 84) == gzlen && get64(idx + 92) == DATA_LEN, "tarball and stream sizes");
	is_int(get32(idx + 100), 128 << 10, "span");
	is_int(get32(idx + 104), 2, "two tree objects");
	is_int(get32(idx + 108), 1, "one link: once, only the named one");
	is_int(get32(idx + 112), 2, "two files: once each, only the named ones");
	is_int(get32(idx + 120), 1, "codec gzip");
	npoints = get32(idx + 116);
	ok(npoints >= 12, "points about every 128 KiB (%u)", npoints);
	/* the sections: skip trees and links, then check files and points */
	p = idx + SEEKIDX_FIXED;
	for (i = 0; i < 2; i++)
		p += 24 + get32(p + 20);
	p += 4 + get32(p);
	ok(memcmp(p, oid, 20) == 0 ? get64(p + 20) == 0 : get64(p + 56) == 0,
		"a blob's first copy in the stream is kept");
	p += 2 * 36;
	for (i = 0; i < npoints; i++, p += 32) {
		struct seekidx_point pt = {
			.in = get64(p),
			.out = get64(p + 8),
			.bits = p[28],
			.window_off = get64(p + 16),
			.window_len = get32(p + 24),
		};

		{
			z_stream z;

			memset(&z, 0, sizeof(z));
			inflateInit2(&z, -15);
			z.next_in = idx + pt.window_off;
			z.avail_in = pt.window_off + pt.window_len <= len ? pt.window_len : 0;
			z.next_out = w;
			z.avail_out = sizeof(w);
			wl = inflate(&z, Z_FINISH) == Z_STREAM_END ? sizeof(w) - z.avail_out : 0;
			inflateEnd(&z);
		}
		good_win += wl == (pt.out < SEEKIDX_WINDOW ? pt.out : SEEKIDX_WINDOW) &&
			    memcmp(w, data + pt.out - wl, wl) == 0;
		n = pt.out + sizeof(got) <= DATA_LEN ? sizeof(got) : DATA_LEN - pt.out;
		r = resume(gz, gzlen, &pt, w, wl, got, n);
		good_resume += r > 0 && memcmp(got, data + pt.out, (size_t)r) == 0;
		primed += pt.bits != 0;
		second += pt.in > m1;
	}
	is_int(good_win, npoints, "every window is the 32 KiB before its point");
	is_int(good_resume, npoints, "every point resumes: raw inflate, dictionary, inflatePrime");
	ok(primed > 0, "points with bits to prime (%u)", primed);
	ok(second > 0, "points in the second gzip member (%u)", second);
out:
	free(idx);
	seekidx_builder_free(b);
	tree_builder_free(tb);
	free(data);
	free(gz);
}

static void test_errors(void)
{
	static const uint8_t zstd[] = {0x28, 0xb5, 0x2f, 0xfd, 0, 0, 0, 0};
	static const uint8_t xz[] = {0xfd, '7', 'z', 'X', 'Z', 0, 0, 0};
	static const char bz[] = "BZh91AY&SY", tar[] = "plain tar bytes";
	uint8_t data[4096] = {0}, gz[8192], sha[HASH_SHA256_LEN] = {0}, *idx = NULL;
	struct seekidx_builder *b;
	struct tree_builder *tb;
	size_t gzlen = 0, len;
	int r;

	seekidx_builder_new(0, &b);
	is_int(seekidx_builder_compressed(b, zstd, sizeof(zstd)), -ENOTSUP, "zstd: -ENOTSUP");
	ok(strstr(seekidx_builder_error(b), "zstd") != NULL, "zstd: named (%s)",
		seekidx_builder_error(b));
	seekidx_builder_free(b);
	seekidx_builder_new(0, &b);
	is_int(seekidx_builder_compressed(b, xz, sizeof(xz)), -ENOTSUP, "xz: -ENOTSUP");
	seekidx_builder_free(b);
	seekidx_builder_new(0, &b);
	is_int(seekidx_builder_compressed(b, bz, sizeof(bz)), -ENOTSUP, "bzip2: -ENOTSUP");
	seekidx_builder_free(b);
	seekidx_builder_new(0, &b);
	is_int(seekidx_builder_compressed(b, tar, sizeof(tar)), -ENOTSUP,
		"no compression: -ENOTSUP");
	seekidx_builder_free(b);
	is_int(seekidx_builder_new((uint64_t)1 << 32, &b), -EINVAL, "span over 32 bits: -EINVAL");

	gz_member(data, sizeof(data), 6, gz, &gzlen, sizeof(gz));
	tree_builder_new(&tb);
	seekidx_builder_new(0, &b);
	seekidx_builder_compressed(b, gz, gzlen - 3);
	seekidx_builder_trees(b, tb);
	is_int(seekidx_builder_finish(b, sha, &idx, &len), -EILSEQ, "truncated: -EILSEQ at finish");
	seekidx_builder_free(b);
	seekidx_builder_new(0, &b);
	r = seekidx_builder_compressed(b, gz, gzlen);
	if (r == 0)
		r = seekidx_builder_compressed(b, "\0\0\0\0\0\0\0\0", 8);
	is_int(r, -EILSEQ, "trailing bytes after the last member: -EILSEQ");
	seekidx_builder_free(b);
	seekidx_builder_new(0, &b);
	seekidx_builder_compressed(b, gz, gzlen);
	is_int(seekidx_builder_finish(b, sha, &idx, &len), -EINVAL, "no trees: -EINVAL");
	seekidx_builder_free(b);
	tree_builder_free(tb);
}

int main(void)
{
	test_points();
	test_errors();
	return tap_done();
}
