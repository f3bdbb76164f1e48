/*
 * hash.h - digests (SHA-1, SHA-256 through libcrypto EVP), hex, git blob
 * hashing, and git-tree-sha1 tree hashing with Julia Pkg's rules.
 *
 * Object encoding follows git (spec/julia-artifacts.md §2.1); the tree rules
 * follow Pkg GitTools.tree_hash (spec §2.2) and Tar.jl git_tree_hash
 * (spec §2.3).  libc and libcrypto only.
 *
 * Implemented in hash.c (digests, hex, blobs), tree.c (struct tree_builder:
 * the in-memory tree, git's order and encoding) and tree_dir.c
 * (tree_hash_dir: the walk of a directory on disk); tree_int.h is what the
 * last two share.
 *
 * Thread safety: no global state.  A struct hash_ctx or struct tree_builder
 * belongs to one thread at a time; distinct objects may be used concurrently.
 * The one-shot functions are reentrant.
 */
#ifndef ARTIFACTFS_HASH_H
#define ARTIFACTFS_HASH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum hash_algo {
	HASH_SHA1 = 1,
	HASH_SHA256 = 2,
};

#define HASH_SHA1_LEN 20	/* bytes in a SHA-1 digest (git object id) */
#define HASH_SHA256_LEN 32	/* bytes in a SHA-256 digest */
#define HASH_MAX_LEN 32		/* largest digest, in bytes */
#define HASH_HEX_MAX (2 * HASH_MAX_LEN + 1)	/* hex buffer size, NUL included */

/* An incremental digest over one message; opaque, wraps an EVP_MD_CTX. */
struct hash_ctx;

/*
 * hash_algo_len - digest size of algo in bytes (20 or 32), or 0 when algo is
 * not an enum hash_algo value.
 */
size_t hash_algo_len(enum hash_algo algo);

/*
 * hash_ctx_new - allocate a context ready to digest a message with algo.
 * On success *ret receives the context, which the caller frees with
 * hash_ctx_free().  Errors: -EINVAL for an unknown algo, -ENOMEM, -EIO when
 * libcrypto cannot provide the digest (e.g. a FIPS provider without SHA-1);
 * *ret is untouched on failure.
 */
int hash_ctx_new(enum hash_algo algo, struct hash_ctx **ret);

/* hash_ctx_free - free a context; hash_ctx_free(NULL) does nothing. */
void hash_ctx_free(struct hash_ctx *ctx);

/* hash_ctx_len - digest size of the context's algorithm, in bytes. */
size_t hash_ctx_len(const struct hash_ctx *ctx);

/*
 * hash_ctx_reset - discard the message fed so far and start a new one.
 * Errors: -EIO from libcrypto.
 */
int hash_ctx_reset(struct hash_ctx *ctx);

/*
 * hash_ctx_update - feed len bytes at p (len may be 0).
 * Errors: -EIO from libcrypto.
 */
int hash_ctx_update(struct hash_ctx *ctx, const void *p, size_t len);

/*
 * hash_ctx_final - finish the message and write hash_ctx_len() bytes to out.
 * The context is then reset, ready for a new message.
 * Errors: -EIO from libcrypto.
 */
int hash_ctx_final(struct hash_ctx *ctx, uint8_t *out);

/*
 * hash_buffer - one-shot digest of len bytes at p; writes hash_algo_len(algo)
 * bytes to out.  Errors: -EINVAL (unknown algo), -ENOMEM, -EIO.
 */
int hash_buffer(enum hash_algo algo, const void *p, size_t len, uint8_t *out);

/*
 * hash_git_blob_start - reset ctx and feed the git blob header
 * "blob <size>\0" for a blob of size bytes (git object encoding, spec §2.1).
 * Then feed exactly size bytes of content with hash_ctx_update() and call
 * hash_ctx_final() to get the blob id; with a SHA-1 context that is the id
 * git and Pkg use.  Errors: -EIO from libcrypto.
 */
int hash_git_blob_start(struct hash_ctx *ctx, uint64_t size);

/*
 * hash_git_blob - one-shot git blob id of len bytes at p, written to out
 * (hash_algo_len(algo) bytes).  Errors as hash_buffer().
 */
int hash_git_blob(enum hash_algo algo, const void *p, size_t len, uint8_t *out);

/*
 * hash_to_hex - write the 2 * len lowercase hex digits of the len bytes at
 * digest, and a NUL, to hex (2 * len + 1 bytes).  Cannot fail.
 */
void hash_to_hex(const uint8_t *digest, size_t len, char *hex);

/*
 * hash_from_hex - decode hexlen hex digits at hex (either case, no prefix,
 * no whitespace) into len bytes at out.  hexlen must be exactly 2 * len.
 * Returns 0, or -EINVAL for a wrong length or a non-hex digit; out is then
 * untouched.
 */
int hash_from_hex(const char *hex, size_t hexlen, uint8_t *out, size_t len);

/*
 * hash_hex_lower - copy the len bytes at s to out lowercased, with a NUL
 * (out holds n + 1 bytes), when they are exactly n hex digits (either
 * case).  Returns true, or false (out then undefined) for another length
 * or a non-hex byte.  For hashes read from files and command lines, which
 * Julia accepts in either case and we store lowercase.
 */
bool hash_hex_lower(const char *s, size_t len, size_t n, char *out);

/*
 * hash_hex_valid - whether the NUL-terminated s (may be NULL: false) is
 * exactly n hex digits, either case.  Pure; thread-safe.
 */
bool hash_hex_valid(const char *s, size_t n);

/* ---- git-tree-sha1 ------------------------------------------------------- */

/*
 * Variants of the tree hash, chosen when the hash is computed.  0 is the rule
 * Julia uses to verify an installed artifact (Pkg GitTools.tree_hash, spec
 * §2.2 and the "C recommendation" of §2.3):
 *  - a directory whose subtree holds no non-directory entry is left out (the
 *    root never is; an empty root hashes as the empty tree 4b825dc6...);
 *  - entries named ".git" are left out at every level, but, as in Pkg's
 *    contains_files(), what they hold still makes their parent non-empty: a
 *    directory holding only a .git file hashes as the empty tree;
 *  - symlink blobs are hashed with their byte length, as git and Tar.jl do.
 */
enum tree_flags {
	/* keep directories without files, hashed as the empty tree */
	TREE_KEEP_EMPTY = 1 << 0,
	/* hash .git entries like any others */
	TREE_KEEP_DOTGIT = 1 << 1,
	/*
	 * Pkg's legacy symlink rule (spec §2.2 item 5): the blob header holds
	 * the number of characters of the target, counted as Julia's
	 * length(::String) does, not its bytes.  For diagnosis only.
	 */
	TREE_LEGACY_SYMLINKS = 1 << 2,
	/* Tar.jl tree_hash(tarball) defaults: skip_empty=false, .git kept */
	TREE_TARJL = TREE_KEEP_EMPTY | TREE_KEEP_DOTGIT,
	/*
	 * tree_hash_dir() only, no effect on the hash: read and hash files
	 * in the calling thread instead of in worker threads.
	 */
	TREE_ONE_THREAD = 1 << 3,
};

/*
 * Deepest path accepted, in components.  Deeper paths fail with
 * -ENAMETOOLONG.  This bounds the recursion: about 200 bytes of stack per
 * level in tree_builder_final() and 600 in tree_hash_dir(), so up to 0.8 and
 * 2.5 MB for the deepest trees; call them on a thread with a default stack.
 */
#define TREE_MAX_DEPTH 4096

/*
 * An in-memory tree of entries, fed in any order (e.g. by a tar unpacker as
 * the headers stream by), hashed at the end.  Same model as Tar.jl's
 * git_tree_hash (spec §2.3):
 *  - paths are relative; "" and "." components are dropped, so "./a//b/"
 *    is "a/b"; a ".." component or a leading "/" is -EINVAL;
 *  - missing intermediate directories are created; an intermediate
 *    component that is a file or symlink is replaced by an empty directory;
 *  - an entry whose path exists replaces the old entry and its whole
 *    subtree, except that a directory entry over an existing directory
 *    keeps it and its contents, as Tar.jl's extract and git_tree_hash do
 *    (JuliaIO/Tar.jl src/extract.jl, "hdr.type == :directory && isdir(st)").
 * Memory: about 100 bytes plus the name length per entry.
 */
struct tree_builder;

/*
 * tree_builder_new - allocate an empty builder; *ret receives it, to be freed
 * with tree_builder_free().  Errors: -ENOMEM, -EIO (no SHA-1 in libcrypto);
 * *ret is untouched on failure.
 */
int tree_builder_new(struct tree_builder **ret);

/* tree_builder_free - free a builder; tree_builder_free(NULL) does nothing. */
void tree_builder_free(struct tree_builder *tb);

/*
 * tree_builder_add_file - add a regular file at path (NUL-terminated, see
 * the path rules above), mode 100755 when executable else 100644, with its
 * 20-byte git blob id oid (see hash_git_blob_start(); copied).
 * Errors: -EINVAL (empty, absolute or ".." path), -ENAMETOOLONG (deeper than
 * TREE_MAX_DEPTH, or a component longer than 4 GiB), -ENOMEM.  After -EINVAL
 * or -ENAMETOOLONG the tree is unchanged; after -ENOMEM intermediate
 * directories may have been made, and the builder can still be freed.
 * Follows Tar.jl git_tree_hash (spec §2.3).
 */
int tree_builder_add_file(struct tree_builder *tb, const char *path, bool executable,
	const uint8_t oid[HASH_SHA1_LEN]);

/*
 * tree_builder_add_symlink - add a symlink at path whose target is the
 * target_len bytes at target (any bytes; copied into a hash, not kept).  The
 * builder computes both the git blob id and Pkg's legacy one (spec §2.2).
 * Errors as tree_builder_add_file(), plus -EIO from libcrypto.
 */
int tree_builder_add_symlink(struct tree_builder *tb, const char *path, const char *target,
	size_t target_len);

/*
 * tree_builder_add_dir - add an explicit, initially empty, directory at path.
 * A path that normalises to the root ("", ".", "./") is accepted and does
 * nothing, as Tar.jl ignores root entries.  Errors as tree_builder_add_file().
 */
int tree_builder_add_dir(struct tree_builder *tb, const char *path);

/*
 * tree_builder_add_hardlink - add a regular file at path with the blob id of
 * the regular file already added at target (normalised like path), and mode
 * 100755 when executable else 100644 (the mode comes from the hardlink's own
 * header, as in Tar.jl, spec §2.3).  Errors: -ENOENT when target does not exist,
 * -EINVAL when it is not a regular file or a path is invalid, and the errors
 * of tree_builder_add_file().
 */
int tree_builder_add_hardlink(struct tree_builder *tb, const char *path, const char *target,
	bool executable);

/*
 * tree_builder_final - compute the 20-byte root tree id with the variant
 * flags (enum tree_flags) into out.  The builder is not changed: call it again
 * with other flags, or add more entries and call it again.  Entries are
 * ordered as git orders them (spec §2.1); with flags 0 the result is Pkg
 * GitTools.tree_hash of the extracted tree (spec §2.2), with TREE_TARJL
 * Tar.jl's tree_hash of the tarball (spec §2.3).
 * Errors: -ENOMEM, -E2BIG (tree objects being built over 1 GiB), -EIO.
 */
int tree_builder_final(struct tree_builder *tb, unsigned flags, uint8_t out[HASH_SHA1_LEN]);

/*
 * A tree object handed out by tree_builder_objects(): its id and its content
 * as git stores it without the "tree <len>\0" header (len bytes; borrowed,
 * valid during the call only).  A non-zero return stops the walk with it.
 */
typedef int (*tree_object_fn)(void *arg, const uint8_t oid[HASH_SHA1_LEN], const void *content,
	size_t len);

/*
 * tree_builder_objects - every git tree object tree_builder_final(tb, 0, ...)
 * hashes, the root first and each distinct object once (identical subtrees
 * are one object): exactly the objects the root's id names, recursively, so
 * that they hash up to the git-tree-sha1 (Pkg rule, spec §2.2: directories
 * without files and .git entries are left out).  The builder is not changed.
 * Holds all tree objects in memory at once (about 28 bytes plus the name per
 * entry).  Returns 0, fn's non-zero value, -ENOMEM, -E2BIG (over 1 GiB of
 * tree objects) or -EIO.
 */
int tree_builder_objects(struct tree_builder *tb, tree_object_fn fn, void *arg);

/*
 * tree_hash_dir - the git-tree-sha1 of the directory dir on disk, with the
 * variant flags (enum tree_flags), as Pkg GitTools.tree_hash computes it
 * (spec §2.2): entries are read with lstat, symlinks are never followed (dir
 * itself may be a symlink to a directory), a file is 100755 when its owner-x
 * bit is set.  Differences from Pkg, both deliberate: a fifo, socket or
 * device is hashed as an empty regular file without being opened (Pkg opens
 * and reads it, which blocks on a fifo); an unreadable entry is an error
 * (Pkg warns and hashes a header-only blob).
 *
 * tree_hash_dirat() takes dir relative to the directory fd dirfd (or
 * AT_FDCWD); dirfd is not closed.
 *
 * On success out receives the root tree id and *errpath, when errpath is not
 * NULL, is set to NULL.  On failure out is untouched and *errpath receives a
 * malloc'ed copy of the path that failed (dir, or dir + "/" + a relative
 * path), which the caller frees; it is NULL if even that allocation failed.
 * Errors: -errno of the failing system call (-ENOENT, -EACCES, -ENOTDIR,
 * -EMFILE, ...), -EIO when a file holds fewer bytes than lstat said (it
 * shrank while being read; growth is not detected), -ENAMETOOLONG beyond
 * TREE_MAX_DEPTH, -ENOMEM.
 *
 * Resources: the walk runs in the calling thread; files are read and hashed
 * by one worker thread per online CPU (at most 8; none with one CPU or with
 * TREE_ONE_THREAD), all joined before the function returns.  It uses a
 * 1 MiB read buffer per thread, one file descriptor per directory level plus
 * at most 64 directories with files waiting in the queue, and about 100
 * bytes plus the name length per entry.  Reentrant.
 */
int tree_hash_dir(const char *dir, unsigned flags, uint8_t out[HASH_SHA1_LEN], char **errpath);
int tree_hash_dirat(int dirfd, const char *dir, unsigned flags, uint8_t out[HASH_SHA1_LEN],
	char **errpath);

#endif
