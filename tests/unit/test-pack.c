/*
 * test-pack.c - Tar.jl-canonical tarballs (tools/publish/pack.h)
 *
 * Known answers are built here from the field rules of
 * spec/julia-artifacts.md §2.5 and JuliaIO/Tar.jl src/create.jl
 * (write_standard_header: mode "%06o \0", uid/gid "000000 \0", size 11
 * octal digits and a space, mtime "00000000000 ", magic "ustar\0", version
 * "00", devmajor/minor "000000 \0", checksum "%06o\0 " over the block with
 * the checksum field as spaces), independently of tools/publish/pack_tar.c.  The
 * integration test t0600-pack.sh covers the CLI, GNU tar and fetch.
 */
#include "tools/publish/pack.h"
#include "fetch/fetch.h"
#include "store/hash.h"
#include "tests/tap.h"
#include "tests/unit/util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

static char tmpdir[4096];

/* ---- helpers -------------------------------------------------------------------- */

static char *tpath(const char *rel)
{
	static char buf[4][8192];
	static int i;

	i = (i + 1) % 4;
	snprintf(buf[i], sizeof(buf[i]), "%s/%s", tmpdir, rel);
	return buf[i];
}

static void mkfile(const char *rel, const char *data, mode_t mode)
{
	int fd = open(tpath(rel), O_WRONLY | O_CREAT | O_TRUNC, 0600);

	if (fd < 0 || write(fd, data, strlen(data)) != (ssize_t)strlen(data))
		abort();
	fchmod(fd, mode);
	close(fd);
}

static void mkdirs(const char *rel)
{
	if (mkdir(tpath(rel), 0755) < 0 && errno != EEXIST)
		abort();
}

/*
 * The spec's header, field by field: name, mode, size, type, link, prefix
 * as given; everything else fixed.  For size < 8^11 only.
 */
static void spec_header(uint8_t *h, const char *name, unsigned mode, unsigned long long size,
	char type, const char *link, const char *prefix)
{
	char f[32];
	unsigned sum = 0;
	int i;

	memset(h, 0, 512);
	memcpy(h, name, strlen(name));
	snprintf(f, sizeof(f), "%06o ", mode);
	memcpy(h + 100, f, 8);
	memcpy(h + 108,
		"000000 \0"
		"000000 \0",
		16);
	snprintf(f, sizeof(f), "%011llo ", size);
	memcpy(h + 124, f, 12);
	memcpy(h + 136, "00000000000 ", 12);
	memset(h + 148, ' ', 8);
	h[156] = (uint8_t)type;
	memcpy(h + 157, link, strlen(link));
	memcpy(h + 257,
		"ustar\0"
		"00",
		8);
	memcpy(h + 329,
		"000000 \0"
		"000000 \0",
		16);
	memcpy(h + 345, prefix, strlen(prefix));
	for (i = 0; i < 512; i++)
		sum += h[i];
	snprintf(f, sizeof(f), "%06o", sum);
	memcpy(h + 148, f, 6);
	h[154] = 0;
	h[155] = ' ';
}

static bool checksum_ok(const uint8_t *h)
{
	unsigned sum = 0, want = 0;
	int i;

	for (i = 0; i < 512; i++)
		sum += (i >= 148 && i < 156) ? ' ' : h[i];
	for (i = 148; i < 154; i++)
		want = want * 8 + (unsigned)(h[i] - '0');
	return sum == want && h[154] == 0 && h[155] == ' ';
}

/* ---- header formatting ------------------------------------------------------------- */

/* pack_foo_mode - chmod ka/foo to mode, pack ka/: foo's header must give want. */
static void pack_foo_mode(mode_t mode, unsigned want, struct pack_result *res, const char *name)
{
	uint8_t hdr[512], *got;
	size_t len;
	int r;

	chmod(tpath("ka/foo"), mode);
	r = pack_create(tpath("ka"), tpath("ka.tar"), NULL, res, NULL);
	got = (uint8_t *)tu_slurp(tpath("ka.tar"), &len);
	spec_header(hdr, "foo", want, 13, '0', "", "");
	ok(r == 0 && got && memcmp(got, hdr, 512) == 0, "%s", name);
	free(got);
}

static void test_known_answer(void)
{
	uint8_t want[1024], *got;
	struct pack_result res;
	char hex[41], *msg = NULL;
	size_t len = 0;
	int r;

	mkdirs("ka");
	mkfile("ka/foo", "Hello, world!", 0644);
	spec_header(want, "foo", 0644, 13, '0', "", "");
	memset(want + 512, 0, 512);
	memcpy(want + 512, "Hello, world!", 13);

	r = pack_create(tpath("ka"), tpath("ka.tar"), NULL, &res, &msg);
	is_int(r, 0, "pack foo = \"Hello, world!\" as .tar");
	got = (uint8_t *)tu_slurp(tpath("ka.tar"), &len);
	is_int(len, 1024, "one header, one data block, no end blocks");
	ok(got && len == 1024 && memcmp(got, want, 1024) == 0,
		"bytes equal the Tar.jl-formatted expectation");
	if (got && len == 1024)
		for (size_t i = 0; i < 1024; i++)
			if (got[i] != want[i]) {
				diag("first difference at byte %zu: %02x != %02x", i, got[i],
					want[i]);
				break;
			}
	hash_to_hex(res.tree, HASH_SHA1_LEN, hex);
	is_str(hex, "339aad93c0f854604248ea3b7c5b7edea20625a9", "tree hash (Pkg test vector)");
	is_int(res.size, 1024, "size = file size");
	is_int(res.tar_bytes, 1024, "tar bytes");
	is_int(res.compress, PACK_COMPRESS_NONE, ".tar means no compression");
	{
		uint8_t sha[HASH_SHA256_LEN];

		hash_buffer(HASH_SHA256, want, 1024, sha);
		ok(memcmp(sha, res.sha256, sizeof(sha)) == 0, "sha256 of the output");
	}
	free(got);
	free(msg);

	/* 0755 file: mode field "000755 \0" and the 0755 test vector */
	pack_foo_mode(0755, 0755, &res, "owner-x file gets mode 0755");
	hash_to_hex(res.tree, HASH_SHA1_LEN, hex);
	is_str(hex, "12d608198abb00873cab63f54abbfa4b6176cdc6", "tree hash of the 0755 vector");
	/* group/other x only: Tar.jl looks at 0o100 only */
	pack_foo_mode(0611, 0644, &res, "0611 file is 0644 (owner-x rule)");
}

static void test_empty_root(void)
{
	uint8_t want[512], *got;
	struct pack_result res;
	char hex[41];
	size_t len = 0;
	int r;

	mkdirs("empty");
	r = pack_create(tpath("empty"), tpath("empty.tar"), NULL, &res, NULL);
	is_int(r, 0, "pack an empty directory");
	got = (uint8_t *)tu_slurp(tpath("empty.tar"), &len);
	spec_header(want, ".", 0755, 0, '5', "", "");
	ok(got && len == 512 && memcmp(got, want, 512) == 0, "a single \".\" directory entry");
	hash_to_hex(res.tree, HASH_SHA1_LEN, hex);
	is_str(hex, "4b825dc642cb6eb9a060e54bf8d69288fbee4904", "the empty tree");
	is_int(res.dirs, 1, "one directory entry");
	free(got);
}

static void test_header_fields(void)
{
	uint8_t buf[8192], want[512];
	char path[1100], link[300], rec[1200];
	long n;
	int i;

	/* exactly 100 bytes: fills the name field, no NUL, no PAX */
	memset(path, 'a', 100);
	path[100] = 0;
	n = pack_tar_header(buf, sizeof(buf), path, '0', 0644, 1, NULL);
	spec_header(want, path, 0644, 1, '0', "", "");
	ok(n == 512 && memcmp(buf, want, 512) == 0, "100-byte name in the name field");

	/* 101 bytes with a '/': split into prefix and name */
	memset(path, 'd', 50);
	path[50] = '/';
	memset(path + 51, 'f', 50);
	path[101] = 0;
	n = pack_tar_header(buf, sizeof(buf), path, '0', 0644, 0, NULL);
	spec_header(want, path + 51, 0644, 0, '0', "", "");
	memcpy(want + 345, path, 50);
	{
		/* recompute the checksum with the prefix */
		char pfx[51];

		memcpy(pfx, path, 50);
		pfx[50] = 0;
		spec_header(want, path + 51, 0644, 0, '0', "", pfx);
	}
	ok(n == 512 && memcmp(buf, want, 512) == 0, "101 bytes: prefix/name split at '/'");

	/* the split uses the last '/' at offset <= 99 */
	snprintf(path, sizeof(path), "%.*s/%.*s/%.*s", 40,
		"dddddddddddddddddddddddddddddddddddddddd"
		"dddddddd",
		40, "eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee", 60,
		"ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff");
	n = pack_tar_header(buf, sizeof(buf), path, '0', 0644, 0, NULL);
	ok(n == 512 && memcmp(buf, path + 82, 60) == 0 && buf[60] == 0 &&
			memcmp(buf + 345, path, 81) == 0 && buf[345 + 81] == 0,
		"split at the last '/' before byte 100");

	/* 150 bytes without '/': PAX path, empty ustar name */
	memset(path, 'p', 150);
	path[150] = 0;
	n = pack_tar_header(buf, sizeof(buf), path, '0', 0644, 5, NULL);
	is_int(n, 1536, "PAX header + records block + ustar header");
	spec_header(want, "", 0, 160, 'x', "", "");
	ok(memcmp(buf, want, 512) == 0, "x header: empty name, mode 000000, size of records");
	snprintf(rec, sizeof(rec), "160 path=%s\n", path);
	ok(memcmp(buf + 512, rec, 160) == 0 && buf[512 + 160] == 0, "record \"160 path=...\\n\"");
	spec_header(want, "", 0644, 5, '0', "", "");
	ok(memcmp(buf + 1024, want, 512) == 0, "ustar header with empty name and prefix");

	/* a split whose name part would exceed 100 bytes: PAX */
	snprintf(path, sizeof(path), "d/%0120d", 0);
	n = pack_tar_header(buf, sizeof(buf), path, '0', 0644, 0, NULL);
	ok(n == 1536 && buf[512 + 4] == 'p' && buf[1024] == 0, "name part over 100 bytes: PAX");

	/* 256 bytes and more are never split, even when they could be */
	memset(path, 'a', 300);
	for (i = 50; i < 300; i += 50)
		path[i] = '/';
	path[300] = 0;
	n = pack_tar_header(buf, sizeof(buf), path, '5', 0755, 0, NULL);
	ok(n == 1536 && memcmp(buf + 512, "310 path=", 9) == 0, "300-byte path: PAX, not split");

	/* link over 100 bytes: PAX linkpath, empty linkname */
	memset(link, 'L', 150);
	link[150] = 0;
	n = pack_tar_header(buf, sizeof(buf), "l", '2', 0755, 0, link);
	snprintf(rec, sizeof(rec), "164 linkpath=%s\n", link);
	spec_header(want, "l", 0755, 0, '2', "", "");
	ok(n == 1536 && memcmp(buf + 512, rec, 164) == 0 && memcmp(buf + 1024, want, 512) == 0,
		"150-byte link target: PAX linkpath");
	/* both: records sorted by key, linkpath before path */
	memset(path, 'p', 150);
	path[150] = 0;
	n = pack_tar_header(buf, sizeof(buf), path, '2', 0755, 0, link);
	ok(n == 1536 && memcmp(buf + 512, "164 linkpath=", 13) == 0 &&
			memcmp(buf + 512 + 164, "160 path=", 9) == 0,
		"linkpath record before path");
	/* a link of exactly 100 bytes stays in the header */
	link[100] = 0;
	n = pack_tar_header(buf, sizeof(buf), "l", '2', 0755, 0, link);
	ok(n == 512 && memcmp(buf + 157, link, 100) == 0, "100-byte link in the linkname field");

	/* PAX record lengths where the digit count changes (1000 bytes) */
	for (i = 985; i <= 1000; i++) {
		char digits[16];
		size_t rlen;
		char *end;

		memset(path, 'q', (size_t)i);
		path[i] = 0;
		n = pack_tar_header(buf, sizeof(buf), path, '0', 0644, 0, NULL);
		rlen = strtoul((char *)buf + 512, &end, 10);
		if (n < 1536 || *end != ' ' || buf[512 + rlen - 1] != '\n' ||
			rlen != (size_t)snprintf(digits, sizeof(digits), "%zu", rlen) + 6 +
					(size_t)i + 1)
			break;
	}
	ok(i > 1000, "PAX record length counts its own digits (paths of 985-1000 bytes)");

	/* sizes: 11 digits + space, 12 digits, base-256 + PAX size */
	n = pack_tar_header(buf, sizeof(buf), "f", '0', 0644, 077777777777ULL, NULL);
	ok(n == 512 && memcmp(buf + 124, "77777777777 ", 12) == 0, "8^11-1: 11 digits and a space");
	n = pack_tar_header(buf, sizeof(buf), "f", '0', 0644, 0100000000000ULL, NULL);
	ok(n == 512 && memcmp(buf + 124, "100000000000", 12) == 0 && checksum_ok(buf),
		"8^11: 12 digits, no space (Tar.jl writes the string as is)");
	n = pack_tar_header(buf, sizeof(buf), "f", '0', 0644, 0777777777777ULL, NULL);
	ok(n == 512 && memcmp(buf + 124, "777777777777", 12) == 0, "8^12-1: still octal");
	n = pack_tar_header(buf, sizeof(buf), "f", '0', 0644, 01000000000000ULL, NULL);
	{
		static const uint8_t b256[12] = {0x80, 0, 0, 0, 0, 0, 0, 0x10, 0, 0, 0, 0};

		ok(n == 1536 && memcmp(buf + 512, "20 size=68719476736\n", 20) == 0 &&
				memcmp(buf + 1024 + 124, b256, 12) == 0 && checksum_ok(buf + 1024),
			"8^12: PAX size and GNU base-256 in the header");
	}
	ok(checksum_ok(buf) && buf[156] == 'x', "checksum of the x header");

	/* errors */
	is_int(pack_tar_header(buf, 511, "f", '0', 0644, 0, NULL), -ENOBUFS, "-ENOBUFS");
	memset(path, 'p', 150);
	path[150] = 0;
	is_int(pack_tar_header(buf, 1024, path, '0', 0644, 0, NULL), -ENOBUFS,
		"-ENOBUFS for a PAX header that does not fit");
	is_int(pack_tar_header(buf, sizeof(buf), "", '0', 0644, 0, NULL), -EINVAL, "empty path");
	is_int(pack_tar_header(buf, sizeof(buf), "/abs", '0', 0644, 0, NULL), -EINVAL,
		"absolute path");
	is_int(pack_tar_header(buf, sizeof(buf), "f", '3', 0644, 0, NULL), -EINVAL, "chardev type");
}

/* ---- trees ----------------------------------------------------------------------- */

/* Paths and types of the headers of a plain .tar, in order, one per line. */
static char *listing(const uint8_t *t, size_t len)
{
	char *out = calloc(1, 65536), line[1024];
	size_t off = 0;

	while (off + 512 <= len) {
		const uint8_t *h = t + off;
		unsigned long long size = strtoull((const char *)h + 124, NULL, 8);
		char name[101], prefix[156];

		if (h[156] == 'x') {
			off += 512 + (size + 511) / 512 * 512;
			continue;
		}
		memcpy(name, h, 100);
		name[100] = 0;
		memcpy(prefix, h + 345, 155);
		prefix[155] = 0;
		snprintf(line, sizeof(line), "%c %s%s%s\n", h[156], prefix, *prefix ? "/" : "",
			name);
		strcat(out, line);
		off += 512 + (h[156] == '0' ? (size + 511) / 512 * 512 : 0);
	}
	return out;
}

static void test_order(void)
{
	struct pack_result res;
	uint8_t oid[HASH_SHA1_LEN];
	uint8_t *t;
	char *list, *msg = NULL;
	size_t len;
	int r;

	mkdirs("ord");
	mkdirs("ord/a");
	mkfile("ord/a/f", "x", 0644);
	mkfile("ord/a.b", "y", 0644);
	mkfile("ord/a0", "z", 0755);
	mkfile("ord/B", "upper", 0644);
	mkdirs("ord/e");
	mkdirs("ord/e/inner");
	if (symlink("a/f", tpath("ord/l")) < 0 || symlink("../../outside", tpath("ord/e/up")) < 0)
		abort();
	if (link(tpath("ord/a0"), tpath("ord/hard")) < 0)
		abort();
	r = pack_create(tpath("ord"), tpath("ord.tar"), NULL, &res, &msg);
	is_int(r, 0, "pack a tree with dirs, links, an empty dir, a hard link");
	t = (uint8_t *)tu_slurp(tpath("ord.tar"), &len);
	list = listing(t, len);
	is_str(list,
		"0 B\n"
		"5 a\n"
		"0 a/f\n"
		"0 a.b\n"
		"0 a0\n"
		"5 e\n"
		"5 e/inner\n"
		"2 e/up\n"
		"0 hard\n"
		"2 l\n",
		"plain byte-wise name order, depth first, every directory, no trailing '/'");
	ok(tree_hash_dir(tpath("ord"), 0, oid, NULL) == 0 && memcmp(oid, res.tree, 20) == 0,
		"tree hash equals tree_hash_dir (Pkg rules)");
	ok(tree_hash_dir(tpath("ord"), TREE_TARJL, oid, NULL) == 0 &&
			memcmp(oid, res.tree_tarjl, 20) == 0,
		"Tar.jl variant equals TREE_TARJL");
	ok(memcmp(res.tree, res.tree_tarjl, 20) != 0, "they differ (empty dir e/inner)");
	is_int(res.files, 7, "files + symlinks counted");
	is_int(res.dirs, 3, "directories counted");
	{
		struct fetch_digests d;
		char *m = NULL;

		r = fetch_hash_tarball(-1, tpath("ord.tar"), &d, &m);
		ok(r == 0 && memcmp(d.tree, res.tree, 20) == 0 &&
				memcmp(d.sha256, res.sha256, 32) == 0,
			"fetch_hash_tarball agrees on tree hash and sha256");
		free(m);
	}
	free(list);
	free(t);
	free(msg);
}

static void test_compressions(void)
{
	static const char *const names[] = {"c.tar", "c.tar.gz", "c.tar.zst", "c.tar.xz", "c.tgz"};
	struct pack_result res, res2;
	uint8_t *a, *b;
	size_t la, lb;
	unsigned i;
	char big[4096];
	int r, r2;

	mkdirs("comp");
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = 0;
	mkfile("comp/big", big, 0644);
	mkfile("comp/small", "hello\n", 0755);
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		char out2[64];
		struct fetch_digests d;
		char *m = NULL;

		snprintf(out2, sizeof(out2), "again-%s", names[i]);
		r = pack_create(tpath("comp"), tpath(names[i]), NULL, &res, NULL);
		sleep(i == 0); /* a second apart at least once: no timestamps */
		r2 = pack_create(tpath("comp"), tpath(out2), NULL, &res2, NULL);
		a = (uint8_t *)tu_slurp(tpath(names[i]), &la);
		b = (uint8_t *)tu_slurp(tpath(out2), &lb);
		ok(r == 0 && r2 == 0 && la == lb && memcmp(a, b, la) == 0 && la == res.size,
			"%s: same bytes twice (%s)", names[i], pack_compress_name(res.compress));
		r = fetch_hash_tarball(-1, tpath(names[i]), &d, &m);
		ok(r == 0 && memcmp(d.tree, res.tree, 20) == 0 &&
				memcmp(d.sha256, res.sha256, 32) == 0 &&
				d.tarball_bytes == res.size,
			"%s: fetch reads it back with the same digests", names[i]);
		if (i == 1)
			ok(a[0] == 0x1f && a[1] == 0x8b && a[3] == 0 && !a[4] && !a[5] && !a[6] &&
					!a[7],
				"gzip header: no name flag, zero mtime");
		free(m);
		free(a);
		free(b);
	}
	{
		struct pack_opts o = {.compress = PACK_COMPRESS_AUTO, .level = 1};
		struct pack_opts o9 = {.compress = PACK_COMPRESS_AUTO, .level = 9};

		r = pack_create(tpath("comp"), tpath("l1.tar.gz"), &o, &res, NULL);
		r2 = pack_create(tpath("comp"), tpath("l9.tar.gz"), &o9, &res2, NULL);
		ok(r == 0 && r2 == 0 && memcmp(res.tree, res2.tree, 20) == 0 &&
				memcmp(res.sha256, res2.sha256, 32) != 0,
			"levels change bytes, not the tree");
		o.level = 10;
		r = pack_create(tpath("comp"), tpath("bad.tar.gz"), &o, &res, NULL);
		is_int(r, -EINVAL, "gzip level 10: -EINVAL");
		ok(access(tpath("bad.tar.gz"), F_OK) < 0, "no output on failure");
	}
	is_int(pack_compress_from_name("x.tar.zst"), PACK_COMPRESS_ZSTD, "from name: zst");
	is_int(pack_compress_from_name("x.txz"), PACK_COMPRESS_XZ, "from name: txz");
	is_int(pack_compress_from_name("x"), PACK_COMPRESS_GZIP, "from name: default gzip");
}

static void test_refusals(void)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct pack_result res;
	char *msg = NULL;
	DIR *d;
	struct dirent *de;
	int r, s, leftovers = 0;

	mkdirs("fifo");
	mkdirs("fifo/sub");
	mkfile("fifo/a", "a", 0644);
	if (mkfifo(tpath("fifo/sub/pipe"), 0644) < 0)
		abort();
	r = pack_create(tpath("fifo"), tpath("fifo.tar.gz"), NULL, &res, &msg);
	is_int(r, -ENOTSUP, "a fifo is refused");
	ok(msg && strstr(msg, "fifo/sub/pipe' is a fifo"), "message names it (%s)", msg ? msg : "");
	ok(access(tpath("fifo.tar.gz"), F_OK) < 0, "no output");
	d = opendir(tmpdir);
	while (d && (de = readdir(d)))
		if (strncmp(de->d_name, ".fifo.tar.gz.", 13) == 0)
			leftovers++;
	if (d)
		closedir(d);
	is_int(leftovers, 0, "no temporary file left");
	free(msg);
	msg = NULL;
	unlink(tpath("fifo/sub/pipe"));

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", tpath("fifo/sock"));
	s = socket(AF_UNIX, SOCK_STREAM, 0);
	if (s < 0 || bind(s, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		abort();
	r = pack_create(tpath("fifo"), tpath("fifo.tar.gz"), NULL, &res, &msg);
	ok(r == -ENOTSUP && msg && strstr(msg, "is a socket"), "a socket is refused");
	close(s);
	free(msg);
	msg = NULL;

	r = pack_create(tpath("fifo"), tpath("fifo/sub/out.tar.gz"), NULL, &res, &msg);
	is_int(r, -EINVAL, "output inside the tree is refused");
	free(msg);
	msg = NULL;
	r = pack_create(tpath("nonexistent"), tpath("x.tar.gz"), NULL, &res, &msg);
	is_int(r, -ENOENT, "a missing directory: -ENOENT");
	free(msg);
	msg = NULL;
	r = pack_create(tpath("ka/foo"), tpath("x.tar.gz"), NULL, &res, &msg);
	is_int(r, -ENOTDIR, "a file: -ENOTDIR");
	free(msg);
}

static void test_dotgit(void)
{
	struct pack_result res;
	uint8_t oid[20];
	int r;

	mkdirs("git");
	mkdirs("git/.git");
	mkfile("git/.git/HEAD", "ref: refs/heads/main\n", 0644);
	mkfile("git/file", "content\n", 0644);
	r = pack_create(tpath("git"), tpath("git.tar"), NULL, &res, NULL);
	is_int(r, 0, "pack a tree holding .git");
	is_int(res.dotgit, 1, ".git counted");
	ok(tree_hash_dir(tpath("git"), 0, oid, NULL) == 0 && memcmp(oid, res.tree, 20) == 0,
		"the printed hash skips .git, as Pkg and 'artifactctl hash' do");
	is_int(res.files, 2, ".git/HEAD is packed");
}

static void progress_cb(uint64_t done, uint64_t total, void *arg)
{
	uint64_t *last = arg;

	if (done < last[0] || done > total)
		last[2]++;
	last[0] = done;
	last[1] = total;
	last[3]++;
}

static void test_progress_and_pipe(void)
{
	uint64_t seen[4] = {0};
	struct pack_opts o = {.compress = PACK_COMPRESS_NONE,
		.level = -1,
		.progress = progress_cb,
		.progress_arg = seen};
	struct pack_result res, res2;
	int p[2], r, st;
	pid_t pid;
	uint8_t sha[32], buf[65536];
	struct hash_ctx *h;
	ssize_t n;

	r = pack_create(tpath("ord"), tpath("prog.tar"), &o, &res, NULL);
	ok(r == 0 && seen[0] == seen[1] && seen[1] == res.bytes && !seen[2] && seen[3] >= 2,
		"progress: monotonic, ends with done == total == bytes");

	/* pack_write to a pipe: same bytes as the file */
	if (pipe(p) < 0)
		abort();
	pid = fork();
	if (pid == 0) {
		close(p[0]);
		o.progress = NULL;
		o.compress = PACK_COMPRESS_GZIP;
		_exit(pack_write(AT_FDCWD, tpath("ord"), p[1], &o, &res2, NULL) == 0 ? 0 : 1);
	}
	close(p[1]);
	hash_ctx_new(HASH_SHA256, &h);
	while ((n = read(p[0], buf, sizeof(buf))) > 0)
		hash_ctx_update(h, buf, (size_t)n);
	hash_ctx_final(h, sha);
	hash_ctx_free(h);
	close(p[0]);
	waitpid(pid, &st, 0);
	r = pack_create(tpath("ord"), tpath("pipe.tar.gz"), NULL, &res, NULL);
	ok(WIFEXITED(st) && WEXITSTATUS(st) == 0 && r == 0 && memcmp(sha, res.sha256, 32) == 0,
		"pack_write to a pipe gives the bytes pack_create writes");
}

/* Deep and wide paths: Tar.jl's test tree shape (test/runtests.jl make_test_tarball). */
static void test_long_paths(void)
{
	static const int alen[] = {0, 10, 154, 155, 156, 255};
	static const int blen[] = {10, 99, 100, 101, 255};
	struct pack_result res;
	uint8_t oid[20];
	char dir[600], p[1200], name[300];
	unsigned i, j;
	int r;
	char *msg = NULL;

	mkdirs("long");
	for (i = 0; i < sizeof(alen) / sizeof(alen[0]); i++) {
		memset(name, 'd', (size_t)alen[i]);
		name[alen[i]] = 0;
		snprintf(dir, sizeof(dir), "long%s%s", alen[i] ? "/" : "", name);
		mkdirs(dir);
		for (j = 0; j < sizeof(blen) / sizeof(blen[0]); j++) {
			memset(name, 'f', (size_t)blen[j]);
			name[blen[j]] = 0;
			snprintf(p, sizeof(p), "%s/%s", dir, name);
			mkfile(p, "data\n", 0644);
			name[0] = 'l';
			snprintf(p, sizeof(p), "%s/%s", dir, name);
			symlink(dir, tpath(p)); /* long absolute-ish target, never followed */
		}
	}
	r = pack_create(tpath("long"), tpath("long.tar"), NULL, &res, &msg);
	is_int(r, 0, "pack names of 10..255 bytes in dirs of 0..255 bytes");
	if (msg)
		diag("%s", msg);
	ok(tree_hash_dir(tpath("long"), 0, oid, NULL) == 0 && memcmp(oid, res.tree, 20) == 0,
		"tree hash equals tree_hash_dir");
	{
		struct fetch_digests d;
		char *m = NULL;

		r = fetch_hash_tarball(-1, tpath("long.tar"), &d, &m);
		ok(r == 0 && memcmp(d.tree, res.tree, 20) == 0,
			"fetch's Tar.jl reader gets the same tree back (%s)", m ? m : "ok");
		free(m);
	}
	free(msg);
}

/* A file of len bytes: text when !random, else incompressible. */
static void mkfile_len(const char *rel, size_t len, bool random)
{
	uint8_t *p = malloc(len + 1);
	uint32_t seed = 1;
	size_t i;
	int fd;

	if (!p)
		abort();
	for (i = 0; i < len; i++) {
		seed = seed * 1103515245u + 12345u;
		p[i] = random ? (uint8_t)(seed >> 16) : (uint8_t)("0123456789 line\n"[i % 16] + i / 9973 % 7);
	}
	fd = open(tpath(rel), O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || write(fd, p, len) != (ssize_t)len)
		abort();
	close(fd);
	free(p);
}

/* zlib's gzip decoding of the file gz equals the file tar, in one member. */
static bool gunzips_to(const char *gz, const char *tar)
{
	size_t lg, lt;
	uint8_t *g = (uint8_t *)tu_slurp(gz, &lg), *t = (uint8_t *)tu_slurp(tar, &lt);
	uint8_t *o = malloc(lt + 1);
	z_stream zs;
	bool good = false;

	memset(&zs, 0, sizeof(zs));
	if (g && t && o && inflateInit2(&zs, 16 + 15) == Z_OK) {
		zs.next_in = g;
		zs.avail_in = (uInt)lg;
		zs.next_out = o;
		zs.avail_out = (uInt)lt + 1;
		good = inflate(&zs, Z_FINISH) == Z_STREAM_END && zs.avail_in == 0 &&
		       zs.total_out == lt && memcmp(o, t, lt) == 0;
		inflateEnd(&zs);
	}
	free(g);
	free(t);
	free(o);
	return good;
}

/* The same bytes for every thread count, for gzip and zstd. */
static void check_jobs(const char *tree, const char *suffix, int level)
{
	static const int jobs[] = {1, 2, 3, 8};
	struct pack_result res, res1;
	char out[256], first[256];
	uint8_t *a = NULL, *b;
	size_t la = 0, lb;
	bool same = true, all_ok = true;
	unsigned i;

	for (i = 0; i < sizeof(jobs) / sizeof(jobs[0]); i++) {
		struct pack_opts o = {.compress = PACK_COMPRESS_AUTO, .level = level,
			.jobs = jobs[i]};

		snprintf(out, sizeof(out), "%s-j%d%s", tree, jobs[i], suffix);
		if (pack_create(tpath(tree), tpath(out), &o, i ? &res : &res1, NULL) < 0) {
			all_ok = false;
			continue;
		}
		b = (uint8_t *)tu_slurp(tpath(out), &lb);
		if (!i) {
			a = b;
			la = lb;
			snprintf(first, sizeof(first), "%s", out);
			continue;
		}
		if (!a || !b || la != lb || memcmp(a, b, la) != 0 ||
			memcmp(res.sha256, res1.sha256, 32) != 0 || memcmp(res.tree, res1.tree, 20))
			same = false;
		free(b);
	}
	ok(all_ok, "%s%s: packed with 1, 2, 3 and 8 threads", tree, suffix);
	ok(same, "%s%s: the same bytes, sha256 and tree for every thread count", tree, suffix);
	if (strcmp(suffix, ".tar.gz") == 0) {
		struct pack_opts o = {.compress = PACK_COMPRESS_NONE};

		snprintf(out, sizeof(out), "%s.tar", tree);
		ok(pack_create(tpath(tree), tpath(out), &o, &res, NULL) == 0 &&
				gunzips_to(tpath(first), tpath(out)) &&
				memcmp(res.tree, res1.tree, 20) == 0,
			"%s: zlib's gunzip of the .tar.gz is the .tar stream", tree);
	} else {
		struct fetch_digests d;
		char *m = NULL;

		ok(fetch_hash_tarball(-1, tpath(first), &d, &m) == 0 &&
				memcmp(d.tree, res1.tree, 20) == 0,
			"%s%s: read back with the same tree", tree, suffix);
		free(m);
	}
	free(a);
}

static void test_jobs(void)
{
	int n = pack_default_jobs();

	ok(n >= 1 && n <= PACK_JOBS_MAX, "default thread count %d within 1..%d", n, PACK_JOBS_MAX);
	mkdirs("j-empty");
	mkdirs("j-zero");
	mkfile("j-zero/zero", "", 0644);
	mkdirs("j-big");
	mkfile_len("j-big/text", 1536 * 1024 + 17, false);
	mkfile_len("j-big/rand", 600 * 1024, true);
	mkfile("j-big/small", "hello\n", 0755);
	mkdirs("j-rand");
	mkfile_len("j-rand/rand", 1 << 20, true);
	check_jobs("j-empty", ".tar.gz", -1);
	check_jobs("j-zero", ".tar.gz", -1);
	check_jobs("j-big", ".tar.gz", -1);
	check_jobs("j-big", ".tar.gz", 9);
	check_jobs("j-rand", ".tar.gz", 1);
	check_jobs("j-empty", ".tar.zst", -1);
	check_jobs("j-zero", ".tar.zst", -1);
	check_jobs("j-big", ".tar.zst", -1);
	/* More than one 8 MiB zstd job: the workers' split must not show. */
	mkdirs("j-zbig");
	mkfile_len("j-zbig/text", 20u << 20, false);
	mkfile_len("j-zbig/rand", 1u << 20, true);
	check_jobs("j-zbig", ".tar.zst", 1);
	{
		struct pack_opts o = {.compress = PACK_COMPRESS_GZIP, .level = -1, .jobs = 65};
		struct pack_result res;

		is_int(pack_create(tpath("j-zero"), tpath("bad-j.tar.gz"), &o, &res, NULL), -EINVAL,
			"65 threads: -EINVAL");
	}
}

int main(void)
{
	if (tu_mkdtemp(tmpdir, sizeof(tmpdir), "test-pack") < 0)
		return 1;
	umask(022);

	test_known_answer();
	test_empty_root();
	test_header_fields();
	test_order();
	test_compressions();
	test_refusals();
	test_dotgit();
	test_progress_and_pipe();
	test_long_paths();
	test_jobs();

	if (!getenv("ARTIFACTFS_KEEP"))
		tu_rmtree(tmpdir);
	return tap_done();
}
