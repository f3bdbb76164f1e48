/*
 * unpack.c - stream a tarball through Tar.jl's rules into a directory fd,
 * hashing as it goes
 *
 * Why the tar headers are read by this file and not by libarchive: Julia
 * accepts exactly what Tar.jl accepts (spec §2.4), and libarchive's tar
 * reader accepts more and hides what we must check.  It takes any unknown
 * typeflag for a regular file, drops the size of a symlink entry, turns a
 * regular file named "x/" into a directory, accepts signed header
 * checksums, ignores the version field, and converts names through the
 * locale's charset (a daemon in the C locale can lose non-ASCII names, and
 * symlink targets must hash byte for byte).  So the stream is only
 * decompressed elsewhere (fetch/pipeline.c on its own threads, with the
 * codecs of fetch/inflate.c: ISA-L for gzip, libzstd, libarchive's
 * built-in bzip2 and xz filters, chosen by magic bytes, never by URL), and
 * the tar stream is read by fetch/tar.c block by block with Tar.jl's
 * header rules: read_standard_header, read_header (PAX x/g: size, path,
 * linkpath; GNU L/K), check_header and the symlink-prefix and hardlink
 * checks of read_tarball.
 *
 * Why no archive_write_disk: it resolves paths against the current
 * directory, and a multithreaded daemon cannot chdir(2) per install (the
 * cwd is per process) nor pass it a directory fd (libarchive 3.6 has no such
 * API).  Files are written here with openat(2) relative to the install
 * directory's fd: every path component is opened with O_NOFOLLOW |
 * O_DIRECTORY, leaves are created with O_CREAT | O_EXCL | O_NOFOLLOW after
 * removing what was there, so nothing is ever followed out of the tree, on
 * top of Tar.jl's checks (no absolute path, no "..", no path through an
 * earlier symlink).  tests/unit/test-unpack.c tests every rule.
 */
#include "config.h"

#include "fetch/pipeline.h"
#include "fetch/unpack_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/hash.h"
#include "store/store.h"
#include "store/util/buf.h"
#include "store/util/io.h"

/* The end of the component of p that starts at i. */
static size_t comp_end(const struct bstr *p, size_t i)
{
	const char *slash = memchr(p->p + i, '/', p->len - i);

	return slash ? (size_t)(slash - p->p) : p->len;
}

/* --- state ---------------------------------------------------------------------------- */

void unpack_bstr_free(struct bstr *s)
{
	free(s->p);
	s->p = NULL;
	s->len = 0;
}

int unpack_bstr_set(struct bstr *s, const void *p, size_t len)
{
	char *n = malloc(len + 1);

	if (!n)
		return -ENOMEM;
	if (len)
		memcpy(n, p, len);
	n[len] = '\0';
	free(s->p);
	s->p = n;
	s->len = len;
	return 0;
}

int unpack_fail(struct unpack *u, int err, const char *fmt, ...)
{
	va_list ap;

	if (u->err)
		return u->err;
	u->err = err;
	buf_reset(&u->msg);
	va_start(ap, fmt);
	buf_vaddf(&u->msg, fmt, ap);
	va_end(ap);
	return err;
}

/* A path for messages: printable ASCII as is, other bytes as \xNN, at most ~200 bytes. */
const char *unpack_show(const struct bstr *s, char *out, size_t size)
{
	size_t i, o = 0;

	for (i = 0; i < s->len && o + 8 < size; i++) {
		unsigned char c = (unsigned char)s->p[i];

		if (c >= 0x20 && c < 0x7f && c != '\\' && c != '\'')
			out[o++] = (char)c;
		else
			o += (size_t)snprintf(out + o, size - o, "\\x%02x", c);
	}
	if (i < s->len && o + 4 < size)
		o += (size_t)snprintf(out + o, size - o, "...");
	out[o] = '\0';
	return out;
}

/* --- the tree on disk ----------------------------------------------------------------- */

static void cache_drop(struct unpack *u)
{
	if (u->cache_fd >= 0 && u->cache_fd != u->dirfd)
		close(u->cache_fd);
	u->cache_fd = -1;
	free(u->cache_path);
	u->cache_path = NULL;
	u->cache_len = 0;
}

/* Open (creating or replacing a non-directory) the directory name under parent. */
static int open_dir(struct unpack *u, int parent, const char *name, int *ret)
{
	int fd, e;

	for (;;) {
		fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd >= 0) {
			*ret = fd;
			return 0;
		}
		e = errno;
		if (e == ENOENT) {
			if (mkdirat(parent, name, 0755) < 0 && errno != EEXIST)
				return -errno;
			fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (fd < 0)
				return -errno;
			if (fchmod(fd, 0755) < 0) {
				e = errno;
				close(fd);
				return -e;
			}
			*ret = fd;
			return 0;
		}
		if (e == ELOOP)
			return -EPERM; /* a symlink: the prefix check makes this unreachable */
		if (e != ENOTDIR)
			return -e;
		/* a regular file in the way: Tar.jl replaces it by a directory */
		if (unlinkat(parent, name, 0) < 0)
			return -errno;
	}
}

/*
 * An fd of the directory holding the normalised path p (p itself excluded),
 * creating directories as needed.  The fd is cached: do not close it.
 */
static int parent_fd(struct unpack *u, const struct bstr *p, int *ret)
{
	const char *slash = memrchr(p->p, '/', p->len);
	size_t plen = slash ? (size_t)(slash - p->p) : 0, i, s;
	char comp[NAME_MAX + 1];
	int cur, next, r;

	if (plen == 0) {
		*ret = u->dirfd;
		return 0;
	}
	if (u->cache_fd >= 0 && u->cache_len == plen && memcmp(u->cache_path, p->p, plen) == 0) {
		*ret = u->cache_fd;
		return 0;
	}
	cache_drop(u);
	cur = u->dirfd;
	for (i = 0; i < plen; i++) {
		for (s = i; i < plen && p->p[i] != '/'; i++)
			;
		if (i - s > NAME_MAX) {
			r = -ENAMETOOLONG;
			goto fail;
		}
		memcpy(comp, p->p + s, i - s);
		comp[i - s] = '\0';
		r = open_dir(u, cur, comp, &next);
		if (cur != u->dirfd)
			close(cur);
		if (r < 0)
			return r;
		cur = next;
	}
	u->cache_path = malloc(plen);
	if (!u->cache_path) {
		r = -ENOMEM;
		goto fail;
	}
	memcpy(u->cache_path, p->p, plen);
	u->cache_len = plen;
	u->cache_fd = cur;
	*ret = cur;
	return 0;
fail:
	if (cur != u->dirfd)
		close(cur);
	return r;
}

static const char *base_name(const struct bstr *p)
{
	const char *slash = memrchr(p->p, '/', p->len);

	return slash ? slash + 1 : p->p;
}

/*
 * Open the existing file at the normalised path p for reading, walking from
 * the root without creating anything or following a symlink.  The
 * directory cache is left alone: the caller holds its fd.
 */
static int open_existing(struct unpack *u, const struct bstr *p, int *ret)
{
	char comp[NAME_MAX + 1];
	int cur = u->dirfd, next;
	size_t i = 0, s;

	for (;;) {
		for (s = i; i < p->len && p->p[i] != '/'; i++)
			;
		if (i - s > NAME_MAX) {
			next = -1;
			errno = ENAMETOOLONG;
		} else {
			memcpy(comp, p->p + s, i - s);
			comp[i - s] = '\0';
			next = openat(cur, comp,
				O_RDONLY | O_NOFOLLOW | O_CLOEXEC | (i < p->len ? O_DIRECTORY : 0));
		}
		if (cur != u->dirfd) {
			int e = errno;

			close(cur);
			errno = e;
		}
		if (next < 0)
			return -errno;
		if (i >= p->len) {
			*ret = next;
			return 0;
		}
		cur = next;
		i++;
	}
}

/* Copy the regular file src (normalised path) into the open file out. */
static int copy_file(struct unpack *u, const struct bstr *src, int out, uint64_t size)
{
	uint64_t done = 0;
	int in = -1, r;
	ssize_t n;

	r = open_existing(u, src, &in);
	if (r < 0)
		return r;
	while (done < size) {
		n = copy_file_range(in, NULL, out, NULL, (size_t)(size - done), 0);
		if (n <= 0)
			break;
		done += (uint64_t)n;
	}
	if (done < size && !u->copybuf && !(u->copybuf = malloc(COPY_BUF)))
		r = -ENOMEM;
	while (r == 0 && done < size) {
		n = pread(in, u->copybuf, COPY_BUF, (off_t)done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			r = n < 0 ? -errno : -EIO;
			break;
		}
		r = io_write_all(out, u->copybuf, (size_t)n);
		done += (uint64_t)n;
	}
	close(in);
	return r;
}

/*
 * Make room for the entry at p under pfd: remove what is there unless a
 * directory entry meets a directory (Tar.jl keeps it: *keep is set).
 */
static int clear_leaf(struct unpack *u, int pfd, const char *name, enum etype t, bool *keep)
{
	struct stat st;
	int r;

	*keep = false;
	if (fstatat(pfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (S_ISDIR(st.st_mode)) {
		if (t == T_DIR) {
			*keep = true;
			return 0;
		}
		/*
		 * The cached directory may lie inside, unless it is pfd itself
		 * (then it is the parent, which stays).
		 */
		if (u->cache_fd != pfd)
			cache_drop(u);
		r = store_rmtree(pfd, name);
		return r;
	}
	return unlinkat(pfd, name, 0) < 0 ? -errno : 0;
}

/* --- one entry ------------------------------------------------------------------------ */

/*
 * Bring the model of the current tree up to date for an entry at p:
 * (re)create the intermediate directories and tell whether p is live and
 * what it is.  Returns the record of p, created if needed.
 */
static int model_walk(struct unpack *u, const struct bstr *p, struct rec **leaf, bool *live)
{
	uint64_t parent_seq = 0;
	uint32_t id = 0;
	struct rec *r;
	size_t i = 0, e;
	int rc;

	for (;;) {
		e = comp_end(p, i);
		rc = ptab_put(&u->tab, id, p->p + i, e - i, &id);
		if (rc < 0)
			return rc;
		r = ptab_rec(&u->tab, id);
		if (e == p->len) {
			*leaf = r;
			*live = r->seq > parent_seq;
			return 0;
		}
		if (!(r->seq > parent_seq && (r->cur == T_DIR || r->cur == T_NONE))) {
			/* a missing, dead or non-directory component becomes a fresh directory */
			r->cur = T_NONE;
			r->seq = ++u->seq;
		}
		parent_seq = r->seq;
		i = e + 1;
	}
}

static int tree_err(struct unpack *u, int r, const struct bstr *path)
{
	char s[256];

	if (r == -ENOMEM)
		return unpack_fail(u, r, "out of memory");
	if (r == -ENAMETOOLONG)
		return unpack_fail(
			u, -EPERM, "tarball entry '%s': path too deep", unpack_show(path, s, sizeof(s)));
	return unpack_fail(u, r == -EINVAL ? -EPERM : r, "tarball entry '%s': %s",
		unpack_show(path, s, sizeof(s)), strerror(-r));
}

static int disk_err(struct unpack *u, int r, const char *what, const struct bstr *path)
{
	char s[256];

	return unpack_fail(u, r, "cannot %s '%s': %s", what, unpack_show(path, s, sizeof(s)), strerror(-r));
}

/*
 * Count n bytes an entry is about to write against the quota and the
 * unpacked ceiling, whatever the entry type: a hardlink copy writes as much
 * as the file it copies.  Hash-only runs count the same way.
 */
static int charge(struct unpack *u, uint64_t n)
{
	if (u->max_bytes && (n > u->max_bytes || u->written > u->max_bytes - n))
		return unpack_fail(u, -EFBIG, "unpacked size exceeds the limit of %" PRIu64 " bytes",
			u->max_bytes);
	if (u->max_unpacked != UINT64_MAX &&
		(n > u->max_unpacked || u->written > u->max_unpacked - n))
		return unpack_fail(u, -E2BIG,
			"unpacked size exceeds the ceiling of %" PRIu64 " bytes (max_unpacked%s)",
			u->max_unpacked, u->ratio_guard ? ", built-in default" : "");
	u->written += n;
	return 0;
}

/* An observer's error at the entry p. */
static int obs_err(struct unpack *u, int r, const struct bstr *p)
{
	char s[256];

	return unpack_fail(u, r, "seek index: at '%s': %s", unpack_show(p, s, sizeof(s)),
		strerror(-r));
}

/* A regular file: data written to disk (unless hashing only) and into the blob hash. */
static int do_file(struct unpack *u, const struct hdr *h, const struct bstr *p, bool exec)
{
	uint8_t oid[HASH_SHA1_LEN];
	uint64_t left = h->size, start = u->offset;
	const void *d = NULL;
	size_t n = 0;
	int pfd, fd = -1, r;
	bool keep;

	if (u->dirfd >= 0) {
		r = parent_fd(u, p, &pfd);
		if (r == 0)
			r = clear_leaf(u, pfd, base_name(p), T_FILE, &keep);
		if (r == 0) {
			fd = openat(pfd, base_name(p),
				O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
				exec ? 0755 : 0644);
			if (fd < 0)
				r = -errno;
		}
		if (r < 0)
			return disk_err(u, r, "create", p);
	}
	/* The ceilings, checked before a byte of the file is written. */
	r = charge(u, h->size);
	if (r < 0) {
		if (fd >= 0)
			close(fd);
		return r;
	}
	r = hash_git_blob_start(u->blob, h->size);
	while (r == 0 && left > 0) {
		r = tar_in_span(u, left, &d, &n);
		if (r < 0)
			break;
		left -= n;
		r = hash_ctx_update(u->blob, d, n);
		if (r < 0)
			break;
		if (fd >= 0) {
			r = io_write_all(fd, d, n);
			if (r < 0)
				r = disk_err(u, r, "write", p);
		}
	}
	if (r == 0 && fd >= 0 && fchmod(fd, exec ? 0755 : 0644) < 0)
		r = disk_err(u, -errno, "chmod", p);
	if (fd >= 0 && close(fd) < 0 && r == 0)
		r = disk_err(u, -errno, "write", p);
	if (r == 0)
		r = tar_in_skip(u, tar_pad512(h->size));
	if (r == 0)
		r = hash_ctx_final(u->blob, oid);
	if (r == 0) {
		r = tree_builder_add_file(u->tb, p->p, exec, oid);
		if (r < 0)
			return tree_err(u, r, p);
	}
	if (r == 0 && u->obs && u->obs->file) {
		r = u->obs->file(u->obs->arg, oid, start, h->size);
		if (r < 0)
			return obs_err(u, r, p);
	}
	if (r < 0)
		return u->err ? u->err : unpack_fail(u, r, "hashing failed");
	u->bytes += h->size;
	u->files++;
	if (fd >= 0 && !u->wrote_file) {
		u->wrote_file = true;
		if (u->crash_mid_unpack)
			raise(SIGKILL);
	}
	return 0;
}

/*
 * A directory, symlink or hardlink (a copy of the file at target, tsize
 * bytes; self: the hardlink names its own path, and Tar.jl only applies
 * the mode then).
 */
static int do_other(struct unpack *u, const struct hdr *h, enum etype t, const struct bstr *p,
	const struct bstr *target, uint64_t tsize, bool exec)
{
	bool self =
		t == T_HARDLINK && target->len == p->len && memcmp(target->p, p->p, p->len) == 0;
	const char *name = base_name(p);
	bool keep = false;
	int pfd, fd, r = 0;

	/* The ceilings, before anything is written: a copy costs its target's size. */
	if (t == T_SYMLINK)
		r = charge(u, h->link.len);
	else if (t == T_HARDLINK && !self)
		r = charge(u, tsize);
	if (r < 0)
		return r;
	/* A copy is output without input: the ratio guard counts it at once. */
	if (t == T_HARDLINK && !self) {
		u->copied += tsize;
		if ((r = tar_ratio_check(u)) < 0)
			return r;
	}
	if (u->dirfd >= 0) {
		r = parent_fd(u, p, &pfd);
		if (r == 0 && !self)
			r = clear_leaf(u, pfd, name, t, &keep);
		if (r == 0 && t == T_DIR && !keep) {
			r = open_dir(u, pfd, name, &fd);
			if (r == 0)
				close(fd);
		} else if (r == 0 && t == T_SYMLINK) {
			if (symlinkat(h->link.p, pfd, name) < 0)
				r = -errno;
		} else if (r == 0 && self) {
			if (fchmodat(pfd, name, exec ? 0755 : 0644, 0) < 0)
				r = -errno;
		} else if (r == 0 && t == T_HARDLINK) {
			fd = openat(pfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
				exec ? 0755 : 0644);
			if (fd < 0)
				r = -errno;
			if (r == 0)
				r = copy_file(u, target, fd, tsize);
			if (r == 0 && fchmod(fd, exec ? 0755 : 0644) < 0)
				r = -errno;
			if (fd >= 0 && close(fd) < 0 && r == 0)
				r = -errno;
		}
		if (r < 0)
			return disk_err(u, r, "create", p);
	}
	if (t == T_DIR)
		r = tree_builder_add_dir(u->tb, p->p);
	else if (t == T_SYMLINK)
		r = tree_builder_add_symlink(u->tb, p->p, h->link.p, h->link.len);
	else
		r = tree_builder_add_hardlink(u->tb, p->p, target->p, exec);
	if (r < 0)
		return tree_err(u, r, p);
	if (t == T_SYMLINK && u->obs && u->obs->link) {
		r = u->obs->link(u->obs->arg, h->link.p, h->link.len);
		if (r < 0)
			return obs_err(u, r, p);
	}
	if (t != T_DIR)
		u->files++;
	if (t == T_HARDLINK)
		u->bytes += tsize;
	return 0;
}

/* The live record of the normalised path p, or NULL; the model is not changed. */
static struct rec *model_lookup(struct unpack *u, const struct bstr *p)
{
	uint64_t parent_seq = 0;
	uint32_t id = 0;
	struct rec *r;
	size_t i = 0, e;

	for (;;) {
		e = comp_end(p, i);
		id = ptab_find(&u->tab, id, p->p + i, e - i);
		if (!id)
			return NULL;
		r = ptab_rec(&u->tab, id);
		if (r->seq <= parent_seq)
			return NULL;
		if (e == p->len)
			return r;
		if (r->cur != T_DIR && r->cur != T_NONE)
			return NULL;
		parent_seq = r->seq;
		i = e + 1;
	}
}

/* Tar.jl's symlink attack guard: no path through an earlier symlink entry. */
static int check_prefixes(struct unpack *u, const struct hdr *h, const struct bstr *p)
{
	char s1[256], s2[256];
	uint32_t id = 0;
	size_t i = 0, e;

	if (!u->any_symlink)
		return 0;
	for (e = comp_end(p, i); e < p->len; i = e + 1, e = comp_end(p, i)) {
		/* Tar.jl's view: a symlink entry still counts after its parent was replaced */
		id = ptab_find(&u->tab, id, p->p + i, e - i);
		if (!id)
			return 0; /* nothing below an unseen path was seen either */
		if (ptab_rec(&u->tab, id)->tarjl == T_SYMLINK) {
			struct bstr pre = {p->p, e};

			return unpack_fail(u, -EPERM,
				"unsafe tarball entry '%s': path through the "
				"symlink '%s' (refusing to extract, possible attack)",
				unpack_show(&h->path, s1, sizeof(s1)), unpack_show(&pre, s2, sizeof(s2)));
		}
	}
	return 0;
}

/*
 * Julia joins every entry path to the install directory and makes it with
 * one system call, so a path beyond PATH_MAX cannot be installed by Julia;
 * refusing long and deep paths here, before the path table sees them,
 * also bounds the work per entry.
 */
static int check_path_size(struct unpack *u, const struct hdr *h, const struct bstr *p)
{
	size_t depth = 1, i;
	char s[256];

	if (p->len > PATH_LEN_MAX)
		return unpack_fail(u, -EPERM,
			"unsafe tarball entry '%s': path too long (%zu bytes, at most %u)",
			unpack_show(&h->path, s, sizeof(s)), p->len, PATH_LEN_MAX);
	for (i = 0; i < p->len; i++)
		depth += p->p[i] == '/';
	if (depth > PATH_DEPTH_MAX)
		return unpack_fail(u, -EPERM,
			"unsafe tarball entry '%s': path too deep (%zu components, at most %u)",
			unpack_show(&h->path, s, sizeof(s)), depth, PATH_DEPTH_MAX);
	return 0;
}

/* read_tarball's per-entry work: normalise, check, record, then extract and hash. */
static int do_entry(struct unpack *u, struct hdr *h)
{
	enum etype t = tar_etype_of(h->type);
	struct bstr p = {0}, target = {0};
	struct rec *leaf, *trec;
	const char *why;
	char s1[256], s2[256];
	bool live, exec = (h->mode & 0100) != 0;
	uint64_t tsize = 0;
	int e = 0;

	why = tar_check_header(h, s2, sizeof(s2));
	if (why) {
		e = unpack_fail(u, -EPERM, "unsafe tarball entry '%s': %s", unpack_show(&h->path, s1, sizeof(s1)),
			why);
		goto out;
	}
	if (tar_normalize(&h->path, &p) < 0 || (t == T_HARDLINK && tar_normalize(&h->link, &target) < 0)) {
		e = unpack_fail(u, -ENOMEM, "out of memory");
		goto out;
	}
	e = check_path_size(u, h, &p);
	if (e == 0)
		e = check_prefixes(u, h, &p);
	if (e < 0 || p.len == 0)
		goto out; /* p.len == 0: the root ("./"), necessarily a directory */
	if (t == T_HARDLINK) {
		trec = model_lookup(u, &target);
		if (!trec || trec->cur != T_FILE) {
			e = unpack_fail(u, -EPERM,
				"unsafe tarball entry '%s': hardlink to %s '%s' (only "
				"an earlier regular file may be linked)",
				unpack_show(&h->path, s1, sizeof(s1)),
				!trec ? "a non-existent target" : tar_etype_name(trec->cur),
				unpack_show(&h->link, s2, sizeof(s2)));
			goto out;
		}
		tsize = trec->size;
	}
	e = model_walk(u, &p, &leaf, &live);
	if (e < 0) {
		e = unpack_fail(u, e, "%s",
			e == -E2BIG ? "tarball has too many distinct paths" : "out of memory");
		goto out;
	}
	if (t == T_DIR && live && (leaf->cur == T_DIR || leaf->cur == T_NONE)) {
		/* a directory over a directory: Tar.jl keeps it and what it holds */
		leaf->cur = T_DIR;
		leaf->tarjl = T_DIR;
		goto out;
	}
	if (t == T_FILE)
		e = do_file(u, h, &p, exec);
	else
		e = do_other(u, h, t, &p, &target, tsize, exec);
	if (e < 0)
		goto out;
	leaf->seq = ++u->seq; /* replaced: everything that was below it is dead now */
	leaf->cur = (unsigned char)t;
	leaf->tarjl = (unsigned char)t;
	leaf->size = t == T_FILE ? h->size : tsize;
	if (t == T_SYMLINK)
		u->any_symlink = true;
out:
	unpack_bstr_free(&p);
	unpack_bstr_free(&target);
	return e;
}

/* --- the whole stream ----------------------------------------------------------------- */

static int finish(struct unpack *u, struct fetch_digests *ret)
{
	struct fetch_digests d;
	int r;

	memset(&d, 0, sizeof(d));
	/* stop_at_end: the caller may read on, and finishes the sha256 itself */
	r = u->stop_at_end ? 0 : fetch_stream_sha256(u->in, d.sha256);
	if (r == 0)
		r = tree_builder_final(u->tb, 0, d.tree);
	if (r == 0)
		r = tree_builder_final(u->tb, TREE_LEGACY_SYMLINKS, d.tree_legacy);
	if (r == 0)
		r = tree_builder_final(u->tb, TREE_KEEP_EMPTY, d.tree_keep_empty);
	if (r == 0)
		r = tree_builder_final(u->tb, TREE_TARJL, d.tree_tarjl);
	if (r < 0)
		return unpack_fail(u, r, "cannot compute the tree hash: %s", strerror(-r));
	if (u->obs && u->obs->tree) {
		r = u->obs->tree(u->obs->arg, u->tb);
		if (r < 0)
			return unpack_fail(u, r, "seek index: %s", strerror(-r));
	}
	d.tarball_bytes = fetch_stream_bytes(u->in);
	d.bytes = u->bytes;
	d.files = u->files;
	d.compression = pipeline_codec(u->pipe);
	d.complete = !u->stop_at_end;
	*ret = d;
	return 0;
}

int fetch_unpack(struct fetch_stream *in, int dirfd, struct fetch_digests *ret, char **errmsg)
{
	return fetch_unpack_ex(in, dirfd, NULL, ret, errmsg);
}

int fetch_unpack_max(struct fetch_stream *in, int dirfd, uint64_t max_bytes,
	struct fetch_digests *ret, char **errmsg)
{
	struct fetch_unpack_limits lim = {.max_bytes = max_bytes};

	return fetch_unpack_ex(in, dirfd, &lim, ret, errmsg);
}

int fetch_unpack_ex(struct fetch_stream *in, int dirfd, const struct fetch_unpack_limits *lim,
	struct fetch_digests *ret, char **errmsg)
{
	static const struct fetch_unpack_limits deflt;
	struct unpack u;
	struct hdr h = {0};
	const char *crash = getenv("ARTIFACTFS_CRASH_AT");
	bool end = false;
	int r;

	if (errmsg)
		*errmsg = NULL;
	memset(&u, 0, sizeof(u));
	if (!lim)
		lim = &deflt;
	u.in = in;
	u.max_bytes = lim->max_bytes;
	u.max_unpacked = lim->max_unpacked ? lim->max_unpacked : FETCH_MAX_UNPACKED_DEFAULT;
	u.ratio_guard = lim->max_unpacked == 0;
	u.stop_at_end = lim->stop_at_end;
	u.dirfd = dirfd;
	u.obs = lim->observer;
	u.cache_fd = -1;
	u.crash_mid_unpack = crash && strcmp(crash, "mid-unpack") == 0;
	buf_init(&u.msg, ERRMSG_MAX);
	r = tree_builder_new(&u.tb);
	if (r == 0)
		r = hash_ctx_new(HASH_SHA1, &u.blob);
	if (r < 0) {
		unpack_fail(&u, r, "cannot set up hashing: %s", strerror(-r));
		goto out;
	}
	r = tar_open_input(&u);
	while (r == 0) {
		r = tar_read_hdr(&u, &h, &end);
		if (r < 0 || end)
			break;
		r = do_entry(&u, &h);
	}
	if (r == 0 && !u.stop_at_end)
		r = tar_drain(&u);
	/* every stage stops here, on success or on the first error: the stream is ours again */
	if (u.pipe)
		pipeline_stop(u.pipe);
	if (r == 0)
		r = finish(&u, ret);
out:
	if (r < 0 && errmsg)
		*errmsg = buf_detach(&u.msg, NULL);
	unpack_bstr_free(&h.path);
	unpack_bstr_free(&h.link);
	unpack_bstr_free(&u.g_path);
	unpack_bstr_free(&u.g_link);
	unpack_bstr_free(&u.g_size);
	cache_drop(&u);
	ptab_release(&u.tab);
	tree_builder_free(u.tb);
	hash_ctx_free(u.blob);
	free(u.copybuf);
	pipeline_free(u.pipe);
	buf_release(&u.msg);
	return r < 0 ? (u.err ? u.err : r) : 0;
}

int fetch_hash_tarball(int fd, const char *path, struct fetch_digests *ret, char **errmsg)
{
	return fetch_hash_tarball_obs(fd, path, NULL, ret, errmsg);
}

int fetch_hash_tarball_obs(int fd, const char *path, const struct fetch_unpack_observer *obs,
	struct fetch_digests *ret, char **errmsg)
{
	/* nothing is written: no ceiling on the bytes, a bomb only costs time */
	const struct fetch_unpack_limits nolimit = {.max_unpacked = UINT64_MAX, .observer = obs};
	struct fetch_stream *s = NULL;
	int own = -1, r;

	if (errmsg)
		*errmsg = NULL;
	if (fd < 0) {
		own = fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
		if (fd < 0) {
			r = -errno;
			if (errmsg &&
				asprintf(errmsg, "cannot open '%s': %s", path, strerror(-r)) < 0)
				*errmsg = NULL;
			return r;
		}
	}
	r = fetch_stream_open_fd(fd, path, NULL, &s);
	if (r == 0)
		r = fetch_unpack_ex(s, -1, &nolimit, ret, errmsg);
	else if (errmsg)
		*errmsg = strdup(strerror(-r));
	fetch_stream_free(s);
	if (own >= 0)
		close(own);
	return r;
}

int fetch_hash_url(
	const char *url, const struct fetch_options *o, struct fetch_digests *ret, char **errmsg)
{
	static const struct fetch_unpack_limits nolimit = {.max_unpacked = UINT64_MAX};
	struct fetch_stream *s = NULL;
	unsigned attempt, delay = o->retry_delay_ms;
	bool again;
	int r;

	for (attempt = 1;; attempt++) {
		*errmsg = NULL;
		r = fetch_stream_open_url(url, o, &s, errmsg);
		if (r < 0)
			return r;
		r = fetch_unpack_ex(s, -1, &nolimit, ret, errmsg);
		again = r < 0 && fetch_stream_error(s) < 0 && fetch_stream_retryable(s) &&
			attempt < o->attempts;
		fetch_stream_free(s);
		s = NULL;
		if (!again)
			return r;
		free(*errmsg);
		usleep((useconds_t)delay * 1000);
		delay *= 2;
	}
}
