/*
 * seekfetch-get.c - drive fetch/seekfetch.h for the integration tests
 * (t0605-seekfetch.sh):
 *
 *   seekfetch-get STORE TREE TAR_URL IDX_URL [SRCDIR]
 *
 * fetches the seek index at IDX_URL verified against TREE (40 hex), then
 * every regular file of the tree through fetch_partial_file() into STORE's
 * partial area (created if needed), and compares each with SRCDIR/<path>
 * when given.  Prints one line per outcome:
 *   index ERRNAME MESSAGE          the index was refused (exit 2)
 *   ok PATH BYTES                  the file is there and equals the source
 *   differ PATH                    it is there but differs (never expected)
 *   error PATH ERRNAME MESSAGE     fetch_partial_file() failed
 *   fetched BYTES                  compressed bytes transferred in all
 * Exits 0 when every file is ok, 1 otherwise.
 *
 *   seekfetch-get --load STORE TREE
 *
 * loads the index kept in STORE (fetch_seekidx_load()) and prints
 * "load ok NFILES" (exit 0) or "load ERRNAME MESSAGE" (exit 2).
 */
#include "config.h"

#include "fetch/seekfetch.h"
#include "fetch/proxy.h"
#include "store/partial.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct store *st;
static struct fetch_options opt;
static const char *tar_url, *idx_url, *srcdir;
static uint64_t total;
static int failed;

static const char *ename(int r)
{
	const char *n = strerrorname_np(-r);

	return n ? n : "E?";
}

/* Whether the descriptor's bytes equal the file at path. */
static bool same(int fd, const char *path)
{
	char a[65536], b[65536];
	ssize_t n, m;
	bool eq = true;
	int g = open(path, O_RDONLY | O_CLOEXEC);

	if (g < 0)
		return false;
	do {
		n = read(fd, a, sizeof(a));
		m = read(g, b, sizeof(b));
		if (n != m || (n > 0 && memcmp(a, b, (size_t)n) != 0))
			eq = false;
	} while (eq && n > 0);
	close(g);
	return eq;
}

static void walk(const struct seekidx *x, const struct seekidx_tree *t, const char *prefix)
{
	size_t i;

	for (i = 0; i < t->n; i++) {
		const struct seekidx_entry *e = &t->e[i];
		char path[4096], src[8192], *msg = NULL;
		uint64_t got = 0;
		int fd = -1, r;

		snprintf(path, sizeof(path), "%s%s%s", prefix, *prefix ? "/" : "", e->name);
		if (e->tree) {
			walk(x, e->tree, path);
			continue;
		}
		if (!e->file)
			continue;
		r = fetch_partial_file(st, &opt, tar_url, idx_url, x, e->file,
			e->mode == 0100755, &fd, &got, &msg);
		total += got;
		if (r < 0) {
			printf("error %s %s %s\n", path, ename(r), msg ? msg : "");
			failed = 1;
		} else {
			snprintf(src, sizeof(src), "%s/%s", srcdir ? srcdir : "", path);
			if (srcdir && !same(fd, src)) {
				printf("differ %s\n", path);
				failed = 1;
			} else {
				printf("ok %s %" PRIu64 "\n", path, e->file->size);
			}
			close(fd);
		}
		free(msg);
	}
}

static int load(const char *store, const char *hash)
{
	struct seekidx *x = NULL;
	char *msg = NULL;
	int r;

	if (store_open(store, 0, &st, &msg) < 0) {
		fprintf(stderr, "seekfetch-get: %s\n", msg ? msg : "cannot open the store");
		return 70;
	}
	r = fetch_seekidx_load(st, hash, &x, &msg);
	if (r < 0)
		printf("load %s %s\n", ename(r), msg ? msg : "");
	else
		printf("load ok %zu\n", seekidx_nfiles(x));
	free(msg);
	seekidx_free(x);
	store_close(st);
	return r < 0 ? 2 : 0;
}

int main(int argc, char **argv)
{
	uint8_t tree[HASH_SHA1_LEN];
	struct seekidx *x = NULL;
	char *msg = NULL;
	int r;

	if (argc == 4 && strcmp(argv[1], "--load") == 0)
		return load(argv[2], argv[3]);

	if (argc < 5 || argc > 6 || hash_from_hex(argv[2], strlen(argv[2]), tree, HASH_SHA1_LEN)) {
		fprintf(stderr, "usage: seekfetch-get STORE TREE TAR_URL IDX_URL [SRCDIR]\n"
				"       seekfetch-get --load STORE TREE\n");
		return 64;
	}
	tar_url = argv[3];
	idx_url = argv[4];
	srcdir = argc == 6 ? argv[5] : NULL;
	if (fetch_global_init() < 0 || store_open(argv[1], STORE_CREATE, &st, &msg) < 0) {
		fprintf(stderr, "seekfetch-get: %s\n", msg ? msg : "cannot start");
		return 70;
	}
	fetch_options_init(&opt);
	opt.proxy = ""; /* loopback servers: never an environment's proxy */
	if (getenv("SEEKFETCH_PROXIES")) {
		/* a proxy= list, as the daemon passes it: the ranged requests use it */
		if (fetch_proxies_parse(getenv("SEEKFETCH_PROXIES"), NULL, &opt.proxies, &msg) < 0) {
			fprintf(stderr, "seekfetch-get: %s\n", msg ? msg : "bad SEEKFETCH_PROXIES");
			return 64;
		}
		opt.proxy = NULL;
	}
	r = fetch_seekidx_get(st, &opt, idx_url, tree, &x, &msg);
	if (r < 0) {
		printf("index %s %s\n", ename(r), msg ? msg : "");
		free(msg);
		store_close(st);
		return 2;
	}
	walk(x, seekidx_root(x), "");
	printf("fetched %" PRIu64 "\n", total);
	seekidx_free(x);
	store_close(st);
	fetch_global_cleanup();
	return failed;
}
