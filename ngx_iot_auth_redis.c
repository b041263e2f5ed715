
/*
 * Copyright (C) ngx_iot_auth authors
 */


/*
 * The Redis client (see ngx_iot_auth_redis.h): hiredis' async context
 * driven by nginx events, reconnection with backoff, pipelined calls
 * with a timeout each, the store's HMGET with its reply checked by the
 * credential rules, the subscriber's messages handed to the handlers
 * given at start, and the master found and followed through Redis
 * Sentinel.
 */


#include "ngx_iot_auth_redis.h"

#include <hiredis/hiredis.h>
#include <hiredis/async.h>


#define NGX_IOT_AUTH_REDIS_LOOKUP       0
#define NGX_IOT_AUTH_REDIS_SUBSCRIBER   1
#define NGX_IOT_AUTH_REDIS_SENTINEL     2
#define NGX_IOT_AUTH_REDIS_NPEERS       3

#define NGX_IOT_AUTH_REDIS_BACKOFF_MIN  100
#define NGX_IOT_AUTH_REDIS_BACKOFF_MAX  5000


/* an address hiredis connects to, and its name in the logs */

typedef struct {
    ngx_str_t                       name;
    char                            host[NGX_SOCKADDR_STRLEN + 1];
                                                 /* IP literal or path */
    int                             port;        /* 0: a unix socket */
} ngx_iot_auth_redis_addr_t;


/* what a worker keeps of "iot_auth_redis": copies, the conf may go away */

typedef struct {
    ngx_str_t                       name;
    ngx_iot_auth_redis_addr_t       master;      /* with sentinels: known
                                                    once they said it */
    int                             db;
    u_char                          db_text[NGX_INT_T_LEN + 1];
    ngx_str_t                       user;
    ngx_str_t                       password;
    ngx_str_t                       channel;     /* revocations */
    ngx_str_t                       message;     /* the owner's channel */
    ngx_msec_t                      connect_timeout;
    ngx_msec_t                      timeout;
    ngx_uint_t                      nsentinels;
    ngx_uint_t                      sentinel;    /* the one asked */
    ngx_iot_auth_redis_addr_t      *sentinels;
    unsigned                        known:1;     /* the master's address */
} ngx_iot_auth_redis_endpoint_t;


/* one connection of this worker: commands, or the subscriber */

typedef struct {
    redisAsyncContext              *ac;
    ngx_event_t                     reconnect;
    ngx_event_t                     connect;     /* connect timeout */
    ngx_msec_t                      backoff;
    ngx_uint_t                      handshake;   /* replies to wait for */
    char                           *purpose;     /* NULL: not used here */
    unsigned                        subscriber:1;
    unsigned                        sentinel:1;  /* asks where the master
                                                    is */
    unsigned                        ready:1;
    unsigned                        outage:1;
} ngx_iot_auth_redis_peer_t;


/* one HMGET of the store; the key follows the structure */

typedef struct {
    ngx_iot_auth_redis_call_t       call;
    ngx_iot_auth_store_handler_pt   handler;
    void                           *data;
    uint32_t                        perms;
    ngx_int_t                       cost;
    u_char                          hash[NGX_IOT_AUTH_HASH_LEN + 1];
    ngx_str_t                       key;
} ngx_iot_auth_redis_fetch_t;


static void ngx_iot_auth_redis_connect(ngx_iot_auth_redis_peer_t *peer);
static ngx_int_t ngx_iot_auth_redis_handshake(ngx_iot_auth_redis_peer_t *peer);
static ngx_int_t ngx_iot_auth_redis_send(ngx_iot_auth_redis_peer_t *peer,
    ngx_iot_auth_redis_cmd_t *cmd, redisCallbackFn *fn);
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
static void ngx_iot_auth_redis_master_reply(redisAsyncContext *ac, void *r,
    void *privdata);
static void ngx_iot_auth_redis_switch(redisAsyncContext *ac, void *r,
    void *privdata);
static void ngx_iot_auth_redis_follow(u_char *host, size_t len, int port);
static ngx_int_t ngx_iot_auth_redis_ip(u_char *host, size_t len);
static ngx_uint_t ngx_iot_auth_redis_confirmed(ngx_iot_auth_redis_peer_t *peer,
    redisReply *reply);
static void ngx_iot_auth_redis_replied(redisAsyncContext *ac, void *r,
    void *privdata);
static void ngx_iot_auth_redis_readonly(void);
static void ngx_iot_auth_redis_call_handler(ngx_event_t *ev);
static ngx_int_t ngx_iot_auth_redis_parse_record(
    ngx_iot_auth_redis_call_t *call, ngx_uint_t i, void *r);
static void ngx_iot_auth_redis_fetched(ngx_iot_auth_redis_call_t *call);
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
    ngx_iot_auth_redis_conf_t *rcf, ngx_str_t *message, ngx_log_t *log);
static u_char *ngx_iot_auth_redis_copy(ngx_str_t *dst, ngx_str_t *src,
    u_char *p);
static void ngx_iot_auth_redis_addr(ngx_iot_auth_redis_addr_t *addr,
    ngx_url_t *url, u_char **p);


static ngx_msec_t                      ngx_iot_auth_redis_error_logged;
static ngx_iot_auth_redis_handlers_t   ngx_iot_auth_redis_handlers;
static ngx_iot_auth_redis_endpoint_t  *ngx_iot_auth_redis_ep;
static ngx_iot_auth_redis_peer_t
    ngx_iot_auth_redis_peers[NGX_IOT_AUTH_REDIS_NPEERS];


ngx_int_t
ngx_iot_auth_redis_init_process(ngx_cycle_t *cycle,
    ngx_iot_auth_redis_conf_t *rcf, ngx_iot_auth_redis_handlers_t *h)
{
    ngx_uint_t                  i;
    ngx_iot_auth_redis_peer_t  *peer;

    /* not in the cache manager and loader, which run init_process too */

    if (ngx_process != NGX_PROCESS_WORKER
        && ngx_process != NGX_PROCESS_SINGLE)
    {
        return NGX_OK;
    }

    ngx_iot_auth_redis_handlers = *h;

    if (h->backoff_max == 0) {
        ngx_iot_auth_redis_handlers.backoff_max =
                                             NGX_IOT_AUTH_REDIS_BACKOFF_MAX;
    }

    ngx_iot_auth_redis_ep = ngx_iot_auth_redis_endpoint(rcf, &h->channel,
                                                        cycle->log);
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

    /* each worker asks the sentinels for itself where the master is */

    if (ngx_iot_auth_redis_ep->nsentinels) {
        peer = &ngx_iot_auth_redis_peers[NGX_IOT_AUTH_REDIS_SENTINEL];
        peer->purpose = "sentinel";
        peer->sentinel = 1;

        ngx_iot_auth_redis_connect(peer);
    }

    peer = &ngx_iot_auth_redis_peers[NGX_IOT_AUTH_REDIS_LOOKUP];
    peer->purpose = "lookup";

    ngx_iot_auth_redis_connect(peer);

    /* one subscriber is enough: what it hears is told through the zone */

    if ((ngx_iot_auth_redis_ep->channel.len
         || ngx_iot_auth_redis_ep->message.len)
        && ngx_worker == 0)
    {
        peer = &ngx_iot_auth_redis_peers[NGX_IOT_AUTH_REDIS_SUBSCRIBER];
        peer->purpose = "subscriber";
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
ngx_iot_auth_redis_call(ngx_iot_auth_redis_call_t *call,
    ngx_iot_auth_redis_cmd_t *cmds, ngx_uint_t n)
{
    size_t                      argvlen[NGX_IOT_AUTH_REDIS_MAX_ARGS];
    ngx_uint_t                  i, j;
    const char                 *argv[NGX_IOT_AUTH_REDIS_MAX_ARGS];
    ngx_iot_auth_redis_peer_t  *peer;

    peer = &ngx_iot_auth_redis_peers[NGX_IOT_AUTH_REDIS_LOOKUP];

    if (ngx_iot_auth_redis_ep == NULL || peer->ac == NULL) {
        return NGX_ERROR;
    }

    call->rc = NGX_OK;
    call->sent = 0;
    call->replies = 0;
    call->done = 0;

    call->event.handler = ngx_iot_auth_redis_call_handler;
    call->event.data = call;

    for (i = 0; i < n; i++) {

        for (j = 0; j < cmds[i].nargs; j++) {
            argv[j] = (const char *) cmds[i].args[j].data;
            argvlen[j] = cmds[i].args[j].len;
        }

        if (redisAsyncCommandArgv(peer->ac, ngx_iot_auth_redis_replied, call,
                                  (int) cmds[i].nargs, argv, argvlen)
            != REDIS_OK)
        {
            ngx_log_error(NGX_LOG_ERR, call->event.log, 0,
                          "iot_auth: redis %V could not be sent",
                          &cmds[i].args[0]);

            if (call->sent == 0) {
                return NGX_ERROR;
            }

            /* the replies of those sent still come */

            call->rc = NGX_ERROR;
            break;
        }

        call->sent++;
    }

    ngx_add_timer(&call->event, ngx_iot_auth_redis_ep->timeout);

    return NGX_OK;
}


ngx_int_t
ngx_iot_auth_redis_fetch(ngx_str_t *prefix, ngx_str_t *device, ngx_log_t *log,
    ngx_iot_auth_store_handler_pt handler, void *data)
{
    ngx_iot_auth_redis_cmd_t     cmd;
    ngx_iot_auth_redis_fetch_t  *fetch;

    fetch = ngx_alloc(sizeof(ngx_iot_auth_redis_fetch_t)
                      + prefix->len + device->len, log);
    if (fetch == NULL) {
        return NGX_ERROR;
    }

    ngx_memzero(fetch, sizeof(ngx_iot_auth_redis_fetch_t));

    fetch->key.len = prefix->len + device->len;
    fetch->key.data = (u_char *) (fetch + 1);
    ngx_memcpy(ngx_cpymem(fetch->key.data, prefix->data, prefix->len),
               device->data, device->len);

    fetch->handler = handler;
    fetch->data = data;

    fetch->call.parse = ngx_iot_auth_redis_parse_record;
    fetch->call.handler = ngx_iot_auth_redis_fetched;
    fetch->call.event.log = log;

    cmd.nargs = 5;
    ngx_str_set(&cmd.args[0], "HMGET");
    cmd.args[1] = fetch->key;
    ngx_str_set(&cmd.args[2], "hash");
    ngx_str_set(&cmd.args[3], "perms");
    ngx_str_set(&cmd.args[4], "disabled");

    if (ngx_iot_auth_redis_call(&fetch->call, &cmd, 1) != NGX_OK) {
        ngx_log_debug1(NGX_LOG_DEBUG_CORE, log, 0,
                       "iot_auth: redis is down, \"%V\" not fetched", device);
        ngx_free(fetch);
        return NGX_ERROR;
    }

    ngx_log_debug1(NGX_LOG_DEBUG_CORE, log, 0,
                   "iot_auth: redis HMGET \"%V\" sent", &fetch->key);

    return NGX_OK;
}


static void
ngx_iot_auth_redis_connect(ngx_iot_auth_redis_peer_t *peer)
{
    ngx_str_t                       reason;
    ngx_connection_t               *c;
    redisAsyncContext              *ac;
    ngx_iot_auth_redis_addr_t      *addr;
    ngx_iot_auth_redis_endpoint_t  *ep;

    ep = ngx_iot_auth_redis_ep;

    if (peer->sentinel) {
        addr = &ep->sentinels[ep->sentinel];

    } else if (ep->nsentinels && !ep->known) {
        /* connected once the sentinels say where the master is */
        return;

    } else {
        addr = &ep->master;
    }

    ngx_log_debug2(NGX_LOG_DEBUG_CORE, ngx_cycle->log, 0,
                   "iot_auth: redis %s connection to \"%V\"",
                   peer->purpose, &addr->name);

    if (addr->port) {
        ac = redisAsyncConnect(addr->host, addr->port);

    } else {
        ac = redisAsyncConnectUnix(addr->host);
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
    ngx_uint_t                      n;
    redisCallbackFn                *fn;
    ngx_iot_auth_redis_cmd_t        cmd;
    ngx_iot_auth_redis_endpoint_t  *ep;

    ep = ngx_iot_auth_redis_ep;

    peer->handshake = 0;

    if (peer->sentinel) {

        /* the master's address, then its changes as they come */

        cmd.nargs = 3;
        ngx_str_set(&cmd.args[0], "SENTINEL");
        ngx_str_set(&cmd.args[1], "get-master-addr-by-name");
        cmd.args[2] = ep->name;

        if (ngx_iot_auth_redis_send(peer, &cmd,
                                    ngx_iot_auth_redis_master_reply)
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        cmd.nargs = 2;
        ngx_str_set(&cmd.args[0], "SUBSCRIBE");
        ngx_str_set(&cmd.args[1], "+switch-master");

        if (ngx_iot_auth_redis_send(peer, &cmd, ngx_iot_auth_redis_switch)
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        peer->handshake = 2;

        return NGX_OK;
    }

    if (ep->password.len) {

        /* Redis 6 ACL: AUTH user password */

        n = 1;
        ngx_str_set(&cmd.args[0], "AUTH");

        if (ep->user.len) {
            cmd.args[n++] = ep->user;
        }

        cmd.args[n++] = ep->password;
        cmd.nargs = n;

        if (ngx_iot_auth_redis_send(peer, &cmd,
                                    ngx_iot_auth_redis_handshake_reply)
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        peer->handshake++;
    }

    fn = ngx_iot_auth_redis_handshake_reply;

    if (peer->subscriber) {

        /* each channel is confirmed by a message of its own */

        n = 1;
        ngx_str_set(&cmd.args[0], "SUBSCRIBE");

        if (ep->channel.len) {
            cmd.args[n++] = ep->channel;
        }

        if (ep->message.len) {
            cmd.args[n++] = ep->message;
        }

        cmd.nargs = n;
        fn = ngx_iot_auth_redis_message;

    } else if (ep->db) {
        cmd.nargs = 2;
        ngx_str_set(&cmd.args[0], "SELECT");
        cmd.args[1].data = ep->db_text;
        cmd.args[1].len = ngx_strlen(ep->db_text);

    } else if (peer->handshake == 0) {
        cmd.nargs = 1;
        ngx_str_set(&cmd.args[0], "PING");

    } else {
        return NGX_OK;
    }

    if (ngx_iot_auth_redis_send(peer, &cmd, fn) != NGX_OK) {
        return NGX_ERROR;
    }

    peer->handshake += peer->subscriber ? cmd.nargs - 1 : 1;

    return NGX_OK;
}


/* one command of a connection's own */

static ngx_int_t
ngx_iot_auth_redis_send(ngx_iot_auth_redis_peer_t *peer,
    ngx_iot_auth_redis_cmd_t *cmd, redisCallbackFn *fn)
{
    size_t       argvlen[NGX_IOT_AUTH_REDIS_MAX_ARGS];
    ngx_uint_t   i;
    const char  *argv[NGX_IOT_AUTH_REDIS_MAX_ARGS];

    for (i = 0; i < cmd->nargs; i++) {
        argv[i] = (const char *) cmd->args[i].data;
        argvlen[i] = cmd->args[i].len;
    }

    if (redisAsyncCommandArgv(peer->ac, fn, peer, (int) cmd->nargs, argv,
                              argvlen)
        != REDIS_OK)
    {
        return NGX_ERROR;
    }

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
 * the SUBSCRIBE callback: a confirmation per channel, then every message
 * published on them: device ids to revoke, or the owner's messages
 */

static void
ngx_iot_auth_redis_message(redisAsyncContext *ac, void *r, void *privdata)
{
    ngx_iot_auth_redis_peer_t  *peer = privdata;
    redisReply                 *reply = r;

    ngx_str_t                       device, channel;
    redisReply                     *kind, *from, *payload;
    ngx_iot_auth_redis_handlers_t  *h;

    if (reply == NULL || peer->ac != ac
        || reply->type != REDIS_REPLY_ARRAY || reply->elements != 3
        || reply->element == NULL)
    {
        return;
    }

    kind = reply->element[0];
    from = reply->element[1];
    payload = reply->element[2];

    if (kind == NULL || kind->type != REDIS_REPLY_STRING
        || from == NULL || from->type != REDIS_REPLY_STRING
        || payload == NULL)
    {
        return;
    }

    if (ngx_iot_auth_redis_confirmed(peer, reply)) {
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

    h = &ngx_iot_auth_redis_handlers;

    channel.data = (u_char *) from->str;
    channel.len = from->len;

    if (h->message && channel.len == h->channel.len
        && ngx_strncmp(channel.data, h->channel.data, channel.len) == 0)
    {
        device.data = (u_char *) payload->str;
        device.len = payload->len;

        h->message(h->data, &device);
        return;
    }

    device.data = (u_char *) payload->str;
    device.len = payload->len;

    if (ngx_iot_auth_record_valid_id(device.data, device.len)) {
        if (h->revoke) {
            h->revoke(h->data, &device);
        }

        return;
    }

    ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                  "iot_auth: ignored a malformed device id of %uz bytes "
                  "published on redis channel \"%V\"",
                  device.len, &ngx_iot_auth_redis_ep->channel);
}


/* a subscription confirmed: one step of the handshake */

static ngx_uint_t
ngx_iot_auth_redis_confirmed(ngx_iot_auth_redis_peer_t *peer,
    redisReply *reply)
{
    redisReply  *kind;

    kind = reply->element[0];

    if (kind->len != sizeof("subscribe") - 1
        || ngx_strncasecmp((u_char *) kind->str, (u_char *) "subscribe",
                           kind->len)
           != 0)
    {
        return 0;
    }

    if (peer->handshake && --peer->handshake == 0) {
        ngx_iot_auth_redis_ready(peer);
    }

    return 1;
}


/* SENTINEL get-master-addr-by-name: the master's IP and port, or nil */

static void
ngx_iot_auth_redis_master_reply(redisAsyncContext *ac, void *r,
    void *privdata)
{
    ngx_iot_auth_redis_peer_t  *peer = privdata;
    redisReply                 *reply = r;

    ngx_int_t    port;
    ngx_str_t    reason;
    redisReply  *ip, *pt;

    if (reply == NULL || peer->ac != ac) {
        return;
    }

    ip = NULL;
    pt = NULL;
    port = 0;

    if (reply->type == REDIS_REPLY_ARRAY && reply->elements == 2
        && reply->element)
    {
        ip = reply->element[0];
        pt = reply->element[1];
    }

    if (ip && pt && pt->type == REDIS_REPLY_STRING) {
        port = ngx_atoi((u_char *) pt->str, pt->len);
    }

    if (ip == NULL || ip->type != REDIS_REPLY_STRING
        || ngx_iot_auth_redis_ip((u_char *) ip->str, ip->len) != NGX_OK
        || port < 1 || port > 65535)
    {
        if (reply->type == REDIS_REPLY_NIL) {
            ngx_str_set(&reason, "it does not know the master");

        } else {
            ngx_str_set(&reason, "it sent an unexpected reply to "
                                 "SENTINEL get-master-addr-by-name");
        }

        /* the next sentinel is asked */
        ngx_iot_auth_redis_drop(peer, &reason);
        return;
    }

    ngx_iot_auth_redis_follow((u_char *) ip->str, ip->len, (int) port);

    if (peer->handshake && --peer->handshake == 0) {
        ngx_iot_auth_redis_ready(peer);
    }
}


/* +switch-master: "NAME OLD-IP OLD-PORT NEW-IP NEW-PORT" */

static void
ngx_iot_auth_redis_switch(redisAsyncContext *ac, void *r, void *privdata)
{
    ngx_iot_auth_redis_peer_t  *peer = privdata;
    redisReply                 *reply = r;

    u_char                         *p, *last, *field[5];
    size_t                          len[5];
    ngx_int_t                       port;
    ngx_uint_t                      n;
    redisReply                     *payload;
    ngx_iot_auth_redis_endpoint_t  *ep;

    if (reply == NULL || peer->ac != ac
        || reply->type != REDIS_REPLY_ARRAY || reply->elements != 3
        || reply->element == NULL || reply->element[0] == NULL
        || reply->element[0]->type != REDIS_REPLY_STRING
        || reply->element[2] == NULL)
    {
        return;
    }

    if (ngx_iot_auth_redis_confirmed(peer, reply)) {
        return;
    }

    payload = reply->element[2];

    if (payload->type != REDIS_REPLY_STRING) {
        return;
    }

    ep = ngx_iot_auth_redis_ep;

    p = (u_char *) payload->str;
    last = p + payload->len;

    for (n = 0; n < 5 && p < last; n++) {
        field[n] = p;

        while (p < last && *p != ' ') {
            p++;
        }

        len[n] = p - field[n];

        if (p < last) {
            p++;
        }
    }

    if (n != 5 || p != last || len[0] != ep->name.len
        || ngx_strncmp(field[0], ep->name.data, len[0]) != 0)
    {
        return;
    }

    port = ngx_atoi(field[4], len[4]);

    if (ngx_iot_auth_redis_ip(field[3], len[3]) != NGX_OK
        || port < 1 || port > 65535)
    {
        ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                      "iot_auth: ignored a malformed +switch-master of "
                      "redis sentinel \"%V\"",
                      &ep->sentinels[ep->sentinel].name);
        return;
    }

    ngx_iot_auth_redis_follow(field[3], len[3], (int) port);
}


/*
 * the master is (now) at host:port: the connections go there at once;
 * commands in flight on them fail
 */

static void
ngx_iot_auth_redis_follow(u_char *host, size_t len, int port)
{
    u_char                         *p;
    ngx_str_t                       reason;
    ngx_uint_t                      i;
    ngx_iot_auth_redis_addr_t      *m;
    ngx_iot_auth_redis_peer_t      *peer;
    ngx_iot_auth_redis_endpoint_t  *ep;

    ep = ngx_iot_auth_redis_ep;
    m = &ep->master;

    if (ep->known && m->port == port && ngx_strlen(m->host) == len
        && ngx_strncmp(m->host, host, len) == 0)
    {
        return;
    }

    ngx_memcpy(m->host, host, len);
    m->host[len] = '\0';
    m->port = port;

    p = ngx_sprintf(m->name.data, "%*s:%d", len, host, port);
    m->name.len = p - m->name.data;

    ep->known = 1;

    ngx_log_error(NGX_LOG_NOTICE, ngx_cycle->log, 0,
                  "iot_auth: redis master \"%V\" is at %V, says sentinel "
                  "\"%V\"", &ep->name, &m->name,
                  &ep->sentinels[ep->sentinel].name);

    ngx_str_set(&reason, "the master moved");

    for (i = 0; i < NGX_IOT_AUTH_REDIS_NPEERS; i++) {
        peer = &ngx_iot_auth_redis_peers[i];

        if (peer->purpose == NULL || peer->sentinel) {
            continue;
        }

        if (peer->ac) {
            ngx_iot_auth_redis_drop(peer, &reason);
        }

        if (peer->reconnect.timer_set) {
            ngx_del_timer(&peer->reconnect);
        }

        peer->backoff = NGX_IOT_AUTH_REDIS_BACKOFF_MIN;

        ngx_iot_auth_redis_connect(peer);
    }
}


/* an IPv4 or IPv6 literal: hiredis never resolves a name at run time */

static ngx_int_t
ngx_iot_auth_redis_ip(u_char *host, size_t len)
{
#if (NGX_HAVE_INET6)
    u_char  addr6[16];
#endif

    if (len == 0 || len > NGX_INET6_ADDRSTRLEN) {
        return NGX_ERROR;
    }

    if (ngx_inet_addr(host, len) != INADDR_NONE) {
        return NGX_OK;
    }

#if (NGX_HAVE_INET6)
    if (ngx_inet6_addr(host, len, addr6) == NGX_OK) {
        return NGX_OK;
    }
#endif

    return NGX_ERROR;
}


/*
 * every reply of a call is parsed as it comes; the call's handler runs
 * from a posted event once all have come, never from inside hiredis
 */

static void
ngx_iot_auth_redis_replied(redisAsyncContext *ac, void *r, void *privdata)
{
    ngx_iot_auth_redis_call_t  *call = privdata;
    redisReply                 *reply = r;

    ngx_int_t  rc;

    if (reply && reply->type == REDIS_REPLY_ERROR && reply->str
        && reply->len >= sizeof("READONLY") - 1
        && ngx_strncmp(reply->str, "READONLY", sizeof("READONLY") - 1) == 0)
    {
        ngx_iot_auth_redis_readonly();
    }

    rc = (r == NULL) ? NGX_ERROR : call->parse(call, call->replies, r);

    if (call->rc == NGX_OK) {
        call->rc = rc;
    }

    if (++call->replies < call->sent) {
        return;
    }

    if (call->event.timer_set) {
        ngx_del_timer(&call->event);
    }

    call->done = 1;

    ngx_post_event(&call->event, &ngx_posted_events);
}


/*
 * the master this worker writes to became a replica: the sentinels are
 * asked again (a new connection) where the master is
 */

static void
ngx_iot_auth_redis_readonly(void)
{
    ngx_str_t                   reason;
    ngx_iot_auth_redis_peer_t  *peer;

    peer = &ngx_iot_auth_redis_peers[NGX_IOT_AUTH_REDIS_SENTINEL];

    if (peer->sentinel && peer->ready) {
        ngx_str_set(&reason, "the master answers READONLY");
        ngx_iot_auth_redis_drop(peer, &reason);
    }
}


/* the replies came (the event was posted), or the call's timer fired */

static void
ngx_iot_auth_redis_call_handler(ngx_event_t *ev)
{
    ngx_iot_auth_redis_call_t  *call = ev->data;

    u_char                      buf[64];
    ngx_str_t                   reason;
    ngx_iot_auth_redis_peer_t  *peer;

    if (!call->done) {
        peer = &ngx_iot_auth_redis_peers[NGX_IOT_AUTH_REDIS_LOOKUP];

        if (peer->ac) {

            /* fails every call in flight, this one included */

            reason.data = buf;
            reason.len = ngx_sprintf(buf, "no reply in %Mms",
                                     ngx_iot_auth_redis_ep->timeout)
                         - buf;

            ngx_iot_auth_redis_drop(peer, &reason);
        }

        if (call->done) {
            /* posted by the reply callback */
            return;
        }

        call->rc = NGX_ERROR;
        call->done = 1;
    }

    call->handler(call);
}


/* the store's HMGET: takes a reply of any shape */

static ngx_int_t
ngx_iot_auth_redis_parse_record(ngx_iot_auth_redis_call_t *call,
    ngx_uint_t n, void *r)
{
    ngx_iot_auth_redis_fetch_t  *cmd = (ngx_iot_auth_redis_fetch_t *) call;
    redisReply                  *reply = r;

    size_t       len;
    ngx_uint_t   i;
    ngx_log_t   *log;
    redisReply  *field[3];

    log = call->event.log;

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


static void
ngx_iot_auth_redis_fetched(ngx_iot_auth_redis_call_t *call)
{
    ngx_iot_auth_redis_fetch_t  *cmd = (ngx_iot_auth_redis_fetch_t *) call;

    ngx_iot_auth_record_t  rec;

    if (call->rc == NGX_OK) {
        rec.id = cmd->key;
        rec.hash = cmd->hash;
        rec.perms = cmd->perms;
        rec.cost = cmd->cost;
    }

    cmd->handler(cmd->data, call->rc, call->rc == NGX_OK ? &rec : NULL);

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
    ngx_uint_t                      recovered;
    ngx_iot_auth_redis_handlers_t  *h;

    if (peer->connect.timer_set) {
        ngx_del_timer(&peer->connect);
    }

    peer->ready = 1;
    peer->backoff = NGX_IOT_AUTH_REDIS_BACKOFF_MIN;

    ngx_log_debug1(NGX_LOG_DEBUG_CORE, ngx_cycle->log, 0,
                   "iot_auth: redis %s connection ready", peer->purpose);

    recovered = peer->outage;
    peer->outage = 0;

    if (peer->sentinel) {
        return;
    }

    if (recovered) {

        if (!ngx_iot_auth_redis_in_outage()) {
            ngx_log_error(NGX_LOG_NOTICE, ngx_cycle->log, 0,
                          "iot_auth: redis \"%V\" is available again",
                          &ngx_iot_auth_redis_ep->name);
        }
    }

    h = &ngx_iot_auth_redis_handlers;

    if (h->up && (recovered || peer->subscriber)) {
        h->up(h->data, peer->subscriber);
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
    ngx_str_t                      *name;
    ngx_iot_auth_redis_endpoint_t  *ep;
    ngx_iot_auth_redis_handlers_t  *h;

    peer->ready = 0;
    peer->handshake = 0;

    if (peer->connect.timer_set) {
        ngx_del_timer(&peer->connect);
    }

    ep = ngx_iot_auth_redis_ep;

    if (peer->sentinel) {
        name = &ep->sentinels[ep->sentinel].name;

        /* the next one is asked */
        ep->sentinel = (ep->sentinel + 1) % ep->nsentinels;

    } else {
        name = &ep->name;
    }

    if (peer->outage || (!peer->sentinel && ngx_iot_auth_redis_in_outage())) {
        ngx_log_debug3(NGX_LOG_DEBUG_CORE, ngx_cycle->log, 0,
                       "iot_auth: redis %s connection failed: %V, "
                       "retry in %Mms", peer->purpose, reason, peer->backoff);

    } else {
        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                      "iot_auth: redis %s\"%V\" is unavailable: %V",
                      peer->sentinel ? "sentinel " : "", name, reason);
    }

    peer->outage = 1;

    ngx_add_timer(&peer->reconnect, peer->backoff);

    h = &ngx_iot_auth_redis_handlers;

    peer->backoff = ngx_min(peer->backoff * 2, h->backoff_max);

    if (h->down && !peer->sentinel) {
        h->down(h->data, peer->subscriber);
    }
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
    ngx_uint_t                  i;
    ngx_iot_auth_redis_peer_t  *peer;

    for (i = 0; i < NGX_IOT_AUTH_REDIS_NPEERS; i++) {
        peer = &ngx_iot_auth_redis_peers[i];

        if (peer->outage && !peer->sentinel) {
            return 1;
        }
    }

    return 0;
}


static ngx_iot_auth_redis_endpoint_t *
ngx_iot_auth_redis_endpoint(ngx_iot_auth_redis_conf_t *rcf,
    ngx_str_t *message, ngx_log_t *log)
{
    u_char                         *p;
    size_t                          size;
    ngx_url_t                      *urls;
    ngx_uint_t                      i, n;
    ngx_iot_auth_redis_endpoint_t  *ep;

    n = rcf->sentinels ? rcf->sentinels->nelts : 0;
    urls = rcf->sentinels ? rcf->sentinels->elts : NULL;

    size = sizeof(ngx_iot_auth_redis_endpoint_t)
           + n * sizeof(ngx_iot_auth_redis_addr_t)
           + rcf->url.url.len + NGX_SOCKADDR_STRLEN + NGX_INT_T_LEN
           + rcf->master.len + rcf->user.len + rcf->password.len
           + rcf->revoke_channel.len + message->len;

    for (i = 0; i < n; i++) {
        size += urls[i].url.len;
    }

    ep = ngx_alloc(size, log);
    if (ep == NULL) {
        return NULL;
    }

    ngx_memzero(ep, sizeof(ngx_iot_auth_redis_endpoint_t));

    ep->sentinels = (ngx_iot_auth_redis_addr_t *) (ep + 1);
    ep->nsentinels = n;

    p = (u_char *) (ep->sentinels + n);

    for (i = 0; i < n; i++) {
        ngx_iot_auth_redis_addr(&ep->sentinels[i], &urls[i], &p);
    }

    if (n) {

        /* the master's address and its name are written when known */

        ep->name.len = rcf->master.len;
        ep->name.data = p;
        p = ngx_cpymem(p, rcf->master.data, rcf->master.len);

        ep->master.name.data = p;
        p += NGX_SOCKADDR_STRLEN + NGX_INT_T_LEN;

    } else {
        ngx_iot_auth_redis_addr(&ep->master, &rcf->url, &p);
        ep->name = ep->master.name;
    }

    /* all optional */

    p = ngx_iot_auth_redis_copy(&ep->user, &rcf->user, p);
    p = ngx_iot_auth_redis_copy(&ep->password, &rcf->password, p);
    p = ngx_iot_auth_redis_copy(&ep->channel, &rcf->revoke_channel, p);
    (void) ngx_iot_auth_redis_copy(&ep->message, message, p);

    ep->db = (int) rcf->db;
    (void) ngx_sprintf(ep->db_text, "%i%Z", rcf->db);
    ep->connect_timeout = rcf->connect_timeout;
    ep->timeout = rcf->timeout;

    return ep;
}


/* an unset string has no data to copy */

static u_char *
ngx_iot_auth_redis_copy(ngx_str_t *dst, ngx_str_t *src, u_char *p)
{
    dst->len = src->len;
    dst->data = p;

    return src->len ? ngx_cpymem(p, src->data, src->len) : p;
}


/* an address resolved with the configuration; its text follows at *p */

static void
ngx_iot_auth_redis_addr(ngx_iot_auth_redis_addr_t *addr, ngx_url_t *url,
    u_char **p)
{
    size_t               n;
    ngx_addr_t          *a;
#if (NGX_HAVE_UNIX_DOMAIN)
    struct sockaddr_un  *saun;
#endif

    a = &url->addrs[0];

    addr->name.len = url->url.len;
    addr->name.data = *p;
    *p = ngx_cpymem(*p, url->url.data, url->url.len);

#if (NGX_HAVE_UNIX_DOMAIN)

    if (a->sockaddr->sa_family == AF_UNIX) {
        saun = (struct sockaddr_un *) a->sockaddr;

        (void) ngx_cpystrn((u_char *) addr->host, (u_char *) saun->sun_path,
                           NGX_SOCKADDR_STRLEN + 1);
        addr->port = 0;
        return;
    }

#endif

    n = ngx_sock_ntop(a->sockaddr, a->socklen, (u_char *) addr->host,
                      NGX_SOCKADDR_STRLEN, 0);
    addr->host[n] = '\0';
    addr->port = ngx_inet_get_port(a->sockaddr);
}
