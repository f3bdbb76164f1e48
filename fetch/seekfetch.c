/*
 * seekfetch.c - a seek index and single files over HTTP Range
 * (fetch/seekfetch.h).
 *
 * Every request is one libcurl easy handle set up by fetch_http_setup()
 * (http.h) with a Range of [start, end).  The header callback looks at the
 * status at the end of each header block: a 200 to a Range request means
 * the server ignores Range, and the transfer is stopped there, before any
 * of the body is read (-ENOTSUP); a 206 must say Content-Range: bytes
 * <start>-..., else the bytes are not the ones asked for (-EREMOTEIO).
 * HTTP errors end the transfer (FAILONERROR) and map through
 * fetch_http_errno() (404 -> -ENOENT).  Bodies go to a sink: a capped
 * buffer (the index's head, a window) or the reader of fetch/seekidx.h,
 * which inflates and hashes the span as it arrives and says when the file
 * is complete, which also ends the transfer early.  The proxy is
 * fetch_options.proxy, else the first member of fetch_options.proxies for
 * the artifact (with_proxy(); one attempt: the caller falls back to the
 * whole install, which has the proxy list's failover).
 */
#include "config.h"

#include "fetch/http.h"
#include "fetch/proxy.h"
#include "fetch/seekfetch.h"
#include "store/partial.h"
#include "store/util/buf.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define HEAD_FIRST (64u << 10) /* bytes asked for first: the head of most indexes */

/* Where a body goes: n bytes at p; 0 goes on, 1 is enough, < 0 fails. */
typedef int (*sink_fn)(void *arg, const void *p, size_t n);

struct range_req {
	uint64_t start, len;	/* asked for */
	uint64_t got;		/* body bytes taken */
	sink_fn sink;
	void *arg;
	CURL *easy;
	int err;		/* why a callback stopped the transfer */
	bool done;		/* the sink had enough */
	bool range_ok;		/* a 206 with the right Content-Range */
};


/*
 * with_proxy - o for the ranged requests of artifact tree: when o has a
 * proxy list (proxy=) and no proxy of its own, the first member that
 * fetch_proxies_plan() gives for the artifact's hash, the one a whole
 * install tries first, so that single files go through the site's proxies
 * and shard as installs do.  One attempt, no failover: the caller's
 * fallback, the whole install, has it.
 */
static void with_proxy(const struct fetch_options *o, const uint8_t tree[HASH_SHA1_LEN],
	struct fetch_options *so)
{
	char hex[2 * HASH_SHA1_LEN + 1] = "";
	struct fetch_proxy_plan plan;

	*so = *o;
	if (o->proxy || !o->proxies)
		return;
	if (tree)
		hash_to_hex(tree, HASH_SHA1_LEN, hex);
	fetch_proxies_plan(o->proxies, hex, &plan);
	so->proxy = fetch_proxies_url(o->proxies, plan.id[0]);
}

static size_t on_header(char *p, size_t size, size_t n, void *arg)
{
	struct range_req *q = arg;
	size_t len = size * n;
	long status = 0;
	unsigned long long start;

	if (len >= 14 && strncasecmp(p, "content-range:", 14) == 0) {
		const char *v = p + 14;

		while (*v == ' ' || *v == '\t')
			v++;
		q->range_ok = sscanf(v, "bytes %llu-", &start) == 1 && start == q->start;
		return len;
	}
	if (len > 2 || (p[0] != '\r' && p[0] != '\n'))
		return len;
	/* the end of a header block: its status decides */
	curl_easy_getinfo(q->easy, CURLINFO_RESPONSE_CODE, &status);
	if (status == 200) {
		q->err = -ENOTSUP;
		return 0;
	}
	if (status == 206 && !q->range_ok) {
		q->err = -EREMOTEIO;
		return 0;
	}
	if (status != 206)
		q->range_ok = false; /* a redirect's headers are not the answer's */
	return len;
}

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
	struct range_req *q = arg;
	size_t len = size * n, k = len;
	int r;

	if (!q->range_ok) {
		q->err = -EREMOTEIO;
		return 0;
	}
	if (q->got + k > q->len)
		k = (size_t)(q->len - q->got); /* more than asked for: not ours */
	q->got += k;
	r = k ? q->sink(q->arg, p, k) : 0;
	if (r < 0) {
		q->err = r;
		return 0;
	}
	if (r > 0 || q->got == q->len) {
		q->done = true;
		return r > 0 ? 0 : len;
	}
	return len;
}

/*
 * range_get - GET [start, start + len) of url into sink.  Returns 0 (all
 * len bytes taken, or the sink said enough), -ENOTSUP, -ENOENT, -EPIPE
 * (the body ended first), the sink's error or the transfer's; *errmsg as
 * in seekfetch.h.
 */
static int range_get(const struct fetch_options *o, const char *url, uint64_t start,
	uint64_t len, sink_fn sink, void *arg, uint64_t *fetched, char **errmsg)
{
	struct fetch_http_conf conf = {
		.ca_file = o->ca_file,
		.connect_timeout = o->connect_timeout,
		.low_speed_limit = o->low_speed_limit,
		.low_speed_time = o->low_speed_time,
		.timeout = fetch_deadline(o, len),
		.follow_redirects = true,
	};
	struct range_req q = {.start = start, .len = len, .sink = sink, .arg = arg};
	char errbuf[CURL_ERROR_SIZE] = "", range[64], what[64];
	long status = 0;
	CURLcode c = CURLE_OK;
	int r;

	if (len == 0)
		return 0;
	if ((q.easy = curl_easy_init()) == NULL)
		return -ENOMEM;
	r = fetch_http_setup(q.easy, &conf, url, o->proxy, errbuf);
	if (r < 0)
		goto out;
	snprintf(range, sizeof(range), "%" PRIu64 "-%" PRIu64, start, start + len - 1);
	if (curl_easy_setopt(q.easy, CURLOPT_RANGE, range) != CURLE_OK ||
		curl_easy_setopt(q.easy, CURLOPT_FAILONERROR, 1L) != CURLE_OK ||
		curl_easy_setopt(q.easy, CURLOPT_HEADERFUNCTION, on_header) != CURLE_OK ||
		curl_easy_setopt(q.easy, CURLOPT_HEADERDATA, &q) != CURLE_OK ||
		curl_easy_setopt(q.easy, CURLOPT_WRITEFUNCTION, on_body) != CURLE_OK ||
		curl_easy_setopt(q.easy, CURLOPT_WRITEDATA, &q) != CURLE_OK) {
		r = -ENOMEM;
		goto out;
	}
	c = curl_easy_perform(q.easy);
	curl_easy_getinfo(q.easy, CURLINFO_RESPONSE_CODE, &status);
	if (q.err)
		r = q.err;
	else if (q.done)
		r = 0;
	else if (c == CURLE_HTTP_RETURNED_ERROR)
		r = fetch_http_errno(status, NULL);
	else if (c != CURLE_OK)
		r = fetch_curl_errno((int)c, NULL);
	else
		r = -EPIPE;
out:
	if (fetched)
		*fetched += q.got;
	if (r < 0 && errmsg && *errmsg == NULL) {
		if (r == -ENOTSUP)
			*errmsg = buf_strf("'%s': the server does not honour Range (200 to a Range "
				       "request)", url);
		else if (r == -EREMOTEIO && status == 206)
			*errmsg = buf_strf("'%s': 206 answer without Content-Range of bytes %s", url,
				range);
		else if (status >= 400 && c == CURLE_HTTP_RETURNED_ERROR &&
			fetch_http_describe(status, NULL, what, sizeof(what)) >= 0)
			*errmsg = buf_strf("'%s': %s", url, what);
		else if (r == -EPIPE)
			*errmsg = buf_strf("'%s': the answer ended after %" PRIu64 " of %" PRIu64
				       " bytes", url, q.got, len);
		else if (*errbuf)
			*errmsg = buf_strf("'%s': %s", url, errbuf);
		else if (r != -EBADMSG && r != -EILSEQ)
			*errmsg = buf_strf("'%s': %s", url, strerror(-r));
	}
	curl_easy_cleanup(q.easy);
	return r;
}

/* A capped buffer as a sink. */
struct membuf {
	uint8_t *p;
	size_t len, cap;
};

static int mem_sink(void *arg, const void *p, size_t n)
{
	struct membuf *m = arg;

	if (n > m->cap - m->len)
		return -EFBIG;
	memcpy(m->p + m->len, p, n);
	m->len += n;
	return 0;
}

int fetch_seekidx_url(const char *url, char **ret)
{
	char *s = buf_strf("%s.seekidx", url);

	if (s == NULL)
		return -ENOMEM;
	*ret = s;
	return 0;
}

/* parse - seekidx_parse() with the message prefixed by where it came from. */
static int parse(const void *p, size_t len, const uint8_t *tree, const char *from,
	struct seekidx **ret, char **errmsg)
{
	char *why = NULL;
	int r = seekidx_parse(p, len, tree, ret, &why);

	if (r < 0 && errmsg)
		*errmsg = buf_strf("seek index '%s': %s", from, why ? why : strerror(-r));
	free(why);
	return r;
}

int fetch_seekidx_get(struct store *s, const struct fetch_options *o, const char *idx_url,
	const uint8_t tree[HASH_SHA1_LEN], struct seekidx **ret, char **errmsg)
{
	struct fetch_options so;
	struct membuf m = {0};
	const char *why = NULL;
	uint64_t head_len = 0;
	char hex[HASH_HEX_MAX];
	uint8_t *big;
	int r;

	if (errmsg)
		*errmsg = NULL;
	m.cap = HEAD_FIRST;
	if ((m.p = malloc(m.cap)) == NULL)
		return -ENOMEM;
	with_proxy(o, tree, &so);
	r = range_get(&so, idx_url, 0, HEAD_FIRST, mem_sink, &m, NULL, errmsg);
	if (r == -EPIPE && m.len >= SEEKIDX_FIXED) {
		/* an index shorter than HEAD_FIRST: a 206 of all of it, no error */
		r = 0;
		if (errmsg) {
			free(*errmsg);
			*errmsg = NULL;
		}
	}
	if (r < 0)
		goto out;
	r = seekidx_head_len(m.p, m.len, &head_len, &why);
	if (r < 0) {
		if (errmsg)
			*errmsg = buf_strf("seek index '%s': %s", idx_url, why);
		goto out;
	}
	if (head_len > m.len) {
		if ((big = realloc(m.p, (size_t)head_len)) == NULL) {
			r = -ENOMEM;
			goto out;
		}
		m.p = big;
		m.cap = (size_t)head_len;
		r = range_get(&so, idx_url, m.len, head_len - m.len, mem_sink, &m, NULL, errmsg);
		if (r < 0)
			goto out;
	}
	r = parse(m.p, (size_t)head_len, tree, idx_url, ret, errmsg);
	if (r == 0 && s != NULL) {
		hash_to_hex(seekidx_root(*ret)->oid, HASH_SHA1_LEN, hex);
		(void)store_seekidx_put(s, hex, m.p, (size_t)head_len); /* a cache only */
	}
out:
	free(m.p);
	return r;
}

int fetch_seekidx_load(struct store *s, const char *hash, struct seekidx **ret, char **errmsg)
{
	uint8_t tree[HASH_SHA1_LEN], fixed[SEEKIDX_FIXED], *buf = NULL;
	char path[4096];
	const char *why = NULL;
	uint64_t head_len;
	ssize_t k;
	int fd, r;

	if (errmsg)
		*errmsg = NULL;
	if (hash_from_hex(hash, strlen(hash), tree, HASH_SHA1_LEN) < 0 ||
		(r = store_seekidx_path(s, hash, path, sizeof(path))) < 0)
		return -EINVAL;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -errno;
	k = pread(fd, fixed, sizeof(fixed), 0);
	r = k < 0 ? -errno : seekidx_head_len(fixed, (size_t)k, &head_len, &why);
	if (r == 0 && (buf = malloc((size_t)head_len)) == NULL)
		r = -ENOMEM;
	if (r == 0 && (k = pread(fd, buf, (size_t)head_len, 0)) != (ssize_t)head_len)
		r = k < 0 ? -errno : -EILSEQ;
	close(fd);
	if (r == 0)
		r = parse(buf, (size_t)head_len, tree, path, ret, errmsg);
	else if (errmsg && r != -ENOMEM)
		*errmsg = buf_strf("seek index '%s': %s", path, why ? why : "truncated");
	if (r == -EBADMSG || r == -EILSEQ)
		unlink(path); /* wrong: fetched again next time */
	free(buf);
	return r;
}

/* The file's bytes as the reader hands them out: into the temporary. */
struct file_out {
	int fd;
	uint64_t off;
};

static int file_sink(void *arg, const void *p, size_t n)
{
	struct file_out *w = arg;
	const uint8_t *q = p;
	ssize_t k;

	while (n > 0) {
		k = pwrite(w->fd, q, n, (off_t)w->off);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return k < 0 ? -errno : -EIO;
		q += k;
		n -= (size_t)k;
		w->off += (uint64_t)k;
	}
	return 0;
}

static int reader_sink(void *arg, const void *p, size_t n)
{
	return seekidx_reader_feed(arg, p, n);
}

int fetch_partial_file(struct store *s, const struct fetch_options *o, const char *tar_url,
	const char *idx_url, const struct seekidx *x, const struct seekidx_file *f,
	bool executable, int *fd, uint64_t *fetched, char **errmsg)
{
	struct fetch_options so;
	struct store_partial_tmp *tmp = NULL;
	struct seekidx_reader *rd = NULL;
	struct seekidx_span sp;
	struct file_out w = {-1, 0};
	uint8_t comp[64u << 10], *win = NULL;
	struct membuf m = {comp, 0, sizeof(comp)};
	uint64_t got = 0;
	size_t wlen = 0;
	char hex[HASH_HEX_MAX];
	int r;

	if (errmsg)
		*errmsg = NULL;
	if (fetched)
		*fetched = 0;
	r = store_partial_open(s, f->oid, &w.fd);
	if (r == 0) {
		if (fd)
			*fd = w.fd;
		else
			close(w.fd);
		return 0;
	}
	if (r != -ENOENT)
		return r;
	hash_to_hex(f->oid, HASH_SHA1_LEN, hex);
	if ((r = seekidx_span_of(x, f, &sp)) < 0)
		return r;
	with_proxy(o, seekidx_root(x)->oid, &so);
	if (sp.point) {
		r = range_get(&so, idx_url, sp.point->window_off, sp.point->window_len, mem_sink, &m,
			&got, errmsg);
		if (r == 0 && (win = malloc(SEEKIDX_WINDOW)) == NULL)
			r = -ENOMEM;
		if (r == 0 && (r = seekidx_window(comp, m.len, win, &wlen)) < 0 && errmsg)
			*errmsg = buf_strf("seek index '%s': the window at %" PRIu64 " is corrupt",
				idx_url, sp.point->window_off);
		if (r < 0)
			goto out;
	}
	r = store_partial_begin(s, f->oid, f->size, &tmp, &w.fd);
	if (r == 0)
		r = seekidx_reader_new(&sp, f, win, wlen, file_sink, &w, &rd);
	if (r < 0)
		goto out;
	if (f->size > 0)
		r = range_get(&so, tar_url, sp.in_start, sp.in_end - sp.in_start, reader_sink, rd,
			&got, errmsg);
	if (r == 0 || r == -EPIPE)
		r = seekidx_reader_finish(rd);
	if (r < 0) {
		if (errmsg && *errmsg == NULL)
			*errmsg = buf_strf("blob %s of '%s': %s", hex, tar_url,
				r == -EBADMSG ? "its bytes do not hash to its id"
				: r == -EPIPE ? "the span ended before the file"
				: r == -EILSEQ ? "corrupt deflate data" : strerror(-r));
		goto out;
	}
	r = store_partial_commit(tmp, executable, fd);
	tmp = NULL;
	if (r < 0 && errmsg)
		*errmsg = buf_strf("blob %s: cannot commit to the partial area: %s", hex,
			strerror(-r));
out:
	store_partial_abort(tmp);
	seekidx_reader_free(rd);
	free(win);
	if (fetched)
		*fetched = got;
	return r;
}
