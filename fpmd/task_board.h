/* SPDX-License-Identifier: BSD-2-Clause */
/* The task queue's shared state: counters every process of the pool
 * updates atomically, and a row per task process that says what it runs,
 * so that the master can answer for a task whose process died under it.
 * The master maps it once, before the first fork, and keeps it across
 * reloads with the queue itself: a task queued under one generation is
 * run by the next. Readers never trust a row (a process may die
 * mid-write): names are copied with a bound. */
#ifndef FPMD_TASK_BOARD_H
#define FPMD_TASK_BOARD_H

#include <stdint.h>
#include <sys/types.h>

#include "fpmd/conf.h"
#include "fpmd/task_frame.h"

/* Task processes of two generations, during a reload. */
#define FPMD_TASK_SLOTS (2 * FPMD_TASK_WORKERS_MAX)

struct fpmd_task_slot {
    int32_t pid;                /* the master's: 0 when the row is free */
    uint32_t busy;              /* the task process's: 1 while it runs one */
    int32_t sender;             /* the pid waiting for the result */
    uint32_t noreply;           /* a posted task */
    uint64_t id;                /* the sender's id of it */
    uint64_t start_us;          /* when it started, fpmd_now_us */
    char name[FPMD_TASK_NAME_MAX + 1];
};

struct fpmd_task_board {
    int64_t queued;             /* in the queue now (a sender counts a
                                 * task before it sends it) */
    uint64_t done;              /* ran and returned FPMD_OK */
    uint64_t failed;            /* ran and failed, or was refused */
    uint64_t timed_out;         /* awaits that gave up at tasks.timeout */
    uint64_t rejected;          /* not queued: the queue was full */
    uint64_t dropped;           /* accepted, never finished: its process
                                 * died under it, or fpmd stopped first */
    uint32_t workers;           /* task processes running */
    struct fpmd_task_slot slots[FPMD_TASK_SLOTS];
};

/* NULL when the mapping fails. */
struct fpmd_task_board *fpmd_task_board_new(void);
void fpmd_task_board_free(struct fpmd_task_board *b);

/* Atomic updates and reads of the counters above. */
static inline void
fpmd_task_board_add(uint64_t *counter, uint64_t n)
{
    __atomic_fetch_add(counter, n, __ATOMIC_RELAXED);
}

static inline uint64_t
fpmd_task_board_get(const uint64_t *counter)
{
    return __atomic_load_n(counter, __ATOMIC_RELAXED);
}

/* Takes a place in the queue: false, and nothing taken, when queue are
 * taken already. */
bool fpmd_task_board_enqueue(struct fpmd_task_board *b, unsigned queue);
/* A place given back: the task left the queue (or was never sent). */
void fpmd_task_board_dequeue(struct fpmd_task_board *b);
/* Tasks in the queue now, never below 0. */
uint64_t fpmd_task_board_queued(const struct fpmd_task_board *b);

#endif
