/*
 * names.c - the name table: every configured Artifacts.toml, the host
 * platform already selected, as one immutable snapshot
 *
 * A reload builds a new snapshot and swaps the pointer (main.c), so FUSE
 * threads never wait for a reload and a listing in progress never sees a
 * half-built table.  Snapshots are reference counted.
 */
#include "fs/fs.h"
#include "fetch/artifacts.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct fs_names {
	atomic_uint refs;
	struct fs_name *v;	/* sorted by name */
	size_t n, cap;
};

static void name_release(struct fs_name *e)
{
	size_t i;

	free(e->name);
	free(e->toml);
	for (i = 0; i < e->n_sources; i++) {
		free(e->sources[i].url);
		free(e->sources[i].sha256);
	}
	free(e->sources);
}

void fs_names_ref(struct fs_names *n)
{
	if (n)
		atomic_fetch_add(&n->refs, 1);
}

void fs_names_unref(struct fs_names *n)
{
	size_t i;

	if (!n || atomic_fetch_sub(&n->refs, 1) != 1)
		return;
	for (i = 0; i < n->n; i++)
		name_release(&n->v[i]);
	free(n->v);
	free(n);
}

static int cmp_name(const void *a, const void *b)
{
	return strcmp(((const struct fs_name *)a)->name, ((const struct fs_name *)b)->name);
}

const struct fs_name *fs_names_find(const struct fs_names *n, const char *name)
{
	struct fs_name key = { .name = (char *)name };

	if (!n || !n->n)
		return NULL;
	return bsearch(&key, n->v, n->n, sizeof(key), cmp_name);
}

const struct fs_name *fs_names_find_hash(const struct fs_names *n, const char *hash)
{
	size_t i;

	for (i = 0; n && i < n->n; i++)
		if (strcmp(n->v[i].hash, hash) == 0)
			return &n->v[i];
	return NULL;
}

size_t fs_names_count(const struct fs_names *n)
{
	return n ? n->n : 0;
}

const struct fs_name *fs_names_at(const struct fs_names *n, size_t i)
{
	return n && i < n->n ? &n->v[i] : NULL;
}

/* Linear: names are added once per file; sorted at the end for lookups. */
static const struct fs_name *find_unsorted(const struct fs_names *n, const char *name)
{
	size_t i;

	for (i = 0; i < n->n; i++)
		if (strcmp(n->v[i].name, name) == 0)
			return &n->v[i];
	return NULL;
}

static int add_entry(struct fs_names *n, const struct artifact_entry *e, const char *toml)
{
	const struct artifact_download *dl;
	struct fs_name *ne, *nv;
	size_t i, nd;

	if (n->n == n->cap) {
		n->cap = n->cap ? 2 * n->cap : 32;
		nv = realloc(n->v, n->cap * sizeof(*nv));
		if (!nv)
			return -ENOMEM;
		n->v = nv;
	}
	ne = &n->v[n->n];
	memset(ne, 0, sizeof(*ne));
	memcpy(ne->hash, artifact_entry_hash(e), 41);
	ne->lazy = artifact_entry_lazy(e);
	ne->name = strdup(artifact_entry_name(e));
	ne->toml = strdup(toml);
	nd = artifact_entry_downloads(e, &dl);
	ne->sources = nd ? calloc(nd, sizeof(*ne->sources)) : NULL;
	if (!ne->name || !ne->toml || (nd && !ne->sources))
		goto nomem;
	for (i = 0; i < nd; i++) {
		ne->sources[i].url = strdup(dl[i].url);
		ne->sources[i].sha256 = strdup(dl[i].sha256);
		ne->n_sources++;
		if (!ne->sources[i].url || !ne->sources[i].sha256)
			goto nomem;
	}
	n->n++;
	return 0;
nomem:
	name_release(ne);
	return -ENOMEM;
}

/* Add the names of one file; first definition wins. */
static int add_file(struct fs_names *n, struct artifacts *a, const struct platform *host,
		    bool strict, char **errmsg)
{
	const struct artifact_entry *e;
	const struct fs_name *old;
	const char *name, *path = artifacts_path(a);
	char *msg = NULL;
	size_t i;
	int r;

	if (strict) {
		r = artifacts_check(a, errmsg);
		if (r < 0)
			return r;
	}
	for (i = 0; i < artifacts_count(a); i++) {
		name = artifacts_name_at(a, i);
		r = artifacts_select(a, name, host, &e, &msg);
		if (r == -ENXIO || r == -ENOENT) {
			fs_log(FS_LOG_DEBUG, "%s: '%s' has no entry for this platform", path, name);
			free(msg);
			msg = NULL;
			continue;
		}
		if (r < 0) {
			if (r == -ENOMEM || strict) {
				*errmsg = msg;
				return r;
			}
			fs_log(FS_LOG_WARNING, "skipping '%s': %s", name, msg ? msg : strerror(-r));
			free(msg);
			msg = NULL;
			continue;
		}
		old = find_unsorted(n, name);
		if (old) {
			if (strcmp(old->hash, artifact_entry_hash(e)) != 0)
				fs_log(FS_LOG_NOTICE,
				       "name '%s' of '%s' (%s) ignored: '%s' defines it first (%s)",
				       name, path, artifact_entry_hash(e), old->toml, old->hash);
			continue;
		}
		r = add_entry(n, e, path);
		if (r < 0)
			return r;
	}
	return 0;
}

int fs_names_build(const struct fs_config *cfg, const struct platform *host, bool strict,
		   struct fs_names **ret, char **errmsg)
{
	struct fs_names *n;
	struct artifacts *a;
	char *msg = NULL;
	size_t i;
	int r = 0;

	*errmsg = NULL;
	n = calloc(1, sizeof(*n));
	if (!n)
		return -ENOMEM;
	atomic_init(&n->refs, 1);
	for (i = 0; i < cfg->n_tomls; i++) {
		r = artifacts_load(cfg->tomls[i], &a, &msg);
		if (r < 0) {
			if (!msg && asprintf(&msg, "cannot load '%s': %s", cfg->tomls[i],
					     strerror(-r)) < 0)
				msg = NULL;
			if (strict || r == -ENOMEM)
				goto fail;
			fs_log(FS_LOG_ERR, "%s", msg ? msg : strerror(-r));
			free(msg);
			msg = NULL;
			continue;
		}
		r = add_file(n, a, host, strict, &msg);
		artifacts_free(a);
		if (r < 0)
			goto fail;
	}
	if (n->n)
		qsort(n->v, n->n, sizeof(*n->v), cmp_name);
	*ret = n;
	return 0;
fail:
	*errmsg = msg;
	fs_names_unref(n);
	return r;
}
