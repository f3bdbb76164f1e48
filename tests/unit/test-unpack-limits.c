/*
 * test-unpack-limits.c - fetch/unpack.c's limits: deep paths, hard-link and
 * gzip bombs, memory, the empty gzip and the end of the stream (Tar.jl's
 * rules: test-unpack.c; the tarball builders: unpack-fixture.h)
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif

#include "fetch/fetch.h"
#include "store/hash.h"
#include "store/internal.h"
#include "tests/tap.h"
#include "tests/unit/unpack-fixture.h"
#include "tests/unit/util.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- limits: issue 10 bugs 9, 11, 12 and the empty gzip ------------------------- */

/* b compressed with gzip (libarchive's "raw" writer: the bytes as they are). */
static void gzip_of(const struct bytes *b, struct bytes *out)
{
	struct archive_entry *e = archive_entry_new();
	struct writer w;

	memset(&w, 0, sizeof(w));
	w.a = archive_write_new();
	archive_write_add_filter_gzip(w.a);
	archive_write_set_format_raw(w.a);
	archive_write_set_bytes_in_last_block(w.a, 1);
	if (archive_write_open(w.a, &w, NULL, w_write, NULL) != ARCHIVE_OK)
		diag("archive_write_open: %s", archive_error_string(w.a));
	archive_entry_set_pathname(e, "data");
	archive_entry_set_filetype(e, AE_IFREG);
	archive_write_header(w.a, e);
	if (b->len)
		archive_write_data(w.a, b->p, b->len);
	archive_entry_free(e);
	w_close(&w);
	*out = w.out;
}

/* A regular file of size zero bytes, block by block. */
static void raw_zeros(struct bytes *t, const char *name, size_t size)
{
	static const unsigned char zero[65536];
	size_t n;

	raw_hdr(t, name, '0', size, NULL);
	for (n = size; n > 0; n -= n < sizeof(zero) ? n : sizeof(zero))
		bytes_add(t, zero, n < sizeof(zero) ? n : sizeof(zero));
	if (size % 512)
		bytes_add(t, zero, 512 - size % 512);
}

/*
 * Unpack b within lim into a fresh directory; *du gets the bytes of files in
 * it, msg (MSG_MAX bytes) the error message ("" when there is none).
 */
#define MSG_MAX 1024
static int run_lim(const struct bytes *b, const struct fetch_unpack_limits *lim, bool max_only,
	uint64_t *du, char *msg)
{
	char *m = NULL;
	struct fetch_digests d;
	struct fetch_stream *s;
	char top[1100], cmd[2400];
	int fd, dfd, rc;
	FILE *f;
	unsigned long long k = 0;

	snprintf(top, sizeof(top), "%s/%d", uf_base, ++uf_runs);
	if (mkdir(top, 0755) < 0)
		abort();
	dfd = open(top, O_RDONLY | O_DIRECTORY);
	fd = memfd_of(b);
	if (fetch_stream_open_fd(fd, "limits.tar", NULL, &s) < 0)
		abort();
	if (max_only)
		rc = fetch_unpack_max(s, dfd, lim->max_bytes, &d, &m);
	else
		rc = fetch_unpack_ex(s, dfd, lim, &d, &m);
	snprintf(msg, MSG_MAX, "%s", m ? m : "");
	free(m);
	fetch_stream_free(s);
	close(fd);
	close(dfd);
	snprintf(cmd, sizeof(cmd), "du -sb --apparent-size '%s' && rm -rf '%s'", top, top);
	f = popen(cmd, "r");
	if (!f || fscanf(f, "%llu", &k) != 1)
		diag("du failed");
	if (f)
		pclose(f);
	*du = k;
	return rc;
}

/* Bug 9: hardlink copies count against the limits like the files they copy. */
static void test_hardlink_bomb(void)
{
	struct fetch_unpack_limits lim = {.max_bytes = 10u << 20};
	struct bytes t = {0}, gz;
	char name[32];
	uint64_t du;
	char msg[MSG_MAX];
	int i, rc;

	raw_zeros(&t, "big", 1u << 20);
	for (i = 0; i < 100; i++) {
		snprintf(name, sizeof(name), "link%d", i);
		raw_hdr(&t, name, '1', 0, "big");
	}
	raw_end(&t);
	rc = run_lim(&t, &lim, true, &du, msg);
	is_int(rc, -EFBIG, "hardlink bomb over max_bytes: -EFBIG");
	diag("message: %s; %llu bytes on disk", *msg ? msg : "(none)", (unsigned long long)du);
	ok(du <= lim.max_bytes + 65536, "hardlink bomb: at most max_bytes written (%llu)",
		(unsigned long long)du);

	lim = (struct fetch_unpack_limits){.max_unpacked = 10u << 20};
	rc = run_lim(&t, &lim, false, &du, msg);
	is_int(rc, -E2BIG, "hardlink bomb over max_unpacked: -E2BIG");
	ok(strstr(msg, "max_unpacked"), "hardlink bomb: the message names max_unpacked");
	ok(du <= lim.max_unpacked + 65536, "hardlink bomb: at most max_unpacked written (%llu)",
		(unsigned long long)du);

	lim = (struct fetch_unpack_limits){.max_unpacked = 200u << 20};
	rc = run_lim(&t, &lim, false, &du, msg);
	is_int(rc, 0, "hardlink bomb under max_unpacked: unpacks");

	/* no limit configured: the ratio guard counts the copies too */
	gzip_of(&t, &gz);
	lim = (struct fetch_unpack_limits){0};
	rc = run_lim(&gz, &lim, false, &du, msg);
	is_int(rc, -E2BIG, "gzip'd hardlink bomb, default limits: -E2BIG");
	ok(du <= FETCH_UNPACK_RATIO_FLOOR + (2u << 20),
		"gzip'd hardlink bomb: stopped near the floor (%llu)", (unsigned long long)du);
	bytes_free(&gz);
	bytes_free(&t);
}

/* Bug 11: the ratio guard stops a gzip bomb without any configured limit. */
static void test_gzip_bomb(void)
{
	struct fetch_unpack_limits lim = {0};
	struct bytes t = {0}, gz;
	uint64_t du;
	char msg[MSG_MAX];
	int rc;

	raw_zeros(&t, "zeros", 256u << 20);
	raw_end(&t);
	gzip_of(&t, &gz);
	bytes_free(&t);
	diag("gzip bomb: %zu bytes unpacking to 256 MiB", gz.len);
	rc = run_lim(&gz, &lim, false, &du, msg);
	is_int(rc, -E2BIG, "gzip bomb, default limits: -E2BIG");
	ok(strstr(msg, "decompression bomb"), "gzip bomb: the message says why");
	diag("message: %s; %llu bytes on disk", *msg ? msg : "(none)", (unsigned long long)du);
	ok(du <= FETCH_UNPACK_RATIO_FLOOR + (4u << 20), "gzip bomb: stopped near the floor (%llu)",
		(unsigned long long)du);

	lim.max_unpacked = 1ull << 30; /* an explicit ceiling replaces the ratio guard */
	rc = run_lim(&gz, &lim, false, &du, msg);
	is_int(rc, 0, "gzip bomb under an explicit max_unpacked: unpacks");
	bytes_free(&gz);
}

/*
 * One file larger than the floor in a tar that does not compress at all:
 * the guard judges bytes as they arrive, not the size a header declares
 * (it refused any artifact holding a file over 64 MiB: the 66 MiB declared
 * against the first 256 KiB received).
 */
static void test_large_file(void)
{
	struct fetch_unpack_limits lim = {0};
	struct bytes t = {0};
	uint64_t du;
	char msg[MSG_MAX];
	int rc;

	raw_zeros(&t, "large", (size_t)FETCH_UNPACK_RATIO_FLOOR + (2u << 20));
	raw_end(&t);
	rc = run_lim(&t, &lim, false, &du, msg);
	is_int(rc, 0, "a plain tar of one 66 MiB file, default limits: unpacks");
	if (rc < 0)
		diag("message: %s", msg);
	ok(du >= FETCH_UNPACK_RATIO_FLOOR + (2u << 20), "... all of it (%llu bytes with the directory)",
		(unsigned long long)du);
	bytes_free(&t);
}

/*
 * Under valgrind (make check-valgrind) the peak RSS is mostly valgrind's own
 * shadow memory, which grows with the client's: the bounds below do not
 * apply.  Valgrind preloads its vgpreload_*.so into every client.
 */
static bool under_valgrind(void)
{
	const char *p = getenv("LD_PRELOAD");

	return p != NULL && strstr(p, "/vgpreload_") != NULL;
}

/* rss_below(kib, limit_mib, what): the peak RSS check, skipped under valgrind. */
static void rss_below(long kib, long limit_mib, const char *what)
{
	if (under_valgrind())
		skip("%s: peak memory growth < %ld MiB: valgrind's RSS, not ours (%ld KiB)", what,
			limit_mib, kib);
	else
		ok(kib >= 0 && kib < limit_mib * 1024, "%s: peak memory growth %ld KiB < %ld MiB",
			what, kib, limit_mib);
}

/* The peak RSS growth (KiB) of unpacking b (hash only), measured in a child. */
static long peak_kib(const struct bytes *b, int *rc, char *msgbuf, size_t msgsize)
{
	struct {
		long kib;
		int rc;
		char msg[1024];
	} res = {0};
	int pfd[2];
	pid_t pid;

	if (pipe(pfd) < 0)
		abort();
	pid = fork();
	if (pid == 0) {
		struct fetch_digests d;
		struct fetch_stream *s;
		struct rusage ru;
		char *msg = NULL;
		long before;
		int fd = memfd_of(b);

		getrusage(RUSAGE_SELF, &ru);
		before = ru.ru_maxrss;
		if (fetch_stream_open_fd(fd, "deep.tar.gz", NULL, &s) < 0)
			_exit(1);
		res.rc = fetch_unpack(s, -1, &d, &msg);
		getrusage(RUSAGE_SELF, &ru);
		res.kib = ru.ru_maxrss - before;
		snprintf(res.msg, sizeof(res.msg), "%s", msg ? msg : "");
		if (write(pfd[1], &res, sizeof(res)) != (ssize_t)sizeof(res))
			_exit(1);
		_exit(0);
	}
	close(pfd[1]);
	if (read(pfd[0], &res, sizeof(res)) != (ssize_t)sizeof(res))
		res.kib = -1;
	close(pfd[0]);
	waitpid(pid, NULL, 0);
	*rc = res.rc;
	snprintf(msgbuf, msgsize, "%s", res.msg);
	return res.kib;
}

/* Bug 12: long and deep paths are refused before the path table grows with them. */
static void test_deep_paths(void)
{
	struct bytes t = {0}, gz;
	char msg[1024];
	size_t n = 200000, i;
	char *path = malloc(2 * n + 2);
	long kib;
	int rc;

	for (i = 0; i < n; i++)
		memcpy(path + 2 * i, "a/", 2);
	path[2 * n] = 'f';
	raw_pax(&t, "path", path, 2 * n + 1);
	raw_hdr(&t, "placeholder", '0', 0, NULL);
	raw_end(&t);
	gzip_of(&t, &gz);
	diag("one PAX path of %zu components: %zu bytes of .tar.gz", n, gz.len);
	kib = peak_kib(&gz, &rc, msg, sizeof(msg));
	is_int(rc, -EPERM, "200,000 components: refused with -EPERM");
	ok(strstr(msg, "path too long") != NULL, "200,000 components: 'path too long'");
	diag("message: %s; peak RSS growth %ld KiB", msg, kib);
	rss_below(kib, 32, "200,000 components");
	bytes_free(&t);
	bytes_free(&gz);

	/*
	 * 16,000 entries of 1000 components each under its own top directory:
	 * 16 million path table records from a small .tar.gz; the ratio guard
	 * counts the table's memory.
	 */
	for (i = 0; i < 16000; i++) {
		char top[16];

		snprintf(top, sizeof(top), "t%05zu", i);
		memcpy(path, top, 6);
		path[6] = '/';
		for (n = 7; n < 7 + 2 * 999; n += 2)
			memcpy(path + n, "a/", 2);
		path[n] = 'f';
		raw_pax(&t, "path", path, n + 1);
		raw_hdr(&t, "placeholder", '0', 0, NULL);
	}
	raw_end(&t);
	gzip_of(&t, &gz);
	diag("16,000 deep paths: %zu bytes of tar, %zu of .tar.gz", t.len, gz.len);
	bytes_free(&t);
	kib = peak_kib(&gz, &rc, msg, sizeof(msg));
	is_int(rc, -E2BIG, "16,000 deep paths: refused with -E2BIG");
	diag("message: %s; peak RSS growth %ld KiB", msg, kib);
	rss_below(kib, 400, "16,000 deep paths");
	bytes_free(&gz);
	for (i = 0; i < 200000; i++)
		memcpy(path + 2 * i, "a/", 2);

	/* 2000 components in 4001 bytes: short enough, too deep */
	path[4000] = '\0';
	path[3999] = 'f';
	raw_pax(&t, "path", path, 3999 + 1);
	raw_hdr(&t, "placeholder", '0', 0, NULL);
	raw_end(&t);
	expect_fail("2000 components", &t, -EPERM, "path too deep");
	bytes_free(&t);

	/* a path of 4096 bytes in 16 components */
	memset(path, 'b', 4096);
	for (i = 255; i < 4096; i += 256)
		path[i] = '/';
	path[4095] = 'g';
	raw_pax(&t, "path", path, 4096);
	raw_hdr(&t, "placeholder", '0', 0, NULL);
	raw_end(&t);
	expect_fail("4096-byte path", &t, -EPERM, "path too long");
	bytes_free(&t);
	free(path);
}

/* Tar.jl reads a gzip of nothing as an empty tarball, as it reads an empty .tar. */
static void test_empty_gzip(void)
{
	struct bytes t = {0}, gz;

	gzip_of(&t, &gz);
	expect_ok("gzip of an empty stream", &gz, EMPTY_TREE, NULL);
	bytes_free(&gz);
}

/* stop_at_end: what follows the tar data is left unread. */
static void test_stop_at_end(void)
{
	struct fetch_unpack_limits lim = {.stop_at_end = true};
	struct fetch_digests d;
	struct fetch_stream *s;
	struct writer w;
	char p[1100], *msg = NULL;
	int fd, rc;

	w_open(&w, C_NONE, false);
	W_FILE(&w, "foo", 0644, HELLO);
	w_close(&w);
	snprintf(p, sizeof(p), "%s/trailer.tar", uf_base);
	fd = open(p, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || write(fd, w.out.p, w.out.len) != (ssize_t)w.out.len ||
		ftruncate(fd, 1ll << 40) < 0 || lseek(fd, 0, SEEK_SET) < 0)
		abort();
	if (fetch_stream_open_fd(fd, p, NULL, &s) < 0)
		abort();
	rc = fetch_unpack_ex(s, -1, &lim, &d, &msg);
	is_int(rc, 0, "1 TiB of zeros after the tar data: unpacks");
	is_str(tu_hex(d.tree, HASH_SHA1_LEN), FOO_TREE, "1 TiB trailer: tree hash");
	ok(!d.complete && fetch_stream_bytes(s) < (4u << 20),
		"1 TiB trailer: stopped at the end of the tar data (%llu bytes read)",
		(unsigned long long)fetch_stream_bytes(s));
	fetch_stream_free(s);
	close(fd);
	unlink(p);
	free(msg);
	bytes_free(&w.out);
}

int main(void)
{
	static void (*const tests[])(void) = {
		test_deep_paths, test_hardlink_bomb, test_gzip_bomb, test_large_file,
		test_empty_gzip, test_stop_at_end, NULL,
	};

	return uf_main("test-unpack-limits", tests);
}
