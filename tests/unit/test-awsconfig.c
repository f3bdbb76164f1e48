/*
 * test-awsconfig.c - tools/publish/aws_config.h: the S3 endpoint and
 * region resolved in aws-cli's order, with known answers for each step
 * (option, AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL, [services] s3
 * sub-section, the profile's s3 sub-section, the profile's endpoint_url;
 * region option, AWS_REGION, AWS_DEFAULT_REGION, profile, "auto")
 */
#include "tools/publish/aws_config.h"
#include "tests/tap.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char cfg[64];

static void write_config(const char *text)
{
	FILE *f = fopen(cfg, "w");

	if (!f || fputs(text, f) == EOF || fclose(f) == EOF)
		abort();
}

static void clear_env(void)
{
	static const char *const vars[] = {"AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL", "AWS_REGION",
		"AWS_DEFAULT_REGION", "AWS_PROFILE", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"};
	size_t i;

	for (i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
		unsetenv(vars[i]);
	setenv("AWS_CONFIG_FILE", cfg, 1);
}

/* resolve with the options, then compare endpoint (NULL: none) and region */
static void check(const char *what, const char *ep_opt, const char *region_opt, const char *profile,
	const char *want_ep, const char *want_region)
{
	struct aws_s3_settings s;
	char *msg = NULL;
	int r = aws_s3_settings_resolve(ep_opt, region_opt, profile, &s, &msg);

	is_int(r, 0, "%s: resolves", what);
	if (r < 0) {
		diag("%s", msg ? msg : "");
		free(msg);
		return;
	}
	is_str(s.endpoint ? s.endpoint : "(none)", want_ep ? want_ep : "(none)", "%s: endpoint",
		what);
	is_str(s.region, want_region, "%s: region", what);
	aws_s3_settings_release(&s);
}

static const char config[] = "# aws-cli shared config\n"
			     "[default]\n"
			     "region = eu-west-1\n"
			     "endpoint_url = https://default.example\n"
			     "\n"
			     "[profile r2]\n"
			     "region = auto\n"
			     "s3 =\n"
			     "  endpoint_url = https://acct.r2.cloudflarestorage.com\n"
			     "  max_concurrent_requests = 4\n"
			     "endpoint_url = https://global.r2.example\n"
			     "\n"
			     "[profile svc]\n"
			     "services = my-services\n"
			     "endpoint_url = https://svc-global.example\n"
			     "\n"
			     "[services my-services]\n"
			     "s3 =\n"
			     "  endpoint_url = http://127.0.0.1:9000\n"
			     "dynamodb =\n"
			     "  endpoint_url = http://127.0.0.1:8000\n"
			     "\n"
			     "[profile   plain]\n"
			     "region=us-east-2\n"
			     "endpoint_url=https://plain.example   \n"
			     "\n"
			     "[plain]\n"
			     "region = not-a-profile-section\n"
			     "\n"
			     "[profile ignoring]\n"
			     "ignore_configured_endpoint_urls = true\n"
			     "endpoint_url = https://ignored.example\n"
			     "\n"
			     "[profile nested-only]\n"
			     "s3 =\n"
			     "  addressing_style = path\n"
			     "region = ap-south-1\n";

int main(void)
{
	struct aws_s3_settings s;
	char *msg = NULL;
	int fd;

	snprintf(cfg, sizeof(cfg), "/tmp/test-awsconfig.XXXXXX");
	if ((fd = mkstemp(cfg)) < 0)
		abort();
	close(fd);
	write_config(config);
	clear_env();

	/* the profile's own keys */
	check("default profile", NULL, NULL, NULL, "https://default.example", "eu-west-1");
	check("r2: the s3 sub-section wins over the profile's endpoint_url", NULL, NULL, "r2",
		"https://acct.r2.cloudflarestorage.com", "auto");
	check("svc: [services] s3 endpoint wins", NULL, NULL, "svc", "http://127.0.0.1:9000",
		"auto");
	check("'[profile   plain]' with spaces, 'key=value' without", NULL, NULL, "plain",
		"https://plain.example", "us-east-2");
	check("ignore_configured_endpoint_urls in the profile", NULL, NULL, "ignoring", NULL,
		"auto");
	check("a sub-section does not swallow the keys after it", NULL, NULL, "nested-only", NULL,
		"ap-south-1");
	check("unknown profile: nothing configured", NULL, NULL, "nope", NULL, "auto");
	setenv("AWS_PROFILE", "r2", 1);
	check("AWS_PROFILE picks the profile", NULL, NULL, NULL,
		"https://acct.r2.cloudflarestorage.com", "auto");
	check("--profile wins over AWS_PROFILE", NULL, NULL, "plain", "https://plain.example",
		"us-east-2");
	unsetenv("AWS_PROFILE");

	/* the environment over the file, the option over the environment */
	setenv("AWS_ENDPOINT_URL", "http://env-global:1", 1);
	check("AWS_ENDPOINT_URL over the file", NULL, NULL, "r2", "http://env-global:1", "auto");
	setenv("AWS_ENDPOINT_URL_S3", "http://env-s3:2", 1);
	check("AWS_ENDPOINT_URL_S3 over AWS_ENDPOINT_URL", NULL, NULL, "r2", "http://env-s3:2",
		"auto");
	check("--endpoint-url over everything", "http://opt:3", NULL, "r2", "http://opt:3", "auto");
	check("ignore_configured_endpoint_urls ignores the environment too", NULL, NULL, "ignoring",
		NULL, "auto");
	setenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "true", 1);
	check("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", NULL, NULL, "r2", NULL, "auto");
	check("... but not the option", "http://opt:3", NULL, "r2", "http://opt:3", "auto");
	unsetenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS");

	setenv("AWS_DEFAULT_REGION", "us-west-1", 1);
	check("AWS_DEFAULT_REGION over the profile", NULL, NULL, NULL, "http://env-s3:2",
		"us-west-1");
	setenv("AWS_REGION", "us-west-2", 1);
	check("AWS_REGION over AWS_DEFAULT_REGION", NULL, NULL, NULL, "http://env-s3:2",
		"us-west-2");
	check("--region over AWS_REGION", NULL, "auto", NULL, "http://env-s3:2", "auto");

	/* [profile default] when [default] does not say; a missing file is no error */
	clear_env();
	write_config("[profile default]\nregion = sa-east-1\n");
	check("[profile default]", NULL, NULL, NULL, NULL, "sa-east-1");
	unlink(cfg);
	check("no config file", NULL, NULL, NULL, NULL, "auto");
	setenv("AWS_CONFIG_FILE", "/dev/null", 1);
	check("AWS_CONFIG_FILE=/dev/null", NULL, NULL, NULL, NULL, "auto");
	setenv("AWS_CONFIG_FILE", "/", 1);
	is_int(aws_s3_settings_resolve(NULL, NULL, NULL, &s, &msg), -EISDIR,
		"a config file that is a directory fails");
	ok(msg && strstr(msg, "'/'"), "... with a message naming it: %s", msg ? msg : "(none)");
	free(msg);
	return tap_done();
}
