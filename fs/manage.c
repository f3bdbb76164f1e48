/*
 * manage.c - the control socket's requests that change the store of a
 * running daemon: evict, wipe and prefetch (artifactfs(8) CONTROL SOCKET)
 *
 * Each builds its JSON answer on the control thread, or, with --wait, on a
 * thread of its own (control.c), so that a request that waits for files to
 * close or installs to end never holds up status.  Waiting is on events
 * (the pins' condition variable, the flights' done callback), woken every
 * second only to notice that the client went or that the daemon stops.
 */
#include "fs/daemon.h"
#include "store/store.h"
#include "store/util/control.h"

#include <errno.h>
#include <jansson.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define WAIT_TICK_MS 1000	/* how often a waiter checks the client and the stop */
#define MAX_HOLDERS 16		/* processes named per held artifact */

/* Whether a waiting request should give up: the daemon stops or the client went. */
static bool give_up(struct fs *fs, int client)
{
	struct pollfd p = { .fd = client, .events = 0 };
	bool stop;

	pthread_mutex_lock(&fs->control.lock);
	stop = fs->control.stopping;
	pthread_mutex_unlock(&fs->control.lock);
	return stop || (client >= 0 && poll(&p, 1, 0) > 0 && (p.revents & (POLLHUP | POLLERR)));
}

static double mono_now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/*
 * The hash an argument names: a hash as it is, else a name of the current
 * snapshot.  Returns false when it is neither.
 */
static bool resolve(struct fs_names *names, const char *arg, char hash[41])
{
	const struct fs_name *n;

	if (fs_is_hash(arg)) {
		memcpy(hash, arg, 41);
		return true;
	}
	n = fs_names_find(names, arg);
	if (!n)
		return false;
	memcpy(hash, n->hash, 41);
	return true;
}

/* ---- evict and wipe ----------------------------------------------------------------- */

/* Who holds hash: the processes found, else the count of open files. */
static json_t *holders_doc(struct fs *fs, const char *hash)
{
	struct fs_evict_holder h[MAX_HOLDERS];
	size_t i, n = fs_evict_holders(fs, hash, h, MAX_HOLDERS);
	json_t *a = json_array();

	for (i = 0; a && i < n && i < MAX_HOLDERS; i++)
		json_array_append_new(a, json_pack("{s:i, s:s}", "pid", h[i].pid, "command",
						   h[i].comm));
	return a;
}

/*
 * Remove one artifact; with wait, wait for its files to close (pins: an
 * event; pins of other processes: checked every second).  The entry of
 * the answer.
 */
static json_t *evict_one(struct fs *fs, const char *arg, const char *hash, bool wait, int client)
{
	uint64_t freed = 0;
	unsigned open;
	int r;

	for (;;) {
		r = fs_evict_remove(fs, hash, &freed);
		if (r != -EBUSY || !wait || give_up(fs, client))
			break;
		fs_evict_wait_closed(fs, hash, WAIT_TICK_MS);
	}
	if (r == 0)
		return json_pack("{s:s, s:s, s:s, s:I}", "artifact", arg, "hash", hash, "result",
				 "removed", "bytes", (json_int_t)freed);
	if (r == -ENOENT)
		return json_pack("{s:s, s:s, s:s}", "artifact", arg, "hash", hash, "result",
				 "not installed");
	if (r == -EBUSY) {
		open = fs_evict_open_files(fs, hash);
		return json_pack("{s:s, s:s, s:s, s:i, s:o, s:s}", "artifact", arg, "hash", hash,
				 "result", "held", "open_files", (int)open, "holders",
				 holders_doc(fs, hash), "cause", open ? "files open on the mount" :
				 "in use or being installed by another process of the store");
	}
	return json_pack("{s:s, s:s, s:s, s:s}", "artifact", arg, "hash", hash, "result",
			 "failed", "cause", strerror(-r));
}

static int collect_installed(const char *hash, const struct store_info *info, void *arg)
{
	json_t *a = arg;

	if (info->state == STORE_INSTALLED)
		return json_array_append_new(a, json_string(hash)) ? -ENOMEM : 0;
	return 0;
}

json_t *fs_manage_evict(struct fs *fs, const struct control_request *rq, int client)
{
	struct fs_names *names = fs_reload_names(fs);
	bool wait = rq->flags & CONTROL_WAIT;
	json_t *doc, *a = json_array(), *hashes = NULL, *v;
	char hash[41];
	const char *arg;
	size_t i, n;

	if (!a)
		goto fail;
	if (rq->verb == CONTROL_WIPE) {
		hashes = json_array();
		if (!hashes || store_foreach(fs->store, collect_installed, hashes) != 0)
			goto fail;
		n = json_array_size(hashes);
	} else {
		n = rq->n_args;
	}
	for (i = 0; i < n; i++) {
		arg = hashes ? json_string_value(json_array_get(hashes, i)) : rq->args[i];
		if (!resolve(names, arg, hash))
			v = json_pack("{s:s, s:s, s:s}", "artifact", arg, "result", "unknown",
				      "cause", "no such name or hash");
		else
			v = evict_one(fs, arg, hash, wait, client);
		if (!v || json_array_append_new(a, v) < 0)
			goto fail;
	}
	json_decref(hashes);
	fs_names_unref(names);
	doc = json_pack("{s:b, s:o}", "ok", 1, "artifacts", a);
	return doc;
fail:
	json_decref(hashes);
	json_decref(a);
	fs_names_unref(names);
	return NULL;
}

/* ---- prefetch ------------------------------------------------------------------------ */

/*
 * The artifacts a prefetch --wait waits for.  Shared by the request's
 * thread and the flights' done callbacks: refs counts the thread and each
 * queued waiter not yet called back or cancelled; the last one frees it.
 */
struct pf_wait;

struct pf_item {
	struct pf_wait *w;
	char hash[41];
	const char *name;		/* borrowed from the request or the names */
	int err;			/* the install's result */
	bool queued, done;
	double t0, t1;			/* monotonic seconds: asked, done */
};

struct pf_wait {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	unsigned refs;
	size_t pending;			/* queued items not done */
	struct pf_item items[];
};

static void pf_unref_locked(struct pf_wait *w)
{
	if (--w->refs > 0) {
		pthread_mutex_unlock(&w->lock);
		return;
	}
	pthread_mutex_unlock(&w->lock);
	pthread_mutex_destroy(&w->lock);
	pthread_cond_destroy(&w->cond);
	free(w);
}

static void pf_done(void *arg, int err)
{
	struct pf_item *it = arg;
	struct pf_wait *w = it->w;

	pthread_mutex_lock(&w->lock);
	it->err = err;
	it->done = true;
	it->t1 = mono_now();
	w->pending--;
	pthread_cond_broadcast(&w->cond);
	pf_unref_locked(w);
}

static void pf_ignore(void *arg, int err)
{
}

/* Start one install; the entry of the answer, or NULL with it->queued set (waiting). */
static json_t *pf_start(struct fs *fs, struct fs_names *names, struct pf_item *it, bool wait)
{
	struct fs_install_req *req = NULL;
	char *msg;
	json_t *v;
	int r;

	if (fs_evict_installed(fs, it->hash))
		return json_pack("{s:s, s:s, s:s}", "name", it->name, "hash", it->hash, "result",
				 "installed already");
	if (fs->cfg->offline)
		return json_pack("{s:s, s:s, s:s, s:s}", "name", it->name, "hash", it->hash,
				 "result", "failed", "cause", "offline: nothing is installed");
	r = fs_names_request(names, it->hash, it->name, &req);
	if (r < 0)
		return NULL;
	if (wait) {
		pthread_mutex_lock(&it->w->lock);
		it->w->refs++;
		it->w->pending++;
		pthread_mutex_unlock(&it->w->lock);
		it->t0 = mono_now();
		r = fs_flight_wait_req(fs->flights, it->hash, it, req, pf_done, it);
		if (r == 0) {
			it->queued = true;
			return NULL;
		}
		pthread_mutex_lock(&it->w->lock);
		it->w->refs--;
		it->w->pending--;
		pthread_mutex_unlock(&it->w->lock);
	} else {
		r = fs_flight_wait_req(fs->flights, it->hash, NULL, req, pf_ignore, NULL);
		if (r == 0)
			return json_pack("{s:s, s:s, s:s}", "name", it->name, "hash", it->hash,
					 "result", "started");
	}
	msg = fs_flight_error(fs->flights, it->hash);
	v = json_pack("{s:s, s:s, s:s, s:s}", "name", it->name, "hash", it->hash, "result",
		      "failed", "cause", msg ? msg : strerror(-r));
	free(msg);
	return v;
}

/* The entry of an item that was queued, once it is done (or given up). */
static json_t *pf_result(struct fs *fs, struct pf_item *it)
{
	struct store_info info;
	uint64_t bytes = 0;
	char *msg;
	json_t *v;

	if (!it->done)
		return json_pack("{s:s, s:s, s:s, s:s}", "name", it->name, "hash", it->hash,
				 "result", "failed", "cause", "interrupted");
	if (it->err == 0) {
		if (store_lookup(fs->store, it->hash, &info) == 0) {
			bytes = info.bytes;
			store_info_release(&info);
		}
		return json_pack("{s:s, s:s, s:s, s:I, s:f}", "name", it->name, "hash", it->hash,
				 "result", "installed", "bytes", (json_int_t)bytes, "seconds",
				 it->t1 - it->t0);
	}
	msg = fs_flight_error(fs->flights, it->hash);
	v = json_pack("{s:s, s:s, s:s, s:s, s:f}", "name", it->name, "hash", it->hash, "result",
		      "failed", "cause", msg ? msg : it->err == -EFBIG ? "larger than the quota" :
		      it->err == -EIO ? "install failed or timed out" : strerror(-it->err),
		      "seconds", it->t1 - it->t0);
	free(msg);
	return v;
}

json_t *fs_manage_prefetch(struct fs *fs, const struct control_request *rq, int client)
{
	struct fs_names *names = fs_reload_names(fs);
	bool wait = rq->flags & CONTROL_WAIT, all = rq->flags & CONTROL_ALL;
	size_t i, n = all ? fs_names_count(names) : rq->n_args;
	struct pf_wait *w;
	struct pf_item *it;
	json_t *a = json_array(), *v, *doc = NULL;
	void *arg;

	w = calloc(1, sizeof(*w) + (n ? n : 1) * sizeof(w->items[0]));
	if (!w || !a) {
		free(w);
		json_decref(a);
		fs_names_unref(names);
		return NULL;
	}
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->cond, NULL);
	w->refs = 1;
	for (i = 0; i < n; i++) {
		it = &w->items[i];
		it->w = w;
		it->name = all ? fs_names_at(names, i)->name : rq->args[i];
		if (!resolve(names, it->name, it->hash))
			v = json_pack("{s:s, s:s, s:s}", "name", it->name, "result", "failed",
				      "cause", "no such name or hash");
		else
			v = pf_start(fs, names, it, wait);
		if (v)
			json_array_append_new(a, v);
	}
	for (;;) {
		struct timespec t;
		bool more;

		pthread_mutex_lock(&w->lock);
		if (w->pending > 0) {
			clock_gettime(CLOCK_REALTIME, &t);
			t.tv_sec += WAIT_TICK_MS / 1000;
			pthread_cond_timedwait(&w->cond, &w->lock, &t);
		}
		more = w->pending > 0;
		pthread_mutex_unlock(&w->lock);
		if (!more || give_up(fs, client))
			break;
	}
	for (i = 0; i < n; i++) {
		it = &w->items[i];
		if (!it->queued)
			continue;
		/* Given up: take the waiters that were not called back out. */
		if (fs_flight_cancel(fs->flights, it, &arg) == 1) {
			pthread_mutex_lock(&w->lock);
			w->refs--;
			pthread_mutex_unlock(&w->lock);
		}
		pthread_mutex_lock(&w->lock);
		v = pf_result(fs, it);
		pthread_mutex_unlock(&w->lock);
		if (v)
			json_array_append_new(a, v);
	}
	doc = json_pack("{s:b, s:O}", "ok", 1, "artifacts", a);
	json_decref(a);
	pthread_mutex_lock(&w->lock);
	pf_unref_locked(w);
	fs_names_unref(names);
	return doc;
}

/* ---- sources: what probe asks ---------------------------------------------------------- */

json_t *fs_manage_sources(struct fs *fs)
{
	json_t *doc = json_pack("{s:b, s:s?, s:[]}", "ok", 1, "pkg_server", fs->cfg->pkg_server,
				"tomls");
	json_t *a = doc ? json_object_get(doc, "tomls") : NULL;
	struct fs_names *names;
	size_t i, n;

	if (!doc)
		return NULL;
	pthread_mutex_lock(&fs->names_lock);
	for (i = 0; i < fs->cfg->n_tomls; i++)
		json_array_append_new(a, json_string(fs->cfg->tomls[i]));
	pthread_mutex_unlock(&fs->names_lock);
	/* Every URL the names of this host download from; probe picks one per host. */
	a = json_array();
	json_object_set_new(doc, "urls", a);
	names = fs_reload_names(fs);
	if (fs_names_count(names))
		json_object_set_new(doc, "hash", json_string(fs_names_at(names, 0)->hash));
	for (i = 0; a && i < fs_names_count(names); i++) {
		const struct fs_name *nm = fs_names_at(names, i);

		for (n = 0; n < nm->n_sources; n++)
			json_array_append_new(a, json_string(nm->sources[n].url));
	}
	fs_names_unref(names);
	return doc;
}
