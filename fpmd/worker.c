/* SPDX-License-Identifier: BSD-2-Clause */
/* The worker process, and only the process: its event loop, listeners
 * and connections taken (accept.c), signals, the one-second tick, the
 * fault handler, its scoreboard state, memory given back after a flood,
 * and how it ends: gracefully on SIGQUIT (finish what is in flight; hand
 * connections over or close them, as the signal says) or at once on
 * SIGTERM. Requests are the engine's (sched.c); it reports the load back
 * through the callback registered here. */
#include "config.h"

#include <fcntl.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "fpmd/accept.h"
#include "fpmd/arena.h"
#include "fpmd/clock.h"
#include "fpmd/conn.h"
#include "fpmd/cron_run.h"
#include "fpmd/event_alloc.h"
#include "fpmd/fcgi_conn.h"
#include "fpmd/http_conn.h"
#include "fpmd/log.h"
#include "fpmd/prepare.h"
#include "fpmd/process.h"
#include "fpmd/req.h"
#include "fpmd/rpc_conn.h"
#include "fpmd/sched.h"
#include "fpmd/seccomp.h"
#include "fpmd/service.h"
#include "fpmd/worker.h"

static struct {
    struct fpmd_router *router;     /* built at start, this worker's own */
    struct fpmd_coro_pool *coros;
    struct event *signal_ev;
    struct event *tick_ev;
    struct event *lag_ev;
    uint64_t lag_due_ns;            /* when lag_ev should fire */
    uint64_t lag_max_us, lag_prev_max_us;   /* this window's, the last's */
    unsigned lag_samples;           /* in this window */
    int signal_fd;
    int statm_fd;                   /* /proc/self/statm, for pm.max_memory */
    unsigned load_peak;             /* connections + requests, this second */
    uint64_t max_requests;          /* recycle after; 0: never */
    bool passed;                    /* connections passed on last tick */
    bool finishing;                 /* graceful exit under way */
    bool stopping;                  /* ...because the pool stops */
    bool fast_exit;
} worker = {.signal_fd = -1, .statm_fd = -1};

/* For trim_memory: the peak load of the current second. */
static void
note_load(void)
{
    unsigned now = fpmd_conn_open_count() + fpmd_sched_in_flight();

    if (now > worker.load_peak)
        worker.load_peak = now;
}

static void
slot_update_state(void)
{
    struct fpmd_sb_slot *s = fpmd_process.slot;
    unsigned in_flight = fpmd_sched_requests_in_flight();
    unsigned queued = fpmd_sched_queued();
    uint32_t state;

    if (worker.finishing)
        state = FPMD_SB_FINISHING;
    else if (in_flight > 0)
        state = FPMD_SB_BUSY;
    else
        state = FPMD_SB_IDLE;
    fpmd_scoreboard_begin_write(s);
    if (state == FPMD_SB_IDLE && s->state != FPMD_SB_IDLE)
        s->last_idle_us = fpmd_now_us();
    s->state = state;
    s->in_flight = in_flight;
    if (in_flight > s->max_in_flight)
        s->max_in_flight = in_flight;
    s->queued = queued;
    if (queued > s->max_queued)
        s->max_queued = queued;
    s->connections = fpmd_conn_open_count();
    s->requests = fpmd_sched_finished();
    fpmd_scoreboard_end_write(s);
}

static void
check_exit(void)
{
    if (worker.finishing && fpmd_sched_in_flight() == 0
        && fpmd_conn_open_count() == 0)
        event_base_loopbreak(fpmd_process.base);
}

bool
fpmd_worker_stopping(void)
{
    return worker.stopping;
}

static void
begin_finishing(const char *why, enum fpmd_worker_quit how)
{
    if (how == FPMD_QUIT_CLOSE)
        worker.stopping = true;
    if (worker.finishing) {
        /* recycling when the pool is told to stop: nobody takes them */
        if (how == FPMD_QUIT_CLOSE) {
            fpmd_accept_close_listeners();
            fpmd_conn_drain_all(0);
        }
        return;
    }
    fpmd_log(FPMD_LOG_DEBUG, "worker %d finishing: %s", (int) getpid(), why);
    worker.finishing = true;
    fpmd_sched_finishing();
    if (how == FPMD_QUIT_CLOSE)
        fpmd_accept_close_listeners();
    else
        fpmd_accept_stop();
    slot_update_state();
    fpmd_services_finishing();
    fpmd_conn_drain_all(how == FPMD_QUIT_HANDOFF);
    check_exit();
}

/* The engine's report: a request started or queued, or one ended. The
 * slot is written before accepting is looked at again: siblings decide
 * from it whether this worker has room (fpmd_sched_pool_saturated). */
static void
on_load(int ended)
{
    const struct fpmd_conf *conf = fpmd_process.conf;

    note_load();
    if (!ended) {
        slot_update_state();
        fpmd_accept_update();
        return;
    }
    if (worker.max_requests != 0 && !worker.finishing
        && fpmd_sched_started() >= worker.max_requests) {
        fpmd_log(FPMD_LOG_NOTICE, "child %d served %llu requests "
                 "(pm.max_requests %u, jitter %u), recycling", (int) getpid(),
                 (unsigned long long) fpmd_sched_started(),
                 conf->pm.max_requests, conf->pm.max_requests_jitter);
        begin_finishing("max_requests reached", FPMD_QUIT_HANDOFF);
    }
    slot_update_state();
    fpmd_accept_update();
    check_exit();
}

/* --- connections ------------------------------------------------------ */

static int
take(int fd, const char *peer, int proto, unsigned served, int accepted)
{
    struct fpmd_sb_slot *s = fpmd_process.slot;

    if ((proto == FPMD_PROTO_HTTP ? fpmd_http_conn_new(fd, peer, served)
         : proto == FPMD_PROTO_FASTCGI ? fpmd_fcgi_conn_new(fd, peer, served)
         : fpmd_rpc_conn_new(fd, peer, served, proto)) != FPMD_OK) {
        close(fd);
        return FPMD_ERROR;
    }
    note_load();
    fpmd_scoreboard_begin_write(s);
    s->accepted_conn += accepted != 0;
    s->connections = fpmd_conn_open_count();
    fpmd_scoreboard_end_write(s);
    fpmd_accept_update();
    return FPMD_OK;
}

int
fpmd_worker_take(int fd, const char *peer, enum fpmd_listen_proto proto)
{
    return take(fd, peer, proto, 0, 1);
}

static void
on_conn_gone(void)
{
    struct fpmd_sb_slot *s = fpmd_process.slot;

    fpmd_scoreboard_begin_write(s);
    s->connections = fpmd_conn_open_count();
    fpmd_scoreboard_end_write(s);
    fpmd_accept_conn_closed();
    fpmd_accept_update();
    check_exit();
}

void
fpmd_worker_setup_engine(struct fpmd_router *router,
                         struct fpmd_coro_pool *coros, int handoff_tx)
{
    fpmd_conn_setup(fpmd_process.conf, handoff_tx, on_conn_gone);
    fpmd_http_conn_setup();
    fpmd_sched_setup(router, coros, on_load);
}

int
fpmd_worker_setup_alone(const struct fpmd_conf *conf,
                        struct fpmd_router *router)
{
    struct fpmd_scoreboard *sb = fpmd_scoreboard_new(1);
    struct fpmd_coro_pool *coros = fpmd_coro_pool_new(conf->pm.stack_size,
                                                      4);
    struct event_base *base = event_base_new();

    if (sb == NULL || coros == NULL || base == NULL) {
        if (sb != NULL)
            fpmd_scoreboard_free(sb);
        if (coros != NULL)
            fpmd_coro_pool_free(coros);
        if (base != NULL)
            event_base_free(base);
        return FPMD_ERROR;
    }
    fpmd_process.base = base;
    fpmd_process.alone = true;
    fpmd_process.conf = conf;
    fpmd_process.sb = sb;
    fpmd_process.slot = &sb->slots[0];
    fpmd_process.routes = &sb->routes[0];
    fpmd_process.flights = &sb->flights[0];
    fpmd_worker_setup_engine(router, coros, -1);
    return FPMD_OK;
}

static void (*alone_stop)(const struct signalfd_siginfo *si);

static void
on_alone_signal(evutil_socket_t fd, short what, void *arg)
{
    struct signalfd_siginfo si;

    (void) what;
    (void) arg;
    while (read(fd, &si, sizeof(si)) == (ssize_t) sizeof(si)) {
        if (si.ssi_signo == SIGUSR1)
            fpmd_log_reopen();
        else
            alone_stop(&si);
    }
}

int
fpmd_worker_run_alone(const struct fpmd_conf *conf,
                      void (*on_stop)(const struct signalfd_siginfo *si),
                      int (*start)(void))
{
    char err[16384];
    struct fpmd_router *router = fpmd_prepare(conf, err, sizeof(err));
    struct event *sigev = NULL;
    sigset_t set;
    int sfd, rc = FPMD_ERROR;

    alone_stop = on_stop;
    sigemptyset(&set);
    sigaddset(&set, SIGQUIT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGUSR1);
    sfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (router == NULL || sfd < 0
        || fpmd_worker_setup_alone(conf, router) != FPMD_OK) {
        fpmd_log(FPMD_LOG_ALERT, "cannot start: %s",
                 router == NULL ? err : "out of memory");
        goto out;
    }
    sigev = event_new(fpmd_process.base, sfd, EV_READ | EV_PERSIST,
                      on_alone_signal, NULL);
    if (sigev == NULL || event_add(sigev, NULL) != 0
        || fpmd_services_start(conf, fpmd_process.base) != FPMD_OK) {
        fpmd_log(FPMD_LOG_ALERT, "cannot start its services");
        goto out;
    }
    if (start() == FPMD_OK) {
        event_base_dispatch(fpmd_process.base);
        rc = FPMD_OK;
    }
    fpmd_services_stop();
out:
    if (sigev != NULL)
        event_free(sigev);
    if (sfd >= 0)
        close(sfd);
    if (router != NULL)
        fpmd_router_free(router);
    return rc;
}

/* --- signals and ticks ------------------------------------------------ */

static void
on_signal(evutil_socket_t fd, short what, void *arg)
{
    struct signalfd_siginfo si;

    while (read(fd, &si, sizeof(si)) == (ssize_t) sizeof(si)) {
        if ((int) si.ssi_signo == FPMD_SIG_CRON) {
            if ((pid_t) si.ssi_pid == getppid())
                fpmd_cron_run(si.ssi_ptr);
            continue;
        }
        switch (si.ssi_signo) {
        case SIGUSR1:
            fpmd_log_reopen();
            break;
        case SIGQUIT:
            begin_finishing("SIGQUIT",
                            si.ssi_code == SI_QUEUE && si.ssi_int != 0
                                ? FPMD_QUIT_CLOSE : FPMD_QUIT_HANDOFF);
            break;
        case SIGTERM:
        case SIGINT:
            worker.fast_exit = true;
            event_base_loopbreak(fpmd_process.base);
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
trim_memory(void)
{
    unsigned in_flight = fpmd_sched_in_flight();
    unsigned now = fpmd_conn_open_count() + in_flight;
    unsigned peak = worker.load_peak;
    size_t keep = now > SPARES_KEPT ? now : SPARES_KEPT;

    worker.load_peak = now;
    if (peak < now + SPARES_KEPT)
        return;
    fpmd_conn_rbuf_trim(SPARES_KEPT);
    fpmd_http_conn_trim(keep);
    fpmd_fcgi_conn_trim(keep);
    fpmd_req_trim(keep);
    fpmd_arena_trim(keep);
    fpmd_coro_pool_trim(worker.coros, in_flight > SPARES_KEPT ? in_flight
                                                             : SPARES_KEPT);
    malloc_trim(0);
}

/* The resident set in bytes, from /proc/self/statm (one pread of a
 * descriptor kept open); 0 when it cannot be read. */
static uint64_t
resident_bytes(void)
{
    char buf[128];
    unsigned long long size, resident;
    ssize_t n;

    if (worker.statm_fd < 0)
        return 0;
    n = pread(worker.statm_fd, buf, sizeof(buf) - 1, 0);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    if (sscanf(buf, "%llu %llu", &size, &resident) != 2)
        return 0;
    return (uint64_t) resident * (uint64_t) sysconf(_SC_PAGESIZE);
}

/* pm.max_memory: a worker that grew past it (a leak, a cache that only
 * grows) is recycled like one at max_requests, between requests: it
 * finishes what is in flight and hands its idle connections over. */
static void
check_memory(void)
{
    size_t max = fpmd_process.conf->pm.max_memory;
    uint64_t rss;

    if (max == 0 || worker.finishing)
        return;
    rss = resident_bytes();
    if (rss <= max)
        return;
    fpmd_log(FPMD_LOG_WARNING, "child %d uses %.1f MiB (pm.max_memory "
             "%.1f MiB), recycling after its requests", (int) getpid(),
             (double) rss / 1048576.0, (double) max / 1048576.0);
    begin_finishing("max_memory reached", FPMD_QUIT_HANDOFF);
}

/* Publishes the connections in use and passes some on when this worker
 * holds more than its share of them or of the count (accept.h). A
 * sibling publishes what it took at its own tick: passing again before
 * it has would pass too many, and the load would swing back and forth,
 * so a tick that passed is followed by one that does not. */
static void
share_load(void)
{
    struct fpmd_sb_slot *s = fpmd_process.slot;
    unsigned conns, hot;

    __atomic_store_n(&s->hot_conns, fpmd_conn_hot_count(), __ATOMIC_RELAXED);
    if (worker.finishing || worker.passed) {
        worker.passed = false;
        return;
    }
    fpmd_accept_excess(&conns, &hot);
    worker.passed = fpmd_conn_pass_on(hot, conns) > 0;
    if (worker.passed)
        __atomic_store_n(&s->hot_conns, fpmd_conn_hot_count(),
                         __ATOMIC_RELAXED);
}

static void
on_tick(evutil_socket_t fd, short what, void *arg)
{
    struct fpmd_sb_slot *s = fpmd_process.slot;
    size_t stacks, live;

    trim_memory();
    check_memory();
    fpmd_coro_pool_stats(worker.coros, &stacks, &live);
    fpmd_scoreboard_begin_write(s);
    s->heartbeat_us = fpmd_now_us();
    s->free_reqs = (uint32_t) fpmd_req_cached();
    s->free_buffers = (uint32_t) fpmd_arena_cached();
    s->free_stacks = (uint32_t) stacks;
    s->free_conns = (uint32_t) (fpmd_http_conn_cached()
                                + fpmd_fcgi_conn_cached());
    fpmd_scoreboard_end_write(s);
    fpmd_log_tally_flush();
    fpmd_services_tick();
    share_load();
    /* Whether the pool is saturated, and each worker's share of the
     * load, also change with what siblings do. */
    fpmd_accept_update();
}

#define LAG_EVERY_MS 100
#define LAG_WINDOW 100              /* samples: 10 s */

static void
lag_arm(void)
{
    struct timeval tv = {0, LAG_EVERY_MS * 1000};

    worker.lag_due_ns = fpmd_mono_ns() + LAG_EVERY_MS * 1000000ULL;
    event_add(worker.lag_ev, &tv);
}

/* How late the loop ran this timer is how long everything else held it
 * (a handler computing, a blocking call): the wait every request on this
 * worker saw on top of its own work. */
static void
on_lag(evutil_socket_t fd, short what, void *arg)
{
    struct fpmd_sb_slot *s = fpmd_process.slot;
    uint64_t now = fpmd_mono_ns();
    uint64_t lag = now > worker.lag_due_ns ? (now - worker.lag_due_ns) / 1000
                                           : 0;

    (void) fd;
    (void) what;
    (void) arg;
    if (lag > worker.lag_max_us)
        worker.lag_max_us = lag;
    if (++worker.lag_samples == LAG_WINDOW) {
        worker.lag_prev_max_us = worker.lag_max_us;
        worker.lag_max_us = 0;
        worker.lag_samples = 0;
    }
    fpmd_scoreboard_begin_write(s);
    s->lag_max_us = worker.lag_max_us > worker.lag_prev_max_us
        ? worker.lag_max_us : worker.lag_prev_max_us;
    s->lags++;
    s->lag_sum_us += lag;
    s->lag_hist[fpmd_sb_hist_bucket(lag)]++;
    fpmd_scoreboard_end_write(s);
    lag_arm();
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
setup_signals(void)
{
    sigset_t set;

    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    sigaddset(&set, SIGQUIT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, FPMD_SIG_CRON);
    worker.signal_fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (worker.signal_fd < 0)
        return FPMD_ERROR;
    worker.signal_ev = event_new(fpmd_process.base, worker.signal_fd,
                                 EV_READ | EV_PERSIST, on_signal, NULL);
    return worker.signal_ev != NULL && event_add(worker.signal_ev, NULL) == 0
        ? FPMD_OK : FPMD_ERROR;
}

int
fpmd_worker_main(const struct fpmd_conf *conf,
                 struct fpmd_listener *listeners, size_t nlisteners,
                 struct fpmd_scoreboard *sb, uint32_t slot, uint32_t generation,
                 const int handoff[2], uint64_t max_requests)
{
    struct timeval second = {1, 0};
    char prefix[96], err[8192];
    struct fpmd_sb_slot *s = &sb->slots[slot];

    snprintf(prefix, sizeof(prefix), "[pool %s] ", conf->pool_name);
    fpmd_log_set_prefix(prefix);
    worker.max_requests = max_requests;

    setup_fault_handler();
    fpmd_arena_bound(conf->limits.requests_memory);
    if (conf->pm.max_memory != 0
        && (worker.statm_fd = open("/proc/self/statm",
                                   O_RDONLY | O_CLOEXEC)) < 0)
        fpmd_log_errno(FPMD_LOG_WARNING, "worker %d: /proc/self/statm: "
                       "pm.max_memory is not enforced", (int) getpid());
    /* The master checked this config in a child already; failing here
     * means the files changed since, and the master's back-off applies. */
    worker.router = fpmd_prepare(conf, err, sizeof(err));
    if (worker.router == NULL) {
        char head[32];

        snprintf(head, sizeof(head), "worker %d: ", (int) getpid());
        fpmd_log_lines(FPMD_LOG_ALERT, head, err);
        return 78;
    }
    fpmd_event_alloc_install();
    fpmd_process.base = event_base_new();
    fpmd_process.conf = conf;
    fpmd_process.sb = sb;
    fpmd_process.slot = s;
    fpmd_process.routes = &sb->routes[slot];
    fpmd_process.flights = &sb->flights[slot];
    fpmd_process.listeners = listeners;
    fpmd_process.nlisteners = nlisteners;
    worker.coros = fpmd_coro_pool_new(conf->pm.stack_size,
                                      conf->pm.max_concurrency < 256
                                          ? conf->pm.max_concurrency : 256);
    if (fpmd_process.base == NULL || worker.coros == NULL
        || setup_signals() != FPMD_OK
        || fpmd_accept_setup(listeners, nlisteners, handoff[0], take)
               != FPMD_OK) {
        fpmd_log_errno(FPMD_LOG_ALERT, "worker %d: setup failed",
                       (int) getpid());
        return 1;
    }
    fpmd_worker_setup_engine(worker.router, worker.coros, handoff[1]);
    worker.tick_ev = event_new(fpmd_process.base, -1, EV_PERSIST, on_tick,
                               NULL);
    event_add(worker.tick_ev, &second);
    worker.lag_ev = evtimer_new(fpmd_process.base, on_lag, NULL);
    lag_arm();
    if (fpmd_services_start(conf, fpmd_process.base) != FPMD_OK) {
        fpmd_log(FPMD_LOG_ALERT, "worker %d: a service failed to start",
                 (int) getpid());
        return 78;
    }

    fpmd_scoreboard_begin_write(s);
    s->pid = getpid();
    s->generation = generation;
    s->start_us = fpmd_now_us();
    s->heartbeat_us = s->start_us;
    fpmd_sched_routes_init();
    fpmd_scoreboard_end_write(s);
    on_tick(-1, 0, NULL);
    /* Everything only start-up needs is done: from here on the worker
     * makes only the calls it serves with. */
    if (fpmd_seccomp_install(conf) != FPMD_OK)
        return 78;
    fpmd_accept_update();
    slot_update_state();

    event_base_dispatch(fpmd_process.base);

    if (worker.fast_exit || fpmd_sched_in_flight() > 0
        || fpmd_conn_open_count() > 0)
        fpmd_conn_close_all();
    fpmd_services_stop();
    fpmd_accept_free();
    event_free(worker.tick_ev);
    event_free(worker.lag_ev);
    event_free(worker.signal_ev);
    close(worker.signal_fd);
    if (worker.statm_fd >= 0)
        close(worker.statm_fd);
    fpmd_router_free(worker.router);
    fpmd_scoreboard_begin_write(s);
    s->state = FPMD_SB_FINISHING;
    fpmd_scoreboard_end_write(s);
    return 0;
}
