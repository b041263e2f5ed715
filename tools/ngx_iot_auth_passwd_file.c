
/*
 * Copyright (C) ngx_iot_auth authors
 */


/*
 * iot-auth-passwd's credentials file store.  The file is read with the
 * module's own line parser and refused, as nginx would refuse it, when a
 * line is bad or a device appears twice.  A change is one range of bytes
 * replaced: under an flock() on the file, the new text goes to a
 * temporary file in the same directory with the file's owner and mode,
 * is synced, and is renamed over the file, so nginx reads either the old
 * file or the new one and every other byte stays as it was.  A disabled
 * device is its line behind NGX_IOT_AUTH_PASSWD_DISABLED: a comment to
 * the module, and the original line again after "enable".
 */


#include "ngx_iot_auth_passwd.h"

#include <sys/file.h>


/* times to lock again a file that another run replaced meanwhile */
#define NGX_IOT_AUTH_PASSWD_RELOCKS    100

/* ":" perms: "0x" and 10 digits at most */
#define NGX_IOT_AUTH_PASSWD_PERMS_MAX  16

/* "\n" id ":" hash ":" perms "\r\n" */
#define NGX_IOT_AUTH_PASSWD_LINE_MAX                                         \
    (1 + NGX_IOT_AUTH_DEVICE_MAX + 1 + NGX_IOT_AUTH_HASH_LEN                 \
     + NGX_IOT_AUTH_PASSWD_PERMS_MAX + 2)


/* a device's line */

typedef struct {
    ngx_iot_auth_passwd_entry_t  entry;     /* first: sorted as one */
    ngx_uint_t                   number;
    u_char                      *start;
    u_char                      *end;       /* before CR LF */
    u_char                      *next;      /* the next line */
} ngx_iot_auth_passwd_line_t;


typedef struct {
    char                        *path;      /* with links resolved */
    int                          fd;        /* locked */
    struct stat                  st;
    u_char                      *text;
    size_t                       len;
    ngx_iot_auth_passwd_line_t  *lines;     /* the devices, in file order */
    ngx_uint_t                   nlines;
    ngx_iot_auth_passwd_line_t  *device;    /* the one asked for */
} ngx_iot_auth_passwd_file_t;


static ngx_int_t ngx_iot_auth_passwd_file_lock(ngx_iot_auth_passwd_file_t *f,
    char *path, ngx_uint_t create);
static ngx_int_t ngx_iot_auth_passwd_file_read(ngx_iot_auth_passwd_file_t *f);
static ngx_int_t ngx_iot_auth_passwd_file_parse(ngx_iot_auth_passwd_file_t *f,
    ngx_str_t *device);
static ngx_int_t ngx_iot_auth_passwd_file_unique(
    ngx_iot_auth_passwd_file_t *f);
static ngx_int_t ngx_iot_auth_passwd_file_change(
    ngx_iot_auth_passwd_file_t *f, ngx_iot_auth_passwd_t *pw);
static ngx_int_t ngx_iot_auth_passwd_file_add(ngx_iot_auth_passwd_file_t *f,
    ngx_iot_auth_passwd_t *pw);
static ngx_int_t ngx_iot_auth_passwd_file_write(
    ngx_iot_auth_passwd_file_t *f, u_char *from, u_char *to, u_char *data,
    size_t len);
static ngx_int_t ngx_iot_auth_passwd_file_replace(
    ngx_iot_auth_passwd_file_t *f, char *tmp, int fd, u_char *from,
    u_char *to, u_char *data, size_t len);
static ngx_int_t ngx_iot_auth_passwd_file_put(int fd, u_char *p, size_t len);
static void ngx_iot_auth_passwd_file_sync_dir(ngx_iot_auth_passwd_file_t *f);


ngx_int_t
ngx_iot_auth_passwd_file(ngx_iot_auth_passwd_t *pw, char *path)
{
    ngx_int_t                    rc;
    ngx_uint_t                   i;
    ngx_iot_auth_passwd_file_t   f;

    ngx_memzero(&f, sizeof(ngx_iot_auth_passwd_file_t));
    f.fd = -1;

    rc = NGX_ERROR;

    if (ngx_iot_auth_passwd_file_lock(&f, path, pw->create) != NGX_OK
        || ngx_iot_auth_passwd_file_read(&f) != NGX_OK
        || ngx_iot_auth_passwd_file_parse(&f, &pw->device) != NGX_OK)
    {
        goto done;
    }

    if (pw->cmd == NGX_IOT_AUTH_PASSWD_LIST) {
        for (i = 0; i < f.nlines; i++) {
            ngx_iot_auth_passwd_print(&f.lines[i].entry, pw->hashes);
        }

        rc = (fflush(stdout) == 0) ? NGX_OK : NGX_ERROR;
        goto done;
    }

    rc = ngx_iot_auth_passwd_file_change(&f, pw);

done:

    /* the lock goes with the descriptor */

    if (f.fd != -1) {
        (void) close(f.fd);
    }

    free(f.lines);
    free(f.text);
    free(f.path);

    return rc;
}


/*
 * a change replaces the file, so a run that waited for the lock may hold
 * the lock of a file that is gone: then it locks the new one
 */

static ngx_int_t
ngx_iot_auth_passwd_file_lock(ngx_iot_auth_passwd_file_t *f, char *path,
    ngx_uint_t create)
{
    int          fd;
    ngx_uint_t   i;
    struct stat  st;

    if (create) {
        fd = open(path, O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);

        if (fd != -1) {
            (void) close(fd);
            ngx_iot_auth_passwd_log("created \"%s\"", path);

        } else if (errno != EEXIST) {
            ngx_iot_auth_passwd_log("cannot create \"%s\": %s", path,
                                    strerror(errno));
            return NGX_ERROR;
        }
    }

    f->path = realpath(path, NULL);

    if (f->path == NULL) {
        ngx_iot_auth_passwd_log("cannot open \"%s\": %s%s", path,
                                strerror(errno),
                                errno == ENOENT
                                ? " (\"add --create\" creates it)" : "");
        return NGX_ERROR;
    }

    for (i = 0; i < NGX_IOT_AUTH_PASSWD_RELOCKS; i++) {

        fd = open(f->path, O_RDONLY | O_CLOEXEC);
        if (fd == -1) {
            ngx_iot_auth_passwd_log("cannot open \"%s\": %s", f->path,
                                    strerror(errno));
            return NGX_ERROR;
        }

        if (flock(fd, LOCK_EX | LOCK_NB) == -1) {

            if (errno == EWOULDBLOCK && i == 0) {
                ngx_iot_auth_passwd_log("waiting for another change of "
                                        "\"%s\"", f->path);
            }

            if (flock(fd, LOCK_EX) == -1) {
                ngx_iot_auth_passwd_log("cannot lock \"%s\": %s", f->path,
                                        strerror(errno));
                (void) close(fd);
                return NGX_ERROR;
            }
        }

        if (fstat(fd, &f->st) == -1) {
            ngx_iot_auth_passwd_log("cannot stat \"%s\": %s", f->path,
                                    strerror(errno));
            (void) close(fd);
            return NGX_ERROR;
        }

        if (stat(f->path, &st) == 0
            && st.st_dev == f->st.st_dev && st.st_ino == f->st.st_ino)
        {
            f->fd = fd;
            break;
        }

        (void) close(fd);
    }

    if (f->fd == -1) {
        ngx_iot_auth_passwd_log("\"%s\" keeps being replaced", f->path);
        return NGX_ERROR;
    }

    if (!S_ISREG(f->st.st_mode)) {
        ngx_iot_auth_passwd_log("\"%s\" is not a regular file", f->path);
        return NGX_ERROR;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_iot_auth_passwd_file_read(ngx_iot_auth_passwd_file_t *f)
{
    size_t   len;
    ssize_t  n;

    len = f->st.st_size;

    f->text = malloc(len + 1);
    if (f->text == NULL) {
        ngx_iot_auth_passwd_log("out of memory for \"%s\"", f->path);
        return NGX_ERROR;
    }

    for (f->len = 0; f->len < len; f->len += n) {
        n = pread(f->fd, f->text + f->len, len - f->len, f->len);

        if (n == -1 && errno == EINTR) {
            n = 0;
            continue;
        }

        if (n <= 0) {
            ngx_iot_auth_passwd_log("cannot read \"%s\": %s", f->path,
                                    n ? strerror(errno) : "it got shorter");
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


static ngx_int_t
ngx_iot_auth_passwd_file_parse(ngx_iot_auth_passwd_file_t *f,
    ngx_str_t *device)
{
    char                        *err;
    u_char                      *p, *last, *end;
    size_t                       skip;
    ngx_int_t                    rc;
    ngx_uint_t                   n;
    ngx_iot_auth_record_t        rec;
    ngx_iot_auth_passwd_line_t  *line;

    skip = sizeof(NGX_IOT_AUTH_PASSWD_DISABLED) - 1;
    end = f->text + f->len;

    n = 1;

    for (p = f->text; p < end; p++) {
        if (*p == '\n') {
            n++;
        }
    }

    f->lines = malloc(n * sizeof(ngx_iot_auth_passwd_line_t));
    if (f->lines == NULL) {
        ngx_iot_auth_passwd_log("out of memory for \"%s\"", f->path);
        return NGX_ERROR;
    }

    for (p = f->text, n = 1; p < end; p = line->next, n++) {

        line = &f->lines[f->nlines];

        last = ngx_strlchr(p, end, '\n');
        line->next = last ? last + 1 : end;
        last = last ? last : end;

        rc = ngx_iot_auth_record_parse_line(p, last, &rec, &err);

        line->entry.disabled = 0;

        if (rc == NGX_DECLINED
            && (size_t) (last - p) > skip
            && ngx_memcmp(p, NGX_IOT_AUTH_PASSWD_DISABLED, skip) == 0
            && ngx_iot_auth_record_parse_line(p + skip, last, &rec, &err)
               == NGX_OK)
        {
            line->entry.disabled = 1;
            rc = NGX_OK;
        }

        if (rc == NGX_ERROR) {
            ngx_iot_auth_passwd_log("%s in \"%s\" line %u: nginx would refuse "
                                    "this file", err, f->path, (unsigned) n);
            return NGX_ERROR;
        }

        if (rc == NGX_DECLINED) {
            continue;
        }

        line->entry.id = rec.id;
        line->entry.hash = rec.hash;
        line->entry.cost = rec.cost;
        line->entry.perms = rec.perms;
        line->entry.perms_ok = 1;
        line->number = n;
        line->start = p;
        line->end = (last > p && last[-1] == '\r') ? last - 1 : last;

        if (device->len == rec.id.len
            && ngx_memcmp(device->data, rec.id.data, rec.id.len) == 0)
        {
            f->device = line;
        }

        f->nlines++;
    }

    return ngx_iot_auth_passwd_file_unique(f);
}


static ngx_int_t
ngx_iot_auth_passwd_file_unique(ngx_iot_auth_passwd_file_t *f)
{
    ngx_int_t                     rc;
    ngx_uint_t                    i;
    ngx_iot_auth_passwd_line_t   *a, *b;
    ngx_iot_auth_passwd_entry_t **sorted;

    if (f->nlines < 2) {
        return NGX_OK;
    }

    sorted = malloc(f->nlines * sizeof(ngx_iot_auth_passwd_entry_t *));
    if (sorted == NULL) {
        ngx_iot_auth_passwd_log("out of memory for \"%s\"", f->path);
        return NGX_ERROR;
    }

    for (i = 0; i < f->nlines; i++) {
        sorted[i] = &f->lines[i].entry;
    }

    ngx_qsort(sorted, f->nlines, sizeof(ngx_iot_auth_passwd_entry_t *),
              ngx_iot_auth_passwd_cmp);

    rc = NGX_OK;

    for (i = 1; i < f->nlines; i++) {

        if (ngx_iot_auth_passwd_cmp(&sorted[i - 1], &sorted[i]) == 0) {
            a = (ngx_iot_auth_passwd_line_t *) sorted[i - 1];
            b = (ngx_iot_auth_passwd_line_t *) sorted[i];

            ngx_iot_auth_passwd_log("device \"%.*s\" is twice in \"%s\", "
                                    "lines %u and %u: nginx would refuse "
                                    "this file", (int) a->entry.id.len,
                                    a->entry.id.data, f->path,
                                    (unsigned) ngx_min(a->number, b->number),
                                    (unsigned) ngx_max(a->number, b->number));
            rc = NGX_ERROR;
            break;
        }
    }

    free(sorted);

    return rc;
}


static ngx_int_t
ngx_iot_auth_passwd_file_change(ngx_iot_auth_passwd_file_t *f,
    ngx_iot_auth_passwd_t *pw)
{
    char                        *done;
    u_char                      *from, *to, *data;
    size_t                       len, skip;
    ngx_iot_auth_passwd_line_t  *dev;
    u_char                       perms[NGX_IOT_AUTH_PASSWD_PERMS_MAX];

    dev = f->device;

    if (pw->cmd == NGX_IOT_AUTH_PASSWD_ADD) {
        if (dev) {
            ngx_iot_auth_passwd_log("device \"%.*s\" is already in \"%s\", "
                                    "line %u", (int) pw->device.len,
                                    pw->device.data, f->path,
                                    (unsigned) dev->number);
            return NGX_ERROR;
        }

        return ngx_iot_auth_passwd_file_add(f, pw);
    }

    if (dev == NULL) {
        ngx_iot_auth_passwd_log("no device \"%.*s\" in \"%s\"",
                                (int) pw->device.len, pw->device.data,
                                f->path);
        return NGX_ERROR;
    }

    skip = sizeof(NGX_IOT_AUTH_PASSWD_DISABLED) - 1;
    data = NULL;
    len = 0;

    switch (pw->cmd) {

    case NGX_IOT_AUTH_PASSWD_ROTATE:
        from = dev->entry.hash;
        to = from + NGX_IOT_AUTH_HASH_LEN;
        data = pw->hash;
        len = NGX_IOT_AUTH_HASH_LEN;
        done = "has a new secret";
        break;

    case NGX_IOT_AUTH_PASSWD_DISABLE:
        if (dev->entry.disabled) {
            ngx_iot_auth_passwd_log("device \"%.*s\" is already disabled, "
                                    "line %u", (int) pw->device.len,
                                    pw->device.data, (unsigned) dev->number);
            return NGX_OK;
        }

        from = dev->start;
        to = from;
        data = (u_char *) NGX_IOT_AUTH_PASSWD_DISABLED;
        len = skip;
        done = "is disabled";
        break;

    case NGX_IOT_AUTH_PASSWD_ENABLE:
        if (!dev->entry.disabled) {
            ngx_iot_auth_passwd_log("device \"%.*s\" is already enabled, "
                                    "line %u", (int) pw->device.len,
                                    pw->device.data, (unsigned) dev->number);
            return NGX_OK;
        }

        from = dev->start;
        to = from + skip;
        done = "is enabled";
        break;

    case NGX_IOT_AUTH_PASSWD_DELETE:
        from = dev->start;
        to = dev->next;
        done = "is deleted";
        break;

    default: /* NGX_IOT_AUTH_PASSWD_PERMS */
        from = dev->entry.hash + NGX_IOT_AUTH_HASH_LEN;
        to = dev->end;

        perms[0] = ':';
        ngx_memcpy(perms + 1, pw->perms.data, pw->perms.len);

        data = perms;
        len = pw->perms.len + 1;
        done = "has new perms";
    }

    if (ngx_iot_auth_passwd_file_write(f, from, to, data, len) != NGX_OK) {
        return NGX_ERROR;
    }

    ngx_iot_auth_passwd_log("\"%s\": device \"%.*s\" %s; nginx reads the "
                            "file at start and reload: nginx -s reload",
                            f->path, (int) pw->device.len, pw->device.data,
                            done);

    return NGX_OK;
}


/*
 * the new line is read back with the module's parser: an id that would
 * read otherwise (one that starts with '#' is a comment) is refused
 */

static ngx_int_t
ngx_iot_auth_passwd_file_add(ngx_iot_auth_passwd_file_t *f,
    ngx_iot_auth_passwd_t *pw)
{
    char                   *err;
    u_char                 *p, *start, *end;
    ngx_int_t               rc;
    ngx_iot_auth_record_t   rec;
    u_char                  line[NGX_IOT_AUTH_PASSWD_LINE_MAX];

    end = f->text + f->len;
    p = line;

    if (f->len && end[-1] != '\n') {
        *p++ = '\n';
    }

    start = p;

    p = ngx_cpymem(p, pw->device.data, pw->device.len);
    *p++ = ':';
    p = ngx_cpymem(p, pw->hash, NGX_IOT_AUTH_HASH_LEN);

    if (pw->perms.len) {
        *p++ = ':';
        p = ngx_cpymem(p, pw->perms.data, pw->perms.len);
    }

    rc = ngx_iot_auth_record_parse_line(start, p, &rec, &err);

    if (rc != NGX_OK
        || rec.id.len != pw->device.len
        || ngx_memcmp(rec.id.data, pw->device.data, rec.id.len) != 0)
    {
        ngx_iot_auth_passwd_log("device id \"%.*s\" cannot be in a "
                                "credentials file: the module would read "
                                "its line as %s", (int) pw->device.len,
                                pw->device.data,
                                rc == NGX_DECLINED ? "a comment"
                                : "another device");
        return NGX_DECLINED;
    }

    /* the line ends as the file's last line does */

    if (f->len > 1 && end[-1] == '\n' && end[-2] == '\r') {
        *p++ = '\r';
    }

    *p++ = '\n';

    if (ngx_iot_auth_passwd_file_write(f, end, end, line, p - line)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    ngx_iot_auth_passwd_log("\"%s\": device \"%.*s\" is added; nginx "
                            "reads the file at start and reload: "
                            "nginx -s reload", f->path, (int) pw->device.len,
                            pw->device.data);

    return NGX_OK;
}


/*
 * the file with the bytes from "from" to "to" replaced by data; signals
 * that would end the run wait until the temporary file is renamed or
 * removed
 */

static ngx_int_t
ngx_iot_auth_passwd_file_write(ngx_iot_auth_passwd_file_t *f, u_char *from,
    u_char *to, u_char *data, size_t len)
{
    int        fd;
    char      *tmp, *base;
    size_t     dir;
    sigset_t   set, old;
    ngx_int_t  rc;

    base = strrchr(f->path, '/') + 1;
    dir = base - f->path;

    tmp = malloc(strlen(f->path) + sizeof("..XXXXXX"));
    if (tmp == NULL) {
        ngx_iot_auth_passwd_log("out of memory for \"%s\"", f->path);
        return NGX_ERROR;
    }

    (void) sprintf(tmp, "%.*s.%s.XXXXXX", (int) dir, f->path, base);

    (void) sigemptyset(&set);
    (void) sigaddset(&set, SIGINT);
    (void) sigaddset(&set, SIGTERM);
    (void) sigaddset(&set, SIGHUP);
    (void) sigaddset(&set, SIGQUIT);
    (void) sigprocmask(SIG_BLOCK, &set, &old);

    fd = mkostemp(tmp, O_CLOEXEC);

    if (fd == -1) {
        ngx_iot_auth_passwd_log("cannot create \"%s\": %s", tmp,
                                strerror(errno));
        rc = NGX_ERROR;

    } else {
        rc = ngx_iot_auth_passwd_file_replace(f, tmp, fd, from, to, data,
                                              len);
        if (rc != NGX_OK) {
            (void) unlink(tmp);
        }
    }

    (void) sigprocmask(SIG_SETMASK, &old, NULL);

    free(tmp);

    if (rc == NGX_OK) {
        ngx_iot_auth_passwd_file_sync_dir(f);
    }

    return rc;
}


static ngx_int_t
ngx_iot_auth_passwd_file_replace(ngx_iot_auth_passwd_file_t *f, char *tmp,
    int fd, u_char *from, u_char *to, u_char *data, size_t len)
{
    char    *failed;
    u_char  *end;

    end = f->text + f->len;

    if (fchown(fd, f->st.st_uid, f->st.st_gid) == -1) {
        failed = "fchown";
        goto failed;
    }

    if (fchmod(fd, f->st.st_mode & 07777) == -1) {
        failed = "fchmod";
        goto failed;
    }

    if (ngx_iot_auth_passwd_file_put(fd, f->text, from - f->text) != NGX_OK
        || ngx_iot_auth_passwd_file_put(fd, data, len) != NGX_OK
        || ngx_iot_auth_passwd_file_put(fd, to, end - to) != NGX_OK)
    {
        failed = "write";
        goto failed;
    }

    if (fsync(fd) == -1) {
        failed = "fsync";
        goto failed;
    }

    if (close(fd) == -1) {
        ngx_iot_auth_passwd_log("close(\"%s\") failed: %s", tmp,
                                strerror(errno));
        return NGX_ERROR;
    }

    if (rename(tmp, f->path) == -1) {
        ngx_iot_auth_passwd_log("rename(\"%s\", \"%s\") failed: %s", tmp,
                                f->path, strerror(errno));
        return NGX_ERROR;
    }

    return NGX_OK;

failed:

    ngx_iot_auth_passwd_log("%s(\"%s\") failed: %s; \"%s\" is unchanged",
                            failed, tmp, strerror(errno), f->path);
    (void) close(fd);

    return NGX_ERROR;
}


static ngx_int_t
ngx_iot_auth_passwd_file_put(int fd, u_char *p, size_t len)
{
    ssize_t  n;

    while (len) {
        n = write(fd, p, len);

        if (n == -1) {
            if (errno == EINTR) {
                continue;
            }

            return NGX_ERROR;
        }

        p += n;
        len -= n;
    }

    return NGX_OK;
}


/* the rename itself outlives a crash once the directory is synced */

static void
ngx_iot_auth_passwd_file_sync_dir(ngx_iot_auth_passwd_file_t *f)
{
    int    fd;
    char  *base;

    base = strrchr(f->path, '/');

    *base = '\0';
    fd = open(base == f->path ? "/" : f->path,
              O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    *base = '/';

    if (fd == -1 || fsync(fd) == -1) {
        ngx_iot_auth_passwd_log("warning: the directory of \"%s\" could not "
                                "be synced: %s", f->path, strerror(errno));
    }

    if (fd != -1) {
        (void) close(fd);
    }
}
