/*
 * gen-store.c - the helper of tests/bench/bench-gc.sh: a store of many tiny
 * artifacts made fast, and a timed LRU eviction
 *
 *   gen-store DIR N [FIRST]    install artifacts FIRST..FIRST+N-1 (FIRST
 *                              default 0) into the store DIR (created), each
 *                              a tree of one file "f" holding "artifact
 *                              <i>\n"; print "a<i> <git-tree-sha1>" for each
 *   gen-store --evict DIR BELOW
 *                              time store_evict_lru() down to the installed
 *                              bytes minus BELOW: one scan and sort of the
 *                              whole index, and the removals
 *
 * Installs go through the store API (lock, begin, commit), one index
 * transaction each, as fetch makes them, without the download and unpack;
 * with ARTIFACTFS_UNSAFE_NO_FSYNC=1 unless the environment sets it.  The
 * tree hash of each artifact is computed, not read back: "100644 f" and the
 * blob id make a one-entry git tree.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif

#include "store/hash.h"
#include "store/store.h"
#include "tests/unit/util.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int install(struct store *s, unsigned long i)
{
	char content[64], hex[STORE_HASH_HEX + 1];
	int r;

	snprintf(content, sizeof(content), "artifact %lu\n", i);
	r = tu_install_file(s, content, NULL, 60, hex);
	if (r == 0)
		printf("a%lu %s\n", i, hex);
	return r;
}

static int evict(const char *dir, uint64_t below)
{
	struct store *s = NULL;
	struct store_stats st;
	uint64_t freed = 0;
	unsigned removed = 0;
	char *msg = NULL;
	double t0;
	int r;

	r = store_open(dir, 0, &s, &msg);
	if (r < 0) {
		fprintf(stderr, "gen-store: %s\n", msg ? msg : strerror(-r));
		free(msg);
		return 1;
	}
	r = store_stats(s, &st);
	if (r == 0) {
		t0 = tu_now_s();
		r = store_evict_lru(s, st.bytes > below ? st.bytes - below : 0, NULL, NULL, &freed,
			&removed);
		printf("evict_lru over %" PRIu64 " artifacts: %.3f s, %u removed, %" PRIu64
		       " bytes freed\n", st.artifacts, tu_now_s() - t0, removed, freed);
	}
	if (r < 0)
		fprintf(stderr, "gen-store: evict: %s\n", strerror(-r));
	store_close(s);
	return r < 0 ? 1 : 0;
}

int main(int argc, char **argv)
{
	unsigned long i, n, first = 0;
	struct store *s = NULL;
	char *msg = NULL;
	int r;

	if (argc == 4 && strcmp(argv[1], "--evict") == 0)
		return evict(argv[2], strtoull(argv[3], NULL, 10));
	if (argc < 3 || argc > 4) {
		fprintf(stderr, "usage: gen-store DIR N [FIRST]\n"
				"       gen-store --evict DIR BELOW\n");
		return 64;
	}
	n = strtoul(argv[2], NULL, 10);
	if (argc == 4)
		first = strtoul(argv[3], NULL, 10);
	setenv("ARTIFACTFS_UNSAFE_NO_FSYNC", "1", 0);
	r = store_open(argv[1], STORE_CREATE, &s, &msg);
	if (r < 0) {
		fprintf(stderr, "gen-store: %s\n", msg ? msg : strerror(-r));
		free(msg);
		return 1;
	}
	for (i = first; i < first + n; i++) {
		r = install(s, i);
		if (r < 0) {
			fprintf(stderr, "gen-store: artifact %lu: %s: %s\n", i, strerror(-r),
				store_errmsg(s));
			break;
		}
	}
	store_close(s);
	if (fflush(stdout) != 0)
		return 1;
	return r < 0 ? 1 : 0;
}
