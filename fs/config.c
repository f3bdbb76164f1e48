/*
 * config.c - the daemon's settings: -o options and the config file
 *
 * Every setting has one name, used alike as "-o name=value" and as a key of
 * the config file (artifactfs.toml(5)); fs_config_set() is the single place
 * that knows them.
 */
#include "fs/fs.h"
#include "fetch/fetch.h"
#include "fetch/proxy.h"
#include "fetch/toml.h"
#include "store/util/units.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define DEFAULT_STORE "/var/cache/artifactfs"

void fs_config_init(struct fs_config *c)
{
	memset(c, 0, sizeof(*c));
	c->jobs = 4;
	c->connect_timeout = 30;
	c->low_speed_limit = FETCH_LOW_SPEED_LIMIT;
	c->low_speed_time = FETCH_LOW_SPEED_TIME;
	c->timeout = 0;
	c->install_timeout = FS_INSTALL_TIMEOUT;
	c->retry_after = 10;
	c->proxy_retry_after = FETCH_PROXY_RETRY_AFTER;
	c->proxy_reset_after = FETCH_PROXY_RESET_AFTER;
	c->name_timeout = 1;
	c->quota_low = 75;
	c->log_level = FS_LOG_INFO;
	c->slow_install_log = FS_SLOW_INSTALL_LOG;
	c->negative_timeout = FS_NEGATIVE_TIMEOUT;
	c->sync_after = FS_SYNC_AFTER;
	c->no_open = true;
	c->xattr = true;
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
	free(c->proxy);
	free(c->ca_file);
	free(c->control_group);
	free(c->overrides);
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

/*
 * The settings, each with one type (artifactfs.toml(5)).  The type decides
 * what "-o KEY=TEXT" accepts and which TOML types the config file accepts:
 *
 *   S_STRING    text; a TOML string
 *   S_LIST      text, repeatable; a TOML string or array of strings
 *   S_INT       decimal integer in [min, max]; a TOML integer
 *   S_PERCENT   S_INT that may end in "%"; a TOML integer
 *   S_DURATION  units_parse_seconds() text in [min, max] seconds; a TOML
 *               integer or float (seconds) or a string with that syntax
 *   S_SIZE      units_parse_size() text; a TOML integer (bytes) or a string
 *   S_BOOL      bare, or true/false yes/no on/off 1/0; a TOML boolean only
 *   S_LEVEL     error, warning, info or debug (an enum fs_log_level); a TOML string
 *   S_PROBE     off or probe (a bool, true for probe); a TOML string
 *   S_AFTER     never, a size (units_parse_size(): bytes) or N followed by
 *               "files"; a TOML integer (bytes) or string.  The field is
 *               the bytes; the files follow it in struct fs_config.
 */
enum setting_type {
	S_STRING, S_LIST, S_INT, S_PERCENT, S_DURATION, S_SIZE, S_BOOL, S_LEVEL, S_PROBE, S_AFTER
};

struct setting {
	const char *key;
	enum setting_type type;
	size_t off;		/* of the field in struct fs_config */
	double min, max;	/* S_INT, S_PERCENT, S_DURATION */
	const char *expect;	/* what a bad value is told it needs */
};

#define F(field) offsetof(struct fs_config, field)
#define YEAR 31536000.0
#define DURATION "a duration (seconds, or a string such as \"500ms\" or \"2m\")"
#define POSITIVE_DURATION "a duration greater than 0 (seconds, or a string such as \"500ms\")"
#define SIZE "a size (bytes, or a string such as \"500M\" or \"20G\")"
#define BOOL "a boolean (true or false)"

static const struct setting settings[] = {
	{ "store", S_STRING, F(store_dir), 0, 0, "a directory" },
	{ "toml", S_LIST, F(tomls), 0, 0, "a file name" },
	{ "config", S_STRING, F(config_file), 0, 0, "a file name" },
	{ "platform", S_STRING, F(platform), 0, 0, "a platform triplet" },
	{ "tag", S_LIST, F(tags), 0, 0, "KEY=VALUE[:MODE]" },
	{ "pkg_server", S_STRING, F(pkg_server), 0, 0, "a URL" },
	{ "ca_file", S_STRING, F(ca_file), 0, 0, "a file name" },
	{ "proxy", S_STRING, F(proxy), 0, 0, "a proxy list" },
	{ "proxy_shard", S_BOOL, F(proxy_shard), 0, 0, BOOL },
	{ "proxy_retry_after", S_DURATION, F(proxy_retry_after), 1e-3, YEAR, POSITIVE_DURATION },
	{ "proxy_reset_after", S_DURATION, F(proxy_reset_after), 1e-3, YEAR, POSITIVE_DURATION },
	{ "jobs", S_INT, F(jobs), 1, 256, "an integer from 1 to 256" },
	{ "connect_timeout", S_DURATION, F(connect_timeout), 1e-3, YEAR, POSITIVE_DURATION },
	{ "low_speed_limit", S_SIZE, F(low_speed_limit), 0, 0, SIZE },
	{ "low_speed_time", S_DURATION, F(low_speed_time), 0, YEAR, DURATION },
	{ "timeout", S_DURATION, F(timeout), 0, YEAR, DURATION },
	{ "install_timeout", S_DURATION, F(install_timeout), 1e-3, YEAR, POSITIVE_DURATION },
	{ "retry_after", S_DURATION, F(retry_after), 0, YEAR, DURATION },
	{ "name_timeout", S_DURATION, F(name_timeout), 0, YEAR, DURATION },
	{ "quota", S_SIZE, F(quota), 0, 0, SIZE },
	{ "quota_low", S_PERCENT, F(quota_low), 1, 99, "a percentage from 1 to 99" },
	{ "max_unpacked", S_SIZE, F(max_unpacked), 0, 0, SIZE },
	{ "offline", S_BOOL, F(offline), 0, 0, BOOL },
	{ "ignore_hashes", S_BOOL, F(ignore_hashes), 0, 0, BOOL },
	{ "overmount", S_BOOL, F(overmount), 0, 0, BOOL },
	{ "control_group", S_STRING, F(control_group), 0, 0, "a group name or number" },
	{ "log_level", S_LEVEL, F(log_level), 0, 0, "one of error, warning, info, debug" },
	{ "slow_install_log", S_DURATION, F(slow_install_log), 0, YEAR, DURATION },
	{ "depot_layout", S_BOOL, F(depot_layout), 0, 0, BOOL },
	{ "any_hash", S_BOOL, F(any_hash), 0, 0, BOOL },
	{ "no_open", S_BOOL, F(no_open), 0, 0, BOOL },
	{ "xattr", S_BOOL, F(xattr), 0, 0, BOOL },
	{ "negative_timeout", S_DURATION, F(negative_timeout), 0, YEAR, DURATION },
	{ "overrides", S_STRING, F(overrides), 0, 0, "a file name" },
	{ "keep_seek_index", S_BOOL, F(keep_seek_index), 0, 0, BOOL },
	{ "sync_commit", S_BOOL, F(sync_commit), 0, 0, BOOL },
	{ "sync_after", S_DURATION, F(sync_after), 0, 86400, "a duration up to a day" },
	{ "per_file", S_BOOL, F(per_file), 0, 0, BOOL },
	{ "seek_index", S_PROBE, F(seek_index_probe), 0, 0, "probe or off" },
	{ "full_install_after", S_AFTER, F(full_install_bytes), 0, 0,
	  "never, a size (\"64M\") or a number of files (\"100files\")" },
};

/* The words of log_level=, with the least important lines each lets through. */
static const struct {
	const char *word;
	enum fs_log_level max;
} log_levels[] = {
	{ "error", FS_LOG_ERR }, { "warning", FS_LOG_WARNING }, { "info", FS_LOG_INFO },
	{ "debug", FS_LOG_DEBUG },
};

static const struct setting *find_setting(const char *key)
{
	size_t i;

	for (i = 0; i < sizeof(settings) / sizeof(settings[0]); i++)
		if (strcmp(settings[i].key, key) == 0)
			return &settings[i];
	return NULL;
}

bool fs_config_known(const char *key)
{
	return find_setting(key) != NULL;
}

/* The words -o accepts for a boolean; the config file takes TOML's true and false. */
static int parse_bool(const char *s, bool *ret)
{
	static const char *const yes[] = { "true", "yes", "on", "1" };
	static const char *const no[] = { "false", "no", "off", "0" };
	size_t i;

	for (i = 0; i < 4; i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*ret = true;
			return 0;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*ret = false;
			return 0;
		}
	}
	return -EINVAL;
}

static int set_list(struct fs_config *c, const struct setting *s, const char *value,
		    const char **errmsg)
{
	if (!value || !*value) {
		*errmsg = "needs a value";
		return -EINVAL;
	}
	if (s->off == F(tags) && (!strchr(value, '=') || value[0] == '=')) {
		*errmsg = "needs KEY=VALUE[:MODE]";
		return -EINVAL;
	}
	return list_add(s->off == F(tags) ? &c->tags : &c->tomls,
			s->off == F(tags) ? &c->n_tags : &c->n_tomls, value);
}

static const char *needs(const struct setting *s)
{
	static __thread char buf[160];

	if (s->type == S_BOOL)
		return "needs a boolean (true/false, yes/no, on/off or 1/0)";
	snprintf(buf, sizeof(buf), "needs %s", s->expect);
	return buf;
}

/* A proxy= list that fetch_proxies_parse() refuses: its message, in a thread's buffer. */
static int check_proxy(const char *value, const char **errmsg)
{
	static __thread char buf[320];
	struct fetch_proxies *p = NULL;
	char *msg = NULL;
	int r;

	r = fetch_proxies_parse(value, NULL, &p, &msg);
	fetch_proxies_free(p);
	if (r < 0) {
		snprintf(buf, sizeof(buf), "needs a proxy list (%s)", msg ? msg : strerror(-r));
		*errmsg = buf;
	}
	free(msg);
	return r;
}

/*
 * set_after - full_install_after=: "never", a size (bytes) or "<N>files";
 * one of the two thresholds is set, the other cleared.
 */
static int set_after(struct fs_config *c, const char *value, const char **errmsg)
{
	static const char *const msg = "needs never, a size (\"64M\") or a number of files "
				       "(\"100files\")";
	unsigned long long n;
	char *end;
	uint64_t z;

	if (strcasecmp(value, "never") == 0) {
		c->full_install_bytes = c->full_install_files = 0;
		return 0;
	}
	errno = 0;
	n = strtoull(value, &end, 10);
	if (end != value && value[0] != '-' && value[0] != '+' && !errno &&
	    (strcasecmp(end, "files") == 0 || strcasecmp(end, "file") == 0) && n > 0) {
		c->full_install_bytes = 0;
		c->full_install_files = n;
		return 0;
	}
	if (units_parse_size(value, &z) < 0 || z == 0) {
		*errmsg = msg;
		return -EINVAL;
	}
	c->full_install_bytes = z;
	c->full_install_files = 0;
	return 0;
}

int fs_config_set(struct fs_config *c, const char *key, const char *value, const char **errmsg)
{
	const struct setting *s = find_setting(key);
	char *field, *end;
	unsigned long n;
	uint64_t z;
	double d;
	bool b;
	int r;

	*errmsg = NULL;
	if (!s)
		return 0;
	field = (char *)c + s->off;
	if (s->type != S_BOOL && (!value || !*value)) {
		*errmsg = s->type == S_STRING || s->type == S_LIST ? "needs a value" : needs(s);
		return -EINVAL;
	}
	switch (s->type) {
	case S_STRING:
		if (s->off == F(proxy) && check_proxy(value, errmsg) < 0)
			return -EINVAL;
		return set_string((char **)field, value, errmsg);
	case S_LIST:
		r = set_list(c, s, value, errmsg);
		return r < 0 ? r : 1;
	case S_INT:
	case S_PERCENT:
		errno = 0;
		n = strtoul(value, &end, 10);
		if (s->type == S_PERCENT && strcmp(end, "%") == 0)
			end++;
		if (errno || *end || value[0] == '-' || value[0] == '+' || n < s->min ||
		    n > s->max) {
			*errmsg = needs(s);
			return -EINVAL;
		}
		*(unsigned *)field = (unsigned)n;
		return 1;
	case S_DURATION:
		if (units_parse_seconds(value, &d) < 0 || d < s->min || d > s->max) {
			*errmsg = needs(s);
			return -EINVAL;
		}
		*(double *)field = d;
		return 1;
	case S_SIZE:
		if (units_parse_size(value, &z) < 0) {
			*errmsg = needs(s);
			return -EINVAL;
		}
		*(uint64_t *)field = z;
		return 1;
	case S_BOOL:
		b = true;
		if (value && parse_bool(value, &b) < 0) {
			*errmsg = needs(s);
			return -EINVAL;
		}
		*(bool *)field = b;
		return 1;
	case S_PROBE:
		if (strcasecmp(value, "probe") != 0 && strcasecmp(value, "off") != 0) {
			*errmsg = needs(s);
			return -EINVAL;
		}
		*(bool *)field = strcasecmp(value, "probe") == 0;
		return 1;
	case S_AFTER:
		return set_after(c, value, errmsg) < 0 ? -EINVAL : 1;
	case S_LEVEL:
		for (n = 0; n < sizeof(log_levels) / sizeof(log_levels[0]); n++)
			if (strcasecmp(value, log_levels[n].word) == 0) {
				*(unsigned *)field = log_levels[n].max;
				return 1;
			}
		*errmsg = needs(s);
		return -EINVAL;
	}
	return 0;
}

/* "the string \"8\"", "the integer 8", ...: what the config file said. */
static void describe(const struct toml_value *v, char *buf, size_t size)
{
	switch (toml_type(v)) {
	case TOML_STRING:
		snprintf(buf, size, "the string \"%.60s\"", toml_string(v, NULL));
		break;
	case TOML_INTEGER:
		snprintf(buf, size, "the integer %lld", (long long)toml_integer(v));
		break;
	case TOML_FLOAT:
		snprintf(buf, size, "the float %g", toml_float(v));
		break;
	case TOML_BOOL:
		snprintf(buf, size, "the boolean %s", toml_bool(v) ? "true" : "false");
		break;
	case TOML_ARRAY:
		snprintf(buf, size, "an array");
		break;
	case TOML_TABLE:
		snprintf(buf, size, "a table");
		break;
	default:
		snprintf(buf, size, "a %s", toml_type_name(toml_type(v)));
		break;
	}
}

/* Does the config file's value v have the TOML type that setting s takes? */
static bool toml_type_fits(const struct setting *s, const struct toml_value *v)
{
	size_t i;

	switch (toml_type(v)) {
	case TOML_STRING:
		return s->type != S_BOOL && s->type != S_INT && s->type != S_PERCENT;
	case TOML_INTEGER:
		return s->type == S_INT || s->type == S_PERCENT || s->type == S_DURATION ||
		       s->type == S_SIZE || s->type == S_AFTER;
	case TOML_FLOAT:
		return s->type == S_DURATION;
	case TOML_BOOL:
		return s->type == S_BOOL;
	case TOML_ARRAY:
		if (s->type != S_LIST)
			return false;
		for (i = 0; i < toml_len(v); i++)
			if (toml_type(toml_at(v, i)) != TOML_STRING)
				return false;
		return true;
	default:
		return false;
	}
}

/* What a setting of the config file needs, in TOML's words. */
static const char *toml_expect(const struct setting *s)
{
	switch (s->type) {
	case S_STRING:
		return "a string";
	case S_LIST:
		return "a string or an array of strings";
	case S_INT:
	case S_PERCENT:
		return s->expect;	/* "an integer from 1 to 256" */
	case S_BOOL:
		return BOOL;
	default:
		return s->expect;
	}
}

/*
 * apply_value - one key of the config file.  Its TOML type is checked
 * against the setting's type first, so that a quoted "8" for jobs or a
 * "yes" for offline is a type error, never taken for something else.
 */
static int apply_value(struct fs_config *c, const struct setting *s, const struct toml_value *v,
		       const char **why)
{
	char num[64];
	size_t i;
	int r;

	if (!toml_type_fits(s, v)) {
		*why = toml_expect(s);
		return -EDOM;
	}
	switch (toml_type(v)) {
	case TOML_STRING:
		return fs_config_set(c, s->key, toml_string(v, NULL), why);
	case TOML_INTEGER:
		if (toml_integer(v) < 0) {
			*why = toml_expect(s);
			return -EDOM;
		}
		snprintf(num, sizeof(num), "%lld", (long long)toml_integer(v));
		return fs_config_set(c, s->key, num, why);
	case TOML_FLOAT:
		snprintf(num, sizeof(num), "%.17g", toml_float(v));
		return fs_config_set(c, s->key, num, why);
	case TOML_BOOL:
		return fs_config_set(c, s->key, toml_bool(v) ? "true" : "false", why);
	case TOML_ARRAY:
		for (i = 0; i < toml_len(v); i++) {
			r = fs_config_set(c, s->key, toml_string(toml_at(v, i), NULL), why);
			if (r <= 0)
				return r;
		}
		return 1;
	default:
		*why = toml_expect(s);
		return -EDOM;
	}
}

/*
 * key_line - the line of path on which the top-level key is set, or 0.
 * The TOML reader keeps no positions, and a config file is small: read it
 * again, only to name the line in a message.  A line counts when it starts
 * (after blanks) with the key, bare or quoted, followed by "=" or ".", or
 * is the table header [key].
 */
static unsigned key_line(const char *path, const char *key)
{
	size_t klen = strlen(key), cap = 0;
	unsigned line = 0, found = 0;
	char *buf = NULL, *p;
	FILE *fp;

	fp = fopen(path, "re");
	if (!fp)
		return 0;
	while (!found && getline(&buf, &cap, fp) >= 0) {
		line++;
		p = buf + strspn(buf, " \t");
		if (*p == '[') {
			p += 1 + strspn(p + 1, "[ \t");
			if (strncmp(p, key, klen) == 0 && strchr("] \t.", p[klen]))
				found = line;
			continue;
		}
		if ((*p == '"' || *p == '\'') && strncmp(p + 1, key, klen) == 0 &&
		    p[klen + 1] == *p)
			p += klen + 2;
		else if (strncmp(p, key, klen) == 0)
			p += klen;
		else
			continue;
		p += strspn(p, " \t");
		if (*p == '=' || *p == '.')
			found = line;
	}
	free(buf);
	fclose(fp);
	return found;
}

int fs_config_load_file(struct fs_config *c, const char *path, char **errmsg)
{
	const struct setting *s;
	struct toml_value *doc = NULL;
	const struct toml_value *v;
	const char *key, *why = NULL;
	char where[32] = "", seen[96];
	unsigned line;
	size_t i;
	int r;

	*errmsg = NULL;
	r = toml_parse_file(path, &doc, errmsg);
	if (r < 0)
		return r;
	for (i = 0; i < toml_len(doc); i++) {
		key = toml_key_at(doc, i, NULL);
		v = toml_value_at(doc, i);
		s = find_setting(key);
		why = NULL;
		if (!s) {
			why = "is not a known setting";
			r = -EINVAL;
		} else if (strcmp(key, "config") == 0) {
			why = "cannot include another config file";
			r = -EINVAL;
		} else {
			r = apply_value(c, s, v, &why);
		}
		if (r >= 0)
			continue;
		line = key_line(path, key);
		if (line)
			snprintf(where, sizeof(where), ":%u", line);
		describe(v, seen, sizeof(seen));
		if (r == -EDOM || (r == -EINVAL && s && why && strncmp(why, "needs", 5) == 0))
			r = asprintf(errmsg, "%s%s: '%s' %s%s, not %s", path, where, key,
				     r == -EDOM ? "needs " : "", why, seen);
		else
			r = asprintf(errmsg, "%s%s: '%s' %s", path, where, key,
				     why ? why : strerror(-r));
		if (r < 0)
			*errmsg = NULL;
		r = -EINVAL;
		goto out;
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

/* Whether setting s has the same value in a and b. */
static bool same_value(const struct setting *s, const struct fs_config *a,
		       const struct fs_config *b)
{
	const char *pa = (const char *)a + s->off, *pb = (const char *)b + s->off;
	const char *sa, *sb;
	char *const *la, *const *lb;
	size_t na, nb, i;

	switch (s->type) {
	case S_STRING:
		sa = *(char *const *)pa;
		sb = *(char *const *)pb;
		return (!sa && !sb) || (sa && sb && strcmp(sa, sb) == 0);
	case S_LIST:
		la = *(char **const *)pa;
		lb = *(char **const *)pb;
		na = s->off == F(tags) ? a->n_tags : a->n_tomls;
		nb = s->off == F(tags) ? b->n_tags : b->n_tomls;
		if (na != nb)
			return false;
		for (i = 0; i < na; i++)
			if (strcmp(la[i], lb[i]) != 0)
				return false;
		return true;
	case S_INT:
	case S_PERCENT:
	case S_LEVEL:
		return *(const unsigned *)pa == *(const unsigned *)pb;
	case S_DURATION:
		return *(const double *)pa == *(const double *)pb;
	case S_SIZE:
		return *(const uint64_t *)pa == *(const uint64_t *)pb;
	case S_AFTER:
		return a->full_install_bytes == b->full_install_bytes &&
		       a->full_install_files == b->full_install_files;
	case S_BOOL:
	case S_PROBE:
		return *(const bool *)pa == *(const bool *)pb;
	}
	return true;
}

void fs_config_diff(const struct fs_config *a, const struct fs_config *b,
		    void (*fn)(void *arg, const char *key), void *arg)
{
	size_t i;

	for (i = 0; i < sizeof(settings) / sizeof(settings[0]); i++)
		if (settings[i].off != F(config_file) && !same_value(&settings[i], a, b))
			fn(arg, settings[i].key);
}
