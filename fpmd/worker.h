/* SPDX-License-Identifier: BSD-2-Clause */
/* A worker process: one libevent loop, the listeners it inherited, the
 * connections it accepted and the coroutines of their requests. There is
 * one per process, reached through fpmd_worker. */
#ifndef FPMD_WORKER_H
#define FPMD_WORKER_H

#include <event2/event.h>

#include "fpmd/clock.h"
#include "fpmd/conf.h"
#include "fpmd/coro.h"
#include "fpmd/listen.h"
#include "fpmd/router.h"
#include "fpmd/scoreboard.h"

struct fpmd_req;

struct fpmd_worker {
    struct event_base *base;
    const struct fpmd_conf *conf;
    struct fpmd_router *router;     /* built at start, this worker's own */
    struct fpmd_listener *listeners;
    size_t nlisteners;

    struct fpmd_scoreboard *sb;
    struct fpmd_sb_slot *slot;
    struct fpmd_sb_routes *routes;  /* this worker's route rows */
    uint32_t generation;

    struct fpmd_coro_pool *coros;
    struct event *signal_ev;
    struct event *tick_ev;
    int signal_fd;

    unsigned in_flight;
    unsigned connections;
    unsigned load_peak;         /* connections + in_flight, this second */
    uint64_t requests;          /* finished */
    uint64_t started;           /* started, counts toward max_requests */
    int finishing;              /* graceful exit under way */
    int fast_exit;

    /* Requests waiting for a max_concurrency slot, FIFO. */
    struct fpmd_req *queue_head, **queue_tail;
    unsigned queued;
    int running_queue;
};

extern struct fpmd_worker *fpmd_worker;

/* What a worker told to finish (SIGQUIT, the value sigqueue'd with it)
 * does with its connections: hand them to its siblings (a reload, a spare
 * stopped), or close them once answered and idle (a graceful stop, an
 * ondemand worker stopped for idleness, where nobody should take them). */
enum fpmd_worker_quit {
    FPMD_QUIT_HANDOFF = 0,
    FPMD_QUIT_CLOSE = 1,
};

/* Runs a worker until it exits; returns the process exit code. Loads the
 * config's handler modules and builds its routes first. handoff is the
 * master's pair for passing connections between workers (handoff.h). */
int fpmd_worker_main(const struct fpmd_conf *conf,
                     struct fpmd_listener *listeners, size_t nlisteners,
                     struct fpmd_scoreboard *sb, uint32_t slot,
                     uint32_t generation, const int handoff[2]);

/* Hands an accepted, non-blocking socket to the codec of proto; closes it
 * and returns FPMD_ERROR when that fails. */
int fpmd_worker_take(int fd, const char *peer, enum fpmd_listen_proto proto);
/* Same for a connection a sibling handed over, which already carried
 * served requests. */
int fpmd_worker_take_over(int fd, const char *peer,
                          enum fpmd_listen_proto proto, unsigned served);

/* The codec has a complete request head: route it and run (or queue) its
 * handler. The request may be finished and freed before this returns. */
void fpmd_worker_start_req(struct fpmd_req *req);

/* Runs fn for a background request (fpmd_req_new_background) in its
 * own coroutine, outside the access log and the scoreboard; the request
 * is freed when fn returns. FPMD_ERROR (and req is freed) when the worker
 * is finishing or at max_concurrency. */
int fpmd_worker_start_background(struct fpmd_req *req, fpmd_handler_fn fn);

/* Continues a parked handler; from event callbacks only. */
void fpmd_worker_resume(struct fpmd_req *req);

/* 1 when a new request would have to wait for one to end
 * (pm.max_concurrency requests running or queued). */
int fpmd_worker_at_capacity(void);

/* A connection of this worker is gone (closed or handed off). */
void fpmd_worker_conn_closed(void);


#endif
