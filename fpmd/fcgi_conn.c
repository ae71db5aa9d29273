/* SPDX-License-Identifier: BSD-2-Clause */
/* FastCGI server connections: bytes from the socket through the record
 * codec into requests, responses back as STDOUT records and END_REQUEST.
 * Several requests may share a connection (FCGI_MPXS_CONNS). A connection
 * is freed only once it is closed and no request refers to it. */
#include "config.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/event_struct.h>
#include <fastcgi.h>

#include "fpmd/fcgi.h"
#include "fpmd/fcgi_conn.h"
#include "fpmd/log.h"
#include "fpmd/req.h"
#include "fpmd/worker.h"

/* Output above HIGH parks writers; they resume below LOW. */
#define OUT_HIGH (256 * 1024)
#define OUT_LOW (64 * 1024)
#define READ_CHUNK 16384
/* Requests one connection may carry at once (FCGI_MAX_REQS). */
#define CONN_MAX_REQS 128

struct fcgi_conn {
    struct fcgi_conn *prev, *next;      /* worker's list */
    int fd;
    struct event read_ev, write_ev, timer_ev;
    int timer_armed, write_armed;
    struct evbuffer *out;
    struct fpmd_fcgi_parser parser;
    struct fpmd_req *reqs;
    unsigned nreqs;
    unsigned closed:1;
    unsigned read_paused:1;
    unsigned close_after_flush:1;
    unsigned in_callback:1;
    unsigned eof:1;
    unsigned fresh:1;                   /* no request started yet */
    unsigned served:1;                  /* answered at least one request */
    uint8_t rbuf[READ_CHUNK];
    size_t rpos, rlen;                  /* unparsed input while paused */
    char peer[64];
};

static struct fcgi_conn *conns;
static const struct timeval *header_tv, *keepalive_tv;

static void conn_close(struct fcgi_conn *c);
static void conn_flush(struct fcgi_conn *c);
static void conn_maybe_free(struct fcgi_conn *c);

/* --- request output ops ----------------------------------------------- */

static int
congested(struct fpmd_req *req)
{
    struct fcgi_conn *c = req->conn;

    return !c->closed && evbuffer_get_length(c->out) > OUT_HIGH;
}

static void
after_write(struct fcgi_conn *c)
{
    /* Outside a handler the batch is flushed at the end of the read
     * callback; inside one, flush when the queue grows large so a long
     * stream keeps moving while the handler runs. */
    if (!c->in_callback || evbuffer_get_length(c->out) > OUT_HIGH)
        conn_flush(c);
}

static int
write_head(struct fpmd_req *req, const void *body, size_t blen)
{
    struct fcgi_conn *c = req->conn;
    char small[8192], *buf = small;
    size_t hlen;
    int rc;

    if (c->closed)
        return FPMD_ERROR;
    hlen = fpmd_req_format_cgi_head(req, small, sizeof(small));
    if (hlen > sizeof(small)) {
        buf = malloc(hlen);
        if (buf == NULL)
            return FPMD_ERROR;
        fpmd_req_format_cgi_head(req, buf, hlen);
    }
    /* Head and a small body share one record: one write for most
     * responses. */
    if (buf == small && blen <= sizeof(small) - hlen) {
        if (blen > 0)
            memcpy(small + hlen, body, blen);
        rc = fpmd_fcgi_write_stream(c->out, FCGI_STDOUT, req->id, small,
                                    hlen + blen);
    } else {
        rc = fpmd_fcgi_write_stream(c->out, FCGI_STDOUT, req->id, buf, hlen);
        if (rc == FPMD_OK && blen > 0)
            rc = fpmd_fcgi_write_stream(c->out, FCGI_STDOUT, req->id, body,
                                        blen);
    }
    if (buf != small)
        free(buf);
    if (rc == FPMD_OK)
        after_write(c);
    return rc;
}

static int
write_body(struct fpmd_req *req, const void *body, size_t blen)
{
    struct fcgi_conn *c = req->conn;

    if (c->closed)
        return FPMD_ERROR;
    if (fpmd_fcgi_write_stream(c->out, FCGI_STDOUT, req->id, body, blen)
        != FPMD_OK)
        return FPMD_ERROR;
    after_write(c);
    return FPMD_OK;
}

static void
finish(struct fpmd_req *req)
{
    struct fcgi_conn *c = req->conn;

    if (req->finished)
        return;
    req->finished = 1;
    if (c->closed)
        return;
    /* FastCGI 1.0 §5.3: the stream ends with an empty record, then exactly
     * one END_REQUEST; nothing for this id follows it. */
    fpmd_fcgi_write_eos(c->out, FCGI_STDOUT, req->id);
    fpmd_fcgi_write_end_request(c->out, req->id, 0, FCGI_REQUEST_COMPLETE);
}

static void
unlink_req(struct fcgi_conn *c, struct fpmd_req *req)
{
    for (struct fpmd_req **pp = &c->reqs; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == req) {
            *pp = req->next;
            c->nreqs--;
            return;
        }
    }
}

static void update_timer(struct fcgi_conn *c);

static void
release(struct fpmd_req *req)
{
    struct fcgi_conn *c = req->conn;
    int keep = req->keep_conn;

    unlink_req(c, req);
    fpmd_req_free(req);
    c->served = 1;
    if (c->closed) {
        conn_maybe_free(c);
        return;
    }
    if ((!keep || fpmd_worker_draining()) && c->nreqs == 0)
        c->close_after_flush = 1;
    /* Input paused for a body this request never read: what is left of it
     * (and whatever follows) is parsed again, the rest of the body being
     * ignored as records of an ended request. */
    if (c->read_paused)
        event_active(&c->read_ev, EV_READ, 0);
    if (c->in_callback)
        return;     /* the read callback flushes and frees at its end */
    conn_flush(c);
    if (c->closed)
        conn_maybe_free(c);
    else
        update_timer(c);
}

static void
body_consumed(struct fpmd_req *req)
{
    struct fcgi_conn *c = req->conn;

    /* Called from a handler: parsing resumes on the next loop pass, never
     * on this coroutine's stack. */
    if (c->read_paused && !c->closed)
        event_active(&c->read_ev, EV_READ, 0);
}

static const struct fpmd_req_ops fcgi_ops = {
    write_head, write_body, finish, release, congested, body_consumed,
};

/* --- codec callbacks -------------------------------------------------- */

static struct fpmd_req *
find_req(struct fcgi_conn *c, uint16_t id)
{
    for (struct fpmd_req *r = c->reqs; r != NULL; r = r->next) {
        if (r->id == id)
            return r;
    }
    return NULL;
}

static int
on_begin(void *ctx, uint16_t id, uint16_t role, uint8_t flags)
{
    struct fcgi_conn *c = ctx;
    struct fpmd_req *req;

    if (find_req(c, id) != NULL) {
        fpmd_log(FPMD_LOG_WARNING, "fastcgi %s: BEGIN_REQUEST for active "
                 "request id %u; closing the connection", c->peer, id);
        return FPMD_ERROR;
    }
    if (role != FCGI_RESPONDER) {
        fpmd_fcgi_write_end_request(c->out, id, 0, FCGI_UNKNOWN_ROLE);
        if (!(flags & FCGI_KEEP_CONN) && c->nreqs == 0)
            c->close_after_flush = 1;
        return FPMD_OK;
    }
    if (c->nreqs >= CONN_MAX_REQS) {
        fpmd_fcgi_write_end_request(c->out, id, 0, FCGI_OVERLOADED);
        return FPMD_OK;
    }
    req = fpmd_req_new(&fcgi_ops, c, id);
    if (req == NULL) {
        fpmd_fcgi_write_end_request(c->out, id, 0, FCGI_OVERLOADED);
        return FPMD_OK;
    }
    req->keep_conn = (flags & FCGI_KEEP_CONN) != 0;
    req->remote_addr = c->peer;
    req->next = c->reqs;
    c->reqs = req;
    c->nreqs++;
    return FPMD_OK;
}

static int
add_param(void *ctx, const uint8_t *name, size_t nlen, const uint8_t *value,
          size_t vlen)
{
    return fpmd_req_add_param(ctx, name, nlen, value, vlen);
}

static int
on_params(void *ctx, uint16_t id, const uint8_t *p, size_t n)
{
    struct fcgi_conn *c = ctx;
    struct fpmd_req *req = find_req(c, id);
    const struct fpmd_conf *conf = fpmd_worker->conf;
    size_t have;

    if (req == NULL || req->started)
        return FPMD_OK;     /* records of inactive ids are ignored (§3.3) */
    have = evbuffer_get_length(req->params_raw);
    if (n > 0) {
        if (req->route_status != 0)
            return FPMD_OK;
        if (n > conf->limits.params || have > conf->limits.params - n) {
            fpmd_log(FPMD_LOG_WARNING, "fastcgi %s: request %u params over "
                     "limits.params (%zu bytes); answering 431",
                     c->peer, id, conf->limits.params);
            req->route_status = 431;
            evbuffer_drain(req->params_raw, have);
            return FPMD_OK;
        }
        return evbuffer_add(req->params_raw, p, n) == 0 ? FPMD_OK
                                                         : FPMD_ERROR;
    }
    if (req->route_status == 0
        && fpmd_fcgi_nv_parse(evbuffer_pullup(req->params_raw, -1), have,
                              add_param, req) != FPMD_OK) {
        fpmd_log(FPMD_LOG_WARNING, "fastcgi %s: request %u has malformed "
                 "name-value pairs; closing the connection", c->peer, id);
        return FPMD_ERROR;
    }
    evbuffer_free(req->params_raw);
    req->params_raw = NULL;
    if (c->fresh) {
        c->fresh = 0;
        fpmd_worker_conn_unfresh();
    }
    fpmd_req_derive(req);
    if (req->route_status == 0 && req->content_length > 0
        && (uint64_t) req->content_length > conf->limits.body)
        req->route_status = 413;
    fpmd_worker_start_req(req);
    return FPMD_OK;
}

static int
on_stdin(void *ctx, uint16_t id, const uint8_t *p, size_t n)
{
    struct fcgi_conn *c = ctx;
    struct fpmd_req *req = find_req(c, id);

    if (req == NULL)
        return FPMD_OK;
    if (n == 0) {
        fpmd_req_body_end(req);
        return FPMD_OK;
    }
    return fpmd_req_body_feed(req, p, n) ? FPMD_AGAIN : FPMD_OK;
}

static int
on_data(void *ctx, uint16_t id, const uint8_t *p, size_t n)
{
    return FPMD_OK;     /* FILTER role only, which is refused at BEGIN */
}

static int
on_abort(void *ctx, uint16_t id)
{
    struct fcgi_conn *c = ctx;
    struct fpmd_req *req = find_req(c, id);

    if (req == NULL)
        return FPMD_OK;
    if (req->started) {
        fpmd_req_abort(req);
        return FPMD_OK;
    }
    /* Never started: answer the abort at once (FastCGI 1.0 §5.4). */
    req->finished = 1;
    fpmd_fcgi_write_eos(c->out, FCGI_STDOUT, id);
    fpmd_fcgi_write_end_request(c->out, id, 0, FCGI_REQUEST_COMPLETE);
    release(req);
    return FPMD_OK;
}

static int
on_get_values(void *ctx, const uint8_t *p, size_t n)
{
    struct fcgi_conn *c = ctx;
    const struct fpmd_conf *conf = fpmd_worker->conf;

    return fpmd_fcgi_write_get_values_result(c->out, p, n,
                                             conf->limits.connections,
                                             conf->pm.max_concurrency, 1);
}

static int
on_unknown_type(void *ctx, uint8_t type)
{
    struct fcgi_conn *c = ctx;

    return fpmd_fcgi_write_unknown_type(c->out, type);
}

static const struct fpmd_fcgi_callbacks callbacks = {
    on_begin, on_params, on_stdin, on_data, on_abort, on_get_values,
    on_unknown_type,
};

/* --- connection ------------------------------------------------------- */

static int
has_unstarted(const struct fcgi_conn *c)
{
    for (const struct fpmd_req *r = c->reqs; r != NULL; r = r->next) {
        if (!r->started)
            return 1;
    }
    return 0;
}

/* One timer per connection: header_read while a request head is incomplete
 * (also right after accept), keepalive while idle, none while handlers
 * run (they have request_terminate_timeout). */
static void
update_timer(struct fcgi_conn *c)
{
    const struct timeval *tv = NULL;

    if (has_unstarted(c) || !fpmd_fcgi_parser_idle(&c->parser))
        tv = header_tv;
    else if (c->nreqs == 0)
        tv = keepalive_tv;
    if (tv == NULL) {
        if (c->timer_armed)
            event_del(&c->timer_ev);
        c->timer_armed = 0;
        return;
    }
    event_add(&c->timer_ev, tv);
    c->timer_armed = 1;
}

static void
on_timer(evutil_socket_t fd, short what, void *arg)
{
    struct fcgi_conn *c = arg;

    c->timer_armed = 0;
    if (c->nreqs == 0 && fpmd_fcgi_parser_idle(&c->parser))
        fpmd_log(FPMD_LOG_DEBUG, "fastcgi %s: idle timeout", c->peer);
    else
        fpmd_log(FPMD_LOG_WARNING, "fastcgi %s: header read timeout; "
                 "closing the connection", c->peer);
    conn_close(c);
    conn_maybe_free(c);
}

static void
parse_input(struct fcgi_conn *c)
{
    while (c->rpos < c->rlen && !c->closed) {
        size_t used = 0;
        int rc = fpmd_fcgi_parse(&c->parser, &callbacks, c, c->rbuf + c->rpos,
                                 c->rlen - c->rpos, &used);

        c->rpos += used;
        if (rc == FPMD_OK)
            break;
        if (rc == FPMD_AGAIN) {
            c->read_paused = 1;
            return;
        }
        if (c->parser.err != NULL)
            fpmd_log(FPMD_LOG_WARNING, "fastcgi %s: protocol error: %s; "
                     "closing the connection", c->peer, c->parser.err);
        conn_close(c);
        return;
    }
    c->rpos = c->rlen = 0;
    c->read_paused = 0;
}

static void
on_read(evutil_socket_t fd, short what, void *arg)
{
    struct fcgi_conn *c = arg;
    ssize_t n;

    c->in_callback = 1;
    if (c->rpos < c->rlen)
        parse_input(c);
    /* Bounded: a peer that never stops sending cannot starve the others. */
    for (int round = 0; round < 4 && !c->closed && !c->read_paused; round++) {
        n = read(c->fd, c->rbuf, sizeof(c->rbuf));
        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR)
                break;
            if (errno != ECONNRESET)
                fpmd_log_errno(FPMD_LOG_NOTICE, "fastcgi %s: read", c->peer);
            conn_close(c);
            break;
        }
        if (n == 0) {
            c->eof = 1;
            conn_close(c);
            break;
        }
        c->rpos = 0;
        c->rlen = (size_t) n;
        parse_input(c);
        if ((size_t) n < sizeof(c->rbuf))
            break;
    }
    c->in_callback = 0;
    if (!c->closed) {
        if (c->read_paused)
            event_del(&c->read_ev);
        else
            event_add(&c->read_ev, NULL);
        conn_flush(c);
    }
    if (!c->closed)
        update_timer(c);
    conn_maybe_free(c);
}

static void
wake_drained(struct fcgi_conn *c)
{
    for (struct fpmd_req *r = c->reqs; r != NULL; r = r->next)
        fpmd_req_drained(r);
}

static void
conn_flush(struct fcgi_conn *c)
{
    while (!c->closed && evbuffer_get_length(c->out) > 0) {
        int n = evbuffer_write(c->out, c->fd);

        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR)
                break;
            if (errno != EPIPE && errno != ECONNRESET)
                fpmd_log_errno(FPMD_LOG_NOTICE, "fastcgi %s: write", c->peer);
            conn_close(c);
            return;
        }
    }
    if (c->closed)
        return;
    if (evbuffer_get_length(c->out) > 0) {
        if (!c->write_armed) {
            event_add(&c->write_ev, NULL);
            c->write_armed = 1;
        }
    } else {
        if (c->write_armed) {
            event_del(&c->write_ev);
            c->write_armed = 0;
        }
        if (c->close_after_flush && c->nreqs == 0
            && fpmd_fcgi_parser_idle(&c->parser)) {
            conn_close(c);
            return;
        }
    }
    if (evbuffer_get_length(c->out) < OUT_LOW)
        wake_drained(c);
}

static void
on_write(evutil_socket_t fd, short what, void *arg)
{
    struct fcgi_conn *c = arg;

    c->write_armed = 0;
    conn_flush(c);
    conn_maybe_free(c);
}

static void
conn_close(struct fcgi_conn *c)
{
    struct fpmd_req *r, *next;

    if (c->closed)
        return;
    c->closed = 1;
    event_del(&c->read_ev);
    event_del(&c->write_ev);
    if (c->timer_armed)
        event_del(&c->timer_ev);
    c->timer_armed = c->write_armed = 0;
    close(c->fd);
    c->fd = -1;
    for (r = c->reqs; r != NULL; r = next) {
        next = r->next;
        if (r->started) {
            fpmd_req_abort(r);
        } else {
            unlink_req(c, r);
            fpmd_req_free(r);
        }
    }
}

static void
conn_maybe_free(struct fcgi_conn *c)
{
    if (!c->closed || c->nreqs > 0 || c->in_callback)
        return;
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        conns = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    evbuffer_free(c->out);
    fpmd_worker_conn_closed(c->fresh);
    free(c);
}

void
fpmd_fcgi_conn_setup(const struct fpmd_conf *conf)
{
    struct timeval h = {(time_t) (conf->timeouts.header_read_ms / 1000),
                        (suseconds_t) (conf->timeouts.header_read_ms % 1000)
                            * 1000};
    struct timeval k = {(time_t) (conf->timeouts.keepalive_ms / 1000),
                        (suseconds_t) (conf->timeouts.keepalive_ms % 1000)
                            * 1000};

    /* Every connection shares these two durations: libevent's common
     * timeouts make arming them O(1). */
    header_tv = event_base_init_common_timeout(fpmd_worker->base, &h);
    keepalive_tv = event_base_init_common_timeout(fpmd_worker->base, &k);
}

int
fpmd_fcgi_conn_new(int fd, const char *peer)
{
    struct fcgi_conn *c = calloc(1, sizeof(*c));
    int one = 1;

    if (c == NULL)
        return FPMD_ERROR;
    c->out = evbuffer_new();
    if (c->out == NULL) {
        free(c);
        return FPMD_ERROR;
    }
    c->fd = fd;
    c->fresh = 1;
    snprintf(c->peer, sizeof(c->peer), "%s", peer);
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    fpmd_fcgi_parser_init(&c->parser);
    event_assign(&c->read_ev, fpmd_worker->base, fd, EV_READ | EV_PERSIST,
                 on_read, c);
    event_assign(&c->write_ev, fpmd_worker->base, fd, EV_WRITE, on_write, c);
    event_assign(&c->timer_ev, fpmd_worker->base, -1, 0, on_timer, c);
    event_add(&c->read_ev, NULL);
    c->next = conns;
    if (conns != NULL)
        conns->prev = c;
    conns = c;
    update_timer(c);
    return FPMD_OK;
}

void
fpmd_fcgi_drain(void)
{
    struct fcgi_conn *c, *next;

    for (c = conns; c != NULL; c = next) {
        next = c->next;
        /* A connection that has not sent its first request yet is waited
         * for (header_read bounds it): its peer chose this worker, and
         * closing would reset a request about to arrive. An idle keep-alive
         * one is closed; web servers retry a request that fails on a
         * cached connection. */
        if (c->served && c->nreqs == 0 && fpmd_fcgi_parser_idle(&c->parser)
            && evbuffer_get_length(c->out) == 0) {
            conn_close(c);
            conn_maybe_free(c);
        } else {
            c->close_after_flush = 1;
        }
    }
}

void
fpmd_fcgi_close_all(void)
{
    struct fcgi_conn *c, *next;

    for (c = conns; c != NULL; c = next) {
        next = c->next;
        conn_close(c);
        conn_maybe_free(c);
    }
}
