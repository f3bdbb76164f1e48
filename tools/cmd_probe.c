/*
 * cmd_probe.c - artifactctl probe: one bounded request to every mirror
 * host and the Pkg server, and a table of what answered
 *
 *   artifactctl probe [MOUNTPOINT|TOML] [--timeout SECONDS] [--pkg-server URL]
 *                     [--socket PATH] [--store DIR] [--json]
 *
 * The hosts come from the running daemon of MOUNTPOINT (its "sources"
 * request: the download URLs of its names and its Pkg server) or from the
 * Artifacts.toml file TOML (every download URL of every entry).  The
 * probing itself is fetch/probe.c's.
 */
#include "tools/artifactctl.h"
#include "tools/ctl_daemon.h"
#include "tools/store_opt.h"
#include "fetch/artifacts.h"
#include "fetch/fetch.h"
#include "fetch/probe.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define PROBE_TIMEOUT 5.0	/* seconds per host, by default */

static void usage(FILE *f)
{
	fprintf(f, "usage: %s probe [MOUNTPOINT|TOML] [--timeout SECONDS] [--pkg-server URL]\n"
		   "       [--socket PATH] [--store DIR] [--json]\n\n"
		   "Send one request (GET with Range: bytes=0-0) to every mirror host of the\n"
		   "daemon serving MOUNTPOINT (default: the only artifactfs mount), or of the\n"
		   "Artifacts.toml file TOML, and to the Pkg server; print a table of host,\n"
		   "reachable or the cause, latency and whether Range is honoured.  Exits 1\n"
		   "when a host does not answer or answers with an error.\n\n"
		   "  --timeout SECONDS  the limit of each request (default 5)\n"
		   "  --pkg-server URL   with TOML: the Pkg server (default: $JULIA_PKG_SERVER)\n"
		   "  --socket PATH      the daemon's control socket (default: from the mount)\n"
		   "  --store DIR        the store (default: $ARTIFACTFS_STORE, else %s)\n"
		   "  --json             print one JSON object per host\n",
		progname, CTL_STORE_DEFAULT);
}

/* A growing list of borrowed or owned URL strings. */
struct urls {
	char **v;
	size_t n;
};

static void urls_add(struct urls *u, const char *url)
{
	char **nv = realloc(u->v, (u->n + 1) * sizeof(*nv));

	if (!nv || !(nv[u->n] = strdup(url)))
		ctl_errx(EXIT_FAIL, "out of memory");
	u->v = nv;
	u->n++;
}

static void urls_free(struct urls *u)
{
	size_t i;

	for (i = 0; i < u->n; i++)
		free(u->v[i]);
	free(u->v);
}

/* The Pkg server's URL of hash first, as the pipeline tries it. */
static void add_pkg_server(struct urls *u, const char *setting, const char *hash)
{
	char *server = NULL, *url;

	if (fetch_pkg_server_url(setting, &server) < 0)
		ctl_errx(EXIT_FAIL, "out of memory");
	if (!server)
		return;
	if (asprintf(&url, "%s/artifact/%s", server,
		     hash ? hash : "0000000000000000000000000000000000000000") < 0)
		ctl_errx(EXIT_FAIL, "out of memory");
	urls_add(u, url);
	free(url);
	free(server);
}

/* Every download URL of every entry of the Artifacts.toml file path. */
static int toml_urls(const char *path, const char *pkg_server, struct urls *u)
{
	const struct artifact_entry *const *es;
	const struct artifact_download *dl;
	struct artifacts *a;
	const char *hash = NULL;
	size_t i, k, j, ne, nd;
	char *msg = NULL;
	int r;

	r = ctl_artifacts_load(path, &a);
	if (r != EXIT_OK)
		return r;
	for (i = 0; i < artifacts_count(a); i++) {
		if (artifacts_entries(a, artifacts_name_at(a, i), &es, &ne, &msg) < 0) {
			free(msg);
			msg = NULL;
			continue;
		}
		for (k = 0; k < ne; k++) {
			if (!hash)
				hash = artifact_entry_hash(es[k]);
			nd = artifact_entry_downloads(es[k], &dl);
			for (j = 0; j < nd; j++)
				urls_add(u, dl[j].url);
		}
	}
	add_pkg_server(u, pkg_server, hash);
	/* the Pkg server first, as the pipeline asks it first */
	if (u->n > 1 && pkg_server && *pkg_server) {
		char *last = u->v[u->n - 1];

		memmove(u->v + 1, u->v, (u->n - 1) * sizeof(*u->v));
		u->v[0] = last;
	}
	artifacts_free(a);
	return EXIT_OK;
}

/* The URLs of the daemon's names and its Pkg server. */
static void daemon_urls(const struct daemon_opts *o, struct urls *u)
{
	json_t *doc = ctl_daemon_request(o, "sources\n", false, NULL, NULL), *v;
	const char *pkg = json_string_value(json_object_get(doc, "pkg_server"));
	size_t i;

	add_pkg_server(u, pkg, json_string_value(json_object_get(doc, "hash")));
	json_array_foreach(json_object_get(doc, "urls"), i, v)
		if (json_string_value(v))
			urls_add(u, json_string_value(v));
	json_decref(doc);
}

int cmd_probe(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "timeout", required_argument, NULL, 't' },
		{ "pkg-server", required_argument, NULL, 'p' },
		{ "socket", required_argument, NULL, 'S' },
		{ "store", required_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' },
		CTL_OPTIONS_END,
	};
	const struct ctl_getopt g = { "probe", ":h", opts, usage, "a value", false };
	struct daemon_opts o = { .cmd = "probe" };
	const char *pkg_server = getenv("JULIA_PKG_SERVER"), *toml = NULL;
	struct fetch_probe *pv = NULL;
	struct urls u = { 0 };
	double timeout = PROBE_TIMEOUT;
	char lat[32], *end;
	struct stat sb;
	size_t i, n = 0;
	int c, r, ret = EXIT_OK;

	while ((c = ctl_getopt(argc, argv, &g)) != -1) {
		switch (c) {
		case 't':
			timeout = strtod(optarg, &end);
			if (*end || end == optarg || !(timeout > 0 && timeout <= 3600))
				ctl_usage_error("probe", "--timeout needs seconds from 0 to 3600, "
						"not '%s'", optarg);
			break;
		case 'p':
			pkg_server = optarg;
			break;
		case 'S':
			o.socket = optarg;
			break;
		case 's':
			o.store = optarg;
			break;
		case 'j':
			o.json = true;
			break;
		}
	}
	if (optind < argc) {
		if (stat(argv[optind], &sb) == 0 && S_ISREG(sb.st_mode))
			toml = argv[optind];
		else
			o.mountpoint = argv[optind];
		optind++;
	}
	if (optind < argc)
		ctl_usage_error("probe", "unexpected argument '%s'", argv[optind]);
	if (toml) {
		r = toml_urls(toml, pkg_server, &u);
		if (r != EXIT_OK)
			return r;
	} else {
		daemon_urls(&o, &u);
	}
	if (fetch_probe_plan((const char *const *)u.v, u.n, &pv, &n) < 0)
		ctl_errx(EXIT_FAIL, "out of memory");
	if (n == 0)
		ctl_warnx("probe: no download URL and no Pkg server to probe");
	if (!o.json)
		printf("%-40s %-32s %10s  %s\n", "HOST", "REACHABLE", "LATENCY", "RANGE");
	for (i = 0; i < n; i++) {
		fetch_probe_run(&pv[i], timeout, NULL);
		if (pv[i].err || pv[i].status >= 400)
			ret = EXIT_FAIL;
		if (o.json) {
			ctl_json_print(json_pack("{s:s, s:s, s:b, s:s, s:I, s:f, s:o}", "host",
						 pv[i].host, "url", pv[i].url, "reachable",
						 pv[i].err == 0, "cause", pv[i].cause, "status",
						 (json_int_t)pv[i].status, "latency_ms",
						 pv[i].latency_ms, "range", pv[i].range < 0 ?
						 json_null() : json_boolean(pv[i].range)),
				       0, "", "\n");
			continue;
		}
		snprintf(lat, sizeof(lat), pv[i].err ? "-" : "%.0f ms", pv[i].latency_ms);
		printf("%-40s %-32s %10s  %s\n", pv[i].host,
		       pv[i].err ? pv[i].cause : *pv[i].cause ? pv[i].cause : "yes", lat,
		       pv[i].range < 0 ? "-" : pv[i].range ? "yes" : "no");
	}
	fetch_probe_free(pv, n);
	urls_free(&u);
	if (fflush(stdout) != 0)
		ctl_erre(EXIT_FAIL, -errno, "cannot write the table");
	return ret;
}
