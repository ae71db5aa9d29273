/* SPDX-License-Identifier: BSD-2-Clause */
/* Handlers for the migration tests (linked into tests/fpmd-test only):
 * one that shows what a shim gave it (script, PATH_INFO, route params,
 * request id), C ports of PHP scripts for shadow and canary routes. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "fpmd/fpmd.h"

static void
put(void *o)
{
    json_object_put(o);
}

static void
add(struct json_object *o, const char *k, const char *v)
{
    json_object_object_add(o, k, v ? json_object_new_string(v) : NULL);
}

FPMD_HANDLER(shim_echo)
{
    static const char *const names[] = {"action", "id", "r", "*", "name"};
    struct json_object *o = json_object_new_object();
    struct json_object *params = json_object_new_object();

    if (o == NULL || params == NULL || fpmd_defer(req, put, o) != FPMD_OK) {
        json_object_put(o);
        json_object_put(params);
        return FPMD_ERROR;
    }
    json_object_object_add(o, "params", params);
    add(o, "handler", fpmd_req_handler(req));
    add(o, "script", fpmd_req_script(req));
    add(o, "path_info", fpmd_req_path_info(req));
    add(o, "request_id", fpmd_req_id(req));
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        const char *v = fpmd_req_route_param(req, names[i]);

        if (v != NULL)
            add(params, names[i], v);
    }
    return fpmd_reply_json(req, 200, o);
}

/* Answers like tests/integration/test_shadow.py's user.php, keys in
 * another order, but for id 13: a C port with a bug to be caught. */
FPMD_HANDLER(shadow_user)
{
    const char *id = fpmd_req_query_arg(req, "id");
    struct json_object *o = json_object_new_object();
    char name[64];

    if (o == NULL || fpmd_defer(req, put, o) != FPMD_OK) {
        json_object_put(o);
        return FPMD_ERROR;
    }
    id = id ? id : "";
    snprintf(name, sizeof(name), "%s%s",
             strcmp(id, "13") == 0 ? "User " : "user ", id);
    json_object_object_add(o, "generated_at", json_object_new_int(0));
    json_object_object_add(o, "name", json_object_new_string(name));
    json_object_object_add(o, "id", json_object_new_string(id));
    if (fpmd_resp_header(req, "X-Served-By", "fpmd") != FPMD_OK)
        return FPMD_ERROR;
    return fpmd_reply_json(req, 200, o);
}

/* "native\n", or a 500 with ?fail; ?sleep_ms=N first. */
FPMD_HANDLER(canary_c)
{
    const char *ms = fpmd_req_query_arg(req, "sleep_ms");

    if (ms != NULL && fpmd_sleep(req, strtoull(ms, NULL, 10)) != FPMD_OK)
        return FPMD_ERROR;
    if (fpmd_req_query_arg(req, "fail") != NULL)
        return fpmd_reply_error(req, 500, "failing on purpose");
    return fpmd_reply(req, 200, "text/plain", "native\n", 7);
}
