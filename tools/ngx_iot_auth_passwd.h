
/*
 * Copyright (C) ngx_iot_auth authors
 */


/*
 * iot-auth-passwd, the command-line tool that adds, rotates, disables,
 * enables, deletes and lists devices: what its front end
 * (ngx_iot_auth_passwd.c) hands to the two credential stores, the
 * credentials file (ngx_iot_auth_passwd_file.c) and Redis
 * (ngx_iot_auth_passwd_redis.c).  The tool links libc, libcrypt,
 * hiredis and ngx_iot_auth_record.c, nothing else of nginx: of nginx's
 * headers it uses types and macros only.
 */


#ifndef _NGX_IOT_AUTH_PASSWD_H_INCLUDED_
#define _NGX_IOT_AUTH_PASSWD_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_iot_auth_record.h"


#define NGX_IOT_AUTH_PASSWD_NAME       "iot-auth-passwd"

/* exit statuses */
#define NGX_IOT_AUTH_PASSWD_FAILED     1
#define NGX_IOT_AUTH_PASSWD_USAGE      2

/* a line of a credentials file that "disable" turned into a comment */
#define NGX_IOT_AUTH_PASSWD_DISABLED   "#disabled: "


typedef enum {
    NGX_IOT_AUTH_PASSWD_ADD = 0,
    NGX_IOT_AUTH_PASSWD_ROTATE,
    NGX_IOT_AUTH_PASSWD_DISABLE,
    NGX_IOT_AUTH_PASSWD_ENABLE,
    NGX_IOT_AUTH_PASSWD_DELETE,
    NGX_IOT_AUTH_PASSWD_PERMS,
    NGX_IOT_AUTH_PASSWD_LIST
} ngx_iot_auth_passwd_cmd_e;


/* one run of the tool, checked by the front end before a store sees it */

typedef struct {
    ngx_iot_auth_passwd_cmd_e    cmd;
    ngx_str_t                    device;
    ngx_str_t                    perms;     /* as given; len 0: not given */
    u_char                      *hash;      /* add, rotate */
    unsigned                     create:1;
    unsigned                     hashes:1;
} ngx_iot_auth_passwd_t;


/* where the Redis store is and how to log in */

typedef struct {
    char                        *address;
    char                        *user;
    char                        *password;
    ngx_str_t                    prefix;
    ngx_str_t                    channel;
    int                          db;
} ngx_iot_auth_passwd_redis_t;


/* what "list" shows of a device */

typedef struct {
    ngx_str_t                    id;
    u_char                      *hash;      /* NULL: none the module takes */
    ngx_uint_t                   cost;
    uint32_t                     perms;
    unsigned                     perms_ok:1;
    unsigned                     disabled:1;
} ngx_iot_auth_passwd_entry_t;


/*
 * each returns NGX_OK, NGX_DECLINED when the store cannot hold what was
 * asked (a usage error), or NGX_ERROR; the reason is already printed
 */
ngx_int_t ngx_iot_auth_passwd_file(ngx_iot_auth_passwd_t *pw, char *path);
ngx_int_t ngx_iot_auth_passwd_redis(ngx_iot_auth_passwd_t *pw,
    ngx_iot_auth_passwd_redis_t *rd);

void ngx_iot_auth_passwd_print(ngx_iot_auth_passwd_entry_t *e,
    ngx_uint_t hashes);
int ngx_libc_cdecl ngx_iot_auth_passwd_cmp(const void *one, const void *two);
void ngx_iot_auth_passwd_log(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));


#endif /* _NGX_IOT_AUTH_PASSWD_H_INCLUDED_ */
