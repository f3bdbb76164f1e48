/*
 * test-seekidx.c - the seek index parser and reader (fetch/seekidx.h)
 * against indexes written by tests/seekidx.py, an independent writer of
 * the format: every file of a small artifact read back through the index
 * equals its source; every forgery ends in -EBADMSG or -EILSEQ, never in
 * wrong bytes; span planning at the first and last point and across
 * points; gzip of several members; restart points inside a byte (bits
 * != 0) found with zlib's Z_BLOCK.
 */
#include "config.h"

#include "fetch/seekidx.h"
#include "tests/tap.h"
#include "tests/unit/util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

static char dir[256];

struct sink {
	uint8_t *p;
	size_t len, cap;
};

static int sink_out(void *arg, const void *p, size_t n)
{
	struct sink *s = arg;

	if (s->len + n > s->cap) {
		s->cap = (s->len + n) * 2;
		s->p = realloc(s->p, s->cap);
		if (s->p == NULL)
			return -ENOMEM;
	}
	memcpy(s->p + s->len, p, n);
	s->len += n;
	return 0;
}

/* An artifact made by seekidx.py: its tarball, index and tree. */
struct art {
	uint8_t *gz, *idx;
	size_t gz_len, idx_len;
	uint8_t tree[HASH_SHA1_LEN];
};

static int make(const char *name, const char *args, struct art *a)
{
	const char *py = getenv("PYTHON3"), *src = getenv("TESTS_SRCDIR");
	char cmd[2048], hex[64] = "", *p;
	FILE *f;

	snprintf(cmd, sizeof(cmd), "'%s' '%s/seekidx.py' make '%s/src' '%s/%s' %s",
		py ? py : "python3", src, dir, dir, name, args);
	if ((f = popen(cmd, "r")) == NULL)
		return -1;
	if (fgets(hex, sizeof(hex), f) == NULL)
		hex[0] = '\0';
	if (pclose(f) != 0 || hash_from_hex(hex, 40, a->tree, HASH_SHA1_LEN) < 0)
		return -1;
	p = tu_path(dir, name);
	snprintf(cmd, sizeof(cmd), "%s.tar.gz", p);
	a->gz = (uint8_t *)tu_slurp(cmd, &a->gz_len);
	snprintf(cmd, sizeof(cmd), "%s.seekidx", p);
	a->idx = (uint8_t *)tu_slurp(cmd, &a->idx_len);
	free(p);
	return a->gz && a->idx ? 0 : -1;
}

static void art_free(struct art *a)
{
	free(a->gz);
	free(a->idx);
}

/*
 * Read file f of x out of a's tarball, feeding the span in chunks of chunk
 * bytes; the reader's verdict, the bytes in *s.
 */
static int read_file(const struct art *a, const struct seekidx *x, const struct seekidx_file *f,
	size_t chunk, struct sink *s)
{
	struct seekidx_span sp;
	struct seekidx_reader *rd = NULL;
	uint8_t win[SEEKIDX_WINDOW];
	size_t wlen = 0;
	uint64_t off;
	int r;

	s->len = 0;
	if ((r = seekidx_span_of(x, f, &sp)) < 0)
		return r;
	if (sp.point && (r = seekidx_window(a->idx + sp.point->window_off,
				 sp.point->window_len, win, &wlen)) < 0)
		return r;
	if ((r = seekidx_reader_new(&sp, f, win, wlen, sink_out, s, &rd)) < 0)
		return r;
	for (off = sp.in_start, r = 0; r == 0 && off < sp.in_end; off += chunk) {
		size_t n = sp.in_end - off < chunk ? sp.in_end - off : chunk;

		r = seekidx_reader_feed(rd, a->gz + off, n);
	}
	if (r >= 0)
		r = seekidx_reader_finish(rd);
	seekidx_reader_free(rd);
	return r;
}

/* What a walk found. */
struct walk {
	size_t chunk;	/* feed the span in pieces of this many bytes */
	int files;	/* regular files read */
	int differ;	/* reads that failed or gave other bytes, links that differ */
	int wrong;	/* reads that succeeded with wrong bytes: never allowed */
	int other_err;	/* reads failing with an error outside EBADMSG/EILSEQ/EPIPE */
	const struct seekidx_file *fs[64]; /* the files met, for the span tests */
	int nfs;
};

/* Walk tree t (path prefix) and compare every file and link with src/. */
static void check_tree(const struct art *a, const struct seekidx *x, const struct seekidx_tree *t,
	const char *prefix, struct walk *w)
{
	size_t i;

	for (i = 0; i < t->n; i++) {
		const struct seekidx_entry *e = &t->e[i];
		char path[1024], lnk[1024];
		struct sink s = {0};
		size_t len = 0;
		char *want;
		ssize_t k;
		int r;

		snprintf(path, sizeof(path), "%s/%s", prefix, e->name);
		if (seekidx_lookup(t, e->name, strlen(e->name)) != e) {
			diag("lookup of '%s' failed", path);
			w->differ++;
		}
		if (e->tree) {
			check_tree(a, x, e->tree, path, w);
			continue;
		}
		if (e->target) {
			k = readlink(path, lnk, sizeof(lnk));
			if (k < 0 || (size_t)k != e->target_len || memcmp(lnk, e->target, (size_t)k)) {
				diag("link '%s' differs", path);
				w->differ++;
			}
			continue;
		}
		if (w->nfs < 64)
			w->fs[w->nfs++] = e->file;
		want = tu_slurp(path, &len);
		r = read_file(a, x, e->file, w->chunk, &s);
		if (r != 0 || want == NULL || s.len != len || (len && memcmp(s.p, want, len))) {
			w->differ++;
			if (r == 0)
				w->wrong++;
			else if (r != -EBADMSG && r != -EILSEQ && r != -EPIPE)
				w->other_err++;
		}
		w->files++;
		free(want);
		free(s.p);
	}
}

/* The source tree: text (window references), random bytes, names in git order. */
static void make_src(void)
{
	const char *dirs[] = {"src", "src/sub", "src/sub/deep", "src/foo", "src/empty",
		"src/empty/e2", "src/.git"};
	char *p, *buf;
	size_t i, n;
	FILE *f;

	for (i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		p = tu_path(dir, dirs[i]);
		mkdir(p, 0755);
		free(p);
	}
	n = 400000;
	buf = malloc(n);
	for (i = 0; i < n; i++)
		buf[i] = (char)(rand() & 0xff);
	p = tu_path(dir, "src/sub/big.bin");
	tu_write_bytes(p, buf, n);
	free(p);
	p = tu_path(dir, "src/sub/deep/text");
	f = fopen(p, "w");
	for (i = 0; i < 30000; i++)
		fprintf(f, "line %zu of a text that repeats itself %zu\n", i, i % 97);
	fclose(f);
	free(p);
	p = tu_path(dir, "src/sub/deep/x.sh");
	tu_write_file(p, "#!/bin/sh\necho hi\n");
	chmod(p, 0755);
	free(p);
	for (i = 0; i < 4; i++) {
		const char *names[] = {"src/foo.c", "src/foo-", "src/foo0", "src/foo/in"};

		p = tu_path(dir, names[i]);
		tu_write_file(p, names[i]);
		free(p);
	}
	p = tu_path(dir, "src/a.txt");
	memset(buf, 'a', 70000);
	tu_write_bytes(p, buf, 70000);
	free(p);
	p = tu_path(dir, "src/dup");
	tu_write_bytes(p, buf, 70000);
	free(p);
	p = tu_path(dir, "src/zero");
	tu_write_file(p, "");
	free(p);
	p = tu_path(dir, "src/.git/config");
	tu_write_file(p, "x");
	free(p);
	p = tu_path(dir, "src/link");
	symlink("sub/deep/text", p);
	free(p);
	free(buf);
}

static void test_roundtrip(const char *name, const char *args, size_t min_points)
{
	struct art a = {0};
	struct seekidx *x = NULL;
	char *msg = NULL, *src = tu_path(dir, "src");
	struct walk w = {.chunk = 4096}, w1 = {.chunk = 1};
	int r;

	if (make(name, args, &a) < 0) {
		ok(0, "%s: seekidx.py make %s", name, args);
		goto out;
	}
	r = seekidx_parse(a.idx, a.idx_len, a.tree, &x, &msg);
	is_int(r, 0, "%s: parse (%s)", name, msg ? msg : "");
	if (r < 0)
		goto out;
	ok(seekidx_npoints(x) >= min_points, "%s: %zu points", name, seekidx_npoints(x));
	ok(seekidx_nfiles(x) == 9, "%s: 9 distinct blobs (dup shares one), got %zu", name,
		seekidx_nfiles(x));
	ok(seekidx_lookup(seekidx_root(x), "empty", 5) == NULL, "%s: no empty dir", name);
	ok(seekidx_lookup(seekidx_root(x), ".git", 4) == NULL, "%s: no .git", name);
	ok(seekidx_lookup(seekidx_root(x), "foo", 3) &&
			seekidx_lookup(seekidx_root(x), "foo", 3)->tree != NULL,
		"%s: foo is a tree", name);
	ok(seekidx_lookup(seekidx_root(x), "foo.", 4) == NULL, "%s: no foo.", name);
	ok(seekidx_tarball_size(x) == a.gz_len, "%s: tarball size", name);
	ok(seekidx_file_size(x) == a.idx_len, "%s: file size", name);
	check_tree(&a, x, seekidx_root(x), src, &w);
	ok(w.files == 10 && w.differ == 0, "%s: %d files read back, %d differ", name, w.files,
		w.differ);
	check_tree(&a, x, seekidx_root(x), src, &w1);
	ok(w1.differ == 0, "%s: read back fed one byte at a time, %d differ", name, w1.differ);
out:
	seekidx_free(x);
	free(msg);
	free(src);
	art_free(&a);
}

/* Span planning: the first point, the last, a file across points. */
static void test_spans(void)
{
	struct art a = {0};
	struct seekidx *x = NULL;
	struct seekidx_span sp;
	const struct seekidx_point *first, *last;
	struct seekidx_file bogus = {{0}, 0, 0};
	struct walk w = {.chunk = 65536};
	char *src = tu_path(dir, "src");
	int i, across = 0, atfirst = 0, atlast = 0, good = 0;
	size_t np;

	if (make("spans", "--span 20000", &a) < 0 ||
		seekidx_parse(a.idx, a.idx_len, a.tree, &x, NULL) < 0) {
		ok(0, "spans: make and parse");
		goto out;
	}
	check_tree(&a, x, seekidx_root(x), src, &w);
	np = seekidx_npoints(x);
	first = seekidx_point(x, 0);
	last = seekidx_point(x, np - 1);
	ok(seekidx_point(x, np) == NULL, "spans: a point past the end is NULL");
	is_int(seekidx_span_of(x, &bogus, &sp), -EINVAL, "spans: a file not of x is -EINVAL");
	for (i = 0; i < w.nfs; i++) {
		const struct seekidx_file *f = w.fs[i];
		uint64_t end = f->offset + f->size;
		bool ok1;

		if (seekidx_span_of(x, f, &sp) < 0)
			continue;
		if (sp.point == NULL) {
			ok1 = sp.in_start == 0 && sp.skip == f->offset && f->offset < first->out;
			atfirst++;
		} else {
			ok1 = sp.point->out <= f->offset && sp.skip == f->offset - sp.point->out &&
				sp.in_start == sp.point->in &&
				(sp.point == last || sp.point[1].out > f->offset);
		}
		if (end > last->out) {
			ok1 = ok1 && sp.in_end == a.gz_len;
			atlast++;
		} else {
			/* ends one byte past the first point at or after the file's end */
			const struct seekidx_point *q = sp.point ? sp.point : first;

			while (q->out < end)
				q++;
			ok1 = ok1 && sp.in_end == q->in + 1 && (q == first || q[-1].out < end);
		}
		if (sp.point != last && end > (sp.point ? sp.point[1].out : first->out))
			across++;
		good += ok1;
	}
	ok(good == w.nfs, "spans: %d of %d spans as planned", good, w.nfs);
	ok(atfirst > 0 && atlast > 0 && across > 0,
		"spans: files before the first point (%d), after the last (%d), across points (%d)",
		atfirst, atlast, across);
out:
	seekidx_free(x);
	free(src);
	art_free(&a);
}

/* Each forgery: the right error, never wrong bytes. */
static void test_forged(const char *forge, int parse_err)
{
	struct art a = {0};
	struct seekidx *x = NULL;
	char args[64], *msg = NULL, *src = tu_path(dir, "src");
	struct walk w = {.chunk = 4096};
	int r;

	snprintf(args, sizeof(args), "--span 20000 --forge %s", forge);
	if (make(forge, args, &a) < 0) {
		ok(0, "forged %s: seekidx.py", forge);
		goto out;
	}
	r = seekidx_parse(a.idx, a.idx_len, a.tree, &x, &msg);
	is_int(r, parse_err, "forged %s: parse: %s", forge, msg ? msg : "ok");
	if (r < 0) {
		ok(msg != NULL && *msg, "forged %s: a message", forge);
		goto out;
	}
	check_tree(&a, x, seekidx_root(x), src, &w);
	ok(w.differ > 0 && w.wrong == 0 && w.other_err == 0,
		"forged %s: %d of %d reads refused, %d with wrong bytes, %d other errors", forge,
		w.differ, w.files, w.wrong, w.other_err);
out:
	seekidx_free(x);
	free(msg);
	free(src);
	art_free(&a);
}

/* Compress n bytes at p as a gzip member appended to out (*len bytes). */
static size_t gzip_member(const uint8_t *p, size_t n, uint8_t *out)
{
	z_stream z;
	size_t got;

	memset(&z, 0, sizeof(z));
	deflateInit2(&z, 6, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY);
	z.next_in = (Bytef *)(uintptr_t)p;
	z.avail_in = (uInt)n;
	z.next_out = out;
	z.avail_out = (uInt)(n + n / 10 + 1024);
	deflate(&z, Z_FINISH);
	got = z.total_out;
	deflateEnd(&z);
	return got;
}

struct boundary {
	uint64_t in, out;
	uint8_t bits;
};

/* The block boundaries of a gzip of several members (zlib Z_BLOCK, as zran). */
static size_t scan(const uint8_t *gz, size_t len, struct boundary *b, size_t max)
{
	z_stream z;
	uint8_t out[65536];
	uint64_t in_base = 0, out_base = 0;
	size_t nb = 0;
	int zr;

	memset(&z, 0, sizeof(z));
	inflateInit2(&z, 31);
	z.next_in = (Bytef *)(uintptr_t)gz;
	z.avail_in = (uInt)len;
	for (;;) {
		z.next_out = out;
		z.avail_out = sizeof(out);
		zr = inflate(&z, Z_BLOCK);
		if (zr == Z_STREAM_END) {
			in_base += z.total_in;
			out_base += z.total_out;
			if (z.avail_in == 0)
				break;
			inflateReset(&z);
			continue;
		}
		if (zr != Z_OK)
			break;
		if ((z.data_type & 128) && !(z.data_type & 64) && z.total_out > 0 && nb < max) {
			b[nb].in = in_base + z.total_in;
			b[nb].out = out_base + z.total_out;
			b[nb].bits = (uint8_t)(z.data_type & 7);
			nb++;
		}
	}
	inflateEnd(&z);
	return nb;
}

/* Read [off, off + size) of data from gz through point b (NULL: the start). */
static int read_range(const uint8_t *gz, size_t gz_len, const uint8_t *data, uint64_t off,
	uint64_t size, const struct boundary *b, size_t cut, bool wrong_oid, struct sink *s)
{
	struct seekidx_point pt = {0};
	struct seekidx_span sp = {0};
	struct seekidx_file f = {{0}, off, size};
	struct seekidx_reader *rd = NULL;
	size_t wlen = 0;
	int r;

	hash_git_blob(HASH_SHA1, data + off, size, f.oid);
	if (wrong_oid)
		f.oid[0] ^= 1;
	if (b) {
		pt.in = b->in;
		pt.out = b->out;
		pt.bits = b->bits;
		sp.point = &pt;
		sp.in_start = b->in - (b->bits ? 1 : 0);
		sp.skip = off - b->out;
		wlen = b->out < SEEKIDX_WINDOW ? b->out : SEEKIDX_WINDOW;
	} else {
		sp.skip = off;
	}
	sp.in_end = gz_len - cut;
	s->len = 0;
	r = seekidx_reader_new(&sp, &f, b ? data + b->out - wlen : NULL, wlen, sink_out, s, &rd);
	if (r < 0)
		return r;
	r = seekidx_reader_feed(rd, gz + sp.in_start, sp.in_end - sp.in_start);
	if (r >= 0)
		r = seekidx_reader_finish(rd);
	seekidx_reader_free(rd);
	if (r == 0 && (s->len != size || memcmp(s->p, data + off, size) != 0))
		return -1000; /* wrong bytes */
	return r;
}

/* Points inside a byte (bits != 0), across gzip members, from zlib's own blocks. */
static void test_bits(void)
{
	size_t n = 600000, half = 250000, i, nb, gz_len, tried = 0, good = 0, withbits = 0;
	uint8_t *data = malloc(n), *gz = malloc(2 * n + 4096);
	struct boundary b[256];
	struct sink s = {0};
	uint32_t seed = 7;

	/* text with some entropy: many blocks, back-references into the window */
	for (i = 0; i < n; i++) {
		seed = seed * 1103515245 + 12345;
		data[i] = (uint8_t)("abcdefgh ijklmnop\n"[(seed >> 16) % 18]);
		if (i > 100 && (seed >> 8) % 3 == 0)
			data[i] = data[i - 50 - (seed >> 20) % 50];
	}
	gz_len = gzip_member(data, half, gz);
	gz_len += gzip_member(data + half, n - half, gz + gz_len);
	nb = scan(gz, gz_len, b, 256);
	ok(nb > 4, "bits: %zu block boundaries in two members", nb);
	for (i = 0; i < nb; i++) {
		uint64_t off = b[i].out + 1000, size = 20000;
		int r;

		if (off + size > n)
			size = n - off;
		withbits += b[i].bits != 0;
		r = read_range(gz, gz_len, data, off, size, &b[i], 0, false, &s);
		tried++;
		good += r == 0;
		if (r != 0)
			diag("boundary %zu (in %llu bits %u): %d", i, (unsigned long long)b[i].in,
				b[i].bits, r);
	}
	ok(tried > 0 && good == tried, "bits: %zu of %zu reads from a boundary (%zu with bits)",
		good, tried, withbits);
	ok(withbits > 0, "bits: some boundaries are inside a byte");
	/* across the member boundary, from a point of the first member and from the start */
	for (i = 0; i < nb && b[i].out < half - 40000; i++)
		;
	if (i > 0)
		i--;
	is_int(read_range(gz, gz_len, data, half - 30000, 60000, &b[i], 0, false, &s), 0,
		"bits: a range across members from a point");
	is_int(read_range(gz, gz_len, data, half - 30000, 60000, NULL, 0, false, &s), 0,
		"bits: a range across members from the start");
	is_int(read_range(gz, gz_len, data, n - 5000, 5000, NULL, 0, false, &s), 0,
		"bits: the last bytes from the start");
	is_int(read_range(gz, gz_len, data, n - 5000, 5000, &b[nb - 1], 3000, false, &s), -EPIPE,
		"bits: a span cut short is -EPIPE");
	is_int(read_range(gz, gz_len, data, 100, 5000, NULL, 0, true, &s), -EBADMSG,
		"bits: bytes of another blob id are -EBADMSG");
	free(s.p);
	free(data);
	free(gz);
}

/* Parse checks beyond the forgeries: the pin, the messages, the window. */
static void test_parse_errors(void)
{
	struct art a = {0};
	struct seekidx *x = NULL, *y = NULL;
	uint8_t other[HASH_SHA1_LEN] = {1}, win[SEEKIDX_WINDOW], *cp;
	uint64_t hl = 0;
	const char *why = NULL;
	char *msg = NULL;
	size_t got;

	if (make("pe", "--span 20000", &a) < 0) {
		ok(0, "parse errors: seekidx.py");
		return;
	}
	is_int(seekidx_parse(a.idx, a.idx_len, other, &x, &msg), -EBADMSG,
		"parse: the index of another tree is -EBADMSG (%s)", msg ? msg : "");
	free(msg);
	msg = NULL;
	is_int(seekidx_parse(a.idx, a.idx_len, NULL, &x, NULL), 0, "parse: without a pin");
	is_int(seekidx_head_len(a.idx, 64, &hl, &why), -EILSEQ, "head_len: 64 bytes is -EILSEQ");
	is_int(seekidx_head_len(a.idx, 128, &hl, &why), 0, "head_len: from the fixed header");
	ok(hl > SEEKIDX_FIXED && hl < a.idx_len, "head_len: %llu", (unsigned long long)hl);
	if (x && seekidx_npoints(x)) {
		const struct seekidx_point *p = seekidx_point(x, 0);

		is_int(seekidx_window(a.idx + p->window_off, p->window_len, win, &got), 0,
			"window: inflates");
		ok(got == (p->out < SEEKIDX_WINDOW ? p->out : SEEKIDX_WINDOW), "window: %zu bytes",
			got);
		is_int(seekidx_window(a.idx + p->window_off, p->window_len - 1, win, &got), -EILSEQ,
			"window: cut short is -EILSEQ");
	}
	/* a tree object that does not hash: the message names it */
	cp = malloc(a.idx_len);
	memcpy(cp, a.idx, a.idx_len);
	cp[SEEKIDX_FIXED + 24 + 7] ^= 0x20; /* "a.txt", the root's first name, to "A.txt" */
	is_int(seekidx_parse(cp, a.idx_len, a.tree, &y, &msg), -EBADMSG,
		"parse: a changed name is -EBADMSG");
	ok(msg && strstr(msg, "tree object 0 (oid ") && strstr(msg, "does not hash to its id"),
		"parse: message '%s'", msg ? msg : "");
	free(msg);
	msg = NULL;
	/* counts the head cannot hold: refused before anything is allocated */
	memcpy(cp, a.idx, a.idx_len);
	cp[104] = cp[105] = cp[106] = 0xff;
	cp[107] = 0x7f; /* ntrees 2^31 - 1 */
	{
		uint32_t crc = (uint32_t)crc32(0, cp, 124);

		cp[124] = (uint8_t)crc;
		cp[125] = (uint8_t)(crc >> 8);
		cp[126] = (uint8_t)(crc >> 16);
		cp[127] = (uint8_t)(crc >> 24);
	}
	is_int(seekidx_parse(cp, a.idx_len, a.tree, &y, &msg), -EILSEQ,
		"parse: 2^31 - 1 tree objects in a small head is -EILSEQ (%s)", msg ? msg : "");
	free(msg);
	free(cp);
	seekidx_free(y);
	seekidx_free(x);
	art_free(&a);
}

int main(void)
{
	if (getenv("TESTS_SRCDIR") == NULL) {
		printf("1..0 # SKIP TESTS_SRCDIR not set (run through make check)\n");
		return 0;
	}
	if (tu_mkdtemp(dir, sizeof(dir), "seekidx") < 0)
		return 1;
	srand(1);
	make_src();
	test_roundtrip("one", "--span 20000", 20);
	test_roundtrip("members", "--span 30000 --members 3", 10);
	test_roundtrip("bigspan", "--span 1048576", 0);
	test_spans();
	test_forged("tree", -EBADMSG);
	test_forged("crc", -EILSEQ);
	test_forged("head", -EILSEQ);
	test_forged("offset", 0);
	test_forged("window", 0);
	test_parse_errors();
	test_bits();
	tu_rmtree(dir);
	return tap_done();
}
