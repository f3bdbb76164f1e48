/*
 * stats.c - the daemon's counters since start and its last errors
 *
 * The counters are atomics that the FUSE threads and the flight workers
 * add to without a lock (relaxed order: each is a total on its own, no
 * reader needs two of them to agree); the last FS_STATS_ERRORS failed
 * installs are a ring under a mutex.  FUSE-free: unit-tested in
 * tests/unit/test-fs.c.
 */
#include "fs/fs.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

static const char *const stat_names[FS_STAT_N] = {
	[FS_STAT_LOOKUPS] = "lookups",
	[FS_STAT_HITS] = "hits",
	[FS_STAT_MISSES] = "misses",
	[FS_STAT_INSTALLS] = "installs",
	[FS_STAT_FAILURES] = "failures",
	[FS_STAT_DOWNLOADED] = "bytes_downloaded",
	[FS_STAT_SERVED] = "bytes_served",
	[FS_STAT_EVICTIONS] = "evictions",
	[FS_STAT_OPENS] = "opens",
	[FS_STAT_PF_FETCHES] = "perfile_fetches",
	[FS_STAT_PF_BYTES] = "perfile_bytes",
	[FS_STAT_INDEX_FETCHES] = "index_fetches",
	[FS_STAT_PF_FALLBACKS] = "perfile_fallbacks",
	[FS_STAT_OPENDIRS] = "opendirs",
};

void fs_stats_init(struct fs_stats *s)
{
	int i;

	memset(s, 0, sizeof(*s));
	for (i = 0; i < FS_STAT_N; i++)
		atomic_init(&s->count[i], 0);
	pthread_mutex_init(&s->err_lock, NULL);
}

void fs_stats_release(struct fs_stats *s)
{
	pthread_mutex_destroy(&s->err_lock);
}

void fs_stats_add(struct fs_stats *s, enum fs_stat which, uint64_t n)
{
	if ((unsigned)which < FS_STAT_N)
		atomic_fetch_add_explicit(&s->count[which], n, memory_order_relaxed);
}

uint64_t fs_stats_get(struct fs_stats *s, enum fs_stat which)
{
	if ((unsigned)which >= FS_STAT_N)
		return 0;
	return atomic_load_explicit(&s->count[which], memory_order_relaxed);
}

const char *fs_stats_name(enum fs_stat which)
{
	return (unsigned)which < FS_STAT_N ? stat_names[which] : NULL;
}

/* Copy the first line of src (NULL: "") into dst of size n, truncated. */
static void copy_line(char *dst, size_t n, const char *src)
{
	size_t len = src ? strcspn(src, "\r\n") : 0;

	if (len >= n)
		len = n - 1;
	if (len)
		memcpy(dst, src, len);
	dst[len] = '\0';
}

void fs_stats_error(struct fs_stats *s, const char *artifact, const char *url,
		    const char *cause, int64_t when)
{
	struct fs_stats_error *e;

	pthread_mutex_lock(&s->err_lock);
	e = &s->err[s->next_err];
	copy_line(e->artifact, sizeof(e->artifact), artifact);
	copy_line(e->url, sizeof(e->url), url);
	copy_line(e->cause, sizeof(e->cause), cause);
	e->when = when;
	s->next_err = (s->next_err + 1) % FS_STATS_ERRORS;
	if (s->n_err < FS_STATS_ERRORS)
		s->n_err++;
	s->total_err++;
	pthread_mutex_unlock(&s->err_lock);
}

size_t fs_stats_errors(struct fs_stats *s, struct fs_stats_error *out, size_t max)
{
	size_t i, n;

	pthread_mutex_lock(&s->err_lock);
	n = s->n_err < max ? s->n_err : max;
	for (i = 0; i < n; i++)
		out[i] = s->err[(s->next_err + FS_STATS_ERRORS - 1 - i) % FS_STATS_ERRORS];
	pthread_mutex_unlock(&s->err_lock);
	return n;
}
