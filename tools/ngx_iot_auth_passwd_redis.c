
/*
 * Copyright (C) ngx_iot_auth authors
 */


/*
 * iot-auth-passwd's Redis store: the records ngx_iot_auth_redis.c reads,
 * a HASH at PREFIX + device id with the fields "hash", "perms" and
 * "disabled" ("1" refuses the device).  hiredis's synchronous API.  A
 * change is one WATCH/MULTI/EXEC transaction, so that two runs cannot
 * both add a device and no run changes a key deleted meanwhile; then the
 * device id is PUBLISHed on the revoke channel, if one is given, and
 * nginx drops the device's cached verdicts at once.
 */


#include "ngx_iot_auth_passwd.h"

#include <hiredis/hiredis.h>
#include <stdarg.h>
#include <stdio.h>


#define NGX_IOT_AUTH_PASSWD_REDIS_PORT     6379
#define NGX_IOT_AUTH_PASSWD_REDIS_TIMEOUT  5        /* seconds */

/* transactions to try while other clients change the same key */
#define NGX_IOT_AUTH_PASSWD_REDIS_TRIES    10


/* a device of "list", its id after it */

typedef struct {
    ngx_iot_auth_passwd_entry_t    entry;     /* first: listed as one */
    u_char                         hash[NGX_IOT_AUTH_HASH_LEN];
} ngx_iot_auth_passwd_redis_entry_t;


typedef struct {
    ngx_iot_auth_passwd_entry_t  **elts;
    ngx_uint_t                     nelts;
    ngx_uint_t                     nalloc;
} ngx_iot_auth_passwd_redis_list_t;


static ngx_int_t ngx_iot_auth_passwd_redis_connect(
    ngx_iot_auth_passwd_redis_t *rd, redisContext **ctx);
static ngx_int_t ngx_iot_auth_passwd_redis_login(
    ngx_iot_auth_passwd_redis_t *rd, redisContext *c);
static redisReply *ngx_iot_auth_passwd_redis_command(redisContext *c,
    const char *fmt, ...);
static ngx_int_t ngx_iot_auth_passwd_redis_change(redisContext *c,
    ngx_iot_auth_passwd_t *pw, ngx_iot_auth_passwd_redis_t *rd,
    ngx_str_t *key);
static ngx_int_t ngx_iot_auth_passwd_redis_try(redisContext *c,
    ngx_iot_auth_passwd_t *pw, ngx_str_t *key);
static ngx_int_t ngx_iot_auth_passwd_redis_queue(redisContext *c,
    ngx_iot_auth_passwd_t *pw, ngx_str_t *key);
static void ngx_iot_auth_passwd_redis_publish(redisContext *c,
    ngx_iot_auth_passwd_t *pw, ngx_iot_auth_passwd_redis_t *rd);
static ngx_int_t ngx_iot_auth_passwd_redis_list(redisContext *c,
    ngx_iot_auth_passwd_t *pw, ngx_iot_auth_passwd_redis_t *rd);
static ngx_int_t ngx_iot_auth_passwd_redis_match(ngx_str_t *prefix,
    ngx_str_t *match);
static ngx_int_t ngx_iot_auth_passwd_redis_scan(redisContext *c,
    ngx_iot_auth_passwd_redis_t *rd, redisReply *keys,
    ngx_iot_auth_passwd_redis_list_t *list);
static ngx_int_t ngx_iot_auth_passwd_redis_entry(redisReply *key,
    redisReply *fields, ngx_iot_auth_passwd_redis_t *rd,
    ngx_iot_auth_passwd_redis_list_t *list);
static ngx_int_t ngx_iot_auth_passwd_redis_show(
    ngx_iot_auth_passwd_redis_list_t *list, ngx_uint_t hashes);


ngx_int_t
ngx_iot_auth_passwd_redis(ngx_iot_auth_passwd_t *pw,
    ngx_iot_auth_passwd_redis_t *rd)
{
    ngx_int_t      rc;
    ngx_str_t      key;
    redisContext  *c;

    rc = ngx_iot_auth_passwd_redis_connect(rd, &c);

    if (rc != NGX_OK) {
        return rc;
    }

    if (pw->cmd == NGX_IOT_AUTH_PASSWD_LIST) {
        rc = ngx_iot_auth_passwd_redis_list(c, pw, rd);
        redisFree(c);
        return rc;
    }

    key.len = rd->prefix.len + pw->device.len;

    key.data = malloc(key.len);
    if (key.data == NULL) {
        ngx_iot_auth_passwd_log("out of memory");
        redisFree(c);
        return NGX_ERROR;
    }

    ngx_memcpy(ngx_cpymem(key.data, rd->prefix.data, rd->prefix.len),
               pw->device.data, pw->device.len);

    rc = ngx_iot_auth_passwd_redis_change(c, pw, rd, &key);

    free(key.data);
    redisFree(c);

    return rc;
}


/* NGX_DECLINED for an address that is not one */

static ngx_int_t
ngx_iot_auth_passwd_redis_connect(ngx_iot_auth_passwd_redis_t *rd,
    redisContext **ctx)
{
    int             port;
    char           *host, *colon, *p;
    redisContext   *c;
    struct timeval  tv;

    tv.tv_sec = NGX_IOT_AUTH_PASSWD_REDIS_TIMEOUT;
    tv.tv_usec = 0;

    if (strncmp(rd->address, "unix:", 5) == 0) {
        c = redisConnectUnixWithTimeout(rd->address + 5, tv);

    } else {
        host = strdup(rd->address);
        if (host == NULL) {
            ngx_iot_auth_passwd_log("out of memory");
            return NGX_ERROR;
        }

        port = NGX_IOT_AUTH_PASSWD_REDIS_PORT;

        /* HOST, HOST:PORT, [IPV6]:PORT; a bare IPv6 address has no port */

        p = (*host == '[') ? strchr(host, ']') : NULL;

        if (p) {
            *p++ = '\0';
            ngx_memmove(host, host + 1, p - host - 1);

        } else {
            p = host;
        }

        colon = strrchr(p, ':');

        if (colon && (p != host || strchr(host, ':') == colon)) {
            *colon++ = '\0';
            port = atoi(colon);

            if (port < 1 || port > 65535
                || strspn(colon, "0123456789") != strlen(colon))
            {
                port = 0;
            }
        }

        if (*host == '\0' || port == 0) {
            ngx_iot_auth_passwd_log("invalid redis address \"%s\": use "
                                    "HOST, HOST:PORT or unix:/PATH",
                                    rd->address);
            free(host);
            return NGX_DECLINED;
        }

        c = redisConnectWithTimeout(host, port, tv);

        free(host);
    }

    if (c == NULL) {
        ngx_iot_auth_passwd_log("out of memory");
        return NGX_ERROR;
    }

    if (c->err) {
        ngx_iot_auth_passwd_log("cannot connect to redis \"%s\": %s",
                                rd->address, c->errstr);
        redisFree(c);
        return NGX_ERROR;
    }

    if (redisSetTimeout(c, tv) != REDIS_OK
        || ngx_iot_auth_passwd_redis_login(rd, c) != NGX_OK)
    {
        redisFree(c);
        return NGX_ERROR;
    }

    *ctx = c;

    return NGX_OK;
}


static ngx_int_t
ngx_iot_auth_passwd_redis_login(ngx_iot_auth_passwd_redis_t *rd,
    redisContext *c)
{
    redisReply  *r;

    if (rd->user) {
        r = ngx_iot_auth_passwd_redis_command(c, "AUTH %s %s", rd->user,
                                              rd->password);

    } else if (rd->password) {
        r = ngx_iot_auth_passwd_redis_command(c, "AUTH %s", rd->password);

    } else {
        r = ngx_iot_auth_passwd_redis_command(c, "PING");
    }

    if (r == NULL) {
        return NGX_ERROR;
    }

    freeReplyObject(r);

    if (rd->db == 0) {
        return NGX_OK;
    }

    r = ngx_iot_auth_passwd_redis_command(c, "SELECT %d", rd->db);
    if (r == NULL) {
        return NGX_ERROR;
    }

    freeReplyObject(r);

    return NGX_OK;
}


/* a reply, or NULL after the error is said; commands are known words */

static redisReply *
ngx_iot_auth_passwd_redis_command(redisContext *c, const char *fmt, ...)
{
    va_list      args;
    redisReply  *r;

    va_start(args, fmt);
    r = redisvCommand(c, fmt, args);
    va_end(args);

    if (r == NULL) {
        ngx_iot_auth_passwd_log("redis %.*s failed: %s",
                                (int) strcspn(fmt, " "), fmt, c->errstr);
        return NULL;
    }

    if (r->type == REDIS_REPLY_ERROR) {
        ngx_iot_auth_passwd_log("redis %.*s failed: %.*s",
                                (int) strcspn(fmt, " "), fmt,
                                (int) r->len, r->str);
        freeReplyObject(r);
        return NULL;
    }

    return r;
}


static ngx_int_t
ngx_iot_auth_passwd_redis_change(redisContext *c, ngx_iot_auth_passwd_t *pw,
    ngx_iot_auth_passwd_redis_t *rd, ngx_str_t *key)
{
    char       *done;
    ngx_int_t   rc;
    ngx_uint_t  i;

    rc = NGX_AGAIN;

    for (i = 0; i < NGX_IOT_AUTH_PASSWD_REDIS_TRIES && rc == NGX_AGAIN; i++)
    {
        rc = ngx_iot_auth_passwd_redis_try(c, pw, key);
    }

    if (rc == NGX_AGAIN) {
        ngx_iot_auth_passwd_log("redis key \"%.*s\" kept changing: "
                                "nothing done", (int) key->len, key->data);
        return NGX_ERROR;
    }

    if (rc != NGX_OK) {
        return rc;
    }

    switch (pw->cmd) {

    case NGX_IOT_AUTH_PASSWD_ADD:
        done = "is added";
        break;

    case NGX_IOT_AUTH_PASSWD_ROTATE:
        done = "has a new secret";
        break;

    case NGX_IOT_AUTH_PASSWD_DISABLE:
        done = "is disabled";
        break;

    case NGX_IOT_AUTH_PASSWD_ENABLE:
        done = "is enabled";
        break;

    case NGX_IOT_AUTH_PASSWD_DELETE:
        done = "is deleted";
        break;

    default: /* NGX_IOT_AUTH_PASSWD_PERMS */
        done = "has new perms";
    }

    ngx_iot_auth_passwd_log("device \"%.*s\" %s: redis key \"%.*s\"",
                            (int) pw->device.len, pw->device.data, done,
                            (int) key->len, key->data);

    ngx_iot_auth_passwd_redis_publish(c, pw, rd);

    return NGX_OK;
}


/* NGX_AGAIN when another client changed the key during the transaction */

static ngx_int_t
ngx_iot_auth_passwd_redis_try(redisContext *c, ngx_iot_auth_passwd_t *pw,
    ngx_str_t *key)
{
    size_t       i;
    ngx_int_t    rc;
    ngx_uint_t   exists;
    redisReply  *r;

    r = ngx_iot_auth_passwd_redis_command(c, "WATCH %b", key->data,
                                          key->len);
    if (r == NULL) {
        return NGX_ERROR;
    }

    freeReplyObject(r);

    r = ngx_iot_auth_passwd_redis_command(c, "TYPE %b", key->data,
                                          key->len);
    if (r == NULL) {
        return NGX_ERROR;
    }

    rc = NGX_OK;
    exists = (r->str == NULL || strcmp(r->str, "none") != 0);

    if (exists && (r->str == NULL || strcmp(r->str, "hash") != 0)) {
        ngx_iot_auth_passwd_log("redis key \"%.*s\" is a %s, not the hash "
                                "of a device: left alone", (int) key->len,
                                key->data, r->str ? r->str : "?");
        rc = NGX_ERROR;

    } else if (exists && pw->cmd == NGX_IOT_AUTH_PASSWD_ADD) {
        ngx_iot_auth_passwd_log("device \"%.*s\" is already in redis, key "
                                "\"%.*s\"", (int) pw->device.len,
                                pw->device.data, (int) key->len, key->data);
        rc = NGX_ERROR;

    } else if (!exists && pw->cmd != NGX_IOT_AUTH_PASSWD_ADD) {
        ngx_iot_auth_passwd_log("no device \"%.*s\" in redis, key \"%.*s\"",
                                (int) pw->device.len, pw->device.data,
                                (int) key->len, key->data);
        rc = NGX_ERROR;
    }

    freeReplyObject(r);

    if (rc != NGX_OK) {
        return rc;
    }

    r = ngx_iot_auth_passwd_redis_command(c, "MULTI");
    if (r == NULL) {
        return NGX_ERROR;
    }

    freeReplyObject(r);

    if (ngx_iot_auth_passwd_redis_queue(c, pw, key) != NGX_OK) {
        return NGX_ERROR;
    }

    r = ngx_iot_auth_passwd_redis_command(c, "EXEC");
    if (r == NULL) {
        return NGX_ERROR;
    }

    rc = (r->type == REDIS_REPLY_NIL) ? NGX_AGAIN : NGX_OK;

    for (i = 0; r->type == REDIS_REPLY_ARRAY && i < r->elements; i++) {
        if (r->element[i]->type == REDIS_REPLY_ERROR) {
            ngx_iot_auth_passwd_log("redis refused the change of \"%.*s\": "
                                    "%.*s", (int) key->len, key->data,
                                    (int) r->element[i]->len,
                                    r->element[i]->str);
            rc = NGX_ERROR;
        }
    }

    freeReplyObject(r);

    return rc;
}


static ngx_int_t
ngx_iot_auth_passwd_redis_queue(redisContext *c, ngx_iot_auth_passwd_t *pw,
    ngx_str_t *key)
{
    u_char      *k, *h, *m;
    size_t       kl, hl, ml;
    redisReply  *r;

    k = key->data;
    kl = key->len;
    h = pw->hash;
    hl = NGX_IOT_AUTH_HASH_LEN;
    m = pw->perms.data;
    ml = pw->perms.len;

    switch (pw->cmd) {

    case NGX_IOT_AUTH_PASSWD_ADD:
        if (ml) {
            r = ngx_iot_auth_passwd_redis_command(c,
                                              "HSET %b hash %b perms %b",
                                              k, kl, h, hl, m, ml);
        } else {
            r = ngx_iot_auth_passwd_redis_command(c, "HSET %b hash %b",
                                                  k, kl, h, hl);
        }

        break;

    case NGX_IOT_AUTH_PASSWD_ROTATE:
        r = ngx_iot_auth_passwd_redis_command(c, "HSET %b hash %b",
                                              k, kl, h, hl);
        break;

    case NGX_IOT_AUTH_PASSWD_DISABLE:
        r = ngx_iot_auth_passwd_redis_command(c, "HSET %b disabled 1",
                                              k, kl);
        break;

    case NGX_IOT_AUTH_PASSWD_ENABLE:
        r = ngx_iot_auth_passwd_redis_command(c, "HDEL %b disabled", k, kl);
        break;

    case NGX_IOT_AUTH_PASSWD_DELETE:
        r = ngx_iot_auth_passwd_redis_command(c, "DEL %b", k, kl);
        break;

    default: /* NGX_IOT_AUTH_PASSWD_PERMS */
        r = ngx_iot_auth_passwd_redis_command(c, "HSET %b perms %b",
                                              k, kl, m, ml);
    }

    if (r == NULL) {
        return NGX_ERROR;
    }

    freeReplyObject(r);

    return NGX_OK;
}


/* the change is made: a failed publish is a warning, not a failure */

static void
ngx_iot_auth_passwd_redis_publish(redisContext *c, ngx_iot_auth_passwd_t *pw,
    ngx_iot_auth_passwd_redis_t *rd)
{
    redisReply  *r;

    if (rd->channel.len == 0) {
        if (pw->cmd != NGX_IOT_AUTH_PASSWD_ADD
            && pw->cmd != NGX_IOT_AUTH_PASSWD_ENABLE)
        {
            ngx_iot_auth_passwd_log("no --revoke-channel: nginx keeps the "
                                    "verdicts it cached for \"%.*s\" until "
                                    "their ttl ends", (int) pw->device.len,
                                    pw->device.data);
        }

        return;
    }

    r = ngx_iot_auth_passwd_redis_command(c, "PUBLISH %b %b",
                                          rd->channel.data, rd->channel.len,
                                          pw->device.data, pw->device.len);
    if (r == NULL) {
        ngx_iot_auth_passwd_log("warning: nginx keeps the verdicts it "
                                "cached for \"%.*s\" until their ttl ends",
                                (int) pw->device.len, pw->device.data);
        return;
    }

    ngx_iot_auth_passwd_log("published \"%.*s\" on \"%.*s\" to %lld "
                            "subscriber%s", (int) pw->device.len,
                            pw->device.data, (int) rd->channel.len,
                            rd->channel.data, r->integer,
                            r->integer == 1 ? "" : "s");

    if (r->integer == 0) {
        ngx_iot_auth_passwd_log("warning: no nginx listens on \"%.*s\": "
                                "cached verdicts of \"%.*s\" stay until "
                                "their ttl ends", (int) rd->channel.len,
                                rd->channel.data, (int) pw->device.len,
                                pw->device.data);
    }

    freeReplyObject(r);
}


/*
 * SCAN with the prefix, then an HMGET per key, pipelined; sorted by
 * device id, since SCAN keeps no order and may return a key twice
 */

static ngx_int_t
ngx_iot_auth_passwd_redis_list(redisContext *c, ngx_iot_auth_passwd_t *pw,
    ngx_iot_auth_passwd_redis_t *rd)
{
    size_t                             i;
    ngx_int_t                          rc;
    ngx_str_t                          match;
    redisReply                        *r;
    ngx_iot_auth_passwd_redis_list_t   list;
    char                               cursor[NGX_INT64_LEN + 1];

    if (ngx_iot_auth_passwd_redis_match(&rd->prefix, &match) != NGX_OK) {
        return NGX_ERROR;
    }

    ngx_memzero(&list, sizeof(ngx_iot_auth_passwd_redis_list_t));
    ngx_memcpy(cursor, "0", 2);

    do {
        r = ngx_iot_auth_passwd_redis_command(c, "SCAN %s MATCH %b COUNT 1000",
                                              cursor, match.data, match.len);
        if (r == NULL) {
            rc = NGX_ERROR;
            break;
        }

        if (r->type != REDIS_REPLY_ARRAY || r->elements != 2
            || r->element[0]->type != REDIS_REPLY_STRING
            || r->element[0]->len > NGX_INT64_LEN
            || r->element[1]->type != REDIS_REPLY_ARRAY)
        {
            ngx_iot_auth_passwd_log("redis sent an unexpected reply to SCAN");
            freeReplyObject(r);
            rc = NGX_ERROR;
            break;
        }

        ngx_memcpy(cursor, r->element[0]->str, r->element[0]->len + 1);

        rc = ngx_iot_auth_passwd_redis_scan(c, rd, r->element[1], &list);

        freeReplyObject(r);

    } while (rc == NGX_OK && strcmp(cursor, "0") != 0);

    free(match.data);

    if (rc == NGX_OK) {
        rc = ngx_iot_auth_passwd_redis_show(&list, pw->hashes);
    }

    for (i = 0; i < list.nelts; i++) {
        free(list.elts[i]);
    }

    free(list.elts);

    return rc;
}


/* the prefix, its glob characters escaped, then "*" */

static ngx_int_t
ngx_iot_auth_passwd_redis_match(ngx_str_t *prefix, ngx_str_t *match)
{
    size_t   i;
    u_char  *p;

    match->data = malloc(prefix->len * 2 + 1);
    if (match->data == NULL) {
        ngx_iot_auth_passwd_log("out of memory");
        return NGX_ERROR;
    }

    p = match->data;

    for (i = 0; i < prefix->len; i++) {
        if (strchr("*?[]\\", prefix->data[i])) {
            *p++ = '\\';
        }

        *p++ = prefix->data[i];
    }

    *p++ = '*';

    match->len = p - match->data;

    return NGX_OK;
}


static ngx_int_t
ngx_iot_auth_passwd_redis_scan(redisContext *c,
    ngx_iot_auth_passwd_redis_t *rd, redisReply *keys,
    ngx_iot_auth_passwd_redis_list_t *list)
{
    void        *reply;
    size_t       i;
    ngx_int_t    rc;
    redisReply  *key;

    for (i = 0; i < keys->elements; i++) {
        key = keys->element[i];

        if (redisAppendCommand(c, "HMGET %b hash perms disabled",
                               key->str, (size_t) key->len)
            != REDIS_OK)
        {
            ngx_iot_auth_passwd_log("redis HMGET failed: %s", c->errstr);
            return NGX_ERROR;
        }
    }

    rc = NGX_OK;

    for (i = 0; i < keys->elements; i++) {

        if (redisGetReply(c, &reply) != REDIS_OK) {
            ngx_iot_auth_passwd_log("redis HMGET failed: %s", c->errstr);
            return NGX_ERROR;
        }

        if (rc == NGX_OK) {
            rc = ngx_iot_auth_passwd_redis_entry(keys->element[i], reply, rd,
                                                 list);
        }

        freeReplyObject(reply);
    }

    return rc;
}


/* a record as the module reads it; a key gone since SCAN is skipped */

static ngx_int_t
ngx_iot_auth_passwd_redis_entry(redisReply *key, redisReply *fields,
    ngx_iot_auth_passwd_redis_t *rd, ngx_iot_auth_passwd_redis_list_t *list)
{
    size_t                              i;
    ngx_int_t                           cost;
    ngx_str_t                           id;
    redisReply                         *f[3];
    ngx_iot_auth_passwd_entry_t       **elts;
    ngx_iot_auth_passwd_redis_entry_t  *e;

    if (key->type != REDIS_REPLY_STRING || key->len < rd->prefix.len) {
        return NGX_OK;
    }

    id.data = (u_char *) key->str + rd->prefix.len;
    id.len = key->len - rd->prefix.len;

    if (!ngx_iot_auth_record_valid_id(id.data, id.len)) {
        ngx_iot_auth_passwd_log("skipped redis key \"%.*s\": no valid "
                                "device id after the prefix",
                                (int) key->len, key->str);
        return NGX_OK;
    }

    ngx_memzero(f, sizeof(f));

    if (fields->type == REDIS_REPLY_ARRAY && fields->elements == 3) {
        for (i = 0; i < 3; i++) {
            if (fields->element[i]->type == REDIS_REPLY_STRING) {
                f[i] = fields->element[i];
            }
        }

        if (f[0] == NULL && f[1] == NULL && f[2] == NULL) {
            return NGX_OK;
        }
    }

    e = malloc(sizeof(ngx_iot_auth_passwd_redis_entry_t) + id.len);
    if (e == NULL) {
        ngx_iot_auth_passwd_log("out of memory");
        return NGX_ERROR;
    }

    ngx_memzero(e, sizeof(ngx_iot_auth_passwd_redis_entry_t));

    e->entry.id.len = id.len;
    e->entry.id.data = (u_char *) (e + 1);
    ngx_memcpy(e->entry.id.data, id.data, id.len);

    /* a key that is not a hash has no fields: the module refuses it */

    cost = f[0] ? ngx_iot_auth_record_hash_cost((u_char *) f[0]->str,
                                                f[0]->len)
                : NGX_ERROR;

    if (cost != NGX_ERROR) {
        ngx_memcpy(e->hash, f[0]->str, NGX_IOT_AUTH_HASH_LEN);
        e->entry.hash = e->hash;
        e->entry.cost = cost;
    }

    e->entry.perms_ok = fields->type == REDIS_REPLY_ARRAY
                        && (f[1] == NULL
                            || ngx_iot_auth_record_parse_perms(
                                   (u_char *) f[1]->str, f[1]->len,
                                   &e->entry.perms)
                               == NGX_OK);

    e->entry.disabled = (f[2] && f[2]->len == 1 && f[2]->str[0] == '1');

    if (list->nelts == list->nalloc) {
        list->nalloc = list->nalloc ? list->nalloc * 2 : 64;

        elts = realloc(list->elts, list->nalloc * sizeof(*elts));
        if (elts == NULL) {
            ngx_iot_auth_passwd_log("out of memory");
            free(e);
            return NGX_ERROR;
        }

        list->elts = elts;
    }

    list->elts[list->nelts++] = &e->entry;

    return NGX_OK;
}


static ngx_int_t
ngx_iot_auth_passwd_redis_show(ngx_iot_auth_passwd_redis_list_t *list,
    ngx_uint_t hashes)
{
    ngx_uint_t                    i;
    ngx_iot_auth_passwd_entry_t  *e, *prev;

    ngx_qsort(list->elts, list->nelts, sizeof(ngx_iot_auth_passwd_entry_t *),
              ngx_iot_auth_passwd_cmp);

    prev = NULL;

    for (i = 0; i < list->nelts; i++) {
        e = list->elts[i];

        if (prev == NULL || ngx_iot_auth_passwd_cmp(&prev, &e) != 0) {
            ngx_iot_auth_passwd_print(e, hashes);
        }

        prev = e;
    }

    return (fflush(stdout) == 0) ? NGX_OK : NGX_ERROR;
}
