/*
 * index.c - read back the sidecars published under a destination into one
 * sorted index (tools/publish/index.h)
 */
#include "tools/publish/index.h"

#include "store/util/buf.h"
#include "store/util/io.h"
#include "tools/publish/upload.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* NULL (platform independent) sorts first */
static int cmp_nullable(const char *a, const char *b)
{
	if (a && b)
		return strcmp(a, b);
	return a ? 1 : b ? -1 : 0;
}

static int cmp_entry(const void *pa, const void *pb)
{
	const struct index_entry *a = pa, *b = pb;
	int c;

	if ((c = strcmp(a->sc.name, b->sc.name)) != 0 ||
		(c = cmp_nullable(a->sc.platform, b->sc.platform)) != 0 ||
		(c = strcmp(a->sc.tree, b->sc.tree)) != 0)
		return c;
	return strcmp(a->url, b->url);
}

int index_write(const char *path, const char *text, size_t len)
{
	char *tmp = NULL;
	mode_t um;
	int fd, r;

	if (strcmp(path, "-") == 0) {
		if (fwrite(text, 1, len, stdout) != len || fflush(stdout) == EOF)
			return -errno ? -errno : -EIO;
		return 0;
	}
	if (asprintf(&tmp, "%s.tmp.XXXXXX", path) < 0)
		return -ENOMEM;
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		goto out;
	}
	r = io_write_all(fd, text, len);
	/* mkostemp makes 0600; an index is meant to be published: 0666 & ~umask */
	if (r == 0) {
		um = umask(0);
		umask(um);
		if (fchmod(fd, 0666 & ~um) < 0)
			r = -errno;
	}
	r = io_replace(fd, r, tmp, path);
out:
	free(tmp);
	return r;
}

/* Read the sidecars of the listing into ix. */
static int read_sidecars(struct upload *u, struct upload_objects *l, const char *public_url,
	index_warn_fn warn, void *arg, struct index *ix, char **errmsg)
{
	struct index_entry *v = calloc(l->n ? l->n : 1, sizeof(*v));
	const struct upload_object *obj;
	char *json = NULL, *msg = NULL, *key = NULL, *url = NULL, *m = NULL;
	size_t i, len, cnt = 0;
	int r = 0;

	if (!v)
		return -ENOMEM;
	for (i = 0; i < l->n && r == 0; i++) {
		if (!sidecar_is_key(l->v[i].key))
			continue;
		free(key);
		key = strndup(l->v[i].key, strlen(l->v[i].key) - 5);
		if (!key) {
			r = -ENOMEM;
			break;
		}
		obj = upload_objects_find(l, key);
		r = upload_get(u, l->v[i].key, SIDECAR_MAX, &json, &len);
		if (r < 0) {
			*errmsg = strdup(upload_errmsg(u));
			break;
		}
		r = sidecar_parse(json, len, &v[cnt].sc, &msg);
		free(json);
		json = NULL;
		if (r < 0) {
			upload_url(u, l->v[i].key, &url);
			if (asprintf(errmsg, "'%s' is not a valid sidecar: %s", url ? url : l->v[i].key,
				    msg ? msg : strerror(-r)) < 0)
				*errmsg = NULL;
			break;
		}
		if (!obj || obj->size != v[cnt].sc.size) {
			upload_url(u, key, &url);
			if (warn && asprintf(&m, "left out '%s': %s", url ? url : key,
					    !obj ? "the tarball of its sidecar is missing"
						 : "its size differs from its sidecar's") >= 0)
				warn(arg, m);
			free(m);
			m = NULL;
			free(url);
			url = NULL;
			sidecar_release(&v[cnt].sc);
			continue;
		}
		r = public_url ? upload_join_url(public_url, key, &v[cnt].url)
			       : upload_url(u, key, &v[cnt].url);
		if (r < 0) {
			sidecar_release(&v[cnt].sc);
			if (asprintf(errmsg, "cannot make the URL of '%s': %s", key, strerror(-r)) < 0)
				*errmsg = NULL;
			break;
		}
		cnt++;
	}
	free(key);
	free(msg);
	free(url);
	if (r < 0) {
		ix->v = v;
		ix->n = cnt;
		index_release(ix);
		return r;
	}
	qsort(v, cnt, sizeof(*v), cmp_entry);
	ix->v = v;
	ix->n = cnt;
	return 0;
}

int index_read(struct upload *u, const char *public_url, index_warn_fn warn, void *arg,
	struct index *ret, char **errmsg)
{
	struct upload_objects l = {0};
	struct index ix = {0};
	int r;

	*errmsg = NULL;
	r = upload_list_sorted(u, "", &l);
	if (r < 0) {
		if (*upload_errmsg(u))
			*errmsg = strdup(upload_errmsg(u));
		return r;
	}
	if ((r = read_sidecars(u, &l, public_url, warn, arg, &ix, errmsg)) == 0)
		*ret = ix;
	upload_objects_release(&l);
	return r;
}

void index_release(struct index *ix)
{
	size_t i;

	for (i = 0; i < ix->n; i++) {
		sidecar_release(&ix->v[i].sc);
		free(ix->v[i].url);
	}
	free(ix->v);
	ix->v = NULL;
	ix->n = 0;
}

int index_format(const struct index *ix, char **ret, size_t *len)
{
	const struct index_entry *e;
	json_t *o, *empty = json_object();
	struct buf b;
	size_t i;
	char *s = NULL, *t;
	int r;

	if (!empty)
		return -ENOMEM;
	buf_init(&b, INDEX_MAX);
	r = buf_adds(&b, "[\n");
	for (i = 0; r == 0 && i < ix->n; i++) {
		e = &ix->v[i];
		o = json_pack("{s:o, s:o, s:s, s:s, s:I, s:o, s:o, s:O}", "name",
			sidecar_json_str(e->sc.name), "platform", sidecar_json_str(e->sc.platform),
			"git-tree-sha1", e->sc.tree, "sha256", e->sc.sha256, "size",
			(json_int_t)e->sc.size, "url", sidecar_json_str(e->url), "created",
			sidecar_json_str(e->sc.created), "meta", e->sc.meta ? e->sc.meta : empty);
		t = o ? json_dumps(o, 0) : NULL;
		json_decref(o);
		if (!t) {
			r = -ENOMEM;
			break;
		}
		if ((r = buf_adds(&b, t)) == 0)
			r = buf_adds(&b, i + 1 < ix->n ? ",\n" : "\n");
		free(t);
	}
	if (r == 0)
		r = buf_adds(&b, "]\n");
	if (r == 0 && !(s = buf_detach(&b, len)))
		r = -ENOMEM;
	if (r == 0)
		*ret = s;
	buf_release(&b);
	json_decref(empty);
	return r;
}

void index_keep_latest(struct index *ix)
{
	size_t i, j, k, best, out = 0;

	for (i = 0; i < ix->n; i = k) {
		best = i;
		for (k = i + 1; k < ix->n && strcmp(ix->v[k].sc.name, ix->v[i].sc.name) == 0 &&
				cmp_nullable(ix->v[k].sc.platform, ix->v[i].sc.platform) == 0;
			k++)
			/* created, NULL as the oldest */
			if (cmp_nullable(ix->v[k].sc.created, ix->v[best].sc.created) > 0)
				best = k;
		for (j = i; j < k; j++) {
			if (j == best)
				continue;
			sidecar_release(&ix->v[j].sc);
			free(ix->v[j].url);
		}
		ix->v[out++] = ix->v[best];
	}
	ix->n = out;
}
