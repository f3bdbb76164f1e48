/*
 * main.c - artifactfs(8): options, start-up checks, the mount and the loop
 *
 * Start-up validates everything before mounting (the config file, every
 * Artifacts.toml, the platform, the store), so a bad setting ends the start
 * with exit status 1 and one line naming the file and the cause, never a
 * half-working mount.  After the mount come the store, the install
 * workers and the maintenance thread (reload.c); the requests are served
 * by the operations of ops.c.
 */
#include "fs/daemon.h"
#include "fetch/platform.h"
#include "store/store.h"
#include "store/util/control.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

/* Options collected from -o before they are applied (after the config file). */
struct opt_list {
	char **kv;
	size_t n;
	const char *bad;	/* first option that failed, for the message */
};

static const char usage_text[] =
	"usage: artifactfs [-f] [-d] [-s] [-o OPTION[,OPTION...]] [SOURCE] MOUNTPOINT\n"
	"       artifactfs --help | --version\n"
	"\n"
	"Serve Julia artifacts at MOUNTPOINT: /<name> is a symlink to /<hash>, the\n"
	"artifact selected for this host from the configured Artifacts.toml files;\n"
	"/<hash> is downloaded, verified and installed into the store on first use.\n"
	"\n"
	"artifactfs options (-o KEY=VALUE, or KEY = VALUE in the config file):\n"
	"    store=DIR              the content store (default /var/cache/artifactfs)\n"
	"    toml=FILE              an Artifacts.toml to serve names from (repeatable)\n"
	"    config=FILE            read settings from FILE (artifactfs.toml(5))\n"
	"    platform=TRIPLET       select for TRIPLET instead of this host\n"
	"    tag=KEY=VALUE[:MODE]   add a host tag; MODE exact, cap or majmin (repeatable)\n"
	"    pkg_server=URL         try URL/artifact/<hash> before the download entries\n"
	"    proxy=LIST             HTTP proxies, CernVM-FS style: groups tried in\n"
	"                           order split by ';', members split by '|', DIRECT\n"
	"                           for none (default: http_proxy of the environment)\n"
	"    proxy_shard[=BOOL]     send each artifact to one member of a group, by\n"
	"                           rendezvous hashing of its hash (default off)\n"
	"    proxy_retry_after=SECS skip a failed proxy for SECS plus up to 25%\n"
	"                           (default 60)\n"
	"    proxy_reset_after=SECS go back to the first group after SECS (default 300)\n"
	"    jobs=N                 concurrent installs (default 4)\n"
	"    connect_timeout=SECS   connection timeout, > 0 (default 30)\n"
	"    low_speed_limit=RATE   bytes/s under which a download is too slow (default 1K)\n"
	"    low_speed_time=SECS    ... for SECS, then it fails (default 10; 0: never)\n"
	"    timeout=SECS           limit of one download attempt (default: 120 s plus\n"
	"                           the size at 64 KiB/s, or 1 h when the size is unknown)\n"
	"    install_timeout=SECS   a request waits at most SECS for an install, then\n"
	"                           gets EIO; the install goes on (default 600)\n"
	"    retry_after=SECS       answer EIO at once for SECS after a failure (default 10)\n"
	"    name_timeout=SECS      how long the kernel caches names (default 1)\n"
	"    ca_file=FILE           CA certificates for https\n"
	"    quota=SIZE             keep the store under SIZE (e.g. 20G): evict least\n"
	"                           recently used artifacts; refuse bigger ones (EFBIG)\n"
	"    quota_low=PERCENT      evict down to this share of the quota (default 75)\n"
	"    max_unpacked=SIZE      bytes one install may write, whatever the tarball\n"
	"                           says (default: the built-in ceiling)\n"
	"    offline[=BOOL]         serve only what is installed\n"
	"    ignore_hashes[=BOOL]   install despite a tree hash mismatch (loud)\n"
	"    overmount[=BOOL]       mount even where something is mounted already\n"
	"    control_group=GROUP    open status and metrics of the control socket to GROUP\n"
	"    log_level=LEVEL        error, warning, info (default) or debug\n"
	"    slow_install_log=SECS  log a request waiting longer than SECS for an\n"
	"                           install (default 10; 0: never)\n"
	"    depot_layout[=BOOL]    an artifacts/ directory of <hash> entries at the\n"
	"                           root, for JULIA_DEPOT_PATH\n"
	"    any_hash[=BOOL]        ask the Pkg server (pkg_server=, else\n"
	"                           JULIA_PKG_SERVER) for hashes no file names\n"
	"    negative_timeout=SECS  how long a Pkg server's \"absent\" is kept (default 60)\n"
	"    overrides=FILE         a Julia Overrides.toml: overridden hashes are symlinks\n"
	"    no_open[=BOOL]         zero-message opens: no open/release, opendir/\n"
	"                           releasedir round trips (default true)\n"
	"    xattr[=BOOL]           the user.artifactfs.* attributes (default true;\n"
	"                           false: a faster ls -l, no xattrs at all)\n"
	"    per_file[=BOOL]        serve single files of artifacts not installed through\n"
	"                           a seek index, without the tarball (default false)\n"
	"    seek_index=probe|off   also look for <url>.seekidx (default off: only the\n"
	"                           download entry's seek_index key)\n"
	"    full_install_after=SIZE|Nfiles|never  install whole once that much was\n"
	"                           fetched per file (default never)\n"
	"    keep_seek_index[=BOOL] make and keep the seek index of each gzip tarball\n"
	"                           installed, in the background (default false)\n"
	"    sync_after=SECS        make installs durable (syncfs) this long after they\n"
	"                           are served (default 30); a reboot before that checks\n"
	"                           them again\n"
	"    sync_commit[=BOOL]     an install waits for the disk before it is served\n"
	"                           (default false)\n"
	"    (BOOL: true/false, yes/no, on/off or 1/0; bare means true)\n"
	"\n"
	"FUSE options: allow_other, default_permissions, max_threads=N, ... (see\n"
	"fuse(8)).  artifactfs always mounts read-only with nosuid and nodev.\n"
	"\n"
	"    -f                     stay in the foreground, log to stderr\n"
	"    -d                     debug: foreground, FUSE and artifactfs debug output\n"
	"    -s                     single-threaded (for debugging)\n"
	"    -h, --help             print this help\n"
	"    -V, --version          print the version\n"
	"\n"
	"See artifactfs(8).\n";

/* ---- option parsing --------------------------------------------------------- */

static int opt_proc(void *data, const char *arg, int key, struct fuse_args *outargs)
{
	struct opt_list *ol = data;
	char **nkv;
	const char *eq;
	char name[64];
	size_t len;

	if (key != FUSE_OPT_KEY_OPT)
		return 1;
	eq = strchr(arg, '=');
	len = eq ? (size_t)(eq - arg) : strlen(arg);
	if (len >= sizeof(name))
		return 1;
	memcpy(name, arg, len);
	name[len] = '\0';
	/*
	 * Ours by its key, whatever the value: a bad value is reported by
	 * apply_options() with what the key needs, never passed on to FUSE
	 * (which would call it an unknown option).
	 */
	if (!fs_config_known(name))
		return 1;
	nkv = realloc(ol->kv, (ol->n + 1) * sizeof(*nkv));
	if (!nkv)
		return -1;
	ol->kv = nkv;
	ol->kv[ol->n] = strdup(arg);
	if (!ol->kv[ol->n])
		return -1;
	ol->n++;
	return 0;
}

/* "-o jobs=eight: 'jobs' needs an integer from 1 to 256, not "eight"" */
static void option_error(const char *kv, const char *why, int r)
{
	const char *eq = strchr(kv, '=');
	int klen = eq ? (int)(eq - kv) : (int)strlen(kv);

	if (!why)
		fprintf(stderr, "artifactfs: -o %s: %s\n", kv, strerror(-r));
	else if (eq)
		fprintf(stderr, "artifactfs: -o %s: '%.*s' %s, not \"%s\"\n", kv, klen, kv, why,
			eq + 1);
	else
		fprintf(stderr, "artifactfs: -o %s: '%s' %s\n", kv, kv, why);
}

static int apply_options(struct fs_config *cfg, struct opt_list *ol)
{
	const char *why;
	char *eq;
	size_t i;
	int r;

	/* The config file first, so that -o options override it. */
	for (i = 0; i < ol->n; i++)
		if (strncmp(ol->kv[i], "config=", 7) == 0) {
			r = fs_config_set(cfg, "config", ol->kv[i] + 7, &why);
			if (r < 0) {
				option_error(ol->kv[i], why, r);
				return -1;
			}
		}
	if (cfg->config_file) {
		char *msg = NULL;

		r = fs_config_load_file(cfg, cfg->config_file, &msg);
		if (r < 0) {
			fprintf(stderr, "artifactfs: %s\n", msg ? msg : strerror(-r));
			free(msg);
			return -1;
		}
	}
	for (i = 0; i < ol->n; i++) {
		if (strncmp(ol->kv[i], "config=", 7) == 0)
			continue;
		eq = strchr(ol->kv[i], '=');
		if (eq)
			*eq = '\0';
		r = fs_config_set(cfg, ol->kv[i], eq ? eq + 1 : NULL, &why);
		if (eq)
			*eq = '=';
		if (r < 0) {
			option_error(ol->kv[i], why, r);
			return -1;
		}
	}
	return 0;
}

/*
 * The mount-helper convention: mount(8) runs "artifactfs SOURCE MOUNTPOINT
 * -o OPTIONS" for an fstab line of type fuse.artifactfs.  FUSE's own parser
 * takes one positional argument, so a second one is taken out here and used
 * as the fsname.
 */
static char *take_source(struct fuse_args *args)
{
	int i, first = -1, count = 0;
	char *src;

	for (i = 1; i < args->argc; i++) {
		if (strcmp(args->argv[i], "-o") == 0) {
			i++;
			continue;
		}
		if (args->argv[i][0] == '-')
			continue;
		if (first < 0)
			first = i;
		count++;
	}
	if (count < 2)
		return NULL;
	src = strdup(args->argv[first]);
	for (i = first; i < args->argc - 1; i++)
		args->argv[i] = args->argv[i + 1];
	args->argc--;
	return src;
}

/* ---- start-up ----------------------------------------------------------------- */

static int absolutize_tomls(struct fs_config *cfg)
{
	char *abs;
	size_t i;

	for (i = 0; i < cfg->n_tomls; i++) {
		abs = realpath(cfg->tomls[i], NULL);
		if (!abs) {
			fprintf(stderr, "artifactfs: cannot open '%s': %s\n", cfg->tomls[i],
				strerror(errno));
			return -1;
		}
		free(cfg->tomls[i]);
		cfg->tomls[i] = abs;
	}
	return 0;
}

/*
 * load_overrides - read overrides= (fetch/overrides.h); a bad file stops
 * the start with its file, line and cause.  Returns 0 or -1.
 */
static int load_overrides(const struct fs_config *cfg, struct fetch_overrides **ret)
{
	char *msg = NULL;
	int r;

	if (!cfg->overrides)
		return 0;
	r = fetch_overrides_load(cfg->overrides, ret, &msg);
	if (r < 0)
		fprintf(stderr, "artifactfs: overrides: %s\n", msg ? msg : strerror(-r));
	free(msg);
	return r < 0 ? -1 : 0;
}

/* log_overrides - once logging goes where it will: what overrides= applies. */
static void log_overrides(const struct fs_config *cfg, const struct fetch_overrides *ov)
{
	size_t i;

	if (!ov)
		return;
	fs_log(FS_LOG_INFO, "%s: %zu artifact hashes overridden", cfg->overrides,
	       fetch_overrides_count(ov));
	for (i = 0; i < fetch_overrides_uuid_count(ov); i++)
		fs_log(FS_LOG_WARNING, "%s: the overrides of package %s are not applied: "
		       "a mount serves the names of every package alike; override the "
		       "hashes instead", cfg->overrides, fetch_overrides_uuid_at(ov, i));
}

/*
 * mounted_at - whether something is mounted on the directory path (absolute,
 * symlinks resolved, as fuse_parse_cmdline() gives it): 1 with its type in
 * fstype ("fuse.artifactfs", "ext4"; the topmost of a stack), 0 when not.
 * From /proc/self/mountinfo; without it, a directory whose device differs
 * from its parent's (or that is its own parent) is a mount of unknown type.
 */
static int mounted_at(const char *path, const struct stat *st, char *fstype, size_t size)
{
	char *line = NULL, *mp, *sep, *type, *save;
	struct stat parent;
	char up[PATH_MAX + 4];
	size_t cap = 0;
	FILE *fp;
	int found = 0, i;

	fp = fopen("/proc/self/mountinfo", "re");
	if (!fp) {
		snprintf(fstype, size, "unknown");
		snprintf(up, sizeof(up), "%s/..", path);
		if (stat(up, &parent) < 0)
			return 0;
		return parent.st_dev != st->st_dev || parent.st_ino == st->st_ino;
	}
	while (getline(&line, &cap, fp) >= 0) {
		/* ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - TYPE SOURCE ... */
		mp = strtok_r(line, " ", &save);
		for (i = 0; mp && i < 4; i++)
			mp = strtok_r(NULL, " ", &save);
		if (!mp)
			continue;
		control_mountinfo_unescape(mp);
		if (strcmp(mp, path) != 0)
			continue;
		while ((sep = strtok_r(NULL, " ", &save)) && strcmp(sep, "-") != 0)
			;
		type = sep ? strtok_r(NULL, " ", &save) : NULL;
		snprintf(fstype, size, "%s", type ? type : "unknown");
		found = 1;	/* keep reading: the last line is the top of a stack */
	}
	free(line);
	fclose(fp);
	return found;
}

/*
 * check_mountpoint - refuse a mount point that is not a directory, and one
 * where something is mounted already (another artifactfs would be stacked
 * over it, hiding it) unless overmount is set.  Prints the reason.
 */
static int check_mountpoint(const char *path, bool overmount)
{
	struct stat st;
	char fstype[128];

	if (stat(path, &st) < 0) {
		fprintf(stderr, "artifactfs: mount point '%s': %s\n", path, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		fprintf(stderr, "artifactfs: mount point '%s' is not a directory\n", path);
		return -1;
	}
	if (!mounted_at(path, &st, fstype, sizeof(fstype)))
		return 0;
	if (overmount) {
		fprintf(stderr, "artifactfs: mounting over the %s mount at '%s' (overmount)\n",
			fstype, path);
		return 0;
	}
	if (strcmp(fstype, "fuse.artifactfs") == 0)
		fprintf(stderr, "artifactfs: mount point '%s' already holds an artifactfs mount "
			"(unmount it first, or use -o overmount)\n", path);
	else
		fprintf(stderr, "artifactfs: mount point '%s' already holds a %s mount "
			"(use -o overmount to mount over it)\n", path, fstype);
	return -1;
}

/* check_ca_file - a ca_file must be readable now, not at the first download; made absolute. */
static int check_ca_file(struct fs_config *cfg)
{
	struct stat st;
	char *abs;
	int fd;

	if (!cfg->ca_file)
		return 0;
	fd = open(cfg->ca_file, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		fprintf(stderr, "artifactfs: ca_file '%s': %s\n", cfg->ca_file,
			fd < 0 ? strerror(errno) : "not a regular file");
		if (fd >= 0)
			close(fd);
		return -1;
	}
	close(fd);
	/* fuse_daemonize() changes to "/": keep the absolute path. */
	abs = realpath(cfg->ca_file, NULL);
	if (!abs) {
		fprintf(stderr, "artifactfs: ca_file '%s': %s\n", cfg->ca_file, strerror(errno));
		return -1;
	}
	free(cfg->ca_file);
	cfg->ca_file = abs;
	return 0;
}

static int setup_host(struct fs_config *cfg, struct platform **ret)
{
	struct platform *host = NULL;
	size_t i;
	int r;

	r = platform_host(cfg->platform, &host);
	if (r < 0) {
		fprintf(stderr, "artifactfs: option 'platform=%s': %s\n",
			cfg->platform ? cfg->platform : "(host)",
			r == -EINVAL ? "not a platform triplet" : strerror(-r));
		return -1;
	}
	for (i = 0; i < cfg->n_tags; i++) {
		r = platform_set_tag_spec(host, cfg->tags[i]);
		if (r < 0) {
			fprintf(stderr, "artifactfs: option 'tag=%s': %s\n", cfg->tags[i],
				r == -EINVAL ? "not KEY=VALUE[:exact|cap|majmin]" : strerror(-r));
			platform_free(host);
			return -1;
		}
	}
	*ret = host;
	return 0;
}

/* -f or -d (which implies -f) among the arguments, as fuse_parse_cmdline sees them. */
static bool foreground_requested(int argc, char **argv)
{
	int i;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-o") == 0) {
			i++;
			continue;
		}
		if (strcmp(argv[i], "-f") == 0 || strcmp(argv[i], "-d") == 0)
			return true;
	}
	return false;
}

static void raise_fd_limit(void)
{
	struct rlimit rl;

	/* Every artifact the kernel remembers and every open file hold a descriptor. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

int main(int argc, char **argv)
{
	struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
	struct fuse_cmdline_opts opts;
	struct fuse_loop_config *loop = NULL;
	struct fs_installer inst;
	struct opt_list ol = { 0 };
	struct fs_config cfg, file_cfg;
	struct fs fs;
	char *msg = NULL, *source = NULL, *store_path_abs = NULL, fsname[PATH_MAX + 16];
	bool mounted = false;
	gid_t gid;
	size_t i;
	int r, ret = 1;

	memset(&fs, 0, sizeof(fs));
	fs_reload_init(&fs);
	fs_control_init(&fs);
	memset(&opts, 0, sizeof(opts));
	fs_config_init(&cfg);
	for (i = 1; i < (size_t)argc; i++) {
		if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			fputs(usage_text, stdout);
			return 0;
		}
		if (strcmp(argv[i], "-V") == 0 || strcmp(argv[i], "--version") == 0) {
			printf("artifactfs %s (libfuse %s)\n", ARTIFACTFS_VERSION,
			       fuse_pkgversion());
			return 0;
		}
	}

	/*
	 * A daemon must not keep its caller's pipes open (a shell waiting for
	 * the end of a pipeline would wait forever): in the background, close
	 * every inherited descriptor but 0-2, which fuse_daemonize() redirects.
	 */
	if (!foreground_requested(argc, argv))
		close_range(3, ~0U, 0);

	source = take_source(&args);
	if (fuse_opt_parse(&args, &ol, NULL, opt_proc) < 0)
		goto out;
	if (fuse_parse_cmdline(&args, &opts) != 0)
		goto out;
	if (!opts.mountpoint) {
		fprintf(stderr, "artifactfs: no mount point given\n"
				"Try 'artifactfs --help' for more information.\n");
		goto out;
	}
	if (apply_options(&cfg, &ol) < 0)
		goto out;
	if (cfg.config_file) {
		/* What the file alone said, for reload's list of changes (control.c). */
		fs_config_init(&file_cfg);
		if (fs_config_load_file(&file_cfg, cfg.config_file, &msg) == 0)
			fs.file_cfg = &file_cfg;
		free(msg);
		msg = NULL;
	}
	/* Before the first line the daemon may log (names_build's debug lines). */
	fs_log_set_level(opts.debug ? FS_LOG_DEBUG : (enum fs_log_level)cfg.log_level);
	if (check_mountpoint(opts.mountpoint, cfg.overmount) < 0)
		goto out;
	fs.mountpoint = opts.mountpoint;	/* absolute: fuse_parse_cmdline() resolved it */
	if (cfg.control_group && fs_control_group(cfg.control_group, &gid) < 0) {
		fprintf(stderr, "artifactfs: control_group '%s' is no group of this host\n",
			cfg.control_group);
		goto out;
	}
	if (absolutize_tomls(&cfg) < 0 || check_ca_file(&cfg) < 0)
		goto out;
	if (setup_host(&cfg, &fs.host) < 0)
		goto out;
	if (load_overrides(&cfg, &fs.overrides) < 0)
		goto out;
	if (cfg.any_hash && !fs_install_pkg_server(&cfg)) {
		fprintf(stderr, "artifactfs: any_hash needs a Pkg server: set pkg_server= "
				"or JULIA_PKG_SERVER\n");
		goto out;
	}
	fs.cfg = &cfg;
	r = fs_names_build(&cfg, fs.host, true, &fs.names, &msg);
	fs.names_loaded = (int64_t)time(NULL);
	if (r < 0) {
		fprintf(stderr, "artifactfs: %s\n", msg ? msg : strerror(-r));
		goto out;
	}
	/*
	 * Check the store now, so that an unusable one stops the start with
	 * exit status 1; but close it again.  The daemon forks in
	 * fuse_daemonize(), and neither an LMDB environment (its lock is a
	 * POSIX lock, lost in the child) nor threads survive a fork: the store
	 * is opened for real, and every thread started, after it.
	 */
	r = store_open(fs_config_store(&cfg), STORE_CREATE, &fs.store, &msg);
	if (r < 0) {
		fprintf(stderr, "artifactfs: store '%s': %s\n", fs_config_store(&cfg),
			msg ? msg : strerror(-r));
		goto out;
	}
	/* fuse_daemonize() changes to "/": keep the store's absolute path. */
	store_path_abs = strdup(store_dir(fs.store));
	store_close(fs.store);
	fs.store = NULL;
	if (!store_path_abs)
		goto out;

	pthread_mutex_init(&fs.names_lock, NULL);
	pthread_mutex_init(&fs.via_lock, NULL);
	pthread_mutex_init(&fs.ino_lock, NULL);
	pthread_mutex_init(&fs.pin_lock, NULL);
	pthread_cond_init(&fs.pin_cond, NULL);
	pthread_mutex_init(&fs.quota_lock, NULL);
	pthread_mutex_init(&fs.listing_lock, NULL);
	fs_stats_init(&fs.stats);
	if (fs_inode_init(&fs) < 0)
		goto out;
	clock_gettime(CLOCK_REALTIME, &fs.started);
	raise_fd_limit();

	/*
	 * Read-only, nosuid, nodev always; the kernel checks permissions
	 * (default_permissions), as a mount shared by many users needs; named
	 * after the source when mount(8) gave one.
	 */
	snprintf(fsname, sizeof(fsname), "-ofsname=%s", source ? source : "artifactfs");
	if (fuse_opt_add_arg(&args, "-oro,nosuid,nodev,default_permissions,subtype=artifactfs") < 0 ||
	    fuse_opt_add_arg(&args, fsname) < 0)
		goto out;
	if (!opts.foreground)
		fs_log_open(false, opts.debug);
	else
		fs_log_open(true, opts.debug);

	fs.se = fuse_session_new(&args, &fs_ops, sizeof(fs_ops), &fs);
	if (!fs.se)
		goto out;
	if (fuse_set_signal_handlers(fs.se) != 0)
		goto out;
	if (fs_reload_catch_sighup() < 0)
		goto out;
	if (fuse_session_mount(fs.se, opts.mountpoint) != 0)
		goto out;
	mounted = true;
	if (fuse_daemonize(opts.foreground) != 0)
		goto out;

	r = store_open(store_path_abs, STORE_CREATE | (cfg.sync_commit ? STORE_SYNC_COMMIT : 0),
		       &fs.store, &msg);
	if (r < 0) {
		fs_log(FS_LOG_ERR, "store '%s': %s", store_path_abs, msg ? msg : strerror(-r));
		goto out;
	}
	for (i = 0; i < cfg.n_tomls; i++)
		store_root_add(fs.store, cfg.tomls[i]);
	log_overrides(&cfg, fs.overrides);
	r = fs_install_init(&fs, &inst);
	if (r == 0)
		r = fs_flights_new(cfg.jobs, cfg.retry_after, cfg.install_timeout, &inst,
				   &fs.flights);
	if (r == 0)
		r = fs_view_init(&fs);
	if (r < 0) {
		fs_log(FS_LOG_ERR, "cannot start install workers: %s", strerror(-r));
		goto out;
	}
	fs_flights_set_slow_log(fs.flights, cfg.slow_install_log);
	fs_log(FS_LOG_NOTICE, "serving %zu names at %s from store %s", fs_names_count(fs.names),
	       opts.mountpoint, store_dir(fs.store));
	fs_evict_quota(&fs, NULL);
	fs_reload_start(&fs);
	fs_control_start(&fs);
	/* Type=notify: mounted, the store open, the workers and the socket up. */
	fs_reload_notify("READY=1");

	if (opts.singlethread) {
		r = fuse_session_loop(fs.se);
	} else {
		loop = fuse_loop_cfg_create();
		if (!loop)
			goto out;
		fuse_loop_cfg_set_clone_fd(loop, opts.clone_fd);
		/* libfuse marks an option that was not given with UINT_MAX */
		if (opts.max_idle_threads != UINT_MAX)
			fuse_loop_cfg_set_idle_threads(loop, opts.max_idle_threads);
		if (opts.max_threads != UINT_MAX && opts.max_threads > 0)
			fuse_loop_cfg_set_max_threads(loop, opts.max_threads);
		r = fuse_session_loop_mt(fs.se, loop);
	}
	/*
	 * The loop returns the number of the signal that ended it (SIGTERM,
	 * SIGINT, SIGHUP from fuse_set_signal_handlers): a clean stop, as
	 * systemd's "systemctl stop" expects; -errno is a failure.
	 */
	ret = r >= 0 ? 0 : 1;
	fs_log(FS_LOG_NOTICE, "unmounting %s", opts.mountpoint);
	fs_reload_notify("STOPPING=1");
out:
	fs_control_stop(&fs);
	fs_reload_stop(&fs);
	/* Running installs end or roll back; parked requests are answered. */
	fs_flights_free(fs.flights);
	fs_view_release(&fs);
	if (fs.se) {
		if (mounted)
			fuse_session_unmount(fs.se);
		fuse_remove_signal_handlers(fs.se);
		fuse_session_destroy(fs.se);
	}
	if (loop)
		fuse_loop_cfg_destroy(loop);
	fs_inode_release(&fs);
	fs_stats_release(&fs.stats);
	fs_evict_release(&fs);
	fs_install_release(&fs);
	store_close(fs.store);
	if (fs.names)
		fs_names_unref(fs.names);
	platform_free(fs.host);
	fetch_overrides_free(fs.overrides);
	free(msg);
	free(source);
	free(store_path_abs);
	free(opts.mountpoint);
	for (i = 0; i < ol.n; i++)
		free(ol.kv[i]);
	free(ol.kv);
	fuse_opt_free_args(&args);
	fs_config_release(&cfg);
	if (fs.file_cfg)
		fs_config_release(fs.file_cfg);
	return ret;
}
