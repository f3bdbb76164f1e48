/*
 * platform.h - Julia platform triplets, platform matching and selection
 *
 * A port of Base.BinaryPlatforms (JuliaLang/julia base/binaryplatforms.jl,
 * released semantics, spec/julia-artifacts.md §1.3-§1.7).  A struct platform
 * is Julia's Platform: a set of tags (key -> value strings, "arch" and "os"
 * included, as in Julia's tags dict) plus a compare mode per tag.  Keys are
 * kept sorted by name, so rendering and iteration are deterministic.
 *
 * Normalisation follows the Platform constructor: tag names and values are
 * lowercased (ASCII only; other bytes are kept as they are), arch aliases
 * are mapped (base/cpuid.jl normalize_arch), libgfortran_version,
 * libstdcxx_version and os_version are rewritten as a VersionNumber prints
 * ("5" -> "5.0.0") when they parse as one, Linux gets libc=glibc and
 * Linux armv6l/armv7l get call_abi=eabihf when absent, and julia_version is
 * compared on major.minor.  Tag names and values containing any of
 * + - space / < > : " ' \ | ? * are rejected with -EINVAL (add_tag!); arch
 * and os values are not checked, as in Julia.
 *
 * Versions: a version is Julia's VersionNumber syntax, [v]MAJOR[.MINOR
 * [.PATCH]][-PRERELEASE][+BUILD], identifiers [0-9A-Za-z-] separated by
 * dots, MAJOR/MINOR/PATCH at most 2^32-1.  Ordering is VersionNumber's:
 * numeric fields, then a version with a prerelease sorts before the same
 * version without one, then identifiers compare numerically when all
 * digits, else byte-wise, numbers before words; a build suffix sorts after
 * no build.  Equality includes the build.  Because tag values may not hold
 * '-' or '+', stored tag values never carry prerelease or build parts.
 *
 * Thread safety: functions keep no global state.  A struct platform may be
 * read from any number of threads at once; modifying it needs exclusive
 * access.
 */
#ifndef ARTIFACTFS_PLATFORM_H
#define ARTIFACTFS_PLATFORM_H

#include <stdbool.h>
#include <stddef.h>

struct platform;

/*
 * How a tag is compared by platforms_match().  Julia keeps a comparison
 * function per tag; these are the ones a C port can offer (§1.6).
 */
enum platform_cmp {
	PLATFORM_CMP_DEFAULT = 0,	/* compare_default: equal strings ("exact") */
	PLATFORM_CMP_VERSION_CAP,	/* compare_version_cap: artifact <= host */
	PLATFORM_CMP_MAJOR_MINOR,	/* julia_version: equal major and minor */
};

/* One tag passed to platform_new(). */
struct platform_kv {
	const char *key;
	const char *value;	/* NULL: the tag is skipped (Julia's nothing) */
};

/*
 * platform_new - Julia's Platform(arch, os, tags) constructor.
 * @arch: architecture, lowercased and normalised (amd64 -> x86_64, i386,
 *        i486, i586 -> i686, armv6 -> armv6l, arm, armv7, armv8, armv8l ->
 *        armv7l, arm64 -> aarch64, ppc64le -> powerpc64le); unknown values
 *        are kept (validate_strict=false).
 * @os: operating system, lowercased ("linux", "macos", "windows", ...).
 * @tags, @ntags: further tags, applied in order (a later duplicate after
 *        lowercasing wins); may be NULL when ntags is 0.
 * @ret: receives the new platform, freed with platform_free(); untouched on
 *       failure.
 * Applies the constructor defaults and normalisation described above.
 * Returns 0, -EINVAL when a tag name is "arch" or "os" ("cannot double-pass
 * key") or a name or value holds a forbidden character, or -ENOMEM.
 * Source: base/binaryplatforms.jl Platform(), add_tag!; spec §1.3, §10.2.
 */
int platform_new(const char *arch, const char *os, const struct platform_kv *tags,
	size_t ntags, struct platform **ret);

/* platform_free - free p; NULL is a no-op. */
void platform_free(struct platform *p);

/*
 * platform_dup - deep copy of p (tags and compare modes) into *ret, freed
 * with platform_free().  Returns 0 or -ENOMEM.
 */
int platform_dup(const struct platform *p, struct platform **ret);

/*
 * platform_parse - parse(Platform, s): read a triplet such as
 * "x86_64-linux-gnu-libgfortran5-cxx11-libstdcxx30-llvm_version+20".
 * @s: the triplet, NUL-terminated; matching is case-sensitive, as the
 *     Julia regex is.
 * @ret: receives the new platform (plain compare modes except julia_version;
 *       use platform_make_host() for a host); untouched on failure.
 * Grammar (spec §1.5, triplet_regex): arch ((x86_|amd)64, i\d86, aarch64,
 * arm64, arm(v7l)?, armv6l, p(ower)?pc64le, rv64, riscv64), os
 * (-apple-darwin[\d.]*, -(.*-)?freebsd[\d.]*, -(.*-)?openbsd[\d.]*,
 * -w64-mingw32, -(.*-)?linux), libc (-gnu, -musl), call ABI (eabihf, eabi),
 * libgfortran (-libgfortran3|-gcc4, 4|-gcc7, 5|-gcc8), -cxx03|-cxx11,
 * -libstdcxxN (-> 3.4.N), then "-key+value" tags.  os_version is taken from
 * darwin/freebsd/openbsd version digits ("darwin17.0.0" -> "17.0.0"); an
 * "os_version" extended tag is dropped, as Julia overwrites it.  A "-k+v+w"
 * tag keeps k=v (Julia's split).  Alternatives are tried in the order
 * above with backtracking; the result is the same as PCRE's for every
 * triplet we know of.
 * Returns 0, -EINVAL when s does not match or a tag is rejected by
 * platform_new() or the os version is not a version, or -ENOMEM.
 * Source: base/binaryplatforms.jl parse(::Type{Platform}, ...).
 */
int platform_parse(const char *s, struct platform **ret);

/*
 * platform_triplet - triplet(p): arch, os ("-linux", "-apple-darwin<major>",
 * "-w64-mingw32", "-unknown-freebsd<major>.<minor>", "-unknown-openbsd",
 * "-unknown"), libc ("-gnu" for glibc, else "-<libc>"), call ABI,
 * "-libgfortran<major>", "-<cxxstring_abi>", "-libstdcxx<patch>", then every
 * other tag as "-<key>+<value>" sorted by key (newer Julia master; released
 * Julia uses hash order, spec §1.5/§10.3).
 * @ret: receives a malloc'ed NUL-terminated string the caller frees;
 *       untouched on failure.
 * Returns 0, -EINVAL when libgfortran_version, libstdcxx_version or a
 * rendered os_version is not a version (Julia throws there too), -E2BIG
 * beyond 64 KiB, or -ENOMEM.
 */
int platform_triplet(const struct platform *p, char **ret);

/*
 * Accessors.  Returned strings are borrowed: valid until the tag is set
 * again or p is freed.
 * platform_arch/platform_os: never NULL.
 * platform_get: the value of key (exact, already lowercase name), or NULL.
 * platform_ntags/platform_tag_at: the tags in key order, "arch" and "os"
 * included; tag_at returns false when i is out of range.  key, value and
 * cmp may each be NULL.
 */
const char *platform_arch(const struct platform *p);
const char *platform_os(const struct platform *p);
const char *platform_get(const struct platform *p, const char *key);
size_t platform_ntags(const struct platform *p);
bool platform_tag_at(const struct platform *p, size_t i, const char **key, const char **value,
	enum platform_cmp *cmp);

/*
 * platform_set_tag - p[key] = value with a compare mode: the name is
 * lowercased, the value normalised as by platform_new() ("arch" is
 * normalised, version tags rewritten, julia_version given
 * PLATFORM_CMP_MAJOR_MINOR when cmp is PLATFORM_CMP_DEFAULT), an existing
 * value is replaced.  Used to add host tags such as llvm_version.
 * Returns 0, -EINVAL for a forbidden character or a cmp out of range, or
 * -ENOMEM (p is then unchanged).
 * Source: base/binaryplatforms.jl setindex!, set_compare_strategy!.
 */
int platform_set_tag(struct platform *p, const char *key, const char *value,
	enum platform_cmp cmp);

/*
 * platform_set_compare - set_compare_strategy!(p, key, cmp).
 * Returns 0, -ENOENT when p has no tag key, or -EINVAL for a bad cmp.
 */
int platform_set_compare(struct platform *p, const char *key, enum platform_cmp cmp);

/*
 * platform_set_tag_spec - platform_set_tag() from "KEY=VALUE" or
 * "KEY=VALUE:MODE", MODE one of the names platform_cmp_parse() accepts
 * (':' cannot occur in a tag value, so the suffix is unambiguous).  Without
 * a mode the tag uses PLATFORM_CMP_DEFAULT ("exact").
 * Returns 0, -EINVAL for a missing '=', an empty key or value, an unknown
 * mode or a forbidden character, or -ENOMEM.
 */
int platform_set_tag_spec(struct platform *p, const char *spec);

/*
 * platform_cmp_parse - read a compare mode name: "exact" or "default",
 * "cap" or "version_cap", "majmin" or "major_minor".  Returns 0 or -EINVAL.
 * platform_cmp_name - the canonical name ("exact", "cap", "majmin") or "?".
 */
int platform_cmp_parse(const char *s, enum platform_cmp *ret);
const char *platform_cmp_name(enum platform_cmp cmp);

/*
 * platform_make_host - HostPlatform(p): os_version and libstdcxx_version,
 * when present, get PLATFORM_CMP_VERSION_CAP, so an artifact's value must
 * be <= the host's.  Source: base/binaryplatforms.jl HostPlatform(p), §1.4.
 */
void platform_make_host(struct platform *p);

/*
 * platform_equal - Julia's ==: same tags and same compare modes.  This is
 * what makes two array entries "the same platform" (last one wins, §1.2).
 */
bool platform_equal(const struct platform *a, const struct platform *b);

/*
 * platforms_match - platforms_match(a, b) (§1.6): for every key both have,
 * compare with the non-default mode of either side (b's first), passing
 * which side asked for it; a key missing on one side matches anything.
 * Returns 1 (match), 0 (no match), or -EINVAL when both sides set different
 * non-default modes for a key, or a version compare meets a value that is
 * not a version.  Julia throws at the first such key in hash order; here
 * any mismatching key makes the result 0 first, and only a pair with no
 * mismatch reports -EINVAL.  Call it with the artifact as a and the host as
 * b, as select_platform does.
 */
int platforms_match(const struct platform *a, const struct platform *b);

/*
 * platform_match_loss - |keys(a) ∪ keys(b)| - |keys(a) ∩ keys(b)|: the
 * number of tag names (arch and os included) present on one side only.
 */
size_t platform_match_loss(const struct platform *a, const struct platform *b);

/*
 * platform_select - select_platform(dict, host) (§1.7): among cands[0..n)
 * that platforms_match(cand, host), pick the lowest match loss, then the
 * byte-wise greatest triplet.  Equal triplets (tags that triplets do not
 * show, such as libgfortran_version 5.0.0 against 5.1.0) are ordered by
 * their sorted (key, value) lists, greatest first, then by lower index; the
 * result therefore never depends on the order of cands except for exact
 * duplicates.  NULL entries in cands are skipped.
 * @ret: receives the index of the chosen candidate; untouched on failure.
 * @err, @errlen: when err is not NULL, receives a message on -EINVAL.
 * Returns 0, -ENOENT when no candidate matches, or -EINVAL (see
 * platforms_match(); also a triplet that cannot be rendered when it is
 * needed for a tie), -ENOMEM.
 */
int platform_select(const struct platform *const *cands, size_t n, const struct platform *host,
	size_t *ret, char *err, size_t errlen);

/*
 * platform_vercmp - compare two version strings as VersionNumber (see the
 * top of this file).  *ret gets <0, 0 or >0.  Returns 0 or -EINVAL when
 * either is not a version.
 */
int platform_vercmp(const char *a, const char *b, int *ret);

/*
 * platform_host_detect - HostPlatform() for the running machine, without
 * Julia: what a Julia process built for this machine would report.
 * @root: NULL or "/" for the real system; otherwise a directory prefixed to
 *        every library path probed (used by the tests).
 * Detects:
 *  - arch from uname(2) machine, normalised; os from the build (linux on
 *    Linux, also freebsd, openbsd, macos; no os_version);
 *  - libc on Linux: glibc when confstr(_CS_GNU_LIBC_VERSION) answers (this
 *    process runs on glibc); otherwise glibc when a glibc dynamic loader
 *    (ld-linux*, ld64.so*) exists in /lib or /lib64 and no musl loader
 *    (ld-musl-*) does; otherwise musl;
 *  - libgfortran_version <N>.0.0 for the highest N in 3..5 for which a file
 *    libgfortran.so.N[.x.y] exists in the library directories;
 *  - when libstdc++.so.6 exists there: cxxstring_abi=cxx11 (the GCC >= 5
 *    default; Julia probes libLLVM instead) and libstdcxx_version 3.4.N for
 *    the highest "GLIBCXX_3.4.N" string in the file with 18 <= N <= 30
 *    (Julia's detect_libstdcxx_version searches 30 down to 18), read from
 *    the file bytes without loading it;
 *  - no julia_version (there is no Julia): add one with platform_set_tag().
 * Library directories, in order: /lib/<multiarch>, /usr/lib/<multiarch>,
 * /lib64, /usr/lib64, /lib, /usr/lib, /usr/local/lib64, /usr/local/lib,
 * where <multiarch> is the Debian tuple for the arch (x86_64-linux-gnu,
 * i386-linux-gnu, aarch64-linux-gnu, arm-linux-gnueabihf,
 * powerpc64le-linux-gnu, riscv64-linux-gnu).  ld.so.conf is not read.
 * The result has the host compare modes (platform_make_host()).
 * @ret: receives the new platform; untouched on failure.
 * Returns 0, -errno from uname(2), or -ENOMEM.  Missing or unreadable
 * libraries only leave their tags out.
 * Source: base/binaryplatforms.jl host_triplet(), HostPlatform(); §1.4.
 */
int platform_host_detect(const char *root, struct platform **ret);

/*
 * platform_host - the host platform to select with: HostPlatform(parse(
 * Platform, triplet)) when triplet is not NULL (an override), otherwise
 * platform_host_detect(NULL, ret).  Returns as platform_parse() or
 * platform_host_detect().
 */
int platform_host(const char *triplet, struct platform **ret);

#endif
