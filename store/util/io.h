/*
 * io.h - file descriptor helpers (libc only)
 *
 * Thread safe as far as the descriptor is: two threads writing one fd
 * interleave.
 */
#ifndef ARTIFACTFS_UTIL_IO_H
#define ARTIFACTFS_UTIL_IO_H

#include <stddef.h>

/*
 * io_write_all - write all n bytes at p to fd, going on after short writes
 * and EINTR.  On failure some of the bytes may have been written.
 * Returns 0, or -errno of the write(2) that failed (e.g. -ENOSPC, -EIO).
 */
int io_write_all(int fd, const void *p, size_t n);

/*
 * io_create_excl - create a new file named prefix, the process id, sep and
 * N for the first N from 0 below tries that does not exist yet, opened
 * O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | flags with mode 0666 & ~umask:
 * the temporary sibling that io_replace() later renames over a file.
 * *tmp is the name (malloc'ed, the caller frees it), also on failure, where
 * it is the last name tried (NULL when out of memory).
 * Returns the descriptor, or -errno: -ENOMEM (*tmp NULL), -EEXIST when all
 * the names are taken, or open(2)'s error.
 */
int io_create_excl(const char *prefix, char sep, unsigned tries, int flags, char **tmp);

/*
 * io_replace - finish a file written through fd under the temporary name
 * tmp: fsync and close fd, rename tmp over path, then fsync path's
 * directory (best effort: the rename is already visible).  r is the result
 * of the writing so far: when it is < 0, fd is only closed.  On any failure
 * tmp is unlinked.  fd is closed in every case.
 * Returns 0, or r, or the first -errno of fsync, close or rename.
 */
int io_replace(int fd, int r, const char *tmp, const char *path);

#endif
