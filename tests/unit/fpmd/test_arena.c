/* SPDX-License-Identifier: BSD-2-Clause */
/* Request arenas against their two bounds: one arena's cap
 * (limits.request_memory) and what all of a process's arenas hold at once
 * (limits.requests_memory), each refusal saying which, and a reset giving
 * back chunks and charges alike, counted alike in every build; and, in
 * the sanitizer build, ASan catching a write one byte past a piece (in a
 * forked child). */
#include "config.h"

#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "fpmd/arena.h"
#include "fpmd/common.h"

static void
an_arena_refuses_past_its_cap_and_says_so(void **state)
{
    struct fpmd_arena a;

    (void) state;
    fpmd_arena_bound(0);
    fpmd_arena_init(&a, 64 * 1024);
    assert_non_null(fpmd_arena_alloc(&a, 40 * 1024));
    assert_int_equal(a.refused, FPMD_ARENA_OK);
    assert_null(fpmd_arena_alloc(&a, 30 * 1024));
    assert_int_equal(a.refused, FPMD_ARENA_OVER_CAP);
    assert_non_null(fpmd_arena_alloc(&a, 16 * 1024));
    fpmd_arena_reset(&a);
    assert_int_equal(a.refused, FPMD_ARENA_OK);
    assert_int_equal(fpmd_arena_held(), 0);
}

static void
arenas_together_stay_within_the_process_bound(void **state)
{
    struct fpmd_arena a, b;

    (void) state;
    fpmd_arena_bound(256 * 1024);
    fpmd_arena_init(&a, 0);
    fpmd_arena_init(&b, 0);
    assert_non_null(fpmd_arena_alloc(&a, 200 * 1024));
    assert_true(fpmd_arena_held() >= 200 * 1024);
    assert_null(fpmd_arena_alloc(&b, 100 * 1024));
    assert_int_equal(b.refused, FPMD_ARENA_PROCESS_FULL);
    /* a's memory going back makes room for b */
    fpmd_arena_reset(&a);
    assert_int_equal(fpmd_arena_held(), 0);
    assert_non_null(fpmd_arena_alloc(&b, 100 * 1024));
    fpmd_arena_reset(&b);
    assert_int_equal(fpmd_arena_held(), 0);
    fpmd_arena_bound(0);
}

static void
charges_count_against_both_bounds_until_given_back(void **state)
{
    struct fpmd_arena a, b;

    (void) state;
    fpmd_arena_bound(128 * 1024);
    fpmd_arena_init(&a, 100 * 1024);
    fpmd_arena_init(&b, 0);
    assert_int_equal(fpmd_arena_charge(&a, 90 * 1024), FPMD_OK);
    assert_int_equal(fpmd_arena_charge(&a, 20 * 1024), FPMD_ERROR);
    assert_int_equal(a.refused, FPMD_ARENA_OVER_CAP);
    assert_int_equal(fpmd_arena_charge(&b, 60 * 1024), FPMD_ERROR);
    assert_int_equal(b.refused, FPMD_ARENA_PROCESS_FULL);
    assert_int_equal(fpmd_arena_charge(&a, -90 * 1024), FPMD_OK);
    assert_int_equal(fpmd_arena_held(), 0);
    assert_int_equal(fpmd_arena_charge(&b, 60 * 1024), FPMD_OK);
    /* a reset gives back what is still charged */
    fpmd_arena_reset(&b);
    assert_int_equal(fpmd_arena_held(), 0);
    fpmd_arena_bound(0);
}

/* What the bound sees is the same in every build: small pieces share a
 * 16 KiB chunk, a piece larger than one has its own. A debug-alloc build
 * (the sanitizer one), whose pieces each have a chunk of their own, once
 * counted a whole chunk for each, and its workers refused requests at a
 * fraction of limits.requests_memory. */
static void
pieces_hold_what_a_release_build_holds(void **state)
{
    struct fpmd_arena a;
    int i;

    (void) state;
    fpmd_arena_bound(0);
    fpmd_arena_init(&a, 0);
    for (i = 0; i < 100; i++)
        assert_non_null(fpmd_arena_alloc(&a, 10));
    assert_int_equal(fpmd_arena_held(), 16 * 1024);
    assert_non_null(fpmd_arena_alloc(&a, 20000));
    assert_int_equal(fpmd_arena_held(), 16 * 1024 + 20000);
    assert_non_null(fpmd_arena_alloc(&a, 10));
    assert_int_equal(fpmd_arena_held(), 2 * 16 * 1024 + 20000);
    fpmd_arena_reset(&a);
    assert_int_equal(fpmd_arena_held(), 0);
    assert_non_null(fpmd_arena_alloc(&a, 10));
    assert_int_equal(fpmd_arena_held(), 16 * 1024);
    fpmd_arena_reset(&a);
}

/* Only in the sanitizer build: cmocka's TAP output marks a skipped test
 * "not ok", which the test driver counts as a failure. */
#if defined(FPMD_UNDER_ASAN) && defined(FPMD_DEBUG_ALLOC)
static void
asan_sees_a_byte_written_past_a_piece(void **state)
{
    int status;
    pid_t pid;

    (void) state;
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct fpmd_arena a;
        volatile char *p;
        int null = open("/dev/null", O_WRONLY);

        dup2(null, STDERR_FILENO);      /* ASan's report is expected */
        fpmd_arena_bound(0);
        fpmd_arena_init(&a, 0);
        p = fpmd_arena_alloc(&a, 10);
        p[10] = 'x';
        _exit(0);
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_false(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}
#endif

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(an_arena_refuses_past_its_cap_and_says_so),
        cmocka_unit_test(arenas_together_stay_within_the_process_bound),
        cmocka_unit_test(charges_count_against_both_bounds_until_given_back),
        cmocka_unit_test(pieces_hold_what_a_release_build_holds),
#if defined(FPMD_UNDER_ASAN) && defined(FPMD_DEBUG_ALLOC)
        cmocka_unit_test(asan_sees_a_byte_written_past_a_piece),
#endif
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
