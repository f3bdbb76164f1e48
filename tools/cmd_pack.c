/*
 * cmd_pack.c - artifactctl pack: write a directory as a deterministic
 * tarball in Tar.jl's canonical form (tools/publish/pack.h)
 */
#include "tools/artifactctl.h"
#include "tools/publish/pack.h"
#include "tools/publish/sidecar.h"
#include "tools/progress.h"

#include "store/hash.h"

#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define PROGRESS_MIN_TOTAL (64u << 20) /* trees smaller than this show no progress */

static void usage(FILE *f)
{
	fprintf(f,
		"usage: %s pack [-o OUT] [--level N] [-j N] [--json] DIR\n"
		"\n"
		"Write DIR as a tarball exactly as Julia's Tar.create writes it (sorted\n"
		"entries, zero owners and times, canonical modes, no end blocks), so the\n"
		"same tree gives the same bytes on every machine, and print\n"
		"    <git-tree-sha1> <sha256> <size> <OUT>\n"
		"where git-tree-sha1 is what Julia's Pkg verifies after unpacking (equal to\n"
		"'%s hash DIR'), and sha256 and size are those of OUT, ready for\n"
		"'%s bind'.  .git entries are packed but, as in Pkg, not hashed.\n"
		"Only files, directories and symlinks can be packed.\n"
		"\n"
		"Options:\n"
		"  -o, --output OUT  the tarball (default: DIR's name + .tar.gz); the name\n"
		"                    picks the compression: .tar.gz or .tgz gzip, .tar.zst\n"
		"                    zstd, .tar.xz xz, .tar none\n"
		"  -l, --level N     compression level (gzip 1-9, default 6; zstd 1-22,\n"
		"                    default 3; xz 0-9, default 6)\n"
		"  -j, --jobs N      compression threads, 1 to 64 (default: the number of\n"
		"                    cores); gzip and zstd write the same bytes for any N\n"
		"      --json        print one JSON object instead\n"
		"  -h, --help        show this help\n"
		"\n"
		"Exit status: 0 ok, 1 failure (unreadable or unsupported file, I/O), 64 usage.\n",
		progname, progname, progname);
}

static void show_progress(uint64_t done, uint64_t total, void *arg)
{
	ctl_bar_draw(arg, done, total, false);
}

/* The default output name: the last component of DIR + ".tar.gz". */
static char *default_output(const char *dir)
{
	char *copy, *real = NULL, *base, *out = NULL;

	copy = strdup(dir);
	if (!copy)
		ctl_erre(EXIT_FAIL, -ENOMEM, "pack");
	base = basename(copy);
	if (strcmp(base, ".") == 0 || strcmp(base, "..") == 0 || strcmp(base, "/") == 0) {
		real = realpath(dir, NULL);
		if (!real)
			ctl_erre(EXIT_FAIL, -errno, "cannot access '%s'", dir);
		base = basename(real);
		if (strcmp(base, "/") == 0) {
			free(real);
			free(copy);
			ctl_usage_error("pack", "cannot name a tarball after '/': give -o OUT");
		}
	}
	if (asprintf(&out, "%s.tar.gz", base) < 0)
		ctl_erre(EXIT_FAIL, -ENOMEM, "pack");
	free(real);
	free(copy);
	return out;
}

int cmd_pack(int argc, char **argv)
{
	enum { OPT_JSON = 256 };
	static const struct option opts[] = {
		{"output", required_argument, NULL, 'o'},
		{"level", required_argument, NULL, 'l'},
		{"jobs", required_argument, NULL, 'j'},
		{"json", no_argument, NULL, OPT_JSON},
		CTL_OPTIONS_END,
	};
	static const struct ctl_getopt g = {"pack", ":ho:l:j:", opts, usage, "a value", false};
	struct pack_opts po = {.compress = PACK_COMPRESS_AUTO, .level = -1};
	char tree[2 * HASH_SHA1_LEN + 1], tarjl[2 * HASH_SHA1_LEN + 1];
	char sha[2 * HASH_SHA256_LEN + 1];
	struct ctl_bar bar;
	struct pack_result res;
	char *out = NULL, *msg = NULL, *end;
	const char *dir, *outarg = NULL;
	bool json = false;
	long n;
	int c, r;

	while ((c = ctl_getopt(argc, argv, &g)) != -1) {
		switch (c) {
		case 'o':
			if (!*optarg)
				ctl_usage_error("pack", "empty output name");
			outarg = optarg;
			break;
		case 'l':
			errno = 0;
			n = strtol(optarg, &end, 10);
			if (errno || end == optarg || *end || n < 0 || n > 22)
				ctl_usage_error("pack", "invalid --level '%s'", optarg);
			po.level = (int)n;
			break;
		case 'j':
			errno = 0;
			n = strtol(optarg, &end, 10);
			if (errno || end == optarg || *end || n < 1 || n > PACK_JOBS_MAX)
				ctl_usage_error("pack", "invalid --jobs '%s': 1 to %d", optarg,
					PACK_JOBS_MAX);
			po.jobs = (int)n;
			break;
		case OPT_JSON:
			json = true;
			break;
		}
	}
	if (argc - optind != 1)
		ctl_usage_error("pack", argc == optind ? "missing DIR" : "too many arguments");
	dir = argv[optind];
	/* The default name ends in .tar.gz; check the level before allocating. */
	po.compress = pack_compress_from_name(outarg ? outarg : ".tar.gz");
	if (po.level >= 0 && ((po.compress == PACK_COMPRESS_GZIP && po.level < 1) ||
				     (po.compress == PACK_COMPRESS_ZSTD && po.level < 1) ||
				     (po.compress != PACK_COMPRESS_ZSTD && po.level > 9)))
		ctl_usage_error("pack", "invalid --level %d for %s", po.level,
			pack_compress_name(po.compress));
	out = outarg ? strdup(outarg) : default_output(dir);
	if (!out)
		ctl_erre(EXIT_FAIL, -ENOMEM, "pack");
	ctl_bar_init(&bar, PROGRESS_MIN_TOTAL);
	if (bar.tty) {
		ctl_bar_start(&bar, "packing");
		po.progress = show_progress;
		po.progress_arg = &bar;
	}

	r = pack_create(dir, out, &po, &res, &msg);
	ctl_bar_clear(&bar);
	if (r < 0) {
		ctl_warnx("%s", msg ? msg : strerror(-r));
		free(msg);
		free(out);
		return r == -EINVAL ? EXIT_USAGE : EXIT_FAIL; /* output inside DIR */
	}
	if (res.dotgit)
		ctl_warnx("'%s' holds %llu '.git' entr%s: packed, but left out of the "
			  "git-tree-sha1 as Julia's Pkg does",
			dir, (unsigned long long)res.dotgit, res.dotgit == 1 ? "y" : "ies");
	hash_to_hex(res.tree, HASH_SHA1_LEN, tree);
	hash_to_hex(res.tree_tarjl, HASH_SHA1_LEN, tarjl);
	hash_to_hex(res.sha256, HASH_SHA256_LEN, sha);
	if (json) {
		ctl_json_print(json_pack("{s:s, s:s, s:I, s:o, s:s, s:I, s:I, s:I, s:I, s:s}",
				       "git-tree-sha1", tree, "sha256", sha, "size",
				       (json_int_t)res.size, "path", sidecar_json_str(out),
				       "compression", pack_compress_name(res.compress), "tar_bytes",
				       (json_int_t)res.tar_bytes, "files", (json_int_t)res.files,
				       "bytes", (json_int_t)res.bytes, "dirs", (json_int_t)res.dirs,
				       "tarjl-tree-sha1", tarjl),
			0, "", "\n");
	} else {
		printf("%s %s %llu %s\n", tree, sha, (unsigned long long)res.size, out);
	}
	free(out);
	if (fflush(stdout) == EOF || ferror(stdout))
		ctl_erre(EXIT_FAIL, -errno, "cannot write to standard output");
	return EXIT_OK;
}
