/*
 * upload_file.c - the file:// backend of the upload layer: a local
 * directory, written the way git writes objects (a temporary file in the
 * target directory, fsync, rename, fsync of the directory)
 */
#include "tools/publish/upload_int.h"

#include "store/util/io.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define COPY_CHUNK (8u << 20)
#define MAX_DEPTH 64

int file_init(struct upload *u, const char *dest)
{
	const char *p = dest;
	char *path, cwd[4096];
	size_t n;

	if (strncmp(p, "file://", 7) == 0) {
		p += 7;
		if (strncmp(p, "localhost/", 10) == 0)
			p += 9;
		if (*p != '/')
			return up_fail(
				u, -EINVAL, "invalid file URL '%s': use " UP_DEST_FORMS, dest);
	}
	if (!*p)
		return up_fail(u, -EINVAL, "empty destination");
	if (*p != '/') {
		if (!getcwd(cwd, sizeof(cwd)))
			return up_fail(
				u, -errno, "cannot get the current directory: %s", strerror(errno));
		if (asprintf(&path, "%s/%s", cwd, p) < 0)
			return -ENOMEM;
	} else if (!(path = strdup(p))) {
		return -ENOMEM;
	}
	/* percent-decoding of a file:// URL */
	if (p != dest)
		up_percent_decode(path, strlen(path), path);
	if (p != dest && strlen(path) != strcspn(path, "?#")) {
		free(path);
		return up_fail(u, -EINVAL, "invalid file URL '%s'", dest);
	}
	while ((n = strlen(path)) > 1 && path[n - 1] == '/')
		path[n - 1] = '\0';
	if (strcmp(path, "/") == 0)
		path[0] = '\0';
	u->base = path;
	return 0;
}

static char *path_of(const struct upload *u, const char *key)
{
	char *p;

	return asprintf(&p, "%s/%s", u->base, key) < 0 ? NULL : p;
}

int file_head(struct upload *u, const char *key, bool *exists, uint64_t *size)
{
	struct stat st;
	char *p = path_of(u, key);
	int err = 0;

	if (!p)
		return -ENOMEM;
	*exists = false;
	*size = 0;
	if (stat(p, &st) == 0) {
		*exists = S_ISREG(st.st_mode);
		*size = (uint64_t)st.st_size;
	} else if (errno != ENOENT && errno != ENOTDIR) {
		err = up_fail(u, -errno, "cannot look up 'file://%s': %s", p, strerror(errno));
	}
	free(p);
	return err;
}

int file_get(struct upload *u, const char *key, size_t max, struct buf *out)
{
	char *p = path_of(u, key), tmp[65536];
	ssize_t n;
	int fd, err = 0;

	if (!p)
		return -ENOMEM;
	fd = open(p, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		err = -errno;
		if (err == -ENOTDIR)
			err = -ENOENT;
		up_fail(u, err, "cannot read 'file://%s': %s", p, strerror(-err));
		goto out;
	}
	while ((n = read(fd, tmp, sizeof(tmp))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err = up_fail(u, -errno, "cannot read 'file://%s': %s", p, strerror(errno));
			break;
		}
		if (out->len + (size_t)n > max) {
			err = up_fail(u, -E2BIG, "cannot read 'file://%s': larger than %zu bytes",
				p, max);
			break;
		}
		if ((err = buf_add(out, tmp, (size_t)n)) < 0)
			break;
	}
	close(fd);
out:
	free(p);
	return err;
}

/* mkdir -p of the directory part of path (which is absolute). */
static int make_parents(char *path)
{
	char *s;
	int err = 0;

	for (s = strchr(path + 1, '/'); s && err == 0; s = strchr(s + 1, '/')) {
		*s = '\0';
		if (mkdir(path, 0777) < 0 && errno != EEXIST)
			err = -errno;
		*s = '/';
	}
	return err;
}

/* Copy the body into out; -errno, with *reading telling which side failed. */
static int copy_body(
	int out, struct up_body *b, upload_progress_fn progress, void *arg, bool *reading)
{
	uint64_t done = 0;
	char *tmp = NULL;
	bool use_cfr = b->fd >= 0;
	int err = 0;

	*reading = false;
	while (done < b->len && err == 0) {
		size_t chunk = b->len - done < COPY_CHUNK ? (size_t)(b->len - done) : COPY_CHUNK;
		ssize_t n;

		if (b->fd < 0) {
			err = io_write_all(out, b->mem + done, chunk);
			n = (ssize_t)chunk;
		} else if (use_cfr) {
			/* in the kernel, a reflink where the file system can */
			loff_t off = (loff_t)(b->off + done);

			n = copy_file_range(b->fd, &off, out, NULL, chunk, 0);
			if (n < 0 && (errno == EXDEV || errno == EINVAL || errno == ENOSYS ||
					     errno == EOPNOTSUPP || errno == EBADF)) {
				use_cfr = false;
				continue;
			}
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0) {
				*reading = n == 0;
				err = n < 0 ? -errno : -EIO;
			}
		} else {
			if (!tmp && !(tmp = malloc(COPY_CHUNK))) {
				err = -ENOMEM;
				break;
			}
			n = pread(b->fd, tmp, chunk, (off_t)(b->off + done));
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0) {
				*reading = true;
				err = n < 0 ? -errno : -EIO; /* the file shrank */
				break;
			}
			err = io_write_all(out, tmp, (size_t)n);
		}
		if (err == 0) {
			done += (uint64_t)n;
			if (progress && !progress(arg, done, b->len))
				err = -ECANCELED;
		}
	}
	free(tmp);
	return err;
}

int file_put(struct upload *u, const char *key, struct up_body *b, upload_progress_fn progress,
	void *arg)
{
	char *path = path_of(u, key), *tmp = NULL, *prefix = NULL, *slash;
	bool reading = false;
	int fd, err;

	if (!path)
		return -ENOMEM;
	if ((err = make_parents(path)) < 0) {
		up_fail(u, err, "cannot create the directories of 'file://%s': %s", path,
			strerror(-err));
		goto out;
	}
	slash = strrchr(path, '/');
	/* a name no reader takes for an object: ".NAME.upload-PID-N" in the same directory */
	if (asprintf(&prefix, "%.*s/.%s.upload-", (int)(slash - path), path, slash + 1) < 0) {
		prefix = NULL;
		err = -ENOMEM;
		goto out;
	}
	fd = io_create_excl(prefix, '-', 100, O_NOCTTY, &tmp);
	if (fd < 0) {
		err = fd;
		if (tmp)
			up_fail(u, err, "cannot write 'file://%s': %s", path, strerror(-err));
		goto out;
	}
	err = copy_body(fd, b, progress, arg, &reading);
	err = io_replace(fd, err, tmp, path);
	if (err < 0) {
		if (err == -ECANCELED)
			up_fail(u, err, "cannot write 'file://%s': interrupted", path);
		else if (reading)
			up_fail(u, err, "cannot upload 'file://%s': cannot read the data: %s", path,
				strerror(-err));
		else
			up_fail(u, err, "cannot write 'file://%s': %s", path, strerror(-err));
		goto out;
	}
	if (progress)
		progress(arg, b->len, b->len);
out:
	free(prefix);
	free(tmp);
	free(path);
	return err;
}

static bool is_temp(const char *name)
{
	return name[0] == '.' && strstr(name, ".upload-");
}

static int walk(struct upload *u, int dfd, struct buf *rel, const char *prefix, unsigned depth,
	upload_list_fn fn, void *arg)
{
	DIR *d;
	struct dirent *de;
	size_t len = rel->len;
	int err = 0;

	if (depth > MAX_DEPTH)
		return up_fail(
			u, -ELOOP, "cannot list 'file://%s/%s': too deep", u->base, rel->ptr);
	d = fdopendir(dfd);
	if (!d) {
		close(dfd);
		return -errno;
	}
	while (err == 0 && (errno = 0, de = readdir(d))) {
		struct stat st;

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0 ||
			is_temp(de->d_name))
			continue;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue; /* removed meanwhile */
		if ((err = buf_adds(rel, de->d_name)) < 0)
			break;
		if (S_ISDIR(st.st_mode)) {
			int sub = openat(dirfd(d), de->d_name,
				O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

			if (sub < 0) {
				err = up_fail(u, -errno, "cannot list 'file://%s/%s': %s", u->base,
					rel->ptr, strerror(errno));
			} else if ((err = buf_addc(rel, '/')) == 0) {
				err = walk(u, sub, rel, prefix, depth + 1, fn, arg);
			}
		} else if (S_ISREG(st.st_mode) && strncmp(rel->ptr, prefix, strlen(prefix)) == 0) {
			err = fn(arg, rel->ptr, (uint64_t)st.st_size);
		}
		rel->len = len;
		rel->ptr[len] = '\0';
	}
	if (err == 0 && errno)
		err = up_fail(u, -errno, "cannot list 'file://%s/%s': %s", u->base, rel->ptr,
			strerror(errno));
	closedir(d);
	return err;
}

int file_list(struct upload *u, const char *prefix, upload_list_fn fn, void *arg)
{
	struct buf rel;
	int dfd, err;

	dfd = open(*u->base ? u->base : "/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return up_fail(u, -errno, "cannot list 'file://%s': %s", u->base, strerror(errno));
	buf_init(&rel, 1 << 20);
	err = buf_adds(&rel, "");
	if (err == 0)
		err = walk(u, dfd, &rel, prefix, 0, fn, arg);
	else
		close(dfd);
	buf_release(&rel);
	return err;
}

int file_delete(struct upload *u, const char *key)
{
	char *p = path_of(u, key);
	int err = 0;

	if (!p)
		return -ENOMEM;
	if (unlink(p) < 0 && errno != ENOENT && errno != ENOTDIR)
		err = up_fail(u, -errno, "cannot delete 'file://%s': %s", p, strerror(errno));
	free(p);
	return err;
}
