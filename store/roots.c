/*
 * roots.c - the gc roots: absolute paths of Artifacts.toml files (or
 * directories) whose artifacts gc keeps, as rows of the index's "roots"
 * database (key: the path, no NUL; value: int64 last seen)
 */
#include "store/internal.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/*
 * root_path - path made absolute: realpath() when it exists, otherwise the
 * current directory joined with it, "." and ".." and repeated slashes
 * resolved lexically.  out has PATH_MAX bytes.
 */
static int root_path(const char *path, char *out)
{
	char tmp[PATH_MAX];
	size_t len = 0, n;
	const char *p, *e;

	if (!path || !*path)
		return -EINVAL;
	if (realpath(path, out))
		return 0;
	if (errno != ENOENT && errno != ENOTDIR && errno != EACCES)
		return -errno;
	if (path[0] == '/') {
		if (strlen(path) >= sizeof(tmp))
			return -ENAMETOOLONG;
		strcpy(tmp, path);
	} else {
		if (!getcwd(tmp, sizeof(tmp)))
			return -errno;
		n = strlen(tmp);
		if (n + 1 + strlen(path) >= sizeof(tmp))
			return -ENAMETOOLONG;
		tmp[n] = '/';
		strcpy(tmp + n + 1, path);
	}
	for (p = tmp; *p; p = e) {
		while (*p == '/')
			p++;
		for (e = p; *e && *e != '/'; e++)
			;
		n = (size_t)(e - p);
		if (n == 0 || (n == 1 && p[0] == '.'))
			continue;
		if (n == 2 && p[0] == '.' && p[1] == '.') {
			while (len > 0 && out[len - 1] != '/')
				len--;
			if (len > 0)
				len--;
			continue;
		}
		out[len++] = '/';
		memcpy(out + len, p, n);
		len += n;
	}
	if (len == 0)
		out[len++] = '/';
	out[len] = '\0';
	return 0;
}

struct root_op {
	const char *path;
	int64_t now;
	bool remove;
};

static int root_write(struct store *s, MDB_txn *txn, void *arg)
{
	struct root_op *op = arg;
	MDB_val key = { strlen(op->path), (void *)op->path };
	MDB_val val = { sizeof(op->now), &op->now };

	int rc;

	if (op->remove) {
		rc = mdb_del(txn, s->dbi_roots, &key, NULL);
		if (rc == MDB_NOTFOUND)
			store_seterr(s, -ENOENT, "'%s' is not a gc root", op->path);
		return rc;
	}
	return mdb_put(txn, s->dbi_roots, &key, &val, 0);
}

static int root_change(struct store *s, const char *path, bool remove)
{
	char abs[PATH_MAX];
	struct root_op op = { abs, store_now(), remove };
	int r;

	r = root_path(path, abs);
	if (r < 0)
		return store_seterr(s, r, "cannot make '%s' absolute: %s", path ? path : "",
			strerror(-r));
	if (strlen(abs) > (size_t)mdb_env_get_maxkeysize(s->env))
		return store_seterr(s, -ENAMETOOLONG, "gc root '%s' is longer than %d bytes", abs,
			mdb_env_get_maxkeysize(s->env));
	return store_idx_write(s, root_write, &op);
}

int store_root_add(struct store *s, const char *path)
{
	return root_change(s, path, false);
}

int store_root_remove(struct store *s, const char *path)
{
	return root_change(s, path, true);
}

struct root_foreach_ctx {
	int (*fn)(const char *path, int64_t last_seen, void *arg);
	void *arg;
};

static int root_foreach_row(const MDB_val *key, const MDB_val *val, void *ctx, int *rc)
{
	const struct root_foreach_ctx *c = ctx;
	char path[PATH_MAX];
	int64_t seen;

	if (key->mv_size >= sizeof(path) || val->mv_size != sizeof(seen))
		return 0;
	memcpy(path, key->mv_data, key->mv_size);
	path[key->mv_size] = '\0';
	memcpy(&seen, val->mv_data, sizeof(seen));	/* host byte order, as index.c */
	return c->fn(path, seen, c->arg);
}

int store_root_foreach(struct store *s,
		       int (*fn)(const char *path, int64_t last_seen, void *arg), void *arg)
{
	struct root_foreach_ctx c = { fn, arg };

	return store_idx_walk(s, s->dbi_roots, "the gc roots", root_foreach_row, &c);
}
