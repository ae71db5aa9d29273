/* SPDX-License-Identifier: BSD-2-Clause */
/* fpmd_status_snapshot: the scoreboard as the status page shows it,
 * copied into one request. Slots are read only through the scoreboard's
 * sanitizing copies, never in place: their workers write them meanwhile,
 * and a broken worker may have written anything. Workers of two
 * generations may list different backends and routes, so those are summed
 * by name, not by position. */
#include "config.h"

#include <string.h>

#include "fpmd/clock.h"
#include "fpmd/discovery.h"
#include "fpmd/fpmd.h"
#include "fpmd/process.h"
#include "fpmd/tables.h"

static const char *
pm_name(uint32_t mode)
{
    return mode == FPMD_PM_DYNAMIC ? "dynamic"
        : mode == FPMD_PM_ONDEMAND ? "ondemand" : "static";
}

static enum fpmd_proc_state
proc_state(uint32_t state)
{
    switch (state) {
    case FPMD_SB_STARTING:
        return FPMD_PROC_STARTING;
    case FPMD_SB_IDLE:
        return FPMD_PROC_IDLE;
    case FPMD_SB_BUSY:
        return FPMD_PROC_BUSY;
    default:                /* the sanitizing read leaves no other */
        return FPMD_PROC_FINISHING;
    }
}

/* Adds one worker's backend pools into sums (room for FPMD_SB_BACKENDS).
 * Names point into slot, which lives as long as the snapshot. */
static void
add_hist(struct fpmd_status_hist *to, uint64_t count, uint64_t sum_us,
         const uint32_t *hist)
{
    to->count += count;
    to->sum_us += sum_us;
    for (size_t i = 0; i < FPMD_SB_HIST; i++)
        to->bucket[i] += hist[i];
}

static void
add_backends(struct fpmd_status_backend *sums,
             struct fpmd_status_hist *waits, size_t *nsums,
             const struct fpmd_sb_slot *slot)
{
    for (size_t i = 0; i < FPMD_SB_BACKENDS && slot->backends[i].name[0];
         i++) {
        const struct fpmd_sb_backend *s = &slot->backends[i];
        struct fpmd_status_backend *b = NULL;

        for (size_t j = 0; j < *nsums && b == NULL; j++) {
            if (strcmp(sums[j].name, s->name) == 0)
                b = &sums[j];
        }
        if (b == NULL) {
            if (*nsums == FPMD_SB_BACKENDS)
                continue;
            b = &sums[(*nsums)++];
            b->name = s->name;
        }
        b->size += s->size;
        b->idle += s->idle;
        b->in_use += s->in_use;
        b->waiters += s->waiters;
        b->calls += s->calls;
        b->timeouts += s->timeouts;
        b->errors += s->errors;
        b->reconnects += s->reconnects;
        b->exhausted += s->exhausted;
        add_hist(&waits[b - sums], s->waits, s->wait_sum_us, s->wait_hist);
    }
}

_Static_assert(FPMD_STATUS_HIST == FPMD_SB_HIST,
               "fpmd.h names the scoreboard's buckets");

static void
add_side(struct fpmd_status_side *to, struct fpmd_status_hist *hist,
         const struct fpmd_sb_side *from)
{
    to->requests += from->requests;
    to->errors += from->errors;
    to->sum_us += from->sum_us;
    add_hist(hist, from->requests, from->sum_us, from->hist);
}

/* Adds one worker's route rows into sums (room for FPMD_SB_ROUTES) and
 * their latencies into hists (native, legacy: two per route, summed
 * before any quantile is taken), matched by label and handler.
 * FPMD_ERROR when memory is out. */
static int
add_routes(struct fpmd_req *req, struct fpmd_status_route *sums,
           struct fpmd_status_hist *hists, size_t *nsums,
           const struct fpmd_sb_routes *rows)
{
    for (size_t i = 0; i < FPMD_SB_ROUTES && rows->r[i].label[0]; i++) {
        const struct fpmd_sb_route *s = &rows->r[i];
        size_t j = 0;

        while (j < *nsums && (strcmp(sums[j].label, s->label) != 0
                              || strcmp(sums[j].handler, s->handler) != 0))
            j++;
        if (j == *nsums) {
            if (*nsums == FPMD_SB_ROUTES)
                continue;
            /* rows is read again for the next worker: copy the names */
            sums[j].label = fpmd_strdup(req, s->label);
            sums[j].handler = fpmd_strdup(req, s->handler);
            if (sums[j].label == NULL || sums[j].handler == NULL)
                return FPMD_ERROR;
            (*nsums)++;
        }
        add_side(&sums[j].native, &hists[2 * j], &s->native);
        add_side(&sums[j].legacy, &hists[2 * j + 1], &s->legacy);
        sums[j].shadow_compared += s->shadow_compared;
        sums[j].shadow_mismatches += s->shadow_mismatches;
        sums[j].shadow_errors += s->shadow_errors;
        sums[j].canary_fallbacks += s->canary_fallbacks;
        sums[j].rate_limited += s->rate_limited;
        sums[j].concurrency_refused += s->concurrency_refused;
    }
    return FPMD_OK;
}

_Static_assert(FPMD_STATUS_FLIGHTS == FPMD_SB_FLIGHTS,
               "fpmd.h names the scoreboard's bound");

/* A worker's in-flight list, oldest first, its strings copied into req
 * (rows is read again for the next worker). FPMD_ERROR when memory is
 * out. */
static int
copy_flights(struct fpmd_req *req, struct fpmd_status_proc *p,
             const struct fpmd_sb_flights *rows)
{
    struct fpmd_status_flight *f = fpmd_alloc(req, sizeof(*f)
                                              * FPMD_SB_FLIGHTS);
    size_t n = 0;

    if (f == NULL)
        return FPMD_ERROR;
    for (size_t i = 0; i < FPMD_SB_FLIGHTS; i++) {
        const struct fpmd_sb_flight *s = &rows->f[i];
        size_t j = n;

        if (s->start_us == 0)
            continue;
        /* the worker keeps them in no order: sort them as they come */
        for (; j > 0 && f[j - 1].start_us > s->start_us; j--)
            f[j] = f[j - 1];
        f[j].start_us = s->start_us;
        f[j].method = fpmd_strdup(req, s->method);
        f[j].uri = fpmd_strdup(req, s->uri);
        f[j].route = fpmd_strdup(req, s->route);
        if (f[j].method == NULL || f[j].uri == NULL || f[j].route == NULL)
            return FPMD_ERROR;
        n++;
    }
    p->flights = f;
    p->nflights = n;
    return FPMD_OK;
}

static void
copy_proc(struct fpmd_status_proc *p, const struct fpmd_sb_slot *s)
{
    p->pid = s->pid;
    p->state = proc_state(s->state);
    p->start_us = s->start_us;
    p->requests = s->requests;
    p->in_flight = s->in_flight;
    p->connections = s->connections;
    p->free_reqs = s->free_reqs;
    p->free_buffers = s->free_buffers;
    p->free_stacks = s->free_stacks;
    p->free_conns = s->free_conns;
    p->req.method = s->req.method;
    p->req.uri = s->req.uri;
    p->req.script = s->req.script;
    p->req.user = s->req.user;
    p->req.content_length = s->req.content_length;
    p->req.start_us = s->req.start_us;
    p->req.duration_us = s->req.duration_us;
    p->req.cpu_us = s->req.cpu_us;
    p->req.memory = s->req.memory;
}

/* The master's entries for the generation's user processes, copied. */
static void
add_user_processes(struct fpmd_req *req, struct fpmd_status_snapshot *v)
{
    const struct fpmd_sb_uproc *e = fpmd_process.sb->uprocs;
    struct fpmd_status_user_process *out;
    size_t n = 0;

    while (n < FPMD_SB_UPROCS && e[n].name[0] != '\0')
        n++;
    out = n ? fpmd_alloc(req, n * sizeof(*out)) : NULL;
    if (out == NULL)
        return;
    for (size_t i = 0; i < n; i++) {
        char *name = fpmd_alloc(req, FPMD_SB_UPROC_LEN);

        if (name == NULL)
            return;
        memcpy(name, e[i].name, FPMD_SB_UPROC_LEN);
        name[FPMD_SB_UPROC_LEN - 1] = '\0';
        out[i] = (struct fpmd_status_user_process) {
            name, e[i].instance, e[i].pid, e[i].start_us, e[i].restarts};
    }
    v->user_processes = out;
    v->nuser_processes = n;
}

/* Upstream u's server in slot j: its URL, or NULL for an empty slot
 * (found: the discovered list, read once per upstream). */
static const char *
slot_url(const struct fpmd_conf_upstream *u,
         const struct fpmd_discovered *found, size_t j)
{
    if (u->discover == NULL)
        return u->servers[j].url;
    return found != NULL && found[j].url[0] != '\0' ? found[j].url : NULL;
}

static void
add_upstream_servers(struct fpmd_req *req, struct fpmd_status_snapshot *v)
{
    const struct fpmd_conf *conf = fpmd_process.conf;
    struct fpmd_status_upstream_server *out;
    uint64_t now = fpmd_mono_ns() / 1000;
    size_t n = 0, k = 0, slot = 0;

    for (size_t i = 0; i < conf->nupstreams; i++)
        n += fpmd_conf_upstream_slots(&conf->upstreams[i]);
    if (n == 0 || fpmd_process.breakers == NULL
        || (out = fpmd_alloc(req, n * sizeof(*out))) == NULL)
        return;
    for (size_t i = 0; i < conf->nupstreams; i++) {
        const struct fpmd_conf_upstream *u = &conf->upstreams[i];
        struct fpmd_discovered *found = NULL;

        if (u->discover != NULL && fpmd_process.discovery != NULL
            && (found = fpmd_alloc(req, u->max_servers * sizeof(*found)))
                   != NULL
            && fpmd_discovery_read(fpmd_process.discovery, i, found) == 0)
            found = NULL;
        for (size_t j = 0; j < fpmd_conf_upstream_slots(u); j++, slot++) {
            const char *url = slot_url(u, found, j), *circuit;
            struct fpmd_breaker_stats st;

            if (url == NULL)
                continue;
            fpmd_breaker_stats(fpmd_breaker_set_at(fpmd_process.breakers,
                                                   slot), now, &st);
            circuit = fpmd_breaker_state_name(st.state);
            out[k++] = (struct fpmd_status_upstream_server) {
                u->name, url, circuit ? circuit : "closed", st.opened,
                st.rejected};
        }
    }
    v->upstream_servers = out;
    v->nupstream_servers = k;
}

static void
add_tasks(struct fpmd_req *req, struct fpmd_status_snapshot *v)
{
    const struct fpmd_task_board *b = fpmd_process.tasks;
    struct fpmd_status_tasks *t;

    if (b == NULL || fpmd_process.conf->tasks.workers == 0
        || (t = fpmd_alloc(req, sizeof(*t))) == NULL)
        return;
    memset(t, 0, sizeof(*t));
    for (size_t i = 0; i < FPMD_TASK_SLOTS; i++) {
        if (__atomic_load_n(&b->slots[i].pid, __ATOMIC_RELAXED) != 0) {
            t->workers++;
            t->running += __atomic_load_n(&b->slots[i].busy,
                                          __ATOMIC_RELAXED) != 0;
        }
    }
    t->queued = fpmd_task_board_queued(b);
    t->done = fpmd_task_board_get(&b->done);
    t->failed = fpmd_task_board_get(&b->failed);
    t->timed_out = fpmd_task_board_get(&b->timed_out);
    t->rejected = fpmd_task_board_get(&b->rejected);
    t->dropped = fpmd_task_board_get(&b->dropped);
    v->tasks = t;
}

const struct fpmd_status_snapshot *
fpmd_status_snapshot(struct fpmd_req *req)
{
    const struct fpmd_scoreboard *sb = fpmd_process.sb;
    struct fpmd_status_snapshot *v = fpmd_alloc(req, sizeof(*v));
    /* the slots' copies hold the strings procs and backends point to */
    struct fpmd_sb_slot *slots = fpmd_alloc(req, sb->nslots * sizeof(*slots)
                                            + 1);
    struct fpmd_status_proc *procs = fpmd_alloc(req, sb->nslots
                                                * sizeof(*procs) + 1);
    struct fpmd_status_backend *backends =
        fpmd_alloc(req, FPMD_SB_BACKENDS * sizeof(*backends));
    struct fpmd_status_route *routes =
        fpmd_alloc(req, FPMD_SB_ROUTES * sizeof(*routes));
    struct fpmd_status_hist *hists = fpmd_alloc(req, 2 * FPMD_SB_ROUTES
                                                * sizeof(*hists));
    struct fpmd_status_hist *waits = fpmd_alloc(req, FPMD_SB_BACKENDS
                                                * sizeof(*waits));
    uint64_t *lag_max = fpmd_alloc(req, sb->nslots * sizeof(*lag_max) + 1);
    struct fpmd_sb_routes *rows = fpmd_alloc(req, sizeof(*rows));
    struct fpmd_sb_flights *flights = fpmd_alloc(req, sizeof(*flights));
    uint32_t max_queued = 0;
    size_t n = 0;

    if (v == NULL || slots == NULL || procs == NULL || backends == NULL
        || routes == NULL || hists == NULL || rows == NULL
        || flights == NULL || waits == NULL || lag_max == NULL)
        return NULL;
    memset(waits, 0, FPMD_SB_BACKENDS * sizeof(*waits));
    memset(v, 0, sizeof(*v));
    memset(backends, 0, FPMD_SB_BACKENDS * sizeof(*backends));
    memset(routes, 0, FPMD_SB_ROUTES * sizeof(*routes));
    memset(hists, 0, 2 * FPMD_SB_ROUTES * sizeof(*hists));
    v->pool = fpmd_process.conf->pool_name;
    v->pm = pm_name(sb->pool.pm_mode);
    v->start_us = sb->pool.start_us;
    v->now_us = fpmd_now_us();
    v->accepted_conn = sb->pool.accepted_conn_dead;
    v->slow_requests = sb->pool.slow_requests_dead;
    v->refused_requests = sb->pool.refused_requests_dead;
    v->max_children_reached = sb->pool.max_children_reached;
    for (uint32_t i = 0; i < sb->nslots; i++) {
        if (fpmd_scoreboard_read(sb, i, &slots[n]) != FPMD_OK)
            continue;
        v->accepted_conn += slots[n].accepted_conn;
        v->slow_requests += slots[n].slow_requests;
        v->refused_requests += slots[n].refused_requests;
        v->listen_queue += slots[n].queued;
        if (slots[n].max_queued > max_queued)
            max_queued = slots[n].max_queued;
        v->in_flight += slots[n].in_flight;
        v->free_reqs += slots[n].free_reqs;
        v->free_buffers += slots[n].free_buffers;
        v->free_stacks += slots[n].free_stacks;
        v->free_conns += slots[n].free_conns;
        add_backends(backends, waits, &v->nbackends, &slots[n]);
        add_hist(&v->loop_lag, slots[n].lags, slots[n].lag_sum_us,
                 slots[n].lag_hist);
        lag_max[n] = slots[n].lag_max_us;
        if (fpmd_scoreboard_read_routes(sb, i, rows) == FPMD_OK
            && add_routes(req, routes, hists, &v->nroutes, rows) != FPMD_OK)
            return NULL;
        if (slots[n].state == FPMD_SB_BUSY)
            v->active++;
        else if (slots[n].state == FPMD_SB_IDLE
                 || slots[n].state == FPMD_SB_STARTING)
            v->idle++;
        copy_proc(&procs[n], &slots[n]);
        if (fpmd_scoreboard_read_flights(sb, i, flights) != FPMD_OK
            || copy_flights(req, &procs[n], flights) != FPMD_OK)
            return NULL;
        n++;
    }
    v->max_active = sb->pool.max_active > v->active ? sb->pool.max_active
                                                    : v->active;
    for (size_t i = 0; i < fpmd_process.nlisteners; i++) {
        unsigned queued, backlog;

        if (fpmd_listener_queue(&fpmd_process.listeners[i], &queued,
                                &backlog)
            == FPMD_OK) {
            v->listen_queue += queued;
            v->listen_queue_len += backlog;
        }
    }
    /* The bound: the listeners' backlogs and each accepting worker's
     * pm.max_queue. The high-water mark is the master's samples of the
     * whole, or one worker's own peak when that is higher. */
    v->listen_queue_len += (v->idle + v->active)
        * fpmd_process.conf->pm.max_queue;
    v->max_listen_queue = sb->pool.max_listen_queue > v->listen_queue
        ? sb->pool.max_listen_queue : v->listen_queue;
    if (max_queued > v->max_listen_queue)
        v->max_listen_queue = max_queued;
    for (size_t i = 0; i < v->nroutes; i++) {
        const uint64_t *native = hists[2 * i].bucket;
        const uint64_t *legacy = hists[2 * i + 1].bucket;

        routes[i].native.p50_ms = fpmd_sb_hist_quantile(native, 0.5);
        routes[i].native.p99_ms = fpmd_sb_hist_quantile(native, 0.99);
        routes[i].legacy.p50_ms = fpmd_sb_hist_quantile(legacy, 0.5);
        routes[i].legacy.p99_ms = fpmd_sb_hist_quantile(legacy, 0.99);
    }
    v->route_hists = hists;
    v->backend_waits = waits;
    v->proc_lag_max_us = lag_max;
    v->procs = procs;
    v->nprocs = n;
    v->backends = backends;
    v->routes = routes;
    v->ntables = fpmd_tables_status(req, &v->tables);
    add_user_processes(req, v);
    add_tasks(req, v);
    add_upstream_servers(req, v);
    return v;
}
