/* SPDX-License-Identifier: BSD-2-Clause */
/* Per-request bump allocator over chunks recycled through a per-worker free
 * list; reset, not freed, between requests. With FPMD_DEBUG_ALLOC every
 * allocation is a plain malloc so ASan sees each overflow. */
#ifndef FPMD_ARENA_H
#define FPMD_ARENA_H

#include <stddef.h>

struct fpmd_arena_chunk;

/* Why the last allocation or charge was refused. */
enum fpmd_arena_refusal {
    FPMD_ARENA_OK,
    FPMD_ARENA_OVER_CAP,        /* this arena's cap */
    FPMD_ARENA_PROCESS_FULL,    /* all arenas' bound, fpmd_arena_bound */
    FPMD_ARENA_NO_MEMORY,       /* malloc failed */
};

struct fpmd_arena {
    struct fpmd_arena_chunk *chunks;  /* newest first */
    size_t used;                      /* bytes handed out, for the cap */
    size_t cap;                       /* 0: unlimited */
    size_t held;                      /* chunk bytes and charges counted
                                       * against the process's bound */
    size_t room;                      /* bytes left in the newest chunk
                                       * as a release build sizes it */
    enum fpmd_arena_refusal refused;  /* the last refusal, or OK */
};

void fpmd_arena_init(struct fpmd_arena *a, size_t cap);
/* NULL when over the cap, over the process's bound or out of memory
 * (a->refused says which). Aligned for any type. */
void *fpmd_arena_alloc(struct fpmd_arena *a, size_t size);
/* Counts len bytes the arena's owner holds elsewhere (a buffer being
 * filled) against the arena's cap and the process's bound, or gives
 * them back (len < 0); FPMD_ERROR, with a->refused set, when they do not
 * fit. A reset gives back whatever is still charged. */
int fpmd_arena_charge(struct fpmd_arena *a, ptrdiff_t len);
/* Gives every chunk back (to the worker's free list). */
void fpmd_arena_reset(struct fpmd_arena *a);

/* The bound on what all of this process's arenas hold at once (chunks in
 * use, not the free list's); 0: none. */
void fpmd_arena_bound(size_t bound);
/* What they hold now. */
size_t fpmd_arena_held(void);

/* Chunks on this process's free list (0 in debug-alloc builds). */
size_t fpmd_arena_cached(void);
/* Frees spare chunks beyond keep; returns how many. */
size_t fpmd_arena_trim(size_t keep);

#endif
