/*
 * fuzz-inflate.c - the decompressors of fetch/inflate.c on hostile bytes,
 * checked against libarchive:
 *  - the input is the compressed stream, fed in chunks of a size its
 *    length chooses (headers and frames split anywhere);
 *  - decoding with ISA-L or libzstd and with libarchive's zlib or zstd
 *    filter (INFLATE_LIBARCHIVE) either both fail, or one fails, or both
 *    give the same bytes: never two different answers;
 *  - every error is -EILSEQ or -ENOMEM with a message.
 * Output is capped at 64 MiB per decoder (a bomb costs time, not memory).
 */
#include "tests/fuzz/fuzz.h"

#include "fetch/inflate.h"

#include <errno.h>
#include <string.h>

#define OUT_MAX (64u << 20)

struct src {
	const uint8_t *p;
	size_t len, off, chunk;
};

static int src_read(void *arg, const void **buf, size_t *len)
{
	struct src *s = arg;
	size_t k = s->len - s->off < s->chunk ? s->len - s->off : s->chunk;

	*buf = s->p + s->off;
	*len = k;
	s->off += k;
	return 0;
}

/* Decode all of p; the output's length and a 64-bit FNV-1a of it. */
static int decode(
	const uint8_t *p, size_t len, size_t chunk, unsigned flags, size_t *out_len, uint64_t *sum)
{
	static uint8_t buf[64u << 10];
	struct src s = {p, len, 0, chunk};
	struct inflate *z = NULL;
	uint64_t h = 14695981039346656037ull;
	size_t got, i, n = 0;
	int r = inflate_new(src_read, &s, flags, &z);

	while (r == 0 && n < OUT_MAX) {
		r = inflate_read(z, buf, sizeof(buf), &got);
		if (r < 0 || got == 0)
			break;
		for (i = 0; i < got; i++)
			h = (h ^ buf[i]) * 1099511628211ull;
		n += got;
	}
	if (r < 0) {
		FUZZ_CHECK(r == -EILSEQ || r == -ENOMEM);
		FUZZ_CHECK(*inflate_errmsg(z) != '\0');
		FUZZ_CHECK(!inflate_source_failed(z));
	}
	inflate_free(z);
	*out_len = n;
	*sum = h;
	return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t chunk, la, lb;
	uint64_t ha, hb;
	int ra, rb;

	chunk = (size * 2654435761u) % 4093 + 1;
	ra = decode(data, size, chunk, 0, &la, &ha);
	rb = decode(data, size, 4096, INFLATE_LIBARCHIVE, &lb, &hb);
	if (ra == 0 && rb == 0 && la < OUT_MAX && lb < OUT_MAX)
		FUZZ_CHECK(la == lb && ha == hb);
	return 0;
}
