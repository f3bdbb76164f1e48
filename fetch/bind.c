/*
 * bind.c - bind_artifact!/unbind_artifact! on an Artifacts.toml file
 *
 * Edits go through the TOML tree (fetch/toml.h) and the file is printed
 * again with toml_print(), Julia's TOML.print(sorted=true) layout, under an
 * exclusive lock on a lock file beside it.  See fetch/bind.h.
 */
#include "fetch/artifacts.h"
#include "fetch/bind.h"
#include "fetch/platform.h"
#include "fetch/toml.h"
#include "store/hash.h"
#include "store/util/io.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define HASH_DIGITS 40
#define SHA256_DIGITS 64

/* ---- messages ------------------------------------------------------------- */

/* Set *errmsg (when wanted and not set yet) to a formatted message; returns r. */
static int failf(char **errmsg, int r, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int failf(char **errmsg, int r, const char *fmt, ...)
{
	va_list ap;
	char *s;

	if (!errmsg || *errmsg)
		return r;
	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	*errmsg = s;
	return s ? r : -ENOMEM;
}

/* " in 'file'" for messages, or "" when there is no file. */
static const char *in_file(const char *file, char *buf, size_t len)
{
	if (!file)
		return "";
	snprintf(buf, len, " in '%s'", file);
	return buf;
}

/* The triplet of p for a message, into buf ("?" when it cannot be rendered). */
static const char *triplet_of(const struct platform *p, char *buf, size_t len)
{
	char *t = NULL;

	if (platform_triplet(p, &t) < 0 || !t)
		snprintf(buf, len, "?");
	else
		snprintf(buf, len, "%s", t);
	free(t);
	return buf;
}

/* ---- validation ----------------------------------------------------------- */

/* Copy exactly n hex digits of s (may be NULL), lowercased, into out (n + 1 bytes). */
static bool hex_lower(const char *s, size_t n, char *out)
{
	return s && hash_hex_lower(s, strlen(s), n, out);
}

static int check_request(const struct bind_request *req, char **errmsg)
{
	char hex[SHA256_DIGITS + 1];
	size_t i;

	if (!req->name || !*req->name)
		return failf(errmsg, -EINVAL, "invalid artifact name: empty");
	if (!hex_lower(req->hash, HASH_DIGITS, hex))
		return failf(errmsg, -EINVAL,
			"invalid git-tree-sha1 '%s' for artifact '%s': need 40 hex digits",
			req->hash ? req->hash : "", req->name);
	if (req->ndownloads && !req->downloads)
		return failf(errmsg, -EINVAL, "invalid download list for artifact '%s'", req->name);
	for (i = 0; i < req->ndownloads; i++) {
		const struct bind_download *d = &req->downloads[i];

		if (!d->url || !*d->url)
			return failf(errmsg, -EINVAL,
				"invalid download %zu for artifact '%s': "
				"empty url",
				i + 1, req->name);
		if (!hex_lower(d->sha256, SHA256_DIGITS, hex))
			return failf(errmsg, -EINVAL,
				"invalid sha256 '%s' for artifact '%s': "
				"need 64 hex digits",
				d->sha256 ? d->sha256 : "", req->name);
		if (d->seek_index && !*d->seek_index)
			return failf(errmsg, -EINVAL,
				"invalid download %zu for artifact '%s': empty seek_index", i + 1,
				req->name);
		if (d->size > INT64_MAX)
			return failf(errmsg, -EINVAL, "invalid size for artifact '%s': over 2^63",
				req->name);
	}
	if (req->platform &&
		(platform_get(req->platform, "lazy") || platform_get(req->platform, "download")))
		return failf(errmsg, -EINVAL,
			"invalid platform for artifact '%s': a tag may "
			"not be named lazy or download",
			req->name);
	return 0;
}

/* ---- reading the document -------------------------------------------------- */

/*
 * Julia's unpack_platform() of element idx of name's array: os and arch
 * strings required; every other string-valued key but git-tree-sha1 is a
 * tag.  Returns 0, -EINVAL with a message, or -ENOMEM.
 */
static int entry_platform(const char *file, const char *name, size_t idx,
	const struct toml_value *t, struct platform **ret, char **errmsg)
{
	const char *os = toml_string(toml_get(t, "os"), NULL);
	const char *arch = toml_string(toml_get(t, "arch"), NULL);
	char where[PATH_MAX + 8];
	int r;

	if (toml_type(t) != TOML_TABLE)
		return failf(errmsg, -EINVAL,
			"invalid artifacts file%s: artifact '%s' (entry "
			"%zu) is not a table",
			in_file(file, where, sizeof(where)), name, idx + 1);
	if (!os || !arch)
		return failf(errmsg, -EINVAL,
			"invalid artifacts file%s: platform-specific "
			"artifact entry '%s' (entry %zu) missing a string '%s' key",
			in_file(file, where, sizeof(where)), name, idx + 1, !os ? "os" : "arch");
	r = artifacts_table_platform(t, arch, os, ret);
	if (r == -EINVAL)
		return failf(errmsg, r,
			"invalid artifacts file%s: artifact '%s' (entry %zu) "
			"has an invalid platform tag",
			in_file(file, where, sizeof(where)), name, idx + 1);
	return r;
}

/*
 * The value of name in root: NULL (absent), a table, or an array whose
 * elements are tables.  Anything else is -EINVAL (Julia's "malformed, must
 * be array or dict!").
 */
static int get_name(const char *file, struct toml_value *root, const char *name,
	struct toml_value **ret, char **errmsg)
{
	struct toml_value *v = toml_get(root, name);
	char where[PATH_MAX + 8];

	*ret = v;
	if (!v || toml_type(v) == TOML_TABLE || toml_type(v) == TOML_ARRAY)
		return 0;
	return failf(errmsg, -EINVAL,
		"invalid artifacts file%s: artifact '%s' malformed, "
		"must be array or dict",
		in_file(file, where, sizeof(where)), name);
}

/*
 * Whether element idx of array arr has a platform equal to p.  Returns 1,
 * 0, -EINVAL (a malformed element) or -ENOMEM.
 */
static int entry_equal(const char *file, const char *name, const struct toml_value *arr, size_t idx,
	const struct platform *p, char **errmsg)
{
	struct platform *ep = NULL;
	int r;

	r = entry_platform(file, name, idx, toml_at(arr, idx), &ep, errmsg);
	if (r < 0)
		return r;
	r = platform_equal(ep, p) ? 1 : 0;
	platform_free(ep);
	return r;
}

/* ---- building entries ------------------------------------------------------ */

static struct toml_value *new_hex(const char *s, size_t n)
{
	char hex[SHA256_DIGITS + 1];

	if (!hex_lower(s, n, hex))
		return NULL;
	return toml_new_string(hex, n);
}

/* The new entry of req (pack_platform! included), owned by the caller. */
static int new_meta(const struct bind_request *req, struct toml_value **ret)
{
	struct toml_value *meta, *dls = NULL, *dl;
	const char *k, *v;
	size_t i;
	int r;

	meta = toml_new_table();
	if (!meta)
		return -ENOMEM;
	r = toml_set(meta, "git-tree-sha1", new_hex(req->hash, HASH_DIGITS));
	if (r == 0 && (req->flags & BIND_LAZY))
		r = toml_set(meta, "lazy", toml_new_bool(true));
	if (r == 0 && req->ndownloads) {
		dls = toml_new_array();
		r = toml_set(meta, "download", dls);
	}
	for (i = 0; r == 0 && i < req->ndownloads; i++) {
		const struct bind_download *d = &req->downloads[i];

		dl = toml_new_table();
		r = toml_append(dls, dl);
		if (r == 0)
			r = toml_set(dl, "sha256", new_hex(d->sha256, SHA256_DIGITS));
		if (r == 0)
			r = toml_set(dl, "url", toml_new_string(d->url, strlen(d->url)));
		if (r == 0 && d->size > 0)
			r = toml_set(dl, "size", toml_new_integer((int64_t)d->size));
		if (r == 0 && d->seek_index)
			r = toml_set(dl, "seek_index",
				toml_new_string(d->seek_index, strlen(d->seek_index)));
	}
	for (i = 0; r == 0 && req->platform && platform_tag_at(req->platform, i, &k, &v, NULL); i++)
		r = toml_set(meta, k, toml_new_string(v, strlen(v)));
	if (r < 0) {
		toml_free(meta);
		return r;
	}
	*ret = meta;
	return 0;
}

/* ---- the edits ------------------------------------------------------------- */

static int apply(
	const char *file, struct toml_value *root, const struct bind_request *req, char **errmsg)
{
	bool force = req->flags & BIND_FORCE;
	struct toml_value *cur, *meta = NULL, *arr;
	char where[PATH_MAX + 8], trip[256];
	size_t i, n;
	int r;

	r = check_request(req, errmsg);
	if (r < 0)
		return r;
	cur = toml_get(root, req->name);
	if (!req->platform) {
		if (cur && !force)
			return failf(errmsg, -EEXIST, "mapping for '%s'%s already exists",
				req->name, in_file(file, where, sizeof(where)));
		r = new_meta(req, &meta);
		if (r < 0)
			return r;
		return toml_set(root, req->name, meta);
	}

	/* A value that is neither table nor array: an error, or replaced when forced. */
	if (cur && toml_type(cur) != TOML_TABLE && toml_type(cur) != TOML_ARRAY) {
		if (!force)
			return get_name(file, root, req->name, &cur, errmsg);
		cur = NULL;
	}
	if (cur && toml_type(cur) == TOML_TABLE && !force)
		return failf(errmsg, -EEXIST,
			"mapping for '%s'%s already exists as a "
			"platform-independent entry",
			req->name, in_file(file, where, sizeof(where)));
	/* Find equal platforms first: nothing changes on a malformed entry. */
	n = cur && toml_type(cur) == TOML_ARRAY ? toml_len(cur) : 0;
	for (i = 0; i < n; i++) {
		r = entry_equal(file, req->name, cur, i, req->platform, errmsg);
		if (r < 0)
			return r;
		if (r && !force)
			return failf(errmsg, -EEXIST, "mapping for '%s'/%s%s already exists",
				req->name, triplet_of(req->platform, trip, sizeof(trip)),
				in_file(file, where, sizeof(where)));
	}
	r = new_meta(req, &meta);
	if (r < 0)
		return r;
	if (!cur || toml_type(cur) != TOML_ARRAY) {
		arr = toml_new_array();
		r = toml_append(arr, meta);
		if (r < 0) {
			toml_free(arr);
			return r;
		}
		return toml_set(root, req->name, arr);
	}
	/*
	 * Append first, then drop the old equal entries: removal frees only,
	 * so after a successful append nothing can fail half-way.
	 */
	r = toml_append(cur, meta);
	if (r < 0)
		return r;
	for (i = n; i-- > 0;)
		if (entry_equal(file, req->name, cur, i, req->platform, NULL) == 1)
			toml_remove_at(cur, i);
	return 0;
}

int bind_apply(struct toml_value *root, const struct bind_request *req, char **errmsg)
{
	if (errmsg)
		*errmsg = NULL;
	if (!root || toml_type(root) != TOML_TABLE || !req)
		return failf(errmsg, -EINVAL, "invalid arguments");
	return apply(NULL, root, req, errmsg);
}

/* ---- the file: lock, read, write ------------------------------------------- */

struct tomlfile {
	char *path;	  /* the file actually written (symlinks resolved) */
	char *dir;	  /* its directory */
	const char *base; /* its last component, inside path */
	int lockfd;
	struct toml_value *root;
	bool exists;
	mode_t mode; /* of the existing file */
};

static void tomlfile_release(struct tomlfile *f)
{
	if (f->lockfd >= 0)
		close(f->lockfd); /* drops the flock */
	toml_free(f->root);
	free(f->path);
	free(f->dir);
	memset(f, 0, sizeof(*f));
	f->lockfd = -1;
}

/*
 * Resolve path, take the lock and read the document.  must_exist: -ENOENT
 * for a missing file (checked before the lock file is created, and again
 * under the lock).
 */
static int tomlfile_open(const char *path, bool must_exist, struct tomlfile *f, char **errmsg)
{
	char *lockpath = NULL, *msg = NULL, *slash;
	struct stat st;
	int r;

	memset(f, 0, sizeof(*f));
	f->lockfd = -1;
	if (!path || !*path)
		return failf(errmsg, -EINVAL, "invalid artifacts file name: empty");
	if (lstat(path, &st) == 0 && S_ISLNK(st.st_mode)) {
		f->path = realpath(path, NULL);
		if (!f->path) {
			r = -errno;
			return failf(errmsg, r, "cannot resolve '%s': %s", path, strerror(-r));
		}
	} else {
		f->path = strdup(path);
		if (!f->path)
			return -ENOMEM;
	}
	if (stat(f->path, &st) == 0 && S_ISDIR(st.st_mode)) {
		r = failf(errmsg, -EISDIR, "'%s' is a directory", path);
		goto fail;
	}
	if (must_exist && access(f->path, F_OK) < 0) {
		r = -errno;
		r = failf(errmsg, r, "cannot open '%s': %s", path, strerror(-r));
		goto fail;
	}
	slash = strrchr(f->path, '/');
	if (slash) {
		f->dir = slash == f->path ? strdup("/")
					  : strndup(f->path, (size_t)(slash - f->path));
		f->base = slash + 1;
	} else {
		f->dir = strdup(".");
		f->base = f->path;
	}
	if (!f->dir || !*f->base) {
		r = f->dir ? failf(errmsg, -EINVAL, "invalid artifacts file name '%s'", path)
			   : -ENOMEM;
		goto fail;
	}
	if (asprintf(&lockpath, "%s/.%s.lock", f->dir, f->base) < 0) {
		lockpath = NULL;
		r = -ENOMEM;
		goto fail;
	}
	f->lockfd = open(lockpath, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (f->lockfd < 0) {
		r = -errno;
		r = failf(errmsg, r, "cannot open lock file '%s': %s", lockpath, strerror(-r));
		goto fail;
	}
	while (flock(f->lockfd, LOCK_EX) < 0) {
		if (errno == EINTR)
			continue;
		r = -errno;
		r = failf(errmsg, r, "cannot lock '%s': %s", lockpath, strerror(-r));
		goto fail;
	}

	r = toml_parse_file(f->path, &f->root, &msg);
	if (r == -ENOENT && !must_exist) {
		f->root = toml_new_table();
		if (!f->root) {
			r = -ENOMEM;
			goto fail;
		}
	} else if (r < 0) {
		r = failf(errmsg, r, "%s", msg ? msg : strerror(-r));
		goto fail;
	} else {
		if (stat(f->path, &st) < 0) {
			r = -errno;
			r = failf(errmsg, r, "cannot stat '%s': %s", path, strerror(-r));
			goto fail;
		}
		f->exists = true;
		f->mode = st.st_mode & 07777;
	}
	free(msg);
	free(lockpath);
	return 0;
fail:
	free(msg);
	free(lockpath);
	tomlfile_release(f);
	return r;
}

/*
 * Print the document to a new file in the same directory, fsync it, give
 * it the old file's mode and rename it over the file, then fsync the
 * directory.  The temporary file is created 0666 & ~umask by open(2), so a
 * new file gets the usual mode without reading the process umask.
 */
static int tomlfile_commit(struct tomlfile *f, char **errmsg)
{
	char *text = NULL, *tmp = NULL, *prefix = NULL;
	size_t len;
	int fd, r;

	r = toml_print(f->root, &text, &len);
	if (r < 0)
		return failf(errmsg, r, "cannot render '%s': %s", f->path,
			r == -EINVAL ? "a string is not valid UTF-8" : strerror(-r));
	if (asprintf(&prefix, "%s/.%s.", f->dir, f->base) < 0) {
		prefix = NULL;
		r = -ENOMEM;
		goto out;
	}
	fd = io_create_excl(prefix, '.', 1000, O_NOFOLLOW, &tmp);
	if (fd < 0) {
		if (tmp)
			r = failf(errmsg, fd, "cannot create '%s': %s", tmp, strerror(-fd));
		else
			r = fd;
		goto out;
	}
	r = io_write_all(fd, text, len);
	if (r == 0 && f->exists && fchmod(fd, f->mode) < 0)
		r = -errno;
	r = io_replace(fd, r, tmp, f->path);
	if (r < 0)
		r = failf(errmsg, r, "cannot write '%s': %s", f->path, strerror(-r));
out:
	free(prefix);
	free(tmp);
	free(text);
	return r;
}

/* ---- public API ------------------------------------------------------------ */

int bind_artifacts(const char *path, const struct bind_request *reqs, size_t n, char **errmsg)
{
	struct tomlfile f;
	size_t i;
	int r;

	if (errmsg)
		*errmsg = NULL;
	if (n && !reqs)
		return failf(errmsg, -EINVAL, "invalid arguments");
	for (i = 0; i < n; i++) {
		r = check_request(&reqs[i], errmsg);
		if (r < 0)
			return r;
	}
	r = tomlfile_open(path, false, &f, errmsg);
	if (r < 0)
		return r;
	for (i = 0; i < n && r == 0; i++)
		r = apply(path, f.root, &reqs[i], errmsg);
	if (r == 0)
		r = tomlfile_commit(&f, errmsg);
	if (r < 0)
		failf(errmsg, r, "cannot bind in '%s': %s", path, strerror(-r));
	tomlfile_release(&f);
	return r;
}

int bind_artifact(const char *path, const char *name, const char *hash,
	const struct platform *platform, const struct bind_download *downloads, size_t ndownloads,
	unsigned flags, char **errmsg)
{
	const struct bind_request req = {
		.name = name,
		.hash = hash,
		.platform = platform,
		.downloads = downloads,
		.ndownloads = ndownloads,
		.flags = flags,
	};

	return bind_artifacts(path, &req, 1, errmsg);
}

int bind_unbind(const char *path, const char *name, const struct platform *platform, char **errmsg)
{
	struct toml_value *cur;
	struct tomlfile f;
	char trip[256];
	size_t i, n, removed = 0;
	int r;

	if (errmsg)
		*errmsg = NULL;
	if (!name || !*name)
		return failf(errmsg, -EINVAL, "invalid artifact name: empty");
	r = tomlfile_open(path, true, &f, errmsg);
	if (r < 0)
		return r;
	cur = toml_get(f.root, name);
	if (!cur) {
		r = failf(errmsg, -ENOENT, "no artifact '%s' in '%s'", name, path);
		goto out;
	}
	if (!platform) {
		toml_remove(f.root, name);
		r = tomlfile_commit(&f, errmsg);
		goto out;
	}
	r = get_name(path, f.root, name, &cur, errmsg);
	if (r < 0)
		goto out;
	if (toml_type(cur) != TOML_ARRAY) {
		r = failf(errmsg, -ENOENT,
			"artifact '%s' in '%s' is platform independent: it has "
			"no entry for %s",
			name, path, triplet_of(platform, trip, sizeof(trip)));
		goto out;
	}
	n = toml_len(cur);
	for (i = 0; i < n; i++) {
		r = entry_equal(path, name, cur, i, platform, errmsg);
		if (r < 0)
			goto out;
	}
	for (i = n; i-- > 0;) {
		if (entry_equal(path, name, cur, i, platform, NULL) == 1) {
			toml_remove_at(cur, i);
			removed++;
		}
	}
	if (!removed) {
		r = failf(errmsg, -ENOENT, "artifact '%s' in '%s' has no entry for %s", name, path,
			triplet_of(platform, trip, sizeof(trip)));
		goto out;
	}
	if (toml_len(cur) == 0)
		toml_remove(f.root, name);
	r = tomlfile_commit(&f, errmsg);
out:
	tomlfile_release(&f);
	return r;
}

/*
 * The sha256 (lowercase, into sha) and size of the downloads of entry e:
 * every download must agree on sha256.  Returns 1 when e has downloads, 0
 * when it has none, -EBADMSG when they disagree, -EINVAL when malformed.
 */
static int entry_sha(const char *file, const char *name, struct toml_value *e,
	char sha[SHA256_DIGITS + 1], int64_t *size, char **errmsg)
{
	struct toml_value *dls = toml_get(e, "download");
	char hex[SHA256_DIGITS + 1], where[PATH_MAX + 8];
	size_t i;
	int found = 0;

	*size = 0;
	if (!dls)
		return 0;
	if (toml_type(dls) != TOML_ARRAY)
		goto bad;
	for (i = 0; i < toml_len(dls); i++) {
		struct toml_value *d = toml_at(dls, i), *sz;

		if (toml_type(d) != TOML_TABLE ||
			!hex_lower(toml_string(toml_get(d, "sha256"), NULL), SHA256_DIGITS, hex))
			goto bad;
		if (found && strcmp(hex, sha) != 0)
			return failf(errmsg, -EBADMSG,
				"artifact '%s'%s: its downloads disagree on "
				"sha256 (%s, %s)",
				name, in_file(file, where, sizeof(where)), sha, hex);
		memcpy(sha, hex, sizeof(hex));
		found = 1;
		sz = toml_get(d, "size");
		if (sz && toml_type(sz) == TOML_INTEGER && toml_integer(sz) > 0 && !*size)
			*size = toml_integer(sz);
	}
	return found;
bad:
	return failf(errmsg, -EINVAL,
		"invalid artifacts file%s: artifact '%s' has a malformed "
		"download list",
		in_file(file, where, sizeof(where)), name);
}

/* Append {sha256, url[, size]} to e's downloads unless url is there already. */
static int entry_add_url(
	struct toml_value *e, const char *url, const char *sha, int64_t size, bool *changed)
{
	struct toml_value *dls = toml_get(e, "download"), *d;
	const char *u;
	size_t i, ulen;
	int r;

	for (i = 0; dls && i < toml_len(dls); i++) {
		u = toml_string(toml_get(toml_at(dls, i), "url"), &ulen);
		if (u && ulen == strlen(url) && memcmp(u, url, ulen) == 0)
			return 0;
	}
	d = toml_new_table();
	if (!d)
		return -ENOMEM;
	r = toml_set(d, "sha256", toml_new_string(sha, SHA256_DIGITS));
	if (r == 0)
		r = toml_set(d, "url", toml_new_string(url, strlen(url)));
	if (r == 0 && size > 0)
		r = toml_set(d, "size", toml_new_integer(size));
	if (r < 0) {
		toml_free(d);
		return r;
	}
	if (!dls) {
		dls = toml_new_array();
		r = toml_append(dls, d);
		if (r < 0) {
			toml_free(dls);
			return r;
		}
		r = toml_set(e, "download", dls);
	} else {
		r = toml_append(dls, d);
	}
	if (r == 0)
		*changed = true;
	return r;
}

int bind_add_mirror(const char *path, const char *name, const char *url, const char *sha256,
	const struct platform *platform, char **errmsg)
{
	char given[SHA256_DIGITS + 1], trip[256];
	struct toml_value *cur, **sel = NULL;
	char(*shas)[SHA256_DIGITS + 1] = NULL;
	int64_t *sizes = NULL;
	size_t i, n, nsel = 0;
	bool changed = false;
	struct tomlfile f;
	int r;

	if (errmsg)
		*errmsg = NULL;
	if (!name || !*name)
		return failf(errmsg, -EINVAL, "invalid artifact name: empty");
	if (!url || !*url)
		return failf(errmsg, -EINVAL, "invalid url: empty");
	if (sha256 && !hex_lower(sha256, SHA256_DIGITS, given))
		return failf(errmsg, -EINVAL, "invalid sha256 '%s': need 64 hex digits", sha256);
	r = tomlfile_open(path, true, &f, errmsg);
	if (r < 0)
		return r;
	r = get_name(path, f.root, name, &cur, errmsg);
	if (r < 0)
		goto out;
	if (!cur) {
		r = failf(errmsg, -ENOENT, "no artifact '%s' in '%s'", name, path);
		goto out;
	}

	/* Select the entries. */
	n = toml_type(cur) == TOML_ARRAY ? toml_len(cur) : 1;
	sel = calloc(n + 1, sizeof(*sel));
	shas = calloc(n + 1, sizeof(*shas));
	sizes = calloc(n + 1, sizeof(*sizes));
	if (!sel || !shas || !sizes) {
		r = -ENOMEM;
		goto out;
	}
	if (toml_type(cur) == TOML_TABLE) {
		if (platform) {
			r = failf(errmsg, -ENOENT,
				"artifact '%s' in '%s' is platform independent: "
				"it has no entry for %s",
				name, path, triplet_of(platform, trip, sizeof(trip)));
			goto out;
		}
		sel[nsel++] = cur;
	} else if (!platform) {
		if (n == 0) {
			r = failf(errmsg, -ENOENT, "artifact '%s' in '%s' has no entries", name,
				path);
			goto out;
		}
		if (n > 1) {
			r = failf(errmsg, -ENOTUNIQ,
				"artifact '%s' in '%s' has %zu platform "
				"entries: name one",
				name, path, n);
			goto out;
		}
		if (toml_type(toml_at(cur, 0)) != TOML_TABLE) {
			r = failf(errmsg, -EINVAL,
				"invalid artifacts file in '%s': artifact '%s' "
				"(entry 1) is not a table",
				path, name);
			goto out;
		}
		sel[nsel++] = toml_at(cur, 0);
	} else {
		for (i = 0; i < n; i++) {
			r = entry_equal(path, name, cur, i, platform, errmsg);
			if (r < 0)
				goto out;
			if (r)
				sel[nsel++] = toml_at(cur, i);
		}
		r = 0;
		if (!nsel) {
			r = failf(errmsg, -ENOENT, "artifact '%s' in '%s' has no entry for %s",
				name, path, triplet_of(platform, trip, sizeof(trip)));
			goto out;
		}
	}

	/* Check every selected entry before changing any. */
	for (i = 0; i < nsel; i++) {
		r = entry_sha(path, name, sel[i], shas[i], &sizes[i], errmsg);
		if (r < 0)
			goto out;
		if (r == 0 && !sha256) {
			r = failf(errmsg, -ENODATA,
				"artifact '%s' in '%s' has no download to take "
				"the sha256 from: give it",
				name, path);
			goto out;
		}
		if (r == 0) {
			memcpy(shas[i], given, sizeof(given));
		} else if (sha256 && strcmp(shas[i], given) != 0) {
			r = failf(errmsg, -EBADMSG,
				"artifact '%s' in '%s': sha256 %s differs from "
				"that of its downloads, %s",
				name, path, given, shas[i]);
			goto out;
		}
	}
	for (i = 0, r = 0; i < nsel && r == 0; i++)
		r = entry_add_url(sel[i], url, shas[i], sizes[i], &changed);
	if (r == 0 && changed)
		r = tomlfile_commit(&f, errmsg);
out:
	free(sel);
	free(shas);
	free(sizes);
	tomlfile_release(&f);
	return r;
}
