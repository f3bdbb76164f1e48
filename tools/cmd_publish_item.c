/*
 * cmd_publish_item.c - artifactctl publish: one artifact, start to end
 *
 * A directory's tree is hashed and looked up among the published sidecars
 * (tools/publish/lookup.h) and, when that tree is there, skipped without
 * packing; otherwise it is packed to an unlinked temporary file (a tarball
 * SOURCE is checked), looked up by its object key (HEAD, then GET of the
 * sidecar) and uploaded unless the same sha256 is there, followed by its
 * sidecar and, for a gzip tarball, its seek index.  A GitHub release holds
 * one asset per artifact and platform (release_siblings()).
 */
#include "tools/artifactctl.h"
#include "tools/cmd_publish.h"

#include "fetch/fetch.h"
#include "store/hash.h"
#include "tools/progress.h"
#include "tools/publish/lookup.h"
#include "tools/publish/pack.h"
#include "tools/publish/sidecar.h"
#include "tools/publish/upload.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SEEKIDX_SUFFIX ".seekidx" /* the seek index beside a tarball, <key>.seekidx */

/* ---- one artifact ------------------------------------------------------------------------ */

/* An unlinked temporary file in $TMPDIR for the packed tarball. */
static int temp_fd(void)
{
	const char *dir = getenv("TMPDIR");
	char *path;
	int fd;

	if (!dir || !*dir)
		dir = "/tmp";
	fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd >= 0 || (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL))
		return fd >= 0 ? fd : -errno;
	if (asprintf(&path, "%s/artifactctl-publish.XXXXXX", dir) < 0)
		return -ENOMEM;
	fd = mkostemp(path, O_CLOEXEC);
	if (fd >= 0)
		unlink(path);
	else
		fd = -errno;
	free(path);
	return fd;
}

/* What each compression's tarball is named and served as; the last: none. */
static const struct {
	const char *compression, *suffix, *type;
} formats[] = {
	{ "gzip", ".tar.gz", "application/gzip" },
	{ "xz", ".tar.xz", "application/x-xz" },
	{ "bzip2", ".tar.bz2", "application/x-bzip2" },
	{ "zstd", ".tar.zst", "application/zstd" },
	{ "", ".tar", "application/x-tar" },
};
#define N_FORMATS (sizeof(formats) / sizeof(formats[0]))

static const char *suffix_of(const char *compression)
{
	size_t i;

	for (i = 0; i < N_FORMATS - 1 && strcmp(compression, formats[i].compression) != 0; i++)
		;
	return formats[i].suffix;
}

static const char *content_type(const char *suffix)
{
	size_t i;

	for (i = 0; i < N_FORMATS - 1 && strcmp(suffix, formats[i].suffix) != 0; i++)
		;
	return formats[i].type;
}

/* Pack the directory (or check the tarball): fd, hashes, size, suffix. */
static int prepare(const struct pub_opts *o, struct item *it)
{
	struct pack_opts po = {
		.compress = PACK_COMPRESS_GZIP, .level = o->level, .jobs = o->pack_jobs};
	struct fetch_digests d;
	struct pack_result pr;
	struct stat st;
	char *msg = NULL, what[512];
	int r;

	it->packed = true;
	if (it->tarball) {
		it->fd = open(it->path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
		if (it->fd < 0 || fstat(it->fd, &st) < 0) {
			r = -errno;
			ctl_warne(r, "cannot open '%s'", it->path);
			return r;
		}
		r = fetch_hash_tarball(it->fd, it->path, &d, &msg);
		if (r < 0) {
			ctl_warnx("'%s' is not a tarball Julia accepts: %s", it->path,
				msg ? msg : strerror(-r));
			free(msg);
			return r;
		}
		if (d.tarball_bytes != (uint64_t)st.st_size) {
			ctl_warnx("'%s' changed while it was read", it->path);
			return -EIO;
		}
		hash_to_hex(d.tree, HASH_SHA1_LEN, it->tree);
		hash_to_hex(d.sha256, HASH_SHA256_LEN, it->sha256);
		it->size = d.tarball_bytes;
		it->suffix = suffix_of(d.compression);
		return 0;
	}
	it->fd = temp_fd();
	if (it->fd < 0) {
		r = it->fd;
		ctl_warne(r, "%s %s: cannot create a temporary file in '%s'", it->name, plat_of(it),
			getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
		return r;
	}
	snprintf(what, sizeof(what), "packing %s %s", it->name, plat_of(it));
	if (pub_bar()->tty) {
		ctl_bar_start(pub_bar(), what);
		po.progress = pub_on_pack_progress;
		po.progress_arg = it;
	}
	r = pack_write(AT_FDCWD, it->path, it->fd, &po, &pr, &msg);
	if (pub_bar()->tty)
		ctl_bar_clear(pub_bar());
	if (r < 0) {
		ctl_warnx("cannot pack '%s': %s", it->path, msg ? msg : strerror(-r));
		free(msg);
		return r;
	}
	hash_to_hex(pr.tree, HASH_SHA1_LEN, it->tree);
	hash_to_hex(pr.sha256, HASH_SHA256_LEN, it->sha256);
	it->size = pr.size;
	it->suffix = pack_compress_suffix(pr.compress);
	return 0;
}

/* The URL of key in u, and the URL to bind (--public-url's, else that one). */
static int name_urls(const struct pub_opts *o, struct upload *u, struct item *it)
{
	int r;

	if ((r = upload_url(u, it->key, &it->url)) < 0) {
		ctl_warnx("cannot name the object of '%s' ('%s'): %s", it->name, it->key,
			strerror(-r));
		return r;
	}
	if (o->public_url)
		r = upload_join_url(o->public_url, it->key, &it->bind_url);
	else
		r = (it->bind_url = strdup(it->url)) ? 0 : -ENOMEM;
	return r;
}

static int name_object(const struct pub_opts *o, struct upload *u, struct item *it)
{
	if (asprintf(&it->key, "%s.%s.%.16s-%.16s%s", it->name, plat_of(it), it->tree, it->sha256,
		    it->suffix) < 0) {
		it->key = NULL;
		return -ENOMEM;
	}
	return name_urls(o, u, it);
}

static int put_sidecar(const struct pub_opts *o, struct upload *u, const struct item *it)
{
	struct sidecar sc = {.size = it->size};
	char created[21], *json = NULL, *key = NULL;
	size_t len;
	int r;

	sc.name = it->name;
	sc.platform = it->triplet;
	memcpy(sc.tree, it->tree, sizeof(sc.tree));
	memcpy(sc.sha256, it->sha256, sizeof(sc.sha256));
	sidecar_now(created);
	sc.created = created;
	sc.tool = (char *)"artifactctl (artifactfs) " ARTIFACTFS_VERSION;
	sc.meta = o->meta; /* borrowed: sidecar_release() is not called */
	if ((r = sidecar_format(&sc, &json, &len)) < 0 || asprintf(&key, "%s.json", it->key) < 0) {
		key = NULL;
		r = r < 0 ? r : -ENOMEM;
		ctl_warne(r, "cannot write the sidecar of '%s'", it->url);
		goto out;
	}
	r = upload_put_buf(u, key, json, len, "application/json");
	if (r < 0)
		ctl_warnx("%s", upload_errmsg(u));
out:
	free(json);
	free(key);
	return r;
}

/* ---- GitHub releases ------------------------------------------------------------ */

struct siblings {
	const struct item *it;
	size_t plen;
	char **keys;
	size_t n;
};

/* NAME.PLATFORM.TREE16-SHA16.tar... (or its sidecar) but for another tree or tarball */
static int on_sibling(void *arg, const char *key, uint64_t size)
{
	struct siblings *s = arg;
	const char *p = key + s->plen;
	size_t n = strlen(s->it->key);
	char **v;

	if (strlen(p) < 37 || strspn(p, "0123456789abcdef") != 16 || p[16] != '-' ||
		strspn(p + 17, "0123456789abcdef") != 16 || strncmp(p + 33, ".tar", 4) != 0 ||
		(strncmp(key, s->it->key, n) == 0 && (!key[n] || strcmp(key + n, ".json") == 0 ||
							     strcmp(key + n, SEEKIDX_SUFFIX) == 0)))
		return 0;
	if (!(v = realloc(s->keys, (s->n + 1) * sizeof(*v))) || !(v[s->n] = strdup(key))) {
		s->keys = v ? v : s->keys;
		return -ENOMEM;
	}
	s->keys = v;
	s->n++;
	return 0;
}

/*
 * A GitHub release holds one asset per artifact and platform: the other
 * NAME.PLATFORM.* assets are an earlier content of this platform in this
 * release.  Without --force they stop the run before anything is
 * uploaded; with it they go (after the new asset is up: when deleted is
 * true).  Other destinations keep every version.
 */
static int release_siblings(
	const struct pub_opts *o, struct upload *u, const struct item *it, bool deleted)
{
	struct siblings s = {.it = it};
	char *prefix = NULL;
	size_t i;
	int r;

	if (upload_kind(u) != UPLOAD_GITHUB)
		return 0;
	if (asprintf(&prefix, "%s.%s.", it->name, plat_of(it)) < 0)
		return -ENOMEM;
	s.plen = strlen(prefix);
	r = upload_list(u, prefix, on_sibling, &s);
	if (r < 0)
		ctl_warnx("%s", upload_errmsg(u));
	for (i = 0; r == 0 && i < s.n; i++) {
		if (!deleted && (!o->force || o->dry_run)) {
			ctl_warnx("%s %s: the release already holds '%s', other contents for "
				  "this platform; %s",
				it->name, plat_of(it), s.keys[i],
				o->force ? "it would be replaced"
					 : "--force replaces it (the Artifacts.toml of "
					   "earlier commits then points at nothing)");
			if (!o->force)
				r = -EEXIST;
		} else if (deleted && (r = upload_delete(u, s.keys[i])) < 0) {
			ctl_warnx("%s", upload_errmsg(u));
		} else if (deleted) {
			ctl_warnx(
				"%s %s: deleted '%s' (--force)", it->name, plat_of(it), s.keys[i]);
		}
	}
	for (i = 0; i < s.n; i++)
		free(s.keys[i]);
	free(s.keys);
	free(prefix);
	return r;
}

/* The URL the destination reports for the object (GitHub: browser_download_url). */
static int public_url(const struct pub_opts *o, struct upload *u, struct item *it)
{
	char *url = NULL;
	int r;

	if (o->public_url)
		return 0;
	if ((r = upload_public_url(u, it->key, &url)) < 0)
		return r;
	free(it->bind_url);
	it->bind_url = url;
	return 0;
}

/* ---- the seek index ------------------------------------------------------------ */

/*
 * it->seek_url: the URL readers fetch <key>.seekidx from, bound as the
 * download's seek_index (--public-url's, else the destination's).
 */
static int name_seek_url(const struct pub_opts *o, struct upload *u, struct item *it)
{
	char *key = NULL, *url = NULL;
	int r;

	if (asprintf(&key, "%s%s", it->key, SEEKIDX_SUFFIX) < 0)
		return -ENOMEM;
	r = o->public_url ? upload_join_url(o->public_url, key, &url)
			  : upload_public_url(u, key, &url);
	free(key);
	if (r < 0)
		return r;
	free(it->seek_url);
	it->seek_url = url;
	return 0;
}

/*
 * The seek index of a gzip tarball (fetch/seekidx.h), uploaded as
 * <key>.seekidx beside it unless it is there already, so that a daemon
 * with per_file=on can serve single files of the artifact.  Built from the
 * local tarball (it->fd).  When have_tarball is false (a directory found
 * published before it was packed), only an index already there is bound.
 * listed: 1 when the listing showed the index there, 0 when it did not
 * (no request is then made), -1 when unknown (HEAD).
 * A failure is a warning: the artifact is published without seek_index.
 * Returns whether it->seek_url is set (an index is there, or wanted and
 * missing when have_tarball is false: false).
 */
static bool put_seekidx(
	const struct pub_opts *o, struct upload *u, struct item *it, bool have_tarball, int listed)
{
	struct upload_stat st;
	uint8_t *idx = NULL;
	char *key = NULL, *msg = NULL;
	size_t len = 0, n;
	int r;

	n = strlen(it->key);
	if (o->no_seek_index || n < 7 || strcmp(it->key + n - 7, ".tar.gz") != 0)
		return true; /* none wanted */
	if (asprintf(&key, "%s%s", it->key, SEEKIDX_SUFFIX) < 0) {
		ctl_warne(-ENOMEM, "%s %s: no seek index", it->name, plat_of(it));
		return true;
	}
	if (listed >= 0) {
		r = 0;
		st.exists = listed > 0;
	} else {
		r = upload_head(u, key, &st);
	}
	if (r == 0 && st.exists && !o->force) {
		r = name_seek_url(o, u, it);
		goto out;
	}
	if (r < 0 || !have_tarball || o->dry_run) {
		if (r < 0)
			ctl_warnx("%s", upload_errmsg(u));
		goto out;
	}
	r = fetch_seekidx_tarball(it->fd, it->path, 0, &idx, &len, NULL, &msg);
	if (r < 0) {
		ctl_warnx("%s %s: no seek index: %s", it->name, plat_of(it),
			msg ? msg : strerror(-r));
		goto out;
	}
	r = upload_put_buf(u, key, idx, len, "application/octet-stream");
	if (r < 0)
		ctl_warnx("%s", upload_errmsg(u));
	else
		r = name_seek_url(o, u, it);
out:
	if (r < 0 && it->seek_url) {
		free(it->seek_url);
		it->seek_url = NULL;
	}
	free(idx);
	free(msg);
	free(key);
	return it->seek_url != NULL || have_tarball || o->dry_run;
}

/* Look up, then upload unless the same bytes are there; prints what happens. */
static int publish_one(const struct pub_opts *o, struct upload *u, struct item *it)
{
	const char *plat = plat_of(it);
	struct upload_stat st;
	char what[512];
	int r;

	r = upload_head(u, it->key, &st);
	if (r < 0) {
		ctl_warnx("%s", upload_errmsg(u));
		return r;
	}
	it->action = ACT_UPLOAD;
	if (st.exists && st.has_sidecar && strcmp(st.sha256, it->sha256) == 0 &&
		st.size == it->size) {
		it->action = ACT_SKIP;
		if (o->force)
			it->action = ACT_UPLOAD;
		ctl_warnx("%s %s: '%s' is already there with sha256 %.16s...%s%s", it->name, plat,
			it->url, it->sha256, o->force ? "; uploading it again (--force)" : "",
			o->dry_run && !o->force ? "; it would not be uploaded" : "");
	} else if (st.exists) {
		ctl_warnx("%s %s: '%s' is there %s; %s", it->name, plat, it->url,
			st.has_sidecar ? "with another sha256" : "without its sidecar",
			o->dry_run ? "it would be uploaded again" : "uploading it again");
	}
	if ((r = release_siblings(o, u, it, false)) < 0)
		return r;
	if (o->dry_run || it->action == ACT_SKIP) {
		r = public_url(o, u, it);
		if (r == 0)
			put_seekidx(o, u, it, true, -1);
		return r;
	}

	snprintf(what, sizeof(what), "uploading %s %s", it->name, plat);
	if (pub_bar()->tty)
		ctl_bar_start(pub_bar(), what);
	pub_upload_begin();
	r = upload_put_fd(
		u, it->key, it->fd, it->size, content_type(it->suffix), pub_on_upload_progress, it);
	pub_upload_end();
	if (pub_bar()->tty)
		ctl_bar_clear(pub_bar());
	if (r < 0) {
		ctl_warnx("%s", upload_errmsg(u));
		return r;
	}
	if (pub_interrupted()) {
		ctl_warnx("interrupted");
		return -ECANCELED;
	}
	if ((r = put_sidecar(o, u, it)) < 0 || (r = public_url(o, u, it)) < 0)
		return r;
	put_seekidx(o, u, it, true, -1);
	return release_siblings(o, u, it, true);
}

/*
 * Before packing a directory: its tree hash, looked up among the published
 * sidecars.  Returns 1 when the artifact is decided (unchanged, or any
 * state with --dry-run), 0 when it is to be packed, -errno on failure.
 */
static int look_before_packing(const struct pub_opts *o, struct upload *u, struct item *it)
{
	struct lookup_result lr;
	uint8_t oid[HASH_SHA1_LEN];
	char *errpath = NULL;
	bool repack = false;
	int r;

	r = tree_hash_dir(it->path, 0, oid, &errpath);
	if (r < 0) {
		ctl_warne(r, "cannot hash '%s'", errpath ? errpath : it->path);
		free(errpath);
		return r;
	}
	hash_to_hex(oid, HASH_SHA1_LEN, it->tree);
	r = lookup_published(u, it->name, it->triplet, it->tree, &lr);
	if (r == -EOPNOTSUPP)
		return 0; /* http(s) cannot list: pack, then look the object up by its key */
	if (r < 0) {
		ctl_warnx("%s", upload_errmsg(u));
		return r;
	}
	it->state = lr.state;
	if (lr.state == LOOKUP_UNCHANGED) {
		it->key = lr.key;
		lr.key = NULL;
		memcpy(it->sha256, lr.sha256, sizeof(it->sha256));
		it->size = lr.size;
		it->action = ACT_SKIP;
		if ((r = name_urls(o, u, it)) == 0 && (r = public_url(o, u, it)) == 0 &&
			!put_seekidx(o, u, it, false, lr.has_seekidx)) {
			/* the same bytes again (pack is deterministic), for the index */
			ctl_warnx("%s %s: unchanged, packed again for its missing seek index",
				it->name, plat_of(it));
			repack = true;
		} else if (r == 0) {
			ctl_warnx(
				"%s %s: unchanged, not packed: tree %.16s... is published as '%s'",
				it->name, plat_of(it), it->tree, it->url);
		}
	} else if (o->dry_run) {
		it->action = ACT_UPLOAD;
		ctl_warnx("%s %s: %s: tree %.16s... would be packed and uploaded", it->name,
			plat_of(it),
			lr.state == LOOKUP_CHANGED ? "changed"
						   : "would upload, nothing published yet",
			it->tree);
	}
	lookup_result_release(&lr);
	if (r == 0 && repack)
		return 0;
	return r < 0 ? r : it->state == LOOKUP_UNCHANGED || o->dry_run ? 1 : 0;
}
/* One artifact, start to end; it->action is ACT_FAIL when it failed. */
void pub_process(const struct pub_opts *o, struct upload *u, struct item *it)
{
	int r = 0;

	if (it->action == ACT_FAIL)
		return;
	if (pub_interrupted()) {
		ctl_warnx("%s %s: not started: interrupted", it->name, plat_of(it));
		it->action = ACT_FAIL;
		return;
	}
	if (!it->tarball && !o->force)
		r = look_before_packing(o, u, it);
	if (r == 0) {
		r = prepare(o, it);
		if (r == 0) {
			free(it->key);
			free(it->url);
			free(it->bind_url);
			it->key = it->url = it->bind_url = NULL;
			r = name_object(o, u, it);
		}
		if (r == 0)
			r = publish_one(o, u, it);
		/* the tarball is not needed any more: free its disk space now */
		if (it->fd >= 0)
			close(it->fd);
		it->fd = -1;
	}
	if (r < 0)
		it->action = ACT_FAIL;
}
