/* SPDX-License-Identifier: BSD-2-Clause */
/* Request arenas. Standard chunks (ARENA_CHUNK bytes) cycle through a
 * bounded free list; a larger allocation gets a chunk of its own that is
 * freed, not cached, so one big request cannot pin memory forever. */
#include "config.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "fpmd/arena.h"
#include "fpmd/common.h"
#include "fpmd/freelist.h"

#define ARENA_CHUNK 16384
#define ARENA_ALIGN 16
#define ARENA_CACHE_MAX 256

#ifdef FPMD_DEBUG_ALLOC
/* Each allocation gets a chunk of its own holding exactly the bytes asked
 * for, so ASan's redzone starts where the piece ends (in a standard chunk
 * an overflow would land, unseen, in the chunk's spare bytes). The
 * accounting still counts standard chunks (fpmd_arena_alloc): caps act
 * as in a release build. */
#define CHUNK_DATA(size, whole) (size)
#define CHUNK_TAKEN(whole) true
#else
#define CHUNK_DATA(size, whole) (whole)
#define CHUNK_TAKEN(whole) ((whole) != 0)
#endif

struct fpmd_arena_chunk {
    struct fpmd_arena_chunk *next;
    size_t size;        /* usable bytes in data */
    size_t pos;
    _Alignas(ARENA_ALIGN) unsigned char data[];
};

static struct fpmd_freelist spare_chunks = FPMD_FREELIST_INIT(ARENA_CACHE_MAX);
/* limits.requests_memory: what every request of the worker holds at once */
static size_t process_held, process_bound;

void
fpmd_arena_bound(size_t bound)
{
    process_bound = bound;
}

size_t
fpmd_arena_held(void)
{
    return process_held;
}

/* Counts n more bytes held by a, within the process's bound. */
static bool
hold(struct fpmd_arena *a, size_t n)
{
    if (process_bound != 0
        && (n > process_bound || process_held > process_bound - n)) {
        a->refused = FPMD_ARENA_PROCESS_FULL;
        return false;
    }
    process_held += n;
    a->held += n;
    return true;
}

static void
release(struct fpmd_arena *a, size_t n)
{
    process_held -= n;
    a->held -= n;
}

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
    a->held = 0;
    a->room = 0;
    a->refused = FPMD_ARENA_OK;
}

/* A chunk of size bytes of data. */
static struct fpmd_arena_chunk *
chunk_get(size_t size)
{
    struct fpmd_arena_chunk *c;

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
    size_t rounded, whole = 0;

    if (size == 0)
        size = 1;
    if (size > SIZE_MAX - ARENA_ALIGN)
        return NULL;
    rounded = (size + ARENA_ALIGN - 1) & ~(size_t) (ARENA_ALIGN - 1);
    if (a->cap != 0 && (rounded > a->cap || a->used > a->cap - rounded)) {
        a->refused = FPMD_ARENA_OVER_CAP;
        return NULL;
    }
    /* The bound is charged a chunk where a release build takes one, so a
     * debug-alloc build, whose pieces each get a chunk of their own,
     * refuses at the same load, not many times sooner. */
    if (a->room < rounded) {
        whole = rounded > ARENA_CHUNK ? rounded : ARENA_CHUNK;
        if (!hold(a, whole))
            return NULL;
    }
    if (CHUNK_TAKEN(whole)) {
        c = chunk_get(CHUNK_DATA(size, whole));
        if (c == NULL) {
            release(a, whole);
            a->refused = FPMD_ARENA_NO_MEMORY;
            return NULL;
        }
        c->next = a->chunks;
        a->chunks = c;
    }
    if (whole != 0)
        a->room = whole;
    a->room -= rounded;
    a->used += rounded;
    c->pos += rounded;
    return c->data + c->pos - rounded;
}

int
fpmd_arena_charge(struct fpmd_arena *a, ptrdiff_t len)
{
    size_t n = len < 0 ? (size_t) -len : (size_t) len;

    if (len < 0) {
        a->used -= n;
        release(a, n);
        return FPMD_OK;
    }
    if (a->cap != 0 && (n > a->cap || a->used > a->cap - n)) {
        a->refused = FPMD_ARENA_OVER_CAP;
        return FPMD_ERROR;
    }
    if (!hold(a, n))
        return FPMD_ERROR;
    a->used += n;
    return FPMD_OK;
}

void
fpmd_arena_reset(struct fpmd_arena *a)
{
    while (a->chunks != NULL) {
        struct fpmd_arena_chunk *c = a->chunks;

        a->chunks = c->next;
        chunk_put(c);
    }
    release(a, a->held);
    a->used = 0;
    a->room = 0;
    a->refused = FPMD_ARENA_OK;
}
