/*
 * time.c - clocks
 */
#include "store/util/time.h"

#include <time.h>

uint64_t time_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void time_deadline(clockid_t clock, double seconds, struct timespec *ret)
{
	time_t whole = (time_t)seconds;

	clock_gettime(clock, ret);
	ret->tv_sec += whole;
	ret->tv_nsec += (long)((seconds - (double)whole) * 1e9);
	if (ret->tv_nsec >= 1000000000L) {
		ret->tv_sec++;
		ret->tv_nsec -= 1000000000L;
	}
}
