/*
 * platform_host.c - the host platform, detected as Julia's
 * HostPlatform() does (base/binaryplatforms.jl: arch, os, libc, call_abi,
 * libgfortran_version, libstdcxx_version, cxxstring_abi; spec §1.5), from
 * files only: nothing is loaded with dlopen.
 */
#include "fetch/platform.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

#define LIBSTDCXX_MIN_MINOR 18	/* detect_libstdcxx_version searches 30:-1:18 */
#define LIBSTDCXX_MAX_MINOR 30
#define SCAN_MAX (64u << 20)	/* bytes of libstdc++ read at most */

/* Debian multiarch tuple of the library directories for an arch. */
static const char *multiarch(const char *arch)
{
	static const char *const map[][2] = {
		{ "x86_64", "x86_64-linux-gnu" },
		{ "i686", "i386-linux-gnu" },
		{ "aarch64", "aarch64-linux-gnu" },
		{ "armv7l", "arm-linux-gnueabihf" },
		{ "armv6l", "arm-linux-gnueabihf" },
		{ "powerpc64le", "powerpc64le-linux-gnu" },
		{ "riscv64", "riscv64-linux-gnu" },
	};
	size_t i;

	for (i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (strcmp(arch, map[i][0]) == 0)
			return map[i][1];
	return NULL;
}

/* The i-th library directory under root (see platform.h); false at the end. */
static bool lib_dir(const char *root, const char *arch, size_t i, char *out, size_t outlen)
{
	static const char *const dirs[] = {
		"/lib/", "/usr/lib/", "/lib64", "/usr/lib64", "/lib", "/usr/lib",
		"/usr/local/lib64", "/usr/local/lib",
	};
	const char *ma = multiarch(arch);

	if (i >= sizeof(dirs) / sizeof(dirs[0]))
		return false;
	if (i < 2 && !ma)
		out[0] = '\0';	/* no multiarch directory: skipped */
	else
		snprintf(out, outlen, "%s%s%s", root, dirs[i], i < 2 ? ma : "");
	return true;
}

static bool is_regular(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/*
 * "libgfortran.so.N[.x.y...]" (parse_dl_name_version on Linux) -> N, or -1.
 */
static int gfortran_major(const char *name)
{
	const char *p = name + strlen("libgfortran.so");
	long major = -1;

	if (strncmp(name, "libgfortran.so", strlen("libgfortran.so")) != 0)
		return -1;
	while (*p == '.' && is_digit(p[1])) {
		long v = 0;

		p++;
		while (is_digit(*p)) {
			if (v < 100000)
				v = v * 10 + (*p - '0');
			p++;
		}
		if (major < 0)
			major = v;
	}
	return *p == '\0' && major >= 0 && major <= 100000 ? (int)major : -1;
}

/* Highest libgfortran major in 3..5 present in the library directories. */
static int detect_libgfortran(const char *root, const char *arch)
{
	char dir[4096], path[4400];
	int best = -1;
	size_t i;

	for (i = 0; lib_dir(root, arch, i, dir, sizeof(dir)); i++) {
		struct dirent *de;
		DIR *d;

		if (!dir[0] || !(d = opendir(dir)))
			continue;
		while ((de = readdir(d))) {
			int m = gfortran_major(de->d_name);

			if (m < 3 || m > 5 || m <= best)
				continue;
			snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
			if (is_regular(path))
				best = m;
		}
		closedir(d);
	}
	return best;
}

/*
 * Highest N in [18, 30] of a NUL-terminated "GLIBCXX_3.4.N" in the file,
 * or -1.  Read in blocks; the last bytes of a block are kept so that a
 * string cut at a block end is seen whole in the next one.
 */
static int scan_glibcxx(const char *path)
{
	static const char pat[] = "GLIBCXX_3.4.";
	const size_t pl = sizeof(pat) - 1, keep = 32, blk = 64 << 10;
	size_t have = 0, total = 0;
	char *b;
	int fd, best = -1;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	b = malloc(blk + keep);
	if (!b)
		goto out;
	while (total < SCAN_MAX) {
		ssize_t n = read(fd, b + have, blk);
		char *p, *end;

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		total += (size_t)n;
		have += (size_t)n;
		end = b + have;
		for (p = b; (p = memchr(p, 'G', (size_t)(end - p))); p++) {
			char *q = p + pl;
			int v = 0;

			if ((size_t)(end - p) < pl || memcmp(p, pat, pl) != 0)
				continue;

			while (q < end && is_digit(*q) && v < 1000)
				v = v * 10 + (*q++ - '0');
			if (q == p + pl || q >= end || *q != '\0')
				continue;
			if (v >= LIBSTDCXX_MIN_MINOR && v <= LIBSTDCXX_MAX_MINOR && v > best)
				best = v;
		}
		if (have > keep) {
			memmove(b, end - keep, keep);
			have = keep;
		}
	}
out:
	free(b);
	close(fd);
	return best;
}

/* libstdcxx minor of the first libstdc++.so.6 found; -2 when none exists. */
static int detect_libstdcxx(const char *root, const char *arch)
{
	char dir[4096], path[4400];
	size_t i;

	for (i = 0; lib_dir(root, arch, i, dir, sizeof(dir)); i++) {
		if (!dir[0])
			continue;
		snprintf(path, sizeof(path), "%s/libstdc++.so.6", dir);
		if (is_regular(path))
			return scan_glibcxx(path);
	}
	return -2;
}

static const char *detect_libc(const char *root)
{
	static const char *const dirs[] = { "/lib", "/lib64" };
	bool glibc = false, musl = false;
	char dir[4096];
	size_t i;

#ifdef _CS_GNU_LIBC_VERSION
	char v[128];

	if (confstr(_CS_GNU_LIBC_VERSION, v, sizeof(v)) > 0)
		return "glibc";
#endif
	for (i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		struct dirent *de;
		DIR *d;

		snprintf(dir, sizeof(dir), "%s%s", root, dirs[i]);
		if (!(d = opendir(dir)))
			continue;
		while ((de = readdir(d))) {
			if (strncmp(de->d_name, "ld-musl-", 8) == 0)
				musl = true;
			else if (strncmp(de->d_name, "ld-linux", 8) == 0 ||
				 strncmp(de->d_name, "ld64.so", 7) == 0)
				glibc = true;
		}
		closedir(d);
	}
	return glibc && !musl ? "glibc" : "musl";
}

static const char *build_os(void)
{
#if defined(__APPLE__)
	return "macos";
#elif defined(__FreeBSD__)
	return "freebsd";
#elif defined(__OpenBSD__)
	return "openbsd";
#else
	return "linux";
#endif
}

int platform_host_detect(const char *root, struct platform **ret)
{
	struct platform_kv kv[4];
	struct platform *p = NULL;
	struct utsname u;
	char rootbuf[4096], gf[16], stdcxx[16];
	const char *os = build_os();
	size_t nkv = 0, rl;
	int r, m;

	if (uname(&u) < 0)
		return -errno;
	if (!root)
		root = "";
	rl = strlen(root);
	while (rl > 0 && root[rl - 1] == '/')
		rl--;
	if (rl >= sizeof(rootbuf))
		return -ENAMETOOLONG;
	memcpy(rootbuf, root, rl);
	rootbuf[rl] = '\0';

	/* arch first, normalised, so the multiarch directory is known */
	r = platform_new(u.machine, os, NULL, 0, &p);
	if (r < 0)
		return r;
	if (strcmp(os, "linux") == 0)
		kv[nkv++] = (struct platform_kv){ "libc", detect_libc(rootbuf) };
	m = detect_libgfortran(rootbuf, platform_arch(p));
	if (m > 0) {
		snprintf(gf, sizeof(gf), "%d.0.0", m);
		kv[nkv++] = (struct platform_kv){ "libgfortran_version", gf };
	}
	m = detect_libstdcxx(rootbuf, platform_arch(p));
	if (m != -2)
		kv[nkv++] = (struct platform_kv){ "cxxstring_abi", "cxx11" };
	if (m >= 0) {
		snprintf(stdcxx, sizeof(stdcxx), "3.4.%d", m);
		kv[nkv++] = (struct platform_kv){ "libstdcxx_version", stdcxx };
	}
	platform_free(p);
	p = NULL;
	r = platform_new(u.machine, os, kv, nkv, &p);
	if (r < 0)
		return r;
	platform_make_host(p);
	*ret = p;
	return 0;
}

int platform_host(const char *triplet, struct platform **ret)
{
	int r;

	if (!triplet)
		return platform_host_detect(NULL, ret);
	r = platform_parse(triplet, ret);
	if (r == 0)
		platform_make_host(*ret);
	return r;
}
