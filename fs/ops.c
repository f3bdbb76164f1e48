/*
 * ops.c - the FUSE low-level operations table of artifactfs and the
 * operations that have no file of their own: getattr, lookup, forget,
 * readlink, open, read, release, statfs, and EROFS for everything that
 * would change something
 *
 * Each operation is a worker that returns -errno and a wrapper fs_<op>()
 * that replies exactly once (libfuse's example/passthrough_ll.c).  The
 * directory operations are in dir.c, the extended attributes in xattr.c,
 * lookups and attributes in lookup.c, the inode table in inode.c.
 */
#include "fs/daemon.h"
#include "store/store.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

static struct fs *fs_of(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

/* --- attributes, lookup, forget, readlink ----------------------------------------- */

static void fs_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs *fs = fs_of(req);
	struct stat st;
	double timeout;
	int r;

	r = fs_lookup_attr(fs, fs_inode_of(fs, ino), &st, &timeout);
	if (r < 0)
		fuse_reply_err(req, -r);
	else
		fuse_reply_attr(req, &st, timeout);
}

static void fs_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fuse_entry_param e;
	int r;

	memset(&e, 0, sizeof(e));
	fs_stats_add(&fs_of(req)->stats, FS_STAT_LOOKUPS, 1);
	r = fs_lookup_entry(fs_of(req), req, parent, name, &e, true);
	if (r != 1)
		fs_lookup_reply(req, r, &e);
}

static void fs_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	struct fs *fs = fs_of(req);

	fs_inode_unref(fs, fs_inode_of(fs, ino), nlookup);
	fuse_reply_none(req);
}

static void fs_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets)
{
	struct fs *fs = fs_of(req);
	size_t i;

	for (i = 0; i < count; i++)
		fs_inode_unref(fs, fs_inode_of(fs, forgets[i].ino), forgets[i].nlookup);
	fuse_reply_none(req);
}

static void fs_readlink(fuse_req_t req, fuse_ino_t ino)
{
	struct fs *fs = fs_of(req);
	struct fs_inode *in = fs_inode_of(fs, ino);
	const struct fs_name *n;
	struct fs_names *names;
	char buf[PATH_MAX + 1];
	const char *path;
	ssize_t len;
	int fd;

	if (in->kind == FS_NAME) {
		names = fs_reload_names(fs);
		n = fs_names_find(names, in->key);
		if (n) {
			memcpy(buf, n->hash, 41);
			fuse_reply_readlink(req, buf);
		} else {
			fuse_reply_err(req, ESTALE);	/* the name went away in a reload */
		}
		fs_names_unref(names);
		return;
	}
	if (in->kind == FS_LINK || in->kind == FS_PFILE) {
		len = in->kind == FS_LINK ? fs_lookup_link(fs, in, buf, sizeof(buf)) :
					    fs_view_readlink(fs, in, buf, sizeof(buf));
		if (len < 0)
			fuse_reply_err(req, (int)-len);
		else
			fuse_reply_readlink(req, buf);
		return;
	}
	if (in->kind != FS_TREE) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	fd = fs_inode_at(fs, in, &path);
	if (fd < 0) {
		fuse_reply_err(req, -fd);
		return;
	}
	len = readlinkat(fd, path, buf, sizeof(buf) - 1);
	if (len < 0) {
		fuse_reply_err(req, errno);
		return;
	}
	buf[len] = '\0';
	fuse_reply_readlink(req, buf);
}

/* --- files --------------------------------------------------------------------- */

static void resume_open(struct fs_parked *p);

/*
 * open_view - open a file of an artifact served per file (view.c): fetched
 * alone and verified, or from the installed tree once it is there; not
 * pinned (partial/ is not the installed tree).  An artifact that fell back
 * waits for its whole install (parked) unless the file was fetched before.
 * No-open mode gets ENOSYS as for the tree: its reads open the file each.
 */
static int open_view(struct fs *fs, fuse_req_t req, struct fs_inode *in, fuse_ino_t ino,
		     struct fuse_file_info *fi, bool may_park)
{
	int fd, r;

	if (fs->no_open)
		return -ENOSYS;
	fd = fs_view_open(fs, in);
	if (fd == -EAGAIN) {
		if (!may_park)
			return -EIO;
		r = fs_park(fs, req, in->hash, resume_open, ino, NULL, fi);
		return r < 0 ? r : 1;
	}
	if (fd < 0)
		return fd;
	fi->fh = (uint64_t)fd;
	fi->keep_cache = 1;	/* verified bytes of a blob never change */
	fi->noflush = 1;
	return 0;
}

static int do_open(struct fs *fs, fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi,
		   bool may_park)
{
	struct fs_inode *in = fs_inode_of(fs, ino);
	int fd, r;

	if ((fi->flags & O_ACCMODE) != O_RDONLY || (fi->flags & (O_TRUNC | O_CREAT)))
		return -EROFS;
	if (in->kind == FS_PFILE)
		return open_view(fs, req, in, ino, fi, may_park);
	if (in->kind != FS_TREE)
		return -EISDIR;
	/* gone since the lookup (gc, quota): install it again */
	r = fs_park_unless_installed(fs, req, in->hash, may_park, resume_open, ino, NULL, fi);
	if (r != 0)
		return r;
	/*
	 * No-open mode: ENOSYS tells the kernel to stop sending open and
	 * release for good; it then keeps the page cache across opens and
	 * reads with fh 0.  The artifact is pinned by the inode (fs->hold).
	 */
	if (fs->no_open)
		return -ENOSYS;
	fd = fs_inode_open(fs, in, O_RDONLY);
	if (fd < 0)
		return fd;
	fs_evict_pin(fs, in->hash, 1);
	fi->fh = (uint64_t)fd;
	fi->keep_cache = 1;	/* the bytes of a hash tree never change */
	fi->noflush = 1;
	store_touch(fs->store, in->hash);
	return 0;
}

/* Reply to an open: ENOSYS of the no-open mode goes to the kernel as it is. */
static void reply_open(struct fs *fs, fuse_req_t req, int r, const struct fuse_file_info *fi)
{
	if (r == -ENOSYS && fs->no_open)
		fuse_reply_err(req, ENOSYS);
	else
		fs_reply_open(req, r, fi);
}

static void fs_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs *fs = fs_of(req);

	fs_stats_add(&fs->stats, FS_STAT_OPENS, 1);
	reply_open(fs, req, do_open(fs, req, ino, fi, true), fi);
}

/* A parked open, after the install: open again and reply. */
static void resume_open(struct fs_parked *p)
{
	reply_open(p->fs, p->req, do_open(p->fs, p->req, p->ino, &p->fi, false), &p->fi);
}

static void resume_read(struct fs_parked *p);

static void do_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi, bool may_park)
{
	struct fuse_bufvec buf = FUSE_BUFVEC_INIT(size);
	struct fuse_file_info park_fi = { 0 };
	struct fs *fs = fs_of(req);
	struct fs_inode *in;
	struct stat st;
	int fd = (int)fi->fh, r;

	/*
	 * No-open mode: no handle; the file is opened for the read (one
	 * openat2 below the artifact's descriptor), as cheap as a cached
	 * descriptor per inode and without RLIMIT_NOFILE to mind.
	 */
	if (fs->no_open && fs_inode_of(fs, ino)->kind == FS_PFILE) {
		fd = fs_view_open(fs, fs_inode_of(fs, ino));
		if (fd < 0) {
			fuse_reply_err(req, fd == -EAGAIN ? EIO : -fd);
			return;
		}
	} else if (fs->no_open) {
		in = fs_inode_of(fs, ino);
		fd = fs_inode_open(fs, in, O_RDONLY);
		if (fd < 0 && may_park && !fs_evict_installed(fs, in->hash)) {
			/*
			 * The tree went under the kernel's inode (removed by
			 * hand; the pins keep gc and the quota off it): install
			 * it again and read then, as an open would.  The parked
			 * read keeps its offset in fi.fh and its size in fi.flags.
			 */
			park_fi.fh = (uint64_t)off;
			park_fi.flags = (int)size;
			r = fs_park(fs, req, in->hash, resume_read, ino, NULL, &park_fi);
			if (r < 0)
				fuse_reply_err(req, -r);
			return;
		}
		if (fd < 0) {
			fuse_reply_err(req, -fd);
			return;
		}
		/* the access the quota's LRU order sees, as an open's would be */
		store_touch(fs->store, fs_inode_of(fs, ino)->hash);
	}
	buf.buf[0].flags = FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK;
	buf.buf[0].fd = fd;
	buf.buf[0].pos = off;
	/*
	 * The reply holds what the file has from off on, at most size (trees
	 * never change).  Counted before the reply, so that a reader that got
	 * its bytes finds them counted.
	 */
	if (fstat(fd, &st) == 0 && off >= 0 && st.st_size > off)
		fs_stats_add(&fs->stats, FS_STAT_SERVED,
			     (uint64_t)st.st_size - (uint64_t)off < size ?
			     (uint64_t)st.st_size - (uint64_t)off : size);
	fuse_reply_data(req, &buf, FUSE_BUF_SPLICE_MOVE);
	if (fs->no_open)
		close(fd);
}

static void fs_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	do_read(req, ino, size, off, fi, true);
}

/* A parked read of no-open mode, after the install: read again. */
static void resume_read(struct fs_parked *p)
{
	struct fuse_file_info none = { 0 };

	do_read(p->req, p->ino, (size_t)p->fi.flags, (off_t)p->fi.fh, &none, false);
}

static void fs_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs *fs = fs_of(req);

	close((int)fi->fh);
	if (fs_inode_of(fs, ino)->kind != FS_PFILE)	/* a view's opens pin nothing */
		fs_evict_pin(fs, fs_inode_of(fs, ino)->hash, -1);
	fuse_reply_err(req, 0);
}

/*
 * statfs: the store's filesystem, except with a quota, which is then the
 * size (f_blocks) and the installed bytes (store_stats()) the used part;
 * what is available is what the quota leaves, at most what the store's
 * filesystem has free.  df(1) then shows how full the cache is.
 */
static void fs_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct fs *fs = fs_of(req);
	struct store_stats st;
	struct statvfs sv;
	uint64_t frsize, blocks, used, avail;

	if (statvfs(store_dir(fs->store), &sv) < 0) {
		fuse_reply_err(req, errno);
		return;
	}
	if (fs->cfg->quota && store_stats(fs->store, &st) == 0) {
		frsize = sv.f_frsize ? sv.f_frsize : sv.f_bsize ? sv.f_bsize : 4096;
		blocks = fs->cfg->quota / frsize;
		used = (st.bytes + frsize - 1) / frsize;
		avail = used < blocks ? blocks - used : 0;
		sv.f_frsize = frsize;
		sv.f_blocks = blocks;
		sv.f_bfree = avail;
		if (sv.f_bavail > avail)
			sv.f_bavail = avail;
	}
	sv.f_flag |= ST_RDONLY;
	fuse_reply_statfs(req, &sv);
}

/* --- everything that would change something: EROFS ------------------------------------- */

static void fs_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
		       struct fuse_file_info *fi)
{
	fuse_reply_err(req, EROFS);
}

static void fs_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, dev_t rdev)
{
	fuse_reply_err(req, EROFS);
}

static void fs_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	fuse_reply_err(req, EROFS);
}

static void fs_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	fuse_reply_err(req, EROFS);
}

static void fs_symlink(fuse_req_t req, const char *link, fuse_ino_t parent, const char *name)
{
	fuse_reply_err(req, EROFS);
}

static void fs_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
		      const char *newname, unsigned int flags)
{
	fuse_reply_err(req, EROFS);
}

static void fs_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char *newname)
{
	fuse_reply_err(req, EROFS);
}

static void fs_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
		      struct fuse_file_info *fi)
{
	fuse_reply_err(req, EROFS);
}

static void fs_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
		     struct fuse_file_info *fi)
{
	fuse_reply_err(req, EROFS);
}

static void fs_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value,
			size_t size, int flags)
{
	fuse_reply_err(req, EROFS);
}

static void fs_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	fuse_reply_err(req, EROFS);
}

static void fs_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t offset, off_t length,
			 struct fuse_file_info *fi)
{
	fuse_reply_err(req, EROFS);
}

static void fs_init(void *userdata, struct fuse_conn_info *conn)
{
	struct fs *fs = userdata;

	/*
	 * Zero-message opens (no_open=): the first open answers ENOSYS and the
	 * kernel sends no more open or release; pins come from the inodes the
	 * kernel holds (evict.c).  Set before any other request is served.
	 */
	if (fs->cfg->no_open && (conn->capable & FUSE_CAP_NO_OPEN_SUPPORT)) {
		fs->no_open = true;
		fs->hold = fs_evict_pin;
	}
	/* ... and of directories (dir.c): no opendir and releasedir, cached listings. */
	if (fs->cfg->no_open && (conn->capable & FUSE_CAP_NO_OPENDIR_SUPPORT))
		fs->no_opendir = true;
	/* Splice the bytes of store files straight into the FUSE device. */
	if (conn->capable & FUSE_CAP_SPLICE_WRITE)
		conn->want |= FUSE_CAP_SPLICE_WRITE | FUSE_CAP_SPLICE_MOVE;
	if (conn->capable & FUSE_CAP_READDIRPLUS)
		conn->want |= FUSE_CAP_READDIRPLUS;
	/* Writeback caching makes no sense on a read-only filesystem. */
	conn->want &= ~FUSE_CAP_WRITEBACK_CACHE;
	/*
	 * ls -l asks every file for its POSIX ACLs; with this capability the
	 * kernel asks once per inode and caches the answer (there are none),
	 * instead of a round trip per call.  It needs default_permissions,
	 * which main.c always sets.
	 */
	if (conn->capable & FUSE_CAP_POSIX_ACL)
		conn->want |= FUSE_CAP_POSIX_ACL;
	/*
	 * Symlink targets in the page cache: a tree's never change, and a
	 * name's is invalidated when a reload changes it (reload.c).
	 */
	if (conn->capable & FUSE_CAP_CACHE_SYMLINKS)
		conn->want |= FUSE_CAP_CACHE_SYMLINKS;
}

const struct fuse_lowlevel_ops fs_ops = {
	.init = fs_init,
	.lookup = fs_lookup,
	.forget = fs_forget,
	.forget_multi = fs_forget_multi,
	.getattr = fs_getattr,
	.readlink = fs_readlink,
	.opendir = fs_dir_opendir,
	.readdir = fs_dir_readdir,
	.readdirplus = fs_dir_readdirplus,
	.releasedir = fs_dir_releasedir,
	.open = fs_open,
	.read = fs_read,
	.release = fs_release,
	.statfs = fs_statfs,
	.getxattr = fs_xattr_get,
	.listxattr = fs_xattr_list,
	.setattr = fs_setattr,
	.mknod = fs_mknod,
	.mkdir = fs_mkdir,
	.unlink = fs_unlink,
	.rmdir = fs_unlink,
	.symlink = fs_symlink,
	.rename = fs_rename,
	.link = fs_link,
	.create = fs_create,
	.write = fs_write,
	.setxattr = fs_setxattr,
	.removexattr = fs_removexattr,
	.fallocate = fs_fallocate,
};
