/*
 * names.c - the name table: every configured Artifacts.toml, the host
 * platform already selected, as one immutable snapshot
 *
 * A reload builds a new snapshot and swaps the pointer (reload.c), so FUSE
 * threads never wait for a reload and a listing in progress never sees a
 * half-built table.  Snapshots are reference counted.
 */
#include "fs/fs.h"
#include "fetch/artifacts.h"
#include "fetch/fetch.h"
#include "store/hash.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * v holds the names the mount lists, sorted by name after the build; x the
 * bindings not listed because an earlier file defines the same name (their
 * sources still serve their hash), in configuration order.
 */
struct fs_names {
	atomic_uint refs;
	struct fs_name *v;	/* sorted by name */
	size_t n, cap;
	struct fs_name *x;
	size_t nx, capx;
	size_t next_order;
};

static void name_release(struct fs_name *e)
{
	size_t i;

	free(e->name);
	free(e->toml);
	for (i = 0; e->seek_index && i < e->n_sources; i++)
		free(e->seek_index[i]);
	free(e->seek_index);
	fs_sources_free(e->sources, e->n_sources);
}

const char *fs_name_refusal(const char *name, size_t len)
{
	if (len == 0)
		return "an empty name cannot be a file name";
	if (memchr(name, '\0', len))
		return "a name with a NUL byte cannot be a file name";
	if (memchr(name, '/', len))
		return "a name with a '/' cannot be a file name";
	if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return "'.' and '..' cannot be names";
	if (len > 255)
		return "a name longer than 255 bytes cannot be a file name";
	if (len == 40 && hash_hex_valid(name, 40))
		return "a name of 40 hex digits could be taken for an artifact hash";
	return NULL;
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
	for (i = 0; i < n->nx; i++)
		name_release(&n->x[i]);
	free(n->v);
	free(n->x);
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
	for (i = 0; n && i < n->nx; i++)
		if (strcmp(n->x[i].hash, hash) == 0)
			return &n->x[i];
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

/* Append a binding to v (listed) or to x (sources only). */
static int add_entry(struct fs_names *n, const struct artifact_entry *e, const char *toml,
		     bool listed)
{
	const struct artifact_download *dl;
	struct fs_name **v = listed ? &n->v : &n->x, *ne, *nv;
	size_t *len = listed ? &n->n : &n->nx, *cap = listed ? &n->cap : &n->capx;
	size_t i, nd;

	if (*len == *cap) {
		*cap = *cap ? 2 * *cap : 32;
		nv = realloc(*v, *cap * sizeof(*nv));
		if (!nv)
			return -ENOMEM;
		*v = nv;
	}
	ne = &(*v)[*len];
	memset(ne, 0, sizeof(*ne));
	ne->order = n->next_order++;
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
		ne->sources[i].size = dl[i].size;
		ne->n_sources++;
		if (!ne->sources[i].url || !ne->sources[i].sha256)
			goto nomem;
		if (!dl[i].seek_index)
			continue;
		if (!ne->seek_index && !(ne->seek_index = calloc(nd, sizeof(char *))))
			goto nomem;
		ne->seek_index[i] = strdup(dl[i].seek_index);
		if (!ne->seek_index[i])
			goto nomem;
	}
	(*len)++;
	return 0;
nomem:
	name_release(ne);
	return -ENOMEM;
}

/* Add the names of one file; first definition wins. */
static int add_file(struct fs_names *n, struct artifacts *a, const struct platform *host,
		    bool strict, bool depot_layout, char **errmsg)
{
	const struct artifact_entry *e;
	const struct fs_name *old;
	const char *name, *why, *path = artifacts_path(a);
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
		why = fs_name_refusal(name, artifacts_name_len_at(a, i));
		if (!why && depot_layout && strcmp(name, "artifacts") == 0)
			why = "the directory artifacts/ of depot_layout takes that name";
		if (why) {
			/* The model keeps no line numbers: the file and the name. */
			fs_log(FS_LOG_WARNING, "%s: name '%.64s%s' left out: %s", path, name,
			       strlen(name) > 64 ? "..." : "", why);
			continue;
		}
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
		if (old && strcmp(old->hash, artifact_entry_hash(e)) != 0)
			fs_log(FS_LOG_NOTICE,
			       "name '%s' of '%s' (%s) ignored: '%s' defines it first (%s)",
			       name, path, artifact_entry_hash(e), old->toml, old->hash);
		/* A name defined again still lends its sources to its hash. */
		r = add_entry(n, e, path, !old);
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
		r = add_file(n, a, host, strict, cfg->depot_layout, &msg);
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

/* The bindings of hash, listed or not, in configuration order. */
static size_t bindings_of(const struct fs_names *n, const char *hash,
			  const struct fs_name **out)
{
	const struct fs_name *e;
	size_t i, k = 0, j;

	for (i = 0; n && i < n->n + n->nx; i++) {
		e = i < n->n ? &n->v[i] : &n->x[i - n->n];
		if (strcmp(e->hash, hash) != 0)
			continue;
		/* insertion by order: a hash has few names */
		for (j = k++; j > 0 && out[j - 1]->order > e->order; j--)
			out[j] = out[j - 1];
		out[j] = e;
	}
	return k;
}

static bool has_url(const struct fs_install_req *r, const char *url)
{
	size_t i;

	for (i = 0; i < r->n_sources; i++)
		if (strcmp(r->sources[i].url, url) == 0)
			return true;
	return false;
}

static int add_sources(struct fs_install_req *r, const struct fs_name *e)
{
	struct fetch_source *s;
	char *url, *sha256;
	size_t i;

	for (i = 0; i < e->n_sources; i++) {
		if (has_url(r, e->sources[i].url))
			continue;
		s = &r->sources[r->n_sources];
		s->url = url = strdup(e->sources[i].url);
		s->sha256 = sha256 = strdup(e->sources[i].sha256);
		s->size = e->sources[i].size;
		r->n_sources++;
		if (!url || !sha256)
			return -ENOMEM;
	}
	return 0;
}

int fs_names_request(const struct fs_names *n, const char *hash, const char *via,
		     struct fs_install_req **ret)
{
	const struct fs_name **b = NULL, *first;
	struct fs_install_req *r;
	size_t i, nb, total = 0;
	int err = -ENOMEM;

	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	if (n && n->n + n->nx) {
		b = calloc(n->n + n->nx, sizeof(*b));
		if (!b)
			goto fail;
	}
	nb = bindings_of(n, hash, b);
	if (nb == 0) {
		free(b);
		*ret = r;
		return 0;
	}
	first = b[0];
	for (i = 0; via && i < nb; i++)
		if (strcmp(b[i]->name, via) == 0) {
			first = b[i];
			break;
		}
	for (i = 0; i < nb; i++)
		total += b[i]->n_sources;
	r->name = strdup(first->name);
	r->toml = strdup(first->toml);
	r->sources = total ? calloc(total, sizeof(*r->sources)) : NULL;
	if (!r->name || !r->toml || (total && !r->sources))
		goto fail;
	err = add_sources(r, first);
	for (i = 0; err == 0 && i < nb; i++)
		if (b[i] != first)
			err = add_sources(r, b[i]);
	if (err < 0)
		goto fail;
	free(b);
	*ret = r;
	return 0;
fail:
	free(b);
	fs_install_req_free(r);
	return err;
}

void fs_sources_free(struct fetch_source *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free((char *)v[i].url);
		free((char *)v[i].sha256);
	}
	free(v);
}

void fs_install_req_free(struct fs_install_req *r)
{
	if (!r)
		return;
	free(r->name);
	free(r->toml);
	fs_sources_free(r->sources, r->n_sources);
	free(r);
}
