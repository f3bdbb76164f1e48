/*
 * xattr.c - extended attributes: of an artifact directory, what it is
 * (user.artifactfs.hash), how far its install got (.state, .progress, .error),
 * where it came from or would come from (.source), its size (.size); of the
 * mount root, the daemon's figures (.version, .pid, .uptime, .store, .quota,
 * .used, .hits, .misses, .installs, .failures, .inflight)
 *
 * Every attribute has one value function; getxattr asks the one of the
 * name, listxattr asks every one of the inode's kind and lists the names
 * that answered, so that it lists exactly what getxattr then returns.
 */
#include "fs/daemon.h"
#include "store/store.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* What a value function sees of an artifact: its store row, read once. */
struct xattr_ctx {
	struct fs *fs;
	struct fs_inode *in;
	int row;			/* store_lookup()'s result: 0 when info holds the row */
	struct store_info info;
};

/* Each writes the value (snprintf-style) and returns its length, or -ENODATA. */
typedef int (*xattr_fn)(struct xattr_ctx *x, char *buf, size_t size);

static int art_hash(struct xattr_ctx *x, char *buf, size_t size)
{
	return snprintf(buf, size, "%s", x->in->hash);
}

static int art_state(struct xattr_ctx *x, char *buf, size_t size)
{
	const char *state = fs_flight_state(x->fs->flights, x->in->hash);

	if (x->row == 0 && x->info.state == STORE_INSTALLED)
		state = "installed";
	else if (x->row == 0 && x->info.state == STORE_QUARANTINED)
		state = "quarantined";
	else if (!state && x->fs->perfile && !fs_perfile_fallen(x->fs->perfile, x->in->hash) &&
		 fs_perfile_index(x->fs->perfile, x->in->hash, false))
		state = "per-file";	/* served from its seek index (view.c) */
	else if (!state)
		state = "absent";
	return snprintf(buf, size, "%s", state);
}

static int art_source(struct xattr_ctx *x, char *buf, size_t size)
{
	struct fs_install_req *ir = NULL;
	int len = -ENODATA;

	if (x->row == 0 && x->info.source)
		return snprintf(buf, size, "%s", x->info.source);
	/* The first download entry an install would try now. */
	if (fs_park_request(x->fs, x->in->hash, &ir) == 0 && ir->n_sources)
		len = snprintf(buf, size, "%s", ir->sources[0].url);
	fs_install_req_free(ir);
	return len;
}

static int art_size(struct xattr_ctx *x, char *buf, size_t size)
{
	if (x->row != 0)
		return -ENODATA;
	return snprintf(buf, size, "%" PRIu64, x->info.bytes);
}

/* "BYTES/TOTAL" while an install runs; TOTAL is "unknown" until the server says. */
static int art_progress(struct xattr_ctx *x, char *buf, size_t size)
{
	uint64_t bytes, total;

	if (fs_flight_get_progress(x->fs->flights, x->in->hash, &bytes, &total) != 1)
		return -ENODATA;
	if (!total)
		return snprintf(buf, size, "%" PRIu64 "/unknown", bytes);
	return snprintf(buf, size, "%" PRIu64 "/%" PRIu64, bytes, total);
}

/* The last failed install's message until an install succeeds; absent when none. */
static int art_error(struct xattr_ctx *x, char *buf, size_t size)
{
	char *msg = fs_flight_error(x->fs->flights, x->in->hash);
	int len;

	if (!msg)
		return -ENODATA;
	len = snprintf(buf, size, "%s", msg);
	free(msg);
	return len;
}

static int root_version(struct xattr_ctx *x, char *buf, size_t size)
{
	return snprintf(buf, size, "%s", ARTIFACTFS_VERSION);
}

static int root_pid(struct xattr_ctx *x, char *buf, size_t size)
{
	return snprintf(buf, size, "%ld", (long)getpid());
}

/* Whole seconds since the daemon started serving. */
static int root_uptime(struct xattr_ctx *x, char *buf, size_t size)
{
	struct timespec now;

	clock_gettime(CLOCK_REALTIME, &now);
	return snprintf(buf, size, "%lld",
			(long long)(now.tv_sec > x->fs->started.tv_sec ?
				    now.tv_sec - x->fs->started.tv_sec : 0));
}

static int root_store(struct xattr_ctx *x, char *buf, size_t size)
{
	return snprintf(buf, size, "%s", store_dir(x->fs->store));
}

/* The quota in bytes, 0 when none is set. */
static int root_quota(struct xattr_ctx *x, char *buf, size_t size)
{
	return snprintf(buf, size, "%" PRIu64, x->fs->cfg->quota);
}

/* The bytes of the installed artifacts (the store's counter). */
static int root_used(struct xattr_ctx *x, char *buf, size_t size)
{
	struct store_stats st;

	if (store_stats(x->fs->store, &st) < 0)
		return -ENODATA;
	return snprintf(buf, size, "%" PRIu64, st.bytes);
}

/* The counters since start (stats.c). */
static int root_count(struct xattr_ctx *x, enum fs_stat which, char *buf, size_t size)
{
	return snprintf(buf, size, "%" PRIu64, fs_stats_get(&x->fs->stats, which));
}

static int root_hits(struct xattr_ctx *x, char *buf, size_t size)
{
	return root_count(x, FS_STAT_HITS, buf, size);
}

static int root_misses(struct xattr_ctx *x, char *buf, size_t size)
{
	return root_count(x, FS_STAT_MISSES, buf, size);
}

static int root_installs(struct xattr_ctx *x, char *buf, size_t size)
{
	return root_count(x, FS_STAT_INSTALLS, buf, size);
}

static int root_failures(struct xattr_ctx *x, char *buf, size_t size)
{
	return root_count(x, FS_STAT_FAILURES, buf, size);
}

static int root_inflight(struct xattr_ctx *x, char *buf, size_t size)
{
	return snprintf(buf, size, "%u", fs_flights_inflight(x->fs->flights));
}

static const struct {
	enum fs_kind kind;
	const char *name;
	xattr_fn fn;
} xattrs[] = {
	{ FS_HASH, "user.artifactfs.hash", art_hash },
	{ FS_HASH, "user.artifactfs.state", art_state },
	{ FS_HASH, "user.artifactfs.source", art_source },
	{ FS_HASH, "user.artifactfs.size", art_size },
	{ FS_HASH, "user.artifactfs.progress", art_progress },
	{ FS_HASH, "user.artifactfs.error", art_error },
	{ FS_ROOT, "user.artifactfs.version", root_version },
	{ FS_ROOT, "user.artifactfs.pid", root_pid },
	{ FS_ROOT, "user.artifactfs.uptime", root_uptime },
	{ FS_ROOT, "user.artifactfs.store", root_store },
	{ FS_ROOT, "user.artifactfs.quota", root_quota },
	{ FS_ROOT, "user.artifactfs.used", root_used },
	{ FS_ROOT, "user.artifactfs.hits", root_hits },
	{ FS_ROOT, "user.artifactfs.misses", root_misses },
	{ FS_ROOT, "user.artifactfs.installs", root_installs },
	{ FS_ROOT, "user.artifactfs.failures", root_failures },
	{ FS_ROOT, "user.artifactfs.inflight", root_inflight },
};
#define N_XATTRS (sizeof(xattrs) / sizeof(xattrs[0]))

/* ctx_open - read in's store row once for the value functions; ctx_close - release it. */
static void ctx_open(struct xattr_ctx *x, struct fs *fs, struct fs_inode *in)
{
	x->fs = fs;
	x->in = in;
	x->row = -ENOENT;
	if (in->kind != FS_HASH)
		return;
	/* First: a tree removed by hand drops its row, so it is not "installed". */
	fs_evict_installed(fs, in->hash);
	x->row = store_lookup(fs->store, in->hash, &x->info);
}

static void ctx_close(struct xattr_ctx *x)
{
	if (x->row == 0)
		store_info_release(&x->info);
}

void fs_xattr_get(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
	struct fs *fs = fuse_req_userdata(req);
	struct fs_inode *in = fs_inode_of(fs, ino);
	struct xattr_ctx x;
	char buf[16384];
	int len = -ENODATA;
	size_t i;

	/* xattr=off: ENOSYS once, and the kernel asks no more (nothing cached to miss) */
	if (!fs->cfg->xattr) {
		fuse_reply_err(req, ENOSYS);
		return;
	}

	ctx_open(&x, fs, in);
	for (i = 0; i < N_XATTRS; i++)
		if (xattrs[i].kind == in->kind && strcmp(xattrs[i].name, name) == 0) {
			len = xattrs[i].fn(&x, buf, sizeof(buf));
			break;
		}
	ctx_close(&x);
	if (len < 0)
		fuse_reply_err(req, -len);
	else if ((size_t)len >= sizeof(buf))
		fuse_reply_err(req, E2BIG);
	else if (size == 0)
		fuse_reply_xattr(req, (size_t)len);
	else if ((size_t)len > size)
		fuse_reply_err(req, ERANGE);
	else
		fuse_reply_buf(req, buf, (size_t)len);
}

/*
 * listxattr lists exactly the names getxattr answers now: each is asked for
 * its value, so that, e.g., user.artifactfs.size of an artifact that is not
 * installed is not listed.
 */
void fs_xattr_list(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	struct fs *fs = fuse_req_userdata(req);
	struct fs_inode *in = fs_inode_of(fs, ino);
	struct xattr_ctx x;
	char buf[512], value[16384];
	size_t i, len = 0, nlen;
	int vlen;

	/* xattr=off: ENOSYS once, and the kernel asks no more (nothing cached to miss) */
	if (!fs->cfg->xattr) {
		fuse_reply_err(req, ENOSYS);
		return;
	}

	ctx_open(&x, fs, in);
	for (i = 0; i < N_XATTRS; i++) {
		if (xattrs[i].kind != in->kind)
			continue;
		vlen = xattrs[i].fn(&x, value, sizeof(value));
		if (vlen < 0 || (size_t)vlen >= sizeof(value))
			continue;	/* getxattr answers ENODATA or E2BIG */
		nlen = strlen(xattrs[i].name) + 1;
		memcpy(buf + len, xattrs[i].name, nlen);
		len += nlen;
	}
	ctx_close(&x);
	if (size == 0)
		fuse_reply_xattr(req, len);
	else if (len > size)
		fuse_reply_err(req, ERANGE);
	else
		fuse_reply_buf(req, buf, len);
}
