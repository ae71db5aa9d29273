/* SPDX-License-Identifier: BSD-2-Clause */
/* What every part of a worker process shares: its event loop, its config
 * and its scoreboard rows. The worker fills it in once at start, before
 * any connection, request or pool exists; everything else only reads it.
 * Codecs, requests, pools and handlers reach the process through here,
 * never through the worker itself, so the worker stays on top of the
 * include graph. */
#ifndef FPMD_PROCESS_H
#define FPMD_PROCESS_H

#include <event2/event.h>

#include "fpmd/conf.h"
#include "fpmd/breaker.h"
#include "fpmd/listen.h"
#include "fpmd/scoreboard.h"
#include "fpmd/task_board.h"

struct fpmd_process {
    struct event_base *base;
    const struct fpmd_conf *conf;
    struct fpmd_scoreboard *sb;     /* the generation's, every worker's */
    struct fpmd_sb_slot *slot;      /* this worker's row */
    struct fpmd_sb_routes *routes;  /* this worker's route rows */
    struct fpmd_sb_flights *flights; /* this worker's in-flight list */
    struct fpmd_listener *listeners;
    size_t nlisteners;
    bool alone;                     /* not a worker: fpmd run, a user
                                     * process (fpmd_worker_setup_alone) */
    /* The task queue (README "Tasks"), set by the master before the
     * fork; -1 and NULL where there is none (tasks.workers 0, fpmd run:
     * tasks then run in the process that starts them). */
    struct fpmd_task_board *tasks;
    int task_queue;                 /* frames go in here */
    int task_take;                  /* a task process takes them here */
    int task_reply;                 /* results come back here */
    int task_reply_to;              /* sent along with each frame: the
                                     * other end of task_reply */
    struct fpmd_breaker_set *breakers;  /* the upstream servers' circuit
                                         * breakers (the master's, shared);
                                         * NULL: none mapped yet */
    struct fpmd_discovery *discovery;   /* the upstreams' discovered
                                         * servers (the generation's,
                                         * shared); NULL: none */
    struct fpmd_ratelimit *ratelimit;   /* the routes' rate_limit: buckets
                                         * (the generation's, shared);
                                         * NULL: none */
    bool task_process;              /* this process runs tasks */
    bool task_inline;               /* fpmd run, fpmd task: no queue, a
                                     * task runs where it is started */
};

extern struct fpmd_process fpmd_process;

#endif
