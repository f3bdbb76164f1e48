/*
 * control.c - the control socket's path and its request parser
 *
 * Free of the daemon's state: the daemon (fs/control.c) and artifactctl
 * find the socket by this one rule, tests/unit/test-fs.c checks it, and
 * the parser is the one function that reads bytes a client sent.
 */
#include "store/util/control.h"
#include "store/util/hex.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

static const char *const verbs[] = {
	[CONTROL_STATUS] = "status",
	[CONTROL_METRICS] = "metrics",
	[CONTROL_RELOAD] = "reload",
	[CONTROL_EVICT] = "evict",
	[CONTROL_WIPE] = "wipe",
	[CONTROL_PREFETCH] = "prefetch",
	[CONTROL_SOURCES] = "sources",
};

#define N_VERBS (sizeof(verbs) / sizeof(verbs[0]))
#define N_SIMPLE (CONTROL_RELOAD + 1)	/* the verbs without arguments */

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

int control_path(const char *mountpoint, const char *store_dir, bool system, char **ret)
{
	char esc[SUN_PATH_MAX];
	int r;

	if (!mountpoint || mountpoint[0] != '/')
		return -EINVAL;
	if (system) {
		r = escape_path(mountpoint, esc, sizeof(esc));
		if (r < 0)
			return r;
		if (strlen(CONTROL_DIR) + 1 + strlen(esc) + 5 >= SUN_PATH_MAX)
			return -ENAMETOOLONG;
		if (asprintf(ret, "%s/%s.sock", CONTROL_DIR, esc) < 0)
			return -ENOMEM;
		return 0;
	}
	if (!store_dir || !*store_dir)
		return -EINVAL;
	if (strlen(store_dir) + 1 + strlen(CONTROL_NAME) >= SUN_PATH_MAX)
		return -ENAMETOOLONG;
	if (asprintf(ret, "%s/%s", store_dir, CONTROL_NAME) < 0)
		return -ENOMEM;
	return 0;
}

static bool blank(char c)
{
	return c == ' ' || c == '\t';
}

/*
 * The line of buf between *b and *e without an optional final "\n" or
 * "\r\n" and without the blanks around it.
 */
static void trim_line(const char *buf, size_t *b, size_t *e)
{
	if (*e > *b && buf[*e - 1] == '\n') {
		(*e)--;
		if (*e > *b && buf[*e - 1] == '\r')
			(*e)--;
	}
	while (*b < *e && blank(buf[*b]))
		(*b)++;
	while (*e > *b && blank(buf[*e - 1]))
		(*e)--;
}

int control_parse(const char *buf, size_t len, enum control_verb *ret, const char **errmsg)
{
	size_t b = 0, e = len, i, k;

	if (len >= CONTROL_MAX) {
		*errmsg = "request too long";
		return -EINVAL;
	}
	/* One line: an optional final "\n" or "\r\n", no other line break. */
	trim_line(buf, &b, &e);
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
	for (k = 0; k < N_SIMPLE; k++) {
		if (strlen(verbs[k]) == e - b && memcmp(verbs[k], buf + b, e - b) == 0) {
			*ret = (enum control_verb)k;
			return 0;
		}
	}
	*errmsg = "unknown request (status, metrics, reload)";
	return -EINVAL;
}

/* The flags each verb with arguments takes, and whether it takes arguments. */
static const struct {
	unsigned flags;
	bool args;
} arg_verbs[] = {
	[CONTROL_EVICT] = { CONTROL_WAIT, true },
	[CONTROL_WIPE] = { CONTROL_WAIT, false },
	[CONTROL_PREFETCH] = { CONTROL_WAIT | CONTROL_ALL, true },
	[CONTROL_SOURCES] = { 0, false },
};

/* Decode the percent-encoded word w (n bytes) into a new string; -EINVAL, -ENOMEM. */
static int decode_word(const char *w, size_t n, char **ret, const char **errmsg)
{
	char *out = malloc(n + 1);
	size_t i, o = 0;
	int hi, lo;

	if (!out)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		if (w[i] != '%') {
			out[o++] = w[i];
			continue;
		}
		hi = i + 1 < n ? hex_value(w[i + 1]) : -1;
		lo = i + 2 < n ? hex_value(w[i + 2]) : -1;
		if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
			free(out);
			*errmsg = "a malformed %-escape in an argument";
			return -EINVAL;
		}
		out[o++] = (char)(hi << 4 | lo);
		i += 2;
	}
	out[o] = '\0';
	if (o == 0) {
		free(out);
		*errmsg = "an empty argument";
		return -EINVAL;
	}
	*ret = out;
	return 0;
}

/* The verb with arguments the first word of buf names, or N_VERBS. */
static size_t arg_verb(const char *buf, size_t len)
{
	size_t b = 0, w, k;

	while (b < len && blank(buf[b]))
		b++;
	for (w = b; w < len && !blank(buf[w]) && buf[w] != '\n' && buf[w] != '\r'; w++)
		;
	for (k = N_SIMPLE; k < N_VERBS; k++)
		if (strlen(verbs[k]) == w - b && memcmp(verbs[k], buf + b, w - b) == 0)
			return k;
	return N_VERBS;
}

bool control_has_args(const char *buf, size_t len)
{
	return arg_verb(buf, len) < N_VERBS;
}

int control_parse_request(const char *buf, size_t len, struct control_request *ret,
			  const char **errmsg)
{
	struct control_request r = { 0 };
	size_t b = 0, e = len, w, k, n;
	char **nv;
	int rc;

	if (len > CONTROL_ARGS_MAX) {
		*errmsg = "request too long";
		return -EINVAL;
	}
	trim_line(buf, &b, &e);
	for (w = b; w < e && !blank(buf[w]); w++)
		;
	k = arg_verb(buf + b, w - b);
	if (k == N_VERBS) {
		rc = control_parse(buf, len, &r.verb, errmsg);
		if (rc == 0)
			*ret = r;
		return rc;
	}
	r.verb = (enum control_verb)k;
	for (b = w; b < e; b = w) {
		if (!blank(buf[b]) || b + 1 >= e || blank(buf[b + 1])) {
			*errmsg = "words are separated by one blank";
			goto fail_inval;
		}
		b++;
		for (w = b; w < e && !blank(buf[w]); w++) {
			unsigned char c = (unsigned char)buf[w];

			if (c < 0x20 || c >= 0x7f) {
				*errmsg = "a control byte in the request";
				goto fail_inval;
			}
		}
		n = w - b;
		if (buf[b] == '-') {
			if (n == 6 && memcmp(buf + b, "--wait", 6) == 0 &&
			    (arg_verbs[k].flags & CONTROL_WAIT)) {
				r.flags |= CONTROL_WAIT;
			} else if (n == 5 && memcmp(buf + b, "--all", 5) == 0 &&
				   (arg_verbs[k].flags & CONTROL_ALL)) {
				r.flags |= CONTROL_ALL;
			} else {
				*errmsg = "an unknown flag";
				goto fail_inval;
			}
			continue;
		}
		if (!arg_verbs[k].args) {
			*errmsg = "this request takes no arguments";
			goto fail_inval;
		}
		nv = realloc(r.args, (r.n_args + 1) * sizeof(*nv));
		if (!nv) {
			rc = -ENOMEM;
			goto fail;
		}
		r.args = nv;
		rc = decode_word(buf + b, n, &r.args[r.n_args], errmsg);
		if (rc < 0)
			goto fail;
		r.n_args++;
	}
	*ret = r;
	return 0;
fail_inval:
	rc = -EINVAL;
fail:
	control_request_release(&r);
	return rc;
}

void control_request_release(struct control_request *r)
{
	size_t i;

	for (i = 0; i < r->n_args; i++)
		free(r->args[i]);
	free(r->args);
	r->args = NULL;
	r->n_args = 0;
}

int control_encode_arg(char *buf, size_t size, const char *arg)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = strlen(buf), start = o;
	const unsigned char *p;

	if (o + 1 >= size)
		return -ENAMETOOLONG;
	buf[o++] = ' ';
	for (p = (const unsigned char *)arg; *p; p++) {
		if (o + 4 >= size) {
			buf[start] = '\0';
			return -ENAMETOOLONG;
		}
		if (*p <= 0x20 || *p >= 0x7f || *p == '%' ||
		    (*p == '-' && p == (const unsigned char *)arg)) {
			buf[o++] = '%';
			buf[o++] = hex[*p >> 4];
			buf[o++] = hex[*p & 15];
		} else {
			buf[o++] = (char)*p;
		}
	}
	buf[o] = '\0';
	return 0;
}

bool control_owner_only(enum control_verb verb)
{
	return verb == CONTROL_RELOAD || verb == CONTROL_EVICT || verb == CONTROL_WIPE ||
	       verb == CONTROL_PREFETCH;
}

const char *control_verb_name(enum control_verb verb)
{
	return (unsigned)verb < N_VERBS ? verbs[verb] : NULL;
}

void control_mountinfo_unescape(char *s)
{
	char *o = s;

	for (; *s; s++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' &&
		    s[3] >= '0' && s[3] <= '7') {
			*o++ = (char)((s[1] - '0') << 6 | (s[2] - '0') << 3 | (s[3] - '0'));
			s += 3;
		} else {
			*o++ = *s;
		}
	}
	*o = '\0';
}
