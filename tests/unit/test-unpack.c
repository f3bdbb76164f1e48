/*
 * test-unpack.c - fetch/unpack.c: Tar.jl's rules, extraction, hashing (the
 * limits: test-unpack-limits.c; the tarball builders and the checks of
 * every run: unpack-fixture.h)
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

	/* absolute path: uf_outside is an absolute path beside uf_base */
	snprintf(abs_evil, sizeof(abs_evil), "%s", uf_outside);
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

	raw_hdr(&t, "l", '2', 0, uf_base);
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

int main(void)
{
	static void (*const tests[])(void) = {
		test_vectors, test_compressions, test_formats, test_modes, test_links,
		test_duplicates, test_rejections, test_malformed, NULL,
	};

	return uf_main("test-unpack", tests);
}
