/*
 * lookup.c - is this tree already published?  One listing of the
 * NAME.PLATFORM. prefix, then the sidecars of the matching TREE16
 * (lookup.h)
 */
#include "tools/publish/lookup.h"

#include "tools/publish/sidecar.h"
#include "tools/publish/upload.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool is_hex16(const char *s)
{
	size_t i;

	for (i = 0; i < 16; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

/* Whether rest (the key after NAME.PLATFORM.) is TREE16-SHA16.SUFFIX[.json]. */
static bool object_form(const char *rest)
{
	static const char *const sfx[] = {
		".tar", ".tar.gz", ".tgz", ".tar.xz", ".tar.bz2", ".tar.zst"};
	const char *s;
	size_t i, n;

	if (strlen(rest) < 33 || !is_hex16(rest) || rest[16] != '-' || !is_hex16(rest + 17))
		return false;
	s = rest + 33;
	n = strlen(s);
	if (n > 5 && strcmp(s + n - 5, ".json") == 0)
		n -= 5;
	for (i = 0; i < sizeof(sfx) / sizeof(sfx[0]); i++)
		if (strlen(sfx[i]) == n && strncmp(s, sfx[i], n) == 0)
			return true;
	return false;
}

static bool same_str(const char *a, const char *b)
{
	return a && b ? strcmp(a, b) == 0 : a == b;
}

/* Whether the sidecar at l->v[i] is of our tree, with its tarball listed at its size. */
static int matches(struct upload *u, const struct upload_objects *l, size_t i, const char *name,
	const char *platform, const char *tree, struct sidecar *sc, bool *yes)
{
	const struct upload_object *tar;
	char *json = NULL, *msg = NULL, *key;
	size_t len;
	int r;

	*yes = false;
	if (!(key = strndup(l->v[i].key, strlen(l->v[i].key) - 5)))
		return -ENOMEM;
	tar = upload_objects_find(l, key);
	free(key);
	if (!tar)
		return 0;
	r = upload_get(u, l->v[i].key, SIDECAR_MAX, &json, &len);
	if (r == -ENOENT || r == -E2BIG)
		return 0;
	if (r < 0)
		return r;
	r = sidecar_parse(json, len, sc, &msg);
	free(json);
	free(msg);
	if (r == -ENOMEM)
		return r;
	if (r < 0)
		return 0;
	*yes = strcmp(sc->name, name) == 0 && same_str(sc->platform, platform) &&
	       strcmp(sc->tree, tree) == 0 && sc->size == tar->size;
	if (!*yes)
		sidecar_release(sc);
	return 0;
}

/* Whether key.seekidx, the seek index beside the tarball key, is in l. */
static int has_seekidx(const struct upload_objects *l, const char *key, bool *ret)
{
	char *k = NULL;

	if (asprintf(&k, "%s.seekidx", key) < 0)
		return -ENOMEM;
	*ret = upload_objects_find(l, k) != NULL;
	free(k);
	return 0;
}

int lookup_published(struct upload *u, const char *name, const char *platform, const char *tree,
	struct lookup_result *ret)
{
	struct lookup_result res = {.state = LOOKUP_NEW};
	struct upload_objects l = {0};
	struct sidecar sc = {0};
	char *prefix = NULL;
	size_t i, plen;
	bool yes = false;
	int r;

	if (asprintf(&prefix, "%s.%s.", name, platform ? platform : "any") < 0)
		return -ENOMEM;
	plen = strlen(prefix);
	r = upload_list_sorted(u, prefix, &l);
	if (r == -ENOENT || r == -ENOTDIR) /* a directory not created yet: nothing there */
		r = 0;
	if (r < 0)
		goto out;
	for (i = 0; i < l.n && !yes; i++) {
		/* keys in sub-directories (file://) or of other names are not ours */
		if (strncmp(l.v[i].key, prefix, plen) != 0 || !object_form(l.v[i].key + plen) ||
			!sidecar_is_key(l.v[i].key))
			continue;
		res.state = LOOKUP_CHANGED;
		if (strncmp(l.v[i].key + plen, tree, 16) != 0)
			continue;
		if ((r = matches(u, &l, i, name, platform, tree, &sc, &yes)) < 0)
			goto out;
		if (!yes)
			continue;
		res.state = LOOKUP_UNCHANGED;
		res.size = sc.size;
		memcpy(res.sha256, sc.sha256, sizeof(res.sha256));
		if (!(res.key = strndup(l.v[i].key, strlen(l.v[i].key) - 5)))
			r = -ENOMEM;
		else
			r = has_seekidx(&l, res.key, &res.has_seekidx);
		sidecar_release(&sc);
	}
	if (r == 0)
		*ret = res;
out:
	upload_objects_release(&l);
	free(prefix);
	return r;
}

void lookup_result_release(struct lookup_result *r)
{
	free(r->key);
	memset(r, 0, sizeof(*r));
}
