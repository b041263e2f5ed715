
/*
 * Copyright (C) ngx_iot_auth authors
 */


#include "ngx_iot_auth_module.h"

#include <ngx_channel.h>
#include <crypt.h>
#include <openssl/crypto.h>


/*
 * how often a worker with waiting or verifying requests looks at the
 * zone even without a doorbell: it covers a reload, when old and new
 * workers ring different doorbells, and an owner that died
 */
#define NGX_IOT_AUTH_SAFETY_NET      200

/* a flight this much past its deadline is taken over even from a live owner */
#define NGX_IOT_AUTH_FLIGHT_MAX_AGE  60000

/*
 * how long a failed flight keeps its outcome for waiters that have not
 * looked yet: they are woken at once, or by the safety net
 */
#define NGX_IOT_AUTH_OUTCOME_KEEP    5000


/*
 * a bcrypt in progress for one (device, digest), kept in the zone; a
 * failed one stays, done, until its waiters have taken its outcome
 */

typedef struct {
    ngx_queue_t                  queue;
    u_char                       digest[NGX_IOT_AUTH_DIGEST_LEN];
    uint64_t                     generation;   /* waiters hold it */
    uint64_t                     claim;        /* renewed by a takeover */
    uint64_t                     workers;      /* bits of waiters' workers */
    ngx_msec_t                   deadline;     /* done: freed after it */
    ngx_pid_t                    owner;
    ngx_uint_t                   waiters;
    ngx_iot_auth_outcome_e       outcome;
    unsigned                     done:1;
} ngx_iot_auth_flight_t;


/* everything the pool thread touches: copies, never pointers into r */

typedef struct {
    struct crypt_data            cd;
    u_char                       token[NGX_IOT_AUTH_TOKEN_MAX + 1];
    u_char                       hash[NGX_IOT_AUTH_HASH_LEN + 1];
    ngx_iot_auth_cred_t          cred;
    ngx_uint_t                   match;
    ngx_err_t                    err;
    ngx_msec_t                   usec;
} ngx_iot_auth_task_t;


/* per-worker doorbells: eventfds indexed by ngx_worker */

typedef struct {
    ngx_uint_t                   n;
    ngx_fd_t                    *fds;
} ngx_iot_auth_bells_t;


static ngx_iot_auth_flight_t *ngx_iot_auth_flight_find_locked(
    ngx_iot_auth_node_t *node, u_char *digest);
static ngx_iot_auth_flight_t *ngx_iot_auth_flight_of_locked(
    ngx_iot_auth_node_t *node, ngx_iot_auth_ctx_t *ctx);
static void ngx_iot_auth_flight_free_locked(ngx_iot_auth_zone_t *zone,
    ngx_iot_auth_flight_t *f);
static ngx_uint_t ngx_iot_auth_flight_abandoned(ngx_iot_auth_flight_t *f);
static ngx_iot_auth_action_e ngx_iot_auth_flight_take_over_locked(
    ngx_iot_auth_zone_t *zone, ngx_iot_auth_flight_t *f,
    ngx_iot_auth_ctx_t *ctx);
static uint64_t ngx_iot_auth_flight_worker_bit(ngx_uint_t worker);
static ngx_msec_t ngx_iot_auth_flight_wait_timeout(ngx_iot_auth_ctx_t *ctx);
static void ngx_iot_auth_flight_bcrypt_thread(void *data, ngx_log_t *log);
static void ngx_iot_auth_flight_bcrypt_done(ngx_event_t *ev);
static void ngx_iot_auth_flight_wake(uint64_t workers);
static void ngx_iot_auth_flight_wake_handler(ngx_event_t *ev);
static void ngx_iot_auth_flight_post_waiters(void);
static void ngx_iot_auth_flight_arm_safety_net(void);
static void ngx_iot_auth_flight_safety_net(ngx_event_t *ev);
static void ngx_iot_auth_flight_bell_handler(ngx_event_t *ev);
#if (NGX_HAVE_SYS_EVENTFD_H)
static ngx_int_t ngx_iot_auth_flight_open_bells(ngx_cycle_t *cycle,
    ngx_uint_t n);
static void ngx_iot_auth_flight_close_bells(void *data);
#endif


static ngx_uint_t             ngx_iot_auth_pending;
static ngx_queue_t            ngx_iot_auth_waiters;
static ngx_event_t            ngx_iot_auth_safety_net;
static ngx_connection_t       ngx_iot_auth_safety_net_conn;
static ngx_iot_auth_bells_t  *ngx_iot_auth_bells;


ngx_iot_auth_action_e
ngx_iot_auth_flight_join_locked(ngx_iot_auth_zone_t *zone,
    ngx_iot_auth_node_t *node, ngx_iot_auth_ctx_t *ctx)
{
    ngx_iot_auth_flight_t  *f;

    f = ngx_iot_auth_flight_find_locked(node, ctx->digest);

    if (f && ngx_iot_auth_flight_abandoned(f)
        && (ctx->may_own || ctx->last_good))
    {
        return ngx_iot_auth_flight_take_over_locked(zone, f, ctx);
    }

    if (f) {
        if (!ctx->waiting) {
            ctx->waiting = 1;
            ctx->waited = 1;
            ctx->flight = f->generation;
            f->waiters++;
            zone->sh->waiters++;
        }

        f->workers |= ngx_iot_auth_flight_worker_bit(ngx_worker);

        return NGX_IOT_AUTH_JOIN;
    }

    if (!ctx->may_own && !ctx->last_good) {
        return NGX_IOT_AUTH_THROTTLE;
    }

    if (!ngx_iot_auth_cache_tries_left_locked(node, ctx)) {
        ctx->result = NGX_IOT_AUTH_LOCKED;
        return NGX_IOT_AUTH_REJECT;
    }

    f = ngx_iot_auth_cache_alloc_locked(zone, sizeof(ngx_iot_auth_flight_t),
                                        node);
    if (f == NULL) {
        /* no room for the flight: verify without coalescing */
        ctx->flight = 0;
        return NGX_IOT_AUTH_OWN;
    }

    ngx_memcpy(f->digest, ctx->digest, NGX_IOT_AUTH_DIGEST_LEN);
    f->generation = ++zone->sh->generation;
    f->claim = f->generation;
    f->workers = 0;
    f->deadline = ngx_current_msec + ngx_iot_auth_flight_wait_timeout(ctx);
    f->owner = ngx_pid;
    f->waiters = 0;
    f->done = 0;

    ngx_queue_insert_tail(&node->flights, &f->queue);
    zone->sh->flights++;

    ctx->flight = f->generation;
    ctx->claim = f->claim;

    return NGX_IOT_AUTH_OWN;
}


/*
 * ends the flight of ctx unless it was taken over; a failure is kept for
 * the waiters; returns the workers whose waiters must look again
 */

uint64_t
ngx_iot_auth_flight_finish_locked(ngx_iot_auth_zone_t *zone,
    ngx_iot_auth_node_t *node, ngx_iot_auth_ctx_t *ctx,
    ngx_iot_auth_outcome_e outcome)
{
    uint64_t                workers;
    ngx_iot_auth_flight_t  *f;

    f = ngx_iot_auth_flight_find_locked(node, ctx->digest);

    if (f == NULL) {
        return 0;
    }

    workers = f->workers;

    if (f->generation != ctx->flight || f->claim != ctx->claim) {
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


/* the outcome of the failed flight ctx waited for */

ngx_int_t
ngx_iot_auth_flight_outcome_locked(ngx_iot_auth_node_t *node,
    ngx_iot_auth_ctx_t *ctx, ngx_iot_auth_outcome_e *outcome)
{
    ngx_iot_auth_flight_t  *f;

    f = ngx_iot_auth_flight_of_locked(node, ctx);

    if (f == NULL || !f->done) {
        return NGX_DECLINED;
    }

    *outcome = f->outcome;

    return NGX_OK;
}


void
ngx_iot_auth_flight_leave_locked(ngx_iot_auth_zone_t *zone,
    ngx_iot_auth_node_t *node, ngx_iot_auth_ctx_t *ctx)
{
    ngx_iot_auth_flight_t  *f;

    f = ngx_iot_auth_flight_of_locked(node, ctx);

    ctx->waiting = 0;

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


/* frees failed flights whose waiters did not all come for the outcome */

void
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


/* verifications of the device in progress */

ngx_uint_t
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


static void
ngx_iot_auth_flight_free_locked(ngx_iot_auth_zone_t *zone,
    ngx_iot_auth_flight_t *f)
{
    ngx_queue_remove(&f->queue);
    ngx_slab_free_locked(zone->shpool, f);
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

        if (!f->done
            && CRYPTO_memcmp(f->digest, digest, NGX_IOT_AUTH_DIGEST_LEN) == 0)
        {
            return f;
        }
    }

    return NULL;
}


/* the flight, in progress or done, that ctx waits for */

static ngx_iot_auth_flight_t *
ngx_iot_auth_flight_of_locked(ngx_iot_auth_node_t *node,
    ngx_iot_auth_ctx_t *ctx)
{
    ngx_queue_t            *q;
    ngx_iot_auth_flight_t  *f;

    for (q = ngx_queue_head(&node->flights);
         q != ngx_queue_sentinel(&node->flights);
         q = ngx_queue_next(q))
    {
        f = ngx_queue_data(q, ngx_iot_auth_flight_t, queue);

        if (f->generation == ctx->flight) {
            return f;
        }
    }

    return NULL;
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


static ngx_iot_auth_action_e
ngx_iot_auth_flight_take_over_locked(ngx_iot_auth_zone_t *zone,
    ngx_iot_auth_flight_t *f, ngx_iot_auth_ctx_t *ctx)
{
    if (ctx->waiting && f->generation == ctx->flight && f->waiters) {
        f->waiters--;
        zone->sh->waiters--;
    }

    ctx->waiting = 0;
    ctx->took_over = f->owner;

    f->claim = ++zone->sh->generation;
    f->deadline = ngx_current_msec + ngx_iot_auth_flight_wait_timeout(ctx);
    f->owner = ngx_pid;

    ctx->flight = f->generation;
    ctx->claim = f->claim;

    return NGX_IOT_AUTH_OWN;
}


static uint64_t
ngx_iot_auth_flight_worker_bit(ngx_uint_t worker)
{
    return (uint64_t) 1 << (worker % 64);
}


static ngx_msec_t
ngx_iot_auth_flight_wait_timeout(ngx_iot_auth_ctx_t *ctx)
{
    ngx_iot_auth_loc_conf_t  *iacf;

    iacf = ngx_http_get_module_loc_conf(ctx->request, ngx_iot_auth_module);

    return iacf->wait_timeout;
}


ngx_uint_t
ngx_iot_auth_flight_pending(void)
{
    return ngx_iot_auth_pending;
}


ngx_int_t
ngx_iot_auth_flight_bcrypt(ngx_http_request_t *r, ngx_iot_auth_ctx_t *ctx,
    u_char *hash, ngx_iot_auth_cred_t *cred)
{
    ngx_thread_task_t        *task;
    ngx_iot_auth_task_t      *t;
    ngx_iot_auth_zone_t      *zone;
    ngx_iot_auth_loc_conf_t  *iacf;

    iacf = ngx_http_get_module_loc_conf(r, ngx_iot_auth_module);

    if (ctx->took_over) {
        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "iot_auth: device \"%V\" takes over a verification "
                      "abandoned by process %P", &ctx->device,
                      ctx->took_over);
        ctx->took_over = 0;
    }

    /* a slow store lookup lets others start bcrypts meanwhile */

    if (ngx_iot_auth_pending >= (ngx_uint_t) iacf->max_pending
        && !ctx->last_good)
    {
        goto failed;
    }

    task = ngx_thread_task_alloc(r->pool, sizeof(ngx_iot_auth_task_t));
    if (task == NULL) {
        goto failed;
    }

    t = task->ctx;

    ngx_memcpy(t->token, ctx->token.data, ctx->token.len);
    ngx_memcpy(t->hash, hash, NGX_IOT_AUTH_HASH_LEN);
    t->cred = *cred;

    task->handler = ngx_iot_auth_flight_bcrypt_thread;
    task->event.handler = ngx_iot_auth_flight_bcrypt_done;
    task->event.data = ctx;
    task->event.log = r->connection->log;

    if (ngx_thread_task_post(iacf->thread_pool, task) != NGX_OK) {
        ngx_explicit_memzero(t->token, sizeof(t->token));
        goto failed;
    }

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "iot_auth: bcrypt posted for device \"%V\"", &ctx->device);

    ctx->task = task;
    ngx_iot_auth_pending++;

    ngx_iot_auth_flight_pin(r, ctx);
    ngx_iot_auth_flight_arm_safety_net();

    return NGX_AGAIN;

failed:

    zone = iacf->shm_zone->data;

    ngx_iot_auth_flight_end(zone, ctx, NGX_IOT_AUTH_NO_ANSWER, NULL);

    return ngx_iot_auth_finish(r, ctx, NGX_IOT_AUTH_BUSY,
                               NGX_HTTP_SERVICE_UNAVAILABLE);
}


/* runs in a pool thread: touches nothing but *data */

static void
ngx_iot_auth_flight_bcrypt_thread(void *data, ngx_log_t *log)
{
    ngx_iot_auth_task_t  *t = data;

    char             *out;
    struct timespec   start, end;

    (void) clock_gettime(CLOCK_MONOTONIC, &start);

    out = crypt_rn((char *) t->token, (char *) t->hash, &t->cd,
                   sizeof(struct crypt_data));

    (void) clock_gettime(CLOCK_MONOTONIC, &end);

    t->err = (out == NULL) ? ngx_errno : 0;

    t->match = out != NULL
               && ngx_strlen(out) == NGX_IOT_AUTH_HASH_LEN
               && CRYPTO_memcmp(out, t->hash, NGX_IOT_AUTH_HASH_LEN) == 0;

    t->usec = (end.tv_sec - start.tv_sec) * 1000000
              + (end.tv_nsec - start.tv_nsec) / 1000;

    ngx_explicit_memzero(t->token, sizeof(t->token));
}


static void
ngx_iot_auth_flight_bcrypt_done(ngx_event_t *ev)
{
    ngx_iot_auth_ctx_t  *ctx = ev->data;

    ngx_int_t                 rc;
    ngx_connection_t         *c;
    ngx_http_request_t       *r;
    ngx_iot_auth_task_t      *t;
    ngx_iot_auth_zone_t      *zone;
    ngx_iot_auth_loc_conf_t  *iacf;

    r = ctx->request;
    c = r->connection;
    t = ctx->task->ctx;

    ngx_http_set_log_request(c->log, r);

    ngx_iot_auth_pending--;

    iacf = ngx_http_get_module_loc_conf(r, ngx_iot_auth_module);
    zone = iacf->shm_zone->data;

    if (t->err) {
        ngx_log_error(NGX_LOG_CRIT, c->log, t->err,
                      "iot_auth: crypt_rn() failed for device \"%V\"",
                      &ctx->device);

        ngx_iot_auth_flight_end(zone, ctx, NGX_IOT_AUTH_NO_ANSWER, NULL);
        rc = ngx_iot_auth_finish(r, ctx, NGX_IOT_AUTH_ERROR,
                                 NGX_HTTP_INTERNAL_SERVER_ERROR);

    } else {
        (void) ngx_atomic_fetch_add(t->match ? &zone->sh->stats.bcrypt_match
                                          : &zone->sh->stats.bcrypt_mismatch,
                                    1);
        (void) ngx_atomic_fetch_add(&zone->sh->stats.bcrypt_usec, t->usec);

        ngx_iot_auth_flight_end(zone, ctx,
                                t->match ? NGX_IOT_AUTH_MATCH
                                         : NGX_IOT_AUTH_MISMATCH,
                                &t->cred);

        if (t->match) {
            ctx->perms = t->cred.perms;
            rc = ngx_iot_auth_finish(r, ctx, NGX_IOT_AUTH_MISS, NGX_OK);

        } else {
            ngx_log_error(NGX_LOG_INFO, c->log, 0,
                          "iot_auth: device \"%V\" rejected: wrong token",
                          &ctx->device);

            rc = ngx_iot_auth_finish(r, ctx, NGX_IOT_AUTH_DENIED,
                                     NGX_HTTP_UNAUTHORIZED);
        }
    }

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, c->log, 0,
                   "iot_auth: bcrypt done in %Mus, rc:%i", t->usec, rc);

    ngx_iot_auth_flight_resume(ctx);
}


ngx_int_t
ngx_iot_auth_flight_wait(ngx_http_request_t *r, ngx_iot_auth_ctx_t *ctx)
{
    if (!ctx->queued) {
        ngx_queue_insert_tail(&ngx_iot_auth_waiters, &ctx->queue);
        ctx->queued = 1;

        ctx->wake.handler = ngx_iot_auth_flight_wake_handler;
        ctx->wake.data = ctx;
        ctx->wake.log = r->connection->log;

        ngx_iot_auth_flight_pin(r, ctx);
    }

    ngx_iot_auth_flight_arm_safety_net();

    return NGX_AGAIN;
}


static void
ngx_iot_auth_flight_wake_handler(ngx_event_t *ev)
{
    ngx_iot_auth_ctx_t  *ctx = ev->data;

    ngx_int_t            rc;
    ngx_http_request_t  *r;

    r = ctx->request;

    ngx_http_set_log_request(r->connection->log, r);

    rc = ngx_iot_auth_check(r, ctx);

    if (ctx->waiting) {
        return;
    }

    ngx_queue_remove(&ctx->queue);
    ctx->queued = 0;

    if (rc == NGX_AGAIN) {
        /* this request now runs the bcrypt itself */
        return;
    }

    ngx_iot_auth_flight_resume(ctx);
}


/*
 * a request waiting for a verification, a bcrypt or the credential
 * store is kept alive by r->main->blocked until it is resumed
 */

void
ngx_iot_auth_flight_pin(ngx_http_request_t *r, ngx_iot_auth_ctx_t *ctx)
{
    if (!ctx->pinned) {
        r->main->blocked++;
        ctx->pinned = 1;
    }
}


void
ngx_iot_auth_flight_resume(ngx_iot_auth_ctx_t *ctx)
{
    ngx_connection_t    *c;
    ngx_http_request_t  *r;

    r = ctx->request;
    c = r->connection;

    if (ctx->wake.posted) {
        ngx_delete_posted_event(&ctx->wake);
    }

    ctx->pinned = 0;
    r->main->blocked--;

    r->write_event_handler(r);
    ngx_http_run_posted_requests(c);
}


void
ngx_iot_auth_flight_end(ngx_iot_auth_zone_t *zone, ngx_iot_auth_ctx_t *ctx,
    ngx_iot_auth_outcome_e outcome, ngx_iot_auth_cred_t *cred)
{
    ngx_iot_auth_flight_wake(ngx_iot_auth_cache_end_flight(zone, ctx, outcome,
                                                           cred));
}


static void
ngx_iot_auth_flight_wake(uint64_t workers)
{
    uint64_t     one;
    ngx_uint_t   i;

    if (workers & ngx_iot_auth_flight_worker_bit(ngx_worker)) {
        ngx_iot_auth_flight_post_waiters();
    }

    if (ngx_iot_auth_bells == NULL) {
        return;
    }

    one = 1;

    for (i = 0; i < ngx_iot_auth_bells->n; i++) {

        if (i == ngx_worker
            || !(workers & ngx_iot_auth_flight_worker_bit(i)))
        {
            continue;
        }

        if (write(ngx_iot_auth_bells->fds[i], &one, sizeof(one)) == -1) {
            ngx_log_error(NGX_LOG_ALERT, ngx_cycle->log, ngx_errno,
                          "iot_auth: write() to doorbell of worker %ui "
                          "failed", i);
        }
    }
}


static void
ngx_iot_auth_flight_post_waiters(void)
{
    ngx_queue_t         *q;
    ngx_iot_auth_ctx_t  *ctx;

    for (q = ngx_queue_head(&ngx_iot_auth_waiters);
         q != ngx_queue_sentinel(&ngx_iot_auth_waiters);
         q = ngx_queue_next(q))
    {
        ctx = ngx_queue_data(q, ngx_iot_auth_ctx_t, queue);
        ngx_post_event(&ctx->wake, &ngx_posted_events);
    }
}


/*
 * not cancelable on purpose: a worker that shuts down gracefully keeps
 * running until its waiters are answered and its bcrypts are done
 */

static void
ngx_iot_auth_flight_arm_safety_net(void)
{
    if (!ngx_iot_auth_safety_net.timer_set) {
        ngx_iot_auth_safety_net.handler = ngx_iot_auth_flight_safety_net;
        ngx_iot_auth_safety_net.log = ngx_cycle->log;

        /* timer debug logs read the fd of the event's connection */
        ngx_iot_auth_safety_net_conn.fd = (ngx_socket_t) -1;
        ngx_iot_auth_safety_net.data = &ngx_iot_auth_safety_net_conn;

        ngx_add_timer(&ngx_iot_auth_safety_net, NGX_IOT_AUTH_SAFETY_NET);
    }
}


static void
ngx_iot_auth_flight_safety_net(ngx_event_t *ev)
{
    ngx_iot_auth_flight_post_waiters();

    if (!ngx_queue_empty(&ngx_iot_auth_waiters) || ngx_iot_auth_pending) {
        ngx_add_timer(ev, NGX_IOT_AUTH_SAFETY_NET);
    }
}


ngx_int_t
ngx_iot_auth_flight_init_module(ngx_cycle_t *cycle)
{
    ngx_core_conf_t  *ccf;

    ngx_iot_auth_bells = NULL;

    ccf = (ngx_core_conf_t *) ngx_get_conf(cycle->conf_ctx, ngx_core_module);

    if (!ccf->master || ccf->worker_processes < 2) {
        return NGX_OK;
    }

#if (NGX_HAVE_SYS_EVENTFD_H)
    return ngx_iot_auth_flight_open_bells(cycle, ccf->worker_processes);
#else
    return NGX_OK;
#endif
}


#if (NGX_HAVE_SYS_EVENTFD_H)

static ngx_int_t
ngx_iot_auth_flight_open_bells(ngx_cycle_t *cycle, ngx_uint_t n)
{
    ngx_pool_cleanup_t    *cln;
    ngx_iot_auth_bells_t  *bells;

    cln = ngx_pool_cleanup_add(cycle->pool, sizeof(ngx_iot_auth_bells_t));
    if (cln == NULL) {
        return NGX_ERROR;
    }

    bells = cln->data;

    bells->fds = ngx_palloc(cycle->pool, n * sizeof(ngx_fd_t));
    if (bells->fds == NULL) {
        return NGX_ERROR;
    }

    bells->n = 0;

    cln->handler = ngx_iot_auth_flight_close_bells;

    while (bells->n < n) {
        bells->fds[bells->n] = eventfd(0, EFD_NONBLOCK|EFD_CLOEXEC);

        if (bells->fds[bells->n] == -1) {
            ngx_log_error(NGX_LOG_EMERG, cycle->log, ngx_errno,
                          "iot_auth: eventfd() failed");
            return NGX_ERROR;
        }

        bells->n++;
    }

    ngx_iot_auth_bells = bells;

    return NGX_OK;
}


static void
ngx_iot_auth_flight_close_bells(void *data)
{
    ngx_iot_auth_bells_t  *bells = data;

    ngx_uint_t  i;

    for (i = 0; i < bells->n; i++) {
        (void) close(bells->fds[i]);
    }
}

#endif


ngx_int_t
ngx_iot_auth_flight_init_process(ngx_cycle_t *cycle)
{
    uint64_t  n;
    ngx_fd_t  fd;

    ngx_queue_init(&ngx_iot_auth_waiters);

    /* cache managers and loaders have an ngx_worker too, but no requests */

    if (ngx_iot_auth_bells == NULL || ngx_process != NGX_PROCESS_WORKER
        || ngx_worker >= ngx_iot_auth_bells->n)
    {
        return NGX_OK;
    }

    fd = ngx_iot_auth_bells->fds[ngx_worker];

    /* a respawned worker inherits rings meant for the one that died */
    while (read(fd, &n, sizeof(n)) > 0) { /* void */ }

    if (ngx_add_channel_event(cycle, fd, NGX_READ_EVENT,
                              ngx_iot_auth_flight_bell_handler)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


static void
ngx_iot_auth_flight_bell_handler(ngx_event_t *ev)
{
    uint64_t           n;
    ngx_connection_t  *c;

    c = ev->data;

    if (read(c->fd, &n, sizeof(n)) == -1 && ngx_errno != NGX_EAGAIN) {
        ngx_log_error(NGX_LOG_ALERT, ev->log, ngx_errno,
                      "iot_auth: read() from doorbell failed");
        return;
    }

    ngx_iot_auth_flight_post_waiters();
}
