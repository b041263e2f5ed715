
/*
 * Copyright (C) ngx_iot_auth authors
 */


/*
 * Credentials files: read and checked line by line when the
 * configuration is read (any error fails nginx -t), kept sorted in
 * memory for a binary search.
 */


#ifndef _NGX_IOT_AUTH_FILE_H_INCLUDED_
#define _NGX_IOT_AUTH_FILE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_iot_auth_record.h"


typedef struct {
    ngx_str_t                    path;
    ngx_str_t                    text;         /* the records point in it */
    ngx_iot_auth_record_t       *records;      /* sorted by id */
    ngx_uint_t                   nrecords;
    ngx_uint_t                   max_cost;     /* the dearest hash's */
    ngx_uint_t                   max_cost_line;
} ngx_iot_auth_file_t;


/* the file at path, read once for all the locations that name it */
ngx_iot_auth_file_t *ngx_iot_auth_file_load(ngx_conf_t *cf,
    ngx_array_t *files, ngx_str_t *path);
ngx_iot_auth_record_t *ngx_iot_auth_file_find(ngx_iot_auth_file_t *file,
    ngx_str_t *id);


#endif /* _NGX_IOT_AUTH_FILE_H_INCLUDED_ */
