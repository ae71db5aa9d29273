/* SPDX-License-Identifier: BSD-2-Clause */
/* Handlers that drive the backend pools from the integration tests (linked
 * into tests/fpmd-test only). Commands come in the query, one per cmd=
 * argument, words split on spaces:
 *   /t/redis?pool=P&cmd=SET k v&cmd=GET k    one call, a pipeline
 *   /t/redis-par?pool=P&cmd=...&cmd=...      one call per command, at once
 * add replica=1 to read from a replica. The answer is JSON: the replies in
 * order, with the time taken; a failed call answers with the status it
 * maps to and its error. A server's error reply (OOM, WRONGTYPE...) is
 * one of the replies, unless error_status=N asks for an answer N with
 * the first such error instead, as an application would give its
 * client (/t/mysql takes it too, for a statement the server refused). */
#include "config.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "fpmd/fpmd.h"
#include "tests/handlers/clock.h"

#define MAX_WORDS 16

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

/* error_status=N, or 0 when absent. */
static int
error_status(struct fpmd_req *req)
{
    const char *v = fpmd_req_query_arg(req, "error_status");

    return v != NULL ? atoi(v) : 0;
}

static int
answer(struct fpmd_req *req, struct fpmd_call **calls, size_t ncalls,
       size_t per_call, double t0)
{
    struct json_object *out = json_object_new_object(), *replies;
    int refused = error_status(req);

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
        for (size_t j = 0; refused != 0 && j < per_call; j++) {
            const struct fpmd_redis_reply *r = fpmd_redis_reply(calls[i], j);

            if (r != NULL && r->type == FPMD_REDIS_ERROR) {
                json_object_object_add(out, "error",
                                       json_object_new_string(r->str));
                return fpmd_reply_json(req, refused, out);
            }
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

/* /t/mysql?pool=P&sql=...&p=...: one statement, ? filled from the p
 * arguments in order (p=\N is SQL NULL); primary=1 forces the primary. */
static int
mysql_answer(struct fpmd_req *req, struct fpmd_call *call, double t0)
{
    const struct fpmd_mysql_result *r = fpmd_mysql_result(call);
    struct json_object *out = json_object_new_object();

    if (out == NULL || fpmd_defer(req, obj_put, out) != FPMD_OK)
        return FPMD_ERROR;
    if (r == NULL) {
        json_object_object_add(out, "error", json_object_new_string(
            fpmd_call_error(call)));
        return fpmd_reply_json(req, fpmd_call_http_status(call), out);
    }
    json_object_object_add(out, "errcode", json_object_new_int(
        (int) r->errcode));
    json_object_object_add(out, "message", json_object_new_string(r->error));
    if (r->errcode != 0 && error_status(req) != 0)
        return fpmd_reply_json(req, error_status(req), out);
    json_object_object_add(out, "affected", json_object_new_int64(
        (int64_t) r->affected_rows));
    json_object_object_add(out, "insert_id", json_object_new_int64(
        (int64_t) r->insert_id));
    json_object_object_add(out, "rows", json_object_get(
        fpmd_mysql_json(req, r)));
    json_object_object_add(out, "ms", json_object_new_double(now_ms() - t0));
    return fpmd_reply_json(req, 200, out);
}

static size_t
collect(struct fpmd_req *req, const char *key, const char **out, size_t max)
{
    const char *name, *value;
    size_t n = 0;

    for (size_t i = 0; i < fpmd_req_nquery_args(req) && n < max; i++) {
        if (fpmd_req_query_arg_at(req, i, &name, &value) == FPMD_OK
            && strcmp(name, key) == 0)
            out[n++] = strcmp(value, "\\N") == 0 ? NULL : value;
    }
    return n;
}

FPMD_ROUTE(t_mysql, "GET", "/t/mysql")
{
    const char *pool = fpmd_req_query_arg(req, "pool");
    const char *sql = fpmd_req_query_arg(req, "sql");
    const char *primary = fpmd_req_query_arg(req, "primary");
    const char *params[MAX_WORDS];
    size_t n = collect(req, "p", params, MAX_WORDS);
    double t0 = now_ms();
    struct fpmd_call *call;

    call = fpmd_mysql_start(req, pool ? pool : "",
                            primary != NULL ? FPMD_MYSQL_PRIMARY : 0, sql, n,
                            params);
    if (call == NULL)
        return FPMD_ERROR;
    fpmd_await(req, call);
    return mysql_answer(req, call, t0);
}

/* /t/mysql-comments?pool=P&a=...&d=...: fpmd_mysql with two varargs for
 * a statement whose other ? are in strings, an identifier and comments:
 * counting any of them would read varargs that were never passed. The
 * executable comment's text runs, so its ? is one. */
FPMD_ROUTE(t_mysql_comments, "GET", "/t/mysql-comments")
{
    const char *pool = fpmd_req_query_arg(req, "pool");
    const char *a = fpmd_req_query_arg(req, "a");
    const char *d = fpmd_req_query_arg(req, "d");
    const struct fpmd_mysql_result *r;

    r = fpmd_mysql(req, pool ? pool : "",
                   "SELECT /* why? */ ? AS a, '?''?\\'?' AS `b?`, "
                   "\"?\" AS c -- what?\n"
                   "# and this?\n"
                   "/*!100000 , ? AS d */", a ? a : "", d ? d : "");
    if (r == NULL)
        return fpmd_reply_error(req, 502, "statement failed");
    if (r->errcode != 0)
        return fpmd_reply_error(req, 502, r->error);
    return fpmd_reply_json(req, 200, fpmd_mysql_json(req, r));
}

/* /t/mysql-par?pool=P&sql=...&sql=...: the statements at once. */
FPMD_ROUTE(t_mysql_par, "GET", "/t/mysql-par")
{
    const char *pool = fpmd_req_query_arg(req, "pool");
    const char *sqls[MAX_WORDS];
    size_t n = collect(req, "sql", sqls, MAX_WORDS);
    struct fpmd_call *calls[MAX_WORDS];
    struct json_object *out = json_object_new_object();
    double t0 = now_ms();

    if (out == NULL || fpmd_defer(req, obj_put, out) != FPMD_OK)
        return FPMD_ERROR;
    for (size_t i = 0; i < n; i++) {
        calls[i] = fpmd_mysql_start(req, pool ? pool : "", 0, sqls[i], 0,
                                    NULL);
        if (calls[i] == NULL)
            return FPMD_ERROR;
    }
    if (fpmd_await_all(req) != FPMD_OK)
        return fpmd_reply_error(req, fpmd_call_http_status(
            fpmd_call_failed(req)), fpmd_call_error(fpmd_call_failed(req)));
    json_object_object_add(out, "ms", json_object_new_double(now_ms() - t0));
    return fpmd_reply_json(req, 200, out);
}

/* /t/mysql-txn?pool=P&sql=...&sql=...&end=commit|rollback|open
 * [&sleep_ms=N]: a transaction of the statements, sleeping N ms after
 * the first; answers each statement's errcode, or the failure. */
FPMD_ROUTE(t_mysql_txn, "GET", "/t/mysql-txn")
{
    const char *pool = fpmd_req_query_arg(req, "pool");
    const char *end = fpmd_req_query_arg(req, "end");
    const char *sleep_ms = fpmd_req_query_arg(req, "sleep_ms");
    const char *sqls[MAX_WORDS];
    size_t n = collect(req, "sql", sqls, MAX_WORDS);
    struct json_object *out = json_object_new_object(), *codes;
    struct fpmd_mysql_txn *txn;
    int rc = FPMD_OK;

    if (out == NULL || fpmd_defer(req, obj_put, out) != FPMD_OK)
        return FPMD_ERROR;
    txn = fpmd_mysql_begin(req, pool ? pool : "");
    if (txn == NULL)
        return fpmd_reply_error(req, fpmd_call_http_status(
            fpmd_call_failed(req)), fpmd_call_error(fpmd_call_failed(req)));
    codes = json_object_new_array();
    json_object_object_add(out, "codes", codes);
    for (size_t i = 0; i < n; i++) {
        const struct fpmd_mysql_result *r = fpmd_mysql_txn(txn, sqls[i]);

        if (r == NULL)
            return fpmd_reply_error(req, fpmd_call_http_status(
                fpmd_call_failed(req)), fpmd_call_error(
                    fpmd_call_failed(req)));
        json_object_array_add(codes, json_object_new_int((int) r->errcode));
        if (i == 0 && sleep_ms != NULL)
            fpmd_sleep(req, (uint64_t) atoi(sleep_ms));
    }
    if (end != NULL && strcmp(end, "commit") == 0)
        rc = fpmd_mysql_commit(txn);
    else if (end != NULL && strcmp(end, "rollback") == 0)
        rc = fpmd_mysql_rollback(txn);
    if (rc != FPMD_OK)
        return fpmd_reply_error(req, 502, "commit failed");
    return fpmd_reply_json(req, 200, out);
}

/* /t/mongo?pool=P&op=find|insert|update|delete|count|command&coll=C
 * [&filter=JSON][&doc=JSON][&projection=JSON][&sort=JSON][&limit=N]
 * [&many=1]: one mongo call; answers {"result": ...} or the server's
 * refusal {"refused": message, "code": N}, or the call's failure. */
static struct json_object *
json_arg(struct fpmd_req *req, const char *name)
{
    const char *v = fpmd_req_query_arg(req, name);
    struct json_object *o;

    if (v == NULL)
        return NULL;
    o = json_tokener_parse(v);
    if (o != NULL && fpmd_defer(req, obj_put, o) != FPMD_OK) {
        json_object_put(o);
        return NULL;
    }
    return o;
}

FPMD_ROUTE(t_mongo, "GET", "/t/mongo")
{
    static const char *const ops[] = {"find", "insert", "update", "delete",
                                      "count", "command"};
    const char *pool = fpmd_req_query_arg(req, "pool");
    const char *op = fpmd_req_query_arg(req, "op");
    const char *limit = fpmd_req_query_arg(req, "limit");
    const char *many = fpmd_req_query_arg(req, "many");
    struct fpmd_mongo_query q = {
        fpmd_req_query_arg(req, "coll"), json_arg(req, "filter"),
        json_arg(req, "doc"), json_arg(req, "projection"),
        json_arg(req, "sort"), limit ? atoll(limit) : 0, many != NULL,
    };
    struct json_object *out = json_object_new_object();
    struct fpmd_call *call;
    const char *refused;
    size_t i;
    int code = 0;

    if (out == NULL || fpmd_defer(req, obj_put, out) != FPMD_OK)
        return FPMD_ERROR;
    for (i = 0; i < FPMD_ARRAY_LEN(ops); i++) {
        if (op != NULL && strcmp(op, ops[i]) == 0)
            break;
    }
    if (i == FPMD_ARRAY_LEN(ops))
        return fpmd_reply_error(req, 400, "op=");
    call = fpmd_mongo_start(req, pool ? pool : "", (enum fpmd_mongo_op) i,
                            &q);
    if (call == NULL)
        return FPMD_ERROR;
    if (fpmd_await(req, call) != FPMD_OK) {
        json_object_object_add(out, "error", json_object_new_string(
            fpmd_call_error(call)));
        return fpmd_reply_json(req, fpmd_call_http_status(call), out);
    }
    refused = fpmd_mongo_error(call, &code);
    if (refused != NULL) {
        json_object_object_add(out, "refused",
                               json_object_new_string(refused));
        json_object_object_add(out, "code", json_object_new_int(code));
    } else {
        json_object_object_add(out, "result",
                               json_object_get(fpmd_mongo_result(call)));
    }
    return fpmd_reply_json(req, 200, out);
}

/* A cron entry's handler: pushes "TICK PID" to the Redis list cron:NAME
 * of pool cache, so a test counts the runs of each tick on the server;
 * FPMD_CRON_NAME "fail" answers 500 instead, "slow" takes 1.5 s first. */
FPMD_HANDLER(t_cron)
{
    const char *name = fpmd_req_param(req, "FPMD_CRON_NAME");
    const char *tick = fpmd_req_param(req, "FPMD_CRON_TICK");

    if (name == NULL || tick == NULL)
        return fpmd_reply_error(req, 400, "not a cron run");
    if (strcmp(name, "fail") == 0)
        return fpmd_reply_error(req, 500, "failing on purpose");
    if (strcmp(name, "slow") == 0)
        fpmd_sleep(req, 1500);
    if (fpmd_redis(req, "cache", "RPUSH cron:%s %s:%d", name, tick,
                   (int) getpid()) == NULL)
        return FPMD_ERROR;
    return fpmd_reply(req, 200, "text/plain", "ok\n", 3);
}

/* A user process: a reliable Redis queue consumer (README "User
 * processes"). Each item moves from "jobs" to "processing:I" in one step
 * (BLMOVE), is handed to the task t_record (tests/handlers/tasks.c: RPUSH
 * "done" ITEM) and awaited, then leaves processing:I; a
 * first call puts back on "jobs" what a killed predecessor left in
 * processing:I. The item "crash" kills the process (SIGKILL) after it
 * took it, before handling it. */
FPMD_PROCESS(t_consumer)
{
    const char *instance = fpmd_req_param(req, "FPMD_PROCESS_INSTANCE");
    const char *call = fpmd_req_param(req, "FPMD_PROCESS_CALL");
    const struct fpmd_redis_reply *r;
    struct fpmd_call *item;
    char processing[32];

    snprintf(processing, sizeof(processing), "processing:%s", instance);
    if (strcmp(call, "0") == 0) {
        do {
            r = fpmd_redis(req, "cache", "LMOVE %s jobs RIGHT LEFT",
                           processing);
        } while (r != NULL && r->type == FPMD_REDIS_STRING);
        if (r == NULL)
            return fpmd_req_aborted(req) ? FPMD_OK : FPMD_ERROR;
    }
    r = fpmd_redis(req, "cache", "BLMOVE jobs %s LEFT RIGHT 1", processing);
    if (r == NULL)
        return fpmd_req_aborted(req) ? FPMD_OK : FPMD_ERROR;
    if (r->type != FPMD_REDIS_STRING)
        return FPMD_OK;         /* a second without an item */
    if (strcmp(r->str, "crash") == 0) {
        /* the item stays in processing: the next process puts it back;
         * a crash is for once, so it goes back renamed */
        fpmd_redis(req, "cache", "LSET %s -1 crashed", processing);
        kill(getpid(), SIGKILL);
    }
    /* the work is a task's (t_record): the item leaves processing once
     * the task says it is done */
    item = fpmd_task_start(req, "t_record", r->str, r->len);
    if (item == NULL || fpmd_await(req, item) != FPMD_OK
        || fpmd_redis(req, "cache", "LREM %s 1 %s", processing, r->str)
               == NULL)
        return fpmd_req_aborted(req) ? FPMD_OK : FPMD_ERROR;
    return FPMD_OK;
}

/* A user process that fails at once, for the master's back-off. */
FPMD_PROCESS(t_failing)
{
    (void) req;
    return FPMD_ERROR;
}

/* A user process subscribed to "news.*" and "alerts" on pool cache: each
 * message goes to the list got:CHANNEL (README "User processes"). */
FPMD_PROCESS(t_subscriber)
{
    static struct fpmd_redis_sub *sub;
    const char *channel, *data;
    size_t len;
    int rc;

    if (sub == NULL && (sub = fpmd_redis_subscribe("cache",
                                                   "news.* alerts")) == NULL)
        return FPMD_ERROR;
    rc = fpmd_redis_sub_next(req, sub, 1000, &channel, &data, &len);
    if (rc == FPMD_AGAIN)
        return FPMD_OK;
    if (rc != FPMD_OK)
        return fpmd_req_aborted(req) ? FPMD_OK : FPMD_ERROR;
    if (fpmd_redis(req, "cache", "RPUSH got:%s %b", channel, data, len)
        == NULL)
        return fpmd_req_aborted(req) ? FPMD_OK : FPMD_ERROR;
    return FPMD_OK;
}
