/*
 * cmd_publish.h - what the files of "artifactctl publish" share (internal)
 *
 * The command is split by job, after libarchive's tar/ (one options
 * struct, one file per stage):
 *
 *     cmd_publish.c          usage, options, signals and progress, the
 *                            worker pool, cmd_publish()
 *     cmd_publish_collect.c  the SOURCEs (and --each DIR) as items
 *     cmd_publish_item.c     one item: look up, pack, upload, sidecar,
 *                            seek index, GitHub release siblings
 *     cmd_publish_bind.c     the Artifacts.toml binding, the rows and the
 *                            summary table
 *
 * Only these files include this header; tools/publish/ never does.
 */
#ifndef ARTIFACTCTL_CMD_PUBLISH_H
#define ARTIFACTCTL_CMD_PUBLISH_H

#include "tools/publish/lookup.h"
#include "tools/publish/upload.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ctl_bar;
struct platform;

/* The parsed command line (parse_args() in cmd_publish.c). */
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

/* The items of a run, in SOURCE order; v is malloc'ed, each item released by pub_item_release(). */
struct items {
	struct item *v;
	size_t n, cap;
};

/* The platform of an item as printed and as named in an object key: its triplet or "any". */
static inline const char *plat_of(const struct item *it)
{
	return it->triplet ? it->triplet : "any";
}

/* ---- cmd_publish.c: the run's signal state and progress bar ---- */

/*
 * pub_bar - the run's progress bar, owned by cmd_publish.c (initialised by
 * cmd_publish(), which clears tty with more than one job: then nothing is
 * drawn).
 * Returns: the bar, valid for the whole process.
 * Thread safety: drawn only while bar->tty is true, i.e. with one worker.
 */
struct ctl_bar *pub_bar(void);

/*
 * pub_on_pack_progress - pack_opts.progress callback: draws done of total
 * bytes (uncompressed) on pub_bar(); arg is unused.
 * Thread safety: as pub_bar().
 */
void pub_on_pack_progress(uint64_t done, uint64_t total, void *arg);

/*
 * pub_on_upload_progress - upload_put_fd() progress callback: draws now of
 * total bytes sent on pub_bar(); arg is unused.
 * Returns: false once SIGINT or SIGTERM came in (pub_interrupted()), which
 * makes the upload stop (a multipart upload is aborted); true otherwise.
 * Thread safety: as pub_bar().
 */
bool pub_on_upload_progress(void *arg, uint64_t now, uint64_t total);

/*
 * pub_upload_begin, pub_upload_end - bracket an upload: while any upload
 * runs, SIGINT and SIGTERM only set the flag pub_interrupted() reads;
 * outside one their default action applies.  Calls must pair.
 * Thread safety: safe from any thread (an atomic counter).
 */
void pub_upload_begin(void);
void pub_upload_end(void);

/*
 * pub_interrupted - whether SIGINT or SIGTERM came in during an upload;
 * no worker starts another artifact then.
 * Thread safety: safe from any thread (a sig_atomic_t set by the handler).
 */
bool pub_interrupted(void);

/* ---- cmd_publish_collect.c: the items of the SOURCEs ---- */

/*
 * pub_collect_all - appends to v the artifacts of every SOURCE of o, then
 * of every sub-directory of o->each (sorted by name; dot entries and
 * non-directories passed over).  A directory holding one directory per
 * platform gives one item per platform (unless o->single).  With one
 * SOURCE, its failure is the return value; with several, a failing SOURCE
 * becomes an item whose action is ACT_FAIL and the others go on.
 * o: the options (borrowed); v: the list to append to (items owned by v,
 * released by pub_item_release() even on failure).
 * Returns: EXIT_OK, or an artifactctl exit status (EXIT_USAGE, EXIT_FAIL)
 * after printing the message.
 * Thread safety: none needed (called before the workers start).
 */
int pub_collect_all(const struct pub_opts *o, struct items *v);

/*
 * pub_item_release - frees what it owns (name, path, platform, key, URLs)
 * and closes its fd if open; it itself (an element of struct items) is not
 * freed.
 * Thread safety: it must not be in use by another thread.
 */
void pub_item_release(struct item *it);

/* ---- cmd_publish_item.c: one artifact ---- */

/*
 * pub_process - one artifact, start to end: looks its tree up among the
 * published sidecars (unless a tarball or o->force), packs it (or checks
 * the tarball) to a temporary file, uploads it with its sidecar and seek
 * index unless the same bytes are there, and sets it->url, it->bind_url,
 * it->seek_url.  Prints what happens; the tarball's fd is closed before it
 * returns.  Not started after pub_interrupted().
 * o: options (borrowed); u: this worker's destination handle (borrowed);
 * it: the item, filled in.
 * Errors: none returned: it->action is ACT_FAIL when it failed (or was
 * already ACT_FAIL, then nothing is done).
 * Thread safety: one call per item at a time, each thread with its own u.
 */
void pub_process(const struct pub_opts *o, struct upload *u, struct item *it);

/* ---- cmd_publish_bind.c: the Artifacts.toml and the output ---- */

/*
 * pub_bind_all - binds in o->toml every item of the SOURCEs none of whose
 * items failed, in one bind_artifacts() call (all are written, or none),
 * keeping after ours the other mirrors of the same bytes already bound.
 * Returns: EXIT_OK; EXIT_MALFORMED when the Artifacts.toml is malformed or
 * too large; EXIT_FAIL on another failure (the message is printed).
 * Thread safety: none needed (called after the workers end).
 */
int pub_bind_all(const struct pub_opts *o, struct items *items);

/*
 * pub_report - prints the row of item it on standard output: a line, or with
 * o->json its object in the one JSON array of the run (i counts from 0
 * among n; the array is closed after the last one).
 * Thread safety: not thread-safe (standard output; called after the workers end).
 */
void pub_report(const struct pub_opts *o, const struct item *it, size_t i, size_t n);

/*
 * pub_summary - prints the table that closes a run of several artifacts
 * (name, platform, status, bytes, then the totals) on standard error.
 * Thread safety: not thread-safe (called after the workers end).
 */
void pub_summary(const struct pub_opts *o, const struct items *items);

#endif
