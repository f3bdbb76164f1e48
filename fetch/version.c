/*
 * version.c - Julia's VersionNumber: parse, compare, normalise
 *
 * The subset of base/version.jl that platform tags need (spec/julia-
 * artifacts.md §1.3): VERSION_REGEX, isless, and string(VersionNumber(s)).
 * Used by platform.c (version tags compare as versions) and triplet.c
 * (libgfortran, libstdcxx and OS versions in a triplet).  See version.h.
 */
#include "fetch/version.h"

#include "fetch/platform.h"
#include "store/util/buf.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

int version_parse_u32(const char **pp, uint32_t *ret)
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

/* take_idents - the identifiers at *p into *at and *len, *p past them; -EINVAL when none. */
static int take_idents(const char **p, const char **at, size_t *len)
{
	size_t n = scan_idents(*p);

	if (n == 0)
		return -EINVAL;
	*at = *p;
	*len = n;
	*p += n;
	return 0;
}

/*
 * Julia's VERSION_REGEX: v? major (.minor)? (.patch)? then either a lone
 * "-", or (-prerelease)? followed by a lone "+" or (+build)?.  Case is
 * ignored for the "v" (the regex has the i flag).
 */
int version_parse(const char *s, struct version *v)
{
	const char *p = s;

	memset(v, 0, sizeof(*v));
	if (*p == 'v' || *p == 'V')
		p++;
	if (version_parse_u32(&p, &v->major) < 0)
		return -EINVAL;
	if (*p == '.' && is_digit(p[1])) {
		p++;
		if (version_parse_u32(&p, &v->minor) < 0)
			return -EINVAL;
		if (*p == '.' && is_digit(p[1])) {
			p++;
			if (version_parse_u32(&p, &v->patch) < 0)
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
		if (take_idents(&p, &v->pre, &v->prelen) < 0)
			return -EINVAL;
	}
	if (*p == '+') {
		p++;
		v->has_build = true;
		if (*p != '\0' && take_idents(&p, &v->build, &v->buildlen) < 0)
			return -EINVAL;
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
int version_cmp(const struct version *a, const struct version *b)
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
int version_normalize(const char *s, char **ret)
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
