
/*
 * Copyright (C) ngx_iot_auth authors
 */


/*
 * Client certificates that name their device: whether the certificate
 * that nginx verified on a TLS connection carries the device id, as its
 * subject's common name or as one of its subjectAltName entries.  For
 * the front ends; knows connections, not requests.
 */


#ifndef _NGX_IOT_AUTH_CERT_H_INCLUDED_
#define _NGX_IOT_AUTH_CERT_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>


/* where the certificate holds the device id */
#define NGX_IOT_AUTH_CERT_OFF        0
#define NGX_IOT_AUTH_CERT_CN         1
#define NGX_IOT_AUTH_CERT_SAN_DNS    2
#define NGX_IOT_AUTH_CERT_SAN_URI    3


#if (NGX_SSL)

/*
 * NGX_OK when c has a client certificate that nginx verified
 * ($ssl_client_verify is SUCCESS) and that names the device where "name"
 * says; NGX_DECLINED, logged at info with the device and the reason,
 * when it has none or names another; NGX_ERROR when memory ran out
 */
ngx_int_t ngx_iot_auth_cert_names(ngx_connection_t *c, ngx_pool_t *pool,
    ngx_uint_t name, ngx_str_t *device);

#endif


#endif /* _NGX_IOT_AUTH_CERT_H_INCLUDED_ */
