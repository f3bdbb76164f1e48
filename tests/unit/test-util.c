/*
 * test-util.c - store/util/hex.h, utf8.h, io.h and random.h: the libc-only
 * helpers every layer shares
 */
#include "store/util/hex.h"
#include "store/util/io.h"
#include "store/util/random.h"
#include "store/util/time.h"
#include "store/util/utf8.h"
#include "tests/tap.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void test_hex_value(void)
{
	static const struct {
		char c;
		int any, lower;
	} cases[] = {
		{'0', 0, 0}, {'9', 9, 9}, {'a', 10, 10}, {'f', 15, 15}, {'A', 10, -1},
		{'F', 15, -1}, {'g', -1, -1}, {'G', -1, -1}, {'/', -1, -1}, {':', -1, -1},
		{'@', -1, -1}, {'`', -1, -1}, {' ', -1, -1}, {'\0', -1, -1}, {'\xff', -1, -1},
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		is_int(hex_value(cases[i].c), cases[i].any, "hex_value(0x%02x)",
			(unsigned char)cases[i].c);
		is_int(hex_value_lower(cases[i].c), cases[i].lower, "hex_value_lower(0x%02x)",
			(unsigned char)cases[i].c);
	}
}

static void test_hex_encode(void)
{
	static const uint8_t bytes[] = {0x00, 0x01, 0x9f, 0xab, 0xff};
	char out[2 * sizeof(bytes) + 1];

	memset(out, 'x', sizeof(out));
	hex_encode(bytes, sizeof(bytes), out);
	is_str(out, "00019fabff", "hex_encode: lowercase, two digits a byte, NUL-terminated");
	hex_encode(bytes, 0, out);
	is_str(out, "", "hex_encode of nothing is the empty string");
}

static void test_utf8(void)
{
	static const struct {
		uint32_t cp;
		const char *want;
	} cases[] = {
		{0x41, "A"},
		{0x7f, "\x7f"},
		{0x80, "\xc2\x80"},
		{0xe9, "\xc3\xa9"},
		{0x7ff, "\xdf\xbf"},
		{0x800, "\xe0\xa0\x80"},
		{0x20ac, "\xe2\x82\xac"},
		{0xffff, "\xef\xbf\xbf"},
		{0x10000, "\xf0\x90\x80\x80"},
		{0x10ffff, "\xf4\x8f\xbf\xbf"},
	};
	char out[UTF8_MAX + 1];
	size_t i, n;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(out, 0, sizeof(out));
		n = utf8_encode(cases[i].cp, out);
		is_int(n, strlen(cases[i].want), "utf8_encode(U+%04X): length", cases[i].cp);
		is_str(out, cases[i].want, "utf8_encode(U+%04X): bytes", cases[i].cp);
	}
}

static void test_write_all(void)
{
	static char big[256 * 1024], back[sizeof(big)];
	char path[] = "/tmp/artifactfs-test-util-XXXXXX";
	int fd, p[2];
	size_t i;

	for (i = 0; i < sizeof(big); i++)
		big[i] = (char)(i * 7 + i / 251);
	fd = mkstemp(path);
	ok(fd >= 0, "a scratch file");
	if (fd < 0)
		return;
	unlink(path);
	is_int(io_write_all(fd, big, sizeof(big)), 0, "io_write_all: 256 KiB to a file");
	is_int(pread(fd, back, sizeof(back), 0), sizeof(back), "every byte is there");
	ok(memcmp(big, back, sizeof(big)) == 0, "in order");
	is_int(io_write_all(fd, big, 0), 0, "io_write_all of nothing");
	close(fd);

	fd = open("/dev/null", O_RDONLY);
	is_int(io_write_all(fd, big, 1), -EBADF, "io_write_all to a read-only fd: -EBADF");
	close(fd);

	/* a full non-blocking pipe: the errno of the write that failed */
	ok(pipe2(p, O_NONBLOCK) == 0, "a pipe");
	is_int(io_write_all(p[1], big, sizeof(big)), -EAGAIN,
		"io_write_all past a full non-blocking pipe: -EAGAIN");
	close(p[0]);
	close(p[1]);
}

static void test_replace(void)
{
	char dir[] = "/tmp/artifactfs-test-util-XXXXXX", prefix[64], path[64], want[96];
	char *tmp = NULL, *tmp2 = NULL;
	struct stat st;
	int fd, fd2;

	ok(mkdtemp(dir) != NULL, "a scratch directory");
	snprintf(prefix, sizeof(prefix), "%s/.f.", dir);
	snprintf(path, sizeof(path), "%s/f", dir);

	fd = io_create_excl(prefix, '-', 2, 0, &tmp);
	snprintf(want, sizeof(want), "%s%ld-0", prefix, (long)getpid());
	ok(fd >= 0 && tmp && strcmp(tmp, want) == 0, "io_create_excl: the first name, N = 0");
	fd2 = io_create_excl(prefix, '-', 2, 0, &tmp2);
	snprintf(want, sizeof(want), "%s%ld-1", prefix, (long)getpid());
	ok(fd2 >= 0 && tmp2 && strcmp(tmp2, want) == 0, "io_create_excl: taken, so N = 1");
	free(tmp2);
	is_int(io_create_excl(prefix, '-', 2, 0, &tmp2), -EEXIST,
		"io_create_excl: every name taken: -EEXIST");
	ok(tmp2 && strcmp(tmp2, want) == 0, "... with the last name tried");
	free(tmp2);

	is_int(io_write_all(fd, "new", 3), 0, "write the temporary file");
	is_int(io_replace(fd, 0, tmp, path), 0, "io_replace: renamed over the file");
	ok(stat(tmp, &st) < 0 && errno == ENOENT, "... the temporary name is gone");
	ok(stat(path, &st) == 0 && st.st_size == 3, "... the file has the data");
	snprintf(want, sizeof(want), "%s%ld-1", prefix, (long)getpid());
	is_int(io_replace(fd2, -EIO, want, path), -EIO, "io_replace after a failure: r back");
	ok(stat(want, &st) < 0 && errno == ENOENT, "... the temporary file is unlinked");
	ok(stat(path, &st) == 0 && st.st_size == 3, "... the file is untouched");
	free(tmp);
	unlink(path);
	rmdir(dir);
}

static void test_random_id(void)
{
	uint64_t a = random_id(), b = random_id(), c = random_id();

	ok(a != b && b != c && a != c, "random_id: three calls, three ids");
}

/* time_deadline: seconds from now, nanoseconds kept below a second */
static void test_deadline(void)
{
	struct timespec before, d, after;
	double lo, hi, at;

	clock_gettime(CLOCK_MONOTONIC, &before);
	time_deadline(CLOCK_MONOTONIC, 1.75, &d);
	clock_gettime(CLOCK_MONOTONIC, &after);
	lo = (double)before.tv_sec + (double)before.tv_nsec / 1e9 + 1.75;
	hi = (double)after.tv_sec + (double)after.tv_nsec / 1e9 + 1.75;
	at = (double)d.tv_sec + (double)d.tv_nsec / 1e9;
	ok(d.tv_nsec >= 0 && d.tv_nsec < 1000000000L, "deadline: tv_nsec normalised (%ld)",
		d.tv_nsec);
	ok(at >= lo - 1e-6 && at <= hi + 1e-6, "deadline: 1.75 s from now");
	time_deadline(CLOCK_REALTIME, 0, &d);
	clock_gettime(CLOCK_REALTIME, &after);
	ok(d.tv_sec <= after.tv_sec, "deadline: 0 s is now, on the clock asked for");
}

int main(void)
{
	test_hex_value();
	test_hex_encode();
	test_utf8();
	test_write_all();
	test_replace();
	test_random_id();
	test_deadline();
	return tap_done();
}
