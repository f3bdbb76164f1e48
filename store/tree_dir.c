/*
 * tree_dir.c - tree_hash_dir(): the git-tree-sha1 of a directory on disk
 * with Pkg's rules (GitTools.tree_hash, spec/julia-artifacts.md §2.2):
 * lstat, never following symlinks; ".git" left out, but counted as
 * contains_files() does; empty directories left out; 100755 from the
 * owner-x bit; fifos, sockets and devices hashed as empty files.
 *
 * The walk fills a struct tree_builder (tree.c, through tree_int.h), which
 * orders, encodes and hashes the tree, so those rules live in one place.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1	/* O_NOATIME */
#endif

#include "store/tree_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- directories on disk ------------------------------------------------- */

/*
 * tree_hash_dirat() walks the directory in the calling thread (readdir,
 * fstatat, readlinkat, building the tree) and hands regular files to worker
 * threads, one per CPU, through a short queue; each worker has its own
 * digest context and read buffer and writes the blob id straight into the
 * file's node, which nothing else touches until the workers are joined.
 * A job keeps its directory open through a reference count, so the number
 * of open directories stays below QUEUE_LEN plus the depth.  Every shared
 * field below "lock" is only used with lock held.
 */

#define READ_BUFSIZE ((size_t)1 << 20)
#define MAX_WORKERS 8
#define QUEUE_LEN 64

struct walker;

/* what one thread needs to read and hash files */
struct hasher {
	struct walker *w;
	struct hash_ctx *ctx;
	uint8_t *buf;		/* READ_BUFSIZE bytes */
	int open_flags;		/* O_NOATIME until it fails with EPERM */
};

/* an open directory, shared by its walk_dir() and the jobs reading from it */
struct dirref {
	DIR *dir;
	struct tree_node *node;
	unsigned refs;
};

struct job {
	struct dirref *dir;
	struct tree_node *leaf;	/* a regular file; its oid receives the blob id */
	uint64_t size;
};

struct walker {
	struct tree_builder *tb;
	unsigned flags;
	const char *root;
	struct hasher self;	/* the walking thread's */
	uint8_t empty_oid[HASH_SHA1_LEN];
	unsigned nworkers;	/* 0: the walking thread hashes files itself */
	pthread_t threads[MAX_WORKERS];
	struct hasher hashers[MAX_WORKERS];

	pthread_mutex_t lock;
	pthread_cond_t cond_job, cond_space, cond_idle;
	struct job queue[QUEUE_LEN];
	size_t qhead, qlen;
	unsigned busy;		/* jobs taken but not finished */
	bool stop;
	int err;		/* first failure, and its path */
	char *errpath;
};

struct dent {
	uint64_t ino;
	size_t off;		/* of the name in the names buffer */
};

/*
 * fail_locked - record the first failure, err, at root/<d's path>/name
 * (name may be NULL); returns err.
 */
static int fail_locked(struct walker *w, const struct tree_node *d, const char *name, int err)
{
	const struct tree_node *n;
	size_t rootlen = strlen(w->root), namelen = name ? strlen(name) : 0, total, pos;
	char *p;

	if (w->err)
		return err;
	w->err = err;
	pthread_cond_broadcast(&w->cond_space);
	if (name || (d && d->parent))	/* "dir/" + "/x" would be "dir//x" */
		while (rootlen > 1 && w->root[rootlen - 1] == '/')
			rootlen--;
	total = rootlen + (name ? namelen + 1 : 0);
	for (n = d; n && n->parent; n = n->parent)
		total += (size_t)n->namelen + 1;
	p = malloc(total + 1);
	if (!p)
		return err;
	pos = total;
	p[pos] = '\0';
	if (name) {
		pos -= namelen;
		memcpy(p + pos, name, namelen);
		p[--pos] = '/';
	}
	for (n = d; n && n->parent; n = n->parent) {
		pos -= n->namelen;
		memcpy(p + pos, n->name, n->namelen);
		p[--pos] = '/';
	}
	memcpy(p, w->root, rootlen);
	w->errpath = p;
	return err;
}

static int walk_fail(struct walker *w, const struct tree_node *d, const char *name, int err)
{
	pthread_mutex_lock(&w->lock);
	fail_locked(w, d, name, err);
	pthread_mutex_unlock(&w->lock);
	return err;
}

static void dirref_put(struct walker *w, struct dirref *dr)
{
	bool last;

	pthread_mutex_lock(&w->lock);
	last = --dr->refs == 0;
	pthread_mutex_unlock(&w->lock);
	if (last) {
		closedir(dr->dir);
		free(dr);
	}
}

static int walk_add(struct walker *w, struct tree_node *d, const char *name, enum node_kind kind,
	const uint8_t *oid, const uint8_t *legacy, struct tree_node **ret)
{
	struct tree_node *n;

	n = tree_node_alloc(w->tb, name, strlen(name), kind, legacy ? HASH_SHA1_LEN : 0);
	if (!n)
		return -ENOMEM;
	if (oid)
		memcpy(n->u.oid, oid, HASH_SHA1_LEN);
	if (legacy) {
		n->flags |= NODE_LEGACY;
		memcpy(n->name + n->namelen + 1, legacy, HASH_SHA1_LEN);
	}
	tree_node_link(w->tb, d, n);
	if (ret)
		*ret = n;
	return 0;
}

/* hash_file - git blob id of the size-byte regular file name in dfd */
static int hash_file(struct hasher *h, int dfd, const char *name, uint64_t size,
	uint8_t oid[HASH_SHA1_LEN])
{
	uint64_t left = size;
	ssize_t n;
	int fd, r;

	fd = openat(dfd, name, h->open_flags);
	if (fd < 0 && errno == EPERM && (h->open_flags & O_NOATIME)) {
		h->open_flags &= ~O_NOATIME;
		fd = openat(dfd, name, h->open_flags);
	}
	if (fd < 0)
		return -errno;
	if (size > READ_BUFSIZE)
		(void)posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	r = hash_git_blob_start(h->ctx, size);
	/* read exactly size bytes: the header already promised them */
	while (r >= 0 && left > 0) {
		n = read(fd, h->buf, left < READ_BUFSIZE ? (size_t)left : READ_BUFSIZE);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			r = -errno;
		} else if (n == 0) {
			r = -EIO;	/* the file shrank while it was read */
		} else {
			r = hash_ctx_update(h->ctx, h->buf, (size_t)n);
			left -= (uint64_t)n;
		}
	}
	if (r >= 0)
		r = hash_ctx_final(h->ctx, oid);
	close(fd);
	return r;
}

static void *worker_main(void *arg)
{
	struct hasher *h = arg;
	struct walker *w = h->w;
	struct job job;
	int r;

	pthread_mutex_lock(&w->lock);
	for (;;) {
		while (!w->qlen && !w->stop)
			pthread_cond_wait(&w->cond_job, &w->lock);
		if (!w->qlen)
			break;
		job = w->queue[w->qhead];
		w->qhead = (w->qhead + 1) % QUEUE_LEN;
		w->qlen--;
		w->busy++;
		pthread_cond_signal(&w->cond_space);
		r = w->err;	/* after a failure, only drain the queue */
		pthread_mutex_unlock(&w->lock);

		if (!r) {
			r = hash_file(h, dirfd(job.dir->dir), job.leaf->name, job.size,
				job.leaf->u.oid);
			if (r < 0)
				walk_fail(w, job.dir->node, job.leaf->name, r);
		}
		dirref_put(w, job.dir);

		pthread_mutex_lock(&w->lock);
		w->busy--;
		if (!w->qlen && !w->busy)
			pthread_cond_broadcast(&w->cond_idle);
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

/* hash_regular - hash leaf now, or queue it for a worker */
static int hash_regular(struct walker *w, struct dirref *dr, struct tree_node *leaf,
	uint64_t size)
{
	int r;

	if (!w->nworkers)
		return hash_file(&w->self, dirfd(dr->dir), leaf->name, size, leaf->u.oid);
	pthread_mutex_lock(&w->lock);
	while (w->qlen == QUEUE_LEN && !w->err)
		pthread_cond_wait(&w->cond_space, &w->lock);
	r = w->err;
	if (!r) {
		w->queue[(w->qhead + w->qlen) % QUEUE_LEN] =
			(struct job){ .dir = dr, .leaf = leaf, .size = size };
		w->qlen++;
		dr->refs++;
		pthread_cond_signal(&w->cond_job);
	}
	pthread_mutex_unlock(&w->lock);
	return r;
}

static int hasher_init(struct hasher *h, struct walker *w)
{
	int r;

	h->w = w;
	h->open_flags = O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC | O_NOATIME;
	h->buf = malloc(READ_BUFSIZE);
	if (!h->buf)
		return -ENOMEM;
	r = hash_ctx_new(HASH_SHA1, &h->ctx);
	if (r < 0) {
		free(h->buf);
		h->buf = NULL;
	}
	return r;
}

static void hasher_release(struct hasher *h)
{
	hash_ctx_free(h->ctx);
	free(h->buf);
}

/* start_workers - one worker per online CPU, up to MAX_WORKERS; fewer is fine */
static void start_workers(struct walker *w)
{
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	unsigned i, want = ncpu > MAX_WORKERS ? MAX_WORKERS : ncpu > 1 ? (unsigned)ncpu : 0;

	if (w->flags & TREE_ONE_THREAD)
		want = 0;
	for (i = 0; i < want; i++) {
		if (hasher_init(&w->hashers[i], w) < 0)
			break;
		if (pthread_create(&w->threads[i], NULL, worker_main, &w->hashers[i]) != 0) {
			hasher_release(&w->hashers[i]);
			break;
		}
		w->nworkers++;
	}
}

/* stop_workers - wait for the queue to drain, then join the workers */
static void stop_workers(struct walker *w)
{
	unsigned i;

	pthread_mutex_lock(&w->lock);
	while (w->qlen || w->busy)
		pthread_cond_wait(&w->cond_idle, &w->lock);
	w->stop = true;
	pthread_cond_broadcast(&w->cond_job);
	pthread_mutex_unlock(&w->lock);
	for (i = 0; i < w->nworkers; i++) {
		pthread_join(w->threads[i], NULL);
		hasher_release(&w->hashers[i]);
	}
	w->nworkers = 0;
}

/*
 * contains_files - Pkg's contains_files() for the directory name in dfd:
 * 1 when its subtree holds any non-directory entry, else 0; or -errno.
 */
static int contains_files(int dfd, const char *name, unsigned depth)
{
	struct dirent *de;
	struct stat st;
	DIR *dir;
	int fd, r = 0;

	if (depth > TREE_MAX_DEPTH)
		return -ENAMETOOLONG;
	fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	dir = fdopendir(fd);
	if (!dir) {
		r = -errno;
		close(fd);
		return r;
	}
	for (;;) {
		errno = 0;
		de = readdir(dir);
		if (!de) {
			r = errno ? -errno : 0;
			break;
		}
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (de->d_type == DT_UNKNOWN) {
			if (fstatat(dirfd(dir), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
				r = -errno;
				break;
			}
			if (!S_ISDIR(st.st_mode)) {
				r = 1;
				break;
			}
		} else if (de->d_type != DT_DIR) {
			r = 1;
			break;
		}
		r = contains_files(dirfd(dir), de->d_name, depth + 1);
		if (r != 0)
			break;
	}
	closedir(dir);
	return r;
}

static int dent_by_ino(const void *a, const void *b)
{
	const struct dent *x = a, *y = b;

	return x->ino < y->ino ? -1 : x->ino > y->ino;
}

/* read_dir - all names in dir but "." and "..", sorted by inode number */
static int read_dir(DIR *dir, struct buf *names, struct dent **ret, size_t *ret_n)
{
	struct dent *v = NULL, *nv;
	size_t n = 0, cap = 0;
	struct dirent *de;
	int r = 0;

	for (;;) {
		errno = 0;
		de = readdir(dir);
		if (!de) {
			r = -errno;
			break;
		}
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 32;
			nv = realloc(v, cap * sizeof(*v));
			if (!nv) {
				r = -ENOMEM;
				break;
			}
			v = nv;
		}
		v[n].ino = de->d_ino;
		v[n].off = names->len;
		r = buf_add(names, de->d_name, strlen(de->d_name) + 1);
		if (r < 0)
			break;
		n++;
	}
	if (r < 0) {
		free(v);
		return r;
	}
	/* inode order reads a cold ext4/xfs tree with fewer seeks */
	if (n > 1)
		qsort(v, n, sizeof(*v), dent_by_ino);
	*ret = v;
	*ret_n = n;
	return 0;
}

/*
 * walk_entry - add the entry name of directory dr, whose lstat is st.
 * Failures are recorded by the caller, except those of deeper levels.
 */
static int walk_dir(struct walker *w, int dfd, struct tree_node *d, unsigned depth);

static int walk_entry(struct walker *w, struct dirref *dr, const char *name,
	const struct stat *st, unsigned depth)
{
	uint8_t oid[HASH_SHA1_LEN], legacy[HASH_SHA1_LEN];
	int dfd = dirfd(dr->dir), fd, r;
	struct tree_node *n;
	bool has_legacy;
	ssize_t len;

	if (!(w->flags & TREE_KEEP_DOTGIT) && strcmp(name, ".git") == 0) {
		/*
		 * Never hashed, but it makes its parent non-empty when it holds
		 * anything: record a placeholder leaf, which tb_hash_tree()
		 * counts and skips.
		 */
		if (S_ISDIR(st->st_mode)) {
			r = contains_files(dfd, name, depth + 1);
			if (r <= 0)
				return r;
		}
		return walk_add(w, dr->node, name, NODE_FILE, w->empty_oid, NULL, NULL);
	}
	switch (st->st_mode & S_IFMT) {
	case S_IFDIR:
		if (depth + 1 > TREE_MAX_DEPTH)
			return -ENAMETOOLONG;
		r = walk_add(w, dr->node, name, NODE_DIR, NULL, NULL, &n);
		if (r < 0)
			return r;
		fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			return -errno;
		return walk_dir(w, fd, n, depth + 1);
	case S_IFLNK:
		len = readlinkat(dfd, name, (char *)w->self.buf, READ_BUFSIZE);
		if (len < 0)
			return -errno;
		if ((size_t)len == READ_BUFSIZE)
			return -ENAMETOOLONG;
		r = tree_link_oids(w->self.ctx, (const char *)w->self.buf, (size_t)len, oid, legacy,
			&has_legacy);
		if (r < 0)
			return r;
		return walk_add(w, dr->node, name, NODE_LINK, oid, has_legacy ? legacy : NULL,
			NULL);
	case S_IFREG:
		r = walk_add(w, dr->node, name, (st->st_mode & S_IXUSR) ? NODE_EXEC : NODE_FILE,
			NULL, NULL, &n);
		if (r < 0)
			return r;
		return hash_regular(w, dr, n, (uint64_t)st->st_size);
	default:
		/* fifo, socket, device: an empty regular file, never opened */
		return walk_add(w, dr->node, name, (st->st_mode & S_IXUSR) ? NODE_EXEC : NODE_FILE,
			w->empty_oid, NULL, NULL);
	}
}

/*
 * walk_dir - add the entries of the open directory dfd (consumed) below the
 * builder node d.  Recursion depth is the directory depth, at most
 * TREE_MAX_DEPTH; returns 0 or the first failure, already recorded.
 */
static int walk_dir(struct walker *w, int dfd, struct tree_node *d, unsigned depth)
{
	struct dent *ents = NULL;
	struct dirref *dr;
	struct buf names;
	const char *name;
	struct stat st;
	size_t n = 0, i;
	int r;

	dr = malloc(sizeof(*dr));
	if (!dr) {
		close(dfd);
		return walk_fail(w, d, NULL, -ENOMEM);
	}
	dr->dir = fdopendir(dfd);
	if (!dr->dir) {
		r = walk_fail(w, d, NULL, -errno);
		close(dfd);
		free(dr);
		return r;
	}
	dr->node = d;
	dr->refs = 1;
	buf_init(&names, TREE_BODY_MAX);
	r = read_dir(dr->dir, &names, &ents, &n);
	if (r < 0) {
		walk_fail(w, d, NULL, r);
		goto out;
	}
	for (i = 0; i < n; i++) {
		name = names.ptr + ents[i].off;
		if (fstatat(dirfd(dr->dir), name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			r = -errno;
		else
			r = walk_entry(w, dr, name, &st, depth);
		if (r < 0) {
			walk_fail(w, d, name, r);	/* keeps a deeper first failure */
			break;
		}
	}
out:
	free(ents);
	buf_release(&names);
	dirref_put(w, dr);
	return r;
}

int tree_hash_dirat(int dirfd, const char *dir, unsigned flags, uint8_t out[HASH_SHA1_LEN],
	char **errpath)
{
	struct walker w = {
		.flags = flags,
		.root = dir,
		.lock = PTHREAD_MUTEX_INITIALIZER,
		.cond_job = PTHREAD_COND_INITIALIZER,
		.cond_space = PTHREAD_COND_INITIALIZER,
		.cond_idle = PTHREAD_COND_INITIALIZER,
	};
	uint8_t oid[HASH_SHA1_LEN];
	int fd, r;

	r = tree_builder_create(false, &w.tb);
	if (r >= 0)
		r = hasher_init(&w.self, &w);
	if (r >= 0)
		r = hash_git_blob_start(w.self.ctx, 0);
	if (r >= 0)
		r = hash_ctx_final(w.self.ctx, w.empty_oid);
	if (r < 0) {
		walk_fail(&w, NULL, NULL, r);
		goto out;
	}
	fd = openat(dirfd, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		r = walk_fail(&w, NULL, NULL, -errno);
		goto out;
	}
	start_workers(&w);
	walk_dir(&w, fd, w.tb->root, 0);
	stop_workers(&w);
	r = w.err;	/* the walker's or a worker's */
	if (r >= 0)
		r = tree_builder_final(w.tb, flags, oid);
	if (r < 0)
		walk_fail(&w, NULL, NULL, r);
out:
	if (r >= 0)
		memcpy(out, oid, HASH_SHA1_LEN);
	if (errpath)
		*errpath = r < 0 ? w.errpath : NULL;
	if (r >= 0 || !errpath)
		free(w.errpath);
	hasher_release(&w.self);
	tree_builder_free(w.tb);
	return r;
}

int tree_hash_dir(const char *dir, unsigned flags, uint8_t out[HASH_SHA1_LEN], char **errpath)
{
	return tree_hash_dirat(AT_FDCWD, dir, flags, out, errpath);
}
