/*
 * test-download.c - fetch/download.c and fetch/install.c: file:// and HTTP
 * streams, error classes and messages, retries, sources, single flight
 *
 * A small HTTP/1.1 server runs in a thread on 127.0.0.1 (one connection at
 * a time, "Connection: close"); the path chooses the behaviour:
 *   /ok/<name>        the blob <name>         /404/..., /410/..., /403/..., /500/...
 *   /truncate/<name>  Content-Length of the whole blob, half of it, close
 *   /redirect/<rest>  302 to /<rest>          /loop  302 to itself
 *   /tofile           302 to file:///etc/hostname
 *   /stall/<name>     headers and 1 KiB, then nothing until the client leaves
 *   /artifact/<hash>  the Pkg server: the blob registered under <hash>
 * It counts requests per path and keeps the headers of the last request.
 * Everything is bounded so the whole program runs in a few seconds.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif

#include "fetch/fetch.h"
#include "fetch/proxy.h"
#include "store/hash.h"
#include "store/store.h"
#include "tests/tap.h"
#include "tests/unit/util.h"

#include <archive.h>
#include <archive_entry.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static char tmpdir[512];

/* ---- blobs ----------------------------------------------------------------------- */

struct blob {
	char name[64];
	unsigned char *p;
	size_t len;
};

static struct blob blobs[16];
static size_t nblobs;

static struct blob *blob_add(const char *name, const void *p, size_t len)
{
	struct blob *b = &blobs[nblobs++];

	snprintf(b->name, sizeof(b->name), "%s", name);
	b->p = malloc(len ? len : 1);
	memcpy(b->p, p, len);
	b->len = len;
	return b;
}

static struct blob *blob_get(const char *name)
{
	size_t i;

	for (i = 0; i < nblobs; i++)
		if (strcmp(blobs[i].name, name) == 0)
			return &blobs[i];
	return NULL;
}

/* ---- the server --------------------------------------------------------------------- */

static int srv_fd = -1;
static int srv_port;
static pthread_t srv_thread;
static volatile int srv_stop;
static pthread_mutex_t srv_lock = PTHREAD_MUTEX_INITIALIZER;
static char last_headers[8192];
static struct {
	char path[512];
	int n;
} counts[64];
static int ncounts;

static void count(const char *path)
{
	int i;

	pthread_mutex_lock(&srv_lock);
	for (i = 0; i < ncounts; i++)
		if (strcmp(counts[i].path, path) == 0)
			break;
	if (i == ncounts && ncounts < 64)
		snprintf(counts[ncounts++].path, sizeof(counts[0].path), "%s", path);
	if (i < 64)
		counts[i].n++;
	pthread_mutex_unlock(&srv_lock);
}

static int requests(const char *path)
{
	int i, n = 0;

	pthread_mutex_lock(&srv_lock);
	for (i = 0; i < ncounts; i++)
		if (strcmp(counts[i].path, path) == 0)
			n = counts[i].n;
	pthread_mutex_unlock(&srv_lock);
	return n;
}

static void send_all(int fd, const void *p, size_t n)
{
	const char *c = p;
	ssize_t w;

	while (n > 0) {
		w = send(fd, c, n, MSG_NOSIGNAL);
		if (w <= 0)
			return;
		c += w;
		n -= (size_t)w;
	}
}

static void respond(int fd, int code, const char *reason, const char *extra, const void *body,
	size_t len, size_t announce)
{
	char h[1024];
	int n;

	n = snprintf(h, sizeof(h),
		"HTTP/1.1 %d %s\r\nContent-Length: %zu\r\n%sConnection: close\r\n\r\n", code,
		reason, announce, extra ? extra : "");
	send_all(fd, h, (size_t)n);
	if (len)
		send_all(fd, body, len);
}

/* Wait (at most 10 s) until the client closes the connection. */
static void wait_close(int fd)
{
	struct pollfd p = {fd, POLLIN, 0};
	char b[512];
	int i;

	for (i = 0; i < 100 && !srv_stop; i++) {
		if (poll(&p, 1, 100) > 0 && recv(fd, b, sizeof(b), 0) <= 0)
			return;
	}
}

static void serve(int fd)
{
	char req[8192], path[512], loc[600];
	struct blob *b;
	size_t n = 0;
	ssize_t r;
	char *end;

	while (n < sizeof(req) - 1) {
		r = recv(fd, req + n, sizeof(req) - 1 - n, 0);
		if (r <= 0)
			return;
		n += (size_t)r;
		req[n] = '\0';
		if (strstr(req, "\r\n\r\n"))
			break;
	}
	if (sscanf(req, "GET %511s", path) != 1)
		return;
	if (strncmp(path, "http://", 7) == 0) {
		/* asked as a proxy: the absolute URL's path is the request */
		char *slash = strchr(path + 7, '/');

		memmove(path, slash ? slash : "/", strlen(slash ? slash : "/") + 1);
	}
	pthread_mutex_lock(&srv_lock);
	end = strstr(req, "\r\n\r\n");
	if (end)
		*end = '\0';
	snprintf(last_headers, sizeof(last_headers), "%s", req);
	pthread_mutex_unlock(&srv_lock);
	count(path);

	if (strncmp(path, "/ok/", 4) == 0 && (b = blob_get(path + 4))) {
		respond(fd, 200, "OK", NULL, b->p, b->len, b->len);
	} else if (strncmp(path, "/artifact/", 10) == 0 && (b = blob_get(path + 10))) {
		respond(fd, 200, "OK", NULL, b->p, b->len, b->len);
	} else if (strncmp(path, "/410/", 5) == 0) {
		respond(fd, 410, "Gone", NULL, "gone", 4, 4);
	} else if (strncmp(path, "/403/", 5) == 0) {
		respond(fd, 403, "Forbidden", NULL, "no", 2, 2);
	} else if (strncmp(path, "/500/", 5) == 0) {
		respond(fd, 500, "Internal Server Error", NULL, "oops", 4, 4);
	} else if (strncmp(path, "/50", 3) == 0 && strchr("234", path[3]) && path[4] == '/') {
		respond(fd, 500 + path[3] - '0', "Proxy Trouble", NULL, "oops", 4, 4);
	} else if (strncmp(path, "/truncate/", 10) == 0 && (b = blob_get(path + 10))) {
		respond(fd, 200, "OK", NULL, b->p, b->len / 2, b->len);
	} else if (strncmp(path, "/redirect/", 10) == 0) {
		snprintf(loc, sizeof(loc), "Location: /%s\r\n", path + 10);
		respond(fd, 302, "Found", loc, NULL, 0, 0);
	} else if (strcmp(path, "/loop") == 0) {
		respond(fd, 302, "Found", "Location: /loop\r\n", NULL, 0, 0);
	} else if (strcmp(path, "/tofile") == 0) {
		respond(fd, 302, "Found", "Location: file:///etc/hostname\r\n", NULL, 0, 0);
	} else if (strncmp(path, "/nolen/", 7) == 0 && (b = blob_get(path + 7))) {
		/* no Content-Length: the body ends when the connection closes */
		static const char h[] = "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n";

		send_all(fd, h, sizeof(h) - 1);
		send_all(fd, b->p, b->len);
	} else if (strncmp(path, "/stall/", 7) == 0 && (b = blob_get(path + 7))) {
		respond(fd, 200, "OK", NULL, b->p, b->len > 1024 ? 1024 : b->len, b->len);
		wait_close(fd);
	} else {
		respond(fd, 404, "Not Found", NULL, "<html>not found</html>", 22, 22);
	}
}

static void *server_main(void *arg)
{
	struct pollfd p = {srv_fd, POLLIN, 0};
	int c;

	while (!srv_stop) {
		if (poll(&p, 1, 100) <= 0)
			continue;
		c = accept(srv_fd, NULL, NULL);
		if (c < 0)
			continue;
		serve(c);
		shutdown(c, SHUT_RDWR);
		close(c);
	}
	return NULL;
}

static int server_start(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t len = sizeof(a);

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	srv_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (srv_fd < 0 || bind(srv_fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
		listen(srv_fd, 64) < 0 || getsockname(srv_fd, (struct sockaddr *)&a, &len) < 0)
		return -1;
	srv_port = ntohs(a.sin_port);
	return pthread_create(&srv_thread, NULL, server_main, NULL) == 0 ? 0 : -1;
}

static void server_stop(void)
{
	srv_stop = 1;
	pthread_join(srv_thread, NULL);
	close(srv_fd);
}

static const char *url(const char *path)
{
	static char bufs[8][512];
	static unsigned i;
	char *b = bufs[i++ % 8];

	snprintf(b, 512, "http://127.0.0.1:%d%s", srv_port, path);
	return b;
}

/* ---- helpers ---------------------------------------------------------------------- */

/* diag() for a message of several lines: each gets its "# ". */
static void diag_lines(const char *text)
{
	const char *nl;

	while ((nl = strchr(text, '\n'))) {
		printf("# %.*s\n", (int)(nl - text), text);
		text = nl + 1;
	}
	printf("# %s\n", text);
}

struct result {
	int rc;
	bool retryable;
	char msg[2048];
	unsigned char *data;
	size_t len;
	uint8_t sha[HASH_SHA256_LEN];
	int progress_calls;
	uint64_t progress_total;
};

static void on_progress(void *arg, const char *u, uint64_t nowb, uint64_t total)
{
	struct result *r = arg;

	r->progress_calls++;
	r->progress_total = total;
}

/* Read a whole stream from URL u with options o. */
static void get(const char *u, struct fetch_options *o, struct result *res)
{
	struct fetch_stream *s = NULL;
	const void *b;
	char *msg = NULL;
	size_t n;
	int rc;

	memset(res, 0, sizeof(*res));
	o->progress = on_progress;
	o->progress_arg = res;
	rc = fetch_stream_open_url(u, o, &s, &msg);
	if (rc < 0) {
		res->rc = rc;
		snprintf(res->msg, sizeof(res->msg), "%s", msg ? msg : "");
		free(msg);
		return;
	}
	for (;;) {
		rc = fetch_stream_read(s, &b, &n);
		if (rc < 0 || n == 0)
			break;
		res->data = realloc(res->data, res->len + n);
		memcpy(res->data + res->len, b, n);
		res->len += n;
	}
	res->rc = rc;
	res->retryable = fetch_stream_retryable(s);
	snprintf(res->msg, sizeof(res->msg), "%s", fetch_stream_errmsg(s));
	if (rc == 0)
		fetch_stream_sha256(s, res->sha);
	fetch_stream_free(s);
}

/* timed_get - get(), and how long it took in seconds. */
static double timed_get(const char *u, struct fetch_options *o, struct result *res)
{
	struct timespec a, b;

	clock_gettime(CLOCK_MONOTONIC, &a);
	get(u, o, res);
	clock_gettime(CLOCK_MONOTONIC, &b);
	return (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
}

static void opts(struct fetch_options *o)
{
	fetch_options_init(o);
	o->connect_timeout = 5;
	o->low_speed_time = 5;
	o->retry_delay_ms = 10;
	o->lock_timeout = 30;
}

/* ---- tarballs ----------------------------------------------------------------------- */

struct bytes {
	unsigned char *p;
	size_t len;
};

static la_ssize_t w_write(struct archive *a, void *arg, const void *buf, size_t n)
{
	struct bytes *b = arg;

	b->p = realloc(b->p, b->len + n);
	memcpy(b->p + b->len, buf, n);
	b->len += n;
	return (la_ssize_t)n;
}

/* A gzip'ed tarball holding the file name with content data (and a symlink when evil). */
static struct bytes tarball(const char *name, const char *data, bool evil)
{
	struct archive *a = archive_write_new();
	struct archive_entry *e = archive_entry_new();
	struct bytes b = {0};

	archive_write_set_format_pax_restricted(a);
	archive_write_add_filter_gzip(a);
	archive_write_open(a, &b, NULL, w_write, NULL);
	if (evil) {
		archive_entry_set_pathname(e, "l");
		archive_entry_set_filetype(e, AE_IFLNK);
		archive_entry_set_symlink(e, "/");
		archive_entry_set_perm(e, 0777);
		archive_write_header(a, e);
		archive_entry_clear(e);
		archive_entry_set_pathname(e, "l/tmp/evil");
	} else {
		archive_entry_set_pathname(e, name);
	}
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, 0644);
	archive_entry_set_size(e, (la_int64_t)strlen(data));
	archive_write_header(a, e);
	archive_write_data(a, data, strlen(data));
	archive_entry_free(e);
	archive_write_close(a);
	archive_write_free(a);
	return b;
}

static void hexes(const struct bytes *b, char tree[HASH_HEX_MAX], char sha[HASH_HEX_MAX])
{
	struct fetch_digests d;
	int fd = memfd_create("t", MFD_CLOEXEC);

	if (fd < 0 || write(fd, b->p, b->len) != (ssize_t)b->len)
		abort();
	lseek(fd, 0, SEEK_SET);
	if (fetch_hash_tarball(fd, NULL, &d, NULL) < 0)
		abort();
	close(fd);
	hash_to_hex(d.tree, HASH_SHA1_LEN, tree);
	hash_to_hex(d.sha256, HASH_SHA256_LEN, sha);
}

/* ---- streams ------------------------------------------------------------------------ */

static void test_file_urls(void)
{
	struct fetch_options o;
	struct result r;
	char path[1200], u[1300];
	uint8_t sha[HASH_SHA256_LEN];
	int fd;

	opts(&o);
	snprintf(path, sizeof(path), "%s/a file with spaces.bin", tmpdir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || write(fd, "0123456789", 10) != 10)
		abort();
	close(fd);
	snprintf(u, sizeof(u), "file://%s", path);
	for (char *p = u; *p; p++)
		if (*p == ' ')
			memmove(p + 3, p + 1, strlen(p + 1) + 1), memcpy(p, "%20", 3);
	get(u, &o, &r);
	is_int(r.rc, 0, "file:// URL read");
	ok(r.len == 10 && memcmp(r.data, "0123456789", 10) == 0, "file:// data, %%20 decoded");
	hash_buffer(HASH_SHA256, "0123456789", 10, sha);
	ok(memcmp(sha, r.sha, sizeof(sha)) == 0, "file:// sha256 of the stream");
	ok(r.progress_calls >= 1 && r.progress_total == 10, "file:// progress with its total");
	free(r.data);

	snprintf(u, sizeof(u), "file://%s/missing.tar.gz", tmpdir);
	get(u, &o, &r);
	is_int(r.rc, -ENOENT, "file:// missing file: -ENOENT");
	ok(strstr(r.msg, "No such file or directory") != NULL, "file:// missing: message (%s)",
		r.msg);

	get("file://example.org/etc/hostname", &o, &r);
	is_int(r.rc, -EINVAL, "file:// with a remote host refused");

	get("ftp://127.0.0.1/x.tar.gz", &o, &r);
	is_int(r.rc, -EPROTONOSUPPORT, "ftp:// refused");
	ok(strstr(r.msg, "unsupported URL scheme 'ftp'") != NULL, "ftp:// message (%s)", r.msg);

	get("no scheme at all", &o, &r);
	is_int(r.rc, -EINVAL, "a malformed URL: -EINVAL");
}

static void test_http(void)
{
	static unsigned char big[8 << 20];
	struct fetch_options o;
	struct result r;
	uint8_t sha[HASH_SHA256_LEN];
	double t;
	size_t i;
	int fd;
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t len = sizeof(a);
	char u[128];

	opts(&o);
	for (i = 0; i < sizeof(big); i++)
		big[i] = (unsigned char)(i * 2654435761u >> 13);
	blob_add("big", big, sizeof(big));
	blob_add("small", "hello http", 10);

	get(url("/ok/small"), &o, &r);
	is_int(r.rc, 0, "http 200");
	ok(r.len == 10 && memcmp(r.data, "hello http", 10) == 0, "http body");
	free(r.data);
	ok(strstr(last_headers, "User-Agent: artifactfs/" ARTIFACTFS_VERSION " libcurl/") != NULL,
		"User-Agent artifactfs/<version> libcurl/<version>");
	ok(strstr(last_headers, "Julia-Pkg-Protocol") == NULL,
		"no Pkg headers without a Pkg server");

	get(url("/ok/big"), &o, &r);
	hash_buffer(HASH_SHA256, big, sizeof(big), sha);
	ok(r.rc == 0 && r.len == sizeof(big) && memcmp(r.data, big, sizeof(big)) == 0,
		"8 MiB body through the bounded buffer");
	ok(memcmp(sha, r.sha, sizeof(sha)) == 0, "8 MiB sha256");
	ok(r.progress_total == sizeof(big), "Content-Length reported as the total");
	free(r.data);

	get(url("/404/x.tar.gz"), &o, &r);
	is_int(r.rc, -ENOENT, "404: -ENOENT");
	is_str(r.msg, "HTTP 404 Not Found", "404 message");
	ok(!r.retryable, "404 is not retried");
	ok(r.len == 0, "404 body not passed on");

	get(url("/410/x"), &o, &r);
	is_int(r.rc, -ENOENT, "410: -ENOENT");
	is_str(r.msg, "HTTP 410 Gone", "410 message");

	get(url("/403/x"), &o, &r);
	is_int(r.rc, -EACCES, "403: -EACCES");
	ok(!r.retryable, "403 is not retried");

	get(url("/500/x"), &o, &r);
	is_int(r.rc, -EREMOTEIO, "500: -EREMOTEIO");
	is_str(r.msg, "HTTP 500 Internal Server Error", "500 message");
	ok(r.retryable, "500 may be retried");

	get(url("/truncate/big"), &o, &r);
	is_int(r.rc, -EPIPE, "truncated body: -EPIPE");
	ok(strstr(r.msg, "transfer closed") != NULL, "truncated body message (%s)", r.msg);
	ok(r.retryable, "truncated body may be retried");
	free(r.data);

	get(url("/redirect/ok/small"), &o, &r);
	ok(r.rc == 0 && r.len == 10, "redirect followed");
	free(r.data);

	get(url("/loop"), &o, &r);
	is_int(r.rc, -ELOOP, "redirect loop: -ELOOP");

	get(url("/tofile"), &o, &r);
	is_int(r.rc, -EPROTONOSUPPORT, "redirect to file:// refused");
	diag("%s", r.msg);

	/*
	 * curl measures speed over its last 5 s, so with a limit of 1 byte/s the
	 * 1 KiB before the stall keeps it "fast" for 5 s; 4 KiB/s trips at once.
	 */
	o.low_speed_time = 1;
	o.low_speed_limit = 4096;
	t = timed_get(url("/stall/big"), &o, &r);
	is_int(r.rc, -ETIMEDOUT, "stall: -ETIMEDOUT with the low-speed abort at 1 s");
	ok(strstr(r.msg, "Operation too slow") != NULL, "stall message (%s)", r.msg);
	ok(t < 5, "stall aborted in %.1f s", t);
	ok(r.len == 1024, "the bytes before the stall were delivered");
	free(r.data);

	o.low_speed_time = 0;
	o.timeout = 1;
	t = timed_get(url("/stall/big"), &o, &r);
	is_int(r.rc, -ETIMEDOUT, "overall deadline: -ETIMEDOUT");
	ok(t < 5, "deadline hit in %.1f s", t);
	free(r.data);
	opts(&o);

	/* a port nobody listens on */
	fd = socket(AF_INET, SOCK_STREAM, 0);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	bind(fd, (struct sockaddr *)&a, sizeof(a));
	getsockname(fd, (struct sockaddr *)&a, &len);
	snprintf(u, sizeof(u), "http://127.0.0.1:%d/x", ntohs(a.sin_port));
	close(fd);
	get(u, &o, &r);
	is_int(r.rc, -ECONNREFUSED, "connection refused: -ECONNREFUSED");
	ok(r.retryable, "connection refused may be retried");

	/* Pkg-server headers go to URLs under the server only */
	o.pkg_server = url("");
	o.host_triplet = "x86_64-linux-gnu";
	setenv("JULIA_PKG_SERVER_REGISTRY_PREFERENCE", "eager", 1);
	setenv("CI", "true", 1);
	get(url("/ok/small"), &o, &r);
	ok(r.rc == 0 && strstr(last_headers, "Julia-Pkg-Protocol: 1.0") != NULL,
		"Pkg-server headers sent to the server");
	ok(strstr(last_headers, "Julia-System: x86_64-linux-gnu") != NULL, "Julia-System header");
	ok(strstr(last_headers, "Julia-Registry-Preference: eager") != NULL,
		"JULIA_PKG_SERVER_REGISTRY_PREFERENCE forwarded");
	ok(strstr(last_headers, ";CI=t;") != NULL, "Julia-CI-Variables");
	free(r.data);
	o.pkg_server = "http://elsewhere.invalid";
	get(url("/ok/small"), &o, &r);
	ok(r.rc == 0 && strstr(last_headers, "Julia-Pkg-Protocol") == NULL,
		"no Pkg-server headers for other URLs");
	free(r.data);
	unsetenv("JULIA_PKG_SERVER_REGISTRY_PREFERENCE");
	unsetenv("CI");
}

/* Read u with its size capped at limit: rc, bytes handed out, message. */
static int get_capped(const char *u, uint64_t limit, uint64_t *bytes, char *msg, size_t msgsize)
{
	struct fetch_options o;
	struct fetch_stream *s = NULL;
	const void *b;
	size_t n;
	int rc;

	opts(&o);
	rc = fetch_stream_open_url(u, &o, &s, NULL);
	if (rc < 0)
		return rc;
	fetch_stream_set_limit(s, limit);
	do
		rc = fetch_stream_read(s, &b, &n);
	while (rc == 0 && n > 0);
	*bytes = fetch_stream_bytes(s);
	snprintf(msg, msgsize, "%s", fetch_stream_errmsg(s));
	if (rc < 0 && fetch_stream_retryable(s))
		rc = -EAGAIN; /* a size mismatch must not be retried */
	fetch_stream_free(s);
	return rc;
}

/* Issue 10, bug 11: a download entry's size is a hard cap on the bytes received. */
static void test_size_cap(void)
{
	static char big[300000];
	char msg[1024], fileurl[700];
	uint64_t bytes;
	size_t i;
	int fd, rc;

	for (i = 0; i < sizeof(big); i++)
		big[i] = (char)(i * 7 + i / 1000);
	blob_add("big.bin", big, sizeof(big));

	rc = get_capped(url("/ok/big.bin"), sizeof(big), &bytes, msg, sizeof(msg));
	ok(rc == 0 && bytes == sizeof(big), "size cap equal to the size: read whole");
	rc = get_capped(url("/ok/big.bin"), sizeof(big) - 1, &bytes, msg, sizeof(msg));
	is_int(rc, -EBADMSG, "Content-Length over the size: -EBADMSG, not retryable");
	ok(bytes == 0, "Content-Length over the size: fails before the body (%llu bytes)",
		(unsigned long long)bytes);
	ok(strstr(msg, "announces 300000 bytes, more than the expected size of 299999") != NULL,
		"Content-Length over the size: the message says so");
	diag("%s", msg);
	rc = get_capped(url("/nolen/big.bin"), 100000, &bytes, msg, sizeof(msg));
	is_int(rc, -EBADMSG, "no Content-Length, body over the size: -EBADMSG, not retryable");
	ok(bytes <= 100000, "no Content-Length: nothing handed out past the size (%llu bytes)",
		(unsigned long long)bytes);
	ok(strstr(msg, "more than the expected size of 100000") != NULL,
		"no Content-Length: the message says so");
	diag("%s", msg);
	rc = get_capped(url("/nolen/big.bin"), sizeof(big), &bytes, msg, sizeof(msg));
	ok(rc == 0 && bytes == sizeof(big), "no Content-Length, body of the size: read whole");

	snprintf(fileurl, sizeof(fileurl), "%s/big.bin", tmpdir);
	fd = open(fileurl, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || write(fd, big, sizeof(big)) != (ssize_t)sizeof(big))
		abort();
	close(fd);
	snprintf(fileurl, sizeof(fileurl), "file://%s/big.bin", tmpdir);
	rc = get_capped(fileurl, 1000, &bytes, msg, sizeof(msg));
	ok(rc == -EBADMSG && bytes == 0, "file:// over the size: refused before reading");
}

static void test_pkg_server_url(void)
{
	char *s = NULL;

	fetch_pkg_server_url("pkg.julialang.org/", &s);
	is_str(s, "https://pkg.julialang.org", "Pkg server without a scheme gets https://");
	free(s);
	fetch_pkg_server_url("http://127.0.0.1:8000//", &s);
	is_str(s, "http://127.0.0.1:8000", "trailing slashes dropped");
	free(s);
	s = (char *)"x";
	fetch_pkg_server_url("", &s);
	ok(s == NULL, "an empty setting: no server");
}

/* ---- installs ------------------------------------------------------------------------ */

struct logbuf {
	char text[4096];
	int n;
};

static void on_log(void *arg, enum fetch_log_level level, const char *msg)
{
	struct logbuf *l = arg;

	l->n++;
	snprintf(l->text, sizeof(l->text), "%s", msg);
}

struct flight {
	struct store *s;
	const struct fetch_request *req;
	int rc;
	char *path;
};

static void *flight_main(void *arg)
{
	struct flight *fl = arg;
	struct fetch_options o;
	struct fetch *f;

	opts(&o);
	fetch_new(fl->s, &o, &f);
	fl->rc = fetch_install(f, fl->req, &fl->path);
	fetch_free(f);
	return NULL;
}

static void test_install(void)
{
	struct bytes good = tarball("file", "content one", false);
	struct bytes other = tarball("file", "content two", false);
	struct bytes evil = tarball("x", "evil", true);
	char tree[HASH_HEX_MAX], sha[HASH_HEX_MAX], tree2[HASH_HEX_MAX], sha2[HASH_HEX_MAX];
	char etree[HASH_HEX_MAX], esha[HASH_HEX_MAX], dir[1200], fileurl[1300], *path = NULL;
	struct fetch_source src[3];
	struct fetch_request req = {.name = "Demo", .toml_path = "/x/Artifacts.toml"};
	struct fetch_options o;
	struct store *s = NULL;
	struct fetch *f = NULL;
	struct logbuf log = {0};
	struct flight fl[4];
	char *err = NULL;
	int fd, rc, i;

	hexes(&good, tree, sha);
	hexes(&other, tree2, sha2);
	{
		/* evil cannot be hashed (it is refused): any tree, its real sha256 */
		uint8_t d[HASH_SHA256_LEN];

		hash_buffer(HASH_SHA256, evil.p, evil.len, d);
		hash_to_hex(d, sizeof(d), esha);
		snprintf(etree, sizeof(etree), "%s", "1111111111111111111111111111111111111111");
	}
	blob_add("good.tar.gz", good.p, good.len);
	blob_add("other.tar.gz", other.p, other.len);
	blob_add("evil.tar.gz", evil.p, evil.len);
	blob_add(tree2, other.p, other.len); /* the Pkg server's /artifact/<hash> */

	snprintf(dir, sizeof(dir), "%s/store", tmpdir);
	rc = store_open(dir, STORE_CREATE, &s, &err);
	if (!ok(rc == 0, "store opened")) {
		diag("%s", err ? err : "");
		free(err);
		return;
	}
	opts(&o);
	o.log = on_log;
	o.log_arg = &log;
	fetch_new(s, &o, &f);

	/* a file:// source */
	snprintf(fileurl, sizeof(fileurl), "%s/good.tar.gz", tmpdir);
	fd = open(fileurl, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || write(fd, good.p, good.len) != (ssize_t)good.len)
		abort();
	close(fd);
	snprintf(fileurl, sizeof(fileurl), "file://%s/good.tar.gz", tmpdir);
	src[0] = (struct fetch_source){url("/404/good.tar.gz"), sha, 0};
	src[1] = (struct fetch_source){fileurl, sha, 0};
	req.hash = tree;
	req.sources = src;
	req.nsources = 2;
	rc = fetch_install(f, &req, &path);
	is_int(rc, 0, "install: 404 first, then file:// wins");
	if (rc)
		diag("%s", fetch_errmsg(f));
	ok(path && strstr(path, tree) && tu_installed(s, tree),
		"install: in the store and indexed");
	is_int(requests("/404/good.tar.gz"), 1, "404 tried once, not retried");
	free(path);
	path = NULL;
	rc = fetch_install(f, &req, &path);
	ok(rc == 0 && requests("/404/good.tar.gz") == 1, "already installed: no download");
	free(path);
	path = NULL;

	/* every source fails: nothing installed, every cause listed */
	req.hash = tree2;
	src[0] = (struct fetch_source){url("/404/other.tar.gz"), sha2, 0};
	src[1] = (struct fetch_source){url("/ok/other.tar.gz"), sha, 0}; /* wrong sha256 */
	src[2] = (struct fetch_source){url("/500/other.tar.gz"), sha2, 0};
	req.nsources = 3;
	rc = fetch_install(f, &req, &path);
	is_int(rc, -EREMOTEIO, "all sources fail: the last source's error");
	ok(!tu_installed(s, tree2) && path == NULL, "nothing installed on failure");
	ok(strstr(fetch_errmsg(f),
		   "unable to automatically download/install artifact 'Demo' from "
		   "sources listed in '/x/Artifacts.toml'\nSources attempted:\n- ") != NULL,
		"failure message lists the sources");
	ok(strstr(fetch_errmsg(f), "/404/other.tar.gz\n    Error: HTTP 404 Not Found\n- ") != NULL,
		"404 cause listed");
	ok(strstr(fetch_errmsg(f), "    Error: Hash Mismatch!\n      Expected sha256:   ") != NULL,
		"sha256 mismatch listed in Julia's words");
	ok(strstr(fetch_errmsg(f), "Error: HTTP 500 Internal Server Error") != NULL, "500 listed");
	diag_lines(fetch_errmsg(f));
	is_int(requests("/ok/other.tar.gz"), 1, "a digest mismatch is not retried");
	is_int(requests("/500/other.tar.gz"), 3, "HTTP 500 tried 3 times");
	ok(log.n == 2 && strstr(log.text, "retrying"), "retries logged");

	/* the Pkg server comes first and has no sha256 */
	o.pkg_server = url("");
	fetch_free(f);
	fetch_new(s, &o, &f);
	src[0] = (struct fetch_source){url("/ok/other.tar.gz"), sha2, 0};
	req.nsources = 1;
	rc = fetch_install(f, &req, &path);
	is_int(rc, 0, "Pkg server first");
	ok(tu_installed(s, tree2), "installed from the Pkg server");
	ok(requests("/ok/other.tar.gz") == 1, "download entries not needed");
	free(path);
	path = NULL;

	/* the Pkg server does not know it: the download entries follow */
	req.hash = tree;
	rc = fetch_install(f, &req, &path); /* already there: nothing asked */
	ok(rc == 0, "installed hash: Pkg server not asked");
	free(path);
	path = NULL;

	/* tree hash mismatch, then the same with ignore-hashes */
	req.hash = "0123456789abcdef0123456789abcdef01234567";
	src[0] = (struct fetch_source){url("/ok/good.tar.gz"), sha, 0};
	o.pkg_server = NULL;
	fetch_free(f);
	fetch_new(s, &o, &f);
	rc = fetch_install(f, &req, &path);
	is_int(rc, -EBADMSG, "tree hash mismatch: -EBADMSG");
	ok(strstr(fetch_errmsg(f), "Error: Tree Hash Mismatch!\n      Expected git-tree-sha1:   "
				   "0123456789abcdef0123456789abcdef01234567\n      Calculated "
				   "git-tree-sha1: ") != NULL,
		"tree hash mismatch in Julia's words");
	ok(!tu_installed(s, req.hash), "mismatching tree not installed");
	o.flags |= FETCH_IGNORE_HASHES;
	log.n = 0;
	fetch_free(f);
	fetch_new(s, &o, &f);
	rc = fetch_install(f, &req, &path);
	ok(rc == 0 && tu_installed(s, req.hash), "ignore-hashes installs despite the mismatch");
	ok(log.n == 1 && strstr(log.text, "Tree Hash Mismatch!") &&
			strstr(log.text, "ignore-hashes"),
		"ignore-hashes logs the mismatch loudly");
	free(path);
	path = NULL;
	o.flags = 0;
	fetch_free(f);
	fetch_new(s, &o, &f);

	/* an unsafe tarball is refused at once */
	req.hash = etree;
	src[0] = (struct fetch_source){url("/ok/evil.tar.gz"), esha, 0};
	rc = fetch_install(f, &req, &path);
	is_int(rc, -EPERM, "unsafe tarball: -EPERM");
	is_int(requests("/ok/evil.tar.gz"), 1, "unsafe tarball not retried");
	ok(access("/tmp/evil", F_OK) != 0, "nothing written through the symlink");

	/* an error page served with 200: a sha256 mismatch, as Julia reports it */
	blob_add("page.tar.gz", "<html>maintenance</html>\n", 25);
	src[0] = (struct fetch_source){url("/ok/page.tar.gz"), sha, 0};
	req.hash = "2222222222222222222222222222222222222222";
	rc = fetch_install(f, &req, &path);
	is_int(rc, -EBADMSG, "an HTML page: -EBADMSG");
	ok(strstr(fetch_errmsg(f), "Error: Hash Mismatch!") &&
			strstr(fetch_errmsg(f), "does not appear to be a tarball"),
		"an HTML page: Hash Mismatch, and why it is not a tarball");
	req.sources = &(struct fetch_source){url("/ok/page.tar.gz"), NULL, 0};
	rc = fetch_install(f, &req, &path);
	ok(rc == -EILSEQ && strstr(fetch_errmsg(f), "does not appear to be a tarball"),
		"an HTML page without a sha256: not a tarball");
	req.sources = src;

	/* no source at all */
	req.nsources = 0;
	rc = fetch_install(f, &req, &path);
	is_int(rc, -ENOMEDIUM, "no download section: -ENOMEDIUM");
	ok(strstr(fetch_errmsg(f), "no download section") != NULL, "no download section message");

	/* single flight: four threads, one download */
	{
		struct bytes third = tarball("f", "content three", false);
		char t3[HASH_HEX_MAX], s3[HASH_HEX_MAX];
		struct fetch_source one;
		pthread_t th[4];

		hexes(&third, t3, s3);
		blob_add("third.tar.gz", third.p, third.len);
		one = (struct fetch_source){url("/ok/third.tar.gz"), s3, 0};
		req.hash = t3;
		req.sources = &one;
		req.nsources = 1;
		for (i = 0; i < 4; i++) {
			fl[i] = (struct flight){s, &req, -1, NULL};
			pthread_create(&th[i], NULL, flight_main, &fl[i]);
		}
		for (i = 0; i < 4; i++)
			pthread_join(th[i], NULL);
		ok(fl[0].rc == 0 && fl[1].rc == 0 && fl[2].rc == 0 && fl[3].rc == 0,
			"single flight: every thread succeeds");
		ok(fl[0].path && fl[3].path && strcmp(fl[0].path, fl[3].path) == 0,
			"single flight: same path");
		is_int(requests("/ok/third.tar.gz"), 1, "single flight: one download");
		for (i = 0; i < 4; i++)
			free(fl[i].path);
		free(third.p);
	}

	fetch_free(f);
	store_close(s);
	free(good.p);
	free(other.p);
	free(evil.p);
}

/* The stream of u through proxy (fetch_options.proxy), read to its end: its verdict. */
static bool proxy_fault(const char *u, const char *proxy, long low_speed_time, int *rc)
{
	struct fetch_options o;
	struct fetch_stream *st = NULL;
	const void *b;
	bool fault;
	size_t n;

	opts(&o);
	o.proxy = proxy;
	if (low_speed_time)
		o.low_speed_time = low_speed_time;
	*rc = fetch_stream_open_url(u, &o, &st, NULL);
	if (*rc < 0)
		return false;
	while ((*rc = fetch_stream_read(st, &b, &n)) == 0 && n)
		;
	fault = fetch_stream_proxy_fault(st);
	fetch_stream_free(st);
	return fault;
}

/* fetch_stream_proxy_fault(): what a proxy did wrong, and what the origin did */
static void test_proxy_fault(void)
{
	const char *px = url("");
	int rc;

	ok(proxy_fault("http://origin.invalid/503/x", px, 0, &rc) && rc == -EREMOTEIO,
		"through a proxy, 503 is the proxy's failure");
	ok(proxy_fault("http://origin.invalid/502/x", px, 0, &rc), "... 502 too");
	ok(proxy_fault("http://origin.invalid/504/x", px, 0, &rc), "... 504 too");
	ok(!proxy_fault("http://origin.invalid/404/x", px, 0, &rc) && rc == -ENOENT,
		"404 is the origin's");
	ok(!proxy_fault("http://origin.invalid/500/x", px, 0, &rc) && rc == -EREMOTEIO,
		"500 is the origin's");
	blob_add("pf.bin", "0123456789abcdef0123456789abcdef", 32);
	ok(!proxy_fault("http://origin.invalid/ok/pf.bin", px, 0, &rc) && rc == 0,
		"a success is no failure");
	ok(proxy_fault("http://127.0.0.1:1/ok/pf.bin", "http://127.0.0.1:1", 0, &rc) &&
			rc == -ECONNREFUSED,
		"a proxy that refuses the connection");
	{
		static unsigned char big[64 << 10];

		blob_add("pfbig.bin", big, sizeof(big));
		ok(proxy_fault("http://origin.invalid/stall/pfbig.bin", px, 1, &rc) &&
				rc == -ETIMEDOUT,
			"a proxy that stalls after the headers (the low-speed limit)");
	}
	ok(!proxy_fault(url("/503/x"), NULL, 0, &rc) && rc == -EREMOTEIO,
		"without a proxy, 503 is the origin's");
	ok(!proxy_fault(url("/503/x"), "", 0, &rc) && rc == -EREMOTEIO, "... and with DIRECT");
}

/* fetch_install() through a proxy list: failover to the next proxy, the next URL on a 404 */
static void test_install_proxies(void)
{
	struct bytes t = tarball("file", "through a proxy", false);
	char tree[HASH_HEX_MAX], sha[HASH_HEX_MAX], dir[1200], spec[256], *err = NULL;
	struct fetch_source src[2];
	struct fetch_request req = {.name = "Proxied", .toml_path = "/x/Artifacts.toml"};
	struct fetch_proxy_conf pc = {.retry_after = 60};
	struct fetch_proxies *px = NULL;
	struct fetch_proxy_state st0, st1;
	struct fetch_options o;
	struct store *s = NULL;
	struct fetch *f = NULL;
	struct logbuf log = {0};
	int rc;

	hexes(&t, tree, sha);
	blob_add("proxied.tar.gz", t.p, t.len);
	snprintf(dir, sizeof(dir), "%s/store-proxies", tmpdir);
	snprintf(spec, sizeof(spec), "http://127.0.0.1:1;%s", url(""));
	if (store_open(dir, STORE_CREATE, &s, &err) < 0 ||
		fetch_proxies_parse(spec, &pc, &px, NULL) < 0) {
		ok(0, "store and proxies");
		free(err);
		goto out;
	}
	opts(&o);
	o.log = on_log;
	o.log_arg = &log;
	o.proxies = px;
	fetch_new(s, &o, &f);
	src[0] = (struct fetch_source){"http://origin.invalid/404/proxied.tar.gz", sha, 0};
	src[1] = (struct fetch_source){"http://origin.invalid/ok/proxied.tar.gz", sha, 0};
	req.hash = tree;
	req.sources = src;
	req.nsources = 2;
	rc = fetch_install(f, &req, NULL);
	is_int(rc, 0, "installed through the second proxy");
	if (rc)
		diag_lines(fetch_errmsg(f));
	fetch_proxies_state(px, 0, &st0);
	fetch_proxies_state(px, 1, &st1);
	ok(st0.failed && st0.failures == 1, "the refusing proxy failed once, and is skipped");
	ok(st1.active && st1.failures == 0 && st1.successes == 1,
		"the second group took over: a 404 is no proxy failure");
	is_int(requests("/404/proxied.tar.gz"), 1, "the 404 asked once, through the proxy");
	is_int(requests("/ok/proxied.tar.gz"), 1, "the next URL through the same proxy");
	ok(log.n == 1 &&
			strstr(log.text, "proxy 'http://127.0.0.1:1' failed for "
					 "'http://origin.invalid/404/proxied.tar.gz'") &&
			strstr(log.text, "trying the next proxy"),
		"the failure is logged with the proxy and the URL apart");
	if (log.n != 1)
		diag("%d: %s", log.n, log.text);
out:
	fetch_free(f);
	fetch_proxies_free(px);
	store_close(s);
	free(t.p);
}

int main(void)
{
	const char *tmp = getenv("TMPDIR");
	char cmd[1400];
	size_t i;

	snprintf(tmpdir, sizeof(tmpdir), "%s/test-download.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(tmpdir))
		return 1;
	setenv("ARTIFACTFS_UNSAFE_NO_FSYNC", "1", 1);
	/* the test server is local: no proxy may take these requests */
	unsetenv("http_proxy");
	unsetenv("https_proxy");
	unsetenv("HTTPS_PROXY");
	unsetenv("all_proxy");
	unsetenv("ALL_PROXY");
	if (fetch_global_init() < 0 || server_start() < 0) {
		printf("1..0 # SKIP cannot start a loopback server\n");
		return 0;
	}

	test_file_urls();
	test_http();
	test_pkg_server_url();
	test_size_cap();
	test_install();
	test_proxy_fault();
	test_install_proxies();

	server_stop();
	for (i = 0; i < nblobs; i++)
		free(blobs[i].p);
	fetch_global_cleanup();
	snprintf(cmd, sizeof(cmd), "chmod -R u+w '%s' && rm -rf '%s'", tmpdir, tmpdir);
	if (!tap_failed && system(cmd) != 0)
		diag("could not remove %s", tmpdir);
	return tap_done();
}
