/* SPDX-License-Identifier: BSD-2-Clause */
/* JSON-RPC 2.0 methods (fpmd.h, FPMD_RPC) and the built-in handler
 * "jsonrpc" that serves them on any route that names it, over HTTP and
 * FastCGI alike: the body parsed by jsonrpc.c within limits.parsed_body,
 * limits.json_depth and limits.rpc_batch, each call run in turn in the
 * request's coroutine, the answers written in call order. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "fpmd/jsonrpc.h"
#include "fpmd/log.h"
#include "fpmd/process.h"
#include "fpmd/req.h"

#define DEFS_MAX 1024
#define ERR_KEY "fpmd.rpc"

static struct {
    const struct fpmd_rpc_def *defs[DEFS_MAX];
    size_t ndefs;
} registry;

/* What a method said instead of a result. */
struct rpc_error {
    int code;
    const char *message;
};

void
fpmd_rpc_register(const struct fpmd_rpc_def *def)
{
    if (registry.ndefs == DEFS_MAX) {
        fpmd_log(FPMD_LOG_ALERT, "%s:%d: rpc method %s: more than %d are "
                 "declared; it cannot be called", def->file, def->line,
                 def->method, DEFS_MAX);
        return;
    }
    registry.defs[registry.ndefs++] = def;
}

static const struct fpmd_rpc_def *
find(const char *method, size_t len)
{
    for (size_t i = 0; i < registry.ndefs; i++) {
        if (strlen(registry.defs[i]->method) == len
            && memcmp(registry.defs[i]->method, method, len) == 0)
            return registry.defs[i];
    }
    return NULL;
}

int
fpmd_rpc_error(struct fpmd_req *req, int code, const char *message)
{
    struct rpc_error *e = fpmd_req_get(req, ERR_KEY);

    if (e != NULL) {
        e->code = code;
        e->message = message ? fpmd_strdup(req, message) : NULL;
    }
    return FPMD_ERROR;
}

static void
msg_free(void *msg)
{
    fpmd_jsonrpc_msg_free(msg);
}

static void
out_free(void *out)
{
    fpmd_jsonrpc_out_free(out);
}

/* One call: its result or its error into out. */
static int
run(struct fpmd_req *req, struct fpmd_jsonrpc_out *out, size_t i,
    const struct fpmd_jsonrpc_call *call)
{
    const struct fpmd_rpc_def *def = find(call->method, call->method_len);
    struct rpc_error e = {0, NULL};
    struct json_object *result = NULL;

    if (def == NULL)
        return fpmd_jsonrpc_out_error(out, i, FPMD_JSONRPC_METHOD_NOT_FOUND,
                                      NULL, NULL);
    if (fpmd_req_set(req, ERR_KEY, &e) != FPMD_OK)
        return FPMD_ERROR;
    if (def->fn(req, call->params, &result) == FPMD_OK) {
        fpmd_req_set(req, ERR_KEY, NULL);
        return fpmd_jsonrpc_out_result(out, i, result);
    }
    fpmd_req_set(req, ERR_KEY, NULL);
    json_object_put(result);
    if (e.code == 0)
        fpmd_log(FPMD_LOG_WARNING, "rpc method %s failed", def->method);
    return fpmd_jsonrpc_out_error(out, i, e.code ? e.code
                                  : FPMD_JSONRPC_INTERNAL_ERROR, e.message,
                                  NULL);
}

FPMD_HANDLER(jsonrpc)
{
    const struct fpmd_conf *conf = fpmd_process.conf;
    struct fpmd_jsonrpc_msg *msg;
    struct fpmd_jsonrpc_out *out;
    const char *data, *text;
    size_t len;
    int status, rc;

    if (fpmd_req_body_whole(req, conf->limits.parsed_body, &data, &len,
                            &status) != FPMD_OK)
        return fpmd_reply_error(req, status, NULL);
    msg = fpmd_jsonrpc_parse(data, len, conf->limits.json_depth,
                             conf->limits.rpc_batch);
    if (msg == NULL || fpmd_defer(req, msg_free, msg) != FPMD_OK) {
        fpmd_jsonrpc_msg_free(msg);
        return FPMD_ERROR;
    }
    out = fpmd_jsonrpc_out_new(msg);
    if (out == NULL || fpmd_defer(req, out_free, out) != FPMD_OK) {
        fpmd_jsonrpc_out_free(out);
        return FPMD_ERROR;
    }
    for (size_t i = 0; i < msg->ncalls; i++) {
        if (msg->calls[i].error == 0
            && run(req, out, i, &msg->calls[i]) != FPMD_OK)
            return FPMD_ERROR;
        if (fpmd_req_aborted(req))
            return FPMD_OK;
    }
    rc = fpmd_jsonrpc_out_text(out, &text, &len);
    if (rc == FPMD_DECLINED)
        return fpmd_reply(req, 204, NULL, NULL, 0);
    return rc == FPMD_OK ? fpmd_reply(req, 200, "application/json", text, len)
                         : FPMD_ERROR;
}
