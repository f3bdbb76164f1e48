/*
 * hex.h - hexadecimal digits (libc only)
 *
 * The one reading and writing of hex digits for digests, directory names,
 * TOML escapes and store rows.  Stateless and thread safe.
 */
#ifndef ARTIFACTFS_UTIL_HEX_H
#define ARTIFACTFS_UTIL_HEX_H

#include <stddef.h>
#include <stdint.h>

/*
 * hex_value - the value (0-15) of the hex digit c, either case, or -1 when
 * c is not one.
 */
static inline int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * hex_value_lower - as hex_value(), but only lowercase digits count: 'A'
 * to 'F' give -1 (store directory names are lowercase, one spelling each).
 */
static inline int hex_value_lower(char c)
{
	return c >= 'A' && c <= 'F' ? -1 : hex_value(c);
}

/*
 * hex_encode - write the 2 * len lowercase hex digits of the len bytes at p
 * to out, then a NUL: out holds at least 2 * len + 1 bytes.
 */
void hex_encode(const uint8_t *p, size_t len, char *out);

#endif
