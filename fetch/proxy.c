/*
 * proxy.c - the proxy list of a site: parsing, rendezvous order, failover
 * state (proxy.h)
 */
#include "config.h"

#include "fetch/proxy.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "store/util/random.h"

struct member {
	char *url;	/* "" for DIRECT */
	unsigned group; /* 0-based */
	bool direct;
	double failed_until; /* clock seconds; 0: healthy */
	uint64_t failures, successes;
};

struct fetch_proxies {
	pthread_mutex_t lock;
	struct fetch_proxy_conf conf;
	size_t n;
	unsigned ngroups;
	unsigned first[FETCH_PROXY_MAX]; /* of each group: its first member ... */
	unsigned count[FETCH_PROXY_MAX]; /* ... and how many it has */
	struct member m[FETCH_PROXY_MAX];
	unsigned active;     /* the group tried first */
	double active_since; /* when it became the active one */
};

/* --- parsing ------------------------------------------------------------------------ */

static const char *const schemes[] = {"http", "https", "socks4", "socks4a", "socks5", "socks5h"};

static int __attribute__((format(printf, 2, 3))) perr(char **errmsg, const char *fmt, ...)
{
	va_list ap;

	if (!errmsg)
		return -EINVAL;
	va_start(ap, fmt);
	if (vasprintf(errmsg, fmt, ap) < 0)
		*errmsg = NULL;
	va_end(ap);
	return -EINVAL;
}

static bool host_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '.' || c == '_';
}

/*
 * check_url - whether s (len bytes, trimmed, not DIRECT) is a proxy URL of
 * the grammar; *why gets the cause when not.  *has_scheme tells whether it
 * names its scheme.
 */
static bool check_url(const char *s, size_t len, bool *has_scheme, const char **why)
{
	static __thread char buf[96];
	const char *p = s, *end = s + len, *sep;
	unsigned long port = 0;
	size_t i, n;

	*has_scheme = false;
	if (memchr(s, '@', len)) {
		*why = "credentials in a proxy URL are not supported";
		return false;
	}
	sep = memmem(s, len, "://", 3);
	if (sep) {
		n = (size_t)(sep - s);
		for (i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++)
			if (strlen(schemes[i]) == n && strncasecmp(s, schemes[i], n) == 0)
				break;
		if (i == sizeof(schemes) / sizeof(schemes[0])) {
			snprintf(buf, sizeof(buf),
				"unsupported scheme '%.*s' (http, https, "
				"socks4, socks4a, socks5 or socks5h)",
				(int)(n > 32 ? 32 : n), s);
			*why = buf;
			return false;
		}
		*has_scheme = true;
		p = sep + 3;
	}
	if (p < end && *p == '[') {
		for (p++; p < end && *p != ']'; p++)
			if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f') ||
				    (*p >= 'A' && *p <= 'F') || *p == ':' || *p == '.'))
				break;
		if (p >= end || *p != ']' || p[-1] == '[') {
			*why = "malformed IPv6 address (expected [hex digits and colons])";
			return false;
		}
		p++;
	} else {
		for (n = 0; p < end && host_char(*p); p++)
			n++;
		if (!n) {
			*why = "no host name";
			return false;
		}
	}
	if (p < end && *p == ':') {
		for (p++, n = 0; p < end && *p >= '0' && *p <= '9' && n < 6; p++, n++)
			port = port * 10 + (unsigned long)(*p - '0');
		if (!n || port == 0 || port > 65535) {
			*why = "the port is not a number from 1 to 65535";
			return false;
		}
	}
	if (p < end && *p == '/')
		p++;
	if (p < end) {
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			snprintf(buf, sizeof(buf), "unexpected control character 0x%02x",
				(unsigned)(unsigned char)*p);
		else
			snprintf(buf, sizeof(buf), "unexpected '%c'%s", *p,
				*p == ' ' || *p == '\t' ? " (blanks inside a member)" : "");
		*why = buf;
		return false;
	}
	return true;
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t';
}

/* Adds member s[0..len) of group g (both 0-based, k its index in the group). */
static int add_member(struct fetch_proxies *p, const char *spec, const char *s, size_t len,
	unsigned g, unsigned k, char **errmsg)
{
	struct member *m;
	const char *why = NULL;
	bool has_scheme;
	size_t i;

	while (len && is_blank(*s)) {
		s++;
		len--;
	}
	while (len && is_blank(s[len - 1]))
		len--;
	if (!len)
		return perr(errmsg, "empty member %u in group %u of '%.200s'", k + 1, g + 1, spec);
	if (p->n == FETCH_PROXY_MAX)
		return perr(errmsg, "more than %d proxies in '%.200s'", FETCH_PROXY_MAX, spec);
	m = &p->m[p->n];
	m->group = g;
	if (len == 6 && strncasecmp(s, "DIRECT", 6) == 0) {
		m->direct = true;
		m->url = strdup("");
	} else {
		if (!check_url(s, len, &has_scheme, &why))
			return perr(errmsg, "bad proxy '%.*s' (member %u of group %u): %s",
				(int)(len > 200 ? 200 : len), s, k + 1, g + 1, why);
		if (s[len - 1] == '/')
			len--;
		if (asprintf(&m->url, "%s%.*s", has_scheme ? "" : "http://", (int)len, s) < 0)
			m->url = NULL;
	}
	if (!m->url)
		return -ENOMEM;
	for (i = 0; i < p->n; i++)
		if (strcasecmp(p->m[i].url, m->url) == 0) {
			perr(errmsg, "proxy '%s' appears twice in '%.200s'",
				m->direct ? "DIRECT" : m->url, spec);
			free(m->url);
			m->url = NULL;
			return -EINVAL;
		}
	p->n++;
	return 0;
}

int fetch_proxies_parse(const char *spec, const struct fetch_proxy_conf *conf,
	struct fetch_proxies **ret, char **errmsg)
{
	struct fetch_proxies *p;
	const char *s, *e;
	unsigned g = 0, k = 0;
	size_t len;
	int r = 0;

	if (errmsg)
		*errmsg = NULL;
	if (!spec || !spec[strspn(spec, " \t")])
		return perr(errmsg, "empty proxy list");
	len = strlen(spec);
	if (len > FETCH_PROXY_SPEC_MAX)
		return perr(
			errmsg, "proxy list of %zu bytes, more than %d", len, FETCH_PROXY_SPEC_MAX);
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	if (conf)
		p->conf = *conf;
	if (p->conf.retry_after <= 0)
		p->conf.retry_after = FETCH_PROXY_RETRY_AFTER;
	if (p->conf.reset_after <= 0)
		p->conf.reset_after = FETCH_PROXY_RESET_AFTER;
	pthread_mutex_init(&p->lock, NULL);
	for (s = spec;; s = e + 1) {
		e = s + strcspn(s, ";|");
		if (k == 0)
			p->first[g] = (unsigned)p->n;
		r = add_member(p, spec, s, (size_t)(e - s), g, k, errmsg);
		if (r < 0)
			break;
		k++;
		if (*e != '|') {
			p->count[g++] = k;
			k = 0;
		}
		if (!*e)
			break;
	}
	if (r < 0) {
		fetch_proxies_free(p);
		return r;
	}
	p->ngroups = g;
	*ret = p;
	return 0;
}

void fetch_proxies_free(struct fetch_proxies *p)
{
	size_t i;

	if (!p)
		return;
	for (i = 0; i < p->n; i++)
		free(p->m[i].url);
	pthread_mutex_destroy(&p->lock);
	free(p);
}

/* --- choosing ------------------------------------------------------------------------ */

uint64_t fetch_proxies_weight(const char *name, const char *hash)
{
	uint64_t z = 0xcbf29ce484222325ull;
	const unsigned char *c;

	for (c = (const unsigned char *)name; *c; c++)
		z = (z ^ *c) * 0x100000001b3ull;
	z *= 0x100000001b3ull; /* the NUL between the two: z ^ 0 == z */
	for (c = (const unsigned char *)(hash ? hash : ""); *c; c++)
		z = (z ^ *c) * 0x100000001b3ull;
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static double now_of(const struct fetch_proxies *p)
{
	struct timespec ts;

	if (p->conf.clock)
		return p->conf.clock(p->conf.clock_arg);
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The active group at now, after reset_after; called with the lock held. */
static unsigned active_group(struct fetch_proxies *p, double now)
{
	if (p->active && now - p->active_since >= p->conf.reset_after)
		p->active = 0;
	return p->active;
}

static bool failed_at(const struct member *m, double now)
{
	return m->failed_until > now;
}

void fetch_proxies_plan(struct fetch_proxies *p, const char *hash, struct fetch_proxy_plan *plan)
{
	unsigned order[FETCH_PROXY_MAX], last[FETCH_PROXY_MAX];
	uint64_t w[FETCH_PROXY_MAX], wk;
	unsigned g, a, i, j, c, start, v, nlast = 0;
	double now;

	plan->n = 0;
	pthread_mutex_lock(&p->lock);
	now = now_of(p);
	a = active_group(p, now);
	for (g = 0; g < p->ngroups; g++) {
		unsigned grp = (a + g) % p->ngroups, f = p->first[grp];

		c = p->count[grp];
		if (p->conf.shard) {
			/* insertion sort by weight, highest first; ties keep the spec's order */
			for (i = 0; i < c; i++) {
				wk = fetch_proxies_weight(p->m[f + i].url, hash);
				for (j = i; j > 0 && w[j - 1] < wk; j--) {
					w[j] = w[j - 1];
					order[j] = order[j - 1];
				}
				w[j] = wk;
				order[j] = f + i;
			}
		} else {
			start = c > 1 ? (unsigned)(random_id() % c) : 0;
			for (i = 0; i < c; i++)
				order[i] = f + (start + i) % c;
		}
		for (i = 0; i < c; i++) {
			v = order[i];
			if (failed_at(&p->m[v], now))
				last[nlast++] = v;
			else
				plan->id[plan->n++] = v;
		}
	}
	pthread_mutex_unlock(&p->lock);
	for (i = 0; i < nlast; i++)
		plan->id[plan->n++] = last[i];
}

const char *fetch_proxies_url(const struct fetch_proxies *p, unsigned id)
{
	return p->m[id].url;
}

const char *fetch_proxies_name(const struct fetch_proxies *p, unsigned id)
{
	return p->m[id].direct ? "DIRECT" : p->m[id].url;
}

bool fetch_proxies_direct(const struct fetch_proxies *p, unsigned id)
{
	return p->m[id].direct;
}

size_t fetch_proxies_count(const struct fetch_proxies *p)
{
	return p->n;
}

double fetch_proxies_failed(struct fetch_proxies *p, unsigned id)
{
	struct member *m = &p->m[id];
	double now, wait = 0;
	unsigned a, g, i, grp;

	pthread_mutex_lock(&p->lock);
	m->failures++;
	if (m->direct)
		goto out;
	now = now_of(p);
	wait = p->conf.retry_after;
	if (!p->conf.no_jitter)
		wait += p->conf.retry_after / 4 * (double)(random_id() >> 11) / 9007199254740992.0;
	m->failed_until = now + wait;
	a = active_group(p, now);
	if (m->group != a)
		goto out;
	for (i = 0; i < p->count[a]; i++)
		if (!failed_at(&p->m[p->first[a] + i], now))
			goto out; /* the group still has a healthy member */
	for (g = 1; g < p->ngroups; g++) {
		grp = (a + g) % p->ngroups;
		for (i = 0; i < p->count[grp]; i++)
			if (!failed_at(&p->m[p->first[grp] + i], now)) {
				p->active = grp;
				p->active_since = now;
				goto out;
			}
	}
out:
	pthread_mutex_unlock(&p->lock);
	return wait;
}

void fetch_proxies_ok(struct fetch_proxies *p, unsigned id)
{
	pthread_mutex_lock(&p->lock);
	p->m[id].failed_until = 0;
	p->m[id].successes++;
	pthread_mutex_unlock(&p->lock);
}

void fetch_proxies_state(struct fetch_proxies *p, unsigned id, struct fetch_proxy_state *st)
{
	const struct member *m = &p->m[id];
	double now;

	pthread_mutex_lock(&p->lock);
	now = now_of(p);
	st->name = fetch_proxies_name(p, id);
	st->group = m->group + 1;
	st->failed = failed_at(m, now);
	st->retry_in = st->failed ? m->failed_until - now : 0;
	st->active = m->group == active_group(p, now);
	st->failures = m->failures;
	st->successes = m->successes;
	pthread_mutex_unlock(&p->lock);
}
