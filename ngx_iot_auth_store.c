
/*
 * Copyright (C) ngx_iot_auth authors
 */


/*
 * Credential stores behind one interface (see ngx_iot_auth_store.h):
 * the file store answers from memory at once, the Redis store through
 * ngx_iot_auth_redis.c.  Calls the file and Redis code only.
 */


#include "ngx_iot_auth_store.h"
#include "ngx_iot_auth_redis.h"

#include <openssl/evp.h>


static ngx_int_t ngx_iot_auth_store_id(char *kind, ngx_str_t *text,
    uint64_t *id);


ngx_int_t
ngx_iot_auth_store_fetch(ngx_iot_auth_store_t *store, ngx_str_t *device,
    ngx_log_t *log, ngx_iot_auth_store_handler_pt handler, void *data)
{
    ngx_iot_auth_record_t  *rec;

    if (store->backend == NGX_IOT_AUTH_BACKEND_FILE) {
        rec = ngx_iot_auth_file_find(store->file, device);
        handler(data, rec ? NGX_OK : NGX_DECLINED, rec);
        return NGX_OK;
    }

    if (ngx_iot_auth_redis_fetch(&store->prefix, device, log, handler, data)
        != NGX_OK)
    {
        handler(data, NGX_ERROR, NULL);
        return NGX_OK;
    }

    return NGX_AGAIN;
}


ngx_int_t
ngx_iot_auth_store_file(ngx_iot_auth_store_t *store,
    ngx_iot_auth_file_t *file)
{
    store->backend = NGX_IOT_AUTH_BACKEND_FILE;
    store->file = file;

    if (ngx_iot_auth_store_id("file", &file->path, &store->id) != NGX_OK
        || ngx_iot_auth_store_id("content", &file->text, &store->version)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* a Redis record is always read again: one version */

ngx_int_t
ngx_iot_auth_store_redis(ngx_iot_auth_store_t *store, ngx_str_t *prefix)
{
    store->backend = NGX_IOT_AUTH_BACKEND_REDIS;
    store->file = NULL;
    store->prefix = *prefix;

    if (ngx_iot_auth_store_id("redis", prefix, &store->id) != NGX_OK) {
        return NGX_ERROR;
    }

    store->version = store->id;

    return NGX_OK;
}


/* 64 bits of SHA-256(kind 0x00 text) */

static ngx_int_t
ngx_iot_auth_store_id(char *kind, ngx_str_t *text, uint64_t *id)
{
    u_char        md[EVP_MAX_MD_SIZE];
    ngx_int_t     rc;
    unsigned int  len;
    EVP_MD_CTX   *md_ctx;

    md_ctx = EVP_MD_CTX_new();
    if (md_ctx == NULL) {
        return NGX_ERROR;
    }

    rc = (EVP_DigestInit_ex(md_ctx, EVP_sha256(), NULL) == 1
          && EVP_DigestUpdate(md_ctx, kind, ngx_strlen(kind) + 1) == 1
          && EVP_DigestUpdate(md_ctx, text->data, text->len) == 1
          && EVP_DigestFinal_ex(md_ctx, md, &len) == 1)
         ? NGX_OK : NGX_ERROR;

    EVP_MD_CTX_free(md_ctx);

    if (rc == NGX_OK) {
        ngx_memcpy(id, md, sizeof(uint64_t));
    }

    return rc;
}
