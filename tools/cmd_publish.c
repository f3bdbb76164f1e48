/*
 * cmd_publish.c - artifactctl publish: pack a tree (or take a tarball), put
 * it where it is published with its sidecar, and bind it into an
 * Artifacts.toml
 *
 * Object names are content-addressed, so "already there" means "the same
 * bytes" and an object, once published, never changes (proxies may cache
 * it forever):
 *
 *     NAME.PLATFORM.TREE16-SHA16.tar.gz
 *
 * PLATFORM is the triplet (platform_triplet(), e.g. x86_64-linux-gnu) or
 * "any" for a platform-independent artifact, TREE16 and SHA16 the first 16
 * hex digits of the git-tree-sha1 and of the tarball's sha256; a tarball
 * SOURCE keeps its compression's suffix (.tar, .tar.gz, .tar.xz, .tar.bz2,
 * .tar.zst).  The sidecar NAME....tar.gz.json beside it (tools/publish/sidecar.h)
 * records the full hashes.
 *
 * A run: every artifact is prepared (packed to an unlinked temporary file,
 * or a tarball checked), looked up (HEAD, then GET of the sidecar), and
 * uploaded unless an object with the same sha256 is already there; then,
 * once all are up, every binding is written in one atomic bind_artifacts()
 * call, so a failure anywhere leaves the Artifacts.toml as it was.  The
 * first failure stops the run.
 */
#include "tools/artifactctl.h"

#include "fetch/artifacts.h"
#include "fetch/bind.h"
#include "fetch/fetch.h"
#include "fetch/platform.h"
#include "store/hash.h"
#include "store/util/units.h"
#include "tools/publish/pack.h"
#include "tools/publish/sidecar.h"
#include "tools/publish/upload.h"
#include "tools/progress.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static void usage(FILE *f)
{
	fprintf(f,
		"usage: %s publish SOURCE --to DEST [--public-url URL] [--name NAME]\n"
		"                   [--toml FILE [--lazy]] [--platform TRIPLET]\n"
		"                   [--multi-platform | --single-platform] [--dry-run] [--force]\n"
		"                   [--json] [--endpoint-url URL] [--region REGION] [--profile NAME]\n"
		"                   [--credentials FILE] [--part-size BYTES] [--level N]\n"
		"\n"
		"Pack SOURCE (a directory, or a tarball used as it is after it is checked),\n"
		"upload it with a sidecar OBJECT.json, and bind it into an Artifacts.toml.\n"
		"A directory whose entries are all directories named as platform triplets\n"
		"(x86_64-linux-gnu/, aarch64-apple-darwin/, ...) is published as one artifact\n"
		"per platform.  Objects are named NAME.PLATFORM.TREE16-SHA16.tar.gz; one\n"
		"that is already there with the same sha256 is not uploaded again.\n"
		"\n"
		"DEST: s3://BUCKET[/PREFIX] (S3-compatible storage), http(s)://HOST/PATH\n"
		"(a server that accepts PUT, e.g. WebDAV), or file:///DIR or DIR.\n"
		"\n"
		"Options:\n"
		"  -t, --to DEST            where to upload (required)\n"
		"  -u, --public-url URL     the URL DEST is read from: PUBLIC_URL/OBJECT is\n"
		"                           bound (default: the upload URL of the object)\n"
		"  -n, --name NAME          the artifact name (default: SOURCE's base name)\n"
		"  -T, --toml FILE          bind into FILE (created when missing)\n"
		"  -p, --platform TRIPLET   the platform of SOURCE (default: independent)\n"
		"      --lazy               bind with lazy = true\n"
		"      --multi-platform     SOURCE must hold one directory per platform\n"
		"      --single-platform    publish SOURCE as one tree even if its entries\n"
		"                           look like triplets\n"
		"  -N, --dry-run            say what would happen; upload and write nothing\n"
		"  -f, --force              upload even what is already there\n"
		"      --json               print a JSON array of one object per artifact\n"
		"      --endpoint-url URL   S3 endpoint (alias --endpoint; default\n"
		"                           $AWS_ENDPOINT_URL_S3, $AWS_ENDPOINT_URL, else\n"
		"                           endpoint_url of the profile in ~/.aws/config)\n"
		"      --region REGION      S3 region (default $AWS_REGION, the profile's\n"
		"                           region in ~/.aws/config, else auto)\n"
		"      --profile NAME       profile of the credentials and config files\n"
		"      --credentials FILE   credentials file (default ~/.aws/credentials;\n"
		"                           $AWS_ACCESS_KEY_ID and $AWS_SECRET_ACCESS_KEY\n"
		"                           are used first when set)\n"
		"      --part-size BYTES    S3 multipart part size and threshold (default\n"
		"                           64MiB; 5MiB to 5GiB; K, M, G suffixes)\n"
		"  -l, --level N            gzip level 1-9 (default 6)\n"
		"  -h, --help               show this help\n"
		"\n"
		"Exit status: 0 done, 1 a step failed, 2 the Artifacts.toml is malformed,\n"
		"64 usage.\n",
		progname);
}

struct pub_opts {
	const char *source, *dest, *public_url, *name, *toml, *triplet;
	bool lazy, dry_run, force, json, multi, single;
	int level;
	struct upload_options uo;
};

enum action { ACT_UPLOAD, ACT_SKIP };

/* One artifact of the run. */
struct item {
	char *path;	       /* the directory or tarball */
	bool tarball;	       /* path is a tarball used as it is */
	struct platform *plat; /* NULL: platform independent */
	char *triplet;	       /* platform_triplet(plat), or NULL */
	int fd;		       /* the tarball: packed (unlinked) or SOURCE */
	char tree[41], sha256[65];
	uint64_t size;
	const char *suffix; /* ".tar.gz" ... */
	char *key, *url, *bind_url;
	enum action action;
};

/* ---- interruption ------------------------------------------------------------- */

/*
 * SIGINT/SIGTERM while an upload runs: the progress callback stops it, so
 * a multipart upload is aborted rather than left behind on the server (S3
 * keeps, and bills, the parts of unfinished uploads).  Outside an upload
 * the signal's default action applies.
 */
static volatile sig_atomic_t uploading, interrupted;

static void on_signal(int sig)
{
	if (uploading) {
		interrupted = sig;
		return;
	}
	signal(sig, SIG_DFL);
	raise(sig);
}

/* ---- progress ------------------------------------------------------------------- */

static struct ctl_bar bar;

static void on_pack_progress(uint64_t done, uint64_t total, void *arg)
{
	ctl_bar_draw(&bar, done, total, false);
}

static bool on_upload_progress(void *arg, uint64_t now, uint64_t total)
{
	if (interrupted)
		return false;
	ctl_bar_draw(&bar, now, total, true);
	return true;
}

/* ---- options ----------------------------------------------------------------------- */

static void parse_args(int argc, char **argv, struct pub_opts *o)
{
	enum {
		OPT_LAZY = 256,
		OPT_MULTI,
		OPT_SINGLE,
		OPT_JSON,
		OPT_ENDPOINT,
		OPT_REGION,
		OPT_PROFILE,
		OPT_CREDENTIALS,
		OPT_PART_SIZE,
	};
	static const struct option longopts[] = {
		{"to", required_argument, NULL, 't'},
		{"public-url", required_argument, NULL, 'u'},
		{"name", required_argument, NULL, 'n'},
		{"toml", required_argument, NULL, 'T'},
		{"platform", required_argument, NULL, 'p'},
		{"lazy", no_argument, NULL, OPT_LAZY},
		{"multi-platform", no_argument, NULL, OPT_MULTI},
		{"single-platform", no_argument, NULL, OPT_SINGLE},
		{"dry-run", no_argument, NULL, 'N'},
		{"force", no_argument, NULL, 'f'},
		{"json", no_argument, NULL, OPT_JSON},
		{"endpoint-url", required_argument, NULL, OPT_ENDPOINT},
		{"endpoint", required_argument, NULL, OPT_ENDPOINT},
		{"region", required_argument, NULL, OPT_REGION},
		{"profile", required_argument, NULL, OPT_PROFILE},
		{"credentials", required_argument, NULL, OPT_CREDENTIALS},
		{"part-size", required_argument, NULL, OPT_PART_SIZE},
		{"level", required_argument, NULL, 'l'},
		CTL_OPTIONS_END,
	};
	static const struct ctl_getopt g = {
		"publish", ":ht:u:n:T:p:Nfl:", longopts, usage, "a value", false,
	};
	char *end;
	long n;
	int c;

	o->level = -1;
	upload_options_init(&o->uo);
	while ((c = ctl_getopt(argc, argv, &g)) != -1) {
		switch (c) {
		case 't':
			o->dest = optarg;
			break;
		case 'u':
			o->public_url = optarg;
			break;
		case 'n':
			o->name = optarg;
			break;
		case 'T':
			o->toml = optarg;
			break;
		case 'p':
			o->triplet = optarg;
			break;
		case OPT_LAZY:
			o->lazy = true;
			break;
		case OPT_MULTI:
			o->multi = true;
			break;
		case OPT_SINGLE:
			o->single = true;
			break;
		case 'N':
			o->dry_run = true;
			break;
		case 'f':
			o->force = true;
			break;
		case OPT_JSON:
			o->json = true;
			break;
		case OPT_ENDPOINT:
			o->uo.endpoint = optarg;
			break;
		case OPT_REGION:
			o->uo.region = optarg;
			break;
		case OPT_PROFILE:
			o->uo.profile = optarg;
			break;
		case OPT_CREDENTIALS:
			o->uo.credentials = optarg;
			break;
		case OPT_PART_SIZE:
			if (units_parse_bytes(optarg, &o->uo.part_size) < 0)
				ctl_usage_error("publish", "invalid --part-size '%s': bytes "
								   "expected (K, M, G suffixes)",
					optarg);
			if (o->uo.part_size < UPLOAD_PART_SIZE_MIN ||
				o->uo.part_size > UPLOAD_PART_SIZE_MAX)
				ctl_usage_error("publish", "invalid --part-size '%s': 5MiB to 5GiB",
					optarg);
			break;
		case 'l':
			errno = 0;
			n = strtol(optarg, &end, 10);
			if (errno || end == optarg || *end || n < 1 || n > 9)
				ctl_usage_error("publish", "invalid --level '%s': 1 to 9", optarg);
			o->level = (int)n;
			break;
		}
	}
	if (optind == argc)
		ctl_usage_error("publish", "missing SOURCE");
	if (optind + 1 < argc)
		ctl_usage_error("publish", "unexpected argument '%s'", argv[optind + 1]);
	o->source = argv[optind];
	if (!o->dest)
		ctl_usage_error("publish", "missing --to DEST");
	if (o->multi && o->single)
		ctl_usage_error(
			"publish", "--multi-platform and --single-platform exclude each other");
	if (o->lazy && !o->toml)
		ctl_usage_error("publish", "--lazy needs --toml");
	if (o->public_url && !*o->public_url)
		ctl_usage_error("publish", "empty --public-url");
}

/* An artifact name must make a sane object name: no '/', no control bytes, no leading '.'. */
static bool name_valid(const char *name)
{
	const char *p;

	if (!*name || *name == '.' || strlen(name) > 200)
		return false;
	for (p = name; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f || *p == '/' || *p == '\\')
			return false;
	return true;
}

/* SOURCE's base name without a tarball suffix: the default artifact name. */
static char *default_name(const char *source)
{
	static const char *const sfx[] = {
		".tar.gz", ".tgz", ".tar.xz", ".tar.bz2", ".tar.zst", ".tar"};
	char *s = strdup(source), *base;
	size_t n, i, k;

	if (!s)
		return NULL;
	while ((n = strlen(s)) > 1 && s[n - 1] == '/')
		s[n - 1] = '\0';
	base = strrchr(s, '/') ? strrchr(s, '/') + 1 : s;
	memmove(s, base, strlen(base) + 1);
	n = strlen(s);
	for (i = 0; i < sizeof(sfx) / sizeof(sfx[0]); i++) {
		k = strlen(sfx[i]);
		if (n > k && strcmp(s + n - k, sfx[i]) == 0) {
			s[n - k] = '\0';
			break;
		}
	}
	return s;
}

/* ---- the artifacts of SOURCE ---------------------------------------------------------- */

static void item_release(struct item *it)
{
	platform_free(it->plat);
	free(it->path);
	free(it->triplet);
	free(it->key);
	free(it->url);
	free(it->bind_url);
	if (it->fd >= 0)
		close(it->fd);
}

static int set_platform(struct item *it, const char *triplet)
{
	int r;

	if ((r = platform_parse(triplet, &it->plat)) < 0)
		return r;
	return platform_triplet(it->plat, &it->triplet);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void free_names(char **names, size_t n)
{
	size_t i;

	for (i = 0; names && i < n; i++)
		free(names[i]);
	free(names);
}

/*
 * Whether dir holds one directory per platform: every entry (dot files
 * included) is a directory, not a symlink, whose name platform_parse()
 * accepts, and there is at least one.  *names gets them sorted.
 */
static int platform_dirs(const char *dir, char ***names, size_t *n, bool *all)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char **v = NULL, **nv;
	size_t cnt = 0, cap = 0;
	bool bad = false;
	int r = 0;

	*all = false;
	if (!d)
		return -errno;
	while (!bad && (errno = 0, de = readdir(d))) {
		struct platform *p = NULL;
		struct stat st;

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
			!S_ISDIR(st.st_mode) || platform_parse(de->d_name, &p) < 0) {
			bad = true;
			break;
		}
		platform_free(p);
		if (cnt == cap) {
			cap = cap ? 2 * cap : 8;
			nv = realloc(v, cap * sizeof(*v));
			if (!nv) {
				r = -ENOMEM;
				break;
			}
			v = nv;
		}
		if (!(v[cnt] = strdup(de->d_name))) {
			r = -ENOMEM;
			break;
		}
		cnt++;
	}
	if (r == 0 && !bad && errno)
		r = -errno;
	closedir(d);
	if (r == 0 && !bad && cnt > 0) {
		qsort(v, cnt, sizeof(*v), cmp_str);
		*names = v;
		*n = cnt;
		*all = true;
		return 0;
	}
	free_names(v, cnt);
	return r;
}

/* The items of SOURCE; prints the message and returns an exit status on failure. */
static int collect(const struct pub_opts *o, struct item **ret, size_t *n)
{
	struct item *items = NULL;
	struct stat st;
	char **names = NULL;
	size_t cnt = 0, i;
	bool all = false;
	int r, status = EXIT_FAIL;

	if (stat(o->source, &st) < 0) {
		ctl_warne(-errno, "cannot publish '%s'", o->source);
		return EXIT_FAIL;
	}
	if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode)) {
		ctl_warnx("cannot publish '%s': neither a directory nor a tarball", o->source);
		return EXIT_FAIL;
	}
	if (S_ISDIR(st.st_mode) && !o->single) {
		r = platform_dirs(o->source, &names, &cnt, &all);
		if (r < 0) {
			ctl_warne(r, "cannot read '%s'", o->source);
			return EXIT_FAIL;
		}
	}
	if (o->multi && !all) {
		ctl_warnx("'%s' is not one directory per platform: every entry must be a directory "
			  "named as a platform triplet",
			o->source);
		status = EXIT_USAGE;
		goto out;
	}
	if (all && o->triplet) {
		ctl_warnx("'%s' holds one directory per platform: --platform applies to a single "
			  "tree (use --single-platform to publish it as one)",
			o->source);
		status = EXIT_USAGE;
		goto out;
	}
	if (!all)
		cnt = 1;
	items = calloc(cnt, sizeof(*items));
	if (!items) {
		ctl_warne(-ENOMEM, "publish");
		goto out;
	}
	for (i = 0; i < cnt; i++)
		items[i].fd = -1;
	for (i = 0; i < cnt; i++) {
		r = 0;
		if (all && asprintf(&items[i].path, "%s/%s", o->source, names[i]) < 0)
			items[i].path = NULL;
		else if (!all)
			items[i].path = strdup(o->source);
		if (!items[i].path)
			r = -ENOMEM;
		items[i].tarball = S_ISREG(st.st_mode);
		if (r == 0 && all) {
			r = set_platform(&items[i], names[i]);
		} else if (r == 0 && o->triplet) {
			r = set_platform(&items[i], o->triplet);
			if (r == -EINVAL) {
				ctl_warnx("invalid --platform '%s': a triplet expected, "
					  "e.g. x86_64-linux-gnu",
					o->triplet);
				status = EXIT_USAGE;
				goto out;
			}
		}
		if (r < 0) {
			ctl_warne(r, "cannot use the platform of '%s'", items[i].path);
			goto out;
		}
	}
	if (all)
		ctl_warnx("'%s' holds one directory per platform: publishing %zu artifacts "
			  "(--single-platform publishes it as one tree)",
			o->source, cnt);
	*ret = items;
	*n = cnt;
	items = NULL;
	status = EXIT_OK;
out:
	for (i = 0; items && i < cnt; i++)
		item_release(&items[i]);
	free(items);
	free_names(names, all ? cnt : 0);
	return status;
}

/* ---- one artifact ------------------------------------------------------------------------ */

/* An unlinked temporary file in $TMPDIR for the packed tarball. */
static int temp_fd(void)
{
	const char *dir = getenv("TMPDIR");
	char *path;
	int fd;

	if (!dir || !*dir)
		dir = "/tmp";
	fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd >= 0 || (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL))
		return fd >= 0 ? fd : -errno;
	if (asprintf(&path, "%s/artifactctl-publish.XXXXXX", dir) < 0)
		return -ENOMEM;
	fd = mkostemp(path, O_CLOEXEC);
	if (fd >= 0)
		unlink(path);
	else
		fd = -errno;
	free(path);
	return fd;
}

static const char *suffix_of(const char *compression)
{
	if (strcmp(compression, "gzip") == 0)
		return ".tar.gz";
	if (strcmp(compression, "xz") == 0)
		return ".tar.xz";
	if (strcmp(compression, "bzip2") == 0)
		return ".tar.bz2";
	if (strcmp(compression, "zstd") == 0)
		return ".tar.zst";
	return ".tar";
}

static const char *content_type(const char *suffix)
{
	if (strcmp(suffix, ".tar.gz") == 0)
		return "application/gzip";
	if (strcmp(suffix, ".tar.xz") == 0)
		return "application/x-xz";
	if (strcmp(suffix, ".tar.bz2") == 0)
		return "application/x-bzip2";
	if (strcmp(suffix, ".tar.zst") == 0)
		return "application/zstd";
	return "application/x-tar";
}

/* Pack the directory (or check the tarball): fd, hashes, size, suffix. */
static int prepare(const struct pub_opts *o, const char *name, struct item *it)
{
	struct pack_opts po = {.compress = PACK_COMPRESS_GZIP, .level = o->level};
	struct fetch_digests d;
	struct pack_result pr;
	struct stat st;
	char *msg = NULL, what[512];
	int r;

	if (it->tarball) {
		it->fd = open(it->path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
		if (it->fd < 0 || fstat(it->fd, &st) < 0) {
			r = -errno;
			ctl_warne(r, "cannot open '%s'", it->path);
			return r;
		}
		r = fetch_hash_tarball(it->fd, it->path, &d, &msg);
		if (r < 0) {
			ctl_warnx("'%s' is not a tarball Julia accepts: %s", it->path,
				msg ? msg : strerror(-r));
			free(msg);
			return r;
		}
		if (d.tarball_bytes != (uint64_t)st.st_size) {
			ctl_warnx("'%s' changed while it was read", it->path);
			return -EIO;
		}
		hash_to_hex(d.tree, HASH_SHA1_LEN, it->tree);
		hash_to_hex(d.sha256, HASH_SHA256_LEN, it->sha256);
		it->size = d.tarball_bytes;
		it->suffix = suffix_of(d.compression);
		return 0;
	}
	it->fd = temp_fd();
	if (it->fd < 0) {
		r = it->fd;
		ctl_warne(r, "cannot create a temporary file in '%s'",
			getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
		return r;
	}
	snprintf(what, sizeof(what), "packing %s%s%s", name, it->triplet ? " " : "",
		it->triplet ? it->triplet : "");
	ctl_bar_start(&bar, what);
	if (bar.tty) {
		po.progress = on_pack_progress;
		po.progress_arg = it;
	}
	r = pack_write(AT_FDCWD, it->path, it->fd, &po, &pr, &msg);
	ctl_bar_clear(&bar);
	if (r < 0) {
		ctl_warnx("cannot pack '%s': %s", it->path, msg ? msg : strerror(-r));
		free(msg);
		return r;
	}
	hash_to_hex(pr.tree, HASH_SHA1_LEN, it->tree);
	hash_to_hex(pr.sha256, HASH_SHA256_LEN, it->sha256);
	it->size = pr.size;
	it->suffix = pack_compress_suffix(pr.compress);
	return 0;
}

static int name_object(
	const struct pub_opts *o, struct upload *u, const char *name, struct item *it)
{
	int r;

	if (asprintf(&it->key, "%s.%s.%.16s-%.16s%s", name, it->triplet ? it->triplet : "any",
		    it->tree, it->sha256, it->suffix) < 0) {
		it->key = NULL;
		return -ENOMEM;
	}
	if ((r = upload_url(u, it->key, &it->url)) < 0) {
		ctl_warnx("cannot name the object of '%s' ('%s'): %s", name, it->key, strerror(-r));
		return r;
	}
	if (o->public_url)
		r = upload_join_url(o->public_url, it->key, &it->bind_url);
	else
		r = (it->bind_url = strdup(it->url)) ? 0 : -ENOMEM;
	return r;
}

static int put_sidecar(struct upload *u, const char *name, const struct item *it)
{
	struct sidecar sc = {.size = it->size};
	char created[21], *json = NULL, *key = NULL;
	size_t len;
	int r;

	sc.name = (char *)name;
	sc.platform = it->triplet;
	memcpy(sc.tree, it->tree, sizeof(sc.tree));
	memcpy(sc.sha256, it->sha256, sizeof(sc.sha256));
	sidecar_now(created);
	sc.created = created;
	sc.tool = (char *)"artifactctl (artifactfs) " ARTIFACTFS_VERSION;
	if ((r = sidecar_format(&sc, &json, &len)) < 0 || asprintf(&key, "%s.json", it->key) < 0) {
		key = NULL;
		r = r < 0 ? r : -ENOMEM;
		ctl_warne(r, "cannot write the sidecar of '%s'", it->url);
		goto out;
	}
	r = upload_put_buf(u, key, json, len, "application/json");
	if (r < 0)
		ctl_warnx("%s", upload_errmsg(u));
out:
	free(json);
	free(key);
	return r;
}

/* Look up, then upload unless the same bytes are there; prints what happens. */
static int publish_one(
	const struct pub_opts *o, struct upload *u, const char *name, struct item *it)
{
	const char *plat = it->triplet ? it->triplet : "any";
	struct upload_stat st;
	char what[512];
	int r;

	r = upload_head(u, it->key, &st);
	if (r < 0) {
		ctl_warnx("%s", upload_errmsg(u));
		return r;
	}
	it->action = ACT_UPLOAD;
	if (st.exists && st.has_sidecar && strcmp(st.sha256, it->sha256) == 0 &&
		st.size == it->size) {
		it->action = ACT_SKIP;
		if (o->force)
			it->action = ACT_UPLOAD;
		ctl_warnx("%s %s: '%s' is already there with sha256 %.16s...%s%s", name, plat,
			it->url, it->sha256, o->force ? "; uploading it again (--force)" : "",
			o->dry_run && !o->force ? "; it would not be uploaded" : "");
	} else if (st.exists) {
		ctl_warnx("%s %s: '%s' is there %s; %s", name, plat, it->url,
			st.has_sidecar ? "with another sha256" : "without its sidecar",
			o->dry_run ? "it would be uploaded again" : "uploading it again");
	}
	if (o->dry_run || it->action == ACT_SKIP)
		return 0;

	snprintf(what, sizeof(what), "uploading %s %s", name, plat);
	ctl_bar_start(&bar, what);
	uploading = 1;
	r = upload_put_fd(
		u, it->key, it->fd, it->size, content_type(it->suffix), on_upload_progress, it);
	uploading = 0;
	ctl_bar_clear(&bar);
	if (r < 0) {
		ctl_warnx("%s", upload_errmsg(u));
		return r;
	}
	if (interrupted) {
		ctl_warnx("interrupted");
		return -ECANCELED;
	}
	return put_sidecar(u, name, it);
}

/* ---- binding -----------------------------------------------------------------------------------
 */

/*
 * The other mirrors of the same bytes already bound for this name and
 * platform (same git-tree-sha1 and sha256, another URL) stay, after ours,
 * so re-publishing does not drop a mirror added with "artifactctl bind".
 */
static int keep_mirrors(const struct artifacts *a, const char *name, const struct item *it,
	struct bind_download **ret, size_t *n)
{
	const struct artifact_entry *const *ents;
	const struct artifact_download *d;
	struct bind_download *v;
	size_t ne = 0, nd, i, k, cnt = 1;
	char *msg = NULL;

	if (!a || artifacts_entries(a, name, &ents, &ne, &msg) < 0)
		ne = 0;
	free(msg);
	for (i = 0; i < ne; i++)
		cnt += artifact_entry_downloads(ents[i], &d);
	v = calloc(cnt, sizeof(*v));
	if (!v)
		return -ENOMEM;
	v[0].url = it->bind_url;
	v[0].sha256 = it->sha256;
	v[0].size = it->size;
	*n = 1;
	for (i = 0; i < ne; i++) {
		const struct platform *p = artifact_entry_platform(ents[i]);
		const char *h = artifact_entry_hash(ents[i]);

		if (!h || strcmp(h, it->tree) != 0 || (!p) != (!it->plat) ||
			(p && !platform_equal(p, it->plat)))
			continue;
		nd = artifact_entry_downloads(ents[i], &d);
		for (k = 0; k < nd; k++)
			if (d[k].sha256 && strcmp(d[k].sha256, it->sha256) == 0 &&
				strcmp(d[k].url, it->bind_url) != 0)
				v[(*n)++] =
					(struct bind_download){d[k].url, d[k].sha256, d[k].size};
	}
	*ret = v;
	return 0;
}

static int bind_all(const struct pub_opts *o, const char *name, struct item *items, size_t n)
{
	struct bind_request *reqs = calloc(n, sizeof(*reqs));
	struct bind_download **dl = calloc(n, sizeof(*dl));
	struct artifacts *a = NULL;
	char *msg = NULL;
	size_t i;
	int r = 0, status = EXIT_OK;

	if (!reqs || !dl) {
		r = -ENOMEM;
		goto out;
	}
	if (artifacts_load(o->toml, &a, &msg) < 0)
		a = NULL; /* a missing file is created; a broken one is reported by the bind */
	free(msg);
	msg = NULL;
	for (i = 0; i < n && r == 0; i++) {
		reqs[i].name = name;
		reqs[i].hash = items[i].tree;
		reqs[i].platform = items[i].plat;
		reqs[i].flags = BIND_FORCE | (o->lazy ? BIND_LAZY : 0);
		r = keep_mirrors(a, name, &items[i], &dl[i], &reqs[i].ndownloads);
		reqs[i].downloads = dl[i];
	}
	if (r == 0)
		r = bind_artifacts(o->toml, reqs, n, &msg);
	if (r < 0) {
		if (msg)
			ctl_warnx("cannot bind '%s' in '%s': %s", name, o->toml, msg);
		else
			ctl_warne(r, "cannot bind '%s' in '%s'", name, o->toml);
		status = r == -EINVAL || r == -E2BIG ? EXIT_MALFORMED : EXIT_FAIL;
	}
out:
	if (r == -ENOMEM && !msg && status == EXIT_OK) {
		ctl_warne(r, "publish");
		status = EXIT_FAIL;
	}
	for (i = 0; dl && i < n; i++)
		free(dl[i]);
	free(dl);
	free(reqs);
	free(msg);
	artifacts_free(a);
	return status;
}

/* ---- output -------------------------------------------------------------------------------------
 */

/*
 * One artifact's line, or with --json its object in the one JSON array of
 * the run: "[\n  {...},\n  {...}\n]\n" as "artifactctl ls --json" prints.
 * i counts from 0 among n.
 */
static void report(const struct pub_opts *o, const char *name, const struct item *it, size_t i,
	size_t n)
{
	const char *act = it->action == ACT_SKIP ? (o->dry_run ? "would-skip" : "skipped")
						 : (o->dry_run ? "would-upload" : "uploaded");

	if (!o->json) {
		printf("%s %s %s %s\n", name, it->triplet ? it->triplet : "any", act, it->bind_url);
		return;
	}
	ctl_json_row(json_pack("{s:o, s:o, s:s, s:s, s:I, s:o, s:o, s:s, s:o}", "name",
			     sidecar_json_str(name), "platform", sidecar_json_str(it->triplet),
			     "git-tree-sha1", it->tree, "sha256", it->sha256, "size",
			     (json_int_t)it->size, "object", sidecar_json_str(it->url), "url",
			     sidecar_json_str(it->bind_url), "action", act, "toml",
			     sidecar_json_str(o->dry_run ? NULL : o->toml)),
		i);
	if (i + 1 == n)
		ctl_json_rows_end(n);
}

int cmd_publish(int argc, char **argv)
{
	struct pub_opts o = {0};
	struct item *items = NULL;
	struct upload *u = NULL;
	struct sigaction sa;
	char *name = NULL, *msg = NULL;
	size_t n = 0, i;
	int r, status;

	parse_args(argc, argv, &o);
	name = o.name ? strdup(o.name) : default_name(o.source);
	if (!name)
		ctl_erre(EXIT_FAIL, -ENOMEM, "publish");
	if (!name_valid(name))
		ctl_usage_error("publish",
			"invalid artifact name '%s'%s: no '/', no control characters, no leading "
			"'.'",
			name, o.name ? "" : " (from SOURCE; give --name)");
	ctl_bar_init(&bar, 0);

	status = collect(&o, &items, &n);
	if (status != EXIT_OK)
		goto out;
	status = EXIT_FAIL;
	if ((r = fetch_global_init()) < 0) {
		ctl_warne(r, "cannot initialise libcurl");
		goto out;
	}
	r = upload_new(o.dest, &o.uo, &u, &msg);
	if (r < 0) {
		ctl_warnx("%s", msg ? msg : strerror(-r));
		status = r == -EINVAL || r == -EPROTONOSUPPORT ? EXIT_USAGE : EXIT_FAIL;
		goto out;
	}
	if (upload_kind(u) == UPLOAD_S3 && !upload_signed(u) && !o.dry_run) {
		ctl_warnx("no S3 credentials for '%s': set AWS_ACCESS_KEY_ID and "
			  "AWS_SECRET_ACCESS_KEY, or use ~/.aws/credentials, --credentials, "
			  "--profile",
			o.dest);
		goto out;
	}
	if (upload_kind(u) == UPLOAD_S3 && !o.public_url && o.toml)
		ctl_warnx("no --public-url: binding the S3 API URL of each object, which readers "
			  "can download only if the bucket is public");

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	for (i = 0; i < n; i++) {
		if (prepare(&o, name, &items[i]) < 0 || name_object(&o, u, name, &items[i]) < 0 ||
			publish_one(&o, u, name, &items[i]) < 0)
			goto out;
		/* the tarball is not needed any more: free its disk space now */
		close(items[i].fd);
		items[i].fd = -1;
	}
	if (o.toml && o.dry_run) {
		for (i = 0; i < n; i++)
			ctl_warnx("would bind %s %s to %s in '%s'", name,
				items[i].triplet ? items[i].triplet : "any", items[i].tree, o.toml);
	} else if (o.toml) {
		status = bind_all(&o, name, items, n);
		if (status != EXIT_OK)
			goto out;
	}
	for (i = 0; i < n; i++)
		report(&o, name, &items[i], i, n);
	if (fflush(stdout) == EOF || ferror(stdout)) {
		ctl_warne(-errno, "cannot write to standard output");
		goto out;
	}
	status = EXIT_OK;
out:
	for (i = 0; items && i < n; i++)
		item_release(&items[i]);
	free(items);
	free(msg);
	free(name);
	upload_free(u);
	return status;
}
