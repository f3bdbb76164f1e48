/*
 * cmd_publish.c - artifactctl publish: pack trees (or take tarballs), put
 * them where they are published with their sidecars, and bind them into an
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
 * records the full hashes and the publisher's --meta.
 *
 * A run: the SOURCEs (and the sub-directories of --each DIR) become a list
 * of artifacts, one per platform directory.  Each is handled by one of
 * --jobs workers, each with its own struct upload: a directory's tree is
 * hashed and looked up among the published sidecars (tools/publish/lookup.h)
 * and, when that tree is there, skipped without packing; otherwise it is
 * packed to an unlinked temporary file (a tarball SOURCE is checked), looked
 * up by its object key (HEAD, then GET of the sidecar) and uploaded unless
 * the same sha256 is there.  A failing artifact does not stop the others.
 * Then every binding of the SOURCEs that did not fail is written in one
 * atomic bind_artifacts() call, and a summary table closes the run.
 *
 * A GitHub release (tools/publish/upload_github.c) binds each asset's
 * browser_download_url, and holds one asset per artifact and platform: an
 * earlier NAME.PLATFORM.* asset stops that artifact unless --force, which
 * deletes it once the new one is up (release_siblings()).
 */
#include "tools/artifactctl.h"

#include "fetch/artifacts.h"
#include "fetch/bind.h"
#include "fetch/fetch.h"
#include "fetch/platform.h"
#include "store/hash.h"
#include "store/util/units.h"
#include "tools/publish/lookup.h"
#include "tools/publish/pack.h"
#include "tools/publish/sidecar.h"
#include "tools/publish/upload.h"
#include "tools/progress.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define SEEKIDX_SUFFIX ".seekidx" /* the seek index beside a tarball, <key>.seekidx */
#define JOBS_DEFAULT 4
#define JOBS_MAX 32

static void usage(FILE *f)
{
	fprintf(f,
		"usage: %s publish SOURCE... --to DEST [--public-url URL] [--name NAME]\n"
		"       %s publish --each DIR --to DEST [options]\n"
		"                   [--toml FILE [--lazy]] [--platform TRIPLET]\n"
		"                   [--multi-platform | --single-platform] [--dry-run] [--force]\n"
		"                   [--jobs N] [--meta KEY=VALUE]... [--meta-file FILE.json]\n"
		"                   [--json] [--endpoint-url URL] [--region REGION] [--profile "
		"NAME]\n"
		"                   [--credentials FILE] [--part-size BYTES] [--level N]\n"
		"                   [--pack-jobs N] [--no-seek-index]\n"
		"                   [--token-file FILE] [--release-name NAME]\n"
		"                   [--target COMMITISH] [--draft] [--prerelease]\n"
		"\n"
		"Pack each SOURCE (a directory, or a tarball used as it is after it is\n"
		"checked), upload it with a sidecar OBJECT.json, and bind it into an\n"
		"Artifacts.toml.  A directory whose entries are all directories named as\n"
		"platform triplets (x86_64-linux-gnu/, aarch64-apple-darwin/, ...) is\n"
		"published as one artifact per platform.  Objects are named\n"
		"NAME.PLATFORM.TREE16-SHA16.tar.gz.  A directory whose tree is already\n"
		"published is skipped before it is packed (\"unchanged, not packed\"); a\n"
		"tarball already there with the same sha256 is not uploaded again.  A\n"
		"summary table ends the run; a failing artifact does not stop the others.\n"
		"\n"
		"DEST: s3://BUCKET[/PREFIX] (S3-compatible storage), http(s)://HOST/PATH\n"
		"(a server that accepts PUT, e.g. WebDAV), github://OWNER/REPO/TAG or\n"
		"https://github.com/OWNER/REPO/releases/tag/TAG (assets of a GitHub release,\n"
		"created when missing; token from $GITHUB_TOKEN or $GH_TOKEN), or\n"
		"file:///DIR or DIR.\n"
		"\n"
		"Options:\n"
		"  -t, --to DEST            where to upload (required)\n"
		"  -u, --public-url URL     the URL DEST is read from: PUBLIC_URL/OBJECT is\n"
		"                           bound (default: the upload URL of the object)\n"
		"  -n, --name NAME          the artifact name (default: SOURCE's base name;\n"
		"                           one SOURCE only)\n"
		"  -e, --each DIR           publish every sub-directory of DIR as an artifact\n"
		"                           named after it\n"
		"  -j, --jobs N             artifacts handled at once (default 4, at most 32;\n"
		"                           1 for a GitHub release)\n"
		"  -m, --meta KEY=VALUE     add KEY to the sidecar's meta object (repeatable)\n"
		"      --meta-file FILE     a JSON object merged into the sidecar's meta\n"
		"                           (--meta keys win)\n"
		"  -T, --toml FILE          bind into FILE (created when missing)\n"
		"  -p, --platform TRIPLET   the platform of SOURCE (default: independent)\n"
		"      --lazy               bind with lazy = true\n"
		"      --multi-platform     SOURCE must hold one directory per platform\n"
		"      --single-platform    publish SOURCE as one tree even if its entries\n"
		"                           look like triplets\n"
		"  -N, --dry-run            say per artifact: would upload, unchanged or\n"
		"                           changed; upload and write nothing\n"
		"  -f, --force              pack and upload even what is already there\n"
		"                           (GitHub: replace an asset of the same name or\n"
		"                           platform)\n"
		"      --json               print a JSON array of one object per "
		"artifact\n" CTL_S3_HELP
		"      --credentials FILE   credentials file (default ~/.aws/credentials;\n"
		"                           $AWS_ACCESS_KEY_ID and $AWS_SECRET_ACCESS_KEY\n"
		"                           are used first when set)\n"
		"      --part-size BYTES    S3 multipart part size and threshold (default\n"
		"                           64MiB; 5MiB to 5GiB; K, M, G suffixes)\n"
		"  -l, --level N            gzip level 1-9 (default 6)\n"
		"      --pack-jobs N        compression threads per artifact packed, 1 to 64\n"
		"                           (default: the cores shared by the --jobs\n"
		"                           workers); the bytes do not depend on it\n"
		"      --no-seek-index      upload no OBJECT.seekidx beside a gzip tarball\n"
		"                           (by default one is, and bound as seek_index)\n"
		"      --token-file FILE    GitHub token file, mode 600 (default $GITHUB_TOKEN,\n"
		"                           else $GH_TOKEN)\n"
		"      --release-name NAME  name of a GitHub release created (default: TAG)\n"
		"      --target COMMITISH   branch or commit a release created is tagged at\n"
		"      --draft              create the GitHub release as a draft\n"
		"      --prerelease         create the GitHub release as a prerelease\n"
		"  -h, --help               show this help\n"
		"\n"
		"Exit status: 0 done, 1 an artifact failed, 2 the Artifacts.toml is\n"
		"malformed, 64 usage.\n",
		progname, progname);
}

struct pub_opts {
	char **sources; /* argv's SOURCEs */
	size_t nsources;
	const char *each, *dest, *public_url, *name, *toml, *triplet;
	bool lazy, dry_run, force, json, multi, single;
	bool no_seek_index; /* --no-seek-index: no <tarball>.seekidx, no seek_index key */
	int level;
	int pack_jobs; /* compression threads per pack; 0: share the cores */
	unsigned jobs;
	json_t *meta; /* --meta-file then --meta; NULL: none */
	struct upload_options uo;
};

enum action { ACT_UPLOAD, ACT_SKIP, ACT_FAIL };

/* One artifact of the run. */
struct item {
	char *name;	       /* the artifact name (malloc'ed) */
	size_t source;	       /* index of its SOURCE: binding is all or nothing per SOURCE */
	char *path;	       /* the directory or tarball */
	bool tarball;	       /* path is a tarball used as it is */
	struct platform *plat; /* NULL: platform independent */
	char *triplet;	       /* platform_triplet(plat), or NULL */
	int fd;		       /* the tarball: packed (unlinked) or SOURCE */
	char tree[41], sha256[65];
	uint64_t size;
	const char *suffix; /* ".tar.gz" ... */
	char *key, *url, *bind_url;
	char *seek_url; /* the URL of <key>.seekidx to bind as seek_index; NULL: none */
	enum action action;
	enum lookup_state state; /* 0: not looked up before packing */
	bool packed;		 /* packed (or checked) in this run */
};

/* ---- interruption ------------------------------------------------------------- */

/*
 * SIGINT/SIGTERM while an upload runs: the progress callback stops it, so
 * a multipart upload is aborted rather than left behind on the server (S3
 * keeps, and bills, the parts of unfinished uploads), and no worker starts
 * another artifact.  Outside an upload the signal's default action applies.
 */
static atomic_int uploading;
static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
	if (atomic_load(&uploading) > 0) {
		interrupted = sig;
		return;
	}
	signal(sig, SIG_DFL);
	raise(sig);
}

/* ---- progress (drawn only with one job) ------------------------------------------ */

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

/* --meta-file: a JSON object; any other content ends the command with the file named. */
static void load_meta_file(struct pub_opts *o, const char *path)
{
	json_error_t jerr;
	json_t *v = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);

	if (!v)
		ctl_errx(EXIT_USAGE, "publish: invalid --meta-file '%s': %s (line %d, column %d)",
			path, jerr.text, jerr.line, jerr.column);
	if (!json_is_object(v))
		ctl_errx(EXIT_USAGE, "publish: invalid --meta-file '%s': a JSON object expected",
			path);
	if (!o->meta && !(o->meta = json_object()))
		ctl_erre(EXIT_FAIL, -ENOMEM, "publish");
	/* keys of --meta given before the file still win */
	if (json_object_update_missing(o->meta, v) < 0)
		ctl_erre(EXIT_FAIL, -ENOMEM, "publish");
	json_decref(v);
}

static void add_meta(struct pub_opts *o, const char *kv)
{
	const char *eq = strchr(kv, '=');
	json_t *s;
	char *k;

	if (!eq || eq == kv)
		ctl_usage_error("publish", "invalid --meta '%s': KEY=VALUE expected", kv);
	if (!(k = strndup(kv, (size_t)(eq - kv))))
		ctl_erre(EXIT_FAIL, -ENOMEM, "publish");
	if (!(s = json_string(eq + 1)))
		ctl_usage_error("publish", "invalid --meta '%s': not UTF-8", kv);
	if ((!o->meta && !(o->meta = json_object())) || json_object_set_new(o->meta, k, s) < 0)
		ctl_usage_error("publish", "invalid --meta '%s': not UTF-8", kv);
	free(k);
}

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
		OPT_META_FILE,
		OPT_TOKEN_FILE,
		OPT_RELEASE_NAME,
		OPT_TARGET,
		OPT_DRAFT,
		OPT_PRERELEASE,
		OPT_PACK_JOBS,
		OPT_NO_SEEK_INDEX,
	};
	static const struct option longopts[] = {
		{"to", required_argument, NULL, 't'},
		{"public-url", required_argument, NULL, 'u'},
		{"name", required_argument, NULL, 'n'},
		{"each", required_argument, NULL, 'e'},
		{"jobs", required_argument, NULL, 'j'},
		{"meta", required_argument, NULL, 'm'},
		{"meta-file", required_argument, NULL, OPT_META_FILE},
		{"token-file", required_argument, NULL, OPT_TOKEN_FILE},
		{"release-name", required_argument, NULL, OPT_RELEASE_NAME},
		{"target", required_argument, NULL, OPT_TARGET},
		{"draft", no_argument, NULL, OPT_DRAFT},
		{"prerelease", no_argument, NULL, OPT_PRERELEASE},
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
		{"pack-jobs", required_argument, NULL, OPT_PACK_JOBS},
		{"no-seek-index", no_argument, NULL, OPT_NO_SEEK_INDEX},
		CTL_OPTIONS_END,
	};
	static const struct ctl_getopt g = {
		"publish",
		":ht:u:n:e:j:m:T:p:Nfl:",
		longopts,
		usage,
		"a value",
		false,
	};
	const char *meta_file = NULL;
	char *end;
	long n;
	int c;

	o->level = -1;
	o->jobs = JOBS_DEFAULT;
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
		case 'e':
			o->each = optarg;
			break;
		case 'j':
			errno = 0;
			n = strtol(optarg, &end, 10);
			if (errno || end == optarg || *end || n < 1 || n > JOBS_MAX)
				ctl_usage_error("publish", "invalid --jobs '%s': 1 to %d", optarg,
					JOBS_MAX);
			o->jobs = (unsigned)n;
			break;
		case 'm':
			add_meta(o, optarg);
			break;
		case OPT_META_FILE:
			meta_file = optarg;
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
			o->force = o->uo.replace = true;
			break;
		case OPT_TOKEN_FILE:
			o->uo.token_file = optarg;
			break;
		case OPT_RELEASE_NAME:
			o->uo.release_name = optarg;
			break;
		case OPT_TARGET:
			o->uo.target = optarg;
			break;
		case OPT_DRAFT:
			o->uo.draft = true;
			break;
		case OPT_PRERELEASE:
			o->uo.prerelease = true;
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
		case OPT_NO_SEEK_INDEX:
			o->no_seek_index = true;
			break;
		case OPT_PACK_JOBS:
			errno = 0;
			n = strtol(optarg, &end, 10);
			if (errno || end == optarg || *end || n < 1 || n > PACK_JOBS_MAX)
				ctl_usage_error("publish", "invalid --pack-jobs '%s': 1 to %d",
					optarg, PACK_JOBS_MAX);
			o->pack_jobs = (int)n;
			break;
		}
	}
	/* the file after every --meta, whatever the order: KEY=VALUE wins */
	if (meta_file)
		load_meta_file(o, meta_file);
	o->sources = argv + optind;
	o->nsources = (size_t)(argc - optind);
	if (o->nsources == 0 && !o->each)
		ctl_usage_error("publish", "missing SOURCE (or --each DIR)");
	if (!o->dest)
		ctl_usage_error("publish", "missing --to DEST");
	if (o->name && (o->nsources != 1 || o->each))
		ctl_usage_error("publish", "--name applies to one SOURCE; with several, each is "
					   "named after its base name");
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

/* ---- the artifacts of the SOURCEs ---------------------------------------------------- */

struct items {
	struct item *v;
	size_t n, cap;
};

static void item_release(struct item *it)
{
	platform_free(it->plat);
	free(it->name);
	free(it->path);
	free(it->triplet);
	free(it->key);
	free(it->url);
	free(it->bind_url);
	free(it->seek_url);
	if (it->fd >= 0)
		close(it->fd);
}

/* A new zeroed item at the end of v with its name and path (copied); NULL: no memory. */
static struct item *item_add(struct items *v, const char *name, size_t source, const char *path)
{
	struct item *it;

	if (v->n == v->cap) {
		size_t cap = v->cap ? 2 * v->cap : 16;
		struct item *nv = realloc(v->v, cap * sizeof(*nv));

		if (!nv)
			return NULL;
		v->v = nv;
		v->cap = cap;
	}
	it = &v->v[v->n];
	memset(it, 0, sizeof(*it));
	it->fd = -1;
	it->source = source;
	it->name = strdup(name);
	it->path = strdup(path);
	if (!it->name || !it->path) {
		free(it->name);
		free(it->path);
		return NULL;
	}
	v->n++;
	return it;
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

/*
 * The items of SOURCE src (named name, index source) appended to v; prints
 * the message and returns an exit status on failure (v is then as it was).
 */
static int collect(
	const struct pub_opts *o, const char *src, const char *name, size_t source, struct items *v)
{
	struct item *it;
	struct stat st;
	char **names = NULL, *path = NULL;
	size_t cnt = 0, i, n0 = v->n;
	bool all = false;
	int r, status = EXIT_FAIL;

	if (!name_valid(name)) {
		ctl_warnx("invalid artifact name '%s'%s: no '/', no control characters, no "
			  "leading '.'",
			name, o->name ? "" : " (from SOURCE; give --name)");
		return EXIT_USAGE;
	}
	if (stat(src, &st) < 0) {
		ctl_warne(-errno, "cannot publish '%s'", src);
		return EXIT_FAIL;
	}
	if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode)) {
		ctl_warnx("cannot publish '%s': neither a directory nor a tarball", src);
		return EXIT_FAIL;
	}
	if (S_ISDIR(st.st_mode) && !o->single) {
		r = platform_dirs(src, &names, &cnt, &all);
		if (r < 0) {
			ctl_warne(r, "cannot read '%s'", src);
			return EXIT_FAIL;
		}
	}
	if (o->multi && !all) {
		ctl_warnx("'%s' is not one directory per platform: every entry must be a directory "
			  "named as a platform triplet",
			src);
		status = EXIT_USAGE;
		goto out;
	}
	if (all && o->triplet) {
		ctl_warnx("'%s' holds one directory per platform: --platform applies to a single "
			  "tree (use --single-platform to publish it as one)",
			src);
		status = EXIT_USAGE;
		goto out;
	}
	if (!all)
		cnt = 1;
	for (i = 0; i < cnt; i++) {
		r = 0;
		free(path);
		path = NULL;
		if (all && asprintf(&path, "%s/%s", src, names[i]) < 0)
			path = NULL;
		else if (!all)
			path = strdup(src);
		if (!path || !(it = item_add(v, name, source, path))) {
			ctl_warne(-ENOMEM, "publish");
			goto out;
		}
		it->tarball = S_ISREG(st.st_mode);
		if (all) {
			r = set_platform(it, names[i]);
		} else if (o->triplet) {
			r = set_platform(it, o->triplet);
			if (r == -EINVAL) {
				ctl_warnx("invalid --platform '%s': a triplet expected, "
					  "e.g. x86_64-linux-gnu",
					o->triplet);
				status = EXIT_USAGE;
				goto out;
			}
		}
		if (r < 0) {
			ctl_warne(r, "cannot use the platform of '%s'", it->path);
			goto out;
		}
	}
	if (all)
		ctl_warnx("'%s' holds one directory per platform: publishing %zu artifacts "
			  "(--single-platform publishes it as one tree)",
			src, cnt);
	status = EXIT_OK;
out:
	if (status != EXIT_OK) {
		while (v->n > n0)
			item_release(&v->v[--v->n]);
	}
	free(path);
	free_names(names, all ? cnt : 0);
	return status;
}

/* A row for a SOURCE that gave no artifact: it failed as a whole. */
static int add_failed(struct items *v, const char *name, size_t source, const char *path)
{
	struct item *it = item_add(v, name, source, path);

	if (!it)
		return -ENOMEM;
	it->action = ACT_FAIL;
	return 0;
}

static int cmp_dirent(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

/*
 * The artifacts of every SOURCE, then of every sub-directory of --each DIR
 * (sorted by name; dot entries and non-directories are passed over).  With
 * one SOURCE, its failure is the run's exit status, as it always was; with
 * several, a failing SOURCE becomes a failed row and the others go on.
 */
static int collect_all(const struct pub_opts *o, struct items *v)
{
	struct dirent **de = NULL;
	struct stat st;
	char *name, *path;
	size_t i, nsrc = 0;
	int nde = 0, k, status;
	bool several = o->nsources + (o->each ? 1 : 0) > 1 || o->each;

	for (i = 0; i < o->nsources; i++, nsrc++) {
		name = o->name ? strdup(o->name) : default_name(o->sources[i]);
		if (!name) {
			ctl_warne(-ENOMEM, "publish");
			return EXIT_FAIL;
		}
		status = collect(o, o->sources[i], name, nsrc, v);
		if (status != EXIT_OK &&
			(!several || add_failed(v, name, nsrc, o->sources[i]) < 0)) {
			free(name);
			return status;
		}
		free(name);
	}
	if (!o->each)
		return EXIT_OK;
	nde = scandir(o->each, &de, NULL, cmp_dirent);
	if (nde < 0) {
		ctl_warne(-errno, "cannot read '%s'", o->each);
		return EXIT_FAIL;
	}
	status = EXIT_OK;
	for (k = 0; k < nde; k++) {
		if (status == EXIT_OK && de[k]->d_name[0] != '.') {
			if (asprintf(&path, "%s/%s", o->each, de[k]->d_name) < 0) {
				path = NULL;
				status = EXIT_FAIL;
			} else if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
				/* one source number per directory: each gets a row at least */
				if (collect(o, path, de[k]->d_name, nsrc, v) != EXIT_OK &&
					add_failed(v, de[k]->d_name, nsrc, path) < 0)
					status = EXIT_FAIL;
				nsrc++;
			}
			free(path);
		}
		free(de[k]);
	}
	free(de);
	if (status == EXIT_OK && v->n == 0) {
		ctl_warnx("'%s' holds no directory to publish", o->each);
		status = EXIT_FAIL;
	}
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

static const char *plat_of(const struct item *it)
{
	return it->triplet ? it->triplet : "any";
}

/* Pack the directory (or check the tarball): fd, hashes, size, suffix. */
static int prepare(const struct pub_opts *o, struct item *it)
{
	struct pack_opts po = {
		.compress = PACK_COMPRESS_GZIP, .level = o->level, .jobs = o->pack_jobs};
	struct fetch_digests d;
	struct pack_result pr;
	struct stat st;
	char *msg = NULL, what[512];
	int r;

	it->packed = true;
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
		ctl_warne(r, "%s %s: cannot create a temporary file in '%s'", it->name, plat_of(it),
			getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
		return r;
	}
	snprintf(what, sizeof(what), "packing %s %s", it->name, plat_of(it));
	if (bar.tty) {
		ctl_bar_start(&bar, what);
		po.progress = on_pack_progress;
		po.progress_arg = it;
	}
	r = pack_write(AT_FDCWD, it->path, it->fd, &po, &pr, &msg);
	if (bar.tty)
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

/* The URL of key in u, and the URL to bind (--public-url's, else that one). */
static int name_urls(const struct pub_opts *o, struct upload *u, struct item *it)
{
	int r;

	if ((r = upload_url(u, it->key, &it->url)) < 0) {
		ctl_warnx("cannot name the object of '%s' ('%s'): %s", it->name, it->key,
			strerror(-r));
		return r;
	}
	if (o->public_url)
		r = upload_join_url(o->public_url, it->key, &it->bind_url);
	else
		r = (it->bind_url = strdup(it->url)) ? 0 : -ENOMEM;
	return r;
}

static int name_object(const struct pub_opts *o, struct upload *u, struct item *it)
{
	if (asprintf(&it->key, "%s.%s.%.16s-%.16s%s", it->name, plat_of(it), it->tree, it->sha256,
		    it->suffix) < 0) {
		it->key = NULL;
		return -ENOMEM;
	}
	return name_urls(o, u, it);
}

static int put_sidecar(const struct pub_opts *o, struct upload *u, const struct item *it)
{
	struct sidecar sc = {.size = it->size};
	char created[21], *json = NULL, *key = NULL;
	size_t len;
	int r;

	sc.name = it->name;
	sc.platform = it->triplet;
	memcpy(sc.tree, it->tree, sizeof(sc.tree));
	memcpy(sc.sha256, it->sha256, sizeof(sc.sha256));
	sidecar_now(created);
	sc.created = created;
	sc.tool = (char *)"artifactctl (artifactfs) " ARTIFACTFS_VERSION;
	sc.meta = o->meta; /* borrowed: sidecar_release() is not called */
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

/* ---- GitHub releases ------------------------------------------------------------ */

struct siblings {
	const struct item *it;
	size_t plen;
	char **keys;
	size_t n;
};

/* NAME.PLATFORM.TREE16-SHA16.tar... (or its sidecar) but for another tree or tarball */
static int on_sibling(void *arg, const char *key, uint64_t size)
{
	struct siblings *s = arg;
	const char *p = key + s->plen;
	size_t n = strlen(s->it->key);
	char **v;

	if (strlen(p) < 37 || strspn(p, "0123456789abcdef") != 16 || p[16] != '-' ||
		strspn(p + 17, "0123456789abcdef") != 16 || strncmp(p + 33, ".tar", 4) != 0 ||
		(strncmp(key, s->it->key, n) == 0 &&
			(!key[n] || strcmp(key + n, ".json") == 0 ||
				strcmp(key + n, SEEKIDX_SUFFIX) == 0)))
		return 0;
	if (!(v = realloc(s->keys, (s->n + 1) * sizeof(*v))) || !(v[s->n] = strdup(key))) {
		s->keys = v ? v : s->keys;
		return -ENOMEM;
	}
	s->keys = v;
	s->n++;
	return 0;
}

/*
 * A GitHub release holds one asset per artifact and platform: the other
 * NAME.PLATFORM.* assets are an earlier content of this platform in this
 * release.  Without --force they stop the run before anything is
 * uploaded; with it they go (after the new asset is up: when deleted is
 * true).  Other destinations keep every version.
 */
static int release_siblings(
	const struct pub_opts *o, struct upload *u, const struct item *it, bool deleted)
{
	struct siblings s = {.it = it};
	char *prefix = NULL;
	size_t i;
	int r;

	if (upload_kind(u) != UPLOAD_GITHUB)
		return 0;
	if (asprintf(&prefix, "%s.%s.", it->name, plat_of(it)) < 0)
		return -ENOMEM;
	s.plen = strlen(prefix);
	r = upload_list(u, prefix, on_sibling, &s);
	if (r < 0)
		ctl_warnx("%s", upload_errmsg(u));
	for (i = 0; r == 0 && i < s.n; i++) {
		if (!deleted && (!o->force || o->dry_run)) {
			ctl_warnx("%s %s: the release already holds '%s', other contents for "
				  "this platform; %s",
				it->name, plat_of(it), s.keys[i],
				o->force ? "it would be replaced"
					 : "--force replaces it (the Artifacts.toml of "
					   "earlier commits then points at nothing)");
			if (!o->force)
				r = -EEXIST;
		} else if (deleted && (r = upload_delete(u, s.keys[i])) < 0) {
			ctl_warnx("%s", upload_errmsg(u));
		} else if (deleted) {
			ctl_warnx("%s %s: deleted '%s' (--force)", it->name, plat_of(it),
				s.keys[i]);
		}
	}
	for (i = 0; i < s.n; i++)
		free(s.keys[i]);
	free(s.keys);
	free(prefix);
	return r;
}

/* The URL the destination reports for the object (GitHub: browser_download_url). */
static int public_url(const struct pub_opts *o, struct upload *u, struct item *it)
{
	char *url = NULL;
	int r;

	if (o->public_url)
		return 0;
	if ((r = upload_public_url(u, it->key, &url)) < 0)
		return r;
	free(it->bind_url);
	it->bind_url = url;
	return 0;
}

/* ---- the seek index ------------------------------------------------------------ */

/*
 * it->seek_url: the URL readers fetch <key>.seekidx from, bound as the
 * download's seek_index (--public-url's, else the destination's).
 */
static int name_seek_url(const struct pub_opts *o, struct upload *u, struct item *it)
{
	char *key = NULL, *url = NULL;
	int r;

	if (asprintf(&key, "%s%s", it->key, SEEKIDX_SUFFIX) < 0)
		return -ENOMEM;
	r = o->public_url ? upload_join_url(o->public_url, key, &url)
			  : upload_public_url(u, key, &url);
	free(key);
	if (r < 0)
		return r;
	free(it->seek_url);
	it->seek_url = url;
	return 0;
}

/*
 * The seek index of a gzip tarball (fetch/seekidx.h), uploaded as
 * <key>.seekidx beside it unless it is there already, so that a daemon
 * with per_file=on can serve single files of the artifact.  Built from the
 * local tarball (it->fd).  When have_tarball is false (a directory found
 * published before it was packed), only an index already there is bound.
 * listed: 1 when the listing showed the index there, 0 when it did not
 * (no request is then made), -1 when unknown (HEAD).
 * A failure is a warning: the artifact is published without seek_index.
 * Returns whether it->seek_url is set (an index is there, or wanted and
 * missing when have_tarball is false: false).
 */
static bool put_seekidx(const struct pub_opts *o, struct upload *u, struct item *it,
	bool have_tarball, int listed)
{
	struct upload_stat st;
	uint8_t *idx = NULL;
	char *key = NULL, *msg = NULL;
	size_t len = 0, n;
	int r;

	n = strlen(it->key);
	if (o->no_seek_index || n < 7 || strcmp(it->key + n - 7, ".tar.gz") != 0)
		return true; /* none wanted */
	if (asprintf(&key, "%s%s", it->key, SEEKIDX_SUFFIX) < 0) {
		ctl_warne(-ENOMEM, "%s %s: no seek index", it->name, plat_of(it));
		return true;
	}
	if (listed >= 0) {
		r = 0;
		st.exists = listed > 0;
	} else {
		r = upload_head(u, key, &st);
	}
	if (r == 0 && st.exists && !o->force) {
		r = name_seek_url(o, u, it);
		goto out;
	}
	if (r < 0 || !have_tarball || o->dry_run) {
		if (r < 0)
			ctl_warnx("%s", upload_errmsg(u));
		goto out;
	}
	r = fetch_seekidx_tarball(it->fd, it->path, 0, &idx, &len, NULL, &msg);
	if (r < 0) {
		ctl_warnx("%s %s: no seek index: %s", it->name, plat_of(it),
			msg ? msg : strerror(-r));
		goto out;
	}
	r = upload_put_buf(u, key, idx, len, "application/octet-stream");
	if (r < 0)
		ctl_warnx("%s", upload_errmsg(u));
	else
		r = name_seek_url(o, u, it);
out:
	if (r < 0 && it->seek_url) {
		free(it->seek_url);
		it->seek_url = NULL;
	}
	free(idx);
	free(msg);
	free(key);
	return it->seek_url != NULL || have_tarball || o->dry_run;
}

/* Look up, then upload unless the same bytes are there; prints what happens. */
static int publish_one(const struct pub_opts *o, struct upload *u, struct item *it)
{
	const char *plat = plat_of(it);
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
		ctl_warnx("%s %s: '%s' is already there with sha256 %.16s...%s%s", it->name, plat,
			it->url, it->sha256, o->force ? "; uploading it again (--force)" : "",
			o->dry_run && !o->force ? "; it would not be uploaded" : "");
	} else if (st.exists) {
		ctl_warnx("%s %s: '%s' is there %s; %s", it->name, plat, it->url,
			st.has_sidecar ? "with another sha256" : "without its sidecar",
			o->dry_run ? "it would be uploaded again" : "uploading it again");
	}
	if ((r = release_siblings(o, u, it, false)) < 0)
		return r;
	if (o->dry_run || it->action == ACT_SKIP) {
		r = public_url(o, u, it);
		if (r == 0)
			put_seekidx(o, u, it, true, -1);
		return r;
	}

	snprintf(what, sizeof(what), "uploading %s %s", it->name, plat);
	if (bar.tty)
		ctl_bar_start(&bar, what);
	atomic_fetch_add(&uploading, 1);
	r = upload_put_fd(
		u, it->key, it->fd, it->size, content_type(it->suffix), on_upload_progress, it);
	atomic_fetch_sub(&uploading, 1);
	if (bar.tty)
		ctl_bar_clear(&bar);
	if (r < 0) {
		ctl_warnx("%s", upload_errmsg(u));
		return r;
	}
	if (interrupted) {
		ctl_warnx("interrupted");
		return -ECANCELED;
	}
	if ((r = put_sidecar(o, u, it)) < 0 || (r = public_url(o, u, it)) < 0)
		return r;
	put_seekidx(o, u, it, true, -1);
	return release_siblings(o, u, it, true);
}

/*
 * Before packing a directory: its tree hash, looked up among the published
 * sidecars.  Returns 1 when the artifact is decided (unchanged, or any
 * state with --dry-run), 0 when it is to be packed, -errno on failure.
 */
static int look_before_packing(const struct pub_opts *o, struct upload *u, struct item *it)
{
	struct lookup_result lr;
	uint8_t oid[HASH_SHA1_LEN];
	char *errpath = NULL;
	bool repack = false;
	int r;

	r = tree_hash_dir(it->path, 0, oid, &errpath);
	if (r < 0) {
		ctl_warne(r, "cannot hash '%s'", errpath ? errpath : it->path);
		free(errpath);
		return r;
	}
	hash_to_hex(oid, HASH_SHA1_LEN, it->tree);
	r = lookup_published(u, it->name, it->triplet, it->tree, &lr);
	if (r == -EOPNOTSUPP)
		return 0; /* http(s) cannot list: pack, then look the object up by its key */
	if (r < 0) {
		ctl_warnx("%s", upload_errmsg(u));
		return r;
	}
	it->state = lr.state;
	if (lr.state == LOOKUP_UNCHANGED) {
		it->key = lr.key;
		lr.key = NULL;
		memcpy(it->sha256, lr.sha256, sizeof(it->sha256));
		it->size = lr.size;
		it->action = ACT_SKIP;
		if ((r = name_urls(o, u, it)) == 0 && (r = public_url(o, u, it)) == 0 &&
			!put_seekidx(o, u, it, false, lr.has_seekidx)) {
			/* the same bytes again (pack is deterministic), for the index */
			ctl_warnx("%s %s: unchanged, packed again for its missing seek index",
				it->name, plat_of(it));
			repack = true;
		} else if (r == 0) {
			ctl_warnx(
				"%s %s: unchanged, not packed: tree %.16s... is published as '%s'",
				it->name, plat_of(it), it->tree, it->url);
		}
	} else if (o->dry_run) {
		it->action = ACT_UPLOAD;
		ctl_warnx("%s %s: %s: tree %.16s... would be packed and uploaded", it->name,
			plat_of(it),
			lr.state == LOOKUP_CHANGED ? "changed"
						   : "would upload, nothing published yet",
			it->tree);
	}
	lookup_result_release(&lr);
	if (r == 0 && repack)
		return 0;
	return r < 0 ? r : it->state == LOOKUP_UNCHANGED || o->dry_run ? 1 : 0;
}

/* One artifact, start to end; it->action is ACT_FAIL when it failed. */
static void process(const struct pub_opts *o, struct upload *u, struct item *it)
{
	int r = 0;

	if (it->action == ACT_FAIL)
		return;
	if (interrupted) {
		ctl_warnx("%s %s: not started: interrupted", it->name, plat_of(it));
		it->action = ACT_FAIL;
		return;
	}
	if (!it->tarball && !o->force)
		r = look_before_packing(o, u, it);
	if (r == 0) {
		r = prepare(o, it);
		if (r == 0) {
			free(it->key);
			free(it->url);
			free(it->bind_url);
			it->key = it->url = it->bind_url = NULL;
			r = name_object(o, u, it);
		}
		if (r == 0)
			r = publish_one(o, u, it);
		/* the tarball is not needed any more: free its disk space now */
		if (it->fd >= 0)
			close(it->fd);
		it->fd = -1;
	}
	if (r < 0)
		it->action = ACT_FAIL;
}

/* ---- the workers ------------------------------------------------------------------- */

struct run {
	const struct pub_opts *o;
	struct items *items;
	pthread_mutex_t lock;
	size_t next;
};

static void work(struct run *run, struct upload *u)
{
	size_t i;

	for (;;) {
		pthread_mutex_lock(&run->lock);
		i = run->next++;
		pthread_mutex_unlock(&run->lock);
		if (i >= run->items->n)
			return;
		process(run->o, u, &run->items->v[i]);
	}
}

static void *worker(void *arg)
{
	struct run *run = arg;
	struct upload *u = NULL;
	char *msg = NULL;
	int r;

	/* the destination opened once already: a failure now is a resource one */
	r = upload_new(run->o->dest, &run->o->uo, &u, &msg);
	if (r < 0) {
		ctl_warnx("%s", msg ? msg : strerror(-r));
		free(msg);
		return NULL;
	}
	work(run, u);
	upload_free(u);
	return NULL;
}

/* Every item, by o->jobs workers (the calling thread is one of them). */
static void run_all(const struct pub_opts *o, struct upload *u, struct items *items)
{
	struct run run = {.o = o, .items = items};
	pthread_t tid[JOBS_MAX];
	unsigned i, started = 0;

	pthread_mutex_init(&run.lock, NULL);
	for (i = 1; i < o->jobs && i < items->n; i++) {
		if (pthread_create(&tid[started], NULL, worker, &run) != 0)
			break;
		started++;
	}
	work(&run, u);
	for (i = 0; i < started; i++)
		pthread_join(tid[i], NULL);
	pthread_mutex_destroy(&run.lock);
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
	v[0].seek_index = it->seek_url;
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
					(struct bind_download){d[k].url, d[k].sha256, d[k].size,
						d[k].seek_index};
	}
	*ret = v;
	return 0;
}

/*
 * Bind every artifact of the SOURCEs none of whose artifacts failed, in one
 * bind_artifacts() call: all of them are written, or none.
 */
static int bind_all(const struct pub_opts *o, struct items *items)
{
	size_t n = items->n;
	struct bind_request *reqs = calloc(n ? n : 1, sizeof(*reqs));
	struct bind_download **dl = calloc(n ? n : 1, sizeof(*dl));
	bool *failed = calloc(n ? n : 1, sizeof(*failed));
	struct artifacts *a = NULL;
	char *msg = NULL;
	size_t i, k = 0;
	int r = 0, status = EXIT_OK;

	if (!reqs || !dl || !failed) {
		r = -ENOMEM;
		goto out;
	}
	/* sources are numbered below n: one flag per source */
	for (i = 0; i < n; i++)
		if (items->v[i].action == ACT_FAIL)
			failed[items->v[i].source] = true;
	if (artifacts_load(o->toml, &a, &msg) < 0)
		a = NULL; /* a missing file is created; a broken one is reported by the bind */
	free(msg);
	msg = NULL;
	for (i = 0; i < n && r == 0; i++) {
		struct item *it = &items->v[i];

		if (failed[it->source])
			continue;
		reqs[k].name = it->name;
		reqs[k].hash = it->tree;
		reqs[k].platform = it->plat;
		reqs[k].flags = BIND_FORCE | (o->lazy ? BIND_LAZY : 0);
		r = keep_mirrors(a, it->name, it, &dl[k], &reqs[k].ndownloads);
		reqs[k].downloads = dl[k];
		k++;
	}
	if (r == 0 && k > 0)
		r = bind_artifacts(o->toml, reqs, k, &msg);
	if (r < 0) {
		if (msg)
			ctl_warnx("cannot bind in '%s': %s", o->toml, msg);
		else
			ctl_warne(r, "cannot bind in '%s'", o->toml);
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
	free(failed);
	free(msg);
	artifacts_free(a);
	return status;
}

/* ---- output -------------------------------------------------------------------------------------
 */

/* The status word of the summary and of "status" in JSON. */
static const char *status_of(const struct pub_opts *o, const struct item *it)
{
	if (it->action == ACT_FAIL)
		return "failed";
	if (!o->dry_run)
		return it->action == ACT_SKIP ? "skipped" : "published";
	if (it->action == ACT_SKIP)
		return "unchanged";
	return it->state == LOOKUP_CHANGED ? "changed" : "would-upload";
}

static json_t *str_or_null(const char *s)
{
	return sidecar_json_str(s && *s ? s : NULL);
}

/*
 * One artifact's line, or with --json its object in the one JSON array of
 * the run: "[\n  {...},\n  {...}\n]\n" as "artifactctl ls --json" prints.
 * i counts from 0 among n.
 */
static void report(const struct pub_opts *o, const struct item *it, size_t i, size_t n)
{
	const char *act = it->action == ACT_FAIL   ? "failed"
			  : it->action == ACT_SKIP ? (o->dry_run ? "would-skip" : "skipped")
						   : (o->dry_run ? "would-upload" : "uploaded");
	bool known = it->action != ACT_FAIL && *it->sha256;

	if (!o->json) {
		printf("%s %s %s %s\n", it->name, plat_of(it), act,
			it->bind_url ? it->bind_url : "-");
		return;
	}
	ctl_json_row(
		json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:s, s:s, s:o}", "name",
			sidecar_json_str(it->name), "platform", sidecar_json_str(it->triplet),
			"git-tree-sha1", str_or_null(it->tree), "sha256", str_or_null(it->sha256),
			"size", known ? json_integer((json_int_t)it->size) : json_null(), "object",
			sidecar_json_str(it->url), "url", sidecar_json_str(it->bind_url), "action",
			act, "status", status_of(o, it), "toml",
			sidecar_json_str(o->dry_run || it->action == ACT_FAIL ? NULL : o->toml)),
		i);
	if (i + 1 == n)
		ctl_json_rows_end(n);
}

/*
 * The table that closes a run of several artifacts, on standard error
 * (standard output is for the rows).
 */
static void summary(const struct pub_opts *o, const struct items *items)
{
	size_t i, wn = 4, wp = 8, counts[3] = {0};
	uint64_t bytes = 0, sent = 0;
	char sz[32];

	for (i = 0; i < items->n; i++) {
		if (strlen(items->v[i].name) > wn)
			wn = strlen(items->v[i].name);
		if (strlen(plat_of(&items->v[i])) > wp)
			wp = strlen(plat_of(&items->v[i]));
	}
	fprintf(stderr, "%-*s  %-*s  %-12s  %s\n", (int)wn, "NAME", (int)wp, "PLATFORM", "STATUS",
		"BYTES");
	for (i = 0; i < items->n; i++) {
		const struct item *it = &items->v[i];
		bool known = it->action != ACT_FAIL && *it->sha256;

		snprintf(sz, sizeof(sz), "%llu", (unsigned long long)it->size);
		fprintf(stderr, "%-*s  %-*s  %-12s  %s\n", (int)wn, it->name, (int)wp, plat_of(it),
			status_of(o, it), known ? sz : "-");
		counts[it->action]++;
		if (known)
			bytes += it->size;
		if (it->action == ACT_UPLOAD && !o->dry_run)
			sent += it->size;
	}
	if (o->dry_run)
		fprintf(stderr,
			"total: %zu artifacts, %zu would be uploaded, %zu unchanged, "
			"%zu failed\n",
			items->n, counts[ACT_UPLOAD], counts[ACT_SKIP], counts[ACT_FAIL]);
	else
		fprintf(stderr,
			"total: %zu artifacts, %zu published, %zu skipped, %zu failed; "
			"%llu bytes uploaded of %llu\n",
			items->n, counts[ACT_UPLOAD], counts[ACT_SKIP], counts[ACT_FAIL],
			(unsigned long long)sent, (unsigned long long)bytes);
}

int cmd_publish(int argc, char **argv)
{
	struct pub_opts o = {0};
	struct items items = {0};
	struct upload *u = NULL;
	struct sigaction sa;
	char *msg = NULL;
	size_t i, failed = 0;
	int r, status;

	parse_args(argc, argv, &o);
	ctl_bar_init(&bar, 0);
	if (o.jobs > 1)
		bar.tty = false; /* one bar cannot show several artifacts */

	status = collect_all(&o, &items);
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
	if (upload_kind(u) == UPLOAD_GITHUB && !upload_signed(u) && !o.dry_run) {
		ctl_warnx("no GitHub token for '%s': set GITHUB_TOKEN or GH_TOKEN, or use "
			  "--token-file FILE",
			o.dest);
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

	/*
	 * A GitHub release is one state (its asset list, kept by the handle),
	 * and GitHub asks clients to send one user's requests one at a time
	 * (REST API best practices: "avoid concurrent requests"): one worker.
	 */
	if (upload_kind(u) == UPLOAD_GITHUB)
		o.jobs = 1;
	/* The workers that pack at once share the cores (the bytes are the same). */
	if (!o.pack_jobs) {
		size_t w = items.n < o.jobs ? items.n : o.jobs;
		int share = pack_default_jobs() / (int)(w ? w : 1);

		o.pack_jobs = share > 1 ? share : 1;
	}
	run_all(&o, u, &items);
	for (i = 0; i < items.n; i++)
		failed += items.v[i].action == ACT_FAIL;
	status = failed ? EXIT_FAIL : EXIT_OK;
	if (o.toml && o.dry_run) {
		for (i = 0; i < items.n; i++)
			if (items.v[i].action != ACT_FAIL && *items.v[i].tree)
				ctl_warnx("would bind %s %s to %s in '%s'", items.v[i].name,
					plat_of(&items.v[i]), items.v[i].tree, o.toml);
	} else if (o.toml && failed < items.n) {
		r = bind_all(&o, &items);
		if (r != EXIT_OK)
			status = r;
	}
	for (i = 0; i < items.n; i++)
		report(&o, &items.v[i], i, items.n);
	if (fflush(stdout) == EOF || ferror(stdout)) {
		ctl_warne(-errno, "cannot write to standard output");
		status = EXIT_FAIL;
	}
	if (items.n > 1)
		summary(&o, &items);
out:
	for (i = 0; i < items.n; i++)
		item_release(&items.v[i]);
	free(items.v);
	free(msg);
	json_decref(o.meta);
	upload_free(u);
	return status;
}
