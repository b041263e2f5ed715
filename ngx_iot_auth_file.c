
/*
 * Copyright (C) ngx_iot_auth authors
 */


/*
 * Credentials files (see ngx_iot_auth_file.h): reading, checking each
 * line with the credential rules, sorting, finding a device.  Calls the
 * credential rules only.
 */


#include "ngx_iot_auth_file.h"


static ngx_int_t ngx_iot_auth_file_read(ngx_conf_t *cf,
    ngx_iot_auth_file_t *file, ngx_str_t *text);
static ngx_int_t ngx_iot_auth_file_parse(ngx_conf_t *cf,
    ngx_iot_auth_file_t *file, ngx_str_t *text);
static ngx_int_t ngx_iot_auth_file_sort(ngx_conf_t *cf,
    ngx_iot_auth_file_t *file);
static int ngx_libc_cdecl ngx_iot_auth_file_cmp(const void *one,
    const void *two);


ngx_iot_auth_file_t *
ngx_iot_auth_file_load(ngx_conf_t *cf, ngx_array_t *files, ngx_str_t *path)
{
    ngx_uint_t              i;
    ngx_iot_auth_file_t    *file, **loaded;

    loaded = files->elts;

    for (i = 0; i < files->nelts; i++) {
        if (loaded[i]->path.len == path->len
            && ngx_strncmp(loaded[i]->path.data, path->data, path->len) == 0)
        {
            return loaded[i];
        }
    }

    file = ngx_pcalloc(cf->pool, sizeof(ngx_iot_auth_file_t));
    if (file == NULL) {
        return NULL;
    }

    file->path = *path;

    if (ngx_iot_auth_file_read(cf, file, &file->text) != NGX_OK
        || ngx_iot_auth_file_parse(cf, file, &file->text) != NGX_OK
        || ngx_iot_auth_file_sort(cf, file) != NGX_OK)
    {
        return NULL;
    }

    loaded = ngx_array_push(files);
    if (loaded == NULL) {
        return NULL;
    }

    *loaded = file;

    return file;
}


static ngx_int_t
ngx_iot_auth_file_read(ngx_conf_t *cf, ngx_iot_auth_file_t *file,
    ngx_str_t *text)
{
    ssize_t          n;
    ngx_fd_t         fd;
    ngx_int_t        rc;
    ngx_file_t       f;
    ngx_file_info_t  fi;

    rc = NGX_ERROR;

    fd = ngx_open_file(file->path.data, NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);
    if (fd == NGX_INVALID_FILE) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           ngx_open_file_n " \"%V\" failed", &file->path);
        return NGX_ERROR;
    }

    ngx_memzero(&f, sizeof(ngx_file_t));
    f.fd = fd;
    f.name = file->path;
    f.log = cf->log;

    if (ngx_fd_info(fd, &fi) == NGX_FILE_ERROR) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           ngx_fd_info_n " \"%V\" failed", &file->path);
        goto done;
    }

    text->len = ngx_file_size(&fi);

    text->data = ngx_pnalloc(cf->pool, text->len);
    if (text->data == NULL) {
        goto done;
    }

    n = ngx_read_file(&f, text->data, text->len, 0);

    if (n == NGX_ERROR) {
        goto done;
    }

    if ((size_t) n != text->len) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           ngx_read_file_n " \"%V\" returned only %z bytes "
                           "instead of %uz", &file->path, n, text->len);
        goto done;
    }

    rc = NGX_OK;

done:

    if (ngx_close_file(fd) == NGX_FILE_ERROR) {
        ngx_conf_log_error(NGX_LOG_ALERT, cf, ngx_errno,
                           ngx_close_file_n " \"%V\" failed", &file->path);
    }

    return rc;
}


static ngx_int_t
ngx_iot_auth_file_parse(ngx_conf_t *cf, ngx_iot_auth_file_t *file,
    ngx_str_t *text)
{
    char                   *err;
    u_char                 *p, *last, *end;
    ngx_int_t               rc;
    ngx_uint_t              line, n;
    ngx_iot_auth_record_t  *rec;

    n = 0;
    end = text->data + text->len;

    for (p = text->data; p < end; p++) {
        if (*p == '\n') {
            n++;
        }
    }

    file->records = ngx_palloc(cf->pool,
                               (n + 1) * sizeof(ngx_iot_auth_record_t));
    if (file->records == NULL) {
        return NGX_ERROR;
    }

    rec = file->records;

    for (p = text->data, line = 1; p < end; p = last + 1, line++) {

        last = ngx_strlchr(p, end, '\n');
        if (last == NULL) {
            last = end;
        }

        rc = ngx_iot_auth_record_parse_line(p, last, rec, &err);

        if (rc == NGX_ERROR) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "%s in \"%V\" line %ui",
                               err, &file->path, line);
            return NGX_ERROR;
        }

        if (rc != NGX_OK) {
            continue;
        }

        if (rec->cost > file->max_cost) {
            file->max_cost = rec->cost;
            file->max_cost_line = line;
        }

        rec++;
    }

    file->nrecords = rec - file->records;

    return NGX_OK;
}


static ngx_int_t
ngx_iot_auth_file_sort(ngx_conf_t *cf, ngx_iot_auth_file_t *file)
{
    ngx_uint_t              i;
    ngx_iot_auth_record_t  *rec;

    ngx_qsort(file->records, file->nrecords, sizeof(ngx_iot_auth_record_t),
              ngx_iot_auth_file_cmp);

    rec = file->records;

    for (i = 1; i < file->nrecords; i++) {
        if (ngx_iot_auth_file_cmp(&rec[i - 1], &rec[i]) == 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "duplicate device \"%V\" in \"%V\"",
                               &rec[i].id, &file->path);
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


static int ngx_libc_cdecl
ngx_iot_auth_file_cmp(const void *one, const void *two)
{
    const ngx_iot_auth_record_t  *a = one;
    const ngx_iot_auth_record_t  *b = two;

    return (int) ngx_memn2cmp(a->id.data, b->id.data, a->id.len, b->id.len);
}


ngx_iot_auth_record_t *
ngx_iot_auth_file_find(ngx_iot_auth_file_t *file, ngx_str_t *id)
{
    ngx_int_t               rc;
    ngx_uint_t              lo, hi, mid;
    ngx_iot_auth_record_t  *rec;

    lo = 0;
    hi = file->nrecords;

    while (lo < hi) {
        mid = lo + (hi - lo) / 2;
        rec = &file->records[mid];

        rc = ngx_memn2cmp(id->data, rec->id.data, id->len, rec->id.len);

        if (rc == 0) {
            return rec;
        }

        if (rc < 0) {
            hi = mid;

        } else {
            lo = mid + 1;
        }
    }

    return NULL;
}
