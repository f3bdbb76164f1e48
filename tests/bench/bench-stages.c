/*
 * bench-stages.c - the throughput of each stage of an install on this
 * machine, on one core: SHA-256 of the compressed bytes, inflate (ISA-L or
 * libzstd, and libarchive's zlib or zstd for comparison), and the SHA-1
 * of the decompressed bytes (about what the git blob hashes cost).  Each
 * figure is the best of three passes over the file held in memory.
 *
 * usage: bench-stages FILE.tar.gz|FILE.tar.zst
 */
#include "config.h"

#include "fetch/inflate.h"
#include "store/hash.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct mem {
	const unsigned char *p;
	size_t len, off;
};

static int mem_read(void *arg, const void **buf, size_t *len)
{
	struct mem *m = arg;
	size_t k = m->len - m->off < (256u << 10) ? m->len - m->off : (256u << 10);

	*buf = m->p + m->off;
	*len = k;
	m->off += k;
	return 0;
}

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* Seconds to inflate all of in (best of 3); *out_len the decompressed size. */
static double time_inflate(
	const unsigned char *in, size_t len, unsigned flags, size_t *out_len, const char **name)
{
	static unsigned char out[512u << 10];
	double best = 1e9;
	int pass;

	for (pass = 0; pass < 3; pass++) {
		struct mem m = {in, len, 0};
		struct inflate *z;
		size_t got, total = 0;
		double t0 = now();
		int r;

		if (inflate_new(mem_read, &m, flags, &z) < 0)
			exit(1);
		while ((r = inflate_read(z, out, sizeof(out), &got)) == 0 && got > 0)
			total += got;
		if (r < 0) {
			fprintf(stderr, "bench-stages: %s\n", inflate_errmsg(z));
			exit(1);
		}
		*name = inflate_name(z);
		inflate_free(z);
		*out_len = total;
		if (now() - t0 < best)
			best = now() - t0;
	}
	return best;
}

static double time_hash(enum hash_algo algo, const unsigned char *p, size_t len)
{
	unsigned char d[64];
	double best = 1e9;
	int pass;

	for (pass = 0; pass < 3; pass++) {
		struct hash_ctx *h;
		double t0 = now();
		size_t off;

		if (hash_ctx_new(algo, &h) < 0)
			exit(1);
		for (off = 0; off < len; off += 1u << 20)
			hash_ctx_update(
				h, p + off, len - off < (1u << 20) ? len - off : (1u << 20));
		hash_ctx_final(h, d);
		hash_ctx_free(h);
		if (now() - t0 < best)
			best = now() - t0;
	}
	return best;
}

int main(int argc, char **argv)
{
	unsigned char *in;
	size_t len, out_len;
	const char *name;
	double t;
	FILE *f;
	long sz;

	if (argc != 2) {
		fprintf(stderr, "usage: bench-stages FILE\n");
		return 64;
	}
	f = fopen(argv[1], "rb");
	if (!f || fseek(f, 0, SEEK_END) < 0 || (sz = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) < 0)
		return 1;
	len = (size_t)sz;
	in = malloc(len ? len : 1);
	if (!in || fread(in, 1, len, f) != len)
		return 1;
	fclose(f);
	t = time_inflate(in, len, 0, &out_len, &name);
	printf("inflate %-5s (this build)  %7.0f MB/s of output (%zu -> %zu bytes, %.3f s)\n", name,
		(double)out_len / t / 1e6, len, out_len, t);
	t = time_inflate(in, len, INFLATE_LIBARCHIVE, &out_len, &name);
	printf("inflate %-5s (libarchive)  %7.0f MB/s of output (%.3f s)\n", name,
		(double)out_len / t / 1e6, t);
	t = time_hash(HASH_SHA256, in, len);
	printf("sha256 (compressed bytes)   %7.0f MB/s (%.3f s)\n", (double)len / t / 1e6, t);
	t = time_hash(HASH_SHA1, in, len);
	printf("sha1 (blob hashes)          %7.0f MB/s (%.3f s)\n", (double)len / t / 1e6, t);
	free(in);
	return 0;
}
