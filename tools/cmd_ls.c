/*
 * cmd_ls.c - artifactctl ls: list the installed artifacts of a store
 *
 *   artifactctl ls [--store DIR] [--json]
 *
 * Opens the store read-only (no reconcile, no lock files written) and walks
 * its index: one line per installed artifact with its size, file count,
 * last access and source, or a JSON array with --json.
 */
#include "tools/artifactctl.h"
#include "tools/store_opt.h"
#include "tools/publish/sidecar.h"

#include "store/util/units.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static void usage(FILE *f)
{
	fprintf(f, "usage: %s ls [--store DIR] [--json]\n\n"
		   "List the installed artifacts: hash, size, files, last access, source.\n\n"
		   "  --store DIR  the store (default: $ARTIFACTFS_STORE, else %s)\n"
		   "  --json       print a JSON array of objects\n",
		progname, CTL_STORE_DEFAULT);
}

struct ls {
	bool json;
	unsigned n;
};

static int print_row(const char *hash, const struct store_info *info, void *arg)
{
	struct ls *ls = arg;
	char t1[32], t2[32], sz[32];
	const char *installed, *last_access, *sha256;

	if (info->state != STORE_INSTALLED)
		return 0;
	if (!ls->json) {
		printf("%s  %10s  %7" PRIu64 "  %-20s  %s\n", hash,
			units_human_bytes(info->bytes, sz, sizeof(sz)), info->files,
			ctl_utc(info->last_access, t1), info->source ? info->source : "-");
		ls->n++;
		return 0;
	}
	installed = info->installed > 0 ? ctl_utc(info->installed, t1) : NULL;
	last_access = info->last_access > 0 ? ctl_utc(info->last_access, t2) : NULL;
	sha256 = info->tarball_sha256[0] ? info->tarball_sha256 : NULL;
	ctl_json_row(json_pack("{s:s, s:I, s:I, s:o, s:o, s:o, s:o}", "hash", hash, "bytes",
			     (json_int_t)info->bytes, "files", (json_int_t)info->files,
			     "installed", sidecar_json_str(installed), "last_access",
			     sidecar_json_str(last_access), "source",
			     sidecar_json_str(info->source), "tarball_sha256",
			     sidecar_json_str(sha256)),
		ls->n);
	ls->n++;
	return 0;
}

int cmd_ls(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "store", required_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' },
		CTL_OPTIONS_END,
	};
	static const struct ctl_getopt g = {"ls", "+:h", opts, usage, "an argument", false};
	struct ls ls = { false, 0 };
	const char *dir = NULL;
	struct store *s;
	int c, r;

	while ((c = ctl_getopt(argc, argv, &g)) != -1) {
		switch (c) {
		case 's':
			dir = optarg;
			break;
		case 'j':
			ls.json = true;
			break;
		}
	}
	if (optind < argc)
		ctl_usage_error("ls", "unexpected argument '%s'", argv[optind]);

	s = ctl_store_open(dir, STORE_RDONLY, NULL);
	if (!ls.json)
		printf("%-40s  %10s  %7s  %-20s  %s\n", "HASH", "SIZE", "FILES", "LAST ACCESS",
			"SOURCE");
	r = store_foreach(s, print_row, &ls);
	if (ls.json)
		ctl_json_rows_end(ls.n);
	if (r < 0)
		ctl_warnx("cannot list '%s': %s", store_dir(s), *store_errmsg(s) ?
			store_errmsg(s) : strerror(-r));
	store_close(s);
	if (fflush(stdout) != 0)
		ctl_erre(EXIT_FAIL, -errno, "cannot write the listing");
	return r < 0 ? EXIT_FAIL : EXIT_OK;
}
