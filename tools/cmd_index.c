/*
 * cmd_index.c - artifactctl index: one index.json of every tarball
 * published under an s3:// prefix or a directory, from their sidecars
 * (tools/publish/index.h), written to a temporary file beside FILE and
 * renamed over it, or put to a publish destination (tools/publish/upload.h)
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
		"usage: %s index SOURCE -o DEST [--latest] [--public-url URL]\n"
		"                 [--endpoint-url URL] [--region REGION] [--profile NAME]\n"
		"                 [--credentials FILE]\n"
		"\n"
		"Read the sidecar (OBJECT.json) of every tarball published under SOURCE and\n"
		"write one JSON array of them to DEST, sorted, each with name, platform,\n"
		"git-tree-sha1, sha256, size, url, created and meta.  SOURCE is\n"
		"s3://BUCKET[/PREFIX], file:///DIR or DIR.  A sidecar whose tarball is\n"
		"missing, or of another size, is left out with a warning.  DEST is a file\n"
		"(\"-\": standard output) or a publish destination and its key:\n"
		"s3://BUCKET[/PREFIX]/index.json, file:///DIR/index.json or\n"
		"http(s)://HOST/PATH/index.json (WebDAV); it is replaced whole.\n"
		"\n"
		"Options:\n"
		"  -o, --output DEST        where to write the index (required)\n"
		"      --latest             one entry per name and platform: the newest\n"
		"                           created\n"
		"  -u, --public-url URL     urls are PUBLIC_URL/OBJECT (default: the URL of\n"
		"                           the object in SOURCE)\n" CTL_S3_HELP
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

/*
 * Put the index to dest, a publish destination and a key: the part after
 * the last '/' is the key, what comes before it the destination
 * (upload.h).  Every backend replaces an object whole.
 */
static int put_index(
	const char *dest, const struct upload_options *uo, const char *text, size_t len)
{
	const char *slash = strrchr(dest, '/'), *scheme = strstr(dest, "://");
	struct upload *u = NULL;
	char *dir = NULL, *msg = NULL, *url = NULL;
	int r, status = EXIT_FAIL;

	/* s3://BUCKET/KEY at least: the key's slash comes after the host or bucket */
	if (!slash || slash < scheme + 3 || !strchr(scheme + 3, '/') || !slash[1]) {
		ctl_warnx("invalid -o '%s': s3://BUCKET[/PREFIX]/KEY, file:///DIR/KEY, "
			  "http(s)://HOST/PATH/KEY or a file expected",
			dest);
		return EXIT_USAGE;
	}
	if (!(dir = strndup(dest, (size_t)(slash - dest)))) {
		ctl_warne(-ENOMEM, "index");
		return EXIT_FAIL;
	}
	r = upload_new(dir, uo, &u, &msg);
	if (r < 0) {
		ctl_warnx("%s", msg ? msg : strerror(-r));
		status = r == -EINVAL || r == -EPROTONOSUPPORT ? EXIT_USAGE : EXIT_FAIL;
		goto out;
	}
	if (upload_kind(u) == UPLOAD_S3 && !upload_signed(u)) {
		ctl_warnx("no S3 credentials for '%s': set AWS_ACCESS_KEY_ID and "
			  "AWS_SECRET_ACCESS_KEY, or use ~/.aws/credentials, --credentials, "
			  "--profile",
			dest);
		goto out;
	}
	if ((r = upload_put_buf(u, slash + 1, text, len, "application/json")) < 0) {
		ctl_warnx("%s", upload_errmsg(u));
		goto out;
	}
	if (upload_url(u, slash + 1, &url) == 0)
		ctl_warnx("wrote the index of %zu bytes to '%s'", len, url);
	status = EXIT_OK;
out:
	free(url);
	free(msg);
	free(dir);
	upload_free(u);
	return status;
}

int cmd_index(int argc, char **argv)
{
	enum { OPT_ENDPOINT = 256, OPT_REGION, OPT_PROFILE, OPT_CREDENTIALS, OPT_LATEST };
	static const struct option longopts[] = {
		{"output", required_argument, NULL, 'o'},
		{"latest", no_argument, NULL, OPT_LATEST},
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
	bool latest = false;
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
		case OPT_LATEST:
			latest = true;
			break;
		}
	}
	if (optind == argc)
		ctl_usage_error("index", "missing SOURCE");
	if (optind + 1 < argc)
		ctl_usage_error("index", "unexpected argument '%s'", argv[optind + 1]);
	if (!output)
		ctl_usage_error("index", "missing -o DEST");
	if (!*output)
		ctl_usage_error("index", "empty -o DEST");
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
	if (latest)
		index_keep_latest(&ix);
	if ((r = index_format(&ix, &text, &len)) < 0) {
		ctl_warne(r, "cannot format the index");
		goto out;
	}
	if (strstr(output, "://")) {
		status = put_index(output, &uo, text, len);
		goto out;
	}
	if ((r = index_write(output, text, len)) < 0) {
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
