/*
 * random.h - unique ids for temporary names (libc only)
 */
#ifndef ARTIFACTFS_UTIL_RANDOM_H
#define ARTIFACTFS_UTIL_RANDOM_H

#include <stdint.h>

/*
 * random_id - 64 bits for a temporary file or directory name that no other
 * process or thread picks at the same time: from getrandom(2) without
 * blocking, or, when the kernel pool is not ready, from the clock, the pid
 * and a process-wide counter.  Not for secrets.  Never fails; thread safe.
 */
uint64_t random_id(void);

#endif
