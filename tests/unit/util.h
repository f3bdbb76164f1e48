/*
 * util.h - the set-up the unit tests share (tests/unit/util.c, linked into
 * every test program and tests/bench/gen-store)
 *
 * Scratch directories, whole files, stores and the one-file trees of the
 * store tests.  Failures of the set-up itself abort() unless said otherwise:
 * a test that cannot set up has nothing to report.  Not thread safe where a
 * static buffer is named.
 */
#ifndef ARTIFACTFS_TESTS_UTIL_H
#define ARTIFACTFS_TESTS_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct store;

/*
 * tu_mkdtemp - make the scratch directory $TMPDIR/NAME.XXXXXX (/tmp when
 * TMPDIR is unset or empty) and write its path to buf (size bytes).
 * Returns 0, or -1 after perror("mkdtemp").
 */
int tu_mkdtemp(char *buf, size_t size, const char *name);

/* tu_rmtree - remove dir and everything below it, as far as it can. */
void tu_rmtree(const char *dir);

/* tu_path - "dir/name", malloc'ed (the caller frees it). */
char *tu_path(const char *dir, const char *name);

/*
 * tu_slurp - the whole file at path, malloc'ed and NUL-terminated, its
 * length (without the NUL) in *len when len is not NULL; NULL when the file
 * cannot be opened.  A read error ends the data early.
 */
char *tu_slurp(const char *path, size_t *len);

/* tu_write_file - create or truncate path (0644) and write text to it. */
void tu_write_file(const char *path, const char *text);

/*
 * tu_write_bytes - create or truncate path (0666 less the umask) and write
 * the len bytes at data to it.  Returns 0, or -1 when it cannot be opened,
 * written or closed.
 */
int tu_write_bytes(const char *path, const void *data, size_t len);

/*
 * tu_hex - the len bytes at d as lowercase hex, in one of 8 static buffers
 * used in turn (so that up to 8 can stand in one printf).
 */
const char *tu_hex(const uint8_t *d, size_t len);

/*
 * tu_store_open - store_open(dir, flags); NULL on failure, after a TAP
 * comment with the error and the store's message.
 */
struct store *tu_store_open(const char *dir, unsigned flags);

/* tu_installed - the store has an index row for hash in state STORE_INSTALLED. */
bool tu_installed(struct store *s, const char *hash);

/* tu_count_entries - entries of dir/sub but "." and "..", or -1 when it cannot be read. */
int tu_count_entries(const char *dir, const char *sub);

/*
 * tu_one_file_tree - the git-tree-sha1 (40 hex digits and a NUL in hex) of a
 * tree holding one file "f", mode 0644, with the bytes of content.
 */
void tu_one_file_tree(const char *content, char hex[41]);

/*
 * tu_install_file - install, under the hash lock (waiting at most lock_s
 * seconds), the tree of one file "f" (0644) holding content, indexed with
 * source (may be NULL); its hash (tu_one_file_tree()) in hex.
 * Returns 0 or the -errno of the store call (-EIO for a short write).
 */
int tu_install_file(struct store *s, const char *content, const char *source, unsigned lock_s,
	char hex[41]);

/*
 * tu_spawn_va - fork and exec "self --child role args..." (args from ap,
 * up to 8, ended by NULL), with stdout and stderr flushed first; keep1 and
 * keep2 (or -1) are descriptors whose O_CLOEXEC is cleared in the child so
 * that they survive the exec.  Returns the child's pid, or -1 (fork).
 */
int tu_spawn_va(const char *self, int keep1, int keep2, const char *role, va_list ap);

/*
 * tu_find_self - the path that runs this program again, for tu_spawn_va():
 * argv0 resolved, or /proc/self/exe when argv0 has no '/', into me
 * (PATH_MAX bytes).  Returns 0, or -1 after a TAP "Bail out!" line.
 */
int tu_find_self(const char *argv0, char *me);

/* tu_now_s - CLOCK_MONOTONIC in seconds. */
double tu_now_s(void);

/* tu_wait_child - waitpid(pid) through EINTR: the wait status, or -1. */
int tu_wait_child(int pid);

#endif
