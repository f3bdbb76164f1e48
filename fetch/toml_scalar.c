/*
 * toml_scalar.c - TOML 1.0.0 scalar values: strings, numbers, date-times
 *
 * The readers of the values that are not arrays or tables, called by the
 * structure reader in toml.c through toml_int.h.  Each works at ps->p,
 * moves it past the value and reports errors with toml_fail().  Strings
 * are collected in ps->sb, which numbers also use as scratch for their
 * digits without underscores.
 */
#include "fetch/toml_int.h"

#include <errno.h>
#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fetch/toml_tree.h"
#include "store/util/buf.h"
#include "store/util/utf8.h"

/* --- strings ---------------------------------------------------------------- */

static int sb_add(struct parser *ps, const char *p, size_t n)
{
	int r = buf_add(&ps->sb, p, n);

	if (r == -E2BIG)
		return toml_fail(ps, ps->p, -E2BIG, "string too long");
	if (r < 0)
		return toml_fail_nomem(ps);
	return 0;
}

static int sb_add_utf8(struct parser *ps, uint32_t cp)
{
	char b[UTF8_MAX];

	return sb_add(ps, b, utf8_encode(cp, b));
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
		return toml_fail(ps, at, -EINVAL, "unterminated string");
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
			if (ps->p >= ps->end || hex_value(*ps->p) < 0)
				return toml_fail(ps, at, -EINVAL,
					"\\%c escape needs %zu hex digits", n == 4 ? 'u' : 'U', n);
			cp = cp << 4 | (uint32_t)hex_value(*ps->p++);
		}
		if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return toml_fail(ps, at, -EINVAL, "escape is not a unicode scalar value");
		return sb_add_utf8(ps, cp);
	default:
		break;
	}
	if (multiline) {
		/* line-ending backslash: whitespace, a newline, then trim */
		const char *p = ps->p;

		while (p < ps->end && is_ws(*p))
			p++;
		n = toml_newline_len(ps, p, &r);
		if (r < 0)
			return r;
		if (n) {
			ps->p = p;
			return toml_skip_ws_nl(ps, false);
		}
	}
	return toml_fail(ps, at, -EINVAL, "invalid escape sequence '\\' followed by %s",
		toml_describe_char(ps, ps->p, d, sizeof(d)));
}

/*
 * toml_scalar_string - a string of any of the four kinds at ps->p; its contents
 * go to ps->sb.  Keys (key = true) may not be multi-line.
 */
int toml_scalar_string(struct parser *ps, bool key)
{
	const char *at = ps->p;
	char q = *ps->p;
	bool basic = q == '"';
	bool ml = peek_is(ps, ps->p, basic ? "\"\"\"" : "'''", 3);
	size_t n;
	int r;

	buf_reset(&ps->sb);
	if (ml && key)
		return toml_fail(ps, at, -EINVAL, "multi-line string cannot be a key");
	if (ml) {
		ps->p += 3;
		n = toml_newline_len(ps, ps->p, &r);
		if (r < 0)
			return r;
		ps->p += n;
	} else {
		ps->p++;
	}
	for (;;) {
		unsigned char c;

		if (ps->p >= ps->end)
			return toml_fail(ps, at, -EINVAL, "unterminated string");
		c = (unsigned char)*ps->p;
		if (c == (unsigned char)q) {
			if (!ml) {
				ps->p++;
				return 0;
			}
			for (n = 0; ps->p + n < ps->end && ps->p[n] == q && n < 6; n++)
				;
			if (n >= 6)
				return toml_fail(ps, ps->p, -EINVAL,
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
				return toml_fail(
					ps, ps->p, -EINVAL, "newline in single-line string");
			n = toml_newline_len(ps, ps->p, &r);
			if (r < 0)
				return r;
			r = sb_add(ps, "\n", 1);
			if (r < 0)
				return r;
			ps->p += n;
			continue;
		}
		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return toml_fail(
				ps, ps->p, -EINVAL, "control character 0x%02x in string", c);
		n = 1;
		if (c >= 0x80) {
			n = toml_utf8_seq(
				(const unsigned char *)ps->p, (const unsigned char *)ps->end);
			if (!n)
				return toml_fail(ps, ps->p, -EINVAL, "invalid UTF-8 in string");
		}
		r = sb_add(ps, ps->p, n);
		if (r < 0)
			return r;
		ps->p += n;
	}
}

/* --- numbers ---------------------------------------------------------------- */

static bool is_base_digit(char c, int base)
{
	if (base == 16)
		return hex_value(c) >= 0;
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
		return toml_fail(ps, p, -EINVAL, "invalid number");
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
				return toml_fail(
					ps, p, -EINVAL, "underscore must be between digits");
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
		return toml_fail(ps, p, -EINVAL, "invalid number");
	r = scan_digits(ps, &p, base);
	if (r < 0)
		return r;
	for (i = 0; i < ps->sb.len; i++) {
		if (acc > (UINT64_MAX >> shift))
			return toml_fail(ps, at, -EINVAL, "integer out of range");
		acc = acc << shift | (uint64_t)hex_value(ps->sb.ptr[i]);
	}
	if (acc > (uint64_t)INT64_MAX)
		return toml_fail(ps, at, -EINVAL, "integer out of range");
	*ret = toml_value_new(TOML_INTEGER);
	if (!*ret)
		return toml_fail_nomem(ps);
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
			return toml_fail_nomem(ps);
		}
		errno = 0;
		f = strtod(tmp.ptr, &end);
		end = end == tmp.ptr + tmp.len ? b->ptr + b->len : b->ptr;
		buf_release(&tmp);
	}
	if (end != b->ptr + b->len)
		return toml_fail(ps, at, -EINVAL, "invalid float");
	if (errno == ERANGE && fabs(f) > 1.0)
		return toml_fail(ps, at, -EINVAL, "float out of range");
	*ret = toml_value_new(TOML_FLOAT);
	if (!*ret)
		return toml_fail_nomem(ps);
	(*ret)->u.f = f;
	return 0;
}

int toml_scalar_number(struct parser *ps, struct toml_value **ret)
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
			return toml_fail_nomem(ps);
		(*ret)->u.f = inf ? (neg ? -INFINITY : INFINITY) : (neg ? -NAN : NAN);
		ps->p = p + 3;
		return 0;
	}
	if (p == at && *p == '0' && p + 1 < ps->end && (p[1] == 'x' || p[1] == 'o' || p[1] == 'b'))
		return parse_prefixed_int(ps, ret);
	if (p >= ps->end || !is_digit(*p))
		return toml_fail(ps, at, -EINVAL, "invalid number");
	if (*p == '0' && p + 1 < ps->end && (is_digit(p[1]) || p[1] == '_'))
		return toml_fail(ps, at, -EINVAL, "leading zeros are not allowed");
	r = scan_digits(ps, &p, 10);
	if (r < 0)
		return r;
	if (p < ps->end && *p == '.') {
		r = sb_add(ps, p, 1);
		if (r < 0)
			return r;
		p++;
		if (p >= ps->end || !is_digit(*p))
			return toml_fail(ps, p, -EINVAL, "expected digits after the decimal point");
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
			return toml_fail(ps, p, -EINVAL, "expected digits in the exponent");
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
			return toml_fail(ps, at, -EINVAL, "integer out of range");
		acc = acc * 10 + d;
	}
	if (acc > (uint64_t)INT64_MAX + (neg ? 1 : 0))
		return toml_fail(ps, at, -EINVAL, "integer out of range");
	*ret = toml_value_new(TOML_INTEGER);
	if (!*ret)
		return toml_fail_nomem(ps);
	if (!neg)
		(*ret)->u.i = (int64_t)acc;
	else if (acc == (uint64_t)INT64_MAX + 1)
		(*ret)->u.i = INT64_MIN;
	else
		(*ret)->u.i = -(int64_t)acc;
	return 0;
}

/* --- date-times ------------------------------------------------------------- */

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
		return toml_fail(ps, at, -EINVAL, "invalid time");
	dt->minute = read_2digits(ps, p + 3);
	if (dt->minute < 0 || p + 5 >= ps->end || p[5] != ':')
		return toml_fail(ps, at, -EINVAL, "invalid time (seconds are required)");
	dt->second = read_2digits(ps, p + 6);
	if (dt->second < 0)
		return toml_fail(ps, at, -EINVAL, "invalid time (seconds are required)");
	if (dt->hour > 23 || dt->minute > 59 || dt->second > 60)
		return toml_fail(ps, at, -EINVAL, "time out of range");
	p += 8;
	if (p < ps->end && *p == '.') {
		p++;
		if (p >= ps->end || !is_digit(*p))
			return toml_fail(ps, p, -EINVAL, "expected digits after the decimal point");
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

int toml_scalar_datetime(struct parser *ps, struct toml_value **ret)
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
		return toml_fail(ps, at, -EINVAL, "invalid date");
	y1 = read_2digits(ps, p);
	y2 = read_2digits(ps, p + 2);
	dt.month = read_2digits(ps, p + 5);
	dt.day = read_2digits(ps, p + 8);
	if (y1 < 0 || y2 < 0 || p[4] != '-' || dt.month < 0 || p[7] != '-' || dt.day < 0)
		return toml_fail(ps, at, -EINVAL, "invalid date");
	dt.year = y1 * 100 + y2;
	if (dt.month < 1 || dt.month > 12 || dt.day < 1 ||
		dt.day > days_in_month(dt.year, dt.month))
		return toml_fail(ps, at, -EINVAL, "date out of range");
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
				return toml_fail(ps, p, -EINVAL, "invalid time offset");
			oh = read_2digits(ps, p + 1);
			om = read_2digits(ps, p + 4);
			if (oh < 0 || p[3] != ':' || om < 0)
				return toml_fail(ps, p, -EINVAL, "invalid time offset");
			if (oh > 23 || om > 59)
				return toml_fail(ps, p, -EINVAL, "time offset out of range");
			dt.offset_minutes = (oh * 60 + om) * (*p == '-' ? -1 : 1);
			type = TOML_DATETIME;
			p += 6;
		}
		ps->p = p;
	}
done:
	*ret = toml_value_new(type);
	if (!*ret)
		return toml_fail_nomem(ps);
	(*ret)->u.dt = dt;
	return 0;
}
