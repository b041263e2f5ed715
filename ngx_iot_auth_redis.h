
/*
 * Copyright (C) ngx_iot_auth authors
 */


/*
 * The Redis store: a hiredis async client on the nginx event loop, one
 * lookup connection per worker and, in worker 0, a subscriber to the
 * revocation channel.
 */


#ifndef _NGX_IOT_AUTH_REDIS_H_INCLUDED_
#define _NGX_IOT_AUTH_REDIS_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>

#include "ngx_iot_auth_store.h"


/* iot_auth_redis: one endpoint per http{} (or stream{}) block */

typedef struct {
    ngx_url_t                    url;          /* host:port or unix:/path */
    ngx_int_t                    db;
    ngx_str_t                    password;
    ngx_msec_t                   connect_timeout;
    ngx_msec_t                   timeout;
    ngx_str_t                    revoke_channel;
} ngx_iot_auth_redis_conf_t;


/* called for each valid device id published on the revocation channel */
typedef void (*ngx_iot_auth_revoke_pt)(void *data, ngx_str_t *device);


ngx_int_t ngx_iot_auth_redis_init_process(ngx_cycle_t *cycle,
    ngx_iot_auth_redis_conf_t *rcf, ngx_iot_auth_revoke_pt revoke,
    void *data);
void ngx_iot_auth_redis_exit_process(ngx_cycle_t *cycle);

/*
 * HMGET prefix+device hash perms disabled; NGX_OK: the handler will be
 * called from a posted event, NGX_ERROR: it will not (Redis is down)
 */
ngx_int_t ngx_iot_auth_redis_fetch(ngx_str_t *prefix, ngx_str_t *device,
    ngx_log_t *log, ngx_iot_auth_store_handler_pt handler, void *data);


#endif /* _NGX_IOT_AUTH_REDIS_H_INCLUDED_ */
