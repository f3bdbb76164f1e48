/*
 * test-unpack.c - fetch/unpack.c: Tar.jl's rules, extraction, hashing
 *
 * Tarballs are built in memory, either with libarchive's writer (the
 * ordinary ones, in every compression) or block by block here (the hostile
 * ones libarchive will not write).  Each goes through fetch_unpack() into a
 * fresh directory base/N/x beside a canary file base/N/canary; after every
 * run the test checks that nothing but x and the canary exists in base/N,
 * and after a success that tree_hash_dir() of x equals the streamed tree
 * hash and fetch_hash_tarball() gives the same digests.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif

#include "fetch/fetch.h"
#include "store/hash.h"
#include "store/internal.h"
#include "tests/tap.h"
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

#define EMPTY_TREE "4b825dc642cb6eb9a060e54bf8d69288fbee4904"
#define HELLO "Hello, world!"
#define FOO_TREE "339aad93c0f854604248ea3b7c5b7edea20625a9"

static char base[1024];
static char outside[2048]; /* an absolute path hostile entries aim at */
static int runs;

/* ---- a growable byte buffer ------------------------------------------------- */

struct bytes {
	unsigned char *p;
	size_t len, cap;
};

static void bytes_add(struct bytes *b, const void *p, size_t n)
{
	if (b->len + n > b->cap) {
		b->cap = (b->len + n) * 2 + 4096;
		b->p = realloc(b->p, b->cap);
		if (!b->p)
			abort();
	}
	memcpy(b->p + b->len, p, n);
	b->len += n;
}

static void bytes_free(struct bytes *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

/* ---- tarballs through libarchive's writer ------------------------------------ */

enum comp { C_NONE, C_GZIP, C_BZIP2, C_XZ, C_ZSTD };

struct writer {
	struct archive *a;
	struct bytes out;
};

static la_ssize_t w_write(struct archive *a, void *arg, const void *buf, size_t n)
{
	bytes_add(&((struct writer *)arg)->out, buf, n);
	return (la_ssize_t)n;
}

static void w_open(struct writer *w, enum comp c, bool gnu)
{
	memset(w, 0, sizeof(*w));
	w->a = archive_write_new();
	if (gnu)
		archive_write_set_format_gnutar(w->a);
	else
		archive_write_set_format_pax_restricted(w->a);
	switch (c) {
	case C_GZIP:
		archive_write_add_filter_gzip(w->a);
		break;
	case C_BZIP2:
		archive_write_add_filter_bzip2(w->a);
		break;
	case C_XZ:
		archive_write_add_filter_xz(w->a);
		break;
	case C_ZSTD:
		archive_write_add_filter_zstd(w->a);
		break;
	case C_NONE:
		break;
	}
	archive_write_set_bytes_in_last_block(w->a, 1);
	if (archive_write_open(w->a, w, NULL, w_write, NULL) != ARCHIVE_OK)
		diag("archive_write_open: %s", archive_error_string(w->a));
}

static void w_entry(struct writer *w, const char *path, mode_t type, unsigned mode,
	const char *data, const char *link)
{
	struct archive_entry *e = archive_entry_new();
	size_t n = data ? strlen(data) : 0;

	archive_entry_set_pathname(e, path);
	if (type == 0) {
		archive_entry_set_filetype(e, AE_IFREG);
		archive_entry_set_hardlink(e, link);
	} else {
		archive_entry_set_filetype(e, type);
		if (type == AE_IFLNK)
			archive_entry_set_symlink(e, link);
	}
	archive_entry_set_perm(e, mode);
	archive_entry_set_size(e, type == AE_IFREG ? (la_int64_t)n : 0);
	archive_entry_set_mtime(e, 0, 0);
	archive_write_header(w->a, e);
	if (n && type == AE_IFREG)
		archive_write_data(w->a, data, n);
	archive_entry_free(e);
}

#define W_FILE(w, p, m, d) w_entry(w, p, AE_IFREG, m, d, NULL)
#define W_DIR(w, p) w_entry(w, p, AE_IFDIR, 0755, NULL, NULL)
#define W_LINK(w, p, t) w_entry(w, p, AE_IFLNK, 0777, NULL, t)
#define W_HARD(w, p, m, t) w_entry(w, p, 0, m, NULL, t)

static void w_close(struct writer *w)
{
	archive_write_close(w->a);
	archive_write_free(w->a);
}

/* ---- hostile tarballs, block by block ----------------------------------------- */

enum { RAW_BADSUM = 1, RAW_SIGNEDSUM = 2, RAW_BADVERSION = 4 };

static void raw_hdr_full(struct bytes *t, const char *name, const char *prefix, char type,
	const char *mode, uint64_t size, const char *link, unsigned flags)
{
	unsigned char h[512];
	unsigned sum = 0;
	int ssum = 0;
	size_t i;

	memset(h, 0, sizeof(h));
	memcpy(h, name, strlen(name) > 100 ? 100 : strlen(name));
	snprintf((char *)h + 100, 8, "%s", mode);
	memcpy(h + 108, "0000000", 8);
	memcpy(h + 116, "0000000", 8);
	snprintf((char *)h + 124, 12, "%011llo", (unsigned long long)size);
	memcpy(h + 136, "00000000000", 12);
	h[156] = (unsigned char)type;
	if (link)
		memcpy(h + 157, link, strlen(link) > 100 ? 100 : strlen(link));
	memcpy(h + 257, "ustar", 6);
	memcpy(h + 263, flags & RAW_BADVERSION ? "x1" : "00", 2);
	if (prefix)
		memcpy(h + 345, prefix, strlen(prefix));
	memset(h + 148, ' ', 8);
	for (i = 0; i < 512; i++) {
		sum += h[i];
		ssum += (signed char)h[i];
	}
	if (flags & RAW_BADSUM)
		sum += 1;
	if (flags & RAW_SIGNEDSUM)
		sum = (unsigned)ssum;
	snprintf((char *)h + 148, 8, "%06o", sum & 0777777);
	h[155] = ' ';
	bytes_add(t, h, 512);
}

static void raw_hdr(struct bytes *t, const char *name, char type, uint64_t size, const char *link)
{
	raw_hdr_full(t, name, NULL, type, type == '5' ? "0000755" : "0000644", size, link, 0);
}

static void raw_data(struct bytes *t, const void *d, size_t n)
{
	static const unsigned char zero[512];

	bytes_add(t, d, n);
	if (n % 512)
		bytes_add(t, zero, 512 - n % 512);
}

static void raw_file(struct bytes *t, const char *name, const char *data)
{
	raw_hdr(t, name, '0', strlen(data), NULL);
	raw_data(t, data, strlen(data));
}

/* A PAX 'x' header carrying one record key=value (value may hold NULs). */
static void raw_pax(struct bytes *t, const char *key, const void *val, size_t vlen)
{
	size_t n = strlen(key) + vlen + 3, len = n, d;
	char *rec = malloc(n + 64);

	for (d = 1;; d++) { /* the length counts its own digits */
		char tmp[32];

		len = n + (size_t)snprintf(tmp, sizeof(tmp), "%zu", n + d);
		if ((size_t)snprintf(tmp, sizeof(tmp), "%zu", len) == d)
			break;
	}
	snprintf(rec, n + 64, "%zu %s=", len, key);
	memcpy(rec + strlen(rec), val, vlen);
	rec[len - 1] = '\n';
	raw_hdr(t, "PaxHeader", 'x', len, NULL);
	raw_data(t, rec, len);
	free(rec);
}

static void raw_end(struct bytes *t)
{
	static const unsigned char zero[1024];

	bytes_add(t, zero, sizeof(zero));
}

/* ---- running fetch_unpack ------------------------------------------------------- */

struct run {
	int rc;
	char *msg;
	struct fetch_digests d;
	char dir[1100]; /* base/N/x */
	char top[1090]; /* base/N */
};

static int memfd_of(const struct bytes *b)
{
	int fd = memfd_create("tarball", MFD_CLOEXEC);

	if (fd < 0 || write(fd, b->p, b->len) != (ssize_t)b->len)
		abort();
	lseek(fd, 0, SEEK_SET);
	return fd;
}

static bool file_is(const char *path, const char *want)
{
	char got[4096];
	ssize_t n;
	int fd = open(path, O_RDONLY | O_NOFOLLOW);

	if (fd < 0)
		return false;
	n = read(fd, got, sizeof(got) - 1);
	close(fd);
	if (n < 0)
		return false;
	got[n] = '\0';
	return strcmp(got, want) == 0;
}

/* Only x and the canary in base/N, the canary intact, nothing at the outside path. */
static bool contained(const struct run *r)
{
	char p[4300];
	struct dirent *e;
	bool ok = true;
	DIR *d = opendir(r->top);

	if (!d)
		return false;
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") && strcmp(e->d_name, "x") &&
			strcmp(e->d_name, "canary")) {
			diag("unexpected '%s' in %s", e->d_name, r->top);
			ok = false;
		}
	closedir(d);
	snprintf(p, sizeof(p), "%s/canary", r->top);
	if (!file_is(p, "canary"))
		ok = false;
	if (access(outside, F_OK) == 0) {
		diag("'%s' was created", outside);
		ok = false;
	}
	return ok;
}

static void run(struct run *r, const struct bytes *b, bool extract)
{
	struct fetch_stream *s;
	char p[4300];
	int fd, dfd = -1;

	memset(r, 0, sizeof(*r));
	snprintf(r->top, sizeof(r->top), "%s/%d", base, ++runs);
	snprintf(r->dir, sizeof(r->dir), "%s/x", r->top);
	snprintf(p, sizeof(p), "%s/canary", r->top);
	if (mkdir(r->top, 0755) < 0 || mkdir(r->dir, 0755) < 0)
		abort();
	tu_write_file(p, "canary");
	if (extract)
		dfd = open(r->dir, O_RDONLY | O_DIRECTORY);
	fd = memfd_of(b);
	if (fetch_stream_open_fd(fd, "test.tar", NULL, &s) < 0)
		abort();
	r->rc = fetch_unpack(s, dfd, &r->d, &r->msg);
	fetch_stream_free(s);
	close(fd);
	if (dfd >= 0)
		close(dfd);
}

static void run_free(struct run *r)
{
	free(r->msg);
	r->msg = NULL;
}

/*
 * Unpack b; expect success with the tree hash want (NULL: any), and check
 * it against tree_hash_dir() and fetch_hash_tarball().
 */
static void expect_ok(const char *name, const struct bytes *b, const char *want, struct run *out)
{
	struct fetch_digests h;
	uint8_t disk[HASH_SHA1_LEN], sha[HASH_SHA256_LEN];
	char *err = NULL, *msg = NULL;
	struct run r;
	int fd, rc;

	run(&r, b, true);
	if (!ok(r.rc == 0, "%s: unpacks", name)) {
		diag("rc %d: %s", r.rc, r.msg ? r.msg : "");
		run_free(&r);
		return;
	}
	if (want)
		is_str(tu_hex(r.d.tree, HASH_SHA1_LEN), want, "%s: tree hash", name);
	rc = tree_hash_dir(r.dir, 0, disk, &err);
	ok(rc == 0 && memcmp(disk, r.d.tree, HASH_SHA1_LEN) == 0,
		"%s: tree_hash_dir of the result agrees", name);
	if (rc == 0 && memcmp(disk, r.d.tree, HASH_SHA1_LEN) != 0)
		diag("disk %s, stream %s", tu_hex(disk, HASH_SHA1_LEN),
			tu_hex(r.d.tree, HASH_SHA1_LEN));
	free(err);
	hash_buffer(HASH_SHA256, b->p, b->len, sha);
	ok(memcmp(sha, r.d.sha256, sizeof(sha)) == 0 && r.d.tarball_bytes == b->len,
		"%s: sha256 of the whole stream", name);
	fd = memfd_of(b);
	rc = fetch_hash_tarball(fd, NULL, &h, &msg);
	close(fd);
	ok(rc == 0 && memcmp(&h.tree, &r.d.tree, sizeof(h.tree)) == 0 &&
			memcmp(&h.tree_keep_empty, &r.d.tree_keep_empty, sizeof(h.tree)) == 0 &&
			memcmp(&h.sha256, &r.d.sha256, sizeof(h.sha256)) == 0 &&
			h.files == r.d.files && h.bytes == r.d.bytes,
		"%s: fetch_hash_tarball agrees without extracting", name);
	free(msg);
	ok(contained(&r), "%s: nothing outside the directory", name);
	if (out)
		*out = r;
	else
		run_free(&r);
}

/* Unpack b; expect failure rc with a message containing what; check containment. */
static void expect_fail(const char *name, const struct bytes *b, int rc, const char *what)
{
	struct run r;

	run(&r, b, true);
	is_int(r.rc, rc, "%s: fails with %s", name, strerror(-rc));
	diag("message: %s", r.msg ? r.msg : "(none)");
	if (what)
		ok(r.msg && strstr(r.msg, what), "%s: message says '%s'", name, what);
	ok(contained(&r), "%s: nothing written outside", name);
	run_free(&r);
	/* the same verdict without extraction: one code path */
	run(&r, b, false);
	is_int(r.rc, rc, "%s: same verdict when only hashing", name);
	run_free(&r);
}

static mode_t mode_of(const struct run *r, const char *rel)
{
	char p[4400];
	struct stat st;

	snprintf(p, sizeof(p), "%s/%s", r->dir, rel);
	if (lstat(p, &st) < 0)
		return (mode_t)-1;
	return st.st_mode;
}

static bool content_is(const struct run *r, const char *rel, const char *want)
{
	char p[4400];

	snprintf(p, sizeof(p), "%s/%s", r->dir, rel);
	return file_is(p, want);
}

static bool link_is(const struct run *r, const char *rel, const char *want)
{
	char p[4400], got[4096];
	ssize_t n;

	snprintf(p, sizeof(p), "%s/%s", r->dir, rel);
	n = readlink(p, got, sizeof(got) - 1);
	if (n < 0)
		return false;
	got[n] = '\0';
	return strcmp(got, want) == 0;
}

/* ---- the tests ------------------------------------------------------------------- */

static void test_vectors(void)
{
	struct writer w;
	struct run r;

	w_open(&w, C_GZIP, false);
	W_FILE(&w, "foo", 0644, HELLO);
	w_close(&w);
	expect_ok("foo", &w.out, FOO_TREE, &r);
	is_str(r.d.compression, "gzip", "foo: compression found by magic");
	ok(r.d.files == 1 && r.d.bytes == strlen(HELLO), "foo: files and bytes counted");
	run_free(&r);
	bytes_free(&w.out);

	w_open(&w, C_NONE, false);
	W_FILE(&w, "foo", 0755, HELLO);
	w_close(&w);
	expect_ok("foo 0755", &w.out, "12d608198abb00873cab63f54abbfa4b6176cdc6", NULL);
	bytes_free(&w.out);

	w_open(&w, C_NONE, false);
	W_FILE(&w, "foo", 0644, HELLO);
	W_DIR(&w, "e");
	w_close(&w);
	expect_ok("empty dir skipped", &w.out, FOO_TREE, &r);
	is_str(tu_hex(r.d.tree_keep_empty, HASH_SHA1_LEN),
		"b432e92555272d36383341668e0c9e63683a0877",
		"empty dir kept in the keep-empty variant");
	ok(S_ISDIR(mode_of(&r, "e")), "empty dir is still created on disk");
	run_free(&r);
	bytes_free(&w.out);

	w_open(&w, C_NONE, false);
	W_DIR(&w, "a");
	W_FILE(&w, "a/f", 0644, "x");
	W_FILE(&w, "a.b", 0644, "y");
	W_FILE(&w, "a0", 0644, "z");
	w_close(&w);
	expect_ok("git entry order", &w.out, "cb21d9b7679a994c828816ff5cdeb6aac3987555", NULL);
	bytes_free(&w.out);

	w_open(&w, C_NONE, false);
	W_FILE(&w, "5.28.1/f", 0644, "x");
	W_LINK(&w, "5.28", "5.28.1");
	w_close(&w);
	expect_ok(
		"symlink to a directory", &w.out, "c3e1c4267db6382c4a50369511d9caddb76ca29d", NULL);
	bytes_free(&w.out);

	w_open(&w, C_NONE, false);
	W_LINK(&w, "link", "sch\xc3\xb6n");
	w_close(&w);
	expect_ok("non-ASCII symlink", &w.out, "289b9713bf8902fbd0688b0ca5584ec4cf08fdc9", &r);
	is_str(tu_hex(r.d.tree_legacy, HASH_SHA1_LEN), "23b444ffcdb0f0581971360378088dbaf47c011e",
		"non-ASCII symlink: Pkg's legacy variant");
	run_free(&r);
	bytes_free(&w.out);

	w_open(&w, C_NONE, false);
	w_close(&w);
	expect_ok("empty tarball", &w.out, EMPTY_TREE, NULL);
	bytes_free(&w.out);
}

static void test_compressions(void)
{
	static const struct {
		enum comp c;
		const char *name;
	} cs[] = {
		{C_NONE, "none"},
		{C_GZIP, "gzip"},
		{C_BZIP2, "bzip2"},
		{C_XZ, "xz"},
		{C_ZSTD, "zstd"},
	};
	struct writer w;
	struct run r;
	char name[64];
	size_t i;

	for (i = 0; i < sizeof(cs) / sizeof(cs[0]); i++) {
		w_open(&w, cs[i].c, false);
		W_DIR(&w, "bin");
		W_FILE(&w, "bin/socrates", 0755, "#!/bin/sh\necho 'Hello, world!'\n");
		W_FILE(&w, "share/doc.txt", 0644, "docs");
		W_LINK(&w, "bin/link", "socrates");
		w_close(&w);
		snprintf(name, sizeof(name), "%s by magic", cs[i].name);
		expect_ok(name, &w.out, NULL, &r);
		is_str(r.d.compression, cs[i].name, "%s: detected as %s", name, cs[i].name);
		ok(r.d.files == 3, "%s: 3 files", name);
		run_free(&r);
		bytes_free(&w.out);
	}
}

static void test_formats(void)
{
	char longname[300], longlink[300];
	struct bytes t = {0};
	struct writer w;
	struct run r;

	memset(longname, 'n', sizeof(longname));
	memcpy(longname, "deep/", 5);
	longname[250] = '\0';
	memset(longlink, 'l', sizeof(longlink));
	longlink[200] = '\0';

	/* PAX path and linkpath records */
	w_open(&w, C_XZ, false);
	W_FILE(&w, longname, 0644, "long");
	W_LINK(&w, "ln", longlink);
	w_close(&w);
	expect_ok("pax long names", &w.out, NULL, &r);
	ok(content_is(&r, longname, "long"), "pax long name extracted");
	ok(link_is(&r, "ln", longlink), "pax long link target kept");
	run_free(&r);
	bytes_free(&w.out);

	/* GNU ././@LongLink */
	w_open(&w, C_NONE, true);
	W_FILE(&w, longname, 0644, "gnu");
	W_LINK(&w, "ln", longlink);
	w_close(&w);
	expect_ok("gnu long names", &w.out, NULL, &r);
	ok(content_is(&r, longname, "gnu"), "gnu long name extracted");
	ok(link_is(&r, "ln", longlink), "gnu long link target kept");
	run_free(&r);
	bytes_free(&w.out);

	/* ustar prefix field; no trailing zero blocks (Tar.jl's create) */
	raw_hdr_full(&t, "file", "some/prefix", '0', "0000644", 2, NULL, 0);
	raw_data(&t, "hi", 2);
	expect_ok("ustar prefix, no end blocks", &t, NULL, &r);
	ok(content_is(&r, "some/prefix/file", "hi"), "prefix joined with name");
	run_free(&r);
	bytes_free(&t);

	/* data after the end-of-archive blocks is ignored, but hashed */
	raw_file(&t, "a", "a");
	raw_end(&t);
	raw_file(&t, "b", "b");
	expect_ok("data after the end", &t, NULL, &r);
	ok(access(r.dir, F_OK) == 0 && mode_of(&r, "b") == (mode_t)-1,
		"entries after the end ignored");
	run_free(&r);
	bytes_free(&t);

	/* GNU version field " \0", typeflag NUL for a file */
	raw_hdr_full(&t, "old", NULL, '\0', "644", 1, NULL, 0);
	raw_data(&t, "o", 1);
	raw_end(&t);
	expect_ok("typeflag NUL, short mode", &t, NULL, &r);
	ok(content_is(&r, "old", "o"), "old-style file extracted");
	run_free(&r);
	bytes_free(&t);

	/* "./" root entries and "./" prefixes */
	raw_hdr(&t, "./", '5', 0, NULL);
	raw_file(&t, "./x//y", "y");
	raw_end(&t);
	expect_ok("./ prefixes", &t, NULL, &r);
	ok(content_is(&r, "x/y", "y"), "./x//y normalised to x/y");
	run_free(&r);
	bytes_free(&t);
}

static void test_modes(void)
{
	struct writer w;
	struct run r;
	mode_t old = umask(077);

	w_open(&w, C_NONE, false);
	W_FILE(&w, "suid", 04755, "s");
	W_FILE(&w, "sgid", 02644, "g");
	W_FILE(&w, "sticky", 01600, "t");
	W_FILE(&w, "owner-x", 0700, "x");
	W_FILE(&w, "group-x", 0654, "n");
	W_FILE(&w, "none", 0000, "0");
	w_entry(&w, "d", AE_IFDIR, 0700, NULL, NULL);
	W_FILE(&w, "d/f", 0644, "f");
	w_close(&w);
	expect_ok("modes", &w.out, NULL, &r);
	is_int(mode_of(&r, "suid") & 07777, 0755, "setuid dropped, 0755");
	is_int(mode_of(&r, "sgid") & 07777, 0644, "setgid dropped, 0644");
	is_int(mode_of(&r, "sticky") & 07777, 0644, "sticky dropped, 0644");
	is_int(mode_of(&r, "owner-x") & 07777, 0755, "0700 becomes 0755");
	is_int(mode_of(&r, "group-x") & 07777, 0644, "only owner-x counts: 0654 becomes 0644");
	is_int(mode_of(&r, "none") & 07777, 0644, "0000 becomes 0644");
	is_int(mode_of(&r, "d") & 07777, 0755, "directories 0755 whatever the umask");
	run_free(&r);
	bytes_free(&w.out);
	umask(old);
}

static void test_links(void)
{
	struct writer w;
	struct run r;
	struct stat a, b;
	char p[4400];

	w_open(&w, C_NONE, false);
	W_LINK(&w, "up", "../../../../etc/passwd");
	W_LINK(&w, "abs", "/etc/passwd");
	W_LINK(&w, "dot", "./x/");
	W_LINK(&w, "dangling", "nowhere");
	w_close(&w);
	expect_ok("symlink targets", &w.out, NULL, &r);
	ok(link_is(&r, "up", "../../../../etc/passwd"), "relative escape target kept verbatim");
	ok(link_is(&r, "abs", "/etc/passwd"), "absolute target kept verbatim");
	ok(link_is(&r, "dot", "./x/"), "./x/ kept verbatim");
	ok(link_is(&r, "dangling", "nowhere"), "dangling target kept");
	run_free(&r);
	bytes_free(&w.out);

	w_open(&w, C_GZIP, false);
	W_FILE(&w, "f", 0644, "data");
	W_HARD(&w, "h", 0755, "f");
	W_HARD(&w, "sub/h2", 0644, "./f");
	w_close(&w);
	expect_ok("hardlinks", &w.out, NULL, &r);
	ok(content_is(&r, "h", "data") && content_is(&r, "sub/h2", "data"),
		"hardlink copies hold the data");
	snprintf(p, sizeof(p), "%s/f", r.dir);
	lstat(p, &a);
	snprintf(p, sizeof(p), "%s/h", r.dir);
	lstat(p, &b);
	ok(a.st_ino != b.st_ino && b.st_nlink == 1, "hardlink extracted as a copy");
	is_int(b.st_mode & 07777, 0755, "hardlink mode from its own header");
	ok(r.d.files == 3 && r.d.bytes == 12, "hardlink copies counted");
	run_free(&r);
	bytes_free(&w.out);

	/* a hardlink to itself keeps the file and applies the mode */
	w_open(&w, C_NONE, false);
	W_FILE(&w, "self", 0644, "me");
	W_HARD(&w, "self", 0755, "self");
	w_close(&w);
	expect_ok("hardlink to itself", &w.out, NULL, &r);
	ok(content_is(&r, "self", "me") && (mode_of(&r, "self") & 0777) == 0755,
		"self hardlink: data kept, mode applied");
	run_free(&r);
	bytes_free(&w.out);
}

static void test_duplicates(void)
{
	struct bytes t = {0};
	struct run r;
	char deep[4096];
	size_t i;

	raw_file(&t, "a", "one");
	raw_file(&t, "a", "two");
	raw_file(&t, "d/x", "x");
	raw_file(&t, "d", "now a file");
	raw_hdr(&t, "e/", '5', 0, NULL);
	raw_file(&t, "e/kept", "kept");
	raw_hdr(&t, "e", '5', 0, NULL); /* a directory over a directory */
	raw_hdr(&t, "l", '2', 0, "target");
	raw_file(&t, "l", "file over symlink");
	raw_file(&t, "s", "symlink over file");
	raw_hdr(&t, "s", '2', 0, "a");
	raw_file(&t, "p", "file, then a path through it");
	raw_file(&t, "p/q", "q");
	raw_end(&t);
	expect_ok("duplicates", &t, NULL, &r);
	ok(content_is(&r, "a", "two"), "a later file replaces an earlier one");
	ok(content_is(&r, "d", "now a file"), "a file replaces a directory and its contents");
	ok(content_is(&r, "e/kept", "kept"),
		"a directory entry over a directory keeps its contents");
	ok(S_ISREG(mode_of(&r, "l")) && content_is(&r, "l", "file over symlink"),
		"a file replaces a symlink (not written through it)");
	ok(link_is(&r, "s", "a"), "a symlink replaces a file");
	ok(content_is(&r, "p/q", "q"), "a file in the way of a path becomes a directory");
	run_free(&r);
	bytes_free(&t);

	/* a deep tree replaced by a file: removal must not run out of fds */
	deep[0] = '\0';
	for (i = 0; i < 600; i++)
		strcat(deep, "a/");
	strcat(deep, "f");
	raw_pax(&t, "path", deep, strlen(deep));
	raw_hdr(&t, "placeholder", '0', 1, NULL);
	raw_data(&t, "f", 1);
	raw_file(&t, "a", "flat");
	raw_end(&t);
	expect_ok("deep tree replaced", &t, NULL, &r);
	ok(content_is(&r, "a", "flat"), "600-level tree removed and replaced");
	run_free(&r);
	bytes_free(&t);

	/* after a replaced parent, a new file at the old path is fresh */
	raw_file(&t, "z/old", "old");
	raw_file(&t, "z", "file");
	raw_file(&t, "z/new", "new");
	raw_end(&t);
	expect_ok("replaced parent recreated", &t, NULL, &r);
	ok(content_is(&r, "z/new", "new") && mode_of(&r, "z/old") == (mode_t)-1,
		"old contents gone, new contents there");
	run_free(&r);
	bytes_free(&t);

	/*
	 * A replaced directory goes through the store's store_rmtree() (".."
	 * checked on the way up): a fault armed in the store's syscall table
	 * reaches the removal and fails the unpack.
	 */
	raw_file(&t, "y/old", "old");
	raw_file(&t, "y", "file");
	raw_end(&t);
	store_fault_set("unlinkat", 1, EIO);
	run(&r, &t, true);
	store_fault_clear();
	is_int(r.rc, -EIO, "a replaced directory is removed by store_rmtree()");
	run_free(&r);
	bytes_free(&t);
}

static void test_rejections(void)
{
	struct bytes t = {0};
	char abs_evil[4200], pax_nul[] = "a\0b";

	/* absolute path: outside is an absolute path beside base */
	snprintf(abs_evil, sizeof(abs_evil), "%s", outside);
	raw_file(&t, abs_evil, "evil");
	raw_end(&t);
	expect_fail("absolute path", &t, -EPERM, "path is absolute");
	bytes_free(&t);

	raw_file(&t, "../canary", "evil");
	raw_end(&t);
	expect_fail("../ path", &t, -EPERM, "'..' component");
	bytes_free(&t);

	raw_file(&t, "a/../../canary", "evil");
	raw_end(&t);
	expect_fail("a/../.. path", &t, -EPERM, "'..' component");
	bytes_free(&t);

	raw_hdr(&t, "l", '2', 0, "..");
	raw_file(&t, "l/canary", "evil");
	raw_end(&t);
	expect_fail("path through a symlink to ..", &t, -EPERM, "symlink");
	bytes_free(&t);

	raw_hdr(&t, "l", '2', 0, base);
	raw_file(&t, "l/outside-evil", "evil");
	raw_end(&t);
	expect_fail("directory through an absolute symlink", &t, -EPERM, "symlink");
	bytes_free(&t);

	/* a symlink that was replaced still blocks paths through it (Tar.jl) */
	raw_hdr(&t, "d/l", '2', 0, "..");
	raw_file(&t, "d", "file");
	raw_hdr(&t, "d", '5', 0, NULL);
	raw_file(&t, "d/l/x", "x");
	raw_end(&t);
	expect_fail("path through a replaced symlink", &t, -EPERM, "symlink");
	bytes_free(&t);

	raw_hdr(&t, "h", '1', 0, "nothing");
	raw_end(&t);
	expect_fail("hardlink to a missing file", &t, -EPERM, "hardlink");
	bytes_free(&t);

	raw_hdr(&t, "dir/", '5', 0, NULL);
	raw_hdr(&t, "h", '1', 0, "dir");
	raw_end(&t);
	expect_fail("hardlink to a directory", &t, -EPERM, "directory");
	bytes_free(&t);

	raw_hdr(&t, "s", '2', 0, "x");
	raw_hdr(&t, "h", '1', 0, "s");
	raw_end(&t);
	expect_fail("hardlink to a symlink", &t, -EPERM, "symlink");
	bytes_free(&t);

	raw_file(&t, "f", "f");
	raw_hdr(&t, "h1", '1', 0, "f");
	raw_hdr(&t, "h2", '1', 0, "h1");
	raw_end(&t);
	expect_fail("hardlink to a hardlink", &t, -EPERM, "hardlink");
	bytes_free(&t);

	raw_file(&t, "f/x", "x");
	raw_file(&t, "f", "now a file, so f/x is gone");
	raw_hdr(&t, "h", '1', 0, "f/x");
	raw_end(&t);
	expect_fail("hardlink to a replaced file", &t, -EPERM, "hardlink");
	bytes_free(&t);

	raw_file(&t, "passwd", "x");
	raw_hdr(&t, "h", '1', 0, "/passwd");
	raw_end(&t);
	expect_fail("hardlink with an absolute target", &t, -EPERM, "absolute");
	bytes_free(&t);

	raw_hdr(&t, "h", '1', 0, "../canary");
	raw_end(&t);
	expect_fail("hardlink with a .. target", &t, -EPERM, "'..'");
	bytes_free(&t);

	raw_hdr(&t, "c", '3', 0, NULL);
	raw_end(&t);
	expect_fail("character device", &t, -EPERM, "character device");
	bytes_free(&t);

	raw_hdr(&t, "b", '4', 0, NULL);
	raw_end(&t);
	expect_fail("block device", &t, -EPERM, "block device");
	bytes_free(&t);

	raw_hdr(&t, "p", '6', 0, NULL);
	raw_end(&t);
	expect_fail("fifo", &t, -EPERM, "fifo");
	bytes_free(&t);

	raw_hdr(&t, "z", 'Z', 0, NULL);
	raw_end(&t);
	expect_fail("unknown type", &t, -EPERM, "unsupported entry type");
	bytes_free(&t);

	raw_hdr(&t, "c", '7', 0, NULL);
	raw_end(&t);
	expect_fail("contiguous file type", &t, -EPERM, "unsupported entry type");
	bytes_free(&t);

	raw_pax(&t, "path", pax_nul, 3);
	raw_file(&t, "placeholder", "x");
	raw_end(&t);
	expect_fail("NUL in a name", &t, -EPERM, "NUL");
	bytes_free(&t);

	raw_file(&t, "file/", "x");
	raw_end(&t);
	expect_fail("file path ending in /", &t, -EPERM, "ending with '/'");
	bytes_free(&t);

	raw_file(&t, "a/.", "x");
	raw_end(&t);
	expect_fail("file path ending in /.", &t, -EPERM, "'.' component");
	bytes_free(&t);

	raw_hdr(&t, "l", '2', 5, "x");
	raw_data(&t, "12345", 5);
	raw_end(&t);
	expect_fail("symlink with data", &t, -EPERM, "symlink with non-zero size");
	bytes_free(&t);

	raw_file(&t, "f", "f");
	raw_hdr(&t, "h", '1', 1, "f");
	raw_data(&t, "x", 1);
	raw_end(&t);
	expect_fail("hardlink with data", &t, -EPERM, "hardlink with non-zero size");
	bytes_free(&t);

	raw_hdr(&t, "d", '5', 3, NULL);
	raw_data(&t, "abc", 3);
	raw_end(&t);
	expect_fail("directory with data", &t, -EPERM, "directory with non-zero size");
	bytes_free(&t);

	raw_hdr(&t, "f", '0', 0, "link");
	raw_end(&t);
	expect_fail("file with a link path", &t, -EPERM, "non-link with link path");
	bytes_free(&t);

	raw_hdr(&t, "s", '2', 0, NULL);
	raw_end(&t);
	expect_fail("symlink without target", &t, -EPERM, "empty link path");
	bytes_free(&t);

	raw_hdr(&t, "", '0', 0, NULL);
	raw_end(&t);
	expect_fail("empty path", &t, -EPERM, "path is empty");
	bytes_free(&t);
}

static void test_malformed(void)
{
	struct bytes t = {0};
	struct writer w;
	static const char garbage[] = "<html><body>Not Found</body></html>\n";

	raw_hdr_full(&t, "f", NULL, '0', "0000644", 0, NULL, RAW_BADSUM);
	raw_end(&t);
	expect_fail("bad checksum", &t, -EILSEQ, "checksum");
	bytes_free(&t);

	raw_hdr_full(&t, "\xe9t\xe9", NULL, '0', "0000644", 0, NULL, RAW_SIGNEDSUM);
	raw_end(&t);
	expect_fail("signed checksum", &t, -EILSEQ, "checksum");
	bytes_free(&t);

	raw_hdr_full(&t, "f", NULL, '0', "0000644", 0, NULL, RAW_BADVERSION);
	raw_end(&t);
	expect_fail("bad version field", &t, -EILSEQ, "version");
	bytes_free(&t);

	raw_hdr_full(&t, "f", NULL, '0', "7777777", 0, NULL, 0);
	raw_end(&t);
	expect_fail("mode over 16 bits", &t, -EILSEQ, "mode");
	bytes_free(&t);

	raw_hdr(&t, "f", '0', 1000, NULL);
	bytes_add(&t, "short", 5);
	expect_fail("truncated data", &t, -EILSEQ, "premature end");
	bytes_free(&t);

	raw_pax(&t, "path", "x", 1);
	raw_end(&t);
	expect_fail("extension header without an entry", &t, -EILSEQ, "premature end");
	bytes_free(&t);

	bytes_add(&t, garbage, sizeof(garbage) - 1);
	expect_fail("an HTML page", &t, -EILSEQ, "does not appear to be a tarball");
	bytes_free(&t);

	bytes_add(&t, "\x04\x22\x4d\x18", 4);
	for (int i = 0; i < 600; i++)
		bytes_add(&t, "\x55", 1);
	expect_fail("lz4", &t, -ENOTSUP, "lz4");
	bytes_free(&t);

	/* a truncated gzip stream: libarchive says so */
	w_open(&w, C_GZIP, false);
	W_FILE(&w, "foo", 0644, HELLO);
	W_FILE(&w, "bar", 0644, "more data to make the stream longer");
	w_close(&w);
	w.out.len /= 2;
	expect_fail("truncated gzip", &w.out, -EILSEQ, NULL);
	bytes_free(&w.out);
}

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

/* Unpack b within lim into a fresh directory; *du gets the bytes of files in it. */
static int run_lim(const struct bytes *b, const struct fetch_unpack_limits *lim, bool max_only,
	uint64_t *du, char **msg)
{
	struct fetch_digests d;
	struct fetch_stream *s;
	char top[1100], cmd[2400];
	int fd, dfd, rc;
	FILE *f;
	unsigned long long k = 0;

	snprintf(top, sizeof(top), "%s/%d", base, ++runs);
	if (mkdir(top, 0755) < 0)
		abort();
	dfd = open(top, O_RDONLY | O_DIRECTORY);
	fd = memfd_of(b);
	if (fetch_stream_open_fd(fd, "limits.tar", NULL, &s) < 0)
		abort();
	if (max_only)
		rc = fetch_unpack_max(s, dfd, lim->max_bytes, &d, msg);
	else
		rc = fetch_unpack_ex(s, dfd, lim, &d, msg);
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
	char *msg = NULL;
	int i, rc;

	raw_zeros(&t, "big", 1u << 20);
	for (i = 0; i < 100; i++) {
		snprintf(name, sizeof(name), "link%d", i);
		raw_hdr(&t, name, '1', 0, "big");
	}
	raw_end(&t);
	rc = run_lim(&t, &lim, true, &du, &msg);
	is_int(rc, -EFBIG, "hardlink bomb over max_bytes: -EFBIG");
	diag("message: %s; %llu bytes on disk", msg ? msg : "(none)", (unsigned long long)du);
	ok(du <= lim.max_bytes + 65536, "hardlink bomb: at most max_bytes written (%llu)",
		(unsigned long long)du);
	free(msg);
	msg = NULL;

	lim = (struct fetch_unpack_limits){.max_unpacked = 10u << 20};
	rc = run_lim(&t, &lim, false, &du, &msg);
	is_int(rc, -E2BIG, "hardlink bomb over max_unpacked: -E2BIG");
	ok(msg && strstr(msg, "max_unpacked"), "hardlink bomb: the message names max_unpacked");
	ok(du <= lim.max_unpacked + 65536, "hardlink bomb: at most max_unpacked written (%llu)",
		(unsigned long long)du);
	free(msg);
	msg = NULL;

	lim = (struct fetch_unpack_limits){.max_unpacked = 200u << 20};
	rc = run_lim(&t, &lim, false, &du, &msg);
	is_int(rc, 0, "hardlink bomb under max_unpacked: unpacks");
	free(msg);
	msg = NULL;

	/* no limit configured: the ratio guard counts the copies too */
	gzip_of(&t, &gz);
	lim = (struct fetch_unpack_limits){0};
	rc = run_lim(&gz, &lim, false, &du, &msg);
	is_int(rc, -E2BIG, "gzip'd hardlink bomb, default limits: -E2BIG");
	ok(du <= FETCH_UNPACK_RATIO_FLOOR + (2u << 20),
		"gzip'd hardlink bomb: stopped near the floor (%llu)", (unsigned long long)du);
	free(msg);
	bytes_free(&gz);
	bytes_free(&t);
}

/* Bug 11: the ratio guard stops a gzip bomb without any configured limit. */
static void test_gzip_bomb(void)
{
	struct fetch_unpack_limits lim = {0};
	struct bytes t = {0}, gz;
	uint64_t du;
	char *msg = NULL;
	int rc;

	raw_zeros(&t, "zeros", 256u << 20);
	raw_end(&t);
	gzip_of(&t, &gz);
	bytes_free(&t);
	diag("gzip bomb: %zu bytes unpacking to 256 MiB", gz.len);
	rc = run_lim(&gz, &lim, false, &du, &msg);
	is_int(rc, -E2BIG, "gzip bomb, default limits: -E2BIG");
	ok(msg && strstr(msg, "decompression bomb"), "gzip bomb: the message says why");
	diag("message: %s; %llu bytes on disk", msg ? msg : "(none)", (unsigned long long)du);
	ok(du <= FETCH_UNPACK_RATIO_FLOOR + (4u << 20), "gzip bomb: stopped near the floor (%llu)",
		(unsigned long long)du);
	free(msg);
	msg = NULL;

	lim.max_unpacked = 1ull << 30; /* an explicit ceiling replaces the ratio guard */
	rc = run_lim(&gz, &lim, false, &du, &msg);
	is_int(rc, 0, "gzip bomb under an explicit max_unpacked: unpacks");
	free(msg);
	bytes_free(&gz);
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
	ok(kib >= 0 && kib < 32 * 1024, "200,000 components: peak memory growth %ld KiB < 32 MiB",
		kib);
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
	ok(kib >= 0 && kib < 400 * 1024, "16,000 deep paths: peak memory growth %ld KiB < 400 MiB",
		kib);
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
	snprintf(p, sizeof(p), "%s/trailer.tar", base);
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
	if (tu_mkdtemp(base, sizeof(base), "test-unpack") < 0)
		return 1;
	snprintf(outside, sizeof(outside), "%s/outside-evil", base);
	if (fetch_global_init() < 0)
		return 1;

	test_vectors();
	test_compressions();
	test_formats();
	test_modes();
	test_links();
	test_duplicates();
	test_rejections();
	test_malformed();
	test_deep_paths();
	test_hardlink_bomb();
	test_gzip_bomb();
	test_empty_gzip();
	test_stop_at_end();

	if (!tap_failed)
		tu_rmtree(base);
	else
		diag("kept %s", base);
	fetch_global_cleanup();
	return tap_done();
}
