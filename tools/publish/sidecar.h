/*
 * sidecar.h - the JSON file published beside each tarball (read and
 * written with Jansson), and the JSON string the publishing code and the
 * artifactctl commands share
 *
 * "artifactctl publish" uploads OBJECT and then OBJECT.json, one JSON object:
 *
 *   {"name": "Zlib", "platform": "x86_64-linux-gnu", "git-tree-sha1": "...",
 *    "sha256": "...", "size": 123456, "created": "2024-05-01T12:00:00Z",
 *    "tool": "artifactctl (artifactfs) 0.1.0", "meta": {...}}
 *
 * "meta" is the publisher's own description of the package (publish --meta,
 * --meta-file), any JSON object, and absent when there is none.
 * "platform" is the triplet, or null for a platform-independent artifact.
 * "artifactctl index" reads them back; a reader ignores keys it does not
 * know, so later versions may add some.
 */
#ifndef ARTIFACTCTL_SIDECAR_H
#define ARTIFACTCTL_SIDECAR_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Largest sidecar read back (a real one is about 300 bytes). */
#define SIDECAR_MAX (64 * 1024)

struct sidecar {
	char *name;	     /* malloc'ed */
	char *platform;	     /* malloc'ed triplet, or NULL: platform independent */
	char tree[40 + 1];   /* git-tree-sha1, lowercase hex */
	char sha256[64 + 1]; /* of the tarball, lowercase hex */
	uint64_t size;	     /* tarball bytes */
	char *created;	     /* UTC, ISO 8601 "YYYY-MM-DDTHH:MM:SSZ"; NULL when absent */
	char *tool;	     /* "artifactctl (artifactfs) VERSION"; NULL when absent */
	json_t *meta;	     /* a JSON object (one reference owned), or NULL: none */
};

/* sidecar_release - free the strings of s and zero it; NULL is a no-op. */
void sidecar_release(struct sidecar *s);

/*
 * sidecar_format - s as the JSON text above (keys in that order, one line,
 * ending in a newline).  NULL created/tool are written as null; a NULL
 * meta is left out; strings go through sidecar_json_str().
 * @ret: malloc'ed text (caller frees), @len its length; untouched on failure.
 * Returns 0, -EINVAL (a name, hash or sha256 that is not valid, a size over
 * INT64_MAX), -E2BIG (the text would be longer than SIDECAR_MAX: too much
 * meta), -ENOMEM.
 */
int sidecar_format(const struct sidecar *s, char **ret, size_t *len);

/*
 * sidecar_parse - read the len bytes at json as a sidecar into *ret
 * (released with sidecar_release(); untouched on failure).  Hex digits are
 * lowercased.  Of a key given twice, the last value counts.
 * Returns 0, -EBADMSG (not JSON (UTF-8, no NUL in a string, nothing after
 * the object), not an object, or a required key missing
 * or of the wrong type: name and platform strings (platform may be null),
 * git-tree-sha1 40 hex, sha256 64 hex, size an integer >= 0, meta an
 * object or null when present), -E2BIG
 * (longer than SIDECAR_MAX or nested deeper than 32), -ENOMEM; *errmsg,
 * when errmsg is not NULL, gets a malloc'ed reason on -EBADMSG (caller
 * frees; NULL otherwise).
 */
int sidecar_parse(const char *json, size_t len, struct sidecar *ret, char **errmsg);

/*
 * sidecar_is_key - whether key names a sidecar: it ends in ".json" and what
 * comes before ends in ".tar", ".tar.gz", ".tgz", ".tar.xz", ".tar.bz2" or
 * ".tar.zst".  An index.json beside the tarballs is thus never taken for
 * one.
 */
bool sidecar_is_key(const char *key);

/*
 * sidecar_now - the current time as "YYYY-MM-DDTHH:MM:SSZ" into out (21
 * bytes).  $SOURCE_DATE_EPOCH, when set to a number, is used instead of the
 * clock (reproducible builds).
 */
void sidecar_now(char out[21]);

/*
 * sidecar_json_str - s as a new JSON string (Jansson, caller owns the
 * reference), or JSON null when s is NULL.  Bytes that are not UTF-8 (a
 * file name, say) each become U+FFFD, so the output stays valid JSON.
 * Returns NULL only when memory runs out.
 */
json_t *sidecar_json_str(const char *s);

#endif
