/*
 * pack_tar.c - the tar header blocks of a packed artifact, formatted as
 * JuliaIO/Tar.jl src/create.jl writes them (write_header,
 * write_extended_header, write_standard_header): ustar fields, the
 * prefix/name split, PAX records for long paths, long link targets and
 * sizes >= 8^12.  No I/O: pack_tar_header() fills a buffer (pack.h); the
 * field offsets are fetch/tar.h's, shared with the reader.
 */
#include "tools/publish/pack.h"

#include "fetch/tar.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define BLOCK TAR_BLOCK


/* Copy s into the field at off, at most max bytes, no terminator added. */
static void put_field(uint8_t *h, size_t off, const char *s, size_t len)
{
	memcpy(h + off, s, len);
}

/* Tar.jl write_standard_header(): one ustar block at h (layout: fetch/tar.h). */
static void standard_header(uint8_t *h, const char *name, size_t namelen, const char *prefix,
	size_t prefixlen, char type, unsigned mode, uint64_t size, const char *link, size_t linklen)
{
	char num[32];
	int n, i;

	memset(h, 0, BLOCK);
	put_field(h, TAR_NAME, name, namelen);
	snprintf(num, sizeof(num), "%06o ", mode & 0777777);
	memcpy(h + TAR_MODE, num, 8);	     /* "%06o \0": the NUL from snprintf */
	memcpy(h + TAR_UID, "000000 \0", 8); /* uid */
	memcpy(h + TAR_GID, "000000 \0", 8); /* gid */
	n = snprintf(num, sizeof(num), "%011" PRIo64, size);
	if (n <= TAR_SIZE_LEN) {
		memcpy(h + TAR_SIZE, num, (size_t)n);
		if (n < TAR_SIZE_LEN)
			h[TAR_SIZE + n] = ' ';
	} else {
		/* GNU base-256 as Tar.jl emulates it: 0x80 then 11 big-endian bytes */
		h[TAR_SIZE] = 0x80;
		for (i = 10; i >= 0; i--)
			h[TAR_SIZE + TAR_SIZE_LEN - 1 - i] = i >= 8 ? 0 : (uint8_t)(size >> (8 * i));
	}
	memcpy(h + TAR_MTIME, "00000000000 ", 12);
	h[TAR_TYPEFLAG] = (uint8_t)type;
	put_field(h, TAR_LINKNAME, link, linklen);
	memcpy(h + TAR_MAGIC, "ustar\0", 6);
	memcpy(h + TAR_VERSION, "00", 2);
	memcpy(h + TAR_DEVMAJOR, "000000 \0", 8);
	memcpy(h + TAR_DEVMINOR, "000000 \0", 8);
	put_field(h, TAR_PREFIX, prefix, prefixlen);
	snprintf(num, sizeof(num), "%06o", tar_header_sum(h));
	memcpy(h + TAR_CHKSUM, num, 6);
	h[TAR_CHKSUM + 6] = '\0';
	h[TAR_CHKSUM + 7] = ' ';
}

static size_t ndigits(size_t n)
{
	size_t d = 1;

	while (n >= 10) {
		n /= 10;
		d++;
	}
	return d;
}

/* Length of the PAX record "<n> key=value\n": n counts its own digits. */
static size_t pax_record_len(const char *key, size_t vlen)
{
	size_t l = 1 + strlen(key) + 1 + vlen + 1, n = l;

	while (n < l + ndigits(n))
		n = l + ndigits(n);
	return n;
}

static size_t pax_record(uint8_t *p, const char *key, const char *val, size_t vlen)
{
	size_t n = pax_record_len(key, vlen), off;

	off = (size_t)sprintf((char *)p, "%zu %s=", n, key);
	memcpy(p + off, val, vlen);
	p[off + vlen] = '\n';
	return n;
}

long pack_tar_header(uint8_t *buf, size_t bufsize, const char *path, char type, unsigned mode,
	uint64_t size, const char *link)
{
	size_t plen, llen, namelen, prefixlen = 0, paxlen = 0, need, off = 0;
	bool pax_link = false, pax_path = false, pax_size = false;
	const char *name = path, *prefix = "";
	char sizestr[24];
	size_t i;

	if (!path || !*path || path[0] == '/' || mode > 0777777 ||
		(type != '0' && type != '2' && type != '5'))
		return -EINVAL;
	link = link ? link : "";
	plen = strlen(path);
	llen = strlen(link);
	namelen = plen;

	/* Tar.jl write_header(): the same decisions, in the same order. */
	if (llen > 100) {
		pax_link = true;
		paxlen += pax_record_len("linkpath", llen);
	}
	if (plen > 100) {
		if (plen < 256) {
			for (i = 100; i-- > 0;) {
				if (path[i] == '/') {
					prefix = path;
					prefixlen = i;
					name = path + i + 1;
					namelen = plen - i - 1;
					break;
				}
			}
		}
		if (namelen > 100 || prefixlen > 155) {
			pax_path = true;
			paxlen += pax_record_len("path", plen);
			name = prefix = "";
			namelen = prefixlen = 0;
		}
	}
	if (size >= (UINT64_C(1) << 36)) { /* 8^12 */
		pax_size = true;
		snprintf(sizestr, sizeof(sizestr), "%" PRIu64, size);
		paxlen += pax_record_len("size", strlen(sizestr));
	}

	need = BLOCK + (paxlen ? BLOCK + (paxlen + BLOCK - 1) / BLOCK * BLOCK : 0);
	if (bufsize < need)
		return -ENOBUFS;
	if (paxlen) {
		uint8_t *d = buf + BLOCK;

		standard_header(buf, "", 0, "", 0, 'x', 0, paxlen, "", 0);
		memset(d, 0, (paxlen + BLOCK - 1) / BLOCK * BLOCK);
		/* records sorted by key: linkpath < path < size */
		if (pax_link)
			d += pax_record(d, "linkpath", link, llen);
		if (pax_path)
			d += pax_record(d, "path", path, plen);
		if (pax_size)
			d += pax_record(d, "size", sizestr, strlen(sizestr));
		off = BLOCK + (paxlen + BLOCK - 1) / BLOCK * BLOCK;
	}
	standard_header(buf + off, name, namelen, prefix, prefixlen, type, mode, size,
		pax_link ? "" : link, pax_link ? 0 : llen);
	return (long)(off + BLOCK);
}
