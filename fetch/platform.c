/*
 * platform.c - Julia platforms: the tag table, matching and selection
 *
 * Follows JuliaLang/julia base/binaryplatforms.jl (released semantics) and
 * spec/julia-artifacts.md §1.3-§1.7.  Triplets are parsed and rendered in
 * triplet.c, VersionNumber is version.c, host detection is in
 * platform_host.c.
 */
#include "fetch/platform.h"

#include "fetch/version.h"
#include "store/util/buf.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct platform_tag {
	char *key;
	char *value;
	enum platform_cmp cmp;
};

struct platform {
	struct platform_tag *tags;	/* sorted by key (strcmp), "arch"/"os" included */
	size_t n, alloc;
};

/* ---- small string helpers ------------------------------------------------ */

static char *lower_dup(const char *s)
{
	size_t i, len = strlen(s);
	char *r = malloc(len + 1);

	if (!r)
		return NULL;
	for (i = 0; i < len; i++)
		r[i] = (s[i] >= 'A' && s[i] <= 'Z') ? (char)(s[i] - 'A' + 'a') : s[i];
	r[len] = '\0';
	return r;
}

/* add_tag!'s "nonos": + - space / < > : " ' \ | ? * */
static bool has_forbidden(const char *s)
{
	return strpbrk(s, "+- /<>:\"'\\|?*") != NULL;
}

static bool is_version_key(const char *key)
{
	return strcmp(key, "libgfortran_version") == 0 || strcmp(key, "libstdcxx_version") == 0 ||
	       strcmp(key, "os_version") == 0;
}

/* base/cpuid.jl normalize_arch, on an already lowercased string */
static const char *normalize_arch(const char *a)
{
	if (strcmp(a, "amd64") == 0)
		return "x86_64";
	if (strcmp(a, "i386") == 0 || strcmp(a, "i486") == 0 || strcmp(a, "i586") == 0)
		return "i686";
	if (strcmp(a, "armv6") == 0)
		return "armv6l";
	if (strcmp(a, "arm") == 0 || strcmp(a, "armv7") == 0 || strcmp(a, "armv8") == 0 ||
	    strcmp(a, "armv8l") == 0)
		return "armv7l";
	if (strcmp(a, "arm64") == 0)
		return "aarch64";
	if (strcmp(a, "ppc64le") == 0)
		return "powerpc64le";
	return a;
}

/* ---- the tag table --------------------------------------------------------- */

/* Binary search; returns true when found, *pos = index or insertion point. */
static bool tag_find(const struct platform *p, const char *key, size_t *pos)
{
	size_t lo = 0, hi = p->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(p->tags[mid].key, key);

		if (c == 0) {
			*pos = mid;
			return true;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*pos = lo;
	return false;
}

/* Store key=value (both copied) with cmp, replacing an existing value. */
static int tag_put(struct platform *p, const char *key, const char *value, enum platform_cmp cmp)
{
	struct platform_tag *t;
	char *v, *k = NULL;
	size_t pos;

	v = strdup(value);
	if (!v)
		return -ENOMEM;
	if (tag_find(p, key, &pos)) {
		free(p->tags[pos].value);
		p->tags[pos].value = v;
		p->tags[pos].cmp = cmp;
		return 0;
	}
	k = strdup(key);
	if (!k)
		goto nomem;
	if (p->n == p->alloc) {
		size_t na = p->alloc ? p->alloc * 2 : 8;

		t = realloc(p->tags, na * sizeof(*t));
		if (!t)
			goto nomem;
		p->tags = t;
		p->alloc = na;
	}
	memmove(p->tags + pos + 1, p->tags + pos, (p->n - pos) * sizeof(*p->tags));
	p->tags[pos].key = k;
	p->tags[pos].value = v;
	p->tags[pos].cmp = cmp;
	p->n++;
	return 0;
nomem:
	free(k);
	free(v);
	return -ENOMEM;
}

static struct platform_tag *tag_get(const struct platform *p, const char *key)
{
	size_t pos;

	return tag_find(p, key, &pos) ? &p->tags[pos] : NULL;
}

void platform_free(struct platform *p)
{
	size_t i;

	if (!p)
		return;
	for (i = 0; i < p->n; i++) {
		free(p->tags[i].key);
		free(p->tags[i].value);
	}
	free(p->tags);
	free(p);
}

/*
 * The normalisation of Platform() for one tag: lowercase name and value,
 * VersionNumber rewrite for the version-valued tags, add_tag!'s checks.
 * *ret_key and *ret_value are malloc'ed on success.
 */
static int normalize_tag(const char *key, const char *value, char **ret_key, char **ret_value)
{
	char *k, *v = NULL, *nv;
	int r = -EINVAL;

	k = lower_dup(key);
	if (!k)
		return -ENOMEM;
	v = lower_dup(value);
	if (!v) {
		r = -ENOMEM;
		goto out;
	}
	if (is_version_key(k)) {
		r = version_normalize(v, &nv);
		if (r == 0) {
			free(v);
			v = nv;
		} else if (r != -EINVAL) {
			goto out;
		}
	}
	r = -EINVAL;
	if (has_forbidden(k) || has_forbidden(v))
		goto out;
	*ret_key = k;
	*ret_value = v;
	return 0;
out:
	free(k);
	free(v);
	return r;
}

static enum platform_cmp default_cmp(const char *key)
{
	return strcmp(key, "julia_version") == 0 ? PLATFORM_CMP_MAJOR_MINOR : PLATFORM_CMP_DEFAULT;
}

int platform_new(const char *arch, const char *os, const struct platform_kv *tags,
	size_t ntags, struct platform **ret)
{
	struct platform *p;
	char *a = NULL, *o = NULL, *k = NULL, *v = NULL;
	const char *an;
	size_t i;
	int r = -ENOMEM;

	p = calloc(1, sizeof(*p));
	a = lower_dup(arch);
	o = lower_dup(os);
	if (!p || !a || !o)
		goto out;
	an = normalize_arch(a);
	if ((r = tag_put(p, "arch", an, PLATFORM_CMP_DEFAULT)) < 0 ||
	    (r = tag_put(p, "os", o, PLATFORM_CMP_DEFAULT)) < 0)
		goto out;
	for (i = 0; i < ntags; i++) {
		if (!tags[i].value)
			continue;
		r = normalize_tag(tags[i].key, tags[i].value, &k, &v);
		if (r < 0)
			goto out;
		r = -EINVAL;
		if (strcmp(k, "arch") == 0 || strcmp(k, "os") == 0)
			goto out;
		r = tag_put(p, k, v, default_cmp(k));
		if (r < 0)
			goto out;
		free(k);
		free(v);
		k = v = NULL;
	}
	if (strcmp(o, "linux") == 0) {
		if (!tag_get(p, "libc") &&
		    (r = tag_put(p, "libc", "glibc", PLATFORM_CMP_DEFAULT)) < 0)
			goto out;
		if ((strcmp(an, "armv7l") == 0 || strcmp(an, "armv6l") == 0) &&
		    !tag_get(p, "call_abi") &&
		    (r = tag_put(p, "call_abi", "eabihf", PLATFORM_CMP_DEFAULT)) < 0)
			goto out;
	}
	*ret = p;
	p = NULL;
	r = 0;
out:
	free(k);
	free(v);
	free(a);
	free(o);
	platform_free(p);
	return r;
}

int platform_dup(const struct platform *p, struct platform **ret)
{
	struct platform *q;
	size_t i;

	q = calloc(1, sizeof(*q));
	if (!q)
		return -ENOMEM;
	for (i = 0; i < p->n; i++) {
		if (tag_put(q, p->tags[i].key, p->tags[i].value, p->tags[i].cmp) < 0) {
			platform_free(q);
			return -ENOMEM;
		}
	}
	*ret = q;
	return 0;
}

const char *platform_get(const struct platform *p, const char *key)
{
	struct platform_tag *t = tag_get(p, key);

	return t ? t->value : NULL;
}

const char *platform_arch(const struct platform *p)
{
	return platform_get(p, "arch");
}

const char *platform_os(const struct platform *p)
{
	return platform_get(p, "os");
}

size_t platform_ntags(const struct platform *p)
{
	return p->n;
}

bool platform_tag_at(const struct platform *p, size_t i, const char **key, const char **value,
	enum platform_cmp *cmp)
{
	if (i >= p->n)
		return false;
	if (key)
		*key = p->tags[i].key;
	if (value)
		*value = p->tags[i].value;
	if (cmp)
		*cmp = p->tags[i].cmp;
	return true;
}

static bool cmp_valid(enum platform_cmp cmp)
{
	return cmp == PLATFORM_CMP_DEFAULT || cmp == PLATFORM_CMP_VERSION_CAP ||
	       cmp == PLATFORM_CMP_MAJOR_MINOR;
}

int platform_set_tag(struct platform *p, const char *key, const char *value,
	enum platform_cmp cmp)
{
	char *k = NULL, *v = NULL;
	int r;

	if (!cmp_valid(cmp))
		return -EINVAL;
	r = normalize_tag(key, value, &k, &v);
	if (r < 0)
		return r;
	if (cmp == PLATFORM_CMP_DEFAULT)
		cmp = default_cmp(k);
	if (strcmp(k, "arch") == 0)
		r = tag_put(p, k, normalize_arch(v), cmp);
	else
		r = tag_put(p, k, v, cmp);
	free(k);
	free(v);
	return r;
}

int platform_set_compare(struct platform *p, const char *key, enum platform_cmp cmp)
{
	struct platform_tag *t;

	if (!cmp_valid(cmp))
		return -EINVAL;
	t = tag_get(p, key);
	if (!t)
		return -ENOENT;
	t->cmp = cmp;
	return 0;
}

int platform_cmp_parse(const char *s, enum platform_cmp *ret)
{
	if (strcmp(s, "exact") == 0 || strcmp(s, "default") == 0)
		*ret = PLATFORM_CMP_DEFAULT;
	else if (strcmp(s, "cap") == 0 || strcmp(s, "version_cap") == 0)
		*ret = PLATFORM_CMP_VERSION_CAP;
	else if (strcmp(s, "majmin") == 0 || strcmp(s, "major_minor") == 0)
		*ret = PLATFORM_CMP_MAJOR_MINOR;
	else
		return -EINVAL;
	return 0;
}

const char *platform_cmp_name(enum platform_cmp cmp)
{
	switch (cmp) {
	case PLATFORM_CMP_DEFAULT:
		return "exact";
	case PLATFORM_CMP_VERSION_CAP:
		return "cap";
	case PLATFORM_CMP_MAJOR_MINOR:
		return "majmin";
	}
	return "?";
}

int platform_set_tag_spec(struct platform *p, const char *spec)
{
	enum platform_cmp cmp = PLATFORM_CMP_DEFAULT;
	char *s, *eq, *colon;
	int r = -EINVAL;

	s = strdup(spec);
	if (!s)
		return -ENOMEM;
	eq = strchr(s, '=');
	if (!eq || eq == s || eq[1] == '\0')
		goto out;
	*eq = '\0';
	colon = strchr(eq + 1, ':');
	if (colon) {
		*colon = '\0';
		if (colon == eq + 1 || platform_cmp_parse(colon + 1, &cmp) < 0)
			goto out;
	}
	r = platform_set_tag(p, s, eq + 1, cmp);
out:
	free(s);
	return r;
}

void platform_make_host(struct platform *p)
{
	platform_set_compare(p, "os_version", PLATFORM_CMP_VERSION_CAP);
	platform_set_compare(p, "libstdcxx_version", PLATFORM_CMP_VERSION_CAP);
}

bool platform_equal(const struct platform *a, const struct platform *b)
{
	size_t i;

	if (a->n != b->n)
		return false;
	for (i = 0; i < a->n; i++) {
		if (strcmp(a->tags[i].key, b->tags[i].key) != 0 ||
		    strcmp(a->tags[i].value, b->tags[i].value) != 0 ||
		    a->tags[i].cmp != b->tags[i].cmp)
			return false;
	}
	return true;
}

/* ---- matching ------------------------------------------------------------ */

/* One comparator call; 1 match, 0 no match, -EINVAL not a version. */
static int compare_values(enum platform_cmp f, const char *x, const char *y, bool xreq,
	bool yreq)
{
	struct version vx, vy;
	int c;

	if (f == PLATFORM_CMP_DEFAULT)
		return strcmp(x, y) == 0;
	if (version_parse(x, &vx) < 0 || version_parse(y, &vy) < 0)
		return -EINVAL;
	if (f == PLATFORM_CMP_MAJOR_MINOR)
		return vx.major == vy.major && vx.minor == vy.minor;
	/* compare_version_cap */
	c = version_cmp(&vx, &vy);
	if (xreq && yreq)
		return c == 0;
	if (xreq)
		return c >= 0;	/* y <= x */
	return c <= 0;		/* x <= y */
}

/*
 * platforms_match with the key of the first error in *bad (for messages).
 * All shared keys are looked at; a mismatch anywhere wins over an error.
 */
static int match_ex(const struct platform *a, const struct platform *b, const char **bad,
	bool *conflict)
{
	size_t i = 0, j = 0;
	int err = 0;

	while (i < a->n && j < b->n) {
		const struct platform_tag *ta = &a->tags[i], *tb = &b->tags[j];
		enum platform_cmp f;
		int c = strcmp(ta->key, tb->key), r;

		if (c < 0) {
			i++;
			continue;
		}
		if (c > 0) {
			j++;
			continue;
		}
		i++;
		j++;
		if (ta->cmp != PLATFORM_CMP_DEFAULT && tb->cmp != PLATFORM_CMP_DEFAULT &&
		    ta->cmp != tb->cmp) {
			if (!err) {
				err = -EINVAL;
				*bad = ta->key;
				*conflict = true;
			}
			continue;
		}
		f = tb->cmp != PLATFORM_CMP_DEFAULT ? tb->cmp : ta->cmp;
		r = compare_values(f, ta->value, tb->value, ta->cmp == f, tb->cmp == f);
		if (r == 0)
			return 0;
		if (r < 0 && !err) {
			err = r;
			*bad = ta->key;
			*conflict = false;
		}
	}
	return err ? err : 1;
}

int platforms_match(const struct platform *a, const struct platform *b)
{
	const char *bad;
	bool conflict;

	return match_ex(a, b, &bad, &conflict);
}

size_t platform_match_loss(const struct platform *a, const struct platform *b)
{
	size_t i = 0, j = 0, loss = 0;

	while (i < a->n || j < b->n) {
		int c;

		if (i == a->n)
			c = 1;
		else if (j == b->n)
			c = -1;
		else
			c = strcmp(a->tags[i].key, b->tags[j].key);
		if (c == 0) {
			i++;
			j++;
		} else {
			loss++;
			if (c < 0)
				i++;
			else
				j++;
		}
	}
	return loss;
}

/* ---- selection --------------------------------------------------------------- */

/* Descending order of the sorted (key, value) lists: >0 when a is greater. */
static int tags_cmp(const struct platform *a, const struct platform *b)
{
	size_t i;
	int c;

	for (i = 0; i < a->n && i < b->n; i++) {
		if ((c = strcmp(a->tags[i].key, b->tags[i].key)) ||
		    (c = strcmp(a->tags[i].value, b->tags[i].value)))
			return c;
	}
	return a->n < b->n ? -1 : a->n > b->n;
}

static void select_error(char *err, size_t errlen, int why, const char *key, size_t idx)
{
	if (!err || !errlen)
		return;
	if (why == 1)
		snprintf(err, errlen, "cannot compare tag '%s': the entry and the host set "
				      "different compare modes", key);
	else if (why == 2)
		snprintf(err, errlen, "cannot compare tag '%s': a value is not a version", key);
	else
		snprintf(err, errlen, "cannot render the triplet of entry %zu: a version tag is "
				      "not a version", idx);
}

int platform_select(const struct platform *const *cands, size_t n, const struct platform *host,
	size_t *ret, char *err, size_t errlen)
{
	char *best_trip = NULL, *trip = NULL;
	size_t i, best = 0, best_loss = 0;
	bool have = false;
	int r = 0;

	for (i = 0; i < n; i++) {
		const char *bad = NULL;
		bool conflict = false;
		size_t loss;
		int c;

		if (!cands[i])
			continue;
		r = match_ex(cands[i], host, &bad, &conflict);
		if (r < 0) {
			select_error(err, errlen, conflict ? 1 : 2, bad, i);
			goto out;
		}
		if (r == 0)
			continue;
		loss = platform_match_loss(cands[i], host);
		if (!have || loss < best_loss) {
			free(best_trip);
			best_trip = NULL;
			best = i;
			best_loss = loss;
			have = true;
			continue;
		}
		if (loss > best_loss)
			continue;
		/* equal loss: descending triplet, rendered only when needed */
		if (!best_trip && (r = platform_triplet(cands[best], &best_trip)) < 0) {
			if (r == -EINVAL)
				select_error(err, errlen, 3, "", best);
			goto out;
		}
		if ((r = platform_triplet(cands[i], &trip)) < 0) {
			if (r == -EINVAL)
				select_error(err, errlen, 3, "", i);
			goto out;
		}
		c = strcmp(trip, best_trip);
		if (c == 0)
			c = tags_cmp(cands[i], cands[best]);
		if (c > 0) {
			free(best_trip);
			best_trip = trip;
			trip = NULL;
			best = i;
		}
		free(trip);
		trip = NULL;
	}
	r = -ENOENT;
	if (have) {
		*ret = best;
		r = 0;
	}
out:
	free(best_trip);
	free(trip);
	return r;
}
