/*
 * bench/mqtt-connect: MQTT 3.1.1 CONNECTs against a broker, or a proxy in
 * front of one, for `make bench` (bench/mqtt.sh).  Linux (epoll).
 *
 *   mqtt-connect [-c CONNS] [-d SECONDS] [-s] [-t TIMEOUT] [-f CREDS]
 *                HOST PORT
 *
 * Each connection sends a CONNECT (clean session, a client id of its
 * own, the user name and password of the next line of CREDS, a file of
 * "id secret ..." lines; none without -f), waits for the CONNACK, and
 * when it is accepted sends DISCONNECT and waits for the peer to close.
 *
 * Rate mode (default): CONNS connections (default 32) at a time, a new
 * one as soon as one ends, for SECONDS (default 5).
 * Storm mode (-s): CONNS connections at once (default: one per line of
 * CREDS), each started once.
 *
 * Every connection ends within TIMEOUT seconds (default 30), so the
 * run within SECONDS + TIMEOUT.  Prints "key value"
 * lines: connects (ended), accepted (CONNACK 0), refused (another
 * code), failed (closed, timed out or an error before a CONNACK),
 * seconds, rate (ended per second), and the CONNACK latency: p50_ms,
 * p99_ms, max_ms.
 */

#define _GNU_SOURCE

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>


enum { CONNECTING, WAIT_CONNACK, WAIT_CLOSE };


typedef struct {
    int        fd;
    int        state;
    size_t     got;
    unsigned char     buf[4];
    double     start;
} conn_t;


typedef struct {
    char      *user;
    char      *pass;
} cred_t;


static struct sockaddr_in  peer;
static cred_t             *creds;
static size_t              ncreds, next_cred;
static unsigned long       seq;
static double              timeout = 30;
static int                 ep;

static unsigned long       connects, accepted, refused, failed;
static double             *lat;
static size_t              nlat, lat_size;


static double
now(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);

    return ts.tv_sec + ts.tv_nsec / 1e9;
}


static void
die(const char *what)
{
    perror(what);
    exit(1);
}


static void
read_creds(const char *path)
{
    char    line[1024], user[512], pass[512];
    FILE   *f;
    size_t  size = 0;

    f = fopen(path, "r");
    if (f == NULL) {
        die(path);
    }

    while (fgets(line, sizeof(line), f)) {
        if (sscanf(line, "%511s %511s", user, pass) != 2) {
            continue;
        }

        if (ncreds == size) {
            size = size ? 2 * size : 1024;
            creds = realloc(creds, size * sizeof(cred_t));
            if (creds == NULL) {
                die("realloc");
            }
        }

        creds[ncreds].user = strdup(user);
        creds[ncreds].pass = strdup(pass);
        ncreds++;
    }

    fclose(f);

    if (ncreds == 0) {
        fprintf(stderr, "mqtt-connect: no \"id secret\" line in %s\n", path);
        exit(1);
    }
}


static unsigned char *
put_string(unsigned char *p, const char *s, size_t len)
{
    *p++ = len >> 8;
    *p++ = len & 0xff;
    memcpy(p, s, len);

    return p + len;
}


/* a CONNECT with a client id of its own and the next credentials */

static size_t
connect_packet(unsigned char *out)
{
    char     id[32];
    unsigned char   body[1200], *p, *q, flags;
    size_t   len, rem;
    cred_t  *cred = NULL;

    snprintf(id, sizeof(id), "b%d-%lu", (int) getpid(), seq++);

    flags = 0x02;

    if (ncreds) {
        cred = &creds[next_cred++ % ncreds];
        flags |= 0xc0;
    }

    p = put_string(body, "MQTT", 4);
    *p++ = 4;
    *p++ = flags;
    *p++ = 0;
    *p++ = 60;
    p = put_string(p, id, strlen(id));

    if (cred) {
        p = put_string(p, cred->user, strlen(cred->user));
        p = put_string(p, cred->pass, strlen(cred->pass));
    }

    len = p - body;

    q = out;
    *q++ = 0x10;

    for (rem = len; ; ) {
        *q = rem & 0x7f;
        rem >>= 7;

        if (rem == 0) {
            q++;
            break;
        }

        *q++ |= 0x80;
    }

    memcpy(q, body, len);

    return q - out + len;
}


static void
start(conn_t *c)
{
    struct epoll_event  ev;

    memset(c, 0, sizeof(conn_t));

    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (c->fd == -1) {
        die("socket");
    }

    c->start = now();
    c->state = CONNECTING;

    if (connect(c->fd, (struct sockaddr *) &peer, sizeof(peer)) == -1
        && errno != EINPROGRESS)
    {
        die("connect");
    }

    ev.events = EPOLLOUT | EPOLLIN;
    ev.data.ptr = c;

    if (epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev) == -1) {
        die("epoll_ctl");
    }
}


static void
finish(conn_t *c, unsigned long *counter)
{
    close(c->fd);
    c->fd = -1;
    connects++;
    (*counter)++;
}


static void
record(double ms)
{
    if (nlat == lat_size) {
        lat_size = lat_size ? 2 * lat_size : 4096;
        lat = realloc(lat, lat_size * sizeof(double));
        if (lat == NULL) {
            die("realloc");
        }
    }

    lat[nlat++] = ms;
}


/* moves a connection on; returns 1 when it has ended */

static int
step(conn_t *c, uint32_t events)
{
    int                 err;
    unsigned char              pkt[1300], tmp[256];
    ssize_t             n;
    socklen_t           len;
    struct epoll_event  ev;

    switch (c->state) {

    case CONNECTING:
        len = sizeof(err);

        if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1
            || err != 0 || (events & (EPOLLERR | EPOLLHUP)))
        {
            finish(c, &failed);
            return 1;
        }

        if (!(events & EPOLLOUT)) {
            return 0;
        }

        n = connect_packet(pkt);

        if (write(c->fd, pkt, n) != n) {
            finish(c, &failed);
            return 1;
        }

        ev.events = EPOLLIN;
        ev.data.ptr = c;

        if (epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev) == -1) {
            die("epoll_ctl");
        }

        c->state = WAIT_CONNACK;
        return 0;

    case WAIT_CONNACK:
        n = read(c->fd, c->buf + c->got, sizeof(c->buf) - c->got);

        if (n == -1 && errno == EAGAIN) {
            return 0;
        }

        if (n <= 0) {
            finish(c, &failed);
            return 1;
        }

        c->got += n;

        if (c->got < sizeof(c->buf)) {
            return 0;
        }

        record((now() - c->start) * 1000);

        if (c->buf[0] != 0x20 || c->buf[3] != 0) {
            finish(c, &refused);
            return 1;
        }

        if (write(c->fd, "\xe0\x00", 2) != 2) {
            finish(c, &failed);
            return 1;
        }

        c->state = WAIT_CLOSE;
        return 0;

    default: /* WAIT_CLOSE: the peer closes first, and keeps TIME_WAIT */

        for ( ;; ) {
            n = read(c->fd, tmp, sizeof(tmp));

            if (n > 0) {
                continue;
            }

            if (n == -1 && errno == EAGAIN) {
                return 0;
            }

            finish(c, &accepted);
            return 1;
        }
    }
}


static int
cmp(const void *a, const void *b)
{
    double  x = *(const double *) a, y = *(const double *) b;

    return (x > y) - (x < y);
}


static double
pct(double p)
{
    size_t  i;

    if (nlat == 0) {
        return 0;
    }

    i = (size_t) (p * nlat);

    return lat[i < nlat ? i : nlat - 1];
}


int
main(int argc, char **argv)
{
    int                 opt, storm, i, n, active;
    long                conns;
    conn_t             *pool, *c;
    double              seconds, t0, end, t;
    struct epoll_event  events[256];

    conns = -1;
    seconds = 5;
    storm = 0;

    while ((opt = getopt(argc, argv, "c:d:st:f:")) != -1) {
        switch (opt) {
        case 'c': conns = atol(optarg); break;
        case 'd': seconds = atof(optarg); break;
        case 's': storm = 1; break;
        case 't': timeout = atof(optarg); break;
        case 'f': read_creds(optarg); break;
        default:
            fprintf(stderr, "usage: mqtt-connect [-c CONNS] [-d SECONDS] "
                    "[-s] [-t TIMEOUT] [-f CREDS] HOST PORT\n");
            return 2;
        }
    }

    if (argc - optind != 2) {
        fprintf(stderr, "mqtt-connect: HOST and PORT are needed\n");
        return 2;
    }

    peer.sin_family = AF_INET;
    peer.sin_port = htons(atoi(argv[optind + 1]));

    if (inet_pton(AF_INET, argv[optind], &peer.sin_addr) != 1) {
        fprintf(stderr, "mqtt-connect: HOST must be an IPv4 address\n");
        return 2;
    }

    if (conns < 0) {
        conns = (storm && ncreds) ? (long) ncreds : 32;
    }

    if (conns < 1 || conns > 100000) {
        fprintf(stderr, "mqtt-connect: CONNS must be 1 to 100000\n");
        return 2;
    }

    pool = calloc(conns, sizeof(conn_t));
    if (pool == NULL) {
        die("calloc");
    }

    ep = epoll_create1(0);
    if (ep == -1) {
        die("epoll_create1");
    }

    t0 = now();
    end = t0 + seconds;

    for (i = 0; i < conns; i++) {
        start(&pool[i]);
    }

    active = conns;

    while (active) {
        n = epoll_wait(ep, events, 256, 100);

        if (n == -1 && errno != EINTR) {
            die("epoll_wait");
        }

        t = now();

        for (i = 0; i < n; i++) {
            c = events[i].data.ptr;

            if (!step(c, events[i].events)) {
                continue;
            }

            if (!storm && t < end) {
                start(c);

            } else {
                active--;
            }
        }

        for (i = 0; i < conns && active; i++) {
            c = &pool[i];

            if (c->fd != -1 && t - c->start > timeout) {
                finish(c, &failed);
                active--;
            }
        }
    }

    t = now() - t0;

    qsort(lat, nlat, sizeof(double), cmp);

    printf("connects %lu\naccepted %lu\nrefused %lu\nfailed %lu\n"
           "seconds %.3f\nrate %.1f\np50_ms %.3f\np99_ms %.3f\n"
           "max_ms %.3f\n",
           connects, accepted, refused, failed, t, connects / t,
           pct(0.50), pct(0.99), nlat ? lat[nlat - 1] : 0.0);

    return 0;
}
