/* SPDX-License-Identifier: BSD-2-Clause */
/* The worker process: takes connections (accept.c) from inherited
 * listeners and from siblings, runs each request's handler in a coroutine,
 * enforces max_concurrency, request timeouts and max_requests, reports to
 * its scoreboard slot, gives its spare memory back after a flood, and
 * exits gracefully on SIGQUIT (finish what is in flight; hand connections
 * over or close them, as the signal says) or at once on SIGTERM. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>

#include "fpmd/accept.h"
#include "fpmd/access_log.h"
#include "fpmd/clock.h"
#include "fpmd/conn.h"
#include "fpmd/fcgi_conn.h"
#include "fpmd/hooks.h"
#include "fpmd/http_conn.h"
#include "fpmd/log.h"
#include "fpmd/process.h"
#include "fpmd/prepare.h"
#include "fpmd/req.h"
#include "fpmd/request_id.h"
#include "fpmd/service.h"
#include "fpmd/worker.h"

struct fpmd_worker *fpmd_worker;
struct fpmd_process fpmd_process;

/* For trim_memory: the peak load of the current second. */
static void
note_load(struct fpmd_worker *w)
{
    unsigned now = w->connections + w->in_flight;

    if (now > w->load_peak)
        w->load_peak = now;
}

/* --- scoreboard ------------------------------------------------------- */

static void
slot_update_state(struct fpmd_worker *w)
{
    struct fpmd_sb_slot *s = w->slot;
    uint32_t state;

    if (w->finishing)
        state = FPMD_SB_FINISHING;
    else if (w->in_flight > 0)
        state = FPMD_SB_BUSY;
    else
        state = FPMD_SB_IDLE;
    fpmd_scoreboard_begin_write(s);
    if (state == FPMD_SB_IDLE && s->state != FPMD_SB_IDLE)
        s->last_idle_us = fpmd_now_us();
    s->state = state;
    s->in_flight = w->in_flight;
    if (w->in_flight > s->max_in_flight)
        s->max_in_flight = w->in_flight;
    s->connections = w->connections;
    s->requests = w->requests;
    fpmd_scoreboard_end_write(s);
}

static void
slot_request_start(struct fpmd_worker *w, struct fpmd_req *req)
{
    struct fpmd_sb_request *r = &w->slot->req;
    const char *script = fpmd_req_param(req, "SCRIPT_FILENAME");
    const char *user = fpmd_req_param(req, "REMOTE_USER");

    fpmd_scoreboard_begin_write(w->slot);
    fpmd_scoreboard_copy_str(r->method, sizeof(r->method), req->method,
                             strlen(req->method));
    fpmd_scoreboard_copy_str(r->uri, sizeof(r->uri), req->uri,
                             strlen(req->uri));
    fpmd_scoreboard_copy_str(r->query, sizeof(r->query), req->query,
                             strlen(req->query));
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
    fpmd_scoreboard_end_write(w->slot);
}

/* The statistics row of req's config route; NULL for other routes. */
static struct fpmd_sb_route *
route_row(struct fpmd_worker *w, const struct fpmd_req *req)
{
    const struct fpmd_conf_route *cr;
    size_t i;

    if (req->match.route == NULL || (cr = req->match.route->conf) == NULL)
        return NULL;
    i = (size_t) (cr - w->conf->routes);
    return i < w->conf->nroutes && i < FPMD_SB_ROUTES ? &w->routes->r[i]
                                                      : NULL;
}

/* The request's end, in one write of the slot: its row (php-fpm's
 * per-process fields) and its config route's counters. */
static void
slot_request_end(struct fpmd_worker *w, struct fpmd_req *req, uint64_t now,
                 uint64_t cpu)
{
    struct fpmd_sb_request *r = &w->slot->req;
    struct fpmd_sb_route *row = route_row(w, req);

    fpmd_scoreboard_begin_write(w->slot);
    /* With several requests in flight the row shows the latest started;
     * only its own end closes it. */
    if (r->start_us == req->start_us) {
        r->duration_us = now - req->start_us;
        r->cpu_us = cpu;
        r->memory = req->arena.used;
    }
    if (row != NULL) {
        struct fpmd_sb_side *side = req->served_legacy ? &row->legacy
                                                       : &row->native;

        side->requests++;
        side->errors += req->status >= 500 || req->terminated
            || req->cut_short || (req->aborted && !req->finished);
        side->hist[fpmd_sb_hist_bucket(now - req->start_us)]++;
    }
    fpmd_scoreboard_end_write(w->slot);
}
/* The config routes' rows, named, counters from zero: the slot may have
 * been another worker's. */
static void
slot_routes_init(struct fpmd_worker *w)
{
    const struct fpmd_conf *conf = w->conf;

    memset(w->routes, 0, sizeof(*w->routes));
    for (size_t i = 0; i < conf->nroutes && i < FPMD_SB_ROUTES; i++) {
        const struct fpmd_conf_route *cr = &conf->routes[i];
        struct fpmd_sb_route *row = &w->routes->r[i];
        char label[FPMD_SB_ROUTE_LEN], handler[FPMD_SB_HANDLER_LEN];
        int n, hn;

        n = snprintf(label, sizeof(label), "%s%s%s",
                     cr->methods ? cr->methods : "",
                     cr->methods ? " " : "", cr->path ? cr->path : "?");
        fpmd_scoreboard_copy_str(row->label, sizeof(row->label), label,
                                 n > 0 ? (size_t) n : 0);
        hn = cr->legacy ? snprintf(handler, sizeof(handler), "legacy:%s",
                                   cr->legacy)
                        : snprintf(handler, sizeof(handler), "%s",
                                   cr->handler);
        fpmd_scoreboard_copy_str(row->handler, sizeof(row->handler), handler,
                                 hn > 0 ? (size_t) hn : 0);
    }
}

/* --- access and slow logs --------------------------------------------- */

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
write_access_log(struct fpmd_worker *w, struct fpmd_req *req, uint64_t now,
                 uint64_t cpu)
{
    struct fpmd_access_info ai;
    struct evbuffer *line;
    const char *script = fpmd_req_param(req, "SCRIPT_FILENAME");
    const char *user = fpmd_req_param(req, "REMOTE_USER");

    if (!fpmd_log_access_enabled())
        return;
    memset(&ai, 0, sizeof(ai));
    ai.pool = w->conf->pool_name;
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
    if (fpmd_access_log_format(line, w->conf->log.access_format
                                         ? w->conf->log.access_format
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

static void
on_slow(evutil_socket_t fd, short what, void *arg)
{
    struct fpmd_req *req = arg;
    struct fpmd_worker *w = fpmd_worker;
    char line[1024];
    char when[64];
    time_t t = time(NULL);
    struct tm tm;
    int n;

    req->slow_armed = 0;
    localtime_r(&t, &tm);
    strftime(when, sizeof(when), "%d-%b-%Y %H:%M:%S", &tm);
    /* php-fpm's slowlog entry shape, with the route standing in for the
     * PHP backtrace. */
    n = snprintf(line, sizeof(line),
                 "\n[%s]  [pool %s] pid %d\nscript_filename = %s\n"
                 "route = %s\nrequest = \"%s %s\"\n",
                 when, w->conf->pool_name, (int) getpid(),
                 fpmd_req_param(req, "SCRIPT_FILENAME")
                     ? fpmd_req_param(req, "SCRIPT_FILENAME") : req->path,
                 route_name(req), req->method, req->uri);
    for (int i = 0; i < n && i < (int) sizeof(line); i++) {
        if ((unsigned char) line[i] < 0x20 && line[i] != '\n')
            line[i] = '?';
    }
    if (n > 0)
        fpmd_log_slow_write(line, (size_t) n < sizeof(line) ? (size_t) n
                                                              : sizeof(line) - 1);
    fpmd_log(FPMD_LOG_WARNING, "[pool %s] child %d, route '%s' (request: "
             "\"%s %s\") executing too slow (%.3f sec), logging",
             w->conf->pool_name, (int) getpid(), route_name(req), req->method,
             req->uri, (double) w->conf->timeouts.slowlog_ms / 1000.0);
    fpmd_scoreboard_begin_write(w->slot);
    w->slot->slow_requests++;
    fpmd_scoreboard_end_write(w->slot);
}

static void complete(struct fpmd_req *req);

static void
on_terminate(evutil_socket_t fd, short what, void *arg)
{
    struct fpmd_req *req = arg;
    struct fpmd_worker *w = fpmd_worker;

    req->term_armed = 0;
    fpmd_log(FPMD_LOG_WARNING, "[pool %s] child %d, route '%s' (request: "
             "\"%s %s\") execution timed out (%.3f sec), terminating",
             w->conf->pool_name, (int) getpid(), route_name(req), req->method,
             req->uri, (double) w->conf->timeouts.request_terminate_ms / 1000.0);
    fpmd_scoreboard_begin_write(w->slot);
    w->slot->terminated_requests++;
    fpmd_scoreboard_end_write(w->slot);
    /* The handler is parked (this timer could fire): drop its coroutine
     * without unwinding; its defers still run when the request is freed. */
    fpmd_coro_free(req->co);
    req->co = NULL;
    req->wait = FPMD_WAIT_NONE;
    req->terminated = 1;
    if (req->wake_armed) {
        event_del(&req->wake_ev);
        req->wake_armed = 0;
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

static void
check_exit(struct fpmd_worker *w)
{
    if (w->finishing && w->in_flight == 0 && w->connections == 0)
        event_base_loopbreak(w->base);
}

static void
begin_finishing(struct fpmd_worker *w, const char *why,
                enum fpmd_worker_quit how)
{
    if (w->finishing) {
        /* recycling when the pool is told to stop: nobody takes them */
        if (how == FPMD_QUIT_CLOSE) {
            fpmd_accept_close_listeners();
            fpmd_conn_drain_all(0);
        }
        return;
    }
    fpmd_log(FPMD_LOG_DEBUG, "worker %d finishing: %s", (int) getpid(), why);
    w->finishing = 1;
    if (how == FPMD_QUIT_CLOSE)
        fpmd_accept_close_listeners();
    fpmd_accept_update();
    slot_update_state(w);
    fpmd_conn_drain_all(how == FPMD_QUIT_HANDOFF);
    check_exit(w);
}

static void run(struct fpmd_req *req);

static void
complete(struct fpmd_req *req)
{
    struct fpmd_worker *w = fpmd_worker;
    uint64_t now, cpu;

    if (!req->head_sent && !req->aborted)
        fpmd_resp_write(req, NULL, 0);
    req->ops->finish(req);
    now = fpmd_now_us();
    cpu = req->oncpu_ns / 1000;
    if (!req->background) {
        slot_request_end(w, req, now, cpu);
        write_access_log(w, req, now, cpu);
        w->requests++;
    }
    w->in_flight--;
    req->ops->release(req);
    /* Queued requests start here; one that finishes at once completes
     * inside run(), and only this outermost loop takes the next, so the
     * stack does not grow with the queue. */
    while (!w->running_queue && w->queue_head != NULL
           && w->in_flight < w->conf->pm.max_concurrency) {
        struct fpmd_req *next = w->queue_head;

        w->queue_head = next->queue_next;
        if (w->queue_head == NULL)
            w->queue_tail = &w->queue_head;
        w->queued--;
        w->running_queue = 1;
        run(next);
        w->running_queue = 0;
    }
    if (w->conf->pm.max_requests != 0 && w->started >= w->conf->pm.max_requests)
        begin_finishing(w, "max_requests reached", FPMD_QUIT_HANDOFF);
    fpmd_accept_update();
    slot_update_state(w);
    check_exit(w);
}

void
fpmd_worker_resume(struct fpmd_req *req)
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
arm_timer(struct event *ev, int *armed, uint64_t ms,
          void (*cb)(evutil_socket_t, short, void *), struct fpmd_req *req)
{
    struct timeval tv = {(time_t) (ms / 1000), (suseconds_t) (ms % 1000) * 1000};

    if (ms == 0)
        return;
    event_assign(ev, fpmd_worker->base, -1, 0, cb, req);
    event_add(ev, &tv);
    *armed = 1;
}

static void
run(struct fpmd_req *req)
{
    struct fpmd_worker *w = fpmd_worker;

    req->co = fpmd_coro_new(w->coros, run_handler, req);
    w->in_flight++;
    note_load(w);
    req->start_us = fpmd_now_us();
    if (!req->background)
        slot_request_start(w, req);
    if (w->in_flight == 1)
        slot_update_state(w);
    if (req->co == NULL) {
        fpmd_log(FPMD_LOG_ERROR, "%s %s: no coroutine stack available",
                 req->method, req->uri);
        fpmd_reply_error(req, 503, "out of memory");
        complete(req);
        return;
    }
    arm_timer(&req->term_ev, &req->term_armed,
              w->conf->timeouts.request_terminate_ms, on_terminate, req);
    if (!req->background)
        arm_timer(&req->slow_ev, &req->slow_armed,
                  w->conf->timeouts.slowlog_ms, on_slow, req);
    fpmd_worker_resume(req);
}

static int
route(struct fpmd_router *r, struct fpmd_req *req)
{
    struct fpmd_route_req q = {req->method, req->path, NULL, NULL,
                               req->query};

    if (!fpmd_router_has_shims(r))
        return fpmd_router_match(r, req->method, req->path, &req->match);
    if (fpmd_req_split(req) != FPMD_OK)
        return 503;
    q.script = req->script;
    q.path_info = req->path_info;
    return fpmd_router_match_req(r, &q, &req->match);
}

int
fpmd_worker_start_background(struct fpmd_req *req, fpmd_handler_fn fn)
{
    struct fpmd_worker *w = fpmd_worker;

    /* A worker on its way out, or at its cap, takes no work nobody
     * waits for. */
    if (w->finishing || w->in_flight >= w->conf->pm.max_concurrency) {
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
fpmd_worker_start_req(struct fpmd_req *req)
{
    struct fpmd_worker *w = fpmd_worker;

    req->started = 1;
    w->started++;
    if (req->route_status == 0)
        req->route_status = route(w->router, req);
    if (w->in_flight >= w->conf->pm.max_concurrency) {
        /* Keep-alive and multiplexed requests still reach a worker at its
         * cap; they wait their turn instead of being refused. */
        req->queue_next = NULL;
        *w->queue_tail = req;
        w->queue_tail = &req->queue_next;
        w->queued++;
        fpmd_accept_update();
        return;
    }
    run(req);
    fpmd_accept_update();
}

/* --- connections ------------------------------------------------------ */

static int
take(int fd, const char *peer, enum fpmd_listen_proto proto, unsigned served,
     int accepted)
{
    struct fpmd_worker *w = fpmd_worker;

    if ((proto == FPMD_PROTO_HTTP ? fpmd_http_conn_new(fd, peer, served)
                                  : fpmd_fcgi_conn_new(fd, peer, served))
        != FPMD_OK) {
        close(fd);
        return FPMD_ERROR;
    }
    w->connections++;
    note_load(w);
    fpmd_scoreboard_begin_write(w->slot);
    w->slot->accepted_conn += accepted;
    w->slot->connections = w->connections;
    fpmd_scoreboard_end_write(w->slot);
    fpmd_accept_update();
    return FPMD_OK;
}

int
fpmd_worker_at_capacity(void)
{
    const struct fpmd_worker *w = fpmd_worker;

    return w->in_flight + w->queued >= w->conf->pm.max_concurrency;
}

int
fpmd_worker_take(int fd, const char *peer, enum fpmd_listen_proto proto)
{
    return take(fd, peer, proto, 0, 1);
}

int
fpmd_worker_take_over(int fd, const char *peer, enum fpmd_listen_proto proto,
                      unsigned served)
{
    return take(fd, peer, proto, served, 0);
}

void
fpmd_worker_conn_closed(void)
{
    struct fpmd_worker *w = fpmd_worker;

    w->connections--;
    fpmd_scoreboard_begin_write(w->slot);
    w->slot->connections = w->connections;
    fpmd_scoreboard_end_write(w->slot);
    fpmd_accept_conn_closed();
    fpmd_accept_update();
    check_exit(w);
}

/* --- signals and ticks ------------------------------------------------ */

static void
on_signal(evutil_socket_t fd, short what, void *arg)
{
    struct fpmd_worker *w = arg;
    struct signalfd_siginfo si;

    while (read(fd, &si, sizeof(si)) == (ssize_t) sizeof(si)) {
        switch (si.ssi_signo) {
        case SIGUSR1:
            fpmd_log_reopen();
            break;
        case SIGQUIT:
            begin_finishing(w, "SIGQUIT",
                            si.ssi_code == SI_QUEUE && si.ssi_int != 0
                                ? FPMD_QUIT_CLOSE : FPMD_QUIT_HANDOFF);
            break;
        case SIGTERM:
        case SIGINT:
            w->fast_exit = 1;
            event_base_loopbreak(w->base);
            break;
        default:
            break;
        }
    }
}

/* Spares a worker keeps whatever happened, per free list. */
#define SPARES_KEPT 64

/* When the load of the last second (connections and requests at their
 * peak) has fallen by more than SPARES_KEPT, a flood is over: the spares
 * it left beyond what is in use now go back to the allocator, and the
 * allocator's free pages to the kernel, so a worker's memory returns near
 * its idle size instead of staying at its high-water mark. */
static void
trim_memory(struct fpmd_worker *w)
{
    unsigned now = w->connections + w->in_flight, peak = w->load_peak;
    size_t keep = now > SPARES_KEPT ? now : SPARES_KEPT;

    w->load_peak = now;
    if (peak < now + SPARES_KEPT)
        return;
    fpmd_conn_rbuf_trim(SPARES_KEPT);
    fpmd_http_conn_trim(keep);
    fpmd_fcgi_conn_trim(keep);
    fpmd_req_trim(keep);
    fpmd_arena_trim(keep);
    fpmd_coro_pool_trim(w->coros, w->in_flight > SPARES_KEPT ? w->in_flight
                                                             : SPARES_KEPT);
    malloc_trim(0);
}

static void
on_tick(evutil_socket_t fd, short what, void *arg)
{
    struct fpmd_worker *w = arg;

    size_t stacks, live;

    trim_memory(w);

    fpmd_coro_pool_stats(w->coros, &stacks, &live);
    fpmd_scoreboard_begin_write(w->slot);
    w->slot->heartbeat_us = fpmd_now_us();
    w->slot->free_reqs = (uint32_t) fpmd_req_cached();
    w->slot->free_buffers = (uint32_t) fpmd_arena_cached();
    w->slot->free_stacks = (uint32_t) stacks;
    w->slot->free_conns = (uint32_t) (fpmd_http_conn_cached()
                                      + fpmd_fcgi_conn_cached());
    fpmd_scoreboard_end_write(w->slot);
    fpmd_log_tally_flush();
    fpmd_services_tick();
}

/* A handler that overflows its coroutine stack hits the guard page: say
 * so in the error log (write(2) only: this runs in a fault) and die by the
 * signal, so the master logs and respawns as for any crash. */
static void
on_fault(int sig, siginfo_t *si, void *uc)
{
    static const char msg[] = "ALERT: coroutine stack overflow in a handler "
                              "(raise pm.stack_size); worker exits\n";

    (void) uc;
    if (fpmd_coro_is_guard_fault(si->si_addr)
        && write(fpmd_log_error_fd(), msg, sizeof(msg) - 1) < 0)
        _exit(70);
    raise(sig);
}

static void
setup_fault_handler(void)
{
    static char altstack[64 * 1024];
    stack_t ss = {.ss_sp = altstack, .ss_size = sizeof(altstack)};
    struct sigaction sa;

    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = on_fault;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESETHAND;
    if (sigaltstack(&ss, NULL) == 0)
        sigaction(SIGSEGV, &sa, NULL);
}

static int
setup_signals(struct fpmd_worker *w)
{
    sigset_t set;

    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    sigaddset(&set, SIGQUIT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    w->signal_fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (w->signal_fd < 0)
        return FPMD_ERROR;
    w->signal_ev = event_new(w->base, w->signal_fd, EV_READ | EV_PERSIST,
                             on_signal, w);
    return w->signal_ev != NULL && event_add(w->signal_ev, NULL) == 0
        ? FPMD_OK : FPMD_ERROR;
}

int
fpmd_worker_main(const struct fpmd_conf *conf,
                 struct fpmd_listener *listeners, size_t nlisteners,
                 struct fpmd_scoreboard *sb, uint32_t slot, uint32_t generation,
                 const int handoff[2])
{
    struct fpmd_worker w;
    struct timeval second = {1, 0};
    char prefix[96], err[8192];

    memset(&w, 0, sizeof(w));
    w.conf = conf;
    w.listeners = listeners;
    w.nlisteners = nlisteners;
    w.sb = sb;
    w.slot = &sb->slots[slot];
    w.routes = &sb->routes[slot];
    w.generation = generation;
    w.queue_tail = &w.queue_head;
    w.signal_fd = -1;
    fpmd_worker = &w;
    snprintf(prefix, sizeof(prefix), "[pool %s] ", conf->pool_name);
    fpmd_log_set_prefix(prefix);

    setup_fault_handler();
    /* The master checked this config in a child already; failing here
     * means the files changed since, and the master's back-off applies. */
    w.router = fpmd_prepare(conf, err, sizeof(err));
    if (w.router == NULL) {
        fpmd_log(FPMD_LOG_ALERT, "worker %d: %s", (int) getpid(), err);
        return 78;
    }
    w.base = event_base_new();
    fpmd_process.base = w.base;
    fpmd_process.conf = conf;
    fpmd_process.slot = w.slot;
    fpmd_process.routes = w.routes;
    w.coros = fpmd_coro_pool_new(conf->pm.stack_size,
                                 conf->pm.max_concurrency < 256
                                     ? conf->pm.max_concurrency : 256);
    if (w.base == NULL || w.coros == NULL || setup_signals(&w) != FPMD_OK
        || fpmd_accept_setup(listeners, nlisteners, handoff[0], handoff[1])
               != FPMD_OK) {
        fpmd_log_errno(FPMD_LOG_ALERT, "worker %d: setup failed",
                       (int) getpid());
        return 1;
    }
    fpmd_conn_setup(conf);
    fpmd_http_conn_setup();
    w.tick_ev = event_new(w.base, -1, EV_PERSIST, on_tick, &w);
    event_add(w.tick_ev, &second);
    if (fpmd_services_start(conf, w.base) != FPMD_OK) {
        fpmd_log(FPMD_LOG_ALERT, "worker %d: a service failed to start",
                 (int) getpid());
        return 78;
    }

    fpmd_scoreboard_begin_write(w.slot);
    w.slot->pid = getpid();
    w.slot->generation = generation;
    w.slot->start_us = fpmd_now_us();
    w.slot->heartbeat_us = w.slot->start_us;
    slot_routes_init(&w);
    fpmd_scoreboard_end_write(w.slot);
    on_tick(-1, 0, &w);
    fpmd_accept_update();
    slot_update_state(&w);

    event_base_dispatch(w.base);

    if (w.fast_exit || w.in_flight > 0 || w.connections > 0)
        fpmd_conn_close_all();
    fpmd_services_stop();
    fpmd_accept_free();
    event_free(w.tick_ev);
    event_free(w.signal_ev);
    close(w.signal_fd);
    fpmd_router_free(w.router);
    fpmd_scoreboard_begin_write(w.slot);
    w.slot->state = FPMD_SB_FINISHING;
    fpmd_scoreboard_end_write(w.slot);
    return 0;
}
