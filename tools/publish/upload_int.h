/*
 * upload_int.h - what upload.c (common code, libcurl requests) and the
 * backends upload_s3.c, upload_http.c, upload_file.c and upload_github.c
 * (with upload_github_api.c, upload_github_int.h) share; not a public header
 */
#ifndef ARTIFACTCTL_UPLOAD_INT_H
#define ARTIFACTCTL_UPLOAD_INT_H

#include "tools/publish/upload.h"

#include <curl/curl.h>
#include <stdarg.h>

#include "store/util/buf.h"

#define EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define RESPONSE_MAX (16u << 20) /* ceiling of a response body kept in memory */
#define UP_GITHUB_FORMS "github://OWNER/REPO/TAG or https://github.com/OWNER/REPO/releases/tag/TAG"
#define UP_DEST_FORMS                                                                              \
	"s3://BUCKET[/PREFIX], http(s)://HOST/PATH, file:///DIR or a plain path; " UP_GITHUB_FORMS \
	" for a GitHub release"

struct upload {
	enum upload_kind kind;
	char *base; /* http: DEST ending in '/'; s3: ENDPOINT/BUCKET/; file: the directory */
	/* s3 */
	char *bucket, *prefix; /* prefix: "" or ending in '/' */
	char *sigv4;	       /* "aws:amz:REGION:s3" */
	char *key_id, *secret, *token;
	/* http: "user:password" from DEST's userinfo, kept out of every URL */
	char *userpwd;
	/* github (upload_github.c, upload_github_int.h) */
	struct github *gh;
	/* settings */
	uint64_t part_size;
	unsigned attempts, retry_delay_ms;
	char *ca_file;
	long connect_timeout, low_speed_time;
	void (*notice)(void *arg, const char *msg); /* upload_options.notice */
	void *notice_arg;
	CURL *curl;
	char *errmsg;
};

/* The body of a request: len bytes of fd from off, or of mem. */
struct up_body {
	int fd; /* -1: mem */
	const char *mem;
	uint64_t off, len;
	uint64_t pos; /* bytes handed to libcurl */
	int err;      /* -errno of a failed pread */
};

struct up_req {
	const char *method; /* GET HEAD PUT POST DELETE MKCOL */
	const char *url;
	const char *name;	    /* the object URL for messages; NULL: url */
	struct up_body *body;	    /* NULL: no body (POST sends an empty one) */
	const char *content_type;   /* NULL: none */
	const char *payload_sha256; /* s3: the x-amz-content-sha256 value */
	struct buf *resp;	    /* the answer's body (NULL: discarded) */
	const char *range;	    /* GET: CURLOPT_RANGE, e.g. "0-0"; NULL: all */
	const char *accept;	    /* github: Accept; NULL: application/vnd.github+json */
	bool follow;		    /* follow redirects (fetch/http.h) */
	upload_progress_fn progress;
	void *progress_arg;
	uint64_t progress_base, progress_total;
	/* results */
	long status;
	char reason[64]; /* reason phrase of the status line */
	char etag[128];
	int64_t length; /* Content-Length of the answer, -1 when unknown */
	char link[2048];    /* the Link header (RFC 8288), "" without one */
	long retry_after;   /* Retry-After in seconds, -1 without one */
	long rl_remaining;  /* x-ratelimit-remaining, -1 without one */
	long long rl_reset; /* x-ratelimit-reset (Unix time), -1 without one */
	/* internal */
	uint64_t last_ms;
	bool cancelled;
};

/*
 * up_request - perform r with the retries of upload.h.  Success is a 2xx
 * answer.  On failure returns -errno and records "cannot VERB 'URL': CAUSE"
 * (the cause names the HTTP status and, for S3, the error code and message
 * of the XML body) unless quiet_status is the status received (then only
 * the errno is returned, e.g. a 404 on HEAD).
 */
int up_request(struct upload *u, struct up_req *r, const char *verb, long quiet_status);

/*
 * up_req_put - make *r the PUT of the body b (borrowed, as url, type and
 * arg: they must outlive r) to url with Content-Type type, its progress
 * reported to progress(arg) against b->len; every other field zero.
 */
void up_req_put(struct up_req *r, const char *url, struct up_body *b, const char *type,
	upload_progress_fn progress, void *arg);

/*
 * up_fail - record a message (printf-style) on u and return err.  The first
 * message since the last up_clear_error() wins (curl's Curl_failf()): a
 * later failure of the same call, such as the abort after a failed part,
 * does not hide the cause.  Where a failure is recovered from (a retry
 * after MKCOL, a 405 for a collection that exists) or its message refined,
 * the caller clears it first.
 */
int up_fail(struct upload *u, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* up_clear_error - forget the message of u; every public call starts so. */
void up_clear_error(struct upload *u);

/*
 * up_read_secret - the content of the file path, which holds a secret (the
 * S3 credentials file, a GitHub token file; what names it in messages): a
 * regular file of less than max bytes that only its owner may read or
 * write.  @ret: malloc'ed, NUL-terminated after its *len bytes; the caller
 * wipes (explicit_bzero) and frees it; untouched on failure.
 * Returns 0, or with the message -ENOENT and the other errors of open(2)
 * and read(2), -EINVAL (not a regular file), -EPERM (mode & 077), -E2BIG.
 */
int up_read_secret(
	struct upload *u, const char *path, const char *what, size_t max, char **ret, size_t *len);

/* up_key_valid - key follows the rules of upload_url(). */
bool up_key_valid(const char *key);

/* up_escape - append key to b percent-encoded (upload_url()); errors of buf_add(). */
int up_escape(struct buf *b, const char *key, bool keep_slash);

/*
 * up_percent_decode - decode the %XX escapes (RFC 3986) of the n bytes at s
 * into out, which has room for n + 1 bytes and may be s itself; other bytes,
 * and a '%' not followed by two hex digits, are copied.  out is
 * NUL-terminated.
 */
void up_percent_decode(const char *s, size_t n, char *out);

/*
 * up_xml_text - the text of the first <tag>...</tag> in the bytes [p, e)
 * (an S3 error body), not decoded, into out (size bytes, always
 * NUL-terminated; longer text is cut).  tag is at most 60 bytes.  Returns
 * false, leaving out untouched, when there is no complete element.
 * Reads only [p, e); e - p may be 0.
 */
bool up_xml_text(const char *p, const char *e, const char *tag, char *out, size_t size);

/* http(s) (upload_http.c) */
int http_init(struct upload *u, const char *dest);
int http_head(struct upload *u, const char *url, bool *exists, uint64_t *size);
int http_get(struct upload *u, const char *url, size_t max, struct buf *out);
int http_put(struct upload *u, const char *url, struct up_body *b, const char *type,
	upload_progress_fn progress, void *arg);

/* s3 (upload_s3.c) */
int s3_init(struct upload *u, const char *dest, const struct upload_options *o);
int s3_head(struct upload *u, const char *key, const char *url, bool *exists, uint64_t *size);
int s3_get(struct upload *u, const char *url, size_t max, struct buf *out);
int s3_put(struct upload *u, const char *url, struct up_body *b, const char *type,
	upload_progress_fn progress, void *arg);
int s3_list(struct upload *u, const char *prefix, upload_list_fn fn, void *arg);
void s3_release(struct upload *u);

/*
 * The parsers of S3's XML answers, exposed for tests/fuzz; they read only
 * the bytes given (no NUL needed) and keep no state.
 *
 * s3_xml_take - the text of the first <tag>...</tag> in [*p, e), with the
 * five predefined entities and &#N; / &#xN; (as UTF-8, 1-0x10FFFF) decoded,
 * into *ret (malloc'ed, NUL-terminated; the caller frees; untouched on
 * failure); *p moves past the element.  tag is at most 60 bytes.
 * Returns 0, -ENOENT (no <tag>), -EBADMSG (no closing tag, an unknown or
 * malformed entity), -E2BIG (text over RESPONSE_MAX) or -ENOMEM.
 *
 * s3_list_page - one ListObjectsV2 answer (len bytes at body): fn(arg,
 * key without prefix, size) for every <Contents> whose <Key> starts with
 * prefix and is longer (a missing or malformed <Size> is 0); then, when
 * the answer says <IsTruncated>true</IsTruncated>, *next receives the
 * malloc'ed NextContinuationToken (the caller frees; untouched otherwise).
 * Returns 0, fn's error, -ENOMEM, or -EBADMSG with *why set to a static
 * reason ("not a ListObjectsV2 answer", "malformed answer", "truncated
 * answer without a continuation token"); *why is NULL for other results.
 */
int s3_xml_take(const char **p, const char *e, const char *tag, char **ret);
int s3_list_page(const char *body, size_t len, const char *prefix, upload_list_fn fn, void *arg,
	char **next, const char **why);

/* github (upload_github.c; head/get/put/list/delete, rate_wait, describe: upload_github_api.c) */
/* github_dest - whether dest is a GitHub release destination (either form). */
bool github_dest(const char *dest);
int github_init(struct upload *u, const char *dest, const struct upload_options *o);
void github_release(struct upload *u);
bool github_signed(const struct upload *u);
int github_url(const struct upload *u, const char *key, bool public, char **ret);
int github_head(struct upload *u, const char *key, bool *exists, uint64_t *size);
int github_get(struct upload *u, const char *key, size_t max, struct buf *out);
int github_put(struct upload *u, const char *key, struct up_body *b, const char *type,
	upload_progress_fn progress, void *arg);
int github_list(struct upload *u, const char *prefix, upload_list_fn fn, void *arg);
int github_delete(struct upload *u, const char *key);
/* github_token - the token sent as "Authorization: Bearer" (borrowed), or NULL */
const char *github_token(const struct upload *u);
/*
 * github_rate_wait - after a 403 or 429 answer r: the milliseconds to wait
 * before the request is sent again (*waited_ms, the time waited so far for
 * it, grows by as much), 0 when the answer is no rate limit, or -errno
 * with the message when the wait would pass UPLOAD_GITHUB_MAX_WAIT.
 */
long github_rate_wait(struct upload *u, const struct up_req *r, uint64_t *waited_ms);
/*
 * github_describe - " (MESSAGE: CODE)" of GitHub's JSON error answer b
 * (its "message" and first errors[].code) into out (size bytes), or "".
 */
void github_describe(const struct buf *b, char *out, size_t size);

/* file:// (upload_file.c) */
int file_init(struct upload *u, const char *dest);
int file_head(struct upload *u, const char *key, bool *exists, uint64_t *size);
int file_get(struct upload *u, const char *key, size_t max, struct buf *out);
int file_put(struct upload *u, const char *key, struct up_body *b, upload_progress_fn progress,
	void *arg);
int file_list(struct upload *u, const char *prefix, upload_list_fn fn, void *arg);
int file_delete(struct upload *u, const char *key);

#endif
