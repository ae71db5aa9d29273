/* SPDX-License-Identifier: BSD-2-Clause */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fpmd/balance.h"
#include "fpmd/log.h"
#include "fpmd/scoreboard.h"
#include "fpmd/service.h"
#include "fpmd/clock.h"
#include "fpmd/process.h"
#include "fpmd/req.h"
#include "pools/pool.h"

#define BACKOFF_FIRST_MS 50
#define BACKOFF_MAX_MS 500
#define RING_POINTS 160         /* per primary on the hash ring */
/* A pool that runs out of connections says so at most this often. */
#define EXHAUSTED_WARN_US 60000000ULL

struct fpmd_pool_node {
    struct fpmd_pool *pool;
    const struct fpmd_conf_server *conf;
    struct fpmd_pool_conn *idle;            /* most recently used first */
    unsigned nidle, nbusy, nconnecting;
    TAILQ_HEAD(, fpmd_call) waiting;
    unsigned nwait;
    unsigned fails;                         /* connects failed in a row */
    uint64_t retry_us;                      /* backed off until */
    unsigned lost;                          /* lost, not yet replaced */
    bool vacant;                            /* a placeholder, no server */
};

/* The nodes of one role and the balancer that picks among them. */
struct node_set {
    struct fpmd_balancer *balancer;         /* NULL: failover order */
    size_t n;
    size_t *node;                           /* indexes into the nodes */
    bool *usable;                           /* filled at each pick */
    unsigned *in_flight;
};

struct ring_point {
    uint32_t hash;
    uint32_t node;
};

struct fpmd_pool {
    const struct fpmd_conf_backend *conf;
    const struct fpmd_pool_driver *drv;
    struct fpmd_pool_node *nodes;
    size_t nnodes;
    struct node_set primaries, replicas;
    struct ring_point *ring;
    size_t nring;
    uint64_t calls, timeouts, errors, reconnects, exhausted;
    uint64_t last_ok_us;                    /* a call last answered */
    uint64_t waits, wait_sum_us;            /* lends, and their waits */
    uint64_t wait_hist[FPMD_SB_HIST];
    uint64_t timeout_logged_us;
    /* Calls that found every connection a server may have in use, since
     * the last warning (the first at since_us); exhausted as it was then. */
    uint64_t busy_hits, busy_since_us, busy_warned_us, busy_warned_failed;
};

/* What a request has going on: its calls, and the last that failed. */
struct req_calls {
    struct fpmd_call *head;
    const struct fpmd_call *failed;
};

static const struct fpmd_pool_driver *drivers[FPMD_DRIVER_COUNT];
static struct event_base *loop_base;
static struct fpmd_pool *pools;
static size_t npools;
static bool finishing;          /* the worker is: nothing is kept idle */

static const char REQ_KEY[] = "fpmd.calls";

static void node_dispatch(struct fpmd_pool_node *n);

/* Backoff, idle and lifetime clocks must not jump with the wall clock. */
static uint64_t
mono_us(void)
{
    return fpmd_mono_ns() / 1000;
}
static void conn_close(struct fpmd_pool_conn *c);

/* The wait of a call for a connection, from its queueing (none when one
 * was idle) to a connection lent or wait_timeout. */
static void
count_wait(struct fpmd_pool *p, struct fpmd_call *call)
{
    uint64_t us = call->queued_us != 0 ? mono_us() - call->queued_us : 0;

    call->queued_us = 0;
    p->waits++;
    p->wait_sum_us += us;
    p->wait_hist[fpmd_sb_hist_bucket(us)]++;
}

/* --- lookups ---------------------------------------------------------- */

struct event_base *
fpmd_pool_base(void)
{
    return loop_base;
}

struct fpmd_pool *
fpmd_pool_find(const char *name)
{
    for (size_t i = 0; i < npools; i++) {
        if (strcmp(pools[i].conf->name, name) == 0)
            return &pools[i];
    }
    return NULL;
}

const struct fpmd_conf_backend *
fpmd_pool_conf(const struct fpmd_pool *p)
{
    return p->conf;
}

const struct fpmd_conf_server *
fpmd_pool_node_conf(const struct fpmd_pool_node *n)
{
    return n->conf;
}

const struct fpmd_conf_backend *
fpmd_pool_conn_conf(const struct fpmd_pool_conn *c)
{
    return c->node->pool->conf;
}

/* Backed off and nothing open: calls fail at once instead of queueing
 * behind a connect that is not going to happen. */
static int
node_down(const struct fpmd_pool_node *n)
{
    return n->fails > 0 && mono_us() < n->retry_us
        && n->nidle + n->nbusy == 0;
}

static bool
node_usable(const struct fpmd_pool_node *n)
{
    return !n->vacant && !node_down(n);
}

/* The balancer's pick among the set's usable nodes; NULL without a
 * balancer or with none usable. A node's load is its calls on the wire
 * and those queued for a connection. */
static struct fpmd_pool_node *
set_pick(struct fpmd_pool *p, struct node_set *s, const void *key, size_t len)
{
    int i;

    if (s->balancer == NULL)
        return NULL;
    for (size_t k = 0; k < s->n; k++) {
        const struct fpmd_pool_node *n = &p->nodes[s->node[k]];

        s->usable[k] = node_usable(n);
        s->in_flight[k] = n->nbusy + n->nwait;
    }
    i = fpmd_balancer_pick(s->balancer, s->usable, s->in_flight, key, len);
    return i < 0 ? NULL : &p->nodes[s->node[i]];
}

struct fpmd_pool_node *
fpmd_pool_primary(struct fpmd_pool *p, const void *key, size_t len)
{
    struct fpmd_pool_node *first = NULL, *picked;

    picked = set_pick(p, &p->primaries, key, len);
    if (picked != NULL)
        return picked;
    for (size_t i = 0; i < p->nnodes; i++) {
        struct fpmd_pool_node *n = &p->nodes[i];

        if (n->conf->role != FPMD_ROLE_PRIMARY)
            continue;
        if (!node_down(n))
            return n;
        if (first == NULL)
            first = n;
    }
    return first;
}

struct fpmd_pool_node *
fpmd_pool_replica(struct fpmd_pool *p, const void *key, size_t len)
{
    struct fpmd_pool_node *picked = set_pick(p, &p->replicas, key, len);

    return picked != NULL ? picked : fpmd_pool_primary(p, key, len);
}

/* FNV-1a, then a murmur3 finalizer: FNV alone clusters short keys. */
static uint32_t
hash32(const void *data, size_t len)
{
    const unsigned char *s = data;
    uint32_t h = 2166136261u;

    for (size_t i = 0; i < len; i++)
        h = (h ^ s[i]) * 16777619u;
    h ^= h >> 16;
    h *= 0x85ebca6bu;
    h ^= h >> 13;
    h *= 0xc2b2ae35u;
    h ^= h >> 16;
    return h;
}

struct fpmd_pool_node *
fpmd_pool_shard(struct fpmd_pool *p, const void *key, size_t len)
{
    uint32_t h = hash32(key, len);
    size_t lo = 0, hi = p->nring;

    if (p->nring == 0)
        return fpmd_pool_primary(p, NULL, 0);
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;

        if (p->ring[mid].hash < h)
            lo = mid + 1;
        else
            hi = mid;
    }
    return &p->nodes[p->ring[lo == p->nring ? 0 : lo].node];
}

static int
ring_cmp(const void *a, const void *b)
{
    const struct ring_point *x = a, *y = b;

    return x->hash < y->hash ? -1 : x->hash > y->hash;
}

/* Each primary's points hash from its address, so every worker (and
 * every fpmd sharing the servers) puts a key on the same server, and
 * adding a server moves only the keys that land on its points. */
static int
ring_build(struct fpmd_pool *p)
{
    size_t primaries = 0, k = 0;

    for (size_t i = 0; i < p->nnodes; i++)
        primaries += p->nodes[i].conf->role == FPMD_ROLE_PRIMARY;
    p->ring = calloc(primaries * RING_POINTS, sizeof(*p->ring));
    if (p->ring == NULL)
        return FPMD_ERROR;
    for (size_t i = 0; i < p->nnodes; i++) {
        const struct fpmd_conf_server *s = p->nodes[i].conf;
        char label[160];

        if (s->role != FPMD_ROLE_PRIMARY)
            continue;
        for (unsigned pt = 0; pt < RING_POINTS; pt++) {
            int len = s->path != NULL
                ? snprintf(label, sizeof(label), "%s-%u", s->path, pt)
                : snprintf(label, sizeof(label), "%s:%u-%u", s->host,
                           s->port, pt);

            p->ring[k].hash = hash32(label, (size_t) len);
            p->ring[k++].node = (uint32_t) i;
        }
    }
    p->nring = k;
    qsort(p->ring, p->nring, sizeof(*p->ring), ring_cmp);
    return FPMD_OK;
}

/* --- calls ------------------------------------------------------------ */

static struct req_calls *
req_calls(struct fpmd_req *req)
{
    return fpmd_req_get(req, REQ_KEY);
}

static void
call_timer_off(struct fpmd_call *call)
{
    if (call->timer_armed) {
        event_del(&call->timer);
        call->timer_armed = 0;
    }
}

static void
call_timer(struct fpmd_call *call, uint64_t ms)
{
    struct timeval tv = {(time_t) (ms / 1000),
                         (suseconds_t) (ms % 1000) * 1000};

    call_timer_off(call);
    event_add(&call->timer, &tv);
    call->timer_armed = 1;
}

static void
call_finish(struct fpmd_call *call, enum fpmd_call_status status,
            const char *error)
{
    struct fpmd_pool *p = call->pool;
    struct req_calls *rc = req_calls(call->req);

    if (call->state == FPMD_CALLST_DONE)
        return;
    call_timer_off(call);
    call->state = FPMD_CALLST_DONE;
    call->status = status;
    call->conn = NULL;
    if (status == FPMD_CALL_OK && p != NULL)
        p->last_ok_us = mono_us();
    if (status != FPMD_CALL_OK) {
        call->error = fpmd_strdup(call->req, error ? error : "");
        if (call->error == NULL)
            call->error = "out of memory";
        if (rc != NULL)
            rc->failed = call;
        if (p != NULL) {
            if (status == FPMD_CALL_TIMEOUT)
                p->timeouts++;
            else if (status == FPMD_CALL_EXHAUSTED)
                p->exhausted++;
            else if (status == FPMD_CALL_FAILED || status == FPMD_CALL_DOWN)
                p->errors++;
        }
    }
    fpmd_req_wake(call->req);
}

void
fpmd_pool_call_progress(struct fpmd_call *call)
{
    if (call->state == FPMD_CALLST_SENT)
        call_timer(call, call->pool->conf->timeout_ms);
}

void
fpmd_pool_call_fail(struct fpmd_call *call, enum fpmd_call_status status,
                    const char *fmt, ...)
{
    char msg[256];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    call_finish(call, status, msg);
}

static void
unqueue(struct fpmd_call *call)
{
    struct fpmd_pool_node *n = call->node;

    TAILQ_REMOVE(&n->waiting, call, wait);
    n->nwait--;
}

static void
on_call_timer(evutil_socket_t fd, short what, void *arg)
{
    struct fpmd_call *call = arg;
    struct fpmd_pool_conn *c = call->conn;

    (void) fd;
    (void) what;
    call->timer_armed = 0;
    if (call->ops != NULL) {
        if (call->state == FPMD_CALLST_SENT)
            call->ops->timeout(call);
        return;
    }
    if (call->state == FPMD_CALLST_QUEUED) {
        unqueue(call);
        count_wait(call->pool, call);
        fpmd_pool_call_fail(call, FPMD_CALL_EXHAUSTED, "no connection to %s "
                            "within wait_timeout (%llu ms)",
                            call->pool->conf->name, (unsigned long long)
                            call->pool->conf->wait_timeout_ms);
        return;
    }
    if (call->state != FPMD_CALLST_SENT)
        return;
    /* The reply may still come, late: the connection goes with it, so it
     * can never be read as another call's answer. */
    c->call = NULL;
    c->node->lost++;
    conn_close(c);
    if (mono_us() - call->pool->timeout_logged_us > 1000000) {
        call->pool->timeout_logged_us = mono_us();
        fpmd_log(FPMD_LOG_WARNING, "pool %s: calls time out (timeout %llu "
                 "ms); their connections are closed", call->pool->conf->name,
                 (unsigned long long) call->pool->conf->timeout_ms);
    }
    fpmd_pool_call_fail(call, FPMD_CALL_TIMEOUT, "no reply from %s within "
                        "timeout (%llu ms)", call->pool->conf->name,
                        (unsigned long long) call->pool->conf->timeout_ms);
}

/* The request is ending or its client left: nothing of the call may be
 * touched after this. */
static void
call_cancel(struct fpmd_call *call)
{
    struct fpmd_pool_conn *c = call->conn;

    if (call->state == FPMD_CALLST_QUEUED) {
        unqueue(call);
    } else if (call->state == FPMD_CALLST_SENT && call->ops != NULL) {
        call->ops->cancel(call);
    } else if (call->state == FPMD_CALLST_SENT) {
        c->call = NULL;
        if (!c->node->pool->drv->abandon(c)) {
            conn_close(c);
        } else {
            /* Bounded: a reply that never comes closes the connection. */
            struct timeval tv = {
                (time_t) (c->node->pool->conf->timeout_ms / 1000),
                (suseconds_t) (c->node->pool->conf->timeout_ms % 1000) * 1000};

            event_add(&c->timer, &tv);
        }
    }
    call_timer_off(call);
    call->state = FPMD_CALLST_DONE;
    call->status = FPMD_CALL_ABORTED;
    call->error = "request ended first";
    call->conn = NULL;
}

static void
cancel_all(void *arg)
{
    struct req_calls *rc = arg;

    for (struct fpmd_call *call = rc->head; call != NULL;
         call = call->next_req) {
        if (call->state != FPMD_CALLST_DONE && call->state != FPMD_CALLST_NEW)
            call_cancel(call);
    }
}

static struct fpmd_call *
call_alloc(struct fpmd_req *req, void *driver_data)
{
    struct req_calls *rc = req_calls(req);
    struct fpmd_call *call;

    if (rc == NULL) {
        rc = fpmd_alloc(req, sizeof(*rc));
        if (rc == NULL || fpmd_req_set(req, REQ_KEY, rc) != FPMD_OK)
            return NULL;
        memset(rc, 0, sizeof(*rc));
        if (fpmd_defer(req, cancel_all, rc) != FPMD_OK)
            return NULL;
    }
    call = fpmd_alloc(req, sizeof(*call));
    if (call == NULL)
        return NULL;
    memset(call, 0, sizeof(*call));
    call->req = req;
    call->driver = driver_data;
    call->state = FPMD_CALLST_NEW;
    call->status = FPMD_CALL_PENDING;
    call->error = "";
    evtimer_assign(&call->timer, loop_base, on_call_timer, call);
    call->next_req = rc->head;
    rc->head = call;
    return call;
}

struct fpmd_call *
fpmd_pool_call_new(struct fpmd_req *req, const char *name,
                   const struct fpmd_pool_driver *drv, void *driver_data)
{
    struct fpmd_call *call = call_alloc(req, driver_data);
    struct fpmd_pool *p;

    if (call == NULL)
        return NULL;
    p = fpmd_pool_find(name);
    if (p == NULL || p->drv != drv)
        fpmd_pool_call_fail(call, FPMD_CALL_INVALID, p == NULL
                            ? "no pool named \"%s\"" : "pool \"%s\" is not a "
                            "%s pool", name, drv->name);
    else
        call->pool = p;
    return call;
}

struct fpmd_call *
fpmd_call_new_other(struct fpmd_req *req, const struct fpmd_call_ops *ops,
                    void *data)
{
    struct fpmd_call *call = call_alloc(req, data);

    if (call != NULL)
        call->ops = ops;
    return call;
}

void
fpmd_call_other_wait(struct fpmd_call *call, uint64_t timeout_ms)
{
    call->state = FPMD_CALLST_SENT;
    if (timeout_ms != FPMD_CALL_NO_TIMEOUT)
        call_timer(call, timeout_ms);
}

void
fpmd_call_other_cancel(struct fpmd_call *call)
{
    if (call->state != FPMD_CALLST_DONE && call->state != FPMD_CALLST_NEW)
        call_cancel(call);
}

void
fpmd_call_other_done(struct fpmd_call *call, enum fpmd_call_status status,
                     const char *error)
{
    call_finish(call, status, error);
}

/* --- connections ------------------------------------------------------ */

static void
idle_push(struct fpmd_pool_node *n, struct fpmd_pool_conn *c)
{
    c->state = FPMD_PCONN_IDLE;
    c->idle_since_us = mono_us();
    c->prev = NULL;
    c->next = n->idle;
    if (n->idle != NULL)
        n->idle->prev = c;
    n->idle = c;
    n->nidle++;
}

static void
idle_remove(struct fpmd_pool_node *n, struct fpmd_pool_conn *c)
{
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        n->idle = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    c->prev = c->next = NULL;
    n->nidle--;
}

static void
conn_close(struct fpmd_pool_conn *c)
{
    struct fpmd_pool_node *n = c->node;

    switch (c->state) {
    case FPMD_PCONN_CONNECTING:
        n->nconnecting--;
        break;
    case FPMD_PCONN_IDLE:
        idle_remove(n, c);
        break;
    case FPMD_PCONN_BUSY:
        n->nbusy--;
        break;
    }
    if (c->pin != NULL) {
        c->pin->conn = NULL;
        c->pin->lost = 1;
    }
    event_del(&c->timer);
    n->pool->drv->close(c);
    free(c);
}

static int
expired(const struct fpmd_pool_conn *c, uint64_t now)
{
    uint64_t life = c->node->pool->conf->max_lifetime_ms;

    return life != 0 && now - c->opened_us > life * 1000;
}

/* Lends c to call and sends. */
static void place(struct fpmd_call *call);

/* Sends call on c (already counted busy). */
static void
send_on(struct fpmd_pool_conn *c, struct fpmd_call *call)
{
    struct fpmd_pool_node *n = c->node;
    int rc;

    c->call = call;
    call->conn = c;
    call->state = FPMD_CALLST_SENT;
    call_timer(call, n->pool->conf->timeout_ms);
    rc = n->pool->drv->send(c);
    if (rc == FPMD_OK)
        return;
    c->call = NULL;
    call->conn = NULL;
    n->lost++;
    conn_close(c);
    if (rc == FPMD_AGAIN && call->pin == NULL) {
        call_timer_off(call);
        call->state = FPMD_CALLST_NEW;
        place(call);
        return;
    }
    fpmd_pool_call_fail(call, FPMD_CALL_FAILED, "%s: %s",
                        n->pool->conf->name, rc == FPMD_AGAIN
                        ? "connection closed by the server" : "send failed");
}

static void
lend(struct fpmd_pool_conn *c, struct fpmd_call *call)
{
    count_wait(c->node->pool, call);
    c->state = FPMD_PCONN_BUSY;
    c->node->nbusy++;
    if (call->pin != NULL) {
        call->pin->conn = c;
        c->pin = call->pin;
    }
    send_on(c, call);
}

static void
on_conn_timer(evutil_socket_t fd, short what, void *arg)
{
    struct fpmd_pool_conn *c = arg;

    (void) fd;
    (void) what;
    if (c->state == FPMD_PCONN_CONNECTING) {
        c->node->pool->timeouts++;
        fpmd_pool_conn_lost(c, "connect_timeout");
    } else {
        conn_close(c);          /* an abandoned reply never came */
    }
}

static void
server_name(const struct fpmd_pool_node *n, char *buf, size_t len)
{
    /* a redis pool's sentinels name its servers */
    if (n->conf->path == NULL && n->conf->host == NULL
        && n->conf->role == FPMD_ROLE_REPLICA)
        snprintf(buf, len, "the sentinels' replica of %s in slot %zu",
                 n->pool->conf->master_name,
                 (size_t) (n - n->pool->nodes));
    else if (n->conf->path == NULL && n->conf->host == NULL)
        snprintf(buf, len, "the sentinels' master %s",
                 n->pool->conf->master_name);
    else if (n->conf->path != NULL)
        snprintf(buf, len, "unix:%s", n->conf->path);
    else if (strchr(n->conf->host, ':') != NULL)
        snprintf(buf, len, "[%s]:%u", n->conf->host, n->conf->port);
    else
        snprintf(buf, len, "%s:%u", n->conf->host, n->conf->port);
}

static void
connect_failed(struct fpmd_pool_node *n, const char *why)
{
    struct fpmd_pool *p = n->pool;
    uint64_t backoff = BACKOFF_FIRST_MS;
    char where[160];

    for (unsigned i = 1; i < n->fails && backoff < BACKOFF_MAX_MS; i++)
        backoff *= 2;
    if (backoff > BACKOFF_MAX_MS)
        backoff = BACKOFF_MAX_MS;
    n->fails++;
    n->retry_us = mono_us() + backoff * 1000;
    p->errors++;
    server_name(n, where, sizeof(where));
    if (n->fails == 1)
        fpmd_log(FPMD_LOG_WARNING, "pool %s: %s: %s; retrying every %u ms "
                 "at most", p->conf->name, where, why, BACKOFF_MAX_MS);
    /* Nothing else will come up to serve the queue: fail it now. */
    if (n->nidle + n->nbusy + n->nconnecting == 0) {
        struct fpmd_call *call;

        while ((call = TAILQ_FIRST(&n->waiting)) != NULL) {
            TAILQ_REMOVE(&n->waiting, call, wait);
            n->nwait--;
            fpmd_pool_call_fail(call, FPMD_CALL_DOWN, "%s: %s: %s",
                                p->conf->name, where, why);
        }
    }
}

static void
open_conn(struct fpmd_pool_node *n)
{
    struct fpmd_pool *p = n->pool;
    struct fpmd_pool_conn *c = calloc(1, sizeof(*c));
    struct timeval tv = {(time_t) (p->conf->connect_timeout_ms / 1000),
                         (suseconds_t) (p->conf->connect_timeout_ms % 1000)
                             * 1000};
    char why[256];

    if (c == NULL) {
        connect_failed(n, "out of memory");
        return;
    }
    c->node = n;
    c->state = FPMD_PCONN_CONNECTING;
    c->opened_us = mono_us();
    evtimer_assign(&c->timer, loop_base, on_conn_timer, c);
    if (p->drv->connect(c, why, sizeof(why)) != FPMD_OK) {
        free(c);
        connect_failed(n, why);
        return;
    }
    n->nconnecting++;
    event_add(&c->timer, &tv);
}

/* A finishing worker keeps no connection idle, as an exiting nginx worker
 * keeps no upstream one: a backend that serves one connection per
 * process (php-fpm) would have children held by a generation that sends
 * nothing more, while the next generation's connects wait in its backlog
 * until this worker is gone. */
static void
close_idle_if_finishing(struct fpmd_pool_node *n)
{
    if (!finishing)
        return;
    while (n->idle != NULL)
        conn_close(n->idle);
}

void
fpmd_pool_conn_up(struct fpmd_pool_conn *c)
{
    struct fpmd_pool_node *n = c->node;

    event_del(&c->timer);
    n->nconnecting--;
    if (n->fails > 0) {
        char where[160];

        server_name(n, where, sizeof(where));
        fpmd_log(FPMD_LOG_NOTICE, "pool %s: %s is back", n->pool->conf->name,
                 where);
    }
    if (n->fails > 0 || n->lost > 0) {
        n->pool->reconnects++;
        if (n->lost > 0)
            n->lost--;
    }
    n->fails = 0;
    c->opened_us = mono_us();
    idle_push(n, c);
    node_dispatch(n);
    close_idle_if_finishing(n);
}

void
fpmd_pool_conn_lost(struct fpmd_pool_conn *c, const char *why)
{
    struct fpmd_pool_node *n = c->node;
    struct fpmd_call *call = c->call;

    if (c->state == FPMD_PCONN_CONNECTING) {
        conn_close(c);
        connect_failed(n, why);
        return;
    }
    c->call = NULL;
    n->lost++;
    conn_close(c);
    if (call != NULL)
        fpmd_pool_call_fail(call, FPMD_CALL_FAILED, "%s: connection lost: %s",
                            n->pool->conf->name, why);
    node_dispatch(n);
}

/* A busy connection comes back: idle (or to a waiter), or closed. */
static void
release(struct fpmd_pool_conn *c)
{
    struct fpmd_pool_node *n = c->node;

    if (!n->pool->drv->reusable(c) || expired(c, mono_us())) {
        conn_close(c);
    } else {
        n->nbusy--;
        idle_push(n, c);
    }
    node_dispatch(n);
    close_idle_if_finishing(n);
}

void
fpmd_pool_conn_done(struct fpmd_pool_conn *c)
{
    struct fpmd_call *call = c->call;

    event_del(&c->timer);
    c->call = NULL;
    if (call != NULL)
        call_finish(call, FPMD_CALL_OK, NULL);
    if (c->pin == NULL)
        release(c);
}

void
fpmd_pool_conn_retry(struct fpmd_pool_conn *c, const char *why)
{
    struct fpmd_pool_node *n = c->node;
    struct fpmd_call *call = c->call;
    char msg[256];

    snprintf(msg, sizeof(msg), "%s: %s", n->pool->conf->name, why);
    c->call = NULL;
    n->lost++;
    conn_close(c);
    if (call != NULL) {
        if (call->retried || call->pin != NULL) {
            call_finish(call, FPMD_CALL_FAILED, msg);
        } else {
            call->retried = 1;
            call->conn = NULL;
            call_timer_off(call);
            call->state = FPMD_CALLST_NEW;
            place(call);
        }
    }
    node_dispatch(n);
}

void
fpmd_pool_unpin(struct fpmd_pool_pin *pin, int close_it)
{
    struct fpmd_pool_conn *c = pin->conn;

    pin->conn = NULL;
    if (c == NULL)
        return;
    c->pin = NULL;
    /* A call still out on it (an abandoned statement draining): the
     * connection is not the pin's to give back yet, so it goes. */
    if (close_it || c->call != NULL || c->state != FPMD_PCONN_BUSY) {
        struct fpmd_pool_node *n = c->node;
        struct fpmd_call *call = c->call;

        c->call = NULL;
        if (call != NULL)
            call_finish(call, FPMD_CALL_ABORTED, "its transaction ended");
        conn_close(c);
        node_dispatch(n);
        return;
    }
    release(c);
}

/* Matches waiting calls with idle connections, and opens connections
 * for the rest while the node may. A node whose last connect failed gets
 * one connect at a time until one succeeds: a connect per waiting call
 * would give a stalled or slow server a burst of handshakes, each
 * abandoned at connect_timeout and opened again after the back-off while
 * it still works through the last round's. */
static void
node_dispatch(struct fpmd_pool_node *n)
{
    const struct fpmd_conf_backend *conf = n->pool->conf;
    struct fpmd_call *call;

    while ((call = TAILQ_FIRST(&n->waiting)) != NULL && n->idle != NULL) {
        struct fpmd_pool_conn *c = n->idle;

        TAILQ_REMOVE(&n->waiting, call, wait);
        n->nwait--;
        idle_remove(n, c);
        lend(c, call);
    }
    while (n->nwait > n->nconnecting
           && n->nidle + n->nbusy + n->nconnecting < conf->max
           && !(n->fails > 0 && (mono_us() < n->retry_us
                                 || n->nconnecting > 0)))
        open_conn(n);
}

void
fpmd_pool_call_start(struct fpmd_call *call, struct fpmd_pool_node *node)
{
    if (call->state != FPMD_CALLST_NEW)
        return;
    call->node = node;
    call->pool->calls++;
    if (fpmd_req_aborted(call->req)) {
        call_finish(call, FPMD_CALL_ABORTED, "request aborted");
        return;
    }
    if (call->pin != NULL && call->pin->lost) {
        fpmd_pool_call_fail(call, FPMD_CALL_FAILED, "%s: the connection "
                            "was lost (a transaction on it is gone)",
                            call->pool->conf->name);
        return;
    }
    if (call->pin != NULL && call->pin->conn != NULL) {
        call->node = call->pin->conn->node;
        send_on(call->pin->conn, call);
        return;
    }
    place(call);
}

/* Lends call a connection of its node, or queues it, or fails it. */
static void
place(struct fpmd_call *call)
{
    const struct fpmd_conf_backend *conf = call->pool->conf;
    struct fpmd_pool_node *node = call->node;
    uint64_t now = mono_us();
    char where[160];

    while (node->idle != NULL) {
        struct fpmd_pool_conn *c = node->idle;

        if (expired(c, now)) {
            conn_close(c);
            continue;
        }
        idle_remove(node, c);
        lend(c, call);
        return;
    }
    if (node_down(node)) {
        server_name(node, where, sizeof(where));
        fpmd_pool_call_fail(call, FPMD_CALL_DOWN, "%s: %s is down (retry in "
                            "%llu ms)", conf->name, where,
                            (unsigned long long) (node->retry_us - now)
                                / 1000);
        return;
    }
    if (node->nbusy + node->nconnecting >= conf->max
        || node->nwait >= conf->wait_queue) {
        struct fpmd_pool *p = call->pool;

        if (p->busy_hits++ == 0)
            p->busy_since_us = now;
    }
    if (node->nwait >= conf->wait_queue) {
        fpmd_pool_call_fail(call, FPMD_CALL_EXHAUSTED, "%s: all %u "
                            "connections busy and %u calls waiting",
                            conf->name, conf->max, node->nwait);
        return;
    }
    call->state = FPMD_CALLST_QUEUED;
    if (call->queued_us == 0)
        call->queued_us = now;
    TAILQ_INSERT_TAIL(&node->waiting, call, wait);
    node->nwait++;
    call_timer(call, conf->wait_timeout_ms);
    node_dispatch(node);
}

/* --- the handler side ------------------------------------------------- */

enum fpmd_call_status
fpmd_call_status(const struct fpmd_call *call)
{
    return call->status;
}

const char *
fpmd_call_error(const struct fpmd_call *call)
{
    return call->error;
}

int
fpmd_call_http_status(const struct fpmd_call *call)
{
    switch (call->status) {
    case FPMD_CALL_OK:
        return 200;
    case FPMD_CALL_EXHAUSTED:
    case FPMD_CALL_DOWN:
        return 503;
    case FPMD_CALL_TIMEOUT:
        return 504;
    case FPMD_CALL_FAILED:
        return 502;
    default:
        return 500;
    }
}

const struct fpmd_call *
fpmd_call_failed(const struct fpmd_req *req)
{
    const struct req_calls *rc = fpmd_req_get(req, REQ_KEY);

    return rc != NULL ? rc->failed : NULL;
}

void
fpmd_call_describe(const void *arg, char *buf, size_t len)
{
    const struct fpmd_call *call = arg;
    char where[160];
    int n;

    if (call->ops != NULL) {
        call->ops->describe(call, buf, len);
        return;
    }
    server_name(call->node, where, sizeof(where));
    n = snprintf(buf, len, "%s pool %s, server %s%s",
                 call->pool->drv->name, call->pool->conf->name, where,
                 call->state == FPMD_CALLST_QUEUED
                     ? " (no connection free yet)" : "");
    if (n > 0 && (size_t) n + 2 < len && call->pool->drv->describe != NULL) {
        memcpy(buf + n, ", ", 3);
        call->pool->drv->describe(call, buf + n + 2, len - (size_t) n - 2);
    }
}

int
fpmd_await(struct fpmd_req *req, struct fpmd_call *call)
{
    while (call->state != FPMD_CALLST_DONE) {
        if (call->state == FPMD_CALLST_NEW) {
            fpmd_pool_call_fail(call, FPMD_CALL_INVALID, "awaited before it "
                                "was sent");
            break;
        }
        if (fpmd_req_suspend_on(req, fpmd_call_describe, call) != FPMD_OK) {
            call_cancel(call);
            /* The request ended first: the call failed for the handler,
             * which asks fpmd_call_failed what to answer. */
            req_calls(req)->failed = call;
            break;
        }
    }
    return call->status == FPMD_CALL_OK ? FPMD_OK : FPMD_ERROR;
}

int
fpmd_await_all(struct fpmd_req *req)
{
    struct req_calls *rc = req_calls(req);
    int rc_all = FPMD_OK;

    if (rc == NULL)
        return FPMD_OK;
    for (struct fpmd_call *call = rc->head; call != NULL;
         call = call->next_req) {
        if (call->ops != NULL && call->ops->stream)
            continue;
        if (fpmd_await(req, call) != FPMD_OK)
            rc_all = FPMD_ERROR;
    }
    return rc_all;
}

/* --- readiness ---------------------------------------------------------- */

/* A call answered this recently proves the pool reachable. */
#define REACHED_RECENTLY_US 10000000ULL

enum reach { REACH_UP, REACH_DOWN, REACH_UNKNOWN };

/* What this worker knows of p without a round trip. A server with
 * nothing open and no failure behind it is unknown: one connect to it
 * starts (the pool's own, kept idle afterwards, so the next probe reads
 * the answer from it). A server backed off is down, and once its
 * back-off has passed a connect starts too, so that a server that came
 * back shows within a probe or two. */
static enum reach
reach(struct fpmd_pool *p)
{
    enum reach r = REACH_DOWN;
    uint64_t now = mono_us();

    if (p->last_ok_us != 0 && now - p->last_ok_us < REACHED_RECENTLY_US)
        return REACH_UP;
    for (size_t i = 0; i < p->nnodes; i++) {
        if (!p->nodes[i].vacant && p->nodes[i].nidle + p->nodes[i].nbusy > 0)
            return REACH_UP;
    }
    for (size_t i = 0; i < p->nnodes; i++) {
        struct fpmd_pool_node *n = &p->nodes[i];

        if (n->vacant)
            continue;
        if (n->fails == 0)
            r = REACH_UNKNOWN;
        if (n->nconnecting == 0 && (n->fails == 0 || now >= n->retry_us))
            open_conn(n);
    }
    return r;
}

int
fpmd_pool_reachable(struct fpmd_req *req, const char *name,
                    const char **why)
{
    struct fpmd_pool *p = fpmd_pool_find(name);
    uint64_t wait_ms, deadline;
    enum reach r;
    char msg[160];

    if (p == NULL) {
        *why = "no such pool";
        return FPMD_ERROR;
    }
    wait_ms = p->conf->connect_timeout_ms < 1000
        ? p->conf->connect_timeout_ms : 1000;
    deadline = mono_us() + wait_ms * 1000;
    /* no event says "connected" to a request: look again every 10 ms,
     * which a probe's second at most bounds */
    while ((r = reach(p)) == REACH_UNKNOWN && mono_us() < deadline) {
        if (fpmd_sleep(req, 10) != FPMD_OK)
            break;
    }
    if (r == REACH_UP)
        return FPMD_OK;
    if (r == REACH_DOWN)
        snprintf(msg, sizeof(msg), "pool %s: every server is down (connects "
                 "failed)", name);
    else
        snprintf(msg, sizeof(msg), "pool %s: no connection within %llu ms",
                 name, (unsigned long long) wait_ms);
    *why = fpmd_strdup(req, msg);
    if (*why == NULL)
        *why = "out of memory";
    return FPMD_ERROR;
}

/* --- the worker service ----------------------------------------------- */

static void
publish(void)
{
    struct fpmd_sb_slot *slot = fpmd_process.slot;

    fpmd_scoreboard_begin_write(slot);
    /* the rows after the pools' are the HTTP upstreams' (http.c) */
    memset(slot->backends, 0, npools * sizeof(slot->backends[0]));
    for (size_t i = 0; i < npools && i < FPMD_SB_BACKENDS; i++) {
        const struct fpmd_pool *p = &pools[i];
        struct fpmd_sb_backend *b = &slot->backends[i];

        snprintf(b->name, sizeof(b->name), "%s", p->conf->name);
        for (size_t j = 0; j < p->nnodes; j++) {
            const struct fpmd_pool_node *n = &p->nodes[j];

            b->size += n->nidle + n->nbusy + n->nconnecting;
            b->idle += n->nidle;
            b->in_use += n->nbusy;
            b->waiters += n->nwait;
        }
        b->calls = p->calls;
        b->timeouts = p->timeouts;
        b->errors = p->errors;
        b->reconnects = p->reconnects;
        b->exhausted = p->exhausted;
        b->waits = p->waits;
        b->wait_sum_us = p->wait_sum_us;
        for (size_t k = 0; k < FPMD_SB_HIST; k++)
            b->wait_hist[k] = (uint32_t) p->wait_hist[k];
    }
    fpmd_scoreboard_end_write(slot);
}

/* Calls that had to wait for a connection, or found the wait queue full,
 * mean max is too small for the load: said once, then at most once a
 * minute with a count, as php-fpm says "server reached pm.max_children". */
static void
warn_exhausted(struct fpmd_pool *p, uint64_t now)
{
    uint64_t failed = p->exhausted - p->busy_warned_failed;
    double secs = (double) (now - p->busy_since_us) / 1e6;

    if (p->busy_hits == 0 || (p->busy_warned_us != 0
                              && now - p->busy_warned_us < EXHAUSTED_WARN_US))
        return;
    fpmd_log(FPMD_LOG_WARNING, "pool %s exhausted %llu times in the last "
             "%.0f s (calls found all max %u connections busy; %llu failed "
             "at wait_queue or wait_timeout); consider raising max",
             p->conf->name, (unsigned long long) p->busy_hits,
             secs < 1.0 ? 1.0 : secs, p->conf->max,
             (unsigned long long) failed);
    p->busy_hits = 0;
    p->busy_warned_us = now;
    p->busy_warned_failed = p->exhausted;
}

/* Once a second: idle connections above min past idle_timeout and any
 * past max_lifetime close (oldest idle first); min is topped up. */
static void
pools_tick(void)
{
    uint64_t now = mono_us();

    for (size_t i = 0; i < npools; i++) {
        const struct fpmd_conf_backend *conf = pools[i].conf;

        warn_exhausted(&pools[i], now);

        for (size_t j = 0; j < pools[i].nnodes; j++) {
            struct fpmd_pool_node *n = &pools[i].nodes[j];
            struct fpmd_pool_conn *c = n->idle, *prev;

            while (c != NULL && c->next != NULL)
                c = c->next;
            for (; c != NULL; c = prev) {
                unsigned open = n->nidle + n->nbusy + n->nconnecting;
                int idle_out = conf->idle_timeout_ms != 0 && open > conf->min
                    && now - c->idle_since_us > conf->idle_timeout_ms * 1000;

                prev = c->prev;
                if (idle_out || expired(c, now))
                    conn_close(c);
            }
            while (!finishing && !n->vacant
                   && n->nidle + n->nbusy + n->nconnecting < conf->min
                   && !(n->fails > 0 && (now < n->retry_us
                                         || n->nconnecting > 0))) {
                unsigned before = n->nconnecting;

                open_conn(n);
                if (n->nconnecting == before)
                    break;
            }
        }
    }
    publish();
}

void
fpmd_pool_driver_register(enum fpmd_backend_driver kind,
                          const struct fpmd_pool_driver *drv)
{
    if ((size_t) kind < FPMD_ARRAY_LEN(drivers))
        drivers[kind] = drv;
}

void
fpmd_pool_close_idle(struct fpmd_pool *p)
{
    for (size_t j = 0; j < p->nnodes; j++) {
        while (p->nodes[j].idle != NULL)
            conn_close(p->nodes[j].idle);
    }
}

void
fpmd_pool_node_fill(struct fpmd_pool *p, size_t i, bool filled)
{
    struct fpmd_pool_node *n = &p->nodes[i];

    n->vacant = !filled;
    /* a new server starts with a clean slate, not the old one's
     * back-off */
    n->fails = 0;
    while (n->idle != NULL)
        conn_close(n->idle);
    node_dispatch(n);
}

static void
set_free(struct node_set *s)
{
    fpmd_balancer_free(s->balancer);
    free(s->node);
    free(s->usable);
    free(s->in_flight);
}

/* The nodes of role, each named for a hash ring by its address (a
 * placeholder by its slot), and their balancer: the pool's kind, or
 * round-robin (replicas without balancer:), or none (primaries
 * without). Made here in the worker: a RANDOM balancer seeds from
 * getrandom, and one made before fork would repeat in every child. */
static int
set_build(struct fpmd_pool *p, struct node_set *s, enum fpmd_server_role role)
{
    const struct fpmd_conf_backend *conf = p->conf;
    unsigned *weights = calloc(p->nnodes, sizeof(*weights));
    char (*names)[160] = calloc(p->nnodes, sizeof(*names));
    const char **namep = calloc(p->nnodes, sizeof(*namep));
    int rc = FPMD_ERROR;

    s->node = calloc(p->nnodes, sizeof(*s->node));
    s->usable = calloc(p->nnodes, sizeof(*s->usable));
    s->in_flight = calloc(p->nnodes, sizeof(*s->in_flight));
    if (weights == NULL || names == NULL || namep == NULL || s->node == NULL
        || s->usable == NULL || s->in_flight == NULL)
        goto out;
    for (size_t i = 0; i < p->nnodes; i++) {
        const struct fpmd_conf_server *srv = p->nodes[i].conf;

        if (srv->role != role)
            continue;
        server_name(&p->nodes[i], names[s->n], sizeof(names[s->n]));
        namep[s->n] = names[s->n];
        weights[s->n] = srv->weight != 0 ? srv->weight : 1;
        s->node[s->n++] = i;
    }
    rc = FPMD_OK;
    if (s->n > 0 && (conf->balanced || role == FPMD_ROLE_REPLICA)) {
        s->balancer = fpmd_balancer_new(conf->balanced
                                        ? (enum fpmd_balance_kind)
                                              conf->balancer
                                        : FPMD_BALANCE_ROUND_ROBIN,
                                        s->n, weights, namep);
        if (s->balancer == NULL)
            rc = FPMD_ERROR;
    }
out:
    free(weights);
    free(names);
    free(namep);
    return rc;
}

static void
pools_finishing(void)
{
    finishing = true;
    for (size_t i = 0; i < npools; i++) {
        for (size_t j = 0; j < pools[i].nnodes; j++)
            close_idle_if_finishing(&pools[i].nodes[j]);
    }
}

static void
pools_stop(void)
{
    for (size_t i = 0; i < npools; i++) {
        struct fpmd_pool *p = &pools[i];

        for (size_t j = 0; j < p->nnodes; j++) {
            struct fpmd_pool_node *n = &p->nodes[j];

            /* Calls are gone with their requests: only idle connections
             * (and ones still connecting or draining) are left. */
            while (n->idle != NULL)
                conn_close(n->idle);
        }
        free(p->nodes);
        free(p->ring);
        set_free(&p->primaries);
        set_free(&p->replicas);
    }
    free(pools);
    pools = NULL;
    npools = 0;
    for (size_t i = 0; i < FPMD_ARRAY_LEN(drivers); i++) {
        if (drivers[i] != NULL && drivers[i]->stop != NULL)
            drivers[i]->stop();
    }
}

static int
pools_start(const struct fpmd_conf *conf, struct event_base *base)
{
    loop_base = base;
    finishing = false;
    if (conf->nbackends == 0)
        return FPMD_OK;
    pools = calloc(conf->nbackends, sizeof(*pools));
    if (pools == NULL)
        return FPMD_ERROR;
    for (size_t i = 0; i < conf->nbackends; i++) {
        const struct fpmd_conf_backend *b = &conf->backends[i];
        struct fpmd_pool *p = &pools[npools];

        p->conf = b;
        p->drv = drivers[b->driver];
        p->nodes = calloc(b->nservers, sizeof(*p->nodes));
        if (p->drv == NULL || p->nodes == NULL) {
            fpmd_log(FPMD_LOG_ALERT, "%s:%u:%u: pools.%s: %s",
                     b->pos.file, b->pos.line, b->pos.column, b->name,
                     p->drv == NULL ? "this driver is not built in"
                                    : "out of memory");
            free(p->nodes);
            pools_stop();
            return FPMD_ERROR;
        }
        npools++;
        p->nnodes = b->nservers;
        for (size_t j = 0; j < b->nservers; j++) {
            const struct fpmd_conf_server *s = &b->servers[j];

            p->nodes[j].pool = p;
            p->nodes[j].conf = s;
            p->nodes[j].vacant = s->role == FPMD_ROLE_REPLICA
                && s->host == NULL && s->path == NULL;
            TAILQ_INIT(&p->nodes[j].waiting);
        }
        if ((b->shard && ring_build(p) != FPMD_OK)
            || set_build(p, &p->primaries, FPMD_ROLE_PRIMARY) != FPMD_OK
            || set_build(p, &p->replicas, FPMD_ROLE_REPLICA) != FPMD_OK) {
            fpmd_log(FPMD_LOG_ALERT, "%s:%u:%u: pools.%s: out of memory",
                     b->pos.file, b->pos.line, b->pos.column, b->name);
            pools_stop();
            return FPMD_ERROR;
        }
    }
    pools_tick();
    return FPMD_OK;
}

static struct fpmd_service pools_service = {
    .name = "pools", .start = pools_start, .tick = pools_tick,
    .finishing = pools_finishing, .stop = pools_stop,
};

__attribute__((constructor)) static void
register_pools(void)
{
    fpmd_service_register(&pools_service);
}
