/*
 * depot.h - what a Julia depot uses: usage logs, manifests, package slugs
 *
 * Part of the model half of fetch/ (fetch.h): files are only read, nothing
 * here includes curl or libarchive, and nothing is printed.  A port of the
 * parts of JuliaLang/Pkg.jl's gc (src/API.jl, spec/julia-artifacts.md §5)
 * that find the Artifacts.toml files a depot still uses:
 *
 *   <depot>/logs/artifact_usage.toml   keys: absolute Artifacts.toml paths
 *   <depot>/logs/manifest_usage.toml   keys: absolute Manifest.toml paths
 *     -> every package of each manifest (format 2.0 [[deps.X]] or 1.0 [[X]]):
 *        a registered one at <depot>/packages/<name>/<slug> (Pkg's
 *        Operations.find_installed, Base.version_slug; every depot of the
 *        search list, 5-character slug first, then the 4-character one of
 *        old Pkg versions), a developed one at its path (relative to the
 *        manifest); stdlibs (no tree hash, no path) have none
 *     -> the package's JuliaArtifacts.toml or Artifacts.toml, if any
 *
 * Usage logs are arrays of tables per path ([["/p/Artifacts.toml"]]
 * time = ...); only their keys are used.  The logs are never written: the
 * depot is Julia's, and Pkg condenses its own logs.
 *
 * Errors are -errno.  A malformed usage log or manifest is no error of the
 * walk: it is reported through the walker and skipped, as Pkg does.
 *
 * Thread safety: no global state; every function is reentrant.
 */
#ifndef ARTIFACTFS_DEPOT_H
#define ARTIFACTFS_DEPOT_H

#include <stddef.h>
#include <stdint.h>

#define DEPOT_UUID_LEN 16	/* bytes in a UUID */

/*
 * depot_version_slug - Base.version_slug(uuid, tree, len) of Julia's
 * base/loading.jl: the CRC-32C of the UUID as Julia's UInt128 lies in
 * memory (little-endian: the bytes of the text reversed), continued over the
 * 20 tree-hash bytes, written as len base-62 digits from "A-Za-z0-9", least
 * significant first.  @uuid: 16 bytes in text order (depot_parse_uuid());
 * @tree: the package's git-tree-sha1, 20 bytes; @out receives len
 * characters and a NUL (len + 1 bytes).  Pkg uses len 5 (4 before Pkg 1.2).
 */
void depot_version_slug(const uint8_t uuid[DEPOT_UUID_LEN], const uint8_t tree[20], int len,
	char *out);

/*
 * depot_parse_uuid - the 36 characters "8-4-4-4-12" (hex digits in either
 * case) at s into 16 bytes in text order.  Returns 0, or -EINVAL for NULL
 * or anything else (out is then untouched).
 */
int depot_parse_uuid(const char *s, uint8_t out[DEPOT_UUID_LEN]);

/*
 * depot_artifacts_file - the file Pkg reads in the directory dir
 * (artifact_names, spec §1.1): "<dir>/JuliaArtifacts.toml" when it exists,
 * else "<dir>/Artifacts.toml".  *ret receives a malloc'ed path the caller
 * frees.  Returns 0, -ENOENT when neither exists (*ret untouched), or
 * -ENOMEM.
 */
int depot_artifacts_file(const char *dir, char **ret);

/*
 * struct depot_walker - what depot_walk() searches and whom it tells.
 * Every callback gets arg; paths passed to them are borrowed for the call.
 */
struct depot_walker {
	/* the depots whose packages/ are searched, in order (Pkg's DEPOT_PATH) */
	const char *const *depots;
	size_t ndepots;
	/* an Artifacts.toml the depot uses (may repeat); < 0 stops the walk */
	int (*use)(const char *path, void *arg);
	/* optional (NULL: ignored): a usage log that does not exist */
	void (*no_log)(const char *log, void *arg);
	/*
	 * optional: a file that could not be read and was skipped; what is
	 * "usage log" or "manifest", why the parser's message
	 */
	void (*malformed)(const char *what, const char *path, const char *why, void *arg);
	/* optional: a usage-log key whose file no longer exists (Pkg drops it) */
	void (*gone)(const char *log, const char *path, void *arg);
	void *arg;
};

/*
 * depot_walk - every Artifacts.toml the depot at path depot uses, handed
 * to w->use(): first the existing keys of logs/artifact_usage.toml in file
 * order, then, for each existing key of logs/manifest_usage.toml in file
 * order, the artifacts files of its packages in manifest order.  A package
 * dir is looked up in every depot of w->depots (the walked depot is not
 * added implicitly).  Returns 0, -ENOMEM, or the first negative value
 * w->use() returned (the walk stops there).
 */
int depot_walk(const struct depot_walker *w, const char *depot);

#endif
