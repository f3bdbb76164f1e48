/*
 * view.c - artifacts served per file through a seek index (per_file=on,
 * issue 16; doc/internals/seek-index.md)
 *
 * For an artifact that is not installed and whose download entry names a
 * seek index (its seek_index key, or <url>.seekidx with seek_index=probe),
 * the first access inside it gets the index (from the store, else by HTTP
 * Range; fetch/seekfetch.h), verified against the git-tree-sha1, and the
 * artifact is then a view: lookups, attributes, listings and symlinks come
 * from its tree objects (FS_PFILE inodes, keyed by their path below the
 * artifact's root), and each file opened is fetched alone into the
 * store's partial area and verified against its blob id (perfile.c: one
 * fetch per blob).  artifacts/<hash> appears only by the whole install,
 * which a failure (logged, EIO to that reader) or full_install_after=
 * starts in the background; once it lands, the kernel is told to forget
 * the view's entries so that new lookups reach the installed tree, while
 * the files open keep their descriptors of partial/.
 *
 * The state (indexes, fetches in flight, counts) is perfile.c's, FUSE-free;
 * this file gives it the network and the store and maps it onto inodes.
 */
#include "fs/daemon.h"
#include "fetch/seekfetch.h"
#include "fetch/seekidx.h"
#include "store/partial.h"
#include "store/store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* ---- what perfile.c gets from the daemon ------------------------------------------ */

/*
 * choose - the download of hash served per file and its index URL: the
 * first download entry with a seek_index key, else (seek_index=probe) the
 * first one's <url>.seekidx.  Returns 0, 1 when there is none, -ENOMEM.
 */
static int choose(struct fs *fs, const char *hash, char **tar, char **idx, char **sha256)
{
	const struct fs_name *n;
	struct fs_names *names;
	size_t i, k = 0;
	int r = 1;

	names = fs_reload_names(fs);
	n = fs_names_find_hash(names, hash);
	if (!n || !n->n_sources)
		goto out;
	for (i = 0; n->seek_index && i < n->n_sources; i++)
		if (n->seek_index[i])
			break;
	if (n->seek_index && i < n->n_sources) {
		k = i;
		*idx = strdup(n->seek_index[i]);
		r = *idx ? 0 : -ENOMEM;
	} else if (fs->cfg->seek_index_probe) {
		r = fetch_seekidx_url(n->sources[0].url, idx);
	} else {
		goto out;
	}
	if (r == 0) {
		*tar = strdup(n->sources[k].url);
		*sha256 = n->sources[k].sha256 ? strdup(n->sources[k].sha256) : NULL;
		if (!*tar || (n->sources[k].sha256 && !*sha256)) {
			free(*tar);
			free(*idx);
			free(*sha256);
			r = -ENOMEM;
		}
	}
out:
	fs_names_unref(names);
	return r;
}

/* Whether the index x describes the tarball of sha256 (64 hex digits, NULL: unknown). */
static bool same_tarball(const struct seekidx *x, const char *sha256)
{
	char hex[2 * HASH_SHA256_LEN + 1];

	if (!sha256)
		return true;
	hash_to_hex(seekidx_tarball_sha256(x), HASH_SHA256_LEN, hex);
	return strcasecmp(hex, sha256) == 0;
}

/*
 * view_index - perfile.c's index(): the kept copy of the store first, else
 * the index at its URL (fetch_seekidx_get() keeps it in the store), each
 * verified against the git-tree-sha1 and checked to be the index of the
 * tarball the download entry names.
 */
static int view_index(void *ctx, const char *hash, struct seekidx **ret, char **tar,
		      char **idx, char **errmsg)
{
	struct fs *fs = ctx;
	uint8_t tree[HASH_SHA1_LEN];
	struct seekidx *x = NULL;
	char *sha256 = NULL;
	int r;

	*tar = *idx = NULL;
	r = choose(fs, hash, tar, idx, &sha256);
	if (r != 0)
		return r;
	r = hash_from_hex(hash, 40, tree, sizeof(tree));
	if (r < 0)
		goto fail;
	if (fetch_seekidx_load(fs->store, hash, &x, NULL) == 0 && !same_tarball(x, sha256)) {
		seekidx_free(x);
		x = NULL;
	}
	if (!x) {
		fs_stats_add(&fs->stats, FS_STAT_INDEX_FETCHES, 1);
		r = fetch_seekidx_get(fs->store, &fs->install.opts, *idx, tree, &x, errmsg);
		if (r < 0)
			goto fail;
	}
	if (!same_tarball(x, sha256)) {
		seekidx_free(x);
		if (asprintf(errmsg, "the index '%s' is of another tarball than '%s'", *idx,
			     *tar) < 0)
			*errmsg = NULL;
		r = -EBADMSG;
		goto fail;
	}
	free(sha256);
	*ret = x;
	return 0;
fail:
	free(sha256);
	free(*tar);
	free(*idx);
	*tar = *idx = NULL;
	return r;
}

static int view_fetch(void *ctx, const char *hash, const char *tar, const char *idx,
		      const struct seekidx *x, const struct seekidx_file *f, bool exec, int *fd,
		      uint64_t *fetched, char **errmsg)
{
	struct fs *fs = ctx;
	int r;

	(void)hash;
	*fetched = 0;
	r = fetch_partial_file(fs->store, &fs->install.opts, tar, idx, x, f, exec, fd, fetched,
			       errmsg);
	fs_stats_add(&fs->stats, FS_STAT_DOWNLOADED, *fetched);
	if (r == 0 && *fetched)
		fs_evict_quota_partial(fs);	/* single files count in the quota */
	return r;
}

/* An artifact whose view the kernel is told to forget. */
struct bg_install {
	struct fs *fs;
	char hash[41];
};

/*
 * forget_view - the whole install of hash landed: make the kernel forget
 * the view's entries, deepest first, and the artifact's cached attributes
 * and listing, so that new lookups reach the installed tree.  Files open
 * keep their descriptors.  From a thread of its own, no lock held.
 */
static void forget_view(struct fs *fs, const char *hash)
{
	size_t n = fs_evict_forget(fs, hash, FS_PFILE);

	fs_log(FS_LOG_INFO, "artifact %s: installed whole; %zu entries of its per-file view "
	       "forgotten", hash, n);
}

/* The forget threads running, which fs_view_release() waits for. */
static pthread_mutex_t forget_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t forget_cond = PTHREAD_COND_INITIALIZER;
static unsigned forgetting;

static void *forget_thread(void *arg)
{
	struct bg_install *b = arg;

	forget_view(b->fs, b->hash);
	free(b);
	pthread_mutex_lock(&forget_lock);
	forgetting--;
	pthread_cond_broadcast(&forget_cond);
	pthread_mutex_unlock(&forget_lock);
	return NULL;
}

/*
 * view_installed - fs->on_installed: an install of hash landed (the view's
 * own, a prefetch, a parked request's).  When the kernel may hold entries
 * of its view, it is told to forget them on a thread of its own: this runs
 * on the flight worker before the waiters' done(), and a lookup parked in
 * the artifact's directory holds that directory's lock in the kernel,
 * which an invalidation of an entry in it waits for.
 */
static void view_installed(struct fs *fs, const char *hash)
{
	struct bg_install *b;
	pthread_attr_t attr;
	pthread_t t;
	int r = -1;

	if (!fs->se || !fs_perfile_index(fs->perfile, hash, false))
		return;
	b = calloc(1, sizeof(*b));
	if (!b)
		return;
	b->fs = fs;
	memcpy(b->hash, hash, 41);
	if (pthread_attr_init(&attr) == 0) {
		pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
		pthread_mutex_lock(&forget_lock);
		r = pthread_create(&t, &attr, forget_thread, b);
		forgetting += r == 0;
		pthread_mutex_unlock(&forget_lock);
		pthread_attr_destroy(&attr);
	}
	if (r != 0)
		free(b);
}

/* The background install ended: view_installed() did what its landing needs. */
static void bg_done(void *arg, int err)
{
	(void)arg;
	(void)err;
}

/* perfile.c's install(): the whole install of hash, in the background. */
static void view_install(void *ctx, const char *hash)
{
	struct fs *fs = ctx;
	struct fs_install_req *req = NULL;
	int r;

	if (fs_park_request(fs, hash, &req) < 0)
		return;
	r = fs_flight_wait_req(fs->flights, hash, NULL, req, bg_done, NULL);
	if (r < 0)
		fs_log(FS_LOG_WARNING, "artifact %s: cannot start its whole install: %s", hash,
		       strerror(-r));
}

static void view_free_index(struct seekidx *x)
{
	seekidx_free(x);
}

int fs_view_init(struct fs *fs)
{
	struct fs_perfile_src src = {
		.index = view_index,
		.fetch = view_fetch,
		.install = view_install,
		.free_index = view_free_index,
		.ctx = fs,
	};
	int r;

	if (!fs->cfg->per_file)
		return 0;
	r = fs_perfile_new(&src, fs->cfg->full_install_bytes, fs->cfg->full_install_files,
			   &fs->stats, &fs->perfile);
	if (r == 0)
		fs->on_installed = view_installed;
	return r;
}

void fs_view_release(struct fs *fs)
{
	pthread_mutex_lock(&forget_lock);
	while (forgetting)
		pthread_cond_wait(&forget_cond, &forget_lock);
	pthread_mutex_unlock(&forget_lock);
	fs_perfile_free(fs->perfile);
	fs->perfile = NULL;
}

/* ---- the view ------------------------------------------------------------------- */

bool fs_view_serves(struct fs *fs, const char *hash)
{
	if (!fs->perfile || fs->cfg->offline || fs_evict_installed(fs, hash))
		return false;
	return fs_perfile_index(fs->perfile, hash, true) != NULL;
}

/*
 * walk - the entry of path (below the root of x) into *ret, or NULL with
 * *tree the root for ".".  Returns 0 or -ENOENT.
 */
static int walk(const struct seekidx *x, const char *path, const struct seekidx_entry **ret,
		const struct seekidx_tree **tree)
{
	const struct seekidx_tree *t = seekidx_root(x);
	const struct seekidx_entry *e = NULL;
	const char *p = path, *slash;
	size_t len;

	if (strcmp(path, ".") != 0)
		for (;;) {
			slash = strchr(p, '/');
			len = slash ? (size_t)(slash - p) : strlen(p);
			if (!t || !(e = seekidx_lookup(t, p, len)))
				return -ENOENT;
			t = e->tree;
			if (!slash)
				break;
			p = slash + 1;
		}
	*ret = e;
	*tree = t;
	return 0;
}

/* The index and entry of inode in (FS_HASH: its root, e NULL). */
static int resolve(struct fs *fs, struct fs_inode *in, const struct seekidx_entry **e,
		   const struct seekidx_tree **t)
{
	const struct seekidx *x = fs->perfile ? fs_perfile_index(fs->perfile, in->hash, false) :
						NULL;

	if (!x)
		return -ESTALE;
	return walk(x, in->kind == FS_HASH ? "." : in->key, e, t) < 0 ? -ESTALE : 0;
}

static void entry_stat(struct fs *fs, const struct seekidx_entry *e, fuse_ino_t ino,
		       struct stat *st)
{
	memset(st, 0, sizeof(*st));
	switch (e->mode) {
	case 040000:
		st->st_mode = S_IFDIR | 0555;
		st->st_nlink = 2;
		break;
	case 0100755:
	case 0100644:
		st->st_mode = S_IFREG | (e->mode == 0100755 ? 0555 : 0444);
		st->st_nlink = 1;
		st->st_size = e->file ? (off_t)e->file->size : 0;
		break;
	default:
		st->st_mode = S_IFLNK | 0777;
		st->st_nlink = 1;
		st->st_size = (off_t)e->target_len;
		break;
	}
	st->st_blksize = 4096;
	st->st_blocks = (st->st_size + 511) / 512;
	st->st_mtim = st->st_ctim = st->st_atim = fs->started;
	st->st_ino = ino;
}

int fs_view_attr(struct fs *fs, struct fs_inode *in, struct stat *st, double *timeout)
{
	const struct seekidx_entry *e;
	const struct seekidx_tree *t;
	int r = resolve(fs, in, &e, &t);

	if (r < 0)
		return r;
	if (!e)
		return -ESTALE;
	entry_stat(fs, e, fs_inode_ino(fs, in), st);
	*timeout = FS_TREE_TIMEOUT;
	return 0;
}

int fs_view_lookup(struct fs *fs, struct fs_inode *parent, const char *name,
		   struct fuse_entry_param *e)
{
	const struct seekidx_entry *pe, *ce;
	const struct seekidx_tree *t;
	struct fs_inode *in;
	char *path;
	int r;

	memset(e, 0, sizeof(*e));
	r = resolve(fs, parent, &pe, &t);
	if (r < 0)
		return r;
	if (!t)
		return -ENOTDIR;
	ce = fs_lookup_hidden(name) ? NULL : seekidx_lookup(t, name, strlen(name));
	if (!ce) {
		e->entry_timeout = FS_TREE_TIMEOUT;	/* trees never change */
		return -ENOENT;
	}
	if (parent->kind == FS_PFILE) {
		if (asprintf(&path, "%s/%s", parent->key, name) < 0)
			return -ENOMEM;
	} else if (!(path = strdup(name))) {
		return -ENOMEM;
	}
	/* no root reference: the view's inodes need no descriptor of the artifact */
	in = fs_inode_get(fs, FS_PFILE, path, parent->hash, NULL);
	free(path);
	if (!in)
		return -ENOMEM;
	e->ino = fs_inode_ino(fs, in);
	entry_stat(fs, ce, e->ino, &e->attr);
	e->attr_timeout = FS_TREE_TIMEOUT;
	e->entry_timeout = FS_TREE_TIMEOUT;
	return 0;
}

int fs_view_readlink(struct fs *fs, struct fs_inode *in, char *buf, size_t size)
{
	const struct seekidx_entry *e;
	const struct seekidx_tree *t;
	int r = resolve(fs, in, &e, &t);

	if (r < 0)
		return r;
	if (!e || e->mode != 0120000 || !e->target)
		return -EINVAL;
	if (e->target_len >= size)
		return -ENAMETOOLONG;
	memcpy(buf, e->target, e->target_len);
	buf[e->target_len] = '\0';
	return (int)e->target_len;
}

int fs_view_list(struct fs *fs, struct fs_inode *in,
		 int (*add)(void *arg, const char *name, unsigned char type), void *arg)
{
	const struct seekidx_entry *e;
	const struct seekidx_tree *t;
	unsigned char type;
	size_t i;
	int r = resolve(fs, in, &e, &t);

	if (r < 0)
		return r;
	if (!t)
		return -ENOTDIR;
	for (i = 0; i < t->n; i++) {
		e = &t->e[i];
		if (fs_lookup_hidden(e->name))
			continue;
		type = e->mode == 040000 ? DT_DIR : e->mode == 0120000 ? DT_LNK : DT_REG;
		r = add(arg, e->name, type);
		if (r != 0)
			return r;
	}
	return 0;
}

int fs_view_open(struct fs *fs, struct fs_inode *in)
{
	const struct seekidx_entry *e;
	const struct seekidx_tree *t;
	int fd, r;

	/* The whole install landed: the installed tree's file, the same bytes. */
	if (fs_evict_installed(fs, in->hash))
		return fs_inode_open_installed(fs, in->hash, in->key, O_RDONLY);
	r = resolve(fs, in, &e, &t);
	if (r < 0)
		return r;
	if (!e || t)
		return -EISDIR;
	if (!e->file)
		return -EIO;
	if (!fs_perfile_fallen(fs->perfile, in->hash)) {
		r = fs_perfile_open(fs->perfile, in->hash, e->file, e->mode == 0100755, &fd);
		return r < 0 ? r : fd;
	}
	/* Fell back: what was fetched and verified still serves; the rest waits. */
	if (store_partial_open(fs->store, e->file->oid, &fd) == 0)
		return fd;
	return -EAGAIN;
}
