/* SPDX-License-Identifier: BSD-2-Clause */
/* The handler API: the one header a handler includes. A handler runs in its
 * own coroutine on a worker's event loop; calls marked "suspends" park that
 * coroutine until their event arrives while the worker serves others. The
 * request and everything allocated from it live until the handler returns
 * and its response is written; nothing of it survives into the next
 * request. Handlers never learn which protocol carried the request. */
#ifndef FPMD_FPMD_H
#define FPMD_FPMD_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "fpmd/common.h"

/* The handler ABI's version: bumped whenever a change to this header
 * breaks a module built against the one before (a struct's layout, a
 * call's arguments or meaning). fpmd refuses to load a module built for
 * another version. */
#define FPMD_API_VERSION 1

/* The version a module was built for, which fpmd reads when it loads the
 * module. Every file that includes this header defines it, weak so that
 * a module of many files holds one copy: a module records it without
 * declaring anything. Not for handlers to use. */
extern const int fpmd_module_api_version;
__attribute__((weak, visibility("default")))
const int fpmd_module_api_version = FPMD_API_VERSION;

struct fpmd_req;
struct json_object;

/* Returns FPMD_OK when it answered (or FPMD_ERROR: the request gets a 500
 * if nothing was sent yet, else the response is cut short). */
typedef int (*fpmd_handler_fn)(struct fpmd_req *req);

struct fpmd_handler_def {
    const char *name;       /* referenced by config routes: handler: NAME */
    const char *methods;    /* "GET,POST", "*" any; NULL: no route of its own */
    const char *path;       /* default route, NULL: only config routes */
    fpmd_handler_fn fn;
    const char *file;
    int line;
};

/* Registration runs before main() for built-in handlers and at dlopen()
 * for handler modules, so a handler file needs no central list; the router
 * sorts them and refuses duplicates naming both file:line. Not for direct
 * use: the macros below call it. */
void fpmd_handler_register(const struct fpmd_handler_def *def);

#define FPMD_REGISTER_(name_, methods_, path_)                               \
    static int fpmd_handler_##name_(struct fpmd_req *req);                   \
    static const struct fpmd_handler_def fpmd_def_##name_ = {                \
        #name_, methods_, path_, fpmd_handler_##name_, __FILE__, __LINE__};  \
    __attribute__((constructor)) static void fpmd_reg_##name_(void)          \
    {                                                                        \
        fpmd_handler_register(&fpmd_def_##name_);                            \
    }                                                                        \
    static int fpmd_handler_##name_(struct fpmd_req *req)

/* A handler with its own route: FPMD_ROUTE(user_get, "GET", "/users") { }. */
#define FPMD_ROUTE(name_, methods_, path_) FPMD_REGISTER_(name_, methods_, path_)

/* A handler the config routes to by name (handler: NAME). */
#define FPMD_HANDLER(name_) FPMD_REGISTER_(name_, NULL, NULL)

/* --- timers ----------------------------------------------------------- */

/* A worker's own timers: each run is a background request of its own (a
 * coroutine, so it may call pools and await), outside the access log,
 * run even at pm.max_concurrency; what it answers goes nowhere, and an
 * error return or a status of 500 or more is logged. A worker that is
 * finishing starts no run. One process per timer and worker: for a run
 * in one process of the pool, a cron: entry (README "Cron"). */
typedef int (*fpmd_timer_fn)(struct fpmd_req *req, void *arg);

/* Runs fn(req, arg) once, ms milliseconds from now. Returns the timer's
 * id for fpmd_timer_cancel, 0 when memory is out. */
uint64_t fpmd_timer_after(uint64_t ms, fpmd_timer_fn fn, void *arg);
/* Runs fn(req, arg) every ms milliseconds (at least 1) until cancelled;
 * a tick that comes while its last run still runs is skipped. */
uint64_t fpmd_timer_every(uint64_t ms, fpmd_timer_fn fn, void *arg);
/* No run of timer id starts after this (one running goes on to its
 * end). true when it was there to cancel, false when it ran already (a
 * one-shot), was cancelled before, or never was. */
bool fpmd_timer_cancel(uint64_t id);

struct fpmd_timer_def {
    const char *name;
    uint64_t interval_ms;
    int (*fn)(struct fpmd_req *req);
    const char *file;
    int line;
};

/* Registration, from FPMD_TIMER's constructor (built-in files and
 * modules alike); the def stays the caller's. */
void fpmd_timer_register(const struct fpmd_timer_def *def);

/* A timer every worker runs every interval_ms_ milliseconds from its
 * start, with FPMD_TIMER_NAME set to its name:
 * FPMD_TIMER(flush_stats, 1000) { ...; return FPMD_OK; } */
#define FPMD_TIMER(name_, interval_ms_)                                      \
    static int fpmd_timer_##name_(struct fpmd_req *req);                     \
    static const struct fpmd_timer_def fpmd_timer_def_##name_ = {            \
        #name_, interval_ms_, fpmd_timer_##name_, __FILE__, __LINE__};       \
    __attribute__((constructor)) static void fpmd_timer_reg_##name_(void)    \
    {                                                                        \
        fpmd_timer_register(&fpmd_timer_def_##name_);                        \
    }                                                                        \
    static int fpmd_timer_##name_(struct fpmd_req *req)

/* --- user processes --------------------------------------------------- */

/* Long-running code beside the workers (a queue consumer, a subscriber),
 * in processes of its own that the master supervises (processes: in the
 * config, README "User processes"). The code is a loop body: each call
 * is a background request of its own, in a coroutine on the process's
 * own loop (it calls pools and awaits as a handler does, and its memory
 * goes when it returns, so a process can run for months); FPMD_OK has it
 * called again at once, anything else ends the process, which the master
 * starts again after a back-off. Told to stop (a reload, QUIT, TERM), the
 * call running is aborted: fpmd_sleep and pool calls fail at once and
 * fpmd_req_aborted says so; no call follows and the process exits.
 * Params: REQUEST_METHOD PROCESS, FPMD_PROCESS_NAME,
 * FPMD_PROCESS_INSTANCE (0 to count - 1) and FPMD_PROCESS_CALL (0 for the
 * first call in this process: the place to take back what a killed
 * predecessor left half done). */
struct fpmd_process_def {
    const char *name;
    int (*fn)(struct fpmd_req *req);
    const char *file;
    int line;
};

/* Registration, from FPMD_PROCESS's constructor; def stays the caller's. */
void fpmd_process_register(const struct fpmd_process_def *def);

/* FPMD_PROCESS(consumer) { ...one item...; return FPMD_OK; } */
#define FPMD_PROCESS(name_)                                                  \
    static int fpmd_process_##name_(struct fpmd_req *req);                   \
    static const struct fpmd_process_def fpmd_process_def_##name_ = {        \
        #name_, fpmd_process_##name_, __FILE__, __LINE__};                   \
    __attribute__((constructor)) static void fpmd_process_reg_##name_(void)  \
    {                                                                        \
        fpmd_process_register(&fpmd_process_def_##name_);                    \
    }                                                                        \
    static int fpmd_process_##name_(struct fpmd_req *req)

/* --- tasks ------------------------------------------------------------ */

/* Work a handler hands to the task processes (tasks: in the config,
 * README "Tasks"): code that may block (a blocking library, CPU work)
 * without stopping a worker's loop. A task takes bytes (or JSON) and
 * returns bytes (or JSON); each run is a background request of its own in
 * a task process, one at a time per process, so it may also call pools
 * and await as a handler does. FPMD_OK is a result, anything else a
 * failure the caller sees as FPMD_CALL_FAILED. Params: REQUEST_METHOD
 * TASK, FPMD_TASK_NAME. */
struct fpmd_task_def {
    const char *name;           /* 1 to 64 of [A-Za-z0-9_.-] */
    int (*fn)(struct fpmd_req *req);
    const char *file;
    int line;
};

/* Registration, from FPMD_TASK's constructor; def stays the caller's. */
void fpmd_task_register(const struct fpmd_task_def *def);

/* FPMD_TASK(resize) { ...fpmd_task_input...; return fpmd_task_return(...); } */
#define FPMD_TASK(name_)                                                     \
    static int fpmd_task_##name_(struct fpmd_req *req);                      \
    static const struct fpmd_task_def fpmd_task_def_##name_ = {              \
        #name_, fpmd_task_##name_, __FILE__, __LINE__};                      \
    __attribute__((constructor)) static void fpmd_task_reg_##name_(void)     \
    {                                                                        \
        fpmd_task_register(&fpmd_task_def_##name_);                          \
    }                                                                        \
    static int fpmd_task_##name_(struct fpmd_req *req)

/* In a task: its input (len bytes; NULL outside a task). */
const void *fpmd_task_input(struct fpmd_req *req, size_t *len);
/* Its input as JSON, parsed on first use within limits.json_depth and
 * owned by the request; NULL when it is not JSON. */
struct json_object *fpmd_task_input_json(struct fpmd_req *req);
/* Sets the task's result (copied; a later call replaces it) and returns
 * FPMD_OK, or FPMD_ERROR when it is longer than tasks.max_payload or
 * memory is out. */
int fpmd_task_return(struct fpmd_req *req, const void *data, size_t len);
/* obj serialized (compact) as the result; obj stays the caller's. */
int fpmd_task_return_json(struct fpmd_req *req, struct json_object *obj);

/* From a handler, a timer, a cron run or a user process: queues task
 * name with len bytes of input and returns its call, awaited like a pool
 * call (fpmd_await, fpmd_await_all with Redis and MySQL calls). It fails
 * with FPMD_CALL_EXHAUSTED when tasks.queue tasks wait already (503),
 * FPMD_CALL_TIMEOUT when no result came within tasks.timeout of the
 * start (504), FPMD_CALL_FAILED when the task failed or its process died
 * running it (502), FPMD_CALL_DOWN without task processes (503) and
 * FPMD_CALL_INVALID for an unknown task or an input over
 * tasks.max_payload (500). A task awaits no task (it may post one). NULL
 * when memory is out. */
struct fpmd_call *fpmd_task_start(struct fpmd_req *req, const char *name,
                                  const void *data, size_t len);
/* arg serialized (compact) as the input; arg stays the caller's. */
struct fpmd_call *fpmd_task_start_json(struct fpmd_req *req, const char *name,
                                       struct json_object *arg);
/* The result of a call done with FPMD_CALL_OK (len bytes, in the
 * caller's request memory, NUL-terminated past len); NULL otherwise. */
const void *fpmd_task_result(const struct fpmd_call *call, size_t *len);
/* The result as JSON, parsed on first use and owned by the request; NULL
 * when the call failed or the result is not JSON. */
struct json_object *fpmd_task_result_json(struct fpmd_call *call);
/* Fire and forget: queues task name and returns FPMD_OK, or FPMD_AGAIN
 * when the queue is full, FPMD_ERROR for an unknown task, an input over
 * tasks.max_payload or no task processes (each logged). A queued task is
 * run even if its poster is gone; its failure is logged and counted. */
int fpmd_task_post(const char *name, const void *data, size_t len);
int fpmd_task_post_json(const char *name, struct json_object *arg);

/* --- hooks ------------------------------------------------------------ */

/* Hooks wrap every request a worker answers (routed or not) for
 * cross-cutting work: request ids, timing, auth. Before hooks run in
 * ascending priority, then the handler; on-error hooks and after hooks
 * run in descending priority, so the first before hook is the outermost
 * layer. Ties run in name order. A hook runs in the request's coroutine
 * and may suspend like a handler. */
enum fpmd_hook_kind {
    /* FPMD_OK: go on; FPMD_DONE: the hook answered, skip the handler (and
     * later before hooks); FPMD_ERROR: take the error path. */
    FPMD_HOOK_BEFORE,
    /* After the handler or a before hook failed (FPMD_ERROR): may answer
     * while fpmd_resp_started() is 0; a 500 goes out if none does. The
     * return value is ignored. */
    FPMD_HOOK_ERROR,
    /* Last, whatever happened: logging, metrics. The return value is
     * ignored; the head may already be out. */
    FPMD_HOOK_AFTER,
};

typedef int (*fpmd_hook_fn)(struct fpmd_req *req);

struct fpmd_hook_def {
    const char *name;
    enum fpmd_hook_kind kind;
    int priority;
    fpmd_hook_fn fn;
    const char *file;
    int line;
};

/* Called by FPMD_HOOK's constructor; not for direct use. */
void fpmd_hook_register(const struct fpmd_hook_def *def);

/* FPMD_HOOK(request_id, FPMD_HOOK_BEFORE, 10) { ...; return FPMD_OK; } */
#define FPMD_HOOK(name_, kind_, priority_)                                   \
    static int fpmd_hook_##name_(struct fpmd_req *req);                      \
    static const struct fpmd_hook_def fpmd_hookdef_##name_ = {               \
        #name_, kind_, priority_, fpmd_hook_##name_, __FILE__, __LINE__};    \
    __attribute__((constructor)) static void fpmd_hookreg_##name_(void)      \
    {                                                                        \
        fpmd_hook_register(&fpmd_hookdef_##name_);                           \
    }                                                                        \
    static int fpmd_hook_##name_(struct fpmd_req *req)

/* --- the request ------------------------------------------------------ */

/* Strings below are owned by the request, NUL-terminated, never NULL
 * unless stated, valid until the handler returns. */
const char *fpmd_req_method(const struct fpmd_req *req);
/* The path the router matched (see README "Routing"), without query. */
const char *fpmd_req_path(const struct fpmd_req *req);
/* The script the request names ("/api/user.php") and what follows it
 * (PATH_INFO, NULL when nothing does): from SCRIPT_NAME, SCRIPT_FILENAME
 * under DOCUMENT_ROOT, or the path (README "Shims"). */
const char *fpmd_req_script(struct fpmd_req *req);
const char *fpmd_req_path_info(struct fpmd_req *req);
/* REQUEST_URI as the client sent it, query included. */
const char *fpmd_req_uri(const struct fpmd_req *req);
/* Raw query string, "" when there is none. */
const char *fpmd_req_query(const struct fpmd_req *req);
/* First value of a query argument, percent-decoded; NULL when absent. */
const char *fpmd_req_query_arg(struct fpmd_req *req, const char *name);
/* A CGI-style param (REMOTE_ADDR, SCRIPT_FILENAME...); NULL when absent. */
const char *fpmd_req_param(const struct fpmd_req *req, const char *name);
/* Iterates params in arrival order: index 0..n-1; FPMD_ERROR past the end. */
size_t fpmd_req_nparams(const struct fpmd_req *req);
int fpmd_req_param_at(const struct fpmd_req *req, size_t i,
                      const char **name, const char **value);
/* A request header by name, case-insensitive ("Content-Type"); NULL when
 * absent. */
const char *fpmd_req_header(struct fpmd_req *req, const char *name);
/* Each value of a header that may repeat: *pos starts at 0; NULL after
 * the last. fpmd's HTTP listener, like nginx since 1.23, joins repeats
 * into one value (", ", and "; " for Cookie); older web servers send each
 * one. */
const char *fpmd_req_header_next(const struct fpmd_req *req,
                                 const char *name, size_t *pos);
/* A cookie's value as the client sent it (surrounding quotes removed, no
 * decoding); NULL when absent. */
const char *fpmd_req_cookie(struct fpmd_req *req, const char *name);
/* A {name} segment of the matched route, or "*" for what its trailing
 * wildcard matched; NULL when the route has no such part. */
const char *fpmd_req_route_param(struct fpmd_req *req, const char *name);
/* The client's address (REMOTE_ADDR), "" when unknown (unix sockets). */
const char *fpmd_req_remote_addr(const struct fpmd_req *req);
/* Query arguments in order, percent-decoded: index 0..n-1; FPMD_ERROR past
 * the end. */
size_t fpmd_req_nquery_args(struct fpmd_req *req);
int fpmd_req_query_arg_at(struct fpmd_req *req, size_t i, const char **name,
                          const char **value);
/* The name of the handler the request was routed to; NULL when it was
 * not (404, 405). */
const char *fpmd_req_handler(const struct fpmd_req *req);

/* A route's static: block (README "Static files"). The strings are the
 * config's: valid until the handler returns. */
struct fpmd_static_conf {
    const char *root;               /* realpath()ed at load */
    const char *index;              /* served for a directory; NULL: none */
    bool follow_symlinks;           /* false: a symlink leading out of root
                                     * is 403 */
    const char *const *deny_ext;    /* never served: ".php"... */
    size_t ndeny_ext;
};

/* Fills *out with the static: block of the route req was routed to:
 * FPMD_OK, or FPMD_DECLINED when that route has none. */
int fpmd_req_static_conf(const struct fpmd_req *req,
                         struct fpmd_static_conf *out);

/* The request id (README "Request ids"): the client's or the web
 * server's X-Request-Id when it is 1 to 128 of [A-Za-z0-9._:-], else 32
 * hex digits made up here; "" when request ids are off. */
const char *fpmd_req_id(struct fpmd_req *req);
/* The request's W3C trace context (README "Trace context"): the trace id
 * of its traceparent header when that is valid, else a new random one
 * (32 hex digits), and its own span as a traceparent to send on
 * ("00-<trace id>-<span id>-<flags>"); fpmd's HTTP client adds one with
 * a new span id of its own to each call. "" when memory is out. */
const char *fpmd_req_trace_id(struct fpmd_req *req);
const char *fpmd_req_traceparent(struct fpmd_req *req);
/* When the request started, microseconds since the epoch. */
uint64_t fpmd_req_start_us(const struct fpmd_req *req);
/* Per-request values for hooks and handlers to hand each other (a user
 * id from an auth hook): key is compared by content and copied; value is
 * not owned. FPMD_ERROR when memory is out. A later set replaces. */
int fpmd_req_set(struct fpmd_req *req, const char *key, void *value);
/* The value set under key, NULL when none. */
void *fpmd_req_get(const struct fpmd_req *req, const char *key);
/* Body length announced by the client, -1 when unknown. */
int64_t fpmd_req_content_length(const struct fpmd_req *req);

/* Reads up to len body bytes. Suspends until some arrive. Returns the count,
 * 0 at the end of the body, -1 when the request was aborted or the body
 * went over limits.body (the request is then answered with a 413 if the
 * handler sent nothing). */
ssize_t fpmd_req_body_read(struct fpmd_req *req, void *buf, size_t len);

/* The whole body, read into the request's memory and NUL-terminated (so
 * *len excludes the NUL). Suspends until it is all in. FPMD_OK, or
 * FPMD_ERROR with the status to answer in *status: 413 when it is longer
 * than max bytes or than limits.request_memory lets the request hold, 503
 * when the worker's requests hold limits.requests_memory, 400 when the
 * client went away or it could not be read, 500 out of memory. Once only:
 * later calls return the same. */
int fpmd_req_body_whole(struct fpmd_req *req, size_t max, const char **data,
                        size_t *len, int *status);

/* The body as application/x-www-form-urlencoded, parsed on first use
 * (suspends then) within limits.parsed_body and limits.form_fields.
 * FPMD_OK, or FPMD_ERROR with the status to answer in *status: 415
 * (another Content-Type), 413, 400. */
int fpmd_req_form_parse(struct fpmd_req *req, int *status);
/* A form field, decoded; NULL when absent or the form did not parse. */
const char *fpmd_req_form(struct fpmd_req *req, const char *name);
size_t fpmd_req_nform(struct fpmd_req *req);
int fpmd_req_form_at(struct fpmd_req *req, size_t i, const char **name,
                     const char **value);

/* The body as JSON (json-c), parsed on first use (suspends then) within
 * limits.parsed_body and limits.json_depth. The object belongs to the
 * request (put when it ends); take json_object_get() to keep it longer.
 * NULL with *status set: 415 (Content-Type is not JSON), 413, 400. */
struct json_object *fpmd_req_json(struct fpmd_req *req, int *status);

/* 1 once the client went away (ABORT_REQUEST, connection closed) or the
 * request outlived timeouts.request_terminate. */
bool fpmd_req_aborted(const struct fpmd_req *req);

/* Parks only this request for ms milliseconds. Suspends. FPMD_OK, or
 * FPMD_ERROR when the request was aborted meanwhile. */
int fpmd_sleep(struct fpmd_req *req, uint64_t ms);

/* For code that waits on its own events (backend drivers): parks the
 * handler until fpmd_req_wake(req) or until the client goes away.
 * Suspends. FPMD_OK when woken, FPMD_ERROR when the request was aborted
 * (before or while parked). A wake that comes while the handler is not
 * parked is lost: check the condition again after each return. */
int fpmd_req_suspend(struct fpmd_req *req);
/* Resumes a handler parked in fpmd_req_suspend on the next loop pass,
 * never on the caller's stack; safe from any event callback, and a no-op
 * when the handler is not parked there. */
void fpmd_req_wake(struct fpmd_req *req);

/* --- the response ----------------------------------------------------- */

/* Before the first body byte: the status (default 200). FPMD_ERROR if the
 * head is already sent or status is outside 100..999. */
int fpmd_resp_status(struct fpmd_req *req, int status);
/* Adds a header; repeated names (Set-Cookie) are kept in order. CR, LF or
 * NUL in the name or value, or a name that is not an HTTP token, is
 * refused with FPMD_ERROR and a log line: never a split response. */
int fpmd_resp_header(struct fpmd_req *req, const char *name,
                     const char *value);
/* Streams body bytes, sending the head first. Suspends while the peer
 * reads slower than we write (at most a bounded amount stays queued).
 * FPMD_ERROR once the client is gone. */
int fpmd_resp_write(struct fpmd_req *req, const void *data, size_t len);
/* A whole response in one call: status, Content-Type (NULL: none), body.
 * Returns fpmd_resp_write's result. */
int fpmd_reply(struct fpmd_req *req, int status, const char *content_type,
               const void *body, size_t len);
/* A short text/plain error answer with the reason phrase and msg. */
int fpmd_reply_error(struct fpmd_req *req, int status, const char *msg);
/* A JSON error answer: {"error":{"status":N,"message":"..."}}. */
int fpmd_reply_error_json(struct fpmd_req *req, int status, const char *msg);
/* obj serialized (compact) as application/json; obj stays the caller's. */
int fpmd_reply_json(struct fpmd_req *req, int status,
                    struct json_object *obj);
/* A redirect (301, 302, 303, 307 or 308) to location, with a short body.
 * FPMD_ERROR for another status or a location with CR, LF or NUL. */
int fpmd_redirect(struct fpmd_req *req, int status, const char *location);
/* Sends len bytes of fd from offset as the body (after the head, with a
 * Content-Length): sendfile(2) over HTTP, FastCGI records otherwise.
 * Suspends under backpressure. fd stays the caller's; fpmd keeps its own
 * duplicate while the bytes are going out. */
int fpmd_resp_sendfile(struct fpmd_req *req, int fd, off_t offset,
                       off_t len);
/* 1 when the head has gone out and status/headers can no longer change. */
bool fpmd_resp_started(const struct fpmd_req *req);

/* --- memory ----------------------------------------------------------- */

/* Request-lifetime allocation: freed all at once when the request ends.
 * NULL when limits would be exceeded or memory is out. */
void *fpmd_alloc(struct fpmd_req *req, size_t size);
char *fpmd_strdup(struct fpmd_req *req, const char *s);
char *fpmd_strndup(struct fpmd_req *req, const char *s, size_t n);

/* Runs fn(arg) when the request ends, latest registered first; for what
 * does not come from fpmd_alloc (json_object_put, freeReplyObject...).
 * FPMD_ERROR (and fn is not registered) when memory is out. */
int fpmd_defer(struct fpmd_req *req, void (*fn)(void *), void *arg);

/* --- backend pools ---------------------------------------------------- */

/* Calls to the pools declared under pools: in the config. A call borrows
 * a connection of the worker's pool (waiting in a bounded queue when all
 * are lent), sends, and hands the connection back when the reply is in;
 * connections live across requests. A call and its results belong to the
 * request (freed with it); a request that ends with calls still pending,
 * or whose client goes away, cancels them and the pool gets its
 * connections back in a clean state (or closes them).
 *
 * Calls start without suspending, so a handler can start several and
 * wait for all: the time taken is the slowest call's, not the sum. */
struct fpmd_call;

enum fpmd_call_status {
    FPMD_CALL_OK = 0,           /* the backend answered (maybe an error
                                 * reply: that is the backend's answer) */
    FPMD_CALL_PENDING,          /* started, not done */
    FPMD_CALL_EXHAUSTED,        /* no connection within wait_timeout, or
                                 * the wait queue was full: 503 */
    FPMD_CALL_DOWN,             /* no server reachable: 503 */
    FPMD_CALL_TIMEOUT,          /* no reply within timeout: 504 */
    FPMD_CALL_FAILED,           /* connection lost, protocol error: 502 */
    FPMD_CALL_ABORTED,          /* the request went away first */
    FPMD_CALL_INVALID,          /* no such pool, bad command: 500 */
};

enum fpmd_call_status fpmd_call_status(const struct fpmd_call *call);
/* What went wrong, for logs and error bodies; "" when nothing did. */
const char *fpmd_call_error(const struct fpmd_call *call);
/* The HTTP status that fits a failed call (503, 504, 502, 500); 200 for
 * FPMD_CALL_OK. */
int fpmd_call_http_status(const struct fpmd_call *call);

/* Waits until call is done. Suspends. FPMD_OK when it succeeded, else
 * FPMD_ERROR (see fpmd_call_status). */
int fpmd_await(struct fpmd_req *req, struct fpmd_call *call);
/* Waits until every call req started so far is done. Suspends. FPMD_OK
 * when all succeeded. */
int fpmd_await_all(struct fpmd_req *req);

/* The most recent failed call of req (NULL: none): what handlers using
 * the one-line helpers below answer with. A call fpmd_await gave up on
 * because the request ended (FPMD_CALL_ABORTED) is one, so that after an
 * FPMD_ERROR from fpmd_await or fpmd_await_all there always is one. */
const struct fpmd_call *fpmd_call_failed(const struct fpmd_req *req);

/* --- redis --- */

enum fpmd_redis_type {          /* hiredis's REDIS_REPLY_* values */
    FPMD_REDIS_STRING = 1,
    FPMD_REDIS_ARRAY = 2,
    FPMD_REDIS_INTEGER = 3,
    FPMD_REDIS_NIL = 4,
    FPMD_REDIS_STATUS = 5,
    FPMD_REDIS_ERROR = 6,
};

/* A reply, copied into the request's memory. */
struct fpmd_redis_reply {
    enum fpmd_redis_type type;
    long long integer;          /* INTEGER */
    const char *str;            /* STRING, STATUS, ERROR: NUL-terminated */
    size_t len;
    size_t elements;            /* ARRAY */
    struct fpmd_redis_reply **element;
};

/* fpmd_redis_new flags. */
#define FPMD_REDIS_READ_REPLICA 0x1 /* a replica answers when one is up */

/* A call of pool (a redis pool) with no command yet; NULL when memory is
 * out. Add commands, then fpmd_redis_send: they go in one write and their
 * replies come back in order (a pipeline). With shard: on, the key (the
 * first command's first argument) picks the server. */
struct fpmd_call *fpmd_redis_new(struct fpmd_req *req, const char *pool,
                                 unsigned flags);
/* hiredis's format: %s a C string, %b a pointer and a size_t length.
 * SUBSCRIBE, MONITOR and the like are refused (the call fails with
 * FPMD_CALL_INVALID): they take the connection away from the pool. */
int fpmd_redis_add(struct fpmd_call *call, const char *fmt, ...);
int fpmd_redis_addv(struct fpmd_call *call, int argc, const char **argv,
                    const size_t *lens);
/* Starts the call. Never suspends. */
void fpmd_redis_send(struct fpmd_call *call);
/* The reply to the call's command i (from 0); NULL unless the call is
 * FPMD_CALL_OK and i is in range. */
const struct fpmd_redis_reply *fpmd_redis_reply(const struct fpmd_call *call,
                                                size_t i);

/* One command: start it and wait. Suspends. The reply, or NULL when the
 * call failed (fpmd_call_failed(req) says how). */
const struct fpmd_redis_reply *fpmd_redis(struct fpmd_req *req,
                                          const char *pool,
                                          const char *fmt, ...);
/* The same call started, not waited for; NULL when memory is out. */
struct fpmd_call *fpmd_redis_start(struct fpmd_req *req, const char *pool,
                                   const char *fmt, ...);

/* A subscription: a connection of its own (outside the pool: a
 * subscribed connection takes no other command) to the first server of
 * pool, with its AUTH, subscribed to channels, a list separated by
 * spaces in which a name with *, ? or [ is a pattern (PSUBSCRIBE). A
 * lost connection is made again after a back-off (0.1 s doubling to
 * 5 s) and subscribed again; what was published meanwhile is lost, as
 * Redis pub/sub has it. Up to 1024 messages wait to be taken, beyond
 * which the oldest are dropped and logged. It belongs to the process,
 * not to a request: made once (a user process's first call) and kept
 * until fpmd_redis_unsubscribe or the process's end. NULL when pool is
 * not a redis pool or memory is out. */
struct fpmd_redis_sub;
struct fpmd_redis_sub *fpmd_redis_subscribe(const char *pool,
                                            const char *channels);
/* The next message, waiting for it timeout_ms at most (0: not at all).
 * Suspends. FPMD_OK with its channel and its data (data[len] is a NUL) in
 * req's memory; FPMD_AGAIN when none came in time; FPMD_ERROR when req
 * was aborted or memory is out. */
int fpmd_redis_sub_next(struct fpmd_req *req, struct fpmd_redis_sub *s,
                        uint64_t timeout_ms, const char **channel,
                        const char **data, size_t *len);
/* Closes it, and frees it with the messages that wait. */
void fpmd_redis_unsubscribe(struct fpmd_redis_sub *s);

/* --- mysql --- */

enum fpmd_mysql_type {
    FPMD_MYSQL_TEXT = 0,        /* strings, dates, DECIMAL (exact), blobs */
    FPMD_MYSQL_INT = 1,
    FPMD_MYSQL_REAL = 2,        /* FLOAT, DOUBLE */
};

/* A statement's outcome, copied into the request's memory. */
struct fpmd_mysql_result {
    unsigned errcode;           /* 0, or the server's error (1062...) */
    const char *sqlstate;       /* "00000" when fine */
    const char *error;          /* "" when fine */
    unsigned ncols;
    const char *const *cols;    /* column names */
    const enum fpmd_mysql_type *types;
    uint64_t nrows;
    /* rows[i][j]: column j of row i, NUL-terminated; NULL for SQL NULL */
    const char *const *const *rows;
    const size_t *const *lens;
    uint64_t affected_rows;
    uint64_t insert_id;
    unsigned warnings;
};

/* fpmd_mysql_start flags. Statements that only read (SELECT without FOR
 * UPDATE or LOCK IN SHARE MODE, SHOW, DESCRIBE, EXPLAIN) go to a replica
 * when the pool has one up, others and transactions to the primary. */
#define FPMD_MYSQL_PRIMARY 0x1  /* a read that must see the primary */

/* sql with ? placeholders, each replaced by params[i] escaped and quoted
 * for the connection's character set (NULL: SQL NULL); a ? inside quotes,
 * backticks or a comment (#, "-- ", slash-star) is left alone, one in an
 * executable comment (slash-star-bang) is a placeholder, as the server
 * reads them. Started, not waited for; NULL when memory
 * is out. A read (see above) whose connection dies under it ("server has
 * gone away") is tried once more on a fresh connection; anything else
 * fails. */
struct fpmd_call *fpmd_mysql_start(struct fpmd_req *req, const char *pool,
                                   unsigned flags, const char *sql,
                                   size_t nparams, const char *const *params);
/* The call's result, NULL unless FPMD_CALL_OK. errcode tells whether the
 * server ran it. */
const struct fpmd_mysql_result *fpmd_mysql_result(const struct fpmd_call *c);
/* Runs sql and waits. Suspends. The arguments after sql are one const
 * char * per ? in sql. NULL when the call failed (fpmd_call_failed(req)
 * says how); a result with errcode set when the server refused it. */
const struct fpmd_mysql_result *fpmd_mysql(struct fpmd_req *req,
                                           const char *pool,
                                           const char *sql, ...);
/* The rows as a JSON array of objects (column name: value; INT and REAL
 * columns as numbers, SQL NULL as null), owned by the request. NULL when
 * memory is out. */
struct json_object *fpmd_mysql_json(struct fpmd_req *req,
                                    const struct fpmd_mysql_result *r);

/* A transaction: one connection of pool, pinned to the request from
 * fpmd_mysql_begin until commit or rollback. Suspends. NULL when BEGIN
 * failed (fpmd_call_failed(req) says how). A request that ends with the
 * transaction open closes its connection (the server rolls back); a
 * connection lost inside it fails every later statement and the commit:
 * it is never silently reconnected. */
struct fpmd_mysql_txn;
struct fpmd_mysql_txn *fpmd_mysql_begin(struct fpmd_req *req,
                                        const char *pool);
/* fpmd_mysql inside txn. Suspends. */
const struct fpmd_mysql_result *fpmd_mysql_txn(struct fpmd_mysql_txn *txn,
                                               const char *sql, ...);
/* Suspend. FPMD_OK when the server committed (rolled back); the
 * connection goes back to the pool either way. */
int fpmd_mysql_commit(struct fpmd_mysql_txn *txn);
int fpmd_mysql_rollback(struct fpmd_mysql_txn *txn);

/* --- mongo --- */

enum fpmd_mongo_op {
    FPMD_MONGO_FIND,
    FPMD_MONGO_INSERT,
    FPMD_MONGO_UPDATE,
    FPMD_MONGO_DELETE,
    FPMD_MONGO_COUNT,
    FPMD_MONGO_COMMAND,
};

/* What a mongo call does, in the pool's database. json-c values stay the
 * caller's; they are converted to BSON when the call starts. */
struct fpmd_mongo_query {
    const char *collection;         /* NULL for FPMD_MONGO_COMMAND */
    struct json_object *filter;     /* find, update, delete, count; NULL: {} */
    struct json_object *doc;        /* insert: the document; update: the
                                     * update ({"$set": ...}); command: the
                                     * command document */
    struct json_object *projection; /* find; NULL: whole documents */
    struct json_object *sort;       /* find; NULL: server order */
    int64_t limit;                  /* find; 0: no limit */
    bool many;                      /* update, delete: every match */
};

/* Starts op on pool (a mongo pool): mongo-c-driver runs it on one of the
 * worker's pool threads; the handler's coroutine is resumed through an
 * eventfd. NULL when memory is out. */
struct fpmd_call *fpmd_mongo_start(struct fpmd_req *req, const char *pool,
                                   enum fpmd_mongo_op op,
                                   const struct fpmd_mongo_query *q);
/* The answer, owned by the request: find, an array of documents; count,
 * {"n": N}; insert, update, delete, the driver's reply (insertedCount,
 * matchedCount, modifiedCount, deletedCount); command, the server's reply.
 * NULL unless the call is FPMD_CALL_OK and the server accepted it. */
struct json_object *fpmd_mongo_result(const struct fpmd_call *call);
/* The server's refusal (duplicate key, unknown command...): its message,
 * with its code in *code; NULL when the server accepted the operation. */
const char *fpmd_mongo_error(const struct fpmd_call *call, int *code);
/* Starts and waits. Suspends. The result as above, or NULL: the call
 * failed (fpmd_call_failed(req)) or the server refused it. */
struct json_object *fpmd_mongo(struct fpmd_req *req, const char *pool,
                               enum fpmd_mongo_op op,
                               const struct fpmd_mongo_query *q);

/* --- HTTP client ------------------------------------------------------ */

/* Outbound HTTP (README "HTTP client"), libcurl on the worker's loop:
 * TLS, HTTP/2, redirects off (a 3xx is an answer), names resolved off
 * the loop. A call goes to a named upstream (upstreams: in the config;
 * url is then a path, the balancer picks the server among those whose
 * circuit breaker lets calls through, a refused connect tries another)
 * or to a plain http(s):// URL. Any HTTP status is an answer
 * (FPMD_CALL_OK); a call fails with FPMD_CALL_TIMEOUT past the
 * upstream's timeout (504), FPMD_CALL_FAILED when the server refused,
 * reset or broke the exchange, or its body passed max_body (502, with a
 * log line), FPMD_CALL_DOWN at once when every server's circuit is open
 * and the upstream has no fallback: (503), FPMD_CALL_INVALID for a bad
 * URL, header or upstream (500). A request that ends first cancels its
 * transfers. */
struct fpmd_http_header {
    const char *name, *value;
};

struct fpmd_http_request {
    const char *method;             /* NULL: GET, or POST with a body */
    const char *upstream;           /* NULL: url is absolute */
    const char *url;                /* a path (/...) on an upstream */
    const struct fpmd_http_header *headers;
    size_t nheaders;
    const void *body;               /* NULL: none; copied */
    size_t body_len;                /* with body_stream: the Content-Length
                                     * to announce (0: unknown, chunked) */
    const char *hash_key;           /* balancer hash: the key that picks
                                     * the server (NULL: round robin) */
    uint64_t timeout_ms;            /* the whole call: 0, the upstream's
                                     * timeout (plain URLs: 10 s);
                                     * FPMD_HTTP_NO_TIMEOUT: none at all */
    bool body_stream;               /* fpmd_http_stream_open: the body is
                                     * written with fpmd_http_stream_write,
                                     * not body */
};

/* timeout_ms: no bound on the call's time (a watch that lasts); the
 * connect still has connect_timeout, and the request's end cancels it. */
#define FPMD_HTTP_NO_TIMEOUT UINT64_MAX

/* An answer, in the request's memory. */
struct fpmd_http_response {
    int status;
    const struct fpmd_http_header *headers;     /* as they came */
    size_t nheaders;
    const char *body;               /* NUL-terminated past body_len */
    size_t body_len;
    const char *server;             /* the upstream's server that answered;
                                     * NULL for a plain URL or a fallback */
    bool fallback;                  /* the upstream's fallback: answer,
                                     * every server's circuit being open */
};

/* Starts r (its strings and body are copied). NULL when memory is out. */
struct fpmd_call *fpmd_http_start(struct fpmd_req *req,
                                  const struct fpmd_http_request *r);
/* The answer of a call done with FPMD_CALL_OK, else NULL. */
const struct fpmd_http_response *fpmd_http_response(
    const struct fpmd_call *call);
/* The value of the last header called name (any case), NULL: none. */
const char *fpmd_http_header(const struct fpmd_http_response *r,
                             const char *name);
/* Start and wait. Suspend. The answer, or NULL: the call failed
 * (fpmd_call_failed(req) says how). */
const struct fpmd_http_response *fpmd_http_request(
    struct fpmd_req *req, const struct fpmd_http_request *r);
const struct fpmd_http_response *fpmd_http_get(struct fpmd_req *req,
                                               const char *upstream,
                                               const char *url);
const struct fpmd_http_response *fpmd_http_post(struct fpmd_req *req,
                                                const char *upstream,
                                                const char *url,
                                                const char *content_type,
                                                const void *body, size_t len);

/* A streamed call (README "HTTP client"): the answer's body is read as it
 * comes, in pieces, without max_body, and the request's body may be
 * written in pieces too. Memory stays bounded both ways: at most
 * FPMD_HTTP_STREAM_WINDOW bytes of the answer wait for the reader (past
 * that the transfer pauses, and so does the server, by TCP), and a write
 * waits until libcurl has taken its bytes. Time is bounded by r's
 * timeout_ms (the whole transfer, pauses included) unless it is
 * FPMD_HTTP_NO_TIMEOUT. It counts for the upstream's breaker as a
 * success once its status is below 500 and its body ended; a failure
 * otherwise (a close before the end is neither). Calls out of order
 * (a read before the answer's head, a write after the end, or on a
 * stream without body_stream) fail the stream with FPMD_CALL_INVALID
 * and say so in fpmd_call_failed(req). fpmd_await_all does not wait for
 * streams. */
struct fpmd_http_stream;

#define FPMD_HTTP_STREAM_WINDOW (64u * 1024)

/* Starts r as a call does (upstream or plain URL, headers, balancer,
 * breakers, a refused connect tried on another server while nothing was
 * sent). With r->body_stream the body is not r->body but what
 * fpmd_http_stream_write gives, sent chunked, or with r->body_len as its
 * Content-Length when that is not 0 (then exactly that many bytes must
 * come). Does not suspend. NULL only when memory is out; a call that
 * could not start shows in the next calls. The request's end closes a
 * stream left open. */
struct fpmd_http_stream *fpmd_http_stream_open(
    struct fpmd_req *req, const struct fpmd_http_request *r);
/* Hands len bytes of the request's body over. Suspends until libcurl has
 * taken them all (data may then be reused). FPMD_OK, or FPMD_ERROR when
 * the transfer failed (fpmd_call_failed(req) says how), ended (the server
 * answered before taking the whole body), or the call is out of order. */
int fpmd_http_stream_write(struct fpmd_http_stream *s, const void *data,
                           size_t len);
/* The end of the request's body. Suspends until libcurl has taken it.
 * FPMD_OK or FPMD_ERROR as for fpmd_http_stream_write. */
int fpmd_http_stream_end(struct fpmd_http_stream *s);
/* Suspends until the answer's status line and headers are in. The answer
 * with body NULL and body_len 0 (the upstream's fallback: answer with its
 * body, read it with fpmd_http_stream_read too), or NULL when the call
 * failed: timeout 504, refused, reset or broken 502, every circuit open
 * 503, bad arguments 500 (fpmd_call_failed(req) says which). */
const struct fpmd_http_response *fpmd_http_stream_response(
    struct fpmd_http_stream *s);
/* Suspends until some of the answer's body is in; takes at most cap
 * bytes into buf. How many, 0 at the end of the body, -1 when the
 * transfer failed or timed out (what was waiting unread is dropped), the
 * request was aborted, or fpmd_http_stream_response has not given the
 * answer yet. */
ssize_t fpmd_http_stream_read(struct fpmd_http_stream *s, void *buf,
                              size_t cap);
/* Cancels an unfinished transfer (the server sees the connection close)
 * and frees the stream's buffers; later calls on s fail. NULL: nothing. */
void fpmd_http_stream_close(struct fpmd_http_stream *s);

/* --- JSON-RPC 2.0 ------------------------------------------------------ */

/* Methods served by a route with handler: jsonrpc (README "JSON-RPC"):
 * a POST of one call or a batch, answered as the spec says (200, or 204
 * when only notifications came). A method gets its params (an array, an
 * object, or NULL) and sets *result (a json-c value it hands over; NULL
 * answers null) and returns FPMD_OK; or it calls fpmd_rpc_error and
 * returns FPMD_ERROR (an error return alone answers -32603). It runs in
 * the request's coroutine: it may call pools, tasks and await. */
typedef int (*fpmd_rpc_fn)(struct fpmd_req *req, struct json_object *params,
                           struct json_object **result);

struct fpmd_rpc_def {
    const char *method;         /* as callers name it: "user.get" */
    fpmd_rpc_fn fn;
    const char *file;
    int line;
};

/* Registration, from FPMD_RPC's constructor; def stays the caller's. */
void fpmd_rpc_register(const struct fpmd_rpc_def *def);

/* FPMD_RPC(user_get, "user.get") { ...; *result = obj; return FPMD_OK; } */
#define FPMD_RPC(name_, method_)                                             \
    static int fpmd_rpc_##name_(struct fpmd_req *req,                        \
                                struct json_object *params,                  \
                                struct json_object **result);                \
    static const struct fpmd_rpc_def fpmd_rpc_def_##name_ = {                \
        method_, fpmd_rpc_##name_, __FILE__, __LINE__};                      \
    __attribute__((constructor)) static void fpmd_rpc_reg_##name_(void)      \
    {                                                                        \
        fpmd_rpc_register(&fpmd_rpc_def_##name_);                            \
    }                                                                        \
    static int fpmd_rpc_##name_(struct fpmd_req *req,                        \
                                struct json_object *params,                  \
                                struct json_object **result)

/* The JSON-RPC error a method answers instead of a result (the spec's
 * codes, -32602 for bad params, or an application's own); message NULL:
 * the code's standard name. Returns FPMD_ERROR, for "return
 * fpmd_rpc_error(...)". */
int fpmd_rpc_error(struct fpmd_req *req, int code, const char *message);

/* A call to method on upstream (upstreams: in the config) over the HTTP
 * client: a POST of one JSON-RPC request to the upstream's rpc_path, with
 * its balancer, breakers and timeouts. Awaitable like any call. */
struct fpmd_call *fpmd_rpc_start(struct fpmd_req *req, const char *upstream,
                                 const char *method,
                                 struct json_object *params);
/* Its result (owned by the request; NULL is a JSON null result only when
 * *code is 0), or NULL with *code and *message: the server's error, or
 * -32000 when the call could not be made (refused, down, circuit open,
 * not JSON-RPC) and -32001 when it timed out. */
struct json_object *fpmd_rpc_result(struct fpmd_call *call, int *code,
                                    const char **message);
/* Start and wait. Suspends. */
struct json_object *fpmd_rpc_call(struct fpmd_req *req, const char *upstream,
                                  const char *method,
                                  struct json_object *params, int *code,
                                  const char **message);

/* --- the pool's status ------------------------------------------------ */

/* What php-fpm's status page shows, and fpmd's own fields (README
 * "Built-in routes", "Route statistics"): a copy of the scoreboard that
 * the master and every worker share, taken when asked and summed over
 * the workers. Other workers write the scoreboard while it is copied and
 * are never trusted: strings come bounded and terminated, states in
 * range, and a worker caught mid-write is read again or left out. */

enum fpmd_proc_state {
    FPMD_PROC_STARTING = 1,     /* forked, not yet accepting */
    FPMD_PROC_IDLE,             /* accepting, no request in flight */
    FPMD_PROC_BUSY,             /* at least one request in flight */
    FPMD_PROC_FINISHING,        /* graceful exit: drains, accepts nothing */
};

/* The oldest request a worker runs (FPMD_PROC_BUSY), else its last one.
 * Strings are "" when it had none. */
struct fpmd_status_request {
    const char *method, *uri, *script, *user;
    uint64_t content_length;
    uint64_t start_us;          /* µs since the epoch; 0: none yet */
    uint64_t duration_us;       /* 0 while it runs */
    uint64_t cpu_us;            /* time its handler ran on the CPU */
    uint64_t memory;            /* its peak request memory, bytes */
};

/* The most requests in flight a worker lists, its oldest. */
#define FPMD_STATUS_FLIGHTS 16

/* A request a worker has in flight. */
struct fpmd_status_flight {
    const char *method, *uri;
    const char *route;          /* its route, as Route statistics name it
                                 * ("GET /users/{id}"); "" when none
                                 * matched */
    uint64_t start_us;          /* µs since the epoch */
};

/* A worker process: php-fpm's per-process rows (?full). */
struct fpmd_status_proc {
    pid_t pid;
    enum fpmd_proc_state state;
    uint64_t start_us;          /* when it started */
    uint64_t requests;          /* requests it finished */
    uint32_t in_flight;         /* requests it runs now */
    uint32_t connections;       /* connections it holds open */
    /* objects on its free lists, as of its last tick */
    uint32_t free_reqs, free_buffers, free_stacks, free_conns;
    struct fpmd_status_request req;
    /* Its oldest requests in flight, oldest first: the first
     * FPMD_STATUS_FLIGHTS of in_flight. */
    const struct fpmd_status_flight *flights;
    size_t nflights;
};

/* A backend pool (pools: in the config) summed over the workers: gauges
 * as of their last tick, counters since they started. */
struct fpmd_status_backend {
    const char *name;
    uint64_t size, idle, in_use, waiters;
    uint64_t calls, timeouts, errors, reconnects, exhausted;
};

/* The answers of one side of a route: its C handler's (native) or its
 * legacy pool's. */
struct fpmd_status_side {
    uint64_t requests;
    uint64_t errors;            /* a 5xx, or an answer cut short */
    uint64_t sum_us;            /* their latencies added up */
    double p50_ms, p99_ms;      /* latency quantiles (about +-20%); 0
                                 * when it answered nothing */
};

/* A config route (the first 64) summed over the workers. */
struct fpmd_status_route {
    const char *label;          /* its match ("GET /users/{id}") */
    const char *handler;
    struct fpmd_status_side native, legacy;
    uint64_t shadow_compared, shadow_mismatches, shadow_errors;
    uint64_t canary_fallbacks;
    uint64_t rate_limited;      /* answered 429: its rate_limit: */
    uint64_t concurrency_refused;   /* answered 503: its concurrency: */
};

/* A shared table (tables: in the config). */
struct fpmd_status_table {
    const char *name;
    uint64_t rows;              /* capacity */
    uint64_t used;              /* rows in use */
    uint64_t memory;            /* bytes of its mapping */
    uint64_t full;              /* new keys refused: the table was full */
    uint64_t expired;           /* rows reclaimed after their TTL */
    uint64_t recovered;         /* locks taken over from a process that
                                 * died holding them */
};

/* A user process (processes: in the config). */
struct fpmd_status_user_process {
    const char *name;
    unsigned instance;
    pid_t pid;                  /* 0: waiting out a back-off */
    uint64_t start_us;          /* when the running one started */
    uint64_t restarts;          /* started again after an end unasked */
};

/* The task queue and its processes (tasks: in the config, README
 * "Tasks"): gauges now, counters since the master started. */
struct fpmd_status_tasks {
    uint64_t workers;           /* task processes running */
    uint64_t running;           /* tasks running in them */
    uint64_t queued;            /* tasks waiting in the queue */
    uint64_t done;              /* tasks that returned FPMD_OK */
    uint64_t failed;            /* that failed, or that no task process
                                 * could run (unknown name, too large) */
    uint64_t timed_out;         /* awaits that gave up at tasks.timeout */
    uint64_t rejected;          /* not queued: the queue was full */
    uint64_t dropped;           /* queued, never finished: the task
                                 * process died under it, or fpmd
                                 * stopped first */
};

/* An upstream server's circuit breaker (upstreams: in the config),
 * shared by the pool's workers. */
struct fpmd_status_upstream_server {
    const char *upstream;
    const char *server;         /* its URL */
    const char *circuit;        /* "closed", "open", "half_open" */
    uint64_t opened;            /* times it opened */
    uint64_t refused;           /* calls it refused while open */
};

/* A latency histogram summed over the workers: bucket i counts times in
 * [50 us x 2^(i/2), 50 us x 2^((i+1)/2)), the first and the last taking
 * what is below and above (README "Route statistics"). */
#define FPMD_STATUS_HIST 32
struct fpmd_status_hist {
    uint64_t count;
    uint64_t sum_us;
    uint64_t bucket[FPMD_STATUS_HIST];
};

struct fpmd_status_snapshot {
    const char *pool;           /* pool: in the config */
    const char *pm;             /* "static", "dynamic", "ondemand" */
    uint64_t start_us;          /* when the pool started */
    uint64_t now_us;            /* when the copy was taken */
    uint64_t accepted_conn;     /* connections accepted since start */
    uint32_t listen_queue, max_listen_queue, listen_queue_len;
    uint32_t idle, active, max_active;  /* worker processes */
    uint64_t max_children_reached, slow_requests;
    uint64_t in_flight;         /* requests running in the pool */
    /* objects on the workers' free lists, as of their last tick */
    uint64_t free_reqs, free_buffers, free_stacks, free_conns;
    const struct fpmd_status_proc *procs;   /* every worker process */
    size_t nprocs;
    const struct fpmd_status_backend *backends;
    size_t nbackends;
    const struct fpmd_status_route *routes;
    size_t nroutes;
    /* Requests answered 503 without running: pm.max_queue was reached,
     * or they waited timeouts.queue (last, so that modules built before
     * it read the fields above where they were). */
    uint64_t refused_requests;
    const struct fpmd_status_table *tables;
    size_t ntables;
    const struct fpmd_status_user_process *user_processes;
    size_t nuser_processes;
    const struct fpmd_status_tasks *tasks;  /* NULL: no task processes */
    const struct fpmd_status_upstream_server *upstream_servers;
    size_t nupstream_servers;
    /* Latency histograms (after the fields above, which modules built
     * before them read where they were): two per route, native then
     * legacy; per backend its calls' waits for a connection; the event
     * loops' lag (how late a 100 ms timer fires) over every worker, and
     * per process the most of the last 10 to 20 s, in us. */
    const struct fpmd_status_hist *route_hists;
    const struct fpmd_status_hist *backend_waits;
    struct fpmd_status_hist loop_lag;
    const uint64_t *proc_lag_max_us;
};

/* The pool's status now, copied into the request's memory (every string
 * and array in it too): it never changes under the caller. Never
 * suspends, never waits for another worker. NULL when memory is out. */
const struct fpmd_status_snapshot *fpmd_status_snapshot(struct fpmd_req *req);

/* status.ping_response from the config: the ping page's answer. Owned by
 * fpmd, valid as long as the worker runs. */
const char *fpmd_ping_response(void);

/* Readiness (README "Health probes"). Why the pool should be sent no new
 * requests now, or NULL: "stopping" while a graceful stop drains it, "no
 * worker accepts" when no worker takes connections. Never suspends. */
const char *fpmd_health_unready(void);
/* status.ready_pools: the backend pools readiness requires,
 * NULL-terminated; owned by fpmd. */
const char *const *fpmd_health_ready_pools(void);
/* Whether this worker reaches backend pool name: FPMD_OK when a server
 * of it has a connection open, or answered a call in the last 10 s;
 * FPMD_ERROR with *why (in the request's memory) when every server is
 * backed off after failed connects, or the pool does not exist. With
 * nothing to go on it opens a connection (kept as an idle one) and
 * suspends until it is up or failed, at most the pool's connect_timeout
 * or 1 s. */
int fpmd_pool_reachable(struct fpmd_req *req, const char *name,
                        const char **why);

/* --- shared tables ---------------------------------------------------- */

/* tables: of the config: fixed-size rows of typed columns under byte
 * keys, in shared memory every process of the pool sees (README "Shared
 * tables"). A handler finds one by name and calls it directly: no call
 * suspends, each is atomic for its key across processes. */
struct fpmd_table;

/* The table the config calls name, NULL when there is none. */
struct fpmd_table *fpmd_table(const char *name);

/* Return codes beyond common.h's, for fpmd_table_strerror. */
#define FPMD_TABLE_NOT_FOUND    -100    /* no such row (or it expired) */
#define FPMD_TABLE_FULL         -101    /* every row is in use */
#define FPMD_TABLE_KEY_TOO_LONG -102    /* longer than the key size */
#define FPMD_TABLE_TOO_LONG     -103    /* bytes longer than the column */
#define FPMD_TABLE_NO_COLUMN    -104    /* no column of that index/name */
#define FPMD_TABLE_WRONG_TYPE   -105    /* the column has another type */
#define FPMD_TABLE_TOO_SMALL    -106    /* the caller's buffer is */
#define FPMD_TABLE_OVERFLOW     -107    /* incr would leave int64 */
#define FPMD_TABLE_MISMATCH     -108    /* cas: the value was another */

enum fpmd_table_type {
    FPMD_TABLE_INT = 1,     /* int64_t */
    FPMD_TABLE_FLOAT = 2,   /* double */
    FPMD_TABLE_BYTES = 3,   /* up to size bytes, any of them */
};

/* One column's value for the row-wise calls, columns in spec order. */
struct fpmd_table_value {
    int64_t i;              /* FPMD_TABLE_INT */
    double f;               /* FPMD_TABLE_FLOAT */
    /* FPMD_TABLE_BYTES: set_row stores data[0..len); get_row copies the
     * value into buf (cap bytes) and sets len. */
    const void *data;
    void *buf;
    size_t cap;
    size_t len;
};

struct fpmd_table_stats {
    uint32_t rows;          /* capacity */
    uint32_t used;          /* as fpmd_table_count */
    uint64_t memory;        /* bytes of the mapping */
    uint64_t full;          /* inserts refused with FPMD_TABLE_FULL */
    uint64_t expired;       /* rows reclaimed after their TTL */
    uint64_t recovered;     /* locks taken over from a process that died
                             * holding them */
};

const char *fpmd_table_name(const struct fpmd_table *t);
/* The index of the column called name, or FPMD_TABLE_NO_COLUMN. Every
 * call below that takes a column takes this index, and answers a
 * negative one with FPMD_TABLE_NO_COLUMN, so a lookup's failure can be
 * passed straight through. */
int fpmd_table_column(const struct fpmd_table *t, const char *name);
uint32_t fpmd_table_capacity(const struct fpmd_table *t);
/* Rows in use now: expired ones not yet reclaimed included, and those a
 * process killed mid-call was adding or deleting, until the next call on
 * their stripe (or the next refusal for a full table) gives them back. */
uint32_t fpmd_table_count(const struct fpmd_table *t);
void fpmd_table_stats(const struct fpmd_table *t,
                      struct fpmd_table_stats *out);
/* A message for any code the calls below return; never NULL. */
const char *fpmd_table_strerror(int code);

/* Every call below locks the stripe of key (one of 256, chosen by the
 * key's hash) for its duration, so one call on one key is atomic with
 * respect to every other process; calls never suspend the coroutine and
 * wait at most for another process's call on a key of the same stripe.
 * Not async-signal-safe: no call from a signal handler. A key is klen
 * bytes of anything; longer than the table's key size is
 * FPMD_TABLE_KEY_TOO_LONG. FPMD_ERROR only if a lock reports itself
 * unrecoverable, which the recovery here never leaves one. */

/* Copies one value of the row out. FPMD_OK; FPMD_TABLE_NOT_FOUND;
 * FPMD_TABLE_NO_COLUMN, FPMD_TABLE_WRONG_TYPE; get_bytes: when the value
 * is longer than cap, FPMD_TABLE_TOO_SMALL with nothing copied and *len
 * set to its length (a buffer of the column's size always does). */
int fpmd_table_get_int(struct fpmd_table *t, const void *key, size_t klen,
                       int col, int64_t *out);
int fpmd_table_get_float(struct fpmd_table *t, const void *key, size_t klen,
                         int col, double *out);
int fpmd_table_get_bytes(struct fpmd_table *t, const void *key, size_t klen,
                         int col, void *buf, size_t cap, size_t *len);
/* Copies the whole row into vals[0..nvals), nvals being the column
 * count (else FPMD_TABLE_NO_COLUMN), in one critical section: a
 * consistent snapshot. Bytes columns as get_bytes, except that one
 * FPMD_TABLE_TOO_SMALL copies no column at all. */
int fpmd_table_get_row(struct fpmd_table *t, const void *key, size_t klen,
                       struct fpmd_table_value *vals, size_t nvals);

/* Set one column, creating the row when missing (its other columns 0 and
 * empty, no TTL); an existing row keeps its TTL. FPMD_OK;
 * FPMD_TABLE_FULL; FPMD_TABLE_NO_COLUMN, FPMD_TABLE_WRONG_TYPE,
 * FPMD_TABLE_TOO_LONG, checked before anything changes. */
int fpmd_table_set_int(struct fpmd_table *t, const void *key, size_t klen,
                       int col, int64_t v);
int fpmd_table_set_float(struct fpmd_table *t, const void *key, size_t klen,
                         int col, double v);
int fpmd_table_set_bytes(struct fpmd_table *t, const void *key, size_t klen,
                         int col, const void *v, size_t len);
/* Sets every column from vals[0..nvals) (nvals the column count) and the
 * row's TTL: expires ttl_ms milliseconds from now, never with 0 (like
 * Redis's SET, a whole-row set replaces the TTL). Creates the row when
 * missing. Codes as the single-column setters. */
int fpmd_table_set_row(struct fpmd_table *t, const void *key, size_t klen,
                       const struct fpmd_table_value *vals, size_t nvals,
                       uint64_t ttl_ms);
/* Gives an existing row a TTL of ttl_ms from now; 0 removes its TTL.
 * FPMD_OK or FPMD_TABLE_NOT_FOUND. */
int fpmd_table_expire(struct fpmd_table *t, const void *key, size_t klen,
                      uint64_t ttl_ms);

/* FPMD_OK or FPMD_TABLE_NOT_FOUND. */
int fpmd_table_delete(struct fpmd_table *t, const void *key, size_t klen);
bool fpmd_table_exists(struct fpmd_table *t, const void *key, size_t klen);

/* Adds delta to an int column and stores the sum in *result (may be
 * NULL); a missing row is created with 0 first. FPMD_TABLE_OVERFLOW
 * leaves the value as it was. Other codes as the setters. */
int fpmd_table_incr(struct fpmd_table *t, const void *key, size_t klen,
                    int col, int64_t delta, int64_t *result);
/* Same for a float column (IEEE addition: no overflow code). */
int fpmd_table_incr_float(struct fpmd_table *t, const void *key,
                          size_t klen, int col, double delta,
                          double *result);
/* Compare and set an int column: when it holds *expected, stores desired
 * and returns FPMD_OK; else returns FPMD_TABLE_MISMATCH and puts the
 * value it holds in *expected (C11's compare_exchange). A missing row
 * holds 0, as for incr: cas from 0 creates it. Other codes as the
 * setters. */
int fpmd_table_cas(struct fpmd_table *t, const void *key, size_t klen,
                   int col, int64_t *expected, int64_t desired);

/* --- logging ---------------------------------------------------------- */

void fpmd_log_req(struct fpmd_req *req, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The reason phrase of a status code, "Unknown" for codes without one. */
const char *fpmd_status_reason(int status);

#endif
