/*
 * time.h - clocks (libc only)
 */
#ifndef ARTIFACTFS_UTIL_TIME_H
#define ARTIFACTFS_UTIL_TIME_H

#include <stdint.h>

/*
 * time_mono_ms - CLOCK_MONOTONIC in milliseconds: for intervals and
 * deadlines, never for dates.  Thread safe.
 */
uint64_t time_mono_ms(void);

#endif
