/*
 * seekidx_tarball.c - fetch_seekidx_tarball(): the seek index of a local
 * gzip tarball, for "artifactctl seek-index" and "artifactctl publish".
 *
 * Two passes over the file: the compressed bytes go to the builder
 * (restart points, windows), then the tarball is unpacked (hash only)
 * through fetch/unpack.c, whose observer hands the builder every file's
 * blob id and data offset, every symlink target and the tree objects.
 */
#include "config.h"

#include "fetch/fetch.h"
#include "fetch/seekidx.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int obs_file(void *arg, const uint8_t oid[HASH_SHA1_LEN], uint64_t offset, uint64_t size)
{
	return seekidx_builder_file(arg, oid, offset, size);
}

static int obs_link(void *arg, const char *target, size_t len)
{
	return seekidx_builder_link(arg, target, len);
}

static int obs_tree(void *arg, struct tree_builder *tb)
{
	return seekidx_builder_trees(arg, tb);
}

static void __attribute__((format(printf, 2, 3))) set_msg(char **errmsg, const char *fmt, ...)
{
	va_list ap;

	if (!errmsg || *errmsg)
		return;
	va_start(ap, fmt);
	if (vasprintf(errmsg, fmt, ap) < 0)
		*errmsg = NULL;
	va_end(ap);
}

/* The compressed pass: every byte of fd to the builder and a SHA-256. */
static int compressed_pass(
	int fd, struct seekidx_builder *b, uint8_t sha256[HASH_SHA256_LEN], uint64_t *size)
{
	struct hash_ctx *h = NULL;
	uint8_t *buf = malloc(1 << 20);
	uint64_t off = 0;
	ssize_t n;
	int r = buf ? hash_ctx_new(HASH_SHA256, &h) : -ENOMEM;

	while (r == 0) {
		n = pread(fd, buf, 1 << 20, (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = -errno;
			break;
		}
		if (n == 0)
			break;
		off += (uint64_t)n;
		r = hash_ctx_update(h, buf, (size_t)n);
		if (r == 0)
			r = seekidx_builder_compressed(b, buf, (size_t)n);
	}
	if (r == 0)
		r = hash_ctx_final(h, sha256);
	*size = off;
	hash_ctx_free(h);
	free(buf);
	return r;
}

int fetch_seekidx_tarball(int fd, const char *path, uint64_t span, uint8_t **ret, size_t *len,
	struct fetch_digests *dg, char **errmsg)
{
	static const char *const dflt = "tarball";
	struct fetch_unpack_observer obs = {obs_file, obs_link, obs_tree, NULL};
	struct seekidx_builder *b = NULL;
	struct fetch_digests d;
	uint8_t sha[HASH_SHA256_LEN];
	uint64_t size = 0;
	const char *name = path ? path : dflt, *why;
	int own = fd < 0 ? open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY) : -1, r;

	if (errmsg)
		*errmsg = NULL;
	r = fd < 0 && own < 0 ? -errno : seekidx_builder_new(span, &b);
	if (r < 0) {
		set_msg(errmsg, "cannot open '%s': %s", name, strerror(-r));
		goto out;
	}
	if (own >= 0)
		fd = own;
	obs.arg = b;
	r = compressed_pass(fd, b, sha, &size);
	if (r < 0) {
		/* a read error is not the builder's */
		why = seekidx_builder_error(b);
		set_msg(errmsg, "cannot index '%s': %s", name,
			strcmp(why, "no error") == 0 ? strerror(-r) : why);
		goto out;
	}
	if (lseek(fd, 0, SEEK_SET) < 0) {
		r = -errno;
		set_msg(errmsg, "cannot read '%s' again: %s", name, strerror(-r));
		goto out;
	}
	r = fetch_hash_tarball_obs(fd, path, &obs, &d, errmsg);
	if (r < 0)
		goto out;
	if (memcmp(d.sha256, sha, sizeof(sha)) != 0 || d.tarball_bytes != size) {
		r = -EAGAIN;
		set_msg(errmsg, "'%s' changed while it was indexed", name);
		goto out;
	}
	r = seekidx_builder_finish(b, sha, ret, len);
	if (r < 0) {
		set_msg(errmsg, "cannot index '%s': %s", name, seekidx_builder_error(b));
		goto out;
	}
	/* the first tree object is the root: the tree hash the unpacker computed */
	if (*len < 52 || memcmp(*ret + 32, d.tree, HASH_SHA1_LEN) != 0) {
		free(*ret);
		*ret = NULL;
		r = -EIO;
		set_msg(errmsg, "cannot index '%s': the tree objects miss the tree hash", name);
		goto out;
	}
	if (dg)
		*dg = d;
out:
	seekidx_builder_free(b);
	if (own >= 0)
		close(own);
	return r;
}
