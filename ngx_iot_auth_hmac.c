
/*
 * Copyright (C) ngx_iot_auth authors
 */


/*
 * HMAC-SHA256 with precomputed key states (see ngx_iot_auth_hmac.h).
 *
 * OpenSSL 3 deprecates the SHA256_Init/Update/Final functions, but its
 * non-deprecated ways to reuse a keyed state (EVP_MAC_init() with a
 * NULL key, EVP_MD_CTX_copy_ex(), EVP_MAC_CTX_dup()) each allocate and
 * free provider contexts: a digest cost 900 to 2,400 instructions more
 * than its SHA-256 blocks.  A SHA256_CTX is a plain structure that a
 * copy duplicates.  The deprecated calls are kept in this file only,
 * where the warnings are silenced; nginx built with OpenSSL silences
 * them in every file already.
 */


#ifndef OPENSSL_SUPPRESS_DEPRECATED
#define OPENSSL_SUPPRESS_DEPRECATED
#endif

#include "ngx_iot_auth_hmac.h"

#include <openssl/crypto.h>


#define NGX_IOT_AUTH_HMAC_BLOCK      SHA256_CBLOCK


static void ngx_iot_auth_hmac_pad(SHA256_CTX *ctx, u_char *key, size_t len,
    u_char pad);


void
ngx_iot_auth_hmac_init(ngx_iot_auth_hmac_t *hmac, u_char *key, size_t len)
{
    u_char  hashed[NGX_IOT_AUTH_HMAC_LEN];

    /* a key longer than a block is replaced by its hash (RFC 2104) */

    if (len > NGX_IOT_AUTH_HMAC_BLOCK) {
        (void) SHA256(key, len, hashed);
        key = hashed;
        len = NGX_IOT_AUTH_HMAC_LEN;
    }

    ngx_iot_auth_hmac_pad(&hmac->inner, key, len, 0x36);
    ngx_iot_auth_hmac_pad(&hmac->outer, key, len, 0x5c);

    ngx_explicit_memzero(hashed, sizeof(hashed));
}


static void
ngx_iot_auth_hmac_pad(SHA256_CTX *ctx, u_char *key, size_t len, u_char pad)
{
    size_t  i;
    u_char  block[NGX_IOT_AUTH_HMAC_BLOCK];

    ngx_memset(block, pad, NGX_IOT_AUTH_HMAC_BLOCK);

    for (i = 0; i < len; i++) {
        block[i] ^= key[i];
    }

    (void) SHA256_Init(ctx);
    (void) SHA256_Update(ctx, block, NGX_IOT_AUTH_HMAC_BLOCK);

    ngx_explicit_memzero(block, sizeof(block));
}


void
ngx_iot_auth_hmac(ngx_iot_auth_hmac_t *hmac, u_char *a, size_t alen,
    u_char *b, size_t blen, u_char *out)
{
    u_char               inner[NGX_IOT_AUTH_HMAC_LEN];
    SHA256_CTX           ctx;
    static const u_char  zero;

    /* the states left on the stack hold no more than the digest does */

    ctx = hmac->inner;

    (void) SHA256_Update(&ctx, a, alen);
    (void) SHA256_Update(&ctx, &zero, 1);
    (void) SHA256_Update(&ctx, b, blen);
    (void) SHA256_Final(inner, &ctx);

    ctx = hmac->outer;

    (void) SHA256_Update(&ctx, inner, NGX_IOT_AUTH_HMAC_LEN);
    (void) SHA256_Final(out, &ctx);
}


void
ngx_iot_auth_hmac_wipe(ngx_iot_auth_hmac_t *hmac)
{
    ngx_explicit_memzero(hmac, sizeof(ngx_iot_auth_hmac_t));
}
