/*
 * tar.h - the layout of a ustar header block (POSIX.1-1988 ustar, as
 * Tar.jl reads and writes it: src/header.jl), shared by the reader of
 * fetch/tar.c and the writer of tools/publish/pack_tar.c so that the offsets
 * are written down once
 *
 * libc only; no state.  Thread safe.
 */
#ifndef FETCH_TAR_H
#define FETCH_TAR_H

#include <stdint.h>

#define TAR_BLOCK 512 /* bytes of a header block, and the unit entry data is padded to */

/* Offset and length (bytes) of each field of a header block. */
enum tar_field {
	TAR_NAME = 0,
	TAR_NAME_LEN = 100,
	TAR_MODE = 100,
	TAR_MODE_LEN = 8,
	TAR_UID = 108,
	TAR_UID_LEN = 8,
	TAR_GID = 116,
	TAR_GID_LEN = 8,
	TAR_SIZE = 124,
	TAR_SIZE_LEN = 12,
	TAR_MTIME = 136,
	TAR_MTIME_LEN = 12,
	TAR_CHKSUM = 148,
	TAR_CHKSUM_LEN = 8,
	TAR_TYPEFLAG = 156,
	TAR_LINKNAME = 157,
	TAR_LINKNAME_LEN = 100,
	TAR_MAGIC = 257,
	TAR_MAGIC_LEN = 6,
	TAR_VERSION = 263,
	TAR_VERSION_LEN = 2,
	TAR_UNAME = 265,
	TAR_UNAME_LEN = 32,
	TAR_GNAME = 297,
	TAR_GNAME_LEN = 32,
	TAR_DEVMAJOR = 329,
	TAR_DEVMAJOR_LEN = 8,
	TAR_DEVMINOR = 337,
	TAR_DEVMINOR_LEN = 8,
	TAR_PREFIX = 345,
	TAR_PREFIX_LEN = 155,
};

/*
 * tar_header_sum - the checksum of the header block h (TAR_BLOCK bytes):
 * the sum of its bytes as unsigned, with the TAR_CHKSUM field counted as
 * eight spaces whatever it holds.  A reader compares it with the field; a
 * writer stores it there (Tar.jl: "%06o\0 ").
 */
uint32_t tar_header_sum(const uint8_t *h);

#endif
