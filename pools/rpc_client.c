/* SPDX-License-Identifier: BSD-2-Clause */
/* fpmd_rpc_call (fpmd.h, "JSON-RPC"): one JSON-RPC 2.0 request as a POST
 * through the HTTP client to an upstream's rpc_path, so that the
 * upstream's balancer, breakers, retries and timeouts apply; the answer
 * read when the caller asks for it. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "fpmd/jsonrpc.h"
#include "fpmd/process.h"
#include "fpmd/req.h"
#include "pools/pool.h"

#define DEFAULT_PATH "/rpc"

static const struct fpmd_conf_upstream *
upstream_conf(const char *name)
{
    const struct fpmd_conf *conf = fpmd_process.conf;

    for (size_t i = 0; name != NULL && i < conf->nupstreams; i++) {
        if (strcmp(conf->upstreams[i].name, name) == 0)
            return &conf->upstreams[i];
    }
    return NULL;
}

struct fpmd_call *
fpmd_rpc_start(struct fpmd_req *req, const char *upstream, const char *method,
               struct json_object *params)
{
    const struct fpmd_conf_upstream *u = upstream_conf(upstream);
    struct json_object *body = json_object_new_object();
    static const struct fpmd_http_header ct = {"Content-Type",
                                               "application/json"};
    struct fpmd_http_request r = {
        .method = "POST", .upstream = upstream,
        .url = u && u->rpc_path ? u->rpc_path : DEFAULT_PATH,
        .headers = &ct, .nheaders = 1};
    struct fpmd_call *call;
    size_t len;

    if (body == NULL)
        return NULL;
    json_object_object_add(body, "jsonrpc", json_object_new_string("2.0"));
    json_object_object_add(body, "method", json_object_new_string(method));
    if (params != NULL)
        json_object_object_add(body, "params", json_object_get(params));
    json_object_object_add(body, "id", json_object_new_int(1));
    r.body = json_object_to_json_string_length(body, JSON_C_TO_STRING_PLAIN,
                                               &len);
    r.body_len = len;
    /* the HTTP client copies the body */
    call = r.body != NULL ? fpmd_http_start(req, &r) : NULL;
    json_object_put(body);
    return call;
}

struct json_object *
fpmd_rpc_result(struct fpmd_call *call, int *code, const char **message)
{
    const struct fpmd_http_response *resp = fpmd_http_response(call);
    struct json_object *answer, *v;

    *code = FPMD_JSONRPC_SERVER_BUSY;
    *message = fpmd_call_error(call);
    if (resp == NULL) {
        if (fpmd_call_status(call) == FPMD_CALL_TIMEOUT)
            *code = FPMD_JSONRPC_TIMEOUT;
        return NULL;
    }
    answer = fpmd_req_json_keep(call->req, fpmd_json_parse(
        resp->body, resp->body_len, fpmd_process.conf->limits.json_depth));
    if (resp->status != 200 || answer == NULL
        || !json_object_is_type(answer, json_type_object)) {
        *message = "the server did not answer JSON-RPC";
        return NULL;
    }
    if (json_object_object_get_ex(answer, "error", &v)) {
        struct json_object *c, *m;

        *code = json_object_object_get_ex(v, "code", &c)
            ? json_object_get_int(c) : FPMD_JSONRPC_INTERNAL_ERROR;
        *message = json_object_object_get_ex(v, "message", &m)
            ? json_object_get_string(m) : "";
        return NULL;
    }
    if (!json_object_object_get_ex(answer, "result", &v)) {
        *message = "the server's answer has no result";
        return NULL;
    }
    *code = 0;
    *message = "";
    return v;
}

struct json_object *
fpmd_rpc_call(struct fpmd_req *req, const char *upstream, const char *method,
              struct json_object *params, int *code, const char **message)
{
    struct fpmd_call *call = fpmd_rpc_start(req, upstream, method, params);

    if (call == NULL) {
        *code = FPMD_JSONRPC_INTERNAL_ERROR;
        *message = "out of memory";
        return NULL;
    }
    fpmd_await(req, call);
    return fpmd_rpc_result(call, code, message);
}
