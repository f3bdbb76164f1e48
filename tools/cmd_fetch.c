/*
 * cmd_fetch.c - artifactctl fetch: install the artifacts of an
 * Artifacts.toml into the store (Pkg's download_artifacts for one file)
 */
#include "tools/artifactctl.h"
#include "tools/store_opt.h"

#include "fetch/artifacts.h"
#include "fetch/fetch.h"
#include "fetch/platform.h"
#include "fetch/proxy.h"
#include "store/store.h"
#include "store/util/time.h"
#include "store/util/units.h"

#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_JOBS_MAX 16 /* the default is the number of cores, at most this */
#define MAX_JOBS 64

static bool verbose; /* --verbose: report retries too */

static void usage(FILE *f)
{
	fprintf(f,
		"usage: %s fetch [--store DIR] [--platform TRIPLET] [--tag KEY=VALUE[:MODE]]...\n"
		"                [--include-lazy] [--jobs N] [--pkg-server URL] [--ignore-hashes]\n"
		"                [--ca-file FILE] [--connect-timeout SEC] [--low-speed-time SEC]\n"
		"                [--timeout SEC] [--max-unpacked SIZE] [--sources-from FILE2]...\n"
		"                [--proxy LIST [--proxy-shard]] [--verbose] FILE [NAME...]\n"
		"\n"
		"Download, verify and install into the store the artifacts FILE selects for\n"
		"the platform, as Julia's Pkg does: every non-lazy entry, or with NAMEs just\n"
		"those (lazy or not).  Prints \"NAME PATH\" for each, in file order.  FILE may\n"
		"be a directory holding JuliaArtifacts.toml or Artifacts.toml.\n"
		"\n"
		"Options:\n"
		"  -s, --store DIR          the store (default $ARTIFACTFS_STORE, else\n"
		"                           " CTL_STORE_DEFAULT ")\n"
		"  -p, --platform TRIPLET   select for TRIPLET instead of this machine\n"
		"  -t, --tag KEY=VALUE[:MODE]\n"
		"                           add or replace a host tag (see 'resolve')\n"
		"  -l, --include-lazy       also install lazy artifacts when no NAME is given\n"
		"  -j, --jobs N             installs at the same time (default: the number\n"
		"                           of cores, at most %d)\n"
		"  -P, --pkg-server URL     try URL/artifact/HASH first (default\n"
		"                           $JULIA_PKG_SERVER; empty: no Pkg server)\n"
		"      --ignore-hashes      install even when the git-tree-sha1 differs\n"
		"                           (as JULIA_PKG_IGNORE_HASHES=true does in Julia)\n"
		"      --ca-file FILE       CA certificates (PEM) for https\n"
		"      --connect-timeout SEC  give up connecting after SEC seconds (default 30)\n"
		"      --low-speed-time SEC   abort a download slower than 1 KiB/s for SEC\n"
		"                           seconds (default 20; 0 never)\n"
		"      --timeout SEC        overall deadline of one download attempt (default\n"
		"                           120 s plus the size at 64 KiB/s, or 1 h unknown)\n"
		"      --max-unpacked SIZE  refuse an artifact that unpacks to more than SIZE\n"
		"                           bytes (K, M, G, T suffixes); default 64G and at\n"
		"                           most %d times the compressed size\n"
		"      --sources-from FILE2 also try the download entries FILE2 gives for\n"
		"                           the same git-tree-sha1 (repeatable)\n"
		"      --proxy LIST         HTTP proxies, CernVM-FS style: groups tried in\n"
		"                           order split by ';', members sharing the load split\n"
		"                           by '|', DIRECT for none, e.g.\n"
		"                           'http://squid1:3128|http://squid2:3128;DIRECT'\n"
		"                           (default: http_proxy and friends of the environment)\n"
		"      --proxy-shard        send each artifact to the member of a group its\n"
		"                           hash chooses (rendezvous hashing), as the daemon's\n"
		"                           proxy_shard does\n"
		"      --seek-index         also make the seek index of each gzip tarball\n"
		"                           installed and keep it in the store, for a\n"
		"                           publisher (see 'artifactctl seek-index')\n"
		"      --sync               wait for the disk before each install counts as\n"
		"                           done (default: synced later, see 'artifactctl\n"
		"                           sync'; a reboot before that checks it again)\n"
		"  -v, --verbose            also report failed attempts that are retried\n"
		"  -h, --help               show this help\n"
		"\n"
		"Exit status: 0 all installed, 1 an install failed, 2 FILE or an entry is\n"
		"malformed, 3 a NAME has no entry for the platform, 64 usage.\n",
		progname, DEFAULT_JOBS_MAX, FETCH_UNPACK_RATIO);
}

/* The number of cores online, 1 to DEFAULT_JOBS_MAX. */
static unsigned default_jobs(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	if (n < 1)
		return 1;
	return n > DEFAULT_JOBS_MAX ? DEFAULT_JOBS_MAX : (unsigned)n;
}

struct fetch_opts {
	const char *store;
	struct ctl_platform_opt plat;
	bool include_lazy;
	unsigned jobs;
	const char *pkg_server; /* NULL: not given */
	bool ignore_hashes;
	const char *ca_file;
	const char *proxy; /* --proxy, NULL: not given */
	bool proxy_shard;
	bool seek_index; /* --seek-index */
	bool sync;	 /* --sync */
	long connect_timeout, low_speed_time, timeout;
	uint64_t max_unpacked; /* 0: the built-in default */
	const char *file;
	char **names;
	size_t nnames;
	char **more; /* --sources-from */
	size_t nmore;
};

static long seconds_arg(const char *opt, const char *v)
{
	char *end;
	long n;

	errno = 0;
	n = strtol(v, &end, 10);
	if (errno || end == v || *end || n < 0 || n > 86400 * 365)
		ctl_usage_error("fetch", "invalid %s '%s': seconds expected", opt, v);
	return n;
}

static void parse_args(int argc, char **argv, struct fetch_opts *o)
{
	enum { OPT_IGNORE = 256, OPT_CA, OPT_CONNECT, OPT_LOWSPEED, OPT_TIMEOUT, OPT_SOURCES,
	       OPT_UNPACKED, OPT_PROXY, OPT_SHARD, OPT_SEEKIDX, OPT_SYNC };
	static const struct option longopts[] = {
		{"store", required_argument, NULL, 's'},
		{"platform", required_argument, NULL, 'p'},
		{"tag", required_argument, NULL, 't'},
		{"include-lazy", no_argument, NULL, 'l'},
		{"jobs", required_argument, NULL, 'j'},
		{"pkg-server", required_argument, NULL, 'P'},
		{"ignore-hashes", no_argument, NULL, OPT_IGNORE},
		{"ca-file", required_argument, NULL, OPT_CA},
		{"connect-timeout", required_argument, NULL, OPT_CONNECT},
		{"low-speed-time", required_argument, NULL, OPT_LOWSPEED},
		{"timeout", required_argument, NULL, OPT_TIMEOUT},
		{"sources-from", required_argument, NULL, OPT_SOURCES},
		{"max-unpacked", required_argument, NULL, OPT_UNPACKED},
		{"proxy", required_argument, NULL, OPT_PROXY},
		{"proxy-shard", no_argument, NULL, OPT_SHARD},
		{"seek-index", no_argument, NULL, OPT_SEEKIDX},
		{"sync", no_argument, NULL, OPT_SYNC},
		{"verbose", no_argument, NULL, 'v'},
		CTL_OPTIONS_END,
	};
	static const struct ctl_getopt g = {
		"fetch", ":hs:p:t:lj:P:v", longopts, usage, "a value", false,
	};
	char *end;
	long n;
	int c;

	o->jobs = default_jobs();
	o->connect_timeout = 30;
	o->low_speed_time = 20;
	o->more = calloc((size_t)argc, sizeof(*o->more));
	if (!o->more)
		ctl_erre(EXIT_FAIL, -ENOMEM, "fetch");
	while ((c = ctl_getopt(argc, argv, &g)) != -1) {
		switch (c) {
		case 's':
			o->store = optarg;
			break;
		case 'p':
		case 't':
			ctl_platform_opt_add("fetch", &o->plat, c, optarg);
			break;
		case 'l':
			o->include_lazy = true;
			break;
		case 'j':
			errno = 0;
			n = strtol(optarg, &end, 10);
			if (errno || end == optarg || *end || n < 1 || n > MAX_JOBS)
				ctl_usage_error(
					"fetch", "invalid --jobs '%s': 1 to %d", optarg, MAX_JOBS);
			o->jobs = (unsigned)n;
			break;
		case 'P':
			o->pkg_server = optarg;
			break;
		case 'v':
			verbose = true;
			break;
		case OPT_IGNORE:
			o->ignore_hashes = true;
			break;
		case OPT_CA:
			o->ca_file = optarg;
			break;
		case OPT_CONNECT:
			o->connect_timeout = seconds_arg("--connect-timeout", optarg);
			break;
		case OPT_LOWSPEED:
			o->low_speed_time = seconds_arg("--low-speed-time", optarg);
			break;
		case OPT_TIMEOUT:
			o->timeout = seconds_arg("--timeout", optarg);
			break;
		case OPT_SOURCES:
			o->more[o->nmore++] = optarg;
			break;
		case OPT_PROXY:
			o->proxy = optarg;
			break;
		case OPT_SHARD:
			o->proxy_shard = true;
			break;
		case OPT_SEEKIDX:
			o->seek_index = true;
			break;
		case OPT_SYNC:
			o->sync = true;
			break;
		case OPT_UNPACKED:
			if (units_parse_bytes(optarg, &o->max_unpacked) < 0 || o->max_unpacked == 0)
				ctl_usage_error("fetch",
					"invalid --max-unpacked '%s': bytes expected (K, M, G, T "
					"suffixes)",
					optarg);
			break;
		}
	}
	if (o->proxy_shard && !o->proxy)
		ctl_usage_error("fetch", "--proxy-shard needs --proxy");
	if (optind == argc)
		ctl_usage_error("fetch", "missing FILE");
	o->file = argv[optind];
	o->names = argv + optind + 1;
	o->nnames = (size_t)(argc - optind - 1);
}

/* ---- the progress display ---------------------------------------------------------- */

/*
 * One line per running download on stderr, redrawn at most every 100 ms,
 * only when stderr is a terminal.  Messages printed while it is up go
 * through display_print(), which clears it first.
 */
struct slot {
	const char *name; /* NULL: idle */
	uint64_t now, total;
};

static struct {
	pthread_mutex_t lock;
	bool tty;
	unsigned nslots;
	struct slot slots[MAX_JOBS];
	unsigned drawn; /* lines on screen */
	uint64_t last_ms;
} disp = {.lock = PTHREAD_MUTEX_INITIALIZER};

/* Call with disp.lock held. */
static void display_clear(void)
{
	if (disp.drawn) {
		fprintf(stderr, "\033[%uA\033[J", disp.drawn);
		disp.drawn = 0;
	}
}

/* Call with disp.lock held. */
static void display_draw(void)
{
	struct winsize ws;
	unsigned i, width = 80;
	char line[512], a[32], b[32];
	int n;

	if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 10)
		width = ws.ws_col < sizeof(line) ? ws.ws_col : sizeof(line) - 1;
	display_clear();
	for (i = 0; i < disp.nslots; i++) {
		const struct slot *s = &disp.slots[i];

		if (!s->name)
			continue;
		units_human_bytes(s->now, a, sizeof(a));
		if (s->total) {
			units_human_bytes(s->total, b, sizeof(b));
			n = snprintf(line, sizeof(line), "  %s: %s of %s (%u%%)", s->name, a, b,
				(unsigned)(s->now * 100 / s->total));
		} else {
			n = snprintf(line, sizeof(line), "  %s: %s", s->name, a);
		}
		if (n > 0 && (unsigned)n >= width)
			line[width - 1] = '\0'; /* no wrapping: the cursor arithmetic needs it */
		fprintf(stderr, "%s\n", line);
		disp.drawn++;
	}
	fflush(stderr);
}

static void display_update(
	unsigned slot, const char *name, uint64_t now, uint64_t total, bool force)
{
	uint64_t t;

	if (!disp.tty)
		return;
	pthread_mutex_lock(&disp.lock);
	disp.slots[slot].name = name;
	disp.slots[slot].now = now;
	disp.slots[slot].total = total;
	t = time_mono_ms();
	if (force || t - disp.last_ms >= 100) {
		disp.last_ms = t;
		display_draw();
	}
	pthread_mutex_unlock(&disp.lock);
}

/* A message on stderr, "artifactctl: <text>", with the display out of the way. */
static void __attribute__((format(printf, 1, 2))) display_print(const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&disp.lock);
	if (disp.tty)
		display_clear();
	fprintf(stderr, "%s: ", progname);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	if (disp.tty)
		display_draw();
	pthread_mutex_unlock(&disp.lock);
}

/* ---- jobs ---------------------------------------------------------------------------- */

/* One install per distinct hash (Pkg's download_artifacts dedups the same way). */
struct job {
	const struct artifact_entry *e; /* the first entry with this hash */
	struct fetch_source *src;
	size_t nsrc;
	int rc;
	char *path;
};

struct pool {
	struct store *s;
	struct fetch_options fo;
	const char *toml;
	struct job *jobs;
	size_t njobs, next;
	pthread_mutex_t lock;
};

struct worker {
	struct pool *p;
	unsigned slot;
	const char *name; /* the artifact being fetched */
	pthread_t th;
};

static void on_progress(void *arg, const char *url, uint64_t now, uint64_t total)
{
	struct worker *w = arg;

	display_update(w->slot, w->name, now, total, total && now >= total);
}

static void on_log(void *arg, enum fetch_log_level level, const char *msg)
{
	if (level == FETCH_LOG_WARNING || verbose)
		display_print("%s", msg);
}

/*
 * --seek-index: the seek index of a tarball just installed, made on the
 * installing worker (the install is committed; only this job waits).  A
 * failure is a warning: the artifact is installed either way.
 */
static void keep_tarball(void *arg, const char *hash, int fd)
{
	struct pool *p = arg;
	char *msg = NULL;
	int r;

	r = fetch_seekidx_keep(p->s, hash, fd, &msg);
	close(fd);
	if (r < 0)
		display_print("%s: warning: no seek index kept for %s: %s", progname, hash,
			msg ? msg : strerror(-r));
	free(msg);
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct pool *p = w->p;
	struct fetch_options fo = p->fo;
	struct fetch *f = NULL;
	struct job *j;
	int r;

	fo.progress = on_progress;
	fo.progress_arg = w;
	r = fetch_new(p->s, &fo, &f);
	for (;;) {
		struct fetch_request req;

		pthread_mutex_lock(&p->lock);
		j = p->next < p->njobs ? &p->jobs[p->next++] : NULL;
		pthread_mutex_unlock(&p->lock);
		if (!j)
			break;
		if (r < 0) {
			j->rc = r;
			continue;
		}
		w->name = artifact_entry_name(j->e);
		req.name = w->name;
		req.toml_path = p->toml;
		req.hash = artifact_entry_hash(j->e);
		req.sources = j->src;
		req.nsources = j->nsrc;
		display_update(w->slot, w->name, 0, 0, true);
		j->rc = fetch_install(f, &req, &j->path);
		display_update(w->slot, NULL, 0, 0, true);
		if (j->rc < 0)
			display_print("%s", fetch_errmsg(f));
	}
	if (r < 0)
		display_print("cannot set up downloads: %s", strerror(-r));
	fetch_free(f);
	return NULL;
}

static int run_jobs(struct pool *p, unsigned nthreads)
{
	struct worker *w;
	unsigned i, started = 0;

	if (nthreads > p->njobs)
		nthreads = (unsigned)p->njobs;
	if (nthreads == 0)
		return 0;
	w = calloc(nthreads, sizeof(*w));
	if (!w)
		return -ENOMEM;
	disp.nslots = nthreads;
	for (i = 0; i < nthreads; i++) {
		w[i].p = p;
		w[i].slot = i;
		if (pthread_create(&w[i].th, NULL, worker_main, &w[i]) != 0)
			break;
		started++;
	}
	if (started == 0) {
		free(w);
		return -EAGAIN;
	}
	for (i = 0; i < started; i++)
		pthread_join(w[i].th, NULL);
	pthread_mutex_lock(&disp.lock);
	if (disp.tty)
		display_clear();
	pthread_mutex_unlock(&disp.lock);
	free(w);
	return 0;
}

/* ---- main ----------------------------------------------------------------------------- */

/* Selection for NAMEs; every failure is reported; returns an exit status. */
static int select_named(const struct artifacts *a, const struct platform *host,
	const struct fetch_opts *o, const struct artifact_entry **sel)
{
	int status = EXIT_OK, r;
	char *msg = NULL;
	size_t i;

	for (i = 0; i < o->nnames; i++) {
		r = artifacts_select(a, o->names[i], host, &sel[i], &msg);
		if (r < 0) {
			ctl_warnx("%s", msg ? msg : strerror(-r));
			if (r == -EINVAL && status != EXIT_MALFORMED)
				status = EXIT_MALFORMED;
			else if ((r == -ENOENT || r == -ENXIO) && status == EXIT_OK)
				status = EXIT_NOMATCH;
			else if (status == EXIT_OK)
				status = EXIT_FAIL;
		}
		free(msg);
		msg = NULL;
	}
	return status;
}

/* Put the selection of NAMEs into file order and drop repeated names; returns the count. */
static size_t file_order(const struct artifacts *a, const struct artifact_entry **sel, size_t n)
{
	size_t i, k, out = 0, count = artifacts_count(a);
	const struct artifact_entry **tmp = calloc(n ? n : 1, sizeof(*tmp));

	if (!tmp)
		return n; /* keep the command-line order */
	for (k = 0; k < count; k++) {
		const char *name = artifacts_name_at(a, k);

		for (i = 0; i < n; i++)
			if (strcmp(artifact_entry_name(sel[i]), name) == 0) {
				tmp[out++] = sel[i];
				break;
			}
	}
	memcpy(sel, tmp, out * sizeof(*sel));
	free(tmp);
	return out;
}

/* Append the mirrors of e that job j does not have yet (each URL once). */
static void add_sources(struct job *j, const struct artifact_entry *e)
{
	const struct artifact_download *d;
	size_t i, k, n = artifact_entry_downloads(e, &d);

	for (i = 0; i < n; i++) {
		for (k = 0; k < j->nsrc; k++)
			if (strcmp(j->src[k].url, d[i].url) == 0)
				break;
		if (k < j->nsrc)
			continue;
		j->src[j->nsrc].url = d[i].url;
		j->src[j->nsrc].sha256 = d[i].sha256;
		j->src[j->nsrc].size = d[i].size;
		j->nsrc++;
	}
}

/*
 * The jobs for the selected entries, one per distinct hash; job_of[i] for
 * sel[i].  A job tries the mirrors of its first selected entry, then those
 * of every other name bound to the same hash on this platform in files[]
 * (FILE, then the --sources-from files), in file order, each URL once (the
 * daemon's order, artifactfs(8)).
 */
static int make_jobs(struct pool *p, struct artifacts *const *files, size_t nfiles,
	const struct platform *host, const struct artifact_entry **sel, size_t nsel,
	size_t *job_of)
{
	const struct artifact_entry **other;
	const struct artifact_download *d;
	size_t i, f, k, n, nother = 0, max = 1;
	struct job *j;

	for (f = 0; f < nfiles; f++)
		max += artifacts_count(files[f]);
	p->jobs = calloc(nsel ? nsel : 1, sizeof(*p->jobs));
	other = calloc(max, sizeof(*other));
	if (!p->jobs || !other) {
		free(other);
		return -ENOMEM;
	}
	/* every name's entry for this platform: they may lend their mirrors */
	for (f = 0; f < nfiles; f++)
		for (i = 0; i < artifacts_count(files[f]); i++)
			if (artifacts_select(files[f], artifacts_name_at(files[f], i), host,
				    &other[nother], NULL) == 0)
				nother++;
	for (i = 0; i < nsel; i++) {
		for (k = 0; k < p->njobs; k++)
			if (strcmp(artifact_entry_hash(p->jobs[k].e),
				    artifact_entry_hash(sel[i])) == 0)
				break;
		job_of[i] = k;
		if (k < p->njobs)
			continue;
		j = &p->jobs[k];
		j->e = sel[i];
		max = artifact_entry_downloads(sel[i], &d);
		for (n = 0; n < nother; n++)
			if (strcmp(artifact_entry_hash(other[n]), artifact_entry_hash(sel[i])) == 0)
				max += artifact_entry_downloads(other[n], &d);
		j->src = calloc(max ? max : 1, sizeof(*j->src));
		if (!j->src) {
			free(other);
			return -ENOMEM;
		}
		add_sources(j, sel[i]);
		for (n = 0; n < nother; n++)
			if (other[n] != sel[i] &&
			    strcmp(artifact_entry_hash(other[n]), artifact_entry_hash(sel[i])) == 0)
				add_sources(j, other[n]);
		p->njobs++;
	}
	free(other);
	return 0;
}

int cmd_fetch(int argc, char **argv)
{
	struct fetch_opts o = {0};
	struct platform *host = NULL;
	struct artifacts *a = NULL, **files = NULL;
	struct store *s = NULL;
	struct pool p = {.lock = PTHREAD_MUTEX_INITIALIZER};
	struct fetch_proxies *proxies = NULL;
	const struct artifact_entry **sel = NULL;
	const char *store_dir;
	char *msg = NULL, *triplet = NULL;
	size_t nsel = 0, i, nfiles = 0, nfailed, *job_of = NULL;
	int r, status = EXIT_FAIL;
	bool root_failed;

	parse_args(argc, argv, &o);
	if (o.proxy) {
		struct fetch_proxy_conf pc = {.shard = o.proxy_shard};

		r = fetch_proxies_parse(o.proxy, &pc, &proxies, &msg);
		if (r == -EINVAL)
			ctl_usage_error("fetch", "invalid --proxy: %s", msg ? msg : "?");
		if (r < 0)
			ctl_erre(EXIT_FAIL, r, "fetch");
	}
	status = ctl_host_platform("fetch", &o.plat, &host);
	if (status == EXIT_OK)
		status = ctl_artifacts_load(o.file, &a);
	if (status != EXIT_OK)
		goto out;
	status = EXIT_FAIL;

	/* FILE, then the files that lend their mirrors */
	files = calloc(o.nmore + 1, sizeof(*files));
	if (!files)
		goto nomem;
	files[nfiles++] = a;
	for (i = 0; i < o.nmore; i++) {
		status = ctl_artifacts_load(o.more[i], &files[nfiles]);
		if (status != EXIT_OK)
			goto out;
		status = EXIT_FAIL;
		nfiles++;
	}
	if (o.nnames) {
		sel = calloc(o.nnames, sizeof(*sel));
		if (!sel)
			goto nomem;
		nsel = o.nnames;
		status = select_named(a, host, &o, sel);
		if (status != EXIT_OK)
			goto out;
		status = EXIT_FAIL;
		nsel = file_order(a, sel, nsel);
	} else {
		r = artifacts_select_downloadable(a, host, o.include_lazy, &sel, &nsel, &msg);
		if (r < 0) {
			ctl_warnx("%s", msg ? msg : strerror(-r));
			status = r == -EINVAL ? EXIT_MALFORMED : EXIT_FAIL;
			goto out;
		}
	}

	/* the store: --store, then $ARTIFACTFS_STORE, then the default */
	store_dir = ctl_store_dir(o.store);
	r = store_open(store_dir, STORE_CREATE | (o.sync ? STORE_SYNC_COMMIT : 0), &s, &msg);
	if (r < 0) {
		ctl_warnx("cannot open the store: %s", msg ? msg : strerror(-r));
		goto out;
	}
	/* a gc root for every entry of FILE, installed or not (Pkg logs usage the same way) */
	r = store_root_add(s, artifacts_path(a));
	root_failed = r < 0;
	if (r < 0)
		ctl_warnx("cannot register '%s' as a gc root: %s", artifacts_path(a),
			*store_errmsg(s) ? store_errmsg(s) : strerror(-r));

	r = fetch_global_init();
	if (r < 0)
		goto nomem;
	fetch_options_init(&p.fo);
	p.fo.ca_file = o.ca_file;
	p.fo.connect_timeout = o.connect_timeout;
	p.fo.low_speed_time = o.low_speed_time;
	p.fo.timeout = o.timeout;
	p.fo.max_unpacked = o.max_unpacked;
	p.fo.log = on_log;
	p.fo.proxies = proxies;
	if (o.seek_index) {
		p.fo.keep_tarball = keep_tarball;
		p.fo.keep_arg = &p;
	}
	if (o.ignore_hashes)
		p.fo.flags |= FETCH_IGNORE_HASHES;
	/* --pkg-server, else $JULIA_PKG_SERVER as Pkg reads it; "" means none */
	p.fo.pkg_server = o.pkg_server ? o.pkg_server : getenv("JULIA_PKG_SERVER");
	if (platform_triplet(host, &triplet) == 0)
		p.fo.host_triplet = triplet;
	p.fo.julia_version = platform_get(host, "julia_version");
	p.s = s;
	p.toml = artifacts_path(a);
	job_of = calloc(nsel ? nsel : 1, sizeof(*job_of));
	if (!job_of || make_jobs(&p, files, nfiles, host, sel, nsel, job_of) < 0)
		goto nomem;

	disp.tty = isatty(STDERR_FILENO);
	r = run_jobs(&p, o.jobs);
	if (r < 0) {
		ctl_warne(r, "cannot start download threads");
		goto out;
	}
	status = root_failed ? EXIT_FAIL : EXIT_OK;
	nfailed = 0;
	for (i = 0; i < nsel; i++) {
		const struct job *j = &p.jobs[job_of[i]];

		if (j->rc < 0)
			nfailed++;
		else
			printf("%s %s\n", artifact_entry_name(sel[i]), j->path);
	}
	if (nfailed) {
		/* each failure was reported as it happened; the list, once more, at the end */
		status = EXIT_FAIL;
		fprintf(stderr, "%s: %zu of %zu artifacts failed:", progname, nfailed, nsel);
		for (i = 0; i < nsel; i++)
			if (p.jobs[job_of[i]].rc < 0)
				fprintf(stderr, " '%s'", artifact_entry_name(sel[i]));
		fputc('\n', stderr);
	}
	if (fflush(stdout) == EOF || ferror(stdout)) {
		ctl_warne(-errno, "cannot write to standard output");
		status = EXIT_FAIL;
	}
	goto out;
nomem:
	ctl_warne(-ENOMEM, "fetch");
	status = EXIT_FAIL;
out:
	for (i = 0; i < p.njobs; i++) {
		free(p.jobs[i].src);
		free(p.jobs[i].path);
	}
	free(p.jobs);
	free(job_of);
	free(triplet);
	free(sel);
	free(msg);
	ctl_platform_opt_release(&o.plat);
	free(o.more);
	fetch_proxies_free(proxies);
	store_close(s);
	for (i = 1; i < nfiles; i++)
		artifacts_free(files[i]);
	free(files);
	artifacts_free(a);
	platform_free(host);
	return status;
}
