/* SPDX-License-Identifier: BSD-2-Clause */
/* Tasks (README "Tasks"): the registry of their code, a run of one as a
 * background request of this process, and the task process's main. The
 * sending side (fpmd_task_start, the queue) is pools/task_call.c; the
 * master's (spawning, the queue's life, a process that dies mid-task) is
 * in master.c. */
#ifndef FPMD_TASK_H
#define FPMD_TASK_H

#include <stddef.h>
#include <stdint.h>

#include "fpmd/conf.h"
#include "fpmd/fpmd.h"
#include "fpmd/task_board.h"

/* The FPMD_TASK called name (len bytes), NULL when none is. */
const struct fpmd_task_def *fpmd_task_find(const char *name, size_t len);

/* A run's end: code FPMD_TASK_DONE with the result (len bytes, valid
 * during the call only) or FPMD_TASK_FAILED with text. */
typedef void (*fpmd_task_done_fn)(void *arg, unsigned code, const void *out,
                                  size_t len, const char *text);

/* Runs def on a copy of in as a background request of this process;
 * done(arg, ...) is called once, when it ends. Returns that request
 * (for fpmd_req_abort until done), NULL when memory is out (done is not
 * called). */
struct fpmd_req *fpmd_task_run(const struct fpmd_task_def *def, const void *in,
                  size_t len, fpmd_task_done_fn done, void *arg);

/* fpmd run: tasks started or posted in this process that have not ended
 * (pools/task_call.c); the run waits for them before it exits. */
unsigned fpmd_task_inline_runs(void);

/* In the forked task process, privileges dropped: takes tasks from
 * fpmd_process.task_take and runs them, one at a time, recording each in
 * slot, until told to stop or tasks.max_requests are done. Returns the
 * exit code. */
int fpmd_task_process_main(const struct fpmd_conf *conf,
                           struct fpmd_task_slot *slot);

/* The value of the SIGQUIT (sigqueue) that stops a task process: finish
 * the task running (a reload: the next generation takes the queue), or
 * empty the queue first (the pool stops: nobody else will). */
enum fpmd_task_quit {
    FPMD_TASK_QUIT_FINISH = 0,
    FPMD_TASK_QUIT_DRAIN = 1,
};

#endif
