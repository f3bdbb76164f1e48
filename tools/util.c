/*
 * util.c - messages and small helpers shared by the artifactctl commands
 */
#include "tools/artifactctl.h"

#include "store/util/buf.h"
#include "tools/sidecar.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void vmsg(int err, const char *fmt, va_list ap)
{
	fprintf(stderr, "%s: ", progname);
	vfprintf(stderr, fmt, ap);
	if (err)
		fprintf(stderr, ": %s", strerror(-err));
	fputc('\n', stderr);
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

bool ctl_is_help(const char *arg)
{
	return strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0;
}

void ctl_json_str(const char *s)
{
	struct buf b;

	buf_init(&b, (size_t)-1);
	if (json_add_str(&b, s) < 0)
		ctl_erre(EXIT_FAIL, -ENOMEM, "cannot format JSON");
	fputs(b.ptr, stdout);
	buf_release(&b);
}

const char *ctl_utc(int64_t t, char buf[32])
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (t <= 0 || !gmtime_r(&tt, &tm) || !strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm))
		return "-";
	return buf;
}

int ctl_parse_number(const char *v, const char *const *units, const uint64_t *mult,
	uint64_t *ret)
{
	uint64_t n = 0;
	const char *p = v;
	size_t i;

	if (*p < '0' || *p > '9')
		return -EINVAL;
	for (; *p >= '0' && *p <= '9'; p++) {
		if (n > (UINT64_MAX - 9) / 10)
			return -ERANGE;
		n = n * 10 + (uint64_t)(*p - '0');
	}
	for (i = 0; units[i]; i++) {
		if (strcmp(p, units[i]) == 0) {
			if (mult[i] && n > UINT64_MAX / mult[i])
				return -ERANGE;
			*ret = n * mult[i];
			return 0;
		}
	}
	return -EINVAL;
}

int ctl_parse_bytes(const char *v, uint64_t *ret)
{
	static const char *const units[] = { "", "B", "K", "KiB", "k", "M", "MiB", "G", "GiB",
		"T", "TiB", NULL };
	static const uint64_t mult[] = { 1, 1, 1ULL << 10, 1ULL << 10, 1ULL << 10, 1ULL << 20,
		1ULL << 20, 1ULL << 30, 1ULL << 30, 1ULL << 40, 1ULL << 40 };

	return ctl_parse_number(v, units, mult, ret);
}
