/*
 * test-partial.c - the store's partial area (store/partial.h): commit and
 * abort, usage, reclaim oldest first, a crash between begin and commit
 * (a child killed holding a temporary) swept by store_tmp_sweep()
 * while a live writer's temporary is kept, and the kept seek indexes.
 */
#include "config.h"

#include "store/partial.h"
#include "tests/tap.h"
#include "tests/unit/util.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char base[256];

/* Write content as blob oid into partial/; the committed read-only fd, or -errno. */
static int put(struct store *s, const char *content, bool exec, uint8_t oid[HASH_SHA1_LEN])
{
	struct store_partial_tmp *t = NULL;
	size_t len = strlen(content);
	int fd = -1, rfd = -1, r;

	hash_git_blob(HASH_SHA1, content, len, oid);
	r = store_partial_begin(s, oid, len, &t, &fd);
	if (r < 0)
		return r;
	if (write(fd, content, len) != (ssize_t)len) {
		store_partial_abort(t);
		return -EIO;
	}
	r = store_partial_commit(t, exec, &rfd);
	return r < 0 ? r : rfd;
}

/* The access time of partial/<oid> set to t (as if used then). */
static void set_atime(const char *dir, const uint8_t oid[HASH_SHA1_LEN], time_t t)
{
	struct timespec ts[2] = {{t, 0}, {0, UTIME_OMIT}};
	char hex[41], path[512];

	hash_to_hex(oid, HASH_SHA1_LEN, hex);
	snprintf(path, sizeof(path), "%s/partial/%s", dir, hex);
	utimensat(AT_FDCWD, path, ts, 0);
}

static void test_commit(void)
{
	char *dir = tu_path(base, "commit"), buf[64], hex[41], path[512];
	struct store *s = tu_store_open(dir, STORE_CREATE);
	struct store_partial_tmp *t = NULL;
	uint8_t a[HASH_SHA1_LEN], b[HASH_SHA1_LEN];
	uint64_t bytes = 1, files = 1;
	struct stat st;
	int fd, wfd;
	ssize_t n;

	if (!s) {
		ok(0, "commit: store");
		free(dir);
		return;
	}
	is_int(store_partial_usage(s, &bytes, &files), 0, "usage of an empty area");
	ok(bytes == 0 && files == 0, "empty: 0 bytes, 0 files");
	fd = put(s, "hello\n", false, a);
	ok(fd >= 0, "commit returns a descriptor");
	n = fd >= 0 ? pread(fd, buf, sizeof(buf), 0) : -1;
	ok(n == 6 && memcmp(buf, "hello\n", 6) == 0, "it reads the bytes");
	if (fd >= 0)
		close(fd);
	hash_to_hex(a, HASH_SHA1_LEN, hex);
	snprintf(path, sizeof(path), "%s/partial/%s", dir, hex);
	ok(stat(path, &st) == 0 && (st.st_mode & 0777) == 0444, "partial/<oid> is 0444");
	fd = put(s, "#!/bin/sh\n", true, b);
	if (fd >= 0)
		close(fd);
	hash_to_hex(b, HASH_SHA1_LEN, hex);
	snprintf(path, sizeof(path), "%s/partial/%s", dir, hex);
	ok(stat(path, &st) == 0 && (st.st_mode & 0777) == 0555, "executable: 0555");
	is_int(store_partial_open(s, a, &fd), 0, "open a committed file");
	if (fd >= 0)
		close(fd);
	memset(b, 0x5a, sizeof(b));
	is_int(store_partial_open(s, b, &fd), -ENOENT, "open an absent file: -ENOENT");
	/* abort leaves nothing */
	is_int(store_partial_begin(s, b, 10, &t, &wfd), 0, "begin");
	ok(write(wfd, "0123456789", 10) == 10, "write");
	store_partial_abort(t);
	is_int(store_partial_open(s, b, &fd), -ENOENT, "after abort: absent");
	is_int(tu_count_entries(dir, "tmp"), 0, "after abort: tmp/ empty");
	is_int(store_partial_usage(s, &bytes, &files), 0, "usage");
	ok(bytes == 6 + 10 && files == 2, "usage: %llu bytes, %llu files",
		(unsigned long long)bytes, (unsigned long long)files);
	store_close(s);
	free(dir);
}

static void test_reclaim(void)
{
	char *dir = tu_path(base, "reclaim");
	struct store *s = tu_store_open(dir, STORE_CREATE);
	uint8_t o[4][HASH_SHA1_LEN];
	const char *c[4] = {"aaaa", "bbbbbbbb", "cc", "dddddddddddddddd"};
	time_t now = time(NULL);
	uint64_t freed = 0, bytes, files;
	int i, fd;

	if (!s) {
		ok(0, "reclaim: store");
		free(dir);
		return;
	}
	for (i = 0; i < 4; i++) {
		fd = put(s, c[i], false, o[i]);
		if (fd >= 0)
			close(fd);
	}
	/* used: c 3 days ago, a 2 days ago, d yesterday, b now */
	set_atime(dir, o[2], now - 3 * 86400);
	set_atime(dir, o[0], now - 2 * 86400);
	set_atime(dir, o[3], now - 86400);
	set_atime(dir, o[1], now);
	/* to 26 bytes (of 30): the oldest (c, 2 bytes) and then a (4) */
	is_int(store_partial_reclaim(s, 26, 0, &freed), 2, "reclaim to 26 bytes removes 2");
	is_int(freed, 6, "freed the bytes of the two oldest");
	is_int(store_partial_open(s, o[2], &fd), -ENOENT, "the oldest went");
	is_int(store_partial_open(s, o[0], &fd), -ENOENT, "the second oldest went");
	ok(store_partial_open(s, o[3], &fd) == 0, "a younger one stays");
	close(fd);
	/* opening marked d used now: with a grace of an hour, only nothing old is left */
	set_atime(dir, o[3], now - 86400);
	is_int(store_partial_reclaim(s, 0, 3600, &freed), 1, "gc: unused past the grace go");
	is_int(store_partial_usage(s, &bytes, &files), 0, "usage");
	ok(files == 1 && bytes == 8, "the recently used one stays");
	is_int(store_partial_reclaim(s, 0, 0, &freed), 1, "target 0, no grace: all go");
	store_close(s);
	free(dir);
}

/* A crash between begin and commit: the child is killed holding its temporary. */
static void test_crash(void)
{
	char *dir = tu_path(base, "crash");
	struct store *s = tu_store_open(dir, STORE_CREATE);
	struct store_partial_tmp *t = NULL;
	uint8_t oid[HASH_SHA1_LEN] = {1, 2, 3};
	uint64_t freed = 0;
	int fd, st = 0;
	pid_t pid;

	if (!s) {
		ok(0, "crash: store");
		free(dir);
		return;
	}
	pid = fork();
	if (pid == 0) {
		if (store_partial_begin(s, oid, 4, &t, &fd) == 0 && write(fd, "half", 4) == 4)
			kill(getpid(), SIGKILL); /* no commit, no abort: a crash */
		_exit(1);
	}
	waitpid(pid, &st, 0);
	ok(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL, "the child began and was killed");
	is_int(tu_count_entries(dir, "tmp"), 1, "it left a temporary");
	/* a live writer's temporary must stay */
	is_int(store_partial_begin(s, oid, 4, &t, &fd), 0, "a live writer begins");
	is_int(store_tmp_sweep(s, 0, &freed), 1, "the sweep removes the dead one only");
	is_int(tu_count_entries(dir, "tmp"), 1, "the live one stays");
	store_partial_abort(t);
	is_int(tu_count_entries(dir, "partial"), 0, "nothing in partial/");
	is_int(tu_count_entries(dir, "tmp"), 0, "tmp/ empty");
	store_close(s);
	free(dir);
}

static void test_seekidx_put(void)
{
	char *dir = tu_path(base, "idx"), path[512], *got;
	struct store *s = tu_store_open(dir, STORE_CREATE);
	const char *hash = "0123456789abcdef0123456789abcdef01234567";
	size_t len = 0;

	if (!s) {
		ok(0, "seekidx: store");
		free(dir);
		return;
	}
	ok(store_seekidx_path(s, hash, path, sizeof(path)) > 0, "path");
	ok(strstr(path, "/seekidx/0123456789abcdef") != NULL, "path '%s'", path);
	is_int(store_seekidx_path(s, "xyz", path, sizeof(path)), -EINVAL, "a bad hash: -EINVAL");
	is_int(store_seekidx_path(s, hash, path, 8), -ENAMETOOLONG, "a small buffer");
	is_int(store_seekidx_put(s, hash, "AFSSEEK\n", 8), 0, "put");
	store_seekidx_path(s, hash, path, sizeof(path));
	got = tu_slurp(path, &len);
	ok(got && len == 8 && memcmp(got, "AFSSEEK\n", 8) == 0, "the bytes are there");
	free(got);
	is_int(store_seekidx_put(s, hash, "AFSSEEK\nX", 9), 0, "put again replaces");
	is_int(tu_count_entries(dir, "tmp"), 0, "tmp/ empty");
	store_close(s);
	/* a store made before partial/ and seekidx/: made on demand */
	snprintf(path, sizeof(path), "%s/partial", dir);
	rmdir(path);
	s = tu_store_open(dir, 0);
	if (s) {
		uint8_t oid[HASH_SHA1_LEN];
		int fd = put(s, "x", false, oid);

		ok(fd >= 0, "partial/ made on demand");
		if (fd >= 0)
			close(fd);
		store_close(s);
	}
	free(dir);
}

int main(void)
{
	if (tu_mkdtemp(base, sizeof(base), "partial") < 0)
		return 1;
	setenv("ARTIFACTFS_UNSAFE_NO_FSYNC", "1", 1);
	test_commit();
	test_reclaim();
	test_crash();
	test_seekidx_put();
	tu_rmtree(base);
	return tap_done();
}
