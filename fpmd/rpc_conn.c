/* SPDX-License-Identifier: BSD-2-Clause */
/* JSON-RPC over raw TCP (rpc_conn.h): frames as jsonrpc.c decodes them,
 * one text per line or netstrings, as the listener says. A frame becomes
 * a request as an HTTP client's POST of the text to rpc_path would: the
 * same route (handler: jsonrpc), hooks, limits, access log and
 * statistics. Frames are answered one at a time, in order; the next is
 * parsed once the answer is out. The answer is the handler's body,
 * framed; an answer that is not the handler's 200 (no route, a 413, a
 * rate limit's 429, a 503) is a JSON-RPC error with id null, since the
 * frame was never read as JSON-RPC. A framing error leaves the stream at
 * an unknown point: the connection is closed. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>

#include "fpmd/conn.h"
#include "fpmd/jsonrpc.h"
#include "fpmd/log.h"
#include "fpmd/process.h"
#include "fpmd/req.h"
#include "fpmd/rpc_conn.h"
#include "fpmd/sched.h"

struct rpc_conn {
    struct fpmd_conn base;          /* first: conn.c casts back */
    enum fpmd_jsonrpc_framing framing;
    struct fpmd_req *req;           /* the frame being answered */
    struct evbuffer *in;            /* read, not yet a whole frame */
    struct evbuffer *answer;        /* the handler's body until finish */
    unsigned served;
    int status;
};

static struct rpc_conn *
rpc_of(const void *p)
{
    return (struct rpc_conn *) p;
}

/* --- the answer -------------------------------------------------------- */

static bool
congested(struct fpmd_req *req)
{
    return fpmd_conn_congested(&rpc_of(req->conn)->base);
}

static int
write_head(struct fpmd_req *req, const void *body, size_t blen)
{
    struct rpc_conn *c = req->conn;

    if (c->base.closed)
        return FPMD_ERROR;
    c->status = req->status;
    return blen > 0 && evbuffer_add(c->answer, body, blen) != 0
        ? FPMD_ERROR : FPMD_OK;
}

static int
write_body(struct fpmd_req *req, const void *body, size_t blen)
{
    struct rpc_conn *c = req->conn;

    return c->base.closed || evbuffer_add(c->answer, body, blen) != 0
        ? FPMD_ERROR : FPMD_OK;
}

static void
frame_out(struct rpc_conn *c, const char *text, size_t len)
{
    char head[FPMD_JSONRPC_HEAD_MAX];
    char tail = fpmd_jsonrpc_frame_tail(c->framing);

    evbuffer_add(c->base.out, head,
                 fpmd_jsonrpc_frame_head(c->framing, len, head));
    evbuffer_add(c->base.out, text, len);
    evbuffer_add(c->base.out, &tail, 1);
}

static void
finish(struct fpmd_req *req)
{
    struct rpc_conn *c = req->conn;
    size_t len = evbuffer_get_length(c->answer);
    char err[160];

    if (req->finished)
        return;
    req->finished = 1;
    if (c->base.closed)
        return;
    if (c->status == 200 && len > 0 && !req->cut_short) {
        frame_out(c, (const char *) evbuffer_pullup(c->answer, -1), len);
    } else if (c->status != 204 || req->cut_short) {
        int n = snprintf(err, sizeof(err), "{\"jsonrpc\":\"2.0\",\"error\":"
                         "{\"code\":%d,\"message\":\"HTTP %d %s\"},"
                         "\"id\":null}", FPMD_JSONRPC_SERVER_BUSY,
                         c->status, fpmd_status_reason(c->status));

        frame_out(c, err, (size_t) n);
    }
    evbuffer_drain(c->answer, len);
    fpmd_conn_after_write(&c->base);
}

static void parse_input(struct rpc_conn *c);

static void
release(struct fpmd_req *req)
{
    struct rpc_conn *c = req->conn;
    unsigned max = fpmd_process.conf->limits.requests_per_connection;

    c->req = NULL;
    fpmd_req_free(req);
    c->served++;
    if (c->base.closed) {
        fpmd_conn_maybe_free(&c->base);
        return;
    }
    if (fpmd_conn_draining() || (max != 0 && c->served >= max))
        c->base.close_after_flush = 1;
    else if (evbuffer_get_length(c->in) > 0)
        fpmd_conn_read_again(&c->base);
    fpmd_conn_settle(&c->base);
}

static void
body_consumed(struct fpmd_req *req)
{
    (void) req;
}

static const struct fpmd_req_ops rpc_ops = {
    write_head, write_body, finish, release, congested, body_consumed,
    NULL, NULL,
};

/* --- frames in --------------------------------------------------------- */

static int
add(struct fpmd_req *req, const char *name, const char *value, size_t vlen)
{
    return fpmd_req_add_param(req, name, strlen(name), value, vlen);
}

/* The frame text[0..len) as a request. */
static int
start(struct rpc_conn *c, const char *text, size_t len)
{
    const char *path = fpmd_process.conf->rpc_path
        ? fpmd_process.conf->rpc_path : "/rpc";
    struct fpmd_req *req = fpmd_req_new(&rpc_ops, c, 0);
    char clen[24];

    if (req == NULL)
        return FPMD_ERROR;
    snprintf(clen, sizeof(clen), "%zu", len);
    if (add(req, "REQUEST_METHOD", "POST", 4) != FPMD_OK
        || add(req, "REQUEST_URI", path, strlen(path)) != FPMD_OK
        || add(req, "SERVER_PROTOCOL", "JSON-RPC/2.0", 12) != FPMD_OK
        || add(req, "GATEWAY_INTERFACE", "CGI/1.1", 7) != FPMD_OK
        || add(req, "REMOTE_ADDR", c->base.peer, strlen(c->base.peer))
               != FPMD_OK
        || add(req, "CONTENT_TYPE", "application/json", 16) != FPMD_OK
        || add(req, "CONTENT_LENGTH", clen, strlen(clen)) != FPMD_OK) {
        fpmd_req_free(req);
        return FPMD_ERROR;
    }
    fpmd_req_derive(req);
    fpmd_req_body_feed(req, text, len);
    fpmd_req_body_end(req);
    c->req = req;
    c->status = 0;
    fpmd_conn_update(&c->base);
    fpmd_sched_start(req);
    return FPMD_OK;
}

static void
parse_input(struct rpc_conn *c)
{
    size_t max = fpmd_process.conf->limits.parsed_body;

    while (c->req == NULL && !c->base.closed && !c->base.close_after_flush
           && evbuffer_get_length(c->in) > 0) {
        size_t have = evbuffer_get_length(c->in), flen, used = 0;
        const char *buf = (const char *) evbuffer_pullup(c->in, -1);
        const char *frame, *why;
        int rc = fpmd_jsonrpc_frame_parse(c->framing, buf, have, max, &frame,
                                          &flen, &used, &why);

        if (rc == FPMD_AGAIN) {
            evbuffer_drain(c->in, used);
            return;
        }
        if (rc != FPMD_OK) {
            fpmd_log(FPMD_LOG_NOTICE, "jsonrpc %s: %s; connection closed",
                     c->base.peer, why);
            fpmd_conn_close(&c->base);
            return;
        }
        if (start(c, frame, flen) != FPMD_OK) {
            fpmd_log(FPMD_LOG_ERROR, "jsonrpc %s: out of memory",
                     c->base.peer);
            fpmd_conn_close(&c->base);
            return;
        }
        evbuffer_drain(c->in, used);
    }
}

/* --- the connection ----------------------------------------------------- */

static int
on_read(struct fpmd_conn *base)
{
    struct rpc_conn *c = rpc_of(base);
    size_t cap = fpmd_process.conf->limits.parsed_body
        + FPMD_JSONRPC_HEAD_MAX + 2;

    parse_input(c);
    /* a frame is read whole before it runs: bounded by its max */
    while (!base->closed && evbuffer_get_length(c->in) < cap) {
        int n = evbuffer_read(c->in, base->fd, 65536);

        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            break;
        if (n <= 0) {
            fpmd_conn_close(base);
            break;
        }
        parse_input(c);
        if (n < 65536)
            break;
    }
    return evbuffer_get_length(c->in) >= cap;
}

static enum fpmd_conn_phase
phase(const struct fpmd_conn *base)
{
    const struct rpc_conn *c = rpc_of(base);

    if (c->req != NULL)
        return FPMD_CONN_ACTIVE;
    if (evbuffer_get_length(c->in) > 0 || c->served == 0)
        return FPMD_CONN_HEAD;
    return FPMD_CONN_IDLE;
}

static void
on_timeout(struct fpmd_conn *base)
{
    fpmd_log(FPMD_LOG_NOTICE, "jsonrpc %s: no whole frame within "
             "timeouts.header_read; connection closed", base->peer);
    fpmd_conn_close(base);
}

static void
on_drained(struct fpmd_conn *base)
{
    struct rpc_conn *c = rpc_of(base);

    if (c->req != NULL)
        fpmd_req_drained(c->req);
}

static void
on_closed(struct fpmd_conn *base)
{
    struct rpc_conn *c = rpc_of(base);

    if (c->req != NULL)
        fpmd_req_abort(c->req);
}

static bool
is_busy(const struct fpmd_conn *base)
{
    return rpc_of(base)->req != NULL;
}

static bool
is_idle(const struct fpmd_conn *base)
{
    (void) base;
    return true;
}

static bool
at_rest(const struct fpmd_conn *base)
{
    const struct rpc_conn *c = rpc_of(base);

    return c->req == NULL && evbuffer_get_length(c->in) == 0;
}

static unsigned
served(const struct fpmd_conn *base)
{
    return rpc_of(base)->served;
}

static void
destroy(struct fpmd_conn *base)
{
    struct rpc_conn *c = rpc_of(base);

    evbuffer_free(c->in);
    evbuffer_free(c->answer);
    free(c);
}

static const struct fpmd_conn_ops conn_ops = {
    on_read, on_timeout, phase, on_drained, on_closed, is_busy, is_idle,
    at_rest, NULL, served, destroy,
};

int
fpmd_rpc_conn_new(int fd, const char *peer, unsigned served, int proto)
{
    struct rpc_conn *c = calloc(1, sizeof(*c));

    if (c == NULL)
        return FPMD_ERROR;
    c->framing = proto == FPMD_PROTO_JSONRPC_NETSTRING
        ? FPMD_JSONRPC_NETSTRING : FPMD_JSONRPC_LINES;
    c->served = served;
    c->in = evbuffer_new();
    c->answer = evbuffer_new();
    if (c->in == NULL || c->answer == NULL
        || fpmd_conn_init(&c->base, &conn_ops, fd, peer, proto) != FPMD_OK) {
        if (c->in != NULL)
            evbuffer_free(c->in);
        if (c->answer != NULL)
            evbuffer_free(c->answer);
        free(c);
        return FPMD_ERROR;
    }
    return FPMD_OK;
}
