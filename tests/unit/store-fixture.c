/*
 * store-fixture.c - what test-store and test-reconcile share: the test
 * directory, the sample tree, installs of it, and child processes
 */
#include "tests/unit/store-fixture.h"

#include "tests/tap.h"
#include "tests/unit/util.h"

#include "store/hash.h"
#include "store/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

char sf_base[1024];
char sf_tree_hash[STORE_HASH_HEX + 1];
const char *sf_self;
struct store *volatile sf_child_store;
struct store_lock *volatile sf_child_lock;
static char self_path[PATH_MAX];

int sf_put_file(int dfd, const char *path, const char *content, mode_t mode)
{
	size_t len = strlen(content);
	int fd, r = 0;

	fd = openat(dfd, path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	if (write(fd, content, len) != (ssize_t)len || fchmod(fd, mode) < 0)
		r = -errno ? -errno : -EIO;
	close(fd);
	return r;
}

int sf_build_tree(int dfd, const char *outside)
{
	int r;

	r = sf_put_file(dfd, "foo", "Hello, world!", 04775);
	if (r == 0 && mkdirat(dfd, "d", 0700) < 0)
		r = -errno;
	if (r == 0 && fchmodat(dfd, "d", 02775, 0) < 0)
		r = -errno;
	if (r == 0)
		r = sf_put_file(dfd, "d/bar", "bar\n", 0664);
	if (r == 0 && symlinkat("foo", dfd, "link") < 0)
		r = -errno;
	if (r == 0 && outside && symlinkat(outside, dfd, "d/evil") < 0)
		r = -errno;
	return r;
}

int sf_mode_of(const char *dir, const char *rel, mode_t *mode)
{
	char path[PATH_MAX];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	if (lstat(path, &st) < 0)
		return -errno;
	*mode = st.st_mode;
	return 0;
}

bool sf_exists(const char *dir, const char *rel)
{
	mode_t m;

	return sf_mode_of(dir, rel, &m) == 0;
}

int sf_install(struct store *s, const char *hash, const char *source)
{
	struct store_install_meta meta = { 17, 2, source, SF_SHA256_X };
	struct store_install *in;
	int r;

	r = store_install_begin(s, hash, &in);
	if (r < 0)
		return r;
	r = sf_build_tree(store_install_dirfd(in), NULL);
	if (r < 0) {
		store_install_abort(in);
		return r;
	}
	return store_install_commit(in, &meta);
}

pid_t sf_spawn(int keep, const char *role, ...)
{
	va_list ap;
	pid_t pid;

	va_start(ap, role);
	pid = tu_spawn_va(sf_self, keep, -1, role, ap);
	va_end(ap);
	return pid;
}

bool sf_exited_ok(int st)
{
	return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

bool sf_killed(int st)
{
	return WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL;
}

static int setup(const char *argv0, const char *name)
{
	const char *tmp = getenv("TMPDIR");
	char scratch[PATH_MAX + 16];
	uint8_t h[STORE_HASH_LEN];
	int fd;

	if (tu_find_self(argv0, self_path) < 0)
		return -1;
	sf_self = self_path;

	snprintf(sf_base, sizeof(sf_base), "%s/%s.XXXXXX", tmp && *tmp ? tmp : "/tmp", name);
	if (!mkdtemp(sf_base)) {
		printf("Bail out! mkdtemp: %s\n", strerror(errno));
		return -1;
	}
	/* fsync costs time and proves nothing here, except in test_faults */
	setenv("ARTIFACTFS_UNSAFE_NO_FSYNC", "1", 1);
	snprintf(scratch, sizeof(scratch), "%s/scratch", sf_base);
	mkdir(scratch, 0755);
	fd = open(scratch, O_RDONLY | O_DIRECTORY);
	if (sf_build_tree(fd, NULL) < 0 || fchmodat(fd, "foo", 0555, 0) < 0 ||
	    fchmodat(fd, "d", 0775, 0) < 0 || tree_hash_dir(scratch, 0, h, NULL) < 0) {
		printf("Bail out! cannot build the sample tree\n");
		return -1;
	}
	close(fd);
	hash_to_hex(h, STORE_HASH_LEN, sf_tree_hash);
	diag("sample tree %s", sf_tree_hash);
	return 0;
}

int sf_main(int argc, char **argv, const char *name, int (*child)(int argc, char **argv),
	void (*const *tests)(void), int (*done)(void))
{
	if (argc > 2 && strcmp(argv[1], "--child") == 0)
		return child(argc - 2, argv + 2);
	if (setup(argv[0], name) < 0)
		return 1;
	while (*tests)
		(*tests++)();
	if (!getenv("ARTIFACTFS_KEEP"))
		store_rmtree(AT_FDCWD, sf_base);
	return done();
}
