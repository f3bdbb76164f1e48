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

#endif
