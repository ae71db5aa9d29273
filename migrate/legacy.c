/* SPDX-License-Identifier: BSD-2-Clause */
/* The legacy pass-through: a route with to: legacy hands its request,
 * unchanged, to a legacy php-fpm (a FastCGI pool) and its answer back;
 * shadow calls fetch an answer the same way to compare it. Every CGI
 * param goes as received; the body streams up in pieces as the client
 * sends it; the answer's head is checked line by line (migrate/cgi_head.h)
 * before any of it is re-emitted (to a web server over FastCGI, as php-fpm
 * sent it), and its body streams down under the client's backpressure,
 * with php-fpm's STDERR in between where the protocol carries it. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>

#include "fpmd/fpmd.h"
#include "fpmd/req.h"
#include "fpmd/request_id.h"
#include "fpmd/process.h"
#include "migrate/cgi_head.h"
#include "migrate/legacy.h"
#include "pools/fcgi_upstream.h"

#define CHUNK 16384
/* php-fpm sends a head of any size, and Caddy and h2o pass one of MiBs
 * on, where nginx (fastcgi_buffer_size, 4-8k), Apache, HAProxy and
 * lighttpd (64k) refuse it themselves: fpmd holds a head whole to check
 * it, and refuses one over 1 MiB, which no browser takes (Chrome: 256k). */
#define HEAD_MAX (1024 * 1024)

static void
head_free(void *h)
{
    fpmd_cgi_head_free(h);
}

/* A call under way, and how much of php-fpm's answer has come (its head
 * included): what the line about its failure says. */
struct exchange {
    struct fpmd_req *req;
    const char *pool;
    struct fpmd_call *call;
    size_t got;
};

static int
call_failed(const struct fpmd_call *call)
{
    return fpmd_call_status(call) != FPMD_CALL_OK
        && fpmd_call_status(call) != FPMD_CALL_PENDING;
}

/* The call's error without the pool's name: the pool's own errors start
 * with it, and the log line names the pool already. */
static const char *
call_error(const struct exchange *x)
{
    const char *e = fpmd_call_error(x->call);
    size_t len = strlen(x->pool);

    return strncmp(e, x->pool, len) == 0 && strncmp(e + len, ": ", 2) == 0
        ? e + len + 2 : e;
}

/* One line per pass-through that failed on php-fpm's side: what went
 * wrong, how much of php-fpm's answer had come, and what the client is
 * left with: status, or (0) its answer cut short. None when the client
 * left first, which is no failure of php-fpm's. */
static void
log_failure(const struct exchange *x, const char *what, int status)
{
    char who[80], after[64], left[64];

    if (fpmd_req_aborted(x->req))
        return;
    snprintf(who, sizeof(who), "legacy %s", x->pool);
    if (x->got > 0)
        snprintf(after, sizeof(after), "after %zu bytes of answer", x->got);
    else
        snprintf(after, sizeof(after), "before any answer");
    if (status != 0)
        snprintf(left, sizeof(left), "the client gets a %d", status);
    else
        snprintf(left, sizeof(left), "the client's answer is cut short");
    fpmd_fcgi_upstream_log(x->req, who, "%s, %s: %s", what, after, left);
}

/* The call failed before the head: the status that says why, and the
 * line in the log. */
static int
fail_reply(const struct exchange *x, const char *why)
{
    int failed = call_failed(x->call);
    int status = failed ? fpmd_call_http_status(x->call) : 502;

    log_failure(x, failed ? call_error(x) : why, status);
    return fpmd_reply_error(x->req, status,
                            failed ? fpmd_call_error(x->call) : why);
}

/* The rule php-fpm's head broke, for the log or a shadow's error. */
static const char *
head_error(struct fpmd_req *req, const struct fpmd_cgi_head *head)
{
    static const char what[] = "the backend sent an invalid head";
    size_t len = sizeof(what) + 2 + strlen(head->err);
    char *s = fpmd_alloc(req, len);

    if (s == NULL)
        return what;
    snprintf(s, len, "%s: %s", what, head->err);
    return s;
}

/* What goes to php-fpm beside the request's own params. */
struct outgoing {
    const char *pool;
    const struct fpmd_conf_route *cr;   /* its params:; NULL: none */
    const char *body;       /* a chunked body read whole; NULL: streamed */
    size_t body_len;
    bool keep_stderr;       /* php-fpm's STDERR goes on to the client */
};

static const struct fpmd_conf_backend *
pool_conf(const char *name)
{
    const struct fpmd_conf *conf = fpmd_process.conf;

    for (size_t i = 0; i < conf->nbackends; i++) {
        if (strcmp(conf->backends[i].name, name) == 0)
            return &conf->backends[i];
    }
    return NULL;
}

/* Params fpmd itself may add: the standalone ones, a body's length, the
 * request id (send_request_id), the traceparent (send_traceparent). */
#define OWN_PARAMS 11

/* Adds name = value to v, or replaces an earlier value of name. */
static void
extra_add(const char **v, size_t *n, const char *name, const char *value)
{
    size_t i;

    if (value == NULL)
        return;
    for (i = 0; i < *n && strcmp(v[2 * i], name) != 0; i++)
        ;
    v[2 * i] = name;
    v[2 * i + 1] = value;
    if (i == *n)
        (*n)++;
}

/* A request that came without a web server in front (standalone HTTP)
 * has no SCRIPT_FILENAME: the legacy pool's document_root makes the
 * params nginx's fastcgi_params would have. */
static void
standalone_params(struct fpmd_req *req, const char *root, const char **v,
                  size_t *n)
{
    const char *script = fpmd_req_script(req), *host;
    char *filename = fpmd_alloc(req, strlen(root) + strlen(script) + 1);
    size_t rlen = strlen(root);

    if (filename == NULL)
        return;
    /* "/srv/www/" and "/srv/www" name the same root. */
    if (rlen > 0 && root[rlen - 1] == '/')
        rlen--;
    memcpy(filename, root, rlen);
    strcpy(filename + rlen, script);
    extra_add(v, n, "SCRIPT_FILENAME", filename);
    extra_add(v, n, "SCRIPT_NAME", script);
    /* nginx's fastcgi_params send these empty when there is none */
    extra_add(v, n, "PATH_INFO", fpmd_req_path_info(req) != NULL
                                     ? fpmd_req_path_info(req) : "");
    if (fpmd_req_param(req, "CONTENT_TYPE") == NULL)
        extra_add(v, n, "CONTENT_TYPE", "");
    if (fpmd_req_param(req, "CONTENT_LENGTH") == NULL)
        extra_add(v, n, "CONTENT_LENGTH", "");
    extra_add(v, n, "DOCUMENT_ROOT", fpmd_strndup(req, root, rlen));
    extra_add(v, n, "REQUEST_SCHEME", "http");
    host = fpmd_req_param(req, "HTTP_HOST");
    if (host != NULL)
        extra_add(v, n, "SERVER_NAME",
                  fpmd_strndup(req, host, host[0] == '['
                               ? strcspn(host, "]") + 1 : strcspn(host, ":")));
}

/* The params a route adds or overrides, those of a standalone request,
 * the length of a body read whole, and the request id when the pool asks
 * for it: flattened name, value pairs in req's memory; *n of them. A web
 * server's request otherwise goes as it came: php-fpm's $_SERVER is what
 * it was before fpmd stood in between. */
static const char *const *
extra_params(struct fpmd_req *req, const struct outgoing *o, size_t *n)
{
    const struct fpmd_conf_backend *b = pool_conf(o->pool);
    size_t nroute = o->cr != NULL ? o->cr->nparams : 0;
    const char **v = fpmd_alloc(req, 2 * (OWN_PARAMS + nroute)
                                         * sizeof(*v));
    char len[32];

    *n = 0;
    if (v == NULL)
        return NULL;
    if (b != NULL && b->document_root != NULL
        && fpmd_req_param(req, "SCRIPT_FILENAME") == NULL)
        standalone_params(req, b->document_root, v, n);
    if (o->body != NULL) {
        snprintf(len, sizeof(len), "%zu", o->body_len);
        extra_add(v, n, "CONTENT_LENGTH", fpmd_strdup(req, len));
    }
    if (b != NULL && b->send_request_id && fpmd_request_id(req) != NULL)
        extra_add(v, n, fpmd_request_id_param(), req->request_id);
    /* php-fpm's script is a span of the request's trace: its own id as
     * the parent, in place of the traceparent the request came with */
    if (b != NULL && b->send_traceparent && fpmd_request_trace(req) != NULL)
        extra_add(v, n, "HTTP_TRACEPARENT", req->trace->traceparent);
    /* The route's own come last: they override all the above. */
    for (size_t i = 0; i < nroute; i++)
        extra_add(v, n, o->cr->params[i].name, o->cr->params[i].value);
    return v;
}

/* php-fpm reads CONTENT_LENGTH bytes of body: one sent in chunks without
 * a length over standalone HTTP is read whole first, as nginx does by
 * default. A web server's request (it made SCRIPT_FILENAME) goes as it
 * came, length or not. FPMD_OK, or FPMD_ERROR with the status to answer
 * in *status. */
static int
prepare(struct fpmd_req *req, struct outgoing *o, int *status)
{
    if (fpmd_req_content_length(req) >= 0
        || fpmd_req_param(req, "HTTP_TRANSFER_ENCODING") == NULL
        || fpmd_req_param(req, "SCRIPT_FILENAME") != NULL)
        return FPMD_OK;
    return fpmd_req_body_whole(req, fpmd_process.conf->limits.body, &o->body,
                               &o->body_len, status);
}

/* to: 404 and the like: the status, and nothing else. */
FPMD_HANDLER(answer_status)
{
    const struct fpmd_conf_route *cr = req->match.route->conf;

    return fpmd_reply_error(req, cr != NULL && cr->to_status ? cr->to_status
                                                             : 404, NULL);
}

/* Starts the call and sends the body up. The call, or NULL (out of
 * memory); *fail set when the backend refused the body: the caller
 * answers from the call's state. */
static struct fpmd_call *
send_request(struct fpmd_req *req, const struct outgoing *o, char *buf,
             int *fail)
{
    const char *const *extra;
    struct fpmd_call *call;
    size_t nextra;
    ssize_t n = 0;
    int rc = FPMD_AGAIN;

    *fail = 0;
    extra = extra_params(req, o, &nextra);
    if (extra == NULL)
        return NULL;
    call = fpmd_fcgi_upstream_start(req, o->pool, extra, nextra,
                                    o->keep_stderr);
    if (call == NULL)
        return NULL;
    if (o->body != NULL && o->body_len > 0) {
        rc = fpmd_fcgi_upstream_stdin(call, o->body, o->body_len);
        if (rc == FPMD_OK)
            rc = FPMD_AGAIN;
    }
    /* A backend may answer before it read the body (a 404, a 413): then
     * no more goes up, and its answer comes down as any other. */
    while (o->body == NULL && rc == FPMD_AGAIN
           && (n = fpmd_req_body_read(req, buf, CHUNK)) > 0) {
        rc = fpmd_fcgi_upstream_stdin(call, buf, (size_t) n);
        if (rc == FPMD_OK)
            rc = FPMD_AGAIN;
    }
    if (rc == FPMD_AGAIN && n < 0)
        return NULL;
    if (rc == FPMD_ERROR
        || (rc == FPMD_AGAIN && fpmd_fcgi_upstream_stdin(call, NULL, 0)
                                    == FPMD_ERROR))
        *fail = 1;
    return call;
}

/* The next piece of php-fpm's STDOUT, counted; kept STDERR that came
 * before it goes on to the client first, as it came. */
static ssize_t
take(struct exchange *x, char *buf)
{
    bool is_stderr = false;
    ssize_t n;

    do {
        n = fpmd_fcgi_upstream_read(x->call, buf, CHUNK, &is_stderr);
        if (n > 0 && is_stderr
            && fpmd_resp_stderr(x->req, buf, (size_t) n) != FPMD_OK)
            return -1;
    } while (n > 0 && is_stderr);
    if (n > 0)
        x->got += (size_t) n;
    return n;
}

/* Reads STDOUT until the head is whole: FPMD_OK with the first body
 * bytes at buf + *used .. buf + *n; FPMD_ERROR when the answer ended or
 * failed first, or its head broke a rule (head->err). */
static int
read_head(struct exchange *x, struct fpmd_cgi_head *head, char *buf,
          ssize_t *n, size_t *used)
{
    int rc = FPMD_AGAIN;

    *used = 0;
    while (rc == FPMD_AGAIN) {
        *n = take(x, buf);
        if (*n <= 0)
            return FPMD_ERROR;
        rc = fpmd_cgi_head_feed(head, buf, (size_t) *n, used);
    }
    return rc;
}

static struct fpmd_cgi_head *
new_head(struct fpmd_req *req)
{
    struct fpmd_cgi_head *head = fpmd_alloc(req, sizeof(*head));

    if (head == NULL)
        return NULL;
    fpmd_cgi_head_init(head, HEAD_MAX);
    if (fpmd_defer(req, head_free, head) != FPMD_OK) {
        fpmd_cgi_head_free(head);
        return NULL;
    }
    return head;
}

int
fpmd_legacy_forward(struct fpmd_req *req, const char *pool,
                    const struct fpmd_conf_route *cr)
{
    struct fpmd_cgi_head *head = new_head(req);
    char *buf = fpmd_alloc(req, CHUNK);
    struct outgoing o = {pool, cr, NULL, 0, req->ops->write_stderr != NULL};
    struct exchange x = {req, pool, NULL, 0};
    size_t used;
    ssize_t n;
    int fail, status;

    if (head == NULL || buf == NULL)
        return FPMD_ERROR;
    req->served_legacy = 1;
    if (prepare(req, &o, &status) != FPMD_OK)
        return fpmd_reply_error(req, status, NULL);
    x.call = send_request(req, &o, buf, &fail);
    if (x.call == NULL)
        return FPMD_ERROR;
    if (fail)
        return fail_reply(&x, "the backend took no body");
    if (read_head(&x, head, buf, &n, &used) != FPMD_OK) {
        if (head->err == NULL)
            return fail_reply(&x, "the backend sent no complete head");
        log_failure(&x, head_error(req, head), 502);
        return fpmd_reply_error(req, 502, "the backend sent an invalid head");
    }
    if (fpmd_resp_status(req, head->status) != FPMD_OK)
        return FPMD_ERROR;
    for (size_t i = 0; i < head->nheaders; i++) {
        if (fpmd_resp_header(req, head->headers[i].name,
                             head->headers[i].value) != FPMD_OK)
            return fpmd_reply_error(req, 502, "a backend header fpmd "
                                    "cannot send");
    }
    /* Over FastCGI the web server gets php-fpm's head as it was sent (no
     * Status line added, case and blanks kept); over HTTP, the status and
     * headers above make the response. */
    if (fpmd_resp_cgi_head(req, head->raw, head->raw_len, head->nheaders)
        != FPMD_OK)
        return FPMD_ERROR;
    /* The head has gone out with the first body bytes, or alone. */
    if (fpmd_resp_write(req, buf + used, (size_t) n - used) != FPMD_OK)
        return FPMD_ERROR;
    while ((n = take(&x, buf)) > 0) {
        if (fpmd_resp_write(req, buf, (size_t) n) != FPMD_OK)
            return FPMD_ERROR;
    }
    /* STDOUT's end may come a read before END_REQUEST: the answer is
     * whole once the call ended well. */
    if (n == 0 && fpmd_await(req, x.call) == FPMD_OK)
        return FPMD_OK;
    /* Cut short (php-fpm died mid-answer): the client must not take it
     * for whole. */
    log_failure(&x, call_error(&x), 0);
    return FPMD_ERROR;
}

static void
keep(struct fpmd_legacy_answer *a, const char *data, size_t len, size_t max)
{
    size_t room = evbuffer_get_length(a->body) < max
        ? max - evbuffer_get_length(a->body) : 0;

    if (len > room)
        a->over = 1;
    evbuffer_add(a->body, data, len < room ? len : room);
}

int
fpmd_legacy_fetch(struct fpmd_req *req, const char *pool,
                  const struct fpmd_conf_route *cr, size_t max,
                  struct fpmd_legacy_answer *a)
{
    struct fpmd_cgi_head *head = new_head(req);
    char *buf = fpmd_alloc(req, CHUNK);
    struct outgoing o = {pool, cr, NULL, 0, false};
    struct exchange x = {req, pool, NULL, 0};
    size_t used;
    ssize_t n;
    int fail, status;

    memset(a, 0, sizeof(*a));
    a->error = "out of memory";
    a->body = fpmd_req_evbuffer(req);
    if (head == NULL || buf == NULL || a->body == NULL)
        return FPMD_ERROR;
    if (prepare(req, &o, &status) != FPMD_OK) {
        a->error = "the body could not be read";
        return FPMD_ERROR;
    }
    x.call = send_request(req, &o, buf, &fail);
    if (x.call == NULL)
        return FPMD_ERROR;
    if (fail || read_head(&x, head, buf, &n, &used) != FPMD_OK) {
        /* Counted and logged as a shadow error, not as a client's. */
        a->error = fail ? "the backend took no body"
            : head->err != NULL ? head_error(req, head)
            : "the backend sent no complete head";
        if (call_failed(x.call))
            a->error = fpmd_call_error(x.call);
        return FPMD_ERROR;
    }
    for (size_t i = 0; i < head->nheaders; i++) {
        if (strcasecmp(head->headers[i].name, "Content-Type") == 0)
            a->content_type = head->headers[i].value;
    }
    keep(a, buf + used, (size_t) n - used, max);
    while ((n = take(&x, buf)) > 0)
        keep(a, buf, (size_t) n, max);
    if (n < 0 || fpmd_await(req, x.call) != FPMD_OK) {
        a->error = "the backend's answer was cut short";
        return FPMD_ERROR;
    }
    a->error = NULL;
    a->status = head->status;
    return FPMD_OK;
}

FPMD_HANDLER(legacy)
{
    const struct fpmd_conf_route *cr = req->match.route->conf;

    return fpmd_legacy_forward(req, cr != NULL ? cr->legacy : "legacy", cr);
}
