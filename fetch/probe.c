/*
 * probe.c - one bounded request to each mirror host (probe.h)
 */
#include "fetch/probe.h"
#include "fetch/http.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PROBE_MAX_BODY 65536	/* bytes read of a 200 before the transfer is cut */

int fetch_probe_host(const char *url, char **ret)
{
	const char *sep = strstr(url, "://"), *auth, *end, *at;
	char *h;
	size_t i;

	if (!sep || sep == url)
		return -EINVAL;
	for (i = 0; url + i < sep; i++)
		if (!isalnum((unsigned char)url[i]) && !strchr("+-.", url[i]))
			return -EINVAL;
	auth = sep + 3;
	end = auth + strcspn(auth, "/?#");
	at = memchr(auth, '@', (size_t)(end - auth));
	if (at)
		auth = at + 1;
	if (asprintf(&h, "%.*s://%.*s", (int)(sep - url), url, (int)(end - auth), auth) < 0)
		return -ENOMEM;
	for (i = 0; h[i] != ':'; i++)
		h[i] = (char)tolower((unsigned char)h[i]);
	*ret = h;
	return 0;
}

void fetch_probe_free(struct fetch_probe *v, size_t n)
{
	size_t i;

	if (!v)
		return;
	for (i = 0; i < n; i++) {
		free(v[i].host);
		free(v[i].url);
	}
	free(v);
}

int fetch_probe_plan(const char *const *urls, size_t n, struct fetch_probe **ret, size_t *ret_n)
{
	struct fetch_probe *v = NULL, *nv;
	size_t i, k, m = 0;
	char *host;
	int r;

	for (i = 0; i < n; i++) {
		r = fetch_probe_host(urls[i], &host);
		if (r == -EINVAL)
			continue;
		if (r < 0)
			goto fail;
		for (k = 0; k < m && strcmp(v[k].host, host) != 0; k++)
			;
		if (k < m) {
			free(host);
			continue;
		}
		nv = realloc(v, (m + 1) * sizeof(*v));
		if (!nv) {
			free(host);
			goto fail;
		}
		v = nv;
		memset(&v[m], 0, sizeof(v[m]));
		v[m].host = host;
		v[m].range = -1;
		v[m].url = strdup(urls[i]);
		m++;
		if (!v[m - 1].url)
			goto fail;
	}
	*ret = v;
	*ret_n = m;
	return 0;
fail:
	fetch_probe_free(v, m);
	return -ENOMEM;
}

/* Take up to PROBE_MAX_BODY bytes, then stop the transfer (a server that ignores Range). */
static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
	size_t *got = arg;

	*got += size * n;
	return *got > PROBE_MAX_BODY ? 0 : size * n;
}

int fetch_probe_run(struct fetch_probe *p, double timeout_s, const char *ca_file)
{
	struct fetch_http_conf conf = { 0 };
	char errbuf[CURL_ERROR_SIZE] = "";
	double ttfb = 0;
	size_t got = 0;
	CURLcode c;
	CURL *easy;
	int r;

	p->err = 0;
	p->cause[0] = '\0';
	p->status = 0;
	p->range = -1;
	p->latency_ms = 0;
	easy = curl_easy_init();
	if (!easy) {
		p->err = -ENOMEM;
		snprintf(p->cause, sizeof(p->cause), "%s", strerror(ENOMEM));
		return p->err;
	}
	conf.ca_file = ca_file;
	conf.connect_timeout = timeout_s >= 1 ? (long)timeout_s : 1;
	conf.timeout = conf.connect_timeout;
	conf.follow_redirects = true;
	r = fetch_http_setup(easy, &conf, p->url, NULL, errbuf);
	if (r < 0) {
		p->err = r;
		snprintf(p->cause, sizeof(p->cause), "%s", *errbuf ? errbuf : strerror(-r));
		goto out;
	}
	curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, (long)(timeout_s * 1000));
	curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, (long)(timeout_s * 1000));
	curl_easy_setopt(easy, CURLOPT_RANGE, "0-0");
	curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(easy, CURLOPT_WRITEDATA, &got);
	c = curl_easy_perform(easy);
	curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &p->status);
	curl_easy_getinfo(easy, CURLINFO_STARTTRANSFER_TIME, &ttfb);
	p->latency_ms = ttfb * 1000;
	if (p->status == 0 || (c != CURLE_OK && c != CURLE_WRITE_ERROR)) {
		/* No answer, or the transfer broke before the answer's first bytes were in. */
		if (p->status == 0 || got == 0) {
			p->err = c == CURLE_OK ? -EIO : fetch_curl_errno((int)c, NULL);
			snprintf(p->cause, sizeof(p->cause), "%s",
				 *errbuf ? errbuf : curl_easy_strerror(c));
			p->status = 0;
			goto out;
		}
	}
	if (p->status == 206)
		p->range = 1;
	else if (p->status == 200)
		p->range = 0;
	else if (p->status >= 400)
		fetch_http_describe(p->status, NULL, p->cause, sizeof(p->cause));
out:
	curl_easy_cleanup(easy);
	return p->err;
}
