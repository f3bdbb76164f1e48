/*
 * fuzz-seekidx.c - the seek index parser and reader (fetch/seekidx.h) on
 * hostile bytes.  The first byte, modulo 5, chooses:
 *  0: seekidx_parse() of the rest without a pin, then every file read
 *     through the reader from the bytes after the index (file_len on: the
 *     "tarball"), its window from the index's own bytes;
 *  1: the same, pinned to the tree the header names;
 *  2: the reader alone on a hand-made restart point: the next bytes give
 *     bits, skip, size and the window's length, then the window, then the
 *     compressed span;
 *  3, 4: as 0 and 1 with the fixed header's CRC-32 made right first.
 * Invariants: parse fails with -EILSEQ, -EBADMSG or -ENOMEM and a message,
 * or succeeds with a root; feed returns 0, 1, -EILSEQ or -ENOMEM; finish
 * returns 0, -EBADMSG or -EPIPE.  Seeds: tests/fuzz/corpus/seekidx (made
 * by tests/seekidx.py: a mode byte, an index, its tarball).
 */
#include "tests/fuzz/fuzz.h"

#include "fetch/seekidx.h"

#include <errno.h>
#include <string.h>
#include <zlib.h>

#define FILES_MAX 8

static int discard(void *arg, const void *p, size_t n)
{
	size_t *total = arg;

	*total += n;
	return 0;
}

/* Feed [start, end) of tar (len bytes) in pieces of chunk; check the verdicts. */
static void run(const struct seekidx_span *sp, const struct seekidx_file *f, const uint8_t *win,
	size_t wlen, const uint8_t *tar, size_t len, size_t chunk)
{
	struct seekidx_reader *r = NULL;
	uint64_t off, end = sp->in_end < len ? sp->in_end : len;
	size_t total = 0;
	int e;

	e = seekidx_reader_new(sp, f, win, wlen, discard, &total, &r);
	FUZZ_CHECK(e == 0 || e == -ENOMEM || e == -EINVAL);
	if (e < 0)
		return;
	for (off = sp->in_start, e = 0; e == 0 && off < end; off += chunk) {
		size_t n = end - off < chunk ? (size_t)(end - off) : chunk;

		e = seekidx_reader_feed(r, tar + off, n);
		FUZZ_CHECK(e == 0 || e == 1 || e == -EILSEQ || e == -ENOMEM);
	}
	e = seekidx_reader_finish(r);
	FUZZ_CHECK(e == 0 || e == -EBADMSG || e == -EPIPE);
	FUZZ_CHECK(total <= f->size);
	FUZZ_CHECK(e != 0 || total == f->size);
	seekidx_reader_free(r);
}

static void index_mode(const uint8_t *data, size_t size, bool pin)
{
	uint8_t tree[HASH_SHA1_LEN], win[SEEKIDX_WINDOW];
	const struct seekidx_tree *root;
	struct seekidx *x = NULL;
	char *msg = NULL;
	uint64_t flen;
	size_t i, n, wlen;
	int e;

	if (size >= 52)
		memcpy(tree, data + 32, HASH_SHA1_LEN);
	e = seekidx_parse(data, size, pin && size >= 52 ? tree : NULL, &x, &msg);
	if (e < 0) {
		FUZZ_CHECK(e == -EILSEQ || e == -EBADMSG || e == -ENOMEM);
		FUZZ_CHECK(e == -ENOMEM || (msg && *msg));
		FUZZ_CHECK(x == NULL);
		free(msg);
		return;
	}
	root = seekidx_root(x);
	FUZZ_CHECK(root != NULL);
	for (i = 0; i < root->n; i++)
		FUZZ_CHECK(seekidx_lookup(root, root->e[i].name, strlen(root->e[i].name)) != NULL);
	flen = seekidx_file_size(x);
	/* the files reachable from the root (the accessors give no other way) */
	for (i = 0, n = 0; i < root->n && n < FILES_MAX; i++) {
		const struct seekidx_file *f = root->e[i].file;
		const struct seekidx_point *p;
		struct seekidx_span sp;

		if (f == NULL)
			continue;
		n++;
		FUZZ_CHECK(seekidx_find_file(x, f->oid) == f);
		FUZZ_CHECK(seekidx_span_of(x, f, &sp) == 0);
		FUZZ_CHECK(sp.in_start <= sp.in_end);
		p = sp.point;
		wlen = 0;
		if (p) {
			FUZZ_CHECK(p->out <= f->offset);
			if (p->window_off + p->window_len > size)
				continue;
			if (seekidx_window(data + p->window_off, p->window_len, win, &wlen) < 0)
				continue;
		}
		if (flen <= size)
			run(&sp, f, win, wlen, data + flen, size - flen, 1 + (size & 0xfff));
	}
	seekidx_free(x);
}

static void reader_mode(const uint8_t *data, size_t size)
{
	static uint8_t win[SEEKIDX_WINDOW];
	struct seekidx_point pt = {0};
	struct seekidx_span sp = {0};
	struct seekidx_file f = {{0}, 0, 0};
	size_t wlen;

	if (size < 8)
		return;
	pt.bits = data[0] & 7;
	pt.in = pt.bits ? 1 : 0;
	sp.point = data[0] & 8 ? NULL : &pt;
	sp.skip = data[1] | (uint64_t)data[2] << 8;
	f.size = data[3] | (uint64_t)data[4] << 8 | (uint64_t)data[5] << 16;
	memcpy(f.oid, data, 6);
	wlen = (size_t)(data[6] | data[7] << 8) % (SEEKIDX_WINDOW + 1);
	data += 8;
	size -= 8;
	if (wlen > size)
		wlen = size;
	if (wlen)
		memcpy(win, data, wlen);
	pt.out = wlen + sp.skip;
	f.offset = pt.out;
	data += wlen;
	size -= wlen;
	sp.in_start = 0;
	sp.in_end = size;
	run(&sp, &f, win, wlen, data, size, 1 + (size & 0x3ff));
}

/*
 * The index modes with the fixed header's CRC made right, so that
 * mutations of the header's fields reach the checks behind the CRC.
 */
static void index_mode_crc(const uint8_t *data, size_t size, bool pin)
{
	uint8_t *copy;
	uint32_t crc;

	if (size < SEEKIDX_FIXED || (copy = malloc(size)) == NULL)
		return;
	memcpy(copy, data, size);
	crc = (uint32_t)crc32(0, copy, 124);
	copy[124] = (uint8_t)crc;
	copy[125] = (uint8_t)(crc >> 8);
	copy[126] = (uint8_t)(crc >> 16);
	copy[127] = (uint8_t)(crc >> 24);
	index_mode(copy, size, pin);
	free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	switch (data[0] % 5) {
	case 0:
		index_mode(data + 1, size - 1, false);
		break;
	case 1:
		index_mode(data + 1, size - 1, true);
		break;
	case 3:
		index_mode_crc(data + 1, size - 1, false);
		break;
	case 4:
		index_mode_crc(data + 1, size - 1, true);
		break;
	default:
		reader_mode(data + 1, size - 1);
		break;
	}
	return 0;
}
