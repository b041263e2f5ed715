
/*
 * Copyright (C) ngx_iot_auth authors
 *
 * Raw RESP bytes -> hiredis' reply reader -> the fleet's checks of what
 * Redis answers to its commands: ngx_iot_auth_fleet_parse() takes every
 * complete reply in the input as each kind of answer (a shared verdict,
 * a lockout, a claim, a status, an integer).  The whole input is also a
 * message of the fleet's channel for ngx_iot_auth_fleet_parse_wake().
 *
 * Whatever is accepted must be what the fleet writes: a verdict is nil
 * or 96 lowercase hex digits (and is decoded to them), a claim one of
 * the fleet's words, a lockout an integer of -2 or more, a wake-up a
 * store id, a digest and a valid device id.
 */


#include "fuzz_common.h"
#include "fuzz_resp.h"
#include "../ngx_iot_auth_fleet.c"


#define FUZZ_MAX_REPLIES   64


int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    fuzz_init();

    ngx_str_set(&ngx_iot_auth_fleet_prefix, "iot:fleet:");
    ngx_str_set(&ngx_iot_auth_fleet_channel, "iot:fleet:wake");

    return 0;
}


static void
fuzz_check_verdict(ngx_iot_auth_fleet_call_t *fc, redisReply *reply)
{
    u_char  hex[NGX_IOT_AUTH_FLEET_VERDICT_LEN];

    if (reply->type == REDIS_REPLY_NIL) {
        fuzz_assert(!fc->result.verdict);
        return;
    }

    fuzz_assert(reply->type == REDIS_REPLY_STRING
                && reply->len == NGX_IOT_AUTH_FLEET_VERDICT_LEN
                && fc->result.verdict);

    (void) ngx_hex_dump(ngx_hex_dump(hex, fc->result.digest,
                                     NGX_IOT_AUTH_DIGEST_LEN),
                        fc->result.fprint, NGX_IOT_AUTH_FPRINT_LEN);

    fuzz_assert(ngx_memcmp(hex, reply->str, sizeof(hex)) == 0);
}


static void
fuzz_check_claim(ngx_iot_auth_fleet_call_t *fc, redisReply *reply)
{
    fuzz_assert(reply->type == REDIS_REPLY_STRING && reply->len > 0
                && reply->len <= NGX_IOT_AUTH_FLEET_CLAIM_LEN);

    switch (reply->str[0]) {

    case 'c':
        fuzz_assert(fc->result.claim == NGX_IOT_AUTH_FLEET_OWN);
        break;

    case 'o':
        fuzz_assert(fc->result.claim == NGX_IOT_AUTH_FLEET_BUSY
                    && reply->len > 1);
        break;

    case 'v':
        fuzz_assert(fc->result.claim == NGX_IOT_AUTH_FLEET_MATCHED
                    && reply->len == 1);
        break;

    case 'm':
        fuzz_assert(fc->result.claim == NGX_IOT_AUTH_FLEET_FAILED
                    && reply->len == 1);
        break;

    default:
        fuzz_assert(reply->str[0] == 'x'
                    && fc->result.claim == NGX_IOT_AUTH_FLEET_REFUSED
                    && reply->len == 1);
        break;
    }
}


/* one reply as the answer to each kind of command */

static void
fuzz_parse(redisReply *reply)
{
    ngx_int_t                    rc;
    ngx_str_t                   *arg;
    ngx_uint_t                   kind;
    ngx_iot_auth_fleet_call_t   *fc;
    static char                 *names[] = { "GET", "PTTL", "EVAL", "SET",
                                             "DEL" };

    for (kind = NGX_IOT_AUTH_FLEET_VERDICT;
         kind <= NGX_IOT_AUTH_FLEET_INTEGER;
         kind++)
    {
        fc = ngx_iot_auth_fleet_call(&fuzz_log, NULL, NULL, NULL);
        if (fc == NULL) {
            abort();
        }

        fc->duration = 60000;

        arg = ngx_iot_auth_fleet_cmd(fc, kind, names[kind]);
        fc->cmds[0].nargs = 4;
        ngx_str_set(&arg[1], "iot:fleet:v:0123456789abcdef:dev1");
        ngx_str_set(&arg[2], "4");
        ngx_str_set(&arg[3], "iot:fleet:f:0123456789abcdef:dev1");

        fc->result.claim = NGX_IOT_AUTH_FLEET_BUSY;
        fc->result.locked = 12345;

        rc = ngx_iot_auth_fleet_parse(&fc->call, 0, reply);

        fuzz_assert(rc == NGX_OK || rc == NGX_ERROR);

        /* an error reply is never taken for an answer */
        fuzz_assert(reply->type != REDIS_REPLY_ERROR || rc == NGX_ERROR);

        if (rc == NGX_OK) {
            switch (kind) {

            case NGX_IOT_AUTH_FLEET_VERDICT:
                fuzz_check_verdict(fc, reply);
                break;

            case NGX_IOT_AUTH_FLEET_LOCK:
                fuzz_assert(reply->type == REDIS_REPLY_INTEGER
                            && reply->integer >= -2);
                break;

            case NGX_IOT_AUTH_FLEET_CLAIMED:
                fuzz_check_claim(fc, reply);
                break;

            case NGX_IOT_AUTH_FLEET_STATUS:
                fuzz_assert(reply->type == REDIS_REPLY_STATUS);
                break;

            default:
                fuzz_assert(reply->type == REDIS_REPLY_INTEGER);
                break;
            }
        }

        ngx_free(fc);
    }
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    void         *r;
    uint64_t      store;
    ngx_str_t     payload, device;
    ngx_uint_t    n;
    redisReader  *reader;
    u_char        digest[NGX_IOT_AUTH_DIGEST_LEN];

    payload.data = (u_char *) data;
    payload.len = size;

    if (ngx_iot_auth_fleet_parse_wake(&payload, &store, digest, &device)
        == NGX_OK)
    {
        fuzz_assert(ngx_iot_auth_record_valid_id(device.data, device.len));
        fuzz_assert(device.data + device.len == payload.data + size);
    }

    if (fuzz_huge_array(data, size)) {
        return 0;
    }

    reader = redisReaderCreate();
    if (reader == NULL) {
        abort();
    }

    if (redisReaderFeed(reader, (const char *) data, size) != REDIS_OK) {
        goto done;
    }

    for (n = 0; n < FUZZ_MAX_REPLIES; n++) {
        r = NULL;

        if (redisReaderGetReply(reader, &r) != REDIS_OK || r == NULL) {
            break;
        }

        fuzz_parse(r);

        freeReplyObject(r);
    }

done:

    redisReaderFree(reader);

    return 0;
}
