/*
 * units.h - byte counts and durations as people write them (libc only)
 *
 * One reading and one rendering for every command line and progress line:
 * "512", "64MiB", "2G" bytes; "30s", "1.5h", "7d" durations; "23.0 MiB" on
 * a terminal.  Stateless and thread safe.
 */
#ifndef ARTIFACTFS_UNITS_H
#define ARTIFACTFS_UNITS_H

#include <stddef.h>
#include <stdint.h>

/*
 * units_human_bytes - n bytes with a binary unit into buf (size bytes; 32
 * is enough): "512 B" below 1 KiB, else one decimal, "1.5 KiB", "23.0 MiB",
 * up to EiB.  Returns buf.
 */
const char *units_human_bytes(uint64_t n, char *buf, size_t size);

/*
 * units_parse_bytes - s as bytes: decimal digits, then nothing, "B", "K",
 * "k", "KiB", "M", "MiB", "G", "GiB", "T" or "TiB" (powers of 1024).  No
 * sign, no space.  *ret is untouched on failure.
 * Returns 0, -EINVAL (not that form), -ERANGE (over UINT64_MAX bytes).
 */
int units_parse_bytes(const char *s, uint64_t *ret);

/*
 * units_parse_seconds - a duration, the one grammar of the daemon's
 * settings (artifactfs.toml(5)) and the command lines: a number of
 * seconds, integer or fraction, then nothing, "s", "ms", "m", "min", "h",
 * "d" or "w": "30", "1.5", "500ms", "2m", "1h", "7d".  No sign.  *ret is
 * untouched on failure.  Returns 0 or -EINVAL.
 */
int units_parse_seconds(const char *s, double *ret);

/*
 * units_parse_duration - units_parse_seconds() in whole seconds, rounded
 * up ("500ms" is 1), for options that count seconds (gc --grace).  *ret is
 * untouched on failure.  Returns 0, -EINVAL (not that form), -ERANGE
 * (over a century: surely a mistake).
 */
int units_parse_duration(const char *s, int64_t *ret);

/*
 * units_parse_size - the daemon's sizes (artifactfs.toml(5)): a number,
 * integer or fraction, then an optional K, M, G, T, P or E (either case;
 * powers of 1024), an optional "i" after it and an optional "B": "1048576",
 * "512K", "100M", "1.5G", "2TiB", "20g".  No sign.  *ret is untouched on
 * failure.  Returns 0, -EINVAL (not that form) or -ERANGE (over
 * UINT64_MAX bytes).
 */
int units_parse_size(const char *s, uint64_t *ret);

#endif
