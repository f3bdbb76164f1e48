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
 * Lock order: f->lock is a leaf; it is never held while install() or done()
 * runs.  Cross-process single flight is the store's (store_lock_hash).
 */
#include "fs/fs.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct waiter {
	struct waiter *next;
	void (*done)(void *arg, int err);
	void *arg;
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
};

struct fs_flights {
	pthread_mutex_t lock;
	pthread_cond_t work;
	struct fs_installer inst;
	double retry_after;
	bool stopping;
	struct flight *flights;	/* short list: flights in progress or recently failed */
	pthread_t *threads;
	unsigned n_threads;
};

static double now_mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
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
		memcpy(hash, fl->hash, sizeof(hash));
		req = fl->req;
		fl->req = NULL;
		pthread_mutex_unlock(&f->lock);

		msg = NULL;
		r = f->inst.install(f->inst.ctx, hash, req, &msg);
		if (r < 0)
			fs_log(FS_LOG_ERR, "cannot install artifact %s: %s", hash,
			       msg ? msg : strerror(-r));
		free(msg);
		fs_install_req_free(req);

		pthread_mutex_lock(&f->lock);
		w = fl->waiters;
		fl->waiters = NULL;
		fl->running = false;
		if (r < 0) {
			fl->failed_at = now_mono();
			fl->err = r == -EFBIG ? -EFBIG : -EIO;
		} else {
			unlink_flight(f, fl);
			free(fl);
		}
		pthread_mutex_unlock(&f->lock);
		call_waiters(w, r < 0 ? (r == -EFBIG ? -EFBIG : -EIO) : 0);
		pthread_mutex_lock(&f->lock);
	}
	pthread_mutex_unlock(&f->lock);
	return NULL;
}

int fs_flights_new(unsigned jobs, double retry_after, const struct fs_installer *inst,
		   struct fs_flights **ret)
{
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
	f->inst = *inst;
	f->retry_after = retry_after;
	for (i = 0; i < jobs; i++) {
		r = pthread_create(&f->threads[i], NULL, worker, f);
		if (r) {
			fs_flights_free(f);
			return -r;
		}
		f->n_threads++;
	}
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
	pthread_mutex_unlock(&f->lock);
	call_waiters(w, -EINTR);

	for (i = 0; i < f->n_threads; i++)
		pthread_join(f->threads[i], NULL);
	for (fl = f->flights; fl; fl = next) {
		next = fl->next;
		call_waiters(fl->waiters, -EINTR);
		fs_install_req_free(fl->req);
		free(fl);
	}
	pthread_cond_destroy(&f->work);
	pthread_mutex_destroy(&f->lock);
	free(f->threads);
	free(f);
}

int fs_flight_wait(struct fs_flights *f, const char *hash, void (*done)(void *arg, int err),
		   void *arg)
{
	return fs_flight_wait_req(f, hash, NULL, done, arg);
}

void fs_sources_free(struct fs_source *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(v[i].url);
		free(v[i].sha256);
	}
	free(v);
}

void fs_install_req_free(struct fs_install_req *r)
{
	if (!r)
		return;
	free(r->name);
	free(r->toml);
	fs_sources_free(r->sources, r->n_sources);
	free(r);
}

int fs_flight_wait_req(struct fs_flights *f, const char *hash, struct fs_install_req *req,
		       void (*done)(void *arg, int err), void *arg)
{
	struct flight *fl;
	struct waiter *w;
	int r = 0;

	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->done = done;
	w->arg = arg;

	pthread_mutex_lock(&f->lock);
	if (f->stopping) {
		r = -EINTR;
		goto out;
	}
	fl = find(f, hash);
	if (fl && !fl->running && !fl->queued && fl->failed_at > 0) {
		if (now_mono() - fl->failed_at < f->retry_after) {
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
	w->next = fl->waiters;
	fl->waiters = w;
	w = NULL;
out:
	pthread_mutex_unlock(&f->lock);
	fs_install_req_free(req);
	free(w);
	return r;
}

const char *fs_flight_state(struct fs_flights *f, const char *hash)
{
	struct flight *fl;
	const char *state = NULL;

	pthread_mutex_lock(&f->lock);
	fl = find(f, hash);
	if (fl && (fl->queued || fl->running))
		state = "pending";
	else if (fl && fl->failed_at > 0 && now_mono() - fl->failed_at < f->retry_after)
		state = "failed";
	pthread_mutex_unlock(&f->lock);
	return state;
}
