
/*
 * Copyright (C) ngx_iot_auth authors
 */


/*
 * Client certificates that name their device (see ngx_iot_auth_cert.h):
 * the verification nginx made of the certificate, then its common name
 * or its subjectAltName entries, read with OpenSSL and compared with the
 * device id byte for byte.  Calls nginx's SSL layer and OpenSSL only.
 */


#include "ngx_iot_auth_cert.h"


#if (NGX_SSL)

#include <openssl/x509v3.h>


static ngx_int_t ngx_iot_auth_cert_cn(ngx_connection_t *c, ngx_pool_t *pool,
    X509 *cert, ngx_str_t *device);
static ngx_int_t ngx_iot_auth_cert_san(ngx_connection_t *c,
    ngx_pool_t *pool, X509 *cert, ngx_uint_t name, ngx_str_t *device);
static ngx_uint_t ngx_iot_auth_cert_equal(const u_char *p, int len,
    ngx_str_t *device);
static ngx_int_t ngx_iot_auth_cert_printable(ngx_pool_t *pool,
    const u_char *p, int len, ngx_str_t *out);


ngx_int_t
ngx_iot_auth_cert_names(ngx_connection_t *c, ngx_pool_t *pool,
    ngx_uint_t name, ngx_str_t *device)
{
    X509       *cert;
    ngx_str_t   verify;

    cert = NULL;

    if (c->ssl) {
        cert = SSL_get0_peer_certificate(c->ssl->connection);
    }

    if (cert == NULL) {
        ngx_str_set(&verify, "NONE");

    } else if (ngx_ssl_get_client_verify(c, pool, &verify) != NGX_OK) {
        return NGX_ERROR;
    }

    /* "SUCCESS" as $ssl_client_verify: the chain, and OCSP if it is on */

    if (verify.len != sizeof("SUCCESS") - 1
        || ngx_strncmp(verify.data, "SUCCESS", sizeof("SUCCESS") - 1) != 0)
    {
        ngx_log_error(NGX_LOG_INFO, c->log, 0,
                      "iot_auth: device \"%V\" rejected: client certificate "
                      "not verified: %V", device, &verify);
        return NGX_DECLINED;
    }

    if (name == NGX_IOT_AUTH_CERT_CN) {
        return ngx_iot_auth_cert_cn(c, pool, cert, device);
    }

    return ngx_iot_auth_cert_san(c, pool, cert, name, device);
}


/*
 * the subject's one common name, in whatever ASN.1 string type, read as
 * UTF-8; a certificate with none, or with several, names no device
 */

static ngx_int_t
ngx_iot_auth_cert_cn(ngx_connection_t *c, ngx_pool_t *pool, X509 *cert,
    ngx_str_t *device)
{
    int               i, len;
    u_char           *cn;
    ngx_int_t         rc;
    ngx_str_t         name;
    X509_NAME        *subject;
    X509_NAME_ENTRY  *entry;

    subject = X509_get_subject_name(cert);

    i = X509_NAME_get_index_by_NID(subject, NID_commonName, -1);

    if (i < 0
        || X509_NAME_get_index_by_NID(subject, NID_commonName, i) >= 0)
    {
        ngx_log_error(NGX_LOG_INFO, c->log, 0,
                      "iot_auth: device \"%V\" rejected: client certificate "
                      "has %s CN", device, i < 0 ? "no" : "more than one");
        return NGX_DECLINED;
    }

    entry = X509_NAME_get_entry(subject, i);

    len = ASN1_STRING_to_UTF8(&cn, X509_NAME_ENTRY_get_data(entry));

    if (len < 0) {
        ngx_log_error(NGX_LOG_INFO, c->log, 0,
                      "iot_auth: device \"%V\" rejected: client certificate "
                      "has an unreadable CN", device);
        return NGX_DECLINED;
    }

    if (ngx_iot_auth_cert_equal(cn, len, device)) {
        rc = NGX_OK;

    } else if (ngx_iot_auth_cert_printable(pool, cn, len, &name) != NGX_OK) {
        rc = NGX_ERROR;

    } else {
        ngx_log_error(NGX_LOG_INFO, c->log, 0,
                      "iot_auth: device \"%V\" rejected: client certificate "
                      "CN \"%V\" does not match", device, &name);
        rc = NGX_DECLINED;
    }

    OPENSSL_free(cn);

    return rc;
}


/*
 * any subjectAltName entry of the chosen type (dNSName or URI) may name
 * the device; a certificate with two subjectAltName extensions names
 * none (OpenSSL then returns no names)
 */

static ngx_int_t
ngx_iot_auth_cert_san(ngx_connection_t *c, ngx_pool_t *pool, X509 *cert,
    ngx_uint_t name, ngx_str_t *device)
{
    int             i, n, type;
    char           *kind;
    ngx_int_t       rc;
    ngx_str_t       first;
    ASN1_STRING    *s;
    GENERAL_NAME   *gn;
    GENERAL_NAMES  *names;

    if (name == NGX_IOT_AUTH_CERT_SAN_DNS) {
        type = GEN_DNS;
        kind = "DNS";

    } else {
        type = GEN_URI;
        kind = "URI";
    }

    names = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);

    ngx_str_null(&first);
    rc = NGX_DECLINED;
    n = 0;

    for (i = 0; names && i < sk_GENERAL_NAME_num(names); i++) {
        gn = sk_GENERAL_NAME_value(names, i);

        if (gn->type != type) {
            continue;
        }

        /* dNSName and uniformResourceIdentifier are both IA5String */

        s = gn->d.ia5;

        if (ngx_iot_auth_cert_equal(ASN1_STRING_get0_data(s),
                                    ASN1_STRING_length(s), device))
        {
            rc = NGX_OK;
            break;
        }

        if (n++ == 0
            && ngx_iot_auth_cert_printable(pool, ASN1_STRING_get0_data(s),
                                           ASN1_STRING_length(s), &first)
               != NGX_OK)
        {
            rc = NGX_ERROR;
            break;
        }
    }

    GENERAL_NAMES_free(names);

    if (rc != NGX_DECLINED) {
        return rc;
    }

    if (n == 0) {
        ngx_log_error(NGX_LOG_INFO, c->log, 0,
                      "iot_auth: device \"%V\" rejected: client certificate "
                      "has no %s name", device, kind);

    } else if (n == 1) {
        ngx_log_error(NGX_LOG_INFO, c->log, 0,
                      "iot_auth: device \"%V\" rejected: client certificate "
                      "%s name \"%V\" does not match", device, kind, &first);

    } else {
        ngx_log_error(NGX_LOG_INFO, c->log, 0,
                      "iot_auth: device \"%V\" rejected: none of the %d %s "
                      "names of the client certificate matches, the first "
                      "is \"%V\"", device, n, kind, &first);
    }

    return NGX_DECLINED;
}


static ngx_uint_t
ngx_iot_auth_cert_equal(const u_char *p, int len, ngx_str_t *device)
{
    return len >= 0
           && (size_t) len == device->len
           && ngx_memcmp(p, device->data, device->len) == 0;
}


/*
 * a name from a certificate, for the log: bytes outside visible ASCII,
 * and '%', '#', '?', escaped as %XX
 */

static ngx_int_t
ngx_iot_auth_cert_printable(ngx_pool_t *pool, const u_char *p, int len,
    ngx_str_t *out)
{
    uintptr_t  n;

    if (len <= 0) {
        ngx_str_null(out);
        return NGX_OK;
    }

    n = ngx_escape_uri(NULL, (u_char *) p, len, NGX_ESCAPE_URI);

    out->data = ngx_pnalloc(pool, len + 2 * n);
    if (out->data == NULL) {
        return NGX_ERROR;
    }

    out->len = (u_char *) ngx_escape_uri(out->data, (u_char *) p, len,
                                         NGX_ESCAPE_URI)
               - out->data;

    return NGX_OK;
}

#endif
