/*
 * daemon.h - the daemon's state and the interfaces between the FUSE files
 * of fs/ (fs/ only)
 *
 * This is the one header that includes FUSE; fs.h stays FUSE-free.  Each
 * file of the daemon does one job and exports one prefix; the calls between
 * them go one way (doc/internals/fs.md):
 *
 *   main.c    main and the options                         (no exports)
 *   control.c the control socket: status, metrics, reload   fs_control_*
 *   manage.c  the socket's evict, wipe, prefetch, sources   fs_manage_*
 *   ops.c     the FUSE operations table, the ops left      fs_ops
 *   dir.c     opendir, readdir(plus), releasedir           fs_dir_*
 *   xattr.c   getxattr, listxattr                          fs_xattr_*
 *   lookup.c  lookups and attributes                       fs_lookup_*
 *   view.c    artifacts served per file (per_file=on)      fs_view_*
 *   park.c    requests waiting for an install              fs_park_*
 *   reload.c  the name snapshot, SIGHUP and inotify        fs_reload_*
 *   install.c the installer of the flights                 fs_install_*
 *   evict.c   open-file pins, quota, removed artifacts     fs_evict_*
 *   inode.c   the inode table and the descriptor graveyard fs_inode_*
 *
 * A file calls only files below it in this table (and the FUSE-free
 * ones of fs.h: names.c, flight.c, stats.c, config.c, log.c), so the calls between
 * fs/ files form no circle; a function pointer handed over as a callback
 * (the ops table, a parked request's resume, the flights' installer) is no
 * call.
 */
#ifndef ARTIFACTFS_DAEMON_H
#define ARTIFACTFS_DAEMON_H

#ifndef FUSE_USE_VERSION
#define FUSE_USE_VERSION 312
#endif
#include <fuse_lowlevel.h>

#include "fs/fs.h"
#include "fetch/fetch.h"
#include "fetch/overrides.h"

#include <errno.h>
#include <sys/types.h>
#include <time.h>

/* Hash trees never change: the kernel may cache them for a day (seconds). */
#define FS_TREE_TIMEOUT 86400.0

/*
 * In no-open mode, how long the kernel may keep the entry of /<hash>
 * (seconds): a path into the artifact then reaches the daemon at least this
 * often, as the use the quota's least-recently-used order sees (lookup.c).
 */
#define FS_USE_TIMEOUT 1.0

enum fs_kind {
	FS_ROOT,	/* the mount point */
	FS_NAME,	/* /<name>: a symlink to the selected hash */
	FS_HASH,	/* /<hash>: an artifact's root directory */
	FS_TREE,	/* anything inside an installed artifact */
	FS_DEPOT,	/* /artifacts (depot_layout=on): a directory of <hash> entries */
	FS_LINK,	/* /artifacts/<hash> -> ../<hash>, or an overridden /<hash> or
			 * /artifacts/<hash> -> its override (lookup.c) */
	FS_PFILE,	/* anything inside an artifact served per file from its seek
			 * index (view.c, per_file=on), keyed like FS_TREE by (hash,
			 * path) but a kind of its own: never the same inode as the
			 * installed tree's */
};

/* The name of the FS_DEPOT directory at the root, as in a Julia depot. */
#define FS_DEPOT_DIR "artifacts"

/*
 * One inode.  FS_NAME and FS_HASH are keyed by their name; FS_TREE by its
 * artifact's hash and its path below the artifact's root, never by the
 * store file's (st_dev, st_ino), which the filesystem gives to new files
 * once gc has removed a tree the kernel still caches (inode.c).  Repeated
 * lookups share one inode.
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
 * replaced when the tree was removed and installed again
 * (fs_inode_hash_fd()); the old descriptor is buried, never closed while a
 * thread may use it.
 */
struct fs_inode {
	struct fs_inode *next;		/* hash chain */
	enum fs_kind kind;
	uint64_t nlookup;		/* the kernel's lookup count */
	uint64_t children;		/* FS_HASH: tree inodes that reach through it */
	int fd;				/* FS_HASH: O_PATH descriptor, or -1 */
	struct fs_inode *root;		/* FS_TREE: the artifact's FS_HASH inode */
	char hash[41];			/* the artifact (FS_HASH, FS_TREE) */
	char *key;			/* name (FS_NAME), hash (FS_HASH), or path below the root
					 * (FS_TREE); FS_LINK: "<hash>" at the root,
					 * "artifacts/<hash>" in FS_DEPOT */
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

/* The installer's state (install.c): the fetch options of every install. */
struct fs_install {
	struct fs *fs;
	struct fetch_options opts;
	char *triplet;			/* the host platform, owned */
	struct fetch_proxies *proxies;	/* proxy= (fetch/proxy.h), owned; NULL: none */
	struct fs_keeper *keeper;	/* keep_seek_index= (keepidx.c), owned; NULL: off */
	struct fs_syncer *syncer;	/* the deferred sync (syncer.c), owned; NULL: sync_commit */
};

/* The control socket and its thread (control.c). */
struct fs_control {
	int listen_fd;
	int stop_fd[2];			/* a pipe: written to stop the thread */
	pthread_t thread;
	bool started;
	char *path;			/* the socket, owned; NULL when there is none */
	bool group_set;			/* control_group= given: status and metrics for it */
	/*
	 * Requests that wait (--wait) run on threads of their own, so that
	 * status stays answered meanwhile; lock guards n_waiters and stopping,
	 * cond tells fs_control_stop() that a waiter ended.
	 */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	unsigned n_waiters;
	bool stopping;
};

/* The maintenance thread (reload.c). */
struct fs_reload {
	int inotify_fd;
	int stop_fd;
	int wake_fd;			/* an eventfd: the list of files changed */
	pthread_t thread;
	bool started;
	_Atomic unsigned generation;	/* counts the changes of cfg->tomls */
};

struct fs {
	struct fs_config *cfg;
	/*
	 * The config file alone as it was read at start (NULL: none), against
	 * which a reload tells the settings changed since (control.c).
	 */
	struct fs_config *file_cfg;
	struct store *store;
	struct platform *host;
	struct fuse_session *se;
	struct fs_flights *flights;
	struct fs_install install;
	struct fs_reload reload;
	struct fs_control control;
	struct timespec started;

	/*
	 * guards names, names_loaded and cfg->tomls (a reload replaces the
	 * list; it is also changed only under reload.c's reload lock)
	 */
	pthread_mutex_t names_lock;
	struct fs_names *names;
	int64_t names_loaded;		/* when names was built, seconds since the epoch */
	const char *mountpoint;		/* absolute; borrowed from main() */

	pthread_mutex_t via_lock;	/* guards via */
	struct fs_via via[FS_VIA_SLOTS];

	/*
	 * No-open mode (no_open=, when the kernel supports it; set by the
	 * init operation before any other request): open answers ENOSYS, so
	 * the kernel sends no open and release and reads come without a
	 * handle.  Pins then follow what the kernel holds: hold(fs, hash,
	 * +1) when an artifact gets its first tree inode, -1 when its last
	 * is forgotten, called under ino_lock (inode.c); NULL otherwise.
	 */
	bool no_open;
	void (*hold)(struct fs *fs, const char *hash, int delta);
	/*
	 * No-opendir mode (with no_open, where the kernel has it; set by
	 * init): opendir answers ENOSYS, the kernel sends no more opendir
	 * and releasedir, caches every listing, and readdir comes without a
	 * handle (dir.c).  The listings of the root and artifacts/ change:
	 * fs_evict_listing_changed() and their mtime (lookup.c) tell it.
	 */
	bool no_opendir;
	pthread_mutex_t listing_lock;	/* guards listing_sig, listing_mtime */
	uint64_t listing_sig;		/* what the root's listing was made of */
	struct timespec listing_mtime;	/* when a change of it was last seen */

	pthread_mutex_t ino_lock;	/* the inode table, fds, graveyard */
	struct fs_inode **ino_table;
	size_t ino_buckets;
	struct fs_inode root;
	int *graveyard;			/* superseded artifact descriptors */
	size_t n_graveyard;

	pthread_mutex_t pin_lock;
	pthread_cond_t pin_cond;	/* broadcast when an artifact's last file closes */
	struct fs_pin *pins;		/* open files per artifact */

	pthread_mutex_t quota_lock;	/* one eviction at a time */

	struct fs_stats stats;		/* counters since start, last errors (stats.c) */

	struct fetch_overrides *overrides; /* overrides=, read at start; NULL: none */
	struct fs_probes *probes;	/* any_hash=: the Pkg server's answers; NULL: off */
	struct fs_perfile *perfile;	/* per_file=: indexes and single files; NULL: off */
	/*
	 * Called by the installer on its worker after each successful install
	 * (view.c sets it: the kernel then forgets the artifact's per-file
	 * view); NULL: nothing.  Must not block for long.
	 */
	void (*on_installed)(struct fs *fs, const char *hash);
};

/*
 * fs_reply_open - reply to open or opendir with its worker's result r: 0
 * opened (fi filled), 1 parked (no reply now), or -errno.  ENOSYS would
 * tell the kernel that the filesystem needs no open at all (zero-message
 * open): it would then read without a handle, so a failure of ours that
 * happens to be ENOSYS is an I/O error.
 */
static inline void fs_reply_open(fuse_req_t req, int r, const struct fuse_file_info *fi)
{
	if (r == 0)
		fuse_reply_open(req, fi);
	else if (r < 0)
		fuse_reply_err(req, r == -ENOSYS ? EIO : -r);
}

/* --- control.c: the control socket (artifactfs(8) CONTROL SOCKET) ------------------ */

/*
 * fs_control_init - no socket and no thread, so that fs_control_stop() may
 * run on any exit path.  Call before anything fails.
 *
 * fs_control_start - create the socket (control_path(): CONTROL_DIR,
 * made 0755, when running as root, else the store), mode 0600, or 0660 and
 * chown'ed to control_group= when set; a live daemon's socket is never
 * taken over, a stale one is replaced.  Start the thread that answers
 * status, metrics, sources, and reload, evict, wipe and prefetch (owner
 * and root only, by SO_PEERCRED).  Needs fs->mountpoint, fs->store,
 * fs->cfg, fs->flights and, for reload and evict, fs->se.  Logs the
 * path, or a warning when it cannot (the mount then serves without one).
 *
 * fs_control_stop - stop and join the thread, make the requests that wait
 * (--wait) give up and wait for their threads, close and unlink the
 * socket; a no-op when it was not started.  Call from the thread that
 * started it, before the flights are freed.
 */
void fs_control_init(struct fs *fs);
void fs_control_start(struct fs *fs);
void fs_control_stop(struct fs *fs);

/*
 * fs_control_group - the group id of control_group= name (a group name or
 * a number) into *ret.  Returns 0 or -ENOENT.  Thread-safe.
 */
int fs_control_group(const char *name, gid_t *ret);

/* --- manage.c: the control socket's requests that change the store --------------- */

struct json_t;
struct control_request;

/*
 * Each returns the JSON answer ({"ok": true, ...}; NULL on ENOMEM) of one
 * request of the control socket (artifactfs(8) CONTROL SOCKET).  client is
 * the connection, watched while a request waits (--wait) so that a client
 * that went ends the wait; the daemon's stop (fs->control.stopping) ends
 * it too.  Run on the control thread or a waiter thread of control.c,
 * never a FUSE thread.
 *
 * fs_manage_evict - evict (rq->args: names or hashes) or wipe (every
 * installed artifact): per artifact "removed" with its bytes, "held" with
 * the open files and the holding processes, "not installed", "unknown" or
 * "failed"; with CONTROL_WAIT a held artifact is removed once its files
 * close.
 *
 * fs_manage_prefetch - start the installs of rq->args (names or hashes) or
 * of every name (CONTROL_ALL) through the flights, as a lookup would;
 * without CONTROL_WAIT answer at once ("started", "installed already",
 * "failed" with its cause), with it once every install ended ("installed"
 * with bytes and seconds, or "failed" with the cause).
 *
 * fs_manage_sources - the configured Artifacts.toml files, the Pkg server,
 * every download URL of the current names and one of their hashes (for
 * artifactctl probe).
 */
struct json_t *fs_manage_evict(struct fs *fs, const struct control_request *rq, int client);
struct json_t *fs_manage_prefetch(struct fs *fs, const struct control_request *rq, int client);
struct json_t *fs_manage_sources(struct fs *fs);

/* --- ops.c ------------------------------------------------------------------- */

/* The low-level operations, for fuse_session_new(); userdata is the struct fs. */
extern const struct fuse_lowlevel_ops fs_ops;

/* --- dir.c: the FUSE handlers of directories (registered in fs_ops) ------------ */

/*
 * Each replies exactly once (an opendir of an artifact that is not
 * installed later, from a flight worker: fs_park()).  fi->fh holds the open
 * directory from opendir to releasedir.  Called by libfuse's threads.
 */
void fs_dir_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void fs_dir_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t offset,
		    struct fuse_file_info *fi);
void fs_dir_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t offset,
			struct fuse_file_info *fi);
void fs_dir_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);

/* --- xattr.c: the FUSE handlers of extended attributes (registered in fs_ops) --- */

/*
 * getxattr and listxattr of user.artifactfs.{hash,state,source,size,
 * progress,error} on artifact directories and user.artifactfs.{version,pid,
 * uptime,store,quota,used,hits,misses,installs,failures,inflight} on the
 * mount root (ENODATA elsewhere);
 * listxattr lists exactly the names getxattr answers.  Each replies exactly
 * once.
 */
void fs_xattr_get(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size);
void fs_xattr_list(fuse_req_t req, fuse_ino_t ino, size_t size);

/* --- lookup.c ---------------------------------------------------------------- */

/*
 * fs_lookup_attr - the attributes of in into *st and how long the kernel
 * may cache them (*timeout, seconds).  An artifact that is not installed
 * is a placeholder directory.  Returns 0 or -errno.  Thread-safe.
 */
int fs_lookup_attr(struct fs *fs, struct fs_inode *in, struct stat *st, double *timeout);

/*
 * fs_lookup_root - look name up at the root: artifacts/ (depot_layout),
 * an overridden hash (a symlink), a name of the current snapshot, or a
 * hash that is installed or (online) bound to a name or (any_hash) on the
 * Pkg server, which may ask the server (fs_probe(); seconds, no lock
 * held).  Counts a lookup of the inode.  Returns 0 with *e filled, or -errno
 * (-ENOENT with e->entry_timeout set: a negative entry the kernel may
 * cache).  Thread-safe.
 */
int fs_lookup_root(struct fs *fs, const char *name, struct fuse_entry_param *e);

/*
 * fs_lookup_entry - the worker of lookup of name in parent.  When the
 * artifact is not installed and may_park, req is parked (fs_park()) and
 * answered later.  may_park is true for the kernel's own lookup requests
 * (false: an entry of readdirplus, a parked lookup resuming); in no-open
 * mode such a lookup of /<hash> notes a use of the artifact
 * (store_touch()), and its entry is kept FS_USE_TIMEOUT seconds.
 * Returns 0 with *e filled, 1 when parked, or -errno (with
 * e->entry_timeout set for a negative entry the kernel may cache).
 */
int fs_lookup_entry(struct fs *fs, fuse_req_t req, fuse_ino_t parent, const char *name,
		    struct fuse_entry_param *e, bool may_park);

/*
 * fs_lookup_link - the target of an FS_LINK inode into buf (size bytes,
 * NUL-terminated): its hash's override (an absolute path, or the other
 * hash, a sibling entry in both the root and artifacts/), else "../<hash>"
 * for an entry of artifacts/.  Returns the target's length or -errno
 * (-ENAMETOOLONG, -ESTALE).  Thread-safe.
 */
int fs_lookup_link(struct fs *fs, const struct fs_inode *in, char *buf, size_t size);

/* fs_lookup_reply - reply to a lookup with fs_lookup_entry()'s result r (not 1). */
void fs_lookup_reply(fuse_req_t req, int r, const struct fuse_entry_param *e);

/*
 * fs_lookup_hidden - whether name is left out of every artifact directory:
 * entries named .git, which the tree hash skips (Julia's rule), so nothing
 * vouches for what they hold.
 */
bool fs_lookup_hidden(const char *name);

/* --- view.c: artifacts served per file through a seek index (per_file=on) ------- */

/*
 * fs_view_init - with per_file=on, fs->perfile with the daemon's network
 * and store (fetch/seekfetch.h); a no-op otherwise.  Needs fs->install
 * (fs_install_init()) and fs->flights.  Returns 0 or -ENOMEM.
 * fs_view_release - wait for the threads that tell the kernel to forget a
 * view, then free fs->perfile; after the FUSE loop and the flights ended,
 * before the session is destroyed.
 */
int fs_view_init(struct fs *fs);
void fs_view_release(struct fs *fs);

/*
 * fs_view_serves - whether the artifact hash is served per file now:
 * per_file=on, online, not installed, and a verified seek index (got the
 * first time, which may take a round trip or two; a failure is logged
 * once and the answer is then false for good: the artifact is installed
 * whole).  Thread-safe.
 */
bool fs_view_serves(struct fs *fs, const char *hash);

/*
 * fs_view_lookup - look name up in parent (the FS_HASH inode of an
 * artifact fs_view_serves(), or an FS_PFILE directory) in the verified
 * tree objects: 0 with *e filled (an FS_PFILE inode, one lookup counted),
 * or -errno (-ENOENT with e->entry_timeout set).  Thread-safe.
 */
int fs_view_lookup(struct fs *fs, struct fs_inode *parent, const char *name,
		   struct fuse_entry_param *e);

/*
 * fs_view_attr - the attributes of an FS_PFILE inode: directories 0555,
 * files 0444 or 0555 with the size of their blob, symlinks with the length
 * of their target.  Returns 0 or -ESTALE.  Thread-safe.
 */
int fs_view_attr(struct fs *fs, struct fs_inode *in, struct stat *st, double *timeout);

/* fs_view_readlink - the target of an FS_PFILE symlink into buf (size bytes, NUL-terminated). */
int fs_view_readlink(struct fs *fs, struct fs_inode *in, char *buf, size_t size);

/*
 * fs_view_list - call add(arg, name, type) (a DT_* type) for every entry
 * of the directory in (an artifact's FS_HASH inode fs_view_serves(), or an
 * FS_PFILE directory), in git order; a non-zero return of add stops and is
 * returned.  Returns 0, add's value, -ENOTDIR or -ESTALE.  Thread-safe.
 */
int fs_view_list(struct fs *fs, struct fs_inode *in,
		 int (*add)(void *arg, const char *name, unsigned char type), void *arg);

/*
 * fs_view_open - a read-only descriptor of the file of FS_PFILE inode in:
 * from the installed tree when the whole install has landed, else from
 * the partial area, fetched first when needed (fs_perfile_open(): one
 * fetch per blob; a failure is EIO to this reader and the whole install
 * starts).  Returns the descriptor (owned by the caller), -EAGAIN when the
 * artifact fell back and the file is not fetched yet (the caller waits for
 * the install: fs_park()), or -errno.  May take seconds.  Thread-safe.
 */
int fs_view_open(struct fs *fs, struct fs_inode *in);

/* --- park.c ------------------------------------------------------------------- */

/*
 * A parked request: what to run again once the artifact is installed.
 * resume() runs on a flight worker after a successful install and replies
 * to req exactly once; a failed install or an interrupt is answered by
 * park.c.  The record is freed by park.c after resume() returns.
 */
struct fs_parked {
	struct fs *fs;
	fuse_req_t req;
	void (*resume)(struct fs_parked *p);
	fuse_ino_t ino;			/* the inode the request was about */
	/*
	 * A copy of the request's (open, opendir); a read or readdir without
	 * a handle (no-open modes) keeps its offset in fi.fh and size in
	 * fi.flags.
	 */
	struct fuse_file_info fi;
	char name[];			/* the name looked up (lookup), or "" */
};

/*
 * fs_park - queue req until hash is installed, with the install request
 * built from the current names (fs_park_request()); fuse_req_interrupt_func
 * makes an interrupt answer EINTR at once.  name (may be NULL) and fi (may
 * be NULL) are copied into the record.  Returns 0 when parked (the reply
 * comes later), or -errno to reply now: -EIO offline, -EINTR when the
 * request was interrupted already, or the flight's error (-EIO, -EFBIG in
 * the retry_after window).  Thread-safe.
 */
int fs_park(struct fs *fs, fuse_req_t req, const char *hash, void (*resume)(struct fs_parked *),
	    fuse_ino_t ino, const char *name, const struct fuse_file_info *fi);

/*
 * fs_park_unless_installed - the first step of every request into an
 * artifact: when hash is installed (fs_evict_installed()), count a hit and
 * return 0 so the caller serves the request; otherwise park it as fs_park()
 * does and return 1 (the reply comes later), or -errno to reply now.  With
 * may_park false (a parked request resuming) a missing artifact is -EIO and
 * no hit is counted again.  Thread-safe.
 */
int fs_park_unless_installed(struct fs *fs, fuse_req_t req, const char *hash, bool may_park,
			     void (*resume)(struct fs_parked *), fuse_ino_t ino, const char *name,
			     const struct fuse_file_info *fi);

/*
 * fs_park_via - remember that hash was reached through name, so that an
 * install of hash tries that name's sources first.  Thread-safe.
 */
void fs_park_via(struct fs *fs, const char *hash, const char *name);

/*
 * fs_park_request - what an install of hash would get now:
 * fs_names_request() on the current snapshot with the name hash was last
 * reached through.  *ret is freed with fs_install_req_free().  Returns 0 or
 * -ENOMEM.  Thread-safe.
 */
int fs_park_request(struct fs *fs, const char *hash, struct fs_install_req **ret);

/* --- reload.c ------------------------------------------------------------------ */

/* fs_reload_names - a reference to the current name snapshot; unref it.  Thread-safe. */
struct fs_names *fs_reload_names(struct fs *fs);

/*
 * fs_reload_catch_sighup - make SIGHUP ask for a reload instead of ending
 * the session (libfuse's handler would).  Call once, after
 * fuse_set_signal_handlers().  Returns 0 or -errno.
 */
int fs_reload_catch_sighup(void);

/*
 * fs_reload_init - fs->reload with no thread and no descriptor, so that
 * fs_reload_stop() may run on any exit path.  Call before anything fails.
 *
 * fs_reload_start - start the maintenance thread: reload the names on
 * SIGHUP or when a configured file changes (inotify; events are merged for
 * 200 ms, at most 1 s), flush the store's access times every 5 s.  Needs
 * fs->store, fs->cfg, fs->host and fs->se.  Logs a warning when it cannot
 * (the mount then serves without reloads).
 *
 * fs_reload_stop - stop and join the thread, close its descriptors; a no-op
 * when it was not started.  Call from the thread that started it.
 */
void fs_reload_init(struct fs *fs);
void fs_reload_start(struct fs *fs);
void fs_reload_stop(struct fs *fs);

/*
 * fs_reload_now - re-read the configured Artifacts.toml files now, as
 * SIGHUP does (strict: a malformed file keeps the names being served), swap
 * the snapshot in and make the kernel forget the names that changed.  With
 * a config file, its toml= list is read again first: a file added to it is
 * served, the names of a file removed from it go (the files of -o toml=
 * stay), and the inotify watches follow.
 * change(arg, what, name) (may be NULL) is called for each change: '+' a
 * name added, '-' removed, '~' bound to another hash, 'T' an Artifacts.toml
 * added (its absolute path), 't' one removed.  Returns 0, or -errno with
 * *errmsg (may be NULL; malloc'ed, may be NULL) saying why (a malformed
 * file, a config file that does not parse or names a missing file).
 * Serialised with the other reloads; needs fs->se.  Thread-safe.
 */
int fs_reload_now(struct fs *fs, void (*change)(void *arg, char what, const char *name),
		  void *arg, char **errmsg);

/*
 * fs_reload_notify - tell systemd the daemon's state with sd_notify(3)
 * ("READY=1", "RELOADING=1", "STOPPING=1"; RELOADING=1 gets its
 * MONOTONIC_USEC=): a no-op without $NOTIFY_SOCKET or when built without
 * libsystemd.  fs_reload_now() sends RELOADING=1 and READY=1 around each
 * reload.  Thread-safe.
 */
void fs_reload_notify(const char *state);

/*
 * fs_reload_settings - call fn(arg, key) for every setting of the config
 * file that differs from what it said at start (fs_config_diff()), the
 * toml= list excepted, which fs_reload_now() applies: the settings a
 * reload does not apply.  Returns 0 (also without a config file), or
 * -errno with *errmsg (malloc'ed) when the file does not parse.
 * Serialised with the reloads.  Thread-safe.
 */
int fs_reload_settings(struct fs *fs, void (*fn)(void *arg, const char *key), void *arg,
		       char **errmsg);

/* --- install.c ------------------------------------------------------------------ */

/*
 * fs_install_init - the installer the flights use: the fetch pipeline with
 * the daemon's settings (state in fs->install); the sources come with each
 * flight's request (fs_names_request()), after the Pkg server.  Returns 0
 * or -errno.  fs_install_release - free what fs_install_init() allocated.
 */
int fs_install_init(struct fs *fs, struct fs_installer *ret);
void fs_install_release(struct fs *fs);

/*
 * fs_install_pkg_server - the Pkg server in effect: pkg_server=, else a
 * non-empty JULIA_PKG_SERVER of the environment (as Julia reads it, but
 * without Julia's default server), else NULL.  Borrowed.  Thread-safe.
 * With any_hash= set, fs_install_init() also makes fs->probes, the cache
 * of the server's answers (fs_probe()), and fs_install_release() frees it.
 */
const char *fs_install_pkg_server(const struct fs_config *c);

/* --- evict.c ------------------------------------------------------------------- */

/*
 * fs_evict_installed - whether hash is installed: its index row says so and
 * its tree is in the store.  The first access that finds the tree removed
 * by hand (rm -rf STORE/artifacts/HASH) logs it and drops the row
 * (store_drop_missing()), so that the caller parks the request and the
 * flight installs the artifact again.  Thread-safe.
 */
bool fs_evict_installed(struct fs *fs, const char *hash);

/*
 * fs_evict_pin - count open files of an artifact (delta +1 on open, -1 on
 * release) and hold the store's pin while there are any; an artifact with
 * open files is never evicted.  Thread-safe.
 */
void fs_evict_pin(struct fs *fs, const char *hash, int delta);

/*
 * fs_evict_quota - when the store holds more than the quota (installed
 * artifacts, and with per_file=on the single files of partial/, which go
 * first), evict least-recently-used artifacts without open files down to
 * quota_low percent of it, then make the kernel forget what it cached of them, so
 * that the next access installs them again.  keep (may be NULL) is never
 * evicted: the artifact whose install just ended, which its waiters are
 * about to use (it may then stay over the quota).  Serialised.
 */
void fs_evict_quota(struct fs *fs, const char *keep);

/*
 * fs_evict_quota_partial - with per_file=on and a quota, when the store
 * holds more than the quota, remove single files of partial/ (least
 * recently used first; an open one keeps working) down to quota_low
 * percent beside the installed bytes.  Evicts no artifact and tells the
 * kernel nothing, so it may run on a FUSE thread (after a per-file
 * fetch).  Serialised with fs_evict_quota().
 */
void fs_evict_quota_partial(struct fs *fs);

/*
 * fs_evict_open_files - how many files of hash the mount has open now.
 * Thread-safe.
 */
unsigned fs_evict_open_files(struct fs *fs, const char *hash);

/*
 * fs_evict_wait_closed - block until an artifact's last open file on the
 * mount closes (any artifact's: the caller checks again), at most ms
 * milliseconds, or until fs_evict_wake() is called; with no file of hash
 * open, it waits the ms (another process may pin it; nothing tells when it
 * stops).  Returns true when no file of hash is open.  Thread-safe; not
 * from a FUSE request handler.
 */
bool fs_evict_wait_closed(struct fs *fs, const char *hash, unsigned ms);

/* fs_evict_wake - wake every fs_evict_wait_closed() (at stop).  Thread-safe. */
void fs_evict_wake(struct fs *fs);

/*
 * fs_evict_remove - remove the installed artifact hash from the store
 * (artifactctl evict, wipe): refused while the mount has a file of it open
 * or another process pins it, then the kernel's dentry of /<hash> and the
 * attributes of its inode are invalidated, so that the next access
 * installs it again.  Serialised with the quota's evictions.  *freed (may
 * be NULL) gets the bytes removed.  Returns 0, -EBUSY (open files here, or
 * pinned or being installed elsewhere), -ENOENT (not installed), or
 * store_remove()'s -errno.  Calls into the kernel (notify): never from a
 * FUSE request handler.  Thread-safe.
 */
int fs_evict_remove(struct fs *fs, const char *hash, uint64_t *freed);

/* One process that holds a file or its working directory in an artifact. */
struct fs_evict_holder {
	int pid;
	char comm[32];			/* its command name (/proc/PID/comm), or "" */
};

/*
 * fs_evict_holders - the processes whose descriptors or working directory
 * are under <mountpoint>/<hash>, found by scanning /proc/<pid>/fd and cwd
 * (only processes the daemon may inspect: its own user's, or all as
 * root): up to max into out.  Returns how many were found (may exceed
 * max).  Thread-safe.
 */
size_t fs_evict_holders(struct fs *fs, const char *hash, struct fs_evict_holder *out, size_t max);

/*
 * fs_evict_forget - make the kernel forget every entry of kind (FS_TREE or
 * FS_PFILE) of the artifact hash it holds, deepest first (the dentry of
 * /<hash>, once dropped while a file below was open, is no longer found by
 * name, and what stayed below it is reached only through its directory
 * inodes), then /<hash> and its inode's attributes and listing; an open
 * file or a working directory keeps its own.  Returns how many entries
 * below /<hash> were told.  Calls into the kernel (notify): never from a
 * FUSE request handler, with no lock held.  Thread-safe.
 */
size_t fs_evict_forget(struct fs *fs, const char *hash, enum fs_kind kind);

/*
 * fs_evict_listing_changed - in no-opendir mode, make the kernel drop what
 * it cached of the listings of the root and artifacts/ (and their
 * attributes), after an install, a removal or a reload changed them; a
 * no-op otherwise.  Calls into the kernel (notify): never from a FUSE
 * request handler.  Thread-safe.
 */
void fs_evict_listing_changed(struct fs *fs);

/* fs_evict_release - drop every pin (at exit). */
void fs_evict_release(struct fs *fs);

/* --- inode.c ------------------------------------------------------------------- */

/* fs_inode_init - the empty table and the root inode; -ENOMEM.  fs_inode_release - free all. */
int fs_inode_init(struct fs *fs);
void fs_inode_release(struct fs *fs);

/*
 * fs_inode_get - find or create the inode of (kind, key) or, for FS_TREE,
 * of (hash, key), and count one lookup.  A new FS_TREE inode records key
 * (its path below the artifact's root) and takes a reference on root, the
 * artifact's FS_HASH inode, whose directory descriptor it is reached
 * through.  Returns the inode or NULL (ENOMEM).  Thread-safe.
 */
struct fs_inode *fs_inode_get(struct fs *fs, enum fs_kind kind, const char *key,
			      const char *hash, struct fs_inode *root);

/* fs_inode_of / fs_inode_ino - FUSE inode number <-> inode. */
struct fs_inode *fs_inode_of(struct fs *fs, fuse_ino_t ino);
fuse_ino_t fs_inode_ino(const struct fs *fs, const struct fs_inode *in);

/*
 * fs_inode_unref - forget n lookups.  An inode goes when the kernel has
 * forgotten it and, for an artifact's FS_HASH inode, when no tree inode
 * still needs its directory descriptor.  Thread-safe.
 */
void fs_inode_unref(struct fs *fs, struct fs_inode *in, uint64_t n);

/*
 * fs_inode_hash_fd - the O_PATH descriptor of an installed artifact's tree
 * (in is its FS_HASH inode), opened on first use and kept by the inode.
 * When the tree was removed since (gc, quota eviction) it is opened again;
 * the old descriptor is buried until exit.  Borrowed: valid while the inode
 * lives.  Returns -ENOENT while the artifact is not installed.
 */
int fs_inode_hash_fd(struct fs *fs, struct fs_inode *in);

/*
 * fs_inode_at - where a tree or artifact inode lives in the store: a
 * directory descriptor (fs_inode_hash_fd()) and a path below it, *path
 * ("." for the artifact's root; borrowed from in).  Returns the descriptor
 * or -errno.
 */
int fs_inode_at(struct fs *fs, struct fs_inode *in, const char **path);

/*
 * fs_inode_open - open in's file (a tree or artifact inode) with flags,
 * with openat2(2) RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS below the
 * artifact's root, so that even a tampered store cannot make the daemon
 * serve a file outside it.  Returns a descriptor the caller owns or -errno.
 */
int fs_inode_open(struct fs *fs, struct fs_inode *in, int flags);

/* fs_inode_find_name - the inode number of name's FS_NAME inode, or 0. */
fuse_ino_t fs_inode_find_name(struct fs *fs, const char *name);

/* fs_inode_find_hash - the inode number of hash's FS_HASH inode, or 0. */
fuse_ino_t fs_inode_find_hash(struct fs *fs, const char *hash);

/* fs_inode_find_depot - the inode number of the FS_DEPOT directory, or 0. */
fuse_ino_t fs_inode_find_depot(struct fs *fs);

/* One entry of the kernel's: a name in a directory inode. */
struct fs_inode_entry {
	fuse_ino_t parent;
	char *name;			/* owned */
	size_t depth;			/* slashes in the path below the artifact's root */
};

/*
 * fs_inode_tree_entries - the entries (parent inode, name) of every inode
 * of kind (FS_TREE or FS_PFILE) of the artifact hash the kernel holds
 * (nlookup > 0), deepest
 * first, so that invalidating them in order empties each directory before
 * its own entry: *ret is a malloc'ed array of *ret_n entries (free each
 * name and the array), NULL when none.  On ENOMEM it holds what fitted.
 * Thread-safe.
 */
void fs_inode_tree_entries(struct fs *fs, const char *hash, enum fs_kind kind,
			   struct fs_inode_entry **ret, size_t *ret_n);

/*
 * fs_inode_open_installed - open path (below the artifact's root, "." for
 * it) of the installed artifact hash with flags, beneath its tree as
 * fs_inode_open() does.  Returns a descriptor the caller owns or -errno
 * (-ENOENT when it is not installed).
 */
int fs_inode_open_installed(struct fs *fs, const char *hash, const char *path, int flags);

/* One artifact inode, as fs_inode_artifacts() lists them. */
struct fs_inode_artifact {
	fuse_ino_t ino;
	char hash[41];
};

/*
 * fs_inode_artifacts - the FS_HASH inodes that hold a descriptor (artifacts
 * the kernel reached since they were installed): *ret is a malloc'ed array
 * of *ret_n entries, NULL when there are none.  On -ENOMEM the list holds
 * what fitted (the caller misses some, as before the split).  Thread-safe.
 */
void fs_inode_artifacts(struct fs *fs, struct fs_inode_artifact **ret, size_t *ret_n);

#endif
