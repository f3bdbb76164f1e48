/*
 * cmd_platform.c - artifactctl platform: print the host triplet, or
 * normalise a given one (base/binaryplatforms.jl triplet(parse(...)))
 */
#include "tools/artifactctl.h"

#include "fetch/platform.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f)
{
	fprintf(f,
		"usage: %s platform [--tags] [TRIPLET]\n"
		"\n"
		"Without TRIPLET, print the triplet of this machine as Julia's HostPlatform()\n"
		"would see it (arch, os, libc; libgfortran, cxx11 and the libstdc++ cap when\n"
		"those libraries are installed; no julia_version).  With TRIPLET, parse it\n"
		"as Julia's parse(Platform, ...) does and print it normalised, extra tags\n"
		"sorted by name.\n"
		"\n"
		"Options:\n"
		"  --tags      also print every tag as KEY=VALUE:MODE, one per line\n"
		"  -h, --help  show this help\n"
		"\n"
		"Exit status: 0 ok, 1 detection failed, 2 TRIPLET cannot be parsed, 64 usage.\n",
		progname);
}

static void print_tags(const struct platform *p)
{
	enum platform_cmp cmp;
	const char *k, *v;
	size_t i;

	for (i = 0; platform_tag_at(p, i, &k, &v, &cmp); i++)
		printf("%s=%s:%s\n", k, v, platform_cmp_name(cmp));
}

int cmd_platform(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "tags", no_argument, NULL, 'T' },
		CTL_OPTIONS_END,
	};
	static const struct ctl_getopt g = {"platform", "h", longopts, usage, "a value", false};
	struct platform *p = NULL;
	bool tags = false;
	char *t = NULL;
	int c, r;

	while ((c = ctl_getopt(argc, argv, &g)) != -1) {
		switch (c) {
		case 'T':
			tags = true;
			break;
		}
	}
	if (argc - optind > 1)
		ctl_usage_error("platform", "too many arguments");
	if (optind < argc) {
		r = platform_parse(argv[optind], &p);
		if (r == -EINVAL)
			ctl_errx(EXIT_MALFORMED, "cannot parse platform triplet '%s'",
				argv[optind]);
		if (r < 0)
			ctl_erre(EXIT_FAIL, r, "cannot parse platform triplet '%s'", argv[optind]);
	} else {
		r = platform_host(NULL, &p);
		if (r < 0)
			ctl_erre(EXIT_FAIL, r, "cannot detect the host platform");
	}
	r = platform_triplet(p, &t);
	if (r < 0) {
		platform_free(p);
		ctl_erre(r == -EINVAL ? EXIT_MALFORMED : EXIT_FAIL, r, "cannot render the triplet");
	}
	printf("%s\n", t);
	if (tags)
		print_tags(p);
	free(t);
	platform_free(p);
	return fflush(stdout) == 0 ? EXIT_OK : EXIT_FAIL;
}
