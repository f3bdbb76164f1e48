/*
 * pgz.h - parallel gzip with output that does not depend on the thread
 * count (pigz's block scheme, written for pack)
 *
 * The input is cut into blocks of PGZ_BLOCK bytes (the last one shorter);
 * block k is compressed on its own with raw deflate (window 15, memLevel 8,
 * default strategy) after the 32 KiB of input before it were set as its
 * dictionary, and ends with a sync flush (an empty stored block), the last
 * one with Z_FINISH.  The compressed blocks are written in order after one
 * gzip header (no name, mtime 0, XFL 2 at level 9, 4 at level 1, else 0,
 * OS 3) and before the trailer (the CRC-32 of the whole input, combined
 * from the blocks' with crc32_combine(), and its size modulo 2^32): one
 * standard gzip member that gzip, zlib, libarchive and p7zip read.
 *
 * What each block compresses to depends on its bytes, its dictionary and
 * the level only, never on which thread ran it or when, so the output is
 * the same for every number of threads, and jobs == 1 runs the same
 * algorithm in the calling thread.  It may differ between zlib versions.
 *
 * Thread safety: a struct pgz is used by one thread at a time (the caller);
 * its compressor threads are internal.  The sink runs in the calling thread.
 */
#ifndef ARTIFACTCTL_PGZ_H
#define ARTIFACTCTL_PGZ_H

#include <stddef.h>
#include <stdint.h>

#define PGZ_BLOCK (128u << 10) /* bytes of input per block: part of the format */
#define PGZ_DICT (32u << 10)   /* dictionary: the input bytes before a block */
#define PGZ_JOBS_MAX 64	       /* compressor threads at most */

struct pgz;

/*
 * The output: len bytes at p, in order; p is valid during the call only.
 * Returns 0 or -errno, which stops the stream (pgz_write/pgz_finish then
 * return it).
 */
typedef int pgz_sink_fn(void *arg, const void *p, size_t len);

/*
 * pgz_new - start a gzip stream.
 * @level: 1 to 9; < 0 for 6.
 * @jobs: compressor threads, 1 to PGZ_JOBS_MAX; 1 compresses in the calling
 *        thread, more start jobs threads (the calling thread then only fills
 *        blocks and writes them out).  The bytes do not depend on it.
 * @sink, @arg: where the compressed bytes go; called from pgz_write() and
 *        pgz_finish() only.
 * @ret: receives the stream; free it with pgz_free().
 * Returns 0, -EINVAL (level or jobs out of range), -ENOMEM, or -errno of
 * pthread_create().  Memory: about 300 KiB per block in flight (2 * jobs + 2
 * blocks at most) plus one deflate state (about 270 KiB) per thread.
 */
int pgz_new(int level, unsigned jobs, pgz_sink_fn *sink, void *arg, struct pgz **ret);

/*
 * pgz_write - append len bytes at p to the input.  Blocks that are
 * complete go to the compressors; those compressed in order go to the
 * sink.  Waits when 2 * jobs + 2 blocks are in flight.  Returns 0, or the
 * first error of the stream: the sink's, -ENOMEM or -EIO (deflate failed).
 */
int pgz_write(struct pgz *z, const void *p, size_t len);

/*
 * pgz_finish - end the input: compress the last block, write every block
 * and the trailer.  A stream with no input is a valid gzip member of an
 * empty file.  Returns 0 or the first error as pgz_write(); the stream
 * accepts nothing after it.
 */
int pgz_finish(struct pgz *z);

/*
 * pgz_free - stop and join the threads (whatever they were doing: an
 * unfinished stream is dropped), free everything.  NULL is a no-op.
 */
void pgz_free(struct pgz *z);

#endif
