/* SPDX-License-Identifier: BSD-2-Clause */
/* Coroutines: values across yields, interleaving, cancel of a parked
 * coroutine with stack reuse, floating-point control state, and a stack
 * overflow landing in the guard page (in a forked child). */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <fenv.h>

#include <cmocka.h>

#include "fpmd/coro.h"

static void
count_up(void *arg)
{
    int *n = arg;

    for (int i = 0; i < 5; i++) {
        (*n)++;
        fpmd_coro_yield();
    }
}

static void
coro_yield_returns_to_resumer(void **state)
{
    struct fpmd_coro_pool *pool = fpmd_coro_pool_new(64 * 1024, 4);
    struct fpmd_coro *co;
    int n = 0;

    (void) state;
    co = fpmd_coro_new(pool, count_up, &n);
    assert_non_null(co);
    for (int i = 1; i <= 5; i++) {
        assert_int_equal(fpmd_coro_resume(co), FPMD_AGAIN);
        assert_int_equal(n, i);
        assert_null(fpmd_coro_current());
    }
    assert_int_equal(fpmd_coro_resume(co), FPMD_DONE);
    assert_true(fpmd_coro_done(co));
    fpmd_coro_free(co);
    fpmd_coro_pool_free(pool);
}

struct step {
    int id;
    int *log;
    size_t *pos;
};

static void
log_steps(void *arg)
{
    struct step *s = arg;
    char local[256];

    /* stack contents survive while other coroutines run */
    memset(local, s->id, sizeof(local));
    for (int i = 0; i < 3; i++) {
        s->log[(*s->pos)++] = s->id * 10 + i;
        fpmd_coro_yield();
        assert_int_equal(local[0], s->id);
        assert_int_equal(local[255], s->id);
    }
}

static void
coro_many_interleave_in_resume_order(void **state)
{
    struct fpmd_coro_pool *pool = fpmd_coro_pool_new(64 * 1024, 2);
    struct fpmd_coro *co[50];
    struct step steps[50];
    int log[150];
    size_t pos = 0, cached, live;
    int done = 0;

    (void) state;
    for (int i = 0; i < 50; i++) {
        steps[i] = (struct step) {i + 1, log, &pos};
        co[i] = fpmd_coro_new(pool, log_steps, &steps[i]);
        assert_non_null(co[i]);
    }
    fpmd_coro_pool_stats(pool, &cached, &live);
    assert_int_equal(live, 50);
    while (done < 50) {
        for (int i = 0; i < 50; i++) {
            if (co[i] != NULL && fpmd_coro_resume(co[i]) == FPMD_DONE) {
                fpmd_coro_free(co[i]);
                co[i] = NULL;
                done++;
            }
        }
    }
    assert_int_equal(pos, 150);
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < 50; i++)
            assert_int_equal(log[round * 50 + i], (i + 1) * 10 + round);
    }
    fpmd_coro_pool_stats(pool, &cached, &live);
    assert_int_equal(live, 0);
    assert_int_equal(cached, 2);
    fpmd_coro_pool_free(pool);
}

static void
park_forever(void *arg)
{
    char big[8192];

    memset(big, 0x5a, sizeof(big));
    *(int *) arg = big[100];
    for (;;)
        fpmd_coro_yield();
}

static void
coro_free_of_parked_coroutine_reuses_its_stack(void **state)
{
    struct fpmd_coro_pool *pool = fpmd_coro_pool_new(64 * 1024, 1);
    struct fpmd_coro *co;
    size_t cached, live;
    int seen = 0, n = 0;

    (void) state;
    for (int i = 0; i < 20; i++) {
        co = fpmd_coro_new(pool, park_forever, &seen);
        assert_int_equal(fpmd_coro_resume(co), FPMD_AGAIN);
        fpmd_coro_free(co);
    }
    assert_int_equal(seen, 0x5a);
    co = fpmd_coro_new(pool, count_up, &n);
    while (fpmd_coro_resume(co) == FPMD_AGAIN)
        ;
    assert_int_equal(n, 5);
    fpmd_coro_free(co);
    fpmd_coro_pool_stats(pool, &cached, &live);
    assert_int_equal(cached, 1);
    assert_int_equal(live, 0);
    fpmd_coro_pool_free(pool);
}

static void
round_down(void *arg)
{
    volatile double x = 1.0, y = 3.0;

    fesetround(FE_DOWNWARD);
    *(double *) arg = x / y;
    fpmd_coro_yield();
}

static void
coro_keeps_floating_point_control_per_context(void **state)
{
    struct fpmd_coro_pool *pool = fpmd_coro_pool_new(64 * 1024, 1);
    volatile double x = 1.0, y = 3.0;
    double in_coro = 0, up;
    struct fpmd_coro *co;

    (void) state;
    fesetround(FE_UPWARD);
    co = fpmd_coro_new(pool, round_down, &in_coro);
    assert_int_equal(fpmd_coro_resume(co), FPMD_AGAIN);
    up = x / y;
    assert_int_equal(fegetround(), FE_UPWARD);
    assert_true(up > in_coro);
    fesetround(FE_TONEAREST);
    fpmd_coro_free(co);
    fpmd_coro_pool_free(pool);
}

static int
recurse(int depth)
{
    volatile char pad[512];

    pad[0] = (char) (depth & 63);
    if (depth == 0)
        return pad[0];
    return recurse(depth - 1) + pad[0];
}

static void
deep(void *arg)
{
    *(int *) arg = recurse(*(int *) arg);
}

static void
coro_deep_recursion_within_the_stack_works(void **state)
{
    struct fpmd_coro_pool *pool = fpmd_coro_pool_new(256 * 1024, 1);
    struct fpmd_coro *co;
    int depth = 200, expect = 0;

    (void) state;
    for (int d = 0; d <= depth; d++)
        expect += d & 63;
    co = fpmd_coro_new(pool, deep, &depth);
    assert_int_equal(fpmd_coro_resume(co), FPMD_DONE);
    assert_int_equal(depth, expect);
    fpmd_coro_free(co);
    fpmd_coro_pool_free(pool);
}

static void
on_segv(int sig, siginfo_t *si, void *uc)
{
    (void) sig;
    (void) uc;
    _exit(fpmd_coro_is_guard_fault(si->si_addr) ? 42 : 43);
}

static void
overflow(void *arg)
{
    (void) arg;
    recurse(1 << 20);
}

static void
coro_stack_overflow_hits_the_guard_page(void **state)
{
    int status;
    pid_t pid;

    (void) state;
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        static char altstack[65536];
        stack_t ss = {.ss_sp = altstack, .ss_size = sizeof(altstack)};
        struct sigaction sa;
        struct fpmd_coro_pool *pool = fpmd_coro_pool_new(64 * 1024, 1);
        struct fpmd_coro *co;

        sigaltstack(&ss, NULL);
        memset(&sa, 0, sizeof(sa));
        sa.sa_sigaction = on_segv;
        sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
        sigaction(SIGSEGV, &sa, NULL);
        co = fpmd_coro_new(pool, overflow, NULL);
        fpmd_coro_resume(co);
        _exit(0);
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 42);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(coro_yield_returns_to_resumer),
        cmocka_unit_test(coro_many_interleave_in_resume_order),
        cmocka_unit_test(coro_free_of_parked_coroutine_reuses_its_stack),
        cmocka_unit_test(coro_keeps_floating_point_control_per_context),
        cmocka_unit_test(coro_deep_recursion_within_the_stack_works),
        cmocka_unit_test(coro_stack_overflow_hits_the_guard_page),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
