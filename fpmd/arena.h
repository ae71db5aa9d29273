/* SPDX-License-Identifier: BSD-2-Clause */
/* Per-request bump allocator over chunks recycled through a per-worker free
 * list; reset, not freed, between requests. With FPMD_DEBUG_ALLOC every
 * allocation is a plain malloc so ASan sees each overflow. */
#ifndef FPMD_ARENA_H
#define FPMD_ARENA_H

#include <stddef.h>

struct fpmd_arena_chunk;

struct fpmd_arena {
    struct fpmd_arena_chunk *chunks;  /* newest first */
    size_t used;                      /* bytes handed out, for the cap */
    size_t cap;                       /* 0: unlimited */
};

void fpmd_arena_init(struct fpmd_arena *a, size_t cap);
/* NULL when over the cap or out of memory. Aligned for any type. */
void *fpmd_arena_alloc(struct fpmd_arena *a, size_t size);
/* Gives every chunk back (to the worker's free list). */
void fpmd_arena_reset(struct fpmd_arena *a);

/* Chunks on this process's free list (0 in debug-alloc builds). */
size_t fpmd_arena_cached(void);
/* Frees spare chunks beyond keep; returns how many. */
size_t fpmd_arena_trim(size_t keep);

#endif
