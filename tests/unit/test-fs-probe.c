/*
 * test-fs-probe.c - fs/probe.c: the cache of the Pkg server's answers of
 * any_hash=, with a stub for the HEAD and a clock of the test: answers
 * are cached (a yes for good, a no and a failure for negative_timeout),
 * concurrent callers of one hash share one question, and a question in
 * flight never holds up another hash.
 */
#include "fs/fs.h"
#include "tests/tap.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define YES "1111111111111111111111111111111111111111"
#define NO "2222222222222222222222222222222222222222"
#define FAIL "3333333333333333333333333333333333333333"
#define SLOW "4444444444444444444444444444444444444444"

static double clock_now;

static double test_clock(void *arg)
{
	(void)arg;
	return clock_now;
}

/* The stub server: SLOW waits until the gate opens, after `started` callers came. */
static pthread_mutex_t gate_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_cond = PTHREAD_COND_INITIALIZER;
static int started, want_started;
static bool gate_open;

static int stub(void *ctx, const char *hash, char **errmsg)
{
	(void)ctx;
	if (strcmp(hash, SLOW) == 0) {
		pthread_mutex_lock(&gate_lock);
		while (!gate_open || started < want_started)
			pthread_cond_wait(&gate_cond, &gate_lock);
		pthread_mutex_unlock(&gate_lock);
		return 1;
	}
	if (strcmp(hash, FAIL) == 0) {
		*errmsg = strdup("HEAD http://127.0.0.1:1/artifact/3333...: connection refused");
		return -ECONNREFUSED;
	}
	return strcmp(hash, YES) == 0;
}

static struct fs_probes *new_probes(double negative_timeout)
{
	struct fs_prober prober = { stub, NULL };
	struct fs_probes *p = NULL;

	if (fs_probes_new(negative_timeout, &prober, &p) < 0)
		abort();
	fs_probes_set_clock(p, test_clock, NULL);
	return p;
}

static void test_cache(void)
{
	struct fs_probes *p = new_probes(60);

	clock_now = 1000;
	ok(fs_probe(p, YES), "the server has YES");
	ok(!fs_probe(p, NO), "it has not NO");
	ok(!fs_probe(p, FAIL), "a failure is taken as absent");
	is_int(fs_probes_asked(p), 3, "three questions");
	ok(fs_probe(p, YES) && !fs_probe(p, NO) && !fs_probe(p, FAIL), "the same answers again");
	is_int(fs_probes_asked(p), 3, "... from the cache");
	clock_now += 59;
	ok(!fs_probe(p, NO) && !fs_probe(p, FAIL), "absent still within negative_timeout");
	is_int(fs_probes_asked(p), 3, "... without asking");
	clock_now += 2;
	ok(!fs_probe(p, NO), "after negative_timeout NO is asked again");
	ok(!fs_probe(p, FAIL), "... and so is FAIL");
	is_int(fs_probes_asked(p), 5, "... each once");
	clock_now += 365 * 86400.0;
	ok(fs_probe(p, YES), "a yes is kept for good");
	is_int(fs_probes_asked(p), 5, "... without asking");
	fs_probes_free(p);

	p = new_probes(0);
	ok(!fs_probe(p, NO) && !fs_probe(p, NO), "negative_timeout=0: absent twice");
	is_int(fs_probes_asked(p), 2, "... asked each time");
	fs_probes_free(p);
}

/* Past FS_PROBES_MAX answers the expired go; when none has, all go. */
static void test_limit(void)
{
	struct fs_probes *p = new_probes(60);
	char hash[41];
	uint64_t asked;
	unsigned i;

	clock_now = 0;
	for (i = 0; i < FS_PROBES_MAX; i++) {
		snprintf(hash, sizeof(hash), "%040x", i + 16);
		fs_probe(p, hash);
	}
	ok(fs_probe(p, YES), "one answer past the limit");
	asked = fs_probes_asked(p);
	snprintf(hash, sizeof(hash), "%040x", 16);
	fs_probe(p, hash);
	is_int(fs_probes_asked(p), asked + 1, "... dropped every answer (none had expired)");
	clock_now = 61;
	for (i = 1; i < FS_PROBES_MAX - 1; i++) {
		snprintf(hash, sizeof(hash), "%040x", i + 16);
		fs_probe(p, hash);
	}
	snprintf(hash, sizeof(hash), "%040x", FS_PROBES_MAX + 16);
	asked = fs_probes_asked(p);
	fs_probe(p, hash);
	ok(fs_probe(p, YES), "at the limit again, the fresh answers stay");
	is_int(fs_probes_asked(p), asked + 1, "... (YES was not asked again)");
	snprintf(hash, sizeof(hash), "%040x", 16);
	fs_probe(p, hash);
	is_int(fs_probes_asked(p), asked + 2, "... the expired one was dropped");
	fs_probes_free(p);
}

static struct fs_probes *shared;
static atomic_int answered_yes;

static void *prober_thread(void *arg)
{
	const char *hash = arg;

	pthread_mutex_lock(&gate_lock);
	started++;
	pthread_cond_broadcast(&gate_cond);
	pthread_mutex_unlock(&gate_lock);
	if (fs_probe(shared, hash))
		atomic_fetch_add(&answered_yes, 1);
	return NULL;
}

static void test_single_flight(void)
{
	pthread_t t[8];
	int i;

	shared = new_probes(60);
	want_started = 8;
	started = 0;
	gate_open = false;
	for (i = 0; i < 8; i++)
		pthread_create(&t[i], NULL, prober_thread, SLOW);
	/* SLOW's question is in flight, held by the gate: another hash is answered meanwhile */
	while (fs_probes_asked(shared) == 0)
		sched_yield();
	ok(!fs_probe(shared, NO), "another hash is answered while SLOW is asked");
	pthread_mutex_lock(&gate_lock);
	gate_open = true;
	pthread_cond_broadcast(&gate_cond);
	pthread_mutex_unlock(&gate_lock);
	for (i = 0; i < 8; i++)
		pthread_join(t[i], NULL);
	is_int(atomic_load(&answered_yes), 8, "8 concurrent callers of SLOW get yes");
	is_int(fs_probes_asked(shared), 2, "... from one question (and one for NO)");
	fs_probes_free(shared);
}

int main(void)
{
	fs_log_open(true, false);
	test_cache();
	test_limit();
	test_single_flight();
	return tap_done();
}
