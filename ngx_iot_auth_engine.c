
/*
 * Copyright (C) ngx_iot_auth authors
 */


/*
 * The verification engine (see ngx_iot_auth_engine.h): one state
 * machine per verification, stepped by ngx_iot_auth_run() only; the
 * events that move a suspended one on (a wake-up, the store's or the
 * fleet's answer, the end of a bcrypt) record what they bring and call
 * it.  Calls the zone, the flights, the stores and the fleet; knows no
 * protocol.
 */


#include "ngx_iot_auth_engine.h"


/*
 * how many times a verification asks the fleet before it decides alone:
 * a claim that ended elsewhere, a wake-up, a waiter's timeout each ask
 * again
 */
#define NGX_IOT_AUTH_FLEET_ROUNDS    4


/* a detached re-check of the store; the device id follows it */

typedef struct {
    ngx_iot_auth_zone_t         *zone;
    ngx_iot_auth_conf_t         *conf;
    uint64_t                     epoch;
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

static void ngx_iot_auth_fleet_lookup(ngx_iot_auth_req_t *req);
static void ngx_iot_auth_fleet_read_done(void *data);
static void ngx_iot_auth_fleet_answered(ngx_iot_auth_req_t *req);
static ngx_uint_t ngx_iot_auth_fleet_vouches(ngx_iot_auth_req_t *req);
static void ngx_iot_auth_fleet_shared(ngx_iot_auth_req_t *req);
static void ngx_iot_auth_claim(ngx_iot_auth_req_t *req);
static void ngx_iot_auth_claim_done(void *data);
static void ngx_iot_auth_claimed(ngx_iot_auth_req_t *req);
static void ngx_iot_auth_fleet_refused(ngx_iot_auth_req_t *req,
    ngx_iot_auth_outcome_e outcome, ngx_iot_auth_result_e result);
static void ngx_iot_auth_fleet_alone(ngx_iot_auth_req_t *req);
static void ngx_iot_auth_fleet_wait(ngx_iot_auth_req_t *req);
static void ngx_iot_auth_fleet_timeout(ngx_event_t *ev);
static void ngx_iot_auth_fleet_woken(ngx_iot_auth_req_t *req);
static void ngx_iot_auth_fleet_key(ngx_iot_auth_req_t *req,
    ngx_iot_auth_fleet_key_t *key);
static void ngx_iot_auth_fleet_terms(ngx_iot_auth_zone_t *zone,
    ngx_iot_auth_conf_t *conf, ngx_iot_auth_fleet_terms_t *terms);
static void ngx_iot_auth_share(ngx_iot_auth_zone_t *zone,
    uint64_t store, ngx_str_t *device, u_char *digest,
    ngx_iot_auth_cred_t *cred);
static void ngx_iot_auth_fleet_message(void *data, ngx_str_t *payload);
static void ngx_iot_auth_fleet_up(void *data, ngx_uint_t subscriber);
static void ngx_iot_auth_fleet_down(void *data, ngx_uint_t subscriber);


/* losses of this worker's Redis connection: fleet waiters stop waiting */
static ngx_uint_t  ngx_iot_auth_fleet_outages;


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
    { ngx_string("ERROR"), ngx_string("error"), 0, NULL },
    { ngx_string("SHARED"), ngx_string("shared"), 0, NULL }
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

    /* revocations missed by this gateway are caught up with by epochs */

    t->recheck = conf->fleet
                 && conf->store.backend == NGX_IOT_AUTH_BACKEND_REDIS;

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

        case NGX_IOT_AUTH_FLEET_ANSWERED:
            ngx_iot_auth_fleet_answered(req);
            break;

        case NGX_IOT_AUTH_FLEET_CLAIMED:
            ngx_iot_auth_claimed(req);
            break;

        case NGX_IOT_AUTH_FLEET_WOKEN:
            ngx_iot_auth_fleet_woken(req);
            break;

        case NGX_IOT_AUTH_DONE:
            req->running = 0;

            if (req->handler) {
                req->handler(req->data);
            }

            return;

        default: /* WAITING, LOOKUP, VERIFYING, FLEET_LOOKUP, FLEET_CLAIM,
                    FLEET_WAITING: an event moves it on */
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

        if (t->result == NGX_IOT_AUTH_LOCKED && req->conf->fleet) {

            /* the token may be the device's last good one in the fleet */

            req->owner = 0;
            ngx_iot_auth_fleet_lookup(req);
            return;
        }

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

        if (req->conf->fleet) {
            ngx_iot_auth_fleet_lookup(req);
            return;
        }

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
        req->cred.epoch = req->ticket.epoch;

        if (rec->cost > req->conf->max_cost) {
            ngx_log_error(NGX_LOG_ERR, req->log, 0,
                          "iot_auth: the hash of device \"%V\" has cost %ui, "
                          "above iot_auth_max_cost %ui", &req->ticket.device,
                          rec->cost, req->conf->max_cost);
            req->fetched = NGX_DECLINED;
        }
    }

    if (req->state != NGX_IOT_AUTH_FLEET_LOOKUP) {
        req->state = NGX_IOT_AUTH_ANSWERED;

    } else if (--req->awaiting == 0) {
        req->state = NGX_IOT_AUTH_FLEET_ANSWERED;

    } else {
        return;
    }

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

        if (action == NGX_IOT_AUTH_ALLOW && req->conf->fleet) {
            ngx_iot_auth_share(req->zone, req->ticket.store,
                               &req->ticket.device, req->ticket.digest,
                               &req->cred);
        }

        /* in fleet mode the verification is claimed in the fleet first */

        if (action != NGX_IOT_AUTH_OWN || req->conf->fleet) {
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


/* the owner of the fleet's claim tells the fleet too */

static void
ngx_iot_auth_end_flight(ngx_iot_auth_req_t *req,
    ngx_iot_auth_outcome_e outcome)
{
    ngx_iot_auth_fleet_key_t    key;
    ngx_iot_auth_fleet_terms_t  terms;

    ngx_iot_auth_flight_wake(ngx_iot_auth_cache_end_flight(req->zone,
                                                           &req->ticket,
                                                           outcome,
                                                           &req->cred));

    if (req->fleet_owner) {
        req->fleet_owner = 0;

        ngx_iot_auth_fleet_key(req, &key);
        ngx_iot_auth_fleet_terms(req->zone, req->conf, &terms);

        ngx_iot_auth_fleet_finish(&key, &terms, &req->fleet, outcome);
    }
}


static void
ngx_iot_auth_wake(ngx_event_t *ev)
{
    ngx_iot_auth_req_t  *req = ev->data;

    if (req->state == NGX_IOT_AUTH_WAITING) {
        req->state = NGX_IOT_AUTH_WOKEN;
        ngx_iot_auth_run(req);

    } else if (req->state == NGX_IOT_AUTH_FLEET_WAITING) {
        req->state = NGX_IOT_AUTH_FLEET_WOKEN;
        ngx_iot_auth_run(req);
    }
}


static void
ngx_iot_auth_done(ngx_iot_auth_req_t *req, ngx_iot_auth_result_e result)
{
    ngx_iot_auth_flight_unwait(&req->waiter);

    if (req->fleet_timer.timer_set) {
        ngx_del_timer(&req->fleet_timer);
    }

    ngx_explicit_memzero(req->hash, NGX_IOT_AUTH_HASH_LEN);

    req->answer.result = result;
    req->state = NGX_IOT_AUTH_DONE;
}


void
ngx_iot_auth_account(ngx_iot_auth_conf_t *conf, ngx_log_t *log,
    ngx_str_t *device, ngx_iot_auth_result_e result)
{
    ngx_iot_auth_result_info_t  *info;

    ngx_iot_auth_count(conf, result);

    info = &ngx_iot_auth_results[result];

    if (info->reason) {
        ngx_log_error(info->level, log, 0,
                      "iot_auth: device \"%V\" rejected: %s", device,
                      info->reason);
    }
}


void
ngx_iot_auth_count(ngx_iot_auth_conf_t *conf, ngx_iot_auth_result_e result)
{
    ngx_iot_auth_cache_count(conf->shm_zone->data, result);
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
    rf->epoch = req->ticket.epoch;
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
        (void) ngx_iot_auth_cache_refresh(rf->zone, conf->store.id,
                                          &rf->device, rf->digest, NULL);

    } else {
        ngx_iot_auth_cache_fingerprint(rf->zone, rec->hash, cred.fprint);
        cred.perms = rec->perms;
        cred.version = conf->store.version;
        cred.epoch = rf->epoch;

        if (ngx_iot_auth_cache_refresh(rf->zone, conf->store.id,
                                       &rf->device, rf->digest, &cred)
            == NGX_OK
            && conf->fleet)
        {
            ngx_iot_auth_share(rf->zone, conf->store.id, &rf->device,
                               rf->digest, &cred);
        }
    }

    ngx_free(rf);
}


/*
 * the owner of a flight asks the fleet: the store's record and the
 * fleet's verdict and lockout are read together, one round trip
 */

static void
ngx_iot_auth_fleet_lookup(ngx_iot_auth_req_t *req)
{
    ngx_iot_auth_fleet_key_t    key;
    ngx_iot_auth_fleet_terms_t  terms;

    req->state = NGX_IOT_AUTH_FLEET_LOOKUP;
    req->awaiting = 2;
    req->rounds++;

    ngx_iot_auth_fleet_key(req, &key);
    ngx_iot_auth_fleet_terms(req->zone, req->conf, &terms);

    if (ngx_iot_auth_fleet_read(&key, &terms, &req->fleet, req->log,
                                ngx_iot_auth_fleet_read_done, req)
        != NGX_OK)
    {
        req->fleet.rc = NGX_ERROR;
        req->awaiting--;
    }

    (void) ngx_iot_auth_store_fetch(&req->conf->store, &req->ticket.device,
                                    req->log, ngx_iot_auth_fetched, req);
}


static void
ngx_iot_auth_fleet_read_done(void *data)
{
    ngx_iot_auth_req_t  *req = data;

    if (--req->awaiting) {
        return;
    }

    req->state = NGX_IOT_AUTH_FLEET_ANSWERED;

    ngx_iot_auth_run(req);
}


/*
 * the verdict of another gateway is taken when it was made with the
 * stored hash just read: the same rule as a re-check here
 */

static void
ngx_iot_auth_fleet_answered(ngx_iot_auth_req_t *req)
{
    ngx_iot_auth_fleet_answer_t  *fa;

    if (!req->owner) {

        /* locked out here: let in only by the fleet's verdict */

        if (ngx_iot_auth_fleet_vouches(req)) {
            ngx_iot_auth_fleet_shared(req);
            return;
        }

        ngx_iot_auth_done(req, NGX_IOT_AUTH_LOCKED);
        return;
    }

    if (req->fetched == NGX_ERROR) {
        ngx_iot_auth_unavailable(req);
        return;
    }

    if (req->fetched == NGX_DECLINED) {
        ngx_iot_auth_end_flight(req, NGX_IOT_AUTH_NO_DEVICE);
        ngx_iot_auth_done(req, NGX_IOT_AUTH_UNKNOWN);
        return;
    }

    fa = &req->fleet;

    if (fa->rc != NGX_OK) {
        ngx_iot_auth_fleet_alone(req);
        return;
    }

    if (ngx_iot_auth_fleet_vouches(req)) {
        ngx_iot_auth_fleet_shared(req);
        return;
    }

    if (fa->locked) {
        req->ticket.locked = fa->locked;
        ngx_iot_auth_fleet_refused(req, NGX_IOT_AUTH_FLEET_LOCKED,
                                   NGX_IOT_AUTH_LOCKED);
        return;
    }

    ngx_iot_auth_claim(req);
}


/* the fleet's verdict is this token's, made with the stored hash just read */

static ngx_uint_t
ngx_iot_auth_fleet_vouches(ngx_iot_auth_req_t *req)
{
    ngx_iot_auth_fleet_answer_t  *fa;

    fa = &req->fleet;

    return req->fetched == NGX_OK && fa->rc == NGX_OK && fa->verdict
           && CRYPTO_memcmp(fa->digest, req->ticket.digest,
                            NGX_IOT_AUTH_DIGEST_LEN)
              == 0
           && CRYPTO_memcmp(fa->fprint, req->cred.fprint,
                            NGX_IOT_AUTH_FPRINT_LEN)
              == 0;
}


/* kept here as this gateway's verdict: the next request is a HIT */

static void
ngx_iot_auth_fleet_shared(ngx_iot_auth_req_t *req)
{
    ngx_iot_auth_end_flight(req, NGX_IOT_AUTH_MATCH);

    req->answer.perms = req->cred.perms;
    ngx_iot_auth_done(req, NGX_IOT_AUTH_SHARED);
}


static void
ngx_iot_auth_claim(ngx_iot_auth_req_t *req)
{
    ngx_iot_auth_fleet_key_t    key;
    ngx_iot_auth_fleet_terms_t  terms;

    ngx_iot_auth_fleet_key(req, &key);
    ngx_iot_auth_fleet_terms(req->zone, req->conf, &terms);

    if (ngx_iot_auth_fleet_claim(&key, &terms, &req->fleet, req->log,
                                 ngx_iot_auth_claim_done, req)
        != NGX_OK)
    {
        ngx_iot_auth_fleet_alone(req);
        return;
    }

    req->state = NGX_IOT_AUTH_FLEET_CLAIM;
}


static void
ngx_iot_auth_claim_done(void *data)
{
    ngx_iot_auth_req_t  *req = data;

    req->state = NGX_IOT_AUTH_FLEET_CLAIMED;

    ngx_iot_auth_run(req);
}


static void
ngx_iot_auth_claimed(ngx_iot_auth_req_t *req)
{
    if (req->fleet.rc != NGX_OK) {
        ngx_iot_auth_fleet_alone(req);
        return;
    }

    switch (req->fleet.claim) {

    case NGX_IOT_AUTH_FLEET_OWN:
        req->fleet_owner = 1;
        ngx_iot_auth_bcrypt(req);
        return;

    case NGX_IOT_AUTH_FLEET_BUSY:
        ngx_iot_auth_fleet_wait(req);
        return;

    case NGX_IOT_AUTH_FLEET_FAILED:
        ngx_log_error(NGX_LOG_INFO, req->log, 0,
                      "iot_auth: device \"%V\" rejected: wrong token, "
                      "verified by another gateway", &req->ticket.device);

        ngx_iot_auth_fleet_refused(req, NGX_IOT_AUTH_FLEET_MISMATCH,
                                   NGX_IOT_AUTH_NEGATIVE);
        return;

    case NGX_IOT_AUTH_FLEET_REFUSED:
        ngx_iot_auth_fleet_refused(req, NGX_IOT_AUTH_NO_ANSWER,
                                   NGX_IOT_AUTH_LOCKED);
        return;

    default: /* NGX_IOT_AUTH_FLEET_MATCHED: the verdict is shared now */

        if (req->rounds < NGX_IOT_AUTH_FLEET_ROUNDS) {
            ngx_iot_auth_fleet_lookup(req);
            return;
        }

        ngx_iot_auth_fleet_alone(req);
        return;
    }
}


static void
ngx_iot_auth_fleet_refused(ngx_iot_auth_req_t *req,
    ngx_iot_auth_outcome_e outcome, ngx_iot_auth_result_e result)
{
    ngx_iot_auth_end_flight(req, outcome);
    ngx_iot_auth_done(req, result);
}


/*
 * Redis is down, answered something the fleet never writes, or the
 * fleet went round too often: this gateway decides with the record it
 * has, and keeps the verdict to itself
 */

static void
ngx_iot_auth_fleet_alone(ngx_iot_auth_req_t *req)
{
    if (req->fleet.rc != NGX_OK) {
        ngx_iot_auth_cache_count_fleet_error(req->zone);
    }

    ngx_iot_auth_bcrypt(req);
}


/*
 * another gateway verifies the token: its end is published on the
 * fleet's channel, heard by this gateway's subscriber, and rung here
 * through the zone; a lease of wait_timeout bounds the wait
 */

static void
ngx_iot_auth_fleet_wait(ngx_iot_auth_req_t *req)
{
    ngx_iot_auth_cache_fleet_wait(req->zone, &req->ticket);

    req->waiter.wake.handler = ngx_iot_auth_wake;
    req->waiter.wake.data = req;
    req->waiter.wake.log = req->log;

    ngx_iot_auth_flight_wait(&req->waiter);

    req->fleet_timer.handler = ngx_iot_auth_fleet_timeout;
    req->fleet_timer.data = req;
    req->fleet_timer.log = req->log;

    ngx_add_timer(&req->fleet_timer, req->conf->wait_timeout);

    req->outages = ngx_iot_auth_fleet_outages;
    req->state = NGX_IOT_AUTH_FLEET_WAITING;
}


static void
ngx_iot_auth_fleet_timeout(ngx_event_t *ev)
{
    ngx_iot_auth_req_t  *req = ev->data;

    if (req->state != NGX_IOT_AUTH_FLEET_WAITING) {
        return;
    }

    ngx_log_error(NGX_LOG_WARN, req->log, 0,
                  "iot_auth: device \"%V\": another gateway's "
                  "verification did not end in %Mms, asking the fleet again",
                  &req->ticket.device, req->conf->wait_timeout);

    req->timed_out = 1;
    req->state = NGX_IOT_AUTH_FLEET_WOKEN;

    ngx_iot_auth_run(req);
}


/* a doorbell rings every waiter of the worker: is it for this one? */

static void
ngx_iot_auth_fleet_woken(ngx_iot_auth_req_t *req)
{
    if (!ngx_iot_auth_cache_fleet_signaled(req->zone, &req->ticket)
        && !req->timed_out && req->outages == ngx_iot_auth_fleet_outages)
    {
        req->state = NGX_IOT_AUTH_FLEET_WAITING;
        return;
    }

    req->timed_out = 0;

    if (req->fleet_timer.timer_set) {
        ngx_del_timer(&req->fleet_timer);
    }

    ngx_iot_auth_flight_unwait(&req->waiter);

    if (req->rounds < NGX_IOT_AUTH_FLEET_ROUNDS) {
        ngx_iot_auth_fleet_lookup(req);
        return;
    }

    /* the record is read again: it may have changed meanwhile */

    ngx_iot_auth_lookup(req);
}


static void
ngx_iot_auth_fleet_key(ngx_iot_auth_req_t *req, ngx_iot_auth_fleet_key_t *key)
{
    key->store = req->ticket.store;
    key->device = req->ticket.device;

    ngx_memcpy(key->digest, req->ticket.digest, NGX_IOT_AUTH_DIGEST_LEN);
    ngx_memcpy(key->fprint, req->cred.fprint, NGX_IOT_AUTH_FPRINT_LEN);
}


/*
 * an outcome is kept long enough for the waiters that missed the
 * wake-up to find it when their wait ends
 */

static void
ngx_iot_auth_fleet_terms(ngx_iot_auth_zone_t *zone, ngx_iot_auth_conf_t *conf,
    ngx_iot_auth_fleet_terms_t *terms)
{
    terms->ttl = zone->ttl;
    terms->lease = conf->wait_timeout;
    terms->keep = ngx_max(zone->negative_ttl, conf->wait_timeout);
    terms->lockout = &conf->lockout;
}


/* a verdict checked against its store is shared for another ttl */

static void
ngx_iot_auth_share(ngx_iot_auth_zone_t *zone, uint64_t store,
    ngx_str_t *device, u_char *digest, ngx_iot_auth_cred_t *cred)
{
    ngx_iot_auth_fleet_key_t  key;

    key.store = store;
    key.device = *device;

    ngx_memcpy(key.digest, digest, NGX_IOT_AUTH_DIGEST_LEN);
    ngx_memcpy(key.fprint, cred->fprint, NGX_IOT_AUTH_FPRINT_LEN);

    ngx_iot_auth_fleet_keep(&key, zone->ttl);
}


/* the subscriber heard that a verification ended on some gateway */

static void
ngx_iot_auth_fleet_message(void *data, ngx_str_t *payload)
{
    ngx_iot_auth_main_t  *iam = data;

    uint64_t          store, workers;
    ngx_str_t         device;
    ngx_uint_t        i;
    ngx_shm_zone_t  **zones;
    u_char            digest[NGX_IOT_AUTH_DIGEST_LEN];

    if (ngx_iot_auth_fleet_parse_wake(payload, &store, digest, &device)
        != NGX_OK)
    {
        ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                      "iot_auth: ignored a malformed message of %uz bytes "
                      "on the fleet's channel", payload->len);
        return;
    }

    zones = iam->zones.elts;
    workers = 0;

    for (i = 0; i < iam->zones.nelts; i++) {
        workers |= ngx_iot_auth_cache_fleet_signal(zones[i]->data, store,
                                                   &device, digest);
    }

    ngx_iot_auth_flight_wake(workers);
}


/*
 * Redis is back, or the subscriber listens again after a gap: whatever
 * was revoked meanwhile is caught up with by re-checking every verdict
 * of a Redis store made before (a new epoch), and every fleet waiter
 * looks again
 */

static void
ngx_iot_auth_fleet_up(void *data, ngx_uint_t subscriber)
{
    ngx_iot_auth_main_t  *iam = data;

    ngx_int_t         rc;
    ngx_uint_t        i, moved, first, level;
    ngx_shm_zone_t  **zones;

    zones = iam->zones.elts;
    moved = 0;
    first = 0;

    for (i = 0; i < iam->zones.nelts; i++) {

        if (!subscriber) {
            ngx_iot_auth_cache_new_epoch(zones[i]->data);
            moved = 1;

        } else {
            rc = ngx_iot_auth_cache_subscribed(zones[i]->data, 1);

            if (rc == NGX_OK) {
                moved = 1;

            } else if (rc == NGX_DONE) {
                first = 1;
            }
        }
    }

    if (moved || first) {
        level = moved ? NGX_LOG_NOTICE : NGX_LOG_INFO;

        ngx_log_error(level, ngx_cycle->log, 0,
                      "iot_auth: verdicts of redis stores will be checked "
                      "again: revocations may have been missed");

        ngx_iot_auth_flight_wake((uint64_t) -1);
    }
}


/* this worker's fleet waiters stop waiting for a fleet it cannot reach */

static void
ngx_iot_auth_fleet_down(void *data, ngx_uint_t subscriber)
{
    ngx_iot_auth_main_t  *iam = data;

    ngx_uint_t        i;
    ngx_shm_zone_t  **zones;

    if (subscriber) {
        zones = iam->zones.elts;

        for (i = 0; i < iam->zones.nelts; i++) {
            (void) ngx_iot_auth_cache_subscribed(zones[i]->data, 0);
        }

        return;
    }

    ngx_iot_auth_fleet_outages++;

    ngx_iot_auth_flight_wake((uint64_t) 1 << (ngx_worker % 64));
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
    ngx_uint_t                      i;
    ngx_shm_zone_t                **zones;
    ngx_iot_auth_redis_handlers_t   h;

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

    if (iam->redis == NULL) {
        return NGX_OK;
    }

    ngx_memzero(&h, sizeof(ngx_iot_auth_redis_handlers_t));

    h.revoke = ngx_iot_auth_revoke;
    h.data = iam;

    if (iam->fleet) {
        if (ngx_iot_auth_fleet_init_process(cycle, &iam->redis->fleet_prefix,
                                            &h.channel)
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        h.message = ngx_iot_auth_fleet_message;
        h.up = ngx_iot_auth_fleet_up;
        h.down = ngx_iot_auth_fleet_down;

        /* a gateway cut off from the fleet comes back within a second */
        h.backoff_max = 1000;
    }

    return ngx_iot_auth_redis_init_process(cycle, iam->redis, &h);
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

        if (iam->fleet) {
            ngx_iot_auth_fleet_down(iam, 1);
        }
    }

    zones = iam->zones.elts;

    for (i = 0; i < iam->zones.nelts; i++) {
        ngx_iot_auth_cache_exit_process(zones[i]->data);
    }
}
