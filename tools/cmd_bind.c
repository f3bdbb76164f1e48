/*
 * cmd_bind.c - artifactctl bind, unbind and add-mirror: Pkg's
 * bind_artifact!/unbind_artifact! on an Artifacts.toml (fetch/bind.h)
 */
#include "tools/artifactctl.h"

#include "fetch/bind.h"
#include "fetch/fetch.h"
#include "fetch/platform.h"
#include "store/hash.h"

#include <errno.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

static void usage_bind(FILE *f)
{
	fprintf(f,
		"usage: %s bind [--url URL [--sha256 HEX] [--size N]]... [--platform TRIPLET]\n"
		"                [--lazy] [--force] FILE NAME [HASH]\n"
		"\n"
		"Bind artifact NAME to the git-tree-sha1 HASH in the Artifacts.toml FILE, as\n"
		"Julia's bind_artifact! does.  FILE is created when missing and rewritten\n"
		"atomically in Julia's TOML.print(sorted=true) layout; other entries keep\n"
		"their bytes.  Concurrent binds to one FILE are serialised by a lock on\n"
		"'.FILE.lock' beside it.\n"
		"\n"
		"A --url without --sha256 is downloaded and hashed as it streams in (nothing\n"
		"is written to disk): its sha256, size and git-tree-sha1 are bound, as\n"
		"ArtifactUtils.jl's add_artifact! does; HASH may then be left out, and when\n"
		"given must equal the tree downloaded.\n"
		"\n"
		"Options:\n"
		"  -u, --url URL          add a download source; the --sha256 and --size\n"
		"                         after it belong to it (repeat for mirrors)\n"
		"      --sha256 HEX       sha256 of the tarball at the last URL (default:\n"
		"                         download it and compute it)\n"
		"      --size N           size in bytes of that tarball (written when > 0)\n"
		"  -p, --platform TRIPLET bind for this platform only ([[NAME]] array form,\n"
		"                         with arch, os and every tag of TRIPLET); replaces\n"
		"                         an entry with an equal platform only with --force\n"
		"  -l, --lazy             write lazy = true\n"
		"  -f, --force            replace an existing NAME or platform entry\n"
		"  -h, --help             show this help\n"
		"\n"
		"Exit status: 0 ok, 1 I/O or download failure, or the downloaded tree is\n"
		"not HASH, 2 FILE or TRIPLET is malformed, 4 NAME or the platform entry\n"
		"exists (no --force), 64 usage (a --url to download that is not an http,\n"
		"https or file URL included).\n",
		progname);
}

static void usage_unbind(FILE *f)
{
	fprintf(f,
		"usage: %s unbind [--platform TRIPLET] FILE NAME\n"
		"\n"
		"Remove artifact NAME from the Artifacts.toml FILE, or with --platform only\n"
		"its entries whose platform equals TRIPLET (NAME goes when none remain),\n"
		"as Julia's unbind_artifact! does.\n"
		"\n"
		"Options:\n"
		"  -p, --platform TRIPLET  remove only the entries for this platform\n"
		"  -h, --help              show this help\n"
		"\n"
		"Exit status: 0 ok, 1 I/O failure (FILE missing), 2 FILE or TRIPLET is\n"
		"malformed, 3 no such NAME or no entry for TRIPLET, 64 usage.\n",
		progname);
}

static void usage_add_mirror(FILE *f)
{
	fprintf(f,
		"usage: %s add-mirror [--platform TRIPLET] [--sha256 HEX] FILE NAME URL\n"
		"\n"
		"Append URL as one more download source of artifact NAME in the\n"
		"Artifacts.toml FILE.  A mirror serves the same bytes, so its sha256 (and\n"
		"size) are copied from the entry's existing downloads.  A URL already\n"
		"listed is not added again.\n"
		"\n"
		"Options:\n"
		"  -p, --platform TRIPLET  the entries for this platform (needed when NAME\n"
		"                          has more than one entry)\n"
		"      --sha256 HEX        the tarball's sha256: checked against the\n"
		"                          existing downloads, required when there are none\n"
		"  -h, --help              show this help\n"
		"\n"
		"Exit status: 0 ok, 1 I/O failure (FILE missing), 2 FILE or TRIPLET is\n"
		"malformed or HEX differs from the existing sha256, 3 no such NAME or no\n"
		"entry for TRIPLET, 64 usage.\n",
		progname);
}

/*
 * Exit status for a negative errno from fetch/bind.h.  -ENOENT means an
 * unknown name (3) only for unbind and add-mirror; for bind it can only be
 * a missing directory (1).
 */
static int exit_status(int r, bool lookup)
{
	if (r == -ENOENT && !lookup)
		return EXIT_FAIL;
	switch (r) {
	case -EINVAL:
	case -E2BIG:
	case -EBADMSG:
		return EXIT_MALFORMED;
	case -ENOENT:
		return EXIT_NOMATCH;
	case -EEXIST:
		return EXIT_EXISTS;
	case -ENOTUNIQ:
	case -ENODATA:
		return EXIT_USAGE;
	default:
		return EXIT_FAIL;
	}
}

static int report(int r, const char *msg, bool lookup)
{
	ctl_warnx("%s", msg ? msg : strerror(-r));
	return exit_status(r, lookup);
}

/* Parse TRIPLET, or exit: 2 for a malformed one, as 'resolve' does. */
static struct platform *parse_platform(const char *triplet)
{
	struct platform *p = NULL;
	int r;

	if (!triplet)
		return NULL;
	r = platform_parse(triplet, &p);
	if (r == -EINVAL)
		ctl_errx(EXIT_MALFORMED, "cannot parse platform triplet '%s'", triplet);
	if (r < 0)
		ctl_erre(EXIT_FAIL, r, "cannot parse platform triplet '%s'", triplet);
	return p;
}

/* A missing FILE is an I/O failure (1) for unbind and add-mirror, not 3. */
static void need_file(const char *file)
{
	if (access(file, F_OK) < 0)
		ctl_erre(EXIT_FAIL, -errno, "cannot open '%s'", file);
}

enum { OPT_SHA256 = 256, OPT_SIZE };

/*
 * The --url groups of bind.  File scope, so the usage errors that exit
 * from inside the option loop leave it reachable rather than leaked.
 */
static struct bind_download *dl;

/* The sha256 strings computed for dl (one per --url, NULL where given). */
static char **computed;

/*
 * Download and hash every --url without --sha256 (add_artifact!): its
 * sha256 and size into dl, its tree into tree (all must agree, and with a
 * HASH given).  Returns an exit status.
 */
static int hash_downloads(size_t ndl, const char *hash, char tree[41])
{
	struct fetch_options fo;
	struct fetch_digests d;
	char t[41], *msg = NULL;
	size_t i;
	int r;

	if ((r = fetch_global_init()) < 0) {
		ctl_warne(r, "cannot initialise libcurl");
		return EXIT_FAIL;
	}
	fetch_options_init(&fo);
	if (hash)
		memcpy(tree, hash, 41);
	for (i = 0; i < ndl; i++) {
		if (dl[i].sha256)
			continue;
		r = fetch_hash_url(dl[i].url, &fo, &d, &msg);
		if (r < 0) {
			ctl_warnx("cannot hash '%s': %s", dl[i].url, msg ? msg : strerror(-r));
			free(msg);
			/* not a URL, or not one of http, https, file: the command line is wrong */
			return r == -EINVAL || r == -EPROTONOSUPPORT ? EXIT_USAGE : EXIT_FAIL;
		}
		if (!(computed[i] = malloc(2 * HASH_SHA256_LEN + 1))) {
			ctl_warne(-ENOMEM, "bind");
			return EXIT_FAIL;
		}
		hash_to_hex(d.sha256, HASH_SHA256_LEN, computed[i]);
		hash_to_hex(d.tree, HASH_SHA1_LEN, t);
		if (dl[i].size && dl[i].size != d.tarball_bytes) {
			ctl_warnx("'%s' has %llu bytes, not the --size %llu", dl[i].url,
				(unsigned long long)d.tarball_bytes,
				(unsigned long long)dl[i].size);
			return EXIT_FAIL;
		}
		dl[i].sha256 = computed[i];
		dl[i].size = d.tarball_bytes;
		if (*tree && strcasecmp(tree, t) != 0) {
			ctl_warnx("the tree of '%s' is %s, not %s", dl[i].url, t, tree);
			return EXIT_FAIL;
		}
		memcpy(tree, t, sizeof(t));
		ctl_warnx("'%s': git-tree-sha1 %s, sha256 %s, %llu bytes", dl[i].url, t,
			computed[i], (unsigned long long)d.tarball_bytes);
	}
	return EXIT_OK;
}

int cmd_bind(int argc, char **argv)
{
	static const struct option opts[] = {
		{"url", required_argument, NULL, 'u'},
		{"sha256", required_argument, NULL, OPT_SHA256},
		{"size", required_argument, NULL, OPT_SIZE},
		{"platform", required_argument, NULL, 'p'},
		{"lazy", no_argument, NULL, 'l'},
		{"force", no_argument, NULL, 'f'},
		CTL_OPTIONS_END,
	};
	static const struct ctl_getopt g = {"bind", ":hu:p:lf", opts, usage_bind, "a value", false};
	const char *triplet = NULL, *hash;
	struct platform *p = NULL;
	size_t ndl = 0, i;
	unsigned flags = 0;
	char *msg = NULL, *end, tree[41] = "";
	bool download = false;
	int c, r, status;

	dl = calloc((size_t)argc, sizeof(*dl));
	computed = calloc((size_t)argc, sizeof(*computed));
	if (!dl || !computed)
		ctl_erre(EXIT_FAIL, -ENOMEM, "bind");
	while ((c = ctl_getopt(argc, argv, &g)) != -1) {
		switch (c) {
		case 'u':
			if (!*optarg)
				ctl_usage_error("bind", "empty --url");
			dl[ndl++].url = optarg;
			break;
		case OPT_SHA256:
			if (!ndl || dl[ndl - 1].sha256)
				ctl_usage_error("bind", "--sha256 must follow its --url, once");
			if (!hash_hex_valid(optarg, 64))
				ctl_usage_error("bind", "invalid --sha256 '%s': need 64 hex digits",
					optarg);
			dl[ndl - 1].sha256 = optarg;
			break;
		case OPT_SIZE:
			if (!ndl || dl[ndl - 1].size)
				ctl_usage_error("bind", "--size must follow its --url, once");
			errno = 0;
			dl[ndl - 1].size = strtoull(optarg, &end, 10);
			if (errno || end == optarg || *end || *optarg == '-' ||
				dl[ndl - 1].size > INT64_MAX)
				ctl_usage_error("bind", "invalid --size '%s'", optarg);
			break;
		case 'p':
			triplet = optarg;
			break;
		case 'l':
			flags |= BIND_LAZY;
			break;
		case 'f':
			flags |= BIND_FORCE;
			break;
		}
	}
	for (i = 0; i < ndl; i++)
		download |= !dl[i].sha256;
	if (argc - optind != 3 && !(download && argc - optind == 2))
		ctl_usage_error("bind", download ? "expected FILE, NAME and maybe HASH"
						 : "expected FILE, NAME and HASH (or a --url "
						   "without --sha256)");
	if (!*argv[optind + 1])
		ctl_usage_error("bind", "empty NAME");
	hash = argc - optind == 3 ? argv[optind + 2] : NULL;
	if (hash && !hash_hex_valid(hash, 40))
		ctl_usage_error("bind", "invalid HASH '%s': need 40 hex digits", hash);
	p = parse_platform(triplet);

	status = download ? hash_downloads(ndl, hash, tree) : EXIT_OK;
	if (status == EXIT_OK) {
		r = bind_artifact(argv[optind], argv[optind + 1], download ? tree : hash, p, dl,
			ndl, flags, &msg);
		status = r < 0 ? report(r, msg, false) : EXIT_OK;
	}
	free(msg);
	for (i = 0; i < ndl; i++)
		free(computed[i]);
	free(computed);
	computed = NULL;
	free(dl);
	dl = NULL;
	platform_free(p);
	return status;
}

/*
 * parse_edit - the options and operands of unbind and add-mirror: FILE and
 * nargs - 1 more non-empty operands, --platform into *p (NULL without it)
 * and, where g offers it, --sha256 into *sha.  expected and empty are the
 * usage errors for a wrong operand count and an empty operand.  Exits on a
 * usage error or a missing FILE; *p is the caller's to free.
 */
static void parse_edit(int argc, char **argv, const struct ctl_getopt *g, int nargs,
	const char *expected, const char *empty, const char **sha, struct platform **p)
{
	const char *triplet = NULL;
	int c, i;

	while ((c = ctl_getopt(argc, argv, g)) != -1) {
		switch (c) {
		case 'p':
			triplet = optarg;
			break;
		case OPT_SHA256:
			if (!hash_hex_valid(optarg, 64))
				ctl_usage_error(g->cmd,
					"invalid --sha256 '%s': need 64 hex "
					"digits",
					optarg);
			*sha = optarg;
			break;
		}
	}
	if (argc - optind != nargs)
		ctl_usage_error(g->cmd, "%s", expected);
	for (i = 1; i < nargs; i++)
		if (!*argv[optind + i])
			ctl_usage_error(g->cmd, "%s", empty);
	need_file(argv[optind]);
	*p = parse_platform(triplet);
}

int cmd_unbind(int argc, char **argv)
{
	static const struct option opts[] = {
		{"platform", required_argument, NULL, 'p'},
		CTL_OPTIONS_END,
	};
	static const struct ctl_getopt g = {"unbind", ":hp:", opts, usage_unbind, "a value", false};
	const char *sha = NULL;
	struct platform *p;
	char *msg = NULL;
	int r, status;

	parse_edit(argc, argv, &g, 2, "expected FILE and NAME", "empty NAME", &sha, &p);
	r = bind_unbind(argv[optind], argv[optind + 1], p, &msg);
	status = r < 0 ? report(r, msg, true) : EXIT_OK;
	free(msg);
	platform_free(p);
	return status;
}

int cmd_add_mirror(int argc, char **argv)
{
	static const struct option opts[] = {
		{"platform", required_argument, NULL, 'p'},
		{"sha256", required_argument, NULL, OPT_SHA256},
		CTL_OPTIONS_END,
	};
	static const struct ctl_getopt g = {
		"add-mirror", ":hp:", opts, usage_add_mirror, "a value", false,
	};
	const char *sha = NULL;
	struct platform *p;
	char *msg = NULL;
	int r, status;

	parse_edit(argc, argv, &g, 3, "expected FILE, NAME and URL", "empty NAME or URL", &sha,
		&p);
	r = bind_add_mirror(argv[optind], argv[optind + 1], argv[optind + 2], sha, p, &msg);
	if (r == -ENOTUNIQ || r == -ENODATA) {
		ctl_warnx("%s", msg ? msg : strerror(-r));
		free(msg);
		platform_free(p);
		ctl_usage_error(
			"add-mirror", "%s", r == -ENOTUNIQ ? "give --platform" : "give --sha256");
	}
	status = r < 0 ? report(r, msg, true) : EXIT_OK;
	free(msg);
	platform_free(p);
	return status;
}
