/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef FPMD_EVENT_ALLOC_H
#define FPMD_EVENT_ALLOC_H

#include <stdbool.h>
#include <stddef.h>

/* libevent's allocations of at most this many bytes come from their own
 * pages (see event_alloc.c for why). */
#define FPMD_EVENT_ALLOC_SMALL 32

/* Hands libevent the allocator below; call before any other libevent
 * call of the process. */
void fpmd_event_alloc_install(void);

void *fpmd_event_alloc(size_t size);
void *fpmd_event_realloc(void *p, size_t size);
void fpmd_event_free(void *p);

/* For tests: whether p is one of the small slots. */
bool fpmd_event_alloc_is_small(const void *p);

#endif
