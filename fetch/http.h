/*
 * http.h - the HTTP transport of the pipeline, shared by downloads
 * (download.c) and the publishing library (tools/publish/upload*.c)
 *
 * One place for what every libcurl transfer of the project has in common:
 *   - fetch_http_setup(): an easy handle's options (URL, protocols, user
 *     agent, CA file, timeouts, the low-speed abort, redirects, headers,
 *     no signals, the error buffer; the proxy of the attempt, or the
 *     environment's);
 *   - the errno classes of libcurl codes and HTTP statuses
 *     (fetch_curl_errno(), fetch_http_errno(), fetch_http_reason(),
 *     declared in fetch.h so that callers need not include curl.h) and
 *     fetch_http_describe() for the "HTTP 404 Not Found" of messages;
 *   - the retry policy: struct fetch_retry, a number of attempts with a
 *     doubling delay, and fetch_http_retryable() for request-level callers.
 * What each caller adds stays with it: the write, read and header
 * callbacks, FAILONERROR and the buffer size (download.c), methods, bodies
 * and authentication (upload.c).
 *
 * Part of the pipeline half of fetch/ (fetch.h): it includes libcurl, so
 * no file of the model may include it.
 */
#ifndef ARTIFACTFS_FETCH_HTTP_H
#define ARTIFACTFS_FETCH_HTTP_H

#include "fetch/fetch.h"

#include <curl/curl.h>
#include <stdbool.h>
#include <stddef.h>

#define FETCH_HTTP_MAX_REDIRS 10L /* redirects followed when conf.follow_redirects */

/*
 * The settings of a transfer, owned by the caller and only read by
 * fetch_http_setup(); the strings and the header list must live until the
 * transfer is over (libcurl copies strings but not the header list).
 */
struct fetch_http_conf {
	const char *user_agent;	    /* NULL: "artifactfs/VERSION libcurl/VERSION" */
	const char *ca_file;	    /* CA bundle (PEM) for https; NULL: libcurl's default */
	long connect_timeout;	    /* seconds; <= 0: libcurl's default */
	long low_speed_limit;	    /* bytes/s under which a transfer is too slow ... */
	long low_speed_time;	    /* ... for this many seconds; either <= 0: never abort */
	long timeout;		    /* seconds for the whole transfer; <= 0: none */
	bool follow_redirects;	    /* up to FETCH_HTTP_MAX_REDIRS, to http(s) only */
	struct curl_slist *headers; /* extra request headers; NULL: none */
};

/*
 * fetch_http_setup - set the options common to every transfer on the easy
 * handle easy (fresh, or after curl_easy_reset()) for url with conf:
 * CURLOPT_URL, NOSIGNAL, ERRORBUFFER (errbuf), PROTOCOLS and
 * REDIR_PROTOCOLS (http and https only, so that no server can redirect us
 * into the local file system), USERAGENT, CONNECTTIMEOUT, LOW_SPEED_LIMIT
 * and LOW_SPEED_TIME, TIMEOUT, CAINFO, FOLLOWLOCATION with MAXREDIRS, and
 * HTTPHEADER, each only where conf asks for it.
 *
 * proxy is the proxy chosen for this attempt (proxy.h): a URL such as
 * "http://squid1:3128" (CURLOPT_PROXY, and no_proxy of the environment
 * is ignored), or "" for DIRECT (no proxy at all, even when the
 * environment names one); NULL: libcurl takes the proxy from http_proxy,
 * https_proxy and no_proxy in the environment, as it always has.
 *
 * errbuf (CURL_ERROR_SIZE bytes) must live as long as the handle's
 * transfer: libcurl writes its message there.  Returns 0; -ENOMEM or
 * -EINVAL when libcurl refuses an option (errbuf then holds libcurl's
 * text).  Thread-safe for distinct handles.
 */
int fetch_http_setup(CURL *easy, const struct fetch_http_conf *conf, const char *url,
	const char *proxy, char *errbuf);

/*
 * fetch_pkg_headers - append to *list the headers Pkg sends to its server
 * server (spec §6): Julia-Pkg-Protocol, Julia-Pkg-Server, Julia-Version and
 * Julia-System (when o sets them), Julia-CI-Variables, Julia-Interactive,
 * and one Julia-<Words> for each non-empty JULIA_PKG_SERVER_<WORDS> of the
 * environment.  The caller frees *list (curl_slist_free_all), also after a
 * failure.  Returns 0 or -ENOMEM.  Thread-safe (reads the environment).
 */
int fetch_pkg_headers(struct curl_slist **list, const struct fetch_options *o, const char *server);

/*
 * fetch_http_describe - "HTTP 404 Not Found" for status into out (size
 * bytes, NUL-terminated, truncated): reason is the phrase of the status
 * line, or NULL or "" for fetch_http_reason()'s, and a status we know no
 * phrase for is printed alone ("HTTP 499").  Returns what snprintf(3)
 * returns.  Thread-safe.
 */
int fetch_http_describe(long status, const char *reason, char *out, size_t size);

/*
 * fetch_http_retryable - whether a failed request may succeed when sent
 * again, for callers that see a transfer's -errno (err, from
 * fetch_curl_errno()) or an HTTP status >= 400 (status, else 0): a status
 * when fetch_http_errno() calls it retryable (408, 425, 429, 5xx); a
 * transfer error when the connection was refused, reset, broken or timed
 * out (-ECONNREFUSED, -ECONNRESET, -EPIPE, -ETIMEDOUT).  Pure; thread-safe.
 */
bool fetch_http_retryable(int err, long status);

/*
 * fetch_proxy_fault - whether a failed transfer through a proxy is the
 * proxy's failure, so that the same URL may succeed through another one:
 * an HTTP status (status, else 0) of 502, 503 or 504; CURLE_PROXY
 * (result, else CURLE_OK); or a transfer error err (fetch_curl_errno()) of
 * a connection refused, reset or broken, a host unreachable, a timeout.
 * Any other status is the origin's answer.  The one classification of
 * fetch_stream_proxy_fault() and the Pkg server's HEAD.  Pure; thread-safe.
 */
bool fetch_proxy_fault(int err, long status, CURLcode result);

/*
 * The retry policy: up to attempts attempts, the first wait delay_ms and
 * each later one twice the one before, at most max_delay_ms (0: no
 * ceiling; the doubling stops at UINT_MAX).  Used as
 *
 *	fetch_retry_init(&rt, attempts, delay_ms, 0);
 *	for (;;) {
 *		r = attempt();
 *		if (r == 0 || !fetch_retry_again(&rt, retryable))
 *			break;
 *		(log: attempt rt.done failed, next in rt.wait_ms)
 *		fetch_retry_wait(&rt);
 *	}
 *
 * Embedded, no resources: nothing to release.  Not shared between threads.
 */
struct fetch_retry {
	unsigned attempts;     /* attempts in all; 0 counts as 1 */
	unsigned max_delay_ms; /* ceiling of the wait; 0: none */
	unsigned done;	       /* attempts made so far */
	unsigned wait_ms;      /* the wait before the next attempt */
};

/* fetch_retry_init - a policy of attempts attempts (0: 1) starting at delay_ms. */
void fetch_retry_init(
	struct fetch_retry *rt, unsigned attempts, unsigned delay_ms, unsigned max_delay_ms);

/*
 * fetch_retry_again - count the attempt just made, which failed; true when
 * another should follow: the failure was retryable and attempts are left.
 */
bool fetch_retry_again(struct fetch_retry *rt, bool retryable);

/* fetch_retry_wait - sleep rt->wait_ms (through EINTR), then double it. */
void fetch_retry_wait(struct fetch_retry *rt);

/* fetch_sleep_ms - sleep for ms milliseconds, through EINTR. */
void fetch_sleep_ms(unsigned ms);

#endif
