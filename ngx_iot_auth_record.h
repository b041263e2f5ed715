
/*
 * Copyright (C) ngx_iot_auth authors
 */


/*
 * The rules a device credential obeys, wherever it comes from: a
 * request, a credentials file line, a Redis hash, a revocation message,
 * or the iot-auth-passwd tool.  Pure functions over bytes: they call
 * nothing of nginx, so that the command-line tool links this file alone.
 */


#ifndef _NGX_IOT_AUTH_RECORD_H_INCLUDED_
#define _NGX_IOT_AUTH_RECORD_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>


#define NGX_IOT_AUTH_DEVICE_MAX      128
#define NGX_IOT_AUTH_TOKEN_MAX       72     /* bcrypt reads no further */
#define NGX_IOT_AUTH_HASH_LEN        60
#define NGX_IOT_AUTH_COST_MIN        4
#define NGX_IOT_AUTH_COST_MAX        31


/* one device of a store: id, its bcrypt hash and its perms bitmask */

typedef struct {
    ngx_str_t                    id;
    u_char                      *hash;      /* NGX_IOT_AUTH_HASH_LEN bytes */
    uint32_t                     perms;
    ngx_uint_t                   cost;      /* the hash's bcrypt cost */
} ngx_iot_auth_record_t;


/* 1 to max bytes, each visible ASCII (0x21 to 0x7e) */
ngx_uint_t ngx_iot_auth_record_visible(u_char *p, size_t len, size_t max);

/* a device id: 1 to 128 visible ASCII bytes */
#define ngx_iot_auth_record_valid_id(p, len)                                 \
    ngx_iot_auth_record_visible(p, len, NGX_IOT_AUTH_DEVICE_MAX)

/* a token: 1 to 72 visible ASCII bytes */
#define ngx_iot_auth_record_valid_token(p, len)                              \
    ngx_iot_auth_record_visible(p, len, NGX_IOT_AUTH_TOKEN_MAX)

/*
 * the cost of a bcrypt hash that can match some token ("$2a$", "$2b$"
 * or "$2y$", cost 04 to 31, 53 canonical bcrypt-base64 characters), or
 * NGX_ERROR
 */
ngx_int_t ngx_iot_auth_record_hash_cost(u_char *p, size_t len);

/* a decimal or "0x" hexadecimal 32-bit mask */
ngx_int_t ngx_iot_auth_record_parse_perms(u_char *p, size_t len,
    uint32_t *perms);

/*
 * one line of a credentials file, "device_id:bcrypt_hash[:perms]", up to
 * last (a trailing CR is ignored); the hash is the last field that
 * starts with "$2", so ids may hold ':'.  NGX_OK fills rec with pointers
 * into the line; NGX_DECLINED is a blank or comment line; NGX_ERROR sets
 * err to the reason
 */
ngx_int_t ngx_iot_auth_record_parse_line(u_char *p, u_char *last,
    ngx_iot_auth_record_t *rec, char **err);


#endif /* _NGX_IOT_AUTH_RECORD_H_INCLUDED_ */
