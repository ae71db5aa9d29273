/* SPDX-License-Identifier: BSD-2-Clause */
/* Request arenas. Standard chunks (ARENA_CHUNK bytes) cycle through a
 * bounded free list; a larger allocation gets a chunk of its own that is
 * freed, not cached, so one big request cannot pin memory forever. */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>

#include "fpmd/arena.h"
#include "fpmd/common.h"
#include "fpmd/freelist.h"

#define ARENA_CHUNK 16384
#define ARENA_ALIGN 16
#define ARENA_CACHE_MAX 256

struct fpmd_arena_chunk {
    struct fpmd_arena_chunk *next;
    size_t size;        /* usable bytes in data */
    size_t pos;
    _Alignas(ARENA_ALIGN) unsigned char data[];
};

static struct fpmd_freelist spare_chunks = FPMD_FREELIST_INIT(ARENA_CACHE_MAX);

size_t
fpmd_arena_cached(void)
{
    return spare_chunks.n;
}

size_t
fpmd_arena_trim(size_t keep)
{
    return fpmd_freelist_trim(&spare_chunks, keep, free);
}

void
fpmd_arena_init(struct fpmd_arena *a, size_t cap)
{
    a->chunks = NULL;
    a->used = 0;
    a->cap = cap;
}

static struct fpmd_arena_chunk *
chunk_get(size_t need)
{
    struct fpmd_arena_chunk *c;
    size_t size = need > ARENA_CHUNK ? need : ARENA_CHUNK;

    if (size == ARENA_CHUNK && (c = fpmd_freelist_get(&spare_chunks)) != NULL) {
        c->pos = 0;
        return c;
    }
    c = malloc(sizeof(*c) + size);
    if (c == NULL)
        return NULL;
    c->size = size;
    c->pos = 0;
    return c;
}

static void
chunk_put(struct fpmd_arena_chunk *c)
{
    if (c->size != ARENA_CHUNK || !fpmd_freelist_put(&spare_chunks, c))
        free(c);
}

void *
fpmd_arena_alloc(struct fpmd_arena *a, size_t size)
{
    struct fpmd_arena_chunk *c = a->chunks;
    size_t rounded;

    if (size == 0)
        size = 1;
    if (size > SIZE_MAX - ARENA_ALIGN)
        return NULL;
    rounded = (size + ARENA_ALIGN - 1) & ~(size_t) (ARENA_ALIGN - 1);
    if (a->cap != 0 && (rounded > a->cap || a->used > a->cap - rounded))
        return NULL;
#ifdef FPMD_DEBUG_ALLOC
    c = NULL;
#endif
    if (c == NULL || c->size - c->pos < rounded) {
        c = chunk_get(rounded);
        if (c == NULL)
            return NULL;
        c->next = a->chunks;
        a->chunks = c;
    }
    a->used += rounded;
    c->pos += rounded;
    return c->data + c->pos - rounded;
}

void
fpmd_arena_reset(struct fpmd_arena *a)
{
    while (a->chunks != NULL) {
        struct fpmd_arena_chunk *c = a->chunks;

        a->chunks = c->next;
        chunk_put(c);
    }
    a->used = 0;
}
