/*
 * tap.h - a tiny TAP producer for the unit tests (after git's
 * t/unit-tests/test-lib.h).  Each check prints "ok N - name" or
 * "not ok N - name" with the failing expression and values on stderr;
 * tap_done() prints the plan and returns the exit status.
 */
#ifndef ARTIFACTFS_TAP_H
#define ARTIFACTFS_TAP_H

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int tap_n, tap_failed;

static inline int tap_result(int pass, const char *file, int line, const char *name)
{
	tap_n++;
	printf("%sok %d - %s\n", pass ? "" : "not ", tap_n, name);
	if (!pass) {
		tap_failed++;
		printf("#   failed at %s:%d\n", file, line);
	}
	fflush(stdout);
	return pass;
}

/* ok(cond, name): pass when cond is true. */
#define ok(cond, ...)                                                                              \
	tap_okf(!!(cond), __FILE__, __LINE__, #cond, __VA_ARGS__)

static inline int __attribute__((format(printf, 5, 6)))
tap_okf(int pass, const char *file, int line, const char *expr, const char *fmt, ...)
{
	char name[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(name, sizeof(name), fmt, ap);
	va_end(ap);
	if (!tap_result(pass, file, line, name))
		printf("#   expression: %s\n", expr);
	return pass;
}

/* is_int(got, want, name): integers compared, both printed on failure. */
#define is_int(got, want, ...)                                                                     \
	do {                                                                                       \
		long long g_ = (long long)(got), w_ = (long long)(want);                           \
		if (!tap_okf(g_ == w_, __FILE__, __LINE__, #got " == " #want, __VA_ARGS__))       \
			printf("#   got %lld, want %lld\n", g_, w_);                                \
	} while (0)

/* is_str(got, want, name): strings compared (NULL allowed), printed on failure. */
#define is_str(got, want, ...)                                                                     \
	do {                                                                                       \
		const char *g_ = (got), *w_ = (want);                                              \
		int p_ = (g_ && w_) ? strcmp(g_, w_) == 0 : g_ == w_;                              \
		if (!tap_okf(p_, __FILE__, __LINE__, #got " == " #want, __VA_ARGS__))             \
			printf("#   got '%s', want '%s'\n", g_ ? g_ : "(null)", w_ ? w_ : "(null)"); \
	} while (0)

/* skip(reason): record one skipped check. */
#define skip(...)                                                                                  \
	do {                                                                                       \
		char r_[256];                                                                      \
		snprintf(r_, sizeof(r_), __VA_ARGS__);                                             \
		printf("ok %d # SKIP %s\n", ++tap_n, r_);                                          \
		fflush(stdout); /* as tap_result: a fork must not print it again */                \
	} while (0)

/* diag(fmt, ...): a comment line in the TAP stream. */
#define diag(...)                                                                                  \
	do {                                                                                       \
		printf("# ");                                                                      \
		printf(__VA_ARGS__);                                                               \
		printf("\n");                                                                      \
	} while (0)

/* tap_done(): print the plan; returns the process exit status. */
static inline int tap_done(void)
{
	printf("1..%d\n", tap_n);
	return tap_failed ? 1 : 0;
}

/*
 * tap_shared_dir(): the project's ../shared directory as seen from the build,
 * taken from $ARTIFACTFS_SHARED (set by make check), or NULL when it is absent.
 */
static inline const char *tap_shared_dir(void)
{
	const char *d = getenv("ARTIFACTFS_SHARED");
	char probe[4096];
	FILE *f;

	if (!d || !*d)
		return NULL;
	snprintf(probe, sizeof(probe), "%s/spec/julia-artifacts.md", d);
	f = fopen(probe, "r");
	if (!f)
		return NULL;
	fclose(f);
	return d;
}

#endif
