/*
 * version.h - Julia's VersionNumber for platform tags (fetch/ private)
 *
 * Not part of the API: other modules compare versions with
 * platform_vercmp() of fetch/platform.h.  Shared by platform.c and
 * triplet.c.  No global state; every function is reentrant.
 */
#ifndef ARTIFACTFS_VERSION_H
#define ARTIFACTFS_VERSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * A parsed version.  pre and build point into the parsed string (not
 * NUL-terminated, valid as long as it is) and hold the dot-separated
 * identifiers after '-' and '+'.
 */
struct version {
	uint32_t major, minor, patch;
	const char *pre;	/* identifiers after '-', not NUL-terminated */
	size_t prelen;
	bool has_pre;
	const char *build;	/* identifiers after '+' */
	size_t buildlen;
	bool has_build;
};

/*
 * version_parse - Julia's VERSION_REGEX: v? major (.minor)? (.patch)? then
 * either a lone "-", or (-prerelease)? followed by a lone "+" or
 * (+build)?; the "v" in either case.  Components fit in 32 bits.  Returns
 * 0 or -EINVAL (v then undefined).
 */
int version_parse(const char *s, struct version *v);

/* version_cmp - isless order of base/version.jl: < 0, 0 or > 0. */
int version_cmp(const struct version *a, const struct version *b);

/*
 * version_normalize - string(VersionNumber(s)) ("1" -> "1.0.0") into *ret,
 * malloc'ed, the caller frees.  Returns 0, -EINVAL when s is not a
 * version, or -ENOMEM.
 */
int version_normalize(const char *s, char **ret);

/*
 * version_parse_u32 - decimal digits at *pp (at least one) into *ret,
 * advancing *pp past them.  Returns 0 or -EINVAL (nothing changed) when
 * there is no digit or the value exceeds UINT32_MAX.
 */
int version_parse_u32(const char **pp, uint32_t *ret);

#endif
