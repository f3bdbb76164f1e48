/*
 * tree_int.h - what the two halves of the git-tree-sha1 code share: the
 * in-memory tree of store/tree.c (struct tree_builder, its nodes) and the
 * calls store/tree_dir.c makes to fill one from a directory on disk.  Not a
 * public header: everything else uses store/hash.h.
 *
 * Thread safety: as hash.h says for a struct tree_builder; tree_dir.c's
 * worker threads write only the oid of the leaf each was handed.
 */
#ifndef ARTIFACTFS_STORE_TREE_INT_H
#define ARTIFACTFS_STORE_TREE_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/hash.h"
#include "store/util/buf.h"

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
	/* tree_builder_objects(): called with each tree object tb_hash_tree() hashes */
	int (*emit)(void *arg, const uint8_t *oid, const void *body, size_t len);
	void *emit_arg;
	unsigned emit_hidden;	/* > 0 below a .git entry its parent leaves out */
};

/* ceiling of a tree body being built, and of a directory's list of names */
#define TREE_BODY_MAX ((size_t)1 << 30)

/* ---- tree.c ------------------------------------------------------------- */

/*
 * tree_builder_create - tree_builder_new(), with the (parent, name) index
 * only when indexed is true.  Without it nothing can look a name up, so
 * only tree_node_link() may add nodes: for a walk that adds each name once
 * (tree_hash_dirat).  Errors and ownership as tree_builder_new().
 */
int tree_builder_create(bool indexed, struct tree_builder **ret);

/*
 * tree_node_alloc - a detached node of kind named by the len bytes at name,
 * with extra bytes after the name's NUL (HASH_SHA1_LEN for NODE_LEGACY).
 * Reserves the index slot first so that tree_node_link() cannot fail.
 * Returns NULL when out of memory or when len is over UINT32_MAX.  The node
 * belongs to tb once linked.
 */
struct tree_node *tree_node_alloc(struct tree_builder *tb, const char *name, size_t len,
	enum node_kind kind, size_t extra);

/*
 * tree_node_link - put the node n (from tree_node_alloc) into the directory
 * node parent, without looking for one of the same name.  Cannot fail.
 */
void tree_node_link(struct tree_builder *tb, struct tree_node *parent, struct tree_node *n);

/*
 * tree_link_oids - the git blob id of the symlink target (len bytes at
 * target) into oid and, when Julia's length() of it differs from len, Pkg's
 * legacy blob id into legacy with *has_legacy true (spec §2.2).  ctx is a
 * SHA-1 context, reset on the way.  Errors: -EIO from libcrypto.
 */
int tree_link_oids(struct hash_ctx *ctx, const char *target, size_t len,
	uint8_t oid[HASH_SHA1_LEN], uint8_t legacy[HASH_SHA1_LEN], bool *has_legacy);

#endif
