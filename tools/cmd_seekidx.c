/*
 * cmd_seekidx.c - artifactctl seek-index: write the seek index of a gzip
 * tarball (doc/internals/seek-index.md), or copy the one a store keeps
 */
#include "tools/artifactctl.h"
#include "tools/store_opt.h"
#include "fetch/fetch.h"
#include "fetch/seekidx.h"
#include "store/hash.h"
#include "store/util/io.h"
#include "store/util/units.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void usage(FILE *f)
{
	fprintf(f,
		"usage: %s seek-index [--span BYTES] -o FILE TARBALL\n"
		"       %s seek-index --from-store HASH [--store DIR] -o FILE\n"
		"\n"
		"Write the seek index of a gzip TARBALL to FILE: its git tree objects, where\n"
		"each file's data is in the uncompressed stream, and gzip restart points with\n"
		"their 32 KiB windows, so that artifactfs with per_file=on can fetch and\n"
		"verify one file without the rest (doc/internals/seek-index.md).  Publish\n"
		"FILE beside the tarball as <tarball URL>.seekidx.  Prints the tree hash,\n"
		"the counts and the sizes.\n"
		"\n"
		"With --from-store, copy the index the store keeps for the artifact HASH\n"
		"(written when the daemon installed its gzip tarball) to FILE.\n"
		"\n"
		"Options:\n"
		"  -o, --output FILE    where to write the index (replaced atomically)\n"
		"      --span BYTES     uncompressed bytes between restart points (default\n"
		"                       1MiB; suffixes K, M, G, KiB, MiB, GiB)\n"
		"      --from-store HASH  copy the index kept in the store for HASH\n"
		"      --store DIR      the store (default $ARTIFACTFS_STORE, else\n"
		"                       " CTL_STORE_DEFAULT ")\n"
		"  -h, --help           print this help\n",
		progname, progname);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get64(const uint8_t *p)
{
	return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

/* write_out - len bytes at p to path, through a temporary renamed over it */
static void write_out(const char *path, const void *p, size_t len)
{
	char *tmp = NULL;
	int fd, r;

	fd = io_create_excl(path, '.', 100, 0, &tmp);
	if (fd < 0)
		ctl_erre(EXIT_FAIL, fd, "cannot create '%s'", tmp ? tmp : path);
	r = io_write_all(fd, p, len);
	r = io_replace(fd, r, tmp, path);
	free(tmp);
	if (r < 0)
		ctl_erre(EXIT_FAIL, r, "cannot write '%s'", path);
}

/* print - what the index at p (len bytes, built by us) holds */
static void print(const uint8_t *p, size_t len)
{
	char tree[2 * HASH_SHA1_LEN + 1], sha[2 * HASH_SHA256_LEN + 1];

	hash_to_hex(p + 32, HASH_SHA1_LEN, tree);
	hash_to_hex(p + 52, HASH_SHA256_LEN, sha);
	printf("tree %s\n", tree);
	printf("sha256 %s\n", sha);
	printf("tarball_size %llu\n", (unsigned long long)get64(p + 84));
	printf("stream_size %llu\n", (unsigned long long)get64(p + 92));
	printf("trees %u\n", get32(p + 104));
	printf("symlinks %u\n", get32(p + 108));
	printf("files %u\n", get32(p + 112));
	printf("points %u\n", get32(p + 116));
	printf("head_size %llu\n", (unsigned long long)get64(p + 16));
	printf("index_size %zu\n", len);
	if (fflush(stdout) == EOF || ferror(stdout))
		ctl_erre(EXIT_FAIL, -errno, "cannot write to standard output");
}

static int from_store(const char *store, const char *hash, const char *out)
{
	char hex[2 * HASH_SHA1_LEN + 1], *path = NULL;
	uint8_t *buf = NULL;
	struct stat st;
	ssize_t n;
	int fd;

	if (!hash_hex_lower(hash, strlen(hash), 2 * HASH_SHA1_LEN, hex))
		ctl_usage_error("seek-index", "'%s' is not a git-tree-sha1 (40 hex digits)", hash);
	/* store_seekidx_path() of store/partial.h names the same file */
	if (asprintf(&path, "%s/seekidx/%s", ctl_store_dir(store), hex) < 0)
		ctl_erre(EXIT_FAIL, -ENOMEM, "out of memory");
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0 && errno == ENOENT)
		ctl_errx(EXIT_FAIL, "no seek index kept for %s in '%s'", hex, ctl_store_dir(store));
	if (fd < 0)
		ctl_erre(EXIT_FAIL, -errno, "cannot open '%s'", path);
	if (fstat(fd, &st) < 0)
		ctl_erre(EXIT_FAIL, -errno, "cannot stat '%s'", path);
	if (st.st_size < SEEKIDX_FIXED)
		ctl_errx(EXIT_FAIL, "'%s' is not a seek index", path);
	buf = malloc((size_t)st.st_size);
	if (!buf)
		ctl_erre(EXIT_FAIL, -ENOMEM, "out of memory");
	n = pread(fd, buf, (size_t)st.st_size, 0);
	if (n != st.st_size)
		ctl_erre(EXIT_FAIL, n < 0 ? -errno : -EIO, "cannot read '%s'", path);
	close(fd);
	if (memcmp(buf, SEEKIDX_MAGIC, 8) != 0)
		ctl_errx(EXIT_FAIL, "'%s' is not a seek index", path);
	write_out(out, buf, (size_t)st.st_size);
	print(buf, (size_t)st.st_size);
	free(buf);
	free(path);
	return EXIT_OK;
}

int cmd_seekidx(int argc, char **argv)
{
	static const struct option opts[] = {
		{"output", required_argument, NULL, 'o'},
		{"span", required_argument, NULL, 's'},
		{"from-store", required_argument, NULL, 'f'},
		{"store", required_argument, NULL, 'S'},
		CTL_OPTIONS_END,
	};
	static const struct ctl_getopt g = {"seek-index", "+:ho:", opts, usage, "a value", true};
	const char *out = NULL, *store = NULL, *hash = NULL, *tarball;
	uint64_t span = 0;
	uint8_t *idx = NULL;
	size_t len = 0;
	char *msg = NULL;
	int c, r;

	while ((c = ctl_getopt(argc, argv, &g)) != -1) {
		switch (c) {
		case 'o':
			out = optarg;
			break;
		case 's':
			if (units_parse_bytes(optarg, &span) < 0 || span == 0 || span > UINT32_MAX)
				ctl_usage_error("seek-index",
					"--span: '%s' is not a size from 1 byte to 4GiB", optarg);
			break;
		case 'f':
			hash = optarg;
			break;
		case 'S':
			store = optarg;
			break;
		}
	}
	if (!out)
		ctl_usage_error("seek-index", "missing -o FILE");
	if (hash) {
		if (optind != argc)
			ctl_usage_error("seek-index", "--from-store takes no TARBALL");
		return from_store(store, hash, out);
	}
	if (store)
		ctl_usage_error("seek-index", "--store goes with --from-store");
	if (optind == argc)
		ctl_usage_error("seek-index", "missing TARBALL");
	if (argc - optind > 1)
		ctl_usage_error("seek-index", "too many arguments");
	tarball = argv[optind];
	r = fetch_seekidx_tarball(-1, tarball, span, &idx, &len, NULL, &msg);
	if (r < 0) {
		ctl_warnx("%s", msg ? msg : strerror(-r));
		free(msg);
		return EXIT_FAIL;
	}
	write_out(out, idx, len);
	print(idx, len);
	free(idx);
	return EXIT_OK;
}
