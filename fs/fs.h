/*
 * fs.h - internal declarations of the artifactfs daemon (FUSE-free)
 *
 * Like squashfuse's fs.h, this header never includes FUSE: the option
 * structure (config.c), logging (log.c), the name table (names.c) and the
 * install flights (flight.c) are plain C, never include daemon.h or
 * <fuse_lowlevel.h>, and are unit-tested without a mount (tests/unit/
 * test-fs.c, test-names.c).  The files that serve the mount include
 * daemon.h, the one header of fs/ that includes FUSE; they call into these
 * four, never the reverse.
 */
#ifndef ARTIFACTFS_FS_H
#define ARTIFACTFS_FS_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct store;
struct platform;
struct fetch_source;

/* --- configuration (-o options and the config file, artifactfs.toml(5)) ---- */

struct fs_config {
	char *store_dir;		/* store=DIR; default /var/cache/artifactfs */
	char **tomls;			/* toml=FILE, repeatable, in order */
	size_t n_tomls;
	char *config_file;		/* config=FILE */
	char *platform;			/* platform=TRIPLET; NULL = detect the host */
	char **tags;			/* tag=KEY=VALUE, repeatable */
	size_t n_tags;
	char *pkg_server;		/* pkg_server=URL; NULL = none */
	char *proxy;			/* proxy=LIST (fetch/proxy.h); NULL = the environment's */
	bool proxy_shard;		/* proxy_shard: rendezvous hashing within a group */
	double proxy_retry_after;	/* proxy_retry_after=SECONDS a failed proxy is skipped */
	double proxy_reset_after;	/* proxy_reset_after=SECONDS on a later group */
	unsigned jobs;			/* jobs=N: concurrent installs (default 4) */
	double connect_timeout;		/* connect_timeout=SECONDS, > 0 (default 30) */
	uint64_t low_speed_limit;	/* low_speed_limit=BYTES per second (default 1K) */
	double low_speed_time;		/* low_speed_time=SECONDS (default 10); 0 = never abort */
	double timeout;			/* timeout=SECONDS for one attempt; 0 = from the size */
	double install_timeout;		/* install_timeout=SECONDS a request waits (default 600) */
	double retry_after;		/* retry_after=SECONDS: how long a failure is remembered */
	double name_timeout;		/* name_timeout=SECONDS: kernel cache of names (default 1) */
	bool offline;			/* offline: serve only what is installed */
	bool ignore_hashes;		/* ignore_hashes: install despite a tree hash mismatch */
	bool overmount;			/* overmount: mount over another mount */
	char *ca_file;			/* ca_file=FILE */
	uint64_t quota;			/* quota=SIZE in bytes; 0 = none */
	unsigned quota_low;		/* quota_low=PERCENT: evict down to this share (default 75) */
	uint64_t max_unpacked;		/* max_unpacked=SIZE: bytes an install writes; 0: built-in */
	char *control_group;		/* control_group=GROUP: status and metrics for it too */
	unsigned log_level;		/* log_level=: an enum fs_log_level (default FS_LOG_INFO) */
	double slow_install_log;	/* slow_install_log=SECONDS a request waits before a
					 * log line says so (default 10); 0 = never */	bool depot_layout;		/* depot_layout: an artifacts/ directory at the root */
	bool any_hash;			/* any_hash: ask the Pkg server for unknown hashes */
	bool no_open;			/* no_open: zero-message opens where the kernel has them
					 * (default true) */
	bool sync_commit;		/* sync_commit: an install waits for the disk
					 * before it is served (else syncer.c) */
	double sync_after;		/* sync_after: seconds from an install to its sync */
	bool keep_seek_index;		/* keep_seek_index: make and keep the seek index
					 * of each gzip tarball installed (keepidx.c) */
	bool xattr;			/* xattr: the user.artifactfs.* attributes (default
					 * true); false answers ENOSYS to every xattr request */
	double negative_timeout;	/* negative_timeout=SECONDS an absent answer is kept (60) */
	char *overrides;		/* overrides=FILE: a Julia Overrides.toml */
	bool per_file;			/* per_file: serve single files of artifacts that are not
					 * installed through a seek index (default false) */
	bool seek_index_probe;		/* seek_index=probe: look for <url>.seekidx when no
					 * seek_index key names an index; off (default): only the key */
	uint64_t full_install_bytes;	/* full_install_after=SIZE fetched per file; 0: never */
	uint64_t full_install_files;	/* full_install_after=Nfiles fetched per file; 0: never */
};

/* Defaults of the settings whose value the daemon chooses. */
#define FS_INSTALL_TIMEOUT 600.0	/* seconds */
#define FS_SLOW_INSTALL_LOG 10.0	/* seconds */
#define FS_NEGATIVE_TIMEOUT 60.0	/* seconds */
#define FS_SYNC_AFTER 30.0		/* seconds: about the kernel's dirty_expire */

/*
 * fs_config_init - defaults; fs_config_release - free what it owns.
 * fs_config_add_toml/add_tag append a copy of the string (-ENOMEM).
 */
void fs_config_init(struct fs_config *c);
void fs_config_release(struct fs_config *c);
int fs_config_add_toml(struct fs_config *c, const char *path);
int fs_config_add_tag(struct fs_config *c, const char *kv);

/* fs_config_store - the store directory in effect (borrowed). */
const char *fs_config_store(const struct fs_config *c);

/*
 * fs_config_set - apply one KEY=VALUE (or a bare KEY for a boolean, which
 * sets it) setting, as given with -o or read from the config file.  Each
 * setting has one type (artifactfs.toml(5)); a boolean's value is one of
 * true/false, yes/no, on/off, 1/0.  Returns 1 when the key is ours, 0 when
 * it is not (a FUSE option), or -EINVAL with *errmsg describing what the
 * key needs ("needs an integer from 1 to 256"); the caller adds the key and
 * the value seen.  *errmsg is static or thread-local text, valid until the
 * thread's next call.  Not thread-safe on one c.
 */
int fs_config_set(struct fs_config *c, const char *key, const char *value, const char **errmsg);

/*
 * fs_config_diff - call fn(arg, key) for every setting whose value differs
 * between a and b, in the order of artifactfs.toml(5) (config= itself is
 * not compared).  Not thread-safe on a or b.
 */
void fs_config_diff(const struct fs_config *a, const struct fs_config *b,
		    void (*fn)(void *arg, const char *key), void *arg);

/* fs_config_known - whether key is a setting of artifactfs (not FUSE's). */
bool fs_config_known(const char *key);

/*
 * fs_config_load_file - read a config file (TOML; artifactfs.toml(5)) into c.
 * Settings already made on the command line win: the file is read first and
 * -o options are applied after it.  A value of the wrong TOML type (jobs =
 * "8", offline = "yes") is an error like a bad value.  Returns 0, or -errno
 * with *errmsg a malloc'ed message naming the file, the line, the key, what
 * it needs and the value seen ("<file>:3: 'jobs' needs an integer from 1 to
 * 256, not the string \"8\"").
 */
int fs_config_load_file(struct fs_config *c, const char *path, char **errmsg);

/* --- logging ----------------------------------------------------------------- */

enum fs_log_level { FS_LOG_ERR, FS_LOG_WARNING, FS_LOG_NOTICE, FS_LOG_INFO, FS_LOG_DEBUG };

/*
 * fs_log_open - choose the sink: stderr (foreground) or syslog(3) with ident
 * "artifactfs" (daemonised).  debug enables FS_LOG_DEBUG (-d).
 */
void fs_log_open(bool to_stderr, bool debug);

/*
 * fs_log_set_level - log only lines of level max or more important
 * (log_level=; FS_LOG_INFO, the default, includes FS_LOG_NOTICE).  Call
 * before threads log.
 */
void fs_log_set_level(enum fs_log_level max);

/* fs_log - one line; thread-safe. */
void fs_log(enum fs_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* --- the name table ------------------------------------------------------------ */

/*
 * What a name resolves to on this host: one binding of a name to a hash,
 * made by one Artifacts.toml.
 */
struct fs_name {
	char *name;
	char hash[41];
	char *toml;			/* the Artifacts.toml that defined it */
	bool lazy;
	/*
	 * Download entries in file order, as the fetch pipeline takes them
	 * (fetch/fetch.h: url, sha256, size); url and sha256 are owned
	 * (malloc'ed) by the name table.
	 */
	struct fetch_source *sources;
	size_t n_sources;
	size_t order;			/* configuration order: files, then names in a file */
	/*
	 * The seek index URL of each source (the download entry's seek_index
	 * key; NULL when it has none): n_sources entries, owned; NULL when no
	 * source has one.
	 */
	char **seek_index;
};

/*
 * An immutable snapshot of the names of all configured Artifacts.toml files,
 * with the host platform already selected.  Shared by reference count; a
 * reload builds a new one and swaps it in, so lookups never wait for a reload.
 *
 * Besides the names it lists, a snapshot keeps the bindings that are not
 * listed because an earlier file defines the same name: their sources
 * still serve their hash (fs_names_request()).
 */
struct fs_names;

/*
 * fs_name_refusal - why name (len bytes; may hold NUL) cannot be a name of
 * the mount, or NULL when it can.  Refused: what cannot be a file name
 * (empty, ".", "..", a '/' or NUL byte, more than 255 bytes) and what could
 * be taken for a hash entry (40 hex digits, either case), so that a name
 * never shadows an artifact's <hash> entry.  Returns a static string.
 */
const char *fs_name_refusal(const char *name, size_t len);

/*
 * fs_names_build - load every file of cfg->tomls in order, select each name
 * for host, first definition wins (later conflicting definitions are logged).
 * A name fs_name_refusal() refuses is logged with its file and left out; the
 * other names of the file are served.  So is a name "artifacts" when
 * cfg->depot_layout is on: the depot's directory wins.
 * strict: a malformed file is an error (-EINVAL, *errmsg names the file and
 * cause; malloc'ed); otherwise it is logged and skipped (reload keeps going).
 */
int fs_names_build(const struct fs_config *cfg, const struct platform *host, bool strict,
		   struct fs_names **ret, char **errmsg);
void fs_names_ref(struct fs_names *n);
void fs_names_unref(struct fs_names *n);

/* fs_names_find - the entry of name, or NULL.  Borrowed while n is referenced. */
const struct fs_name *fs_names_find(const struct fs_names *n, const char *name);

/*
 * fs_names_find_hash - an entry whose hash is hash, or NULL: a listed one
 * when there is one, else an unlisted binding (a name an earlier file
 * defines otherwise).  Borrowed while n is referenced.
 */
const struct fs_name *fs_names_find_hash(const struct fs_names *n, const char *hash);

/*
 * What one install needs, built from the names when the flight starts
 * (lookup -> flight -> install -> store): the install never reads the
 * name table itself.  Everything is owned by the request.
 */
struct fs_install_req {
	char *name;			/* the name accessed; NULL: no name bound to it */
	char *toml;			/* the Artifacts.toml of that name; NULL with name */
	struct fetch_source *sources;	/* the union, in the order of fs_names_request();
					 * url and sha256 owned */
	size_t n_sources;
};

/*
 * fs_names_request - the install request of hash: the sources of every
 * binding of every configured file to hash, listed or not; first those of
 * the binding of via (the name through which the hash was reached; may be
 * NULL or a name bound elsewhere, then the first binding in configuration
 * order is taken), then those of the other bindings in configuration order
 * (files in toml= order, names in file order), each URL once.  With no
 * binding, name and toml are NULL and there are no sources.  The Pkg
 * server, when configured, is tried before all of them by the fetch
 * pipeline.  *ret is freed with fs_install_req_free().
 * Returns 0 or -ENOMEM (*ret untouched).  n may be NULL.
 */
int fs_names_request(const struct fs_names *n, const char *hash, const char *via,
		     struct fs_install_req **ret);

/* fs_install_req_free - free r and what it owns; NULL is a no-op. */
void fs_install_req_free(struct fs_install_req *r);

/* fs_sources_free - free the n sources of v, their strings, and v (NULL: no-op). */
void fs_sources_free(struct fetch_source *v, size_t n);

/* fs_names_count / fs_names_at - the names in sorted order. */
size_t fs_names_count(const struct fs_names *n);
const struct fs_name *fs_names_at(const struct fs_names *n, size_t i);

/* --- install flights (single flight inside the daemon) -------------------------- */

/*
 * How one hash gets installed: the fetch pipeline in the daemon, a stub in
 * the unit tests.  install() runs on a worker thread, may take minutes, and
 * returns 0 or -errno with *errmsg (malloc'ed) saying why.  req is the
 * request the flight was started with (borrowed for the call; may be NULL
 * when the waiter gave none).
 */
struct fs_installer {
	int (*install)(void *ctx, const char *hash, const struct fs_install_req *req,
		       char **errmsg);
	void *ctx;
};

struct fs_flights;

/*
 * fs_flights_new - start jobs worker threads and a timer thread.  A failed
 * install is remembered for retry_after seconds: requests in that window
 * fail at once instead of hammering a dead mirror.  The installer logs the
 * outcome of each install; the flight keeps a failure's message
 * (fs_flight_error()).  No waiter waits longer
 * than install_timeout seconds (> 0): then its done() gets -EIO and the log
 * says how far the install got; the install goes on.
 * Returns 0 or -ENOMEM/-EAGAIN.
 */
int fs_flights_new(unsigned jobs, double retry_after, double install_timeout,
		   const struct fs_installer *inst, struct fs_flights **ret);

/*
 * fs_flights_free - stop accepting work, let running installs end (the
 * pipeline rolls back what it cannot finish), call every waiter's done()
 * with -EINTR, join the threads and free.  NULL is a no-op.
 */
void fs_flights_free(struct fs_flights *f);

/*
 * fs_flight_wait - ask for hash to be installed and have done(arg, err)
 * called once when it is (err 0), when the install failed, or when the
 * waiter has waited install_timeout seconds (-EIO) - unless the waiter is
 * cancelled first.  Every waiter of one hash shares one install (single
 * flight); done() runs on a worker or the timer thread and must not block
 * for long.  done() gets -EFBIG when the artifact is larger than the quota,
 * -EIO for every other failure.
 * @key: identifies the waiter for fs_flight_cancel() (a FUSE request);
 *   distinct among waiting waiters; NULL: cannot be cancelled.
 * Returns 0 when the waiter was queued (done will be called), or the
 * failure's error (-EIO, -EFBIG) without queueing when hash failed within
 * retry_after seconds, -EINTR when stopping, or -ENOMEM.  Thread-safe.
 */
int fs_flight_wait(struct fs_flights *f, const char *hash, const void *key,
		   void (*done)(void *arg, int err), void *arg);

/*
 * fs_flight_cancel - take the waiter with key out of its flight.  Returns 1
 * with *ret_arg (may be NULL) its arg when it was still waiting: its done()
 * will not be called, the caller answers it.  Returns 0 when there is no
 * such waiter (its done() has run or is running).  The install goes on.
 * Thread-safe; may be called from any thread, not from inside done().
 */
int fs_flight_cancel(struct fs_flights *f, const void *key, void **ret_arg);

/*
 * fs_flight_progress - record the progress of hash's running install (a
 * fetch_progress_fn's arguments: url borrowed, bytes so far, total or 0),
 * for the message of an install_timeout.  Thread-safe.
 */
void fs_flight_progress(struct fs_flights *f, const char *hash, const char *url, uint64_t now,
			uint64_t total);

/*
 * fs_flight_wait_req - fs_flight_wait() with what the install needs: req
 * (may be NULL), which the call always takes over.  The request of the
 * waiter that starts a flight (or starts it again after the retry_after
 * window, or joins a flight that has none and has not begun) is the one
 * install() gets; the others' are freed.  Thread-safe.
 */
int fs_flight_wait_req(struct fs_flights *f, const char *hash, const void *key,
		       struct fs_install_req *req, void (*done)(void *arg, int err), void *arg);

/*
 * fs_flights_set_clock - for tests: read the time (seconds, any origin,
 * never going back) from now(arg) instead of CLOCK_MONOTONIC, for the
 * retry_after window, the install_timeout deadlines and the progress
 * message.  The timer thread then checks the deadlines only when a waiter
 * is added or fs_flights_tick() is called, so a test moves its clock and
 * ticks instead of sleeping.  Call before the first wait.  Thread-safe.
 */
void fs_flights_set_clock(struct fs_flights *f, double (*now)(void *arg), void *arg);

/* fs_flights_tick - the clock of fs_flights_set_clock() moved: check the deadlines now. */
void fs_flights_tick(struct fs_flights *f);

/*
 * fs_flights_set_slow_log - log a warning naming the artifact and its
 * install's progress for the waiters that have waited more than seconds
 * (once per waiter; the waiters of one flight that pass the mark together
 * share one line); 0 (the default) never.  Thread-safe.
 */
void fs_flights_set_slow_log(struct fs_flights *f, double seconds);

/*
 * fs_flight_get_progress - the progress of hash's running install: 1 with
 * *bytes received so far and *total (0 when unknown; both 0 before the
 * download began), or 0 when no install of hash runs (queued, failed,
 * done).  Thread-safe.
 */
int fs_flight_get_progress(struct fs_flights *f, const char *hash, uint64_t *bytes,
			   uint64_t *total);

/*
 * fs_flight_error - the message of hash's last failed install (one line:
 * every URL tried and its cause), kept until an install of hash succeeds;
 * NULL when there is none (or ENOMEM).  malloc'ed, the caller frees.
 * Thread-safe.
 */
char *fs_flight_error(struct fs_flights *f, const char *hash);

/* fs_flights_inflight - the installs queued or running now.  Thread-safe. */
unsigned fs_flights_inflight(struct fs_flights *f);

/* fs_flight_state - "pending" while an install of hash runs, "failed" in the
 * retry_after window after a failure, NULL otherwise (static strings). */
const char *fs_flight_state(struct fs_flights *f, const char *hash);

/* --- counters since start (stats.c) ---------------------------------------------- */

/*
 * What the daemon counts, each a lock-free atomic that only grows.
 * What counts (doc/internals/fs.md "Counters"):
 *   LOOKUPS      every lookup request of the kernel
 *   HITS         a request into an artifact (a lookup inside its tree,
 *                opendir, open) that found it installed
 *   MISSES       such a request that had to wait for an install (parked)
 *   INSTALLS     installs that succeeded
 *   FAILURES     installs that failed
 *   DOWNLOADED   bytes received from servers (every attempt, also failed ones)
 *   SERVED       bytes of file data sent to the kernel (read replies)
 *   EVICTIONS    artifacts removed from the store by the quota, evict or wipe
 *   OPENS        open requests of files (none in no-open mode once the
 *                kernel was told so: the first open answers ENOSYS)
 *   PF_FETCHES   single files fetched through a seek index (per_file=on)
 *   PF_BYTES     compressed bytes those fetches received (also in DOWNLOADED)
 *   INDEX_FETCHES seek indexes fetched from a server (not from the store)
 *   PF_FALLBACKS artifacts whose per-file access failed (a wrong index or
 *                blob, a server without Range...) and that are installed whole
 *   OPENDIRS     opendir requests (none in no-open mode once the kernel was
 *                told so: the first answers ENOSYS)
 * A request that runs again after its install (a resumed lookup, opendir,
 * open) is not counted a second time.
 */
enum fs_stat {
	FS_STAT_LOOKUPS,
	FS_STAT_HITS,
	FS_STAT_MISSES,
	FS_STAT_INSTALLS,
	FS_STAT_FAILURES,
	FS_STAT_DOWNLOADED,
	FS_STAT_SERVED,
	FS_STAT_EVICTIONS,
	FS_STAT_OPENS,
	FS_STAT_PF_FETCHES,
	FS_STAT_PF_BYTES,
	FS_STAT_INDEX_FETCHES,
	FS_STAT_PF_FALLBACKS,
	FS_STAT_OPENDIRS,
	FS_STAT_N
};

/* How many failures fs_stats keeps: the last ones, the oldest is dropped. */
#define FS_STATS_ERRORS 8

/* One failed install, as fs_stats_errors() copies it out (truncated strings). */
struct fs_stats_error {
	char artifact[300];		/* "name (hash)" or the hash */
	char url[512];			/* the last URL tried, or "" */
	char cause[512];		/* why, one line */
	int64_t when;			/* seconds since the epoch */
};

struct fs_stats {
	_Atomic uint64_t count[FS_STAT_N];
	pthread_mutex_t err_lock;	/* guards err, n_err, next_err */
	struct fs_stats_error err[FS_STATS_ERRORS];
	unsigned n_err;			/* kept, at most FS_STATS_ERRORS */
	unsigned next_err;		/* the slot the next error takes */
	uint64_t total_err;		/* errors ever recorded */
};

/*
 * fs_stats_init - every counter 0, no errors; fs_stats_release - free what
 * init made (the mutex).  Not thread-safe: call before and after the
 * threads that count.
 */
void fs_stats_init(struct fs_stats *s);
void fs_stats_release(struct fs_stats *s);

/* fs_stats_add - add n to counter which (< FS_STAT_N).  Lock-free; thread-safe. */
void fs_stats_add(struct fs_stats *s, enum fs_stat which, uint64_t n);

/* fs_stats_get - the value of counter which.  Lock-free; thread-safe. */
uint64_t fs_stats_get(struct fs_stats *s, enum fs_stat which);

/*
 * fs_stats_name - the stable lower-case key of counter which, as the
 * control socket's JSON and artifactctl show it ("lookups", "hits",
 * "misses", "installs", "failures", "bytes_downloaded", "bytes_served",
 * "evictions", "opens", "perfile_fetches", "perfile_bytes", "index_fetches",
 * "perfile_fallbacks", "opendirs"); NULL when which is out of range.  Static string.
 */
const char *fs_stats_name(enum fs_stat which);

/*
 * fs_stats_error - remember one failed install: artifact (its name and
 * hash as shown, may be NULL), url (the last URL tried, may be NULL), cause
 * (may be NULL; only its first line is kept) and when (seconds since the
 * epoch).  The strings are copied, truncated to the fields of struct
 * fs_stats_error.  Does not count FS_STAT_FAILURES.  Thread-safe (a mutex).
 */
void fs_stats_error(struct fs_stats *s, const char *artifact, const char *url,
		    const char *cause, int64_t when);

/*
 * fs_stats_errors - copy up to max of the kept errors into out, newest
 * first.  Returns how many were copied.  Thread-safe (a mutex).
 */
size_t fs_stats_errors(struct fs_stats *s, struct fs_stats_error *out, size_t max);

/* One install in flight, as fs_flights_foreach() shows it. */
struct fs_flight_info {
	char hash[41];
	bool running;			/* false: queued for a worker */
	char name[256];			/* the name it installs for, or "" (running only) */
	char url[512];			/* the URL downloading now, or "" (truncated) */
	uint64_t bytes;			/* bytes of that URL so far */
	uint64_t total;			/* its size, or 0 when unknown */
	double age;			/* seconds since the install began (running only) */
};

/*
 * fs_flights_foreach - call fn(info, arg) for every install queued or
 * running, from a copy taken under the flights' lock (fn runs outside it,
 * may block, and must not keep info).  A non-zero return of fn stops the
 * walk and is returned.  Returns 0, fn's value, or -ENOMEM (then fn saw
 * only the flights copied).  Thread-safe.
 */
int fs_flights_foreach(struct fs_flights *f, int (*fn)(const struct fs_flight_info *, void *),
		       void *arg);

/* --- answers of the Pkg server for any hash (probe.c) ---------------------------- */

/*
 * Whether the Pkg server has an artifact no configured Artifacts.toml names
 * (any_hash=): one question per hash at a time (single flight), answers
 * cached.  ask() runs on the thread of the first caller, may take seconds,
 * and returns 1 (the server has it), 0 (it has not), or -errno with
 * *errmsg (malloc'ed, may be NULL) when no answer came.
 */
struct fs_prober {
	int (*ask)(void *ctx, const char *hash, char **errmsg);
	void *ctx;
};

struct fs_probes;

/* How many answers the cache keeps; past it, the expired, then all, are dropped. */
#define FS_PROBES_MAX 65536

/*
 * fs_probes_new - an empty cache.  A "yes" is kept for good (an artifact
 * does not change), a "no" and a failure (logged as a warning) for
 * negative_timeout seconds (>= 0).  Returns 0 or -ENOMEM.
 * fs_probes_free - free it (NULL: no-op); no call may be running.
 */
int fs_probes_new(double negative_timeout, const struct fs_prober *prober,
		  struct fs_probes **ret);
void fs_probes_free(struct fs_probes *p);

/*
 * fs_probe - whether the Pkg server has hash (40 lowercase hex digits):
 * true or false from the cache, or asks once: the callers of one hash that
 * come while it is asked wait for that answer (on a condition variable of
 * the cache, which no other hash waits for; ask() runs with no lock held).
 * A failure counts as false.  Thread-safe.
 */
bool fs_probe(struct fs_probes *p, const char *hash);

/* fs_probes_asked - how many times ask() was called (for tests).  Thread-safe. */
uint64_t fs_probes_asked(struct fs_probes *p);

/*
 * fs_probes_set_clock - for tests: read the time (seconds, never going
 * back) from now(arg) instead of CLOCK_MONOTONIC.  Call before the first
 * fs_probe().
 */
void fs_probes_set_clock(struct fs_probes *p, double (*now)(void *arg), void *arg);

/* --- per-file access through a seek index (perfile.c) ---------------------------- */

struct seekidx;
struct seekidx_file;

/*
 * Where the per-file state gets what it needs: the daemon's network and
 * store (view.c), a stub in the unit tests.  Each runs on the caller's
 * thread with no lock of perfile.c held, and may take seconds.
 *
 * index(): the verified seek index of artifact hash and the URLs to read
 *   it with: *tar_url (the tarball) and *idx_url (the index), malloc'ed;
 *   *ret owned by the caller (free_index()).  Returns 0, 1 when hash has
 *   no seek index configured (nothing logged, asked again next time), or
 *   -errno with *errmsg (malloc'ed, may be NULL) when the index could not
 *   be had verified (404, Range not honoured, a wrong tree...).
 * fetch(): make blob f of x present in the store's partial area and open
 *   it (fetch_partial_file()): 0 with *fd (owned by the caller) and
 *   *fetched, the compressed bytes received; or -errno with *errmsg.
 * install(): start the whole install of hash in the background.
 * free_index(): free an index index() made.
 */
struct fs_perfile_src {
	int (*index)(void *ctx, const char *hash, struct seekidx **ret, char **tar_url,
		     char **idx_url, char **errmsg);
	int (*fetch)(void *ctx, const char *hash, const char *tar_url, const char *idx_url,
		     const struct seekidx *x, const struct seekidx_file *f, bool executable,
		     int *fd, uint64_t *fetched, char **errmsg);
	void (*install)(void *ctx, const char *hash);
	void (*free_index)(struct seekidx *x);
	void *ctx;
};

struct fs_perfile;

/*
 * fs_perfile_new - the per-file state of the mount (per_file=on): the
 * index of each artifact, got once, and the fetches of single files, one
 * at a time per blob.  src is copied.  full_bytes / full_files (0: never)
 * are full_install_after=: once an artifact's per-file fetches pass either,
 * install() is called for it once.  stats (may be NULL) gets the
 * PF_FETCHES, PF_BYTES and PF_FALLBACKS counts.  Returns 0 or -ENOMEM.
 * fs_perfile_free - free it and every index (NULL: no-op); no call may be
 * running, and nothing may use an index it returned any more.
 */
int fs_perfile_new(const struct fs_perfile_src *src, uint64_t full_bytes, uint64_t full_files,
		   struct fs_stats *stats, struct fs_perfile **ret);
void fs_perfile_free(struct fs_perfile *p);

/*
 * fs_perfile_index - the verified index of hash.  With get, it is got
 * once (index(); the callers of one hash that come meanwhile wait for that
 * answer), and NULL is returned when hash has none, when getting it failed
 * (logged once; the caller installs the artifact whole) or when the
 * artifact fell back (fs_perfile_open()).  Without get, the index got
 * before, if any, even after a fall back (what the kernel's inodes of the
 * view still need), and nothing is fetched.  Borrowed until
 * fs_perfile_free(): an index, once got, stays.  Thread-safe.
 */
const struct seekidx *fs_perfile_index(struct fs_perfile *p, const char *hash, bool get);

/*
 * fs_perfile_open - a read-only descriptor (*fd, owned by the caller) of
 * file f of hash's index (got before with fs_perfile_index()), fetching it
 * when it is not in the partial area: one fetch per blob at a time, the
 * others wait for it and get their own descriptor of its result.  Counts
 * the bytes and files fetched against full_install_after.  Any failure of
 * a fetch (a blob whose bytes do not hash to its id, a span cut short, a
 * server without Range...) is logged, makes the artifact fall back
 * (install() once; fs_perfile_index(get) then answers NULL) and returns
 * -EIO.  -ENOENT when hash has no index here.  Thread-safe.
 */
int fs_perfile_open(struct fs_perfile *p, const char *hash, const struct seekidx_file *f,
		    bool executable, int *fd);

/* fs_perfile_fallen - whether hash fell back to the whole install.  Thread-safe. */
bool fs_perfile_fallen(struct fs_perfile *p, const char *hash);

/* fs_perfile_waiting - threads waiting for another's fetch now (for tests).  Thread-safe. */
unsigned fs_perfile_waiting(struct fs_perfile *p);

/* --- helpers ------------------------------------------------------------------ */

/* fs_is_hash - true when s is exactly 40 lowercase hex digits. */
bool fs_is_hash(const char *s);


/* --- the index keeper (keepidx.c, keep_seek_index=on) ------------------------ */

struct store;
struct fs_keeper;

/*
 * fs_keeper_new - start the keeper of store s: one thread, at nice 10, that
 * makes the seek index of each tarball copy handed to fs_keeper_add() with
 * fetch_seekidx_keep() (fetch.h) and keeps it in s, one at a time, in
 * order.  s is borrowed and must outlive the keeper.  Returns 0, -ENOMEM,
 * or pthread_create()'s -errno.
 */
int fs_keeper_new(struct store *s, struct fs_keeper **ret);

/*
 * fs_keeper_add - queue the copy fd (an open tarball file, owned by the
 * keeper from now on) of the artifact hash (40 lowercase hex digits).
 * Never blocks on the work: with 8 copies queued already, or after
 * fs_keeper_free() began, the copy is dropped (closed) with a warning.
 * Called from fetch_options.keep_tarball on an install worker.  Thread-safe.
 */
void fs_keeper_add(struct fs_keeper *k, const char *hash, int fd);

/*
 * fs_keeper_free - stop: the index being made is finished (a 1 GB tarball
 * takes seconds), queued copies are dropped, the thread is joined.  NULL
 * is a no-op.  No fs_keeper_add() may run concurrently.
 */
void fs_keeper_free(struct fs_keeper *k);


/* --- the deferred sync (syncer.c) ------------------------------------------------ */

struct fs_syncer;

/*
 * fs_syncer_new - start the syncer of store s: one thread that runs
 * store_sync_pending() (store.h) after seconds seconds (>= 0) from the
 * first fs_syncer_note() not synced yet.  Installs an earlier process left
 * unsynced are noted at once.  s is borrowed and must outlive the syncer.
 * Returns 0, -ENOMEM, or pthread_create()'s -errno.
 */
int fs_syncer_new(struct store *s, double seconds, struct fs_syncer **ret);

/*
 * fs_syncer_note - an install was committed without a sync: sync it within
 * the delay.  Never blocks on the sync.  NULL is a no-op.  Thread-safe.
 */
void fs_syncer_note(struct fs_syncer *sy);

/*
 * fs_syncer_free - stop the thread and, when installs wait, sync them now
 * (this waits for the disk), then free sy.  NULL is a no-op.  No
 * fs_syncer_note() may run concurrently.
 */
void fs_syncer_free(struct fs_syncer *sy);

#endif
