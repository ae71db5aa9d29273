/* SPDX-License-Identifier: BSD-2-Clause */
/* cron: entries run (cron_run.h): the master's schedule and the worker's
 * side of a run. */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fpmd/clock.h"
#include "fpmd/cron_run.h"
#include "fpmd/log.h"
#include "fpmd/process.h"
#include "fpmd/req.h"
#include "fpmd/router.h"
#include "fpmd/sched.h"

/* A run's signal value: the entry's index in the generation's config, a
 * run number that tells runs apart, and the tick (seconds since the
 * epoch); the answer sets FAILED instead of the tick. */
#define INDEX_BITS 8
#define SEQ_BITS 22
#define SEQ_MASK ((UINT64_C(1) << SEQ_BITS) - 1)
#define RUN_MASK ((UINT64_C(1) << (INDEX_BITS + SEQ_BITS)) - 1)
#define FAILED (UINT64_C(1) << (INDEX_BITS + SEQ_BITS))
#define TICK_SHIFT (INDEX_BITS + SEQ_BITS + 1)
/* A tick this late still runs; older ones are dropped. */
#define CATCH_UP_MS 60000

_Static_assert(FPMD_CRON_MAX <= 1 << INDEX_BITS, "an index fits its bits");

struct entry {
    char *name;
    char *schedule;             /* NULL: every */
    char *timezone;
    uint64_t every_ms;
    struct fpmd_cron expr;
    bool overlap;
    unsigned index;             /* in the current config */
    int64_t next_ms;            /* schedule: wall clock; every: monotonic */
    unsigned running;
};

struct run {
    pid_t pid;
    uint32_t seq;
    int entry;                  /* -1: its entry left the config */
    int64_t tick;
};

static struct {
    struct entry *entries;
    size_t nentries;
    struct run *runs;
    size_t nruns, runs_cap;
    uint32_t seq;
} cron;

static int64_t
wall_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t
mono_ms(void)
{
    return (int64_t) (fpmd_mono_ns() / 1000000);
}

static bool
same_str(const char *a, const char *b)
{
    return a == b || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/* The first tick of e after now (a wall clock time in ms). */
static void
schedule_next(struct entry *e, int64_t now_ms)
{
    time_t next;

    if (e->schedule == NULL) {
        e->next_ms = mono_ms() + (int64_t) e->every_ms;
        return;
    }
    if (fpmd_cron_next(&e->expr, e->timezone, (time_t) (now_ms / 1000),
                       &next) != FPMD_OK) {
        fpmd_log(FPMD_LOG_WARNING, "cron %s: \"%s\" never fires again",
                 e->name, e->schedule);
        e->next_ms = INT64_MAX;
        return;
    }
    e->next_ms = (int64_t) next * 1000;
}

static void
entries_free(struct entry *entries, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(entries[i].name);
        free(entries[i].schedule);
        free(entries[i].timezone);
    }
    free(entries);
}

static const struct entry *
find_entry(const struct entry *entries, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(entries[i].name, name) == 0)
            return &entries[i];
    }
    return NULL;
}

void
fpmd_cron_load(const struct fpmd_conf *conf)
{
    struct entry *fresh = calloc(conf->ncron ? conf->ncron : 1,
                                 sizeof(*fresh));
    int64_t now = wall_ms();

    if (fresh == NULL) {
        fpmd_log(FPMD_LOG_ALERT, "cron: out of memory; the schedule stays "
                 "as it was");
        return;
    }
    for (size_t i = 0; i < conf->ncron; i++) {
        const struct fpmd_conf_cron *cc = &conf->cron[i];
        struct entry *e = &fresh[i];
        const struct entry *old = find_entry(cron.entries, cron.nentries,
                                             cc->name);

        e->name = strdup(cc->name);
        e->schedule = cc->schedule ? strdup(cc->schedule) : NULL;
        e->timezone = cc->timezone ? strdup(cc->timezone) : NULL;
        if (e->name == NULL || (cc->schedule && e->schedule == NULL)
            || (cc->timezone && e->timezone == NULL)) {
            fpmd_log(FPMD_LOG_ALERT, "cron: out of memory; the schedule "
                     "stays as it was");
            entries_free(fresh, conf->ncron);
            return;
        }
        e->every_ms = cc->every_ms;
        e->expr = cc->expr;
        e->overlap = cc->overlap;
        e->index = (unsigned) i;
        /* Unchanged: the tick already planned stays, so the reload is
         * invisible to the schedule. */
        if (old != NULL && same_str(old->schedule, e->schedule)
            && same_str(old->timezone, e->timezone)
            && old->every_ms == e->every_ms)
            e->next_ms = old->next_ms;
        else
            schedule_next(e, now);
    }
    for (size_t r = 0; r < cron.nruns; r++) {
        const struct entry *e = cron.runs[r].entry < 0 ? NULL
            : find_entry(fresh, conf->ncron,
                         cron.entries[cron.runs[r].entry].name);

        cron.runs[r].entry = e ? (int) (e - fresh) : -1;
        if (e != NULL)
            fresh[e - fresh].running++;
    }
    entries_free(cron.entries, cron.nentries);
    cron.entries = fresh;
    cron.nentries = conf->ncron;
}

int
fpmd_cron_timeout_ms(void)
{
    int64_t wall = wall_ms(), mono = mono_ms(), best = -1;

    for (size_t i = 0; i < cron.nentries; i++) {
        const struct entry *e = &cron.entries[i];
        int64_t left;

        if (e->next_ms == INT64_MAX)
            continue;
        left = e->next_ms - (e->schedule ? wall : mono);
        if (left < 0)
            left = 0;
        if (best < 0 || left < best)
            best = left;
    }
    return best > INT32_MAX ? INT32_MAX : (int) best;
}

static int
run_add(pid_t pid, uint32_t seq, int entry, int64_t tick)
{
    if (cron.nruns == cron.runs_cap) {
        size_t cap = cron.runs_cap ? cron.runs_cap * 2 : 16;
        struct run *grown = realloc(cron.runs, cap * sizeof(*grown));

        if (grown == NULL)
            return FPMD_ERROR;
        cron.runs = grown;
        cron.runs_cap = cap;
    }
    cron.runs[cron.nruns++] = (struct run) {pid, seq, entry, tick};
    return FPMD_OK;
}

static void
run_remove(size_t r)
{
    if (cron.runs[r].entry >= 0)
        cron.entries[cron.runs[r].entry].running--;
    cron.runs[r] = cron.runs[--cron.nruns];
}

/* "14:05:00": a tick as the log names it. */
static const char *
tick_text(int64_t tick, char *buf, size_t len)
{
    time_t t = (time_t) tick;
    struct tm tm;

    if (localtime_r(&t, &tm) == NULL
        || strftime(buf, len, "%Y-%m-%d %H:%M:%S", &tm) == 0)
        snprintf(buf, len, "%" PRId64, tick);
    return buf;
}

static void
fire(struct entry *e, int64_t tick, pid_t (*pick)(void *), void *arg)
{
    static struct fpmd_log_tally skipped, unasked;
    union sigval v;
    uint64_t value;
    pid_t pid;

    if (e->running > 0 && !e->overlap) {
        fpmd_log_tally(&skipped, FPMD_LOG_WARNING, "cron %s: its last run "
                       "is still going; this tick is skipped (overlap: "
                       "false)", e->name);
        return;
    }
    pid = pick(arg);
    if (pid <= 0) {
        fpmd_log_tally(&unasked, FPMD_LOG_WARNING, "cron %s: no worker to "
                       "run it; this tick is skipped", e->name);
        return;
    }
    cron.seq = (cron.seq + 1) & SEQ_MASK;
    if (cron.seq == 0)
        cron.seq = 1;
    value = e->index | (uint64_t) cron.seq << INDEX_BITS
        | (uint64_t) tick << TICK_SHIFT;
    v.sival_ptr = (void *) (uintptr_t) value;
    if (run_add(pid, cron.seq, (int) (e - cron.entries), tick) != FPMD_OK
        || sigqueue(pid, FPMD_SIG_CRON, v) < 0) {
        fpmd_log_errno(FPMD_LOG_WARNING, "cron %s: cannot ask child %d",
                       e->name, (int) pid);
        return;
    }
    e->running++;
    fpmd_log(FPMD_LOG_DEBUG, "cron %s: run %u in child %d", e->name,
             (unsigned) cron.seq, (int) pid);
}

void
fpmd_cron_fire(pid_t (*pick)(void *arg), void *arg)
{
    static struct fpmd_log_tally jumped;
    int64_t wall = wall_ms(), mono = mono_ms();

    for (size_t i = 0; i < cron.nentries; i++) {
        struct entry *e = &cron.entries[i];

        if (e->schedule == NULL) {
            /* a timer: late, it runs once and keeps its pace from now */
            if (e->next_ms <= mono) {
                fire(e, wall / 1000, pick, arg);
                e->next_ms = mono + (int64_t) e->every_ms;
            }
            continue;
        }
        /* Ticks the master was late for (a loaded machine) run late; a
         * clock that jumped forward further does not make up its
         * backlog. */
        while (e->next_ms <= wall) {
            if (wall - e->next_ms > CATCH_UP_MS) {
                fpmd_log_tally(&jumped, FPMD_LOG_WARNING, "cron %s: the "
                               "ticks of the last %" PRId64 " s are not "
                               "run (the clock jumped, or fpmd was "
                               "stopped)", e->name,
                               (wall - e->next_ms) / 1000);
                schedule_next(e, wall);
                break;
            }
            fire(e, e->next_ms / 1000, pick, arg);
            schedule_next(e, e->next_ms);
        }
    }
}

void
fpmd_cron_done(pid_t pid, uint64_t value)
{
    uint32_t seq = (uint32_t) (value >> INDEX_BITS & SEQ_MASK);

    for (size_t r = 0; r < cron.nruns; r++) {
        const struct run *run = &cron.runs[r];
        char when[32];

        if (run->pid != pid || run->seq != seq)
            continue;
        if ((value & FAILED) && run->entry >= 0)
            fpmd_log(FPMD_LOG_WARNING, "cron %s: the run of %s failed in "
                     "child %d", cron.entries[run->entry].name,
                     tick_text(run->tick, when, sizeof(when)), (int) pid);
        run_remove(r);
        return;
    }
}

void
fpmd_cron_reaped(pid_t pid)
{
    for (size_t r = 0; r < cron.nruns;) {
        const struct run *run = &cron.runs[r];
        char when[32];

        if (run->pid != pid) {
            r++;
            continue;
        }
        if (run->entry >= 0)
            fpmd_log(FPMD_LOG_WARNING, "cron %s: child %d exited before its "
                     "run of %s was over", cron.entries[run->entry].name,
                     (int) pid, tick_text(run->tick, when, sizeof(when)));
        run_remove(r);
    }
}

void
fpmd_cron_free(void)
{
    entries_free(cron.entries, cron.nentries);
    free(cron.runs);
    memset(&cron, 0, sizeof(cron));
}

/* --- worker ------------------------------------------------------------ */

#define RUN_KEY "fpmd.cron"

struct worker_run {
    uint64_t value;
    const struct fpmd_handler_def *handler;     /* or */
    const struct fpmd_conf_cron *task;          /* its entry's task: */
    struct fpmd_req *req;
    bool returned;
};

static void
report(uint64_t value, bool failed)
{
    union sigval v;

    v.sival_ptr = (void *) (uintptr_t) ((value & RUN_MASK)
                                        | (failed ? FAILED : 0));
    sigqueue(getppid(), FPMD_SIG_CRON, v);
}

/* The request's end, however it came (a handler returning, or
 * request_terminate_timeout): the master hears of it once. */
static void
run_end(void *arg)
{
    struct worker_run *r = arg;

    report(r->value, !r->returned || r->req->status >= 500);
}

/* A task entry's run: the task, with {"cron": NAME, "tick": T} as its
 * input, started and awaited here, so that overlap: false sees it
 * running until it ends. */
static int
run_task(struct fpmd_req *req, const struct fpmd_conf_cron *cc)
{
    const char *tick = fpmd_req_param(req, "FPMD_CRON_TICK");
    struct fpmd_call *call;
    char in[256];
    int len = snprintf(in, sizeof(in), "{\"cron\":\"%s\",\"tick\":%s}",
                       cc->name, tick ? tick : "0");

    call = len > 0 && (size_t) len < sizeof(in)
        ? fpmd_task_start(req, cc->task, in, (size_t) len) : NULL;
    if (call != NULL && fpmd_await(req, call) == FPMD_OK)
        return FPMD_OK;
    fpmd_log(FPMD_LOG_WARNING, "cron %s: task %s: %s", cc->name, cc->task,
             call ? fpmd_call_error(call) : "out of memory");
    return FPMD_ERROR;
}

static int
run_entry(struct fpmd_req *req)
{
    struct worker_run *r = fpmd_req_get(req, RUN_KEY);
    int rc = r->task ? run_task(req, r->task) : r->handler->fn(req);

    r->returned = true;
    return rc;
}

void
fpmd_cron_run(uint64_t value)
{
    const struct fpmd_conf *conf = fpmd_process.conf;
    unsigned index = (unsigned) (value & ((1u << INDEX_BITS) - 1));
    const struct fpmd_conf_cron *cc = index < conf->ncron
        ? &conf->cron[index] : NULL;
    const struct fpmd_handler_def *h = cc && cc->handler
        ? fpmd_handler_find(cc->handler) : NULL;
    struct fpmd_req *req = NULL;
    struct worker_run *r = NULL;
    char tick[24];

    snprintf(tick, sizeof(tick), "%" PRIu64, value >> TICK_SHIFT);
    if (h != NULL || (cc != NULL && cc->task != NULL))
        req = fpmd_req_new_run("CRON", (const char *const[]) {
            "FPMD_CRON_NAME", cc->name, "FPMD_CRON_TICK", tick, NULL});
    if (req != NULL)
        r = fpmd_alloc(req, sizeof(*r));
    if (r == NULL || fpmd_req_set(req, RUN_KEY, r) != FPMD_OK) {
        if (req != NULL)
            fpmd_req_free(req);
        fpmd_log(FPMD_LOG_WARNING, "cron %s: cannot start its run",
                 cc ? cc->name : "?");
        report(value, true);
        return;
    }
    *r = (struct worker_run) {value, h, cc->task ? cc : NULL, req, false};
    if (fpmd_defer(req, run_end, r) != FPMD_OK) {
        fpmd_req_free(req);
        report(value, true);
        return;
    }
    /* refused only by a worker on its way out: run_end reports it */
    fpmd_sched_start_run(req, run_entry);
}
