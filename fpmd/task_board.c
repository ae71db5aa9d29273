/* SPDX-License-Identifier: BSD-2-Clause */
#include "config.h"

#include <sys/mman.h>

#include "fpmd/task_board.h"

struct fpmd_task_board *
fpmd_task_board_new(void)
{
    void *p = mmap(NULL, sizeof(struct fpmd_task_board),
                   PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);

    return p == MAP_FAILED ? NULL : p;
}

void
fpmd_task_board_free(struct fpmd_task_board *b)
{
    if (b != NULL)
        munmap(b, sizeof(*b));
}

bool
fpmd_task_board_enqueue(struct fpmd_task_board *b, unsigned queue)
{
    int64_t was = __atomic_fetch_add(&b->queued, 1, __ATOMIC_RELAXED);

    if (was < (int64_t) queue)
        return true;
    __atomic_fetch_sub(&b->queued, 1, __ATOMIC_RELAXED);
    return false;
}

void
fpmd_task_board_dequeue(struct fpmd_task_board *b)
{
    __atomic_fetch_sub(&b->queued, 1, __ATOMIC_RELAXED);
}

uint64_t
fpmd_task_board_queued(const struct fpmd_task_board *b)
{
    int64_t n = __atomic_load_n(&b->queued, __ATOMIC_RELAXED);

    return n > 0 ? (uint64_t) n : 0;
}
