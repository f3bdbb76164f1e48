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
#include "fetch/http.h"
#include "fetch/proxy.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <unistd.h>

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

/* What one attempt says about itself. */
struct attempt {
	struct buf why; /* the cause, possibly several lines */
	bool retryable;
	bool local;
	bool proxy_fault; /* the proxy's failure (fetch_stream_proxy_fault()) */
	const char *proxy; /* fetch_options.proxy of the attempt; NULL: none chosen */
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
 * Read on to the end of the stream, at most budget more bytes (UINT64_MAX:
 * no budget; the stream's own size cap still applies).  Returns 0 at the
 * end, 1 when the budget ran out first, or the stream's -errno.
 */
static int drain(struct fetch_stream *s, uint64_t budget)
{
	uint64_t start = fetch_stream_bytes(s);
	const void *b;
	size_t n;
	int r;

	do {
		if (fetch_stream_bytes(s) - start > budget)
			return 1;
		r = fetch_stream_read(s, &b, &n);
		if (r < 0)
			return r;
	} while (n > 0);
	return 0;
}

/* The sha256 of the whole stream, after drain() returned 0, as hex into got. */
static int stream_sha256_hex(struct fetch_stream *s, char got[HASH_HEX_MAX])
{
	uint8_t d[HASH_SHA256_LEN];
	int r = fetch_stream_sha256(s, d);

	if (r == 0)
		hash_to_hex(d, sizeof(d), got);
	return r;
}

/*
 * After a malformed archive: read a little more of the stream (a tarball's
 * verdict cannot change any more, only the message) and tell whether its
 * sha256 (into got) differs from the expected one.  False when the stream
 * fails or goes on past FETCH_TRAILER_MAX: then the archive error stands.
 */
static bool sha256_differs(struct fetch_stream *s, const char *sha256, char got[HASH_HEX_MAX])
{
	if (drain(s, FETCH_TRAILER_MAX) != 0 || stream_sha256_hex(s, got) < 0)
		return false;
	return strcasecmp(sha256, got) != 0;
}

/* Whether the tree of d is hash, by Pkg's rule or its legacy one (check_tree). */
static bool tree_matches(const char *hash, const struct fetch_digests *d)
{
	uint8_t want[HASH_SHA1_LEN];

	hash_from_hex(hash, STORE_HASH_HEX, want, sizeof(want));
	return memcmp(d->tree, want, sizeof(want)) == 0 ||
	       memcmp(d->tree_legacy, want, sizeof(want)) == 0;
}

/*
 * The rest of the stream after the end of the tar data, when a sha256 is
 * expected (fetch.h, fetch_install()): read to its end while a match is
 * possible, within the size cap or FETCH_TRAILER_MAX; only that much when
 * the tree hash failed already, just to report a sha256 mismatch first as
 * Julia does.  Returns 0 with got set (the stream's sha256), 1 when the
 * tree hash decides (got unset), or -errno with the cause in a.
 */
static int read_trailer(struct fetch *f, struct attempt *a, const char *hash,
	struct fetch_stream *s, const struct fetch_digests *d, char got[HASH_HEX_MAX])
{
	bool tree_ok = tree_matches(hash, d) || (f->o.flags & FETCH_IGNORE_HASHES);
	uint64_t budget = FETCH_TRAILER_MAX;
	int r;

	if (tree_ok && fetch_stream_limit(s))
		budget = UINT64_MAX; /* the size cap bounds it, and is the publisher's word */
	else if (tree_ok && fetch_stream_bytes(s) > budget)
		budget = fetch_stream_bytes(s);
	r = drain(s, budget);
	if (r == 0)
		r = stream_sha256_hex(s, got);
	if (!tree_ok)
		return r == 0 ? 0 : 1; /* without the sha256, the tree mismatch is the verdict */
	if (r == 1) {
		a->retryable = false;
		why(a, "more than %llu bytes follow the end of the tar data (Tar.jl ignores "
		       "them; a real tarball has at most a record of padding there): not the "
		       "tarball the sha256 describes",
			(unsigned long long)budget);
		return -E2BIG;
	}
	if (r < 0) {
		a->retryable = fetch_stream_retryable(s);
		why(a, "%s", *fetch_stream_errmsg(s) ? fetch_stream_errmsg(s) : strerror(-r));
	}
	return r;
}

/* One download of src into a fresh temporary tree; committed when it verifies. */
/*
 * open_keep - the unnamed file a copy of a tarball of size bytes (0:
 * unknown) goes to (fetch_options.keep_tarball): a memfd up to
 * FETCH_KEEP_MEMORY (*max receives the ceiling), else an O_TMPFILE in the
 * store's tmp/.  -1 when neither opens: no copy, the install goes on.
 */
static int open_keep(struct store *s, uint64_t size, uint64_t *max)
{
	char path[PATH_MAX];

	*max = 0;
	if (size <= FETCH_KEEP_MEMORY) {
		*max = FETCH_KEEP_MEMORY;
		return memfd_create("artifactfs-tarball", MFD_CLOEXEC);
	}
	if (snprintf(path, sizeof(path), "%s/tmp", store_dir(s)) >= (int)sizeof(path))
		return -1;
	return open(path, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
}

static int attempt_once(
	struct fetch *f, struct attempt *a, const char *hash, const struct fetch_source *src)
{
	const struct fetch_unpack_limits lim = {
		.max_bytes = f->o.max_bytes,
		.max_unpacked = f->o.max_unpacked,
		.stop_at_end = true,
	};
	const char *url = src->url, *sha256 = src->sha256;
	struct fetch_options so = f->o; /* this attempt's deadline, from the size */
	struct store_install *in = NULL;
	struct fetch_stream *s = NULL;
	struct fetch_digests d;
	struct store_install_meta meta;
	char *msg = NULL, got[HASH_HEX_MAX];
	bool have_sha = false;
	int r, keep = -1;

	a->retryable = false;
	a->local = false;
	a->proxy_fault = false;
	so.proxy = a->proxy;
	r = store_install_begin(f->s, hash, &in);
	if (r < 0) {
		a->local = true;
		why(a, "cannot create a temporary directory in the store: %s",
			*store_errmsg(f->s) ? store_errmsg(f->s) : strerror(-r));
		goto out;
	}
	so.timeout = fetch_deadline(&f->o, src->size);
	r = fetch_stream_open_url(url, &so, &s, &msg);
	if (r < 0) {
		why(a, "%s", msg ? msg : strerror(-r));
		a->local = r == -ENOMEM;
		goto out;
	}
	fetch_stream_set_limit(s, src->size);
	if (f->o.keep_tarball && sha256) {
		uint64_t max;

		keep = open_keep(f->s, src->size, &max);
		if (keep >= 0)
			fetch_stream_set_tee(s, keep, max);
	}
	r = fetch_unpack_ex(s, store_install_dirfd(in), &lim, &d, &msg);
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
		a->proxy_fault = from_stream && fetch_stream_proxy_fault(s);
		goto out;
	}
	if (sha256) {
		r = read_trailer(f, a, hash, s, &d, got);
		if (r < 0) {
			a->proxy_fault = fetch_stream_proxy_fault(s);
			goto out;
		}
		have_sha = r == 0;
	}
	if (have_sha && strcasecmp(sha256, got) != 0) {
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
	meta.tarball_sha256 = have_sha ? got : NULL; /* unknown when not read to the end */
	r = store_install_commit(in, &meta);
	in = NULL; /* freed by commit in every case */
	if (r < 0) {
		a->local = true;
		why(a, "cannot install into the store: %s",
			*store_errmsg(f->s) ? store_errmsg(f->s) : strerror(-r));
	} else if (keep >= 0 && have_sha && strcmp(d.compression, "gzip") == 0 &&
		fetch_stream_tee_error(s) == 0) {
		f->o.keep_tarball(f->o.keep_arg, hash, keep);
		keep = -1; /* the callee's */
	}
out:
	if (keep >= 0)
		close(keep);
	free(msg);
	fetch_stream_free(s);
	store_install_abort(in);
	return r;
}

/*
 * One attempt of src through the proxies of f, in plan order: a proxy
 * failure marks the proxy failed and tries the next one; anything else
 * (success, a host failure, a local error) ends the round.  When every
 * proxy failed, a->why lists them all.
 */
static int through_proxies(
	struct fetch *f, struct attempt *a, const char *hash, const struct fetch_source *src)
{
	struct fetch_proxies *px = f->o.proxies;
	struct fetch_proxy_plan plan;
	struct buf all;
	const char *name;
	double skip;
	size_t k;
	int r = -EIO;

	fetch_proxies_plan(px, hash, &plan);
	buf_init(&all, MSG_MAX);
	for (k = 0; k < plan.n; k++) {
		name = fetch_proxies_name(px, plan.id[k]);
		buf_reset(&a->why);
		a->proxy = fetch_proxies_url(px, plan.id[k]);
		r = attempt_once(f, a, hash, src);
		if (r == 0)
			fetch_proxies_ok(px, plan.id[k]);
		if (r == 0 || !a->proxy_fault)
			break;
		skip = fetch_proxies_failed(px, plan.id[k]);
		flog(f, FETCH_LOG_WARNING,
			"proxy '%s' failed for '%s' (skipped for %.0f s)%s: %s", name, src->url,
			skip, k + 1 < plan.n ? ", trying the next proxy" : ", no proxy left",
			a->why.ptr ? a->why.ptr : "");
		buf_addf(&all, "%sthrough proxy '%s': %s", all.len ? "\n" : "", name,
			a->why.ptr ? a->why.ptr : strerror(-r));
	}
	if (r < 0 && a->proxy_fault && k == plan.n) {
		buf_reset(&a->why);
		why(a, "every proxy failed:\n%s", all.ptr ? all.ptr : "");
	}
	a->proxy = NULL;
	buf_release(&all);
	return r;
}

/* Up to o.attempts attempts of one URL, with a doubling delay between them. */
static int try_source(
	struct fetch *f, struct attempt *a, const char *hash, const struct fetch_source *src)
{
	const char *url = src->url, *sha256 = src->sha256;
	struct fetch_retry rt;
	bool proxied;
	int r;

	if (sha256 && !hash_hex_valid(sha256, STORE_SHA256_HEX)) {
		why(a, "invalid sha256 '%s' (64 hex digits expected)", sha256);
		return -EINVAL;
	}
	/* file:// reads a local file: no proxy applies */
	proxied = f->o.proxies && strncasecmp(url, "file:", 5) != 0;
	fetch_retry_init(&rt, f->o.attempts, f->o.retry_delay_ms, 0);
	for (;;) {
		buf_reset(&a->why);
		a->proxy = NULL;
		r = proxied ? through_proxies(f, a, hash, src) : attempt_once(f, a, hash, src);
		if (r == 0 || !fetch_retry_again(&rt, a->retryable))
			return r;
		flog(f, FETCH_LOG_INFO,
			"download of '%s' failed (attempt %u of %u), retrying in %u ms: %s", url,
			rt.done, rt.attempts, rt.wait_ms, a->why.ptr ? a->why.ptr : "");
		fetch_retry_wait(&rt);
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
		struct fetch_source one = {0};
		const char *u;

		if (i == 0) {
			/* Julia's order: the Pkg server first, without a sha256 (spec §3.2) */
			if (!server)
				continue;
			free(url);
			if (asprintf(&url, "%s/artifact/%s", server, hash) < 0) {
				url = NULL;
				goto nomem;
			}
			u = one.url = url;
		} else {
			one = req->sources[i - 1];
			u = one.url;
			if (!u)
				continue;
		}
		any = true;
		r = try_source(f, &a, hash, &one);
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
