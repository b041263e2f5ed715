
/*
 * Copyright (C) ngx_iot_auth authors
 *
 * Zone names and counter values -> the Prometheus and JSON renderers of
 * "iot_auth_status".  Each renders into a buffer of exactly the size
 * that ngx_iot_auth_status_handler() computes (so ASan stops any write
 * past it) and must end inside it.
 *
 * Input: a byte whose high bit turns fleet mode's metrics on and whose
 * rest is the zone count, then per zone a 2-byte name length, the name,
 * and the counters, 8 bytes each (zeros once the input runs out).
 * A byte after them whose low bit is set makes the zone one of stream{}.
 */


#include "fuzz_common.h"
#include "../ngx_iot_auth_status.c"


#define FUZZ_MAX_ZONES     8
#define FUZZ_MAX_NAME      4096


typedef struct {
    const u_char  *p;
    const u_char  *end;
} fuzz_input_t;


static uint64_t
fuzz_take(fuzz_input_t *in, size_t n)
{
    uint64_t  v;

    v = 0;

    while (n--) {
        v = (v << 8) | (in->p < in->end ? *in->p++ : 0);
    }

    return v;
}


static void
fuzz_render(ngx_pool_t *pool, ngx_array_t *snaps, ngx_uint_t json,
    ngx_uint_t fleet, ngx_uint_t newline)
{
    size_t       size;
    u_char      *buf, *last, *p, *eol;
    ngx_uint_t   samples;

    size = ngx_iot_auth_status_size(snaps);

    buf = ngx_pnalloc(pool, size);
    if (buf == NULL) {
        abort();
    }

    last = json ? ngx_iot_auth_json(buf, snaps, fleet)
                : ngx_iot_auth_prometheus(buf, snaps, fleet);

    fuzz_assert(last > buf && (size_t) (last - buf) <= size);
    fuzz_assert(last[-1] == '\n');

    if (json) {
        fuzz_assert(buf[0] == '{' && last[-2] == '}');
        return;
    }

    if (newline) {
        /* a zone name with a '\n' of its own: lines mean nothing */
        return;
    }

    /* HELP and TYPE lines, then samples: NRESULTS or more per zone */

    samples = 0;

    for (p = buf; p < last; p = eol + 1) {
        eol = memchr(p, '\n', last - p);
        fuzz_assert(eol != NULL);

        if (ngx_strncmp(p, "# HELP iot_auth_", 16) == 0
            || ngx_strncmp(p, "# TYPE iot_auth_", 16) == 0)
        {
            continue;
        }

        fuzz_assert(ngx_strncmp(p, "iot_auth_", 9) == 0);
        samples++;
    }

    fuzz_assert(samples >= snaps->nelts * NGX_IOT_AUTH_NRESULTS);
    fuzz_assert(snaps->nelts == 0 ? samples == 0
                                  : samples % snaps->nelts == 0);
}


int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    fuzz_init();

    return 0;
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ngx_uint_t                i, j, nzones, fleet, newline;
    ngx_conf_t                cf;
    ngx_str_t                *name;
    ngx_array_t               snaps;
    fuzz_input_t              in;
    ngx_iot_auth_metrics_t   *m;
    ngx_iot_auth_snapshot_t  *snap;

    in.p = data;
    in.end = data + size;

    fuzz_conf_begin(&cf);

    nzones = fuzz_take(&in, 1);
    fleet = nzones >= 128;
    nzones %= FUZZ_MAX_ZONES + 1;
    newline = 0;

    if (ngx_array_init(&snaps, cf.pool, nzones + 1,
                       sizeof(ngx_iot_auth_snapshot_t))
        != NGX_OK)
    {
        abort();
    }

    for (i = 0; i < nzones; i++) {
        snap = ngx_array_push(&snaps);
        name = ngx_pcalloc(cf.pool, sizeof(ngx_str_t));

        if (snap == NULL || name == NULL) {
            abort();
        }

        name->len = fuzz_take(&in, 2) % (FUZZ_MAX_NAME + 1);
        name->len = ngx_min(name->len, (size_t) (in.end - in.p));
        name->data = fuzz_dup(cf.pool, in.p, name->len, 0);
        in.p += name->len;

        if (memchr(name->data, '\n', name->len)) {
            newline = 1;
        }

        m = &snap->metrics;

        for (j = 0; j < NGX_IOT_AUTH_NRESULTS; j++) {
            m->requests[j] = fuzz_take(&in, 8);
        }

        for (j = 0; j < NGX_IOT_AUTH_NBACKENDS; j++) {
            m->backend_errors[j] = fuzz_take(&in, 8);
        }

        m->bcrypt[0] = fuzz_take(&in, 8);
        m->bcrypt[1] = fuzz_take(&in, 8);
        m->bcrypt_usec = fuzz_take(&in, 8);
        m->evictions = fuzz_take(&in, 8);
        m->entries = fuzz_take(&in, 8);
        m->flights = fuzz_take(&in, 8);
        m->waiters = fuzz_take(&in, 8);
        m->fleet_errors = fuzz_take(&in, 8);

        snap->zone = name;
        snap->frontend = (fuzz_take(&in, 1) & 1) ? &ngx_iot_auth_mqtt : NULL;
    }

    fuzz_render(cf.pool, &snaps, 0, fleet, newline);
    fuzz_render(cf.pool, &snaps, 1, fleet, newline);

    fuzz_conf_end(&cf);

    return 0;
}
