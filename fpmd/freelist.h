/* SPDX-License-Identifier: BSD-2-Clause */
/* A bounded stack of spare objects of one kind, one per worker (workers
 * are single-threaded, so no locking). A spare object's first pointer-sized
 * bytes hold the link; whoever takes one back re-initialises it. With
 * FPMD_DEBUG_ALLOC the list stays empty, so every object is a fresh malloc
 * and ASan sees a use after free. */
#ifndef FPMD_FREELIST_H
#define FPMD_FREELIST_H

#include <stddef.h>
#include <string.h>

struct fpmd_freelist {
    void *head;
    size_t n;       /* spares held */
    size_t max;     /* beyond this, put refuses and the caller frees */
};

#define FPMD_FREELIST_INIT(max) {NULL, 0, (max)}

/* A spare object, or NULL when there is none. */
static inline void *
fpmd_freelist_get(struct fpmd_freelist *fl)
{
    void *obj = fl->head;

    if (obj != NULL) {
        memcpy(&fl->head, obj, sizeof(void *));
        fl->n--;
    }
    return obj;
}

/* 1 when the list took obj; 0 when full and obj is still the caller's. */
static inline int
fpmd_freelist_put(struct fpmd_freelist *fl, void *obj)
{
#ifdef FPMD_DEBUG_ALLOC
    (void) fl;
    (void) obj;
    return 0;
#else
    if (fl->n >= fl->max)
        return 0;
    memcpy(obj, &fl->head, sizeof(void *));
    fl->head = obj;
    fl->n++;
    return 1;
#endif
}

/* Frees the spares beyond keep with free_fn (a flood is over: what it
 * left on the list goes back to the allocator). Returns how many. */
static inline size_t
fpmd_freelist_trim(struct fpmd_freelist *fl, size_t keep,
                   void (*free_fn)(void *))
{
    size_t n = 0;

    while (fl->n > keep) {
        free_fn(fpmd_freelist_get(fl));
        n++;
    }
    return n;
}

#endif
