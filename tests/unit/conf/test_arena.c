/* SPDX-License-Identifier: BSD-2-Clause */
/* A config's arena: zeroed, aligned pieces that do not overlap, pieces
 * larger than a chunk, string copies, and one free for all of them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "conf/arena.h"

static void
arena_pieces_are_zeroed_aligned_and_apart(void **state)
{
    struct fpmd_conf_arena a = {NULL};
    unsigned char *pieces[64];

    (void) state;
    for (size_t i = 0; i < 64; i++) {
        size_t size = 1 + i * 37;

        pieces[i] = fpmd_conf_alloc(&a, size, 1);
        assert_non_null(pieces[i]);
        assert_int_equal((uintptr_t) pieces[i] % _Alignof(max_align_t), 0);
        for (size_t j = 0; j < size; j++)
            assert_int_equal(pieces[i][j], 0);
        memset(pieces[i], (int) i + 1, size);
    }
    for (size_t i = 0; i < 64; i++) {
        for (size_t j = 0; j < 1 + i * 37; j++)
            assert_int_equal(pieces[i][j], i + 1);
    }
    fpmd_conf_arena_free(&a);
    assert_null(a.chunks);
}

static void
arena_takes_pieces_larger_than_a_chunk(void **state)
{
    struct fpmd_conf_arena a = {NULL};
    char *small = fpmd_conf_alloc(&a, 8, 1);
    uint64_t *big = fpmd_conf_alloc(&a, 100000, sizeof(*big));

    (void) state;
    assert_non_null(small);
    assert_non_null(big);
    big[99999] = 1;
    assert_int_equal(big[0], 0);
    assert_null(fpmd_conf_alloc(&a, SIZE_MAX / 2, 4));
    fpmd_conf_arena_free(&a);
}

static void
arena_copies_strings(void **state)
{
    struct fpmd_conf_arena a = {NULL};
    char *s = fpmd_conf_strdup(&a, "listen");
    char *t = fpmd_conf_strndup(&a, "GET /a", 3);
    char *u = fpmd_conf_strndup(&a, "ab", 10);

    (void) state;
    assert_string_equal(s, "listen");
    assert_string_equal(t, "GET");
    assert_string_equal(u, "ab");
    assert_string_equal(fpmd_conf_strdup(&a, ""), "");
    fpmd_conf_arena_free(&a);
    fpmd_conf_arena_free(&a);
    assert_null(a.chunks);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(arena_pieces_are_zeroed_aligned_and_apart),
        cmocka_unit_test(arena_takes_pieces_larger_than_a_chunk),
        cmocka_unit_test(arena_copies_strings),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
