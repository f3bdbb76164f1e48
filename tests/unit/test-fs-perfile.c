/*
 * test-fs-perfile.c - fs/perfile.c with a stub source: the index of an
 * artifact is got once, concurrent openers of one blob share one fetch,
 * a failed fetch falls back to the whole install once, and
 * full_install_after counts bytes and files (issue 16).
 */
#include "tests/tap.h"
#include "fs/fs.h"
#include "fetch/seekidx.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define HASH_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define HASH_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define HASH_C "cccccccccccccccccccccccccccccccccccccccc"

/* The stub: HASH_A has an index, HASH_B none configured, HASH_C a broken one. */
struct stub {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool gate_open;		/* fetch() waits for it when gated */
	bool gated;
	unsigned entered;	/* fetch() calls that began */
	unsigned indexes;	/* index() calls */
	unsigned fetches;	/* fetch() calls */
	unsigned installs;	/* install() calls */
	int fetch_result;	/* what fetch() returns */
	uint64_t fetch_bytes;
	int fake_index;		/* what index() hands out */
};

static int stub_index(void *ctx, const char *hash, struct seekidx **ret, char **tar,
		      char **idx, char **errmsg)
{
	struct stub *s = ctx;

	pthread_mutex_lock(&s->lock);
	s->indexes++;
	pthread_mutex_unlock(&s->lock);
	if (strcmp(hash, HASH_B) == 0)
		return 1;
	if (strcmp(hash, HASH_C) == 0) {
		*errmsg = strdup("tree object does not hash to the pin");
		return -EBADMSG;
	}
	*ret = (struct seekidx *)&s->fake_index;	/* opaque to perfile.c */
	*tar = strdup("http://x/a.tar.gz");
	*idx = strdup("http://x/a.tar.gz.seekidx");
	return 0;
}

static int stub_fetch(void *ctx, const char *hash, const char *tar, const char *idx,
		      const struct seekidx *x, const struct seekidx_file *f, bool exec, int *fd,
		      uint64_t *fetched, char **errmsg)
{
	struct stub *s = ctx;
	int r;

	(void)hash, (void)tar, (void)idx, (void)x, (void)f, (void)exec;
	pthread_mutex_lock(&s->lock);
	s->entered++;
	pthread_cond_broadcast(&s->cond);
	while (s->gated && !s->gate_open)
		pthread_cond_wait(&s->cond, &s->lock);
	s->fetches++;
	r = s->fetch_result;
	*fetched = s->fetch_bytes;
	pthread_mutex_unlock(&s->lock);
	if (r < 0) {
		*errmsg = strdup("blob hash differs");
		return r;
	}
	*fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	return *fd < 0 ? -errno : 0;
}

static void stub_install(void *ctx, const char *hash)
{
	struct stub *s = ctx;

	(void)hash;
	pthread_mutex_lock(&s->lock);
	s->installs++;
	pthread_mutex_unlock(&s->lock);
}

static void stub_free(struct seekidx *x)
{
	(void)x;
}

static struct stub st = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.cond = PTHREAD_COND_INITIALIZER,
};

static struct fs_perfile *new_perfile(uint64_t bytes, uint64_t files, struct fs_stats *stats)
{
	struct fs_perfile_src src = {
		.index = stub_index, .fetch = stub_fetch, .install = stub_install,
		.free_index = stub_free, .ctx = &st,
	};
	struct fs_perfile *p = NULL;

	if (fs_perfile_new(&src, bytes, files, stats, &p) < 0)
		abort();
	return p;
}

static void reset(void)
{
	st.gated = st.gate_open = false;
	st.entered = st.indexes = st.fetches = st.installs = 0;
	st.fetch_result = 0;
	st.fetch_bytes = 1000;
}

struct opener {
	struct fs_perfile *p;
	const struct seekidx_file *f;
	int r, fd;
	pthread_t t;
};

static void *open_thread(void *arg)
{
	struct opener *o = arg;

	o->r = fs_perfile_open(o->p, HASH_A, o->f, false, &o->fd);
	return NULL;
}

static void test_index(void)
{
	struct fs_perfile *p;
	struct fs_stats stats;

	reset();
	fs_stats_init(&stats);
	p = new_perfile(0, 0, &stats);
	ok(fs_perfile_index(p, HASH_A, false) == NULL, "no index before it was got");
	ok(fs_perfile_index(p, HASH_A, true) == (void *)&st.fake_index, "an index is got");
	ok(fs_perfile_index(p, HASH_A, true) && st.indexes == 1, "... once");
	ok(fs_perfile_index(p, HASH_B, true) == NULL, "none configured: NULL");
	ok(fs_perfile_index(p, HASH_B, true) == NULL && st.indexes == 3,
	   "... asked again (a reload may add one)");
	ok(fs_perfile_index(p, HASH_C, true) == NULL && fs_perfile_fallen(p, HASH_C),
	   "a bad index: NULL, installed whole");
	ok(fs_perfile_index(p, HASH_C, true) == NULL && st.indexes == 4, "... not asked again");
	ok(!fs_perfile_fallen(p, HASH_A) && !fs_perfile_fallen(p, HASH_B), "the others did not fall");
	is_int(st.installs, 0, "an index failure starts no install itself (the request parks)");
	fs_perfile_free(p);
	fs_stats_release(&stats);
}

/* Three openers of one blob while its fetch runs: one fetch, three descriptors. */
static void test_single_flight(void)
{
	struct seekidx_file f = { .oid = { 1, 2, 3 }, .size = 10 };
	struct opener o[3];
	struct fs_perfile *p;
	struct fs_stats stats;
	int i, bad = 0;

	reset();
	fs_stats_init(&stats);
	p = new_perfile(0, 0, &stats);
	fs_perfile_index(p, HASH_A, true);
	st.gated = true;
	o[0] = (struct opener){ .p = p, .f = &f, .fd = -1 };
	pthread_create(&o[0].t, NULL, open_thread, &o[0]);
	pthread_mutex_lock(&st.lock);
	while (st.entered < 1)
		pthread_cond_wait(&st.cond, &st.lock);
	pthread_mutex_unlock(&st.lock);
	for (i = 1; i < 3; i++) {
		o[i] = (struct opener){ .p = p, .f = &f, .fd = -1 };
		pthread_create(&o[i].t, NULL, open_thread, &o[i]);
	}
	while (fs_perfile_waiting(p) < 2)
		sched_yield();	/* both wait on the first one's fetch */
	pthread_mutex_lock(&st.lock);
	st.gate_open = true;
	pthread_cond_broadcast(&st.cond);
	pthread_mutex_unlock(&st.lock);
	for (i = 0; i < 3; i++) {
		pthread_join(o[i].t, NULL);
		bad += o[i].r != 0 || o[i].fd < 0;
	}
	is_int(bad, 0, "three openers of one blob get a descriptor each");
	ok(o[0].fd != o[1].fd && o[1].fd != o[2].fd && o[0].fd != o[2].fd, "... their own");
	is_int(st.fetches, 1, "... from one fetch");
	ok(fs_stats_get(&stats, FS_STAT_PF_FETCHES) == 1 &&
	   fs_stats_get(&stats, FS_STAT_PF_BYTES) == 1000, "counted once: 1 file, 1000 bytes");
	for (i = 0; i < 3; i++)
		close(o[i].fd);
	st.gated = false;
	is_int(fs_perfile_open(p, HASH_A, &f, false, &o[0].fd), 0, "a later open fetches again");
	close(o[0].fd);
	is_int(st.fetches, 2, "... (the source finds it in partial/)");
	fs_perfile_free(p);
	fs_stats_release(&stats);
}

static void test_fallback(void)
{
	struct seekidx_file f = { .oid = { 9 }, .size = 10 };
	struct fs_perfile *p;
	struct fs_stats stats;
	int fd = -1;

	reset();
	fs_stats_init(&stats);
	p = new_perfile(0, 0, &stats);
	is_int(fs_perfile_open(p, HASH_A, &f, false, &fd), -ENOENT, "no index got: -ENOENT");
	fs_perfile_index(p, HASH_A, true);
	st.fetch_result = -EBADMSG;
	is_int(fs_perfile_open(p, HASH_A, &f, false, &fd), -EIO, "a blob that differs: EIO");
	ok(fs_perfile_fallen(p, HASH_A), "... the artifact falls back");
	is_int(st.installs, 1, "... and its whole install starts");
	ok(fs_perfile_index(p, HASH_A, true) == NULL, "new lookups get no index");
	ok(fs_perfile_index(p, HASH_A, false) == (void *)&st.fake_index,
	   "the kernel's inodes of the view still have it");
	st.fetch_result = -EPIPE;
	is_int(fs_perfile_open(p, HASH_A, &f, false, &fd), -EIO, "a second failure: EIO");
	ok(st.installs == 1 && fs_stats_get(&stats, FS_STAT_PF_FALLBACKS) == 1,
	   "... one install, one fallback counted");
	fs_perfile_free(p);
	fs_stats_release(&stats);
}

static void test_full_install_after(void)
{
	struct seekidx_file f[4] = { { .oid = { 1 } }, { .oid = { 2 } }, { .oid = { 3 } },
				     { .oid = { 4 } } };
	struct fs_perfile *p;
	int i, fd;

	reset();
	p = new_perfile(2500, 0, NULL);
	fs_perfile_index(p, HASH_A, true);
	for (i = 0; i < 2; i++) {
		fs_perfile_open(p, HASH_A, &f[i], false, &fd);
		close(fd);
	}
	is_int(st.installs, 0, "2000 bytes of full_install_after=2500: no install");
	fs_perfile_open(p, HASH_A, &f[2], false, &fd);
	close(fd);
	is_int(st.installs, 1, "3000 bytes: the whole install starts");
	fs_perfile_open(p, HASH_A, &f[3], false, &fd);
	close(fd);
	is_int(st.installs, 1, "... once");
	ok(!fs_perfile_fallen(p, HASH_A), "... which is no fall back");
	fs_perfile_free(p);

	reset();
	st.fetch_bytes = 0;	/* found in partial/: nothing fetched, nothing counted */
	p = new_perfile(0, 2, NULL);
	fs_perfile_index(p, HASH_A, true);
	for (i = 0; i < 3; i++) {
		fs_perfile_open(p, HASH_A, &f[i], false, &fd);
		close(fd);
	}
	is_int(st.installs, 0, "files already in partial/ do not count");
	st.fetch_bytes = 1;
	for (i = 0; i < 2; i++) {
		fs_perfile_open(p, HASH_A, &f[i], false, &fd);
		close(fd);
	}
	is_int(st.installs, 1, "full_install_after=2files: the second fetched file installs");
	fs_perfile_free(p);
}

int main(void)
{
	fs_log_open(true, false);
	fs_log_set_level(FS_LOG_ERR);
	test_index();
	test_single_flight();
	test_fallback();
	test_full_install_after();
	return tap_done();
}
