
/*
 * Copyright (C) ngx_iot_auth authors
 */


/*
 * The MQTT front end, ngx_stream_iot_auth_module: a preread-phase
 * handler of nginx's stream{} that reads a connection's MQTT CONNECT
 * (ngx_iot_auth_mqtt.h), hands its user name (or client id) and
 * password to the engine, and then either lets the session go on to
 * proxy_pass, which sends the CONNECT to the broker unchanged, or
 * answers with a refusing CONNACK and closes; the variables; the
 * directives of stream{}.  Calls the engine, its configuration code and
 * the MQTT packet code.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_stream.h>

#include "ngx_iot_auth_engine.h"
#include "ngx_iot_auth_conf.h"
#include "ngx_iot_auth_mqtt.h"


#define NGX_IOT_AUTH_STREAM_USERNAME      0
#define NGX_IOT_AUTH_STREAM_CLIENT_ID     1

#define NGX_IOT_AUTH_STREAM_MAX_CONNECT   4096

/* how long a refused client may take to accept its CONNACK */
#define NGX_IOT_AUTH_STREAM_SEND_TIMEOUT  5000


typedef struct {
    ngx_iot_auth_conf_t          engine;
    ngx_uint_t                   device;       /* iot_auth_mqtt_device */
    size_t                       max_connect;  /* iot_auth_mqtt_max_connect */
} ngx_iot_auth_stream_srv_conf_t;


typedef enum {
    NGX_IOT_AUTH_STREAM_VERIFYING = 0,         /* the engine is at work */
    NGX_IOT_AUTH_STREAM_ANSWERED,              /* it answered: decide */
    NGX_IOT_AUTH_STREAM_ALLOWED,               /* on to proxy_pass */
    NGX_IOT_AUTH_STREAM_CLOSING                /* refused (a CONNACK goes
                                                  out first) or gone */
} ngx_iot_auth_stream_state_e;


/* a connection's verification, from its complete CONNECT on */

typedef struct {
    ngx_stream_session_t        *session;
    ngx_iot_auth_stream_state_e  state;
    ngx_str_t                    device;       /* empty when not checked */
    ngx_str_t                    token;        /* both in c->buffer */
    ngx_iot_auth_req_t           verify;       /* the engine's */
    ngx_iot_auth_result_e        result;       /* ALLOWED or CLOSING */
    ngx_uint_t                   level;        /* of the CONNECT */
    ngx_uint_t                   status;       /* of a refusal, for $status */
    size_t                       sent;         /* of the CONNACK */
    size_t                       len;
    u_char                       connack[NGX_IOT_AUTH_MQTT_CONNACK_LEN];
} ngx_iot_auth_stream_ctx_t;


static ngx_int_t ngx_iot_auth_stream_handler(ngx_stream_session_t *s);
static ngx_int_t ngx_iot_auth_stream_resume(ngx_stream_session_t *s,
    ngx_iot_auth_stream_ctx_t *ctx);
static ngx_uint_t ngx_iot_auth_stream_gone(ngx_connection_t *c);
static ngx_int_t ngx_iot_auth_stream_connect(ngx_stream_session_t *s,
    ngx_iot_auth_stream_srv_conf_t *iscf, ngx_iot_auth_mqtt_connect_t *conn);
static ngx_int_t ngx_iot_auth_stream_credentials(ngx_stream_session_t *s,
    ngx_iot_auth_stream_srv_conf_t *iscf, ngx_iot_auth_stream_ctx_t *ctx,
    ngx_iot_auth_mqtt_connect_t *conn);
static void ngx_iot_auth_stream_answered(void *data);
static ngx_int_t ngx_iot_auth_stream_decide(ngx_stream_session_t *s,
    ngx_iot_auth_stream_ctx_t *ctx);
static ngx_int_t ngx_iot_auth_stream_refuse(ngx_stream_session_t *s,
    ngx_iot_auth_stream_ctx_t *ctx, ngx_iot_auth_result_e result);
static ngx_int_t ngx_iot_auth_stream_send(ngx_stream_session_t *s,
    ngx_iot_auth_stream_ctx_t *ctx);
static void ngx_iot_auth_stream_send_handler(ngx_event_t *wev);

static ngx_int_t ngx_iot_auth_stream_device_variable(ngx_stream_session_t *s,
    ngx_stream_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_iot_auth_stream_perms_variable(ngx_stream_session_t *s,
    ngx_stream_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_iot_auth_stream_result_variable(ngx_stream_session_t *s,
    ngx_stream_variable_value_t *v, uintptr_t data);

static char *ngx_iot_auth_stream_zone(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_iot_auth_stream(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_iot_auth_stream_credentials_slot(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_iot_auth_stream_redis(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_iot_auth_stream_lockout(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_iot_auth_stream_secret_file(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);

static ngx_int_t ngx_iot_auth_stream_add_variables(ngx_conf_t *cf);
static ngx_int_t ngx_iot_auth_stream_init(ngx_conf_t *cf);
static void *ngx_iot_auth_stream_create_main_conf(ngx_conf_t *cf);
static char *ngx_iot_auth_stream_init_main_conf(ngx_conf_t *cf, void *conf);
static void *ngx_iot_auth_stream_create_srv_conf(ngx_conf_t *cf);
static char *ngx_iot_auth_stream_merge_srv_conf(ngx_conf_t *cf, void *parent,
    void *child);
static ngx_int_t ngx_iot_auth_stream_init_module(ngx_cycle_t *cycle);
static ngx_int_t ngx_iot_auth_stream_init_process(ngx_cycle_t *cycle);
static void ngx_iot_auth_stream_exit_process(ngx_cycle_t *cycle);
static ngx_iot_auth_main_t *ngx_iot_auth_stream_main(ngx_cycle_t *cycle);


static ngx_conf_enum_t  ngx_iot_auth_stream_devices[] = {
    { ngx_string("username"), NGX_IOT_AUTH_STREAM_USERNAME },
    { ngx_string("client_id"), NGX_IOT_AUTH_STREAM_CLIENT_ID },
    { ngx_null_string, 0 }
};


static ngx_command_t  ngx_iot_auth_stream_commands[] = {

    { ngx_string("iot_auth_zone"),
      NGX_STREAM_MAIN_CONF|NGX_CONF_1MORE,
      ngx_iot_auth_stream_zone,
      NGX_STREAM_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("iot_auth"),
      NGX_STREAM_MAIN_CONF|NGX_STREAM_SRV_CONF|NGX_CONF_TAKE1,
      ngx_iot_auth_stream,
      NGX_STREAM_SRV_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("iot_auth_credentials"),
      NGX_STREAM_MAIN_CONF|NGX_STREAM_SRV_CONF|NGX_CONF_TAKE1,
      ngx_iot_auth_stream_credentials_slot,
      NGX_STREAM_SRV_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("iot_auth_redis"),
      NGX_STREAM_MAIN_CONF|NGX_CONF_1MORE,
      ngx_iot_auth_stream_redis,
      NGX_STREAM_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("iot_auth_redis_key"),
      NGX_STREAM_MAIN_CONF|NGX_STREAM_SRV_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_STREAM_SRV_CONF_OFFSET,
      offsetof(ngx_iot_auth_stream_srv_conf_t, engine.redis_key),
      NULL },

    { ngx_string("iot_auth_stale_if_error"),
      NGX_STREAM_MAIN_CONF|NGX_STREAM_SRV_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_STREAM_SRV_CONF_OFFSET,
      offsetof(ngx_iot_auth_stream_srv_conf_t, engine.stale_if_error),
      NULL },

    { ngx_string("iot_auth_thread_pool"),
      NGX_STREAM_MAIN_CONF|NGX_STREAM_SRV_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_STREAM_SRV_CONF_OFFSET,
      offsetof(ngx_iot_auth_stream_srv_conf_t, engine.thread_pool_name),
      NULL },

    { ngx_string("iot_auth_wait_timeout"),
      NGX_STREAM_MAIN_CONF|NGX_STREAM_SRV_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_STREAM_SRV_CONF_OFFSET,
      offsetof(ngx_iot_auth_stream_srv_conf_t, engine.wait_timeout),
      NULL },

    { ngx_string("iot_auth_max_pending"),
      NGX_STREAM_MAIN_CONF|NGX_STREAM_SRV_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_STREAM_SRV_CONF_OFFSET,
      offsetof(ngx_iot_auth_stream_srv_conf_t, engine.max_pending),
      &ngx_iot_auth_max_pending_bounds },

    { ngx_string("iot_auth_max_cost"),
      NGX_STREAM_MAIN_CONF|NGX_STREAM_SRV_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_STREAM_SRV_CONF_OFFSET,
      offsetof(ngx_iot_auth_stream_srv_conf_t, engine.max_cost),
      &ngx_iot_auth_max_cost_bounds },

    { ngx_string("iot_auth_lockout"),
      NGX_STREAM_MAIN_CONF|NGX_STREAM_SRV_CONF|NGX_CONF_TAKE13,
      ngx_iot_auth_stream_lockout,
      NGX_STREAM_SRV_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("iot_auth_secret_file"),
      NGX_STREAM_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_iot_auth_stream_secret_file,
      NGX_STREAM_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("iot_auth_mqtt_device"),
      NGX_STREAM_MAIN_CONF|NGX_STREAM_SRV_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_enum_slot,
      NGX_STREAM_SRV_CONF_OFFSET,
      offsetof(ngx_iot_auth_stream_srv_conf_t, device),
      &ngx_iot_auth_stream_devices },

    { ngx_string("iot_auth_mqtt_max_connect"),
      NGX_STREAM_MAIN_CONF|NGX_STREAM_SRV_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_STREAM_SRV_CONF_OFFSET,
      offsetof(ngx_iot_auth_stream_srv_conf_t, max_connect),
      NULL },

      ngx_null_command
};


static ngx_stream_module_t  ngx_iot_auth_stream_module_ctx = {
    ngx_iot_auth_stream_add_variables,     /* preconfiguration */
    ngx_iot_auth_stream_init,              /* postconfiguration */

    ngx_iot_auth_stream_create_main_conf,  /* create main configuration */
    ngx_iot_auth_stream_init_main_conf,    /* init main configuration */

    ngx_iot_auth_stream_create_srv_conf,   /* create server configuration */
    ngx_iot_auth_stream_merge_srv_conf     /* merge server configuration */
};


ngx_module_t  ngx_stream_iot_auth_module = {
    NGX_MODULE_V1,
    &ngx_iot_auth_stream_module_ctx,       /* module context */
    ngx_iot_auth_stream_commands,          /* module directives */
    NGX_STREAM_MODULE,                     /* module type */
    NULL,                                  /* init master */
    ngx_iot_auth_stream_init_module,       /* init module */
    ngx_iot_auth_stream_init_process,      /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    ngx_iot_auth_stream_exit_process,      /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


static ngx_stream_variable_t  ngx_iot_auth_stream_vars[] = {

    { ngx_string("iot_auth_device"), NULL,
      ngx_iot_auth_stream_device_variable, 0, NGX_STREAM_VAR_NOCACHEABLE, 0 },

    { ngx_string("iot_auth_perms"), NULL,
      ngx_iot_auth_stream_perms_variable, 0, NGX_STREAM_VAR_NOCACHEABLE, 0 },

    { ngx_string("iot_auth_result"), NULL,
      ngx_iot_auth_stream_result_variable, 0, NGX_STREAM_VAR_NOCACHEABLE, 0 },

      ngx_stream_null_variable
};


/*
 * The preread phase calls the handler again each time bytes arrive, until
 * it returns something else than NGX_AGAIN (the phase reads no further
 * than preread_buffer_size, for no longer than preread_timeout, and
 * closes the connection on either, or when the client closes).  Once the
 * CONNECT is complete the handler returns NGX_DONE while the engine works:
 * the phase engine stops, the preread timer is gone, and the session
 * lives on until ngx_iot_auth_stream_answered() runs the phases again.
 */

static ngx_int_t
ngx_iot_auth_stream_handler(ngx_stream_session_t *s)
{
    ngx_int_t                        rc;
    ngx_connection_t                *c;
    ngx_iot_auth_stream_ctx_t       *ctx;
    ngx_iot_auth_mqtt_connect_t      conn;
    ngx_iot_auth_stream_srv_conf_t  *iscf;

    iscf = ngx_stream_get_module_srv_conf(s, ngx_stream_iot_auth_module);

    if (iscf->engine.shm_zone == NULL) {
        return NGX_DECLINED;
    }

    ctx = ngx_stream_get_module_ctx(s, ngx_stream_iot_auth_module);

    if (ctx) {
        return ngx_iot_auth_stream_resume(s, ctx);
    }

    c = s->connection;

    if (c->type != SOCK_STREAM) {
        ngx_log_error(NGX_LOG_ERR, c->log, 0,
                      "iot_auth: MQTT is read over TCP only");
        return NGX_STREAM_BAD_REQUEST;
    }

    if (c->buffer == NULL) {
        return NGX_AGAIN;
    }

    rc = ngx_iot_auth_mqtt_parse_connect(c->buffer->pos,
                                         c->buffer->last - c->buffer->pos,
                                         iscf->max_connect, &conn);

    if (rc == NGX_AGAIN) {
        return NGX_AGAIN;
    }

    if (rc == NGX_ERROR) {
        ngx_log_error(NGX_LOG_INFO, c->log, 0,
                      "iot_auth: closing a connection that sent no valid "
                      "MQTT CONNECT: %s", conn.reason);
        return NGX_STREAM_BAD_REQUEST;
    }

    return ngx_iot_auth_stream_connect(s, iscf, &conn);
}


/* the handler called again: by the engine's answer, or by other events */

static ngx_int_t
ngx_iot_auth_stream_resume(ngx_stream_session_t *s,
    ngx_iot_auth_stream_ctx_t *ctx)
{
    ngx_connection_t  *c;

    c = s->connection;

    switch (ctx->state) {

    case NGX_IOT_AUTH_STREAM_VERIFYING:

        /*
         * the client sent more, or closed: the engine still holds ctx, so
         * the session waits for its answer, and then goes no further if
         * the client is gone; level-triggered event methods would call
         * again at once unless the event is removed
         */

        if (ngx_iot_auth_stream_gone(c)
            || ngx_handle_read_event(c->read, 0) != NGX_OK)
        {
            c->error = 1;
        }

        return NGX_DONE;

    case NGX_IOT_AUTH_STREAM_ANSWERED:
        return ngx_iot_auth_stream_decide(s, ctx);

    case NGX_IOT_AUTH_STREAM_ALLOWED:
        return NGX_DECLINED;

    default: /* NGX_IOT_AUTH_STREAM_CLOSING: the CONNACK is on its way */
        return NGX_DONE;
    }
}


/* whether the client closed the connection: its end, as nginx tests it */

static ngx_uint_t
ngx_iot_auth_stream_gone(ngx_connection_t *c)
{
    int        n;
    char       buf[1];
    ngx_err_t  err;

#if (NGX_HAVE_EPOLLRDHUP)

    if ((ngx_event_flags & NGX_USE_EPOLL_EVENT) && ngx_use_epoll_rdhup) {
        return c->read->pending_eof;
    }

#endif

    n = recv(c->fd, buf, 1, MSG_PEEK);
    err = ngx_socket_errno;

    return n == 0 || (n == -1 && err != NGX_EAGAIN);
}


static ngx_int_t
ngx_iot_auth_stream_connect(ngx_stream_session_t *s,
    ngx_iot_auth_stream_srv_conf_t *iscf, ngx_iot_auth_mqtt_connect_t *conn)
{
    ngx_int_t                   rc;
    ngx_connection_t           *c;
    ngx_iot_auth_stream_ctx_t  *ctx;

    c = s->connection;

    ctx = ngx_pcalloc(c->pool, sizeof(ngx_iot_auth_stream_ctx_t));
    if (ctx == NULL) {
        return NGX_ERROR;
    }

    ctx->session = s;
    ctx->level = conn->level;

    ngx_stream_set_ctx(s, ctx, ngx_stream_iot_auth_module);

    rc = ngx_iot_auth_stream_credentials(s, iscf, ctx, conn);

    if (rc != NGX_OK) {
        ngx_iot_auth_count(&iscf->engine, NGX_IOT_AUTH_DENIED);
        return ngx_iot_auth_stream_refuse(s, ctx, NGX_IOT_AUTH_DENIED);
    }

    ctx->state = NGX_IOT_AUTH_STREAM_VERIFYING;

    rc = ngx_iot_auth_verify(&ctx->verify, &iscf->engine, &ctx->device,
                             &ctx->token, c->log,
                             ngx_iot_auth_stream_answered, ctx);

    if (rc == NGX_OK) {
        return ngx_iot_auth_stream_decide(s, ctx);
    }

    return NGX_DONE;
}


/*
 * the device id (the user name, or the client id) and the token (the
 * password) of a CONNECT: NGX_OK when both follow the credential rules,
 * NGX_DECLINED (logged) when one is missing or malformed
 */

static ngx_int_t
ngx_iot_auth_stream_credentials(ngx_stream_session_t *s,
    ngx_iot_auth_stream_srv_conf_t *iscf, ngx_iot_auth_stream_ctx_t *ctx,
    ngx_iot_auth_mqtt_connect_t *conn)
{
    ngx_str_t         *device;
    ngx_connection_t  *c;

    c = s->connection;

    device = (iscf->device == NGX_IOT_AUTH_STREAM_CLIENT_ID)
             ? &conn->client_id : &conn->username;

    if (device->len == 0 || conn->password.len == 0) {
        ngx_log_error(NGX_LOG_INFO, c->log, 0,
                      "iot_auth: CONNECT without a %s or a password",
                      iscf->device == NGX_IOT_AUTH_STREAM_CLIENT_ID
                      ? "client id" : "user name");
        return NGX_DECLINED;
    }

    if (!ngx_iot_auth_record_valid_id(device->data, device->len)) {
        ngx_log_error(NGX_LOG_INFO, c->log, 0,
                      "iot_auth: malformed device id of %uz bytes",
                      device->len);
        return NGX_DECLINED;
    }

    ctx->device = *device;

    if (!ngx_iot_auth_record_valid_token(conn->password.data,
                                         conn->password.len))
    {
        ngx_log_error(NGX_LOG_INFO, c->log, 0,
                      "iot_auth: device \"%V\" sent a malformed password "
                      "of %uz bytes", &ctx->device, conn->password.len);
        return NGX_DECLINED;
    }

    ctx->token = conn->password;

    return NGX_OK;
}


/* the engine's answer comes from the event loop: the phases go on */

static void
ngx_iot_auth_stream_answered(void *data)
{
    ngx_iot_auth_stream_ctx_t  *ctx = data;

    ctx->state = NGX_IOT_AUTH_STREAM_ANSWERED;

    ngx_stream_core_run_phases(ctx->session);
}


/* the verdict, counted once and logged with the device */

static ngx_int_t
ngx_iot_auth_stream_decide(ngx_stream_session_t *s,
    ngx_iot_auth_stream_ctx_t *ctx)
{
    ngx_connection_t                *c;
    ngx_iot_auth_result_e            result;
    ngx_iot_auth_stream_srv_conf_t  *iscf;

    iscf = ngx_stream_get_module_srv_conf(s, ngx_stream_iot_auth_module);

    c = s->connection;
    result = ctx->verify.answer.result;

    ngx_iot_auth_account(&iscf->engine, c->log, &ctx->device, result);

    if (c->error || c->close) {
        ngx_log_error(NGX_LOG_INFO, c->log, 0,
                      "iot_auth: device \"%V\" verified, but its "
                      "connection has gone", &ctx->device);

        ctx->result = result;
        ctx->state = NGX_IOT_AUTH_STREAM_CLOSING;

        return NGX_STREAM_OK;
    }

    switch (result) {

    case NGX_IOT_AUTH_HIT:
    case NGX_IOT_AUTH_REVALIDATED:
    case NGX_IOT_AUTH_MISS:
    case NGX_IOT_AUTH_WAIT:
    case NGX_IOT_AUTH_REFRESH:
    case NGX_IOT_AUTH_STALE:
    case NGX_IOT_AUTH_SHARED:
        ctx->result = result;
        ctx->state = NGX_IOT_AUTH_STREAM_ALLOWED;

        /* the CONNECT stays in c->buffer: proxy_pass sends it as it is */

        return NGX_DECLINED;

    default:
        return ngx_iot_auth_stream_refuse(s, ctx, result);
    }
}


/*
 * the CONNACK that refuses the CONNECT, in its protocol level's form:
 * "bad user name or password" when the credentials are wrong, "server
 * unavailable" when they could not be checked or the device is locked
 * out; then the connection is closed (by the preread phase, when the
 * CONNACK went out at once)
 */

static ngx_int_t
ngx_iot_auth_stream_refuse(ngx_stream_session_t *s,
    ngx_iot_auth_stream_ctx_t *ctx, ngx_iot_auth_result_e result)
{
    ngx_int_t          rc;
    ngx_uint_t         refusal;
    ngx_connection_t  *c;

    c = s->connection;

    switch (result) {

    case NGX_IOT_AUTH_LOCKED:
    case NGX_IOT_AUTH_BUSY:
    case NGX_IOT_AUTH_ERROR:
        refusal = NGX_IOT_AUTH_MQTT_UNAVAILABLE;
        ctx->status = NGX_STREAM_SERVICE_UNAVAILABLE;
        break;

    default:
        refusal = NGX_IOT_AUTH_MQTT_BAD_CREDENTIALS;
        ctx->status = NGX_STREAM_FORBIDDEN;
    }

    ctx->result = result;
    ctx->state = NGX_IOT_AUTH_STREAM_CLOSING;
    ctx->len = ngx_iot_auth_mqtt_connack(ctx->connack, ctx->level, refusal);

    rc = ngx_iot_auth_stream_send(s, ctx);

    if (rc != NGX_AGAIN) {
        return ctx->status;
    }

    c->write->handler = ngx_iot_auth_stream_send_handler;

    ngx_add_timer(c->write, NGX_IOT_AUTH_STREAM_SEND_TIMEOUT);

    if (ngx_handle_write_event(c->write, 0) != NGX_OK) {
        return ctx->status;
    }

    return NGX_DONE;
}


/* NGX_OK: the CONNACK is sent; NGX_AGAIN: not all of it; or NGX_ERROR */

static ngx_int_t
ngx_iot_auth_stream_send(ngx_stream_session_t *s,
    ngx_iot_auth_stream_ctx_t *ctx)
{
    ssize_t            n;
    ngx_connection_t  *c;

    c = s->connection;

    n = c->send(c, ctx->connack + ctx->sent, ctx->len - ctx->sent);

    if (n == NGX_ERROR) {
        return NGX_ERROR;
    }

    if (n > 0) {
        ctx->sent += n;
    }

    return (ctx->sent == ctx->len) ? NGX_OK : NGX_AGAIN;
}


static void
ngx_iot_auth_stream_send_handler(ngx_event_t *wev)
{
    ngx_connection_t           *c;
    ngx_stream_session_t       *s;
    ngx_iot_auth_stream_ctx_t  *ctx;

    c = wev->data;
    s = c->data;

    ctx = ngx_stream_get_module_ctx(s, ngx_stream_iot_auth_module);

    if (wev->timedout) {
        ngx_log_error(NGX_LOG_INFO, c->log, NGX_ETIMEDOUT,
                      "iot_auth: the client did not take its CONNACK");
        ngx_stream_finalize_session(s, ctx->status);
        return;
    }

    if (ngx_iot_auth_stream_send(s, ctx) == NGX_AGAIN) {

        if (ngx_handle_write_event(wev, 0) != NGX_OK) {
            ngx_stream_finalize_session(s, ctx->status);
        }

        return;
    }

    ngx_stream_finalize_session(s, ctx->status);
}


static ngx_int_t
ngx_iot_auth_stream_device_variable(ngx_stream_session_t *s,
    ngx_stream_variable_value_t *v, uintptr_t data)
{
    ngx_iot_auth_stream_ctx_t  *ctx;

    ctx = ngx_stream_get_module_ctx(s, ngx_stream_iot_auth_module);

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
ngx_iot_auth_stream_perms_variable(ngx_stream_session_t *s,
    ngx_stream_variable_value_t *v, uintptr_t data)
{
    u_char                     *p;
    ngx_iot_auth_stream_ctx_t  *ctx;

    ctx = ngx_stream_get_module_ctx(s, ngx_stream_iot_auth_module);

    if (ctx == NULL || ctx->state != NGX_IOT_AUTH_STREAM_ALLOWED) {
        v->not_found = 1;
        return NGX_OK;
    }

    p = ngx_pnalloc(s->connection->pool, NGX_INT32_LEN);
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
ngx_iot_auth_stream_result_variable(ngx_stream_session_t *s,
    ngx_stream_variable_value_t *v, uintptr_t data)
{
    ngx_str_t                  *name;
    ngx_iot_auth_stream_ctx_t  *ctx;

    ctx = ngx_stream_get_module_ctx(s, ngx_stream_iot_auth_module);

    if (ctx == NULL || ctx->state < NGX_IOT_AUTH_STREAM_ALLOWED) {
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
ngx_iot_auth_stream_zone(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    return ngx_iot_auth_conf_zone(cf, cmd, conf);
}


static char *
ngx_iot_auth_stream(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_iot_auth_stream_srv_conf_t  *iscf = conf;

    ngx_iot_auth_main_t  *iam;

    iam = ngx_stream_conf_get_module_main_conf(cf,
                                               ngx_stream_iot_auth_module);

    return ngx_iot_auth_conf_use(cf, iam, &iscf->engine);
}


static char *
ngx_iot_auth_stream_credentials_slot(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_iot_auth_stream_srv_conf_t  *iscf = conf;

    ngx_iot_auth_main_t  *iam;

    iam = ngx_stream_conf_get_module_main_conf(cf,
                                               ngx_stream_iot_auth_module);

    return ngx_iot_auth_conf_credentials(cf, iam, &iscf->engine);
}


static char *
ngx_iot_auth_stream_redis(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    return ngx_iot_auth_conf_redis(cf, conf);
}


static char *
ngx_iot_auth_stream_lockout(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_iot_auth_stream_srv_conf_t  *iscf = conf;

    return ngx_iot_auth_conf_lockout(cf, cmd, &iscf->engine);
}


static char *
ngx_iot_auth_stream_secret_file(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    return ngx_iot_auth_conf_secret_file(cf, conf);
}


static ngx_int_t
ngx_iot_auth_stream_add_variables(ngx_conf_t *cf)
{
    ngx_stream_variable_t  *var, *v;

    for (v = ngx_iot_auth_stream_vars; v->name.len; v++) {
        var = ngx_stream_add_variable(cf, &v->name, v->flags);
        if (var == NULL) {
            return NGX_ERROR;
        }

        var->get_handler = v->get_handler;
        var->data = v->data;
    }

    return NGX_OK;
}


/*
 * nginx runs a phase's handlers from the last registered to the first:
 * this one runs before the preread handlers of the modules loaded
 * earlier (ssl_preread), and after access and limit_conn, so that an
 * address they refuse costs no bcrypt
 */

static ngx_int_t
ngx_iot_auth_stream_init(ngx_conf_t *cf)
{
    ngx_stream_handler_pt        *h;
    ngx_stream_core_main_conf_t  *cmcf;

    cmcf = ngx_stream_conf_get_module_main_conf(cf, ngx_stream_core_module);

    h = ngx_array_push(&cmcf->phases[NGX_STREAM_PREREAD_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_iot_auth_stream_handler;

    return NGX_OK;
}


static void *
ngx_iot_auth_stream_create_main_conf(ngx_conf_t *cf)
{
    ngx_iot_auth_main_t  *iam;

    iam = ngx_pcalloc(cf->pool, sizeof(ngx_iot_auth_main_t));
    if (iam == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     iam->secret = { 0, NULL };
     *     iam->redis = NULL;
     */

    if (ngx_iot_auth_conf_init_main(cf, iam, &ngx_stream_iot_auth_module)
        != NGX_OK)
    {
        return NULL;
    }

    return iam;
}


static char *
ngx_iot_auth_stream_init_main_conf(ngx_conf_t *cf, void *conf)
{
    return ngx_iot_auth_conf_check_main(cf, conf);
}


static void *
ngx_iot_auth_stream_create_srv_conf(ngx_conf_t *cf)
{
    ngx_iot_auth_stream_srv_conf_t  *conf;

    conf = ngx_pcalloc(cf->pool, sizeof(ngx_iot_auth_stream_srv_conf_t));
    if (conf == NULL) {
        return NULL;
    }

    ngx_iot_auth_conf_create(&conf->engine);

    conf->device = NGX_CONF_UNSET_UINT;
    conf->max_connect = NGX_CONF_UNSET_SIZE;

    return conf;
}


static char *
ngx_iot_auth_stream_merge_srv_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_iot_auth_stream_srv_conf_t *prev = parent;
    ngx_iot_auth_stream_srv_conf_t *conf = child;

    size_t                       size;
    ngx_iot_auth_main_t         *iam;
    ngx_stream_core_srv_conf_t  *cscf;

    iam = ngx_stream_conf_get_module_main_conf(cf,
                                               ngx_stream_iot_auth_module);

    cscf = ngx_stream_conf_get_module_srv_conf(cf, ngx_stream_core_module);

    size = ngx_min(NGX_IOT_AUTH_STREAM_MAX_CONNECT,
                   cscf->preread_buffer_size);

    ngx_conf_merge_uint_value(conf->device, prev->device,
                              NGX_IOT_AUTH_STREAM_USERNAME);
    ngx_conf_merge_size_value(conf->max_connect, prev->max_connect, size);

    if (ngx_iot_auth_conf_merge(cf, iam, &conf->engine, &prev->engine)
        != NGX_CONF_OK)
    {
        return NGX_CONF_ERROR;
    }

    /* a CONNECT that fills the preread buffer would never complete */

    if (conf->engine.shm_zone && conf->max_connect > cscf->preread_buffer_size)
    {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "\"iot_auth_mqtt_max_connect\" %uz is larger than "
                      "\"preread_buffer_size\" %uz in the server of %s:%ui",
                      conf->max_connect, cscf->preread_buffer_size,
                      cscf->file_name, cscf->line);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_iot_auth_stream_init_module(ngx_cycle_t *cycle)
{
    return ngx_iot_auth_engine_init_module(cycle,
                                           ngx_iot_auth_stream_main(cycle));
}


static ngx_int_t
ngx_iot_auth_stream_init_process(ngx_cycle_t *cycle)
{
    return ngx_iot_auth_engine_init_process(cycle,
                                            ngx_iot_auth_stream_main(cycle));
}


static void
ngx_iot_auth_stream_exit_process(ngx_cycle_t *cycle)
{
    ngx_iot_auth_engine_exit_process(cycle, ngx_iot_auth_stream_main(cycle));
}


/* NULL without a stream{} block */

static ngx_iot_auth_main_t *
ngx_iot_auth_stream_main(ngx_cycle_t *cycle)
{
    return ngx_stream_cycle_get_module_main_conf(cycle,
                                                 ngx_stream_iot_auth_module);
}
