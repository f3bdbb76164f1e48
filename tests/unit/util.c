/*
 * util.c - the set-up the unit tests share; see util.h
 */
#include "tests/unit/util.h"

#include "store/hash.h"
#include "store/store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int tu_mkdtemp(char *buf, size_t size, const char *name)
{
	const char *t = getenv("TMPDIR");

	snprintf(buf, size, "%s/%s.XXXXXX", t && *t ? t : "/tmp", name);
	if (!mkdtemp(buf)) {
		perror("mkdtemp");
		return -1;
	}
	return 0;
}

static int rm_entry(const char *p, const struct stat *sb, int type, struct FTW *ftw)
{
	return remove(p);
}

void tu_rmtree(const char *dir)
{
	nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

char *tu_path(const char *dir, const char *name)
{
	char *p;

	if (asprintf(&p, "%s/%s", dir, name) < 0)
		abort();
	return p;
}

char *tu_slurp(const char *path, size_t *len)
{
	char *buf = NULL;
	size_t n = 0, cap = 0;
	ssize_t r;
	int fd = open(path, O_RDONLY);

	if (fd < 0)
		return NULL;
	for (;;) {
		if (n + 65536 + 1 > cap) {
			cap = cap ? 2 * cap : 1 << 20;
			buf = realloc(buf, cap);
			if (!buf)
				abort();
		}
		r = read(fd, buf + n, cap - n - 1);
		if (r <= 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	buf[n] = '\0';
	if (len)
		*len = n;
	return buf;
}

void tu_write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text))
		abort();
	close(fd);
}

int tu_write_bytes(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "wb");
	int r;

	if (!f)
		return -1;
	r = fwrite(data, 1, len, f) == len ? 0 : -1;
	return fclose(f) == 0 ? r : -1;
}

const char *tu_hex(const uint8_t *d, size_t len)
{
	static char bufs[8][HASH_HEX_MAX];
	static unsigned i;
	char *b = bufs[i++ % 8];

	hash_to_hex(d, len, b);
	return b;
}

struct store *tu_store_open(const char *dir, unsigned flags)
{
	struct store *s = NULL;
	char *msg = NULL;
	int r;

	r = store_open(dir, flags, &s, &msg);
	if (r < 0)
		printf("# store_open '%s': %s (%s)\n", dir, strerror(-r), msg ? msg : "");
	free(msg);
	return s;
}

bool tu_installed(struct store *s, const char *hash)
{
	struct store_info info;

	if (store_lookup(s, hash, &info) < 0)
		return false;
	store_info_release(&info);
	return info.state == STORE_INSTALLED;
}

int tu_count_entries(const char *dir, const char *sub)
{
	char path[PATH_MAX];
	struct dirent *de;
	int n = 0;
	DIR *d;

	snprintf(path, sizeof(path), "%s/%s", dir, sub);
	d = opendir(path);
	if (!d)
		return -1;
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

void tu_one_file_tree(const char *content, char hex[41])
{
	uint8_t blob[HASH_SHA1_LEN], tree[HASH_SHA1_LEN];
	char obj[128];
	size_t n;

	hash_git_blob(HASH_SHA1, content, strlen(content), blob);
	n = (size_t)snprintf(obj, sizeof(obj), "tree %zu", sizeof("100644 f") + HASH_SHA1_LEN);
	obj[n++] = '\0';
	memcpy(obj + n, "100644 f", sizeof("100644 f"));
	n += sizeof("100644 f");
	memcpy(obj + n, blob, HASH_SHA1_LEN);
	n += HASH_SHA1_LEN;
	hash_buffer(HASH_SHA1, obj, n, tree);
	hash_to_hex(tree, HASH_SHA1_LEN, hex);
}

int tu_install_file(struct store *s, const char *content, const char *source, unsigned lock_s,
	char hex[41])
{
	struct store_install_meta meta = { 0, 1, source, NULL };
	size_t len = strlen(content);
	struct store_install *in;
	struct store_lock *l;
	int fd, r;

	tu_one_file_tree(content, hex);
	meta.bytes = len;
	r = store_lock_hash(s, hex, lock_s, &l);
	if (r < 0)
		return r;
	r = store_install_begin(s, hex, &in);
	if (r < 0)
		goto out;
	fd = openat(store_install_dirfd(in), "f", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0 || write(fd, content, len) != (ssize_t)len) {
		r = fd < 0 ? -errno : -EIO;
		if (fd >= 0)
			close(fd);
		store_install_abort(in);
		goto out;
	}
	close(fd);
	r = store_install_commit(in, &meta);
out:
	store_unlock(l);
	return r;
}

double tu_now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int tu_wait_child(int pid)
{
	int st;

	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -1;
	return st;
}

int tu_spawn_va(const char *self, int keep1, int keep2, const char *role, va_list ap)
{
	const char *argv[12] = { self, "--child", role };
	size_t n = 3;
	pid_t pid;

	while (n < sizeof(argv) / sizeof(argv[0]) - 1 && (argv[n] = va_arg(ap, const char *)))
		n++;
	argv[n] = NULL;
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid == 0) {
		if (keep1 >= 0)
			fcntl(keep1, F_SETFD, 0);
		if (keep2 >= 0)
			fcntl(keep2, F_SETFD, 0);
		execv(self, (char **)argv);
		_exit(127);
	}
	return pid;
}

int tu_find_self(const char *argv0, char *me)
{
	if (strchr(argv0, '/') ? !realpath(argv0, me) : !realpath("/proc/self/exe", me)) {
		printf("Bail out! cannot find this program: %s\n", strerror(errno));
		return -1;
	}
	return 0;
}
