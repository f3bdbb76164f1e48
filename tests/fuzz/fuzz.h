/*
 * fuzz.h - what the libFuzzer harnesses of tests/fuzz share
 *
 * Each harness is one fuzz-<parser>.c defining LLVMFuzzerTestOneInput();
 * libFuzzer (clang -fsanitize=fuzzer) supplies main().  A harness must
 * free everything it allocates (leaks are findings) and keep no state
 * between inputs.  FUZZ_CHECK() turns a broken invariant into a crash that
 * libFuzzer records like any other.
 */
#ifndef ARTIFACTFS_FUZZ_H
#define ARTIFACTFS_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond)                                                                           \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "%s:%d: invariant broken: %s\n", __FILE__, __LINE__,       \
				#cond);                                                            \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

#endif
