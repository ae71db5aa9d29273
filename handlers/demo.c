/* SPDX-License-Identifier: BSD-2-Clause */
/* Demo and benchmark handlers: /hello, /json, /io-fast and /io-wait do the
 * work fixed by the benchmark contract, /probe echoes what fpmd received
 * so tests can compare what a web server sent with what a handler saw.
 * Only /hello and /json are routed by the embedded default config; the
 * others are conf/demo.yaml's. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "fpmd/fpmd.h"
#include "handlers/sha256.h"

FPMD_HANDLER(hello)
{
    static const char body[] = "hello world\n";

    return fpmd_reply(req, 200, "text/plain", body, sizeof(body) - 1);
}

static void
put_json(void *obj)
{
    json_object_put(obj);
}

/* Hands a json-c value to the request: released when the request ends. */
static json_object *
owned(struct fpmd_req *req, json_object *obj)
{
    if (obj != NULL && fpmd_defer(req, put_json, obj) != FPMD_OK) {
        json_object_put(obj);
        return NULL;
    }
    return obj;
}

static int
reply_json(struct fpmd_req *req, int status, json_object *obj)
{
    size_t len;
    const char *s = json_object_to_json_string_length(
        obj, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);

    return fpmd_reply(req, status, "application/json", s, len);
}

FPMD_HANDLER(json)
{
    json_object *list = owned(req, json_object_new_array_ext(10));

    if (list == NULL)
        return FPMD_ERROR;
    for (int n = 1; n <= 10; n++) {
        json_object *rec = json_object_new_object();
        json_object *tags = json_object_new_array_ext(2);
        char name[16];

        snprintf(name, sizeof(name), "item-%d", n);
        json_object_object_add(rec, "id", json_object_new_int(n));
        json_object_object_add(rec, "name", json_object_new_string(name));
        json_object_object_add(rec, "price", json_object_new_double(n * 1.25));
        json_object_object_add(rec, "active",
                               json_object_new_boolean(n % 2 == 0));
        json_object_array_add(tags, json_object_new_string("alpha"));
        json_object_array_add(tags, json_object_new_string("beta"));
        json_object_object_add(rec, "tags", tags);
        json_object_array_add(list, rec);
    }
    return reply_json(req, 200, list);
}

/* A failed backend call answers with its status and reason, as JSON. */
static int
backend_error(struct fpmd_req *req)
{
    const struct fpmd_call *c = fpmd_call_failed(req);

    return fpmd_reply_error_json(req, c ? fpmd_call_http_status(c) : 500,
                                 c ? fpmd_call_error(c) : "backend failed");
}

static json_object *
redis_value(const struct fpmd_redis_reply *r)
{
    return r != NULL && r->type == FPMD_REDIS_STRING
        ? json_object_new_string_len(r->str, (int) r->len) : NULL;
}

/* Three Redis GETs in one round trip and a primary-key SELECT, at once
 * (pools "cache" and "db"). */
FPMD_HANDLER(io_fast)
{
    struct fpmd_call *keys = fpmd_redis_new(req, "cache", 0);
    struct fpmd_call *item;
    const struct fpmd_mysql_result *r;
    json_object *out = owned(req, json_object_new_object()), *rows;

    if (keys == NULL || out == NULL)
        return FPMD_ERROR;
    fpmd_redis_add(keys, "GET bench:k1");
    fpmd_redis_add(keys, "GET bench:k2");
    fpmd_redis_add(keys, "GET bench:k3");
    fpmd_redis_send(keys);
    item = fpmd_mysql_start(req, "db", 0, "SELECT id, name, price, qty FROM "
                            "items WHERE id = 42", 0, NULL);
    if (item == NULL)
        return FPMD_ERROR;
    if (fpmd_await_all(req) != FPMD_OK)
        return backend_error(req);
    r = fpmd_mysql_result(item);
    if (r->errcode != 0)
        return fpmd_reply_error_json(req, 502, r->error);
    rows = fpmd_mysql_json(req, r);
    if (rows == NULL)
        return FPMD_ERROR;
    json_object_object_add(out, "k1", redis_value(fpmd_redis_reply(keys, 0)));
    json_object_object_add(out, "k2", redis_value(fpmd_redis_reply(keys, 1)));
    json_object_object_add(out, "k3", redis_value(fpmd_redis_reply(keys, 2)));
    json_object_object_add(out, "item", json_object_get(
        json_object_array_get_idx(rows, 0)));
    return reply_json(req, 200, out);
}

static json_object *
sleep_value(const struct fpmd_call *c)
{
    const struct fpmd_mysql_result *r = fpmd_mysql_result(c);

    return r != NULL && r->nrows == 1 && r->rows[0][0] != NULL
        ? json_object_new_int(atoi(r->rows[0][0])) : NULL;
}

/* Two SELECT SLEEP(0.01) and a 10 ms BLPOP, at once: the answer takes the
 * slowest of them, not their sum. */
FPMD_HANDLER(io_wait)
{
    struct fpmd_call *db1, *db2, *blpop;
    const struct fpmd_redis_reply *r;
    json_object *out = owned(req, json_object_new_object());

    if (out == NULL)
        return FPMD_ERROR;
    db1 = fpmd_mysql_start(req, "db", 0, "SELECT SLEEP(0.01)", 0, NULL);
    blpop = fpmd_redis_start(req, "cache", "BLPOP bench:empty 0.01");
    db2 = fpmd_mysql_start(req, "db", 0, "SELECT SLEEP(0.01)", 0, NULL);
    if (db1 == NULL || blpop == NULL || db2 == NULL)
        return FPMD_ERROR;
    if (fpmd_await_all(req) != FPMD_OK)
        return backend_error(req);
    r = fpmd_redis_reply(blpop, 0);
    json_object_object_add(out, "db1", sleep_value(db1));
    json_object_object_add(out, "redis", r != NULL && r->type
                           == FPMD_REDIS_ARRAY ? json_object_new_string(
                               r->element[1]->str) : NULL);
    json_object_object_add(out, "db2", sleep_value(db2));
    return reply_json(req, 200, out);
}

static int
arg_ull(struct fpmd_req *req, const char *name, unsigned long long max,
        unsigned long long *out)
{
    const char *v = fpmd_req_query_arg(req, name);
    char *end;

    if (v == NULL)
        return FPMD_DECLINED;
    *out = strtoull(v, &end, 10);
    if (v[0] == '\0' || v[0] == '-' || *end != '\0' || *out > max)
        return FPMD_ERROR;
    return FPMD_OK;
}

/* ?size=N: N bytes of a repeating alphabet, streamed so large answers
 * exercise backpressure without being held in memory. */
static int
reply_sized(struct fpmd_req *req, int status, unsigned long long size)
{
    char chunk[65536];

    for (size_t i = 0; i < sizeof(chunk); i++)
        chunk[i] = (char) ('a' + i % 26);
    if (fpmd_resp_status(req, status) != FPMD_OK
        || fpmd_resp_header(req, "Content-Type",
                            "application/octet-stream") != FPMD_OK)
        return FPMD_ERROR;
    if (size == 0)
        return fpmd_resp_write(req, NULL, 0);
    /* chunk length is a multiple of 26, so every chunk starts at 'a' */
    while (size > 0) {
        size_t n = size < 26 * 2520 ? (size_t) size : 26 * 2520;

        if (fpmd_resp_write(req, chunk, n) != FPMD_OK)
            return FPMD_ERROR;
        size -= n;
    }
    return FPMD_OK;
}

/* Bounds of the probe's knobs: enough for the tests' backpressure and
 * timeout cases, small enough that one request cannot keep a worker busy
 * for long (README, "Built-in routes"). */
#define PROBE_SIZE_MAX (64ULL << 20)
#define PROBE_SLEEP_MS_MAX 60000ULL

FPMD_HANDLER(probe)
{
    unsigned long long status = 200, size = 0, sleep_ms = 0;
    struct fpmd_sha256 sha;
    char digest[65], buf[16384];
    uint64_t body_len = 0;
    json_object *obj, *params, *headers;
    int has_size;
    ssize_t n;

    if (arg_ull(req, "status", 999, &status) == FPMD_ERROR || status < 200
        || arg_ull(req, "sleep_ms", PROBE_SLEEP_MS_MAX, &sleep_ms)
               == FPMD_ERROR
        || (has_size = arg_ull(req, "size", PROBE_SIZE_MAX, &size))
               == FPMD_ERROR)
        return fpmd_reply_error(req, 400, "status 200..999, size 0..67108864 "
                                "and sleep_ms 0..60000 must be integers");
    fpmd_sha256_init(&sha);
    while ((n = fpmd_req_body_read(req, buf, sizeof(buf))) > 0) {
        fpmd_sha256_update(&sha, buf, (size_t) n);
        body_len += (uint64_t) n;
    }
    if (n < 0)
        return FPMD_ERROR;
    fpmd_sha256_hex(&sha, digest);
    if (sleep_ms > 0 && fpmd_sleep(req, sleep_ms) != FPMD_OK)
        return FPMD_ERROR;
    if (has_size == FPMD_OK)
        return reply_sized(req, (int) status, size);

    obj = owned(req, json_object_new_object());
    if (obj == NULL)
        return FPMD_ERROR;
    params = json_object_new_object();
    headers = json_object_new_object();
    json_object_object_add(obj, "method",
                           json_object_new_string(fpmd_req_method(req)));
    json_object_object_add(obj, "uri", json_object_new_string(fpmd_req_uri(req)));
    json_object_object_add(obj, "path",
                           json_object_new_string(fpmd_req_path(req)));
    json_object_object_add(obj, "query",
                           json_object_new_string(fpmd_req_query(req)));
    for (size_t i = 0; i < fpmd_req_nparams(req); i++) {
        const char *name, *value;

        fpmd_req_param_at(req, i, &name, &value);
        json_object_object_add(params, name, json_object_new_string(value));
        if (strncmp(name, "HTTP_", 5) == 0)
            json_object_object_add(headers, name + 5,
                                   json_object_new_string(value));
    }
    json_object_object_add(obj, "params", params);
    json_object_object_add(obj, "headers", headers);
    json_object_object_add(obj, "body_length",
                           json_object_new_int64((int64_t) body_len));
    json_object_object_add(obj, "body_sha256", json_object_new_string(digest));
    return reply_json(req, (int) status, obj);
}

/* GET /timer-lateness?every=MS&runs=N (conf/demo.yaml): a timer of this
 * worker every MS milliseconds (1..1000, 10), N runs (1..10000, 500),
 * each late by how much after its planned time (the first run's plus k
 * times MS); answers the lateness quantiles in microseconds. The benchmark
 * reads it while the worker serves a load. */
#define LATENESS_RUNS_MAX 10000ULL

struct lateness {
    struct timespec start;
    uint64_t every_us;
    uint64_t first_us;
    size_t runs, seen;
    uint64_t *late_us;
};

static uint64_t
since_us(const struct timespec *t0)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t) ((int64_t) (t.tv_sec - t0->tv_sec) * 1000000
                       + (t.tv_nsec - t0->tv_nsec) / 1000);
}

static int
on_lateness_tick(struct fpmd_req *req, void *arg)
{
    struct lateness *l = arg;
    uint64_t planned, now = since_us(&l->start);

    (void) req;
    if (l->seen == l->runs)
        return FPMD_OK;
    /* from the first run: libevent plans the first from its cached loop
     * time, which a busy loop has behind the clock */
    if (l->seen == 0)
        l->first_us = now;
    planned = l->first_us + l->seen * l->every_us;
    l->late_us[l->seen++] = now > planned ? now - planned : 0;
    return FPMD_OK;
}

static int
cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;

    return x < y ? -1 : x > y;
}

static void
free_ptr(void *p)
{
    free(p);
}

FPMD_HANDLER(timer_lateness)
{
    unsigned long long every = 10, runs = 500;
    struct lateness *l;
    uint64_t id;
    char out[160];

    if (arg_ull(req, "every", 1000, &every) == FPMD_ERROR || every == 0
        || arg_ull(req, "runs", LATENESS_RUNS_MAX, &runs) == FPMD_ERROR
        || runs == 0)
        return fpmd_reply_error(req, 400, "every 1..1000 and runs "
                                "1..10000 must be integers");
    /* the timer's runs read it: outside the request's arena, freed at
     * its end, after the timer is cancelled */
    l = calloc(1, sizeof(*l));
    if (l == NULL || fpmd_defer(req, free_ptr, l) != FPMD_OK) {
        free(l);
        return FPMD_ERROR;
    }
    l->late_us = fpmd_alloc(req, runs * sizeof(*l->late_us));
    if (l->late_us == NULL)
        return FPMD_ERROR;
    l->every_us = every * 1000;
    l->runs = runs;
    clock_gettime(CLOCK_MONOTONIC, &l->start);
    id = fpmd_timer_every(every, on_lateness_tick, l);
    if (id == 0)
        return FPMD_ERROR;
    while (l->seen < l->runs) {
        if (fpmd_sleep(req, every) != FPMD_OK) {
            fpmd_timer_cancel(id);
            return FPMD_ERROR;
        }
    }
    fpmd_timer_cancel(id);
    qsort(l->late_us, runs, sizeof(*l->late_us), cmp_u64);
    snprintf(out, sizeof(out), "{\"runs\": %llu, \"every_ms\": %llu, "
             "\"p50_us\": %llu, \"p99_us\": %llu, \"max_us\": %llu}\n",
             runs, every, (unsigned long long) l->late_us[runs / 2],
             (unsigned long long) l->late_us[runs * 99 / 100],
             (unsigned long long) l->late_us[runs - 1]);
    return fpmd_reply(req, 200, "application/json", out, strlen(out));
}

/* A task that answers its input: the round trip's own cost, measured by
 * /task-echo. */
FPMD_TASK(echo)
{
    size_t len;
    const void *in = fpmd_task_input(req, &len);

    return fpmd_task_return(req, in, len);
}

/* GET /task-echo?runs=R&n=N&size=S (tests/bench/tasks.py, with tasks: in
 * the config): R rounds (1..100000, 1), each starting N echo tasks of S
 * bytes (1..256, 1; 0..65536, 64) and awaiting them all; answers each
 * round's time quantiles in microseconds. */
#define TASK_ECHO_RUNS_MAX 100000ULL

FPMD_HANDLER(task_echo)
{
    unsigned long long runs = 1, n = 1, size = 64;
    struct fpmd_call *calls[256];
    uint64_t *took;
    char *data, out[192];
    struct timespec t0;

    if (arg_ull(req, "runs", TASK_ECHO_RUNS_MAX, &runs) == FPMD_ERROR
        || runs == 0 || arg_ull(req, "n", 256, &n) == FPMD_ERROR || n == 0
        || arg_ull(req, "size", 65536, &size) == FPMD_ERROR)
        return fpmd_reply_error(req, 400, "runs 1..100000, n 1..256 and "
                                "size 0..65536 must be integers");
    took = fpmd_alloc(req, runs * sizeof(*took));
    data = fpmd_alloc(req, size + 1);
    if (took == NULL || data == NULL)
        return FPMD_ERROR;
    memset(data, 'x', size);
    for (unsigned long long r = 0; r < runs; r++) {
        clock_gettime(CLOCK_MONOTONIC, &t0);
        for (unsigned long long i = 0; i < n; i++) {
            calls[i] = fpmd_task_start(req, "echo", data, size);
            if (calls[i] == NULL)
                return FPMD_ERROR;
        }
        /* each awaited by itself: the request's list of calls grows with
         * every round */
        for (unsigned long long i = 0; i < n; i++) {
            if (fpmd_await(req, calls[i]) != FPMD_OK)
                return fpmd_reply_error(req,
                                        fpmd_call_http_status(calls[i]),
                                        fpmd_call_error(calls[i]));
        }
        took[r] = since_us(&t0);
    }
    qsort(took, runs, sizeof(*took), cmp_u64);
    snprintf(out, sizeof(out), "{\"runs\": %llu, \"n\": %llu, \"size\": "
             "%llu, \"p50_us\": %llu, \"p99_us\": %llu, \"max_us\": %llu}\n",
             runs, n, size, (unsigned long long) took[runs / 2],
             (unsigned long long) took[runs * 99 / 100],
             (unsigned long long) took[runs - 1]);
    return fpmd_reply(req, 200, "application/json", out, strlen(out));
}

/* GET /fanout (tests/bench/fanout.py, with an upstream "fanout" in the
 * config): three calls to the upstream's /probe?sleep_ms=10 at once,
 * awaited together; answers their statuses and body sizes. */
FPMD_HANDLER(fanout)
{
    static const struct fpmd_http_request r = {
        .upstream = "fanout", .url = "/probe?sleep_ms=10"};
    struct fpmd_call *calls[3];
    char out[128];
    int n;

    for (size_t i = 0; i < 3; i++) {
        calls[i] = fpmd_http_start(req, &r);
        if (calls[i] == NULL)
            return FPMD_ERROR;
    }
    if (fpmd_await_all(req) != FPMD_OK)
        return fpmd_reply_error(req, fpmd_call_http_status(
                                    fpmd_call_failed(req)), NULL);
    n = snprintf(out, sizeof(out), "{\"a\":%zu,\"b\":%zu,\"c\":%zu}\n",
                 fpmd_http_response(calls[0])->body_len,
                 fpmd_http_response(calls[1])->body_len,
                 fpmd_http_response(calls[2])->body_len);
    return fpmd_reply(req, 200, "application/json", out, (size_t) n);
}

/* JSON-RPC demo.add [a, b] (tests/bench/jsonrpc.py, on a route with
 * handler: jsonrpc): a + b. */
FPMD_RPC(demo_add, "demo.add")
{
    if (params == NULL || !json_object_is_type(params, json_type_array)
        || json_object_array_length(params) != 2)
        return fpmd_rpc_error(req, -32602, "demo.add takes [a, b]");
    *result = json_object_new_int64(
        json_object_get_int64(json_object_array_get_idx(params, 0))
        + json_object_get_int64(json_object_array_get_idx(params, 1)));
    return FPMD_OK;
}
