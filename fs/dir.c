/*
 * dir.c - open directories: the root as a snapshot, artifact trees as
 * DIR streams of the store
 *
 * The root is a snapshot of names and installed hashes taken at opendir,
 * so a reload never changes a listing in progress; so is /artifacts
 * (depot_layout=on), of installed, named and overridden hashes.  An opendir of an
 * artifact that is not installed is parked (park.c) until it is.
 *
 * No-opendir mode (fs->no_opendir, with no_open=): the first opendir
 * answers ENOSYS, the kernel sends no more opendir or releasedir and
 * caches every listing (FOPEN_KEEP_CACHE | FOPEN_CACHE_DIR), and each
 * readdir comes without a handle: it builds one for the call (parking it
 * like an opendir when the artifact is not installed) and frees it.  A
 * tree directory is then read from the offset on (seekdir: trees never
 * change).  A snapshot directory (the root, artifacts/, a per-file view)
 * is built anew for each call, so its offsets are no positions but keys:
 * each entry's is a hash of its name (dir_key()), the entries go in key
 * order and a call goes on after the key it is given, so that a name
 * added or removed between two calls of one listing moves no other entry
 * (as ext4's hashed directories do).  The kernel learns that the root's
 * listing changed from fs_evict_listing_changed() and the root's mtime.
 */
#include "fs/daemon.h"
#include "store/store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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
	uint64_t *keys;			/* no-opendir mode: each entry's offset, ascending */
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

static int cmp_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * snapshot_depot - the entries of /artifacts: the hashes installed, bound
 * to a name (online) and overridden, each once, sorted.  Hashes only the
 * Pkg server has are not listed (they are found by a lookup).
 */
static int snapshot_depot(struct fs *fs, struct dir_handle *d)
{
	struct fs_names *names;
	size_t i, j, first = d->n;
	int r = 0;

	if (!fs->cfg->offline) {
		names = fs_reload_names(fs);
		for (i = 0; r == 0 && i < fs_names_count(names); i++)
			r = snapshot_add(d, fs_names_at(names, i)->hash, DT_LNK);
		fs_names_unref(names);
	}
	for (i = 0; r == 0 && i < fetch_overrides_count(fs->overrides); i++)
		r = snapshot_add(d, fetch_overrides_hash_at(fs->overrides, i), DT_LNK);
	if (r == 0)
		r = store_foreach(fs->store, snapshot_installed, d);
	if (r < 0)
		return r;
	/* every entry of the depot is a symlink; the same hash only once */
	qsort(d->names + first, d->n - first, sizeof(*d->names), cmp_name);
	for (i = j = first; i < d->n; i++) {
		if (j > first && strcmp(d->names[j - 1], d->names[i]) == 0) {
			free(d->names[i]);
			continue;
		}
		d->names[j] = d->names[i];
		d->types[j++] = DT_LNK;
	}
	d->n = j;
	return 0;
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
	free(d->keys);
	free(d);
}

/*
 * dir_key - the offset of name in a snapshot read without a handle: "."
 * 1, ".." 2, any other name 3 or more from its FNV-1a hash, below
 * INT64_MAX (an off_t).  Two names of one directory with the same key
 * (about one chance in 2^62) would hide the second one from listings.
 */
static uint64_t dir_key(const char *name)
{
	uint64_t h = 1469598103934665603ULL;
	const unsigned char *p;

	if (strcmp(name, ".") == 0)
		return 1;
	if (strcmp(name, "..") == 0)
		return 2;
	for (p = (const unsigned char *)name; *p; p++)
		h = (h ^ *p) * 1099511628211ULL;
	return 3 + h % ((uint64_t)INT64_MAX - 3);
}

/* One entry of a snapshot, sorted by its key. */
struct keyed {
	uint64_t key;
	char *name;
	unsigned char type;
};

static int cmp_key(const void *a, const void *b)
{
	const struct keyed *x = a, *y = b;

	return (x->key > y->key) - (x->key < y->key);
}

/* dir_sort_keyed - put the snapshot of d in key order and fill d->keys.  -ENOMEM. */
static int dir_sort_keyed(struct dir_handle *d)
{
	struct keyed *v;
	size_t i;

	if (!d->n)
		return 0;
	v = calloc(d->n, sizeof(*v));
	d->keys = calloc(d->n, sizeof(*d->keys));
	if (!v || !d->keys) {
		free(v);
		return -ENOMEM;
	}
	for (i = 0; i < d->n; i++) {
		v[i].key = dir_key(d->names[i]);
		v[i].name = d->names[i];
		v[i].type = d->types[i];
	}
	qsort(v, d->n, sizeof(*v), cmp_key);
	for (i = 0; i < d->n; i++) {
		d->keys[i] = v[i].key;
		d->names[i] = v[i].name;
		d->types[i] = v[i].type;
	}
	free(v);
	return 0;
}

static void resume_opendir(struct fs_parked *p);
static void resume_readdir(struct fs_parked *p);
static void resume_readdirplus(struct fs_parked *p);

static int view_add(void *arg, const char *name, unsigned char type)
{
	return snapshot_add(arg, name, type);
}

/*
 * opendir_view - a directory of an artifact served per file (view.c): a
 * snapshot of its verified tree object, cached by the kernel as a tree's.
 */
static int opendir_view(struct fs *fs, struct fs_inode *in, struct fuse_file_info *fi)
{
	struct dir_handle *d = calloc(1, sizeof(*d));
	int r;

	if (!d)
		return -ENOMEM;
	r = snapshot_add(d, ".", DT_DIR);
	if (r == 0)
		r = snapshot_add(d, "..", DT_DIR);
	if (r == 0)
		r = fs_view_list(fs, in, view_add, d);
	if (r < 0) {
		dir_free(d);
		return r;
	}
	fi->fh = (uint64_t)(uintptr_t)d;
	fi->keep_cache = 1;
	fi->cache_readdir = 1;
	return 0;
}

/*
 * do_opendir - open directory ino into fi->fh: 0, 1 when parked (resume is
 * called after the install), or -errno.
 */
static int do_opendir(struct fs *fs, fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi,
		      bool may_park, void (*resume)(struct fs_parked *))
{
	struct fs_inode *in = fs_inode_of(fs, ino);
	struct dir_handle *d;
	struct fs_names *names;
	size_t i;
	int fd = -1, r;

	if (in->kind == FS_NAME || in->kind == FS_LINK)
		return -ENOTDIR;
	if (in->kind == FS_PFILE || (in->kind == FS_HASH && fs_view_serves(fs, in->hash)))
		return opendir_view(fs, in, fi);
	if (in->kind == FS_HASH || in->kind == FS_TREE) {
		r = fs_park_unless_installed(fs, req, in->hash, may_park, resume, ino, NULL, fi);
		if (r != 0)
			return r;
	}
	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	if (in->kind == FS_ROOT) {
		r = snapshot_add(d, ".", DT_DIR);
		if (r == 0)
			r = snapshot_add(d, "..", DT_DIR);
		names = fs_reload_names(fs);
		for (i = 0; r == 0 && i < fs_names_count(names); i++)
			r = snapshot_add(d, fs_names_at(names, i)->name, DT_LNK);
		fs_names_unref(names);
		if (r == 0 && fs->cfg->depot_layout)
			r = snapshot_add(d, FS_DEPOT_DIR, DT_DIR);
		if (r == 0)
			r = store_foreach(fs->store, snapshot_installed, d);
		if (r < 0)
			goto fail;
	} else if (in->kind == FS_DEPOT) {
		r = snapshot_add(d, ".", DT_DIR);
		if (r == 0)
			r = snapshot_add(d, "..", DT_DIR);
		if (r == 0)
			r = snapshot_depot(fs, d);
		if (r < 0)
			goto fail;
	} else {
		if (in->kind == FS_HASH)
			store_touch(fs->store, in->hash);
		fd = fs_inode_open(fs, in, O_RDONLY | O_DIRECTORY);
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
	fi->keep_cache = in->kind != FS_ROOT && in->kind != FS_DEPOT;
	fi->cache_readdir = in->kind != FS_ROOT && in->kind != FS_DEPOT;
	return 0;
fail:
	dir_free(d);
	return r;
}


void fs_dir_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs *fs = fuse_req_userdata(req);

	fs_stats_add(&fs->stats, FS_STAT_OPENDIRS, 1);
	/* No-opendir mode: ENOSYS tells the kernel to stop sending opendir and releasedir. */
	if (fs->no_opendir) {
		fuse_reply_err(req, ENOSYS);
		return;
	}
	fs_reply_open(req, do_opendir(fs, req, ino, fi, true, resume_opendir), fi);
}

/* A parked opendir, after the install: open again and reply. */
static void resume_opendir(struct fs_parked *p)
{
	int r = do_opendir(p->fs, p->req, p->ino, &p->fi, false, resume_opendir);

	fs_reply_open(p->req, r, &p->fi);
}

static struct dir_handle *dir_of(struct fuse_file_info *fi)
{
	return (struct dir_handle *)(uintptr_t)fi->fh;
}

/*
 * add_entry - add one entry at *p, *rem bytes left, and advance.  Returns
 * false when it does not fit; then the lookup a readdirplus entry counted
 * is forgotten again, as the kernel never sees it.
 */
static bool add_entry(struct fs *fs, fuse_req_t req, char **p, size_t *rem, const char *name,
		      struct fuse_entry_param *e, off_t off, bool plus)
{
	size_t len;

	if (plus)
		len = fuse_add_direntry_plus(req, *p, *rem, name, e, off);
	else
		len = fuse_add_direntry(req, *p, *rem, name, &e->attr, off);
	if (len > *rem) {
		if (plus && e->ino)
			fs_inode_unref(fs, fs_inode_of(fs, e->ino), 1);
		return false;
	}
	*p += len;
	*rem -= len;
	return true;
}

/*
 * The shared body of readdir and readdirplus.  For plus, each entry but "."
 * and ".." is looked up (counting a lookup, as the kernel expects), exactly
 * as libfuse's passthrough_ll does.
 */
static void do_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t offset,
		       struct fuse_file_info *fi, bool plus, bool may_park)
{
	struct fs *fs = fuse_req_userdata(req);
	struct dir_handle *d = dir_of(fi);
	struct fuse_file_info tmp;
	struct fuse_entry_param e;
	char *buf = NULL, *p;
	size_t rem = size, i;
	const char *name;
	unsigned char type;
	off_t next;
	int r = 0;

	if (!d && !fs->no_opendir) {	/* cannot happen unless an opendir was skipped */
		fuse_reply_err(req, EIO);
		return;
	}
	if (!d) {
		/*
		 * No-opendir mode: a handle for this call.  A parked one keeps
		 * the call's offset in fi.fh and its size in fi.flags.
		 */
		memset(&tmp, 0, sizeof(tmp));
		tmp.fh = (uint64_t)offset;
		tmp.flags = (int)size;
		r = do_opendir(fs, req, ino, &tmp, may_park,
			       plus ? resume_readdirplus : resume_readdir);
		if (r == 1)
			return;
		if (r < 0) {
			fuse_reply_err(req, r == -ENOSYS ? EIO : -r);
			return;
		}
		d = dir_of(&tmp);
		r = d->dp ? 0 : dir_sort_keyed(d);
		if (r < 0)
			goto reply;
	}
	buf = calloc(1, size);
	if (!buf) {
		r = -ENOMEM;
		goto reply;
	}
	p = buf;
	if (!d->dp) {
		/* with keys, the first entry after the key of the offset */
		for (i = 0; d->keys && i < d->n && d->keys[i] <= (uint64_t)offset; i++)
			;
		for (i = d->keys ? i : (size_t)offset; i < d->n; i++) {
			name = d->names[i];
			type = d->types[i];
			next = d->keys ? (off_t)d->keys[i] : (off_t)i + 1;
			memset(&e, 0, sizeof(e));
			e.attr.st_mode = (mode_t)type << 12;
			e.attr.st_ino = FUSE_ROOT_ID;
			/*
			 * A name at the root goes without its entry (ino 0): an
			 * access through it is then the kernel's lookup, which
			 * records the name for the install (fs_park_via()), not
			 * whichever name of the hash a listing looked up last.
			 */
			if (plus && strcmp(name, ".") != 0 && strcmp(name, "..") != 0 &&
			    !(ino == FUSE_ROOT_ID && type == DT_LNK)) {
				r = fs_lookup_entry(fs, req, ino, name, &e, false);
				if (r == -ENOENT) {
					r = 0;
					continue;	/* gone since the snapshot */
				}
				if (r < 0)
					break;
			}
			if (!add_entry(fs, req, &p, &rem, name, &e, next, plus))
				break;
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
		if (fs_lookup_hidden(name)) {
			d->entry = NULL;
			d->offset = next;
			continue;
		}
		memset(&e, 0, sizeof(e));
		e.attr.st_ino = d->entry->d_ino;
		e.attr.st_mode = (mode_t)d->entry->d_type << 12;
		if (plus && strcmp(name, ".") != 0 && strcmp(name, "..") != 0) {
			r = fs_lookup_entry(fs, req, ino, name, &e, false);
			if (r < 0)
				break;
		}
		if (!add_entry(fs, req, &p, &rem, name, &e, next, plus))
			break;
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
	if (d != dir_of(fi))
		dir_free(d);	/* the call's own handle */
}

void fs_dir_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t offset,
		       struct fuse_file_info *fi)
{
	do_readdir(req, ino, size, offset, fi, false, true);
}

void fs_dir_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t offset,
			   struct fuse_file_info *fi)
{
	do_readdir(req, ino, size, offset, fi, true, true);
}

/* A parked readdir of no-opendir mode, after the install: read with a new handle. */
static void resume_readdir(struct fs_parked *p)
{
	struct fuse_file_info none = { 0 };

	do_readdir(p->req, p->ino, (size_t)p->fi.flags, (off_t)p->fi.fh, &none, false, false);
}

static void resume_readdirplus(struct fs_parked *p)
{
	struct fuse_file_info none = { 0 };

	do_readdir(p->req, p->ino, (size_t)p->fi.flags, (off_t)p->fi.fh, &none, true, false);
}

void fs_dir_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	dir_free(dir_of(fi));
	fuse_reply_err(req, 0);
}
