/*
 * proxy.h - the site's HTTP proxies: CernVM-FS's proxy list, rendezvous
 * sharding, failover and the memory of failed proxies
 *
 * One implementation for the daemon (fs/install.c) and artifactctl fetch.
 * Part of the pipeline half of fetch/ (fetch.h) by use, but it includes
 * neither libcurl nor FUSE: it only chooses, the transfer is download.c's.
 *
 * The grammar of proxy= (CernVM-FS's CVMFS_HTTP_PROXY):
 *
 *	list   = group *( ";" group )      groups, tried in order (failover)
 *	group  = member *( "|" member )    members share the load
 *	member = "DIRECT" | proxy-url      DIRECT: no proxy, straight to the origin
 *
 * A proxy-url is [scheme "://"] host [":" port] ["/"], the scheme one of
 * http (the default), https, socks4, socks4a, socks5, socks5h; the host a
 * name, an IPv4 address or a bracketed IPv6 address; blanks around a
 * member are ignored.  At most FETCH_PROXY_MAX members in all.
 *
 * Choosing (fetch_proxies_plan()): the groups from the active one on (the
 * first, or a later one after every member of the groups before it
 * failed), then the ones before it; within a group, with shard on, the
 * members in rendezvous (highest random weight) order of the artifact's
 * hash, so that every node of a site sends one artifact to the same proxy
 * without talking to the others, and removing a member only moves the
 * artifacts that member had; without shard, from a random member on.
 * Members that failed within their retry time come after all the others,
 * as a last resort.  A failed member is skipped for retry_after seconds
 * plus up to a quarter of that at random (jitter, so that the nodes of a
 * site do not come back at the same instant); after reset_after seconds
 * on a later group, the first group is the active one again.
 */
#ifndef ARTIFACTFS_FETCH_PROXY_H
#define ARTIFACTFS_FETCH_PROXY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FETCH_PROXY_MAX 64	      /* members in all groups together */
#define FETCH_PROXY_SPEC_MAX 4096     /* bytes of a proxy= value */
#define FETCH_PROXY_RETRY_AFTER 60.0  /* seconds a failed proxy is skipped (+ jitter) */
#define FETCH_PROXY_RESET_AFTER 300.0 /* seconds before the first group is tried again */

struct fetch_proxies;

/* How the chooser behaves; zero-initialised fields take the defaults. */
struct fetch_proxy_conf {
	bool shard;	    /* rendezvous hashing of the artifact hash within a group */
	double retry_after; /* seconds; <= 0: FETCH_PROXY_RETRY_AFTER */
	double reset_after; /* seconds; <= 0: FETCH_PROXY_RESET_AFTER */
	/*
	 * The clock in seconds (for tests); NULL: CLOCK_MONOTONIC.  Called
	 * with the chooser's lock held: it must not call back into it.
	 */
	double (*clock)(void *arg);
	void *clock_arg;
	bool no_jitter; /* tests: retry exactly after retry_after */
};

/*
 * fetch_proxies_parse - parse spec (the grammar above) into a chooser with
 * conf (copied; NULL: the defaults).  *ret receives it, freed with
 * fetch_proxies_free(); untouched on failure.  Errors: -EINVAL with
 * *errmsg (malloc'ed, caller frees; may be NULL) naming the bad part, e.g.
 * "empty member in group 2 of 'A|;B'", "bad proxy 'ftp://x' (member 1 of
 * group 1): unsupported scheme 'ftp'"; -ENOMEM.  errmsg may be NULL.
 * Thread-safe (no shared state).
 */
int fetch_proxies_parse(const char *spec, const struct fetch_proxy_conf *conf,
	struct fetch_proxies **ret, char **errmsg);

/* fetch_proxies_free - free p; NULL is a no-op.  No other call may be running on p. */
void fetch_proxies_free(struct fetch_proxies *p);

/* The order in which to try the members for one artifact. */
struct fetch_proxy_plan {
	size_t n;		      /* members, >= 1 */
	unsigned id[FETCH_PROXY_MAX]; /* member ids (0 .. fetch_proxies_count() - 1) */
};

/*
 * fetch_proxies_plan - every member of p, in the order to try them for
 * the artifact hash (any string; 40 hex digits in practice; NULL: "") at
 * this moment: see the top of this file.  Applies reset_after first.
 * Thread-safe.
 */
void fetch_proxies_plan(struct fetch_proxies *p, const char *hash, struct fetch_proxy_plan *plan);

/*
 * fetch_proxies_url - what to give libcurl as CURLOPT_PROXY for member id:
 * the proxy URL (with its scheme), or "" for DIRECT (which also keeps
 * libcurl from the environment's proxy).  Borrowed; valid while p lives.
 * fetch_proxies_name - the same for messages, "DIRECT" for DIRECT.
 * fetch_proxies_direct - whether member id is DIRECT.  Thread-safe.
 */
const char *fetch_proxies_url(const struct fetch_proxies *p, unsigned id);
const char *fetch_proxies_name(const struct fetch_proxies *p, unsigned id);
bool fetch_proxies_direct(const struct fetch_proxies *p, unsigned id);

/* fetch_proxies_count - the number of members in all groups.  Thread-safe. */
size_t fetch_proxies_count(const struct fetch_proxies *p);

/*
 * fetch_proxies_failed - member id failed as a proxy (refused, timed out,
 * answered 502/503/504): skip it for retry_after (+ jitter) from now, and
 * when no member of the active group is left, make the next group with a
 * healthy member the active one.  DIRECT is never marked (a failure there
 * is the origin's): only counted.  Returns the seconds it is now skipped
 * for (0 for DIRECT).  Thread-safe.
 */
double fetch_proxies_failed(struct fetch_proxies *p, unsigned id);

/*
 * fetch_proxies_ok - a transfer through member id succeeded: it is healthy
 * again (its failure forgotten) and counted.  Thread-safe.
 */
void fetch_proxies_ok(struct fetch_proxies *p, unsigned id);

/* What fetch_proxies_state() reports of one member. */
struct fetch_proxy_state {
	const char *name;   /* as fetch_proxies_name() */
	unsigned group;	    /* 1-based, in the order of the spec */
	bool failed;	    /* skipped until retry_in seconds from now */
	bool active;	    /* a member of the active group */
	double retry_in;    /* seconds, when failed */
	uint64_t failures;  /* proxy failures since the start */
	uint64_t successes; /* transfers that succeeded through it */
};

/*
 * fetch_proxies_state - the state of member id (< fetch_proxies_count())
 * at this moment into *st.  st->name is borrowed from p.  Thread-safe.
 */
void fetch_proxies_state(struct fetch_proxies *p, unsigned id, struct fetch_proxy_state *st);

/*
 * fetch_proxies_weight - the rendezvous weight of member name for the
 * artifact hash: the 64-bit FNV-1a of name, a NUL byte and hash, through
 * the splitmix64 finaliser.  The highest weight wins.  Exposed for the
 * tests' known answers.  Pure; thread-safe.
 */
uint64_t fetch_proxies_weight(const char *name, const char *hash);

#endif
