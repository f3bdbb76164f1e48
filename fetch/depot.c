/*
 * depot.c - what a Julia depot uses: usage logs, manifests, package slugs
 *
 * See depot.h.  Moved here from tools/cmd_gc.c, which keeps the command.
 */
#include "fetch/depot.h"

#include "fetch/toml.h"
#include "store/hash.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static bool exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0;
}

static bool is_dir(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* crc32c - CRC-32C (Castagnoli), chained as Julia's _crc32c(data, crc). */
static uint32_t crc32c(uint32_t crc, const uint8_t *p, size_t n)
{
	int k;

	crc = ~crc;
	while (n--) {
		crc ^= *p++;
		for (k = 0; k < 8; k++)
			crc = crc & 1 ? (crc >> 1) ^ 0x82f63b78u : crc >> 1;
	}
	return ~crc;
}

void depot_version_slug(const uint8_t uuid[DEPOT_UUID_LEN], const uint8_t tree[HASH_SHA1_LEN],
	int len, char *out)
{
	static const char chars[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
	uint8_t le[DEPOT_UUID_LEN];
	uint32_t crc;
	int i;

	for (i = 0; i < DEPOT_UUID_LEN; i++)
		le[i] = uuid[DEPOT_UUID_LEN - 1 - i];
	crc = crc32c(crc32c(0, le, sizeof(le)), tree, HASH_SHA1_LEN);
	for (i = 0; i < len; i++) {
		out[i] = chars[crc % 62];
		crc /= 62;
	}
	out[len > 0 ? len : 0] = '\0';
}

int depot_parse_uuid(const char *s, uint8_t out[DEPOT_UUID_LEN])
{
	char hex[2 * DEPOT_UUID_LEN + 1];
	size_t i, n = 0;

	if (!s || strlen(s) != 36)
		return -EINVAL;
	for (i = 0; i < 36; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return -EINVAL;
		} else {
			hex[n++] = s[i];
		}
	}
	hex[n] = '\0';
	return hash_from_hex(hex, n, out, DEPOT_UUID_LEN) == 0 ? 0 : -EINVAL;
}

int depot_artifacts_file(const char *dir, char **ret)
{
	static const char *const names[] = { "JuliaArtifacts.toml", "Artifacts.toml" };
	char *path;
	size_t i;

	for (i = 0; i < 2; i++) {
		if (asprintf(&path, "%s/%s", dir, names[i]) < 0)
			return -ENOMEM;
		if (exists(path)) {
			*ret = path;
			return 0;
		}
		free(path);
	}
	return -ENOENT;
}

/* use_package - hand the artifacts file of the package at dir, if any, to w->use(). */
static int use_package(const struct depot_walker *w, const char *dir)
{
	char *path;
	int r;

	r = depot_artifacts_file(dir, &path);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	r = w->use(path, w->arg);
	free(path);
	return r;
}

/*
 * find_installed - Pkg's Operations.find_installed(name, uuid, tree_hash):
 * the first of <depot>/packages/<name>/<slug> that exists, 5-character
 * slug first, then the 4-character one of old Pkg versions, every depot
 * of the search list for each.  A name that is not one path component
 * finds nothing.
 */
static int find_installed(const struct depot_walker *w, const char *name,
	const uint8_t uuid[DEPOT_UUID_LEN], const uint8_t tree[HASH_SHA1_LEN])
{
	char slug[8], *dir;
	size_t d;
	int p, r;

	if (strchr(name, '/') || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return 0;
	for (p = 5; p >= 4; p--) {
		depot_version_slug(uuid, tree, p, slug);
		for (d = 0; d < w->ndepots; d++) {
			if (asprintf(&dir, "%s/packages/%s/%s", w->depots[d], name, slug) < 0)
				return -ENOMEM;
			if (is_dir(dir)) {
				r = use_package(w, dir);
				free(dir);
				return r;
			}
			free(dir);
		}
	}
	return 0;
}

/*
 * package - one [[deps.X]] element t of the manifest at path: a developed
 * package by its path (relative to the manifest's directory), a registered
 * or repo one by its uuid and git-tree-sha1.
 */
static int package(const struct depot_walker *w, const char *manifest, const char *name,
	const struct toml_value *t)
{
	const char *path, *uuid, *tree, *slash;
	uint8_t u[DEPOT_UUID_LEN], h[HASH_SHA1_LEN];
	char *dir;
	int r;

	path = toml_string(toml_get(t, "path"), NULL);
	uuid = toml_string(toml_get(t, "uuid"), NULL);
	tree = toml_string(toml_get(t, "git-tree-sha1"), NULL);
	if (path && *path) {
		slash = strrchr(manifest, '/');
		if (path[0] == '/')
			r = asprintf(&dir, "%s", path);
		else
			r = asprintf(&dir, "%.*s/%s", slash ? (int)(slash - manifest) : 1,
				slash ? manifest : ".", path);
		if (r < 0)
			return -ENOMEM;
		r = use_package(w, dir);
		free(dir);
		return r;
	}
	if (depot_parse_uuid(uuid, u) == 0 && tree && strlen(tree) == 2 * HASH_SHA1_LEN &&
	    hash_from_hex(tree, strlen(tree), h, sizeof(h)) == 0)
		return find_installed(w, name, u, h);
	return 0;
}

/* manifest - the packages of the Manifest.toml at path, format 2.0 or 1.0. */
static int manifest(const struct depot_walker *w, const char *path)
{
	struct toml_value *root = NULL, *deps, *arr, *t;
	const char *name;
	char *msg = NULL;
	size_t i, j;
	int r;

	r = toml_parse_file(path, &root, &msg);
	if (r < 0) {
		if (r == -ENOMEM)
			goto out;
		if (w->malformed)
			w->malformed("manifest", path, msg ? msg : strerror(-r), w->arg);
		r = 0;
		goto out;
	}
	deps = toml_get(root, "manifest_format") ? toml_get(root, "deps") : root;
	for (i = 0; deps && (name = toml_key_at(deps, i, NULL)); i++) {
		arr = toml_value_at(deps, i);
		if (toml_type(arr) != TOML_ARRAY)
			continue;
		for (j = 0; (t = toml_at(arr, j)); j++) {
			r = package(w, path, name, t);
			if (r < 0)
				goto out;
		}
	}
out:
	free(msg);
	toml_free(root);
	return r;
}

/*
 * usage_log - the keys of <depot>/logs/<file> (spec §5) in file order, each
 * handed to fn when its file exists and to w->gone otherwise.  A log that
 * does not exist is no error (a depot that never logged); a malformed one
 * is reported and skipped, as Pkg does.
 */
static int usage_log(const struct depot_walker *w, const char *depot, const char *file,
	int (*fn)(const struct depot_walker *, const char *))
{
	struct toml_value *root = NULL;
	char *log, *msg = NULL;
	const char *k;
	size_t i;
	int r;

	if (asprintf(&log, "%s/logs/%s", depot, file) < 0)
		return -ENOMEM;
	r = toml_parse_file(log, &root, &msg);
	if (r == -ENOENT) {
		if (w->no_log)
			w->no_log(log, w->arg);
		r = 0;
		goto out;
	}
	if (r < 0) {
		if (r != -ENOMEM) {
			if (w->malformed)
				w->malformed("usage log", log, msg ? msg : strerror(-r), w->arg);
			r = 0;
		}
		goto out;
	}
	for (i = 0; (k = toml_key_at(root, i, NULL)); i++) {
		if (exists(k)) {
			r = fn(w, k);
			if (r < 0)
				goto out;
		} else if (w->gone) {
			w->gone(log, k, w->arg);
		}
	}
out:
	free(msg);
	free(log);
	toml_free(root);
	return r;
}

static int use_file(const struct depot_walker *w, const char *path)
{
	return w->use(path, w->arg);
}

int depot_walk(const struct depot_walker *w, const char *depot)
{
	int r;

	r = usage_log(w, depot, "artifact_usage.toml", use_file);
	if (r < 0)
		return r;
	return usage_log(w, depot, "manifest_usage.toml", manifest);
}
