/*
 * http.c - the HTTP transport shared by downloads and uploads (http.h):
 * libcurl's process setup, easy-handle options, errno classes, retries
 */
#include "config.h"

#include "fetch/http.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* --- process setup --------------------------------------------------------------- */

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static int global_rc;

static void global_init_once(void)
{
	global_rc = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -ENOMEM;
}

int fetch_global_init(void)
{
	pthread_once(&global_once, global_init_once);
	return global_rc;
}

void fetch_global_cleanup(void)
{
	if (global_rc == 0)
		curl_global_cleanup();
}

/* --- errno classes ---------------------------------------------------------------- */

const char *fetch_http_reason(long code)
{
	static const struct {
		long code;
		const char *text;
	} reasons[] = {
		{400, "Bad Request"},
		{401, "Unauthorized"},
		{402, "Payment Required"},
		{403, "Forbidden"},
		{404, "Not Found"},
		{405, "Method Not Allowed"},
		{406, "Not Acceptable"},
		{407, "Proxy Authentication Required"},
		{408, "Request Timeout"},
		{409, "Conflict"},
		{410, "Gone"},
		{411, "Length Required"},
		{412, "Precondition Failed"},
		{413, "Content Too Large"},
		{414, "URI Too Long"},
		{415, "Unsupported Media Type"},
		{416, "Range Not Satisfiable"},
		{417, "Expectation Failed"},
		{421, "Misdirected Request"},
		{425, "Too Early"},
		{429, "Too Many Requests"},
		{451, "Unavailable For Legal Reasons"},
		{500, "Internal Server Error"},
		{501, "Not Implemented"},
		{502, "Bad Gateway"},
		{503, "Service Unavailable"},
		{504, "Gateway Timeout"},
		{505, "HTTP Version Not Supported"},
		{507, "Insufficient Storage"},
		{511, "Network Authentication Required"},
	};
	size_t i;

	for (i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++)
		if (reasons[i].code == code)
			return reasons[i].text;
	return NULL;
}

/*
 * One errno per HTTP failure class (fetch.h).  Retried: 408, 425, 429 and
 * 5xx, the statuses a later attempt can change; not 404/410 (the brief and
 * Julia's users agree a missing file stays missing), nor 401/403/407 (S3
 * answers 403 for a missing key) nor the other 4xx.
 */
int fetch_http_errno(long code, bool *retryable)
{
	if (retryable)
		*retryable = code == 408 || code == 425 || code == 429 || code >= 500;
	if (code == 404 || code == 410)
		return -ENOENT;
	if (code == 401 || code == 403 || code == 407)
		return -EACCES;
	return -EREMOTEIO;
}

int fetch_curl_errno(int code, bool *retryable)
{
	bool again;

	if (!retryable)
		retryable = &again;
	*retryable = true;
	switch ((CURLcode)code) {
	case CURLE_OK:
		return 0;
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
		return -EHOSTUNREACH;
	case CURLE_COULDNT_CONNECT:
		return -ECONNREFUSED;
	case CURLE_OPERATION_TIMEDOUT:
		return -ETIMEDOUT;
	case CURLE_PARTIAL_FILE:
		return -EPIPE;
	case CURLE_RECV_ERROR:
	case CURLE_SEND_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
	case CURLE_WEIRD_SERVER_REPLY:
		return -ECONNRESET;
	case CURLE_SSL_CONNECT_ERROR:
		return -EKEYREJECTED;
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_CRL_BADFILE:
		*retryable = false;
		return -EKEYREJECTED;
	case CURLE_TOO_MANY_REDIRECTS:
		*retryable = false;
		return -ELOOP;
	case CURLE_UNSUPPORTED_PROTOCOL:
		*retryable = false;
		return -EPROTONOSUPPORT;
	case CURLE_URL_MALFORMAT:
		*retryable = false;
		return -EINVAL;
	case CURLE_OUT_OF_MEMORY:
		*retryable = false;
		return -ENOMEM;
	case CURLE_ABORTED_BY_CALLBACK:
		*retryable = false;
		return -ECANCELED;
	case CURLE_REMOTE_FILE_NOT_FOUND:
	case CURLE_FILE_COULDNT_READ_FILE:
		*retryable = false;
		return -ENOENT;
	case CURLE_REMOTE_ACCESS_DENIED:
		*retryable = false;
		return -EACCES;
	default:
		return -EIO;
	}
}

int fetch_http_describe(long status, const char *reason, char *out, size_t size)
{
	if (!reason || !*reason)
		reason = fetch_http_reason(status);
	if (!reason)
		reason = "";
	return snprintf(out, size, "HTTP %ld%s%s", status, *reason ? " " : "", reason);
}

bool fetch_http_retryable(int err, long status)
{
	bool again;

	if (status >= 400) {
		fetch_http_errno(status, &again);
		return again;
	}
	return err == -ECONNREFUSED || err == -ECONNRESET || err == -ETIMEDOUT || err == -EPIPE;
}

bool fetch_proxy_fault(int err, long status, CURLcode result)
{
	if (status)
		return status == 502 || status == 503 || status == 504;
#if LIBCURL_VERSION_NUM >= 0x074900
	if (result == CURLE_PROXY)
		return true;
#endif
	return err == -ECONNREFUSED || err == -ETIMEDOUT || err == -EHOSTUNREACH ||
	       err == -ECONNRESET || err == -EPIPE;
}

/* --- easy handles ------------------------------------------------------------------ */

int fetch_http_setup(CURL *easy, const struct fetch_http_conf *conf, const char *url,
	const char *proxy, char *errbuf)
{
	const curl_version_info_data *vi;
	char ua[128];
	CURLcode c = CURLE_OK;

	if (!conf->user_agent) {
		vi = curl_version_info(CURLVERSION_NOW);
		snprintf(ua, sizeof(ua), "artifactfs/%s libcurl/%s", ARTIFACTFS_VERSION,
			vi->version);
	}
#define SET(opt, val)                                                                              \
	do {                                                                                       \
		if (c == CURLE_OK)                                                                 \
			c = curl_easy_setopt(easy, opt, val);                                      \
	} while (0)
	SET(CURLOPT_ERRORBUFFER, errbuf);
	SET(CURLOPT_URL, url);
	SET(CURLOPT_NOSIGNAL, 1L);
	/*
	 * http and https only, also after a redirect: file:// URLs are read by
	 * download.c's fd stream, and a server must never redirect us into the
	 * local file system (curl's own default refuses FILE on redirect for
	 * that reason).
	 */
#if LIBCURL_VERSION_NUM >= 0x075500
	SET(CURLOPT_PROTOCOLS_STR, "http,https");
	SET(CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
#else
	SET(CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
	SET(CURLOPT_REDIR_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
	if (conf->follow_redirects) {
		SET(CURLOPT_FOLLOWLOCATION, 1L);
		SET(CURLOPT_MAXREDIRS, FETCH_HTTP_MAX_REDIRS);
	}
	SET(CURLOPT_USERAGENT, conf->user_agent ? conf->user_agent : ua);
	if (conf->connect_timeout > 0)
		SET(CURLOPT_CONNECTTIMEOUT, conf->connect_timeout);
	if (conf->low_speed_time > 0 && conf->low_speed_limit > 0) {
		SET(CURLOPT_LOW_SPEED_LIMIT, conf->low_speed_limit);
		SET(CURLOPT_LOW_SPEED_TIME, conf->low_speed_time);
	}
	if (conf->timeout > 0)
		SET(CURLOPT_TIMEOUT, conf->timeout);
	if (conf->ca_file)
		SET(CURLOPT_CAINFO, conf->ca_file);
	if (conf->headers)
		SET(CURLOPT_HTTPHEADER, conf->headers);
	/*
	 * Proxies: without one, libcurl reads http_proxy, https_proxy and
	 * no_proxy itself.  A chosen proxy (or "" for DIRECT, which libcurl
	 * takes as "no proxy, whatever the environment says") replaces them,
	 * no_proxy included: the site's list applies to every URL.
	 */
	if (proxy) {
		SET(CURLOPT_PROXY, proxy);
		SET(CURLOPT_NOPROXY, *proxy ? "" : NULL);
	}
#undef SET
	if (c != CURLE_OK) {
		snprintf(errbuf, CURL_ERROR_SIZE, "%s", curl_easy_strerror(c));
		return c == CURLE_OUT_OF_MEMORY ? -ENOMEM : -EINVAL;
	}
	return 0;
}

/* --- retries ----------------------------------------------------------------------- */

void fetch_sleep_ms(unsigned ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

void fetch_retry_init(
	struct fetch_retry *rt, unsigned attempts, unsigned delay_ms, unsigned max_delay_ms)
{
	rt->attempts = attempts ? attempts : 1;
	rt->max_delay_ms = max_delay_ms;
	rt->done = 0;
	rt->wait_ms = delay_ms;
}

bool fetch_retry_again(struct fetch_retry *rt, bool retryable)
{
	rt->done++;
	return retryable && rt->done < rt->attempts;
}

void fetch_retry_wait(struct fetch_retry *rt)
{
	fetch_sleep_ms(rt->wait_ms);
	rt->wait_ms = rt->wait_ms > UINT_MAX / 2 ? UINT_MAX : rt->wait_ms * 2;
	if (rt->max_delay_ms && rt->wait_ms > rt->max_delay_ms)
		rt->wait_ms = rt->max_delay_ms;
}
