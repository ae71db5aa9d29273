/* SPDX-License-Identifier: BSD-2-Clause */
/* JSON-RPC methods and a client route for the integration tests (linked
 * into tests/fpmd-test only):
 *   math.add [a, b]       a + b; other params: -32602
 *   test.echo PARAMS      PARAMS back
 *   test.fail             the error -32050 "failing on purpose"
 *   test.sleep {"ms": N}  "slept", after N ms (suspending)
 *   GET /t/rpc?upstream=U&method=M[&params=JSON]   fpmd_rpc_call, the
 *       answer as {"result": R} or {"code": C, "message": M} */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "fpmd/fpmd.h"

FPMD_RPC(t_add, "math.add")
{
    if (params == NULL || !json_object_is_type(params, json_type_array)
        || json_object_array_length(params) != 2)
        return fpmd_rpc_error(req, -32602, "math.add takes [a, b]");
    *result = json_object_new_int64(
        json_object_get_int64(json_object_array_get_idx(params, 0))
        + json_object_get_int64(json_object_array_get_idx(params, 1)));
    return FPMD_OK;
}

FPMD_RPC(t_echo_rpc, "test.echo")
{
    (void) req;
    *result = json_object_get(params);
    return FPMD_OK;
}

FPMD_RPC(t_fail_rpc, "test.fail")
{
    (void) params;
    (void) result;
    return fpmd_rpc_error(req, -32050, "failing on purpose");
}

FPMD_RPC(t_sleep_rpc, "test.sleep")
{
    struct json_object *ms;

    if (params == NULL || !json_object_object_get_ex(params, "ms", &ms))
        return fpmd_rpc_error(req, -32602, NULL);
    if (fpmd_sleep(req, (uint64_t) json_object_get_int64(ms)) != FPMD_OK)
        return FPMD_ERROR;
    *result = json_object_new_string("slept");
    return FPMD_OK;
}

FPMD_HANDLER(t_rpc_call)
{
    const char *p = fpmd_req_query_arg(req, "params");
    struct json_object *params = p ? json_tokener_parse(p) : NULL;
    struct json_object *out = json_object_new_object(), *r;
    const char *message;
    char *body;
    int code;

    r = fpmd_rpc_call(req, fpmd_req_query_arg(req, "upstream"),
                      fpmd_req_query_arg(req, "method"), params, &code,
                      &message);
    json_object_put(params);
    if (code == 0) {
        json_object_object_add(out, "result", json_object_get(r));
    } else {
        json_object_object_add(out, "code", json_object_new_int(code));
        json_object_object_add(out, "message",
                               json_object_new_string(message));
    }
    body = fpmd_strdup(req, json_object_to_json_string(out));
    json_object_put(out);
    return body ? fpmd_reply(req, 200, "application/json", body, strlen(body))
                : FPMD_ERROR;
}
