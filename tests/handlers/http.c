/* SPDX-License-Identifier: BSD-2-Clause */
/* The HTTP client from the integration tests (linked into tests/fpmd-test
 * only): GET /t/http?url=U[&upstream=NAME][&n=N][&method=M][&body=B]
 * [&h=Name:%20value...] starts N calls of the same request at once and
 * awaits them all; the answer is JSON: per call its status, server,
 * headers and body (text), and the worker's pid. A failed call answers
 * with the status it maps to and "pid PID: " and its error. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "fpmd/fpmd.h"

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
    body = fpmd_strdup(req, json_object_to_json_string(out));
    json_object_put(out);
    return body ? fpmd_reply(req, 200, "application/json", body, strlen(body))
                : FPMD_ERROR;
}
