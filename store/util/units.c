/*
 * units.c - byte counts and durations as people write them
 */
#include "store/util/units.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

const char *units_human_bytes(uint64_t n, char *buf, size_t size)
{
	static const char *const unit[] = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
	double v = (double)n;
	int u = -1;

	if (n < 1024) {
		snprintf(buf, size, "%" PRIu64 " B", n);
		return buf;
	}
	while (v >= 1024 && u < 5) {
		v /= 1024;
		u++;
	}
	snprintf(buf, size, "%.1f %s", v, unit[u]);
	return buf;
}

/* Decimal digits, then a unit from units[] (NULL-terminated; multipliers in mult[]). */
static int parse_number(
	const char *v, const char *const *units, const uint64_t *mult, uint64_t *ret)
{
	uint64_t n = 0;
	const char *p = v;
	size_t i;

	if (*p < '0' || *p > '9')
		return -EINVAL;
	for (; *p >= '0' && *p <= '9'; p++) {
		if (n > (UINT64_MAX - 9) / 10)
			return -ERANGE;
		n = n * 10 + (uint64_t)(*p - '0');
	}
	for (i = 0; units[i]; i++) {
		if (strcmp(p, units[i]) == 0) {
			if (mult[i] && n > UINT64_MAX / mult[i])
				return -ERANGE;
			*ret = n * mult[i];
			return 0;
		}
	}
	return -EINVAL;
}

int units_parse_bytes(const char *s, uint64_t *ret)
{
	static const char *const units[] = {
		"", "B", "K", "KiB", "k", "M", "MiB", "G", "GiB", "T", "TiB", NULL};
	static const uint64_t mult[] = {1, 1, 1ULL << 10, 1ULL << 10, 1ULL << 10, 1ULL << 20,
		1ULL << 20, 1ULL << 30, 1ULL << 30, 1ULL << 40, 1ULL << 40};

	return parse_number(s, units, mult, ret);
}

/* A number, integer or fraction, not negative, at the start of s: *v and its end. */
static int leading_number(const char *s, double *v, char **end)
{
	if (!s || !*s)
		return -EINVAL;
	*v = strtod(s, end);
	if (*end == s || !isfinite(*v) || *v < 0)
		return -EINVAL;
	return 0;
}

int units_parse_seconds(const char *s, double *ret)
{
	char *end;
	double v;

	if (leading_number(s, &v, &end) < 0)
		return -EINVAL;
	if (strcmp(end, "ms") == 0)
		v /= 1000;
	else if (strcmp(end, "m") == 0 || strcmp(end, "min") == 0)
		v *= 60;
	else if (strcmp(end, "h") == 0)
		v *= 3600;
	else if (strcmp(end, "d") == 0)
		v *= 86400;
	else if (strcmp(end, "w") == 0)
		v *= 604800;
	else if (*end && strcmp(end, "s") != 0)
		return -EINVAL;
	*ret = v;
	return 0;
}

int units_parse_duration(const char *s, int64_t *ret)
{
	double v;

	if (units_parse_seconds(s, &v) < 0)
		return -EINVAL;
	if (v > 100.0 * 366 * 86400)
		return -ERANGE;
	*ret = (int64_t)ceil(v);
	return 0;
}

int units_parse_size(const char *s, uint64_t *ret)
{
	static const char units[] = "KMGTPE";
	const char *u;
	char *end;
	double v;

	if (leading_number(s, &v, &end) < 0)
		return -EINVAL;
	if (*end && (u = strchr(units, *end & ~0x20)) && *end != '\0') {
		v *= pow(1024, (double)(u - units + 1));
		end++;
		if (*end == 'i')
			end++;
	}
	if (*end == 'B' || *end == 'b')
		end++;
	if (*end)
		return -EINVAL;
	if (v >= 18446744073709551615.0)
		return -ERANGE;
	*ret = (uint64_t)v;
	return 0;
}
