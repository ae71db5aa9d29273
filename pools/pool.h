/* SPDX-License-Identifier: BSD-2-Clause */
/* The generic connection pool under every driver, one per configured pool
 * per worker (never in the master). A pool has a node per server; a node
 * owns its connections (an idle list, most recently used first) and a FIFO
 * of calls waiting for one. A call is one request's use of a connection:
 * queued, sent, done. Timers bound every wait: wait_timeout in the queue,
 * connect_timeout for a connection coming up, timeout from send to reply.
 * A server that refuses connections is backed off (50 ms doubling to
 * 500 ms) and calls to it fail at once meanwhile, so a restart costs a
 * fast 503 and recovery takes at most half a second.
 *
 * A driver supplies the wire: it connects, sends a call, tells the pool
 * when the reply is in or the connection is gone, and says whether a
 * connection handed back can serve the next borrower. */
#ifndef FPMD_POOLS_POOL_H
#define FPMD_POOLS_POOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>

#include <event2/event.h>
#include <event2/event_struct.h>

#include "fpmd/conf.h"
#include "fpmd/fpmd.h"

struct fpmd_pool;
struct fpmd_pool_node;
struct fpmd_pool_conn;

enum fpmd_pool_conn_state {
    FPMD_PCONN_CONNECTING,
    FPMD_PCONN_IDLE,
    FPMD_PCONN_BUSY,            /* carries a call, or drains an abandoned one */
};

/* A connection kept by one owner across calls (a transaction): lent to
 * its first call and not given back until fpmd_pool_unpin. */
struct fpmd_pool_pin {
    struct fpmd_pool_conn *conn;    /* NULL before the first call */
    int lost;                       /* the connection went away meanwhile */
};

struct fpmd_pool_conn {
    struct fpmd_pool_conn *prev, *next;     /* the node's idle list */
    struct fpmd_pool_pin *pin;              /* NULL unless pinned */
    struct fpmd_pool_node *node;
    enum fpmd_pool_conn_state state;
    struct fpmd_call *call;                 /* NULL when idle or abandoned */
    struct event timer;                     /* connect, drain */
    uint64_t opened_us, idle_since_us;
    void *driver;                           /* the driver's state */
};

enum fpmd_call_state {
    FPMD_CALLST_NEW,            /* being built */
    FPMD_CALLST_QUEUED,         /* waiting for a connection */
    FPMD_CALLST_SENT,
    FPMD_CALLST_DONE,
};

struct fpmd_call {
    TAILQ_ENTRY(fpmd_call) wait;            /* the node's wait queue */
    struct fpmd_call *next_req;             /* the request's calls */
    struct fpmd_req *req;
    struct fpmd_pool *pool;
    struct fpmd_pool_node *node;
    struct fpmd_pool_conn *conn;
    enum fpmd_call_state state;
    enum fpmd_call_status status;
    const char *error;                      /* in the request's arena */
    struct event timer;                     /* wait, then reply */
    int timer_armed;
    int retried;                            /* fpmd_pool_conn_retry ran */
    uint64_t queued_us;                     /* placed in the wait queue
                                             * (monotonic); 0: not queued */
    struct fpmd_pool_pin *pin;              /* runs on a pinned connection */
    void *driver;                           /* the driver's per-call data */
    const struct fpmd_call_ops *ops;        /* not a pool's (a task) */
};

/* What a call that no pool answers (a task) does when its time is up or
 * its request ends first; it is awaited, failed and freed like any. */
struct fpmd_call_ops {
    /* The request ended, or its client left, while the call was waiting:
     * forget it (no report may follow). */
    void (*cancel)(struct fpmd_call *call);
    /* fpmd_call_other_wait's timeout passed: forget it and report with
     * fpmd_call_other_done. */
    void (*timeout)(struct fpmd_call *call);
    /* Its owner waits on it piecewise (an HTTP stream, done only once its
     * reader has taken the body): fpmd_await_all passes over it, which
     * would otherwise wait for a transfer paused until that reader. */
    bool stream;
    /* Writes what the call is, and where it went, for the slow log
     * (fpmd_req_waiting_fn): "task resize", "http GET https://...". */
    void (*describe)(const struct fpmd_call *call, char *buf, size_t len);
};

struct fpmd_pool_driver {
    const char *name;
    /* Starts connecting c (c->node says where). Reports later, never from
     * inside this call, with fpmd_pool_conn_up or fpmd_pool_conn_lost.
     * FPMD_ERROR when it could not start (error says why). */
    int (*connect)(struct fpmd_pool_conn *c, char *error, size_t len);
    /* Sends c->call. Reports with fpmd_pool_conn_done when its reply is
     * in, or fpmd_pool_conn_lost. FPMD_ERROR when it could not send (the
     * pool then closes c); FPMD_AGAIN when c turned out dead before
     * anything was sent (closed by the server while idle): the pool
     * closes it and places the call again. */
    int (*send)(struct fpmd_pool_conn *c);
    /* c->call is going away (request ended or aborted) while its reply is
     * still due: 1 when c will report fpmd_pool_conn_done once the reply
     * is in and be clean then, 0 to have the pool close c now. */
    int (*abandon)(struct fpmd_pool_conn *c);
    /* After a call: 1 when c can serve the next borrower as it is. */
    int (*reusable)(struct fpmd_pool_conn *c);
    /* Releases the driver's side of c; no report comes after. */
    void (*close)(struct fpmd_pool_conn *c);
    /* When the worker stops, after every connection is closed; NULL: no
     * state of its own. */
    void (*stop)(void);
    /* Writes what a call asks (a command, a statement, a script), for the
     * slow log, which names the pool and the server before it
     * (fpmd_req_waiting_fn); NULL: nothing to add. */
    void (*describe)(const struct fpmd_call *call, char *buf, size_t len);
};

/* Each driver registers from a constructor; pools: entries with its
 * driver: use it. A later registration replaces an earlier one (tests put
 * a driver with injected faults in place of a real one). */
void fpmd_pool_driver_register(enum fpmd_backend_driver kind,
                               const struct fpmd_pool_driver *drv);

/* Driver reports. */
void fpmd_pool_conn_up(struct fpmd_pool_conn *c);
void fpmd_pool_conn_lost(struct fpmd_pool_conn *c, const char *why);
/* The call's reply is in (its results filled in), or the abandoned
 * call's reply was drained. */
void fpmd_pool_conn_done(struct fpmd_pool_conn *c);
/* The connection died under c->call in a way that makes a second try
 * safe (an idempotent read): c is closed and the call placed again, once;
 * a second time, or on a pinned connection, the call fails with why. */
void fpmd_pool_conn_retry(struct fpmd_pool_conn *c, const char *why);

/* Closes every idle connection of p (its servers changed under it: a
 * failover); those lent finish their calls first. */
void fpmd_pool_close_idle(struct fpmd_pool *p);

/* Node i of p, a placeholder server (a sentinel pool's replica slot),
 * now has a server behind it, or none: a vacant node is never picked
 * and opens no connection. Either way its idle connections close (its
 * server changed); those lent finish their calls first, and the driver
 * must not find them reusable. Placeholder replicas start vacant. */
void fpmd_pool_node_fill(struct fpmd_pool *p, size_t i, bool filled);

/* Ends a pin: the connection goes back to the pool (or is closed when the
 * driver says it is not clean); with close_it, closed in any case. */
void fpmd_pool_unpin(struct fpmd_pool_pin *pin, int close_it);

/* For the driver APIs. */
struct fpmd_pool *fpmd_pool_find(const char *name);
const struct fpmd_conf_backend *fpmd_pool_conf(const struct fpmd_pool *p);
const struct fpmd_conf_server *fpmd_pool_node_conf(
    const struct fpmd_pool_node *n);
const struct fpmd_conf_backend *fpmd_pool_conn_conf(
    const struct fpmd_pool_conn *c);
struct event_base *fpmd_pool_base(void);
/* Server picks. A node is up unless backed off, or vacant (below).
 *  - fpmd_pool_primary: without balancer: in the config, the first
 *    primary up (failover order); with one, the primary it picks among
 *    those up.
 *  - fpmd_pool_replica: the replica the balancer picks among those up
 *    (round-robin without balancer:), else fpmd_pool_primary.
 * key (len bytes; NULL: none) is what balancer: hash hashes; others
 * ignore it. With no primary up: the first primary, whose calls then
 * fail at once.
 *  - fpmd_pool_shard: the primary owning a key on the consistent-hash
 *    ring (shard: true). */
struct fpmd_pool_node *fpmd_pool_primary(struct fpmd_pool *p, const void *key,
                                         size_t len);
struct fpmd_pool_node *fpmd_pool_replica(struct fpmd_pool *p, const void *key,
                                         size_t len);
struct fpmd_pool_node *fpmd_pool_shard(struct fpmd_pool *p, const void *key,
                                       size_t len);

/* A call of req on pool name, with driver data; NULL when memory is out.
 * A pool that does not exist or has another driver gives a call already
 * failed with FPMD_CALL_INVALID. */
struct fpmd_call *fpmd_pool_call_new(struct fpmd_req *req, const char *name,
                                     const struct fpmd_pool_driver *drv,
                                     void *driver_data);
/* Starts call on node: lends it a connection now or queues it. A call
 * with a pin runs on the pinned connection (its first call pins one). */
void fpmd_pool_call_start(struct fpmd_call *call, struct fpmd_pool_node *node);
/* The call made progress (bytes came): its timeout counts from now. */
void fpmd_pool_call_progress(struct fpmd_call *call);

/* A call of req answered by ops's owner, with its data; NULL when memory
 * is out. */
struct fpmd_call *fpmd_call_new_other(struct fpmd_req *req,
                                      const struct fpmd_call_ops *ops,
                                      void *data);
/* It was sent: the answer is due within timeout_ms (FPMD_CALL_NO_TIMEOUT:
 * no bound of the pool's; its owner has its own). */
#define FPMD_CALL_NO_TIMEOUT UINT64_MAX
void fpmd_call_other_wait(struct fpmd_call *call, uint64_t timeout_ms);
/* It is answered (FPMD_CALL_OK, results in its data) or failed. */
void fpmd_call_other_done(struct fpmd_call *call, enum fpmd_call_status status,
                          const char *error);

/* Forgets call as the end of its request does (its ops' cancel runs, it
 * is done with FPMD_CALL_ABORTED; no wake, not the request's failed call);
 * nothing when it is done already. */
void fpmd_call_other_cancel(struct fpmd_call *call);

/* The fpmd_req_waiting_fn of a call (arg): "redis pool cache, server
 * 127.0.0.1:6379, GET user:42", its driver or owner saying what it
 * asks. */
void fpmd_call_describe(const void *arg, char *buf, size_t len);

/* Ends a call that never started (bad arguments). */
void fpmd_pool_call_fail(struct fpmd_call *call,
                         enum fpmd_call_status status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
