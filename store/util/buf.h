/*
 * buf.h - growable byte buffer with a hard ceiling (libc only)
 *
 * Modelled on curl's lib/curlx/dynbuf.c (a ceiling fixed at init, first
 * failure sticks) and git's strbuf.h (<ptr, len>, always NUL-terminated).
 * Every buffer grown from outside input gets a ceiling, so hostile input
 * yields -E2BIG instead of exhausting memory.
 *
 * Not thread-safe: a struct buf belongs to one thread at a time.
 */
#ifndef ARTIFACTFS_BUF_H
#define ARTIFACTFS_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct buf {
	char *ptr;	/* NUL-terminated when non-NULL; may hold NUL bytes */
	size_t len;	/* bytes in use, excluding the terminating NUL */
	size_t cap;	/* bytes allocated */
	size_t max;	/* ceiling for len, in bytes */
};

/*
 * buf_init - set up an empty buffer whose length may never exceed max bytes.
 * Allocates nothing; buf_release() frees whatever was allocated later.
 */
void buf_init(struct buf *b, size_t max);

/* buf_release - free the storage and return the buffer to the empty state. */
void buf_release(struct buf *b);

/* buf_reset - forget the contents (len = 0) but keep the storage. */
void buf_reset(struct buf *b);

/*
 * buf_add - append len bytes from p.
 * Returns 0, -ENOMEM when allocation fails, or -E2BIG when the result would
 * exceed the ceiling; on failure the buffer is unchanged.
 */
int buf_add(struct buf *b, const void *p, size_t len);

/* buf_addc - append one byte; errors as buf_add(). */
int buf_addc(struct buf *b, char c);

/* buf_adds - append a NUL-terminated string; errors as buf_add(). */
int buf_adds(struct buf *b, const char *s);

/* buf_addf - append printf-formatted text; errors as buf_add(). */
int buf_addf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* buf_vaddf - va_list form of buf_addf(). */
int buf_vaddf(struct buf *b, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

/*
 * buf_strf - a malloc'ed printf-formatted string (the caller frees), or
 * NULL when out of memory: for error messages handed to a caller.
 */
char *buf_strf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * buf_detach - hand the storage to the caller and reset the buffer.
 * Returns a malloc'ed NUL-terminated string (an empty string when nothing was
 * added) that the caller frees, or NULL when out of memory.  When len is not
 * NULL it receives the length in bytes.
 */
char *buf_detach(struct buf *b, size_t *len);

/*
 * buf_finish - end the building of a string: when err is 0, detach the
 * contents into *ret (malloc'ed, the caller frees); in every case release
 * the buffer.  Returns err, or -ENOMEM when the detach fails; *ret is set
 * only on success.  For the "build, then hand over or clean up" tail:
 *     return buf_finish(&b, r, ret);
 */
int buf_finish(struct buf *b, int err, char **ret);

/*
 * buf_span_trim - narrow the span [*s, *e) of a line or header value to
 * leave out leading blanks (space, tab) and trailing white space (space,
 * tab, CR, LF).  Never reads outside the span; an all-blank span ends
 * empty (*s == *e).  Used for HTTP header values and config-file lines.
 */
void buf_span_trim(const char **s, const char **e);

#endif
