
/*
 * Copyright (C) ngx_iot_auth authors
 */


/*
 * The HTTP front end's configuration and request state, shared by the
 * access handler (ngx_iot_auth_module.c) and the status page
 * (ngx_iot_auth_status.c).
 */


#ifndef _NGX_IOT_AUTH_MODULE_H_INCLUDED_
#define _NGX_IOT_AUTH_MODULE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_iot_auth_engine.h"
#include "ngx_iot_auth_cert.h"


#define NGX_IOT_AUTH_STATUS_PROMETHEUS  1
#define NGX_IOT_AUTH_STATUS_JSON        2


typedef struct {
    ngx_iot_auth_main_t          engine;
    ngx_http_complex_value_t    *device;       /* $http_x_device_id */
    ngx_http_complex_value_t    *token;        /* $http_x_device_token */
} ngx_iot_auth_main_conf_t;


typedef struct {
    ngx_iot_auth_conf_t          engine;
    ngx_http_complex_value_t    *device;       /* iot_auth_device */
    ngx_http_complex_value_t    *token;        /* iot_auth_token */
    ngx_str_t                    device_header;  /* the header of a lone
                                                    $http_ variable: sent
                                                    twice, 400 */
    ngx_str_t                    token_header;
    ngx_http_complex_value_t    *basic;        /* iot_auth_basic realm */
    ngx_uint_t                   ssl_client_name;  /* NGX_IOT_AUTH_CERT_* */
    ngx_uint_t                   require_perms;
    ngx_uint_t                   status;       /* iot_auth_status format */
} ngx_iot_auth_loc_conf_t;


ngx_int_t ngx_iot_auth_status_handler(ngx_http_request_t *r);


extern ngx_module_t  ngx_iot_auth_module;


#endif /* _NGX_IOT_AUTH_MODULE_H_INCLUDED_ */
