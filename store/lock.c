/*
 * lock.c - single flight: per-hash install locks and the store-wide lock
 *
 * Both are open file description (OFD) locks, fcntl(F_OFD_SETLK), on files
 * in <store>/locks/.  A hash lock file carries two byte-range locks: byte 0
 * is the install lock taken here, byte 1 the use lock of gc.c (store.h "use
 * pins"), so that pins and installs never exclude each other.
 *
 * Unlike POSIX record locks, OFD locks belong to the open file description,
 * not to the process, so two threads of one process that each open the
 * file exclude each other, and closing some other descriptor of
 * the file does not drop them.  Like all fcntl locks they vanish when the
 * last descriptor of the description is closed, which the kernel does when
 * the holder dies: a crashed installer never wedges a hash.  A descriptor
 * inherited across fork() shares the lock: a child keeps it alive until it
 * exits or execs (the descriptors are O_CLOEXEC).
 *
 * Lock files are never unlinked.  Unlinking one races: a waiter that opened
 * the old file would lock an inode nobody else can reach, while a newcomer
 * creates and locks a new file, and both would believe they hold the lock.
 * A file per hash ever installed costs one inode.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1	/* F_OFD_SETLK */
#endif

#include "store/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BACKOFF_MIN_NS 1000000L		/* first wait between tries: 1 ms */
#define BACKOFF_MAX_NS 50000000L	/* longest wait between tries: 50 ms */

struct store_lock {
	int fd;
};

int store_ofd_lock(int fd, short type, int cmd, off_t start, off_t len)
{
	struct flock fl = {
		.l_type = type,
		.l_whence = SEEK_SET,
		.l_start = start,
		.l_len = len,	/* 0: to the end of the file, however long */
		.l_pid = 0,	/* required by OFD locks */
	};

	return fcntl(fd, cmd, &fl);
}

int store_lock_fd(const struct store_lock *l)
{
	return l->fd;
}

static int64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/*
 * The wait is a poll: F_OFD_SETLK, then sleep 1 ms, 2 ms, 4 ms ... up to
 * 50 ms between tries, until the CLOCK_MONOTONIC deadline.  F_OFD_SETLKW has
 * no timeout, and interrupting it would need a signal or a helper thread,
 * which a library must not impose on its callers.  The cost is latency:
 * a waiter notices a release at most 50 ms late, which is small next to a
 * download; and the lock is not fair (whoever tries first after the release
 * wins), which single flight does not need.
 */
int store_lock_hash(struct store *s, const char *hash, double timeout, struct store_lock **ret)
{
	char name[STORE_HASH_HEX + sizeof(".lock")];
	int64_t deadline, left, backoff = BACKOFF_MIN_NS;
	struct store_lock *l;
	struct timespec ts;
	int fd, r;

	if (!store_hash_valid(hash) || !ret || isnan(timeout) || timeout < 0)
		return -EINVAL;
	if (s->locks_fd < 0)
		return store_seterr(s, -ENOENT, "no locks directory in '%s'", s->dir);
	if (timeout > 1e9)
		timeout = 1e9;	/* about 31 years: forever */
	deadline = mono_ns() + (int64_t)(timeout * 1e9);
	snprintf(name, sizeof(name), "%s.lock", hash);
	fd = store_sys_openat(s->locks_fd, name, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0) {
		r = -errno;
		return store_seterr(s, r, "cannot open '%s/locks/%s': %s", s->dir, name,
			strerror(-r));
	}
	for (;;) {
		if (store_ofd_lock(fd, F_WRLCK, F_OFD_SETLK, STORE_LOCK_INSTALL_BYTE, 1) == 0)
			break;
		if (errno != EAGAIN && errno != EACCES && errno != EINTR) {
			r = -errno;
			store_seterr(s, r, "cannot lock '%s/locks/%s': %s", s->dir, name,
				strerror(-r));
			goto fail;
		}
		left = deadline - mono_ns();
		if (left <= 0) {
			r = -ETIMEDOUT;	/* a normal outcome: no message */
			goto fail;
		}
		if (backoff > left)
			backoff = left;
		ts.tv_sec = backoff / 1000000000;
		ts.tv_nsec = backoff % 1000000000;
		nanosleep(&ts, NULL);
		backoff = backoff * 2 > BACKOFF_MAX_NS ? BACKOFF_MAX_NS : backoff * 2;
	}
	l = malloc(sizeof(*l));
	if (!l) {
		r = -ENOMEM;
		goto fail;
	}
	l->fd = fd;
	*ret = l;
	return 0;
fail:
	close(fd);
	return r;
}

void store_unlock(struct store_lock *l)
{
	if (!l)
		return;
	/* drops the OFD locks (byte 0, and byte 1 if store_remove took it) */
	close(l->fd);
	free(l);
}

/*
 * locks/store.lock is held shared (F_RDLCK) by every store_open() until
 * store_close(), so that a maintenance that must exclude all users of the
 * store can take it exclusive (F_WRLCK, F_OFD_SETLK): it then knows that
 * no daemon serves from the store and no install or reconcile is running.
 * store_open() waits while such an exclusive holder runs.  gc does not take
 * it (daemons hold it for as long as they run): it works beside them with
 * locks/gc.lock and the per-hash locks (gc.c).  A STORE_RDONLY
 * opener writes nothing: it locks the file through a read-only descriptor
 * (F_RDLCK needs no more), and goes without the lock when the file does not
 * exist yet; it changes nothing, and a tree removed under it only makes a
 * listing stale.
 */
int store_lock_store_open(struct store *s, char *msg, size_t size)
{
	int fd, r;

	if (s->locks_fd < 0)
		return 0;
	if (s->flags & STORE_RDONLY) {
		fd = openat(s->locks_fd, "store.lock", O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0 && errno == ENOENT)
			return 0;
	} else {
		fd = store_sys_openat(s->locks_fd, "store.lock",
			O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
	}
	if (fd < 0) {
		r = -errno;
		snprintf(msg, size, "cannot open '%s/locks/store.lock': %s", s->dir, strerror(-r));
		return r;
	}
	while (store_ofd_lock(fd, F_RDLCK, F_OFD_SETLKW, 0, 0) < 0) {
		if (errno == EINTR)
			continue;
		r = -errno;
		snprintf(msg, size, "cannot lock '%s/locks/store.lock': %s", s->dir, strerror(-r));
		close(fd);
		return r;
	}
	s->store_lock_fd = fd;
	return 0;
}

void store_lock_store_close(struct store *s)
{
	if (s->store_lock_fd >= 0)
		close(s->store_lock_fd);
	s->store_lock_fd = -1;
}
