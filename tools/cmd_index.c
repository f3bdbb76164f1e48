/*
 * cmd_index.c - artifactctl index: one index.json of every tarball
 * published under an s3:// prefix or a directory, from their sidecars
 * (tools/publish/index.h), written to a temporary file beside FILE and
 * renamed over it
 */
#include "tools/artifactctl.h"

#include "fetch/fetch.h"
#include "tools/publish/index.h"
#include "tools/publish/upload.h"

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
		"usage: %s index SOURCE -o FILE [--public-url URL] [--endpoint-url URL]\n"
		"                 [--region REGION] [--profile NAME] [--credentials FILE]\n"
		"\n"
		"Read the sidecar (OBJECT.json) of every tarball published under SOURCE and\n"
		"write one JSON array of them to FILE (\"-\": standard output), sorted, each\n"
		"with name, platform, git-tree-sha1, sha256, size and url.  SOURCE is\n"
		"s3://BUCKET[/PREFIX], file:///DIR or DIR.  A sidecar whose tarball is\n"
		"missing, or of another size, is left out with a warning.\n"
		"\n"
		"Options:\n"
		"  -o, --output FILE        where to write the index (required)\n"
		"  -u, --public-url URL     urls are PUBLIC_URL/OBJECT (default: the URL of\n"
		"                           the object in SOURCE)\n"
		"      --endpoint-url URL   S3 endpoint (alias --endpoint; default\n"
		"                           $AWS_ENDPOINT_URL_S3, $AWS_ENDPOINT_URL, else\n"
		"                           endpoint_url of the profile in ~/.aws/config)\n"
		"      --region REGION      S3 region (default $AWS_REGION, the profile's\n"
		"                           region in ~/.aws/config, else auto)\n"
		"      --profile NAME       profile of the credentials and config files\n"
		"      --credentials FILE   credentials file (default ~/.aws/credentials;\n"
		"                           without credentials the listing is anonymous)\n"
		"  -h, --help               show this help\n"
		"\n"
		"Exit status: 0 written, 1 a listing, a read or a sidecar failed, 64 usage.\n",
		progname);
}

static void on_left_out(void *arg, const char *msg)
{
	ctl_warnx("%s", msg);
}

int cmd_index(int argc, char **argv)
{
	enum { OPT_ENDPOINT = 256, OPT_REGION, OPT_PROFILE, OPT_CREDENTIALS };
	static const struct option longopts[] = {
		{"output", required_argument, NULL, 'o'},
		{"public-url", required_argument, NULL, 'u'},
		{"endpoint-url", required_argument, NULL, OPT_ENDPOINT},
		{"endpoint", required_argument, NULL, OPT_ENDPOINT},
		{"region", required_argument, NULL, OPT_REGION},
		{"profile", required_argument, NULL, OPT_PROFILE},
		{"credentials", required_argument, NULL, OPT_CREDENTIALS},
		CTL_OPTIONS_END,
	};
	static const struct ctl_getopt g = {"index", ":ho:u:", longopts, usage, "a value", false};
	struct upload_options uo;
	struct upload *u = NULL;
	struct index ix = {0};
	const char *output = NULL, *public_url = NULL, *source;
	char *msg = NULL, *text = NULL;
	size_t len;
	int c, r, status = EXIT_FAIL;

	upload_options_init(&uo);
	while ((c = ctl_getopt(argc, argv, &g)) != -1) {
		switch (c) {
		case 'o':
			output = optarg;
			break;
		case 'u':
			public_url = optarg;
			break;
		case OPT_ENDPOINT:
			uo.endpoint = optarg;
			break;
		case OPT_REGION:
			uo.region = optarg;
			break;
		case OPT_PROFILE:
			uo.profile = optarg;
			break;
		case OPT_CREDENTIALS:
			uo.credentials = optarg;
			break;
		}
	}
	if (optind == argc)
		ctl_usage_error("index", "missing SOURCE");
	if (optind + 1 < argc)
		ctl_usage_error("index", "unexpected argument '%s'", argv[optind + 1]);
	if (!output)
		ctl_usage_error("index", "missing -o FILE");
	if (public_url && !*public_url)
		ctl_usage_error("index", "empty --public-url");
	source = argv[optind];

	if ((r = fetch_global_init()) < 0) {
		ctl_warne(r, "cannot initialise libcurl");
		goto out;
	}
	r = upload_new(source, &uo, &u, &msg);
	if (r < 0) {
		ctl_warnx("%s", msg ? msg : strerror(-r));
		status = r == -EINVAL || r == -EPROTONOSUPPORT ? EXIT_USAGE : EXIT_FAIL;
		goto out;
	}
	if (upload_kind(u) == UPLOAD_HTTP) {
		ctl_warnx("cannot list '%s': index reads s3:// or a directory", source);
		status = EXIT_USAGE;
		goto out;
	}
	r = index_read(u, public_url, on_left_out, NULL, &ix, &msg);
	if (r < 0) {
		if (msg)
			ctl_warnx("%s", msg);
		else
			ctl_warne(r, "cannot list '%s'", source);
		goto out;
	}
	if ((r = index_format(&ix, &text, &len)) < 0 || (r = index_write(output, text, len)) < 0) {
		ctl_warne(r, "cannot write '%s'", output);
		goto out;
	}
	status = EXIT_OK;
out:
	index_release(&ix);
	free(text);
	free(msg);
	upload_free(u);
	return status;
}
