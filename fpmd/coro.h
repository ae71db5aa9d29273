/* SPDX-License-Identifier: BSD-2-Clause */
/* Stackful coroutines for request handlers: one per request, resumed only
 * from the worker's main context (they never nest). Stacks are mmap'ed
 * with a PROT_NONE guard page below them and cached per process, so an
 * overflow is a SIGSEGV in the guard, never silent corruption. */
#ifndef FPMD_CORO_H
#define FPMD_CORO_H

#include <stddef.h>

#include "fpmd/common.h"

struct fpmd_coro;
struct fpmd_coro_pool;

typedef void (*fpmd_coro_fn)(void *arg);

/* A stack cache of stack_size-byte stacks (rounded up to pages), keeping at
 * most max_cached idle ones. NULL when out of memory. */
struct fpmd_coro_pool *fpmd_coro_pool_new(size_t stack_size,
                                          unsigned max_cached);
/* Unmaps the cached stacks. Every coroutine must be freed first. */
void fpmd_coro_pool_free(struct fpmd_coro_pool *pool);

/* A coroutine that will run fn(arg) when first resumed. NULL when no stack
 * can be mapped. */
struct fpmd_coro *fpmd_coro_new(struct fpmd_coro_pool *pool, fpmd_coro_fn fn,
                                void *arg);

/* From the main context only: runs co until it yields (FPMD_AGAIN) or fn
 * returns (FPMD_DONE). */
int fpmd_coro_resume(struct fpmd_coro *co);

/* From inside a coroutine: back to the main context; returns when resumed. */
void fpmd_coro_yield(void);

/* The running coroutine, NULL in the main context. */
struct fpmd_coro *fpmd_coro_current(void);

int fpmd_coro_done(const struct fpmd_coro *co);

/* Returns co's stack to its pool. co may be finished, never started, or
 * parked in a yield: then it is dropped without unwinding, so whatever its
 * frames own must be released by other means (request defers). */
void fpmd_coro_free(struct fpmd_coro *co);

/* 1 when addr lies in the guard page of a stack of this process.
 * Async-signal-safe: for a SIGSEGV handler on an alternate stack. */
bool fpmd_coro_is_guard_fault(const void *addr);

/* Stacks cached and in use, for the status page. Returns their sum. */
/* Unmaps spare stacks beyond keep; returns how many. */
size_t fpmd_coro_pool_trim(struct fpmd_coro_pool *pool, size_t keep);
size_t fpmd_coro_pool_stats(const struct fpmd_coro_pool *pool, size_t *cached,
                            size_t *live);

#endif
