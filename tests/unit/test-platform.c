/*
 * test-platform.c - triplets, matching and selection (fetch/platform.h)
 *
 * Vectors from JuliaLang/julia test/binaryplatforms.jl as quoted in
 * spec/julia-artifacts.md §1.5-§1.7.
 */
#include "fetch/platform.h"
#include "tests/tap.h"
#include "tests/unit/util.h"

#include <errno.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <unistd.h>

/* Platform(arch, os; k1=v1, ...) from a NULL-terminated key, value list. */
static struct platform *P(const char *arch, const char *os, ...)
{
	struct platform_kv kv[16];
	struct platform *p = NULL;
	size_t n = 0;
	va_list ap;

	va_start(ap, os);
	for (;;) {
		const char *k = va_arg(ap, const char *);

		if (!k || n == 16)
			break;
		kv[n].key = k;
		kv[n].value = va_arg(ap, const char *);
		n++;
	}
	va_end(ap);
	if (platform_new(arch, os, kv, n, &p) < 0)
		return NULL;
	return p;
}

static struct platform *parse(const char *s)
{
	struct platform *p = NULL;

	if (platform_parse(s, &p) < 0)
		return NULL;
	return p;
}

/* triplet(p), in a static buffer ("(error)" when it fails) */
static const char *trip(const struct platform *p)
{
	static char out[4][512];
	static int slot;
	char *t = NULL, *o = out[slot++ % 4];

	if (!p || platform_triplet(p, &t) < 0) {
		snprintf(o, 512, "(error)");
		return o;
	}
	snprintf(o, 512, "%s", t);
	free(t);
	return o;
}

static const char *get(const struct platform *p, const char *k)
{
	return p ? platform_get(p, k) : "(no platform)";
}

/* Checks that platforms_match(A, HOST) is WANT (WHAT), then frees A. */
static void is_match(struct platform *a, const struct platform *host, int want, const char *what)
{
	is_int(platforms_match(a, host), want, "%s", what);
	platform_free(a);
}

/* Checks that the parsed P equals Q (WHAT), then frees both. */
static void is_same(struct platform *p, struct platform *q, const char *what)
{
	ok(p && q && platform_equal(p, q), "%s", what);
	platform_free(p);
	platform_free(q);
}

/* Checks that TRIPLET parses with the tag KEY set to WANT (WHAT). */
static void is_tag(const char *triplet, const char *key, const char *want, const char *what)
{
	struct platform *p = parse(triplet);

	is_str(get(p, key), want, "%s", what);
	platform_free(p);
}

/* Checks that P renders as the triplet WANT (WHAT), then frees P. */
static void is_trip(struct platform *p, const char *want, const char *what)
{
	is_str(trip(p), want, "%s", what);
	platform_free(p);
}

static void test_parse(void)
{
	static const struct {
		const char *in, *out;	/* out: triplet(parse(in)) */
	} rt[] = {
		{ "arm-linux-gnueabihf", "armv7l-linux-gnueabihf" },
		{ "x86_64-apple-darwin17.0.0", "x86_64-apple-darwin17" },
		{ "x86_64-linux-gnu-gcc4-cxx11", "x86_64-linux-gnu-libgfortran3-cxx11" },
		{ "x86_64-linux-gnu-march+x86_64-cuda+10.1",
		  "x86_64-linux-gnu-cuda+10.1-march+x86_64" },
		{ "i686-w64-mingw32", "i686-w64-mingw32" },
		{ "aarch64-unknown-freebsd", "aarch64-unknown-freebsd" },
		{ "riscv64-linux-gnu", "riscv64-linux-gnu" },
		{ "rv64-linux-gnu", "riscv64-linux-gnu" },
		{ "powerpc64le-linux-gnu", "powerpc64le-linux-gnu" },
		{ "ppc64le-linux-gnu", "powerpc64le-linux-gnu" },
		{ "x86_64-linux-gnu", "x86_64-linux-gnu" },
		{ "x86_64-linux-musl", "x86_64-linux-musl" },
		{ "i686-unknown-linux-gnu", "i686-linux-gnu" },
		{ "x86_64-apple-darwin", "x86_64-apple-darwin" },
		{ "x86_64-apple-darwin14", "x86_64-apple-darwin14" },
		{ "armv7l-pc-linux-gnueabihf", "armv7l-linux-gnueabihf" },
		{ "armv7l-linux-musleabihf", "armv7l-linux-musleabihf" },
		{ "armv6l-linux-gnueabi", "armv6l-linux-gnueabi" },
		{ "aarch64-unknown-linux-gnu", "aarch64-linux-gnu" },
		{ "x86_64-w64-mingw32", "x86_64-w64-mingw32" },
		{ "x86_64-unknown-freebsd11.1", "x86_64-unknown-freebsd11.1" },
		{ "i686-unknown-freebsd11.1", "i686-unknown-freebsd11.1" },
		{ "amd64-unknown-freebsd12.0", "x86_64-unknown-freebsd12.0" },
		{ "i386-unknown-freebsd10.3", "i686-unknown-freebsd10.3" },
		{ "aarch64-apple-darwin18.7", "aarch64-apple-darwin18" },
		{ "arm64-apple-darwin20", "aarch64-apple-darwin20" },
		{ "x86_64-linux-gnu-gcc7", "x86_64-linux-gnu-libgfortran4" },
		{ "x86_64-linux-gnu-gcc8", "x86_64-linux-gnu-libgfortran5" },
		{ "x86_64-linux-gnu-cxx11", "x86_64-linux-gnu-cxx11" },
		{ "x86_64-linux-gnu-libgfortran3-cxx03", "x86_64-linux-gnu-libgfortran3-cxx03" },
		{ "x86_64-linux-gnu-libstdcxx26", "x86_64-linux-gnu-libstdcxx26" },
		{ "x86_64-linux-gnu-libgfortran5-cxx11-libstdcxx30-julia_version+1.11.1",
		  "x86_64-linux-gnu-libgfortran5-cxx11-libstdcxx30-julia_version+1.11.1" },
		{ "x86_64-linux-gnu-cxx11-sanitize+memory-llvm_version+20",
		  "x86_64-linux-gnu-cxx11-llvm_version+20-sanitize+memory" },
		{ "aarch64-linux-gnu-cuda_platform+jetson-cuda+12.9",
		  "aarch64-linux-gnu-cuda+12.9-cuda_platform+jetson" },
		{ "aarch64-linux-gnueabihf", "aarch64-linux-gnueabihf" },	/* non-strict */
		{ "x86_64-unknown-openbsd", "x86_64-unknown-openbsd" },
		{ "x86_64-linux-gnu-a+b+c", "x86_64-linux-gnu-a+b" },	/* Julia's split */
	};
	static const char *const bad[] = {
		"totally FREEFORM text!!1!!!1!", "invalid-triplet-here", "x86_64-w32-mingw64",
		"", "x86_64", "x86_64-linux-gnu-", "x86_64-linux-gnu-foo", "x86_64-linux-gnu-foo+",
		"X86_64-linux-gnu", "x86_64-linux-gnu-os+windows", "x86_64-linux-gnu-arch+i686",
		"x86_64-linux-gnu-a/b+c", "x86_64-apple-darwin12.",
		"x86_64-linux-gnu-libstdcxx99999999999",
		"x86_64-linux-gnu\n",
	};
	struct platform *p, *q;
	size_t i;

	for (i = 0; i < sizeof(rt) / sizeof(rt[0]); i++) {
		p = parse(rt[i].in);
		is_str(trip(p), rt[i].out, "triplet(parse(\"%s\"))", rt[i].in);
		q = parse(trip(p));
		is_str(trip(q), trip(p), "triplet(parse(triplet(p))) for \"%s\"", rt[i].in);
		/* macOS/FreeBSD triplets keep only part of os_version */
		if (strcmp(rt[i].in, rt[i].out) == 0)
			ok(p && q && platform_equal(p, q), "parse(triplet(p)) == p for \"%s\"",
				rt[i].in);
		platform_free(p);
		platform_free(q);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		p = (struct platform *)1;
		is_int(platform_parse(bad[i], &p), -EINVAL, "parse rejects bad triplet %zu", i);
		ok(p == (struct platform *)1, "ret untouched for bad triplet %zu", i);
	}

	/* the fields, as the testset compares them with P(...) */
	p = parse("arm-linux-gnueabihf");
	is_str(get(p, "arch"), "armv7l", "arm -> armv7l");
	is_str(get(p, "libc"), "glibc", "gnu -> glibc");
	is_str(get(p, "call_abi"), "eabihf", "call_abi eabihf");
	is_int(platform_ntags(p), 4, "arm-linux-gnueabihf has 4 tags");
	platform_free(p);

	p = parse("x86_64-apple-darwin17.0.0");
	q = P("x86_64", "macos", "os_version", "17", NULL);
	is_str(get(p, "os"), "macos", "darwin -> macos");
	is_str(get(p, "os_version"), "17.0.0", "os_version 17.0.0");
	is_str(get(p, "libc"), NULL, "macos has no libc");
	is_same(p, q, "darwin17.0.0 == P(x86_64, macos; os_version=17)");

	is_tag("x86_64-unknown-freebsd11.1", "os_version", "11.1.0",
		"freebsd11.1 -> os_version 11.1.0");

	p = parse("x86_64-linux-gnu-gcc4-cxx11");
	q = P("x86_64", "linux", "libgfortran_version", "3", "cxxstring_abi", "cxx11", NULL);
	is_str(get(p, "libgfortran_version"), "3.0.0", "gcc4 -> libgfortran 3.0.0");
	is_str(get(p, "cxxstring_abi"), "cxx11", "cxx11");
	is_same(p, q, "gcc4-cxx11 == P(...; libgfortran_version=3, cxx11)");

	p = parse("x86_64-linux-gnu-march+x86_64-cuda+10.1");
	q = P("x86_64", "linux", "march", "x86_64", "cuda", "10.1", NULL);
	is_str(get(p, "march"), "x86_64", "march tag");
	is_str(get(p, "cuda"), "10.1", "cuda tag");
	is_same(p, q, "march+cuda == P(...; march, cuda)");

	is_tag("x86_64-linux-gnu-libstdcxx26", "libstdcxx_version", "3.4.26",
		"libstdcxx26 -> 3.4.26");

	p = parse("i686-w64-mingw32");
	is_str(get(p, "os"), "windows", "mingw32 -> windows");
	is_int(platform_ntags(p), 2, "windows has arch and os only");
	platform_free(p);

	is_tag("x86_64-linux-gnu-julia_version+1.7.2", "julia_version", "1.7.2",
		"julia_version kept as given");

	/* an "-os_version+" tag is overwritten by the os part (nothing on lnx) */
	is_tag("x86_64-linux-gnu-os_version+5", "os_version", NULL,
		"os_version tag dropped on linux");

	/* extended tags override the fixed fields (Julia's merge!) */
	is_tag("x86_64-linux-musl-libc+glibc", "libc", "glibc", "libc+glibc overrides -musl");

	/* tags are lowercased; the regex itself is case-sensitive */
	is_tag("x86_64-linux-gnu-CUDA+Ten", "cuda", "ten", "tag name and value lowercased");
}

static void test_render(void)
{
	struct platform *p;
	size_t i;

	is_trip(P("i686", "Windows", NULL), "i686-w64-mingw32", "P(i686, Windows)");
	is_trip(P("x86_64", "linux", "libc", "musl", NULL), "x86_64-linux-musl",
		"P(x86_64, linux; libc=musl)");
	is_trip(P("armv7l", "linux", "libc", "musl", NULL), "armv7l-linux-musleabihf",
		"P(armv7l, linux; libc=musl)");
	is_trip(P("armv6l", "linux", "libc", "musl", "call_abi", "eabihf", NULL),
		"armv6l-linux-musleabihf", "P(armv6l, linux; musl, eabihf)");
	is_trip(P("armv6l", "linux", "call_abi", "eabi", NULL), "armv6l-linux-gnueabi",
		"P(armv6l, linux; call_abi=eabi)");
	is_trip(P("x86_64", "linux", NULL), "x86_64-linux-gnu", "P(x86_64, lnx)");
	is_trip(P("armv6l", "linux", NULL), "armv6l-linux-gnueabihf", "P(armv6l, lnx)");
	is_trip(P("x86_64", "macos", NULL), "x86_64-apple-darwin", "P(x86_64, macos)");
	is_trip(P("x86_64", "macos", "os_version", "16", NULL), "x86_64-apple-darwin16",
		"P(x86_64, macos; os_version=16)");
	is_trip(P("x86_64", "freebsd", NULL), "x86_64-unknown-freebsd", "P(x86_64, freebsd)");
	is_trip(P("i686", "freebsd", NULL), "i686-unknown-freebsd", "P(i686, freebsd)");
	is_trip(P("x86_64", "linux", "libgfortran_version", "3", "cxxstring_abi", "cxx11", NULL),
		"x86_64-linux-gnu-libgfortran3-cxx11", "P(...; libgfortran 3, cxx11)");
	is_trip(P("armv7l", "linux", "libc", "musl", "cxxstring_abi", "cxx03", NULL),
		"armv7l-linux-musleabihf-cxx03", "P(armv7l, linux; musl, cxx03)");
	is_trip(P("x86_64", "linux", "libstdcxx_version", "3.4.26", NULL),
		"x86_64-linux-gnu-libstdcxx26", "P(...; libstdcxx_version=3.4.26)");
	is_trip(P("x86_64", "haiku", NULL), "x86_64-unknown", "unknown os renders -unknown");

	/* "Deterministic serialization": extra tags sorted whatever the input order */
	{
		static const char *const k[] = { "tag1", "tag2", "tag8", "tag9", "cuda" };
		static const char *const v[] = { "a", "b", "c", "d", "10.1" };
		static const int perm[][5] = {
			{ 0, 1, 2, 3, 4 }, { 4, 3, 2, 1, 0 }, { 2, 4, 0, 3, 1 }, { 3, 0, 4, 1, 2 },
		};
		for (i = 0; i < 4; i++) {
			struct platform_kv kv[8] = {
				{ "libgfortran_version", "5.0.0" },
				{ "cxxstring_abi", "cxx11" },
				{ "os_version", "20" },
			};
			size_t j;

			for (j = 0; j < 5; j++)
				kv[3 + j] = (struct platform_kv){ k[perm[i][j]], v[perm[i][j]] };
			p = NULL;
			platform_new("aarch64", "macos", kv, 8, &p);
			is_str(trip(p),
				"aarch64-apple-darwin20-libgfortran5-cxx11-cuda+10.1-"
				"tag1+a-tag2+b-tag8+c-tag9+d",
				"extra tags sorted, permutation %zu", i);
			platform_free(p);
		}
	}

	/* version tags that are not versions cannot be rendered (Julia throws) */
	p = P("x86_64", "linux", "libgfortran_version", "lel", NULL);
	is_str(get(p, "libgfortran_version"), "lel", "non-version libgfortran kept (non-strict)");
	is_str(trip(p), "(error)", "triplet fails on libgfortran_version=lel");
	platform_free(p);
}

static void test_normalise(void)
{
	static const struct {
		const char *in, *out;
	} arch[] = {
		{ "x86_64", "x86_64" }, { "ARMv7l", "armv7l" }, { "armv6l", "armv6l" },
		{ "I686", "i686" }, { "pOWerpc64le", "powerpc64le" }, { "amd64", "x86_64" },
		{ "ARM", "armv7l" }, { "ppc64le", "powerpc64le" }, { "i386", "i686" },
		{ "i486", "i686" }, { "i586", "i686" }, { "armv6", "armv6l" },
		{ "armv7", "armv7l" },
		{ "armv8", "armv7l" }, { "armv8l", "armv7l" }, { "arm64", "aarch64" },
		{ "jpu", "jpu" },
	};
	static const char forbidden[] = "+- /<>:\"'\\|?*";
	static const char *const badspec[] = {
		"foo", "=x", "a=", "a=b:bogus", "a=b/c", "a=:cap", "a b=c",
	};
	struct platform_kv kv;
	struct platform *p;
	size_t i;
	int r;

	for (i = 0; i < sizeof(arch) / sizeof(arch[0]); i++) {
		p = P(arch[i].in, "linux", NULL);
		is_str(get(p, "arch"), arch[i].out, "arch %s -> %s", arch[i].in, arch[i].out);
		platform_free(p);
	}
	p = P("x86_64", "wiNDows", NULL);
	is_str(get(p, "os"), "windows", "os lowercased");
	is_str(get(p, "libc"), NULL, "no libc default off Linux");
	platform_free(p);

	/* constructor defaults, on any platform (host or artifact) */
	p = P("x86_64", "Linux", NULL);
	is_str(get(p, "libc"), "glibc", "linux -> libc=glibc");
	is_str(get(p, "call_abi"), NULL, "x86_64 has no call_abi");
	platform_free(p);
	p = P("armv7l", "linux", NULL);
	is_str(get(p, "call_abi"), "eabihf", "armv7l linux -> call_abi=eabihf");
	platform_free(p);
	p = P("armv6l", "linux", "libc", "musl", NULL);
	is_str(get(p, "call_abi"), "eabihf", "armv6l musl -> call_abi=eabihf");
	is_str(get(p, "libc"), "musl", "explicit libc kept");
	platform_free(p);
	p = P("armv7l", "linux", "call_abi", "eabi", NULL);
	is_str(get(p, "call_abi"), "eabi", "explicit call_abi kept");
	platform_free(p);
	p = P("armv7l", "windows", NULL);
	is_str(get(p, "call_abi"), NULL, "no call_abi default off Linux");
	platform_free(p);

	/* VersionNumber normalisation */
	p = P("x86_64", "linux", "libgfortran_version", "5", "libstdcxx_version", "3.4.26",
		"os_version", "v14", "julia_version", "1.7", "cuda", "10", NULL);
	is_str(get(p, "libgfortran_version"), "5.0.0", "libgfortran_version 5 -> 5.0.0");
	is_str(get(p, "libstdcxx_version"), "3.4.26", "libstdcxx_version kept");
	is_str(get(p, "os_version"), "14.0.0", "os_version v14 -> 14.0.0");
	is_str(get(p, "julia_version"), "1.7", "julia_version kept as given");
	is_str(get(p, "cuda"), "10", "custom tags are not versions");
	{
		enum platform_cmp c = PLATFORM_CMP_DEFAULT;
		const char *k;

		for (i = 0; platform_tag_at(p, i, &k, NULL, &c); i++)
			if (strcmp(k, "julia_version") == 0)
				break;
		is_int(c, PLATFORM_CMP_MAJOR_MINOR, "julia_version compares major.minor");
	}
	platform_free(p);

	/* lowercasing of names and values; nothing values skipped */
	{
		struct platform_kv t[] = { { "SANITIZE", "Memory" }, { "skip", NULL } };

		p = NULL;
		is_int(platform_new("x86_64", "linux", t, 2, &p), 0, "uppercase tag accepted");
		is_str(get(p, "sanitize"), "memory", "tag name and value lowercased");
		is_str(get(p, "skip"), NULL, "NULL value skipped");
		platform_free(p);
	}

	/* add_tag!'s forbidden characters, in names and values */
	for (i = 0; forbidden[i]; i++) {
		char name[8], value[8];

		snprintf(name, sizeof(name), "a%cb", forbidden[i]);
		snprintf(value, sizeof(value), "1%c2", forbidden[i]);
		kv = (struct platform_kv){ name, "x" };
		p = (struct platform *)1;
		is_int(platform_new("x86_64", "linux", &kv, 1, &p), -EINVAL,
			"forbidden '%c' in a tag name", forbidden[i]);
		ok(p == (struct platform *)1, "ret untouched ('%c')", forbidden[i]);
		kv = (struct platform_kv){ "foo", value };
		p = NULL;
		is_int(platform_new("x86_64", "linux", &kv, 1, &p), -EINVAL,
			"forbidden '%c' in a tag value", forbidden[i]);
	}
	/* a version with a prerelease normalises to a value holding '-' */
	kv = (struct platform_kv){ "libgfortran_version", "5.0.0-rc1" };
	p = NULL;
	is_int(platform_new("x86_64", "linux", &kv, 1, &p), -EINVAL, "5.0.0-rc1 rejected");
	/* "cannot double-pass key" */
	kv = (struct platform_kv){ "ARCH", "i686" };
	is_int(platform_new("x86_64", "linux", &kv, 1, &p), -EINVAL, "ARCH as a tag rejected");
	kv = (struct platform_kv){ "os", "windows" };
	is_int(platform_new("x86_64", "linux", &kv, 1, &p), -EINVAL, "os as a tag rejected");

	/* setindex! with the same normalisation; p["os"] = "a+b" throws */
	p = P("x86_64", "linux", NULL);
	is_int(platform_set_tag(p, "os", "a+b", PLATFORM_CMP_DEFAULT), -EINVAL, "os = a+b");
	is_int(platform_set_tag(p, "os", "JuliaOS", PLATFORM_CMP_DEFAULT), 0, "os = JuliaOS");
	is_str(platform_os(p), "juliaos", "os lowercased by set_tag");
	is_int(platform_set_tag(p, "libstdcxx_version", "3.4.26", PLATFORM_CMP_DEFAULT), 0,
		"set libstdcxx_version");
	is_str(trip(p), "x86_64-unknown-gnu-libstdcxx26", "set_tag rendering");
	is_int(platform_set_tag(p, "x", "y", (enum platform_cmp)7), -EINVAL, "bad cmp rejected");
	is_int(platform_set_compare(p, "nope", PLATFORM_CMP_VERSION_CAP), -ENOENT,
		"set_compare on a missing tag");
	platform_free(p);

	/* KEY=VALUE[:MODE] */
	p = P("x86_64", "linux", NULL);
	is_int(platform_set_tag_spec(p, "llvm_version=20"), 0, "spec llvm_version=20");
	is_int(platform_set_tag_spec(p, "libstdcxx_version=3.4.30:cap"), 0, "spec :cap");
	is_int(platform_set_tag_spec(p, "julia_version=1.11"), 0, "spec julia_version");
	is_int(platform_set_tag_spec(p, "cuda=12.4:version_cap"), 0, "spec :version_cap");
	is_int(platform_set_tag_spec(p, "foo=1.2:majmin"), 0, "spec :majmin");
	is_int(platform_set_tag_spec(p, "bar=x:exact"), 0, "spec :exact");
	{
		static const struct {
			const char *k;
			enum platform_cmp c;
		} want[] = {
			{ "llvm_version", PLATFORM_CMP_DEFAULT },
			{ "libstdcxx_version", PLATFORM_CMP_VERSION_CAP },
			{ "julia_version", PLATFORM_CMP_MAJOR_MINOR },
			{ "cuda", PLATFORM_CMP_VERSION_CAP },
			{ "foo", PLATFORM_CMP_MAJOR_MINOR },
			{ "bar", PLATFORM_CMP_DEFAULT },
		};
		size_t j;

		for (j = 0; j < sizeof(want) / sizeof(want[0]); j++) {
			enum platform_cmp c = (enum platform_cmp)99;
			const char *k;

			for (i = 0; platform_tag_at(p, i, &k, NULL, &c); i++)
				if (strcmp(k, want[j].k) == 0)
					break;
			is_int(c, want[j].c, "mode of %s is %s", want[j].k,
				platform_cmp_name(want[j].c));
		}
	}
	for (i = 0; i < sizeof(badspec) / sizeof(badspec[0]); i++)
		is_int(platform_set_tag_spec(p, badspec[i]), -EINVAL, "spec \"%s\" rejected",
			badspec[i]);
	platform_free(p);

	r = 0;
	{
		enum platform_cmp c;

		r |= platform_cmp_parse("exact", &c) || c != PLATFORM_CMP_DEFAULT;
		r |= platform_cmp_parse("default", &c) || c != PLATFORM_CMP_DEFAULT;
		r |= platform_cmp_parse("cap", &c) || c != PLATFORM_CMP_VERSION_CAP;
		r |= platform_cmp_parse("major_minor", &c) || c != PLATFORM_CMP_MAJOR_MINOR;
		r |= platform_cmp_parse("Cap", &c) != -EINVAL;
	}
	ok(r == 0, "platform_cmp_parse names");
}

static void test_vercmp(void)
{
	static const struct {
		const char *a, *b;
		int want;
	} v[] = {
		{ "1.2.3", "1.2.3", 0 }, { "1.2", "1.2.0", 0 }, { "v1", "1.0.0", 0 },
		{ "1.10", "1.9", 1 }, { "3.4.26", "3.4.30", -1 }, { "10", "9.99.99", 1 },
		{ "1.0.0-rc1", "1.0.0", -1 }, { "1.0.0-rc.2", "1.0.0-rc.10", -1 },
		{ "1.0.0-1", "1.0.0-alpha", -1 }, { "1.0.0-alpha", "1.0.0-alpha.1", -1 },
		{ "1.0.0+b", "1.0.0", 1 }, { "1.0.0+b", "1.0.0+b", 0 }, { "1.0.0-", "1.0.0-0", 1 },
		{ "1.0.0-01", "1.0.0-1", 0 }, { "2.0.0-rc1+x", "2.0.0-rc1", 1 },
		{ "4294967295", "4294967294", 1 },
	};
	static const char *const bad[] = {
		"", "abc", "1..2", "1.2.x", "1.2.3.4", "4294967296", "1.0.0-rc.", "1.0-+", "v",
		"1.0.0_1", "-1",
	};
	size_t i;
	int c;

	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		c = 42;
		is_int(platform_vercmp(v[i].a, v[i].b, &c), 0, "vercmp parses %s, %s", v[i].a,
			v[i].b);
		is_int(c < 0 ? -1 : c > 0, v[i].want, "vercmp(%s, %s)", v[i].a, v[i].b);
		c = 42;
		platform_vercmp(v[i].b, v[i].a, &c);
		is_int(c < 0 ? -1 : c > 0, -v[i].want, "vercmp(%s, %s)", v[i].b, v[i].a);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		is_int(platform_vercmp(bad[i], "1", &c), -EINVAL, "\"%s\" is not a version",
			bad[i]);
}

static void test_match(void)
{
	static const char *const gf[] = { NULL, "3", "5" };
	static const char *const sc[] = { NULL, "3.4.18", "3.4.26" };
	static const char *const cx[] = { NULL, "cxx03", "cxx11" };
	static const char *const arches[] = {
		"x86_64", "i686", "aarch64", "armv6l", "armv7l", "powerpc64le",
	};
	struct platform *lnx, *a, *b, *host;
	size_t i, j, k;

	/* combinatorial sweep: missing keys are wildcards */
	lnx = P("x86_64", "linux", NULL);
	for (i = 0; i < 3; i++)
		for (j = 0; j < 3; j++)
			for (k = 0; k < 3; k++) {
				struct platform_kv kv[3];
				size_t n = 0;

				if (gf[i])
					kv[n++] = (struct platform_kv){ "libgfortran_version",
						gf[i] };
				if (sc[j])
					kv[n++] = (struct platform_kv){ "libstdcxx_version",
						sc[j] };
				if (cx[k])
					kv[n++] = (struct platform_kv){ "cxxstring_abi", cx[k] };
				a = NULL;
				platform_new("x86_64", "linux", kv, n, &a);
				ok(a && platforms_match(lnx, a) == 1 &&
					   platforms_match(a, lnx) == 1,
					"linux matches %s both ways", trip(a));
				platform_free(a);
			}

	/* julia_version: major.minor */
	a = P("x86_64", "linux", "julia_version", "1.5.0", NULL);
	b = P("x86_64", "linux", "julia_version", "1.5.1", NULL);
	is_int(platforms_match(a, b), 1, "julia_version 1.5.0 ~ 1.5.1");
	platform_free(b);
	b = P("x86_64", "linux", "julia_version", "1.6.0", NULL);
	is_int(platforms_match(a, b), 0, "julia_version 1.5.0 !~ 1.6.0");
	platform_free(a);
	platform_free(b);

	a = P("i686", "linux", NULL);
	is_int(platforms_match(lnx, a), 0, "x86_64 linux !~ i686 linux");
	platform_free(a);
	a = P("x86_64", "windows", NULL);
	is_int(platforms_match(lnx, a), 0, "linux !~ windows");
	platform_free(a);
	a = P("x86_64", "macos", NULL);
	is_int(platforms_match(lnx, a), 0, "linux !~ macos");
	platform_free(a);
	platform_free(lnx);

	/* explicitly non-matching compiler ABIs */
	for (i = 0; i < sizeof(arches) / sizeof(arches[0]); i++) {
		static const char *const kw[][4] = {
			{ "libgfortran_version", "3", NULL, NULL },
			{ "cxxstring_abi", "cxx03", NULL, NULL },
			{ "libgfortran_version", "4", "cxxstring_abi", "cxx11" },
			{ "libgfortran_version", "3", "cxxstring_abi", "cxx03" },
		};

		a = P(arches[i], "linux", "libgfortran_version", "5", "cxxstring_abi", "cxx11",
			NULL);
		for (j = 0; j < 4; j++) {
			b = P(arches[i], "linux", kw[j][0], kw[j][1], kw[j][2], kw[j][3], NULL);
			is_int(platforms_match(a, b), 0, "%s !~ %s", trip(a), trip(b));
			platform_free(b);
		}
		platform_free(a);
	}

	/* version bounds with HostPlatform() */
	host = P("x86_64", "macos", "os_version", "14", "libstdcxx_version", "3.4.26", NULL);
	platform_make_host(host);
	a = P("x86_64", "macos", NULL);
	is_int(platforms_match(host, a), 1, "host ~ P(x86_64, macos)");
	platform_free(a);
	{
		static const struct {
			const char *osv, *sc;
			int want;
		} c[] = {
			{ "14", NULL, 1 }, { "13", NULL, 1 }, { "15", NULL, 0 },
			{ NULL, "3.4.18", 1 }, { "10", "3.4.18", 1 }, { "10", "3.4.27", 0 },
			{ "14", "4", 0 },
		};
		for (i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
			struct platform_kv kv[2];
			size_t n = 0;

			if (c[i].osv)
				kv[n++] = (struct platform_kv){ "os_version", c[i].osv };
			if (c[i].sc)
				kv[n++] = (struct platform_kv){ "libstdcxx_version", c[i].sc };
			a = NULL;
			platform_new("x86_64", "macos", kv, n, &a);
			is_int(platforms_match(host, a), c[i].want, "cap host vs %s", trip(a));
			is_int(platforms_match(a, host), c[i].want, "%s vs cap host", trip(a));
			platform_free(a);
		}
	}
	platform_free(host);

	/* compare modes on custom tags */
	a = P("x86_64", "linux", "llvm_version", "20", NULL);
	b = P("x86_64", "linux", "llvm_version", "20.asserts", NULL);
	host = P("x86_64", "linux", NULL);
	platform_set_tag(host, "llvm_version", "20", PLATFORM_CMP_DEFAULT);
	is_int(platforms_match(a, host), 1, "exact: 20 ~ 20");
	is_int(platforms_match(b, host), 0, "exact: 20.asserts !~ 20");
	platform_free(a);
	platform_free(b);

	platform_set_tag(host, "cuda", "12.4", PLATFORM_CMP_VERSION_CAP);
	is_match(P("x86_64", "linux", "cuda", "12.2", NULL), host, 1, "cap: cuda 12.2 <= 12.4");
	is_match(P("x86_64", "linux", "cuda", "12.4", NULL), host, 1, "cap: cuda 12.4 <= 12.4");
	a = P("x86_64", "linux", "cuda", "13.0", NULL);
	is_int(platforms_match(a, host), 0, "cap: cuda 13.0 > 12.4");
	/* xreq/yreq: the capped side may be either argument */
	is_int(platforms_match(host, a), 0, "cap, host first: 13.0 > 12.4");
	platform_free(a);
	a = P("x86_64", "linux", "cuda", "11.8", NULL);
	is_int(platforms_match(host, a), 1, "cap, host first: 11.8 <= 12.4");
	/* both requested: equality */
	platform_set_compare(a, "cuda", PLATFORM_CMP_VERSION_CAP);
	is_int(platforms_match(a, host), 0, "both cap: 11.8 != 12.4");
	platform_set_tag(a, "cuda", "12.4", PLATFORM_CMP_VERSION_CAP);
	is_int(platforms_match(a, host), 1, "both cap: 12.4 == 12.4");
	platform_free(a);

	/* major.minor on a custom tag */
	platform_set_tag(host, "foo", "1.2.3", PLATFORM_CMP_MAJOR_MINOR);
	is_match(P("x86_64", "linux", "foo", "1.2.9", NULL), host, 1, "majmin: 1.2.9 ~ 1.2.3");
	a = P("x86_64", "linux", "foo", "1.3", NULL);
	is_int(platforms_match(a, host), 0, "majmin: 1.3 !~ 1.2.3");
	/* different non-default strategies on both sides: Julia throws */
	platform_set_compare(a, "foo", PLATFORM_CMP_VERSION_CAP);
	is_int(platforms_match(a, host), -EINVAL, "cap vs majmin on one key");
	/* ... unless another key already mismatches (documented choice) */
	platform_set_tag(a, "llvm_version", "19", PLATFORM_CMP_DEFAULT);
	is_int(platforms_match(a, host), 0, "a mismatch wins over a conflict");
	platform_free(a);

	/* a version compare on a non-version value */
	is_match(P("x86_64", "linux", "cuda", "twelve", NULL), host, -EINVAL,
		"cap on a non-version");
	/* exact yields to the other side's strategy, as compare_default does */
	a = P("x86_64", "linux", "julia_version", "1.11.1", NULL);
	platform_set_tag(host, "julia_version", "1.11", PLATFORM_CMP_DEFAULT);
	is_int(platforms_match(a, host), 1, "julia_version 1.11.1 ~ 1.11");
	platform_set_tag(host, "julia_version", "1.11", PLATFORM_CMP_VERSION_CAP);
	is_int(platforms_match(a, host), -EINVAL, "julia_version cap vs majmin conflicts");
	platform_free(a);
	platform_free(host);

	/* equality is tags + modes (duplicate detection) */
	a = P("x86_64", "linux", "cuda", "12", NULL);
	b = P("x86_64", "linux", "CUDA", "12", NULL);
	ok(platform_equal(a, b), "equal platforms");
	platform_set_compare(b, "cuda", PLATFORM_CMP_VERSION_CAP);
	ok(!platform_equal(a, b), "compare modes are part of equality");
	platform_free(a);
	platform_free(b);
}

/* select_platform over P(...) values, returning the label of the winner */
struct cand {
	struct platform *p;
	const char *label;
};

static const char *select_label(struct cand *c, size_t n, const struct platform *host)
{
	const struct platform *ps[16];
	size_t i, idx = 0;
	char err[256];
	int r;

	for (i = 0; i < n; i++)
		ps[i] = c[i].p;
	r = platform_select(ps, n, host, &idx, err, sizeof(err));
	if (r == -ENOENT)
		return "nothing";
	if (r < 0)
		return "error";
	return c[idx].label;
}

/* Checks that selecting among the N candidates C for HOST gives WANT (WHAT), then frees HOST. */
static void is_select(
	struct cand *c, size_t n, struct platform *host, const char *want, const char *what)
{
	is_str(select_label(c, n, host), want, "%s", what);
	platform_free(host);
}

static void free_cands(struct cand *c, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		platform_free(c[i].p);
}

static void test_select(void)
{
	struct cand c[8];
	struct platform *h;

	c[0] = (struct cand){ P("x86_64", "linux", "libgfortran_version", "3", NULL), "linux4" };
	c[1] = (struct cand){ P("x86_64", "linux", "libgfortran_version", "4", NULL), "linux7" };
	c[2] = (struct cand){ P("x86_64", "linux", "libgfortran_version", "5", NULL), "linux8" };
	c[3] = (struct cand){ P("aarch64", "linux", "libgfortran_version", "3", NULL), "linux3" };
	c[4] = (struct cand){ P("aarch64", "linux", "libgfortran_version", "3",
				      "libstdcxx_version", "3.4.18", NULL), "linux5" };
	c[5] = (struct cand){ P("aarch64", "linux", "libgfortran_version", "3",
				      "libstdcxx_version", "3.4.18", "foo", "bar", NULL),
		"linux9" };
	c[6] = (struct cand){ P("x86_64", "macos", "libgfortran_version", "3", NULL), "mac4" };
	c[7] = (struct cand){ P("x86_64", "windows", "cxxstring_abi", "cxx11", NULL), "win" };

	/* §1.7: equal loss 1, descending triplet: libgfortran5 */
	is_select(c, 8, P("x86_64", "linux", NULL), "linux8", "x86_64 linux -> linux8");
	is_select(c, 8, P("x86_64", "linux", "libgfortran_version", "4", NULL), "linux7",
		"x86_64 linux gf4 -> linux7");
	/* loss 1 < 2 < 3 */
	is_select(c, 8, P("aarch64", "linux", NULL), "linux3", "aarch64 linux -> linux3");
	is_select(c, 8, P("aarch64", "linux", "libgfortran_version", "3", NULL), "linux3",
		"aarch64 linux gf3 -> linux3");
	is_select(c, 8,
		P("aarch64", "linux", "libgfortran_version", "3", "libstdcxx_version", "3.4.18",
			NULL),
		"linux5", "aarch64 gf3 libstdcxx 3.4.18 -> linux5");
	is_select(c, 8, P("aarch64", "linux", "libgfortran_version", "4", NULL), "nothing",
		"aarch64 gf4 -> nothing");
	is_select(c, 8, P("x86_64", "macos", NULL), "mac4", "x86_64 macos -> mac4");
	is_select(c, 8, P("x86_64", "macos", "libgfortran_version", "4", NULL), "nothing",
		"x86_64 macos gf4 -> nothing");
	is_select(c, 8, P("x86_64", "windows", "cxxstring_abi", "cxx11", NULL), "win",
		"windows cxx11 -> win");
	is_select(c, 8, P("x86_64", "windows", "cxxstring_abi", "cxx03", NULL), "nothing",
		"windows cxx03 -> nothing");
	is_select(c, 8, P("x86_64", "freebsd", NULL), "nothing", "freebsd -> nothing");
	/* a host-side version cap against libstdcxx entries */
	h = P("aarch64", "linux", "libgfortran_version", "3", "libstdcxx_version", "3.4.30", NULL);
	platform_make_host(h);
	is_str(select_label(c, 8, h), "linux5", "aarch64 host cap 3.4.30 -> linux5");
	platform_free(h);
	h = P("aarch64", "linux", "libgfortran_version", "3", "libstdcxx_version", "3.4.17", NULL);
	platform_make_host(h);
	is_str(select_label(c, 8, h), "linux3", "aarch64 host cap 3.4.17 -> linux3");
	platform_free(h);
	free_cands(c, 8);

	/* extra artifact-only tags are penalised */
	c[0] = (struct cand){ P("x86_64", "linux", NULL), "normal" };
	c[1] = (struct cand){ P("x86_64", "linux", "sanitize", "memory", NULL), "sanitized" };
	is_select(c, 2, P("x86_64", "linux", NULL), "normal", "plain host -> normal");
	is_select(c, 2, P("x86_64", "linux", "sanitize", "memory", NULL), "sanitized",
		"sanitize=memory host -> sanitized");
	free_cands(c, 2);

	/* ties broken by reverse-sorting by triplet */
	c[0] = (struct cand){ P("x86_64", "linux", "libgfortran_version", "3", NULL),
		"libgfortran3" };
	c[1] = (struct cand){ P("x86_64", "linux", "libgfortran_version", "4", NULL),
		"libgfortran4" };
	is_select(c, 2, P("x86_64", "linux", NULL), "libgfortran4", "tie -> libgfortran4");
	is_select(c, 2, P("x86_64", "linux", "libgfortran_version", "3", NULL), "libgfortran3",
		"gf3 host -> libgfortran3");
	/* the order of candidates does not matter */
	{
		struct cand t = c[0];

		c[0] = c[1];
		c[1] = t;
	}
	is_select(c, 2, P("x86_64", "linux", NULL), "libgfortran4",
		"tie -> libgfortran4, other order");
	free_cands(c, 2);

	/* §1.7/§9 hazard: llvm_version 20 vs 20.asserts */
	c[0] = (struct cand){ P("x86_64", "linux", "cxxstring_abi", "cxx11", "llvm_version", "20",
				      NULL), "plain" };
	c[1] = (struct cand){ P("x86_64", "linux", "cxxstring_abi", "cxx11", "llvm_version",
				      "20.asserts", NULL), "asserts" };
	c[2] = (struct cand){ P("x86_64", "linux", "cxxstring_abi", "cxx11", "llvm_version", "20",
				      "sanitize", "memory", NULL), "sanitize" };
	h = P("x86_64", "linux", "cxxstring_abi", "cxx11", NULL);
	is_str(select_label(c, 3, h), "asserts", "no llvm_version on host -> asserts");
	platform_set_tag(h, "llvm_version", "20", PLATFORM_CMP_DEFAULT);
	is_str(select_label(c, 3, h), "plain", "llvm_version=20 -> plain");
	platform_set_tag(h, "llvm_version", "20.asserts", PLATFORM_CMP_DEFAULT);
	is_str(select_label(c, 3, h), "asserts", "llvm_version=20.asserts -> asserts");
	platform_free(h);
	free_cands(c, 3);

	/* identical triplets: greatest (key, value) list, whatever the order */
	c[0] = (struct cand){ P("x86_64", "linux", "libgfortran_version", "5.0.0", NULL), "5.0" };
	c[1] = (struct cand){ P("x86_64", "linux", "libgfortran_version", "5.1.0", NULL), "5.1" };
	h = P("x86_64", "linux", NULL);
	is_str(select_label(c, 2, h), "5.1", "equal triplets -> greater tags");
	{
		struct cand t = c[0];

		c[0] = c[1];
		c[1] = t;
	}
	is_str(select_label(c, 2, h), "5.1", "equal triplets -> greater tags, other order");
	free_cands(c, 2);

	/* errors */
	c[0] = (struct cand){ P("x86_64", "linux", "libgfortran_version", "x", NULL), "bad" };
	c[1] = (struct cand){ P("x86_64", "linux", "libgfortran_version", "5", NULL), "good" };
	is_str(select_label(c, 2, h), "error", "unrenderable triplet in a tie -> error");
	is_str(select_label(c, 1, h), "bad", "single candidate needs no triplet");
	free_cands(c, 2);
	is_str(select_label(c, 0, h), "nothing", "no candidates");
	platform_free(h);
}

static void test_host(void)
{
	struct platform *h = NULL, *q = NULL;
	char tmpl[] = "/tmp/test-platform.XXXXXX", path[512], *t = NULL;
	static char big[70000];
	/* fake libgfortran files; detection keeps the highest of versions 3..5 */
	static const char *const gfortran[] = {
		"libgfortran.so.3",
		"libgfortran.so.5.0.0",
		"libgfortran.so.6",
		"libgfortran.so.4x",
	};
	const char *root;
	size_t off, i;

	is_int(platform_host_detect(NULL, &h), 0, "host detection");
	ok(h && platform_arch(h)[0] && platform_os(h)[0], "host arch and os non-empty");
	is_int(h ? platform_triplet(h, &t) : -1, 0, "host triplet renders");
	diag("host: %s", t ? t : "?");
	is_int(t ? platform_host(t, &q) : -1, 0, "host triplet parses");
	ok(h && q && platform_equal(h, q), "HostPlatform(parse(triplet(host))) == host");
	if (h && platform_get(h, "libc"))
		ok(strcmp(platform_get(h, "libc"), "glibc") == 0 ||
			   strcmp(platform_get(h, "libc"), "musl") == 0,
			"host libc is glibc or musl");
	platform_free(q);
	free(t);
	q = NULL;

	/* library probes under a fake root */
	root = mkdtemp(tmpl);
	ok(root != NULL, "temp root");
	if (!root)
		return;
	snprintf(path, sizeof(path), "%s/usr", root);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/usr/lib", root);
	mkdir(path, 0755);
	is_int(platform_host_detect(root, &q), 0, "detect with an empty root");
	is_str(get(q, "libgfortran_version"), NULL, "no libgfortran");
	is_str(get(q, "cxxstring_abi"), NULL, "no libstdc++, no cxxstring_abi");
	is_str(get(q, "libstdcxx_version"), NULL, "no libstdcxx_version");
	platform_free(q);
	q = NULL;

	for (i = 0; i < sizeof(gfortran) / sizeof(gfortran[0]); i++) {
		snprintf(path, sizeof(path), "%s/usr/lib/%s", root, gfortran[i]);
		tu_write_bytes(path, "x", 1);
	}
	/* GLIBCXX_3.4.29 straddles the first 64 KiB read; 32 is above Julia's 30 */
	memset(big, 'z', sizeof(big));
	memcpy(big + 10, "GLIBCXX_3.4.19", 15);
	off = (64u << 10) - 6;
	memcpy(big + off, "GLIBCXX_3.4.29", 15);
	memcpy(big + 68000, "GLIBCXX_3.4.32", 15);
	memcpy(big + 68100, "GLIBCXX_3.4.17", 15);
	memcpy(big + 68200, "GLIBCXX_3.4.30x", 15);
	snprintf(path, sizeof(path), "%s/usr/lib/libstdc++.so.6", root);
	tu_write_bytes(path, big, sizeof(big));
	is_int(platform_host_detect(root, &q), 0, "detect with fake libraries");
	is_str(get(q, "libgfortran_version"), "5.0.0", "highest libgfortran 3..5 is 5");
	is_str(get(q, "cxxstring_abi"), "cxx11", "libstdc++ -> cxx11");
	is_str(get(q, "libstdcxx_version"), "3.4.29", "highest GLIBCXX_3.4.N in 18..30");
	if (q) {
		struct platform *a = P(platform_arch(q), platform_os(q), "libstdcxx_version",
			"3.4.30", NULL);
		struct platform *b = P(platform_arch(q), platform_os(q), "libstdcxx_version",
			"3.4.26", NULL);

		is_int(platforms_match(a, q), 0, "detected libstdcxx is a cap (3.4.30 > 3.4.29)");
		is_int(platforms_match(b, q), 1, "detected libstdcxx is a cap (3.4.26 <= 3.4.29)");
		platform_free(a);
		platform_free(b);
	}
	platform_free(q);

	snprintf(path, sizeof(path), "%s/usr/lib/libstdc++.so.6", root);
	unlink(path);
	for (i = 0; i < sizeof(gfortran) / sizeof(gfortran[0]); i++) {
		snprintf(path, sizeof(path), "%s/usr/lib/%s", root, gfortran[i]);
		unlink(path);
	}
	snprintf(path, sizeof(path), "%s/usr/lib", root);
	rmdir(path);
	snprintf(path, sizeof(path), "%s/usr", root);
	rmdir(path);
	rmdir(root);
	platform_free(h);

	/* an override */
	h = NULL;
	is_int(platform_host("aarch64-apple-darwin20-libstdcxx26", &h), 0, "host override");
	{
		struct platform *a = P("aarch64", "macos", "os_version", "19", "libstdcxx_version",
			"3.4.20", NULL);

		is_int(platforms_match(a, h), 1, "override host caps os_version and libstdcxx");
		platform_free(a);
	}
	platform_free(h);
	is_int(platform_host("not-a-triplet", &h), -EINVAL, "bad override");
}

int main(void)
{
	test_parse();
	test_render();
	test_normalise();
	test_vercmp();
	test_match();
	test_select();
	test_host();
	return tap_done();
}
