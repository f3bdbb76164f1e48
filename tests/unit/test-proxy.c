/*
 * test-proxy.c - fetch/proxy.h: the proxy= grammar, rendezvous order,
 * failover and the retry_after / reset_after memory on a fake clock
 *
 * The weights and orders are known answers computed apart from this code
 * (64-bit FNV-1a of "name\0hash" through the splitmix64 finaliser, in a
 * few lines of Python), so a change of the hash, which would move every
 * artifact of every site to another proxy, cannot pass unnoticed.
 */
#include "fetch/proxy.h"
#include "tests/tap.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static double fake_now;

static double fake_clock(void *arg)
{
	(void)arg;
	return fake_now;
}

/* Parses spec, expecting success; NULL (and a failed test) otherwise. */
static struct fetch_proxies *parse(const char *spec, const struct fetch_proxy_conf *conf)
{
	struct fetch_proxies *p = NULL;
	char *msg = NULL;
	int r = fetch_proxies_parse(spec, conf, &p, &msg);

	if (r < 0)
		diag("'%s': %s", spec, msg ? msg : "?");
	free(msg);
	return p;
}

/* The names of plan, "a b c", into out. */
static const char *plan_names(struct fetch_proxies *p, const char *hash, char *out, size_t size)
{
	struct fetch_proxy_plan plan;
	size_t i, o = 0;

	fetch_proxies_plan(p, hash, &plan);
	out[0] = '\0';
	for (i = 0; i < plan.n && o < size; i++)
		o += (size_t)snprintf(
			out + o, size - o, "%s%s", i ? " " : "", fetch_proxies_name(p, plan.id[i]));
	return out;
}

static void bad(const char *spec, const char *want)
{
	struct fetch_proxies *p = NULL;
	char *msg = NULL;
	int r = fetch_proxies_parse(spec, NULL, &p, &msg);

	ok(r == -EINVAL && !p && msg && strstr(msg, want), "'%s' refused: %s", spec,
		msg ? msg : "(no message)");
	free(msg);
}

static void test_grammar(void)
{
	struct fetch_proxies *p;

	p = parse("http://squid1:3128|http://squid2:3128;DIRECT", NULL);
	ok(p != NULL, "CernVM-FS's example parses");
	if (p) {
		is_int(fetch_proxies_count(p), 3, "... three members");
		is_str(fetch_proxies_url(p, 0), "http://squid1:3128", "... the first");
		is_str(fetch_proxies_url(p, 2), "", "... DIRECT is an empty proxy for libcurl");
		is_str(fetch_proxies_name(p, 2), "DIRECT", "... named DIRECT in messages");
		ok(fetch_proxies_direct(p, 2) && !fetch_proxies_direct(p, 0),
			"... and known as such");
		fetch_proxies_free(p);
	}
	p = parse(" squid1:3128 | [::1]:8080/ ;socks5h://10.0.0.1:1080; direct ", NULL);
	ok(p != NULL, "blanks, no scheme, IPv6, a trailing slash, socks, lowercase direct");
	if (p) {
		is_str(fetch_proxies_url(p, 0), "http://squid1:3128", "... http:// by default");
		is_str(fetch_proxies_url(p, 1), "http://[::1]:8080", "... the slash dropped");
		is_str(fetch_proxies_url(p, 2), "socks5h://10.0.0.1:1080", "... the scheme kept");
		ok(fetch_proxies_direct(p, 3), "... direct");
		fetch_proxies_free(p);
	}
	p = parse("DIRECT", NULL);
	ok(p && fetch_proxies_count(p) == 1, "DIRECT alone");
	fetch_proxies_free(p);

	bad("", "empty proxy list");
	bad("  ", "empty proxy list");
	bad("a:1|", "empty member 2 in group 1");
	bad("a:1;;b:2", "empty member 1 in group 2");
	bad(";a:1", "empty member 1 in group 1");
	bad("a:1;", "empty member 1 in group 2");
	bad("ftp://x:21", "bad proxy 'ftp://x:21' (member 1 of group 1): unsupported scheme 'ftp'");
	bad("a:1|b:0", "bad proxy 'b:0' (member 2 of group 1): the port is not a number");
	bad("a:65536", "the port is not a number from 1 to 65535");
	bad("a:", "the port is not a number");
	bad("http://", "no host name");
	bad("http://:3128", "no host name");
	bad("user:pw@proxy:3128", "credentials in a proxy URL are not supported");
	bad("a b:1", "blanks inside a member");
	bad("a:1/path", "unexpected 'p'");
	bad("[::1:3128", "malformed IPv6 address");
	bad("a:1\x01", "unexpected control character 0x01");
	bad("a:1|A:1", "appears twice");
	bad("DIRECT;direct", "'DIRECT' appears twice");
	{
		char big[FETCH_PROXY_SPEC_MAX + 2];

		memset(big, 'a', sizeof(big) - 1);
		big[sizeof(big) - 1] = '\0';
		bad(big, "more than 4096");
	}
	{
		char many[FETCH_PROXY_SPEC_MAX], *o = many;
		int i;

		for (i = 0; i <= FETCH_PROXY_MAX; i++)
			o += sprintf(o, "%sp%d:1", i ? "|" : "", i);
		bad(many, "more than 64 proxies");
	}
}

static void test_rendezvous(void)
{
	/* known answers: (hash, order of a b c) */
	static const struct {
		char digit;
		const char *order;
	} want[] = {
		{'0', "http://a:3128 http://b:3128 http://c:3128"},
		{'1', "http://b:3128 http://c:3128 http://a:3128"},
		{'2', "http://c:3128 http://b:3128 http://a:3128"},
		{'3', "http://b:3128 http://a:3128 http://c:3128"},
		{'5', "http://c:3128 http://a:3128 http://b:3128"},
		{'a', "http://a:3128 http://c:3128 http://b:3128"},
	};
	const struct fetch_proxy_conf shard = {.shard = true};
	struct fetch_proxies *p, *q, *two;
	char hash[41], got[256], again[256];
	unsigned moved = 0, kept = 0, wrong = 0, i, k;
	size_t n;

	ok(fetch_proxies_weight("http://squid1:3128", "") == 0xd8723e42d4014356ull,
		"weight of squid1 for \"\": a known answer");
	ok(fetch_proxies_weight("http://squid1:3128", "0123456789abcdef0123456789abcdef01234567") ==
			0xe4607213e7103494ull,
		"weight of squid1 for a hash: a known answer");
	p = parse("http://a:3128|http://b:3128|http://c:3128", &shard);
	q = parse("http://c:3128|http://a:3128|http://b:3128", &shard);
	if (!p || !q)
		return;
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		memset(hash, want[i].digit, 40);
		hash[40] = '\0';
		is_str(plan_names(p, hash, got, sizeof(got)), want[i].order,
			"the order for %c x 40 (a known answer)", want[i].digit);
		is_str(plan_names(q, hash, again, sizeof(again)), want[i].order,
			"... whatever the order of the members in the setting");
		is_str(plan_names(p, hash, again, sizeof(again)), got, "... and stable");
	}

	/* without c, only what c had moves */
	two = parse("http://a:3128|http://b:3128", &shard);
	for (k = 0; two && k < 300; k++) {
		char first3[64], first2[64];

		snprintf(hash, sizeof(hash), "%040x", k * 2654435761u);
		plan_names(p, hash, got, sizeof(got));
		plan_names(two, hash, again, sizeof(again));
		n = strcspn(got, " ");
		snprintf(first3, sizeof(first3), "%.*s", (int)n, got);
		snprintf(first2, sizeof(first2), "%.*s", (int)strcspn(again, " "), again);
		if (strcmp(first3, "http://c:3128") == 0) {
			moved++;
			/* c's artifacts go to their second choice */
			if (strncmp(got + n + 1, first2, strlen(first2)) != 0)
				wrong++;
		} else if (strcmp(first3, first2) == 0) {
			kept++;
		}
	}
	ok(moved > 50 && moved < 150, "c had about a third of 300 keys (%u)", moved);
	is_int(kept + moved, 300, "removing c moved no key of a or b");
	is_int(wrong, 0, "... and each key of c went to its second choice");
	fetch_proxies_free(two);
	fetch_proxies_free(p);
	fetch_proxies_free(q);
}

static void test_no_shard(void)
{
	struct fetch_proxies *p = parse("a:1|b:1|c:1;DIRECT", NULL);
	unsigned first[3] = {0}, i;
	struct fetch_proxy_plan plan;

	if (!p)
		return;
	for (i = 0; i < 300; i++) {
		fetch_proxies_plan(p, "0000000000000000000000000000000000000000", &plan);
		if (plan.n != 4 || plan.id[3] != 3) {
			ok(0, "every member, DIRECT last");
			break;
		}
		first[plan.id[0]]++;
	}
	ok(i == 300, "without shard: every member, the group's before DIRECT");
	ok(first[0] > 30 && first[1] > 30 && first[2] > 30,
		"... the load shared: each member first in some plans (%u %u %u)", first[0],
		first[1], first[2]);
	fetch_proxies_free(p);
}

static void test_failover(void)
{
	const struct fetch_proxy_conf conf = {
		.shard = true,
		.retry_after = 60,
		.reset_after = 300,
		.clock = fake_clock,
		.no_jitter = true,
	};
	const char *h = "1111111111111111111111111111111111111111"; /* b c a */
	struct fetch_proxy_state st;
	struct fetch_proxies *p;
	char got[256];

	fake_now = 1000;
	p = parse("http://a:3128|http://b:3128|http://c:3128;DIRECT", &conf);
	if (!p)
		return;
	is_str(plan_names(p, h, got, sizeof(got)),
		"http://b:3128 http://c:3128 http://a:3128 DIRECT",
		"healthy: the hash order, then the next group");
	ok(fetch_proxies_failed(p, 1) == 60, "b fails: skipped for 60 s");
	is_str(plan_names(p, h, got, sizeof(got)),
		"http://c:3128 http://a:3128 DIRECT http://b:3128",
		"... the next in hash order; b last, as a last resort");
	fetch_proxies_state(p, 1, &st);
	ok(st.failed && st.retry_in == 60 && st.failures == 1 && st.group == 1 && st.active,
		"... its state: failed, 60 s left, 1 failure, group 1 active");
	fake_now = 1059;
	is_str(plan_names(p, h, got, sizeof(got)),
		"http://c:3128 http://a:3128 DIRECT http://b:3128",
		"59 s later b is still skipped");
	fake_now = 1060;
	is_str(plan_names(p, h, got, sizeof(got)),
		"http://b:3128 http://c:3128 http://a:3128 DIRECT",
		"after retry_after it is tried first again");

	/* the whole group fails: DIRECT becomes the active group */
	fetch_proxies_failed(p, 1);
	fetch_proxies_failed(p, 2);
	fetch_proxies_state(p, 0, &st);
	ok(st.active, "two of three failed: group 1 stays active");
	fetch_proxies_failed(p, 0);
	fetch_proxies_state(p, 3, &st);
	ok(st.active && !st.failed, "all three failed: DIRECT's group is active");
	is_str(plan_names(p, h, got, sizeof(got)),
		"DIRECT http://b:3128 http://c:3128 http://a:3128",
		"... tried first, the failed proxies after it");
	ok(fetch_proxies_failed(p, 3) == 0, "DIRECT failing is the origin's failure: not skipped");
	fetch_proxies_state(p, 3, &st);
	ok(!st.failed && st.failures == 1, "... only counted");

	/* retry_after has passed, but the first group comes back only at reset_after */
	fake_now = 1060 + 61;
	is_str(plan_names(p, h, got, sizeof(got)),
		"DIRECT http://b:3128 http://c:3128 http://a:3128",
		"after retry_after, DIRECT stays first until reset_after");
	fake_now = 1060 + 300;
	is_str(plan_names(p, h, got, sizeof(got)),
		"http://b:3128 http://c:3128 http://a:3128 DIRECT",
		"after reset_after, the first group again");
	fetch_proxies_state(p, 0, &st);
	ok(st.active && !st.failed, "... and it is the active one");

	/* success forgets a failure */
	fetch_proxies_failed(p, 1);
	fetch_proxies_ok(p, 1);
	fetch_proxies_state(p, 1, &st);
	ok(!st.failed && st.successes == 1 && st.failures == 3, "success: healthy again, counted");
	fetch_proxies_free(p);
}

static void test_jitter(void)
{
	const struct fetch_proxy_conf conf = {.retry_after = 60, .clock = fake_clock};
	struct fetch_proxies *p = parse("a:1|b:1", &conf);
	double w, lo = 1e9, hi = 0;
	int i;

	if (!p)
		return;
	for (i = 0; i < 50; i++) {
		w = fetch_proxies_failed(p, 0);
		lo = w < lo ? w : lo;
		hi = w > hi ? w : hi;
	}
	ok(lo >= 60 && hi < 75 && hi > lo, "jitter: from 60 s to 75 s (%.2f .. %.2f)", lo, hi);
	fetch_proxies_free(p);
}

/* Many threads failing and planning at once: no lost update (TSan/helgrind fodder). */
static struct fetch_proxies *shared;

static void *hammer(void *arg)
{
	struct fetch_proxy_plan plan;
	int i;

	(void)arg;
	for (i = 0; i < 1000; i++) {
		fetch_proxies_plan(shared, "abc", &plan);
		if (i % 2)
			fetch_proxies_failed(shared, plan.id[0] % 2);
		else
			fetch_proxies_ok(shared, plan.id[0] % 2);
	}
	return NULL;
}

static void test_threads(void)
{
	const struct fetch_proxy_conf conf = {.shard = true};
	struct fetch_proxy_state a, b;
	pthread_t t[4];
	int i;

	shared = parse("a:1|b:1;DIRECT", &conf);
	if (!shared)
		return;
	for (i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, hammer, NULL);
	for (i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	fetch_proxies_state(shared, 0, &a);
	fetch_proxies_state(shared, 1, &b);
	is_int((long)(a.failures + a.successes + b.failures + b.successes), 4000,
		"4 threads x 1000 outcomes, none lost");
	fetch_proxies_free(shared);
}

int main(void)
{
	test_grammar();
	test_rendezvous();
	test_no_shard();
	test_failover();
	test_jitter();
	test_threads();
	return tap_done();
}
