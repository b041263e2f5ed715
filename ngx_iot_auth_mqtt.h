
/*
 * Copyright (C) ngx_iot_auth authors
 *
 * The MQTT packets of the stream front end: a strict parser of the
 * CONNECT packet (MQTT 3.1.1 and 5.0) over the bytes a connection has
 * sent so far, and the CONNACK that refuses a connection.  Nothing here
 * calls into nginx (only its types and macros are used), so that the
 * fuzz target and the unit checks link this file alone.
 */


#ifndef _NGX_IOT_AUTH_MQTT_H_INCLUDED_
#define _NGX_IOT_AUTH_MQTT_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>


/* protocol levels */
#define NGX_IOT_AUTH_MQTT_311          4
#define NGX_IOT_AUTH_MQTT_5            5

/* bits of the connect flags byte */
#define NGX_IOT_AUTH_MQTT_CLEAN        0x02
#define NGX_IOT_AUTH_MQTT_WILL         0x04
#define NGX_IOT_AUTH_MQTT_WILL_QOS     0x18
#define NGX_IOT_AUTH_MQTT_WILL_RETAIN  0x20
#define NGX_IOT_AUTH_MQTT_PASSWORD     0x40
#define NGX_IOT_AUTH_MQTT_USERNAME     0x80

/* why a connection is refused, for ngx_iot_auth_mqtt_connack() */
#define NGX_IOT_AUTH_MQTT_BAD_CREDENTIALS  1
#define NGX_IOT_AUTH_MQTT_UNAVAILABLE      2

/* the most bytes ngx_iot_auth_mqtt_connack() writes */
#define NGX_IOT_AUTH_MQTT_CONNACK_LEN  5


/*
 * A parsed CONNECT.  The strings point into the caller's buffer.  The
 * user name and the password are there only when flags has
 * NGX_IOT_AUTH_MQTT_USERNAME or NGX_IOT_AUTH_MQTT_PASSWORD; otherwise
 * they are empty, with data NULL.  A present user name or password may
 * be empty (len 0, data not NULL).
 */
typedef struct {
    size_t        size;         /* of the whole packet, fixed header too */
    ngx_uint_t    level;        /* NGX_IOT_AUTH_MQTT_311 or _5 */
    ngx_uint_t    flags;        /* the connect flags byte */
    ngx_uint_t    keepalive;    /* seconds */
    ngx_str_t     client_id;    /* valid UTF-8, may be empty */
    ngx_str_t     username;     /* valid UTF-8 */
    ngx_str_t     password;     /* binary data */
    char         *reason;       /* why NGX_ERROR, a static string */
} ngx_iot_auth_mqtt_connect_t;


/*
 * Parses the first len bytes that a client sent, p[0] being the first
 * byte of the connection.  The function keeps no state: call it again
 * from the start of the buffer whenever more bytes have arrived.
 *
 * max is the largest CONNECT accepted, in bytes, fixed header included.
 *
 * Returns
 *   NGX_OK     p starts with a complete, valid CONNECT of conn->size
 *              bytes (conn->size <= len; the bytes after it are the
 *              client's next packets, not looked at);
 *   NGX_AGAIN  the bytes so far are the valid start of a CONNECT that
 *              fits in max: wait for more;
 *   NGX_ERROR  they can be the start of no valid CONNECT of at most max
 *              bytes; conn->reason says why in a few words, for the
 *              log ("not a CONNECT packet", "packet too large",
 *              "reserved connect flag set", ...).
 * An error is reported as soon as the bytes received show it (a
 * string's UTF-8 once the whole string has arrived), and a longer
 * buffer never turns an error into something else.  Only on NGX_OK are
 * the other fields of conn set.
 *
 * What is checked: the fixed header (type 1, flags 0), the remaining
 * length (at most 4 bytes, in its shortest form, which 5.0 requires and
 * which is asked of 3.1.1 clients too), the protocol name
 * "MQTT" and level (4 or 5; MQTT 3.1, "MQIsdp", is refused), the
 * connect flags (reserved bit clear, will QoS at most 2, will QoS and
 * retain clear without a will, a password only with a user name in
 * 3.1.1), in 5.0 the CONNECT and will properties (only those that the
 * specification allows there, each with its type, at most once except
 * User Property, the values that it bounds, no Authentication Data
 * without an Authentication Method), every UTF-8 string (well formed,
 * no U+0000, no surrogates), the will topic (not empty, no wildcard),
 * that every field lies inside the packet and that nothing follows the
 * last one.  Rules about values that a broker decides (an empty client
 * id, the will payload's format) are left to the broker.
 */
ngx_int_t ngx_iot_auth_mqtt_parse_connect(u_char *p, size_t len, size_t max,
    ngx_iot_auth_mqtt_connect_t *conn);

/*
 * Writes into buf (NGX_IOT_AUTH_MQTT_CONNACK_LEN bytes) the CONNACK that
 * refuses a CONNECT of this protocol level, and returns its length:
 *   NGX_IOT_AUTH_MQTT_BAD_CREDENTIALS  3.1.1 return code 4, "bad user
 *                                      name or password"; 5.0 reason
 *                                      code 0x86, the same;
 *   NGX_IOT_AUTH_MQTT_UNAVAILABLE      3.1.1 return code 3, "server
 *                                      unavailable"; 5.0 reason code
 *                                      0x88, the same.
 * Session present is 0, and the 5.0 form has no properties.
 */
size_t ngx_iot_auth_mqtt_connack(u_char *buf, ngx_uint_t level,
    ngx_uint_t refusal);


#endif /* _NGX_IOT_AUTH_MQTT_H_INCLUDED_ */
