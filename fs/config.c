/*
 * config.c - the daemon's settings: -o options and the config file
 *
 * Every setting has one name, used alike as "-o name=value" and as a key of
 * the config file (artifactfs.toml(5)); fs_config_set() is the single place
 * that knows them.
 */
#include "fs/fs.h"
#include "fetch/toml.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_STORE "/var/cache/artifactfs"

void fs_config_init(struct fs_config *c)
{
	memset(c, 0, sizeof(*c));
	c->jobs = 4;
	c->connect_timeout = 30;
	c->low_speed_time = 20;
	c->timeout = 0;
	c->retry_after = 10;
	c->name_timeout = 1;
	c->quota_low = 75;
}

static void free_list(char **v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

void fs_config_release(struct fs_config *c)
{
	free(c->store_dir);
	free_list(c->tomls, c->n_tomls);
	free(c->config_file);
	free(c->platform);
	free_list(c->tags, c->n_tags);
	free(c->pkg_server);
	free(c->ca_file);
	fs_config_init(c);
}

static int list_add(char ***v, size_t *n, const char *s)
{
	char **nv = realloc(*v, (*n + 1) * sizeof(**v));

	if (!nv)
		return -ENOMEM;
	*v = nv;
	nv[*n] = strdup(s);
	if (!nv[*n])
		return -ENOMEM;
	(*n)++;
	return 0;
}

int fs_config_add_toml(struct fs_config *c, const char *path)
{
	return list_add(&c->tomls, &c->n_tomls, path);
}

int fs_config_add_tag(struct fs_config *c, const char *kv)
{
	return list_add(&c->tags, &c->n_tags, kv);
}

bool fs_is_hash(const char *s)
{
	size_t i;

	for (i = 0; i < 40; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return s[40] == '\0';
}

int fs_parse_duration(const char *s, double *ret)
{
	char *end;
	double v;

	if (!s || !*s)
		return -EINVAL;
	v = strtod(s, &end);
	if (end == s || !isfinite(v) || v < 0)
		return -EINVAL;
	if (strcmp(end, "ms") == 0)
		v /= 1000;
	else if (strcmp(end, "m") == 0 || strcmp(end, "min") == 0)
		v *= 60;
	else if (strcmp(end, "h") == 0)
		v *= 3600;
	else if (strcmp(end, "d") == 0)
		v *= 86400;
	else if (*end && strcmp(end, "s") != 0)
		return -EINVAL;
	*ret = v;
	return 0;
}

int fs_parse_size(const char *s, uint64_t *ret)
{
	static const char units[] = "KMGTPE";
	const char *u;
	char *end;
	double v;

	if (!s || !*s)
		return -EINVAL;
	v = strtod(s, &end);
	if (end == s || !isfinite(v) || v < 0)
		return -EINVAL;
	if (*end && (u = strchr(units, *end & ~0x20)) && *end != '\0') {
		v *= pow(1024, (double)(u - units + 1));
		end++;
		if (*end == 'i')
			end++;
	}
	if (*end == 'B' || *end == 'b')
		end++;
	if (*end)
		return -EINVAL;
	if (v >= 18446744073709551615.0)
		return -ERANGE;
	*ret = (uint64_t)v;
	return 0;
}

static int set_string(char **dst, const char *value, const char **errmsg)
{
	char *p;

	if (!value || !*value) {
		*errmsg = "needs a value";
		return -EINVAL;
	}
	p = strdup(value);
	if (!p)
		return -ENOMEM;
	free(*dst);
	*dst = p;
	return 1;
}

static int set_duration(double *dst, const char *value, const char **errmsg)
{
	if (fs_parse_duration(value, dst) < 0) {
		*errmsg = "needs a duration such as 30, 1.5, 500ms or 2m";
		return -EINVAL;
	}
	return 1;
}

int fs_config_set(struct fs_config *c, const char *key, const char *value, const char **errmsg)
{
	char *end;
	unsigned long n;
	int r;

	*errmsg = NULL;
	if (strcmp(key, "store") == 0)
		return set_string(&c->store_dir, value, errmsg);
	if (strcmp(key, "toml") == 0) {
		if (!value || !*value) {
			*errmsg = "needs a file name";
			return -EINVAL;
		}
		r = fs_config_add_toml(c, value);
		return r < 0 ? r : 1;
	}
	if (strcmp(key, "config") == 0)
		return set_string(&c->config_file, value, errmsg);
	if (strcmp(key, "platform") == 0)
		return set_string(&c->platform, value, errmsg);
	if (strcmp(key, "tag") == 0) {
		if (!value || !strchr(value, '=') || value[0] == '=') {
			*errmsg = "needs KEY=VALUE";
			return -EINVAL;
		}
		r = fs_config_add_tag(c, value);
		return r < 0 ? r : 1;
	}
	if (strcmp(key, "pkg_server") == 0)
		return set_string(&c->pkg_server, value, errmsg);
	if (strcmp(key, "ca_file") == 0)
		return set_string(&c->ca_file, value, errmsg);
	if (strcmp(key, "jobs") == 0) {
		n = value ? strtoul(value, &end, 10) : 0;
		if (!value || *end || n < 1 || n > 256) {
			*errmsg = "needs a number from 1 to 256";
			return -EINVAL;
		}
		c->jobs = (unsigned)n;
		return 1;
	}
	if (strcmp(key, "connect_timeout") == 0)
		return set_duration(&c->connect_timeout, value, errmsg);
	if (strcmp(key, "low_speed_time") == 0)
		return set_duration(&c->low_speed_time, value, errmsg);
	if (strcmp(key, "timeout") == 0)
		return set_duration(&c->timeout, value, errmsg);
	if (strcmp(key, "retry_after") == 0)
		return set_duration(&c->retry_after, value, errmsg);
	if (strcmp(key, "name_timeout") == 0)
		return set_duration(&c->name_timeout, value, errmsg);
	if (strcmp(key, "quota") == 0) {
		if (fs_parse_size(value, &c->quota) < 0) {
			*errmsg = "needs a size such as 500M, 20G or 1T";
			return -EINVAL;
		}
		return 1;
	}
	if (strcmp(key, "quota_low") == 0) {
		n = value ? strtoul(value, &end, 10) : 0;
		if (!value || (*end && strcmp(end, "%") != 0) || n < 1 || n > 99) {
			*errmsg = "needs a percentage from 1 to 99";
			return -EINVAL;
		}
		c->quota_low = (unsigned)n;
		return 1;
	}
	if (strcmp(key, "offline") == 0 && !value) {
		c->offline = true;
		return 1;
	}
	if (strcmp(key, "ignore_hashes") == 0 && !value) {
		c->ignore_hashes = true;
		return 1;
	}
	return 0;
}

/*
 * The config file holds the same keys as -o.  A boolean flag is written as
 * "offline = true"; repeatable keys (toml, tag) take an array of strings;
 * durations take a number of seconds or a string such as "500ms".
 */
static int apply_value(struct fs_config *c, const char *key, const struct toml_value *v,
		       const char **why)
{
	char num[64];
	size_t i;
	int r;

	switch (toml_type(v)) {
	case TOML_STRING:
		return fs_config_set(c, key, toml_string(v, NULL), why);
	case TOML_INTEGER:
		snprintf(num, sizeof(num), "%lld", (long long)toml_integer(v));
		return fs_config_set(c, key, num, why);
	case TOML_FLOAT:
		snprintf(num, sizeof(num), "%.17g", toml_float(v));
		return fs_config_set(c, key, num, why);
	case TOML_BOOL:
		if (strcmp(key, "offline") != 0 && strcmp(key, "ignore_hashes") != 0) {
			*why = "is not a flag";
			return -EINVAL;
		}
		if (toml_bool(v))
			return fs_config_set(c, key, NULL, why);
		if (strcmp(key, "offline") == 0)
			c->offline = false;
		else
			c->ignore_hashes = false;
		return 1;
	case TOML_ARRAY:
		if (strcmp(key, "toml") != 0 && strcmp(key, "tag") != 0) {
			*why = "takes one value, not an array";
			return -EINVAL;
		}
		for (i = 0; i < toml_len(v); i++) {
			if (toml_type(toml_at(v, i)) != TOML_STRING) {
				*why = "needs an array of strings";
				return -EINVAL;
			}
			r = fs_config_set(c, key, toml_string(toml_at(v, i), NULL), why);
			if (r <= 0)
				return r;
		}
		return 1;
	default:
		*why = "has a value of the wrong type";
		return -EINVAL;
	}
}

int fs_config_load_file(struct fs_config *c, const char *path, char **errmsg)
{
	struct toml_value *doc = NULL;
	const char *key, *why = NULL;
	size_t i;
	int r;

	*errmsg = NULL;
	r = toml_parse_file(path, &doc, errmsg);
	if (r < 0)
		return r;
	for (i = 0; i < toml_len(doc); i++) {
		key = toml_key_at(doc, i, NULL);
		if (strcmp(key, "config") == 0) {
			why = "cannot include another config file";
			r = -EINVAL;
		} else {
			r = apply_value(c, key, toml_value_at(doc, i), &why);
		}
		if (r == 0) {
			why = "is not a known setting";
			r = -EINVAL;
		}
		if (r < 0) {
			if (asprintf(errmsg, "%s: '%s' %s", path, key, why ? why : strerror(-r)) < 0)
				*errmsg = NULL;
			goto out;
		}
	}
	r = 0;
out:
	toml_free(doc);
	return r;
}

const char *fs_config_store(const struct fs_config *c)
{
	return c->store_dir ? c->store_dir : DEFAULT_STORE;
}
