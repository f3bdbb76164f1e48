/*
 * flight.c - single flight for installs inside the daemon
 *
 * A FUSE request that needs an artifact which is not installed yet must not
 * hold a FUSE worker thread for the length of a download: one slow mirror
 * would otherwise exhaust the thread pool and stall every other artifact.
 * So the request is parked as a waiter on the hash's flight and the FUSE
 * thread returns at once; one of our own worker threads runs the install
 * and then calls every waiter's done(), which replies to the parked request.
 *
 * A waiter leaves its flight in one of three ways, each exactly once: the
 * install ends (done() with its result), the waiter is cancelled
 * (fs_flight_cancel(), e.g. a FUSE interrupt: done() is not called), or it
 * has waited install_timeout seconds (done() with -EIO, from the timer
 * thread, with the install's progress in the log).  The install itself goes
 * on for the other waiters and for the next request.
 *
 * Lock order: f->lock is a leaf; it is never held while install() or done()
 * runs.  Cross-process single flight is the store's (store_lock_hash).
 */
#include "fs/fs.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct waiter {
	struct waiter *next;
	void (*done)(void *arg, int err);
	void *arg;
	const void *key;	/* for fs_flight_cancel(); NULL: not cancellable */
	double deadline;	/* monotonic seconds: answered -EIO after it */
	double slow_at;		/* monotonic seconds: logged as slow after it; 0 = never */
};

struct flight {
	struct flight *next;
	char hash[41];
	bool queued;		/* waiting for a worker */
	bool running;		/* a worker is installing it */
	double failed_at;	/* monotonic seconds of the last failure, 0 = none */
	int err;		/* what the waiters of the failure got */
	struct fs_install_req *req;	/* what the next install needs (owned) */
	struct waiter *waiters;
	double started;		/* monotonic seconds the install began, 0 = queued */
	uint64_t bytes, total;	/* progress of the running download */
	char *url;		/* ... and its URL, or NULL */
	char name[256];		/* the running install's name, or "" */
	char *error;		/* the last failure's message (one line), or NULL */
};

struct fs_flights {
	pthread_mutex_t lock;
	pthread_cond_t work;
	pthread_cond_t timer_cond;	/* a waiter was added, or stopping */
	struct fs_installer inst;
	double retry_after;
	double install_timeout;
	double slow_log;	/* fs_flights_set_slow_log(); 0 = never */
	bool stopping;
	struct flight *flights;	/* short list: flights in progress or recently failed */
	pthread_t *threads;
	unsigned n_threads;
	pthread_t timer;
	bool timer_started;
	double (*clock)(void *arg);	/* fs_flights_set_clock(); NULL: CLOCK_MONOTONIC */
	void *clock_arg;
};

static double now_mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The flights' clock, in seconds: the monotonic clock, or the test's. */
static double clock_now(struct fs_flights *f)
{
	return f->clock ? f->clock(f->clock_arg) : now_mono();
}

static struct flight *find(struct fs_flights *f, const char *hash)
{
	struct flight *fl;

	for (fl = f->flights; fl; fl = fl->next)
		if (strcmp(fl->hash, hash) == 0)
			return fl;
	return NULL;
}

static void unlink_flight(struct fs_flights *f, struct flight *fl)
{
	struct flight **pp;

	for (pp = &f->flights; *pp; pp = &(*pp)->next)
		if (*pp == fl) {
			*pp = fl->next;
			return;
		}
}

static void flight_free(struct flight *fl)
{
	fs_install_req_free(fl->req);
	free(fl->url);
	free(fl->error);
	free(fl);
}

static void call_waiters(struct waiter *w, int err)
{
	struct waiter *next;

	for (; w; w = next) {
		next = w->next;
		w->done(w->arg, err);
		free(w);
	}
}

static void *worker(void *arg)
{
	struct fs_flights *f = arg;
	struct flight *fl;
	struct fs_install_req *req;
	struct waiter *w;
	char hash[41], *msg;
	int r;

	pthread_mutex_lock(&f->lock);
	for (;;) {
		for (fl = f->flights; fl; fl = fl->next)
			if (fl->queued)
				break;
		if (!fl) {
			if (f->stopping)
				break;
			pthread_cond_wait(&f->work, &f->lock);
			continue;
		}
		fl->queued = false;
		fl->running = true;
		fl->started = clock_now(f);
		fl->bytes = fl->total = 0;
		memcpy(hash, fl->hash, sizeof(hash));
		req = fl->req;
		fl->req = NULL;
		snprintf(fl->name, sizeof(fl->name), "%s", req && req->name ? req->name : "");
		pthread_mutex_unlock(&f->lock);

		/* The installer logs the outcome (install.c); the flight keeps the failure. */
		msg = NULL;
		r = f->inst.install(f->inst.ctx, hash, req, &msg);
		if (r < 0 && !msg)
			msg = strdup(strerror(-r));
		fs_install_req_free(req);

		pthread_mutex_lock(&f->lock);
		w = fl->waiters;
		fl->waiters = NULL;
		fl->running = false;
		fl->started = 0;
		free(fl->url);
		fl->url = NULL;
		if (r < 0) {
			fl->failed_at = clock_now(f);
			fl->err = r == -EFBIG ? -EFBIG : -EIO;
			if (msg) {
				free(fl->error);
				fl->error = msg;
				msg = NULL;
			}
		} else {
			unlink_flight(f, fl);
			flight_free(fl);
		}
		free(msg);
		pthread_mutex_unlock(&f->lock);
		call_waiters(w, r < 0 ? (r == -EFBIG ? -EFBIG : -EIO) : 0);
		pthread_mutex_lock(&f->lock);
	}
	pthread_mutex_unlock(&f->lock);
	return NULL;
}

/* "queued", or "running for 12 s, 4096 of 65536 bytes from 'URL'", for the log. */
static void describe_progress(const struct flight *fl, double now, char *buf, size_t size)
{
	char total[40] = "";

	if (!fl->running) {
		snprintf(buf, size, "queued: every install worker is busy");
		return;
	}
	if (fl->total)
		snprintf(total, sizeof(total), " of %" PRIu64, fl->total);
	if (fl->url)
		snprintf(buf, size, "running for %.1f s, %" PRIu64 "%s bytes received from '%s'",
			 now - fl->started, fl->bytes, total, fl->url);
	else
		snprintf(buf, size, "running for %.1f s, no download started yet",
			 now - fl->started);
}

/* The name of fl's install for the log: the running request's, else the queued one's. */
static const char *flight_name(const struct flight *fl)
{
	if (fl->running && fl->name[0])
		return fl->name;
	if (fl->req && fl->req->name)
		return fl->req->name;
	return "(no name)";
}

/*
 * slow_waiters - log once per flight the waiters that have waited longer
 * than slow_log since the last look (each waiter once), and lower *next to
 * the earliest slow mark still to come.
 */
static void slow_waiters(struct fs_flights *f, struct flight *fl, double now, double *next)
{
	struct waiter *w;
	double waited = 0;
	char progress[512];
	unsigned n = 0;

	for (w = fl->waiters; w; w = w->next) {
		if (!w->slow_at)
			continue;
		if (w->slow_at > now) {
			if (!*next || w->slow_at < *next)
				*next = w->slow_at;
			continue;
		}
		if (now - (w->slow_at - f->slow_log) > waited)
			waited = now - (w->slow_at - f->slow_log);
		w->slow_at = 0;
		n++;
	}
	if (!n)
		return;
	describe_progress(fl, now, progress, sizeof(progress));
	fs_log(FS_LOG_WARNING, "slow install of '%s' (%s): %u request%s waiting for %.1f s "
	       "(slow_install_log %g s): %s", flight_name(fl), fl->hash, n, n == 1 ? "" : "s",
	       waited, f->slow_log, progress);
}

/*
 * The timer thread: answers -EIO to every waiter whose install_timeout has
 * passed, one log line per flight, and logs the waiters that have waited
 * longer than slow_log (slow_waiters()).  It sleeps until the earliest
 * deadline, woken early when a waiter is added (which may be due earlier),
 * at stop, or when a test's clock moved (fs_flights_tick()).
 */
static void *timer_thread(void *arg)
{
	struct fs_flights *f = arg;
	struct waiter *w, **pp, *expired;
	struct flight *fl;
	struct timespec ts;
	double now, next;
	char progress[512];
	unsigned n;

	pthread_mutex_lock(&f->lock);
	while (!f->stopping) {
		now = clock_now(f);
		next = 0;
		expired = NULL;
		for (fl = f->flights; fl && !expired; fl = fl->next) {
			n = 0;
			for (pp = &fl->waiters; (w = *pp);) {
				if (w->deadline <= now) {
					*pp = w->next;
					w->next = expired;
					expired = w;
					n++;
					continue;
				}
				if (!next || w->deadline < next)
					next = w->deadline;
				pp = &w->next;
			}
			if (n) {
				describe_progress(fl, now, progress, sizeof(progress));
				fs_log(FS_LOG_ERR, "artifact %s: not installed within "
				       "install_timeout (%g s): %u request%s answered EIO; "
				       "the install goes on (%s)", fl->hash, f->install_timeout,
				       n, n == 1 ? "" : "s", progress);
			} else {
				slow_waiters(f, fl, now, &next);
			}
		}
		if (expired) {
			/* Answer outside the lock, then look again from the start. */
			pthread_mutex_unlock(&f->lock);
			call_waiters(expired, -EIO);
			pthread_mutex_lock(&f->lock);
			continue;
		}
		if (!next || f->clock) {
			/* A test's clock moves by fs_flights_tick() only. */
			pthread_cond_wait(&f->timer_cond, &f->lock);
			continue;
		}
		ts.tv_sec = (time_t)next;
		ts.tv_nsec = (long)((next - (double)ts.tv_sec) * 1e9);
		pthread_cond_timedwait(&f->timer_cond, &f->lock, &ts);
	}
	pthread_mutex_unlock(&f->lock);
	return NULL;
}

void fs_flights_set_clock(struct fs_flights *f, double (*now)(void *arg), void *arg)
{
	pthread_mutex_lock(&f->lock);
	f->clock = now;
	f->clock_arg = arg;
	pthread_cond_signal(&f->timer_cond);
	pthread_mutex_unlock(&f->lock);
}

void fs_flights_set_slow_log(struct fs_flights *f, double seconds)
{
	pthread_mutex_lock(&f->lock);
	f->slow_log = seconds;
	pthread_mutex_unlock(&f->lock);
}

void fs_flights_tick(struct fs_flights *f)
{
	pthread_mutex_lock(&f->lock);
	pthread_cond_signal(&f->timer_cond);
	pthread_mutex_unlock(&f->lock);
}

int fs_flights_new(unsigned jobs, double retry_after, double install_timeout,
		   const struct fs_installer *inst, struct fs_flights **ret)
{
	pthread_condattr_t ca;
	struct fs_flights *f;
	unsigned i;
	int r;

	f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	f->threads = calloc(jobs, sizeof(*f->threads));
	if (!f->threads) {
		free(f);
		return -ENOMEM;
	}
	pthread_mutex_init(&f->lock, NULL);
	pthread_cond_init(&f->work, NULL);
	/* The timer's deadlines are CLOCK_MONOTONIC, as now_mono(). */
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&f->timer_cond, &ca);
	pthread_condattr_destroy(&ca);
	f->inst = *inst;
	f->retry_after = retry_after;
	f->install_timeout = install_timeout;
	for (i = 0; i < jobs; i++) {
		r = pthread_create(&f->threads[i], NULL, worker, f);
		if (r) {
			fs_flights_free(f);
			return -r;
		}
		f->n_threads++;
	}
	r = pthread_create(&f->timer, NULL, timer_thread, f);
	if (r) {
		fs_flights_free(f);
		return -r;
	}
	f->timer_started = true;
	*ret = f;
	return 0;
}

void fs_flights_free(struct fs_flights *f)
{
	struct flight *fl, *next;
	struct waiter *w = NULL, *tail;
	unsigned i;

	if (!f)
		return;
	pthread_mutex_lock(&f->lock);
	f->stopping = true;
	/* Queued flights will not start: hand their waiters back. */
	for (fl = f->flights; fl; fl = fl->next) {
		if (fl->queued && fl->waiters) {
			for (tail = fl->waiters; tail->next; tail = tail->next)
				;
			tail->next = w;
			w = fl->waiters;
			fl->waiters = NULL;
		}
		fl->queued = false;
	}
	pthread_cond_broadcast(&f->work);
	pthread_cond_broadcast(&f->timer_cond);
	pthread_mutex_unlock(&f->lock);
	call_waiters(w, -EINTR);

	if (f->timer_started)
		pthread_join(f->timer, NULL);
	for (i = 0; i < f->n_threads; i++)
		pthread_join(f->threads[i], NULL);
	for (fl = f->flights; fl; fl = next) {
		next = fl->next;
		call_waiters(fl->waiters, -EINTR);
		flight_free(fl);
	}
	pthread_cond_destroy(&f->timer_cond);
	pthread_cond_destroy(&f->work);
	pthread_mutex_destroy(&f->lock);
	free(f->threads);
	free(f);
}

int fs_flight_wait(struct fs_flights *f, const char *hash, const void *key,
		   void (*done)(void *arg, int err), void *arg)
{
	return fs_flight_wait_req(f, hash, key, NULL, done, arg);
}

int fs_flight_wait_req(struct fs_flights *f, const char *hash, const void *key,
		       struct fs_install_req *req, void (*done)(void *arg, int err), void *arg)
{
	struct flight *fl;
	struct waiter *w;
	int r = 0;

	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->done = done;
	w->arg = arg;
	w->key = key;
	w->deadline = clock_now(f) + f->install_timeout;

	pthread_mutex_lock(&f->lock);
	if (f->stopping) {
		r = -EINTR;
		goto out;
	}
	fl = find(f, hash);
	if (fl && !fl->running && !fl->queued && fl->failed_at > 0) {
		if (clock_now(f) - fl->failed_at < f->retry_after) {
			r = fl->err;
			goto out;
		}
		fl->failed_at = 0;	/* the window is over: try again */
		fl->queued = true;
		fs_install_req_free(fl->req);	/* with what the names say now */
		fl->req = req;
		req = NULL;
		pthread_cond_signal(&f->work);
	}
	if (!fl) {
		fl = calloc(1, sizeof(*fl));
		if (!fl) {
			r = -ENOMEM;
			goto out;
		}
		memcpy(fl->hash, hash, 40);
		fl->queued = true;
		fl->req = req;
		req = NULL;
		fl->next = f->flights;
		f->flights = fl;
		pthread_cond_signal(&f->work);
	}
	if (fl->queued && !fl->req) {	/* started without one: not begun yet */
		fl->req = req;
		req = NULL;
	}
	if (f->slow_log > 0 && f->slow_log < f->install_timeout)
		w->slow_at = w->deadline - f->install_timeout + f->slow_log;
	w->next = fl->waiters;
	fl->waiters = w;
	w = NULL;
	pthread_cond_signal(&f->timer_cond);
out:
	pthread_mutex_unlock(&f->lock);
	fs_install_req_free(req);
	free(w);
	return r;
}

int fs_flight_cancel(struct fs_flights *f, const void *key, void **ret_arg)
{
	struct waiter *w, **pp;
	struct flight *fl;
	int r = 0;

	if (!key)
		return 0;
	pthread_mutex_lock(&f->lock);
	for (fl = f->flights; fl && !r; fl = fl->next)
		for (pp = &fl->waiters; (w = *pp); pp = &w->next)
			if (w->key == key) {
				*pp = w->next;
				if (ret_arg)
					*ret_arg = w->arg;
				free(w);
				r = 1;
				break;
			}
	pthread_mutex_unlock(&f->lock);
	return r;
}

void fs_flight_progress(struct fs_flights *f, const char *hash, const char *url, uint64_t now,
			uint64_t total)
{
	struct flight *fl;
	char *copy;

	pthread_mutex_lock(&f->lock);
	fl = find(f, hash);
	if (fl && fl->running) {
		if (url && (!fl->url || strcmp(fl->url, url) != 0)) {
			copy = strdup(url);
			if (copy) {
				free(fl->url);
				fl->url = copy;
			}
		}
		fl->bytes = now;
		fl->total = total;
	}
	pthread_mutex_unlock(&f->lock);
}

const char *fs_flight_state(struct fs_flights *f, const char *hash)
{
	struct flight *fl;
	const char *state = NULL;

	pthread_mutex_lock(&f->lock);
	fl = find(f, hash);
	if (fl && (fl->queued || fl->running))
		state = "pending";
	else if (fl && fl->failed_at > 0 && clock_now(f) - fl->failed_at < f->retry_after)
		state = "failed";
	pthread_mutex_unlock(&f->lock);
	return state;
}

int fs_flight_get_progress(struct fs_flights *f, const char *hash, uint64_t *bytes,
			   uint64_t *total)
{
	struct flight *fl;
	int r = 0;

	pthread_mutex_lock(&f->lock);
	fl = find(f, hash);
	if (fl && fl->running) {
		*bytes = fl->bytes;
		*total = fl->total;
		r = 1;
	}
	pthread_mutex_unlock(&f->lock);
	return r;
}

char *fs_flight_error(struct fs_flights *f, const char *hash)
{
	struct flight *fl;
	char *msg = NULL;

	pthread_mutex_lock(&f->lock);
	fl = find(f, hash);
	if (fl && fl->error)
		msg = strdup(fl->error);
	pthread_mutex_unlock(&f->lock);
	return msg;
}

unsigned fs_flights_inflight(struct fs_flights *f)
{
	struct flight *fl;
	unsigned n = 0;

	pthread_mutex_lock(&f->lock);
	for (fl = f->flights; fl; fl = fl->next)
		if (fl->queued || fl->running)
			n++;
	pthread_mutex_unlock(&f->lock);
	return n;
}

int fs_flights_foreach(struct fs_flights *f, int (*fn)(const struct fs_flight_info *, void *),
		       void *arg)
{
	struct fs_flight_info *v = NULL, *nv;
	struct flight *fl;
	size_t n = 0, cap = 0, i;
	double now;
	int r = 0, err = 0;

	pthread_mutex_lock(&f->lock);
	now = clock_now(f);
	for (fl = f->flights; fl; fl = fl->next) {
		if (!fl->queued && !fl->running)
			continue;	/* a remembered failure */
		if (n == cap) {
			cap = cap ? cap * 2 : 8;
			nv = realloc(v, cap * sizeof(*v));
			if (!nv) {
				err = -ENOMEM;
				break;
			}
			v = nv;
		}
		memset(&v[n], 0, sizeof(v[n]));
		memcpy(v[n].hash, fl->hash, sizeof(v[n].hash));
		v[n].running = fl->running;
		if (fl->running) {
			snprintf(v[n].name, sizeof(v[n].name), "%s", fl->name);
			snprintf(v[n].url, sizeof(v[n].url), "%s", fl->url ? fl->url : "");
			v[n].bytes = fl->bytes;
			v[n].total = fl->total;
			v[n].age = now - fl->started;
		}
		n++;
	}
	pthread_mutex_unlock(&f->lock);
	/* The callbacks run outside the lock: they may take their time. */
	for (i = 0; r == 0 && i < n; i++)
		r = fn(&v[i], arg);
	free(v);
	return r ? r : err;
}
