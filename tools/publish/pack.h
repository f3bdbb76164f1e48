/*
 * pack.h - deterministic artifact tarballs in Tar.jl's canonical form
 *
 * pack_create() writes a directory tree as the tarball JuliaIO/Tar.jl's
 * Tar.create() writes for it (spec/julia-artifacts.md §2.5; Tar.jl
 * src/create.jl write_tarball, write_header, write_standard_header), byte
 * for byte, then compresses it, and computes in the same single pass:
 *   - the git-tree-sha1 of the tree (Pkg rules: what Julia verifies after
 *     unpacking, equal to `artifactctl hash DIR`), and Tar.jl's variant;
 *   - the sha256 and size of the compressed output (the download entry).
 * No file is read twice and the output is never read back.
 *
 * Implemented in pack.c (the walk, pack_create, pack_write), pack_out.c
 * (compression and output, the compression names) and pack_tar.c
 * (pack_tar_header); pack_int.h is what they share.
 *
 * The tar stream:
 *   - every directory is emitted, before its children; the root itself is
 *     not, except that an empty root is written as a single "." entry;
 *   - children in byte-wise name order, depth first; directory paths carry
 *     no trailing '/';
 *   - regular files: mode 0755 when the owner-x bit is set, else 0644;
 *     directories and symlinks 0755; symlink targets verbatim (absolute or
 *     "../.." targets included, never followed); hard links are stored as
 *     separate regular files (Tar.jl lstat()s every path);
 *   - ustar headers exactly as write_standard_header() formats them: mode
 *     "%06o \0", uid and gid "000000 \0", size as 11 octal digits and a
 *     space, or 12 digits without the space when 8^11 <= size < 8^12, or
 *     GNU base-256 (0x80 prefix, 12 bytes) when size >= 8^12, mtime
 *     "00000000000 ", magic "ustar\0", version "00", empty uname and gname,
 *     devmajor and devminor "000000 \0", checksum "%06o\0 " (unsigned sum);
 *   - paths over 100 bytes are split into prefix and name at the last '/'
 *     at byte offset <= 99 when the path is under 256 bytes and the parts
 *     fit (155 and 100 bytes); otherwise a PAX 'x' header (empty name, mode
 *     "000000 \0") carries "path" and the ustar name and prefix are empty;
 *     a link target over 100 bytes goes to a PAX "linkpath" and the ustar
 *     linkname is empty; a size >= 8^12 adds a PAX "size"; PAX records are
 *     emitted sorted by key ("linkpath", "path", "size");
 *   - no end-of-archive zero blocks.
 * Everything is packed, ".git" entries included (Tar.jl's create() packs
 * them too); the Pkg tree hash leaves them out, as Julia does when it
 * verifies the unpacked tree (spec §2.2), so they travel in the tarball but
 * are not part of the artifact's identity.
 *
 * Only regular files, directories and symlinks can be packed: a fifo,
 * socket or device anywhere in the tree is an error naming its path
 * (Tar.jl: "unsupported file type").  A file whose size changes while it is
 * read is an error too (-EIO), as in Tar.jl ("data file too large").
 *
 * Compression: gzip through pgz.h, on opts->jobs threads, pigz-style: the
 * tar stream in blocks of 128 KiB, each deflated on its own with the 32 KiB
 * before it as dictionary and ended with a sync flush, in one gzip member
 * whose header carries no name and a zero mtime (OS byte 3, Unix); zstd
 * through libzstd's multithreaded mode (at least one worker, a fixed job
 * size of 8 MiB, a content checksum); xz through libarchive's filter,
 * single-threaded.  The output is deterministic for a given zlib, libzstd
 * or liblzma version and does not depend on the number of threads;
 * different library versions may compress differently; the tar stream and
 * the tree hash never differ.
 *
 * Thread safety: no global state; distinct calls may run concurrently.  The
 * progress callback runs in the calling thread.
 */
#ifndef ARTIFACTCTL_PACK_H
#define ARTIFACTCTL_PACK_H

#include <stddef.h>
#include <stdint.h>

#include "store/hash.h"

enum pack_compress {
	PACK_COMPRESS_AUTO = 0, /* from the output name: pack_compress_from_name() */
	PACK_COMPRESS_NONE,	/* plain .tar */
	PACK_COMPRESS_GZIP,	/* default level 6 (gzip(1)'s); 1-9 */
	PACK_COMPRESS_ZSTD,	/* default level 3 (zstd(1)'s); 1-22 */
	PACK_COMPRESS_XZ,	/* default level 6 (xz(1)'s); 0-9 */
};

/*
 * Progress report: done and total are bytes of regular file content (not
 * tar or compressed bytes); total is known before the first byte is read.
 * Called from the calling thread about every MiB and once at the end with
 * done == total.  Must not call back into pack.
 */
typedef void pack_progress_fn(uint64_t done, uint64_t total, void *arg);

#define PACK_JOBS_MAX 64 /* compression threads at most */

struct pack_opts {
	enum pack_compress compress; /* PACK_COMPRESS_AUTO: from the output name */
	int level;		     /* compression level; < 0: the filter's default */
	int jobs; /* compression threads, 1 to PACK_JOBS_MAX (gzip, zstd); 0: the default */
	pack_progress_fn *progress;  /* NULL: no reports (and no pre-scan) */
	void *progress_arg;
};

/* What was written.  Filled only on success. */
struct pack_result {
	uint8_t tree[HASH_SHA1_LEN];	   /* git-tree-sha1, Pkg rules: what Julia verifies */
	uint8_t tree_tarjl[HASH_SHA1_LEN]; /* Tar.jl tree_hash(skip_empty=false), .git kept */
	uint8_t sha256[HASH_SHA256_LEN];   /* of the compressed output, every byte */
	uint64_t size;			   /* bytes of compressed output */
	uint64_t tar_bytes;		   /* bytes of the uncompressed tar stream */
	uint64_t bytes;			   /* sum of regular file sizes */
	uint64_t files;			   /* regular files + symlinks */
	uint64_t dirs;			   /* directory entries written (root "." included) */
	uint64_t dotgit;		   /* entries named ".git" (packed, not hashed) */
	enum pack_compress compress;	   /* the compression used, never AUTO */
};

/*
 * pack_create - pack the directory dir into the file out, atomically.
 * @dir: the tree to pack; may itself be a symlink to a directory; nothing
 *       below it is followed.
 * @out: the output file.  Written to a temporary file "<out dir>/.<out
 *       name>.XXXXXX" (mode 0644 & ~umask), fsync()ed, then rename(2)d over
 *       out; on failure the temporary file is removed and out is untouched.
 *       An out inside dir is refused (-EINVAL), since it would pack itself.
 * @opts: NULL for the defaults (compression from out's name, default level,
 *       no progress).
 * @ret: receives the digests and counts; untouched on failure.
 * @errmsg: when not NULL, receives on failure a malloc'ed message naming
 *       the path that failed, e.g. "'tree/sub/fifo' is a fifo: only files,
 *       directories and symlinks can be packed" or "cannot read 'tree/x':
 *       Permission denied"; the caller frees it.  Set to NULL on success.
 * Returns 0, or:
 *   -ENOTSUP   a fifo, socket or device in the tree, or a compression this
 *              libarchive lacks
 *   -EIO       a file changed size while it was read, or libarchive failed
 *   -EINVAL    a bad level or compression, or out inside dir
 *   -ENAMETOOLONG  deeper than TREE_MAX_DEPTH (store/hash.h)
 *   -errno     of open/read/readlink/write/fsync/rename (-EACCES, -ENOSPC, ...)
 *   -ENOMEM
 * Resources: one fd per directory level, a 1 MiB buffer, and memory for
 * the names of one directory per level plus the tree builder (about 100
 * bytes plus the name per entry); for gzip or zstd, opts->jobs threads
 * (opts->jobs == 1: none for gzip, one libzstd worker) and their buffers
 * (gzip: about 0.9 MiB per thread), all gone when the call returns.
 */
int pack_create(const char *dir, const char *out, const struct pack_opts *opts,
	struct pack_result *ret, char **errmsg);

/*
 * pack_write - pack the directory dir (relative to dirfd, or AT_FDCWD) to
 * the open file descriptor outfd, sequentially (a pipe or socket works),
 * without fsync and without closing outfd.  For callers that stream the
 * tarball elsewhere (an upload).  opts->compress must not be AUTO (there is
 * no name); NULL opts means gzip at the default level.  On failure some
 * bytes may have been written.  Errors as pack_create(), plus -EPIPE etc.
 * from write(2) on outfd.
 */
int pack_write(int dirfd, const char *dir, int outfd, const struct pack_opts *opts,
	struct pack_result *ret, char **errmsg);

/*
 * pack_default_jobs - the default compression thread count: the CPUs this
 * process may run on (sched_getaffinity), else the online CPUs, bounded to
 * 1..PACK_JOBS_MAX.  Thread-safe.
 */
int pack_default_jobs(void);

/*
 * pack_compress_from_name - the compression an output name asks for:
 * ".tar.gz" or ".tgz" gzip, ".tar.zst" or ".tzst" zstd, ".tar.xz" or
 * ".txz" xz, ".tar" none (case-sensitive suffixes); any other name gzip.
 */
enum pack_compress pack_compress_from_name(const char *name);

/*
 * pack_compress_name - "none", "gzip", "zstd", "xz" ("auto" for AUTO;
 * "?" out of range).  pack_compress_suffix - ".tar", ".tar.gz",
 * ".tar.zst", ".tar.xz" (".tar.gz" for AUTO).  Static strings.
 */
const char *pack_compress_name(enum pack_compress c);
const char *pack_compress_suffix(enum pack_compress c);

/*
 * pack_tar_header - format the header block(s) Tar.jl writes for one entry
 * (an optional PAX 'x' header with its records, then the ustar header) into
 * buf.  Exposed for tests and for callers that build their own streams.
 * @path: the entry path as it appears in the tarball ("a/b", or "." for an
 *        empty root), no leading '/', no trailing '/'.
 * @type: '0' file, '2' symlink, '5' directory.
 * @mode: 0644 or 0755 (any value below 8^6 is formatted).
 * @size: the file size (0 for links and directories).
 * @link: the symlink target, or "" / NULL.
 * @buf, @bufsize: room for the blocks: 512 for a plain header; with a PAX
 *        header 1024 plus the records rounded up to 512.
 * Returns the number of bytes written (a multiple of 512), -ENOBUFS when
 * bufsize is too small (buf then holds nothing useful), or -EINVAL for an
 * empty or absolute path, a type other than '0', '2', '5', or a mode of
 * 8^6 or more.  Reentrant.
 */
long pack_tar_header(uint8_t *buf, size_t bufsize, const char *path, char type, unsigned mode,
	uint64_t size, const char *link);

#endif
