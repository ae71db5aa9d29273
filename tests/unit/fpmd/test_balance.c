/* SPDX-License-Identifier: BSD-2-Clause */
/* Server selection: nginx's documented smooth weighted sequence exactly,
 * round-robin and least-in-flight turns, random picks in proportion to
 * the weights, a hash ring on which a server going away moves only the
 * keys it owned, and refusals of what a config could get wrong. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fpmd/balance.h"

static const char *const five[] = {
    "10.0.0.1:8080", "10.0.0.2:8080", "10.0.0.3:8080", "10.0.0.4:8080",
    "10.0.0.5:8080",
};

static struct fpmd_balancer *
make(enum fpmd_balance_kind kind, size_t n, const unsigned *weights,
     const char *const *names)
{
    struct fpmd_balancer *b = fpmd_balancer_new(kind, n, weights, names);

    if (b == NULL)
        fail_msg("fpmd_balancer_new(%s, %zu) failed",
                 fpmd_balance_name(kind), n);
    return b;
}

static int
key_of(char *buf, size_t cap, int i)
{
    return snprintf(buf, cap, "user:%d", i);
}

static void
weighted_gives_nginx_sequence_for_5_1_1(void **state)
{
    static const unsigned w[] = { 5, 1, 1 };
    struct fpmd_balancer *b = make(FPMD_BALANCE_WEIGHTED, 3, w, NULL);
    char seq[15];

    (void) state;
    for (int i = 0; i < 14; i++)
        seq[i] = (char) ('a' + fpmd_balancer_pick(b, NULL, NULL, NULL, 0));
    seq[14] = '\0';
    assert_string_equal(seq, "aabacaaaabacaa");
    fpmd_balancer_free(b);
}

static void
weighted_skips_an_unusable_server_and_keeps_the_others_ratio(void **state)
{
    static const unsigned w[] = { 3, 1, 2 };
    static const bool usable[] = { true, false, true };
    struct fpmd_balancer *b = make(FPMD_BALANCE_WEIGHTED, 3, w, NULL);
    int count[3] = { 0 };

    (void) state;
    for (int i = 0; i < 500; i++)
        count[fpmd_balancer_pick(b, usable, NULL, NULL, 0)]++;
    assert_int_equal(count[1], 0);
    assert_int_equal(count[0], 300);
    assert_int_equal(count[2], 200);
    fpmd_balancer_free(b);
}

static void
round_robin_never_picks_an_unusable_server_and_alternates(void **state)
{
    bool usable[] = { true, false, true };
    struct fpmd_balancer *b = make(FPMD_BALANCE_ROUND_ROBIN, 3, NULL, NULL);

    (void) state;
    for (int i = 0; i < 10; i++)
        assert_int_equal(fpmd_balancer_pick(b, usable, NULL, NULL, 0),
                         i % 2 == 0 ? 0 : 2);
    /* back: its turn comes next */
    usable[1] = true;
    assert_int_equal(fpmd_balancer_pick(b, usable, NULL, NULL, 0), 0);
    assert_int_equal(fpmd_balancer_pick(b, usable, NULL, NULL, 0), 1);
    assert_int_equal(fpmd_balancer_pick(b, usable, NULL, NULL, 0), 2);
    assert_int_equal(fpmd_balancer_pick(b, NULL, NULL, NULL, 0), 0);
    fpmd_balancer_free(b);
}

static void
least_in_flight_picks_the_minimum_and_rotates_ties(void **state)
{
    static const unsigned w[] = { 2, 1, 1, 1 };
    unsigned in_flight[] = { 4, 2, 1, 3 };
    bool usable[] = { true, true, true, true };
    struct fpmd_balancer *b;

    (void) state;
    b = make(FPMD_BALANCE_LEAST_IN_FLIGHT, 4, NULL, NULL);
    for (int i = 0; i < 5; i++)
        assert_int_equal(fpmd_balancer_pick(b, usable, in_flight, NULL, 0),
                         2);
    usable[2] = false;
    assert_int_equal(fpmd_balancer_pick(b, usable, in_flight, NULL, 0), 1);
    /* equal loads, and none given at all, take turns */
    memset(in_flight, 0, sizeof(in_flight));
    usable[2] = true;
    for (int i = 0; i < 8; i++)
        assert_int_equal(fpmd_balancer_pick(b, usable, in_flight, NULL, 0),
                         (2 + i) % 4);
    for (int i = 0; i < 4; i++)
        assert_int_equal(fpmd_balancer_pick(b, NULL, NULL, NULL, 0),
                         (2 + i) % 4);
    fpmd_balancer_free(b);

    /* per unit of weight: 4/2 ties with 2/1, ahead of 5/1 and 3/1 */
    b = make(FPMD_BALANCE_LEAST_IN_FLIGHT, 4, w, NULL);
    in_flight[0] = 4;
    in_flight[1] = 2;
    in_flight[2] = 5;
    in_flight[3] = 3;
    assert_int_equal(fpmd_balancer_pick(b, NULL, in_flight, NULL, 0), 0);
    assert_int_equal(fpmd_balancer_pick(b, NULL, in_flight, NULL, 0), 1);
    assert_int_equal(fpmd_balancer_pick(b, NULL, in_flight, NULL, 0), 0);
    in_flight[0] = 5;
    assert_int_equal(fpmd_balancer_pick(b, NULL, in_flight, NULL, 0), 1);
    fpmd_balancer_free(b);
}

static void
random_picks_in_proportion_to_the_weights(void **state)
{
    enum { PICKS = 100000 };
    static const unsigned w[] = { 5, 3, 2, 4 };
    static const bool usable[] = { true, true, true, false };
    struct fpmd_balancer *b = make(FPMD_BALANCE_RANDOM, 4, w, NULL);
    int count[4] = { 0 }, first[32];

    (void) state;
    fpmd_balancer_seed(b, 42);
    for (int i = 0; i < PICKS; i++)
        count[fpmd_balancer_pick(b, usable, NULL, NULL, 0)]++;
    assert_int_equal(count[3], 0);
    for (int i = 0; i < 3; i++) {
        double want = PICKS * (double) w[i] / 10;

        print_message("# server %d: %d picks, %.0f expected\n", i, count[i],
                      want);
        assert_true(count[i] >= want * 0.98 && count[i] <= want * 1.02);
    }
    /* a seed replays its sequence */
    fpmd_balancer_seed(b, 0);
    for (int i = 0; i < 32; i++)
        first[i] = fpmd_balancer_pick(b, NULL, NULL, NULL, 0);
    fpmd_balancer_seed(b, 0);
    for (int i = 0; i < 32; i++)
        assert_int_equal(fpmd_balancer_pick(b, NULL, NULL, NULL, 0),
                         first[i]);
    fpmd_balancer_free(b);
}

/* Each of 10000 keys' server. */
static void
owners(struct fpmd_balancer *b, const bool *usable, int *out, int nkeys)
{
    char key[32];

    for (int i = 0; i < nkeys; i++) {
        out[i] = fpmd_balancer_pick(b, usable, NULL, key,
                                    (size_t) key_of(key, sizeof(key), i));
        assert_true(out[i] >= 0 && out[i] < 5);
    }
}

enum { KEYS = 10000 };

static void
hash_keeps_keys_in_place_when_a_server_goes(void **state)
{
    static const char *const four[] = { five[0], five[1], five[3], five[4] };
    static const int four_index[] = { 0, 1, 3, 4 };
    bool usable[] = { true, true, true, true, true };
    struct fpmd_balancer *b = make(FPMD_BALANCE_HASH, 5, NULL, five);
    struct fpmd_balancer *again = make(FPMD_BALANCE_HASH, 5, NULL, five);
    struct fpmd_balancer *rebuilt = make(FPMD_BALANCE_HASH, 4, NULL, four);
    int *before = calloc(KEYS, sizeof(int)), *after = calloc(KEYS,
                                                             sizeof(int));
    int *other = calloc(KEYS, sizeof(int));
    int moved = 0, owned = 0;
    char key[32];

    (void) state;
    assert_non_null(before);
    assert_non_null(after);
    assert_non_null(other);
    owners(b, NULL, before, KEYS);
    /* the same key, the same server, in this balancer and in another
     * process's made from the same names */
    owners(b, usable, after, KEYS);
    assert_memory_equal(before, after, KEYS * sizeof(int));
    owners(again, NULL, after, KEYS);
    assert_memory_equal(before, after, KEYS * sizeof(int));

    usable[2] = false;
    owners(b, usable, after, KEYS);
    for (int i = 0; i < KEYS; i++) {
        assert_int_not_equal(after[i], 2);
        if (before[i] == 2)
            owned++;
        if (after[i] != before[i]) {
            assert_int_equal(before[i], 2);
            moved++;
        }
    }
    assert_int_equal(moved, owned);
    assert_true(owned > 0);
    /* the same as a ring made without it: both go on to the next point */
    for (int i = 0; i < KEYS; i++) {
        int k = fpmd_balancer_pick(rebuilt, NULL, NULL, key,
                                   (size_t) key_of(key, sizeof(key), i));

        other[i] = four_index[k];
    }
    assert_memory_equal(after, other, KEYS * sizeof(int));
    /* and back where they were when it is back */
    usable[2] = true;
    owners(b, usable, after, KEYS);
    assert_memory_equal(before, after, KEYS * sizeof(int));
    free(before);
    free(after);
    free(other);
    fpmd_balancer_free(b);
    fpmd_balancer_free(again);
    fpmd_balancer_free(rebuilt);
}

static void
hash_spreads_keys_evenly_and_by_weight(void **state)
{
    static const unsigned w[] = { 1, 1, 1, 1, 4 };
    struct fpmd_balancer *b = make(FPMD_BALANCE_HASH, 5, NULL, five);
    int *owner = calloc(KEYS, sizeof(int)), count[5] = { 0 };

    (void) state;
    assert_non_null(owner);
    owners(b, NULL, owner, KEYS);
    for (int i = 0; i < KEYS; i++)
        count[owner[i]]++;
    for (int i = 0; i < 5; i++) {
        print_message("# server %d: %d keys\n", i, count[i]);
        assert_true(count[i] >= KEYS * 15 / 100
                    && count[i] <= KEYS * 25 / 100);
    }
    fpmd_balancer_free(b);

    /* weight 4 of 8: about half the keys */
    b = make(FPMD_BALANCE_HASH, 5, w, five);
    memset(count, 0, sizeof(count));
    owners(b, NULL, owner, KEYS);
    for (int i = 0; i < KEYS; i++)
        count[owner[i]]++;
    print_message("# weight 4 of 8: %d keys\n", count[4]);
    assert_true(count[4] >= KEYS * 45 / 100 && count[4] <= KEYS * 55 / 100);
    free(owner);
    fpmd_balancer_free(b);
}

static void
hash_without_a_key_goes_round_robin(void **state)
{
    static const bool usable[] = { true, true, false, true, true };
    struct fpmd_balancer *b = make(FPMD_BALANCE_HASH, 5, NULL, five);

    (void) state;
    assert_int_equal(fpmd_balancer_pick(b, usable, NULL, NULL, 0), 0);
    assert_int_equal(fpmd_balancer_pick(b, usable, NULL, NULL, 0), 1);
    assert_int_equal(fpmd_balancer_pick(b, usable, NULL, NULL, 0), 3);
    assert_int_equal(fpmd_balancer_pick(b, usable, NULL, NULL, 0), 4);
    assert_int_equal(fpmd_balancer_pick(b, usable, NULL, NULL, 0), 0);
    /* an empty key is a key */
    assert_int_equal(fpmd_balancer_pick(b, NULL, NULL, "", 0),
                     fpmd_balancer_pick(b, NULL, NULL, "x", 0));
    fpmd_balancer_free(b);
}

static void
every_kind_returns_minus_one_when_none_is_usable(void **state)
{
    static const bool none[] = { false, false, false, false, false };
    static const unsigned in_flight[] = { 1, 2, 3, 4, 5 };

    (void) state;
    for (int k = FPMD_BALANCE_ROUND_ROBIN; k <= FPMD_BALANCE_HASH; k++) {
        struct fpmd_balancer *b = make((enum fpmd_balance_kind) k, 5, NULL,
                                       five);

        assert_int_equal(fpmd_balancer_pick(b, none, in_flight, "k", 1), -1);
        assert_int_equal(fpmd_balancer_pick(b, none, NULL, NULL, 0), -1);
        /* and picks again when one is back */
        assert_true(fpmd_balancer_pick(b, NULL, in_flight, "k", 1) >= 0);
        fpmd_balancer_free(b);
    }
}

static void
parse_and_name_round_trip_and_refuse_other_names(void **state)
{
    enum fpmd_balance_kind kind = FPMD_BALANCE_HASH;
    static const char *const bad[] = {
        "", "Round_Robin", "round-robin", "hash ", "least", "weighted\n",
    };

    (void) state;
    for (int k = FPMD_BALANCE_ROUND_ROBIN; k <= FPMD_BALANCE_HASH; k++) {
        const char *name = fpmd_balance_name((enum fpmd_balance_kind) k);

        assert_non_null(name);
        assert_int_equal(fpmd_balance_parse(name, &kind), FPMD_OK);
        assert_int_equal(kind, k);
    }
    assert_string_equal(fpmd_balance_name(FPMD_BALANCE_LEAST_IN_FLIGHT),
                        "least_in_flight");
    for (size_t i = 0; i < FPMD_ARRAY_LEN(bad); i++) {
        assert_int_equal(fpmd_balance_parse(bad[i], &kind), FPMD_ERROR);
        assert_int_equal(kind, FPMD_BALANCE_HASH);
    }
    assert_null(fpmd_balance_name((enum fpmd_balance_kind) 5));
}

static void
new_refuses_arguments_out_of_range(void **state)
{
    static const unsigned zero[] = { 1, 0 }, heavy[] = { 1000, 1001 };
    static const char *const twice[] = { "a", "b", "a" };
    static const char *const hole[] = { "a", NULL };
    unsigned *max_w = calloc(FPMD_BALANCE_MAX_SERVERS, sizeof(unsigned));
    char (*names)[16] = calloc(FPMD_BALANCE_MAX_SERVERS, 16);
    const char **ptrs = calloc(FPMD_BALANCE_MAX_SERVERS, sizeof(char *));
    struct fpmd_balancer *b;

    (void) state;
    assert_null(fpmd_balancer_new(FPMD_BALANCE_ROUND_ROBIN, 0, NULL, NULL));
    assert_null(fpmd_balancer_new(FPMD_BALANCE_ROUND_ROBIN,
                                  FPMD_BALANCE_MAX_SERVERS + 1, NULL, NULL));
    assert_null(fpmd_balancer_new(FPMD_BALANCE_WEIGHTED, 2, zero, NULL));
    assert_null(fpmd_balancer_new(FPMD_BALANCE_WEIGHTED, 2, heavy, NULL));
    assert_null(fpmd_balancer_new((enum fpmd_balance_kind) 5, 1, NULL,
                                  NULL));
    assert_null(fpmd_balancer_new(FPMD_BALANCE_HASH, 2, NULL, NULL));
    assert_null(fpmd_balancer_new(FPMD_BALANCE_HASH, 3, NULL, twice));
    assert_null(fpmd_balancer_new(FPMD_BALANCE_HASH, 2, NULL, hole));
    /* names matter to HASH only */
    b = make(FPMD_BALANCE_ROUND_ROBIN, 3, NULL, twice);
    fpmd_balancer_free(b);
    fpmd_balancer_free(NULL);

    /* the largest: 1024 servers of weight 1000 on a ring scaled down to
     * FPMD_BALANCE_RING_MAX points, 256 each, still spread */
    assert_non_null(max_w);
    assert_non_null(names);
    assert_non_null(ptrs);
    for (int i = 0; i < FPMD_BALANCE_MAX_SERVERS; i++) {
        max_w[i] = FPMD_BALANCE_MAX_WEIGHT;
        snprintf(names[i], 16, "s%d", i);
        ptrs[i] = names[i];
    }
    b = make(FPMD_BALANCE_HASH, FPMD_BALANCE_MAX_SERVERS, max_w, ptrs);
    {
        int *count = calloc(FPMD_BALANCE_MAX_SERVERS, sizeof(int)), most = 0;
        char key[32];

        assert_non_null(count);
        for (int i = 0; i < 100 * FPMD_BALANCE_MAX_SERVERS; i++)
            count[fpmd_balancer_pick(b, NULL, NULL, key,
                                     (size_t) key_of(key, sizeof(key),
                                                     i))]++;
        for (int i = 0; i < FPMD_BALANCE_MAX_SERVERS; i++)
            most = count[i] > most ? count[i] : most;
        print_message("# 1024 servers: at most %d of 102400 keys\n", most);
        assert_true(most < 200);
        free(count);
    }
    fpmd_balancer_free(b);
    free(max_w);
    free(names);
    free(ptrs);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(weighted_gives_nginx_sequence_for_5_1_1),
        cmocka_unit_test(
            weighted_skips_an_unusable_server_and_keeps_the_others_ratio),
        cmocka_unit_test(
            round_robin_never_picks_an_unusable_server_and_alternates),
        cmocka_unit_test(least_in_flight_picks_the_minimum_and_rotates_ties),
        cmocka_unit_test(random_picks_in_proportion_to_the_weights),
        cmocka_unit_test(hash_keeps_keys_in_place_when_a_server_goes),
        cmocka_unit_test(hash_spreads_keys_evenly_and_by_weight),
        cmocka_unit_test(hash_without_a_key_goes_round_robin),
        cmocka_unit_test(every_kind_returns_minus_one_when_none_is_usable),
        cmocka_unit_test(parse_and_name_round_trip_and_refuse_other_names),
        cmocka_unit_test(new_refuses_arguments_out_of_range),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
