/*
 * seekidx_read.c - one file out of a gzip tarball through a parsed seek
 * index (fetch/seekidx.h): the span to fetch, the point's window, and the
 * streaming reader that inflates the span, skips to the file's data, hands
 * it out and hashes it.
 *
 * The reader is zlib's inflate in one of two modes.  From a restart point
 * it is raw (windowBits -15) with the window as dictionary and, when the
 * point is inside a byte, primed with that byte's high bits: the span then
 * starts one byte early, at in - 1, and the first byte fed is consumed by
 * inflatePrime().  From the start of the stream it is gzip (windowBits 31).
 * At the end of a raw member it skips the 8-byte trailer and goes on in
 * gzip mode; at the end of a gzip member it resets and goes on, so a file
 * crossing members (pigz --independent, concatenated .gz) reads through.
 */
#include "config.h"

#include "fetch/seekidx_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define OUTBUF (64u << 10)

int seekidx_span_of(const struct seekidx *x, const struct seekidx_file *f,
	struct seekidx_span *ret)
{
	uint64_t end;
	size_t lo, hi;
	const struct seekidx_point *p = NULL;

	if (x == NULL || f == NULL || f < x->files || f >= x->files + x->nfiles)
		return -EINVAL;
	end = f->offset + f->size; /* cannot overflow: checked by seekidx_parse() */
	/* the last point with out <= offset */
	lo = 0;
	hi = x->npoints;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (x->points[mid].out <= f->offset)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo > 0)
		p = &x->points[lo - 1];
	ret->point = p;
	ret->in_start = p ? p->in - (p->bits ? 1 : 0) : 0;
	ret->skip = f->offset - (p ? p->out : 0);
	/* the first point with out >= end */
	hi = x->npoints;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (x->points[mid].out < end)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < x->npoints && x->points[lo].in < x->tarball_size)
		ret->in_end = x->points[lo].in + 1;
	else
		ret->in_end = x->tarball_size;
	if (ret->in_end < ret->in_start)
		ret->in_end = ret->in_start;
	return 0;
}

int seekidx_window(const void *comp, size_t len, uint8_t *out, size_t *got)
{
	z_stream z;
	uint8_t extra;
	int r, zr;

	memset(&z, 0, sizeof(z));
	if (inflateInit2(&z, -15) != Z_OK)
		return -ENOMEM;
	z.next_in = (Bytef *)(uintptr_t)comp;
	z.avail_in = (uInt)len;
	z.next_out = out;
	z.avail_out = SEEKIDX_WINDOW;
	zr = inflate(&z, Z_FINISH);
	if (zr != Z_STREAM_END && z.avail_out == 0) {
		/* full: it must end here, with no byte more */
		z.next_out = &extra;
		z.avail_out = 1;
		zr = inflate(&z, Z_FINISH);
		if (z.avail_out == 0)
			zr = Z_DATA_ERROR;
	}
	if (zr == Z_STREAM_END && z.avail_in == 0) {
		*got = (size_t)(z.total_out > SEEKIDX_WINDOW ? SEEKIDX_WINDOW : z.total_out);
		r = 0;
	} else {
		r = zr == Z_MEM_ERROR ? -ENOMEM : -EILSEQ;
	}
	inflateEnd(&z);
	return r;
}

struct seekidx_reader {
	z_stream z;
	bool z_live;
	bool raw;		/* inflating a member without its header */
	unsigned prime_bits;	/* > 0: the first byte fed is to be primed */
	unsigned trailer;	/* bytes of a raw member's trailer still to skip */
	uint64_t skip, left;	/* uncompressed bytes to drop, then to hand out */
	const struct seekidx_file *f;
	struct hash_ctx *h;
	seekidx_out_fn out;
	void *arg;
	int err;		/* sticky: the first failure of feed */
	bool done;
	uint8_t buf[OUTBUF];
};

int seekidx_reader_new(const struct seekidx_span *sp, const struct seekidx_file *f,
	const void *window, size_t wlen, seekidx_out_fn out, void *arg,
	struct seekidx_reader **ret)
{
	struct seekidx_reader *r;
	int e;

	if (sp == NULL || f == NULL || out == NULL ||
		(sp->point && (wlen > SEEKIDX_WINDOW || (wlen && window == NULL))))
		return -EINVAL;
	if ((r = calloc(1, sizeof(*r))) == NULL)
		return -ENOMEM;
	r->skip = sp->skip;
	r->left = f->size;
	r->f = f;
	r->out = out;
	r->arg = arg;
	e = hash_ctx_new(HASH_SHA1, &r->h);
	if (e == 0)
		e = hash_git_blob_start(r->h, f->size);
	if (e < 0)
		goto fail;
	e = -ENOMEM;
	if (inflateInit2(&r->z, sp->point ? -15 : 31) != Z_OK)
		goto fail;
	r->z_live = true;
	if (sp->point) {
		if (wlen && inflateSetDictionary(&r->z, window, (uInt)wlen) != Z_OK) {
			e = -EINVAL;
			goto fail;
		}
		r->prime_bits = sp->point->bits;
		r->raw = true;
	}
	r->done = f->size == 0;
	*ret = r;
	return 0;
fail:
	seekidx_reader_free(r);
	return e;
}

/* Hand out what of n inflated bytes at p is the file's; 1 when complete. */
static int emit(struct seekidx_reader *r, const uint8_t *p, size_t n)
{
	size_t k;
	int e;

	if (r->skip) {
		k = r->skip < n ? (size_t)r->skip : n;
		r->skip -= k;
		p += k;
		n -= k;
	}
	if (n == 0)
		return r->done;
	k = r->left < n ? (size_t)r->left : n;
	if ((e = hash_ctx_update(r->h, p, k)) < 0)
		return e;
	if ((e = r->out(r->arg, p, k)) != 0)
		return e;
	r->left -= k;
	r->done = r->left == 0;
	return r->done;
}

int seekidx_reader_feed(struct seekidx_reader *r, const void *p, size_t n)
{
	const uint8_t *in = p;
	int e = 0, zr;

	if (r->err)
		return r->err;
	if (r->done)
		return 1;
	if (n && r->prime_bits) {
		if (inflatePrime(&r->z, (int)r->prime_bits, in[0] >> (8 - r->prime_bits)) != Z_OK) {
			e = -EILSEQ;
			goto out;
		}
		r->prime_bits = 0;
		in++;
		n--;
	}
	while (n > 0 && e == 0) {
		if (r->trailer) {
			size_t k = r->trailer < n ? r->trailer : n;

			r->trailer -= (unsigned)k;
			in += k;
			n -= k;
			if (r->trailer == 0 && inflateReset2(&r->z, 31) != Z_OK)
				e = -EILSEQ;
			continue;
		}
		r->z.next_in = (Bytef *)(uintptr_t)in;
		r->z.avail_in = (uInt)(n > (1u << 30) ? (1u << 30) : n);
		r->z.next_out = r->buf;
		r->z.avail_out = OUTBUF;
		{
			size_t fed = r->z.avail_in;

			zr = inflate(&r->z, Z_NO_FLUSH);
			in += fed - r->z.avail_in;
			n -= fed - r->z.avail_in;
		}
		if (OUTBUF - r->z.avail_out > 0)
			e = emit(r, r->buf, OUTBUF - r->z.avail_out);
		if (e != 0)
			break;
		if (zr == Z_STREAM_END) {
			/* a raw member's trailer is ours to skip; gzip read its own */
			if (r->raw) {
				r->raw = false;
				r->trailer = 8;
			} else if (inflateReset2(&r->z, 31) != Z_OK) {
				e = -EILSEQ;
			}
			continue;
		}
		if (zr == Z_MEM_ERROR)
			e = -ENOMEM;
		else if (zr != Z_OK && zr != Z_BUF_ERROR)
			e = -EILSEQ;
	}
out:
	if (e < 0 || (e > 0 && e != 1))
		r->err = e;
	return e;
}

int seekidx_reader_finish(struct seekidx_reader *r)
{
	uint8_t id[HASH_SHA1_LEN];

	if (!r->done)
		return -EPIPE;
	if (hash_ctx_final(r->h, id) < 0 || memcmp(id, r->f->oid, HASH_SHA1_LEN) != 0)
		return -EBADMSG;
	return 0;
}

void seekidx_reader_free(struct seekidx_reader *r)
{
	if (r == NULL)
		return;
	if (r->z_live)
		inflateEnd(&r->z);
	hash_ctx_free(r->h);
	free(r);
}
