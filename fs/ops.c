/*
 * ops.c - the FUSE low-level operations of artifactfs
 *
 * The namespace (DESIGN.md "The mounted namespace"):
 *
 *   /            the root: one symlink per name, plus installed hashes
 *   /<name>      symlink -> <hash>, from the configured Artifacts.toml files
 *   /<hash>/     an artifact: virtual until installed, then backed by
 *                <store>/artifacts/<hash>
 *   /<hash>/...  the tree, served from the store by file descriptor
 *
 * Inodes follow libfuse's example/passthrough_ll.c: the FUSE inode number is
 * the address of a struct fs_inode, tree inodes hold an O_PATH descriptor of
 * their file in the store, lookup counts are kept under fs->ino_lock and an
 * inode is freed only by forget.  Each operation is a worker fs_do_<op>()
 * that returns -errno and a wrapper fs_<op>() that replies exactly once.
 *
 * Requests that need an artifact that is not installed (a lookup inside
 * /<hash>, an opendir of /<hash>) are parked on the hash's flight (flight.c)
 * and answered from the install worker when it finishes, so no FUSE thread
 * waits for a download.
 */
#include "fs/daemon.h"
#include "store/store.h"

#include <dirent.h>
#include <errno.h>
#include <stdatomic.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/xattr.h>
#include <linux/openat2.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Hash trees never change: the kernel may cache them for a day. */
#define TREE_TIMEOUT 86400.0

static struct fs *fs_of(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

/* --- inode table ------------------------------------------------------------ */

/*
 * The identity of an inode: FS_NAME and FS_HASH by their key; FS_TREE by
 * its artifact and its path below the artifact's root.  Never by the store
 * file's (st_dev, st_ino): gc and quota eviction delete trees while the
 * kernel still holds their inodes, and the numbers the filesystem gives
 * again to new files would then resolve to stale inodes of another path
 * (a directory answered with the inode of a regular file).  An artifact's
 * content is fixed by its hash, so (hash, path) names the same bytes in
 * every installation of it.
 */
static size_t inode_slot(const struct fs *fs, enum fs_kind kind, const char *key, const char *hash)
{
	uint64_t h = 1469598103934665603ULL;	/* FNV-1a */
	const unsigned char *p;

	if (kind == FS_TREE) {
		for (p = (const unsigned char *)hash; *p; p++)
			h = (h ^ *p) * 1099511628211ULL;
		h = (h ^ '/') * 1099511628211ULL;
	}
	for (p = (const unsigned char *)key; *p; p++)
		h = (h ^ *p) * 1099511628211ULL;
	h ^= (uint64_t)kind;
	return (size_t)(h % fs->ino_buckets);
}

static bool inode_matches(const struct fs_inode *in, enum fs_kind kind, const char *key,
			  const char *hash)
{
	if (in->kind != kind || strcmp(in->key, key) != 0)
		return false;
	return kind != FS_TREE || strcmp(in->hash, hash) == 0;
}

/*
 * inode_get - find or create the inode of (kind, key) or, for FS_TREE, of
 * (hash, key), and count one lookup.  A new FS_TREE inode
 * records key (its path below the artifact's root) and takes a reference
 * on root, the artifact's FS_HASH inode, whose directory descriptor it is
 * reached through.  Returns the inode or NULL (ENOMEM).
 */
static struct fs_inode *inode_get(struct fs *fs, enum fs_kind kind, const char *key,
				  const char *hash, struct fs_inode *root)
{
	struct fs_inode *in;
	size_t slot, klen = key ? strlen(key) : 0;

	pthread_mutex_lock(&fs->ino_lock);
	slot = inode_slot(fs, kind, key, hash);
	for (in = fs->ino_table[slot]; in; in = in->next)
		if (inode_matches(in, kind, key, hash))
			break;
	if (in) {
		in->nlookup++;
		pthread_mutex_unlock(&fs->ino_lock);
		return in;
	}
	in = calloc(1, sizeof(*in) + (key ? klen + 1 : 0));
	if (!in) {
		pthread_mutex_unlock(&fs->ino_lock);
		return NULL;
	}
	in->kind = kind;
	in->nlookup = 1;
	in->fd = -1;
	if (hash)
		memcpy(in->hash, hash, 40);
	if (key) {
		in->key = (char *)(in + 1);
		memcpy(in->key, key, klen + 1);
	}
	if (root) {
		in->root = root;
		root->children++;
	}
	in->next = fs->ino_table[slot];
	fs->ino_table[slot] = in;
	pthread_mutex_unlock(&fs->ino_lock);
	return in;
}

static struct fs_inode *inode_of(struct fs *fs, fuse_ino_t ino)
{
	if (ino == FUSE_ROOT_ID)
		return &fs->root;
	return (struct fs_inode *)(uintptr_t)ino;
}

static fuse_ino_t ino_of(const struct fs *fs, const struct fs_inode *in)
{
	return in == &fs->root ? FUSE_ROOT_ID : (fuse_ino_t)(uintptr_t)in;
}

/* Unlink in from the table and free it; called with fs->ino_lock held. */
static void inode_free_locked(struct fs *fs, struct fs_inode *in)
{
	struct fs_inode **pp;
	size_t slot;

	slot = inode_slot(fs, in->kind, in->key, in->hash);
	for (pp = &fs->ino_table[slot]; *pp; pp = &(*pp)->next)
		if (*pp == in) {
			*pp = in->next;
			break;
		}
	if (in->fd >= 0)
		close(in->fd);
	free(in);
}

/*
 * inode_unref - forget n lookups.  An inode goes when the kernel has
 * forgotten it and, for an artifact's FS_HASH inode, when no tree inode
 * still needs its directory descriptor.
 */
static void inode_unref(struct fs *fs, struct fs_inode *in, uint64_t n)
{
	struct fs_inode *root;

	if (in == &fs->root)
		return;
	pthread_mutex_lock(&fs->ino_lock);
	if (in->nlookup < n) {
		fs_log(FS_LOG_WARNING, "forget of %" PRIu64 " exceeds lookup count %" PRIu64, n,
		       in->nlookup);
		n = in->nlookup;
	}
	in->nlookup -= n;
	if (in->nlookup > 0 || in->children > 0) {
		pthread_mutex_unlock(&fs->ino_lock);
		return;
	}
	root = in->root;
	inode_free_locked(fs, in);
	if (root && --root->children == 0 && root->nlookup == 0)
		inode_free_locked(fs, root);
	pthread_mutex_unlock(&fs->ino_lock);
}

/*
 * hash_dir_fd - the O_PATH descriptor of an installed artifact's tree, opened
 * on first use and kept by its FS_HASH inode.  When the tree was removed
 * since (gc, quota eviction: the directory's link count is 0) it is opened
 * again, for the artifact may have been installed anew; the old descriptor
 * goes to the graveyard, never closed while another thread may still use
 * it.  Returns -ENOENT while the artifact is not installed.
 */
static int hash_dir_fd(struct fs *fs, struct fs_inode *in)
{
	char path[4096];
	struct stat st;
	int fd, old, r;

	pthread_mutex_lock(&fs->ino_lock);
	old = in->fd;
	pthread_mutex_unlock(&fs->ino_lock);
	if (old >= 0 && fstat(old, &st) == 0 && st.st_nlink > 0)
		return old;
	r = store_path(fs->store, in->hash, path, sizeof(path));
	if (r < 0)
		return r;
	fd = open(path, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	pthread_mutex_lock(&fs->ino_lock);
	if (in->fd == old) {
		if (old >= 0)
			fs_daemon_bury_fd(fs, old);
		in->fd = fd;
	} else {
		close(fd);
		fd = in->fd;
	}
	pthread_mutex_unlock(&fs->ino_lock);
	return fd;
}

/*
 * node_at - where a tree or artifact inode lives in the store: a directory
 * descriptor (the artifact's root) and a path below it ("." for the root).
 * Every component of the path was found by a lookup in a directory the
 * kernel resolved, and trees never change, so the path holds no symlink
 * but, perhaps, its last component; opens still refuse symlinks on the way
 * (open_beneath()).
 */
static int node_at(struct fs *fs, struct fs_inode *in, const char **path)
{
	if (in->kind == FS_TREE) {
		*path = in->key;
		return hash_dir_fd(fs, in->root);
	}
	*path = ".";
	return hash_dir_fd(fs, in);
}

/*
 * open_beneath - open path below dirfd with openat2(2), never leaving dirfd
 * and never following a symlink on the way: a second guard beside the
 * unpacker's checks, so that even a tampered store cannot make the daemon
 * serve a file outside the artifact.
 */
static int open_beneath(int dirfd, const char *path, int flags)
{
	static atomic_bool no_openat2;
	struct open_how how = {
		.flags = (uint64_t)(flags | O_NOFOLLOW | O_CLOEXEC),
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
	};
	long fd;

	if (!atomic_load(&no_openat2)) {
		fd = syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
		if (fd >= 0)
			return (int)fd;
		if (errno != ENOSYS && errno != EPERM)
			return -errno;
		/*
		 * No openat2 (Linux < 5.6, valgrind, a seccomp filter): the path's
		 * components were each looked up as directories of an immutable
		 * tree, so plain openat with O_NOFOLLOW for the last one is safe.
		 */
		atomic_store(&no_openat2, true);
	}
	fd = openat(dirfd, path, flags | O_NOFOLLOW | O_CLOEXEC);
	return fd < 0 ? -errno : (int)fd;
}

/* --- attributes ---------------------------------------------------------------- */

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

/*
 * artifact_installed - whether hash is installed: its index row says so and
 * its tree is in the store.  The first access that finds the tree removed
 * by hand (rm -rf STORE/artifacts/HASH) logs it and drops the row under the
 * install lock (store_drop_missing()), so that the caller parks the request
 * and the flight installs the artifact again.
 */
static bool artifact_installed(struct fs *fs, const char *hash)
{
	struct store_info info;
	char path[4096];
	struct stat st;
	int r;

	if (store_lookup(fs->store, hash, &info) < 0)
		return false;
	store_info_release(&info);
	if (info.state != STORE_INSTALLED)
		return false;
	if (store_path(fs->store, hash, path, sizeof(path)) < 0 || lstat(path, &st) == 0 ||
	    errno != ENOENT)
		return true;
	r = store_drop_missing(fs->store, hash);
	if (r > 0)
		fs_log(FS_LOG_WARNING, "artifact %s is in the index but '%s' is missing: "
		       "row dropped, it will be installed again", hash, path);
	else if (r < 0 && r != -EBUSY)
		fs_log(FS_LOG_ERR, "artifact %s: '%s' is missing and its row cannot be "
		       "dropped: %s", hash, path, strerror(-r));
	return false;
}

/*
 * Entries named .git are left out of every artifact directory: the tree hash
 * skips them (Julia's rule), so nothing vouches for what they hold.
 */
static bool hidden_name(const char *name)
{
	return strcmp(name, ".git") == 0;
}

/* Remember that hash was reached through name (struct fs_via). */
static void via_note(struct fs *fs, const char *hash, const char *name)
{
	struct fs_via *v = &fs->via[inode_slot(fs, FS_HASH, hash, NULL) % FS_VIA_SLOTS];

	pthread_mutex_lock(&fs->ino_lock);
	memcpy(v->hash, hash, 41);
	snprintf(v->name, sizeof(v->name), "%s", name);
	pthread_mutex_unlock(&fs->ino_lock);
}

/* The name hash was last reached through, into name (256 bytes), or "". */
static void via_get(struct fs *fs, const char *hash, char *name)
{
	struct fs_via *v = &fs->via[inode_slot(fs, FS_HASH, hash, NULL) % FS_VIA_SLOTS];

	pthread_mutex_lock(&fs->ino_lock);
	if (strcmp(v->hash, hash) == 0)
		memcpy(name, v->name, sizeof(v->name));
	else
		name[0] = '\0';
	pthread_mutex_unlock(&fs->ino_lock);
}

static int do_getattr(struct fs *fs, struct fs_inode *in, struct stat *st, double *timeout)
{
	const char *path;
	int fd;

	memset(st, 0, sizeof(*st));
	st->st_uid = 0;
	st->st_gid = 0;
	switch (in->kind) {
	case FS_ROOT:
		st->st_mode = S_IFDIR | 0555;
		st->st_nlink = 2;
		st->st_mtim = fs->started;
		st->st_ctim = fs->started;
		st->st_atim = fs->started;
		st->st_ino = FUSE_ROOT_ID;
		*timeout = fs->cfg->name_timeout;
		return 0;
	case FS_NAME:
		st->st_mode = S_IFLNK | 0777;
		st->st_nlink = 1;
		st->st_size = 40;
		st->st_mtim = fs->started;
		st->st_ctim = fs->started;
		st->st_atim = fs->started;
		st->st_ino = ino_of(fs, in);
		*timeout = fs->cfg->name_timeout;
		return 0;
	case FS_HASH:
		if (artifact_installed(fs, in->hash) && (fd = hash_dir_fd(fs, in)) >= 0) {
			if (fstatat(fd, "", st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0)
				return -errno;
			sanitize_stat(st, ino_of(fs, in));
			*timeout = TREE_TIMEOUT;
			return 0;
		}
		/* Not installed yet: a placeholder directory until it is. */
		st->st_mode = S_IFDIR | 0555;
		st->st_nlink = 2;
		st->st_mtim = fs->started;
		st->st_ctim = fs->started;
		st->st_atim = fs->started;
		st->st_ino = ino_of(fs, in);
		*timeout = 1.0;
		return 0;
	case FS_TREE:
		fd = node_at(fs, in, &path);
		if (fd < 0)
			return fd;
		if (fstatat(fd, path, st, AT_SYMLINK_NOFOLLOW) < 0)
			return -errno;
		sanitize_stat(st, ino_of(fs, in));
		*timeout = TREE_TIMEOUT;
		return 0;
	}
	return -EIO;
}

static void fs_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs *fs = fs_of(req);
	struct stat st;
	double timeout;
	int r;

	r = do_getattr(fs, inode_of(fs, ino), &st, &timeout);
	if (r < 0)
		fuse_reply_err(req, -r);
	else
		fuse_reply_attr(req, &st, timeout);
}

/* --- lookup ------------------------------------------------------------------- */

/*
 * A parked request: what to run again once the artifact is installed.
 */
enum parked_op { PARK_LOOKUP, PARK_OPENDIR, PARK_OPEN };

struct parked {
	struct fs *fs;
	fuse_req_t req;
	enum parked_op op;
	fuse_ino_t parent;
	struct fuse_file_info fi;
	char name[];
};

static int do_lookup_root(struct fs *fs, const char *name, struct fuse_entry_param *e)
{
	struct fs_inode *in = NULL;
	const struct fs_name *n;
	struct fs_names *names;
	bool known = false;

	names = fs_daemon_names(fs);
	/* A hash is always the artifact itself: no name shadows it (names.c). */
	n = fs_is_hash(name) ? NULL : fs_names_find(names, name);
	if (n) {
		in = inode_get(fs, FS_NAME, name, n->hash, NULL);
		via_note(fs, n->hash, name);
	} else if (fs_is_hash(name)) {
		if (artifact_installed(fs, name))
			known = true;
		else if (!fs->cfg->offline && fs_names_find_hash(names, name))
			known = true;
		if (known)
			in = inode_get(fs, FS_HASH, name, name, NULL);
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
	memset(e, 0, sizeof(*e));
	e->ino = ino_of(fs, in);
	do_getattr(fs, in, &e->attr, &e->attr_timeout);
	e->entry_timeout = in->kind == FS_HASH ? TREE_TIMEOUT : fs->cfg->name_timeout;
	return 0;
}

static int do_lookup_tree(struct fs *fs, struct fs_inode *parent, const char *name,
			  struct fuse_entry_param *e)
{
	struct fs_inode *in, *root = parent->kind == FS_TREE ? parent->root : parent;
	struct stat st;
	const char *dir;
	char *path;
	int fd;

	memset(e, 0, sizeof(*e));
	if (hidden_name(name)) {
		e->entry_timeout = TREE_TIMEOUT;
		return -ENOENT;
	}
	fd = node_at(fs, parent, &dir);
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
			e->entry_timeout = TREE_TIMEOUT;
		}
		free(path);
		return -errno;
	}
	in = inode_get(fs, FS_TREE, path, parent->hash, root);
	free(path);
	if (!in)
		return -ENOMEM;
	sanitize_stat(&st, ino_of(fs, in));
	e->ino = ino_of(fs, in);
	e->attr = st;
	e->attr_timeout = TREE_TIMEOUT;
	e->entry_timeout = TREE_TIMEOUT;
	return 0;
}

static void park_done(void *arg, int err);
static int do_open(struct fs *fs, fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi,
		   bool may_park);

/*
 * Interrupts of parked requests.  A reader that gets a signal while its
 * request waits for an install must get EINTR at once (a SIGKILLed process
 * otherwise stays in D state until the install ends), while the install
 * goes on for the others.  libfuse calls park_interrupt() on another
 * thread, with the request held, when the kernel sends FUSE_INTERRUPT; the
 * request is identified by its address, which no other live request has.
 *
 * The callback is registered before the request is queued on the flight:
 * once queued, a worker may answer it and libfuse free it at any moment, so
 * park() must not touch it afterwards.  An interrupt that comes between the
 * registration and the queueing would find nothing to cancel; park_lock
 * closes that window: park() checks fuse_req_interrupted() and queues under
 * it, and park_interrupt() cancels under it, so one of them sees the other.
 * Lock order: park_lock, then the flights' lock.
 */
static pthread_mutex_t park_lock = PTHREAD_MUTEX_INITIALIZER;

static void park_interrupt(fuse_req_t req, void *data)
{
	struct fs *fs = data;
	void *p = NULL;
	int r;

	pthread_mutex_lock(&park_lock);
	r = fs_flight_cancel(fs->flights, req, &p);
	pthread_mutex_unlock(&park_lock);
	if (r == 1) {
		fs_log(FS_LOG_DEBUG, "a request waiting for an install was interrupted");
		fuse_reply_err(req, EINTR);
		free(p);
	}
}

/*
 * park - queue req until in's artifact is installed.  Returns 0 when parked
 * (the reply comes later), or -errno to reply now (-EINTR when the request
 * was interrupted already).
 */
static int park(struct fs *fs, fuse_req_t req, enum parked_op op, fuse_ino_t parent,
		const char *name, const struct fuse_file_info *fi, const char *hash)
{
	struct fs_install_req *ir = NULL;
	struct fs_names *names;
	struct parked *p;
	char via[256];
	size_t len = name ? strlen(name) : 0;
	int r;

	if (fs->cfg->offline)
		return -EIO;
	/* What the install needs travels with the flight (fs_names_request()). */
	via_get(fs, hash, via);
	names = fs_daemon_names(fs);
	r = fs_names_request(names, hash, via[0] ? via : NULL, &ir);
	fs_names_unref(names);
	if (r < 0)
		return r;
	p = calloc(1, sizeof(*p) + len + 1);
	if (!p) {
		fs_install_req_free(ir);
		return -ENOMEM;
	}
	p->fs = fs;
	p->req = req;
	p->op = op;
	p->parent = parent;
	if (fi)
		p->fi = *fi;
	if (name)
		memcpy(p->name, name, len + 1);
	fuse_req_interrupt_func(req, park_interrupt, fs);
	pthread_mutex_lock(&park_lock);
	if (fuse_req_interrupted(req)) {
		fs_install_req_free(ir);	/* fs_flight_wait_req() would have taken it */
		r = -EINTR;
	} else {
		r = fs_flight_wait_req(fs->flights, hash, req, ir, park_done, p);
	}
	pthread_mutex_unlock(&park_lock);
	if (r < 0) {
		fuse_req_interrupt_func(req, NULL, NULL);
		free(p);
	}
	return r;
}

/*
 * do_lookup - the worker of lookup.  Returns 0 with *e filled, 1 when the
 * request was parked, or -errno (with e->entry_timeout set for a negative
 * entry the kernel may cache).
 */
static int do_lookup(struct fs *fs, fuse_req_t req, fuse_ino_t parent, const char *name,
		     struct fuse_entry_param *e, bool may_park)
{
	struct fs_inode *p = inode_of(fs, parent);
	int r;

	switch (p->kind) {
	case FS_ROOT:
		return do_lookup_root(fs, name, e);
	case FS_HASH:
		if (!artifact_installed(fs, p->hash)) {
			if (!may_park)
				return -EIO;
			r = park(fs, req, PARK_LOOKUP, parent, name, NULL, p->hash);
			return r < 0 ? r : 1;
		}
		store_touch(fs->store, p->hash);
		return do_lookup_tree(fs, p, name, e);
	case FS_TREE:
		/* The artifact went (gc, quota) under cached inodes: install it again. */
		if (!artifact_installed(fs, p->hash)) {
			if (!may_park)
				return -EIO;
			r = park(fs, req, PARK_LOOKUP, parent, name, NULL, p->hash);
			return r < 0 ? r : 1;
		}
		return do_lookup_tree(fs, p, name, e);
	case FS_NAME:
		return -ENOTDIR;
	}
	return -EIO;
}

static void reply_lookup(fuse_req_t req, int r, const struct fuse_entry_param *e)
{
	if (r == 0)
		fuse_reply_entry(req, e);
	else if (r == -ENOENT && e->entry_timeout > 0)
		fuse_reply_entry(req, e);	/* ino 0: a cacheable negative entry */
	else
		fuse_reply_err(req, -r);
}

static void fs_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fuse_entry_param e;
	int r;

	memset(&e, 0, sizeof(e));
	r = do_lookup(fs_of(req), req, parent, name, &e, true);
	if (r != 1)
		reply_lookup(req, r, &e);
}

void fs_daemon_forget_removed(struct fs *fs)
{
	struct gone {
		fuse_ino_t ino;
		char hash[41];
	} *gone = NULL, *ng;
	struct fs_inode *in;
	size_t i, n = 0, cap = 0;

	pthread_mutex_lock(&fs->ino_lock);
	for (i = 0; i < fs->ino_buckets; i++)
		for (in = fs->ino_table[i]; in; in = in->next) {
			if (in->kind != FS_HASH || in->fd < 0)
				continue;
			if (n == cap) {
				cap = cap ? 2 * cap : 16;
				ng = realloc(gone, cap * sizeof(*gone));
				if (!ng)
					break;
				gone = ng;
			}
			gone[n].ino = ino_of(fs, in);
			memcpy(gone[n].hash, in->hash, 41);
			n++;
		}
	pthread_mutex_unlock(&fs->ino_lock);
	/*
	 * Outside the lock (the kernel may call back): for every artifact that
	 * is no longer installed, drop the dentry of /<hash> (and with it the
	 * cached subtree) and the cached attributes, so that the next access
	 * looks it up again and installs it.
	 */
	for (i = 0; i < n; i++) {
		if (artifact_installed(fs, gone[i].hash))
			continue;
		fuse_lowlevel_notify_inval_entry(fs->se, FUSE_ROOT_ID, gone[i].hash, 40);
		fuse_lowlevel_notify_inval_inode(fs->se, gone[i].ino, 0, 0);
	}
	free(gone);
}

void fs_daemon_inval_name(struct fs *fs, const char *name)
{
	struct fs_inode *in;
	fuse_ino_t ino = 0;
	size_t slot;

	pthread_mutex_lock(&fs->ino_lock);
	slot = inode_slot(fs, FS_NAME, name, NULL);
	for (in = fs->ino_table[slot]; in; in = in->next)
		if (inode_matches(in, FS_NAME, name, NULL))
			ino = ino_of(fs, in);
	pthread_mutex_unlock(&fs->ino_lock);
	/*
	 * Outside the lock: the kernel may call back into the filesystem.  If
	 * the inode was forgotten meanwhile the kernel no longer knows the
	 * number and ignores the call.
	 */
	fuse_lowlevel_notify_inval_entry(fs->se, FUSE_ROOT_ID, name, strlen(name));
	if (ino)
		fuse_lowlevel_notify_inval_inode(fs->se, ino, 0, 0);
}

static void fs_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	struct fs *fs = fs_of(req);

	inode_unref(fs, inode_of(fs, ino), nlookup);
	fuse_reply_none(req);
}

static void fs_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets)
{
	struct fs *fs = fs_of(req);
	size_t i;

	for (i = 0; i < count; i++)
		inode_unref(fs, inode_of(fs, forgets[i].ino), forgets[i].nlookup);
	fuse_reply_none(req);
}

static void fs_readlink(fuse_req_t req, fuse_ino_t ino)
{
	struct fs *fs = fs_of(req);
	struct fs_inode *in = inode_of(fs, ino);
	const struct fs_name *n;
	struct fs_names *names;
	char buf[PATH_MAX + 1];
	const char *path;
	ssize_t len;
	int fd;

	if (in->kind == FS_NAME) {
		names = fs_daemon_names(fs);
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
	if (in->kind != FS_TREE) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	fd = node_at(fs, in, &path);
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

/* --- directories ----------------------------------------------------------------- */

/*
 * An open directory.  Tree directories read the store directory through a
 * DIR stream; the root is a snapshot of names and installed hashes taken
 * at opendir, so a reload never changes a listing in progress.
 */
struct dir_handle {
	DIR *dp;
	struct dirent *entry;
	off_t offset;
	/* the root snapshot */
	char **names;
	unsigned char *types;
	size_t n, cap;
};

static int snapshot_add(struct dir_handle *d, const char *name, unsigned char type)
{
	char **nn;
	unsigned char *nt;

	if (d->n == d->cap) {
		d->cap = d->cap ? 2 * d->cap : 64;
		nn = realloc(d->names, d->cap * sizeof(*nn));
		if (!nn)
			return -ENOMEM;
		d->names = nn;
		nt = realloc(d->types, d->cap);
		if (!nt)
			return -ENOMEM;
		d->types = nt;
	}
	d->names[d->n] = strdup(name);
	if (!d->names[d->n])
		return -ENOMEM;
	d->types[d->n++] = type;
	return 0;
}

static int snapshot_installed(const char *hash, const struct store_info *info, void *arg)
{
	struct dir_handle *d = arg;

	if (info->state != STORE_INSTALLED)
		return 0;
	return snapshot_add(d, hash, DT_DIR);
}

static void dir_free(struct dir_handle *d)
{
	size_t i;

	if (!d)
		return;
	if (d->dp)
		closedir(d->dp);
	for (i = 0; i < d->n; i++)
		free(d->names[i]);
	free(d->names);
	free(d->types);
	free(d);
}

static int do_opendir(struct fs *fs, fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi,
		      bool may_park)
{
	struct fs_inode *in = inode_of(fs, ino);
	struct dir_handle *d;
	struct fs_names *names;
	const char *path;
	size_t i;
	int fd = -1, r;

	if (in->kind == FS_NAME)
		return -ENOTDIR;
	if ((in->kind == FS_HASH || in->kind == FS_TREE) && !artifact_installed(fs, in->hash)) {
		if (!may_park)
			return -EIO;
		r = park(fs, req, PARK_OPENDIR, ino, NULL, fi, in->hash);
		return r < 0 ? r : 1;
	}
	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	if (in->kind == FS_ROOT) {
		r = snapshot_add(d, ".", DT_DIR);
		if (r == 0)
			r = snapshot_add(d, "..", DT_DIR);
		names = fs_daemon_names(fs);
		for (i = 0; r == 0 && i < fs_names_count(names); i++)
			r = snapshot_add(d, fs_names_at(names, i)->name, DT_LNK);
		fs_names_unref(names);
		if (r == 0)
			r = store_foreach(fs->store, snapshot_installed, d);
		if (r < 0)
			goto fail;
	} else {
		if (in->kind == FS_HASH)
			store_touch(fs->store, in->hash);
		r = node_at(fs, in, &path);
		if (r < 0)
			goto fail;
		fd = open_beneath(r, path, O_RDONLY | O_DIRECTORY);
		if (fd < 0) {
			r = fd;
			goto fail;
		}
		d->dp = fdopendir(fd);
		if (!d->dp) {
			r = -errno;
			close(fd);
			goto fail;
		}
	}
	fi->fh = (uint64_t)(uintptr_t)d;
	fi->keep_cache = in->kind != FS_ROOT;
	fi->cache_readdir = in->kind != FS_ROOT;
	return 0;
fail:
	dir_free(d);
	return r;
}

/*
 * ENOSYS from open or opendir tells the kernel that the filesystem needs no
 * open at all (zero-message open): it would then read without a handle.
 * A failure of ours that happens to be ENOSYS is an I/O error.
 */
static int open_errno(int r)
{
	return r == -ENOSYS ? EIO : -r;
}

static void fs_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	int r = do_opendir(fs_of(req), req, ino, fi, true);

	if (r == 0)
		fuse_reply_open(req, fi);
	else if (r < 0)
		fuse_reply_err(req, open_errno(r));
}

static void park_done(void *arg, int err)
{
	struct parked *p = arg;
	struct fuse_entry_param e;
	int r;

	if (err < 0) {
		fuse_reply_err(p->req, -err);	/* EIO, or EFBIG over the quota */
	} else if (p->op == PARK_OPEN) {
		r = do_open(p->fs, p->req, p->parent, &p->fi, false);
		if (r == 0)
			fuse_reply_open(p->req, &p->fi);
		else
			fuse_reply_err(p->req, open_errno(r));
	} else if (p->op == PARK_LOOKUP) {
		memset(&e, 0, sizeof(e));
		r = do_lookup(p->fs, p->req, p->parent, p->name, &e, false);
		reply_lookup(p->req, r, &e);
	} else {
		r = do_opendir(p->fs, p->req, p->parent, &p->fi, false);
		if (r == 0)
			fuse_reply_open(p->req, &p->fi);
		else
			fuse_reply_err(p->req, open_errno(r));
	}
	free(p);
}

static struct dir_handle *dir_of(struct fuse_file_info *fi)
{
	return (struct dir_handle *)(uintptr_t)fi->fh;
}

/*
 * The shared body of readdir and readdirplus.  For plus, each entry but "."
 * and ".." is looked up (counting a lookup, as the kernel expects), exactly
 * as libfuse's passthrough_ll does.
 */
static void do_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t offset,
		       struct fuse_file_info *fi, bool plus)
{
	struct fs *fs = fs_of(req);
	struct dir_handle *d = dir_of(fi);
	struct fuse_entry_param e;
	char *buf, *p;
	size_t rem = size, len;
	const char *name;
	unsigned char type;
	off_t next;
	int r = 0;

	if (!d) {	/* no handle: cannot happen unless an opendir was skipped */
		fuse_reply_err(req, EIO);
		return;
	}
	buf = calloc(1, size);
	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	p = buf;
	if (!d->dp) {
		for (next = offset; (size_t)next < d->n; next++) {
			name = d->names[next];
			type = d->types[next];
			memset(&e, 0, sizeof(e));
			e.attr.st_mode = (mode_t)type << 12;
			e.attr.st_ino = FUSE_ROOT_ID;
			if (plus && strcmp(name, ".") != 0 && strcmp(name, "..") != 0) {
				r = do_lookup_root(fs, name, &e);
				if (r == -ENOENT) {
					r = 0;
					continue;	/* gone since the snapshot */
				}
				if (r < 0)
					break;
				len = fuse_add_direntry_plus(req, p, rem, name, &e, next + 1);
			} else if (plus) {
				len = fuse_add_direntry_plus(req, p, rem, name, &e, next + 1);
			} else {
				len = fuse_add_direntry(req, p, rem, name, &e.attr, next + 1);
			}
			if (len > rem) {
				if (plus && e.ino)
					inode_unref(fs, inode_of(fs, e.ino), 1);
				break;
			}
			p += len;
			rem -= len;
		}
		goto reply;
	}

	if (offset != d->offset) {
		seekdir(d->dp, offset);
		d->entry = NULL;
		d->offset = offset;
	}
	for (;;) {
		if (!d->entry) {
			errno = 0;
			d->entry = readdir(d->dp);
			if (!d->entry) {
				if (errno)
					r = -errno;
				break;
			}
		}
		next = d->entry->d_off;
		name = d->entry->d_name;
		if (hidden_name(name)) {
			d->entry = NULL;
			d->offset = next;
			continue;
		}
		memset(&e, 0, sizeof(e));
		e.attr.st_ino = d->entry->d_ino;
		e.attr.st_mode = (mode_t)d->entry->d_type << 12;
		if (plus && strcmp(name, ".") != 0 && strcmp(name, "..") != 0) {
			r = do_lookup(fs, req, ino, name, &e, false);
			if (r < 0)
				break;
			len = fuse_add_direntry_plus(req, p, rem, name, &e, next);
		} else if (plus) {
			len = fuse_add_direntry_plus(req, p, rem, name, &e, next);
		} else {
			len = fuse_add_direntry(req, p, rem, name, &e.attr, next);
		}
		if (len > rem) {
			if (plus && e.ino)
				inode_unref(fs, inode_of(fs, e.ino), 1);
			break;
		}
		p += len;
		rem -= len;
		d->entry = NULL;
		d->offset = next;
	}
reply:
	/* An error after some entries were added is reported on the next call. */
	if (r < 0 && rem == size)
		fuse_reply_err(req, -r);
	else
		fuse_reply_buf(req, buf, size - rem);
	free(buf);
}

static void fs_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t offset,
		       struct fuse_file_info *fi)
{
	do_readdir(req, ino, size, offset, fi, false);
}

static void fs_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t offset,
			   struct fuse_file_info *fi)
{
	do_readdir(req, ino, size, offset, fi, true);
}

static void fs_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	dir_free(dir_of(fi));
	fuse_reply_err(req, 0);
}

/* --- files --------------------------------------------------------------------- */

static int do_open(struct fs *fs, fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi,
		   bool may_park)
{
	struct fs_inode *in = inode_of(fs, ino);
	const char *path;
	int fd, r;

	if ((fi->flags & O_ACCMODE) != O_RDONLY || (fi->flags & (O_TRUNC | O_CREAT)))
		return -EROFS;
	if (in->kind != FS_TREE)
		return -EISDIR;
	if (!artifact_installed(fs, in->hash)) {
		/* gone since the lookup (gc, quota): install it again */
		if (!may_park)
			return -EIO;
		r = park(fs, req, PARK_OPEN, ino, NULL, fi, in->hash);
		return r < 0 ? r : 1;
	}
	fd = node_at(fs, in, &path);
	if (fd >= 0)
		fd = open_beneath(fd, path, O_RDONLY);
	if (fd < 0)
		return fd;
	fs_daemon_pin(fs, in->hash, 1);
	fi->fh = (uint64_t)fd;
	fi->keep_cache = 1;	/* the bytes of a hash tree never change */
	fi->noflush = 1;
	store_touch(fs->store, in->hash);
	return 0;
}

static void fs_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	int r = do_open(fs_of(req), req, ino, fi, true);

	if (r == 0)
		fuse_reply_open(req, fi);
	else if (r < 0)
		fuse_reply_err(req, open_errno(r));
}

static void fs_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	struct fuse_bufvec buf = FUSE_BUFVEC_INIT(size);

	buf.buf[0].flags = FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK;
	buf.buf[0].fd = (int)fi->fh;
	buf.buf[0].pos = off;
	fuse_reply_data(req, &buf, FUSE_BUF_SPLICE_MOVE);
}

static void fs_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs *fs = fs_of(req);

	close((int)fi->fh);
	fs_daemon_pin(fs, inode_of(fs, ino)->hash, -1);
	fuse_reply_err(req, 0);
}

static void fs_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct fs *fs = fs_of(req);
	struct statvfs sv;

	if (statvfs(store_dir(fs->store), &sv) < 0) {
		fuse_reply_err(req, errno);
		return;
	}
	sv.f_flag |= ST_RDONLY;
	fuse_reply_statfs(req, &sv);
}

/* --- extended attributes on artifact directories ----------------------------------- */

static const char *const xattr_names[] = {
	"user.artifactfs.hash", "user.artifactfs.state", "user.artifactfs.source",
	"user.artifactfs.size",
};

static int xattr_value(struct fs *fs, struct fs_inode *in, const char *name, char *buf,
		       size_t size)
{
	struct fs_install_req *ir = NULL;
	struct store_info info;
	struct fs_names *names;
	const char *state;
	char via[256];
	int r, len = -ENODATA;

	if (in->kind != FS_HASH)
		return -ENODATA;
	/* First: a tree removed by hand drops its row, so it is not "installed". */
	artifact_installed(fs, in->hash);
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
			via_get(fs, in->hash, via);
			names = fs_daemon_names(fs);
			if (fs_names_request(names, in->hash, via[0] ? via : NULL, &ir) == 0 &&
			    ir->n_sources)
				len = snprintf(buf, size, "%s", ir->sources[0].url);
			fs_names_unref(names);
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

static void fs_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
	struct fs *fs = fs_of(req);
	char buf[4096];
	int len;

	len = xattr_value(fs, inode_of(fs, ino), name, buf, sizeof(buf));
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
static void fs_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	struct fs *fs = fs_of(req);
	struct fs_inode *in = inode_of(fs, ino);
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
	 * name's is invalidated when a reload changes it (fs_daemon_inval_name).
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
	.opendir = fs_opendir,
	.readdir = fs_readdir,
	.readdirplus = fs_readdirplus,
	.releasedir = fs_releasedir,
	.open = fs_open,
	.read = fs_read,
	.release = fs_release,
	.statfs = fs_statfs,
	.getxattr = fs_getxattr,
	.listxattr = fs_listxattr,
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
