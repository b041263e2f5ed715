
/*
 * Copyright (C) ngx_iot_auth authors
 *
 * What every fuzz target needs of nginx outside a running server: page
 * size, cached time, a log, a cycle to hang shared memory and main confs
 * on, and a fresh pool and ngx_conf_t per input.  Each target includes
 * one module .c file (to reach its static functions) after this header
 * and is linked with the other module objects and nginx's core objects.
 *
 * FUZZ_LOG=stderr in the environment sends the module's log to stderr
 * (to see what an input does); by default it goes to /dev/null at debug
 * level, so that every log line is still formatted.
 */


#ifndef _FUZZ_COMMON_H_INCLUDED_
#define _FUZZ_COMMON_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <stdio.h>
#include <stdlib.h>
#include <dlfcn.h>
#include <netdb.h>

#include "fuzz_assert.h"


extern ngx_module_t  ngx_http_core_module;
extern ngx_module_t  ngx_iot_auth_module;


/*
 * ctx_index of the two http modules a target touches: the http conf
 * arrays below have one slot each
 */
#define FUZZ_CORE_INDEX  0
#define FUZZ_IOT_INDEX   1


static ngx_open_file_t       fuzz_log_file;
static ngx_log_t             fuzz_log;
static ngx_cycle_t           fuzz_cycle;
static void                 *fuzz_conf_ctx[256];
static ngx_http_conf_ctx_t   fuzz_http_ctx;
static void                 *fuzz_main_conf[2];
static void                 *fuzz_srv_conf[2];
static void                 *fuzz_loc_conf[2];
static ngx_conf_file_t       fuzz_conf_file;


static void
fuzz_init(void)
{
    char  *to;

    ngx_pagesize = getpagesize();
    for (ngx_pagesize_shift = 0; (1 << ngx_pagesize_shift) < ngx_pagesize;
         ngx_pagesize_shift++) { /* void */ }
    ngx_cacheline_size = NGX_CPU_CACHE_LINE;
    ngx_ncpu = 1;
    ngx_pid = ngx_getpid();

    if (ngx_strerror_init() != NGX_OK) {
        abort();
    }

    ngx_time_init();

    to = getenv("FUZZ_LOG");

    if (to && strcmp(to, "stderr") == 0) {
        fuzz_log_file.fd = ngx_stderr;

    } else {
        /* else nginx copies [emerg]..[warn] lines to stderr */
        ngx_use_stderr = 0;

        fuzz_log_file.fd = open("/dev/null", O_WRONLY);
        if (fuzz_log_file.fd == -1) {
            abort();
        }
    }

    fuzz_log.file = &fuzz_log_file;
    fuzz_log.log_level = NGX_LOG_DEBUG_ALL;

    if (ngx_preinit_modules() != NGX_OK) {
        abort();
    }

    ngx_http_core_module.ctx_index = FUZZ_CORE_INDEX;
    ngx_iot_auth_module.ctx_index = FUZZ_IOT_INDEX;

    if (ngx_http_module.index >= sizeof(fuzz_conf_ctx) / sizeof(void *)) {
        abort();
    }

    fuzz_http_ctx.main_conf = fuzz_main_conf;
    fuzz_http_ctx.srv_conf = fuzz_srv_conf;
    fuzz_http_ctx.loc_conf = fuzz_loc_conf;
    fuzz_conf_ctx[ngx_http_module.index] = &fuzz_http_ctx;

    fuzz_cycle.log = &fuzz_log;
    fuzz_cycle.conf_ctx = (void ****) fuzz_conf_ctx;
    ngx_str_set(&fuzz_cycle.prefix, "/nonexistent/");
    ngx_str_set(&fuzz_cycle.conf_prefix, "/nonexistent/conf/");

    ngx_cycle = &fuzz_cycle;

    ngx_str_set(&fuzz_conf_file.file.name, "/nonexistent/conf/nginx.conf");
    fuzz_conf_file.file.fd = 0;
    fuzz_conf_file.line = 1;
}


/*
 * no name lookups from a fuzzer: a host name in a fuzzed directive
 * (iot_auth_redis) must never become a DNS query.  These definitions
 * take the place of libc's for the whole fuzz binary: only numeric
 * addresses resolve.
 */

int
getaddrinfo(const char *node, const char *service,
    const struct addrinfo *hints, struct addrinfo **res)
{
    struct addrinfo   h;
    static int      (*real)(const char *, const char *,
                            const struct addrinfo *, struct addrinfo **);

    if (real == NULL) {
        real = (int (*)(const char *, const char *, const struct addrinfo *,
                        struct addrinfo **)) dlsym(RTLD_NEXT, "getaddrinfo");
        if (real == NULL) {
            abort();
        }
    }

    if (hints) {
        h = *hints;

    } else {
        ngx_memzero(&h, sizeof(struct addrinfo));
        h.ai_family = AF_UNSPEC;
    }

    h.ai_flags |= AI_NUMERICHOST | AI_NUMERICSERV;

    return real(node, service, &h, res);
}


struct hostent *
gethostbyname(const char *name)
{
    h_errno = HOST_NOT_FOUND;
    return NULL;
}


/* a pool and ngx_conf_t for one input; the pool is the cycle's too */

static void
fuzz_conf_begin(ngx_conf_t *cf)
{
    ngx_pool_t  *pool;

    pool = ngx_create_pool(NGX_CYCLE_POOL_SIZE, &fuzz_log);
    if (pool == NULL) {
        abort();
    }

    fuzz_cycle.pool = pool;

    if (ngx_list_init(&fuzz_cycle.shared_memory, pool, 1,
                      sizeof(ngx_shm_zone_t))
        != NGX_OK)
    {
        abort();
    }

    ngx_memzero(cf, sizeof(ngx_conf_t));

    cf->pool = pool;
    cf->temp_pool = pool;
    cf->cycle = &fuzz_cycle;
    cf->log = &fuzz_log;
    cf->ctx = &fuzz_http_ctx;
    cf->conf_file = &fuzz_conf_file;
    cf->module_type = NGX_HTTP_MODULE;
    cf->cmd_type = NGX_HTTP_MAIN_CONF;
}


static void
fuzz_conf_end(ngx_conf_t *cf)
{
    ngx_destroy_pool(cf->pool);

    fuzz_cycle.pool = NULL;
    ngx_memzero(&fuzz_cycle.shared_memory, sizeof(ngx_list_t));
    ngx_memzero(fuzz_main_conf, sizeof(fuzz_main_conf));
    ngx_memzero(fuzz_loc_conf, sizeof(fuzz_loc_conf));
}


/* a copy of n bytes in a buffer of exactly n (+1 for a NUL) bytes */

static u_char *
fuzz_dup(ngx_pool_t *pool, const u_char *p, size_t n, ngx_uint_t nul)
{
    u_char  *d;

    d = ngx_pnalloc(pool, n + (nul ? 1 : 0));
    if (d == NULL) {
        abort();
    }

    if (n) {
        ngx_memcpy(d, p, n);
    }

    if (nul) {
        d[n] = '\0';
    }

    return d;
}


#endif /* _FUZZ_COMMON_H_INCLUDED_ */
