/*
 * install.c - the installer of the daemon's flights: the fetch pipeline,
 * with the sources the flight request carries and the daemon's settings
 *
 * install() runs on a flight worker (flight.c).  It never reads the name
 * table: what it needs comes with the request, so the data flows one way,
 * lookup -> flight -> install -> store.  After a successful install the
 * quota is enforced (evict.c).
 */
#include "fs/daemon.h"
#include "fetch/pkgserver.h"
#include "fetch/fetch.h"
#include "fetch/platform.h"
#include "fetch/proxy.h"
#include "store/store.h"

#include <errno.h>
#include <stdio.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static char *one_line(const char *msg);

static void log_fetch(void *arg, enum fetch_log_level level, const char *msg)
{
	char *line = one_line(msg);

	fs_log(level == FETCH_LOG_WARNING ? FS_LOG_WARNING : FS_LOG_INFO, "%s", line ? line : msg);
	free(line);
}

/*
 * one_line - the pipeline's message spans lines (Julia's layout, one source
 * per line); a log entry is one line, so join them with single spaces.
 */
static char *one_line(const char *msg)
{
	char *out = malloc(strlen(msg) + 1), *o = out;
	bool space = false;

	if (!out)
		return NULL;
	for (; *msg; msg++) {
		if (*msg == '\n' || *msg == ' ' || *msg == '\t') {
			space = o != out;
			continue;
		}
		if (space)
			*o++ = ' ';
		space = false;
		*o++ = *msg;
	}
	*o = '\0';
	return out;
}

/*
 * An install's progress goes to its flight (for the install_timeout and
 * slow_install_log messages and user.artifactfs.progress), to the
 * bytes_downloaded counter as it grows, and is kept for the install's log
 * line: now is the bytes of the current URL so far, so a new URL (or a
 * restart of one, now going back) starts from 0.
 */
struct progress {
	struct fs *fs;
	const char *hash;
	char url[1024];		/* the last URL reported, truncated; "" before any */
	uint64_t now;			/* its bytes so far */
};

static void on_progress(void *arg, const char *url, uint64_t now, uint64_t total)
{
	struct progress *p = arg;
	uint64_t before = 0;

	if (url && strncmp(p->url, url, sizeof(p->url) - 1) == 0 && now >= p->now)
		before = p->now;
	else if (url)
		snprintf(p->url, sizeof(p->url), "%s", url);
	if (now > before)
		fs_stats_add(&p->fs->stats, FS_STAT_DOWNLOADED, now - before);
	p->now = now;
	fs_flight_progress(p->fs->flights, p->hash, url, now, total);
}

static double seconds_since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t0->tv_sec) + (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

/*
 * log_outcome - the install's one log line: name, hash, URL, bytes,
 * seconds and rate when it downloaded, or the failure with every URL tried
 * and its cause (msg, one line).
 */
static void log_outcome(const char *name, const char *hash, const struct progress *p, double secs,
			int r, const char *msg)
{
	if (r < 0)
		fs_log(FS_LOG_ERR, "cannot install '%s' (%s) after %.2f s: %s", name, hash, secs,
		       msg && *msg ? msg : strerror(-r));
	else if (!*p->url)
		fs_log(FS_LOG_INFO, "installed '%s' (%s): found in the store after %.2f s", name,
		       hash, secs);
	else
		fs_log(FS_LOG_INFO, "installed '%s' (%s) from '%s': %" PRIu64 " bytes in %.2f s, "
		       "%.0f bytes/s", name, hash, p->url, p->now, secs,
		       secs > 0 ? (double)p->now / secs : (double)p->now);
}

/* count - count one finished install in fs->stats; a failure goes to the error ring too. */
static void count(struct fs *fs, const char *name, const char *hash, const char *url, int r,
		  const char *errmsg)
{
	char artifact[300];

	if (r == 0) {
		fs_stats_add(&fs->stats, FS_STAT_INSTALLS, 1);
		return;
	}
	fs_stats_add(&fs->stats, FS_STAT_FAILURES, 1);
	if (name && strcmp(name, hash) != 0)
		snprintf(artifact, sizeof(artifact), "%s (%s)", name, hash);
	else
		snprintf(artifact, sizeof(artifact), "%s", hash);
	fs_stats_error(&fs->stats, artifact, url, errmsg ? errmsg : strerror(-r),
		       (int64_t)time(NULL));
}

/*
 * install - the flight's install of hash, from what the flight request
 * carries (ir: the accessed name, its file, the union of the sources of
 * every name bound to the hash; fs_names_request()).  The name table is
 * never read here: the data flows lookup -> flight -> install -> store.
 */
static int install(void *ctx, const char *hash, const struct fs_install_req *ir, char **errmsg)
{
	struct fs_install *in = ctx;
	struct fs *fs = in->fs;
	struct progress prog = { .fs = fs, .hash = hash };
	struct timespec t0;
	struct fetch_options o = in->opts;
	struct fetch_request req;
	struct fetch *f = NULL;
	int r;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	memset(&req, 0, sizeof(req));
	req.hash = hash;
	req.name = ir && ir->name ? ir->name : hash;
	req.toml_path = ir && ir->toml ? ir->toml : NULL;
	if (!ir || !ir->name) {
		/*
		 * Reached by its hash (a cached entry, or installed before) after
		 * a reload removed every name bound to it: say so, rather than
		 * "no download section in '(unknown file)'".
		 */
		if (!in->opts.pkg_server || !*in->opts.pkg_server) {
			if (asprintf(errmsg, "no configured Artifacts.toml names it any more "
				     "(a reload removed its names) and no pkg_server is set") < 0)
				*errmsg = NULL;
			r = -ENOMEDIUM;
			goto out;
		}
		req.toml_path = fs->probes ? "(no configured Artifacts.toml: any_hash)" :
					     "(no configured Artifacts.toml names it any more)";
	}
	if (ir) {
		/* The name table's own entries: one source type from the file to curl. */
		req.sources = ir->sources;
		req.nsources = ir->n_sources;
	}
	o.progress = on_progress;
	o.progress_arg = &prog;	/* outlives f, freed below */
	r = fetch_new(fs->store, &o, &f);
	if (r < 0)
		goto out;
	fs_log(FS_LOG_INFO, "installing '%s' (%s) from %zu sources%s", req.name, hash,
	       req.nsources, in->opts.pkg_server && *in->opts.pkg_server ?
	       " after the Pkg server" : "");
	r = fetch_install(f, &req, NULL);
	if (r < 0)
		*errmsg = one_line(fetch_errmsg(f));
	if (r == -EFBIG)
		fs_log(FS_LOG_ERR, "'%s' (%s) is larger than the whole quota of %" PRIu64
		       " bytes: refused", req.name, hash, fs->cfg->quota);
out:
	log_outcome(req.name ? req.name : hash, hash, &prog, seconds_since(&t0), r,
		    r < 0 ? *errmsg : NULL);
	fetch_free(f);
	/*
	 * The last URL tried: the one that last made progress, else (nothing
	 * came, e.g. a 404) the last source, which a failure has tried.
	 */
	if (!prog.url[0] && ir && ir->n_sources)
		snprintf(prog.url, sizeof(prog.url), "%s", ir->sources[ir->n_sources - 1].url);
	count(fs, req.name, hash, prog.url[0] ? prog.url : NULL, r, *errmsg);
	if (r == 0) {
		fs_syncer_note(fs->install.syncer);
		fs_evict_quota(fs, hash);
		fs_evict_listing_changed(fs);	/* the root lists it now */
	}
	if (r == 0 && fs->on_installed)
		fs->on_installed(fs, hash);
	return r;
}

/* keep_seek_index=: a copy of a tarball just installed, for the keeper */
static void keep_tarball(void *arg, const char *hash, int fd)
{
	fs_keeper_add(arg, hash, fd);
}

/* The question of any_hash=: does the Pkg server have hash?  (fs_probe()) */
static int ask_pkg_server(void *ctx, const char *hash, char **errmsg)
{
	struct fs_install *in = ctx;

	return fetch_pkgserver_head(&in->opts, hash, errmsg);
}

const char *fs_install_pkg_server(const struct fs_config *c)
{
	const char *env = getenv("JULIA_PKG_SERVER");

	if (c->pkg_server)
		return c->pkg_server;
	return env && *env ? env : NULL;
}

int fs_install_init(struct fs *fs, struct fs_installer *ret)
{
	struct fs_prober prober;
	struct fs_install *in = &fs->install;
	const struct fs_config *c = fs->cfg;
	int r;

	r = fetch_global_init();
	if (r < 0)
		return r;
	in->fs = fs;
	fetch_options_init(&in->opts);
	in->opts.ca_file = c->ca_file;
	in->opts.connect_timeout = (long)(c->connect_timeout + 0.999);
	in->opts.low_speed_limit =
		c->low_speed_limit > LONG_MAX ? LONG_MAX : (long)c->low_speed_limit;
	in->opts.low_speed_time = (long)(c->low_speed_time + 0.999);
	in->opts.timeout = (long)(c->timeout + 0.999);
	in->opts.pkg_server = fs_install_pkg_server(c);
	if (c->proxy) {
		struct fetch_proxy_conf pc = {
			.shard = c->proxy_shard,
			.retry_after = c->proxy_retry_after,
			.reset_after = c->proxy_reset_after,
		};

		/* proxy= was checked when it was set: only -ENOMEM is left */
		r = fetch_proxies_parse(c->proxy, &pc, &in->proxies, NULL);
		if (r < 0)
			return r;
		in->opts.proxies = in->proxies;
	}
	if (c->ignore_hashes)
		in->opts.flags |= FETCH_IGNORE_HASHES;
	/* An artifact larger than the whole quota could never stay: refuse it. */
	in->opts.max_bytes = c->quota;
	in->opts.max_unpacked = c->max_unpacked;
	in->opts.log = log_fetch;
	if (platform_triplet(fs->host, &in->triplet) == 0)
		in->opts.host_triplet = in->triplet;
	if (c->keep_seek_index) {
		r = fs_keeper_new(fs->store, &in->keeper);
		if (r < 0)
			return r;
		in->opts.keep_tarball = keep_tarball;
		in->opts.keep_arg = in->keeper;
	}
	if (!c->sync_commit) {
		r = fs_syncer_new(fs->store, c->sync_after, &in->syncer);
		if (r < 0)
			return r;
	}
	ret->install = install;
	ret->ctx = in;
	if (c->any_hash && in->opts.pkg_server) {
		prober.ask = ask_pkg_server;
		prober.ctx = in;
		r = fs_probes_new(c->negative_timeout, &prober, &fs->probes);
		if (r < 0)
			return r;
	}
	return 0;
}

void fs_install_release(struct fs *fs)
{
	free(fs->install.triplet);
	fs->install.triplet = NULL;
	fs_probes_free(fs->probes);
	fs->probes = NULL;
	fetch_proxies_free(fs->install.proxies);
	fs->install.proxies = NULL;
	fs_keeper_free(fs->install.keeper); /* after the flights: no install runs */
	fs->install.keeper = NULL;
	fs_syncer_free(fs->install.syncer); /* the last sync, after the last install */
	fs->install.syncer = NULL;
}
