/*
 * store_opt.h - the store directory option shared by the artifactctl
 * commands that work on a store (ls, verify)
 *
 * One definition for every command that includes it: the store directory
 * is --store DIR when given, else $ARTIFACTFS_STORE when set and not empty,
 * else /var/cache/artifactfs (doc/artifactctl.1, ENVIRONMENT).  The
 * functions are static inline so that the header needs no .c file of its
 * own in the build.
 */
#ifndef ARTIFACTCTL_STORE_OPT_H
#define ARTIFACTCTL_STORE_OPT_H

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store.h"
#include "tools/artifactctl.h"

#define CTL_STORE_DEFAULT "/var/cache/artifactfs"

/*
 * ctl_store_dir - the store directory: opt (the argument of --store) when
 * not NULL, else $ARTIFACTFS_STORE when set and not empty, else the
 * default.  Borrowed: opt, the environment or a literal.
 */
static inline const char *ctl_store_dir(const char *opt)
{
	const char *env = getenv("ARTIFACTFS_STORE");

	if (opt)
		return opt;
	return env && *env ? env : CTL_STORE_DEFAULT;
}

/*
 * ctl_store_open - open the store of ctl_store_dir(opt) with flags (enum
 * store_flags) and return the handle, to be closed with store_close().
 * When ro is not NULL and the store cannot be opened for writing (-EACCES,
 * -EROFS, -EPERM), it is opened STORE_RDONLY instead and *ro set to true
 * (false otherwise).  Any other failure prints the message and exits with
 * EXIT_FAIL.
 */
static inline struct store *ctl_store_open(const char *opt, unsigned flags, bool *ro)
{
	struct store *s = NULL;
	char *msg = NULL;
	int r;

	if (ro)
		*ro = false;
	r = store_open(ctl_store_dir(opt), flags, &s, &msg);
	if (r < 0 && ro && !(flags & STORE_RDONLY) &&
	    (r == -EACCES || r == -EROFS || r == -EPERM)) {
		free(msg);
		msg = NULL;
		*ro = true;
		r = store_open(ctl_store_dir(opt), STORE_RDONLY, &s, &msg);
	}
	if (r == 0)
		return s;
	if (msg)
		ctl_warnx("%s", msg);
	else
		ctl_warne(r, "cannot open store '%s'", ctl_store_dir(opt));
	free(msg);
	exit(EXIT_FAIL);
}

#endif
