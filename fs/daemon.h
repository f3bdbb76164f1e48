/*
 * daemon.h - the daemon's state, shared by main.c and ops.c (fs/ only)
 *
 * This is the one header that includes FUSE; fs.h stays FUSE-free.
 */
#ifndef ARTIFACTFS_DAEMON_H
#define ARTIFACTFS_DAEMON_H

#ifndef FUSE_USE_VERSION
#define FUSE_USE_VERSION 312
#endif
#include <fuse_lowlevel.h>

#include "fs/fs.h"

#include <sys/types.h>
#include <time.h>

enum fs_kind {
	FS_ROOT,	/* the mount point */
	FS_NAME,	/* /<name>: a symlink to the selected hash */
	FS_HASH,	/* /<hash>: an artifact's root directory */
	FS_TREE,	/* anything inside an installed artifact */
};

/*
 * One inode.  FS_NAME and FS_HASH are keyed by their name; FS_TREE by its
 * artifact's hash and its path below the artifact's root, never by the
 * store file's (st_dev, st_ino), which the filesystem gives to new files
 * once gc has removed a tree the kernel still caches (fs/ops.c,
 * inode_slot()).  Repeated lookups share one inode.
 *
 * Descriptors: only an artifact's FS_HASH inode holds one, an O_PATH
 * descriptor of <store>/artifacts/<hash>, opened on first use after the
 * install and kept until the inode goes.  A tree inode is reached through
 * it by its path below the artifact's root (key), so an artifact of 100,000
 * files costs one descriptor, not 100,000 (libfuse's passthrough_ll keeps
 * one per inode and runs into RLIMIT_NOFILE).  A tree inode holds a
 * reference (children) on its FS_HASH inode, which therefore outlives it.
 *
 * nlookup, children, the table and fd are guarded by fs->ino_lock.  fd is
 * replaced when the tree was removed and installed again (hash_dir_fd());
 * the old descriptor is buried, never closed while a thread may use it.
 */
struct fs_inode {
	struct fs_inode *next;		/* hash chain */
	enum fs_kind kind;
	uint64_t nlookup;		/* the kernel's lookup count */
	uint64_t children;		/* FS_HASH: tree inodes that reach through it */
	int fd;				/* FS_HASH: O_PATH descriptor, or -1 */
	struct fs_inode *root;		/* FS_TREE: the artifact's FS_HASH inode */
	char hash[41];			/* the artifact (FS_HASH, FS_TREE) */
	char *key;			/* name (FS_NAME), hash (FS_HASH), or path below the root (FS_TREE) */
};

struct fs_pin;

/*
 * The name through which a hash was last reached (a lookup of /<name>), so
 * that its install tries that name's sources first and logs that name.
 * A small table indexed by the hash; a slot is overwritten by a later name.
 */
#define FS_VIA_SLOTS 64
struct fs_via {
	char hash[41];
	char name[256];
};

struct fs {
	struct fs_config *cfg;
	struct store *store;
	struct platform *host;
	struct fuse_session *se;
	struct fs_flights *flights;
	struct timespec started;

	pthread_mutex_t names_lock;	/* guards the names pointer only */
	struct fs_names *names;

	pthread_mutex_t ino_lock;	/* also guards via */
	struct fs_via via[FS_VIA_SLOTS];
	struct fs_inode **ino_table;
	size_t ino_buckets;
	struct fs_inode root;

	pthread_mutex_t pin_lock;
	struct fs_pin *pins;		/* open files per artifact */
	int *graveyard;			/* superseded artifact descriptors (under ino_lock) */
	size_t n_graveyard;

	pthread_mutex_t quota_lock;	/* one eviction at a time */
};

extern const struct fuse_lowlevel_ops fs_ops;

/* fs_daemon_names - a reference to the current name snapshot; unref it. */
struct fs_names *fs_daemon_names(struct fs *fs);

/*
 * fs_daemon_pin - count open files of an artifact (delta +1 on open, -1 on
 * release); an artifact with open files is never evicted.
 */
void fs_daemon_pin(struct fs *fs, const char *hash, int delta);

/*
 * fs_daemon_inval_name - make the kernel forget what it cached of name at
 * the root: its dentry and, when the name's inode is known, its symlink
 * target (page cache).  Called by the reload for every changed name, from
 * outside any FUSE request.
 */
void fs_daemon_inval_name(struct fs *fs, const char *name);

/*
 * fs_daemon_forget_removed - after artifacts were removed from the store
 * (quota eviction, gc), make the kernel forget what it cached of them, so
 * that the next access installs them again.
 */
void fs_daemon_forget_removed(struct fs *fs);

/*
 * fs_daemon_bury_fd - keep fd open until the daemon exits: it was replaced
 * while other threads may still be using it.  Called with fs->ino_lock held.
 */
void fs_daemon_bury_fd(struct fs *fs, int fd);

/*
 * fs_daemon_enforce_quota - when the store holds more than the quota, evict
 * least-recently-used artifacts without open files down to quota_low
 * percent of it, then forget them in the kernel.  Serialised.
 */
void fs_daemon_enforce_quota(struct fs *fs);

/* fs_daemon_pinned - the number of open files of hash. */
unsigned fs_daemon_pinned(struct fs *fs, const char *hash);

/*
 * fs_install_init - the installer the flights use: the fetch pipeline with
 * the daemon's settings; the sources come with each flight's request
 * (fs_names_request()), after the Pkg server.  Returns 0 or -ENOMEM.
 */
int fs_install_init(struct fs *fs, struct fs_installer *ret);

#endif
