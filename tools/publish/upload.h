/*
 * upload.h - put objects to where artifacts are published: S3-compatible
 * object storage, an HTTP server that accepts PUT (WebDAV), or a local
 * directory (doc/internals/upload.md)
 *
 * A destination is opened once from its URL and then addressed with keys,
 * relative paths under it ("Zlib.any.0123.tar.gz", "sub/dir/x.json"):
 *
 *   s3://BUCKET[/PREFIX]   object PREFIX/KEY of BUCKET at an S3-compatible
 *                          endpoint, path-style (ENDPOINT/BUCKET/PREFIX/KEY),
 *                          every request signed with AWS SigV4 by libcurl
 *                          (CURLOPT_AWS_SIGV4 "aws:amz:REGION:s3")
 *   http[s]://[USER:PASSWORD@]HOST/PATH
 *                          DEST/KEY with PUT; a 409 answer (parent collection
 *                          missing) is met with MKCOL of each missing parent,
 *                          then the PUT again (WebDAV, RFC 4918 9.7.1).  The
 *                          credentials, else those of ~/.netrc, go as HTTP
 *                          basic authentication and never into a URL that
 *                          upload_url() gives or a message prints
 *   github://OWNER/REPO/TAG, https://github.com/OWNER/REPO/releases/tag/TAG
 *                          asset KEY of the GitHub release tagged TAG
 *                          (upload_github.c, below); a KEY has no '/'
 *   file:///DIR, DIR       DIR/KEY, written to a temporary file in the same
 *                          directory, fsync'ed and renamed into place.  A
 *                          plain DIR must not begin with what reads as a URL
 *                          scheme ("word:", RFC 3986): "s3:/b" or "dir:x" is
 *                          refused (-EINVAL), never taken for ./s3:/b; write
 *                          ./dir:x for such a directory
 *
 * Every put replaces the object atomically as seen by readers: S3 and nginx
 * show an object only once it is complete, and file:// renames.
 *
 * S3 settings (struct upload_options, then the environment):
 *   endpoint     --endpoint, else $AWS_ENDPOINT_URL_S3, $AWS_ENDPOINT_URL, else
 *                https://s3.REGION.amazonaws.com (only for a region other than
 *                "auto")
 *   region       --region, else $AWS_REGION, $AWS_DEFAULT_REGION, else "auto"
 *                (what Cloudflare R2 expects; libcurl signs any region name)
 *   credentials  with --credentials or --profile: that file and profile;
 *                else $AWS_ACCESS_KEY_ID + $AWS_SECRET_ACCESS_KEY (and
 *                $AWS_SESSION_TOKEN) when set; else the file
 *                $AWS_SHARED_CREDENTIALS_FILE or ~/.aws/credentials, profile
 *                $AWS_PROFILE or "default".  A credentials file readable by
 *                group or others (mode & 077) is refused (-EPERM).  Without
 *                credentials, requests go unsigned (enough to list or read a
 *                public bucket; puts are refused with -EACCES before any
 *                request is made).
 *   multipart    an object larger than part_size goes up in parts of
 *                part_size bytes (CreateMultipartUpload, UploadPart,
 *                CompleteMultipartUpload); a failed upload is aborted
 *                (AbortMultipartUpload) before the error is returned.
 *
 * GitHub releases (REST API, docs.github.com "Releases", "Release assets"):
 *   the release is looked up by tag (GET /repos/OWNER/REPO/releases/tags/TAG,
 *   then the list of releases for a draft) and created by the first put
 *   when missing (POST /repos/OWNER/REPO/releases with tag_name, name,
 *   target_commitish, draft, prerelease of struct upload_options).  Its
 *   assets are listed once, every page (per_page=100, Link rel="next"), and
 *   kept up to date by the puts.  A put POSTs the bytes to the release's
 *   upload_url (its "{?name,label}" template expanded to "?name=KEY").
 *   GitHub never overwrites an asset: a put of a key that is there fails
 *   with -EEXIST unless replace is set, which deletes the old asset first
 *   (DELETE /repos/OWNER/REPO/releases/assets/ID).  A 422 "already_exists"
 *   answer to the upload (a concurrent publisher, or a retried upload that
 *   GitHub had half-stored in the "starter" state) is met by listing the
 *   assets again: one of the same size that is complete counts as put, a
 *   starter one is deleted and the upload tried once more, any other is
 *   -EEXIST.  upload_public_url() gives the asset's browser_download_url.
 *   token        upload_options.token_file (a file readable by its owner
 *                only, like the S3 credentials file; -EPERM otherwise), else
 *                $GITHUB_TOKEN, else $GH_TOKEN; sent as "Authorization:
 *                Bearer", never to another host after a redirect, never in
 *                a URL or message.  Without one, requests go anonymous
 *                (enough to read a public release; upload_signed() is false)
 *   API          $GITHUB_API_URL (GitHub Enterprise: https://HOST/api/v3),
 *                else https://api.github.com; uploads go where the
 *                release's upload_url says (uploads.github.com)
 *   server       $GITHUB_SERVER_URL, else the scheme and host of an https
 *                DEST, else https://github.com: the base of upload_url()'s
 *                SERVER/OWNER/REPO/releases/download/TAG/KEY before the
 *                asset exists, and the host whose http(s) DEST is a release
 *   rate limits  a 403 or 429 answer with Retry-After, or with
 *                x-ratelimit-remaining: 0 and x-ratelimit-reset, is waited
 *                out (Retry-After seconds, or until the reset time) and the
 *                request sent again, while the waits of one request stay
 *                within UPLOAD_GITHUB_MAX_WAIT seconds; a longer wait fails
 *                at once with a message that gives the time of the reset.
 *
 * Retries: every request (every part of a multipart upload) gets up to
 * attempts attempts, with retry_delay_ms before the second, doubled each
 * time, when the failure may be transient: a connection refused or reset, a
 * timeout, a truncated answer, HTTP 408, 429 or 5xx.  Other failures stop at
 * once.
 *
 * Errors are -errno with the classes of fetch/fetch.h (-ENOENT for 404 and
 * 410, -EACCES for 401/403/407, -EREMOTEIO for any other HTTP status >= 400,
 * -ECONNREFUSED, -ETIMEDOUT, -ECONNRESET, -EHOSTUNREACH, -EKEYREJECTED,
 * -EPROTONOSUPPORT, -EINVAL ...), plus -EPERM for a credentials file open to
 * others, -ECANCELED when the progress callback asked to stop, -EOPNOTSUPP
 * for list on an http(s) destination, -EBADMSG for an S3 answer that cannot
 * be read.  Every failing call records one message, read with
 * upload_errmsg(), that names the object URL and the cause:
 *   cannot upload 'http://127.0.0.1:9000/b/x.tar.gz': HTTP 403 Forbidden
 *   (SignatureDoesNotMatch: The request signature we calculated does not
 *   match ...)
 *
 * Thread safety: a struct upload belongs to one thread at a time.  Call
 * fetch_global_init() (fetch/fetch.h) once before the first upload_new().
 */
#ifndef ARTIFACTCTL_UPLOAD_H
#define ARTIFACTCTL_UPLOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct upload;

enum upload_kind {
	UPLOAD_S3 = 1,
	UPLOAD_HTTP = 2,
	UPLOAD_FILE = 3,
	UPLOAD_GITHUB = 4,
};

#define UPLOAD_GITHUB_MAX_WAIT 300 /* seconds a request waits out GitHub's rate limits */

#define UPLOAD_PART_SIZE_DEFAULT (64ULL << 20) /* 64 MiB */
#define UPLOAD_PART_SIZE_MIN (5ULL << 20)      /* S3's smallest part but the last */
#define UPLOAD_PART_SIZE_MAX (5ULL << 30)      /* S3's largest part and single PUT */
#define UPLOAD_MAX_PARTS 10000		       /* S3's limit: part_size grows to fit */

/*
 * Knobs; zero them (or use upload_options_init()) and set what you need.
 * Strings are borrowed for upload_new() only.
 */
struct upload_options {
	const char *endpoint;	 /* S3 endpoint URL; NULL: see above */
	const char *region;	 /* NULL: see above */
	const char *profile;	 /* NULL: see above */
	const char *credentials; /* credentials file; NULL: see above */
	uint64_t part_size;	 /* 0: UPLOAD_PART_SIZE_DEFAULT; else MIN..MAX */
	unsigned attempts;	 /* per request or part; 0: 3 */
	unsigned retry_delay_ms; /* 0: 1000 */
	const char *ca_file;	 /* CA bundle (PEM) for https; NULL: the system's */
	long connect_timeout;	 /* seconds; 0: 30 */
	long low_speed_time;	 /* abort below 1 byte/s for this long; 0: 60 */
	/* GitHub releases */
	const char *token_file;	  /* file holding the token; NULL: $GITHUB_TOKEN, $GH_TOKEN */
	const char *release_name; /* name of a release created; NULL: the tag */
	const char *target;	  /* target_commitish of a release created; NULL: GitHub's */
	bool draft, prerelease;	  /* of a release created */
	bool replace;		  /* delete an asset of the same name before a put */
	/*
	 * Told, in one line without a newline, of a wait the user should
	 * see (GitHub's rate limit: how long and until when); NULL: nothing is
	 * said.  Called on the thread of the request, before the wait.
	 */
	void (*notice)(void *arg, const char *msg);
	void *notice_arg;
};

/* upload_options_init - zero o: every field takes its default. */
void upload_options_init(struct upload_options *o);

/*
 * upload_new - open the destination dest (see the top of this file) with
 * options o (may be NULL).  Nothing is sent: the bucket, server or directory
 * is first used by the calls below.  A file:// directory is created (with
 * its parents) by the first put, not here.
 * @ret: receives the handle, freed with upload_free(); untouched on failure.
 * @errmsg: when not NULL, receives on failure a malloc'ed message (caller
 *   frees); NULL on success.
 * Returns 0, -EINVAL (malformed dest, e.g. "s3:/b", "http:///x" or
 * "github://OWNER/REPO" without a tag, endpoint or part size; no endpoint
 * known for s3://), -EPROTONOSUPPORT (another
 * scheme, "ftp://..."), -EPERM (credentials
 * or token file readable by group or others), -ENOENT or another -errno (an
 * explicit credentials or token file cannot be read), -EBADMSG (a credentials file without
 * the profile or with half a key pair), -ENOMEM.
 */
int upload_new(
	const char *dest, const struct upload_options *o, struct upload **ret, char **errmsg);

/* upload_free - free u; NULL is a no-op. */
void upload_free(struct upload *u);

/* upload_kind - the backend of u. */
enum upload_kind upload_kind(const struct upload *u);

/*
 * upload_errmsg - the message of the last failed call on u, or "" (borrowed;
 * valid until the next call on u).
 */
const char *upload_errmsg(const struct upload *u);

/*
 * upload_signed - whether requests of u are authenticated where the backend
 * needs it to write: S3 credentials, a GitHub token found; true for http(s)
 * and file://.
 */
bool upload_signed(const struct upload *u);

/*
 * upload_url - the URL of key: ENDPOINT/BUCKET/PREFIX/KEY for s3:// (the
 * object behind the S3 API, readable by anyone only when the bucket is
 * public), DEST/KEY for http(s), file:///DIR/KEY for a directory,
 * SERVER/OWNER/REPO/releases/download/TAG/KEY for a GitHub release (where
 * GitHub serves the asset; see upload_public_url()).  Bytes other than A-Z
 * a-z 0-9 - . _ ~ and / of the key are percent-encoded.
 * @ret: malloc'ed (caller frees); untouched on failure.
 * Returns 0, -EINVAL (empty key, a key with "." or ".." components, a
 * leading or doubled "/", a NUL or control byte; any "/" for GitHub),
 * -ENOMEM.
 */
int upload_url(const struct upload *u, const char *key, char **ret);

/*
 * upload_public_url - the URL readers download key from, as the
 * destination reports it: for GitHub, the browser_download_url of the
 * asset once upload_head(), upload_list() or a put has seen it; else (and
 * for the other backends) upload_url().  Sends nothing.
 * @ret: malloc'ed (caller frees); untouched on failure.
 * Returns 0, or the errors of upload_url().
 */
int upload_public_url(const struct upload *u, const char *key, char **ret);

/*
 * upload_join_url - base + "/" + key, with trailing slashes of base dropped
 * and key percent-encoded as in upload_url(): the URL of key when the
 * destination is read back from base (--public-url).  No destination is
 * needed.  @ret: malloc'ed (caller frees); untouched on failure.
 * Returns 0, -EINVAL (a key upload_url() refuses), -ENOMEM.
 */
int upload_join_url(const char *base, const char *key, char **ret);

/* What upload_head() learns about an object. */
struct upload_stat {
	bool exists;	     /* the object exists */
	uint64_t size;	     /* its size in bytes, when it exists */
	bool has_sidecar;    /* KEY.json exists and is a sidecar (tools/publish/sidecar.h) */
	char sha256[64 + 1]; /* the sidecar's sha256, lowercase; "" without one */
};

/*
 * upload_head - whether key exists and its size (HEAD, stat(2), or the
 * release's asset list), and when it does, the sha256 its sidecar KEY.json
 * records (GET, or read(2)).  A missing object or sidecar is not an error
 * (nor, on GitHub, a missing release).  A sidecar that cannot be parsed
 * counts as absent.  An incomplete GitHub asset ("starter") exists with
 * size 0.
 * Returns 0 with *ret filled, or -errno (a failed HEAD or GET other than
 * 404/410) with the message.
 */
int upload_head(struct upload *u, const char *key, struct upload_stat *ret);

/*
 * upload_get - the content of key, at most max bytes (GitHub: the asset's
 * bytes through the API, which may redirect to another host).
 * @ret: receives a malloc'ed buffer, NUL-terminated after its *len bytes
 *   (caller frees); untouched on failure.
 * Returns 0, -ENOENT (no such object), -E2BIG (larger than max), or -errno.
 */
int upload_get(struct upload *u, const char *key, size_t max, char **ret, size_t *len);

/*
 * Progress of a put: now of total bytes sent.  Called at most about every
 * 100 ms and once at the end.  Return false to abort the put (-ECANCELED).
 * During a retry, now goes back to the start of the failed request.
 */
typedef bool (*upload_progress_fn)(void *arg, uint64_t now, uint64_t total);

/*
 * upload_put_fd - store size bytes of fd, read with pread(2) from offset 0,
 * as key, with the Content-Type type (NULL: application/octet-stream).
 * fd is borrowed.  On S3 above part_size it becomes a multipart upload.
 * progress may be NULL.
 * Returns 0 or -errno with the message.  On failure nothing was stored
 * under key (a previous object there is left as it was; on GitHub, with
 * replace, it may be gone).  GitHub: -EEXIST when an asset key is there
 * and replace is not set.
 */
int upload_put_fd(struct upload *u, const char *key, int fd, uint64_t size, const char *type,
	upload_progress_fn progress, void *arg);

/* upload_put_buf - upload_put_fd() for len bytes in memory at p. */
int upload_put_buf(struct upload *u, const char *key, const void *p, size_t len, const char *type);

/*
 * One object found by upload_list(): key relative to the destination, size
 * in bytes.  key is borrowed for the call.  Return 0 to go on, or a
 * negative errno to stop the listing, which then returns it.
 */
typedef int (*upload_list_fn)(void *arg, const char *key, uint64_t size);

/*
 * upload_list - every object under the destination whose key starts with
 * prefix ("" for all), in no particular order for file://, in S3's
 * (byte-wise) order for s3://, in GitHub's order for a release (none when
 * the release does not exist yet).  S3: ListObjectsV2 with continuation
 * tokens; file://: a recursive walk that does not follow symlinks and skips
 * the temporary files of puts in progress; GitHub: the assets, every page.
 * Returns 0, the callback's error, -EOPNOTSUPP for http(s), or -errno.
 */
int upload_list(struct upload *u, const char *prefix, upload_list_fn fn, void *arg);

/*
 * upload_delete - remove key: DELETE for s3:// and http(s), unlink(2) for
 * a directory, DELETE of the asset for GitHub.  A key that is not there is
 * not an error.
 * Returns 0, -EINVAL (a key upload_url() refuses), or -errno with the
 * message.
 */
int upload_delete(struct upload *u, const char *key);

/* One object of a listing kept in memory. */
struct upload_object {
	char *key;     /* malloc'ed, relative to the destination */
	uint64_t size; /* bytes */
};

/* The objects of upload_list_sorted(), sorted by key (strcmp). */
struct upload_objects {
	struct upload_object *v; /* malloc'ed */
	size_t n, cap;
};

/*
 * upload_list_sorted - upload_list() of prefix kept in *ret, sorted by key.
 * @ret: filled on success, released with upload_objects_release();
 *   untouched on failure.
 * Returns 0 or upload_list()'s error (-ENOMEM included).
 */
int upload_list_sorted(struct upload *u, const char *prefix, struct upload_objects *ret);

/* upload_objects_find - the object of l with key key, or NULL (borrowed from l). */
const struct upload_object *upload_objects_find(const struct upload_objects *l, const char *key);

/* upload_objects_release - free the keys and the array of l and zero it. */
void upload_objects_release(struct upload_objects *l);

#endif
