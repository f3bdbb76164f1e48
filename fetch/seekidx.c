/*
 * seekidx.c - parse and verify the head of a seek index, and look things up
 * in it (fetch/seekidx.h; format in doc/internals/seek-index.md).  The
 * span planning, windows and the reader are seekidx_read.c.
 *
 * The head is copied once; every pointer handed out (entry names, tree
 * entries, file records) points into that copy or into arrays built beside
 * it, so a parsed index is one read-only object.  Parsing goes in two
 * passes: the structure (every length checked against the bytes left:
 * -EILSEQ), then the trust (tree objects hashed, entries resolved,
 * hints ordered and inside the stream: -EBADMSG).
 */
#include "config.h"

#include "fetch/seekidx_int.h"
#include "store/util/buf.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define COUNT_MAX (1u << 31)		/* each count is below this */
#define WINDOW_COMP_MAX (64u << 10)	/* largest compressed window */

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get64(const uint8_t *p)
{
	return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

int seekidx_head_len(const void *buf, size_t len, uint64_t *ret, const char **why)
{
	const uint8_t *p = buf;
	uint64_t head_len, file_len;

	if (len < SEEKIDX_FIXED) {
		*why = "shorter than the fixed header";
		return -EILSEQ;
	}
	if (memcmp(p, SEEKIDX_MAGIC, 8) != 0) {
		*why = "not a seek index (bad magic)";
		return -EILSEQ;
	}
	if (get32(p + 8) != SEEKIDX_VERSION) {
		*why = "unsupported seek index version";
		return -EILSEQ;
	}
	if (get32(p + 124) != (uint32_t)crc32(0, p, 124)) {
		*why = "fixed header CRC mismatch";
		return -EILSEQ;
	}
	head_len = get64(p + 16);
	file_len = get64(p + 24);
	if (head_len < SEEKIDX_FIXED || head_len > SEEKIDX_HEAD_MAX) {
		*why = "head length out of bounds";
		return -EILSEQ;
	}
	if (file_len < head_len) {
		*why = "file length shorter than the head";
		return -EILSEQ;
	}
	*ret = head_len;
	return 0;
}

/* A cursor over the head: take() fails once the bytes run out. */
struct cur {
	const uint8_t *p, *end;
};

static const uint8_t *take(struct cur *c, size_t n)
{
	const uint8_t *p = c->p;

	if ((size_t)(c->end - c->p) < n)
		return NULL;
	c->p += n;
	return p;
}

/*
 * Git order (git's base_name_compare): names compare bytewise, a tree's
 * name as if it ended with '/'.
 */
static int name_cmp(const char *a, size_t alen, bool adir, const char *b, size_t blen, bool bdir)
{
	size_t n = alen < blen ? alen : blen;
	int c = n ? memcmp(a, b, n) : 0;
	unsigned ca, cb;

	if (c != 0)
		return c;
	ca = alen > n ? (unsigned char)a[n] : adir ? '/' : 0;
	cb = blen > n ? (unsigned char)b[n] : bdir ? '/' : 0;
	return ca < cb ? -1 : ca > cb;
}

static int oid_cmp(const void *a, const void *b)
{
	return memcmp(a, b, HASH_SHA1_LEN);
}

/* Parse one mode: octal ASCII ended by ' '; 0 when not one git writes. */
static uint32_t parse_mode(struct cur *c)
{
	uint32_t m = 0;
	size_t n = 0;

	while (c->p < c->end && *c->p != ' ') {
		if (*c->p < '0' || *c->p > '7' || ++n > 6)
			return 0;
		m = m * 8 + (uint32_t)(*c->p++ - '0');
	}
	if (c->p == c->end)
		return 0;
	c->p++;
	if (m == 040000 && n == 5)
		return m;
	if ((m == 0100644 || m == 0100755 || m == 0120000) && n == 6)
		return m;
	return 0;
}

/*
 * Count, then fill, the entries of tree object t (content at p, len
 * bytes): -EILSEQ when it does not parse or is not in strict git order.
 */
static int parse_tree(struct seekidx_tree *t, const uint8_t *p, size_t len,
	struct seekidx_entry *e, size_t *n, size_t idx, char **errmsg)
{
	struct cur c = {p, p + len};
	char hex[HASH_HEX_MAX];
	size_t k = 0;

	hash_to_hex(t->oid, HASH_SHA1_LEN, hex);
	while (c.p < c.end) {
		uint32_t mode = parse_mode(&c);
		const uint8_t *name = c.p, *nul, *oid;
		size_t nlen;

		nul = mode ? memchr(c.p, 0, (size_t)(c.end - c.p)) : NULL;
		if (nul == NULL)
			goto bad;
		nlen = (size_t)(nul - name);
		c.p = nul + 1;
		oid = take(&c, HASH_SHA1_LEN);
		if (oid == NULL || nlen == 0 || memchr(name, '/', nlen) != NULL ||
			(nlen == 1 && name[0] == '.') ||
			(nlen == 2 && name[0] == '.' && name[1] == '.'))
			goto bad;
		if (e != NULL) {
			e[k].name = (const char *)name;
			e[k].mode = mode;
			memcpy(e[k].oid, oid, HASH_SHA1_LEN);
			if (k > 0 && name_cmp(e[k - 1].name, strlen(e[k - 1].name),
					     e[k - 1].mode == 040000, e[k].name, nlen,
					     mode == 040000) >= 0) {
				if (errmsg)
					*errmsg = buf_strf("tree object %zu (oid %s): entry '%.*s' out of "
						       "git order",
						idx, hex, (int)nlen, (const char *)name);
				return -EILSEQ;
			}
		}
		k++;
	}
	*n = k;
	return 0;
bad:
	if (errmsg)
		*errmsg = buf_strf("tree object %zu (oid %s): malformed entry %zu", idx, hex, k);
	return -EILSEQ;
}

/* A key oid against a tree pointer of tree_by_oid (bsearch). */
static int key_tree_cmp(const void *key, const void *elem)
{
	return oid_cmp(key, (*(const struct seekidx_tree *const *)elem)->oid);
}

static const struct seekidx_tree *find_tree(const struct seekidx *x, const uint8_t *oid)
{
	struct seekidx_tree *const *t =
		bsearch(oid, x->tree_by_oid, x->ntrees, sizeof(*x->tree_by_oid), key_tree_cmp);

	return t ? *t : NULL;
}

/* Links and file records start with their oid: oid_cmp() compares a key with them. */
_Static_assert(offsetof(struct seekidx_link, oid) == 0, "oid first");
_Static_assert(offsetof(struct seekidx_file, oid) == 0, "oid first");

static const struct seekidx_link *find_link(const struct seekidx *x, const uint8_t *oid)
{
	return x->nlinks ? bsearch(oid, x->links, x->nlinks, sizeof(*x->links), oid_cmp) : NULL;
}

static int tree_ptr_cmp(const void *a, const void *b)
{
	const struct seekidx_tree *const *ta = a, *const *tb = b;

	return oid_cmp((*ta)->oid, (*tb)->oid);
}

/* Pass 1: the sections' structure.  -EILSEQ, -ENOMEM. */
static int parse_sections(struct seekidx *x, uint32_t ntrees, uint32_t nlinks, uint32_t nfiles,
	uint32_t npoints, char **errmsg)
{
	struct cur c = {x->head + SEEKIDX_FIXED, x->head + x->head_len};
	size_t i, nent = 0, k;
	const uint8_t *q;
	int r;

	x->trees = calloc(ntrees, sizeof(*x->trees));
	x->tree_by_oid = calloc(ntrees, sizeof(*x->tree_by_oid));
	x->tree_raw = calloc(ntrees, sizeof(*x->tree_raw));
	x->links = calloc(nlinks ? nlinks : 1, sizeof(*x->links));
	x->files = calloc(nfiles ? nfiles : 1, sizeof(*x->files));
	x->points = calloc(npoints ? npoints : 1, sizeof(*x->points));
	if (!x->trees || !x->tree_by_oid || !x->tree_raw || !x->links || !x->files || !x->points)
		return -ENOMEM;
	/* trees: count entries first, then one array for all */
	for (i = 0; i < ntrees; i++) {
		struct seekidx_tree *t = &x->trees[i];
		const uint8_t *content;
		uint32_t len;

		if ((q = take(&c, HASH_SHA1_LEN + 4)) == NULL)
			goto trunc_tree;
		memcpy(t->oid, q, HASH_SHA1_LEN);
		len = get32(q + HASH_SHA1_LEN);
		if ((content = take(&c, len)) == NULL)
			goto trunc_tree;
		r = parse_tree(t, content, len, NULL, &t->n, i, errmsg);
		if (r < 0)
			return r;
		nent += t->n;
		x->tree_raw[i].p = content;
		x->tree_raw[i].len = len;
		x->tree_by_oid[i] = t;
	}
	x->entries = calloc(nent ? nent : 1, sizeof(*x->entries));
	if (x->entries == NULL)
		return -ENOMEM;
	for (i = 0, k = 0; i < ntrees; i++) {
		struct seekidx_tree *t = &x->trees[i];

		t->e = &x->entries[k];
		r = parse_tree(t, x->tree_raw[i].p, x->tree_raw[i].len, &x->entries[k], &t->n, i,
			errmsg);
		if (r < 0)
			return r;
		k += t->n;
	}
	for (i = 0; i < nlinks; i++) {
		struct seekidx_link *l = &x->links[i];
		uint32_t len;

		if ((q = take(&c, 4)) == NULL || (l->target = (const char *)take(&c, len = get32(q))) ==
				NULL) {
			if (errmsg)
				*errmsg = buf_strf("link %zu: truncated", i);
			return -EILSEQ;
		}
		l->len = len;
	}
	/* the targets again, NUL-terminated for seekidx_entry.target */
	x->link_text = malloc(x->head_len + nlinks + 1);
	if (x->link_text == NULL)
		return -ENOMEM;
	for (i = 0, k = 0; i < nlinks; i++) {
		struct seekidx_link *l = &x->links[i];

		if (l->len)
			memcpy(x->link_text + k, l->target, l->len);
		x->link_text[k + l->len] = '\0';
		l->target = x->link_text + k;
		k += l->len + 1;
	}
	for (i = 0; i < nfiles; i++) {
		struct seekidx_file *f = &x->files[i];

		if ((q = take(&c, 36)) == NULL) {
			if (errmsg)
				*errmsg = buf_strf("file record %zu: truncated", i);
			return -EILSEQ;
		}
		memcpy(f->oid, q, HASH_SHA1_LEN);
		f->offset = get64(q + 20);
		f->size = get64(q + 28);
	}
	for (i = 0; i < npoints; i++) {
		struct seekidx_point *pt = &x->points[i];

		if ((q = take(&c, 32)) == NULL) {
			if (errmsg)
				*errmsg = buf_strf("point %zu: truncated", i);
			return -EILSEQ;
		}
		pt->in = get64(q);
		pt->out = get64(q + 8);
		pt->window_off = get64(q + 16);
		pt->window_len = get32(q + 24);
		pt->bits = q[28];
		if (pt->bits > 7 || q[29] || q[30] || q[31]) {
			if (errmsg)
				*errmsg = buf_strf("point %zu: bad bits or padding", i);
			return -EILSEQ;
		}
	}
	if (c.p != c.end) {
		if (errmsg)
			*errmsg = buf_strf("%zu bytes after the last section of the head",
				(size_t)(c.end - c.p));
		return -EILSEQ;
	}
	return 0;
trunc_tree:
	if (errmsg)
		*errmsg = buf_strf("tree object %zu: truncated", i);
	return -EILSEQ;
}

/* Pass 2: what the index claims, verified.  -EBADMSG, -EIO, -ENOMEM. */
static int verify(struct seekidx *x, char **errmsg)
{
	char hex[HASH_HEX_MAX];
	uint8_t id[HASH_SHA1_LEN];
	size_t i, j;
	int r;

	for (i = 0; i < x->ntrees; i++) {
		const struct seekidx_raw *raw = &x->tree_raw[i];
		char hdr[32];
		int hl = snprintf(hdr, sizeof(hdr), "tree %zu", raw->len);
		struct hash_ctx *h = NULL;

		r = hash_ctx_new(HASH_SHA1, &h);
		if (r == 0)
			r = hash_ctx_update(h, hdr, (size_t)hl + 1);
		if (r == 0)
			r = hash_ctx_update(h, raw->p, raw->len);
		if (r == 0)
			r = hash_ctx_final(h, id);
		hash_ctx_free(h);
		if (r < 0)
			return r;
		if (memcmp(id, x->trees[i].oid, HASH_SHA1_LEN) != 0) {
			hash_to_hex(x->trees[i].oid, HASH_SHA1_LEN, hex);
			if (errmsg)
				*errmsg = buf_strf("tree object %zu (oid %s) does not hash to its id", i,
					hex);
			return -EBADMSG;
		}
	}
	for (i = 0; i < x->nlinks; i++) {
		r = hash_git_blob(HASH_SHA1, x->links[i].target, x->links[i].len, x->links[i].oid);
		if (r < 0)
			return r;
	}
	qsort(x->tree_by_oid, x->ntrees, sizeof(*x->tree_by_oid), tree_ptr_cmp);
	if (x->nlinks)
		qsort(x->links, x->nlinks, sizeof(*x->links), oid_cmp);
	for (i = 0; i < x->nfiles; i++) {
		const struct seekidx_file *f = &x->files[i];

		if (i > 0 && oid_cmp(x->files[i - 1].oid, f->oid) >= 0) {
			if (errmsg)
				*errmsg = buf_strf("file record %zu: not in ascending oid order", i);
			return -EBADMSG;
		}
		if (f->offset > x->stream_size || f->size > x->stream_size - f->offset) {
			if (errmsg)
				*errmsg = buf_strf("file record %zu: outside the stream", i);
			return -EBADMSG;
		}
	}
	for (i = 0; i < x->npoints; i++) {
		const struct seekidx_point *p = &x->points[i], *q = i ? p - 1 : NULL;
		const char *why = NULL;

		if (p->out == 0 || p->out > x->stream_size)
			why = "output offset outside the stream";
		else if (p->in == 0 || p->in > x->tarball_size)
			why = "input offset outside the tarball";
		else if (q && (p->out <= q->out || p->in < q->in))
			why = "not in ascending order";
		else if (p->window_len == 0 || p->window_len > WINDOW_COMP_MAX)
			why = "window length out of bounds";
		else if (p->window_off < x->head_len || p->window_off > x->file_len ||
			p->window_len > x->file_len - p->window_off)
			why = "window outside the windows area";
		if (why) {
			if (errmsg)
				*errmsg = buf_strf("point %zu: %s", i, why);
			return -EBADMSG;
		}
	}
	for (i = 0; i < x->ntrees; i++) {
		const struct seekidx_tree *t = &x->trees[i];

		for (j = 0; j < t->n; j++) {
			struct seekidx_entry *e = (struct seekidx_entry *)&t->e[j];
			const struct seekidx_link *l;
			const char *what = NULL;

			if (e->mode == 040000) {
				if ((e->tree = find_tree(x, e->oid)) == NULL)
					what = "tree object";
			} else if (e->mode == 0120000) {
				if ((l = find_link(x, e->oid)) == NULL) {
					what = "symlink target";
				} else {
					e->target = l->target;
					e->target_len = l->len;
				}
			} else if ((e->file = seekidx_find_file(x, e->oid)) == NULL) {
				what = "file record";
			}
			if (what) {
				hash_to_hex(t->oid, HASH_SHA1_LEN, hex);
				if (errmsg)
					*errmsg = buf_strf("tree object %zu (oid %s): entry '%s' has no %s",
						i, hex, e->name, what);
				return -EBADMSG;
			}
		}
	}
	return 0;
}

int seekidx_parse(const void *buf, size_t len, const uint8_t tree[HASH_SHA1_LEN],
	struct seekidx **ret, char **errmsg)
{
	const uint8_t *p = buf;
	struct seekidx *x = NULL;
	uint32_t ntrees, nlinks, nfiles, npoints;
	const char *why = NULL;
	char *msg = NULL;
	char hex[HASH_HEX_MAX];
	uint64_t head_len;
	int r;

	r = seekidx_head_len(buf, len, &head_len, &why);
	if (r == 0 && head_len > len) {
		why = "shorter than its head";
		r = -EILSEQ;
	}
	if (r < 0)
		goto out;
	ntrees = get32(p + 104);
	nlinks = get32(p + 108);
	nfiles = get32(p + 112);
	npoints = get32(p + 116);
	r = -EILSEQ;
	if (get32(p + 12) != 0)
		why = "unknown flags";
	else if (get32(p + 120) != 1)
		why = "unknown codec";
	else if (ntrees == 0 || ntrees >= COUNT_MAX || nlinks >= COUNT_MAX ||
		nfiles >= COUNT_MAX || npoints >= COUNT_MAX)
		why = "count out of bounds";
	/* the smallest records the counts need must fit: no allocation beyond the head */
	else if ((uint64_t)ntrees * 24 + (uint64_t)nlinks * 4 + (uint64_t)nfiles * 36 +
			(uint64_t)npoints * 32 > head_len - SEEKIDX_FIXED)
		why = "counts larger than the head";
	if (why)
		goto out;
	r = -ENOMEM;
	if ((x = calloc(1, sizeof(*x))) == NULL || (x->head = malloc(head_len)) == NULL)
		goto out;
	memcpy(x->head, p, head_len);
	x->head_len = head_len;
	x->file_len = get64(p + 24);
	memcpy(x->tree, p + 32, HASH_SHA1_LEN);
	memcpy(x->sha256, p + 52, HASH_SHA256_LEN);
	x->tarball_size = get64(p + 84);
	x->stream_size = get64(p + 92);
	x->ntrees = ntrees;
	x->nlinks = nlinks;
	x->nfiles = nfiles;
	x->npoints = npoints;
	r = parse_sections(x, ntrees, nlinks, nfiles, npoints, &msg);
	if (r < 0)
		goto out;
	r = -EBADMSG;
	if (memcmp(x->trees[0].oid, x->tree, HASH_SHA1_LEN) != 0) {
		why = "the first tree object is not the header's tree";
		goto out;
	}
	if (tree != NULL && memcmp(tree, x->tree, HASH_SHA1_LEN) != 0) {
		hash_to_hex(x->tree, HASH_SHA1_LEN, hex);
		msg = buf_strf("index of tree %s, not of the tree asked for", hex);
		goto out;
	}
	r = verify(x, &msg);
out:
	if (r < 0) {
		seekidx_free(x);
		if (errmsg)
			*errmsg = msg ? msg : buf_strf("%s", why ? why : strerror(-r));
		else
			free(msg);
		return r;
	}
	*ret = x;
	return 0;
}

void seekidx_free(struct seekidx *x)
{
	if (x == NULL)
		return;
	free(x->head);
	free(x->trees);
	free(x->tree_by_oid);
	free(x->tree_raw);
	free(x->entries);
	free(x->links);
	free(x->link_text);
	free(x->files);
	free(x->points);
	free(x);
}

const struct seekidx_tree *seekidx_root(const struct seekidx *x)
{
	return &x->trees[0];
}

const uint8_t *seekidx_tarball_sha256(const struct seekidx *x)
{
	return x->sha256;
}

uint64_t seekidx_tarball_size(const struct seekidx *x)
{
	return x->tarball_size;
}

uint64_t seekidx_stream_size(const struct seekidx *x)
{
	return x->stream_size;
}

size_t seekidx_nfiles(const struct seekidx *x)
{
	return x->nfiles;
}

size_t seekidx_npoints(const struct seekidx *x)
{
	return x->npoints;
}

const struct seekidx_point *seekidx_point(const struct seekidx *x, size_t i)
{
	return i < x->npoints ? &x->points[i] : NULL;
}

uint64_t seekidx_file_size(const struct seekidx *x)
{
	return x->file_len;
}

/* The entry named name (len bytes) of t that is a tree (dir) or not. */
static const struct seekidx_entry *lookup(const struct seekidx_tree *t, const char *name,
	size_t len, bool dir)
{
	size_t lo = 0, hi = t->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct seekidx_entry *e = &t->e[mid];
		bool edir = e->mode == 040000;
		int c = name_cmp(e->name, strlen(e->name), edir, name, len, dir);

		if (c == 0)
			return edir == dir && strlen(e->name) == len ? e : NULL;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

const struct seekidx_entry *seekidx_lookup(const struct seekidx_tree *t, const char *name,
	size_t len)
{
	const struct seekidx_entry *e;

	if (t == NULL || len == 0 || memchr(name, '\0', len) != NULL)
		return NULL;
	e = lookup(t, name, len, false);
	return e ? e : lookup(t, name, len, true);
}

const struct seekidx_file *seekidx_find_file(const struct seekidx *x,
	const uint8_t oid[HASH_SHA1_LEN])
{
	return x->nfiles ? bsearch(oid, x->files, x->nfiles, sizeof(*x->files), oid_cmp) : NULL;
}
