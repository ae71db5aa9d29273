/* SPDX-License-Identifier: BSD-2-Clause */
/* Request ids (README "Request ids"): the header naming them (request_id:
 * X-Request-Id), and each request's id, taken from the request or made up
 * on first use. One state per process: a worker's made-up ids come from
 * its own generator, seeded from the kernel. */
#include "config.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "fpmd/clock.h"
#include "fpmd/process.h"
#include "fpmd/req.h"
#include "fpmd/request_id.h"
#include "fpmd/traceparent.h"

static char param_name[80];         /* "HTTP_X_REQUEST_ID"; "" until known */
static uint64_t rid_state[2];       /* xorshift128+ for made-up ids */

const char *
fpmd_request_id_param(void)
{
    const char *h = fpmd_process.conf->request_id;
    size_t i;

    if (h == NULL)
        return NULL;
    if (param_name[0] == '\0') {
        memcpy(param_name, "HTTP_", 5);
        for (i = 0; h[i] != '\0' && i + 6 < sizeof(param_name); i++)
            param_name[5 + i] = h[i] == '-' ? '_'
                                : (char) toupper((unsigned char) h[i]);
        param_name[5 + i] = '\0';
    }
    return param_name;
}

static bool
valid_request_id(const char *s)
{
    size_t len = strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTU"
                        "VWXYZ0123456789._:-");

    return len > 0 && len <= 128 && s[len] == '\0';
}

static uint64_t
rid_next(void)
{
    uint64_t x = rid_state[0], y = rid_state[1];

    rid_state[0] = y;
    x ^= x << 23;
    rid_state[1] = x ^ y ^ (x >> 17) ^ (y >> 26);
    return rid_state[1] + y;
}

/* Seeded on first use, in the worker: a state drawn before fork would
 * repeat in every child. */
static void
seed(void)
{
    if (rid_state[0] == 0 && rid_state[1] == 0) {
        if (getrandom(rid_state, sizeof(rid_state), 0)
            != (ssize_t) sizeof(rid_state))
            rid_state[0] = fpmd_now_us() ^ ((uint64_t) getpid() << 32);
        rid_state[1] |= 1;
    }
}

/* The id from the request when it is a sane one, else 128 random bits
 * (nginx's $request_id has the same form), made on first use: most
 * requests never ask. The request's params stay as received: the id goes
 * to the access log and the warnings, and to a legacy pool only when it
 * asks (send_request_id). */
const char *
fpmd_request_id(struct fpmd_req *req)
{
    const char *param, *v;
    char id[33];

    if (req->request_id != NULL || req->request_id_done)
        return req->request_id;
    req->request_id_done = 1;
    param = fpmd_request_id_param();
    if (param == NULL)
        return NULL;
    v = fpmd_req_param(req, param);
    if (v != NULL && valid_request_id(v)) {
        req->request_id = v;
        return v;
    }
    seed();
    snprintf(id, sizeof(id), "%016" PRIx64 "%016" PRIx64, rid_next(),
             rid_next());
    req->request_id = fpmd_strndup(req, id, 32);
    return req->request_id;
}

const char *
fpmd_req_id(struct fpmd_req *req)
{
    const char *id = fpmd_request_id(req);

    return id != NULL ? id : "";
}

/* --- trace context ----------------------------------------------------- */

static void
random_bytes(uint8_t *out, size_t n)
{
    seed();
    for (size_t i = 0; i < n; i += 8) {
        uint64_t r = rid_next();

        memcpy(out + i, &r, n - i < 8 ? n - i : 8);
    }
}

/* A span or trace id of zeros is invalid (W3C Trace Context §3.2.2.3,
 * §3.2.2.4): draw again in the 2^-64 case. */
static void
random_id(uint8_t *out, size_t n)
{
    do
        random_bytes(out, n);
    while (memcmp(out, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", n) == 0);
}

/* The trace from the request's traceparent when it parses, else a new
 * one with flags 00: fpmd records no spans, so it claims no sample. */
const struct fpmd_req_trace *
fpmd_request_trace(struct fpmd_req *req)
{
    const char *in = fpmd_req_param(req, "HTTP_TRACEPARENT");
    struct fpmd_traceparent tp;
    struct fpmd_req_trace *t;

    if (req->trace != NULL)
        return req->trace;
    t = fpmd_alloc(req, sizeof(*t));
    if (t == NULL)
        return NULL;
    t->parent[0] = '\0';
    if (in != NULL && fpmd_traceparent_parse(in, strlen(in), &tp)) {
        fpmd_traceparent_format(&tp, t->parent);
    } else {
        random_id(tp.trace_id, sizeof(tp.trace_id));
        tp.flags = 0;
    }
    random_id(tp.parent_id, sizeof(tp.parent_id));
    fpmd_traceparent_hex(tp.trace_id, sizeof(tp.trace_id), t->trace_id);
    fpmd_traceparent_format(&tp, t->traceparent);
    req->trace = t;
    return t;
}

int
fpmd_request_trace_child(struct fpmd_req *req, char *out)
{
    const struct fpmd_req_trace *t = fpmd_request_trace(req);
    uint8_t span[8];

    if (t == NULL)
        return FPMD_ERROR;
    /* the request's traceparent with another span id in its place */
    memcpy(out, t->traceparent, FPMD_TRACEPARENT_LEN + 1);
    random_id(span, sizeof(span));
    fpmd_traceparent_hex(span, sizeof(span), out + 36);
    out[52] = '-';
    return FPMD_OK;
}

const char *
fpmd_req_trace_id(struct fpmd_req *req)
{
    const struct fpmd_req_trace *t = fpmd_request_trace(req);

    return t != NULL ? t->trace_id : "";
}

const char *
fpmd_req_traceparent(struct fpmd_req *req)
{
    const struct fpmd_req_trace *t = fpmd_request_trace(req);

    return t != NULL ? t->traceparent : "";
}
