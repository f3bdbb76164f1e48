/*
 * toml_tree.c - TOML tree nodes: lookups, accessors, constructors, editing
 *
 * Tables keep their entries in insertion order in an array; once a table
 * grows beyond TABLE_INDEX_MIN keys it also gets an open-addressing hash
 * index (slot = entry index + 1, load at most 1/2), rebuilt on removal.
 */
#include "fetch/toml.h"

#include <assert.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "fetch/toml_tree.h"

#define TABLE_INDEX_MIN 16

/* --- nodes ----------------------------------------------------------------- */

struct toml_value *toml_value_new(enum toml_type type)
{
	struct toml_value *v = calloc(1, sizeof(*v));

	if (v)
		v->type = type;
	return v;
}

void toml_free(struct toml_value *v)
{
	size_t i;

	if (!v)
		return;
	switch (v->type) {
	case TOML_TABLE:
		for (i = 0; i < v->u.tab.len; i++) {
			free(v->u.tab.ent[i].key);
			toml_free(v->u.tab.ent[i].val);
		}
		free(v->u.tab.ent);
		free(v->u.tab.index);
		break;
	case TOML_ARRAY:
		for (i = 0; i < v->u.arr.len; i++)
			toml_free(v->u.arr.item[i]);
		free(v->u.arr.item);
		break;
	case TOML_STRING:
		free(v->u.str.ptr);
		break;
	default:
		break;
	}
	free(v);
}

/*
 * The hash is seeded with the table's address so that colliding keys cannot
 * be prepared in advance; the seed is fixed for the life of the table.
 */
static uint32_t key_hash(const struct toml_value *t, const char *key, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ull ^ ((uint64_t)(uintptr_t)t * 0x9e3779b97f4a7c15ull);
	size_t i;

	for (i = 0; i < len; i++) {
		h ^= (unsigned char)key[i];
		h *= 0x100000001b3ull;
	}
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ull;
	h ^= h >> 33;
	return (uint32_t)h;
}

static int table_reindex(struct toml_value *t)
{
	size_t cap = 64, i, mask;
	uint32_t *idx;

	free(t->u.tab.index);
	t->u.tab.index = NULL;
	t->u.tab.index_cap = 0;
	if (t->u.tab.len <= TABLE_INDEX_MIN)
		return 0;
	while (cap < t->u.tab.len * 2)
		cap *= 2;
	idx = calloc(cap, sizeof(*idx));
	if (!idx)
		return -ENOMEM;
	mask = cap - 1;
	for (i = 0; i < t->u.tab.len; i++) {
		size_t s = t->u.tab.ent[i].hash & mask;

		while (idx[s])
			s = (s + 1) & mask;
		idx[s] = (uint32_t)(i + 1);
	}
	t->u.tab.index = idx;
	t->u.tab.index_cap = cap;
	return 0;
}

/* table_find - index of <key, len> in table t, or -1. */
static ssize_t table_find(const struct toml_value *t, const char *key, size_t len)
{
	uint32_t h = key_hash(t, key, len);
	const struct toml_entry *e;
	size_t i;

	if (t->u.tab.index) {
		size_t mask = t->u.tab.index_cap - 1, s = h & mask;

		for (; t->u.tab.index[s]; s = (s + 1) & mask) {
			e = &t->u.tab.ent[t->u.tab.index[s] - 1];
			if (e->hash == h && e->keylen == len && memcmp(e->key, key, len) == 0)
				return (ssize_t)(t->u.tab.index[s] - 1);
		}
		return -1;
	}
	for (i = 0; i < t->u.tab.len; i++) {
		e = &t->u.tab.ent[i];
		if (e->hash == h && e->keylen == len && memcmp(e->key, key, len) == 0)
			return (ssize_t)i;
	}
	return -1;
}

struct toml_value *toml_table_lookup(const struct toml_value *t, const char *key, size_t len)
{
	ssize_t i = table_find(t, key, len);

	return i < 0 ? NULL : t->u.tab.ent[i].val;
}

int toml_table_add(struct toml_value *t, char *key, size_t len, struct toml_value *v)
{
	struct toml_entry *e;

	if (t->u.tab.len == t->u.tab.cap) {
		size_t cap = t->u.tab.cap ? t->u.tab.cap * 2 : 4;

		if (cap > UINT32_MAX - 1)
			return -ENOMEM;
		e = realloc(t->u.tab.ent, cap * sizeof(*e));
		if (!e)
			return -ENOMEM;
		t->u.tab.ent = e;
		t->u.tab.cap = cap;
	}
	e = &t->u.tab.ent[t->u.tab.len++];
	e->key = key;
	e->keylen = len;
	e->hash = key_hash(t, key, len);
	e->val = v;
	if (t->u.tab.len <= TABLE_INDEX_MIN)
		return 0;
	if (!t->u.tab.index || t->u.tab.len * 2 > t->u.tab.index_cap) {
		if (table_reindex(t) < 0) {
			t->u.tab.len--;
			return -ENOMEM;
		}
	} else {
		size_t mask = t->u.tab.index_cap - 1, s = e->hash & mask;

		while (t->u.tab.index[s])
			s = (s + 1) & mask;
		t->u.tab.index[s] = (uint32_t)t->u.tab.len;
	}
	return 0;
}

int toml_array_add(struct toml_value *a, struct toml_value *v)
{
	if (a->u.arr.len == a->u.arr.cap) {
		size_t cap = a->u.arr.cap ? a->u.arr.cap * 2 : 4;
		struct toml_value **p = realloc(a->u.arr.item, cap * sizeof(*p));

		if (!p)
			return -ENOMEM;
		a->u.arr.item = p;
		a->u.arr.cap = cap;
	}
	a->u.arr.item[a->u.arr.len++] = v;
	return 0;
}

char *toml_memdup0(const char *s, size_t len)
{
	char *p = malloc(len + 1);

	if (p) {
		memcpy(p, s, len);
		p[len] = '\0';
	}
	return p;
}

/* --- reading ---------------------------------------------------------------- */

enum toml_type toml_type(const struct toml_value *v)
{
	assert(v);
	return v->type;
}

const char *toml_type_name(enum toml_type t)
{
	switch (t) {
	case TOML_TABLE:
		return "table";
	case TOML_ARRAY:
		return "array";
	case TOML_STRING:
		return "string";
	case TOML_INTEGER:
		return "integer";
	case TOML_FLOAT:
		return "float";
	case TOML_BOOL:
		return "bool";
	case TOML_DATETIME:
		return "datetime";
	case TOML_DATETIME_LOCAL:
		return "datetime-local";
	case TOML_DATE_LOCAL:
		return "date-local";
	case TOML_TIME_LOCAL:
		return "time-local";
	}
	return "unknown";
}

size_t toml_len(const struct toml_value *v)
{
	if (!v)
		return 0;
	if (v->type == TOML_TABLE)
		return v->u.tab.len;
	if (v->type == TOML_ARRAY)
		return v->u.arr.len;
	return 0;
}

struct toml_value *toml_getn(const struct toml_value *t, const char *key, size_t keylen)
{
	if (!t || t->type != TOML_TABLE || !key)
		return NULL;
	return toml_table_lookup(t, key, keylen);
}

struct toml_value *toml_get(const struct toml_value *t, const char *key)
{
	return key ? toml_getn(t, key, strlen(key)) : NULL;
}

const char *toml_key_at(const struct toml_value *t, size_t i, size_t *len)
{
	if (!t || t->type != TOML_TABLE || i >= t->u.tab.len)
		return NULL;
	if (len)
		*len = t->u.tab.ent[i].keylen;
	return t->u.tab.ent[i].key;
}

struct toml_value *toml_value_at(const struct toml_value *t, size_t i)
{
	if (!t || t->type != TOML_TABLE || i >= t->u.tab.len)
		return NULL;
	return t->u.tab.ent[i].val;
}

struct toml_value *toml_at(const struct toml_value *a, size_t i)
{
	if (!a || a->type != TOML_ARRAY || i >= a->u.arr.len)
		return NULL;
	return a->u.arr.item[i];
}

const char *toml_string(const struct toml_value *v, size_t *len)
{
	if (!v || v->type != TOML_STRING)
		return NULL;
	if (len)
		*len = v->u.str.len;
	return v->u.str.ptr;
}

int64_t toml_integer(const struct toml_value *v)
{
	return v && v->type == TOML_INTEGER ? v->u.i : 0;
}

double toml_float(const struct toml_value *v)
{
	return v && v->type == TOML_FLOAT ? v->u.f : 0.0;
}

bool toml_bool(const struct toml_value *v)
{
	return v && v->type == TOML_BOOL ? v->u.b : false;
}

const struct toml_datetime *toml_datetime(const struct toml_value *v)
{
	if (!v || v->type < TOML_DATETIME || v->type > TOML_TIME_LOCAL)
		return NULL;
	return &v->u.dt;
}

bool toml_is_table_array(const struct toml_value *a)
{
	size_t i;

	if (!a || a->type != TOML_ARRAY)
		return false;
	if (a->flags & TOML_F_AOT)
		return true;
	if (!a->u.arr.len)
		return false;
	for (i = 0; i < a->u.arr.len; i++)
		if (a->u.arr.item[i]->type != TOML_TABLE)
			return false;
	return true;
}

/* --- building and editing --------------------------------------------------- */

struct toml_value *toml_new_table(void)
{
	return toml_value_new(TOML_TABLE);
}

struct toml_value *toml_new_array(void)
{
	return toml_value_new(TOML_ARRAY);
}

struct toml_value *toml_new_string(const char *s, size_t len)
{
	struct toml_value *v = toml_value_new(TOML_STRING);

	if (!v)
		return NULL;
	v->u.str.ptr = toml_memdup0(s ? s : "", s ? len : 0);
	if (!v->u.str.ptr) {
		free(v);
		return NULL;
	}
	v->u.str.len = s ? len : 0;
	return v;
}

/* scalar_new - a node of type whose value (u.i, u.f or u.b) is the size bytes at val. */
static struct toml_value *scalar_new(enum toml_type type, const void *val, size_t size)
{
	struct toml_value *v = toml_value_new(type);

	if (v)
		memcpy(&v->u, val, size);	/* every member of u starts at its start */
	return v;
}

struct toml_value *toml_new_integer(int64_t i)
{
	return scalar_new(TOML_INTEGER, &i, sizeof(i));
}

struct toml_value *toml_new_float(double f)
{
	return scalar_new(TOML_FLOAT, &f, sizeof(f));
}

struct toml_value *toml_new_bool(bool b)
{
	return scalar_new(TOML_BOOL, &b, sizeof(b));
}

int toml_set(struct toml_value *t, const char *key, struct toml_value *v)
{
	size_t len;
	ssize_t i;
	char *k;

	if (!v)
		return -ENOMEM;
	if (t == v)
		return -EINVAL;
	if (!t || t->type != TOML_TABLE || !key) {
		toml_free(v);
		return -EINVAL;
	}
	len = strlen(key);
	i = table_find(t, key, len);
	if (i >= 0) {
		if (t->u.tab.ent[i].val == v)
			return 0;
		toml_free(t->u.tab.ent[i].val);
		t->u.tab.ent[i].val = v;
		return 0;
	}
	k = toml_memdup0(key, len);
	if (!k || toml_table_add(t, k, len, v) < 0) {
		free(k);
		toml_free(v);
		return -ENOMEM;
	}
	return 0;
}

int toml_remove(struct toml_value *t, const char *key)
{
	ssize_t i;

	if (!t || t->type != TOML_TABLE || !key)
		return -ENOENT;
	i = table_find(t, key, strlen(key));
	if (i < 0)
		return -ENOENT;
	free(t->u.tab.ent[i].key);
	toml_free(t->u.tab.ent[i].val);
	memmove(&t->u.tab.ent[i], &t->u.tab.ent[i + 1],
		(t->u.tab.len - (size_t)i - 1) * sizeof(t->u.tab.ent[0]));
	t->u.tab.len--;
	/* without memory for a new index, fall back to linear search */
	if (table_reindex(t) < 0) {
		free(t->u.tab.index);
		t->u.tab.index = NULL;
		t->u.tab.index_cap = 0;
	}
	return 0;
}

int toml_append(struct toml_value *a, struct toml_value *v)
{
	if (!v)
		return -ENOMEM;
	if (a == v)
		return -EINVAL;
	if (!a || a->type != TOML_ARRAY) {
		toml_free(v);
		return -EINVAL;
	}
	if (toml_array_add(a, v) < 0) {
		toml_free(v);
		return -ENOMEM;
	}
	return 0;
}

int toml_remove_at(struct toml_value *a, size_t i)
{
	if (!a || a->type != TOML_ARRAY || i >= a->u.arr.len)
		return -ENOENT;
	toml_free(a->u.arr.item[i]);
	memmove(&a->u.arr.item[i], &a->u.arr.item[i + 1],
		(a->u.arr.len - i - 1) * sizeof(a->u.arr.item[0]));
	a->u.arr.len--;
	return 0;
}
