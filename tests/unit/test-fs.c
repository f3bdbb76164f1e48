/*
 * test-fs.c - the FUSE-free parts of the daemon: install flights (single
 * flight, failure window, install_timeout, cancel, shutdown) and the
 * settings (-o and config file)
 */
#include "fs/fs.h"
#include "store/util/units.h"
#include "fetch/fetch.h"
#include "store/util/control.h"
#include "tests/tap.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>
#include <unistd.h>

/*
 * ---- a stub installer: counts installs, holds them at a gate, fails on request
 *
 * Every wait below is on an event (a condition variable the stub or the
 * callback signals), never on the clock; the flights' clock is the test's
 * (fs_flights_set_clock()), moved by hand.  WAIT_GUARD only ends a hung
 * test: no assertion depends on it.
 */
#define WAIT_GUARD 120	/* seconds */

static pthread_mutex_t ev_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t ev_cond = PTHREAD_COND_INITIALIZER;

/* Wait, under ev_lock, until cond_fn(arg) holds or the guard passes. */
static void wait_for(bool (*cond_fn)(void *), void *arg)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += WAIT_GUARD;
	pthread_mutex_lock(&ev_lock);
	while (!cond_fn(arg))
		if (pthread_cond_timedwait(&ev_cond, &ev_lock, &ts) == ETIMEDOUT)
			break;
	pthread_mutex_unlock(&ev_lock);
}

static void signal_event(void)
{
	pthread_mutex_lock(&ev_lock);
	pthread_cond_broadcast(&ev_cond);
	pthread_mutex_unlock(&ev_lock);
}

struct stub {
	atomic_int installs;
	atomic_int running;
	atomic_int max_running;
	int fail;		/* -errno to return, 0 = succeed */
	bool gate_open;		/* installs wait until it opens (under ev_lock) */
};

static void gate_set(struct stub *s, bool open)
{
	pthread_mutex_lock(&ev_lock);
	s->gate_open = open;
	pthread_cond_broadcast(&ev_cond);
	pthread_mutex_unlock(&ev_lock);
}

static bool gate_is_open(void *arg)
{
	return ((struct stub *)arg)->gate_open;
}

static int stub_install(void *ctx, const char *hash, const struct fs_install_req *req,
			char **errmsg)
{
	struct stub *s = ctx;
	int now = atomic_fetch_add(&s->running, 1) + 1;
	int max = atomic_load(&s->max_running);

	while (now > max && !atomic_compare_exchange_weak(&s->max_running, &max, now))
		;
	atomic_fetch_add(&s->installs, 1);
	signal_event();
	wait_for(gate_is_open, s);
	atomic_fetch_sub(&s->running, 1);
	if (s->fail) {
		*errmsg = strdup("stub failure");
		return s->fail;
	}
	return 0;
}

struct count_arg {
	atomic_int *v;
	int n;
};

static bool count_reached(void *arg)
{
	struct count_arg *a = arg;

	return atomic_load(a->v) >= a->n;
}

/* Wait until *v (changed under ev_lock or followed by signal_event()) reaches n. */
static void wait_count(atomic_int *v, int n)
{
	struct count_arg a = { v, n };

	wait_for(count_reached, &a);
}

/* Wait until n installs run at once (held at the closed gate). */
static void wait_running(struct stub *s, int n)
{
	wait_count(&s->running, n);
}

struct result {
	atomic_int calls;
	atomic_int errors;
	atomic_int last_err;
	struct stub *open_on_error;	/* open this stub's gate at the first error */
};

static void on_done(void *arg, int err)
{
	struct result *r = arg;

	if (err)
		atomic_fetch_add(&r->errors, 1);
	atomic_store(&r->last_err, err);
	if (err && r->open_on_error)
		gate_set(r->open_on_error, true);
	pthread_mutex_lock(&ev_lock);
	atomic_fetch_add(&r->calls, 1);
	pthread_cond_broadcast(&ev_cond);
	pthread_mutex_unlock(&ev_lock);
}

/* Wait until r's waiters were called back n times. */
static void wait_calls(struct result *r, int n)
{
	wait_count(&r->calls, n);
}

/* The flights' clock: seconds, moved only by the test. */
static _Atomic double test_clock = 1000.0;

static double read_clock(void *arg)
{
	return atomic_load(&test_clock);
}

static void advance_clock(struct fs_flights *f, double seconds)
{
	atomic_store(&test_clock, atomic_load(&test_clock) + seconds);
	fs_flights_tick(f);
}

static const char h1[] = "1111111111111111111111111111111111111111";
static const char h2[] = "2222222222222222222222222222222222222222";

/* What fs_flights_foreach() showed. */
struct flights_seen {
	int n, running;
	uint64_t bytes, total;
	char url[512];
};

static int count_flight(const struct fs_flight_info *i, void *arg)
{
	struct flights_seen *fi = arg;

	fi->n++;
	fi->running += i->running;
	if (i->bytes) {
		fi->bytes = i->bytes;
		fi->total = i->total;
		snprintf(fi->url, sizeof(fi->url), "%s", i->url);
	}
	return 0;
}

static void test_flights(void)
{
	struct stub s = { 0 };
	struct fs_installer inst = { stub_install, &s };
	struct fs_flights *f;
	struct result r = { 0 }, r2 = { 0 };
	struct flights_seen fi;
	char *msg;
	int i, ok32 = 1;

	ok(fs_flights_new(4, 0.3, 600, &inst, &f) == 0, "flights start with 4 workers");
	fs_flights_set_clock(f, read_clock, NULL);
	for (i = 0; i < 32; i++)
		ok32 &= fs_flight_wait(f, h1, NULL, on_done, &r) == 0;
	ok(ok32, "32 waiters of one hash are queued");
	is_str(fs_flight_state(f, h1), "pending", "state is pending during the install");
	gate_set(&s, true);
	wait_calls(&r, 32);
	is_int(atomic_load(&r.calls), 32, "every waiter is called back");
	is_int(atomic_load(&r.errors), 0, "with success");
	is_int(atomic_load(&s.installs), 1, "32 waiters share one install (single flight)");
	ok(fs_flight_state(f, h1) == NULL, "no state after a successful install");

	/* Two hashes install in parallel: both reach the closed gate. */
	memset(&r, 0, sizeof(r));
	atomic_store(&s.installs, 0);
	gate_set(&s, false);
	fs_flight_wait(f, h1, NULL, on_done, &r);
	fs_flight_wait(f, h2, NULL, on_done, &r);
	wait_running(&s, 2);
	fs_flight_progress(f, h1, "http://h/one", 100, 1000);
	memset(&fi, 0, sizeof(fi));
	is_int(fs_flights_foreach(f, count_flight, &fi), 0, "foreach walks the flights");
	ok(fi.n == 2 && fi.running == 2, "both running installs are listed (%d, %d)", fi.n,
	   fi.running);
	ok(fi.bytes == 100 && fi.total == 1000 && strcmp(fi.url, "http://h/one") == 0,
	   "with their progress");
	gate_set(&s, true);
	wait_calls(&r, 2);
	memset(&fi, 0, sizeof(fi));
	fs_flights_foreach(f, count_flight, &fi);
	is_int(fi.n, 0, "finished installs are not listed");
	is_int(atomic_load(&s.installs), 2, "two hashes, two installs");
	is_int(atomic_load(&s.max_running), 2, "and they ran at the same time");

	/* A failure reaches every waiter and is remembered for retry_after. */
	s.fail = -ECONNREFUSED;
	atomic_store(&s.installs, 0);
	gate_set(&s, false);
	for (i = 0; i < 5; i++)
		fs_flight_wait(f, h2, NULL, on_done, &r2);
	gate_set(&s, true);
	wait_calls(&r2, 5);
	is_int(atomic_load(&r2.errors), 5, "a failed install fails all its waiters");
	is_int(atomic_load(&r2.last_err), -EIO, "with -EIO");
	is_str(fs_flight_state(f, h2), "failed", "state is failed within retry_after");
	msg = fs_flight_error(f, h2);
	is_str(msg, "stub failure", "the flight keeps the failure's message");
	free(msg);
	ok(fs_flight_error(f, h1) == NULL, "a hash that did not fail has none");
	is_int(fs_flight_wait(f, h2, NULL, on_done, &r2), -EIO,
	       "within retry_after a new request fails at once");
	is_int(atomic_load(&s.installs), 1, "without another install");
	advance_clock(f, 0.35);
	ok(fs_flight_state(f, h2) == NULL, "after retry_after the failure is forgotten");
	s.fail = 0;
	memset(&r2, 0, sizeof(r2));
	is_int(fs_flight_wait(f, h2, NULL, on_done, &r2), 0,
	       "after retry_after a request is queued");
	wait_calls(&r2, 1);
	is_int(atomic_load(&r2.errors), 0, "and the retry succeeds");
	ok(fs_flight_error(f, h2) == NULL, "a success forgets the failure's message");
	is_int(atomic_load(&s.installs), 2, "with a second install");

	/*
	 * Shutdown with work queued: every waiter is answered.  The 4 workers
	 * hold 4 installs at the gate, 4 flights stay queued; the gate opens
	 * once shutdown has answered a queued one.
	 */
	memset(&r, 0, sizeof(r));
	r.open_on_error = &s;
	gate_set(&s, false);
	for (i = 0; i < 8; i++) {
		char h[41];

		memset(h, 'a' + i, 40);
		h[40] = '\0';
		fs_flight_wait(f, h, NULL, on_done, &r);
	}
	wait_running(&s, 4);
	fs_flights_free(f);
	is_int(atomic_load(&r.calls), 8, "shutdown answers every parked waiter");
	ok(atomic_load(&r.errors) >= 4, "queued ones with an error (%d errors)",
	   atomic_load(&r.errors));
}

/* ---- cancel and install_timeout: an install that runs until released ----- */

static void test_flights_leave(void)
{
	struct stub s = { 0 };
	struct fs_installer inst = { stub_install, &s };
	struct fs_flights *f;
	struct result r1 = { 0 }, r2 = { 0 }, r3 = { 0 };
	int k1, k2, k3;
	uint64_t bytes, total;
	void *arg = NULL;

	ok(fs_flights_new(2, 0, 0.3, &inst, &f) == 0, "flights with install_timeout 0.3 s");
	fs_flights_set_clock(f, read_clock, NULL);
	fs_flight_wait(f, h1, &k1, on_done, &r1);
	fs_flight_wait(f, h1, &k2, on_done, &r2);
	is_int(fs_flight_cancel(f, &k1, &arg), 1, "a waiting waiter can be cancelled");
	ok(arg == &r1, "... which gives back its arg");
	is_int(fs_flight_cancel(f, &k1, &arg), 0, "... once");
	is_int(fs_flight_cancel(f, NULL, &arg), 0, "a NULL key is never cancelled");
	wait_running(&s, 1);
	ok(fs_flight_get_progress(f, h1, &bytes, &total) == 1 && bytes == 0 && total == 0,
	   "a running install's progress is 0/0 before its download");
	fs_flight_progress(f, h1, "http://127.0.0.1/x.tar.gz", 10, 1000);
	ok(fs_flight_get_progress(f, h1, &bytes, &total) == 1 && bytes == 10 && total == 1000,
	   "... then what the download reported");
	is_int(fs_flight_get_progress(f, h2, &bytes, &total), 0, "no progress without an install");
	is_int((int)fs_flights_inflight(f), 1, "one install in flight");
	advance_clock(f, 0.4);
	wait_calls(&r2, 1);
	is_int(atomic_load(&r2.calls), 1, "the other waiter is answered after install_timeout");
	is_int(atomic_load(&r2.last_err), -EIO, "... with -EIO");
	is_int(fs_flight_cancel(f, &k2, &arg), 0, "an answered waiter cannot be cancelled");
	is_str(fs_flight_state(f, h1), "pending", "... while the install goes on");
	/* a new waiter joins the running install with its own deadline */
	fs_flight_wait(f, h1, &k3, on_done, &r3);
	gate_set(&s, true);
	wait_calls(&r3, 1);
	is_int(atomic_load(&r3.last_err), 0, "a later waiter gets the finished install");
	is_int(atomic_load(&s.installs), 1, "one install for all three");
	is_int((int)fs_flights_inflight(f), 0, "none in flight after it");
	fs_flights_free(f);	/* every thread joined: no callback can come later */
	is_int(atomic_load(&r1.calls), 0, "the cancelled waiter is never called back");
}

/*
 * log_has - whether the file fd (the log, stderr redirected) holds text,
 * looking again every 10 ms for at most 10 s: the timer thread logs
 * asynchronously.
 */
static bool log_has(int fd, const char *text)
{
	struct timespec ts = { 0, 10000000 };
	char buf[8192];
	ssize_t n;
	int i;

	for (i = 0; i < 1000; i++) {
		fflush(stderr);
		n = pread(fd, buf, sizeof(buf) - 1, 0);
		if (n > 0) {
			buf[n] = '\0';
			if (strstr(buf, text))
				return true;
		}
		nanosleep(&ts, NULL);
	}
	return false;
}

/* slow_install_log: a waiter past the mark is logged once, with the artifact's name. */
static void test_flights_slow(void)
{
	struct stub s = { 0 };
	struct fs_installer inst = { stub_install, &s };
	struct fs_flights *f;
	struct result r = { 0 };
	struct fs_install_req *req;
	char path[] = "/tmp/test-fs-log.XXXXXX", buf[8192];
	int fd, saved, k1;
	ssize_t n;

	fd = mkstemp(path);
	saved = dup(2);
	if (fd < 0 || saved < 0) {
		ok(0, "a file for the log");
		return;
	}
	unlink(path);
	fflush(stderr);
	dup2(fd, 2);
	req = calloc(1, sizeof(*req));
	req->name = strdup("SlowName");
	ok(fs_flights_new(1, 0, 600, &inst, &f) == 0, "flights with install_timeout 600 s");
	fs_flights_set_clock(f, read_clock, NULL);
	fs_flights_set_slow_log(f, 10);
	fs_flight_wait_req(f, h1, &k1, req, on_done, &r);
	wait_running(&s, 1);
	fs_flight_progress(f, h1, "http://127.0.0.1/slow.tar.gz", 20, 4000);
	advance_clock(f, 5);
	advance_clock(f, 6);
	ok(log_has(fd, "slow install of 'SlowName' (" "1111111111111111111111111111111111111111"
		   "): 1 request waiting for 11.0 s (slow_install_log 10 s): running for 11.0 s, "
		   "20 of 4000 bytes received from 'http://127.0.0.1/slow.tar.gz'"),
	   "a waiter past slow_install_log is logged with the name and the progress");
	advance_clock(f, 20);
	gate_set(&s, true);
	wait_calls(&r, 1);
	fs_flights_free(f);
	fflush(stderr);
	n = pread(fd, buf, sizeof(buf) - 1, 0);
	buf[n > 0 ? n : 0] = '\0';
	ok(strstr(buf, "slow install") && !strstr(strstr(buf, "slow install") + 1, "slow install"),
	   "... once");
	dup2(saved, 2);
	close(saved);
	close(fd);
}

static void test_config(void)
{
	struct fs_config c;
	const char *why;
	char path[] = "/tmp/artifactfs-test-XXXXXX", *msg = NULL;
	double d;
	FILE *f;
	int fd, r;

	fs_config_init(&c);
	is_int(c.jobs, 4, "jobs defaults to 4");
	is_str(fs_config_store(&c), "/var/cache/artifactfs", "default store");
	is_int(fs_config_set(&c, "store", "/srv/store", &why), 1, "store= is ours");
	is_str(fs_config_store(&c), "/srv/store", "store= sets the store");
	is_int(fs_config_set(&c, "allow_other", NULL, &why), 0, "allow_other is FUSE's");
	is_int(fs_config_set(&c, "jobs", "0", &why), -EINVAL, "jobs=0 is refused");
	ok(why && strstr(why, "1 to 256"), "with a reason");
	is_int(fs_config_set(&c, "tag", "novalue", &why), -EINVAL, "tag needs KEY=VALUE");
	is_int(fs_config_set(&c, "toml", "a.toml", &why), 1, "toml= once");
	is_int(fs_config_set(&c, "toml", "b.toml", &why), 1, "toml= twice");
	ok(c.n_tomls == 2 && strcmp(c.tomls[1], "b.toml") == 0, "toml= is repeatable, in order");
	is_int(fs_config_set(&c, "low_speed_time", "500ms", &why), 1, "durations with a unit");
	ok(c.low_speed_time > 0.499 && c.low_speed_time < 0.501, "500ms is 0.5 s");
	is_int(fs_config_set(&c, "timeout", "soon", &why), -EINVAL, "a bad duration is refused");
	is_int(fs_config_set(&c, "offline", NULL, &why), 1, "offline is a flag");
	is_int((int)c.log_level, FS_LOG_INFO, "log_level is info by default");
	is_int(fs_config_set(&c, "log_level", "warning", &why), 1, "log_level=warning");
	is_int((int)c.log_level, FS_LOG_WARNING, "... sets FS_LOG_WARNING");
	is_int(fs_config_set(&c, "log_level", "loud", &why), -EINVAL, "log_level=loud refused");
	is_str(why, "needs one of error, warning, info, debug", "... saying what it needs");
	ok(c.slow_install_log == 10, "slow_install_log is 10 s by default");
	is_int(fs_config_set(&c, "slow_install_log", "0", &why), 1, "slow_install_log=0");
	ok(c.offline, "offline set");
	ok(units_parse_seconds("2m", &d) == 0 && d == 120, "2m = 120 s");
	{
		uint64_t z = 0;

		ok(units_parse_size("1048576", &z) == 0 && z == 1048576, "size in bytes");
		ok(units_parse_size("500M", &z) == 0 && z == 500ULL << 20, "500M");
		ok(units_parse_size("1.5G", &z) == 0 && z == 3ULL << 29, "1.5G");
		ok(units_parse_size("2TiB", &z) == 0 && z == 2ULL << 40, "2TiB");
		ok(units_parse_size("20g", &z) == 0 && z == 20ULL << 30, "lowercase unit");
		is_int(units_parse_size("12Q", &z), -EINVAL, "unknown unit refused");
		is_int(units_parse_size("-1G", &z), -EINVAL, "negative size refused");
		is_int(fs_config_set(&c, "quota", "20G", &why), 1, "quota= is ours");
		ok(c.quota == 20ULL << 30, "quota=20G");
		is_int(fs_config_set(&c, "quota_low", "100", &why), -EINVAL, "quota_low=100 refused");
		is_int(fs_config_set(&c, "quota_low", "60%", &why), 1, "quota_low=60%%");
		is_int(c.quota_low, 60, "quota_low set");
	}
	/* proxy= is checked when it is set, with fetch/proxy.h's message */
	ok(!c.proxy && !c.proxy_shard && c.proxy_retry_after == 60 && c.proxy_reset_after == 300,
	   "proxy: none, no shard, retry after 60 s, reset after 300 s by default");
	is_int(fs_config_set(&c, "proxy", "http://s1:3128|http://s2:3128;DIRECT", &why), 1,
	       "proxy= takes a CernVM-FS list");
	is_str(c.proxy, "http://s1:3128|http://s2:3128;DIRECT", "... kept as given");
	is_int(fs_config_set(&c, "proxy", "s1:3128||s2:3128", &why), -EINVAL,
	       "a list with an empty member is refused");
	is_str(why, "needs a proxy list (empty member 2 in group 1 of 's1:3128||s2:3128')",
	       "... naming the bad part");
	is_str(c.proxy, "http://s1:3128|http://s2:3128;DIRECT", "... the setting unchanged");
	is_int(fs_config_set(&c, "proxy_shard", "on", &why), 1, "proxy_shard=on");
	ok(c.proxy_shard, "... set");
	is_int(fs_config_set(&c, "proxy_retry_after", "90s", &why), 1, "proxy_retry_after=90s");
	is_int(fs_config_set(&c, "proxy_reset_after", "0", &why), -EINVAL,
	       "proxy_reset_after=0 is refused");
	ok(c.proxy_retry_after == 90 && c.proxy_reset_after == 300, "... 90 s, 300 s");
	ok(units_parse_seconds("-1", &d) == -EINVAL, "negative durations are refused");
	fs_config_release(&c);

	fd = mkstemp(path);
	f = fdopen(fd, "w");
	fputs("store = \"/x\"\ntoml = [\"one.toml\", \"two.toml\"]\njobs = 8\n"
	      "low_speed_time = 3\noffline = true\ntag = \"llvm_version=20\"\n", f);
	fclose(f);
	fs_config_init(&c);
	is_int(fs_config_load_file(&c, path, &msg), 0, "a config file loads");
	ok(c.jobs == 8 && c.n_tomls == 2 && c.offline && c.low_speed_time == 3 && c.n_tags == 1,
	   "its settings apply");
	fs_config_release(&c);

	f = fopen(path, "w");
	fputs("store = \"/x\"\nbogus = 1\n", f);
	fclose(f);
	fs_config_init(&c);
	msg = NULL;
	r = fs_config_load_file(&c, path, &msg);
	is_int(r, -EINVAL, "an unknown key is refused");
	ok(msg && strstr(msg, path) && strstr(msg, "'bogus'"), "naming the file and key: %s",
	   msg ? msg : "(null)");
	free(msg);
	msg = NULL;
	fs_config_release(&c);

	f = fopen(path, "w");
	fputs("store = \n", f);
	fclose(f);
	fs_config_init(&c);
	r = fs_config_load_file(&c, path, &msg);
	ok(r < 0 && msg && strstr(msg, path),
	   "malformed TOML is refused with the file name: %s", msg ? msg : "(null)");
	free(msg);
	fs_config_release(&c);
	unlink(path);

	ok(fs_is_hash("0123456789abcdef0123456789abcdef01234567"), "a hash");
	ok(!fs_is_hash("0123456789ABCDEF0123456789abcdef01234567"), "uppercase is not a hash");
	ok(!fs_is_hash("0123456789abcdef0123456789abcdef0123456"), "39 digits is not a hash");
}

/* Each setting has one type, in -o and in the config file alike (issue 10, bug 4). */
static void config_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	fputs(text, f);
	fclose(f);
}

static void test_config_types(void)
{
	struct fs_config c;
	const char *why;
	static const struct {
		const char *what, *text, *want[4];
	} bad[] = {
		{ "offline = \"yes\"", "store = \"/x\"\n\noffline = \"yes\"\n",
		  { ":3:", "'offline'", "boolean", "the string \"yes\"" } },
		{ "jobs = \"8\" (a string)", "jobs = \"8\"\n",
		  { ":1:", "'jobs'", "integer", "the string \"8\"" } },
		{ "a value out of range, with a quoted key", "# settings\n  \"jobs\" = 0\n",
		  { ":2:", "1 to 256", "the integer 0" } },
		{ "connect_timeout = 0", "connect_timeout = 0\n", { ":1:", "greater than 0" } },
		{ "toml = 5", "toml = 5\n", { "array of strings", "the integer 5" } },
		{ "a table for quota", "[quota]\nx = 1\n", { ":1:", "a table" } },
	};
	char path[] = "/tmp/artifactfs-test-XXXXXX", *msg = NULL;
	size_t i, j;
	int fd, r;

	fs_config_init(&c);
	ok(fs_config_known("offline") && fs_config_known("install_timeout") &&
	   fs_config_known("max_unpacked") && fs_config_known("overmount"), "our keys are known");
	ok(!fs_config_known("allow_other"), "FUSE's are not");
	is_int(fs_config_set(&c, "offline", "yes", &why), 1, "offline=yes");
	ok(c.offline, "... sets it");
	is_int(fs_config_set(&c, "offline", "off", &why), 1, "offline=off");
	ok(!c.offline, "... clears it");
	is_int(fs_config_set(&c, "ignore_hashes", "1", &why), 1, "ignore_hashes=1");
	ok(c.ignore_hashes, "... sets it");
	is_int(fs_config_set(&c, "offline", "maybe", &why), -EINVAL, "offline=maybe is refused");
	ok(why && strstr(why, "boolean"), "... as not a boolean: %s", why ? why : "(null)");
	is_int(fs_config_set(&c, "connect_timeout", "0", &why), -EINVAL,
	       "connect_timeout=0 is refused (curl would wait 300 s)");
	is_int(fs_config_set(&c, "install_timeout", "0", &why), -EINVAL, "install_timeout=0 too");
	is_int(fs_config_set(&c, "install_timeout", "2s", &why), 1, "install_timeout=2s");
	ok(c.install_timeout == 2, "... is 2 s");
	is_int(fs_config_set(&c, "timeout", "1e300", &why), -EINVAL,
	       "an absurd duration is refused");
	is_int(fs_config_set(&c, "jobs", "-1", &why), -EINVAL, "jobs=-1 is refused");
	is_int(fs_config_set(&c, "max_unpacked", "10G", &why), 1, "max_unpacked=10G");
	ok(c.max_unpacked == 10ULL << 30, "... in bytes");
	is_int(fs_config_set(&c, "low_speed_limit", "2K", &why), 1, "low_speed_limit=2K");
	ok(c.low_speed_limit == 2048, "... in bytes per second");
	fs_config_release(&c);
	fs_config_init(&c);
	ok(c.low_speed_limit == 1024 && c.low_speed_time == 10,
	   "the low-speed abort defaults to under 1 KiB/s for 10 s");
	ok(c.install_timeout == 600, "install_timeout defaults to 600 s");

	fd = mkstemp(path);
	close(fd);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		config_file(path, bad[i].text);
		fs_config_init(&c);
		r = fs_config_load_file(&c, path, &msg);
		ok(r == -EINVAL && msg && strstr(msg, path), "%s is refused", bad[i].what);
		for (j = 0; j < 4 && bad[i].want[j]; j++)
			ok(msg && strstr(msg, bad[i].want[j]), "... saying %s: %s", bad[i].want[j],
			   msg ? msg : "(null)");
		ok(msg && !strstr(msg, "not a known setting"), "... not as an unknown key");
		free(msg);
		msg = NULL;
		fs_config_release(&c);
	}

	config_file(path, "offline = true\nignore_hashes = false\nlow_speed_time = \"2s\"\n"
			  "timeout = 1.5\nquota = \"1G\"\nmax_unpacked = 1048576\n"
			  "install_timeout = 30\novermount = true\n");
	r = fs_config_load_file(&c, path, &msg);
	is_int(r, 0, "values of the right types load: %s", msg ? msg : "");
	ok(c.offline && !c.ignore_hashes && c.low_speed_time == 2 && c.timeout == 1.5 &&
	   c.quota == 1ULL << 30 && c.max_unpacked == 1048576 && c.install_timeout == 30 &&
	   c.overmount, "... and apply");
	free(msg);
	unlink(path);
	fs_config_release(&c);
}

static void diff_key(void *arg, const char *key);

/* per_file=, seek_index=, full_install_after= (issue 16). */
static void test_config_per_file(void)
{
	char path[] = "/tmp/artifactfs-test-XXXXXX", *msg = NULL, keys[256] = "";
	struct fs_config c, d;
	const char *why;
	int fd, r;

	fs_config_init(&c);
	ok(!c.per_file && !c.seek_index_probe && !c.full_install_bytes && !c.full_install_files,
	   "per_file off, seek_index off, full_install_after never by default");
	is_int(fs_config_set(&c, "per_file", NULL, &why), 1, "per_file is a flag");
	ok(c.per_file, "... that sets it");
	is_int(fs_config_set(&c, "seek_index", "probe", &why), 1, "seek_index=probe");
	ok(c.seek_index_probe, "... probes");
	is_int(fs_config_set(&c, "seek_index", "off", &why), 1, "seek_index=off");
	ok(!c.seek_index_probe, "... does not");
	is_int(fs_config_set(&c, "seek_index", "maybe", &why), -EINVAL, "seek_index=maybe refused");
	ok(why && strstr(why, "probe or off"), "... naming the words: %s", why ? why : "");
	is_int(fs_config_set(&c, "full_install_after", "64M", &why), 1, "full_install_after=64M");
	ok(c.full_install_bytes == 64ULL << 20 && !c.full_install_files, "... in bytes");
	is_int(fs_config_set(&c, "full_install_after", "100files", &why), 1,
	       "full_install_after=100files");
	ok(c.full_install_files == 100 && !c.full_install_bytes, "... in files, bytes cleared");
	is_int(fs_config_set(&c, "full_install_after", "never", &why), 1, "=never");
	ok(!c.full_install_files && !c.full_install_bytes, "... clears both");
	is_int(fs_config_set(&c, "full_install_after", "0", &why), -EINVAL, "=0 is refused");
	is_int(fs_config_set(&c, "full_install_after", "-5files", &why), -EINVAL,
	       "=-5files is refused");
	is_int(fs_config_set(&c, "full_install_after", "5 apples", &why), -EINVAL,
	       "=5 apples is refused");
	fs_config_release(&c);

	fd = mkstemp(path);
	close(fd);
	config_file(path, "per_file = true\nseek_index = \"probe\"\nfull_install_after = 1048576\n");
	fs_config_init(&c);
	r = fs_config_load_file(&c, path, &msg);
	is_int(r, 0, "the config file takes them: %s", msg ? msg : "");
	ok(c.per_file && c.seek_index_probe && c.full_install_bytes == 1048576,
	   "... with TOML types (an integer of bytes)");
	free(msg);
	msg = NULL;
	fs_config_init(&d);
	d.per_file = true;
	d.seek_index_probe = true;
	d.full_install_files = 1048576;
	fs_config_diff(&c, &d, diff_key, keys);
	is_str(keys, "full_install_after ", "1048576 bytes and 1048576 files differ, "
	       "nothing else");
	fs_config_release(&c);
	fs_config_release(&d);
	config_file(path, "per_file = \"yes\"\n");
	fs_config_init(&c);
	r = fs_config_load_file(&c, path, &msg);
	ok(r == -EINVAL && msg && strstr(msg, "'per_file'"), "per_file = \"yes\" is refused: %s",
	   msg ? msg : "");
	free(msg);
	fs_config_release(&c);
	unlink(path);
}

/* The fetch defaults of a slow mirror (issue 10, bug 10 b). */
static void test_slow_defaults(void)
{
	struct fetch_options o;

	fetch_options_init(&o);
	ok(o.low_speed_limit == 1024 && o.low_speed_time == 10,
	   "a transfer under 1 KiB/s for 10 s fails by default");
	is_int(fetch_deadline(&o, 0), FETCH_DEADLINE_CEILING,
	       "an attempt of unknown size has the ceiling as deadline");
	is_int(fetch_deadline(&o, 1), FETCH_DEADLINE_FLOOR, "a tiny one the floor");
	is_int(fetch_deadline(&o, 640ull << 20), FETCH_DEADLINE_FLOOR + 10240,
	       "640 MiB: the floor plus the size at 64 KiB/s");
	ok(fetch_deadline(&o, UINT64_MAX) > 0, "no overflow for an absurd size");
	o.timeout = 7;
	is_int(fetch_deadline(&o, 640ull << 20), 7, "timeout= wins when set");
}

/* The counters and the ring of the last errors (stats.c). */
struct stats_arg {
	struct fs_stats *s;
	int n;
};

static void *stats_adder(void *arg)
{
	struct stats_arg *a = arg;
	int i;

	for (i = 0; i < a->n; i++)
		fs_stats_add(a->s, FS_STAT_SERVED, 3);
	return NULL;
}

static void test_stats(void)
{
	struct fs_stats s;
	struct fs_stats_error e[FS_STATS_ERRORS + 2];
	struct stats_arg a;
	pthread_t t[4];
	char buf[64], big[2000];
	size_t n;
	int i;

	fs_stats_init(&s);
	for (i = 0; i < FS_STAT_N; i++)
		if (fs_stats_get(&s, (enum fs_stat)i) != 0 || !fs_stats_name((enum fs_stat)i))
			break;
	is_int(i, FS_STAT_N, "every counter starts at 0 and has a name");
	ok(strcmp(fs_stats_name(FS_STAT_DOWNLOADED), "bytes_downloaded") == 0 &&
	   !fs_stats_name(FS_STAT_N), "names are the documented keys; out of range is NULL");
	fs_stats_add(&s, FS_STAT_HITS, 2);
	fs_stats_add(&s, FS_STAT_N, 5);	/* ignored */
	is_int((long long)fs_stats_get(&s, FS_STAT_HITS), 2, "add counts");
	is_int((long long)fs_stats_get(&s, FS_STAT_N), 0, "out of range reads 0");
	a.s = &s;
	a.n = 100000;
	for (i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, stats_adder, &a);
	for (i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	is_int((long long)fs_stats_get(&s, FS_STAT_SERVED), 4LL * 100000 * 3,
	       "four threads adding at once lose nothing");

	is_int((long long)fs_stats_errors(&s, e, FS_STATS_ERRORS), 0, "no errors at start");
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	for (i = 0; i < FS_STATS_ERRORS + 3; i++) {
		snprintf(buf, sizeof(buf), "a%d", i);
		fs_stats_error(&s, buf, i == 0 ? NULL : "http://h/x", i == 1 ? big :
			       "cause\nsecond line", 1000 + i);
	}
	n = fs_stats_errors(&s, e, FS_STATS_ERRORS + 2);
	is_int((long long)n, FS_STATS_ERRORS, "the ring keeps the last %d", FS_STATS_ERRORS);
	snprintf(buf, sizeof(buf), "a%d", FS_STATS_ERRORS + 2);
	ok(strcmp(e[0].artifact, buf) == 0 && e[0].when == 1000 + FS_STATS_ERRORS + 2,
	   "newest first: %s", e[0].artifact);
	snprintf(buf, sizeof(buf), "a%d", 3);
	ok(strcmp(e[n - 1].artifact, buf) == 0, "oldest kept last: %s", e[n - 1].artifact);
	ok(strcmp(e[0].cause, "cause") == 0 && strcmp(e[0].url, "http://h/x") == 0,
	   "only the first line of the cause is kept");
	n = fs_stats_errors(&s, e, 2);
	is_int((long long)n, 2, "max bounds the copy");
	fs_stats_release(&s);

	fs_stats_init(&s);
	fs_stats_error(&s, NULL, NULL, big, 7);
	n = fs_stats_errors(&s, e, 1);
	ok(n == 1 && e[0].artifact[0] == '\0' && e[0].url[0] == '\0' &&
	   strlen(e[0].cause) == sizeof(e[0].cause) - 1, "NULL strings are empty, long ones truncated");
	fs_stats_release(&s);
}

/* The control socket's path rule and request parser (store/util/control.c). */
static void test_control_proto(void)
{
	static const struct {
		const char *req;
		int want;	/* a verb, or -1 for refused */
	} cases[] = {
		{ "status\n", CONTROL_STATUS }, { "status", CONTROL_STATUS },
		{ " metrics \r\n", CONTROL_METRICS }, { "reload\n", CONTROL_RELOAD },
		{ "", -1 }, { "\n", -1 }, { "  \r\n", -1 }, { "stat", -1 }, { "statusx", -1 },
		{ "status\nreload\n", -1 }, { "status now", -1 }, { "Status", -1 },
		{ "status\r", -1 }, { "sta\ttus", -1 }, { "\x7fstatus", -1 },
	};
	enum control_verb v;
	const char *msg = NULL;
	char big[CONTROL_MAX + 1], *p = NULL;
	size_t i;
	int bad = 0;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int r = control_parse(cases[i].req, strlen(cases[i].req), &v, &msg);

		if (cases[i].want < 0 ? r != -EINVAL : r != 0 || (int)v != cases[i].want) {
			diag("request '%s': %d", cases[i].req, r);
			bad++;
		}
	}
	is_int(bad, 0, "requests are parsed or refused as documented");
	is_int(control_parse("status\0x\n", 9, &v, &msg), -EINVAL, "a NUL byte is refused");
	memset(big, ' ', sizeof(big));
	memcpy(big, "status", 6);
	is_int(control_parse(big, CONTROL_MAX, &v, &msg), -EINVAL, "... and a request too long");
	is_str(msg, "request too long", "... saying so");
	is_int(control_parse(big, CONTROL_MAX - 1, &v, &msg), 0,
	       "the longest request that fits is read");
	ok(control_owner_only(CONTROL_RELOAD) && !control_owner_only(CONTROL_STATUS) &&
	   !control_owner_only(CONTROL_METRICS), "only reload is for the owner");
	is_str(control_verb_name(CONTROL_METRICS), "metrics", "verb names");

	/* Requests with arguments: encoded by the client, decoded by the daemon. */
	{
		static const char *const names[] = { "a b", "50%", "--wait", "-x", "\xc3\xa9t\xc3\xa9",
						     "tab\there" };
		struct control_request rq;
		char req[CONTROL_ARGS_MAX];
		size_t k;

		snprintf(req, sizeof(req), "evict --wait");
		for (k = 0; k < 6; k++)
			control_encode_arg(req, sizeof(req), names[k]);
		strcat(req, "\n");
		is_int(control_parse_request(req, strlen(req), &rq, &msg), 0,
		       "an encoded evict request is parsed");
		ok(rq.verb == CONTROL_EVICT && rq.flags == CONTROL_WAIT && rq.n_args == 6,
		   "... its verb, its flag, its arguments");
		for (k = 0, bad = 0; k < rq.n_args && k < 6; k++)
			bad += strcmp(rq.args[k], names[k]) != 0;
		is_int(bad, 0, "... decoded as they were given (a leading '-' stays an argument)");
		control_request_release(&rq);
		is_int(control_parse_request("prefetch --all\n", 15, &rq, &msg), 0, "prefetch --all");
		ok(rq.verb == CONTROL_PREFETCH && rq.flags == CONTROL_ALL && rq.n_args == 0,
		   "... no arguments");
		is_int(control_parse_request("status\n", 7, &rq, &msg), 0, "a simple verb too");
		ok(rq.verb == CONTROL_STATUS && rq.n_args == 0, "... through control_parse()");
		is_int(control_parse_request("wipe x\n", 7, &rq, &msg), -EINVAL,
		       "wipe takes no arguments");
		is_int(control_parse_request("evict --all x\n", 14, &rq, &msg), -EINVAL,
		       "evict takes no --all");
		is_int(control_parse_request("evict  x\n", 9, &rq, &msg), -EINVAL,
		       "two blanks are refused");
		is_int(control_parse_request("evict %4\n", 9, &rq, &msg), -EINVAL,
		       "a cut %%-escape is refused");
		is_int(control_parse_request("evict a%00b\n", 12, &rq, &msg), -EINVAL,
		       "an encoded NUL is refused");
		is_int(control_parse("wipe\n", 5, &v, &msg), -EINVAL,
		       "control_parse() knows only the verbs without arguments");
		ok(control_has_args("prefetch x", 10) && !control_has_args("status", 6),
		   "control_has_args");
		ok(control_owner_only(CONTROL_EVICT) && control_owner_only(CONTROL_PREFETCH) &&
		   !control_owner_only(CONTROL_SOURCES), "evict, prefetch: owner only; sources not");
	}

	is_int(control_path("/mnt/a-b/c.d", NULL, true, &p), 0, "a system socket's path");
	is_str(p, "/run/artifactfs/mnt-a\\x2db-c.d.sock", "... escaped as systemd-escape --path");
	free(p);
	is_int(control_path("/", NULL, true, &p), 0, "the root");
	is_str(p, "/run/artifactfs/-.sock", "... is '-'");
	free(p);
	is_int(control_path("/m/.x", NULL, true, &p), 0, "a dot");
	is_str(p, "/run/artifactfs/m-.x.sock", "... inside is kept");
	free(p);
	is_int(control_path("/mnt", "/var/cache/af", false, &p), 0, "a user's socket");
	is_str(p, "/var/cache/af/control.sock", "... is in the store");
	free(p);
	is_int(control_path("mnt", "/s", false, &p), -EINVAL, "a relative mount point is refused");
	is_int(control_path("/mnt", NULL, false, &p), -EINVAL, "a user's socket needs the store");
	memset(big, 'a', 200);
	big[0] = '/';
	big[200] = '\0';
	is_int(control_path(big, NULL, true, &p), -ENAMETOOLONG, "too long for an address");
}

/* fs_config_diff names exactly the settings that differ. */
static void diff_key(void *arg, const char *key)
{
	char *buf = arg;

	strcat(buf, key);
	strcat(buf, " ");
}

static void test_config_diff(void)
{
	struct fs_config a, b;
	const char *why;
	char buf[256] = "";

	fs_config_init(&a);
	fs_config_init(&b);
	fs_config_diff(&a, &b, diff_key, buf);
	is_str(buf, "", "two default configs do not differ");
	fs_config_set(&a, "toml", "/x/Artifacts.toml", &why);
	fs_config_set(&b, "toml", "/x/Artifacts.toml", &why);
	fs_config_set(&b, "jobs", "8", &why);
	fs_config_set(&b, "quota", "1G", &why);
	fs_config_set(&b, "offline", NULL, &why);
	fs_config_set(&b, "control_group", "adm", &why);
	fs_config_set(&b, "install_timeout", "30", &why);
	fs_config_diff(&a, &b, diff_key, buf);
	is_str(buf, "jobs install_timeout quota offline control_group ",
	       "every changed setting, of each type, in table order");
	buf[0] = '\0';
	fs_config_set(&b, "toml", "/y/Artifacts.toml", &why);
	fs_config_set(&a, "config", "/etc/a.toml", &why);
	fs_config_diff(&a, &b, diff_key, buf);
	ok(strncmp(buf, "toml ", 5) == 0 && !strstr(buf, "config "),
	   "a list that grew differs; config= is not compared: %s", buf);
	fs_config_release(&a);
	fs_config_release(&b);
}

int main(void)
{
	fs_log_open(true, false);
	test_config_per_file();
	test_flights();
	test_flights_leave();
	test_flights_slow();
	test_config();
	test_config_types();
	test_slow_defaults();
	test_stats();
	test_control_proto();
	test_config_diff();
	return tap_done();
}
