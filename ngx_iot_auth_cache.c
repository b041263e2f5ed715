
/*
 * Copyright (C) ngx_iot_auth authors
 */


/*
 * The zone (see ngx_iot_auth_cache.h): everything that runs under the
 * zone's mutex.  One entry per (credential store, device) in a red-black
 * tree and two LRU lists; each entry holds the device's verdict, its
 * last failed tokens, its lockout counts and its flights (bcrypts in
 * progress, and failed ones whose waiters have not taken the outcome).
 * Calls nothing of the module but ngx_iot_auth_record.h's constants.
 */


#include "ngx_iot_auth_cache.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>


#define NGX_IOT_AUTH_NEGATIVES       4

/* how many entries one allocation may evict before it gives up */
#define NGX_IOT_AUTH_EVICT_TRIES     16

/* how far from the LRU tail eviction looks for an entry not in flight */
#define NGX_IOT_AUTH_EVICT_SCAN      32

/* a flight this much past its deadline is taken over even from a live owner */
#define NGX_IOT_AUTH_FLIGHT_MAX_AGE  60000

/*
 * how long a failed flight keeps its outcome for waiters that have not
 * looked yet: they are woken at once, or by the safety net
 */
#define NGX_IOT_AUTH_OUTCOME_KEEP    5000

/* the verdict table: a slot per this many bytes of zone, in sets of 4 */
#define NGX_IOT_AUTH_VERDICT_SPACE   1024
#define NGX_IOT_AUTH_VERDICT_WAYS    4


typedef struct {
    u_char                       digest[NGX_IOT_AUTH_DIGEST_LEN];
    ngx_msec_t                   expire;
} ngx_iot_auth_negative_t;


/*
 * one (store, device) pair; the device id follows the structure.  Its
 * verdict, failed tokens, lockout counts and last good token belong to
 * that store alone
 */

typedef struct {
    ngx_rbtree_node_t            node;         /* key: crc32 of the id */
    ngx_queue_t                  queue;        /* in sh->verified/negative */
    ngx_queue_t                  flights;      /* ngx_iot_auth_flight_t */
    ngx_msec_t                   expire;       /* of the verdict, or of
                                                  the unknown mark */
    ngx_msec_t                   window_start; /* of the lockout window */
    ngx_msec_t                   locked_until;
    uint64_t                     store;        /* part of the key */
    uint64_t                     version;      /* of the store the verdict
                                                  (or unknown mark) was
                                                  made with */
    uint64_t                     epoch;        /* the zone's, when the
                                                  record was read */
    u_char                       digest[NGX_IOT_AUTH_DIGEST_LEN];
                                               /* of the last good token */
    u_char                       fprint[NGX_IOT_AUTH_FPRINT_LEN];
                                               /* of the hash it matched */
    ngx_iot_auth_negative_t      negatives[NGX_IOT_AUTH_NEGATIVES];
    uint32_t                     perms;        /* of the verdict */
    uint32_t                     failures;     /* in the lockout window */
    unsigned                     good:1;       /* digest is the last good
                                                  token, under the current
                                                  hash */
    unsigned                     retired:1;    /* digest was good under a
                                                  hash since changed */
    unsigned                     verified:1;   /* holds a verdict: in the
                                                  verified LRU */
    unsigned                     refreshing:1; /* a re-check is under way */
    unsigned                     unknown:1;    /* the store has no record,
                                                  until expire */
    unsigned                     next_negative:2;
    unsigned                     len:8;        /* of the id */
    u_char                       id[1];
} ngx_iot_auth_node_t;


/*
 * a bcrypt in progress for one (store, device, digest); a failed one
 * stays, done, until its waiters have taken its outcome
 */

typedef struct {
    ngx_queue_t                  queue;        /* in node->flights */
    u_char                       digest[NGX_IOT_AUTH_DIGEST_LEN];
    uint64_t                     generation;   /* waiters hold it */
    uint64_t                     claim;        /* renewed by a takeover */
    uint64_t                     workers;      /* bits of waiters' workers */
    uint64_t                     signals;      /* the fleet spoke of it */
    ngx_msec_t                   deadline;     /* live: a takeover may come
                                                  after it; done: freed */
    ngx_pid_t                    owner;
    ngx_uint_t                   waiters;
    ngx_iot_auth_outcome_e       outcome;      /* once done */
    unsigned                     done:1;
} ngx_iot_auth_flight_t;


/*
 * a copy of a live verdict, in the verdict table: what a HIT needs,
 * found by the digest alone and read without the zone's mutex.  Written
 * only under the mutex, with seq odd while it is written; a reader
 * that sees seq odd or changed takes the mutex.  expire 0: no verdict
 */

typedef struct {
    uint32_t                     seq;
    uint32_t                     perms;
    ngx_msec_t                   expire;
    uint64_t                     store;
    uint64_t                     version;
    uint64_t                     epoch;
    u_char                       digest[NGX_IOT_AUTH_DIGEST_LEN];
} ngx_iot_auth_verdict_t;


/*
 * the counters of one process: written by that process alone, without
 * a lock or an atomic operation; the status page sums them.  A process
 * that exits leaves its counts to the next one that takes the slot
 */

struct ngx_iot_auth_counters_s {
    ngx_queue_t                  queue;        /* in sh->counters */
    ngx_pid_t                    pid;          /* 0: free */
    ngx_uint_t                   requests[NGX_IOT_AUTH_NRESULTS];
    ngx_uint_t                   bcrypt[2];    /* match, mismatch */
    ngx_uint_t                   bcrypt_usec;
    ngx_uint_t                   backend_errors[NGX_IOT_AUTH_NBACKENDS];
    ngx_uint_t                   fleet_errors;
};


/*
 * The shared header.  Each front end's .so has its own copy of this
 * file, and the HTTP status page also reads the zones of the stream
 * module: the marker, the layout number and the size, first and never
 * moved, say that a zone is laid out as this copy expects.  Change
 * NGX_IOT_AUTH_ZONE_LAYOUT with any change below them.
 */

#define NGX_IOT_AUTH_ZONE_MAGIC      0x494f542d41555448  /* "IOT-AUTH" */
#define NGX_IOT_AUTH_ZONE_LAYOUT     1

struct ngx_iot_auth_sh_s {
    uint64_t                     magic;
    uint32_t                     layout;
    uint32_t                     size;         /* of this structure */
    ngx_rbtree_t                 rbtree;
    ngx_rbtree_node_t            sentinel;
    ngx_queue_t                  verified;     /* LRU, entries with a verdict */
    ngx_queue_t                  negative;     /* LRU, the others: evicted
                                                  first */
    uint64_t                     generation;   /* last flight or claim made */
    uint64_t                     epoch;        /* revocations may have been
                                                  missed before it */
    ngx_pid_t                    subscriber;   /* hears revocations */
    ngx_uint_t                   entries;
    ngx_uint_t                   flights;      /* in progress */
    ngx_uint_t                   waiters;      /* of flights in progress */
    ngx_uint_t                   evictions;
    ngx_queue_t                  counters;     /* ngx_iot_auth_counters_t */
    ngx_iot_auth_verdict_t      *verdicts;     /* the verdict table */
    ngx_uint_t                   sets;         /* its sets, a power of 2 */
    u_char                       key[NGX_IOT_AUTH_KEY_LEN];
};


static void ngx_iot_auth_cache_init_key(ngx_iot_auth_zone_t *zone);
static ngx_iot_auth_action_e ngx_iot_auth_cache_decide_locked(
    ngx_iot_auth_zone_t *zone, ngx_iot_auth_node_t *node,
    ngx_iot_auth_ticket_t *t);
static ngx_iot_auth_action_e ngx_iot_auth_cache_verdict_locked(
    ngx_iot_auth_zone_t *zone, ngx_iot_auth_node_t *node,
    ngx_iot_auth_ticket_t *t);
static ngx_iot_auth_action_e ngx_iot_auth_cache_outcome_locked(
    ngx_iot_auth_node_t *node, ngx_iot_auth_ticket_t *t);
static ngx_iot_auth_action_e ngx_iot_auth_cache_admit_locked(
    ngx_iot_auth_zone_t *zone, ngx_iot_auth_node_t *node,
    ngx_iot_auth_ticket_t *t);
static ngx_iot_auth_action_e ngx_iot_auth_cache_settle_locked(
    ngx_iot_auth_zone_t *zone, ngx_iot_auth_node_t *node,
    ngx_iot_auth_ticket_t *t, ngx_iot_auth_action_e action);
static ngx_int_t ngx_iot_auth_cache_negative_locked(ngx_iot_auth_node_t *node,
    u_char *digest);
static ngx_uint_t ngx_iot_auth_cache_failures_locked(
    ngx_iot_auth_node_t *node, ngx_iot_auth_lockout_t *lockout);
static void ngx_iot_auth_cache_failure_locked(ngx_iot_auth_node_t *node,
    ngx_iot_auth_lockout_t *lockout);
static void ngx_iot_auth_cache_good_locked(ngx_iot_auth_zone_t *zone,
    ngx_iot_auth_node_t *node, u_char *digest, ngx_iot_auth_cred_t *cred);
static void ngx_iot_auth_cache_bad_locked(ngx_iot_auth_zone_t *zone,
    ngx_iot_auth_node_t *node, ngx_iot_auth_ticket_t *t, ngx_uint_t count);
static void ngx_iot_auth_cache_lock_out_locked(ngx_iot_auth_node_t *node,
    ngx_msec_t duration);
static void ngx_iot_auth_cache_unknown_locked(ngx_iot_auth_zone_t *zone,
    ngx_iot_auth_node_t *node, uint64_t version);
static void ngx_iot_auth_cache_retire_locked(ngx_iot_auth_zone_t *zone,
    ngx_iot_auth_node_t *node);
static ngx_int_t ngx_iot_auth_cache_recheck_locked(ngx_iot_auth_zone_t *zone,
    ngx_iot_auth_node_t *node, ngx_iot_auth_cred_t *cred);

static ngx_inline ngx_uint_t ngx_iot_auth_cache_same(u_char *a, u_char *b);
static ngx_int_t ngx_iot_auth_cache_init_verdicts(ngx_shm_zone_t *shm_zone,
    ngx_iot_auth_zone_t *zone);
static ngx_int_t ngx_iot_auth_cache_hit(ngx_iot_auth_zone_t *zone,
    ngx_iot_auth_ticket_t *t);
static ngx_iot_auth_verdict_t *ngx_iot_auth_cache_verdicts(
    ngx_iot_auth_zone_t *zone, u_char *digest);
static void ngx_iot_auth_cache_publish_locked(ngx_iot_auth_zone_t *zone,
    ngx_iot_auth_node_t *node);
static void ngx_iot_auth_cache_unpublish_locked(ngx_iot_auth_zone_t *zone,
    ngx_iot_auth_node_t *node);
static void ngx_iot_auth_cache_write_verdict_locked(ngx_iot_auth_verdict_t *v,
    ngx_iot_auth_node_t *node);

static ngx_iot_auth_flight_t *ngx_iot_auth_flight_find_locked(
    ngx_iot_auth_node_t *node, u_char *digest);
static ngx_iot_auth_flight_t *ngx_iot_auth_flight_of_locked(
    ngx_iot_auth_node_t *node, ngx_iot_auth_ticket_t *t);
static ngx_iot_auth_flight_t *ngx_iot_auth_flight_owned_locked(
    ngx_iot_auth_zone_t *zone, ngx_iot_auth_ticket_t *t);
static ngx_iot_auth_flight_t *ngx_iot_auth_flight_new_locked(
    ngx_iot_auth_zone_t *zone, ngx_iot_auth_node_t *node,
    ngx_iot_auth_ticket_t *t);
static void ngx_iot_auth_flight_join_locked(ngx_iot_auth_zone_t *zone,
    ngx_iot_auth_node_t *node, ngx_iot_auth_flight_t *f,
    ngx_iot_auth_ticket_t *t);
static void ngx_iot_auth_flight_take_over_locked(ngx_iot_auth_zone_t *zone,
    ngx_iot_auth_flight_t *f, ngx_iot_auth_ticket_t *t);
static uint64_t ngx_iot_auth_flight_finish_locked(ngx_iot_auth_zone_t *zone,
    ngx_iot_auth_node_t *node, ngx_iot_auth_ticket_t *t,
    ngx_iot_auth_outcome_e outcome);
static void ngx_iot_auth_flight_leave_locked(ngx_iot_auth_zone_t *zone,
    ngx_iot_auth_node_t *node, ngx_iot_auth_ticket_t *t);
static ngx_uint_t ngx_iot_auth_flight_abandoned(ngx_iot_auth_flight_t *f);
static ngx_uint_t ngx_iot_auth_flight_count_locked(ngx_iot_auth_node_t *node);
static void ngx_iot_auth_flight_reap_locked(ngx_iot_auth_zone_t *zone,
    ngx_iot_auth_node_t *node);
static void ngx_iot_auth_flight_free_locked(ngx_iot_auth_zone_t *zone,
    ngx_iot_auth_flight_t *f);

static ngx_iot_auth_node_t *ngx_iot_auth_cache_get_locked(
    ngx_iot_auth_zone_t *zone, ngx_iot_auth_ticket_t *t);
static ngx_iot_auth_node_t *ngx_iot_auth_cache_find_locked(
    ngx_iot_auth_zone_t *zone, uint64_t store, ngx_str_t *id);
static ngx_iot_auth_node_t *ngx_iot_auth_cache_first_locked(
    ngx_iot_auth_zone_t *zone, ngx_str_t *id);
static ngx_int_t ngx_iot_auth_cache_cmp(uint64_t store, ngx_str_t *id,
    ngx_iot_auth_node_t *node);
static ngx_iot_auth_node_t *ngx_iot_auth_cache_create_locked(
    ngx_iot_auth_zone_t *zone, uint64_t store, ngx_str_t *id);
static void *ngx_iot_auth_cache_alloc_locked(ngx_iot_auth_zone_t *zone,
    size_t size, void *keep);
static void ngx_iot_auth_cache_rbtree_insert_value(ngx_rbtree_node_t *temp,
    ngx_rbtree_node_t *node, ngx_rbtree_node_t *sentinel);
static ngx_int_t ngx_iot_auth_cache_evict_locked(ngx_iot_auth_zone_t *zone,
    void *keep);
static ngx_int_t ngx_iot_auth_cache_evict_from_locked(
    ngx_iot_auth_zone_t *zone, ngx_queue_t *queue, void *keep);
static void ngx_iot_auth_cache_delete_locked(ngx_iot_auth_zone_t *zone,
    ngx_iot_auth_node_t *node);
static void ngx_iot_auth_cache_touch_locked(ngx_iot_auth_zone_t *zone,
    ngx_iot_auth_node_t *node);


ngx_int_t
ngx_iot_auth_cache_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_iot_auth_zone_t  *ozone = data;

    size_t                len;
    ngx_iot_auth_zone_t  *zone;

    zone = shm_zone->data;

    if (ozone) {
        zone->sh = ozone->sh;
        zone->shpool = ozone->shpool;

        ngx_iot_auth_cache_init_key(zone);

        return NGX_OK;
    }

    zone->shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    if (shm_zone->shm.exists) {
        zone->sh = zone->shpool->data;

        ngx_iot_auth_cache_init_key(zone);

        return NGX_OK;
    }

    zone->sh = ngx_slab_calloc(zone->shpool, sizeof(ngx_iot_auth_sh_t));
    if (zone->sh == NULL) {
        return NGX_ERROR;
    }

    zone->shpool->data = zone->sh;

    zone->sh->magic = NGX_IOT_AUTH_ZONE_MAGIC;
    zone->sh->layout = NGX_IOT_AUTH_ZONE_LAYOUT;
    zone->sh->size = sizeof(ngx_iot_auth_sh_t);

    ngx_rbtree_init(&zone->sh->rbtree, &zone->sh->sentinel,
                    ngx_iot_auth_cache_rbtree_insert_value);

    ngx_queue_init(&zone->sh->verified);
    ngx_queue_init(&zone->sh->negative);
    ngx_queue_init(&zone->sh->counters);

    if (ngx_iot_auth_cache_init_verdicts(shm_zone, zone) != NGX_OK) {
        return NGX_ERROR;
    }

    if (RAND_bytes(zone->sh->key, NGX_IOT_AUTH_KEY_LEN) != 1) {
        ngx_log_error(NGX_LOG_EMERG, shm_zone->shm.log, 0,
                      "RAND_bytes() failed for iot_auth zone \"%V\"",
                      &shm_zone->shm.name);
        return NGX_ERROR;
    }

    len = sizeof(" in iot_auth zone \"\"") + shm_zone->shm.name.len;

    zone->shpool->log_ctx = ngx_slab_alloc(zone->shpool, len);
    if (zone->shpool->log_ctx == NULL) {
        return NGX_ERROR;
    }

    ngx_sprintf(zone->shpool->log_ctx, " in iot_auth zone \"%V\"%Z",
                &shm_zone->shm.name);

    zone->shpool->log_nomem = 0;

    ngx_iot_auth_cache_init_key(zone);

    return NGX_OK;
}


static void
ngx_iot_auth_cache_init_key(ngx_iot_auth_zone_t *zone)
{
    if (zone->secret->len) {
        ngx_iot_auth_hmac_init(&zone->hmac, zone->secret->data,
                               zone->secret->len);

    } else {
        ngx_iot_auth_hmac_init(&zone->hmac, zone->sh->key,
                               NGX_IOT_AUTH_KEY_LEN);
    }
}


/*
 * whether two digests are equal, in constant time; CRYPTO_memcmp()
 * compares a byte at a time, at several times the cost
 */

static ngx_inline ngx_uint_t
ngx_iot_auth_cache_same(u_char *a, u_char *b)
{
    uint64_t    x, y, d;
    ngx_uint_t  i;

    d = 0;

    for (i = 0; i < NGX_IOT_AUTH_DIGEST_LEN; i += sizeof(uint64_t)) {
        ngx_memcpy(&x, a + i, sizeof(uint64_t));
        ngx_memcpy(&y, b + i, sizeof(uint64_t));
        d |= x ^ y;
    }

    return d == 0;
}


/* the verdict table: a slot per NGX_IOT_AUTH_VERDICT_SPACE bytes */

static ngx_int_t
ngx_iot_auth_cache_init_verdicts(ngx_shm_zone_t *shm_zone,
    ngx_iot_auth_zone_t *zone)
{
    size_t      size;
    ngx_uint_t  sets;

    sets = shm_zone->shm.size
           / (NGX_IOT_AUTH_VERDICT_SPACE * NGX_IOT_AUTH_VERDICT_WAYS);

    while (sets & (sets - 1)) {
        sets &= sets - 1;
    }

    size = sets * NGX_IOT_AUTH_VERDICT_WAYS * sizeof(ngx_iot_auth_verdict_t);

    zone->sh->verdicts = ngx_slab_calloc(zone->shpool, size);
    if (zone->sh->verdicts == NULL) {
        return NGX_ERROR;
    }

    zone->sh->sets = sets;

    return NGX_OK;
}


/*
 * digest = HMAC-SHA256(key, device 0x00 token); a device id is never
 * empty, so a fingerprint, HMAC-SHA256(key, 0x00 hash), cannot collide
 * with a digest
 */

void
ngx_iot_auth_cache_digest(ngx_iot_auth_zone_t *zone, ngx_str_t *device,
    ngx_str_t *token, u_char *digest)
{
    ngx_iot_auth_hmac(&zone->hmac, device->data, device->len, token->data,
                      token->len, digest);
}


void
ngx_iot_auth_cache_fingerprint(ngx_iot_auth_zone_t *zone, u_char *hash,
    u_char *fprint)
{
    u_char  digest[NGX_IOT_AUTH_DIGEST_LEN];

    ngx_iot_auth_hmac(&zone->hmac, (u_char *) "", 0, hash,
                      NGX_IOT_AUTH_HASH_LEN, digest);

    ngx_memcpy(fprint, digest, NGX_IOT_AUTH_FPRINT_LEN);
}


ngx_iot_auth_action_e
ngx_iot_auth_cache_decide(ngx_iot_auth_zone_t *zone, ngx_iot_auth_ticket_t *t)
{
    ngx_iot_auth_node_t    *node;
    ngx_iot_auth_action_e   action;

    /* a request that waited is decided from its flight: under the mutex */

    if (!t->waited && ngx_iot_auth_cache_hit(zone, t) == NGX_OK) {
        return NGX_IOT_AUTH_ALLOW;
    }

    ngx_shmtx_lock(&zone->shpool->mutex);

    t->epoch = zone->sh->epoch;

    node = ngx_iot_auth_cache_get_locked(zone, t);

    if (node == NULL) {
        ngx_shmtx_unlock(&zone->shpool->mutex);

        /* no memory even after eviction: verify without coalescing */

        t->flight = 0;
        t->waiting = 0;
        t->result = NGX_IOT_AUTH_BUSY;

        return t->may_start ? NGX_IOT_AUTH_OWN : NGX_IOT_AUTH_THROTTLE;
    }

    action = ngx_iot_auth_cache_decide_locked(zone, node, t);
    action = ngx_iot_auth_cache_settle_locked(zone, node, t, action);

    ngx_shmtx_unlock(&zone->shpool->mutex);

    return action;
}


ngx_iot_auth_action_e
ngx_iot_auth_cache_revalidate(ngx_iot_auth_zone_t *zone,
    ngx_iot_auth_ticket_t *t, ngx_iot_auth_cred_t *cred)
{
    ngx_iot_auth_node_t    *node;
    ngx_iot_auth_action_e   action;

    ngx_shmtx_lock(&zone->shpool->mutex);

    t->epoch = zone->sh->epoch;

    node = ngx_iot_auth_cache_get_locked(zone, t);

    if (node == NULL) {
        ngx_shmtx_unlock(&zone->shpool->mutex);

        t->flight = 0;
        t->waiting = 0;

        if (cred == NULL) {
            t->result = NGX_IOT_AUTH_UNKNOWN;
            return NGX_IOT_AUTH_REJECT;
        }

        t->result = NGX_IOT_AUTH_BUSY;

        return t->may_start ? NGX_IOT_AUTH_OWN : NGX_IOT_AUTH_THROTTLE;
    }

    if (node->good
        && ngx_iot_auth_cache_same(node->digest, t->digest)
        && ngx_iot_auth_cache_recheck_locked(zone, node, cred) == NGX_OK)
    {
        t->perms = cred->perms;
        action = NGX_IOT_AUTH_ALLOW;

    } else {
        if (cred == NULL) {
            ngx_iot_auth_cache_unknown_locked(zone, node, t->version);
        }

        action = ngx_iot_auth_cache_decide_locked(zone, node, t);
    }

    action = ngx_iot_auth_cache_settle_locked(zone, node, t, action);

    ngx_shmtx_unlock(&zone->shpool->mutex);

    return action;
}


/*
 * the store could not answer: the verdict of this very token, made by
 * this store, is served for stale_if_error past its expiry
 */

ngx_int_t
ngx_iot_auth_cache_stale(ngx_iot_auth_zone_t *zone, ngx_iot_auth_ticket_t *t,
    ngx_msec_t stale_if_error)
{
    ngx_int_t             rc;
    ngx_iot_auth_node_t  *node;

    rc = NGX_DECLINED;

    ngx_shmtx_lock(&zone->shpool->mutex);

    node = ngx_iot_auth_cache_find_locked(zone, t->store, &t->device);

    if (node && node->good
        && ngx_iot_auth_cache_same(node->digest, t->digest)
        && (ngx_msec_int_t) (node->expire + stale_if_error - ngx_current_msec)
           > 0)
    {
        t->perms = node->perms;
        rc = NGX_OK;
    }

    ngx_shmtx_unlock(&zone->shpool->mutex);

    return rc;
}


uint64_t
ngx_iot_auth_cache_end_flight(ngx_iot_auth_zone_t *zone,
    ngx_iot_auth_ticket_t *t, ngx_iot_auth_outcome_e outcome,
    ngx_iot_auth_cred_t *cred)
{
    uint64_t              workers;
    ngx_iot_auth_node_t  *node;

    ngx_shmtx_lock(&zone->shpool->mutex);

    node = (outcome == NGX_IOT_AUTH_NO_ANSWER)
           ? ngx_iot_auth_cache_find_locked(zone, t->store, &t->device)
           : ngx_iot_auth_cache_get_locked(zone, t);

    if (node == NULL) {
        ngx_shmtx_unlock(&zone->shpool->mutex);
        return 0;
    }

    switch (outcome) {

    case NGX_IOT_AUTH_MATCH:
        ngx_iot_auth_cache_good_locked(zone, node, t->digest, cred);
        break;

    case NGX_IOT_AUTH_MISMATCH:
    case NGX_IOT_AUTH_FLEET_MISMATCH:
        ngx_iot_auth_cache_bad_locked(zone, node, t,
                                      outcome == NGX_IOT_AUTH_MISMATCH);
        outcome = NGX_IOT_AUTH_MISMATCH;
        break;

    case NGX_IOT_AUTH_NO_DEVICE:
        ngx_iot_auth_cache_unknown_locked(zone, node, t->version);
        break;

    case NGX_IOT_AUTH_FLEET_LOCKED:

        if (t->lockout->failures) {
            ngx_iot_auth_cache_lock_out_locked(node, t->locked);
        }

        break;

    default: /* NGX_IOT_AUTH_NO_ANSWER */
        break;
    }

    workers = ngx_iot_auth_flight_finish_locked(zone, node, t, outcome);

    ngx_shmtx_unlock(&zone->shpool->mutex);

    return workers;
}


ngx_int_t
ngx_iot_auth_cache_refresh(ngx_iot_auth_zone_t *zone, uint64_t store,
    ngx_str_t *device, u_char *digest, ngx_iot_auth_cred_t *cred)
{
    ngx_int_t             rc;
    ngx_iot_auth_node_t  *node;

    rc = NGX_DECLINED;

    ngx_shmtx_lock(&zone->shpool->mutex);

    node = ngx_iot_auth_cache_find_locked(zone, store, device);

    if (node && node->good
        && ngx_iot_auth_cache_same(node->digest, digest))
    {
        rc = ngx_iot_auth_cache_recheck_locked(zone, node, cred);

        if (rc != NGX_OK && cred == NULL) {
            ngx_iot_auth_cache_unknown_locked(zone, node, node->version);
        }
    }

    ngx_shmtx_unlock(&zone->shpool->mutex);

    return rc;
}


/*
 * whoever can publish a device id must not be able to reset a lockout
 * with it: the counts stay
 */

void
ngx_iot_auth_cache_revoke(ngx_iot_auth_zone_t *zone, ngx_str_t *device)
{
    ngx_rbtree_node_t    *next;
    ngx_iot_auth_node_t  *node;

    ngx_shmtx_lock(&zone->shpool->mutex);

    for (node = ngx_iot_auth_cache_first_locked(zone, device);
         node != NULL;
         node = (ngx_iot_auth_node_t *) next)
    {
        ngx_iot_auth_cache_retire_locked(zone, node);
        node->unknown = 0;

        next = ngx_rbtree_next(&zone->sh->rbtree, &node->node);

        if (next == NULL
            || ngx_memn2cmp(device->data, ((ngx_iot_auth_node_t *) next)->id,
                            device->len, ((ngx_iot_auth_node_t *) next)->len)
               != 0)
        {
            break;
        }
    }

    ngx_shmtx_unlock(&zone->shpool->mutex);
}


/*
 * a process's counters: a free slot, or one whose process is gone, or
 * a new one
 */

ngx_int_t
ngx_iot_auth_cache_init_process(ngx_iot_auth_zone_t *zone, ngx_log_t *log)
{
    ngx_queue_t              *q;
    ngx_iot_auth_counters_t  *c;

    ngx_shmtx_lock(&zone->shpool->mutex);

    for (q = ngx_queue_head(&zone->sh->counters);
         q != ngx_queue_sentinel(&zone->sh->counters);
         q = ngx_queue_next(q))
    {
        c = ngx_queue_data(q, ngx_iot_auth_counters_t, queue);

        if (c->pid == 0 || c->pid == ngx_pid
            || (kill(c->pid, 0) == -1 && ngx_errno == NGX_ESRCH))
        {
            goto found;
        }
    }

    c = ngx_iot_auth_cache_alloc_locked(zone,
                                        sizeof(ngx_iot_auth_counters_t),
                                        NULL);
    if (c == NULL) {
        ngx_shmtx_unlock(&zone->shpool->mutex);

        ngx_log_error(NGX_LOG_ALERT, log, 0,
                      "could not allocate counters in iot_auth zone \"%V\"",
                      &zone->shm_zone->shm.name);
        return NGX_ERROR;
    }

    ngx_memzero(c, sizeof(ngx_iot_auth_counters_t));
    ngx_queue_insert_tail(&zone->sh->counters, &c->queue);

found:

    c->pid = ngx_pid;
    zone->counters = c;

    ngx_shmtx_unlock(&zone->shpool->mutex);

    return NGX_OK;
}


void
ngx_iot_auth_cache_exit_process(ngx_iot_auth_zone_t *zone)
{
    if (zone->counters == NULL) {
        return;
    }

    ngx_shmtx_lock(&zone->shpool->mutex);

    zone->counters->pid = 0;
    zone->counters = NULL;

    ngx_shmtx_unlock(&zone->shpool->mutex);
}


void
ngx_iot_auth_cache_new_epoch(ngx_iot_auth_zone_t *zone)
{
    ngx_shmtx_lock(&zone->shpool->mutex);

    zone->sh->epoch++;

    ngx_shmtx_unlock(&zone->shpool->mutex);
}


/*
 * a gap between two listeners, or after one that died, may have lost
 * revocations (NGX_OK; NGX_DONE if none listened before: a start, or
 * after a listener that said it stopped); a reload, where the new
 * listener comes up while the old one still listens, loses none
 */

ngx_int_t
ngx_iot_auth_cache_subscribed(ngx_iot_auth_zone_t *zone, ngx_uint_t up)
{
    ngx_int_t   rc;
    ngx_pid_t   pid;

    rc = NGX_DECLINED;

    ngx_shmtx_lock(&zone->shpool->mutex);

    pid = zone->sh->subscriber;

    if (!up) {
        if (pid == ngx_pid) {
            zone->sh->subscriber = 0;
        }

    } else {
        if (pid == 0) {
            zone->sh->epoch++;
            rc = NGX_DONE;

        } else if (pid == ngx_pid
                   || (kill(pid, 0) == -1 && ngx_errno == NGX_ESRCH))
        {
            zone->sh->epoch++;
            rc = NGX_OK;
        }

        zone->sh->subscriber = ngx_pid;
    }

    ngx_shmtx_unlock(&zone->shpool->mutex);

    return rc;
}


void
ngx_iot_auth_cache_fleet_wait(ngx_iot_auth_zone_t *zone,
    ngx_iot_auth_ticket_t *t)
{
    ngx_iot_auth_flight_t  *f;

    ngx_shmtx_lock(&zone->shpool->mutex);

    f = ngx_iot_auth_flight_owned_locked(zone, t);

    if (f) {
        f->workers |= (uint64_t) 1 << (ngx_worker % 64);
        t->signals = f->signals;
    }

    t->epoch = zone->sh->epoch;

    ngx_shmtx_unlock(&zone->shpool->mutex);
}


/* the epoch is taken anew: the fleet is asked again after this */

ngx_uint_t
ngx_iot_auth_cache_fleet_signaled(ngx_iot_auth_zone_t *zone,
    ngx_iot_auth_ticket_t *t)
{
    ngx_uint_t              signaled;
    ngx_iot_auth_flight_t  *f;

    ngx_shmtx_lock(&zone->shpool->mutex);

    f = ngx_iot_auth_flight_owned_locked(zone, t);

    signaled = f == NULL || f->signals != t->signals
               || zone->sh->epoch != t->epoch;

    t->epoch = zone->sh->epoch;

    ngx_shmtx_unlock(&zone->shpool->mutex);

    return signaled;
}


uint64_t
ngx_iot_auth_cache_fleet_signal(ngx_iot_auth_zone_t *zone, uint64_t store,
    ngx_str_t *device, u_char *digest)
{
    uint64_t                workers;
    ngx_iot_auth_node_t    *node;
    ngx_iot_auth_flight_t  *f;

    workers = 0;

    ngx_shmtx_lock(&zone->shpool->mutex);

    node = ngx_iot_auth_cache_find_locked(zone, store, device);
    f = node ? ngx_iot_auth_flight_find_locked(node, digest) : NULL;

    if (f) {
        f->signals++;
        workers = f->workers;
    }

    ngx_shmtx_unlock(&zone->shpool->mutex);

    return workers;
}


void
ngx_iot_auth_cache_count(ngx_iot_auth_zone_t *zone,
    ngx_iot_auth_result_e result)
{
    zone->counters->requests[result]++;
}


void
ngx_iot_auth_cache_count_bcrypt(ngx_iot_auth_zone_t *zone, ngx_uint_t match,
    ngx_msec_t usec)
{
    zone->counters->bcrypt[match ? 0 : 1]++;
    zone->counters->bcrypt_usec += usec;
}


void
ngx_iot_auth_cache_count_backend_error(ngx_iot_auth_zone_t *zone,
    ngx_iot_auth_backend_e backend)
{
    zone->counters->backend_errors[backend]++;
}


void
ngx_iot_auth_cache_count_fleet_error(ngx_iot_auth_zone_t *zone)
{
    zone->counters->fleet_errors++;
}


void
ngx_iot_auth_cache_metrics(ngx_iot_auth_zone_t *zone,
    ngx_iot_auth_metrics_t *m)
{
    ngx_uint_t                i;
    ngx_queue_t              *q;
    ngx_iot_auth_sh_t        *sh;
    ngx_iot_auth_counters_t  *c;

    sh = zone->sh;

    ngx_memzero(m, sizeof(ngx_iot_auth_metrics_t));

    ngx_shmtx_lock(&zone->shpool->mutex);

    for (q = ngx_queue_head(&sh->counters);
         q != ngx_queue_sentinel(&sh->counters);
         q = ngx_queue_next(q))
    {
        c = ngx_queue_data(q, ngx_iot_auth_counters_t, queue);

        for (i = 0; i < NGX_IOT_AUTH_NRESULTS; i++) {
            m->requests[i] += c->requests[i];
        }

        for (i = 0; i < NGX_IOT_AUTH_NBACKENDS; i++) {
            m->backend_errors[i] += c->backend_errors[i];
        }

        m->bcrypt[0] += c->bcrypt[0];
        m->bcrypt[1] += c->bcrypt[1];
        m->bcrypt_usec += c->bcrypt_usec;
        m->fleet_errors += c->fleet_errors;
    }

    m->evictions = sh->evictions;
    m->entries = sh->entries;
    m->flights = sh->flights;
    m->waiters = sh->waiters;

    ngx_shmtx_unlock(&zone->shpool->mutex);
}


ngx_int_t
ngx_iot_auth_cache_view(ngx_shm_zone_t *shm_zone, ngx_iot_auth_zone_t *view)
{
    ngx_slab_pool_t    *shpool;
    ngx_iot_auth_sh_t  *sh;

    shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;
    sh = shpool->data;

    if (sh == NULL
        || sh->magic != NGX_IOT_AUTH_ZONE_MAGIC
        || sh->layout != NGX_IOT_AUTH_ZONE_LAYOUT
        || sh->size != sizeof(ngx_iot_auth_sh_t))
    {
        return NGX_DECLINED;
    }

    ngx_memzero(view, sizeof(ngx_iot_auth_zone_t));

    view->sh = sh;
    view->shpool = shpool;
    view->shm_zone = shm_zone;

    return NGX_OK;
}


/*
 * the decision, made anew from the entry each time: nothing of an
 * earlier decision of the same request is kept
 */

static ngx_iot_auth_action_e
ngx_iot_auth_cache_decide_locked(ngx_iot_auth_zone_t *zone,
    ngx_iot_auth_node_t *node, ngx_iot_auth_ticket_t *t)
{
    ngx_iot_auth_action_e  action;

    if (node->unknown) {

        if (node->version == t->version
            && (ngx_msec_int_t) (node->expire - ngx_current_msec) > 0)
        {
            t->result = NGX_IOT_AUTH_UNKNOWN;
            return NGX_IOT_AUTH_REJECT;
        }

        node->unknown = 0;
    }

    if (node->good && ngx_iot_auth_cache_same(node->digest, t->digest)) {
        return ngx_iot_auth_cache_verdict_locked(zone, node, t);
    }

    if (t->waiting) {
        action = ngx_iot_auth_cache_outcome_locked(node, t);

        if (action != NGX_IOT_AUTH_JOIN) {
            return action;
        }
    }

    if (ngx_iot_auth_cache_negative_locked(node, t->digest) == NGX_OK) {
        t->result = NGX_IOT_AUTH_NEGATIVE;
        return NGX_IOT_AUTH_REJECT;
    }

    if (t->lockout->failures
        && (ngx_msec_int_t) (node->locked_until - ngx_current_msec) > 0)
    {
        t->result = NGX_IOT_AUTH_LOCKED;
        return NGX_IOT_AUTH_REJECT;
    }

    return ngx_iot_auth_cache_admit_locked(zone, node, t);
}


/* the token is the device's last good one */

static ngx_iot_auth_action_e
ngx_iot_auth_cache_verdict_locked(ngx_iot_auth_zone_t *zone,
    ngx_iot_auth_node_t *node, ngx_iot_auth_ticket_t *t)
{
    ngx_msec_int_t  left;

    t->perms = node->perms;

    left = (ngx_msec_int_t) (node->expire - ngx_current_msec);

    /*
     * a verdict made with another version of the store, or before
     * revocations may have been missed, is checked again
     */

    if (left <= 0 || node->version != t->version
        || (t->recheck && node->epoch != zone->sh->epoch))
    {
        t->result = NGX_IOT_AUTH_REVALIDATED;
        return NGX_IOT_AUTH_CHECK;
    }

    if (left > (ngx_msec_int_t) (zone->ttl * (100 - zone->refresh) / 100)
        || node->refreshing)
    {
        /* back into the table if its slot was taken meanwhile */

        ngx_iot_auth_cache_publish_locked(zone, node);

        t->result = t->waited ? NGX_IOT_AUTH_WAIT : NGX_IOT_AUTH_HIT;
        return NGX_IOT_AUTH_ALLOW;
    }

    /* one re-check per verdict; the others are served meanwhile */

    node->refreshing = 1;
    t->result = NGX_IOT_AUTH_REFRESH;

    return NGX_IOT_AUTH_CHECK;
}


/*
 * a waiter whose flight failed takes its outcome from the zone: the
 * failure reaches every waiter without a bcrypt of its own, whatever
 * negative_ttl is (a match reaches them as the device's verdict)
 */

static ngx_iot_auth_action_e
ngx_iot_auth_cache_outcome_locked(ngx_iot_auth_node_t *node,
    ngx_iot_auth_ticket_t *t)
{
    ngx_iot_auth_flight_t  *f;

    f = ngx_iot_auth_flight_of_locked(node, t);

    if (f == NULL || !f->done) {
        return NGX_IOT_AUTH_JOIN;
    }

    t->result = (f->outcome == NGX_IOT_AUTH_MISMATCH) ? NGX_IOT_AUTH_NEGATIVE
                                                      : NGX_IOT_AUTH_UNKNOWN;

    return NGX_IOT_AUTH_REJECT;
}


/*
 * who may start a bcrypt: the request joins the flight for its token if
 * there is one; otherwise it needs room in its worker and, under
 * lockout, failures and flights of the device together below
 * "failures=", so that concurrent wrong tokens cannot overshoot it
 */

static ngx_iot_auth_action_e
ngx_iot_auth_cache_admit_locked(ngx_iot_auth_zone_t *zone,
    ngx_iot_auth_node_t *node, ngx_iot_auth_ticket_t *t)
{
    ngx_iot_auth_flight_t  *f;

    f = ngx_iot_auth_flight_find_locked(node, t->digest);

    if (f && t->may_start && ngx_iot_auth_flight_abandoned(f)) {
        ngx_iot_auth_flight_take_over_locked(zone, f, t);
        return NGX_IOT_AUTH_OWN;
    }

    if (f) {
        ngx_iot_auth_flight_join_locked(zone, node, f, t);
        return NGX_IOT_AUTH_JOIN;
    }

    if (!t->may_start) {
        t->result = NGX_IOT_AUTH_BUSY;
        return NGX_IOT_AUTH_THROTTLE;
    }

    if (t->lockout->failures
        && ngx_iot_auth_cache_failures_locked(node, t->lockout)
           + ngx_iot_auth_flight_count_locked(node)
           >= t->lockout->failures)
    {
        t->result = NGX_IOT_AUTH_LOCKED;
        return NGX_IOT_AUTH_REJECT;
    }

    /* without room for the flight, the request is verified alone */

    t->flight = 0;

    (void) ngx_iot_auth_flight_new_locked(zone, node, t);

    return NGX_IOT_AUTH_OWN;
}


/* a request that stops waiting is no longer counted as a waiter */

static ngx_iot_auth_action_e
ngx_iot_auth_cache_settle_locked(ngx_iot_auth_zone_t *zone,
    ngx_iot_auth_node_t *node, ngx_iot_auth_ticket_t *t,
    ngx_iot_auth_action_e action)
{
    if (t->waiting && action != NGX_IOT_AUTH_JOIN) {
        ngx_iot_auth_flight_leave_locked(zone, node, t);
    }

    return action;
}


static ngx_int_t
ngx_iot_auth_cache_negative_locked(ngx_iot_auth_node_t *node, u_char *digest)
{
    ngx_uint_t                i;
    ngx_iot_auth_negative_t  *neg;

    for (i = 0; i < NGX_IOT_AUTH_NEGATIVES; i++) {
        neg = &node->negatives[i];

        if ((ngx_msec_int_t) (neg->expire - ngx_current_msec) > 0
            && ngx_iot_auth_cache_same(neg->digest, digest))
        {
            return NGX_OK;
        }
    }

    return NGX_DECLINED;
}


/* failures within the current window */

static ngx_uint_t
ngx_iot_auth_cache_failures_locked(ngx_iot_auth_node_t *node,
    ngx_iot_auth_lockout_t *lockout)
{
    if ((ngx_msec_int_t) (ngx_current_msec - node->window_start)
        >= (ngx_msec_int_t) lockout->window)
    {
        return 0;
    }

    return node->failures;
}


static void
ngx_iot_auth_cache_failure_locked(ngx_iot_auth_node_t *node,
    ngx_iot_auth_lockout_t *lockout)
{
    if (lockout->failures == 0) {
        return;
    }

    if (ngx_iot_auth_cache_failures_locked(node, lockout) == 0) {
        node->window_start = ngx_current_msec;
        node->failures = 0;
    }

    if (++node->failures >= lockout->failures) {
        ngx_iot_auth_cache_lock_out_locked(node, lockout->duration);
        node->failures = 0;
    }
}


static void
ngx_iot_auth_cache_good_locked(ngx_iot_auth_zone_t *zone,
    ngx_iot_auth_node_t *node, u_char *digest, ngx_iot_auth_cred_t *cred)
{
    /* the token it replaces is no longer let in from the table */

    if (node->good && !ngx_iot_auth_cache_same(node->digest, digest)) {
        ngx_iot_auth_cache_unpublish_locked(zone, node);
    }

    ngx_memcpy(node->digest, digest, NGX_IOT_AUTH_DIGEST_LEN);
    ngx_memcpy(node->fprint, cred->fprint, NGX_IOT_AUTH_FPRINT_LEN);
    node->perms = cred->perms;
    node->version = cred->version;
    node->epoch = cred->epoch;
    node->expire = ngx_current_msec + zone->ttl;
    node->unknown = 0;
    node->good = 1;
    node->retired = 0;
    node->refreshing = 0;
    node->failures = 0;

    if (!node->verified) {
        node->verified = 1;
        ngx_queue_remove(&node->queue);
        ngx_queue_insert_head(&zone->sh->verified, &node->queue);
    }

    ngx_iot_auth_cache_publish_locked(zone, node);
}


static void
ngx_iot_auth_cache_bad_locked(ngx_iot_auth_zone_t *zone,
    ngx_iot_auth_node_t *node, ngx_iot_auth_ticket_t *t, ngx_uint_t count)
{
    ngx_iot_auth_negative_t  *neg;

    neg = &node->negatives[node->next_negative];

    ngx_memcpy(neg->digest, t->digest, NGX_IOT_AUTH_DIGEST_LEN);
    neg->expire = ngx_current_msec + zone->negative_ttl;

    node->next_negative = (node->next_negative + 1) % NGX_IOT_AUTH_NEGATIVES;

    /* a token retired by a change of the stored hash counts no failure */

    if (!count
        || (node->retired && ngx_iot_auth_cache_same(node->digest, t->digest)))
    {
        return;
    }

    ngx_iot_auth_cache_failure_locked(node, t->lockout);
}


/* the mark holds for the version of the store that had no record */

static void
ngx_iot_auth_cache_lock_out_locked(ngx_iot_auth_node_t *node,
    ngx_msec_t duration)
{
    ngx_msec_t  until;

    until = ngx_current_msec + duration;

    if ((ngx_msec_int_t) (until - node->locked_until) > 0) {
        node->locked_until = until;
    }
}


/* the mark holds for the version of the store that had no record */

static void
ngx_iot_auth_cache_unknown_locked(ngx_iot_auth_zone_t *zone,
    ngx_iot_auth_node_t *node, uint64_t version)
{
    ngx_iot_auth_cache_retire_locked(zone, node);

    node->version = version;
    node->unknown = 1;
    node->version = version;
    node->expire = ngx_current_msec + zone->negative_ttl;
}


/*
 * the device's verdict is dropped and its last good token loses every
 * privilege: it must be verified again against the store
 */

static void
ngx_iot_auth_cache_retire_locked(ngx_iot_auth_zone_t *zone,
    ngx_iot_auth_node_t *node)
{
    if (node->verified) {
        node->verified = 0;

        ngx_queue_remove(&node->queue);
        ngx_queue_insert_head(&zone->sh->negative, &node->queue);
    }

    if (node->good) {
        ngx_iot_auth_cache_unpublish_locked(zone, node);
        node->good = 0;
        node->retired = 1;
    }
}


/*
 * extends a verdict whose stored hash is unchanged; otherwise the
 * verdict is dropped and its token retired
 */

static ngx_int_t
ngx_iot_auth_cache_recheck_locked(ngx_iot_auth_zone_t *zone,
    ngx_iot_auth_node_t *node, ngx_iot_auth_cred_t *cred)
{
    node->refreshing = 0;

    if (cred
        && CRYPTO_memcmp(node->fprint, cred->fprint, NGX_IOT_AUTH_FPRINT_LEN)
           == 0)
    {
        node->expire = ngx_current_msec + zone->ttl;
        node->version = cred->version;
        node->epoch = cred->epoch;
        node->perms = cred->perms;

        ngx_iot_auth_cache_publish_locked(zone, node);

        return NGX_OK;
    }

    ngx_iot_auth_cache_retire_locked(zone, node);

    return NGX_DECLINED;
}


/*
 * a HIT decided without the zone's mutex, from the verdict table: the
 * same answer as ngx_iot_auth_cache_verdict_locked() gives a request
 * that has not waited, or NGX_DECLINED to ask it.  Writes nothing: the
 * entry's place in the LRU list is renewed by the requests that take
 * the mutex (a new verdict, a refresh, a revalidation)
 */

static ngx_int_t
ngx_iot_auth_cache_hit(ngx_iot_auth_zone_t *zone, ngx_iot_auth_ticket_t *t)
{
#if (NGX_HAVE_ATOMIC_OPS)

    uint32_t                 seq, perms;
    uint64_t                 version, epoch;
    ngx_uint_t               i, same;
    ngx_msec_t               expire;
    ngx_msec_int_t           left;
    volatile uint32_t       *vseq;
    ngx_iot_auth_verdict_t  *v;

    v = ngx_iot_auth_cache_verdicts(zone, t->digest);

    for (i = 0; i < NGX_IOT_AUTH_VERDICT_WAYS; i++, v++) {

        vseq = &v->seq;
        seq = *vseq;

        if (seq & 1) {
            return NGX_DECLINED;
        }

        ngx_memory_barrier();

        same = (v->store == t->store
                && ngx_iot_auth_cache_same(v->digest, t->digest));
        expire = v->expire;
        version = v->version;
        epoch = v->epoch;
        perms = v->perms;

        ngx_memory_barrier();

        if (*vseq != seq) {
            return NGX_DECLINED;
        }

        if (!same) {
            continue;
        }

        left = (ngx_msec_int_t) (expire - ngx_current_msec);

        if (version != t->version
            || (t->recheck && epoch != zone->sh->epoch)
            || left <= (ngx_msec_int_t) (zone->ttl * (100 - zone->refresh)
                                         / 100))
        {
            return NGX_DECLINED;
        }

        t->perms = perms;
        t->result = NGX_IOT_AUTH_HIT;

        return NGX_OK;
    }

#endif

    return NGX_DECLINED;
}


/* the set of the verdict table where a digest's verdict may be */

static ngx_iot_auth_verdict_t *
ngx_iot_auth_cache_verdicts(ngx_iot_auth_zone_t *zone, u_char *digest)
{
    uint64_t  n;

    ngx_memcpy(&n, digest, sizeof(uint64_t));

    return &zone->sh->verdicts[(n & (zone->sh->sets - 1))
                               * NGX_IOT_AUTH_VERDICT_WAYS];
}


/*
 * copies the node's verdict into the table: into its own slot, or a
 * free or expired one of its set; when the set is full of live
 * verdicts, the device is served under the mutex
 */

static void
ngx_iot_auth_cache_publish_locked(ngx_iot_auth_zone_t *zone,
    ngx_iot_auth_node_t *node)
{
    ngx_uint_t               i;
    ngx_iot_auth_verdict_t  *v, *free;

    v = ngx_iot_auth_cache_verdicts(zone, node->digest);
    free = NULL;

    for (i = 0; i < NGX_IOT_AUTH_VERDICT_WAYS; i++, v++) {

        if (v->store == node->store
            && ngx_memcmp(v->digest, node->digest, NGX_IOT_AUTH_DIGEST_LEN)
               == 0)
        {
            if (v->expire != node->expire || v->version != node->version
                || v->epoch != node->epoch || v->perms != node->perms)
            {
                ngx_iot_auth_cache_write_verdict_locked(v, node);
            }

            return;
        }

        if (free == NULL
            && (ngx_msec_int_t) (v->expire - ngx_current_msec) <= 0)
        {
            free = v;
        }
    }

    if (free) {
        ngx_iot_auth_cache_write_verdict_locked(free, node);
    }
}


static void
ngx_iot_auth_cache_unpublish_locked(ngx_iot_auth_zone_t *zone,
    ngx_iot_auth_node_t *node)
{
    ngx_uint_t               i;
    ngx_iot_auth_verdict_t  *v;

    v = ngx_iot_auth_cache_verdicts(zone, node->digest);

    for (i = 0; i < NGX_IOT_AUTH_VERDICT_WAYS; i++, v++) {

        if (v->store == node->store
            && ngx_memcmp(v->digest, node->digest, NGX_IOT_AUTH_DIGEST_LEN)
               == 0)
        {
            v->seq++;
            ngx_memory_barrier();

            v->expire = 0;

            ngx_memory_barrier();
            v->seq++;

            return;
        }
    }
}


static void
ngx_iot_auth_cache_write_verdict_locked(ngx_iot_auth_verdict_t *v,
    ngx_iot_auth_node_t *node)
{
    v->seq++;
    ngx_memory_barrier();

    v->expire = node->expire;
    v->store = node->store;
    v->version = node->version;
    v->epoch = node->epoch;
    v->perms = node->perms;
    ngx_memcpy(v->digest, node->digest, NGX_IOT_AUTH_DIGEST_LEN);

    ngx_memory_barrier();
    v->seq++;
}


/* the flight in progress for a digest */

static ngx_iot_auth_flight_t *
ngx_iot_auth_flight_find_locked(ngx_iot_auth_node_t *node, u_char *digest)
{
    ngx_queue_t            *q;
    ngx_iot_auth_flight_t  *f;

    for (q = ngx_queue_head(&node->flights);
         q != ngx_queue_sentinel(&node->flights);
         q = ngx_queue_next(q))
    {
        f = ngx_queue_data(q, ngx_iot_auth_flight_t, queue);

        if (!f->done && ngx_iot_auth_cache_same(f->digest, digest)) {
            return f;
        }
    }

    return NULL;
}


/* the flight, in progress or done, that a request waits for */

static ngx_iot_auth_flight_t *
ngx_iot_auth_flight_of_locked(ngx_iot_auth_node_t *node,
    ngx_iot_auth_ticket_t *t)
{
    ngx_queue_t            *q;
    ngx_iot_auth_flight_t  *f;

    for (q = ngx_queue_head(&node->flights);
         q != ngx_queue_sentinel(&node->flights);
         q = ngx_queue_next(q))
    {
        f = ngx_queue_data(q, ngx_iot_auth_flight_t, queue);

        if (f->generation == t->flight) {
            return f;
        }
    }

    return NULL;
}


/* the flight t owns, unless it was taken over */

static ngx_iot_auth_flight_t *
ngx_iot_auth_flight_owned_locked(ngx_iot_auth_zone_t *zone,
    ngx_iot_auth_ticket_t *t)
{
    ngx_iot_auth_node_t    *node;
    ngx_iot_auth_flight_t  *f;

    node = ngx_iot_auth_cache_find_locked(zone, t->store, &t->device);
    f = node ? ngx_iot_auth_flight_of_locked(node, t) : NULL;

    return (f && !f->done && f->claim == t->claim) ? f : NULL;
}


static ngx_iot_auth_flight_t *
ngx_iot_auth_flight_new_locked(ngx_iot_auth_zone_t *zone,
    ngx_iot_auth_node_t *node, ngx_iot_auth_ticket_t *t)
{
    ngx_iot_auth_flight_t  *f;

    f = ngx_iot_auth_cache_alloc_locked(zone, sizeof(ngx_iot_auth_flight_t),
                                        node);
    if (f == NULL) {
        return NULL;
    }

    ngx_memzero(f, sizeof(ngx_iot_auth_flight_t));

    ngx_memcpy(f->digest, t->digest, NGX_IOT_AUTH_DIGEST_LEN);
    f->generation = ++zone->sh->generation;
    f->claim = f->generation;
    f->deadline = ngx_current_msec + t->wait_timeout;
    f->owner = ngx_pid;

    ngx_queue_insert_tail(&node->flights, &f->queue);
    zone->sh->flights++;

    t->flight = f->generation;
    t->claim = f->claim;

    return f;
}


/*
 * a waiter whose flight ended without an answer joins the one that
 * replaced it: it is counted there, and gets that flight's outcome
 */

static void
ngx_iot_auth_flight_join_locked(ngx_iot_auth_zone_t *zone,
    ngx_iot_auth_node_t *node, ngx_iot_auth_flight_t *f,
    ngx_iot_auth_ticket_t *t)
{
    if (t->waiting && t->flight != f->generation) {
        ngx_iot_auth_flight_leave_locked(zone, node, t);
    }

    if (!t->waiting) {
        t->waiting = 1;
        t->waited = 1;
        t->flight = f->generation;
        f->waiters++;
        zone->sh->waiters++;
    }

    f->workers |= (uint64_t) 1 << (ngx_worker % 64);
}


static void
ngx_iot_auth_flight_take_over_locked(ngx_iot_auth_zone_t *zone,
    ngx_iot_auth_flight_t *f, ngx_iot_auth_ticket_t *t)
{
    if (t->waiting && f->generation == t->flight && f->waiters) {
        f->waiters--;
        zone->sh->waiters--;
    }

    t->waiting = 0;
    t->took_over = f->owner;

    f->claim = ++zone->sh->generation;
    f->deadline = ngx_current_msec + t->wait_timeout;
    f->owner = ngx_pid;

    t->flight = f->generation;
    t->claim = f->claim;
}


/*
 * ends the flight of t unless it was taken over; a failure is kept for
 * the waiters; returns the workers whose waiters must look again
 */

static uint64_t
ngx_iot_auth_flight_finish_locked(ngx_iot_auth_zone_t *zone,
    ngx_iot_auth_node_t *node, ngx_iot_auth_ticket_t *t,
    ngx_iot_auth_outcome_e outcome)
{
    uint64_t                workers;
    ngx_iot_auth_flight_t  *f;

    f = ngx_iot_auth_flight_find_locked(node, t->digest);

    if (f == NULL) {
        return 0;
    }

    workers = f->workers;

    if (f->generation != t->flight || f->claim != t->claim) {
        return workers;
    }

    zone->sh->flights--;
    zone->sh->waiters -= f->waiters;

    if (f->waiters
        && (outcome == NGX_IOT_AUTH_MISMATCH
            || outcome == NGX_IOT_AUTH_NO_DEVICE))
    {
        f->done = 1;
        f->outcome = outcome;
        f->deadline = ngx_current_msec + NGX_IOT_AUTH_OUTCOME_KEEP;

    } else {
        ngx_iot_auth_flight_free_locked(zone, f);
    }

    return workers;
}


static void
ngx_iot_auth_flight_leave_locked(ngx_iot_auth_zone_t *zone,
    ngx_iot_auth_node_t *node, ngx_iot_auth_ticket_t *t)
{
    ngx_iot_auth_flight_t  *f;

    f = ngx_iot_auth_flight_of_locked(node, t);

    t->waiting = 0;

    if (f == NULL || f->waiters == 0) {
        return;
    }

    f->waiters--;

    if (!f->done) {
        zone->sh->waiters--;

    } else if (f->waiters == 0) {
        ngx_iot_auth_flight_free_locked(zone, f);
    }
}


/*
 * an owner that is still alive keeps its flight past the deadline: its
 * bcrypt may just be queued behind others in the thread pool
 */

static ngx_uint_t
ngx_iot_auth_flight_abandoned(ngx_iot_auth_flight_t *f)
{
    ngx_msec_int_t  late;

    late = (ngx_msec_int_t) (ngx_current_msec - f->deadline);

    if (late < 0) {
        return 0;
    }

    if (late >= NGX_IOT_AUTH_FLIGHT_MAX_AGE) {
        return 1;
    }

    return f->owner != ngx_pid
           && kill(f->owner, 0) == -1 && ngx_errno == NGX_ESRCH;
}


/* verifications of the device in progress */

static ngx_uint_t
ngx_iot_auth_flight_count_locked(ngx_iot_auth_node_t *node)
{
    ngx_uint_t              n;
    ngx_queue_t            *q;
    ngx_iot_auth_flight_t  *f;

    n = 0;

    for (q = ngx_queue_head(&node->flights);
         q != ngx_queue_sentinel(&node->flights);
         q = ngx_queue_next(q))
    {
        f = ngx_queue_data(q, ngx_iot_auth_flight_t, queue);
        n += !f->done;
    }

    return n;
}


/* frees failed flights whose waiters did not all come for the outcome */

static void
ngx_iot_auth_flight_reap_locked(ngx_iot_auth_zone_t *zone,
    ngx_iot_auth_node_t *node)
{
    ngx_queue_t            *q, *next;
    ngx_iot_auth_flight_t  *f;

    for (q = ngx_queue_head(&node->flights);
         q != ngx_queue_sentinel(&node->flights);
         q = next)
    {
        next = ngx_queue_next(q);
        f = ngx_queue_data(q, ngx_iot_auth_flight_t, queue);

        if (f->done
            && (ngx_msec_int_t) (ngx_current_msec - f->deadline) >= 0)
        {
            ngx_iot_auth_flight_free_locked(zone, f);
        }
    }
}


static void
ngx_iot_auth_flight_free_locked(ngx_iot_auth_zone_t *zone,
    ngx_iot_auth_flight_t *f)
{
    ngx_queue_remove(&f->queue);
    ngx_slab_free_locked(zone->shpool, f);
}


static ngx_iot_auth_node_t *
ngx_iot_auth_cache_get_locked(ngx_iot_auth_zone_t *zone,
    ngx_iot_auth_ticket_t *t)
{
    ngx_iot_auth_node_t  *node;

    node = ngx_iot_auth_cache_find_locked(zone, t->store, &t->device);

    if (node == NULL) {
        node = ngx_iot_auth_cache_create_locked(zone, t->store, &t->device);
        if (node == NULL) {
            return NULL;
        }
    }

    ngx_iot_auth_flight_reap_locked(zone, node);
    ngx_iot_auth_cache_touch_locked(zone, node);

    return node;
}


/* entries are ordered by the crc32 of the device id, the id, the store */

static ngx_iot_auth_node_t *
ngx_iot_auth_cache_find_locked(ngx_iot_auth_zone_t *zone, uint64_t store,
    ngx_str_t *id)
{
    uint32_t            hash;
    ngx_int_t           rc;
    ngx_rbtree_node_t  *node, *sentinel;

    hash = ngx_crc32_short(id->data, id->len);

    node = zone->sh->rbtree.root;
    sentinel = zone->sh->rbtree.sentinel;

    while (node != sentinel) {

        if (hash != node->key) {
            node = (hash < node->key) ? node->left : node->right;
            continue;
        }

        rc = ngx_iot_auth_cache_cmp(store, id, (ngx_iot_auth_node_t *) node);

        if (rc == 0) {
            return (ngx_iot_auth_node_t *) node;
        }

        node = (rc < 0) ? node->left : node->right;
    }

    return NULL;
}


/* the entry of the device that comes first, whatever its store */

static ngx_iot_auth_node_t *
ngx_iot_auth_cache_first_locked(ngx_iot_auth_zone_t *zone, ngx_str_t *id)
{
    uint32_t              hash;
    ngx_int_t             rc;
    ngx_rbtree_node_t    *node, *sentinel;
    ngx_iot_auth_node_t  *first, *ian;

    hash = ngx_crc32_short(id->data, id->len);

    node = zone->sh->rbtree.root;
    sentinel = zone->sh->rbtree.sentinel;
    first = NULL;

    while (node != sentinel) {

        if (hash != node->key) {
            node = (hash < node->key) ? node->left : node->right;
            continue;
        }

        ian = (ngx_iot_auth_node_t *) node;

        rc = ngx_memn2cmp(id->data, ian->id, id->len, (size_t) ian->len);

        if (rc == 0) {
            first = ian;
        }

        node = (rc <= 0) ? node->left : node->right;
    }

    return first;
}


static ngx_int_t
ngx_iot_auth_cache_cmp(uint64_t store, ngx_str_t *id,
    ngx_iot_auth_node_t *node)
{
    ngx_int_t  rc;

    rc = ngx_memn2cmp(id->data, node->id, id->len, (size_t) node->len);

    if (rc != 0) {
        return rc;
    }

    if (store == node->store) {
        return 0;
    }

    return (store < node->store) ? -1 : 1;
}


static ngx_iot_auth_node_t *
ngx_iot_auth_cache_create_locked(ngx_iot_auth_zone_t *zone, uint64_t store,
    ngx_str_t *id)
{
    size_t                size;
    ngx_iot_auth_node_t  *node;

    size = offsetof(ngx_iot_auth_node_t, id) + id->len;

    node = ngx_iot_auth_cache_alloc_locked(zone, size, NULL);
    if (node == NULL) {
        return NULL;
    }

    ngx_memzero(node, size);

    node->node.key = ngx_crc32_short(id->data, id->len);
    node->store = store;
    node->len = id->len;
    ngx_memcpy(node->id, id->data, id->len);

    ngx_queue_init(&node->flights);
    ngx_queue_insert_head(&zone->sh->negative, &node->queue);

    ngx_rbtree_insert(&zone->sh->rbtree, &node->node);

    zone->sh->entries++;

    return node;
}


/* evicts least recently used entries until size bytes can be had */

static void *
ngx_iot_auth_cache_alloc_locked(ngx_iot_auth_zone_t *zone, size_t size,
    void *keep)
{
    void        *p;
    ngx_uint_t   i;

    p = ngx_slab_alloc_locked(zone->shpool, size);

    for (i = 0; p == NULL && i < NGX_IOT_AUTH_EVICT_TRIES; i++) {

        if (ngx_iot_auth_cache_evict_locked(zone, keep) != NGX_OK) {
            break;
        }

        p = ngx_slab_alloc_locked(zone->shpool, size);
    }

    return p;
}


static void
ngx_iot_auth_cache_rbtree_insert_value(ngx_rbtree_node_t *temp,
    ngx_rbtree_node_t *node, ngx_rbtree_node_t *sentinel)
{
    ngx_str_t              id;
    ngx_rbtree_node_t    **p;
    ngx_iot_auth_node_t   *ian;

    ian = (ngx_iot_auth_node_t *) node;
    id.data = ian->id;
    id.len = ian->len;

    for ( ;; ) {

        if (node->key != temp->key) {
            p = (node->key < temp->key) ? &temp->left : &temp->right;

        } else {
            p = (ngx_iot_auth_cache_cmp(ian->store, &id,
                                        (ngx_iot_auth_node_t *) temp)
                 < 0)
                ? &temp->left : &temp->right;
        }

        if (*p == sentinel) {
            break;
        }

        temp = *p;
    }

    *p = node;
    node->parent = temp;
    node->left = sentinel;
    node->right = sentinel;
    ngx_rbt_red(node);
}


/* unverified entries go first: a spray of bad ids never evicts a device */

static ngx_int_t
ngx_iot_auth_cache_evict_locked(ngx_iot_auth_zone_t *zone, void *keep)
{
    if (ngx_iot_auth_cache_evict_from_locked(zone, &zone->sh->negative, keep)
        == NGX_OK)
    {
        return NGX_OK;
    }

    return ngx_iot_auth_cache_evict_from_locked(zone, &zone->sh->verified,
                                                keep);
}


static ngx_int_t
ngx_iot_auth_cache_evict_from_locked(ngx_iot_auth_zone_t *zone,
    ngx_queue_t *queue, void *keep)
{
    ngx_uint_t            n;
    ngx_queue_t          *q;
    ngx_iot_auth_node_t  *node;

    for (q = ngx_queue_last(queue), n = 0;
         q != ngx_queue_sentinel(queue) && n < NGX_IOT_AUTH_EVICT_SCAN;
         q = ngx_queue_prev(q), n++)
    {
        node = ngx_queue_data(q, ngx_iot_auth_node_t, queue);

        if (node == keep) {
            continue;
        }

        ngx_iot_auth_flight_reap_locked(zone, node);

        if (!ngx_queue_empty(&node->flights)) {
            continue;
        }

        ngx_iot_auth_cache_delete_locked(zone, node);
        zone->sh->evictions++;

        return NGX_OK;
    }

    return NGX_DECLINED;
}


static void
ngx_iot_auth_cache_delete_locked(ngx_iot_auth_zone_t *zone,
    ngx_iot_auth_node_t *node)
{
    if (node->good) {
        ngx_iot_auth_cache_unpublish_locked(zone, node);
    }

    ngx_queue_remove(&node->queue);
    ngx_rbtree_delete(&zone->sh->rbtree, &node->node);
    ngx_slab_free_locked(zone->shpool, node);

    zone->sh->entries--;
}


static void
ngx_iot_auth_cache_touch_locked(ngx_iot_auth_zone_t *zone,
    ngx_iot_auth_node_t *node)
{
    ngx_queue_remove(&node->queue);
    ngx_queue_insert_head(node->verified ? &zone->sh->verified
                                         : &zone->sh->negative,
                          &node->queue);
}
