/*
 * fuzz-proxy.c - the proxy= grammar (fetch/proxy.h): any bytes, as a
 * string; an accepted list has 1 to FETCH_PROXY_MAX members, each DIRECT
 * or a URL with a scheme, and parses again, to the same members, from the
 * list written back; a refused one has a message.  A plan over an accepted
 * list holds every member once.
 */
#include "tests/fuzz/fuzz.h"

#include "fetch/proxy.h"

#include <stdbool.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct fetch_proxy_conf conf = {.shard = true};
	struct fetch_proxies *p = NULL, *q = NULL;
	struct fetch_proxy_plan plan;
	bool seen[FETCH_PROXY_MAX] = {false};
	char *spec, *back, *msg = NULL, *o;
	size_t i, n;

	spec = malloc(size + 1);
	if (!spec)
		return 0;
	memcpy(spec, data, size);
	spec[size] = '\0';
	if (fetch_proxies_parse(spec, &conf, &p, &msg) < 0) {
		FUZZ_CHECK(msg != NULL && *msg != '\0');
		FUZZ_CHECK(p == NULL);
		goto out;
	}
	n = fetch_proxies_count(p);
	FUZZ_CHECK(n >= 1 && n <= FETCH_PROXY_MAX);
	fetch_proxies_plan(p, spec, &plan);
	FUZZ_CHECK(plan.n == n);
	for (i = 0; i < plan.n; i++) {
		FUZZ_CHECK(plan.id[i] < n && !seen[plan.id[i]]);
		seen[plan.id[i]] = true;
	}
	/* written back with one member per group, it parses to the same members */
	back = malloc(size * 2 + n * 16 + 1);
	if (!back)
		goto out;
	o = back;
	for (i = 0; i < n; i++) {
		const char *name = fetch_proxies_name(p, (unsigned)i);

		FUZZ_CHECK(fetch_proxies_direct(p, (unsigned)i) ? strcmp(name, "DIRECT") == 0
								: strstr(name, "://") != NULL);
		o += sprintf(o, "%s%s", i ? ";" : "", name);
	}
	FUZZ_CHECK(fetch_proxies_parse(back, &conf, &q, NULL) == 0);
	FUZZ_CHECK(fetch_proxies_count(q) == n);
	for (i = 0; i < n; i++)
		FUZZ_CHECK(strcmp(fetch_proxies_url(p, (unsigned)i),
				   fetch_proxies_url(q, (unsigned)i)) == 0);
	free(back);
out:
	fetch_proxies_free(q);
	fetch_proxies_free(p);
	free(msg);
	free(spec);
	return 0;
}
