/*
 * unpack_paths.c - the path table of fetch/unpack.c (struct ptab in
 * unpack_int.h): every path component seen in a tarball, one record per
 * component under its parent, in an open-addressing hash table keyed by
 * 64-bit FNV-1a of the parent id and the name.  Internal to libfetch; one
 * table belongs to one thread.
 */
#include "config.h"

#include "fetch/unpack_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* The hash of the component name under the record parent. */
static uint64_t key_hash(uint32_t parent, const char *p, size_t len)
{
	uint64_t h = 14695981039346656037ull;
	size_t i;

	for (i = 0; i < sizeof(parent); i++) {
		h ^= (parent >> (8 * i)) & 0xff;
		h *= 1099511628211ull;
	}
	for (i = 0; i < len; i++) {
		h ^= (unsigned char)p[i];
		h *= 1099511628211ull;
	}
	return h;
}

uint32_t ptab_find(struct ptab *t, uint32_t parent, const char *name, size_t len)
{
	uint64_t h;
	size_t i;

	if (!t->cap)
		return 0;
	h = key_hash(parent, name, len);
	for (i = h & (t->cap - 1);; i = (i + 1) & (t->cap - 1)) {
		uint32_t id = t->slot[i];
		struct rec *r;

		if (!id)
			return 0;
		r = ptab_rec(t, id);
		if (r->hash == h && r->parent == parent && r->len == len &&
			memcmp(r->name, name, len) == 0)
			return id;
	}
}

static int ptab_grow(struct ptab *t)
{
	size_t ncap = t->cap ? t->cap * 2 : 1024, i, j;
	uint32_t *ns = calloc(ncap, sizeof(*ns));

	if (!ns)
		return -ENOMEM;
	for (i = 0; i < t->n; i++) {
		for (j = t->v[i].hash & (ncap - 1); ns[j]; j = (j + 1) & (ncap - 1))
			;
		ns[j] = (uint32_t)(i + 1);
	}
	free(t->slot);
	t->slot = ns;
	t->cap = ncap;
	return 0;
}

int ptab_put(struct ptab *t, uint32_t parent, const char *name, size_t len, uint32_t *ret)
{
	uint32_t id = ptab_find(t, parent, name, len);
	struct rec *r, *nv;
	size_t i;
	int e;

	if (id) {
		*ret = id;
		return 0;
	}
	if (t->n >= TAB_MAX_ENTRIES || t->bytes + len > TAB_MAX_BYTES)
		return -E2BIG;
	if ((t->n + 1) * 2 > t->cap) {
		e = ptab_grow(t);
		if (e < 0)
			return e;
	}
	if (t->n == t->vcap) {
		size_t ncap = t->vcap ? t->vcap * 2 : 512;

		nv = realloc(t->v, ncap * sizeof(*nv));
		if (!nv)
			return -ENOMEM;
		t->v = nv;
		t->vcap = ncap;
	}
	r = &t->v[t->n];
	memset(r, 0, sizeof(*r));
	r->name = malloc(len ? len : 1);
	if (!r->name)
		return -ENOMEM;
	memcpy(r->name, name, len);
	r->len = (uint32_t)len;
	r->parent = parent;
	r->hash = key_hash(parent, name, len);
	id = (uint32_t)++t->n;
	for (i = r->hash & (t->cap - 1); t->slot[i]; i = (i + 1) & (t->cap - 1))
		;
	t->slot[i] = id;
	t->bytes += len;
	*ret = id;
	return 0;
}

void ptab_release(struct ptab *t)
{
	size_t i;

	for (i = 0; i < t->n; i++)
		free(t->v[i].name);
	free(t->v);
	free(t->slot);
	memset(t, 0, sizeof(*t));
}
