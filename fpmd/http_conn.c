/* SPDX-License-Identifier: BSD-2-Clause */
/* HTTP/1.1 server connections over llhttp (strict build). A connection
 * carries one request at a time: pipelined requests wait in the input
 * buffer until the response before them is complete, so answers go out in
 * request order. The request becomes the same CGI-style params a web
 * server sends over FastCGI, so handlers see no difference. Framing that
 * llhttp lets through but RFC 9112 forbids (bare LF, obs-fold) is refused
 * here before the bytes reach it. */
#include "config.h"

#include <arpa/inet.h>
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
#include "fpmd/sched.h"
#include "fpmd/uri.h"
#include "fpmd/process.h"

enum head_scan {
    SCAN_LINE,                      /* where a request line may start */
    SCAN_LEAD_CR,                   /* in an empty line before it */
    SCAN_METHOD,                    /* in the request line; _SP: just */
    SCAN_TARGET_SP, SCAN_TARGET,    /* past the space before a part */
    SCAN_VERSION_SP, SCAN_VERSION,
    SCAN_FIELD,                     /* in a field line */
    SCAN_CR, SCAN_LF, SCAN_CRLFCR, SCAN_BODY
};

struct http_conn {
    struct fpmd_conn base;          /* first: conn.c casts back */
    llhttp_t parser;
    struct fpmd_req *req;           /* being read or answered */
    struct evbuffer *field, *value; /* header being read */
    bool in_value;
    bool headers_done;              /* fields now are trailers: ignored */
    unsigned nheaders;
    size_t head_bytes, uri_bytes;
    size_t ext_bytes;               /* chunk extensions and trailers */
    enum head_scan scan;            /* our own CRLF checks on the head */
    bool head_started;
    unsigned served;
    int error_status;               /* set by a callback that fails */
    const char *error_reason;
    unsigned read_paused:1;         /* body window full */
    unsigned msg_paused:1;          /* between a request and its answer */
    unsigned keep_alive:1;
    unsigned chunked:1;             /* response uses chunked coding */
    unsigned is_head:1;
    unsigned http10:1;
    unsigned host_seen:1;           /* a second Host is refused */
    unsigned absolute:1;            /* HTTP_HOST is the target's authority */
    uint8_t *rbuf;                  /* while input waits to be parsed */
    size_t rpos, rlen;
    char peer_port[8];
    char local_addr[64];
    char local_port[8];
};

/* Spare connections, with their header buffers, for the next accept. */
#define SPARE_CONNS 256
static struct fpmd_freelist spare_conns = FPMD_FREELIST_INIT(SPARE_CONNS);

static llhttp_settings_t settings;

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
respond_close(struct http_conn *c, int status)
{
    char date[64];

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
                        fpmd_process.conf->server_token ? "Server: " : "",
                        fpmd_process.conf->server_token
                            ? fpmd_process.conf->server_token : "",
                        fpmd_process.conf->server_token ? "\r\n" : "",
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

static void
reject(struct http_conn *c, int status, const char *why)
{
    fpmd_log(FPMD_LOG_NOTICE, "http %s: %d %s: %s", c->base.peer, status,
             fpmd_status_reason(status), why);
    respond_close(c, status);
}

/* --- response output -------------------------------------------------- */

static bool
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
    const char *token = fpmd_process.conf->server_token;
    int has_length = fpmd_req_resp_header(req, "Content-Length") != NULL;
    int no_body = bodiless(req);
    char date[64];

    unsigned max = fpmd_process.conf->limits.requests_per_connection;

    if (c->base.closed)
        return FPMD_ERROR;
    /* The last answer a connection may carry says so, as nginx does at
     * keepalive_requests: clients then do not see an unexpected close. */
    if ((max != 0 && c->served + 1 >= max) || fpmd_conn_draining())
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
    unsigned max = fpmd_process.conf->limits.requests_per_connection;

    c->req = NULL;
    fpmd_req_free(req);
    c->served++;
    if (c->base.closed) {
        fpmd_conn_maybe_free(&c->base);
        return;
    }
    if (!c->keep_alive || fpmd_conn_draining()
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
    write_file, NULL,
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
    c->ext_bytes = 0;
    c->in_value = false;
    c->headers_done = false;
    c->host_seen = 0;
    c->absolute = 0;
    evbuffer_drain(c->field, evbuffer_get_length(c->field));
    evbuffer_drain(c->value, evbuffer_get_length(c->value));
    return 0;
}

static int
on_url(llhttp_t *p, const char *at, size_t len)
{
    struct http_conn *c = conn_of(p);

    c->uri_bytes += len;
    if (c->uri_bytes > fpmd_process.conf->limits.uri) {
        llhttp_set_error_reason(p, "request target over limits.uri");
        return HPE_USER;
    }
    return evbuffer_add(c->field, at, len) == 0 ? 0 : -1;
}

/* RFC 9110 §7.2, RFC 3986 §3.2.2: uri-host [ ":" port ], uri-host a
 * reg-name (IPv4 addresses are reg-names too) or a bracketed IP-literal;
 * empty is valid. Whatever reads HTTP_HOST next (a vhost lookup, a
 * redirect, a log line) must not meet a path, a second authority or a
 * control byte in it. */
static bool
valid_host(const char *s, size_t n)
{
    static const char reg_extra[] = "-._~!$&'()*+,;=";
    int literal;
    const char *end, *start;
    char ip[INET6_ADDRSTRLEN];
    struct in6_addr addr;

    if (n == 0)
        return true;        /* and s may be NULL: an empty value's buffer */
    literal = s[0] == '[';
    end = s + n;
    start = s + literal;

    for (s = start; s < end && *s != (literal ? ']' : ':'); s++) {
        unsigned char ch = (unsigned char) *s;

        if (ch == '%' && !literal && end - s > 2 && fpmd_hexval(s[1]) >= 0
            && fpmd_hexval(s[2]) >= 0)
            s += 2;
        else if (!isalnum(ch) && !(literal && ch == ':')
                 && (ch == '\0' || strchr(reg_extra, ch) == NULL))
            return false;
    }
    if (literal) {
        size_t len = (size_t) (s - start);

        if (s == end || len == 0 || len >= sizeof(ip))
            return false;
        /* IPvFuture ("v1.x") is taken by its characters alone */
        if (start[0] != 'v' && start[0] != 'V') {
            memcpy(ip, start, len);
            ip[len] = '\0';
            if (inet_pton(AF_INET6, ip, &addr) != 1)
                return false;
        }
        s++;
    }
    if (s < end && *s++ != ':')
        return false;
    for (; s < end; s++) {
        if (!isdigit((unsigned char) *s))
            return false;
    }
    return true;
}

/* RFC 9112 §3.2.2: an absolute-form target's authority is the request's
 * host whatever Host says, so HTTP_HOST is made of it here and the Host
 * field is only checked (commit_header). A host nobody named ("http:///x")
 * or userinfo is refused (RFC 9110 §4.2.1, §4.2.4). */
static int
take_authority(struct http_conn *c, const char *uri, size_t n,
               const char **rest)
{
    const char *auth = uri + (uri[4] == ':' ? 7 : 8), *end = auth;

    while (end < uri + n && *end != '/' && *end != '?')
        end++;
    if (end == auth || auth[0] == ':'
        || !valid_host(auth, (size_t) (end - auth))) {
        c->error_status = 400;
        c->error_reason = memchr(auth, '@', (size_t) (end - auth))
                              ? "userinfo in the request target"
                              : "request target's authority is not a host";
        return FPMD_ERROR;
    }
    c->absolute = 1;
    *rest = end;
    return fpmd_req_add_param(c->req, "HTTP_HOST", 9, auth,
                              (size_t) (end - auth));
}

/* REQUEST_URI as nginx's $request_uri: an absolute-form target less its
 * scheme and authority (rest, NULL for origin-form), "/" when no path. */
static int
request_uri(struct http_conn *c, const char *uri, size_t n, const char *rest)
{
    size_t len;
    char *v;

    if (rest == NULL)
        return fpmd_req_add_param(c->req, "REQUEST_URI", 11, uri, n);
    len = n - (size_t) (rest - uri);
    if (len > 0 && rest[0] == '/')
        return fpmd_req_add_param(c->req, "REQUEST_URI", 11, rest, len);
    v = fpmd_alloc(c->req, len + 1);
    if (v == NULL)
        return FPMD_ERROR;
    v[0] = '/';
    memcpy(v + 1, rest, len);
    return fpmd_req_add_param(c->req, "REQUEST_URI", 11, v, len + 1);
}

static int
on_url_complete(llhttp_t *p)
{
    struct http_conn *c = conn_of(p);
    size_t n = evbuffer_get_length(c->field);
    const char *uri = (const char *) evbuffer_pullup(c->field, -1);
    const char *q, *rest = NULL;
    char *path;
    size_t plen;
    int rc;

    if (n == 0)
        return -1;
    /* Decided before the target is read as a path, which an
     * authority-form target is not (it would be a 400). */
    if (p->method == HTTP_CONNECT) {
        c->error_status = 501;
        c->error_reason = "CONNECT is not served";
        evbuffer_drain(c->field, n);
        return -1;
    }
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
    rc = n > 7 && (strncasecmp(uri, "http://", 7) == 0
                   || strncasecmp(uri, "https://", 8) == 0)
             ? take_authority(c, uri, n, &rest) : FPMD_OK;
    if (rc == FPMD_OK)
        rc = request_uri(c, uri, n, rest);
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

    /* RFC 9110 §5.1: a field name is a token, never empty. llhttp lets
     * ": v" through; kept, its value would join the next field's
     * ("X: 1", ":.evil", "Host: a" made the Host ".evila"). */
    if (nlen == 0) {
        c->error_status = 400;
        c->error_reason = "empty field name";
        rc = FPMD_ERROR;
        goto done;
    }
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
    /* RFC 9112 §3.2: one Host, and a valid one; two could name two hosts
     * to two readers. */
    if (k == 9 && memcmp(key, "HTTP_HOST", 9) == 0) {
        if (c->host_seen || !valid_host(value, vlen)) {
            c->error_status = 400;
            c->error_reason = c->host_seen ? "more than one Host"
                                           : "Host is not a host[:port]";
            rc = FPMD_ERROR;
            goto done;
        }
        c->host_seen = 1;
        if (c->absolute)
            goto done;                  /* the target's authority stands */
    }
    rc = fpmd_req_add_param(c->req, key, k, vlen ? value : "", vlen);
done:
    evbuffer_drain(c->field, evbuffer_get_length(c->field));
    evbuffer_drain(c->value, evbuffer_get_length(c->value));
    c->in_value = false;
    return rc == FPMD_OK ? 0 : -1;
}

/* RFC 9112 §7.1.1 bounds chunk extensions nowhere, §7.1.2 trailers only
 * by the head's limits, and nothing here reads either: a request's are
 * held together to what its head may take. */
static int
on_chunk_extension(llhttp_t *p, const char *at, size_t len)
{
    struct http_conn *c = conn_of(p);

    c->ext_bytes += len;
    if (c->ext_bytes > fpmd_process.conf->limits.header) {
        c->error_status = 400;
        c->error_reason = "chunk extensions and trailers over "
                         "limits.header";
        return -1;
    }
    return 0;
}

static int
on_header_field(llhttp_t *p, const char *at, size_t len)
{
    struct http_conn *c = conn_of(p);

    /* RFC 9110 §6.5.1: trailer fields may be discarded; they never reach
     * the params a handler may be reading already. */
    if (c->headers_done)
        return on_chunk_extension(p, at, len);
    if (c->in_value && commit_header(c) != 0)
        return -1;
    if (evbuffer_get_length(c->field) == 0
        && ++c->nheaders > fpmd_process.conf->limits.headers) {
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
        return on_chunk_extension(p, at, len);
    c->in_value = true;
    return evbuffer_add(c->value, at, len) == 0 ? 0 : -1;
}

/* RFC 9110 §5.3: the field lines of one name are one field, their values
 * joined in order with ", " ("; " for Cookie, RFC 6265 §5.4), as nginx
 * passes them over FastCGI since 1.23; handlers then read one value
 * whichever param or header call they use. Joined once the head is
 * complete, so a value is copied once however often its name repeats. */
static int
join_repeats(struct fpmd_req *req)
{
    struct fpmd_param *p = req->params;
    size_t kept = 0;

    for (size_t i = 0; i < req->nparams; i++) {
        const char *sep;
        size_t len = 0, at;
        char *v;

        if (p[i].value == NULL)
            continue;                       /* joined into an earlier one */
        for (size_t j = i + 1; j < req->nparams; j++) {
            if (p[j].value != NULL && strcmp(p[j].name, p[i].name) == 0)
                len += 2 + strlen(p[j].value);
        }
        if (len > 0) {
            sep = strcmp(p[i].name, "HTTP_COOKIE") == 0 ? "; " : ", ";
            at = strlen(p[i].value);
            v = fpmd_alloc(req, at + len + 1);
            if (v == NULL)
                return FPMD_ERROR;
            memcpy(v, p[i].value, at);
            for (size_t j = i + 1; j < req->nparams; j++) {
                size_t vlen;

                if (p[j].value == NULL || strcmp(p[j].name, p[i].name) != 0)
                    continue;
                vlen = strlen(p[j].value);
                memcpy(v + at, sep, 2);
                memcpy(v + at + 2, p[j].value, vlen);
                at += 2 + vlen;
                p[j].value = NULL;
            }
            v[at] = '\0';
            p[i].value = v;
        }
        p[kept++] = p[i];
    }
    req->nparams = kept;
    return FPMD_OK;
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
    const struct fpmd_conf *conf = fpmd_process.conf;
    struct fpmd_req *req = c->req;
    const char *method = llhttp_method_name((llhttp_method_t) p->method);
    const char *expect, *te;
    char proto[16];

    if (c->in_value && commit_header(c) != 0)
        return -1;
    c->headers_done = true;
    if (join_repeats(req) != FPMD_OK)
        return -1;
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
    if (p->http_major != 1 || p->http_minor > 1) {
        c->error_status = 505;
        c->error_reason = "HTTP version other than 1.0 and 1.1";
        return -1;
    }
    c->keep_alive = llhttp_should_keep_alive(p) != 0;
    c->is_head = p->method == HTTP_HEAD;
    fpmd_req_derive(req);
    /* RFC 9112 §3.2: a 1.1 request without Host is a 400. */
    if (!c->http10 && !c->host_seen) {
        c->error_status = 400;
        c->error_reason = "no Host header";
        return -1;
    }
    if (p->upgrade) {
        c->error_status = 501;
        c->error_reason = "upgrade is not served";
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
    /* The body is framed as llhttp reads it, not as the trimmed value
     * reads: "chunked<HTAB>" is chunked to RFC 9110 but not to llhttp,
     * which refuses the request only after this callback, so a handler
     * started here would serve it with an empty body. */
    if (te != NULL && !(p->flags & F_CHUNKED)) {
        c->error_status = 400;
        c->error_reason = "Transfer-Encoding not read as chunked";
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
    fpmd_conn_update(&c->base);
    fpmd_sched_start(req);
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
    c->head_started = false;
    c->head_bytes = 0;
    c->scan = SCAN_LINE;
    /* One request at a time: the next one waits for this answer. And once
     * the connection is to close, nothing after this message is parsed. */
    if (c->req != NULL || c->base.close_after_flush)
        c->msg_paused = 1;
    /* Paused even when the answer is out already (a handler that did not
     * suspend): the next head is in the same buffer, and must go through
     * scan_head before llhttp reads it. */
    return HPE_PAUSED;
}

/* RFC 9112 §2.2: a bare LF is not a line end, and obs-fold is refused
 * (§5.2). §3: the request line's parts are split by single spaces; the
 * lenient splits §3 allows are where two readers of one request can
 * disagree, so a leading, doubled or trailing space and a tab are refused.
 * llhttp accepts all of these, so the head is checked here first. Returns
 * the offset of the first bad byte, or len. */
static size_t
scan_head(struct http_conn *c, const uint8_t *p, size_t len, const char **why)
{
    static const char *const spacing = "request line not split by single SP";

    for (size_t i = 0; i < len; i++) {
        uint8_t b = p[i];

        if (c->scan != SCAN_BODY
            && ++c->head_bytes > fpmd_process.conf->limits.header) {
            *why = "request head over limits.header";
            return i;
        }
        switch (c->scan) {
        case SCAN_BODY:
            return len;
        case SCAN_LINE:
            c->head_started = true;
            if (b == '\n') {
                *why = "bare LF";
                return i;
            }
            if (b == ' ' || b == '\t') {
                *why = spacing;
                return i;
            }
            /* §2.2: an empty line before the request line is let be */
            c->scan = b == '\r' ? SCAN_LEAD_CR : SCAN_METHOD;
            break;
        case SCAN_LEAD_CR:
            if (b != '\n') {
                *why = "bare CR";
                return i;
            }
            c->scan = SCAN_LINE;
            break;
        case SCAN_METHOD:
        case SCAN_TARGET:
        case SCAN_VERSION:
            if (b == '\n') {
                *why = "bare LF";
                return i;
            }
            if (b == '\t' || (b == ' ' && c->scan == SCAN_VERSION)) {
                *why = spacing;
                return i;
            }
            if (b == ' ')
                c->scan = c->scan == SCAN_METHOD ? SCAN_TARGET_SP
                                                 : SCAN_VERSION_SP;
            else if (b == '\r')
                c->scan = SCAN_CR;
            break;
        case SCAN_TARGET_SP:
        case SCAN_VERSION_SP:
            if (b == ' ' || b == '\t' || b == '\r' || b == '\n') {
                *why = spacing;
                return i;
            }
            c->scan = c->scan == SCAN_TARGET_SP ? SCAN_TARGET : SCAN_VERSION;
            break;
        case SCAN_FIELD:
            if (b == '\n') {
                *why = "bare LF";
                return i;
            }
            if (b == '\r')
                c->scan = SCAN_CR;
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
            c->scan = b == '\r' ? SCAN_CRLFCR : SCAN_FIELD;
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
        int status;

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
            if (!c->msg_paused)
                llhttp_resume(&c->parser);  /* the next one, scanned first */
        } else if (c->error_status != 0) {
            reject(c, c->error_status, c->error_reason);
            return;
        } else if (c->req != NULL && !c->req->started
                   && (status = fpmd_req_refused_status(c->req, 431)) != 0) {
            reject(c, status, "no memory for the request's head");
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

static enum fpmd_conn_phase
phase(const struct fpmd_conn *base)
{
    const struct http_conn *c = http_of(base);

    if (c->req != NULL && c->req->started)
        return c->req->body_eof ? FPMD_CONN_ACTIVE : FPMD_CONN_BODY;
    if (c->head_started || c->req != NULL || c->served == 0)
        return FPMD_CONN_HEAD;
    return FPMD_CONN_IDLE;
}

static struct fpmd_log_tally head_tally, body_tally;

/* A body must arrive within timeouts.body_read of the head's end, plus a
 * second for every limits.body_min_rate bytes received: a large upload at
 * a fair pace goes on, a drip-fed one does not. */
static int
body_in_time(const struct http_conn *c)
{
    const struct fpmd_conf *conf = fpmd_process.conf;
    uint64_t allowed = conf->timeouts.body_read_ms, age;

    if (conf->limits.body_min_rate > 0)
        allowed += c->req->body_received * 1000 / conf->limits.body_min_rate;
    age = fpmd_conn_phase_age(&c->base);
    if (age >= allowed)
        return 0;
    fpmd_conn_extend((struct fpmd_conn *) &c->base, allowed - age);
    return 1;
}

static void
on_timeout(struct fpmd_conn *base)
{
    struct http_conn *c = http_of(base);

    if (base->phase == FPMD_CONN_BODY) {
        if (body_in_time(c))
            return;
        fpmd_log_tally(&body_tally, FPMD_LOG_NOTICE, "http %s: request body "
                       "not complete within timeouts.body_read; request "
                       "aborted", base->peer);
        fpmd_req_abort(c->req);
        c->keep_alive = 0;
        return;
    }
    fpmd_log_tally(&head_tally, FPMD_LOG_NOTICE, "http %s: request head not "
                   "complete within timeouts.header_read; connection closed",
                   base->peer);
    /* RFC 9110 §15.5.9: a 408 for a request begun; a connection that never
     * sent a byte is just closed (browsers open spares they may not use). */
    if (c->head_started || c->req != NULL)
        respond_close(c, 408);
    else
        fpmd_conn_close(base);
}

static int
on_read(struct fpmd_conn *base)
{
    struct http_conn *c = http_of(base);
    ssize_t n;
    size_t want;
    int full;

    if (c->rbuf == NULL && (c->rbuf = fpmd_conn_rbuf_get()) == NULL) {
        fpmd_log(FPMD_LOG_ERROR, "http %s: out of memory", base->peer);
        fpmd_conn_close(base);
        return 0;
    }
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
        if (c->rlen == FPMD_CONN_RBUF)
            break;
        want = FPMD_CONN_RBUF - c->rlen;
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
    full = c->rlen == FPMD_CONN_RBUF;
    if (c->rpos >= c->rlen) {
        fpmd_conn_rbuf_put(c->rbuf);
        c->rbuf = NULL;
        c->rpos = c->rlen = 0;
    }
    return full;
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
        fpmd_req_client_gone(c->req);
    } else {
        fpmd_req_free(c->req);
        c->req = NULL;
    }
}

static bool
is_busy(const struct fpmd_conn *base)
{
    return http_of(base)->req != NULL;
}

static bool
is_idle(const struct fpmd_conn *base)
{
    return true;       /* a half-read head is dropped with the connection */
}

static bool
at_rest(const struct fpmd_conn *base)
{
    const struct http_conn *c = http_of(base);

    return c->req == NULL && !c->head_started && !c->msg_paused
        && c->scan == SCAN_LINE && c->rpos >= c->rlen;
}

static unsigned
served(const struct fpmd_conn *base)
{
    return http_of(base)->served;
}

static void
free_conn(void *obj)
{
    struct http_conn *c = obj;

    evbuffer_free(c->field);
    evbuffer_free(c->value);
    free(c);
}

static void
destroy(struct fpmd_conn *base)
{
    struct http_conn *c = http_of(base);

    evbuffer_drain(c->field, evbuffer_get_length(c->field));
    evbuffer_drain(c->value, evbuffer_get_length(c->value));
    fpmd_conn_rbuf_put(c->rbuf);
    c->rbuf = NULL;
    if (!fpmd_freelist_put(&spare_conns, c))
        free_conn(c);
}

static const struct fpmd_conn_ops conn_ops = {
    on_read, on_timeout, phase, on_drained, on_closed, is_busy, is_idle,
    at_rest, NULL, served, destroy,
};

void
fpmd_http_conn_setup(void)
{
    llhttp_settings_init(&settings);
    settings.on_message_begin = on_message_begin;
    settings.on_url = on_url;
    settings.on_url_complete = on_url_complete;
    settings.on_header_field = on_header_field;
    settings.on_header_value = on_header_value;
    settings.on_headers_complete = on_headers_complete;
    settings.on_chunk_extension_name = on_chunk_extension;
    settings.on_chunk_extension_value = on_chunk_extension;
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

size_t
fpmd_http_conn_trim(size_t keep)
{
    return fpmd_freelist_trim(&spare_conns, keep, free_conn);
}

int
fpmd_http_conn_new(int fd, const char *peer, unsigned served)
{
    struct http_conn *c = fpmd_freelist_get(&spare_conns);
    struct evbuffer *field, *value;
    char addr[64];

    if (c != NULL) {
        field = c->field;
        value = c->value;
        memset(c, 0, sizeof(*c));
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
    c->served = served;
    c->scan = SCAN_LINE;
    llhttp_init(&c->parser, HTTP_REQUEST, &settings);
    c->parser.data = c;
    sockname(fd, addr, sizeof(addr), c->peer_port, sizeof(c->peer_port), 1);
    sockname(fd, c->local_addr, sizeof(c->local_addr), c->local_port,
             sizeof(c->local_port), 0);
    if (c->field == NULL || c->value == NULL
        || fpmd_conn_init(&c->base, &conn_ops, fd, peer, FPMD_PROTO_HTTP)
               != FPMD_OK) {
        if (c->field != NULL)
            evbuffer_free(c->field);
        if (c->value != NULL)
            evbuffer_free(c->value);
        free(c);
        return FPMD_ERROR;
    }
    return FPMD_OK;
}
