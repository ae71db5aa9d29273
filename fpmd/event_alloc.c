/* SPDX-License-Identifier: BSD-2-Clause */
/* libevent keeps one small record per descriptor number it has ever
 * watched (its evmap entry, 20 bytes with epoll), allocated the first time
 * the number is used and freed only with the event base. Under a flood of
 * connections those records are allocated between the connections' own
 * objects; when the flood is over every record pins the heap page it sits
 * on, and malloc_trim could give back only a half to three quarters of the
 * flood's memory. Allocations that small come from a region of their own
 * instead, where thousands of them share a few pages. libevent is called
 * from the loop's thread only (driver threads wake it through an eventfd),
 * so the slots need no lock. */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <event2/event.h>

#include "fpmd/event_alloc.h"

/* Address space only: pages are backed when first touched, and 8 MiB of
 * 32-byte slots covers 262,144 descriptor numbers. Past it, allocations
 * fall back to malloc, which is merely less compact. */
#define REGION_SIZE (8u << 20)

struct slot {
    struct slot *next;
};

static struct {
    unsigned char *base;    /* MAP_FAILED when the region could not be had */
    size_t used;            /* bytes handed out by bumping */
    struct slot *free;
} region;

static bool
region_ready(void)
{
    if (region.base == NULL)
        region.base = mmap(NULL, REGION_SIZE, PROT_READ | PROT_WRITE,
                           MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    return region.base != MAP_FAILED;
}

bool
fpmd_event_alloc_is_small(const void *p)
{
    uintptr_t a = (uintptr_t) p;
    uintptr_t lo = (uintptr_t) region.base;

    return region.base != NULL && region.base != MAP_FAILED && a >= lo
           && a < lo + REGION_SIZE;
}

void *
fpmd_event_alloc(size_t size)
{
    struct slot *s;

    if (size > FPMD_EVENT_ALLOC_SMALL || !region_ready())
        return malloc(size);
    if (region.free != NULL) {
        s = region.free;
        region.free = s->next;
        return s;
    }
    if (region.used == REGION_SIZE)
        return malloc(size);
    s = (struct slot *) (region.base + region.used);
    region.used += FPMD_EVENT_ALLOC_SMALL;
    return s;
}

void
fpmd_event_free(void *p)
{
    struct slot *s = p;

    if (!fpmd_event_alloc_is_small(p)) {
        free(p);
        return;
    }
    s->next = region.free;
    region.free = s;
}

void *
fpmd_event_realloc(void *p, size_t size)
{
    void *q;

    if (!fpmd_event_alloc_is_small(p))
        return p == NULL ? fpmd_event_alloc(size) : realloc(p, size);
    if (size <= FPMD_EVENT_ALLOC_SMALL)
        return p;
    q = malloc(size);
    if (q == NULL)
        return NULL;
    memcpy(q, p, FPMD_EVENT_ALLOC_SMALL);
    fpmd_event_free(p);
    return q;
}

void
fpmd_event_alloc_install(void)
{
    event_set_mem_functions(fpmd_event_alloc, fpmd_event_realloc,
                            fpmd_event_free);
}
