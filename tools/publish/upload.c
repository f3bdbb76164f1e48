/*
 * upload.c - the upload layer: destinations, keys, libcurl requests on the
 * transport of fetch/http.h (handle setup, errno classes, retries), and the
 * dispatch to the backends: upload_s3.c (S3), upload_http.c (http(s) PUT,
 * WebDAV), upload_file.c (file://), upload_github.c (GitHub releases)
 */
#include "tools/publish/upload_int.h"

#include "fetch/fetch.h"
#include "fetch/http.h"
#include "store/hash.h"
#include "store/util/time.h"
#include "tools/publish/sidecar.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

void upload_options_init(struct upload_options *o)
{
	memset(o, 0, sizeof(*o));
}

int up_fail(struct upload *u, int err, const char *fmt, ...)
{
	va_list ap;
	char *m = NULL;

	if (u->errmsg)
		return err; /* the first message of a call names the cause; keep it */
	va_start(ap, fmt);
	if (vasprintf(&m, fmt, ap) < 0)
		m = NULL;
	va_end(ap);
	u->errmsg = m;
	return err;
}

void up_clear_error(struct upload *u)
{
	free(u->errmsg);
	u->errmsg = NULL;
}

const char *upload_errmsg(const struct upload *u)
{
	return u->errmsg ? u->errmsg : "";
}

enum upload_kind upload_kind(const struct upload *u)
{
	return u->kind;
}

bool upload_signed(const struct upload *u)
{
	if (u->kind == UPLOAD_GITHUB)
		return github_signed(u);
	return u->kind != UPLOAD_S3 || u->key_id;
}

int up_read_secret(
	struct upload *u, const char *path, const char *what, size_t max, char **ret, size_t *len)
{
	struct stat st;
	char *text = NULL;
	size_t got = 0;
	ssize_t n;
	int fd, err = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		err = -errno;
		return up_fail(u, err, "cannot open the %s '%s': %s", what, path, strerror(-err));
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		err = up_fail(u, -EINVAL, "%s '%s' is not a regular file", what, path);
		goto out;
	}
	/* like ssh with a private key: a secret others can read is refused */
	if (st.st_mode & 077) {
		err = up_fail(u, -EPERM,
			"%s '%s' is accessible by group or others (mode %04o); run chmod 600 '%s'",
			what, path, (unsigned)(st.st_mode & 07777), path);
		goto out;
	}
	if ((uint64_t)st.st_size >= max) {
		err = up_fail(u, -E2BIG, "%s '%s' is too large", what, path);
		goto out;
	}
	if (!(text = malloc((size_t)st.st_size + 1))) {
		err = -ENOMEM;
		goto out;
	}
	while (got < (size_t)st.st_size &&
		(n = read(fd, text + got, (size_t)st.st_size - got)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err = up_fail(u, -errno, "cannot read '%s': %s", path, strerror(errno));
			goto out;
		}
		got += (size_t)n;
	}
	text[got] = '\0';
	*ret = text;
	*len = got;
	text = NULL;
out:
	if (text) {
		explicit_bzero(text, got);
		free(text);
	}
	close(fd);
	return err;
}

/* ---- keys ------------------------------------------------------------------ */

bool up_key_valid(const char *key)
{
	const char *p = key, *c;

	if (!*key || *key == '/')
		return false;
	for (; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return false;
	for (p = key;; p = c + 1) {
		size_t n;

		c = strchr(p, '/');
		n = c ? (size_t)(c - p) : strlen(p);
		if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
			return false;
		if (!c)
			return true;
	}
}

int up_escape(struct buf *b, const char *key, bool keep_slash)
{
	static const char hex[] = "0123456789ABCDEF";
	int r = 0;

	for (; r == 0 && *key; key++) {
		unsigned char c = (unsigned char)*key;

		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
			c == '-' || c == '.' || c == '_' || c == '~' || (c == '/' && keep_slash)) {
			r = buf_addc(b, (char)c);
		} else {
			char e[3] = {'%', hex[c >> 4], hex[c & 15]};

			r = buf_add(b, e, 3);
		}
	}
	return r;
}

int upload_url(const struct upload *u, const char *key, char **ret)
{
	struct buf b;
	int r;

	if (!up_key_valid(key))
		return -EINVAL;
	if (u->kind == UPLOAD_GITHUB)
		return github_url(u, key, false, ret);
	buf_init(&b, 1 << 20);
	switch (u->kind) {
	case UPLOAD_S3:
		if ((r = buf_adds(&b, u->base)) == 0 && (r = up_escape(&b, u->prefix, true)) == 0)
			r = up_escape(&b, key, true);
		break;
	case UPLOAD_HTTP:
		if ((r = buf_adds(&b, u->base)) == 0)
			r = up_escape(&b, key, true);
		break;
	default:
		if ((r = buf_adds(&b, "file://")) == 0 && (r = up_escape(&b, u->base, true)) == 0 &&
			(r = buf_addc(&b, '/')) == 0)
			r = up_escape(&b, key, true);
		break;
	}
	return buf_finish(&b, r, ret);
}

int upload_public_url(const struct upload *u, const char *key, char **ret)
{
	if (u->kind == UPLOAD_GITHUB && up_key_valid(key))
		return github_url(u, key, true, ret);
	return upload_url(u, key, ret);
}

int upload_join_url(const char *base, const char *key, char **ret)
{
	size_t n = strlen(base);
	struct buf b;
	int r;

	if (!up_key_valid(key))
		return -EINVAL;
	while (n > 0 && base[n - 1] == '/')
		n--;
	buf_init(&b, 1 << 20);
	if ((r = buf_add(&b, base, n)) == 0 && (r = buf_addc(&b, '/')) == 0)
		r = up_escape(&b, key, true);
	return buf_finish(&b, r, ret);
}

void up_percent_decode(const char *s, size_t n, char *out)
{
	const char *e = s + n;
	uint8_t v;

	while (s < e) {
		if (*s == '%' && e - s > 2 && hash_from_hex(s + 1, 2, &v, 1) == 0) {
			*out++ = (char)v;
			s += 3;
		} else {
			*out++ = *s++;
		}
	}
	*out = '\0';
}

/* ---- libcurl requests ---------------------------------------------------------- */

#define UP_MAX_DELAY_MS 120000 /* ceiling of the doubling wait between attempts */

static size_t on_read(char *dst, size_t size, size_t nitems, void *arg)
{
	struct up_body *b = arg;
	size_t want = size * nitems;
	ssize_t n;

	if (b->pos >= b->len)
		return 0;
	if (want > b->len - b->pos)
		want = (size_t)(b->len - b->pos);
	if (b->fd < 0) {
		memcpy(dst, b->mem + b->pos, want);
		n = (ssize_t)want;
	} else {
		do
			n = pread(b->fd, dst, want, (off_t)(b->off + b->pos));
		while (n < 0 && errno == EINTR);
		if (n <= 0) {
			b->err = n < 0 ? -errno : -EIO; /* the file shrank */
			return CURL_READFUNC_ABORT;
		}
	}
	b->pos += (uint64_t)n;
	return (size_t)n;
}

static int on_seek(void *arg, curl_off_t offset, int origin)
{
	struct up_body *b = arg;

	if (origin != SEEK_SET || offset < 0 || (uint64_t)offset > b->len)
		return CURL_SEEKFUNC_CANTSEEK;
	b->pos = (uint64_t)offset;
	return CURL_SEEKFUNC_OK;
}

static size_t on_write(char *p, size_t size, size_t nmemb, void *arg)
{
	struct up_req *r = arg;
	size_t n = size * nmemb;

	if (r->resp && buf_add(r->resp, p, n) < 0)
		return 0; /* over the ceiling: CURLE_WRITE_ERROR */
	return n;
}

/* A header's decimal value in [0, max], or -1 (absent, malformed: an HTTP date). */
static long long header_number(const char *s, const char *e, long long max)
{
	long long v = 0;

	buf_span_trim(&s, &e);
	if (s == e)
		return -1;
	for (; s < e; s++) {
		if (*s < '0' || *s > '9' || v > (max - (*s - '0')) / 10)
			return -1;
		v = v * 10 + (*s - '0');
	}
	return v;
}

static size_t on_header(char *p, size_t size, size_t nmemb, void *arg)
{
	struct up_req *r = arg;
	size_t n = size * nmemb;
	const char *s, *e = p + n;

	if (n > 5 && memcmp(p, "HTTP/", 5) == 0) {
		/* a new status line (after 100 Continue too): "HTTP/1.1 404 Not Found" */
		r->reason[0] = '\0';
		r->etag[0] = '\0';
		s = memchr(p, ' ', n);
		if (s && (s = memchr(s + 1, ' ', (size_t)(e - s - 1)))) {
			s++;
			buf_span_trim(&s, &e);
			snprintf(r->reason, sizeof(r->reason), "%.*s", (int)(e - s), s);
		}
	} else if (n > 5 && strncasecmp(p, "etag:", 5) == 0) {
		s = p + 5;
		buf_span_trim(&s, &e);
		snprintf(r->etag, sizeof(r->etag), "%.*s", (int)(e - s), s);
	} else if (n > 5 && strncasecmp(p, "link:", 5) == 0) {
		s = p + 5;
		buf_span_trim(&s, &e);
		if ((size_t)(e - s) < sizeof(r->link)) /* a longer one is not ours to follow */
			snprintf(r->link, sizeof(r->link), "%.*s", (int)(e - s), s);
	} else if (n > 12 && strncasecmp(p, "retry-after:", 12) == 0) {
		r->retry_after = header_number(p + 12, e, LONG_MAX);
	} else if (n > 22 && strncasecmp(p, "x-ratelimit-remaining:", 22) == 0) {
		r->rl_remaining = header_number(p + 22, e, LONG_MAX);
	} else if (n > 18 && strncasecmp(p, "x-ratelimit-reset:", 18) == 0) {
		r->rl_reset = header_number(p + 18, e, LLONG_MAX);
	}
	return n;
}

static int on_progress(
	void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
	struct up_req *r = arg;
	uint64_t t;

	if (!r->progress)
		return 0;
	t = time_mono_ms();
	if (t - r->last_ms < 100)
		return 0;
	r->last_ms = t;
	if (!r->progress(r->progress_arg, r->progress_base + (uint64_t)ulnow, r->progress_total)) {
		r->cancelled = true;
		return 1;
	}
	return 0;
}

static int set_headers(struct upload *u, struct up_req *r, struct curl_slist **list)
{
	char h[160];
	struct curl_slist *l = NULL, *n;

	/* S3: curl 7.88 signs the x-amz-* headers given here and takes the payload hash from
	 * x-amz-content-sha256; without the header it would sign the hash of an empty body */
	if (u->kind == UPLOAD_S3) {
		snprintf(h, sizeof(h), "x-amz-content-sha256: %s",
			r->payload_sha256 ? r->payload_sha256 : EMPTY_SHA256);
		if (!(n = curl_slist_append(l, h)))
			goto nomem;
		l = n;
		if (u->token && u->key_id) {
			char *t;

			if (asprintf(&t, "x-amz-security-token: %s", u->token) < 0)
				goto nomem;
			n = curl_slist_append(l, t);
			free(t);
			if (!n)
				goto nomem;
			l = n;
		}
	}
	if (u->kind == UPLOAD_GITHUB) {
		/* docs.github.com, "Getting started with the REST API": media type, version */
		snprintf(h, sizeof(h), "Accept: %s",
			r->accept ? r->accept : "application/vnd.github+json");
		if (!(n = curl_slist_append(l, h)))
			goto nomem;
		l = n;
		if (!(n = curl_slist_append(l, "X-GitHub-Api-Version: 2022-11-28")))
			goto nomem;
		l = n;
	}
	if (r->content_type) {
		snprintf(h, sizeof(h), "Content-Type: %s", r->content_type);
		if (!(n = curl_slist_append(l, h)))
			goto nomem;
		l = n;
	}
	*list = l;
	return 0;
nomem:
	curl_slist_free_all(l);
	return -ENOMEM;
}

/* One attempt.  Returns 0 (any status: see r->status), or -errno of the transfer. */
static int perform(struct upload *u, struct up_req *r, char *errbuf)
{
	struct fetch_http_conf conf = {
		.user_agent = "artifactctl/" ARTIFACTFS_VERSION,
		.ca_file = u->ca_file,
		.connect_timeout = u->connect_timeout,
		.low_speed_limit = 1,
		.low_speed_time = u->low_speed_time,
	};
	struct curl_slist *headers = NULL;
	CURL *c = u->curl;
	CURLcode cc;
	curl_off_t len = -1;
	int err;

	r->status = 0;
	r->reason[0] = r->etag[0] = r->link[0] = '\0';
	r->length = -1;
	r->retry_after = r->rl_remaining = -1;
	r->rl_reset = -1;
	r->cancelled = false;
	r->last_ms = 0;
	errbuf[0] = '\0';
	if (r->resp)
		buf_reset(r->resp);
	if (r->body) {
		r->body->pos = 0;
		r->body->err = 0;
	}
	if ((err = set_headers(u, r, &headers)) < 0)
		return err;

	curl_easy_reset(c);
	conf.headers = headers;
	conf.follow_redirects = r->follow;
	if ((err = fetch_http_setup(c, &conf, r->url, NULL, errbuf)) < 0) {
		curl_slist_free_all(headers);
		return err;
	}
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_write);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
	curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(c, CURLOPT_XFERINFODATA, r);
	curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	if (u->kind == UPLOAD_HTTP && u->userpwd) {
		curl_easy_setopt(c, CURLOPT_USERPWD, u->userpwd);
		curl_easy_setopt(c, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
	} else if (u->kind == UPLOAD_HTTP) {
		curl_easy_setopt(c, CURLOPT_NETRC, (long)CURL_NETRC_OPTIONAL);
	}
	if (u->kind == UPLOAD_S3 && u->key_id) {
		curl_easy_setopt(c, CURLOPT_AWS_SIGV4, u->sigv4);
		curl_easy_setopt(c, CURLOPT_USERNAME, u->key_id);
		curl_easy_setopt(c, CURLOPT_PASSWORD, u->secret);
	}
	if (u->kind == UPLOAD_GITHUB && github_token(u)) {
		/* as credentials rather than a header: libcurl keeps them from other hosts */
		curl_easy_setopt(c, CURLOPT_HTTPAUTH, (long)CURLAUTH_BEARER);
		curl_easy_setopt(c, CURLOPT_XOAUTH2_BEARER, github_token(u));
	}
	if (strcmp(r->method, "HEAD") == 0) {
		curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	} else if (strcmp(r->method, "PUT") == 0) {
		static const struct up_body none = {.fd = -1, .mem = ""};
		struct up_body *b = r->body ? r->body : (struct up_body *)&none;

		curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(c, CURLOPT_READFUNCTION, on_read);
		curl_easy_setopt(c, CURLOPT_READDATA, b);
		curl_easy_setopt(c, CURLOPT_SEEKFUNCTION, on_seek);
		curl_easy_setopt(c, CURLOPT_SEEKDATA, b);
		curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)b->len);
	} else if (strcmp(r->method, "POST") == 0 && r->body) {
		/* streamed, from memory or a file (a GitHub asset) */
		curl_easy_setopt(c, CURLOPT_POST, 1L);
		curl_easy_setopt(c, CURLOPT_READFUNCTION, on_read);
		curl_easy_setopt(c, CURLOPT_READDATA, r->body);
		curl_easy_setopt(c, CURLOPT_SEEKFUNCTION, on_seek);
		curl_easy_setopt(c, CURLOPT_SEEKDATA, r->body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->body->len);
	} else if (strcmp(r->method, "POST") == 0) {
		curl_easy_setopt(c, CURLOPT_POST, 1L);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, "");
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)0);
	} else if (strcmp(r->method, "GET") != 0) {
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, r->method);
	} else if (r->range) {
		curl_easy_setopt(c, CURLOPT_RANGE, r->range);
	}

	cc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
	if (curl_easy_getinfo(c, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &len) == CURLE_OK && len >= 0)
		r->length = (int64_t)len;
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
	curl_slist_free_all(headers);
	if (cc == CURLE_OK)
		return 0;
	if (r->cancelled)
		return -ECANCELED;
	if (r->body && r->body->err)
		return r->body->err;
	if (cc == CURLE_WRITE_ERROR && r->resp)
		return -E2BIG;
	if (!errbuf[0])
		snprintf(errbuf, CURL_ERROR_SIZE, "%s", curl_easy_strerror(cc));
	return fetch_curl_errno(cc, NULL);
}

bool up_xml_text(const char *p, const char *e, const char *tag, char *out, size_t size)
{
	char open[64], close[64];
	const char *s, *t;
	size_t n;

	snprintf(open, sizeof(open), "<%s>", tag);
	snprintf(close, sizeof(close), "</%s>", tag);
	s = memmem(p, (size_t)(e - p), open, strlen(open));
	if (!s)
		return false;
	s += strlen(open);
	t = memmem(s, (size_t)(e - s), close, strlen(close));
	if (!t)
		return false;
	n = (size_t)(t - s);
	snprintf(out, size, "%.*s", (int)(n < size ? n : size - 1), s);
	return true;
}

/* "HTTP 403 Forbidden (AccessDenied: Access Denied)" */
static void describe_status(const struct upload *u, const struct up_req *r, char *out, size_t size)
{
	char code[128] = "", msg[256] = "";
	int n;

	n = fetch_http_describe(r->status, r->reason, out, size);
	if (n < 0 || (size_t)n >= size || !r->resp || !r->resp->ptr)
		return;
	if (u->kind == UPLOAD_GITHUB)
		github_describe(r->resp, out + n, size - (size_t)n);
	else if (up_xml_text(
			 r->resp->ptr, r->resp->ptr + r->resp->len, "Code", code, sizeof(code))) {
		up_xml_text(r->resp->ptr, r->resp->ptr + r->resp->len, "Message", msg, sizeof(msg));
		snprintf(out + n, size - (size_t)n, " (%s%s%s)", code, *msg ? ": " : "", msg);
	}
}

/* rate_notice - say that the request r waits wait_ms for GitHub's rate limit. */
static void rate_notice(struct upload *u, const struct up_req *r, long wait_ms)
{
	char msg[1024], when[32] = "";
	time_t t = time(NULL) + (time_t)((wait_ms + 999) / 1000);
	struct tm tm;

	if (!u->notice)
		return;
	if (gmtime_r(&t, &tm))
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	snprintf(msg, sizeof(msg),
		"GitHub's rate limit (HTTP %ld): waiting %lds, until %s, to send '%s' again",
		r->status, (wait_ms + 999) / 1000, when, r->name ? r->name : r->url);
	u->notice(u->notice_arg, msg);
}

int up_request(struct upload *u, struct up_req *r, const char *verb, long quiet_status)
{
	char errbuf[CURL_ERROR_SIZE], cause[512];
	struct fetch_retry rt;
	struct buf errbody;
	uint64_t waited_ms = 0;
	bool own = false;
	long wait;
	int err;

	/* keep S3 error bodies even when the caller does not want the answer */
	if (!r->resp) {
		buf_init(&errbody, 64 * 1024);
		r->resp = &errbody;
		own = true;
	}
	fetch_retry_init(&rt, u->attempts, u->retry_delay_ms, UP_MAX_DELAY_MS);
	for (;;) {
		err = perform(u, r, errbuf);
		if (err == 0 && r->status >= 200 && r->status < 300)
			break;
		if (err == 0 && r->status == quiet_status) {
			err = fetch_http_errno(r->status, NULL);
			goto out;
		}
		if (err == 0 && u->kind == UPLOAD_GITHUB &&
			(r->status == 403 || r->status == 429) &&
			(wait = github_rate_wait(u, r, &waited_ms)) != 0) {
			if (wait < 0) {
				err = (int)wait; /* the message is recorded */
				goto out;
			}
			rate_notice(u, r, wait);
			fetch_sleep_ms((unsigned)wait); /* a rate limit is no failed attempt */
			continue;
		}
		if (!fetch_retry_again(&rt, fetch_http_retryable(err, err ? 0 : r->status)))
			break;
		fetch_retry_wait(&rt);
	}
	if (err == 0 && (r->status < 200 || r->status >= 300)) {
		describe_status(u, r, cause, sizeof(cause));
		err = r->status >= 400 ? fetch_http_errno(r->status, NULL) : -EREMOTEIO;
	} else if (err == -ECANCELED) {
		snprintf(cause, sizeof(cause), "interrupted");
	} else if (err < 0 && r->body && err == r->body->err) {
		snprintf(cause, sizeof(cause), "cannot read the data: %s", strerror(-err));
	} else if (err < 0) {
		snprintf(cause, sizeof(cause), "%s", errbuf);
	}
	if (err < 0 && rt.done > 1)
		up_fail(u, err, "cannot %s '%s': %s (%u attempts)", verb,
			r->name ? r->name : r->url, cause, rt.done);
	else if (err < 0)
		up_fail(u, err, "cannot %s '%s': %s", verb, r->name ? r->name : r->url, cause);
	else if (r->progress)
		r->progress(r->progress_arg, r->progress_base + (r->body ? r->body->len : 0),
			r->progress_total);
out:
	if (own) {
		buf_release(&errbody);
		r->resp = NULL;
	}
	return err;
}

void up_req_put(struct up_req *r, const char *url, struct up_body *b, const char *type,
	upload_progress_fn progress, void *arg)
{
	*r = (struct up_req){.method = "PUT",
		.url = url,
		.body = b,
		.content_type = type,
		.progress = progress,
		.progress_arg = arg,
		.progress_total = b->len};
}

/* ---- the interface ------------------------------------------------------------------ */

/*
 * Whether dest begins with what reads as a URL scheme and its colon
 * (RFC 3986: ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) ":").  Such a
 * destination is taken for a URL, never for a relative path: "s3:/b" (one
 * slash) must not publish into ./s3:/b.
 */
static bool scheme_like(const char *dest)
{
	const char *p = dest;

	if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z')))
		return false;
	while ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
		*p == '+' || *p == '-' || *p == '.')
		p++;
	return *p == ':';
}

int upload_new(const char *dest, const struct upload_options *o, struct upload **ret, char **errmsg)
{
	struct upload_options def;
	struct upload *u;
	int err;

	if (errmsg)
		*errmsg = NULL;
	if (!o) {
		upload_options_init(&def);
		o = &def;
	}
	u = calloc(1, sizeof(*u));
	if (!u)
		return -ENOMEM;
	u->attempts = o->attempts ? o->attempts : 3;
	u->retry_delay_ms = o->retry_delay_ms ? o->retry_delay_ms : 1000;
	u->connect_timeout = o->connect_timeout > 0 ? o->connect_timeout : 30;
	u->low_speed_time = o->low_speed_time > 0 ? o->low_speed_time : 60;
	u->notice = o->notice;
	u->notice_arg = o->notice_arg;
	u->part_size = o->part_size ? o->part_size : UPLOAD_PART_SIZE_DEFAULT;
	if (u->part_size < UPLOAD_PART_SIZE_MIN || u->part_size > UPLOAD_PART_SIZE_MAX) {
		err = up_fail(u, -EINVAL, "invalid part size %llu: 5 MiB to 5 GiB",
			(unsigned long long)u->part_size);
		goto fail;
	}
	if (o->ca_file && !(u->ca_file = strdup(o->ca_file))) {
		err = -ENOMEM;
		goto fail;
	}
	if (strncmp(dest, "s3://", 5) == 0) {
		u->kind = UPLOAD_S3;
		err = s3_init(u, dest, o);
	} else if ((strncmp(dest, "http://", 7) == 0 || strncmp(dest, "https://", 8) == 0) &&
		   !github_dest(dest)) {
		u->kind = UPLOAD_HTTP;
		err = http_init(u, dest);
	} else if (strncmp(dest, "github:", 7) == 0 || github_dest(dest)) {
		u->kind = UPLOAD_GITHUB;
		err = github_init(u, dest, o);
	} else if (strncmp(dest, "file://", 7) == 0 || !scheme_like(dest)) {
		u->kind = UPLOAD_FILE;
		err = file_init(u, dest);
	} else if (strstr(dest, "://") == dest + strcspn(dest, ":")) {
		err = up_fail(u, -EPROTONOSUPPORT,
			"cannot publish to '%s': an unknown scheme; use " UP_DEST_FORMS, dest);
	} else {
		err = up_fail(u, -EINVAL,
			"cannot publish to '%s': not a well-formed URL; use " UP_DEST_FORMS
			" (./%s for a directory whose name has a colon)",
			dest, dest);
	}
	if (err < 0)
		goto fail;
	if (u->kind != UPLOAD_FILE && !(u->curl = curl_easy_init())) {
		err = -ENOMEM;
		goto fail;
	}
	*ret = u;
	return 0;
fail:
	if (errmsg && u->errmsg) {
		*errmsg = u->errmsg;
		u->errmsg = NULL;
	}
	upload_free(u);
	return err;
}

void upload_free(struct upload *u)
{
	if (!u)
		return;
	if (u->curl)
		curl_easy_cleanup(u->curl);
	s3_release(u);
	github_release(u);
	if (u->userpwd)
		explicit_bzero(u->userpwd, strlen(u->userpwd));
	free(u->userpwd);
	free(u->base);
	free(u->ca_file);
	free(u->errmsg);
	free(u);
}

static int get_into(struct upload *u, const char *key, const char *url, size_t max, struct buf *out)
{
	switch (u->kind) {
	case UPLOAD_S3:
		return s3_get(u, url, max, out);
	case UPLOAD_HTTP:
		return http_get(u, url, max, out);
	case UPLOAD_GITHUB:
		return github_get(u, key, max, out);
	default:
		return file_get(u, key, max, out);
	}
}

int upload_get(struct upload *u, const char *key, size_t max, char **ret, size_t *len)
{
	char *url = NULL, *s;
	struct buf b;
	int err;

	up_clear_error(u);
	if ((err = upload_url(u, key, &url)) < 0)
		return up_fail(u, err, "invalid object name '%s'", key);
	buf_init(&b, max);
	err = get_into(u, key, url, max, &b);
	if (err == 0) {
		s = buf_detach(&b, len);
		if (!s)
			err = -ENOMEM;
		else
			*ret = s;
	}
	buf_release(&b);
	free(url);
	return err;
}

int upload_head(struct upload *u, const char *key, struct upload_stat *ret)
{
	struct upload_stat st = {0};
	struct sidecar sc;
	char *url = NULL, *sidekey = NULL, *json = NULL;
	size_t len;
	int err;

	up_clear_error(u);
	if ((err = upload_url(u, key, &url)) < 0)
		return up_fail(u, err, "invalid object name '%s'", key);
	switch (u->kind) {
	case UPLOAD_S3:
		err = s3_head(u, key, url, &st.exists, &st.size);
		break;
	case UPLOAD_HTTP:
		err = http_head(u, url, &st.exists, &st.size);
		break;
	case UPLOAD_GITHUB:
		err = github_head(u, key, &st.exists, &st.size);
		break;
	default:
		err = file_head(u, key, &st.exists, &st.size);
		break;
	}
	if (err < 0 || !st.exists)
		goto out;
	if (asprintf(&sidekey, "%s.json", key) < 0) {
		err = -ENOMEM;
		goto out;
	}
	err = upload_get(u, sidekey, SIDECAR_MAX, &json, &len);
	if (err == -ENOENT || err == -E2BIG) {
		up_clear_error(u);
		err = 0;
	} else if (err == 0 && sidecar_parse(json, len, &sc, NULL) == 0) {
		st.has_sidecar = true;
		memcpy(st.sha256, sc.sha256, sizeof(st.sha256));
		sidecar_release(&sc);
	}
out:
	if (err == 0)
		*ret = st;
	free(json);
	free(sidekey);
	free(url);
	return err;
}

/* Put one body at key with the backend of u. */
static int put_body(struct upload *u, const char *key, struct up_body *b, const char *type,
	upload_progress_fn progress, void *arg)
{
	char *url = NULL;
	int err;

	up_clear_error(u);
	if ((err = upload_url(u, key, &url)) < 0)
		return up_fail(u, err, "invalid object name '%s'", key);
	if (!type)
		type = "application/octet-stream";
	switch (u->kind) {
	case UPLOAD_S3:
		err = s3_put(u, url, b, type, progress, arg);
		break;
	case UPLOAD_HTTP:
		err = http_put(u, url, b, type, progress, arg);
		break;
	case UPLOAD_GITHUB:
		err = github_put(u, key, b, type, progress, arg);
		break;
	default:
		err = file_put(u, key, b, progress, arg);
		break;
	}
	free(url);
	return err;
}

int upload_put_fd(struct upload *u, const char *key, int fd, uint64_t size, const char *type,
	upload_progress_fn progress, void *arg)
{
	struct up_body b = {.fd = fd, .len = size};

	return put_body(u, key, &b, type, progress, arg);
}

int upload_put_buf(struct upload *u, const char *key, const void *p, size_t len, const char *type)
{
	struct up_body b = {.fd = -1, .mem = p, .len = len};

	return put_body(u, key, &b, type, NULL, NULL);
}

int upload_list(struct upload *u, const char *prefix, upload_list_fn fn, void *arg)
{
	up_clear_error(u);
	switch (u->kind) {
	case UPLOAD_S3:
		return s3_list(u, prefix, fn, arg);
	case UPLOAD_HTTP:
		return up_fail(u, -EOPNOTSUPP,
			"cannot list '%s': listing needs s3://, github:// or a directory", u->base);
	case UPLOAD_GITHUB:
		return github_list(u, prefix, fn, arg);
	default:
		return file_list(u, prefix, fn, arg);
	}
}

int upload_delete(struct upload *u, const char *key)
{
	struct up_req r = {.method = "DELETE"};
	char *url = NULL;
	int err;

	up_clear_error(u);
	if ((err = upload_url(u, key, &url)) < 0)
		return up_fail(u, err, "invalid object name '%s'", key);
	switch (u->kind) {
	case UPLOAD_GITHUB:
		err = github_delete(u, key);
		break;
	case UPLOAD_FILE:
		err = file_delete(u, key);
		break;
	default:
		r.url = url;
		err = up_request(u, &r, "delete", 404);
		if (err == -ENOENT)
			err = 0;
		break;
	}
	free(url);
	return err;
}

/* ---- listings kept in memory ------------------------------------------------------ */

static int on_listed(void *arg, const char *key, uint64_t size)
{
	struct upload_objects *l = arg;

	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 64;
		struct upload_object *v = realloc(l->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		l->v = v;
		l->cap = cap;
	}
	if (!(l->v[l->n].key = strdup(key)))
		return -ENOMEM;
	l->v[l->n++].size = size;
	return 0;
}

static int cmp_upload_object(const void *a, const void *b)
{
	return strcmp(
		((const struct upload_object *)a)->key, ((const struct upload_object *)b)->key);
}

int upload_list_sorted(struct upload *u, const char *prefix, struct upload_objects *ret)
{
	struct upload_objects l = {0};
	int r = upload_list(u, prefix, on_listed, &l);

	if (r < 0) {
		upload_objects_release(&l);
		return r;
	}
	if (l.n)
		qsort(l.v, l.n, sizeof(*l.v), cmp_upload_object);
	*ret = l;
	return 0;
}

const struct upload_object *upload_objects_find(const struct upload_objects *l, const char *key)
{
	struct upload_object want = {.key = (char *)key};

	if (!l->n)
		return NULL;
	return bsearch(&want, l->v, l->n, sizeof(*l->v), cmp_upload_object);
}

void upload_objects_release(struct upload_objects *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		free(l->v[i].key);
	free(l->v);
	memset(l, 0, sizeof(*l));
}
