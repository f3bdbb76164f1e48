/*
 * tree.c - git-tree-sha1 with Julia Pkg's and Tar.jl's rules
 *
 * A tree_builder holds the tree in memory, one allocation per entry, and
 * hashes it on demand (tree_builder_final); tree_hash_dir() walks a directory
 * on disk into a builder, so the ordering and encoding rules live in one
 * place (tb_hash_tree).  Sources: Pkg.jl src/GitTools.jl (tree_hash,
 * contains_files, blob_hash), Tar.jl src/extract.jl (git_tree_hash), git's
 * tree object format; spec/julia-artifacts.md §2.1-2.3.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1	/* O_NOATIME */
#endif

#include "store/hash.h"
#include "store/util/buf.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

enum node_kind {
	NODE_DIR,
	NODE_FILE,	/* 100644 */
	NODE_EXEC,	/* 100755 */
	NODE_LINK,	/* 120000 */
};

/* node flags */
#define NODE_LEGACY 0x1	/* a symlink whose legacy blob id follows the name */

struct tree_node {
	struct tree_node *parent;		/* NULL for the root */
	struct tree_node *next, *prev;		/* siblings, unordered */
	struct tree_node *hnext;		/* index chain */
	union {
		struct tree_node *first;	/* NODE_DIR: first child */
		uint8_t oid[HASH_SHA1_LEN];	/* leaves: blob id */
	} u;
	uint32_t hval;				/* index hash of (parent, name) */
	uint32_t namelen;
	uint8_t kind;
	uint8_t flags;
	char name[];	/* namelen bytes and a NUL; then the legacy oid (NODE_LEGACY) */
};

struct tree_builder {
	struct tree_node *root;
	/* chained hash index of (parent, name); unused by tree_hash_dir() */
	bool indexed;
	struct tree_node **index;
	size_t index_size;	/* buckets, a power of 2 */
	size_t index_count;
	uint64_t seed;
	/* tb_hash_tree() scratch, used as stacks: one segment per level */
	struct tree_node **stack;
	size_t stack_len, stack_cap;
	struct buf body;
	struct hash_ctx *ctx;
};

#define INDEX_MIN 256
#define BODY_MAX ((size_t)1 << 30)

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
 * node_alloc - a detached node; extra bytes follow the name's NUL.
 * Reserves the index slot first so that node_link() cannot fail.
 */
static struct tree_node *node_alloc(struct tree_builder *tb, const char *name, size_t len,
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

static void node_link(struct tree_builder *tb, struct tree_node *parent, struct tree_node *n)
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
	node_link(tb, parent, n);
}

/* ---- builder ------------------------------------------------------------- */

static int builder_new(bool indexed, struct tree_builder **ret)
{
	struct tree_builder *tb;
	struct timespec ts;
	int r;

	tb = calloc(1, sizeof(*tb));
	if (!tb)
		return -ENOMEM;
	tb->indexed = indexed;
	buf_init(&tb->body, BODY_MAX);
	clock_gettime(CLOCK_MONOTONIC, &ts);
	tb->seed = (uint64_t)(uintptr_t)tb ^ ((uint64_t)ts.tv_nsec << 32) ^ (uint64_t)ts.tv_sec;
	tb->root = node_alloc(tb, "", 0, NODE_DIR, 0);
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
	return builder_new(true, ret);
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
			n = node_alloc(tb, s, (size_t)len, NODE_DIR, 0);
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
	n = node_alloc(tb, last, lastlen, kind, legacy_oid ? HASH_SHA1_LEN : 0);
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

/* link_oids - the git blob id of a symlink target and, if it differs, Pkg's */
static int link_oids(struct hash_ctx *ctx, const char *target, size_t len,
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

	r = link_oids(tb->ctx, target, target_len, oid, legacy, &has_legacy);
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
	bool sub_files;
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
			r = tb_hash_tree(tb, c, flags, sub, &sub_files);
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
	/* an empty tree may have no body buffer at all: no NULL + 0 */
	if (r >= 0 && tb->body.len > body_base)
		r = hash_ctx_update(tb->ctx, tb->body.ptr + body_base, tb->body.len - body_base);
	if (r >= 0)
		r = hash_ctx_final(tb->ctx, out);
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

/* ---- directories on disk ------------------------------------------------- */

/*
 * tree_hash_dirat() walks the directory in the calling thread (readdir,
 * fstatat, readlinkat, building the tree) and hands regular files to worker
 * threads, one per CPU, through a short queue; each worker has its own
 * digest context and read buffer and writes the blob id straight into the
 * file's node, which nothing else touches until the workers are joined.
 * A job keeps its directory open through a reference count, so the number
 * of open directories stays below QUEUE_LEN plus the depth.  Every shared
 * field below "lock" is only used with lock held.
 */

#define READ_BUFSIZE ((size_t)1 << 20)
#define MAX_WORKERS 8
#define QUEUE_LEN 64

struct walker;

/* what one thread needs to read and hash files */
struct hasher {
	struct walker *w;
	struct hash_ctx *ctx;
	uint8_t *buf;		/* READ_BUFSIZE bytes */
	int open_flags;		/* O_NOATIME until it fails with EPERM */
};

/* an open directory, shared by its walk_dir() and the jobs reading from it */
struct dirref {
	DIR *dir;
	struct tree_node *node;
	unsigned refs;
};

struct job {
	struct dirref *dir;
	struct tree_node *leaf;	/* a regular file; its oid receives the blob id */
	uint64_t size;
};

struct walker {
	struct tree_builder *tb;
	unsigned flags;
	const char *root;
	struct hasher self;	/* the walking thread's */
	uint8_t empty_oid[HASH_SHA1_LEN];
	unsigned nworkers;	/* 0: the walking thread hashes files itself */
	pthread_t threads[MAX_WORKERS];
	struct hasher hashers[MAX_WORKERS];

	pthread_mutex_t lock;
	pthread_cond_t cond_job, cond_space, cond_idle;
	struct job queue[QUEUE_LEN];
	size_t qhead, qlen;
	unsigned busy;		/* jobs taken but not finished */
	bool stop;
	int err;		/* first failure, and its path */
	char *errpath;
};

struct dent {
	uint64_t ino;
	size_t off;		/* of the name in the names buffer */
};

/*
 * fail_locked - record the first failure, err, at root/<d's path>/name
 * (name may be NULL); returns err.
 */
static int fail_locked(struct walker *w, const struct tree_node *d, const char *name, int err)
{
	const struct tree_node *n;
	size_t rootlen = strlen(w->root), namelen = name ? strlen(name) : 0, total, pos;
	char *p;

	if (w->err)
		return err;
	w->err = err;
	pthread_cond_broadcast(&w->cond_space);
	if (name || (d && d->parent))	/* "dir/" + "/x" would be "dir//x" */
		while (rootlen > 1 && w->root[rootlen - 1] == '/')
			rootlen--;
	total = rootlen + (name ? namelen + 1 : 0);
	for (n = d; n && n->parent; n = n->parent)
		total += (size_t)n->namelen + 1;
	p = malloc(total + 1);
	if (!p)
		return err;
	pos = total;
	p[pos] = '\0';
	if (name) {
		pos -= namelen;
		memcpy(p + pos, name, namelen);
		p[--pos] = '/';
	}
	for (n = d; n && n->parent; n = n->parent) {
		pos -= n->namelen;
		memcpy(p + pos, n->name, n->namelen);
		p[--pos] = '/';
	}
	memcpy(p, w->root, rootlen);
	w->errpath = p;
	return err;
}

static int walk_fail(struct walker *w, const struct tree_node *d, const char *name, int err)
{
	pthread_mutex_lock(&w->lock);
	fail_locked(w, d, name, err);
	pthread_mutex_unlock(&w->lock);
	return err;
}

static void dirref_put(struct walker *w, struct dirref *dr)
{
	bool last;

	pthread_mutex_lock(&w->lock);
	last = --dr->refs == 0;
	pthread_mutex_unlock(&w->lock);
	if (last) {
		closedir(dr->dir);
		free(dr);
	}
}

static int walk_add(struct walker *w, struct tree_node *d, const char *name, enum node_kind kind,
	const uint8_t *oid, const uint8_t *legacy, struct tree_node **ret)
{
	struct tree_node *n;

	n = node_alloc(w->tb, name, strlen(name), kind, legacy ? HASH_SHA1_LEN : 0);
	if (!n)
		return -ENOMEM;
	if (oid)
		memcpy(n->u.oid, oid, HASH_SHA1_LEN);
	if (legacy) {
		n->flags |= NODE_LEGACY;
		memcpy(n->name + n->namelen + 1, legacy, HASH_SHA1_LEN);
	}
	node_link(w->tb, d, n);
	if (ret)
		*ret = n;
	return 0;
}

/* hash_file - git blob id of the size-byte regular file name in dfd */
static int hash_file(struct hasher *h, int dfd, const char *name, uint64_t size,
	uint8_t oid[HASH_SHA1_LEN])
{
	uint64_t left = size;
	ssize_t n;
	int fd, r;

	fd = openat(dfd, name, h->open_flags);
	if (fd < 0 && errno == EPERM && (h->open_flags & O_NOATIME)) {
		h->open_flags &= ~O_NOATIME;
		fd = openat(dfd, name, h->open_flags);
	}
	if (fd < 0)
		return -errno;
	if (size > READ_BUFSIZE)
		(void)posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	r = hash_git_blob_start(h->ctx, size);
	/* read exactly size bytes: the header already promised them */
	while (r >= 0 && left > 0) {
		n = read(fd, h->buf, left < READ_BUFSIZE ? (size_t)left : READ_BUFSIZE);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			r = -errno;
		} else if (n == 0) {
			r = -EIO;	/* the file shrank while it was read */
		} else {
			r = hash_ctx_update(h->ctx, h->buf, (size_t)n);
			left -= (uint64_t)n;
		}
	}
	if (r >= 0)
		r = hash_ctx_final(h->ctx, oid);
	close(fd);
	return r;
}

static void *worker_main(void *arg)
{
	struct hasher *h = arg;
	struct walker *w = h->w;
	struct job job;
	int r;

	pthread_mutex_lock(&w->lock);
	for (;;) {
		while (!w->qlen && !w->stop)
			pthread_cond_wait(&w->cond_job, &w->lock);
		if (!w->qlen)
			break;
		job = w->queue[w->qhead];
		w->qhead = (w->qhead + 1) % QUEUE_LEN;
		w->qlen--;
		w->busy++;
		pthread_cond_signal(&w->cond_space);
		r = w->err;	/* after a failure, only drain the queue */
		pthread_mutex_unlock(&w->lock);

		if (!r) {
			r = hash_file(h, dirfd(job.dir->dir), job.leaf->name, job.size,
				job.leaf->u.oid);
			if (r < 0)
				walk_fail(w, job.dir->node, job.leaf->name, r);
		}
		dirref_put(w, job.dir);

		pthread_mutex_lock(&w->lock);
		w->busy--;
		if (!w->qlen && !w->busy)
			pthread_cond_broadcast(&w->cond_idle);
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

/* hash_regular - hash leaf now, or queue it for a worker */
static int hash_regular(struct walker *w, struct dirref *dr, struct tree_node *leaf,
	uint64_t size)
{
	int r;

	if (!w->nworkers)
		return hash_file(&w->self, dirfd(dr->dir), leaf->name, size, leaf->u.oid);
	pthread_mutex_lock(&w->lock);
	while (w->qlen == QUEUE_LEN && !w->err)
		pthread_cond_wait(&w->cond_space, &w->lock);
	r = w->err;
	if (!r) {
		w->queue[(w->qhead + w->qlen) % QUEUE_LEN] =
			(struct job){ .dir = dr, .leaf = leaf, .size = size };
		w->qlen++;
		dr->refs++;
		pthread_cond_signal(&w->cond_job);
	}
	pthread_mutex_unlock(&w->lock);
	return r;
}

static int hasher_init(struct hasher *h, struct walker *w)
{
	int r;

	h->w = w;
	h->open_flags = O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC | O_NOATIME;
	h->buf = malloc(READ_BUFSIZE);
	if (!h->buf)
		return -ENOMEM;
	r = hash_ctx_new(HASH_SHA1, &h->ctx);
	if (r < 0) {
		free(h->buf);
		h->buf = NULL;
	}
	return r;
}

static void hasher_release(struct hasher *h)
{
	hash_ctx_free(h->ctx);
	free(h->buf);
}

/* start_workers - one worker per online CPU, up to MAX_WORKERS; fewer is fine */
static void start_workers(struct walker *w)
{
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	unsigned i, want = ncpu > MAX_WORKERS ? MAX_WORKERS : ncpu > 1 ? (unsigned)ncpu : 0;

	if (w->flags & TREE_ONE_THREAD)
		want = 0;
	for (i = 0; i < want; i++) {
		if (hasher_init(&w->hashers[i], w) < 0)
			break;
		if (pthread_create(&w->threads[i], NULL, worker_main, &w->hashers[i]) != 0) {
			hasher_release(&w->hashers[i]);
			break;
		}
		w->nworkers++;
	}
}

/* stop_workers - wait for the queue to drain, then join the workers */
static void stop_workers(struct walker *w)
{
	unsigned i;

	pthread_mutex_lock(&w->lock);
	while (w->qlen || w->busy)
		pthread_cond_wait(&w->cond_idle, &w->lock);
	w->stop = true;
	pthread_cond_broadcast(&w->cond_job);
	pthread_mutex_unlock(&w->lock);
	for (i = 0; i < w->nworkers; i++) {
		pthread_join(w->threads[i], NULL);
		hasher_release(&w->hashers[i]);
	}
	w->nworkers = 0;
}

/*
 * contains_files - Pkg's contains_files() for the directory name in dfd:
 * 1 when its subtree holds any non-directory entry, else 0; or -errno.
 */
static int contains_files(int dfd, const char *name, unsigned depth)
{
	struct dirent *de;
	struct stat st;
	DIR *dir;
	int fd, r = 0;

	if (depth > TREE_MAX_DEPTH)
		return -ENAMETOOLONG;
	fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	dir = fdopendir(fd);
	if (!dir) {
		r = -errno;
		close(fd);
		return r;
	}
	for (;;) {
		errno = 0;
		de = readdir(dir);
		if (!de) {
			r = errno ? -errno : 0;
			break;
		}
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (de->d_type == DT_UNKNOWN) {
			if (fstatat(dirfd(dir), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
				r = -errno;
				break;
			}
			if (!S_ISDIR(st.st_mode)) {
				r = 1;
				break;
			}
		} else if (de->d_type != DT_DIR) {
			r = 1;
			break;
		}
		r = contains_files(dirfd(dir), de->d_name, depth + 1);
		if (r != 0)
			break;
	}
	closedir(dir);
	return r;
}

static int dent_by_ino(const void *a, const void *b)
{
	const struct dent *x = a, *y = b;

	return x->ino < y->ino ? -1 : x->ino > y->ino;
}

/* read_dir - all names in dir but "." and "..", sorted by inode number */
static int read_dir(DIR *dir, struct buf *names, struct dent **ret, size_t *ret_n)
{
	struct dent *v = NULL, *nv;
	size_t n = 0, cap = 0;
	struct dirent *de;
	int r = 0;

	for (;;) {
		errno = 0;
		de = readdir(dir);
		if (!de) {
			r = -errno;
			break;
		}
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 32;
			nv = realloc(v, cap * sizeof(*v));
			if (!nv) {
				r = -ENOMEM;
				break;
			}
			v = nv;
		}
		v[n].ino = de->d_ino;
		v[n].off = names->len;
		r = buf_add(names, de->d_name, strlen(de->d_name) + 1);
		if (r < 0)
			break;
		n++;
	}
	if (r < 0) {
		free(v);
		return r;
	}
	/* inode order reads a cold ext4/xfs tree with fewer seeks */
	if (n > 1)
		qsort(v, n, sizeof(*v), dent_by_ino);
	*ret = v;
	*ret_n = n;
	return 0;
}

/*
 * walk_entry - add the entry name of directory dr, whose lstat is st.
 * Failures are recorded by the caller, except those of deeper levels.
 */
static int walk_dir(struct walker *w, int dfd, struct tree_node *d, unsigned depth);

static int walk_entry(struct walker *w, struct dirref *dr, const char *name,
	const struct stat *st, unsigned depth)
{
	uint8_t oid[HASH_SHA1_LEN], legacy[HASH_SHA1_LEN];
	int dfd = dirfd(dr->dir), fd, r;
	struct tree_node *n;
	bool has_legacy;
	ssize_t len;

	if (!(w->flags & TREE_KEEP_DOTGIT) && strcmp(name, ".git") == 0) {
		/*
		 * Never hashed, but it makes its parent non-empty when it holds
		 * anything: record a placeholder leaf, which tb_hash_tree()
		 * counts and skips.
		 */
		if (S_ISDIR(st->st_mode)) {
			r = contains_files(dfd, name, depth + 1);
			if (r <= 0)
				return r;
		}
		return walk_add(w, dr->node, name, NODE_FILE, w->empty_oid, NULL, NULL);
	}
	switch (st->st_mode & S_IFMT) {
	case S_IFDIR:
		if (depth + 1 > TREE_MAX_DEPTH)
			return -ENAMETOOLONG;
		r = walk_add(w, dr->node, name, NODE_DIR, NULL, NULL, &n);
		if (r < 0)
			return r;
		fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			return -errno;
		return walk_dir(w, fd, n, depth + 1);
	case S_IFLNK:
		len = readlinkat(dfd, name, (char *)w->self.buf, READ_BUFSIZE);
		if (len < 0)
			return -errno;
		if ((size_t)len == READ_BUFSIZE)
			return -ENAMETOOLONG;
		r = link_oids(w->self.ctx, (const char *)w->self.buf, (size_t)len, oid, legacy,
			&has_legacy);
		if (r < 0)
			return r;
		return walk_add(w, dr->node, name, NODE_LINK, oid, has_legacy ? legacy : NULL,
			NULL);
	case S_IFREG:
		r = walk_add(w, dr->node, name, (st->st_mode & S_IXUSR) ? NODE_EXEC : NODE_FILE,
			NULL, NULL, &n);
		if (r < 0)
			return r;
		return hash_regular(w, dr, n, (uint64_t)st->st_size);
	default:
		/* fifo, socket, device: an empty regular file, never opened */
		return walk_add(w, dr->node, name, (st->st_mode & S_IXUSR) ? NODE_EXEC : NODE_FILE,
			w->empty_oid, NULL, NULL);
	}
}

/*
 * walk_dir - add the entries of the open directory dfd (consumed) below the
 * builder node d.  Recursion depth is the directory depth, at most
 * TREE_MAX_DEPTH; returns 0 or the first failure, already recorded.
 */
static int walk_dir(struct walker *w, int dfd, struct tree_node *d, unsigned depth)
{
	struct dent *ents = NULL;
	struct dirref *dr;
	struct buf names;
	const char *name;
	struct stat st;
	size_t n = 0, i;
	int r;

	dr = malloc(sizeof(*dr));
	if (!dr) {
		close(dfd);
		return walk_fail(w, d, NULL, -ENOMEM);
	}
	dr->dir = fdopendir(dfd);
	if (!dr->dir) {
		r = walk_fail(w, d, NULL, -errno);
		close(dfd);
		free(dr);
		return r;
	}
	dr->node = d;
	dr->refs = 1;
	buf_init(&names, BODY_MAX);
	r = read_dir(dr->dir, &names, &ents, &n);
	if (r < 0) {
		walk_fail(w, d, NULL, r);
		goto out;
	}
	for (i = 0; i < n; i++) {
		name = names.ptr + ents[i].off;
		if (fstatat(dirfd(dr->dir), name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			r = -errno;
		else
			r = walk_entry(w, dr, name, &st, depth);
		if (r < 0) {
			walk_fail(w, d, name, r);	/* keeps a deeper first failure */
			break;
		}
	}
out:
	free(ents);
	buf_release(&names);
	dirref_put(w, dr);
	return r;
}

int tree_hash_dirat(int dirfd, const char *dir, unsigned flags, uint8_t out[HASH_SHA1_LEN],
	char **errpath)
{
	struct walker w = {
		.flags = flags,
		.root = dir,
		.lock = PTHREAD_MUTEX_INITIALIZER,
		.cond_job = PTHREAD_COND_INITIALIZER,
		.cond_space = PTHREAD_COND_INITIALIZER,
		.cond_idle = PTHREAD_COND_INITIALIZER,
	};
	uint8_t oid[HASH_SHA1_LEN];
	int fd, r;

	r = builder_new(false, &w.tb);
	if (r >= 0)
		r = hasher_init(&w.self, &w);
	if (r >= 0)
		r = hash_git_blob_start(w.self.ctx, 0);
	if (r >= 0)
		r = hash_ctx_final(w.self.ctx, w.empty_oid);
	if (r < 0) {
		walk_fail(&w, NULL, NULL, r);
		goto out;
	}
	fd = openat(dirfd, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		r = walk_fail(&w, NULL, NULL, -errno);
		goto out;
	}
	start_workers(&w);
	walk_dir(&w, fd, w.tb->root, 0);
	stop_workers(&w);
	r = w.err;	/* the walker's or a worker's */
	if (r >= 0)
		r = tree_builder_final(w.tb, flags, oid);
	if (r < 0)
		walk_fail(&w, NULL, NULL, r);
out:
	if (r >= 0)
		memcpy(out, oid, HASH_SHA1_LEN);
	if (errpath)
		*errpath = r < 0 ? w.errpath : NULL;
	if (r >= 0 || !errpath)
		free(w.errpath);
	hasher_release(&w.self);
	tree_builder_free(w.tb);
	return r;
}

int tree_hash_dir(const char *dir, unsigned flags, uint8_t out[HASH_SHA1_LEN], char **errpath)
{
	return tree_hash_dirat(AT_FDCWD, dir, flags, out, errpath);
}
