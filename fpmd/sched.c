/* SPDX-License-Identifier: BSD-2-Clause */
/* The request engine of a worker process: a request whose head is
 * complete is routed and its handler run in a coroutine; at
 * pm.max_concurrency it waits in a FIFO bounded by pm.max_queue and
 * timeouts.queue, and past either it is answered 503 at once (admission
 * control: a bounded wait, never an unbounded queue). Parked handlers are
 * resumed; an ended request writes its scoreboard row, its route's
 * counters and its access log line; request_terminate_timeout and the
 * slow log watch it meanwhile. The codecs start requests here; the worker
 * learns of the load through the callback it registered. */
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
#include "fpmd/ratelimit.h"
#include "fpmd/req.h"
#include "fpmd/request_id.h"
#include "fpmd/sched.h"

static struct {
    struct fpmd_router *router;
    struct fpmd_coro_pool *coros;
    void (*changed)(int ended);
    unsigned in_flight;
    unsigned background;        /* of in_flight: no client's */
    unsigned queued;
    uint64_t started;           /* counts toward max_requests */
    uint64_t finished;          /* ended, background ones aside */
    bool finishing;
    /* Requests waiting for a max_concurrency slot, FIFO: all wait the same
     * timeouts.queue, so the head's deadline comes first and one timer,
     * armed for it, serves the whole queue. */
    struct fpmd_req *queue_head, **queue_tail;
    struct event deadline_ev;
    bool deadline_armed;
    bool running_queue;
    /* The request the slot's running record shows; NULL once it ended,
     * so that a new request at the same address is written anew. */
    const struct fpmd_req *running;
    /* Requests in flight but background ones, in start order; the
     * scoreboard entries they hold. */
    struct fpmd_req *oldest, *newest;
    uint32_t flights_used;
} sched;

/* What a refused request's client is told to wait before trying again. */
#define RETRY_AFTER "1"

static struct fpmd_log_tally full_tally, deadline_tally;

static void on_deadline(evutil_socket_t fd, short what, void *arg);

void
fpmd_sched_setup(struct fpmd_router *router, struct fpmd_coro_pool *coros,
                 void (*changed)(int ended))
{
    memset(&sched, 0, sizeof(sched));
    sched.router = router;
    sched.coros = coros;
    sched.changed = changed;
    sched.queue_tail = &sched.queue_head;
    event_assign(&sched.deadline_ev, fpmd_process.base, -1, 0, on_deadline,
                 NULL);
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

unsigned
fpmd_sched_requests_in_flight(void)
{
    return sched.in_flight - sched.background;
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
fpmd_sched_queued(void)
{
    return sched.queued;
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

bool
fpmd_sched_pool_saturated(void)
{
    const struct fpmd_scoreboard *sb = fpmd_process.sb;

    return !fpmd_scoreboard_room_elsewhere(
        sb, (uint32_t) (fpmd_process.slot - sb->slots),
        fpmd_process.conf->pm.max_concurrency);
}

/* --- scoreboard ------------------------------------------------------- */

/* The entries of the scoreboard's in-flight list fit one bit each. */
_Static_assert(FPMD_SB_FLIGHTS <= 32, "flight entries are a uint32_t mask");

/* "GET,POST /users/{id}": a route as the status page names it. */
static void
route_label(char *buf, size_t len, const char *methods, const char *path)
{
    const char *parts[3] = {methods ? methods : "", methods ? " " : "",
                            path ? path : "?"};
    size_t n = 0;

    /* Written for every request listed in flight: no printf. */
    for (size_t i = 0; i < 3; i++) {
        size_t l = strnlen(parts[i], len - 1 - n);

        memcpy(buf + n, parts[i], l);
        n += l;
    }
    buf[n] = '\0';
}

/* The scoreboard's copy of a request's string s, cut to len. */
static void
sb_copy(char *dst, size_t len, const char *s)
{
    fpmd_scoreboard_copy_str(dst, len, s, strlen(s));
}

/* The script php-fpm would name for req: SCRIPT_FILENAME from a web
 * server, else the path. */
static const char *
script_of(const struct fpmd_req *req)
{
    const char *script = fpmd_req_param(req, "SCRIPT_FILENAME");

    return script ? script : req->path;
}

/* php-fpm's row shows req from its start: it is the oldest in flight. */
static void
row_write(const struct fpmd_req *req)
{
    struct fpmd_sb_request *r = &fpmd_process.slot->req;
    const char *script = script_of(req);
    const char *user = fpmd_req_param(req, "REMOTE_USER");

    sb_copy(r->method, sizeof(r->method), req->method);
    sb_copy(r->uri, sizeof(r->uri), req->uri);
    sb_copy(r->script, sizeof(r->script), script);
    sb_copy(r->user, sizeof(r->user), user ? user : "");
    r->content_length = req->content_length > 0
        ? (uint64_t) req->content_length : 0;
    r->start_us = req->start_us;
    r->duration_us = 0;
    r->cpu_us = 0;
    r->memory = 0;
}

/* req's handler is about to run: the slot's running record names it, so
 * that if it blocks the loop the master's warning names it, whichever
 * request php-fpm's row shows. Written only when another request ran
 * last, not at every resume. */
static void
running_write(const struct fpmd_req *req)
{
    struct fpmd_sb_running *r = &fpmd_process.slot->running;
    const char *script;

    if (sched.running == req)
        return;
    sched.running = req;
    script = script_of(req);
    fpmd_scoreboard_begin_write(fpmd_process.slot);
    sb_copy(r->method, sizeof(r->method), req->method);
    sb_copy(r->uri, sizeof(r->uri), req->uri);
    sb_copy(r->script, sizeof(r->script), script);
    fpmd_scoreboard_end_write(fpmd_process.slot);
}

/* Lists req in the scoreboard's entry i. */
static void
flight_write(struct fpmd_req *req, unsigned i)
{
    struct fpmd_sb_flight *f = &fpmd_process.flights->f[i];
    const struct fpmd_route *rt = req->match.route;

    f->start_us = req->start_us;
    sb_copy(f->method, sizeof(f->method), req->method);
    sb_copy(f->uri, sizeof(f->uri), req->uri);
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
    fpmd_process.slot->in_flight = fpmd_sched_requests_in_flight();
    if (fpmd_process.slot->in_flight > fpmd_process.slot->max_in_flight)
        fpmd_process.slot->max_in_flight = fpmd_process.slot->in_flight;
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
    /* this one */
    fpmd_process.slot->in_flight = fpmd_sched_requests_in_flight() - 1;
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

        if (req->route_counted)
            __atomic_fetch_sub(&row->in_flight, 1, __ATOMIC_RELAXED);

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

static const char *
access_trace(void *ctx, const char *what)
{
    const struct fpmd_req_trace *t = fpmd_request_trace(ctx);

    if (t == NULL)
        return NULL;
    if (what == NULL || strcmp(what, "trace_id") == 0)
        return t->trace_id;
    if (strcmp(what, "traceparent") == 0)
        return t->traceparent;
    if (strcmp(what, "parent") == 0)
        return t->parent;
    return NULL;
}

static void
write_access_log(struct fpmd_req *req, uint64_t now, uint64_t cpu)
{
    struct fpmd_access_info ai;
    struct evbuffer *line;
    const char *user = fpmd_req_param(req, "REMOTE_USER");

    if (!fpmd_log_access_enabled())
        return;
    memset(&ai, 0, sizeof(ai));
    ai.pool = fpmd_process.conf->pool_name;
    ai.method = req->method;
    ai.uri = req->uri;
    ai.query = req->query;
    ai.script = script_of(req);
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
    ai.trace = access_trace;
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

/* The slow-log line naming the call req's handler is parked on, and
 * since when, in buf: "waiting on: redis pool cache, server
 * 127.0.0.1:6379, GET user:42 (for 2.31 s)\n"; its length, 0 when it
 * waits on none. */
static size_t
slow_waiting(const struct fpmd_req *req, char *buf, size_t cap)
{
    char what[256], esc[512];
    int n;

    if (req->waiting_fn == NULL)
        return 0;
    req->waiting_fn(req->waiting_arg, what, sizeof(what));
    n = snprintf(buf, cap, "waiting on: %s (for %.2f s)\n",
                 slow_field(esc, sizeof(esc), what),
                 (double) (fpmd_mono_ns() - req->waiting_since_ns) / 1e9);
    return n > 0 ? ((size_t) n < cap ? (size_t) n : cap - 1) : 0;
}

static void
on_slow(evutil_socket_t fd, short what, void *arg)
{
    struct fpmd_req *req = arg;
    const char *script = fpmd_req_param(req, "SCRIPT_FILENAME");
    char line[1536];
    char when[64];
    char esc_script[256], esc_method[64], esc_uri[512];
    time_t t = time(NULL);
    struct tm tm;
    size_t len;
    int n;

    req->slow_armed = false;
    localtime_r(&t, &tm);
    strftime(when, sizeof(when), "%d-%b-%Y %H:%M:%S", &tm);
    /* php-fpm's slowlog entry shape, with the route, and the backend call
     * the handler waits on, standing in for the PHP backtrace. The
     * entry's own lines are the only newlines in it. */
    n = snprintf(line, sizeof(line),
                 "\n[%s]  [pool %s] pid %d\nscript_filename = %s\n"
                 "route = %s\nrequest = \"%s %s\"\n",
                 when, fpmd_process.conf->pool_name, (int) getpid(),
                 slow_field(esc_script, sizeof(esc_script),
                            script ? script : req->path),
                 route_name(req),
                 slow_field(esc_method, sizeof(esc_method), req->method),
                 slow_field(esc_uri, sizeof(esc_uri), req->uri));
    if (n > 0) {
        len = (size_t) n < sizeof(line) ? (size_t) n : sizeof(line) - 1;
        len += slow_waiting(req, line + len, sizeof(line) - len);
        fpmd_log_slow_write(line, len);
    }
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
    req->waiting_fn = NULL;
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

_Static_assert(FPMD_SB_ROUTES >= FPMD_MAX_LIMITED_ROUTES,
               "a limited route has its scoreboard row");

/* The bucket of req under its route's rate_limit: the route's index,
 * then the key's value (empty when the request has none). */
static size_t
rate_key(struct fpmd_req *req, const struct fpmd_conf_rate_limit *rl,
         size_t route, unsigned char *out, size_t len)
{
    const char *v = NULL;
    size_t n;

    out[0] = (unsigned char) (route >> 8);
    out[1] = (unsigned char) route;
    switch (rl->key) {
    case FPMD_RATE_KEY_ADDR:
        v = fpmd_req_remote_addr(req);
        break;
    case FPMD_RATE_KEY_HEADER:
        v = fpmd_req_param(req, rl->name);
        break;
    case FPMD_RATE_KEY_PARAM:
        v = fpmd_req_route_param(req, rl->name);
        break;
    default:
        break;
    }
    n = v ? strlen(v) : 0;
    if (n > len - 2)
        n = len - 2;
    memcpy(out + 2, v ? v : "", n);
    return 2 + n;
}

static void
count_refusal(uint64_t *counter)
{
    fpmd_scoreboard_begin_write(fpmd_process.slot);
    (*counter)++;
    fpmd_scoreboard_end_write(fpmd_process.slot);
}

/* A config route's rate_limit: and concurrency:, before its handler
 * (and after the hooks, which may answer first): true when one refused
 * req, which then has its 429 or 503. The concurrency bound is the
 * pool's: every worker's count of the route's requests in flight, read
 * from the scoreboard, which the master clears for a worker that died. */
static bool
route_refuses(struct fpmd_req *req)
{
    const struct fpmd_conf *conf = fpmd_process.conf;
    const struct fpmd_conf_route *cr = req->match.route->conf;
    struct fpmd_sb_route *row;
    size_t i;

    /* most routes have neither: nothing more on their path */
    if (cr == NULL || (cr->rate_limit == NULL && cr->concurrency == 0)
        || (row = route_row(req)) == NULL)
        return false;
    i = (size_t) (cr - conf->routes);
    if (cr->rate_limit != NULL && fpmd_process.ratelimit != NULL) {
        unsigned char key[2 + 256];
        char after[24];
        uint64_t retry;

        if (fpmd_ratelimit_take(fpmd_process.ratelimit, key,
                                rate_key(req, cr->rate_limit, i, key,
                                         sizeof(key)),
                                cr->rate_limit->rate, cr->rate_limit->burst,
                                fpmd_mono_ns() / 1000, &retry) == FPMD_AGAIN) {
            snprintf(after, sizeof(after), "%llu", (unsigned long long)
                     ((retry + 999999) / 1000000));
            count_refusal(&row->rate_limited);
            fpmd_resp_header(req, "Retry-After", after);
            fpmd_reply_error(req, 429, "rate limit");
            return true;
        }
    }
    if (cr->concurrency != 0) {
        const struct fpmd_scoreboard *sb = fpmd_process.sb;
        unsigned n = 0;

        /* counted first, then the sum: two workers at the same instant
         * may both refuse, never both pass the bound */
        __atomic_fetch_add(&row->in_flight, 1, __ATOMIC_SEQ_CST);
        for (uint32_t s = 0; s < sb->nslots; s++)
            n += __atomic_load_n(&sb->routes[s].r[i].in_flight,
                                 __ATOMIC_SEQ_CST);
        if (n > cr->concurrency) {
            __atomic_fetch_sub(&row->in_flight, 1, __ATOMIC_SEQ_CST);
            count_refusal(&row->concurrency_refused);
            fpmd_resp_header(req, "Retry-After", RETRY_AFTER);
            fpmd_reply_error(req, 503, "route concurrency");
            return true;
        }
        req->route_counted = 1;
    }
    return false;
}

static int
dispatch(struct fpmd_req *req)
{
    switch (req->route_status) {
    case 200:
        if (route_refuses(req))
            return FPMD_OK;
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
        fpmd_reply_error(req, req->body_too_large ? 413
                              : req->memory_full  ? 503
                                                  : 500, NULL);
}


static void run(struct fpmd_req *req);

/* --- the queue -------------------------------------------------------- */

static void
arm_deadline(void)
{
    uint64_t limit = fpmd_process.conf->timeouts.queue_ms * 1000000;
    uint64_t waited, left;
    struct timeval tv;

    if (sched.deadline_armed || sched.queue_head == NULL || limit == 0)
        return;
    waited = fpmd_mono_ns() - sched.queue_head->queued_ns;
    left = waited < limit ? limit - waited : 0;
    tv.tv_sec = (time_t) (left / 1000000000);
    tv.tv_usec = (suseconds_t) (left % 1000000000 / 1000);
    event_add(&sched.deadline_ev, &tv);
    sched.deadline_armed = true;
}

static void
enqueue(struct fpmd_req *req)
{
    req->queue_next = NULL;
    req->queued_ns = fpmd_mono_ns();
    /* Until it runs, its access log line counts from here. */
    req->start_us = fpmd_now_us();
    *sched.queue_tail = req;
    sched.queue_tail = &req->queue_next;
    sched.queued++;
    arm_deadline();
}

static struct fpmd_req *
dequeue(void)
{
    struct fpmd_req *req = sched.queue_head;

    sched.queue_head = req->queue_next;
    if (sched.queue_head == NULL)
        sched.queue_tail = &sched.queue_head;
    sched.queued--;
    return req;
}

/* Ends a request that never ran. Its client, unless gone already, gets a
 * 503 with Retry-After and the access log a line; the scoreboard counts a
 * refusal, while the per-request row and the route's counters stay as
 * they are: no handler ran. */
static void
refuse(struct fpmd_req *req)
{
    bool answered = !req->aborted;
    uint64_t now = fpmd_now_us();

    if (answered) {
        fpmd_resp_header(req, "Retry-After", RETRY_AFTER);
        fpmd_reply_error(req, 503, "server busy");
    }
    req->ops->finish(req);
    if (answered) {
        if (req->start_us == 0)
            req->start_us = now;
        write_access_log(req, now, 0);
        fpmd_scoreboard_begin_write(fpmd_process.slot);
        fpmd_process.slot->refused_requests++;
        fpmd_scoreboard_end_write(fpmd_process.slot);
    }
    req->ops->release(req);
}

/* The queue's head waited timeouts.queue: it, and whatever waited as
 * long behind it, is refused. */
static void
on_deadline(evutil_socket_t fd, short what, void *arg)
{
    const struct fpmd_conf *conf = fpmd_process.conf;
    uint64_t limit = conf->timeouts.queue_ms * 1000000;
    uint64_t now = fpmd_mono_ns();
    bool ended = false;

    sched.deadline_armed = false;
    while (sched.queue_head != NULL
           && now - sched.queue_head->queued_ns >= limit) {
        struct fpmd_req *req = dequeue();

        if (!req->aborted)
            fpmd_log_tally(&deadline_tally, FPMD_LOG_WARNING, "a request "
                           "waited timeouts.queue (%.3f sec) for one of "
                           "pm.max_concurrency (%u) slots: answered 503",
                           (double) conf->timeouts.queue_ms / 1000.0,
                           conf->pm.max_concurrency);
        refuse(req);
        ended = true;
    }
    arm_deadline();
    if (ended)
        sched.changed(1);
}

static void
complete(struct fpmd_req *req)
{
    uint64_t now, cpu;

    if (!req->head_sent && !req->aborted)
        fpmd_resp_write(req, NULL, 0);
    /* Whatever the handler made of its failed writes, nobody got it;
     * a 502 here would blame the backend for the client's leaving. */
    if (req->client_gone && !req->head_sent)
        req->status = 499;
    req->ops->finish(req);
    now = fpmd_now_us();
    cpu = req->oncpu_ns / 1000;
    if (!req->background) {
        slot_request_end(req, now, cpu);
        write_access_log(req, now, cpu);
        sched.finished++;
    }
    sched.in_flight--;
    sched.background -= req->background;
    if (sched.running == req)
        sched.running = NULL;
    req->ops->release(req);
    /* Queued requests start here; one that finishes at once completes
     * inside run(), and only this outermost loop takes the next, so the
     * stack does not grow with the queue. One whose client left while it
     * waited is not run for nobody. */
    while (!sched.running_queue && sched.queue_head != NULL
           && sched.in_flight < fpmd_process.conf->pm.max_concurrency) {
        struct fpmd_req *next = dequeue();

        sched.running_queue = true;
        if (next->aborted)
            refuse(next);
        else
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
    running_write(req);
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
    sched.background += req->background;
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
     * waits for, nor any ahead of requests waiting for a slot. */
    if (sched.finishing || sched.queue_head != NULL
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
fpmd_sched_start_run(struct fpmd_req *req, fpmd_handler_fn fn)
{
    /* The master asked for it, once per tick: no cap turns it away, but
     * a worker that will not be there to finish it does. */
    if (sched.finishing) {
        fpmd_req_free(req);
        return;
    }
    req->started = 1;
    req->route_status = 200;
    req->background_fn = fn;
    run(req);
}

void
fpmd_sched_start(struct fpmd_req *req)
{
    const struct fpmd_conf *conf = fpmd_process.conf;
    bool wait = sched.in_flight >= conf->pm.max_concurrency
        || sched.queue_head != NULL;

    req->started = 1;
    if (wait && sched.queued >= conf->pm.max_queue) {
        fpmd_log_tally(&full_tally, FPMD_LOG_WARNING, "server reached "
                       "pm.max_queue (%u requests waiting, %u running): "
                       "answered 503; consider raising pm.max_children or "
                       "pm.max_concurrency", conf->pm.max_queue,
                       sched.in_flight);
        refuse(req);
        sched.changed(1);
        return;
    }
    sched.started++;
    if (req->route_status == 0)
        route(sched.router, req);
    if (wait) {
        /* Keep-alive and multiplexed requests, and those of connections
         * taken while every worker was busy, wait their turn, for a
         * bounded time. */
        enqueue(req);
        sched.changed(0);
        return;
    }
    run(req);
}
