/*
 * fetch.h - the install pipeline: download, verify, unpack, install
 *
 * fetch/ has two halves (DESIGN.md, "Folders").  The model reads and writes
 * the files a Julia user has and needs neither network nor archives: the
 * TOML 1.0 reader and writer (toml.h; toml.c, toml_scalar.c, toml_tree.c,
 * toml_write.c), the Artifacts.toml model and selection (artifacts.h),
 * platforms, triplets and versions (platform.h; platform.c, triplet.c,
 * version.c, platform_host.c), bind (bind.h) and Julia depots (depot.h).
 * The pipeline, declared here, turns a selected entry into an installed
 * tree: the HTTP transport (http.c, http.h: handle setup, errno classes
 * and retries, shared with tools/publish/), the byte streams (download.c),
 * streaming verify + decompress + tar rules (unpack.c, tar.c) and the
 * install with single flight (install.c); the site's proxies (proxy.c,
 * proxy.h: the proxy list, its order and failover state).  The model includes neither curl nor libarchive, nor this
 * header or the pipeline's private ones: the pipeline may use the model,
 * never the reverse.  tests/check-includes.sh lists the model's files and
 * fails when one of them breaks the rule, so the model can be used (and
 * tested, fuzzed) without network or archive libraries.
 *
 * What Julia's Pkg.Artifacts.ensure_artifact_installed() does
 * (spec/julia-artifacts.md §3), in one streaming pass:
 *
 *   source (http, https, file, or an fd)
 *     -> SHA-256 of every byte                   (the tarball sha256)
 *     -> libarchive decompression, by magic      (gzip, bzip2, xz, zstd, none)
 *     -> tar headers read with Tar.jl's rules    (spec §2.4; -EPERM on a bad entry)
 *     -> files written under the store's tmp/<hash>.<id>/ with openat(2),
 *        each file's git blob id computed as it is written
 *     -> tree_builder (store/hash.h)             (the git-tree-sha1, Pkg rules)
 *   then sha256 == expected (when known) and tree hash == git-tree-sha1, and
 *   store_install_commit() renames the tree into artifacts/<hash>.
 * The tarball is never stored and no file is read back to be hashed.
 *
 * Sources are tried in Julia's order (spec §3.2): the Pkg server's
 * <server>/artifact/<hash> first when one is configured (no sha256 is known
 * for it), then each download entry in file order.  Every URL gets up to
 * fetch_options.attempts attempts with a doubling delay, except after an
 * answer that cannot change: an HTTP 4xx other than 408, 425 and 429 (so
 * never after 404 or 410), a missing file://, a TLS verification failure, a
 * digest mismatch, an unsafe or malformed archive.  The first source that
 * verifies wins; when all fail, the message lists every URL and its cause.
 *
 * Proxies (fetch_options.proxies, proxy.h): every attempt of a URL goes
 * through the members in fetch_proxies_plan() order for the artifact's
 * hash.  A proxy failure (fetch_stream_proxy_fault(): refused, timed out,
 * stalled, 502/503/504) marks the proxy failed and sends the same URL
 * through the next member at once; a host failure (404 and the other
 * answers of the origin, wrong bytes) goes to the next URL with the same
 * order of proxies.  When every member failed, that was one attempt of
 * the URL, retried as above.  Each failure is logged (FETCH_LOG_INFO)
 * naming the proxy and the URL apart.
 *
 * Errors are -errno.  One errno per failure class, so callers can tell them
 * apart without parsing messages:
 *
 *   -ENOENT          HTTP 404 or 410; a file:// path or fd source that does not exist
 *   -EACCES          HTTP 401, 403, 407
 *   -EREMOTEIO       any other HTTP status >= 400 ("HTTP 500 Internal Server Error")
 *   -EHOSTUNREACH    the host or proxy name did not resolve
 *   -ECONNREFUSED    the connection could not be made
 *   -ETIMEDOUT       connect timeout, low-speed abort or overall deadline
 *   -EPIPE           the body ended before its announced length (truncated)
 *   -ECONNRESET      the connection broke while sending or receiving
 *   -EKEYREJECTED    TLS: peer certificate or CA file problem, handshake failure
 *   -ELOOP           too many redirects
 *   -EPROTONOSUPPORT a scheme other than http, https, file (also on redirect)
 *   -EINVAL          a malformed URL, hash or argument
 *   -EBADMSG         digest mismatch: sha256 or git-tree-sha1; or the source sent
 *                    (or announced) more bytes than its size (fetch_source.size)
 *   -EPERM           an unsafe archive entry (Tar.jl's reject list), or a path
 *                    over 4095 bytes ("path too long") or 1024 components ("path
 *                    too deep"), which Julia could not create either
 *   -EILSEQ          a malformed archive: not a tar, bad compression, truncated
 *                    tar, checksum or header field error
 *   -ENOTSUP         a compression format other than gzip, bzip2, xz, zstd
 *   -E2BIG           an archive beyond the built-in or configured limits (extension
 *                    header over 1 MiB, more than 16 Mi path components, unpacked
 *                    bytes over fetch_options.max_unpacked or the ratio guard, a
 *                    trailer after the tar data over FETCH_TRAILER_MAX)
 *   -ENOSPC, -EDQUOT, -EROFS, -EIO, -ENOMEM, ...  local failures, as the
 *                    system call or the store reported them
 *   -ETIME           store_lock_hash() timed out waiting for another installer
 *                    (its -ETIMEDOUT, renamed so it is not taken for a network
 *                    timeout)
 *   -ENOMEDIUM       the entry has no source at all (no download section, no
 *                    Pkg server)
 *   -EFBIG           the unpacked artifact exceeds fetch_options.max_bytes
 *
 * Messages: every failing call records one message, lowercase without a
 * final full stop (STYLE.md), except the two digest mismatch messages, which
 * keep Julia's wording ("Hash Mismatch!", "Tree Hash Mismatch!") so users can
 * search for them.  The first error recorded wins.
 *
 * Thread safety: fetch_global_init() once, before any thread uses this
 * module.  After that, distinct handles may be used concurrently; a handle
 * (struct fetch, struct fetch_stream) belongs to one thread at a time.
 * fetch_unpack*() lend their stream to two threads of their own (receive
 * + SHA-256, inflate) and join them before they return.
 * Installs of different hashes run in parallel; installs of one hash are
 * serialised across threads and processes by store_lock_hash().
 *
 * Crash points for tests: with ARTIFACTFS_CRASH_AT=mid-download the process
 * raises SIGKILL after the first bytes of a download arrived; with
 * ARTIFACTFS_CRASH_AT=mid-unpack, after the first regular file was written.
 */
#ifndef ARTIFACTFS_FETCH_H
#define ARTIFACTFS_FETCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/hash.h"

struct store;
struct fetch_proxies;

/*
 * fetch_global_init - initialise libcurl for the whole process.  Call it once
 * from the main thread before starting threads that fetch; later calls do
 * nothing.  Returns 0 or -ENOMEM.
 */
int fetch_global_init(void);

/*
 * fetch_global_cleanup - release what fetch_global_init() set up; call it once
 * when no fetch is running any more (optional at exit).
 */
void fetch_global_cleanup(void);

/* --- options ------------------------------------------------------------------ */

enum fetch_flags {
	/*
	 * Install despite a git-tree-sha1 mismatch, as Julia does with
	 * JULIA_PKG_IGNORE_HASHES=true; the log callback gets the mismatch
	 * message.  A sha256 mismatch still fails (Julia does the same).
	 */
	FETCH_IGNORE_HASHES = 1 << 0,
	/* Do not send the Pkg-server headers (spec §6), even to the server. */
	FETCH_NO_PKG_HEADERS = 1 << 1,
};

/*
 * Progress of one download: bytes received so far from url and the total
 * when known (Content-Length or file size), else 0.  Called at most about
 * every 100 ms, and once more when the stream reaches its end, from the
 * thread that runs the install or, while fetch_unpack*() runs, from the
 * receive thread it starts (fetch/pipeline.c): never from two threads at
 * once for one install, and never after fetch_install() returned.  url is
 * borrowed for the call.
 */
typedef void (*fetch_progress_fn)(void *arg, const char *url, uint64_t now, uint64_t total);

/* How much a log message matters. */
enum fetch_log_level {
	FETCH_LOG_WARNING = 0, /* a tree hash mismatch installed anyway (FETCH_IGNORE_HASHES),
				* a proxy that failed */
	FETCH_LOG_INFO = 1,    /* a failed attempt that will be retried */
};

/*
 * A message meant for the operator that is not an error.  msg is borrowed
 * for the call; it may hold newlines.  Called from the installing thread.
 */
typedef void (*fetch_log_fn)(void *arg, enum fetch_log_level level, const char *msg);

/*
 * Knobs of the pipeline.  Set them up with fetch_options_init() and change
 * what you need; the strings are borrowed and must outlive every handle made
 * with the options.
 */
struct fetch_options {
	const char *ca_file;	 /* CA bundle (PEM) for https; NULL: system default */
	long connect_timeout;	 /* seconds for the connection; default 30 */
	long low_speed_limit;	 /* bytes/s under which a transfer is too slow; default 1024 */
	long low_speed_time;	 /* ... for this many seconds; default 10; 0: never abort */
	long timeout;		 /* deadline of one attempt, seconds; 0 (default): automatic */
	unsigned attempts;	 /* attempts per URL, >= 1; default 3 */
	unsigned retry_delay_ms; /* delay before the 2nd attempt, doubled each time; default 1000 */
	double lock_timeout; /* seconds to wait for another installer of the hash; default 3600 */
	uint64_t max_bytes;	/* ceiling of an artifact's unpacked size (a quota); 0 (default): none */
	/*
	 * Ceiling of the bytes an install may write, every entry type counted
	 * (regular files, hardlink copies, symlink targets), whatever max_bytes
	 * says: a decompression-bomb guard.  0: the built-in default, which is
	 * FETCH_MAX_UNPACKED_DEFAULT plus the ratio guard (FETCH_UNPACK_RATIO);
	 * any other value is the ceiling and turns the ratio guard off, so an
	 * artifact that compresses better than the ratio can still be
	 * installed by setting it.  Exceeding either: -E2BIG, and the next
	 * source is tried (a bomb from one mirror says nothing of the others).
	 */
	uint64_t max_unpacked;
	/*
	 * Pkg server, e.g. "https://pkg.julialang.org", tried first as
	 * <server>/artifact/<hash>; NULL or "": none (the default).  A value
	 * without a scheme gets "https://"; trailing slashes are dropped
	 * (Julia's pkg_server()).  URLs under it get the Pkg-server headers.
	 */
	const char *pkg_server;
	/*
	 * The site's proxies (proxy.h; borrowed, shared by every install of
	 * the process): fetch_install() tries each URL through them in
	 * fetch_proxies_plan() order, see "Proxies" above.  NULL (default):
	 * no list, libcurl's environment variables as before.
	 */
	struct fetch_proxies *proxies;
	/*
	 * The proxy of one stream (fetch_stream_open_url()): a proxy URL, ""
	 * for none (DIRECT, whatever the environment says), NULL (default):
	 * the environment's http_proxy and friends.  fetch_install() sets it
	 * from proxies for each attempt.
	 */
	const char *proxy;
	const char *host_triplet;   /* Julia-System header value; NULL: not sent */
	const char *julia_version;  /* Julia-Version header value; NULL: not sent */
	unsigned flags;		    /* enum fetch_flags */
	fetch_progress_fn progress; /* may be NULL */
	void *progress_arg;
	fetch_log_fn log; /* may be NULL */
	void *log_arg;
};

/*
 * The built-in ceiling of the bytes written by one install when
 * fetch_options.max_unpacked is 0: 64 GiB, above the largest artifacts
 * published (CUDA toolkits and data sets of a few GiB).
 */
#define FETCH_MAX_UNPACKED_DEFAULT (64ull << 30)

/*
 * The ratio guard, on by default (fetch_options.max_unpacked 0): once the
 * decompressed tar stream plus the bytes hardlink copies write, or the
 * memory of the table of paths seen, is past FETCH_UNPACK_RATIO_FLOOR,
 * none may exceed FETCH_UNPACK_RATIO times the compressed bytes, counted as the
 * larger of the bytes received so far and the source's size when it is
 * known.  Real artifacts compress 3 to 50 times (tar headers of many small
 * files up to ~100); a gzip bomb reaches ~1000 times, bzip2, xz and zstd
 * bombs far more.  So a bomb served in place of a 2 MB artifact stops
 * after at most max(64 MiB, 200 x 2 MB) of output, and one without a known
 * size after about 64 MiB.
 */
#define FETCH_UNPACK_RATIO 200
#define FETCH_UNPACK_RATIO_FLOOR (64ull << 20)

/*
 * After the end of the tar data, Tar.jl ignores the rest of the stream
 * (spec §2.4), so only a sha256 check needs it.  fetch_install() reads it
 * then, up to the source's size when known, else up to
 * max(FETCH_TRAILER_MAX, the bytes before it): a real tarball ends with at
 * most a record of zero padding (10 KiB for GNU tar), so more than that
 * can only be a mismatch.  Beyond it the attempt fails with -E2BIG.
 */
#define FETCH_TRAILER_MAX (16ull << 20)

/*
 * The low-speed abort by default: a transfer slower than 1 KiB/s for 10 s
 * has failed (CernVM-FS's rule), as a connection that trickles a few bytes a
 * second would otherwise hold an install for hours.
 */
#define FETCH_LOW_SPEED_LIMIT 1024	/* bytes per second */
#define FETCH_LOW_SPEED_TIME 10		/* seconds */

/*
 * The deadline of one attempt when fetch_options.timeout is 0: with the
 * tarball's size known (fetch_source.size), FETCH_DEADLINE_FLOOR seconds
 * plus the time the size takes at FETCH_DEADLINE_RATE bytes/s; unknown,
 * FETCH_DEADLINE_CEILING seconds.
 */
#define FETCH_DEADLINE_FLOOR 120	  /* seconds: connection, TLS, redirects */
#define FETCH_DEADLINE_RATE (64u << 10)	  /* bytes per second, on average */
#define FETCH_DEADLINE_CEILING 3600	  /* seconds, when the size is unknown */

/* fetch_options_init - fill o with the defaults above. */
void fetch_options_init(struct fetch_options *o);

/*
 * fetch_deadline - the overall deadline in seconds of one attempt to
 * download a tarball of size bytes (0: unknown) with options o:
 * o->timeout when it is > 0, else the default described above (never 0).
 * Pure function; thread-safe.
 */
long fetch_deadline(const struct fetch_options *o, uint64_t size);

/*
 * fetch_pkg_server_url - Julia's pkg_server() normalisation of a server
 * setting: NULL or "" -> *ret = NULL (no server); no "scheme://" -> prefix
 * "https://"; trailing '/' removed.  *ret is malloc'ed (caller frees).
 * Returns 0 or -ENOMEM.
 */
int fetch_pkg_server_url(const char *setting, char **ret);

/*
 * fetch_curl_errno - the errno class (above) of a libcurl result code
 * (a CURLcode, passed as int so that callers need not include curl.h):
 * 0 for CURLE_OK, -EHOSTUNREACH, -ECONNREFUSED, -ETIMEDOUT, -EPIPE,
 * -ECONNRESET, -EKEYREJECTED, -ELOOP, -EPROTONOSUPPORT, -EINVAL, -ENOMEM,
 * -ENOENT, -EACCES, -ECANCELED (a callback stopped the transfer), else
 * -EIO.  *retryable (may be NULL) tells whether another attempt can
 * change the outcome: transport failures yes; certificate, URL, protocol,
 * memory and cancellation no.  Pure function; thread-safe.
 */
int fetch_curl_errno(int code, bool *retryable);

/*
 * fetch_http_errno - the errno class of an HTTP status >= 400: -ENOENT
 * (404, 410), -EACCES (401, 403, 407), else -EREMOTEIO.  *retryable (may be
 * NULL) is true for 408, 425, 429 and 5xx, the statuses a later attempt can
 * change.  Pure function; thread-safe.
 */
int fetch_http_errno(long status, bool *retryable);

/*
 * fetch_http_reason - the RFC 9110 reason phrase of an HTTP status (for
 * answers that carry none, as over HTTP/2), or NULL when it is not one we
 * know.  Returns a static string; thread-safe.
 */
const char *fetch_http_reason(long status);

/* --- installing ---------------------------------------------------------------- */

/* One download entry of an Artifacts.toml. */
struct fetch_source {
	const char *url;
	const char *sha256; /* 64 hex digits (either case), or NULL: not checked */
	/*
	 * Bytes of the tarball, from the download entry's "size" key (Pkg >= 1.13);
	 * 0: unknown.  When known it is a hard cap on the bytes received from url.
	 */
	uint64_t size;
};

/* What to install: one artifact entry, already selected for the platform. */
struct fetch_request {
	const char *name;		    /* artifact name, for messages */
	const char *toml_path;		    /* the Artifacts.toml, for messages; may be NULL */
	const char *hash;		    /* git-tree-sha1, 40 hex digits (either case) */
	const struct fetch_source *sources; /* download entries in file order */
	size_t nsources;
};

struct fetch;

/*
 * fetch_new - a handle that installs into store s with options o (copied;
 * the strings it points to are borrowed).  s must outlive the handle.
 * *ret receives the handle, freed with fetch_free(); untouched on failure.
 * Errors: -ENOMEM.
 */
int fetch_new(struct store *s, const struct fetch_options *o, struct fetch **ret);

/* fetch_free - free the handle; NULL is a no-op. */
void fetch_free(struct fetch *f);

/*
 * fetch_errmsg - the first error message recorded since the last
 * fetch_clear_error() (each fetch_install() call starts by clearing it), or
 * "" (borrowed; valid until the next call on f).  After a failed install it
 * reads like Julia's:
 *
 *   unable to automatically download/install artifact 'NAME' from sources listed in 'TOML'
 *   Sources attempted:
 *   - https://example.org/a.tar.gz
 *       Error: HTTP 404 Not Found
 *   - https://mirror.example.org/a.tar.gz
 *       Error: Hash Mismatch!
 *         Expected sha256:   ...
 *         Calculated sha256: ...
 */
const char *fetch_errmsg(const struct fetch *f);
void fetch_clear_error(struct fetch *f);

/*
 * fetch_install - make sure req->hash is installed in the store and give its
 * path.  Already installed: returns at once.  Otherwise takes the hash's
 * install lock (waiting up to lock_timeout for another thread or process
 * installing it), looks again, and if it is still absent tries the sources
 * as described at the top of this file.  Nothing is installed unless a
 * source verified (or FETCH_IGNORE_HASHES accepted a tree hash mismatch);
 * temporary trees of failed attempts are removed.
 * @ret_path: when not NULL, receives "<store>/artifacts/<hash>", malloc'ed
 *   (caller frees); untouched on failure.
 * When a download entry has a sha256 and its bytes turn out not to be a
 * tarball (-EILSEQ, -ENOTSUP), up to FETCH_TRAILER_MAX more of the stream
 * is read so the failure can be reported as Julia would, as a sha256
 * mismatch (-EBADMSG), when it is one.  After the end of the tar data the
 * stream is read on only while the result can still change: not at all
 * without a sha256 (Tar.jl ignores what follows, the tree hash decides),
 * at most FETCH_TRAILER_MAX when the tree hash already failed (enough for
 * Julia's sha256 message on a real tarball), else to its end within the
 * limits of FETCH_TRAILER_MAX and the source's size.
 * Returns 0, or the error of the last source tried (see the errno table)
 * with fetch_errmsg() describing every source; -ETIME when the lock wait
 * timed out; -ENOMEDIUM when there is no source; -EINVAL for a malformed
 * hash or sha256.  A local failure (-ENOSPC, -EROFS, -EIO, -ENOMEM ...)
 * stops at once without trying further sources.
 */
int fetch_install(struct fetch *f, const struct fetch_request *req, char **ret_path);

/* --- the building blocks: streams, unpacking, hashing ------------------------------ */

/*
 * A pull source of tarball bytes: a URL or an open file descriptor.  Every
 * byte handed out by fetch_stream_read() is also fed to a SHA-256.
 */
struct fetch_stream;

/*
 * fetch_stream_open_url - start downloading url (http, https or file) with
 * options o (borrowed; must outlive the stream).  For http(s) nothing is
 * transferred until the first read; a file:// URL is opened at once.
 * Returns 0 with *ret set, -EINVAL (malformed URL), -EPROTONOSUPPORT (other
 * scheme), -ENOENT/-EACCES/-EISDIR (file://), -ENOMEM; a message through
 * *errmsg (malloc'ed; caller frees; NULL on success) when errmsg is not NULL.
 */
int fetch_stream_open_url(
	const char *url, const struct fetch_options *o, struct fetch_stream **ret, char **errmsg);

/*
 * fetch_stream_open_fd - read the bytes of fd, from its current offset to
 * its end.  fd is borrowed, not closed.  name is used in messages (copied;
 * may be NULL).  o may be NULL (no progress reports).  Returns 0 or -ENOMEM.
 */
int fetch_stream_open_fd(
	int fd, const char *name, const struct fetch_options *o, struct fetch_stream **ret);

/* fetch_stream_free - abort the transfer if it is running and free s; NULL is a no-op. */
void fetch_stream_free(struct fetch_stream *s);

/*
 * fetch_stream_read - the next bytes of the stream.  Blocks until some are
 * available (curl_multi is driven from inside this call; timeouts and the
 * low-speed abort apply while it waits).  On success *buf and *len describe
 * them; they stay valid until the next call on s.  *len == 0 means the end
 * of the stream, reached without error (for HTTP: the whole body, status
 * below 400).  Returns 0 or -errno from the table above; after an error
 * every later call returns the same error.
 */
int fetch_stream_read(struct fetch_stream *s, const void **buf, size_t *len);

/*
 * fetch_stream_sha256 - the SHA-256 of the bytes read so far, into out
 * (32 bytes).  Meant for after the end of the stream.  Returns 0 or -EIO.
 */
int fetch_stream_sha256(struct fetch_stream *s, uint8_t out[HASH_SHA256_LEN]);

/*
 * fetch_stream_set_limit - make max (bytes, 0: none) a hard cap on the bytes
 * s hands out: an announced length (Content-Length, file size) over it fails
 * before the body is read, and the read that would go past it fails; both
 * with -EBADMSG, not retryable.  Call it before the first read.
 */
void fetch_stream_set_limit(struct fetch_stream *s, uint64_t max);

/* fetch_stream_limit - the cap set by fetch_stream_set_limit(), 0: none. */
uint64_t fetch_stream_limit(const struct fetch_stream *s);

/* fetch_stream_bytes - bytes handed out so far. */
uint64_t fetch_stream_bytes(const struct fetch_stream *s);

/*
 * fetch_stream_proxy_fault - after a failed read of a stream opened with a
 * proxy (fetch_options.proxy a URL): whether the failure is the proxy's,
 * so that the same URL may succeed through another proxy: the connection
 * refused, reset or broken, a timeout (connect, low-speed, deadline), a
 * name that did not resolve, HTTP 502, 503 or 504.  False without a
 * proxy, without an error, and for the origin's answers (404, other
 * statuses).  Pure; the stream's thread.
 */
bool fetch_stream_proxy_fault(const struct fetch_stream *s);

/* fetch_stream_error - the error every read now returns (see above), or 0. */
int fetch_stream_error(const struct fetch_stream *s);

/*
 * fetch_stream_retryable - after a failed read: whether another attempt
 * could succeed (network errors, timeouts, HTTP 5xx ...), false for
 * definite answers (HTTP 404/410, 401/403, missing file, bad scheme, TLS
 * verification failure) and for local errors.
 */
bool fetch_stream_retryable(const struct fetch_stream *s);

/*
 * fetch_stream_errmsg - the first error message of s, or "" (borrowed;
 * valid while s lives).  HTTP errors read "HTTP 404 Not Found"; transport
 * errors give libcurl's detailed text, e.g. "Operation too slow. Less than
 * 1 bytes/sec transferred the last 20 seconds".
 */
const char *fetch_stream_errmsg(const struct fetch_stream *s);

/*
 * What unpacking learnt.  The tree ids are raw 20-byte SHA-1s:
 *   tree            Pkg's rule (hash.h flags 0): what Julia verifies
 *   tree_legacy     Pkg's on-disk rule for non-ASCII symlink targets
 *                   (TREE_LEGACY_SYMLINKS); equal to tree for most trees
 *   tree_keep_empty empty directories kept (TREE_KEEP_EMPTY), for diagnosis
 *   tree_tarjl      Tar.tree_hash() defaults (TREE_TARJL), for diagnosis
 */
struct fetch_digests {
	uint8_t sha256[HASH_SHA256_LEN]; /* of the whole (compressed) stream */
	uint8_t tree[HASH_SHA1_LEN];
	uint8_t tree_legacy[HASH_SHA1_LEN];
	uint8_t tree_keep_empty[HASH_SHA1_LEN];
	uint8_t tree_tarjl[HASH_SHA1_LEN];
	uint64_t tarball_bytes;	 /* bytes of the stream (read so far, see complete) */
	uint64_t bytes;		 /* sum of regular file sizes (hardlink copies included) */
	uint64_t files;		 /* regular files + symlinks (hardlink copies included) */
	const char *compression; /* "gzip", "bzip2", "xz", "zstd" or "none" (static) */
	/*
	 * True: the stream was read to its end and sha256 and tarball_bytes are
	 * of all of it.  False after fetch_unpack_ex() with stop_at_end: sha256
	 * is zero and the stream's SHA-256 not finished (read on, then call
	 * fetch_stream_sha256()).
	 */
	bool complete;
};

/*
 * fetch_unpack - read the tarball from in to its end, check every entry with
 * Tar.jl's rules, and compute the digests into *ret.
 * @dirfd: an empty directory to extract into (borrowed, not closed); files are
 *   created only under it, by openat(2) relative to it, never following a
 *   symlink.  -1: extract nothing, only check and hash (the code path is the
 *   same).
 * Extraction follows Tar.jl: a later entry replaces an earlier one at the
 * same path (removed, then created; a directory entry over a directory keeps
 * it), files get 0755 when the header mode has 0100 set else 0644 (setuid,
 * setgid, sticky and the other bits dropped), directories 0755, symlink
 * targets are written verbatim, hardlinks become copies of their target.
 * Stream bytes after the end of the tar data (zero block) are read and
 * hashed but otherwise ignored.  The default limits of fetch_unpack_ex()
 * apply (max_unpacked 0).  On failure the directory may hold a partial
 * tree: the caller removes it (store_install_abort()).
 * Returns 0, -EPERM (unsafe entry), -EILSEQ (malformed archive), -ENOTSUP
 * (unsupported compression), the stream's error, or a local -errno; a
 * message through *errmsg (malloc'ed; caller frees; NULL on success) when
 * errmsg is not NULL.  *ret is filled only on success.
 */
int fetch_unpack(struct fetch_stream *in, int dirfd, struct fetch_digests *ret, char **errmsg);

/*
 * fetch_unpack_max - fetch_unpack() that stops with -EFBIG ("unpacked size
 * exceeds the limit of N bytes") before writing an entry that would take
 * the bytes written (regular files and hardlink copies) past max_bytes (0:
 * no limit).  The daemon's quota uses it to refuse an artifact larger than
 * the whole cache.
 */
int fetch_unpack_max(struct fetch_stream *in, int dirfd, uint64_t max_bytes,
	struct fetch_digests *ret, char **errmsg);

/*
 * What fetch_unpack_ex() found, told as it goes (the seek index of issue 16,
 * fetch/seekidx.h).  Every member may be NULL.  Called in the thread that
 * runs fetch_unpack_ex(); a negative return stops the unpack with that
 * error ("seek index: ..." in *errmsg).  Pointers are borrowed for the call.
 */
struct fetch_unpack_observer {
	/*
	 * A regular file entry: its git blob id, the offset of its data in the
	 * uncompressed tar stream and its size, bytes.  Not called for a
	 * hardlink's copy (its target's blob was told).  An entry a later one
	 * replaces was told too.
	 */
	int (*file)(void *arg, const uint8_t oid[HASH_SHA1_LEN], uint64_t offset, uint64_t size);
	/* A symlink entry's target, len bytes (not NUL-terminated). */
	int (*link)(void *arg, const char *target, size_t len);
	/*
	 * The finished tree builder, once the whole stream was read and the
	 * digests computed, before it is freed: for tree_builder_objects().
	 */
	int (*tree)(void *arg, struct tree_builder *tb);
	void *arg;
};

/* The bounds of fetch_unpack_ex(). */
struct fetch_unpack_limits {
	uint64_t max_bytes;    /* as fetch_unpack_max(): -EFBIG; 0: none */
	uint64_t max_unpacked; /* as fetch_options.max_unpacked (0: default); UINT64_MAX: none */
	bool stop_at_end;      /* leave the stream after the end of the tar data unread */
	/* told every file, symlink and the final tree (borrowed for the call); NULL: none */
	const struct fetch_unpack_observer *observer;
};

/*
 * fetch_unpack_ex - fetch_unpack() within lim (NULL: the defaults, all
 * zero).  Every byte an entry writes counts against max_bytes and
 * max_unpacked, checked before it is written: a regular file's size, a
 * hardlink copy's size, a symlink target's length.  With max_unpacked 0 the
 * decompressed stream is also held to FETCH_UNPACK_RATIO times the
 * compressed bytes (fetch_stream_limit() of in counts as compressed bytes
 * when it is set).  Over max_bytes: -EFBIG; over max_unpacked or the ratio:
 * -E2BIG.  With stop_at_end, ret->complete is false (see struct
 * fetch_digests).  Other errors as fetch_unpack().
 */
int fetch_unpack_ex(struct fetch_stream *in, int dirfd, const struct fetch_unpack_limits *lim,
	struct fetch_digests *ret, char **errmsg);

/*
 * fetch_hash_tarball - the digests of a tarball without extracting it:
 * fetch_unpack() with dirfd -1 on the file, without the size limits
 * (max_unpacked UINT64_MAX: nothing is written).  Reads from fd when fd >= 0
 * (path then only names it in messages and may be NULL), else opens path.
 * Used by "artifactctl hash TARBALL".  Errors as fetch_unpack(), plus the
 * errors of open(2) on path.
 */
int fetch_hash_tarball(int fd, const char *path, struct fetch_digests *ret, char **errmsg);

/*
 * fetch_hash_tarball_obs - fetch_hash_tarball() telling obs (may be NULL)
 * what it finds, as fetch_unpack_ex() does with lim->observer.
 */
int fetch_hash_tarball_obs(int fd, const char *path, const struct fetch_unpack_observer *obs,
	struct fetch_digests *ret, char **errmsg);

/*
 * fetch_seekidx_tarball - the seek index (fetch/seekidx.h, format in
 * doc/internals/seek-index.md) of the gzip tarball in fd (when fd >= 0;
 * path then only names it in messages and may be NULL; fd must be a
 * regular file, read from offset 0, its position is changed) or at path,
 * with a restart point about every span output bytes (0: SEEKIDX_SPAN).
 * Reads the tarball twice: once through seekidx_builder_compressed(), once
 * through fetch_unpack_ex() (hash only, no size limit) with an observer
 * feeding the builder the files, symlinks and tree objects.  Checks that
 * both passes saw the same bytes (SHA-256) and that the first tree object is
 * the tree hash.  On success *ret is the malloc'ed index of *len bytes
 * (caller frees) and, when dg is not NULL, *dg the tarball's digests as
 * fetch_hash_tarball() gives them.  Errors: -ENOTSUP (not gzip: bzip2, xz,
 * zstd, none), -EILSEQ (corrupt or trailing bytes after the last gzip
 * member), -EAGAIN (the file changed between the passes), -E2BIG (a head
 * over SEEKIDX_HEAD_MAX), the errors of fetch_hash_tarball(); a message in
 * *errmsg (malloc'ed, caller frees; NULL on success) when errmsg is not
 * NULL.  Reentrant.
 */
int fetch_seekidx_tarball(int fd, const char *path, uint64_t span, uint8_t **ret, size_t *len,
	struct fetch_digests *dg, char **errmsg);

/*
 * fetch_hash_url - fetch_hash_tarball() of the tarball at url (http, https
 * or file), downloaded as a stream with options o and hashed as it comes:
 * nothing is written, to a store or a temporary file.  A transfer that
 * fails in a way fetch_stream_retryable() calls transient starts over, up
 * to o->attempts attempts, o->retry_delay_ms before the second, doubled
 * each time.  Used by "artifactctl bind --url URL" without --sha256
 * (ArtifactUtils.jl's add_artifact!).  Call fetch_global_init() first.
 * Errors as fetch_stream_open_url() and fetch_unpack(); *errmsg as there.
 * Thread safety: as fetch_stream_open_url().
 */
int fetch_hash_url(
	const char *url, const struct fetch_options *o, struct fetch_digests *ret, char **errmsg);

#endif
