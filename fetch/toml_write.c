/*
 * toml_write.c - print a TOML tree as Julia's TOML.print(io, d; sorted=true)
 *
 * Layout of Julia's stdlib TOML (src/print.jl), which Pkg uses to write
 * Artifacts.toml: within each table the keys are sorted; first the plain
 * key/value pairs, then the sub-tables and arrays of tables.  A table whose
 * values are all tables or arrays of tables (and which is not empty) gets no
 * header of its own.  Headers are indented 4 spaces per level of printed
 * headers above them and the key/value pairs below a header one level less;
 * a blank line precedes every header except when nothing was printed yet in
 * the enclosing block.  Each element of an array of tables is printed as a
 * [[a.b]] header with its own block.
 *
 * Values print as Julia prints them: integers in decimal, floats in Julia's
 * shortest round-trip form (1.0, 0.0001, 1.0e-5, 1.234567e6, +inf, nan),
 * strings with \b \t \n \f \r \" \\ and \uXXXX for other control characters,
 * arrays inline as [a, b], tables inside arrays as {k = v, ...} with sorted
 * keys.  Datetimes print with millisecond precision as Julia's Dates does;
 * unlike Julia, which has no offset or local date-time distinction, a local
 * date-time prints without "Z" and a non-zero offset as +HH:MM.
 */
#include "fetch/toml.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/util/buf.h"

struct printer {
	struct buf out;
	const char **path; /* keys of the tables above, for headers */
	size_t *pathlen;
	size_t depth, cap;
	int rc; /* first error */
};

struct sorted_key {
	const char *key;
	size_t len;
	const struct toml_value *val;
};

static void put(struct printer *pr, const char *s, size_t n)
{
	int r;

	if (pr->rc < 0)
		return;
	r = buf_add(&pr->out, s, n);
	if (r < 0)
		pr->rc = -ENOMEM;
}

static void puts_(struct printer *pr, const char *s)
{
	put(pr, s, strlen(s));
}

static void indent(struct printer *pr, size_t levels)
{
	size_t i;

	for (i = 0; i < levels; i++)
		put(pr, "    ", 4);
}

/*
 * utf8_decode - the code point of the valid UTF-8 sequence at s, its length
 * in *n; -1 for a malformed, overlong, surrogate or out-of-range sequence.
 */
static long utf8_decode(const unsigned char *s, size_t avail, size_t *n)
{
	unsigned char c = s[0];
	long cp, min;
	size_t i;

	if (c < 0x80) {
		*n = 1;
		return c;
	}
	if (c >= 0xc2 && c < 0xe0) {
		*n = 2;
		cp = c & 0x1f;
		min = 0x80;
	} else if (c >= 0xe0 && c < 0xf0) {
		*n = 3;
		cp = c & 0x0f;
		min = 0x800;
	} else if (c >= 0xf0 && c < 0xf5) {
		*n = 4;
		cp = c & 0x07;
		min = 0x10000;
	} else {
		return -1;
	}
	if (avail < *n)
		return -1;
	for (i = 1; i < *n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return -1;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return -1;
	return cp;
}

/* put_escaped - the body of a basic string, escaped as Julia does. */
static void put_escaped(struct printer *pr, const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, n;
	char esc[16];

	while (i < len) {
		long cp = utf8_decode(p + i, len - i, &n);

		if (cp < 0) {
			if (pr->rc == 0)
				pr->rc = -EINVAL;
			return;
		}
		switch (cp) {
		case '\b':
			puts_(pr, "\\b");
			break;
		case '\t':
			puts_(pr, "\\t");
			break;
		case '\n':
			puts_(pr, "\\n");
			break;
		case '\f':
			puts_(pr, "\\f");
			break;
		case '\r':
			puts_(pr, "\\r");
			break;
		case '"':
			puts_(pr, "\\\"");
			break;
		case '\\':
			puts_(pr, "\\\\");
			break;
		default:
			if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f)) {
				snprintf(esc, sizeof(esc), "\\u%04x", (unsigned)cp);
				puts_(pr, esc);
			} else {
				put(pr, s + i, n);
			}
			break;
		}
		i += n;
	}
}

static bool is_bare_key(const char *k, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		char c = k[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
			    c == '-' || c == '_'))
			return false;
	}
	return true;
}

static void put_key(struct printer *pr, const char *k, size_t len)
{
	if (len && is_bare_key(k, len)) {
		put(pr, k, len);
		return;
	}
	put(pr, "\"", 1);
	put_escaped(pr, k, len);
	put(pr, "\"", 1);
}

/*
 * format_float - x as Julia's print(io, ::Float64): the shortest digits
 * that read back as x, in plain notation when the decimal point falls within
 * -4 < pt <= 6 digits of the first digit, scientific ("1.5e-7") otherwise.
 */
static void format_float(double x, char out[static 48])
{
	char tmp[40], digits[24], *e, *q;
	int prec, exp10, n, pt, i;
	double ax = fabs(x);

	if (isnan(x)) {
		strcpy(out, "nan");
		return;
	}
	if (isinf(x)) {
		strcpy(out, x > 0 ? "+inf" : "-inf");
		return;
	}
	if (x == 0) {
		strcpy(out, signbit(x) ? "-0.0" : "0.0");
		return;
	}
	for (prec = 1; prec <= 17; prec++) {
		snprintf(tmp, sizeof(tmp), "%.*e", prec - 1, ax);
		if (strtod(tmp, NULL) == ax)
			break;
		/*
		 * Just above a power of two the interval that reads back as x
		 * is narrower below x than above it: the next digit string up
		 * may read back as x when the nearest one (below) does not.
		 */
		if (strtod(tmp, NULL) < ax) {
			char up[40];
			int k;

			snprintf(up, sizeof(up), "%s", tmp);
			e = strchr(up, 'e');
			for (k = (int)(e - up) - 1; k >= 0; k--) {
				if (up[k] < '0' || up[k] > '9')
					continue;
				if (up[k] != '9') {
					up[k]++;
					break;
				}
				up[k] = '0';
			}
			if (k >= 0 && strtod(up, NULL) == ax) {
				snprintf(tmp, sizeof(tmp), "%s", up);
				break;
			}
		}
	}
	/* tmp is d.ddde[+-]x (the point as LC_NUMERIC has it): the digits */
	e = strchr(tmp, 'e');
	exp10 = atoi(e + 1);
	for (n = 0, i = 0; tmp + i < e; i++)
		if (tmp[i] >= '0' && tmp[i] <= '9')
			digits[n++] = tmp[i];
	while (n > 1 && digits[n - 1] == '0')
		n--;
	digits[n] = '\0';
	pt = exp10 + 1;
	q = out;
	if (x < 0)
		*q++ = '-';
	if (pt > -4 && pt <= 6) {
		if (pt <= 0) {
			*q++ = '0';
			*q++ = '.';
			for (i = 0; i < -pt; i++)
				*q++ = '0';
			memcpy(q, digits, (size_t)n);
			q += n;
		} else if (pt >= n) {
			memcpy(q, digits, (size_t)n);
			q += n;
			for (i = n; i < pt; i++)
				*q++ = '0';
			*q++ = '.';
			*q++ = '0';
		} else {
			memcpy(q, digits, (size_t)pt);
			q += pt;
			*q++ = '.';
			memcpy(q, digits + pt, (size_t)(n - pt));
			q += n - pt;
		}
		*q = '\0';
	} else {
		*q++ = digits[0];
		*q++ = '.';
		if (n > 1) {
			memcpy(q, digits + 1, (size_t)(n - 1));
			q += n - 1;
		} else {
			*q++ = '0';
		}
		snprintf(q, 16, "e%d", pt - 1);
	}
}

static void put_datetime(struct printer *pr, enum toml_type t, const struct toml_datetime *dt)
{
	char s[64];
	int off;

	if (t != TOML_TIME_LOCAL) {
		snprintf(s, sizeof(s), "%04d-%02d-%02d", dt->year, dt->month, dt->day);
		puts_(pr, s);
	}
	if (t == TOML_DATE_LOCAL)
		return;
	snprintf(s, sizeof(s), "%s%02d:%02d:%02d.%03u", t == TOML_TIME_LOCAL ? "" : "T", dt->hour,
		dt->minute, dt->second, (unsigned)(dt->nanosecond / 1000000));
	puts_(pr, s);
	if (t != TOML_DATETIME)
		return;
	if (dt->offset_minutes == 0) {
		puts_(pr, "Z");
		return;
	}
	off = dt->offset_minutes < 0 ? -dt->offset_minutes : dt->offset_minutes;
	snprintf(s, sizeof(s), "%c%02d:%02d", dt->offset_minutes < 0 ? '-' : '+', off / 60,
		off % 60);
	puts_(pr, s);
}

static int cmp_key(const void *a, const void *b)
{
	const struct sorted_key *x = a, *y = b;
	size_t n = x->len < y->len ? x->len : y->len;
	int c = memcmp(x->key, y->key, n);

	if (c)
		return c;
	return x->len < y->len ? -1 : x->len > y->len;
}

/* sort_keys - the entries of table t sorted byte-wise by key (malloc'ed). */
static struct sorted_key *sort_keys(struct printer *pr, const struct toml_value *t)
{
	size_t n = toml_len(t), i;
	struct sorted_key *k = calloc(n ? n : 1, sizeof(*k));

	if (!k) {
		pr->rc = -ENOMEM;
		return NULL;
	}
	for (i = 0; i < n; i++) {
		k[i].key = toml_key_at(t, i, &k[i].len);
		k[i].val = toml_value_at(t, i);
	}
	qsort(k, n, sizeof(*k), cmp_key);
	return k;
}

static bool is_array_of_tables(const struct toml_value *v)
{
	size_t i, n;

	if (toml_type(v) != TOML_ARRAY)
		return false;
	n = toml_len(v);
	for (i = 0; i < n; i++)
		if (toml_type(toml_at(v, i)) != TOML_TABLE)
			return false;
	return n > 0;
}

static bool is_tabular(const struct toml_value *v)
{
	return toml_type(v) == TOML_TABLE || is_array_of_tables(v);
}

static void put_value(struct printer *pr, const struct toml_value *v)
{
	enum toml_type t = toml_type(v);
	struct sorted_key *k;
	const char *s;
	char num[64];
	size_t i, n;

	switch (t) {
	case TOML_ARRAY:
		put(pr, "[", 1);
		for (i = 0; i < toml_len(v); i++) {
			if (i)
				put(pr, ", ", 2);
			put_value(pr, toml_at(v, i));
		}
		put(pr, "]", 1);
		break;
	case TOML_TABLE:
		k = sort_keys(pr, v);
		if (!k)
			return;
		put(pr, "{", 1);
		for (i = 0; i < toml_len(v); i++) {
			if (i)
				put(pr, ", ", 2);
			put_key(pr, k[i].key, k[i].len);
			put(pr, " = ", 3);
			put_value(pr, k[i].val);
		}
		put(pr, "}", 1);
		free(k);
		break;
	case TOML_STRING:
		s = toml_string(v, &n);
		put(pr, "\"", 1);
		put_escaped(pr, s, n);
		put(pr, "\"", 1);
		break;
	case TOML_INTEGER:
		snprintf(num, sizeof(num), "%" PRId64, toml_integer(v));
		puts_(pr, num);
		break;
	case TOML_FLOAT:
		format_float(toml_float(v), num);
		puts_(pr, num);
		break;
	case TOML_BOOL:
		puts_(pr, toml_bool(v) ? "true" : "false");
		break;
	default:
		put_datetime(pr, t, toml_datetime(v));
		break;
	}
}

static void path_push(struct printer *pr, const char *key, size_t len)
{
	if (pr->depth == pr->cap) {
		size_t cap = pr->cap ? pr->cap * 2 : 8;
		const char **p = realloc(pr->path, cap * sizeof(*p));
		size_t *l;

		if (p)
			pr->path = p;
		l = p ? realloc(pr->pathlen, cap * sizeof(*l)) : NULL;
		if (!l) {
			pr->rc = -ENOMEM;
			return;
		}
		pr->pathlen = l;
		pr->cap = cap;
	}
	pr->path[pr->depth] = key;
	pr->pathlen[pr->depth] = len;
	pr->depth++;
}

static void put_header(struct printer *pr, size_t level, bool aot)
{
	size_t i;

	indent(pr, level);
	puts_(pr, aot ? "[[" : "[");
	for (i = 0; i < pr->depth; i++) {
		if (i)
			put(pr, ".", 1);
		put_key(pr, pr->path[i], pr->pathlen[i]);
	}
	puts_(pr, aot ? "]]\n" : "]\n");
}

/* print_table - the body of table t; level counts the headers printed above. */
static void print_table(
	struct printer *pr, const struct toml_value *t, size_t level, bool first_block)
{
	struct sorted_key *k = sort_keys(pr, t);
	size_t n = toml_len(t), i, j;

	if (!k)
		return;
	for (i = 0; i < n && pr->rc == 0; i++) {
		if (is_tabular(k[i].val))
			continue;
		indent(pr, level ? level - 1 : 0);
		put_key(pr, k[i].key, k[i].len);
		put(pr, " = ", 3);
		put_value(pr, k[i].val);
		put(pr, "\n", 1);
		first_block = false;
	}
	for (i = 0; i < n && pr->rc == 0; i++) {
		const struct toml_value *v = k[i].val;

		if (toml_type(v) == TOML_TABLE) {
			bool header = toml_len(v) == 0;

			for (j = 0; j < toml_len(v) && !header; j++)
				header = !is_tabular(toml_value_at(v, j));
			path_push(pr, k[i].key, k[i].len);
			if (pr->rc < 0)
				break;
			if (header) {
				if (!first_block)
					put(pr, "\n", 1);
				first_block = false;
				put_header(pr, level, false);
			}
			print_table(pr, v, level + header, header);
			pr->depth--;
		} else if (is_array_of_tables(v)) {
			if (!first_block)
				put(pr, "\n", 1);
			first_block = false;
			path_push(pr, k[i].key, k[i].len);
			if (pr->rc < 0)
				break;
			for (j = 0; j < toml_len(v); j++) {
				put_header(pr, level, true);
				print_table(pr, toml_at(v, j), level + 1, true);
			}
			pr->depth--;
		}
	}
	free(k);
}

int toml_print(const struct toml_value *root, char **ret, size_t *len)
{
	struct printer pr;
	char *s;

	if (!root || toml_type(root) != TOML_TABLE)
		return -EINVAL;
	memset(&pr, 0, sizeof(pr));
	buf_init(&pr.out, SIZE_MAX / 2);
	print_table(&pr, root, 0, true);
	free(pr.path);
	free(pr.pathlen);
	if (pr.rc < 0) {
		buf_release(&pr.out);
		return pr.rc;
	}
	s = buf_detach(&pr.out, len);
	if (!s)
		return -ENOMEM;
	*ret = s;
	return 0;
}
