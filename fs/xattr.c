/*
 * xattr.c - extended attributes of artifact directories: what an artifact
 * is (user.artifactfs.hash), how far its install got (.state), where it
 * came from or would come from (.source), its size (.size)
 */
#include "fs/daemon.h"
#include "store/store.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static const char *const xattr_names[] = {
	"user.artifactfs.hash", "user.artifactfs.state", "user.artifactfs.source",
	"user.artifactfs.size",
};

static int xattr_value(struct fs *fs, struct fs_inode *in, const char *name, char *buf,
		       size_t size)
{
	struct fs_install_req *ir = NULL;
	struct store_info info;
	const char *state;
	int r, len = -ENODATA;

	if (in->kind != FS_HASH)
		return -ENODATA;
	/* First: a tree removed by hand drops its row, so it is not "installed". */
	fs_evict_installed(fs, in->hash);
	r = store_lookup(fs->store, in->hash, &info);
	if (strcmp(name, "user.artifactfs.hash") == 0) {
		len = snprintf(buf, size, "%s", in->hash);
	} else if (strcmp(name, "user.artifactfs.state") == 0) {
		state = fs_flight_state(fs->flights, in->hash);
		if (r == 0 && info.state == STORE_INSTALLED)
			state = "installed";
		else if (r == 0 && info.state == STORE_QUARANTINED)
			state = "quarantined";
		else if (!state)
			state = "absent";
		len = snprintf(buf, size, "%s", state);
	} else if (strcmp(name, "user.artifactfs.source") == 0) {
		if (r == 0 && info.source) {
			len = snprintf(buf, size, "%s", info.source);
		} else {
			/* The first download entry an install would try now. */
			if (fs_park_request(fs, in->hash, &ir) == 0 && ir->n_sources)
				len = snprintf(buf, size, "%s", ir->sources[0].url);
			fs_install_req_free(ir);
		}
	} else if (strcmp(name, "user.artifactfs.size") == 0) {
		if (r == 0)
			len = snprintf(buf, size, "%" PRIu64, info.bytes);
	}
	if (r == 0)
		store_info_release(&info);
	return len;
}

void fs_xattr_get(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
	struct fs *fs = fuse_req_userdata(req);
	char buf[4096];
	int len;

	len = xattr_value(fs, fs_inode_of(fs, ino), name, buf, sizeof(buf));
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
	char buf[256], value[4096];
	size_t i, len = 0, nlen;
	int vlen;

	for (i = 0; i < sizeof(xattr_names) / sizeof(xattr_names[0]); i++) {
		vlen = xattr_value(fs, in, xattr_names[i], value, sizeof(value));
		if (vlen < 0 || (size_t)vlen >= sizeof(value))
			continue;	/* getxattr answers ENODATA or E2BIG */
		nlen = strlen(xattr_names[i]) + 1;
		memcpy(buf + len, xattr_names[i], nlen);
		len += nlen;
	}
	if (size == 0)
		fuse_reply_xattr(req, len);
	else if (len > size)
		fuse_reply_err(req, ERANGE);
	else
		fuse_reply_buf(req, buf, len);
}
