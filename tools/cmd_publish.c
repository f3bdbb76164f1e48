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
 *
 * This file holds usage, the options, the signals and the progress bar,
 * the worker pool and cmd_publish(); the other stages are in
 * cmd_publish_collect.c, cmd_publish_item.c and cmd_publish_bind.c
 * (cmd_publish.h).
 */
#include "tools/artifactctl.h"
#include "tools/cmd_publish.h"

#include "fetch/fetch.h"
#include "store/util/units.h"
#include "tools/progress.h"
#include "tools/publish/pack.h"
#include "tools/publish/upload.h"

#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

void pub_upload_begin(void)
{
	atomic_fetch_add(&uploading, 1);
}

void pub_upload_end(void)
{
	atomic_fetch_sub(&uploading, 1);
}

bool pub_interrupted(void)
{
	return interrupted != 0;
}

/* ---- progress (drawn only with one job) ------------------------------------------ */

static struct ctl_bar bar;

void pub_on_pack_progress(uint64_t done, uint64_t total, void *arg)
{
	ctl_bar_draw(&bar, done, total, false);
}

bool pub_on_upload_progress(void *arg, uint64_t now, uint64_t total)
{
	if (interrupted)
		return false;
	ctl_bar_draw(&bar, now, total, true);
	return true;
}

struct ctl_bar *pub_bar(void)
{
	return &bar;
}

/* upload_options.notice: a wait worth saying (GitHub's rate limit), above the bar */
static void on_notice(void *arg, const char *msg)
{
	(void)arg;
	ctl_bar_clear(&bar);
	ctl_warnx("%s", msg);
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
	o->uo.notice = on_notice;
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
				ctl_usage_error("publish",
					"invalid --part-size '%s': bytes "
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
		pub_process(run->o, u, &run->items->v[i]);
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

	status = pub_collect_all(&o, &items);
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
		r = pub_bind_all(&o, &items);
		if (r != EXIT_OK)
			status = r;
	}
	for (i = 0; i < items.n; i++)
		pub_report(&o, &items.v[i], i, items.n);
	if (fflush(stdout) == EOF || ferror(stdout)) {
		ctl_warne(-errno, "cannot write to standard output");
		status = EXIT_FAIL;
	}
	if (items.n > 1)
		pub_summary(&o, &items);
out:
	for (i = 0; i < items.n; i++)
		pub_item_release(&items.v[i]);
	free(items.v);
	free(msg);
	json_decref(o.meta);
	upload_free(u);
	return status;
}
