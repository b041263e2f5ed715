
/*
 * Copyright (C) ngx_iot_auth authors
 */


/*
 * The Redis store (see ngx_iot_auth_redis.h): hiredis' async context
 * driven by nginx events, reconnection with backoff, a timeout on every
 * command, replies checked with the credential rules, and the
 * revocation channel handed to the handler given at start.
 */


#include "ngx_iot_auth_redis.h"

#include <hiredis/hiredis.h>
#include <hiredis/async.h>


#define NGX_IOT_AUTH_REDIS_LOOKUP       0
#define NGX_IOT_AUTH_REDIS_REVOKE       1
#define NGX_IOT_AUTH_REDIS_NPEERS       2

#define NGX_IOT_AUTH_REDIS_BACKOFF_MIN  100
#define NGX_IOT_AUTH_REDIS_BACKOFF_MAX  5000

/* at most this much of an error text sent by Redis goes to the log */
#define NGX_IOT_AUTH_REDIS_ERR_MAX      128


/* what a worker keeps of "iot_auth_redis": copies, the conf may go away */

typedef struct {
    ngx_str_t                       name;
    char                           *host;        /* IP literal or path */
    int                             port;        /* 0: a unix socket */
    int                             db;
    ngx_str_t                       password;
    ngx_str_t                       channel;
    ngx_msec_t                      connect_timeout;
    ngx_msec_t                      timeout;
} ngx_iot_auth_redis_endpoint_t;


/* one connection of this worker: lookups, or the revocation channel */

typedef struct {
    redisAsyncContext              *ac;
    ngx_event_t                     reconnect;
    ngx_event_t                     connect;     /* connect timeout */
    ngx_msec_t                      backoff;
    ngx_uint_t                      handshake;   /* replies to wait for */
    char                           *purpose;
    unsigned                        subscriber:1;
    unsigned                        ready:1;
    unsigned                        outage:1;
} ngx_iot_auth_redis_peer_t;


/* one HMGET; the key follows the structure */

typedef struct {
    ngx_event_t                     event;
    ngx_iot_auth_store_handler_pt   handler;
    void                           *data;
    ngx_int_t                       rc;
    uint32_t                        perms;
    ngx_int_t                       cost;
    u_char                          hash[NGX_IOT_AUTH_HASH_LEN + 1];
    ngx_str_t                       key;
    unsigned                        done:1;
} ngx_iot_auth_redis_cmd_t;


static void ngx_iot_auth_redis_connect(ngx_iot_auth_redis_peer_t *peer);
static ngx_int_t ngx_iot_auth_redis_handshake(ngx_iot_auth_redis_peer_t *peer);
static void ngx_iot_auth_redis_add_read(void *data);
static void ngx_iot_auth_redis_del_read(void *data);
static void ngx_iot_auth_redis_add_write(void *data);
static void ngx_iot_auth_redis_del_write(void *data);
static void ngx_iot_auth_redis_cleanup(void *data);
static void ngx_iot_auth_redis_read_handler(ngx_event_t *rev);
static void ngx_iot_auth_redis_write_handler(ngx_event_t *wev);
static void ngx_iot_auth_redis_connected(const redisAsyncContext *ac,
    int status);
static void ngx_iot_auth_redis_handshake_reply(redisAsyncContext *ac,
    void *r, void *privdata);
static void ngx_iot_auth_redis_message(redisAsyncContext *ac, void *r,
    void *privdata);
static void ngx_iot_auth_redis_reply(redisAsyncContext *ac, void *r,
    void *privdata);
static ngx_int_t ngx_iot_auth_redis_parse(ngx_iot_auth_redis_cmd_t *cmd,
    redisReply *reply);
static void ngx_iot_auth_redis_cmd_handler(ngx_event_t *ev);
static void ngx_iot_auth_redis_connect_timeout(ngx_event_t *ev);
static void ngx_iot_auth_redis_reconnect(ngx_event_t *ev);
static void ngx_iot_auth_redis_ready(ngx_iot_auth_redis_peer_t *peer);
static void ngx_iot_auth_redis_failed(ngx_iot_auth_redis_peer_t *peer,
    ngx_str_t *reason);
static void ngx_iot_auth_redis_drop(ngx_iot_auth_redis_peer_t *peer,
    ngx_str_t *reason);
static void ngx_iot_auth_redis_close(ngx_iot_auth_redis_peer_t *peer);
static ngx_uint_t ngx_iot_auth_redis_in_outage(void);
static ngx_iot_auth_redis_endpoint_t *ngx_iot_auth_redis_endpoint(
    ngx_iot_auth_redis_conf_t *rcf, ngx_log_t *log);


static ngx_msec_t                      ngx_iot_auth_redis_error_logged;
static ngx_iot_auth_revoke_pt          ngx_iot_auth_redis_revoke;
static void                           *ngx_iot_auth_redis_revoke_data;
static ngx_iot_auth_redis_endpoint_t  *ngx_iot_auth_redis_ep;
static ngx_iot_auth_redis_peer_t
    ngx_iot_auth_redis_peers[NGX_IOT_AUTH_REDIS_NPEERS];


ngx_int_t
ngx_iot_auth_redis_init_process(ngx_cycle_t *cycle,
    ngx_iot_auth_redis_conf_t *rcf, ngx_iot_auth_revoke_pt revoke,
    void *data)
{
    ngx_uint_t                  i;
    ngx_iot_auth_redis_peer_t  *peer;

    /* not in the cache manager and loader, which run init_process too */

    if (ngx_process != NGX_PROCESS_WORKER
        && ngx_process != NGX_PROCESS_SINGLE)
    {
        return NGX_OK;
    }

    ngx_iot_auth_redis_revoke = revoke;
    ngx_iot_auth_redis_revoke_data = data;

    ngx_iot_auth_redis_ep = ngx_iot_auth_redis_endpoint(rcf, cycle->log);
    if (ngx_iot_auth_redis_ep == NULL) {
        return NGX_ERROR;
    }

    /*
     * the cached time is the master's, taken before the configuration was
     * read: a long read would expire the first connect timeout at once
     */

    ngx_time_update();

    for (i = 0; i < NGX_IOT_AUTH_REDIS_NPEERS; i++) {
        peer = &ngx_iot_auth_redis_peers[i];

        ngx_memzero(peer, sizeof(ngx_iot_auth_redis_peer_t));

        peer->backoff = NGX_IOT_AUTH_REDIS_BACKOFF_MIN;

        peer->reconnect.handler = ngx_iot_auth_redis_reconnect;
        peer->reconnect.data = peer;
        peer->reconnect.log = cycle->log;
        peer->reconnect.cancelable = 1;

        peer->connect.handler = ngx_iot_auth_redis_connect_timeout;
        peer->connect.data = peer;
        peer->connect.log = cycle->log;
        peer->connect.cancelable = 1;
    }

    peer = &ngx_iot_auth_redis_peers[NGX_IOT_AUTH_REDIS_LOOKUP];
    peer->purpose = "lookup";

    ngx_iot_auth_redis_connect(peer);

    /* one subscriber is enough: the verdicts live in shared memory */

    if (ngx_iot_auth_redis_ep->channel.len && ngx_worker == 0) {
        peer = &ngx_iot_auth_redis_peers[NGX_IOT_AUTH_REDIS_REVOKE];
        peer->purpose = "revocation";
        peer->subscriber = 1;

        ngx_iot_auth_redis_connect(peer);
    }

    return NGX_OK;
}


/* closes everything before nginx looks for sockets left open */

void
ngx_iot_auth_redis_exit_process(ngx_cycle_t *cycle)
{
    ngx_uint_t  i;

    if (ngx_iot_auth_redis_ep == NULL) {
        return;
    }

    for (i = 0; i < NGX_IOT_AUTH_REDIS_NPEERS; i++) {
        ngx_iot_auth_redis_close(&ngx_iot_auth_redis_peers[i]);
    }

    ngx_free(ngx_iot_auth_redis_ep);
    ngx_iot_auth_redis_ep = NULL;
}


ngx_int_t
ngx_iot_auth_redis_fetch(ngx_str_t *prefix, ngx_str_t *device, ngx_log_t *log,
    ngx_iot_auth_store_handler_pt handler, void *data)
{
    ngx_iot_auth_redis_cmd_t   *cmd;
    ngx_iot_auth_redis_peer_t  *peer;

    peer = &ngx_iot_auth_redis_peers[NGX_IOT_AUTH_REDIS_LOOKUP];

    if (ngx_iot_auth_redis_ep == NULL || peer->ac == NULL) {
        ngx_log_debug1(NGX_LOG_DEBUG_CORE, log, 0,
                       "iot_auth: redis is down, \"%V\" not fetched", device);
        return NGX_ERROR;
    }

    cmd = ngx_alloc(sizeof(ngx_iot_auth_redis_cmd_t)
                    + prefix->len + device->len, log);
    if (cmd == NULL) {
        return NGX_ERROR;
    }

    ngx_memzero(cmd, sizeof(ngx_iot_auth_redis_cmd_t));

    cmd->key.len = prefix->len + device->len;
    cmd->key.data = (u_char *) (cmd + 1);
    ngx_memcpy(ngx_cpymem(cmd->key.data, prefix->data, prefix->len),
               device->data, device->len);

    cmd->handler = handler;
    cmd->data = data;

    cmd->event.handler = ngx_iot_auth_redis_cmd_handler;
    cmd->event.data = cmd;
    cmd->event.log = log;

    if (redisAsyncCommand(peer->ac, ngx_iot_auth_redis_reply, cmd,
                          "HMGET %b hash perms disabled",
                          cmd->key.data, cmd->key.len)
        != REDIS_OK)
    {
        ngx_log_error(NGX_LOG_ERR, log, 0,
                      "iot_auth: redis HMGET \"%V\" could not be sent",
                      &cmd->key);
        ngx_free(cmd);
        return NGX_ERROR;
    }

    ngx_add_timer(&cmd->event, ngx_iot_auth_redis_ep->timeout);

    ngx_log_debug1(NGX_LOG_DEBUG_CORE, log, 0,
                   "iot_auth: redis HMGET \"%V\" sent", &cmd->key);

    return NGX_OK;
}


static void
ngx_iot_auth_redis_connect(ngx_iot_auth_redis_peer_t *peer)
{
    ngx_str_t                       reason;
    ngx_connection_t               *c;
    redisAsyncContext              *ac;
    ngx_iot_auth_redis_endpoint_t  *ep;

    ep = ngx_iot_auth_redis_ep;

    ngx_log_debug2(NGX_LOG_DEBUG_CORE, ngx_cycle->log, 0,
                   "iot_auth: redis %s connection to \"%V\"",
                   peer->purpose, &ep->name);

    if (ep->port) {
        ac = redisAsyncConnect(ep->host, ep->port);

    } else {
        ac = redisAsyncConnectUnix(ep->host);
    }

    if (ac == NULL) {
        ngx_str_set(&reason, "could not allocate a hiredis context");
        ngx_iot_auth_redis_failed(peer, &reason);
        return;
    }

    if (ac->err) {
        reason.data = (u_char *) ac->errstr;
        reason.len = ngx_strlen(ac->errstr);

        ngx_iot_auth_redis_failed(peer, &reason);

        redisAsyncFree(ac);
        return;
    }

    c = ngx_get_connection(ac->c.fd, ngx_cycle->log);
    if (c == NULL) {
        redisAsyncFree(ac);

        ngx_str_set(&reason, "no free connection");
        ngx_iot_auth_redis_failed(peer, &reason);
        return;
    }

    c->data = ac;
    c->read->handler = ngx_iot_auth_redis_read_handler;
    c->write->handler = ngx_iot_auth_redis_write_handler;
    c->read->log = c->log;
    c->write->log = c->log;

    /* the hooks first: setting the connect callback adds the write event */

    ac->data = peer;
    ac->ev.data = c;
    ac->ev.addRead = ngx_iot_auth_redis_add_read;
    ac->ev.delRead = ngx_iot_auth_redis_del_read;
    ac->ev.addWrite = ngx_iot_auth_redis_add_write;
    ac->ev.delWrite = ngx_iot_auth_redis_del_write;
    ac->ev.cleanup = ngx_iot_auth_redis_cleanup;

    peer->ac = ac;
    peer->ready = 0;

    (void) redisAsyncSetConnectCallback(ac, ngx_iot_auth_redis_connected);

    if (ngx_iot_auth_redis_handshake(peer) != NGX_OK) {
        ngx_str_set(&reason, "could not queue the handshake");
        ngx_iot_auth_redis_drop(peer, &reason);
        return;
    }

    ngx_add_timer(&peer->connect, ep->connect_timeout);
}


/*
 * queued at once, sent when the connection is up; the last reply of the
 * handshake marks the connection ready
 */

static ngx_int_t
ngx_iot_auth_redis_handshake(ngx_iot_auth_redis_peer_t *peer)
{
    int                             rc;
    redisAsyncContext              *ac;
    ngx_iot_auth_redis_endpoint_t  *ep;

    ep = ngx_iot_auth_redis_ep;
    ac = peer->ac;

    peer->handshake = 0;

    if (ep->password.len) {
        rc = redisAsyncCommand(ac, ngx_iot_auth_redis_handshake_reply, peer,
                               "AUTH %b", ep->password.data,
                               ep->password.len);
        if (rc != REDIS_OK) {
            return NGX_ERROR;
        }

        peer->handshake++;
    }

    if (peer->subscriber) {
        rc = redisAsyncCommand(ac, ngx_iot_auth_redis_message, peer,
                               "SUBSCRIBE %b", ep->channel.data,
                               ep->channel.len);

    } else if (ep->db) {
        rc = redisAsyncCommand(ac, ngx_iot_auth_redis_handshake_reply, peer,
                               "SELECT %d", ep->db);

    } else if (peer->handshake == 0) {
        rc = redisAsyncCommand(ac, ngx_iot_auth_redis_handshake_reply, peer,
                               "PING");

    } else {
        return NGX_OK;
    }

    if (rc != REDIS_OK) {
        return NGX_ERROR;
    }

    peer->handshake++;

    return NGX_OK;
}


/*
 * the events are level-triggered: hiredis reads at most 16k at a time
 * and would stall on a clear (edge) event
 */

static void
ngx_iot_auth_redis_add_read(void *data)
{
    ngx_connection_t  *c = data;

    if (c && !c->read->active) {
        (void) ngx_add_event(c->read, NGX_READ_EVENT, NGX_LEVEL_EVENT);
    }
}


static void
ngx_iot_auth_redis_del_read(void *data)
{
    ngx_connection_t  *c = data;

    if (c && c->read->active) {
        (void) ngx_del_event(c->read, NGX_READ_EVENT, NGX_LEVEL_EVENT);
    }
}


static void
ngx_iot_auth_redis_add_write(void *data)
{
    ngx_connection_t  *c = data;

    if (c && !c->write->active) {
        (void) ngx_add_event(c->write, NGX_WRITE_EVENT, NGX_LEVEL_EVENT);
    }
}


static void
ngx_iot_auth_redis_del_write(void *data)
{
    ngx_connection_t  *c = data;

    if (c && c->write->active) {
        (void) ngx_del_event(c->write, NGX_WRITE_EVENT, NGX_LEVEL_EVENT);
    }
}


/*
 * hiredis is done with the context and closes the socket itself right
 * after this: only the nginx side is released here
 */

static void
ngx_iot_auth_redis_cleanup(void *data)
{
    ngx_connection_t  *c = data;

    ngx_str_t                   reason;
    redisAsyncContext          *ac;
    ngx_iot_auth_redis_peer_t  *peer;

    if (c == NULL) {
        return;
    }

    ac = c->data;
    ac->ev.data = NULL;

    if (c->read->active) {
        (void) ngx_del_event(c->read, NGX_READ_EVENT, NGX_LEVEL_EVENT);
    }

    if (c->write->active) {
        (void) ngx_del_event(c->write, NGX_WRITE_EVENT, NGX_LEVEL_EVENT);
    }

    if (c->read->posted) {
        ngx_delete_posted_event(c->read);
    }

    if (c->write->posted) {
        ngx_delete_posted_event(c->write);
    }

    ngx_free_connection(c);
    c->fd = (ngx_socket_t) -1;

    peer = ac->data;

    if (peer->ac != ac) {
        /* dropped by this module */
        return;
    }

    peer->ac = NULL;

    if (ac->c.err) {
        reason.data = (u_char *) ac->c.errstr;
        reason.len = ngx_strlen(ac->c.errstr);

    } else {
        ngx_str_set(&reason, "connection closed");
    }

    ngx_iot_auth_redis_failed(peer, &reason);
}


static void
ngx_iot_auth_redis_read_handler(ngx_event_t *rev)
{
    ngx_connection_t   *c;
    redisAsyncContext  *ac;

    c = rev->data;
    ac = c->data;

    if (c->close) {
        /* worker_shutdown_timeout */
        ngx_iot_auth_redis_close(ac->data);
        return;
    }

    /* the context may be gone when this returns */

    redisAsyncHandleRead(ac);
}


static void
ngx_iot_auth_redis_write_handler(ngx_event_t *wev)
{
    ngx_connection_t  *c;

    c = wev->data;

    redisAsyncHandleWrite(c->data);
}


static void
ngx_iot_auth_redis_connected(const redisAsyncContext *ac, int status)
{
    /* a failure is reported by the cleanup that follows */

    ngx_log_debug3(NGX_LOG_DEBUG_CORE, ngx_cycle->log, 0,
                   "iot_auth: redis %s connect status:%d \"%s\"",
                   ((ngx_iot_auth_redis_peer_t *) ac->data)->purpose,
                   status, ac->c.errstr);
}


static void
ngx_iot_auth_redis_handshake_reply(redisAsyncContext *ac, void *r,
    void *privdata)
{
    ngx_iot_auth_redis_peer_t  *peer = privdata;
    redisReply                 *reply = r;

    ngx_str_t  reason;

    if (reply == NULL || peer->ac != ac) {
        /* the context is being freed */
        return;
    }

    if (reply->type == REDIS_REPLY_ERROR) {
        reason.data = (u_char *) reply->str;
        reason.len = reply->str ? ngx_min(reply->len,
                                          NGX_IOT_AUTH_REDIS_ERR_MAX)
                                : 0;

        ngx_iot_auth_redis_drop(peer, &reason);
        return;
    }

    if (peer->handshake && --peer->handshake == 0) {
        ngx_iot_auth_redis_ready(peer);
    }
}


/*
 * the SUBSCRIBE callback: its confirmation, then every message
 * published on the channel, each a device id to revoke
 */

static void
ngx_iot_auth_redis_message(redisAsyncContext *ac, void *r, void *privdata)
{
    ngx_iot_auth_redis_peer_t  *peer = privdata;
    redisReply                 *reply = r;

    ngx_str_t    device;
    redisReply  *kind, *payload;

    if (reply == NULL || peer->ac != ac
        || reply->type != REDIS_REPLY_ARRAY || reply->elements != 3
        || reply->element == NULL)
    {
        return;
    }

    kind = reply->element[0];
    payload = reply->element[2];

    if (kind == NULL || kind->type != REDIS_REPLY_STRING || payload == NULL) {
        return;
    }

    if (kind->len == sizeof("subscribe") - 1
        && ngx_strncasecmp((u_char *) kind->str, (u_char *) "subscribe",
                           kind->len)
           == 0)
    {
        if (peer->handshake && --peer->handshake == 0) {
            ngx_iot_auth_redis_ready(peer);
        }

        return;
    }

    if (kind->len != sizeof("message") - 1
        || ngx_strncasecmp((u_char *) kind->str, (u_char *) "message",
                           kind->len)
           != 0)
    {
        return;
    }

    if (payload->type != REDIS_REPLY_STRING) {
        return;
    }

    device.data = (u_char *) payload->str;
    device.len = payload->len;

    if (ngx_iot_auth_record_valid_id(device.data, device.len)) {
        ngx_iot_auth_redis_revoke(ngx_iot_auth_redis_revoke_data, &device);
        return;
    }

    ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                  "iot_auth: ignored a malformed device id of %uz bytes "
                  "published on redis channel \"%V\"",
                  device.len, &ngx_iot_auth_redis_ep->channel);
}


/* the result is handed over from a posted event, never from hiredis */

static void
ngx_iot_auth_redis_reply(redisAsyncContext *ac, void *r, void *privdata)
{
    ngx_iot_auth_redis_cmd_t  *cmd = privdata;

    if (cmd->event.timer_set) {
        ngx_del_timer(&cmd->event);
    }

    cmd->rc = ngx_iot_auth_redis_parse(cmd, r);
    cmd->done = 1;

    ngx_post_event(&cmd->event, &ngx_posted_events);
}


/* takes a reply of any shape; NULL means the connection is gone */

static ngx_int_t
ngx_iot_auth_redis_parse(ngx_iot_auth_redis_cmd_t *cmd, redisReply *reply)
{
    size_t       len;
    ngx_uint_t   i;
    ngx_log_t   *log;
    redisReply  *field[3];

    log = cmd->event.log;

    if (reply == NULL) {
        return NGX_ERROR;
    }

    if (reply->type == REDIS_REPLY_ERROR) {
        len = reply->str ? ngx_min(reply->len, NGX_IOT_AUTH_REDIS_ERR_MAX)
                         : 0;

        if (len >= sizeof("WRONGTYPE") - 1
            && ngx_strncmp(reply->str, "WRONGTYPE", sizeof("WRONGTYPE") - 1)
               == 0)
        {
            ngx_log_error(NGX_LOG_ERR, log, 0,
                          "iot_auth: redis key \"%V\" is not a hash",
                          &cmd->key);
            return NGX_DECLINED;
        }

        /* e.g. LOADING while Redis starts: a line a second, not a flood */

        if (ngx_iot_auth_redis_error_logged == 0
            || ngx_current_msec - ngx_iot_auth_redis_error_logged >= 1000)
        {
            ngx_iot_auth_redis_error_logged = ngx_current_msec | 1;

            ngx_log_error(NGX_LOG_ERR, log, 0,
                          "iot_auth: redis HMGET \"%V\" failed: %*s",
                          &cmd->key, len, reply->str);
        }

        return NGX_ERROR;
    }

    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 3
        || reply->element == NULL)
    {
        goto unexpected;
    }

    for (i = 0; i < 3; i++) {
        field[i] = reply->element[i];

        if (field[i] == NULL
            || (field[i]->type != REDIS_REPLY_NIL
                && (field[i]->type != REDIS_REPLY_STRING
                    || field[i]->str == NULL)))
        {
            goto unexpected;
        }
    }

    /* field[0] is "hash", field[1] "perms", field[2] "disabled" */

    if (field[0]->type == REDIS_REPLY_NIL
        && field[1]->type == REDIS_REPLY_NIL
        && field[2]->type == REDIS_REPLY_NIL)
    {
        return NGX_DECLINED;
    }

    if (field[2]->type == REDIS_REPLY_STRING
        && field[2]->len == 1 && field[2]->str[0] == '1')
    {
        ngx_log_error(NGX_LOG_INFO, log, 0,
                      "iot_auth: device disabled by redis key \"%V\"",
                      &cmd->key);
        return NGX_DECLINED;
    }

    cmd->cost = (field[0]->type == REDIS_REPLY_STRING)
                ? ngx_iot_auth_record_hash_cost((u_char *) field[0]->str,
                                                field[0]->len)
                : NGX_ERROR;

    if (cmd->cost == NGX_ERROR) {
        ngx_log_error(NGX_LOG_ERR, log, 0,
                      "iot_auth: redis key \"%V\" has no valid \"hash\" "
                      "field", &cmd->key);
        return NGX_DECLINED;
    }

    cmd->perms = 0;

    if (field[1]->type == REDIS_REPLY_STRING
        && ngx_iot_auth_record_parse_perms((u_char *) field[1]->str,
                                           field[1]->len, &cmd->perms)
           != NGX_OK)
    {
        ngx_log_error(NGX_LOG_ERR, log, 0,
                      "iot_auth: redis key \"%V\" has an invalid \"perms\" "
                      "field", &cmd->key);
        return NGX_DECLINED;
    }

    ngx_memcpy(cmd->hash, field[0]->str, NGX_IOT_AUTH_HASH_LEN);
    cmd->hash[NGX_IOT_AUTH_HASH_LEN] = '\0';

    return NGX_OK;

unexpected:

    ngx_log_error(NGX_LOG_ERR, log, 0,
                  "iot_auth: redis sent an unexpected reply to HMGET \"%V\"",
                  &cmd->key);

    return NGX_ERROR;
}


/* the reply was posted, or the command timer fired */

static void
ngx_iot_auth_redis_cmd_handler(ngx_event_t *ev)
{
    ngx_iot_auth_redis_cmd_t  *cmd = ev->data;

    u_char                      buf[64];
    ngx_str_t                   reason;
    ngx_iot_auth_record_t       rec;
    ngx_iot_auth_redis_peer_t  *peer;

    if (!cmd->done) {
        peer = &ngx_iot_auth_redis_peers[NGX_IOT_AUTH_REDIS_LOOKUP];

        if (peer->ac) {

            /* fails every command in flight, this one included */

            reason.data = buf;
            reason.len = ngx_sprintf(buf, "no reply in %Mms",
                                     ngx_iot_auth_redis_ep->timeout)
                         - buf;

            ngx_iot_auth_redis_drop(peer, &reason);
        }

        if (cmd->done) {
            /* posted by the reply callback */
            return;
        }

        cmd->rc = NGX_ERROR;
        cmd->done = 1;
    }

    if (cmd->rc == NGX_OK) {
        rec.id = cmd->key;
        rec.hash = cmd->hash;
        rec.perms = cmd->perms;
        rec.cost = cmd->cost;
    }

    cmd->handler(cmd->data, cmd->rc, cmd->rc == NGX_OK ? &rec : NULL);

    ngx_explicit_memzero(cmd->hash, sizeof(cmd->hash));
    ngx_free(cmd);
}


static void
ngx_iot_auth_redis_connect_timeout(ngx_event_t *ev)
{
    ngx_iot_auth_redis_peer_t  *peer = ev->data;

    u_char     buf[64];
    ngx_str_t  reason;

    if (peer->ac == NULL || peer->ready) {
        return;
    }

    reason.data = buf;
    reason.len = ngx_sprintf(buf, "no connection in %Mms",
                             ngx_iot_auth_redis_ep->connect_timeout)
                 - buf;

    ngx_iot_auth_redis_drop(peer, &reason);
}


static void
ngx_iot_auth_redis_reconnect(ngx_event_t *ev)
{
    ngx_iot_auth_redis_peer_t  *peer = ev->data;

    if (peer->ac == NULL) {
        ngx_iot_auth_redis_connect(peer);
    }
}


static void
ngx_iot_auth_redis_ready(ngx_iot_auth_redis_peer_t *peer)
{
    if (peer->connect.timer_set) {
        ngx_del_timer(&peer->connect);
    }

    peer->ready = 1;
    peer->backoff = NGX_IOT_AUTH_REDIS_BACKOFF_MIN;

    ngx_log_debug1(NGX_LOG_DEBUG_CORE, ngx_cycle->log, 0,
                   "iot_auth: redis %s connection ready", peer->purpose);

    if (!peer->outage) {
        return;
    }

    peer->outage = 0;

    if (!ngx_iot_auth_redis_in_outage()) {
        ngx_log_error(NGX_LOG_NOTICE, ngx_cycle->log, 0,
                      "iot_auth: redis \"%V\" is available again",
                      &ngx_iot_auth_redis_ep->name);
    }
}


/*
 * the connection is gone or never came up: one line per outage of the
 * worker, then retries with a growing delay
 */

static void
ngx_iot_auth_redis_failed(ngx_iot_auth_redis_peer_t *peer,
    ngx_str_t *reason)
{
    peer->ready = 0;
    peer->handshake = 0;

    if (peer->connect.timer_set) {
        ngx_del_timer(&peer->connect);
    }

    if (peer->outage || ngx_iot_auth_redis_in_outage()) {
        ngx_log_debug3(NGX_LOG_DEBUG_CORE, ngx_cycle->log, 0,
                       "iot_auth: redis %s connection failed: %V, "
                       "retry in %Mms", peer->purpose, reason, peer->backoff);

    } else {
        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                      "iot_auth: redis \"%V\" is unavailable: %V",
                      &ngx_iot_auth_redis_ep->name, reason);
    }

    peer->outage = 1;

    ngx_add_timer(&peer->reconnect, peer->backoff);

    peer->backoff = ngx_min(peer->backoff * 2,
                            NGX_IOT_AUTH_REDIS_BACKOFF_MAX);
}


/* may be called from a hiredis callback: hiredis then defers the free */

static void
ngx_iot_auth_redis_drop(ngx_iot_auth_redis_peer_t *peer, ngx_str_t *reason)
{
    redisAsyncContext  *ac;

    ac = peer->ac;
    peer->ac = NULL;

    ngx_iot_auth_redis_failed(peer, reason);

    redisAsyncFree(ac);
}


static void
ngx_iot_auth_redis_close(ngx_iot_auth_redis_peer_t *peer)
{
    redisAsyncContext  *ac;

    if (peer->reconnect.timer_set) {
        ngx_del_timer(&peer->reconnect);
    }

    if (peer->connect.timer_set) {
        ngx_del_timer(&peer->connect);
    }

    ac = peer->ac;

    if (ac == NULL) {
        return;
    }

    peer->ac = NULL;
    peer->ready = 0;

    redisAsyncFree(ac);
}


static ngx_uint_t
ngx_iot_auth_redis_in_outage(void)
{
    ngx_uint_t  i;

    for (i = 0; i < NGX_IOT_AUTH_REDIS_NPEERS; i++) {
        if (ngx_iot_auth_redis_peers[i].outage) {
            return 1;
        }
    }

    return 0;
}


static ngx_iot_auth_redis_endpoint_t *
ngx_iot_auth_redis_endpoint(ngx_iot_auth_redis_conf_t *rcf, ngx_log_t *log)
{
    u_char                         *p;
    size_t                          n, size;
    ngx_addr_t                     *addr;
    ngx_iot_auth_redis_endpoint_t  *ep;
#if (NGX_HAVE_UNIX_DOMAIN)
    struct sockaddr_un             *saun;
#endif

    addr = &rcf->url.addrs[0];

    size = sizeof(ngx_iot_auth_redis_endpoint_t)
           + rcf->url.url.len + NGX_SOCKADDR_STRLEN + 1
           + rcf->password.len + rcf->revoke_channel.len;

    ep = ngx_alloc(size, log);
    if (ep == NULL) {
        return NULL;
    }

    p = (u_char *) (ep + 1);

    ep->name.len = rcf->url.url.len;
    ep->name.data = p;
    p = ngx_cpymem(p, rcf->url.url.data, rcf->url.url.len);

    ep->host = (char *) p;

#if (NGX_HAVE_UNIX_DOMAIN)

    if (addr->sockaddr->sa_family == AF_UNIX) {
        saun = (struct sockaddr_un *) addr->sockaddr;

        (void) ngx_cpystrn(p, (u_char *) saun->sun_path,
                           NGX_SOCKADDR_STRLEN + 1);
        ep->port = 0;

    } else

#endif
    {
        n = ngx_sock_ntop(addr->sockaddr, addr->socklen, p,
                          NGX_SOCKADDR_STRLEN, 0);
        p[n] = '\0';
        ep->port = ngx_inet_get_port(addr->sockaddr);
    }

    p += NGX_SOCKADDR_STRLEN + 1;

    /* both are optional: an unset one has no data to copy */

    ep->password.len = rcf->password.len;
    ep->password.data = p;

    if (rcf->password.len) {
        p = ngx_cpymem(p, rcf->password.data, rcf->password.len);
    }

    ep->channel.len = rcf->revoke_channel.len;
    ep->channel.data = p;

    if (rcf->revoke_channel.len) {
        ngx_memcpy(p, rcf->revoke_channel.data, rcf->revoke_channel.len);
    }

    ep->db = (int) rcf->db;
    ep->connect_timeout = rcf->connect_timeout;
    ep->timeout = rcf->timeout;

    return ep;
}
