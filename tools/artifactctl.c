/*
 * artifactctl.c - main() and the command table of artifactctl(1)
 */
#include "tools/artifactctl.h"

#include <stdio.h>
#include <string.h>

const char *progname = "artifactctl";

static const struct command {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *summary;
} commands[] = {
	{ "hash", cmd_hash, "print the git-tree-sha1 of a directory" },
	{ "platform", cmd_platform, "print the host platform triplet, or normalise one" },
	{ "resolve", cmd_resolve, "print the git-tree-sha1 an Artifacts.toml selects for a name" },
	{ "fetch", cmd_fetch, "install the artifacts of an Artifacts.toml into the store" },
	{ "ls", cmd_ls, "list the installed artifacts" },
	{ "verify", cmd_verify, "re-hash installed artifacts; quarantine mismatches" },
	{ "sync", cmd_sync, "make durable the installs served before they were on disk" },
	{ "pack", cmd_pack, "write a directory as a deterministic Tar.jl-style tarball" },
	{ "bind", cmd_bind, "add or replace an artifact entry in an Artifacts.toml" },
	{ "unbind", cmd_unbind, "remove an artifact or one platform entry from an Artifacts.toml" },
	{ "add-mirror", cmd_add_mirror, "add a download URL to an artifact entry" },
	{ "publish", cmd_publish, "pack, upload and bind artifacts (s3://, http(s) PUT, file://)" },
	{ "index", cmd_index, "write one index.json of the tarballs published under a prefix" },
	{ "seek-index", cmd_seekidx, "write the seek index of a gzip tarball (per-file access)" },
	{ "gc", cmd_gc, "remove the artifacts no gc root refers to any more" },
	{ "root", cmd_root, "add, remove or list the gc roots (Artifacts.toml files)" },
	{ "status", cmd_status, "show the state of a running artifactfs daemon" },
	{ "metrics", cmd_metrics, "print a running daemon's metrics for Prometheus" },
	{ "reload", cmd_reload, "make a running daemon re-read its Artifacts.toml files" },
	{ "evict", cmd_evict, "remove artifacts from a running daemon's store" },
	{ "wipe", cmd_wipe, "remove every artifact from a running daemon's store" },
	{ "prefetch", cmd_prefetch, "make a running daemon install artifacts now" },
	{ "probe", cmd_probe, "check every mirror host and the Pkg server" },
};

static void usage(FILE *f)
{
	size_t i;

	fprintf(f, "usage: %s COMMAND [ARGS...]\n"
		   "       %s --help | --version\n\n"
		   "Commands:\n",
		progname, progname);
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
	fprintf(f, "\nRun '%s COMMAND --help' for the options of a command.\n"
		   "See artifactctl(1).\n",
		progname);
}

int main(int argc, char **argv)
{
	size_t i;

	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (ctl_is_help(argv[1])) {
		usage(stdout);
		return EXIT_OK;
	}
	if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0) {
		printf("artifactctl (artifactfs) %s\n", ARTIFACTFS_VERSION);
		return EXIT_OK;
	}
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(argv[1], commands[i].name) == 0)
			return commands[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "%s: '%s' is not a command; see '%s --help'\n", progname, argv[1],
		progname);
	return EXIT_USAGE;
}
