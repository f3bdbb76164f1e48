/*
 * cmd_publish_collect.c - artifactctl publish: the SOURCEs (and the
 * sub-directories of --each DIR) as the items of the run
 *
 * A SOURCE is a directory or a tarball; a directory whose every entry is a
 * directory named as a platform triplet gives one item per platform
 * (--multi-platform requires that layout, --single-platform ignores it).
 * Names are checked here, before anything is packed.
 */
#include "tools/artifactctl.h"
#include "tools/cmd_publish.h"

#include "fetch/platform.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* An artifact name must make a sane object name: no '/', no control bytes, no leading '.'. */
static bool name_valid(const char *name)
{
	const char *p;

	if (!*name || *name == '.' || strlen(name) > 200)
		return false;
	for (p = name; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f || *p == '/' || *p == '\\')
			return false;
	return true;
}

/* SOURCE's base name without a tarball suffix: the default artifact name. */
static char *default_name(const char *source)
{
	static const char *const sfx[] = {
		".tar.gz", ".tgz", ".tar.xz", ".tar.bz2", ".tar.zst", ".tar"};
	char *s = strdup(source), *base;
	size_t n, i, k;

	if (!s)
		return NULL;
	while ((n = strlen(s)) > 1 && s[n - 1] == '/')
		s[n - 1] = '\0';
	base = strrchr(s, '/') ? strrchr(s, '/') + 1 : s;
	memmove(s, base, strlen(base) + 1);
	n = strlen(s);
	for (i = 0; i < sizeof(sfx) / sizeof(sfx[0]); i++) {
		k = strlen(sfx[i]);
		if (n > k && strcmp(s + n - k, sfx[i]) == 0) {
			s[n - k] = '\0';
			break;
		}
	}
	return s;
}

/* ---- the artifacts of the SOURCEs ---------------------------------------------------- */

void pub_item_release(struct item *it)
{
	platform_free(it->plat);
	free(it->name);
	free(it->path);
	free(it->triplet);
	free(it->key);
	free(it->url);
	free(it->bind_url);
	free(it->seek_url);
	if (it->fd >= 0)
		close(it->fd);
}

/* A new zeroed item at the end of v with its name and path (copied); NULL: no memory. */
static struct item *item_add(struct items *v, const char *name, size_t source, const char *path)
{
	struct item *it;

	if (v->n == v->cap) {
		size_t cap = v->cap ? 2 * v->cap : 16;
		struct item *nv = realloc(v->v, cap * sizeof(*nv));

		if (!nv)
			return NULL;
		v->v = nv;
		v->cap = cap;
	}
	it = &v->v[v->n];
	memset(it, 0, sizeof(*it));
	it->fd = -1;
	it->source = source;
	it->name = strdup(name);
	it->path = strdup(path);
	if (!it->name || !it->path) {
		free(it->name);
		free(it->path);
		return NULL;
	}
	v->n++;
	return it;
}

static int set_platform(struct item *it, const char *triplet)
{
	int r;

	if ((r = platform_parse(triplet, &it->plat)) < 0)
		return r;
	return platform_triplet(it->plat, &it->triplet);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void free_names(char **names, size_t n)
{
	size_t i;

	for (i = 0; names && i < n; i++)
		free(names[i]);
	free(names);
}

/*
 * Whether dir holds one directory per platform: every entry (dot files
 * included) is a directory, not a symlink, whose name platform_parse()
 * accepts, and there is at least one.  *names gets them sorted.
 */
static int platform_dirs(const char *dir, char ***names, size_t *n, bool *all)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char **v = NULL, **nv;
	size_t cnt = 0, cap = 0;
	bool bad = false;
	int r = 0;

	*all = false;
	if (!d)
		return -errno;
	while (!bad && (errno = 0, de = readdir(d))) {
		struct platform *p = NULL;
		struct stat st;

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
			!S_ISDIR(st.st_mode) || platform_parse(de->d_name, &p) < 0) {
			bad = true;
			break;
		}
		platform_free(p);
		if (cnt == cap) {
			cap = cap ? 2 * cap : 8;
			nv = realloc(v, cap * sizeof(*v));
			if (!nv) {
				r = -ENOMEM;
				break;
			}
			v = nv;
		}
		if (!(v[cnt] = strdup(de->d_name))) {
			r = -ENOMEM;
			break;
		}
		cnt++;
	}
	if (r == 0 && !bad && errno)
		r = -errno;
	closedir(d);
	if (r == 0 && !bad && cnt > 0) {
		qsort(v, cnt, sizeof(*v), cmp_str);
		*names = v;
		*n = cnt;
		*all = true;
		return 0;
	}
	free_names(v, cnt);
	return r;
}

/*
 * The items of SOURCE src (named name, index source) appended to v; prints
 * the message and returns an exit status on failure (v is then as it was).
 */
static int collect(
	const struct pub_opts *o, const char *src, const char *name, size_t source, struct items *v)
{
	struct item *it;
	struct stat st;
	char **names = NULL, *path = NULL;
	size_t cnt = 0, i, n0 = v->n;
	bool all = false;
	int r, status = EXIT_FAIL;

	if (!name_valid(name)) {
		ctl_warnx("invalid artifact name '%s'%s: no '/', no control characters, no "
			  "leading '.'",
			name, o->name ? "" : " (from SOURCE; give --name)");
		return EXIT_USAGE;
	}
	if (stat(src, &st) < 0) {
		ctl_warne(-errno, "cannot publish '%s'", src);
		return EXIT_FAIL;
	}
	if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode)) {
		ctl_warnx("cannot publish '%s': neither a directory nor a tarball", src);
		return EXIT_FAIL;
	}
	if (S_ISDIR(st.st_mode) && !o->single) {
		r = platform_dirs(src, &names, &cnt, &all);
		if (r < 0) {
			ctl_warne(r, "cannot read '%s'", src);
			return EXIT_FAIL;
		}
	}
	if (o->multi && !all) {
		ctl_warnx("'%s' is not one directory per platform: every entry must be a directory "
			  "named as a platform triplet",
			src);
		status = EXIT_USAGE;
		goto out;
	}
	if (all && o->triplet) {
		ctl_warnx("'%s' holds one directory per platform: --platform applies to a single "
			  "tree (use --single-platform to publish it as one)",
			src);
		status = EXIT_USAGE;
		goto out;
	}
	if (!all)
		cnt = 1;
	for (i = 0; i < cnt; i++) {
		r = 0;
		free(path);
		path = NULL;
		if (all && asprintf(&path, "%s/%s", src, names[i]) < 0)
			path = NULL;
		else if (!all)
			path = strdup(src);
		if (!path || !(it = item_add(v, name, source, path))) {
			ctl_warne(-ENOMEM, "publish");
			goto out;
		}
		it->tarball = S_ISREG(st.st_mode);
		if (all) {
			r = set_platform(it, names[i]);
		} else if (o->triplet) {
			r = set_platform(it, o->triplet);
			if (r == -EINVAL) {
				ctl_warnx("invalid --platform '%s': a triplet expected, "
					  "e.g. x86_64-linux-gnu",
					o->triplet);
				status = EXIT_USAGE;
				goto out;
			}
		}
		if (r < 0) {
			ctl_warne(r, "cannot use the platform of '%s'", it->path);
			goto out;
		}
	}
	if (all)
		ctl_warnx("'%s' holds one directory per platform: publishing %zu artifacts "
			  "(--single-platform publishes it as one tree)",
			src, cnt);
	status = EXIT_OK;
out:
	if (status != EXIT_OK) {
		while (v->n > n0)
			pub_item_release(&v->v[--v->n]);
	}
	free(path);
	free_names(names, all ? cnt : 0);
	return status;
}

/* A row for a SOURCE that gave no artifact: it failed as a whole. */
static int add_failed(struct items *v, const char *name, size_t source, const char *path)
{
	struct item *it = item_add(v, name, source, path);

	if (!it)
		return -ENOMEM;
	it->action = ACT_FAIL;
	return 0;
}

static int cmp_dirent(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

/*
 * The artifacts of every SOURCE, then of every sub-directory of --each DIR
 * (sorted by name; dot entries and non-directories are passed over).  With
 * one SOURCE, its failure is the run's exit status, as it always was; with
 * several, a failing SOURCE becomes a failed row and the others go on.
 */
int pub_collect_all(const struct pub_opts *o, struct items *v)
{
	struct dirent **de = NULL;
	struct stat st;
	char *name, *path;
	size_t i, nsrc = 0;
	int nde = 0, k, status;
	bool several = o->nsources + (o->each ? 1 : 0) > 1 || o->each;

	for (i = 0; i < o->nsources; i++, nsrc++) {
		name = o->name ? strdup(o->name) : default_name(o->sources[i]);
		if (!name) {
			ctl_warne(-ENOMEM, "publish");
			return EXIT_FAIL;
		}
		status = collect(o, o->sources[i], name, nsrc, v);
		if (status != EXIT_OK &&
			(!several || add_failed(v, name, nsrc, o->sources[i]) < 0)) {
			free(name);
			return status;
		}
		free(name);
	}
	if (!o->each)
		return EXIT_OK;
	nde = scandir(o->each, &de, NULL, cmp_dirent);
	if (nde < 0) {
		ctl_warne(-errno, "cannot read '%s'", o->each);
		return EXIT_FAIL;
	}
	status = EXIT_OK;
	for (k = 0; k < nde; k++) {
		if (status == EXIT_OK && de[k]->d_name[0] != '.') {
			if (asprintf(&path, "%s/%s", o->each, de[k]->d_name) < 0) {
				path = NULL;
				status = EXIT_FAIL;
			} else if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
				/* one source number per directory: each gets a row at least */
				if (collect(o, path, de[k]->d_name, nsrc, v) != EXIT_OK &&
					add_failed(v, de[k]->d_name, nsrc, path) < 0)
					status = EXIT_FAIL;
				nsrc++;
			}
			free(path);
		}
		free(de[k]);
	}
	free(de);
	if (status == EXIT_OK && v->n == 0) {
		ctl_warnx("'%s' holds no directory to publish", o->each);
		status = EXIT_FAIL;
	}
	return status;
}
