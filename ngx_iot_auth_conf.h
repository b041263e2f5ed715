
/*
 * Copyright (C) ngx_iot_auth authors
 */


/*
 * The engine's directives, parsed the same way for every front end:
 * each front end's directive handler finds its own configuration and
 * hands the engine's part of it (ngx_iot_auth_main_t for the block,
 * ngx_iot_auth_conf_t for a location or server) to these functions.
 */


#ifndef _NGX_IOT_AUTH_CONF_H_INCLUDED_
#define _NGX_IOT_AUTH_CONF_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_iot_auth_engine.h"


/* the block: tag is the front end's module, its zones' shm tag */
ngx_int_t ngx_iot_auth_conf_init_main(ngx_conf_t *cf,
    ngx_iot_auth_main_t *iam, void *tag);
/* every zone named by "iot_auth zone=" is defined by "iot_auth_zone" */
char *ngx_iot_auth_conf_check_main(ngx_conf_t *cf, ngx_iot_auth_main_t *iam);

/* the arguments of each directive, in cf->args */
char *ngx_iot_auth_conf_zone(ngx_conf_t *cf, ngx_command_t *cmd,
    ngx_iot_auth_main_t *iam);
char *ngx_iot_auth_conf_redis(ngx_conf_t *cf, ngx_iot_auth_main_t *iam);
char *ngx_iot_auth_conf_secret_file(ngx_conf_t *cf,
    ngx_iot_auth_main_t *iam);
char *ngx_iot_auth_conf_priority(ngx_conf_t *cf, ngx_iot_auth_main_t *iam);
char *ngx_iot_auth_conf_use(ngx_conf_t *cf, ngx_iot_auth_main_t *iam,
    ngx_iot_auth_conf_t *conf);
char *ngx_iot_auth_conf_credentials(ngx_conf_t *cf, ngx_iot_auth_main_t *iam,
    ngx_iot_auth_conf_t *conf);
char *ngx_iot_auth_conf_lockout(ngx_conf_t *cf, ngx_command_t *cmd,
    ngx_iot_auth_conf_t *conf);

/* a location's (server's) settings: unset, then merged with its parent's */
void ngx_iot_auth_conf_create(ngx_iot_auth_conf_t *conf);
char *ngx_iot_auth_conf_merge(ngx_conf_t *cf, ngx_iot_auth_main_t *iam,
    ngx_iot_auth_conf_t *conf, ngx_iot_auth_conf_t *prev);


/* the bounds of iot_auth_max_pending and iot_auth_max_cost */
extern ngx_conf_num_bounds_t  ngx_iot_auth_max_pending_bounds;
extern ngx_conf_num_bounds_t  ngx_iot_auth_max_cost_bounds;


#endif /* _NGX_IOT_AUTH_CONF_H_INCLUDED_ */
