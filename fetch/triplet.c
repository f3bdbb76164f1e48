/*
 * triplet.c - Julia platform triplets: parse and render
 *
 * platform_parse() is base/binaryplatforms.jl's parse(Platform, triplet)
 * (its regex, matched stage by stage with backtracking) and
 * platform_triplet() is triplet(p) (spec/julia-artifacts.md §1.3).  Both
 * work through the public platform API (fetch/platform.h) and version.h.
 */
#include "fetch/platform.h"

#include "fetch/version.h"
#include "store/util/buf.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TRIPLET_MAX (64u << 10)

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
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
	const char *key, *value;
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
	for (i = 0; platform_tag_at(p, i, &key, &value, NULL); i++) {
		if (triplet_hidden(key))
			continue;
		r = buf_addf(b, "-%s+%s", key, value);
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

		if (version_parse_u32(&d, &patch) < 0)
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
