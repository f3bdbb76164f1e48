/*
 * install.c - atomic installs: a private tmp/<hash>.<id> tree, sealed
 * (read-only files, no special bits), made durable, then rename(2)d into
 * artifacts/<hash>, then indexed; and the tree walkers that go with it
 *
 * After git's object-file.c finalize_object_file() and casync's
 * ca_chunk_file_save(): build under a temporary name on the same
 * filesystem, fsync, rename into place, treat "already there" as success,
 * remove the temporary on every failure.  Nothing under tmp/ is ever
 * followed through a symlink: directories are opened with
 * O_NOFOLLOW|O_DIRECTORY, files with O_NOFOLLOW, and symlinks themselves are
 * never chmod'ed.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1	/* renameat2 flags, syncfs */
#endif

#include "store/internal.h"
#include "store/util/random.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#define ID_TRIES 8	/* fresh tmp names tried before giving up */

struct store_install {
	struct store *s;
	char hash[STORE_HASH_HEX + 1];
	char name[STORE_HASH_HEX + 18];	/* "<hash>.<16 hex>" under tmp/ */
	char *path;			/* <store>/tmp/<name> */
	int dirfd;			/* the tree, flock'ed LOCK_EX while we own it */
};

/* ---- walking a tree ---------------------------------------------------------- */

DIR *store_opendirat(int dirfd)
{
	DIR *d;
	int fd, e;

	/* a description of our own: a dup() would share the file offset */
	fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	d = fdopendir(fd);
	if (!d) {
		e = errno;
		close(fd);
		errno = e;
	}
	return d;
}

/*
 * next_entry - the next entry of d other than "." and "..".  Returns NULL at
 * the end of the directory (*r = 0) or on an error (*r = -errno).
 */
static struct dirent *next_entry(DIR *d, int *r)
{
	struct dirent *de;

	do {
		errno = 0;
		de = readdir(d);
	} while (de && (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0));
	if (!de)
		*r = -errno;
	return de;
}

void store_names_free(struct store_names *ns)
{
	while (ns->n)
		free(ns->v[--ns->n]);
	free(ns->v);
	ns->v = NULL;
	ns->cap = 0;
}

int store_list_names(int dirfd, bool (*keep)(const char *name), struct store_names *ns)
{
	struct dirent *de;
	char **v;
	int r = 0;
	DIR *d;

	d = store_opendirat(dirfd);
	if (!d)
		return -errno;
	while ((de = next_entry(d, &r))) {
		if (!keep(de->d_name))
			continue;
		if (ns->n == ns->cap) {
			v = realloc(ns->v, (ns->cap ? 2 * ns->cap : 64) * sizeof(*v));
			if (!v) {
				r = -ENOMEM;
				break;
			}
			ns->v = v;
			ns->cap = ns->cap ? 2 * ns->cap : 64;
		}
		ns->v[ns->n] = strdup(de->d_name);
		if (!ns->v[ns->n]) {
			r = -ENOMEM;
			break;
		}
		ns->n++;
	}
	closedir(d);
	return r;
}

bool store_is_tmp_name(const char *name)
{
	char hex[STORE_HASH_HEX + 1];

	if (strlen(name) < STORE_HASH_HEX + 2 || name[STORE_HASH_HEX] != '.')
		return false;
	memcpy(hex, name, STORE_HASH_HEX);
	hex[STORE_HASH_HEX] = '\0';
	return store_hash_valid(hex);
}

/*
 * A depth-first walk with one descriptor per level, like tree_hash_dir(),
 * and bounded by the same TREE_MAX_DEPTH.  leaf() sees every non-directory
 * entry (st from fstatat(AT_SYMLINK_NOFOLLOW)); dir() sees each directory,
 * the root included, through its own descriptor after its entries.
 */
struct walk {
	int (*leaf)(struct walk *w, int dfd, const char *name, const struct stat *st);
	int (*dir)(struct walk *w, int fd, const struct stat *st);
	char failed[NAME_MAX + 1];	/* the entry that failed, "" if unknown */
};

static int walk_dir(struct walk *w, int fd, unsigned depth)
{
	struct dirent *de;
	struct stat st;
	int cfd, r = 0;
	DIR *d;

	if (depth > TREE_MAX_DEPTH)
		return -ENAMETOOLONG;
	d = store_opendirat(fd);
	if (!d)
		return -errno;
	while ((de = next_entry(d, &r))) {
		if (fstatat(fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			r = -errno;
		} else if (S_ISDIR(st.st_mode)) {
			cfd = store_sys_openat(fd, de->d_name,
				O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC, 0);
			if (cfd < 0) {
				r = -errno;
			} else {
				r = walk_dir(w, cfd, depth + 1);
				close(cfd);
			}
		} else if (w->leaf) {
			r = w->leaf(w, fd, de->d_name, &st);
		}
		if (r < 0) {
			if (!w->failed[0])
				snprintf(w->failed, sizeof(w->failed), "%s", de->d_name);
			break;
		}
	}
	closedir(d);
	if (r == 0 && w->dir) {
		if (fstat(fd, &st) < 0)
			r = -errno;
		else
			r = w->dir(w, fd, &st);
	}
	return r;
}

/* ---- tree statistics -------------------------------------------------------- */

struct stats_walk {
	struct walk w;
	uint64_t bytes, files;
};

static int stats_leaf(struct walk *w, int dfd, const char *name, const struct stat *st)
{
	struct stats_walk *sw = (struct stats_walk *)w;

	if (S_ISREG(st->st_mode)) {
		sw->bytes += (uint64_t)st->st_size;
		sw->files++;
	} else if (S_ISLNK(st->st_mode)) {
		sw->files++;
	}
	return 0;
}

int store_tree_stats(int dirfd, const char *name, uint64_t *bytes, uint64_t *files)
{
	struct stats_walk sw = { .w.leaf = stats_leaf };
	int fd, r;

	fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	r = walk_dir(&sw.w, fd, 0);
	close(fd);
	if (r == 0) {
		*bytes = sw.bytes;
		*files = sw.files;
	}
	return r;
}

/* ---- removing a tree ---------------------------------------------------------- */

/*
 * open_dir_rw - open dirfd/name as a directory without following a symlink
 * and give it u+rwx, so its entries can be listed and removed; a directory
 * without read permission gets it first (fchmodat does not follow a symlink
 * with AT_SYMLINK_NOFOLLOW; name was lstat'ed as a directory).
 */
static int open_dir_rw(int dirfd, const char *name, struct stat *st)
{
	int fd, r;

	fd = store_sys_openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC, 0);
	if (fd < 0 && errno == EACCES) {
		if (store_sys_fchmodat(dirfd, name, 0700, AT_SYMLINK_NOFOLLOW) < 0)
			return -errno;
		fd = store_sys_openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC,
			0);
	}
	if (fd < 0)
		return -errno;
	if (fstat(fd, st) < 0 || ((st->st_mode & 0700) != 0700 &&
				     store_sys_fchmod(fd, (st->st_mode & 07777) | 0700) < 0)) {
		r = -errno;
		close(fd);
		return r;
	}
	return fd;
}

/*
 * unlink_leaves - unlink every non-directory entry of the directory fd and
 * return the name of one subdirectory in *sub (malloc'ed; NULL when there is
 * none).  Entries removed while readdir() runs may hide others from it, so
 * the directory is read again until a pass removes nothing.
 */
static int unlink_leaves(int fd, char **sub)
{
	struct dirent *de;
	unsigned removed;
	struct stat st;
	int dfd, r = 0;
	bool isdir;
	DIR *d;

	*sub = NULL;
	dfd = dup(fd);
	if (dfd < 0)
		return -errno;
	d = fdopendir(dfd);
	if (!d) {
		r = -errno;
		close(dfd);
		return r;
	}
	do {
		removed = 0;
		rewinddir(d);
		while (r == 0 && (de = next_entry(d, &r))) {
			isdir = de->d_type == DT_DIR;
			if (de->d_type == DT_UNKNOWN) {
				if (fstatat(fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
					r = -errno;
					break;
				}
				isdir = S_ISDIR(st.st_mode);
			}
			if (isdir) {
				if (!*sub && !(*sub = strdup(de->d_name)))
					r = -ENOMEM;
			} else if (store_sys_unlinkat(fd, de->d_name, 0) < 0) {
				r = -errno;
			} else {
				removed++;
			}
		}
	} while (r == 0 && removed && !*sub);
	closedir(d);
	if (r < 0) {
		free(*sub);
		*sub = NULL;
	}
	return r;
}

struct rm_level {
	char *name;	/* name in the parent directory */
	dev_t dev;	/* identity of the directory, to check ".." against */
	ino_t ino;
};

/*
 * store_rmtree walks down and up the tree holding one directory descriptor:
 * it empties a directory of its files, descends into one subdirectory, and
 * when a directory is empty climbs back through "..", checked against the
 * device and inode recorded on the way down, and removes it.  So any depth
 * is removed with two descriptors (a hostile tarball can nest deeper than
 * RLIMIT_NOFILE), and a directory renamed away meanwhile ends the walk with
 * -ESTALE instead of deleting elsewhere.
 */
int store_rmtree(int dirfd, const char *name)
{
	struct rm_level *stack = NULL, *t;
	size_t depth = 0, cap = 0;
	struct stat st;
	int fd, pfd, r;
	char *sub;

	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	if (!S_ISDIR(st.st_mode))
		return store_sys_unlinkat(dirfd, name, 0) < 0 ? -errno : 0;
	fd = open_dir_rw(dirfd, name, &st);
	if (fd < 0)
		return fd;
	sub = strdup(name);
	if (!sub) {
		r = -ENOMEM;
		goto out;
	}
	for (;;) {
		if (depth == cap) {
			cap = cap ? 2 * cap : 16;
			t = realloc(stack, cap * sizeof(*stack));
			if (!t) {
				free(sub);
				r = -ENOMEM;
				goto out;
			}
			stack = t;
		}
		stack[depth++] = (struct rm_level){ sub, st.st_dev, st.st_ino };
		for (;;) {
			r = unlink_leaves(fd, &sub);
			if (r < 0)
				goto out;
			if (sub)
				break;	/* descend into it */
			if (depth == 1) {
				close(fd);
				fd = -1;
				r = 0;
				if (store_sys_unlinkat(dirfd, stack[0].name, AT_REMOVEDIR) < 0)
					r = -errno;
				goto out;
			}
			pfd = openat(fd, "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			if (pfd < 0) {
				r = -errno;
				goto out;
			}
			close(fd);
			fd = pfd;
			if (fstat(fd, &st) < 0 || st.st_dev != stack[depth - 2].dev ||
			    st.st_ino != stack[depth - 2].ino) {
				r = -ESTALE;
				goto out;
			}
			depth--;
			r = 0;
			if (store_sys_unlinkat(fd, stack[depth].name, AT_REMOVEDIR) < 0)
				r = -errno;
			free(stack[depth].name);
			if (r < 0)
				goto out;
		}
		pfd = fd;
		fd = open_dir_rw(pfd, sub, &st);
		close(pfd);
		if (fd < 0) {
			r = fd;
			free(sub);
			goto out;
		}
	}
out:
	while (depth > 0)
		free(stack[--depth].name);
	free(stack);
	if (fd >= 0)
		close(fd);
	return r;
}

/* ---- sealing a tree ------------------------------------------------------------ */

/*
 * Durability, with STORE_SYNC_COMMIT (by default the commit writes a mark
 * instead and store_sync_pending() does this later: durable.c says why
 * that is safe).  Before the rename, every file's data and every directory
 * must be on disk, or a crash could leave artifacts/<hash> with empty or
 * missing files after the rename itself became durable.  Measured on ext4
 * (Linux 6.18, virtio disk), committing a freshly written 1,000-file tree
 * of 2.5 MB in 10 directories, median of 5: no sync 4-6 ms; one syncfs()
 * of the filesystem 15-22 ms; an fsync() per file and per directory
 * 110-170 ms, because each one waits for a journal commit of its own (and
 * 1,640 ms against 36 ms for syncfs() while other builds loaded the disk).
 * So seal() ends with one syncfs().  Its price: it also flushes unrelated
 * dirty data of the same filesystem, which can make a commit slow on a host
 * whose store shares a busy filesystem; installs are rare next to lookups.
 * Since Linux 5.8 syncfs() reports the filesystem's writeback errors
 * (errseq), so a failed write is not missed.
 * After the rename, one fsync() of artifacts/ makes the rename durable
 * before the row is written.  ARTIFACTFS_UNSAFE_NO_FSYNC skips both, for
 * tests and benchmarks.
 */

struct seal_walk {
	struct walk w;
};

static int seal_leaf(struct walk *w, int dfd, const char *name, const struct stat *st)
{
	mode_t mode = st->st_mode & 0555;	/* no write, setuid, setgid, sticky bits */
	struct stat fst;
	int fd, r = 0;

	if (S_ISLNK(st->st_mode) || (st->st_mode & 07777) == mode)
		return 0;
	if (!S_ISREG(st->st_mode)) {
		/* a fifo or device (an unpacker does not make them): no open */
		return store_sys_fchmodat(dfd, name, mode, AT_SYMLINK_NOFOLLOW) < 0 ? -errno : 0;
	}
	/*
	 * fchmod through an O_NOFOLLOW descriptor: works without /proc,
	 * which glibc's fchmodat(AT_SYMLINK_NOFOLLOW) needs, and cannot be
	 * redirected by a symlink swapped in after the fstatat.
	 */
	fd = store_sys_openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC,
		0);
	if (fd < 0 && errno == EACCES)	/* unreadable file, non-root owner */
		return store_sys_fchmodat(dfd, name, mode, AT_SYMLINK_NOFOLLOW) < 0 ? -errno : 0;
	if (fd < 0)
		return -errno;
	if (fstat(fd, &fst) < 0)
		r = -errno;
	else if (fst.st_ino != st->st_ino || fst.st_dev != st->st_dev)
		r = -ESTALE;	/* replaced under us */
	else if (store_sys_fchmod(fd, mode) < 0)
		r = -errno;
	close(fd);
	return r;
}

static int seal_dir(struct walk *w, int fd, const struct stat *st)
{
	if ((st->st_mode & 07000) && store_sys_fchmod(fd, st->st_mode & 0777) < 0)
		return -errno;
	return 0;
}

/* ---- begin, commit, abort -------------------------------------------------------- */

static void install_free(struct store_install *in)
{
	if (in->dirfd >= 0)
		close(in->dirfd);	/* drops the flock */
	free(in->path);
	free(in);
}

/*
 * Besides the hash lock the caller holds, the tree's own descriptor holds a
 * flock(LOCK_EX): store_reconcile() removes a tmp/ entry only when it can
 * take both, so even an installer that skipped the hash lock keeps its tree.
 * The entry is checked to still be ours after the flock, because reconcile
 * may have taken and removed it between our mkdirat() and our flock().
 */
int store_install_begin(struct store *s, const char *hash, struct store_install **ret)
{
	struct stat st1, st2;
	struct store_install *in;
	int tries, r;

	if (!store_hash_valid(hash) || !ret)
		return -EINVAL;
	if ((s->flags & STORE_RDONLY) || s->tmp_fd < 0)
		return store_seterr(s, -EROFS, "store '%s' is open read-only", s->dir);
	in = calloc(1, sizeof(*in));
	if (!in)
		return -ENOMEM;
	in->s = s;
	in->dirfd = -1;
	memcpy(in->hash, hash, sizeof(in->hash));
	for (tries = 0;; tries++) {
		if (tries == ID_TRIES) {
			r = store_seterr(s, -EEXIST, "cannot find a free name in '%s/tmp'", s->dir);
			goto fail;
		}
		snprintf(in->name, sizeof(in->name), "%s.%016llx", hash,
			(unsigned long long)random_id());
		if (store_sys_mkdirat(s->tmp_fd, in->name, 0700) < 0) {
			r = -errno;
			if (r == -EEXIST)
				continue;
			store_seterr(s, r, "cannot create '%s/tmp/%s': %s", s->dir, in->name,
				strerror(-r));
			goto fail;
		}
		in->dirfd = store_sys_openat(s->tmp_fd, in->name,
			O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC, 0);
		if (in->dirfd < 0) {
			if (errno == ENOENT)
				continue;	/* reconcile took it */
			r = -errno;
			store_seterr(s, r, "cannot open '%s/tmp/%s': %s", s->dir, in->name,
				strerror(-r));
			goto fail_rm;
		}
		if (flock(in->dirfd, LOCK_EX | LOCK_NB) == 0 && fstat(in->dirfd, &st1) == 0 &&
		    fstatat(s->tmp_fd, in->name, &st2, AT_SYMLINK_NOFOLLOW) == 0 &&
		    st1.st_ino == st2.st_ino && st1.st_dev == st2.st_dev)
			break;
		close(in->dirfd);	/* reconcile is removing it: try another name */
		in->dirfd = -1;
	}
	if (asprintf(&in->path, "%s/tmp/%s", s->dir, in->name) < 0) {
		in->path = NULL;
		r = -ENOMEM;
		goto fail_rm;
	}
	store_crash_point(s, "install-begin");
	*ret = in;
	return 0;
fail_rm:
	store_rmtree(s->tmp_fd, in->name);
fail:
	install_free(in);
	return r;
}

int store_install_dirfd(const struct store_install *in)
{
	return in->dirfd;
}

const char *store_install_path(const struct store_install *in)
{
	return in->path;
}

void store_install_abort(struct store_install *in)
{
	if (!in)
		return;
	store_rmtree(in->s->tmp_fd, in->name);
	install_free(in);
}

/*
 * seal - make the tree read-only, strip special bits and, when sync, make
 * it durable.
 */
static int seal(struct store_install *in, bool sync)
{
	struct store *s = in->s;
	struct seal_walk sw = { .w.leaf = seal_leaf, .w.dir = seal_dir };
	int r;

	r = walk_dir(&sw.w, in->dirfd, 0);
	if (r < 0)
		return store_seterr(s, r, "cannot seal '%s'%s%s: %s", in->path,
			sw.w.failed[0] ? " at " : "", sw.w.failed, strerror(-r));
	/* the artifact root gets the mode of artifacts/, as Pkg does (spec §3.3) */
	if (store_sys_fchmod(in->dirfd, s->artifacts_mode) < 0) {
		r = -errno;
		return store_seterr(s, r, "cannot chmod '%s': %s", in->path, strerror(-r));
	}
	if (sync && !s->no_fsync && store_sys_syncfs(in->dirfd) < 0) {
		r = -errno;
		return store_seterr(s, r, "cannot sync '%s': %s", in->path, strerror(-r));
	}
	return 0;
}

/*
 * lost_race - artifacts/<hash> was already there.  When it has its row,
 * someone else installed it.  When it has none, its installer died between
 * rename and index write (or it was put there by hand): it is verified and
 * indexed, or quarantined (as is a non-directory) and our tree takes its
 * place (*retry).
 */
static int lost_race(struct store_install *in, const struct store_info *info, bool *retry)
{
	struct store *s = in->s;
	struct store_info row;
	bool had_msg;
	int r;

	*retry = false;
	r = store_lookup(s, in->hash, &row);
	if (r == 0) {
		store_info_release(&row);
		if (row.state == STORE_INSTALLED)
			return 0;
	} else if (r != -ENOENT) {
		return r;
	}
	had_msg = *store_errmsg(s) != '\0';
	r = store_adopt_tree(s, in->hash, info->source, info->tarball_sha256);
	if (r == -ENOENT) {
		/* not a directory (a file or symlink put there), or gone meanwhile */
		r = store_quarantine_tree(s, in->hash);
		r = r == 0 || r == -ENOENT ? -EBADMSG : r;
	}
	if (!had_msg && (r == 0 || r == -EBADMSG))
		store_clear_error(s);	/* outcomes, not errors */
	if (r == -EBADMSG) {
		*retry = true;
		return 0;
	}
	return r;
}

int store_install_commit(struct store_install *in, const struct store_install_meta *meta)
{
	struct store *s = in->s;
	struct store_info info = { .state = STORE_INSTALLED };
	uint8_t h[STORE_HASH_LEN];
	bool retry, sync = !store_defers_sync(s);
	int r, tries;

	if (meta) {
		if (meta->tarball_sha256 && !hash_hex_valid(meta->tarball_sha256, STORE_SHA256_HEX)) {
			r = store_seterr(s, -EINVAL, "invalid tarball sha256 '%s'",
				meta->tarball_sha256);
			goto fail;
		}
		info.bytes = meta->bytes;
		info.files = meta->files;
		info.source = (char *)meta->source;
		if (meta->tarball_sha256) {
			memcpy(info.tarball_sha256, meta->tarball_sha256, STORE_SHA256_HEX + 1);
			for (r = 0; r < STORE_SHA256_HEX; r++)
				if (info.tarball_sha256[r] >= 'A' && info.tarball_sha256[r] <= 'F')
					info.tarball_sha256[r] += 'a' - 'A';
		}
	}
	store_hash_parse(in->hash, h);
	r = seal(in, sync);
	if (r < 0)
		goto fail;
	store_crash_point(s, "before-rename");
	for (tries = 0;; tries++) {
		if (store_sys_renameat(s->tmp_fd, in->name, s->artifacts_fd, in->hash,
			    RENAME_NOREPLACE) == 0)
			break;
		r = -errno;
		if (r != -EEXIST && r != -ENOTEMPTY) {
			store_seterr(s, r, "cannot rename '%s' to '%s/artifacts/%s': %s", in->path,
				s->dir, in->hash, strerror(-r));
			goto fail;
		}
		if (tries == 1) {
			r = store_seterr(s, -EEXIST, "'%s/artifacts/%s' came back after quarantine",
				s->dir, in->hash);
			goto fail;
		}
		r = lost_race(in, &info, &retry);
		if (r < 0 || !retry) {
			/* someone else's tree is in place (r == 0), or r says why not */
			store_rmtree(s->tmp_fd, in->name);
			install_free(in);
			return r;
		}
	}
	/*
	 * The rename itself must be durable before the row says it happened,
	 * unless the row carries the mark that makes a reboot check it.
	 */
	if (sync && !s->no_fsync && store_sys_fsync(s->artifacts_fd) < 0) {
		r = -errno;
		store_seterr(s, r, "cannot sync '%s/artifacts': %s", s->dir, strerror(-r));
		goto unrename;
	}
	store_crash_point(s, "after-rename");
	info.installed = info.last_access = store_now();
	r = store_idx_set_tree(s, h, &info, 1, sync);
	if (r < 0)
		goto unrename;
	install_free(in);
	return 0;
unrename:
	/* the tree must not stay in artifacts/ without its row: put it back */
	if (store_sys_renameat(s->artifacts_fd, in->hash, s->tmp_fd, in->name,
		    RENAME_NOREPLACE) < 0) {
		install_free(in);
		return r;	/* reconcile will index it */
	}
fail:
	store_rmtree(s->tmp_fd, in->name);
	install_free(in);
	return r;
}
