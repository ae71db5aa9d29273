/* SPDX-License-Identifier: BSD-2-Clause */
/* An open-loop HTTP/1.1 load generator for tests/stress/overload.py: it
 * sends RATE requests a second on a fixed plan, whatever the server
 * answers, where wrk sends the next request only once the previous one is
 * answered and so slows down with the server it overloads. Debian has no
 * wrk2, which does this. Each request's latency runs from its planned start,
 * not from when a connection was free to send it (wrk2's correction for
 * coordinated omission), so a request that waited for a connection counts
 * that wait. Keep-alive connections, at most CONNS; a request planned while
 * all are busy waits, in plan order, until one is free or TIMEOUT passes
 * (counted as a timeout, as is an answer slower than TIMEOUT, after which
 * its connection is closed and another opened).
 *
 *   openloop -r RATE -c CONNS -d SECONDS [-t TIMEOUT_MS] [-k IDLE_MS]
 *            [-s FILE] [-w] HOST PORT PATH
 *
 * Prints key=value lines: sent, per status counts (status_200=...),
 * timeouts, connect errors (a connection that could not be opened or was
 * refused; the request planned on it fails), read errors (a connection
 * lost with a request on it), the 2xx latency quantiles in ms and those
 * of the other answers (err_). A request on a connection whose handshake
 * waits (the server's accept queue is full) goes once it is done.
 *
 * -k IDLE_MS closes a kept-alive connection idle longer than that instead
 * of sending on it: a server closes idle connections after its own
 * keep-alive timeout (nginx's 75 s), and a request sent as it does is
 * lost (a read error) where a browser would try it again.
 *
 * -w gives an answer TIMEOUT from its send instead of its planned start
 * (a request still waits for a connection TIMEOUT at most). Without it,
 * once the plan queued here is TIMEOUT deep each request leaves it nearly
 * expired and is cut within milliseconds, its connection closed and
 * opened again, and the servers, busy with requests already given up,
 * answer none in time until the queue empties by expiring: a state that
 * outlasts the slowdown that began it. Many clients do not share one
 * such queue; with -w the generator waits for the server as each of
 * them would. The latency still runs from the planned start.
 *
 * -s FILE also writes the run as a series, to line failures up with
 * what happened to the server meanwhile (tests/stress/chaos.py). Times
 * are seconds from the first planned request; its CLOCK_MONOTONIC time
 * is on the first line:
 *   start MONOTONIC_S
 *   f PLANNED_S LATENCY_MS KIND     one per failed request, as it fails:
 *                                   KIND a status other than 2xx,
 *                                   "timeout", "connect" (refused) or
 *                                   "read" (connection lost)
 *   b PLANNED_S PLANNED OK FAILED MAX_OK_MS
 *                                   at the end, one per 100 ms of plan:
 *                                   the requests planned in it, the 2xx,
 *                                   the others, the slowest 2xx
 *
 * SIGINT or SIGTERM ends the plan early: what was planned still gets its
 * answer or its timeout, and the totals are printed, with seconds the
 * time the plan ran. */
#include <errno.h>
#include <event2/event.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <arpa/inet.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BUF 65536
/* latency buckets: bucket b holds [2^(b/32), 2^((b+1)/32)) µs, 2% wide */
#define BUCKETS (32 * 40)

struct conn {
    int fd;
    struct event *ev, *wev;  /* reads; the connect's end (once) */
    bool connected, busy;
    double planned;          /* planned start of the request in flight */
    double sent_at;          /* when it was sent */
    double idle_since;
    char buf[BUF];
    size_t len;
    struct conn *next_idle;
};

static struct {
    struct event_base *base;
    struct sockaddr_in addr;
    char req[1024];
    size_t req_len;
    double rate, start, duration, timeout, max_idle;
    bool from_send;          /* -w: an answer's TIMEOUT runs from its send */
    unsigned max_conns, open;
    struct conn **conns;
    struct conn *idle;
    /* planned starts not sent yet: a ring in plan order */
    double *backlog;
    size_t bl_head, bl_len, bl_cap;
    uint64_t planned, sent, timeouts, connect_err, read_err, unsent;
    uint64_t status[600];
    uint64_t hist[BUCKETS], hist_err[BUCKETS];   /* 2xx, other answers */
    /* -s: the failures as they come, the plan's slices at the end */
    FILE *series;
    struct slice {
        uint32_t planned, ok, failed;
        float max_ok_ms;
    } *slices;
    size_t nslices;
} g;

#define SLICE_S 0.1

static double
now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static struct slice *
slice_of(double planned)
{
    /* a little over, so a plan on a slice's edge lands in that slice */
    size_t i = (size_t) ((planned - g.start) / SLICE_S + 1e-6);

    return g.slices != NULL && i < g.nslices ? &g.slices[i] : NULL;
}

/* A request planned at planned failed: kind names how, or status does. */
static void
failed(double planned, const char *kind, int status)
{
    struct slice *s = slice_of(planned);

    if (g.series == NULL)
        return;
    if (s != NULL)
        s->failed++;
    if (kind != NULL)
        fprintf(g.series, "f %.6f %.3f %s\n", planned - g.start,
                (now() - planned) * 1e3, kind);
    else
        fprintf(g.series, "f %.6f %.3f %d\n", planned - g.start,
                (now() - planned) * 1e3, status);
}

static void on_io(evutil_socket_t fd, short what, void *arg);
static void on_writable(evutil_socket_t fd, short what, void *arg);
static void conn_close(struct conn *c);

/* c's request failed with its connection: refused before it came up, or
 * lost (a reset, a close) once it had. */
static void
lost(struct conn *c)
{
    if (c->connected) {
        g.read_err++;
        failed(c->planned, "read", 0);
    } else {
        g.connect_err++;
        failed(c->planned, "connect", 0);
    }
    conn_close(c);
}

static void
conn_close(struct conn *c)
{
    event_free(c->ev);
    event_free(c->wev);
    close(c->fd);
    c->fd = -1;
    c->connected = c->busy = false;
    c->len = 0;
    g.open--;
}

static bool
conn_open(struct conn *c)
{
    int one = 1;

    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (c->fd < 0) {
        g.connect_err++;
        return false;
    }
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (connect(c->fd, (struct sockaddr *) &g.addr, sizeof(g.addr)) < 0
        && errno != EINPROGRESS) {
        close(c->fd);
        c->fd = -1;
        g.connect_err++;
        return false;
    }
    c->ev = event_new(g.base, c->fd, EV_READ | EV_PERSIST, on_io, c);
    c->wev = event_new(g.base, c->fd, EV_WRITE, on_writable, c);
    event_add(c->ev, NULL);
    c->connected = false;
    c->len = 0;
    g.open++;
    return true;
}

static void
send_req(struct conn *c)
{
    ssize_t n = send(c->fd, g.req, g.req_len, MSG_NOSIGNAL);

    /* Not connected yet: the server's accept queue is full, so the
     * handshake waits, and the request goes once it is done. */
    if (n < 0 && errno == EAGAIN && !c->connected) {
        event_add(c->wev, NULL);
        return;
    }
    if (n == (ssize_t) g.req_len) {
        c->connected = true;
        return;
    }
    /* a loopback socket's buffer takes a whole small request or nothing:
     * a failure here is a refused connect or the peer's reset */
    lost(c);
}

static void
on_writable(evutil_socket_t fd, short what, void *arg)
{
    send_req(arg);
}

static void
send_on(struct conn *c, double planned)
{
    c->busy = true;
    c->planned = planned;
    c->sent_at = now();
    c->len = 0;
    g.sent++;
    send_req(c);
}

/* A free connection, or NULL when all CONNS carry a request. */
static struct conn *
take_conn(void)
{
    struct conn *c;

    while ((c = g.idle) != NULL) {
        g.idle = c->next_idle;
        if (g.max_idle == 0 || now() - c->idle_since <= g.max_idle)
            return c;
        conn_close(c);      /* the server may be closing it right now */
    }
    for (unsigned i = 0; i < g.max_conns; i++)
        if (g.conns[i]->fd < 0) {
            /* a connect on loopback completes before the first send is
             * read by the server, unless its accept queue is full: send
             * at once, the kernel queues it (send_req waits otherwise) */
            if (!conn_open(g.conns[i]))
                return NULL;
            return g.conns[i];
        }
    return NULL;
}

static void
give_back(struct conn *c)
{
    c->busy = false;
    c->idle_since = now();
    c->next_idle = g.idle;
    g.idle = c;
}

static void
drain_backlog(void)
{
    double t = now();

    while (g.bl_len > 0) {
        double planned = g.backlog[g.bl_head];
        struct conn *c;

        if (t - planned > g.timeout) {       /* the client gave up */
            g.timeouts++;
            failed(planned, "timeout", 0);
            g.bl_head = (g.bl_head + 1) % g.bl_cap;
            g.bl_len--;
            continue;
        }
        if ((c = take_conn()) == NULL)
            return;
        g.bl_head = (g.bl_head + 1) % g.bl_cap;
        g.bl_len--;
        send_on(c, planned);
    }
}

static void
record(int status, double planned)
{
    double us = (now() - planned) * 1e6;

    if (status >= 100 && status < 600)
        g.status[status]++;
    int b = us < 1 ? 0 : (int) (32 * log2(us));

    b = b < BUCKETS ? b : BUCKETS - 1;
    if (status >= 200 && status < 300) {
        struct slice *s = slice_of(planned);

        g.hist[b]++;
        if (s != NULL) {
            s->ok++;
            if (us / 1e3 > s->max_ok_ms)
                s->max_ok_ms = (float) (us / 1e3);
        }
    } else {
        g.hist_err[b]++;
        failed(planned, NULL, status);
    }
}

/* Length of a complete response at the start of buf, 0 if more is
 * needed, -1 if it cannot be parsed. *status gets its code, *close
 * whether the server closes after it. Content-Length and chunked. */
static ssize_t
parse(const char *buf, size_t len, int *status, bool *close_after)
{
    const char *end = memmem(buf, len, "\r\n\r\n", 4), *p;
    size_t head, body = 0;
    bool chunked = false;

    if (end == NULL)
        return len > 16384 ? -1 : 0;
    head = end - buf + 4;
    if (len < 12 || strncmp(buf, "HTTP/1.", 7) != 0)
        return -1;
    *status = atoi(buf + 9);
    *close_after = false;
    for (p = memchr(buf, '\n', head); p != NULL && p < end;
         p = memchr(p + 1, '\n', end - p)) {
        const char *h = p + 1;

        if (strncasecmp(h, "content-length:", 15) == 0)
            body = strtoul(h + 15, NULL, 10);
        else if (strncasecmp(h, "transfer-encoding:", 18) == 0
                 && memmem(h, end - h, "chunked", 7) != NULL)
            chunked = true;
        else if (strncasecmp(h, "connection:", 11) == 0
                 && strncasecmp(h + 11 + strspn(h + 11, " "), "close", 5)
                    == 0)
            *close_after = true;
    }
    if (!chunked)
        return len >= head + body ? (ssize_t) (head + body) : 0;
    for (size_t off = head;;) {
        const char *nl = memmem(buf + off, len - off, "\r\n", 2);
        size_t sz;

        if (nl == NULL)
            return 0;
        sz = strtoul(buf + off, NULL, 16);
        off = nl - buf + 2 + sz + 2;
        if (off > len)
            return 0;
        if (sz == 0)
            return off;
    }
}

static void
on_io(evutil_socket_t fd, short what, void *arg)
{
    struct conn *c = arg;
    ssize_t n = recv(fd, c->buf + c->len, BUF - c->len, 0);

    if (n <= 0) {
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            return;
        if (c->busy) {
            lost(c);
        } else {
            /* a server closing an idle kept-alive connection: no error */
            for (struct conn **pp = &g.idle; *pp; pp = &(*pp)->next_idle)
                if (*pp == c) {
                    *pp = c->next_idle;
                    break;
                }
            conn_close(c);
        }
        drain_backlog();
        return;
    }
    c->len += n;
    if (!c->busy) {                 /* bytes nobody asked for */
        g.read_err++;
        conn_close(c);
        return;
    }
    for (;;) {
        int status = 0;
        bool close_after = false;
        ssize_t used = parse(c->buf, c->len, &status, &close_after);

        if (used == 0)
            return;
        if (used < 0) {
            g.read_err++;
            failed(c->planned, "read", 0);
            conn_close(c);
            break;
        }
        record(status, c->planned);
        memmove(c->buf, c->buf + used, c->len - used);
        c->len -= used;
        if (close_after)
            conn_close(c);
        else
            give_back(c);
        break;
    }
    drain_backlog();
}

/* Every millisecond: plan the requests due by now, cut answers overdue. */
static void
on_tick(evutil_socket_t fd, short what, void *arg)
{
    double t = now(), el = t - g.start;
    uint64_t due = (uint64_t) (fmin(el, g.duration) * g.rate);

    for (; g.planned < due; g.planned++) {
        struct slice *s = slice_of(g.start + g.planned / g.rate);

        if (s != NULL)
            s->planned++;
        if (g.bl_len == g.bl_cap) {        /* cannot happen within TIMEOUT */
            g.timeouts++;
            failed(g.start + g.planned / g.rate, "timeout", 0);
            continue;
        }
        g.backlog[(g.bl_head + g.bl_len) % g.bl_cap] =
            g.start + g.planned / g.rate;
        g.bl_len++;
    }
    bool busy = g.bl_len > 0;

    for (unsigned i = 0; i < g.max_conns; i++) {
        struct conn *c = g.conns[i];

        if (c->fd >= 0 && c->busy
            && t - (g.from_send ? c->sent_at : c->planned) > g.timeout) {
            g.timeouts++;
            failed(c->planned, "timeout", 0);
            conn_close(c);
        }
        busy |= c->fd >= 0 && c->busy;
    }
    drain_backlog();
    /* with -w the last planned request may wait TIMEOUT for a
     * connection and then TIMEOUT for its answer */
    if (el > g.duration + (g.from_send ? 2 : 1) * g.timeout
        || (el > g.duration && !busy))
        event_base_loopbreak(g.base);
}

/* The plan ends now; what it sent runs to its end. */
static void
on_stop(evutil_socket_t sig, short what, void *arg)
{
    double el = now() - g.start;

    if (el < g.duration)
        g.duration = el;
}

static double
quantile(const uint64_t *hist, double q)
{
    uint64_t total = 0, seen = 0;

    for (int b = 0; b < BUCKETS; b++)
        total += hist[b];
    if (total == 0)
        return NAN;
    for (int b = 0; b < BUCKETS; b++) {
        seen += hist[b];
        if (seen >= total * q)
            return pow(2, (b + 0.5) / 32) / 1000;
    }
    return NAN;
}

int
main(int argc, char **argv)
{
    struct timeval ms = {0, 1000};
    struct event *tick, *stop_int, *stop_term;
    const char *series = NULL;
    int opt;

    g.max_conns = 64;
    g.timeout = 2;
    while ((opt = getopt(argc, argv, "r:c:d:t:k:s:w")) != -1)
        switch (opt) {
        case 'r': g.rate = atof(optarg); break;
        case 'c': g.max_conns = atoi(optarg); break;
        case 'd': g.duration = atof(optarg); break;
        case 't': g.timeout = atof(optarg) / 1000; break;
        case 'k': g.max_idle = atof(optarg) / 1000; break;
        case 's': series = optarg; break;
        case 'w': g.from_send = true; break;
        default: goto usage;
        }
    if (argc - optind != 3 || g.rate <= 0 || g.duration <= 0
        || g.max_conns == 0) {
usage:
        fprintf(stderr, "usage: openloop -r RATE -c CONNS -d SECONDS "
                "[-t TIMEOUT_MS] [-k IDLE_MS] [-s FILE] [-w] HOST PORT "
                "PATH\n");
        return 64;
    }
    g.addr.sin_family = AF_INET;
    g.addr.sin_port = htons(atoi(argv[optind + 1]));
    if (inet_pton(AF_INET, argv[optind], &g.addr.sin_addr) != 1)
        goto usage;
    g.req_len = snprintf(g.req, sizeof(g.req), "GET %s HTTP/1.1\r\nHost: "
                         "%s:%s\r\n\r\n", argv[optind + 2], argv[optind],
                         argv[optind + 1]);
    g.bl_cap = (size_t) (g.rate * (g.timeout + 1)) + 1024;
    g.backlog = calloc(g.bl_cap, sizeof(double));
    g.conns = calloc(g.max_conns, sizeof(*g.conns));
    for (unsigned i = 0; i < g.max_conns; i++) {
        g.conns[i] = calloc(1, sizeof(struct conn));
        g.conns[i]->fd = -1;
    }
    if (series != NULL) {
        if ((g.series = fopen(series, "w")) == NULL) {
            perror(series);
            return 1;
        }
        g.nslices = (size_t) ceil(g.duration / SLICE_S) + 1;
        g.slices = calloc(g.nslices, sizeof(*g.slices));
    }
    g.base = event_base_new();
    tick = event_new(g.base, -1, EV_PERSIST, on_tick, NULL);
    event_add(tick, &ms);
    stop_int = evsignal_new(g.base, SIGINT, on_stop, NULL);
    stop_term = evsignal_new(g.base, SIGTERM, on_stop, NULL);
    event_add(stop_int, NULL);
    event_add(stop_term, NULL);
    g.start = now();
    if (g.series != NULL)
        fprintf(g.series, "start %.6f\n", g.start);
    event_base_dispatch(g.base);

    g.unsent = g.bl_len;
    if (g.series != NULL) {
        for (size_t i = 0; i < g.nslices && i * SLICE_S < g.duration; i++)
            fprintf(g.series, "b %.1f %u %u %u %.3f\n", i * SLICE_S,
                    g.slices[i].planned, g.slices[i].ok, g.slices[i].failed,
                    g.slices[i].max_ok_ms);
        if (fclose(g.series) != 0) {
            perror(series);
            return 1;
        }
    }
    printf("planned=%llu\nsent=%llu\ntimeouts=%llu\nconnect_errors=%llu\n"
           "read_errors=%llu\nunsent=%llu\nseconds=%.3f\n",
           (unsigned long long) g.planned, (unsigned long long) g.sent,
           (unsigned long long) g.timeouts,
           (unsigned long long) g.connect_err,
           (unsigned long long) g.read_err, (unsigned long long) g.unsent,
           g.duration);
    for (int s = 100; s < 600; s++)
        if (g.status[s])
            printf("status_%d=%llu\n", s, (unsigned long long) g.status[s]);
    printf("p50_ms=%.3f\np99_ms=%.3f\nmax_ms=%.3f\nerr_p50_ms=%.3f\n"
           "err_p99_ms=%.3f\n", quantile(g.hist, 0.5), quantile(g.hist, 0.99),
           quantile(g.hist, 1), quantile(g.hist_err, 0.5),
           quantile(g.hist_err, 0.99));
    return 0;
}
