/*
 * platform.c - Julia platform triplets, matching and selection
 *
 * Follows JuliaLang/julia base/binaryplatforms.jl (released semantics) and
 * spec/julia-artifacts.md §1.3-§1.7.  Host detection is in
 * platform_host.c.
 */
#include "fetch/platform.h"

#include "store/util/buf.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TRIPLET_MAX (64u << 10)

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

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
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

/* ---- VersionNumber ------------------------------------------------------- */

struct version {
	uint32_t major, minor, patch;
	const char *pre;	/* identifiers after '-', not NUL-terminated */
	size_t prelen;
	bool has_pre;
	const char *build;	/* identifiers after '+' */
	size_t buildlen;
	bool has_build;
};

static int parse_u32(const char **pp, uint32_t *ret)
{
	const char *p = *pp;
	uint64_t v = 0;

	if (!is_digit(*p))
		return -EINVAL;
	while (is_digit(*p)) {
		v = v * 10 + (uint64_t)(*p - '0');
		if (v > UINT32_MAX)
			return -EINVAL;
		p++;
	}
	*ret = (uint32_t)v;
	*pp = p;
	return 0;
}

static bool ident_char(char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-';
}

/* (?:[0-9a-z-]+\.)*[0-9a-z-]+ ; returns the length consumed or 0 */
static size_t scan_idents(const char *p)
{
	size_t i = 0, seg = 0;

	for (;; i++) {
		if (ident_char(p[i])) {
			seg++;
		} else if (p[i] == '.' && seg > 0 && ident_char(p[i + 1])) {
			seg = 0;
		} else {
			break;
		}
	}
	return seg > 0 ? i : 0;
}

/*
 * Julia's VERSION_REGEX: v? major (.minor)? (.patch)? then either a lone
 * "-", or (-prerelease)? followed by a lone "+" or (+build)?.  Case is
 * ignored for the "v" (the regex has the i flag).
 */
static int version_parse(const char *s, struct version *v)
{
	const char *p = s;
	size_t n;

	memset(v, 0, sizeof(*v));
	if (*p == 'v' || *p == 'V')
		p++;
	if (parse_u32(&p, &v->major) < 0)
		return -EINVAL;
	if (*p == '.' && is_digit(p[1])) {
		p++;
		if (parse_u32(&p, &v->minor) < 0)
			return -EINVAL;
		if (*p == '.' && is_digit(p[1])) {
			p++;
			if (parse_u32(&p, &v->patch) < 0)
				return -EINVAL;
		}
	}
	if (*p == '-') {
		p++;
		v->has_pre = true;
		if (*p == '\0')
			return 0;	/* lone "-": prerelease ("",) */
		/*
		 * '-' is itself an identifier character, so the prerelease
		 * runs to the '+' or the end.
		 */
		n = scan_idents(p);
		if (n == 0)
			return -EINVAL;
		v->pre = p;
		v->prelen = n;
		p += n;
	}
	if (*p == '+') {
		p++;
		v->has_build = true;
		if (*p != '\0') {
			n = scan_idents(p);
			if (n == 0)
				return -EINVAL;
			v->build = p;
			v->buildlen = n;
			p += n;
		}
	}
	return *p == '\0' ? 0 : -EINVAL;
}

static bool all_digits(const char *p, size_t n)
{
	size_t i;

	if (n == 0)
		return false;
	for (i = 0; i < n; i++)
		if (!is_digit(p[i]))
			return false;
	return true;
}

/* An identifier of all digits is a UInt64 in Julia; compare numerically. */
static int num_cmp(const char *a, size_t an, const char *b, size_t bn)
{
	while (an > 1 && *a == '0')
		a++, an--;
	while (bn > 1 && *b == '0')
		b++, bn--;
	if (an != bn)
		return an < bn ? -1 : 1;
	return memcmp(a, b, an);
}

/*
 * Julia's ident_cmp over dot-separated identifier tuples.  Only called when
 * both sides have the part (or neither), so an empty run is the tuple ("",)
 * or (), which compare the same way against each other.
 */
static int idents_cmp(const char *a, size_t an, const char *b, size_t bn)
{
	size_t ai = 0, bi = 0;

	for (;;) {
		size_t ae = ai, be = bi, al, bl;
		bool ad, bd;
		int c;

		while (ae < an && a[ae] != '.')
			ae++;
		while (be < bn && b[be] != '.')
			be++;
		al = ae - ai;
		bl = be - bi;
		ad = all_digits(a + ai, al);
		bd = all_digits(b + bi, bl);
		if (ad && bd) {
			c = num_cmp(a + ai, al, b + bi, bl);
		} else if (ad != bd) {
			c = ad ? -1 : 1;	/* integers before strings */
		} else {
			c = (al && bl) ? memcmp(a + ai, b + bi, al < bl ? al : bl) : 0;
			if (c == 0 && al != bl)
				c = al < bl ? -1 : 1;
		}
		if (c)
			return c < 0 ? -1 : 1;
		if (ae >= an && be >= bn)
			return 0;
		if (ae >= an)
			return -1;	/* shorter tuple first */
		if (be >= bn)
			return 1;
		ai = ae + 1;
		bi = be + 1;
	}
}

static int u32_cmp(uint32_t a, uint32_t b)
{
	return a < b ? -1 : a > b;
}

/* base/version.jl isless/== */
static int version_cmp(const struct version *a, const struct version *b)
{
	int c;

	if ((c = u32_cmp(a->major, b->major)) || (c = u32_cmp(a->minor, b->minor)) ||
	    (c = u32_cmp(a->patch, b->patch)))
		return c;
	if (a->has_pre != b->has_pre)
		return a->has_pre ? -1 : 1;
	if ((c = idents_cmp(a->pre, a->prelen, b->pre, b->prelen)))
		return c;
	if (a->has_build != b->has_build)
		return a->has_build ? 1 : -1;
	return idents_cmp(a->build, a->buildlen, b->build, b->buildlen);
}

static int add_idents(struct buf *b, const char *p, size_t n)
{
	size_t i = 0;
	int r = 0;

	while (i < n && r == 0) {
		size_t e;

		for (e = i; e < n && p[e] != '.'; e++)
			;
		if (all_digits(p + i, e - i)) {
			while (e - i > 1 && p[i] == '0')
				i++;
		}
		r = buf_add(b, p + i, e - i);
		if (r == 0 && e < n)
			r = buf_addc(b, '.');
		i = e + 1;
	}
	return r;
}

/* string(VersionNumber(s)); -EINVAL when s is not a version */
static int version_normalize(const char *s, char **ret)
{
	struct version v;
	struct buf b;
	int r;

	if (version_parse(s, &v) < 0)
		return -EINVAL;
	buf_init(&b, 4096);
	r = buf_addf(&b, "%u.%u.%u", v.major, v.minor, v.patch);
	if (r == 0 && v.has_pre) {
		r = buf_addc(&b, '-');
		if (r == 0)
			r = add_idents(&b, v.pre, v.prelen);
	}
	if (r == 0 && v.has_build) {
		r = buf_addc(&b, '+');
		if (r == 0)
			r = add_idents(&b, v.build, v.buildlen);
	}
	if (r == 0) {
		*ret = buf_detach(&b, NULL);
		if (!*ret)
			r = -ENOMEM;
	}
	buf_release(&b);
	return r == -E2BIG ? -EINVAL : r;
}

int platform_vercmp(const char *a, const char *b, int *ret)
{
	struct version va, vb;

	if (version_parse(a, &va) < 0 || version_parse(b, &vb) < 0)
		return -EINVAL;
	*ret = version_cmp(&va, &vb);
	return 0;
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

/* ---- triplet rendering ----------------------------------------------------- */

static bool triplet_hidden(const char *key)
{
	static const char *const hidden[] = {
		"os", "arch", "libc", "call_abi", "libgfortran_version",
		"libstdcxx_version", "cxxstring_abi", "os_version",
	};
	size_t i;

	for (i = 0; i < sizeof(hidden) / sizeof(hidden[0]); i++)
		if (strcmp(key, hidden[i]) == 0)
			return true;
	return false;
}

static int triplet_os(const struct platform *p, struct buf *b)
{
	const char *os = platform_os(p), *osv = platform_get(p, "os_version");
	struct version v;

	if (strcmp(os, "linux") == 0)
		return buf_adds(b, "-linux");
	if (strcmp(os, "windows") == 0)
		return buf_adds(b, "-w64-mingw32");
	if (strcmp(os, "openbsd") == 0)
		return buf_adds(b, "-unknown-openbsd");
	if (strcmp(os, "macos") == 0) {
		if (!osv)
			return buf_adds(b, "-apple-darwin");
		if (version_parse(osv, &v) < 0)
			return -EINVAL;
		return buf_addf(b, "-apple-darwin%u", v.major);
	}
	if (strcmp(os, "freebsd") == 0) {
		if (!osv)
			return buf_adds(b, "-unknown-freebsd");
		if (version_parse(osv, &v) < 0)
			return -EINVAL;
		return buf_addf(b, "-unknown-freebsd%u.%u", v.major, v.minor);
	}
	return buf_adds(b, "-unknown");
}

static int triplet_buf(const struct platform *p, struct buf *b)
{
	const char *libc = platform_get(p, "libc"), *cabi = platform_get(p, "call_abi");
	const char *gf = platform_get(p, "libgfortran_version");
	const char *cxx = platform_get(p, "cxxstring_abi");
	const char *stdcxx = platform_get(p, "libstdcxx_version");
	struct version v;
	size_t i;
	int r;

	if ((r = buf_adds(b, platform_arch(p))) < 0 || (r = triplet_os(p, b)) < 0)
		return r;
	if (libc) {
		if (strcmp(libc, "glibc") == 0)
			r = buf_adds(b, "-gnu");
		else
			r = buf_addf(b, "-%s", libc);
		if (r < 0)
			return r;
	}
	if (cabi && (r = buf_adds(b, cabi)) < 0)
		return r;
	if (gf) {
		if (version_parse(gf, &v) < 0)
			return -EINVAL;
		if ((r = buf_addf(b, "-libgfortran%u", v.major)) < 0)
			return r;
	}
	if (cxx && (r = buf_addf(b, "-%s", cxx)) < 0)
		return r;
	if (stdcxx) {
		if (version_parse(stdcxx, &v) < 0)
			return -EINVAL;
		if ((r = buf_addf(b, "-libstdcxx%u", v.patch)) < 0)
			return r;
	}
	for (i = 0; i < p->n; i++) {
		if (triplet_hidden(p->tags[i].key))
			continue;
		r = buf_addf(b, "-%s+%s", p->tags[i].key, p->tags[i].value);
		if (r < 0)
			return r;
	}
	return 0;
}

int platform_triplet(const struct platform *p, char **ret)
{
	struct buf b;
	int r;

	buf_init(&b, TRIPLET_MAX);
	r = triplet_buf(p, &b);
	return buf_finish(&b, r, ret);
}

/* ---- triplet parsing ------------------------------------------------------- */

/*
 * A backtracking matcher equivalent to Julia's anchored triplet_regex.
 * Each stage lists its candidate matches at a position in the order PCRE
 * would try them (alternatives in order, greedy quantifiers longest first)
 * and recurses into the next stage.
 */
enum { ST_ARCH, ST_OS, ST_LIBC, ST_CABI, ST_GFORT, ST_CXX, ST_STDCXX, ST_TAGS };

struct tmatch {
	const char *s;
	size_t len;
	const char *arch, *os, *libc, *cabi, *cxx;
	size_t os_start, os_end;
	int gfort;		/* 0: none */
	size_t stdcxx_start;	/* digits of -libstdcxxN */
	size_t stdcxx_len;	/* 0: none */
	size_t tags_start;
};

static bool match_stage(struct tmatch *m, int stage, size_t pos);

static bool has_at(const struct tmatch *m, size_t pos, const char *lit)
{
	size_t n = strlen(lit);

	return pos <= m->len && m->len - pos >= n && memcmp(m->s + pos, lit, n) == 0;
}

static bool is_vdigit(char c)
{
	return is_digit(c) || c == '.';
}

/* lit followed by [\d.]* (greedy, backtracking) then the next stage */
static bool try_os_ver(struct tmatch *m, size_t pos, const char *lit, const char *os)
{
	size_t start = pos + strlen(lit), end = start, e;

	if (!has_at(m, pos, lit))
		return false;
	while (end < m->len && is_vdigit(m->s[end]))
		end++;
	for (e = end + 1; e-- > start;) {
		m->os = os;
		m->os_end = e;
		if (match_stage(m, ST_LIBC, e))
			return true;
	}
	return false;
}

/* "-" (.*-)? word, then (for the BSDs) [\d.]*; .* greedy, group optional */
static bool try_os_any(struct tmatch *m, size_t pos, const char *word, bool digits,
	const char *os)
{
	size_t q, wl = strlen(word);

	if (!has_at(m, pos, "-"))
		return false;
	/* q: where word starts; the group spans [pos+1, q) and ends with '-' */
	for (q = m->len + 1; q-- > pos + 1;) {
		size_t e;

		if (q > pos + 1 && m->s[q - 1] != '-')
			continue;
		if (!has_at(m, q, word))
			continue;
		if (memchr(m->s + pos, '\n', q - pos))
			continue;	/* '.' does not match a newline */
		e = q + wl;
		if (digits) {
			size_t end = e, k;

			while (end < m->len && is_vdigit(m->s[end]))
				end++;
			for (k = end + 1; k-- > e;) {
				m->os = os;
				m->os_end = k;
				if (match_stage(m, ST_LIBC, k))
					return true;
			}
		} else {
			m->os = os;
			m->os_end = e;
			if (match_stage(m, ST_LIBC, e))
				return true;
		}
	}
	return false;
}

/* (?:-[^-]+\+[^-]+)* then end of string */
static bool match_tags(const struct tmatch *m, size_t pos)
{
	while (pos < m->len) {
		size_t e, k;
		bool plus = false;

		if (m->s[pos] != '-')
			return false;
		pos++;
		for (e = pos; e < m->len && m->s[e] != '-'; e++)
			;
		for (k = pos + 1; k + 1 < e; k++)
			if (m->s[k] == '+')
				plus = true;
		if (!plus)
			return false;
		pos = e;
	}
	return true;
}

static bool try_lit(struct tmatch *m, int next, size_t pos, const char *lit)
{
	return has_at(m, pos, lit) && match_stage(m, next, pos + strlen(lit));
}

static bool match_stage(struct tmatch *m, int stage, size_t pos)
{
	static const char *const gf[][2] = {
		{ "-libgfortran3", "-gcc4" },
		{ "-libgfortran4", "-gcc7" },
		{ "-libgfortran5", "-gcc8" },
	};
	size_t i, e;

	switch (stage) {
	case ST_ARCH:
		m->arch = "x86_64";
		if (try_lit(m, ST_OS, pos, "x86_64") || try_lit(m, ST_OS, pos, "amd64"))
			return true;
		m->arch = "i686";
		if (has_at(m, pos, "i") && pos + 4 <= m->len && is_digit(m->s[pos + 1]) &&
		    has_at(m, pos + 2, "86") && match_stage(m, ST_OS, pos + 4))
			return true;
		m->arch = "aarch64";
		if (try_lit(m, ST_OS, pos, "aarch64") || try_lit(m, ST_OS, pos, "arm64"))
			return true;
		m->arch = "armv7l";
		if (try_lit(m, ST_OS, pos, "armv7l") || try_lit(m, ST_OS, pos, "arm"))
			return true;
		m->arch = "armv6l";
		if (try_lit(m, ST_OS, pos, "armv6l"))
			return true;
		m->arch = "powerpc64le";
		if (try_lit(m, ST_OS, pos, "powerpc64le") || try_lit(m, ST_OS, pos, "ppc64le"))
			return true;
		m->arch = "riscv64";
		return try_lit(m, ST_OS, pos, "rv64") || try_lit(m, ST_OS, pos, "riscv64");
	case ST_OS:
		m->os_start = pos;
		if (try_os_ver(m, pos, "-apple-darwin", "macos") ||
		    try_os_any(m, pos, "freebsd", true, "freebsd") ||
		    try_os_any(m, pos, "openbsd", true, "openbsd"))
			return true;
		if (has_at(m, pos, "-w64-mingw32")) {
			m->os = "windows";
			m->os_end = pos + strlen("-w64-mingw32");
			if (match_stage(m, ST_LIBC, m->os_end))
				return true;
		}
		return try_os_any(m, pos, "linux", false, "linux");
	case ST_LIBC:
		m->libc = NULL;
		if (match_stage(m, ST_CABI, pos))
			return true;
		m->libc = "glibc";
		if (try_lit(m, ST_CABI, pos, "-gnu"))
			return true;
		m->libc = "musl";
		return try_lit(m, ST_CABI, pos, "-musl");
	case ST_CABI:
		m->cabi = NULL;
		if (match_stage(m, ST_GFORT, pos))
			return true;
		m->cabi = "eabihf";
		if (try_lit(m, ST_GFORT, pos, "eabihf"))
			return true;
		m->cabi = "eabi";
		return try_lit(m, ST_GFORT, pos, "eabi");
	case ST_GFORT:
		m->gfort = 0;
		if (match_stage(m, ST_CXX, pos))
			return true;
		for (i = 0; i < 3; i++) {
			m->gfort = (int)i + 3;
			if (try_lit(m, ST_CXX, pos, gf[i][0]) || try_lit(m, ST_CXX, pos, gf[i][1]))
				return true;
		}
		return false;
	case ST_CXX:
		m->cxx = NULL;
		if (match_stage(m, ST_STDCXX, pos))
			return true;
		m->cxx = "cxx03";
		if (try_lit(m, ST_STDCXX, pos, "-cxx03"))
			return true;
		m->cxx = "cxx11";
		return try_lit(m, ST_STDCXX, pos, "-cxx11");
	case ST_STDCXX:
		m->stdcxx_len = 0;
		if (match_stage(m, ST_TAGS, pos))
			return true;
		if (!has_at(m, pos, "-libstdcxx"))
			return false;
		m->stdcxx_start = pos + strlen("-libstdcxx");
		for (e = m->stdcxx_start; e < m->len && is_digit(m->s[e]); e++)
			;
		for (; e > m->stdcxx_start; e--) {
			m->stdcxx_len = e - m->stdcxx_start;
			if (match_stage(m, ST_TAGS, e))
				return true;
		}
		m->stdcxx_len = 0;
		return false;
	case ST_TAGS:
		m->tags_start = pos;
		return match_tags(m, pos);
	}
	return false;
}

/*
 * os_version from the os part: the last "word" followed by [\d.]+ (Julia's
 * match of r".*word([\d.]+)", greedy), normalised as VersionNumber(capture),
 * which throws for "12." or ".".  *ret stays NULL when there is none.
 */
static int os_version(const struct tmatch *m, const char *word, char **ret)
{
	size_t wl = strlen(word), q, e;
	const char *s = m->s;
	char *v;
	int r;

	for (q = m->os_end; q-- > m->os_start;) {
		if (q + wl > m->os_end || memcmp(s + q, word, wl) != 0)
			continue;
		for (e = q + wl; e < m->os_end && is_vdigit(s[e]); e++)
			;
		if (e == q + wl)
			continue;
		v = strndup(s + q + wl, e - q - wl);
		if (!v)
			return -ENOMEM;
		r = version_normalize(v, ret);
		free(v);
		return r;
	}
	return 0;
}

int platform_parse(const char *s, struct platform **ret)
{
	struct tmatch m = { .s = s, .len = strlen(s) };
	struct platform_kv *kv = NULL;
	char *tagcopy = NULL, *osv = NULL, *tok, *save = NULL, gfv[16], stdv[32];
	size_t nkv = 0, maxkv;
	int r = -EINVAL;

	if (!match_stage(&m, ST_ARCH, 0))
		return -EINVAL;
	maxkv = 6 + (m.len - m.tags_start) / 2;
	kv = calloc(maxkv, sizeof(*kv));
	tagcopy = strdup(s + m.tags_start);
	if (!kv || !tagcopy) {
		r = -ENOMEM;
		goto out;
	}
	if (m.libc)
		kv[nkv++] = (struct platform_kv){ "libc", m.libc };
	if (m.cabi)
		kv[nkv++] = (struct platform_kv){ "call_abi", m.cabi };
	if (m.gfort) {
		snprintf(gfv, sizeof(gfv), "%d.0.0", m.gfort);
		kv[nkv++] = (struct platform_kv){ "libgfortran_version", gfv };
	}
	if (m.stdcxx_len) {
		/* VersionNumber(3, 4, N) throws beyond a UInt32 */
		const char *d = s + m.stdcxx_start;
		uint32_t patch;

		if (parse_u32(&d, &patch) < 0)
			goto out;
		snprintf(stdv, sizeof(stdv), "3.4.%u", patch);
		kv[nkv++] = (struct platform_kv){ "libstdcxx_version", stdv };
	}
	if (m.cxx)
		kv[nkv++] = (struct platform_kv){ "cxxstring_abi", m.cxx };
	/* split(tagstr, "-"; keepempty=false), then k => v from split(t, "+") */
	for (tok = strtok_r(tagcopy, "-", &save); tok; tok = strtok_r(NULL, "-", &save)) {
		char *plus = strchr(tok, '+'), *plus2;

		*plus = '\0';
		plus2 = strchr(plus + 1, '+');
		if (plus2)
			*plus2 = '\0';
		if (strcmp(tok, "os_version") == 0)
			continue;	/* overwritten by tags["os_version"] below */
		kv[nkv++] = (struct platform_kv){ tok, plus + 1 };
	}
	if (strcmp(m.os, "macos") == 0)
		r = os_version(&m, "darwin", &osv);
	else if (strcmp(m.os, "freebsd") == 0 || strcmp(m.os, "openbsd") == 0)
		r = os_version(&m, m.os, &osv);
	else
		r = 0;
	if (r < 0)
		goto out;
	if (osv)
		kv[nkv++] = (struct platform_kv){ "os_version", osv };
	r = platform_new(m.arch, m.os, kv, nkv, ret);
out:
	free(kv);
	free(tagcopy);
	free(osv);
	return r;
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
