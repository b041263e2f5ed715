
/*
 * Copyright (C) ngx_iot_auth authors
 *
 * Unit checks of the MQTT CONNECT parser and the CONNACK builder
 * (ngx_iot_auth_mqtt.c), printed as TAP; t/110-mqtt-parser.t runs them.
 * Each packet of the table is parsed whole, then cut at every byte: a
 * valid packet must give NGX_AGAIN until its last byte, a bad one
 * NGX_AGAIN until the byte that shows the fault and the same error from
 * there on.  Every cut lies in a buffer of exactly its size, so that
 * the sanitizers this program is built with catch a read past it.
 *
 *   mqtt_connect parse HEX...
 *   mqtt_connect connack LEVEL
 *
 * parse packets given in hex instead and print one line each, or print
 * in hex the two refusing CONNACKs of a protocol level, for the broker
 * tests (t/111-mqtt-broker.t).
 */


#include "../../ngx_iot_auth_mqtt.h"

#include <stdio.h>
#include <stdlib.h>


#define MAX_DEFAULT  (1024 * 1024)
#define PACKET_MAX   (5 + 4 * 65536)

#define S(s)         { sizeof(s) - 1, (u_char *) (s) }
#define B(s)         .body = S(s)
#define RAW(s)       .body = S(s), .raw = 1

#define MQTT4        "\x00\x04" "MQTT" "\x04"
#define MQTT5        "\x00\x04" "MQTT" "\x05"
#define KA           "\x00\x3c"
#define X16          "xxxxxxxxxxxxxxxx"
#define X128         X16 X16 X16 X16 X16 X16 X16 X16


typedef struct {
    char        *name;
    ngx_str_t    body;        /* after the fixed header, unless raw */
    ngx_uint_t   raw;         /* body is the whole packet */
    size_t       max;         /* 0: MAX_DEFAULT */
    ngx_uint_t   again;       /* expect NGX_AGAIN */
    char        *reason;      /* expect NGX_ERROR with this reason */
    size_t       at;          /* ... from this many bytes on */
    ngx_uint_t   level;       /* expect NGX_OK with these */
    ngx_str_t    client_id;
    ngx_str_t    username;    /* data NULL: absent */
    ngx_str_t    password;
} test_t;


static test_t  tests[] = {

    /* the fixed header */

    { "nothing received yet", RAW(""), .again = 1 },
    { "first byte only", RAW("\x10"), .again = 1 },
    { "CONNACK is not CONNECT", RAW("\x20\x02\x00\x00"),
      .reason = "not a CONNECT packet", .at = 1 },
    { "CONNECT with fixed header flags", RAW("\x11\x0c"),
      .reason = "reserved bits set in the fixed header", .at = 1 },
    { "remaining length of 5 bytes", RAW("\x10\x80\x80\x80\x80\x01"),
      .max = 0x7fffffff,
      .reason = "remaining length longer than 4 bytes", .at = 5 },
    { "remaining length not in its shortest form", RAW("\x10\x80\x00"),
      .reason = "remaining length not in its shortest form", .at = 3 },
    { "largest remaining length, max fits", RAW("\x10\xff\xff\xff\x7f"),
      .max = 268435460, .again = 1 },
    { "largest remaining length, max one less", RAW("\x10\xff\xff\xff\x7f"),
      .max = 268435459, .reason = "packet too large", .at = 5 },
    { "too large before the length is complete", RAW("\x10\x80\x80"),
      .max = 200, .reason = "packet too large", .at = 3 },
    { "remaining length 0", RAW("\x10\x00"),
      .reason = "variable header runs past the packet", .at = 2 },

    /* the variable header */

    { "3.1.1, smallest", B(MQTT4 "\x02" KA "\x00\x00"),
      .level = 4, .client_id = S("") },
    { "3.1.1, max is the packet size", B(MQTT4 "\x02" KA "\x00\x00"),
      .max = 14, .level = 4, .client_id = S("") },
    { "3.1.1, max one less", B(MQTT4 "\x02" KA "\x00\x00"),
      .max = 13, .reason = "packet too large", .at = 2 },
    { "variable header cut short", B(MQTT4 "\x02"),
      .reason = "variable header runs past the packet", .at = 2 },
    { "protocol name MQTs", B("\x00\x04" "MQTs\x04\x02" KA "\x00\x00"),
      .reason = "protocol name is not MQTT", .at = 8 },
    { "protocol name length 5", B("\x00\x05" "MQTTT\x04\x02" KA "\x00\x00"),
      .reason = "protocol name is not MQTT", .at = 4 },
    { "MQTT 3.1", B("\x00\x06" "MQIsdp\x03\x02" KA "\x00\x02" "id"),
      .reason = "MQTT 3.1 (MQIsdp) not supported", .at = 10 },
    { "level 3 with MQTT", B("\x00\x04" "MQTT\x03\x02" KA "\x00\x00"),
      .reason = "unsupported protocol level", .at = 9 },
    { "level 6", B("\x00\x04" "MQTT\x06\x02" KA "\x00\x00\x00"),
      .reason = "unsupported protocol level", .at = 9 },
    { "reserved connect flag", B(MQTT4 "\x03" KA "\x00\x00"),
      .reason = "reserved connect flag set", .at = 10 },
    { "will QoS 3", B(MQTT4 "\x1e" KA "\x00\x00"),
      .reason = "will QoS 3", .at = 10 },
    { "will QoS without a will", B(MQTT4 "\x0a" KA "\x00\x00"),
      .reason = "will QoS or retain without a will", .at = 10 },
    { "will retain without a will", B(MQTT4 "\x22" KA "\x00\x00"),
      .reason = "will QoS or retain without a will", .at = 10 },
    { "3.1.1 password without a user name",
      B(MQTT4 "\x42" KA "\x00\x00\x00\x02" "pw"),
      .reason = "password without a user name", .at = 10 },

    /* the 3.1.1 payload */

    { "3.1.1, user name and binary password",
      B(MQTT4 "\xc2" KA "\x00\x03" "dev" "\x00\x04" "user"
        "\x00\x04" "p\x00\xff" "w"),
      .level = 4, .client_id = S("dev"), .username = S("user"),
      .password = S("p\x00\xff" "w") },
    { "3.1.1, empty user name and password",
      B(MQTT4 "\xc2" KA "\x00\x00\x00\x00\x00\x00"),
      .level = 4, .client_id = S(""), .username = S(""), .password = S("") },
    { "3.1.1, will QoS 1 retained",
      B(MQTT4 "\xae" KA "\x00\x02" "id" "\x00\x03" "t/w" "\x00\x03" "bye"
        "\x00\x01" "u"),
      .level = 4, .client_id = S("id"), .username = S("u") },
    { "will topic empty", B(MQTT4 "\x06" KA "\x00\x00\x00\x00\x00\x00"),
      .reason = "empty topic name", .at = 16 },
    { "will topic with +",
      B(MQTT4 "\x06" KA "\x00\x00\x00\x03" "a/+" "\x00\x00"),
      .reason = "wildcard in a topic name", .at = 19 },
    { "will topic with #",
      B(MQTT4 "\x06" KA "\x00\x00\x00\x01" "#" "\x00\x00"),
      .reason = "wildcard in a topic name", .at = 17 },
    { "will topic not UTF-8",
      B(MQTT4 "\x06" KA "\x00\x00\x00\x01" "\xff" "\x00\x00"),
      .reason = "will topic is not valid UTF-8", .at = 17 },
    { "will topic runs past the packet",
      B(MQTT4 "\x06" KA "\x00\x00\x00\x09" "t"),
      .reason = "will topic runs past the packet", .at = 16 },
    { "will payload runs past the packet",
      B(MQTT4 "\x06" KA "\x00\x00\x00\x01" "t" "\x00\x09" "x"),
      .reason = "will payload runs past the packet", .at = 19 },
    { "client id length cut", B(MQTT4 "\x02" KA "\x00"),
      .reason = "client id runs past the packet", .at = 12 },
    { "client id runs past the packet", B(MQTT4 "\x02" KA "\x00\x05" "ab"),
      .reason = "client id runs past the packet", .at = 14 },
    { "user name runs past the packet",
      B(MQTT4 "\x82" KA "\x00\x00\x00\x05" "ab"),
      .reason = "user name runs past the packet", .at = 16 },
    { "user name not UTF-8",
      B(MQTT4 "\x82" KA "\x00\x00\x00\x02" "\xc0\x80"),
      .reason = "user name is not valid UTF-8", .at = 18 },
    { "password runs past the packet",
      B(MQTT4 "\xc2" KA "\x00\x00\x00\x00\x00\x05" "ab"),
      .reason = "password runs past the packet", .at = 18 },
    { "bytes after the last field", B(MQTT4 "\x02" KA "\x00\x00" "\x00"),
      .reason = "bytes after the last field", .at = 14 },
    { "user name flag without a user name", B(MQTT4 "\x82" KA "\x00\x00"),
      .reason = "user name runs past the packet", .at = 14 },

    /* MQTT 5.0 */

    { "5.0, smallest", B(MQTT5 "\x02" KA "\x00" "\x00\x00"),
      .level = 5, .client_id = S("") },
    { "5.0 password without a user name",
      B(MQTT5 "\x42" KA "\x00" "\x00\x00" "\x00\x02" "pw"),
      .level = 5, .client_id = S(""), .password = S("pw") },
    { "5.0, every CONNECT property",
      B(MQTT5 "\xc2" KA "\x2f"
        "\x11\x00\x00\x0e\x10" "\x21\x00\x0a" "\x27\x00\x00\x10\x00"
        "\x22\x00\x05" "\x19\x01" "\x17\x00"
        "\x26\x00\x01" "a" "\x00\x01" "b" "\x26\x00\x01" "a" "\x00\x01" "c"
        "\x15\x00\x05" "SCRAM" "\x16\x00\x02" "\x01\x02"
        "\x00\x03" "dev" "\x00\x01" "u" "\x00\x01" "p"),
      .level = 5, .client_id = S("dev"), .username = S("u"),
      .password = S("p") },
    { "5.0, property length of 2 bytes",
      B(MQTT5 "\x02" KA "\x86\x01" "\x26\x00\x01" "k" "\x00\x80" X128
        "\x00\x00"),
      .level = 5, .client_id = S("") },
    { "property length not in its shortest form",
      B(MQTT5 "\x02" KA "\x80\x00" "\x00\x00"),
      .reason = "property length not in its shortest form", .at = 14 },
    { "property length of 5 bytes",
      B(MQTT5 "\x02" KA "\x80\x80\x80\x80\x01" "\x00\x00"),
      .reason = "property length longer than 4 bytes", .at = 16 },
    { "property length runs past the packet", B(MQTT5 "\x02" KA "\x80"),
      .reason = "property length runs past the packet", .at = 13 },
    { "properties run past the packet", B(MQTT5 "\x02" KA "\x05" "\x00\x00"),
      .reason = "properties run past the packet", .at = 13 },
    { "property runs past the properties",
      B(MQTT5 "\x02" KA "\x03" "\x11\x00\x00" "\x00\x00"),
      .reason = "property runs past the properties", .at = 14 },
    { "user property cut by the property length",
      B(MQTT5 "\x02" KA "\x05" "\x26\x00\x01" "k" "\x00" "\x00\x00"),
      .reason = "property runs past the properties", .at = 17 },
    { "will property in CONNECT",
      B(MQTT5 "\x02" KA "\x02" "\x01\x00" "\x00\x00"),
      .reason = "property not allowed in CONNECT", .at = 14 },
    { "property identifier of 2 bytes",
      B(MQTT5 "\x02" KA "\x03" "\x80\x01\x00" "\x00\x00"),
      .reason = "property not allowed in CONNECT", .at = 14 },
    { "duplicate session expiry",
      B(MQTT5 "\x02" KA "\x0a" "\x11\x00\x00\x00\x01" "\x11\x00\x00\x00\x02"
        "\x00\x00"),
      .reason = "duplicate property", .at = 19 },
    { "receive maximum 0", B(MQTT5 "\x02" KA "\x03" "\x21\x00\x00" "\x00\x00"),
      .reason = "property value 0", .at = 16 },
    { "maximum packet size 0",
      B(MQTT5 "\x02" KA "\x05" "\x27\x00\x00\x00\x00" "\x00\x00"),
      .reason = "property value 0", .at = 18 },
    { "request response information 2",
      B(MQTT5 "\x02" KA "\x02" "\x19\x02" "\x00\x00"),
      .reason = "property value neither 0 nor 1", .at = 15 },
    { "request problem information 2",
      B(MQTT5 "\x02" KA "\x02" "\x17\x02" "\x00\x00"),
      .reason = "property value neither 0 nor 1", .at = 15 },
    { "authentication data without a method",
      B(MQTT5 "\x02" KA "\x04" "\x16\x00\x01" "x" "\x00\x00"),
      .reason = "authentication data without a method", .at = 17 },
    { "authentication data before its method",
      B(MQTT5 "\x02" KA "\x0c" "\x16\x00\x01" "x" "\x15\x00\x05" "PLAIN"
        "\x00\x00"),
      .level = 5, .client_id = S("") },
    { "user property name not UTF-8",
      B(MQTT5 "\x02" KA "\x07" "\x26\x00\x01" "\xff" "\x00\x01" "v"
        "\x00\x00"),
      .reason = "property is not valid UTF-8", .at = 17 },
    { "5.0, will with every will property",
      B(MQTT5 "\x36" KA "\x00" "\x00\x02" "id" "\x34"
        "\x18\x00\x00\x00\x05" "\x01\x01" "\x02\x00\x00\x00\x3c"
        "\x03\x00\x0a" "text/plain" "\x08\x00\x05" "reply"
        "\x09\x00\x02" "\x00\x01" "\x26\x00\x01" "k" "\x00\x01" "v"
        "\x26\x00\x01" "k" "\x00\x01" "v"
        "\x00\x03" "t/w" "\x00\x03" "bye"),
      .level = 5, .client_id = S("id") },
    { "CONNECT property in a will",
      B(MQTT5 "\x06" KA "\x00" "\x00\x00" "\x05" "\x11\x00\x00\x00\x01"
        "\x00\x01" "t" "\x00\x00"),
      .reason = "property not allowed in a will", .at = 17 },
    { "duplicate will delay",
      B(MQTT5 "\x06" KA "\x00" "\x00\x00" "\x0a" "\x18\x00\x00\x00\x01"
        "\x18\x00\x00\x00\x01" "\x00\x01" "t" "\x00\x00"),
      .reason = "duplicate property", .at = 22 },
    { "payload format indicator 2",
      B(MQTT5 "\x06" KA "\x00" "\x00\x00" "\x02" "\x01\x02"
        "\x00\x01" "t" "\x00\x00"),
      .reason = "property value neither 0 nor 1", .at = 18 },
    { "response topic with a wildcard",
      B(MQTT5 "\x06" KA "\x00" "\x00\x00" "\x06" "\x08\x00\x03" "a/#"
        "\x00\x01" "t" "\x00\x00"),
      .reason = "wildcard in a topic name", .at = 22 },
    { "will properties run past the packet",
      B(MQTT5 "\x06" KA "\x00" "\x00\x00" "\x09" "\x00\x00"),
      .reason = "properties run past the packet", .at = 16 },
};


/* client ids that are UTF-8 or not */

typedef struct {
    char        *name;
    ngx_str_t    id;
    ngx_uint_t   valid;
} utf8_t;


static utf8_t  utf8_tests[] = {
    { "two bytes", S("\xc3\xa9"), 1 },
    { "three bytes", S("\xe2\x82\xac"), 1 },
    { "four bytes", S("\xf0\x9f\x98\x80"), 1 },
    { "U+007F", S("\x7f"), 1 },
    { "U+D7FF", S("\xed\x9f\xbf"), 1 },
    { "U+E000", S("\xee\x80\x80"), 1 },
    { "U+FEFF", S("\xef\xbb\xbf"), 1 },
    { "U+10FFFF", S("\xf4\x8f\xbf\xbf"), 1 },
    { "U+0000", S("a\x00"), 0 },
    { "overlong U+0000", S("\xc0\x80"), 0 },
    { "overlong two bytes", S("\xc1\xbf"), 0 },
    { "overlong three bytes", S("\xe0\x80\xaf"), 0 },
    { "overlong four bytes", S("\xf0\x80\x80\xaf"), 0 },
    { "surrogate U+D800", S("\xed\xa0\x80"), 0 },
    { "surrogate U+DFFF", S("\xed\xbf\xbf"), 0 },
    { "U+110000", S("\xf4\x90\x80\x80"), 0 },
    { "five bytes", S("\xf8\x88\x80\x80\x80"), 0 },
    { "lone continuation byte", S("\x80"), 0 },
    { "truncated sequence", S("\xe2\x82"), 0 },
    { "sequence cut by ASCII", S("\xe2\x82" "a"), 0 },
    { "byte 0xff", S("\xff"), 0 },
};


static ngx_uint_t  test_no;


static ngx_int_t
parse(u_char *p, size_t len, size_t max, ngx_iot_auth_mqtt_connect_t *c)
{
    u_char     *copy;
    ngx_int_t   rc;

    /* exactly len bytes: a read past them is a sanitizer report */

    copy = malloc(len ? len : 1);
    if (copy == NULL) {
        abort();
    }

    ngx_memcpy(copy, p, len);
    rc = ngx_iot_auth_mqtt_parse_connect(copy, len, max, c);

    /* back into p, so that the caller can check where the fields point */

    if (rc == NGX_OK) {
        c->client_id.data = p + (c->client_id.data - copy);
        c->username.data = c->username.data
                           ? p + (c->username.data - copy) : NULL;
        c->password.data = c->password.data
                           ? p + (c->password.data - copy) : NULL;
    }

    free(copy);

    return rc;
}


static ngx_uint_t
same_str(ngx_str_t *got, ngx_str_t *want)
{
    if (want->data == NULL || got->data == NULL) {
        return want->data == got->data && got->len == 0;
    }

    return got->len == want->len
           && ngx_memcmp(got->data, want->data, want->len) == 0;
}


static char *
show(ngx_int_t rc, ngx_iot_auth_mqtt_connect_t *c)
{
    static char  buf[128];

    if (rc == NGX_ERROR) {
        snprintf(buf, sizeof(buf), "NGX_ERROR \"%s\"", c->reason);
        return buf;
    }

    return rc == NGX_OK ? "NGX_OK" : (rc == NGX_AGAIN ? "NGX_AGAIN" : "?");
}


/* the whole packet, then every shorter cut of it */

static ngx_uint_t
check(test_t *t, u_char *pkt, size_t size)
{
    size_t                        max, n, step, at;
    u_char                       *more;
    ngx_int_t                     rc, want;
    ngx_uint_t                    bad;
    ngx_iot_auth_mqtt_connect_t   c, c2;

    max = t->max ? t->max : MAX_DEFAULT;
    want = t->reason ? NGX_ERROR : (t->again ? NGX_AGAIN : NGX_OK);
    bad = 0;

    rc = parse(pkt, size, max, &c);

    if (rc != want || (rc == NGX_ERROR && strcmp(c.reason, t->reason) != 0)) {
        printf("# whole packet: %s\n", show(rc, &c));
        return 1;
    }

    if (rc == NGX_OK) {
        if (c.size != size || c.level != t->level
            || !same_str(&c.client_id, &t->client_id)
            || !same_str(&c.username, &t->username)
            || !same_str(&c.password, &t->password)
            || (c.username.data != NULL)
               != ((c.flags & NGX_IOT_AUTH_MQTT_USERNAME) != 0)
            || (c.password.data != NULL)
               != ((c.flags & NGX_IOT_AUTH_MQTT_PASSWORD) != 0))
        {
            printf("# fields: size %zu level %lu client id \"%.*s\"\n",
                   c.size, (unsigned long) c.level,
                   (int) c.client_id.len, c.client_id.data);
            return 1;
        }

        /* a DISCONNECT right behind it is the next packet, not a fault */

        more = malloc(size + 2);
        if (more == NULL) {
            abort();
        }

        ngx_memcpy(more, pkt, size);
        ngx_memcpy(more + size, "\xe0\x00", 2);

        rc = parse(more, size + 2, max, &c2);
        free(more);

        if (rc != NGX_OK || c2.size != size) {
            printf("# followed by a DISCONNECT: %s\n", show(rc, &c2));
            return 1;
        }
    }

    at = (want == NGX_ERROR && t->at) ? t->at : size;

    /* large packets: the first and last bytes, and cuts in between */

    step = size > 4096 ? 997 : 1;

    for (n = 0; n < size; n += (n < 64 || size - n < 64) ? 1 : step) {
        rc = parse(pkt, n, max, &c2);
        want = n < at ? NGX_AGAIN : NGX_ERROR;

        if (rc != want
            || (rc == NGX_ERROR && strcmp(c2.reason, c.reason) != 0))
        {
            printf("# first %zu of %zu bytes: %s\n", n, size, show(rc, &c2));
            bad++;
            break;
        }
    }

    return bad;
}


static void
report(char *name, ngx_uint_t bad)
{
    printf("%sok %lu - %s\n", bad ? "not " : "", (unsigned long) ++test_no,
           name);
}


/* the fixed header, then the body */

static size_t
packet(u_char *pkt, ngx_str_t *body)
{
    u_char  *p;
    size_t   n;

    p = pkt;
    *p++ = 0x10;

    n = body->len;

    do {
        *p = n & 0x7f;
        n >>= 7;
        *p++ |= n ? 0x80 : 0;
    } while (n);

    ngx_memcpy(p, body->data, body->len);

    return p - pkt + body->len;
}


static void
run_table(u_char *pkt)
{
    size_t       size;
    ngx_uint_t   i;

    for (i = 0; i < sizeof(tests) / sizeof(test_t); i++) {
        if (tests[i].raw) {
            size = tests[i].body.len;
            ngx_memcpy(pkt, tests[i].body.data, size);

        } else {
            size = packet(pkt, &tests[i].body);
        }

        report(tests[i].name, check(&tests[i], pkt, size));
    }
}


static void
run_utf8(u_char *pkt)
{
    char         name[64];
    size_t       size;
    u_char       body[64], *p;
    test_t       t;
    ngx_str_t    b;
    ngx_uint_t   i;

    for (i = 0; i < sizeof(utf8_tests) / sizeof(utf8_t); i++) {
        p = ngx_cpymem(body, MQTT4 "\x02" KA, 10);
        *p++ = 0;
        *p++ = utf8_tests[i].id.len;
        p = ngx_cpymem(p, utf8_tests[i].id.data, utf8_tests[i].id.len);

        b.data = body;
        b.len = p - body;
        size = packet(pkt, &b);

        snprintf(name, sizeof(name), "client id, %s", utf8_tests[i].name);

        ngx_memzero(&t, sizeof(test_t));
        t.level = 4;
        t.client_id = utf8_tests[i].id;

        if (!utf8_tests[i].valid) {
            t.reason = "client id is not valid UTF-8";
        }

        report(name, check(&t, pkt, size));
    }
}


/* 5.0 with a client id, user name and password of 65535 bytes each */

static void
run_largest(u_char *pkt)
{
    size_t      size;
    u_char     *p, *body;
    test_t      t;
    ngx_str_t   b;

    body = malloc(PACKET_MAX);
    if (body == NULL) {
        abort();
    }

    p = ngx_cpymem(body, MQTT5 "\xc2" KA "\x00", 11);

    *p++ = 0xff; *p++ = 0xff;
    ngx_memset(p, 'c', 65535);
    p += 65535;

    *p++ = 0xff; *p++ = 0xff;
    ngx_memset(p, 'u', 65535);
    p += 65535;

    *p++ = 0xff; *p++ = 0xff;
    ngx_memset(p, 0xff, 65535);
    p += 65535;

    b.data = body;
    b.len = p - body;
    size = packet(pkt, &b);

    ngx_memzero(&t, sizeof(test_t));
    t.level = 5;
    t.client_id.len = t.username.len = t.password.len = 65535;
    t.client_id.data = pkt + 4 + 11 + 2;
    t.username.data = t.client_id.data + 65535 + 2;
    t.password.data = t.username.data + 65535 + 2;
    t.max = size;

    report("65535-byte client id, user name and password",
           check(&t, pkt, size));

    ngx_memzero(&t, sizeof(test_t));
    t.max = size - 1;
    t.reason = "packet too large";
    t.at = 4;

    report("the same, max one less", check(&t, pkt, size));

    free(body);
}


static void
run_connack(void)
{
    size_t   n;
    u_char   buf[NGX_IOT_AUTH_MQTT_CONNACK_LEN];

    n = ngx_iot_auth_mqtt_connack(buf, 4, NGX_IOT_AUTH_MQTT_BAD_CREDENTIALS);
    report("CONNACK 3.1.1 bad user name or password",
           n != 4 || ngx_memcmp(buf, "\x20\x02\x00\x04", 4) != 0);

    n = ngx_iot_auth_mqtt_connack(buf, 4, NGX_IOT_AUTH_MQTT_UNAVAILABLE);
    report("CONNACK 3.1.1 server unavailable",
           n != 4 || ngx_memcmp(buf, "\x20\x02\x00\x03", 4) != 0);

    n = ngx_iot_auth_mqtt_connack(buf, 5, NGX_IOT_AUTH_MQTT_BAD_CREDENTIALS);
    report("CONNACK 5.0 bad user name or password",
           n != 5 || ngx_memcmp(buf, "\x20\x03\x00\x86\x00", 5) != 0);

    n = ngx_iot_auth_mqtt_connack(buf, 5, NGX_IOT_AUTH_MQTT_UNAVAILABLE);
    report("CONNACK 5.0 server unavailable",
           n != 5 || ngx_memcmp(buf, "\x20\x03\x00\x88\x00", 5) != 0);
}


static void
print_hex(char *name, ngx_str_t *s, ngx_uint_t present)
{
    size_t  i;

    printf(" %s=", name);

    if (!present) {
        printf("-");
        return;
    }

    for (i = 0; i < s->len; i++) {
        printf("%02x", s->data[i]);
    }
}


static int
parse_args(int argc, char **argv)
{
    int                           i;
    u_char                       *pkt;
    size_t                        n, len;
    ngx_int_t                     rc;
    unsigned int                  byte;
    ngx_iot_auth_mqtt_connect_t   c;

    pkt = malloc(PACKET_MAX);
    if (pkt == NULL) {
        abort();
    }

    for (i = 2; i < argc; i++) {
        len = strlen(argv[i]) / 2;

        for (n = 0; n < len && n < PACKET_MAX; n++) {
            if (sscanf(argv[i] + 2 * n, "%2x", &byte) != 1) {
                fprintf(stderr, "not hex: %s\n", argv[i]);
                return 2;
            }

            pkt[n] = byte;
        }

        rc = parse(pkt, n, PACKET_MAX, &c);

        if (rc != NGX_OK) {
            printf("%s\n", show(rc, &c));
            continue;
        }

        printf("NGX_OK size=%zu level=%lu flags=0x%02lx keepalive=%lu",
               c.size, (unsigned long) c.level, (unsigned long) c.flags,
               (unsigned long) c.keepalive);
        print_hex("client_id", &c.client_id, 1);
        print_hex("username", &c.username,
                  c.flags & NGX_IOT_AUTH_MQTT_USERNAME);
        print_hex("password", &c.password,
                  c.flags & NGX_IOT_AUTH_MQTT_PASSWORD);
        printf("\n");
    }

    free(pkt);

    return 0;
}


static int
print_connack(ngx_uint_t level)
{
    size_t      n, i;
    u_char      buf[NGX_IOT_AUTH_MQTT_CONNACK_LEN];
    ngx_uint_t  refusal;

    for (refusal = NGX_IOT_AUTH_MQTT_BAD_CREDENTIALS;
         refusal <= NGX_IOT_AUTH_MQTT_UNAVAILABLE;
         refusal++)
    {
        n = ngx_iot_auth_mqtt_connack(buf, level, refusal);

        for (i = 0; i < n; i++) {
            printf("%02x", buf[i]);
        }

        printf("\n");
    }

    return 0;
}


int
main(int argc, char **argv)
{
    u_char  *pkt;

    if (argc > 1 && strcmp(argv[1], "parse") == 0) {
        return parse_args(argc, argv);
    }

    if (argc == 3 && strcmp(argv[1], "connack") == 0) {
        return print_connack(atoi(argv[2]));
    }

    pkt = malloc(PACKET_MAX);
    if (pkt == NULL) {
        abort();
    }

    printf("1..%lu\n", (unsigned long) (sizeof(tests) / sizeof(test_t)
                                        + sizeof(utf8_tests) / sizeof(utf8_t)
                                        + 2 + 4));

    run_table(pkt);
    run_utf8(pkt);
    run_largest(pkt);
    run_connack();

    free(pkt);

    return 0;
}
