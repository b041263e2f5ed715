
/*
 * Copyright (C) ngx_iot_auth authors
 */


#include "ngx_iot_auth_module.h"


typedef struct {
    ngx_str_t                   *name;
    ngx_iot_auth_stats_t        *stats;
    ngx_iot_auth_gauges_t        gauges;
} ngx_iot_auth_snapshot_t;


static ngx_int_t ngx_iot_auth_snapshot(ngx_http_request_t *r,
    ngx_array_t *snaps);
static size_t ngx_iot_auth_status_size(ngx_array_t *snaps);
static u_char *ngx_iot_auth_status_prometheus(u_char *p,
    ngx_array_t *snaps);
static u_char *ngx_iot_auth_status_json(u_char *p, ngx_array_t *snaps);


ngx_int_t
ngx_iot_auth_status_handler(ngx_http_request_t *r)
{
    ngx_int_t                 rc;
    ngx_buf_t                *b;
    ngx_chain_t               out;
    ngx_array_t               snaps;
    ngx_iot_auth_loc_conf_t  *iacf;

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return NGX_HTTP_NOT_ALLOWED;
    }

    rc = ngx_http_discard_request_body(r);

    if (rc != NGX_OK) {
        return rc;
    }

    if (ngx_iot_auth_snapshot(r, &snaps) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b = ngx_create_temp_buf(r->pool, ngx_iot_auth_status_size(&snaps));
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    iacf = ngx_http_get_module_loc_conf(r, ngx_iot_auth_module);

    if (iacf->status == NGX_IOT_AUTH_STATUS_JSON) {
        ngx_str_set(&r->headers_out.content_type, "application/json");
        b->last = ngx_iot_auth_status_json(b->last, &snaps);

    } else {
        ngx_str_set(&r->headers_out.content_type,
                    "text/plain; version=0.0.4");
        b->last = ngx_iot_auth_status_prometheus(b->last, &snaps);
    }

    r->headers_out.content_type_len = r->headers_out.content_type.len;
    r->headers_out.status = NGX_HTTP_OK;
    r->headers_out.content_length_n = b->last - b->pos;

    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}


static ngx_int_t
ngx_iot_auth_snapshot(ngx_http_request_t *r, ngx_array_t *snaps)
{
    ngx_uint_t                 i;
    ngx_shm_zone_t           **zones;
    ngx_iot_auth_zone_t       *zone;
    ngx_iot_auth_snapshot_t   *snap;
    ngx_iot_auth_main_conf_t  *iamcf;

    iamcf = ngx_http_get_module_main_conf(r, ngx_iot_auth_module);

    if (ngx_array_init(snaps, r->pool, iamcf->zones.nelts + 1,
                       sizeof(ngx_iot_auth_snapshot_t))
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    zones = iamcf->zones.elts;

    for (i = 0; i < iamcf->zones.nelts; i++) {
        zone = zones[i]->data;

        snap = ngx_array_push(snaps);
        if (snap == NULL) {
            return NGX_ERROR;
        }

        snap->name = &zones[i]->shm.name;
        snap->stats = &zone->sh->stats;

        ngx_iot_auth_cache_stats(zone, &snap->gauges);
    }

    return NGX_OK;
}


/*
 * an upper bound of either form: a line of at most 128 bytes besides the
 * zone name and the number, per metric and zone
 */

static size_t
ngx_iot_auth_status_size(ngx_array_t *snaps)
{
    size_t                    size;
    ngx_uint_t                i;
    ngx_iot_auth_snapshot_t  *snap;

    size = sizeof("{}") + 2048;
    snap = snaps->elts;

    for (i = 0; i < snaps->nelts; i++) {
        size += (NGX_IOT_AUTH_NRESULTS + 9)
                * (128 + snap[i].name->len + NGX_ATOMIC_T_LEN);
    }

    return size;
}


static u_char *
ngx_iot_auth_status_prometheus(u_char *p, ngx_array_t *snaps)
{
    ngx_uint_t                i, j;
    ngx_iot_auth_stats_t     *st;
    ngx_iot_auth_snapshot_t  *snap;

    snap = snaps->elts;

    p = ngx_sprintf(p, "# HELP iot_auth_requests_total "
                       "Requests checked, by result.\n"
                       "# TYPE iot_auth_requests_total counter\n");

    for (i = 0; i < snaps->nelts; i++) {
        for (j = 0; j < NGX_IOT_AUTH_NRESULTS; j++) {
            p = ngx_sprintf(p, "iot_auth_requests_total{zone=\"%V\","
                               "result=\"%V\"} %uA\n",
                            snap[i].name, &ngx_iot_auth_results[j].metric,
                            snap[i].stats->requests[j]);
        }
    }

    p = ngx_sprintf(p, "# HELP iot_auth_bcrypt_total "
                       "bcrypt verifications run, by outcome.\n"
                       "# TYPE iot_auth_bcrypt_total counter\n");

    for (i = 0; i < snaps->nelts; i++) {
        st = snap[i].stats;
        p = ngx_sprintf(p, "iot_auth_bcrypt_total{zone=\"%V\","
                           "outcome=\"match\"} %uA\n"
                           "iot_auth_bcrypt_total{zone=\"%V\","
                           "outcome=\"mismatch\"} %uA\n",
                        snap[i].name, st->bcrypt_match,
                        snap[i].name, st->bcrypt_mismatch);
    }

    p = ngx_sprintf(p, "# HELP iot_auth_bcrypt_seconds_total "
                       "Time spent in bcrypt.\n"
                       "# TYPE iot_auth_bcrypt_seconds_total counter\n");

    for (i = 0; i < snaps->nelts; i++) {
        st = snap[i].stats;
        p = ngx_sprintf(p, "iot_auth_bcrypt_seconds_total{zone=\"%V\"} "
                           "%uA.%06uA\n",
                        snap[i].name, st->bcrypt_usec / 1000000,
                        st->bcrypt_usec % 1000000);
    }

    p = ngx_sprintf(p, "# HELP iot_auth_cache_entries "
                       "Devices held in the zone.\n"
                       "# TYPE iot_auth_cache_entries gauge\n");

    for (i = 0; i < snaps->nelts; i++) {
        p = ngx_sprintf(p, "iot_auth_cache_entries{zone=\"%V\"} %ui\n",
                        snap[i].name, snap[i].gauges.entries);
    }

    p = ngx_sprintf(p, "# HELP iot_auth_cache_evictions_total "
                       "Devices evicted to make room.\n"
                       "# TYPE iot_auth_cache_evictions_total counter\n");

    for (i = 0; i < snaps->nelts; i++) {
        p = ngx_sprintf(p, "iot_auth_cache_evictions_total{zone=\"%V\"} "
                           "%uA\n",
                        snap[i].name, snap[i].stats->evictions);
    }

    p = ngx_sprintf(p, "# HELP iot_auth_backend_errors_total "
                       "Credential store lookups that failed.\n"
                       "# TYPE iot_auth_backend_errors_total counter\n");

    for (i = 0; i < snaps->nelts; i++) {
        p = ngx_sprintf(p, "iot_auth_backend_errors_total{zone=\"%V\","
                           "backend=\"redis\"} %uA\n",
                        snap[i].name, snap[i].stats->redis_errors);
    }

    p = ngx_sprintf(p, "# HELP iot_auth_flights "
                       "bcrypt verifications in progress.\n"
                       "# TYPE iot_auth_flights gauge\n");

    for (i = 0; i < snaps->nelts; i++) {
        p = ngx_sprintf(p, "iot_auth_flights{zone=\"%V\"} %ui\n",
                        snap[i].name, snap[i].gauges.flights);
    }

    p = ngx_sprintf(p, "# HELP iot_auth_waiters "
                       "Requests waiting for a verification.\n"
                       "# TYPE iot_auth_waiters gauge\n");

    for (i = 0; i < snaps->nelts; i++) {
        p = ngx_sprintf(p, "iot_auth_waiters{zone=\"%V\"} %ui\n",
                        snap[i].name, snap[i].gauges.waiters);
    }

    return p;
}


static u_char *
ngx_iot_auth_status_json(u_char *p, ngx_array_t *snaps)
{
    ngx_uint_t                i, j;
    ngx_iot_auth_stats_t     *st;
    ngx_iot_auth_snapshot_t  *snap;

    snap = snaps->elts;

    *p++ = '{';

    for (i = 0; i < snaps->nelts; i++) {
        st = snap[i].stats;

        p = ngx_sprintf(p, "%s\"%V\":{\"requests\":{",
                        i ? "," : "", snap[i].name);

        for (j = 0; j < NGX_IOT_AUTH_NRESULTS; j++) {
            p = ngx_sprintf(p, "%s\"%V\":%uA", j ? "," : "",
                            &ngx_iot_auth_results[j].metric,
                            st->requests[j]);
        }

        p = ngx_sprintf(p, "},\"bcrypt\":{\"match\":%uA,\"mismatch\":%uA,"
                           "\"seconds\":%uA.%06uA},"
                           "\"cache\":{\"entries\":%ui,\"evictions\":%uA},"
                           "\"backend_errors\":{\"redis\":%uA},"
                           "\"flights\":%ui,\"waiters\":%ui}",
                        st->bcrypt_match, st->bcrypt_mismatch,
                        st->bcrypt_usec / 1000000, st->bcrypt_usec % 1000000,
                        snap[i].gauges.entries, st->evictions,
                        st->redis_errors,
                        snap[i].gauges.flights, snap[i].gauges.waiters);
    }

    *p++ = '}';
    *p++ = LF;

    return p;
}
