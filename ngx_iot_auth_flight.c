
/*
 * Copyright (C) ngx_iot_auth authors
 */


/*
 * The worker side of flights (see ngx_iot_auth_flight.h): the wait-list,
 * the doorbells and the safety net that wake it, and bcrypt tasks in
 * the thread pool.  Calls nothing of the module: the handlers of its
 * waiters and bcrypts are set by their owners.
 */


#include "ngx_iot_auth_flight.h"

#include <ngx_channel.h>
#include <crypt.h>
#include <openssl/crypto.h>

#if (NGX_LINUX)
#include <sched.h>
#include <sys/resource.h>
#endif


/*
 * how often a worker with waiting or verifying requests looks at the
 * zone even without a doorbell: it covers a reload, when old and new
 * workers ring different doorbells, and an owner that died
 */
#define NGX_IOT_AUTH_SAFETY_NET      200

#define NGX_IOT_AUTH_NICE_MAX        19


/* a bcrypt with its thread task and libxcrypt's work area, one block */

typedef struct {
    ngx_thread_task_t            task;
    ngx_iot_auth_bcrypt_t        bcrypt;
    ngx_iot_auth_priority_e      policy;       /* the thread's */
    int                          nice;         /* the thread's, absolute */
    ngx_err_t                    priority_err; /* it could not be set */
    struct crypt_data            cd;
} ngx_iot_auth_job_t;


/* per-worker doorbells: eventfds indexed by ngx_worker */

typedef struct {
    ngx_uint_t                   n;
    ngx_fd_t                    *fds;
} ngx_iot_auth_bells_t;


static void ngx_iot_auth_flight_bcrypt_thread(void *data, ngx_log_t *log);
static ngx_err_t ngx_iot_auth_flight_set_priority(ngx_iot_auth_job_t *job);
static void ngx_iot_auth_flight_bcrypt_done(ngx_event_t *ev);
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
static int                    ngx_iot_auth_worker_nice;
static ngx_queue_t            ngx_iot_auth_waiters;
static ngx_event_t            ngx_iot_auth_safety_net;
static ngx_connection_t       ngx_iot_auth_safety_net_conn;
static ngx_iot_auth_bells_t  *ngx_iot_auth_bells;


void
ngx_iot_auth_flight_wait(ngx_iot_auth_waiter_t *waiter)
{
    if (!waiter->queued) {
        ngx_queue_insert_tail(&ngx_iot_auth_waiters, &waiter->queue);
        waiter->queued = 1;
    }

    ngx_iot_auth_flight_arm_safety_net();
}


void
ngx_iot_auth_flight_unwait(ngx_iot_auth_waiter_t *waiter)
{
    if (waiter->queued) {
        ngx_queue_remove(&waiter->queue);
        waiter->queued = 0;
    }

    if (waiter->wake.posted) {
        ngx_delete_posted_event(&waiter->wake);
    }
}


void
ngx_iot_auth_flight_wake(uint64_t workers)
{
    uint64_t    one;
    ngx_uint_t  i;

    if (workers & ((uint64_t) 1 << (ngx_worker % 64))) {
        ngx_iot_auth_flight_post_waiters();
    }

    if (ngx_iot_auth_bells == NULL) {
        return;
    }

    one = 1;

    for (i = 0; i < ngx_iot_auth_bells->n; i++) {

        if (i == ngx_worker || !(workers & ((uint64_t) 1 << (i % 64)))) {
            continue;
        }

        if (write(ngx_iot_auth_bells->fds[i], &one, sizeof(one)) == -1) {
            ngx_log_error(NGX_LOG_ALERT, ngx_cycle->log, ngx_errno,
                          "iot_auth: write() to doorbell of worker %ui "
                          "failed", i);
        }
    }
}


ngx_iot_auth_bcrypt_t *
ngx_iot_auth_flight_bcrypt(ngx_thread_pool_t *tp,
    ngx_iot_auth_priority_t *prio, ngx_str_t *token, u_char *hash,
    ngx_log_t *log, ngx_iot_auth_bcrypt_handler_pt handler, void *data)
{
    ngx_iot_auth_job_t     *job;
    ngx_iot_auth_bcrypt_t  *b;

    job = ngx_calloc(sizeof(ngx_iot_auth_job_t), log);
    if (job == NULL) {
        return NULL;
    }

    job->policy = prio->policy;
    job->nice = ngx_min(ngx_iot_auth_worker_nice + prio->nice,
                        NGX_IOT_AUTH_NICE_MAX);

    b = &job->bcrypt;

    ngx_memcpy(b->token, token->data, token->len);
    ngx_memcpy(b->hash, hash, NGX_IOT_AUTH_HASH_LEN);
    b->handler = handler;
    b->data = data;

    job->task.ctx = job;
    job->task.handler = ngx_iot_auth_flight_bcrypt_thread;
    job->task.event.handler = ngx_iot_auth_flight_bcrypt_done;
    job->task.event.data = job;
    job->task.event.log = log;

    if (ngx_thread_task_post(tp, &job->task) != NGX_OK) {
        ngx_explicit_memzero(b->token, sizeof(b->token));
        ngx_free(job);
        return NULL;
    }

    ngx_iot_auth_pending++;
    ngx_iot_auth_flight_arm_safety_net();

    return b;
}


ngx_uint_t
ngx_iot_auth_flight_pending(void)
{
    return ngx_iot_auth_pending;
}


/* runs in a pool thread: touches nothing but its job */

static void
ngx_iot_auth_flight_bcrypt_thread(void *data, ngx_log_t *log)
{
    ngx_iot_auth_job_t  *job = data;

    char                   *out;
    struct timespec         start, end;
    ngx_iot_auth_bcrypt_t  *b;

    b = &job->bcrypt;

    job->priority_err = ngx_iot_auth_flight_set_priority(job);

    (void) clock_gettime(CLOCK_MONOTONIC, &start);

    out = crypt_rn((char *) b->token, (char *) b->hash, &job->cd,
                   sizeof(struct crypt_data));

    (void) clock_gettime(CLOCK_MONOTONIC, &end);

    b->err = (out == NULL) ? ngx_errno : 0;

    b->match = out != NULL
               && ngx_strlen(out) == NGX_IOT_AUTH_HASH_LEN
               && CRYPTO_memcmp(out, b->hash, NGX_IOT_AUTH_HASH_LEN) == 0;

    b->usec = (end.tv_sec - start.tv_sec) * 1000000
              + (end.tv_nsec - start.tv_nsec) / 1000;

    ngx_explicit_memzero(b->token, sizeof(b->token));
}


/*
 * runs in a pool thread, before each bcrypt: the thread sets its own
 * scheduling policy and nice value, which Linux keeps per thread (0 is
 * the calling thread), so that the event loops win the cores from
 * bcrypt.  Mostly two system calls that change nothing, next to a
 * bcrypt's tens of milliseconds
 */

static ngx_err_t
ngx_iot_auth_flight_set_priority(ngx_iot_auth_job_t *job)
{
#if (NGX_LINUX)

    int                 policy, now;
    struct sched_param  sp;

    switch (job->policy) {

    case NGX_IOT_AUTH_PRIORITY_OFF:
        return 0;

    case NGX_IOT_AUTH_PRIORITY_NICE:
        policy = SCHED_OTHER;
        break;

    case NGX_IOT_AUTH_PRIORITY_BATCH:
        policy = SCHED_BATCH;
        break;

    default: /* NGX_IOT_AUTH_PRIORITY_IDLE */
        policy = SCHED_IDLE;
        break;
    }

    if (sched_getscheduler(0) != policy) {
        ngx_memzero(&sp, sizeof(struct sched_param));

        if (sched_setscheduler(0, policy, &sp) == -1) {
            return ngx_errno;
        }
    }

    if (job->policy != NGX_IOT_AUTH_PRIORITY_NICE) {
        return 0;
    }

    ngx_set_errno(0);
    now = getpriority(PRIO_PROCESS, 0);

    if (now == -1 && ngx_errno) {
        return ngx_errno;
    }

    if (now != job->nice && setpriority(PRIO_PROCESS, 0, job->nice) == -1) {
        return ngx_errno;
    }

#endif

    return 0;
}


static void
ngx_iot_auth_flight_bcrypt_done(ngx_event_t *ev)
{
    ngx_iot_auth_job_t  *job = ev->data;

    static ngx_uint_t  warned;

    ngx_iot_auth_pending--;

    if (job->priority_err && !warned) {
        ngx_log_error(NGX_LOG_WARN, ev->log, job->priority_err,
                      "iot_auth: could not lower the priority of a bcrypt "
                      "thread, it runs at the event loop's");
        warned = 1;
    }

    job->bcrypt.handler(&job->bcrypt);

    ngx_explicit_memzero(&job->cd, sizeof(struct crypt_data));
    ngx_free(job);
}


static void
ngx_iot_auth_flight_post_waiters(void)
{
    ngx_queue_t            *q;
    ngx_iot_auth_waiter_t  *waiter;

    for (q = ngx_queue_head(&ngx_iot_auth_waiters);
         q != ngx_queue_sentinel(&ngx_iot_auth_waiters);
         q = ngx_queue_next(q))
    {
        waiter = ngx_queue_data(q, ngx_iot_auth_waiter_t, queue);
        ngx_post_event(&waiter->wake, &ngx_posted_events);
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

#if (NGX_LINUX)

    /* the event loop's nice value (worker_priority): bcrypt's starts there */

    ngx_set_errno(0);
    ngx_iot_auth_worker_nice = getpriority(PRIO_PROCESS, 0);

    if (ngx_iot_auth_worker_nice == -1 && ngx_errno) {
        ngx_iot_auth_worker_nice = 0;
    }

#endif

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
