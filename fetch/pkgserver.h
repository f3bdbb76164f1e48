/*
 * pkgserver.h - ask a Pkg server whether it has an artifact (spec §6)
 *
 * Part of the pipeline half of fetch/ (it uses libcurl through http.c), and
 * FUSE-free: the daemon's any_hash= lookups call it from fs/, through the
 * cache of fs/probe.c that sends one request per hash.
 */
#ifndef ARTIFACTFS_FETCH_PKGSERVER_H
#define ARTIFACTFS_FETCH_PKGSERVER_H

#include "fetch/fetch.h"

/* The longest one HEAD may take in all, connect included (seconds). */
#define FETCH_PKGSERVER_HEAD_TIMEOUT 20L

/*
 * fetch_pkgserver_head - send one "HEAD <server>/artifact/<hash>" to the
 * Pkg server of o->pkg_server (normalised as fetch_pkg_server_url() does),
 * with Pkg's headers (fetch_pkg_headers()), o's CA file, a connect
 * timeout of o->connect_timeout and at most FETCH_PKGSERVER_HEAD_TIMEOUT
 * seconds in all; redirects are followed, no retry is made.  With
 * o->proxies, the request goes through the members in the order
 * fetch_proxies_plan() gives for hash, the next one after a proxy failure
 * (refused, timed out, 502/503/504), which is recorded with
 * fetch_proxies_failed() as for a download.
 * @hash: 40 lowercase hex digits.
 * @errmsg: when not NULL, receives on failure a malloc'ed one-line reason
 *   naming the URL.
 * Returns 1 when the server has the artifact (2xx), 0 when it says it has
 * not (404 or 410), -ENOMEDIUM when no Pkg server is set, or -errno when
 * no answer came (fetch_curl_errno(), or fetch_http_errno() of another
 * status).  Thread-safe (one easy handle per call).
 */
int fetch_pkgserver_head(const struct fetch_options *o, const char *hash, char **errmsg);

#endif
