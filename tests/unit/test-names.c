/*
 * test-names.c - the daemon's name table (fs/names.c): which names are
 * refused, and what an install of a hash gets through its flight request
 * (the sources of every name bound to it, in the documented order)
 */
#include "fs/fs.h"
#include "fetch/fetch.h"
#include "fetch/platform.h"
#include "tests/tap.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char hz[] = "aaff7498aaff7498aaff7498aaff7498aaff7498";
static const char ht[] = "5f624a7f5f624a7f5f624a7f5f624a7f5f624a7f";
static const char hx[] = "0123456789012345678901234567890123456789";
static const char sha[] = "1111111111111111111111111111111111111111111111111111111111111111";

static char dir[] = "/tmp/test-names.XXXXXX";

/* Write one Artifacts.toml under dir; returns its malloc'ed path. */
static char *write_toml(const char *base, const char *text)
{
	char *path;
	FILE *f;

	if (asprintf(&path, "%s/%s", dir, base) < 0)
		abort();
	f = fopen(path, "w");
	if (!f)
		abort();
	fputs(text, f);
	fclose(f);
	return path;
}

static void test_refusal(void)
{
	char longname[300];

	ok(fs_name_refusal("zlib", 4) == NULL, "a plain name is accepted");
	ok(fs_name_refusal("Zlib-1.2_x.y", 12) == NULL, "dots, dashes, underscores are accepted");
	ok(fs_name_refusal("", 0) != NULL, "the empty name is refused");
	ok(fs_name_refusal("a/b", 3) != NULL, "a name with '/' is refused");
	ok(fs_name_refusal("nul\0x", 5) != NULL, "a name with a NUL byte is refused");
	ok(fs_name_refusal(".", 1) != NULL, "'.' is refused");
	ok(fs_name_refusal("..", 2) != NULL, "'..' is refused");
	ok(fs_name_refusal("...", 3) == NULL, "'...' is a file name");
	memset(longname, 'x', sizeof(longname));
	longname[255] = '\0';
	ok(fs_name_refusal(longname, 255) == NULL, "255 bytes are accepted");
	longname[255] = 'x';
	longname[256] = '\0';
	ok(fs_name_refusal(longname, 256) != NULL, "256 bytes are refused");
	ok(fs_name_refusal(hz, 40) != NULL, "40 lowercase hex digits are refused");
	ok(fs_name_refusal("AAFF7498AAFF7498AAFF7498AAFF7498AAFF7498", 40) != NULL,
	   "40 uppercase hex digits are refused");
	ok(fs_name_refusal("aaff7498aaff7498aaff7498aaff7498aaff749", 39) == NULL,
	   "39 hex digits are a name");
	ok(fs_name_refusal("gaff7498aaff7498aaff7498aaff7498aaff7498", 40) == NULL,
	   "40 characters with a non-hex one are a name");
}

static void src_is(const struct fs_install_req *r, size_t i, const char *url, uint64_t size,
		   const char *what)
{
	if (i >= r->n_sources) {
		ok(0, "%s: source %zu missing", what, i);
		return;
	}
	is_str(r->sources[i].url, url, "%s: source %zu", what, i);
	is_int((long long)r->sources[i].size, (long long)size, "%s: size of source %zu", what, i);
}

static void test_build_and_request(void)
{
	struct platform *host = NULL;
	struct fs_config cfg;
	struct fs_names *n = NULL;
	struct fs_install_req *r = NULL;
	char *a, *b, *msg = NULL, text[4096];
	size_t i;

	snprintf(text, sizeof(text),
		 "[Aaa_mirror]\ngit-tree-sha1 = \"%s\"\n"
		 "[[Aaa_mirror.download]]\nurl = \"https://dead.example/z.tar.gz\"\n"
		 "sha256 = \"%s\"\nsize = 10\n"
		 "[Zzz]\ngit-tree-sha1 = \"%s\"\n"
		 "[[Zzz.download]]\nurl = \"https://good.example/z.tar.gz\"\nsha256 = \"%s\"\n"
		 "size = 20\n"
		 "[[Zzz.download]]\nurl = \"https://dead.example/z.tar.gz\"\nsha256 = \"%s\"\n"
		 "[tools]\ngit-tree-sha1 = \"%s\"\n"
		 "[[tools.download]]\nurl = \"https://t.example/t.tar.gz\"\nsha256 = \"%s\"\n"
		 "[\"a/b\"]\ngit-tree-sha1 = \"%s\"\n"
		 "[\"\"]\ngit-tree-sha1 = \"%s\"\n"
		 "[\"nul\\u0000x\"]\ngit-tree-sha1 = \"%s\"\n",
		 hz, sha, hz, sha, sha, ht, sha, ht, ht, ht);
	a = write_toml("a.toml", text);
	/* A later file: Zzz again (same hash, one more mirror), Aaa_mirror with
	 * another hash, and a name that is another artifact's hash. */
	snprintf(text, sizeof(text),
		 "[Zzz]\ngit-tree-sha1 = \"%s\"\n"
		 "[[Zzz.download]]\nurl = \"https://third.example/z.tar.gz\"\nsha256 = \"%s\"\n"
		 "size = 30\n"
		 "[Aaa_mirror]\ngit-tree-sha1 = \"%s\"\n"
		 "[[Aaa_mirror.download]]\nurl = \"https://x.example/x.tar.gz\"\nsha256 = \"%s\"\n"
		 "[\"%s\"]\ngit-tree-sha1 = \"%s\"\n"
		 "[[\"%s\".download]]\nurl = \"https://evil.example/z.tar.gz\"\nsha256 = \"%s\"\n",
		 hz, sha, hx, sha, ht, hz, ht, sha);
	b = write_toml("b.toml", text);

	fs_config_init(&cfg);
	fs_config_add_toml(&cfg, a);
	fs_config_add_toml(&cfg, b);
	if (platform_host("x86_64-linux-gnu", &host) < 0) {
		ok(0, "a host platform");
		goto out;
	}
	is_int(fs_names_build(&cfg, host, true, &n, &msg), 0, "two files build (strict)");
	if (!n) {
		diag("%s", msg ? msg : "");
		goto out;
	}
	is_int((long long)fs_names_count(n), 3, "three names are listed");
	for (i = 0; i < fs_names_count(n); i++)
		diag("name '%s'", fs_names_at(n, i)->name);
	ok(fs_names_find(n, "Aaa_mirror") && fs_names_find(n, "Zzz") && fs_names_find(n, "tools"),
	   "the good names are listed");
	ok(!fs_names_find(n, "a/b") && !fs_names_find(n, "") && !fs_names_find(n, "nul"),
	   "names that cannot be file names are left out");
	ok(!fs_names_find(n, ht), "a name that is a hash is left out");
	is_str(fs_names_find(n, "Aaa_mirror")->hash, hz, "the first file's definition wins");
	ok(fs_names_find_hash(n, hx) != NULL, "the hash of a shadowed binding is known");
	ok(fs_names_find_hash(n, "ffffffffffffffffffffffffffffffffffffffff") == NULL,
	   "an unbound hash is not");

	/* Reached through Zzz: its own mirrors first, then the others', each once. */
	is_int(fs_names_request(n, hz, "Zzz", &r), 0, "a request through Zzz");
	is_str(r->name, "Zzz", "names the accessed name");
	is_str(r->toml, a, "and its file");
	is_int((long long)r->n_sources, 3, "three distinct mirrors");
	src_is(r, 0, "https://good.example/z.tar.gz", 20, "via Zzz");
	src_is(r, 1, "https://dead.example/z.tar.gz", 0, "via Zzz");
	src_is(r, 2, "https://third.example/z.tar.gz", 30, "via Zzz");
	fs_install_req_free(r);
	r = NULL;

	/* No name given: the first binding in configuration order leads. */
	is_int(fs_names_request(n, hz, NULL, &r), 0, "a request by hash alone");
	is_str(r->name, "Aaa_mirror", "names the first binding in file order");
	src_is(r, 0, "https://dead.example/z.tar.gz", 10, "by hash");
	src_is(r, 1, "https://good.example/z.tar.gz", 20, "by hash");
	src_is(r, 2, "https://third.example/z.tar.gz", 30, "by hash");
	ok(r->n_sources == 3, "the evil mirror of the refused name is not among them");
	fs_install_req_free(r);
	r = NULL;

	/* A name bound to another hash does not lead. */
	is_int(fs_names_request(n, hz, "tools", &r), 0, "a request through an unrelated name");
	is_str(r->name, "Aaa_mirror", "falls back to the first binding");
	fs_install_req_free(r);
	r = NULL;

	/* The later file's Aaa_mirror is not listed, but serves its hash. */
	is_int(fs_names_request(n, hx, "Aaa_mirror", &r), 0, "a request of a shadowed binding");
	is_str(r->name, "Aaa_mirror", "names it");
	is_str(r->toml, b, "in its own file");
	src_is(r, 0, "https://x.example/x.tar.gz", 0, "shadowed");
	fs_install_req_free(r);
	r = NULL;

	/* No binding at all. */
	is_int(fs_names_request(n, "ffffffffffffffffffffffffffffffffffffffff", NULL, &r), 0,
	       "a request of an unnamed hash");
	ok(r->name == NULL && r->toml == NULL && r->n_sources == 0, "has no name and no source");
	fs_install_req_free(r);
	r = NULL;
	is_int(fs_names_request(NULL, hz, NULL, &r), 0, "no names at all");
	ok(r->name == NULL && r->n_sources == 0, "gives an empty request");
	fs_install_req_free(r);
out:
	fs_names_unref(n);
	platform_free(host);
	fs_config_release(&cfg);
	unlink(a);
	unlink(b);
	free(a);
	free(b);
	free(msg);
}

/* ---- the request travels with the flight ------------------------------------------- */

/*
 * The install is held until every waiter has joined (a gate the test
 * opens), and the test waits for the answers on a condition variable: no
 * sleep decides what joins what.  WAIT_GUARD only ends a hung test.
 */
#define WAIT_GUARD 120	/* seconds */

static pthread_mutex_t ev_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t ev_cond = PTHREAD_COND_INITIALIZER;
static bool gate_open;
static int done_calls;

struct seen {
	atomic_int installs;
	char name[64];
	size_t n_sources;
};

static int record_install(void *ctx, const char *hash, const struct fs_install_req *req,
			  char **errmsg)
{
	struct seen *s = ctx;

	pthread_mutex_lock(&ev_lock);
	while (!gate_open)
		pthread_cond_wait(&ev_cond, &ev_lock);
	pthread_mutex_unlock(&ev_lock);
	snprintf(s->name, sizeof(s->name), "%s", req && req->name ? req->name : "(none)");
	s->n_sources = req ? req->n_sources : 0;
	atomic_fetch_add(&s->installs, 1);
	return 0;
}

static void on_done(void *arg, int err)
{
	pthread_mutex_lock(&ev_lock);
	done_calls++;
	pthread_cond_broadcast(&ev_cond);
	pthread_mutex_unlock(&ev_lock);
}

/* Open the gate and wait until n waiters were answered; returns how many were. */
static int open_and_wait(int n)
{
	struct timespec ts;
	int calls;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += WAIT_GUARD;
	pthread_mutex_lock(&ev_lock);
	gate_open = true;
	pthread_cond_broadcast(&ev_cond);
	while (done_calls < n)
		if (pthread_cond_timedwait(&ev_cond, &ev_lock, &ts) != 0)
			break;
	calls = done_calls;
	pthread_mutex_unlock(&ev_lock);
	return calls;
}

static struct fs_install_req *make_req(const char *name, size_t n)
{
	struct fs_install_req *r = calloc(1, sizeof(*r));
	size_t i;

	r->name = strdup(name);
	r->toml = strdup("/x/Artifacts.toml");
	r->sources = calloc(n, sizeof(*r->sources));
	for (i = 0; i < n; i++) {
		r->sources[i].url = strdup("https://example.org/a.tar.gz");
		r->sources[i].sha256 = strdup(sha);
	}
	r->n_sources = n;
	return r;
}

static void test_flight_request(void)
{
	struct seen s = { 0 };
	struct fs_installer inst = { record_install, &s };
	struct fs_flights *f;

	if (fs_flights_new(1, 0, 600, &inst, &f) < 0) {
		ok(0, "flights start");
		return;
	}
	is_int(fs_flight_wait_req(f, hz, NULL, make_req("first", 2), on_done, NULL), 0,
	       "the first waiter starts the flight with its request");
	is_int(fs_flight_wait_req(f, hz, NULL, make_req("second", 5), on_done, NULL), 0,
	       "a second waiter joins it");
	is_int(fs_flight_wait(f, hz, NULL, on_done, NULL), 0, "a waiter without a request joins too");
	is_int(open_and_wait(3), 3, "every waiter is answered");
	is_int(atomic_load(&s.installs), 1, "one install");
	is_str(s.name, "first", "install() got the request of the waiter that started it");
	is_int((long long)s.n_sources, 2, "with its sources");
	/* A request given to a stopping flight set is freed (ASan checks). */
	fs_flights_free(f);
}

int main(void)
{
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	fs_log_open(true, false);
	test_refusal();
	test_build_and_request();
	test_flight_request();
	rmdir(dir);
	return tap_done();
}
