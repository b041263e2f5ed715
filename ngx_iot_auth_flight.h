
/*
 * Copyright (C) ngx_iot_auth authors
 */


/*
 * The worker side of flights: this worker's waiting requests and how
 * they are woken (per-worker eventfd doorbells, a safety-net timer), and
 * bcrypt verifications run in an nginx thread pool.  Knows nothing of
 * the zone or of requests: a waiter is a queue link and an event whose
 * handler its owner sets; a bcrypt is a copy of a token and a hash and a
 * handler called in the event loop when it is done.
 */


#ifndef _NGX_IOT_AUTH_FLIGHT_H_INCLUDED_
#define _NGX_IOT_AUTH_FLIGHT_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>
#include <ngx_thread_pool.h>

#include "ngx_iot_auth_record.h"


/* a request of this worker that waits for a flight */

typedef struct {
    ngx_queue_t                  queue;        /* in the worker's wait-list */
    ngx_event_t                  wake;         /* posted when it may look */
    unsigned                     queued:1;
} ngx_iot_auth_waiter_t;


/* the CPU priority of the threads that run bcrypt */

typedef enum {
    NGX_IOT_AUTH_PRIORITY_OFF = 0,   /* as the worker's event loop */
    NGX_IOT_AUTH_PRIORITY_NICE,      /* nice more than the event loop */
    NGX_IOT_AUTH_PRIORITY_BATCH,     /* SCHED_BATCH */
    NGX_IOT_AUTH_PRIORITY_IDLE       /* SCHED_IDLE */
} ngx_iot_auth_priority_e;


typedef struct {
    ngx_iot_auth_priority_e      policy;
    ngx_int_t                    nice;         /* NGX_IOT_AUTH_PRIORITY_NICE */
} ngx_iot_auth_priority_t;


typedef struct ngx_iot_auth_bcrypt_s  ngx_iot_auth_bcrypt_t;

typedef void (*ngx_iot_auth_bcrypt_handler_pt)(ngx_iot_auth_bcrypt_t *b);


/* one bcrypt: copies only, the thread touches nothing else */

struct ngx_iot_auth_bcrypt_s {
    u_char                       token[NGX_IOT_AUTH_TOKEN_MAX + 1];
    u_char                       hash[NGX_IOT_AUTH_HASH_LEN + 1];
    ngx_iot_auth_bcrypt_handler_pt  handler;   /* in the event loop */
    void                        *data;

    ngx_uint_t                   match;        /* the result */
    ngx_err_t                    err;          /* crypt_rn() failed */
    ngx_msec_t                   usec;         /* time spent in bcrypt */
};


/* waiter->wake's handler and data must be set first */
void ngx_iot_auth_flight_wait(ngx_iot_auth_waiter_t *waiter);
void ngx_iot_auth_flight_unwait(ngx_iot_auth_waiter_t *waiter);
/* wakes the waiters of the workers whose bits are set */
void ngx_iot_auth_flight_wake(uint64_t workers);

/*
 * runs bcrypt(token) against hash in the pool, in a thread that first
 * sets its own priority as prio says; NULL if it could not be queued.
 * The handler is called once, and the bcrypt freed after it
 */
ngx_iot_auth_bcrypt_t *ngx_iot_auth_flight_bcrypt(ngx_thread_pool_t *tp,
    ngx_iot_auth_priority_t *prio, ngx_str_t *token, u_char *hash,
    ngx_log_t *log, ngx_iot_auth_bcrypt_handler_pt handler, void *data);
/* bcrypts of this worker queued or running */
ngx_uint_t ngx_iot_auth_flight_pending(void);

ngx_int_t ngx_iot_auth_flight_init_module(ngx_cycle_t *cycle);
ngx_int_t ngx_iot_auth_flight_init_process(ngx_cycle_t *cycle);


#endif /* _NGX_IOT_AUTH_FLIGHT_H_INCLUDED_ */
