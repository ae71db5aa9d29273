/* SPDX-License-Identifier: BSD-2-Clause */
/* Handlers that drive the backend pools from the integration tests (linked
 * into tests/fpmd-test only). Commands come in the query, one per cmd=
 * argument, words split on spaces:
 *   /t/redis?pool=P&cmd=SET k v&cmd=GET k    one call, a pipeline
 *   /t/redis-par?pool=P&cmd=...&cmd=...      one call per command, at once
 * add replica=1 to read from a replica. The answer is JSON: the replies in
 * order, with the time taken; a failed call answers with the status it
 * maps to and its error. */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "fpmd/fpmd.h"

#define MAX_WORDS 16

static double
now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec * 1e3 + (double) ts.tv_nsec / 1e6;
}

static void
obj_put(void *o)
{
    json_object_put(o);
}

static struct json_object *
reply_json(const struct fpmd_redis_reply *r)
{
    struct json_object *a, *e;

    switch (r->type) {
    case FPMD_REDIS_STRING:
    case FPMD_REDIS_STATUS:
        return json_object_new_string_len(r->str, (int) r->len);
    case FPMD_REDIS_INTEGER:
        return json_object_new_int64(r->integer);
    case FPMD_REDIS_ERROR:
        e = json_object_new_object();
        json_object_object_add(e, "error", json_object_new_string(r->str));
        return e;
    case FPMD_REDIS_ARRAY:
        a = json_object_new_array();
        for (size_t i = 0; i < r->elements; i++)
            json_object_array_add(a, reply_json(r->element[i]));
        return a;
    default:
        return NULL;
    }
}

/* Adds the command in text (space-separated words) to call. */
static int
add_words(struct fpmd_req *req, struct fpmd_call *call, const char *text)
{
    char *copy = fpmd_strdup(req, text), *save = NULL, *w;
    const char *argv[MAX_WORDS];
    size_t lens[MAX_WORDS];
    int argc = 0;

    if (copy == NULL)
        return FPMD_ERROR;
    for (w = strtok_r(copy, " ", &save); w != NULL && argc < MAX_WORDS;
         w = strtok_r(NULL, " ", &save)) {
        argv[argc] = w;
        lens[argc++] = strlen(w);
    }
    return fpmd_redis_addv(call, argc, argv, lens);
}

static int
answer(struct fpmd_req *req, struct fpmd_call **calls, size_t ncalls,
       size_t per_call, double t0)
{
    struct json_object *out = json_object_new_object(), *replies;

    if (out == NULL || fpmd_defer(req, obj_put, out) != FPMD_OK)
        return FPMD_ERROR;
    for (size_t i = 0; i < ncalls; i++) {
        if (fpmd_call_status(calls[i]) != FPMD_CALL_OK) {
            json_object_object_add(out, "error", json_object_new_string(
                fpmd_call_error(calls[i])));
            json_object_object_add(out, "status", json_object_new_int(
                (int) fpmd_call_status(calls[i])));
            return fpmd_reply_json(req, fpmd_call_http_status(calls[i]), out);
        }
    }
    replies = json_object_new_array();
    json_object_object_add(out, "replies", replies);
    for (size_t i = 0; i < ncalls; i++) {
        for (size_t j = 0; j < per_call; j++)
            json_object_array_add(replies,
                                  reply_json(fpmd_redis_reply(calls[i], j)));
    }
    json_object_object_add(out, "ms", json_object_new_double(now_ms() - t0));
    return fpmd_reply_json(req, 200, out);
}

static unsigned
flags_of(struct fpmd_req *req)
{
    const char *replica = fpmd_req_query_arg(req, "replica");

    return replica != NULL && strcmp(replica, "1") == 0
        ? FPMD_REDIS_READ_REPLICA : 0;
}

FPMD_ROUTE(t_redis, "GET", "/t/redis")
{
    const char *pool = fpmd_req_query_arg(req, "pool"), *name, *value;
    double t0 = now_ms();
    struct fpmd_call *call;
    size_t n = 0;

    call = fpmd_redis_new(req, pool ? pool : "", flags_of(req));
    if (call == NULL)
        return FPMD_ERROR;
    for (size_t i = 0; i < fpmd_req_nquery_args(req); i++) {
        if (fpmd_req_query_arg_at(req, i, &name, &value) == FPMD_OK
            && strcmp(name, "cmd") == 0) {
            /* A call that failed already (no such pool) says so below. */
            if (add_words(req, call, value) != FPMD_OK
                && fpmd_call_status(call) == FPMD_CALL_PENDING)
                return fpmd_reply_error(req, 400, "bad command");
            n++;
        }
    }
    fpmd_redis_send(call);
    fpmd_await(req, call);
    return answer(req, &call, 1, n, t0);
}

FPMD_ROUTE(t_redis_par, "GET", "/t/redis-par")
{
    const char *pool = fpmd_req_query_arg(req, "pool"), *name, *value;
    double t0 = now_ms();
    struct fpmd_call **calls;
    size_t n = 0;

    calls = fpmd_alloc(req, fpmd_req_nquery_args(req) * sizeof(*calls) + 1);
    if (calls == NULL)
        return FPMD_ERROR;
    for (size_t i = 0; i < fpmd_req_nquery_args(req); i++) {
        if (fpmd_req_query_arg_at(req, i, &name, &value) != FPMD_OK
            || strcmp(name, "cmd") != 0)
            continue;
        calls[n] = fpmd_redis_new(req, pool ? pool : "", flags_of(req));
        if (calls[n] == NULL)
            return FPMD_ERROR;
        if (add_words(req, calls[n], value) != FPMD_OK
            && fpmd_call_status(calls[n]) == FPMD_CALL_PENDING)
            return fpmd_reply_error(req, 400, "bad command");
        fpmd_redis_send(calls[n++]);
    }
    fpmd_await_all(req);
    return answer(req, calls, n, 1, t0);
}
