/*
 * toml.c - TOML 1.0.0 reader
 *
 * A hand-written recursive-descent parser over a byte range.  Recursion
 * happens only for arrays and inline tables and is bounded by
 * TOML_MAX_DEPTH, which also bounds the depth of the tree it builds, so a
 * hostile document can neither overflow the stack nor make toml_free()
 * recurse deeply.  Line and column of an error are computed from the error
 * position only when an error occurs.  This file reads the structure
 * (documents, [headers], keys, arrays, inline tables); the scalar values
 * (strings, numbers, date-times) are read by toml_scalar.c through the
 * parser state of toml_int.h.  The tree itself (nodes, lookups, editing) is
 * in toml_tree.c, the writer in toml_write.c.
 */
#include "fetch/toml.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fetch/toml_int.h"
#include "fetch/toml_tree.h"
#include "store/util/buf.h"

/* --- parser state and errors ----------------------------------------------- */

struct keypart {
	char *s; /* malloc'ed, NUL-terminated */
	size_t len;
	const char *at; /* where the part starts in the input */
};

struct keypath {
	struct keypart *part;
	size_t n, cap;
};

int toml_fail(struct parser *ps, const char *at, int rc, const char *fmt, ...)
{
	const char *q, *line_start;
	unsigned line = 1;
	va_list ap;

	if (ps->failed)
		return rc;
	ps->failed = true;
	if (!ps->err)
		return rc;
	if (at > ps->end)
		at = ps->end;
	line_start = ps->start;
	for (q = ps->start; q < at; q++) {
		if (*q == '\n') {
			line++;
			line_start = q + 1;
		}
	}
	ps->err->line = line;
	ps->err->column = (unsigned)(at - line_start) + 1;
	va_start(ap, fmt);
	vsnprintf(ps->err->msg, sizeof(ps->err->msg), fmt, ap);
	va_end(ap);
	return rc;
}

int toml_fail_nomem(struct parser *ps)
{
	return toml_fail(ps, ps->p, -ENOMEM, "out of memory");
}

/* toml_describe_char - a printable description of the byte at p for messages. */
const char *toml_describe_char(const struct parser *ps, const char *p, char *out, size_t n)
{
	unsigned char c;

	if (p >= ps->end)
		return "end of input";
	c = (unsigned char)*p;
	if (c == '\n')
		return "newline";
	if (c == '\r')
		return "carriage return";
	if (c >= 0x21 && c < 0x7f)
		snprintf(out, n, "'%c'", c);
	else
		snprintf(out, n, "byte 0x%02x", c);
	return out;
}

static void keypath_release(struct keypath *kp)
{
	size_t i;

	for (i = 0; i < kp->n; i++)
		free(kp->part[i].s);
	free(kp->part);
	kp->part = NULL;
	kp->n = kp->cap = 0;
}

/* keypath_str - the first n parts joined by dots, for messages. */
static const char *keypath_str(const struct keypath *kp, size_t n, char *out, size_t outlen)
{
	size_t o = 0, i, j;

	for (i = 0; i < n && o + 1 < outlen; i++) {
		if (i)
			out[o++] = '.';
		for (j = 0; j < kp->part[i].len && o + 1 < outlen; j++) {
			unsigned char c = (unsigned char)kp->part[i].s[j];

			out[o++] = c < 0x20 || c == 0x7f ? '?' : (char)c;
		}
	}
	out[o] = '\0';
	return out;
}

/* --- lexical helpers -------------------------------------------------------- */

static bool is_bare(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c) || c == '-' ||
	       c == '_';
}

/* toml_utf8_seq - see toml_int.h. */
size_t toml_utf8_seq(const unsigned char *s, const unsigned char *end)
{
	size_t n = (size_t)(end - s), need, i;
	unsigned char lo = 0x80, hi = 0xbf;

	if (s[0] < 0x80)
		return 1;
	if (s[0] < 0xc2)
		return 0;
	if (s[0] < 0xe0) {
		need = 2;
	} else if (s[0] < 0xf0) {
		need = 3;
		if (s[0] == 0xe0)
			lo = 0xa0;
		else if (s[0] == 0xed)
			hi = 0x9f;
	} else if (s[0] < 0xf5) {
		need = 4;
		if (s[0] == 0xf0)
			lo = 0x90;
		else if (s[0] == 0xf4)
			hi = 0x8f;
	} else {
		return 0;
	}
	if (n < need || s[1] < lo || s[1] > hi)
		return 0;
	for (i = 2; i < need; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return need;
}

/*
 * toml_newline_len - 1 for LF, 2 for CRLF, 0 for anything else; a CR not followed
 * by LF is reported as an error through *rc.
 */
size_t toml_newline_len(struct parser *ps, const char *p, int *rc)
{
	*rc = 0;
	if (p >= ps->end)
		return 0;
	if (*p == '\n')
		return 1;
	if (*p == '\r') {
		if (p + 1 < ps->end && p[1] == '\n')
			return 2;
		*rc = toml_fail(ps, p, -EINVAL, "carriage return not followed by newline");
	}
	return 0;
}

/* parse_comment - skip a comment starting at '#', up to the end of line. */
static int parse_comment(struct parser *ps)
{
	const char *p = ps->p + 1;

	while (p < ps->end) {
		unsigned char c = (unsigned char)*p;

		if (c == '\n' || (c == '\r' && p + 1 < ps->end && p[1] == '\n'))
			break;
		if ((c < 0x20 && c != '\t') || c == 0x7f) {
			ps->p = p;
			return toml_fail(ps, p, -EINVAL, "control character 0x%02x in comment", c);
		}
		if (c >= 0x80) {
			size_t n = toml_utf8_seq(
				(const unsigned char *)p, (const unsigned char *)ps->end);

			if (!n)
				return toml_fail(ps, p, -EINVAL, "invalid UTF-8 in comment");
			p += n;
		} else {
			p++;
		}
	}
	ps->p = p;
	return 0;
}

int toml_skip_ws_nl(struct parser *ps, bool comments)
{
	size_t n;
	int r;

	for (;;) {
		skip_ws(ps);
		if (ps->p >= ps->end)
			return 0;
		if (comments && *ps->p == '#') {
			r = parse_comment(ps);
			if (r < 0)
				return r;
			continue;
		}
		n = toml_newline_len(ps, ps->p, &r);
		if (r < 0)
			return r;
		if (!n)
			return 0;
		ps->p += n;
	}
}

/* expect_eol - whitespace, an optional comment, then a newline or the end. */
static int expect_eol(struct parser *ps)
{
	char d[16];
	size_t n;
	int r;

	skip_ws(ps);
	if (ps->p < ps->end && *ps->p == '#') {
		r = parse_comment(ps);
		if (r < 0)
			return r;
	}
	if (ps->p >= ps->end)
		return 0;
	n = toml_newline_len(ps, ps->p, &r);
	if (r < 0)
		return r;
	if (!n)
		return toml_fail(ps, ps->p, -EINVAL, "expected newline, found %s",
			toml_describe_char(ps, ps->p, d, sizeof(d)));
	ps->p += n;
	return 0;
}

/* --- keys ------------------------------------------------------------------- */

static int parse_simple_key(struct parser *ps, struct keypart *kp)
{
	const char *at = ps->p;
	char d[16];
	int r;

	kp->at = at;
	if (at < ps->end && (*at == '"' || *at == '\'')) {
		r = toml_scalar_string(ps, true);
		if (r < 0)
			return r;
		kp->s = toml_memdup0(ps->sb.ptr ? ps->sb.ptr : "", ps->sb.len);
		kp->len = ps->sb.len;
	} else {
		while (ps->p < ps->end && is_bare(*ps->p))
			ps->p++;
		if (ps->p == at)
			return toml_fail(ps, at, -EINVAL, "expected a key, found %s",
				toml_describe_char(ps, at, d, sizeof(d)));
		kp->len = (size_t)(ps->p - at);
		kp->s = toml_memdup0(at, kp->len);
	}
	if (!kp->s)
		return toml_fail_nomem(ps);
	return 0;
}

/* parse_key - a possibly dotted key; trailing whitespace is skipped. */
static int parse_key(struct parser *ps, struct keypath *kp)
{
	int r;

	for (;;) {
		if (kp->n == kp->cap) {
			size_t cap = kp->cap ? kp->cap * 2 : 4;
			struct keypart *p;

			if (kp->n >= TOML_MAX_DEPTH)
				return toml_fail(ps, ps->p, -E2BIG,
					"key nested deeper than %d levels", TOML_MAX_DEPTH);
			p = realloc(kp->part, cap * sizeof(*p));
			if (!p)
				return toml_fail_nomem(ps);
			kp->part = p;
			kp->cap = cap;
		}
		r = parse_simple_key(ps, &kp->part[kp->n]);
		if (r < 0)
			return r;
		kp->n++;
		skip_ws(ps);
		if (ps->p >= ps->end || *ps->p != '.')
			return 0;
		ps->p++;
		skip_ws(ps);
	}
}

/*
 * table_add_child - add to t a new empty table named by key part k, with
 * flags (how it came to be: TOML_F_DOTTED, TOML_F_IMPLICIT); *ret is the
 * new table.  Returns 0, or the parse error of running out of memory.
 */
static int table_add_child(struct parser *ps, struct toml_value *t, const struct keypart *k,
	unsigned flags, struct toml_value **ret)
{
	char *key = toml_memdup0(k->s, k->len);
	struct toml_value *v = toml_value_new(TOML_TABLE);

	if (!key || !v || toml_table_add(t, key, k->len, v) < 0) {
		free(key);
		free(v);
		return toml_fail_nomem(ps);
	}
	v->flags = flags;
	*ret = v;
	return 0;
}

/* --- values ----------------------------------------------------------------- */

static bool is_value_end(const struct parser *ps, const char *p)
{
	return p >= ps->end || is_ws(*p) || *p == '\n' || *p == '\r' || *p == '#' || *p == ',' ||
	       *p == ']' || *p == '}';
}

static int parse_value(struct parser *ps, unsigned depth, struct toml_value **ret);
static int parse_keyval(struct parser *ps, struct toml_value *t, unsigned depth);

static int parse_array(struct parser *ps, unsigned depth, struct toml_value **ret)
{
	const char *at = ps->p;
	struct toml_value *a, *v;
	char d[16];
	int r;

	if (depth > TOML_MAX_DEPTH)
		return toml_fail(ps, at, -E2BIG, "nested deeper than %d levels", TOML_MAX_DEPTH);
	a = toml_value_new(TOML_ARRAY);
	if (!a)
		return toml_fail_nomem(ps);
	ps->p++;
	for (;;) {
		r = toml_skip_ws_nl(ps, true);
		if (r < 0)
			goto out;
		if (ps->p >= ps->end) {
			r = toml_fail(ps, at, -EINVAL, "unterminated array");
			goto out;
		}
		if (*ps->p == ']')
			break;
		r = parse_value(ps, depth + 1, &v);
		if (r < 0)
			goto out;
		if (toml_array_add(a, v) < 0) {
			toml_free(v);
			r = toml_fail_nomem(ps);
			goto out;
		}
		r = toml_skip_ws_nl(ps, true);
		if (r < 0)
			goto out;
		if (ps->p < ps->end && *ps->p == ',') {
			ps->p++;
			continue;
		}
		if (ps->p < ps->end && *ps->p == ']')
			break;
		if (ps->p >= ps->end)
			r = toml_fail(ps, at, -EINVAL, "unterminated array");
		else
			r = toml_fail(ps, ps->p, -EINVAL, "expected ',' or ']' in array, found %s",
				toml_describe_char(ps, ps->p, d, sizeof(d)));
		goto out;
	}
	ps->p++;
	*ret = a;
	return 0;
out:
	toml_free(a);
	return r;
}

static int parse_inline_table(struct parser *ps, unsigned depth, struct toml_value **ret)
{
	const char *at = ps->p;
	struct toml_value *t;
	char d[16];
	int r = 0;

	if (depth > TOML_MAX_DEPTH)
		return toml_fail(ps, at, -E2BIG, "nested deeper than %d levels", TOML_MAX_DEPTH);
	t = toml_value_new(TOML_TABLE);
	if (!t)
		return toml_fail_nomem(ps);
	ps->p++;
	skip_ws(ps);
	if (ps->p < ps->end && *ps->p == '}')
		goto done;
	for (;;) {
		if (ps->p >= ps->end) {
			r = toml_fail(ps, at, -EINVAL, "unterminated inline table");
			goto out;
		}
		r = parse_keyval(ps, t, depth);
		if (r < 0)
			goto out;
		skip_ws(ps);
		if (ps->p < ps->end && *ps->p == ',') {
			ps->p++;
			skip_ws(ps);
			if (ps->p < ps->end && *ps->p == '}') {
				r = toml_fail(ps, ps->p, -EINVAL, "trailing comma in inline table");
				goto out;
			}
			continue;
		}
		if (ps->p < ps->end && *ps->p == '}')
			break;
		if (ps->p >= ps->end)
			r = toml_fail(ps, at, -EINVAL, "unterminated inline table");
		else
			r = toml_fail(ps, ps->p, -EINVAL,
				"expected ',' or '}' in inline table, found %s",
				toml_describe_char(ps, ps->p, d, sizeof(d)));
		goto out;
	}
done:
	ps->p++;
	t->flags |= TOML_F_INLINE;
	*ret = t;
	return 0;
out:
	toml_free(t);
	return r;
}

/* parse_value - any value at ps->p, to be stored at the given depth. */
static int parse_value(struct parser *ps, unsigned depth, struct toml_value **ret)
{
	const char *p = ps->p;
	struct toml_value *v = NULL;
	char d[16];
	int r;

	if (p >= ps->end)
		return toml_fail(ps, p, -EINVAL, "expected a value, found end of input");
	switch (*p) {
	case '"':
	case '\'':
		r = toml_scalar_string(ps, false);
		if (r < 0)
			return r;
		v = toml_value_new(TOML_STRING);
		if (!v)
			return toml_fail_nomem(ps);
		v->u.str.len = ps->sb.len;
		v->u.str.ptr = toml_memdup0(ps->sb.ptr ? ps->sb.ptr : "", ps->sb.len);
		if (!v->u.str.ptr) {
			free(v);
			return toml_fail_nomem(ps);
		}
		break;
	case '[':
		return parse_array(ps, depth, ret);
	case '{':
		return parse_inline_table(ps, depth, ret);
	case 't':
	case 'f':
		if (peek_is(ps, p, "true", 4) || peek_is(ps, p, "false", 5)) {
			v = toml_value_new(TOML_BOOL);
			if (!v)
				return toml_fail_nomem(ps);
			v->u.b = *p == 't';
			ps->p += v->u.b ? 4 : 5;
			break;
		}
		return toml_fail(ps, p, -EINVAL, "invalid value");
	default:
		if (is_digit(*p) && ((ps->end - p >= 5 && is_digit(p[1]) && is_digit(p[2]) &&
					     is_digit(p[3]) && p[4] == '-') ||
					    (ps->end - p >= 3 && is_digit(p[1]) && p[2] == ':')))
			r = toml_scalar_datetime(ps, &v);
		else if (is_digit(*p) || *p == '+' || *p == '-' || *p == 'i' || *p == 'n')
			r = toml_scalar_number(ps, &v);
		else
			return toml_fail(ps, p, -EINVAL, "expected a value, found %s",
				toml_describe_char(ps, p, d, sizeof(d)));
		if (r < 0)
			return r;
		break;
	}
	if (!is_value_end(ps, ps->p)) {
		toml_free(v);
		return toml_fail(ps, ps->p, -EINVAL, "unexpected %s after value",
			toml_describe_char(ps, ps->p, d, sizeof(d)));
	}
	*ret = v;
	return 0;
}

/*
 * parse_keyval - key = value into table t (at depth below the root).
 * Dotted keys may only pass through tables created by dotted keys, so they
 * can neither extend a table defined by a header (or created implicitly by
 * one) nor an inline table or an array.
 */
static int parse_keyval(struct parser *ps, struct toml_value *t, unsigned depth)
{
	struct keypath kp = {0};
	struct toml_value *v, *val;
	struct keypart *last;
	char ks[128], d[16];
	size_t i;
	int r;

	r = parse_key(ps, &kp);
	if (r < 0)
		goto out;
	if (ps->p >= ps->end || *ps->p != '=') {
		r = toml_fail(ps, ps->p, -EINVAL, "expected '=' after key, found %s",
			toml_describe_char(ps, ps->p, d, sizeof(d)));
		goto out;
	}
	ps->p++;
	skip_ws(ps);
	for (i = 0; i + 1 < kp.n; i++) {
		struct keypart *k = &kp.part[i];

		depth++;
		if (depth > TOML_MAX_DEPTH) {
			r = toml_fail(
				ps, k->at, -E2BIG, "nested deeper than %d levels", TOML_MAX_DEPTH);
			goto out;
		}
		v = toml_table_lookup(t, k->s, k->len);
		if (!v) {
			r = table_add_child(ps, t, k, TOML_F_DOTTED, &v);
			if (r < 0)
				goto out;
		} else if (v->type != TOML_TABLE || !(v->flags & TOML_F_DOTTED) ||
			   (v->flags & TOML_F_INLINE)) {
			r = toml_fail(ps, k->at, -EINVAL,
				"cannot add keys to '%s' with a dotted key",
				keypath_str(&kp, i + 1, ks, sizeof(ks)));
			goto out;
		}
		t = v;
	}
	last = &kp.part[kp.n - 1];
	if (toml_table_lookup(t, last->s, last->len)) {
		r = toml_fail(ps, last->at, -EINVAL, "duplicate key '%s'",
			keypath_str(&kp, kp.n, ks, sizeof(ks)));
		goto out;
	}
	r = parse_value(ps, depth + 1, &val);
	if (r < 0)
		goto out;
	if (toml_table_add(t, last->s, last->len, val) < 0) {
		toml_free(val);
		r = toml_fail_nomem(ps);
		goto out;
	}
	last->s = NULL; /* owned by the table now */
out:
	keypath_release(&kp);
	return r;
}

/* parse_header - a [table] or [[array of tables]] line. */
static int parse_header(struct parser *ps)
{
	bool aot = ps->p + 1 < ps->end && ps->p[1] == '[';
	struct toml_value *t = ps->root, *v, *nt = NULL;
	struct keypath kp = {0};
	struct keypart *last;
	unsigned depth = 0;
	char ks[128], d[16];
	size_t i;
	int r;

	ps->p += aot ? 2 : 1;
	skip_ws(ps);
	r = parse_key(ps, &kp);
	if (r < 0)
		goto out;
	if (!peek_is(ps, ps->p, "]]", aot ? 2 : 1)) {
		r = toml_fail(ps, ps->p, -EINVAL, "expected '%s' after table name, found %s",
			aot ? "]]" : "]", toml_describe_char(ps, ps->p, d, sizeof(d)));
		goto out;
	}
	ps->p += aot ? 2 : 1;
	for (i = 0; i + 1 < kp.n; i++) {
		struct keypart *k = &kp.part[i];

		v = toml_table_lookup(t, k->s, k->len);
		if (!v) {
			r = table_add_child(ps, t, k, TOML_F_IMPLICIT, &v);
			if (r < 0)
				goto out;
		} else if (v->type == TOML_TABLE && !(v->flags & TOML_F_INLINE)) {
			/* descend */
		} else if (v->type == TOML_ARRAY && (v->flags & TOML_F_AOT) && v->u.arr.len) {
			v = v->u.arr.item[v->u.arr.len - 1];
			depth++;
		} else {
			r = toml_fail(ps, k->at, -EINVAL,
				"'%s' is not a table that can be extended",
				keypath_str(&kp, i + 1, ks, sizeof(ks)));
			goto out;
		}
		depth++;
		if (depth + (aot ? 2 : 1) > TOML_MAX_DEPTH) {
			r = toml_fail(
				ps, k->at, -E2BIG, "nested deeper than %d levels", TOML_MAX_DEPTH);
			goto out;
		}
		t = v;
	}
	last = &kp.part[kp.n - 1];
	v = toml_table_lookup(t, last->s, last->len);
	keypath_str(&kp, kp.n, ks, sizeof(ks));
	if (aot) {
		if (!v) {
			v = toml_value_new(TOML_ARRAY);
			if (!v || toml_table_add(t, last->s, last->len, v) < 0) {
				free(v);
				r = toml_fail_nomem(ps);
				goto out;
			}
			last->s = NULL;
			v->flags = TOML_F_AOT;
		} else if (v->type != TOML_ARRAY || !(v->flags & TOML_F_AOT)) {
			r = toml_fail(ps, last->at, -EINVAL, "'%s' is already defined as %s", ks,
				v->type == TOML_TABLE ? "a table" : "a value");
			goto out;
		}
		nt = toml_value_new(TOML_TABLE);
		if (!nt || toml_array_add(v, nt) < 0) {
			free(nt);
			r = toml_fail_nomem(ps);
			goto out;
		}
		nt->flags = TOML_F_HEADER;
		depth += 2;
	} else {
		if (!v) {
			nt = toml_value_new(TOML_TABLE);
			if (!nt || toml_table_add(t, last->s, last->len, nt) < 0) {
				free(nt);
				r = toml_fail_nomem(ps);
				goto out;
			}
			last->s = NULL;
		} else if (v->type == TOML_TABLE && v->flags == TOML_F_IMPLICIT) {
			nt = v;
		} else {
			r = toml_fail(ps, last->at, -EINVAL, "%s '%s' is already defined",
				v->type == TOML_TABLE ? "table" : "key", ks);
			goto out;
		}
		nt->flags = TOML_F_HEADER;
		depth += 1;
	}
	ps->cur = nt;
	ps->cur_depth = depth;
out:
	keypath_release(&kp);
	return r;
}

static int parse_document(struct parser *ps)
{
	size_t n;
	int r;

	if (peek_is(ps, ps->p, "\xef\xbb\xbf", 3))
		ps->p += 3;
	while (ps->p < ps->end) {
		skip_ws(ps);
		if (ps->p >= ps->end)
			break;
		n = toml_newline_len(ps, ps->p, &r);
		if (r < 0)
			return r;
		if (n) {
			ps->p += n;
			continue;
		}
		if (*ps->p == '[')
			r = parse_header(ps);
		else if (*ps->p != '#')
			r = parse_keyval(ps, ps->cur, ps->cur_depth);
		else
			r = 0;
		if (r < 0)
			return r;
		r = expect_eol(ps);
		if (r < 0)
			return r;
	}
	return 0;
}

int toml_parse(const char *data, size_t len, struct toml_value **ret, struct toml_error *err)
{
	struct parser ps;
	int r;

	if (err)
		memset(err, 0, sizeof(*err));
	if (len > TOML_MAX_INPUT) {
		if (err) {
			err->line = err->column = 1;
			snprintf(err->msg, sizeof(err->msg), "document larger than %u bytes",
				TOML_MAX_INPUT);
		}
		return -E2BIG;
	}
	memset(&ps, 0, sizeof(ps));
	ps.start = ps.p = data;
	ps.end = data + len;
	ps.err = err;
	buf_init(&ps.sb, TOML_MAX_INPUT);
	ps.root = toml_value_new(TOML_TABLE);
	if (!ps.root) {
		r = toml_fail_nomem(&ps);
		goto out;
	}
	ps.root->flags = TOML_F_HEADER;
	ps.cur = ps.root;
	r = parse_document(&ps);
	if (r < 0)
		goto out;
	*ret = ps.root;
	ps.root = NULL;
out:
	toml_free(ps.root);
	buf_release(&ps.sb);
	return r;
}

/* set_errmsg - *errmsg = the formatted message, or NULL without memory. */
static void __attribute__((format(printf, 2, 3))) set_errmsg(char **errmsg, const char *fmt, ...)
{
	struct buf b;
	va_list ap;
	int r;

	if (!errmsg)
		return;
	buf_init(&b, 4096);
	va_start(ap, fmt);
	r = buf_vaddf(&b, fmt, ap);
	va_end(ap);
	*errmsg = r < 0 ? NULL : buf_detach(&b, NULL);
	buf_release(&b);
}

int toml_parse_file(const char *path, struct toml_value **ret, char **errmsg)
{
	struct toml_error err;
	char chunk[16384];
	struct buf b;
	int fd, r = 0;
	ssize_t n;

	if (errmsg)
		*errmsg = NULL;
	buf_init(&b, TOML_MAX_INPUT);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		set_errmsg(errmsg, "%s: %s", path, strerror(-r));
		goto out;
	}
	for (;;) {
		n = read(fd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			r = n < 0 ? -errno : 0;
			break;
		}
		r = buf_add(&b, chunk, (size_t)n);
		if (r < 0)
			break;
	}
	close(fd);
	if (r == -E2BIG) {
		set_errmsg(errmsg, "%s: document larger than %u bytes", path, TOML_MAX_INPUT);
		goto out;
	}
	if (r < 0) {
		set_errmsg(errmsg, "%s: %s", path, strerror(-r));
		goto out;
	}
	r = toml_parse(b.ptr ? b.ptr : "", b.len, ret, &err);
	if (r < 0)
		set_errmsg(errmsg, "%s:%u:%u: %s", path, err.line, err.column, err.msg);
out:
	buf_release(&b);
	return r;
}
