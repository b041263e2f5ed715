
/*
 * Copyright (C) ngx_iot_auth authors
 */


/*
 * The HTTP front end: the access-phase handler that reads a request's
 * device id and token, hands them to the engine, and turns its answer
 * into a status; the variables; the directives of http{}.  Calls the
 * engine and its configuration code.
 */


#include "ngx_iot_auth_module.h"
#include "ngx_iot_auth_conf.h"


/* a request's verification: found again after an internal redirect */

typedef struct {
    ngx_http_request_t          *request;
    ngx_str_t                    device;       /* empty when not checked */
    ngx_str_t                    token;
    uint64_t                     store;        /* that decided the verdict */
    ngx_iot_auth_req_t           verify;       /* the engine's; its answer
                                                  is the verdict */
    ngx_iot_auth_result_e        result;       /* in this location: the
                                                  verdict or FORBIDDEN */
    ngx_int_t                    rc;           /* the verdict's status */
    unsigned                     pending:1;    /* the engine is at work */
    unsigned                     done:1;       /* the verdict is known */
} ngx_iot_auth_ctx_t;


static ngx_int_t ngx_iot_auth_handler(ngx_http_request_t *r);
static ngx_int_t ngx_iot_auth_check(ngx_http_request_t *r,
    ngx_iot_auth_loc_conf_t *iacf);
static ngx_int_t ngx_iot_auth_verify_request(ngx_http_request_t *r,
    ngx_iot_auth_loc_conf_t *iacf, ngx_iot_auth_ctx_t *ctx);
static void ngx_iot_auth_answered(void *data);
static ngx_int_t ngx_iot_auth_finish(ngx_http_request_t *r,
    ngx_iot_auth_ctx_t *ctx);
static ngx_int_t ngx_iot_auth_refuse(ngx_http_request_t *r,
    ngx_iot_auth_ctx_t *ctx, ngx_iot_auth_result_e result, ngx_int_t rc);
static ngx_int_t ngx_iot_auth_status_code(ngx_iot_auth_answer_t *answer);
static ngx_int_t ngx_iot_auth_verdict(ngx_http_request_t *r,
    ngx_iot_auth_ctx_t *ctx, ngx_iot_auth_loc_conf_t *iacf);
static ngx_int_t ngx_iot_auth_perms(ngx_iot_auth_ctx_t *ctx,
    ngx_iot_auth_loc_conf_t *iacf);
static ngx_int_t ngx_iot_auth_certified(ngx_http_request_t *r,
    ngx_iot_auth_loc_conf_t *iacf, ngx_str_t *device);
static ngx_iot_auth_ctx_t *ngx_iot_auth_get_ctx(ngx_http_request_t *r);
static ngx_iot_auth_ctx_t *ngx_iot_auth_create_ctx(ngx_http_request_t *r);
static void ngx_iot_auth_cleanup(void *data);
static ngx_int_t ngx_iot_auth_read_credentials(ngx_http_request_t *r,
    ngx_iot_auth_loc_conf_t *iacf, ngx_iot_auth_ctx_t *ctx);
static ngx_int_t ngx_iot_auth_basic_credentials(ngx_http_request_t *r,
    ngx_iot_auth_loc_conf_t *iacf, ngx_iot_auth_ctx_t *ctx);
static ngx_int_t ngx_iot_auth_realm(ngx_http_request_t *r,
    ngx_iot_auth_loc_conf_t *iacf, ngx_str_t *realm);
static ngx_int_t ngx_iot_auth_challenge(ngx_http_request_t *r,
    ngx_iot_auth_loc_conf_t *iacf);
static ngx_uint_t ngx_iot_auth_scan_headers(ngx_http_request_t *r,
    ngx_iot_auth_loc_conf_t *iacf, ngx_iot_auth_ctx_t *ctx);
static ngx_inline ngx_uint_t ngx_iot_auth_header_is(ngx_table_elt_t *h,
    ngx_str_t *name);
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
static char *ngx_iot_auth_redis(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_iot_auth_require_perms(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_iot_auth_ssl_client_name(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_iot_auth_lockout(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_iot_auth_secret_file(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_iot_auth_bcrypt_priority(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_iot_auth_status(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static ngx_http_complex_value_t *ngx_iot_auth_compile(ngx_conf_t *cf,
    char *value);
static ngx_int_t ngx_iot_auth_header_name(ngx_conf_t *cf,
    ngx_http_complex_value_t *cv, ngx_str_t *name);

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
static ngx_iot_auth_main_t *ngx_iot_auth_main(ngx_cycle_t *cycle);


static ngx_conf_enum_t  ngx_iot_auth_ssl_client_names[] = {
    { ngx_string("off"), NGX_IOT_AUTH_CERT_OFF },
    { ngx_string("cn"), NGX_IOT_AUTH_CERT_CN },
    { ngx_string("san_dns"), NGX_IOT_AUTH_CERT_SAN_DNS },
    { ngx_string("san_uri"), NGX_IOT_AUTH_CERT_SAN_URI },
    { ngx_null_string, 0 }
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

    { ngx_string("iot_auth_basic"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_set_complex_value_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_iot_auth_loc_conf_t, basic),
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
      offsetof(ngx_iot_auth_loc_conf_t, engine.redis_key),
      NULL },

    { ngx_string("iot_auth_stale_if_error"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_iot_auth_loc_conf_t, engine.stale_if_error),
      NULL },

    { ngx_string("iot_auth_thread_pool"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_iot_auth_loc_conf_t, engine.thread_pool_name),
      NULL },

    { ngx_string("iot_auth_wait_timeout"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_iot_auth_loc_conf_t, engine.wait_timeout),
      NULL },

    { ngx_string("iot_auth_max_pending"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_iot_auth_loc_conf_t, engine.max_pending),
      &ngx_iot_auth_max_pending_bounds },

    { ngx_string("iot_auth_max_cost"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_iot_auth_loc_conf_t, engine.max_cost),
      &ngx_iot_auth_max_cost_bounds },

    { ngx_string("iot_auth_require_perms"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_iot_auth_require_perms,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("iot_auth_ssl_client_name"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_iot_auth_ssl_client_name,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_iot_auth_loc_conf_t, ssl_client_name),
      &ngx_iot_auth_ssl_client_names },

    { ngx_string("iot_auth_lockout"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE13,
      ngx_iot_auth_lockout,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("iot_auth_fleet"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_iot_auth_main_conf_t, engine.fleet),
      NULL },

    { ngx_string("iot_auth_secret_file"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_iot_auth_secret_file,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("iot_auth_bcrypt_priority"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_iot_auth_bcrypt_priority,
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


static ngx_int_t
ngx_iot_auth_handler(ngx_http_request_t *r)
{
    ngx_int_t                 rc;
    ngx_iot_auth_loc_conf_t  *iacf;

    iacf = ngx_http_get_module_loc_conf(r, ngx_iot_auth_module);

    if (iacf->engine.shm_zone == NULL) {
        return NGX_DECLINED;
    }

    rc = ngx_iot_auth_check(r, iacf);

    if (rc == NGX_HTTP_UNAUTHORIZED && iacf->basic) {
        return ngx_iot_auth_challenge(r, iacf);
    }

    return rc;
}


static ngx_int_t
ngx_iot_auth_check(ngx_http_request_t *r, ngx_iot_auth_loc_conf_t *iacf)
{
    ngx_iot_auth_ctx_t  *ctx;

    ctx = ngx_iot_auth_get_ctx(r);

    if (ctx && ctx->pending) {
        return NGX_AGAIN;
    }

    if (ctx && ctx->store == iacf->engine.store.id) {
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

    ctx->store = iacf->engine.store.id;

    return ngx_iot_auth_verify_request(r, iacf, ctx);
}


static ngx_int_t
ngx_iot_auth_verify_request(ngx_http_request_t *r,
    ngx_iot_auth_loc_conf_t *iacf, ngx_iot_auth_ctx_t *ctx)
{
    ngx_int_t  rc;

    rc = ngx_iot_auth_read_credentials(r, iacf, ctx);

    if (rc != NGX_OK) {
        return rc;
    }

    /* before the token, so that another device's certificate costs no bcrypt */

    rc = ngx_iot_auth_certified(r, iacf, &ctx->device);

    if (rc == NGX_ERROR) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (rc == NGX_DECLINED) {
        return ngx_iot_auth_refuse(r, ctx, NGX_IOT_AUTH_FORBIDDEN,
                                   NGX_HTTP_FORBIDDEN);
    }

    rc = ngx_iot_auth_verify(&ctx->verify, &iacf->engine, &ctx->device,
                             &ctx->token, r->connection->log,
                             ngx_iot_auth_answered, ctx);

    if (rc == NGX_OK) {
        return ngx_iot_auth_finish(r, ctx);
    }

    /* kept alive by r->main->blocked until the engine answers */

    r->main->blocked++;
    ctx->pending = 1;

    return NGX_AGAIN;
}


/* the engine's answer comes from the event loop: the request resumes */

static void
ngx_iot_auth_answered(void *data)
{
    ngx_iot_auth_ctx_t  *ctx = data;

    ngx_connection_t    *c;
    ngx_http_request_t  *r;

    r = ctx->request;
    c = r->connection;

    ngx_http_set_log_request(c->log, r);

    ctx->pending = 0;
    r->main->blocked--;

    (void) ngx_iot_auth_finish(r, ctx);

    r->write_event_handler(r);
    ngx_http_run_posted_requests(c);
}


/* records the verdict of a request: counted once, logged with the device */

static ngx_int_t
ngx_iot_auth_finish(ngx_http_request_t *r, ngx_iot_auth_ctx_t *ctx)
{
    ngx_int_t                 rc;
    ngx_iot_auth_loc_conf_t  *iacf;

    iacf = ngx_http_get_module_loc_conf(r, ngx_iot_auth_module);

    ctx->done = 1;
    ctx->rc = ngx_iot_auth_status_code(&ctx->verify.answer);
    ctx->result = ctx->verify.answer.result;

    rc = (ctx->rc == NGX_OK) ? ngx_iot_auth_perms(ctx, iacf) : ctx->rc;

    ngx_iot_auth_account(&iacf->engine, r->connection->log, &ctx->device,
                         ctx->result);

    if (rc == NGX_HTTP_SERVICE_UNAVAILABLE
        && ngx_iot_auth_retry_after(r) != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return rc;
}


/*
 * refused before the engine was asked, and logged: missing or malformed
 * input, or a client certificate that does not name the device
 */

static ngx_int_t
ngx_iot_auth_refuse(ngx_http_request_t *r, ngx_iot_auth_ctx_t *ctx,
    ngx_iot_auth_result_e result, ngx_int_t rc)
{
    ngx_iot_auth_loc_conf_t  *iacf;

    iacf = ngx_http_get_module_loc_conf(r, ngx_iot_auth_module);

    ctx->done = 1;
    ctx->rc = rc;
    ctx->result = result;
    ctx->verify.answer.result = result;

    ngx_iot_auth_count(&iacf->engine, result);

    return rc;
}


static ngx_int_t
ngx_iot_auth_status_code(ngx_iot_auth_answer_t *answer)
{
    switch (answer->result) {

    case NGX_IOT_AUTH_NEGATIVE:
    case NGX_IOT_AUTH_DENIED:
    case NGX_IOT_AUTH_UNKNOWN:
        return NGX_HTTP_UNAUTHORIZED;

    case NGX_IOT_AUTH_LOCKED:
        return NGX_HTTP_TOO_MANY_REQUESTS;

    case NGX_IOT_AUTH_BUSY:
        return NGX_HTTP_SERVICE_UNAVAILABLE;

    case NGX_IOT_AUTH_ERROR:
        return answer->retry ? NGX_HTTP_SERVICE_UNAVAILABLE
                             : NGX_HTTP_INTERNAL_SERVER_ERROR;

    default:
        return NGX_OK;
    }
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

    rc = ngx_iot_auth_certified(r, iacf, &ctx->device);

    if (rc == NGX_ERROR) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (rc == NGX_DECLINED) {
        ctx->result = NGX_IOT_AUTH_FORBIDDEN;
        return NGX_HTTP_FORBIDDEN;
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
    if ((ctx->verify.answer.perms & iacf->require_perms)
        != iacf->require_perms)
    {
        ctx->result = NGX_IOT_AUTH_FORBIDDEN;
        return NGX_HTTP_FORBIDDEN;
    }

    ctx->result = ctx->verify.answer.result;

    return NGX_OK;
}


/*
 * with iot_auth_ssl_client_name, NGX_OK when the client certificate names
 * the device, NGX_DECLINED (logged) when it does not
 */

static ngx_int_t
ngx_iot_auth_certified(ngx_http_request_t *r, ngx_iot_auth_loc_conf_t *iacf,
    ngx_str_t *device)
{
#if (NGX_HTTP_SSL)

    if (iacf->ssl_client_name != NGX_IOT_AUTH_CERT_OFF) {
        return ngx_iot_auth_cert_names(r->connection, r->pool,
                                       iacf->ssl_client_name, device);
    }

#endif

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
    ngx_int_t   rc;
    ngx_uint_t  twice;

    twice = ngx_iot_auth_scan_headers(r, iacf, ctx);

    if ((iacf->device_header.len == 0 || iacf->token_header.len == 0)
        && (ngx_http_complex_value(r, iacf->device, &ctx->device) != NGX_OK
            || ngx_http_complex_value(r, iacf->token, &ctx->token)
               != NGX_OK))
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (twice) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "iot_auth: device id or token header sent twice");
        ctx->device.len = 0;
        return ngx_iot_auth_refuse(r, ctx, NGX_IOT_AUTH_DENIED,
                                   NGX_HTTP_BAD_REQUEST);
    }

    rc = NGX_DECLINED;

    if (ctx->device.len == 0 && ctx->token.len == 0
        && r->headers_in.authorization != NULL)
    {
        rc = ngx_iot_auth_basic_credentials(r, iacf, ctx);

        if (rc == NGX_ERROR) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    if (ctx->device.len == 0 || ctx->token.len == 0) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "iot_auth: no device id or token%s",
                      rc == NGX_ABORT ? ", nor valid Basic credentials" : "");
        ctx->device.len = 0;
        return ngx_iot_auth_refuse(r, ctx, NGX_IOT_AUTH_DENIED,
                                   NGX_HTTP_UNAUTHORIZED);
    }

    if (!ngx_iot_auth_record_valid_id(ctx->device.data, ctx->device.len)) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "iot_auth: malformed device id of %uz bytes",
                      ctx->device.len);
        ctx->device.len = 0;
        return ngx_iot_auth_refuse(r, ctx, NGX_IOT_AUTH_DENIED,
                                   NGX_HTTP_BAD_REQUEST);
    }

    if (!ngx_iot_auth_record_valid_token(ctx->token.data, ctx->token.len)) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "iot_auth: device \"%V\" sent a malformed token "
                      "of %uz bytes", &ctx->device, ctx->token.len);
        return ngx_iot_auth_refuse(r, ctx, NGX_IOT_AUTH_DENIED,
                                   NGX_HTTP_BAD_REQUEST);
    }

    return NGX_OK;
}


/*
 * with iot_auth_basic on, a request that sends neither a device id nor a
 * token may send them as the user and password of "Authorization: Basic":
 * NGX_OK when it did, NGX_ABORT when the header holds no such pair (not
 * Basic, bad base64, no ':', an empty user), NGX_DECLINED when
 * iot_auth_basic is off here
 */

static ngx_int_t
ngx_iot_auth_basic_credentials(ngx_http_request_t *r,
    ngx_iot_auth_loc_conf_t *iacf, ngx_iot_auth_ctx_t *ctx)
{
    ngx_int_t  rc;
    ngx_str_t  realm;

    rc = ngx_iot_auth_realm(r, iacf, &realm);

    if (rc != NGX_OK) {
        return rc;
    }

    rc = ngx_http_auth_basic_user(r);

    if (rc == NGX_DECLINED) {
        return NGX_ABORT;
    }

    if (rc != NGX_OK) {
        return NGX_ERROR;
    }

    ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "iot auth: credentials from basic authorization");

    ctx->device = r->headers_in.user;
    ctx->token = r->headers_in.passwd;

    return NGX_OK;
}


/* NGX_OK with the realm of iot_auth_basic, NGX_DECLINED when it is off */

static ngx_int_t
ngx_iot_auth_realm(ngx_http_request_t *r, ngx_iot_auth_loc_conf_t *iacf,
    ngx_str_t *realm)
{
    if (iacf->basic == NULL) {
        return NGX_DECLINED;
    }

    if (ngx_http_complex_value(r, iacf->basic, realm) != NGX_OK) {
        return NGX_ERROR;
    }

    if (realm->len == 3 && ngx_strncmp(realm->data, "off", 3) == 0) {
        return NGX_DECLINED;
    }

    return NGX_OK;
}


/*
 * every 401 of a location with iot_auth_basic asks for Basic credentials;
 * one challenge only: it replaces one that an earlier access check (or an
 * earlier pass of this request) set
 */

static ngx_int_t
ngx_iot_auth_challenge(ngx_http_request_t *r, ngx_iot_auth_loc_conf_t *iacf)
{
    size_t            len;
    u_char           *p;
    ngx_int_t         rc;
    ngx_str_t         realm;
    ngx_uint_t        i;
    ngx_table_elt_t  *h;

    rc = ngx_iot_auth_realm(r, iacf, &realm);

    if (rc == NGX_DECLINED) {
        return NGX_HTTP_UNAUTHORIZED;
    }

    if (rc == NGX_ERROR) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    h = r->headers_out.www_authenticate;

    if (h == NULL) {
        h = ngx_list_push(&r->headers_out.headers);
        if (h == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        r->headers_out.www_authenticate = h;
    }

    /* a quoted string: quotes and backslashes in the realm are escaped */

    len = sizeof("Basic realm=\"\"") - 1 + 2 * realm.len;

    p = ngx_pnalloc(r->pool, len);
    if (p == NULL) {
        h->hash = 0;
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    h->hash = 1;
    ngx_str_set(&h->key, "WWW-Authenticate");
    h->value.data = p;

    p = ngx_cpymem(p, "Basic realm=\"", sizeof("Basic realm=\"") - 1);

    for (i = 0; i < realm.len; i++) {
        if (realm.data[i] == '"' || realm.data[i] == '\\') {
            *p++ = '\\';
        }

        *p++ = realm.data[i];
    }

    *p++ = '"';

    h->value.len = p - h->value.data;

    return NGX_HTTP_UNAUTHORIZED;
}


/*
 * one pass over the request headers finds the values of the device id
 * and token that are lone $http_ variables (as by default), and whether
 * either header came twice: nginx 1.22's variable would take the first
 * one only, while the upstream sees both
 */

static ngx_uint_t
ngx_iot_auth_scan_headers(ngx_http_request_t *r,
    ngx_iot_auth_loc_conf_t *iacf, ngx_iot_auth_ctx_t *ctx)
{
    ngx_uint_t        i, devices, tokens;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    devices = 0;
    tokens = 0;

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

        if (ngx_iot_auth_header_is(&h[i], &iacf->device_header)
            && devices++ == 0)
        {
            ctx->device = h[i].value;
        }

        if (ngx_iot_auth_header_is(&h[i], &iacf->token_header)
            && tokens++ == 0)
        {
            ctx->token = h[i].value;
        }
    }

    return devices > 1 || tokens > 1;
}


/*
 * whether a request header is the one a $http_NAME variable reads:
 * NAME is lowercase with '_' for '-'; a header cleared by nginx (hash
 * 0) is none
 */

static ngx_inline ngx_uint_t
ngx_iot_auth_header_is(ngx_table_elt_t *h, ngx_str_t *name)
{
    u_char  c;
    size_t  n;

    if (name->len == 0 || h->key.len != name->len || h->hash == 0) {
        return 0;
    }

    for (n = 0; n < name->len; n++) {
        c = ngx_tolower(h->key.data[n]);

        if ((c == '-' ? '_' : c) != name->data[n]) {
            return 0;
        }
    }

    return 1;
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

    v->len = ngx_sprintf(p, "%uD", ctx->verify.answer.perms) - p;
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

    return ngx_iot_auth_conf_zone(cf, cmd, &iamcf->engine);
}


static char *
ngx_iot_auth(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_iot_auth_loc_conf_t  *iacf = conf;

    ngx_iot_auth_main_conf_t  *iamcf;

    iamcf = ngx_http_conf_get_module_main_conf(cf, ngx_iot_auth_module);

    return ngx_iot_auth_conf_use(cf, &iamcf->engine, &iacf->engine);
}


static char *
ngx_iot_auth_credentials(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_iot_auth_loc_conf_t  *iacf = conf;

    ngx_iot_auth_main_conf_t  *iamcf;

    iamcf = ngx_http_conf_get_module_main_conf(cf, ngx_iot_auth_module);

    return ngx_iot_auth_conf_credentials(cf, &iamcf->engine, &iacf->engine);
}


static char *
ngx_iot_auth_redis(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_iot_auth_main_conf_t  *iamcf = conf;

    return ngx_iot_auth_conf_redis(cf, &iamcf->engine);
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
ngx_iot_auth_ssl_client_name(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
#if (NGX_HTTP_SSL)

    return ngx_conf_set_enum_slot(cf, cmd, conf);

#else

    ngx_str_t  *value;

    value = cf->args->elts;

    if (ngx_strcmp(value[1].data, "off") == 0) {
        return ngx_conf_set_enum_slot(cf, cmd, conf);
    }

    return "requires ngx_http_ssl_module";

#endif
}


static char *
ngx_iot_auth_lockout(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_iot_auth_loc_conf_t  *iacf = conf;

    return ngx_iot_auth_conf_lockout(cf, cmd, &iacf->engine);
}


static char *
ngx_iot_auth_secret_file(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_iot_auth_main_conf_t  *iamcf = conf;

    return ngx_iot_auth_conf_secret_file(cf, &iamcf->engine);
}


static char *
ngx_iot_auth_bcrypt_priority(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_iot_auth_main_conf_t  *iamcf = conf;

    return ngx_iot_auth_conf_priority(cf, &iamcf->engine);
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


/*
 * nginx runs a phase's handlers from the last registered to the first,
 * and a loaded module registers after the built-in ones: pushed, this
 * handler would run before allow/deny, auth_basic and auth_request.  It
 * goes first in the array instead, so that it runs after them: an
 * address they refuse costs no bcrypt, and with "satisfy any" a request
 * they allow is not asked for device credentials
 */

static ngx_int_t
ngx_iot_auth_init(ngx_conf_t *cf)
{
    ngx_array_t                *handlers;
    ngx_http_handler_pt        *h;
    ngx_http_core_main_conf_t  *cmcf;

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    handlers = &cmcf->phases[NGX_HTTP_ACCESS_PHASE].handlers;

    if (ngx_array_push(handlers) == NULL) {
        return NGX_ERROR;
    }

    h = handlers->elts;

    ngx_memmove(&h[1], &h[0],
                (handlers->nelts - 1) * sizeof(ngx_http_handler_pt));

    h[0] = ngx_iot_auth_handler;

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
     *     iamcf->engine.secret = { 0, NULL };
     *     iamcf->engine.redis = NULL;
     *     iamcf->device = NULL;
     *     iamcf->token = NULL;
     */

    if (ngx_iot_auth_conf_init_main(cf, &iamcf->engine, &ngx_iot_auth_module)
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

    if (ngx_iot_auth_conf_check_main(cf, &iamcf->engine) != NGX_CONF_OK) {
        return NGX_CONF_ERROR;
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

static ngx_int_t
ngx_iot_auth_header_name(ngx_conf_t *cf, ngx_http_complex_value_t *cv,
    ngx_str_t *name)
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
        return NGX_OK;
    }

    if (last - p <= 5 || ngx_strncasecmp(p, (u_char *) "http_", 5) != 0) {
        return NGX_OK;
    }

    for (p += 5, name->data = p; p < last; p++) {
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')
              || (*p >= '0' && *p <= '9') || *p == '_'))
        {
            ngx_str_null(name);
            return NGX_OK;
        }
    }

    name->len = last - name->data;

    /* variable names are not case-sensitive */

    p = ngx_pnalloc(cf->pool, name->len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    ngx_strlow(p, name->data, name->len);
    name->data = p;

    return NGX_OK;
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
     *     conf->device_header = { 0, NULL };
     *     conf->token_header = { 0, NULL };
     *     conf->status = 0;
     */

    ngx_iot_auth_conf_create(&conf->engine);

    conf->device = NGX_CONF_UNSET_PTR;
    conf->token = NGX_CONF_UNSET_PTR;
    conf->basic = NGX_CONF_UNSET_PTR;
    conf->ssl_client_name = NGX_CONF_UNSET_UINT;
    conf->require_perms = NGX_CONF_UNSET_UINT;

    return conf;
}


static char *
ngx_iot_auth_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_iot_auth_loc_conf_t *prev = parent;
    ngx_iot_auth_loc_conf_t *conf = child;

    ngx_iot_auth_main_conf_t  *iamcf;

    iamcf = ngx_http_conf_get_module_main_conf(cf, ngx_iot_auth_module);

    ngx_conf_merge_ptr_value(conf->device, prev->device, iamcf->device);
    ngx_conf_merge_ptr_value(conf->token, prev->token, iamcf->token);
    ngx_conf_merge_ptr_value(conf->basic, prev->basic, NULL);
    ngx_conf_merge_uint_value(conf->require_perms, prev->require_perms, 0);
    ngx_conf_merge_uint_value(conf->ssl_client_name, prev->ssl_client_name,
                              NGX_IOT_AUTH_CERT_OFF);

    if (ngx_iot_auth_header_name(cf, conf->device, &conf->device_header)
        != NGX_OK
        || ngx_iot_auth_header_name(cf, conf->token, &conf->token_header)
           != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    return ngx_iot_auth_conf_merge(cf, &iamcf->engine, &conf->engine,
                                   &prev->engine);
}


static ngx_int_t
ngx_iot_auth_init_module(ngx_cycle_t *cycle)
{
    return ngx_iot_auth_engine_init_module(cycle, ngx_iot_auth_main(cycle));
}


static ngx_int_t
ngx_iot_auth_init_process(ngx_cycle_t *cycle)
{
    return ngx_iot_auth_engine_init_process(cycle, ngx_iot_auth_main(cycle));
}


static void
ngx_iot_auth_exit_process(ngx_cycle_t *cycle)
{
    ngx_iot_auth_engine_exit_process(cycle, ngx_iot_auth_main(cycle));
}


static ngx_iot_auth_main_t *
ngx_iot_auth_main(ngx_cycle_t *cycle)
{
    ngx_iot_auth_main_conf_t  *iamcf;

    iamcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_iot_auth_module);

    return iamcf ? &iamcf->engine : NULL;
}
