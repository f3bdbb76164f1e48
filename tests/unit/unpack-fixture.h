/*
 * unpack-fixture.h - what test-unpack and test-unpack-limits share
 *
 * Tarballs are built in memory, either with libarchive's writer (the
 * ordinary ones, in every compression) or block by block (the hostile ones
 * libarchive will not write).  Each goes through fetch_unpack() into a
 * fresh directory uf_base/N/x beside a canary file uf_base/N/canary; after
 * every run the test checks that nothing but x and the canary exists in
 * uf_base/N, and after a success that tree_hash_dir() of x equals the
 * streamed tree hash and fetch_hash_tarball() gives the same digests.
 * The helpers abort() when out of memory.  Not thread safe.  Header only,
 * static: the checks print TAP through tests/tap.h, whose counters are
 * static to the one test program that includes both.
 */
#ifndef ARTIFACTFS_TESTS_UNPACK_FIXTURE_H
#define ARTIFACTFS_TESTS_UNPACK_FIXTURE_H

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
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#define EMPTY_TREE "4b825dc642cb6eb9a060e54bf8d69288fbee4904"
#define HELLO "Hello, world!"
#define FOO_TREE "339aad93c0f854604248ea3b7c5b7edea20625a9"

static char uf_base[1024];
static char uf_outside[2048]; /* an absolute path hostile entries aim at */
static int uf_runs;

struct bytes {
	unsigned char *p;
	size_t len, cap;
};

enum comp { C_NONE, C_GZIP, C_BZIP2, C_XZ, C_ZSTD };

struct writer {
	struct archive *a;
	struct bytes out;
};

#define W_FILE(w, p, m, d) w_entry(w, p, AE_IFREG, m, d, NULL)
#define W_DIR(w, p) w_entry(w, p, AE_IFDIR, 0755, NULL, NULL)
#define W_LINK(w, p, t) w_entry(w, p, AE_IFLNK, 0777, NULL, t)
#define W_HARD(w, p, m, t) w_entry(w, p, 0, m, NULL, t)

enum { RAW_BADSUM = 1, RAW_SIGNEDSUM = 2, RAW_BADVERSION = 4 };

struct run {
	int rc;
	char *msg;
	struct fetch_digests d;
	char dir[1100]; /* uf_base/N/x */
	char top[1090]; /* uf_base/N */
};

/* ---- a growable byte buffer ------------------------------------------------- */

static inline void bytes_add(struct bytes *b, const void *p, size_t n)
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

static inline void bytes_free(struct bytes *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

/* ---- tarballs through libarchive's writer ------------------------------------ */

static inline la_ssize_t w_write(struct archive *a, void *arg, const void *buf, size_t n)
{
	bytes_add(&((struct writer *)arg)->out, buf, n);
	return (la_ssize_t)n;
}

static inline void w_open(struct writer *w, enum comp c, bool gnu)
{
	/* libarchive's write filter of each enum comp (none for C_NONE) */
	static int (*const filters[])(struct archive *) = {
		[C_GZIP] = archive_write_add_filter_gzip,
		[C_BZIP2] = archive_write_add_filter_bzip2,
		[C_XZ] = archive_write_add_filter_xz,
		[C_ZSTD] = archive_write_add_filter_zstd,
	};

	memset(w, 0, sizeof(*w));
	w->a = archive_write_new();
	if (gnu)
		archive_write_set_format_gnutar(w->a);
	else
		archive_write_set_format_pax_restricted(w->a);
	if (filters[c])
		filters[c](w->a);
	archive_write_set_bytes_in_last_block(w->a, 1);
	if (archive_write_open(w->a, w, NULL, w_write, NULL) != ARCHIVE_OK)
		diag("archive_write_open: %s", archive_error_string(w->a));
}

static inline void w_entry(struct writer *w, const char *path, mode_t type, unsigned mode,
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

static inline void w_close(struct writer *w)
{
	archive_write_close(w->a);
	archive_write_free(w->a);
}

/* ---- hostile tarballs, block by block ----------------------------------------- */

static inline void raw_hdr_full(struct bytes *t, const char *name, const char *prefix,
	char type, const char *mode, uint64_t size, const char *link, unsigned flags)
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

static inline void raw_hdr(struct bytes *t, const char *name, char type, uint64_t size,
	const char *link)
{
	raw_hdr_full(t, name, NULL, type, type == '5' ? "0000755" : "0000644", size, link, 0);
}

static inline void raw_data(struct bytes *t, const void *d, size_t n)
{
	static const unsigned char zero[512];

	bytes_add(t, d, n);
	if (n % 512)
		bytes_add(t, zero, 512 - n % 512);
}

static inline void raw_file(struct bytes *t, const char *name, const char *data)
{
	raw_hdr(t, name, '0', strlen(data), NULL);
	raw_data(t, data, strlen(data));
}

/* A PAX 'x' header carrying one record key=value (value may hold NULs). */
static inline void raw_pax(struct bytes *t, const char *key, const void *val, size_t vlen)
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

static inline void raw_end(struct bytes *t)
{
	static const unsigned char zero[1024];

	bytes_add(t, zero, sizeof(zero));
}

/* ---- running fetch_unpack ------------------------------------------------------- */

static inline int memfd_of(const struct bytes *b)
{
	int fd = memfd_create("tarball", MFD_CLOEXEC);

	if (fd < 0 || write(fd, b->p, b->len) != (ssize_t)b->len)
		abort();
	lseek(fd, 0, SEEK_SET);
	return fd;
}

static inline bool file_is(const char *path, const char *want)
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

/* Only x and the canary in uf_base/N, the canary intact, nothing at the uf_outside path. */
static inline bool contained(const struct run *r)
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
	if (access(uf_outside, F_OK) == 0) {
		diag("'%s' was created", uf_outside);
		ok = false;
	}
	return ok;
}

static inline void run(struct run *r, const struct bytes *b, bool extract)
{
	struct fetch_stream *s;
	char p[4300];
	int fd, dfd = -1;

	memset(r, 0, sizeof(*r));
	snprintf(r->top, sizeof(r->top), "%s/%d", uf_base, ++uf_runs);
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

static inline void run_free(struct run *r)
{
	free(r->msg);
	r->msg = NULL;
}

/*
 * Unpack b; expect success with the tree hash want (NULL: any), and check
 * it against tree_hash_dir() and fetch_hash_tarball().
 */
static inline void expect_ok(const char *name, const struct bytes *b, const char *want,
	struct run *out)
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
static inline void expect_fail(const char *name, const struct bytes *b, int rc, const char *what)
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

static inline mode_t mode_of(const struct run *r, const char *rel)
{
	char p[4400];
	struct stat st;

	snprintf(p, sizeof(p), "%s/%s", r->dir, rel);
	if (lstat(p, &st) < 0)
		return (mode_t)-1;
	return st.st_mode;
}

static inline bool content_is(const struct run *r, const char *rel, const char *want)
{
	char p[4400];

	snprintf(p, sizeof(p), "%s/%s", r->dir, rel);
	return file_is(p, want);
}

static inline bool link_is(const struct run *r, const char *rel, const char *want)
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

/*
 * uf_main - the main of a test program: make uf_base ($TMPDIR/NAME.XXXXXX)
 * and uf_outside, fetch_global_init(), run each test of the NULL-ended
 * tests, then remove uf_base unless a test failed (then say it is kept).
 * Returns the exit status: tap_done()'s, or 1 when the set-up failed.
 */
static inline int uf_main(const char *name, void (*const *tests)(void))
{
	if (tu_mkdtemp(uf_base, sizeof(uf_base), name) < 0)
		return 1;
	snprintf(uf_outside, sizeof(uf_outside), "%s/outside-evil", uf_base);
	if (fetch_global_init() < 0)
		return 1;
	while (*tests)
		(*tests++)();
	if (!tap_failed)
		tu_rmtree(uf_base);
	else
		diag("kept %s", uf_base);
	fetch_global_cleanup();
	return tap_done();
}

#endif
