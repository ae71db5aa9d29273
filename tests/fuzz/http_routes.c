/* SPDX-License-Identifier: BSD-2-Clause */
/* Routes linked into fuzz_http only: each hands what the client sent to
 * one of the handler API's readers that the built-in handlers never call
 * (form and JSON bodies, cookies, repeated headers, route parameters,
 * query arguments in order) and to the response calls that must refuse
 * what would split a head (a header value or a Location from the query),
 * so that the fuzzer reaches them through the real request path. */
#include "config.h"

#include <string.h>

#include <json-c/json.h>

#include "fpmd/fpmd.h"

/* Every request: a client's X-Deny answers before any handler runs. */
FPMD_HOOK(fuzz_deny, FPMD_HOOK_BEFORE, 10)
{
    if (fpmd_req_header(req, "X-Deny") == NULL)
        return FPMD_OK;
    fpmd_reply_error_json(req, 401, "denied");
    return FPMD_DONE;
}

static int
add(struct json_object *o, const char *k, const char *v)
{
    struct json_object *s = v != NULL ? json_object_new_string(v) : NULL;

    if (v != NULL && s == NULL)
        return FPMD_ERROR;
    return json_object_object_add(o, k, s) == 0 ? FPMD_OK : FPMD_ERROR;
}

static int
reply(struct fpmd_req *req, struct json_object *o, int rc)
{
    rc = rc == FPMD_OK ? fpmd_reply_json(req, 200, o) : FPMD_ERROR;
    json_object_put(o);
    return rc;
}

FPMD_ROUTE(fuzz_form, "POST", "/form")
{
    struct json_object *o;
    const char *name, *value;
    int status, rc = FPMD_OK;

    if (fpmd_req_form_parse(req, &status) != FPMD_OK)
        return fpmd_reply_error_json(req, status, "form");
    if ((o = json_object_new_object()) == NULL)
        return FPMD_ERROR;
    for (size_t i = 0; rc == FPMD_OK
                       && fpmd_req_form_at(req, i, &name, &value) == FPMD_OK;
         i++)
        rc = add(o, name, value);
    if (rc == FPMD_OK)
        rc = add(o, "a", fpmd_req_form(req, "a"));
    return reply(req, o, rc);
}

FPMD_ROUTE(fuzz_json, "POST", "/json-in")
{
    int status;
    struct json_object *in = fpmd_req_json(req, &status), *o;

    if (in == NULL)
        return fpmd_reply_error_json(req, status, "json");
    if ((o = json_object_new_object()) == NULL)
        return FPMD_ERROR;
    return reply(req, o, json_object_object_add(o, "echo",
                                                json_object_get(in)) == 0
                         ? FPMD_OK : FPMD_ERROR);
}

/* /req/A/B/REST?...: what the request's readers make of it; ?h= becomes
 * a response header and ?to= a redirect, both refused when unsafe. */
FPMD_ROUTE(fuzz_req, "GET", "/req/{a}/{b}/*")
{
    struct json_object *o = json_object_new_object();
    const char *name, *value, *v;
    size_t pos = 0;
    int rc = FPMD_OK;
    const char *const fixed[][2] = {
        {"a", fpmd_req_route_param(req, "a")},
        {"b", fpmd_req_route_param(req, "b")},
        {"rest", fpmd_req_route_param(req, "*")},
        {"sid", fpmd_req_cookie(req, "sid")},
        {"empty", fpmd_req_cookie(req, "")},
        {"id", fpmd_req_id(req)},
        {"trace", fpmd_req_traceparent(req)},
    };

    if (o == NULL)
        return FPMD_ERROR;
    for (size_t i = 0; rc == FPMD_OK && i < sizeof(fixed) / sizeof(fixed[0]); i++)
        rc = add(o, fixed[i][0], fixed[i][1]);
    while (rc == FPMD_OK
           && (v = fpmd_req_header_next(req, "X-Multi", &pos)) != NULL)
        rc = add(o, "multi", v);
    for (size_t i = 0; rc == FPMD_OK
                       && fpmd_req_query_arg_at(req, i, &name, &value)
                          == FPMD_OK;
         i++)
        rc = add(o, name, value);
    if (rc == FPMD_OK && (v = fpmd_req_query_arg(req, "h")) != NULL)
        (void) fpmd_resp_header(req, "X-Echo", v);
    if (rc == FPMD_OK && (v = fpmd_req_query_arg(req, "to")) != NULL) {
        json_object_put(o);
        if (fpmd_redirect(req, 302, v) != FPMD_OK)
            return fpmd_reply_error(req, 400, "location");
        return FPMD_OK;
    }
    return reply(req, o, rc);
}
