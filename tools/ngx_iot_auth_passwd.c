
/*
 * Copyright (C) ngx_iot_auth authors
 */


/*
 * iot-auth-passwd's front end: the command line, the device's secret
 * (made from getrandom(), read from standard input or a prompt without
 * echo, or taken from the command line when asked), its bcrypt hash
 * (libxcrypt), and the messages.  Every device id, token, perms mask
 * and hash is checked by the rules of ngx_iot_auth_record.c, those the
 * module applies, before a store is touched.
 */


#include "ngx_iot_auth_passwd.h"

#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/random.h>
#include <termios.h>


#define NGX_IOT_AUTH_PASSWD_COST       10
#define NGX_IOT_AUTH_PASSWD_BITS       128
#define NGX_IOT_AUTH_PASSWD_PREFIX     "iot:device:"
#define NGX_IOT_AUTH_PASSWD_ENV        "IOT_AUTH_REDIS_PASSWORD"
#define NGX_IOT_AUTH_PASSWD_MAX        4096    /* a Redis password file */


typedef enum {
    NGX_IOT_AUTH_PASSWD_GENERATE = 0,
    NGX_IOT_AUTH_PASSWD_STDIN,
    NGX_IOT_AUTH_PASSWD_ARGV
} ngx_iot_auth_passwd_source_e;


/* the command line, as given */

typedef struct {
    ngx_iot_auth_passwd_t          pw;
    ngx_iot_auth_passwd_redis_t    redis;
    ngx_iot_auth_passwd_source_e   source;
    char                          *file;
    char                          *secret;
    char                          *password_file;
    char                          *redis_only;   /* an option for Redis */
    ngx_uint_t                     cost;
    unsigned                       cost_given:1;
    unsigned                       perms_given:1;
    unsigned                       stdin_given:1;
} ngx_iot_auth_passwd_args_t;


typedef struct {
    char                          *name;
    ngx_iot_auth_passwd_cmd_e      cmd;
    ngx_uint_t                     nargs;        /* after the command */
} ngx_iot_auth_passwd_command_t;


static ngx_int_t ngx_iot_auth_passwd_options(int argc, char **argv,
    ngx_iot_auth_passwd_args_t *args);
static ngx_int_t ngx_iot_auth_passwd_operands(int argc, char **argv,
    ngx_iot_auth_passwd_args_t *args);
static ngx_int_t ngx_iot_auth_passwd_check(ngx_iot_auth_passwd_args_t *args);
static int ngx_iot_auth_passwd_exit(ngx_int_t rc);
static ngx_int_t ngx_iot_auth_passwd_login(ngx_iot_auth_passwd_args_t *args);
static ngx_int_t ngx_iot_auth_passwd_number(char *s, ngx_uint_t max,
    ngx_uint_t *n);
static ssize_t ngx_iot_auth_passwd_secret(ngx_iot_auth_passwd_args_t *args,
    u_char *secret);
static ssize_t ngx_iot_auth_passwd_generate(u_char *secret);
static ssize_t ngx_iot_auth_passwd_prompt(ngx_str_t *device, u_char *secret);
static void ngx_iot_auth_passwd_restore_tty(int signo);
static ssize_t ngx_iot_auth_passwd_line(int fd, u_char *buf, size_t size);
static ngx_int_t ngx_iot_auth_passwd_hash(u_char *secret, size_t len,
    ngx_uint_t cost, u_char *hash);
static void ngx_iot_auth_passwd_usage(void);


static ngx_iot_auth_passwd_command_t  ngx_iot_auth_passwd_commands[] = {
    { "add",     NGX_IOT_AUTH_PASSWD_ADD,     1 },
    { "rotate",  NGX_IOT_AUTH_PASSWD_ROTATE,  1 },
    { "disable", NGX_IOT_AUTH_PASSWD_DISABLE, 1 },
    { "enable",  NGX_IOT_AUTH_PASSWD_ENABLE,  1 },
    { "delete",  NGX_IOT_AUTH_PASSWD_DELETE,  1 },
    { "perms",   NGX_IOT_AUTH_PASSWD_PERMS,   2 },
    { "list",    NGX_IOT_AUTH_PASSWD_LIST,    0 },
    { NULL,      0,                           0 }
};


static struct option  ngx_iot_auth_passwd_long_options[] = {
    { "file",           required_argument, NULL, 'f' },
    { "create",         no_argument,       NULL, 'c' },
    { "redis",          required_argument, NULL, 'r' },
    { "db",             required_argument, NULL, 'n' },
    { "user",           required_argument, NULL, 'U' },
    { "password-file",  required_argument, NULL, 'P' },
    { "prefix",         required_argument, NULL, 'K' },
    { "revoke-channel", required_argument, NULL, 'R' },
    { "cost",           required_argument, NULL, 'C' },
    { "perms",          required_argument, NULL, 'p' },
    { "stdin",          no_argument,       NULL, 'i' },
    { "secret",         required_argument, NULL, 'S' },
    { "hashes",         no_argument,       NULL, 'H' },
    { "help",           no_argument,       NULL, 'h' },
    { NULL,             0,                 NULL, 0 }
};


static struct termios  ngx_iot_auth_passwd_tty;


int
main(int argc, char **argv)
{
    u_char                      hash[NGX_IOT_AUTH_HASH_LEN];
    u_char                      secret[NGX_IOT_AUTH_TOKEN_MAX + 2];
    ssize_t                     len;
    ngx_int_t                   rc;
    ngx_iot_auth_passwd_args_t  args;

    ngx_memzero(&args, sizeof(ngx_iot_auth_passwd_args_t));

    args.cost = NGX_IOT_AUTH_PASSWD_COST;
    ngx_str_set(&args.redis.prefix, NGX_IOT_AUTH_PASSWD_PREFIX);

    rc = ngx_iot_auth_passwd_options(argc, argv, &args);

    if (rc == NGX_DONE) {
        return 0;
    }

    if (rc != NGX_OK
        || ngx_iot_auth_passwd_operands(argc, argv, &args) != NGX_OK
        || ngx_iot_auth_passwd_check(&args) != NGX_OK)
    {
        return NGX_IOT_AUTH_PASSWD_USAGE;
    }

    if (args.redis.address) {
        rc = ngx_iot_auth_passwd_login(&args);

        if (rc != NGX_OK) {
            return ngx_iot_auth_passwd_exit(rc);
        }
    }

    len = 0;

    if (args.pw.cmd == NGX_IOT_AUTH_PASSWD_ADD
        || args.pw.cmd == NGX_IOT_AUTH_PASSWD_ROTATE)
    {
        len = ngx_iot_auth_passwd_secret(&args, secret);

        if (len == NGX_ERROR) {
            return NGX_IOT_AUTH_PASSWD_USAGE;
        }

        rc = ngx_iot_auth_passwd_hash(secret, len, args.cost, hash);

        if (rc != NGX_OK) {
            explicit_bzero(secret, sizeof(secret));
            return NGX_IOT_AUTH_PASSWD_FAILED;
        }

        args.pw.hash = hash;
    }

    if (args.file) {
        rc = ngx_iot_auth_passwd_file(&args.pw, args.file);

    } else {
        rc = ngx_iot_auth_passwd_redis(&args.pw, &args.redis);
    }

    /* a generated secret is shown once, when it is in the store */

    if (rc == NGX_OK && len && args.source == NGX_IOT_AUTH_PASSWD_GENERATE) {
        secret[len] = '\n';

        if (fwrite(secret, len + 1, 1, stdout) != 1 || fflush(stdout) != 0) {
            ngx_iot_auth_passwd_log("could not print the new secret of "
                                    "device \"%.*s\": rotate it again",
                                    (int) args.pw.device.len,
                                    args.pw.device.data);
            rc = NGX_ERROR;
        }
    }

    explicit_bzero(secret, sizeof(secret));

    if (args.password_file && args.redis.password) {
        explicit_bzero(args.redis.password, strlen(args.redis.password));
    }

    return ngx_iot_auth_passwd_exit(rc);
}


/* NGX_DECLINED is what the module or the command line does not take */

static int
ngx_iot_auth_passwd_exit(ngx_int_t rc)
{
    switch (rc) {

    case NGX_OK:
        return 0;

    case NGX_DECLINED:
        return NGX_IOT_AUTH_PASSWD_USAGE;

    default:
        return NGX_IOT_AUTH_PASSWD_FAILED;
    }
}


/* NGX_DONE after --help */

static ngx_int_t
ngx_iot_auth_passwd_options(int argc, char **argv,
    ngx_iot_auth_passwd_args_t *args)
{
    int         c;
    ngx_uint_t  n;

    opterr = 0;

    for ( ;; ) {
        c = getopt_long(argc, argv, ":f:cr:n:C:p:ih",
                        ngx_iot_auth_passwd_long_options, NULL);

        switch (c) {

        case -1:
            return NGX_OK;

        case 'f':
            args->file = optarg;
            break;

        case 'c':
            args->pw.create = 1;
            break;

        case 'r':
            args->redis.address = optarg;
            break;

        case 'n':
            if (ngx_iot_auth_passwd_number(optarg, NGX_MAX_INT32_VALUE, &n)
                != NGX_OK)
            {
                ngx_iot_auth_passwd_log("invalid --db \"%s\"", optarg);
                return NGX_ERROR;
            }

            args->redis.db = (int) n;
            args->redis_only = "--db";
            break;

        case 'U':
            args->redis.user = optarg;
            args->redis_only = "--user";
            break;

        case 'P':
            args->password_file = optarg;
            args->redis_only = "--password-file";
            break;

        case 'K':
            args->redis.prefix.data = (u_char *) optarg;
            args->redis.prefix.len = strlen(optarg);
            args->redis_only = "--prefix";
            break;

        case 'R':
            args->redis.channel.data = (u_char *) optarg;
            args->redis.channel.len = strlen(optarg);
            args->redis_only = "--revoke-channel";
            break;

        case 'C':
            if (ngx_iot_auth_passwd_number(optarg, NGX_IOT_AUTH_COST_MAX,
                                           &args->cost)
                != NGX_OK
                || args->cost < NGX_IOT_AUTH_COST_MIN)
            {
                ngx_iot_auth_passwd_log("invalid cost \"%s\": bcrypt's "
                                        "cost must be %d to %d", optarg,
                                        NGX_IOT_AUTH_COST_MIN,
                                        NGX_IOT_AUTH_COST_MAX);
                return NGX_ERROR;
            }

            args->cost_given = 1;
            break;

        case 'p':
            args->pw.perms.data = (u_char *) optarg;
            args->pw.perms.len = strlen(optarg);
            args->perms_given = 1;
            break;

        case 'i':
            args->stdin_given = 1;
            break;

        case 'S':
            args->secret = optarg;
            break;

        case 'H':
            args->pw.hashes = 1;
            break;

        case 'h':
            ngx_iot_auth_passwd_usage();
            return NGX_DONE;

        case ':':
            ngx_iot_auth_passwd_log("option \"%s\" needs a value",
                                    argv[optind - 1]);
            return NGX_ERROR;

        default:
            if (optopt) {
                ngx_iot_auth_passwd_log("unknown option \"-%c\" "
                                        "(see --help)", optopt);

            } else {
                ngx_iot_auth_passwd_log("unknown option \"%s\" "
                                        "(see --help)", argv[optind - 1]);
            }

            return NGX_ERROR;
        }
    }
}


static ngx_int_t
ngx_iot_auth_passwd_operands(int argc, char **argv,
    ngx_iot_auth_passwd_args_t *args)
{
    char                           *device;
    ngx_uint_t                      n;
    ngx_iot_auth_passwd_command_t  *cmd;

    if (optind == argc) {
        ngx_iot_auth_passwd_log("no command (see --help)");
        return NGX_ERROR;
    }

    for (cmd = ngx_iot_auth_passwd_commands; cmd->name; cmd++) {
        if (strcmp(cmd->name, argv[optind]) == 0) {
            break;
        }
    }

    if (cmd->name == NULL) {
        ngx_iot_auth_passwd_log("unknown command \"%s\" (see --help)",
                                argv[optind]);
        return NGX_ERROR;
    }

    n = argc - optind - 1;

    if (n != cmd->nargs) {
        ngx_iot_auth_passwd_log("\"%s\" takes %s", cmd->name,
                                cmd->nargs == 0 ? "no device"
                                : cmd->nargs == 1 ? "one device id"
                                : "a device id and a perms mask");
        return NGX_ERROR;
    }

    args->pw.cmd = cmd->cmd;

    if (n == 0) {
        return NGX_OK;
    }

    device = argv[optind + 1];

    args->pw.device.data = (u_char *) device;
    args->pw.device.len = strlen(device);

    if (!ngx_iot_auth_record_valid_id(args->pw.device.data,
                                      args->pw.device.len))
    {
        ngx_iot_auth_passwd_log("invalid device id of %zu bytes: a device "
                                "id is 1 to %d bytes of visible ASCII",
                                args->pw.device.len,
                                NGX_IOT_AUTH_DEVICE_MAX);
        return NGX_ERROR;
    }

    if (n == 2) {
        args->pw.perms.data = (u_char *) argv[optind + 2];
        args->pw.perms.len = strlen(argv[optind + 2]);
    }

    return NGX_OK;
}


/* options that make no sense together, and the perms mask */

static ngx_int_t
ngx_iot_auth_passwd_check(ngx_iot_auth_passwd_args_t *args)
{
    uint32_t                   perms;
    ngx_uint_t                 secret;
    ngx_iot_auth_passwd_cmd_e  cmd;

    cmd = args->pw.cmd;
    secret = (cmd == NGX_IOT_AUTH_PASSWD_ADD
              || cmd == NGX_IOT_AUTH_PASSWD_ROTATE);

    if ((args->file == NULL) == (args->redis.address == NULL)) {
        ngx_iot_auth_passwd_log("give one store: --file PATH or "
                                "--redis ADDRESS");
        return NGX_ERROR;
    }

    if (args->file && args->redis_only) {
        ngx_iot_auth_passwd_log("%s is an option of --redis",
                                args->redis_only);
        return NGX_ERROR;
    }

    if (args->pw.create
        && (args->file == NULL || cmd != NGX_IOT_AUTH_PASSWD_ADD))
    {
        ngx_iot_auth_passwd_log("--create goes with --file and \"add\"");
        return NGX_ERROR;
    }

    if (args->perms_given && cmd != NGX_IOT_AUTH_PASSWD_ADD) {
        ngx_iot_auth_passwd_log("--perms goes with \"add\"; "
                                "\"perms DEVICE MASK\" changes them");
        return NGX_ERROR;
    }

    if (args->secret && args->stdin_given) {
        ngx_iot_auth_passwd_log("--stdin and --secret exclude each other");
        return NGX_ERROR;
    }

    args->source = args->secret ? NGX_IOT_AUTH_PASSWD_ARGV
                   : args->stdin_given ? NGX_IOT_AUTH_PASSWD_STDIN
                   : NGX_IOT_AUTH_PASSWD_GENERATE;

    if (!secret
        && (args->cost_given || args->source != NGX_IOT_AUTH_PASSWD_GENERATE))
    {
        ngx_iot_auth_passwd_log("--cost, --stdin and --secret go with "
                                "\"add\" and \"rotate\"");
        return NGX_ERROR;
    }

    if (args->pw.hashes && cmd != NGX_IOT_AUTH_PASSWD_LIST) {
        ngx_iot_auth_passwd_log("--hashes goes with \"list\"");
        return NGX_ERROR;
    }

    if (args->pw.perms.data
        && ngx_iot_auth_record_parse_perms(args->pw.perms.data,
                                           args->pw.perms.len, &perms)
           != NGX_OK)
    {
        ngx_iot_auth_passwd_log("invalid perms: a perms mask is a decimal "
                                "or \"0x\" hexadecimal 32-bit number");
        return NGX_ERROR;
    }

    return NGX_OK;
}


/*
 * the Redis password: from --password-file, else from the environment;
 * never from the command line, where ps(1) shows it
 */

static ngx_int_t
ngx_iot_auth_passwd_login(ngx_iot_auth_passwd_args_t *args)
{
    int      fd;
    char    *env;
    u_char  *buf;
    ssize_t  n;

    if (args->password_file == NULL) {
        env = getenv(NGX_IOT_AUTH_PASSWD_ENV);
        args->redis.password = (env && *env) ? env : NULL;

    } else {
        fd = open(args->password_file, O_RDONLY | O_CLOEXEC);
        if (fd == -1) {
            ngx_iot_auth_passwd_log("cannot open \"%s\": %s",
                                    args->password_file, strerror(errno));
            return NGX_ERROR;
        }

        buf = malloc(NGX_IOT_AUTH_PASSWD_MAX + 1);
        if (buf == NULL) {
            (void) close(fd);
            ngx_iot_auth_passwd_log("out of memory");
            return NGX_ERROR;
        }

        n = ngx_iot_auth_passwd_line(fd, buf, NGX_IOT_AUTH_PASSWD_MAX);

        (void) close(fd);

        if (n <= 0 || n == NGX_IOT_AUTH_PASSWD_MAX) {
            ngx_iot_auth_passwd_log("\"%s\" holds no password on its "
                                    "first line (at most %d bytes)",
                                    args->password_file,
                                    NGX_IOT_AUTH_PASSWD_MAX - 1);
            explicit_bzero(buf, NGX_IOT_AUTH_PASSWD_MAX);
            free(buf);
            return NGX_ERROR;
        }

        buf[n] = '\0';
        args->redis.password = (char *) buf;
    }

    if (args->redis.user && args->redis.password == NULL) {
        ngx_iot_auth_passwd_log("--user needs a password: --password-file "
                                "or " NGX_IOT_AUTH_PASSWD_ENV);
        return NGX_DECLINED;
    }

    return NGX_OK;
}


/* 1 to 10 decimal digits, at most max */

static ngx_int_t
ngx_iot_auth_passwd_number(char *s, ngx_uint_t max, ngx_uint_t *n)
{
    size_t  len;

    len = strlen(s);

    if (len == 0 || len > 10) {
        return NGX_ERROR;
    }

    for (*n = 0; *s; s++) {
        if (*s < '0' || *s > '9') {
            return NGX_ERROR;
        }

        *n = *n * 10 + (*s - '0');
    }

    return (*n <= max) ? NGX_OK : NGX_ERROR;
}


/* the secret of add or rotate, checked as the module checks a token */

static ssize_t
ngx_iot_auth_passwd_secret(ngx_iot_auth_passwd_args_t *args, u_char *secret)
{
    size_t   size;
    ssize_t  len;

    size = NGX_IOT_AUTH_TOKEN_MAX + 1;

    switch (args->source) {

    case NGX_IOT_AUTH_PASSWD_GENERATE:
        return ngx_iot_auth_passwd_generate(secret);

    case NGX_IOT_AUTH_PASSWD_STDIN:
        if (isatty(STDIN_FILENO)) {
            len = ngx_iot_auth_passwd_prompt(&args->pw.device, secret);

        } else {
            len = ngx_iot_auth_passwd_line(STDIN_FILENO, secret, size);
        }

        if (len == NGX_ERROR) {
            return NGX_ERROR;
        }

        break;

    default: /* NGX_IOT_AUTH_PASSWD_ARGV */
        len = ngx_min(strlen(args->secret), size);
        ngx_memcpy(secret, args->secret, len);

        /* out of sight of ps(1) from now on */
        explicit_bzero(args->secret, strlen(args->secret));
    }

    if (!ngx_iot_auth_record_valid_token(secret, len)) {
        explicit_bzero(secret, size);
        ngx_iot_auth_passwd_log("invalid secret: a secret is 1 to %d "
                                "bytes of visible ASCII",
                                NGX_IOT_AUTH_TOKEN_MAX);
        return NGX_ERROR;
    }

    return len;
}


/* 128 random bits in hex: 32 characters, a valid token anywhere */

static ssize_t
ngx_iot_auth_passwd_generate(u_char *secret)
{
    size_t         i;
    u_char        *p;
    ssize_t        n;
    u_char         bits[NGX_IOT_AUTH_PASSWD_BITS / 8];
    static u_char  hex[] = "0123456789abcdef";

    for (i = 0; i < sizeof(bits); i += n) {
        n = getrandom(bits + i, sizeof(bits) - i, 0);

        if (n == -1) {
            if (errno == EINTR) {
                n = 0;
                continue;
            }

            ngx_iot_auth_passwd_log("getrandom() failed: %s",
                                    strerror(errno));
            return NGX_ERROR;
        }
    }

    p = secret;

    for (i = 0; i < sizeof(bits); i++) {
        *p++ = hex[bits[i] >> 4];
        *p++ = hex[bits[i] & 0x0f];
    }

    explicit_bzero(bits, sizeof(bits));

    return p - secret;
}


/* asks twice on the terminal, without echo */

static ssize_t
ngx_iot_auth_passwd_prompt(ngx_str_t *device, u_char *secret)
{
    size_t            size;
    ssize_t           len, again;
    struct termios    tty;
    struct sigaction  sa;
    u_char            confirm[NGX_IOT_AUTH_TOKEN_MAX + 1];

    if (tcgetattr(STDIN_FILENO, &ngx_iot_auth_passwd_tty) == -1) {
        ngx_iot_auth_passwd_log("tcgetattr() failed: %s", strerror(errno));
        return NGX_ERROR;
    }

    /* echo comes back even when the prompt is interrupted */

    ngx_memzero(&sa, sizeof(struct sigaction));
    sa.sa_handler = ngx_iot_auth_passwd_restore_tty;
    sa.sa_flags = SA_RESETHAND;
    (void) sigaction(SIGINT, &sa, NULL);
    (void) sigaction(SIGTERM, &sa, NULL);
    (void) sigaction(SIGHUP, &sa, NULL);
    (void) sigaction(SIGQUIT, &sa, NULL);

    tty = ngx_iot_auth_passwd_tty;
    tty.c_lflag &= ~ECHO;
    tty.c_lflag |= ECHONL;

    (void) tcsetattr(STDIN_FILENO, TCSAFLUSH, &tty);

    size = sizeof(confirm);

    fprintf(stderr, "Secret for device \"%.*s\": ",
            (int) device->len, device->data);
    len = ngx_iot_auth_passwd_line(STDIN_FILENO, secret, size);

    again = NGX_ERROR;

    if (len != NGX_ERROR) {
        fprintf(stderr, "Again: ");
        again = ngx_iot_auth_passwd_line(STDIN_FILENO, confirm, size);
    }

    (void) tcsetattr(STDIN_FILENO, TCSAFLUSH, &ngx_iot_auth_passwd_tty);

    if (again != len || ngx_memcmp(secret, confirm, len) != 0) {
        explicit_bzero(secret, size);
        len = NGX_ERROR;

        if (again != NGX_ERROR) {
            ngx_iot_auth_passwd_log("the two secrets differ");
        }
    }

    explicit_bzero(confirm, size);

    return len;
}


static void
ngx_iot_auth_passwd_restore_tty(int signo)
{
    (void) tcsetattr(STDIN_FILENO, TCSAFLUSH, &ngx_iot_auth_passwd_tty);
    (void) raise(signo);
}


/*
 * one line, without its LF or CRLF: its length, which is size when the
 * line does not fit (the rest stays unread), or NGX_ERROR
 */

static ssize_t
ngx_iot_auth_passwd_line(int fd, u_char *buf, size_t size)
{
    u_char   c;
    size_t   len;
    ssize_t  n;

    len = 0;

    while (len < size) {
        n = read(fd, &c, 1);

        if (n == -1) {
            if (errno == EINTR) {
                continue;
            }

            ngx_iot_auth_passwd_log("read() failed: %s", strerror(errno));
            return NGX_ERROR;
        }

        if (n == 0 || c == '\n') {
            break;
        }

        buf[len++] = c;
    }

    if (len && len < size && buf[len - 1] == '\r') {
        len--;
    }

    return len;
}


static ngx_int_t
ngx_iot_auth_passwd_hash(u_char *secret, size_t len, ngx_uint_t cost,
    u_char *hash)
{
    char               *h;
    ngx_int_t           rc;
    struct crypt_data  *cd;
    char                salt[CRYPT_GENSALT_OUTPUT_SIZE];
    char                phrase[NGX_IOT_AUTH_TOKEN_MAX + 1];

    /* NULL random bytes: libxcrypt takes them from the kernel */

    if (crypt_gensalt_rn("$2b$", cost, NULL, 0, salt, sizeof(salt)) == NULL) {
        ngx_iot_auth_passwd_log("crypt_gensalt_rn() failed: %s",
                                strerror(errno));
        return NGX_ERROR;
    }

    cd = calloc(1, sizeof(struct crypt_data));
    if (cd == NULL) {
        ngx_iot_auth_passwd_log("out of memory");
        return NGX_ERROR;
    }

    ngx_memcpy(phrase, secret, len);
    phrase[len] = '\0';

    h = crypt_rn(phrase, salt, cd, sizeof(struct crypt_data));

    rc = NGX_ERROR;

    if (h == NULL) {
        ngx_iot_auth_passwd_log("crypt_rn() failed: %s", strerror(errno));

    } else if (ngx_iot_auth_record_hash_cost((u_char *) h, strlen(h))
               != (ngx_int_t) cost)
    {
        ngx_iot_auth_passwd_log("libcrypt made a hash that the module "
                                "would refuse");

    } else {
        ngx_memcpy(hash, h, NGX_IOT_AUTH_HASH_LEN);
        rc = NGX_OK;
    }

    explicit_bzero(phrase, sizeof(phrase));
    explicit_bzero(cd, sizeof(struct crypt_data));
    free(cd);

    return rc;
}


/* "DEVICE COST PERMS STATE [HASH]", the columns of "list" */

void
ngx_iot_auth_passwd_print(ngx_iot_auth_passwd_entry_t *e, ngx_uint_t hashes)
{
    char  *state;
    char   cost[NGX_INT_T_LEN], perms[NGX_INT32_LEN + 2];

    if (e->hash) {
        (void) snprintf(cost, sizeof(cost), "%u", (unsigned) e->cost);

    } else {
        ngx_memcpy(cost, "-", 2);
    }

    if (e->perms_ok) {
        (void) snprintf(perms, sizeof(perms), "0x%x", (unsigned) e->perms);

    } else {
        ngx_memcpy(perms, "-", 2);
    }

    if (e->disabled) {
        state = "disabled";

    } else if (e->hash == NULL || !e->perms_ok) {
        state = "invalid";

    } else {
        state = "enabled";
    }

    printf("%.*s %s %s %s", (int) e->id.len, e->id.data, cost, perms, state);

    if (hashes) {
        printf(" %.*s", e->hash ? NGX_IOT_AUTH_HASH_LEN : 1,
               e->hash ? (char *) e->hash : "-");
    }

    putchar('\n');
}


/* for ngx_qsort() of pointers to entries: by device id */

int ngx_libc_cdecl
ngx_iot_auth_passwd_cmp(const void *one, const void *two)
{
    ngx_str_t  *a = &(*(ngx_iot_auth_passwd_entry_t **) one)->id;
    ngx_str_t  *b = &(*(ngx_iot_auth_passwd_entry_t **) two)->id;

    int  rc;

    rc = ngx_memcmp(a->data, b->data, ngx_min(a->len, b->len));

    if (rc != 0 || a->len == b->len) {
        return rc;
    }

    return (a->len < b->len) ? -1 : 1;
}


/* errors and notes go to stderr: stdout is for a new secret and "list" */

void
ngx_iot_auth_passwd_log(const char *fmt, ...)
{
    va_list  args;

    fputs(NGX_IOT_AUTH_PASSWD_NAME ": ", stderr);

    va_start(args, fmt);
    vfprintf(stderr, fmt, args);
    va_end(args);

    fputc('\n', stderr);
}


static void
ngx_iot_auth_passwd_usage(void)
{
    fputs(
"Usage: " NGX_IOT_AUTH_PASSWD_NAME " --file PATH | --redis ADDRESS [OPTIONS]\n"
"                       COMMAND [DEVICE [MASK]]\n"
"\n"
"Adds and changes the devices that ngx_iot_auth lets in.\n"
"\n"
"Stores:\n"
"  -f, --file PATH        a credentials file, device_id:bcrypt_hash[:perms]\n"
"  -r, --redis ADDRESS    Redis at HOST[:PORT] (port 6379 by default)\n"
"                         or unix:/PATH\n"
"\n"
"Commands:\n"
"  add DEVICE             add a device; unless --stdin or --secret gives\n"
"                         its secret, one is made and printed once\n"
"  rotate DEVICE          give a device a new secret, as \"add\" does\n"
"  disable DEVICE         refuse a device, keeping its record\n"
"  enable DEVICE          accept a disabled device again\n"
"  delete DEVICE          remove a device\n"
"  perms DEVICE MASK      set a device's perms (decimal or 0x hex)\n"
"  list                   the devices: DEVICE COST PERMS STATE\n"
"\n"
"Options:\n"
"  -C, --cost N           bcrypt cost, 4 to 31 (default 10)\n"
"  -p, --perms MASK       the perms of the device that \"add\" adds\n"
"  -i, --stdin            read the secret from standard input (asked\n"
"                         twice, without echo, on a terminal)\n"
"      --secret SECRET    take the secret from the command line, where\n"
"                         other users (ps) and shell history see it\n"
"      --hashes           \"list\" shows the bcrypt hashes too\n"
"  -c, --create           \"add\" creates a missing credentials file\n"
"  -h, --help             this text\n"
"\n"
"Redis options:\n"
"  -n, --db N             the database number (default 0)\n"
"      --user NAME        log in as this ACL user (Redis 6 and newer)\n"
"      --password-file PATH\n"
"                         the password, on the file's first line; else\n"
"                         $" NGX_IOT_AUTH_PASSWD_ENV " if set\n"
"      --prefix PREFIX    the key prefix (default \""
                          NGX_IOT_AUTH_PASSWD_PREFIX "\")\n"
"      --revoke-channel NAME\n"
"                         publish the device id there after a change, so\n"
"                         gateways drop its cached verdicts at once\n"
"\n"
"A secret is 1 to 72 bytes of visible ASCII; a made one is 32 hex digits\n"
"(128 bits).  nginx reads a credentials file at start and reload: run\n"
"\"nginx -s reload\" after a change.  Exit status: 0 done; 1 failed\n"
"(unknown or existing device, file or Redis error); 2 refused (usage, or\n"
"a device id, secret, perms mask or cost that the module would refuse).\n",
    stdout);
}
