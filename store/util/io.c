/*
 * io.c - file descriptor helpers
 */
#include "store/util/io.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int io_write_all(int fd, const void *p, size_t n)
{
	const char *c = p;
	ssize_t w;

	while (n > 0) {
		w = write(fd, c, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

int io_create_excl(const char *prefix, char sep, unsigned tries, int flags, char **tmp)
{
	int fd = -EEXIST;
	unsigned i;

	*tmp = NULL;
	for (i = 0; i < tries && fd == -EEXIST; i++) {
		free(*tmp);
		if (asprintf(tmp, "%s%ld%c%u", prefix, (long)getpid(), sep, i) < 0) {
			*tmp = NULL;
			return -ENOMEM;
		}
		fd = open(*tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | flags, 0666);
		if (fd < 0)
			fd = -errno;
	}
	return fd;
}

int io_replace(int fd, int r, const char *tmp, const char *path)
{
	char dir[PATH_MAX];
	const char *slash;
	int dfd;

	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	if (close(fd) < 0 && r == 0)
		r = -errno;
	if (r == 0 && rename(tmp, path) < 0)
		r = -errno;
	if (r < 0) {
		unlink(tmp);
		return r;
	}
	slash = strrchr(path, '/');
	if (!slash)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == path)
		snprintf(dir, sizeof(dir), "/");
	else if (snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path) >= (int)sizeof(dir))
		return 0;	/* too long to open: the rename stands */
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
	return 0;
}
