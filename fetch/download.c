/*
 * download.c - tarball byte streams: http(s) through libcurl, file:// and fds
 *
 * A struct fetch_stream is a pull source: fetch_stream_read() hands out the
 * next bytes and every byte goes through SHA-256 on its way out.  The
 * unpacker (unpack.c) calls it from libarchive's read callback, so the
 * tarball flows curl -> SHA-256 -> libarchive -> disk in one pass and is
 * never stored.
 */
#include "config.h"

#include "fetch/fetch.h"
#include "fetch/http.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/hash.h"
#include "store/util/io.h"
#include "store/util/time.h"

extern char **environ;

#define STREAM_BUF (1u << 20) /* ceiling of the bytes held between two reads */
#define CURL_BUF (256L << 10) /* CURLOPT_BUFFERSIZE: socket reads of 256 KiB */
#define FD_BUF (256u << 10)   /* read(2) size for file:// and fd streams */
#define PROGRESS_MS 100	      /* at most one progress report per 100 ms */

struct fetch_stream {
	char *name;		       /* the URL or file name, for messages and progress */
	const struct fetch_options *o; /* may be NULL for fd streams */
	struct hash_ctx *sha;
	uint64_t bytes; /* handed out so far */
	uint64_t total; /* announced length, 0 when unknown */
	uint64_t limit; /* fetch_stream_set_limit(), 0: none */
	uint64_t announced; /* a Content-Length over limit, seen by write_cb */
	uint64_t last_report_ms;
	int err; /* sticky error, 0 while healthy */
	bool retryable;
	bool eof;
	bool crash_mid_download; /* ARTIFACTFS_CRASH_AT=mid-download */
	char errmsg[CURL_ERROR_SIZE + 512];

	/* fetch_stream_set_tee(): a copy of every byte handed out */
	int tee_fd; /* -1: none */
	int tee_err; /* the first write error of the copy, 0 while it is whole */
	uint64_t tee_max, tee_bytes; /* its ceiling (0: none) and its bytes */

	/* fd mode (file:// and fetch_stream_open_fd) */
	int fd; /* -1 in curl mode */
	bool own_fd;

	/* the buffer: curl's write callback fills it, read() empties it */
	unsigned char *data;
	size_t cap, len;

	/* curl mode */
	CURL *easy;
	CURLM *multi;
	struct curl_slist *headers;
	bool paused; /* the write callback returned CURL_WRITEFUNC_PAUSE */
	bool done;   /* curl reported the transfer finished */
	bool started;
	CURLcode result;
	long http_status; /* an HTTP status >= 400 seen by the write callback */
	long fail_status; /* the HTTP status the stream failed with, 0: none */
	bool via_proxy;	  /* fetch_options.proxy named a proxy */
	char curl_err[CURL_ERROR_SIZE];
};

void fetch_options_init(struct fetch_options *o)
{
	memset(o, 0, sizeof(*o));
	o->connect_timeout = 30;
	o->low_speed_limit = FETCH_LOW_SPEED_LIMIT;
	o->low_speed_time = FETCH_LOW_SPEED_TIME;
	o->timeout = 0;
	o->attempts = 3;
	o->retry_delay_ms = 1000;
	o->lock_timeout = 3600;
}

long fetch_deadline(const struct fetch_options *o, uint64_t size)
{
	uint64_t secs;

	if (o->timeout > 0)
		return o->timeout;
	if (!size)
		return FETCH_DEADLINE_CEILING;
	secs = FETCH_DEADLINE_FLOOR + size / FETCH_DEADLINE_RATE;
	return secs > LONG_MAX ? LONG_MAX : (long)secs;
}

int fetch_pkg_server_url(const char *setting, char **ret)
{
	size_t len;
	char *s;

	if (!setting || !*setting) {
		*ret = NULL;
		return 0;
	}
	len = strlen(setting);
	while (len > 0 && setting[len - 1] == '/')
		len--;
	s = malloc(len + sizeof("https://"));
	if (!s)
		return -ENOMEM;
	if (memmem(setting, len, "://", 3))
		snprintf(s, len + sizeof("https://"), "%.*s", (int)len, setting);
	else
		snprintf(s, len + sizeof("https://"), "https://%.*s", (int)len, setting);
	*ret = s;
	return 0;
}

/* --- helpers --------------------------------------------------------------------- */

static void __attribute__((format(printf, 3, 4)))
stream_fail(struct fetch_stream *s, int err, const char *fmt, ...)
{
	va_list ap;

	if (s->err)
		return;
	s->err = err;
	va_start(ap, fmt);
	vsnprintf(s->errmsg, sizeof(s->errmsg), fmt, ap);
	va_end(ap);
}

static void stream_fail_http(struct fetch_stream *s, long code)
{
	char what[128];

	fetch_http_describe(code, NULL, what, sizeof(what));
	if (!s->err)
		s->fail_status = code;
	stream_fail(s, fetch_http_errno(code, &s->retryable), "%s", what);
}

static int stream_common_init(
	struct fetch_stream **ret, const char *name, const struct fetch_options *o)
{
	struct fetch_stream *s;
	int r;

	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->fd = -1;
	s->tee_fd = -1;
	s->o = o;
	s->name = strdup(name ? name : "(stream)");
	r = hash_ctx_new(HASH_SHA256, &s->sha);
	if (!s->name || r < 0) {
		free(s->name);
		hash_ctx_free(s->sha);
		free(s);
		return r < 0 ? r : -ENOMEM;
	}
	*ret = s;
	return 0;
}

void fetch_stream_free(struct fetch_stream *s)
{
	if (!s)
		return;
	if (s->multi) {
		if (s->easy)
			curl_multi_remove_handle(s->multi, s->easy);
		curl_multi_cleanup(s->multi);
	}
	if (s->easy)
		curl_easy_cleanup(s->easy);
	curl_slist_free_all(s->headers);
	if (s->own_fd && s->fd >= 0)
		close(s->fd);
	hash_ctx_free(s->sha);
	free(s->data);
	free(s->name);
	free(s);
}

static void report_progress(struct fetch_stream *s, bool force)
{
	uint64_t t;

	if (!s->o || !s->o->progress)
		return;
	t = time_mono_ms();
	if (!force && t - s->last_report_ms < PROGRESS_MS)
		return;
	s->last_report_ms = t;
	s->o->progress(s->o->progress_arg, s->name, s->bytes, s->total);
}

/* --- fd streams (file:// and fetch_stream_open_fd) --------------------------------- */

int fetch_stream_open_fd(
	int fd, const char *name, const struct fetch_options *o, struct fetch_stream **ret)
{
	struct fetch_stream *s;
	struct stat st;
	int r;

	r = stream_common_init(&s, name, o);
	if (r < 0)
		return r;
	s->fd = fd;
	s->cap = FD_BUF;
	s->data = malloc(s->cap);
	if (!s->data) {
		fetch_stream_free(s);
		return -ENOMEM;
	}
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0)
		s->total = (uint64_t)st.st_size;
	*ret = s;
	return 0;
}

static int fd_fill(struct fetch_stream *s)
{
	ssize_t n;

	do
		n = read(s->fd, s->data, s->cap);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		stream_fail(s, -errno, "cannot read '%s': %s", s->name, strerror(errno));
		return s->err;
	}
	s->len = (size_t)n;
	if (n == 0)
		s->eof = true;
	return 0;
}

/* Opens the path of a file:// URL; the URL was parsed by the caller. */
static int open_file_url(struct fetch_stream **ret, const char *url, CURLU *u,
	const struct fetch_options *o, char **errmsg)
{
	char *host = NULL, *path = NULL;
	struct stat st;
	CURLUcode uc;
	int fd = -1, r;
	struct fetch_stream *s = NULL;
	char msg[512 + 64];

	msg[0] = '\0';
	uc = curl_url_get(u, CURLUPART_HOST, &host, 0);
	if (uc == CURLUE_OK && *host && strcasecmp(host, "localhost") != 0) {
		snprintf(msg, sizeof(msg), "file URL with a remote host '%s': '%s'", host, url);
		r = -EINVAL;
		goto out;
	}
	uc = curl_url_get(u, CURLUPART_PATH, &path, CURLU_URLDECODE);
	if (uc != CURLUE_OK || !*path) {
		snprintf(msg, sizeof(msg), "malformed file URL '%s'", url);
		r = uc == CURLUE_OUT_OF_MEMORY ? -ENOMEM : -EINVAL;
		goto out;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0 || fstat(fd, &st) < 0) {
		r = -errno;
		snprintf(msg, sizeof(msg), "cannot open '%.256s': %s", path, strerror(errno));
		goto out;
	}
	if (S_ISDIR(st.st_mode)) {
		r = -EISDIR;
		snprintf(msg, sizeof(msg), "cannot open '%.256s': %s", path, strerror(EISDIR));
		goto out;
	}
	r = fetch_stream_open_fd(fd, url, o, &s);
	if (r < 0)
		goto out;
	s->own_fd = true;
	fd = -1;
	*ret = s;
out:
	if (fd >= 0)
		close(fd);
	curl_free(host);
	curl_free(path);
	if (r < 0 && errmsg && msg[0])
		*errmsg = strdup(msg);
	return r;
}

/* --- curl streams ------------------------------------------------------------------ */

/*
 * Why a pull adapter on curl_multi rather than a download thread: the
 * consumer (libarchive's read callback) asks for bytes, and only then do we
 * run curl_multi_perform()/curl_multi_poll() until the write callback has put
 * some in our buffer.  One thread, no locks, no ring, and cancelling is just
 * not calling curl again.  The buffer is bounded: when a chunk does not fit,
 * the write callback returns CURL_WRITEFUNC_PAUSE, curl keeps that chunk
 * and stops reading the socket, and the next read unpauses once the buffer
 * is empty (libarchive has consumed it).  file:// cannot be paused (libcurl
 * delivers a whole file in one perform and refuses PAUSE for it), so file://
 * is read with read(2) by the fd stream above, which is also faster.
 */
static size_t write_cb(char *ptr, size_t size, size_t nmemb, void *arg)
{
	struct fetch_stream *s = arg;
	size_t n = size * nmemb;
	long code = 0;

	if (!s->started) {
		/* Belt and braces with CURLOPT_FAILONERROR, which lets 401/407 slip. */
		curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &code);
		if (code >= 400) {
			s->http_status = code;
			return 0; /* CURLE_WRITE_ERROR; reported as the HTTP status */
		}
		if (s->limit) {
			curl_off_t cl = -1;

			curl_easy_getinfo(s->easy, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &cl);
			if (cl > 0 && (uint64_t)cl > s->limit) {
				s->announced = (uint64_t)cl;
				return 0; /* CURLE_WRITE_ERROR; reported as the size */
			}
		}
		s->started = true;
	}
	if (n > s->cap - s->len) {
		s->paused = true;
		return CURL_WRITEFUNC_PAUSE;
	}
	memcpy(s->data + s->len, ptr, n);
	s->len += n;
	return n;
}

static bool env_true(const char *v, char *state)
{
	static const char *const yes[] = {"true", "t", "1", "yes", "y"};
	static const char *const no[] = {"false", "f", "0", "no", "n"};
	size_t i;

	*state = 'o';
	if (!v) {
		*state = 'n';
		return false;
	}
	for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
		if (strcasecmp(v, yes[i]) == 0)
			*state = 't';
	for (i = 0; i < sizeof(no) / sizeof(no[0]); i++)
		if (strcasecmp(v, no[i]) == 0)
			*state = 'f';
	return *state == 't';
}

static int add_header(struct curl_slist **list, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int add_header(struct curl_slist **list, const char *fmt, ...)
{
	struct curl_slist *n;
	char line[2048];
	va_list ap;
	int len;

	va_start(ap, fmt);
	len = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (len < 0 || (size_t)len >= sizeof(line))
		return 0; /* an absurdly long header from the environment: skip it */
	n = curl_slist_append(*list, line);
	if (!n)
		return -ENOMEM;
	*list = n;
	return 0;
}

/*
 * The headers Pkg sends to its server (spec §6, get_metadata_headers in
 * Pkg's src/PlatformEngines.jl): protocol, server, version, system, CI
 * variables, interactivity, and one "Julia-<Words>" header for each
 * non-empty JULIA_PKG_SERVER_<WORDS> variable.
 */
int fetch_pkg_headers(struct curl_slist **list, const struct fetch_options *o, const char *server)
{
	static const char *const ci_vars[] = {
		"APPVEYOR",
		"CI",
		"CI_SERVER",
		"CIRCLECI",
		"CONTINUOUS_INTEGRATION",
		"GITHUB_ACTIONS",
		"GITLAB_CI",
		"JULIA_CI",
		"JULIA_PKGEVAL",
		"JULIA_REGISTRYCI_AUTOMERGE",
		"TF_BUILD",
		"TRAVIS",
	};
	static const char *const fixed[] = {
		"julia-pkg-protocol",
		"julia-pkg-server",
		"julia-version",
		"julia-system",
		"julia-ci-variables",
		"julia-interactive",
	};
	char ci[512], name[256], state;
	size_t i, n = 0, j;
	char **e;
	int r;

	r = add_header(list, "Julia-Pkg-Protocol: 1.0");
	if (r == 0)
		r = add_header(list, "Julia-Pkg-Server: %s", server);
	if (r == 0 && o->julia_version)
		r = add_header(list, "Julia-Version: %s", o->julia_version);
	if (r == 0 && o->host_triplet)
		r = add_header(list, "Julia-System: %s", o->host_triplet);
	if (r < 0)
		return r;
	ci[0] = '\0';
	for (i = 0; i < sizeof(ci_vars) / sizeof(ci_vars[0]); i++) {
		env_true(getenv(ci_vars[i]), &state);
		n += (size_t)snprintf(
			ci + n, sizeof(ci) - n, "%s%s=%c", i ? ";" : "", ci_vars[i], state);
	}
	r = add_header(list, "Julia-CI-Variables: %s", ci);
	if (r == 0)
		r = add_header(list, "Julia-Interactive: false");
	if (r < 0)
		return r;
	for (e = environ; *e; e++) {
		const char *eq = strchr(*e, '='), *val, *p;
		size_t klen, k = 0;
		bool upper = true, dup = false;

		if (!eq || strncasecmp(*e, "JULIA_PKG_SERVER_", 17) != 0)
			continue;
		klen = (size_t)(eq - *e);
		for (val = eq + 1; *val == ' ' || *val == '\t'; val++)
			;
		if (!*val || klen <= 17)
			continue;
		k = (size_t)snprintf(name, sizeof(name), "Julia");
		for (p = *e + 17; p < eq && k + 2 < sizeof(name); p++) {
			char c = *p;

			if (c == '_') {
				upper = true;
				continue;
			}
			if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
				    (c >= '0' && c <= '9')))
				break;
			if (upper && name[k - 1] != '-')
				name[k++] = '-';
			if (upper)
				name[k++] = (c >= 'a' && c <= 'z') ? (char)(c - 32) : c;
			else
				name[k++] = (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c;
			upper = false;
		}
		name[k] = '\0';
		if (p < eq || k <= 5)
			continue; /* not [A-Z0-9_]+, as Pkg's regex requires */
		for (j = 0; j < sizeof(fixed) / sizeof(fixed[0]); j++)
			if (strcasecmp(name, fixed[j]) == 0)
				dup = true;
		if (dup)
			continue;
		r = add_header(list, "%s: %s", name, val);
		if (r < 0)
			return r;
	}
	return 0;
}

/* Whether url lies under the Pkg server (Pkg: startswith(url, server)). */
static bool under_server(const char *url, const char *server)
{
	size_t n = strlen(server);

	return strncmp(url, server, n) == 0 && (url[n] == '/' || url[n] == '\0');
}

static int setup_curl(
	struct fetch_stream *s, const char *url, const struct fetch_options *o, char **errmsg)
{
	struct fetch_http_conf conf = {
		.ca_file = o->ca_file,
		.connect_timeout = o->connect_timeout,
		.low_speed_limit = o->low_speed_limit,
		.low_speed_time = o->low_speed_time,
		.timeout = fetch_deadline(o, 0),
		.follow_redirects = true,
	};
	char *server = NULL;
	CURLcode c = CURLE_OK;
	int r;

	s->cap = STREAM_BUF;
	s->data = malloc(s->cap);
	s->easy = curl_easy_init();
	s->multi = curl_multi_init();
	if (!s->data || !s->easy || !s->multi)
		return -ENOMEM;

	r = fetch_pkg_server_url(o->pkg_server, &server);
	if (r < 0)
		return r;
	if (server && !(o->flags & FETCH_NO_PKG_HEADERS) && under_server(url, server))
		r = fetch_pkg_headers(&s->headers, o, server);
	free(server);
	if (r < 0)
		return r;
	conf.headers = s->headers;
	s->via_proxy = o->proxy && *o->proxy;
	r = fetch_http_setup(s->easy, &conf, url, o->proxy, s->curl_err);
	if (r < 0) {
		if (errmsg)
			*errmsg = strdup(s->curl_err);
		return r;
	}
	/* This transfer's own: an HTTP error ends it (write_cb checks too). */
	c = curl_easy_setopt(s->easy, CURLOPT_FAILONERROR, 1L);
	if (c == CURLE_OK)
		c = curl_easy_setopt(s->easy, CURLOPT_WRITEFUNCTION, write_cb);
	if (c == CURLE_OK)
		c = curl_easy_setopt(s->easy, CURLOPT_WRITEDATA, s);
	if (c == CURLE_OK)
		c = curl_easy_setopt(s->easy, CURLOPT_BUFFERSIZE, CURL_BUF);
	if (c != CURLE_OK) {
		if (errmsg)
			*errmsg = strdup(curl_easy_strerror(c));
		return c == CURLE_OUT_OF_MEMORY ? -ENOMEM : -EINVAL;
	}
	if (curl_multi_add_handle(s->multi, s->easy) != CURLM_OK)
		return -ENOMEM;
	return 0;
}

int fetch_stream_open_url(
	const char *url, const struct fetch_options *o, struct fetch_stream **ret, char **errmsg)
{
	struct fetch_stream *s = NULL;
	char *scheme = NULL;
	const char *crash;
	CURLU *u;
	CURLUcode uc;
	int r;

	if (errmsg)
		*errmsg = NULL;
	u = curl_url();
	if (!u)
		return -ENOMEM;
	uc = curl_url_set(u, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME);
	if (uc == CURLUE_OK)
		uc = curl_url_get(u, CURLUPART_SCHEME, &scheme, 0);
	if (uc != CURLUE_OK) {
		r = uc == CURLUE_OUT_OF_MEMORY ? -ENOMEM : -EINVAL;
		if (errmsg && asprintf(errmsg, "malformed URL '%s'", url) < 0)
			*errmsg = NULL;
		goto out;
	}
	if (strcasecmp(scheme, "file") == 0) {
		r = open_file_url(&s, url, u, o, errmsg);
		if (r < 0)
			goto out;
	} else if (strcasecmp(scheme, "http") == 0 || strcasecmp(scheme, "https") == 0) {
		r = stream_common_init(&s, url, o);
		if (r < 0)
			goto out;
		r = setup_curl(s, url, o, errmsg);
		if (r < 0)
			goto out;
	} else {
		r = -EPROTONOSUPPORT;
		if (errmsg &&
			asprintf(errmsg, "unsupported URL scheme '%s' in '%s'", scheme, url) < 0)
			*errmsg = NULL;
		goto out;
	}
	crash = getenv("ARTIFACTFS_CRASH_AT");
	s->crash_mid_download = crash && strcmp(crash, "mid-download") == 0;
	*ret = s;
	s = NULL;
	r = 0;
out:
	if (r < 0 && errmsg && !*errmsg)
		*errmsg = strdup(strerror(-r));
	fetch_stream_free(s);
	curl_free(scheme);
	curl_url_cleanup(u);
	return r;
}

/*
 * The source is bigger than the download entry's size: not the file it
 * describes, whatever else it holds, so no point reading (or retrying) it.
 */
static void over_limit(struct fetch_stream *s, uint64_t bytes, const char *verb)
{
	s->retryable = false;
	stream_fail(s, -EBADMSG,
		"the source %s %llu bytes, more than the expected size of %llu bytes "
		"(the download entry's size)",
		verb, (unsigned long long)bytes, (unsigned long long)s->limit);
}

/* The transfer ended: turn curl's verdict into the stream's state. */
static void curl_finished(struct fetch_stream *s)
{
	long code = 0;
	int err;

	if (s->result == CURLE_OK) {
		s->eof = true;
		return;
	}
	if (s->announced) {
		over_limit(s, s->announced, "announces");
		return;
	}
	if (s->http_status)
		code = s->http_status;
	else if (s->result == CURLE_HTTP_RETURNED_ERROR)
		curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &code);
	if (code >= 400) {
		stream_fail_http(s, code);
		return;
	}
	err = fetch_curl_errno(s->result, &s->retryable);
	stream_fail(s, err, "%s", s->curl_err[0] ? s->curl_err : curl_easy_strerror(s->result));
}

/* Run curl until the buffer holds bytes or the transfer is over. */
static int curl_fill(struct fetch_stream *s)
{
	CURLMcode mc;
	CURLMsg *msg;
	int running, left;

	s->len = 0;
	if (s->paused) {
		s->paused = false;
		/* Delivers the chunk curl held back, through write_cb, right here. */
		curl_easy_pause(s->easy, CURLPAUSE_CONT);
	}
	while (s->len == 0 && !s->done) {
		mc = curl_multi_perform(s->multi, &running);
		if (mc != CURLM_OK) {
			stream_fail(s, mc == CURLM_OUT_OF_MEMORY ? -ENOMEM : -EIO, "curl: %s",
				curl_multi_strerror(mc));
			return s->err;
		}
		while ((msg = curl_multi_info_read(s->multi, &left))) {
			if (msg->msg == CURLMSG_DONE) {
				s->done = true;
				s->result = msg->data.result;
			}
		}
		if (s->len || s->done)
			break;
		mc = curl_multi_poll(s->multi, NULL, 0, 1000, NULL);
		if (mc != CURLM_OK) {
			stream_fail(s, -EIO, "curl: %s", curl_multi_strerror(mc));
			return s->err;
		}
	}
	if (s->len == 0 && s->done) {
		curl_finished(s);
		return s->err;
	}
	if (s->bytes == 0 && s->total == 0) {
		curl_off_t cl = -1;

		curl_easy_getinfo(s->easy, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &cl);
		if (cl > 0)
			s->total = (uint64_t)cl;
	}
	return 0;
}

void fetch_stream_set_tee(struct fetch_stream *s, int fd, uint64_t max)
{
	s->tee_fd = fd;
	s->tee_err = 0;
	s->tee_max = max;
	s->tee_bytes = 0;
}

int fetch_stream_tee_error(const struct fetch_stream *s)
{
	return s->tee_fd < 0 ? -EBADF : s->tee_err;
}

int fetch_stream_read(struct fetch_stream *s, const void **buf, size_t *len)
{
	int r;

	*buf = NULL;
	*len = 0;
	if (s->err)
		return s->err;
	if (s->eof)
		return 0;
	if (s->limit && !s->easy && s->total > s->limit) {
		over_limit(s, s->total, "has");
		return s->err;
	}
	r = s->easy ? curl_fill(s) : fd_fill(s);
	if (r < 0)
		return r;
	if (s->len == 0) {
		report_progress(s, true);
		return 0;
	}
	if (s->limit && s->len > s->limit - s->bytes) {
		over_limit(s, s->bytes + s->len, "sent at least");
		return s->err;
	}
	if (hash_ctx_update(s->sha, s->data, s->len) < 0) {
		stream_fail(s, -EIO, "SHA-256 failed");
		return s->err;
	}
	if (s->crash_mid_download && s->bytes == 0)
		raise(SIGKILL);
	if (s->tee_fd >= 0 && s->tee_err == 0) {
		if (s->tee_max && s->len > s->tee_max - s->tee_bytes)
			s->tee_err = -EFBIG;
		else
			s->tee_err = io_write_all(s->tee_fd, s->data, s->len);
		s->tee_bytes += s->len;
	}
	s->bytes += s->len;
	report_progress(s, false);
	*buf = s->data;
	*len = s->len;
	return 0;
}

int fetch_stream_sha256(struct fetch_stream *s, uint8_t out[HASH_SHA256_LEN])
{
	return hash_ctx_final(s->sha, out) < 0 ? -EIO : 0;
}

void fetch_stream_set_limit(struct fetch_stream *s, uint64_t max)
{
	s->limit = max;
}

uint64_t fetch_stream_limit(const struct fetch_stream *s)
{
	return s->limit;
}

uint64_t fetch_stream_bytes(const struct fetch_stream *s)
{
	return s->bytes;
}

int fetch_stream_error(const struct fetch_stream *s)
{
	return s->err;
}

bool fetch_stream_retryable(const struct fetch_stream *s)
{
	return s->err && s->retryable;
}

/*
 * Through a proxy, what only the proxy could have done wrong (CernVM-FS's
 * classification): it refused the connection, broke it or let it stall
 * (a timeout, the low-speed abort included), did not resolve, or answered
 * 502, 503 or 504 for an origin it could not reach.  A 404, any other
 * status and wrong bytes are the origin's (host failures).
 */
bool fetch_stream_proxy_fault(const struct fetch_stream *s)
{
	if (!s->via_proxy || !s->err)
		return false;
	return fetch_proxy_fault(s->err, s->fail_status, s->done ? s->result : CURLE_OK);
}

const char *fetch_stream_errmsg(const struct fetch_stream *s)
{
	return s->errmsg;
}
