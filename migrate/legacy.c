/* SPDX-License-Identifier: BSD-2-Clause */
/* The legacy pass-through: a route with to: legacy hands its request,
 * unchanged, to the legacy php-fpm (the "legacy" FastCGI pool) and its
 * answer back. Every CGI param goes as received; the body streams up in
 * pieces as the client sends it; the answer's head is checked line by
 * line (migrate/cgi_head.h) before any of it is re-emitted, and its body
 * streams down under the client's backpressure. */
#include "config.h"

#include <stdlib.h>

#include "fpmd/fpmd.h"
#include "fpmd/log.h"
#include "fpmd/req.h"
#include "fpmd/worker.h"
#include "migrate/cgi_head.h"
#include "pools/fastcgi.h"

#define CHUNK 16384
#define HEAD_MAX (64 * 1024)    /* nginx's fastcgi_buffer_size is 4-8k */

static void
head_free(void *h)
{
    fpmd_cgi_head_free(h);
}

/* The call failed before the head: the status that says why. */
static int
fail(struct fpmd_req *req, struct fpmd_call *call, const char *why)
{
    if (fpmd_call_status(call) != FPMD_CALL_OK
        && fpmd_call_status(call) != FPMD_CALL_PENDING)
        return fpmd_reply_error(req, fpmd_call_http_status(call),
                                fpmd_call_error(call));
    return fpmd_reply_error(req, 502, why);
}

/* The params a route adds or overrides, and the request id: flattened
 * name, value pairs in req's memory; *n of them. */
static const char *const *
extra_params(struct fpmd_req *req, const struct fpmd_conf_route *cr,
             size_t *n)
{
    size_t max = (cr != NULL ? cr->nparams : 0) + 1;
    const char **v = fpmd_alloc(req, 2 * max * sizeof(*v));

    *n = 0;
    if (v == NULL)
        return NULL;
    for (size_t i = 0; cr != NULL && i < cr->nparams; i++) {
        v[2 * *n] = cr->params[i].name;
        v[2 * *n + 1] = cr->params[i].value;
        (*n)++;
    }
    if (req->request_id != NULL) {
        v[2 * *n] = fpmd_worker_request_id_param();
        v[2 * *n + 1] = req->request_id;
        (*n)++;
    }
    return v;
}

/* to: 404 and the like: the status, and nothing else. */
FPMD_HANDLER(answer_status)
{
    const struct fpmd_conf_route *cr = req->match.route->conf;

    return fpmd_reply_error(req, cr != NULL && cr->to_status ? cr->to_status
                                                             : 404, NULL);
}

FPMD_HANDLER(legacy)
{
    const struct fpmd_conf_route *cr = req->match.route->conf;
    const char *const *extra;
    size_t nextra;
    struct fpmd_cgi_head *head = fpmd_alloc(req, sizeof(*head));
    char *buf = fpmd_alloc(req, CHUNK);
    struct fpmd_call *call;
    ssize_t n;
    size_t used = 0;
    int rc = FPMD_AGAIN;

    if (head == NULL || buf == NULL)
        return FPMD_ERROR;
    fpmd_cgi_head_init(head, HEAD_MAX);
    if (fpmd_defer(req, head_free, head) != FPMD_OK)
        return FPMD_ERROR;
    req->served_legacy = 1;
    extra = extra_params(req, cr, &nextra);
    if (extra == NULL)
        return FPMD_ERROR;
    call = fpmd_fastcgi_start(req, cr != NULL ? cr->legacy : "legacy", extra,
                              nextra);
    if (call == NULL)
        return FPMD_ERROR;
    /* A backend may answer before it read the body (a 404, a 413): then
     * no more goes up, and its answer comes down as any other. */
    while (rc == FPMD_AGAIN && (n = fpmd_req_body_read(req, buf, CHUNK)) > 0) {
        rc = fpmd_fastcgi_stdin(call, buf, (size_t) n);
        if (rc == FPMD_ERROR)
            return fail(req, call, "the backend took no body");
        if (rc == FPMD_OK)
            rc = FPMD_AGAIN;
    }
    if (rc == FPMD_AGAIN) {
        if (n < 0)
            return FPMD_ERROR;
        if (fpmd_fastcgi_stdin(call, NULL, 0) == FPMD_ERROR)
            return fail(req, call, "the backend took no body");
    }
    rc = FPMD_AGAIN;
    while (rc == FPMD_AGAIN) {
        n = fpmd_fastcgi_stdout(call, buf, CHUNK);
        if (n <= 0)
            return fail(req, call, "the backend sent no complete head");
        rc = fpmd_cgi_head_feed(head, buf, (size_t) n, &used);
    }
    if (rc != FPMD_OK) {
        fpmd_log_req(req, FPMD_LOG_WARNING, "legacy: %s", head->err);
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
    /* The head has gone out with the first body bytes, or alone. */
    if (fpmd_resp_write(req, buf + used, (size_t) n - used) != FPMD_OK)
        return FPMD_ERROR;
    while ((n = fpmd_fastcgi_stdout(call, buf, CHUNK)) > 0) {
        if (fpmd_resp_write(req, buf, (size_t) n) != FPMD_OK)
            return FPMD_ERROR;
    }
    /* Cut short (the backend died mid-answer): the client must not take
     * it for whole. */
    return n < 0 || fpmd_call_status(call) != FPMD_CALL_OK ? FPMD_ERROR
                                                           : FPMD_OK;
}
