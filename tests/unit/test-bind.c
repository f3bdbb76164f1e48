/*
 * test-bind.c - bind_artifact!/unbind_artifact!/add-mirror on copies of
 * real Artifacts.toml files (fetch/bind.h)
 *
 * The fixtures come from $ARTIFACTFS_SHARED/fixtures/artifacts-toml and are
 * copied into a private temporary directory; the repository is never
 * written.  Every edit is checked three ways: the file loads with
 * artifacts_load(), artifacts_select() picks what Julia would, and the
 * whole file equals an expectation built from the original text: the
 * original's entry blocks (each "[[Name]]" or "[Name]" line at column 0
 * starts one, its download sub-tables included) minus the removed ones,
 * plus the new block written out here in Julia's TOML.print(sorted=true)
 * layout.  So every entry that was not edited is byte-identical.
 */
#include "fetch/artifacts.h"
#include "fetch/bind.h"
#include "fetch/platform.h"
#include "fetch/toml.h"
#include "tests/tap.h"
#include "tests/unit/util.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char fixdir[4096];
static char tmpdir[4096];

#define HASH_A "1111111111111111111111111111111111111111"
#define HASH_B "2222222222222222222222222222222222222222"
#define SHA_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define SHA_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
/* the x86_64-linux-gnu (glibc, no sanitize) entry of Zlib_jll.toml */
#define ZLIB_X86_GLIBC "438377fe76907b3472fe256e7189bcee5430637b"
#define ZLIB_AARCH64_GLIBC "ad72916da2ba06c8c8b457ac068955016ba88960"
#define ZLIB_X86_SANITIZE "bf13bfa936d85ae74d0fcdb5992438d0072643ca"

/* ---- helpers ------------------------------------------------------------------- */

/* Copy fixture name to <tmpdir>/<as>, writable; returns the malloc'ed path. */
static char *copy_fixture(const char *name, const char *as)
{
	char src[8192], *dst, *text;

	snprintf(src, sizeof(src), "%s/%s", fixdir, name);
	text = tu_slurp(src, NULL);
	if (!text)
		abort();
	if (asprintf(&dst, "%s/%s", tmpdir, as) < 0)
		abort();
	unlink(dst);
	tu_write_file(dst, text);
	free(text);
	return dst;
}

/* Entry blocks: each starts at a line beginning with '['. */
struct blocks {
	const char *start[512];
	size_t len[512];
	size_t n;
};

static void split(const char *text, struct blocks *b)
{
	const char *p = text, *line;

	b->n = 0;
	for (line = p; *line;
		line = strchr(line, '\n') ? strchr(line, '\n') + 1 : line + strlen(line)) {
		if (*line == '[') {
			if (b->n)
				b->len[b->n - 1] = (size_t)(line - b->start[b->n - 1]);
			b->start[b->n++] = line;
		}
	}
	if (b->n)
		b->len[b->n - 1] = strlen(b->start[b->n - 1]);
}

/* Index of the block that contains needle, or -1. */
static int find_block(const struct blocks *b, const char *needle)
{
	size_t i;

	for (i = 0; i < b->n; i++) {
		char *s = strndup(b->start[i], b->len[i]);
		bool hit = strstr(s, needle) != NULL;

		free(s);
		if (hit)
			return (int)i;
	}
	return -1;
}

/* The blocks of text except block skip (-1: none), then add appended. */
static char *expect(const char *text, int skip, const char *add)
{
	struct blocks b;
	char *out;
	size_t i, n = 0;

	split(text, &b);
	out = malloc(strlen(text) + (add ? strlen(add) : 0) + 1);
	if (!out)
		abort();
	for (i = 0; i < b.n; i++) {
		if ((int)i == skip)
			continue;
		memcpy(out + n, b.start[i], b.len[i]);
		n += b.len[i];
	}
	if (add) {
		memcpy(out + n, add, strlen(add));
		n += strlen(add);
	}
	out[n] = '\0';
	return out;
}

/* Compare the file at path with want; prints the first difference. */
static void is_file(const char *path, const char *want, const char *name)
{
	char *got = tu_slurp(path, NULL);
	size_t i = 0;
	bool same = got && strcmp(got, want) == 0;

	ok(same, "%s", name);
	if (!same && got) {
		while (got[i] && got[i] == want[i])
			i++;
		diag("first difference at byte %zu: got '%.60s' want '%.60s'", i, got + i,
			want + i);
	}
	free(got);
}

static struct platform *parse(const char *triplet)
{
	struct platform *p = NULL;

	if (platform_parse(triplet, &p) < 0)
		abort();
	return p;
}

/* The hash artifacts_select() picks for host triplet, or an errno name. */
static char *select_hash(const char *path, const char *name, const char *host)
{
	const struct artifact_entry *e;
	struct artifacts *a = NULL;
	struct platform *h = NULL;
	char *msg = NULL, *out;
	int r;

	if (artifacts_load(path, &a, &msg) < 0) {
		out = strdup("(load failed)");
		goto done;
	}
	platform_host(host, &h);
	r = artifacts_select(a, name, h, &e, &msg);
	out = strdup(r == 0	    ? artifact_entry_hash(e)
		     : r == -ENXIO  ? "(no match)"
		     : r == -ENOENT ? "(no name)"
				    : "(error)");
done:
	free(msg);
	platform_free(h);
	artifacts_free(a);
	return out;
}

/* The selected entry, for its lazy flag and downloads (kept loaded in *ret_a). */
static const struct artifact_entry *select_entry(
	const char *path, const char *name, const char *host, struct artifacts **ret_a)
{
	const struct artifact_entry *e = NULL;
	struct platform *h = NULL;
	char *msg = NULL;

	*ret_a = NULL;
	if (artifacts_load(path, ret_a, &msg) == 0) {
		platform_host(host, &h);
		if (artifacts_select(*ret_a, name, h, &e, &msg) < 0)
			e = NULL;
	}
	free(msg);
	platform_free(h);
	return e;
}

static bool loads_strict(const char *path)
{
	struct artifacts *a = NULL;
	char *msg = NULL;
	bool good = artifacts_load(path, &a, &msg) == 0 && artifacts_check(a, &msg) == 0;

	if (!good)
		diag("%s: %s", path, msg ? msg : "?");
	free(msg);
	artifacts_free(a);
	return good;
}

#define is_sel(path, name, host, want, ...)                                                        \
	do {                                                                                       \
		char *s_ = select_hash(path, name, host);                                          \
		is_str(s_, want, __VA_ARGS__);                                                     \
		free(s_);                                                                          \
	} while (0)

/* ---- bind ------------------------------------------------------------------------ */

/*
 * Binds NAME to HASH in PATH as bind_artifact() (PLATFORM, DOWNLOADS, N, FLAGS)
 * and checks that it returns WANT (WHAT); the message is dropped.
 */
static void check_bind(const char *path, const char *name, const char *hash,
	const struct platform *platform, const struct bind_download *downloads, size_t n,
	unsigned flags, int want, const char *what)
{
	char *msg = NULL;

	is_int(bind_artifact(path, name, hash, platform, downloads, n, flags, &msg), want, "%s",
		what);
	free(msg);
}

static void test_bind_new_platform(void)
{
	static const struct bind_download dl[] = {{"https://example.org/z-cxx11.tar.gz",
		"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", 4242, NULL}};
	static const char block[] = "[[Zlib]]\n"
				    "arch = \"x86_64\"\n"
				    "cxxstring_abi = \"cxx11\"\n"
				    "git-tree-sha1 = \"" HASH_A "\"\n"
				    "libc = \"glibc\"\n"
				    "os = \"linux\"\n"
				    "\n"
				    "    [[Zlib.download]]\n"
				    "    sha256 = \"" SHA_A "\"\n"
				    "    size = 4242\n"
				    "    url = \"https://example.org/z-cxx11.tar.gz\"\n";
	char *path = copy_fixture("Zlib_jll.toml", "new.toml"), *orig = tu_slurp(path, NULL), *want;
	struct platform *p = parse("x86_64-linux-gnu-cxx11");
	char *msg = NULL;
	int r;

	r = bind_artifact(path, "Zlib", HASH_A, p, dl, 1, 0, &msg);
	is_int(r, 0, "bind a new platform (cxx11) into Zlib_jll.toml");
	if (msg)
		diag("%s", msg);
	want = expect(orig, -1, block);
	is_file(path, want, "every old entry byte-identical, new entry appended in Julia layout");
	ok(loads_strict(path), "the edited file loads and passes artifacts_check");
	is_sel(path, "Zlib", "x86_64-linux-gnu-cxx11", HASH_A, "cxx11 host selects the new entry");
	is_sel(path, "Zlib", "x86_64-linux-gnu", ZLIB_X86_GLIBC, "plain host keeps its entry");
	is_sel(path, "Zlib", "aarch64-linux-gnu", ZLIB_AARCH64_GLIBC, "aarch64 unaffected");
	free(want);
	free(msg);
	free(orig);
	free(path);
	platform_free(p);
}

static void test_bind_force(void)
{
	static const struct bind_download dl[] = {{"https://example.org/z.tar.gz", SHA_B, 0, NULL}};
	static const char block[] = "[[Zlib]]\n"
				    "arch = \"x86_64\"\n"
				    "git-tree-sha1 = \"" HASH_B "\"\n"
				    "lazy = true\n"
				    "libc = \"glibc\"\n"
				    "os = \"linux\"\n"
				    "\n"
				    "    [[Zlib.download]]\n"
				    "    sha256 = \"" SHA_B "\"\n"
				    "    url = \"https://example.org/z.tar.gz\"\n";
	char *path = copy_fixture("Zlib_jll.toml", "force.toml"), *want;
	char *orig = tu_slurp(path, NULL);
	struct platform *p = parse("x86_64-linux-gnu");
	const struct artifact_entry *e;
	const struct artifact_download *d;
	struct artifacts *a;
	struct blocks b;
	char *msg = NULL;
	int r;

	r = bind_artifact(path, "Zlib", HASH_B, p, dl, 1, BIND_LAZY, &msg);
	is_int(r, -EEXIST, "bind an existing platform without force: -EEXIST");
	ok(msg && strstr(msg, "mapping for 'Zlib'/x86_64-linux-gnu in '") &&
			strstr(msg, "already exists"),
		"message names the name and triplet (%s)", msg ? msg : "");
	free(msg);
	msg = NULL;
	is_file(path, orig, "file unchanged after -EEXIST");

	r = bind_artifact(path, "Zlib", HASH_B, p, dl, 1, BIND_LAZY | BIND_FORCE, &msg);
	is_int(r, 0, "bind an existing platform with force");
	split(orig, &b);
	want = expect(orig, find_block(&b, ZLIB_X86_GLIBC), block);
	is_file(path, want, "the equal-platform entry replaced; others byte-identical");
	ok(loads_strict(path), "the edited file loads");
	is_sel(path, "Zlib", "x86_64-linux-gnu", HASH_B, "x86_64-linux-gnu selects the new hash");
	is_sel(path, "Zlib", "aarch64-linux-gnu", ZLIB_AARCH64_GLIBC, "aarch64 unaffected");
	e = select_entry(path, "Zlib", "x86_64-linux-gnu", &a);
	ok(e && artifact_entry_lazy(e), "lazy = true written");
	ok(e && artifact_entry_downloads(e, &d) == 1 && d[0].size == 0 &&
			strcmp(d[0].sha256, SHA_B) == 0,
		"one download, no size when 0");
	artifacts_free(a);
	/* the sanitize=memory entry is a different platform and stays */
	ok(strstr(want, ZLIB_X86_SANITIZE) != NULL, "sanitize=memory entry kept");
	free(want);
	free(msg);
	free(orig);
	free(path);
	platform_free(p);
}

static void test_bind_single_table(void)
{
	static const char block[] = "[MozillaCACerts]\n"
				    "git-tree-sha1 = \"" HASH_A "\"\n";
	char *path = copy_fixture("MozillaCACerts_jll.toml", "moz.toml");
	char *orig = tu_slurp(path, NULL);
	struct platform *p = parse("x86_64-linux-gnu");
	char *msg = NULL;
	int r;

	check_bind(path, "MozillaCACerts", HASH_A, NULL, NULL, 0, 0, -EEXIST,
		"bind an existing single table without force: -EEXIST");
	check_bind(path, "MozillaCACerts", HASH_A, p, NULL, 0, 0, -EEXIST,
		"bind a platform over a single table without force: -EEXIST");
	is_file(path, orig, "file unchanged");
	r = bind_artifact(path, "MozillaCACerts", HASH_A, NULL, NULL, 0, BIND_FORCE, &msg);
	is_int(r, 0, "force replaces the single table");
	is_file(path, block, "single-table form, no download, no lazy key");
	is_sel(path, "MozillaCACerts", "aarch64-apple-darwin", HASH_A,
		"platform independent: any host selects it");
	r = bind_artifact(path, "MozillaCACerts", HASH_B, p, NULL, 0, BIND_FORCE, &msg);
	is_int(r, 0, "force with a platform turns it into an array");
	is_sel(path, "MozillaCACerts", "x86_64-linux-gnu", HASH_B, "the array entry is selected");
	is_sel(path, "MozillaCACerts", "aarch64-linux-gnu", "(no match)", "other hosts: no match");
	free(msg);
	free(orig);
	free(path);
	platform_free(p);
}

/* New names go in sorted place (TOML.print sorted=true); all tags are written. */
static void test_bind_tags_and_new_names(void)
{
	static const char want_tail[] = "\n"
					"[[arr]]\n"
					"arch = \"armv7l\"\n"
					"call_abi = \"eabihf\"\n"
					"cxxstring_abi = \"cxx11\"\n"
					"git-tree-sha1 = \"" HASH_B "\"\n"
					"julia_version = \"1.11.0\"\n"
					"libc = \"glibc\"\n"
					"libgfortran_version = \"5.0.0\"\n"
					"os = \"linux\"\n"
					"\n"
					"[newthing]\n"
					"git-tree-sha1 = \"" HASH_A "\"\n"
					"lazy = true\n"
					"\n"
					"    [[newthing.download]]\n"
					"    sha256 = \"" SHA_A "\"\n"
					"    url = \"u1\"\n"
					"    [[newthing.download]]\n"
					"    seek_index = \"u2.seekidx\"\n"
					"    sha256 = \"" SHA_B "\"\n"
					"    size = 7\n"
					"    url = \"u2\"\n";
	static const struct bind_download dl[] = {
		{"u1", SHA_A, 0, NULL}, {"u2", SHA_B, 7, "u2.seekidx"}};
	char *path = copy_fixture("MozillaCACerts_jll.toml", "tags.toml"),
	     *orig = tu_slurp(path, NULL);
	struct platform *p =
		parse("armv7l-linux-gnueabihf-libgfortran5-cxx11-julia_version+1.11.0");
	char *want, *msg = NULL;
	int r;

	r = bind_artifact(path, "newthing", HASH_A, NULL, dl, 2, BIND_LAZY, &msg);
	is_int(r, 0, "bind a new platform-independent name with two mirrors, one with a seek index");
	r = bind_artifact(path, "arr", HASH_B, p, NULL, 0, 0, &msg);
	is_int(r, 0, "bind a new array name with many tags");
	want = malloc(strlen(orig) + sizeof(want_tail));
	strcpy(want, orig);
	strcat(want, want_tail);
	is_file(path, want, "pack_platform!: every tag as a string, names sorted");
	ok(loads_strict(path), "the edited file loads");
	is_sel(path, "arr", "armv7l-linux-gnueabihf-libgfortran5-cxx11", HASH_B,
		"armv7l host with gfortran5 selects it");
	is_sel(path, "arr", "armv7l-linux-gnueabihf-libgfortran4", "(no match)",
		"gfortran4 host does not");
	free(want);
	free(msg);
	free(orig);
	free(path);
	platform_free(p);
}

static void test_bind_new_file_and_errors(void)
{
	char *path, *bad, *lock, *msg = NULL, *text;
	struct stat st;
	int r;

	if (asprintf(&path, "%s/sub-new.toml", tmpdir) < 0 ||
		asprintf(&lock, "%s/.sub-new.toml.lock", tmpdir) < 0)
		abort();
	r = bind_artifact(path, "x", HASH_A, NULL, NULL, 0, 0, &msg);
	is_int(r, 0, "bind into a missing file creates it");
	is_file(path, "[x]\ngit-tree-sha1 = \"" HASH_A "\"\n", "created file content");
	ok(stat(path, &st) == 0 && (st.st_mode & 0777) == (0666 & ~022),
		"created 0644 (umask 022)");
	ok(stat(lock, &st) == 0, "lock file .<name>.lock left beside it");
	chmod(path, 0640);
	r = bind_artifact(path, "y", HASH_B, NULL, NULL, 0, 0, &msg);
	ok(r == 0 && stat(path, &st) == 0 && (st.st_mode & 0777) == 0640, "mode kept on rewrite");

	check_bind(path, "z", "xyz", NULL, NULL, 0, 0, -EINVAL, "bad hash: -EINVAL");
	{
		static const struct bind_download d[] = {{"u", "abc", 0, NULL}};

		static const struct bind_download e[] = {{"u", SHA_A, 0, ""}};

		check_bind(path, "z", HASH_A, NULL, d, 1, 0, -EINVAL, "bad sha256: -EINVAL");
		check_bind(path, "z", HASH_A, NULL, e, 1, 0, -EINVAL, "empty seek_index: -EINVAL");
	}
	check_bind(tmpdir, "z", HASH_A, NULL, NULL, 0, 0, -EISDIR, "a directory: -EISDIR");

	/* malformed files are never rewritten */
	if (asprintf(&bad, "%s/bad.toml", tmpdir) < 0)
		abort();
	tu_write_file(bad, "[x\ngit-tree-sha1 = 1\n");
	r = bind_artifact(bad, "z", HASH_A, NULL, NULL, 0, 0, &msg);
	is_int(r, -EINVAL, "TOML syntax error: -EINVAL");
	ok(msg && strstr(msg, "bad.toml:1:"), "message has file:line:column (%s)", msg ? msg : "");
	free(msg);
	msg = NULL;
	is_file(bad, "[x\ngit-tree-sha1 = 1\n", "malformed file unchanged");
	free(bad);

	bad = copy_fixture("Pkg.jl-tests/artifacts-bad_not_a_table.toml", "notatable.toml");
	text = tu_slurp(bad, NULL);
	{
		struct platform *p = parse("x86_64-linux-gnu");

		check_bind(bad, "broken_artifact", HASH_A, p, NULL, 0, 0, -EINVAL,
			"platform bind over a string value: -EINVAL");
		is_file(bad, text, "file unchanged");
		r = bind_artifact(bad, "broken_artifact", HASH_A, p, NULL, 0, BIND_FORCE, &msg);
		is_int(r, 0, "force replaces the string value");
		platform_free(p);
	}
	is_sel(bad, "broken_artifact", "x86_64-linux-gnu", HASH_A, "and it resolves");
	free(text);
	free(bad);
	free(msg);
	free(lock);
	free(path);
}

static void test_bind_many_atomic(void)
{
	char *path = copy_fixture("OpenSSL_jll.toml", "many.toml"), *orig = tu_slurp(path, NULL);
	static const char *const host[2] = {"x86_64-linux-gnu-cxx03", "x86_64-linux-gnu"};
	struct platform *p1 = parse(host[0]), *p2 = parse(host[1]);
	struct bind_request req[2] = {
		{.name = "OpenSSL", .hash = HASH_A, .platform = p1},
		{.name = "OpenSSL", .hash = HASH_B, .platform = p2},
	};
	char *msg = NULL;
	int r, i;

	r = bind_artifacts(path, req, 2, &msg);
	is_int(r, -EEXIST, "bind_artifacts: second request conflicts");
	is_file(path, orig, "all or nothing: file unchanged");
	free(msg);
	msg = NULL;
	req[1].flags = BIND_FORCE;
	r = bind_artifacts(path, req, 2, &msg);
	is_int(r, 0, "bind_artifacts with force on the second");
	for (i = 0; i < 2; i++)
		is_sel(path, "OpenSSL", host[i], req[i].hash, "request %d of 2 bound (%s)", i + 1,
			host[i]);
	free(msg);
	free(orig);
	free(path);
	platform_free(p1);
	platform_free(p2);
}

static void test_bind_apply(void)
{
	struct toml_value *root = NULL;
	struct bind_request req = {.name = "a", .hash = HASH_A};
	char *text = NULL, *msg = NULL;

	toml_parse("", 0, &root, NULL);
	is_int(bind_apply(root, &req, &msg), 0, "bind_apply on an in-memory document");
	is_int(bind_apply(root, &req, &msg), -EEXIST, "bind_apply again: -EEXIST");
	free(msg);
	msg = NULL;
	toml_print(root, &text, NULL);
	is_str(text, "[a]\ngit-tree-sha1 = \"" HASH_A "\"\n", "printed layout");
	free(text);
	toml_free(root);
}

static void test_symlink(void)
{
	char *target = copy_fixture("MozillaCACerts_jll.toml", "real.toml"), *link;
	struct stat st;
	int r;

	if (asprintf(&link, "%s/link.toml", tmpdir) < 0 || symlink("real.toml", link) < 0)
		abort();
	r = bind_artifact(link, "extra", HASH_A, NULL, NULL, 0, 0, NULL);
	is_int(r, 0, "bind through a symlink");
	ok(lstat(link, &st) == 0 && S_ISLNK(st.st_mode), "the symlink stays a symlink");
	is_sel(target, "extra", "x86_64-linux-gnu", HASH_A, "its target was edited");
	free(link);
	free(target);
}

/* ---- unbind ----------------------------------------------------------------------- */

static void test_unbind(void)
{
	char *path = copy_fixture("Zlib_jll.toml", "unbind.toml"), *want;
	char *orig = tu_slurp(path, NULL);
	struct platform *p = parse("aarch64-linux-gnu"), *q = parse("x86_64-linux-gnu-cxx11");
	char *msg = NULL;
	struct blocks b;
	int r;

	r = bind_unbind(path, "Zlib", p, &msg);
	is_int(r, 0, "unbind one platform (aarch64-linux-gnu)");
	split(orig, &b);
	want = expect(orig, find_block(&b, ZLIB_AARCH64_GLIBC), NULL);
	is_file(path, want, "only that entry removed, the rest byte-identical");
	ok(loads_strict(path), "the edited file loads");
	is_sel(path, "Zlib", "aarch64-linux-gnu", "(no match)", "aarch64 glibc host: no match now");
	is_sel(path, "Zlib", "x86_64-linux-gnu", ZLIB_X86_GLIBC, "x86_64 unaffected");

	r = bind_unbind(path, "Zlib", p, &msg);
	is_int(r, -ENOENT, "unbind it again: -ENOENT");
	free(msg);
	msg = NULL;
	r = bind_unbind(path, "Zlib", q, &msg);
	is_int(r, -ENOENT, "unbind a platform that only matches loosely: -ENOENT (equality)");
	free(msg);
	msg = NULL;
	is_file(path, want, "file unchanged by failed unbinds");
	r = bind_unbind(path, "nope", NULL, &msg);
	is_int(r, -ENOENT, "unbind an unknown name: -ENOENT");
	free(msg);
	msg = NULL;
	r = bind_unbind(path, "Zlib", NULL, &msg);
	is_int(r, 0, "unbind the whole name");
	is_file(path, "", "nothing left: empty document");
	free(want);

	/* removing the last platform entry removes the name */
	free(path);
	if (asprintf(&path, "%s/last.toml", tmpdir) < 0)
		abort();
	unlink(path);
	bind_artifact(path, "keep", HASH_B, NULL, NULL, 0, 0, NULL);
	bind_artifact(path, "one", HASH_A, p, NULL, 0, 0, NULL);
	r = bind_unbind(path, "one", p, &msg);
	is_int(r, 0, "unbind the only platform entry");
	is_file(path, "[keep]\ngit-tree-sha1 = \"" HASH_B "\"\n", "the name went with it");
	free(path);
	if (asprintf(&path, "%s/missing.toml", tmpdir) < 0)
		abort();
	r = bind_unbind(path, "one", NULL, &msg);
	is_int(r, -ENOENT, "unbind in a missing file: -ENOENT");
	free(msg);
	free(orig);
	free(path);
	platform_free(p);
	platform_free(q);
}

/* ---- add-mirror --------------------------------------------------------------------- */

/*
 * Adds URL as a mirror of NAME (SHA256, PLATFORM as bind_add_mirror()) in PATH
 * and checks that it returns WANT (WHAT).
 */
static void check_mirror(const char *path, const char *name, const char *url, const char *sha256,
	const struct platform *platform, int want, const char *what)
{
	char *msg = NULL;

	is_int(bind_add_mirror(path, name, url, sha256, platform, &msg), want, "%s", what);
	free(msg);
}

/*
 * Checks that NAME in PATH, selected for x86_64-linux-gnu, has two downloads,
 * the second at URL with the first one's sha256 (WHAT).
 */
static void is_mirrored(const char *path, const char *name, const char *url, const char *what)
{
	const struct artifact_download *d;
	const struct artifact_entry *e;
	struct artifacts *a;
	size_t n;

	e = select_entry(path, name, "x86_64-linux-gnu", &a);
	n = e ? artifact_entry_downloads(e, &d) : 0;
	ok(n == 2 && strcmp(d[1].url, url) == 0 && strcmp(d[0].sha256, d[1].sha256) == 0, "%s",
		what);
	artifacts_free(a);
}

static void test_add_mirror(void)
{
	char *path = copy_fixture("MozillaCACerts_jll.toml", "mirror.toml"),
	     *orig = tu_slurp(path, NULL);
	char *zpath = copy_fixture("Zlib_jll.toml", "zmirror.toml"), *zorig = tu_slurp(zpath, NULL);
	struct platform *p = parse("x86_64-linux-gnu"), *q = parse("x86_64-linux-gnu-cxx11");
	char *want, *block;
	struct blocks b;
	int i;

	check_mirror(path, "MozillaCACerts", "https://mirror.example/cacert.tar.gz", NULL, NULL, 0,
		"add a mirror to a single table");
	is_mirrored(path, "MozillaCACerts", "https://mirror.example/cacert.tar.gz",
		"second download, same sha256 as the first");
	want = malloc(strlen(orig) + 256);
	sprintf(want, "%s    [[MozillaCACerts.download]]\n    sha256 = \"%s\"\n    url = \"%s\"\n",
		orig, "ae2d807ec041599ae184b9075dc59a0975fd8b573f2f682c4adfd089270dcc58",
		"https://mirror.example/cacert.tar.gz");
	is_file(path, want, "layout: appended after the first download");
	check_mirror(path, "MozillaCACerts", "https://mirror.example/cacert.tar.gz", NULL, NULL, 0,
		"the same URL again succeeds");
	is_file(path, want, "... without adding it twice");
	check_mirror(path, "MozillaCACerts", "https://other/x", SHA_A, NULL, -EBADMSG,
		"a sha256 that differs from the existing one: -EBADMSG");
	check_mirror(path, "nope", "https://other/x", NULL, NULL, -ENOENT, "unknown name: -ENOENT");
	check_mirror(path, "MozillaCACerts", "https://other/x", NULL, p, -ENOENT,
		"a platform for a platform-independent name: -ENOENT");
	is_file(path, want, "file unchanged by the failures");
	free(want);

	check_mirror(zpath, "Zlib", "https://mirror/z.tar.gz", NULL, NULL, -ENOTUNIQ,
		"array name without a platform: -ENOTUNIQ");
	check_mirror(zpath, "Zlib", "https://mirror/z.tar.gz", NULL, q, -ENOENT,
		"a platform with no equal entry: -ENOENT");
	check_mirror(zpath, "Zlib", "https://mirror/z.tar.gz", NULL, p, 0,
		"add a mirror to the x86_64-linux-gnu entry");
	split(zorig, &b);
	i = find_block(&b, ZLIB_X86_GLIBC);
	block = strndup(b.start[i], b.len[i]);
	is_mirrored(zpath, "Zlib", "https://mirror/z.tar.gz", "the selected entry got the mirror");
	/* all other blocks byte-identical: drop the edited block from both sides */
	{
		char *got = tu_slurp(zpath, NULL), *g, *w;
		struct blocks gb;

		split(got, &gb);
		g = expect(got, find_block(&gb, ZLIB_X86_GLIBC), NULL);
		w = expect(zorig, i, NULL);
		is_str(g, w, "every other entry byte-identical");
		ok(strncmp(gb.start[find_block(&gb, ZLIB_X86_GLIBC)], block, strlen(block)) == 0,
			"the edited entry keeps its old text as a prefix");
		free(g);
		free(w);
		free(got);
	}
	free(block);

	/* an entry without downloads needs the sha256 */
	bind_artifact(zpath, "bare", HASH_A, NULL, NULL, 0, 0, NULL);
	check_mirror(zpath, "bare", "https://m/b.tar.gz", NULL, NULL, -ENODATA,
		"no download to copy the sha256 from: -ENODATA");
	check_mirror(zpath, "bare", "https://m/b.tar.gz", SHA_A, NULL, 0,
		"... given explicitly, it is used");
	is_sel(zpath, "bare", "x86_64-linux-gnu", HASH_A, "bare still resolves");
	ok(loads_strict(zpath), "the edited file loads");
	free(orig);
	free(zorig);
	free(path);
	free(zpath);
	platform_free(p);
	platform_free(q);
}

/* ---- concurrency -------------------------------------------------------------------- */

#define NPROC 8
#define NBIND 20

static void test_concurrent(void)
{
	char *path = copy_fixture("Zlib_jll.toml", "conc.toml"), *msg = NULL, name[64];
	struct artifacts *a = NULL;
	pid_t pids[NPROC];
	int i, j, st, failed = 0, missing = 0;

	for (i = 0; i < NPROC; i++) {
		pids[i] = fork();
		if (pids[i] == 0) {
			for (j = 0; j < NBIND; j++) {
				snprintf(name, sizeof(name), "proc%d_bind%d", i, j);
				if (bind_artifact(path, name, HASH_A, NULL, NULL, 0, 0, NULL) < 0)
					_exit(1);
			}
			_exit(0);
		}
	}
	for (i = 0; i < NPROC; i++)
		if (waitpid(pids[i], &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st))
			failed++;
	is_int(failed, 0, "%d processes x %d binds all succeeded", NPROC, NBIND);
	ok(artifacts_load(path, &a, &msg) == 0, "the file parses after concurrent binds");
	is_int(a ? artifacts_count(a) : 0, NPROC * NBIND + 1, "all %d names present (plus Zlib)",
		NPROC * NBIND);
	for (i = 0; a && i < NPROC; i++) {
		for (j = 0; j < NBIND; j++) {
			const struct artifact_entry *e;
			struct platform *h = NULL;

			snprintf(name, sizeof(name), "proc%d_bind%d", i, j);
			platform_host("x86_64-linux-gnu", &h);
			if (artifacts_select(a, name, h, &e, NULL) < 0)
				missing++;
			platform_free(h);
		}
	}
	is_int(missing, 0, "every name resolves");
	is_sel(path, "Zlib", "x86_64-linux-gnu", ZLIB_X86_GLIBC, "the original entries survive");
	artifacts_free(a);
	free(msg);
	free(path);
}

int main(void)
{
	const char *shared = tap_shared_dir();

	if (!shared) {
		printf("1..0 # SKIP ../shared not found (set ARTIFACTFS_SHARED)\n");
		return 0;
	}
	snprintf(fixdir, sizeof(fixdir), "%s/fixtures/artifacts-toml", shared);
	if (tu_mkdtemp(tmpdir, sizeof(tmpdir), "test-bind") < 0)
		return 1;
	umask(022);

	test_bind_new_platform();
	test_bind_force();
	test_bind_single_table();
	test_bind_tags_and_new_names();
	test_bind_new_file_and_errors();
	test_bind_many_atomic();
	test_bind_apply();
	test_symlink();
	test_unbind();
	test_add_mirror();
	test_concurrent();

	if (!getenv("ARTIFACTFS_KEEP"))
		tu_rmtree(tmpdir);
	return tap_done();
}
