
/*
 * Copyright (C) ngx_iot_auth authors
 */


/*
 * HMAC-SHA256 under a fixed key, with the key's inner and outer SHA-256
 * states computed once: each digest then costs the SHA-256 blocks of the
 * message and one more, nothing else, and allocates nothing.  Used by
 * the zone (ngx_iot_auth_cache.c) for the digests of tokens and the
 * fingerprints of stored hashes; calls only OpenSSL's libcrypto.
 */


#ifndef _NGX_IOT_AUTH_HMAC_H_INCLUDED_
#define _NGX_IOT_AUTH_HMAC_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>

#include <openssl/sha.h>


#define NGX_IOT_AUTH_HMAC_LEN        SHA256_DIGEST_LENGTH


typedef struct {
    SHA256_CTX                   inner;        /* after key ^ ipad */
    SHA256_CTX                   outer;        /* after key ^ opad */
} ngx_iot_auth_hmac_t;


void ngx_iot_auth_hmac_init(ngx_iot_auth_hmac_t *hmac, u_char *key,
    size_t len);
/* out = HMAC-SHA256(key, a 0x00 b) */
void ngx_iot_auth_hmac(ngx_iot_auth_hmac_t *hmac, u_char *a, size_t alen,
    u_char *b, size_t blen, u_char *out);
/* wipes the key's states */
void ngx_iot_auth_hmac_wipe(ngx_iot_auth_hmac_t *hmac);


#endif /* _NGX_IOT_AUTH_HMAC_H_INCLUDED_ */
