/*
 * hash.c - SHA-1/SHA-256 through libcrypto EVP, hex, git blob ids
 */
#include "store/hash.h"
#include "store/util/hex.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

struct hash_ctx {
	EVP_MD_CTX *md_ctx;
	EVP_MD *md;		/* fetched (OpenSSL 3), or NULL */
	const EVP_MD *type;	/* what md_ctx digests */
	size_t len;
};

size_t hash_algo_len(enum hash_algo algo)
{
	switch (algo) {
	case HASH_SHA1:
		return HASH_SHA1_LEN;
	case HASH_SHA256:
		return HASH_SHA256_LEN;
	}
	return 0;
}

static const EVP_MD *algo_md(enum hash_algo algo)
{
	switch (algo) {
	case HASH_SHA1:
		return EVP_sha1();
	case HASH_SHA256:
		return EVP_sha256();
	}
	return NULL;
}

int hash_ctx_new(enum hash_algo algo, struct hash_ctx **ret)
{
	struct hash_ctx *ctx;
	int r;

	if (!hash_algo_len(algo))
		return -EINVAL;
	ctx = calloc(1, sizeof(*ctx));
	if (!ctx)
		return -ENOMEM;
	ctx->len = hash_algo_len(algo);
	ctx->md_ctx = EVP_MD_CTX_new();
	if (!ctx->md_ctx) {
		r = -ENOMEM;
		goto fail;
	}
#if OPENSSL_VERSION_NUMBER >= 0x30000000L
	/*
	 * Fetch the implementation once: with a legacy EVP_sha1() handle,
	 * every EVP_DigestInit_ex() does an implicit fetch (a locked lookup),
	 * which shows when hashing 100,000 small files.
	 */
	ctx->md = EVP_MD_fetch(NULL, algo == HASH_SHA1 ? "SHA1" : "SHA256", NULL);
	ctx->type = ctx->md;
#endif
	if (!ctx->type)
		ctx->type = algo_md(algo);
	r = hash_ctx_reset(ctx);
	if (r < 0)
		goto fail;
	*ret = ctx;
	return 0;
fail:
	hash_ctx_free(ctx);
	return r;
}

void hash_ctx_free(struct hash_ctx *ctx)
{
	if (!ctx)
		return;
	EVP_MD_CTX_free(ctx->md_ctx);
#if OPENSSL_VERSION_NUMBER >= 0x30000000L
	EVP_MD_free(ctx->md);
#endif
	free(ctx);
}

size_t hash_ctx_len(const struct hash_ctx *ctx)
{
	return ctx->len;
}

int hash_ctx_reset(struct hash_ctx *ctx)
{
	if (!EVP_DigestInit_ex(ctx->md_ctx, ctx->type, NULL))
		return -EIO;
	return 0;
}

int hash_ctx_update(struct hash_ctx *ctx, const void *p, size_t len)
{
	if (len && !EVP_DigestUpdate(ctx->md_ctx, p, len))
		return -EIO;
	return 0;
}

int hash_ctx_final(struct hash_ctx *ctx, uint8_t *out)
{
	if (!EVP_DigestFinal_ex(ctx->md_ctx, out, NULL))
		return -EIO;
	return hash_ctx_reset(ctx);
}

int hash_buffer(enum hash_algo algo, const void *p, size_t len, uint8_t *out)
{
	struct hash_ctx *ctx;
	int r;

	r = hash_ctx_new(algo, &ctx);
	if (r < 0)
		return r;
	r = hash_ctx_update(ctx, p, len);
	if (r >= 0)
		r = hash_ctx_final(ctx, out);
	hash_ctx_free(ctx);
	return r;
}

int hash_git_blob_start(struct hash_ctx *ctx, uint64_t size)
{
	char hdr[32];
	int n, r;

	r = hash_ctx_reset(ctx);
	if (r < 0)
		return r;
	/* "blob <decimal size>\0": the NUL is part of the header */
	n = snprintf(hdr, sizeof(hdr), "blob %" PRIu64, size);
	return hash_ctx_update(ctx, hdr, (size_t)n + 1);
}

int hash_git_blob(enum hash_algo algo, const void *p, size_t len, uint8_t *out)
{
	struct hash_ctx *ctx;
	int r;

	r = hash_ctx_new(algo, &ctx);
	if (r < 0)
		return r;
	r = hash_git_blob_start(ctx, len);
	if (r >= 0)
		r = hash_ctx_update(ctx, p, len);
	if (r >= 0)
		r = hash_ctx_final(ctx, out);
	hash_ctx_free(ctx);
	return r;
}

void hash_to_hex(const uint8_t *digest, size_t len, char *hex)
{
	hex_encode(digest, len, hex);
}

bool hash_hex_lower(const char *s, size_t len, size_t n, char *out)
{
	size_t i;

	if (len != n)
		return false;
	for (i = 0; i < n; i++) {
		if (hex_value(s[i]) < 0)
			return false;
		out[i] = s[i] >= 'A' && s[i] <= 'F' ? (char)(s[i] - 'A' + 'a') : s[i];
	}
	out[n] = '\0';
	return true;
}

bool hash_hex_valid(const char *s, size_t n)
{
	size_t i;

	if (!s || strlen(s) != n)
		return false;
	for (i = 0; i < n; i++)
		if (hex_value(s[i]) < 0)
			return false;
	return true;
}

int hash_from_hex(const char *hex, size_t hexlen, uint8_t *out, size_t len)
{
	size_t i;
	int hi, lo;

	if (len > SIZE_MAX / 2 || hexlen != 2 * len)
		return -EINVAL;
	/* validate everything first: out stays untouched on failure */
	for (i = 0; i < hexlen; i++)
		if (hex_value(hex[i]) < 0)
			return -EINVAL;
	for (i = 0; i < len; i++) {
		hi = hex_value(hex[2 * i]);
		lo = hex_value(hex[2 * i + 1]);
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}
