/*
 * test-hash.c - store/hash.h: digests, hex, git blobs, tree hashing
 *
 * Known answers: FIPS 180 examples for SHA-1/SHA-256, git for blobs, and the
 * tree vectors of spec/julia-artifacts.md §2.6, each built both through a
 * tree_builder and on disk through tree_hash_dir().
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1	/* nftw */
#endif

#include "store/hash.h"
#include "tests/tap.h"
#include "tests/unit/util.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdbool.h>
#include <grp.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define EMPTY_TREE "4b825dc642cb6eb9a060e54bf8d69288fbee4904"
#define HELLO "Hello, world!"
#define FOO_TREE "339aad93c0f854604248ea3b7c5b7edea20625a9"

/* ---- digests -------------------------------------------------------------- */

static void test_digests(void)
{
	static const struct {
		enum hash_algo algo;
		const char *msg;
		const char *want;
	} kat[] = {
		{ HASH_SHA1, "", "da39a3ee5e6b4b0d3255bfef95601890afd80709" },
		{ HASH_SHA1, "abc", "a9993e364706816aba3e25717850c26c9cd0d89d" },
		{ HASH_SHA256, "",
			"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" },
		{ HASH_SHA256, "abc",
			"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" },
	};
	static const char *million[] = {
		[HASH_SHA1] = "34aa973cd4c4daa4f61eeb2bdbad27316534016f",
		[HASH_SHA256] = "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0",
	};
	uint8_t d[HASH_MAX_LEN];
	struct hash_ctx *ctx;
	char chunk[1000];
	size_t i;
	int algo, r;

	for (i = 0; i < sizeof(kat) / sizeof(kat[0]); i++) {
		r = hash_buffer(kat[i].algo, kat[i].msg, strlen(kat[i].msg), d);
		is_int(r, 0, "hash_buffer %s(\"%s\") succeeds",
			kat[i].algo == HASH_SHA1 ? "sha1" : "sha256", kat[i].msg);
		is_str(tu_hex(d, hash_algo_len(kat[i].algo)), kat[i].want, "%s(\"%s\")",
			kat[i].algo == HASH_SHA1 ? "sha1" : "sha256", kat[i].msg);
	}

	/* one million 'a' fed in 1000-byte pieces; the context is reused */
	memset(chunk, 'a', sizeof(chunk));
	for (algo = HASH_SHA1; algo <= HASH_SHA256; algo++) {
		r = hash_ctx_new((enum hash_algo)algo, &ctx);
		is_int(r, 0, "hash_ctx_new %d", algo);
		if (r < 0)
			continue;
		is_int(hash_ctx_len(ctx), hash_algo_len((enum hash_algo)algo), "hash_ctx_len");
		/* some garbage first, thrown away by a reset */
		hash_ctx_update(ctx, "garbage", 7);
		is_int(hash_ctx_reset(ctx), 0, "hash_ctx_reset");
		for (i = 0; i < 1000; i++)
			hash_ctx_update(ctx, chunk, sizeof(chunk));
		is_int(hash_ctx_final(ctx, d), 0, "hash_ctx_final");
		is_str(tu_hex(d, hash_ctx_len(ctx)), million[algo], "%s of a million 'a'",
			algo == HASH_SHA1 ? "sha1" : "sha256");
		/* after final the context is ready for a new message */
		hash_ctx_update(ctx, "abc", 3);
		hash_ctx_final(ctx, d);
		is_str(tu_hex(d, hash_ctx_len(ctx)), kat[algo == HASH_SHA1 ? 1 : 3].want,
			"context reused after final");
		hash_ctx_free(ctx);
	}
	hash_ctx_free(NULL);
	ok(hash_ctx_new((enum hash_algo)7, &ctx) == -EINVAL, "unknown algorithm is -EINVAL");
	is_int(hash_algo_len((enum hash_algo)0), 0, "hash_algo_len of an unknown algorithm");
}

static void test_git_blob(void)
{
	uint8_t d[HASH_SHA1_LEN];
	struct hash_ctx *ctx;

	is_int(hash_git_blob(HASH_SHA1, HELLO, strlen(HELLO), d), 0, "hash_git_blob");
	is_str(tu_hex(d, 20), "5dd01c177f5d7d1be5346a5bc18a569a7410c2ef", "git blob of \"%s\"",
		HELLO);
	hash_git_blob(HASH_SHA1, "", 0, d);
	is_str(tu_hex(d, 20), "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391", "git blob of \"\"");

	/* streamed in pieces, as an unpacker does */
	if (hash_ctx_new(HASH_SHA1, &ctx) < 0) {
		ok(0, "hash_ctx_new");
		return;
	}
	is_int(hash_git_blob_start(ctx, strlen(HELLO)), 0, "hash_git_blob_start");
	hash_ctx_update(ctx, "Hello", 5);
	hash_ctx_update(ctx, ", ", 2);
	hash_ctx_update(ctx, "world!", 6);
	hash_ctx_final(ctx, d);
	is_str(tu_hex(d, 20), "5dd01c177f5d7d1be5346a5bc18a569a7410c2ef", "streamed git blob");
	hash_ctx_free(ctx);
}

/* ---- hex ------------------------------------------------------------------- */

static void test_hex(void)
{
	static const char *bad[] = {
		"4b825dc642cb6eb9a060e54bf8d69288fbee490",	/* 39 digits */
		"4b825dc642cb6eb9a060e54bf8d69288fbee49044",	/* 41 */
		"4b825dc642cb6eb9a060e54bf8d69288fbee49g4",	/* 'g' */
		"4b825dc642cb6eb9a060e54bf8d69288fbee490 ",	/* space */
		"0x825dc642cb6eb9a060e54bf8d69288fbee4904",	/* prefix */
		"",
	};
	uint8_t d[HASH_SHA1_LEN], keep[HASH_SHA1_LEN];
	char up[] = "4B825DC642CB6EB9A060E54BF8D69288FBEE4904";
	uint8_t all[256];
	char h[513];
	uint8_t back[256];
	size_t i;

	is_int(hash_from_hex(EMPTY_TREE, 40, d, 20), 0, "decode lowercase");
	is_str(tu_hex(d, 20), EMPTY_TREE, "hex round-trip");
	memset(d, 0, sizeof(d));
	is_int(hash_from_hex(up, 40, d, 20), 0, "decode uppercase");
	is_str(tu_hex(d, 20), EMPTY_TREE, "uppercase decodes to the same bytes");

	for (i = 0; i < 256; i++)
		all[i] = (uint8_t)i;
	hash_to_hex(all, 256, h);
	ok(strlen(h) == 512 && h[0] == '0' && h[1] == '0' && strcmp(h + 508, "feff") == 0,
		"encode every byte value");
	ok(hash_from_hex(h, 512, back, 256) == 0 && memcmp(back, all, 256) == 0,
		"round-trip every byte value");

	memset(keep, 0xa5, sizeof(keep));
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memcpy(d, keep, sizeof(d));
		is_int(hash_from_hex(bad[i], strlen(bad[i]), d, 20), -EINVAL, "reject '%s'",
			bad[i]);
		ok(memcmp(d, keep, sizeof(d)) == 0, "output untouched after rejecting '%s'",
			bad[i]);
	}
	is_int(hash_from_hex("abc", 3, d, 1), -EINVAL, "reject an odd number of digits");
	is_int(hash_from_hex(EMPTY_TREE, 40, d, 32), -EINVAL, "reject 40 digits for 32 bytes");

	{
		char low[41];

		ok(hash_hex_lower(up, 40, 40, low), "hex_lower takes 40 uppercase digits");
		is_str(low, EMPTY_TREE, "... and lowercases them");
		ok(hash_hex_lower(EMPTY_TREE, 40, 40, low) && strcmp(low, EMPTY_TREE) == 0,
			"hex_lower keeps lowercase digits");
		ok(!hash_hex_lower(EMPTY_TREE, 39, 40, low), "hex_lower: 39 digits for 40 refused");
		ok(!hash_hex_lower("4b825dc642cb6eb9a060e54bf8d69288fbee490g", 40, 40, low),
			"hex_lower: a non-hex digit refused");
		ok(!hash_hex_lower("4b825dc642cb6eb9a060e54bf8d69288fbee49\0" "0", 40, 40, low),
			"hex_lower: an embedded NUL refused");
		ok(hash_hex_valid(up, 40) && hash_hex_valid(EMPTY_TREE, 40),
			"hex_valid takes 40 digits of either case");
		ok(!hash_hex_valid(EMPTY_TREE, 64), "hex_valid: 40 digits for 64 refused");
		ok(!hash_hex_valid("4b825dc642cb6eb9a060e54bf8d69288fbee490g", 40),
			"hex_valid: a non-hex digit refused");
		ok(!hash_hex_valid(NULL, 40), "hex_valid: NULL refused");
	}
}

/* ---- tree vectors ------------------------------------------------------------- */

/*
 * A tree description shared by the builder and the disk: kind 'f' file,
 * 'x' executable file, 'l' symlink (data = target), 'd' directory; the data
 * length is strlen unless len is set.
 */
struct ent {
	char kind;
	const char *path;
	const char *data;
	size_t len;
};

#define END { 0, NULL, NULL, 0 }

static size_t ent_len(const struct ent *e)
{
	return e->len ? e->len : e->data ? strlen(e->data) : 0;
}

static int build(struct tree_builder *tb, const struct ent *e)
{
	uint8_t oid[HASH_SHA1_LEN];
	int r = 0;

	for (; e->kind && r >= 0; e++) {
		switch (e->kind) {
		case 'f':
		case 'x':
			r = hash_git_blob(HASH_SHA1, e->data, ent_len(e), oid);
			if (r >= 0)
				r = tree_builder_add_file(tb, e->path, e->kind == 'x', oid);
			break;
		case 'l':
			r = tree_builder_add_symlink(tb, e->path, e->data, ent_len(e));
			break;
		case 'd':
			r = tree_builder_add_dir(tb, e->path);
			break;
		}
	}
	return r;
}

/* builder_hash - hash of ents through a builder with flags, as hex (static) */
static const char *builder_hash(const struct ent *ents, unsigned flags)
{
	struct tree_builder *tb;
	uint8_t oid[HASH_SHA1_LEN];
	int r;

	if (tree_builder_new(&tb) < 0)
		return "(tree_builder_new failed)";
	r = build(tb, ents);
	if (r >= 0)
		r = tree_builder_final(tb, flags, oid);
	tree_builder_free(tb);
	if (r < 0)
		return "(builder failed)";
	return tu_hex(oid, 20);
}

static char scratch_root[4096];

/* make_dir - a fresh scratch directory holding ents; NULL on failure */
static const char *make_dir(const struct ent *e)
{
	static char dir[4200];
	static unsigned seq;
	char path[8192];
	int fd;

	snprintf(dir, sizeof(dir), "%s/t%u", scratch_root, seq++);
	if (mkdir(dir, 0755) < 0)
		return NULL;
	for (; e->kind; e++) {
		snprintf(path, sizeof(path), "%s/%s", dir, e->path);
		switch (e->kind) {
		case 'f':
		case 'x':
			fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
			if (fd < 0)
				return NULL;
			if (write(fd, e->data, ent_len(e)) != (ssize_t)ent_len(e) ||
				fchmod(fd, e->kind == 'x' ? 0755 : 0644) < 0) {
				close(fd);
				return NULL;
			}
			close(fd);
			break;
		case 'l':
			if (symlink(e->data, path) < 0)
				return NULL;
			break;
		case 'd':
			if (mkdir(path, 0755) < 0)
				return NULL;
			break;
		}
	}
	return dir;
}

static const char *disk_hash(const char *dir, unsigned flags)
{
	uint8_t oid[HASH_SHA1_LEN];
	char *errpath = (char *)"unset";
	int r;

	if (!dir)
		return "(cannot create the scratch tree)";
	r = tree_hash_dir(dir, flags, oid, &errpath);
	if (r < 0) {
		diag("tree_hash_dir: %s: %s", errpath ? errpath : "?", strerror(-r));
		free(errpath);
		return "(tree_hash_dir failed)";
	}
	if (errpath)
		return "(errpath not reset on success)";
	return tu_hex(oid, 20);
}

/* check - a vector through the builder and on disk, with the same flags */
static void check(const char *name, const struct ent *ents, unsigned flags, const char *want)
{
	const char *dir;

	is_str(builder_hash(ents, flags), want, "builder: %s", name);
	dir = make_dir(ents);
	is_str(disk_hash(dir, flags), want, "disk: %s", name);
}

/*
 * check() of ENTS hashed as they are (WANT, named WHAT) and with TREE_TARJL,
 * which keeps empty directories (WANT_KEEP, named WHAT_KEEP).
 */
static void check_keep(const struct ent *ents, const char *what, const char *want,
	const char *what_keep, const char *want_keep)
{
	check(what, ents, 0, want);
	check(what_keep, ents, TREE_TARJL, want_keep);
}

static void test_vectors(void)
{
	const struct ent empty[] = { END };
	const struct ent foo[] = { { 'f', "foo", HELLO, 0 }, END };
	const struct ent foo12[] = {
		{ 'f', "foo1", "Hello", 0 }, { 'f', "foo2", "world!", 0 }, END,
	};
	/* Pkg test/artifacts.jl: empty dirs ignored, links not followed */
	const struct ent complex[] = {
		{ 'd', "bar", NULL, 0 },
		{ 'd', "bar/bar", NULL, 0 },
		{ 'f', "bar/bar/foo1", "Hello", 0 },
		{ 'f', "bar/foo2", "world!", 0 },
		{ 'f', "foo3", "baz!", 0 },
		{ 'd', "x7Tq2", NULL, 0 },
		{ 'd', "x7Tq2/inner", NULL, 0 },
		{ 'l', "foo3_link", "foo3", 0 },
		{ 'l', "bar/infinite_link", "../bar", 0 },
		END,
	};
	const struct ent sfoo[] = { { 'f', "foo", "foo", 0 }, END };
	const struct ent sbar[] = { { 'f', "bar", "bar", 0 }, END };
	const struct ent sbaz[] = { { 'f', "baz", "baz", 0 }, END };
	const struct ent exec[] = { { 'x', "foo", HELLO, 0 }, END };
	const struct ent e1[] = { { 'f', "foo", HELLO, 0 }, { 'd', "e", NULL, 0 }, END };
	const struct ent e2[] = {
		{ 'f', "foo", HELLO, 0 }, { 'd', "e", NULL, 0 }, { 'd', "e/inner", NULL, 0 }, END,
	};
	const struct ent order[] = {
		{ 'd', "a", NULL, 0 }, { 'f', "a/f", "x", 0 },
		{ 'f', "a.b", "y", 0 }, { 'f', "a0", "z", 0 }, END,
	};
	const struct ent v528[] = {
		{ 'd', "5.28.1", NULL, 0 }, { 'f', "5.28.1/f", "x", 0 },
		{ 'l', "5.28", "5.28.1", 0 }, END,
	};
	const struct ent schoen[] = { { 'l', "link", "sch\xc3\xb6n", 0 }, END };

	check_keep(empty, "empty tree", EMPTY_TREE, "empty tree, keep-empty", EMPTY_TREE);
	check("foo", foo, 0, FOO_TREE);
	check("foo1 + foo2", foo12, 0, "98cda294312216b19e2a973e9c291c0f5181c98c");
	check("links and empty dirs", complex, 0, "86a1ce580587d5851fdfa841aeb3c8d55663f6f9");
	check("foo=foo", sfoo, 0, "2f42e2c1c1afd4ef8c66a2aaba5d5e1baddcab33");
	check("bar=bar", sbar, 0, "64d0b4f8d9c004b862b38c4acfbd74988226995c");
	check("baz=baz", sbaz, 0, "087d8c93bff2f2b05f016bcd6ec653c8def76568");
	check("mode 0755", exec, 0, "12d608198abb00873cab63f54abbfa4b6176cdc6");
	check_keep(e1, "empty dir e, default", FOO_TREE, "empty dir e, keep-empty",
		"b432e92555272d36383341668e0c9e63683a0877");
	check_keep(e2, "empty dir e/inner, default", FOO_TREE, "empty dir e/inner, keep-empty",
		"e9ea92c6bf62f379c60280ddf00712ba09c6cb16");
	check("ordering a/ a.b a0", order, 0, "cb21d9b7679a994c828816ff5cdeb6aac3987555");
	check("symlink 5.28 -> 5.28.1 (#2881)", v528, 0,
		"c3e1c4267db6382c4a50369511d9caddb76ca29d");
	check("link -> schön, bytes", schoen, 0, "289b9713bf8902fbd0688b0ca5584ec4cf08fdc9");
	check("link -> schön, legacy characters", schoen, TREE_LEGACY_SYMLINKS,
		"23b444ffcdb0f0581971360378088dbaf47c011e");
	check("ASCII link, legacy rule changes nothing", v528, TREE_LEGACY_SYMLINKS,
		"c3e1c4267db6382c4a50369511d9caddb76ca29d");
}

/*
 * Julia's length() on invalid UTF-8: a lead byte absorbs only the
 * continuation bytes that follow it; every other byte is one character.
 */
static void test_legacy_length(void)
{
	static const struct {
		const char *target;
		uint64_t chars;
	} cases[] = {
		{ "\xe2\x82", 1 },		/* truncated 3-byte sequence */
		{ "\xff\xfe", 2 },		/* never valid */
		{ "a\xc3", 2 },			/* lead byte at the end */
		{ "\x80\x80", 2 },		/* lone continuation bytes */
		{ "\xf0\x9f\x98\x80!", 2 },	/* emoji + '!' */
		{ "\xc3\xb6\xb6", 2 },		/* one continuation byte too many */
	};
	struct tree_builder *tb;
	struct hash_ctx *ctx;
	uint8_t blob[HASH_SHA1_LEN], oid[HASH_SHA1_LEN];
	char want[HASH_HEX_MAX];
	uint8_t body[64];
	size_t i, len;

	if (hash_ctx_new(HASH_SHA1, &ctx) < 0)
		return;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		len = strlen(cases[i].target);
		hash_git_blob_start(ctx, cases[i].chars);
		hash_ctx_update(ctx, cases[i].target, len);
		hash_ctx_final(ctx, blob);
		/* the expected tree: "120000 l\0" + blob */
		memcpy(body, "120000 l", 9);
		memcpy(body + 9, blob, 20);
		hash_ctx_update(ctx, "tree 29", 8);
		hash_ctx_update(ctx, body, 29);
		hash_ctx_final(ctx, oid);
		hash_to_hex(oid, 20, want);

		tree_builder_new(&tb);
		tree_builder_add_symlink(tb, "l", cases[i].target, len);
		tree_builder_final(tb, TREE_LEGACY_SYMLINKS, oid);
		tree_builder_free(tb);
		is_str(tu_hex(oid, 20), want, "legacy length of case %zu is %llu characters", i,
			(unsigned long long)cases[i].chars);
	}
	hash_ctx_free(ctx);
}

/* ---- .git ------------------------------------------------------------------------ */

static void test_dotgit(void)
{
	const struct ent only_file[] = {
		{ 'f', "foo", HELLO, 0 }, { 'd', "d", NULL, 0 }, { 'f', "d/.git", "gitdir: x", 0 },
		END,
	};
	const struct ent nested[] = {
		{ 'f', "foo", HELLO, 0 }, { 'd', "d", NULL, 0 }, { 'd', "d/.git", NULL, 0 },
		{ 'd', "d/.git/x", NULL, 0 }, { 'f', "d/.git/x/config", "c", 0 },
		{ 'f', "d/y", "y", 0 }, END,
	};
	const struct ent only_dir[] = {
		{ 'f', "foo", HELLO, 0 }, { 'd', "d", NULL, 0 }, { 'd', "d/.git", NULL, 0 },
		{ 'd', "d/.git/x", NULL, 0 }, { 'f', "d/.git/x/config", "c", 0 }, END,
	};
	const struct ent empty_dotgit[] = {
		{ 'f', "foo", HELLO, 0 }, { 'd', "d", NULL, 0 }, { 'd', "d/.git", NULL, 0 },
		{ 'd', "d/.git/objects", NULL, 0 }, END,
	};
	const struct ent root_dir[] = {
		{ 'f', "foo", HELLO, 0 }, { 'd', ".git", NULL, 0 }, { 'f', ".git/HEAD", "ref", 0 },
		END,
	};
	const struct ent root_empty[] = { { 'f', "foo", HELLO, 0 }, { 'd', ".git", NULL, 0 }, END };
	const struct ent root_link[] = {
		{ 'f', "foo", HELLO, 0 }, { 'l', ".git", "elsewhere", 0 }, END,
	};

	/* a dir holding only a .git file counts as non-empty: "40000 d <empty tree>" */
	check_keep(only_file, ".git file alone makes its dir an empty tree",
		"3f3773e54be5aa8f8f0557dfb61c4594f5a5f080", ".git file kept with keep-empty",
		"e4891b4492ad55c2323907a5ee7569b34796072c");
	check_keep(nested, "nested .git dir skipped", "f1847a647bc4d0ba77028c5a32db3c73ae9f18d3",
		"nested .git dir kept with keep-empty", "cb9994ec574d9031f666063fb7326d36b605e382");
	check(".git dir with files alone makes its dir an empty tree", only_dir, 0,
		"3f3773e54be5aa8f8f0557dfb61c4594f5a5f080");
	check("dir holding only an empty .git dir is empty", empty_dotgit, 0, FOO_TREE);
	check_keep(root_dir, "root .git dir skipped", FOO_TREE,
		"root .git dir kept with keep-empty", "0e1facb1db56dad19a5b5d945465c27e98b2f5a0");
	check_keep(root_empty, "empty root .git dir", FOO_TREE, "empty root .git dir, keep-empty",
		"79cf5204bb4817b88318be1c59a8ec40e2a62fdb");
	check(".git symlink skipped", root_link, 0, FOO_TREE);
	check(".git file only, keep-empty without keep-dotgit", only_file, TREE_KEEP_EMPTY,
		"3f3773e54be5aa8f8f0557dfb61c4594f5a5f080");
}

/* ---- builder semantics ------------------------------------------------------------ */

static const char *final_hex(struct tree_builder *tb, unsigned flags)
{
	uint8_t oid[HASH_SHA1_LEN];
	int r = tree_builder_final(tb, flags, oid);

	if (r < 0)
		return "(final failed)";
	return tu_hex(oid, 20);
}

static void test_builder(void)
{
	uint8_t hello[HASH_SHA1_LEN], other[HASH_SHA1_LEN];
	struct tree_builder *tb;
	char deep[2 * TREE_MAX_DEPTH + 8];
	size_t i;

	hash_git_blob(HASH_SHA1, HELLO, strlen(HELLO), hello);
	hash_git_blob(HASH_SHA1, "other", 5, other);
	tree_builder_free(NULL);

	/* a later entry replaces an earlier one */
	tree_builder_new(&tb);
	tree_builder_add_file(tb, "foo", true, other);
	tree_builder_add_file(tb, "foo", false, hello);
	is_str(final_hex(tb, 0), FOO_TREE, "file replaces file");
	tree_builder_add_symlink(tb, "foo", "x", 1);
	tree_builder_add_file(tb, "foo", false, hello);
	is_str(final_hex(tb, 0), FOO_TREE, "file replaces symlink");
	tree_builder_add_file(tb, "foo/a/b", false, other);
	ok(strcmp(final_hex(tb, 0), FOO_TREE) != 0, "path below a file turns it into a directory");
	tree_builder_add_file(tb, "foo", false, hello);
	is_str(final_hex(tb, 0), FOO_TREE, "file replaces a directory and its subtree");
	tree_builder_add_dir(tb, "foo");
	is_str(final_hex(tb, 0), EMPTY_TREE, "directory replaces file (and is empty)");
	tree_builder_add_file(tb, "foo/x", false, other);
	{
		struct tree_builder *t2;
		char want[HASH_SHA1_LEN * 2 + 1];

		tree_builder_new(&t2);
		tree_builder_add_file(t2, "foo/x", false, other);
		snprintf(want, sizeof(want), "%s", final_hex(t2, 0));
		tree_builder_free(t2);
		tree_builder_add_dir(tb, "foo");
		is_str(final_hex(tb, 0), want,
			"directory entry over a directory keeps its contents (Tar.jl extract.jl)");
	}
	tree_builder_add_file(tb, "foo", false, hello);
	is_str(final_hex(tb, 0), FOO_TREE, "back to foo");
	is_str(final_hex(tb, TREE_TARJL), FOO_TREE, "final twice with other flags");
	tree_builder_free(tb);

	/* normalisation */
	tree_builder_new(&tb);
	is_int(tree_builder_add_file(tb, "./a//b/./c", false, hello), 0, "add ./a//b/./c");
	is_int(tree_builder_add_file(tb, "a/b/c/", false, other), 0, "trailing slash");
	is_int(tree_builder_add_file(tb, "a/b/c", false, hello), 0, "add a/b/c");
	is_int(tree_builder_add_dir(tb, "."), 0, "root entry '.' is ignored");
	is_int(tree_builder_add_dir(tb, "./"), 0, "root entry './' is ignored");
	is_int(tree_builder_add_dir(tb, ""), 0, "root entry '' is ignored");
	{
		const struct ent want[] = { { 'f', "a/b/c", HELLO, 0 }, END };

		is_str(final_hex(tb, 0), builder_hash(want, 0), "paths normalised");
	}

	/* rejections leave the tree unchanged */
	is_int(tree_builder_add_file(tb, "..", false, hello), -EINVAL, "reject ..");
	is_int(tree_builder_add_file(tb, "x/../y", false, hello), -EINVAL, "reject x/../y");
	is_int(tree_builder_add_file(tb, "x/..", false, hello), -EINVAL, "reject x/..");
	is_int(tree_builder_add_dir(tb, "a/../.."), -EINVAL, "reject a/../.. (dir)");
	is_int(tree_builder_add_symlink(tb, "../evil", "x", 1), -EINVAL, "reject ../evil (link)");
	is_int(tree_builder_add_file(tb, "/etc/passwd", false, hello), -EINVAL,
		"reject /etc/passwd");
	is_int(tree_builder_add_dir(tb, "/"), -EINVAL, "reject /");
	is_int(tree_builder_add_file(tb, "", false, hello), -EINVAL, "reject empty file path");
	is_int(tree_builder_add_file(tb, ".", false, hello), -EINVAL, "reject file at '.'");
	ok(tree_builder_add_file(tb, "...", false, hello) == 0, "'...' is an ordinary name");
	ok(tree_builder_add_file(tb, "..a", false, hello) == 0, "'..a' is an ordinary name");
	{
		const struct ent want[] = {
			{ 'f', "a/b/c", HELLO, 0 }, { 'f', "...", HELLO, 0 },
			{ 'f', "..a", HELLO, 0 }, END,
		};

		is_str(final_hex(tb, 0), builder_hash(want, 0), "rejected paths added nothing");
	}

	/* depth limit */
	deep[0] = '\0';
	for (i = 0; i <= TREE_MAX_DEPTH; i++)
		strcat(deep, i ? "/d" : "d");
	is_int(tree_builder_add_dir(tb, deep), -ENAMETOOLONG, "deeper than TREE_MAX_DEPTH");
	deep[strlen(deep) - 2] = '\0';
	is_int(tree_builder_add_file(tb, deep, false, hello), 0, "TREE_MAX_DEPTH components");
	ok(strcmp(final_hex(tb, 0), "(final failed)") != 0, "hash a tree TREE_MAX_DEPTH deep");
	tree_builder_free(tb);

	/* hardlinks copy the target's blob id */
	tree_builder_new(&tb);
	tree_builder_add_file(tb, "a/target", true, hello);
	is_int(tree_builder_add_hardlink(tb, "foo", "./a//target", false), 0, "hardlink");
	is_int(tree_builder_add_hardlink(tb, "foo2", "a/missing", false), -ENOENT,
		"hardlink to a missing file");
	is_int(tree_builder_add_hardlink(tb, "foo2", "a", false), -EINVAL, "hardlink to a dir");
	is_int(tree_builder_add_hardlink(tb, "foo2", "a/target/x", false), -ENOENT,
		"hardlink below a file");
	is_int(tree_builder_add_hardlink(tb, "foo2", "../a/target", false), -EINVAL,
		"hardlink to ../");
	tree_builder_add_symlink(tb, "l", "a/target", 8);
	is_int(tree_builder_add_hardlink(tb, "foo2", "l", false), -EINVAL, "hardlink to a symlink");
	is_int(tree_builder_add_hardlink(tb, "a/target", "a/target", true), 0,
		"hardlink to itself");
	{
		const struct ent want[] = {
			{ 'x', "a/target", HELLO, 0 }, { 'f', "foo", HELLO, 0 },
			{ 'l', "l", "a/target", 0 }, END,
		};

		is_str(final_hex(tb, 0), builder_hash(want, 0), "hardlinks hashed as copies");
	}
	tree_builder_free(tb);
}

/* many entries, added in two different orders, give one hash */
static void test_order_independence(void)
{
	struct tree_builder *a, *b;
	uint8_t oid[HASH_SHA1_LEN];
	char path[64], ha[HASH_HEX_MAX];
	int i, n = 20000;

	tree_builder_new(&a);
	tree_builder_new(&b);
	for (i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "d%d/f%d", i % 7, i);
		oid[0] = (uint8_t)i;
		tree_builder_add_file(a, path, i % 3 == 0, oid);
	}
	for (i = n - 1; i >= 0; i--) {
		snprintf(path, sizeof(path), "d%d/f%d", i % 7, i);
		oid[0] = (uint8_t)i;
		tree_builder_add_file(b, path, i % 3 == 0, oid);
		if (i % 1000 == 0)	/* and some duplicates */
			tree_builder_add_file(b, path, i % 3 == 0, oid);
	}
	snprintf(ha, sizeof(ha), "%s", final_hex(a, 0));
	is_str(final_hex(b, 0), ha, "%d entries in two orders", n);
	tree_builder_free(a);
	tree_builder_free(b);
}

/* ---- tree_hash_dir specifics ------------------------------------------------------- */


/*
 * perm_results - hash dir once per flags[i] (n of them) as a user without
 * privileges (a child that became nobody when we are root), and write one
 * "<return value> <errpath>" line per run into buf (size bytes).
 */
static void perm_results(const char *dir, const unsigned *flags, int n, char *buf, size_t size)
{
	uint8_t oid[HASH_SHA1_LEN];
	char *errpath;
	ssize_t got = 0, r;
	int fds[2], i;

	pid_t pid;
	FILE *f;

	buf[0] = '\0';
	if (pipe(fds) < 0)
		return;
	pid = fork();
	if (pid == 0) {
		close(fds[0]);
		if (geteuid() == 0 &&
		    (setgroups(0, NULL) < 0 || setgid(65534) < 0 || setuid(65534) < 0))
			_exit(2);
		f = fdopen(fds[1], "w");
		for (i = 0; f && i < n; i++) {
			int rr;

			errpath = NULL;
			rr = tree_hash_dir(dir, flags[i], oid, &errpath);
			fprintf(f, "%d %s\n", rr, errpath ? errpath : "");
			free(errpath);
		}
		if (f)
			fclose(f);
		_exit(0);
	}
	close(fds[1]);
	while (pid > 0 && (r = read(fds[0], buf + got, size - 1 - (size_t)got)) > 0)
		got += r;
	buf[got] = '\0';
	close(fds[0]);
	if (pid > 0)
		waitpid(pid, NULL, 0);
}

/* line_at - the i-th line of text, without its newline (static buffer). */
static const char *line_at(const char *text, int i)
{
	static char line[8400];
	const char *end;

	while (i-- > 0 && text && (text = strchr(text, '\n')))
		text++;
	if (!text)
		return "(missing)";
	end = strchr(text, '\n');
	snprintf(line, sizeof(line), "%.*s", end ? (int)(end - text) : (int)strlen(text), text);
	return line;
}

static void test_disk(void)
{
	static const unsigned both[] = { 0, TREE_ONE_THREAD };
	char results[17000], expect[8400], subpath[8300];
	const struct ent foo[] = { { 'f', "foo", HELLO, 0 }, END };
	uint8_t oid[HASH_SHA1_LEN];
	char path[8192], link[8192], missing[8192];
	const char *dir;
	char *errpath;
	int r, fd, i;

	/* a missing directory: the error names it */
	snprintf(missing, sizeof(missing), "%s/missing", scratch_root);
	errpath = NULL;
	r = tree_hash_dir(missing, 0, oid, &errpath);
	is_int(r, -ENOENT, "missing directory is -ENOENT");
	is_str(errpath, missing, "errpath names the missing directory");
	free(errpath);
	is_int(tree_hash_dir(missing, 0, oid, NULL), -ENOENT, "errpath may be NULL");

	/* a file is not a directory */
	dir = make_dir(foo);
	snprintf(path, sizeof(path), "%s/foo", dir ? dir : "");
	errpath = NULL;
	is_int(tree_hash_dir(path, 0, oid, &errpath), -ENOTDIR, "a file is -ENOTDIR");
	free(errpath);

	/* the root may be a symlink to a directory */
	snprintf(link, sizeof(link), "%s/rootlink", scratch_root);
	ok(dir && symlink(dir, link) == 0, "symlink to the root");
	is_str(disk_hash(link, 0), FOO_TREE, "root symlink is followed");

	/* a fifo is an empty file and is not opened (no blocking) */
	dir = make_dir(foo);
	snprintf(path, sizeof(path), "%s/fifo", dir ? dir : "");
	ok(dir && mkfifo(path, 0644) == 0, "mkfifo");
	{
		const struct ent want[] = { { 'f', "foo", HELLO, 0 }, { 'f', "fifo", "", 0 }, END };

		is_str(disk_hash(dir, 0), builder_hash(want, 0), "fifo hashed as an empty file");
	}
	chmod(path, 0744);
	{
		const struct ent want[] = { { 'f', "foo", HELLO, 0 }, { 'x', "fifo", "", 0 }, END };

		is_str(disk_hash(dir, 0), builder_hash(want, 0), "owner-x fifo is 100755");
	}

	/* only the owner-x bit makes a file executable */
	dir = make_dir(foo);
	snprintf(path, sizeof(path), "%s/foo", dir ? dir : "");
	chmod(path, 0655);
	is_str(disk_hash(dir, 0), FOO_TREE, "group/other x bits do not count");
	chmod(path, 0700);
	is_str(disk_hash(dir, 0), "12d608198abb00873cab63f54abbfa4b6176cdc6", "owner x counts");

	/* a large file, read in several buffers */
	dir = make_dir(foo);
	snprintf(path, sizeof(path), "%s/big", dir ? dir : "");
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd >= 0) {
		static char chunk[1000000];
		struct tree_builder *tb;
		struct hash_ctx *ctx;
		uint8_t blob[HASH_SHA1_LEN];

		memset(chunk, 'a', sizeof(chunk));
		hash_ctx_new(HASH_SHA1, &ctx);
		hash_git_blob_start(ctx, 3 * sizeof(chunk) + 7);
		for (i = 0; i < 3; i++) {
			chunk[0] = (char)('0' + i);
			if (write(fd, chunk, sizeof(chunk)) < 0)
				break;
			hash_ctx_update(ctx, chunk, sizeof(chunk));
		}
		if (write(fd, "tail...", 7) < 0)
			diag("write failed");
		hash_ctx_update(ctx, "tail...", 7);
		hash_ctx_final(ctx, blob);
		hash_ctx_free(ctx);
		close(fd);
		tree_builder_new(&tb);
		hash_git_blob(HASH_SHA1, HELLO, strlen(HELLO), oid);
		tree_builder_add_file(tb, "foo", false, oid);
		tree_builder_add_file(tb, "big", false, blob);
		is_str(disk_hash(dir, 0), final_hex(tb, 0), "3 MB file hashed in pieces");
		tree_builder_free(tb);
	} else {
		ok(0, "create big file");
	}

	/*
	 * An unreadable file or directory fails, naming it.  Root reads
	 * everything, so as root the checks run in a child that has become
	 * nobody; it reports "<r> <errpath>" lines through a pipe and the
	 * assertions stay here, in one TAP stream.
	 */
	dir = make_dir(foo);
	snprintf(path, sizeof(path), "%s/foo", dir ? dir : "");
	chmod(path, 0);
	chmod(scratch_root, 0755);
	chmod(dir, 0755);
	perm_results(dir, both, 2, results, sizeof(results));
	for (i = 0; i < 2; i++) {
		snprintf(expect, sizeof(expect), "%d %s", -EACCES, path);
		is_str(line_at(results, i), expect, "unreadable file is -EACCES, named (%s)",
			i ? "one thread" : "workers");
	}
	chmod(path, 0644);
	snprintf(subpath, sizeof(subpath), "%s/sub", dir ? dir : "");
	mkdir(subpath, 0);
	perm_results(dir, both, 1, results, sizeof(results));
	snprintf(expect, sizeof(expect), "%d %s", -EACCES, subpath);
	is_str(line_at(results, 0), expect, "unreadable directory is -EACCES, named");
	chmod(subpath, 0755);
}

/* worker threads and the calling thread alone give the builder's hash */
static void test_threads(void)
{
	char dir[4200], path[8300], data[64];
	struct tree_builder *tb;
	uint8_t oid[HASH_SHA1_LEN];
	char want[HASH_HEX_MAX];
	int i, fd, n = 600;

	snprintf(dir, sizeof(dir), "%s/many", scratch_root);
	mkdir(dir, 0755);
	tree_builder_new(&tb);
	for (i = 0; i < 10; i++) {
		snprintf(path, sizeof(path), "%s/d%d", dir, i);
		mkdir(path, 0755);
	}
	for (i = 0; i < n; i++) {
		int len = snprintf(data, sizeof(data), "file %d", i);

		snprintf(path, sizeof(path), "%s/d%d/f%d", dir, i % 10, i);
		fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, i % 4 ? 0644 : 0755);
		if (fd < 0 || write(fd, data, (size_t)len) != len)
			diag("cannot write %s", path);
		if (fd >= 0)
			close(fd);
		hash_git_blob(HASH_SHA1, data, (size_t)len, oid);
		tree_builder_add_file(tb, path + strlen(dir) + 1, i % 4 == 0, oid);
	}
	snprintf(want, sizeof(want), "%s", final_hex(tb, 0));
	tree_builder_free(tb);
	is_str(disk_hash(dir, 0), want, "%d files, worker threads", n);
	is_str(disk_hash(dir, TREE_ONE_THREAD), want, "%d files, calling thread only", n);
}

/* ---- tree objects (tree_builder_objects) ------------------------------------------ */

struct got_objs {
	unsigned n;
	uint8_t first[HASH_SHA1_LEN];
	bool bad_hash;		/* an object that does not hash to its id */
	bool seen_twice;
	uint8_t ids[64][HASH_SHA1_LEN];
	char *content[64];
	size_t len[64];
};

static int collect(void *arg, const uint8_t oid[HASH_SHA1_LEN], const void *content, size_t len)
{
	struct got_objs *g = arg;
	uint8_t want[HASH_SHA1_LEN];
	struct hash_ctx *ctx;
	char hdr[32];
	unsigned i;
	int n = snprintf(hdr, sizeof(hdr), "tree %zu", len);

	if (g->n == 64)
		return -E2BIG;
	if (hash_ctx_new(HASH_SHA1, &ctx) < 0)
		return -ENOMEM;
	hash_ctx_update(ctx, hdr, (size_t)n + 1);
	hash_ctx_update(ctx, content, len);
	hash_ctx_final(ctx, want);
	hash_ctx_free(ctx);
	if (memcmp(want, oid, HASH_SHA1_LEN) != 0)
		g->bad_hash = true;
	for (i = 0; i < g->n; i++)
		if (memcmp(g->ids[i], oid, HASH_SHA1_LEN) == 0)
			g->seen_twice = true;
	if (g->n == 0)
		memcpy(g->first, oid, HASH_SHA1_LEN);
	memcpy(g->ids[g->n], oid, HASH_SHA1_LEN);
	g->content[g->n] = malloc(len + 1);
	if (!g->content[g->n])
		return -ENOMEM;
	memcpy(g->content[g->n], content, len);
	g->len[g->n++] = len;
	return 0;
}

static void got_free(struct got_objs *g)
{
	unsigned i;

	for (i = 0; i < g->n; i++)
		free(g->content[i]);
}

/* objects_of - the tree objects of ents into g; the root id as hex, or a "(...)" */
static const char *objects_of(const struct ent *ents, struct got_objs *g)
{
	struct tree_builder *tb;
	uint8_t oid[HASH_SHA1_LEN];
	int r;

	memset(g, 0, sizeof(*g));
	if (tree_builder_new(&tb) < 0)
		return "(tree_builder_new failed)";
	r = build(tb, ents);
	if (r >= 0)
		r = tree_builder_final(tb, 0, oid);
	if (r >= 0)
		r = tree_builder_objects(tb, collect, g);
	/* the builder is unchanged: the hash is the same after */
	if (r >= 0 && strcmp(tu_hex(oid, 20), final_hex(tb, 0)) != 0)
		r = -EINVAL;
	tree_builder_free(tb);
	if (r < 0)
		return "(builder failed)";
	return tu_hex(oid, 20);
}

/* run - a shell command's first line of output (static), or "" */
static const char *run(const char *cmd)
{
	static char line[256];
	FILE *f = popen(cmd, "r");

	line[0] = '\0';
	if (!f)
		return line;
	if (!fgets(line, sizeof(line), f))
		line[0] = '\0';
	line[strcspn(line, "\n")] = '\0';
	pclose(f);
	return line;
}

static void test_objects(void)
{
	const struct ent tree[] = {
		{ 'f', "a", HELLO, 0 }, { 'x', "bin/tool", "#!/bin/sh\n", 0 },
		{ 'l', "sub/link", "../a", 0 }, { 'f', "sub/deep/f", "deep", 0 },
		{ 'd', "empty", NULL, 0 }, { 'd', "sub/empty2", NULL, 0 },
		{ 'f', "dup1/f", "same", 0 }, { 'f', "dup2/f", "same", 0 },
		{ 'f', "sub/.git", "gitdir: x", 0 }, { 'd', ".git", NULL, 0 },
		{ 'f', ".git/HEAD", "ref", 0 }, END,
	};
	/* what git sees of it: no .git entries (empty dirs it never sees) */
	const struct ent disk[] = {
		{ 'f', "a", HELLO, 0 }, { 'd', "bin", NULL, 0 }, { 'x', "bin/tool", "#!/bin/sh\n", 0 },
		{ 'd', "sub", NULL, 0 }, { 'l', "sub/link", "../a", 0 }, { 'd', "sub/deep", NULL, 0 },
		{ 'f', "sub/deep/f", "deep", 0 }, { 'd', "empty", NULL, 0 }, { 'd', "dup1", NULL, 0 },
		{ 'f', "dup1/f", "same", 0 }, { 'd', "dup2", NULL, 0 }, { 'f', "dup2/f", "same", 0 },
		END,
	};
	const struct ent only_file[] = {
		{ 'f', "foo", HELLO, 0 }, { 'd', "d", NULL, 0 }, { 'f', "d/.git", "gitdir: x", 0 },
		END,
	};
	const struct ent empty[] = { END };
	const char *git = getenv("GIT"), *dir, *root;
	char cmd[8192], want[41], path[4400], hex[41];
	struct got_objs g;
	unsigned i, same = 0;
	char *body;
	size_t blen;

	if (!git || !*git)
		git = "git";
	root = objects_of(tree, &g);
	snprintf(want, sizeof(want), "%s", root);
	ok(g.n > 0 && strcmp(tu_hex(g.first, 20), want) == 0, "objects: the root comes first");
	ok(!g.bad_hash, "objects: each hashes to its id");
	ok(!g.seen_twice, "objects: each distinct object once");
	/* git's own objects of the same tree */
	dir = make_dir(disk);
	snprintf(cmd, sizeof(cmd),
		"cd '%s' && %s init -q . && %s add -A && %s write-tree", dir ? dir : "/nonexistent",
		git, git, git);
	is_str(run(cmd), want, "objects: root = git write-tree of the same tree");
	snprintf(cmd, sizeof(cmd), "cd '%s' && %s ls-tree -r -t %s | awk '$2 == \"tree\" {print $3}' | sort -u | wc -l",
		dir ? dir : "/nonexistent", git, want);
	is_int(atoi(run(cmd)) + 1, (int)g.n, "objects: as many as git's distinct trees");
	for (i = 0; i < g.n && dir; i++) {
		hash_to_hex(g.ids[i], 20, hex);
		snprintf(path, sizeof(path), "%s/obj", dir);
		snprintf(cmd, sizeof(cmd), "cd '%s' && %s cat-file tree %s > obj && echo ok", dir,
			git, hex);
		body = strcmp(run(cmd), "ok") == 0 ? tu_slurp(path, &blen) : NULL;
		same += body && blen == g.len[i] && memcmp(body, g.content[i], blen) == 0;
		free(body);
	}
	is_int(same, g.n, "objects: each equals git cat-file tree");
	got_free(&g);

	/* a dir holding only a .git file: an empty tree object */
	root = objects_of(only_file, &g);
	is_str(root, "3f3773e54be5aa8f8f0557dfb61c4594f5a5f080", "objects: .git-only dir, root");
	ok(g.n == 2 && g.len[1] == 0 && !g.bad_hash &&
		strcmp(tu_hex(g.ids[1], 20), EMPTY_TREE) == 0,
		"objects: .git-only dir is the empty tree object");
	got_free(&g);
	root = objects_of(empty, &g);
	ok(g.n == 1 && g.len[0] == 0 && strcmp(root, EMPTY_TREE) == 0,
		"objects: an empty root is one empty tree");
	got_free(&g);
}

int main(void)
{
	const char *tmp = getenv("TMPDIR");

	test_digests();
	test_git_blob();
	test_hex();

	snprintf(scratch_root, sizeof(scratch_root), "%s/test-hash.XXXXXX",
		tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(scratch_root)) {
		ok(0, "mkdtemp %s", scratch_root);
		return tap_done();
	}
	test_vectors();
	test_legacy_length();
	test_dotgit();
	test_builder();
	test_order_independence();
	test_disk();
	test_threads();
	test_objects();
	tu_rmtree(scratch_root);
	return tap_done();
}
