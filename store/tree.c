/*
 * tree.c - the git tree object builder: an in-memory tree with Tar.jl's
 * path rules, hashed with git's entry order and encoding and Pkg's rules
 *
 * A tree_builder holds the tree in memory, one allocation per entry, and
 * hashes it on demand (tree_builder_final); tree_hash_dir() (tree_dir.c)
 * walks a directory on disk into a builder, so the ordering and encoding
 * rules live in one place (tb_hash_tree).  Sources: Pkg.jl src/GitTools.jl
 * (tree_hash, contains_files, blob_hash), Tar.jl src/extract.jl
 * (git_tree_hash), git's tree object format; spec/julia-artifacts.md
 * §2.1-2.3.  What tree_dir.c uses is declared in tree_int.h.
 */
#include "store/tree_int.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define INDEX_MIN 256

static const char *const kind_mode[] = {
	[NODE_DIR] = "40000",
	[NODE_FILE] = "100644",
	[NODE_EXEC] = "100755",
	[NODE_LINK] = "120000",
};

/* ---- nodes and the index ------------------------------------------------- */

static uint32_t key_hash(const struct tree_builder *tb, const struct tree_node *parent,
	const char *name, size_t len)
{
	uint64_t h = tb->seed ^ ((uint64_t)(uintptr_t)parent * 0x9e3779b97f4a7c15ULL);
	size_t i;

	/* FNV-1a, seeded per builder, with a final mix */
	for (i = 0; i < len; i++) {
		h ^= (uint8_t)name[i];
		h *= 0x100000001b3ULL;
	}
	h ^= h >> 31;
	h *= 0xbf58476d1ce4e5b9ULL;
	h ^= h >> 29;
	return (uint32_t)h;
}

static int index_reserve(struct tree_builder *tb)
{
	struct tree_node **nidx, *n, *next;
	size_t nsize, i, b;

	if (!tb->indexed || tb->index_count < tb->index_size)
		return 0;
	nsize = tb->index_size ? tb->index_size * 2 : INDEX_MIN;
	nidx = calloc(nsize, sizeof(*nidx));
	if (!nidx)
		return -ENOMEM;
	for (i = 0; i < tb->index_size; i++) {
		for (n = tb->index[i]; n; n = next) {
			next = n->hnext;
			b = n->hval & (nsize - 1);
			n->hnext = nidx[b];
			nidx[b] = n;
		}
	}
	free(tb->index);
	tb->index = nidx;
	tb->index_size = nsize;
	return 0;
}

static void index_remove(struct tree_builder *tb, struct tree_node *n)
{
	struct tree_node **pp;

	if (!tb->indexed)
		return;
	pp = &tb->index[n->hval & (tb->index_size - 1)];
	while (*pp && *pp != n)
		pp = &(*pp)->hnext;
	if (*pp) {
		*pp = n->hnext;
		tb->index_count--;
	}
}

static struct tree_node *node_lookup(const struct tree_builder *tb,
	const struct tree_node *parent, const char *name, size_t len)
{
	struct tree_node *n;
	uint32_t h;

	if (!tb->index_size)
		return NULL;
	h = key_hash(tb, parent, name, len);
	for (n = tb->index[h & (tb->index_size - 1)]; n; n = n->hnext)
		if (n->hval == h && n->parent == parent && n->namelen == len &&
			memcmp(n->name, name, len) == 0)
			return n;
	return NULL;
}

/*
 * tree_node_alloc - a detached node; extra bytes follow the name's NUL.
 * Reserves the index slot first so that tree_node_link() cannot fail.
 */
struct tree_node *tree_node_alloc(struct tree_builder *tb, const char *name, size_t len,
	enum node_kind kind, size_t extra)
{
	struct tree_node *n;

	if (len > UINT32_MAX || index_reserve(tb) < 0)
		return NULL;
	n = malloc(offsetof(struct tree_node, name) + len + 1 + extra);
	if (!n)
		return NULL;
	memset(n, 0, offsetof(struct tree_node, name));
	memcpy(n->name, name, len);
	n->name[len] = '\0';
	n->namelen = (uint32_t)len;
	n->kind = (uint8_t)kind;
	return n;
}

void tree_node_link(struct tree_builder *tb, struct tree_node *parent, struct tree_node *n)
{
	size_t b;

	n->parent = parent;
	n->prev = NULL;
	n->next = parent->u.first;
	if (n->next)
		n->next->prev = n;
	parent->u.first = n;
	if (tb->indexed) {
		n->hval = key_hash(tb, parent, n->name, n->namelen);
		b = n->hval & (tb->index_size - 1);
		n->hnext = tb->index[b];
		tb->index[b] = n;
		tb->index_count++;
	}
}

/*
 * free_children - free every node below d, without recursion: each freed
 * directory's child list is spliced in front of the work list.
 */
static void free_children(struct tree_builder *tb, struct tree_node *d, bool unindex)
{
	struct tree_node *list = d->u.first, *n, *last;

	d->u.first = NULL;
	while (list) {
		n = list;
		list = n->next;
		if (n->kind == NODE_DIR && n->u.first) {
			for (last = n->u.first; last->next; last = last->next)
				;
			last->next = list;
			list = n->u.first;
		}
		if (unindex)
			index_remove(tb, n);
		free(n);
	}
}

/* node_remove - unlink n from its parent and free it with its subtree */
static void node_remove(struct tree_builder *tb, struct tree_node *n)
{
	if (n->prev)
		n->prev->next = n->next;
	else
		n->parent->u.first = n->next;
	if (n->next)
		n->next->prev = n->prev;
	index_remove(tb, n);
	if (n->kind == NODE_DIR)
		free_children(tb, n, true);
	free(n);
}

/* node_replace - put n in parent, in place of old when old is not NULL */
static void node_replace(struct tree_builder *tb, struct tree_node *parent,
	struct tree_node *old, struct tree_node *n)
{
	if (old)
		node_remove(tb, old);
	tree_node_link(tb, parent, n);
}

/* ---- builder ------------------------------------------------------------- */

int tree_builder_create(bool indexed, struct tree_builder **ret)
{
	struct tree_builder *tb;
	struct timespec ts;
	int r;

	tb = calloc(1, sizeof(*tb));
	if (!tb)
		return -ENOMEM;
	tb->indexed = indexed;
	buf_init(&tb->body, TREE_BODY_MAX);
	clock_gettime(CLOCK_MONOTONIC, &ts);
	tb->seed = (uint64_t)(uintptr_t)tb ^ ((uint64_t)ts.tv_nsec << 32) ^ (uint64_t)ts.tv_sec;
	tb->root = tree_node_alloc(tb, "", 0, NODE_DIR, 0);
	if (!tb->root) {
		r = -ENOMEM;
		goto fail;
	}
	r = hash_ctx_new(HASH_SHA1, &tb->ctx);
	if (r < 0)
		goto fail;
	*ret = tb;
	return 0;
fail:
	tree_builder_free(tb);
	return r;
}

int tree_builder_new(struct tree_builder **ret)
{
	return tree_builder_create(true, ret);
}

void tree_builder_free(struct tree_builder *tb)
{
	if (!tb)
		return;
	if (tb->root) {
		free_children(tb, tb->root, false);
		free(tb->root);
	}
	free(tb->index);
	free(tb->stack);
	buf_release(&tb->body);
	hash_ctx_free(tb->ctx);
	free(tb);
}

/*
 * next_component - the next path component at *p that is not "" or ".";
 * returns its length (0 at the end) and leaves *p after it, *start at it.
 * A ".." component returns -1.
 */
static ptrdiff_t next_component(const char **p, const char **start)
{
	const char *s;

	for (;;) {
		while (**p == '/')
			(*p)++;
		if (!**p)
			return 0;
		s = *p;
		while (**p && **p != '/')
			(*p)++;
		if (*p - s == 1 && s[0] == '.')
			continue;
		if (*p - s == 2 && s[0] == '.' && s[1] == '.')
			return -1;
		*start = s;
		return *p - s;
	}
}

/*
 * check_path - validate path before anything is changed; on success the last
 * component is returned in *last and *lastlen (NULL and 0 for the root).
 */
static int check_path(const char *path, const char **last, size_t *lastlen)
{
	const char *p = path, *s = NULL;
	ptrdiff_t n;
	size_t depth = 0;

	if (path[0] == '/')
		return -EINVAL;
	*last = NULL;
	*lastlen = 0;
	while ((n = next_component(&p, &s)) != 0) {
		if (n < 0)
			return -EINVAL;
		if ((size_t)n > UINT32_MAX || ++depth > TREE_MAX_DEPTH)
			return -ENAMETOOLONG;
		*last = s;
		*lastlen = (size_t)n;
	}
	return 0;
}

/*
 * make_parents - find the directory that holds the last component of a
 * checked path, creating missing directories and turning leaves met on the
 * way into empty directories (Tar.jl git_tree_hash).
 */
static int make_parents(struct tree_builder *tb, const char *path, const char *last,
	struct tree_node **ret)
{
	struct tree_node *d = tb->root, *c, *n;
	const char *p = path, *s = NULL;
	ptrdiff_t len;

	while ((len = next_component(&p, &s)) > 0 && s != last) {
		c = node_lookup(tb, d, s, (size_t)len);
		if (!c || c->kind != NODE_DIR) {
			n = tree_node_alloc(tb, s, (size_t)len, NODE_DIR, 0);
			if (!n)
				return -ENOMEM;
			node_replace(tb, d, c, n);
			c = n;
		}
		d = c;
	}
	*ret = d;
	return 0;
}

/* add_node - the common part of the tree_builder_add_*() functions */
static int add_node(struct tree_builder *tb, const char *path, enum node_kind kind,
	const uint8_t *oid, const uint8_t *legacy_oid)
{
	struct tree_node *d, *n;
	const char *last;
	size_t lastlen;
	int r;

	r = check_path(path, &last, &lastlen);
	if (r < 0)
		return r;
	if (!last)	/* the root: Tar.jl ignores "." entries */
		return kind == NODE_DIR ? 0 : -EINVAL;
	r = make_parents(tb, path, last, &d);
	if (r < 0)
		return r;
	/*
	 * A directory entry over an existing directory keeps its contents:
	 * Tar.jl's git_tree_hash and extract_tarball both do so since
	 * Tar.jl 1.9 ("if !(get(node, name, nothing) isa Dict)").
	 */
	if (kind == NODE_DIR) {
		n = node_lookup(tb, d, last, lastlen);
		if (n && n->kind == NODE_DIR)
			return 0;
	}
	n = tree_node_alloc(tb, last, lastlen, kind, legacy_oid ? HASH_SHA1_LEN : 0);
	if (!n)
		return -ENOMEM;
	if (oid)
		memcpy(n->u.oid, oid, HASH_SHA1_LEN);
	if (legacy_oid) {
		n->flags |= NODE_LEGACY;
		memcpy(n->name + lastlen + 1, legacy_oid, HASH_SHA1_LEN);
	}
	node_replace(tb, d, node_lookup(tb, d, last, lastlen), n);
	return 0;
}

int tree_builder_add_file(struct tree_builder *tb, const char *path, bool executable,
	const uint8_t oid[HASH_SHA1_LEN])
{
	return add_node(tb, path, executable ? NODE_EXEC : NODE_FILE, oid, NULL);
}

int tree_builder_add_dir(struct tree_builder *tb, const char *path)
{
	return add_node(tb, path, NODE_DIR, NULL, NULL);
}

/*
 * julia_length - length(::String) of Julia for the len bytes at s: the
 * number of characters, where a lead byte 0xc0-0xf7 absorbs up to 1, 2 or 3
 * following continuation bytes and any other byte counts as one character
 * (base/strings/string.jl, length_continued).  Pkg's legacy blob header for a
 * symlink uses it.
 */
static uint64_t julia_length(const uint8_t *s, size_t len)
{
	uint64_t c = len;
	size_t i = 0;
	int want;

	while (i < len) {
		uint8_t l = s[i++];

		if (l < 0xc0 || l > 0xf7)
			continue;
		want = l >= 0xf0 ? 3 : l >= 0xe0 ? 2 : 1;
		while (want-- > 0 && i < len && (s[i] & 0xc0) == 0x80) {
			c--;
			i++;
		}
	}
	return c;
}

/* tree_link_oids - the git blob id of a symlink target and, if it differs, Pkg's */
int tree_link_oids(struct hash_ctx *ctx, const char *target, size_t len,
	uint8_t oid[HASH_SHA1_LEN], uint8_t legacy[HASH_SHA1_LEN], bool *has_legacy)
{
	uint64_t chars = julia_length((const uint8_t *)target, len);
	int r;

	r = hash_git_blob_start(ctx, len);
	if (r >= 0)
		r = hash_ctx_update(ctx, target, len);
	if (r >= 0)
		r = hash_ctx_final(ctx, oid);
	*has_legacy = r >= 0 && chars != len;
	if (!*has_legacy)
		return r;
	r = hash_git_blob_start(ctx, chars);
	if (r >= 0)
		r = hash_ctx_update(ctx, target, len);
	if (r >= 0)
		r = hash_ctx_final(ctx, legacy);
	return r;
}

int tree_builder_add_symlink(struct tree_builder *tb, const char *path, const char *target,
	size_t target_len)
{
	uint8_t oid[HASH_SHA1_LEN], legacy[HASH_SHA1_LEN];
	bool has_legacy;
	int r;

	r = tree_link_oids(tb->ctx, target, target_len, oid, legacy, &has_legacy);
	if (r < 0)
		return r;
	return add_node(tb, path, NODE_LINK, oid, has_legacy ? legacy : NULL);
}

int tree_builder_add_hardlink(struct tree_builder *tb, const char *path, const char *target,
	bool executable)
{
	struct tree_node *n = tb->root;
	const char *p = target, *s = NULL, *last;
	uint8_t oid[HASH_SHA1_LEN];
	size_t lastlen;
	ptrdiff_t len;
	int r;

	r = check_path(target, &last, &lastlen);
	if (r < 0)
		return r;
	if (!last)
		return -EINVAL;
	while (n && (len = next_component(&p, &s)) > 0)
		n = n->kind == NODE_DIR ? node_lookup(tb, n, s, (size_t)len) : NULL;
	if (!n)
		return -ENOENT;
	if (n->kind != NODE_FILE && n->kind != NODE_EXEC)
		return -EINVAL;
	memcpy(oid, n->u.oid, sizeof(oid));	/* path may replace the target */
	return tree_builder_add_file(tb, path, executable, oid);
}

/* ---- hashing ------------------------------------------------------------- */

/*
 * git_order - git's tree entry order (base_name_compare): bytes, with a
 * directory compared as if its name ended in '/'.  Names in one directory
 * are distinct, so two entries never compare equal.
 */
static int git_order(const void *a, const void *b)
{
	const struct tree_node *x = *(const struct tree_node *const *)a;
	const struct tree_node *y = *(const struct tree_node *const *)b;
	size_t n = x->namelen < y->namelen ? x->namelen : y->namelen;
	unsigned cx, cy;
	int r;

	r = memcmp(x->name, y->name, n);
	if (r)
		return r;
	cx = x->namelen > n ? (uint8_t)x->name[n] : x->kind == NODE_DIR ? '/' : 0;
	cy = y->namelen > n ? (uint8_t)y->name[n] : y->kind == NODE_DIR ? '/' : 0;
	return cx < cy ? -1 : cx > cy;
}

static bool is_dotgit(const struct tree_node *n)
{
	return n->namelen == 4 && memcmp(n->name, ".git", 4) == 0;
}

static int stack_push(struct tree_builder *tb, struct tree_node *n)
{
	struct tree_node **p;
	size_t cap;

	if (tb->stack_len == tb->stack_cap) {
		cap = tb->stack_cap ? tb->stack_cap * 2 : 64;
		p = realloc(tb->stack, cap * sizeof(*p));
		if (!p)
			return -ENOMEM;
		tb->stack = p;
		tb->stack_cap = cap;
	}
	tb->stack[tb->stack_len++] = n;
	return 0;
}

/*
 * tb_hash_tree - the tree id of directory d into out, and whether its subtree
 * holds any non-directory entry (Pkg contains_files, .git included).
 *
 * The children of d are pushed on tb->stack and sorted there; the tree body
 * is appended to tb->body.  A subdirectory's recursion uses the space above
 * and gives it back before returning, so both act as stacks of per-level
 * segments, addressed by index because they may move when they grow.
 */
static int tb_hash_tree(struct tree_builder *tb, const struct tree_node *d, unsigned flags,
	uint8_t out[HASH_SHA1_LEN], bool *has_files)
{
	size_t base = tb->stack_len, body_base = tb->body.len, n = 0, i;
	uint8_t sub[HASH_SHA1_LEN];
	struct tree_node *c;
	const uint8_t *oid;
	char hdr[32];
	bool sub_files, hide;
	int r = 0, len;

	*has_files = false;
	for (c = d->u.first; c; c = c->next, n++) {
		r = stack_push(tb, c);
		if (r < 0)
			goto out;
	}
	if (n > 1)
		qsort(tb->stack + base, n, sizeof(*tb->stack), git_order);
	for (i = 0; i < n; i++) {
		c = tb->stack[base + i];
		if (c->kind == NODE_DIR) {
			hide = !(flags & TREE_KEEP_DOTGIT) && is_dotgit(c);
			tb->emit_hidden += hide;
			r = tb_hash_tree(tb, c, flags, sub, &sub_files);
			tb->emit_hidden -= hide;
			if (r < 0)
				goto out;
			*has_files |= sub_files;
			if (!sub_files && !(flags & TREE_KEEP_EMPTY))
				continue;
			oid = sub;
		} else {
			*has_files = true;
			oid = c->u.oid;
			if ((c->flags & NODE_LEGACY) && (flags & TREE_LEGACY_SYMLINKS))
				oid = (const uint8_t *)c->name + c->namelen + 1;
		}
		if (!(flags & TREE_KEEP_DOTGIT) && is_dotgit(c))
			continue;
		/* "<mode> <name>\0<20-byte id>"; the node's name is NUL-terminated */
		r = buf_adds(&tb->body, kind_mode[c->kind]);
		if (r >= 0)
			r = buf_addc(&tb->body, ' ');
		if (r >= 0)
			r = buf_add(&tb->body, c->name, (size_t)c->namelen + 1);
		if (r >= 0)
			r = buf_add(&tb->body, oid, HASH_SHA1_LEN);
		if (r < 0)
			goto out;
	}
	len = snprintf(hdr, sizeof(hdr), "tree %zu", tb->body.len - body_base);
	r = hash_ctx_reset(tb->ctx);
	if (r >= 0)
		r = hash_ctx_update(tb->ctx, hdr, (size_t)len + 1);
	if (r >= 0 && tb->body.len > body_base) /* an empty tree: body.ptr may be NULL */
		r = hash_ctx_update(tb->ctx, tb->body.ptr + body_base, tb->body.len - body_base);
	if (r >= 0)
		r = hash_ctx_final(tb->ctx, out);
	/* a kept object only: a directory without files is left out by its parent */
	if (r >= 0 && tb->emit && !tb->emit_hidden &&
		(*has_files || (flags & TREE_KEEP_EMPTY) || d == tb->root))
		r = tb->emit(tb->emit_arg, out, tb->body.ptr ? tb->body.ptr + body_base : "",
			tb->body.len - body_base);
out:
	tb->stack_len = base;
	tb->body.len = body_base;	/* drop this level's body (buf.h has no setlen) */
	if (tb->body.ptr)
		tb->body.ptr[body_base] = '\0';
	return r;
}

int tree_builder_final(struct tree_builder *tb, unsigned flags, uint8_t out[HASH_SHA1_LEN])
{
	uint8_t oid[HASH_SHA1_LEN];
	bool has_files;
	int r;

	r = tb_hash_tree(tb, tb->root, flags, oid, &has_files);
	if (r < 0)
		return r;
	memcpy(out, oid, HASH_SHA1_LEN);
	return 0;
}

/* ---- tree objects -------------------------------------------------------- */

/* One object collected by tree_builder_objects(): its body is at off in objs_body. */
struct obj_rec {
	uint8_t oid[HASH_SHA1_LEN];
	size_t off, len;
	bool dup;
};

struct objs {
	struct obj_rec *v;
	size_t n, cap;
	struct buf body;
};

static int objs_add(void *arg, const uint8_t *oid, const void *body, size_t len)
{
	struct objs *o = arg;
	struct obj_rec *p;
	size_t cap;
	int r;

	if (o->n == o->cap) {
		cap = o->cap ? o->cap * 2 : 64;
		p = realloc(o->v, cap * sizeof(*p));
		if (!p)
			return -ENOMEM;
		o->v = p;
		o->cap = cap;
	}
	p = &o->v[o->n];
	memcpy(p->oid, oid, HASH_SHA1_LEN);
	p->off = o->body.len;
	p->len = len;
	p->dup = false;
	r = len ? buf_add(&o->body, body, len) : 0;
	if (r < 0)
		return r == -E2BIG ? -E2BIG : -ENOMEM;
	o->n++;
	return 0;
}

static int oid_order(const void *a, const void *b)
{
	const struct obj_rec *x = *(const struct obj_rec *const *)a;
	const struct obj_rec *y = *(const struct obj_rec *const *)b;
	int r = memcmp(x->oid, y->oid, HASH_SHA1_LEN);

	/* equal ids: the one hashed first is kept */
	return r ? r : (x < y ? -1 : x > y);
}

int tree_builder_objects(struct tree_builder *tb, tree_object_fn fn, void *arg)
{
	struct objs o = {0};
	struct obj_rec **byoid = NULL;
	bool has_files;
	uint8_t root[HASH_SHA1_LEN];
	size_t i;
	int r;

	buf_init(&o.body, TREE_BODY_MAX);
	tb->emit = objs_add;
	tb->emit_arg = &o;
	r = tb_hash_tree(tb, tb->root, 0, root, &has_files);
	tb->emit = NULL;
	tb->emit_arg = NULL;
	if (r < 0)
		goto out;
	/* identical subtrees hash to one object: keep its first copy */
	byoid = malloc((o.n ? o.n : 1) * sizeof(*byoid));
	if (!byoid) {
		r = -ENOMEM;
		goto out;
	}
	for (i = 0; i < o.n; i++)
		byoid[i] = &o.v[i];
	qsort(byoid, o.n, sizeof(*byoid), oid_order);
	for (i = 1; i < o.n; i++)
		if (memcmp(byoid[i]->oid, byoid[i - 1]->oid, HASH_SHA1_LEN) == 0)
			byoid[i]->dup = true;
	/* the root is hashed last (post-order) and handed out first */
	for (i = 0; i < o.n && r == 0; i++) {
		struct obj_rec *p = i == 0 ? &o.v[o.n - 1] : &o.v[i - 1];

		if (p->dup)
			continue;
		r = fn(arg, p->oid, p->len ? o.body.ptr + p->off : "", p->len);
	}
out:
	free(byoid);
	free(o.v);
	buf_release(&o.body);
	return r;
}
