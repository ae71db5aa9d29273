/* SPDX-License-Identifier: BSD-2-Clause */
/* Handlers and hooks that exercise the handler API end to end for the
 * integration tests (linked into tests/fpmd-test only): route params,
 * query, headers, cookies, form and JSON bodies, redirects, JSON errors,
 * and the order hooks run in. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "fpmd/fpmd.h"

static unsigned long after_runs;

static void
add_str(struct json_object *o, const char *k, const char *v)
{
    json_object_object_add(o, k, v ? json_object_new_string(v) : NULL);
}

static void
obj_put(void *o)
{
    json_object_put(o);
}

static struct json_object *
new_obj(struct fpmd_req *req)
{
    struct json_object *o = json_object_new_object();

    if (o != NULL && fpmd_defer(req, obj_put, o) != FPMD_OK) {
        json_object_put(o);
        return NULL;
    }
    return o;
}

/* Outermost layer: a trail every later hook appends to. */
FPMD_HOOK(api_trail, FPMD_HOOK_BEFORE, 5)
{
    return fpmd_req_set(req, "trail", (void *) "trail");
}

FPMD_HOOK(api_auth, FPMD_HOOK_BEFORE, 10)
{
    const char *user = fpmd_req_header(req, "X-User");

    if (fpmd_req_header(req, "X-Deny") != NULL) {
        fpmd_reply_error_json(req, 401, "denied by api_auth");
        return FPMD_DONE;
    }
    if (fpmd_req_get(req, "trail") == NULL)
        return FPMD_ERROR;     /* api_trail must have run first */
    return user ? fpmd_req_set(req, "user", (void *) user) : FPMD_OK;
}

FPMD_HOOK(api_json_errors, FPMD_HOOK_ERROR, 10)
{
    const char *path = fpmd_req_path(req);

    if (strncmp(path, "/api/", 5) == 0)
        fpmd_reply_error_json(req, 500, "handler failed");
    return FPMD_OK;
}

FPMD_HOOK(api_count, FPMD_HOOK_AFTER, 10)
{
    (void) req;
    after_runs++;
    return FPMD_OK;
}

FPMD_ROUTE(api_user, "GET", "/api/users/{id}")
{
    struct json_object *o = new_obj(req);
    const char *v;
    char joined[512] = "";
    size_t pos = 0, off = 0;

    if (o == NULL)
        return FPMD_ERROR;
    add_str(o, "id", fpmd_req_route_param(req, "id"));
    add_str(o, "handler", fpmd_req_handler(req));
    add_str(o, "q", fpmd_req_query_arg(req, "q"));
    add_str(o, "sid", fpmd_req_cookie(req, "sid"));
    add_str(o, "user", fpmd_req_get(req, "user"));
    while ((v = fpmd_req_header_next(req, "X-Multi", &pos)) != NULL
           && off < sizeof(joined))
        off += (size_t) snprintf(joined + off, sizeof(joined) - off, "%s%s",
                                 off ? "|" : "", v);
    add_str(o, "multi", joined);
    json_object_object_add(o, "nquery",
                           json_object_new_int((int) fpmd_req_nquery_args(req)));
    return fpmd_reply_json(req, 200, o);
}

FPMD_ROUTE(api_files, "GET", "/api/files/*")
{
    return fpmd_reply(req, 200, "text/plain", fpmd_req_route_param(req, "*"),
                      strlen(fpmd_req_route_param(req, "*")));
}

FPMD_ROUTE(api_form, "POST", "/api/form")
{
    struct json_object *o = new_obj(req);
    const char *name, *value;
    int status;

    if (fpmd_req_form_parse(req, &status) != FPMD_OK)
        return fpmd_reply_error_json(req, status, "form");
    if (o == NULL)
        return FPMD_ERROR;
    for (size_t i = 0; fpmd_req_form_at(req, i, &name, &value) == FPMD_OK;
         i++)
        add_str(o, name, value);
    return fpmd_reply_json(req, 200, o);
}

FPMD_ROUTE(api_json, "POST", "/api/json")
{
    int status;
    struct json_object *in = fpmd_req_json(req, &status);
    struct json_object *o = new_obj(req);

    if (in == NULL)
        return fpmd_reply_error_json(req, status, "json");
    if (o == NULL)
        return FPMD_ERROR;
    json_object_object_add(o, "echo", json_object_get(in));
    json_object_object_add(o, "type", json_object_new_string(
                               json_type_to_name(json_object_get_type(in))));
    return fpmd_reply_json(req, 200, o);
}

FPMD_ROUTE(api_redirect, "GET", "/api/redirect")
{
    return fpmd_redirect(req, 302, "/api/users/1");
}

FPMD_ROUTE(api_fail, "GET", "/api/fail")
{
    (void) req;
    return FPMD_ERROR;
}

FPMD_ROUTE(api_hooks, "GET", "/api/hooks")
{
    char body[64];
    int n = snprintf(body, sizeof(body), "%lu\n", after_runs);

    return fpmd_reply(req, 200, "text/plain", body, (size_t) n);
}

FPMD_ROUTE(api_split, "GET", "/api/split")
{
    /* a handler trying to split the response: refused, then a 500 */
    if (fpmd_resp_header(req, "X-Evil", "a\r\nSet-Cookie: x=1") == FPMD_OK)
        return fpmd_reply(req, 200, "text/plain", "split\n", 6);
    return FPMD_ERROR;
}

/* Shared tables: /t/table?t=NAME&key=K&op=incr|get|set|del[&n=N][&v=V]
 * on column "hits" (incr adds 1, n times, one call each). Answers the
 * value and this worker's pid as JSON; a table's refusal as 404 (no
 * row), 507 (full) or 400, with fpmd_table_strerror's text. */
FPMD_ROUTE(t_table, "GET", "/t/table")
{
    const char *name = fpmd_req_query_arg(req, "t");
    const char *key = fpmd_req_query_arg(req, "key");
    const char *op = fpmd_req_query_arg(req, "op");
    const char *n = fpmd_req_query_arg(req, "n");
    const char *v = fpmd_req_query_arg(req, "v");
    struct fpmd_table *t = name ? fpmd_table(name) : NULL;
    int col, rc = FPMD_OK;
    int64_t value = 0;
    char out[64];

    if (t == NULL || key == NULL || op == NULL)
        return fpmd_reply_error(req, 400, "t, key and op, of a table");
    col = fpmd_table_column(t, "hits");
    if (strcmp(op, "incr") == 0) {
        for (long i = n ? atol(n) : 1; i > 0 && rc == FPMD_OK; i--)
            rc = fpmd_table_incr(t, key, strlen(key), col, 1, &value);
    } else if (strcmp(op, "get") == 0) {
        rc = fpmd_table_get_int(t, key, strlen(key), col, &value);
    } else if (strcmp(op, "set") == 0) {
        value = v ? atoll(v) : 0;
        rc = fpmd_table_set_int(t, key, strlen(key), col, value);
    } else if (strcmp(op, "del") == 0) {
        rc = fpmd_table_delete(t, key, strlen(key));
    } else {
        return fpmd_reply_error(req, 400, "op: incr, get, set or del");
    }
    if (rc != FPMD_OK)
        return fpmd_reply_error(req, rc == FPMD_TABLE_NOT_FOUND ? 404
                                     : rc == FPMD_TABLE_FULL ? 507 : 400,
                                fpmd_table_strerror(rc));
    snprintf(out, sizeof(out), "{\"value\": %lld, \"pid\": %d}\n",
             (long long) value, (int) getpid());
    return fpmd_reply(req, 200, "application/json", out, strlen(out));
}

/* A user process adding 200 to counters:k's hits in each of its first 25
 * calls, then waiting: 5,000 in all from it, beside the workers'. */
FPMD_PROCESS(t_table_hammer)
{
    struct fpmd_table *t = fpmd_table("counters");
    int64_t v;

    if (t == NULL)
        return FPMD_ERROR;
    if (atol(fpmd_req_param(req, "FPMD_PROCESS_CALL")) >= 25)
        return fpmd_sleep(req, 1000) == FPMD_OK || fpmd_req_aborted(req)
            ? FPMD_OK : FPMD_ERROR;
    for (int i = 0; i < 200; i++) {
        if (fpmd_table_incr(t, "k", 1, fpmd_table_column(t, "hits"), 1, &v)
            != FPMD_OK)
            return FPMD_ERROR;
    }
    return FPMD_OK;
}

/* Timers, counted in the shared table "timers" (column "hits") when the
 * config has one: FPMD_TIMER t_tick adds 1 to "tick:PID" every 100 ms in
 * each worker; /t/timer?op=after|every&ms=N&key=K starts a timer of this
 * worker that adds 1 to K at each run and answers its id;
 * /t/timer?op=cancel&id=ID answers whether fpmd_timer_cancel found it. */
static int
count_run(struct fpmd_req *req, const char *key)
{
    struct fpmd_table *t = fpmd_table("timers");

    (void) req;
    if (t == NULL)
        return FPMD_OK;
    return fpmd_table_incr(t, key, strlen(key), fpmd_table_column(t, "hits"),
                           1, NULL);
}

FPMD_TIMER(t_tick, 100)
{
    char key[32];

    snprintf(key, sizeof(key), "tick:%d", (int) getpid());
    return count_run(req, key);
}

static int
on_test_timer(struct fpmd_req *req, void *arg)
{
    return count_run(req, arg);
}

FPMD_ROUTE(t_timer, "GET", "/t/timer")
{
    const char *op = fpmd_req_query_arg(req, "op");
    const char *ms = fpmd_req_query_arg(req, "ms");
    const char *key = fpmd_req_query_arg(req, "key");
    const char *id = fpmd_req_query_arg(req, "id");
    char out[64], *k;
    uint64_t made;

    if (op != NULL && strcmp(op, "cancel") == 0 && id != NULL) {
        snprintf(out, sizeof(out), "{\"cancelled\": %s}\n",
                 fpmd_timer_cancel(strtoull(id, NULL, 10)) ? "true"
                                                           : "false");
        return fpmd_reply(req, 200, "application/json", out, strlen(out));
    }
    if (op == NULL || ms == NULL || key == NULL)
        return fpmd_reply_error(req, 400, "op, ms and key");
    /* the timer outlives the request: its key too (a test's few) */
    k = strdup(key);
    if (k == NULL)
        return FPMD_ERROR;
    made = strcmp(op, "every") == 0
        ? fpmd_timer_every(strtoull(ms, NULL, 10), on_test_timer, k)
        : fpmd_timer_after(strtoull(ms, NULL, 10), on_test_timer, k);
    if (made == 0) {
        free(k);
        return fpmd_reply_error(req, 500, "no timer");
    }
    snprintf(out, sizeof(out), "{\"id\": %llu, \"pid\": %d}\n",
             (unsigned long long) made, (int) getpid());
    return fpmd_reply(req, 200, "application/json", out, strlen(out));
}
