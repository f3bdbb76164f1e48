/*
 * seekidx_build.c - the builder of a seek index (fetch/seekidx.h, format in
 * doc/internals/seek-index.md).
 *
 * The compressed tarball is inflated here a second time, with zlib and
 * Z_BLOCK, only to find deflate block boundaries: where one is at least
 * span output bytes past the previous restart point (and is not inside the
 * last block of a gzip member), the 32 KiB of output before it are
 * raw-deflated into the windows area.  The output of inflate goes into a
 * circular buffer of SEEKIDX_WINDOW bytes, which is that history.  The tar
 * reader (fetch/unpack.c through struct fetch_unpack_observer) tells the
 * files, symlinks and the final tree builder; at the end the records the
 * tree objects do not name are dropped, the rest sorted and written.
 *
 * zlib and store/hash.h only.
 */
#include "config.h"

#include "fetch/seekidx.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "store/util/buf.h"

#define WIN SEEKIDX_WINDOW
#define MAGIC_PEEK 6 /* bytes looked at to tell gzip from the other codecs */
#define FILE_REC 36
#define POINT_REC 32

struct link_rec {
	uint8_t oid[HASH_SHA1_LEN]; /* the target's blob id */
	size_t off, len;	    /* of the target in links */
};

struct seekidx_builder {
	uint64_t span;
	const char *why; /* the last error, static */
	int err;	 /* sticky error of the compressed side */

	/* the compressed side */
	z_stream zs, def;
	bool zs_init, def_init, started, member_end;
	uint8_t magic[MAGIC_PEEK];
	size_t nmagic;
	uint64_t in_total, out_total, last_out;
	uint8_t win[WIN]; /* circular: the output ends at wpos */
	size_t wpos;
	unsigned members;

	struct seekidx_point *points;
	size_t npoints, cap_points;
	struct buf windows; /* offsets relative to its start until finish */

	/* what the tar reader found */
	struct seekidx_file *files;
	size_t nfiles, cap_files;
	struct link_rec *links;
	size_t nlinks, cap_links;
	struct buf link_bytes;
	struct buf trees;
	uint32_t ntrees;
	uint8_t root[HASH_SHA1_LEN];
	bool have_trees;
};

/* grow - make room for one more element of size sz in *v (n used, *cap allocated) */
static int grow(void *v, size_t n, size_t *cap, size_t sz)
{
	void **pv = v, *p;
	size_t c;

	if (n < *cap)
		return 0;
	c = *cap ? *cap * 2 : 256;
	p = realloc(*pv, c * sz);
	if (!p)
		return -ENOMEM;
	*pv = p;
	*cap = c;
	return 0;
}

int seekidx_builder_new(uint64_t span, struct seekidx_builder **ret)
{
	struct seekidx_builder *b;

	if (span > UINT32_MAX)
		return -EINVAL;
	b = calloc(1, sizeof(*b));
	if (!b)
		return -ENOMEM;
	b->span = span ? span : SEEKIDX_SPAN;
	buf_init(&b->windows, SIZE_MAX / 2);	    /* at most 64 KiB a point, < 2^31 points */
	buf_init(&b->link_bytes, SEEKIDX_HEAD_MAX); /* they go into the head */
	buf_init(&b->trees, SEEKIDX_HEAD_MAX);
	*ret = b;
	return 0;
}

void seekidx_builder_free(struct seekidx_builder *b)
{
	if (!b)
		return;
	if (b->zs_init)
		inflateEnd(&b->zs);
	if (b->def_init)
		deflateEnd(&b->def);
	free(b->points);
	buf_release(&b->windows);
	free(b->files);
	free(b->links);
	buf_release(&b->link_bytes);
	buf_release(&b->trees);
	free(b);
}

const char *seekidx_builder_error(const struct seekidx_builder *b)
{
	return b->why ? b->why : "no error";
}

static int fail(struct seekidx_builder *b, int err, const char *why)
{
	if (!b->err) {
		b->err = err;
		b->why = why;
	}
	return b->err;
}

/* --- restart points ---------------------------------------------------------------- */

/* add_point - a point at the current position: the window deflated into b->windows */
static int add_point(struct seekidx_builder *b)
{
	size_t wlen = b->out_total < WIN ? (size_t)b->out_total : WIN, n;
	uint8_t tmp[WIN], comp[2 * WIN];
	struct seekidx_point *pt;
	unsigned long bound;
	size_t at;

	if (grow(&b->points, b->npoints, &b->cap_points, sizeof(*b->points)) < 0)
		return fail(b, -ENOMEM, "out of memory");
	/* the last wlen bytes of output, oldest first */
	if (b->out_total >= WIN) {
		n = WIN - b->wpos;
		memcpy(tmp, b->win + b->wpos, n);
		memcpy(tmp + n, b->win, b->wpos);
	} else {
		memcpy(tmp, b->win, wlen);
	}
	if (!b->def_init) {
		memset(&b->def, 0, sizeof(b->def));
		if (deflateInit2(&b->def, 9, Z_DEFLATED, -15, 9, Z_DEFAULT_STRATEGY) != Z_OK)
			return fail(b, -ENOMEM, "cannot set up deflate");
		b->def_init = true;
	} else if (deflateReset(&b->def) != Z_OK) {
		return fail(b, -EIO, "deflateReset failed");
	}
	bound = deflateBound(&b->def, (unsigned long)wlen);
	if (bound > sizeof(comp))
		return fail(b, -EIO, "deflateBound beyond its buffer");
	b->def.next_in = tmp;
	b->def.avail_in = (uInt)wlen;
	b->def.next_out = comp;
	b->def.avail_out = (uInt)sizeof(comp);
	if (deflate(&b->def, Z_FINISH) != Z_STREAM_END)
		return fail(b, -EIO, "cannot deflate a window");
	n = sizeof(comp) - b->def.avail_out;
	at = b->windows.len;
	if (buf_add(&b->windows, comp, n) < 0)
		return fail(b, -ENOMEM, "out of memory");
	pt = &b->points[b->npoints++];
	memset(pt, 0, sizeof(*pt));
	pt->in = b->in_total;
	pt->out = b->out_total;
	pt->bits = (uint8_t)(b->zs.data_type & 7);
	pt->window_off = at;
	pt->window_len = (uint32_t)n;
	b->last_out = b->out_total;
	return 0;
}

/* not_gzip - -ENOTSUP, naming the codec the first bytes show */
static int not_gzip(struct seekidx_builder *b)
{
	static const uint8_t zstd[] = {0x28, 0xb5, 0x2f, 0xfd},
			     xz[] = {0xfd, '7', 'z', 'X', 'Z', 0};

	if (b->nmagic >= 4 && memcmp(b->magic, zstd, 4) == 0)
		return fail(b, -ENOTSUP, "the tarball is zstd-compressed; a seek index needs gzip");
	if (b->nmagic >= 6 && memcmp(b->magic, xz, 6) == 0)
		return fail(b, -ENOTSUP, "the tarball is xz-compressed; a seek index needs gzip");
	if (b->nmagic >= 3 && memcmp(b->magic, "BZh", 3) == 0)
		return fail(
			b, -ENOTSUP, "the tarball is bzip2-compressed; a seek index needs gzip");
	return fail(b, -ENOTSUP, "the tarball is not gzip-compressed; a seek index needs gzip");
}

/* inflate_some - run n compressed bytes at p through zlib, adding points */
static int inflate_some(struct seekidx_builder *b, const uint8_t *p, size_t n)
{
	size_t in0, out0;
	int zr;

	b->zs.next_in = (Bytef *)p;
	while (n > 0) {
		b->zs.avail_in = n > (1u << 30) ? (1u << 30) : (uInt)n;
		if (b->member_end) {
			/* another gzip member follows */
			if (inflateReset(&b->zs) != Z_OK)
				return fail(b, -EIO, "inflateReset failed");
			b->member_end = false;
		}
		if (b->wpos == WIN)
			b->wpos = 0;
		b->zs.next_out = b->win + b->wpos;
		b->zs.avail_out = (uInt)(WIN - b->wpos);
		in0 = b->zs.avail_in;
		out0 = b->zs.avail_out;
		zr = inflate(&b->zs, Z_BLOCK);
		in0 -= b->zs.avail_in;
		out0 -= b->zs.avail_out;
		n -= in0;
		b->in_total += in0;
		b->out_total += out0;
		b->wpos += out0;
		if (zr == Z_MEM_ERROR)
			return fail(b, -ENOMEM, "out of memory");
		if (zr == Z_NEED_DICT || zr == Z_DATA_ERROR || zr == Z_STREAM_ERROR)
			return fail(b, -EILSEQ,
				b->members
					? "corrupt gzip data, or trailing bytes after a gzip member"
					: "corrupt gzip data");
		if (zr == Z_BUF_ERROR && in0 == 0 && out0 == 0)
			return fail(b, -EIO, "inflate made no progress");
		if (zr == Z_STREAM_END) {
			b->member_end = true;
			b->members++;
			continue;
		}
		if ((b->zs.data_type & 128) && !(b->zs.data_type & 64) && b->out_total > 0 &&
			b->out_total - b->last_out >= b->span) {
			int r = add_point(b);

			if (r < 0)
				return r;
		}
	}
	return 0;
}

int seekidx_builder_compressed(struct seekidx_builder *b, const void *p, size_t n)
{
	const uint8_t *q = p;
	size_t k;
	int r;

	if (b->err)
		return b->err;
	if (!b->started) {
		k = MAGIC_PEEK - b->nmagic < n ? MAGIC_PEEK - b->nmagic : n;
		memcpy(b->magic + b->nmagic, q, k);
		b->nmagic += k;
		q += k;
		n -= k;
		if (b->nmagic < MAGIC_PEEK)
			return 0;
		if (b->magic[0] != 0x1f || b->magic[1] != 0x8b)
			return not_gzip(b);
		memset(&b->zs, 0, sizeof(b->zs));
		if (inflateInit2(&b->zs, 15 + 16) != Z_OK)
			return fail(b, -ENOMEM, "cannot set up inflate");
		b->zs_init = true;
		b->started = true;
		r = inflate_some(b, b->magic, b->nmagic);
		if (r < 0)
			return r;
	}
	return n ? inflate_some(b, q, n) : 0;
}

/* --- what the tar reader found ------------------------------------------------------ */

int seekidx_builder_file(
	struct seekidx_builder *b, const uint8_t oid[HASH_SHA1_LEN], uint64_t offset, uint64_t size)
{
	struct seekidx_file *f;

	if (grow(&b->files, b->nfiles, &b->cap_files, sizeof(*b->files)) < 0)
		return -ENOMEM;
	f = &b->files[b->nfiles++];
	memcpy(f->oid, oid, HASH_SHA1_LEN);
	f->offset = offset;
	f->size = size;
	return 0;
}

int seekidx_builder_link(struct seekidx_builder *b, const char *target, size_t len)
{
	struct link_rec *l;
	int r;

	if (len > UINT32_MAX)
		return -EINVAL;
	if (grow(&b->links, b->nlinks, &b->cap_links, sizeof(*b->links)) < 0)
		return -ENOMEM;
	l = &b->links[b->nlinks];
	r = hash_git_blob(HASH_SHA1, target, len, l->oid);
	if (r < 0)
		return r;
	l->off = b->link_bytes.len;
	l->len = len;
	if (len && buf_add(&b->link_bytes, target, len) < 0)
		return -ENOMEM;
	b->nlinks++;
	return 0;
}

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static int tree_rec(void *arg, const uint8_t oid[HASH_SHA1_LEN], const void *content, size_t len)
{
	struct seekidx_builder *b = arg;
	uint8_t hdr[HASH_SHA1_LEN + 4];

	if (len > UINT32_MAX || b->ntrees == INT32_MAX)
		return -E2BIG;
	if (b->ntrees == 0)
		memcpy(b->root, oid, HASH_SHA1_LEN);
	memcpy(hdr, oid, HASH_SHA1_LEN);
	put32(hdr + HASH_SHA1_LEN, (uint32_t)len);
	if (buf_add(&b->trees, hdr, sizeof(hdr)) < 0 ||
		(len && buf_add(&b->trees, content, len) < 0))
		return b->trees.len + sizeof(hdr) + len > SEEKIDX_HEAD_MAX ? -E2BIG : -ENOMEM;
	b->ntrees++;
	return 0;
}

int seekidx_builder_trees(struct seekidx_builder *b, struct tree_builder *tb)
{
	int r;

	buf_reset(&b->trees);
	b->ntrees = 0;
	r = tree_builder_objects(tb, tree_rec, b);
	b->have_trees = r == 0;
	return r;
}

/* --- the index ---------------------------------------------------------------------- */

static int oid_cmp(const void *a, const void *b)
{
	return memcmp(a, b, HASH_SHA1_LEN);
}

static int file_cmp(const void *a, const void *b)
{
	const struct seekidx_file *x = a, *y = b;
	int r = memcmp(x->oid, y->oid, HASH_SHA1_LEN);

	/* one blob in several entries: keep the first copy in the stream */
	if (r)
		return r;
	return x->offset < y->offset ? -1 : x->offset > y->offset;
}

/*
 * named - the blob ids the tree objects name, files (100644, 100755) into
 * *files and symlinks (120000) into *links, each sorted; 20 bytes each.
 */
static int named(
	struct seekidx_builder *b, uint8_t **files, size_t *nf, uint8_t **links, size_t *nl)
{
	const uint8_t *p = (const uint8_t *)b->trees.ptr, *end = p + b->trees.len, *e, *q;
	size_t cf = 0, cl = 0;
	uint32_t len;

	*files = *links = NULL;
	*nf = *nl = 0;
	while (p < end) {
		len = (uint32_t)p[20] | (uint32_t)p[21] << 8 | (uint32_t)p[22] << 16 |
		      (uint32_t)p[23] << 24;
		p += HASH_SHA1_LEN + 4;
		e = p + len;
		while (p < e) {
			bool link = p[0] == '1' && p[1] == '2';
			bool file = p[0] == '1' && p[1] == '0';

			q = memchr(p, '\0', (size_t)(e - p));
			if (!q || e - q < 1 + HASH_SHA1_LEN)
				return -EIO; /* our own objects: cannot happen */
			if (file || link) {
				uint8_t **v = file ? files : links;
				size_t *n = file ? nf : nl, *c = file ? &cf : &cl;

				if (grow(v, *n, c, HASH_SHA1_LEN) < 0)
					return -ENOMEM;
				memcpy(*v + *n * HASH_SHA1_LEN, q + 1, HASH_SHA1_LEN);
				(*n)++;
			}
			p = q + 1 + HASH_SHA1_LEN;
		}
	}
	if (*nf)
		qsort(*files, *nf, HASH_SHA1_LEN, oid_cmp);
	if (*nl)
		qsort(*links, *nl, HASH_SHA1_LEN, oid_cmp);
	return 0;
}

/* keep only the records the trees name, once each, sorted by oid */
static int prune(struct seekidx_builder *b)
{
	uint8_t *nf = NULL, *nl = NULL;
	size_t cf, cl, i, k;
	int r = named(b, &nf, &cf, &nl, &cl);

	if (r < 0)
		goto out;
	if (b->nfiles)
		qsort(b->files, b->nfiles, sizeof(*b->files), file_cmp);
	for (i = k = 0; i < b->nfiles; i++) {
		if (k && memcmp(b->files[k - 1].oid, b->files[i].oid, HASH_SHA1_LEN) == 0)
			continue;
		if (!cf || !bsearch(b->files[i].oid, nf, cf, HASH_SHA1_LEN, oid_cmp))
			continue;
		b->files[k++] = b->files[i];
	}
	b->nfiles = k;
	/* links by blob id (the order of the section is free): one per target */
	if (b->nlinks)
		qsort(b->links, b->nlinks, sizeof(*b->links), oid_cmp);
	for (i = k = 0; i < b->nlinks; i++) {
		if (k && memcmp(b->links[k - 1].oid, b->links[i].oid, HASH_SHA1_LEN) == 0)
			continue;
		if (!cl || !bsearch(b->links[i].oid, nl, cl, HASH_SHA1_LEN, oid_cmp))
			continue;
		b->links[k++] = b->links[i];
	}
	b->nlinks = k;
out:
	free(nf);
	free(nl);
	return r;
}

int seekidx_builder_finish(struct seekidx_builder *b, const uint8_t sha256[HASH_SHA256_LEN],
	uint8_t **ret, size_t *len)
{
	uint64_t head = SEEKIDX_FIXED, total;
	uint8_t *o, *p;
	size_t i;
	int r;

	if (b->err)
		return b->err;
	if (!b->started || !b->member_end)
		return fail(b, -EILSEQ, "the gzip stream ends early");
	if (!b->have_trees)
		return fail(b, -EINVAL, "no tree objects were given");
	r = prune(b);
	if (r < 0)
		return fail(b, r, "out of memory");
	if (b->nlinks > INT32_MAX || b->nfiles > INT32_MAX || b->npoints > INT32_MAX)
		return fail(b, -E2BIG, "too many records for a seek index");
	head += b->trees.len;
	for (i = 0; i < b->nlinks; i++)
		head += 4 + b->links[i].len;
	head += (uint64_t)b->nfiles * FILE_REC + (uint64_t)b->npoints * POINT_REC;
	if (head > SEEKIDX_HEAD_MAX)
		return fail(b, -E2BIG, "the head of the index would exceed 256 MiB");
	total = head + b->windows.len;
	o = malloc(total ? total : 1);
	if (!o)
		return fail(b, -ENOMEM, "out of memory");
	memset(o, 0, SEEKIDX_FIXED);
	memcpy(o, SEEKIDX_MAGIC, 8);
	put32(o + 8, SEEKIDX_VERSION);
	put32(o + 12, 0);
	put64(o + 16, head);
	put64(o + 24, total);
	memcpy(o + 32, b->root, HASH_SHA1_LEN);
	memcpy(o + 52, sha256, HASH_SHA256_LEN);
	put64(o + 84, b->in_total);
	put64(o + 92, b->out_total);
	put32(o + 100, (uint32_t)b->span);
	put32(o + 104, b->ntrees);
	put32(o + 108, (uint32_t)b->nlinks);
	put32(o + 112, (uint32_t)b->nfiles);
	put32(o + 116, (uint32_t)b->npoints);
	put32(o + 120, 1);
	put32(o + 124, (uint32_t)crc32(0L, o, 124));
	p = o + SEEKIDX_FIXED;
	if (b->trees.len)
		memcpy(p, b->trees.ptr, b->trees.len);
	p += b->trees.len;
	for (i = 0; i < b->nlinks; i++) {
		put32(p, (uint32_t)b->links[i].len);
		if (b->links[i].len)
			memcpy(p + 4, b->link_bytes.ptr + b->links[i].off, b->links[i].len);
		p += 4 + b->links[i].len;
	}
	for (i = 0; i < b->nfiles; i++, p += FILE_REC) {
		memcpy(p, b->files[i].oid, HASH_SHA1_LEN);
		put64(p + 20, b->files[i].offset);
		put64(p + 28, b->files[i].size);
	}
	for (i = 0; i < b->npoints; i++, p += POINT_REC) {
		put64(p, b->points[i].in);
		put64(p + 8, b->points[i].out);
		put64(p + 16, head + b->points[i].window_off);
		put32(p + 24, b->points[i].window_len);
		p[28] = b->points[i].bits;
		p[29] = p[30] = p[31] = 0;
	}
	if (b->windows.len)
		memcpy(p, b->windows.ptr, b->windows.len);
	*ret = o;
	*len = (size_t)total;
	return 0;
}
