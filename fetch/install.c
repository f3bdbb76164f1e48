/*
 * install.c - ensure_artifact_installed(): sources, retries, verification,
 * single flight, and the commit into the store
 *
 * One attempt is one pass: store_install_begin() gives an empty private
 * directory, fetch_unpack() streams the source into it while hashing, the
 * sha256 and the tree hash are compared, and store_install_commit() renames
 * the tree into artifacts/<hash>.  A failed attempt is thrown away whole
 * (store_install_abort()), so a retry or the next source starts from an
 * empty directory and nothing partial is ever visible.
 */
#include "config.h"

#include "fetch/fetch.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "store/hash.h"
#include "store/store.h"
#include "store/util/buf.h"

#define MSG_MAX (256u << 10) /* ceiling of one message, however many sources */

struct fetch {
	struct store *s;
	struct fetch_options o;
	struct buf msg;
	int err;
};

int fetch_new(struct store *s, const struct fetch_options *o, struct fetch **ret)
{
	struct fetch *f = calloc(1, sizeof(*f));

	if (!f)
		return -ENOMEM;
	f->s = s;
	if (o)
		f->o = *o;
	else
		fetch_options_init(&f->o);
	if (f->o.attempts == 0)
		f->o.attempts = 1;
	buf_init(&f->msg, MSG_MAX);
	*ret = f;
	return 0;
}

void fetch_free(struct fetch *f)
{
	if (!f)
		return;
	buf_release(&f->msg);
	free(f);
}

const char *fetch_errmsg(const struct fetch *f)
{
	return f->msg.ptr ? f->msg.ptr : "";
}

void fetch_clear_error(struct fetch *f)
{
	buf_reset(&f->msg);
	f->err = 0;
}

static int __attribute__((format(printf, 3, 4)))
ffail(struct fetch *f, int err, const char *fmt, ...)
{
	va_list ap;

	if (f->err)
		return err;
	f->err = err;
	buf_reset(&f->msg);
	va_start(ap, fmt);
	buf_vaddf(&f->msg, fmt, ap);
	va_end(ap);
	return err;
}

static void __attribute__((format(printf, 3, 4)))
flog(struct fetch *f, enum fetch_log_level level, const char *fmt, ...)
{
	struct buf b;
	va_list ap;

	if (!f->o.log)
		return;
	buf_init(&b, MSG_MAX);
	va_start(ap, fmt);
	buf_vaddf(&b, fmt, ap);
	va_end(ap);
	if (b.ptr)
		f->o.log(f->o.log_arg, level, b.ptr);
	buf_release(&b);
}

static void lower(char *s)
{
	for (; *s; s++)
		if (*s >= 'A' && *s <= 'F')
			*s = (char)(*s + ('a' - 'A'));
}

/* Errors of this machine rather than of the source: no point trying another source. */
static bool local_error(int r)
{
	return r == -ENOSPC || r == -EDQUOT || r == -EROFS || r == -ENOMEM || r == -EMFILE ||
	       r == -ENFILE || r == -EIO || r == -EFBIG;
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) < 0)
		;
}

/* What one attempt says about itself. */
struct attempt {
	struct buf why; /* the cause, possibly several lines */
	bool retryable;
	bool local;
};

static void __attribute__((format(printf, 2, 3))) why(struct attempt *a, const char *fmt, ...)
{
	va_list ap;

	if (a->why.len)
		return;
	va_start(ap, fmt);
	buf_vaddf(&a->why, fmt, ap);
	va_end(ap);
}

/*
 * The tree hash verdict: 0 when the tree matches (Pkg's rule, or Pkg's
 * legacy rule for non-ASCII symlink targets, which is what Julia itself
 * computes on disk, spec §2.2 item 5), else -EBADMSG with Julia's message
 * and a hint when a known variant of the rule explains the difference.
 */
static int check_tree(
	struct fetch *f, struct attempt *a, const char *hash, const struct fetch_digests *d)
{
	uint8_t want[HASH_SHA1_LEN];
	char got[HASH_HEX_MAX], other[HASH_HEX_MAX];

	hash_from_hex(hash, STORE_HASH_HEX, want, sizeof(want));
	if (memcmp(d->tree, want, sizeof(want)) == 0 ||
		memcmp(d->tree_legacy, want, sizeof(want)) == 0)
		return 0;
	hash_to_hex(d->tree, HASH_SHA1_LEN, got);
	why(a,
		"Tree Hash Mismatch!\n"
		"  Expected git-tree-sha1:   %s\n"
		"  Calculated git-tree-sha1: %s",
		hash, got);
	if (memcmp(d->tree_keep_empty, want, sizeof(want)) == 0) {
		buf_adds(&a->why, "\n  (the expected hash counts empty directories, as "
				  "Tar.tree_hash(skip_empty=false) does; Pkg does not)");
	} else if (memcmp(d->tree_tarjl, want, sizeof(want)) == 0) {
		buf_adds(&a->why, "\n  (the expected hash counts empty directories and .git "
				  "entries, as Tar.tree_hash() does; Pkg does not)");
	} else {
		hash_to_hex(d->tree_keep_empty, HASH_SHA1_LEN, other);
		if (strcmp(other, got) != 0)
			buf_addf(&a->why, "\n  Calculated with empty directories kept: %s", other);
	}
	if (f->o.flags & FETCH_IGNORE_HASHES) {
		flog(f, FETCH_LOG_WARNING,
			"%s\n  ignore-hashes is set (JULIA_PKG_IGNORE_HASHES): installing it as "
			"%s anyway",
			a->why.ptr, hash);
		buf_reset(&a->why);
		return 0;
	}
	return -EBADMSG;
}

/*
 * After a malformed archive: read the rest of the stream and tell whether
 * its sha256 (into got) differs from the expected one.  False when the
 * stream fails meanwhile: then the archive error stands.
 */
static bool sha256_differs(struct fetch_stream *s, const char *sha256, char got[HASH_HEX_MAX])
{
	uint8_t d[HASH_SHA256_LEN];
	const void *b;
	size_t n;

	do {
		if (fetch_stream_read(s, &b, &n) < 0)
			return false;
	} while (n > 0);
	if (fetch_stream_sha256(s, d) < 0)
		return false;
	hash_to_hex(d, sizeof(d), got);
	return strcasecmp(sha256, got) != 0;
}

/* One download of url into a fresh temporary tree; committed when it verifies. */
static int attempt_once(struct fetch *f, struct attempt *a, const char *hash, const char *url,
	const char *sha256, uint64_t size)
{
	struct fetch_options so = f->o; /* this attempt's deadline, from the size */
	struct store_install *in = NULL;
	struct fetch_stream *s = NULL;
	struct fetch_digests d;
	struct store_install_meta meta;
	char *msg = NULL, got[HASH_HEX_MAX];
	int r;

	a->retryable = false;
	a->local = false;
	r = store_install_begin(f->s, hash, &in);
	if (r < 0) {
		a->local = true;
		why(a, "cannot create a temporary directory in the store: %s",
			*store_errmsg(f->s) ? store_errmsg(f->s) : strerror(-r));
		goto out;
	}
	so.timeout = fetch_deadline(&f->o, size);
	r = fetch_stream_open_url(url, &so, &s, &msg);
	if (r < 0) {
		why(a, "%s", msg ? msg : strerror(-r));
		a->local = r == -ENOMEM;
		goto out;
	}
	r = fetch_unpack_max(s, store_install_dirfd(in), f->o.max_bytes, &d, &msg);
	if (r < 0) {
		bool from_stream = *fetch_stream_errmsg(s) != '\0';

		if (!from_stream && sha256 && (r == -EILSEQ || r == -ENOTSUP) &&
			sha256_differs(s, sha256, got)) {
			/*
			 * Not the file the Artifacts.toml describes (corrupted, or an
			 * error page): say so in Julia's words, as Julia, which checks
			 * the sha256 before unpacking, would.
			 */
			r = -EBADMSG;
			why(a,
				"Hash Mismatch!\n"
				"  Expected sha256:   %s\n"
				"  Calculated sha256: %s\n"
				"  (%s)",
				sha256, got, msg ? msg : "malformed tarball");
			goto out;
		}
		if (!from_stream && *fetch_stream_errmsg(s)) {
			/* the stream failed while it was drained: that is the cause */
			from_stream = true;
			r = fetch_stream_error(s);
			free(msg);
			msg = strdup(fetch_stream_errmsg(s));
		}
		why(a, "%s", msg ? msg : strerror(-r));
		a->retryable = from_stream && fetch_stream_retryable(s);
		a->local = !from_stream && local_error(r);
		goto out;
	}
	hash_to_hex(d.sha256, HASH_SHA256_LEN, got);
	if (sha256 && strcasecmp(sha256, got) != 0) {
		r = -EBADMSG;
		why(a,
			"Hash Mismatch!\n"
			"  Expected sha256:   %s\n"
			"  Calculated sha256: %s",
			sha256, got);
		goto out;
	}
	r = check_tree(f, a, hash, &d);
	if (r < 0)
		goto out;
	meta.bytes = d.bytes;
	meta.files = d.files;
	meta.source = url;
	meta.tarball_sha256 = got;
	r = store_install_commit(in, &meta);
	in = NULL; /* freed by commit in every case */
	if (r < 0) {
		a->local = true;
		why(a, "cannot install into the store: %s",
			*store_errmsg(f->s) ? store_errmsg(f->s) : strerror(-r));
	}
out:
	free(msg);
	fetch_stream_free(s);
	store_install_abort(in);
	return r;
}

/* Up to o.attempts attempts of one URL, with a doubling delay between them. */
static int try_source(struct fetch *f, struct attempt *a, const char *hash, const char *url,
	const char *sha256, uint64_t size)
{
	unsigned n, delay = f->o.retry_delay_ms;
	int r;

	if (sha256 && !hash_hex_valid(sha256, STORE_SHA256_HEX)) {
		why(a, "invalid sha256 '%s' (64 hex digits expected)", sha256);
		return -EINVAL;
	}
	for (n = 1;; n++) {
		buf_reset(&a->why);
		r = attempt_once(f, a, hash, url, sha256, size);
		if (r == 0 || !a->retryable || n >= f->o.attempts)
			return r;
		flog(f, FETCH_LOG_INFO,
			"download of '%s' failed (attempt %u of %u), retrying in %u ms: %s", url, n,
			f->o.attempts, delay, a->why.ptr ? a->why.ptr : "");
		sleep_ms(delay);
		delay *= 2;
	}
}

/* "- <url>\n    Error: <cause>", continuation lines indented under it (Julia's list). */
static void list_source(struct buf *list, const char *url, const struct attempt *a, int r)
{
	const char *p = a->why.len ? a->why.ptr : strerror(-r), *nl;

	buf_addf(list, "\n- %s\n    Error: ", url);
	for (;;) {
		nl = strchr(p, '\n');
		buf_add(list, p, nl ? (size_t)(nl - p) : strlen(p));
		if (!nl)
			break;
		buf_adds(list, "\n    ");
		p = nl + 1;
	}
}

static int installed_path(struct fetch *f, const char *hash, char **ret_path)
{
	char path[4096];
	int r;

	if (!ret_path)
		return 0;
	r = store_path(f->s, hash, path, sizeof(path));
	if (r < 0)
		return ffail(f, r, "cannot form the path of '%s': %s", hash, strerror(-r));
	*ret_path = strdup(path);
	return *ret_path ? 0 : ffail(f, -ENOMEM, "out of memory");
}

/* Whether the index says hash is installed; errors other than "absent" are returned. */
static int is_installed(struct fetch *f, const char *hash)
{
	struct store_info info;
	int r = store_lookup(f->s, hash, &info);

	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return ffail(f, r, "cannot look up '%s' in the store: %s", hash,
			*store_errmsg(f->s) ? store_errmsg(f->s) : strerror(-r));
	r = info.state == STORE_INSTALLED;
	store_info_release(&info);
	return r;
}

int fetch_install(struct fetch *f, const struct fetch_request *req, char **ret_path)
{
	const char *name = req->name ? req->name : "(unnamed)";
	const char *toml = req->toml_path ? req->toml_path : "(unknown file)";
	struct store_lock *lock = NULL;
	struct attempt a = {0};
	struct buf list;
	char hash[STORE_HASH_HEX + 1], *server = NULL, *url = NULL;
	bool any = false;
	size_t i;
	int r;

	fetch_clear_error(f);
	buf_init(&list, MSG_MAX);
	buf_init(&a.why, MSG_MAX);
	if (!hash_hex_valid(req->hash, STORE_HASH_HEX)) {
		r = ffail(f, -EINVAL, "invalid git-tree-sha1 '%s' for artifact '%s'",
			req->hash ? req->hash : "", name);
		goto out;
	}
	memcpy(hash, req->hash, sizeof(hash));
	lower(hash);

	/* the fast path: no lock when it is there already */
	r = is_installed(f, hash);
	if (r != 0)
		goto done;

	/* single flight: one installer per hash across threads and processes */
	r = store_lock_hash(f->s, hash, f->o.lock_timeout, &lock);
	if (r == -ETIMEDOUT) {
		r = ffail(f, -ETIME,
			"timed out after %.0f s waiting for another install of "
			"artifact '%s' (%s)",
			f->o.lock_timeout, name, hash);
		goto out;
	}
	if (r < 0) {
		r = ffail(f, r, "cannot lock artifact '%s' (%s): %s", name, hash,
			*store_errmsg(f->s) ? store_errmsg(f->s) : strerror(-r));
		goto out;
	}
	r = is_installed(f, hash); /* someone may have finished while we waited */
	if (r != 0)
		goto done;

	r = fetch_pkg_server_url(f->o.pkg_server, &server);
	if (r < 0)
		goto nomem;
	r = -ENOMEDIUM;
	for (i = 0; i <= req->nsources; i++) {
		const char *u, *sha;
		uint64_t size = 0;

		if (i == 0) {
			/* Julia's order: the Pkg server first, without a sha256 (spec §3.2) */
			if (!server)
				continue;
			free(url);
			if (asprintf(&url, "%s/artifact/%s", server, hash) < 0) {
				url = NULL;
				goto nomem;
			}
			u = url;
			sha = NULL;
		} else {
			u = req->sources[i - 1].url;
			sha = req->sources[i - 1].sha256;
			size = req->sources[i - 1].size;
			if (!u)
				continue;
		}
		any = true;
		r = try_source(f, &a, hash, u, sha, size);
		if (r == 0)
			break;
		list_source(&list, u, &a, r);
		if (a.local)
			break; /* this machine's problem: another source would fail the same way */
	}
	if (!any) {
		r = ffail(f, -ENOMEDIUM,
			"cannot automatically install '%s'; no download section "
			"in '%s'",
			name, toml);
		goto out;
	}
	if (r < 0) {
		store_count_failure(f->s);
		r = ffail(f, r,
			"unable to automatically download/install artifact '%s' from "
			"sources listed in '%s'\nSources attempted:%s",
			name, toml, list.ptr ? list.ptr : "");
		goto out;
	}
done:
	if (r >= 0)
		r = installed_path(f, hash, ret_path);
	goto out;
nomem:
	r = ffail(f, -ENOMEM, "out of memory");
out:
	store_unlock(lock);
	free(server);
	free(url);
	buf_release(&list);
	buf_release(&a.why);
	return r < 0 ? r : 0;
}
