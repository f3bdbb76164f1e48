/*
 * pkgserver.c - one bounded HEAD /artifact/<hash> to a Pkg server
 * (pkgserver.h)
 */
#include "fetch/pkgserver.h"
#include "fetch/http.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int fetch_pkgserver_head(const struct fetch_options *o, const char *hash, char **errmsg)
{
	struct fetch_http_conf conf = {
		.ca_file = o->ca_file,
		.timeout = FETCH_PKGSERVER_HEAD_TIMEOUT,
		.follow_redirects = true,
	};
	char errbuf[CURL_ERROR_SIZE] = "", what[128];
	struct curl_slist *headers = NULL;
	char *server = NULL, *url = NULL;
	CURL *easy = NULL;
	CURLcode c;
	long status = 0;
	bool retryable;
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
	easy = curl_easy_init();
	if (!easy)
		goto out;
	if (!(o->flags & FETCH_NO_PKG_HEADERS)) {
		r = fetch_pkg_headers(&headers, o, server);
		if (r < 0)
			goto out;
		conf.headers = headers;
	}
	r = fetch_http_setup(easy, &conf, url, NULL, errbuf);
	if (r < 0)
		goto fail;
	if (curl_easy_setopt(easy, CURLOPT_NOBODY, 1L) != CURLE_OK) {
		r = -ENOMEM;
		goto out;
	}
	c = curl_easy_perform(easy);
	if (c != CURLE_OK) {
		r = fetch_curl_errno(c, &retryable);
		if (!errbuf[0])
			snprintf(errbuf, sizeof(errbuf), "%s", curl_easy_strerror(c));
		goto fail;
	}
	curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
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
	if (errmsg && asprintf(errmsg, "HEAD %s: %s", url, errbuf) < 0)
		*errmsg = NULL;
out:
	if (easy)
		curl_easy_cleanup(easy);
	curl_slist_free_all(headers);
	free(url);
	free(server);
	return r;
}
