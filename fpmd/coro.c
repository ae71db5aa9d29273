/* SPDX-License-Identifier: BSD-2-Clause */
/* Coroutines over a hand-written context switch (coro_switch.S) on x86-64
 * and aarch64, ucontext elsewhere or with FPMD_CORO_UCONTEXT. glibc's
 * swapcontext costs a sigprocmask syscall per switch, about 30 times the
 * assembly switch. Under ASan every switch is announced to the sanitizer,
 * and a reused stack is unpoisoned, or stale frames of a parked coroutine
 * would show as false overflows. Under valgrind each stack is
 * registered, or memcheck, seeing the stack pointer move less than its
 * --max-stackframe between two stacks, would take a switch for a huge
 * frame and report every access after it. Under TSan
 * (tests/stress/tsan.sh) each coroutine is a fiber of its own, or the
 * sanitizer would take one thread's stacks for one stack and lose track
 * of it. */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fpmd/coro.h"

#if !defined(FPMD_CORO_UCONTEXT) && !defined(__x86_64__) && !defined(__aarch64__)
#define FPMD_CORO_UCONTEXT 1
#endif

#ifdef FPMD_CORO_UCONTEXT
#include <ucontext.h>
#endif

#ifdef FPMD_UNDER_ASAN
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif

#ifdef HAVE_VALGRIND_VALGRIND_H
#include <valgrind/valgrind.h>
#endif

#if defined(__SANITIZE_THREAD__)
#define CORO_TSAN 1
#include <sanitizer/tsan_interface.h>
#endif

struct stack {
    unsigned char *map;         /* guard page at map, stack above it */
    size_t map_len;
    struct stack *next_all;     /* every mapped stack, for guard checks */
    struct stack *next_free;
#ifdef HAVE_VALGRIND_VALGRIND_H
    unsigned valgrind_id;
#endif
};

struct fpmd_coro_pool {
    size_t stack_size;          /* usable bytes, page multiple */
    unsigned max_cached;
    struct stack *free;
    size_t ncached, nlive;
};

struct fpmd_coro {
    void *sp;                   /* saved stack pointer while parked */
#ifdef FPMD_CORO_UCONTEXT
    ucontext_t uc;
#endif
    struct fpmd_coro_pool *pool;
    struct stack *stack;
    fpmd_coro_fn fn;
    void *arg;
    bool done;
#ifdef FPMD_UNDER_ASAN
    void *fake_stack;
#endif
#ifdef CORO_TSAN
    void *fiber;
#endif
};

void fpmd_coro_switch(void **save_sp, void *load_sp);

static struct fpmd_coro *current;
#ifdef FPMD_CORO_UCONTEXT
static ucontext_t main_uc;
#else
static void *main_sp;
#endif
/* Read by the SIGSEGV handler: only ever prepended to or unlinked from
 * while no signal can be about the stack being changed. */
static struct stack *volatile all_stacks;
static size_t page_size;

#ifdef CORO_TSAN
static void *main_fiber;
#endif
#ifdef FPMD_UNDER_ASAN
static void *main_fake_stack;
static const void *main_bottom;
static size_t main_size;
#endif

static unsigned char *
stack_bottom(const struct stack *s)
{
    return s->map + page_size;
}

static size_t
stack_len(const struct stack *s)
{
    return s->map_len - page_size;
}

static struct stack *
stack_get(struct fpmd_coro_pool *pool)
{
    struct stack *s = pool->free;

    if (s != NULL) {
        pool->free = s->next_free;
        pool->ncached--;
#ifdef FPMD_UNDER_ASAN
        ASAN_UNPOISON_MEMORY_REGION(stack_bottom(s), stack_len(s));
#endif
        pool->nlive++;
        return s;
    }
    s = malloc(sizeof(*s));
    if (s == NULL)
        return NULL;
    s->map_len = pool->stack_size + page_size;
    s->map = mmap(NULL, s->map_len, PROT_READ | PROT_WRITE,
                  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK,
                  -1, 0);
    if (s->map == MAP_FAILED) {
        free(s);
        return NULL;
    }
    if (mprotect(s->map, page_size, PROT_NONE) != 0) {
        munmap(s->map, s->map_len);
        free(s);
        return NULL;
    }
#ifdef HAVE_VALGRIND_VALGRIND_H
    s->valgrind_id = VALGRIND_STACK_REGISTER(stack_bottom(s),
                                             stack_bottom(s) + stack_len(s));
#endif
    s->next_all = all_stacks;
    all_stacks = s;
    pool->nlive++;
    return s;
}

static void
stack_unmap(struct stack *s)
{
    for (struct stack *volatile *pp = &all_stacks; *pp != NULL;
         pp = &(*pp)->next_all) {
        if (*pp == s) {
            *pp = s->next_all;
            break;
        }
    }
#ifdef HAVE_VALGRIND_VALGRIND_H
    VALGRIND_STACK_DEREGISTER(s->valgrind_id);
#endif
    munmap(s->map, s->map_len);
    free(s);
}

static void
stack_put(struct fpmd_coro_pool *pool, struct stack *s)
{
    pool->nlive--;
    if (pool->ncached < pool->max_cached) {
        s->next_free = pool->free;
        pool->free = s;
        pool->ncached++;
        return;
    }
    stack_unmap(s);
}

struct fpmd_coro_pool *
fpmd_coro_pool_new(size_t stack_size, unsigned max_cached)
{
    struct fpmd_coro_pool *pool;

    if (page_size == 0)
        page_size = (size_t) sysconf(_SC_PAGESIZE);
    if (stack_size < 4 * page_size)
        stack_size = 4 * page_size;
    if (stack_size > SIZE_MAX / 2)
        return NULL;
    pool = calloc(1, sizeof(*pool));
    if (pool == NULL)
        return NULL;
    pool->stack_size = (stack_size + page_size - 1) & ~(page_size - 1);
    pool->max_cached = max_cached;
    return pool;
}

void
fpmd_coro_pool_free(struct fpmd_coro_pool *pool)
{
    if (pool == NULL)
        return;
    FPMD_ASSERT(pool->nlive == 0);
    while (pool->free != NULL) {
        struct stack *s = pool->free;

        pool->free = s->next_free;
        stack_unmap(s);
    }
    free(pool);
}

size_t
fpmd_coro_pool_trim(struct fpmd_coro_pool *pool, size_t keep)
{
    size_t n = 0;

    while (pool->ncached > keep) {
        struct stack *s = pool->free;

        pool->free = s->next_free;
        pool->ncached--;
        stack_unmap(s);
        n++;
    }
    return n;
}

size_t
fpmd_coro_pool_stats(const struct fpmd_coro_pool *pool, size_t *cached,
                     size_t *live)
{
    *cached = pool->ncached;
    *live = pool->nlive;
    return pool->ncached + pool->nlive;
}

/* Parks the running coroutine and continues the main context. */
static void
switch_to_main(struct fpmd_coro *co)
{
#ifdef FPMD_UNDER_ASAN
    __sanitizer_start_switch_fiber(co->done ? NULL : &co->fake_stack,
                                   main_bottom, main_size);
#endif
#ifdef CORO_TSAN
    __tsan_switch_to_fiber(main_fiber, 0);
#endif
#ifdef FPMD_CORO_UCONTEXT
    swapcontext(&co->uc, &main_uc);
#else
    fpmd_coro_switch(&co->sp, main_sp);
#endif
#ifdef FPMD_UNDER_ASAN
    __sanitizer_finish_switch_fiber(co->fake_stack, &main_bottom, &main_size);
#endif
}

/* First code on a new stack: the coroutine comes from `current` because the
 * switch passes no arguments. Never returns. */
static void __attribute__((noreturn))
coro_entry(void)
{
    struct fpmd_coro *co = current;

#ifdef FPMD_UNDER_ASAN
    __sanitizer_finish_switch_fiber(NULL, &main_bottom, &main_size);
#endif
    co->fn(co->arg);
    co->done = 1;
    switch_to_main(co);
    abort();
}

#if defined(FPMD_CORO_UCONTEXT)
static int
init_frame(struct fpmd_coro *co)
{
    if (getcontext(&co->uc) != 0)
        return FPMD_ERROR;
    co->uc.uc_stack.ss_sp = stack_bottom(co->stack);
    co->uc.uc_stack.ss_size = stack_len(co->stack);
    co->uc.uc_link = NULL;
    makecontext(&co->uc, (void (*)(void)) coro_entry, 0);
    return FPMD_OK;
}
#elif defined(__x86_64__)
static int
init_frame(struct fpmd_coro *co)
{
    uintptr_t top = (uintptr_t) (stack_bottom(co->stack)
                                 + stack_len(co->stack)) & ~(uintptr_t) 15;
    uint64_t *f;
    uint32_t mxcsr;
    uint16_t fcw;

    /* Frame popped by fpmd_coro_switch: fcw, mxcsr, r15..r12, rbx, rbp,
     * return address. The return slot sits 16-aligned so coro_entry starts
     * with rsp = 8 (mod 16), as after a call. */
    __asm__ volatile("stmxcsr %0" : "=m"(mxcsr));
    __asm__ volatile("fnstcw %0" : "=m"(fcw));
    f = (uint64_t *) (top - 16 - 64);
    memset(f, 0, 80);
    f[0] = fcw;
    f[1] = mxcsr;
    f[8] = (uint64_t) (uintptr_t) coro_entry;
    co->sp = f;
    return FPMD_OK;
}
#elif defined(__aarch64__)
static int
init_frame(struct fpmd_coro *co)
{
    uintptr_t top = (uintptr_t) (stack_bottom(co->stack)
                                 + stack_len(co->stack)) & ~(uintptr_t) 15;
    uint64_t *f = (uint64_t *) (top - 176);
    uint64_t fpcr;

    /* Frame loaded by fpmd_coro_switch: x19..x28, x29 (0: end of the frame
     * chain), x30 = where ret goes, d8..d15, fpcr. */
    __asm__ volatile("mrs %0, fpcr" : "=r"(fpcr));
    memset(f, 0, 176);
    f[11] = (uint64_t) (uintptr_t) coro_entry;
    f[20] = fpcr;
    co->sp = f;
    return FPMD_OK;
}
#endif

struct fpmd_coro *
fpmd_coro_new(struct fpmd_coro_pool *pool, fpmd_coro_fn fn, void *arg)
{
    struct fpmd_coro *co = calloc(1, sizeof(*co));

    if (co == NULL)
        return NULL;
    co->stack = stack_get(pool);
    if (co->stack == NULL) {
        free(co);
        return NULL;
    }
    co->pool = pool;
    co->fn = fn;
    co->arg = arg;
    if (init_frame(co) != FPMD_OK) {
        stack_put(pool, co->stack);
        free(co);
        return NULL;
    }
#ifdef CORO_TSAN
    co->fiber = __tsan_create_fiber(0);
#endif
    return co;
}

int
fpmd_coro_resume(struct fpmd_coro *co)
{
    FPMD_ASSERT(current == NULL && !co->done);
    current = co;
#ifdef FPMD_UNDER_ASAN
    __sanitizer_start_switch_fiber(&main_fake_stack, stack_bottom(co->stack),
                                   stack_len(co->stack));
#endif
#ifdef CORO_TSAN
    main_fiber = __tsan_get_current_fiber();
    __tsan_switch_to_fiber(co->fiber, 0);
#endif
#ifdef FPMD_CORO_UCONTEXT
    swapcontext(&main_uc, &co->uc);
#else
    fpmd_coro_switch(&main_sp, co->sp);
#endif
#ifdef FPMD_UNDER_ASAN
    __sanitizer_finish_switch_fiber(main_fake_stack, NULL, NULL);
#endif
    current = NULL;
    return co->done ? FPMD_DONE : FPMD_AGAIN;
}

void
fpmd_coro_yield(void)
{
    struct fpmd_coro *co = current;

    FPMD_ASSERT(co != NULL);
    switch_to_main(co);
}

struct fpmd_coro *
fpmd_coro_current(void)
{
    return current;
}

int
fpmd_coro_done(const struct fpmd_coro *co)
{
    return co->done;
}

void
fpmd_coro_free(struct fpmd_coro *co)
{
    if (co == NULL)
        return;
    FPMD_ASSERT(co != current);
#ifdef CORO_TSAN
    __tsan_destroy_fiber(co->fiber);
#endif
    stack_put(co->pool, co->stack);
    free(co);
}

bool
fpmd_coro_is_guard_fault(const void *addr)
{
    const unsigned char *a = addr;

    for (const struct stack *s = all_stacks; s != NULL; s = s->next_all) {
        if (a >= s->map && a < s->map + page_size)
            return true;
    }
    return false;
}
