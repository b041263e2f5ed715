
/*
 * Copyright (C) ngx_iot_auth authors
 */


#ifndef _NGX_IOT_AUTH_MODULE_H_INCLUDED_
#define _NGX_IOT_AUTH_MODULE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <openssl/evp.h>

#include "ngx_iot_auth_record.h"


#define NGX_IOT_AUTH_DIGEST_LEN      32
#define NGX_IOT_AUTH_FPRINT_LEN      16
#define NGX_IOT_AUTH_KEY_LEN         32
#define NGX_IOT_AUTH_NEGATIVES       4

/* one cost-14 bcrypt holds a pool thread for about a second */
#define NGX_IOT_AUTH_DEFAULT_MAX_COST  14

#define NGX_IOT_AUTH_STATUS_PROMETHEUS  1
#define NGX_IOT_AUTH_STATUS_JSON        2


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
    NGX_IOT_AUTH_NRESULTS
} ngx_iot_auth_result_e;


typedef struct {
    ngx_str_t                    name;
    ngx_str_t                    metric;
    ngx_uint_t                   level;
    char                        *reason;
} ngx_iot_auth_result_info_t;


/* how a flight ended */
typedef enum {
    NGX_IOT_AUTH_MATCH = 0,
    NGX_IOT_AUTH_MISMATCH,
    NGX_IOT_AUTH_NO_DEVICE,
    NGX_IOT_AUTH_NO_ANSWER
} ngx_iot_auth_outcome_e;


/* what a cache lookup tells the access handler to do next */
typedef enum {
    NGX_IOT_AUTH_ALLOW = 0,
    NGX_IOT_AUTH_REJECT,
    NGX_IOT_AUTH_CHECK_STORE,
    NGX_IOT_AUTH_JOIN,
    NGX_IOT_AUTH_OWN,
    NGX_IOT_AUTH_THROTTLE
} ngx_iot_auth_action_e;


typedef struct {
    ngx_atomic_t                 requests[NGX_IOT_AUTH_NRESULTS];
    ngx_atomic_t                 bcrypt_match;
    ngx_atomic_t                 bcrypt_mismatch;
    ngx_atomic_t                 bcrypt_usec;
    ngx_atomic_t                 evictions;
    ngx_atomic_t                 redis_errors;
} ngx_iot_auth_stats_t;


typedef struct {
    ngx_uint_t                   entries;
    ngx_uint_t                   flights;
    ngx_uint_t                   waiters;
} ngx_iot_auth_gauges_t;


typedef struct {
    u_char                       digest[NGX_IOT_AUTH_DIGEST_LEN];
    ngx_msec_t                   expire;
} ngx_iot_auth_negative_t;


typedef struct {
    ngx_uint_t                   failures;
    ngx_msec_t                   window;
    ngx_msec_t                   duration;
} ngx_iot_auth_lockout_t;


/*
 * one (store, device) pair in the zone; the device id follows the
 * structure.  Verdicts, negatives, lockout and the last good token of a
 * device belong to one store: another store sharing the zone has its
 * own entry for the same device id
 */

typedef struct {
    ngx_rbtree_node_t            node;
    ngx_queue_t                  queue;
    ngx_queue_t                  flights;
    ngx_msec_t                   expire;
    ngx_msec_t                   window_start;
    ngx_msec_t                   locked_until;
    uint64_t                     store;
    uint64_t                     version;
    u_char                       digest[NGX_IOT_AUTH_DIGEST_LEN];
    u_char                       fprint[NGX_IOT_AUTH_FPRINT_LEN];
    ngx_iot_auth_negative_t      negatives[NGX_IOT_AUTH_NEGATIVES];
    uint32_t                     perms;
    uint32_t                     failures;
    unsigned                     good:1;
    unsigned                     retired:1;
    unsigned                     verified:1;
    unsigned                     refreshing:1;
    unsigned                     unknown:1;
    unsigned                     next_negative:2;
    unsigned                     len:8;
    u_char                       id[1];
} ngx_iot_auth_node_t;


typedef struct {
    ngx_rbtree_t                 rbtree;
    ngx_rbtree_node_t            sentinel;
    ngx_queue_t                  verified;
    ngx_queue_t                  negative;
    uint64_t                     generation;
    ngx_uint_t                   entries;
    ngx_uint_t                   flights;
    ngx_uint_t                   waiters;
    ngx_iot_auth_stats_t         stats;
    u_char                       key[NGX_IOT_AUTH_KEY_LEN];
} ngx_iot_auth_sh_t;


typedef struct {
    ngx_iot_auth_sh_t           *sh;
    ngx_slab_pool_t             *shpool;
    ngx_shm_zone_t              *shm_zone;
    ngx_msec_t                   ttl;
    ngx_msec_t                   negative_ttl;
    ngx_uint_t                   refresh;
    ngx_str_t                   *secret;
    EVP_MAC_CTX                 *mac;
} ngx_iot_auth_zone_t;


typedef struct {
    ngx_str_t                    path;
    ngx_iot_auth_record_t       *records;
    ngx_uint_t                   nrecords;
    uint64_t                     store;        /* from the path */
    uint64_t                     version;      /* from the content */
    ngx_uint_t                   max_cost;
    ngx_uint_t                   max_cost_line;
} ngx_iot_auth_file_t;


/* what a verdict remembers of the stored credential it was made with */

typedef struct {
    u_char                       fprint[NGX_IOT_AUTH_FPRINT_LEN];
    uint32_t                     perms;
    uint64_t                     version;
} ngx_iot_auth_cred_t;


typedef struct {
    ngx_shm_zone_t              *shm_zone;
    ngx_str_t                    file;
    ngx_uint_t                   line;
} ngx_iot_auth_zone_ref_t;


/* iot_auth_redis: one endpoint per http{} block */

typedef struct {
    ngx_url_t                    url;          /* host:port or unix:/path */
    ngx_int_t                    db;
    ngx_str_t                    password;
    ngx_msec_t                   connect_timeout;
    ngx_msec_t                   timeout;
    ngx_str_t                    revoke_channel;
} ngx_iot_auth_redis_conf_t;


/*
 * rc is NGX_OK with rec set (valid only during the call), NGX_DECLINED
 * when there is no usable record (missing key, "disabled", a malformed
 * record: each logged by the Redis code), or NGX_ERROR when Redis could
 * not answer (down, timeout, error reply)
 */
typedef void (*ngx_iot_auth_redis_handler_pt)(void *data, ngx_int_t rc,
    ngx_iot_auth_record_t *rec);


typedef struct {
    ngx_array_t                  zones;        /* ngx_shm_zone_t * */
    ngx_array_t                  refs;         /* ngx_iot_auth_zone_ref_t */
    ngx_array_t                  files;        /* ngx_iot_auth_file_t * */
    ngx_str_t                    secret;
    ngx_iot_auth_redis_conf_t   *redis;
    ngx_http_complex_value_t    *device;
    ngx_http_complex_value_t    *token;
} ngx_iot_auth_main_conf_t;


typedef struct {
    ngx_shm_zone_t              *shm_zone;
    ngx_http_complex_value_t    *device;
    ngx_http_complex_value_t    *token;
    ngx_str_t                    device_header;
    ngx_str_t                    token_header;
    ngx_iot_auth_file_t         *file;
    ngx_thread_pool_t           *thread_pool;
    ngx_str_t                    thread_pool_name;
    ngx_msec_t                   wait_timeout;
    ngx_int_t                    max_pending;
    ngx_flag_t                   redis;
    ngx_str_t                    redis_key;
    uint64_t                     store;
    uint64_t                     version;
    ngx_uint_t                   max_cost;
    ngx_msec_t                   stale_if_error;
    ngx_uint_t                   require_perms;
    ngx_iot_auth_lockout_t       lockout;
    ngx_uint_t                   status;
} ngx_iot_auth_loc_conf_t;


typedef struct {
    ngx_http_request_t          *request;
    ngx_iot_auth_lockout_t      *lockout;
    ngx_str_t                    device;
    ngx_str_t                    token;
    u_char                       digest[NGX_IOT_AUTH_DIGEST_LEN];
    uint32_t                     perms;
    uint64_t                     store;
    uint64_t                     version;
    ngx_int_t                    rc;
    ngx_iot_auth_result_e        verdict;
    ngx_iot_auth_result_e        result;
    uint64_t                     flight;
    uint64_t                     claim;
    ngx_iot_auth_action_e        action;
    ngx_int_t                    fetched;
    uint32_t                     stored_perms;
    ngx_uint_t                   stored_cost;
    u_char                       stored_hash[NGX_IOT_AUTH_HASH_LEN];
    ngx_thread_task_t           *task;
    ngx_queue_t                  queue;
    ngx_event_t                  wake;
    ngx_pid_t                    took_over;
    unsigned                     done:1;
    unsigned                     pinned:1;
    unsigned                     queued:1;
    unsigned                     waiting:1;
    unsigned                     waited:1;
    unsigned                     last_good:1;
    unsigned                     may_own:1;
} ngx_iot_auth_ctx_t;


ngx_int_t ngx_iot_auth_check(ngx_http_request_t *r, ngx_iot_auth_ctx_t *ctx);
ngx_int_t ngx_iot_auth_finish(ngx_http_request_t *r, ngx_iot_auth_ctx_t *ctx,
    ngx_iot_auth_result_e result, ngx_int_t rc);
ngx_int_t ngx_iot_auth_status_handler(ngx_http_request_t *r);
ngx_int_t ngx_iot_auth_conf_time(ngx_str_t *value, size_t name);

ngx_int_t ngx_iot_auth_cache_init_zone(ngx_shm_zone_t *shm_zone, void *data);
ngx_int_t ngx_iot_auth_cache_digest(ngx_iot_auth_zone_t *zone,
    ngx_str_t *device, ngx_str_t *token, u_char *digest);
ngx_int_t ngx_iot_auth_cache_fingerprint(ngx_iot_auth_zone_t *zone,
    u_char *hash, u_char *fprint);
ngx_iot_auth_action_e ngx_iot_auth_cache_lookup(ngx_iot_auth_zone_t *zone,
    ngx_iot_auth_ctx_t *ctx);
ngx_iot_auth_action_e ngx_iot_auth_cache_revalidate(ngx_iot_auth_zone_t *zone,
    ngx_iot_auth_ctx_t *ctx, ngx_iot_auth_cred_t *cred);
uint64_t ngx_iot_auth_cache_end_flight(ngx_iot_auth_zone_t *zone,
    ngx_iot_auth_ctx_t *ctx, ngx_iot_auth_outcome_e outcome,
    ngx_iot_auth_cred_t *cred);
ngx_int_t ngx_iot_auth_cache_stale(ngx_iot_auth_zone_t *zone,
    ngx_iot_auth_ctx_t *ctx, ngx_msec_t stale_if_error);
void ngx_iot_auth_cache_refresh(ngx_iot_auth_zone_t *zone, uint64_t store,
    ngx_str_t *device, u_char *digest, ngx_iot_auth_cred_t *cred);
void ngx_iot_auth_cache_revoke(ngx_iot_auth_zone_t *zone, ngx_str_t *device);
void ngx_iot_auth_cache_stats(ngx_iot_auth_zone_t *zone,
    ngx_iot_auth_gauges_t *gauges);
void *ngx_iot_auth_cache_alloc_locked(ngx_iot_auth_zone_t *zone, size_t size,
    void *keep);
ngx_uint_t ngx_iot_auth_cache_tries_left_locked(ngx_iot_auth_node_t *node,
    ngx_iot_auth_ctx_t *ctx);

ngx_iot_auth_action_e ngx_iot_auth_flight_join_locked(
    ngx_iot_auth_zone_t *zone, ngx_iot_auth_node_t *node,
    ngx_iot_auth_ctx_t *ctx);
uint64_t ngx_iot_auth_flight_finish_locked(ngx_iot_auth_zone_t *zone,
    ngx_iot_auth_node_t *node, ngx_iot_auth_ctx_t *ctx,
    ngx_iot_auth_outcome_e outcome);
ngx_int_t ngx_iot_auth_flight_outcome_locked(ngx_iot_auth_node_t *node,
    ngx_iot_auth_ctx_t *ctx, ngx_iot_auth_outcome_e *outcome);
void ngx_iot_auth_flight_reap_locked(ngx_iot_auth_zone_t *zone,
    ngx_iot_auth_node_t *node);
ngx_uint_t ngx_iot_auth_flight_count_locked(ngx_iot_auth_node_t *node);
void ngx_iot_auth_flight_leave_locked(ngx_iot_auth_zone_t *zone,
    ngx_iot_auth_node_t *node, ngx_iot_auth_ctx_t *ctx);
ngx_int_t ngx_iot_auth_flight_bcrypt(ngx_http_request_t *r,
    ngx_iot_auth_ctx_t *ctx, u_char *hash, ngx_iot_auth_cred_t *cred);
ngx_int_t ngx_iot_auth_flight_wait(ngx_http_request_t *r,
    ngx_iot_auth_ctx_t *ctx);
void ngx_iot_auth_flight_end(ngx_iot_auth_zone_t *zone,
    ngx_iot_auth_ctx_t *ctx, ngx_iot_auth_outcome_e outcome,
    ngx_iot_auth_cred_t *cred);
void ngx_iot_auth_flight_pin(ngx_http_request_t *r, ngx_iot_auth_ctx_t *ctx);
void ngx_iot_auth_flight_resume(ngx_iot_auth_ctx_t *ctx);
ngx_uint_t ngx_iot_auth_flight_pending(void);
ngx_int_t ngx_iot_auth_flight_init_module(ngx_cycle_t *cycle);
ngx_int_t ngx_iot_auth_flight_init_process(ngx_cycle_t *cycle);

ngx_iot_auth_file_t *ngx_iot_auth_file_load(ngx_conf_t *cf, ngx_str_t *path);
ngx_iot_auth_record_t *ngx_iot_auth_file_find(ngx_iot_auth_file_t *file,
    ngx_str_t *id);
ngx_int_t ngx_iot_auth_store_id(char *kind, ngx_str_t *text, uint64_t *id);

char *ngx_iot_auth_redis(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
ngx_int_t ngx_iot_auth_redis_init_process(ngx_cycle_t *cycle);
void ngx_iot_auth_redis_exit_process(ngx_cycle_t *cycle);
ngx_int_t ngx_iot_auth_redis_fetch(ngx_str_t *key, ngx_log_t *log,
    ngx_iot_auth_redis_handler_pt handler, void *data);

void ngx_iot_auth_revoke(ngx_str_t *device);


extern ngx_module_t                 ngx_iot_auth_module;
extern ngx_iot_auth_result_info_t   ngx_iot_auth_results[];


#endif /* _NGX_IOT_AUTH_MODULE_H_INCLUDED_ */
