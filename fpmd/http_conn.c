/* SPDX-License-Identifier: BSD-2-Clause */
/* HTTP/1.1 server connections over llhttp (strict build). A connection
 * carries one request at a time: pipelined requests wait in the input
 * buffer until the response before them is complete, so answers go out in
 * request order. The request becomes the same CGI-style params a web
 * server sends over FastCGI, so handlers see no difference. Framing that
 * llhttp lets through but RFC 9112 forbids (bare LF, obs-fold) is refused
 * here before the bytes reach it. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <llhttp.h>

#include "fpmd/conn.h"
#include "fpmd/freelist.h"
#include "fpmd/http_conn.h"
#include "fpmd/log.h"
#include "fpmd/req.h"
#include "fpmd/uri.h"
#include "fpmd/worker.h"

#define READ_CHUNK 16384

enum head_scan { SCAN_LINE, SCAN_CR, SCAN_LF, SCAN_CRLFCR, SCAN_BODY };

struct http_conn {
    struct fpmd_conn base;          /* first: conn.c casts back */
    llhttp_t parser;
    struct fpmd_req *req;           /* being read or answered */
    struct evbuffer *field, *value; /* header being read */
    int in_value;
    int headers_done;               /* fields now are trailers: ignored */
    unsigned nheaders;
    size_t head_bytes, uri_bytes;
    enum head_scan scan;            /* our own CRLF checks on the head */
    int head_started;
    unsigned served;
    int error_status;               /* set by a callback that fails */
    const char *error_reason;
    unsigned read_paused:1;         /* body window full */
    unsigned msg_paused:1;          /* between a request and its answer */
    unsigned keep_alive:1;
    unsigned chunked:1;             /* response uses chunked coding */
    unsigned is_head:1;
    unsigned http10:1;
    size_t rpos, rlen;
    char peer_port[8];
    char local_addr[64];
    char local_port[8];
    uint8_t rbuf[READ_CHUNK];       /* last: a reused connection skips it */
};

/* Spare connections, with their header buffers, for the next accept. */
#define SPARE_CONNS 256
static struct fpmd_freelist spare_conns = FPMD_FREELIST_INIT(SPARE_CONNS);

static const struct timeval *header_tv, *keepalive_tv, *body_tv;
static llhttp_settings_t settings;

static void update_timer(struct fpmd_conn *base);

/* --- answers the codec gives itself ----------------------------------- */

static void
http_date(char *buf, size_t len)
{
    time_t t = time(NULL);
    struct tm tm;

    gmtime_r(&t, &tm);
    strftime(buf, len, "%a, %d %b %Y %H:%M:%S GMT", &tm);
}

/* An error found by the codec itself (bad framing, limits): answered and
 * the connection closed, as RFC 9112 §11.2 asks after a framing error. */
static void
reject(struct http_conn *c, int status, const char *why)
{
    char date[64];

    fpmd_log(FPMD_LOG_NOTICE, "http %s: %d %s: %s", c->base.peer, status,
             fpmd_status_reason(status), why);
    if (c->req != NULL && c->req->started) {
        /* The handler runs: it is stopped, and the answer below is its. */
        fpmd_req_abort(c->req);
        if (c->req->head_sent) {
            fpmd_conn_close(&c->base);
            return;
        }
        c->req->head_sent = 1;
    }
    http_date(date, sizeof(date));
    evbuffer_add_printf(c->base.out, "HTTP/1.1 %d %s\r\nDate: %s\r\n%s%s%s"
                        "Content-Type: text/plain\r\nContent-Length: %zu\r\n"
                        "Connection: close\r\n\r\n%d %s\n",
                        status, fpmd_status_reason(status), date,
                        fpmd_worker->conf->server_token ? "Server: " : "",
                        fpmd_worker->conf->server_token
                            ? fpmd_worker->conf->server_token : "",
                        fpmd_worker->conf->server_token ? "\r\n" : "",
                        strlen(fpmd_status_reason(status)) + 5, status,
                        fpmd_status_reason(status));
    c->base.close_after_flush = 1;
    c->keep_alive = 0;
    if (c->req != NULL && !c->req->started) {
        fpmd_req_free(c->req);
        c->req = NULL;
    }
    c->scan = SCAN_BODY;    /* nothing more is read */
}

/* --- response output -------------------------------------------------- */

static int
congested(struct fpmd_req *req)
{
    struct http_conn *c = req->conn;

    return fpmd_conn_congested(&c->base);
}

/* RFC 9110 §6.4.1: these answers never carry content. */
static int
bodiless(const struct fpmd_req *req)
{
    return req->status < 200 || req->status == 204 || req->status == 304;
}

/* Body bytes as the head announced them: chunked or plain. */
static void
add_body(struct http_conn *c, const void *body, size_t blen)
{
    if (c->chunked)
        evbuffer_add_printf(c->base.out, "%zx\r\n", blen);
    evbuffer_add(c->base.out, body, blen);
    if (c->chunked)
        evbuffer_add(c->base.out, "\r\n", 2);
}

static int
write_head(struct fpmd_req *req, const void *body, size_t blen)
{
    struct http_conn *c = req->conn;
    const char *token = fpmd_worker->conf->server_token;
    int has_length = fpmd_req_resp_header(req, "Content-Length") != NULL;
    int no_body = bodiless(req);
    char date[64];

    unsigned max = fpmd_worker->conf->limits.requests_per_connection;

    if (c->base.closed)
        return FPMD_ERROR;
    /* The last answer a connection may carry says so, as nginx does at
     * keepalive_requests: clients then do not see an unexpected close. */
    if ((max != 0 && c->served + 1 >= max) || fpmd_worker_draining())
        c->keep_alive = 0;
    http_date(date, sizeof(date));
    evbuffer_add_printf(c->base.out, "HTTP/1.1 %d %s\r\nDate: %s\r\n",
                        req->status, fpmd_status_reason(req->status), date);
    if (token != NULL)
        evbuffer_add_printf(c->base.out, "Server: %s\r\n", token);
    for (const struct fpmd_resp_header *h = req->headers; h != NULL;
         h = h->next) {
        /* hop-by-hop framing is the codec's business, not the handler's */
        if (strcasecmp(h->name, "Transfer-Encoding") == 0
            || strcasecmp(h->name, "Connection") == 0)
            continue;
        evbuffer_add_printf(c->base.out, "%s: %s\r\n", h->name, h->value);
    }
    c->chunked = 0;
    if (!no_body && !has_length) {
        if (req->whole) {
            evbuffer_add_printf(c->base.out, "Content-Length: %zu\r\n", blen);
        } else if (!c->http10) {
            evbuffer_add(c->base.out, "Transfer-Encoding: chunked\r\n", 28);
            c->chunked = 1;
        } else {
            c->keep_alive = 0;  /* HTTP/1.0 without a length: close ends it */
        }
    }
    if (!c->keep_alive)
        evbuffer_add(c->base.out, "Connection: close\r\n\r\n", 21);
    else if (c->http10)
        evbuffer_add(c->base.out, "Connection: keep-alive\r\n\r\n", 26);
    else
        evbuffer_add(c->base.out, "\r\n", 2);
    if (no_body || c->is_head)
        c->chunked = 0;
    if (blen > 0 && !no_body && !c->is_head)
        add_body(c, body, blen);
    fpmd_conn_after_write(&c->base);
    return FPMD_OK;
}

static int
write_body(struct fpmd_req *req, const void *body, size_t blen)
{
    struct http_conn *c = req->conn;

    if (c->base.closed)
        return FPMD_ERROR;
    if (c->is_head || bodiless(req))
        return FPMD_OK;
    add_body(c, body, blen);
    fpmd_conn_after_write(&c->base);
    return FPMD_OK;
}

static void
finish(struct fpmd_req *req)
{
    struct http_conn *c = req->conn;

    if (req->finished)
        return;
    req->finished = 1;
    if (c->base.closed)
        return;
    /* Cut short: no last chunk, and the close that follows tells a client
     * of a Content-Length answer too. */
    if (c->chunked && !req->cut_short)
        evbuffer_add(c->base.out, "0\r\n\r\n", 5);
    /* A request whose body was not read to the end leaves the stream at an
     * unknown point: the connection cannot carry another request. */
    if (!req->body_eof || req->cut_short)
        c->keep_alive = 0;
}

static void
release(struct fpmd_req *req)
{
    struct http_conn *c = req->conn;
    unsigned max = fpmd_worker->conf->limits.requests_per_connection;

    c->req = NULL;
    fpmd_req_free(req);
    c->served++;
    if (c->base.closed) {
        fpmd_conn_maybe_free(&c->base);
        return;
    }
    if (!c->keep_alive || fpmd_worker_draining()
        || (max != 0 && c->served >= max))
        c->base.close_after_flush = 1;
    /* The next pipelined request may already be buffered. */
    if (c->msg_paused && !c->base.close_after_flush) {
        llhttp_resume(&c->parser);
        c->msg_paused = 0;
        fpmd_conn_read_again(&c->base);
    }
    fpmd_conn_settle(&c->base);
}

static void
body_consumed(struct fpmd_req *req)
{
    struct http_conn *c = req->conn;

    if (c->read_paused)
        fpmd_conn_read_again(&c->base);
}

/* The file goes out by sendfile(2) when the output buffer reaches it. */
static int
write_file(struct fpmd_req *req, int fd, off_t offset, off_t len)
{
    struct http_conn *c = req->conn;

    if (c->base.closed || c->chunked
        || evbuffer_add_file(c->base.out, fd, offset, len) != 0) {
        close(fd);
        return FPMD_ERROR;
    }
    fpmd_conn_after_write(&c->base);
    return FPMD_OK;
}

static const struct fpmd_req_ops http_ops = {
    write_head, write_body, finish, release, congested, body_consumed,
    write_file,
};

/* --- parsing ---------------------------------------------------------- */

static struct http_conn *
conn_of(llhttp_t *p)
{
    return p->data;
}

static int
on_message_begin(llhttp_t *p)
{
    struct http_conn *c = conn_of(p);

    c->req = fpmd_req_new(&http_ops, c, 0);
    if (c->req == NULL)
        return -1;
    c->nheaders = 0;
    c->uri_bytes = 0;
    c->in_value = 0;
    c->headers_done = 0;
    evbuffer_drain(c->field, evbuffer_get_length(c->field));
    evbuffer_drain(c->value, evbuffer_get_length(c->value));
    return 0;
}

static int
on_url(llhttp_t *p, const char *at, size_t len)
{
    struct http_conn *c = conn_of(p);

    c->uri_bytes += len;
    if (c->uri_bytes > fpmd_worker->conf->limits.uri) {
        llhttp_set_error_reason(p, "request target over limits.uri");
        return HPE_USER;
    }
    return evbuffer_add(c->field, at, len) == 0 ? 0 : -1;
}

static int
on_url_complete(llhttp_t *p)
{
    struct http_conn *c = conn_of(p);
    size_t n = evbuffer_get_length(c->field);
    const char *uri = (const char *) evbuffer_pullup(c->field, -1);
    const char *q;
    char *path;
    size_t plen;
    int rc;

    if (n == 0)
        return -1;
    /* DOCUMENT_URI as nginx passes it: decoded and normalized, so routes
     * and static files see one path whichever way the request came. */
    path = fpmd_alloc(c->req, n + 1);
    if (path == NULL)
        return -1;
    if (fpmd_uri_normalize(uri, n, path, &plen) != FPMD_OK) {
        c->error_status = 400;
        c->error_reason = "request target does not normalize";
        evbuffer_drain(c->field, n);
        return -1;
    }
    q = memchr(uri, '?', n);
    rc = fpmd_req_add_param(c->req, "REQUEST_URI", 11, uri, n);
    if (rc == FPMD_OK)
        rc = fpmd_req_add_param(c->req, "QUERY_STRING", 12, q ? q + 1 : "",
                                q ? n - (size_t) (q + 1 - uri) : 0);
    if (rc == FPMD_OK)
        rc = fpmd_req_add_param(c->req, "DOCUMENT_URI", 12, path, plen);
    evbuffer_drain(c->field, n);
    return rc == FPMD_OK ? 0 : -1;
}

/* One header into its CGI name (RFC 3875 §4.1.18): HTTP_ + upper case,
 * '-' to '_'. Names with '_' are dropped, as nginx does, so X_Foo cannot
 * pose as X-Foo; Proxy never becomes HTTP_PROXY (httpoxy). */
static int
commit_header(struct http_conn *c)
{
    size_t nlen = evbuffer_get_length(c->field);
    size_t vlen = evbuffer_get_length(c->value);
    const char *name = (const char *) evbuffer_pullup(c->field, -1);
    char *value = (char *) evbuffer_pullup(c->value, -1);
    char key[256];
    size_t k = 0;
    int rc = FPMD_OK;

    if (nlen == 0)
        return 0;
    /* llhttp keeps trailing whitespace in values (RFC 9110 §5.5 OWS). */
    while (vlen > 0 && (value[vlen - 1] == ' ' || value[vlen - 1] == '\t'))
        vlen--;
    if (memchr(name, '_', nlen) != NULL || nlen + 6 > sizeof(key)
        || (nlen == 5 && strncasecmp(name, "Proxy", 5) == 0))
        goto done;
    if (nlen == 12 && strncasecmp(name, "Content-Type", 12) == 0) {
        memcpy(key, "CONTENT_TYPE", 12);
        k = 12;
    } else if (nlen == 14 && strncasecmp(name, "Content-Length", 14) == 0) {
        memcpy(key, "CONTENT_LENGTH", 14);
        k = 14;
    } else {
        memcpy(key, "HTTP_", 5);
        k = 5;
        for (size_t i = 0; i < nlen; i++)
            key[k++] = name[i] == '-' ? '_'
                                      : (char) toupper((unsigned char) name[i]);
    }
    rc = fpmd_req_add_param(c->req, key, k, vlen ? value : "", vlen);
done:
    evbuffer_drain(c->field, evbuffer_get_length(c->field));
    evbuffer_drain(c->value, evbuffer_get_length(c->value));
    c->in_value = 0;
    return rc == FPMD_OK ? 0 : -1;
}

static int
on_header_field(llhttp_t *p, const char *at, size_t len)
{
    struct http_conn *c = conn_of(p);

    /* RFC 9110 §6.5.1: trailer fields may be discarded; they never reach
     * the params a handler may be reading already. */
    if (c->headers_done)
        return 0;
    if (c->in_value && commit_header(c) != 0)
        return -1;
    if (evbuffer_get_length(c->field) == 0
        && ++c->nheaders > fpmd_worker->conf->limits.headers) {
        llhttp_set_error_reason(p, "header fields over limits.headers");
        return HPE_USER;
    }
    return evbuffer_add(c->field, at, len) == 0 ? 0 : -1;
}

static int
on_header_value(llhttp_t *p, const char *at, size_t len)
{
    struct http_conn *c = conn_of(p);

    if (c->headers_done)
        return 0;
    c->in_value = 1;
    return evbuffer_add(c->value, at, len) == 0 ? 0 : -1;
}

static int
add_cgi(struct http_conn *c, const char *name, const char *value)
{
    return fpmd_req_add_param(c->req, name, strlen(name), value,
                              strlen(value));
}

static int
on_headers_complete(llhttp_t *p)
{
    struct http_conn *c = conn_of(p);
    const struct fpmd_conf *conf = fpmd_worker->conf;
    struct fpmd_req *req = c->req;
    const char *method = llhttp_method_name((llhttp_method_t) p->method);
    const char *expect, *te;
    char proto[16];

    if (c->in_value && commit_header(c) != 0)
        return -1;
    c->headers_done = 1;
    snprintf(proto, sizeof(proto), "HTTP/%u.%u", p->http_major, p->http_minor);
    if (add_cgi(c, "REQUEST_METHOD", method) != FPMD_OK
        || add_cgi(c, "SERVER_PROTOCOL", proto) != FPMD_OK
        || add_cgi(c, "GATEWAY_INTERFACE", "CGI/1.1") != FPMD_OK
        || add_cgi(c, "SERVER_SOFTWARE", "fpmd/" PACKAGE_VERSION) != FPMD_OK
        || add_cgi(c, "REMOTE_ADDR", c->base.peer) != FPMD_OK
        || add_cgi(c, "REMOTE_PORT", c->peer_port) != FPMD_OK
        || add_cgi(c, "SERVER_ADDR", c->local_addr) != FPMD_OK
        || add_cgi(c, "SERVER_PORT", c->local_port) != FPMD_OK)
        return -1;
    c->http10 = p->http_major == 1 && p->http_minor == 0;
    c->keep_alive = llhttp_should_keep_alive(p) != 0;
    c->is_head = p->method == HTTP_HEAD;
    fpmd_req_derive(req);
    /* RFC 9112 §3.2: a 1.1 request without Host is a 400. */
    if (!c->http10 && fpmd_req_param(req, "HTTP_HOST") == NULL) {
        c->error_status = 400;
        c->error_reason = "no Host header";
        return -1;
    }
    if (p->upgrade || p->method == HTTP_CONNECT) {
        c->error_status = 501;
        c->error_reason = "upgrade and CONNECT are not served";
        return -1;
    }
    /* RFC 9112 §6.1: chunked is the only transfer coding served; any
     * other is a 501 (llhttp's strict build lets "gzip" through). */
    te = fpmd_req_param(req, "HTTP_TRANSFER_ENCODING");
    /* HTTP/1.0 has no chunked framing: its body needs a length (RFC 9112
     * §6.1 also wants the connection closed). */
    if (te != NULL && c->http10) {
        c->error_status = 411;
        c->error_reason = "HTTP/1.0 body without Content-Length";
        return -1;
    }
    if (te != NULL && strcasecmp(te, "chunked") != 0) {
        c->error_status = 501;
        c->error_reason = "transfer coding other than chunked";
        return -1;
    }
    if ((p->flags & F_CONTENT_LENGTH) && p->content_length > conf->limits.body)
        req->route_status = 413;
    expect = fpmd_req_param(req, "HTTP_EXPECT");
    if (expect != NULL) {
        if (strcasecmp(expect, "100-continue") != 0)
            req->route_status = 417;
        else if (req->route_status == 0 && !c->http10)
            evbuffer_add(c->base.out, "HTTP/1.1 100 Continue\r\n\r\n", 25);
    }
    if (req->route_status == 0 && !(p->flags & (F_CONTENT_LENGTH | F_CHUNKED)))
        req->body_eof = 1;
    c->scan = SCAN_BODY;
    fpmd_conn_unfresh(&c->base);
    update_timer(&c->base);
    fpmd_worker_start_req(req);
    return 0;
}

static int
on_body(llhttp_t *p, const char *at, size_t len)
{
    struct http_conn *c = conn_of(p);

    if (c->req == NULL)
        return 0;
    if (fpmd_req_body_feed(c->req, at, len))
        c->read_paused = 1;
    return 0;
}

static int
on_message_complete(llhttp_t *p)
{
    struct http_conn *c = conn_of(p);

    if (c->req != NULL && !c->req->body_eof)
        fpmd_req_body_end(c->req);
    c->head_started = 0;
    c->head_bytes = 0;
    c->scan = SCAN_LINE;
    /* One request at a time: the next one waits for this answer. And once
     * the connection is to close, nothing after this message is parsed. */
    if (c->req != NULL || c->base.close_after_flush) {
        c->msg_paused = 1;
        return HPE_PAUSED;
    }
    return 0;
}

/* RFC 9112 §2.2: a bare LF is not a line end, and obs-fold is refused
 * (§5.2). llhttp accepts both, so the head is checked here first. Returns
 * the offset of the first bad byte, or len. */
static size_t
scan_head(struct http_conn *c, const uint8_t *p, size_t len, const char **why)
{
    for (size_t i = 0; i < len; i++) {
        uint8_t b = p[i];

        if (c->scan != SCAN_BODY
            && ++c->head_bytes > fpmd_worker->conf->limits.header) {
            *why = "request head over limits.header";
            return i;
        }
        switch (c->scan) {
        case SCAN_BODY:
            return len;
        case SCAN_LINE:
            if (b == '\n') {
                *why = "bare LF";
                return i;
            }
            if (b == '\r')
                c->scan = SCAN_CR;
            c->head_started = 1;
            break;
        case SCAN_CR:
            if (b != '\n') {
                *why = "bare CR";
                return i;
            }
            c->scan = SCAN_LF;
            break;
        case SCAN_LF:
            if ((b == ' ' || b == '\t') && c->head_started) {
                *why = "obs-fold";
                return i;
            }
            if (b == '\n') {
                *why = "bare LF";
                return i;
            }
            c->scan = b == '\r' ? SCAN_CRLFCR : SCAN_LINE;
            break;
        case SCAN_CRLFCR:
            if (b != '\n') {
                *why = "bare CR";
                return i;
            }
            c->scan = SCAN_BODY;    /* end of the head */
            break;
        }
    }
    return len;
}

static int
status_for(llhttp_errno_t err, const char *reason)
{
    if (err == HPE_USER && reason != NULL) {
        if (strstr(reason, "limits.uri") != NULL)
            return 414;
        if (strstr(reason, "limits.header") != NULL)
            return 431;
    }
    if (err == HPE_INVALID_VERSION)
        return 505;
    return 400;
}

/* Feeds buffered input to llhttp until it is used up or the parser waits
 * (for an answer, or for the handler to read body). */
static void
parse_input(struct http_conn *c)
{
    while (c->rpos < c->rlen && !c->base.closed && !c->msg_paused
           && !c->read_paused && !c->base.close_after_flush) {
        const char *start = (const char *) c->rbuf + c->rpos;
        size_t n = c->rlen - c->rpos;
        const char *why = NULL;
        llhttp_errno_t err;

        if (c->scan != SCAN_BODY) {
            n = scan_head(c, c->rbuf + c->rpos, n, &why);
            if (why != NULL && n == 0) {
                reject(c, strstr(why, "limits") ? 431 : 400, why);
                return;
            }
        }
        err = llhttp_execute(&c->parser, start, n);
        if (err == HPE_OK) {
            c->rpos += n;
            if (why != NULL) {
                reject(c, strstr(why, "limits") ? 431 : 400, why);
                return;
            }
        } else if (err == HPE_PAUSED) {
            c->rpos = (size_t) ((const uint8_t *) llhttp_get_error_pos(
                                    &c->parser) - c->rbuf);
        } else if (c->error_status != 0) {
            reject(c, c->error_status, c->error_reason);
            return;
        } else {
            const char *reason = llhttp_get_error_reason(&c->parser);

            reject(c, status_for(err, reason), reason ? reason
                   : llhttp_errno_name(err));
            return;
        }
    }
    if (c->rpos >= c->rlen)
        c->rpos = c->rlen = 0;
}

/* --- connection ------------------------------------------------------- */

static struct http_conn *
http_of(const struct fpmd_conn *base)
{
    return (struct http_conn *) base;
}

static void
update_timer(struct fpmd_conn *base)
{
    struct http_conn *c = http_of(base);
    const struct timeval *tv;

    if (c->req != NULL && c->req->started && !c->req->body_eof)
        tv = body_tv;                       /* waiting for body bytes */
    else if (c->req != NULL && c->req->started)
        tv = NULL;                          /* the handler has the time */
    else if (c->head_started || c->req != NULL || c->served == 0)
        tv = header_tv;
    else
        tv = keepalive_tv;
    fpmd_conn_timer(base, tv);
}

static void
on_timeout(struct fpmd_conn *base)
{
    struct http_conn *c = http_of(base);

    if (c->req == NULL && !c->head_started && c->served > 0) {
        fpmd_conn_close(base);              /* idle keep-alive */
    } else if (c->req != NULL && c->req->started) {
        fpmd_req_abort(c->req);             /* body stalled */
        fpmd_log(FPMD_LOG_NOTICE, "http %s: body read timeout", base->peer);
        c->keep_alive = 0;
    } else {
        reject(c, 408, "request head not complete in time");
    }
}

static int
on_read(struct fpmd_conn *base)
{
    struct http_conn *c = http_of(base);
    ssize_t n;
    size_t want;

    /* Woken by the handler draining the body, or by new bytes: either way
     * the body window is looked at again as bytes are fed. */
    c->read_paused = 0;
    parse_input(c);
    /* Reading goes on while a request waits for its answer (up to a full
     * buffer), so a client that goes away is noticed and its request
     * aborted, as nginx does. */
    /* Bounded: a peer that never stops sending cannot starve the others. */
    for (int round = 0; round < 8 && !base->closed && !base->close_after_flush;
         round++) {
        if (c->rpos > 0) {
            memmove(c->rbuf, c->rbuf + c->rpos, c->rlen - c->rpos);
            c->rlen -= c->rpos;
            c->rpos = 0;
        }
        if (c->rlen == sizeof(c->rbuf))
            break;
        want = sizeof(c->rbuf) - c->rlen;
        n = read(base->fd, c->rbuf + c->rlen, want);
        if (n < 0) {
            if (errno != EAGAIN && errno != EINTR && errno != ECONNRESET)
                fpmd_log_errno(FPMD_LOG_NOTICE, "http %s: read", base->peer);
            if (errno != EAGAIN && errno != EINTR)
                fpmd_conn_close(base);
            break;
        }
        if (n == 0) {
            fpmd_conn_close(base);
            break;
        }
        c->rlen += (size_t) n;
        parse_input(c);
        /* A short read emptied the socket: the poll is level-triggered, so
         * skip the read that would only say EAGAIN. */
        if ((size_t) n < want)
            break;
    }
    return c->rlen == sizeof(c->rbuf);
}

static void
on_drained(struct fpmd_conn *base)
{
    struct http_conn *c = http_of(base);

    if (c->req != NULL)
        fpmd_req_drained(c->req);
}

static void
on_closed(struct fpmd_conn *base)
{
    struct http_conn *c = http_of(base);

    if (c->req == NULL)
        return;
    if (c->req->started) {
        fpmd_req_abort(c->req);
    } else {
        fpmd_req_free(c->req);
        c->req = NULL;
    }
}

static int
is_busy(const struct fpmd_conn *base)
{
    return http_of(base)->req != NULL;
}

static int
is_idle(const struct fpmd_conn *base)
{
    return 1;       /* a half-read head is dropped with the connection */
}

static int
on_drain(struct fpmd_conn *base)
{
    struct http_conn *c = http_of(base);

    if (c->served > 0 && c->req == NULL && !c->head_started
        && evbuffer_get_length(base->out) == 0)
        return 1;
    c->keep_alive = 0;
    return 0;
}

static void
destroy(struct fpmd_conn *base)
{
    struct http_conn *c = http_of(base);

    evbuffer_drain(c->field, evbuffer_get_length(c->field));
    evbuffer_drain(c->value, evbuffer_get_length(c->value));
    if (fpmd_freelist_put(&spare_conns, c))
        return;
    evbuffer_free(c->field);
    evbuffer_free(c->value);
    free(c);
}

static const struct fpmd_conn_ops conn_ops = {
    on_read, on_timeout, update_timer, on_drained, on_closed, is_busy,
    is_idle, on_drain, NULL, destroy,
};

void
fpmd_http_conn_setup(const struct fpmd_conf *conf)
{
    header_tv = fpmd_conn_timeout(conf->timeouts.header_read_ms);
    keepalive_tv = fpmd_conn_timeout(conf->timeouts.keepalive_ms);
    body_tv = fpmd_conn_timeout(conf->timeouts.body_read_ms);
    llhttp_settings_init(&settings);
    settings.on_message_begin = on_message_begin;
    settings.on_url = on_url;
    settings.on_url_complete = on_url_complete;
    settings.on_header_field = on_header_field;
    settings.on_header_value = on_header_value;
    settings.on_headers_complete = on_headers_complete;
    settings.on_body = on_body;
    settings.on_message_complete = on_message_complete;
}

static void
sockname(int fd, char *addr, size_t alen, char *port, size_t plen, int peer)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    int rc = peer ? getpeername(fd, (struct sockaddr *) &ss, &len)
                  : getsockname(fd, (struct sockaddr *) &ss, &len);

    if (rc != 0) {
        snprintf(addr, alen, "unknown");
        snprintf(port, plen, "0");
        return;
    }
    fpmd_sockaddr_ntop((struct sockaddr *) &ss, addr, alen);
    if (ss.ss_family == AF_INET)
        snprintf(port, plen, "%u",
                 ntohs(((struct sockaddr_in *) &ss)->sin_port));
    else if (ss.ss_family == AF_INET6)
        snprintf(port, plen, "%u",
                 ntohs(((struct sockaddr_in6 *) &ss)->sin6_port));
    else
        snprintf(port, plen, "0");
}

size_t
fpmd_http_conn_cached(void)
{
    return spare_conns.n;
}

int
fpmd_http_conn_new(int fd, const char *peer)
{
    struct http_conn *c = fpmd_freelist_get(&spare_conns);
    struct evbuffer *field, *value;
    char addr[64];

    if (c != NULL) {
        field = c->field;
        value = c->value;
        memset(c, 0, offsetof(struct http_conn, rbuf));
        c->field = field;
        c->value = value;
    } else {
        c = calloc(1, sizeof(*c));
        if (c == NULL)
            return FPMD_ERROR;
        c->field = evbuffer_new();
        c->value = evbuffer_new();
    }
    c->keep_alive = 1;
    c->scan = SCAN_LINE;
    llhttp_init(&c->parser, HTTP_REQUEST, &settings);
    c->parser.data = c;
    sockname(fd, addr, sizeof(addr), c->peer_port, sizeof(c->peer_port), 1);
    sockname(fd, c->local_addr, sizeof(c->local_addr), c->local_port,
             sizeof(c->local_port), 0);
    if (c->field == NULL || c->value == NULL
        || fpmd_conn_init(&c->base, &conn_ops, fd, peer) != FPMD_OK) {
        if (c->field != NULL)
            evbuffer_free(c->field);
        if (c->value != NULL)
            evbuffer_free(c->value);
        free(c);
        return FPMD_ERROR;
    }
    return FPMD_OK;
}
