/* SPDX-License-Identifier: BSD-2-Clause */
/* FastCGI server connections: bytes from the socket through the record
 * codec into requests, responses back as STDOUT records and END_REQUEST.
 * Several requests may share a connection (FCGI_MPXS_CONNS). The socket,
 * output and lifetime rules are conn.c's. */
#include "config.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <fastcgi.h>

#include "fpmd/conn.h"
#include "fpmd/fcgi.h"
#include "fpmd/fcgi_conn.h"
#include "fpmd/freelist.h"
#include "fpmd/log.h"
#include "fpmd/req.h"
#include "fpmd/sched.h"
#include "fpmd/process.h"


struct fcgi_conn {
    struct fpmd_conn base;              /* first: conn.c casts back */
    struct fpmd_fcgi_parser parser;
    struct fpmd_req *reqs;
    unsigned nreqs;
    unsigned read_paused:1;
    unsigned served:1;                  /* answered at least one request */
    unsigned stdin_ended:1;             /* the last record was an empty
                                         * STDIN: a web server without
                                         * FCGI_KEEP_CONN sends no more */
    uint8_t *rbuf;                      /* while input waits to be parsed */
    size_t rpos, rlen;                  /* unparsed input while paused */
};

/* Spare connections for the next accept. */
#define SPARE_CONNS 256
static struct fpmd_freelist spare_conns = FPMD_FREELIST_INIT(SPARE_CONNS);

/* --- request output ops ----------------------------------------------- */

static bool
congested(struct fpmd_req *req)
{
    struct fcgi_conn *c = req->conn;

    return fpmd_conn_congested(&c->base);
}

static int
write_head(struct fpmd_req *req, const void *body, size_t blen)
{
    struct fcgi_conn *c = req->conn;
    char small[8192], *buf = small;
    size_t hlen;
    int rc;

    if (c->base.closed)
        return FPMD_ERROR;
    /* No body for HEAD (RFC 3875 §4.3.3), as php-fpm sends none: a web
     * server may not discard one (HAProxy 2.6 answers 502, lighttpd takes
     * its length for the answer's). */
    if (req->is_head)
        blen = 0;
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
        rc = fpmd_fcgi_write_stream(c->base.out, FCGI_STDOUT, req->id, small,
                                    hlen + blen);
    } else {
        rc = fpmd_fcgi_write_stream(c->base.out, FCGI_STDOUT, req->id, buf, hlen);
        if (rc == FPMD_OK && blen > 0)
            rc = fpmd_fcgi_write_stream(c->base.out, FCGI_STDOUT, req->id, body,
                                        blen);
    }
    if (buf != small)
        free(buf);
    if (rc == FPMD_OK)
        fpmd_conn_after_write(&c->base);
    return rc;
}

static int
write_body(struct fpmd_req *req, const void *body, size_t blen)
{
    struct fcgi_conn *c = req->conn;

    if (c->base.closed)
        return FPMD_ERROR;
    if (req->is_head)
        return FPMD_OK;     /* see write_head */
    if (fpmd_fcgi_write_stream(c->base.out, FCGI_STDOUT, req->id, body, blen)
        != FPMD_OK)
        return FPMD_ERROR;
    fpmd_conn_after_write(&c->base);
    return FPMD_OK;
}

/* A legacy backend's stderr, passed on as the web server would have got
 * it from php-fpm: STDERR records of the request (FastCGI 1.0 §5.3). As
 * php-fpm does, no empty record ends the stream. */
static int
write_stderr(struct fpmd_req *req, const void *data, size_t len)
{
    struct fcgi_conn *c = req->conn;

    if (c->base.closed)
        return FPMD_ERROR;
    if (fpmd_fcgi_write_stream(c->base.out, FCGI_STDERR, req->id, data, len)
        != FPMD_OK)
        return FPMD_ERROR;
    fpmd_conn_after_write(&c->base);
    return FPMD_OK;
}

static void
finish(struct fpmd_req *req)
{
    struct fcgi_conn *c = req->conn;

    if (req->finished)
        return;
    req->finished = 1;
    if (c->base.closed)
        return;
    /* FastCGI has no record for an answer that failed midway: the web
     * server learns it from a close before END_REQUEST (nginx: "upstream
     * prematurely closed"), and cuts its own answer short. Requests still
     * running on the connection finish first. */
    if (req->cut_short) {
        c->base.close_after_flush = 1;
        return;
    }
    /* FastCGI 1.0 §5.3: the stream ends with an empty record, then exactly
     * one END_REQUEST; nothing for this id follows it. */
    fpmd_fcgi_write_eos(c->base.out, FCGI_STDOUT, req->id);
    fpmd_fcgi_write_end_request(c->base.out, req->id, 0, FCGI_REQUEST_COMPLETE);
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

static void
release(struct fpmd_req *req)
{
    struct fcgi_conn *c = req->conn;
    int keep = req->keep_conn;

    unlink_req(c, req);
    fpmd_req_free(req);
    c->served = 1;
    if (c->base.closed) {
        fpmd_conn_maybe_free(&c->base);
        return;
    }
    if ((!keep || fpmd_conn_draining()) && c->nreqs == 0)
        c->base.close_after_flush = 1;
    /* Input paused for a body this request never read: what is left of it
     * (and whatever follows) is parsed again, the rest of the body being
     * ignored as records of an ended request. */
    if (c->read_paused)
        fpmd_conn_read_again(&c->base);
    fpmd_conn_settle(&c->base);
}

static void
body_consumed(struct fpmd_req *req)
{
    struct fcgi_conn *c = req->conn;

    /* Called from a handler: parsing resumes on the next loop pass, never
     * on this coroutine's stack. */
    if (c->read_paused)
        fpmd_conn_read_again(&c->base);
}

static const struct fpmd_req_ops fcgi_ops = {
    write_head, write_body, finish, release, congested, body_consumed, NULL,
    write_stderr,
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

    c->stdin_ended = 0;
    /* The connection closes once its answers are out: a request without
     * FCGI_KEEP_CONN ended with none other under way. What follows it is
     * not read as requests, as php-fpm reads nothing more; one taken
     * would hold the connection, its reading stopped, until
     * header_read. */
    if (c->base.close_after_flush)
        return FPMD_OK;
    if (find_req(c, id) != NULL) {
        fpmd_log(FPMD_LOG_WARNING, "fastcgi %s: BEGIN_REQUEST for active "
                 "request id %u; closing the connection", c->base.peer, id);
        return FPMD_ERROR;
    }
    if (role != FCGI_RESPONDER) {
        fpmd_fcgi_write_end_request(c->base.out, id, 0, FCGI_UNKNOWN_ROLE);
        if (!(flags & FCGI_KEEP_CONN) && c->nreqs == 0)
            c->base.close_after_flush = 1;
        return FPMD_OK;
    }
    if (c->nreqs >= fpmd_process.conf->limits.fastcgi_requests) {
        /* FastCGI 1.0 §5.5: an application that does not multiplex says
         * so; one that does is overloaded past its count */
        fpmd_fcgi_write_end_request(c->base.out, id, 0,
                                    fpmd_process.conf->limits.fastcgi_requests
                                        == 1 ? FCGI_CANT_MPX_CONN
                                             : FCGI_OVERLOADED);
        return FPMD_OK;
    }
    req = fpmd_req_new(&fcgi_ops, c, id);
    if (req == NULL) {
        fpmd_fcgi_write_end_request(c->base.out, id, 0, FCGI_OVERLOADED);
        return FPMD_OK;
    }
    req->keep_conn = (flags & FCGI_KEEP_CONN) != 0;
    req->remote_addr = c->base.peer;
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
    const struct fpmd_conf *conf = fpmd_process.conf;
    size_t have;

    c->stdin_ended = 0;
    if (req == NULL || req->started)
        return FPMD_OK;     /* records of inactive ids are ignored (§3.3) */
    have = evbuffer_get_length(req->params_raw);
    if (n > 0) {
        if (req->route_status != 0)
            return FPMD_OK;
        if (n > conf->limits.params || have > conf->limits.params - n) {
            fpmd_log(FPMD_LOG_WARNING, "fastcgi %s: request %u params over "
                     "limits.params (%zu bytes); answering 431",
                     c->base.peer, id, conf->limits.params);
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
        /* Params with no memory to hold them are this request's failure,
         * answered (fpmd_alloc logged why); the connection's others go
         * on. Malformed ones leave the stream's framing in doubt. */
        req->route_status = fpmd_req_refused_status(req, 431);
        if (req->route_status == 0) {
            fpmd_log(FPMD_LOG_WARNING, "fastcgi %s: request %u has "
                     "malformed name-value pairs; closing the connection",
                     c->base.peer, id);
            return FPMD_ERROR;
        }
    }
    evbuffer_free(req->params_raw);
    req->params_raw = NULL;
    fpmd_req_derive(req);
    if (req->route_status == 0 && req->content_length > 0
        && (uint64_t) req->content_length > conf->limits.body)
        req->route_status = 413;
    /* CONTENT_LENGTH 0: there is no body to wait for, as php-fpm reads no
     * STDIN then. HAProxy 2.6 sends not even the empty STDIN record for
     * an empty chunked body. */
    if (req->content_length == 0)
        fpmd_req_body_end(req);
    fpmd_sched_start(req);
    return FPMD_OK;
}

static int
on_stdin(void *ctx, uint16_t id, const uint8_t *p, size_t n)
{
    struct fcgi_conn *c = ctx;
    struct fpmd_req *req = find_req(c, id);

    c->stdin_ended = n == 0;
    if (req == NULL)
        return FPMD_OK;
    if (n == 0) {
        fpmd_req_body_end(req);
        return FPMD_OK;
    }
    /* The body ended at the params (above): what comes is not body. */
    if (req->content_length == 0)
        return FPMD_OK;
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
        fpmd_req_client_gone(req);
        return FPMD_OK;
    }
    /* Never started: answer the abort at once (FastCGI 1.0 §5.4). */
    req->finished = 1;
    fpmd_fcgi_write_eos(c->base.out, FCGI_STDOUT, id);
    fpmd_fcgi_write_end_request(c->base.out, id, 0, FCGI_REQUEST_COMPLETE);
    release(req);
    return FPMD_OK;
}

/* FastCGI 1.0 §4.1, from what this worker enforces: the connections it
 * holds at once (limits.connections), the requests one connection may
 * carry that it runs at once (past limits.fastcgi_requests the next is
 * refused; past pm.max_concurrency they wait their turn, where separate
 * connections would have gone to a sibling with room), and whether one
 * connection may carry several. */
static int
on_get_values(void *ctx, const uint8_t *p, size_t n)
{
    struct fcgi_conn *c = ctx;
    const struct fpmd_conf *conf = fpmd_process.conf;
    unsigned reqs = conf->limits.fastcgi_requests;

    if (conf->pm.max_concurrency < reqs)
        reqs = conf->pm.max_concurrency;
    return fpmd_fcgi_write_get_values_result(c->base.out, p, n,
                                             conf->limits.connections, reqs,
                                             conf->limits.fastcgi_requests
                                                 > 1);
}

static int
on_unknown_type(void *ctx, uint8_t type)
{
    struct fcgi_conn *c = ctx;

    return fpmd_fcgi_write_unknown_type(c->base.out, type);
}

static const struct fpmd_fcgi_callbacks callbacks = {
    on_begin, on_params, on_stdin, on_data, on_abort, on_get_values,
    on_unknown_type,
};

/* --- connection ------------------------------------------------------- */

static struct fcgi_conn *
fcgi_of(const struct fpmd_conn *base)
{
    return (struct fcgi_conn *) base;
}

static bool
has_started(const struct fcgi_conn *c)
{
    for (const struct fpmd_req *r = c->reqs; r != NULL; r = r->next) {
        if (r->started)
            return true;
    }
    return false;
}

/* header_read runs from accept, or from the first byte of the next
 * request on a kept connection, until a request's params are complete;
 * none while handlers run (they have request_terminate_timeout). */
static enum fpmd_conn_phase
phase(const struct fpmd_conn *base)
{
    const struct fcgi_conn *c = fcgi_of(base);

    if (has_started(c))
        return FPMD_CONN_ACTIVE;
    if (c->nreqs > 0 || !fpmd_fcgi_parser_idle(&c->parser) || !c->served)
        return FPMD_CONN_HEAD;
    return FPMD_CONN_IDLE;
}

static struct fpmd_log_tally head_tally;

static const char timeout_answer[] = "Status: 408 Request Timeout\r\n"
    "Content-Type: text/plain\r\n\r\n408 Request Timeout\n";

/* Requests whose params did not all come get a 408 the web server can
 * pass on (it knows their ids); then the connection closes. */
static void
on_timeout(struct fpmd_conn *base)
{
    struct fcgi_conn *c = fcgi_of(base);
    struct fpmd_req *r, *next;

    fpmd_log_tally(&head_tally, FPMD_LOG_NOTICE, "fastcgi %s: request params "
                   "not complete within timeouts.header_read; connection "
                   "closed", base->peer);
    for (r = c->reqs; r != NULL; r = next) {
        next = r->next;
        r->finished = 1;
        fpmd_fcgi_write_stream(base->out, FCGI_STDOUT, r->id, timeout_answer,
                               sizeof(timeout_answer) - 1);
        fpmd_fcgi_write_eos(base->out, FCGI_STDOUT, r->id);
        fpmd_fcgi_write_end_request(base->out, r->id, 0,
                                    FCGI_REQUEST_COMPLETE);
        unlink_req(c, r);
        fpmd_req_free(r);
    }
    if (evbuffer_get_length(base->out) == 0) {
        fpmd_conn_close(base);
        return;
    }
    fpmd_fcgi_parser_reset(&c->parser);
    c->rpos = c->rlen = 0;
    base->close_after_flush = 1;
}

static void
parse_input(struct fcgi_conn *c)
{
    while (c->rpos < c->rlen && !c->base.closed) {
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
        if (c->parser.framer.err != NULL)
            fpmd_log(FPMD_LOG_WARNING, "fastcgi %s: protocol error: %s; "
                     "closing the connection", c->base.peer,
                     c->parser.framer.err);
        fpmd_conn_close(&c->base);
        return;
    }
    c->rpos = c->rlen = 0;
    c->read_paused = 0;
}

static int
on_read(struct fpmd_conn *base)
{
    struct fcgi_conn *c = fcgi_of(base);
    ssize_t n;

    /* Called again after a pause: the handler took body, so feeding may
     * go on. A pause that came with the last byte of the buffer leaves
     * nothing to parse here, and must not keep reading stopped. */
    c->read_paused = 0;
    if (c->rpos < c->rlen)
        parse_input(c);
    /* Bounded: a peer that never stops sending cannot starve the others. */
    for (int round = 0; round < 4 && !base->closed && !c->read_paused;
         round++) {
        if (c->rbuf == NULL && (c->rbuf = fpmd_conn_rbuf_get()) == NULL) {
            fpmd_log(FPMD_LOG_ERROR, "fastcgi %s: out of memory", base->peer);
            fpmd_conn_close(base);
            break;
        }
        n = read(base->fd, c->rbuf, FPMD_CONN_RBUF);
        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR)
                break;
            if (errno != ECONNRESET)
                fpmd_log_errno(FPMD_LOG_NOTICE, "fastcgi %s: read",
                               base->peer);
            fpmd_conn_close(base);
            break;
        }
        if (n == 0) {
            fpmd_conn_close(base);
            break;
        }
        c->rpos = 0;
        c->rlen = (size_t) n;
        parse_input(c);
        if ((size_t) n < FPMD_CONN_RBUF)
            break;
    }
    if (c->rpos >= c->rlen) {
        fpmd_conn_rbuf_put(c->rbuf);
        c->rbuf = NULL;
    }
    return c->read_paused;
}

static void
on_drained(struct fpmd_conn *base)
{
    for (struct fpmd_req *r = fcgi_of(base)->reqs; r != NULL; r = r->next)
        fpmd_req_drained(r);
}

static void
on_closed(struct fpmd_conn *base)
{
    struct fcgi_conn *c = fcgi_of(base);
    struct fpmd_req *r, *next;

    for (r = c->reqs; r != NULL; r = next) {
        next = r->next;
        if (r->started) {
            fpmd_req_client_gone(r);
        } else {
            unlink_req(c, r);
            fpmd_req_free(r);
        }
    }
}

static bool
is_busy(const struct fpmd_conn *base)
{
    return fcgi_of(base)->nreqs > 0;
}

static bool
is_idle(const struct fpmd_conn *base)
{
    return fpmd_fcgi_parser_idle(&fcgi_of(base)->parser);
}

static bool
input_done(const struct fpmd_conn *base)
{
    const struct fcgi_conn *c = fcgi_of(base);

    return c->stdin_ended && c->rpos >= c->rlen
        && fpmd_fcgi_parser_idle(&c->parser);
}

static bool
at_rest(const struct fpmd_conn *base)
{
    const struct fcgi_conn *c = fcgi_of(base);

    return c->nreqs == 0 && fpmd_fcgi_parser_idle(&c->parser)
        && c->rpos >= c->rlen;
}

static unsigned
served(const struct fpmd_conn *base)
{
    return fcgi_of(base)->served;
}

static void
destroy(struct fpmd_conn *base)
{
    struct fcgi_conn *c = fcgi_of(base);

    fpmd_fcgi_parser_reset(&c->parser);
    fpmd_conn_rbuf_put(c->rbuf);
    c->rbuf = NULL;
    if (!fpmd_freelist_put(&spare_conns, c))
        free(c);
}

static const struct fpmd_conn_ops conn_ops = {
    on_read, on_timeout, phase, on_drained, on_closed, is_busy, is_idle,
    at_rest, input_done, served, destroy,
};

size_t
fpmd_fcgi_conn_cached(void)
{
    return spare_conns.n;
}

size_t
fpmd_fcgi_conn_trim(size_t keep)
{
    return fpmd_freelist_trim(&spare_conns, keep, free);
}

int
fpmd_fcgi_conn_new(int fd, const char *peer, unsigned served)
{
    struct fcgi_conn *c = fpmd_freelist_get(&spare_conns);

    if (c != NULL)
        memset(c, 0, sizeof(*c));
    else if ((c = calloc(1, sizeof(*c))) == NULL)
        return FPMD_ERROR;
    fpmd_fcgi_parser_init(&c->parser);
    c->served = served != 0;
    if (fpmd_conn_init(&c->base, &conn_ops, fd, peer, FPMD_PROTO_FASTCGI)
        != FPMD_OK) {
        free(c);
        return FPMD_ERROR;
    }
    return FPMD_OK;
}
