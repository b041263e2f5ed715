
/*
 * Copyright (C) ngx_iot_auth authors
 */


/*
 * The status page (iot_auth_status): every zone's metrics in
 * Prometheus text or JSON, both rendered from one table of metric
 * families; the zones of http{}, then those of stream{} (the MQTT front
 * end, another .so) with the label frontend="mqtt".  Part of the HTTP
 * front end; calls only the zone's metrics snapshot.
 */


#include "ngx_iot_auth_module.h"


#define NGX_IOT_AUTH_COUNTER         0
#define NGX_IOT_AUTH_GAUGE           1


/* one metric family: a number, or one number per value of its label */

typedef struct {
    ngx_str_t                    name;         /* without "iot_auth_" */
    ngx_uint_t                   type;
    char                        *help;
    ngx_str_t                    label;        /* none: a single number */
    ngx_str_t                   *values;       /* of the label */
    ngx_uint_t                   nvalues;
    size_t                       offset;       /* in the metrics */
    ngx_str_t                    group;        /* the JSON object it is in */
    ngx_str_t                    key;          /* its JSON name, unlabeled */
    ngx_uint_t                   nfleet;       /* last values: fleet only */
    unsigned                     usec:1;       /* shown as seconds */
    unsigned                     fleet:1;      /* shown in fleet mode only */
} ngx_iot_auth_family_t;


typedef struct {
    ngx_str_t                   *zone;
    ngx_str_t                   *frontend;     /* NULL: http{} */
    ngx_iot_auth_metrics_t       metrics;
} ngx_iot_auth_snapshot_t;


static ngx_int_t ngx_iot_auth_snapshot(ngx_http_request_t *r,
    ngx_array_t *snaps);
static ngx_int_t ngx_iot_auth_snapshot_stream(ngx_http_request_t *r,
    ngx_array_t *snaps);
static size_t ngx_iot_auth_status_size(ngx_array_t *snaps);
static u_char *ngx_iot_auth_prometheus(u_char *p, ngx_array_t *snaps,
    ngx_uint_t fleet);
static u_char *ngx_iot_auth_json(u_char *p, ngx_array_t *snaps,
    ngx_uint_t fleet);
static ngx_uint_t ngx_iot_auth_values(ngx_iot_auth_family_t *fam,
    ngx_uint_t fleet);
static u_char *ngx_iot_auth_number(u_char *p, ngx_iot_auth_family_t *fam,
    ngx_iot_auth_snapshot_t *snap, ngx_uint_t i);


static ngx_str_t  ngx_iot_auth_outcomes[] = {
    ngx_string("match"),
    ngx_string("mismatch")
};


/* the file store is read with the configuration: it never fails to answer */

static ngx_str_t  ngx_iot_auth_backends[] = {
    ngx_string("redis")
};


static ngx_str_t  ngx_iot_auth_result_names[NGX_IOT_AUTH_NRESULTS];


static ngx_str_t  ngx_iot_auth_mqtt = ngx_string("mqtt");


static ngx_iot_auth_family_t  ngx_iot_auth_families[] = {

    { ngx_string("requests_total"), NGX_IOT_AUTH_COUNTER,
      "Requests checked, by result.",
      ngx_string("result"), ngx_iot_auth_result_names,
      NGX_IOT_AUTH_NRESULTS, offsetof(ngx_iot_auth_metrics_t, requests),
      ngx_string("requests"), ngx_null_string,
      NGX_IOT_AUTH_NRESULTS - NGX_IOT_AUTH_SHARED, 0, 0 },

    { ngx_string("bcrypt_total"), NGX_IOT_AUTH_COUNTER,
      "bcrypt verifications run, by outcome.",
      ngx_string("outcome"), ngx_iot_auth_outcomes, 2,
      offsetof(ngx_iot_auth_metrics_t, bcrypt),
      ngx_string("bcrypt"), ngx_null_string, 0, 0, 0 },

    { ngx_string("bcrypt_seconds_total"), NGX_IOT_AUTH_COUNTER,
      "Time spent in bcrypt.",
      ngx_null_string, NULL, 1,
      offsetof(ngx_iot_auth_metrics_t, bcrypt_usec),
      ngx_string("bcrypt"), ngx_string("seconds"), 0, 1, 0 },

    { ngx_string("cache_entries"), NGX_IOT_AUTH_GAUGE,
      "Devices held in the zone.",
      ngx_null_string, NULL, 1,
      offsetof(ngx_iot_auth_metrics_t, entries),
      ngx_string("cache"), ngx_string("entries"), 0, 0, 0 },

    { ngx_string("cache_evictions_total"), NGX_IOT_AUTH_COUNTER,
      "Devices evicted to make room.",
      ngx_null_string, NULL, 1,
      offsetof(ngx_iot_auth_metrics_t, evictions),
      ngx_string("cache"), ngx_string("evictions"), 0, 0, 0 },

    { ngx_string("backend_errors_total"), NGX_IOT_AUTH_COUNTER,
      "Credential store lookups that failed.",
      ngx_string("backend"), ngx_iot_auth_backends, 1,
      offsetof(ngx_iot_auth_metrics_t,
               backend_errors[NGX_IOT_AUTH_BACKEND_REDIS]),
      ngx_string("backend_errors"), ngx_null_string, 0, 0, 0 },

    { ngx_string("flights"), NGX_IOT_AUTH_GAUGE,
      "bcrypt verifications in progress.",
      ngx_null_string, NULL, 1,
      offsetof(ngx_iot_auth_metrics_t, flights),
      ngx_null_string, ngx_string("flights"), 0, 0, 0 },

    { ngx_string("waiters"), NGX_IOT_AUTH_GAUGE,
      "Requests waiting for a verification.",
      ngx_null_string, NULL, 1,
      offsetof(ngx_iot_auth_metrics_t, waiters),
      ngx_null_string, ngx_string("waiters"), 0, 0, 0 },

    { ngx_string("fleet_errors_total"), NGX_IOT_AUTH_COUNTER,
      "Verifications decided alone: the fleet did not answer, or "
      "answered what it never writes.",
      ngx_null_string, NULL, 1,
      offsetof(ngx_iot_auth_metrics_t, fleet_errors),
      ngx_null_string, ngx_string("fleet_errors"), 0, 0, 1 }
};


#define NGX_IOT_AUTH_NFAMILIES                                               \
    (sizeof(ngx_iot_auth_families) / sizeof(ngx_iot_auth_family_t))


ngx_int_t
ngx_iot_auth_status_handler(ngx_http_request_t *r)
{
    ngx_int_t                  rc;
    ngx_buf_t                 *b;
    ngx_chain_t                out;
    ngx_array_t                snaps;
    ngx_iot_auth_loc_conf_t   *iacf;
    ngx_iot_auth_main_conf_t  *iamcf;

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

    iamcf = ngx_http_get_module_main_conf(r, ngx_iot_auth_module);

    if (iacf->status == NGX_IOT_AUTH_STATUS_JSON) {
        ngx_str_set(&r->headers_out.content_type, "application/json");
        b->last = ngx_iot_auth_json(b->last, &snaps, iamcf->engine.fleet);

    } else {
        ngx_str_set(&r->headers_out.content_type,
                    "text/plain; version=0.0.4");
        b->last = ngx_iot_auth_prometheus(b->last, &snaps,
                                          iamcf->engine.fleet);
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
    ngx_iot_auth_snapshot_t   *snap;
    ngx_iot_auth_main_conf_t  *iamcf;

    iamcf = ngx_http_get_module_main_conf(r, ngx_iot_auth_module);

    if (ngx_array_init(snaps, r->pool, iamcf->engine.zones.nelts + 1,
                       sizeof(ngx_iot_auth_snapshot_t))
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    zones = iamcf->engine.zones.elts;

    for (i = 0; i < iamcf->engine.zones.nelts; i++) {
        snap = ngx_array_push(snaps);
        if (snap == NULL) {
            return NGX_ERROR;
        }

        snap->zone = &zones[i]->shm.name;
        snap->frontend = NULL;
        ngx_iot_auth_cache_metrics(zones[i]->data, &snap->metrics);
    }

    for (i = 0; i < NGX_IOT_AUTH_NRESULTS; i++) {
        ngx_iot_auth_result_names[i] = ngx_iot_auth_results[i].metric;
    }

    return ngx_iot_auth_snapshot_stream(r, snaps);
}


/*
 * the zones of ngx_stream_iot_auth_module, when it is loaded: nginx
 * keeps them with every other shared memory zone, tagged with the
 * module.  That module has its own copy of the engine: a zone is read
 * only when its shared header says that it is laid out as ours
 */

static ngx_int_t
ngx_iot_auth_snapshot_stream(ngx_http_request_t *r, ngx_array_t *snaps)
{
    ngx_uint_t                i;
    ngx_cycle_t              *cycle;
    ngx_module_t             *stream;
    ngx_shm_zone_t           *shm_zone;
    ngx_list_part_t          *part;
    ngx_iot_auth_zone_t       view;
    ngx_iot_auth_snapshot_t  *snap;

    cycle = (ngx_cycle_t *) ngx_cycle;
    stream = NULL;

    for (i = 0; cycle->modules[i]; i++) {
        if (ngx_strcmp(cycle->modules[i]->name, "ngx_stream_iot_auth_module")
            == 0)
        {
            stream = cycle->modules[i];
            break;
        }
    }

    if (stream == NULL) {
        return NGX_OK;
    }

    part = &cycle->shared_memory.part;
    shm_zone = part->elts;

    for (i = 0; /* void */ ; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                break;
            }

            part = part->next;
            shm_zone = part->elts;
            i = 0;
        }

        if (shm_zone[i].tag != stream) {
            continue;
        }

        if (ngx_iot_auth_cache_view(&shm_zone[i], &view) != NGX_OK) {
            ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                          "iot_auth: stream zone \"%V\" is not shown, it "
                          "was made by another version of the module",
                          &shm_zone[i].shm.name);
            continue;
        }

        snap = ngx_array_push(snaps);
        if (snap == NULL) {
            return NGX_ERROR;
        }

        snap->zone = &shm_zone[i].shm.name;
        snap->frontend = &ngx_iot_auth_mqtt;
        ngx_iot_auth_cache_metrics(&view, &snap->metrics);
    }

    return NGX_OK;
}


/*
 * an upper bound of either form: a line of at most 128 bytes besides the
 * zone name and the number, per number and zone, and the help lines
 */

static size_t
ngx_iot_auth_status_size(ngx_array_t *snaps)
{
    size_t                    size;
    ngx_uint_t                i, n;
    ngx_iot_auth_snapshot_t  *snap;

    n = 0;

    for (i = 0; i < NGX_IOT_AUTH_NFAMILIES; i++) {
        n += ngx_iot_auth_families[i].nvalues;
    }

    size = sizeof("{}") + NGX_IOT_AUTH_NFAMILIES * 256;
    snap = snaps->elts;

    for (i = 0; i < snaps->nelts; i++) {
        size += n * (128 + sizeof(",frontend=\"\"") + snap[i].zone->len
                     + ngx_iot_auth_mqtt.len + NGX_ATOMIC_T_LEN);
    }

    return size;
}


static u_char *
ngx_iot_auth_prometheus(u_char *p, ngx_array_t *snaps, ngx_uint_t fleet)
{
    ngx_uint_t                f, i, v, n;
    ngx_iot_auth_family_t    *fam;
    ngx_iot_auth_snapshot_t  *snap;

    snap = snaps->elts;

    for (f = 0; f < NGX_IOT_AUTH_NFAMILIES; f++) {
        fam = &ngx_iot_auth_families[f];
        n = ngx_iot_auth_values(fam, fleet);

        if (n == 0) {
            continue;
        }

        p = ngx_sprintf(p, "# HELP iot_auth_%V %s\n# TYPE iot_auth_%V %s\n",
                        &fam->name, fam->help, &fam->name,
                        fam->type == NGX_IOT_AUTH_GAUGE ? "gauge"
                                                        : "counter");

        for (i = 0; i < snaps->nelts; i++) {
            for (v = 0; v < n; v++) {
                p = ngx_sprintf(p, "iot_auth_%V{zone=\"%V\"", &fam->name,
                                snap[i].zone);

                if (snap[i].frontend) {
                    p = ngx_sprintf(p, ",frontend=\"%V\"", snap[i].frontend);
                }

                if (fam->label.len) {
                    p = ngx_sprintf(p, ",%V=\"%V\"", &fam->label,
                                    &fam->values[v]);
                }

                *p++ = '}';
                *p++ = ' ';
                p = ngx_iot_auth_number(p, fam, &snap[i], v);
                *p++ = LF;
            }
        }
    }

    return p;
}


/*
 * one object per zone; in it, the families of a group share an object
 * where each number is named by its label value or its key
 */

static u_char *
ngx_iot_auth_json(u_char *p, ngx_array_t *snaps, ngx_uint_t fleet)
{
    ngx_uint_t                f, i, v, n, first;
    ngx_str_t                *group;
    ngx_iot_auth_family_t    *fam;
    ngx_iot_auth_snapshot_t  *snap;

    snap = snaps->elts;

    *p++ = '{';

    for (i = 0; i < snaps->nelts; i++) {
        p = ngx_sprintf(p, "%s\"%V\":{", i ? "," : "", snap[i].zone);

        group = NULL;
        first = 1;

        if (snap[i].frontend) {
            p = ngx_sprintf(p, "\"frontend\":\"%V\"", snap[i].frontend);
            first = 0;
        }

        for (f = 0; f < NGX_IOT_AUTH_NFAMILIES; f++) {
            fam = &ngx_iot_auth_families[f];
            n = ngx_iot_auth_values(fam, fleet);

            if (n == 0) {
                continue;
            }

            if (group && (fam->group.len != group->len
                          || ngx_strncmp(fam->group.data, group->data,
                                         group->len)
                             != 0))
            {
                *p++ = '}';
                group = NULL;
                first = 0;
            }

            if (group == NULL && fam->group.len) {
                p = ngx_sprintf(p, "%s\"%V\":{", first ? "" : ",",
                                &fam->group);
                group = &fam->group;
                first = 1;
            }

            for (v = 0; v < n; v++) {
                p = ngx_sprintf(p, "%s\"%V\":", first ? "" : ",",
                                fam->label.len ? &fam->values[v]
                                               : &fam->key);
                p = ngx_iot_auth_number(p, fam, &snap[i], v);
                first = 0;
            }
        }

        if (group) {
            *p++ = '}';
        }

        *p++ = '}';
    }

    *p++ = '}';
    *p++ = LF;

    return p;
}


/* how many values of a family are shown, with or without the fleet */

static ngx_uint_t
ngx_iot_auth_values(ngx_iot_auth_family_t *fam, ngx_uint_t fleet)
{
    if (fleet) {
        return fam->nvalues;
    }

    return fam->fleet ? 0 : fam->nvalues - fam->nfleet;
}


static u_char *
ngx_iot_auth_number(u_char *p, ngx_iot_auth_family_t *fam,
    ngx_iot_auth_snapshot_t *snap, ngx_uint_t i)
{
    ngx_uint_t  n;

    n = ((ngx_uint_t *) ((u_char *) &snap->metrics + fam->offset))[i];

    if (fam->usec) {
        return ngx_sprintf(p, "%ui.%06ui", n / 1000000, n % 1000000);
    }

    return ngx_sprintf(p, "%ui", n);
}
