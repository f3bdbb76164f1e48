/*
 * overrides.h - Julia's Overrides.toml (spec/julia-artifacts.md §4), as a
 * mount applies it (overrides= of artifactfs(8))
 *
 * A file maps artifact hashes to what replaces them:
 *
 *   78f35e74ff113f02274ce60dab6e92b4546ef806 = "/path/to/replacement"
 *   683942669b4639019be7631caa28c38f3e1924fe = "d826e316b6c0d29d9ad0875af6ca63bf67ed38c3"
 *   0123456789abcdef0123456789abcdef01234567 = ""
 *   [d57dbccd-ca19-4d82-b9b8-9d660942965b]
 *   libfoo = "/path/to/libfoo"
 *
 * A hash mapped to an absolute path or to another hash is overridden; ""
 * removes an override (in a depot, one an outer depot's file made; in the
 * one file of a mount it leaves the hash as it is).  A table is keyed by a
 * package UUID and overrides artifact names of that package only, which a
 * mount cannot tell (it serves every package's names at once): such
 * tables are checked like the rest but not applied; the caller logs them.
 * Julia's rules for values are kept: a value is "", an absolute path or 40
 * hex digits (either case; kept in lowercase), a string key is a hash and
 * a table key a UUID, anything else stops the load.  A chain of hashes
 * that comes back to itself is refused too (Julia would recurse forever).
 *
 * Part of the model half of fetch/ (tests/check-includes.sh): no curl, no
 * libarchive, no pipeline header.  Thread safety: a loaded table is
 * immutable and may be read from any number of threads at once.
 */
#ifndef ARTIFACTFS_FETCH_OVERRIDES_H
#define ARTIFACTFS_FETCH_OVERRIDES_H

#include <stddef.h>

struct fetch_overrides;

/*
 * fetch_overrides_parse - read an Overrides.toml from data (len bytes,
 * need not be NUL-terminated) named path in messages.
 * @ret: receives the table (fetch_overrides_free()); untouched on failure.
 * @errmsg: when not NULL, receives on failure a malloc'ed one-line message
 *   "<path>:<line>: <cause>" ("<path>:<line>:<column>: <cause>" for TOML
 *   syntax; the line is left out when it cannot be found).
 * Returns 0, -EINVAL for a file that breaks a rule above, or -ENOMEM.
 */
int fetch_overrides_parse(const char *data, size_t len, const char *path,
	struct fetch_overrides **ret, char **errmsg);

/*
 * fetch_overrides_load - fetch_overrides_parse() of the file at path.
 * Returns what it returns, or -errno from open/read ("<path>: <strerror>").
 */
int fetch_overrides_load(const char *path, struct fetch_overrides **ret, char **errmsg);

/* fetch_overrides_free - free ov; NULL is a no-op. */
void fetch_overrides_free(struct fetch_overrides *ov);

/*
 * fetch_overrides_find - what replaces hash (40 lowercase hex digits): an
 * absolute path or another hash (40 lowercase hex digits), or NULL when
 * hash is not overridden (ov NULL, not listed, or listed with "").
 * Borrowed: valid until ov is freed.
 */
const char *fetch_overrides_find(const struct fetch_overrides *ov, const char *hash);

/*
 * fetch_overrides_count / fetch_overrides_hash_at - the overridden hashes
 * (those fetch_overrides_find() answers non-NULL for) in ascending order;
 * i < count.  Borrowed as fetch_overrides_find().
 */
size_t fetch_overrides_count(const struct fetch_overrides *ov);
const char *fetch_overrides_hash_at(const struct fetch_overrides *ov, size_t i);

/*
 * fetch_overrides_uuid_count / fetch_overrides_uuid_at - the package UUIDs
 * of the file's tables, in file order, which a mount does not apply (for
 * the caller's log line).  Borrowed as fetch_overrides_find().
 */
size_t fetch_overrides_uuid_count(const struct fetch_overrides *ov);
const char *fetch_overrides_uuid_at(const struct fetch_overrides *ov, size_t i);

#endif
