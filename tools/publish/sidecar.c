/*
 * sidecar.c - the sidecar JSON of a published tarball: write, read, and the
 * JSON string writer shared by publish and index
 *
 * The reader is a strict RFC 8259 parser of one object, kept small: string,
 * number, true, false and null values are read; nested objects and arrays
 * are checked and skipped (up to 32 levels), so a later version may add
 * keys of any type.
 */
#include "tools/publish/sidecar.h"

#include "store/hash.h"
#include "store/util/buf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_DEPTH 32

void sidecar_release(struct sidecar *s)
{
	if (!s)
		return;
	free(s->name);
	free(s->platform);
	free(s->created);
	free(s->tool);
	memset(s, 0, sizeof(*s));
}

int json_add_str(struct buf *b, const char *s)
{
	int r;

	if (!s)
		return buf_adds(b, "null");
	r = buf_addc(b, '"');
	for (; r == 0 && *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			r = buf_addf(b, "\\%c", c);
		else if (c == '\n')
			r = buf_adds(b, "\\n");
		else if (c < 0x20 || c == 0x7f)
			r = buf_addf(b, "\\u%04x", c);
		else
			r = buf_addc(b, (char)c);
	}
	return r ? r : buf_addc(b, '"');
}

int sidecar_format(const struct sidecar *s, char **ret, size_t *len)
{
	struct buf b;
	char *out;
	int r;

	if (!s->name || !*s->name || !hash_hex_valid(s->tree, 40) || !hash_hex_valid(s->sha256, 64))
		return -EINVAL;
	buf_init(&b, SIDECAR_MAX);
	if ((r = buf_adds(&b, "{\"name\": ")) < 0 || (r = json_add_str(&b, s->name)) < 0 ||
		(r = buf_adds(&b, ", \"platform\": ")) < 0 ||
		(r = json_add_str(&b, s->platform)) < 0 ||
		(r = buf_addf(&b, ", \"git-tree-sha1\": \"%s\", \"sha256\": \"%s\", \"size\": %llu",
			 s->tree, s->sha256, (unsigned long long)s->size)) < 0 ||
		(r = buf_adds(&b, ", \"created\": ")) < 0 ||
		(r = json_add_str(&b, s->created)) < 0 || (r = buf_adds(&b, ", \"tool\": ")) < 0 ||
		(r = json_add_str(&b, s->tool)) < 0 || (r = buf_adds(&b, "}\n")) < 0)
		goto out;
	out = buf_detach(&b, len);
	if (!out) {
		r = -ENOMEM;
		goto out;
	}
	*ret = out;
	r = 0;
out:
	buf_release(&b);
	return r;
}

/* ---- the reader ---------------------------------------------------------- */

struct rd {
	const char *p, *end;
	const char *err; /* static reason */
	int depth;
};

enum jtype { J_STRING, J_NUMBER, J_TRUE, J_FALSE, J_NULL, J_OTHER };

static void ws(struct rd *r)
{
	while (r->p < r->end && (*r->p == ' ' || *r->p == '\t' || *r->p == '\n' || *r->p == '\r'))
		r->p++;
}

static int fail(struct rd *r, const char *why)
{
	if (!r->err)
		r->err = why;
	return -EBADMSG;
}

static int hex4(struct rd *r, unsigned *v)
{
	int i;

	*v = 0;
	if (r->end - r->p < 4)
		return fail(r, "truncated \\u escape");
	for (i = 0; i < 4; i++) {
		char c = *r->p++;

		*v <<= 4;
		if (c >= '0' && c <= '9')
			*v |= (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			*v |= (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			*v |= (unsigned)(c - 'A' + 10);
		else
			return fail(r, "bad \\u escape");
	}
	return 0;
}

static int add_utf8(struct buf *b, unsigned cp)
{
	char u[4];
	size_t n;

	if (cp < 0x80) {
		u[0] = (char)cp;
		n = 1;
	} else if (cp < 0x800) {
		u[0] = (char)(0xc0 | (cp >> 6));
		u[1] = (char)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		u[0] = (char)(0xe0 | (cp >> 12));
		u[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		u[2] = (char)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		u[0] = (char)(0xf0 | (cp >> 18));
		u[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
		u[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
		u[3] = (char)(0x80 | (cp & 0x3f));
		n = 4;
	}
	return buf_add(b, u, n);
}

/* A string at r->p (after its opening quote) into out (may be NULL: skip). */
static int string(struct rd *r, struct buf *out)
{
	unsigned cp, lo;
	int e = 0;

	while (r->p < r->end) {
		unsigned char c = (unsigned char)*r->p++;

		if (c == '"')
			return 0;
		if (c < 0x20)
			return fail(r, "control character in a string");
		if (c != '\\') {
			if (out && (e = buf_addc(out, (char)c)) < 0)
				return e;
			continue;
		}
		if (r->p >= r->end)
			break;
		c = (unsigned char)*r->p++;
		switch (c) {
		case '"':
		case '\\':
		case '/':
			break;
		case 'b':
			c = '\b';
			break;
		case 'f':
			c = '\f';
			break;
		case 'n':
			c = '\n';
			break;
		case 'r':
			c = '\r';
			break;
		case 't':
			c = '\t';
			break;
		case 'u':
			if (hex4(r, &cp) < 0)
				return -EBADMSG;
			if (cp >= 0xd800 && cp < 0xdc00) {
				if (r->end - r->p < 2 || r->p[0] != '\\' || r->p[1] != 'u')
					return fail(r, "lone surrogate");
				r->p += 2;
				if (hex4(r, &lo) < 0)
					return -EBADMSG;
				if (lo < 0xdc00 || lo > 0xdfff)
					return fail(r, "lone surrogate");
				cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
			} else if (cp >= 0xdc00 && cp < 0xe000) {
				return fail(r, "lone surrogate");
			}
			if (cp == 0)
				return fail(r, "NUL in a string");
			if (out && (e = add_utf8(out, cp)) < 0)
				return e;
			continue;
		default:
			return fail(r, "bad escape");
		}
		if (out && (e = buf_addc(out, (char)c)) < 0)
			return e;
	}
	return fail(r, "unterminated string");
}

static int number(struct rd *r, struct buf *out)
{
	const char *s = r->p;

	if (r->p < r->end && *r->p == '-')
		r->p++;
	if (r->p >= r->end || *r->p < '0' || *r->p > '9')
		return fail(r, "bad number");
	if (*r->p == '0')
		r->p++;
	else
		while (r->p < r->end && *r->p >= '0' && *r->p <= '9')
			r->p++;
	if (r->p < r->end && *r->p == '.') {
		r->p++;
		if (r->p >= r->end || *r->p < '0' || *r->p > '9')
			return fail(r, "bad number");
		while (r->p < r->end && *r->p >= '0' && *r->p <= '9')
			r->p++;
	}
	if (r->p < r->end && (*r->p == 'e' || *r->p == 'E')) {
		r->p++;
		if (r->p < r->end && (*r->p == '+' || *r->p == '-'))
			r->p++;
		if (r->p >= r->end || *r->p < '0' || *r->p > '9')
			return fail(r, "bad number");
		while (r->p < r->end && *r->p >= '0' && *r->p <= '9')
			r->p++;
	}
	return out ? buf_add(out, s, (size_t)(r->p - s)) : 0;
}

static int word(struct rd *r, const char *w)
{
	size_t n = strlen(w);

	if ((size_t)(r->end - r->p) < n || memcmp(r->p, w, n) != 0)
		return fail(r, "unexpected character");
	r->p += n;
	return 0;
}

/*
 * One value.  Scalars go into out (may be NULL) and their type into *type;
 * objects and arrays are checked and skipped (J_OTHER).
 */
static int value(struct rd *r, struct buf *out, enum jtype *type)
{
	enum jtype t;
	int e;

	ws(r);
	if (r->p >= r->end)
		return fail(r, "unexpected end");
	switch (*r->p) {
	case '"':
		r->p++;
		*type = J_STRING;
		return string(r, out);
	case 't':
		*type = J_TRUE;
		return word(r, "true");
	case 'f':
		*type = J_FALSE;
		return word(r, "false");
	case 'n':
		*type = J_NULL;
		return word(r, "null");
	case '{':
	case '[': {
		char close = *r->p == '{' ? '}' : ']';
		bool obj = close == '}';

		*type = J_OTHER;
		if (++r->depth > MAX_DEPTH)
			return -E2BIG;
		r->p++;
		ws(r);
		if (r->p < r->end && *r->p == close) {
			r->p++;
			r->depth--;
			return 0;
		}
		for (;;) {
			if (obj) {
				ws(r);
				if (r->p >= r->end || *r->p != '"')
					return fail(r, "object key expected");
				r->p++;
				if ((e = string(r, NULL)) < 0)
					return e;
				ws(r);
				if (r->p >= r->end || *r->p++ != ':')
					return fail(r, "':' expected");
			}
			if ((e = value(r, NULL, &t)) < 0)
				return e;
			ws(r);
			if (r->p < r->end && *r->p == ',') {
				r->p++;
				continue;
			}
			if (r->p < r->end && *r->p == close) {
				r->p++;
				r->depth--;
				return 0;
			}
			return fail(r, "',' or end of container expected");
		}
	}
	default:
		*type = J_NUMBER;
		return number(r, out);
	}
}

static int take_hex(const struct buf *v, enum jtype t, size_t n, char *dst)
{
	if (t != J_STRING || !hash_hex_lower(v->ptr, v->len, n, dst))
		return -EBADMSG;
	return 0;
}

static int take_str(struct buf *v, enum jtype t, bool nullable, char **dst)
{
	if (t == J_NULL && nullable) {
		free(*dst);
		*dst = NULL;
		return 0;
	}
	if (t != J_STRING || memchr(v->ptr ? v->ptr : "", '\0', v->len))
		return -EBADMSG;
	free(*dst);
	*dst = strdup(v->ptr ? v->ptr : "");
	return *dst ? 0 : -ENOMEM;
}

static int take_size(const struct buf *v, enum jtype t, uint64_t *dst)
{
	uint64_t n = 0;
	size_t i;

	if (t != J_NUMBER || v->len == 0 || v->len > 19)
		return -EBADMSG;
	for (i = 0; i < v->len; i++) {
		if (v->ptr[i] < '0' || v->ptr[i] > '9')
			return -EBADMSG; /* negative, fraction or exponent */
		n = n * 10 + (uint64_t)(v->ptr[i] - '0');
	}
	*dst = n;
	return 0;
}

enum { HAVE_NAME = 1, HAVE_PLATFORM = 2, HAVE_TREE = 4, HAVE_SHA = 8, HAVE_SIZE = 16 };

static int member(struct sidecar *s, const char *key, struct buf *v, enum jtype t, unsigned *have,
	const char **bad)
{
	int e = 0;

	*bad = key;
	if (strcmp(key, "name") == 0) {
		if ((e = take_str(v, t, false, &s->name)) == 0 && !*s->name)
			e = -EBADMSG;
		*have |= HAVE_NAME;
	} else if (strcmp(key, "platform") == 0) {
		e = take_str(v, t, true, &s->platform);
		*have |= HAVE_PLATFORM;
	} else if (strcmp(key, "git-tree-sha1") == 0) {
		e = take_hex(v, t, 40, s->tree);
		*have |= HAVE_TREE;
	} else if (strcmp(key, "sha256") == 0) {
		e = take_hex(v, t, 64, s->sha256);
		*have |= HAVE_SHA;
	} else if (strcmp(key, "size") == 0) {
		e = take_size(v, t, &s->size);
		*have |= HAVE_SIZE;
	} else if (strcmp(key, "created") == 0) {
		e = take_str(v, t, true, &s->created);
	} else if (strcmp(key, "tool") == 0) {
		e = take_str(v, t, true, &s->tool);
	}
	return e;
}

int sidecar_parse(const char *json, size_t len, struct sidecar *ret, char **errmsg)
{
	struct rd r = {.p = json, .end = json + len};
	struct sidecar s = {0};
	struct buf key, v;
	const char *bad = NULL;
	unsigned have = 0;
	enum jtype t;
	int e;

	if (errmsg)
		*errmsg = NULL;
	if (len > SIDECAR_MAX)
		return -E2BIG;
	buf_init(&key, SIDECAR_MAX);
	buf_init(&v, SIDECAR_MAX);
	ws(&r);
	if (r.p >= r.end || *r.p++ != '{') {
		e = fail(&r, "not a JSON object");
		goto out;
	}
	ws(&r);
	if (r.p < r.end && *r.p == '}') {
		r.p++;
		goto end;
	}
	for (;;) {
		ws(&r);
		if (r.p >= r.end || *r.p++ != '"') {
			e = fail(&r, "object key expected");
			goto out;
		}
		buf_reset(&key);
		buf_reset(&v);
		if ((e = string(&r, &key)) < 0)
			goto out;
		ws(&r);
		if (r.p >= r.end || *r.p++ != ':') {
			e = fail(&r, "':' expected");
			goto out;
		}
		if ((e = value(&r, &v, &t)) < 0)
			goto out;
		if (key.ptr && (e = member(&s, key.ptr, &v, t, &have, &bad)) < 0) {
			if (e == -EBADMSG)
				r.err = "a key has a value of the wrong type";
			goto out;
		}
		bad = NULL;
		ws(&r);
		if (r.p < r.end && *r.p == ',') {
			r.p++;
			continue;
		}
		if (r.p < r.end && *r.p == '}') {
			r.p++;
			break;
		}
		e = fail(&r, "',' or '}' expected");
		goto out;
	}
end:
	ws(&r);
	if (r.p != r.end) {
		e = fail(&r, "text after the object");
		goto out;
	}
	if ((have & (HAVE_NAME | HAVE_TREE | HAVE_SHA | HAVE_SIZE)) !=
		(HAVE_NAME | HAVE_TREE | HAVE_SHA | HAVE_SIZE)) {
		e = fail(&r, "a required key (name, git-tree-sha1, sha256, size) is missing");
		goto out;
	}
	*ret = s;
	memset(&s, 0, sizeof(s));
	e = 0;
out:
	if (e == -EBADMSG && errmsg) {
		if (bad && asprintf(errmsg, "bad value of \"%s\"", bad) < 0)
			*errmsg = NULL;
		else if (!bad)
			*errmsg = strdup(r.err ? r.err : "malformed JSON");
	}
	sidecar_release(&s);
	buf_release(&key);
	buf_release(&v);
	return e;
}

bool sidecar_is_key(const char *key)
{
	static const char *const ext[] = {
		".tar.json",
		".tar.gz.json",
		".tgz.json",
		".tar.xz.json",
		".tar.bz2.json",
		".tar.zst.json",
	};
	const char *base = strrchr(key, '/');
	size_t n, i, k;

	base = base ? base + 1 : key;
	n = strlen(base);
	for (i = 0; i < sizeof(ext) / sizeof(ext[0]); i++) {
		k = strlen(ext[i]);
		if (n > k && strcmp(base + n - k, ext[i]) == 0)
			return true;
	}
	return false;
}

void sidecar_now(char out[21])
{
	const char *env = getenv("SOURCE_DATE_EPOCH");
	time_t t = time(NULL);
	struct tm tm;
	char *end;

	if (env && *env) {
		long long v = strtoll(env, &end, 10);

		if (!*end && v >= 0)
			t = (time_t)v;
	}
	if (!gmtime_r(&t, &tm) || strftime(out, 21, "%Y-%m-%dT%H:%M:%SZ", &tm) != 20)
		snprintf(out, 21, "1970-01-01T00:00:00Z");
}
