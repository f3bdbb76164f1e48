/*
 * fuzz-unpack.c - the tarball reader writing to disk (fetch/fetch.h
 * fetch_unpack_max() with a real directory), checked against itself:
 *  - nothing is created outside the directory given (its parent holds
 *    nothing else afterwards);
 *  - extracting is never less strict than only hashing (dirfd -1, what
 *    fuzz-tar runs): a tarball refused as unsafe or malformed by one is
 *    refused by the other; only the file system may add errors of its own;
 *  - when both succeed they report the same digests, and the tree on disk
 *    hashes (tree_hash_dirat) to the tree the stream promised.
 *
 * Each input is extracted into DIR/x, DIR a directory made once under
 * $TMPDIR (default /tmp), and x is removed after the input; DIR is removed
 * at exit.
 */
#include "tests/fuzz/fuzz.h"

#include "fetch/fetch.h"
#include "store/hash.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define FUZZ_MAX_BYTES (64u << 20) /* as in fuzz-tar */

static char top[4096];

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path) < 0 ? -1 : 0;
}

static void rm_tree(const char *path)
{
	(void)nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void cleanup(void)
{
	rm_tree(top);
}

static int unpack(int fd, int dirfd, struct fetch_digests *d)
{
	struct fetch_stream *in = NULL;
	char *msg = NULL;
	int r;

	if (lseek(fd, 0, SEEK_SET) != 0)
		return -errno;
	r = fetch_stream_open_fd(fd, "fuzz.tar", NULL, &in);
	if (r == 0)
		r = fetch_unpack_max(in, dirfd, FUZZ_MAX_BYTES, d, &msg);
	FUZZ_CHECK(r < 0 || msg == NULL);
	free(msg);
	fetch_stream_free(in);
	return r;
}

/* The only entry of top is "x": nothing was written beside the artifact. */
static void check_outside(void)
{
	struct dirent *e;
	DIR *d = opendir(top);

	FUZZ_CHECK(d != NULL);
	while ((e = readdir(d)))
		FUZZ_CHECK(strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0 ||
			   strcmp(e->d_name, "x") == 0);
	closedir(d);
}

static bool local_error(int r)
{
	/* what a file system may refuse that a hash does not see */
	return r == -ENAMETOOLONG || r == -ENOSPC || r == -EMLINK || r == -ELOOP || r == -ENOMEM ||
	       r == -EMFILE;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fetch_digests h, x;
	uint8_t disk[HASH_SHA1_LEN];
	char path[4200], *errpath = NULL;
	int fd, dirfd = -1, rh, rx;

	if (!top[0]) {
		const char *tmp = getenv("TMPDIR");

		snprintf(top, sizeof(top), "%s/fuzz-unpack.XXXXXX", tmp && *tmp ? tmp : "/tmp");
		if (!mkdtemp(top))
			abort();
		atexit(cleanup);
	}
	snprintf(path, sizeof(path), "%s/x", top);
	fd = memfd_create("fuzz.tar", MFD_CLOEXEC);
	if (fd < 0)
		return 0;
	if (size && write(fd, data, size) != (ssize_t)size)
		goto out;
	if (mkdir(path, 0755) < 0 || (dirfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		abort();
	rh = unpack(fd, -1, &h);
	rx = unpack(fd, dirfd, &x);
	check_outside();
	if (rh < 0) {
		FUZZ_CHECK(rx < 0);
	} else if (rx < 0) {
		FUZZ_CHECK(local_error(rx));
	} else {
		FUZZ_CHECK(memcmp(h.sha256, x.sha256, sizeof(h.sha256)) == 0);
		FUZZ_CHECK(memcmp(h.tree, x.tree, sizeof(h.tree)) == 0);
		FUZZ_CHECK(memcmp(h.tree_tarjl, x.tree_tarjl, sizeof(h.tree_tarjl)) == 0);
		FUZZ_CHECK(h.bytes == x.bytes && h.files == x.files);
		FUZZ_CHECK(tree_hash_dirat(dirfd, ".", TREE_ONE_THREAD, disk, &errpath) == 0);
		FUZZ_CHECK(memcmp(disk, x.tree, sizeof(disk)) == 0);
	}
	free(errpath);
out:
	if (dirfd >= 0)
		close(dirfd);
	rm_tree(path);
	close(fd);
	return 0;
}
