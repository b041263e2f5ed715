
/*
 * Copyright (C) ngx_iot_auth authors
 */


/*
 * The credential rules (see ngx_iot_auth_record.h).  Calls nothing but
 * libc: the iot-auth-passwd tool links this file without nginx.
 */


#include "ngx_iot_auth_record.h"


#define NGX_IOT_AUTH_SALT_END        28     /* last salt character */
#define NGX_IOT_AUTH_HASH_END        59     /* last hash character */

/* a byte of 1s, of high bits, in each byte of a word */
#define NGX_IOT_AUTH_ONES            0x0101010101010101ULL
#define NGX_IOT_AUTH_HIGHS           0x8080808080808080ULL


static ngx_int_t ngx_iot_auth_record_number(u_char *p, size_t len,
    ngx_uint_t base, uint64_t max, uint64_t *n);


/*
 * bcrypt's base64 alphabet, "./A-Za-z0-9": each character's value plus
 * one, 0 for a character outside it
 */

static u_char  ngx_iot_auth_bcrypt64[256] = {
    ['.'] = 1, ['/'] = 2,
    ['A'] = 3, ['B'] = 4, ['C'] = 5, ['D'] = 6, ['E'] = 7, ['F'] = 8,
    ['G'] = 9, ['H'] = 10, ['I'] = 11, ['J'] = 12, ['K'] = 13, ['L'] = 14,
    ['M'] = 15, ['N'] = 16, ['O'] = 17, ['P'] = 18, ['Q'] = 19, ['R'] = 20,
    ['S'] = 21, ['T'] = 22, ['U'] = 23, ['V'] = 24, ['W'] = 25, ['X'] = 26,
    ['Y'] = 27, ['Z'] = 28,
    ['a'] = 29, ['b'] = 30, ['c'] = 31, ['d'] = 32, ['e'] = 33, ['f'] = 34,
    ['g'] = 35, ['h'] = 36, ['i'] = 37, ['j'] = 38, ['k'] = 39, ['l'] = 40,
    ['m'] = 41, ['n'] = 42, ['o'] = 43, ['p'] = 44, ['q'] = 45, ['r'] = 46,
    ['s'] = 47, ['t'] = 48, ['u'] = 49, ['v'] = 50, ['w'] = 51, ['x'] = 52,
    ['y'] = 53, ['z'] = 54,
    ['0'] = 55, ['1'] = 56, ['2'] = 57, ['3'] = 58, ['4'] = 59,
    ['5'] = 60, ['6'] = 61, ['7'] = 62, ['8'] = 63, ['9'] = 64
};


/*
 * every request checks its id and token, 8 bytes at a time: with the
 * high bit of each byte set aside (a byte with it set is not ASCII), a
 * byte below 0x21 stays below 0x80 when 0x5f is added, and 0x7f is the
 * one that reaches 0x80 when 1 is; no sum carries into the next byte
 */

ngx_uint_t
ngx_iot_auth_record_visible(u_char *p, size_t len, size_t max)
{
    size_t    i;
    uint64_t  w, low;

    if (len == 0 || len > max) {
        return 0;
    }

    for (i = 0; i + sizeof(uint64_t) <= len; i += sizeof(uint64_t)) {
        ngx_memcpy(&w, p + i, sizeof(uint64_t));

        low = w & ~NGX_IOT_AUTH_HIGHS;

        if ((w | ~(low + NGX_IOT_AUTH_ONES * 0x5f) | (low + NGX_IOT_AUTH_ONES))
            & NGX_IOT_AUTH_HIGHS)
        {
            return 0;
        }
    }

    for ( /* void */ ; i < len; i++) {
        if (p[i] < 0x21 || p[i] > 0x7e) {
            return 0;
        }
    }

    return 1;
}


/*
 * the salt's 22 characters carry 132 bits for 128, the hash's 31 carry
 * 186 for 184: bcrypt emits the spare low bits as zeros, so a hash with
 * any of them set can never equal what bcrypt computes
 */

ngx_int_t
ngx_iot_auth_record_hash_cost(u_char *p, size_t len)
{
    ngx_uint_t  i, cost;

    if (len != NGX_IOT_AUTH_HASH_LEN
        || p[0] != '$' || p[1] != '2'
        || (p[2] != 'a' && p[2] != 'b' && p[2] != 'y')
        || p[3] != '$' || p[6] != '$'
        || p[4] < '0' || p[4] > '9' || p[5] < '0' || p[5] > '9')
    {
        return NGX_ERROR;
    }

    cost = (p[4] - '0') * 10 + (p[5] - '0');

    if (cost < NGX_IOT_AUTH_COST_MIN || cost > NGX_IOT_AUTH_COST_MAX) {
        return NGX_ERROR;
    }

    for (i = 7; i < NGX_IOT_AUTH_HASH_LEN; i++) {
        if (ngx_iot_auth_bcrypt64[p[i]] == 0) {
            return NGX_ERROR;
        }
    }

    if (((ngx_iot_auth_bcrypt64[p[NGX_IOT_AUTH_SALT_END]] - 1) & 0x0f) != 0
        || ((ngx_iot_auth_bcrypt64[p[NGX_IOT_AUTH_HASH_END]] - 1) & 0x03)
           != 0)
    {
        return NGX_ERROR;
    }

    return cost;
}


ngx_int_t
ngx_iot_auth_record_parse_perms(u_char *p, size_t len, uint32_t *perms)
{
    uint64_t  n;

    if (len > 2 && p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
        if (ngx_iot_auth_record_number(p + 2, len - 2, 16, 0xffffffff, &n)
            != NGX_OK)
        {
            return NGX_ERROR;
        }

    } else if (ngx_iot_auth_record_number(p, len, 10, 0xffffffff, &n)
               != NGX_OK)
    {
        return NGX_ERROR;
    }

    *perms = (uint32_t) n;

    return NGX_OK;
}


/* 1 to 10 digits of base 10 or 16, at most max */

static ngx_int_t
ngx_iot_auth_record_number(u_char *p, size_t len, ngx_uint_t base,
    uint64_t max, uint64_t *n)
{
    u_char  c, d;

    if (len == 0 || len > 10) {
        return NGX_ERROR;
    }

    for (*n = 0; len; len--, p++) {
        c = *p;

        if (c >= '0' && c <= '9') {
            d = c - '0';

        } else if (base == 16 && (c | 0x20) >= 'a' && (c | 0x20) <= 'f') {
            d = (c | 0x20) - 'a' + 10;

        } else {
            return NGX_ERROR;
        }

        *n = *n * base + d;
    }

    return (*n <= max) ? NGX_OK : NGX_ERROR;
}


ngx_int_t
ngx_iot_auth_record_parse_line(u_char *p, u_char *last,
    ngx_iot_auth_record_t *rec, char **err)
{
    u_char     *hash, *q;
    ngx_int_t   cost;

    if (last > p && last[-1] == '\r') {
        last--;
    }

    while (p < last && (*p == ' ' || *p == '\t')) {
        p++;
    }

    if (p == last || *p == '#') {
        return NGX_DECLINED;
    }

    hash = NULL;

    for (q = last; q - p >= 3; q--) {
        if (q[-3] == ':' && q[-2] == '$' && q[-1] == '2') {
            hash = q - 2;
            break;
        }
    }

    if (hash == NULL) {
        *err = "no bcrypt hash";
        return NGX_ERROR;
    }

    rec->id.data = p;
    rec->id.len = hash - 1 - p;

    if (rec->id.len == 0 || rec->id.len > NGX_IOT_AUTH_DEVICE_MAX) {
        *err = "device id must be 1 to 128 bytes";
        return NGX_ERROR;
    }

    if (!ngx_iot_auth_record_valid_id(rec->id.data, rec->id.len)) {
        *err = "device id must be visible ASCII";
        return NGX_ERROR;
    }

    for (q = hash; q < last && *q != ':'; q++) { /* void */ }

    cost = ngx_iot_auth_record_hash_cost(hash, q - hash);

    if (cost == NGX_ERROR) {
        *err = "invalid bcrypt hash";
        return NGX_ERROR;
    }

    rec->hash = hash;
    rec->cost = cost;
    rec->perms = 0;

    if (q < last
        && ngx_iot_auth_record_parse_perms(q + 1, last - q - 1, &rec->perms)
           != NGX_OK)
    {
        *err = "invalid perms";
        return NGX_ERROR;
    }

    return NGX_OK;
}
