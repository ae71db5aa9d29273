/* SPDX-License-Identifier: BSD-2-Clause */
/* The FastCGI upstream driver (pools/fcgi_upstream.h). The connection
 * reads the answer into the call's STDOUT buffer (and kept STDERR into
 * its own, each piece marked with how much STDOUT came before it) and
 * stops reading while they hold more than a window the handler has not
 * taken yet; the handler's writes of the request body wait while the
 * connection's output is over its high-water mark. The call ends at
 * END_REQUEST, possibly before the handler has taken all of the answer:
 * the buffers belong to the request. */
#include "config.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <event2/buffer.h>
#include <fastcgi.h>

#include "fpmd/fcgi.h"
#include "fpmd/log.h"
#include "fpmd/req.h"
#include "pools/fcgi_upstream.h"
#include "pools/fcgi_response.h"
#include "pools/pool.h"

#define REQUEST_ID 1
#define READ_CHUNK 16384
#define WINDOW (256 * 1024)             /* read no further ahead */
#define OUT_HIGH (256 * 1024)           /* body writes wait above this */
#define OUT_LOW (64 * 1024)

struct fcall;

struct fconn {
    struct fpmd_pool_conn *pc;
    int fd;
    struct event rev, wev;
    unsigned rev_added:1, wev_added:1, connecting:1, paused:1, broken:1;
    unsigned write_failed:1;    /* the backend takes no more input */
    struct evbuffer *out;
    struct fpmd_fcgi_response parser;
    struct fcall *d;            /* the call served, NULL between calls */
    int done;                   /* END_REQUEST parsed */
    uint8_t rbuf[READ_CHUNK];
    size_t rpos, rlen;          /* unparsed input, kept while paused */
};

/* A kept STDERR piece of len bytes came after `at` bytes of STDOUT. */
struct mark {
    uint64_t at;
    uint64_t len;
};

struct fcall {
    struct fpmd_req *req;
    struct evbuffer *params;    /* encoded name-value pairs */
    struct evbuffer *stdout_buf;
    struct evbuffer *stderr_buf;    /* NULL: STDERR is not kept */
    struct evbuffer *marks;         /* struct mark, one a kept piece */
    uint64_t stdout_in, stdout_out; /* STDOUT bytes received, taken */
    uint64_t content_length;    /* the CONTENT_LENGTH sent; 0: none */
    uint64_t stdin_sent;        /* body bytes sent */
    struct fconn *fc;           /* while the call holds a connection */
    unsigned stdout_end:1;
    unsigned ended:1;           /* END_REQUEST */
    unsigned waiting:1;         /* the handler is parked on this call */
};

static const struct fpmd_pool_driver fastcgi_driver;

static void conn_read(struct fconn *fc);

static void
wake(struct fcall *d)
{
    if (d != NULL && d->waiting)
        fpmd_req_wake(d->req);
}

static struct fcall *
current(struct fconn *fc)
{
    return fc->pc->call != NULL ? fc->pc->call->driver : NULL;
}

/* --- record callbacks ------------------------------------------------- */

/* What the call holds that the handler has not taken yet. */
static size_t
held(const struct fcall *d)
{
    return evbuffer_get_length(d->stdout_buf)
        + (d->stderr_buf != NULL ? evbuffer_get_length(d->stderr_buf)
                                   + evbuffer_get_length(d->marks) : 0);
}

static int
on_stdout(void *ctx, const uint8_t *p, size_t n)
{
    struct fconn *fc = ctx;
    struct fcall *d = current(fc);

    if (d == NULL)
        return FPMD_OK;
    if (n == 0)
        d->stdout_end = 1;
    else if (evbuffer_add(d->stdout_buf, p, n) != 0)
        return FPMD_ERROR;
    d->stdout_in += n;
    wake(d);
    return FPMD_OK;
}

static int
on_stderr(void *ctx, const uint8_t *p, size_t n)
{
    struct fconn *fc = ctx;
    struct fcall *d = current(fc);
    struct mark m;

    if (d == NULL)
        return FPMD_OK;
    /* php-fpm's warnings, one log line per record piece: always when
     * they have nowhere else to go. */
    if (d->stderr_buf == NULL || fpmd_pool_conn_conf(fc->pc)->log_stderr)
        fpmd_fcgi_upstream_log(d->req, "legacy stderr", "%.*s",
                               (int) (n > 1024 ? 1024 : n),
                               (const char *) p);
    if (d->stderr_buf == NULL)
        return FPMD_OK;
    m.at = d->stdout_in;
    m.len = n;
    if (evbuffer_add(d->marks, &m, sizeof(m)) != 0
        || evbuffer_add(d->stderr_buf, p, n) != 0)
        return FPMD_ERROR;
    wake(d);
    return FPMD_OK;
}

static int
on_end(void *ctx, uint32_t app_status, uint8_t protocol_status)
{
    struct fconn *fc = ctx;
    struct fcall *d = current(fc);

    (void) app_status;
    if (protocol_status != FCGI_REQUEST_COMPLETE)
        fc->broken = 1;
    fc->done = 1;
    if (d != NULL) {
        d->ended = 1;
        d->stdout_end = 1;
    }
    return FPMD_OK;
}

static const struct fpmd_fcgi_response_callbacks callbacks = {
    on_stdout, on_stderr, on_end,
};

/* --- the socket ------------------------------------------------------- */

static void
set_read(struct fconn *fc, int on)
{
    if (on && !fc->rev_added) {
        event_add(&fc->rev, NULL);
        fc->rev_added = 1;
    } else if (!on && fc->rev_added) {
        event_del(&fc->rev);
        fc->rev_added = 0;
    }
}

/* The backend takes no more input: what was queued for it is dropped, and
 * the connection is not reused. The answer may still be whole. */
static void
write_failed(struct fconn *fc)
{
    fc->write_failed = 1;
    fc->broken = 1;
    evbuffer_drain(fc->out, evbuffer_get_length(fc->out));
    if (fc->wev_added) {
        event_del(&fc->wev);
        fc->wev_added = 0;
    }
    wake(current(fc));
}

/* Writes what out holds; wakes a body writer below the low-water mark. */
static int
flush(struct fconn *fc)
{
    while (evbuffer_get_length(fc->out) > 0) {
        int n = evbuffer_write(fc->out, fc->fd);

        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            break;
        if (n <= 0)
            return FPMD_ERROR;
    }
    if (evbuffer_get_length(fc->out) > 0 && !fc->wev_added) {
        event_add(&fc->wev, NULL);
        fc->wev_added = 1;
    } else if (evbuffer_get_length(fc->out) == 0 && fc->wev_added) {
        event_del(&fc->wev);
        fc->wev_added = 0;
    }
    if (evbuffer_get_length(fc->out) < OUT_LOW)
        wake(current(fc));
    return FPMD_OK;
}

/* Parses what is buffered, unless the handler's window is full. */
static void
parse(struct fconn *fc)
{
    struct fcall *d;
    size_t used;
    int rc;

    while (fc->rpos < fc->rlen && !fc->done) {
        d = current(fc);
        if (d != NULL && held(d) >= WINDOW) {
            fc->paused = 1;
            set_read(fc, 0);
            return;
        }
        rc = fpmd_fcgi_response_parse(&fc->parser, &callbacks, fc,
                                      fc->rbuf + fc->rpos,
                                      fc->rlen - fc->rpos, &used);
        fc->rpos += used;
        if (rc == FPMD_DONE)
            break;
        if (rc != FPMD_OK) {
            const char *err = fc->parser.framer.err;
            char why[128];

            /* only on_stdout and on_stderr fail without a parser
             * error */
            snprintf(why, sizeof(why), "%s%s",
                     err != NULL ? "protocol error: " : "",
                     err != NULL ? err : "out of memory");
            fpmd_pool_conn_lost(fc->pc, why);
            return;
        }
    }
    if (fc->rpos == fc->rlen)
        fc->rpos = fc->rlen = 0;
    if (fc->done) {
        /* Anything after END_REQUEST: not a connection to reuse. Nor one
         * that carried more or less body than CONTENT_LENGTH said: php-fpm
         * reads that much (a body sent without one, by Apache for a
         * chunked request, not at all), then takes the next record for a
         * new request's, and closes the connection at a STDIN one. */
        if (fc->rlen > fc->rpos
            || (fc->d != NULL && fc->d->stdin_sent != fc->d->content_length))
            fc->broken = 1;
        fc->done = 0;
        fc->rpos = fc->rlen = 0;
        if (fc->d != NULL)
            fc->d->fc = NULL;
        fc->d = NULL;
        fpmd_pool_conn_done(fc->pc);
    }
}

static void
conn_read(struct fconn *fc)
{
    ssize_t n;

    if (fc->rpos > 0) {
        memmove(fc->rbuf, fc->rbuf + fc->rpos, fc->rlen - fc->rpos);
        fc->rlen -= fc->rpos;
        fc->rpos = 0;
    }
    n = read(fc->fd, fc->rbuf + fc->rlen, sizeof(fc->rbuf) - fc->rlen);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
        char why[128];

        /* Busy, so before END_REQUEST. A php-fpm child that dies with
         * input unread (the STDIN end its script never asked for) resets
         * the connection rather than closing it. */
        snprintf(why, sizeof(why), "%s before END_REQUEST",
                 n == 0 ? "closed by the backend"
                 : errno == ECONNRESET ? "reset by the backend"
                 : strerror(errno));
        fpmd_pool_conn_lost(fc->pc, why);
        return;
    }
    if (n > 0) {
        fc->rlen += (size_t) n;
        if (fc->pc->call != NULL)
            fpmd_pool_call_progress(fc->pc->call);
    }
    parse(fc);
}

static void
on_read(evutil_socket_t fd, short what, void *arg)
{
    struct fconn *fc = arg;

    (void) fd;
    (void) what;
    if (fc->pc->state != FPMD_PCONN_BUSY) {
        /* idle: the backend closed it, or sent what nobody asked for */
        fpmd_pool_conn_lost(fc->pc, "closed by the backend while idle");
        return;
    }
    conn_read(fc);
}

static void
on_write(evutil_socket_t fd, short what, void *arg)
{
    struct fconn *fc = arg;
    int err = 0;
    socklen_t len = sizeof(err);

    (void) what;
    fc->wev_added = 0;
    if (fc->connecting) {
        fc->connecting = 0;
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err) {
            fpmd_pool_conn_lost(fc->pc, strerror(err ? err : errno));
            return;
        }
        set_read(fc, 1);
        fpmd_pool_conn_up(fc->pc);
        return;
    }
    if (flush(fc) != FPMD_OK)
        write_failed(fc);
}

/* --- driver ----------------------------------------------------------- */

static int
drv_connect(struct fpmd_pool_conn *pc, char *error, size_t len)
{
    const struct fpmd_conf_server *s = fpmd_pool_node_conf(pc->node);
    struct sockaddr_storage ss;
    socklen_t slen;
    struct fconn *fc = calloc(1, sizeof(*fc));
    int fd;

    memset(&ss, 0, sizeof(ss));
    if (s->path != NULL) {
        struct sockaddr_un *un = (struct sockaddr_un *) &ss;

        un->sun_family = AF_UNIX;
        snprintf(un->sun_path, sizeof(un->sun_path), "%s", s->path);
        slen = sizeof(*un);
    } else if (strchr(s->host, ':') != NULL) {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *) &ss;

        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons((uint16_t) s->port);
        inet_pton(AF_INET6, s->host, &in6->sin6_addr);
        slen = sizeof(*in6);
    } else {
        struct sockaddr_in *in = (struct sockaddr_in *) &ss;

        in->sin_family = AF_INET;
        in->sin_port = htons((uint16_t) s->port);
        inet_pton(AF_INET, s->host, &in->sin_addr);
        slen = sizeof(*in);
    }
    fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fc == NULL || fd < 0
        || (fc->out = evbuffer_new()) == NULL
        || (connect(fd, (struct sockaddr *) &ss, slen) != 0
            && errno != EINPROGRESS)) {
        snprintf(error, len, "%s", fc == NULL ? "out of memory"
                                              : strerror(errno));
        if (fd >= 0)
            close(fd);
        if (fc != NULL && fc->out != NULL)
            evbuffer_free(fc->out);
        free(fc);
        return FPMD_ERROR;
    }
    /* The request goes out in pieces (head, body records, the end of the
     * body): Nagle would hold each small one back for the peer's ACK. */
    if (ss.ss_family != AF_UNIX) {
        int one = 1;

        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    }
    fc->fd = fd;
    fc->pc = pc;
    fc->connecting = 1;
    pc->driver = fc;
    event_assign(&fc->rev, fpmd_pool_base(), fd, EV_READ | EV_PERSIST,
                 on_read, fc);
    event_assign(&fc->wev, fpmd_pool_base(), fd, EV_WRITE, on_write, fc);
    /* Done or not, the outcome comes from the write event: never from
     * inside this call. */
    event_add(&fc->wev, NULL);
    fc->wev_added = 1;
    return FPMD_OK;
}

static int
drv_send(struct fpmd_pool_conn *pc)
{
    struct fconn *fc = pc->driver;
    struct fcall *d = pc->call->driver;
    size_t plen = evbuffer_get_length(d->params);

    fpmd_fcgi_response_init(&fc->parser, REQUEST_ID);
    fc->done = 0;
    fc->d = d;
    d->fc = fc;
    if (fpmd_fcgi_write_begin_request(fc->out, REQUEST_ID, FCGI_RESPONDER,
                                      fpmd_pool_conn_conf(pc)->keep_alive
                                          ? FCGI_KEEP_CONN : 0) != FPMD_OK
        || (plen > 0 && fpmd_fcgi_write_stream(
                fc->out, FCGI_PARAMS, REQUEST_ID,
                evbuffer_pullup(d->params, -1), plen) != FPMD_OK)
        || fpmd_fcgi_write_eos(fc->out, FCGI_PARAMS, REQUEST_ID) != FPMD_OK)
        return FPMD_ERROR;
    /* Not written yet: the handler's first fpmd_fcgi_upstream_stdin does, with
     * the body it has in hand (a GET's empty one) in the same write. */
    wake(d);        /* the handler may send the body now */
    return FPMD_OK;
}

static int
drv_abandon(struct fpmd_pool_conn *pc)
{
    (void) pc;
    return 0;       /* mid-answer: only a new connection is clean */
}

static int
drv_reusable(struct fpmd_pool_conn *pc)
{
    struct fconn *fc = pc->driver;

    return !fc->broken && evbuffer_get_length(fc->out) == 0
        && fpmd_pool_conn_conf(pc)->keep_alive;
}

static void
drv_close(struct fpmd_pool_conn *pc)
{
    struct fconn *fc = pc->driver;

    if (fc == NULL)
        return;
    if (fc->d != NULL)
        fc->d->fc = NULL;
    set_read(fc, 0);
    if (fc->wev_added)
        event_del(&fc->wev);
    close(fc->fd);
    evbuffer_free(fc->out);
    free(fc);
    pc->driver = NULL;
}

struct script_out {
    char *buf;
    size_t len;
};

static int
on_script_param(void *ctx, const uint8_t *name, size_t nlen,
                const uint8_t *value, size_t vlen)
{
    struct script_out *o = ctx;

    if (nlen == 15 && memcmp(name, "SCRIPT_FILENAME", 15) == 0)
        snprintf(o->buf, o->len, "%.*s", (int) vlen, (const char *) value);
    return FPMD_OK;
}

/* The script the backend runs: its SCRIPT_FILENAME as sent, read back
 * from the params only when asked, which is seldom. */
static void
drv_describe(const struct fpmd_call *call, char *buf, size_t len)
{
    const struct fcall *d = call->driver;
    struct script_out o = {buf, len};

    snprintf(buf, len, "no script");
    fpmd_fcgi_nv_parse(evbuffer_pullup(d->params, -1),
                       evbuffer_get_length(d->params), on_script_param, &o);
}

static const struct fpmd_pool_driver fastcgi_driver = {
    "fastcgi", drv_connect, drv_send, drv_abandon, drv_reusable, drv_close,
    NULL, drv_describe,
};

__attribute__((constructor)) static void
register_fastcgi(void)
{
    fpmd_pool_driver_register(FPMD_DRIVER_FASTCGI, &fastcgi_driver);
}

/* --- the handler side ------------------------------------------------- */

static int
overridden(const char *name, const char *const *extra, size_t nextra)
{
    for (size_t i = 0; i < nextra; i++) {
        if (strcmp(extra[2 * i], name) == 0)
            return 1;
    }
    return 0;
}

/* The body length a CONTENT_LENGTH announces: none when empty (nginx
 * sends it so), and one no body has (the connection is then not reused)
 * when it is not plain digits, which php-fpm would read some other way. */
static uint64_t
announced_length(const char *value)
{
    size_t digits = strspn(value, "0123456789");

    if (value[0] == '\0')
        return 0;
    if (value[digits] != '\0' || digits > 18)
        return UINT64_MAX;
    return strtoull(value, NULL, 10);
}

/* Encodes name = value, and notes the body length it announces. */
static int
encode_param(struct fcall *d, const char *name, const char *value)
{
    if (strcmp(name, "CONTENT_LENGTH") == 0)
        d->content_length = announced_length(value);
    return fpmd_fcgi_nv_encode(d->params, name, strlen(name), value,
                               strlen(value));
}

struct fpmd_call *
fpmd_fcgi_upstream_start(struct fpmd_req *req, const char *pool,
                         const char *const *extra, size_t nextra,
                         bool keep_stderr)
{
    struct fcall *d = fpmd_alloc(req, sizeof(*d));
    struct fpmd_call *call;

    if (d == NULL)
        return NULL;
    memset(d, 0, sizeof(*d));
    d->req = req;
    d->params = fpmd_req_evbuffer(req);
    d->stdout_buf = fpmd_req_evbuffer(req);
    if (d->params == NULL || d->stdout_buf == NULL)
        return NULL;
    if (keep_stderr) {
        d->stderr_buf = fpmd_req_evbuffer(req);
        d->marks = fpmd_req_evbuffer(req);
        if (d->stderr_buf == NULL || d->marks == NULL)
            return NULL;
    }
    for (size_t i = 0; i < fpmd_req_nparams(req); i++) {
        const char *name, *value;

        if (fpmd_req_param_at(req, i, &name, &value) == FPMD_OK
            && !overridden(name, extra, nextra)
            && encode_param(d, name, value) != FPMD_OK)
            return NULL;
    }
    for (size_t i = 0; i < nextra; i++) {
        if (encode_param(d, extra[2 * i], extra[2 * i + 1]) != FPMD_OK)
            return NULL;
    }
    call = fpmd_pool_call_new(req, pool, &fastcgi_driver, d);
    if (call != NULL && call->state == FPMD_CALLST_NEW)
        fpmd_pool_call_start(call, fpmd_pool_primary(call->pool, NULL, 0));
    return call;
}

/* Parks the handler until the driver has news for this call. */
static int
park(struct fpmd_call *call)
{
    struct fcall *d = call->driver;
    int rc;

    d->waiting = 1;
    rc = fpmd_req_suspend_on(d->req, fpmd_call_describe, call);
    d->waiting = 0;
    return rc;
}

int
fpmd_fcgi_upstream_stdin(struct fpmd_call *call, const void *data, size_t len)
{
    struct fcall *d = call->driver;

    while (call->state == FPMD_CALLST_QUEUED || call->state == FPMD_CALLST_NEW
           || (d->fc != NULL && evbuffer_get_length(d->fc->out) > OUT_HIGH)) {
        if (call->state == FPMD_CALLST_NEW || park(call) != FPMD_OK)
            return FPMD_ERROR;
    }
    if (call->state == FPMD_CALLST_DONE && call->status == FPMD_CALL_OK)
        return FPMD_DONE;
    if (d->fc == NULL || call->state != FPMD_CALLST_SENT)
        return FPMD_ERROR;
    if (d->fc->write_failed)
        return FPMD_DONE;
    if ((len > 0 ? fpmd_fcgi_write_stream(d->fc->out, FCGI_STDIN, REQUEST_ID,
                                          data, len)
                 : fpmd_fcgi_write_eos(d->fc->out, FCGI_STDIN, REQUEST_ID))
            != FPMD_OK) {
        fpmd_pool_conn_lost(d->fc->pc, "out of memory");
        return FPMD_ERROR;
    }
    d->stdin_sent += len;
    /* php-fpm answers a request whose body it does not read (none
     * announced) at once, and on a kept connection closes it at the next
     * STDIN record: the answer may be in, read it to END_REQUEST as a web
     * server in front of php-fpm does. */
    if (flush(d->fc) != FPMD_OK) {
        write_failed(d->fc);
        return FPMD_DONE;
    }
    return FPMD_OK;
}

/* Room again: read on where the window stopped us. */
static void
taken(struct fpmd_call *call)
{
    struct fcall *d = call->driver;

    if (d->fc != NULL && d->fc->paused && held(d) < WINDOW / 2) {
        d->fc->paused = 0;
        set_read(d->fc, 1);
        fpmd_pool_call_progress(call);
        parse(d->fc);
    }
}

/* Kept STDERR that came before the next STDOUT byte, into buf: how many
 * bytes (0: none due). */
static size_t
take_stderr(struct fcall *d, uint8_t *buf, size_t len)
{
    size_t got = 0;

    while (got < len && d->marks != NULL
           && evbuffer_get_length(d->marks) > 0) {
        /* The buffer's bytes need not be aligned for a struct mark. */
        unsigned char *p = evbuffer_pullup(d->marks, sizeof(struct mark));
        struct mark m;
        size_t n;

        memcpy(&m, p, sizeof(m));
        if (m.at > d->stdout_out)
            break;
        n = len - got < m.len ? len - got : (size_t) m.len;
        evbuffer_remove(d->stderr_buf, buf + got, n);
        got += n;
        m.len -= n;
        if (m.len == 0)
            evbuffer_drain(d->marks, sizeof(m));
        else
            memcpy(p, &m, sizeof(m));
    }
    return got;
}

/* STDOUT bytes the handler may take before the next kept STDERR piece. */
static uint64_t
stdout_due(const struct fcall *d)
{
    struct mark m;

    if (d->marks == NULL || evbuffer_get_length(d->marks) == 0)
        return UINT64_MAX;
    evbuffer_copyout(d->marks, &m, sizeof(m));
    return m.at - d->stdout_out;
}

ssize_t
fpmd_fcgi_upstream_read(struct fpmd_call *call, void *buf, size_t len,
                        bool *is_stderr)
{
    struct fcall *d = call->driver;
    size_t n;
    uint64_t due;

    for (;;) {
        n = take_stderr(d, buf, len);
        if (n > 0) {
            *is_stderr = true;
            taken(call);
            return (ssize_t) n;
        }
        due = stdout_due(d);
        if (evbuffer_get_length(d->stdout_buf) > 0 && due > 0) {
            n = (size_t) evbuffer_remove(d->stdout_buf, buf,
                                         due < len ? (size_t) due : len);
            d->stdout_out += n;
            *is_stderr = false;
            taken(call);
            return (ssize_t) n;
        }
        if (d->stdout_end)
            return 0;
        if (call->state == FPMD_CALLST_DONE || call->state == FPMD_CALLST_NEW)
            return -1;
        if (park(call) != FPMD_OK)
            return -1;
    }
}

void
fpmd_fcgi_upstream_log(struct fpmd_req *req, const char *who,
                       const char *fmt, ...)
{
    char msg[1024];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    fpmd_log_req(req, FPMD_LOG_WARNING, "%s (route %s, request id %s): %s",
                 who, req->match.route != NULL ? req->match.route->path : "-",
                 fpmd_req_id(req)[0] ? fpmd_req_id(req) : "-", msg);
}
