/*
 * aws_config.c - the S3 endpoint and region from the options, the
 * environment and ~/.aws/config, in aws-cli's order (aws_config.h)
 *
 * The config file is read whole and scanned once per question with a
 * line scanner that leaves the text as it is: a few questions on a file of
 * a few lines, no parse tree needed.
 */
#include "tools/publish/aws_config.h"
#include "store/util/buf.h"

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *env(const char *name)
{
	const char *v = getenv(name);

	return v && *v ? v : NULL;
}

/* The whole file at path into *ret (NUL-terminated); NULL when it does not exist. */
static int read_text(const char *path, char **ret, char **errmsg)
{
	struct stat st;
	char *text = NULL;
	size_t len = 0;
	ssize_t n;
	int fd, r = 0;

	*ret = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	if (fstat(fd, &st) < 0) {
		r = -errno;
		goto out;
	}
	if (S_ISDIR(st.st_mode)) {
		r = -EISDIR;
		goto out;
	}
	if (!S_ISREG(st.st_mode))
		goto out; /* /dev/null: an empty config, as aws-cli reads it */
	if ((uint64_t)st.st_size >= AWS_CONFIG_MAX) {
		r = -E2BIG;
		goto out;
	}
	if (!(text = malloc((size_t)st.st_size + 1))) {
		r = -ENOMEM;
		goto out;
	}
	while (len < (size_t)st.st_size && (n = read(fd, text + len, (size_t)st.st_size - len))) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = -errno;
			goto out;
		}
		len += (size_t)n;
	}
	text[len] = '\0';
	*ret = text;
	text = NULL;
out:
	if (r < 0 && r != -ENOMEM &&
		asprintf(errmsg, "cannot read the AWS config file '%s': %s", path, strerror(-r)) <
			0)
		*errmsg = NULL;
	free(text);
	close(fd);
	return r;
}

static bool span_is(const char *s, const char *e, const char *word)
{
	size_t n = strlen(word);

	return (size_t)(e - s) == n && memcmp(s, word, n) == 0;
}

/*
 * The value of key in section (the text between the brackets, e.g.
 * "profile r2", "default", "services my"), in its sub-section sub (NULL:
 * at the top of the section), as a malloc'ed string; NULL when absent.  Of
 * a key given twice, the last counts.  *err gets -ENOMEM.
 */
static char *ini_get(
	const char *text, const char *section, const char *sub, const char *key, int *err)
{
	const char *line = text, *next, *s, *e, *eq, *val = NULL, *vend = NULL;
	bool in = false, in_sub = false;
	char *v;

	for (; line && *line; line = next) {
		next = strchr(line, '\n');
		e = next ? next : line + strlen(line);
		if (next)
			next++;
		s = line;
		buf_span_trim(&s, &e);
		if (s == e || *s == '#' || *s == ';')
			continue;
		if (*s == '[') {
			const char *ns = s + 1, *ne = memchr(s, ']', (size_t)(e - s));

			in_sub = false;
			if (!ne) {
				in = false;
				continue;
			}
			buf_span_trim(&ns, &ne);
			/* "[profile   x]" and "[profile x]" name the same profile */
			if (strncmp(section, "profile ", 8) == 0 ||
				strncmp(section, "services ", 9) == 0) {
				const char *sp = strchr(section, ' ');
				size_t kw = (size_t)(sp - section);

				in = (size_t)(ne - ns) > kw && memcmp(ns, section, kw) == 0 &&
				     (ns[kw] == ' ' || ns[kw] == '\t');
				if (in) {
					ns += kw;
					buf_span_trim(&ns, &ne);
					in = span_is(ns, ne, sp + 1);
				}
			} else {
				in = span_is(ns, ne, section);
			}
			continue;
		}
		if (!in || !(eq = memchr(s, '=', (size_t)(e - s))))
			continue;
		{
			const char *ks = s, *ke = eq, *vs = eq + 1, *ve = e;
			bool indented = line[0] == ' ' || line[0] == '\t';

			buf_span_trim(&ks, &ke);
			buf_span_trim(&vs, &ve);
			if (!indented)
				in_sub = sub && span_is(ks, ke, sub) && vs == ve;
			if (!indented && vs == ve)
				continue; /* a sub-section starts (or an empty value) */
			if ((sub ? in_sub && indented : !indented) && span_is(ks, ke, key)) {
				val = vs;
				vend = ve;
			}
		}
	}
	if (!val || val == vend)
		return NULL;
	if (!(v = strndup(val, (size_t)(vend - val))))
		*err = -ENOMEM;
	return v;
}

static bool is_true(const char *v)
{
	return v && strcasecmp(v, "true") == 0;
}

void aws_s3_settings_release(struct aws_s3_settings *s)
{
	free(s->endpoint);
	free(s->region);
	s->endpoint = s->region = NULL;
	s->source = NULL;
}

int aws_s3_settings_resolve(const char *endpoint, const char *region, const char *profile,
	struct aws_s3_settings *ret, char **errmsg)
{
	struct aws_s3_settings s = {0};
	const char *file = env("AWS_CONFIG_FILE");
	char *path = NULL, *text = NULL, *section = NULL, *services = NULL, *svc = NULL, *v = NULL;
	int r = 0;

	*errmsg = NULL;
	if (!profile)
		profile = env("AWS_PROFILE") ? env("AWS_PROFILE") : "default";
	if (!file) {
		const char *home = env("HOME");
		struct passwd *pw;

		if (!home && (pw = getpwuid(getuid())))
			home = pw->pw_dir;
		if (home && asprintf(&path, "%s/.aws/config", home) < 0)
			return -ENOMEM;
		file = path;
	}
	if (file && (r = read_text(file, &text, errmsg)) < 0)
		goto out;
	if (text && asprintf(&section, strcmp(profile, "default") == 0 ? "%s" : "profile %s",
			    profile) < 0) {
		r = -ENOMEM;
		goto out;
	}
	/* [profile default] is read too, when [default] does not say */
#define GET(sub, key)                                                                              \
	(!text ? NULL                                                                              \
		: (v = ini_get(text, section, sub, key, &r)) || r < 0 ||                           \
				strcmp(profile, "default") != 0                                    \
			? v                                                                        \
			: ini_get(text, "profile default", sub, key, &r))

	if (endpoint) {
		s.source = "option";
		if (!(s.endpoint = strdup(endpoint)))
			r = -ENOMEM;
	} else if (!is_true(env("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS")) &&
		   !(v = GET(NULL, "ignore_configured_endpoint_urls"), r == 0 && is_true(v))) {
		free(v);
		v = NULL;
		if (r == 0 && env("AWS_ENDPOINT_URL_S3")) {
			s.source = "AWS_ENDPOINT_URL_S3";
			v = strdup(env("AWS_ENDPOINT_URL_S3"));
		} else if (r == 0 && env("AWS_ENDPOINT_URL")) {
			s.source = "AWS_ENDPOINT_URL";
			v = strdup(env("AWS_ENDPOINT_URL"));
		} else if (r == 0 && text) {
			s.source = "config";
			services = GET(NULL, "services");
			if (services && r == 0 && asprintf(&svc, "services %s", services) < 0)
				r = -ENOMEM;
			if (svc && r == 0)
				v = ini_get(text, svc, "s3", "endpoint_url", &r);
			if (!v && r == 0)
				v = GET("s3", "endpoint_url");
			if (!v && r == 0)
				v = GET(NULL, "endpoint_url");
			if (!v)
				s.source = NULL;
		}
		if (s.source && !v)
			r = -ENOMEM;
		s.endpoint = v;
	} else {
		free(v);
	}
	v = NULL;
	if (r == 0 && region)
		v = strdup(region);
	else if (r == 0 && (env("AWS_REGION") || env("AWS_DEFAULT_REGION")))
		v = strdup(env("AWS_REGION") ? env("AWS_REGION") : env("AWS_DEFAULT_REGION"));
	else if (r == 0 && !(v = GET(NULL, "region")) && r == 0)
		v = strdup("auto");
#undef GET
	s.region = v;
	if (r == 0 && !s.region)
		r = -ENOMEM;
	if (r < 0) {
		aws_s3_settings_release(&s);
		goto out;
	}
	*ret = s;
out:
	free(services);
	free(svc);
	free(section);
	free(text);
	free(path);
	return r;
}
