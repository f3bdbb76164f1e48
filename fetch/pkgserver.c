/*
 * pkgserver.c - one bounded HEAD /artifact/<hash> to a Pkg server
 * (pkgserver.h)
 */
#include "fetch/pkgserver.h"
#include "fetch/http.h"
#include "fetch/proxy.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * One HEAD of url through proxy (NULL: as libcurl's environment says, ""
 * DIRECT).  *status is the HTTP status, 0 when no answer came; *proxy_fault
 * tells that the proxy, not the server, failed: it refused or timed out,
 * or answered 502, 503 or 504 (fetch_proxy_fault()).
 */
static int head_once(const struct fetch_http_conf *conf, const char *url, const char *proxy,
	char *errbuf, long *status, bool *proxy_fault)
{
	CURL *easy = curl_easy_init();
	bool retryable;
	CURLcode c;
	int r;

	*status = 0;
	*proxy_fault = false;
	errbuf[0] = '\0';
	if (!easy)
		return -ENOMEM;
	r = fetch_http_setup(easy, conf, url, proxy, errbuf);
	if (r < 0)
		goto out;
	if (curl_easy_setopt(easy, CURLOPT_NOBODY, 1L) != CURLE_OK) {
		r = -ENOMEM;
		goto out;
	}
	c = curl_easy_perform(easy);
	if (c != CURLE_OK) {
		r = fetch_curl_errno(c, &retryable);
		if (!errbuf[0])
			snprintf(errbuf, CURL_ERROR_SIZE, "%s", curl_easy_strerror(c));
		*proxy_fault = proxy && *proxy && fetch_proxy_fault(r, 0, c);
		goto out;
	}
	curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, status);
	*proxy_fault = proxy && *proxy && fetch_proxy_fault(0, *status, CURLE_OK);
	r = 0;
out:
	curl_easy_cleanup(easy);
	return r;
}

int fetch_pkgserver_head(const struct fetch_options *o, const char *hash, char **errmsg)
{
	struct fetch_http_conf conf = {
		.ca_file = o->ca_file,
		.timeout = FETCH_PKGSERVER_HEAD_TIMEOUT,
		.follow_redirects = true,
	};
	char errbuf[CURL_ERROR_SIZE] = "", what[128];
	struct fetch_proxy_plan plan = {.n = 1};
	struct curl_slist *headers = NULL;
	char *server = NULL, *url = NULL;
	const char *proxy = NULL;
	bool retryable, proxy_fault = false;
	long status = 0;
	size_t k;
	int r;

	if (errmsg)
		*errmsg = NULL;
	conf.connect_timeout = o->connect_timeout > 0 && o->connect_timeout < conf.timeout
				       ? o->connect_timeout
				       : conf.timeout;
	r = fetch_pkg_server_url(o->pkg_server, &server);
	if (r < 0)
		return r;
	if (!server)
		return -ENOMEDIUM;
	r = -ENOMEM;
	if (asprintf(&url, "%s/artifact/%s", server, hash) < 0) {
		url = NULL;
		goto out;
	}
	if (!(o->flags & FETCH_NO_PKG_HEADERS)) {
		r = fetch_pkg_headers(&headers, o, server);
		if (r < 0)
			goto out;
		conf.headers = headers;
	}
	/* The site's proxies, in the order the downloads of this hash use. */
	if (o->proxies)
		fetch_proxies_plan(o->proxies, hash, &plan);
	for (k = 0; k < plan.n; k++) {
		proxy = o->proxies ? fetch_proxies_url(o->proxies, plan.id[k]) : NULL;
		r = head_once(&conf, url, proxy, errbuf, &status, &proxy_fault);
		if (!proxy_fault)
			break;
		fetch_proxies_failed(o->proxies, plan.id[k]);
	}
	if (r == -ENOMEM)
		goto out;
	if (r < 0)
		goto fail;
	if (o->proxies && k < plan.n)
		fetch_proxies_ok(o->proxies, plan.id[k]);
	if (status >= 200 && status < 300) {
		r = 1;
	} else if (status == 404 || status == 410) {
		r = 0;
	} else {
		r = fetch_http_errno(status, &retryable);
		if (r >= 0)
			r = -EPROTO;
		fetch_http_describe(status, NULL, what, sizeof(what));
		snprintf(errbuf, sizeof(errbuf), "%s", what);
		goto fail;
	}
	goto out;
fail:
	if (errmsg &&
		asprintf(errmsg, "HEAD %s%s%s%s: %s", url, proxy ? " through proxy '" : "",
			proxy ? (*proxy ? proxy : "DIRECT") : "", proxy ? "'" : "", errbuf) < 0)
		*errmsg = NULL;
out:
	curl_slist_free_all(headers);
	free(url);
	free(server);
	return r;
}
