/* SPDX-License-Identifier: BSD-2-Clause */
/* A worker's timers (fpmd.h, "timers"): libevent timers whose callbacks
 * start background requests. A service of every worker: the declared
 * ones (FPMD_TIMER) start with it, all of them end with its loop. Timers
 * are named by ids, never by pointers, so a handler may cancel one that
 * ran and was freed. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <event2/event_struct.h>

#include "fpmd/log.h"
#include "fpmd/process.h"
#include "fpmd/req.h"
#include "fpmd/sched.h"
#include "fpmd/service.h"

/* Declared timers at most, built-in and from modules. */
#define DEFS_MAX 64

struct timer {
    uint64_t id;
    struct event ev;
    uint64_t interval_ms;           /* 0: once */
    fpmd_timer_fn fn;
    void *arg;
    const char *name;               /* FPMD_TIMER's; "" for the others */
    bool running;                   /* a run of it is going on */
    bool done;                      /* cancelled, or a one-shot that
                                     * fired: freed once no run holds it */
    struct timer *next;
};

static struct {
    const struct fpmd_timer_def *defs[DEFS_MAX];
    size_t ndefs;
    struct event_base *base;
    struct timer *list;
    uint64_t last_id;
    bool stopped;                   /* the loop ended */
} timers;

#define RUN_KEY "fpmd.timer"

void
fpmd_timer_register(const struct fpmd_timer_def *def)
{
    if (timers.ndefs == DEFS_MAX) {
        fpmd_log(FPMD_LOG_ALERT, "%s:%d: timer %s: more than %d timers are "
                 "declared; it will not run", def->file, def->line,
                 def->name, DEFS_MAX);
        return;
    }
    timers.defs[timers.ndefs++] = def;
}

static void
unlink_timer(struct timer *t)
{
    for (struct timer **pp = &timers.list; *pp != NULL;
         pp = &(*pp)->next) {
        if (*pp == t) {
            *pp = t->next;
            break;
        }
    }
    event_del(&t->ev);
    free(t);
}

static void
arm(struct timer *t, uint64_t ms)
{
    struct timeval tv = {(time_t) (ms / 1000),
                         (suseconds_t) (ms % 1000) * 1000};

    evtimer_add(&t->ev, &tv);
}

/* The run's request ends, however it came. */
static void
run_end(void *arg)
{
    struct timer *t = arg;

    t->running = false;
    if (t->done || timers.stopped)
        unlink_timer(t);
}

static int
run_timer(struct fpmd_req *req)
{
    struct timer *t = fpmd_req_get(req, RUN_KEY);
    int rc = t->fn(req, t->arg);

    if (rc != FPMD_OK || req->status >= 500)
        fpmd_log(FPMD_LOG_WARNING, "timer %s: its run failed (%s)",
                 t->name[0] ? t->name : "-",
                 rc != FPMD_OK ? "an error" : "status 500 or more");
    return rc;
}

static void
on_timer(evutil_socket_t fd, short what, void *arg)
{
    static struct fpmd_log_tally skipped;
    struct timer *t = arg;
    struct fpmd_req *req;

    (void) fd;
    (void) what;
    if (t->interval_ms == 0)
        t->done = true;
    if (t->running) {
        fpmd_log_tally(&skipped, FPMD_LOG_NOTICE, "timer %s: its last run "
                       "is still going; this tick is skipped",
                       t->name[0] ? t->name : "-");
        return;
    }
    req = fpmd_req_new_run("TIMER", (const char *const[]) {
        "FPMD_TIMER_NAME", t->name, NULL});
    if (req == NULL || fpmd_req_set(req, RUN_KEY, t) != FPMD_OK
        || fpmd_defer(req, run_end, t) != FPMD_OK) {
        fpmd_log(FPMD_LOG_WARNING, "timer %s: out of memory; this tick is "
                 "skipped", t->name[0] ? t->name : "-");
        if (req != NULL)
            fpmd_req_free(req);
        if (t->done)
            unlink_timer(t);
        return;
    }
    t->running = true;
    fpmd_sched_start_run(req, run_timer);
}

static uint64_t
add_timer(uint64_t after_ms, uint64_t interval_ms, fpmd_timer_fn fn,
          void *arg, const char *name)
{
    struct timer *t;

    if (timers.base == NULL || timers.stopped)
        return 0;
    t = calloc(1, sizeof(*t));
    if (t == NULL)
        return 0;
    t->id = ++timers.last_id;
    t->interval_ms = interval_ms;
    t->fn = fn;
    t->arg = arg;
    t->name = name;
    /* EV_PERSIST: libevent plans each tick from the last one's planned
     * time, not from when its callback ran, so a repeating timer keeps
     * its pace instead of drifting by every late tick. */
    event_assign(&t->ev, timers.base, -1, interval_ms ? EV_PERSIST : 0,
                 on_timer, t);
    t->next = timers.list;
    timers.list = t;
    arm(t, after_ms);
    return t->id;
}

uint64_t
fpmd_timer_after(uint64_t ms, fpmd_timer_fn fn, void *arg)
{
    return add_timer(ms, 0, fn, arg, "");
}

uint64_t
fpmd_timer_every(uint64_t ms, fpmd_timer_fn fn, void *arg)
{
    return add_timer(ms ? ms : 1, ms ? ms : 1, fn, arg, "");
}

bool
fpmd_timer_cancel(uint64_t id)
{
    for (struct timer *t = timers.list; t != NULL; t = t->next) {
        if (t->id != id || t->done)
            continue;
        t->done = true;
        if (t->running)
            event_del(&t->ev);
        else
            unlink_timer(t);
        return true;
    }
    return false;
}

static int
run_declared(struct fpmd_req *req, void *arg)
{
    const struct fpmd_timer_def *def = arg;

    return def->fn(req);
}

static int
start(const struct fpmd_conf *conf, struct event_base *base)
{
    (void) conf;
    timers.base = base;
    timers.stopped = false;
    /* declared timers are the workers'; fpmd run and user processes
     * still have fpmd_timer_after and _every */
    for (size_t i = 0; !fpmd_process.alone && i < timers.ndefs; i++) {
        const struct fpmd_timer_def *d = timers.defs[i];
        uint64_t every = d->interval_ms ? d->interval_ms : 1;

        if (add_timer(every, every, run_declared, (void *) d, d->name) == 0) {
            fpmd_log(FPMD_LOG_ALERT, "timer %s: out of memory", d->name);
            return FPMD_ERROR;
        }
    }
    return FPMD_OK;
}

/* The loop ended: a run still held by a request (a fast exit) frees its
 * timer at its end. */
static void
stop(void)
{
    struct timer *t = timers.list, *next;

    timers.stopped = true;
    for (; t != NULL; t = next) {
        next = t->next;
        if (!t->running)
            unlink_timer(t);
        else
            event_del(&t->ev);
    }
}

static struct fpmd_service service = {
    .name = "timers", .start = start, .stop = stop,
};

__attribute__((constructor)) static void
register_service(void)
{
    fpmd_service_register(&service);
}
