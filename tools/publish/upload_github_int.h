/*
 * upload_github_int.h - what the files of the GitHub releases backend
 * share: struct github (u->gh), its table of assets, and the calls between
 * them.
 *   upload_github.c      the destination (github://, https://github.com/...),
 *                        the token, github_init()/github_release(), the
 *                        asset table, the URLs of assets
 *   upload_github_api.c  the REST API conversation: requests, pages, the
 *                        release, its assets, head/get/put/delete/list,
 *                        the wait for a rate limit
 * The github_* entry points the upload layer calls are in upload_int.h.
 * Not a public header: commands and tests use tools/publish/upload.h.
 *
 * Thread safety: a struct github belongs to its struct upload, which one
 * thread uses at a time (upload.h).
 */
#ifndef ARTIFACTCTL_UPLOAD_GITHUB_INT_H
#define ARTIFACTCTL_UPLOAD_GITHUB_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tools/publish/upload_int.h"

struct gh_asset {
	char *name, *url; /* url: browser_download_url */
	long long id;
	uint64_t size;
	bool complete; /* state "uploaded"; "starter" is a failed upload */
};

struct github {
	char *api, *server; /* no trailing '/' */
	char *owner, *repo, *tag;
	char *token;
	char *release_name, *target;
	bool draft, prerelease, replace;
	/* the release, once looked up */
	bool looked_up;
	long long release_id; /* 0: none */
	char *upload_tmpl;    /* its upload_url, template and all */
	bool listed;
	struct gh_asset *assets;
	size_t nassets, cap;
};

/* ---- upload_github.c ----------------------------------------------------- */

/* github_is_http - whether s (a NUL-terminated string) starts with http:// or https:// */
bool github_is_http(const char *s);

/*
 * github_forget_assets - free the names and URLs of g's asset table and
 * empty it (g->nassets 0, g->listed false); the array g->assets is kept for
 * reuse, github_release() frees it.  Cannot fail.
 */
void github_forget_assets(struct github *g);

/*
 * github_find_asset - the entry of g's asset table named name (exact
 * match), or NULL when there is none.  The pointer is borrowed: valid only
 * until the table next changes (an asset added, deleted or listed again,
 * github_forget_assets(), github_release()).
 */
struct gh_asset *github_find_asset(struct github *g, const char *name);

#endif
