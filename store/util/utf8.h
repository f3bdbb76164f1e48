/*
 * utf8.h - UTF-8 encoding (libc only)
 *
 * Stateless and thread safe.
 */
#ifndef ARTIFACTFS_UTIL_UTF8_H
#define ARTIFACTFS_UTIL_UTF8_H

#include <stddef.h>
#include <stdint.h>

/* The most bytes utf8_encode() writes. */
#define UTF8_MAX 4

/*
 * utf8_encode - write the UTF-8 form of the code point cp (at most
 * 0x10ffff; the caller refuses larger ones and, where it must, surrogates)
 * to out, which holds UTF8_MAX bytes; no NUL is added.
 * Returns the number of bytes written, 1 to 4.
 */
size_t utf8_encode(uint32_t cp, char out[UTF8_MAX]);

#endif
