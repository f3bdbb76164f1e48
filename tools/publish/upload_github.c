/*
 * upload_github.c - the GitHub releases backend of the upload layer: keys
 * are the asset names of one release, found by its tag (upload.h)
 *
 * This file is the destination: github://OWNER/REPO/TAG and
 * SERVER/OWNER/REPO/releases/tag/TAG, the token, github_init() and
 * github_release(), the table of the release's assets and the URLs of
 * assets.  The REST API conversation (requests, pages, the release, the
 * assets, head/get/put/delete/list, rate limits) is upload_github_api.c;
 * what both share is upload_github_int.h.
 */
#include "tools/publish/upload_github_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define TOKEN_MAX (64u << 10)

static const char *env(const char *name)
{
	const char *v = getenv(name);

	return v && *v ? v : NULL;
}

bool github_is_http(const char *s)
{
	return strncmp(s, "http://", 7) == 0 || strncmp(s, "https://", 8) == 0;
}

/*
 * The length of the server part of dest when it is an http(s) URL below
 * $GITHUB_SERVER_URL, or https://github.com[/...]; else 0.
 */
static size_t server_len(const char *dest)
{
	const char *srv = env("GITHUB_SERVER_URL"), *h;
	size_t n;

	if (!github_is_http(dest))
		return 0;
	if (srv) {
		n = strlen(srv);
		while (n > 0 && srv[n - 1] == '/')
			n--;
		if (n > 0 && strncmp(dest, srv, n) == 0 && dest[n] == '/')
			return n;
	}
	h = strstr(dest, "://") + 3;
	n = strcspn(h, "/?#");
	if (n == 10 && strncasecmp(h, "github.com", 10) == 0 && dest[4] == 's')
		return (size_t)(h - dest) + n;
	return 0;
}

bool github_dest(const char *dest)
{
	return server_len(dest) > 0;
}

static bool name_ok(const char *s, size_t n, const char *extra)
{
	size_t i;

	if (n == 0 || (n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.'))
		return false;
	for (i = 0; i < n; i++)
		if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z') ||
			    (s[i] >= '0' && s[i] <= '9') || strchr(extra, s[i])))
			return false;
	return true;
}

/* A git tag name (git-check-ref-format(1)), as far as a URL path can carry it. */
static bool tag_ok(const char *t)
{
	size_t n = strlen(t);
	const char *p;

	if (n == 0 || n > 255 || t[0] == '/' || t[n - 1] == '/' || t[n - 1] == '.' ||
		strstr(t, "..") || strstr(t, "//") || strstr(t, "@{") || strstr(t, "/.") ||
		t[0] == '.' || (n >= 5 && strcmp(t + n - 5, ".lock") == 0))
		return false;
	for (p = t; *p; p++)
		if ((unsigned char)*p <= ' ' || *p == 0x7f || strchr("~^:?*[\\#%", *p))
			return false;
	return true;
}

/*
 * github://OWNER/REPO/TAG or SERVER/OWNER/REPO/releases/tag/TAG into g.
 * Returns 0 or -EINVAL with the message.
 */
static int parse_dest(struct upload *u, struct github *g, const char *dest)
{
	const char *p, *owner, *repo, *why = NULL;
	size_t no, nr;
	char *tag = NULL;

	if (strncmp(dest, "github://", 9) == 0) {
		p = dest + 9;
	} else if (strncmp(dest, "github:", 7) == 0) {
		why = "github:// expected";
		goto bad;
	} else {
		p = dest + server_len(dest);
		if (!(g->server = strndup(dest, (size_t)(p - dest))))
			return -ENOMEM;
		p += *p == '/';
	}
	owner = p;
	no = strcspn(owner, "/");
	repo = owner + no + (owner[no] == '/');
	nr = strcspn(repo, "/");
	p = repo + nr + (repo[nr] == '/');
	if (!name_ok(owner, no, "-") || no > 39) {
		why = no ? "invalid owner" : "no owner";
		goto bad;
	}
	if (!name_ok(repo, nr, "-_.") || nr > 100) {
		why = nr ? "invalid repository" : "no repository";
		goto bad;
	}
	if (g->server) {
		if (strncmp(p, "releases/tag/", 13) != 0) {
			why = "not the URL of a release";
			goto bad;
		}
		p += 13;
	}
	if (!(tag = strdup(p)))
		return -ENOMEM;
	if (g->server)
		up_percent_decode(p, strlen(p), tag);
	if (!*tag) {
		why = "no tag";
		goto bad;
	}
	if (!tag_ok(tag)) {
		why = "invalid tag";
		goto bad;
	}
	g->owner = strndup(owner, no);
	g->repo = strndup(repo, nr);
	g->tag = tag;
	return g->owner && g->repo ? 0 : -ENOMEM;
bad:
	free(tag);
	return up_fail(
		u, -EINVAL, "invalid GitHub release '%s': %s; use " UP_GITHUB_FORMS, dest, why);
}

/* The first line of a token file only its owner can read, into *ret. */
static int read_token(struct upload *u, const char *path, char **ret)
{
	char *text = NULL;
	size_t len = 0, n;
	int err;

	if ((err = up_read_secret(u, path, "token file", TOKEN_MAX, &text, &len)) < 0)
		return err;
	text[strcspn(text, "\r\n")] = '\0';
	n = strlen(text);
	while (n > 0 && (text[n - 1] == ' ' || text[n - 1] == '\t'))
		text[--n] = '\0';
	if (!*text || strcspn(text, " \t") != n) {
		explicit_bzero(text, len);
		free(text);
		return up_fail(
			u, -EINVAL, "token file '%s' holds no token on its first line", path);
	}
	*ret = text;
	return 0;
}

static int dup_base(char **dst, const char *v)
{
	size_t n = strlen(v);

	while (n > 0 && v[n - 1] == '/')
		n--;
	*dst = strndup(v, n);
	return *dst ? 0 : -ENOMEM;
}

int github_init(struct upload *u, const char *dest, const struct upload_options *o)
{
	struct github *g = calloc(1, sizeof(*g));
	const char *api = env("GITHUB_API_URL"), *tok;
	int err;

	if (!g)
		return -ENOMEM;
	u->gh = g;
	g->draft = o->draft;
	g->prerelease = o->prerelease;
	g->replace = o->replace;
	if ((err = parse_dest(u, g, dest)) < 0)
		return err;
	if (api && !github_is_http(api))
		return up_fail(u, -EINVAL,
			"invalid GITHUB_API_URL '%s': http(s)://HOST[/PATH] expected", api);
	if ((err = dup_base(&g->api, api ? api : "https://api.github.com")) < 0)
		return err;
	if (!g->server) {
		const char *srv = env("GITHUB_SERVER_URL");

		if ((err = dup_base(&g->server,
			     srv && github_is_http(srv) ? srv : "https://github.com")) < 0)
			return err;
	}
	if ((o->release_name && !(g->release_name = strdup(o->release_name))) ||
		(o->target && !(g->target = strdup(o->target))))
		return -ENOMEM;
	/* the release's page, for messages */
	if (asprintf(&u->base, "%s/%s/%s/releases/tag/%s", g->server, g->owner, g->repo, g->tag) <
		0) {
		u->base = NULL;
		return -ENOMEM;
	}
	if (o->token_file)
		return read_token(u, o->token_file, &g->token);
	tok = env("GITHUB_TOKEN") ? env("GITHUB_TOKEN") : env("GH_TOKEN");
	if (tok && !(g->token = strdup(tok)))
		return -ENOMEM;
	return 0;
}

void github_forget_assets(struct github *g)
{
	size_t i;

	for (i = 0; i < g->nassets; i++) {
		free(g->assets[i].name);
		free(g->assets[i].url);
	}
	g->nassets = 0;
	g->listed = false;
}

void github_release(struct upload *u)
{
	struct github *g = u->gh;

	if (!g)
		return;
	github_forget_assets(g);
	free(g->assets);
	if (g->token)
		explicit_bzero(g->token, strlen(g->token));
	free(g->token);
	free(g->api);
	free(g->server);
	free(g->owner);
	free(g->repo);
	free(g->tag);
	free(g->release_name);
	free(g->target);
	free(g->upload_tmpl);
	free(g);
	u->gh = NULL;
}

bool github_signed(const struct upload *u)
{
	return u->gh && u->gh->token;
}

const char *github_token(const struct upload *u)
{
	return u->gh ? u->gh->token : NULL;
}

struct gh_asset *github_find_asset(struct github *g, const char *name)
{
	size_t i;

	for (i = 0; i < g->nassets; i++)
		if (strcmp(g->assets[i].name, name) == 0)
			return &g->assets[i];
	return NULL;
}

int github_url(const struct upload *u, const char *key, bool public, char **ret)
{
	struct github *g = u->gh;
	const struct gh_asset *a;
	struct buf b;
	int r;

	if (strchr(key, '/'))
		return -EINVAL;
	if (public && (a = github_find_asset(g, key)) && a->url)
		return (*ret = strdup(a->url)) ? 0 : -ENOMEM;
	buf_init(&b, 1 << 20);
	if ((r = buf_addf(&b, "%s/%s/%s/releases/download/", g->server, g->owner, g->repo)) == 0 &&
		(r = up_escape(&b, g->tag, true)) == 0 && (r = buf_addc(&b, '/')) == 0)
		r = up_escape(&b, key, false);
	return buf_finish(&b, r, ret);
}
