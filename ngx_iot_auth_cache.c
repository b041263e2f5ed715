
/*
 * Copyright (C) ngx_iot_auth authors
 */


#include "ngx_iot_auth_module.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/params.h>
#include <openssl/rand.h>


/* how many entries one allocation may evict before it gives up */
#define NGX_IOT_AUTH_EVICT_TRIES     16

/* how far from the LRU tail eviction looks for an entry not in flight */
#define NGX_IOT_AUTH_EVICT_SCAN      32


static ngx_int_t ngx_iot_auth_cache_init_mac(ngx_iot_auth_zone_t *zone,
    ngx_log_t *log);
static ngx_iot_auth_node_t *ngx_iot_auth_cache_get_locked(
    ngx_iot_auth_zone_t *zone, ngx_iot_auth_ctx_t *ctx);
static ngx_iot_auth_node_t *ngx_iot_auth_cache_find_locked(
    ngx_iot_auth_zone_t *zone, uint64_t store, ngx_str_t *id);
static ngx_iot_auth_node_t *ngx_iot_auth_cache_first_locked(
    ngx_iot_auth_zone_t *zone, ngx_str_t *id);
static ngx_int_t ngx_iot_auth_cache_cmp(uint64_t store, ngx_str_t *id,
    ngx_iot_auth_node_t *node);
static ngx_iot_auth_node_t *ngx_iot_auth_cache_create_locked(
    ngx_iot_auth_zone_t *zone, uint64_t store, ngx_str_t *id);
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
static ngx_iot_auth_action_e ngx_iot_auth_cache_decide_locked(
    ngx_iot_auth_zone_t *zone, ngx_iot_auth_node_t *node,
    ngx_iot_auth_ctx_t *ctx);
static ngx_int_t ngx_iot_auth_cache_negative_locked(ngx_iot_auth_node_t *node,
    ngx_iot_auth_ctx_t *ctx);
static void ngx_iot_auth_cache_failure_locked(ngx_iot_auth_node_t *node,
    ngx_iot_auth_ctx_t *ctx);
static ngx_uint_t ngx_iot_auth_cache_failures_locked(
    ngx_iot_auth_node_t *node, ngx_iot_auth_ctx_t *ctx);
static void ngx_iot_auth_cache_good_locked(ngx_iot_auth_zone_t *zone,
    ngx_iot_auth_node_t *node, ngx_iot_auth_ctx_t *ctx,
    ngx_iot_auth_cred_t *cred);
static void ngx_iot_auth_cache_bad_locked(ngx_iot_auth_zone_t *zone,
    ngx_iot_auth_node_t *node, ngx_iot_auth_ctx_t *ctx);
static void ngx_iot_auth_cache_retire_locked(ngx_iot_auth_zone_t *zone,
    ngx_iot_auth_node_t *node);
static ngx_int_t ngx_iot_auth_cache_recheck_locked(ngx_iot_auth_zone_t *zone,
    ngx_iot_auth_node_t *node, ngx_iot_auth_cred_t *cred);
static void ngx_iot_auth_cache_unknown_locked(ngx_iot_auth_zone_t *zone,
    ngx_iot_auth_node_t *node);
static ngx_iot_auth_action_e ngx_iot_auth_cache_outcome_locked(
    ngx_iot_auth_node_t *node, ngx_iot_auth_ctx_t *ctx);
static void ngx_iot_auth_cache_settle_locked(ngx_iot_auth_zone_t *zone,
    ngx_iot_auth_node_t *node, ngx_iot_auth_ctx_t *ctx,
    ngx_iot_auth_action_e action);


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

        return ngx_iot_auth_cache_init_mac(zone, shm_zone->shm.log);
    }

    zone->shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    if (shm_zone->shm.exists) {
        zone->sh = zone->shpool->data;

        return ngx_iot_auth_cache_init_mac(zone, shm_zone->shm.log);
    }

    zone->sh = ngx_slab_calloc(zone->shpool, sizeof(ngx_iot_auth_sh_t));
    if (zone->sh == NULL) {
        return NGX_ERROR;
    }

    zone->shpool->data = zone->sh;

    ngx_rbtree_init(&zone->sh->rbtree, &zone->sh->sentinel,
                    ngx_iot_auth_cache_rbtree_insert_value);

    ngx_queue_init(&zone->sh->verified);
    ngx_queue_init(&zone->sh->negative);

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

    return ngx_iot_auth_cache_init_mac(zone, shm_zone->shm.log);
}


static ngx_int_t
ngx_iot_auth_cache_init_mac(ngx_iot_auth_zone_t *zone, ngx_log_t *log)
{
    size_t       len;
    u_char      *key;
    EVP_MAC     *mac;
    OSSL_PARAM   params[2];

    if (zone->secret->len) {
        key = zone->secret->data;
        len = zone->secret->len;

    } else {
        key = zone->sh->key;
        len = NGX_IOT_AUTH_KEY_LEN;
    }

    mac = EVP_MAC_fetch(NULL, OSSL_MAC_NAME_HMAC, NULL);
    if (mac == NULL) {
        ngx_log_error(NGX_LOG_EMERG, log, 0, "EVP_MAC_fetch(HMAC) failed");
        return NGX_ERROR;
    }

    zone->mac = EVP_MAC_CTX_new(mac);
    EVP_MAC_free(mac);

    if (zone->mac == NULL) {
        ngx_log_error(NGX_LOG_EMERG, log, 0, "EVP_MAC_CTX_new() failed");
        return NGX_ERROR;
    }

    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
                                                 (char *) "SHA256", 0);
    params[1] = OSSL_PARAM_construct_end();

    if (EVP_MAC_init(zone->mac, key, len, params) != 1) {
        ngx_log_error(NGX_LOG_EMERG, log, 0, "EVP_MAC_init() failed");
        return NGX_ERROR;
    }

    return NGX_OK;
}


/*
 * digest = HMAC-SHA256(key, device 0x00 token); a device id is never
 * empty, so a fingerprint, HMAC-SHA256(key, 0x00 hash), cannot collide
 * with a digest
 */

ngx_int_t
ngx_iot_auth_cache_digest(ngx_iot_auth_zone_t *zone, ngx_str_t *device,
    ngx_str_t *token, u_char *digest)
{
    size_t               len;
    static const u_char  zero;

    if (EVP_MAC_init(zone->mac, NULL, 0, NULL) != 1
        || EVP_MAC_update(zone->mac, device->data, device->len) != 1
        || EVP_MAC_update(zone->mac, &zero, 1) != 1
        || EVP_MAC_update(zone->mac, token->data, token->len) != 1
        || EVP_MAC_final(zone->mac, digest, &len, NGX_IOT_AUTH_DIGEST_LEN)
           != 1)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


ngx_int_t
ngx_iot_auth_cache_fingerprint(ngx_iot_auth_zone_t *zone, u_char *hash,
    u_char *fprint)
{
    size_t               len;
    u_char               digest[NGX_IOT_AUTH_DIGEST_LEN];
    static const u_char  zero;

    if (EVP_MAC_init(zone->mac, NULL, 0, NULL) != 1
        || EVP_MAC_update(zone->mac, &zero, 1) != 1
        || EVP_MAC_update(zone->mac, hash, NGX_IOT_AUTH_HASH_LEN) != 1
        || EVP_MAC_final(zone->mac, digest, &len, NGX_IOT_AUTH_DIGEST_LEN)
           != 1)
    {
        return NGX_ERROR;
    }

    ngx_memcpy(fprint, digest, NGX_IOT_AUTH_FPRINT_LEN);

    return NGX_OK;
}


ngx_iot_auth_action_e
ngx_iot_auth_cache_lookup(ngx_iot_auth_zone_t *zone, ngx_iot_auth_ctx_t *ctx)
{
    ngx_iot_auth_node_t    *node;
    ngx_iot_auth_action_e   action;

    ngx_shmtx_lock(&zone->shpool->mutex);

    node = ngx_iot_auth_cache_get_locked(zone, ctx);

    if (node == NULL) {
        ngx_shmtx_unlock(&zone->shpool->mutex);

        /* no memory even after eviction: verify without coalescing */

        ctx->flight = 0;
        ctx->waiting = 0;
        return ctx->may_own ? NGX_IOT_AUTH_OWN : NGX_IOT_AUTH_THROTTLE;
    }

    action = ngx_iot_auth_cache_decide_locked(zone, node, ctx);

    ngx_iot_auth_cache_settle_locked(zone, node, ctx, action);

    ngx_shmtx_unlock(&zone->shpool->mutex);

    return action;
}


/*
 * the stored credential was read again for a verdict whose digest
 * matched: cred is NULL when the device is no longer in the store
 */

ngx_iot_auth_action_e
ngx_iot_auth_cache_revalidate(ngx_iot_auth_zone_t *zone,
    ngx_iot_auth_ctx_t *ctx, ngx_iot_auth_cred_t *cred)
{
    ngx_iot_auth_node_t    *node;
    ngx_iot_auth_action_e   action;

    ngx_shmtx_lock(&zone->shpool->mutex);

    node = ngx_iot_auth_cache_get_locked(zone, ctx);

    if (node == NULL) {
        ngx_shmtx_unlock(&zone->shpool->mutex);

        ctx->flight = 0;
        ctx->waiting = 0;

        if (cred == NULL) {
            ctx->result = NGX_IOT_AUTH_UNKNOWN;
            return NGX_IOT_AUTH_REJECT;
        }

        return ctx->may_own ? NGX_IOT_AUTH_OWN : NGX_IOT_AUTH_THROTTLE;
    }

    if (node->verified
        && CRYPTO_memcmp(node->digest, ctx->digest, NGX_IOT_AUTH_DIGEST_LEN)
           == 0
        && ngx_iot_auth_cache_recheck_locked(zone, node, cred) == NGX_OK)
    {
        ctx->perms = cred->perms;
        action = NGX_IOT_AUTH_ALLOW;

    } else {
        if (cred == NULL) {
            ngx_iot_auth_cache_unknown_locked(zone, node);
        }

        action = ngx_iot_auth_cache_decide_locked(zone, node, ctx);
    }

    ngx_iot_auth_cache_settle_locked(zone, node, ctx, action);

    ngx_shmtx_unlock(&zone->shpool->mutex);

    return action;
}


/*
 * the store could not answer: the verdict of this very token, made by
 * this store, is served for stale_if_error past its expiry
 */

ngx_int_t
ngx_iot_auth_cache_stale(ngx_iot_auth_zone_t *zone, ngx_iot_auth_ctx_t *ctx,
    ngx_msec_t stale_if_error)
{
    ngx_int_t             rc;
    ngx_iot_auth_node_t  *node;

    rc = NGX_DECLINED;

    ngx_shmtx_lock(&zone->shpool->mutex);

    node = ngx_iot_auth_cache_find_locked(zone, ctx->store, &ctx->device);

    if (node && node->verified && node->good
        && CRYPTO_memcmp(node->digest, ctx->digest, NGX_IOT_AUTH_DIGEST_LEN)
           == 0
        && (ngx_msec_int_t) (node->expire + stale_if_error - ngx_current_msec)
           > 0)
    {
        ctx->perms = node->perms;
        rc = NGX_OK;
    }

    ngx_shmtx_unlock(&zone->shpool->mutex);

    return rc;
}


/* a background re-check of the store for a verdict past its refresh point */

void
ngx_iot_auth_cache_refresh(ngx_iot_auth_zone_t *zone, uint64_t store,
    ngx_str_t *device, u_char *digest, ngx_iot_auth_cred_t *cred)
{
    ngx_iot_auth_node_t  *node;

    ngx_shmtx_lock(&zone->shpool->mutex);

    node = ngx_iot_auth_cache_find_locked(zone, store, device);

    if (node && node->verified
        && CRYPTO_memcmp(node->digest, digest, NGX_IOT_AUTH_DIGEST_LEN) == 0
        && ngx_iot_auth_cache_recheck_locked(zone, node, cred) != NGX_OK
        && cred == NULL)
    {
        ngx_iot_auth_cache_unknown_locked(zone, node);
    }

    ngx_shmtx_unlock(&zone->shpool->mutex);
}


/*
 * drops the verdicts of a device, in every store, at once; its lockout
 * state stays: whoever can publish a device id must not be able to
 * reset a lockout with it
 */

void
ngx_iot_auth_cache_revoke(ngx_iot_auth_zone_t *zone, ngx_str_t *device)
{
    ngx_rbtree_node_t    *rn;
    ngx_iot_auth_node_t  *node;

    ngx_shmtx_lock(&zone->shpool->mutex);

    for (node = ngx_iot_auth_cache_first_locked(zone, device);
         node != NULL;
         node = (ngx_iot_auth_node_t *) rn)
    {
        ngx_iot_auth_cache_retire_locked(zone, node);
        node->unknown = 0;

        rn = ngx_rbtree_next(&zone->sh->rbtree, &node->node);

        if (rn == NULL
            || ngx_memn2cmp(device->data,
                            ((ngx_iot_auth_node_t *) rn)->id, device->len,
                            ((ngx_iot_auth_node_t *) rn)->len)
               != 0)
        {
            break;
        }
    }

    ngx_shmtx_unlock(&zone->shpool->mutex);
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
        node->perms = cred->perms;

        return NGX_OK;
    }

    ngx_iot_auth_cache_retire_locked(zone, node);

    return NGX_DECLINED;
}


static void
ngx_iot_auth_cache_unknown_locked(ngx_iot_auth_zone_t *zone,
    ngx_iot_auth_node_t *node)
{
    ngx_iot_auth_cache_retire_locked(zone, node);

    node->unknown = 1;
    node->expire = ngx_current_msec + zone->negative_ttl;
}


/*
 * records how the flight of ctx ended and ends it; returns the workers
 * whose waiters must look again
 */

uint64_t
ngx_iot_auth_cache_end_flight(ngx_iot_auth_zone_t *zone,
    ngx_iot_auth_ctx_t *ctx, ngx_iot_auth_outcome_e outcome,
    ngx_iot_auth_cred_t *cred)
{
    uint64_t              workers;
    ngx_iot_auth_node_t  *node;

    ngx_shmtx_lock(&zone->shpool->mutex);

    node = (outcome == NGX_IOT_AUTH_NO_ANSWER)
           ? ngx_iot_auth_cache_find_locked(zone, ctx->store, &ctx->device)
           : ngx_iot_auth_cache_get_locked(zone, ctx);

    if (node == NULL) {
        ngx_shmtx_unlock(&zone->shpool->mutex);
        return 0;
    }

    switch (outcome) {

    case NGX_IOT_AUTH_MATCH:
        ngx_iot_auth_cache_good_locked(zone, node, ctx, cred);
        break;

    case NGX_IOT_AUTH_MISMATCH:
        ngx_iot_auth_cache_bad_locked(zone, node, ctx);
        break;

    case NGX_IOT_AUTH_NO_DEVICE:
        ngx_iot_auth_cache_unknown_locked(zone, node);
        break;

    default: /* NGX_IOT_AUTH_NO_ANSWER */
        break;
    }

    workers = ngx_iot_auth_flight_finish_locked(zone, node, ctx, outcome);

    ngx_shmtx_unlock(&zone->shpool->mutex);

    return workers;
}


static void
ngx_iot_auth_cache_good_locked(ngx_iot_auth_zone_t *zone,
    ngx_iot_auth_node_t *node, ngx_iot_auth_ctx_t *ctx,
    ngx_iot_auth_cred_t *cred)
{
    ngx_memcpy(node->digest, ctx->digest, NGX_IOT_AUTH_DIGEST_LEN);
    ngx_memcpy(node->fprint, cred->fprint, NGX_IOT_AUTH_FPRINT_LEN);
    node->perms = cred->perms;
    node->version = cred->version;
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
}


static void
ngx_iot_auth_cache_bad_locked(ngx_iot_auth_zone_t *zone,
    ngx_iot_auth_node_t *node, ngx_iot_auth_ctx_t *ctx)
{
    ngx_iot_auth_negative_t  *neg;

    neg = &node->negatives[node->next_negative];

    ngx_memcpy(neg->digest, ctx->digest, NGX_IOT_AUTH_DIGEST_LEN);
    neg->expire = ngx_current_msec + zone->negative_ttl;

    node->next_negative = (node->next_negative + 1) % NGX_IOT_AUTH_NEGATIVES;

    /* a token retired by a change of the stored hash counts no failure */

    if (node->retired
        && CRYPTO_memcmp(node->digest, ctx->digest, NGX_IOT_AUTH_DIGEST_LEN)
           == 0)
    {
        return;
    }

    ngx_iot_auth_cache_failure_locked(node, ctx);
}


void
ngx_iot_auth_cache_stats(ngx_iot_auth_zone_t *zone,
    ngx_iot_auth_gauges_t *gauges)
{
    ngx_shmtx_lock(&zone->shpool->mutex);

    gauges->entries = zone->sh->entries;
    gauges->flights = zone->sh->flights;
    gauges->waiters = zone->sh->waiters;

    ngx_shmtx_unlock(&zone->shpool->mutex);
}


static ngx_iot_auth_node_t *
ngx_iot_auth_cache_get_locked(ngx_iot_auth_zone_t *zone,
    ngx_iot_auth_ctx_t *ctx)
{
    ngx_iot_auth_node_t  *node;

    node = ngx_iot_auth_cache_find_locked(zone, ctx->store, &ctx->device);

    if (node == NULL) {
        node = ngx_iot_auth_cache_create_locked(zone, ctx->store,
                                                &ctx->device);
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
    uint32_t              hash;
    ngx_int_t             rc;
    ngx_rbtree_node_t    *node, *sentinel;

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

void *
ngx_iot_auth_cache_alloc_locked(ngx_iot_auth_zone_t *zone, size_t size,
    void *keep)
{
    void       *p;
    ngx_uint_t  i;

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
        (void) ngx_atomic_fetch_add(&zone->sh->stats.evictions, 1);

        return NGX_OK;
    }

    return NGX_DECLINED;
}


static void
ngx_iot_auth_cache_delete_locked(ngx_iot_auth_zone_t *zone,
    ngx_iot_auth_node_t *node)
{
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


static ngx_iot_auth_action_e
ngx_iot_auth_cache_decide_locked(ngx_iot_auth_zone_t *zone,
    ngx_iot_auth_node_t *node, ngx_iot_auth_ctx_t *ctx)
{
    ngx_msec_int_t          left;
    ngx_iot_auth_action_e   action;

    if (node->unknown) {

        if ((ngx_msec_int_t) (node->expire - ngx_current_msec) > 0) {
            ctx->result = NGX_IOT_AUTH_UNKNOWN;
            return NGX_IOT_AUTH_REJECT;
        }

        node->unknown = 0;
    }

    /* made again at every decision: nothing of an earlier one is kept */

    ctx->last_good = node->good
                     && CRYPTO_memcmp(node->digest, ctx->digest,
                                      NGX_IOT_AUTH_DIGEST_LEN)
                        == 0;

    if (ctx->last_good && node->verified) {
        ctx->perms = node->perms;

        left = (ngx_msec_int_t) (node->expire - ngx_current_msec);

        /* a verdict made with an older version of the store is re-checked */

        if (left <= 0 || node->version != ctx->version) {
            ctx->result = NGX_IOT_AUTH_REVALIDATED;
            return NGX_IOT_AUTH_CHECK_STORE;
        }

        if (left > (ngx_msec_int_t) (zone->ttl * (100 - zone->refresh) / 100)
            || node->refreshing)
        {
            ctx->result = ctx->waited ? NGX_IOT_AUTH_WAIT : NGX_IOT_AUTH_HIT;
            return NGX_IOT_AUTH_ALLOW;
        }

        /* one re-check per verdict; the others are served meanwhile */

        node->refreshing = 1;
        ctx->result = NGX_IOT_AUTH_REFRESH;

        return NGX_IOT_AUTH_CHECK_STORE;
    }

    if (ctx->waiting) {
        action = ngx_iot_auth_cache_outcome_locked(node, ctx);

        if (action != NGX_IOT_AUTH_JOIN) {
            return action;
        }
    }

    if (ngx_iot_auth_cache_negative_locked(node, ctx) == NGX_OK) {
        ctx->result = NGX_IOT_AUTH_NEGATIVE;
        return NGX_IOT_AUTH_REJECT;
    }

    if (!ctx->last_good && ctx->lockout->failures
        && (ngx_msec_int_t) (node->locked_until - ngx_current_msec) > 0)
    {
        ctx->result = NGX_IOT_AUTH_LOCKED;
        return NGX_IOT_AUTH_REJECT;
    }

    return ngx_iot_auth_flight_join_locked(zone, node, ctx);
}


/*
 * under lockout, failures in the window and bcrypts in flight together
 * stay below "failures=": concurrent wrong tokens cannot overshoot it
 */

ngx_uint_t
ngx_iot_auth_cache_tries_left_locked(ngx_iot_auth_node_t *node,
    ngx_iot_auth_ctx_t *ctx)
{
    ngx_uint_t  n;

    if (ctx->last_good || ctx->lockout->failures == 0) {
        return 1;
    }

    n = ngx_iot_auth_cache_failures_locked(node, ctx)
        + ngx_iot_auth_flight_count_locked(node);

    return n < ctx->lockout->failures;
}


static void
ngx_iot_auth_cache_failure_locked(ngx_iot_auth_node_t *node,
    ngx_iot_auth_ctx_t *ctx)
{
    if (ctx->lockout->failures == 0) {
        return;
    }

    if (ngx_iot_auth_cache_failures_locked(node, ctx) == 0) {
        node->window_start = ngx_current_msec;
        node->failures = 0;
    }

    if (++node->failures >= ctx->lockout->failures) {
        node->locked_until = ngx_current_msec + ctx->lockout->duration;
        node->failures = 0;
    }
}


/* failures within the current window */

static ngx_uint_t
ngx_iot_auth_cache_failures_locked(ngx_iot_auth_node_t *node,
    ngx_iot_auth_ctx_t *ctx)
{
    if ((ngx_msec_int_t) (ngx_current_msec - node->window_start)
        >= (ngx_msec_int_t) ctx->lockout->window)
    {
        return 0;
    }

    return node->failures;
}


static ngx_int_t
ngx_iot_auth_cache_negative_locked(ngx_iot_auth_node_t *node,
    ngx_iot_auth_ctx_t *ctx)
{
    ngx_uint_t                i;
    ngx_iot_auth_negative_t  *neg;

    for (i = 0; i < NGX_IOT_AUTH_NEGATIVES; i++) {
        neg = &node->negatives[i];

        if ((ngx_msec_int_t) (neg->expire - ngx_current_msec) > 0
            && CRYPTO_memcmp(neg->digest, ctx->digest,
                             NGX_IOT_AUTH_DIGEST_LEN)
               == 0)
        {
            return NGX_OK;
        }
    }

    return NGX_DECLINED;
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
        node->good = 0;
        node->retired = 1;
    }
}


/*
 * a waiter whose flight failed takes its outcome from the zone: the
 * failure reaches every waiter without a bcrypt of its own, whatever
 * negative_ttl is (a match reaches them as the device's verdict)
 */

static ngx_iot_auth_action_e
ngx_iot_auth_cache_outcome_locked(ngx_iot_auth_node_t *node,
    ngx_iot_auth_ctx_t *ctx)
{
    ngx_iot_auth_outcome_e  outcome;

    if (ngx_iot_auth_flight_outcome_locked(node, ctx, &outcome) != NGX_OK) {
        return NGX_IOT_AUTH_JOIN;
    }

    ctx->result = (outcome == NGX_IOT_AUTH_MISMATCH) ? NGX_IOT_AUTH_NEGATIVE
                                                     : NGX_IOT_AUTH_UNKNOWN;

    return NGX_IOT_AUTH_REJECT;
}


/* a request that stops waiting is no longer counted as a waiter */

static void
ngx_iot_auth_cache_settle_locked(ngx_iot_auth_zone_t *zone,
    ngx_iot_auth_node_t *node, ngx_iot_auth_ctx_t *ctx,
    ngx_iot_auth_action_e action)
{
    if (ctx->waiting && action != NGX_IOT_AUTH_JOIN) {
        ngx_iot_auth_flight_leave_locked(zone, node, ctx);
    }
}
