/*
 * test-units.c - store/util/units.h and store/util/time.h: the byte and
 * duration forms of the command lines, and the human byte counts
 */
#include "store/util/time.h"
#include "store/util/units.h"
#include "tests/tap.h"

#include <errno.h>
#include <stdint.h>

static void test_bytes(void)
{
	static const struct {
		const char *s;
		int r;
		uint64_t v;
	} cases[] = {
		{"0", 0, 0},
		{"512", 0, 512},
		{"512B", 0, 512},
		{"5M", 0, 5ULL << 20},
		{"5MiB", 0, 5ULL << 20},
		{"64k", 0, 64ULL << 10},
		{"2G", 0, 2ULL << 30},
		{"3TiB", 0, 3ULL << 40},
		{"18446744073709551600", 0, 18446744073709551600ULL},
		{"18446744073709551616", -ERANGE, 0},
		{"16777216T", -ERANGE, 0},
		{"", -EINVAL, 0},
		{"-1", -EINVAL, 0},
		{" 5M", -EINVAL, 0},
		{"5 M", -EINVAL, 0},
		{"5MB", -EINVAL, 0},
		{"1.5G", -EINVAL, 0},
	};
	uint64_t v;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		v = 7;
		is_int(units_parse_bytes(cases[i].s, &v), cases[i].r, "bytes '%s'", cases[i].s);
		if (cases[i].r == 0)
			ok(v == cases[i].v, "... is %llu", (unsigned long long)cases[i].v);
		else
			ok(v == 7, "... leaves the result alone");
	}
}

static void test_duration(void)
{
	int64_t v = -1;

	is_int(units_parse_duration("0", &v), 0, "duration 0");
	ok(v == 0, "... 0 s");
	is_int(units_parse_duration("15m", &v), 0, "duration 15m");
	ok(v == 900, "... 900 s");
	is_int(units_parse_duration("2w", &v), 0, "duration 2w");
	ok(v == 1209600, "... 1209600 s");
	is_int(units_parse_duration("101y", &v), -EINVAL, "an unknown unit");
	is_int(units_parse_duration("5300w", &v), -ERANGE, "over a century");
	is_int(units_parse_duration("h", &v), -EINVAL, "no digits");
	/* the daemon's grammar too: one for every duration */
	is_int(units_parse_duration("1.5h", &v), 0, "duration 1.5h");
	ok(v == 5400, "... 5400 s");
	is_int(units_parse_duration("500ms", &v), 0, "duration 500ms");
	ok(v == 1, "... rounded up to 1 s");
	is_int(units_parse_duration("2min", &v), 0, "duration 2min");
	ok(v == 120, "... 120 s");
	is_int(units_parse_duration("-5", &v), -EINVAL, "no sign");
	is_int(units_parse_duration("5 m", &v), -EINVAL, "no space");
}

static void test_seconds_weeks(void)
{
	double d = -1;

	is_int(units_parse_seconds("1w", &d), 0, "seconds: 1w");
	ok(d == 604800, "... 604800 s");
}

static void test_human(void)
{
	char b[32];

	is_str(units_human_bytes(0, b, sizeof(b)), "0 B", "0 B");
	is_str(units_human_bytes(1023, b, sizeof(b)), "1023 B", "under 1 KiB: bytes");
	is_str(units_human_bytes(1536, b, sizeof(b)), "1.5 KiB", "1.5 KiB");
	is_str(units_human_bytes(23ULL << 20, b, sizeof(b)), "23.0 MiB", "23.0 MiB");
	is_str(units_human_bytes(UINT64_MAX, b, sizeof(b)), "16.0 EiB", "the largest");
}

int main(void)
{
	uint64_t a = time_mono_ms(), c = time_mono_ms();

	test_bytes();
	test_duration();
	test_seconds_weeks();
	test_human();
	ok(c >= a && a > 0, "the monotonic clock does not go back");
	return tap_done();
}
