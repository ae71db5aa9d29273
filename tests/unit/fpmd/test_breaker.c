/* SPDX-License-Identifier: BSD-2-Clause */
/* Circuit breakers, driven by explicit times: each rule opens it at the
 * exact call, an open one refuses with the exact time left, half-open
 * lets exactly its probes through, a lost probe expires, every change is
 * reported once; and under two processes the counts add up and a
 * process killed holding the lock leaves it usable. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "fpmd/breaker.h"
#include "fpmd/breaker_impl.h"

enum { CHILDREN = 2 };

/* What the processes of a test share: the breaker, a clock they all
 * advance, and what each child saw. */
struct shared {
    struct fpmd_breaker *b;
    uint64_t *clock;
    struct seen {
        uint64_t allowed, rejected, failed, opened, closed;
    } *seen;
    size_t size;
};

static struct shared
map(void)
{
    struct shared s;
    char *p;

    s.size = fpmd_breaker_size() + 64 + CHILDREN * sizeof(struct seen);
    p = mmap(NULL, s.size, PROT_READ | PROT_WRITE,
             MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    assert_true(p != MAP_FAILED);
    s.b = (struct fpmd_breaker *) (void *) p;
    s.clock = (uint64_t *) (void *) (p + fpmd_breaker_size());
    s.seen = (struct seen *) (void *) (p + fpmd_breaker_size() + 64);
    assert_int_equal(fpmd_breaker_init(s.b), FPMD_OK);
    return s;
}

static void
unmap(struct shared *s)
{
    munmap(s->b, s->size);
}

static void
sleep_ms(long ms)
{
    struct timespec ts = { 0, ms * 1000000 };

    nanosleep(&ts, NULL);
}

/* allow at now: its return, and *probe and *retry as it set them. */
static int
allow(struct fpmd_breaker *b, const struct fpmd_breaker_conf *c,
      uint64_t now, bool *probe, uint64_t *retry)
{
    return fpmd_breaker_allow(b, c, now, probe, retry);
}

/* A call allowed at now, closed, then reported; its state after. */
static enum fpmd_breaker_state
call(struct fpmd_breaker *b, const struct fpmd_breaker_conf *c, uint64_t now,
     bool ok, bool *changed)
{
    uint64_t retry;
    bool probe;

    assert_int_equal(allow(b, c, now, &probe, &retry), FPMD_OK);
    assert_false(probe);
    assert_int_equal(retry, 0);
    return fpmd_breaker_report(b, c, now, ok, false, changed);
}

static enum fpmd_breaker_state
state_of(struct fpmd_breaker *b, uint64_t now)
{
    struct fpmd_breaker_stats st;

    fpmd_breaker_stats(b, now, &st);
    return st.state;
}

static void
breaker_opens_after_n_consecutive_failures(void **state)
{
    struct fpmd_breaker_conf c = { .failures = 3, .open_us = 1000 };
    struct shared s = map();
    bool changed;

    (void) state;
    assert_int_equal(call(s.b, &c, 10, false, &changed),
                     FPMD_BREAKER_CLOSED);
    assert_int_equal(call(s.b, &c, 11, false, &changed),
                     FPMD_BREAKER_CLOSED);
    /* a success in between starts the count again */
    assert_int_equal(call(s.b, &c, 12, true, &changed), FPMD_BREAKER_CLOSED);
    assert_int_equal(call(s.b, &c, 13, false, &changed),
                     FPMD_BREAKER_CLOSED);
    assert_int_equal(call(s.b, &c, 14, false, &changed),
                     FPMD_BREAKER_CLOSED);
    assert_false(changed);
    assert_int_equal(call(s.b, &c, 15, false, &changed), FPMD_BREAKER_OPEN);
    assert_true(changed);
    assert_int_equal(state_of(s.b, 15), FPMD_BREAKER_OPEN);
    unmap(&s);
}

static void
breaker_opens_on_error_rate_once_min_calls_are_in_the_window(void **state)
{
    struct fpmd_breaker_conf c = {
        .error_rate = 50, .min_calls = 10, .window_us = 10000,
        .open_us = 1000,
    };
    struct shared s = map();
    bool changed;

    (void) state;
    /* 9 calls, 6 failed: too few to judge */
    for (int i = 0; i < 9; i++)
        assert_int_equal(call(s.b, &c, 100 + (uint64_t) i, i < 3, &changed),
                         FPMD_BREAKER_CLOSED);
    /* the 10th: 7 of 10 */
    assert_int_equal(call(s.b, &c, 200, false, &changed), FPMD_BREAKER_OPEN);
    assert_true(changed);
    unmap(&s);

    /* under the rate, it stays closed; at it exactly, it opens */
    s = map();
    for (int i = 0; i < 10; i++)
        assert_int_equal(call(s.b, &c, 100, i >= 4, &changed),
                         FPMD_BREAKER_CLOSED);
    assert_int_equal(call(s.b, &c, 100, false, &changed),
                     FPMD_BREAKER_CLOSED);
    /* 5 of 11, then 6 of 12 */
    assert_int_equal(call(s.b, &c, 100, false, &changed), FPMD_BREAKER_OPEN);
    unmap(&s);
}

static void
breaker_forgets_failures_that_slid_out_of_the_window(void **state)
{
    struct fpmd_breaker_conf c = {
        .error_rate = 50, .min_calls = 4, .window_us = 10000,
        .open_us = 1000,
    };
    struct fpmd_breaker_stats st;
    struct shared s = map();
    bool changed;

    (void) state;
    for (int i = 0; i < 3; i++)
        assert_int_equal(call(s.b, &c, 500, false, &changed),
                         FPMD_BREAKER_CLOSED);
    /* the window is the bucket of 1000 us that t is in and the 9 before
     * it: at 10000 the one of 500 has gone */
    fpmd_breaker_stats(s.b, 9999, &st);
    assert_int_equal(st.window_calls, 3);
    fpmd_breaker_stats(s.b, 10000, &st);
    assert_int_equal(st.window_calls, 0);
    assert_int_equal(call(s.b, &c, 10500, false, &changed),
                     FPMD_BREAKER_CLOSED);
    fpmd_breaker_stats(s.b, 10500, &st);
    assert_int_equal(st.window_calls, 1);
    assert_int_equal(st.window_failures, 1);
    unmap(&s);

    /* the same fourth failure a moment earlier opens it */
    s = map();
    for (int i = 0; i < 3; i++)
        call(s.b, &c, 500, false, &changed);
    assert_int_equal(call(s.b, &c, 9999, false, &changed),
                     FPMD_BREAKER_OPEN);
    unmap(&s);
}

static void
breaker_refuses_while_open_with_the_time_left(void **state)
{
    struct fpmd_breaker_conf c = { .failures = 1, .open_us = 5000 };
    struct fpmd_breaker_stats st;
    struct shared s = map();
    uint64_t retry;
    bool probe, changed;

    (void) state;
    assert_int_equal(call(s.b, &c, 1000, false, &changed),
                     FPMD_BREAKER_OPEN);
    assert_int_equal(allow(s.b, &c, 1000, &probe, &retry), FPMD_AGAIN);
    assert_false(probe);
    assert_int_equal(retry, 5000);
    assert_int_equal(allow(s.b, &c, 3500, &probe, &retry), FPMD_AGAIN);
    assert_int_equal(retry, 2500);
    assert_int_equal(allow(s.b, &c, 5999, &probe, &retry), FPMD_AGAIN);
    assert_int_equal(retry, 1);
    /* a call let through before it opened ends now: nothing changes */
    assert_int_equal(fpmd_breaker_report(s.b, &c, 5999, true, false,
                                         &changed), FPMD_BREAKER_OPEN);
    assert_false(changed);
    fpmd_breaker_stats(s.b, 5999, &st);
    assert_int_equal(st.state, FPMD_BREAKER_OPEN);
    assert_int_equal(st.rejected, 3);
    assert_int_equal(st.opened, 1);
    /* on time, the first call is a probe */
    assert_int_equal(allow(s.b, &c, 6000, &probe, &retry), FPMD_OK);
    assert_true(probe);
    assert_int_equal(retry, 0);
    assert_int_equal(state_of(s.b, 6000), FPMD_BREAKER_HALF_OPEN);
    unmap(&s);
}

/* Opens s's breaker at now with one failure (c->failures is 1). */
static void
open_at(struct fpmd_breaker *b, const struct fpmd_breaker_conf *c,
        uint64_t now)
{
    bool changed;

    assert_int_equal(call(b, c, now, false, &changed), FPMD_BREAKER_OPEN);
    assert_true(changed);
}

static void
breaker_half_open_lets_exactly_its_probes_through_and_closes(void **state)
{
    struct fpmd_breaker_conf c = {
        .failures = 1, .open_us = 5000, .probes = 3, .window_us = 100000,
    };
    struct fpmd_breaker_stats st;
    struct shared s = map();
    uint64_t retry;
    bool probe, changed;

    (void) state;
    open_at(s.b, &c, 0);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(allow(s.b, &c, 5000 + (uint64_t) i * 10, &probe,
                               &retry), FPMD_OK);
        assert_true(probe);
    }
    /* every probe out: refused until they would expire, 5000 after the
     * last one went */
    assert_int_equal(allow(s.b, &c, 5100, &probe, &retry), FPMD_AGAIN);
    assert_false(probe);
    assert_int_equal(retry, 5020 + 5000 - 5100);
    /* a call from before it opened changes nothing */
    assert_int_equal(fpmd_breaker_report(s.b, &c, 5200, false, false,
                                         &changed), FPMD_BREAKER_HALF_OPEN);
    assert_false(changed);
    assert_int_equal(fpmd_breaker_report(s.b, &c, 5300, true, true,
                                         &changed), FPMD_BREAKER_HALF_OPEN);
    assert_false(changed);
    assert_int_equal(fpmd_breaker_report(s.b, &c, 5400, true, true,
                                         &changed), FPMD_BREAKER_HALF_OPEN);
    assert_false(changed);
    assert_int_equal(allow(s.b, &c, 5450, &probe, &retry), FPMD_AGAIN);
    assert_int_equal(fpmd_breaker_report(s.b, &c, 5500, true, true,
                                         &changed), FPMD_BREAKER_CLOSED);
    assert_true(changed);
    /* closed with an empty window: one failure opens it again, as
     * c->failures says, but not the failures from before */
    fpmd_breaker_stats(s.b, 5500, &st);
    assert_int_equal(st.window_calls, 0);
    assert_int_equal(st.rejected, 2);
    assert_int_equal(call(s.b, &c, 5600, true, &changed),
                     FPMD_BREAKER_CLOSED);
    assert_false(changed);
    unmap(&s);
}

static void
breaker_half_open_reopens_on_one_failed_probe(void **state)
{
    struct fpmd_breaker_conf c = { .failures = 1, .open_us = 5000,
                                   .probes = 3 };
    struct fpmd_breaker_stats st;
    struct shared s = map();
    uint64_t retry;
    bool probe, changed;

    (void) state;
    open_at(s.b, &c, 0);
    assert_int_equal(allow(s.b, &c, 5000, &probe, &retry), FPMD_OK);
    assert_int_equal(allow(s.b, &c, 5001, &probe, &retry), FPMD_OK);
    assert_int_equal(fpmd_breaker_report(s.b, &c, 5002, true, true,
                                         &changed), FPMD_BREAKER_HALF_OPEN);
    assert_int_equal(fpmd_breaker_report(s.b, &c, 5003, false, true,
                                         &changed), FPMD_BREAKER_OPEN);
    assert_true(changed);
    /* the other probe's success comes too late */
    assert_int_equal(fpmd_breaker_report(s.b, &c, 5004, true, true,
                                         &changed), FPMD_BREAKER_OPEN);
    assert_false(changed);
    assert_int_equal(allow(s.b, &c, 5004, &probe, &retry), FPMD_AGAIN);
    assert_int_equal(retry, 4999);
    fpmd_breaker_stats(s.b, 5004, &st);
    assert_int_equal(st.opened, 2);
    /* a new half-open period, a new set of probes */
    for (int i = 0; i < 3; i++) {
        assert_int_equal(allow(s.b, &c, 10003, &probe, &retry), FPMD_OK);
        assert_true(probe);
    }
    assert_int_equal(allow(s.b, &c, 10003, &probe, &retry), FPMD_AGAIN);
    unmap(&s);
}

static void
breaker_counts_a_lost_probe_as_failed(void **state)
{
    struct fpmd_breaker_conf c = { .failures = 1, .open_us = 5000,
                                   .probes = 1 };
    struct fpmd_breaker_stats st;
    struct shared s = map();
    uint64_t retry;
    bool probe, changed;

    (void) state;
    open_at(s.b, &c, 0);
    /* the probe's process dies: it never reports */
    assert_int_equal(allow(s.b, &c, 5000, &probe, &retry), FPMD_OK);
    assert_true(probe);
    assert_int_equal(allow(s.b, &c, 9999, &probe, &retry), FPMD_AGAIN);
    assert_int_equal(retry, 1);
    /* open_us after it went: failed, open again for open_us */
    assert_int_equal(allow(s.b, &c, 10000, &probe, &retry), FPMD_AGAIN);
    assert_int_equal(retry, 5000);
    fpmd_breaker_stats(s.b, 10000, &st);
    assert_int_equal(st.state, FPMD_BREAKER_OPEN);
    assert_int_equal(st.opened, 2);
    /* if it reports after all, nothing changes */
    assert_int_equal(fpmd_breaker_report(s.b, &c, 10001, true, true,
                                         &changed), FPMD_BREAKER_OPEN);
    assert_false(changed);
    assert_int_equal(allow(s.b, &c, 15000, &probe, &retry), FPMD_OK);
    assert_true(probe);
    assert_int_equal(fpmd_breaker_report(s.b, &c, 15001, true, true,
                                         &changed), FPMD_BREAKER_CLOSED);
    assert_true(changed);
    unmap(&s);

    /* with probes left to send, an old one unreported still fails it */
    c.probes = 2;
    s = map();
    open_at(s.b, &c, 0);
    assert_int_equal(allow(s.b, &c, 5000, &probe, &retry), FPMD_OK);
    assert_int_equal(allow(s.b, &c, 10000, &probe, &retry), FPMD_AGAIN);
    assert_int_equal(retry, 5000);
    /* and a report of it while none is out is ignored */
    assert_int_equal(allow(s.b, &c, 15000, &probe, &retry), FPMD_OK);
    assert_int_equal(fpmd_breaker_report(s.b, &c, 15001, true, true,
                                         &changed), FPMD_BREAKER_HALF_OPEN);
    assert_int_equal(fpmd_breaker_report(s.b, &c, 15002, true, true,
                                         &changed), FPMD_BREAKER_HALF_OPEN);
    assert_false(changed);
    unmap(&s);
}

static void
breaker_reports_each_change_exactly_once(void **state)
{
    struct fpmd_breaker_conf c = {
        .failures = 2, .open_us = 100, .probes = 2, .error_rate = 0,
    };
    struct shared s = map();
    int changes = 0, reports = 0, transitions = 0;
    uint64_t now = 1, retry, x = 1;
    bool probe, changed;

    (void) state;
    /* a fixed pseudo-random mix, 3 successes in 4, over many cycles:
     * each report says changed exactly when the state before it (as
     * stats read it) and after it differ */
    for (int i = 0; i < 3000; i++, now += 7) {
        enum fpmd_breaker_state before, after;
        bool ok;

        x = x * 6364136223846793005ULL + 1442695040888963407ULL;
        ok = (x >> 33) % 4 != 0;

        if (allow(s.b, &c, now, &probe, &retry) != FPMD_OK)
            continue;
        before = state_of(s.b, now);
        after = fpmd_breaker_report(s.b, &c, now, ok, probe, &changed);
        assert_int_equal(changed, before != after);
        assert_int_equal(after, state_of(s.b, now));
        reports++;
        changes += changed;
        transitions += before != after;
    }
    print_message("# %d reports, %d changes\n", reports, changes);
    assert_true(changes > 10);
    assert_int_equal(changes, transitions);
    unmap(&s);
}

static void
breaker_stats_count_and_states_have_names(void **state)
{
    struct fpmd_breaker_conf c = {
        .failures = 5, .open_us = 1000, .window_us = 1000000,
    };
    struct fpmd_breaker_stats st;
    struct shared s = map();
    uint64_t retry;
    bool probe, changed;

    (void) state;
    fpmd_breaker_stats(s.b, 0, &st);
    assert_int_equal(st.state, FPMD_BREAKER_CLOSED);
    assert_int_equal(st.opened + st.rejected + st.window_calls
                     + st.window_failures, 0);
    for (int i = 0; i < 7; i++)
        call(s.b, &c, 10, i % 2 == 0, &changed);
    for (int i = 0; i < 5; i++)
        call(s.b, &c, 20, false, &changed);
    for (int i = 0; i < 4; i++)
        allow(s.b, &c, 30, &probe, &retry);
    fpmd_breaker_stats(s.b, 30, &st);
    assert_int_equal(st.state, FPMD_BREAKER_OPEN);
    assert_int_equal(st.opened, 1);
    assert_int_equal(st.rejected, 4);
    assert_int_equal(st.window_calls, 12);
    assert_int_equal(st.window_failures, 8);
    assert_true(fpmd_breaker_size() % 64 == 0);
    assert_string_equal(fpmd_breaker_state_name(FPMD_BREAKER_CLOSED),
                        "closed");
    assert_string_equal(fpmd_breaker_state_name(FPMD_BREAKER_OPEN), "open");
    assert_string_equal(fpmd_breaker_state_name(FPMD_BREAKER_HALF_OPEN),
                        "half_open");
    assert_null(fpmd_breaker_state_name((enum fpmd_breaker_state) 3));
    unmap(&s);
}

/* Runs fn(s, c, i) in CHILDREN processes at once; true when each exited
 * 0. */
static bool
run_children(struct shared *s, const struct fpmd_breaker_conf *c,
             int (*fn)(struct shared *, const struct fpmd_breaker_conf *,
                       int))
{
    pid_t pids[CHILDREN];
    bool ok = true;
    int go[2], status;
    char ch;

    assert_int_equal(pipe(go), 0);
    for (int i = 0; i < CHILDREN; i++) {
        pids[i] = fork();
        assert_true(pids[i] >= 0);
        if (pids[i] == 0) {
            close(go[1]);
            if (read(go[0], &ch, 1) != 0)
                _exit(2);
            _exit(fn(s, c, i));
        }
    }
    close(go[0]);
    close(go[1]);
    for (int i = 0; i < CHILDREN; i++) {
        assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
        ok = ok && WIFEXITED(status) && WEXITSTATUS(status) == 0;
    }
    return ok;
}

enum { CALLS = 20000 };

/* allow and report CALLS times, every third call failing, the clock one
 * tick further at each; what it saw in s->seen[child]. */
static int
hammer(struct shared *s, const struct fpmd_breaker_conf *c, int child)
{
    struct seen *seen = &s->seen[child];

    for (int i = 0; i < CALLS; i++) {
        uint64_t now = __atomic_add_fetch(s->clock, 1, __ATOMIC_RELAXED);
        enum fpmd_breaker_state after;
        uint64_t retry;
        bool probe, changed, ok = i % 3 != 0;

        if (fpmd_breaker_allow(s->b, c, now, &probe, &retry) != FPMD_OK) {
            seen->rejected++;
            continue;
        }
        seen->allowed++;
        seen->failed += !ok;
        after = fpmd_breaker_report(s->b, c, now, ok, probe, &changed);
        if (changed && after == FPMD_BREAKER_OPEN)
            seen->opened++;
        if (changed && after == FPMD_BREAKER_CLOSED)
            seen->closed++;
    }
    return 0;
}

static void
breaker_counts_add_up_under_two_processes(void **state)
{
    /* never opens: every call counts in one window */
    struct fpmd_breaker_conf never = { .window_us = UINT64_MAX };
    /* opens at the first failure, for good */
    struct fpmd_breaker_conf once = { .failures = 1, .open_us = UINT64_MAX };
    struct fpmd_breaker_stats st;
    struct shared s = map();
    struct seen sum = { 0 };

    (void) state;
    assert_true(run_children(&s, &never, hammer));
    fpmd_breaker_stats(s.b, *s.clock, &st);
    assert_int_equal(st.state, FPMD_BREAKER_CLOSED);
    assert_int_equal(st.window_calls, CHILDREN * CALLS);
    assert_int_equal(st.window_failures, CHILDREN * ((CALLS + 2) / 3));
    assert_int_equal(st.rejected, 0);
    unmap(&s);

    s = map();
    assert_true(run_children(&s, &once, hammer));
    for (int i = 0; i < CHILDREN; i++) {
        sum.allowed += s.seen[i].allowed;
        sum.rejected += s.seen[i].rejected;
        sum.opened += s.seen[i].opened;
        sum.closed += s.seen[i].closed;
    }
    fpmd_breaker_stats(s.b, *s.clock, &st);
    print_message("# %" PRIu64 " allowed before it opened\n", sum.allowed);
    assert_int_equal(sum.allowed + sum.rejected, CHILDREN * CALLS);
    assert_int_equal(st.rejected, sum.rejected);
    /* only the report that opened it says so */
    assert_int_equal(sum.opened, 1);
    assert_int_equal(sum.closed, 0);
    assert_int_equal(st.opened, 1);
    assert_int_equal(st.state, FPMD_BREAKER_OPEN);
    unmap(&s);
}

/* From a time past anything the hammer left, calls until it is closed;
 * false when it is not after 10 rounds. */
static bool
drive_to_closed(struct shared *s, const struct fpmd_breaker_conf *c)
{
    uint64_t now = *s->clock + 1000000, retry;
    bool probe, changed;

    for (int i = 0; i < 10; i++) {
        if (fpmd_breaker_allow(s->b, c, now, &probe, &retry) != FPMD_OK) {
            now += retry;
            continue;
        }
        if (fpmd_breaker_report(s->b, c, now, true, probe, &changed)
            == FPMD_BREAKER_CLOSED)
            return true;
        now++;
    }
    return false;
}

static void
breaker_survives_a_process_killed_holding_its_lock(void **state)
{
    struct fpmd_breaker_conf c = { .failures = 1, .open_us = 100,
                                   .probes = 1 };
    struct fpmd_breaker_stats st;
    struct shared s = map();
    uint64_t retry;
    bool probe, changed;
    int status;
    pid_t pid;

    (void) state;
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        if (fpmd_breaker_lock(s.b) == FPMD_OK)
            raise(SIGKILL);
        _exit(1);
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    /* a deadlock fails the test instead of hanging it */
    alarm(10);
    assert_int_equal(allow(s.b, &c, 1, &probe, &retry), FPMD_OK);
    assert_int_equal(fpmd_breaker_report(s.b, &c, 1, false, probe,
                                         &changed), FPMD_BREAKER_OPEN);
    assert_int_equal(allow(s.b, &c, 2, &probe, &retry), FPMD_AGAIN);
    assert_true(drive_to_closed(&s, &c));
    fpmd_breaker_stats(s.b, 0, &st);
    assert_int_equal(st.opened, 1);
    alarm(0);
    unmap(&s);
}

static void
breaker_stays_usable_after_processes_killed_mid_call(void **state)
{
    /* opens often, probes often: a kill lands in every state */
    struct fpmd_breaker_conf c = {
        .failures = 2, .error_rate = 30, .min_calls = 5, .window_us = 50,
        .open_us = 20, .probes = 2,
    };
    struct fpmd_breaker_stats st;
    struct shared s = map();
    int status;
    pid_t pid;

    (void) state;
    alarm(30);
    for (int round = 0; round < 20; round++) {
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            for (;;)
                hammer(&s, &c, 0);
        }
        sleep_ms(1 + round % 3);
        kill(pid, SIGKILL);
        assert_int_equal(waitpid(pid, &status, 0), pid);
    }
    fpmd_breaker_stats(s.b, *s.clock, &st);
    print_message("# %" PRIu64 " ticks, opened %" PRIu64 " times, left %s\n",
                  *s.clock, st.opened, fpmd_breaker_state_name(st.state));
    assert_non_null(fpmd_breaker_state_name(st.state));
    assert_true(drive_to_closed(&s, &c));
    alarm(0);
    unmap(&s);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(breaker_opens_after_n_consecutive_failures),
        cmocka_unit_test(
            breaker_opens_on_error_rate_once_min_calls_are_in_the_window),
        cmocka_unit_test(breaker_forgets_failures_that_slid_out_of_the_window),
        cmocka_unit_test(breaker_refuses_while_open_with_the_time_left),
        cmocka_unit_test(
            breaker_half_open_lets_exactly_its_probes_through_and_closes),
        cmocka_unit_test(breaker_half_open_reopens_on_one_failed_probe),
        cmocka_unit_test(breaker_counts_a_lost_probe_as_failed),
        cmocka_unit_test(breaker_reports_each_change_exactly_once),
        cmocka_unit_test(breaker_stats_count_and_states_have_names),
        cmocka_unit_test(breaker_counts_add_up_under_two_processes),
        cmocka_unit_test(breaker_survives_a_process_killed_holding_its_lock),
        cmocka_unit_test(
            breaker_stays_usable_after_processes_killed_mid_call),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
