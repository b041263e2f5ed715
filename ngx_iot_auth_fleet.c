
/*
 * Copyright (C) ngx_iot_auth authors
 */


/*
 * The fleet's protocol (see ngx_iot_auth_fleet.h): key names, the
 * commands of each step, pipelined on the worker's Redis connection,
 * and the checks of their replies.  Calls the Redis client only.
 */


#include "ngx_iot_auth_fleet.h"

#include <hiredis/hiredis.h>
#include <openssl/rand.h>


#define NGX_IOT_AUTH_FLEET_CMDS      4

/* "f:" STORE ":" DIGEST ":" FPRINT ":", the longest key's fixed part */
#define NGX_IOT_AUTH_FLEET_KEY_LEN                                           \
    (2 + 16 + 1 + 2 * NGX_IOT_AUTH_DIGEST_LEN + 1                            \
     + 2 * NGX_IOT_AUTH_FPRINT_LEN + 1 + NGX_IOT_AUTH_DEVICE_MAX)

#define NGX_IOT_AUTH_FLEET_VERDICT_LEN                                       \
    (2 * NGX_IOT_AUTH_DIGEST_LEN + 2 * NGX_IOT_AUTH_FPRINT_LEN)

/* STORE ":" DIGEST ":" DEVICE */
#define NGX_IOT_AUTH_FLEET_WAKE_LEN                                          \
    (16 + 1 + 2 * NGX_IOT_AUTH_DIGEST_LEN + 1 + NGX_IOT_AUTH_DEVICE_MAX)


/* what each reply of a call must be */

typedef enum {
    NGX_IOT_AUTH_FLEET_VERDICT = 0,    /* GET of a verdict: nil or hex */
    NGX_IOT_AUTH_FLEET_LOCK,           /* PTTL of a lockout: an integer */
    NGX_IOT_AUTH_FLEET_CLAIMED,        /* the claim script's word */
    NGX_IOT_AUTH_FLEET_STATUS,         /* +OK of a SET */
    NGX_IOT_AUTH_FLEET_INTEGER         /* DEL, PUBLISH, release */
} ngx_iot_auth_fleet_reply_e;


/* one step's commands; their keys and values follow the structure */

typedef struct {
    ngx_iot_auth_redis_call_t       call;
    ngx_iot_auth_fleet_answer_t     result;    /* parsed into */
    ngx_iot_auth_fleet_answer_t    *answer;    /* copied to, when done */
    ngx_iot_auth_fleet_handler_pt   handler;
    void                           *data;
    ngx_msec_t                      duration;  /* of a lockout */
    ngx_uint_t                      n;
    ngx_iot_auth_redis_cmd_t        cmds[NGX_IOT_AUTH_FLEET_CMDS];
    ngx_iot_auth_fleet_reply_e      kinds[NGX_IOT_AUTH_FLEET_CMDS];
    u_char                         *last;      /* of the text below */
} ngx_iot_auth_fleet_call_t;


static ngx_iot_auth_fleet_call_t *ngx_iot_auth_fleet_call(ngx_log_t *log,
    ngx_iot_auth_fleet_answer_t *answer,
    ngx_iot_auth_fleet_handler_pt handler, void *data);
static ngx_str_t *ngx_iot_auth_fleet_cmd(ngx_iot_auth_fleet_call_t *fc,
    ngx_iot_auth_fleet_reply_e kind, char *name);
static void ngx_iot_auth_fleet_key_name(ngx_iot_auth_fleet_call_t *fc,
    ngx_str_t *name, char *kind, ngx_iot_auth_fleet_key_t *key,
    ngx_uint_t flight);
static void ngx_iot_auth_fleet_text(ngx_iot_auth_fleet_call_t *fc,
    ngx_str_t *s, const char *fmt, ...);
static void ngx_iot_auth_fleet_verdict(ngx_iot_auth_fleet_call_t *fc,
    ngx_str_t *value, ngx_iot_auth_fleet_key_t *key);
static void ngx_iot_auth_fleet_publish(ngx_iot_auth_fleet_call_t *fc,
    ngx_iot_auth_fleet_key_t *key);
static ngx_int_t ngx_iot_auth_fleet_send(ngx_iot_auth_fleet_call_t *fc);
static ngx_int_t ngx_iot_auth_fleet_parse(ngx_iot_auth_redis_call_t *call,
    ngx_uint_t i, void *r);
static ngx_int_t ngx_iot_auth_fleet_parse_verdict(
    ngx_iot_auth_fleet_call_t *fc, redisReply *reply);
static ngx_int_t ngx_iot_auth_fleet_parse_lock(ngx_iot_auth_fleet_call_t *fc,
    redisReply *reply);
static ngx_int_t ngx_iot_auth_fleet_parse_claim(
    ngx_iot_auth_fleet_call_t *fc, redisReply *reply);
static ngx_int_t ngx_iot_auth_fleet_unhex(u_char *dst, u_char *src,
    size_t len);
static void ngx_iot_auth_fleet_done(ngx_iot_auth_redis_call_t *call);


/*
 * claims KEYS[1] (a verification) with ARGV[1] for ARGV[2] ms unless it
 * exists (then says what it holds; a match whose verdict KEYS[4] is gone
 * is claimed again), counting the attempt in KEYS[2] (window ARGV[4] ms)
 * under a lockout of ARGV[3] failures (KEYS[3]: the device is locked out)
 */

static ngx_str_t  ngx_iot_auth_fleet_claim_script = ngx_string(
    "local f = redis.call('GET', KEYS[1]) "
    "if f and (f ~= 'v' or redis.call('EXISTS', KEYS[4]) == 1) then "
      "return f "
    "end "
    "local n = 0 "
    "if ARGV[3] ~= '0' then "
      "if redis.call('EXISTS', KEYS[3]) == 1 then return 'x' end "
      "n = redis.call('INCR', KEYS[2]) "
      "if n == 1 then redis.call('PEXPIRE', KEYS[2], ARGV[4]) end "
      "if n > tonumber(ARGV[3]) then return 'x' end "
    "end "
    "redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) "
    "return 'c' .. n");


/* gives up the claim KEYS[1] if it is still ARGV[1] */

static ngx_str_t  ngx_iot_auth_fleet_release_script = ngx_string(
    "if redis.call('GET', KEYS[1]) == ARGV[1] then "
      "return redis.call('DEL', KEYS[1]) "
    "end "
    "return 0");


static ngx_str_t    ngx_iot_auth_fleet_prefix;
static ngx_str_t    ngx_iot_auth_fleet_channel;
static u_char       ngx_iot_auth_fleet_gateway[17];
static uint64_t     ngx_iot_auth_fleet_claims;
static ngx_msec_t   ngx_iot_auth_fleet_error_logged;


ngx_int_t
ngx_iot_auth_fleet_init_process(ngx_cycle_t *cycle, ngx_str_t *prefix,
    ngx_str_t *channel)
{
    u_char  id[8];

    ngx_iot_auth_fleet_prefix = *prefix;

    channel->len = prefix->len + sizeof("wake") - 1;
    channel->data = ngx_pnalloc(cycle->pool, channel->len);
    if (channel->data == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(ngx_cpymem(channel->data, prefix->data, prefix->len),
               "wake", sizeof("wake") - 1);

    ngx_iot_auth_fleet_channel = *channel;

    /* claims are told apart across the gateways by a random id */

    if (RAND_bytes(id, sizeof(id)) != 1) {
        ngx_log_error(NGX_LOG_EMERG, cycle->log, 0,
                      "RAND_bytes() failed for iot_auth_fleet");
        return NGX_ERROR;
    }

    ngx_hex_dump(ngx_iot_auth_fleet_gateway, id, sizeof(id));

    return NGX_OK;
}


ngx_int_t
ngx_iot_auth_fleet_read(ngx_iot_auth_fleet_key_t *key,
    ngx_iot_auth_fleet_terms_t *terms, ngx_iot_auth_fleet_answer_t *answer,
    ngx_log_t *log, ngx_iot_auth_fleet_handler_pt handler, void *data)
{
    ngx_str_t                  *arg;
    ngx_iot_auth_fleet_call_t  *fc;

    fc = ngx_iot_auth_fleet_call(log, answer, handler, data);
    if (fc == NULL) {
        return NGX_ERROR;
    }

    fc->duration = terms->lockout->duration;

    arg = ngx_iot_auth_fleet_cmd(fc, NGX_IOT_AUTH_FLEET_VERDICT, "GET");
    ngx_iot_auth_fleet_key_name(fc, &arg[1], "v", key, 0);

    if (terms->lockout->failures) {
        arg = ngx_iot_auth_fleet_cmd(fc, NGX_IOT_AUTH_FLEET_LOCK, "PTTL");
        ngx_iot_auth_fleet_key_name(fc, &arg[1], "x", key, 0);
    }

    return ngx_iot_auth_fleet_send(fc);
}


ngx_int_t
ngx_iot_auth_fleet_claim(ngx_iot_auth_fleet_key_t *key,
    ngx_iot_auth_fleet_terms_t *terms, ngx_iot_auth_fleet_answer_t *answer,
    ngx_log_t *log, ngx_iot_auth_fleet_handler_pt handler, void *data)
{
    ngx_str_t                  *arg;
    ngx_iot_auth_lockout_t     *lockout;
    ngx_iot_auth_fleet_call_t  *fc;

    fc = ngx_iot_auth_fleet_call(log, answer, handler, data);
    if (fc == NULL) {
        return NGX_ERROR;
    }

    lockout = terms->lockout;

    arg = ngx_iot_auth_fleet_cmd(fc, NGX_IOT_AUTH_FLEET_CLAIMED, "EVAL");
    fc->cmds[0].nargs = 11;

    arg[1] = ngx_iot_auth_fleet_claim_script;
    ngx_str_set(&arg[2], "4");
    ngx_iot_auth_fleet_key_name(fc, &arg[3], "f", key, 1);
    ngx_iot_auth_fleet_key_name(fc, &arg[4], "k", key, 0);
    ngx_iot_auth_fleet_key_name(fc, &arg[5], "x", key, 0);
    ngx_iot_auth_fleet_key_name(fc, &arg[6], "v", key, 0);
    ngx_iot_auth_fleet_text(fc, &arg[7], "o%s:%uL",
                            ngx_iot_auth_fleet_gateway,
                            ++ngx_iot_auth_fleet_claims);
    ngx_iot_auth_fleet_text(fc, &arg[8], "%M", terms->lease);
    ngx_iot_auth_fleet_text(fc, &arg[9], "%ui", lockout->failures);
    ngx_iot_auth_fleet_text(fc, &arg[10], "%M", lockout->window);

    /* the claim is kept to end it, or to give it up */

    *ngx_cpymem(answer->id, arg[7].data, arg[7].len) = '\0';

    return ngx_iot_auth_fleet_send(fc);
}


void
ngx_iot_auth_fleet_finish(ngx_iot_auth_fleet_key_t *key,
    ngx_iot_auth_fleet_terms_t *terms, ngx_iot_auth_fleet_answer_t *claim,
    ngx_iot_auth_outcome_e outcome)
{
    ngx_str_t                  *arg;
    ngx_iot_auth_lockout_t     *lockout;
    ngx_iot_auth_fleet_call_t  *fc;

    fc = ngx_iot_auth_fleet_call(ngx_cycle->log, NULL, NULL, NULL);
    if (fc == NULL) {
        return;
    }

    lockout = terms->lockout;

    switch (outcome) {

    case NGX_IOT_AUTH_MATCH:
        arg = ngx_iot_auth_fleet_cmd(fc, NGX_IOT_AUTH_FLEET_STATUS, "SET");
        fc->cmds[fc->n - 1].nargs = 5;
        ngx_iot_auth_fleet_key_name(fc, &arg[1], "v", key, 0);
        ngx_iot_auth_fleet_verdict(fc, &arg[2], key);
        ngx_str_set(&arg[3], "PX");
        ngx_iot_auth_fleet_text(fc, &arg[4], "%M", terms->ttl);

        /* fall through */

    case NGX_IOT_AUTH_MISMATCH:
        arg = ngx_iot_auth_fleet_cmd(fc, NGX_IOT_AUTH_FLEET_STATUS, "SET");
        fc->cmds[fc->n - 1].nargs = 5;
        ngx_iot_auth_fleet_key_name(fc, &arg[1], "f", key, 1);

        if (outcome == NGX_IOT_AUTH_MATCH) {
            ngx_str_set(&arg[2], "v");

        } else {
            ngx_str_set(&arg[2], "m");
        }

        ngx_str_set(&arg[3], "PX");
        ngx_iot_auth_fleet_text(fc, &arg[4], "%M", terms->keep);

        if (lockout->failures == 0) {
            break;
        }

        if (outcome == NGX_IOT_AUTH_MISMATCH) {

            if (claim->attempt < lockout->failures) {
                break;
            }

            arg = ngx_iot_auth_fleet_cmd(fc, NGX_IOT_AUTH_FLEET_STATUS,
                                         "SET");
            fc->cmds[fc->n - 1].nargs = 5;
            ngx_iot_auth_fleet_key_name(fc, &arg[1], "x", key, 0);
            ngx_str_set(&arg[2], "1");
            ngx_str_set(&arg[3], "PX");
            ngx_iot_auth_fleet_text(fc, &arg[4], "%M", lockout->duration);
        }

        /* a match, or the lockout that the failures led to, clears them */

        arg = ngx_iot_auth_fleet_cmd(fc, NGX_IOT_AUTH_FLEET_INTEGER, "DEL");
        ngx_iot_auth_fleet_key_name(fc, &arg[1], "k", key, 0);

        break;

    default: /* no verdict: the claim is given up for another to take */
        arg = ngx_iot_auth_fleet_cmd(fc, NGX_IOT_AUTH_FLEET_INTEGER, "EVAL");
        fc->cmds[0].nargs = 5;
        arg[1] = ngx_iot_auth_fleet_release_script;
        ngx_str_set(&arg[2], "1");
        ngx_iot_auth_fleet_key_name(fc, &arg[3], "f", key, 1);
        ngx_iot_auth_fleet_text(fc, &arg[4], "%s", claim->id);
        break;
    }

    ngx_iot_auth_fleet_publish(fc, key);

    if (ngx_iot_auth_fleet_send(fc) != NGX_OK) {
        ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                      "iot_auth: the fleet was not told of the verification "
                      "of device \"%V\": redis is down", &key->device);
    }
}


void
ngx_iot_auth_fleet_keep(ngx_iot_auth_fleet_key_t *key, ngx_msec_t ttl)
{
    ngx_str_t                  *arg;
    ngx_iot_auth_fleet_call_t  *fc;

    fc = ngx_iot_auth_fleet_call(ngx_cycle->log, NULL, NULL, NULL);
    if (fc == NULL) {
        return;
    }

    arg = ngx_iot_auth_fleet_cmd(fc, NGX_IOT_AUTH_FLEET_STATUS, "SET");
    fc->cmds[0].nargs = 5;
    ngx_iot_auth_fleet_key_name(fc, &arg[1], "v", key, 0);
    ngx_iot_auth_fleet_verdict(fc, &arg[2], key);
    ngx_str_set(&arg[3], "PX");
    ngx_iot_auth_fleet_text(fc, &arg[4], "%M", ttl);

    (void) ngx_iot_auth_fleet_send(fc);
}


ngx_int_t
ngx_iot_auth_fleet_parse_wake(ngx_str_t *payload, uint64_t *store,
    u_char *digest, ngx_str_t *device)
{
    u_char      *p, id[8];
    ngx_uint_t   i;

    p = payload->data;

    if (payload->len < 16 + 1 + 2 * NGX_IOT_AUTH_DIGEST_LEN + 2
        || p[16] != ':' || p[17 + 2 * NGX_IOT_AUTH_DIGEST_LEN] != ':'
        || ngx_iot_auth_fleet_unhex(id, p, sizeof(id)) != NGX_OK
        || ngx_iot_auth_fleet_unhex(digest, p + 17, NGX_IOT_AUTH_DIGEST_LEN)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    *store = 0;

    for (i = 0; i < sizeof(id); i++) {
        *store = (*store << 8) | id[i];
    }

    device->data = p + 18 + 2 * NGX_IOT_AUTH_DIGEST_LEN;
    device->len = payload->len - (18 + 2 * NGX_IOT_AUTH_DIGEST_LEN);

    if (!ngx_iot_auth_record_valid_id(device->data, device->len)) {
        return NGX_ERROR;
    }

    return NGX_OK;
}


/*
 * a call with room for the keys and values of any step; its reply is
 * copied to answer and handler(data) is called, or it is dropped when
 * answer is NULL
 */

static ngx_iot_auth_fleet_call_t *
ngx_iot_auth_fleet_call(ngx_log_t *log, ngx_iot_auth_fleet_answer_t *answer,
    ngx_iot_auth_fleet_handler_pt handler, void *data)
{
    size_t                      size;
    ngx_iot_auth_fleet_call_t  *fc;

    size = NGX_IOT_AUTH_FLEET_CMDS
           * (ngx_iot_auth_fleet_prefix.len + NGX_IOT_AUTH_FLEET_KEY_LEN)
           + NGX_IOT_AUTH_FLEET_VERDICT_LEN + NGX_IOT_AUTH_FLEET_CLAIM_LEN
           + 4 * (NGX_INT64_LEN + 32) + NGX_IOT_AUTH_FLEET_WAKE_LEN;

    fc = ngx_alloc(sizeof(ngx_iot_auth_fleet_call_t) + size, log);
    if (fc == NULL) {
        return NULL;
    }

    ngx_memzero(fc, sizeof(ngx_iot_auth_fleet_call_t));

    fc->last = (u_char *) (fc + 1);
    fc->answer = answer;
    fc->handler = handler;
    fc->data = data;

    fc->call.parse = ngx_iot_auth_fleet_parse;
    fc->call.handler = ngx_iot_auth_fleet_done;
    fc->call.event.log = log;

    return fc;
}


/* a command of two arguments, unless its caller says otherwise */

static ngx_str_t *
ngx_iot_auth_fleet_cmd(ngx_iot_auth_fleet_call_t *fc,
    ngx_iot_auth_fleet_reply_e kind, char *name)
{
    ngx_iot_auth_redis_cmd_t  *cmd;

    cmd = &fc->cmds[fc->n];
    fc->kinds[fc->n] = kind;
    fc->n++;

    cmd->nargs = 2;
    cmd->args[0].data = (u_char *) name;
    cmd->args[0].len = ngx_strlen(name);

    return cmd->args;
}


/* PREFIX KIND ":" STORE [":" DIGEST ":" FPRINT] ":" DEVICE */

static void
ngx_iot_auth_fleet_key_name(ngx_iot_auth_fleet_call_t *fc, ngx_str_t *name,
    char *kind, ngx_iot_auth_fleet_key_t *key, ngx_uint_t flight)
{
    u_char  *p;

    p = fc->last;
    name->data = p;

    p = ngx_sprintf(p, "%V%s:%016xL:", &ngx_iot_auth_fleet_prefix, kind,
                    key->store);

    if (flight) {
        p = ngx_hex_dump(p, key->digest, NGX_IOT_AUTH_DIGEST_LEN);
        *p++ = ':';
        p = ngx_hex_dump(p, key->fprint, NGX_IOT_AUTH_FPRINT_LEN);
        *p++ = ':';
    }

    p = ngx_cpymem(p, key->device.data, key->device.len);

    name->len = p - name->data;
    fc->last = p;
}


static void
ngx_iot_auth_fleet_text(ngx_iot_auth_fleet_call_t *fc, ngx_str_t *s,
    const char *fmt, ...)
{
    va_list  args;

    s->data = fc->last;

    va_start(args, fmt);
    fc->last = ngx_vslprintf(fc->last, fc->last + NGX_INT64_LEN + 32, fmt,
                             args);
    va_end(args);

    s->len = fc->last - s->data;
}


/* a shared verdict: DIGEST FPRINT in hex */

static void
ngx_iot_auth_fleet_verdict(ngx_iot_auth_fleet_call_t *fc, ngx_str_t *value,
    ngx_iot_auth_fleet_key_t *key)
{
    value->data = fc->last;

    fc->last = ngx_hex_dump(fc->last, key->digest, NGX_IOT_AUTH_DIGEST_LEN);
    fc->last = ngx_hex_dump(fc->last, key->fprint, NGX_IOT_AUTH_FPRINT_LEN);

    value->len = fc->last - value->data;
}


/* wakes the gateways that wait for the verification: STORE:DIGEST:DEVICE */

static void
ngx_iot_auth_fleet_publish(ngx_iot_auth_fleet_call_t *fc,
    ngx_iot_auth_fleet_key_t *key)
{
    u_char     *p;
    ngx_str_t  *arg;

    arg = ngx_iot_auth_fleet_cmd(fc, NGX_IOT_AUTH_FLEET_INTEGER, "PUBLISH");
    fc->cmds[fc->n - 1].nargs = 3;

    arg[1] = ngx_iot_auth_fleet_channel;

    p = fc->last;
    arg[2].data = p;

    p = ngx_sprintf(p, "%016xL:", key->store);
    p = ngx_hex_dump(p, key->digest, NGX_IOT_AUTH_DIGEST_LEN);
    *p++ = ':';
    p = ngx_cpymem(p, key->device.data, key->device.len);

    arg[2].len = p - arg[2].data;
    fc->last = p;
}


static ngx_int_t
ngx_iot_auth_fleet_send(ngx_iot_auth_fleet_call_t *fc)
{
    if (ngx_iot_auth_redis_call(&fc->call, fc->cmds, fc->n) != NGX_OK) {
        ngx_free(fc);
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* in hiredis' callback: the reply is checked and copied, nothing else */

static ngx_int_t
ngx_iot_auth_fleet_parse(ngx_iot_auth_redis_call_t *call, ngx_uint_t i,
    void *r)
{
    ngx_iot_auth_fleet_call_t  *fc = (ngx_iot_auth_fleet_call_t *) call;
    redisReply                 *reply = r;

    size_t      len;
    ngx_int_t   rc;
    ngx_str_t  *arg, *key;

    if (i >= fc->n) {
        return NGX_ERROR;
    }

    /* named by its command and first key (a script's is its third word) */

    arg = fc->cmds[i].args;
    key = (arg[0].len == 4 && ngx_strncmp(arg[0].data, "EVAL", 4) == 0)
          ? &arg[3] : &arg[1];

    if (reply->type == REDIS_REPLY_ERROR) {

        /* e.g. an ACL without the command: a line a second at most */

        if (ngx_iot_auth_fleet_error_logged == 0
            || ngx_current_msec - ngx_iot_auth_fleet_error_logged >= 1000)
        {
            ngx_iot_auth_fleet_error_logged = ngx_current_msec | 1;

            len = reply->str ? ngx_min(reply->len,
                                       NGX_IOT_AUTH_REDIS_ERR_MAX)
                             : 0;

            ngx_log_error(NGX_LOG_ERR, call->event.log, 0,
                          "iot_auth: fleet: redis %V \"%V\" failed: %*s",
                          &arg[0], key, len, reply->str);
        }

        return NGX_ERROR;
    }

    switch (fc->kinds[i]) {

    case NGX_IOT_AUTH_FLEET_VERDICT:
        rc = ngx_iot_auth_fleet_parse_verdict(fc, reply);
        break;

    case NGX_IOT_AUTH_FLEET_LOCK:
        rc = ngx_iot_auth_fleet_parse_lock(fc, reply);
        break;

    case NGX_IOT_AUTH_FLEET_CLAIMED:
        rc = ngx_iot_auth_fleet_parse_claim(fc, reply);
        break;

    case NGX_IOT_AUTH_FLEET_STATUS:
        rc = (reply->type == REDIS_REPLY_STATUS && reply->len == 2
              && ngx_strncmp(reply->str, "OK", 2) == 0)
             ? NGX_OK : NGX_ERROR;
        break;

    default: /* NGX_IOT_AUTH_FLEET_INTEGER */
        rc = (reply->type == REDIS_REPLY_INTEGER) ? NGX_OK : NGX_ERROR;
        break;
    }

    if (rc != NGX_OK) {
        ngx_log_error(NGX_LOG_ERR, call->event.log, 0,
                      "iot_auth: fleet: redis sent an unexpected reply to "
                      "%V \"%V\"", &arg[0], key);
    }

    return rc;
}


/* nil, or DIGEST FPRINT in hex */

static ngx_int_t
ngx_iot_auth_fleet_parse_verdict(ngx_iot_auth_fleet_call_t *fc,
    redisReply *reply)
{
    u_char  *p;

    if (reply->type == REDIS_REPLY_NIL) {
        return NGX_OK;
    }

    if (reply->type != REDIS_REPLY_STRING || reply->str == NULL
        || reply->len != NGX_IOT_AUTH_FLEET_VERDICT_LEN)
    {
        return NGX_ERROR;
    }

    p = (u_char *) reply->str;

    if (ngx_iot_auth_fleet_unhex(fc->result.digest, p,
                                 NGX_IOT_AUTH_DIGEST_LEN)
        != NGX_OK
        || ngx_iot_auth_fleet_unhex(fc->result.fprint,
                                    p + 2 * NGX_IOT_AUTH_DIGEST_LEN,
                                    NGX_IOT_AUTH_FPRINT_LEN)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    fc->result.verdict = 1;

    return NGX_OK;
}


/* the PTTL of the lockout: -2 none, -1 one without an end */

static ngx_int_t
ngx_iot_auth_fleet_parse_lock(ngx_iot_auth_fleet_call_t *fc,
    redisReply *reply)
{
    if (reply->type != REDIS_REPLY_INTEGER) {
        return NGX_ERROR;
    }

    if (reply->integer >= 0 && reply->integer <= NGX_MAX_INT32_VALUE) {
        fc->result.locked = (ngx_msec_t) reply->integer;
        return NGX_OK;
    }

    if (reply->integer == -1) {
        fc->result.locked = fc->duration;
        return NGX_OK;
    }

    return (reply->integer == -2) ? NGX_OK : NGX_ERROR;
}


/* "c" ATTEMPT, a claim of another ("o" ...), "v", "m" or "x" */

static ngx_int_t
ngx_iot_auth_fleet_parse_claim(ngx_iot_auth_fleet_call_t *fc,
    redisReply *reply)
{
    u_char     *p;
    size_t      len;
    ngx_int_t   n;

    if (reply->type != REDIS_REPLY_STRING || reply->str == NULL
        || reply->len == 0 || reply->len > NGX_IOT_AUTH_FLEET_CLAIM_LEN)
    {
        return NGX_ERROR;
    }

    p = (u_char *) reply->str;
    len = reply->len;

    switch (p[0]) {

    case 'c':
        n = ngx_atoi(p + 1, len - 1);

        if (n == NGX_ERROR) {
            return NGX_ERROR;
        }

        fc->result.claim = NGX_IOT_AUTH_FLEET_OWN;
        fc->result.attempt = n;
        return NGX_OK;

    case 'o':

        if (len < 2 || !ngx_iot_auth_record_visible(p, len, len)) {
            return NGX_ERROR;
        }

        fc->result.claim = NGX_IOT_AUTH_FLEET_BUSY;
        return NGX_OK;

    default:

        if (len != 1) {
            return NGX_ERROR;
        }

        if (p[0] == 'v') {
            fc->result.claim = NGX_IOT_AUTH_FLEET_MATCHED;
            return NGX_OK;
        }

        if (p[0] == 'm') {
            fc->result.claim = NGX_IOT_AUTH_FLEET_FAILED;
            return NGX_OK;
        }

        if (p[0] == 'x') {
            fc->result.claim = NGX_IOT_AUTH_FLEET_REFUSED;
            return NGX_OK;
        }

        return NGX_ERROR;
    }
}


static ngx_int_t
ngx_iot_auth_fleet_unhex(u_char *dst, u_char *src, size_t len)
{
    u_char      c, v;
    ngx_uint_t  i;

    for (i = 0; i < 2 * len; i++) {
        c = src[i];

        if (c >= '0' && c <= '9') {
            v = c - '0';

        } else if (c >= 'a' && c <= 'f') {
            v = c - 'a' + 10;

        } else {
            return NGX_ERROR;
        }

        if (i % 2) {
            dst[i / 2] |= v;

        } else {
            dst[i / 2] = v << 4;
        }
    }

    return NGX_OK;
}


static void
ngx_iot_auth_fleet_done(ngx_iot_auth_redis_call_t *call)
{
    ngx_iot_auth_fleet_call_t  *fc = (ngx_iot_auth_fleet_call_t *) call;

    ngx_iot_auth_fleet_answer_t  *answer;

    answer = fc->answer;

    if (answer) {
        answer->rc = call->rc;

        if (call->rc == NGX_OK) {
            answer->verdict = fc->result.verdict;
            answer->locked = fc->result.locked;
            answer->attempt = fc->result.attempt;

            if (fc->result.verdict) {
                ngx_memcpy(answer->digest, fc->result.digest,
                           NGX_IOT_AUTH_DIGEST_LEN);
                ngx_memcpy(answer->fprint, fc->result.fprint,
                           NGX_IOT_AUTH_FPRINT_LEN);
            }

            if (fc->kinds[0] == NGX_IOT_AUTH_FLEET_CLAIMED) {
                answer->claim = fc->result.claim;
            }
        }

        fc->handler(fc->data);
    }

    ngx_free(fc);
}
