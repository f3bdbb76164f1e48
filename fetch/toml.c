/*
 * toml.c - TOML 1.0.0 reader
 *
 * A hand-written recursive-descent parser over a byte range.  Recursion
 * happens only for arrays and inline tables and is bounded by
 * TOML_MAX_DEPTH, which also bounds the depth of the tree it builds, so a
 * hostile document can neither overflow the stack nor make toml_free()
 * recurse deeply.  Line and column of an error are computed from the error
 * position only when an error occurs.  The tree itself (nodes, lookups,
 * editing) is in toml_tree.c, the writer in toml_write.c.
 */
#include "fetch/toml.h"

#include <errno.h>
#include <fcntl.h>
#include <locale.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

struct parser {
	const char *start, *p, *end;
	struct toml_error *err;
	bool failed;
	struct toml_value *root;
	struct toml_value *cur; /* table receiving key/value pairs */
	unsigned cur_depth;	/* its depth below the root */
	struct buf sb;		/* scratch for string contents */
};

static int __attribute__((format(printf, 4, 5)))
fail(struct parser *ps, const char *at, int rc, const char *fmt, ...)
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

static int fail_nomem(struct parser *ps)
{
	return fail(ps, ps->p, -ENOMEM, "out of memory");
}

/* describe_char - a printable description of the byte at p for messages. */
static const char *describe_char(const struct parser *ps, const char *p, char *out, size_t n)
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

static bool is_ws(char c)
{
	return c == ' ' || c == '\t';
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool is_hex(char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static bool is_bare(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c) || c == '-' ||
	       c == '_';
}

static int hex_val(char c)
{
	if (is_digit(c))
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return c - 'A' + 10;
}

static void skip_ws(struct parser *ps)
{
	while (ps->p < ps->end && is_ws(*ps->p))
		ps->p++;
}

/* peek_is - whether the input at p starts with the n bytes s. */
static bool peek_is(const struct parser *ps, const char *p, const char *s, size_t n)
{
	return (size_t)(ps->end - p) >= n && memcmp(p, s, n) == 0;
}

/*
 * utf8_seq - length of the valid UTF-8 sequence at s (1-4), or 0 when it is
 * malformed, overlong, a surrogate, beyond U+10FFFF or truncated.
 */
static size_t utf8_seq(const unsigned char *s, const unsigned char *end)
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
 * newline_len - 1 for LF, 2 for CRLF, 0 for anything else; a CR not followed
 * by LF is reported as an error through *rc.
 */
static size_t newline_len(struct parser *ps, const char *p, int *rc)
{
	*rc = 0;
	if (p >= ps->end)
		return 0;
	if (*p == '\n')
		return 1;
	if (*p == '\r') {
		if (p + 1 < ps->end && p[1] == '\n')
			return 2;
		*rc = fail(ps, p, -EINVAL, "carriage return not followed by newline");
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
			return fail(ps, p, -EINVAL, "control character 0x%02x in comment", c);
		}
		if (c >= 0x80) {
			size_t n =
				utf8_seq((const unsigned char *)p, (const unsigned char *)ps->end);

			if (!n)
				return fail(ps, p, -EINVAL, "invalid UTF-8 in comment");
			p += n;
		} else {
			p++;
		}
	}
	ps->p = p;
	return 0;
}

/* skip_ws_nl - skip whitespace, newlines and comments (inside arrays). */
static int skip_ws_nl(struct parser *ps)
{
	size_t n;
	int r;

	for (;;) {
		skip_ws(ps);
		if (ps->p >= ps->end)
			return 0;
		if (*ps->p == '#') {
			r = parse_comment(ps);
			if (r < 0)
				return r;
			continue;
		}
		n = newline_len(ps, ps->p, &r);
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
	n = newline_len(ps, ps->p, &r);
	if (r < 0)
		return r;
	if (!n)
		return fail(ps, ps->p, -EINVAL, "expected newline, found %s",
			describe_char(ps, ps->p, d, sizeof(d)));
	ps->p += n;
	return 0;
}

/* --- strings ---------------------------------------------------------------- */

static int sb_add(struct parser *ps, const char *p, size_t n)
{
	int r = buf_add(&ps->sb, p, n);

	if (r == -E2BIG)
		return fail(ps, ps->p, -E2BIG, "string too long");
	if (r < 0)
		return fail_nomem(ps);
	return 0;
}

static int sb_add_utf8(struct parser *ps, uint32_t cp)
{
	char b[4];
	size_t n;

	if (cp < 0x80) {
		b[0] = (char)cp;
		n = 1;
	} else if (cp < 0x800) {
		b[0] = (char)(0xc0 | (cp >> 6));
		b[1] = (char)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		b[0] = (char)(0xe0 | (cp >> 12));
		b[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		b[2] = (char)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		b[0] = (char)(0xf0 | (cp >> 18));
		b[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
		b[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
		b[3] = (char)(0x80 | (cp & 0x3f));
		n = 4;
	}
	return sb_add(ps, b, n);
}

/* parse_escape - an escape sequence at ps->p (just after the backslash). */
static int parse_escape(struct parser *ps, bool multiline)
{
	const char *at = ps->p - 1;
	uint32_t cp = 0;
	size_t n, i;
	char d[16];
	int r;

	if (ps->p >= ps->end)
		return fail(ps, at, -EINVAL, "unterminated string");
	switch (*ps->p) {
	case 'b':
		ps->p++;
		return sb_add(ps, "\b", 1);
	case 't':
		ps->p++;
		return sb_add(ps, "\t", 1);
	case 'n':
		ps->p++;
		return sb_add(ps, "\n", 1);
	case 'f':
		ps->p++;
		return sb_add(ps, "\f", 1);
	case 'r':
		ps->p++;
		return sb_add(ps, "\r", 1);
	case '"':
		ps->p++;
		return sb_add(ps, "\"", 1);
	case '\\':
		ps->p++;
		return sb_add(ps, "\\", 1);
	case 'u':
	case 'U':
		n = *ps->p == 'u' ? 4 : 8;
		ps->p++;
		for (i = 0; i < n; i++) {
			if (ps->p >= ps->end || !is_hex(*ps->p))
				return fail(ps, at, -EINVAL, "\\%c escape needs %zu hex digits",
					n == 4 ? 'u' : 'U', n);
			cp = cp << 4 | (uint32_t)hex_val(*ps->p++);
		}
		if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return fail(ps, at, -EINVAL, "escape is not a unicode scalar value");
		return sb_add_utf8(ps, cp);
	default:
		break;
	}
	if (multiline) {
		/* line-ending backslash: whitespace, a newline, then trim */
		const char *p = ps->p;

		while (p < ps->end && is_ws(*p))
			p++;
		n = newline_len(ps, p, &r);
		if (r < 0)
			return r;
		if (n) {
			ps->p = p;
			for (;;) {
				skip_ws(ps);
				n = newline_len(ps, ps->p, &r);
				if (r < 0)
					return r;
				if (!n)
					return 0;
				ps->p += n;
			}
		}
	}
	return fail(ps, at, -EINVAL, "invalid escape sequence '\\' followed by %s",
		describe_char(ps, ps->p, d, sizeof(d)));
}

/*
 * parse_string - a string of any of the four kinds at ps->p; its contents
 * go to ps->sb.  Keys (key = true) may not be multi-line.
 */
static int parse_string(struct parser *ps, bool key)
{
	const char *at = ps->p;
	char q = *ps->p;
	bool basic = q == '"';
	bool ml = peek_is(ps, ps->p, basic ? "\"\"\"" : "'''", 3);
	size_t n;
	int r;

	buf_reset(&ps->sb);
	if (ml && key)
		return fail(ps, at, -EINVAL, "multi-line string cannot be a key");
	if (ml) {
		ps->p += 3;
		n = newline_len(ps, ps->p, &r);
		if (r < 0)
			return r;
		ps->p += n;
	} else {
		ps->p++;
	}
	for (;;) {
		unsigned char c;

		if (ps->p >= ps->end)
			return fail(ps, at, -EINVAL, "unterminated string");
		c = (unsigned char)*ps->p;
		if (c == (unsigned char)q) {
			if (!ml) {
				ps->p++;
				return 0;
			}
			for (n = 0; ps->p + n < ps->end && ps->p[n] == q && n < 6; n++)
				;
			if (n >= 6)
				return fail(ps, ps->p, -EINVAL,
					"too many quotes at the end of a multi-line string");
			if (n >= 3) {
				r = sb_add(ps, ps->p, n - 3);
				ps->p += n;
				return r;
			}
			r = sb_add(ps, ps->p, n);
			if (r < 0)
				return r;
			ps->p += n;
			continue;
		}
		if (c == '\\' && basic) {
			ps->p++;
			r = parse_escape(ps, ml);
			if (r < 0)
				return r;
			continue;
		}
		if (c == '\n' || c == '\r') {
			if (!ml)
				return fail(ps, ps->p, -EINVAL, "newline in single-line string");
			n = newline_len(ps, ps->p, &r);
			if (r < 0)
				return r;
			r = sb_add(ps, "\n", 1);
			if (r < 0)
				return r;
			ps->p += n;
			continue;
		}
		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return fail(ps, ps->p, -EINVAL, "control character 0x%02x in string", c);
		n = 1;
		if (c >= 0x80) {
			n = utf8_seq((const unsigned char *)ps->p, (const unsigned char *)ps->end);
			if (!n)
				return fail(ps, ps->p, -EINVAL, "invalid UTF-8 in string");
		}
		r = sb_add(ps, ps->p, n);
		if (r < 0)
			return r;
		ps->p += n;
	}
}

/* --- keys ------------------------------------------------------------------- */

static int parse_simple_key(struct parser *ps, struct keypart *kp)
{
	const char *at = ps->p;
	char d[16];
	int r;

	kp->at = at;
	if (at < ps->end && (*at == '"' || *at == '\'')) {
		r = parse_string(ps, true);
		if (r < 0)
			return r;
		kp->s = toml_memdup0(ps->sb.ptr ? ps->sb.ptr : "", ps->sb.len);
		kp->len = ps->sb.len;
	} else {
		while (ps->p < ps->end && is_bare(*ps->p))
			ps->p++;
		if (ps->p == at)
			return fail(ps, at, -EINVAL, "expected a key, found %s",
				describe_char(ps, at, d, sizeof(d)));
		kp->len = (size_t)(ps->p - at);
		kp->s = toml_memdup0(at, kp->len);
	}
	if (!kp->s)
		return fail_nomem(ps);
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
				return fail(ps, ps->p, -E2BIG, "key nested deeper than %d levels",
					TOML_MAX_DEPTH);
			p = realloc(kp->part, cap * sizeof(*p));
			if (!p)
				return fail_nomem(ps);
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

/* --- scalars ---------------------------------------------------------------- */

static bool is_value_end(const struct parser *ps, const char *p)
{
	return p >= ps->end || is_ws(*p) || *p == '\n' || *p == '\r' || *p == '#' || *p == ',' ||
	       *p == ']' || *p == '}';
}

static bool is_base_digit(char c, int base)
{
	if (base == 16)
		return is_hex(c);
	return c >= '0' && c < '0' + base;
}

/*
 * scan_digits - digits of the base with single underscores between them,
 * starting at *pp (which must hold a digit); appends the digits to ps->sb.
 */
static int scan_digits(struct parser *ps, const char **pp, int base)
{
	const char *p = *pp;
	int r;

	if (!is_base_digit(*p, base))
		return fail(ps, p, -EINVAL, "invalid number");
	for (;;) {
		r = sb_add(ps, p, 1);
		if (r < 0)
			return r;
		p++;
		if (p >= ps->end)
			break;
		if (*p == '_') {
			p++;
			if (p >= ps->end || !is_base_digit(*p, base))
				return fail(ps, p, -EINVAL, "underscore must be between digits");
			continue;
		}
		if (!is_base_digit(*p, base))
			break;
	}
	*pp = p;
	return 0;
}

static int parse_prefixed_int(struct parser *ps, struct toml_value **ret)
{
	const char *at = ps->p, *p = ps->p + 2;
	int base = at[1] == 'x' ? 16 : at[1] == 'o' ? 8 : 2;
	unsigned shift = base == 16 ? 4 : base == 8 ? 3 : 1;
	uint64_t acc = 0;
	size_t i;
	int r;

	buf_reset(&ps->sb);
	if (p >= ps->end)
		return fail(ps, p, -EINVAL, "invalid number");
	r = scan_digits(ps, &p, base);
	if (r < 0)
		return r;
	for (i = 0; i < ps->sb.len; i++) {
		if (acc > (UINT64_MAX >> shift))
			return fail(ps, at, -EINVAL, "integer out of range");
		acc = acc << shift | (uint64_t)hex_val(ps->sb.ptr[i]);
	}
	if (acc > (uint64_t)INT64_MAX)
		return fail(ps, at, -EINVAL, "integer out of range");
	*ret = toml_value_new(TOML_INTEGER);
	if (!*ret)
		return fail_nomem(ps);
	(*ret)->u.i = (int64_t)acc;
	ps->p = p;
	return 0;
}

/*
 * parse_float_text - the float whose cleaned text (sign, digits, '.', 'e')
 * is in ps->sb.  strtod() follows LC_NUMERIC; should the locale's decimal
 * point not be '.', the text is retried with the locale's.
 */
static int parse_float_text(struct parser *ps, const char *at, struct toml_value **ret)
{
	struct buf *b = &ps->sb;
	char *dot, *end;
	double f;

	errno = 0;
	f = strtod(b->ptr, &end);
	dot = memchr(b->ptr, '.', b->len);
	if (end != b->ptr + b->len && dot) {
		const char *dp = localeconv()->decimal_point;
		size_t off = (size_t)(dot - b->ptr);
		struct buf tmp;

		buf_init(&tmp, b->max);
		if (buf_add(&tmp, b->ptr, off) < 0 || buf_adds(&tmp, dp) < 0 ||
			buf_add(&tmp, dot + 1, b->len - off - 1) < 0) {
			buf_release(&tmp);
			return fail_nomem(ps);
		}
		errno = 0;
		f = strtod(tmp.ptr, &end);
		end = end == tmp.ptr + tmp.len ? b->ptr + b->len : b->ptr;
		buf_release(&tmp);
	}
	if (end != b->ptr + b->len)
		return fail(ps, at, -EINVAL, "invalid float");
	if (errno == ERANGE && fabs(f) > 1.0)
		return fail(ps, at, -EINVAL, "float out of range");
	*ret = toml_value_new(TOML_FLOAT);
	if (!*ret)
		return fail_nomem(ps);
	(*ret)->u.f = f;
	return 0;
}

static int parse_number(struct parser *ps, struct toml_value **ret)
{
	const char *at = ps->p, *p = ps->p;
	bool neg = false, is_float = false;
	uint64_t acc = 0;
	size_t i;
	int r;

	buf_reset(&ps->sb);
	if (*p == '+' || *p == '-') {
		neg = *p == '-';
		r = sb_add(ps, p, 1);
		if (r < 0)
			return r;
		p++;
	}
	if (peek_is(ps, p, "inf", 3) || peek_is(ps, p, "nan", 3)) {
		bool inf = *p == 'i';

		*ret = toml_value_new(TOML_FLOAT);
		if (!*ret)
			return fail_nomem(ps);
		(*ret)->u.f = inf ? (neg ? -INFINITY : INFINITY) : (neg ? -NAN : NAN);
		ps->p = p + 3;
		return 0;
	}
	if (p == at && *p == '0' && p + 1 < ps->end && (p[1] == 'x' || p[1] == 'o' || p[1] == 'b'))
		return parse_prefixed_int(ps, ret);
	if (p >= ps->end || !is_digit(*p))
		return fail(ps, at, -EINVAL, "invalid number");
	if (*p == '0' && p + 1 < ps->end && (is_digit(p[1]) || p[1] == '_'))
		return fail(ps, at, -EINVAL, "leading zeros are not allowed");
	r = scan_digits(ps, &p, 10);
	if (r < 0)
		return r;
	if (p < ps->end && *p == '.') {
		r = sb_add(ps, p, 1);
		if (r < 0)
			return r;
		p++;
		if (p >= ps->end || !is_digit(*p))
			return fail(ps, p, -EINVAL, "expected digits after the decimal point");
		r = scan_digits(ps, &p, 10);
		if (r < 0)
			return r;
		is_float = true;
	}
	if (p < ps->end && (*p == 'e' || *p == 'E')) {
		r = sb_add(ps, p, 1);
		if (r < 0)
			return r;
		p++;
		if (p < ps->end && (*p == '+' || *p == '-')) {
			r = sb_add(ps, p, 1);
			if (r < 0)
				return r;
			p++;
		}
		if (p >= ps->end || !is_digit(*p))
			return fail(ps, p, -EINVAL, "expected digits in the exponent");
		r = scan_digits(ps, &p, 10);
		if (r < 0)
			return r;
		is_float = true;
	}
	ps->p = p;
	if (is_float)
		return parse_float_text(ps, at, ret);
	for (i = neg || *at == '+' ? 1 : 0; i < ps->sb.len; i++) {
		unsigned d = (unsigned)(ps->sb.ptr[i] - '0');

		if (acc > (UINT64_MAX - d) / 10)
			return fail(ps, at, -EINVAL, "integer out of range");
		acc = acc * 10 + d;
	}
	if (acc > (uint64_t)INT64_MAX + (neg ? 1 : 0))
		return fail(ps, at, -EINVAL, "integer out of range");
	*ret = toml_value_new(TOML_INTEGER);
	if (!*ret)
		return fail_nomem(ps);
	if (!neg)
		(*ret)->u.i = (int64_t)acc;
	else if (acc == (uint64_t)INT64_MAX + 1)
		(*ret)->u.i = INT64_MIN;
	else
		(*ret)->u.i = -(int64_t)acc;
	return 0;
}

/* read_2digits - two decimal digits at p, or -1. */
static int read_2digits(const struct parser *ps, const char *p)
{
	if (ps->end - p < 2 || !is_digit(p[0]) || !is_digit(p[1]))
		return -1;
	return (p[0] - '0') * 10 + (p[1] - '0');
}

static int days_in_month(int year, int month)
{
	static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;

	return month == 2 && leap ? 29 : days[month - 1];
}

/* parse_time - HH:MM:SS[.fraction] at ps->p into dt. */
static int parse_time(struct parser *ps, struct toml_datetime *dt)
{
	const char *at = ps->p, *p = ps->p;
	int n;

	dt->hour = read_2digits(ps, p);
	if (dt->hour < 0 || p + 2 >= ps->end || p[2] != ':')
		return fail(ps, at, -EINVAL, "invalid time");
	dt->minute = read_2digits(ps, p + 3);
	if (dt->minute < 0 || p + 5 >= ps->end || p[5] != ':')
		return fail(ps, at, -EINVAL, "invalid time (seconds are required)");
	dt->second = read_2digits(ps, p + 6);
	if (dt->second < 0)
		return fail(ps, at, -EINVAL, "invalid time (seconds are required)");
	if (dt->hour > 23 || dt->minute > 59 || dt->second > 60)
		return fail(ps, at, -EINVAL, "time out of range");
	p += 8;
	if (p < ps->end && *p == '.') {
		p++;
		if (p >= ps->end || !is_digit(*p))
			return fail(ps, p, -EINVAL, "expected digits after the decimal point");
		for (n = 0; p < ps->end && is_digit(*p); n++, p++) {
			if (n < 9) {
				dt->nanosecond = dt->nanosecond * 10 + (uint32_t)(*p - '0');
				dt->frac_digits++;
			}
		}
		for (n = dt->frac_digits; n < 9; n++)
			dt->nanosecond *= 10;
	}
	ps->p = p;
	return 0;
}

static int parse_datetime(struct parser *ps, struct toml_value **ret)
{
	const char *at = ps->p, *p = ps->p;
	struct toml_datetime dt;
	enum toml_type type;
	int r, y1, y2;

	memset(&dt, 0, sizeof(dt));
	if (read_2digits(ps, p) >= 0 && p + 2 < ps->end && p[2] == ':') {
		r = parse_time(ps, &dt);
		if (r < 0)
			return r;
		type = TOML_TIME_LOCAL;
		goto done;
	}
	if (ps->end - p < 10)
		return fail(ps, at, -EINVAL, "invalid date");
	y1 = read_2digits(ps, p);
	y2 = read_2digits(ps, p + 2);
	dt.month = read_2digits(ps, p + 5);
	dt.day = read_2digits(ps, p + 8);
	if (y1 < 0 || y2 < 0 || p[4] != '-' || dt.month < 0 || p[7] != '-' || dt.day < 0)
		return fail(ps, at, -EINVAL, "invalid date");
	dt.year = y1 * 100 + y2;
	if (dt.month < 1 || dt.month > 12 || dt.day < 1 ||
		dt.day > days_in_month(dt.year, dt.month))
		return fail(ps, at, -EINVAL, "date out of range");
	p += 10;
	ps->p = p;
	type = TOML_DATE_LOCAL;
	if (p < ps->end &&
		(*p == 'T' || *p == 't' || (*p == ' ' && p + 1 < ps->end && is_digit(p[1])))) {
		ps->p = p + 1;
		r = parse_time(ps, &dt);
		if (r < 0)
			return r;
		p = ps->p;
		type = TOML_DATETIME_LOCAL;
		if (p < ps->end && (*p == 'Z' || *p == 'z')) {
			dt.offset_z = true;
			type = TOML_DATETIME;
			p++;
		} else if (p < ps->end && (*p == '+' || *p == '-')) {
			int oh, om;

			if (ps->end - p < 6)
				return fail(ps, p, -EINVAL, "invalid time offset");
			oh = read_2digits(ps, p + 1);
			om = read_2digits(ps, p + 4);
			if (oh < 0 || p[3] != ':' || om < 0)
				return fail(ps, p, -EINVAL, "invalid time offset");
			if (oh > 23 || om > 59)
				return fail(ps, p, -EINVAL, "time offset out of range");
			dt.offset_minutes = (oh * 60 + om) * (*p == '-' ? -1 : 1);
			type = TOML_DATETIME;
			p += 6;
		}
		ps->p = p;
	}
done:
	*ret = toml_value_new(type);
	if (!*ret)
		return fail_nomem(ps);
	(*ret)->u.dt = dt;
	return 0;
}

/* --- values ----------------------------------------------------------------- */

static int parse_value(struct parser *ps, unsigned depth, struct toml_value **ret);
static int parse_keyval(struct parser *ps, struct toml_value *t, unsigned depth);

static int parse_array(struct parser *ps, unsigned depth, struct toml_value **ret)
{
	const char *at = ps->p;
	struct toml_value *a, *v;
	char d[16];
	int r;

	if (depth > TOML_MAX_DEPTH)
		return fail(ps, at, -E2BIG, "nested deeper than %d levels", TOML_MAX_DEPTH);
	a = toml_value_new(TOML_ARRAY);
	if (!a)
		return fail_nomem(ps);
	ps->p++;
	for (;;) {
		r = skip_ws_nl(ps);
		if (r < 0)
			goto out;
		if (ps->p >= ps->end) {
			r = fail(ps, at, -EINVAL, "unterminated array");
			goto out;
		}
		if (*ps->p == ']')
			break;
		r = parse_value(ps, depth + 1, &v);
		if (r < 0)
			goto out;
		if (toml_array_add(a, v) < 0) {
			toml_free(v);
			r = fail_nomem(ps);
			goto out;
		}
		r = skip_ws_nl(ps);
		if (r < 0)
			goto out;
		if (ps->p < ps->end && *ps->p == ',') {
			ps->p++;
			continue;
		}
		if (ps->p < ps->end && *ps->p == ']')
			break;
		if (ps->p >= ps->end)
			r = fail(ps, at, -EINVAL, "unterminated array");
		else
			r = fail(ps, ps->p, -EINVAL, "expected ',' or ']' in array, found %s",
				describe_char(ps, ps->p, d, sizeof(d)));
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
		return fail(ps, at, -E2BIG, "nested deeper than %d levels", TOML_MAX_DEPTH);
	t = toml_value_new(TOML_TABLE);
	if (!t)
		return fail_nomem(ps);
	ps->p++;
	skip_ws(ps);
	if (ps->p < ps->end && *ps->p == '}')
		goto done;
	for (;;) {
		if (ps->p >= ps->end) {
			r = fail(ps, at, -EINVAL, "unterminated inline table");
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
				r = fail(ps, ps->p, -EINVAL, "trailing comma in inline table");
				goto out;
			}
			continue;
		}
		if (ps->p < ps->end && *ps->p == '}')
			break;
		if (ps->p >= ps->end)
			r = fail(ps, at, -EINVAL, "unterminated inline table");
		else
			r = fail(ps, ps->p, -EINVAL,
				"expected ',' or '}' in inline table, found %s",
				describe_char(ps, ps->p, d, sizeof(d)));
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
		return fail(ps, p, -EINVAL, "expected a value, found end of input");
	switch (*p) {
	case '"':
	case '\'':
		r = parse_string(ps, false);
		if (r < 0)
			return r;
		v = toml_value_new(TOML_STRING);
		if (!v)
			return fail_nomem(ps);
		v->u.str.len = ps->sb.len;
		v->u.str.ptr = toml_memdup0(ps->sb.ptr ? ps->sb.ptr : "", ps->sb.len);
		if (!v->u.str.ptr) {
			free(v);
			return fail_nomem(ps);
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
				return fail_nomem(ps);
			v->u.b = *p == 't';
			ps->p += v->u.b ? 4 : 5;
			break;
		}
		return fail(ps, p, -EINVAL, "invalid value");
	default:
		if (is_digit(*p) && ((ps->end - p >= 5 && is_digit(p[1]) && is_digit(p[2]) &&
					     is_digit(p[3]) && p[4] == '-') ||
					    (ps->end - p >= 3 && is_digit(p[1]) && p[2] == ':')))
			r = parse_datetime(ps, &v);
		else if (is_digit(*p) || *p == '+' || *p == '-' || *p == 'i' || *p == 'n')
			r = parse_number(ps, &v);
		else
			return fail(ps, p, -EINVAL, "expected a value, found %s",
				describe_char(ps, p, d, sizeof(d)));
		if (r < 0)
			return r;
		break;
	}
	if (!is_value_end(ps, ps->p)) {
		toml_free(v);
		return fail(ps, ps->p, -EINVAL, "unexpected %s after value",
			describe_char(ps, ps->p, d, sizeof(d)));
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
		r = fail(ps, ps->p, -EINVAL, "expected '=' after key, found %s",
			describe_char(ps, ps->p, d, sizeof(d)));
		goto out;
	}
	ps->p++;
	skip_ws(ps);
	for (i = 0; i + 1 < kp.n; i++) {
		struct keypart *k = &kp.part[i];

		depth++;
		if (depth > TOML_MAX_DEPTH) {
			r = fail(ps, k->at, -E2BIG, "nested deeper than %d levels", TOML_MAX_DEPTH);
			goto out;
		}
		v = toml_table_lookup(t, k->s, k->len);
		if (!v) {
			char *key = toml_memdup0(k->s, k->len);

			v = toml_value_new(TOML_TABLE);
			if (!key || !v || toml_table_add(t, key, k->len, v) < 0) {
				free(key);
				free(v);
				r = fail_nomem(ps);
				goto out;
			}
			v->flags = TOML_F_DOTTED;
		} else if (v->type != TOML_TABLE || !(v->flags & TOML_F_DOTTED) ||
			   (v->flags & TOML_F_INLINE)) {
			r = fail(ps, k->at, -EINVAL, "cannot add keys to '%s' with a dotted key",
				keypath_str(&kp, i + 1, ks, sizeof(ks)));
			goto out;
		}
		t = v;
	}
	last = &kp.part[kp.n - 1];
	if (toml_table_lookup(t, last->s, last->len)) {
		r = fail(ps, last->at, -EINVAL, "duplicate key '%s'",
			keypath_str(&kp, kp.n, ks, sizeof(ks)));
		goto out;
	}
	r = parse_value(ps, depth + 1, &val);
	if (r < 0)
		goto out;
	if (toml_table_add(t, last->s, last->len, val) < 0) {
		toml_free(val);
		r = fail_nomem(ps);
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
		r = fail(ps, ps->p, -EINVAL, "expected '%s' after table name, found %s",
			aot ? "]]" : "]", describe_char(ps, ps->p, d, sizeof(d)));
		goto out;
	}
	ps->p += aot ? 2 : 1;
	for (i = 0; i + 1 < kp.n; i++) {
		struct keypart *k = &kp.part[i];

		v = toml_table_lookup(t, k->s, k->len);
		if (!v) {
			char *key = toml_memdup0(k->s, k->len);

			v = toml_value_new(TOML_TABLE);
			if (!key || !v || toml_table_add(t, key, k->len, v) < 0) {
				free(key);
				free(v);
				r = fail_nomem(ps);
				goto out;
			}
			v->flags = TOML_F_IMPLICIT;
		} else if (v->type == TOML_TABLE && !(v->flags & TOML_F_INLINE)) {
			/* descend */
		} else if (v->type == TOML_ARRAY && (v->flags & TOML_F_AOT) && v->u.arr.len) {
			v = v->u.arr.item[v->u.arr.len - 1];
			depth++;
		} else {
			r = fail(ps, k->at, -EINVAL, "'%s' is not a table that can be extended",
				keypath_str(&kp, i + 1, ks, sizeof(ks)));
			goto out;
		}
		depth++;
		if (depth + (aot ? 2 : 1) > TOML_MAX_DEPTH) {
			r = fail(ps, k->at, -E2BIG, "nested deeper than %d levels", TOML_MAX_DEPTH);
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
				r = fail_nomem(ps);
				goto out;
			}
			last->s = NULL;
			v->flags = TOML_F_AOT;
		} else if (v->type != TOML_ARRAY || !(v->flags & TOML_F_AOT)) {
			r = fail(ps, last->at, -EINVAL, "'%s' is already defined as %s", ks,
				v->type == TOML_TABLE ? "a table" : "a value");
			goto out;
		}
		nt = toml_value_new(TOML_TABLE);
		if (!nt || toml_array_add(v, nt) < 0) {
			free(nt);
			r = fail_nomem(ps);
			goto out;
		}
		nt->flags = TOML_F_HEADER;
		depth += 2;
	} else {
		if (!v) {
			nt = toml_value_new(TOML_TABLE);
			if (!nt || toml_table_add(t, last->s, last->len, nt) < 0) {
				free(nt);
				r = fail_nomem(ps);
				goto out;
			}
			last->s = NULL;
		} else if (v->type == TOML_TABLE && v->flags == TOML_F_IMPLICIT) {
			nt = v;
		} else {
			r = fail(ps, last->at, -EINVAL, "%s '%s' is already defined",
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
		n = newline_len(ps, ps->p, &r);
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
		r = fail_nomem(&ps);
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
