/*
 * time.h - clocks (libc only)
 */
#ifndef ARTIFACTFS_UTIL_TIME_H
#define ARTIFACTFS_UTIL_TIME_H

#include <stdint.h>
#include <time.h>

/*
 * time_mono_ms - CLOCK_MONOTONIC in milliseconds: for intervals and
 * deadlines, never for dates.  Thread safe.
 */
uint64_t time_mono_ms(void);

/*
 * time_deadline - *ret = seconds (>= 0, fractions kept to the nanosecond)
 * from now on the clock clock, for pthread_cond_timedwait() on a condition
 * variable of that clock.  Thread safe.
 */
void time_deadline(clockid_t clock, double seconds, struct timespec *ret);

#endif
