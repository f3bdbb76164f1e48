/*
 * toml.h - TOML 1.0.0 reader and writer
 *
 * The reader accepts exactly TOML 1.0.0 (https://toml.io/en/v1.0.0) and
 * rejects every document the specification calls invalid; conformance is
 * checked against the toml-test suite (tests/integration/t0100-toml-test.sh).
 * The writer prints a document in the layout of Julia's
 * TOML.print(io, dict; sorted=true), which Pkg uses for Artifacts.toml
 * (spec/julia-artifacts.md §7.2).
 *
 * A document is a tree of struct toml_value nodes owned by its root.  Tables
 * keep their keys in insertion order; lookups are by exact byte comparison.
 * Strings are stored with their length because TOML allows "\u0000"; they
 * are also NUL-terminated for convenience.
 *
 * Thread safety: a tree may be read from any number of threads at once;
 * modification needs exclusive access.  The functions keep no global state.
 */
#ifndef ARTIFACTFS_TOML_H
#define ARTIFACTFS_TOML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum toml_type {
	TOML_TABLE,
	TOML_ARRAY,
	TOML_STRING,
	TOML_INTEGER,
	TOML_FLOAT,
	TOML_BOOL,
	TOML_DATETIME,		/* offset date-time: 1979-05-27T07:32:00Z */
	TOML_DATETIME_LOCAL,	/* local date-time:  1979-05-27T07:32:00 */
	TOML_DATE_LOCAL,	/* local date:       1979-05-27 */
	TOML_TIME_LOCAL,	/* local time:       07:32:00 */
};

/*
 * Date and time fields as written in the document.  Unused fields are zero:
 * a TOML_DATE_LOCAL has no time, a TOML_TIME_LOCAL no date, only a
 * TOML_DATETIME has an offset.
 */
struct toml_datetime {
	int year, month, day;		/* 0000-9999, 1-12, 1-31 */
	int hour, minute, second;	/* 0-23, 0-59, 0-60 (leap second) */
	uint32_t nanosecond;		/* fraction, truncated to nanoseconds */
	int offset_minutes;		/* east of UTC; 0 for "Z" */
	bool offset_z;			/* offset was written as Z rather than +00:00 */
	int frac_digits;		/* fraction digits written, 0-9 (more are truncated) */
};

struct toml_value;

/* Limits applied by the reader; exceeding one is a parse error, never a crash. */
#define TOML_MAX_DEPTH 128			/* nesting of tables and arrays */
#define TOML_MAX_INPUT (256u << 20)		/* bytes of input */

/*
 * Where and why parsing failed.  msg is lowercase without a final full stop;
 * line and column are 1-based (column counts bytes).
 */
struct toml_error {
	unsigned line, column;
	char msg[256];
};

/*
 * toml_parse - parse a complete TOML 1.0.0 document.
 * @data, @len: the document bytes (need not be NUL-terminated; must be UTF-8).
 * @ret: on success receives the root table, owned by the caller, freed with
 *       toml_free(); untouched on failure.
 * @err: when not NULL, receives the position and reason of the first error.
 * Returns 0, -EINVAL for a document that is not valid TOML 1.0.0 (including
 * the depth and size limits above, reported with -E2BIG), or -ENOMEM.
 */
int toml_parse(const char *data, size_t len, struct toml_value **ret, struct toml_error *err);

/*
 * toml_parse_file - read and parse the file at path.
 * @errmsg: when not NULL, receives on failure a malloc'ed message of the form
 *          "<path>:<line>:<column>: <reason>" (or "<path>: <strerror>" for I/O
 *          errors), which the caller frees; set to NULL on success.
 * Returns 0, -errno from open/read, -EINVAL, -E2BIG or -ENOMEM.
 */
int toml_parse_file(const char *path, struct toml_value **ret, char **errmsg);

/* toml_free - free v and everything below it; NULL is a no-op. */
void toml_free(struct toml_value *v);

/* --- reading -------------------------------------------------------------- */

enum toml_type toml_type(const struct toml_value *v);

/* toml_type_name - "table", "array", "string", ... as toml-test spells them. */
const char *toml_type_name(enum toml_type t);

/* toml_len - number of keys of a table or elements of an array; 0 otherwise. */
size_t toml_len(const struct toml_value *v);

/*
 * toml_get - the value stored under key in table t, or NULL when t is not a
 * table or has no such key.  Borrowed: valid until the entry is removed or
 * replaced or the tree is freed.
 */
struct toml_value *toml_get(const struct toml_value *t, const char *key);

/* toml_getn - toml_get() for a key given as <ptr, len> (keys may hold NUL). */
struct toml_value *toml_getn(const struct toml_value *t, const char *key, size_t keylen);

/*
 * toml_key_at - the i-th key of table t in insertion order (NUL-terminated;
 * its length in bytes goes to *len when len is not NULL), or NULL when i is
 * out of range.  toml_value_at() gives the i-th value.  Borrowed as toml_get().
 */
const char *toml_key_at(const struct toml_value *t, size_t i, size_t *len);
struct toml_value *toml_value_at(const struct toml_value *t, size_t i);

/* toml_at - element i of array a, or NULL.  Borrowed as toml_get(). */
struct toml_value *toml_at(const struct toml_value *a, size_t i);

/*
 * Scalars.  Each returns the value when v has that type; otherwise the
 * string accessor returns NULL and the others return 0/false.
 * toml_string: NUL-terminated, borrowed as toml_get(); *len (if not NULL)
 * gets the length in bytes.
 */
const char *toml_string(const struct toml_value *v, size_t *len);
int64_t toml_integer(const struct toml_value *v);
double toml_float(const struct toml_value *v);
bool toml_bool(const struct toml_value *v);
const struct toml_datetime *toml_datetime(const struct toml_value *v);

/*
 * toml_is_table_array - true when a is an array created by [[header]] in the
 * document, or an array whose every element is a table (the writer prints
 * both as [[...]] sections, as Julia does).
 */
bool toml_is_table_array(const struct toml_value *a);

/* --- building and editing (used by artifactctl bind) ------------------------ */

/*
 * Constructors return a new node owned by the caller (until it is inserted
 * into a table or array), or NULL when out of memory.
 */
struct toml_value *toml_new_table(void);
struct toml_value *toml_new_array(void);
struct toml_value *toml_new_string(const char *s, size_t len);
struct toml_value *toml_new_integer(int64_t i);
struct toml_value *toml_new_float(double f);
struct toml_value *toml_new_bool(bool b);

/*
 * toml_set - store v under key in table t, replacing (and freeing) any
 * earlier value; t takes ownership of v.  Returns 0, -EINVAL when t is not a
 * table, or -ENOMEM; on failure v is freed.  A NULL v (a constructor that
 * ran out of memory) gives -ENOMEM, so constructors may be passed directly.
 */
int toml_set(struct toml_value *t, const char *key, struct toml_value *v);

/* toml_remove - remove and free key from table t.  Returns 0 or -ENOENT. */
int toml_remove(struct toml_value *t, const char *key);

/*
 * toml_append - append v to array a, which takes ownership.  Returns 0,
 * -EINVAL when a is not an array, or -ENOMEM; on failure v is freed.  A NULL
 * v gives -ENOMEM, as for toml_set().
 */
int toml_append(struct toml_value *a, struct toml_value *v);

/* toml_remove_at - remove and free element i of array a.  Returns 0 or -ENOENT. */
int toml_remove_at(struct toml_value *a, size_t i);

/* --- writing ---------------------------------------------------------------- */

/*
 * toml_print - render root (a table) as Julia's TOML.print(io, root;
 * sorted=true) does (spec/julia-artifacts.md §7.2): keys sorted byte-wise
 * within each table; plain key/value pairs before sub-tables; sub-tables as
 * [a.b] headers and arrays of tables as [[a.b]] headers, each nested level
 * indented 4 more spaces and preceded by a blank line; strings quoted with
 * Julia's escapes; keys bare when they match [A-Za-z0-9_-]+, quoted otherwise.
 * @ret: receives a malloc'ed NUL-terminated text the caller frees; @len its
 * length in bytes (may be NULL).
 * Returns 0, -EINVAL when root is not a table or a string or key in it is
 * not valid UTF-8 (Julia refuses those too), or -ENOMEM.
 */
int toml_print(const struct toml_value *root, char **ret, size_t *len);

#endif
