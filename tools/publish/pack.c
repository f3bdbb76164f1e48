/*
 * pack.c - deterministic artifact tarballs in Tar.jl's canonical form: the
 * walk and the entry points
 *
 * The tar stream is formatted by this project, block by block, exactly as
 * JuliaIO/Tar.jl src/create.jl writes it (write_tarball, write_header,
 * write_extended_header, write_standard_header); pack_out.c compresses it
 * (pgz.c, libzstd, libarchive's raw format for xz).  One pass: each file is read once, its bytes
 * go to the git blob hash and to the tar stream, and the compressed bytes go
 * to the sha256 and to the output.  See tools/publish/pack.h.
 *
 * This file walks the directory (names in byte order, depth first, paths,
 * files, symlinks, progress), runs pack_write() and pack_create() (the
 * temporary output file and its rename) and keeps the messages; pack_tar.c
 * formats the header blocks, pack_out.c compresses and writes (pack_int.h).
 */
#include "tools/publish/pack_int.h"

#include "fetch/tar.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define BLOCK TAR_BLOCK
#define PROGRESS_STEP (1u << 20) /* report about every MiB of content */

/* ---- messages ------------------------------------------------------------- */

int pack_failf(struct packer *pk, int r, const char *fmt, ...)
{
	va_list ap;

	if (pk->errmsg)
		return r;
	va_start(ap, fmt);
	if (vasprintf(&pk->errmsg, fmt, ap) < 0)
		pk->errmsg = NULL;
	va_end(ap);
	return r;
}

/* The current entry for messages: "<root>/<path>", or "<root>" itself. */
static const char *cur_path(struct packer *pk)
{
	free(pk->shown);
	pk->shown = NULL;
	if (!pk->plen)
		return pk->root;
	if (asprintf(&pk->shown, "%s/%s", pk->root, pk->path) < 0) {
		pk->shown = NULL;
		return pk->path;
	}
	return pk->shown;
}

/* Set *msg to a formatted message (NULL when out of memory). */
static void set_msg(char **msg, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_msg(char **msg, const char *fmt, ...)
{
	va_list ap;

	free(*msg);
	va_start(ap, fmt);
	if (vasprintf(msg, fmt, ap) < 0)
		*msg = NULL;
	va_end(ap);
}

/* ---- walking the tree ----------------------------------------------------------- */

/* Set the path to parent (the first plen bytes) + "/" + name. */
static int path_push(struct packer *pk, size_t plen, const char *name)
{
	size_t n = strlen(name), need = plen + 1 + n + 1;
	char *p;

	if (need > pk->pcap) {
		size_t cap = pk->pcap ? pk->pcap : 256;

		while (cap < need)
			cap *= 2;
		p = realloc(pk->path, cap);
		if (!p)
			return pack_failf(pk, -ENOMEM, "out of memory");
		pk->path = p;
		pk->pcap = cap;
	}
	if (plen)
		pk->path[plen++] = '/';
	memcpy(pk->path + plen, name, n + 1);
	pk->plen = plen + n;
	return 0;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void free_names(char **names, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

/*
 * The names in directory dfd, sorted byte-wise (Tar.jl: sort!(keys)).  The
 * fd is not consumed: the listing reads a duplicate.
 */
static int list_dir(struct packer *pk, int dfd, char ***ret, size_t *nret)
{
	char **names = NULL, **p;
	size_t n = 0, cap = 0;
	struct dirent *de;
	DIR *d;
	int fd, r = 0;

	fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || !(d = fdopendir(fd))) {
		r = -errno;
		if (fd >= 0)
			close(fd);
		return pack_failf(pk, r, "cannot read '%s': %s", cur_path(pk), strerror(-r));
	}
	for (;;) {
		errno = 0;
		de = readdir(d);
		if (!de) {
			if (errno)
				r = pack_failf(pk, -errno, "cannot read '%s': %s", cur_path(pk),
					strerror(errno));
			break;
		}
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (n == cap) {
			cap = cap ? 2 * cap : 32;
			p = realloc(names, cap * sizeof(*names));
			if (!p) {
				r = pack_failf(pk, -ENOMEM, "out of memory");
				break;
			}
			names = p;
		}
		names[n] = strdup(de->d_name);
		if (!names[n]) {
			r = pack_failf(pk, -ENOMEM, "out of memory");
			break;
		}
		n++;
	}
	closedir(d);
	if (r < 0) {
		free_names(names, n);
		return r;
	}
	if (n)
		qsort(names, n, sizeof(*names), cmp_names);
	*ret = names;
	*nret = n;
	return 0;
}

static const char *type_name(mode_t m)
{
	if (S_ISFIFO(m))
		return "a fifo";
	if (S_ISSOCK(m))
		return "a socket";
	if (S_ISCHR(m))
		return "a character device";
	if (S_ISBLK(m))
		return "a block device";
	return "of an unknown type";
}

static int emit_header(struct packer *pk, char type, unsigned mode, uint64_t size, const char *link)
{
	uint8_t stackbuf[3 * BLOCK], *buf = stackbuf;
	size_t bufsize = sizeof(stackbuf);
	long n;
	int r;

	n = pack_tar_header(buf, bufsize, pk->path, type, mode, size, link);
	if (n == -ENOBUFS) {
		bufsize = 3 * BLOCK + pk->plen + (link ? strlen(link) : 0);
		bufsize = (bufsize + BLOCK - 1) / BLOCK * BLOCK;
		buf = malloc(bufsize);
		if (!buf)
			return pack_failf(pk, -ENOMEM, "out of memory");
		n = pack_tar_header(buf, bufsize, pk->path, type, mode, size, link);
	}
	if (n < 0)
		r = pack_failf(pk, (int)n, "cannot write a header for '%s'", cur_path(pk));
	else
		r = pack_out_tar(pk, buf, (size_t)n);
	if (buf != stackbuf)
		free(buf);
	return r;
}

static void report_progress(struct packer *pk, bool last)
{
	if (!pk->progress)
		return;
	if (last || pk->done >= pk->next_report) {
		pk->progress(pk->done, pk->total, pk->parg);
		pk->next_report = pk->done + PROGRESS_STEP;
	}
}

/* A regular file: header, then its bytes, hashed as they stream by. */
static int pack_file(struct packer *pk, int dfd, const char *name)
{
	static const uint8_t zeros[BLOCK];
	uint8_t oid[HASH_SHA1_LEN];
	uint64_t size, left;
	struct stat st;
	bool exec;
	ssize_t n;
	int fd, r;

	fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		r = -errno;
		return pack_failf(pk, r, "cannot open '%s': %s", cur_path(pk), strerror(-r));
	}
	if (fstat(fd, &st) < 0) {
		r = -errno;
		r = pack_failf(pk, r, "cannot stat '%s': %s", cur_path(pk), strerror(-r));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		r = pack_failf(pk, -EIO, "'%s' changed while being packed", cur_path(pk));
		goto out;
	}
	posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	size = (uint64_t)st.st_size;
	exec = st.st_mode & S_IXUSR;
	r = emit_header(pk, '0', exec ? 0755 : 0644, size, NULL);
	if (r < 0)
		goto out;
	r = hash_git_blob_start(pk->blob, size);
	if (r < 0)
		goto out;
	for (left = size; left;) {
		n = read(fd, pk->rbuf, left < PACK_IO_SIZE ? (size_t)left : PACK_IO_SIZE);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = -errno;
			r = pack_failf(pk, r, "cannot read '%s': %s", cur_path(pk), strerror(-r));
			goto out;
		}
		if (n == 0) {
			r = pack_failf(pk, -EIO, "'%s' shrank while being packed", cur_path(pk));
			goto out;
		}
		if ((r = hash_ctx_update(pk->blob, pk->rbuf, (size_t)n)) < 0 ||
			(r = pack_out_tar(pk, pk->rbuf, (size_t)n)) < 0)
			goto out;
		left -= (uint64_t)n;
		pk->done += (uint64_t)n;
		report_progress(pk, false);
	}
	do
		n = read(fd, pk->rbuf, 1);
	while (n < 0 && errno == EINTR);
	if (n != 0) {
		r = n > 0 ? -EIO : -errno;
		r = pack_failf(pk, r, n > 0 ? "'%s' grew while being packed" : "cannot read '%s'",
			cur_path(pk));
		goto out;
	}
	if (size % BLOCK && (r = pack_out_tar(pk, zeros, BLOCK - size % BLOCK)) < 0)
		goto out;
	if ((r = hash_ctx_final(pk->blob, oid)) < 0 ||
		(r = tree_builder_add_file(pk->tb, pk->path, exec, oid)) < 0) {
		r = pack_failf(pk, r, "cannot hash '%s': %s", cur_path(pk), strerror(-r));
		goto out;
	}
	pk->res.files++;
	pk->res.bytes += size;
out:
	close(fd);
	return r;
}

static int pack_symlink(struct packer *pk, int dfd, const char *name, size_t hint)
{
	size_t cap = hint + 1 > 256 ? hint + 1 : 256;
	char *target = NULL, *p;
	ssize_t n;
	int r;

	for (;;) {
		p = realloc(target, cap);
		if (!p) {
			r = pack_failf(pk, -ENOMEM, "out of memory");
			goto out;
		}
		target = p;
		n = readlinkat(dfd, name, target, cap);
		if (n < 0) {
			r = -errno;
			r = pack_failf(pk, r, "cannot read link '%s': %s", cur_path(pk),
				strerror(-r));
			goto out;
		}
		if ((size_t)n < cap)
			break;
		cap *= 2;
	}
	target[n] = '\0';
	if (n == 0) {
		r = pack_failf(pk, -EIO, "symlink '%s' has an empty target", cur_path(pk));
		goto out;
	}
	r = emit_header(pk, '2', 0755, 0, target);
	if (r == 0 && (r = tree_builder_add_symlink(pk->tb, pk->path, target, (size_t)n)) < 0)
		r = pack_failf(pk, r, "cannot hash '%s': %s", cur_path(pk), strerror(-r));
	if (r == 0)
		pk->res.files++;
out:
	free(target);
	return r;
}

/*
 * What the walk does with one entry below a directory: <0 stops the walk
 * with that error, 0 goes on, 1 enters the entry (a directory).
 */
typedef int (*visit_fn)(struct packer *pk, int dfd, const char *name, const struct stat *st);

/*
 * One directory: its children in name order, depth first, each given to
 * visit.  A subdirectory is entered with openat(O_NOFOLLOW) from its
 * parent's fd, so a symlink swapped in after the lstat is not followed.
 * strict: an entry that cannot be stat'ed or opened is an error (the real
 * walk); otherwise it is skipped (the progress scan: the real walk reports it).
 */
static int walk_dir(struct packer *pk, int dfd, unsigned depth, visit_fn visit, bool strict)
{
	size_t i, n = 0, plen = pk->plen;
	char **names = NULL;
	struct stat st;
	int fd, r;

	if (depth >= TREE_MAX_DEPTH)
		return pack_failf(pk, -ENAMETOOLONG, "'%s' is nested too deeply", cur_path(pk));
	r = list_dir(pk, dfd, &names, &n);
	for (i = 0; i < n && r == 0; i++) {
		if ((r = path_push(pk, plen, names[i])) < 0)
			break;
		if (fstatat(dfd, names[i], &st, AT_SYMLINK_NOFOLLOW) < 0) {
			r = -errno;
			r = strict ? pack_failf(pk, r, "cannot stat '%s': %s", cur_path(pk),
						strerror(-r))
				   : 0;
			continue;
		}
		r = visit(pk, dfd, names[i], &st);
		if (r <= 0)
			continue;
		r = 0;
		fd = openat(dfd, names[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0) {
			r = -errno;
			r = strict ? pack_failf(pk, r, "cannot open '%s': %s", cur_path(pk),
						strerror(-r))
				   : 0;
			continue;
		}
		r = walk_dir(pk, fd, depth + 1, visit, strict);
		close(fd);
	}
	pk->plen = plen;
	if (pk->path)
		pk->path[plen] = '\0';
	free_names(names, n);
	return r;
}

/* The real walk: each entry emitted and hashed (directories before their children). */
static int pack_visit(struct packer *pk, int dfd, const char *name, const struct stat *st)
{
	int r;

	if (strcmp(name, ".git") == 0)
		pk->res.dotgit++;
	if (S_ISREG(st->st_mode))
		return pack_file(pk, dfd, name);
	if (S_ISLNK(st->st_mode))
		return pack_symlink(pk, dfd, name, (size_t)st->st_size);
	if (!S_ISDIR(st->st_mode))
		return pack_failf(pk, -ENOTSUP,
			"'%s' is %s: only files, directories and symlinks can be packed",
			cur_path(pk), type_name(st->st_mode));
	r = emit_header(pk, '5', 0755, 0, NULL);
	if (r == 0 && (r = tree_builder_add_dir(pk->tb, pk->path)) < 0)
		r = pack_failf(pk, r, "cannot hash '%s': %s", cur_path(pk), strerror(-r));
	if (r < 0)
		return r;
	pk->res.dirs++;
	return 1;
}

/* The progress total: regular file bytes below the root (lstat only). */
static int scan_visit(struct packer *pk, int dfd, const char *name, const struct stat *st)
{
	if (S_ISREG(st->st_mode))
		pk->total += (uint64_t)st->st_size;
	return S_ISDIR(st->st_mode) ? 1 : 0;
}

/* ---- entry points ------------------------------------------------------------------ */

static void packer_release(struct packer *pk)
{
	pack_out_release(pk);
	hash_ctx_free(pk->sha256);
	hash_ctx_free(pk->blob);
	tree_builder_free(pk->tb);
	free(pk->rbuf);
	free(pk->path);
	free(pk->shown);
	free(pk->errmsg);
}

/* pack_write() with the name to show for dir in messages. */
static int pack_run(int dirfd, const char *dir, const char *shown, int outfd,
	const struct pack_opts *opts, struct pack_result *ret, char **errmsg)
{
	static const struct pack_opts defaults = {.compress = PACK_COMPRESS_GZIP, .level = -1};
	struct packer pk = {.outfd = outfd, .root = shown};
	enum pack_compress c;
	int fd = -1, r;

	if (errmsg)
		*errmsg = NULL;
	opts = opts ? opts : &defaults;
	c = opts->compress;
	pk.progress = opts->progress;
	pk.parg = opts->progress_arg;
	if (c == PACK_COMPRESS_AUTO || !dir) {
		r = pack_failf(&pk, -EINVAL, "invalid arguments: %s",
			dir ? "no compression given" : "no directory");
		goto out;
	}
	if ((r = hash_ctx_new(HASH_SHA256, &pk.sha256)) < 0 ||
		(r = hash_ctx_new(HASH_SHA1, &pk.blob)) < 0 || (r = tree_builder_new(&pk.tb)) < 0) {
		r = pack_failf(&pk, r, "cannot set up hashing: %s", strerror(-r));
		goto out;
	}
	pk.rbuf = malloc(PACK_IO_SIZE);
	pk.obuf = c == PACK_COMPRESS_NONE ? malloc(PACK_IO_SIZE) : NULL;
	if (!pk.rbuf || (c == PACK_COMPRESS_NONE && !pk.obuf)) {
		r = pack_failf(&pk, -ENOMEM, "out of memory");
		goto out;
	}
	fd = openat(dirfd, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		r = pack_failf(&pk, r, "cannot open '%s': %s", shown, strerror(-r));
		goto out;
	}
	if (pk.progress) {
		r = walk_dir(&pk, fd, 0, scan_visit, false);
		if (r < 0)
			goto out;
		pk.next_report = 0;
		report_progress(&pk, true);
	}
	if ((r = pack_out_open(&pk, c, opts->level,
		     opts->jobs > 0 ? opts->jobs : pack_default_jobs())) < 0)
		goto out;

	r = walk_dir(&pk, fd, 0, pack_visit, true);
	if (r < 0)
		goto out;
	if (pk.tar_bytes == 0) {
		/* An empty root is a single "." directory entry (Tar.jl write_tarball). */
		if ((r = path_push(&pk, 0, ".")) < 0 ||
			(r = emit_header(&pk, '5', 0755, 0, NULL)) < 0)
			goto out;
		pk.plen = 0;
		pk.res.dirs++;
	}
	if ((r = pack_out_close(&pk)) < 0)
		goto out;
	if ((r = hash_ctx_final(pk.sha256, pk.res.sha256)) < 0 ||
		(r = tree_builder_final(pk.tb, 0, pk.res.tree)) < 0 ||
		(r = tree_builder_final(pk.tb, TREE_TARJL, pk.res.tree_tarjl)) < 0) {
		r = pack_failf(&pk, r, "cannot compute the tree hash: %s", strerror(-r));
		goto out;
	}
	report_progress(&pk, true);
	pk.res.size = pk.out_bytes;
	pk.res.tar_bytes = pk.tar_bytes;
	pk.res.compress = c;
	*ret = pk.res;
	r = 0;
out:
	if (fd >= 0)
		close(fd);
	if (r < 0 && errmsg) {
		*errmsg = pk.errmsg ? pk.errmsg : strdup(strerror(-r));
		pk.errmsg = NULL;
	}
	packer_release(&pk);
	return r;
}

int pack_write(int dirfd, const char *dir, int outfd, const struct pack_opts *opts,
	struct pack_result *ret, char **errmsg)
{
	return pack_run(dirfd, dir, dir ? dir : "", outfd, opts, ret, errmsg);
}

/*
 * Whether the directory dfd lies inside (or is) the directory with st_dev
 * and st_ino of top: walk up through "..", comparing, until the root.
 */
static int is_inside(int dfd, const struct stat *top)
{
	struct stat st, up;
	int fd, next, r = 0;
	unsigned i;

	fd = dup(dfd);
	if (fd < 0)
		return -errno;
	for (i = 0; i < 4096; i++) {
		if (fstat(fd, &st) < 0) {
			r = -errno;
			break;
		}
		if (st.st_dev == top->st_dev && st.st_ino == top->st_ino) {
			r = 1;
			break;
		}
		if (fstatat(fd, "..", &up, 0) < 0) {
			r = -errno;
			break;
		}
		if (up.st_dev == st.st_dev && up.st_ino == st.st_ino)
			break; /* the root */
		next = openat(fd, "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (next < 0) {
			r = -errno;
			break;
		}
		close(fd);
		fd = next;
	}
	close(fd);
	return r;
}

int pack_create(const char *dir, const char *out, const struct pack_opts *opts,
	struct pack_result *ret, char **errmsg)
{
	struct pack_opts o = {.compress = PACK_COMPRESS_AUTO, .level = -1};
	char *odir = NULL, *tmp = NULL, *msg = NULL;
	const char *base, *slash;
	int dfd = -1, ofd = -1, fd = -1, r;
	struct stat top;
	unsigned i;

	if (errmsg)
		*errmsg = NULL;
	if (!dir || !out || !*out) {
		r = -EINVAL;
		msg = strdup("invalid arguments: no directory or output");
		goto out;
	}
	if (opts)
		o = *opts;
	if (o.compress == PACK_COMPRESS_AUTO)
		o.compress = pack_compress_from_name(out);

	slash = strrchr(out, '/');
	base = slash ? slash + 1 : out;
	odir = slash ? (slash == out ? strdup("/") : strndup(out, (size_t)(slash - out)))
		     : strdup(".");
	if (!odir) {
		r = -ENOMEM;
		goto out;
	}
	if (!*base) {
		r = -EINVAL;
		set_msg(&msg, "invalid output name '%s'", out);
		goto out;
	}
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0 || fstat(dfd, &top) < 0) {
		r = -errno;
		set_msg(&msg, "cannot open '%s': %s", dir, strerror(-r));
		goto out;
	}
	ofd = open(odir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (ofd < 0) {
		r = -errno;
		set_msg(&msg, "cannot open '%s': %s", odir, strerror(-r));
		goto out;
	}
	r = is_inside(ofd, &top);
	if (r != 0) {
		if (r > 0)
			r = -EINVAL;
		set_msg(&msg,
			r == -EINVAL ? "output '%s' is inside '%s', which would pack "
				       "it into itself"
				     : "cannot check where '%s' is: %s",
			out, r == -EINVAL ? dir : strerror(-r));
		goto out;
	}
	for (i = 0; i < 1000 && fd < 0; i++) {
		free(tmp);
		if (asprintf(&tmp, ".%s.%ld.%u", base, (long)getpid(), i) < 0) {
			tmp = NULL;
			r = -ENOMEM;
			goto out;
		}
		fd = openat(ofd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
		if (fd < 0 && errno != EEXIST)
			break;
	}
	if (fd < 0) {
		r = -errno;
		set_msg(&msg, "cannot create a temporary file in '%s': %s", odir, strerror(-r));
		goto out;
	}

	r = pack_run(dfd, ".", dir, fd, &o, ret, &msg);
	if (r < 0)
		goto out;
	if (fsync(fd) < 0 || close(fd) < 0) {
		r = -errno;
		fd = -1;
		set_msg(&msg, "cannot write '%s': %s", out, strerror(-r));
		goto out;
	}
	fd = -1;
	if (renameat(ofd, tmp, ofd, base) < 0) {
		r = -errno;
		set_msg(&msg, "cannot rename to '%s': %s", out, strerror(-r));
		goto out;
	}
	free(tmp);
	tmp = NULL;
	fsync(ofd); /* durability of the rename; the tarball is complete either way */
	r = 0;
out:
	if (fd >= 0)
		close(fd);
	if (tmp && ofd >= 0)
		unlinkat(ofd, tmp, 0);
	if (ofd >= 0)
		close(ofd);
	if (dfd >= 0)
		close(dfd);
	free(tmp);
	free(odir);
	if (r < 0 && errmsg)
		*errmsg = msg ? msg : strdup(strerror(-r));
	else
		free(msg);
	return r;
}
