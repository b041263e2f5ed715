
/*
 * Copyright (C) ngx_iot_auth authors
 */


/*
 * The zone: verdicts, failed tokens, lockout counts and flights of every
 * (credential store, device) pair, in shared memory, for all workers.
 * Every function takes the zone's mutex itself and returns a decision;
 * none of them calls back into the engine.  The memory layout is
 * private to ngx_iot_auth_cache.c.
 */


#ifndef _NGX_IOT_AUTH_CACHE_H_INCLUDED_
#define _NGX_IOT_AUTH_CACHE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_iot_auth_record.h"
#include "ngx_iot_auth_hmac.h"


#define NGX_IOT_AUTH_DIGEST_LEN      NGX_IOT_AUTH_HMAC_LEN
#define NGX_IOT_AUTH_FPRINT_LEN      16
#define NGX_IOT_AUTH_KEY_LEN         32


/* how a request was decided: $iot_auth_result and the metrics' label */

typedef enum {
    NGX_IOT_AUTH_HIT = 0,
    NGX_IOT_AUTH_REVALIDATED,
    NGX_IOT_AUTH_MISS,
    NGX_IOT_AUTH_WAIT,
    NGX_IOT_AUTH_REFRESH,
    NGX_IOT_AUTH_STALE,
    NGX_IOT_AUTH_NEGATIVE,
    NGX_IOT_AUTH_DENIED,
    NGX_IOT_AUTH_UNKNOWN,
    NGX_IOT_AUTH_LOCKED,
    NGX_IOT_AUTH_FORBIDDEN,
    NGX_IOT_AUTH_BUSY,
    NGX_IOT_AUTH_ERROR,
    NGX_IOT_AUTH_SHARED,         /* fleet mode only: listed last */
    NGX_IOT_AUTH_NRESULTS
} ngx_iot_auth_result_e;


/* what the zone tells the engine to do next with a request */

typedef enum {
    NGX_IOT_AUTH_ALLOW = 0,      /* decided: let in (result, perms set) */
    NGX_IOT_AUTH_REJECT,         /* decided: refuse (result set) */
    NGX_IOT_AUTH_CHECK,          /* read the store again for the verdict */
    NGX_IOT_AUTH_OWN,            /* read the store and run the bcrypt */
    NGX_IOT_AUTH_JOIN,           /* wait for the flight it joined */
    NGX_IOT_AUTH_THROTTLE        /* no room for one more bcrypt */
} ngx_iot_auth_action_e;


/* how a flight ended */

typedef enum {
    NGX_IOT_AUTH_MATCH = 0,
    NGX_IOT_AUTH_MISMATCH,
    NGX_IOT_AUTH_NO_DEVICE,      /* the store has no usable record */
    NGX_IOT_AUTH_NO_ANSWER,      /* no verdict: store down, pool full */
    NGX_IOT_AUTH_FLEET_MISMATCH, /* another gateway's bcrypt failed: a
                                    failure it counted, not this one */
    NGX_IOT_AUTH_FLEET_LOCKED    /* the fleet locked the device out for
                                    the ticket's "locked" */
} ngx_iot_auth_outcome_e;


typedef enum {
    NGX_IOT_AUTH_BACKEND_FILE = 0,
    NGX_IOT_AUTH_BACKEND_REDIS,
    NGX_IOT_AUTH_NBACKENDS
} ngx_iot_auth_backend_e;


typedef struct {
    ngx_uint_t                   failures;     /* 0: lockout off */
    ngx_msec_t                   window;
    ngx_msec_t                   duration;
} ngx_iot_auth_lockout_t;


/* what a verdict remembers of the stored credential it was made with */

typedef struct {
    u_char                       fprint[NGX_IOT_AUTH_FPRINT_LEN];
    uint32_t                     perms;
    uint64_t                     version;      /* of the store */
    uint64_t                     epoch;        /* of the zone, when it was
                                                  read */
} ngx_iot_auth_cred_t;


typedef struct ngx_iot_auth_sh_s  ngx_iot_auth_sh_t;
typedef struct ngx_iot_auth_counters_s  ngx_iot_auth_counters_t;


/* a zone as one process sees it (shm_zone->data) */

typedef struct {
    ngx_iot_auth_sh_t           *sh;           /* the shared state */
    ngx_slab_pool_t             *shpool;
    ngx_shm_zone_t              *shm_zone;
    ngx_msec_t                   ttl;          /* of a verdict */
    ngx_msec_t                   negative_ttl; /* of a failure, an unknown */
    ngx_uint_t                   refresh;      /* % of ttl: re-check after */
    ngx_str_t                   *secret;       /* iot_auth_secret_file */
    ngx_iot_auth_hmac_t          hmac;         /* HMAC-SHA256 under the key */
    ngx_iot_auth_counters_t     *counters;     /* this process's, in sh */
} ngx_iot_auth_zone_t;


/*
 * a request as the zone sees it: what it asks, where it stands in a
 * flight, and what it was told.  Kept by the engine between decisions,
 * read and written by the zone only under its mutex
 */

typedef struct {
    ngx_str_t                    device;
    u_char                       digest[NGX_IOT_AUTH_DIGEST_LEN];
    uint64_t                     store;        /* the store's id */
    uint64_t                     version;      /* the store's version */
    ngx_iot_auth_lockout_t      *lockout;
    ngx_msec_t                   wait_timeout; /* a flight's deadline */

    uint64_t                     flight;       /* waited for or owned */
    uint64_t                     claim;        /* the owner's claim on it */
    ngx_pid_t                    took_over;    /* the owner it replaced */

    uint64_t                     epoch;        /* the zone's, at the last
                                                  decision */
    uint64_t                     signals;      /* of its flight, seen */
    ngx_msec_t                   locked;       /* FLEET_LOCKED: for so long */

    ngx_iot_auth_result_e        result;
    uint32_t                     perms;

    unsigned                     may_start:1;  /* room for a bcrypt */
    unsigned                     waiting:1;    /* counted as a waiter */
    unsigned                     waited:1;     /* has waited: a HIT is WAIT */
    unsigned                     recheck:1;    /* a verdict of an earlier
                                                  epoch is checked again */
} ngx_iot_auth_ticket_t;


/* a zone's numbers, for the status page */

typedef struct {
    ngx_uint_t                   requests[NGX_IOT_AUTH_NRESULTS];
    ngx_uint_t                   bcrypt[2];    /* match, mismatch */
    ngx_uint_t                   bcrypt_usec;
    ngx_uint_t                   evictions;
    ngx_uint_t                   backend_errors[NGX_IOT_AUTH_NBACKENDS];
    ngx_uint_t                   fleet_errors;
    ngx_uint_t                   entries;
    ngx_uint_t                   flights;
    ngx_uint_t                   waiters;
} ngx_iot_auth_metrics_t;


ngx_int_t ngx_iot_auth_cache_init_zone(ngx_shm_zone_t *shm_zone, void *data);
/* in a process that serves requests: its counters in the zone */
ngx_int_t ngx_iot_auth_cache_init_process(ngx_iot_auth_zone_t *zone,
    ngx_log_t *log);
void ngx_iot_auth_cache_exit_process(ngx_iot_auth_zone_t *zone);

/* digest = HMAC-SHA256(key, device 0x00 token) */
void ngx_iot_auth_cache_digest(ngx_iot_auth_zone_t *zone, ngx_str_t *device,
    ngx_str_t *token, u_char *digest);
/* the fingerprint of a stored hash a verdict remembers */
void ngx_iot_auth_cache_fingerprint(ngx_iot_auth_zone_t *zone, u_char *hash,
    u_char *fprint);

/* decides a request from the zone: at first, and after every wait */
ngx_iot_auth_action_e ngx_iot_auth_cache_decide(ngx_iot_auth_zone_t *zone,
    ngx_iot_auth_ticket_t *t);
/* decides again once the store was read for a CHECK (cred NULL: gone) */
ngx_iot_auth_action_e ngx_iot_auth_cache_revalidate(
    ngx_iot_auth_zone_t *zone, ngx_iot_auth_ticket_t *t,
    ngx_iot_auth_cred_t *cred);
/* allows t's token for stale_if_error past its verdict's expiry */
ngx_int_t ngx_iot_auth_cache_stale(ngx_iot_auth_zone_t *zone,
    ngx_iot_auth_ticket_t *t, ngx_msec_t stale_if_error);
/* records how t's flight ended; returns the workers to wake */
uint64_t ngx_iot_auth_cache_end_flight(ngx_iot_auth_zone_t *zone,
    ngx_iot_auth_ticket_t *t, ngx_iot_auth_outcome_e outcome,
    ngx_iot_auth_cred_t *cred);

/*
 * a background re-check of a verdict answered (cred NULL: gone); NGX_OK
 * when it extended the verdict
 */
ngx_int_t ngx_iot_auth_cache_refresh(ngx_iot_auth_zone_t *zone,
    uint64_t store, ngx_str_t *device, u_char *digest,
    ngx_iot_auth_cred_t *cred);
/* drops the device's verdicts in every store; keeps its lockout */
void ngx_iot_auth_cache_revoke(ngx_iot_auth_zone_t *zone, ngx_str_t *device);

/*
 * Revocations may have been missed: every verdict of a ticket with
 * "recheck" made before now is checked against its store again.
 * ngx_iot_auth_cache_subscribed() says that this process listens to
 * revocations (up) or no longer does; NGX_OK or NGX_DONE (nobody
 * listened before) when the epoch moved on: nobody listened in between
 */
void ngx_iot_auth_cache_new_epoch(ngx_iot_auth_zone_t *zone);
ngx_int_t ngx_iot_auth_cache_subscribed(ngx_iot_auth_zone_t *zone,
    ngx_uint_t up);

/*
 * the owner of t's flight waits for the fleet: its worker is rung with
 * the flight's waiters.  signaled: the fleet spoke of the flight (or
 * the epoch moved on) since; signal: the fleet says a verification of
 * (store, device, digest) ended, returns the workers to wake
 */
void ngx_iot_auth_cache_fleet_wait(ngx_iot_auth_zone_t *zone,
    ngx_iot_auth_ticket_t *t);
ngx_uint_t ngx_iot_auth_cache_fleet_signaled(ngx_iot_auth_zone_t *zone,
    ngx_iot_auth_ticket_t *t);
uint64_t ngx_iot_auth_cache_fleet_signal(ngx_iot_auth_zone_t *zone,
    uint64_t store, ngx_str_t *device, u_char *digest);

/* counted by this process, summed by ngx_iot_auth_cache_metrics() */
void ngx_iot_auth_cache_count(ngx_iot_auth_zone_t *zone,
    ngx_iot_auth_result_e result);
void ngx_iot_auth_cache_count_bcrypt(ngx_iot_auth_zone_t *zone,
    ngx_uint_t match, ngx_msec_t usec);
void ngx_iot_auth_cache_count_backend_error(ngx_iot_auth_zone_t *zone,
    ngx_iot_auth_backend_e backend);
void ngx_iot_auth_cache_count_fleet_error(ngx_iot_auth_zone_t *zone);
void ngx_iot_auth_cache_metrics(ngx_iot_auth_zone_t *zone,
    ngx_iot_auth_metrics_t *m);

/*
 * a zone that another module's copy of the engine made (the HTTP status
 * page reads the stream module's zones): NGX_OK with view set up for
 * ngx_iot_auth_cache_metrics() when its shared header is laid out as
 * this copy's, NGX_DECLINED otherwise.  shm_zone must be a zone of
 * ngx_iot_auth, found by its tag
 */
ngx_int_t ngx_iot_auth_cache_view(ngx_shm_zone_t *shm_zone,
    ngx_iot_auth_zone_t *view);


#endif /* _NGX_IOT_AUTH_CACHE_H_INCLUDED_ */
