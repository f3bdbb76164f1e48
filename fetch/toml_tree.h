/*
 * toml_tree.h - the node representation shared by fetch/toml*.c (private)
 *
 * Not part of the API: other modules use fetch/toml.h only.
 */
#ifndef ARTIFACTFS_TOML_TREE_H
#define ARTIFACTFS_TOML_TREE_H

#include "fetch/toml.h"

/* Flags of struct toml_value, set by the parser. */
enum {
	TOML_F_IMPLICIT = 1 << 0, /* table created as the parent of a [header] */
	TOML_F_HEADER = 1 << 1,	  /* table defined by a [header] or [[header]] */
	TOML_F_DOTTED = 1 << 2,	  /* table created by a dotted key */
	TOML_F_INLINE = 1 << 3,	  /* inline table: closed to any extension */
	TOML_F_AOT = 1 << 4,	  /* array created by [[header]] */
};

struct toml_entry {
	char *key; /* NUL-terminated; may hold NUL bytes */
	size_t keylen;
	uint32_t hash;
	struct toml_value *val;
};

struct toml_value {
	enum toml_type type;
	unsigned flags;
	union {
		struct {
			struct toml_entry *ent;
			size_t len, cap;
			uint32_t *index;  /* NULL while the table is small */
			size_t index_cap; /* power of two */
		} tab;
		struct {
			struct toml_value **item;
			size_t len, cap;
		} arr;
		struct {
			char *ptr;
			size_t len;
		} str;
		int64_t i;
		double f;
		bool b;
		struct toml_datetime dt;
	} u;
};

/* toml_value_new - a zeroed node of the given type, or NULL. */
struct toml_value *toml_value_new(enum toml_type type);

/* toml_memdup0 - malloc'ed NUL-terminated copy of <s, len>, or NULL. */
char *toml_memdup0(const char *s, size_t len);

/* toml_table_lookup - the value under <key, len> in table t, or NULL. */
struct toml_value *toml_table_lookup(const struct toml_value *t, const char *key, size_t len);

/*
 * toml_table_add - append key (a malloc'ed NUL-terminated copy, taken over
 * on success) with value v to table t, which must not hold the key yet.
 * Returns 0 or -ENOMEM; on failure neither key nor v is freed.
 */
int toml_table_add(struct toml_value *t, char *key, size_t len, struct toml_value *v);

/* toml_array_add - append v to array a.  Returns 0 or -ENOMEM (v not freed). */
int toml_array_add(struct toml_value *a, struct toml_value *v);

#endif
