/* SPDX-License-Identifier: BSD-2-Clause */
/* The logs' one escaping rule: every byte that could end a line, start
 * one or drive a terminal comes out as \xHH, and an escape is never cut
 * in half when the room runs out. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "fpmd/escape.h"

static void
escape_writes_control_and_high_bytes_as_hex(void **state)
{
    static const char in[] = "a\nb\rc\0d\x1b[31m\x7f\xc2\x9b\\x0A\"q\"";
    char out[256];
    size_t n;

    (void) state;
    n = fpmd_escape(out, sizeof(out), in, sizeof(in) - 1, 0);
    assert_string_equal(out, "a\\x0Ab\\x0Dc\\x00d\\x1B[31m\\x7F\\xC2\\x9B"
                             "\\x5Cx0A\"q\"");
    assert_int_equal(n, strlen(out));
    fpmd_escape(out, sizeof(out), in, sizeof(in) - 1, FPMD_ESCAPE_QUOTE);
    assert_non_null(strstr(out, "\\x5Cx0A\\x22q\\x22"));
}

static void
escape_leaves_no_byte_that_breaks_a_line(void **state)
{
    char in[256], out[4 * 256 + 1];
    size_t n;

    (void) state;
    for (int i = 0; i < 256; i++)
        in[i] = (char) i;
    n = fpmd_escape(out, sizeof(out), in, sizeof(in), FPMD_ESCAPE_QUOTE);
    assert_int_equal(n, strlen(out));
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char) out[i];

        assert_true(c >= 0x20 && c < 0x7f && c != '"');
        /* a backslash only ever starts an escape */
        if (c == '\\')
            assert_int_equal(out[i + 1], 'x');
    }
    /* printable ASCII but '"' and '\\' stays itself: 95 - 2, 4 for others */
    assert_int_equal(n, 93 + 4 * (256 - 93));
}

static void
escape_never_cuts_an_escape(void **state)
{
    char out[8];

    (void) state;
    /* "ab" fits, "\x0A" would need 4 more plus the NUL: left out */
    assert_int_equal(fpmd_escape(out, 6, "ab\ncd", 5, 0), 2);
    assert_string_equal(out, "ab");
    assert_int_equal(fpmd_escape(out, 7, "ab\ncd", 5, 0), 6);
    assert_string_equal(out, "ab\\x0A");
    assert_int_equal(fpmd_escape(out, 8, "ab\ncd", 5, 0), 7);
    assert_string_equal(out, "ab\\x0Ac");
    assert_int_equal(fpmd_escape(out, 1, "abc", 3, 0), 0);
    assert_string_equal(out, "");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(escape_writes_control_and_high_bytes_as_hex),
        cmocka_unit_test(escape_leaves_no_byte_that_breaks_a_line),
        cmocka_unit_test(escape_never_cuts_an_escape),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
