/* SPDX-License-Identifier: BSD-2-Clause */
/* Tasks and the routes that start them, for the integration tests (linked
 * into tests/fpmd-test only):
 *   /t/task?name=T&in=TEXT        start T with TEXT as input, await it
 *   /t/task-mix?ms=N&key=K         t_sleep, a Redis INCR and a MySQL
 *                                  SELECT at once, fpmd_await_all
 *   /t/task-post?name=T&in=TEXT    fpmd_task_post
 * Answers: the result with 200, or the failed call's status with its
 * error as text. */
#include "config.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "fpmd/fpmd.h"

/* The input back, as it came. */
FPMD_TASK(t_echo)
{
    size_t len;
    const void *in = fpmd_task_input(req, &len);

    return fpmd_task_return(req, in, len);
}

/* {"ms": N}: blocks its process N ms (as a blocking library would), then
 * answers {"slept": N, "pid": P}. */
FPMD_TASK(t_sleep)
{
    struct json_object *in = fpmd_task_input_json(req), *ms, *out;
    int rc;

    if (in == NULL || !json_object_object_get_ex(in, "ms", &ms))
        return FPMD_ERROR;
    usleep((useconds_t) json_object_get_int(ms) * 1000);
    out = json_object_new_object();
    json_object_object_add(out, "slept", json_object_get(ms));
    json_object_object_add(out, "pid", json_object_new_int((int) getpid()));
    rc = fpmd_task_return_json(req, out);
    json_object_put(out);
    return rc;
}

/* Its process dies under it. */
FPMD_TASK(t_crash)
{
    (void) req;
    kill(getpid(), SIGKILL);
    return FPMD_OK;
}

FPMD_TASK(t_fail)
{
    (void) req;
    return FPMD_ERROR;
}

/* INCR of the key in the input on pool cache, from the task process: a
 * task uses the pools as a handler does. */
FPMD_TASK(t_incr)
{
    size_t len;
    const char *key = fpmd_task_input(req, &len);
    const struct fpmd_redis_reply *r = fpmd_redis(req, "cache", "INCR %b",
                                                  key, len);
    char out[32];

    if (r == NULL || r->type != FPMD_REDIS_INTEGER)
        return FPMD_ERROR;
    snprintf(out, sizeof(out), "%lld", r->integer);
    return fpmd_task_return(req, out, strlen(out));
}

/* The consumer's work on one item (t_consumer): it is done once it is in
 * the list done. */
FPMD_TASK(t_record)
{
    size_t len;
    const char *item = fpmd_task_input(req, &len);

    return fpmd_redis(req, "cache", "RPUSH done %b", item, len) != NULL
        ? FPMD_OK : FPMD_ERROR;
}

/* A cron entry's task ({"cron": NAME, "tick": T}): pushes TICK:PID to
 * the list crontask:NAME on pool cache, as t_cron does for a handler. */
FPMD_TASK(t_cron_task)
{
    struct json_object *in = fpmd_task_input_json(req), *name, *tick;

    if (in == NULL || !json_object_object_get_ex(in, "cron", &name)
        || !json_object_object_get_ex(in, "tick", &tick))
        return FPMD_ERROR;
    return fpmd_redis(req, "cache", "RPUSH crontask:%s %lld:%d",
                      json_object_get_string(name),
                      (long long) json_object_get_int64(tick),
                      (int) getpid()) != NULL ? FPMD_OK : FPMD_ERROR;
}

/* Adds 1 to counters:k's hits as many times as its input says, from the
 * task process: tables are shared with the task processes too. Answers
 * its pid. */
FPMD_TASK(t_table_incr)
{
    struct fpmd_table *t = fpmd_table("counters");
    size_t len;
    const char *in = fpmd_task_input(req, &len);
    int64_t v;
    char out[16];

    if (t == NULL)
        return FPMD_ERROR;
    for (long i = atol(in); i > 0; i--) {
        if (fpmd_table_incr(t, "k", 1, fpmd_table_column(t, "hits"), 1, &v)
            != FPMD_OK)
            return FPMD_ERROR;
    }
    snprintf(out, sizeof(out), "%d", (int) getpid());
    return fpmd_task_return(req, out, strlen(out));
}

static int
failed(struct fpmd_req *req, const struct fpmd_call *call)
{
    const char *e = fpmd_call_error(call);

    return fpmd_reply(req, fpmd_call_http_status(call), "text/plain", e,
                      strlen(e));
}

FPMD_HANDLER(t_task)
{
    const char *name = fpmd_req_query_arg(req, "name");
    const char *in = fpmd_req_query_arg(req, "in");
    struct fpmd_call *call;
    const void *out;
    size_t len;

    if (in == NULL)
        in = "";
    call = fpmd_task_start(req, name, in, strlen(in));
    if (call == NULL)
        return FPMD_ERROR;
    if (fpmd_await(req, call) != FPMD_OK)
        return failed(req, call);
    out = fpmd_task_result(call, &len);
    return fpmd_reply(req, 200, "application/octet-stream", out, len);
}

FPMD_HANDLER(t_task_mix)
{
    const char *ms = fpmd_req_query_arg(req, "ms");
    const char *key = fpmd_req_query_arg(req, "key");
    struct json_object *arg = json_object_new_object(), *out;
    struct fpmd_call *task, *incr, *sql;
    const struct fpmd_mysql_result *res;
    char *body;

    json_object_object_add(arg, "ms", json_object_new_int(ms ? atoi(ms) : 0));
    task = fpmd_task_start_json(req, "t_sleep", arg);
    json_object_put(arg);
    incr = fpmd_redis_start(req, "cache", "INCR %s", key ? key : "mix");
    sql = fpmd_mysql_start(req, "db", 0, "SELECT 41 + 1", 0, NULL);
    if (task == NULL || incr == NULL || sql == NULL)
        return FPMD_ERROR;
    if (fpmd_await_all(req) != FPMD_OK)
        return failed(req, fpmd_call_failed(req));
    res = fpmd_mysql_result(sql);
    out = json_object_new_object();
    json_object_object_add(out, "task",
                           json_object_get(fpmd_task_result_json(task)));
    json_object_object_add(out, "incr", json_object_new_int64(
                               fpmd_redis_reply(incr, 0)->integer));
    json_object_object_add(out, "sql", json_object_new_string(
                               res->rows[0][0] ? res->rows[0][0] : ""));
    body = fpmd_strdup(req, json_object_to_json_string(out));
    json_object_put(out);
    return fpmd_reply(req, 200, "application/json", body, strlen(body));
}

FPMD_HANDLER(t_task_post)
{
    const char *name = fpmd_req_query_arg(req, "name");
    const char *in = fpmd_req_query_arg(req, "in");
    int rc = fpmd_task_post(name, in ? in : "", in ? strlen(in) : 0);

    return rc == FPMD_OK ? fpmd_reply(req, 202, "text/plain", "posted\n", 7)
        : fpmd_reply_error(req, rc == FPMD_AGAIN ? 503 : 500, NULL);
}
