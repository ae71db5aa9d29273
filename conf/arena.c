/* SPDX-License-Identifier: BSD-2-Clause */
/* A config's arena: pieces bumped out of malloc()ed chunks. Not the request
 * arena of fpmd/arena.c: that one hands its chunks to the worker's free
 * list for the next request, while a config lives as long as its
 * generation (the master frees it once the workers are gone), and conf/
 * links without the daemon core (its unit tests, the fuzz target). */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "conf/arena.h"

#ifdef FPMD_DEBUG_ALLOC
/* Each piece is a malloc() of its own that ends where the piece ends, so
 * ASan's redzone right behind it catches an overflow. */
#define CHUNK_SIZE 0
#define PIECE_ALIGN 1
#else
#define CHUNK_SIZE 4096
#define PIECE_ALIGN _Alignof(max_align_t)
#endif

struct fpmd_conf_chunk {
    struct fpmd_conf_chunk *next;
    size_t size;            /* bytes of data */
    size_t used;
    max_align_t data[];
};

void *
fpmd_conf_alloc(struct fpmd_conf_arena *a, size_t n, size_t size)
{
    struct fpmd_conf_chunk *c = a->chunks;
    size_t need;

    if (size != 0 && n > SIZE_MAX / 2 / size)
        return NULL;
    need = n * size > 0 ? n * size : 1;
    need = (need + PIECE_ALIGN - 1) / PIECE_ALIGN * PIECE_ALIGN;
    if (c == NULL || c->size - c->used < need) {
        size_t size_of_data = need > CHUNK_SIZE ? need : CHUNK_SIZE;

        c = malloc(sizeof(*c) + size_of_data);
        if (c == NULL)
            return NULL;
        c->next = a->chunks;
        c->size = size_of_data;
        c->used = 0;
        a->chunks = c;
    }
    c->used += need;
    return memset((unsigned char *) c->data + c->used - need, 0, need);
}

/* A copy of the len bytes at s, terminated (the piece is zeroed). */
static char *
copy_string(struct fpmd_conf_arena *a, const char *s, size_t len)
{
    char *copy = fpmd_conf_alloc(a, len + 1, 1);

    return copy != NULL ? memcpy(copy, s, len) : NULL;
}

char *
fpmd_conf_strndup(struct fpmd_conf_arena *a, const char *s, size_t n)
{
    return copy_string(a, s, strnlen(s, n));
}

char *
fpmd_conf_strdup(struct fpmd_conf_arena *a, const char *s)
{
    return copy_string(a, s, strlen(s));
}

void
fpmd_conf_arena_free(struct fpmd_conf_arena *a)
{
    struct fpmd_conf_chunk *c, *next;

    for (c = a->chunks; c != NULL; c = next) {
        next = c->next;
        free(c);
    }
    a->chunks = NULL;
}
