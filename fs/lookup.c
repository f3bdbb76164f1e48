/*
 * lookup.c - lookups and attributes: the root's names and hashes, and the
 * trees of installed artifacts
 *
 * The namespace (DESIGN.md "The mounted namespace"):
 *
 *   /            the root: one symlink per name, plus installed hashes
 *   /<name>      symlink -> <hash>, from the configured Artifacts.toml files
 *   /<hash>/     an artifact: virtual until installed, then backed by
 *                <store>/artifacts/<hash>
 *   /<hash>/...  the tree, served from the store through the artifact's
 *                descriptor (inode.c)
 *   /artifacts/<hash>  (depot_layout=on) symlink -> ../<hash>, so that the
 *                mount is a Julia depot: Julia's isdir() follows it
 *
 * An overridden hash (overrides=) is a symlink to its override wherever it
 * shows: /<hash> and /artifacts/<hash> -> /abs/path or -> <hash2> (the
 * sibling entry, in both directories).  A name bound to it then resolves
 * to the override too, as in Julia.  Symlinks rather than one directory
 * inode in two places: the kernel keeps a single dentry per directory
 * inode and would move it back and forth between the two parents.
 *
 * A lookup inside an artifact that is not installed is parked (park.c) and
 * runs again when the install ends, unless the artifact is served per file
 * (per_file=on; view.c).
 */
#include "fs/daemon.h"
#include "store/store.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/*
 * What the mount shows of a file of the store: its own mode and size, but
 * never a write, setuid, setgid or sticky bit (the mount is read-only and
 * shared between users), and our inode number.
 */
static void sanitize_stat(struct stat *st, fuse_ino_t ino)
{
	/* Symlink modes mean nothing on Linux and are shown as 0777, as by any filesystem. */
	if (!S_ISLNK(st->st_mode))
		st->st_mode &= ~(mode_t)(S_ISUID | S_ISGID | S_ISVTX | S_IWUSR | S_IWGRP | S_IWOTH);
	st->st_ino = ino;
}

bool fs_lookup_hidden(const char *name)
{
	return strcmp(name, ".git") == 0;
}

/* The attributes of what the store does not back: the root, a name, an absent artifact. */
static void virtual_stat(struct fs *fs, struct fs_inode *in, struct stat *st, mode_t mode)
{
	st->st_mode = mode;
	st->st_nlink = S_ISDIR(mode) ? 2 : 1;
	st->st_mtim = fs->started;
	st->st_ctim = fs->started;
	st->st_atim = fs->started;
	st->st_ino = fs_inode_ino(fs, in);
}

/*
 * listing_mtime - the mtime of the root and artifacts/ in no-opendir mode,
 * where the kernel caches their listings: the time a change of what they
 * list was first seen here (installed artifacts, their bytes, installs, the
 * name snapshot).  The kernel compares it when it reads a listing from its
 * start (with FUSE_CAP_AUTO_INVAL_DATA, libfuse's default) and reads the
 * listing again when it changed, so that even a change made by another
 * process (gc, artifactctl fetch into the store) shows within name_timeout.
 */
static struct timespec listing_mtime(struct fs *fs)
{
	struct store_stats st = { 0 };
	struct fs_names *names;
	struct timespec t;
	uint64_t sig;

	store_stats(fs->store, &st);
	names = fs_reload_names(fs);
	sig = st.artifacts * 0x9e3779b97f4a7c15ULL ^ st.bytes * 0xc2b2ae3d27d4eb4fULL ^
	      st.installs * 0x165667b19e3779f9ULL ^ (uint64_t)(uintptr_t)names;
	fs_names_unref(names);
	pthread_mutex_lock(&fs->listing_lock);
	if (sig != fs->listing_sig || !fs->listing_mtime.tv_sec) {
		fs->listing_sig = sig;
		clock_gettime(CLOCK_REALTIME, &fs->listing_mtime);
	}
	t = fs->listing_mtime;
	pthread_mutex_unlock(&fs->listing_lock);
	return t;
}

int fs_lookup_attr(struct fs *fs, struct fs_inode *in, struct stat *st, double *timeout)
{
	const char *path;
	int fd;

	memset(st, 0, sizeof(*st));
	st->st_uid = 0;
	st->st_gid = 0;
	switch (in->kind) {
	case FS_ROOT:
		virtual_stat(fs, in, st, S_IFDIR | 0555);	/* ino FUSE_ROOT_ID */
		if (fs->no_opendir)
			st->st_mtim = st->st_ctim = listing_mtime(fs);
		*timeout = fs->cfg->name_timeout;
		return 0;
	case FS_NAME:
		virtual_stat(fs, in, st, S_IFLNK | 0777);
		st->st_size = 40;
		*timeout = fs->cfg->name_timeout;
		return 0;
	case FS_HASH:
		if (fs_evict_installed(fs, in->hash) && (fd = fs_inode_hash_fd(fs, in)) >= 0) {
			if (fstatat(fd, "", st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0)
				return -errno;
			sanitize_stat(st, fs_inode_ino(fs, in));
			*timeout = FS_TREE_TIMEOUT;
			return 0;
		}
		/* Not installed yet: a placeholder directory until it is. */
		virtual_stat(fs, in, st, S_IFDIR | 0555);
		*timeout = 1.0;
		return 0;
	case FS_DEPOT:
		virtual_stat(fs, in, st, S_IFDIR | 0555);
		if (fs->no_opendir)
			st->st_mtim = st->st_ctim = listing_mtime(fs);
		*timeout = fs->cfg->name_timeout;
		return 0;
	case FS_LINK: {
		char target[PATH_MAX];
		int len = fs_lookup_link(fs, in, target, sizeof(target));

		if (len < 0)
			return len;
		virtual_stat(fs, in, st, S_IFLNK | 0777);
		st->st_size = len;
		*timeout = fs->cfg->name_timeout;
		return 0;
	}
	case FS_TREE:
		fd = fs_inode_at(fs, in, &path);
		if (fd < 0)
			return fd;
		if (fstatat(fd, path, st, AT_SYMLINK_NOFOLLOW) < 0)
			return -errno;
		sanitize_stat(st, fs_inode_ino(fs, in));
		*timeout = FS_TREE_TIMEOUT;
		return 0;
	case FS_PFILE:
		return fs_view_attr(fs, in, st, timeout);
	}
	return -EIO;
}

int fs_lookup_link(struct fs *fs, const struct fs_inode *in, char *buf, size_t size)
{
	const char *t = fetch_overrides_find(fs->overrides, in->hash);
	int len;

	if (t)
		len = snprintf(buf, size, "%s", t);
	else if (strchr(in->key, '/'))
		len = snprintf(buf, size, "../%s", in->hash);
	else
		return -ESTALE;	/* a root link is an override, and those stay */
	if (len < 0 || (size_t)len >= size)
		return -ENAMETOOLONG;
	return len;
}

/*
 * hash_known - whether the artifact hash is served: installed, or (online)
 * bound to a name, or (any_hash=) one the Pkg server has.  The last may
 * ask the server (fs_probe(): one HEAD per hash, no lock of ours held).
 */
static bool hash_known(struct fs *fs, const struct fs_names *names, const char *hash)
{
	if (fs_evict_installed(fs, hash))
		return true;
	if (fs->cfg->offline)
		return false;
	if (fs_names_find_hash(names, hash))
		return true;
	return fs->probes && fs_probe(fs->probes, hash);
}

/* fill_entry - fill e for in, just looked up. */
static void fill_entry(struct fs *fs, struct fs_inode *in, struct fuse_entry_param *e,
		       double entry_timeout)
{
	memset(e, 0, sizeof(*e));
	e->ino = fs_inode_ino(fs, in);
	fs_lookup_attr(fs, in, &e->attr, &e->attr_timeout);
	e->entry_timeout = entry_timeout;
}

/* lookup_depot - an entry of /artifacts: a known or overridden hash, a symlink. */
static int lookup_depot(struct fs *fs, const char *name, struct fuse_entry_param *e)
{
	char key[sizeof(FS_DEPOT_DIR "/") + 40];
	struct fs_names *names;
	struct fs_inode *in;
	bool known;

	memset(e, 0, sizeof(*e));
	known = fs_is_hash(name) && fetch_overrides_find(fs->overrides, name);
	if (!known && fs_is_hash(name)) {
		names = fs_reload_names(fs);
		known = hash_known(fs, names, name);
		fs_names_unref(names);
	}
	if (!known) {
		e->entry_timeout = fs->cfg->name_timeout;
		return -ENOENT;
	}
	snprintf(key, sizeof(key), FS_DEPOT_DIR "/%s", name);
	in = fs_inode_get(fs, FS_LINK, key, name, NULL);
	if (!in)
		return -ENOMEM;
	fill_entry(fs, in, e, fs->cfg->name_timeout);
	return 0;
}

int fs_lookup_root(struct fs *fs, const char *name, struct fuse_entry_param *e)
{
	struct fs_inode *in = NULL;
	const struct fs_name *n;
	struct fs_names *names;
	bool known = false;

	if (fs->cfg->depot_layout && strcmp(name, FS_DEPOT_DIR) == 0) {
		/* names.c leaves a name "artifacts" out in this layout */
		in = fs_inode_get(fs, FS_DEPOT, name, NULL, NULL);
		if (!in)
			return -ENOMEM;
		fill_entry(fs, in, e, FS_TREE_TIMEOUT);
		return 0;
	}
	if (fs_is_hash(name) && fetch_overrides_find(fs->overrides, name)) {
		/* overrides are read at start and stay: so does the link */
		in = fs_inode_get(fs, FS_LINK, name, name, NULL);
		if (!in)
			return -ENOMEM;
		fill_entry(fs, in, e, FS_TREE_TIMEOUT);
		return 0;
	}
	names = fs_reload_names(fs);
	/* A hash is always the artifact itself: no name shadows it (names.c). */
	n = fs_is_hash(name) ? NULL : fs_names_find(names, name);
	if (n) {
		in = fs_inode_get(fs, FS_NAME, name, n->hash, NULL);
		fs_park_via(fs, n->hash, name);
	} else if (fs_is_hash(name)) {
		known = hash_known(fs, names, name);
		if (known)
			in = fs_inode_get(fs, FS_HASH, name, name, NULL);
	}
	fs_names_unref(names);
	if (!in) {
		if (n || known)
			return -ENOMEM;
		/* A negative entry, cached until a reload may change the answer. */
		memset(e, 0, sizeof(*e));
		e->entry_timeout = fs->cfg->name_timeout;
		return -ENOENT;
	}
	fill_entry(fs, in, e, in->kind != FS_HASH ? fs->cfg->name_timeout :
			      fs->no_open ? FS_USE_TIMEOUT : FS_TREE_TIMEOUT);
	return 0;
}

static int lookup_tree(struct fs *fs, struct fs_inode *parent, const char *name,
			  struct fuse_entry_param *e)
{
	struct fs_inode *in, *root = parent->kind == FS_TREE ? parent->root : parent;
	struct stat st;
	const char *dir;
	char *path;
	int fd;

	memset(e, 0, sizeof(*e));
	if (fs_lookup_hidden(name)) {
		e->entry_timeout = FS_TREE_TIMEOUT;
		return -ENOENT;
	}
	fd = fs_inode_at(fs, parent, &dir);
	if (fd < 0)
		return fd;
	if (parent->kind == FS_TREE) {
		if (asprintf(&path, "%s/%s", dir, name) < 0)
			return -ENOMEM;
	} else {
		path = strdup(name);
		if (!path)
			return -ENOMEM;
	}
	if (fstatat(fd, path, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		if (errno == ENOENT) {
			/* Trees never change: a negative entry holds as long as a positive one. */
			e->entry_timeout = FS_TREE_TIMEOUT;
		}
		free(path);
		return -errno;
	}
	in = fs_inode_get(fs, FS_TREE, path, parent->hash, root);
	free(path);
	if (!in)
		return -ENOMEM;
	sanitize_stat(&st, fs_inode_ino(fs, in));
	e->ino = fs_inode_ino(fs, in);
	e->attr = st;
	e->attr_timeout = FS_TREE_TIMEOUT;
	e->entry_timeout = FS_TREE_TIMEOUT;
	return 0;
}

static void resume_lookup(struct fs_parked *p);

int fs_lookup_entry(struct fs *fs, fuse_req_t req, fuse_ino_t parent, const char *name,
		     struct fuse_entry_param *e, bool may_park)
{
	struct fs_inode *p = fs_inode_of(fs, parent);
	int r;

	switch (p->kind) {
	case FS_ROOT:
		r = fs_lookup_root(fs, name, e);
		/*
		 * No-open mode: a warm read comes from the page cache and sends
		 * nothing, so the quota's LRU order learns of a use from the
		 * kernel's lookup of /<hash>, which every path into the artifact
		 * (through a name, artifacts/<hash> or the hash) revalidates once
		 * its entry is FS_USE_TIMEOUT old.  Not from a readdirplus of the
		 * root (may_park false): ls -l of the mount uses nothing.  A
		 * process that reads on through a file or directory it holds
		 * pins the artifact instead (evict.c).
		 */
		if (r == 0 && may_park && fs->no_open &&
		    fs_inode_of(fs, e->ino)->kind == FS_HASH)
			store_touch(fs->store, fs_inode_of(fs, e->ino)->hash);
		return r;
	case FS_PFILE:
		return fs_view_lookup(fs, p, name, e);
	case FS_HASH:
		/* Not installed, per_file=on and a verified seek index: its view. */
		if (fs_view_serves(fs, p->hash))
			return fs_view_lookup(fs, p, name, e);
		/* fall through */
	case FS_TREE:
		/*
		 * Not installed yet, or (below a tree inode) the artifact went
		 * (gc, quota) under cached inodes: install it again.
		 */
		r = fs_park_unless_installed(fs, req, p->hash, may_park, resume_lookup, parent,
					     name, NULL);
		if (r != 0)
			return r;
		if (p->kind == FS_HASH)
			store_touch(fs->store, p->hash);
		return lookup_tree(fs, p, name, e);
	case FS_DEPOT:
		return lookup_depot(fs, name, e);
	case FS_NAME:
	case FS_LINK:
		return -ENOTDIR;
	}
	return -EIO;
}

void fs_lookup_reply(fuse_req_t req, int r, const struct fuse_entry_param *e)
{
	if (r == 0)
		fuse_reply_entry(req, e);
	else if (r == -ENOENT && e->entry_timeout > 0)
		fuse_reply_entry(req, e);	/* ino 0: a cacheable negative entry */
	else
		fuse_reply_err(req, -r);
}

/* A parked lookup, after the install: look up again and reply. */
static void resume_lookup(struct fs_parked *p)
{
	struct fuse_entry_param e;
	int r;

	memset(&e, 0, sizeof(e));
	r = fs_lookup_entry(p->fs, p->req, p->ino, p->name, &e, false);
	fs_lookup_reply(p->req, r, &e);
}
