
/*
 * Copyright (C) ngx_iot_auth authors
 */


#include "ngx_iot_auth_module.h"


/* a detached re-check of the store; the device id follows it */

typedef struct {
    ngx_iot_auth_zone_t         *zone;
    uint64_t                     store;
    uint64_t                     version;
    ngx_str_t                    device;
    u_char                       digest[NGX_IOT_AUTH_DIGEST_LEN];
} ngx_iot_auth_refresh_t;


static ngx_int_t ngx_iot_auth_handler(ngx_http_request_t *r);
static ngx_int_t ngx_iot_auth_verdict(ngx_http_request_t *r,
    ngx_iot_auth_ctx_t *ctx, ngx_iot_auth_loc_conf_t *iacf);
static ngx_int_t ngx_iot_auth_perms(ngx_iot_auth_ctx_t *ctx,
    ngx_iot_auth_loc_conf_t *iacf);
static ngx_iot_auth_ctx_t *ngx_iot_auth_get_ctx(ngx_http_request_t *r);
static ngx_iot_auth_ctx_t *ngx_iot_auth_create_ctx(ngx_http_request_t *r);
static void ngx_iot_auth_cleanup(void *data);
static ngx_int_t ngx_iot_auth_read_credentials(ngx_http_request_t *r,
    ngx_iot_auth_loc_conf_t *iacf, ngx_iot_auth_ctx_t *ctx);
static ngx_uint_t ngx_iot_auth_repeated(ngx_http_request_t *r,
    ngx_str_t *name);
static ngx_int_t ngx_iot_auth_act(ngx_http_request_t *r,
    ngx_iot_auth_ctx_t *ctx, ngx_iot_auth_action_e action);
static ngx_int_t ngx_iot_auth_fetch(ngx_http_request_t *r,
    ngx_iot_auth_ctx_t *ctx, ngx_iot_auth_loc_conf_t *iacf);
static ngx_int_t ngx_iot_auth_redis_key(ngx_pool_t *pool, ngx_str_t *prefix,
    ngx_str_t *device, ngx_str_t *key);
static void ngx_iot_auth_keep_record(ngx_iot_auth_ctx_t *ctx, ngx_int_t rc,
    ngx_iot_auth_record_t *rec);
static void ngx_iot_auth_redis_done(void *data, ngx_int_t rc,
    ngx_iot_auth_record_t *rec);
static void ngx_iot_auth_redis_resume(ngx_event_t *ev);
static ngx_int_t ngx_iot_auth_fetched(ngx_http_request_t *r,
    ngx_iot_auth_ctx_t *ctx);
static ngx_int_t ngx_iot_auth_backend_error(ngx_http_request_t *r,
    ngx_iot_auth_ctx_t *ctx, ngx_iot_auth_zone_t *zone);
static void ngx_iot_auth_refresh(ngx_http_request_t *r,
    ngx_iot_auth_ctx_t *ctx, ngx_iot_auth_loc_conf_t *iacf);
static void ngx_iot_auth_refreshed(void *data, ngx_int_t rc,
    ngx_iot_auth_record_t *rec);
static ngx_int_t ngx_iot_auth_credential(ngx_iot_auth_zone_t *zone,
    ngx_iot_auth_ctx_t *ctx, ngx_iot_auth_cred_t *cred);
static ngx_int_t ngx_iot_auth_retry_after(ngx_http_request_t *r);


static ngx_int_t ngx_iot_auth_device_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_iot_auth_perms_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_iot_auth_result_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);

static char *ngx_iot_auth_zone(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_iot_auth(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
static char *ngx_iot_auth_credentials(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_iot_auth_require_perms(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_iot_auth_lockout(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_iot_auth_secret_file(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_iot_auth_status(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static ngx_uint_t ngx_iot_auth_zone_name(ngx_str_t *name);
static void ngx_iot_auth_free_mac(void *data);
static ngx_http_complex_value_t *ngx_iot_auth_compile(ngx_conf_t *cf,
    char *value);
static void ngx_iot_auth_header_name(ngx_http_complex_value_t *cv,
    ngx_str_t *name);

static ngx_int_t ngx_iot_auth_add_variables(ngx_conf_t *cf);
static ngx_int_t ngx_iot_auth_init(ngx_conf_t *cf);
static void *ngx_iot_auth_create_main_conf(ngx_conf_t *cf);
static char *ngx_iot_auth_init_main_conf(ngx_conf_t *cf, void *conf);
static void *ngx_iot_auth_create_loc_conf(ngx_conf_t *cf);
static char *ngx_iot_auth_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);
static ngx_int_t ngx_iot_auth_init_module(ngx_cycle_t *cycle);
static ngx_int_t ngx_iot_auth_init_process(ngx_cycle_t *cycle);
static void ngx_iot_auth_exit_process(ngx_cycle_t *cycle);
static ngx_iot_auth_main_conf_t *ngx_iot_auth_enabled(ngx_cycle_t *cycle);


static ngx_msec_t  ngx_iot_auth_revoke_logged;
static ngx_uint_t  ngx_iot_auth_revokes_unlogged;


static ngx_conf_num_bounds_t  ngx_iot_auth_max_pending_bounds = {
    ngx_conf_check_num_bounds, 1, 1000000
};


static ngx_conf_num_bounds_t  ngx_iot_auth_max_cost_bounds = {
    ngx_conf_check_num_bounds, NGX_IOT_AUTH_COST_MIN, NGX_IOT_AUTH_COST_MAX
};


static ngx_command_t  ngx_iot_auth_commands[] = {

    { ngx_string("iot_auth_zone"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_1MORE,
      ngx_iot_auth_zone,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("iot_auth"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_iot_auth,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("iot_auth_device"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_set_complex_value_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_iot_auth_loc_conf_t, device),
      NULL },

    { ngx_string("iot_auth_token"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_set_complex_value_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_iot_auth_loc_conf_t, token),
      NULL },

    { ngx_string("iot_auth_credentials"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_iot_auth_credentials,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("iot_auth_redis"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_1MORE,
      ngx_iot_auth_redis,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("iot_auth_redis_key"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_iot_auth_loc_conf_t, redis_key),
      NULL },

    { ngx_string("iot_auth_stale_if_error"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_iot_auth_loc_conf_t, stale_if_error),
      NULL },

    { ngx_string("iot_auth_thread_pool"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_iot_auth_loc_conf_t, thread_pool_name),
      NULL },

    { ngx_string("iot_auth_wait_timeout"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_iot_auth_loc_conf_t, wait_timeout),
      NULL },

    { ngx_string("iot_auth_max_pending"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_iot_auth_loc_conf_t, max_pending),
      &ngx_iot_auth_max_pending_bounds },

    { ngx_string("iot_auth_max_cost"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_iot_auth_loc_conf_t, max_cost),
      &ngx_iot_auth_max_cost_bounds },

    { ngx_string("iot_auth_require_perms"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_iot_auth_require_perms,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("iot_auth_lockout"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE13,
      ngx_iot_auth_lockout,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("iot_auth_secret_file"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_iot_auth_secret_file,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("iot_auth_status"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS|NGX_CONF_TAKE1,
      ngx_iot_auth_status,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_iot_auth_module_ctx = {
    ngx_iot_auth_add_variables,            /* preconfiguration */
    ngx_iot_auth_init,                     /* postconfiguration */

    ngx_iot_auth_create_main_conf,         /* create main configuration */
    ngx_iot_auth_init_main_conf,           /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_iot_auth_create_loc_conf,          /* create location configuration */
    ngx_iot_auth_merge_loc_conf            /* merge location configuration */
};


ngx_module_t  ngx_iot_auth_module = {
    NGX_MODULE_V1,
    &ngx_iot_auth_module_ctx,              /* module context */
    ngx_iot_auth_commands,                 /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    ngx_iot_auth_init_module,              /* init module */
    ngx_iot_auth_init_process,             /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    ngx_iot_auth_exit_process,             /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


static ngx_http_variable_t  ngx_iot_auth_vars[] = {

    { ngx_string("iot_auth_device"), NULL,
      ngx_iot_auth_device_variable, 0, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("iot_auth_perms"), NULL,
      ngx_iot_auth_perms_variable, 0, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("iot_auth_result"), NULL,
      ngx_iot_auth_result_variable, 0, NGX_HTTP_VAR_NOCACHEABLE, 0 },

      ngx_http_null_variable
};


ngx_iot_auth_result_info_t  ngx_iot_auth_results[] = {
    { ngx_string("HIT"), ngx_string("hit"), 0, NULL },
    { ngx_string("REVALIDATED"), ngx_string("revalidated"), 0, NULL },
    { ngx_string("MISS"), ngx_string("miss"), 0, NULL },
    { ngx_string("WAIT"), ngx_string("wait"), 0, NULL },
    { ngx_string("REFRESH"), ngx_string("refresh"), 0, NULL },
    { ngx_string("STALE"), ngx_string("stale"), 0, NULL },
    { ngx_string("NEGATIVE"), ngx_string("negative"), NGX_LOG_INFO,
      "token failed recently" },
    { ngx_string("DENIED"), ngx_string("denied"), 0, NULL },
    { ngx_string("UNKNOWN"), ngx_string("unknown"), NGX_LOG_INFO,
      "unknown device" },
    { ngx_string("LOCKED"), ngx_string("locked"), NGX_LOG_INFO,
      "device locked out" },
    { ngx_string("FORBIDDEN"), ngx_string("forbidden"), NGX_LOG_INFO,
      "lacks the required perms" },
    { ngx_string("BUSY"), ngx_string("busy"), NGX_LOG_WARN,
      "too many verifications pending" },
    { ngx_string("ERROR"), ngx_string("error"), 0, NULL }
};


static ngx_int_t
ngx_iot_auth_handler(ngx_http_request_t *r)
{
    ngx_int_t                 rc;
    ngx_iot_auth_ctx_t       *ctx;
    ngx_iot_auth_loc_conf_t  *iacf;

    iacf = ngx_http_get_module_loc_conf(r, ngx_iot_auth_module);

    if (iacf->shm_zone == NULL) {
        return NGX_DECLINED;
    }

    ctx = ngx_iot_auth_get_ctx(r);

    if (ctx && !ctx->done) {
        return NGX_AGAIN;
    }

    if (ctx && ctx->store == iacf->store) {
        return ngx_iot_auth_verdict(r, ctx, iacf);
    }

    if (ctx == NULL) {
        ctx = ngx_iot_auth_create_ctx(r);
        if (ctx == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

    } else {
        /* redirected to a location of another store: decided again */

        ngx_memzero(ctx, sizeof(ngx_iot_auth_ctx_t));
        ctx->request = r;
    }

    ctx->store = iacf->store;
    ctx->version = iacf->version;

    rc = ngx_iot_auth_read_credentials(r, iacf, ctx);

    if (rc != NGX_OK) {
        return rc;
    }

    return ngx_iot_auth_check(r, ctx);
}


/*
 * the verdict on the device holds for every location of the same store
 * the request goes through, and is counted once; the perms it needs are
 * those of the current location
 */

static ngx_int_t
ngx_iot_auth_verdict(ngx_http_request_t *r, ngx_iot_auth_ctx_t *ctx,
    ngx_iot_auth_loc_conf_t *iacf)
{
    ngx_int_t              rc;
    ngx_iot_auth_result_e  result;

    if (ctx->rc != NGX_OK) {
        return ctx->rc;
    }

    result = ctx->result;

    rc = ngx_iot_auth_perms(ctx, iacf);

    if (rc != NGX_OK && result != NGX_IOT_AUTH_FORBIDDEN) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "iot_auth: device \"%V\" rejected: %s", &ctx->device,
                      ngx_iot_auth_results[NGX_IOT_AUTH_FORBIDDEN].reason);
    }

    return rc;
}


/* an allowed device lacking this location's perms is FORBIDDEN here */

static ngx_int_t
ngx_iot_auth_perms(ngx_iot_auth_ctx_t *ctx, ngx_iot_auth_loc_conf_t *iacf)
{
    if ((ctx->perms & iacf->require_perms) != iacf->require_perms) {
        ctx->result = NGX_IOT_AUTH_FORBIDDEN;
        return NGX_HTTP_FORBIDDEN;
    }

    ctx->result = ctx->verdict;

    return NGX_OK;
}


/*
 * an internal redirect zeroes module contexts: the verdict is found
 * again through the pool cleanup that carries it
 */

static ngx_iot_auth_ctx_t *
ngx_iot_auth_get_ctx(ngx_http_request_t *r)
{
    ngx_pool_cleanup_t  *cln;
    ngx_iot_auth_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_iot_auth_module);

    if (ctx || !r->internal) {
        return ctx;
    }

    for (cln = r->pool->cleanup; cln; cln = cln->next) {
        if (cln->handler == ngx_iot_auth_cleanup) {
            ctx = cln->data;
            ngx_http_set_ctx(r, ctx, ngx_iot_auth_module);
            return ctx;
        }
    }

    return NULL;
}


static ngx_iot_auth_ctx_t *
ngx_iot_auth_create_ctx(ngx_http_request_t *r)
{
    ngx_pool_cleanup_t  *cln;
    ngx_iot_auth_ctx_t  *ctx;

    cln = ngx_pool_cleanup_add(r->pool, sizeof(ngx_iot_auth_ctx_t));
    if (cln == NULL) {
        return NULL;
    }

    ctx = cln->data;
    ngx_memzero(ctx, sizeof(ngx_iot_auth_ctx_t));

    cln->handler = ngx_iot_auth_cleanup;

    ctx->request = r;

    ngx_http_set_ctx(r, ctx, ngx_iot_auth_module);

    return ctx;
}


static void
ngx_iot_auth_cleanup(void *data)
{
    /* void: the handler only marks the cleanup that carries the ctx */
}


static ngx_int_t
ngx_iot_auth_read_credentials(ngx_http_request_t *r,
    ngx_iot_auth_loc_conf_t *iacf, ngx_iot_auth_ctx_t *ctx)
{
    ngx_iot_auth_zone_t  *zone;

    if (ngx_http_complex_value(r, iacf->device, &ctx->device) != NGX_OK
        || ngx_http_complex_value(r, iacf->token, &ctx->token) != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ngx_iot_auth_repeated(r, &iacf->device_header)
        || ngx_iot_auth_repeated(r, &iacf->token_header))
    {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "iot_auth: device id or token header sent twice");
        ctx->device.len = 0;
        return ngx_iot_auth_finish(r, ctx, NGX_IOT_AUTH_DENIED,
                                   NGX_HTTP_BAD_REQUEST);
    }

    if (ctx->device.len == 0 || ctx->token.len == 0) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "iot_auth: no device id or token");
        ctx->device.len = 0;
        return ngx_iot_auth_finish(r, ctx, NGX_IOT_AUTH_DENIED,
                                   NGX_HTTP_UNAUTHORIZED);
    }

    if (!ngx_iot_auth_record_valid_id(ctx->device.data, ctx->device.len)) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "iot_auth: malformed device id of %uz bytes",
                      ctx->device.len);
        ctx->device.len = 0;
        return ngx_iot_auth_finish(r, ctx, NGX_IOT_AUTH_DENIED,
                                   NGX_HTTP_BAD_REQUEST);
    }

    if (!ngx_iot_auth_record_valid_token(ctx->token.data, ctx->token.len)) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "iot_auth: device \"%V\" sent a malformed token "
                      "of %uz bytes", &ctx->device, ctx->token.len);
        return ngx_iot_auth_finish(r, ctx, NGX_IOT_AUTH_DENIED,
                                   NGX_HTTP_BAD_REQUEST);
    }

    zone = iacf->shm_zone->data;

    if (ngx_iot_auth_cache_digest(zone, &ctx->device, &ctx->token,
                                  ctx->digest)
        != NGX_OK)
    {
        ngx_log_error(NGX_LOG_CRIT, r->connection->log, 0,
                      "iot_auth: HMAC failed for device \"%V\"",
                      &ctx->device);
        return ngx_iot_auth_finish(r, ctx, NGX_IOT_AUTH_ERROR,
                                   NGX_HTTP_INTERNAL_SERVER_ERROR);
    }

    ctx->lockout = &iacf->lockout;

    return NGX_OK;
}


/*
 * a request header named by iot_auth_device or iot_auth_token more than
 * once: nginx's $http_ variable would take the first one only, while
 * the upstream sees both
 */

static ngx_uint_t
ngx_iot_auth_repeated(ngx_http_request_t *r, ngx_str_t *name)
{
    u_char            c;
    size_t            n;
    ngx_uint_t        i, seen;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    if (name->len == 0) {
        return 0;
    }

    seen = 0;
    part = &r->headers_in.headers.part;
    h = part->elts;

    for (i = 0; /* void */ ; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                break;
            }

            part = part->next;
            h = part->elts;
            i = 0;
        }

        if (h[i].key.len != name->len) {
            continue;
        }

        for (n = 0; n < name->len; n++) {
            c = ngx_tolower(h[i].key.data[n]);

            if ((c == '-' ? '_' : c) != name->data[n]) {
                break;
            }
        }

        if (n == name->len && ++seen > 1) {
            return 1;
        }
    }

    return 0;
}


ngx_int_t
ngx_iot_auth_check(ngx_http_request_t *r, ngx_iot_auth_ctx_t *ctx)
{
    ngx_iot_auth_zone_t      *zone;
    ngx_iot_auth_action_e     action;
    ngx_iot_auth_loc_conf_t  *iacf;

    iacf = ngx_http_get_module_loc_conf(r, ngx_iot_auth_module);
    zone = iacf->shm_zone->data;

    ctx->may_own = ngx_iot_auth_flight_pending()
                   < (ngx_uint_t) iacf->max_pending;

    action = ngx_iot_auth_cache_lookup(zone, ctx);

    if (action == NGX_IOT_AUTH_CHECK_STORE
        && ctx->result == NGX_IOT_AUTH_REFRESH && iacf->redis)
    {
        ngx_iot_auth_refresh(r, ctx, iacf);
        action = NGX_IOT_AUTH_ALLOW;
    }

    if (action == NGX_IOT_AUTH_CHECK_STORE || action == NGX_IOT_AUTH_OWN) {
        ctx->action = action;
        return ngx_iot_auth_fetch(r, ctx, iacf);
    }

    return ngx_iot_auth_act(r, ctx, action);
}


static ngx_int_t
ngx_iot_auth_act(ngx_http_request_t *r, ngx_iot_auth_ctx_t *ctx,
    ngx_iot_auth_action_e action)
{
    switch (action) {

    case NGX_IOT_AUTH_ALLOW:
        return ngx_iot_auth_finish(r, ctx, ctx->result, NGX_OK);

    case NGX_IOT_AUTH_REJECT:
        return ngx_iot_auth_finish(r, ctx, ctx->result,
                                   ctx->result == NGX_IOT_AUTH_LOCKED
                                   ? NGX_HTTP_TOO_MANY_REQUESTS
                                   : NGX_HTTP_UNAUTHORIZED);

    case NGX_IOT_AUTH_JOIN:
        return ngx_iot_auth_flight_wait(r, ctx);

    default: /* NGX_IOT_AUTH_THROTTLE */
        return ngx_iot_auth_finish(r, ctx, NGX_IOT_AUTH_BUSY,
                                   NGX_HTTP_SERVICE_UNAVAILABLE);
    }
}


/* reads the device's stored credential: at once from a file, or Redis */

static ngx_int_t
ngx_iot_auth_fetch(ngx_http_request_t *r, ngx_iot_auth_ctx_t *ctx,
    ngx_iot_auth_loc_conf_t *iacf)
{
    ngx_str_t               key;
    ngx_iot_auth_record_t  *rec;

    if (!iacf->redis) {
        rec = ngx_iot_auth_file_find(iacf->file, &ctx->device);
        ngx_iot_auth_keep_record(ctx, rec ? NGX_OK : NGX_DECLINED, rec);

        return ngx_iot_auth_fetched(r, ctx);
    }

    if (ngx_iot_auth_redis_key(r->pool, &iacf->redis_key, &ctx->device,
                               &key)
        != NGX_OK)
    {
        if (ctx->action == NGX_IOT_AUTH_OWN) {
            ngx_iot_auth_flight_end(iacf->shm_zone->data, ctx,
                                    NGX_IOT_AUTH_NO_ANSWER, NULL);
        }

        return ngx_iot_auth_finish(r, ctx, NGX_IOT_AUTH_ERROR,
                                   NGX_HTTP_INTERNAL_SERVER_ERROR);
    }

    if (ngx_iot_auth_redis_fetch(&key, r->connection->log,
                                 ngx_iot_auth_redis_done, ctx)
        != NGX_OK)
    {
        ngx_iot_auth_keep_record(ctx, NGX_ERROR, NULL);
        return ngx_iot_auth_fetched(r, ctx);
    }

    ngx_iot_auth_flight_pin(r, ctx);

    return NGX_AGAIN;
}


static ngx_int_t
ngx_iot_auth_redis_key(ngx_pool_t *pool, ngx_str_t *prefix,
    ngx_str_t *device, ngx_str_t *key)
{
    key->len = prefix->len + device->len;

    key->data = ngx_pnalloc(pool, key->len);
    if (key->data == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(ngx_cpymem(key->data, prefix->data, prefix->len),
               device->data, device->len);

    return NGX_OK;
}


static void
ngx_iot_auth_keep_record(ngx_iot_auth_ctx_t *ctx, ngx_int_t rc,
    ngx_iot_auth_record_t *rec)
{
    ctx->fetched = rc;

    if (rc == NGX_OK) {
        ngx_memcpy(ctx->stored_hash, rec->hash, NGX_IOT_AUTH_HASH_LEN);
        ctx->stored_perms = rec->perms;
        ctx->stored_cost = rec->cost;
    }
}


/* the request is resumed from a posted event, outside hiredis' callback */

static void
ngx_iot_auth_redis_done(void *data, ngx_int_t rc, ngx_iot_auth_record_t *rec)
{
    ngx_iot_auth_ctx_t  *ctx = data;

    ngx_iot_auth_keep_record(ctx, rc, rec);

    ctx->wake.handler = ngx_iot_auth_redis_resume;
    ctx->wake.data = ctx;
    ctx->wake.log = ctx->request->connection->log;

    ngx_post_event(&ctx->wake, &ngx_posted_events);
}


static void
ngx_iot_auth_redis_resume(ngx_event_t *ev)
{
    ngx_iot_auth_ctx_t  *ctx = ev->data;

    ngx_http_request_t  *r;

    r = ctx->request;

    ngx_http_set_log_request(r->connection->log, r);

    if (ngx_iot_auth_fetched(r, ctx) != NGX_AGAIN) {
        ngx_iot_auth_flight_resume(ctx);
    }
}


/* goes on with the stored credential kept in ctx by the fetch */

static ngx_int_t
ngx_iot_auth_fetched(ngx_http_request_t *r, ngx_iot_auth_ctx_t *ctx)
{
    ngx_iot_auth_cred_t       cred;
    ngx_iot_auth_zone_t      *zone;
    ngx_iot_auth_action_e     action;
    ngx_iot_auth_loc_conf_t  *iacf;

    iacf = ngx_http_get_module_loc_conf(r, ngx_iot_auth_module);
    zone = iacf->shm_zone->data;

    if (ctx->fetched == NGX_ERROR) {
        return ngx_iot_auth_backend_error(r, ctx, zone);
    }

    if (ctx->fetched == NGX_OK && ctx->stored_cost > iacf->max_cost) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "iot_auth: the hash of device \"%V\" has cost %ui, "
                      "above iot_auth_max_cost %ui", &ctx->device,
                      ctx->stored_cost, iacf->max_cost);
        ctx->fetched = NGX_DECLINED;
    }

    if (ctx->fetched == NGX_OK
        && ngx_iot_auth_credential(zone, ctx, &cred) != NGX_OK)
    {
        if (ctx->action == NGX_IOT_AUTH_OWN) {
            ngx_iot_auth_flight_end(zone, ctx, NGX_IOT_AUTH_NO_ANSWER, NULL);
        }

        return ngx_iot_auth_finish(r, ctx, NGX_IOT_AUTH_ERROR,
                                   NGX_HTTP_INTERNAL_SERVER_ERROR);
    }

    action = ctx->action;

    if (action == NGX_IOT_AUTH_CHECK_STORE) {
        action = ngx_iot_auth_cache_revalidate(zone, ctx,
                                               ctx->fetched == NGX_OK
                                               ? &cred : NULL);
    }

    if (action != NGX_IOT_AUTH_OWN) {
        return ngx_iot_auth_act(r, ctx, action);
    }

    if (ctx->fetched == NGX_DECLINED) {
        ngx_iot_auth_flight_end(zone, ctx, NGX_IOT_AUTH_NO_DEVICE, NULL);

        return ngx_iot_auth_finish(r, ctx, NGX_IOT_AUTH_UNKNOWN,
                                   NGX_HTTP_UNAUTHORIZED);
    }

    return ngx_iot_auth_flight_bcrypt(r, ctx, ctx->stored_hash, &cred);
}


/*
 * the store could not answer: a verdict for this very token is kept
 * for iot_auth_stale_if_error past its expiry, anything else waits
 */

static ngx_int_t
ngx_iot_auth_backend_error(ngx_http_request_t *r, ngx_iot_auth_ctx_t *ctx,
    ngx_iot_auth_zone_t *zone)
{
    ngx_iot_auth_loc_conf_t  *iacf;

    iacf = ngx_http_get_module_loc_conf(r, ngx_iot_auth_module);

    (void) ngx_atomic_fetch_add(&zone->sh->stats.redis_errors, 1);

    if (ctx->action == NGX_IOT_AUTH_OWN) {
        ngx_iot_auth_flight_end(zone, ctx, NGX_IOT_AUTH_NO_ANSWER, NULL);
    }

    if (ctx->action == NGX_IOT_AUTH_CHECK_STORE
        && ngx_iot_auth_cache_stale(zone, ctx, iacf->stale_if_error)
           == NGX_OK)
    {
        return ngx_iot_auth_finish(r, ctx, NGX_IOT_AUTH_STALE, NGX_OK);
    }

    /* the outage itself is logged once by the store */

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "iot_auth: device \"%V\" not checked: "
                  "credential store unavailable", &ctx->device);

    return ngx_iot_auth_finish(r, ctx, NGX_IOT_AUTH_ERROR,
                               NGX_HTTP_SERVICE_UNAVAILABLE);
}


/* re-reads the store for a verdict past its refresh point, detached */

static void
ngx_iot_auth_refresh(ngx_http_request_t *r, ngx_iot_auth_ctx_t *ctx,
    ngx_iot_auth_loc_conf_t *iacf)
{
    ngx_str_t                key;
    ngx_iot_auth_refresh_t  *rf;

    rf = ngx_alloc(sizeof(ngx_iot_auth_refresh_t) + ctx->device.len,
                   r->connection->log);
    if (rf == NULL) {
        return;
    }

    rf->zone = iacf->shm_zone->data;
    rf->store = ctx->store;
    rf->version = ctx->version;
    rf->device.len = ctx->device.len;
    rf->device.data = (u_char *) (rf + 1);
    ngx_memcpy(rf->device.data, ctx->device.data, ctx->device.len);
    ngx_memcpy(rf->digest, ctx->digest, NGX_IOT_AUTH_DIGEST_LEN);

    if (ngx_iot_auth_redis_key(r->pool, &iacf->redis_key, &ctx->device,
                               &key)
        != NGX_OK)
    {
        ngx_free(rf);
        return;
    }

    if (ngx_iot_auth_redis_fetch(&key, ngx_cycle->log,
                                 ngx_iot_auth_refreshed, rf)
        != NGX_OK)
    {
        (void) ngx_atomic_fetch_add(&rf->zone->sh->stats.redis_errors, 1);
        ngx_free(rf);
    }
}


static void
ngx_iot_auth_refreshed(void *data, ngx_int_t rc, ngx_iot_auth_record_t *rec)
{
    ngx_iot_auth_refresh_t  *rf = data;

    ngx_iot_auth_cred_t  cred;

    if (rc == NGX_ERROR) {
        (void) ngx_atomic_fetch_add(&rf->zone->sh->stats.redis_errors, 1);

    } else if (rc == NGX_DECLINED) {
        ngx_iot_auth_cache_refresh(rf->zone, rf->store, &rf->device,
                                   rf->digest, NULL);

    } else if (ngx_iot_auth_cache_fingerprint(rf->zone, rec->hash,
                                              cred.fprint)
               == NGX_OK)
    {
        cred.perms = rec->perms;
        cred.version = rf->version;

        ngx_iot_auth_cache_refresh(rf->zone, rf->store, &rf->device,
                                   rf->digest, &cred);
    }

    ngx_free(rf);
}


static ngx_int_t
ngx_iot_auth_credential(ngx_iot_auth_zone_t *zone, ngx_iot_auth_ctx_t *ctx,
    ngx_iot_auth_cred_t *cred)
{
    cred->perms = ctx->stored_perms;
    cred->version = ctx->version;

    return ngx_iot_auth_cache_fingerprint(zone, ctx->stored_hash,
                                          cred->fprint);
}


/* called by the Redis code for each device id published on revoke_channel */

void
ngx_iot_auth_revoke(ngx_str_t *device)
{
    ngx_uint_t                 i;
    ngx_shm_zone_t           **zones;
    ngx_iot_auth_main_conf_t  *iamcf;

    iamcf = ngx_http_cycle_get_module_main_conf(ngx_cycle,
                                                ngx_iot_auth_module);

    zones = iamcf->zones.elts;

    for (i = 0; i < iamcf->zones.nelts; i++) {
        ngx_iot_auth_cache_revoke(zones[i]->data, device);
    }

    /* a line a second at most: anyone who can publish can flood */

    if (ngx_iot_auth_revoke_logged
        && ngx_current_msec - ngx_iot_auth_revoke_logged < 1000)
    {
        ngx_iot_auth_revokes_unlogged++;
        return;
    }

    if (ngx_iot_auth_revokes_unlogged) {
        ngx_log_error(NGX_LOG_NOTICE, ngx_cycle->log, 0,
                      "iot_auth: device \"%V\" revoked, and %ui other "
                      "devices since the last line", device,
                      ngx_iot_auth_revokes_unlogged);

    } else {
        ngx_log_error(NGX_LOG_NOTICE, ngx_cycle->log, 0,
                      "iot_auth: device \"%V\" revoked", device);
    }

    ngx_iot_auth_revoke_logged = ngx_current_msec | 1;
    ngx_iot_auth_revokes_unlogged = 0;
}


/* records the verdict of a request: counted once, logged with the device */

ngx_int_t
ngx_iot_auth_finish(ngx_http_request_t *r, ngx_iot_auth_ctx_t *ctx,
    ngx_iot_auth_result_e result, ngx_int_t rc)
{
    ngx_iot_auth_zone_t         *zone;
    ngx_iot_auth_loc_conf_t     *iacf;
    ngx_iot_auth_result_info_t  *info;

    iacf = ngx_http_get_module_loc_conf(r, ngx_iot_auth_module);

    ctx->verdict = result;
    ctx->rc = rc;
    ctx->done = 1;

    if (rc == NGX_OK) {
        rc = ngx_iot_auth_perms(ctx, iacf);
        result = ctx->result;

    } else {
        ctx->result = result;
    }

    zone = iacf->shm_zone->data;
    (void) ngx_atomic_fetch_add(&zone->sh->stats.requests[result], 1);

    info = &ngx_iot_auth_results[result];

    if (info->reason) {
        ngx_log_error(info->level, r->connection->log, 0,
                      "iot_auth: device \"%V\" rejected: %s",
                      &ctx->device, info->reason);
    }

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "iot_auth: result %V, rc:%i", &info->name, rc);

    if (rc == NGX_HTTP_SERVICE_UNAVAILABLE
        && ngx_iot_auth_retry_after(r) != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return rc;
}


static ngx_int_t
ngx_iot_auth_retry_after(ngx_http_request_t *r)
{
    ngx_table_elt_t  *h;

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    h->hash = 1;
    ngx_str_set(&h->key, "Retry-After");
    ngx_str_set(&h->value, "1");

    return NGX_OK;
}


static ngx_int_t
ngx_iot_auth_device_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_iot_auth_ctx_t  *ctx;

    ctx = ngx_iot_auth_get_ctx(r);

    if (ctx == NULL || ctx->device.len == 0) {
        v->not_found = 1;
        return NGX_OK;
    }

    v->len = ctx->device.len;
    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;
    v->data = ctx->device.data;

    return NGX_OK;
}


static ngx_int_t
ngx_iot_auth_perms_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    u_char              *p;
    ngx_iot_auth_ctx_t  *ctx;

    ctx = ngx_iot_auth_get_ctx(r);

    if (ctx == NULL || !ctx->done || ctx->rc != NGX_OK) {
        v->not_found = 1;
        return NGX_OK;
    }

    p = ngx_pnalloc(r->pool, NGX_INT32_LEN);
    if (p == NULL) {
        return NGX_ERROR;
    }

    v->len = ngx_sprintf(p, "%uD", ctx->perms) - p;
    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;
    v->data = p;

    return NGX_OK;
}


static ngx_int_t
ngx_iot_auth_result_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_str_t           *name;
    ngx_iot_auth_ctx_t  *ctx;

    ctx = ngx_iot_auth_get_ctx(r);

    if (ctx == NULL || !ctx->done) {
        v->not_found = 1;
        return NGX_OK;
    }

    name = &ngx_iot_auth_results[ctx->result].name;

    v->len = name->len;
    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;
    v->data = name->data;

    return NGX_OK;
}


static char *
ngx_iot_auth_zone(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_iot_auth_main_conf_t  *iamcf = conf;

    u_char               *p;
    ssize_t               size;
    ngx_int_t             n;
    ngx_str_t            *value, name, s;
    ngx_uint_t            i;
    ngx_shm_zone_t       *shm_zone, **zones;
    ngx_pool_cleanup_t   *cln;
    ngx_iot_auth_zone_t  *zone;

    value = cf->args->elts;

    zone = ngx_pcalloc(cf->pool, sizeof(ngx_iot_auth_zone_t));
    if (zone == NULL) {
        return NGX_CONF_ERROR;
    }

    zone->ttl = 30000;
    zone->negative_ttl = 10000;
    zone->refresh = 80;

    size = 0;
    ngx_str_null(&name);

    for (i = 1; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "zone=", 5) == 0) {

            name.data = value[i].data + 5;

            p = (u_char *) ngx_strchr(name.data, ':');

            if (p == NULL) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid zone size \"%V\"", &value[i]);
                return NGX_CONF_ERROR;
            }

            name.len = p - name.data;

            s.data = p + 1;
            s.len = value[i].data + value[i].len - s.data;

            size = ngx_parse_size(&s);

            if (name.len == 0 || size == NGX_ERROR
                || !ngx_iot_auth_zone_name(&name))
            {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid zone \"%V\"", &value[i]);
                return NGX_CONF_ERROR;
            }

            if (size < (ssize_t) (8 * ngx_pagesize)) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "zone \"%V\" is too small, "
                                   "it must be at least %uz bytes",
                                   &value[i], 8 * ngx_pagesize);
                return NGX_CONF_ERROR;
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "ttl=", 4) == 0) {

            n = ngx_iot_auth_conf_time(&value[i], 4);

            if (n == NGX_ERROR || n == 0) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid ttl \"%V\"", &value[i]);
                return NGX_CONF_ERROR;
            }

            zone->ttl = n;
            continue;
        }

        if (ngx_strncmp(value[i].data, "negative_ttl=", 13) == 0) {

            n = ngx_iot_auth_conf_time(&value[i], 13);

            if (n == NGX_ERROR) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid negative_ttl \"%V\"", &value[i]);
                return NGX_CONF_ERROR;
            }

            zone->negative_ttl = n;
            continue;
        }

        if (ngx_strncmp(value[i].data, "refresh=", 8) == 0) {

            n = NGX_ERROR;

            if (value[i].len > 9 && value[i].data[value[i].len - 1] == '%') {
                n = ngx_atoi(value[i].data + 8, value[i].len - 9);
            }

            if (n < 1 || n > 100) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid refresh \"%V\", it must be "
                                   "a percentage from 1%% to 100%%",
                                   &value[i]);
                return NGX_CONF_ERROR;
            }

            zone->refresh = n;
            continue;
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\"", &value[i]);
        return NGX_CONF_ERROR;
    }

    if (name.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\" must have \"zone\" parameter",
                           &cmd->name);
        return NGX_CONF_ERROR;
    }

    shm_zone = ngx_shared_memory_add(cf, &name, size, &ngx_iot_auth_module);
    if (shm_zone == NULL) {
        return NGX_CONF_ERROR;
    }

    if (shm_zone->data) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "duplicate zone \"%V\"", &name);
        return NGX_CONF_ERROR;
    }

    cln = ngx_pool_cleanup_add(cf->pool, 0);
    if (cln == NULL) {
        return NGX_CONF_ERROR;
    }

    cln->handler = ngx_iot_auth_free_mac;
    cln->data = zone;

    zone->shm_zone = shm_zone;
    zone->secret = &iamcf->secret;

    shm_zone->init = ngx_iot_auth_cache_init_zone;
    shm_zone->data = zone;

    zones = ngx_array_push(&iamcf->zones);
    if (zones == NULL) {
        return NGX_CONF_ERROR;
    }

    *zones = shm_zone;

    return NGX_CONF_OK;
}


/* zone names go into the status page as they are: no quotes, no escapes */

static ngx_uint_t
ngx_iot_auth_zone_name(ngx_str_t *name)
{
    u_char  *last;

    last = name->data + name->len;

    return ngx_iot_auth_record_visible(name->data, name->len, name->len)
           && ngx_strlchr(name->data, last, '"') == NULL
           && ngx_strlchr(name->data, last, '\\') == NULL;
}


/* the time after the "name=" of a directive argument, in milliseconds */

ngx_int_t
ngx_iot_auth_conf_time(ngx_str_t *value, size_t name)
{
    ngx_str_t  s;

    s.len = value->len - name;
    s.data = value->data + name;

    return ngx_parse_time(&s, 0);
}


static void
ngx_iot_auth_free_mac(void *data)
{
    ngx_iot_auth_zone_t  *zone = data;

    EVP_MAC_CTX_free(zone->mac);
}


static char *
ngx_iot_auth(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_iot_auth_loc_conf_t  *iacf = conf;

    ngx_str_t                 *value, name;
    ngx_iot_auth_zone_ref_t   *ref;
    ngx_iot_auth_main_conf_t  *iamcf;

    if (iacf->shm_zone != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_strcmp(value[1].data, "off") == 0) {
        iacf->shm_zone = NULL;
        return NGX_CONF_OK;
    }

    if (ngx_strncmp(value[1].data, "zone=", 5) != 0 || value[1].len == 5) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\"", &value[1]);
        return NGX_CONF_ERROR;
    }

    name.len = value[1].len - 5;
    name.data = value[1].data + 5;

    iacf->shm_zone = ngx_shared_memory_add(cf, &name, 0,
                                           &ngx_iot_auth_module);
    if (iacf->shm_zone == NULL) {
        return NGX_CONF_ERROR;
    }

    iamcf = ngx_http_conf_get_module_main_conf(cf, ngx_iot_auth_module);

    ref = ngx_array_push(&iamcf->refs);
    if (ref == NULL) {
        return NGX_CONF_ERROR;
    }

    ref->shm_zone = iacf->shm_zone;
    ref->file = cf->conf_file->file.name;
    ref->line = cf->conf_file->line;

    return NGX_CONF_OK;
}


static char *
ngx_iot_auth_credentials(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_iot_auth_loc_conf_t  *iacf = conf;

    ngx_str_t  *value, path;

    if (iacf->file != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_strcmp(value[1].data, "redis") == 0) {
        iacf->file = NULL;
        iacf->redis = 1;
        return NGX_CONF_OK;
    }

    if (ngx_strncmp(value[1].data, "file=", 5) != 0 || value[1].len == 5) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\"", &value[1]);
        return NGX_CONF_ERROR;
    }

    path.len = value[1].len - 5;
    path.data = value[1].data + 5;

    if (ngx_conf_full_name(cf->cycle, &path, 1) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    iacf->file = ngx_iot_auth_file_load(cf, &path);
    if (iacf->file == NULL) {
        return NGX_CONF_ERROR;
    }

    iacf->redis = 0;

    return NGX_CONF_OK;
}


static char *
ngx_iot_auth_require_perms(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_iot_auth_loc_conf_t  *iacf = conf;

    uint32_t    perms;
    ngx_str_t  *value;

    if (iacf->require_perms != NGX_CONF_UNSET_UINT) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_iot_auth_record_parse_perms(value[1].data, value[1].len, &perms)
        != NGX_OK)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid perms mask \"%V\", it must be a decimal "
                           "or 0x hexadecimal 32-bit number", &value[1]);
        return NGX_CONF_ERROR;
    }

    iacf->require_perms = perms;

    return NGX_CONF_OK;
}


static char *
ngx_iot_auth_lockout(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_iot_auth_loc_conf_t  *iacf = conf;

    ngx_int_t    n;
    ngx_str_t   *value;
    ngx_uint_t   i;

    if (iacf->lockout.failures != NGX_CONF_UNSET_UINT) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_strcmp(value[1].data, "off") == 0 && cf->args->nelts == 2) {
        iacf->lockout.failures = 0;
        return NGX_CONF_OK;
    }

    if (cf->args->nelts != 4) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\" takes \"failures=\", \"window=\" and "
                           "\"duration=\", or \"off\"", &cmd->name);
        return NGX_CONF_ERROR;
    }

    iacf->lockout.window = 0;
    iacf->lockout.duration = 0;

    for (i = 1; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "failures=", 9) == 0) {

            n = ngx_atoi(value[i].data + 9, value[i].len - 9);

            if (n < 1 || n > 65535) {
                goto invalid;
            }

            iacf->lockout.failures = n;
            continue;
        }

        if (ngx_strncmp(value[i].data, "window=", 7) == 0) {
            n = ngx_iot_auth_conf_time(&value[i], 7);

            if (n == NGX_ERROR || n == 0) {
                goto invalid;
            }

            iacf->lockout.window = n;
            continue;
        }

        if (ngx_strncmp(value[i].data, "duration=", 9) == 0) {
            n = ngx_iot_auth_conf_time(&value[i], 9);

            if (n == NGX_ERROR || n == 0) {
                goto invalid;
            }

            iacf->lockout.duration = n;
            continue;
        }

        goto invalid;
    }

    if (iacf->lockout.failures == NGX_CONF_UNSET_UINT
        || iacf->lockout.window == 0 || iacf->lockout.duration == 0)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\" must have \"failures=\", \"window=\" and "
                           "\"duration=\"", &cmd->name);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;

invalid:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid parameter \"%V\"", &value[i]);
    return NGX_CONF_ERROR;
}


static char *
ngx_iot_auth_secret_file(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_iot_auth_main_conf_t  *iamcf = conf;

    ssize_t          n;
    ngx_str_t       *value, path;
    ngx_file_t       file;
    ngx_file_info_t  fi;

    if (iamcf->secret.data) {
        return "is duplicate";
    }

    value = cf->args->elts;
    path = value[1];

    if (ngx_conf_full_name(cf->cycle, &path, 1) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    ngx_memzero(&file, sizeof(ngx_file_t));
    file.name = path;
    file.log = cf->log;

    file.fd = ngx_open_file(path.data, NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);
    if (file.fd == NGX_INVALID_FILE) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           ngx_open_file_n " \"%V\" failed", &path);
        return NGX_CONF_ERROR;
    }

    n = NGX_ERROR;

    if (ngx_fd_info(file.fd, &fi) == NGX_FILE_ERROR) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           ngx_fd_info_n " \"%V\" failed", &path);
        goto done;
    }

    iamcf->secret.data = ngx_pnalloc(cf->pool, ngx_file_size(&fi));
    if (iamcf->secret.data == NULL) {
        goto done;
    }

    n = ngx_read_file(&file, iamcf->secret.data, ngx_file_size(&fi), 0);

done:

    if (ngx_close_file(file.fd) == NGX_FILE_ERROR) {
        ngx_conf_log_error(NGX_LOG_ALERT, cf, ngx_errno,
                           ngx_close_file_n " \"%V\" failed", &path);
    }

    if (n == NGX_ERROR) {
        return NGX_CONF_ERROR;
    }

    while (n > 0 && (iamcf->secret.data[n - 1] == LF
                     || iamcf->secret.data[n - 1] == CR))
    {
        n--;
    }

    if (n < NGX_IOT_AUTH_KEY_LEN) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "secret file \"%V\" must hold at least %d bytes",
                           &path, NGX_IOT_AUTH_KEY_LEN);
        return NGX_CONF_ERROR;
    }

    iamcf->secret.len = n;

    return NGX_CONF_OK;
}


static char *
ngx_iot_auth_status(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_iot_auth_loc_conf_t  *iacf = conf;

    ngx_str_t                 *value;
    ngx_http_core_loc_conf_t  *clcf;

    if (iacf->status) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (cf->args->nelts == 1
        || ngx_strcmp(value[1].data, "prometheus") == 0)
    {
        iacf->status = NGX_IOT_AUTH_STATUS_PROMETHEUS;

    } else if (ngx_strcmp(value[1].data, "json") == 0) {
        iacf->status = NGX_IOT_AUTH_STATUS_JSON;

    } else {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid format \"%V\", it must be "
                           "\"prometheus\" or \"json\"", &value[1]);
        return NGX_CONF_ERROR;
    }

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_iot_auth_status_handler;

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_iot_auth_add_variables(ngx_conf_t *cf)
{
    ngx_http_variable_t  *var, *v;

    for (v = ngx_iot_auth_vars; v->name.len; v++) {
        var = ngx_http_add_variable(cf, &v->name, v->flags);
        if (var == NULL) {
            return NGX_ERROR;
        }

        var->get_handler = v->get_handler;
        var->data = v->data;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_iot_auth_init(ngx_conf_t *cf)
{
    ngx_http_handler_pt        *h;
    ngx_http_core_main_conf_t  *cmcf;

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_ACCESS_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_iot_auth_handler;

    return NGX_OK;
}


static void *
ngx_iot_auth_create_main_conf(ngx_conf_t *cf)
{
    ngx_iot_auth_main_conf_t  *iamcf;

    iamcf = ngx_pcalloc(cf->pool, sizeof(ngx_iot_auth_main_conf_t));
    if (iamcf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     iamcf->secret = { 0, NULL };
     *     iamcf->device = NULL;
     *     iamcf->token = NULL;
     */

    if (ngx_array_init(&iamcf->zones, cf->pool, 2, sizeof(ngx_shm_zone_t *))
        != NGX_OK
        || ngx_array_init(&iamcf->refs, cf->pool, 4,
                          sizeof(ngx_iot_auth_zone_ref_t))
           != NGX_OK
        || ngx_array_init(&iamcf->files, cf->pool, 2,
                          sizeof(ngx_iot_auth_file_t *))
           != NGX_OK)
    {
        return NULL;
    }

    return iamcf;
}


static char *
ngx_iot_auth_init_main_conf(ngx_conf_t *cf, void *conf)
{
    ngx_iot_auth_main_conf_t  *iamcf = conf;

    ngx_uint_t                i;
    ngx_iot_auth_zone_ref_t  *ref;

    ref = iamcf->refs.elts;

    for (i = 0; i < iamcf->refs.nelts; i++) {
        if (ref[i].shm_zone->data == NULL) {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "iot_auth zone \"%V\" is not defined by "
                          "\"iot_auth_zone\" in %V:%ui",
                          &ref[i].shm_zone->shm.name, &ref[i].file,
                          ref[i].line);
            return NGX_CONF_ERROR;
        }
    }

    iamcf->device = ngx_iot_auth_compile(cf, "$http_x_device_id");
    iamcf->token = ngx_iot_auth_compile(cf, "$http_x_device_token");

    if (iamcf->device == NULL || iamcf->token == NULL) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static ngx_http_complex_value_t *
ngx_iot_auth_compile(ngx_conf_t *cf, char *value)
{
    ngx_str_t                          v;
    ngx_http_complex_value_t          *cv;
    ngx_http_compile_complex_value_t   ccv;

    cv = ngx_palloc(cf->pool, sizeof(ngx_http_complex_value_t));
    if (cv == NULL) {
        return NULL;
    }

    v.data = (u_char *) value;
    v.len = ngx_strlen(value);

    ngx_memzero(&ccv, sizeof(ngx_http_compile_complex_value_t));

    ccv.cf = cf;
    ccv.value = &v;
    ccv.complex_value = cv;

    if (ngx_http_compile_complex_value(&ccv) != NGX_OK) {
        return NULL;
    }

    return cv;
}


/*
 * the header a value is made of when it is one $http_NAME variable
 * (NAME as nginx matches it: lowercase, '_' for '-'); none otherwise
 */

static void
ngx_iot_auth_header_name(ngx_http_complex_value_t *cv, ngx_str_t *name)
{
    u_char  *p, *last;

    ngx_str_null(name);

    p = cv->value.data;
    last = p + cv->value.len;

    if (last - p > 2 && p[0] == '$' && p[1] == '{' && last[-1] == '}') {
        p += 2;
        last--;

    } else if (last - p > 1 && p[0] == '$') {
        p++;

    } else {
        return;
    }

    if (last - p <= 5 || ngx_strncasecmp(p, (u_char *) "http_", 5) != 0) {
        return;
    }

    for (p += 5, name->data = p; p < last; p++) {
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')
              || (*p >= '0' && *p <= '9') || *p == '_'))
        {
            ngx_str_null(name);
            return;
        }
    }

    name->len = last - name->data;
}


static void *
ngx_iot_auth_create_loc_conf(ngx_conf_t *cf)
{
    ngx_iot_auth_loc_conf_t  *conf;

    conf = ngx_pcalloc(cf->pool, sizeof(ngx_iot_auth_loc_conf_t));
    if (conf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     conf->thread_pool = NULL;
     *     conf->thread_pool_name = { 0, NULL };
     *     conf->redis_key = { 0, NULL };
     *     conf->status = 0;
     */

    conf->shm_zone = NGX_CONF_UNSET_PTR;
    conf->device = NGX_CONF_UNSET_PTR;
    conf->token = NGX_CONF_UNSET_PTR;
    conf->file = NGX_CONF_UNSET_PTR;
    conf->wait_timeout = NGX_CONF_UNSET_MSEC;
    conf->max_pending = NGX_CONF_UNSET;
    conf->max_cost = NGX_CONF_UNSET_UINT;
    conf->require_perms = NGX_CONF_UNSET_UINT;
    conf->redis = NGX_CONF_UNSET;
    conf->stale_if_error = NGX_CONF_UNSET_MSEC;
    conf->lockout.failures = NGX_CONF_UNSET_UINT;

    return conf;
}


static char *
ngx_iot_auth_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_iot_auth_loc_conf_t *prev = parent;
    ngx_iot_auth_loc_conf_t *conf = child;

    ngx_iot_auth_main_conf_t  *iamcf;

    iamcf = ngx_http_conf_get_module_main_conf(cf, ngx_iot_auth_module);

    ngx_conf_merge_ptr_value(conf->shm_zone, prev->shm_zone, NULL);
    ngx_conf_merge_ptr_value(conf->device, prev->device, iamcf->device);
    ngx_conf_merge_ptr_value(conf->token, prev->token, iamcf->token);

    ngx_iot_auth_header_name(conf->device, &conf->device_header);
    ngx_iot_auth_header_name(conf->token, &conf->token_header);
    ngx_conf_merge_ptr_value(conf->file, prev->file, NULL);
    ngx_conf_merge_value(conf->redis, prev->redis, 0);
    ngx_conf_merge_str_value(conf->redis_key, prev->redis_key, "iot:device:");
    ngx_conf_merge_msec_value(conf->stale_if_error, prev->stale_if_error, 0);
    ngx_conf_merge_str_value(conf->thread_pool_name, prev->thread_pool_name,
                             "iot_auth");
    ngx_conf_merge_msec_value(conf->wait_timeout, prev->wait_timeout, 2000);
    ngx_conf_merge_value(conf->max_pending, prev->max_pending, 256);
    ngx_conf_merge_uint_value(conf->max_cost, prev->max_cost,
                              NGX_IOT_AUTH_DEFAULT_MAX_COST);
    ngx_conf_merge_uint_value(conf->require_perms, prev->require_perms, 0);

    if (conf->lockout.failures == NGX_CONF_UNSET_UINT) {
        conf->lockout = prev->lockout;

        if (conf->lockout.failures == NGX_CONF_UNSET_UINT) {
            conf->lockout.failures = 0;
        }
    }

    if (conf->shm_zone == NULL) {
        return NGX_CONF_OK;
    }

    if (conf->file == NULL && !conf->redis) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"iot_auth\" requires \"iot_auth_credentials\"");
        return NGX_CONF_ERROR;
    }

    if (conf->redis && iamcf->redis == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"iot_auth_credentials redis\" requires "
                           "\"iot_auth_redis\"");
        return NGX_CONF_ERROR;
    }

    if (conf->redis) {
        if (ngx_iot_auth_store_id("redis", &conf->redis_key, &conf->store)
            != NGX_OK)
        {
            return NGX_CONF_ERROR;
        }

        conf->version = conf->store;

    } else {
        conf->store = conf->file->store;
        conf->version = conf->file->version;
    }

    if (conf->file && conf->file->max_cost > conf->max_cost) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "bcrypt cost %ui in \"%V\" line %ui is above "
                           "\"iot_auth_max_cost\" %ui",
                           conf->file->max_cost, &conf->file->path,
                           conf->file->max_cost_line, conf->max_cost);
        return NGX_CONF_ERROR;
    }

    conf->thread_pool = ngx_thread_pool_add(cf, &conf->thread_pool_name);
    if (conf->thread_pool == NULL) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_iot_auth_init_module(ngx_cycle_t *cycle)
{
    if (ngx_iot_auth_enabled(cycle) == NULL) {
        return NGX_OK;
    }

    return ngx_iot_auth_flight_init_module(cycle);
}


static ngx_int_t
ngx_iot_auth_init_process(ngx_cycle_t *cycle)
{
    ngx_iot_auth_main_conf_t  *iamcf;

    iamcf = ngx_iot_auth_enabled(cycle);

    if (iamcf == NULL) {
        return NGX_OK;
    }

    if (ngx_iot_auth_flight_init_process(cycle) != NGX_OK) {
        return NGX_ERROR;
    }

    if (iamcf->redis) {
        return ngx_iot_auth_redis_init_process(cycle);
    }

    return NGX_OK;
}


static void
ngx_iot_auth_exit_process(ngx_cycle_t *cycle)
{
    ngx_iot_auth_main_conf_t  *iamcf;

    iamcf = ngx_iot_auth_enabled(cycle);

    if (iamcf && iamcf->redis) {
        ngx_iot_auth_redis_exit_process(cycle);
    }
}


static ngx_iot_auth_main_conf_t *
ngx_iot_auth_enabled(ngx_cycle_t *cycle)
{
    ngx_iot_auth_main_conf_t  *iamcf;

    iamcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_iot_auth_module);

    if (iamcf == NULL || iamcf->zones.nelts == 0) {
        return NULL;
    }

    return iamcf;
}
