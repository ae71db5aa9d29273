/* SPDX-License-Identifier: BSD-2-Clause */
/* The HTTP client from the integration tests (linked into tests/fpmd-test
 * only): GET /t/http?url=U[&upstream=NAME][&n=N][&method=M][&body=B]
 * [&h=Name:%20value...] starts N calls of the same request at once and
 * awaits them all; the answer is JSON: per call its status, server,
 * headers and body (text), and the worker's pid. A failed call answers
 * with the status it maps to and "pid PID: " and its error. The JSON
 * has the request's trace id and traceparent too.
 *
 * GET /t/http/stream?url=U[&upstream=NAME][&timeout_ms=MS][&upload=N
 * [&piece=P][&length=1]][&idle_ms=MS][&misuse=read_first|write_after_end]
 * streams the answer (fpmd_http_stream_*): optionally first uploads N
 * bytes (byte i is i % 251) in writes of P (chunked, or with its
 * Content-Length), then reads the body 16 KiB at a time, and answers JSON:
 * the status, the bytes read and their Adler-32, when the first read and
 * the end came (ms from the handler's start) and how much the first read
 * took, the body's first 8 KiB, and the worker's peak RSS (VmHWM)
 * before and after. idle_ms sleeps between the head and the first read
 * without closing the stream (the request's end must). A failure answers
 * as for /t/http.
 *
 * GET /t/drip?pieces=N&size=S&sleep_ms=MS answers N pieces of S bytes
 * ('a', 'b'... each), each written at once, with MS between them: a slow
 * streaming upstream. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "fpmd/fpmd.h"
#include "tests/handlers/clock.h"

#define CALLS_MAX 64
#define HEADERS_MAX 8

static struct json_object *
answer_json(const struct fpmd_http_response *r)
{
    struct json_object *o = json_object_new_object(), *h;

    h = json_object_new_object();
    for (size_t i = 0; i < r->nheaders; i++)
        json_object_object_add(h, r->headers[i].name,
                               json_object_new_string(r->headers[i].value));
    json_object_object_add(o, "status", json_object_new_int(r->status));
    json_object_object_add(o, "fallback", json_object_new_boolean(
                               r->fallback));
    json_object_object_add(o, "server", r->server
                           ? json_object_new_string(r->server) : NULL);
    json_object_object_add(o, "headers", h);
    json_object_object_add(o, "body_len",
                           json_object_new_int64((int64_t) r->body_len));
    json_object_object_add(o, "body", json_object_new_string_len(
                               r->body, (int) (r->body_len < 4096
                                               ? r->body_len : 4096)));
    return o;
}

FPMD_HANDLER(t_http)
{
    struct fpmd_http_header headers[HEADERS_MAX];
    struct fpmd_http_request hr = {0};
    struct fpmd_call *calls[CALLS_MAX];
    struct json_object *out, *list;
    const char *n = fpmd_req_query_arg(req, "n"), *name, *value;
    int count = n ? atoi(n) : 1;
    char *body;

    if (count < 1 || count > CALLS_MAX)
        return fpmd_reply_error(req, 400, "n: 1 to 64");
    hr.url = fpmd_req_query_arg(req, "url");
    hr.upstream = fpmd_req_query_arg(req, "upstream");
    hr.method = fpmd_req_query_arg(req, "method");
    hr.body = fpmd_req_query_arg(req, "body");
    hr.body_len = hr.body ? strlen(hr.body) : 0;
    hr.headers = headers;
    for (size_t i = 0; fpmd_req_query_arg_at(req, i, &name, &value)
                           == FPMD_OK; i++) {
        char *colon;

        if (strcmp(name, "h") != 0 || hr.nheaders == HEADERS_MAX)
            continue;
        colon = strchr(value, ':');
        if (colon == NULL)
            return fpmd_reply_error(req, 400, "h: Name: value");
        headers[hr.nheaders].name = fpmd_strndup(req, value,
                                                 (size_t) (colon - value));
        headers[hr.nheaders++].value = colon + 1 + (colon[1] == ' ');
    }
    for (int i = 0; i < count; i++) {
        calls[i] = fpmd_http_start(req, &hr);
        if (calls[i] == NULL)
            return FPMD_ERROR;
    }
    if (fpmd_await_all(req) != FPMD_OK) {
        const struct fpmd_call *failed = fpmd_call_failed(req);
        char e[512];

        snprintf(e, sizeof(e), "pid %d: %s", (int) getpid(),
                 fpmd_call_error(failed));
        return fpmd_reply(req, fpmd_call_http_status(failed), "text/plain",
                          e, strlen(e));
    }
    out = json_object_new_object();
    list = json_object_new_array();
    for (int i = 0; i < count; i++)
        json_object_array_add(list, answer_json(fpmd_http_response(calls[i])));
    json_object_object_add(out, "answers", list);
    json_object_object_add(out, "pid", json_object_new_int((int) getpid()));
    json_object_object_add(out, "trace_id", json_object_new_string(
                               fpmd_req_trace_id(req)));
    json_object_object_add(out, "traceparent", json_object_new_string(
                               fpmd_req_traceparent(req)));
    body = fpmd_strdup(req, json_object_to_json_string(out));
    json_object_put(out);
    return body ? fpmd_reply(req, 200, "application/json", body, strlen(body))
                : FPMD_ERROR;
}

/* The worker's peak resident memory so far, in KiB. */
static long
peak_rss_kb(void)
{
    char line[256];
    long kb = -1;
    FILE *f = fopen("/proc/self/status", "r");

    if (f == NULL)
        return -1;
    while (fgets(line, sizeof(line), f) != NULL) {
        if (sscanf(line, "VmHWM: %ld kB", &kb) == 1)
            break;
    }
    fclose(f);
    return kb;
}

static uint32_t
adler32(uint32_t sum, const unsigned char *p, size_t n)
{
    uint32_t a = sum & 0xffff, b = sum >> 16;

    while (n-- > 0) {
        a = (a + *p++) % 65521;
        b = (b + a) % 65521;
    }
    return b << 16 | a;
}

static int
stream_failed(struct fpmd_req *req)
{
    const struct fpmd_call *failed = fpmd_call_failed(req);
    char e[512];

    if (failed == NULL)
        return fpmd_reply_error(req, 500, "failed, no call says why");
    snprintf(e, sizeof(e), "pid %d: %s", (int) getpid(),
             fpmd_call_error(failed));
    return fpmd_reply(req, fpmd_call_http_status(failed), "text/plain", e,
                      strlen(e));
}

static const char *
arg_or(struct fpmd_req *req, const char *name, const char *dflt)
{
    const char *v = fpmd_req_query_arg(req, name);

    return v ? v : dflt;
}

/* The upload of /t/http/stream: n bytes in writes of piece. */
static int
upload(struct fpmd_http_stream *s, size_t n, size_t piece)
{
    unsigned char buf[65536];

    if (piece == 0 || piece > sizeof(buf))
        piece = sizeof(buf);
    for (size_t off = 0; off < n; off += piece) {
        size_t len = n - off < piece ? n - off : piece;

        for (size_t k = 0; k < len; k++)
            buf[k] = (unsigned char) ((off + k) % 251);
        if (fpmd_http_stream_write(s, buf, len) != FPMD_OK)
            return FPMD_ERROR;
    }
    return fpmd_http_stream_end(s);
}

FPMD_HANDLER(t_http_stream)
{
    struct fpmd_http_request hr = {0};
    const struct fpmd_http_response *resp;
    struct fpmd_http_stream *s;
    const char *misuse = arg_or(req, "misuse", "");
    size_t up = strtoull(arg_or(req, "upload", "0"), NULL, 10);
    double t0 = now_ms(), first_ms = 0;
    uint64_t idle_ms;
    unsigned char buf[16384];
    char head[8193];
    size_t head_len = 0, first_len = 0;
    long hwm_before = peak_rss_kb();
    uint64_t bytes = 0;
    uint32_t sum = 1;
    struct json_object *out;
    ssize_t n;
    char *body;

    hr.url = fpmd_req_query_arg(req, "url");
    hr.upstream = fpmd_req_query_arg(req, "upstream");
    hr.timeout_ms = strtoull(arg_or(req, "timeout_ms", "0"), NULL, 10);
    hr.body_stream = up > 0 || strcmp(misuse, "write_after_end") == 0;
    hr.body_len = fpmd_req_query_arg(req, "length") ? up : 0;
    idle_ms = strtoull(arg_or(req, "idle_ms", "0"), NULL, 10);
    s = fpmd_http_stream_open(req, &hr);
    if (s == NULL)
        return FPMD_ERROR;
    if (strcmp(misuse, "write_after_end") == 0) {
        if (fpmd_http_stream_end(s) != FPMD_OK)
            return stream_failed(req);
        if (fpmd_http_stream_write(s, "x", 1) == FPMD_OK)
            return fpmd_reply_error(req, 500, "a write after the end went");
        return stream_failed(req);
    }
    if (strcmp(misuse, "read_first") == 0) {
        if (fpmd_http_stream_read(s, buf, sizeof(buf)) >= 0)
            return fpmd_reply_error(req, 500, "a read before the head went");
        /* and everything after fails alike, safely */
        if (fpmd_http_stream_response(s) != NULL
            || fpmd_http_stream_read(s, buf, sizeof(buf)) != -1)
            return fpmd_reply_error(req, 500, "the stream went on");
        return stream_failed(req);
    }
    if (up > 0 && upload(s, up, strtoull(arg_or(req, "piece", "0"), NULL,
                                         10)) != FPMD_OK)
        return stream_failed(req);
    resp = fpmd_http_stream_response(s);
    if (resp == NULL)
        return stream_failed(req);
    if (idle_ms > 0 && fpmd_sleep(req, idle_ms) != FPMD_OK)
        return FPMD_ERROR;      /* left open: the request's end closes it */
    while ((n = fpmd_http_stream_read(s, buf, sizeof(buf))) > 0) {
        if (bytes == 0) {
            first_ms = now_ms() - t0;
            first_len = (size_t) n;
        }
        if (head_len < sizeof(head) - 1) {
            size_t k = sizeof(head) - 1 - head_len;

            k = k < (size_t) n ? k : (size_t) n;
            memcpy(head + head_len, buf, k);
            head_len += k;
        }
        sum = adler32(sum, buf, (size_t) n);
        bytes += (uint64_t) n;
    }
    if (n < 0)
        return stream_failed(req);
    /* a read after the end stays at the end */
    if (fpmd_http_stream_read(s, buf, sizeof(buf)) != 0)
        return fpmd_reply_error(req, 500, "a read after the end gave bytes");
    out = json_object_new_object();
    json_object_object_add(out, "status", json_object_new_int(resp->status));
    json_object_object_add(out, "bytes", json_object_new_int64(
                               (int64_t) bytes));
    json_object_object_add(out, "adler32", json_object_new_int64(sum));
    json_object_object_add(out, "first_ms", json_object_new_double(
                               first_ms));
    json_object_object_add(out, "first_len", json_object_new_int64(
                               (int64_t) first_len));
    json_object_object_add(out, "end_ms", json_object_new_double(
                               now_ms() - t0));
    json_object_object_add(out, "head", json_object_new_string_len(
                               (const char *) head, (int) head_len));
    json_object_object_add(out, "hwm_before_kb",
                           json_object_new_int64(hwm_before));
    json_object_object_add(out, "hwm_after_kb",
                           json_object_new_int64(peak_rss_kb()));
    json_object_object_add(out, "pid", json_object_new_int((int) getpid()));
    fpmd_http_stream_close(s);
    body = fpmd_strdup(req, json_object_to_json_string(out));
    json_object_put(out);
    return body ? fpmd_reply(req, 200, "application/json", body, strlen(body))
                : FPMD_ERROR;
}

#define DRIP_SIZE_MAX 65536

FPMD_HANDLER(t_drip)
{
    unsigned long pieces = strtoul(arg_or(req, "pieces", "2"), NULL, 10);
    unsigned long size = strtoul(arg_or(req, "size", "100"), NULL, 10);
    uint64_t sleep_ms = strtoull(arg_or(req, "sleep_ms", "0"), NULL, 10);
    char *piece;

    if (size == 0 || size > DRIP_SIZE_MAX || pieces > 1000)
        return fpmd_reply_error(req, 400, "size 1..65536, pieces 0..1000");
    piece = fpmd_alloc(req, size);
    if (piece == NULL || fpmd_resp_header(req, "Content-Type",
                                          "text/plain") != FPMD_OK)
        return FPMD_ERROR;
    for (unsigned long i = 0; i < pieces; i++) {
        if (i > 0 && fpmd_sleep(req, sleep_ms) != FPMD_OK)
            return FPMD_ERROR;
        memset(piece, 'a' + (int) (i % 26), size);
        if (fpmd_resp_write(req, piece, size) != FPMD_OK)
            return FPMD_ERROR;
    }
    return FPMD_OK;
}
