/*
 * cmd_root.c - artifactctl root: the gc roots of a store, by hand
 *
 *   artifactctl root add [--store DIR] FILE...
 *   artifactctl root rm [--store DIR] FILE...
 *   artifactctl root ls [--store DIR] [--json]
 *
 * A gc root is an Artifacts.toml whose every entry gc keeps (cmd_gc.c).
 * The daemon registers the files it serves and fetch the files it installs
 * from; this command manages them by hand.  add checks that FILE is a
 * readable Artifacts.toml (or a directory holding one) and registers the
 * file actually read, as fetch does; rm takes the path as registered (or a
 * path that resolves to it); ls shows each root with the time it was last
 * registered and whether it still exists (gc skips the ones that do not).
 */
#include "tools/artifactctl.h"
#include "tools/store_opt.h"
#include "tools/publish/sidecar.h"

#include "fetch/artifacts.h"
#include "store/store.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>


static void usage(FILE *f)
{
	fprintf(f,
		"usage: %s root add [--store DIR] FILE...\n"
		"       %s root rm [--store DIR] FILE...\n"
		"       %s root ls [--store DIR] [--json]\n\n"
		"Manage the gc roots: the Artifacts.toml files whose every entry gc keeps.\n\n"
		"  add FILE...  register FILE (an Artifacts.toml, or a directory holding one)\n"
		"  rm FILE...   unregister FILE\n"
		"  ls           list the roots: path, last registered, whether it exists\n"
		"  --store DIR  the store (default: $ARTIFACTFS_STORE, else %s)\n"
		"  --json       (ls) print a JSON array of objects\n",
		progname, progname, progname, CTL_STORE_DEFAULT);
}

struct ls {
	bool json;
	unsigned n;
};

static int print_root(const char *path, int64_t last_seen, void *arg)
{
	struct ls *ls = arg;
	struct stat st;
	bool there = stat(path, &st) == 0;
	char t[32];

	if (!ls->json) {
		printf("%-20s  %-7s  %s\n", ctl_utc(last_seen, t), there ? "yes" : "MISSING", path);
	} else {
		ctl_json_row(json_pack("{s:o, s:o, s:b}", "path", sidecar_json_str(path),
				     "last_seen",
				     sidecar_json_str(last_seen > 0 ? ctl_utc(last_seen, t) : NULL),
				     "exists", there),
			ls->n);
	}
	ls->n++;
	return 0;
}

static int root_ls(const char *dir, bool json)
{
	struct ls ls = { json, 0 };
	struct store *s;
	int r;

	s = ctl_store_open(dir, STORE_RDONLY, NULL);
	if (!json)
		printf("%-20s  %-7s  %s\n", "LAST SEEN", "EXISTS", "PATH");
	r = store_root_foreach(s, print_root, &ls);
	if (json)
		ctl_json_rows_end(ls.n);
	if (r < 0)
		ctl_warnx("cannot list the gc roots of '%s': %s", store_dir(s),
			*store_errmsg(s) ? store_errmsg(s) : strerror(-r));
	store_close(s);
	if (fflush(stdout) != 0)
		ctl_erre(EXIT_FAIL, -errno, "cannot write the listing");
	return r < 0 ? EXIT_FAIL : EXIT_OK;
}

/* root_add - check each FILE, then register it; returns an exit status. */
static int root_add(struct store *s, char **files, int n)
{
	struct artifacts *a;
	int i, r, status = EXIT_OK;
	char *msg;

	for (i = 0; i < n; i++) {
		msg = NULL;
		r = artifacts_load(files[i], &a, &msg);
		if (r < 0) {
			ctl_warnx("cannot register '%s': %s", files[i], msg ? msg : strerror(-r));
			free(msg);
			if (r == -EINVAL || r == -E2BIG)
				status = EXIT_MALFORMED;
			else if (status == EXIT_OK)
				status = EXIT_FAIL;
			continue;
		}
		store_clear_error(s);
		r = store_root_add(s, artifacts_path(a));
		if (r < 0) {
			ctl_warnx("cannot register '%s': %s", artifacts_path(a),
				*store_errmsg(s) ? store_errmsg(s) : strerror(-r));
			if (status == EXIT_OK)
				status = EXIT_FAIL;
		}
		artifacts_free(a);
	}
	return status;
}

static int root_rm(struct store *s, char **files, int n)
{
	int i, r, status = EXIT_OK;

	for (i = 0; i < n; i++) {
		store_clear_error(s);
		r = store_root_remove(s, files[i]);
		if (r < 0) {
			ctl_warnx("cannot unregister '%s': %s", files[i],
				*store_errmsg(s) ? store_errmsg(s) : strerror(-r));
			status = EXIT_FAIL;
		}
	}
	return status;
}

int cmd_root(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "store", required_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' },
		CTL_OPTIONS_END,
	};
	static const struct ctl_getopt g = {"root", ":hs:", opts, usage, "an argument", false};
	const char *dir = NULL, *sub;
	bool json = false;
	struct store *s;
	int c, status;

	if (argc < 2)
		ctl_usage_error("root", "missing subcommand: add, rm or ls");
	sub = argv[1];
	if (ctl_is_help(sub)) {
		usage(stdout);
		return EXIT_OK;
	}
	if (strcmp(sub, "add") && strcmp(sub, "rm") && strcmp(sub, "ls"))
		ctl_usage_error("root", "unknown subcommand '%s': add, rm or ls", sub);
	while ((c = ctl_getopt(argc - 1, argv + 1, &g)) != -1) {
		switch (c) {
		case 's':
			dir = optarg;
			break;
		case 'j':
			json = true;
			break;
		}
	}
	argc -= optind + 1;
	argv += optind + 1;
	if (strcmp(sub, "ls") == 0) {
		if (argc > 0)
			ctl_usage_error("root", "unexpected argument '%s'", argv[0]);
		return root_ls(dir, json);
	}
	if (json)
		ctl_usage_error("root", "--json is an option of 'root ls'");
	if (argc == 0)
		ctl_usage_error("root", "'root %s' needs a FILE", sub);
	s = ctl_store_open(dir, strcmp(sub, "add") == 0 ? STORE_CREATE : 0, NULL);
	status = strcmp(sub, "add") == 0 ? root_add(s, argv, argc) : root_rm(s, argv, argc);
	store_close(s);
	return status;
}
