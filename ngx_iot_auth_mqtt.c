
/*
 * Copyright (C) ngx_iot_auth authors
 *
 * The MQTT CONNECT parser and the CONNACK builder (ngx_iot_auth_mqtt.h
 * says what they do).  The parser walks the packet once, front to back,
 * over a buffer that knows both where the packet ends and where the
 * bytes received so far end: a field that would cross the first is an
 * error at once, one that crosses only the second means "wait".
 */


#include "ngx_iot_auth_mqtt.h"


/* property value types; an integer type is its size in bytes */
#define NGX_IOT_AUTH_MQTT_BYTE         1
#define NGX_IOT_AUTH_MQTT_INT16        2
#define NGX_IOT_AUTH_MQTT_INT32        4
#define NGX_IOT_AUTH_MQTT_STRING       5
#define NGX_IOT_AUTH_MQTT_BINARY       6
#define NGX_IOT_AUTH_MQTT_PAIR         7

/* what else a property must be */
#define NGX_IOT_AUTH_MQTT_BOOLEAN      0x01
#define NGX_IOT_AUTH_MQTT_NONZERO      0x02
#define NGX_IOT_AUTH_MQTT_TOPIC        0x04
#define NGX_IOT_AUTH_MQTT_REPEAT       0x08

#define NGX_IOT_AUTH_MQTT_AUTH_METHOD  0x15
#define NGX_IOT_AUTH_MQTT_AUTH_DATA    0x16

#define NGX_IOT_AUTH_MQTT_PROP_PAST    "property runs past the properties"
#define NGX_IOT_AUTH_MQTT_PROP_UTF8    "property is not valid UTF-8"

/* CONNACK codes */
#define NGX_IOT_AUTH_MQTT_311_UNAVAILABLE      3
#define NGX_IOT_AUTH_MQTT_311_BAD_CREDENTIALS  4
#define NGX_IOT_AUTH_MQTT_5_BAD_CREDENTIALS    0x86
#define NGX_IOT_AUTH_MQTT_5_UNAVAILABLE        0x88


typedef struct {
    u_char                     *pos;
    u_char                     *last;     /* of the bytes received */
    u_char                     *end;      /* of the packet, or of the
                                             properties being read */
    char                       *reason;
} ngx_iot_auth_mqtt_buf_t;


typedef struct {
    u_char                      id;
    u_char                      type;
    u_char                      rules;
} ngx_iot_auth_mqtt_prop_t;


static ngx_int_t ngx_iot_auth_mqtt_fixed_header(ngx_iot_auth_mqtt_buf_t *b,
    size_t len, size_t max, ngx_iot_auth_mqtt_connect_t *c);
static ngx_int_t ngx_iot_auth_mqtt_variable_header(
    ngx_iot_auth_mqtt_buf_t *b, ngx_iot_auth_mqtt_connect_t *c);
static ngx_int_t ngx_iot_auth_mqtt_protocol_name(ngx_iot_auth_mqtt_buf_t *b);
static char *ngx_iot_auth_mqtt_check_flags(ngx_uint_t level,
    ngx_uint_t flags);
static ngx_int_t ngx_iot_auth_mqtt_payload(ngx_iot_auth_mqtt_buf_t *b,
    ngx_iot_auth_mqtt_connect_t *c);
static ngx_int_t ngx_iot_auth_mqtt_properties(ngx_iot_auth_mqtt_buf_t *b,
    ngx_iot_auth_mqtt_prop_t *props, char *unknown, uint64_t *seen);
static ngx_int_t ngx_iot_auth_mqtt_property_length(
    ngx_iot_auth_mqtt_buf_t *b, size_t *len);
static ngx_int_t ngx_iot_auth_mqtt_property(ngx_iot_auth_mqtt_buf_t *b,
    ngx_iot_auth_mqtt_prop_t *prop);
static ngx_int_t ngx_iot_auth_mqtt_string(ngx_iot_auth_mqtt_buf_t *b,
    ngx_str_t *s, char *past, char *invalid);
static ngx_int_t ngx_iot_auth_mqtt_binary(ngx_iot_auth_mqtt_buf_t *b,
    ngx_str_t *s, char *past);
static ngx_int_t ngx_iot_auth_mqtt_topic(ngx_iot_auth_mqtt_buf_t *b,
    ngx_str_t *topic);
static ngx_int_t ngx_iot_auth_mqtt_need(ngx_iot_auth_mqtt_buf_t *b, size_t n,
    char *past);
static ngx_int_t ngx_iot_auth_mqtt_utf8(u_char *p, size_t len);


/* the properties that MQTT 5.0 allows in CONNECT and in its will */

static ngx_iot_auth_mqtt_prop_t  ngx_iot_auth_mqtt_connect_props[] = {
    { 0x11, NGX_IOT_AUTH_MQTT_INT32, 0 },          /* session expiry */
    { 0x21, NGX_IOT_AUTH_MQTT_INT16,               /* receive maximum */
      NGX_IOT_AUTH_MQTT_NONZERO },
    { 0x27, NGX_IOT_AUTH_MQTT_INT32,               /* maximum packet size */
      NGX_IOT_AUTH_MQTT_NONZERO },
    { 0x22, NGX_IOT_AUTH_MQTT_INT16, 0 },          /* topic alias maximum */
    { 0x19, NGX_IOT_AUTH_MQTT_BYTE,                /* request response */
      NGX_IOT_AUTH_MQTT_BOOLEAN },
    { 0x17, NGX_IOT_AUTH_MQTT_BYTE,                /* request problem */
      NGX_IOT_AUTH_MQTT_BOOLEAN },
    { 0x26, NGX_IOT_AUTH_MQTT_PAIR,                /* user property */
      NGX_IOT_AUTH_MQTT_REPEAT },
    { NGX_IOT_AUTH_MQTT_AUTH_METHOD, NGX_IOT_AUTH_MQTT_STRING, 0 },
    { NGX_IOT_AUTH_MQTT_AUTH_DATA, NGX_IOT_AUTH_MQTT_BINARY, 0 },
    { 0, 0, 0 }
};


static ngx_iot_auth_mqtt_prop_t  ngx_iot_auth_mqtt_will_props[] = {
    { 0x18, NGX_IOT_AUTH_MQTT_INT32, 0 },          /* will delay */
    { 0x01, NGX_IOT_AUTH_MQTT_BYTE,                /* payload format */
      NGX_IOT_AUTH_MQTT_BOOLEAN },
    { 0x02, NGX_IOT_AUTH_MQTT_INT32, 0 },          /* message expiry */
    { 0x03, NGX_IOT_AUTH_MQTT_STRING, 0 },         /* content type */
    { 0x08, NGX_IOT_AUTH_MQTT_STRING,              /* response topic */
      NGX_IOT_AUTH_MQTT_TOPIC },
    { 0x09, NGX_IOT_AUTH_MQTT_BINARY, 0 },         /* correlation data */
    { 0x26, NGX_IOT_AUTH_MQTT_PAIR,                /* user property */
      NGX_IOT_AUTH_MQTT_REPEAT },
    { 0, 0, 0 }
};


ngx_int_t
ngx_iot_auth_mqtt_parse_connect(u_char *p, size_t len, size_t max,
    ngx_iot_auth_mqtt_connect_t *conn)
{
    ngx_int_t                     rc;
    ngx_iot_auth_mqtt_buf_t       b;
    ngx_iot_auth_mqtt_connect_t   c;

    ngx_memzero(&c, sizeof(ngx_iot_auth_mqtt_connect_t));

    b.pos = p;
    b.reason = NULL;

    rc = ngx_iot_auth_mqtt_fixed_header(&b, len, max, &c);

    if (rc == NGX_OK) {
        rc = ngx_iot_auth_mqtt_variable_header(&b, &c);
    }

    if (rc == NGX_OK) {
        rc = ngx_iot_auth_mqtt_payload(&b, &c);
    }

    if (rc == NGX_OK) {
        *conn = c;

    } else {
        ngx_memzero(conn, sizeof(ngx_iot_auth_mqtt_connect_t));
        conn->reason = b.reason;
    }

    return rc;
}


static ngx_int_t
ngx_iot_auth_mqtt_fixed_header(ngx_iot_auth_mqtt_buf_t *b, size_t len,
    size_t max, ngx_iot_auth_mqtt_connect_t *c)
{
    u_char      *p;
    size_t       rest, least;
    ngx_uint_t   i;

    p = b->pos;

    if (len == 0) {
        return NGX_AGAIN;
    }

    if (p[0] != 0x10) {
        b->reason = (p[0] >> 4) == 1 ? "reserved bits set in the fixed header"
                                     : "not a CONNECT packet";
        return NGX_ERROR;
    }

    /* the remaining length: 7 bits a byte, least significant first */

    rest = 0;

    for (i = 1; /* void */; i++) {

        if (i == len) {
            return NGX_AGAIN;
        }

        rest += (size_t) (p[i] & 0x7f) << (7 * (i - 1));

        if ((p[i] & 0x80) == 0) {
            break;
        }

        if (i == 4) {
            b->reason = "remaining length longer than 4 bytes";
            return NGX_ERROR;
        }

        /* the smallest packet that the bytes to come can make */

        least = 1 + (i + 1) + rest + ((size_t) 1 << (7 * i));

        if (least > max) {
            b->reason = "packet too large";
            return NGX_ERROR;
        }
    }

    if (p[i] == 0 && i > 1) {
        b->reason = "remaining length not in its shortest form";
        return NGX_ERROR;
    }

    c->size = 1 + i + rest;

    if (c->size > max) {
        b->reason = "packet too large";
        return NGX_ERROR;
    }

    b->pos = p + 1 + i;
    b->end = p + c->size;
    b->last = len < c->size ? p + len : b->end;

    return NGX_OK;
}


static ngx_int_t
ngx_iot_auth_mqtt_variable_header(ngx_iot_auth_mqtt_buf_t *b,
    ngx_iot_auth_mqtt_connect_t *c)
{
    u_char     *p;
    size_t      n;
    uint64_t    seen;
    ngx_int_t   rc;

    /* protocol name (6 bytes), level, flags, keep alive (2 bytes) */

    if (b->end - b->pos < 10) {
        b->reason = "variable header runs past the packet";
        return NGX_ERROR;
    }

    rc = ngx_iot_auth_mqtt_protocol_name(b);
    if (rc != NGX_OK) {
        return rc;
    }

    p = b->pos;
    n = b->last - b->pos;

    if (n < 7) {
        return NGX_AGAIN;
    }

    if (p[6] != NGX_IOT_AUTH_MQTT_311 && p[6] != NGX_IOT_AUTH_MQTT_5) {
        b->reason = "unsupported protocol level";
        return NGX_ERROR;
    }

    if (n < 8) {
        return NGX_AGAIN;
    }

    b->reason = ngx_iot_auth_mqtt_check_flags(p[6], p[7]);
    if (b->reason) {
        return NGX_ERROR;
    }

    if (n < 10) {
        return NGX_AGAIN;
    }

    c->level = p[6];
    c->flags = p[7];
    c->keepalive = (p[8] << 8) | p[9];

    b->pos += 10;

    if (c->level == NGX_IOT_AUTH_MQTT_311) {
        return NGX_OK;
    }

    rc = ngx_iot_auth_mqtt_properties(b, ngx_iot_auth_mqtt_connect_props,
                                      "property not allowed in CONNECT",
                                      &seen);
    if (rc != NGX_OK) {
        return rc;
    }

    if ((seen & ((uint64_t) 1 << NGX_IOT_AUTH_MQTT_AUTH_DATA))
        && !(seen & ((uint64_t) 1 << NGX_IOT_AUTH_MQTT_AUTH_METHOD)))
    {
        b->reason = "authentication data without a method";
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* "MQTT", judged on the bytes that have arrived */

static ngx_int_t
ngx_iot_auth_mqtt_protocol_name(ngx_iot_auth_mqtt_buf_t *b)
{
    size_t  n;

    n = ngx_min((size_t) (b->last - b->pos), 8);

    if (ngx_memcmp(b->pos, "\0\4MQTT", ngx_min(n, 6)) == 0) {
        return n < 6 ? NGX_AGAIN : NGX_OK;
    }

    if (ngx_memcmp(b->pos, "\0\6MQIsdp", n) == 0) {
        if (n < 8) {
            return NGX_AGAIN;
        }

        b->reason = "MQTT 3.1 (MQIsdp) not supported";
        return NGX_ERROR;
    }

    b->reason = "protocol name is not MQTT";
    return NGX_ERROR;
}


static char *
ngx_iot_auth_mqtt_check_flags(ngx_uint_t level, ngx_uint_t flags)
{
    if (flags & 0x01) {
        return "reserved connect flag set";
    }

    if (flags & NGX_IOT_AUTH_MQTT_WILL) {
        if ((flags & NGX_IOT_AUTH_MQTT_WILL_QOS) == NGX_IOT_AUTH_MQTT_WILL_QOS)
        {
            return "will QoS 3";
        }

    } else if (flags & (NGX_IOT_AUTH_MQTT_WILL_QOS
                        |NGX_IOT_AUTH_MQTT_WILL_RETAIN))
    {
        return "will QoS or retain without a will";
    }

    if (level == NGX_IOT_AUTH_MQTT_311
        && (flags & NGX_IOT_AUTH_MQTT_PASSWORD)
        && !(flags & NGX_IOT_AUTH_MQTT_USERNAME))
    {
        return "password without a user name";
    }

    return NULL;
}


static ngx_int_t
ngx_iot_auth_mqtt_payload(ngx_iot_auth_mqtt_buf_t *b,
    ngx_iot_auth_mqtt_connect_t *c)
{
    uint64_t    seen;
    ngx_int_t   rc;
    ngx_str_t   will;

    rc = ngx_iot_auth_mqtt_string(b, &c->client_id,
                                  "client id runs past the packet",
                                  "client id is not valid UTF-8");
    if (rc != NGX_OK) {
        return rc;
    }

    if (c->flags & NGX_IOT_AUTH_MQTT_WILL) {

        if (c->level == NGX_IOT_AUTH_MQTT_5) {
            rc = ngx_iot_auth_mqtt_properties(b, ngx_iot_auth_mqtt_will_props,
                                              "property not allowed in a will",
                                              &seen);
            if (rc != NGX_OK) {
                return rc;
            }
        }

        rc = ngx_iot_auth_mqtt_string(b, &will,
                                      "will topic runs past the packet",
                                      "will topic is not valid UTF-8");
        if (rc != NGX_OK) {
            return rc;
        }

        if (ngx_iot_auth_mqtt_topic(b, &will) != NGX_OK) {
            return NGX_ERROR;
        }

        rc = ngx_iot_auth_mqtt_binary(b, &will,
                                      "will payload runs past the packet");
        if (rc != NGX_OK) {
            return rc;
        }
    }

    if (c->flags & NGX_IOT_AUTH_MQTT_USERNAME) {
        rc = ngx_iot_auth_mqtt_string(b, &c->username,
                                      "user name runs past the packet",
                                      "user name is not valid UTF-8");
        if (rc != NGX_OK) {
            return rc;
        }
    }

    if (c->flags & NGX_IOT_AUTH_MQTT_PASSWORD) {
        rc = ngx_iot_auth_mqtt_binary(b, &c->password,
                                      "password runs past the packet");
        if (rc != NGX_OK) {
            return rc;
        }
    }

    if (b->pos != b->end) {
        b->reason = "bytes after the last field";
        return NGX_ERROR;
    }

    return NGX_OK;
}


/*
 * A property length and the properties it covers.  seen gets a bit for
 * each identifier met.  Identifiers are variable byte integers, but all
 * of those defined are below 128: a first byte with the high bit set
 * starts an unknown one.
 */

static ngx_int_t
ngx_iot_auth_mqtt_properties(ngx_iot_auth_mqtt_buf_t *b,
    ngx_iot_auth_mqtt_prop_t *props, char *unknown, uint64_t *seen)
{
    u_char                    *end;
    size_t                     len;
    uint64_t                   bit;
    ngx_int_t                  rc;
    ngx_iot_auth_mqtt_prop_t  *prop;

    rc = ngx_iot_auth_mqtt_property_length(b, &len);
    if (rc != NGX_OK) {
        return rc;
    }

    if (len > (size_t) (b->end - b->pos)) {
        b->reason = "properties run past the packet";
        return NGX_ERROR;
    }

    end = b->end;
    b->end = b->pos + len;

    *seen = 0;

    while (b->pos < b->end) {

        if (b->pos == b->last) {
            return NGX_AGAIN;
        }

        for (prop = props; prop->id; prop++) {
            if (prop->id == *b->pos) {
                break;
            }
        }

        if (prop->id == 0) {
            b->reason = unknown;
            return NGX_ERROR;
        }

        bit = (uint64_t) 1 << prop->id;

        if ((*seen & bit) && !(prop->rules & NGX_IOT_AUTH_MQTT_REPEAT)) {
            b->reason = "duplicate property";
            return NGX_ERROR;
        }

        *seen |= bit;
        b->pos++;

        rc = ngx_iot_auth_mqtt_property(b, prop);
        if (rc != NGX_OK) {
            return rc;
        }
    }

    b->end = end;

    return NGX_OK;
}


/* a variable byte integer: at most 4 bytes, in its shortest form */

static ngx_int_t
ngx_iot_auth_mqtt_property_length(ngx_iot_auth_mqtt_buf_t *b, size_t *len)
{
    u_char      c;
    ngx_int_t   rc;
    ngx_uint_t  i;

    *len = 0;

    for (i = 0; i < 4; i++) {

        rc = ngx_iot_auth_mqtt_need(b, i + 1,
                                    "property length runs past the packet");
        if (rc != NGX_OK) {
            return rc;
        }

        c = b->pos[i];
        *len += (size_t) (c & 0x7f) << (7 * i);

        if ((c & 0x80) == 0) {
            if (c == 0 && i > 0) {
                b->reason = "property length not in its shortest form";
                return NGX_ERROR;
            }

            b->pos += i + 1;
            return NGX_OK;
        }
    }

    b->reason = "property length longer than 4 bytes";
    return NGX_ERROR;
}


static ngx_int_t
ngx_iot_auth_mqtt_property(ngx_iot_auth_mqtt_buf_t *b,
    ngx_iot_auth_mqtt_prop_t *prop)
{
    uint32_t    v;
    ngx_int_t   rc;
    ngx_str_t   s;
    ngx_uint_t  i;

    switch (prop->type) {

    case NGX_IOT_AUTH_MQTT_STRING:
        rc = ngx_iot_auth_mqtt_string(b, &s, NGX_IOT_AUTH_MQTT_PROP_PAST,
                                      NGX_IOT_AUTH_MQTT_PROP_UTF8);

        if (rc == NGX_OK && (prop->rules & NGX_IOT_AUTH_MQTT_TOPIC)) {
            rc = ngx_iot_auth_mqtt_topic(b, &s);
        }

        return rc;

    case NGX_IOT_AUTH_MQTT_BINARY:
        return ngx_iot_auth_mqtt_binary(b, &s, NGX_IOT_AUTH_MQTT_PROP_PAST);

    case NGX_IOT_AUTH_MQTT_PAIR:
        rc = ngx_iot_auth_mqtt_string(b, &s, NGX_IOT_AUTH_MQTT_PROP_PAST,
                                      NGX_IOT_AUTH_MQTT_PROP_UTF8);
        if (rc != NGX_OK) {
            return rc;
        }

        return ngx_iot_auth_mqtt_string(b, &s, NGX_IOT_AUTH_MQTT_PROP_PAST,
                                        NGX_IOT_AUTH_MQTT_PROP_UTF8);
    }

    rc = ngx_iot_auth_mqtt_need(b, prop->type, NGX_IOT_AUTH_MQTT_PROP_PAST);
    if (rc != NGX_OK) {
        return rc;
    }

    v = 0;

    for (i = 0; i < prop->type; i++) {
        v = (v << 8) | b->pos[i];
    }

    b->pos += prop->type;

    if ((prop->rules & NGX_IOT_AUTH_MQTT_NONZERO) && v == 0) {
        b->reason = "property value 0";
        return NGX_ERROR;
    }

    if ((prop->rules & NGX_IOT_AUTH_MQTT_BOOLEAN) && v > 1) {
        b->reason = "property value neither 0 nor 1";
        return NGX_ERROR;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_iot_auth_mqtt_string(ngx_iot_auth_mqtt_buf_t *b, ngx_str_t *s,
    char *past, char *invalid)
{
    ngx_int_t  rc;

    rc = ngx_iot_auth_mqtt_binary(b, s, past);
    if (rc != NGX_OK) {
        return rc;
    }

    if (ngx_iot_auth_mqtt_utf8(s->data, s->len) != NGX_OK) {
        b->reason = invalid;
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* two bytes of length, then that many bytes */

static ngx_int_t
ngx_iot_auth_mqtt_binary(ngx_iot_auth_mqtt_buf_t *b, ngx_str_t *s,
    char *past)
{
    size_t     len;
    ngx_int_t  rc;

    rc = ngx_iot_auth_mqtt_need(b, 2, past);
    if (rc != NGX_OK) {
        return rc;
    }

    len = (b->pos[0] << 8) | b->pos[1];

    rc = ngx_iot_auth_mqtt_need(b, 2 + len, past);
    if (rc != NGX_OK) {
        return rc;
    }

    s->len = len;
    s->data = b->pos + 2;

    b->pos += 2 + len;

    return NGX_OK;
}


/* a topic name: at least one character, no wildcard */

static ngx_int_t
ngx_iot_auth_mqtt_topic(ngx_iot_auth_mqtt_buf_t *b, ngx_str_t *topic)
{
    size_t  i;

    if (topic->len == 0) {
        b->reason = "empty topic name";
        return NGX_ERROR;
    }

    for (i = 0; i < topic->len; i++) {
        if (topic->data[i] == '+' || topic->data[i] == '#') {
            b->reason = "wildcard in a topic name";
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


/*
 * NGX_OK when the next n bytes have arrived; NGX_AGAIN when they are
 * still to come; NGX_ERROR when they would cross the end of the packet
 * (or of the properties being read), with "past" as the reason
 */

static ngx_int_t
ngx_iot_auth_mqtt_need(ngx_iot_auth_mqtt_buf_t *b, size_t n, char *past)
{
    if ((size_t) (b->end - b->pos) < n) {
        b->reason = past;
        return NGX_ERROR;
    }

    if ((size_t) (b->last - b->pos) < n) {
        return NGX_AGAIN;
    }

    return NGX_OK;
}


/*
 * Well-formed UTF-8 (RFC 3629: shortest forms, no surrogates, nothing
 * past U+10FFFF), without U+0000, which MQTT forbids in its strings
 */

static ngx_int_t
ngx_iot_auth_mqtt_utf8(u_char *p, size_t len)
{
    u_char      *last;
    uint32_t     u, least;
    ngx_uint_t   n;

    last = p + len;

    while (p < last) {
        u = *p++;

        if (u < 0x80) {
            if (u == 0) {
                return NGX_ERROR;
            }

            continue;
        }

        if (u >= 0xc0 && u < 0xe0) {
            n = 1;
            u &= 0x1f;
            least = 0x80;

        } else if (u >= 0xe0 && u < 0xf0) {
            n = 2;
            u &= 0x0f;
            least = 0x800;

        } else if (u >= 0xf0 && u < 0xf8) {
            n = 3;
            u &= 0x07;
            least = 0x10000;

        } else {
            return NGX_ERROR;
        }

        if ((size_t) (last - p) < n) {
            return NGX_ERROR;
        }

        while (n--) {
            if ((*p & 0xc0) != 0x80) {
                return NGX_ERROR;
            }

            u = (u << 6) | (*p++ & 0x3f);
        }

        if (u < least || (u >= 0xd800 && u <= 0xdfff) || u > 0x10ffff) {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


size_t
ngx_iot_auth_mqtt_connack(u_char *buf, ngx_uint_t level, ngx_uint_t refusal)
{
    u_char      *p;
    ngx_uint_t   bad;

    bad = (refusal == NGX_IOT_AUTH_MQTT_BAD_CREDENTIALS);

    p = buf;
    *p++ = 0x20;

    if (level == NGX_IOT_AUTH_MQTT_5) {
        *p++ = 3;
        *p++ = 0;                      /* session present */
        *p++ = bad ? NGX_IOT_AUTH_MQTT_5_BAD_CREDENTIALS
                   : NGX_IOT_AUTH_MQTT_5_UNAVAILABLE;
        *p++ = 0;                      /* property length */

    } else {
        *p++ = 2;
        *p++ = 0;
        *p++ = bad ? NGX_IOT_AUTH_MQTT_311_BAD_CREDENTIALS
                   : NGX_IOT_AUTH_MQTT_311_UNAVAILABLE;
    }

    return p - buf;
}
