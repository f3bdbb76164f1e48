/*
 * pipeline.h - the decompressed tar stream of fetch/unpack.c, produced by
 * up to three stages on their own threads:
 *
 *   receive + SHA-256 (fetch_stream_read)  ->  ring  ->  inflate (inflate.h)
 *   ->  ring  ->  the caller (tar headers, file writes, blob SHA-1)
 *
 * joined by bounded rings of fixed-size chunks, so on two or more cores the
 * slowest stage alone sets the pace, and at most a few MiB are in flight.
 * The first error of any stage stops every stage.  Internal to libfetch.
 *
 * Threads: pipeline_start() hands the stream to the receive thread; the
 * caller must not touch it until pipeline_stop() returned.  Every other
 * function is called by the one consumer thread.
 */
#ifndef FETCH_PIPELINE_H
#define FETCH_PIPELINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fetch/fetch.h"

enum pipeline_flags {
	PIPELINE_INLINE = 1 << 0,     /* no threads: every stage runs in pipeline_read() */
	PIPELINE_LIBARCHIVE = 1 << 1, /* gzip and zstd through libarchive (INFLATE_LIBARCHIVE) */
	PIPELINE_DRAIN = 1 << 2,      /* read the stream to its end after the compressed data */
};

struct pipeline;

/*
 * pipeline_start - start decompressing in (borrowed; it must outlive the
 * pipeline).  Threads start unless PIPELINE_INLINE.  Returns 0, -ENOMEM or
 * pthread_create()'s -errno.
 */
int pipeline_start(struct fetch_stream *in, unsigned flags, struct pipeline **ret);

/*
 * pipeline_read - the next decompressed bytes: *buf (valid until the next
 * call) and *len, 0 at the end of the data (then, with PIPELINE_DRAIN, the
 * stream was read to its end too).  *in_bytes: the compressed bytes
 * received when those bytes were decompressed (the ratio guard's measure).
 * Blocks while no stage has bytes ready.  Returns 0 or the first error of
 * any stage (see pipeline_errmsg()).
 */
int pipeline_read(struct pipeline *p, const void **buf, size_t *len, uint64_t *in_bytes);

/*
 * pipeline_errmsg - the first error's message, "" when none (borrowed,
 * valid until pipeline_free()); *from_stream (may be NULL) tells whether
 * it is the stream's own (then fetch_stream_errmsg() has it too).  Call it
 * after pipeline_read() failed or after pipeline_stop(): before, a stage
 * may still be writing it.
 */
const char *pipeline_errmsg(struct pipeline *p, bool *from_stream);

/*
 * pipeline_magic - the first bytes of the stream (at most 8), for naming
 * an unsupported compression; valid once pipeline_read() returned bytes
 * or the end.  Borrowed until pipeline_free().
 */
const unsigned char *pipeline_magic(struct pipeline *p, size_t *len);

/* pipeline_codec - inflate_name() of the codec: valid as pipeline_magic(). */
const char *pipeline_codec(struct pipeline *p);

/*
 * pipeline_stop - stop every stage (a stage blocked on a ring wakes at
 * once; one inside fetch_stream_read() when it returns) and join the
 * threads.  Afterwards the stream belongs to the caller again, holding
 * every byte received (hashed and counted) but not necessarily read to its
 * end.  Idempotent.
 */
void pipeline_stop(struct pipeline *p);

/* pipeline_free - pipeline_stop(), then free p; NULL is a no-op. */
void pipeline_free(struct pipeline *p);

#endif
