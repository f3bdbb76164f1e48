/*
 * cmd_sync.c - artifactctl sync: make durable the installs committed
 * without waiting for the disk
 *
 *   artifactctl sync [--store DIR]
 *
 * artifactctl fetch (without --sync) and the daemon (until sync_after)
 * serve an install before its bytes are on disk; the store keeps a mark of
 * each (store/durable.c).  This writes them all with one syncfs() and
 * removes the marks, e.g. before a snapshot of the store's disk or a
 * planned power-off.  Opening the store also checks again the installs an
 * earlier boot left unsynced.
 */
#include "tools/artifactctl.h"
#include "tools/store_opt.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

static void usage(FILE *f)
{
	fprintf(f, "usage: %s sync [--store DIR]\n\n"
		   "Make durable (one syncfs) every install that was served before its bytes\n"
		   "were on disk (artifactctl fetch by default, the daemon until its\n"
		   "sync_after).  Prints how many there were.\n"
		   "Exits 1 when the store cannot be opened or the sync fails.\n\n"
		   "  --store DIR  the store (default: $ARTIFACTFS_STORE, else %s)\n",
		progname, CTL_STORE_DEFAULT);
}

int cmd_sync(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "store", required_argument, NULL, 's' },
		CTL_OPTIONS_END,
	};
	static const struct ctl_getopt g = {"sync", "+:h", opts, usage, "an argument", false};
	const char *dir = NULL;
	struct store *s;
	unsigned n = 0;
	int c, r;

	while ((c = ctl_getopt(argc, argv, &g)) != -1) {
		if (c == 's')
			dir = optarg;
	}
	if (optind != argc)
		ctl_usage_error("sync", "unexpected argument '%s'", argv[optind]);
	s = ctl_store_open(dir, 0, NULL);
	r = store_sync_pending(s, &n);
	if (r < 0) {
		ctl_warnx("%s", *store_errmsg(s) ? store_errmsg(s) : strerror(-r));
		store_close(s);
		return EXIT_FAIL;
	}
	printf("synced %u install%s\n", n, n == 1 ? "" : "s");
	store_close(s);
	return fflush(stdout) == 0 ? EXIT_OK : EXIT_FAIL;
}
