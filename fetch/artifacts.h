/*
 * artifacts.h - the Artifacts.toml model: names, entries, platform selection
 *
 * A port of the lookup half of JuliaLang/julia stdlib/Artifacts
 * (artifact_meta, unpack_platform, select_downloadable_artifacts;
 * spec/julia-artifacts.md §1.1-§1.8).  A loaded file keeps its names in
 * file order.  A name maps either to one table (platform independent: os
 * and arch keys inside are visible but ignored) or to an array of tables,
 * one entry per platform.
 *
 * Errors follow Julia: a broken name fails only when it is used, so the
 * other names of the file still resolve.  Problems that Julia reports for
 * any use of a name (a value that is neither table nor array, an array
 * element without os or arch, a tag Platform() rejects) fail every
 * selection of that name; problems of one entry (no or bad git-tree-sha1,
 * a non-boolean lazy, a bad download list) fail only when that entry is
 * the one selected.  artifacts_check() validates everything at once.
 * Messages name the file and the artifact, lowercase, no final full stop:
 *   invalid artifacts file at '<path>': artifact '<name>' contains no `git-tree-sha1`
 *
 * Thread safety: a loaded struct artifacts is never modified; any number of
 * threads may select from it at once.  Nothing here keeps global state.
 *
 * This is the entry point of the model half of fetch/ (fetch.h): with
 * toml.h, platform.h, bind.h and depot.h it reads and writes what a Julia
 * user has without network or archives; nothing in the model includes curl
 * or libarchive (tests/check-includes.sh enforces it).  What it selects is
 * handed to the pipeline (fetch.h) as a list of sources.
 */
#ifndef ARTIFACTFS_ARTIFACTS_H
#define ARTIFACTFS_ARTIFACTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct platform;
struct artifacts;
struct artifact_entry;

/*
 * One mirror of an entry's "download" array, in file order.  The strings
 * are borrowed from the struct artifacts and live as long as it does.
 */
struct artifact_download {
	const char *url;
	const char *sha256;	/* 64 lowercase hex digits (input may be uppercase) */
	uint64_t size;		/* tarball bytes from "size" (Pkg >= 1.13); 0 when absent */
	/*
	 * URL of the tarball's seek index from the artifactfs key "seek_index"
	 * (issue 16, fetch/seekidx.h; Julia ignores it); NULL when absent.
	 */
	const char *seek_index;
};

/*
 * artifacts_load - read an Artifacts.toml.
 * @path: a file, or a directory, in which JuliaArtifacts.toml is used when
 *        it exists, else Artifacts.toml (artifact_names, spec §1.1).
 * @ret: receives the model, freed with artifacts_free(); untouched on
 *       failure.
 * @errmsg: when not NULL, receives on failure a malloc'ed message the caller
 *          frees (set to NULL on success).  For a TOML syntax error it is
 *          the parser's "<file>:<line>:<column>: <reason>".
 * Every name is examined at load time, but only -ENOMEM fails the load for
 * a malformed name; its error is kept and returned when the name is used.
 * Duplicate platforms in one array: the later element replaces the earlier
 * (Julia's Dict{Platform}).
 * Returns 0, -ENOENT (no file; a directory without either name), -errno
 * from open/read, -EINVAL (TOML syntax), -E2BIG (TOML limits), -ENOMEM.
 * Source: stdlib/Artifacts load_artifacts_toml, artifact_meta,
 * unpack_platform.
 */
int artifacts_load(const char *path, struct artifacts **ret, char **errmsg);

/*
 * artifacts_table_platform - the Platform of the platform-specific entry t
 * (a table of an Artifacts.toml) as Julia's unpack_platform() makes it:
 * arch and os (the entry's "arch" and "os" strings, checked by the caller)
 * with every other string-valued key but "git-tree-sha1" as a tag.
 * @ret: freed with platform_free(); untouched on failure.
 * Returns 0, -EINVAL (a tag platform_new() refuses: a forbidden character,
 * a tag named os or arch) or -ENOMEM.  Thread safe.
 */
struct toml_value;
int artifacts_table_platform(const struct toml_value *t, const char *arch, const char *os,
	struct platform **ret);

/* artifacts_free - free a and every entry; NULL is a no-op. */
void artifacts_free(struct artifacts *a);

/* artifacts_path - the file actually read (borrowed, lives as long as a). */
const char *artifacts_path(const struct artifacts *a);

/*
 * artifacts_count/artifacts_name_at - the top-level names in file order;
 * name_at returns NULL when i is out of range.  Borrowed as artifacts_path().
 */
size_t artifacts_count(const struct artifacts *a);
const char *artifacts_name_at(const struct artifacts *a, size_t i);

/*
 * artifacts_name_len_at - the length in bytes of the i-th key as the file
 * wrote it (0 when i is out of range).  TOML keys may hold a NUL ("\u0000"),
 * at which artifacts_name_at() cuts the name: a length greater than
 * strlen(artifacts_name_at(a, i)) tells such a key.
 */
size_t artifacts_name_len_at(const struct artifacts *a, size_t i);

/*
 * artifacts_select - artifact_meta(name, toml; platform=host) (§1.2, §1.7):
 * the single table of a platform-independent name, or the entry of an
 * array that platform_select() picks for host (match with the entry first
 * and the host second; lowest key-name loss; greatest triplet; see
 * platform.h for equal triplets).
 * @host: the host platform, usually from platform_host().
 * @ret: receives the entry, borrowed from a; untouched on failure.  A
 *       returned entry has passed every check (hash, lazy, downloads).
 * @errmsg: as in artifacts_load(), for every failure.
 * Returns 0, -ENOENT when the file has no such name, -ENXIO when no entry
 * matches host (Julia's nothing; the message names the platform),
 * -EINVAL when the name or the selected entry is malformed or the compare
 * fails (conflicting compare modes, non-version values), or -ENOMEM.
 */
int artifacts_select(const struct artifacts *a, const char *name, const struct platform *host,
	const struct artifact_entry **ret, char **errmsg);

/*
 * artifacts_check - the strict check: every name and every entry, in file
 * order, as if each were used; the daemon refuses a file that fails it.
 * Returns 0, or -EINVAL with the first error in *errmsg (as above), or
 * -ENOMEM.
 */
int artifacts_check(const struct artifacts *a, char **errmsg);

/*
 * artifacts_entries - all entries of name, in file order after duplicate
 * removal (one for a table).  *ret is an array borrowed from a.  Entries
 * may carry an error (artifact_entry_error()).
 * Returns 0, -ENOENT for an unknown name, or -EINVAL with *errmsg for a
 * name that is malformed as a whole.
 */
int artifacts_entries(const struct artifacts *a, const char *name,
	const struct artifact_entry *const **ret, size_t *n, char **errmsg);

/*
 * artifacts_select_downloadable - select_downloadable_artifacts (§1.8):
 * for every name in file order, the entry selected for host, skipping
 * names without a match, entries without a "download" key, and lazy
 * entries unless include_lazy.
 * @ret: receives a malloc'ed array of borrowed entries (the caller frees
 *       the array only), @n its length; untouched on failure.
 * Returns 0, or the first error of artifacts_select() other than -ENOENT
 * and -ENXIO (Julia fails the whole call too).
 */
int artifacts_select_downloadable(const struct artifacts *a, const struct platform *host,
	bool include_lazy, const struct artifact_entry ***ret, size_t *n, char **errmsg);

/*
 * Entry accessors; strings and arrays are borrowed from the struct
 * artifacts.
 * artifact_entry_name: the artifact name.
 * artifact_entry_hash: git-tree-sha1 as 40 lowercase hex digits, or NULL
 *   when the entry has an error.
 * artifact_entry_lazy: the "lazy" key (false when absent).
 * artifact_entry_platform: the platform of an array entry (unpack_platform:
 *   every string-valued key except os, arch and git-tree-sha1 is a tag), or
 *   NULL for the single-table form.
 * artifact_entry_has_download: whether the entry has a "download" key
 *   (it may be an empty array: the Pkg server can still serve the hash).
 * artifact_entry_downloads: the mirrors in file order; returns their count
 *   and sets *ret (NULL when there are none).
 * artifact_entry_string: the value of a string-valued key of the entry
 *   (e.g. "os" in a single table), or NULL.
 * artifact_entry_error: the message of an entry that fails its checks, or
 *   NULL.
 */
const char *artifact_entry_name(const struct artifact_entry *e);
const char *artifact_entry_hash(const struct artifact_entry *e);
bool artifact_entry_lazy(const struct artifact_entry *e);
const struct platform *artifact_entry_platform(const struct artifact_entry *e);
bool artifact_entry_has_download(const struct artifact_entry *e);
size_t artifact_entry_downloads(const struct artifact_entry *e,
	const struct artifact_download **ret);
const char *artifact_entry_string(const struct artifact_entry *e, const char *key);
const char *artifact_entry_error(const struct artifact_entry *e);

/*
 * artifact_entry_json - one JSON object for `artifactctl resolve --json`:
 *   {"name": "...", "git-tree-sha1": "...", "lazy": false,
 *    "triplet": "x86_64-linux-gnu" | null,
 *    "downloads": [{"url": "...", "sha256": "...", "size": 123}, ...]}
 * "triplet" is null for the platform-independent form; "size" appears
 * only when positive (as Pkg writes it).  No trailing newline.
 * @ret: receives a malloc'ed NUL-terminated string the caller frees; @len
 *       (may be NULL) its length.  Untouched on failure.
 * Returns 0, -EINVAL for an entry with an error or a triplet that cannot
 * be rendered, -E2BIG beyond 16 MiB, or -ENOMEM.
 */
int artifact_entry_json(const struct artifact_entry *e, char **ret, size_t *len);

#endif
