/* SPDX-License-Identifier: BSD-2-Clause */
/* Handlers for the migration tests (linked into tests/fpmd-test only):
 * one that shows what a shim gave it (script, PATH_INFO, route params,
 * request id). */
#include "config.h"

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
