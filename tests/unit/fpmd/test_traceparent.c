/* SPDX-License-Identifier: BSD-2-Clause */
/* traceparent (W3C Trace Context §3.2): what parses, what is refused so
 * that a new trace starts, and a round trip through the formatter. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "fpmd/traceparent.h"

#define GOOD "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"

static bool
parses(const char *s)
{
    struct fpmd_traceparent tp;

    return fpmd_traceparent_parse(s, strlen(s), &tp);
}

static void
traceparent_parses_the_specs_example(void **state)
{
    struct fpmd_traceparent tp;
    char out[FPMD_TRACEPARENT_LEN + 1];

    (void) state;
    assert_true(fpmd_traceparent_parse(GOOD, strlen(GOOD), &tp));
    assert_int_equal(tp.trace_id[0], 0x0a);
    assert_int_equal(tp.trace_id[15], 0x9c);
    assert_int_equal(tp.parent_id[0], 0xb7);
    assert_int_equal(tp.parent_id[7], 0x31);
    assert_int_equal(tp.flags, 1);
    fpmd_traceparent_format(&tp, out);
    assert_string_equal(out, GOOD);
}

static void
traceparent_refuses_zero_ids_and_version_ff(void **state)
{
    (void) state;
    assert_false(parses("00-00000000000000000000000000000000-b7ad6b7169203331"
                        "-01"));
    assert_false(parses("00-0af7651916cd43dd8448eb211c80319c-0000000000000000"
                        "-01"));
    assert_false(parses("ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331"
                        "-01"));
}

static void
traceparent_refuses_other_shapes(void **state)
{
    char cut[FPMD_TRACEPARENT_LEN];

    (void) state;
    /* uppercase hex, a wrong separator, too short, too long for 00 */
    assert_false(parses("00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331"
                        "-01"));
    assert_false(parses("00_0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331"
                        "-01"));
    assert_false(parses(GOOD "-extra"));
    assert_false(parses(GOOD "0"));
    assert_false(parses("0g-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331"
                        "-01"));
    assert_false(parses("00-0af7651916cd43dd8448eb211c80319c-b7ad6b716920333z"
                        "-01"));
    assert_false(parses(""));
    /* every cut short of the whole */
    for (size_t n = 0; n < FPMD_TRACEPARENT_LEN; n++) {
        struct fpmd_traceparent tp;

        memcpy(cut, GOOD, n);
        assert_false(fpmd_traceparent_parse(cut, n, &tp));
    }
}

static void
traceparent_takes_a_later_versions_first_fields(void **state)
{
    (void) state;
    assert_true(parses("01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331"
                       "-01-what-comes-next"));
    assert_true(parses("cc-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331"
                       "-00"));
    /* ...but only after a '-' */
    assert_false(parses("01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331"
                        "-01x"));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(traceparent_parses_the_specs_example),
        cmocka_unit_test(traceparent_refuses_zero_ids_and_version_ff),
        cmocka_unit_test(traceparent_refuses_other_shapes),
        cmocka_unit_test(traceparent_takes_a_later_versions_first_fields),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
