/*
 * cmd_publish_bind.c - artifactctl publish: the Artifacts.toml binding of
 * a run, its rows (text or JSON) and its summary table
 *
 * Every binding of the SOURCEs that did not fail is written in one atomic
 * bind_artifacts() call; mirrors of the same bytes bound before are kept.
 */
#include "tools/artifactctl.h"
#include "tools/cmd_publish.h"

#include "fetch/artifacts.h"
#include "fetch/bind.h"
#include "fetch/platform.h"
#include "tools/publish/lookup.h"
#include "tools/publish/sidecar.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
				v[(*n)++] = (struct bind_download){
					d[k].url, d[k].sha256, d[k].size, d[k].seek_index};
	}
	*ret = v;
	return 0;
}

/*
 * Bind every artifact of the SOURCEs none of whose artifacts failed, in one
 * bind_artifacts() call: all of them are written, or none.
 */
int pub_bind_all(const struct pub_opts *o, struct items *items)
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
void pub_report(const struct pub_opts *o, const struct item *it, size_t i, size_t n)
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
void pub_summary(const struct pub_opts *o, const struct items *items)
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
