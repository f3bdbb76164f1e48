/*
 * bind.h - bind_artifact!/unbind_artifact! on an Artifacts.toml file
 *
 * A port of JuliaLang/Pkg.jl src/Artifacts.jl bind_artifact!,
 * unbind_artifact! and pack_platform! (spec/julia-artifacts.md §7.2), plus
 * bind_add_mirror() (Pkg has none; ArtifactUtils.jl's add_artifact! is the
 * nearest).  Each call is one read-modify-write of the file:
 *
 *   lock   flock(LOCK_EX) on "<dir>/.<file name>.lock", created 0644 when
 *          missing and left in place (removing it would let two writers
 *          lock different inodes); waits for other binders, in this or any
 *          other process, without a timeout
 *   read   the file with the TOML reader (a missing file is an empty one)
 *   edit   the tree with the editing API of fetch/toml.h
 *   write  toml_print() (Julia's TOML.print(sorted=true) layout) to
 *          "<dir>/.<file name>.<pid>.<n>" (O_EXCL), fchmod to the old
 *          file's mode (0666 & ~umask for a new file), fsync, rename(2)
 *          over the file, fsync the directory
 *   unlock
 *
 * so concurrent binders never lose each other's updates, readers see the
 * old or the new file and never a partial one, and a crash leaves the old
 * file (and maybe a stray temporary file).  A FILE that is a symlink is
 * resolved and its target is rewritten; the symlink stays.
 *
 * Layout: the whole file is printed again, as Pkg does.  For a file already
 * in Julia's layout (every Artifacts.toml written by Pkg or BinaryBuilder)
 * every entry that is not edited comes out byte-identical; a hand-written
 * file is normalised (keys sorted, comments dropped) once.  New array
 * entries go last in their name's array (Pkg's push!).
 *
 * An entry written by bind_artifact() holds, sorted by the printer:
 *   arch, os and every other platform tag as a string (pack_platform!: all
 *   tags of the platform, defaults included, e.g. libc = "glibc" for Linux,
 *   call_abi = "eabihf" for armv7l Linux, libgfortran_version = "5.0.0",
 *   julia_version = "1.11.0", os_version = "20.0.0" for a darwin20 triplet);
 *   git-tree-sha1 (lowercase); lazy = true only when lazy; download = [{
 *   sha256 (lowercase), url, size only when > 0, seek_index only when
 *   given }] only when downloads are given.
 *
 * "Equal platform" is platform_equal() (fetch/platform.h, Julia's ==) of
 * the new platform and each entry's unpack_platform(): same tags after
 * normalisation, so "x86_64-linux-gnu" equals an entry with arch, os and
 * libc = "glibc" as well as one without libc, but not one with an extra
 * sanitize or libgfortran_version tag.  Pass platforms from platform_parse()
 * or platform_new(), not a host platform (platform_make_host() changes
 * compare modes, which == compares too).
 *
 * Errors common to all calls (-errno):
 *   -EINVAL   the file is not valid TOML, or the name's value is neither a
 *             table nor an array of tables, or an array element has no
 *             os/arch or a tag Platform() rejects (messages say which);
 *             also a bad argument (empty name, hash not 40 hex digits,
 *             sha256 not 64 hex digits, empty url)
 *   -E2BIG    the file exceeds the TOML reader's limits
 *   -EISDIR   path is a directory
 *   -errno    of open/flock/read/write/fsync/rename (-EACCES, -ENOSPC, ...)
 *   -ENOMEM
 * On every failure the file is unchanged.  errmsg, when not NULL, receives
 * a malloc'ed message on failure (lowercase, naming the file and the
 * artifact; for TOML syntax "<file>:<line>:<column>: <reason>"), which the
 * caller frees; it is set to NULL on success.
 *
 * Thread safety: no global state.  flock() locks belong to the open file
 * description, so threads of one process serialise like processes do.
 */
#ifndef ARTIFACTFS_BIND_H
#define ARTIFACTFS_BIND_H

#include <stddef.h>
#include <stdint.h>

struct platform;
struct toml_value;

/* One mirror of a new entry, written as {sha256, url[, size][, seek_index]}. */
struct bind_download {
	const char *url;    /* any non-empty string; not checked further */
	const char *sha256; /* 64 hex digits, either case; written lowercase */
	uint64_t size;	    /* tarball bytes; 0: no "size" key (Pkg writes it only if > 0) */
	/*
	 * URL of the tarball's seek index (issue 16, artifactfs only: Julia
	 * ignores the key); NULL: no "seek_index" key; "" is -EINVAL.
	 */
	const char *seek_index;
};

enum bind_flags {
	BIND_LAZY = 1 << 0,  /* write lazy = true */
	BIND_FORCE = 1 << 1, /* replace an existing name or platform entry */
};

/* One binding, for bind_artifacts(). */
struct bind_request {
	const char *name;		 /* artifact name, any non-empty string */
	const char *hash;		 /* git-tree-sha1, 40 hex digits, either case */
	const struct platform *platform; /* NULL: platform independent (single table) */
	const struct bind_download *downloads;
	size_t ndownloads; /* 0: no "download" key */
	unsigned flags;	   /* enum bind_flags */
};

/*
 * bind_artifact - bind_artifact!(path, name, hash; platform, download_info,
 * lazy, force).
 * Without a platform: name becomes the single table [name]; when name
 * exists in any form it is -EEXIST unless BIND_FORCE, which replaces it
 * (Pkg replaces an array without force; we refuse, since that silently
 * drops every platform entry).
 * With a platform: entries of name whose platform equals it are removed and
 * the new entry is appended ([[name]] array form).  Without BIND_FORCE it
 * is -EEXIST when such an entry exists or name is a single table; with it a
 * single table is replaced by the one-element array.
 * A missing file is created (its directory must exist).
 * Returns 0, -EEXIST as above, or the common errors.
 */
int bind_artifact(const char *path, const char *name, const char *hash,
	const struct platform *platform, const struct bind_download *downloads, size_t ndownloads,
	unsigned flags, char **errmsg);

/*
 * bind_artifacts - several bind_artifact() requests applied in order under
 * one lock and one write: all or nothing (the first failing request fails
 * the call and the file is unchanged; errmsg names its name).  For
 * "artifactctl index" and publishers binding many platforms.  n may be 0
 * (the file is then created or rewritten in Julia's layout).
 */
int bind_artifacts(const char *path, const struct bind_request *reqs, size_t n, char **errmsg);

/*
 * bind_unbind - unbind_artifact!(path, name; platform).
 * Without a platform: name is removed.  With one: the entries of name whose
 * platform equals it are removed, and name itself when no entry remains.
 * Returns 0, -ENOENT when the file, the name or (with a platform) a
 * matching entry does not exist (the file is then not rewritten), or the
 * common errors.  Pkg silently does nothing in those cases, and removes
 * entries that merely platforms_match(); we remove only equal ones.
 */
int bind_unbind(const char *path, const char *name, const struct platform *platform, char **errmsg);

/*
 * bind_add_mirror - append the download {sha256, url} to the selected
 * entries of name, after their existing downloads.
 * Selected: with a platform, every array entry whose platform equals it;
 * without, the single table, or the only entry of a one-element array.
 * The sha256: a mirror serves the same bytes, so by default (sha256 NULL)
 * it is taken from the entry's existing downloads, which must agree; when
 * sha256 is given it must equal theirs, or it is used as-is for an entry
 * without downloads.  A size in the existing downloads is copied too.  A
 * URL already present in an entry's downloads is not added twice (the call
 * still succeeds).
 * Returns 0, or:
 *   -ENOENT     no file, no such name, or no entry with an equal platform
 *   -ENOTUNIQ   no platform given but name has several entries
 *   -ENODATA    sha256 NULL and a selected entry has no download to take it
 *               from
 *   -EBADMSG    the selected entry's downloads disagree on sha256, or the
 *               given sha256 differs from theirs
 *   or the common errors.
 */
int bind_add_mirror(const char *path, const char *name, const char *url, const char *sha256,
	const struct platform *platform, char **errmsg);

/*
 * bind_apply - the edit step of bind_artifacts() on a parsed document
 * root (a table, from toml_parse()), without any file I/O or locking, for
 * callers that build a file in memory (print it with toml_print()).
 * root is modified only on success.  Returns 0, -EEXIST, -EINVAL or -ENOMEM
 * as bind_artifact(); errmsg as above, naming the artifact only.
 */
int bind_apply(struct toml_value *root, const struct bind_request *req, char **errmsg);

#endif
