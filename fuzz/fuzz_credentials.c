
/*
 * Copyright (C) ngx_iot_auth authors
 *
 * Credentials file text -> ngx_iot_auth_file_load(), the path that
 * "iot_auth_credentials file=PATH" takes: read (from a memfd), parse
 * every line, sort, reject duplicates, fingerprint.  On success every
 * record must be well formed and findable.
 */


#include "fuzz_common.h"
#include "../ngx_iot_auth_file.c"

#include <sys/mman.h>


static int                        fuzz_fd;
static char                       fuzz_path[64];


int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    fuzz_init();

    fuzz_fd = memfd_create("credentials", 0);
    if (fuzz_fd == -1) {
        abort();
    }

    snprintf(fuzz_path, sizeof(fuzz_path), "/proc/self/fd/%d", fuzz_fd);

    return 0;
}


/* what the file format says a record is */

static void
fuzz_check_record(ngx_iot_auth_record_t *rec)
{
    size_t  i;

    fuzz_assert(rec->id.len >= 1 && rec->id.len <= NGX_IOT_AUTH_DEVICE_MAX);

    for (i = 0; i < rec->id.len; i++) {
        fuzz_assert(rec->id.data[i] >= 0x21 && rec->id.data[i] <= 0x7e);
    }

    fuzz_assert(rec->id.data[rec->id.len] == ':');
    fuzz_assert(rec->hash == rec->id.data + rec->id.len + 1);
    fuzz_assert(ngx_iot_auth_record_hash_cost(rec->hash,
                                              NGX_IOT_AUTH_HASH_LEN)
                != NGX_ERROR);
}


/* lines other than blank ones and "#" comments: one record each */

static ngx_uint_t
fuzz_count_records(const u_char *p, size_t size)
{
    ngx_uint_t     n;
    const u_char  *end, *eol;

    n = 0;
    end = p + size;

    while (p < end) {
        eol = memchr(p, '\n', end - p);
        if (eol == NULL) {
            eol = end;
        }

        while (p < eol && (*p == ' ' || *p == '\t')) {
            p++;
        }

        if (p < eol && *p != '#' && !(*p == '\r' && p + 1 == eol)) {
            n++;
        }

        p = (eol < end) ? eol + 1 : end;
    }

    return n;
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ngx_str_t               path, id;
    ngx_uint_t              i;
    ngx_conf_t              cf;
    ngx_array_t             files;
    ngx_iot_auth_file_t    *file, *again;
    ngx_iot_auth_record_t  *rec;

    if (ftruncate(fuzz_fd, 0) == -1
        || (size && pwrite(fuzz_fd, data, size, 0) != (ssize_t) size))
    {
        abort();
    }

    fuzz_conf_begin(&cf);

    if (ngx_array_init(&files, cf.pool, 1, sizeof(ngx_iot_auth_file_t *))
        != NGX_OK)
    {
        abort();
    }

    path.len = ngx_strlen(fuzz_path);
    path.data = fuzz_dup(cf.pool, (u_char *) fuzz_path, path.len, 1);

    file = ngx_iot_auth_file_load(&cf, &files, &path);

    if (file == NULL) {
        fuzz_assert(files.nelts == 0);
        goto done;
    }

    fuzz_assert(file->nrecords == fuzz_count_records(data, size));

    rec = file->records;

    for (i = 0; i < file->nrecords; i++) {
        fuzz_check_record(&rec[i]);

        if (i > 0) {
            fuzz_assert(ngx_memn2cmp(rec[i - 1].id.data, rec[i].id.data,
                                     rec[i - 1].id.len, rec[i].id.len)
                        < 0);
        }

        fuzz_assert(ngx_iot_auth_file_find(file, &rec[i].id) == &rec[i]);
    }

    /* a prefix of a device id is another device */

    if (file->nrecords && file->records[0].id.len > 1) {
        id = file->records[0].id;
        id.len--;
        rec = ngx_iot_auth_file_find(file, &id);
        fuzz_assert(rec == NULL || rec->id.len == id.len);
    }

    /* a second load of the same path reuses the first */

    again = ngx_iot_auth_file_load(&cf, &files, &path);
    fuzz_assert(again == file);
    fuzz_assert(files.nelts == 1);

done:

    fuzz_conf_end(&cf);

    return 0;
}
