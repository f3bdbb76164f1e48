/*
 * artifacts.c - the Artifacts.toml model (stdlib/Artifacts artifact_meta)
 *
 * Every name is examined once at load time and the outcome kept: the
 * entries with their platforms, or the error Julia would throw when the
 * name (or one entry of it) is used.  Selection then only reads, so a
 * loaded model can be shared between threads.
 */
#include "fetch/artifacts.h"

#include "fetch/platform.h"
#include "fetch/toml.h"
#include "store/hash.h"
#include "store/util/buf.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MSG_MAX (64u << 10)	/* bytes of an error message */
#define JSON_MAX (16u << 20)	/* bytes of one entry as JSON */

struct artifact_entry {
	const char *name;		/* borrowed from the name record */
	const struct toml_value *table;	/* the entry's table in the tree */
	struct platform *platform;	/* NULL for the single-table form */
	char hash[41];			/* lowercase hex; empty when err */
	bool lazy;
	bool has_download;
	struct artifact_download *dl;
	size_t ndl;
	char (*sha)[65];		/* storage of dl[i].sha256 */
	char *err;			/* reported when this entry is selected */
};

struct artifact_name {
	char *name;
	size_t len;			/* the key's bytes: name is cut at a NUL */
	bool array;			/* form B: array of tables */
	char *err;			/* reported whenever the name is used */
	struct artifact_entry **entries;
	size_t n;
};

struct artifacts {
	char *path;
	struct toml_value *root;
	struct artifact_name *names;
	size_t n;
};

/* ---- messages ------------------------------------------------------------- */

static char *vformat(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));
static char *vformat(const char *fmt, va_list ap)
{
	struct buf b;
	char *s = NULL;

	buf_init(&b, MSG_MAX);
	if (buf_vaddf(&b, fmt, ap) == 0)
		s = buf_detach(&b, NULL);
	buf_release(&b);
	return s;
}

static char *format(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *format(const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	s = vformat(fmt, ap);
	va_end(ap);
	return s;
}

/* Hand a copy of msg to *errmsg (when wanted); returns r. */
static int fail(char **errmsg, int r, const char *msg)
{
	if (errmsg) {
		*errmsg = strdup(msg ? msg : strerror(-r));
		if (!*errmsg)
			return -ENOMEM;
	}
	return r;
}

static int failf(char **errmsg, int r, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int failf(char **errmsg, int r, const char *fmt, ...)
{
	va_list ap;

	if (errmsg) {
		va_start(ap, fmt);
		*errmsg = vformat(fmt, ap);
		va_end(ap);
		if (!*errmsg)
			return -ENOMEM;
	}
	return r;
}

/*
 * "invalid artifacts file at '<path>': artifact '<name>'<where> <what>",
 * where <where> names the array element when there is one.
 */
static char *entry_msg(const struct artifacts *a, const char *name, size_t idx, bool array,
	const char *what)
{
	if (array)
		return format("invalid artifacts file at '%s': artifact '%s' (entry %zu) %s",
			a->path, name, idx + 1, what);
	return format("invalid artifacts file at '%s': artifact '%s' %s", a->path, name, what);
}

/* ---- entries -------------------------------------------------------------- */

static void entry_free(struct artifact_entry *e)
{
	if (!e)
		return;
	platform_free(e->platform);
	free(e->dl);
	free(e->sha);
	free(e->err);
	free(e);
}

/*
 * The checks Julia and Pkg make on a selected entry: git-tree-sha1
 * (artifact_meta; SHA1(hex2bytes)), lazy (used as a Bool), the download
 * list (url and sha256 strings, Pkg >= 1.13 "size").  Returns 0 with
 * e->err set for a bad entry, or -ENOMEM.
 */
static int entry_check(const struct artifacts *a, struct artifact_entry *e, size_t idx,
	bool array)
{
	const struct toml_value *t = e->table, *v, *dl;
	const char *s;
	char what[512];
	size_t len, i;

	v = toml_get(t, "git-tree-sha1");
	if (!v) {
		snprintf(what, sizeof(what), "contains no `git-tree-sha1`");
		goto bad;
	}
	s = toml_string(v, &len);
	if (!s) {
		snprintf(what, sizeof(what), "has a git-tree-sha1 of type %s, not a string",
			toml_type_name(toml_type(v)));
		goto bad;
	}
	if (!hash_hex_lower(s, len, 40, e->hash)) {
		snprintf(what, sizeof(what),
			"has an invalid git-tree-sha1 '%.100s': 40 hexadecimal digits expected", s);
		goto bad;
	}
	v = toml_get(t, "lazy");
	if (v && toml_type(v) != TOML_BOOL) {
		snprintf(what, sizeof(what), "has a 'lazy' key of type %s, not a boolean",
			toml_type_name(toml_type(v)));
		goto bad;
	}
	e->lazy = v && toml_bool(v);
	dl = toml_get(t, "download");
	if (!dl)
		return 0;
	e->has_download = true;
	if (toml_type(dl) != TOML_ARRAY) {
		snprintf(what, sizeof(what), "has a 'download' key of type %s, not an array of "
					     "tables", toml_type_name(toml_type(dl)));
		goto bad;
	}
	if (toml_len(dl) == 0)
		return 0;
	e->dl = calloc(toml_len(dl), sizeof(*e->dl));
	e->sha = calloc(toml_len(dl), sizeof(*e->sha));
	if (!e->dl || !e->sha)
		return -ENOMEM;
	for (i = 0; i < toml_len(dl); i++) {
		const struct toml_value *d = toml_at(dl, i), *u, *h, *z, *k;

		if (toml_type(d) != TOML_TABLE) {
			snprintf(what, sizeof(what), "download %zu is of type %s, not a table",
				i + 1, toml_type_name(toml_type(d)));
			goto bad;
		}
		u = toml_get(d, "url");
		h = toml_get(d, "sha256");
		z = toml_get(d, "size");
		if (!u || !toml_string(u, NULL)) {
			snprintf(what, sizeof(what), "download %zu has %s", i + 1,
				u ? "a 'url' that is not a string" : "no 'url'");
			goto bad;
		}
		if (!h || !toml_string(h, NULL)) {
			snprintf(what, sizeof(what), "download %zu has %s", i + 1,
				h ? "a 'sha256' that is not a string" : "no 'sha256'");
			goto bad;
		}
		s = toml_string(h, &len);
		if (!hash_hex_lower(s, len, 64, e->sha[i])) {
			snprintf(what, sizeof(what), "download %zu has an invalid sha256 '%.100s': "
						     "64 hexadecimal digits expected", i + 1, s);
			goto bad;
		}
		if (z && (toml_type(z) != TOML_INTEGER || toml_integer(z) < 0)) {
			snprintf(what, sizeof(what), "download %zu has a 'size' that is not a "
						     "non-negative integer", i + 1);
			goto bad;
		}
		e->dl[i].url = toml_string(u, NULL);
		e->dl[i].sha256 = e->sha[i];
		e->dl[i].size = z ? (uint64_t)toml_integer(z) : 0;
		/* ours, not Julia's: one that is not a string is ignored, as Julia does */
		k = toml_get(d, "seek_index");
		e->dl[i].seek_index = k ? toml_string(k, NULL) : NULL;
		e->ndl++;
	}
	return 0;
bad:
	e->hash[0] = '\0';
	e->ndl = 0;
	e->err = entry_msg(a, e->name, idx, array, what);
	return e->err ? 0 : -ENOMEM;
}

static int entry_new(const char *name, const struct toml_value *t, struct artifact_entry **ret)
{
	struct artifact_entry *e = calloc(1, sizeof(*e));

	if (!e)
		return -ENOMEM;
	e->name = name;
	e->table = t;
	*ret = e;
	return 0;
}

/*
 * unpack_platform(entry, name, toml): os and arch required and strings;
 * every other string-valued key but git-tree-sha1 becomes a tag.  Returns
 * 0 with *ret set, 0 with *err set for a malformed element, or -ENOMEM.
 */
int artifacts_table_platform(const struct toml_value *t, const char *arch, const char *os,
	struct platform **ret)
{
	struct platform_kv *kv;
	size_t i, n = 0;
	int r;

	kv = calloc(toml_len(t) + 1, sizeof(*kv));
	if (!kv)
		return -ENOMEM;
	for (i = 0; i < toml_len(t); i++) {
		const char *k = toml_key_at(t, i, NULL);
		const char *v = toml_string(toml_value_at(t, i), NULL);

		if (!v || strcmp(k, "os") == 0 || strcmp(k, "arch") == 0 ||
		    strcmp(k, "git-tree-sha1") == 0)
			continue;
		kv[n++] = (struct platform_kv){ k, v };
	}
	r = platform_new(arch, os, kv, n, ret);
	free(kv);
	return r;
}

static int unpack_platform(const struct artifacts *a, const char *name, size_t idx,
	const struct toml_value *t, struct platform **ret, char **err)
{
	const struct toml_value *os = toml_get(t, "os"), *arch = toml_get(t, "arch");
	char what[512];
	int r;

	if (!os || !arch) {
		*err = format("invalid artifacts file at '%s': platform-specific artifact entry "
			      "'%s' (entry %zu) missing '%s' key", a->path, name, idx + 1,
			!os ? "os" : "arch");
		return *err ? 0 : -ENOMEM;
	}
	if (!toml_string(os, NULL) || !toml_string(arch, NULL)) {
		snprintf(what, sizeof(what), "has an '%s' key that is not a string",
			!toml_string(os, NULL) ? "os" : "arch");
		*err = entry_msg(a, name, idx, true, what);
		return *err ? 0 : -ENOMEM;
	}
	r = artifacts_table_platform(t, toml_string(arch, NULL), toml_string(os, NULL), ret);
	if (r == -EINVAL) {
		/* Platform(): a forbidden character, or a tag spelled os/arch */
		*err = entry_msg(a, name, idx, true,
			"has an invalid platform tag: names and values may not contain "
			"+ - space / < > : \" ' \\ | ? * and may not be os or arch");
		return *err ? 0 : -ENOMEM;
	}
	return r;
}

static int name_add_entry(struct artifact_name *nm, struct artifact_entry *e)
{
	struct artifact_entry **v = realloc(nm->entries, (nm->n + 1) * sizeof(*v));

	if (!v)
		return -ENOMEM;
	nm->entries = v;
	nm->entries[nm->n++] = e;
	return 0;
}

/* One top-level name: its entries, or the error that fails every use. */
static int load_name(const struct artifacts *a, struct artifact_name *nm,
	const struct toml_value *v)
{
	struct artifact_entry *e = NULL;
	size_t i, j;
	int r;

	if (toml_type(v) == TOML_TABLE) {
		if ((r = entry_new(nm->name, v, &e)) < 0 || (r = entry_check(a, e, 0, false)) < 0 ||
		    (r = name_add_entry(nm, e)) < 0)
			goto out;
		return 0;
	}
	if (toml_type(v) != TOML_ARRAY) {
		nm->err = format("invalid artifacts file at '%s': artifact '%s' malformed, must be "
				 "array or dict", a->path, nm->name);
		return nm->err ? 0 : -ENOMEM;
	}
	nm->array = true;
	for (i = 0; i < toml_len(v); i++) {
		const struct toml_value *t = toml_at(v, i);

		if (toml_type(t) != TOML_TABLE) {
			nm->err = entry_msg(a, nm->name, i, true, "malformed, must be a table");
			return nm->err ? 0 : -ENOMEM;
		}
		if ((r = entry_new(nm->name, t, &e)) < 0)
			goto out;
		if ((r = unpack_platform(a, nm->name, i, t, &e->platform, &nm->err)) < 0)
			goto out;
		if (nm->err) {
			entry_free(e);
			return 0;
		}
		if ((r = entry_check(a, e, i, true)) < 0)
			goto out;
		/* Dict{Platform,Dict}: an identical platform replaces the earlier one */
		for (j = 0; j < nm->n; j++) {
			if (platform_equal(nm->entries[j]->platform, e->platform)) {
				entry_free(nm->entries[j]);
				memmove(nm->entries + j, nm->entries + j + 1,
					(nm->n - j - 1) * sizeof(*nm->entries));
				nm->n--;
				break;
			}
		}
		if ((r = name_add_entry(nm, e)) < 0)
			goto out;
		e = NULL;
	}
	return 0;
out:
	entry_free(e);
	return r;
}

/* ---- files ---------------------------------------------------------------- */

static bool is_file(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && !S_ISDIR(st.st_mode);
}

/* JuliaArtifacts.toml, then Artifacts.toml (artifact_names, §1.1). */
static int find_file(const char *path, char **ret, char **errmsg)
{
	static const char *const names[] = { "JuliaArtifacts.toml", "Artifacts.toml" };
	struct stat st;
	size_t i;

	if (stat(path, &st) < 0)
		return failf(errmsg, -errno, "cannot open '%s': %s", path, strerror(errno));
	if (!S_ISDIR(st.st_mode)) {
		*ret = strdup(path);
		return *ret ? 0 : -ENOMEM;
	}
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		char *p = format("%s/%s", path, names[i]);

		if (!p)
			return -ENOMEM;
		if (is_file(p)) {
			*ret = p;
			return 0;
		}
		free(p);
	}
	return failf(errmsg, -ENOENT, "no JuliaArtifacts.toml or Artifacts.toml in '%s'", path);
}

void artifacts_free(struct artifacts *a)
{
	size_t i, j;

	if (!a)
		return;
	for (i = 0; i < a->n; i++) {
		for (j = 0; j < a->names[i].n; j++)
			entry_free(a->names[i].entries[j]);
		free(a->names[i].entries);
		free(a->names[i].name);
		free(a->names[i].err);
	}
	free(a->names);
	toml_free(a->root);
	free(a->path);
	free(a);
}

int artifacts_load(const char *path, struct artifacts **ret, char **errmsg)
{
	struct artifacts *a;
	size_t i;
	int r;

	if (errmsg)
		*errmsg = NULL;
	a = calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	r = find_file(path, &a->path, errmsg);
	if (r < 0)
		goto out;
	r = toml_parse_file(a->path, &a->root, errmsg);
	if (r < 0)
		goto out;
	a->names = calloc(toml_len(a->root) + 1, sizeof(*a->names));
	if (!a->names) {
		r = -ENOMEM;
		goto out;
	}
	for (i = 0; i < toml_len(a->root); i++) {
		size_t klen;
		const char *k = toml_key_at(a->root, i, &klen);
		struct artifact_name *nm = &a->names[a->n];

		nm->name = strndup(k, klen);
		nm->len = klen;
		if (!nm->name) {
			r = -ENOMEM;
			goto out;
		}
		a->n++;
		r = load_name(a, nm, toml_value_at(a->root, i));
		if (r < 0)
			goto out;
	}
	*ret = a;
	return 0;
out:
	if (r == -ENOMEM && errmsg && !*errmsg)
		fail(errmsg, r, NULL);
	artifacts_free(a);
	return r;
}

const char *artifacts_path(const struct artifacts *a)
{
	return a->path;
}

size_t artifacts_count(const struct artifacts *a)
{
	return a->n;
}

const char *artifacts_name_at(const struct artifacts *a, size_t i)
{
	return i < a->n ? a->names[i].name : NULL;
}

size_t artifacts_name_len_at(const struct artifacts *a, size_t i)
{
	return i < a->n ? a->names[i].len : 0;
}

static const struct artifact_name *find_name(const struct artifacts *a, const char *name)
{
	size_t i;

	for (i = 0; i < a->n; i++)
		if (strcmp(a->names[i].name, name) == 0)
			return &a->names[i];
	return NULL;
}

/* ---- selection ------------------------------------------------------------ */

int artifacts_select(const struct artifacts *a, const char *name, const struct platform *host,
	const struct artifact_entry **ret, char **errmsg)
{
	const struct platform **ps = NULL;
	const struct artifact_name *nm;
	const struct artifact_entry *e;
	char err[256], *t = NULL;
	size_t i, idx = 0;
	int r;

	if (errmsg)
		*errmsg = NULL;
	nm = find_name(a, name);
	if (!nm)
		return failf(errmsg, -ENOENT, "no artifact '%s' in '%s'", name, a->path);
	if (nm->err)
		return fail(errmsg, -EINVAL, nm->err);
	if (!nm->array) {
		e = nm->entries[0];
		goto found;
	}
	ps = calloc(nm->n + 1, sizeof(*ps));
	if (!ps)
		return fail(errmsg, -ENOMEM, NULL);
	for (i = 0; i < nm->n; i++)
		ps[i] = nm->entries[i]->platform;
	err[0] = '\0';
	r = platform_select(ps, nm->n, host, &idx, err, sizeof(err));
	free(ps);
	if (r == -ENOENT) {
		if (platform_triplet(host, &t) < 0)
			t = NULL;
		r = failf(errmsg, -ENXIO, "no entry of artifact '%s' in '%s' matches platform '%s'",
			name, a->path, t ? t : "(unprintable)");
		free(t);
		return r;
	}
	if (r == -EINVAL)
		return failf(errmsg, r, "cannot select artifact '%s' in '%s': %s", name, a->path,
			err);
	if (r < 0)
		return fail(errmsg, r, NULL);
	e = nm->entries[idx];
found:
	if (e->err)
		return fail(errmsg, -EINVAL, e->err);
	*ret = e;
	return 0;
}

int artifacts_check(const struct artifacts *a, char **errmsg)
{
	size_t i, j;

	if (errmsg)
		*errmsg = NULL;
	for (i = 0; i < a->n; i++) {
		const struct artifact_name *nm = &a->names[i];

		if (nm->err)
			return fail(errmsg, -EINVAL, nm->err);
		for (j = 0; j < nm->n; j++)
			if (nm->entries[j]->err)
				return fail(errmsg, -EINVAL, nm->entries[j]->err);
	}
	return 0;
}

int artifacts_entries(const struct artifacts *a, const char *name,
	const struct artifact_entry *const **ret, size_t *n, char **errmsg)
{
	const struct artifact_name *nm = find_name(a, name);

	if (errmsg)
		*errmsg = NULL;
	if (!nm)
		return failf(errmsg, -ENOENT, "no artifact '%s' in '%s'", name, a->path);
	if (nm->err)
		return fail(errmsg, -EINVAL, nm->err);
	*ret = (const struct artifact_entry *const *)nm->entries;
	*n = nm->n;
	return 0;
}

int artifacts_select_downloadable(const struct artifacts *a, const struct platform *host,
	bool include_lazy, const struct artifact_entry ***ret, size_t *n, char **errmsg)
{
	const struct artifact_entry **v, *e;
	size_t i, k = 0;
	int r;

	if (errmsg)
		*errmsg = NULL;
	v = calloc(a->n + 1, sizeof(*v));
	if (!v)
		return fail(errmsg, -ENOMEM, NULL);
	for (i = 0; i < a->n; i++) {
		r = artifacts_select(a, a->names[i].name, host, &e, errmsg);
		if (r == -ENOENT || r == -ENXIO) {
			if (errmsg) {
				free(*errmsg);
				*errmsg = NULL;
			}
			continue;
		}
		if (r < 0) {
			free(v);
			return r;
		}
		if (!e->has_download || (e->lazy && !include_lazy))
			continue;
		v[k++] = e;
	}
	*ret = v;
	*n = k;
	return 0;
}

/* ---- entry accessors -------------------------------------------------------- */

const char *artifact_entry_name(const struct artifact_entry *e)
{
	return e->name;
}

const char *artifact_entry_hash(const struct artifact_entry *e)
{
	return e->err ? NULL : e->hash;
}

bool artifact_entry_lazy(const struct artifact_entry *e)
{
	return e->lazy;
}

const struct platform *artifact_entry_platform(const struct artifact_entry *e)
{
	return e->platform;
}

bool artifact_entry_has_download(const struct artifact_entry *e)
{
	return e->has_download;
}

size_t artifact_entry_downloads(const struct artifact_entry *e,
	const struct artifact_download **ret)
{
	*ret = e->ndl ? e->dl : NULL;
	return e->ndl;
}

const char *artifact_entry_string(const struct artifact_entry *e, const char *key)
{
	return toml_string(toml_get(e->table, key), NULL);
}

const char *artifact_entry_error(const struct artifact_entry *e)
{
	return e->err;
}

/* ---- JSON ----------------------------------------------------------------- */

static int json_str(struct buf *b, const char *s)
{
	int r = buf_addc(b, '"');

	for (; r == 0 && *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			r = buf_addf(b, "\\%c", c);
		else if (c < 0x20)
			r = buf_addf(b, "\\u%04x", c);
		else
			r = buf_addc(b, (char)c);
	}
	return r ? r : buf_addc(b, '"');
}

int artifact_entry_json(const struct artifact_entry *e, char **ret, size_t *len)
{
	char *trip = NULL, *s;
	struct buf b;
	size_t i;
	int r;

	if (e->err)
		return -EINVAL;
	if (e->platform && (r = platform_triplet(e->platform, &trip)) < 0)
		return r;
	buf_init(&b, JSON_MAX);
	if ((r = buf_adds(&b, "{\"name\": ")) < 0 || (r = json_str(&b, e->name)) < 0 ||
	    (r = buf_addf(&b, ", \"git-tree-sha1\": \"%s\", \"lazy\": %s, \"triplet\": ", e->hash,
		     e->lazy ? "true" : "false")) < 0 ||
	    (r = trip ? json_str(&b, trip) : buf_adds(&b, "null")) < 0 ||
	    (r = buf_adds(&b, ", \"downloads\": [")) < 0)
		goto out;
	for (i = 0; i < e->ndl; i++) {
		if ((r = buf_adds(&b, i ? ", {\"url\": " : "{\"url\": ")) < 0 ||
		    (r = json_str(&b, e->dl[i].url)) < 0 ||
		    (r = buf_addf(&b, ", \"sha256\": \"%s\"", e->dl[i].sha256)) < 0)
			goto out;
		if (e->dl[i].size > 0 &&
		    (r = buf_addf(&b, ", \"size\": %" PRIu64, e->dl[i].size)) < 0)
			goto out;
		if (e->dl[i].seek_index &&
		    ((r = buf_adds(&b, ", \"seek_index\": ")) < 0 ||
		     (r = json_str(&b, e->dl[i].seek_index)) < 0))
			goto out;
		if ((r = buf_addc(&b, '}')) < 0)
			goto out;
	}
	if ((r = buf_adds(&b, "]}")) < 0)
		goto out;
	s = buf_detach(&b, len);
	if (!s) {
		r = -ENOMEM;
		goto out;
	}
	*ret = s;
out:
	buf_release(&b);
	free(trip);
	return r;
}
