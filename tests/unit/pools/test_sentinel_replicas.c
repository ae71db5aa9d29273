/* SPDX-License-Identifier: BSD-2-Clause */
/* A sentinel pool's replica slots: which entries of SENTINEL replicas are
 * up, and slots that keep their server while it stays listed, so that a
 * replica coming or going does not close the others' connections. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "pools/sentinel_replicas.h"

static struct fpmd_replica_addr
addr(const char *host, unsigned port)
{
    struct fpmd_replica_addr a = {host, strlen(host), port};

    return a;
}

static void
up_needs_a_synced_link_and_no_down_flag(void **state)
{
    (void) state;
    assert_true(fpmd_replica_up("slave", "ok"));
    assert_false(fpmd_replica_up("slave", "err"));
    assert_false(fpmd_replica_up("slave,s_down", "ok"));
    assert_false(fpmd_replica_up("s_down,slave,disconnected", "ok"));
    assert_false(fpmd_replica_up("slave,o_down", "ok"));
    assert_false(fpmd_replica_up("slave,disconnected", "ok"));
    /* a flag that merely starts like one */
    assert_true(fpmd_replica_up("slave,s_downx", "ok"));
    assert_false(fpmd_replica_up(NULL, "ok"));
    assert_false(fpmd_replica_up("slave", NULL));
}

static void
slots_keep_their_server_while_it_is_listed(void **state)
{
    struct fpmd_replica_slot slots[3];
    struct fpmd_replica_addr two[] = {addr("10.0.0.1", 6379),
                                      addr("10.0.0.2", 6379)};
    struct fpmd_replica_addr moved[] = {addr("10.0.0.3", 6379),
                                        addr("10.0.0.2", 6379)};
    bool changed[3];

    (void) state;
    memset(slots, 0, sizeof(slots));
    fpmd_replica_slots_update(slots, 3, two, 2, changed);
    assert_true(slots[0].filled && slots[1].filled && !slots[2].filled);
    assert_string_equal(slots[0].host, "10.0.0.1");
    assert_string_equal(slots[1].host, "10.0.0.2");
    assert_true(changed[0] && changed[1] && !changed[2]);
    assert_int_equal(slots[0].epoch, 1);

    /* listed again, in another order: nothing changes */
    struct fpmd_replica_addr swapped[] = {two[1], two[0]};

    fpmd_replica_slots_update(slots, 3, swapped, 2, changed);
    assert_false(changed[0] || changed[1] || changed[2]);
    assert_int_equal(slots[0].epoch, 1);

    /* .1 gone, .3 new: .3 takes the first empty slot, .2 stays put */
    fpmd_replica_slots_update(slots, 3, moved, 2, changed);
    assert_string_equal(slots[0].host, "10.0.0.3");
    assert_string_equal(slots[1].host, "10.0.0.2");
    assert_true(changed[0] && !changed[1] && !changed[2]);
    assert_int_equal(slots[0].epoch, 2);     /* one change, not two */

    /* none listed: all empty */
    fpmd_replica_slots_update(slots, 3, NULL, 0, changed);
    assert_false(slots[0].filled || slots[1].filled || slots[2].filled);
    assert_true(changed[0] && changed[1] && !changed[2]);
}

static void
more_replicas_than_slots_fill_them_in_list_order(void **state)
{
    struct fpmd_replica_slot slots[2];
    struct fpmd_replica_addr three[] = {addr("::1", 1), addr("::1", 2),
                                        addr("::1", 3)};
    char longhost[80];
    struct fpmd_replica_addr toolong[] = {{longhost, sizeof(longhost), 1}};
    bool changed[2];

    (void) state;
    memset(slots, 0, sizeof(slots));
    fpmd_replica_slots_update(slots, 2, three, 3, changed);
    assert_int_equal(slots[0].port, 1);
    assert_int_equal(slots[1].port, 2);
    /* the first goes down: the third takes its slot */
    fpmd_replica_slots_update(slots, 2, three + 1, 2, changed);
    assert_int_equal(slots[0].port, 3);
    assert_int_equal(slots[1].port, 2);
    /* an address no slot can hold is left out */
    memset(longhost, 'a', sizeof(longhost));
    memset(slots, 0, sizeof(slots));
    fpmd_replica_slots_update(slots, 2, toolong, 1, changed);
    assert_false(slots[0].filled || changed[0]);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(up_needs_a_synced_link_and_no_down_flag),
        cmocka_unit_test(slots_keep_their_server_while_it_is_listed),
        cmocka_unit_test(more_replicas_than_slots_fill_them_in_list_order),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
