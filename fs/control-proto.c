/*
 * control-proto.c - the control socket's path and its request parser
 *
 * FUSE-free and free of the daemon's state: artifactctl links it to find
 * the socket by the daemon's rule, tests/unit/test-fs.c checks it, and the
 * parser is the one function that reads bytes a client sent.
 */
#include "fs/fs.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

static const char *const verbs[] = {
	[FS_CONTROL_STATUS] = "status",
	[FS_CONTROL_METRICS] = "metrics",
	[FS_CONTROL_RELOAD] = "reload",
};

#define N_VERBS (sizeof(verbs) / sizeof(verbs[0]))

/* Room in a socket address for the path and its NUL. */
#define SUN_PATH_MAX (sizeof(((struct sockaddr_un *)0)->sun_path))

/* Escape one path as systemd-escape --path does, into out (size n); -ENAMETOOLONG. */
static int escape_path(const char *p, char *out, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0, len;
	unsigned char c;

	while (*p == '/')
		p++;
	len = strlen(p);
	while (len && p[len - 1] == '/')
		len--;
	if (len == 0) {
		if (n < 2)
			return -ENAMETOOLONG;
		strcpy(out, "-");
		return 0;
	}
	for (size_t i = 0; i < len; i++) {
		c = (unsigned char)p[i];
		if (c == '/') {
			if (o + 1 >= n)
				return -ENAMETOOLONG;
			out[o++] = '-';
		} else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			   (c >= '0' && c <= '9') || c == '_' || c == ':' || (c == '.' && i > 0)) {
			if (o + 1 >= n)
				return -ENAMETOOLONG;
			out[o++] = (char)c;
		} else {
			if (o + 4 >= n)
				return -ENAMETOOLONG;
			out[o++] = '\\';
			out[o++] = 'x';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		}
	}
	out[o] = '\0';
	return 0;
}

int fs_control_path(const char *mountpoint, const char *store_dir, bool system, char **ret)
{
	char esc[SUN_PATH_MAX];
	int r;

	if (!mountpoint || mountpoint[0] != '/')
		return -EINVAL;
	if (system) {
		r = escape_path(mountpoint, esc, sizeof(esc));
		if (r < 0)
			return r;
		if (strlen(FS_CONTROL_DIR) + 1 + strlen(esc) + 5 >= SUN_PATH_MAX)
			return -ENAMETOOLONG;
		if (asprintf(ret, "%s/%s.sock", FS_CONTROL_DIR, esc) < 0)
			return -ENOMEM;
		return 0;
	}
	if (!store_dir || !*store_dir)
		return -EINVAL;
	if (strlen(store_dir) + 1 + strlen(FS_CONTROL_NAME) >= SUN_PATH_MAX)
		return -ENAMETOOLONG;
	if (asprintf(ret, "%s/%s", store_dir, FS_CONTROL_NAME) < 0)
		return -ENOMEM;
	return 0;
}

static bool blank(char c)
{
	return c == ' ' || c == '\t';
}

int fs_control_parse(const char *buf, size_t len, enum fs_control_verb *ret, const char **errmsg)
{
	size_t b = 0, e = len, i, k;

	if (len >= FS_CONTROL_MAX) {
		*errmsg = "request too long";
		return -EINVAL;
	}
	/* One line: an optional final "\n" or "\r\n", no other line break. */
	if (e && buf[e - 1] == '\n') {
		e--;
		if (e && buf[e - 1] == '\r')
			e--;
	}
	while (b < e && blank(buf[b]))
		b++;
	while (e > b && blank(buf[e - 1]))
		e--;
	if (b == e) {
		*errmsg = "empty request";
		return -EINVAL;
	}
	for (i = b; i < e; i++) {
		unsigned char c = (unsigned char)buf[i];

		if (c == '\n' || c == '\r') {
			*errmsg = "more than one line";
			return -EINVAL;
		}
		if (c < 0x20 || c == 0x7f) {
			*errmsg = "a control byte in the request";
			return -EINVAL;
		}
		if (blank((char)c)) {
			*errmsg = "a request is one word";
			return -EINVAL;
		}
	}
	for (k = 0; k < N_VERBS; k++) {
		if (strlen(verbs[k]) == e - b && memcmp(verbs[k], buf + b, e - b) == 0) {
			*ret = (enum fs_control_verb)k;
			return 0;
		}
	}
	*errmsg = "unknown request (status, metrics, reload)";
	return -EINVAL;
}

bool fs_control_owner_only(enum fs_control_verb verb)
{
	return verb == FS_CONTROL_RELOAD;
}

const char *fs_control_verb_name(enum fs_control_verb verb)
{
	return (unsigned)verb < N_VERBS ? verbs[verb] : NULL;
}
