/* SPDX-License-Identifier: BSD-2-Clause */
/* A worker process: one libevent loop, the listeners it inherited, the
 * connections it took and the requests on them. On top of the include
 * graph: it wires the codecs, connections and request engine together,
 * and nothing below calls back into it but through the callbacks it
 * registers. */
#ifndef FPMD_WORKER_H
#define FPMD_WORKER_H

#include <stdint.h>

#include "fpmd/conf.h"
#include "fpmd/coro.h"
#include "fpmd/listen.h"
#include "fpmd/router.h"
#include "fpmd/scoreboard.h"

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
 * master's pair for passing connections between workers (handoff.h).
 * max_requests is this worker's recycling count (pm.max_requests and its
 * share of pm.max_requests_jitter; 0: never). */
int fpmd_worker_main(const struct fpmd_conf *conf,
                     struct fpmd_listener *listeners, size_t nlisteners,
                     struct fpmd_scoreboard *sb, uint32_t slot,
                     uint32_t generation, const int handoff[2],
                     uint64_t max_requests);

/* The request side of a worker, wired as fpmd_worker_main wires it:
 * connections (handing over to handoff_tx, -1: nowhere), codecs and the
 * request engine. fpmd_process must be filled in first. Tests that drive
 * connections in their own process call it too. */
void fpmd_worker_setup_engine(struct fpmd_router *router,
                              struct fpmd_coro_pool *coros, int handoff_tx);

/* The request engine in this process alone, for fpmd run and a user
 * process: the loop, coroutines and a scoreboard of one slot of its own
 * in fpmd_process, then fpmd_worker_setup_engine; what fpmd_worker_main
 * sets up but the listeners, the pool's scoreboard and the signals.
 * FPMD_ERROR (nothing kept) when memory is out. */
int fpmd_worker_setup_alone(const struct fpmd_conf *conf,
                            struct fpmd_router *router);

struct signalfd_siginfo;

/* A process beside the workers (a user process, a task process): the
 * config's modules and routes, the engine as fpmd_worker_setup_alone
 * sets it up, USR1 reopening the logs while QUIT, TERM and INT go to
 * on_stop, the services; then start() (FPMD_ERROR ends the process) and
 * the loop until something breaks it. FPMD_OK after the loop, FPMD_ERROR
 * (logged) when the setup or start() failed. */
int fpmd_worker_run_alone(const struct fpmd_conf *conf,
                          void (*on_stop)(const struct signalfd_siginfo *si),
                          int (*start)(void));

/* Hands an accepted, non-blocking socket to the codec of proto; closes it
 * and returns FPMD_ERROR when that fails. */
/* true once the pool is told to stop gracefully (SIGQUIT to the master):
 * this worker drains with its listeners closed. A worker recycled alone
 * (max_requests, a reload) is not stopping: its siblings go on. */
bool fpmd_worker_stopping(void);

int fpmd_worker_take(int fd, const char *peer, enum fpmd_listen_proto proto);

#endif
