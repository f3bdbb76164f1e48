/*
 * overrides.c - Julia's Overrides.toml for a mount (overrides.h)
 *
 * The rules are those of Artifacts.jl's load_overrides (spec §4), checked
 * on the whole file at load so that a bad value stops the daemon's start
 * with the file, the line and the cause, instead of failing lookups later.
 */
#include "fetch/overrides.h"
#include "fetch/depot.h"
#include "fetch/toml.h"
#include "store/hash.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct override {
	char hash[41];
	char *target; /* absolute path or hash; NULL: "" (no override) */
};

struct fetch_overrides {
	struct override *v; /* sorted by hash */
	size_t n;
	size_t n_active;     /* entries with a target */
	const char **active; /* their hashes, ascending */
	char **uuids;
	size_t n_uuids;
};

void fetch_overrides_free(struct fetch_overrides *ov)
{
	size_t i;

	if (!ov)
		return;
	for (i = 0; i < ov->n; i++)
		free(ov->v[i].target);
	free(ov->v);
	free(ov->active);
	for (i = 0; i < ov->n_uuids; i++)
		free(ov->uuids[i]);
	free(ov->uuids);
	free(ov);
}

/* is_sha1 - 40 hex digits of either case, as Julia's SHA1(hex) takes them. */
static bool is_sha1(const char *s, size_t len)
{
	char lower[41];

	return hash_hex_lower(s, len, 40, lower);
}

/* is_uuid - 8-4-4-4-12 hex digits, as Julia's UUID(s) takes them. */
static bool is_uuid(const char *s, size_t len)
{
	uint8_t uuid[DEPOT_UUID_LEN];

	return len == strlen(s) && depot_parse_uuid(s, uuid) == 0;
}

/*
 * key_line - the line (1-based) at or after line from on which key is
 * written as a key ("key =", "\"key\" =", "[key]"), or 0.  The TOML reader
 * keeps no positions: read the text again, only to name the line.
 */
static unsigned key_line(const char *data, size_t len, const char *key, size_t klen, unsigned from)
{
	const char *p = data, *end = data + len, *eol, *q;
	unsigned line = 1;

	for (; p < end; p = eol + 1, line++) {
		eol = memchr(p, '\n', (size_t)(end - p));
		if (!eol)
			eol = end;
		if (line < from)
			continue;
		q = p;
		while (q < eol && (*q == ' ' || *q == '\t' || *q == '['))
			q++;
		if (q < eol && (*q == '"' || *q == '\'')) {
			if ((size_t)(eol - q) < klen + 2 || memcmp(q + 1, key, klen) != 0 ||
				q[klen + 1] != *q)
				continue;
			q += klen + 2;
		} else {
			if ((size_t)(eol - q) < klen || memcmp(q, key, klen) != 0)
				continue;
			q += klen;
		}
		while (q < eol && (*q == ' ' || *q == '\t'))
			q++;
		if (q < eol && (*q == '=' || *q == ']'))
			return line;
		if (eol == end)
			break;
	}
	return 0;
}

struct loader {
	const char *data;
	size_t len;
	const char *path;
	char **errmsg;
};

static int __attribute__((format(printf, 3, 4)))
fail(const struct loader *l, unsigned line, const char *fmt, ...)
{
	char cause[512];
	va_list ap;
	int n;

	if (!l->errmsg)
		return -EINVAL;
	va_start(ap, fmt);
	vsnprintf(cause, sizeof(cause), fmt, ap);
	va_end(ap);
	if (line)
		n = asprintf(l->errmsg, "%s:%u: %s", l->path, line, cause);
	else
		n = asprintf(l->errmsg, "%s: %s", l->path, cause);
	if (n < 0)
		*l->errmsg = NULL;
	return -EINVAL;
}

/* A key shown in a message: printable, cut after 64 bytes. */
static void shown(char *out, size_t size, const char *s, size_t len)
{
	size_t i, j = 0;

	for (i = 0; i < len && j + 4 < size && i < 64; i++)
		out[j++] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
	if (i < len && j + 4 < size) {
		memcpy(out + j, "...", 3);
		j += 3;
	}
	out[j] = '\0';
}

/*
 * check_value - whether v is a valid override value: "", an absolute
 * path, or a hash.  *kind gets 0, 'p' or 'h'.
 */
static int check_value(const struct loader *l, unsigned line, const char *what,
	const struct toml_value *v, int *kind)
{
	const char *s;
	char buf[80];
	size_t len;

	s = toml_string(v, &len);
	if (!s)
		return fail(l, line, "%s needs a string (a path or a hash), not %s", what,
			toml_type_name(toml_type(v)));
	if (len == 0) {
		*kind = 0;
		return 0;
	}
	if (is_sha1(s, len)) {
		*kind = 'h';
		return 0;
	}
	shown(buf, sizeof(buf), s, len);
	if (s[0] != '/')
		return fail(l, line,
			"%s maps to '%s', which is neither an absolute path, "
			"a 40-digit hash nor \"\"",
			what, buf);
	if (memchr(s, '\0', len))
		return fail(l, line, "%s maps to a path with a NUL byte", what);
	if (len >= PATH_MAX)
		return fail(l, line, "%s maps to a path longer than %d bytes", what, PATH_MAX - 1);
	*kind = 'p';
	return 0;
}

static int cmp_override(const void *a, const void *b)
{
	return strcmp(((const struct override *)a)->hash, ((const struct override *)b)->hash);
}

/* lower_bound - the index of the first entry not below hash. */
static size_t lower_bound(const struct fetch_overrides *ov, const char *hash)
{
	size_t lo = 0, hi = ov->n, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (strcmp(ov->v[mid].hash, hash) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* A table keyed by a package UUID: checked, remembered, not applied. */
static int load_uuid(const struct loader *l, struct fetch_overrides *ov, const char *key,
	size_t klen, const struct toml_value *t, unsigned line)
{
	char what[160], name[80], **nu;
	const char *k;
	size_t i, nlen;
	int kind, r;

	if (!is_uuid(key, klen)) {
		shown(name, sizeof(name), key, klen);
		return fail(l, line, "table '%s' is not keyed by a package UUID", name);
	}
	for (i = 0; i < toml_len(t); i++) {
		k = toml_key_at(t, i, &nlen);
		shown(name, sizeof(name), k, nlen);
		snprintf(what, sizeof(what), "'%s' of package %.36s", name, key);
		r = check_value(l, key_line(l->data, l->len, k, nlen, line), what,
			toml_value_at(t, i), &kind);
		if (r < 0)
			return r;
	}
	nu = realloc(ov->uuids, (ov->n_uuids + 1) * sizeof(*nu));
	if (!nu)
		return -ENOMEM;
	ov->uuids = nu;
	nu[ov->n_uuids] = strndup(key, klen);
	if (!nu[ov->n_uuids])
		return -ENOMEM;
	ov->n_uuids++;
	return 0;
}

/* check_chains - a chain of hash -> hash that comes back is refused. */
static int check_chains(const struct loader *l, const struct fetch_overrides *ov)
{
	const char *t;
	size_t i, steps;

	for (i = 0; i < ov->n; i++) {
		t = ov->v[i].target;
		for (steps = 0; t && t[0] != '/'; steps++) {
			if (steps >= ov->n || strcmp(t, ov->v[i].hash) == 0)
				return fail(l, key_line(l->data, l->len, ov->v[i].hash, 40, 1),
					"'%s' is overridden by a chain of hashes that "
					"leads back to it",
					ov->v[i].hash);
			t = fetch_overrides_find(ov, t);
		}
	}
	return 0;
}

int fetch_overrides_parse(
	const char *data, size_t len, const char *path, struct fetch_overrides **ret, char **errmsg)
{
	struct loader l = {data, len, path, errmsg};
	struct fetch_overrides *ov = NULL;
	struct toml_value *doc = NULL, *v;
	struct toml_error err;
	struct override one;
	const char *key, *s;
	char name[80];
	unsigned line;
	size_t i, klen, pos;
	int kind, r;

	if (errmsg)
		*errmsg = NULL;
	r = toml_parse(data, len, &doc, &err);
	if (r == -ENOMEM)
		return r;
	if (r < 0) {
		if (errmsg &&
			asprintf(errmsg, "%s:%u:%u: %s", path, err.line, err.column, err.msg) < 0)
			*errmsg = NULL;
		return -EINVAL;
	}
	ov = calloc(1, sizeof(*ov));
	if (!ov)
		goto nomem;
	ov->v = calloc(toml_len(doc) + 1, sizeof(*ov->v));
	if (!ov->v)
		goto nomem;
	for (i = 0; i < toml_len(doc); i++) {
		key = toml_key_at(doc, i, &klen);
		v = toml_value_at(doc, i);
		line = key_line(data, len, key, klen, 1);
		if (toml_type(v) == TOML_TABLE) {
			r = load_uuid(&l, ov, key, klen, v, line);
			if (r < 0)
				goto out;
			continue;
		}
		shown(name, sizeof(name), key, klen);
		if (!is_sha1(key, klen)) {
			r = fail(&l, line,
				"'%s' is neither a 40-digit artifact hash nor a "
				"package UUID with a table",
				name);
			goto out;
		}
		r = check_value(&l, line, "hash", v, &kind);
		if (r < 0)
			goto out;
		hash_hex_lower(key, klen, 40, one.hash);
		/* kept sorted; two spellings of one hash ("AB..." and "ab...") are one key */
		pos = lower_bound(ov, one.hash);
		if (pos < ov->n && strcmp(ov->v[pos].hash, one.hash) == 0) {
			r = fail(&l, line, "'%s' is overridden twice", one.hash);
			goto out;
		}
		s = toml_string(v, NULL);
		one.target = NULL;
		if (kind) {
			one.target = strdup(s);
			if (!one.target)
				goto nomem;
			if (kind == 'h')
				hash_hex_lower(s, 40, 40, one.target);
		}
		memmove(&ov->v[pos + 1], &ov->v[pos], (ov->n - pos) * sizeof(*ov->v));
		ov->v[pos] = one;
		ov->n++;
	}
	r = check_chains(&l, ov);
	if (r < 0)
		goto out;
	ov->active = calloc(ov->n + 1, sizeof(*ov->active));
	if (!ov->active)
		goto nomem;
	for (i = 0; i < ov->n; i++)
		if (ov->v[i].target)
			ov->active[ov->n_active++] = ov->v[i].hash;
	*ret = ov;
	ov = NULL;
	r = 0;
	goto out;
nomem:
	r = -ENOMEM;
	if (errmsg) {
		free(*errmsg);
		*errmsg = NULL;
	}
out:
	fetch_overrides_free(ov);
	toml_free(doc);
	return r;
}

int fetch_overrides_load(const char *path, struct fetch_overrides **ret, char **errmsg)
{
	char *buf = NULL, *nb;
	size_t len = 0, cap = 0;
	ssize_t n;
	int fd, r;

	if (errmsg)
		*errmsg = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		goto fail;
	}
	for (;;) {
		if (len == cap) {
			if (cap >= TOML_MAX_INPUT) {
				r = -E2BIG;
				close(fd);
				goto fail;
			}
			cap = cap ? 2 * cap : 4096;
			nb = realloc(buf, cap + 1);
			if (!nb) {
				close(fd);
				free(buf);
				return -ENOMEM;
			}
			buf = nb;
		}
		n = read(fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = -errno;
			close(fd);
			goto fail;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	r = fetch_overrides_parse(buf ? buf : "", len, path, ret, errmsg);
	free(buf);
	return r;
fail:
	free(buf);
	if (errmsg && asprintf(errmsg, "%s: %s", path, strerror(-r)) < 0)
		*errmsg = NULL;
	return r;
}

const char *fetch_overrides_find(const struct fetch_overrides *ov, const char *hash)
{
	struct override key, *o;

	if (!ov || strlen(hash) != 40)
		return NULL;
	memcpy(key.hash, hash, 41);
	o = bsearch(&key, ov->v, ov->n, sizeof(*ov->v), cmp_override);
	return o ? o->target : NULL;
}

size_t fetch_overrides_count(const struct fetch_overrides *ov)
{
	return ov ? ov->n_active : 0;
}

const char *fetch_overrides_hash_at(const struct fetch_overrides *ov, size_t i)
{
	return ov && i < ov->n_active ? ov->active[i] : NULL;
}

size_t fetch_overrides_uuid_count(const struct fetch_overrides *ov)
{
	return ov ? ov->n_uuids : 0;
}

const char *fetch_overrides_uuid_at(const struct fetch_overrides *ov, size_t i)
{
	return ov && i < ov->n_uuids ? ov->uuids[i] : NULL;
}
