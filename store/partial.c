/*
 * partial.c - the store's partial area and its kept seek indexes
 * (store/partial.h).
 *
 * A temporary is tmp/partial.<oid>.<pid>.<n> (or tmp/seekidx.<hash>.<pid>.<n>
 * for an index), created O_EXCL and held with flock(LOCK_EX) while it is
 * written: store_tmp_sweep() removes those whose flock it can take
 * (store_partial_sweep()), so a crash between begin and commit leaves
 * nothing but a tmp/ entry, and a live writer's temporary is never swept.
 * partial/ and seekidx/ are made by store_open(STORE_CREATE) and, for
 * stores made before them, on the first commit.
 */
#include "store/internal.h"
#include "store/partial.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define TMP_NAME_MAX 128

static atomic_uint tmp_counter;

struct store_partial_tmp {
	struct store *s;
	int fd;
	char name[TMP_NAME_MAX];		/* in tmp/ */
	char hex[2 * HASH_SHA1_LEN + 1];	/* the name in partial/ */
};

/* subdir - open <store>/name (O_DIRECTORY), creating it when create. */
static int subdir(struct store *s, const char *name, bool create)
{
	int fd = openat(s->dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0 && errno == ENOENT && create && !(s->flags & STORE_RDONLY)) {
		if (store_sys_mkdirat(s->dirfd, name, 0755) < 0 && errno != EEXIST)
			return -errno;
		fd = openat(s->dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	}
	return fd < 0 ? -errno : fd;
}

/* tmp_create - a new, locked temporary tmp/<prefix>.<id>.<pid>.<n>. */
static int tmp_create(struct store *s, const char *prefix, const char *id, char *name,
	size_t size)
{
	int fd;

	if (s->flags & STORE_RDONLY || s->tmp_fd < 0)
		return -EROFS;
	snprintf(name, size, "%s.%s.%ld.%u", prefix, id, (long)getpid(),
		atomic_fetch_add(&tmp_counter, 1));
	fd = store_sys_openat(s->tmp_fd, name, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		0600);
	if (fd < 0)
		return -errno;
	if (flock(fd, LOCK_EX) < 0) {
		int r = -errno;

		store_sys_unlinkat(s->tmp_fd, name, 0);
		close(fd);
		return r;
	}
	return fd;
}

int store_partial_open(struct store *s, const uint8_t oid[HASH_SHA1_LEN], int *fd)
{
	struct timespec ts[2] = {{0, UTIME_NOW}, {0, UTIME_OMIT}};
	char hex[2 * HASH_SHA1_LEN + 1];
	int dfd, f;

	hash_to_hex(oid, HASH_SHA1_LEN, hex);
	dfd = subdir(s, "partial", false);
	if (dfd < 0)
		return dfd;
	f = openat(dfd, hex, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (f < 0) {
		f = -errno;
		close(dfd);
		return f;
	}
	close(dfd);
	(void)futimens(f, ts); /* the access time, best effort (read-only stores) */
	*fd = f;
	return 0;
}

int store_partial_begin(struct store *s, const uint8_t oid[HASH_SHA1_LEN], uint64_t size,
	struct store_partial_tmp **ret, int *fd)
{
	struct store_partial_tmp *t;
	int r;

	if ((t = calloc(1, sizeof(*t))) == NULL)
		return -ENOMEM;
	t->s = s;
	hash_to_hex(oid, HASH_SHA1_LEN, t->hex);
	t->fd = tmp_create(s, "partial", t->hex, t->name, sizeof(t->name));
	if (t->fd < 0) {
		r = t->fd;
		free(t);
		return r;
	}
	/* claim the space now: -ENOSPC before any byte is fetched */
	if (size > 0 && (r = posix_fallocate(t->fd, 0, (off_t)size)) != 0 && r != EOPNOTSUPP &&
		r != EINVAL) {
		store_partial_abort(t);
		return -r;
	}
	*ret = t;
	*fd = t->fd;
	return 0;
}

int store_partial_commit(struct store_partial_tmp *t, bool executable, int *fd)
{
	struct store *s = t->s;
	int r = 0, dfd = -1, rfd = -1;

	if (!s->no_fsync && store_sys_fsync(t->fd) < 0)
		r = -errno;
	if (r == 0 && store_sys_fchmod(t->fd, executable ? 0555 : 0444) < 0)
		r = -errno;
	if (r == 0 && fd && (rfd = openat(s->tmp_fd, t->name, O_RDONLY | O_CLOEXEC)) < 0)
		r = -errno;
	if (r == 0 && (dfd = subdir(s, "partial", true)) < 0)
		r = dfd;
	if (r == 0 && store_sys_renameat(s->tmp_fd, t->name, dfd, t->hex, 0) < 0)
		r = -errno;
	if (r == 0 && !s->no_fsync)
		(void)store_sys_fsync(dfd);
	if (dfd >= 0)
		close(dfd);
	if (r < 0) {
		if (rfd >= 0)
			close(rfd);
		store_partial_abort(t);
		return r;
	}
	close(t->fd);
	free(t);
	if (fd)
		*fd = rfd;
	return 0;
}

void store_partial_abort(struct store_partial_tmp *t)
{
	if (t == NULL)
		return;
	store_sys_unlinkat(t->s->tmp_fd, t->name, 0);
	close(t->fd);
	free(t);
}

/* One file of partial/: its name, bytes and access time. */
struct pfile {
	char name[2 * HASH_SHA1_LEN + 1];
	uint64_t bytes;
	int64_t atime;
};

static bool is_oid_name(const char *name)
{
	return hash_hex_valid(name, 2 * HASH_SHA1_LEN);
}

/* scan - the files of partial/ into *ret (*n of them; caller frees). */
static int scan(struct store *s, int *dfd, struct pfile **ret, size_t *n)
{
	struct store_names ns = {0};
	struct pfile *v = NULL;
	struct stat st;
	size_t i, k = 0;
	int r;

	*ret = NULL;
	*n = 0;
	*dfd = subdir(s, "partial", false);
	if (*dfd == -ENOENT)
		return 0;
	if (*dfd < 0)
		return *dfd;
	r = store_list_names(*dfd, is_oid_name, &ns);
	if (r == 0 && ns.n && (v = calloc(ns.n, sizeof(*v))) == NULL)
		r = -ENOMEM;
	for (i = 0; r == 0 && i < ns.n; i++) {
		if (fstatat(*dfd, ns.v[i], &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode))
			continue;
		snprintf(v[k].name, sizeof(v[k].name), "%s", ns.v[i]);
		v[k].bytes = (uint64_t)st.st_size;
		v[k].atime = (int64_t)st.st_atim.tv_sec;
		k++;
	}
	store_names_free(&ns);
	if (r < 0) {
		free(v);
		close(*dfd);
		*dfd = -1;
		return r;
	}
	*ret = v;
	*n = k;
	return 0;
}

int store_partial_usage(struct store *s, uint64_t *bytes, uint64_t *files)
{
	struct pfile *v;
	size_t i, n;
	int dfd, r;

	r = scan(s, &dfd, &v, &n);
	if (r < 0)
		return r;
	*bytes = 0;
	for (i = 0; i < n; i++)
		*bytes += v[i].bytes;
	*files = n;
	free(v);
	if (dfd >= 0)
		close(dfd);
	return 0;
}

static int atime_cmp(const void *a, const void *b)
{
	const struct pfile *x = a, *y = b;

	if (x->atime != y->atime)
		return x->atime < y->atime ? -1 : 1;
	return strcmp(x->name, y->name);
}

int store_partial_reclaim(struct store *s, uint64_t target, int64_t min_age, uint64_t *freed)
{
	int64_t now = store_now();
	uint64_t total = 0, gone = 0;
	struct pfile *v;
	size_t i, n;
	int dfd, r, count = 0;

	if (min_age < 0)
		return -EINVAL;
	r = scan(s, &dfd, &v, &n);
	if (r < 0)
		return r;
	for (i = 0; i < n; i++)
		total += v[i].bytes;
	if (n)
		qsort(v, n, sizeof(*v), atime_cmp);
	for (i = 0; i < n && total > target; i++) {
		if (min_age > 0 && now - v[i].atime < min_age)
			break; /* the rest are younger still */
		if (!(s->flags & STORE_RDONLY) && store_sys_unlinkat(dfd, v[i].name, 0) < 0) {
			if (errno == ENOENT)
				continue;
			r = -errno;
			break;
		}
		total -= v[i].bytes;
		gone += v[i].bytes;
		count++;
	}
	free(v);
	if (dfd >= 0)
		close(dfd);
	if (freed)
		*freed = gone;
	return r < 0 ? r : count;
}

int store_seekidx_path(const struct store *s, const char *hash, char *buf, size_t size)
{
	int n;

	if (!store_hash_valid(hash))
		return -EINVAL;
	n = snprintf(buf, size, "%s/seekidx/%s", s->dir, hash);
	if (n < 0 || (size_t)n >= size)
		return -ENAMETOOLONG;
	return n;
}

int store_seekidx_put(struct store *s, const char *hash, const void *p, size_t len)
{
	char name[TMP_NAME_MAX];
	const uint8_t *q = p;
	size_t off = 0;
	int fd, dfd = -1, r = 0;
	ssize_t k;

	if (!store_hash_valid(hash))
		return -EINVAL;
	fd = tmp_create(s, "seekidx", hash, name, sizeof(name));
	if (fd < 0)
		return fd;
	while (r == 0 && off < len) {
		k = write(fd, q + off, len - off);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			r = k < 0 ? -errno : -EIO;
		else
			off += (size_t)k;
	}
	if (r == 0 && !s->no_fsync && store_sys_fsync(fd) < 0)
		r = -errno;
	if (r == 0 && store_sys_fchmod(fd, 0444) < 0)
		r = -errno;
	if (r == 0 && (dfd = subdir(s, "seekidx", true)) < 0)
		r = dfd;
	if (r == 0 && store_sys_renameat(s->tmp_fd, name, dfd, hash, 0) < 0)
		r = -errno;
	if (r < 0)
		store_sys_unlinkat(s->tmp_fd, name, 0);
	if (dfd >= 0)
		close(dfd);
	close(fd);
	return r;
}

/* The temporaries made here: "partial." or "seekidx." then anything. */
static bool is_partial_tmp(const char *name)
{
	return strncmp(name, "partial.", 8) == 0 || strncmp(name, "seekidx.", 8) == 0;
}

int store_partial_sweep(struct store *s, uint64_t *freed)
{
	struct store_names ns = {0};
	struct stat st;
	size_t i;
	int fd, r, count = 0;

	*freed = 0;
	if (s->tmp_fd < 0)
		return 0;
	r = store_list_names(s->tmp_fd, is_partial_tmp, &ns);
	for (i = 0; r == 0 && i < ns.n; i++) {
		fd = openat(s->tmp_fd, ns.v[i], O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			continue;
		/* a writer holds it locked until commit or abort */
		if (flock(fd, LOCK_EX | LOCK_NB) == 0 && fstat(fd, &st) == 0) {
			if (!(s->flags & STORE_RDONLY) && store_sys_unlinkat(s->tmp_fd, ns.v[i], 0) < 0) {
				if (errno != ENOENT)
					r = -errno;
			} else {
				*freed += (uint64_t)st.st_size;
				count++;
			}
		}
		close(fd);
	}
	store_names_free(&ns);
	return r < 0 ? r : count;
}
