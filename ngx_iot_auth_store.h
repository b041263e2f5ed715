
/*
 * Copyright (C) ngx_iot_auth authors
 */


/*
 * Credential stores behind one interface.  A store is a credentials
 * file, read with the configuration, that answers at once, or Redis,
 * that answers later.  Each store has an id (which store: it keys the
 * zone's entries) and a version (which content: a verdict made with
 * another one is checked again).
 */


#ifndef _NGX_IOT_AUTH_STORE_H_INCLUDED_
#define _NGX_IOT_AUTH_STORE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_iot_auth_record.h"
#include "ngx_iot_auth_cache.h"
#include "ngx_iot_auth_file.h"


typedef struct {
    ngx_iot_auth_backend_e       backend;
    ngx_iot_auth_file_t         *file;         /* the file store */
    ngx_str_t                    prefix;       /* Redis: the key prefix */
    uint64_t                     id;
    uint64_t                     version;
} ngx_iot_auth_store_t;


/*
 * the answer to a fetch: NGX_OK with the record (valid during the call
 * only), NGX_DECLINED when the store has no record it can use (each such
 * record logged by the store), NGX_ERROR when it could not answer
 */
typedef void (*ngx_iot_auth_store_handler_pt)(void *data, ngx_int_t rc,
    ngx_iot_auth_record_t *rec);


/*
 * asks for a device's record; the handler is called once: before this
 * returns (NGX_OK), or later from a posted event (NGX_AGAIN)
 */
ngx_int_t ngx_iot_auth_store_fetch(ngx_iot_auth_store_t *store,
    ngx_str_t *device, ngx_log_t *log, ngx_iot_auth_store_handler_pt handler,
    void *data);

ngx_int_t ngx_iot_auth_store_file(ngx_iot_auth_store_t *store,
    ngx_iot_auth_file_t *file);
ngx_int_t ngx_iot_auth_store_redis(ngx_iot_auth_store_t *store,
    ngx_str_t *prefix);


#endif /* _NGX_IOT_AUTH_STORE_H_INCLUDED_ */
