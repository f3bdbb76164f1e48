/*
 * cmd_verify.c - artifactctl verify: re-hash installed artifacts and
 * quarantine those whose tree hash is wrong
 *
 *   artifactctl verify [--store DIR] [HASH...]
 *
 * Every installed artifact when no HASH is given.  Prints "<hash> ok",
 * "<hash> MISMATCH", or "<hash> MISSING" (indexed, but its tree is gone)
 * per artifact; exits 1 when any mismatched or could not be checked.  The store is opened without reconcile; when it cannot be
 * opened for writing (a user without write access, a read-only mount),
 * it is opened read-only and mismatches are reported but not quarantined.
 */
#include "tools/artifactctl.h"
#include "tools/store_opt.h"

#include "store/hash.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

static void usage(FILE *f)
{
	fprintf(f, "usage: %s verify [--store DIR] [HASH...]\n\n"
		   "Re-hash installed artifacts (all without HASH) with Pkg's rules; print\n"
		   "'<hash> ok', '<hash> MISMATCH' (moved to quarantine/) or '<hash> MISSING'\n"
		   "(indexed, but its tree is gone).\n"
		   "Exits 1 when any artifact mismatched or could not be checked.\n\n"
		   "  --store DIR  the store (default: $ARTIFACTFS_STORE, else %s)\n",
		progname, CTL_STORE_DEFAULT);
}

struct list {
	char (*v)[STORE_HASH_HEX + 1];
	size_t n, cap;
};

static int list_add(struct list *l, const char *hash)
{
	void *v;

	if (l->n == l->cap) {
		v = realloc(l->v, (l->cap ? 2 * l->cap : 64) * sizeof(*l->v));
		if (!v)
			return -ENOMEM;
		l->v = v;
		l->cap = l->cap ? 2 * l->cap : 64;
	}
	memcpy(l->v[l->n++], hash, STORE_HASH_HEX + 1);
	return 0;
}

/* collected during the walk, verified after it: hashing takes long */
static int collect(const char *hash, const struct store_info *info, void *arg)
{
	return info->state == STORE_INSTALLED ? list_add(arg, hash) : 0;
}

/* hash_arg - a command-line hash, lowercased; false when it is not 40 hex digits. */
static bool hash_arg(const char *arg, char out[STORE_HASH_HEX + 1])
{
	return hash_hex_lower(arg, strlen(arg), STORE_HASH_HEX, out);
}

int cmd_verify(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "store", required_argument, NULL, 's' },
		CTL_OPTIONS_END,
	};
	static const struct ctl_getopt g = {"verify", "+:h", opts, usage, "an argument", false};
	char hash[STORE_HASH_HEX + 1];
	struct list todo = { NULL, 0, 0 };
	const char *dir = NULL;
	bool read_only;
	int c, r, status = EXIT_OK;
	struct store *s;
	size_t i;

	while ((c = ctl_getopt(argc, argv, &g)) != -1) {
		switch (c) {
		case 's':
			dir = optarg;
			break;
		}
	}
	for (i = (size_t)optind; i < (size_t)argc; i++) {
		if (!hash_arg(argv[i], hash))
			ctl_usage_error("verify", "'%s' is not a git-tree-sha1 (40 hex digits)",
				argv[i]);
		if (list_add(&todo, hash) < 0)
			ctl_erre(EXIT_FAIL, -ENOMEM, "cannot list the artifacts");
	}

	s = ctl_store_open(dir, STORE_NO_RECONCILE, &read_only);
	if (read_only)
		ctl_warnx("store '%s' is read-only here: mismatches are not quarantined",
			store_dir(s));
	if (optind == argc) {
		r = store_foreach(s, collect, &todo);
		if (r < 0) {
			ctl_warnx("cannot list '%s': %s", store_dir(s),
				*store_errmsg(s) ? store_errmsg(s) : strerror(-r));
			status = EXIT_FAIL;
		}
	}
	for (i = 0; i < todo.n; i++) {
		store_clear_error(s);
		r = store_verify(s, todo.v[i], !read_only);
		if (r == 0) {
			printf("%s ok\n", todo.v[i]);
			continue;
		}
		status = EXIT_FAIL;
		if (r == -EBADMSG) {
			printf("%s MISMATCH\n", todo.v[i]);
			fflush(stdout);
			ctl_warnx("%s%s", store_errmsg(s),
				read_only ? "" : "; moved to quarantine");
		} else if (r == -ENOENT && optind == argc) {
			/* a row without its tree: a removal killed between the two */
			printf("%s MISSING\n", todo.v[i]);
			fflush(stdout);
			ctl_warnx("%s is indexed as installed but its tree is gone from '%s/artifacts'; "
				  "the next store open that reconciles (artifactctl fetch, gc, the "
				  "daemon) drops the row",
				todo.v[i], store_dir(s));
		} else if (r == -ENOENT) {
			fflush(stdout);
			ctl_warnx("%s is not installed in '%s'", todo.v[i], store_dir(s));
		} else {
			fflush(stdout);
			ctl_warnx("cannot verify %s: %s", todo.v[i],
				*store_errmsg(s) ? store_errmsg(s) : strerror(-r));
		}
	}
	free(todo.v);
	store_close(s);
	if (fflush(stdout) != 0)
		ctl_erre(EXIT_FAIL, -errno, "cannot write the report");
	return status;
}
