
/*
 * Copyright (C) ngx_iot_auth authors
 */


/*
 * The verification engine, for front ends (the HTTP access handler,
 * the MQTT CONNECT reader).  Read this header first.
 *
 * A front end gives ngx_iot_auth_verify() a device id and a token that
 * passed the credential rules (ngx_iot_auth_record.h) and the settings
 * of where they came from (ngx_iot_auth_conf_t: zone, store, limits).
 * The engine answers at once when the zone knows the token (a cached
 * verdict, a recent failure, a lockout), or later, through the front
 * end's handler, after waiting for another request's verification,
 * reading the credential store, or running bcrypt in the thread pool.
 * The front end then applies its own rules (perms), maps the result to
 * its protocol, and accounts for it once with ngx_iot_auth_account().
 *
 * Inside, each verification is a state machine (ngx_iot_auth_engine.c):
 *
 *   NEW, WOKEN  decided by the zone: DONE, or
 *     |-------> WAITING   for the flight of the same (device, token) in
 *     |                   any worker; woken: WOKEN
 *     |-------> LOOKUP    reading the store, for its own flight or to
 *     |            |      re-check an expired verdict; answered:
 *     |         ANSWERED  decided again (a re-check), or
 *     |            |----> VERIFYING  bcrypt in the thread pool; done:
 *     |                   VERIFIED   outcome stored, waiters woken: DONE
 *     |
 *     |  in fleet mode, its own flight asks the other gateways first:
 *     '-------> FLEET_LOOKUP    the store's record, the shared verdict
 *                  |            and the lockout, in one round trip:
 *               FLEET_ANSWERED  SHARED, or refused: DONE; the fleet
 *                  |            cannot say: VERIFYING (alone); else
 *                  |----> FLEET_CLAIM    claims the verification:
 *                         FLEET_CLAIMED  ours: VERIFYING, then the
 *                            |           verdict is shared and the
 *                            |           fleet woken; ended elsewhere:
 *                            |           FLEET_LOOKUP, or refused: DONE
 *                            |----> FLEET_WAITING  for another
 *                                   gateway's, until its wake-up or
 *                                   wait_timeout: FLEET_WOKEN, then
 *                                   FLEET_LOOKUP
 *
 * Below the engine: the zone (ngx_iot_auth_cache.h), the worker side
 * of flights (ngx_iot_auth_flight.h), the stores
 * (ngx_iot_auth_store.h), the fleet (ngx_iot_auth_fleet.h).  Calls go
 * downward only.
 */


#ifndef _NGX_IOT_AUTH_ENGINE_H_INCLUDED_
#define _NGX_IOT_AUTH_ENGINE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_iot_auth_record.h"
#include "ngx_iot_auth_cache.h"
#include "ngx_iot_auth_flight.h"
#include "ngx_iot_auth_file.h"
#include "ngx_iot_auth_store.h"
#include "ngx_iot_auth_redis.h"
#include "ngx_iot_auth_fleet.h"


/* one cost-14 bcrypt holds a pool thread for about a second */
#define NGX_IOT_AUTH_DEFAULT_MAX_COST  14

/* iot_auth_bcrypt_priority's default: bcrypt threads at nice +19 */
#define NGX_IOT_AUTH_DEFAULT_NICE      19


/* the engine's settings of one http{} or stream{} block */

typedef struct {
    ngx_array_t                  zones;        /* ngx_shm_zone_t *, defined */
    ngx_array_t                  refs;         /* ngx_iot_auth_zone_ref_t */
    ngx_array_t                  files;        /* ngx_iot_auth_file_t *,
                                                  each read once */
    ngx_str_t                    secret;       /* iot_auth_secret_file */
    ngx_iot_auth_redis_conf_t   *redis;        /* iot_auth_redis */
    ngx_flag_t                   fleet;        /* iot_auth_fleet */
    ngx_iot_auth_priority_t      priority;     /* iot_auth_bcrypt_priority */
    void                        *tag;          /* the front end's module:
                                                  its zones' tag */
} ngx_iot_auth_main_t;


/* where and how the devices of a location (or server) are verified */

typedef struct {
    ngx_shm_zone_t              *shm_zone;     /* NULL: iot_auth off */
    ngx_iot_auth_store_t         store;
    ngx_thread_pool_t           *thread_pool;
    ngx_str_t                    thread_pool_name;
    ngx_iot_auth_priority_t     *priority;     /* of the block's bcrypts */
    ngx_msec_t                   wait_timeout;
    ngx_int_t                    max_pending;  /* bcrypts of a worker */
    ngx_uint_t                   max_cost;
    ngx_msec_t                   stale_if_error;
    ngx_iot_auth_lockout_t       lockout;
    ngx_flag_t                   redis;        /* the store is Redis */
    ngx_str_t                    redis_key;
    ngx_iot_auth_file_t         *file;         /* the store is this file */
    ngx_flag_t                   fleet;        /* of the block */
} ngx_iot_auth_conf_t;


/* what the engine says of a device and its token */

typedef struct {
    ngx_iot_auth_result_e        result;
    uint32_t                     perms;        /* when let in */
    unsigned                     retry:1;      /* refused for now only: the
                                                  store or the pool could
                                                  not take it */
} ngx_iot_auth_answer_t;


/* the name, metric label and log line of each result */

typedef struct {
    ngx_str_t                    name;         /* $iot_auth_result */
    ngx_str_t                    metric;       /* result="..." */
    ngx_uint_t                   level;        /* of the reason */
    char                        *reason;       /* logged when refused */
} ngx_iot_auth_result_info_t;


typedef void (*ngx_iot_auth_handler_pt)(void *data);


typedef enum {
    NGX_IOT_AUTH_NEW = 0,        /* not decided yet */
    NGX_IOT_AUTH_WAITING,        /* for another request's flight */
    NGX_IOT_AUTH_WOKEN,          /* that flight may have ended */
    NGX_IOT_AUTH_LOOKUP,         /* the store is read */
    NGX_IOT_AUTH_ANSWERED,       /* the store answered */
    NGX_IOT_AUTH_VERIFYING,      /* bcrypt runs in the thread pool */
    NGX_IOT_AUTH_VERIFIED,       /* bcrypt is done */
    NGX_IOT_AUTH_FLEET_LOOKUP,   /* the store and the fleet are read */
    NGX_IOT_AUTH_FLEET_ANSWERED, /* both answered */
    NGX_IOT_AUTH_FLEET_CLAIM,    /* the fleet is asked for the flight */
    NGX_IOT_AUTH_FLEET_CLAIMED,  /* it answered */
    NGX_IOT_AUTH_FLEET_WAITING,  /* for another gateway's flight */
    NGX_IOT_AUTH_FLEET_WOKEN,    /* that flight may have ended */
    NGX_IOT_AUTH_DONE            /* answer is final */
} ngx_iot_auth_state_e;


/*
 * one verification; front ends embed it in their own request state and
 * read only its answer
 */

typedef struct {
    ngx_iot_auth_state_e         state;
    ngx_iot_auth_conf_t         *conf;
    ngx_iot_auth_zone_t         *zone;
    ngx_iot_auth_ticket_t        ticket;       /* what the zone knows of it */
    ngx_str_t                    token;
    ngx_log_t                   *log;
    ngx_iot_auth_handler_pt      handler;      /* called at DONE, unless it
                                                  came at once */
    void                        *data;         /* the handler's */
    ngx_iot_auth_waiter_t        waiter;       /* while WAITING */
    ngx_iot_auth_answer_t        answer;       /* once DONE */

    ngx_int_t                    fetched;      /* the store's answer */
    ngx_iot_auth_cred_t          cred;         /* of the record it read */
    u_char                       hash[NGX_IOT_AUTH_HASH_LEN];
                                               /* the record's hash */
    ngx_int_t                    match;        /* the bcrypt's answer: 1, 0,
                                                  NGX_ERROR if it failed */

    ngx_iot_auth_fleet_answer_t  fleet;        /* the fleet's last answer */
    ngx_event_t                  fleet_timer;  /* FLEET_WAITING's end */
    ngx_uint_t                   awaiting;     /* FLEET_LOOKUP's answers */
    ngx_uint_t                   rounds;       /* FLEET_LOOKUPs made */
    ngx_uint_t                   outages;      /* of Redis, seen at the
                                                  wait */

    unsigned                     owner:1;      /* owns the flight */
    unsigned                     running:1;    /* in the step loop */
    unsigned                     fleet_owner:1;  /* owns the fleet's claim */
    unsigned                     timed_out:1;  /* FLEET_WAITING ended */
} ngx_iot_auth_req_t;


/*
 * NGX_OK: decided at once, req->answer holds the answer.  NGX_AGAIN:
 * the verification goes on, and handler(data) is called once, from the
 * event loop, with req->answer filled.  Until then the front end keeps
 * req, device, token, log and data alive: a verification under way also
 * serves the requests that wait for it
 */
ngx_int_t ngx_iot_auth_verify(ngx_iot_auth_req_t *req,
    ngx_iot_auth_conf_t *conf, ngx_str_t *device, ngx_str_t *token,
    ngx_log_t *log, ngx_iot_auth_handler_pt handler, void *data);

/* counts the final result of a request once, and logs why it was refused */
void ngx_iot_auth_account(ngx_iot_auth_conf_t *conf, ngx_log_t *log,
    ngx_str_t *device, ngx_iot_auth_result_e result);

/* counts a result that the front end decided, and logged, by itself */
void ngx_iot_auth_count(ngx_iot_auth_conf_t *conf,
    ngx_iot_auth_result_e result);

/* drops a device's verdicts in every zone of the block */
void ngx_iot_auth_revoke(void *iam, ngx_str_t *device);

ngx_int_t ngx_iot_auth_engine_init_module(ngx_cycle_t *cycle,
    ngx_iot_auth_main_t *iam);
ngx_int_t ngx_iot_auth_engine_init_process(ngx_cycle_t *cycle,
    ngx_iot_auth_main_t *iam);
void ngx_iot_auth_engine_exit_process(ngx_cycle_t *cycle,
    ngx_iot_auth_main_t *iam);


extern ngx_iot_auth_result_info_t  ngx_iot_auth_results[];


#endif /* _NGX_IOT_AUTH_ENGINE_H_INCLUDED_ */
