
/*
 * Copyright (C) ngx_iot_auth authors
 *
 * Device id and token as a request brings them -> the access handler's
 * ngx_iot_auth_read_credentials(): empty -> 401, a device id not 1-128
 * bytes of 0x21-0x7e or a token not 1-72 such bytes -> 400, counted once
 * as DENIED in the zone; otherwise NGX_OK, nothing counted, and the
 * engine's digest = HMAC-SHA256(key, device 0x00 token).  Each verdict
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


#define FUZZ_ZONE_SIZE  (64 * 1024)


static ngx_str_t            fuzz_key =
    ngx_string("0123456789abcdef0123456789abcdef");
static ngx_shm_zone_t       fuzz_shm_zone;
static ngx_iot_auth_zone_t  fuzz_zone;


/* a zone in plain memory, laid out as nginx lays out shared memory */

static void
fuzz_zone_create(void)
{
    u_char           *addr;
    ngx_slab_pool_t  *sp;

    addr = calloc(1, FUZZ_ZONE_SIZE);
    if (addr == NULL) {
        abort();
    }

    sp = (ngx_slab_pool_t *) addr;
    sp->end = addr + FUZZ_ZONE_SIZE;
    sp->min_shift = 3;
    sp->addr = addr;

    if (ngx_shmtx_create(&sp->mutex, &sp->lock, NULL) != NGX_OK) {
        abort();
    }

    ngx_slab_init(sp);

    fuzz_shm_zone.shm.addr = addr;
    fuzz_shm_zone.shm.size = FUZZ_ZONE_SIZE;
    fuzz_shm_zone.shm.log = &fuzz_log;
    ngx_str_set(&fuzz_shm_zone.shm.name, "fuzz");
    fuzz_shm_zone.data = &fuzz_zone;

    fuzz_zone.shm_zone = &fuzz_shm_zone;
    fuzz_zone.secret = &fuzz_key;
    fuzz_zone.ttl = 30000;
    fuzz_zone.negative_ttl = 10000;
    fuzz_zone.refresh = 80;

    if (ngx_iot_auth_cache_init_zone(&fuzz_shm_zone, NULL) != NGX_OK
        || ngx_iot_auth_cache_init_process(&fuzz_zone, &fuzz_log) != NGX_OK)
    {
        abort();
    }
}


int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    fuzz_init();
    fuzz_zone_create();

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
    u_char                     ours[NGX_IOT_AUTH_DIGEST_LEN];
    size_t                     dlen, tlen;
    ngx_int_t                  rc, want;
    ngx_log_t                  log;
    ngx_conf_t                 cf;
    unsigned int               mdlen;
    const u_char              *nl;
    ngx_connection_t          *c;
    ngx_http_request_t        *r;
    ngx_iot_auth_ctx_t        *ctx;
    ngx_iot_auth_metrics_t     before, after;
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
    iacf->engine.shm_zone = &fuzz_shm_zone;
    iacf->require_perms = 0;

    log = fuzz_log;
    c->log = &log;
    r->connection = c;
    r->pool = cf.pool;
    r->main = r;
    r->loc_conf = fuzz_loc_conf;
    fuzz_loc_conf[FUZZ_IOT_INDEX] = iacf;

    ctx->request = r;

    ngx_iot_auth_cache_metrics(&fuzz_zone, &before);

    rc = ngx_iot_auth_read_credentials(r, iacf, ctx);

    ngx_iot_auth_cache_metrics(&fuzz_zone, &after);

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
        fuzz_assert(after.requests[NGX_IOT_AUTH_DENIED]
                    == before.requests[NGX_IOT_AUTH_DENIED] + 1);
        goto done;
    }

    fuzz_assert(!ctx->done);
    fuzz_assert(ngx_memcmp(after.requests, before.requests,
                           sizeof(before.requests))
                == 0);
    fuzz_assert(ctx->device.len == dlen
                && ngx_memcmp(ctx->device.data, data, dlen) == 0);
    fuzz_assert(ctx->token.len == tlen
                && ngx_memcmp(ctx->token.data, data + dlen + 1, tlen) == 0);

    /* size == dlen + 1 + tlen: the input with its '\n' made a 0x00 */

    msg = fuzz_dup(cf.pool, data, size, 0);
    msg[dlen] = '\0';

    if (HMAC(EVP_sha256(), fuzz_key.data, fuzz_key.len, msg, size, digest,
             &mdlen)
        == NULL)
    {
        abort();
    }

    fuzz_assert(mdlen == NGX_IOT_AUTH_DIGEST_LEN);
    ngx_iot_auth_cache_digest(&fuzz_zone, &ctx->device, &ctx->token, ours);
    fuzz_assert(ngx_memcmp(ours, digest, NGX_IOT_AUTH_DIGEST_LEN) == 0);

done:

    fuzz_conf_end(&cf);

    return 0;
}
