/*
 * toml_int.h - the parser state shared by toml.c and toml_scalar.c (private)
 *
 * Not part of the API: other modules use fetch/toml.h only.  toml.c reads
 * the structure of a document and owns the error reporting; toml_scalar.c
 * reads the scalar values.  Every function here works on one struct parser,
 * which belongs to one toml_parse() call (one thread).  Errors are -errno:
 * the first failure is recorded in ps->err (line, column, message) and
 * every later one only returns its code.
 */
#ifndef ARTIFACTFS_TOML_INT_H
#define ARTIFACTFS_TOML_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "fetch/toml.h"
#include "store/util/buf.h"
#include "store/util/hex.h"

struct parser {
	const char *start, *p, *end;
	struct toml_error *err;
	bool failed;
	struct toml_value *root;
	struct toml_value *cur; /* table receiving key/value pairs */
	unsigned cur_depth;	/* its depth below the root */
	struct buf sb;		/* scratch for string contents */
};

static inline bool is_ws(char c)
{
	return c == ' ' || c == '\t';
}

static inline bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static inline void skip_ws(struct parser *ps)
{
	while (ps->p < ps->end && is_ws(*ps->p))
		ps->p++;
}

/* peek_is - whether the input at p starts with the n bytes s. */
static inline bool peek_is(const struct parser *ps, const char *p, const char *s, size_t n)
{
	return (size_t)(ps->end - p) >= n && memcmp(p, s, n) == 0;
}


/* ---- toml.c ------------------------------------------------------------------ */

/*
 * toml_fail - record the error at input position at (its line and column
 * are computed now) with the printf-style message, unless an error was
 * recorded already.  Returns rc, so callers write return toml_fail(...).
 */
int toml_fail(struct parser *ps, const char *at, int rc, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* toml_fail_nomem - toml_fail() with -ENOMEM, "out of memory", at ps->p. */
int toml_fail_nomem(struct parser *ps);

/*
 * toml_describe_char - a printable description of the byte at p for
 * messages: "end of input", "newline", "'x'" or "byte 0x01".  Returns a
 * constant string or out (n bytes, at least 16).
 */
const char *toml_describe_char(const struct parser *ps, const char *p, char *out, size_t n);

/*
 * toml_utf8_seq - length of the valid UTF-8 sequence at s (1-4; s < end),
 * or 0 when it is malformed, overlong, a surrogate, beyond U+10FFFF or
 * truncated at end.
 */
size_t toml_utf8_seq(const unsigned char *s, const unsigned char *end);

/*
 * toml_newline_len - 1 for LF at p, 2 for CRLF, 0 for anything else; a CR
 * not followed by LF is recorded as an error and its code put in *rc (else
 * *rc = 0).
 */
size_t toml_newline_len(struct parser *ps, const char *p, int *rc);

/*
 * toml_skip_ws_nl - move ps->p past whitespace and newlines, and comments
 * too when comments is true (inside arrays; not after a line-ending
 * backslash in a string).  Returns 0, or -errno from an invalid newline or
 * comment (recorded in ps).
 */
int toml_skip_ws_nl(struct parser *ps, bool comments);

/* ---- toml_scalar.c: each reads the value at ps->p and moves ps->p past it -------- */

/*
 * toml_scalar_string - a string of any of the four kinds (basic, literal,
 * multi-line of each); its contents (escapes resolved, UTF-8 checked) go
 * to ps->sb, replacing what was there.  Keys (key = true) may not be
 * multi-line.  Returns 0 or -errno (-EINVAL, -E2BIG, -ENOMEM).
 */
int toml_scalar_string(struct parser *ps, bool key);

/*
 * toml_scalar_number - an integer (decimal, 0x, 0o, 0b; int64 range) or a
 * float (inf and nan included) into *ret, a new node the caller owns.
 * Uses ps->sb as scratch.  Returns 0 or -errno (*ret untouched).
 */
int toml_scalar_number(struct parser *ps, struct toml_value **ret);

/*
 * toml_scalar_datetime - an offset or local date-time, a local date or a
 * local time into *ret, a new node the caller owns; dates are checked
 * against the calendar.  Returns 0 or -errno (*ret untouched).
 */
int toml_scalar_datetime(struct parser *ps, struct toml_value **ret);

#endif
