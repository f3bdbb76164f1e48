/*
 * test-depot.c - fetch/depot.h: package slugs, UUIDs, and the walk from a
 * Julia depot's usage logs to the Artifacts.toml files it uses
 *
 * The slugs are known answers: (uuid, git-tree-sha1, directory) triples of
 * packages as Julia itself installed them under <depot>/packages/<name>/.
 * The walk runs over a depot built in a private temporary directory and
 * its callbacks are recorded as lines, compared in full and in order.
 */
#include "fetch/depot.h"
#include "store/hash.h"
#include "tests/tap.h"
#include "tests/unit/util.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <unistd.h>

static char tmp[4096];

/* ---- helpers ------------------------------------------------------------------- */

static void put(const char *rel, const char *text)
{
	char path[8192], *p;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", tmp, rel);
	for (p = path + strlen(tmp) + 1; (p = strchr(p, '/')); p++) {
		*p = '\0';
		mkdir(path, 0755);
		*p = '/';
	}
	f = fopen(path, "w");
	if (!f || fputs(text, f) < 0 || fclose(f) != 0) {
		perror(path);
		abort();
	}
}

static void mkdirs(const char *rel)
{
	char path[8192];

	snprintf(path, sizeof(path), "%s/%s/.keep", tmp, rel);
	put(path + strlen(tmp) + 1, "");
}

/* the walk's callbacks, recorded as lines with the temporary prefix cut */
struct rec {
	char lines[64][512];
	int n;
	int stop_after;	/* use() returns -ECANCELED after this many; 0: never */
	int uses;
};

static const char *rel(const char *path)
{
	size_t n = strlen(tmp);

	return strncmp(path, tmp, n) == 0 && path[n] == '/' ? path + n + 1 : path;
}

static void __attribute__((format(printf, 2, 3))) add(struct rec *r, const char *fmt, ...)
{
	va_list ap;

	if (r->n >= 64)
		return;
	va_start(ap, fmt);
	vsnprintf(r->lines[r->n++], sizeof(r->lines[0]), fmt, ap);
	va_end(ap);
}

static int on_use(const char *path, void *arg)
{
	struct rec *r = arg;

	add(r, "use %s", rel(path));
	if (r->stop_after && ++r->uses >= r->stop_after)
		return -ECANCELED;
	return 0;
}

static void on_no_log(const char *log, void *arg)
{
	add(arg, "no log %s", rel(log));
}

static void on_malformed(const char *what, const char *path, const char *why, void *arg)
{
	add(arg, "malformed %s %s%s", what, rel(path), why && *why ? "" : " (no reason given)");
}

static void on_gone(const char *log, const char *path, void *arg)
{
	add(arg, "gone %s from %s", rel(path), rel(log));
}

static void is_lines(const struct rec *r, const char *const *want, const char *name)
{
	int i, n = 0;
	bool same;

	while (want[n])
		n++;
	same = r->n == n;
	for (i = 0; same && i < n; i++)
		same = strcmp(r->lines[i], want[i]) == 0;
	ok(same, "%s", name);
	if (!same) {
		for (i = 0; i < r->n; i++)
			diag("got:  %s", r->lines[i]);
		for (i = 0; i < n; i++)
			diag("want: %s", want[i]);
	}
}

/* ---- version slugs --------------------------------------------------------------- */

struct slug_kat {
	const char *name, *uuid, *tree, *slug;
};

/* packages/<name>/<slug> as Pkg installed them (pkg.julialang.org depots) */
static const struct slug_kat kats[] = {
	{ "ArgParse", "c7e460c6-2fb9-53a9-8c5b-16f535851c63",
	  "3102bce13da501c9104df33549f511cd25264d7d", "bylyV" },
	{ "Expat_jll", "2e619515-83b5-522b-bb60-26c02a35a201",
	  "1402e52fcda25064f51c77a9655ce8680b76acf0", "InUJD" },
	{ "HTTP", "cd3eb016-35fb-5094-929b-558a96fad6f3",
	  "c9f380c76d8aaa1fa7ea9cf97bddbc0d5b15adc2", "cxgat" },
	{ "JLLWrappers", "692b3bcd-3c85-4b1f-b108-f13ce0eb3210",
	  "642a199af8b68253517b80bd3bfd17eb4e84df6e", "bkwIo" },
	{ "JSON", "682c06a0-de6a-54ab-a142-c8b1cf79cde6",
	  "81690084b6198a2e1da36fcfda16eeca9f9f24e4", "3rsiS" },
	{ "Preferences", "21216c6a-2e73-6563-6e65-726566657250",
	  "ea79e4c9077208cd3bc5d29631a26bc0cff78902", "BbvxU" },
	{ "TextWrap", "b718987f-49a8-5099-9789-dcd902bef87d",
	  "9250ef9b01b66667380cf3275b3f7488d0e25faf", "DsImh" },
	{ "URIs", "5c2747f8-b7ea-4ff2-ba2e-563bfd36b1d4",
	  "7855809b88d7b16e9b029afd17880930626f54a2", "hubHc" },
};

static void test_slugs(void)
{
	uint8_t u[DEPOT_UUID_LEN], h[HASH_SHA1_LEN];
	char slug[8];
	size_t i;

	for (i = 0; i < sizeof(kats) / sizeof(kats[0]); i++) {
		if (depot_parse_uuid(kats[i].uuid, u) < 0 ||
		    hash_from_hex(kats[i].tree, 40, h, sizeof(h)) < 0) {
			ok(0, "%s: uuid and tree hash parse", kats[i].name);
			continue;
		}
		depot_version_slug(u, h, 5, slug);
		is_str(slug, kats[i].slug, "version_slug of %s", kats[i].name);
		/* least significant digit first: the old 4-character slug is a prefix */
		depot_version_slug(u, h, 4, slug);
		ok(strlen(slug) == 4 && strncmp(slug, kats[i].slug, 4) == 0,
			"4-character slug of %s is '%.4s'", kats[i].name, kats[i].slug);
	}
	/* the UUID's byte order counts: the same bytes reversed give another slug */
	depot_parse_uuid(kats[0].uuid, u);
	hash_from_hex(kats[0].tree, 40, h, sizeof(h));
	for (i = 0; i < DEPOT_UUID_LEN / 2; i++) {
		uint8_t t = u[i];

		u[i] = u[DEPOT_UUID_LEN - 1 - i];
		u[DEPOT_UUID_LEN - 1 - i] = t;
	}
	depot_version_slug(u, h, 5, slug);
	ok(strcmp(slug, kats[0].slug) != 0, "a reversed UUID gives another slug ('%s')", slug);
	depot_version_slug(u, h, 0, slug);
	is_str(slug, "", "a 0-character slug is empty");
}

static void test_uuid(void)
{
	static const uint8_t want[DEPOT_UUID_LEN] = { 0x69, 0x2b, 0x3b, 0xcd, 0x3c, 0x85, 0x4b,
		0x1f, 0xb1, 0x08, 0xf1, 0x3c, 0xe0, 0xeb, 0x32, 0x10 };
	static const char *const bad[] = {
		"692b3bcd-3c85-4b1f-b108-f13ce0eb321",		/* 35 characters */
		"692b3bcd-3c85-4b1f-b108-f13ce0eb32100",	/* 37 */
		"692b3bcd3c85-4b1f-b108-f13ce0eb32100",		/* a dash missing */
		"692b3bcd-3c85-4b1f-b108_f13ce0eb3210",		/* a dash replaced */
		"692b3bcd-3c85-4b1f-b1080f13ce0eb-3210",	/* a dash moved */
		"692b3bcd-3c85-4b1f-b108-f13ce0eb321g",		/* not hex */
		"692b3bcd-3c85-4b1f-b108-f13ce0eb32 0",		/* a space */
		"",
	};
	uint8_t u[DEPOT_UUID_LEN];
	size_t i;

	is_int(depot_parse_uuid("692b3bcd-3c85-4b1f-b108-f13ce0eb3210", u), 0, "a UUID parses");
	ok(memcmp(u, want, sizeof(want)) == 0, "its bytes are in text order");
	memset(u, 0, sizeof(u));
	is_int(depot_parse_uuid("692B3BCD-3C85-4B1F-B108-F13CE0EB3210", u), 0,
		"an upper-case UUID parses");
	ok(memcmp(u, want, sizeof(want)) == 0, "to the same bytes");
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(u, 0xa5, sizeof(u));
		is_int(depot_parse_uuid(bad[i], u), -EINVAL, "'%s' is no UUID", bad[i]);
		ok(u[0] == 0xa5 && u[DEPOT_UUID_LEN - 1] == 0xa5, "'%s': out untouched", bad[i]);
	}
	is_int(depot_parse_uuid(NULL, u), -EINVAL, "NULL is no UUID");
}

static void test_artifacts_file(void)
{
	char dir[8192], *path = (char *)"untouched";

	put("af/both/JuliaArtifacts.toml", "");
	put("af/both/Artifacts.toml", "");
	put("af/plain/Artifacts.toml", "");
	mkdirs("af/none");
	snprintf(dir, sizeof(dir), "%s/af/both", tmp);
	is_int(depot_artifacts_file(dir, &path), 0, "both files: found");
	is_str(rel(path), "af/both/JuliaArtifacts.toml", "JuliaArtifacts.toml wins");
	free(path);
	snprintf(dir, sizeof(dir), "%s/af/plain", tmp);
	is_int(depot_artifacts_file(dir, &path), 0, "Artifacts.toml alone: found");
	is_str(rel(path), "af/plain/Artifacts.toml", "Artifacts.toml");
	free(path);
	path = (char *)"untouched";
	snprintf(dir, sizeof(dir), "%s/af/none", tmp);
	is_int(depot_artifacts_file(dir, &path), -ENOENT, "neither: -ENOENT");
	is_str(path, "untouched", "neither: *ret untouched");
	snprintf(dir, sizeof(dir), "%s/af/missing", tmp);
	is_int(depot_artifacts_file(dir, &path), -ENOENT, "no directory: -ENOENT");
}

/* ---- the walk ------------------------------------------------------------------- */

static void build_depot(void)
{
	static char text[65536];

	/* artifact_usage.toml: one used twice, one gone */
	put("env/direct/Artifacts.toml", "");
	snprintf(text, sizeof(text),
		"[[\"%s/env/direct/Artifacts.toml\"]]\ntime = 2025-01-02T03:04:05.678Z\n\n"
		"[[\"%s/gone/Artifacts.toml\"]]\ntime = 2025-01-02T03:04:05.678Z\n\n"
		"[[\"%s/env/direct/Artifacts.toml\"]]\ntime = 2025-01-03T03:04:05.678Z\n",
		tmp, tmp, tmp);
	put("d1/logs/artifact_usage.toml", text);
	/* manifest_usage.toml: 2.0, gone, malformed, 1.0 */
	snprintf(text, sizeof(text),
		"[[\"%s/env/v2/Manifest.toml\"]]\ntime = 2025-01-02T03:04:05.678Z\n\n"
		"[[\"%s/gone/Manifest.toml\"]]\ntime = 2025-01-02T03:04:05.678Z\n\n"
		"[[\"%s/env/bad/Manifest.toml\"]]\ntime = 2025-01-02T03:04:05.678Z\n\n"
		"[[\"%s/env/v1/Manifest.toml\"]]\ntime = 2025-01-02T03:04:05.678Z\n",
		tmp, tmp, tmp, tmp);
	put("d1/logs/manifest_usage.toml", text);
	put("env/bad/Manifest.toml", "not toml [[[\n");
	snprintf(text, sizeof(text),
		"julia_version = \"1.10.4\"\nmanifest_format = \"2.0\"\n\n"
		"[[deps.Artifacts]]\nuuid = \"56f22d72-fd6d-98f1-02f0-08ddc0907c33\"\n\n"
		"[[deps.JLLWrappers]]\n"
		"git-tree-sha1 = \"642a199af8b68253517b80bd3bfd17eb4e84df6e\"\n"
		"uuid = \"692b3bcd-3c85-4b1f-b108-f13ce0eb3210\"\n\n"
		"[[deps.MyDev]]\npath = \"dev/MyDev\"\n"
		"uuid = \"0b0b0b0b-1111-2222-3333-444444444444\"\n\n"
		"[[deps.AbsDev]]\npath = \"%s/abs/AbsDev\"\n"
		"uuid = \"0c0c0c0c-1111-2222-3333-444444444444\"\n\n"
		"[[deps.NoFile]]\npath = \"dev/NoFile\"\n"
		"uuid = \"0d0d0d0d-1111-2222-3333-444444444444\"\n\n"
		"[[deps.HTTP]]\n"
		"git-tree-sha1 = \"c9f380c76d8aaa1fa7ea9cf97bddbc0d5b15adc2\"\n"
		"uuid = \"cd3eb016-35fb-5094-929b-558a96fad6f3\"\n\n"
		"[[deps.\"..\"]]\n"
		"git-tree-sha1 = \"c9f380c76d8aaa1fa7ea9cf97bddbc0d5b15adc2\"\n"
		"uuid = \"cd3eb016-35fb-5094-929b-558a96fad6f3\"\n",
		tmp);
	put("env/v2/Manifest.toml", text);
	put("env/v1/Manifest.toml",
		"[[JSON]]\ngit-tree-sha1 = \"81690084b6198a2e1da36fcfda16eeca9f9f24e4\"\n"
		"uuid = \"682c06a0-de6a-54ab-a142-c8b1cf79cde6\"\n\n"
		"[[Preferences]]\ngit-tree-sha1 = \"ea79e4c9077208cd3bc5d29631a26bc0cff78902\"\n"
		"uuid = \"21216c6a-2e73-6563-6e65-726566657250\"\n\n"
		"[[Bad]]\ngit-tree-sha1 = \"not a hash\"\n"
		"uuid = \"21216c6a-2e73-6563-6e65-726566657250\"\n");
	/* packages: JLLWrappers only in the second search depot, a decoy at a wrong slug */
	put("d2/packages/JLLWrappers/bkwIo/Artifacts.toml", "");
	put("d1/packages/JLLWrappers/Zzzzz/Artifacts.toml", "");
	put("env/v2/dev/MyDev/Artifacts.toml", "");
	put("abs/AbsDev/JuliaArtifacts.toml", "");
	mkdirs("env/v2/dev/NoFile");
	mkdirs("d1/packages/HTTP/cxgat");	/* installed, but no artifacts file */
	put("d1/packages/cxgat/Artifacts.toml", "");	/* what ".." would reach */
	put("d1/packages/JSON/3rsi/Artifacts.toml", "");	/* the old 4-character slug */
	put("d1/packages/Preferences/BbvxU/JuliaArtifacts.toml", "");
	put("d1/packages/Preferences/BbvxU/Artifacts.toml", "");
	mkdirs("d3");
}

static void test_walk(void)
{
	static const char *const want[] = {
		"use env/direct/Artifacts.toml",
		"gone gone/Artifacts.toml from d1/logs/artifact_usage.toml",
		"use d2/packages/JLLWrappers/bkwIo/Artifacts.toml",
		"use env/v2/dev/MyDev/Artifacts.toml",
		"use abs/AbsDev/JuliaArtifacts.toml",
		"gone gone/Manifest.toml from d1/logs/manifest_usage.toml",
		"malformed manifest env/bad/Manifest.toml",
		"use d1/packages/JSON/3rsi/Artifacts.toml",
		"use d1/packages/Preferences/BbvxU/JuliaArtifacts.toml",
		NULL,
	};
	static const char *const want_empty[] = {
		"no log d3/logs/artifact_usage.toml",
		"no log d3/logs/manifest_usage.toml",
		NULL,
	};
	static const char *const want_stop[] = {
		"use env/direct/Artifacts.toml",
		"gone gone/Artifacts.toml from d1/logs/artifact_usage.toml",
		"use d2/packages/JLLWrappers/bkwIo/Artifacts.toml",
		NULL,
	};
	static const char *const want_bad_log[] = {
		"malformed usage log d1/logs/artifact_usage.toml",
		"use d2/packages/JLLWrappers/bkwIo/Artifacts.toml",
		NULL,
	};
	char d1[8192], d2[8192], d3[8192];
	static char text[65536];
	const char *depots[2] = { d1, d2 };
	struct rec *r = calloc(1, sizeof(*r));
	struct depot_walker w = {
		.depots = depots, .ndepots = 2, .use = on_use, .no_log = on_no_log,
		.malformed = on_malformed, .gone = on_gone, .arg = r,
	};

	if (!r)
		abort();
	build_depot();
	snprintf(d1, sizeof(d1), "%s/d1", tmp);
	snprintf(d2, sizeof(d2), "%s/d2", tmp);
	snprintf(d3, sizeof(d3), "%s/d3", tmp);

	is_int(depot_walk(&w, d1), 0, "walk: returns 0");
	is_lines(r, want, "walk: logs, manifests (2.0 and 1.0), every search depot, both slugs, "
			  "developed paths, gone and malformed files, in order");

	memset(r, 0, sizeof(*r));
	is_int(depot_walk(&w, d3), 0, "a depot without logs: 0");
	is_lines(r, want_empty, "a depot without logs: both logs reported missing");

	memset(r, 0, sizeof(*r));
	w.ndepots = 1;
	is_int(depot_walk(&w, d1), 0, "one search depot: 0");
	ok(r->n == 8 && strcmp(r->lines[2], "use env/v2/dev/MyDev/Artifacts.toml") == 0,
		"one search depot: JLLWrappers (only in the other depot) not found, "
		"the decoy at a wrong slug not taken");
	w.ndepots = 2;

	memset(r, 0, sizeof(*r));
	r->stop_after = 2;
	is_int(depot_walk(&w, d1), -ECANCELED, "use() < 0 stops the walk and is returned");
	is_lines(r, want_stop, "nothing is reported after the stop");

	memset(r, 0, sizeof(*r));
	w.no_log = NULL;
	w.malformed = NULL;
	w.gone = NULL;
	is_int(depot_walk(&w, d3), 0, "optional callbacks may be NULL");
	is_int(depot_walk(&w, d1), 0, "optional callbacks may be NULL (full walk)");
	is_int(r->n, 6, "and only use() is called: 6 files");
	w.no_log = on_no_log;
	w.malformed = on_malformed;
	w.gone = on_gone;

	/* a malformed artifact_usage.toml; manifest_usage.toml names the 2.0 one only */
	memset(r, 0, sizeof(*r));
	put("d1/logs/artifact_usage.toml", "[[\"unterminated\"\n");
	snprintf(text, sizeof(text),
		"[[\"%s/env/v2/Manifest.toml\"]]\ntime = 2025-01-02T03:04:05.678Z\n", tmp);
	put("d1/logs/manifest_usage.toml", text);
	snprintf(text, sizeof(text), "%s/env/v2/dev/MyDev/Artifacts.toml", tmp);
	unlink(text);
	snprintf(text, sizeof(text), "%s/abs/AbsDev/JuliaArtifacts.toml", tmp);
	unlink(text);
	is_int(depot_walk(&w, d1), 0, "a malformed usage log: still 0");
	is_lines(r, want_bad_log, "a malformed usage log is reported and skipped; "
				  "the other log is still walked");
	free(r);
}

int main(void)
{
	if (tu_mkdtemp(tmp, sizeof(tmp), "test-depot") < 0)
		return 1;
	test_slugs();
	test_uuid();
	test_artifacts_file();
	test_walk();
	if (!tap_failed)
		tu_rmtree(tmp);
	else
		diag("kept %s", tmp);
	return tap_done();
}
