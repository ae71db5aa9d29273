/* SPDX-License-Identifier: BSD-2-Clause */
/* The request engine of a worker process: a request whose head is
 * complete is routed and its handler run in a coroutine (or queued at
 * pm.max_concurrency); parked handlers are resumed; an ended request
 * writes its scoreboard row, its route's counters and its access log
 * line; request_terminate_timeout and the slow log watch it meanwhile.
 * The codecs start requests here; the worker learns of the load through
 * the callback it registered. */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>

#include "fpmd/access_log.h"
#include "fpmd/clock.h"
#include "fpmd/escape.h"
#include "fpmd/hooks.h"
#include "fpmd/log.h"
#include "fpmd/process.h"
#include "fpmd/req.h"
#include "fpmd/request_id.h"
#include "fpmd/sched.h"

static struct {
    struct fpmd_router *router;
    struct fpmd_coro_pool *coros;
    void (*changed)(int ended);
    unsigned in_flight;
    unsigned queued;
    uint64_t started;           /* counts toward max_requests */
    uint64_t finished;          /* ended, background ones aside */
    bool finishing;
    /* Requests waiting for a max_concurrency slot, FIFO. */
    struct fpmd_req *queue_head, **queue_tail;
    bool running_queue;
    /* Requests in flight but background ones, in start order; the
     * scoreboard entries they hold. */
    struct fpmd_req *oldest, *newest;
    uint32_t flights_used;
} sched;

void
fpmd_sched_setup(struct fpmd_router *router, struct fpmd_coro_pool *coros,
                 void (*changed)(int ended))
{
    memset(&sched, 0, sizeof(sched));
    sched.router = router;
    sched.coros = coros;
    sched.changed = changed;
    sched.queue_tail = &sched.queue_head;
    fpmd_req_on_wake(fpmd_sched_resume);
}

void
fpmd_sched_finishing(void)
{
    sched.finishing = true;
}

unsigned
fpmd_sched_in_flight(void)
{
    return sched.in_flight;
}

uint64_t
fpmd_sched_started(void)
{
    return sched.started;
}

uint64_t
fpmd_sched_finished(void)
{
    return sched.finished;
}

unsigned
fpmd_sched_room(void)
{
    unsigned busy = sched.in_flight + sched.queued;
    unsigned max = fpmd_process.conf->pm.max_concurrency;

    return busy < max ? max - busy : 0;
}

bool
fpmd_sched_at_capacity(void)
{
    return fpmd_sched_room() == 0;
}

/* --- scoreboard ------------------------------------------------------- */

/* The entries of the scoreboard's in-flight list fit one bit each. */
_Static_assert(FPMD_SB_FLIGHTS <= 32, "flight entries are a uint32_t mask");

/* "GET,POST /users/{id}": a route as the status page names it. */
static void
route_label(char *buf, size_t len, const char *methods, const char *path)
{
    int n = snprintf(buf, len, "%s%s%s", methods ? methods : "",
                     methods ? " " : "", path ? path : "?");

    if (n < 0)
        buf[0] = '\0';
}

/* php-fpm's row shows req from its start: it is the oldest in flight. */
static void
row_write(const struct fpmd_req *req)
{
    struct fpmd_sb_request *r = &fpmd_process.slot->req;
    const char *script = fpmd_req_param(req, "SCRIPT_FILENAME");
    const char *user = fpmd_req_param(req, "REMOTE_USER");

    fpmd_scoreboard_copy_str(r->method, sizeof(r->method), req->method,
                             strlen(req->method));
    fpmd_scoreboard_copy_str(r->uri, sizeof(r->uri), req->uri,
                             strlen(req->uri));
    script = script ? script : req->path;
    fpmd_scoreboard_copy_str(r->script, sizeof(r->script), script,
                             strlen(script));
    user = user ? user : "";
    fpmd_scoreboard_copy_str(r->user, sizeof(r->user), user, strlen(user));
    r->content_length = req->content_length > 0
        ? (uint64_t) req->content_length : 0;
    r->start_us = req->start_us;
    r->duration_us = 0;
    r->cpu_us = 0;
    r->memory = 0;
}

/* Lists req in the scoreboard's entry i. */
static void
flight_write(struct fpmd_req *req, unsigned i)
{
    struct fpmd_sb_flight *f = &fpmd_process.flights->f[i];
    const struct fpmd_route *rt = req->match.route;

    f->start_us = req->start_us;
    fpmd_scoreboard_copy_str(f->method, sizeof(f->method), req->method,
                             strlen(req->method));
    fpmd_scoreboard_copy_str(f->uri, sizeof(f->uri), req->uri,
                             strlen(req->uri));
    if (rt == NULL)
        f->route[0] = '\0';
    else if (rt->conf != NULL)
        route_label(f->route, sizeof(f->route), rt->conf->methods,
                    rt->conf->path);
    else
        route_label(f->route, sizeof(f->route), rt->methods, rt->path);
    req->flight_entry = (uint8_t) (i + 1);
    sched.flights_used |= 1u << i;
}

/* A request starts: it joins the in-flight list as the newest, is listed
 * in the scoreboard if fewer than FPMD_SB_FLIGHTS are, and is php-fpm's
 * row if it is the only one. */
static void
slot_request_start(struct fpmd_req *req)
{
    bool only = sched.oldest == NULL;

    req->flight_prev = sched.newest;
    req->flight_next = NULL;
    if (only)
        sched.oldest = req;
    else
        sched.newest->flight_next = req;
    sched.newest = req;
    fpmd_scoreboard_begin_write(fpmd_process.slot);
    /* the count the list belongs to; the worker only writes it when its
     * state changes */
    fpmd_process.slot->in_flight = sched.in_flight;
    if (sched.in_flight > fpmd_process.slot->max_in_flight)
        fpmd_process.slot->max_in_flight = sched.in_flight;
    if (only)
        row_write(req);
    if (sched.flights_used != (1ULL << FPMD_SB_FLIGHTS) - 1)
        flight_write(req, (unsigned) __builtin_ctz(~sched.flights_used));
    fpmd_scoreboard_end_write(fpmd_process.slot);
}


/* The statistics row of req's config route; NULL for other routes. */
static struct fpmd_sb_route *
route_row(const struct fpmd_req *req)
{
    const struct fpmd_conf_route *cr;
    size_t i;

    if (req->match.route == NULL || (cr = req->match.route->conf) == NULL)
        return NULL;
    i = (size_t) (cr - fpmd_process.conf->routes);
    return i < fpmd_process.conf->nroutes && i < FPMD_SB_ROUTES
               ? &fpmd_process.routes->r[i] : NULL;
}

/* A request ends, in one write of the slot. php-fpm's row moves on to the
 * next oldest request, or keeps this one with its figures when it was the
 * last; its scoreboard entry goes to the oldest request not listed, so
 * that the list stays the oldest ones; its config route counts it. */
static void
slot_request_end(struct fpmd_req *req, uint64_t now, uint64_t cpu)
{
    struct fpmd_sb_request *r = &fpmd_process.slot->req;
    struct fpmd_sb_route *row = route_row(req);
    bool was_oldest = sched.oldest == req;

    if (req->flight_prev != NULL)
        req->flight_prev->flight_next = req->flight_next;
    else
        sched.oldest = req->flight_next;
    if (req->flight_next != NULL)
        req->flight_next->flight_prev = req->flight_prev;
    else
        sched.newest = req->flight_prev;
    fpmd_scoreboard_begin_write(fpmd_process.slot);
    fpmd_process.slot->in_flight = sched.in_flight - 1;     /* this one */
    if (was_oldest && sched.oldest != NULL) {
        row_write(sched.oldest);
    } else if (was_oldest) {
        r->duration_us = now - req->start_us;
        r->cpu_us = cpu;
        r->memory = req->arena.used;
    }
    if (req->flight_entry != 0) {
        unsigned i = req->flight_entry - 1u;
        struct fpmd_req *next = sched.oldest;

        fpmd_process.flights->f[i].start_us = 0;
        sched.flights_used &= ~(1u << i);
        req->flight_entry = 0;
        while (next != NULL && next->flight_entry != 0)
            next = next->flight_next;
        if (next != NULL)
            flight_write(next, i);
    }
    if (row != NULL) {
        struct fpmd_sb_side *side = req->served_legacy ? &row->legacy
                                                       : &row->native;

        side->requests++;
        side->errors += req->status >= 500 || req->terminated
            || req->cut_short || (req->aborted && !req->finished);
        side->sum_us += now - req->start_us;
        side->hist[fpmd_sb_hist_bucket(now - req->start_us)]++;
    }
    fpmd_scoreboard_end_write(fpmd_process.slot);
}

/* The config routes' rows, named, counters from zero, and an empty
 * in-flight list: the slot may have been another worker's. */
void
fpmd_sched_routes_init(void)
{
    const struct fpmd_conf *conf = fpmd_process.conf;

    memset(fpmd_process.routes, 0, sizeof(*fpmd_process.routes));
    memset(fpmd_process.flights, 0, sizeof(*fpmd_process.flights));
    for (size_t i = 0; i < conf->nroutes && i < FPMD_SB_ROUTES; i++) {
        const struct fpmd_conf_route *cr = &conf->routes[i];
        struct fpmd_sb_route *row = &fpmd_process.routes->r[i];
        char handler[FPMD_SB_HANDLER_LEN];
        int hn;

        route_label(row->label, sizeof(row->label), cr->methods, cr->path);
        hn = cr->legacy ? snprintf(handler, sizeof(handler), "legacy:%s",
                                   cr->legacy)
                        : snprintf(handler, sizeof(handler), "%s",
                                   cr->handler);
        fpmd_scoreboard_copy_str(row->handler, sizeof(row->handler), handler,
                                 hn > 0 ? (size_t) hn : 0);
    }
}


/* --- access and slow logs ---------------------------------------------- */

/* The request id's param shows the id, made-up ones included, so that
 * %{HTTP_X_REQUEST_ID}e logs what the legacy backend was sent. */
static const char *
access_param(void *ctx, const char *name)
{
    struct fpmd_req *req = ctx;
    const char *rid = fpmd_request_id_param();

    if (rid != NULL && strcmp(name, rid) == 0)
        return fpmd_request_id(req);
    return fpmd_req_param(req, name);
}

static const char *
access_out_header(void *ctx, const char *name)
{
    return fpmd_req_resp_header(ctx, name);
}

static void
write_access_log(struct fpmd_req *req, uint64_t now, uint64_t cpu)
{
    struct fpmd_access_info ai;
    struct evbuffer *line;
    const char *script = fpmd_req_param(req, "SCRIPT_FILENAME");
    const char *user = fpmd_req_param(req, "REMOTE_USER");

    if (!fpmd_log_access_enabled())
        return;
    memset(&ai, 0, sizeof(ai));
    ai.pool = fpmd_process.conf->pool_name;
    ai.method = req->method;
    ai.uri = req->uri;
    ai.query = req->query;
    ai.script = script ? script : req->path;
    ai.remote_addr = req->remote_addr;
    ai.remote_user = user;
    ai.status = req->status;
    ai.content_length = req->content_length > 0
        ? (uint64_t) req->content_length : 0;
    ai.start_us = req->start_us;
    ai.end_us = now;
    ai.cpu_us = cpu;
    ai.memory = req->arena.used;
    ai.pid = getpid();
    ai.ppid = getppid();
    ai.param = access_param;
    ai.out_header = access_out_header;
    ai.ctx = req;
    line = evbuffer_new();
    if (line == NULL)
        return;
    if (fpmd_access_log_format(line, fpmd_process.conf->log.access_format
                                         ? fpmd_process.conf->log.access_format
                                         : fpmd_access_log_default_format,
                               &ai) == FPMD_OK)
        fpmd_log_access_write((const char *) evbuffer_pullup(line, -1),
                              evbuffer_get_length(line));
    evbuffer_free(line);
}

static const char *
route_name(const struct fpmd_req *req)
{
    return req->match.route != NULL ? fpmd_route_handler_name(req->match.route)
                                    : "-";
}

/* php-fpm's wording, so that what watches its log keeps matching. */
static void
log_overrun(const struct fpmd_req *req, const char *what, uint64_t ms,
            const char *action)
{
    fpmd_log(FPMD_LOG_WARNING, "[pool %s] child %d, route '%s' (request: "
             "\"%s %s\") %s (%.3f sec), %s", fpmd_process.conf->pool_name,
             (int) getpid(), route_name(req), req->method, req->uri, what,
             (double) ms / 1000.0, action);
}

/* One field of a slow-log entry, escaped (escape.h) into buf. */
static const char *
slow_field(char *buf, size_t cap, const char *s)
{
    fpmd_escape(buf, cap, s, strlen(s), FPMD_ESCAPE_QUOTE);
    return buf;
}

static void
on_slow(evutil_socket_t fd, short what, void *arg)
{
    struct fpmd_req *req = arg;
    const char *script = fpmd_req_param(req, "SCRIPT_FILENAME");
    char line[1024];
    char when[64];
    char esc_script[256], esc_method[64], esc_uri[512];
    time_t t = time(NULL);
    struct tm tm;
    int n;

    req->slow_armed = false;
    localtime_r(&t, &tm);
    strftime(when, sizeof(when), "%d-%b-%Y %H:%M:%S", &tm);
    /* php-fpm's slowlog entry shape, with the route standing in for the
     * PHP backtrace. The entry's own lines are the only newlines in it. */
    n = snprintf(line, sizeof(line),
                 "\n[%s]  [pool %s] pid %d\nscript_filename = %s\n"
                 "route = %s\nrequest = \"%s %s\"\n",
                 when, fpmd_process.conf->pool_name, (int) getpid(),
                 slow_field(esc_script, sizeof(esc_script),
                            script ? script : req->path),
                 route_name(req),
                 slow_field(esc_method, sizeof(esc_method), req->method),
                 slow_field(esc_uri, sizeof(esc_uri), req->uri));
    if (n > 0)
        fpmd_log_slow_write(line, (size_t) n < sizeof(line)
                                      ? (size_t) n : sizeof(line) - 1);
    log_overrun(req, "executing too slow",
                fpmd_process.conf->timeouts.slowlog_ms, "logging");
    fpmd_scoreboard_begin_write(fpmd_process.slot);
    fpmd_process.slot->slow_requests++;
    fpmd_scoreboard_end_write(fpmd_process.slot);
}

static void complete(struct fpmd_req *req);

static void
on_terminate(evutil_socket_t fd, short what, void *arg)
{
    struct fpmd_req *req = arg;

    req->term_armed = false;
    log_overrun(req, "execution timed out",
                fpmd_process.conf->timeouts.request_terminate_ms,
                "terminating");
    fpmd_scoreboard_begin_write(fpmd_process.slot);
    fpmd_process.slot->terminated_requests++;
    fpmd_scoreboard_end_write(fpmd_process.slot);
    /* The handler is parked (this timer could fire): drop its coroutine
     * without unwinding; its defers still run when the request is freed. */
    fpmd_coro_free(req->co);
    req->co = NULL;
    req->wait = FPMD_WAIT_NONE;
    req->terminated = 1;
    if (req->wake_armed) {
        event_del(&req->wake_ev);
        req->wake_armed = false;
    }
    if (!req->head_sent && !req->aborted)
        fpmd_reply_error(req, 504, "request_terminate_timeout");
    else if (req->head_sent)
        req->cut_short = 1;
    req->aborted = 1;
    complete(req);
}


/* --- running requests ------------------------------------------------- */

static int
dispatch(struct fpmd_req *req)
{
    switch (req->route_status) {
    case 200:
        return req->match.route->handler->fn(req);
    case 405:
        fpmd_resp_header(req, "Allow", req->match.allow);
        return fpmd_reply_error(req, 405, NULL);
    default:
        return fpmd_reply_error(req, req->route_status, NULL);
    }
}

static void
run_handler(void *arg)
{
    struct fpmd_req *req = arg;
    int rc = req->background ? req->background_fn(req)
                             : fpmd_hooks_run(req, dispatch);

    if (rc != FPMD_OK && !req->head_sent && !req->aborted)
        fpmd_reply_error(req, req->body_too_large ? 413 : 500, NULL);
}


static void run(struct fpmd_req *req);

static void
complete(struct fpmd_req *req)
{
        uint64_t now, cpu;

    if (!req->head_sent && !req->aborted)
        fpmd_resp_write(req, NULL, 0);
    req->ops->finish(req);
    now = fpmd_now_us();
    cpu = req->oncpu_ns / 1000;
    if (!req->background) {
        slot_request_end(req, now, cpu);
        write_access_log(req, now, cpu);
        sched.finished++;
    }
    sched.in_flight--;
    req->ops->release(req);
    /* Queued requests start here; one that finishes at once completes
     * inside run(), and only this outermost loop takes the next, so the
     * stack does not grow with the queue. */
    while (!sched.running_queue && sched.queue_head != NULL
           && sched.in_flight < fpmd_process.conf->pm.max_concurrency) {
        struct fpmd_req *next = sched.queue_head;

        sched.queue_head = next->queue_next;
        if (sched.queue_head == NULL)
            sched.queue_tail = &sched.queue_head;
        sched.queued--;
        sched.running_queue = true;
        run(next);
        sched.running_queue = false;
    }
    sched.changed(1);
}

void
fpmd_sched_resume(struct fpmd_req *req)
{
    uint64_t t0;
    int rc;

    if (req->co == NULL)
        return;
    /* A request's CPU is the time its handler runs: in one event loop per
     * process, that is the wall time between resume and yield (two vDSO
     * clock reads instead of two getrusage syscalls per request). */
    t0 = fpmd_mono_ns();
    rc = fpmd_coro_resume(req->co);
    req->oncpu_ns += fpmd_mono_ns() - t0;
    if (rc == FPMD_DONE) {
        fpmd_coro_free(req->co);
        req->co = NULL;
        complete(req);
    }
}

static void
arm_timer(struct event *ev, bool *armed, uint64_t ms,
          void (*cb)(evutil_socket_t, short, void *), struct fpmd_req *req)
{
    struct timeval tv = {(time_t) (ms / 1000),
                         (suseconds_t) (ms % 1000) * 1000};

    if (ms == 0)
        return;
    event_assign(ev, fpmd_process.base, -1, 0, cb, req);
    event_add(ev, &tv);
    *armed = true;
}

static void
run(struct fpmd_req *req)
{
    const struct fpmd_conf *conf = fpmd_process.conf;

    req->co = fpmd_coro_new(sched.coros, run_handler, req);
    sched.in_flight++;
    req->start_us = fpmd_now_us();
    if (!req->background)
        slot_request_start(req);
    /* before the handler runs: one that never yields must be seen busy */
    sched.changed(0);
    if (req->co == NULL) {
        fpmd_log(FPMD_LOG_ERROR, "%s %s: no coroutine stack available",
                 req->method, req->uri);
        fpmd_reply_error(req, 503, "out of memory");
        complete(req);
        return;
    }
    arm_timer(&req->term_ev, &req->term_armed,
              conf->timeouts.request_terminate_ms, on_terminate, req);
    if (!req->background)
        arm_timer(&req->slow_ev, &req->slow_armed, conf->timeouts.slowlog_ms,
                  on_slow, req);
    fpmd_sched_resume(req);
}

/* Sets req->route_status: the route's 200, 404 or 405, or 503 when the
 * script/PATH_INFO split shims need is out of memory. */
static void
route(struct fpmd_router *r, struct fpmd_req *req)
{
    struct fpmd_route_req q = {req->method, req->path, NULL, NULL,
                               req->query};

    if (!fpmd_router_has_shims(r)) {
        fpmd_router_match(r, req->method, req->path, &req->match);
    } else if (fpmd_req_split(req) != FPMD_OK) {
        req->route_status = 503;
        return;
    } else {
        q.script = req->script;
        q.path_info = req->path_info;
        fpmd_router_match_req(r, &q, &req->match);
    }
    req->route_status = req->match.status;
}

int
fpmd_sched_start_background(struct fpmd_req *req, fpmd_handler_fn fn)
{
    /* A worker on its way out, or at its cap, takes no work nobody
     * waits for. */
    if (sched.finishing
        || sched.in_flight >= fpmd_process.conf->pm.max_concurrency) {
        fpmd_req_free(req);
        return FPMD_ERROR;
    }
    req->started = 1;
    req->route_status = 200;
    req->background_fn = fn;
    run(req);
    return FPMD_OK;
}

void
fpmd_sched_start(struct fpmd_req *req)
{
    req->started = 1;
    sched.started++;
    if (req->route_status == 0)
        route(sched.router, req);
    if (sched.in_flight >= fpmd_process.conf->pm.max_concurrency) {
        /* Keep-alive and multiplexed requests still reach a worker at its
         * cap; they wait their turn instead of being refused. */
        req->queue_next = NULL;
        *sched.queue_tail = req;
        sched.queue_tail = &req->queue_next;
        sched.queued++;
        sched.changed(0);
        return;
    }
    run(req);
}

