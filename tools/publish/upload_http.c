/*
 * upload_http.c - the http(s) backend of the upload layer: HEAD, GET, and
 * PUT that creates missing parent collections with MKCOL (WebDAV,
 * RFC 4918)
 */
#include "tools/publish/upload_int.h"

#include "fetch/http.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/*
 * DEST without its userinfo, ending in '/'.  "user:password@" goes to
 * u->userpwd (percent-decoded), sent with CURLOPT_USERPWD, so that no URL
 * printed or bound into an Artifacts.toml carries a password.  Without it,
 * ~/.netrc is consulted (CURLOPT_NETRC).
 */
int http_init(struct upload *u, const char *dest)
{
	const char *host = strstr(dest, "://") + 3, *end, *at;
	size_t n;

	end = host + strcspn(host, "/?#");
	if (dest[strcspn(dest, "?#")])
		return up_fail(
			u, -EINVAL, "invalid destination '%s': no query or fragment allowed", dest);
	at = memrchr(host, '@', (size_t)(end - host));
	if ((at ? at + 1 : host) == end)
		return up_fail(u, -EINVAL, "invalid destination '%s': no host; use " UP_DEST_FORMS,
			dest);
	if (at) {
		u->userpwd = malloc((size_t)(at - host) + 1);
		if (!u->userpwd)
			return -ENOMEM;
		up_percent_decode(host, (size_t)(at - host), u->userpwd);
	}
	n = strlen(dest);
	if (asprintf(&u->base, "%.*s%s%s", (int)(host - dest), dest, at ? at + 1 : host,
		    n && dest[n - 1] == '/' ? "" : "/") < 0) {
		u->base = NULL;
		return -ENOMEM;
	}
	return 0;
}

int http_head(struct upload *u, const char *url, bool *exists, uint64_t *size)
{
	struct up_req r = {.method = "HEAD", .url = url};
	int err;

	err = up_request(u, &r, "look up", 404);
	*exists = err == 0;
	*size = err == 0 && r.length >= 0 ? (uint64_t)r.length : 0;
	return err == -ENOENT ? 0 : err;
}

int http_get(struct upload *u, const char *url, size_t max, struct buf *out)
{
	struct up_req r = {.method = "GET", .url = url, .resp = out};
	int err;

	err = up_request(u, &r, "read", 404);
	if (err == -E2BIG) {
		up_clear_error(u); /* refined */
		up_fail(u, err, "cannot read '%s': larger than %zu bytes", url, max);
	}
	return err;
}

static int http_mkcol(struct upload *u, const char *dir_url, unsigned depth)
{
	struct up_req r = {.method = "MKCOL", .url = dir_url};
	char *parent = NULL;
	const char *slash, *host;
	int err;

	err = up_request(u, &r, "create the collection", 409);
	if (err == 0 || r.status == 405) { /* 405: it exists already */
		up_clear_error(u);
		return 0;
	}
	if (r.status != 409 || depth > 64)
		return err == 0 ? -EREMOTEIO : err;
	/* 409: its parent is missing too; create that, then try again */
	host = strstr(dir_url, "://");
	host = host ? strchr(host + 3, '/') : NULL;
	for (slash = dir_url + strlen(dir_url) - 1; slash > dir_url && slash[-1] != '/'; slash--)
		;
	if (!host || slash <= host + 1)
		return up_fail(u, -EREMOTEIO,
			"cannot create the collection '%s': HTTP 409 Conflict", dir_url);
	parent = strndup(dir_url, (size_t)(slash - dir_url));
	if (!parent)
		return -ENOMEM;
	err = http_mkcol(u, parent, depth + 1);
	free(parent);
	if (err < 0)
		return err;
	memset(&r, 0, sizeof(r));
	r.method = "MKCOL";
	r.url = dir_url;
	err = up_request(u, &r, "create the collection", 0);
	if (err < 0 && r.status == 405) {
		up_clear_error(u);
		err = 0;
	}
	return err;
}

/* Whether the collection dir_url is missing: HEAD answers 404 or 410. */
static bool http_missing(struct upload *u, const char *dir_url)
{
	struct up_req r = {.method = "HEAD", .url = dir_url};
	unsigned attempts = u->attempts;
	int err;

	u->attempts = 1;
	err = up_request(u, &r, "look up", 404);
	u->attempts = attempts;
	return err == -ENOENT;
}

/*
 * PUT, creating missing parent collections.  RFC 4918 says a PUT below a
 * missing collection gets 409 Conflict (Apache mod_dav); nginx without
 * create_full_put_path answers 500 instead, so after a 5xx the parent is
 * looked up (HEAD) before the attempt is repeated.
 */
int http_put(struct upload *u, const char *url, struct up_body *b, const char *type,
	upload_progress_fn progress, void *arg)
{
	struct up_req r;
	unsigned attempts = u->attempts;
	bool made = false;
	char *dir;
	int err;

	up_req_put(&r, url, b, type, progress, arg);
	u->attempts = 1;
	err = up_request(u, &r, "upload", 409);
	u->attempts = attempts;
	if (err == 0 || attempts <= 1 || !(r.status == 409 || fetch_http_retryable(err, r.status)))
		return err;
	if (r.status == 409 || r.status >= 500) {
		dir = strdup(url);
		if (!dir)
			return -ENOMEM;
		*(strrchr(dir, '/') + 1) = '\0';
		if (r.status == 409 || http_missing(u, dir)) {
			err = http_mkcol(u, dir, 0);
			made = true;
		}
		free(dir);
		if (err < 0 && made)
			return err;
	}
	if (!made)
		fetch_sleep_ms(u->retry_delay_ms);
	u->attempts = attempts - 1;
	up_clear_error(u); /* what failed before is recovered from: the retry tells */
	err = up_request(u, &r, "upload", 0);
	u->attempts = attempts;
	return err;
}
