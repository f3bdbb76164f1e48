/*
 * test-probe.c - fetch/probe.c's pure half: the host of a URL and the plan
 * of one probe per host (the requests themselves: t0598-probe.sh)
 */
#include "fetch/probe.h"
#include "tests/tap.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static void test_host(void)
{
	static const struct {
		const char *url, *want;	/* want NULL: -EINVAL */
	} cases[] = {
		{ "https://example.org/a/b.tar.gz", "https://example.org" },
		{ "HTTP://Mirror:8080/x?y#z", "http://Mirror:8080" },
		{ "https://user:pw@host.example/x", "https://host.example" },
		{ "http://[::1]:81/a", "http://[::1]:81" },
		{ "https://host", "https://host" },
		{ "host/x", NULL }, { "://host/x", NULL }, { "ht tp://h/x", NULL },
	};
	size_t i;
	char *h;
	int bad = 0, r;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		h = NULL;
		r = fetch_probe_host(cases[i].url, &h);
		if (cases[i].want ? r != 0 || strcmp(h, cases[i].want) != 0 : r != -EINVAL) {
			diag("'%s': %d '%s'", cases[i].url, r, h ? h : "");
			bad++;
		}
		free(h);
	}
	is_int(bad, 0, "the host of a URL: scheme lowercased, userinfo and path dropped");
}

static void test_plan(void)
{
	static const char *const urls[] = {
		"https://b.example/1.tar.gz", "https://a.example/1.tar.gz", "no-scheme",
		"https://b.example/2.tar.gz", "http://b.example/3.tar.gz",
	};
	struct fetch_probe *v = NULL;
	size_t n = 0;

	is_int(fetch_probe_plan(urls, 5, &v, &n), 0, "a plan");
	is_int((int)n, 3, "... one probe per host (scheme and authority), no scheme skipped");
	ok(n == 3 && strcmp(v[0].url, urls[0]) == 0 && strcmp(v[1].url, urls[1]) == 0 &&
	   strcmp(v[2].url, urls[4]) == 0, "... the first URL of each host, in order");
	ok(n == 3 && v[0].range == -1 && v[0].status == 0 && v[0].err == 0, "... unprobed");
	fetch_probe_free(v, n);
	is_int(fetch_probe_plan(urls, 0, &v, &n), 0, "an empty plan");
	is_int((int)n, 0, "... has no probe");
	fetch_probe_free(v, n);
	fetch_probe_free(NULL, 0);
}

int main(void)
{
	test_host();
	test_plan();
	return tap_done();
}
