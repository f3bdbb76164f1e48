/*
 * upload_github_api.c - the REST API conversation of the GitHub releases
 * backend (upload_github.c): requests, pages, the release, its assets,
 * head/get/put/delete/list and the wait for a rate limit
 *
 * What each request does follows GitHub's REST API documentation, "REST API
 * endpoints for releases" and "... for release assets" (API version
 * 2022-11-28):
 *   get a release by tag   GET /repos/O/R/releases/tags/TAG: 200, 404
 *   list releases          GET /repos/O/R/releases?per_page=100: 200 (drafts,
 *                          which have no tag yet, are found only there)
 *   create a release       POST /repos/O/R/releases {tag_name, name,
 *                          target_commitish, draft, prerelease}: 201, 422
 *   list release assets    GET /repos/O/R/releases/ID/assets?per_page=100:
 *                          200, further pages by Link rel="next" ("Using
 *                          pagination in the REST API")
 *   upload a release asset POST UPLOAD_URL?name=NAME (the hypermedia
 *                          upload_url, RFC 6570 "{?name,label}"), raw bytes
 *                          with their Content-Type: 201; 422 with
 *                          errors[].code "already_exists" for a name taken
 *   get a release asset    GET /repos/O/R/releases/assets/ID with Accept:
 *                          application/octet-stream: 200 or 302
 *   delete a release asset DELETE /repos/O/R/releases/assets/ID: 204
 * and "Rate limits for the REST API": 403 or 429 with Retry-After, or with
 * x-ratelimit-remaining 0 until x-ratelimit-reset.
 */
#include "tools/publish/upload_github_int.h"

#include "fetch/fetch.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define PAGES_MAX 10000 /* 100 per page: a million assets or releases */

/* ---- requests -------------------------------------------------------------------- */

/* api + "/repos/OWNER/REPO" + the printf-style rest */
static char *api_url(const struct github *g, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static char *api_url(const struct github *g, const char *fmt, ...)
{
	struct buf b;
	va_list ap;
	char *s = NULL;
	int r;

	buf_init(&b, 1 << 20);
	va_start(ap, fmt);
	if ((r = buf_addf(&b, "%s/repos/%s/%s", g->api, g->owner, g->repo)) == 0)
		r = buf_vaddf(&b, fmt, ap);
	va_end(ap);
	buf_finish(&b, r, &s);
	return s;
}

static json_t *parse(const struct buf *b)
{
	return b->ptr ? json_loadb(b->ptr, b->len, 0, NULL) : NULL;
}

/*
 * The URL of rel="next" in a Link header (RFC 8288), malloc'ed, or NULL.
 * Only a URL below the API is followed: the token goes with it.
 */
static int link_next(const struct github *g, const char *link, char **ret)
{
	const char *p = link, *lt, *gt, *end;
	size_t n = strlen(g->api);

	*ret = NULL;
	while ((lt = strchr(p, '<')) && (gt = strchr(lt, '>'))) {
		end = strchr(gt, '<');
		end = end ? end : gt + strlen(gt);
		/* the parameters between '>' and the next link: rel="next" or rel=next */
		for (p = gt + 1; p < end; p++) {
			if (strncasecmp(p, "rel=", 4) != 0)
				continue;
			p += 4 + (p[4] == '"');
			if (strncmp(p, "next", 4) == 0 && strchr("\" ;,", p[4] ? p[4] : ' ')) {
				if (strncmp(lt + 1, g->api, n) != 0 || lt[1 + n] != '/')
					return -EBADMSG;
				*ret = strndup(lt + 1, (size_t)(gt - lt - 1));
				return *ret ? 0 : -ENOMEM;
			}
		}
		p = end;
	}
	return 0;
}

/*
 * Every item of the JSON arrays of url and the pages after it: fn(u, item,
 * arg) returns 0 to go on, 1 to stop, or -errno.  Returns 0, -ENOENT for a
 * 404 (no message), or -errno with the message.
 */
typedef int (*item_fn)(struct upload *u, json_t *item, void *arg);

static int each_item(struct upload *u, const char *first, const char *verb, item_fn fn, void *arg)
{
	struct up_req r;
	struct buf resp;
	char *url = strdup(first), *next = NULL;
	size_t pages = 0, i;
	json_t *arr, *it;
	int err = 0;

	if (!url)
		return -ENOMEM;
	buf_init(&resp, RESPONSE_MAX);
	while (url && err == 0 && ++pages <= PAGES_MAX) {
		r = (struct up_req){.method = "GET", .url = url, .resp = &resp};
		if ((err = up_request(u, &r, verb, 404)) < 0)
			break;
		arr = parse(&resp);
		if (!json_is_array(arr)) {
			json_decref(arr);
			err = up_fail(u, -EBADMSG, "cannot %s '%s': not a JSON array", verb, url);
			break;
		}
		json_array_foreach(arr, i, it)
		{
			if ((err = fn(u, it, arg)) != 0)
				break;
		}
		json_decref(arr);
		if (err == 0 && (err = link_next(u->gh, r.link, &next)) == -EBADMSG)
			up_fail(u, err, "cannot %s '%s': a Link to another server", verb, url);
		free(url);
		url = next;
		next = NULL;
	}
	free(url);
	buf_release(&resp);
	return err > 0 ? 0 : err;
}

static int take_release(struct upload *u, json_t *rel, const char *url)
{
	struct github *g = u->gh;
	json_t *id = json_object_get(rel, "id"), *up = json_object_get(rel, "upload_url");

	if (!json_is_integer(id) || json_integer_value(id) <= 0 || !json_is_string(up) ||
		!github_is_http(json_string_value(up)))
		return up_fail(
			u, -EBADMSG, "cannot read the release at '%s': no id or upload_url", url);
	free(g->upload_tmpl);
	if (!(g->upload_tmpl = strdup(json_string_value(up))))
		return -ENOMEM;
	g->release_id = json_integer_value(id);
	github_forget_assets(g);
	return 0;
}

/* A draft release of our tag in the list of releases: drafts have no tag to look up by. */
static int match_draft(struct upload *u, json_t *rel, void *arg)
{
	json_t *t = json_object_get(rel, "tag_name");

	if (!json_is_string(t) || strcmp(json_string_value(t), u->gh->tag) != 0)
		return 0;
	return take_release(u, rel, arg) < 0 ? -EBADMSG : 1;
}

void github_describe(const struct buf *b, char *out, size_t size)
{
	json_t *j = parse(b), *m = json_object_get(j, "message"),
	       *c = json_object_get(json_array_get(json_object_get(j, "errors"), 0), "code");

	out[0] = '\0';
	if (json_is_string(m))
		snprintf(out, size, " (%s%s%s)", json_string_value(m),
			json_is_string(c) ? ": " : "",
			json_is_string(c) ? json_string_value(c) : "");
	json_decref(j);
}

/* A 422 answer's errors[].code "already_exists": a tag with a release, a taken asset name. */
static bool already_exists(const struct buf *b)
{
	json_t *j = parse(b), *e, *c;
	bool yes = false;
	size_t i;

	json_array_foreach(json_object_get(j, "errors"), i, e)
	{
		c = json_object_get(e, "code");
		yes |= json_is_string(c) && strcmp(json_string_value(c), "already_exists") == 0;
	}
	json_decref(j);
	return yes;
}

static int create_release(struct upload *u, const char *url)
{
	struct github *g = u->gh;
	json_t *req, *ans = NULL;
	struct up_body body = {.fd = -1};
	struct up_req r;
	struct buf resp;
	char *text = NULL, cause[512];
	int err;

	req = json_pack("{s:s, s:s, s:b, s:b}", "tag_name", g->tag, "name",
		g->release_name ? g->release_name : g->tag, "draft", g->draft, "prerelease",
		g->prerelease);
	if (req && g->target)
		json_object_set_new(req, "target_commitish", json_string(g->target));
	if (!req || !(text = json_dumps(req, JSON_COMPACT))) {
		json_decref(req);
		return -ENOMEM;
	}
	json_decref(req);
	body.mem = text;
	body.len = strlen(text);
	buf_init(&resp, RESPONSE_MAX);
	r = (struct up_req){.method = "POST",
		.url = url,
		.name = u->base,
		.body = &body,
		.content_type = "application/json",
		.resp = &resp};
	err = up_request(u, &r, "create the release", 422);
	if (err == 0) {
		ans = parse(&resp);
		err = take_release(u, ans, u->base);
	} else if (r.status == 422 && already_exists(&resp)) {
		err = -EEXIST; /* created meanwhile, by another run: no message */
	} else if (r.status == 422) {
		github_describe(&resp, cause, sizeof(cause));
		err = up_fail(u, -EREMOTEIO, "cannot create the release '%s': HTTP 422%s", u->base,
			cause);
	}
	json_decref(ans);
	buf_release(&resp);
	free(text);
	return err;
}

/* Look the release up: by tag, else among the drafts; none is no error. */
static int lookup_release(struct upload *u)
{
	struct github *g = u->gh;
	struct up_req r;
	struct buf resp;
	struct buf tb;
	char *url = NULL, *list = NULL, *tag = NULL;
	json_t *rel = NULL;
	int err = 0;

	buf_init(&resp, RESPONSE_MAX);
	buf_init(&tb, 4096);
	if ((err = up_escape(&tb, g->tag, true)) < 0 || !(tag = buf_detach(&tb, NULL)) ||
		!(url = api_url(g, "/releases/tags/%s", tag)) ||
		!(list = api_url(g, "/releases?per_page=100"))) {
		err = -ENOMEM;
		goto out;
	}
	r = (struct up_req){.method = "GET", .url = url, .resp = &resp};
	err = up_request(u, &r, "look up the release", 404);
	if (err == 0) {
		rel = parse(&resp);
		err = take_release(u, rel, url);
	} else if (err == -ENOENT) {
		err = each_item(u, list, "list the releases", match_draft, list);
		if (err == -ENOENT)
			err = up_fail(u, err,
				"cannot look up the release '%s': no repository %s/%s%s", u->base,
				g->owner, g->repo,
				g->token ? " that the token can see" : " (no token)");
	}
	g->looked_up = err == 0;
out:
	json_decref(rel);
	buf_release(&resp);
	buf_release(&tb);
	free(tag);
	free(url);
	free(list);
	return err;
}

/*
 * Look the release up once; create it when create and it is missing.  A
 * release another run created in between (422 already_exists) is looked up
 * again and used.
 */
static int find_release(struct upload *u, bool create)
{
	struct github *g = u->gh;
	char *url;
	int err;

	if (g->release_id || (g->looked_up && !create))
		return 0;
	if (!g->looked_up && (err = lookup_release(u)) < 0)
		return err;
	if (g->release_id || !create)
		return 0;
	if (!(url = api_url(g, "/releases")))
		return -ENOMEM;
	err = create_release(u, url);
	free(url);
	if (err == -EEXIST && (err = lookup_release(u)) == 0 && !g->release_id)
		err = up_fail(u, -EREMOTEIO,
			"cannot create the release '%s': GitHub says it exists, but shows it "
			"neither by tag nor in the list",
			u->base);
	return err;
}

static int add_asset(struct upload *u, json_t *a, void *arg)
{
	struct github *g = u->gh;
	json_t *name = json_object_get(a, "name"), *id = json_object_get(a, "id"),
	       *size = json_object_get(a, "size"),
	       *url = json_object_get(a, "browser_download_url"),
	       *state = json_object_get(a, "state");
	struct gh_asset *v, *old;

	if (!json_is_string(name) || !json_is_integer(id) || !json_is_integer(size) ||
		json_integer_value(size) < 0)
		return up_fail(
			u, -EBADMSG, "cannot list the assets of '%s': malformed asset", u->base);
	if ((old = github_find_asset(g, json_string_value(name)))) { /* an upload's answer: renew */
		free(old->name);
		free(old->url);
		*old = g->assets[--g->nassets];
	}
	if (g->nassets == g->cap) {
		size_t cap = g->cap ? 2 * g->cap : 64;

		if (!(v = realloc(g->assets, cap * sizeof(*v))))
			return -ENOMEM;
		g->assets = v;
		g->cap = cap;
	}
	v = &g->assets[g->nassets];
	v->name = strdup(json_string_value(name));
	v->url = json_is_string(url) ? strdup(json_string_value(url)) : NULL;
	v->id = json_integer_value(id);
	v->size = (uint64_t)json_integer_value(size);
	v->complete = !json_is_string(state) || strcmp(json_string_value(state), "uploaded") == 0;
	if (!v->name || (json_is_string(url) && !v->url)) {
		free(v->name);
		free(v->url);
		return -ENOMEM;
	}
	g->nassets++;
	return 0;
}

/* The assets of the release, listed once (again when fresh), every page. */
static int list_assets(struct upload *u, bool fresh)
{
	struct github *g = u->gh;
	char *url;
	int err;

	if (g->listed && !fresh)
		return 0;
	github_forget_assets(g);
	if (!(url = api_url(g, "/releases/%lld/assets?per_page=100", g->release_id)))
		return -ENOMEM;
	err = each_item(u, url, "list the assets of", add_asset, NULL);
	if (err == -ENOENT)
		err = up_fail(
			u, err, "cannot list the assets of '%s': the release is gone", u->base);
	free(url);
	g->listed = err == 0;
	return err;
}

/* The release exists (create) and its assets are listed; *none: it does not (!create). */
static int ready(struct upload *u, bool create, bool *none)
{
	int err;

	if ((err = find_release(u, create)) < 0)
		return err;
	*none = !u->gh->release_id;
	return *none ? 0 : list_assets(u, false);
}

int github_head(struct upload *u, const char *key, bool *exists, uint64_t *size)
{
	const struct gh_asset *a;
	bool none;
	int err;

	*exists = false;
	*size = 0;
	if ((err = ready(u, false, &none)) < 0 || none || !(a = github_find_asset(u->gh, key)))
		return err;
	*exists = true;
	*size = a->complete ? a->size : 0;
	return 0;
}

int github_get(struct upload *u, const char *key, size_t max, struct buf *out)
{
	const struct gh_asset *a = NULL;
	struct up_req r;
	char *url = NULL;
	bool none;
	int err;

	if ((err = ready(u, false, &none)) < 0)
		return err;
	if (none || !(a = github_find_asset(u->gh, key)) || !a->complete)
		return up_fail(u, -ENOENT, "cannot read '%s': no such asset", key);
	if (!(url = api_url(u->gh, "/releases/assets/%lld", a->id)))
		return -ENOMEM;
	/* the bytes, not the JSON: 200, or 302 to where they are (without our token) */
	r = (struct up_req){.method = "GET",
		.url = url,
		.name = a->url,
		.resp = out,
		.accept = "application/octet-stream",
		.follow = true};
	err = up_request(u, &r, "read", 404);
	if (err == -E2BIG) {
		up_clear_error(u); /* refined */
		up_fail(u, err, "cannot read '%s': larger than %zu bytes", key, max);
	}
	free(url);
	return err;
}

static int delete_asset(struct upload *u, struct gh_asset *a)
{
	struct github *g = u->gh;
	struct up_req r = {.method = "DELETE", .name = a->url};
	char *url = api_url(g, "/releases/assets/%lld", a->id);
	int err;

	if (!url)
		return -ENOMEM;
	r.url = url;
	err = up_request(u, &r, "delete", 404); /* 204; 404: gone already */
	free(url);
	if (err == -ENOENT)
		err = 0;
	if (err == 0) {
		free(a->name);
		free(a->url);
		*a = g->assets[--g->nassets];
	}
	return err;
}

int github_delete(struct upload *u, const char *key)
{
	struct gh_asset *a;
	bool none;
	int err;

	if ((err = ready(u, false, &none)) < 0 || none || !(a = github_find_asset(u->gh, key)))
		return err;
	return delete_asset(u, a);
}

/*
 * The upload URL of name: upload_url with its RFC 6570 form-style query
 * expression ("{?name,label}", level 3) expanded with name defined and
 * label undefined: "?name=VALUE", VALUE percent-encoded but for unreserved
 * bytes.  A URL without a template gets "?name=" (or "&name=") appended.
 */
static int expand_upload_url(const char *tmpl, const char *name, char **ret)
{
	const char *open = strchr(tmpl, '{'), *close = open ? strchr(open, '}') : NULL;
	const char *vars;
	struct buf b;
	char sep;
	int r;

	if (open && !close)
		return -EBADMSG;
	if (open) {
		if (open[1] != '?' && open[1] != '&')
			return -EBADMSG;
		sep = open[1];
		/* "name" must be one of the variables of the expression */
		for (vars = open + 2; vars < close; vars += strcspn(vars, ",}") + 1)
			if (strncmp(vars, "name", 4) == 0 && (vars[4] == ',' || vars[4] == '}'))
				break;
		if (vars >= close)
			return -EBADMSG;
	} else {
		sep = strchr(tmpl, '?') ? '&' : '?';
	}
	buf_init(&b, 1 << 20);
	if ((r = buf_add(&b, tmpl, open ? (size_t)(open - tmpl) : strlen(tmpl))) == 0 &&
		(r = buf_addf(&b, "%cname=", sep)) == 0 && (r = up_escape(&b, name, false)) == 0)
		r = buf_adds(&b, close ? close + 1 : "");
	return buf_finish(&b, r, ret);
}

static int exists_error(struct upload *u, const char *name)
{
	return up_fail(u, -EEXIST,
		"cannot upload '%s': the release '%s' has an asset of that name with other bytes "
		"(GitHub replaces no asset; --force deletes it first)",
		name, u->base);
}

int github_put(struct upload *u, const char *key, struct up_body *b, const char *type,
	upload_progress_fn progress, void *arg)
{
	struct github *g = u->gh;
	struct gh_asset *a;
	struct up_req r;
	struct buf resp;
	char *url = NULL, *name = NULL, cause[512];
	bool none, again = false;
	json_t *ans;
	int err;

	if ((err = github_url(u, key, false, &name)) < 0)
		return up_fail(u, err, "invalid asset name '%s': no '/'", key);
	buf_init(&resp, RESPONSE_MAX);
	if (!g->token) {
		err = up_fail(u, -EACCES,
			"cannot upload '%s': no GitHub token (set GITHUB_TOKEN or GH_TOKEN, or use "
			"--token-file FILE)",
			name);
		goto out;
	}
	if ((err = ready(u, true, &none)) < 0)
		goto out;
	if ((a = github_find_asset(g, key))) {
		/* a "starter" asset is what a failed upload leaves: GitHub says delete it */
		if (a->complete && !g->replace) {
			err = exists_error(u, name);
			goto out;
		}
		if ((err = delete_asset(u, a)) < 0)
			goto out;
	}
	err = expand_upload_url(g->upload_tmpl, key, &url);
	if (err == -EBADMSG)
		err = up_fail(u, err, "cannot upload '%s': unusable upload_url '%s'", name,
			g->upload_tmpl);
	if (err < 0)
		goto out;
	for (;;) {
		up_req_put(&r, url, b, type, progress, arg);
		r.method = "POST";
		r.name = name;
		r.resp = &resp;
		err = up_request(u, &r, "upload", 422);
		if (err == 0 || r.status != 422)
			break;
		if (!already_exists(&resp)) {
			github_describe(&resp, cause, sizeof(cause));
			err = up_fail(u, -EREMOTEIO, "cannot upload '%s': HTTP 422%s", name, cause);
			goto out;
		}
		/* the name is taken: by whom?  Listed again, and compared */
		if ((err = list_assets(u, true)) < 0)
			goto out;
		a = github_find_asset(g, key);
		if (a && a->complete && a->size == b->len)
			goto out; /* the same bytes: names are content-addressed */
		if (!a || a->complete || again) {
			err = a ? exists_error(u, name)
				: up_fail(u, -EREMOTEIO,
					  "cannot upload '%s': GitHub says the name is taken, but "
					  "lists no such asset",
					  name);
			goto out;
		}
		if ((err = delete_asset(u, a)) < 0)
			goto out;
		again = true;
	}
	if (err < 0)
		goto out;
	ans = parse(&resp);
	err = add_asset(u, ans, NULL);
	if (err == 0 && strcmp(json_string_value(json_object_get(ans, "name")), key) != 0)
		err = up_fail(u, -EINVAL,
			"GitHub stored '%s' as '%s': use names of letters, digits and . - _", key,
			json_string_value(json_object_get(ans, "name")));
	json_decref(ans);
out:
	buf_release(&resp);
	free(url);
	free(name);
	return err;
}

int github_list(struct upload *u, const char *prefix, upload_list_fn fn, void *arg)
{
	struct github *g = u->gh;
	size_t i, n = strlen(prefix);
	bool none;
	int err;

	if ((err = ready(u, false, &none)) < 0 || none)
		return err;
	for (i = 0; i < g->nassets && err == 0; i++)
		if (g->assets[i].complete && strncmp(g->assets[i].name, prefix, n) == 0)
			err = fn(arg, g->assets[i].name, g->assets[i].size);
	return err;
}

long github_rate_wait(struct upload *u, const struct up_req *r, uint64_t *waited_ms)
{
	long long s, now = (long long)time(NULL);
	char when[32] = "";
	struct tm tm;
	time_t t;

	if (r->retry_after >= 0)
		s = r->retry_after;
	else if (r->rl_remaining == 0 && r->rl_reset >= 0)
		s = r->rl_reset > now ? r->rl_reset - now + 1 : 1; /* a second past the reset */
	else
		return 0; /* a 403 of another kind: no permission */
	if (s < 1)
		s = 1;
	if (*waited_ms / 1000 + (uint64_t)s > UPLOAD_GITHUB_MAX_WAIT) {
		t = (time_t)(now + s);
		if (gmtime_r(&t, &tm))
			strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
		return up_fail(u, fetch_http_errno(r->status, NULL),
			"cannot send '%s': GitHub's rate limit (HTTP %ld) lifts at %s, in %llds: "
			"longer than the %ds artifactctl waits%s",
			r->name ? r->name : r->url, r->status, when, s, UPLOAD_GITHUB_MAX_WAIT,
			u->gh->token ? "" : " (requests without a token have a lower limit)");
	}
	*waited_ms += (uint64_t)s * 1000;
	return (long)s * 1000;
}
