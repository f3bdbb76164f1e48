/*
 * seekfetch.h - per-file access over HTTP(S) through a seek index (issue 16):
 * fetch and verify an artifact's index, then fetch single files by HTTP
 * Range into the store's partial area (store/partial.h), each verified
 * against its git blob id before it lands.  The network half of the seek
 * index; the format and the inflating are fetch/seekidx.h.
 *
 * Range support: a server that answers a Range request with 200 (the whole
 * body) does not honour Range; every function here then fails with
 * -ENOTSUP without reading the body, and the caller falls back to the whole
 * install.  Proxies (fetch_options.proxies) are used as for whole tarballs.
 *
 * Thread safety: every function may be called from several threads at once
 * (each call uses its own curl easy handle); fetch_global_init() first.
 */
#ifndef FETCH_SEEKFETCH_H
#define FETCH_SEEKFETCH_H

#include <stdbool.h>
#include <stdint.h>

#include "fetch/fetch.h"
#include "fetch/seekidx.h"

/*
 * fetch_seekidx_url - the URL of the seek index of the tarball at url when
 * no seek_index key names one (the "seek_index=probe" setting): url +
 * ".seekidx".  Malloc'ed into *ret.  -ENOMEM.
 */
int fetch_seekidx_url(const char *url, char **ret);

/*
 * fetch_seekidx_get - fetch the head of the index at idx_url (one Range
 * request for the fixed header and as much more as fits in 64 KiB, a second
 * for the rest of the head when larger), parse and verify it against tree
 * (seekidx_parse()), and keep it: the head bytes are also written to the
 * store (store_seekidx_put(), when s is not NULL) so a restart needs no
 * fetch.  *ret is owned by the caller (seekidx_free()).
 * Returns 0, -ENOENT (404: no index there), -ENOTSUP (Range not honoured),
 * -EREMOTEIO (a 206 for other bytes than asked, another HTTP error),
 * -EBADMSG / -EILSEQ (index wrong or malformed), or the transfer's -errno;
 * *errmsg (when not NULL) gets a malloc'ed message naming the URL and cause.
 */
int fetch_seekidx_get(struct store *s, const struct fetch_options *o, const char *idx_url,
	const uint8_t tree[HASH_SHA1_LEN], struct seekidx **ret, char **errmsg);

/*
 * fetch_seekidx_load - the index of hash kept in the store by an earlier
 * fetch_seekidx_get() or whole install, parsed and verified against tree.
 * Returns 0, -ENOENT, -EBADMSG / -EILSEQ (the kept copy is then removed).
 */
int fetch_seekidx_load(struct store *s, const char *hash, struct seekidx **ret, char **errmsg);

/*
 * fetch_partial_file - make blob f of index x present in the store's
 * partial area: nothing to do when it is there; else fetch its window from
 * idx_url (Range [window_off, window_off + window_len)) and its span from
 * tar_url (Range [in_start, in_end)), inflate, verify the blob SHA-1, and
 * commit (store_partial_commit(), executable as given).  *fd (may be NULL)
 * receives a read-only descriptor of the file, owned by the caller.  The
 * caller provides single flight per blob (concurrent calls for one blob
 * are correct, only wasteful).  @fetched (may be NULL) receives the
 * compressed bytes transferred (0 when it was there).
 * Returns 0, -EBADMSG (the bytes did not hash to f->oid: the index or the
 * tarball is wrong), -EPIPE (span shorter than announced), -ENOTSUP (Range
 * not honoured), -EILSEQ (corrupt deflate data), -ENOSPC, or the transfer's
 * -errno; *errmsg as above.  Never leaves unverified bytes in partial/.
 */
int fetch_partial_file(struct store *s, const struct fetch_options *o, const char *tar_url,
	const char *idx_url, const struct seekidx *x, const struct seekidx_file *f,
	bool executable, int *fd, uint64_t *fetched, char **errmsg);

#endif
