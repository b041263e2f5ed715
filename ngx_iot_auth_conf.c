
/*
 * Copyright (C) ngx_iot_auth authors
 */


/*
 * The engine's directives (see ngx_iot_auth_conf.h): zones, stores,
 * Redis, the HMAC key file, lockout, and the merge that turns a
 * location's settings into the engine's.  Calls the file and store code.
 */


#include "ngx_iot_auth_conf.h"


/* where "iot_auth zone=" named a zone, to say so if it is never defined */

typedef struct {
    ngx_shm_zone_t              *shm_zone;
    ngx_str_t                    file;
    ngx_uint_t                   line;
} ngx_iot_auth_zone_ref_t;


static ngx_uint_t ngx_iot_auth_conf_zone_name(ngx_str_t *name);
static ngx_int_t ngx_iot_auth_conf_sentinels(ngx_conf_t *cf,
    ngx_iot_auth_redis_conf_t *rcf, ngx_str_t *value);
static ngx_int_t ngx_iot_auth_conf_address(ngx_conf_t *cf, ngx_url_t *u,
    char *what);
static ngx_int_t ngx_iot_auth_conf_time(ngx_str_t *value, size_t name);
static void ngx_iot_auth_conf_wipe_key(void *data);


ngx_conf_num_bounds_t  ngx_iot_auth_max_pending_bounds = {
    ngx_conf_check_num_bounds, 1, 1000000
};


ngx_conf_num_bounds_t  ngx_iot_auth_max_cost_bounds = {
    ngx_conf_check_num_bounds, NGX_IOT_AUTH_COST_MIN, NGX_IOT_AUTH_COST_MAX
};


ngx_int_t
ngx_iot_auth_conf_init_main(ngx_conf_t *cf, ngx_iot_auth_main_t *iam,
    void *tag)
{
    iam->tag = tag;
    iam->fleet = NGX_CONF_UNSET;
    iam->priority.nice = NGX_CONF_UNSET;

    if (ngx_array_init(&iam->zones, cf->pool, 2, sizeof(ngx_shm_zone_t *))
        != NGX_OK
        || ngx_array_init(&iam->refs, cf->pool, 4,
                          sizeof(ngx_iot_auth_zone_ref_t))
           != NGX_OK
        || ngx_array_init(&iam->files, cf->pool, 2,
                          sizeof(ngx_iot_auth_file_t *))
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


char *
ngx_iot_auth_conf_check_main(ngx_conf_t *cf, ngx_iot_auth_main_t *iam)
{
    ngx_uint_t                i;
    ngx_iot_auth_zone_ref_t  *ref;

    ngx_conf_init_value(iam->fleet, 0);

    /* gateways share verdicts only if their digests agree: one key */

    if (iam->fleet && iam->redis == NULL) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "\"iot_auth_fleet on\" requires \"iot_auth_redis\"");
        return NGX_CONF_ERROR;
    }

    if (iam->fleet && iam->secret.len == 0) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "\"iot_auth_fleet on\" requires "
                      "\"iot_auth_secret_file\", the same on every gateway");
        return NGX_CONF_ERROR;
    }

    ref = iam->refs.elts;

    for (i = 0; i < iam->refs.nelts; i++) {
        if (ref[i].shm_zone->data == NULL) {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "iot_auth zone \"%V\" is not defined by "
                          "\"iot_auth_zone\" in %V:%ui",
                          &ref[i].shm_zone->shm.name, &ref[i].file,
                          ref[i].line);
            return NGX_CONF_ERROR;
        }
    }

    if (iam->priority.nice == NGX_CONF_UNSET) {
#if (NGX_LINUX)
        iam->priority.policy = NGX_IOT_AUTH_PRIORITY_NICE;
        iam->priority.nice = NGX_IOT_AUTH_DEFAULT_NICE;
#else
        iam->priority.policy = NGX_IOT_AUTH_PRIORITY_OFF;
        iam->priority.nice = 0;
#endif
    }

    return NGX_CONF_OK;
}


char *
ngx_iot_auth_conf_zone(ngx_conf_t *cf, ngx_command_t *cmd,
    ngx_iot_auth_main_t *iam)
{
    u_char               *p;
    ssize_t               size;
    ngx_int_t             n;
    ngx_str_t            *value, name, s;
    ngx_uint_t            i;
    ngx_shm_zone_t       *shm_zone, **zones;
    ngx_pool_cleanup_t   *cln;
    ngx_iot_auth_zone_t  *zone;

    value = cf->args->elts;

    zone = ngx_pcalloc(cf->pool, sizeof(ngx_iot_auth_zone_t));
    if (zone == NULL) {
        return NGX_CONF_ERROR;
    }

    zone->ttl = 30000;
    zone->negative_ttl = 10000;
    zone->refresh = 80;

    size = 0;
    ngx_str_null(&name);

    for (i = 1; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "zone=", 5) == 0) {

            name.data = value[i].data + 5;

            p = (u_char *) ngx_strchr(name.data, ':');

            if (p == NULL) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid zone size \"%V\"", &value[i]);
                return NGX_CONF_ERROR;
            }

            name.len = p - name.data;

            s.data = p + 1;
            s.len = value[i].data + value[i].len - s.data;

            size = ngx_parse_size(&s);

            if (name.len == 0 || size == NGX_ERROR
                || !ngx_iot_auth_conf_zone_name(&name))
            {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid zone \"%V\"", &value[i]);
                return NGX_CONF_ERROR;
            }

            if (size < (ssize_t) (8 * ngx_pagesize)) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "zone \"%V\" is too small, "
                                   "it must be at least %uz bytes",
                                   &value[i], 8 * ngx_pagesize);
                return NGX_CONF_ERROR;
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "ttl=", 4) == 0) {

            n = ngx_iot_auth_conf_time(&value[i], 4);

            if (n == NGX_ERROR || n == 0) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid ttl \"%V\"", &value[i]);
                return NGX_CONF_ERROR;
            }

            zone->ttl = n;
            continue;
        }

        if (ngx_strncmp(value[i].data, "negative_ttl=", 13) == 0) {

            n = ngx_iot_auth_conf_time(&value[i], 13);

            if (n == NGX_ERROR) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid negative_ttl \"%V\"", &value[i]);
                return NGX_CONF_ERROR;
            }

            zone->negative_ttl = n;
            continue;
        }

        if (ngx_strncmp(value[i].data, "refresh=", 8) == 0) {

            n = NGX_ERROR;

            if (value[i].len > 9 && value[i].data[value[i].len - 1] == '%') {
                n = ngx_atoi(value[i].data + 8, value[i].len - 9);
            }

            if (n < 1 || n > 100) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid refresh \"%V\", it must be "
                                   "a percentage from 1%% to 100%%",
                                   &value[i]);
                return NGX_CONF_ERROR;
            }

            zone->refresh = n;
            continue;
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\"", &value[i]);
        return NGX_CONF_ERROR;
    }

    if (name.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\" must have \"zone\" parameter",
                           &cmd->name);
        return NGX_CONF_ERROR;
    }

    shm_zone = ngx_shared_memory_add(cf, &name, size, iam->tag);
    if (shm_zone == NULL) {
        return NGX_CONF_ERROR;
    }

    if (shm_zone->data) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "duplicate zone \"%V\"", &name);
        return NGX_CONF_ERROR;
    }

    cln = ngx_pool_cleanup_add(cf->pool, 0);
    if (cln == NULL) {
        return NGX_CONF_ERROR;
    }

    cln->handler = ngx_iot_auth_conf_wipe_key;
    cln->data = zone;

    zone->shm_zone = shm_zone;
    zone->secret = &iam->secret;

    shm_zone->init = ngx_iot_auth_cache_init_zone;
    shm_zone->data = zone;

    zones = ngx_array_push(&iam->zones);
    if (zones == NULL) {
        return NGX_CONF_ERROR;
    }

    *zones = shm_zone;

    return NGX_CONF_OK;
}


/* zone names go into the status page as they are: no quotes, no escapes */

static ngx_uint_t
ngx_iot_auth_conf_zone_name(ngx_str_t *name)
{
    u_char  *last;

    last = name->data + name->len;

    return ngx_iot_auth_record_visible(name->data, name->len, name->len)
           && ngx_strlchr(name->data, last, '"') == NULL
           && ngx_strlchr(name->data, last, '\\') == NULL;
}


char *
ngx_iot_auth_conf_use(ngx_conf_t *cf, ngx_iot_auth_main_t *iam,
    ngx_iot_auth_conf_t *conf)
{
    ngx_str_t                *value, name;
    ngx_iot_auth_zone_ref_t  *ref;

    if (conf->shm_zone != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_strcmp(value[1].data, "off") == 0) {
        conf->shm_zone = NULL;
        return NGX_CONF_OK;
    }

    if (ngx_strncmp(value[1].data, "zone=", 5) != 0 || value[1].len == 5) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\"", &value[1]);
        return NGX_CONF_ERROR;
    }

    name.len = value[1].len - 5;
    name.data = value[1].data + 5;

    conf->shm_zone = ngx_shared_memory_add(cf, &name, 0, iam->tag);
    if (conf->shm_zone == NULL) {
        return NGX_CONF_ERROR;
    }

    ref = ngx_array_push(&iam->refs);
    if (ref == NULL) {
        return NGX_CONF_ERROR;
    }

    ref->shm_zone = conf->shm_zone;
    ref->file = cf->conf_file->file.name;
    ref->line = cf->conf_file->line;

    return NGX_CONF_OK;
}


char *
ngx_iot_auth_conf_credentials(ngx_conf_t *cf, ngx_iot_auth_main_t *iam,
    ngx_iot_auth_conf_t *conf)
{
    ngx_str_t  *value, path;

    if (conf->file != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_strcmp(value[1].data, "redis") == 0) {
        conf->file = NULL;
        conf->redis = 1;
        return NGX_CONF_OK;
    }

    if (ngx_strncmp(value[1].data, "file=", 5) != 0 || value[1].len == 5) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\"", &value[1]);
        return NGX_CONF_ERROR;
    }

    path.len = value[1].len - 5;
    path.data = value[1].data + 5;

    if (ngx_conf_full_name(cf->cycle, &path, 1) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    conf->file = ngx_iot_auth_file_load(cf, &iam->files, &path);
    if (conf->file == NULL) {
        return NGX_CONF_ERROR;
    }

    conf->redis = 0;

    return NGX_CONF_OK;
}


char *
ngx_iot_auth_conf_redis(ngx_conf_t *cf, ngx_iot_auth_main_t *iam)
{
    ngx_int_t                   n;
    ngx_str_t                  *value;
    ngx_uint_t                  i;
    ngx_iot_auth_redis_conf_t  *rcf;

    if (iam->redis) {
        return "is duplicate";
    }

    rcf = ngx_pcalloc(cf->pool, sizeof(ngx_iot_auth_redis_conf_t));
    if (rcf == NULL) {
        return NGX_CONF_ERROR;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     rcf->sentinels = NULL;
     *     rcf->master = { 0, NULL };
     *     rcf->db = 0;
     *     rcf->user = { 0, NULL };
     *     rcf->password = { 0, NULL };
     *     rcf->revoke_channel = { 0, NULL };
     */

    rcf->connect_timeout = 1000;
    rcf->timeout = 1000;
    ngx_str_set(&rcf->fleet_prefix, "iot:fleet:");

    value = cf->args->elts;

    if (ngx_strncmp(value[1].data, "sentinel=", 9) == 0) {

        if (ngx_iot_auth_conf_sentinels(cf, rcf, &value[1]) != NGX_OK) {
            return NGX_CONF_ERROR;
        }

    } else {
        rcf->url.url = value[1];
        rcf->url.default_port = 6379;

        if (ngx_iot_auth_conf_address(cf, &rcf->url, "redis") != NGX_OK) {
            return NGX_CONF_ERROR;
        }
    }

    for (i = 2; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "db=", 3) == 0) {

            n = ngx_atoi(value[i].data + 3, value[i].len - 3);

            if (n == NGX_ERROR || n > NGX_MAX_INT32_VALUE) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid db \"%V\"", &value[i]);
                return NGX_CONF_ERROR;
            }

            rcf->db = n;
            continue;
        }

        if (ngx_strncmp(value[i].data, "master=", 7) == 0
            && rcf->sentinels)
        {
            if (!ngx_iot_auth_record_visible(value[i].data + 7,
                                             value[i].len - 7, 128))
            {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid master \"%V\"", &value[i]);
                return NGX_CONF_ERROR;
            }

            rcf->master.len = value[i].len - 7;
            rcf->master.data = value[i].data + 7;
            continue;
        }

        if (ngx_strncmp(value[i].data, "user=", 5) == 0) {

            if (!ngx_iot_auth_record_visible(value[i].data + 5,
                                             value[i].len - 5, 128))
            {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid user \"%V\"", &value[i]);
                return NGX_CONF_ERROR;
            }

            rcf->user.len = value[i].len - 5;
            rcf->user.data = value[i].data + 5;
            continue;
        }

        if (ngx_strncmp(value[i].data, "password=", 9) == 0) {

            if (value[i].len == 9) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "empty redis password");
                return NGX_CONF_ERROR;
            }

            rcf->password.len = value[i].len - 9;
            rcf->password.data = value[i].data + 9;
            continue;
        }

        if (ngx_strncmp(value[i].data, "connect_timeout=", 16) == 0) {

            n = ngx_iot_auth_conf_time(&value[i], 16);

            if (n == NGX_ERROR || n == 0) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid connect_timeout \"%V\"",
                                   &value[i]);
                return NGX_CONF_ERROR;
            }

            rcf->connect_timeout = n;
            continue;
        }

        if (ngx_strncmp(value[i].data, "timeout=", 8) == 0) {

            n = ngx_iot_auth_conf_time(&value[i], 8);

            if (n == NGX_ERROR || n == 0) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid timeout \"%V\"", &value[i]);
                return NGX_CONF_ERROR;
            }

            rcf->timeout = n;
            continue;
        }

        if (ngx_strncmp(value[i].data, "revoke_channel=", 15) == 0) {

            if (value[i].len == 15) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid revoke_channel \"%V\"",
                                   &value[i]);
                return NGX_CONF_ERROR;
            }

            rcf->revoke_channel.len = value[i].len - 15;
            rcf->revoke_channel.data = value[i].data + 15;
            continue;
        }

        if (ngx_strncmp(value[i].data, "fleet_prefix=", 13) == 0) {

            if (!ngx_iot_auth_record_visible(value[i].data + 13,
                                             value[i].len - 13, 64))
            {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid fleet_prefix \"%V\", it must "
                                   "be 1 to 64 visible characters",
                                   &value[i]);
                return NGX_CONF_ERROR;
            }

            rcf->fleet_prefix.len = value[i].len - 13;
            rcf->fleet_prefix.data = value[i].data + 13;
            continue;
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\"", &value[i]);
        return NGX_CONF_ERROR;
    }

    if (rcf->sentinels && rcf->master.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"sentinel=\" requires \"master=\"");
        return NGX_CONF_ERROR;
    }

    if (rcf->user.len && rcf->password.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"user=\" requires \"password=\"");
        return NGX_CONF_ERROR;
    }

    iam->redis = rcf;

    return NGX_CONF_OK;
}


/* sentinel=HOST:PORT[,HOST:PORT...]: network addresses only */

static ngx_int_t
ngx_iot_auth_conf_sentinels(ngx_conf_t *cf, ngx_iot_auth_redis_conf_t *rcf,
    ngx_str_t *value)
{
    u_char     *p, *last, *comma;
    ngx_url_t  *u;

    rcf->sentinels = ngx_array_create(cf->pool, 3, sizeof(ngx_url_t));
    if (rcf->sentinels == NULL) {
        return NGX_ERROR;
    }

    p = value->data + 9;
    last = value->data + value->len;

    for ( ;; ) {
        comma = ngx_strlchr(p, last, ',');

        if (comma == NULL) {
            comma = last;
        }

        u = ngx_array_push(rcf->sentinels);
        if (u == NULL) {
            return NGX_ERROR;
        }

        ngx_memzero(u, sizeof(ngx_url_t));

        u->url.data = p;
        u->url.len = comma - p;
        u->default_port = 26379;

        if (u->url.len == 0
            || ngx_strncasecmp(u->url.data, (u_char *) "unix:", 5) == 0)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid sentinel address in \"%V\"", value);
            return NGX_ERROR;
        }

        if (ngx_iot_auth_conf_address(cf, u, "redis sentinel") != NGX_OK) {
            return NGX_ERROR;
        }

        if (comma == last) {
            return NGX_OK;
        }

        p = comma + 1;
    }
}


/* a host name is resolved here: hiredis gets an address literal */

static ngx_int_t
ngx_iot_auth_conf_address(ngx_conf_t *cf, ngx_url_t *u, char *what)
{
    if (ngx_parse_url(cf->pool, u) != NGX_OK) {
        if (u->err) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "%s in %s address \"%V\"", u->err, what,
                               &u->url);
        }

        return NGX_ERROR;
    }

    if (u->naddrs == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "no address for %s \"%V\"", what, &u->url);
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* iot_auth_bcrypt_priority nice=N | batch | idle | off */

char *
ngx_iot_auth_conf_priority(ngx_conf_t *cf, ngx_iot_auth_main_t *iam)
{
    ngx_int_t   n;
    ngx_str_t  *value;

    if (iam->priority.nice != NGX_CONF_UNSET) {
        return "is duplicate";
    }

    value = cf->args->elts;
    n = 0;

    if (ngx_strcmp(value[1].data, "off") == 0) {
        iam->priority.policy = NGX_IOT_AUTH_PRIORITY_OFF;

    } else if (ngx_strcmp(value[1].data, "batch") == 0) {
        iam->priority.policy = NGX_IOT_AUTH_PRIORITY_BATCH;

    } else if (ngx_strcmp(value[1].data, "idle") == 0) {
        iam->priority.policy = NGX_IOT_AUTH_PRIORITY_IDLE;

    } else if (ngx_strncmp(value[1].data, "nice=", 5) == 0) {
        n = ngx_atoi(value[1].data + 5, value[1].len - 5);

        if (n < 1 || n > 19) {
            goto invalid;
        }

        iam->priority.policy = NGX_IOT_AUTH_PRIORITY_NICE;

    } else {
        goto invalid;
    }

#if !(NGX_LINUX)

    if (iam->priority.policy != NGX_IOT_AUTH_PRIORITY_OFF) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\" is not supported on this platform, "
                           "only \"off\" is", &value[1]);
        return NGX_CONF_ERROR;
    }

#endif

    iam->priority.nice = n;

    return NGX_CONF_OK;

invalid:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid value \"%V\", it must be \"nice=1\" to "
                       "\"nice=19\", \"batch\", \"idle\" or \"off\"",
                       &value[1]);
    return NGX_CONF_ERROR;
}


char *
ngx_iot_auth_conf_secret_file(ngx_conf_t *cf, ngx_iot_auth_main_t *iam)
{
    ssize_t          n;
    ngx_str_t       *value, path;
    ngx_file_t       file;
    ngx_file_info_t  fi;

    if (iam->secret.data) {
        return "is duplicate";
    }

    value = cf->args->elts;
    path = value[1];

    if (ngx_conf_full_name(cf->cycle, &path, 1) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    ngx_memzero(&file, sizeof(ngx_file_t));
    file.name = path;
    file.log = cf->log;

    file.fd = ngx_open_file(path.data, NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);
    if (file.fd == NGX_INVALID_FILE) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           ngx_open_file_n " \"%V\" failed", &path);
        return NGX_CONF_ERROR;
    }

    n = NGX_ERROR;

    if (ngx_fd_info(file.fd, &fi) == NGX_FILE_ERROR) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           ngx_fd_info_n " \"%V\" failed", &path);
        goto done;
    }

    iam->secret.data = ngx_pnalloc(cf->pool, ngx_file_size(&fi));
    if (iam->secret.data == NULL) {
        goto done;
    }

    n = ngx_read_file(&file, iam->secret.data, ngx_file_size(&fi), 0);

done:

    if (ngx_close_file(file.fd) == NGX_FILE_ERROR) {
        ngx_conf_log_error(NGX_LOG_ALERT, cf, ngx_errno,
                           ngx_close_file_n " \"%V\" failed", &path);
    }

    if (n == NGX_ERROR) {
        return NGX_CONF_ERROR;
    }

    while (n > 0 && (iam->secret.data[n - 1] == LF
                     || iam->secret.data[n - 1] == CR))
    {
        n--;
    }

    if (n < NGX_IOT_AUTH_KEY_LEN) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "secret file \"%V\" must hold at least %d bytes",
                           &path, NGX_IOT_AUTH_KEY_LEN);
        return NGX_CONF_ERROR;
    }

    iam->secret.len = n;

    return NGX_CONF_OK;
}


char *
ngx_iot_auth_conf_lockout(ngx_conf_t *cf, ngx_command_t *cmd,
    ngx_iot_auth_conf_t *conf)
{
    ngx_int_t    n;
    ngx_str_t   *value;
    ngx_uint_t   i;

    if (conf->lockout.failures != NGX_CONF_UNSET_UINT) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_strcmp(value[1].data, "off") == 0 && cf->args->nelts == 2) {
        conf->lockout.failures = 0;
        return NGX_CONF_OK;
    }

    if (cf->args->nelts != 4) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\" takes \"failures=\", \"window=\" and "
                           "\"duration=\", or \"off\"", &cmd->name);
        return NGX_CONF_ERROR;
    }

    conf->lockout.window = 0;
    conf->lockout.duration = 0;

    for (i = 1; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "failures=", 9) == 0) {

            n = ngx_atoi(value[i].data + 9, value[i].len - 9);

            if (n < 1 || n > 65535) {
                goto invalid;
            }

            conf->lockout.failures = n;
            continue;
        }

        if (ngx_strncmp(value[i].data, "window=", 7) == 0) {
            n = ngx_iot_auth_conf_time(&value[i], 7);

            if (n == NGX_ERROR || n == 0) {
                goto invalid;
            }

            conf->lockout.window = n;
            continue;
        }

        if (ngx_strncmp(value[i].data, "duration=", 9) == 0) {
            n = ngx_iot_auth_conf_time(&value[i], 9);

            if (n == NGX_ERROR || n == 0) {
                goto invalid;
            }

            conf->lockout.duration = n;
            continue;
        }

        goto invalid;
    }

    if (conf->lockout.failures == NGX_CONF_UNSET_UINT
        || conf->lockout.window == 0 || conf->lockout.duration == 0)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\" must have \"failures=\", \"window=\" and "
                           "\"duration=\"", &cmd->name);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;

invalid:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid parameter \"%V\"", &value[i]);
    return NGX_CONF_ERROR;
}


void
ngx_iot_auth_conf_create(ngx_iot_auth_conf_t *conf)
{
    /*
     * set by ngx_pcalloc() of the front end's configuration:
     *
     *     conf->store = { 0 };
     *     conf->thread_pool = NULL;
     *     conf->thread_pool_name = { 0, NULL };
     *     conf->redis_key = { 0, NULL };
     */

    conf->shm_zone = NGX_CONF_UNSET_PTR;
    conf->file = NGX_CONF_UNSET_PTR;
    conf->redis = NGX_CONF_UNSET;
    conf->wait_timeout = NGX_CONF_UNSET_MSEC;
    conf->max_pending = NGX_CONF_UNSET;
    conf->max_cost = NGX_CONF_UNSET_UINT;
    conf->stale_if_error = NGX_CONF_UNSET_MSEC;
    conf->lockout.failures = NGX_CONF_UNSET_UINT;
}


char *
ngx_iot_auth_conf_merge(ngx_conf_t *cf, ngx_iot_auth_main_t *iam,
    ngx_iot_auth_conf_t *conf, ngx_iot_auth_conf_t *prev)
{
    ngx_int_t  rc;

    ngx_conf_merge_ptr_value(conf->shm_zone, prev->shm_zone, NULL);
    ngx_conf_merge_ptr_value(conf->file, prev->file, NULL);
    ngx_conf_merge_value(conf->redis, prev->redis, 0);
    ngx_conf_merge_str_value(conf->redis_key, prev->redis_key, "iot:device:");
    ngx_conf_merge_msec_value(conf->stale_if_error, prev->stale_if_error, 0);
    ngx_conf_merge_str_value(conf->thread_pool_name, prev->thread_pool_name,
                             "iot_auth");
    ngx_conf_merge_msec_value(conf->wait_timeout, prev->wait_timeout, 2000);
    ngx_conf_merge_value(conf->max_pending, prev->max_pending, 256);
    ngx_conf_merge_uint_value(conf->max_cost, prev->max_cost,
                              NGX_IOT_AUTH_DEFAULT_MAX_COST);

    conf->fleet = iam->fleet;

    if (conf->lockout.failures == NGX_CONF_UNSET_UINT) {
        conf->lockout = prev->lockout;

        if (conf->lockout.failures == NGX_CONF_UNSET_UINT) {
            conf->lockout.failures = 0;
        }
    }

    if (conf->shm_zone == NULL) {
        return NGX_CONF_OK;
    }

    if (conf->file == NULL && !conf->redis) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"iot_auth\" requires \"iot_auth_credentials\"");
        return NGX_CONF_ERROR;
    }

    if (conf->redis && iam->redis == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"iot_auth_credentials redis\" requires "
                           "\"iot_auth_redis\"");
        return NGX_CONF_ERROR;
    }

    rc = conf->redis ? ngx_iot_auth_store_redis(&conf->store, &conf->redis_key)
                     : ngx_iot_auth_store_file(&conf->store, conf->file);

    if (rc != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    if (conf->file && conf->file->max_cost > conf->max_cost) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "bcrypt cost %ui in \"%V\" line %ui is above "
                           "\"iot_auth_max_cost\" %ui",
                           conf->file->max_cost, &conf->file->path,
                           conf->file->max_cost_line, conf->max_cost);
        return NGX_CONF_ERROR;
    }

    conf->thread_pool = ngx_thread_pool_add(cf, &conf->thread_pool_name);
    if (conf->thread_pool == NULL) {
        return NGX_CONF_ERROR;
    }

    conf->priority = &iam->priority;

    return NGX_CONF_OK;
}


/* the time after the "name=" of a directive argument, in milliseconds */

static ngx_int_t
ngx_iot_auth_conf_time(ngx_str_t *value, size_t name)
{
    ngx_str_t  s;

    s.len = value->len - name;
    s.data = value->data + name;

    return ngx_parse_time(&s, 0);
}


static void
ngx_iot_auth_conf_wipe_key(void *data)
{
    ngx_iot_auth_zone_t  *zone = data;

    ngx_iot_auth_hmac_wipe(&zone->hmac);
}
