
/*
 * Copyright (C) ngx_iot_auth authors
 *
 * Raw RESP bytes -> hiredis' reply reader -> the module's handlers of
 * what Redis sends back: ngx_iot_auth_redis_parse_record() (the HMGET
 * reply that becomes a record) and ngx_iot_auth_redis_message() (the
 * subscriber: subscribe confirmations and published device ids).
 * Every complete reply in the input goes to both.
 *
 * A reply parsed as NGX_OK must carry a valid bcrypt hash (NUL-terminated
 * copy) and perms; one with all three fields nil is NGX_DECLINED.
 */


#include "fuzz_common.h"
#include "fuzz_resp.h"
#include "../ngx_iot_auth_redis.c"
#include "../ngx_iot_auth_module.h"


#define FUZZ_MAX_REPLIES  64


static ngx_iot_auth_redis_endpoint_t  fuzz_ep;
static ngx_iot_auth_main_conf_t       fuzz_iamcf;
static redisAsyncContext              fuzz_ac;


int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    fuzz_init();

    ngx_str_set(&fuzz_ep.name, "127.0.0.1:6379");
    ngx_str_set(&fuzz_ep.channel, "iot:revoke");
    fuzz_ep.timeout = 1000;
    fuzz_ep.connect_timeout = 1000;

    ngx_iot_auth_redis_ep = &fuzz_ep;

    return 0;
}


static void
fuzz_check_parse(ngx_iot_auth_redis_fetch_t *cmd, redisReply *reply,
    ngx_int_t rc)
{
    ngx_uint_t   i, nil;
    redisReply  *f;

    fuzz_assert(rc == NGX_OK || rc == NGX_DECLINED || rc == NGX_ERROR);

    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 3) {
        fuzz_assert(rc != NGX_OK);
        return;
    }

    nil = 0;

    for (i = 0; i < 3; i++) {
        f = reply->element[i];

        if (f->type != REDIS_REPLY_NIL && f->type != REDIS_REPLY_STRING) {
            fuzz_assert(rc == NGX_ERROR);
            return;
        }

        nil += (f->type == REDIS_REPLY_NIL);
    }

    if (nil == 3) {
        fuzz_assert(rc == NGX_DECLINED);
    }

    if (rc != NGX_OK) {
        return;
    }

    f = reply->element[0];

    fuzz_assert(f->type == REDIS_REPLY_STRING
                && f->len == NGX_IOT_AUTH_HASH_LEN);
    fuzz_assert(ngx_memcmp(cmd->hash, f->str, NGX_IOT_AUTH_HASH_LEN) == 0);
    fuzz_assert(cmd->hash[NGX_IOT_AUTH_HASH_LEN] == '\0');
    fuzz_assert(ngx_iot_auth_record_hash_cost(cmd->hash,
                                              NGX_IOT_AUTH_HASH_LEN)
                != NGX_ERROR);

    f = reply->element[2];

    fuzz_assert(!(f->type == REDIS_REPLY_STRING && f->len == 1
                  && f->str[0] == '1'));

    if (reply->element[1]->type == REDIS_REPLY_NIL) {
        fuzz_assert(cmd->perms == 0);
    }
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    void                       *r;
    ngx_int_t                   rc;
    ngx_uint_t                  n;
    ngx_conf_t                  cf;
    redisReader                *reader;
    redisReply                 *reply;
    ngx_iot_auth_redis_peer_t    peer;
    ngx_iot_auth_redis_fetch_t  *cmd;

    if (fuzz_huge_array(data, size)) {
        return 0;
    }

    fuzz_conf_begin(&cf);

    /* ngx_iot_auth_revoke() walks the zones of the block */
    fuzz_main_conf[FUZZ_IOT_INDEX] = &fuzz_iamcf;

    if (ngx_array_init(&fuzz_iamcf.engine.zones, cf.pool, 1,
                       sizeof(ngx_shm_zone_t *))
        != NGX_OK)
    {
        abort();
    }

    ngx_iot_auth_redis_handlers.revoke = ngx_iot_auth_revoke;
    ngx_iot_auth_redis_handlers.data = &fuzz_iamcf.engine;

    reader = redisReaderCreate();
    if (reader == NULL) {
        abort();
    }

    if (redisReaderFeed(reader, (const char *) data, size) != REDIS_OK) {
        goto done;
    }

    ngx_memzero(&peer, sizeof(ngx_iot_auth_redis_peer_t));
    peer.ac = &fuzz_ac;
    peer.purpose = "revoke";
    peer.subscriber = 1;
    peer.ready = 1;

    for (n = 0; n < FUZZ_MAX_REPLIES; n++) {
        r = NULL;

        if (redisReaderGetReply(reader, &r) != REDIS_OK || r == NULL) {
            break;
        }

        reply = r;

        cmd = ngx_pcalloc(cf.pool, sizeof(ngx_iot_auth_redis_fetch_t));
        if (cmd == NULL) {
            abort();
        }

        cmd->call.event.log = &fuzz_log;
        ngx_str_set(&cmd->key, "iot:device:dev1");
        cmd->perms = 0xdeadbeef;

        rc = ngx_iot_auth_redis_parse_record(&cmd->call, 0, reply);
        fuzz_check_parse(cmd, reply, rc);

        ngx_iot_auth_redis_message(&fuzz_ac, reply, &peer);

        freeReplyObject(reply);
    }

done:

    redisReaderFree(reader);

    fuzz_conf_end(&cf);

    return 0;
}
