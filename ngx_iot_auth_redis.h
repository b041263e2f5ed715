
/*
 * Copyright (C) ngx_iot_auth authors
 */


/*
 * The Redis client: a hiredis async client on the nginx event loop, one
 * command connection per worker and, in worker 0, a subscriber to the
 * revocation channel and the fleet's channel.  Serves the Redis store
 * (HMGET of a device's record) and the fleet (any command, pipelined);
 * tells its owner when connections come and go through the handlers it
 * was started with, and calls nothing above it.
 */


#ifndef _NGX_IOT_AUTH_REDIS_H_INCLUDED_
#define _NGX_IOT_AUTH_REDIS_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>

#include "ngx_iot_auth_store.h"


#define NGX_IOT_AUTH_REDIS_MAX_ARGS  12


/* iot_auth_redis: one endpoint per http{} (or stream{}) block */

typedef struct {
    ngx_url_t                    url;          /* host:port or unix:/path */
    ngx_array_t                 *sentinels;    /* ngx_url_t; NULL: url */
    ngx_str_t                    master;       /* the sentinels' name */
    ngx_int_t                    db;
    ngx_str_t                    user;
    ngx_str_t                    password;
    ngx_msec_t                   connect_timeout;
    ngx_msec_t                   timeout;
    ngx_str_t                    revoke_channel;
    ngx_str_t                    fleet_prefix; /* of the fleet's keys */
} ngx_iot_auth_redis_conf_t;


/*
 * what the client tells its owner; any handler may be NULL.  up:
 * the command connection is ready again after an outage (subscriber 0),
 * or the subscriber listens (subscriber 1); down: one of them is lost
 */

typedef struct {
    void                       (*revoke)(void *data, ngx_str_t *device);
    void                       (*message)(void *data, ngx_str_t *payload);
    void                       (*up)(void *data, ngx_uint_t subscriber);
    void                       (*down)(void *data, ngx_uint_t subscriber);
    void                        *data;
    ngx_str_t                    channel;      /* of message(); or none */
    ngx_msec_t                   backoff_max;  /* between reconnections */
} ngx_iot_auth_redis_handlers_t;


typedef struct ngx_iot_auth_redis_call_s  ngx_iot_auth_redis_call_t;

/*
 * parses the i-th reply of a call (a redisReply), in hiredis' callback:
 * it may only read the reply and write into the call's owner.  What it
 * returns becomes the call's rc unless an earlier reply set one
 */
typedef ngx_int_t (*ngx_iot_auth_redis_parse_pt)(
    ngx_iot_auth_redis_call_t *call, ngx_uint_t i, void *reply);

typedef void (*ngx_iot_auth_redis_done_pt)(ngx_iot_auth_redis_call_t *call);


/* one argument vector: a command */

typedef struct {
    ngx_uint_t                   nargs;
    ngx_str_t                    args[NGX_IOT_AUTH_REDIS_MAX_ARGS];
} ngx_iot_auth_redis_cmd_t;


/*
 * commands sent together and answered together: the owner allocates it
 * (outside any request pool), sets parse, handler, data and event.log,
 * and frees it in handler, which is called once from a posted event
 */

struct ngx_iot_auth_redis_call_s {
    ngx_event_t                  event;        /* the timeout, then posted */
    ngx_iot_auth_redis_parse_pt  parse;
    ngx_iot_auth_redis_done_pt   handler;
    void                        *data;
    ngx_int_t                    rc;           /* NGX_OK; NGX_ERROR: a reply
                                                  missing or refused */
    ngx_uint_t                   sent;
    ngx_uint_t                   replies;
    unsigned                     done:1;
};


ngx_int_t ngx_iot_auth_redis_init_process(ngx_cycle_t *cycle,
    ngx_iot_auth_redis_conf_t *rcf, ngx_iot_auth_redis_handlers_t *h);
void ngx_iot_auth_redis_exit_process(ngx_cycle_t *cycle);

/*
 * sends the commands on this worker's connection, each with its reply
 * parsed by call->parse, within the endpoint's timeout.  NGX_OK: the
 * handler will be called; NGX_ERROR: it will not (Redis is down)
 */
ngx_int_t ngx_iot_auth_redis_call(ngx_iot_auth_redis_call_t *call,
    ngx_iot_auth_redis_cmd_t *cmds, ngx_uint_t n);

/*
 * HMGET prefix+device hash perms disabled; NGX_OK: the handler will be
 * called from a posted event, NGX_ERROR: it will not (Redis is down)
 */
ngx_int_t ngx_iot_auth_redis_fetch(ngx_str_t *prefix, ngx_str_t *device,
    ngx_log_t *log, ngx_iot_auth_store_handler_pt handler, void *data);

/* at most this much of an error text sent by Redis goes to the log */
#define NGX_IOT_AUTH_REDIS_ERR_MAX   128


#endif /* _NGX_IOT_AUTH_REDIS_H_INCLUDED_ */
