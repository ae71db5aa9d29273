/* SPDX-License-Identifier: BSD-2-Clause */
/* Shared token buckets, driven by explicit times: a burst then one token
 * a refill, to the microsecond and without drift over thousands of
 * tokens; fractional rates; keys apart, long ones too; a full region
 * reusing refilled buckets before evicting; exact totals under two
 * processes; and a region that outlives a process killed holding a
 * lock. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "fpmd/ratelimit.h"
#include "fpmd/ratelimit_impl.h"

#define SEC 1000000ull
#define T0 (1000 * SEC)         /* a monotonic clock some time after boot */

static struct fpmd_ratelimit *
make(unsigned keys)
{
    size_t size = fpmd_ratelimit_size(keys);
    struct fpmd_ratelimit *rl;

    assert_true(size > 0);
    rl = mmap(NULL, size, PROT_READ | PROT_WRITE,
              MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    assert_true(rl != MAP_FAILED);
    assert_int_equal(fpmd_ratelimit_init(rl, keys), FPMD_OK);
    return rl;
}

static void
unmake(struct fpmd_ratelimit *rl, unsigned keys)
{
    munmap(rl, fpmd_ratelimit_size(keys));
}

static int
take(struct fpmd_ratelimit *rl, const char *key, double rate, unsigned burst,
     uint64_t now, uint64_t *retry)
{
    return fpmd_ratelimit_take(rl, key, strlen(key), rate, burst, now,
                               retry);
}

static void
ratelimit_allows_the_burst_then_one_token_a_refill(void **state)
{
    struct fpmd_ratelimit *rl = make(64);
    uint64_t retry;

    (void) state;
    for (int i = 0; i < 5; i++) {
        assert_int_equal(take(rl, "k", 10, 5, T0, &retry), FPMD_OK);
        assert_int_equal(retry, 0);
    }
    assert_int_equal(take(rl, "k", 10, 5, T0, &retry), FPMD_AGAIN);
    assert_int_equal(retry, 100000);
    assert_int_equal(take(rl, "k", 10, 5, T0 + 99999, &retry), FPMD_AGAIN);
    assert_int_equal(retry, 1);
    assert_int_equal(take(rl, "k", 10, 5, T0 + 100000, &retry), FPMD_OK);
    assert_int_equal(take(rl, "k", 10, 5, T0 + 100000, &retry), FPMD_AGAIN);
    assert_int_equal(retry, 100000);
    /* 0.25 s: two tokens and half of a third */
    assert_int_equal(take(rl, "k", 10, 5, T0 + 350000, &retry), FPMD_OK);
    assert_int_equal(take(rl, "k", 10, 5, T0 + 350000, &retry), FPMD_OK);
    assert_int_equal(take(rl, "k", 10, 5, T0 + 350000, &retry), FPMD_AGAIN);
    assert_int_equal(retry, 50000);
    /* idle for long: back to the burst, not beyond */
    for (int i = 0; i < 5; i++)
        assert_int_equal(take(rl, "k", 10, 5, T0 + 3600 * SEC, &retry),
                         FPMD_OK);
    assert_int_equal(take(rl, "k", 10, 5, T0 + 3600 * SEC, &retry),
                     FPMD_AGAIN);
    unmake(rl, 64);
}

static void
ratelimit_handles_fractional_rates(void **state)
{
    struct fpmd_ratelimit *rl = make(64);
    uint64_t retry;
    int allowed = 0;

    (void) state;
    assert_int_equal(take(rl, "half", 0.5, 1, T0, &retry), FPMD_OK);
    assert_int_equal(take(rl, "half", 0.5, 1, T0, &retry), FPMD_AGAIN);
    assert_int_equal(retry, 2 * SEC);
    assert_int_equal(take(rl, "half", 0.5, 1, T0 + 2 * SEC - 1, &retry),
                     FPMD_AGAIN);
    assert_int_equal(retry, 1);
    assert_int_equal(take(rl, "half", 0.5, 1, T0 + 2 * SEC, &retry),
                     FPMD_OK);
    /* one a minute, tried every second for an hour: 60, plus the first */
    for (uint64_t t = 0; t <= 3600; t++)
        allowed += take(rl, "slow", 1.0 / 60, 1, T0 + t * SEC, &retry)
            == FPMD_OK;
    assert_int_equal(allowed, 61);
    unmake(rl, 64);
}

static void
ratelimit_does_not_drift_when_a_token_is_no_whole_microsecond(void **state)
{
    enum { TOKENS = 3000 };
    struct fpmd_ratelimit *rl = make(64);
    uint64_t now = T0, retry;
    int got = 0;

    (void) state;
    /* 3 a second, retried when each refusal says: the k-th token after
     * the burst is there at exactly ceil(k * 1e6 / 3) us, the fraction of
     * a microsecond each wait rounds up carried to the next token. (With
     * burst 1 it would not be: the bucket is full a fraction of a
     * microsecond before the retry, and a full bucket gains nothing.) */
    assert_int_equal(take(rl, "third", 3, 2, now, &retry), FPMD_OK);
    assert_int_equal(take(rl, "third", 3, 2, now, &retry), FPMD_OK);
    while (got < TOKENS) {
        assert_int_equal(take(rl, "third", 3, 2, now, &retry), FPMD_AGAIN);
        assert_true(retry > 0);
        now += retry;
        assert_int_equal(take(rl, "third", 3, 2, now - 1, &retry),
                         FPMD_AGAIN);
        assert_int_equal(retry, 1);
        assert_int_equal(take(rl, "third", 3, 2, now, &retry), FPMD_OK);
        got++;
        assert_int_equal(now - T0, (got * SEC + 2) / 3);
    }
    assert_int_equal(now - T0, 1000 * SEC);
    unmake(rl, 64);
}

static void
ratelimit_keeps_keys_apart(void **state)
{
    struct fpmd_ratelimit *rl = make(64);
    char a[100], b[100];
    uint64_t retry;

    (void) state;
    assert_int_equal(take(rl, "10.0.0.1", 1, 2, T0, &retry), FPMD_OK);
    assert_int_equal(take(rl, "10.0.0.1", 1, 2, T0, &retry), FPMD_OK);
    assert_int_equal(take(rl, "10.0.0.1", 1, 2, T0, &retry), FPMD_AGAIN);
    assert_int_equal(take(rl, "10.0.0.2", 1, 2, T0, &retry), FPMD_OK);
    assert_int_equal(take(rl, "10.0.0.10", 1, 2, T0, &retry), FPMD_OK);
    /* keys are bytes: a NUL and an empty key are keys */
    assert_int_equal(fpmd_ratelimit_take(rl, "a\0b", 3, 1, 1, T0, &retry),
                     FPMD_OK);
    assert_int_equal(fpmd_ratelimit_take(rl, "a\0c", 3, 1, 1, T0, &retry),
                     FPMD_OK);
    assert_int_equal(fpmd_ratelimit_take(rl, "a", 1, 1, 1, T0, &retry),
                     FPMD_OK);
    assert_int_equal(fpmd_ratelimit_take(rl, "", 0, 1, 1, T0, &retry),
                     FPMD_OK);
    assert_int_equal(fpmd_ratelimit_take(rl, NULL, 0, 1, 1, T0, &retry),
                     FPMD_AGAIN);

    /* long keys: apart when they differ past the bytes kept, or in
     * length only; the same when equal */
    memset(a, 'x', sizeof(a));
    memcpy(b, a, sizeof(b));
    b[90] = 'y';
    assert_int_equal(fpmd_ratelimit_take(rl, a, sizeof(a), 1, 1, T0, &retry),
                     FPMD_OK);
    assert_int_equal(fpmd_ratelimit_take(rl, b, sizeof(b), 1, 1, T0, &retry),
                     FPMD_OK);
    assert_int_equal(fpmd_ratelimit_take(rl, a, 99, 1, 1, T0, &retry),
                     FPMD_OK);
    assert_int_equal(fpmd_ratelimit_take(rl, a, FPMD_RATELIMIT_KEY_BYTES,
                                         1, 1, T0, &retry), FPMD_OK);
    assert_int_equal(fpmd_ratelimit_take(rl, a, FPMD_RATELIMIT_KEY_BYTES + 1,
                                         1, 1, T0, &retry), FPMD_OK);
    assert_int_equal(fpmd_ratelimit_take(rl, a, sizeof(a), 1, 1, T0, &retry),
                     FPMD_AGAIN);
    assert_int_equal(retry, SEC);
    assert_int_equal(fpmd_ratelimit_take(rl, b, sizeof(b), 1, 1, T0, &retry),
                     FPMD_AGAIN);
    assert_int_equal(fpmd_ratelimit_take(rl, a, FPMD_RATELIMIT_KEY_BYTES + 1,
                                         1, 1, T0, &retry), FPMD_AGAIN);
    unmake(rl, 64);
}

static void
ratelimit_evicts_the_least_recently_used_when_full(void **state)
{
    struct fpmd_ratelimit *rl = make(16);
    struct fpmd_ratelimit_stats st;
    char key[16];
    uint64_t retry;

    (void) state;
    /* 100 keys into 16 buckets, none refilling meanwhile */
    for (int i = 0; i < 100; i++) {
        snprintf(key, sizeof(key), "k%d", i);
        assert_int_equal(take(rl, key, 1, 1, T0 + (uint64_t) i, &retry),
                         FPMD_OK);
    }
    fpmd_ratelimit_stats(rl, &st);
    assert_int_equal(st.allowed, 100);
    assert_int_equal(st.keys_in_use, 16);
    assert_int_equal(st.evicted, 84);
    /* the latest is still there and limited, the first was evicted and
     * starts full */
    assert_int_equal(take(rl, "k99", 1, 1, T0 + 200, &retry), FPMD_AGAIN);
    assert_int_equal(retry, SEC - 101);
    assert_int_equal(take(rl, "k0", 1, 1, T0 + 200, &retry), FPMD_OK);
    fpmd_ratelimit_stats(rl, &st);
    assert_int_equal(st.evicted, 85);
    assert_int_equal(st.limited, 1);
    /* a refused take is a use too: k99, refused before each of 100 new
     * keys, stays; k98, of the same age but left alone, goes */
    for (int i = 0; i < 100; i++) {
        snprintf(key, sizeof(key), "n%d", i);
        assert_int_equal(take(rl, "k99", 1, 1, T0 + 1000 + 2 * (uint64_t) i,
                              &retry), FPMD_AGAIN);
        assert_int_equal(take(rl, key, 1, 1, T0 + 1001 + 2 * (uint64_t) i,
                              &retry), FPMD_OK);
    }
    assert_int_equal(take(rl, "k99", 1, 1, T0 + 1200, &retry), FPMD_AGAIN);
    assert_int_equal(take(rl, "k98", 1, 1, T0 + 1200, &retry), FPMD_OK);
    unmake(rl, 16);
}

static void
ratelimit_reuses_refilled_buckets_before_evicting(void **state)
{
    struct fpmd_ratelimit *rl = make(16);
    struct fpmd_ratelimit_stats st;
    char key[16];
    uint64_t retry;

    (void) state;
    /* a token each 10 ms, keys 10 ms apart: every bucket but the last is
     * full again, as good as none */
    for (int i = 0; i < 100; i++) {
        snprintf(key, sizeof(key), "k%d", i);
        assert_int_equal(take(rl, key, 100, 1, T0 + (uint64_t) i * 10000,
                              &retry), FPMD_OK);
    }
    fpmd_ratelimit_stats(rl, &st);
    assert_int_equal(st.allowed, 100);
    assert_int_equal(st.keys_in_use, 16);
    assert_int_equal(st.evicted, 0);
    assert_int_equal(take(rl, "k99", 100, 1, T0 + 990000, &retry),
                     FPMD_AGAIN);
    assert_int_equal(retry, 10000);
    unmake(rl, 16);
}

static void
ratelimit_stats_and_refusals(void **state)
{
    struct fpmd_ratelimit *rl = make(16);
    struct fpmd_ratelimit_stats st;
    uint64_t retry = 7;

    (void) state;
    fpmd_ratelimit_stats(rl, &st);
    assert_int_equal(st.allowed + st.limited + st.keys_in_use + st.evicted,
                     0);
    for (int i = 0; i < 10; i++)
        take(rl, "a", 1, 3, T0, &retry);
    take(rl, "b", 1, 3, T0, &retry);
    fpmd_ratelimit_stats(rl, &st);
    assert_int_equal(st.allowed, 4);
    assert_int_equal(st.limited, 7);
    assert_int_equal(st.keys_in_use, 2);
    assert_int_equal(st.evicted, 0);

    assert_int_equal(take(rl, "a", 0, 1, T0, &retry), FPMD_ERROR);
    assert_int_equal(take(rl, "a", -1, 1, T0, &retry), FPMD_ERROR);
    assert_int_equal(take(rl, "a", NAN, 1, T0, &retry), FPMD_ERROR);
    assert_int_equal(take(rl, "a", INFINITY, 1, T0, &retry), FPMD_ERROR);
    assert_int_equal(take(rl, "a", 1e307, 1, T0, &retry), FPMD_ERROR);
    assert_int_equal(take(rl, "a", 1, 0, T0, &retry), FPMD_ERROR);
    fpmd_ratelimit_stats(rl, &st);
    assert_int_equal(st.allowed + st.limited, 11);
    /* the largest burst, the smallest rate: years to wait */
    assert_int_equal(take(rl, "c", 1e-300, 1, T0, &retry), FPMD_OK);
    assert_int_equal(take(rl, "c", 1e-300, 1, T0, &retry), FPMD_AGAIN);
    assert_int_equal(retry, UINT64_MAX);
    assert_int_equal(take(rl, "d", 1e12, UINT32_MAX, T0, &retry), FPMD_OK);

    assert_int_equal(fpmd_ratelimit_size(FPMD_RATELIMIT_MIN_KEYS - 1), 0);
    assert_int_equal(fpmd_ratelimit_size(FPMD_RATELIMIT_MAX_KEYS + 1), 0);
    assert_true(fpmd_ratelimit_size(17) > fpmd_ratelimit_size(16));
    assert_int_equal(fpmd_ratelimit_init(rl, 15), FPMD_ERROR);
    unmake(rl, 16);
}

enum { CHILDREN = 2, TAKES = 5000 };

static void
ratelimit_is_exact_under_two_processes(void **state)
{
    struct fpmd_ratelimit *rl = make(1024);
    struct fpmd_ratelimit_stats st;
    uint64_t *allowed;
    int go[2], status;
    pid_t pids[CHILDREN];
    char c;

    (void) state;
    allowed = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
                   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    assert_true(allowed != MAP_FAILED);
    assert_int_equal(pipe(go), 0);
    for (int i = 0; i < CHILDREN; i++) {
        pids[i] = fork();
        assert_true(pids[i] >= 0);
        if (pids[i] == 0) {
            uint64_t retry;

            close(go[1]);
            if (read(go[0], &c, 1) != 0)
                _exit(2);
            for (int n = 0; n < TAKES; n++) {
                if (take(rl, "shared", 1e-9, 3000, T0 + (uint64_t) n,
                         &retry) == FPMD_OK)
                    allowed[i]++;
            }
            _exit(0);
        }
    }
    close(go[0]);
    close(go[1]);
    for (int i = 0; i < CHILDREN; i++) {
        assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    print_message("# %" PRIu64 " and %" PRIu64 " allowed\n", allowed[0],
                  allowed[1]);
    assert_int_equal(allowed[0] + allowed[1], 3000);
    fpmd_ratelimit_stats(rl, &st);
    assert_int_equal(st.allowed, 3000);
    assert_int_equal(st.limited, CHILDREN * TAKES - 3000);
    munmap(allowed, 4096);
    unmake(rl, 1024);
}

static void
ratelimit_survives_a_process_killed_holding_a_lock(void **state)
{
    struct fpmd_ratelimit *rl = make(64);
    uint64_t retry;
    int status;
    pid_t pid;

    (void) state;
    assert_int_equal(take(rl, "hot", 1, 2, T0, &retry), FPMD_OK);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        if (fpmd_ratelimit_lock_key(rl, "hot", 3) == FPMD_OK)
            raise(SIGKILL);
        _exit(1);
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    /* a deadlock fails the test instead of hanging it */
    alarm(10);
    assert_int_equal(take(rl, "hot", 1, 2, T0, &retry), FPMD_OK);
    assert_int_equal(take(rl, "hot", 1, 2, T0, &retry), FPMD_AGAIN);
    assert_int_equal(retry, SEC);
    alarm(0);
    unmake(rl, 64);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(ratelimit_allows_the_burst_then_one_token_a_refill),
        cmocka_unit_test(ratelimit_handles_fractional_rates),
        cmocka_unit_test(
            ratelimit_does_not_drift_when_a_token_is_no_whole_microsecond),
        cmocka_unit_test(ratelimit_keeps_keys_apart),
        cmocka_unit_test(ratelimit_evicts_the_least_recently_used_when_full),
        cmocka_unit_test(ratelimit_reuses_refilled_buckets_before_evicting),
        cmocka_unit_test(ratelimit_stats_and_refusals),
        cmocka_unit_test(ratelimit_is_exact_under_two_processes),
        cmocka_unit_test(ratelimit_survives_a_process_killed_holding_a_lock),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
