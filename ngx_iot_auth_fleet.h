
/*
 * Copyright (C) ngx_iot_auth authors
 */


/*
 * The fleet (iot_auth_fleet on): gateways that share one Redis share
 * their verdicts, their verifications and their lockout counts.  This
 * file speaks the fleet's protocol over the Redis client: the keys and
 * their lifetimes, the commands, and strict checks of every reply (a
 * reply of the wrong type or size is an error line and NGX_ERROR, never
 * a verdict).  Called by the engine, which decides; calls the Redis
 * client only.  The keys, under the prefix P (fleet_prefix=):
 *
 *   P v:STORE:DEVICE                 the shared verdict: the digest of
 *                                    the device's last good token and
 *                                    the fingerprint of the hash it
 *                                    matched, for the zone's ttl
 *   P f:STORE:DIGEST:FPRINT:DEVICE   a verification: the claim of the
 *                                    gateway that runs it, for
 *                                    wait_timeout; then its outcome for
 *                                    its waiters
 *   P k:STORE:DEVICE                 verifications of wrong tokens in
 *                                    the lockout window (and in flight)
 *   P x:STORE:DEVICE                 the device is locked out
 *
 * and the channel P wake, where the end of each verification is
 * published as "STORE:DIGEST:DEVICE".  STORE is the store's id in hex,
 * DIGEST and FPRINT are the zone's HMACs in hex: nothing from which a
 * token or a hash can be recovered.
 */


#ifndef _NGX_IOT_AUTH_FLEET_H_INCLUDED_
#define _NGX_IOT_AUTH_FLEET_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_iot_auth_cache.h"
#include "ngx_iot_auth_redis.h"


/* what a verification is: the names of its keys are made of it */

typedef struct {
    uint64_t                     store;
    ngx_str_t                    device;
    u_char                       digest[NGX_IOT_AUTH_DIGEST_LEN];
    u_char                       fprint[NGX_IOT_AUTH_FPRINT_LEN];
} ngx_iot_auth_fleet_key_t;


/* the lifetimes and limits of a verification's keys */

typedef struct {
    ngx_msec_t                   ttl;          /* of a shared verdict */
    ngx_msec_t                   lease;        /* of a claim */
    ngx_msec_t                   keep;         /* of an outcome */
    ngx_iot_auth_lockout_t      *lockout;
} ngx_iot_auth_fleet_terms_t;


typedef enum {
    NGX_IOT_AUTH_FLEET_OWN = 0,  /* the claim is ours: verify */
    NGX_IOT_AUTH_FLEET_BUSY,     /* another gateway verifies it */
    NGX_IOT_AUTH_FLEET_MATCHED,  /* verified: the verdict is shared */
    NGX_IOT_AUTH_FLEET_FAILED,   /* verified: a wrong token */
    NGX_IOT_AUTH_FLEET_REFUSED   /* too many failures: locked out */
} ngx_iot_auth_fleet_claim_e;


/* what a claim holds: "o" GATEWAY ":" COUNTER */
#define NGX_IOT_AUTH_FLEET_CLAIM_LEN  (1 + 16 + 1 + NGX_INT64_LEN)


/* the fleet's answers, valid when rc is NGX_OK, and the claim made */

typedef struct {
    ngx_int_t                    rc;
    u_char                       digest[NGX_IOT_AUTH_DIGEST_LEN];
    u_char                       fprint[NGX_IOT_AUTH_FPRINT_LEN];
    ngx_msec_t                   locked;       /* left of a lockout */
    ngx_iot_auth_fleet_claim_e   claim;
    ngx_uint_t                   attempt;      /* of an owned claim: the
                                                  failures of the window
                                                  and the flights, it
                                                  included */
    u_char                       id[NGX_IOT_AUTH_FLEET_CLAIM_LEN + 1];
                                               /* the claim asked for */
    unsigned                     verdict:1;    /* digest and fprint set */
} ngx_iot_auth_fleet_answer_t;


typedef void (*ngx_iot_auth_fleet_handler_pt)(void *data);


/* the channel the subscriber listens to, from fleet_prefix= */
ngx_int_t ngx_iot_auth_fleet_init_process(ngx_cycle_t *cycle,
    ngx_str_t *prefix, ngx_str_t *channel);

/*
 * NGX_OK: the handler is called once from a posted event, with the
 * answer filled; NGX_ERROR: Redis is down, it is not called
 */
/* the shared verdict of (store, device), and its lockout with terms */
ngx_int_t ngx_iot_auth_fleet_read(ngx_iot_auth_fleet_key_t *key,
    ngx_iot_auth_fleet_terms_t *terms, ngx_iot_auth_fleet_answer_t *answer,
    ngx_log_t *log, ngx_iot_auth_fleet_handler_pt handler, void *data);
/* claims the verification of key, or says who has it and how it ended */
ngx_int_t ngx_iot_auth_fleet_claim(ngx_iot_auth_fleet_key_t *key,
    ngx_iot_auth_fleet_terms_t *terms, ngx_iot_auth_fleet_answer_t *answer,
    ngx_log_t *log, ngx_iot_auth_fleet_handler_pt handler, void *data);

/*
 * The owner of a claim (answer of ngx_iot_auth_fleet_claim()) tells
 * the fleet how it ended, and wakes the other gateways' waiters; a re-
 * check that confirmed a verdict keeps it shared for another ttl.  No
 * answer: failures are logged
 */
void ngx_iot_auth_fleet_finish(ngx_iot_auth_fleet_key_t *key,
    ngx_iot_auth_fleet_terms_t *terms, ngx_iot_auth_fleet_answer_t *claim,
    ngx_iot_auth_outcome_e outcome);
void ngx_iot_auth_fleet_keep(ngx_iot_auth_fleet_key_t *key,
    ngx_msec_t ttl);

/* a message of the fleet's channel: the verification that ended */
ngx_int_t ngx_iot_auth_fleet_parse_wake(ngx_str_t *payload,
    uint64_t *store, u_char *digest, ngx_str_t *device);


#endif /* _NGX_IOT_AUTH_FLEET_H_INCLUDED_ */
