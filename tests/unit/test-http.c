/*
 * test-http.c - fetch/http.c: the transport downloads and uploads share:
 * errno classes and their text, which failures are retried, the retry
 * policy's attempts and waits, and the options fetch_http_setup() puts on
 * an easy handle, seen from a small server on 127.0.0.1 (one connection at
 * a time: it keeps the request and sends the answer it was given).
 * download.c's own use of the transport is tested in test-download.c.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif

#include "fetch/http.h"
#include "tests/tap.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int listen_fd = -1;
static unsigned short port;
static char request[8192];   /* the last request's head */
static const char *answer;   /* what the server sends back */
static int requests;	     /* connections served */

static void *serve(void *arg)
{
	for (;;) {
		int c = accept(listen_fd, NULL, NULL);
		size_t n = 0;
		ssize_t k;

		if (c < 0)
			return NULL;
		while (n + 1 < sizeof(request) &&
			(k = read(c, request + n, sizeof(request) - 1 - n)) > 0) {
			n += (size_t)k;
			request[n] = '\0';
			if (strstr(request, "\r\n\r\n"))
				break;
		}
		requests++;
		if (write(c, answer, strlen(answer)) < 0)
			diag("write: %s", strerror(errno));
		close(c);
	}
}

static int server_start(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);
	pthread_t t;

	listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (listen_fd < 0 || bind(listen_fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
		listen(listen_fd, 8) < 0 || getsockname(listen_fd, (struct sockaddr *)&a, &len) < 0)
		return -1;
	port = ntohs(a.sin_port);
	if (pthread_create(&t, NULL, serve, NULL) != 0)
		return -1;
	pthread_detach(t);
	return 0;
}

/* One transfer of path with conf; returns the CURLcode, *status the HTTP status. */
/* A GET of url (NULL: this server's path) through proxy (fetch_http_setup()'s). */
static int get_via(const struct fetch_http_conf *conf, const char *path, const char *url_in,
	const char *proxy, long *status)
{
	char url[256], errbuf[CURL_ERROR_SIZE];
	CURL *c = curl_easy_init();
	CURLcode cc;
	int r;

	if (!c)
		return CURLE_OUT_OF_MEMORY;
	if (url_in)
		snprintf(url, sizeof(url), "%s", url_in);
	else
		snprintf(url, sizeof(url), "http://127.0.0.1:%u%s", port, path);
	r = fetch_http_setup(c, conf, url, proxy, errbuf);
	if (r < 0) {
		curl_easy_cleanup(c);
		return CURLE_FAILED_INIT;
	}
	request[0] = '\0';
	cc = curl_easy_perform(c);
	*status = 0;
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
	curl_easy_cleanup(c);
	return cc;
}

static int get(const struct fetch_http_conf *conf, const char *path, long *status)
{
	return get_via(conf, path, NULL, NULL, status);
}

static void test_errno(void)
{
	char s[64];
	bool again = false;

	is_int(fetch_curl_errno(CURLE_COULDNT_CONNECT, &again), -ECONNREFUSED, "refused");
	ok(again, "... retried");
	is_int(fetch_curl_errno(CURLE_PEER_FAILED_VERIFICATION, &again), -EKEYREJECTED,
		"certificate");
	ok(!again, "... not retried");
	is_int(fetch_http_errno(404, &again), -ENOENT, "404");
	ok(!again, "... not retried");
	is_int(fetch_http_errno(503, &again), -EREMOTEIO, "503");
	ok(again, "... retried");
	is_str(fetch_http_reason(429), "Too Many Requests", "reason of 429");
	ok(fetch_http_reason(299) == NULL, "no reason for 299");

	fetch_http_describe(404, NULL, s, sizeof(s));
	is_str(s, "HTTP 404 Not Found", "describe: our phrase");
	fetch_http_describe(404, "", s, sizeof(s));
	is_str(s, "HTTP 404 Not Found", "describe: an empty phrase is ours");
	fetch_http_describe(403, "Nope", s, sizeof(s));
	is_str(s, "HTTP 403 Nope", "describe: the server's phrase");
	fetch_http_describe(499, NULL, s, sizeof(s));
	is_str(s, "HTTP 499", "describe: a status without a phrase");
	is_int(fetch_http_describe(500, NULL, s, 8), strlen("HTTP 500 Internal Server Error"),
		"describe: snprintf's length");
	is_str(s, "HTTP 50", "describe: truncated");
}

/* The one classification of proxy failures (a stream's, the Pkg server's HEAD). */
static void test_proxy_fault(void)
{
	ok(fetch_proxy_fault(0, 502, CURLE_OK), "502: the proxy's");
	ok(fetch_proxy_fault(0, 503, CURLE_OK), "503: the proxy's");
	ok(fetch_proxy_fault(0, 504, CURLE_OK), "504: the proxy's");
	ok(!fetch_proxy_fault(0, 404, CURLE_OK), "404: the origin's");
	ok(!fetch_proxy_fault(0, 500, CURLE_OK), "500: the origin's");
	ok(!fetch_proxy_fault(0, 200, CURLE_OK), "200: no failure");
	ok(!fetch_proxy_fault(-ECONNREFUSED, 404, CURLE_OK), "a status decides before the errno");
	ok(fetch_proxy_fault(-ECONNREFUSED, 0, CURLE_OK), "refused: the proxy's");
	ok(fetch_proxy_fault(-ETIMEDOUT, 0, CURLE_OK), "timed out: the proxy's");
	ok(fetch_proxy_fault(-EHOSTUNREACH, 0, CURLE_OK), "unreachable: the proxy's");
	ok(fetch_proxy_fault(-ECONNRESET, 0, CURLE_OK), "reset: the proxy's");
	ok(fetch_proxy_fault(-EPIPE, 0, CURLE_OK), "broken: the proxy's");
	ok(!fetch_proxy_fault(-EKEYREJECTED, 0, CURLE_OK), "TLS: not the proxy's");
	ok(!fetch_proxy_fault(-EIO, 0, CURLE_OK), "other errors: not the proxy's");
}

static void test_retryable(void)
{
	ok(fetch_http_retryable(-ECONNREFUSED, 0), "refused: retried");
	ok(fetch_http_retryable(-ECONNRESET, 0), "reset: retried");
	ok(fetch_http_retryable(-ETIMEDOUT, 0), "timed out: retried");
	ok(fetch_http_retryable(-EPIPE, 0), "broken: retried");
	ok(!fetch_http_retryable(-EHOSTUNREACH, 0), "unresolved host: not retried");
	ok(!fetch_http_retryable(-EKEYREJECTED, 0), "TLS: not retried");
	ok(!fetch_http_retryable(-EIO, 0), "other transfer errors: not retried");
	ok(fetch_http_retryable(0, 500), "500: retried");
	ok(fetch_http_retryable(0, 429), "429: retried");
	ok(fetch_http_retryable(0, 408), "408: retried");
	ok(!fetch_http_retryable(0, 404), "404: not retried");
	ok(!fetch_http_retryable(0, 403), "403: not retried");
	ok(!fetch_http_retryable(0, 409), "409: not retried");
}

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void test_retry(void)
{
	struct fetch_retry rt;
	unsigned waits[8], n = 0;
	uint64_t t0;

	fetch_retry_init(&rt, 3, 5, 0);
	ok(fetch_retry_again(&rt, true), "attempt 1 of 3 failed: again");
	is_int(rt.done, 1, "... one made");
	ok(fetch_retry_again(&rt, true), "attempt 2 of 3 failed: again");
	ok(!fetch_retry_again(&rt, true), "attempt 3 of 3 failed: stop");
	is_int(rt.done, 3, "... three made");

	fetch_retry_init(&rt, 3, 5, 0);
	ok(!fetch_retry_again(&rt, false), "not retryable: stop after one");
	fetch_retry_init(&rt, 0, 5, 0);
	ok(!fetch_retry_again(&rt, true), "0 attempts count as 1");

	/* the waits double, without a ceiling: 2 4 8 16 */
	fetch_retry_init(&rt, 5, 2, 0);
	t0 = mono_ms();
	while (fetch_retry_again(&rt, true)) {
		waits[n++] = rt.wait_ms;
		fetch_retry_wait(&rt);
	}
	is_int(n, 4, "5 attempts: 4 waits");
	ok(waits[0] == 2 && waits[1] == 4 && waits[2] == 8 && waits[3] == 16, "2, 4, 8, 16 ms");
	ok(mono_ms() - t0 >= 2 + 4 + 8 + 16, "... slept at least 30 ms");

	/* with a ceiling: 3 5 5 (upload.c's min(2 x wait, 120 s) in small) */
	fetch_retry_init(&rt, 4, 3, 5);
	n = 0;
	while (fetch_retry_again(&rt, true)) {
		waits[n++] = rt.wait_ms;
		fetch_retry_wait(&rt);
	}
	ok(n == 3 && waits[0] == 3 && waits[1] == 5 && waits[2] == 5, "3, 5, 5 ms");
}

/* The proxy argument: a URL, "" for DIRECT, NULL for the environment's. */
static void test_proxy(const struct fetch_http_conf *conf)
{
	char proxy[64], url[128];
	long status;
	int cc;

	snprintf(proxy, sizeof(proxy), "http://127.0.0.1:%u", port);
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/d", port);
	cc = get_via(conf, NULL, "http://origin.invalid/a", proxy, &status);
	ok(cc == CURLE_OK && status == 200, "a GET through a proxy");
	ok(strstr(request, "GET http://origin.invalid/a HTTP/1.1\r\n") != NULL,
		"... asks the proxy for the absolute URL");
	setenv("no_proxy", "127.0.0.1,origin.invalid", 1);
	cc = get_via(conf, NULL, "http://origin.invalid/b", proxy, &status);
	ok(cc == CURLE_OK && strstr(request, "GET http://origin.invalid/b ") != NULL,
		"the chosen proxy wins over no_proxy of the environment");
	unsetenv("no_proxy");
	setenv("http_proxy", proxy, 1);
	cc = get_via(conf, NULL, url, NULL, &status);
	ok(cc == CURLE_OK && strstr(request, "GET http://127.0.0.1:") != NULL,
		"no proxy chosen: the environment's http_proxy");
	cc = get_via(conf, NULL, url, "", &status);
	ok(cc == CURLE_OK && strstr(request, "GET /d HTTP/1.1\r\n") != NULL,
		"DIRECT (\"\"): no proxy, whatever the environment says");
	unsetenv("http_proxy");
}

static void test_setup(void)
{
	struct fetch_http_conf conf = {0};
	struct curl_slist *h = curl_slist_append(NULL, "X-Test: yes");
	char errbuf[CURL_ERROR_SIZE];
	CURL *c = curl_easy_init();
	long status;
	int cc;

	curl_easy_cleanup(c);

	answer = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
	test_proxy(&conf);
	cc = get(&conf, "/a", &status);
	ok(cc == CURLE_OK && status == 200, "a GET with the defaults");
	ok(strstr(request, "GET /a HTTP/1.1\r\n") != NULL, "... of the URL");
	ok(strstr(request, "User-Agent: artifactfs/" ARTIFACTFS_VERSION " libcurl/") != NULL,
		"... the default user agent");

	conf.user_agent = "artifactctl/" ARTIFACTFS_VERSION;
	conf.headers = h;
	conf.connect_timeout = 30;
	conf.low_speed_limit = 1;
	conf.low_speed_time = 60;
	conf.timeout = 60;
	cc = get(&conf, "/b", &status);
	ok(cc == CURLE_OK && status == 200, "a GET with settings");
	ok(strstr(request, "User-Agent: artifactctl/" ARTIFACTFS_VERSION "\r\n") != NULL,
		"... the caller's user agent");
	ok(strstr(request, "X-Test: yes\r\n") != NULL, "... the caller's headers");

	answer = "HTTP/1.1 302 Found\r\nLocation: /c\r\nContent-Length: 0\r\n"
		 "Connection: close\r\n\r\n";
	requests = 0;
	cc = get(&conf, "/b", &status);
	ok(cc == CURLE_OK && status == 302 && requests == 1, "redirects not followed unless asked");
	conf.follow_redirects = true;
	answer = "HTTP/1.1 302 Found\r\nLocation: /b\r\nContent-Length: 0\r\n"
		 "Connection: close\r\n\r\n";
	requests = 0;
	cc = get(&conf, "/b", &status);
	is_int(fetch_curl_errno(cc, NULL), -ELOOP, "followed, up to a limit");
	is_int(requests, FETCH_HTTP_MAX_REDIRS + 1, "... of %ld redirects", FETCH_HTTP_MAX_REDIRS);
	answer = "HTTP/1.1 302 Found\r\nLocation: file:///etc/hostname\r\nContent-Length: 0\r\n"
		 "Connection: close\r\n\r\n";
	cc = get(&conf, "/b", &status);
	is_int(fetch_curl_errno(cc, NULL), -EPROTONOSUPPORT, "never redirected to file://");

	c = curl_easy_init();
	ok(fetch_http_setup(c, &conf, "file:///etc/hostname", NULL, errbuf) == 0 &&
			curl_easy_perform(c) == CURLE_UNSUPPORTED_PROTOCOL,
		"file:// refused");
	curl_easy_cleanup(c);
	curl_slist_free_all(h);
}

int main(void)
{
	test_errno();
	test_retryable();
	test_proxy_fault();
	test_retry();
	if (fetch_global_init() == 0 && server_start() == 0)
		test_setup();
	else
		ok(0, "libcurl and a server on 127.0.0.1");
	return tap_done();
}
