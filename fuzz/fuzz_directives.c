
/*
 * Copyright (C) ngx_iot_auth authors
 *
 * Directive arguments -> the module's directive handlers, called as
 * nginx's conf parser calls them (argument count checked first, each
 * argument NUL-terminated in its own allocation).
 *
 * Input: directives separated by an empty line; in each, the first line
 * names the directive and each further line is one argument, e.g.
 *
 *     iot_auth_zone
 *     zone=iot:1m
 *     ttl=30s
 *
 * A name that is not one of the fuzzed directives picks one by its first
 * byte.  All directives of an input go to the same http{} and location
 * confs (so "is duplicate" and zone references are reached), and the
 * input stops at the first one that fails, as nginx -t would.
 *
 * iot_auth_redis is fuzzed with name lookups limited to numeric
 * addresses (see getaddrinfo() in fuzz_common.h): no DNS query.
 *
 * Not fuzzed here: directives that open files (iot_auth_credentials,
 * iot_auth_secret_file: fuzz_credentials covers the file parser) and
 * iot_auth_device/iot_auth_token (nginx's complex value compiler).
 */


#include "fuzz_common.h"
#include "../ngx_iot_auth_module.c"


#define FUZZ_MAX_DIRECTIVES  16


static char  *fuzz_directives[] = {
    "iot_auth_zone",
    "iot_auth_lockout",
    "iot_auth",
    "iot_auth_require_perms",
    "iot_auth_status",
    "iot_auth_max_pending",
    "iot_auth_max_cost",
    "iot_auth_wait_timeout",
    "iot_auth_stale_if_error",
    "iot_auth_thread_pool",
    "iot_auth_redis_key",
    "iot_auth_redis",
    NULL
};


/* nginx's ngx_conf_handler() argument count check */

static ngx_uint_t  fuzz_argument_number[] = {
    NGX_CONF_NOARGS,
    NGX_CONF_TAKE1,
    NGX_CONF_TAKE2,
    NGX_CONF_TAKE3,
    NGX_CONF_TAKE4,
    NGX_CONF_TAKE5,
    NGX_CONF_TAKE6,
    NGX_CONF_TAKE7
};


static ngx_uint_t
fuzz_args_ok(ngx_command_t *cmd, ngx_uint_t nelts)
{
    if (cmd->type & NGX_CONF_ANY) {
        return 1;
    }

    if (cmd->type & NGX_CONF_FLAG) {
        return nelts == 2;
    }

    if (cmd->type & NGX_CONF_1MORE) {
        return nelts >= 2;
    }

    if (cmd->type & NGX_CONF_2MORE) {
        return nelts >= 3;
    }

    if (nelts > NGX_CONF_MAX_ARGS) {
        return 0;
    }

    return (cmd->type & fuzz_argument_number[nelts - 1]) != 0;
}


static ngx_command_t *
fuzz_find_command(u_char *name, size_t len)
{
    ngx_uint_t      i, n;
    ngx_command_t  *cmd;

    for (n = 0; fuzz_directives[n]; n++) { /* void */ }

    for (i = 0; i < n; i++) {
        if (ngx_strlen(fuzz_directives[i]) == len
            && ngx_strncmp(fuzz_directives[i], name, len) == 0)
        {
            break;
        }
    }

    if (i == n) {
        i = len ? name[0] % n : 0;
    }

    for (cmd = ngx_iot_auth_commands; cmd->name.len; cmd++) {
        if (ngx_strcmp(cmd->name.data, fuzz_directives[i]) == 0) {
            return cmd;
        }
    }

    abort();
}


/* what a directive that returned NGX_CONF_OK must have left behind */

static void
fuzz_check(ngx_iot_auth_main_conf_t *iamcf, ngx_iot_auth_loc_conf_t *iacf)
{
    ngx_uint_t                  i;
    ngx_shm_zone_t            **zones;
    ngx_iot_auth_zone_t        *zone;
    ngx_iot_auth_redis_conf_t  *rcf;

    zones = iamcf->engine.zones.elts;

    for (i = 0; i < iamcf->engine.zones.nelts; i++) {
        zone = zones[i]->data;

        fuzz_assert(zone != NULL && zone->shm_zone == zones[i]);
        fuzz_assert(zones[i]->shm.name.len > 0);
        fuzz_assert(ngx_strlchr(zones[i]->shm.name.data,
                                zones[i]->shm.name.data
                                + zones[i]->shm.name.len, ':')
                    == NULL);
        fuzz_assert(zones[i]->shm.size >= 8 * ngx_pagesize);
        fuzz_assert(zone->ttl > 0);
        fuzz_assert(zone->refresh >= 1 && zone->refresh <= 100);
        fuzz_assert(zones[i]->init == ngx_iot_auth_cache_init_zone);
    }

    if (iacf->engine.lockout.failures != NGX_CONF_UNSET_UINT
        && iacf->engine.lockout.failures != 0)
    {
        fuzz_assert(iacf->engine.lockout.failures <= 65535);
        fuzz_assert(iacf->engine.lockout.window > 0);
        fuzz_assert(iacf->engine.lockout.duration > 0);
    }

    if (iacf->require_perms != NGX_CONF_UNSET_UINT) {
        fuzz_assert(iacf->require_perms <= 0xffffffff);
    }

    if (iacf->engine.max_pending != NGX_CONF_UNSET) {
        fuzz_assert(iacf->engine.max_pending >= 1
                    && iacf->engine.max_pending <= 1000000);
    }

    if (iacf->engine.max_cost != NGX_CONF_UNSET_UINT) {
        fuzz_assert(iacf->engine.max_cost >= NGX_IOT_AUTH_COST_MIN
                    && iacf->engine.max_cost <= NGX_IOT_AUTH_COST_MAX);
    }

    rcf = iamcf->engine.redis;

    if (rcf) {
        fuzz_assert(rcf->url.naddrs > 0);
        fuzz_assert(rcf->url.uri.len == 0);
        fuzz_assert(rcf->db >= 0 && rcf->db <= NGX_MAX_INT32_VALUE);
        fuzz_assert(rcf->timeout > 0);
        fuzz_assert(rcf->connect_timeout > 0);
        fuzz_assert(rcf->password.data == NULL || rcf->password.len > 0);
        fuzz_assert(rcf->revoke_channel.data == NULL
                    || rcf->revoke_channel.len > 0);
    }

    fuzz_assert(iacf->status == 0
                || iacf->status == NGX_IOT_AUTH_STATUS_PROMETHEUS
                || iacf->status == NGX_IOT_AUTH_STATUS_JSON);
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
    char                       *rv;
    void                       *conf;
    ngx_str_t                  *arg;
    ngx_uint_t                  n;
    ngx_conf_t                  cf;
    ngx_array_t                 args;
    const u_char               *p, *end, *eol;
    ngx_command_t              *cmd;
    ngx_http_core_loc_conf_t   *clcf;
    ngx_iot_auth_loc_conf_t    *iacf;
    ngx_iot_auth_main_conf_t   *iamcf;

    fuzz_conf_begin(&cf);

    iamcf = ngx_iot_auth_create_main_conf(&cf);
    iacf = ngx_iot_auth_create_loc_conf(&cf);
    clcf = ngx_pcalloc(cf.pool, sizeof(ngx_http_core_loc_conf_t));

    if (iamcf == NULL || iacf == NULL || clcf == NULL) {
        abort();
    }

    fuzz_main_conf[FUZZ_IOT_INDEX] = iamcf;
    fuzz_loc_conf[FUZZ_IOT_INDEX] = iacf;
    fuzz_loc_conf[FUZZ_CORE_INDEX] = clcf;

    p = data;
    end = data + size;

    for (n = 0; p < end && n < FUZZ_MAX_DIRECTIVES; n++) {

        if (ngx_array_init(&args, cf.pool, 4, sizeof(ngx_str_t)) != NGX_OK) {
            abort();
        }

        /* lines up to an empty one */

        while (p < end) {
            eol = memchr(p, '\n', end - p);
            if (eol == NULL) {
                eol = end;
            }

            if (eol == p && args.nelts) {
                p++;
                break;
            }

            arg = ngx_array_push(&args);
            if (arg == NULL) {
                abort();
            }

            arg->len = eol - p;
            arg->data = fuzz_dup(cf.pool, p, arg->len, 1);

            p = (eol < end) ? eol + 1 : end;
        }

        if (args.nelts == 0) {
            break;
        }

        arg = args.elts;
        cmd = fuzz_find_command(arg[0].data, arg[0].len);

        if (!fuzz_args_ok(cmd, args.nelts)) {
            continue;
        }

        cf.args = &args;
        conf = (cmd->conf == NGX_HTTP_MAIN_CONF_OFFSET) ? (void *) iamcf
                                                       : (void *) iacf;

        rv = cmd->set(&cf, cmd, conf);

        if (rv != NGX_CONF_OK) {
            break;
        }

        fuzz_check(iamcf, iacf);

        if (cmd->set == ngx_iot_auth_status) {
            fuzz_assert(clcf->handler == ngx_iot_auth_status_handler);
        }

        fuzz_conf_file.line++;
    }

    fuzz_conf_file.line = 1;

    fuzz_conf_end(&cf);

    return 0;
}
