/*
 * cmd_resolve.c - artifactctl resolve: the git-tree-sha1 that an
 * Artifacts.toml selects for a name (stdlib/Artifacts artifact_hash)
 */
#include "tools/artifactctl.h"

#include "fetch/artifacts.h"
#include "fetch/platform.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f)
{
	fprintf(f,
		"usage: %s resolve [--platform TRIPLET] [--tag KEY=VALUE[:MODE]]... [--json]\n"
		"                  FILE NAME\n"
		"\n"
		"Select the entry of artifact NAME in FILE for a platform and print its\n"
		"git-tree-sha1, as Julia's artifact_hash(NAME, FILE) does.  FILE may be a\n"
		"directory: JuliaArtifacts.toml is used when present, else Artifacts.toml.\n"
		"\n"
		"Options:\n"
		"  -p, --platform TRIPLET  select for TRIPLET (HostPlatform(parse(TRIPLET)))\n"
		"                          instead of this machine (see 'platform')\n"
		"  -t, --tag KEY=VALUE[:MODE]\n"
		"                          add or replace a host tag, e.g. llvm_version=20,\n"
		"                          cuda=12.4:cap or julia_version=1.11; MODE is\n"
		"                          exact (default: the values must be equal),\n"
		"                          cap (the entry's version must be <= VALUE) or\n"
		"                          majmin (equal major.minor; julia_version always\n"
		"                          compares this way unless another MODE is given)\n"
		"  -j, --json              print the whole entry as one JSON object:\n"
		"                          name, git-tree-sha1, lazy, triplet (null when\n"
		"                          platform independent), downloads\n"
		"  -h, --help              show this help\n"
		"\n"
		"Exit status: 0 ok, 1 FILE cannot be read, 2 FILE, NAME's entry or TRIPLET\n"
		"is malformed, 3 no such NAME or no entry matches the platform, 64 usage.\n",
		progname);
}

struct resolve_opts {
	struct ctl_platform_opt plat;
	bool json;
	const char *file, *name;
};

static void parse_args(int argc, char **argv, struct resolve_opts *o)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "platform", required_argument, NULL, 'p' },
		{ "tag", required_argument, NULL, 't' },
		CTL_OPTIONS_END,
	};
	static const struct ctl_getopt g = {
		"resolve", ":hjp:t:", longopts, usage, "a value", false,
	};
	int c;

	while ((c = ctl_getopt(argc, argv, &g)) != -1) {
		switch (c) {
		case 'j':
			o->json = true;
			break;
		case 'p':
		case 't':
			ctl_platform_opt_add("resolve", &o->plat, c, optarg);
			break;
		}
	}
	if (argc - optind != 2)
		ctl_usage_error("resolve", "expected FILE and NAME");
	o->file = argv[optind];
	o->name = argv[optind + 1];
}

int cmd_resolve(int argc, char **argv)
{
	const struct artifact_entry *e;
	struct resolve_opts o = { 0 };
	struct platform *host = NULL;
	struct artifacts *a = NULL;
	char *msg = NULL, *out = NULL;
	int r, status = EXIT_FAIL;

	parse_args(argc, argv, &o);
	status = ctl_host_platform("resolve", &o.plat, &host);
	if (status == EXIT_OK)
		status = ctl_artifacts_load(o.file, &a);
	if (status != EXIT_OK)
		goto out;
	status = EXIT_FAIL;
	r = artifacts_select(a, o.name, host, &e, &msg);
	if (r < 0) {
		ctl_warnx("%s", msg ? msg : strerror(-r));
		if (r == -ENOENT || r == -ENXIO)
			status = EXIT_NOMATCH;
		else if (r == -EINVAL)
			status = EXIT_MALFORMED;
		goto out;
	}
	if (o.json) {
		r = artifact_entry_json(e, &out, NULL);
		if (r < 0) {
			ctl_warne(r, "cannot render artifact '%s' as JSON", o.name);
			status = r == -EINVAL ? EXIT_MALFORMED : EXIT_FAIL;
			goto out;
		}
		printf("%s\n", out);
	} else {
		printf("%s\n", artifact_entry_hash(e));
	}
	status = fflush(stdout) == 0 ? EXIT_OK : EXIT_FAIL;
out:
	free(out);
	free(msg);
	ctl_platform_opt_release(&o.plat);
	artifacts_free(a);
	platform_free(host);
	return status;
}
