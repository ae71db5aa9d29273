/* SPDX-License-Identifier: BSD-2-Clause */
/* libevent's small allocations: their own slots, reused, resized out of
 * the region when they grow, and really the ones libevent makes for each
 * descriptor it watches. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>

#include "fpmd/event_alloc.h"

static void
small_allocations_share_slots(void **state)
{
    unsigned char *p[100];
    size_t i, j;

    (void) state;
    for (i = 0; i < 100; i++) {
        p[i] = fpmd_event_alloc(1 + i % FPMD_EVENT_ALLOC_SMALL);
        assert_non_null(p[i]);
        assert_true(fpmd_event_alloc_is_small(p[i]));
        assert_int_equal((uintptr_t) p[i] % 16, 0);
        memset(p[i], (int) i, FPMD_EVENT_ALLOC_SMALL);
    }
    for (i = 0; i < 100; i++) {
        for (j = 0; j < FPMD_EVENT_ALLOC_SMALL; j++)
            assert_int_equal(p[i][j], (unsigned char) i);
    }
    fpmd_event_free(p[42]);
    assert_ptr_equal(fpmd_event_alloc(8), p[42]);
    for (i = 0; i < 100; i++)
        fpmd_event_free(p[i]);
}

static void
larger_allocations_stay_with_malloc(void **state)
{
    void *p = fpmd_event_alloc(FPMD_EVENT_ALLOC_SMALL + 1);

    (void) state;
    assert_non_null(p);
    assert_false(fpmd_event_alloc_is_small(p));
    assert_false(fpmd_event_alloc_is_small(NULL));
    p = fpmd_event_realloc(p, 4096);
    assert_false(fpmd_event_alloc_is_small(p));
    fpmd_event_free(p);
    fpmd_event_free(NULL);
}

static void
realloc_moves_out_when_grown(void **state)
{
    unsigned char *p = fpmd_event_realloc(NULL, 20);
    unsigned char *q;

    (void) state;
    assert_true(fpmd_event_alloc_is_small(p));
    memcpy(p, "twenty bytes of text", 20);
    assert_ptr_equal(fpmd_event_realloc(p, FPMD_EVENT_ALLOC_SMALL), p);
    q = fpmd_event_realloc(p, 1000);
    assert_non_null(q);
    assert_false(fpmd_event_alloc_is_small(q));
    assert_memory_equal(q, "twenty bytes of text", 20);
    assert_ptr_equal(fpmd_event_alloc(1), p);
    fpmd_event_free(p);
    fpmd_event_free(q);
}

static void
noop(evutil_socket_t fd, short what, void *arg)
{
    (void) fd;
    (void) what;
    (void) arg;
}

/* A descriptor number libevent has not seen before costs it one record;
 * installed, that record is the slot just freed. */
static void
libevent_records_come_from_the_slots(void **state)
{
    struct event_base *base;
    struct event *ev;
    void *probe, *after;
    int sv[2];

    (void) state;
    fpmd_event_alloc_install();
    base = event_base_new();
    assert_non_null(base);
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    ev = event_new(base, sv[0], EV_READ, noop, NULL);
    assert_non_null(ev);
    probe = fpmd_event_alloc(1);
    fpmd_event_free(probe);
    assert_int_equal(event_add(ev, NULL), 0);
    after = fpmd_event_alloc(1);
    assert_ptr_not_equal(after, probe);
    fpmd_event_free(after);
    event_free(ev);
    event_base_free(base);
    close(sv[0]);
    close(sv[1]);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(small_allocations_share_slots),
        cmocka_unit_test(larger_allocations_stay_with_malloc),
        cmocka_unit_test(realloc_moves_out_when_grown),
        cmocka_unit_test(libevent_records_come_from_the_slots),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
