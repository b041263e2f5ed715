
/*
 * Copyright (C) ngx_iot_auth authors
 */


/*
 * The verification engine (see ngx_iot_auth_engine.h): one state
 * machine per verification, stepped by ngx_iot_auth_run() only; the
 * events that move a suspended one on (a wake-up, the store's answer,
 * the end of a bcrypt) record what they bring and call it.  Calls the
 * zone, the flights and the stores; knows no protocol.
 */


#include "ngx_iot_auth_engine.h"


/* a detached re-check of the store; the device id follows it */

typedef struct {
    ngx_iot_auth_zone_t         *zone;
    ngx_iot_auth_conf_t         *conf;
    uint64_t                     version;
    ngx_str_t                    device;
    u_char                       digest[NGX_IOT_AUTH_DIGEST_LEN];
} ngx_iot_auth_refresh_t;


static void ngx_iot_auth_run(ngx_iot_auth_req_t *req);
static void ngx_iot_auth_decide(ngx_iot_auth_req_t *req);
static ngx_uint_t ngx_iot_auth_room(ngx_iot_auth_req_t *req);
static void ngx_iot_auth_act(ngx_iot_auth_req_t *req,
    ngx_iot_auth_action_e action);
static void ngx_iot_auth_lookup(ngx_iot_auth_req_t *req);
static void ngx_iot_auth_fetched(void *data, ngx_int_t rc,
    ngx_iot_auth_record_t *rec);
static void ngx_iot_auth_answered(ngx_iot_auth_req_t *req);
static void ngx_iot_auth_unavailable(ngx_iot_auth_req_t *req);
static void ngx_iot_auth_bcrypt(ngx_iot_auth_req_t *req);
static void ngx_iot_auth_bcrypt_done(ngx_iot_auth_bcrypt_t *b);
static void ngx_iot_auth_verified(ngx_iot_auth_req_t *req);
static void ngx_iot_auth_end_flight(ngx_iot_auth_req_t *req,
    ngx_iot_auth_outcome_e outcome);
static void ngx_iot_auth_wake(ngx_event_t *ev);
static void ngx_iot_auth_done(ngx_iot_auth_req_t *req,
    ngx_iot_auth_result_e result);
static void ngx_iot_auth_refresh(ngx_iot_auth_req_t *req);
static void ngx_iot_auth_refreshed(void *data, ngx_int_t rc,
    ngx_iot_auth_record_t *rec);


ngx_iot_auth_result_info_t  ngx_iot_auth_results[] = {
    { ngx_string("HIT"), ngx_string("hit"), 0, NULL },
    { ngx_string("REVALIDATED"), ngx_string("revalidated"), 0, NULL },
    { ngx_string("MISS"), ngx_string("miss"), 0, NULL },
    { ngx_string("WAIT"), ngx_string("wait"), 0, NULL },
    { ngx_string("REFRESH"), ngx_string("refresh"), 0, NULL },
    { ngx_string("STALE"), ngx_string("stale"), 0, NULL },
    { ngx_string("NEGATIVE"), ngx_string("negative"), NGX_LOG_INFO,
      "token failed recently" },
    { ngx_string("DENIED"), ngx_string("denied"), 0, NULL },
    { ngx_string("UNKNOWN"), ngx_string("unknown"), NGX_LOG_INFO,
      "unknown device" },
    { ngx_string("LOCKED"), ngx_string("locked"), NGX_LOG_INFO,
      "device locked out" },
    { ngx_string("FORBIDDEN"), ngx_string("forbidden"), NGX_LOG_INFO,
      "lacks the required perms" },
    { ngx_string("BUSY"), ngx_string("busy"), NGX_LOG_WARN,
      "too many verifications pending" },
    { ngx_string("ERROR"), ngx_string("error"), 0, NULL }
};


ngx_int_t
ngx_iot_auth_verify(ngx_iot_auth_req_t *req, ngx_iot_auth_conf_t *conf,
    ngx_str_t *device, ngx_str_t *token, ngx_log_t *log,
    ngx_iot_auth_handler_pt handler, void *data)
{
    ngx_iot_auth_ticket_t  *t;

    ngx_memzero(req, sizeof(ngx_iot_auth_req_t));

    req->conf = conf;
    req->zone = conf->shm_zone->data;
    req->token = *token;
    req->log = log;

    t = &req->ticket;

    t->device = *device;
    t->store = conf->store.id;
    t->version = conf->store.version;
    t->lockout = &conf->lockout;
    t->wait_timeout = conf->wait_timeout;

    ngx_iot_auth_cache_digest(req->zone, device, token, t->digest);

    ngx_iot_auth_run(req);

    if (req->state == NGX_IOT_AUTH_DONE) {
        return NGX_OK;
    }

    req->handler = handler;
    req->data = data;

    return NGX_AGAIN;
}


/*
 * the only place where a verification moves on: each state either
 * leads to the next one at once, or waits for an event
 */

static void
ngx_iot_auth_run(ngx_iot_auth_req_t *req)
{
    req->running = 1;

    for ( ;; ) {

        switch (req->state) {

        case NGX_IOT_AUTH_NEW:
        case NGX_IOT_AUTH_WOKEN:
            ngx_iot_auth_decide(req);
            break;

        case NGX_IOT_AUTH_ANSWERED:
            ngx_iot_auth_answered(req);
            break;

        case NGX_IOT_AUTH_VERIFIED:
            ngx_iot_auth_verified(req);
            break;

        case NGX_IOT_AUTH_DONE:
            req->running = 0;

            if (req->handler) {
                req->handler(req->data);
            }

            return;

        default: /* WAITING, LOOKUP, VERIFYING: an event moves it on */
            req->running = 0;
            return;
        }
    }
}


/* made anew from the zone at every decision */

static void
ngx_iot_auth_decide(ngx_iot_auth_req_t *req)
{
    req->ticket.may_start = ngx_iot_auth_room(req);

    ngx_iot_auth_act(req, ngx_iot_auth_cache_decide(req->zone,
                                                    &req->ticket));
}


/* whether this worker may start one more bcrypt: iot_auth_max_pending */

static ngx_uint_t
ngx_iot_auth_room(ngx_iot_auth_req_t *req)
{
    return ngx_iot_auth_flight_pending()
           < (ngx_uint_t) req->conf->max_pending;
}


static void
ngx_iot_auth_act(ngx_iot_auth_req_t *req, ngx_iot_auth_action_e action)
{
    ngx_iot_auth_ticket_t  *t;

    t = &req->ticket;

    switch (action) {

    case NGX_IOT_AUTH_ALLOW:
        req->answer.perms = t->perms;
        ngx_iot_auth_done(req, t->result);
        return;

    case NGX_IOT_AUTH_REJECT:
        ngx_iot_auth_done(req, t->result);
        return;

    case NGX_IOT_AUTH_THROTTLE:
        req->answer.retry = 1;
        ngx_iot_auth_done(req, NGX_IOT_AUTH_BUSY);
        return;

    case NGX_IOT_AUTH_JOIN:
        req->waiter.wake.handler = ngx_iot_auth_wake;
        req->waiter.wake.data = req;
        req->waiter.wake.log = req->log;

        ngx_iot_auth_flight_wait(&req->waiter);

        req->state = NGX_IOT_AUTH_WAITING;
        return;

    case NGX_IOT_AUTH_CHECK:

        /* Redis is re-read in the background; a file answers at once */

        if (t->result == NGX_IOT_AUTH_REFRESH
            && req->conf->store.backend == NGX_IOT_AUTH_BACKEND_REDIS)
        {
            ngx_iot_auth_refresh(req);
            req->answer.perms = t->perms;
            ngx_iot_auth_done(req, NGX_IOT_AUTH_REFRESH);
            return;
        }

        req->owner = 0;
        ngx_iot_auth_lookup(req);
        return;

    default: /* NGX_IOT_AUTH_OWN */

        if (t->took_over) {
            ngx_log_error(NGX_LOG_WARN, req->log, 0,
                          "iot_auth: device \"%V\" takes over a "
                          "verification abandoned by process %P",
                          &t->device, t->took_over);
            t->took_over = 0;
        }

        req->owner = 1;
        ngx_iot_auth_lookup(req);
        return;
    }
}


static void
ngx_iot_auth_lookup(ngx_iot_auth_req_t *req)
{
    req->state = NGX_IOT_AUTH_LOOKUP;

    (void) ngx_iot_auth_store_fetch(&req->conf->store, &req->ticket.device,
                                    req->log, ngx_iot_auth_fetched, req);
}


/* the store's answer: at once, or from a posted event */

static void
ngx_iot_auth_fetched(void *data, ngx_int_t rc, ngx_iot_auth_record_t *rec)
{
    ngx_iot_auth_req_t  *req = data;

    req->fetched = rc;

    if (rc == NGX_OK) {
        ngx_memcpy(req->hash, rec->hash, NGX_IOT_AUTH_HASH_LEN);
        ngx_iot_auth_cache_fingerprint(req->zone, rec->hash,
                                       req->cred.fprint);
        req->cred.perms = rec->perms;
        req->cred.version = req->conf->store.version;

        if (rec->cost > req->conf->max_cost) {
            ngx_log_error(NGX_LOG_ERR, req->log, 0,
                          "iot_auth: the hash of device \"%V\" has cost %ui, "
                          "above iot_auth_max_cost %ui", &req->ticket.device,
                          rec->cost, req->conf->max_cost);
            req->fetched = NGX_DECLINED;
        }
    }

    req->state = NGX_IOT_AUTH_ANSWERED;

    if (!req->running) {
        ngx_iot_auth_run(req);
    }
}


static void
ngx_iot_auth_answered(ngx_iot_auth_req_t *req)
{
    ngx_iot_auth_action_e  action;

    if (req->fetched == NGX_ERROR) {
        ngx_iot_auth_unavailable(req);
        return;
    }

    if (!req->owner) {

        /* a re-check: the verdict holds while the stored hash is the same */

        req->ticket.may_start = ngx_iot_auth_room(req);

        action = ngx_iot_auth_cache_revalidate(req->zone, &req->ticket,
                                               req->fetched == NGX_OK
                                               ? &req->cred : NULL);

        if (action != NGX_IOT_AUTH_OWN) {
            ngx_iot_auth_act(req, action);
            return;
        }

        /* the record just read serves the verification */

        req->owner = 1;
    }

    if (req->fetched == NGX_DECLINED) {
        ngx_iot_auth_end_flight(req, NGX_IOT_AUTH_NO_DEVICE);
        ngx_iot_auth_done(req, NGX_IOT_AUTH_UNKNOWN);
        return;
    }

    ngx_iot_auth_bcrypt(req);
}


/*
 * the store could not answer: its verdict on this very token is kept
 * for iot_auth_stale_if_error past its expiry, anything else is refused
 * for now
 */

static void
ngx_iot_auth_unavailable(ngx_iot_auth_req_t *req)
{
    ngx_iot_auth_cache_count_backend_error(req->zone,
                                           req->conf->store.backend);

    if (req->owner) {
        ngx_iot_auth_end_flight(req, NGX_IOT_AUTH_NO_ANSWER);

    } else if (ngx_iot_auth_cache_stale(req->zone, &req->ticket,
                                        req->conf->stale_if_error)
               == NGX_OK)
    {
        req->answer.perms = req->ticket.perms;
        ngx_iot_auth_done(req, NGX_IOT_AUTH_STALE);
        return;
    }

    /* the outage itself is logged once by the store */

    ngx_log_error(NGX_LOG_INFO, req->log, 0,
                  "iot_auth: device \"%V\" not checked: "
                  "credential store unavailable", &req->ticket.device);

    req->answer.retry = 1;
    ngx_iot_auth_done(req, NGX_IOT_AUTH_ERROR);
}


/* a slow store lookup lets others start bcrypts meanwhile: room is checked */

static void
ngx_iot_auth_bcrypt(ngx_iot_auth_req_t *req)
{
    if (ngx_iot_auth_room(req)
        && ngx_iot_auth_flight_bcrypt(req->conf->thread_pool,
                                      req->conf->priority, &req->token,
                                      req->hash, req->log,
                                      ngx_iot_auth_bcrypt_done, req)
           != NULL)
    {
        ngx_log_debug1(NGX_LOG_DEBUG_CORE, req->log, 0,
                       "iot_auth: bcrypt posted for device \"%V\"",
                       &req->ticket.device);

        req->state = NGX_IOT_AUTH_VERIFYING;
        return;
    }

    ngx_iot_auth_end_flight(req, NGX_IOT_AUTH_NO_ANSWER);

    req->answer.retry = 1;
    ngx_iot_auth_done(req, NGX_IOT_AUTH_BUSY);
}


static void
ngx_iot_auth_bcrypt_done(ngx_iot_auth_bcrypt_t *b)
{
    ngx_iot_auth_req_t  *req = b->data;

    if (b->err) {
        ngx_log_error(NGX_LOG_CRIT, req->log, b->err,
                      "iot_auth: crypt_rn() failed for device \"%V\"",
                      &req->ticket.device);
        req->match = NGX_ERROR;

    } else {
        ngx_iot_auth_cache_count_bcrypt(req->zone, b->match, b->usec);
        req->match = b->match;
    }

    ngx_log_debug2(NGX_LOG_DEBUG_CORE, req->log, 0,
                   "iot_auth: bcrypt done in %Mus, match:%ui",
                   b->usec, b->match);

    req->state = NGX_IOT_AUTH_VERIFIED;

    ngx_iot_auth_run(req);
}


static void
ngx_iot_auth_verified(ngx_iot_auth_req_t *req)
{
    if (req->match == NGX_ERROR) {
        ngx_iot_auth_end_flight(req, NGX_IOT_AUTH_NO_ANSWER);
        ngx_iot_auth_done(req, NGX_IOT_AUTH_ERROR);
        return;
    }

    if (req->match) {
        ngx_iot_auth_end_flight(req, NGX_IOT_AUTH_MATCH);
        req->answer.perms = req->cred.perms;
        ngx_iot_auth_done(req, NGX_IOT_AUTH_MISS);
        return;
    }

    ngx_iot_auth_end_flight(req, NGX_IOT_AUTH_MISMATCH);

    ngx_log_error(NGX_LOG_INFO, req->log, 0,
                  "iot_auth: device \"%V\" rejected: wrong token",
                  &req->ticket.device);

    ngx_iot_auth_done(req, NGX_IOT_AUTH_DENIED);
}


static void
ngx_iot_auth_end_flight(ngx_iot_auth_req_t *req,
    ngx_iot_auth_outcome_e outcome)
{
    ngx_iot_auth_flight_wake(ngx_iot_auth_cache_end_flight(req->zone,
                                                           &req->ticket,
                                                           outcome,
                                                           &req->cred));
}


static void
ngx_iot_auth_wake(ngx_event_t *ev)
{
    ngx_iot_auth_req_t  *req = ev->data;

    if (req->state == NGX_IOT_AUTH_WAITING) {
        req->state = NGX_IOT_AUTH_WOKEN;
        ngx_iot_auth_run(req);
    }
}


static void
ngx_iot_auth_done(ngx_iot_auth_req_t *req, ngx_iot_auth_result_e result)
{
    ngx_iot_auth_flight_unwait(&req->waiter);

    ngx_explicit_memzero(req->hash, NGX_IOT_AUTH_HASH_LEN);

    req->answer.result = result;
    req->state = NGX_IOT_AUTH_DONE;
}


void
ngx_iot_auth_account(ngx_iot_auth_conf_t *conf, ngx_log_t *log,
    ngx_str_t *device, ngx_iot_auth_result_e result)
{
    ngx_iot_auth_result_info_t  *info;

    ngx_iot_auth_cache_count(conf->shm_zone->data, result);

    info = &ngx_iot_auth_results[result];

    if (info->reason) {
        ngx_log_error(info->level, log, 0,
                      "iot_auth: device \"%V\" rejected: %s", device,
                      info->reason);
    }
}


/* re-reads the store for a verdict past its refresh point, detached */

static void
ngx_iot_auth_refresh(ngx_iot_auth_req_t *req)
{
    ngx_str_t               *device;
    ngx_iot_auth_refresh_t  *rf;

    device = &req->ticket.device;

    rf = ngx_alloc(sizeof(ngx_iot_auth_refresh_t) + device->len, req->log);
    if (rf == NULL) {
        return;
    }

    rf->zone = req->zone;
    rf->conf = req->conf;
    rf->device.len = device->len;
    rf->device.data = (u_char *) (rf + 1);
    ngx_memcpy(rf->device.data, device->data, device->len);
    ngx_memcpy(rf->digest, req->ticket.digest, NGX_IOT_AUTH_DIGEST_LEN);

    (void) ngx_iot_auth_store_fetch(&req->conf->store, &rf->device,
                                    ngx_cycle->log, ngx_iot_auth_refreshed,
                                    rf);
}


static void
ngx_iot_auth_refreshed(void *data, ngx_int_t rc, ngx_iot_auth_record_t *rec)
{
    ngx_iot_auth_refresh_t  *rf = data;

    ngx_iot_auth_cred_t   cred;
    ngx_iot_auth_conf_t  *conf;

    conf = rf->conf;

    if (rc == NGX_ERROR) {
        ngx_iot_auth_cache_count_backend_error(rf->zone,
                                               conf->store.backend);

    } else if (rc == NGX_DECLINED || rec->cost > conf->max_cost) {
        ngx_iot_auth_cache_refresh(rf->zone, conf->store.id,
                                   conf->store.version, &rf->device,
                                   rf->digest, NULL);

    } else {
        ngx_iot_auth_cache_fingerprint(rf->zone, rec->hash, cred.fprint);
        cred.perms = rec->perms;
        cred.version = conf->store.version;

        ngx_iot_auth_cache_refresh(rf->zone, conf->store.id,
                                   conf->store.version, &rf->device,
                                   rf->digest, &cred);
    }

    ngx_free(rf);
}


/* the Redis subscriber's handler for a device id published */

void
ngx_iot_auth_revoke(void *data, ngx_str_t *device)
{
    ngx_iot_auth_main_t  *iam = data;

    ngx_uint_t          i;
    ngx_shm_zone_t    **zones;
    static ngx_msec_t   logged;
    static ngx_uint_t   unlogged;

    zones = iam->zones.elts;

    for (i = 0; i < iam->zones.nelts; i++) {
        ngx_iot_auth_cache_revoke(zones[i]->data, device);
    }

    /* a line a second at most: anyone who can publish can flood */

    if (logged && ngx_current_msec - logged < 1000) {
        unlogged++;
        return;
    }

    if (unlogged) {
        ngx_log_error(NGX_LOG_NOTICE, ngx_cycle->log, 0,
                      "iot_auth: device \"%V\" revoked, and %ui other "
                      "devices since the last line", device, unlogged);

    } else {
        ngx_log_error(NGX_LOG_NOTICE, ngx_cycle->log, 0,
                      "iot_auth: device \"%V\" revoked", device);
    }

    logged = ngx_current_msec | 1;
    unlogged = 0;
}


ngx_int_t
ngx_iot_auth_engine_init_module(ngx_cycle_t *cycle, ngx_iot_auth_main_t *iam)
{
    if (iam == NULL || iam->zones.nelts == 0) {
        return NGX_OK;
    }

    return ngx_iot_auth_flight_init_module(cycle);
}


ngx_int_t
ngx_iot_auth_engine_init_process(ngx_cycle_t *cycle, ngx_iot_auth_main_t *iam)
{
    ngx_uint_t        i;
    ngx_shm_zone_t  **zones;

    if (iam == NULL || iam->zones.nelts == 0) {
        return NGX_OK;
    }

    /* cache managers and loaders run init_process too, but no requests */

    if (ngx_process != NGX_PROCESS_WORKER
        && ngx_process != NGX_PROCESS_SINGLE)
    {
        return NGX_OK;
    }

    zones = iam->zones.elts;

    for (i = 0; i < iam->zones.nelts; i++) {
        if (ngx_iot_auth_cache_init_process(zones[i]->data, cycle->log)
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    if (ngx_iot_auth_flight_init_process(cycle) != NGX_OK) {
        return NGX_ERROR;
    }

    if (iam->redis) {
        return ngx_iot_auth_redis_init_process(cycle, iam->redis,
                                               ngx_iot_auth_revoke, iam);
    }

    return NGX_OK;
}


void
ngx_iot_auth_engine_exit_process(ngx_cycle_t *cycle, ngx_iot_auth_main_t *iam)
{
    ngx_uint_t        i;
    ngx_shm_zone_t  **zones;

    if (iam == NULL || iam->zones.nelts == 0) {
        return;
    }

    if (iam->redis) {
        ngx_iot_auth_redis_exit_process(cycle);
    }

    zones = iam->zones.elts;

    for (i = 0; i < iam->zones.nelts; i++) {
        ngx_iot_auth_cache_exit_process(zones[i]->data);
    }
}
