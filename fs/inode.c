/*
 * inode.c - the inode table of the mount and the descriptor graveyard
 *
 * Inodes follow libfuse's example/passthrough_ll.c: the FUSE inode number
 * is the address of a struct fs_inode, lookup counts are kept under
 * fs->ino_lock, and an inode is freed only by forget.  Only an artifact's
 * FS_HASH inode holds a descriptor (daemon.h); tree inodes are reached by
 * their path below it.
 */
#include "fs/daemon.h"
#include "store/store.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/openat2.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

int fs_inode_init(struct fs *fs)
{
	fs->ino_buckets = 1 << 16;
	fs->ino_table = calloc(fs->ino_buckets, sizeof(*fs->ino_table));
	if (!fs->ino_table)
		return -ENOMEM;
	fs->root.kind = FS_ROOT;
	fs->root.fd = -1;
	fs->root.nlookup = 2;
	return 0;
}

void fs_inode_release(struct fs *fs)
{
	struct fs_inode *in, *next;
	size_t i;

	if (fs->ino_table) {
		for (i = 0; i < fs->ino_buckets; i++)
			for (in = fs->ino_table[i]; in; in = next) {
				next = in->next;
				if (in->fd >= 0)
					close(in->fd);
				free(in);
			}
		free(fs->ino_table);
		fs->ino_table = NULL;
	}
	for (i = 0; i < fs->n_graveyard; i++)
		close(fs->graveyard[i]);
	free(fs->graveyard);
	fs->graveyard = NULL;
	fs->n_graveyard = 0;
}

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

	if (kind == FS_TREE || kind == FS_PFILE) {
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
	return (kind != FS_TREE && kind != FS_PFILE) || (hash && strcmp(in->hash, hash) == 0);
}

struct fs_inode *fs_inode_get(struct fs *fs, enum fs_kind kind, const char *key,
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
		if (root->children++ == 0 && fs->hold)
			fs->hold(fs, root->hash, 1);	/* the kernel holds a file of it */
	}
	in->next = fs->ino_table[slot];
	fs->ino_table[slot] = in;
	pthread_mutex_unlock(&fs->ino_lock);
	return in;
}

struct fs_inode *fs_inode_of(struct fs *fs, fuse_ino_t ino)
{
	if (ino == FUSE_ROOT_ID)
		return &fs->root;
	return (struct fs_inode *)(uintptr_t)ino;
}

fuse_ino_t fs_inode_ino(const struct fs *fs, const struct fs_inode *in)
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

void fs_inode_unref(struct fs *fs, struct fs_inode *in, uint64_t n)
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
	if (root && --root->children == 0) {
		if (fs->hold)
			fs->hold(fs, root->hash, -1);	/* its last file forgotten */
		if (root->nlookup == 0)
			inode_free_locked(fs, root);
	}
	pthread_mutex_unlock(&fs->ino_lock);
}

/*
 * Keep fd open until the daemon exits: it was replaced while other threads
 * may still be using it.  Called with fs->ino_lock held.
 */
static void bury_fd(struct fs *fs, int fd)
{
	int *g = realloc(fs->graveyard, (fs->n_graveyard + 1) * sizeof(*g));

	if (!g)
		return;	/* leak the descriptor rather than close it under a user */
	fs->graveyard = g;
	g[fs->n_graveyard++] = fd;
}

/*
 * A removed tree (gc, quota eviction) shows as a directory whose link count
 * is 0: it is opened again, for the artifact may have been installed anew,
 * and the old descriptor goes to the graveyard.
 */
int fs_inode_hash_fd(struct fs *fs, struct fs_inode *in)
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
			bury_fd(fs, old);
		in->fd = fd;
	} else {
		close(fd);
		fd = in->fd;
	}
	pthread_mutex_unlock(&fs->ino_lock);
	return fd;
}

/*
 * Every component of a tree inode's path was found by a lookup in a
 * directory the kernel resolved, and trees never change, so the path holds
 * no symlink but, perhaps, its last component; opens still refuse symlinks
 * on the way (open_beneath()).
 */
int fs_inode_at(struct fs *fs, struct fs_inode *in, const char **path)
{
	if (in->kind == FS_TREE) {
		*path = in->key;
		return fs_inode_hash_fd(fs, in->root);
	}
	*path = ".";
	return fs_inode_hash_fd(fs, in);
}

/*
 * open_beneath - open path below dirfd with openat2(2), never leaving dirfd
 * and never following a symlink on the way: a second guard beside the
 * unpacker's checks.
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

int fs_inode_open(struct fs *fs, struct fs_inode *in, int flags)
{
	const char *path;
	int fd;

	fd = fs_inode_at(fs, in, &path);
	if (fd < 0)
		return fd;
	return open_beneath(fd, path, flags);
}

int fs_inode_open_installed(struct fs *fs, const char *hash, const char *path, int flags)
{
	char dir[4096];
	int dfd, fd, r;

	r = store_path(fs->store, hash, dir, sizeof(dir));
	if (r < 0)
		return r;
	dfd = open(dir, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	fd = open_beneath(dfd, path, flags);
	close(dfd);
	return fd;
}

/* The inode number of the FS_NAME or FS_HASH inode of key, or 0. */
static fuse_ino_t find_key(struct fs *fs, enum fs_kind kind, const char *key)
{
	struct fs_inode *in;
	fuse_ino_t ino = 0;
	size_t slot;

	pthread_mutex_lock(&fs->ino_lock);
	slot = inode_slot(fs, kind, key, NULL);
	for (in = fs->ino_table[slot]; in; in = in->next)
		if (inode_matches(in, kind, key, NULL))
			ino = fs_inode_ino(fs, in);
	pthread_mutex_unlock(&fs->ino_lock);
	return ino;
}

fuse_ino_t fs_inode_find_name(struct fs *fs, const char *name)
{
	return find_key(fs, FS_NAME, name);
}

fuse_ino_t fs_inode_find_hash(struct fs *fs, const char *hash)
{
	return find_key(fs, FS_HASH, hash);
}

fuse_ino_t fs_inode_find_depot(struct fs *fs)
{
	return find_key(fs, FS_DEPOT, FS_DEPOT_DIR);
}

/* The inode of (kind, key, hash) or NULL; called with fs->ino_lock held. */
static struct fs_inode *find_locked(struct fs *fs, enum fs_kind kind, const char *key,
				    const char *hash)
{
	struct fs_inode *in;

	for (in = fs->ino_table[inode_slot(fs, kind, key, hash)]; in; in = in->next)
		if (inode_matches(in, kind, key, hash))
			return in;
	return NULL;
}

static int cmp_depth(const void *a, const void *b)
{
	const struct fs_inode_entry *x = a, *y = b;

	return (x->depth < y->depth) - (x->depth > y->depth);
}

void fs_inode_tree_entries(struct fs *fs, const char *hash, enum fs_kind kind,
			   struct fs_inode_entry **ret, size_t *ret_n)
{
	struct fs_inode_entry *v = NULL, *nv;
	struct fs_inode *in, *parent;
	size_t i, n = 0, cap = 0;
	const char *slash, *p;
	char *dir;

	pthread_mutex_lock(&fs->ino_lock);
	for (i = 0; i < fs->ino_buckets; i++)
		for (in = fs->ino_table[i]; in; in = in->next) {
			if (in->kind != kind || strcmp(in->hash, hash) != 0 || !in->nlookup)
				continue;
			slash = strrchr(in->key, '/');
			/* a view's inodes hold no reference on their artifact's */
			parent = in->root ? in->root : find_locked(fs, FS_HASH, hash, NULL);
			if (slash) {
				dir = strndup(in->key, (size_t)(slash - in->key));
				parent = dir ? find_locked(fs, kind, dir, hash) : NULL;
				free(dir);
			}
			if (!parent)
				continue;
			if (n == cap) {
				cap = cap ? 2 * cap : 64;
				nv = realloc(v, cap * sizeof(*v));
				if (!nv)
					goto out;
				v = nv;
			}
			v[n].name = strdup(slash ? slash + 1 : in->key);
			if (!v[n].name)
				goto out;
			v[n].parent = fs_inode_ino(fs, parent);
			for (v[n].depth = 0, p = in->key; *p; p++)
				v[n].depth += *p == '/';
			n++;
		}
out:
	pthread_mutex_unlock(&fs->ino_lock);
	if (n)
		qsort(v, n, sizeof(*v), cmp_depth);
	*ret = v;
	*ret_n = n;
}

void fs_inode_artifacts(struct fs *fs, struct fs_inode_artifact **ret, size_t *ret_n)
{
	struct fs_inode_artifact *v = NULL, *nv;
	struct fs_inode *in;
	size_t i, n = 0, cap = 0;

	pthread_mutex_lock(&fs->ino_lock);
	for (i = 0; i < fs->ino_buckets; i++)
		for (in = fs->ino_table[i]; in; in = in->next) {
			if (in->kind != FS_HASH || in->fd < 0)
				continue;
			if (n == cap) {
				cap = cap ? 2 * cap : 16;
				nv = realloc(v, cap * sizeof(*v));
				if (!nv)
					break;
				v = nv;
			}
			v[n].ino = fs_inode_ino(fs, in);
			memcpy(v[n].hash, in->hash, 41);
			n++;
		}
	pthread_mutex_unlock(&fs->ino_lock);
	*ret = v;
	*ret_n = n;
}
