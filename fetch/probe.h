/*
 * probe.h - one bounded request to each mirror host (artifactctl probe)
 *
 * For every host (scheme and authority) among a list of download URLs,
 * one GET of one real URL of that host with "Range: bytes=0-0" and a
 * deadline of a few seconds: whether the host answers, how long the first
 * byte took, and whether it honours Range (206) or sends the whole body
 * (200; the transfer is cut after its first bytes).  Part of the pipeline
 * half of fetch/ (libcurl through fetch/http.h); no FUSE, no store.
 */
#ifndef ARTIFACTFS_FETCH_PROBE_H
#define ARTIFACTFS_FETCH_PROBE_H

#include <stddef.h>

/* What one probe found. */
struct fetch_probe {
	char *host;		/* "https://mirror.example:8443", owned */
	char *url;		/* the URL probed, owned */
	int err;		/* 0: an HTTP answer came; else the -errno class */
	char cause[320];	/* why it failed, or the status of an error answer; "" */
	long status;		/* the HTTP status, 0 when none came */
	double latency_ms;	/* milliseconds until the first byte of the answer */
	int range;		/* 1: 206 (Range honoured), 0: 200 (not), -1: unknown */
};

/*
 * fetch_probe_host - the host part of url, "scheme://authority" (userinfo,
 * path, query and fragment dropped, scheme lowercased), into *ret
 * (malloc'ed).  Returns 0, -EINVAL (no "scheme://"), or -ENOMEM.  Pure;
 * thread-safe.
 */
int fetch_probe_host(const char *url, char **ret);

/*
 * fetch_probe_plan - one probe per distinct host among the n urls, in the
 * order hosts first appear, each with the first URL of its host (what a
 * download would fetch first): *ret is a malloc'ed array of *ret_n
 * unprobed entries (err 0, status 0, range -1), freed with
 * fetch_probe_free().  URLs without a scheme are skipped.  Returns 0 or
 * -ENOMEM (*ret untouched).  Thread-safe.
 */
int fetch_probe_plan(const char *const *urls, size_t n, struct fetch_probe **ret, size_t *ret_n);

/*
 * fetch_probe_run - probe p->url: one GET with Range: bytes=0-0, redirects
 * followed, at most timeout_s seconds (> 0) in all, with the CA bundle
 * ca_file (NULL: libcurl's default) and proxies from the environment
 * (fetch_http_setup()).  Fills err, cause, status, latency_ms and range.
 * An HTTP error status is an answer (err 0, cause "HTTP 404 Not Found",
 * range -1).  Returns p->err.  Thread-safe for distinct p.
 */
int fetch_probe_run(struct fetch_probe *p, double timeout_s, const char *ca_file);

/* fetch_probe_free - free the n entries of v and v; NULL is a no-op. */
void fetch_probe_free(struct fetch_probe *v, size_t n);

#endif
