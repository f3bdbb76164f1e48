/*
 * store.c - opening and closing the store, its layout, per-thread error
 * messages, hash arguments, crash points and the syscall fault table
 *
 * The layout is the one store.h documents; every path is resolved once with
 * realpath() at open and the subdirectories are kept open as O_DIRECTORY
 * descriptors, so later work is done with *at() calls relative to them.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1	/* renameat2, syncfs */
#endif

#include "store/internal.h"
#include "store/util/hex.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* ---- per-thread first-error messages ------------------------------------ */

/*
 * store_errmsg() is per thread and per store.  Each thread keeps a few slots
 * in thread-local storage, keyed by the store's id (unique per store_open,
 * never reused, unlike a pointer): nothing is allocated, so nothing leaks
 * when a thread or a store goes away.  A thread that uses more stores than
 * there are slots loses the oldest message.
 */
#define ERR_SLOTS 4
#define ERR_LEN 1024

static __thread struct err_slot {
	uint64_t id;
	char msg[ERR_LEN];
} err_slots[ERR_SLOTS];
static __thread unsigned err_next;
static atomic_uint_fast64_t store_ids = 1;

static struct err_slot *err_slot_find(const struct store *s, bool create)
{
	struct err_slot *e;
	unsigned i;

	for (i = 0; i < ERR_SLOTS; i++)
		if (err_slots[i].id == s->id)
			return &err_slots[i];
	if (!create)
		return NULL;
	e = &err_slots[err_next++ % ERR_SLOTS];
	e->id = s->id;
	e->msg[0] = '\0';
	return e;
}

int store_seterr(const struct store *s, int err, const char *fmt, ...)
{
	struct err_slot *e = err_slot_find(s, true);
	va_list ap;

	if (e->msg[0])
		return err;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	return err;
}

const char *store_errmsg(const struct store *s)
{
	struct err_slot *e = err_slot_find(s, false);

	return e ? e->msg : "";
}

void store_clear_error(struct store *s)
{
	struct err_slot *e = err_slot_find(s, false);

	if (e)
		e->msg[0] = '\0';
}

/* ---- hashes and times ---------------------------------------------------- */

bool store_hash_valid(const char *hex)
{
	int i;

	if (!hex)
		return false;
	for (i = 0; i < STORE_HASH_HEX; i++)
		if (hex_value_lower(hex[i]) < 0)
			return false;
	return hex[STORE_HASH_HEX] == '\0';
}

/*
 * One pass over the digits, lowercase only (the directory names are): this
 * runs on every store_lookup(), i.e. on every FUSE lookup of a hash.
 */
int store_hash_parse(const char *hex, uint8_t out[STORE_HASH_LEN])
{
	uint8_t tmp[STORE_HASH_LEN];
	int i, hi, lo;

	if (!hex)
		return -EINVAL;
	for (i = 0; i < STORE_HASH_LEN; i++) {
		hi = hex_value_lower(hex[2 * i]);
		lo = hi < 0 ? -1 : hex_value_lower(hex[2 * i + 1]);
		if (lo < 0)
			return -EINVAL;
		tmp[i] = (uint8_t)(hi << 4 | lo);
	}
	if (hex[STORE_HASH_HEX] != '\0')
		return -EINVAL;
	memcpy(out, tmp, sizeof(tmp));
	return 0;
}

int64_t store_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec;
}

/* ---- crash points --------------------------------------------------------- */

void store_crash_point(const struct store *s, const char *point)
{
	if (s && s->crash_at[0] && point && strcmp(s->crash_at, point) == 0)
		raise(SIGKILL);
}

/* ---- the syscall fault table ---------------------------------------------- */

/*
 * After SQLite's os_unix.c aSyscall[]: one row per system call that changes
 * the store, named as the tests name it.  countdown is the number of calls
 * left until the one that fails (0: disarmed); the fast path is one relaxed
 * load.
 */
enum {
	SYS_MKDIRAT,
	SYS_OPENAT,
	SYS_RENAMEAT,
	SYS_UNLINKAT,
	SYS_FCHMOD,
	SYS_FCHMODAT,
	SYS_FSYNC,
	SYS_SYNCFS,
	SYS_COUNT
};

static struct store_syscall {
	const char *name;
	atomic_int countdown;
	atomic_int err;
} syscalls[SYS_COUNT] = {
	[SYS_MKDIRAT] = { "mkdirat" },
	[SYS_OPENAT] = { "openat" },
	[SYS_RENAMEAT] = { "renameat" },
	[SYS_UNLINKAT] = { "unlinkat" },
	[SYS_FCHMOD] = { "fchmod" },
	[SYS_FCHMODAT] = { "fchmodat" },
	[SYS_FSYNC] = { "fsync" },
	[SYS_SYNCFS] = { "syncfs" },
};

int store_fault_set(const char *syscall, int nth, int err)
{
	int i;

	if (!syscall || nth < 0)
		return -EINVAL;
	for (i = 0; i < SYS_COUNT; i++) {
		if (strcmp(syscalls[i].name, syscall) == 0) {
			atomic_store(&syscalls[i].err, err);
			atomic_store(&syscalls[i].countdown, nth);
			return 0;
		}
	}
	return -EINVAL;
}

void store_fault_clear(void)
{
	int i;

	for (i = 0; i < SYS_COUNT; i++)
		atomic_store(&syscalls[i].countdown, 0);
}

/* fault - true (errno set) when this call of syscall i must fail. */
static bool fault(int i)
{
	int n = atomic_load_explicit(&syscalls[i].countdown, memory_order_relaxed);

	while (n > 0 && !atomic_compare_exchange_weak(&syscalls[i].countdown, &n, n - 1))
		;
	if (n != 1)
		return false;
	errno = atomic_load(&syscalls[i].err);
	return true;
}

int store_sys_mkdirat(int dirfd, const char *path, mode_t mode)
{
	return fault(SYS_MKDIRAT) ? -1 : mkdirat(dirfd, path, mode);
}

int store_sys_openat(int dirfd, const char *path, int flags, mode_t mode)
{
	return fault(SYS_OPENAT) ? -1 : openat(dirfd, path, flags, mode);
}

int store_sys_renameat(int olddirfd, const char *oldpath, int newdirfd, const char *newpath,
	unsigned flags)
{
	int r;

	if (fault(SYS_RENAMEAT))
		return -1;
	r = renameat2(olddirfd, oldpath, newdirfd, newpath, flags);
	/*
	 * A filesystem without RENAME_NOREPLACE: plain rename(2) still fails
	 * with EEXIST/ENOTEMPTY over a non-empty directory, which is all a
	 * tree install needs (only an empty directory could be replaced).
	 */
	if (r < 0 && errno == EINVAL && flags == RENAME_NOREPLACE)
		r = renameat(olddirfd, oldpath, newdirfd, newpath);
	return r;
}

int store_sys_unlinkat(int dirfd, const char *path, int flags)
{
	return fault(SYS_UNLINKAT) ? -1 : unlinkat(dirfd, path, flags);
}

int store_sys_fchmod(int fd, mode_t mode)
{
	return fault(SYS_FCHMOD) ? -1 : fchmod(fd, mode);
}

int store_sys_fchmodat(int dirfd, const char *path, mode_t mode, int flags)
{
	return fault(SYS_FCHMODAT) ? -1 : fchmodat(dirfd, path, mode, flags);
}

int store_sys_fsync(int fd)
{
	return fault(SYS_FSYNC) ? -1 : fsync(fd);
}

int store_sys_syncfs(int fd)
{
	return fault(SYS_SYNCFS) ? -1 : syncfs(fd);
}

/* ---- open and close ----------------------------------------------------- */

static const char *const subdirs[] = { "artifacts", "tmp", "quarantine", "locks", "index",
	"partial", "seekidx" };

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static void store_free(struct store *s)
{
	if (!s)
		return;
	store_idx_close(s);
	store_lock_store_close(s);
	close_fd(&s->artifacts_fd);
	close_fd(&s->tmp_fd);
	close_fd(&s->quarantine_fd);
	close_fd(&s->locks_fd);
	close_fd(&s->dirfd);
	pthread_rwlock_destroy(&s->maplock);
	pthread_mutex_destroy(&s->pool_mu);
	pthread_mutex_destroy(&s->access_mu);
	free(s->access);
	free(s->dir);
	free(s);
}

/* read_env - the test knobs, read once per store_open. */
static void read_env(struct store *s)
{
	const char *v = getenv("ARTIFACTFS_CRASH_AT");

	if (v)
		snprintf(s->crash_at, sizeof(s->crash_at), "%s", v);
	v = getenv("ARTIFACTFS_UNSAFE_NO_FSYNC");
	s->no_fsync = v && *v && strcmp(v, "0") != 0;
	store_boot_id_read(s);
}

/*
 * open_layout - create (STORE_CREATE) and open the directories of the
 * layout.  Sets *fresh when index/data.mdb did not exist yet.
 */
static int open_layout(struct store *s, const char *dir, unsigned flags, bool *fresh,
	char *msg, size_t size)
{
	/* index/ is LMDB's, opened by path; partial/ and seekidx/ by store/partial.c */
	int *fds[] = { &s->artifacts_fd, &s->tmp_fd, &s->quarantine_fd, &s->locks_fd, NULL, NULL,
		NULL };
	struct stat st;
	size_t i;
	int r;

	if ((flags & STORE_CREATE) && store_sys_mkdirat(AT_FDCWD, dir, 0755) < 0 &&
	    errno != EEXIST) {
		r = -errno;
		snprintf(msg, size, "cannot create store '%s': %s", dir, strerror(-r));
		return r;
	}
	s->dir = realpath(dir, NULL);
	if (!s->dir) {
		r = -errno;
		snprintf(msg, size, "cannot open store '%s': %s", dir, strerror(-r));
		return r;
	}
	s->dirfd = open(s->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (s->dirfd < 0) {
		r = -errno;
		snprintf(msg, size, "cannot open store '%s': %s", s->dir, strerror(-r));
		return r;
	}
	for (i = 0; i < sizeof(subdirs) / sizeof(subdirs[0]); i++) {
		if ((flags & STORE_CREATE) && store_sys_mkdirat(s->dirfd, subdirs[i], 0755) < 0 &&
		    errno != EEXIST) {
			r = -errno;
			snprintf(msg, size, "cannot create '%s/%s': %s", s->dir, subdirs[i],
				strerror(-r));
			return r;
		}
		if (!fds[i])
			continue;
		*fds[i] = openat(s->dirfd, subdirs[i],
			O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (*fds[i] < 0) {
			r = -errno;
			/* a reader needs artifacts/ only */
			if (r == -ENOENT && (flags & STORE_RDONLY) && i > 0)
				continue;
			if (r == -ENOENT)
				snprintf(msg, size, "no store at '%s': '%s' is missing", s->dir,
					subdirs[i]);
			else
				snprintf(msg, size, "cannot open '%s/%s': %s", s->dir, subdirs[i],
					strerror(-r));
			return r;
		}
	}
	if (fstat(s->artifacts_fd, &st) < 0)
		return -errno;
	s->artifacts_mode = st.st_mode & 0777;
	if (fstatat(s->dirfd, "index/data.mdb", &st, 0) < 0) {
		r = -errno;
		if (r != -ENOENT || !(flags & STORE_CREATE)) {
			if (r == -ENOENT)
				snprintf(msg, size, "no store at '%s': no index", s->dir);
			else
				snprintf(msg, size, "cannot open '%s/index/data.mdb': %s", s->dir,
					strerror(-r));
			return r;
		}
		*fresh = true;
	}
	return 0;
}

int store_open(const char *dir, unsigned flags, struct store **ret, char **errmsg)
{
	pthread_rwlockattr_t attr;
	struct store *s = NULL;
	char msg[ERR_LEN] = "";
	bool fresh = false;
	int r;

	if (errmsg)
		*errmsg = NULL;
	if (!dir || !*dir || !ret || ((flags & STORE_CREATE) && (flags & STORE_RDONLY))) {
		snprintf(msg, sizeof(msg), "cannot open store: invalid arguments");
		r = -EINVAL;
		goto out;
	}
	s = calloc(1, sizeof(*s));
	if (!s) {
		r = -ENOMEM;
		goto out;
	}
	s->id = atomic_fetch_add(&store_ids, 1);
	s->flags = flags;
	s->dirfd = s->artifacts_fd = s->tmp_fd = s->quarantine_fd = s->locks_fd = -1;
	s->store_lock_fd = -1;
	/* writers preferred, so that a resize is not starved: see index.c */
	pthread_rwlockattr_init(&attr);
	pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	r = -pthread_rwlock_init(&s->maplock, &attr);
	pthread_rwlockattr_destroy(&attr);
	if (!r)
		r = -pthread_mutex_init(&s->pool_mu, NULL);
	if (!r)
		r = -pthread_mutex_init(&s->access_mu, NULL);
	if (r < 0) {
		free(s);
		s = NULL;
		goto out;
	}
	read_env(s);

	r = open_layout(s, dir, flags, &fresh, msg, sizeof(msg));
	if (r < 0)
		goto out;
	r = store_lock_store_open(s, msg, sizeof(msg));
	if (r < 0)
		goto out;
	r = store_idx_open(s, fresh, msg, sizeof(msg));
	if (r < 0)
		goto out;
	if (!(flags & (STORE_RDONLY | STORE_NO_RECONCILE))) {
		r = store_reconcile(s, flags, NULL);
		if (r < 0) {
			/* bounded fields: the message fits msg whatever the lengths */
			snprintf(msg, sizeof(msg), "cannot reconcile store '%.480s': %.480s", s->dir,
				*store_errmsg(s) ? store_errmsg(s) : strerror(-r));
			goto out;
		}
		/* not an error to open over: the marks stay for the next sync */
		if (store_sync_settled(s) < 0)
			store_clear_error(s);
	} else {
		/* no check of unsynced trees of an earlier boot: lookups hide them */
		r = store_pending_scan(s);
		if (r < 0) {
			snprintf(msg, sizeof(msg), "%.900s", store_errmsg(s));
			goto out;
		}
	}
	*ret = s;
	s = NULL;
out:
	if (r < 0 && errmsg) {
		if (!msg[0])
			snprintf(msg, sizeof(msg), "cannot open store '%s': %s", dir ? dir : "",
				strerror(-r));
		*errmsg = strdup(msg);
	}
	if (s)
		store_clear_error(s);
	store_free(s);
	return r;
}

void store_close(struct store *s)
{
	if (!s)
		return;
	if (!(s->flags & STORE_RDONLY))
		store_flush_access(s);
	store_clear_error(s);
	store_free(s);
}

const char *store_dir(const struct store *s)
{
	return s->dir;
}

int store_path(const struct store *s, const char *hash, char *buf, size_t size)
{
	int n;

	if (!store_hash_valid(hash) || !buf)
		return -EINVAL;
	n = snprintf(buf, size, "%s/artifacts/%s", s->dir, hash);
	if (n < 0)
		return -EINVAL;
	if ((size_t)n >= size)
		return -ENAMETOOLONG;
	return n;
}
