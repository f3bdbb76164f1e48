/*
 * cmd_gc.c - artifactctl gc: mark from the gc roots, sweep the rest
 *
 *   artifactctl gc [--store DIR] [--dry-run] [--grace DURATION]
 *                  [--max-freed BYTES] [--depot DIR]... [--json] [--verbose]
 *
 * Pkg.gc for a store (spec §5).  Mark: every entry (all names, all
 * platforms, lazy ones too) of every registered root that still exists,
 * and with --depot, of the Artifacts.toml files a Julia depot's usage logs
 * name, directly (logs/artifact_usage.toml) or through the packages of the
 * manifests they list (logs/manifest_usage.toml).  Sweep: an installed
 * artifact that is not marked gets its orphan time (the first time only)
 * and goes once it has been orphaned for the grace period, oldest orphan
 * first; then tmp/ leftovers and quarantined trees past the grace go.
 *
 * Depots.  fetch/depot.h walks a depot's usage logs and manifests to the
 * Artifacts.toml files they use; a manifest's package is found where Pkg's
 * find_installed looks (Base.version_slug computed exactly), every --depot
 * given being searched, as Pkg searches DEPOT_PATH.  The keep set is a
 * superset of Pkg.gc's, never a subset: Pkg also ignores an Artifacts.toml
 * named in artifact_usage.toml when the package holding it is about to be
 * collected, and skips developed packages; gc here keeps both.  The logs
 * are only read: the depot is Julia's, and Pkg condenses its own logs.
 *
 * Races.  gc runs beside daemons, fetches and evictions.  It holds
 * locks/gc.lock (one gc at a time) and removes through store_remove_many(),
 * which skips what is being installed or is pinned.  Two things could make
 * it remove an artifact someone just asked for, and both are closed here.
 * The index is read before the roots, and only the artifacts of that
 * snapshot can go: fetch registers its root before it installs, so an
 * artifact installed after the snapshot either has its root in the roots
 * read next, or is not in the snapshot.  And the roots registered or
 * refreshed since the mark began are read again just before the sweep.
 * What remains is a fetch that registers a new root and finds its artifact
 * already installed in the instant between that second read and the
 * removal; Pkg.gc has the same window.
 */
#include "tools/artifactctl.h"
#include "tools/store_opt.h"
#include "tools/publish/sidecar.h"

#include "fetch/depot.h"
#include "fetch/toml.h"
#include "store/hash.h"
#include "store/partial.h"
#include "store/store.h"
#include "store/util/units.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>


#define DEFAULT_GRACE (7 * 86400)	/* Pkg's collect_delay, Day(7) */
#define REMOVE_CHUNK 64			/* removals asked of the store at once */

static void usage(FILE *f)
{
	fprintf(f,
		"usage: %s gc [--store DIR] [--dry-run] [--grace DURATION] [--max-freed BYTES]\n"
		"                  [--depot DIR]... [--json] [--verbose]\n\n"
		"Remove the installed artifacts that no gc root refers to any more, once they\n"
		"have been unreferenced for the grace period; also stale tmp/ entries and\n"
		"quarantined trees older than the grace period.\n\n"
		"  --store DIR        the store (default: $ARTIFACTFS_STORE, else %s)\n"
		"  --dry-run          print what would be removed; change nothing\n"
		"  --grace DURATION   how long an artifact stays orphaned before it goes:\n"
		"                     0, or a number with s, m, h, d or w (default 7d)\n"
		"  --max-freed BYTES  stop once that much is freed (K, M, G, T: powers of 1024)\n"
		"  --depot DIR        also keep what the Julia depot DIR uses (its logs/\n"
		"                     artifact_usage.toml and manifest_usage.toml); repeatable\n"
		"  --json             print the report as one JSON object\n"
		"  --verbose          name every root file and what it keeps\n",
		progname, CTL_STORE_DEFAULT);
}

/* ---- options ------------------------------------------------------------------ */

struct strv {
	char **v;
	size_t n, cap;
};

struct gc_opts {
	const char *store;
	bool dry_run, json, verbose, has_max;
	int64_t grace;
	uint64_t max_freed;
	struct strv depots;
};

static void strv_free(struct strv *sv)
{
	while (sv->n)
		free(sv->v[--sv->n]);
	free(sv->v);
	sv->v = NULL;
	sv->cap = 0;
}

static void strv_add(struct strv *sv, const char *s)
{
	char **v;

	if (sv->n == sv->cap) {
		v = realloc(sv->v, (sv->cap ? 2 * sv->cap : 16) * sizeof(*v));
		if (!v)
			ctl_erre(EXIT_FAIL, -ENOMEM, "gc");
		sv->v = v;
		sv->cap = sv->cap ? 2 * sv->cap : 16;
	}
	sv->v[sv->n] = strdup(s);
	if (!sv->v[sv->n])
		ctl_erre(EXIT_FAIL, -ENOMEM, "gc");
	sv->n++;
}

static int strcmp_p(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* strv_uniq - sort and drop repeated strings. */
static void strv_uniq(struct strv *sv)
{
	size_t i, k = 0;

	if (!sv->n)
		return;	/* sv->v may be NULL, which qsort() must not get */
	qsort(sv->v, sv->n, sizeof(*sv->v), strcmp_p);
	for (i = 0; i < sv->n; i++) {
		if (k && strcmp(sv->v[k - 1], sv->v[i]) == 0)
			free(sv->v[i]);
		else
			sv->v[k++] = sv->v[i];
	}
	sv->n = k;
}

static void parse_args(int argc, char **argv, struct gc_opts *o)
{
	enum { OPT_DRY = 256, OPT_GRACE, OPT_MAX, OPT_DEPOT, OPT_JSON };
	static const struct option opts[] = {
		{ "store", required_argument, NULL, 's' },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "grace", required_argument, NULL, OPT_GRACE },
		{ "max-freed", required_argument, NULL, OPT_MAX },
		{ "depot", required_argument, NULL, OPT_DEPOT },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "verbose", no_argument, NULL, 'v' },
		CTL_OPTIONS_END,
	};
	static const struct ctl_getopt g = {"gc", "+:hs:nv", opts, usage, "an argument", false};
	int c;

	o->grace = DEFAULT_GRACE;
	while ((c = ctl_getopt(argc, argv, &g)) != -1) {
		switch (c) {
		case 's':
			o->store = optarg;
			break;
		case 'n':
			o->dry_run = true;
			break;
		case OPT_GRACE:
			if (units_parse_duration(optarg, &o->grace) < 0)
				ctl_usage_error("gc", "invalid --grace '%s': 0, or a number with "
						      "s, m, h, d or w", optarg);
			break;
		case OPT_MAX:
			if (units_parse_bytes(optarg, &o->max_freed) < 0)
				ctl_usage_error("gc", "invalid --max-freed '%s': bytes, with K, M, "
						      "G or T", optarg);
			o->has_max = true;
			break;
		case OPT_DEPOT:
			strv_add(&o->depots, optarg);
			break;
		case OPT_JSON:
			o->json = true;
			break;
		case 'v':
			o->verbose = true;
			break;
		}
	}
	if (optind < argc)
		ctl_usage_error("gc", "unexpected argument '%s'", argv[optind]);
}

/* ---- the set of marked hashes ------------------------------------------------------ */

/* Open addressing on the 20-byte hashes, whose first bytes are uniform. */
struct hset {
	uint8_t (*k)[HASH_SHA1_LEN];
	bool *used;
	size_t cap, n;
};

static size_t hset_slot(const struct hset *hs, const uint8_t *h)
{
	uint64_t v;
	size_t i;

	memcpy(&v, h, sizeof(v));
	for (i = (size_t)v & (hs->cap - 1); hs->used[i]; i = (i + 1) & (hs->cap - 1))
		if (memcmp(hs->k[i], h, HASH_SHA1_LEN) == 0)
			break;
	return i;
}

static bool hset_has(const struct hset *hs, const uint8_t *h)
{
	return hs->cap && hs->used[hset_slot(hs, h)];
}

static void hset_add(struct hset *hs, const uint8_t *h)
{
	struct hset big = { 0 };
	size_t i, j;

	if ((hs->n + 1) * 2 > hs->cap) {
		big.cap = hs->cap ? 2 * hs->cap : 1024;
		big.k = malloc(big.cap * sizeof(*big.k));
		big.used = calloc(big.cap, sizeof(*big.used));
		if (!big.k || !big.used)
			ctl_erre(EXIT_FAIL, -ENOMEM, "gc");
		for (i = 0; i < hs->cap; i++) {
			if (!hs->used[i])
				continue;
			j = hset_slot(&big, hs->k[i]);
			memcpy(big.k[j], hs->k[i], HASH_SHA1_LEN);
			big.used[j] = true;
		}
		big.n = hs->n;
		free(hs->k);
		free(hs->used);
		*hs = big;
	}
	i = hset_slot(hs, h);
	if (!hs->used[i]) {
		memcpy(hs->k[i], h, HASH_SHA1_LEN);
		hs->used[i] = true;
		hs->n++;
	}
}

/* ---- mark ----------------------------------------------------------------------- */

struct gc {
	struct gc_opts *o;
	struct store *s;
	struct hset keep;
	struct strv files;	/* Artifacts.toml files to mark from */
	struct strv missing;	/* registered roots that no longer exist */
	struct strv malformed;	/* "<file>: <why>" for files that could not be read */
	unsigned roots;		/* registered roots */
	unsigned log_missing;	/* usage-log entries whose file is gone (Pkg drops them) */
	int64_t t_mark;		/* store time when the mark began */
};

static bool is_dir(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static bool exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0;
}

/*
 * note_malformed - report a file that could not be used as a whole (what:
 * "gc root", "usage log", "manifest") or, with what NULL, a root of which
 * only some entries were unusable, and list it for --json.
 */
static void note_malformed(struct gc *g, const char *what, const char *file, const char *why)
{
	char *line;

	if (what)
		ctl_warnx("skipping %s '%s': %s", what, file, why);
	else
		ctl_warnx("gc root '%s': %s; its other entries are kept", file, why);
	if (asprintf(&line, "%s: %s", file, why) < 0)
		ctl_erre(EXIT_FAIL, -ENOMEM, "gc");
	strv_add(&g->malformed, line);
	free(line);
}

/* keep_entry - keep the git-tree-sha1 of one entry table; false when it has none. */
static bool keep_entry(struct gc *g, const struct toml_value *t)
{
	const char *hex = toml_string(toml_get(t, "git-tree-sha1"), NULL);
	uint8_t h[HASH_SHA1_LEN];

	if (!hex || strlen(hex) != 2 * HASH_SHA1_LEN ||
	    hash_from_hex(hex, 2 * HASH_SHA1_LEN, h, sizeof(h)) < 0)
		return false;
	hset_add(&g->keep, h);
	return true;
}

/*
 * mark_file - keep every git-tree-sha1 of every name and every platform
 * entry of the Artifacts.toml at path, lazy ones included, as Pkg.gc's
 * process_artifacts_toml does: it walks the raw TOML, not the selection
 * model, so every element of a platform array counts (duplicates too), and
 * an entry with other faults (a bad download list) still keeps its hash.
 * A name without a usable git-tree-sha1 is reported; the others are kept.
 * The walk is linear in the file: 100,000 names cost one parse.
 */
static void mark_file(struct gc *g, const char *path)
{
	struct toml_value *root = NULL, *v, *e;
	const char *name, *bad = NULL;
	char *msg = NULL, *file = NULL, *why;
	unsigned kept = 0, nbad = 0;
	size_t i, j;
	bool ok;
	int r;

	if (is_dir(path)) {
		r = depot_artifacts_file(path, &file);
		if (r == -ENOMEM)
			ctl_erre(EXIT_FAIL, r, "gc");
		if (r < 0) {
			note_malformed(g, "gc root", path,
				"no Artifacts.toml or JuliaArtifacts.toml in it");
			return;
		}
		path = file;
	}
	r = toml_parse_file(path, &root, &msg);
	if (r < 0) {
		if (r == -ENOENT) {
			ctl_warnx("gc root '%s' no longer exists; skipped", path);
			strv_add(&g->missing, path);
		} else {
			note_malformed(g, "gc root", path, msg ? msg : strerror(-r));
		}
		goto out;
	}
	for (i = 0; (name = toml_key_at(root, i, NULL)); i++) {
		v = toml_value_at(root, i);
		ok = false;
		if (toml_type(v) == TOML_TABLE) {
			ok = keep_entry(g, v);
			kept += ok;
		} else if (toml_type(v) == TOML_ARRAY) {
			ok = toml_len(v) > 0;
			for (j = 0; (e = toml_at(v, j)); j++) {
				if (toml_type(e) == TOML_TABLE && keep_entry(g, e))
					kept++;
				else
					ok = false;
			}
		}
		if (!ok && !nbad++)
			bad = name;
	}
	if (nbad) {
		if (asprintf(&why, "artifact '%s'%s has no valid git-tree-sha1", bad,
			    nbad > 1 ? " and others" : "") < 0)
			ctl_erre(EXIT_FAIL, -ENOMEM, "gc");
		note_malformed(g, NULL, path, why);
		free(why);
	}
	if (g->o->verbose)
		fprintf(stderr, "%s: root '%s': %u entries kept\n", progname, path, kept);
out:
	free(msg);
	free(file);
	toml_free(root);
}

struct root_list {
	struct strv paths;
	int64_t since;		/* only roots seen at or after this time */
};

static int collect_root(const char *path, int64_t last_seen, void *arg)
{
	struct root_list *rl = arg;

	if (last_seen >= rl->since)
		strv_add(&rl->paths, path);
	return 0;
}

/*
 * mark_roots - the registered roots seen at or after since.  since 0: all
 * of them, those that still exist added to g->files, the others reported.
 * Otherwise (the second pass, g->files sorted): those not in g->files are
 * marked from at once.
 */
static int mark_roots(struct gc *g, int64_t since)
{
	struct root_list rl = { { 0 }, since };
	size_t i;
	int r;

	r = store_root_foreach(g->s, collect_root, &rl);
	if (r < 0) {
		ctl_warnx("cannot read the gc roots of '%s': %s", store_dir(g->s),
			*store_errmsg(g->s) ? store_errmsg(g->s) : strerror(-r));
		strv_free(&rl.paths);
		return r;
	}
	if (!since)
		g->roots = (unsigned)rl.paths.n;
	for (i = 0; i < rl.paths.n; i++) {
		if (!exists(rl.paths.v[i])) {
			if (!since) {
				ctl_warnx("gc root '%s' no longer exists; skipped", rl.paths.v[i]);
				strv_add(&g->missing, rl.paths.v[i]);
			}
			continue;
		}
		if (!since)
			strv_add(&g->files, rl.paths.v[i]);
		else if (!g->files.n || !bsearch(&rl.paths.v[i], g->files.v, g->files.n,
						 sizeof(*g->files.v), strcmp_p))
			mark_file(g, rl.paths.v[i]);	/* new since the first pass */
	}
	strv_free(&rl.paths);
	return 0;
}

/* ---- Julia depots (fetch/depot.h) ------------------------------------------------- */

static int depot_use(const char *path, void *arg)
{
	struct gc *g = arg;

	strv_add(&g->files, path);
	return 0;
}

static void depot_no_log(const char *log, void *arg)
{
	struct gc *g = arg;

	if (g->o->verbose)
		fprintf(stderr, "%s: no usage log '%s'\n", progname, log);
}

static void depot_malformed(const char *what, const char *path, const char *why, void *arg)
{
	note_malformed(arg, what, path, why);
}

static void depot_gone(const char *log, const char *path, void *arg)
{
	struct gc *g = arg;
	const char *slash = strrchr(log, '/');

	g->log_missing++;
	if (g->o->verbose)
		fprintf(stderr, "%s: '%s' (%s) no longer exists\n", progname, path,
			slash ? slash + 1 : log);
}

/* mark_depot - the files a depot's usage logs lead to (spec §5 step 2). */
static void mark_depot(struct gc *g, const char *depot)
{
	const struct depot_walker w = {
		.depots = (const char *const *)g->o->depots.v,
		.ndepots = g->o->depots.n,
		.use = depot_use,
		.no_log = depot_no_log,
		.malformed = depot_malformed,
		.gone = depot_gone,
		.arg = g,
	};
	int r;

	r = depot_walk(&w, depot);
	if (r < 0)
		ctl_erre(EXIT_FAIL, r, "gc");
}

/* ---- sweep ---------------------------------------------------------------------- */

struct row {
	char hash[STORE_HASH_HEX + 1];
	uint64_t bytes;
	int64_t installed, orphaned;
	int64_t since;		/* orphaned, or now for a new orphan */
	int result;		/* of the removal; 1: not tried */
};

struct rows {
	struct row *v;
	size_t n, cap;
};

static int collect_row(const char *hash, const struct store_info *info, void *arg)
{
	struct rows *rs = arg;
	struct row *v;

	if (info->state != STORE_INSTALLED)
		return 0;
	if (rs->n == rs->cap) {
		v = realloc(rs->v, (rs->cap ? 2 * rs->cap : 1024) * sizeof(*v));
		if (!v)
			return -ENOMEM;
		rs->v = v;
		rs->cap = rs->cap ? 2 * rs->cap : 1024;
	}
	v = &rs->v[rs->n++];
	memcpy(v->hash, hash, sizeof(v->hash));
	v->bytes = info->bytes;
	v->installed = info->installed;
	v->orphaned = info->orphaned;
	v->since = 0;
	v->result = 1;
	return 0;
}

/* oldest orphan first, then by hash */
static int orphan_cmp(const void *a, const void *b)
{
	const struct row *x = *(struct row *const *)a, *y = *(struct row *const *)b;

	if (x->since != y->since)
		return x->since < y->since ? -1 : 1;
	return strcmp(x->hash, y->hash);
}

/* What the sweep found and did, for the report. */
struct sweep {
	struct row **cand;	/* orphaned past the grace, oldest first */
	size_t ncand;
	const char **mark, **clear;	/* orphan marks to set, to clear */
	size_t nmark, nclear;
	size_t kept, waiting, removed, in_use;
	uint64_t freed;
	int tmp_removed;
	uint64_t tmp_freed;
	int partial_removed;	/* single files of partial/ unused past the grace */
	uint64_t partial_freed;
	int status;
};

/* classify - rooted rows are kept, the others orphaned. */
static void classify(struct gc *g, struct rows *rs, int64_t now, struct sweep *sw)
{
	uint8_t h[HASH_SHA1_LEN];
	struct row *r;
	size_t i;

	sw->cand = calloc(rs->n ? rs->n : 1, sizeof(*sw->cand));
	sw->mark = calloc(rs->n ? rs->n : 1, sizeof(*sw->mark));
	sw->clear = calloc(rs->n ? rs->n : 1, sizeof(*sw->clear));
	if (!sw->cand || !sw->mark || !sw->clear)
		ctl_erre(EXIT_FAIL, -ENOMEM, "gc");
	for (i = 0; i < rs->n; i++) {
		r = &rs->v[i];
		hash_from_hex(r->hash, STORE_HASH_HEX, h, sizeof(h));
		if (hset_has(&g->keep, h)) {
			sw->kept++;
			if (r->orphaned)
				sw->clear[sw->nclear++] = r->hash;
			continue;
		}
		r->since = r->orphaned ? r->orphaned : now;
		if (!r->orphaned)
			sw->mark[sw->nmark++] = r->hash;
		if (now - r->since >= g->o->grace)
			sw->cand[sw->ncand++] = r;
		else
			sw->waiting++;
	}
	qsort(sw->cand, sw->ncand, sizeof(*sw->cand), orphan_cmp);
}

/* room - whether --max-freed still lets something go. */
static bool room(const struct gc *g, uint64_t freed)
{
	return !g->o->has_max || freed < g->o->max_freed;
}

/* remove_candidates - oldest orphan first, in chunks, until --max-freed. */
static void remove_candidates(struct gc *g, struct sweep *sw)
{
	const char *batch[REMOVE_CHUNK];
	uint64_t fr[REMOVE_CHUNK], planned;
	int res[REMOVE_CHUNK];
	size_t i = 0, nb, k;
	struct row *r;

	while (i < sw->ncand && room(g, sw->freed)) {
		for (nb = 0, planned = sw->freed; i < sw->ncand && nb < REMOVE_CHUNK &&
						  room(g, planned); i++, nb++) {
			batch[nb] = sw->cand[i]->hash;
			planned += sw->cand[i]->bytes;
		}
		if (g->o->dry_run) {
			for (k = 0; k < nb; k++) {
				res[k] = 0;
				fr[k] = sw->cand[i - nb + k]->bytes;
			}
		} else {
			store_clear_error(g->s);
			store_remove_many(g->s, batch, nb, res, fr);
		}
		for (k = 0; k < nb; k++) {
			r = sw->cand[i - nb + k];
			r->result = res[k];
			if (res[k] == 0) {
				sw->removed++;
				sw->freed += fr[k];
				r->bytes = fr[k];
				if (!g->o->json)
					printf("%s %s (%" PRIu64 " bytes)\n",
						g->o->dry_run ? "would remove" : "removed", r->hash,
						fr[k]);
			} else if (res[k] == -EBUSY) {
				sw->in_use++;
				sw->waiting++;
				if (!g->o->json)
					printf("in use, kept %s\n", r->hash);
			} else if (res[k] != -ENOENT) {	/* -ENOENT: removed meanwhile */
				sw->waiting++;
				sw->status = EXIT_FAIL;
				ctl_warne(res[k], "cannot remove %s", r->hash);
			}
		}
		if (!g->o->dry_run && *store_errmsg(g->s))	/* the first detailed message */
			ctl_warnx("%s", store_errmsg(g->s));
	}
	sw->waiting += sw->ncand - i;	/* held back by --max-freed */
}

static json_t *json_strv(const struct strv *sv)
{
	json_t *a = json_array();
	size_t i;

	for (i = 0; a && i < sv->n; i++)
		if (json_array_append_new(a, sidecar_json_str(sv->v[i])) < 0) {
			json_decref(a);
			return NULL;
		}
	return a;
}

/* The report as one JSON object, one member a line (JSON_INDENT(2)). */
static void report_json(const struct gc *g, const struct sweep *sw)
{
	json_t *removed = json_array(), *in_use = json_array();
	size_t i;
	int r = removed && in_use ? 0 : -1;

	for (i = 0; r == 0 && i < sw->ncand; i++) {
		if (sw->cand[i]->result == 0)
			r = json_array_append_new(removed, json_pack("{s:s, s:I}", "hash",
								 sw->cand[i]->hash, "bytes",
								 (json_int_t)sw->cand[i]->bytes));
		else if (sw->cand[i]->result == -EBUSY)
			r = json_array_append_new(in_use, json_string(sw->cand[i]->hash));
	}
	if (r < 0) {
		json_decref(removed);
		json_decref(in_use);
		ctl_erre(EXIT_FAIL, -ENOMEM, "cannot format JSON");
	}
	ctl_json_print(json_pack("{s:b, s:I, s:I, s:I, s:o, s:o, s:I, s:o, s:o, "
				 "s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
			       "dry_run", g->o->dry_run, "grace", (json_int_t)g->o->grace,
			       "roots", (json_int_t)g->roots,
			       "root_files", (json_int_t)g->files.n,
			       "missing_roots", json_strv(&g->missing),
			       "malformed", json_strv(&g->malformed),
			       "usage_log_missing", (json_int_t)g->log_missing,
			       "removed", removed, "in_use", in_use,
			       "newly_orphaned", (json_int_t)sw->nmark,
			       "kept", (json_int_t)sw->kept,
			       "waiting", (json_int_t)sw->waiting,
			       "freed_bytes", (json_int_t)sw->freed,
			       "freed_artifacts", (json_int_t)sw->removed,
			       "tmp_removed", (json_int_t)(sw->tmp_removed > 0 ? sw->tmp_removed
										      : 0),
			       "tmp_freed_bytes", (json_int_t)sw->tmp_freed,
			       "partial_removed",
			       (json_int_t)(sw->partial_removed > 0 ? sw->partial_removed : 0),
			       "partial_freed_bytes", (json_int_t)sw->partial_freed),
		JSON_INDENT(2), "", "\n");
}

static void report_text(const struct gc *g, const struct sweep *sw)
{
	const char *would = g->o->dry_run ? "would " : "";

	if (g->log_missing)
		printf("%u files named in usage logs no longer exist (skipped)\n", g->log_missing);
	if (sw->tmp_removed > 0)
		printf("%sremove%s %d stale entries of tmp/ and quarantine/ (%" PRIu64 " bytes)\n",
			would, g->o->dry_run ? "" : "d", sw->tmp_removed, sw->tmp_freed);
	if (sw->partial_removed > 0)
		printf("%sremove%s %d single files of partial/ (%" PRIu64 " bytes)\n", would,
			g->o->dry_run ? "" : "d", sw->partial_removed, sw->partial_freed);
	printf("%s%s %" PRIu64 " bytes in %zu artifacts (%zu kept, %zu orphaned, waiting)\n",
		would, g->o->dry_run ? "free" : "freed", sw->freed, sw->removed, sw->kept,
		sw->waiting);
}

/* ---- the command ------------------------------------------------------------------ */

/* run - mark, scan, sweep; returns the exit status. */
static int run(struct gc *g, struct sweep *sw)
{
	struct rows rs = { 0 };
	int64_t now;
	size_t i;
	int r;

	/* the installed artifacts: the snapshot first, then the roots (see above) */
	g->t_mark = time(NULL);
	r = store_foreach(g->s, collect_row, &rs);
	if (r < 0) {
		ctl_warnx("cannot read the index of '%s': %s", store_dir(g->s),
			*store_errmsg(g->s) ? store_errmsg(g->s) : strerror(-r));
		free(rs.v);
		return EXIT_FAIL;
	}

	/* mark: everything a root refers to, and the roots that came meanwhile */
	if (mark_roots(g, 0) < 0) {
		free(rs.v);
		return EXIT_FAIL;
	}
	for (i = 0; i < g->o->depots.n; i++)
		mark_depot(g, g->o->depots.v[i]);
	strv_uniq(&g->files);
	for (i = 0; i < g->files.n; i++)
		mark_file(g, g->files.v[i]);
	if (mark_roots(g, g->t_mark) < 0) {
		free(rs.v);
		return EXIT_FAIL;
	}
	now = time(NULL);
	classify(g, &rs, now, sw);

	/* sweep: the marks first, so that a crash keeps the orphan times */
	if (!g->o->dry_run) {
		r = store_set_orphaned_many(g->s, sw->mark, sw->nmark, now);
		if (r >= 0)
			r = store_set_orphaned_many(g->s, sw->clear, sw->nclear, 0);
		if (r < 0) {
			ctl_warnx("cannot write the orphan marks: %s",
				*store_errmsg(g->s) ? store_errmsg(g->s) : strerror(-r));
			sw->status = EXIT_FAIL;
			sw->waiting += sw->ncand;
			sw->ncand = 0;	/* marks not written: remove nothing */
		}
	}
	remove_candidates(g, sw);
	store_clear_error(g->s);
	sw->tmp_removed = store_tmp_sweep(g->s, g->o->grace, &sw->tmp_freed);
	if (sw->tmp_removed < 0) {
		ctl_warnx("cannot sweep tmp/ and quarantine/: %s",
			*store_errmsg(g->s) ? store_errmsg(g->s) : strerror(-sw->tmp_removed));
		sw->status = EXIT_FAIL;
	}
	/* partial/ (issue 16): files no reader used for the grace period */
	sw->partial_removed = store_partial_reclaim(g->s, 0, g->o->grace, &sw->partial_freed);
	if (sw->partial_removed < 0) {
		ctl_warnx("cannot reclaim '%s/partial': %s", store_dir(g->s),
			strerror(-sw->partial_removed));
		sw->status = EXIT_FAIL;
	}
	if (g->o->json)
		report_json(g, sw);
	else
		report_text(g, sw);
	free(rs.v);
	return sw->status;
}

int cmd_gc(int argc, char **argv)
{
	struct gc_opts o = { 0 };
	struct gc g = { .o = &o };
	struct sweep sw = { 0 };
	struct store_gc_lock *lock = NULL;
	int r, status;

	parse_args(argc, argv, &o);
	g.s = ctl_store_open(o.store, o.dry_run ? STORE_RDONLY : 0, NULL);
	if (!o.dry_run) {
		r = store_gc_lock(g.s, &lock);
		if (r < 0) {
			if (r == -EBUSY)
				ctl_warnx("another gc of '%s' is running; not starting another",
					store_dir(g.s));
			else
				ctl_warnx("%s", *store_errmsg(g.s) ? store_errmsg(g.s) :
					strerror(-r));
			store_close(g.s);
			strv_free(&o.depots);
			return EXIT_FAIL;
		}
	}
	status = run(&g, &sw);
	if (fflush(stdout) != 0) {
		ctl_warne(-errno, "cannot write the report");
		status = EXIT_FAIL;
	}
	store_gc_unlock(lock);
	store_close(g.s);
	free(sw.cand);
	free(sw.mark);
	free(sw.clear);
	free(g.keep.k);
	free(g.keep.used);
	strv_free(&g.files);
	strv_free(&g.missing);
	strv_free(&g.malformed);
	strv_free(&o.depots);
	return status;
}
