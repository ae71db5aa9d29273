/* SPDX-License-Identifier: BSD-2-Clause */
/* The scoreboard reader never trusts a slot: garbage a worker (or an
 * attacker inside one) wrote comes out terminated and in range
 * (php-fpm's CVE-2021-21703 lesson). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "fpmd/common.h"
#include "fpmd/scoreboard.h"

static void
scoreboard_read_sanitizes_a_garbage_slot(void **state)
{
    struct fpmd_scoreboard *sb = fpmd_scoreboard_new(4);
    struct fpmd_sb_slot out;

    (void) state;
    assert_non_null(sb);
    memset(&sb->slots[1], 0x41, sizeof(sb->slots[1]));
    sb->slots[1].seq = 2;
    sb->slots[1].pid = 1234;
    assert_int_equal(fpmd_scoreboard_read(sb, 1, &out), FPMD_OK);
    assert_int_equal(strlen(out.req.uri), sizeof(out.req.uri) - 1);
    assert_int_equal(strlen(out.req.method), sizeof(out.req.method) - 1);
    assert_int_equal(strlen(out.req.user), sizeof(out.req.user) - 1);
    /* the master prints the running record in its blocked-loop warning */
    assert_int_equal(strlen(out.running.method),
                     sizeof(out.running.method) - 1);
    assert_int_equal(strlen(out.running.uri), sizeof(out.running.uri) - 1);
    assert_int_equal(strlen(out.running.script),
                     sizeof(out.running.script) - 1);
    assert_true(out.state <= FPMD_SB_FINISHING);
    fpmd_scoreboard_free(sb);
}

static void
scoreboard_sees_room_in_siblings_starting_workers_and_free_slots(
    void **state)
{
    struct fpmd_scoreboard *sb = fpmd_scoreboard_new(3);

    (void) state;
    assert_non_null(sb);
    for (uint32_t i = 0; i < 3; i++) {
        sb->slots[i].state = FPMD_SB_BUSY;
        sb->slots[i].in_flight = 8;
    }
    /* every worker at 8 of 8: saturated, whoever asks */
    assert_false(fpmd_scoreboard_room_elsewhere(sb, 0, 8));
    /* a sibling with a slot free; never the asking worker itself */
    sb->slots[2].in_flight = 7;
    assert_true(fpmd_scoreboard_room_elsewhere(sb, 0, 8));
    assert_false(fpmd_scoreboard_room_elsewhere(sb, 2, 8));
    /* requests waiting count against the room */
    sb->slots[2].queued = 1;
    assert_false(fpmd_scoreboard_room_elsewhere(sb, 0, 8));
    /* a finishing worker takes nothing; a starting one soon will, and a
     * free slot is a worker the process manager may fork */
    sb->slots[1].state = FPMD_SB_FINISHING;
    sb->slots[1].in_flight = 0;
    assert_false(fpmd_scoreboard_room_elsewhere(sb, 0, 8));
    sb->slots[1].state = FPMD_SB_STARTING;
    assert_true(fpmd_scoreboard_room_elsewhere(sb, 0, 8));
    sb->slots[1].state = FPMD_SB_FREE;
    assert_true(fpmd_scoreboard_room_elsewhere(sb, 0, 8));
    fpmd_scoreboard_free(sb);
}

static void
assert_fewest(const struct fpmd_scoreboard *sb, uint32_t self, uint64_t now,
              uint32_t conns, uint32_t hot)
{
    uint32_t c, h;

    fpmd_scoreboard_fewest_elsewhere(sb, self, now, &c, &h);
    assert_int_equal(c, conns);
    assert_int_equal(h, hot);
}

static void
scoreboard_finds_the_fewest_connections_a_taking_sibling_holds(void **state)
{
    struct fpmd_scoreboard *sb = fpmd_scoreboard_new(4);
    const uint64_t now = 100000000;

    (void) state;
    assert_non_null(sb);
    for (uint32_t i = 0; i < 4; i++) {
        sb->slots[i].state = FPMD_SB_BUSY;
        sb->slots[i].taking = 1;
        sb->slots[i].heartbeat_us = now - 500000;
        sb->slots[i].connections = 100 + i;
        sb->slots[i].hot_conns = 50 - i;
    }
    /* never the asking worker's own; each least from its own slot */
    assert_fewest(sb, 0, now, 101, 47);
    assert_fewest(sb, 3, now, 100, 48);
    /* a sibling not taking connections (at capacity, paused, finishing,
     * starting) gets none passed to it, however few it holds */
    sb->slots[1].connections = 3;
    sb->slots[1].hot_conns = 1;
    sb->slots[1].taking = 0;
    assert_fewest(sb, 0, now, 102, 47);
    sb->slots[1].taking = 1;
    sb->slots[1].state = FPMD_SB_FINISHING;
    assert_fewest(sb, 0, now, 102, 47);
    sb->slots[1].state = FPMD_SB_STARTING;
    assert_fewest(sb, 0, now, 102, 47);
    sb->slots[1].state = FPMD_SB_IDLE;
    assert_fewest(sb, 0, now, 3, 1);
    /* nor one whose loop has not ticked for over two seconds: blocked */
    sb->slots[1].heartbeat_us = now - 2500000;
    assert_fewest(sb, 0, now, 102, 47);
    /* none taking at all */
    for (uint32_t i = 1; i < 4; i++)
        sb->slots[i].state = FPMD_SB_FREE;
    assert_fewest(sb, 0, now, UINT32_MAX, UINT32_MAX);
    fpmd_scoreboard_free(sb);
}

static void
scoreboard_read_flights_sanitizes_garbage(void **state)
{
    struct fpmd_scoreboard *sb = fpmd_scoreboard_new(2);
    struct fpmd_sb_flights out;

    (void) state;
    assert_non_null(sb);
    memset(&sb->flights[1], 0x41, sizeof(sb->flights[1]));
    assert_int_equal(fpmd_scoreboard_read_flights(sb, 1, &out), FPMD_OK);
    for (size_t i = 0; i < FPMD_SB_FLIGHTS; i++) {
        assert_int_equal(strlen(out.f[i].uri), sizeof(out.f[i].uri) - 1);
        assert_int_equal(strlen(out.f[i].method),
                         sizeof(out.f[i].method) - 1);
        assert_int_equal(strlen(out.f[i].route), sizeof(out.f[i].route) - 1);
    }
    /* a slot's list lies beside it, not over its neighbour's */
    assert_int_equal(fpmd_scoreboard_read_flights(sb, 0, &out), FPMD_OK);
    assert_int_equal(out.f[0].start_us, 0);
    assert_string_equal(out.f[FPMD_SB_FLIGHTS - 1].route, "");
    assert_int_equal(fpmd_scoreboard_read_flights(sb, 2, &out), FPMD_ERROR);
    fpmd_scoreboard_free(sb);
}

static void
scoreboard_read_refuses_free_and_out_of_range_slots(void **state)
{
    struct fpmd_scoreboard *sb = fpmd_scoreboard_new(2);
    struct fpmd_sb_slot out;

    (void) state;
    assert_int_equal(fpmd_scoreboard_read(sb, 0, &out), FPMD_ERROR);
    assert_int_equal(fpmd_scoreboard_read(sb, 2, &out), FPMD_ERROR);
    assert_int_equal(fpmd_scoreboard_read(sb, UINT32_MAX, &out), FPMD_ERROR);
    sb->slots[0].pid = -5;
    sb->slots[0].state = FPMD_SB_IDLE;
    assert_int_equal(fpmd_scoreboard_read(sb, 0, &out), FPMD_ERROR);
    fpmd_scoreboard_free(sb);
}

static void
scoreboard_copies_strings_with_a_bound(void **state)
{
    char dst[8];

    (void) state;
    fpmd_scoreboard_copy_str(dst, sizeof(dst), "0123456789", 10);
    assert_string_equal(dst, "0123456");
    fpmd_scoreboard_copy_str(dst, sizeof(dst), "ab\0cd", 5);
    assert_string_equal(dst, "ab");
}

static void
scoreboard_is_shared_with_children(void **state)
{
    struct fpmd_scoreboard *sb = fpmd_scoreboard_new(1);
    struct fpmd_sb_slot out;
    pid_t pid;

    (void) state;
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        fpmd_scoreboard_begin_write(&sb->slots[0]);
        sb->slots[0].pid = getpid();
        sb->slots[0].state = FPMD_SB_BUSY;
        sb->slots[0].requests = 77;
        fpmd_scoreboard_end_write(&sb->slots[0]);
        _exit(0);
    }
    while (fpmd_scoreboard_read(sb, 0, &out) != FPMD_OK)
        usleep(1000);
    assert_int_equal(out.pid, pid);
    assert_int_equal(out.requests, 77);
    assert_int_equal(out.seq % 2, 0);
    fpmd_scoreboard_free(sb);
}

static void
scoreboard_histogram_buckets_and_quantiles(void **state)
{
    uint64_t hist[FPMD_SB_HIST] = {0};

    (void) state;
    assert_int_equal(fpmd_sb_hist_bucket(0), 0);
    assert_int_equal(fpmd_sb_hist_bucket(69), 0);
    assert_int_equal(fpmd_sb_hist_bucket(70), 1);    /* 50 x 1.414 */
    assert_int_equal(fpmd_sb_hist_bucket(99), 1);
    assert_int_equal(fpmd_sb_hist_bucket(100), 2);
    assert_int_equal(fpmd_sb_hist_bucket(1000), 8);  /* 800 .. 1131 */
    assert_int_equal(fpmd_sb_hist_bucket(UINT64_MAX), FPMD_SB_HIST - 1);
    assert_true(fpmd_sb_hist_quantile(hist, 0.5) == 0.0);
    hist[8] = 99;
    hist[20] = 1;
    assert_true(fpmd_sb_hist_quantile(hist, 0.5) > 0.8
                && fpmd_sb_hist_quantile(hist, 0.5) < 1.14);
    assert_true(fpmd_sb_hist_quantile(hist, 0.99) < 1.14);
    hist[20] = 2;
    assert_true(fpmd_sb_hist_quantile(hist, 0.99) > 51.2
                && fpmd_sb_hist_quantile(hist, 0.99) < 72.5);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(scoreboard_histogram_buckets_and_quantiles),
        cmocka_unit_test(scoreboard_read_sanitizes_a_garbage_slot),
        cmocka_unit_test(scoreboard_read_flights_sanitizes_garbage),
        cmocka_unit_test(
            scoreboard_finds_the_fewest_connections_a_taking_sibling_holds),
        cmocka_unit_test(scoreboard_read_refuses_free_and_out_of_range_slots),
        cmocka_unit_test(
            scoreboard_sees_room_in_siblings_starting_workers_and_free_slots),
        cmocka_unit_test(scoreboard_copies_strings_with_a_bound),
        cmocka_unit_test(scoreboard_is_shared_with_children),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
