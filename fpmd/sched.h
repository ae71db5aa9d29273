/* SPDX-License-Identifier: BSD-2-Clause */
/* The request engine of a worker process (see sched.c). */
#ifndef FPMD_SCHED_H
#define FPMD_SCHED_H

#include <stdint.h>

#include "fpmd/coro.h"
#include "fpmd/fpmd.h"
#include "fpmd/router.h"

struct fpmd_req;

/* Once per worker, after fpmd_process is filled in. changed(0) follows a
 * request started or queued, changed(1) one ended: the worker's accepting,
 * scoreboard state and exit follow the load from there. */
void fpmd_sched_setup(struct fpmd_router *router,
                      struct fpmd_coro_pool *coros,
                      void (*changed)(int ended));
/* The config routes' scoreboard rows, named, counters from zero, and an
 * empty in-flight list (the slot may have been another worker's). */
void fpmd_sched_routes_init(void);

/* The codec has a complete request head: route it and run its handler;
 * at pm.max_concurrency it waits (pm.max_queue requests at most, each
 * timeouts.queue at most), and beyond either it is answered 503 with
 * Retry-After without running. The request may be finished and freed
 * before this returns. */
void fpmd_sched_start(struct fpmd_req *req);

/* Runs fn for a background request (fpmd_req_new_background) in its own
 * coroutine, outside the access log and the scoreboard; the request is
 * freed when fn returns. FPMD_ERROR (and req is freed) when the worker is
 * finishing or at max_concurrency. */
int fpmd_sched_start_background(struct fpmd_req *req, fpmd_handler_fn fn);

/* The same for work the master asked this worker for (a cron run): it
 * runs even at max_concurrency; only a finishing worker frees req
 * instead. */
void fpmd_sched_start_run(struct fpmd_req *req, fpmd_handler_fn fn);

/* Continues a parked handler; from event callbacks only. */
void fpmd_sched_resume(struct fpmd_req *req);

/* The worker is finishing: no more background work. */
void fpmd_sched_finishing(void);

/* Everything running (what a finishing worker waits for), and of it the
 * requests of clients (what the scoreboard shows: background work - a
 * timer, a cron run, a shadow call - keeps no worker busy or alive). */
unsigned fpmd_sched_in_flight(void);
unsigned fpmd_sched_requests_in_flight(void);
/* Requests started (they count toward max_requests), and ended. */
uint64_t fpmd_sched_started(void);
uint64_t fpmd_sched_finished(void);
/* Requests waiting for a slot now. */
unsigned fpmd_sched_queued(void);
/* Requests that could start now without waiting (pm.max_concurrency less
 * those running or queued); at capacity when 0. */
unsigned fpmd_sched_room(void);
bool fpmd_sched_at_capacity(void);
/* true when no other worker of the pool could start a request now and
 * none is about to be forked: a request this worker cannot start is then
 * best queued or refused here, not left to wait in a listen queue or a
 * handoff with no deadline. Reads the scoreboard. */
bool fpmd_sched_pool_saturated(void);

#endif
