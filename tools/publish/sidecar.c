/*
 * sidecar.c - the sidecar JSON of a published tarball: write and read it
 * with Jansson, and the JSON string the publishing code and the commands
 * share
 *
 * The reader takes one RFC 8259 object (Jansson: UTF-8, no NUL in
 * strings, nothing after it); keys it does not know may hold any value,
 * nested up to 32 levels, so a later version may add keys of any type.
 */
#include "tools/publish/sidecar.h"

#include "store/hash.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_DEPTH 32

void sidecar_release(struct sidecar *s)
{
	if (!s)
		return;
	free(s->name);
	free(s->platform);
	free(s->created);
	free(s->tool);
	json_decref(s->meta);
	memset(s, 0, sizeof(*s));
}

json_t *sidecar_json_str(const char *s)
{
	static const char fffd[] = "\xef\xbf\xbd";
	json_t *v, *one;
	char *t, *q;
	size_t n, i, k;

	if (!s)
		return json_null();
	if ((v = json_string(s)))
		return v;
	/* not UTF-8: keep each sequence Jansson accepts, replace each other byte */
	n = strlen(s);
	if (n > (SIZE_MAX - 1) / 3 || !(t = malloc(3 * n + 1)))
		return NULL;
	for (i = 0, q = t; i < n; i += k) {
		unsigned char c = (unsigned char)s[i];

		k = c < 0x80 ? 1 : c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;
		if (k <= n - i && (one = json_stringn(s + i, k))) {
			json_decref(one);
			memcpy(q, s + i, k);
			q += k;
		} else {
			memcpy(q, fffd, 3);
			q += 3;
			k = 1;
		}
	}
	*q = '\0';
	v = json_string(t);
	free(t);
	return v;
}

int sidecar_format(const struct sidecar *s, char **ret, size_t *len)
{
	json_t *o;
	char *text, *out;
	size_t n;

	if (!s->name || !*s->name || !hash_hex_valid(s->tree, 40) ||
		!hash_hex_valid(s->sha256, 64) || s->size > INT64_MAX)
		return -EINVAL;
	o = json_pack("{s:o, s:o, s:s, s:s, s:I, s:o, s:o}", "name", sidecar_json_str(s->name),
		"platform", sidecar_json_str(s->platform), "git-tree-sha1", s->tree, "sha256",
		s->sha256, "size", (json_int_t)s->size, "created", sidecar_json_str(s->created),
		"tool", sidecar_json_str(s->tool));
	if (o && s->meta && json_object_set(o, "meta", s->meta) < 0) {
		json_decref(o);
		o = NULL;
	}
	text = o ? json_dumps(o, 0) : NULL;
	json_decref(o);
	if (!text)
		return -ENOMEM;
	n = strlen(text);
	if (n + 1 > SIDECAR_MAX) {
		free(text);
		return -E2BIG;
	}
	out = realloc(text, n + 2);
	if (!out) {
		free(text);
		return -ENOMEM;
	}
	memcpy(out + n, "\n", 2);
	*ret = out;
	*len = n + 1;
	return 0;
}

/* ---- the reader ---------------------------------------------------------- */

/* Whether a container in v is nested deeper than MAX_DEPTH (v at depth d). */
static bool too_deep(json_t *v, int d)
{
	const char *key;
	json_t *c;
	size_t i;

	if (json_is_object(v)) {
		json_object_foreach (v, key, c)
			if (json_is_object(c) || json_is_array(c))
				if (d + 1 > MAX_DEPTH || too_deep(c, d + 1))
					return true;
	} else if (json_is_array(v)) {
		json_array_foreach (v, i, c)
			if (json_is_object(c) || json_is_array(c))
				if (d + 1 > MAX_DEPTH || too_deep(c, d + 1))
					return true;
	}
	return false;
}

static int take_hex(json_t *v, size_t n, char *dst)
{
	if (!json_is_string(v) ||
		!hash_hex_lower(json_string_value(v), json_string_length(v), n, dst))
		return -EBADMSG;
	return 0;
}

static int take_str(json_t *v, bool nullable, char **dst)
{
	if (json_is_null(v) && nullable) {
		free(*dst);
		*dst = NULL;
		return 0;
	}
	if (!json_is_string(v))
		return -EBADMSG;
	free(*dst);
	*dst = strdup(json_string_value(v)); /* no NUL inside: Jansson refuses \u0000 */
	return *dst ? 0 : -ENOMEM;
}

static int take_size(json_t *v, uint64_t *dst)
{
	/* an integer: not negative, no fraction or exponent (Jansson reads those as reals) */
	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return -EBADMSG;
	*dst = (uint64_t)json_integer_value(v);
	return 0;
}

enum { HAVE_NAME = 1, HAVE_PLATFORM = 2, HAVE_TREE = 4, HAVE_SHA = 8, HAVE_SIZE = 16 };

static int member(struct sidecar *s, const char *key, json_t *v, unsigned *have)
{
	int e = 0;

	if (strcmp(key, "name") == 0) {
		if ((e = take_str(v, false, &s->name)) == 0 && !*s->name)
			e = -EBADMSG;
		*have |= HAVE_NAME;
	} else if (strcmp(key, "platform") == 0) {
		e = take_str(v, true, &s->platform);
		*have |= HAVE_PLATFORM;
	} else if (strcmp(key, "git-tree-sha1") == 0) {
		e = take_hex(v, 40, s->tree);
		*have |= HAVE_TREE;
	} else if (strcmp(key, "sha256") == 0) {
		e = take_hex(v, 64, s->sha256);
		*have |= HAVE_SHA;
	} else if (strcmp(key, "size") == 0) {
		e = take_size(v, &s->size);
		*have |= HAVE_SIZE;
	} else if (strcmp(key, "created") == 0) {
		e = take_str(v, true, &s->created);
	} else if (strcmp(key, "tool") == 0) {
		e = take_str(v, true, &s->tool);
	} else if (strcmp(key, "meta") == 0) {
		/* the publisher's own description: an object, or null for none */
		if (!json_is_object(v) && !json_is_null(v))
			return -EBADMSG;
		json_decref(s->meta);
		s->meta = json_is_object(v) ? json_incref(v) : NULL;
	}
	return e;
}

int sidecar_parse(const char *json, size_t len, struct sidecar *ret, char **errmsg)
{
	struct sidecar s = {0};
	json_error_t jerr;
	json_t *root, *v;
	const char *key, *why = NULL;
	char *msg = NULL;
	unsigned have = 0;
	int e = 0;

	if (errmsg)
		*errmsg = NULL;
	if (len > SIDECAR_MAX)
		return -E2BIG;
	root = json_loadb(json, len, 0, &jerr);
	if (!root) {
		switch (json_error_code(&jerr)) {
		case json_error_out_of_memory:
			return -ENOMEM;
		case json_error_stack_overflow:
			return -E2BIG;
		default:
			why = jerr.text;
			e = -EBADMSG;
			goto out;
		}
	}
	if (!json_is_object(root)) {
		why = "not a JSON object";
		e = -EBADMSG;
		goto out;
	}
	if (too_deep(root, 0)) {
		e = -E2BIG;
		goto out;
	}
	json_object_foreach (root, key, v) {
		if ((e = member(&s, key, v, &have)) < 0) {
			if (e == -EBADMSG && asprintf(&msg, "bad value of \"%s\"", key) < 0)
				msg = NULL;
			goto out;
		}
	}
	if ((have & (HAVE_NAME | HAVE_TREE | HAVE_SHA | HAVE_SIZE)) !=
		(HAVE_NAME | HAVE_TREE | HAVE_SHA | HAVE_SIZE)) {
		why = "a required key (name, git-tree-sha1, sha256, size) is missing";
		e = -EBADMSG;
		goto out;
	}
	*ret = s;
	memset(&s, 0, sizeof(s));
out:
	if (e == -EBADMSG && errmsg)
		*errmsg = msg ? msg : strdup(why && *why ? why : "malformed JSON");
	else
		free(msg);
	json_decref(root);
	sidecar_release(&s);
	return e;
}

bool sidecar_is_key(const char *key)
{
	static const char *const ext[] = {
		".tar.json",
		".tar.gz.json",
		".tgz.json",
		".tar.xz.json",
		".tar.bz2.json",
		".tar.zst.json",
	};
	const char *base = strrchr(key, '/');
	size_t n, i, k;

	base = base ? base + 1 : key;
	n = strlen(base);
	for (i = 0; i < sizeof(ext) / sizeof(ext[0]); i++) {
		k = strlen(ext[i]);
		if (n > k && strcmp(base + n - k, ext[i]) == 0)
			return true;
	}
	return false;
}

void sidecar_now(char out[21])
{
	const char *env = getenv("SOURCE_DATE_EPOCH");
	time_t t = time(NULL);
	struct tm tm;
	char *end;

	if (env && *env) {
		long long v = strtoll(env, &end, 10);

		if (!*end && v >= 0)
			t = (time_t)v;
	}
	if (!gmtime_r(&t, &tm) || strftime(out, 21, "%Y-%m-%dT%H:%M:%SZ", &tm) != 20)
		snprintf(out, 21, "1970-01-01T00:00:00Z");
}
