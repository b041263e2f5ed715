
/*
 * Copyright (C) ngx_iot_auth authors
 *
 * Device id and token as a request brings them -> the access handler's
 * ngx_iot_auth_read_credentials(): empty -> 401, a device id not 1-128
 * bytes of 0x21-0x7e or a token not 1-72 such bytes -> 400, otherwise
 * NGX_OK with digest = HMAC-SHA256(key, device 0x00 token).  Each verdict
 * is compared with a separate implementation of those rules, and the
 * digest with OpenSSL's one-shot HMAC().
 *
 * Input: the device id, a '\n', the token (everything after the first
 * '\n', so a token may hold more of them; without a '\n' the token is
 * empty).
 */


#include "fuzz_common.h"
#include "../ngx_iot_auth_module.c"

#include <openssl/hmac.h>
#include <openssl/core_names.h>


static u_char                     fuzz_key[NGX_IOT_AUTH_KEY_LEN] =
    "0123456789abcdef0123456789abcdef";
static ngx_iot_auth_sh_t          fuzz_sh;
static ngx_iot_auth_zone_t        fuzz_zone;
static ngx_shm_zone_t             fuzz_shm_zone;


int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    EVP_MAC     *mac;
    OSSL_PARAM   params[2];

    fuzz_init();

    mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    if (mac == NULL) {
        abort();
    }

    fuzz_zone.mac = EVP_MAC_CTX_new(mac);
    EVP_MAC_free(mac);

    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
                                                 "SHA256", 0);
    params[1] = OSSL_PARAM_construct_end();

    if (fuzz_zone.mac == NULL
        || EVP_MAC_init(fuzz_zone.mac, fuzz_key, sizeof(fuzz_key), params)
           != 1)
    {
        abort();
    }

    fuzz_zone.sh = &fuzz_sh;
    fuzz_zone.shm_zone = &fuzz_shm_zone;
    fuzz_shm_zone.data = &fuzz_zone;

    return 0;
}


static ngx_uint_t
fuzz_visible(const u_char *p, size_t len, size_t max)
{
    size_t  i;

    if (len < 1 || len > max) {
        return 0;
    }

    for (i = 0; i < len; i++) {
        if (!(p[i] > ' ' && p[i] < 0x7f)) {
            return 0;
        }
    }

    return 1;
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    u_char                     digest[EVP_MAX_MD_SIZE], *msg;
    size_t                     dlen, tlen;
    ngx_int_t                  rc, want;
    ngx_log_t                  log;
    ngx_conf_t                 cf;
    unsigned int               mdlen;
    ngx_atomic_uint_t          before[NGX_IOT_AUTH_NRESULTS];
    const u_char              *nl;
    ngx_connection_t          *c;
    ngx_http_request_t        *r;
    ngx_iot_auth_ctx_t        *ctx;
    ngx_iot_auth_loc_conf_t   *iacf;
    ngx_http_complex_value_t  *device, *token;

    nl = memchr(data, '\n', size);

    dlen = nl ? (size_t) (nl - data) : size;
    tlen = nl ? size - dlen - 1 : 0;

    fuzz_conf_begin(&cf);

    iacf = ngx_iot_auth_create_loc_conf(&cf);
    device = ngx_pcalloc(cf.pool, sizeof(ngx_http_complex_value_t));
    token = ngx_pcalloc(cf.pool, sizeof(ngx_http_complex_value_t));
    r = ngx_pcalloc(cf.pool, sizeof(ngx_http_request_t));
    c = ngx_pcalloc(cf.pool, sizeof(ngx_connection_t));
    ctx = ngx_pcalloc(cf.pool, sizeof(ngx_iot_auth_ctx_t));

    if (iacf == NULL || device == NULL || token == NULL || r == NULL
        || c == NULL || ctx == NULL)
    {
        abort();
    }

    /* a value without variables: ngx_http_complex_value() returns it */

    device->value.len = dlen;
    device->value.data = fuzz_dup(cf.pool, data, dlen, 0);
    token->value.len = tlen;
    token->value.data = fuzz_dup(cf.pool, data + dlen + 1 - !nl, tlen, 0);

    iacf->device = device;
    iacf->token = token;
    iacf->shm_zone = &fuzz_shm_zone;
    iacf->redis = 0;
    iacf->require_perms = 0;
    iacf->lockout.failures = 0;

    log = fuzz_log;
    c->log = &log;
    r->connection = c;
    r->pool = cf.pool;
    r->main = r;
    r->loc_conf = fuzz_loc_conf;
    fuzz_loc_conf[FUZZ_IOT_INDEX] = iacf;

    ctx->request = r;

    ngx_memcpy(before, (void *) fuzz_sh.stats.requests, sizeof(before));

    rc = ngx_iot_auth_read_credentials(r, iacf, ctx);

    if (dlen == 0 || tlen == 0) {
        want = NGX_HTTP_UNAUTHORIZED;

    } else if (!fuzz_visible(data, dlen, NGX_IOT_AUTH_DEVICE_MAX)
               || !fuzz_visible(data + dlen + 1, tlen, NGX_IOT_AUTH_TOKEN_MAX))
    {
        want = NGX_HTTP_BAD_REQUEST;

    } else {
        want = NGX_OK;
    }

    fuzz_assert(rc == want);

    if (rc != NGX_OK) {
        fuzz_assert(ctx->done && ctx->rc == rc
                    && ctx->result == NGX_IOT_AUTH_DENIED);
        fuzz_assert(fuzz_sh.stats.requests[NGX_IOT_AUTH_DENIED]
                    == before[NGX_IOT_AUTH_DENIED] + 1);
        goto done;
    }

    fuzz_assert(!ctx->done);
    fuzz_assert(ngx_memcmp((void *) fuzz_sh.stats.requests, before,
                           sizeof(before))
                == 0);
    fuzz_assert(ctx->device.len == dlen
                && ngx_memcmp(ctx->device.data, data, dlen) == 0);
    fuzz_assert(ctx->token.len == tlen
                && ngx_memcmp(ctx->token.data, data + dlen + 1, tlen) == 0);
    fuzz_assert(ctx->lockout == &iacf->lockout);

    /* size == dlen + 1 + tlen: the input with its '\n' made a 0x00 */

    msg = fuzz_dup(cf.pool, data, size, 0);
    msg[dlen] = '\0';

    if (HMAC(EVP_sha256(), fuzz_key, sizeof(fuzz_key), msg, size, digest,
             &mdlen)
        == NULL)
    {
        abort();
    }

    fuzz_assert(mdlen == NGX_IOT_AUTH_DIGEST_LEN);
    fuzz_assert(ngx_memcmp(ctx->digest, digest, NGX_IOT_AUTH_DIGEST_LEN)
                == 0);

done:

    fuzz_conf_end(&cf);

    return 0;
}
