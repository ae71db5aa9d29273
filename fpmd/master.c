/* SPDX-License-Identifier: BSD-2-Clause */
/* The master: a poll(2) loop over a signalfd (and, for pm ondemand, the
 * listeners). No libevent here, so forked workers inherit no event state.
 * Each config generation owns its conf, routes, listeners and scoreboard;
 * a reload starts the new generation's workers before the old ones are
 * asked to finish, and listener descriptors move from one generation to
 * the next, so the accept queue never closes. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

#include "fpmd/access_log.h"
#include "fpmd/clock.h"
#include "fpmd/discovery.h"
#include "fpmd/cron_run.h"
#include "fpmd/handoff.h"
#include "fpmd/log.h"
#include "fpmd/master.h"
#include "fpmd/master_impl.h"
#include "fpmd/prepare.h"
#include "fpmd/listen.h"
#include "fpmd/scoreboard.h"
#include "fpmd/tables.h"
#include "fpmd/upgrade.h"
#include "fpmd/task.h"
#include "fpmd/watch.h"
#include "fpmd/worker.h"

/* watch: how long the watched files stay quiet before the reload. */
#define WATCH_QUIET_US 300000
/* How often the master looks whether a new generation's workers accept
 * yet, for systemd's READY=1. */
#define READY_POLL_MS 20


static unsigned
ncpus(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);

    return n > 0 ? (unsigned) n : 1;
}

static const char *
pm_name(enum fpmd_pm_mode m)
{
    return m == FPMD_PM_DYNAMIC ? "dynamic"
        : m == FPMD_PM_ONDEMAND ? "ondemand" : "static";
}

/* --- generations ------------------------------------------------------ */

static unsigned
max_children(const struct fpmd_conf *conf)
{
    return conf->pm.max_children ? conf->pm.max_children : ncpus();
}

static void
gen_free(struct gen *g, int unlink_paths)
{
    for (size_t i = 0; i < g->nlisteners; i++)
        fpmd_listener_close(&g->listeners[i], unlink_paths);
    free(g->listeners);
    fpmd_tables_close(g->tables, g->ntables);
    fpmd_breaker_set_free(g->breakers);
    fpmd_discovery_free(g->discovery);
    if (g->ratelimit != NULL)
        munmap(g->ratelimit, g->ratelimit_bytes);
    fpmd_scoreboard_free(g->sb);
    fpmd_conf_free(g->conf);
    free(g);
}

/* A reload whose config no longer names a socket systemd passed would
 * close it here while its socket unit keeps it open, queueing connections
 * nobody accepts: the reload fails instead. */
static int
keeps_passed(const struct gen *g, const struct gen *prev, const int *adopt)
{
    for (size_t j = 0; prev != NULL && j < prev->nlisteners; j++) {
        bool kept = false;

        if (!prev->listeners[j].inherited || prev->listeners[j].fd < 0)
            continue;
        for (size_t i = 0; i < g->conf->nlisten && !kept; i++)
            kept = adopt[i] == (int) j;
        if (!kept) {
            fpmd_log(FPMD_LOG_ERROR, "listen %s: the socket systemd passed "
                     "for it is named by no listener of the new "
                     "configuration (remove it from the socket unit and "
                     "restart instead)", prev->listeners[j].address);
            return FPMD_ERROR;
        }
    }
    return FPMD_OK;
}

/* Socket activation: a socket systemd passed that no listener names
 * would queue connections nobody accepts, so the start fails, naming
 * it. */
static int
names_all_passed(const struct master *m)
{
    char name[128];
    int rc = FPMD_OK;

    for (size_t i = 0; i < m->npassed; i++) {
        if (m->passed[i] < 0)
            continue;
        fpmd_log(FPMD_LOG_ERROR, "systemd passed a socket no listener "
                 "names: fd %d, %s (add its address to listen:, or remove "
                 "it from the socket unit)", m->passed[i],
                 fpmd_listen_fd_name(m->passed[i], name, sizeof(name)));
        rc = FPMD_ERROR;
    }
    return rc;
}

/* Opens conf's listeners, adopting the descriptors of prev's listeners
 * for unchanged addresses and taking those systemd passed; binding the
 * rest. On failure nothing of prev is touched. */
static int
gen_listen(struct master *m, struct gen *g, struct gen *prev)
{
    const struct fpmd_conf *conf = g->conf;
    int *adopt, rc = FPMD_OK;
    size_t i;

    g->listeners = calloc(conf->nlisten ? conf->nlisten : 1,
                          sizeof(*g->listeners));
    adopt = calloc(conf->nlisten ? conf->nlisten : 1, sizeof(*adopt));
    if (g->listeners == NULL || adopt == NULL) {
        free(adopt);
        return FPMD_ERROR;
    }
    for (i = 0; i < conf->nlisten; i++) {
        adopt[i] = -1;
        for (size_t j = 0; prev != NULL && j < prev->nlisteners; j++) {
            if (prev->listeners[j].fd >= 0
                && strcmp(prev->listeners[j].address,
                          conf->listen[i].address) == 0)
                adopt[i] = (int) j;
        }
        g->listeners[i].fd = -1;
    }
    if (keeps_passed(g, prev, adopt) != FPMD_OK) {
        free(adopt);
        return FPMD_ERROR;
    }
    for (i = 0; i < conf->nlisten && rc == FPMD_OK; i++) {
        if (adopt[i] >= 0)
            continue;
        rc = fpmd_listener_inherit(&g->listeners[i], &conf->listen[i],
                                   m->passed, m->npassed);
        if (rc == FPMD_DECLINED)
            rc = fpmd_listener_open(&g->listeners[i], &conf->listen[i]);
    }
    if (rc == FPMD_OK)
        rc = names_all_passed(m);
    if (rc != FPMD_OK) {
        for (size_t j = 0; j < i; j++) {
            if (adopt[j] < 0)
                fpmd_listener_close(&g->listeners[j], 1);
        }
        free(adopt);
        return FPMD_ERROR;
    }
    for (i = 0; i < conf->nlisten; i++) {
        if (adopt[i] >= 0)
            fpmd_listener_adopt(&g->listeners[i], &conf->listen[i],
                                &prev->listeners[adopt[i]]);
    }
    g->nlisteners = conf->nlisten;
    free(adopt);
    return FPMD_OK;
}

/* The circuit breakers of conf's upstream servers, shared by the
 * generation's processes (a new generation starts them closed). NULL
 * without upstreams, or when the mapping fails (logged). */
static struct fpmd_breaker_set *
upstream_breakers(const struct fpmd_conf *conf)
{
    struct fpmd_breaker_set *set;
    size_t n = 0;

    for (size_t i = 0; i < conf->nupstreams; i++)
        n += fpmd_conf_upstream_slots(&conf->upstreams[i]);
    if (n == 0)
        return NULL;
    set = fpmd_breaker_set_new(n);
    if (set == NULL)
        fpmd_log_errno(FPMD_LOG_ALERT, "cannot map the upstreams' circuit "
                       "breakers");
    return set;
}

static bool
any_discover(const struct fpmd_conf *conf)
{
    for (size_t i = 0; i < conf->nupstreams; i++) {
        if (conf->upstreams[i].discover != NULL)
            return true;
    }
    return false;
}

/* The token buckets of g's routes with rate_limit:, shared by the
 * generation's processes (a reload starts them full); none without such
 * routes. FPMD_ERROR (logged) when the mapping fails. */
static int
route_buckets(struct gen *g)
{
    const struct fpmd_conf *conf = g->conf;
    size_t bytes = fpmd_ratelimit_size(conf->limits.rate_limit_keys);
    struct fpmd_ratelimit *rl;
    bool any = false;

    for (size_t i = 0; i < conf->nroutes; i++)
        any |= conf->routes[i].rate_limit != NULL;
    if (!any)
        return FPMD_OK;
    rl = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
              MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (rl != MAP_FAILED && fpmd_ratelimit_init(
            rl, conf->limits.rate_limit_keys) != FPMD_OK) {
        munmap(rl, bytes);
        rl = MAP_FAILED;
    }
    if (rl == MAP_FAILED) {
        fpmd_log_errno(FPMD_LOG_ALERT, "cannot map the routes' rate_limit "
                       "buckets");
        return FPMD_ERROR;
    }
    g->ratelimit = rl;
    g->ratelimit_bytes = bytes;
    return FPMD_OK;
}

static struct gen *
gen_new(struct master *m, struct fpmd_conf *conf, struct gen *prev)
{
    struct gen *g = calloc(1, sizeof(*g));
    char err[512];

    if (g == NULL)
        return NULL;
    g->id = prev ? prev->id + 1 : 1;
    g->conf = conf;
    if (conf->pm.max_children == 0)
        conf->pm.max_children = ncpus();
    g->sb = fpmd_scoreboard_new(max_children(conf));
    g->breakers = upstream_breakers(conf);
    g->discovery = fpmd_discovery_new(conf);
    if (g->discovery == NULL && any_discover(conf))
        fpmd_log_errno(FPMD_LOG_ALERT, "cannot map the discovered servers' "
                       "lists");
    fpmd_discovery_carry(g->discovery, conf, prev ? prev->discovery : NULL,
                         prev ? prev->conf : NULL);
    if (fpmd_master_creds(conf, m->opts->allow_root, &g->creds) != FPMD_OK
        || g->sb == NULL || (conf->nupstreams > 0 && g->breakers == NULL)
        || (g->discovery == NULL && any_discover(conf))
        || route_buckets(g) != FPMD_OK
        || fpmd_master_tasks_open(m, conf) != FPMD_OK) {
        /* conf stays with the caller on failure */
        g->conf = NULL;
        gen_free(g, 0);
        return NULL;
    }
    g->tables = fpmd_tables_open(conf, prev ? prev->tables : NULL,
                                 prev ? prev->conf : NULL, err, sizeof(err));
    if (g->tables == NULL)
        fpmd_log(FPMD_LOG_ERROR, "%s", err);
    if (g->tables == NULL
        || gen_listen(m, g, prev ? prev : m->inherited) != FPMD_OK) {
        /* prev's tables stay prev's */
        fpmd_tables_drop(g->tables, conf->ntables, prev ? prev->tables : NULL,
                         prev ? prev->ntables : 0);
        g->tables = NULL;
        g->conf = NULL;
        gen_free(g, 0);
        return NULL;
    }
    g->ntables = conf->ntables;
    fpmd_tables_commit(conf, g->tables, prev ? prev->tables : NULL,
                       prev ? prev->ntables : 0);
    fpmd_scoreboard_copy_str(g->sb->pool.name, sizeof(g->sb->pool.name),
                             conf->pool_name, strlen(conf->pool_name));
    g->sb->pool.pm_mode = conf->pm.mode;
    g->sb->pool.start_us = prev ? prev->sb->pool.start_us : fpmd_now_us();
    return g;
}

/* --- children --------------------------------------------------------- */

static struct child *
child_alloc(struct master *m)
{
    for (size_t i = 0; i < m->nchildren_cap; i++) {
        if (m->children[i].pid == 0)
            return &m->children[i];
    }
    size_t old = m->nchildren_cap;
    size_t cap = old ? old * 2 : 16;
    struct child *grown = realloc(m->children, cap * sizeof(*grown));

    if (grown == NULL)
        return NULL;
    memset(grown + old, 0, (cap - old) * sizeof(*grown));
    for (size_t i = old; i < cap; i++)
        grown[i].reply_fd = -1;
    m->children = grown;
    m->nchildren_cap = cap;
    return &m->children[old];
}

static int
free_slot(struct master *m, struct gen *g, uint32_t *slot)
{
    for (uint32_t s = 0; s < g->sb->nslots; s++) {
        int used = 0;

        for (size_t i = 0; i < m->nchildren_cap && !used; i++)
            used = m->children[i].pid != 0 && m->children[i].gen == g
                && m->children[i].slot == s;
        if (!used) {
            *slot = s;
            return FPMD_OK;
        }
    }
    return FPMD_ERROR;
}

/* A worker's recycling count: pm.max_requests and a share of its jitter.
 * The shares follow the golden ratio's multiples (Fibonacci hashing): any
 * run of consecutive forks lands spread over [0, jitter], so workers
 * started together recycle apart, reproducibly. */
static uint64_t
worker_max_requests(const struct fpmd_conf *conf, uint32_t fork)
{
    uint32_t spread = fork * 2654435769u;

    if (conf->pm.max_requests == 0)
        return 0;
    return conf->pm.max_requests
        + (((uint64_t) spread * ((uint64_t) conf->pm.max_requests_jitter + 1))
           >> 32);
}

static void
child_main(struct master *m, struct gen *g, uint32_t slot,
           uint64_t max_requests, const int reply[2])
{
    fpmd_master_child_detach(m, g);
    fpmd_master_child_tasks(m, g, reply, false);
    exit(fpmd_worker_main(g->conf, g->listeners, g->nlisteners, g->sb, slot,
                          g->id, m->handoff, max_requests));
}

static int
spawn(struct master *m, struct gen *g)
{
    struct child *c;
    uint64_t max_requests;
    uint32_t slot;
    int reply[2];
    pid_t pid;

    if (free_slot(m, g, &slot) != FPMD_OK)
        return FPMD_ERROR;
    c = child_alloc(m);
    if (c == NULL)
        return FPMD_ERROR;
    memset(&g->sb->slots[slot], 0, sizeof(g->sb->slots[slot]));
    g->sb->slots[slot].state = FPMD_SB_STARTING;
    g->sb->slots[slot].start_us = fpmd_now_us();
    max_requests = worker_max_requests(g->conf, m->forks++);
    fpmd_master_reply_pair(m, g, reply);
    pid = fork();
    if (pid < 0) {
        fpmd_log_errno(FPMD_LOG_ERROR, "fork() failed");
        g->sb->slots[slot].state = FPMD_SB_FREE;
        if (reply[0] >= 0) {
            close(reply[0]);
            close(reply[1]);
        }
        return FPMD_ERROR;
    }
    if (pid == 0)
        child_main(m, g, slot, max_requests, reply);
    if (reply[0] >= 0)
        close(reply[0]);
    c->reply_fd = reply[1];
    c->pid = pid;
    c->gen = g;
    c->slot = slot;
    c->started_us = fpmd_now_us();
    c->quit_us = 0;
    c->killed = false;
    g->live++;
    fpmd_log(FPMD_LOG_NOTICE, "[pool %s] child %d started", g->conf->pool_name,
             (int) pid);
    return FPMD_OK;
}

/* SIGQUIT carries what the worker does with its kept-alive connections
 * (sigqueue's value; a plain kill from an operator means handoff). */
static void
send_quit(struct child *c, enum fpmd_worker_quit how)
{
    union sigval v = {.sival_int = (int) how};

    if (c->quit_us != 0 && how == FPMD_QUIT_HANDOFF)
        return;
    if (c->quit_us == 0)
        c->quit_us = fpmd_now_us();
    sigqueue(c->pid, SIGQUIT, v);
}

/* The master's own view of a child's slot, sanitized. */
static int
read_slot(const struct child *c, struct fpmd_sb_slot *out)
{
    return fpmd_scoreboard_read(c->gen->sb, c->slot, out);
}

/* 1 when c is a running child of g, not asked to quit, idle now; its
 * slot is copied to *s. */
static int
idle_child(const struct child *c, const struct gen *g, struct fpmd_sb_slot *s)
{
    return c->pid != 0 && c->gen == g && c->quit_us == 0
        && read_slot(c, s) == FPMD_OK && s->state == FPMD_SB_IDLE;
}

static unsigned
count_children(const struct master *m, const struct gen *g, unsigned *idle,
               unsigned *busy)
{
    unsigned total = 0;

    *idle = *busy = 0;
    for (size_t i = 0; i < m->nchildren_cap; i++) {
        const struct child *c = &m->children[i];
        struct fpmd_sb_slot s;

        if (c->pid == 0 || c->gen != g || c->quit_us != 0)
            continue;
        total++;
        /* A child still starting counts as idle: it will be, and counting
         * it avoids forking a second one for the same gap. */
        if (read_slot(c, &s) != FPMD_OK || s.state == FPMD_SB_STARTING
            || s.state == FPMD_SB_IDLE)
            (*idle)++;
        else if (s.state == FPMD_SB_BUSY)
            (*busy)++;
    }
    return total;
}

static void
reap(struct master *m)
{
    int status;
    pid_t pid;

    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        struct child *c = NULL;
        uint64_t now = fpmd_now_us();
        struct fpmd_sb_slot s;
        double lived;
        int oom_kills_rose;

        if (pid == m->upgrade_pid) {
            /* an upgrade's verdict is on its pipe; a new master that
             * daemonizes ends this pid once it serves */
            m->upgrade_pid = m->upgrade_fd >= 0 ? -1 : 0;
            continue;
        }
        if (fpmd_master_uproc_reaped(m, pid, status, now))
            continue;
        for (size_t i = 0; i < m->nchildren_cap && c == NULL; i++) {
            if (m->children[i].pid == pid)
                c = &m->children[i];
        }
        if (c == NULL)
            continue;
        lived = (double) (now - c->started_us) / 1e6;
        oom_kills_rose = fpmd_master_note_oom_kills(m);
        if (WIFSIGNALED(status)) {
            int sig = WTERMSIG(status);

            fpmd_master_log_signal_death(m, c, sig, lived, oom_kills_rose);
            if (sig == SIGSEGV || sig == SIGBUS)
                fpmd_master_note_crash(m, now);
        } else {
            fpmd_log(WEXITSTATUS(status) != 0 ? FPMD_LOG_WARNING
                                              : FPMD_LOG_NOTICE,
                     "[pool %s] child %d exited with code %d after %.6f "
                     "seconds from start", c->gen->conf->pool_name, (int) pid,
                     WEXITSTATUS(status), lived);
        }
        fpmd_master_track_backoff(m, c, status, now);
        fpmd_cron_reaped(pid);
        /* Carry the dead child's counters into the pool totals. */
        if (read_slot(c, &s) == FPMD_OK || s.pid == pid) {
            c->gen->sb->pool.accepted_conn_dead += s.accepted_conn;
            c->gen->sb->pool.slow_requests_dead += s.slow_requests;
            c->gen->sb->pool.refused_requests_dead += s.refused_requests;
            m->requests_dead += s.requests;
            m->slow_dead += s.slow_requests;
        }
        memset(&c->gen->sb->slots[c->slot], 0, sizeof(struct fpmd_sb_slot));
        /* its requests hold no route's concurrency: any more */
        for (size_t r = 0; r < FPMD_SB_ROUTES; r++)
            c->gen->sb->routes[c->slot].r[r].in_flight = 0;
        c->gen->live--;
        c->pid = 0;
        if (c->reply_fd >= 0)
            close(c->reply_fd);
        c->reply_fd = -1;
    }
}

static void
free_drained_gens(struct master *m)
{
    for (struct gen **pp = &m->old; *pp != NULL;) {
        struct gen *g = *pp;

        if (g->live == 0) {
            *pp = g->next;
            gen_free(g, 0);
        } else {
            pp = &g->next;
        }
    }
}

/* --- process manager -------------------------------------------------- */

static void
pm_static(struct master *m, struct gen *g)
{
    unsigned idle, busy, total = count_children(m, g, &idle, &busy);

    while (total < g->conf->pm.max_children && spawn(m, g) == FPMD_OK)
        total++;
}

static void
pm_dynamic(struct master *m, struct gen *g)
{
    const struct fpmd_conf *conf = g->conf;
    unsigned idle, busy, total = count_children(m, g, &idle, &busy);

    if (idle > conf->pm.max_spare_servers) {
        struct child *oldest = NULL;
        uint64_t oldest_idle = UINT64_MAX;

        /* One per round, the child idle the longest (php-fpm does the
         * same once a second). */
        for (size_t i = 0; i < m->nchildren_cap; i++) {
            struct child *c = &m->children[i];
            struct fpmd_sb_slot s;

            if (!idle_child(c, g, &s))
                continue;
            if (s.last_idle_us < oldest_idle) {
                oldest_idle = s.last_idle_us;
                oldest = c;
            }
        }
        if (oldest != NULL)
            send_quit(oldest, FPMD_QUIT_HANDOFF);
        m->spawn_rate = 1;
        return;
    }
    if (idle >= conf->pm.min_spare_servers) {
        m->spawn_rate = 1;
        return;
    }
    if (total >= conf->pm.max_children) {
        g->sb->pool.max_children_reached++;
        fpmd_log(FPMD_LOG_WARNING, "[pool %s] server reached pm.max_children "
                 "setting (%u), consider raising it", conf->pool_name,
                 conf->pm.max_children);
        return;
    }
    unsigned want = conf->pm.min_spare_servers - idle;

    if (want > m->spawn_rate)
        want = m->spawn_rate;
    if (want > conf->pm.max_children - total)
        want = conf->pm.max_children - total;
    if (m->spawn_rate > 8)
        fpmd_log(FPMD_LOG_WARNING, "[pool %s] seems busy (you may need to "
                 "increase pm.start_servers, or pm.min/max_spare_servers), "
                 "spawning %u children, there are %u idle, and %u total "
                 "children", conf->pool_name, want, idle, total);
    for (unsigned i = 0; i < want; i++)
        spawn(m, g);
    if (m->spawn_rate < conf->pm.max_spawn_rate)
        m->spawn_rate *= 2;
    if (m->spawn_rate > conf->pm.max_spawn_rate)
        m->spawn_rate = conf->pm.max_spawn_rate;
}

static void
pm_ondemand_reap(struct master *m, struct gen *g, uint64_t now)
{
    uint64_t limit = g->conf->pm.process_idle_timeout_ms * 1000;

    for (size_t i = 0; i < m->nchildren_cap; i++) {
        struct child *c = &m->children[i];
        struct fpmd_sb_slot s;

        if (!idle_child(c, g, &s))
            continue;
        /* Handing its connections over would only fork a worker to hold
         * them: the idle ones are closed, as php-fpm does. */
        if (now > s.last_idle_us && now - s.last_idle_us > limit)
            send_quit(c, FPMD_QUIT_CLOSE);
    }
}

/* How long a worker's loop may go without a tick while it has requests in
 * flight: timeouts.blocked_loop, or request_terminate_timeout (and the
 * tick's second of slack) when that is shorter, since a handler that
 * blocks the loop keeps its own terminate timer from firing; 0: never
 * killed for it. */
static uint64_t
blocked_loop_bound_us(const struct fpmd_conf *conf)
{
    uint64_t bound = conf->timeouts.blocked_loop_ms * 1000;
    uint64_t term = conf->timeouts.request_terminate_ms * 1000;

    if (term != 0 && (bound == 0 || term + 2000000 < bound))
        bound = term + 2000000;
    return bound;
}

/* A handler that never yields blocks its worker's loop, and with it every
 * request the worker multiplexes; no timer of the worker can fire, and a
 * SIGTERM or SIGQUIT would wait in its signalfd for the loop too, so the
 * master kills it outright (php-fpm ends such a child as well). The
 * slot's running record names the request whose handler the worker ran
 * last, the one that blocks it: php-fpm's row is the oldest in flight,
 * which need not be that one. */
static void
check_heartbeat(struct child *c, const struct fpmd_sb_slot *s, uint64_t now)
{
    const struct fpmd_conf *conf = c->gen->conf;
    uint64_t bound = blocked_loop_bound_us(conf);

    if (bound == 0 || s->in_flight == 0
        || (s->state != FPMD_SB_BUSY && s->state != FPMD_SB_FINISHING)
        || now <= s->heartbeat_us || now - s->heartbeat_us <= bound)
        return;
    fpmd_log(FPMD_LOG_WARNING, "[pool %s] child %d, script '%s' (request: "
             "\"%s %s\") event loop blocked (%.3f sec), killing it with "
             "SIGKILL", conf->pool_name, (int) c->pid, s->running.script,
             s->running.method, s->running.uri,
             (double) (now - s->heartbeat_us) / 1e6);
    c->killed = true;
    kill(c->pid, SIGKILL);
}

static void
enforce_deadlines(struct master *m, uint64_t now)
{
    for (size_t i = 0; i < m->nchildren_cap; i++) {
        struct child *c = &m->children[i];
        const struct fpmd_conf *conf;
        struct fpmd_sb_slot s;

        if (c->pid == 0 || c->killed)
            continue;
        conf = c->gen->conf;
        if (m->stopping == STOP_FAST && now - m->stop_us > FAST_STOP_US) {
            c->killed = true;
            kill(c->pid, SIGKILL);
            continue;
        }
        if (c->quit_us != 0 && conf->timeouts.process_control_ms != 0
            && now - c->quit_us > conf->timeouts.process_control_ms * 1000) {
            fpmd_log(FPMD_LOG_WARNING, "[pool %s] child %d still running "
                     "after process_control_timeout, sending SIGKILL",
                     conf->pool_name, (int) c->pid);
            c->killed = true;
            kill(c->pid, SIGKILL);
            continue;
        }
        if (read_slot(c, &s) == FPMD_OK)
            check_heartbeat(c, &s, now);
    }
}

/* What the status page calls the listen queue: connections in the
 * listeners' accept queues and requests waiting in the workers' queues
 * (README "Admission control"); its high-water mark, sampled here. */
static void
update_pool_stats(struct master *m, struct gen *g)
{
    unsigned idle, busy;
    unsigned queued = 0;

    count_children(m, g, &idle, &busy);
    if (busy > g->sb->pool.max_active)
        g->sb->pool.max_active = busy;
    for (size_t i = 0; i < m->nchildren_cap; i++) {
        const struct child *c = &m->children[i];
        struct fpmd_sb_slot s;

        if (c->pid != 0 && c->gen == g && read_slot(c, &s) == FPMD_OK)
            queued += s.queued;
    }
    for (size_t i = 0; i < g->nlisteners; i++) {
        unsigned q, backlog;

        if (fpmd_listener_queue(&g->listeners[i], &q, &backlog) == FPMD_OK)
            queued += q;
    }
    if (queued > g->sb->pool.max_listen_queue)
        g->sb->pool.max_listen_queue = queued;
}

static void
maintain(struct master *m)
{
    uint64_t now = fpmd_now_us();
    struct gen *g = m->cur;

    enforce_deadlines(m, now);
    m->uproc_next_ms = fpmd_master_uprocs_maintain(m, now);
    if (m->stopping)
        return;
    update_pool_stats(m, g);
    if (now < m->next_spawn_us)
        return;
    switch (g->conf->pm.mode) {
    case FPMD_PM_STATIC:
        pm_static(m, g);
        break;
    case FPMD_PM_DYNAMIC:
        if (now - m->last_maintenance_us >= 1000000) {
            m->last_maintenance_us = now;
            pm_dynamic(m, g);
        }
        break;
    case FPMD_PM_ONDEMAND:
        pm_ondemand_reap(m, g, now);
        break;
    }
}

/* ondemand: a connection is waiting and nobody idle will take it. */
static void
ondemand_spawn(struct master *m)
{
    struct gen *g = m->cur;
    unsigned idle, busy, total = count_children(m, g, &idle, &busy);

    if (idle > 0)
        return;
    if (total >= g->conf->pm.max_children) {
        g->sb->pool.max_children_reached++;
        return;
    }
    spawn(m, g);
}

/* Forks g's first workers; how many. */
static unsigned
start_generation(struct master *m, struct gen *g)
{
    unsigned n;

    switch (g->conf->pm.mode) {
    case FPMD_PM_STATIC:
        n = g->conf->pm.max_children;
        break;
    case FPMD_PM_DYNAMIC:
        n = g->conf->pm.start_servers;
        if (n == 0)
            n = g->conf->pm.min_spare_servers
                + (g->conf->pm.max_spare_servers
                   - g->conf->pm.min_spare_servers) / 2;
        break;
    default:
        n = 0;
        break;
    }
    m->spawn_rate = 1;
    for (unsigned i = 0; i < n; i++)
        spawn(m, g);
    return n;
}

/* --- systemd ---------------------------------------------------------- */

/* 1 when a worker of g takes connections. */
static int
gen_accepting(const struct master *m, const struct gen *g)
{
    for (size_t i = 0; i < m->nchildren_cap; i++) {
        const struct child *c = &m->children[i];
        struct fpmd_sb_slot s;

        if (c->pid != 0 && c->gen == g && c->quit_us == 0
            && read_slot(c, &s) == FPMD_OK
            && (s.state == FPMD_SB_IDLE || s.state == FPMD_SB_BUSY))
            return 1;
    }
    return 0;
}

/* systemd's STATUS line, after READY=1 when ready: php-fpm's figures,
 * the requests of every worker since the start (the live ones' slots,
 * and what the reaped ones left). */
static void
notify_status(struct master *m, bool ready)
{
    uint64_t requests = m->requests_dead, slow = m->slow_dead;
    unsigned idle, busy;

    for (size_t i = 0; i < m->nchildren_cap; i++) {
        const struct child *c = &m->children[i];
        struct fpmd_sb_slot s;

        if (c->pid != 0 && read_slot(c, &s) == FPMD_OK) {
            requests += s.requests;
            slow += s.slow_requests;
        }
    }
    count_children(m, m->cur, &idle, &busy);
    fpmd_systemd_status(&m->sd, fpmd_systemd_now_us(), ready,
                        m->reload_note, busy, idle, requests, slow);
}

static void
notify_ready(struct master *m)
{
    m->awaiting_ready = false;
    if (!m->ready_logged) {
        fpmd_log(FPMD_LOG_NOTICE, "ready to handle connections");
        m->ready_logged = true;
        /* an old master waits for this to leave the sockets to us */
        fpmd_upgrade_ready();
    }
    notify_status(m, true);
}

/* READY=1 (a start's, or a reload's end) waits for a worker of the new
 * generation to accept: until then a connection would only queue. One
 * that starts none (pm ondemand) is ready as its listeners are. */
static void
await_ready(struct master *m, unsigned started)
{
    m->awaiting_ready = true;
    if (started == 0)
        notify_ready(m);
}

/* Each pass of the loop: READY=1 once due, the watchdog's ping and the
 * STATUS line. A loop that stops turning stops the pings, and systemd
 * restarts the service (WatchdogSec=). */
static void
notify_tick(struct master *m)
{
    uint64_t now = fpmd_systemd_now_us();

    if (m->awaiting_ready && !m->stopping && gen_accepting(m, m->cur))
        notify_ready(m);
    fpmd_systemd_watchdog(&m->sd, now);
    if (!m->stopping && !m->awaiting_ready
        && fpmd_systemd_status_due(&m->sd, now))
        notify_status(m, false);
}

/* --- signals ---------------------------------------------------------- */

/* The new generation's workers started, the old ones told to finish;
 * FPMD_ERROR (logged) when the config failed and prev keeps serving. */
static int
try_reload(struct master *m)
{
    char err[8192];
    struct fpmd_conf *conf;
    struct gen *g, *prev = m->cur;
    unsigned started;

    fpmd_log(FPMD_LOG_NOTICE, "Reloading in progress ...");
    conf = fpmd_conf_load(m->opts->conf_path, err, sizeof(err));
    if (conf == NULL) {
        fpmd_log_lines(FPMD_LOG_ERROR, "reload failed, keeping the running "
                       "configuration: ", err);
        return FPMD_ERROR;
    }
    if (fpmd_prepare_in_child(conf, err, sizeof(err)) != FPMD_OK) {
        fpmd_log_lines(FPMD_LOG_ERROR, "reload failed, keeping the running "
                       "configuration: ", err);
        fpmd_conf_free(conf);
        return FPMD_ERROR;
    }
    g = gen_new(m, conf, prev);
    if (g == NULL) {
        fpmd_log(FPMD_LOG_ERROR, "reload failed, keeping the running "
                 "configuration");
        fpmd_conf_free(conf);
        return FPMD_ERROR;
    }
    fpmd_log_open(conf);
    m->cur = g;
    fpmd_cron_load(conf);
    fpmd_watch_close(m->watch_fd);
    m->watch_fd = conf->watch ? fpmd_watch_open(conf) : -1;
    /* New workers first, then the old ones are told to finish: there is
     * never a moment without someone accepting. */
    started = start_generation(m, g);
    fpmd_master_uprocs_start(m, g);
    for (size_t i = 0; i < m->nchildren_cap; i++) {
        if (m->children[i].pid != 0 && m->children[i].gen == prev)
            send_quit(&m->children[i], FPMD_QUIT_HANDOFF);
    }
    /* a generation without task processes leaves none to take the queue */
    fpmd_master_uprocs_stop(m, g, SIGQUIT, g->conf->tasks.workers
                                   ? FPMD_TASK_QUIT_FINISH
                                   : FPMD_TASK_QUIT_DRAIN);
    for (size_t i = 0; i < prev->nlisteners; i++)
        fpmd_listener_close(&prev->listeners[i], 1);
    prev->next = m->old;
    m->old = prev;
    free(m->crashes);
    m->crashes = NULL;
    m->fast_failures = 0;
    m->next_spawn_us = 0;
    fpmd_log(FPMD_LOG_NOTICE, "configuration reloaded (generation %u)",
             g->id);
    free_drained_gens(m);
    m->reload_note[0] = '\0';
    await_ready(m, started);
    return FPMD_OK;
}

/* systemd hears RELOADING=1, then READY=1 when the new generation
 * accepts, or at once when the reload failed, with a STATUS that says
 * so until a reload succeeds. */
static void
reload(struct master *m)
{
    fpmd_systemd_reloading();
    if (try_reload(m) == FPMD_OK)
        return;
    snprintf(m->reload_note, sizeof(m->reload_note), "Reload failed, "
             "generation %u keeps serving (see the error log); ",
             m->cur->id);
    if (!m->awaiting_ready)
        notify_ready(m);
}

/* A stop: how, and what a worker does with its kept connections when
 * graceful (quit, worker.h). */
static void
stop_with(struct master *m, int how, enum fpmd_worker_quit quit)
{
    if (m->stopping >= how)
        return;
    /* upgraded, the service is the new master's to report */
    if (!m->stopping && !m->upgraded)
        fpmd_systemd_notify("STOPPING=1\nSTATUS=%s", how == STOP_FAST
                            ? "Terminating" : "Finishing");
    m->stopping = how;
    m->stop_us = fpmd_now_us();
    fpmd_log(FPMD_LOG_NOTICE, how == STOP_FAST ? "Terminating ..."
                                               : "Finishing ...");
    /* The workers take what is queued and close their copies; with the
     * last close the address refuses new connections at once, so a web
     * server can send them elsewhere (nginx does, POSTs included, when
     * the connect fails) instead of queueing them to be reset at exit.
     * The master's copies go first: closed after the signals, a worker
     * quick to drain and close left the master's copy to queue new
     * connections, reset when it closed. */
    if (how == STOP_GRACEFUL) {
        for (size_t i = 0; i < m->cur->nlisteners; i++)
            fpmd_listener_close(&m->cur->listeners[i], !m->upgraded);
    }
    for (size_t i = 0; i < m->nchildren_cap; i++) {
        struct child *c = &m->children[i];

        if (c->pid == 0)
            continue;
        if (how == STOP_FAST)
            kill(c->pid, SIGTERM);
        else
            send_quit(c, quit);
    }
    fpmd_master_uprocs_stop(m, NULL, how == STOP_FAST ? SIGTERM : SIGQUIT, -1);
}

static void
stop(struct master *m, int how)
{
    stop_with(m, how, FPMD_QUIT_CLOSE);
}

/* --- binary upgrade ---------------------------------------------------- */

static int write_pid_file(const char *path);

/* How long a new binary has to say it serves. */
#define UPGRADE_TIMEOUT_US 60000000

static void
upgrade_start(struct master *m)
{
    if (m->stopping || m->upgrade_pid != 0) {
        fpmd_log(FPMD_LOG_WARNING, "upgrade: %s: ignored",
                 m->stopping ? "stopping" : "one is under way");
        return;
    }
    m->upgrade_pid = fpmd_upgrade_spawn(m->cur->listeners,
                                        m->cur->nlisteners, m->handoff,
                                        &m->upgrade_fd);
    if (m->upgrade_pid < 0) {
        m->upgrade_pid = 0;
        return;
    }
    m->upgrade_deadline_us = fpmd_now_us() + UPGRADE_TIMEOUT_US;
    fpmd_log(FPMD_LOG_NOTICE, "upgrade: new master started (pid %d)",
             (int) m->upgrade_pid);
}

/* The new master's verdict came (or its time ran out): serving, this
 * master stops gracefully and leaves it the sockets and the pid file;
 * anything else, this master goes on as if nothing happened. */
static void
upgrade_verdict(struct master *m, bool timed_out)
{
    char said[32];
    ssize_t got = timed_out ? 0 : read(m->upgrade_fd, said,
                                       sizeof(said) - 1);
    long pid = 0;

    if (got < 0 && errno == EINTR)
        return;
    close(m->upgrade_fd);
    m->upgrade_fd = -1;
    if (got > 0) {
        said[got] = '\0';
        pid = strtol(said, NULL, 10);
    }
    if (pid > 0) {
        fpmd_log(FPMD_LOG_NOTICE, "upgrade: new master %ld serving: this "
                 "one stops", pid);
        m->upgraded = true;
        /* systemd follows the service to the new master: only the main
         * pid may name another (NotifyAccess=main) */
        fpmd_systemd_notify("MAINPID=%ld", pid);
        m->upgrade_pid = 0;
        /* the new master's workers take the queue and, through the
         * handoff pair it inherited, the kept connections */
        stop_with(m, STOP_GRACEFUL, FPMD_QUIT_HANDOFF);
        return;
    }
    if (timed_out && m->upgrade_pid > 0)
        kill(m->upgrade_pid, SIGTERM);
    if (m->upgrade_pid < 0)
        m->upgrade_pid = 0;
    fpmd_log(FPMD_LOG_ERROR, "upgrade: the new master %s: this one goes on "
             "serving", timed_out ? "did not say it serves in time (killed)"
             : "failed to start (its lines above say why)");
    if (m->pid_file != NULL)
        write_pid_file(m->pid_file);
}

static void
forward_usr1(struct master *m)
{
    fpmd_log(FPMD_LOG_NOTICE, "reopening log files");
    fpmd_log_reopen();
    for (size_t i = 0; i < m->nchildren_cap; i++) {
        if (m->children[i].pid != 0)
            kill(m->children[i].pid, SIGUSR1);
    }
    for (size_t i = 0; i < m->nuprocs; i++) {
        if (m->uprocs[i].pid != 0)
            kill(m->uprocs[i].pid, SIGUSR1);
    }
}

static void
read_signals(struct master *m)
{
    struct signalfd_siginfo si;

    while (read(m->sigfd, &si, sizeof(si)) == (ssize_t) sizeof(si)) {
        if ((int) si.ssi_signo == FPMD_SIG_CRON) {
            fpmd_cron_done((pid_t) si.ssi_pid, si.ssi_ptr);
            continue;
        }
        switch (si.ssi_signo) {
        case SIGCHLD:
            /* reaped after every signal is read: a worker's last cron
             * answer, queued before its exit, must count first */
            break;
        case SIGUSR1:
            forward_usr1(m);
            break;
        case SIGUSR2:
            if (!m->stopping)
                m->reload_pending = true;
            break;
        case SIGHUP:
            upgrade_start(m);
            break;
        case SIGQUIT:
            stop(m, STOP_GRACEFUL);
            break;
        case SIGTERM:
        case SIGINT:
            stop(m, STOP_FAST);
            break;
        default:
            break;
        }
    }
}

static int
setup_signals(struct master *m)
{
    sigset_t set;

    signal(SIGPIPE, SIG_IGN);
    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    sigaddset(&set, SIGUSR1);
    sigaddset(&set, SIGUSR2);
    sigaddset(&set, SIGQUIT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, FPMD_SIG_CRON);
    if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
        return FPMD_ERROR;
    m->sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    return m->sigfd < 0 ? FPMD_ERROR : FPMD_OK;
}

/* --- main loop -------------------------------------------------------- */

static int
live_children(const struct master *m)
{
    int n = 0;

    for (size_t i = 0; i < m->nchildren_cap; i++)
        n += m->children[i].pid != 0;
    for (size_t i = 0; i < m->nuprocs; i++)
        n += m->uprocs[i].pid != 0;
    return n;
}

/* The worker a cron tick runs in: of the current generation's, not
 * asked to quit, the one with the fewest requests in flight; with pm
 * ondemand and none running, a new one (the run waits for it in its
 * signal queue). */
static pid_t
cron_pick(void *arg)
{
    struct master *m = arg;
    struct child *best = NULL;
    unsigned best_load = UINT32_MAX;

    for (int tries = 0; tries < 2 && best == NULL; tries++) {
        for (size_t i = 0; i < m->nchildren_cap; i++) {
            struct child *c = &m->children[i];
            struct fpmd_sb_slot s;
            unsigned load;

            if (c->pid == 0 || c->gen != m->cur || c->quit_us != 0)
                continue;
            load = read_slot(c, &s) == FPMD_OK ? s.in_flight : UINT32_MAX - 1;
            if (best == NULL || load < best_load) {
                best = c;
                best_load = load;
            }
        }
        if (best == NULL && tries == 0
            && m->cur->conf->pm.mode == FPMD_PM_ONDEMAND
            && fpmd_now_us() >= m->next_spawn_us)
            spawn(m, m->cur);
    }
    return best ? best->pid : 0;
}

static void
loop(struct master *m)
{
    struct pollfd pfd[1 + 1 + 64 + 1];

    while (!(m->stopping && live_children(m) == 0)) {
        struct gen *g = m->cur;
        nfds_t n = 1, listeners, upgrade_i = 0;
        int timeout = 1000, sd_due, rc;
        uint64_t now = fpmd_now_us();
        unsigned idle, busy;

        pfd[0].fd = m->sigfd;
        pfd[0].events = POLLIN;
        if (m->watch_fd >= 0) {
            pfd[n].fd = m->watch_fd;
            pfd[n++].events = POLLIN;
        }
        if (m->upgrade_fd >= 0) {
            upgrade_i = n;
            pfd[n].fd = m->upgrade_fd;
            pfd[n++].events = POLLIN;
        }
        listeners = n;
        if (!m->stopping && g->conf->pm.mode == FPMD_PM_ONDEMAND
            && now >= m->ondemand_quiet_until_us && now >= m->next_spawn_us
            && count_children(m, g, &idle, &busy) < g->conf->pm.max_children
            && idle == 0) {
            for (size_t i = 0; i < g->nlisteners && n < FPMD_ARRAY_LEN(pfd) - 1;
                 i++) {
                pfd[n].fd = g->listeners[i].fd;
                pfd[n].events = POLLIN;
                n++;
            }
            /* connections a stopped worker handed over wait there too */
            pfd[n].fd = m->handoff[0];
            pfd[n].events = POLLIN;
            n++;
        }
        if (g->conf->pm.mode == FPMD_PM_ONDEMAND || m->stopping)
            timeout = 100;
        if (m->next_spawn_us > now && m->next_spawn_us - now < 1000000)
            timeout = (int) ((m->next_spawn_us - now) / 1000) + 1;
        if (m->uproc_next_ms >= 0 && m->uproc_next_ms < timeout)
            timeout = m->uproc_next_ms;
        if (m->watch_due_us != 0)
            timeout = m->watch_due_us > now
                ? (int) ((m->watch_due_us - now) / 1000) + 1 : 0;
        if (!m->stopping) {
            int due = fpmd_cron_timeout_ms();

            if (due >= 0 && due < timeout)
                timeout = due;
        }
        sd_due = fpmd_systemd_timeout_ms(&m->sd, fpmd_systemd_now_us());
        if (sd_due >= 0 && sd_due < timeout)
            timeout = sd_due;
        /* a starting worker does not wake the master: look again soon */
        if (m->awaiting_ready && timeout > READY_POLL_MS)
            timeout = READY_POLL_MS;
        rc = poll(pfd, n, timeout);
        if (rc < 0 && errno != EINTR) {
            fpmd_log_errno(FPMD_LOG_ALERT, "poll()");
            break;
        }
        if (rc > 0 && (pfd[0].revents & POLLIN))
            read_signals(m);
        /* An editor or a linker writes a file in several steps: the
         * reload waits for them to be quiet a moment. */
        if (rc > 0 && m->watch_fd >= 0 && (pfd[1].revents & POLLIN)
            && fpmd_watch_changed(m->watch_fd))
            m->watch_due_us = fpmd_now_us() + WATCH_QUIET_US;
        if (m->watch_due_us != 0 && fpmd_now_us() >= m->watch_due_us) {
            m->watch_due_us = 0;
            m->reload_pending = true;
        }
        if (rc > 0) {
            for (nfds_t i = listeners; i < n; i++) {
                if (pfd[i].revents & POLLIN) {
                    ondemand_spawn(m);
                    /* give the new child time to accept before looking
                     * at the queue again */
                    m->ondemand_quiet_until_us = fpmd_now_us() + 50000;
                    break;
                }
            }
        }
        if (upgrade_i > 0 && (pfd[upgrade_i].revents & (POLLIN | POLLHUP)))
            upgrade_verdict(m, false);
        else if (m->upgrade_fd >= 0 && fpmd_now_us() > m->upgrade_deadline_us)
            upgrade_verdict(m, true);
        reap(m);
        if (m->reload_pending && !m->stopping) {
            m->reload_pending = false;
            reload(m);
        }
        maintain(m);
        fpmd_master_tasks_drain(m);
        if (!m->stopping)
            fpmd_cron_fire(cron_pick, m);
        free_drained_gens(m);
        notify_tick(m);
    }
}

/* The pid file replaced whole (a new file renamed over it): whoever
 * reads it, fpmd -s or an init script, never finds it empty or half
 * written, as it could between a truncation and the write. */
static int
write_pid_file(const char *path)
{
    char tmp[PATH_MAX], text[24];
    int len = snprintf(text, sizeof(text), "%d\n", (int) getpid());
    int fd = -1, rc;

    if ((size_t) snprintf(tmp, sizeof(tmp), "%s.XXXXXX", path) < sizeof(tmp))
        fd = mkstemp(tmp);
    if (fd < 0) {
        fpmd_log_errno(FPMD_LOG_ALERT, "cannot write pid file %s", path);
        return FPMD_ERROR;
    }
    rc = fchmod(fd, 0644) == 0 && write(fd, text, (size_t) len) == len;
    rc = close(fd) == 0 && rc && rename(tmp, path) == 0;
    if (!rc) {
        fpmd_log_errno(FPMD_LOG_ALERT, "cannot write pid file %s", path);
        unlink(tmp);
        return FPMD_ERROR;
    }
    return FPMD_OK;
}

static void
report_ready(const struct fpmd_master_opts *opts, char status)
{
    if (opts->ready_fd < 0)
        return;
    if (write(opts->ready_fd, &status, 1) < 0)
        return;
    close(opts->ready_fd);
}

int
fpmd_master_run(struct fpmd_conf *conf, const struct fpmd_master_opts *opts)
{
    struct master m;
    struct gen inherited = {0};
    int started = 0;
    unsigned workers;
    char *pid_file = opts->pid_file ? strdup(opts->pid_file)
                   : conf->pid_file ? strdup(conf->pid_file) : NULL;

    memset(&m, 0, sizeof(m));
    m.opts = opts;
    m.pid_file = pid_file;
    m.upgrade_fd = -1;
    fpmd_upgrade_init(opts->argv);
    inherited.listeners = fpmd_upgrade_inherited(&inherited.nlisteners,
                                                 m.handoff);
    m.inherited = &inherited;
    m.sigfd = -1;
    m.watch_fd = -1;
    m.uproc_next_ms = -1;
    m.taskq[0] = m.taskq[1] = -1;
    m.board = fpmd_task_board_new();
    if (m.board == NULL || setup_signals(&m) != FPMD_OK) {
        fpmd_log_errno(FPMD_LOG_ALERT, "cannot set up signals");
        fpmd_task_board_free(m.board);
        report_ready(opts, 1);
        return EXIT_CONFIG;
    }
    fpmd_systemd_init(&m.sd);
    /* watched before the listeners open: a change made once a client
     * can connect is not missed */
    if (conf->watch)
        m.watch_fd = fpmd_watch_open(conf);
    if (opts->listen_fds > 0) {
        m.passed = calloc((size_t) opts->listen_fds, sizeof(*m.passed));
        m.npassed = m.passed != NULL ? (size_t) opts->listen_fds : 0;
        for (size_t i = 0; i < m.npassed; i++)
            m.passed[i] = SD_LISTEN_FDS_START + (int) i;
    }
    m.cur = gen_new(&m, conf, NULL);
    if (m.cur != NULL && inherited.nlisteners > 0)
        fpmd_log(FPMD_LOG_NOTICE, "upgrade: listening sockets taken over "
                 "from the old master");
    /* an old master's sockets this config no longer names */
    for (size_t i = 0; i < inherited.nlisteners; i++)
        fpmd_listener_close(&inherited.listeners[i], 0);
    free(inherited.listeners);
    m.inherited = NULL;
    /* every one taken now, or the start fails */
    free(m.passed);
    m.passed = NULL;
    m.npassed = 0;
    if (m.cur == NULL) {
        fpmd_log(FPMD_LOG_ERROR, "FPM initialization failed");
        fpmd_conf_free(conf);
        fpmd_watch_close(m.watch_fd);
        fpmd_master_tasks_close(&m);
        report_ready(opts, 1);
        return EXIT_CONFIG;
    }
    if (m.handoff[0] < 0 && fpmd_handoff_pair(m.handoff) != FPMD_OK)
        fpmd_log_errno(FPMD_LOG_ALERT, "socketpair (handoff)");
    else if (pid_file == NULL || write_pid_file(pid_file) == FPMD_OK)
        started = 1;
    if (!started) {
        if (m.handoff[0] >= 0) {
            close(m.handoff[0]);
            close(m.handoff[1]);
        }
        free(pid_file);
        gen_free(m.cur, 1);
        fpmd_watch_close(m.watch_fd);
        fpmd_master_tasks_close(&m);
        report_ready(opts, 1);
        return EXIT_CONFIG;
    }
    fpmd_log(FPMD_LOG_NOTICE, "fpmd %s started (pool %s, pm %s, %u "
             "children)", PACKAGE_VERSION, conf->pool_name,
             pm_name(conf->pm.mode), conf->pm.max_children);
    /* the baseline a first OOM kill is told by */
    fpmd_master_note_oom_kills(&m);
    fpmd_cron_load(conf);
    workers = start_generation(&m, m.cur);
    fpmd_master_uprocs_start(&m, m.cur);
    report_ready(opts, 0);
    await_ready(&m, workers);
    loop(&m);

    while (m.old != NULL) {
        struct gen *g = m.old;

        m.old = g->next;
        gen_free(g, 0);
    }
    /* upgraded: the unix sockets' paths and the pid file are the new
     * master's */
    gen_free(m.cur, !m.upgraded);
    if (pid_file != NULL && !m.upgraded)
        unlink(pid_file);
    free(pid_file);
    if (m.upgrade_fd >= 0)
        close(m.upgrade_fd);
    fpmd_cron_free();
    fpmd_master_tasks_close(&m);
    fpmd_watch_close(m.watch_fd);
    free(m.uprocs);
    free(m.children);
    free(m.crashes);
    close(m.sigfd);
    close(m.handoff[0]);
    close(m.handoff[1]);
    fpmd_log(FPMD_LOG_NOTICE, "exiting, bye-bye!");
    return 0;
}
