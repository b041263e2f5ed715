
/*
 * Copyright (C) ngx_iot_auth authors
 *
 * The first bytes of a connection -> ngx_iot_auth_mqtt_parse_connect().
 * The parser is linked alone, without nginx's objects.  Checked: an
 * NGX_OK packet fits in the input and its fields lie inside it; parsing
 * its own bytes gives the same; every shorter cut of the input gives
 * NGX_AGAIN up to some length and, past it, the answer of the whole
 * input (so a packet fed one byte at a time is NGX_AGAIN until its last
 * byte, and an error stays the same error); a max below the packet's
 * size refuses it.  Every cut ends where its buffer ends, so that ASan
 * sees a read past it.
 */


#include "fuzz_assert.h"
#include "../ngx_iot_auth_mqtt.c"

#include <string.h>


/* no limit: the limit is checked with a max of the input's length */
#define FUZZ_MAX  ((size_t) -1)


/*
 * The first n bytes of data, parsed where they end at the end of buf
 * (len bytes from malloc()): a read past them is one past buf.
 */

static ngx_int_t
fuzz_parse(const u_char *data, size_t n, u_char *buf, size_t len,
    size_t max, ngx_iot_auth_mqtt_connect_t *c)
{
    u_char     *p;
    ngx_int_t   rc;

    p = buf + len - n;

    if (n) {
        ngx_memcpy(p, data, n);
    }

    rc = ngx_iot_auth_mqtt_parse_connect(p, n, max, c);

    fuzz_assert(rc == NGX_OK || rc == NGX_AGAIN || rc == NGX_ERROR);
    fuzz_assert((rc == NGX_ERROR) == (c->reason != NULL));

    return rc;
}


/* a field of an NGX_OK packet p of size bytes */

static void
fuzz_check_field(u_char *p, size_t size, ngx_str_t *s, ngx_uint_t present)
{
    if (!present) {
        fuzz_assert(s->data == NULL && s->len == 0);
        return;
    }

    fuzz_assert(s->data >= p && s->data + s->len <= p + size);
}


static void
fuzz_check_connect(u_char *p, size_t len, ngx_iot_auth_mqtt_connect_t *c)
{
    ngx_iot_auth_mqtt_connect_t  again;

    fuzz_assert(c->size >= 14 && c->size <= len);
    fuzz_assert(c->level == NGX_IOT_AUTH_MQTT_311
                || c->level == NGX_IOT_AUTH_MQTT_5);
    fuzz_assert((c->flags & 0x01) == 0);
    fuzz_assert((c->flags & NGX_IOT_AUTH_MQTT_WILL_QOS)
                != NGX_IOT_AUTH_MQTT_WILL_QOS);
    fuzz_assert(c->keepalive <= 0xffff);

    fuzz_check_field(p, c->size, &c->client_id, 1);
    fuzz_check_field(p, c->size, &c->username,
                     c->flags & NGX_IOT_AUTH_MQTT_USERNAME);
    fuzz_check_field(p, c->size, &c->password,
                     c->flags & NGX_IOT_AUTH_MQTT_PASSWORD);

    /* the packet's own bytes, in place: the same answer */

    fuzz_assert(ngx_iot_auth_mqtt_parse_connect(p, c->size, c->size, &again)
                == NGX_OK);
    fuzz_assert(again.size == c->size && again.level == c->level
                && again.flags == c->flags
                && again.keepalive == c->keepalive
                && again.client_id.data == c->client_id.data
                && again.client_id.len == c->client_id.len
                && again.username.data == c->username.data
                && again.username.len == c->username.len
                && again.password.data == c->password.data
                && again.password.len == c->password.len);

    fuzz_assert(ngx_iot_auth_mqtt_parse_connect(p, len, c->size - 1, &again)
                == NGX_ERROR);
    fuzz_assert(strcmp(again.reason, "packet too large") == 0);
}


int
LLVMFuzzerTestOneInput(const u_char *data, size_t len)
{
    size_t                        n;
    u_char                       *buf;
    ngx_int_t                     rc, cut;
    ngx_uint_t                    decided;
    ngx_iot_auth_mqtt_connect_t   c, c2;

    /* libFuzzer's data is exactly len bytes long: parse it in place */

    rc = ngx_iot_auth_mqtt_parse_connect((u_char *) data, len, FUZZ_MAX, &c);
    fuzz_assert((rc == NGX_ERROR) == (c.reason != NULL));

    if (rc == NGX_OK) {
        fuzz_check_connect((u_char *) data, len, &c);
    }

    /* the cuts: NGX_AGAIN, then from some length on the whole answer */

    buf = malloc(len ? len : 1);
    fuzz_assert(buf != NULL);

    decided = 0;

    for (n = 0; n < len; n++) {
        cut = fuzz_parse(data, n, buf, len, FUZZ_MAX, &c2);

        if (cut == NGX_AGAIN) {
            fuzz_assert(!decided);
            continue;
        }

        decided = 1;

        fuzz_assert(cut == rc);

        if (rc == NGX_OK) {
            fuzz_assert(c2.size == c.size);

        } else {
            fuzz_assert(strcmp(c2.reason, c.reason) == 0);
        }
    }

    /* a max of the input's length: the same, or too large for it */

    cut = fuzz_parse(data, len, buf, len, len, &c2);

    free(buf);

    if (rc == NGX_OK) {
        fuzz_assert(cut == NGX_OK && c2.size == c.size);

    } else if (cut == NGX_ERROR && rc != NGX_ERROR) {
        fuzz_assert(strcmp(c2.reason, "packet too large") == 0);

    } else {
        fuzz_assert(cut == rc);
    }

    return 0;
}
