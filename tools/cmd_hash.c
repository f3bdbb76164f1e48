/*
 * cmd_hash.c - artifactctl hash: print the git-tree-sha1 of a directory, or
 * of a tarball read as a stream without extracting it
 */
#include "tools/artifactctl.h"
#include "fetch/fetch.h"
#include "store/hash.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static void usage(FILE *f)
{
	fprintf(f,
		"usage: %s hash [--keep-empty] [--legacy-symlinks] DIR|TARBALL\n"
		"\n"
		"Print the git-tree-sha1 of DIR as Julia's Pkg computes it to verify an\n"
		"installed artifact: empty directories and .git entries are left out,\n"
		"symlinks are not followed, a file is executable when its owner-x bit is set.\n"
		"\n"
		"For a TARBALL (tar, gzip, bzip2, xz or zstd, found by its magic bytes) the\n"
		"tree hash of its contents is computed from the stream, without extracting,\n"
		"with Tar.jl's acceptance rules, and printed with the tarball's sha256:\n"
		"    <git-tree-sha1> <sha256>\n"
		"\n"
		"Options:\n"
		"  --keep-empty       hash like Tar.jl's tree_hash default (skip_empty=false):\n"
		"                     keep empty directories and .git entries\n"
		"  --legacy-symlinks  hash symlinks with Pkg's legacy blob length (characters\n"
		"                     of the target, not bytes), to diagnose old hashes\n"
		"  -h, --help         print this help\n",
		progname);
}

/*
 * hash_tarball - one pass over the stream (fetch_hash_tarball): the same
 * code that checks and hashes a download, with extraction turned off.
 */
static int hash_tarball(const char *path, unsigned flags)
{
	struct fetch_digests d;
	char tree[2 * HASH_SHA1_LEN + 1], sha[2 * HASH_SHA256_LEN + 1];
	const uint8_t *oid;
	char *msg = NULL;
	int r;

	r = fetch_hash_tarball(-1, path, &d, &msg);
	if (r < 0) {
		ctl_warnx("cannot hash '%s': %s", path, msg ? msg : strerror(-r));
		free(msg);
		return EXIT_FAIL;
	}
	oid = (flags & TREE_TARJL) ? d.tree_tarjl :
	      (flags & TREE_LEGACY_SYMLINKS) ? d.tree_legacy : d.tree;
	hash_to_hex(oid, HASH_SHA1_LEN, tree);
	hash_to_hex(d.sha256, HASH_SHA256_LEN, sha);
	printf("%s %s\n", tree, sha);
	if (fflush(stdout) == EOF || ferror(stdout))
		ctl_erre(EXIT_FAIL, -errno, "cannot write to standard output");
	return EXIT_OK;
}

int cmd_hash(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "keep-empty", no_argument, NULL, 'k' },
		{ "legacy-symlinks", no_argument, NULL, 'l' },
		CTL_OPTIONS_END,
	};
	static const struct ctl_getopt g = {"hash", "+h", opts, usage, "a value", true};
	uint8_t oid[HASH_SHA1_LEN];
	char hex[2 * HASH_SHA1_LEN + 1];
	unsigned flags = 0;
	char *errpath = NULL;
	const char *dir;
	struct stat st;
	int c, r;

	while ((c = ctl_getopt(argc, argv, &g)) != -1) {
		switch (c) {
		case 'k':
			flags |= TREE_TARJL;
			break;
		case 'l':
			flags |= TREE_LEGACY_SYMLINKS;
			break;
		}
	}
	if (optind == argc)
		ctl_usage_error("hash", "missing DIR or TARBALL");
	if (argc - optind > 1)
		ctl_usage_error("hash", "too many arguments");
	dir = argv[optind];

	if (stat(dir, &st) < 0)
		ctl_erre(EXIT_FAIL, -errno, "cannot access '%s'", dir);
	if (S_ISREG(st.st_mode))
		return hash_tarball(dir, flags);
	if (!S_ISDIR(st.st_mode))
		ctl_errx(EXIT_FAIL, "'%s' is not a directory", dir);

	r = tree_hash_dir(dir, flags, oid, &errpath);
	if (r < 0) {
		ctl_warne(r, "cannot hash '%s'", errpath ? errpath : dir);
		free(errpath);
		return EXIT_FAIL;
	}
	hash_to_hex(oid, sizeof(oid), hex);
	printf("%s\n", hex);
	if (fflush(stdout) == EOF || ferror(stdout))
		ctl_erre(EXIT_FAIL, -errno, "cannot write to standard output");
	return EXIT_OK;
}
