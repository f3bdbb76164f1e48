/*
 * keepidx.c - keep_seek_index=on: the seek index of every gzip tarball the
 * daemon installs whole, made after the install on one background thread
 * of its own at a low priority, and kept in the store (fs.h "the index
 * keeper").
 *
 * The install itself only writes a copy of the compressed bytes to an
 * unnamed temporary file as they arrive (fetch_options.keep_tarball), so
 * the first access pays for that copy and nothing more; the zlib pass and
 * the hashing pass that make the index run here, after the readers were
 * served.  A copy waiting in the queue is an open descriptor of an
 * unnamed file: a crash or a stop drops it and leaves nothing behind.
 */
#include "config.h"

#include "fs/fs.h"
#include "fetch/fetch.h"
#include "store/store.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#define KEEP_QUEUE_MAX 8 /* copies waiting at most; more are dropped */
#define KEEP_NICE 10	 /* the thread's nice value: after every other work */

struct keep_job {
	struct keep_job *next;
	char hash[STORE_HASH_HEX + 1];
	int fd;
};

struct fs_keeper {
	struct store *store;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct keep_job *head, **tail;
	unsigned queued;
	bool stop;
	pthread_t thread;
};

static void *keeper_main(void *arg)
{
	struct fs_keeper *k = arg;
	struct keep_job *j;
	char *msg;
	int r;

	/* Linux: a thread's nice value is its own (setpriority of its tid) */
	(void)setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), KEEP_NICE);
	pthread_mutex_lock(&k->lock);
	for (;;) {
		while (!k->head && !k->stop)
			pthread_cond_wait(&k->cond, &k->lock);
		if (k->stop)
			break;
		j = k->head;
		k->head = j->next;
		if (!k->head)
			k->tail = &k->head;
		k->queued--;
		pthread_mutex_unlock(&k->lock);

		msg = NULL;
		r = fetch_seekidx_keep(k->store, j->hash, j->fd, &msg);
		if (r < 0)
			fs_log(FS_LOG_WARNING, "no seek index kept for %s: %s", j->hash,
				msg ? msg : strerror(-r));
		else
			fs_log(FS_LOG_INFO, "kept the seek index of %s", j->hash);
		free(msg);
		close(j->fd);
		free(j);

		pthread_mutex_lock(&k->lock);
	}
	pthread_mutex_unlock(&k->lock);
	return NULL;
}

int fs_keeper_new(struct store *s, struct fs_keeper **ret)
{
	struct fs_keeper *k = calloc(1, sizeof(*k));
	int r;

	if (!k)
		return -ENOMEM;
	k->store = s;
	k->tail = &k->head;
	pthread_mutex_init(&k->lock, NULL);
	pthread_cond_init(&k->cond, NULL);
	r = pthread_create(&k->thread, NULL, keeper_main, k);
	if (r != 0) {
		pthread_cond_destroy(&k->cond);
		pthread_mutex_destroy(&k->lock);
		free(k);
		return -r;
	}
	*ret = k;
	return 0;
}

void fs_keeper_add(struct fs_keeper *k, const char *hash, int fd)
{
	struct keep_job *j = calloc(1, sizeof(*j));

	if (!j || strlen(hash) != STORE_HASH_HEX) {
		free(j);
		close(fd);
		return;
	}
	memcpy(j->hash, hash, STORE_HASH_HEX + 1);
	j->fd = fd;
	pthread_mutex_lock(&k->lock);
	if (k->stop || k->queued >= KEEP_QUEUE_MAX) {
		pthread_mutex_unlock(&k->lock);
		fs_log(FS_LOG_WARNING, "no seek index kept for %s: %u tarballs wait already", hash,
			KEEP_QUEUE_MAX);
		close(fd);
		free(j);
		return;
	}
	*k->tail = j;
	k->tail = &j->next;
	k->queued++;
	pthread_cond_broadcast(&k->cond);
	pthread_mutex_unlock(&k->lock);
}

void fs_keeper_free(struct fs_keeper *k)
{
	struct keep_job *j;

	if (!k)
		return;
	pthread_mutex_lock(&k->lock);
	k->stop = true;
	pthread_cond_broadcast(&k->cond);
	pthread_mutex_unlock(&k->lock);
	pthread_join(k->thread, NULL); /* an index being made is finished first */
	while ((j = k->head)) {
		k->head = j->next;
		close(j->fd);
		free(j);
	}
	pthread_cond_destroy(&k->cond);
	pthread_mutex_destroy(&k->lock);
	free(k);
}
