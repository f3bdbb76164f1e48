/*
 * util.c - messages and small helpers shared by the artifactctl commands
 */
#include "tools/artifactctl.h"

#include "fetch/artifacts.h"
#include "fetch/platform.h"


#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/*
 * One message, one whole line: publish's workers report at once, and
 * stderr is unbuffered, so without the lock the pieces of two messages
 * could share a line.
 */
static void vmsg(int err, const char *fmt, va_list ap)
{
	flockfile(stderr);
	fprintf(stderr, "%s: ", progname);
	vfprintf(stderr, fmt, ap);
	if (err)
		fprintf(stderr, ": %s", strerror(-err));
	fputc('\n', stderr);
	funlockfile(stderr);
}

void ctl_warnx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg(0, fmt, ap);
	va_end(ap);
}

void ctl_warne(int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg(err, fmt, ap);
	va_end(ap);
}

void ctl_errx(int status, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg(0, fmt, ap);
	va_end(ap);
	exit(status);
}

void ctl_erre(int status, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg(err, fmt, ap);
	va_end(ap);
	exit(status);
}

void ctl_usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s %s: ", progname, cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry '%s %s --help' for more information.\n", progname, cmd);
	exit(EXIT_USAGE);
}

int ctl_getopt(int argc, char **argv, const struct ctl_getopt *g)
{
	static const struct ctl_getopt *cur;
	int c;

	if (g != cur) {
		cur = g;
		opterr = 0;
		optind = 1;
	}
	c = getopt_long(argc, argv, g->shortopts, g->longopts, NULL);
	switch (c) {
	case 'h':
		g->usage(stdout);
		exit(EXIT_OK);
	case ':':
		ctl_usage_error(g->cmd, "option '%s' needs %s", argv[optind - 1], g->needs);
	case '?':
		if (g->short_unknown && optopt)
			ctl_usage_error(g->cmd, "unknown option '-%c'", optopt);
		ctl_usage_error(g->cmd, "unknown option '%s'", argv[optind - 1]);
	default:
		return c;
	}
}

bool ctl_is_help(const char *arg)
{
	return strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0;
}

void ctl_json_print(json_t *v, size_t flags, const char *before, const char *after)
{
	char *text = v ? json_dumps(v, flags) : NULL;

	json_decref(v);
	if (!text)
		ctl_erre(EXIT_FAIL, -ENOMEM, "cannot format JSON");
	fputs(before, stdout);
	fputs(text, stdout);
	fputs(after, stdout);
	free(text);
}

void ctl_json_row(json_t *v, size_t i)
{
	ctl_json_print(v, 0, i ? ",\n  " : "[\n  ", "");
}

void ctl_json_rows_end(size_t n)
{
	fputs(n ? "\n]\n" : "[\n]\n", stdout);
}

int ctl_artifacts_load(const char *file, struct artifacts **ret)
{
	char *msg = NULL;
	int r;

	r = artifacts_load(file, ret, &msg);
	if (r < 0)
		ctl_warnx("%s", msg ? msg : strerror(-r));
	free(msg);
	if (r < 0)
		return (r == -EINVAL || r == -E2BIG) ? EXIT_MALFORMED : EXIT_FAIL;
	return EXIT_OK;
}

const char *ctl_utc(int64_t t, char buf[32])
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (t <= 0 || !gmtime_r(&tt, &tm) || !strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm))
		return "-";
	return buf;
}

bool ctl_platform_opt_add(const char *cmd, struct ctl_platform_opt *po, int c, const char *arg)
{
	const char **tags;

	if (c == 'p') {
		po->triplet = arg;
		return true;
	}
	if (c != 't')
		return false;
	tags = realloc(po->tags, (po->ntags + 1) * sizeof(*tags));
	if (!tags)
		ctl_erre(EXIT_FAIL, -ENOMEM, "%s", cmd);
	tags[po->ntags++] = arg;
	po->tags = tags;
	return true;
}

void ctl_platform_opt_release(struct ctl_platform_opt *po)
{
	free(po->tags);
	po->tags = NULL;
	po->ntags = 0;
}

int ctl_host_platform(const char *cmd, const struct ctl_platform_opt *po, struct platform **ret)
{
	const char *triplet = po->triplet;
	const char *const *tags = po->tags;
	size_t i, ntags = po->ntags;
	struct platform *host = NULL;
	int r;

	r = platform_host(triplet, &host);
	if (r < 0) {
		if (triplet && r == -EINVAL)
			ctl_warnx("cannot parse platform triplet '%s'", triplet);
		else
			ctl_warne(r, "cannot determine the host platform");
		return r == -EINVAL ? EXIT_MALFORMED : EXIT_FAIL;
	}
	for (i = 0; i < ntags; i++) {
		r = platform_set_tag_spec(host, tags[i]);
		if (r == -EINVAL)
			ctl_usage_error(cmd,
				"invalid --tag '%s': KEY=VALUE[:exact|cap|majmin] without "
				"+ - space / < > : \" ' \\ | ? *",
				tags[i]);
		if (r < 0) {
			ctl_warne(r, "cannot add tag '%s'", tags[i]);
			platform_free(host);
			return EXIT_FAIL;
		}
	}
	*ret = host;
	return EXIT_OK;
}
