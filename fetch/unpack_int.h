/*
 * unpack_int.h - what fetch/unpack.c (the tree on disk), fetch/unpack_paths.c
 * (its path table) and fetch/tar.c (the decompressed tar stream and Tar.jl's
 * header rules) share.  Internal to libfetch; not thread-safe: one struct
 * unpack belongs to one thread.
 */
#ifndef FETCH_UNPACK_INT_H
#define FETCH_UNPACK_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fetch/fetch.h"
#include "store/hash.h"
#include "store/util/buf.h"

#define EXT_MAX (1u << 20)	   /* largest PAX or GNU long-name payload accepted */
#define TAB_MAX_ENTRIES (1u << 24) /* distinct path components (table records) in one tarball */
#define TAB_MAX_BYTES (1ull << 30) /* bytes of those components */
#define PATH_LEN_MAX 4095	   /* bytes of a normalised entry path (PATH_MAX - 1) */
#define PATH_DEPTH_MAX 1024	   /* components of a normalised entry path */
#define COPY_BUF (128u << 10)
#define ERRMSG_MAX 4096

/* Entry types as Tar.jl names them; T_NONE marks an intermediate directory. */
enum etype { T_NONE = 0, T_FILE, T_HARDLINK, T_SYMLINK, T_DIR, T_OTHER };

/* A byte string that may hold NULs (PAX values may). */
struct bstr {
	char *p; /* NUL-terminated, may be NULL when len is 0 */
	size_t len;
};

/*
 * Every path seen, as a trie: a record is one component under its parent
 * record (parent 0: the root), so the table grows with the bytes of the
 * distinct components, never with the square of a path's length.  Two
 * views of each path:
 *  - tarjl: the type Tar.jl's read_tarball() records in its `paths` dict:
 *    set only by entries, never cleared when an ancestor is replaced (so a
 *    stale symlink still blocks paths through it, as in Tar.jl);
 *  - cur/seq: the current tree, exactly.  seq is when the path was last
 *    (re)created; a path is live when its parent is live and its seq is
 *    newer than its parent's, so replacing a directory kills its whole
 *    subtree without visiting it.
 */
struct rec {
	char *name; /* the last component, not NUL-terminated */
	uint32_t len;
	uint32_t parent; /* id of the parent record (index + 1), 0: the root */
	uint64_t hash;
	uint64_t seq;
	uint64_t size;	     /* regular file size */
	unsigned char cur;   /* enum etype of the live node (T_NONE: implicit dir) */
	unsigned char tarjl; /* enum etype Tar.jl recorded, T_NONE when none */
};

struct ptab {
	struct rec *v;	   /* records by id - 1, in creation order */
	uint32_t *slot;	   /* open addressing over v: id, 0 for a free slot */
	size_t cap, n, vcap; /* slots, records, room in v */
	uint64_t bytes;
};

/* One tar header after the extension headers were applied (Tar.jl's Header). */
struct hdr {
	struct bstr path;
	struct bstr link;
	char type; /* the typeflag byte */
	unsigned mode;
	uint64_t size;
};

struct unpack {
	struct fetch_stream *in;
	uint64_t max_bytes;    /* ceiling of the unpacked size (quota); 0 = none */
	uint64_t max_unpacked; /* ceiling of every byte written; UINT64_MAX = none */
	bool ratio_guard;      /* enforce FETCH_UNPACK_RATIO on the decompressed bytes */
	bool stop_at_end;      /* leave the stream after the tar data unread */
	struct pipeline *pipe; /* the decompressed stream */
	uint64_t in_bytes;     /* compressed bytes received, as of the last bytes read */
	uint64_t in_limit;     /* fetch_stream_limit() of in, read before the pipeline started */

	/* the decompressed tar stream */
	const unsigned char *blk;
	size_t blk_len;
	bool data_eof;
	uint64_t offset;   /* tar bytes consumed, for messages */
	uint64_t produced; /* decompressed bytes handed out (the ratio guard) */
	uint64_t copied;   /* bytes hardlink copies write: output without input (ditto) */

	int dirfd; /* -1: hash only */
	const struct fetch_unpack_observer *obs; /* NULL: none */
	struct tree_builder *tb;
	struct hash_ctx *blob;
	struct ptab tab;
	uint64_t seq;
	bool any_symlink;

	/* the directory of the last entry, kept open: tarballs are grouped by directory */
	char *cache_path;
	size_t cache_len;
	int cache_fd;

	/* PAX 'g' values, applied to every later entry */
	struct bstr g_path, g_link, g_size;
	bool g_has_path, g_has_link, g_has_size;

	unsigned char raw[512];
	unsigned char *copybuf;
	uint64_t bytes, files;
	uint64_t written; /* every byte an entry wrote or would write: files, copies, link targets */
	bool crash_mid_unpack, wrote_file;

	int err;
	struct buf msg;
};

/* ---- unpack_paths.c: the path table ---- */

/* ptab_rec - the record of id (1 .. t->n); valid until the next ptab_put(). */
static inline struct rec *ptab_rec(struct ptab *t, uint32_t id)
{
	return &t->v[id - 1];
}

/* ptab_find - the id of the component name (len bytes) under parent, 0 when there is none. */
uint32_t ptab_find(struct ptab *t, uint32_t parent, const char *name, size_t len);

/*
 * ptab_put - find or add the component name (len bytes) under parent, its
 * id into *ret; a new record is zeroed (not live, no Tar.jl type).
 * Pointers to records are valid until the next call.  Returns 0, -E2BIG
 * (past TAB_MAX_ENTRIES or TAB_MAX_BYTES), -ENOMEM.
 */
int ptab_put(struct ptab *t, uint32_t parent, const char *name, size_t len, uint32_t *ret);

/* ptab_release - free the table's records and slots and zero it. */
void ptab_release(struct ptab *t);

/* ---- unpack.c ---- */

/* unpack_bstr_free - free s's bytes and make it empty. */
void unpack_bstr_free(struct bstr *s);

/* unpack_bstr_set - make s a NUL-terminated copy of len bytes at p; 0 or -ENOMEM. */
int unpack_bstr_set(struct bstr *s, const void *p, size_t len);

/*
 * unpack_fail - record the first failure of the unpack: u->err = err and
 * the formatted message; later calls keep the first.  Returns u->err.
 */
int unpack_fail(struct unpack *u, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/*
 * unpack_show - s for a message into out (size bytes): printable ASCII as
 * is, other bytes as \xNN, cut at about size bytes with "...".  Returns out.
 */
const char *unpack_show(const struct bstr *s, char *out, size_t size);

/* ---- tar.c ---- */

/*
 * tar_open_input - start the pipeline (fetch/pipeline.h) on u->in: u->in
 * belongs to it until pipeline_stop(u->pipe).  An empty stream is an empty
 * tarball.  Returns 0 or the -errno recorded with unpack_fail().
 */
int tar_open_input(struct unpack *u);

/*
 * tar_read_hdr - Tar.jl's read_header: one standard header after any
 * number of extension headers (PAX x and g: path, linkpath, size; GNU L
 * and K), into h (its strings owned by h: free them with
 * unpack_bstr_free()).  *end is set at the end of the archive.  Returns 0
 * or a recorded -errno (-EBADMSG for a malformed header).
 */
int tar_read_hdr(struct unpack *u, struct hdr *h, bool *end);

/*
 * tar_check_header - Tar.jl's check_header on h as read (path not
 * normalised): the text of the first rule h breaks, or NULL.  tmp (size
 * bytes) may hold the text.
 */
const char *tar_check_header(const struct hdr *h, char *tmp, size_t size);

/* tar_normalize - drop "" and "." components: "./a//b/" -> "a/b"; 0 or -ENOMEM. */
int tar_normalize(const struct bstr *in, struct bstr *out);

/* tar_etype_of - the entry type of a typeflag byte, as Tar.jl maps it. */
enum etype tar_etype_of(char typeflag);

/* tar_etype_name - the name of an entry type, for messages. */
const char *tar_etype_name(enum etype t);

/*
 * tar_in_span - point *p at up to max bytes of the tar stream without
 * copying (*n of them, at least 1 when max > 0), and consume them.  Returns 0 or a
 * recorded -errno (-EBADMSG at a premature end).
 */
int tar_in_span(struct unpack *u, uint64_t max, const void **p, size_t *n);

/* tar_in_skip - consume n bytes of the tar stream; errors as tar_in_span(). */
int tar_in_skip(struct unpack *u, uint64_t n);

/* tar_pad512 - the padding after size bytes of entry data, up to a 512-byte block. */
uint64_t tar_pad512(uint64_t size);

/*
 * tar_drain - after the end of the tar data, read the rest of the
 * decompressed stream; the pipeline (PIPELINE_DRAIN) reads, and so hashes,
 * the rest of the download.  Returns 0 or a recorded -errno.
 */
int tar_drain(struct unpack *u);

/*
 * tar_ratio_check - the ratio guard of fetch.h, when u->ratio_guard is set,
 * on the larger of u->produced + u->copied and the path table's memory (not
 * on u->written, which reserves a file's declared size before its data has
 * arrived).  Returns 0 or the -E2BIG
 * recorded with unpack_fail().
 */
int tar_ratio_check(struct unpack *u);

#endif
