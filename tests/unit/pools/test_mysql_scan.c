/* SPDX-License-Identifier: BSD-2-Clause */
/* fpmd_mysql's placeholders: a ? counts only where MariaDB's lexer would
 * see one, so a ? in a string, an identifier or a comment never makes
 * fpmd_mysql read a vararg that was not passed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "pools/mysql_scan.h"

static size_t
count(const char *sql)
{
    return fpmd_mysql_scan_placeholders(sql, NULL, 0);
}

static void
scan_counts_placeholders_outside_strings_and_identifiers(void **state)
{
    size_t offs[4];

    (void) state;
    assert_int_equal(count(""), 0);
    assert_int_equal(count("SELECT ?, ?"), 2);
    assert_int_equal(fpmd_mysql_scan_placeholders("a=? AND b=?", offs, 4),
                     2);
    assert_int_equal(offs[0], 2);
    assert_int_equal(offs[1], 10);
    /* only the first max offsets are stored, all are counted */
    assert_int_equal(fpmd_mysql_scan_placeholders("???", offs, 1), 3);
    assert_int_equal(offs[0], 0);
    assert_int_equal(count("SELECT '?', \"?\", `?`"), 0);
    assert_int_equal(count("SELECT 'it''s ?', ?"), 1);
    assert_int_equal(count("SELECT 'a\\'?', ?"), 1);
    assert_int_equal(count("SELECT \"a\\\"?\", ?"), 1);
    assert_int_equal(count("SELECT 'a\\\\', ?"), 1);
    /* backticks: no backslash escape, a doubled one stays inside */
    assert_int_equal(count("SELECT `a\\`, ?"), 1);
    assert_int_equal(count("SELECT `a``?`, ?"), 1);
    /* a quote inside another kind of quote is text */
    assert_int_equal(count("SELECT '\"?', \"'?\", ?"), 1);
    /* left open: nothing after it counts */
    assert_int_equal(count("SELECT ?, 'open ?"), 1);
    assert_int_equal(count("SELECT ?, 'open \\"), 1);
}

static void
scan_skips_comments(void **state)
{
    (void) state;
    assert_int_equal(count("SELECT 1 -- why?"), 0);
    assert_int_equal(count("SELECT 1 --\twhy?"), 0);
    assert_int_equal(count("SELECT 1 -- why?\n, ?"), 1);
    assert_int_equal(count("SELECT ? --"), 1);
    /* "--" not followed by a space or a control byte is two minuses */
    assert_int_equal(count("SELECT 2--?"), 1);
    assert_int_equal(count("SELECT 2-?-?"), 2);
    assert_int_equal(count("SELECT 1 # why?"), 0);
    assert_int_equal(count("SELECT 1 # why?\r\n, ?"), 1);
    assert_int_equal(count("SELECT /* ? */ ?"), 1);
    assert_int_equal(count("SELECT /* ? ** / ? */ ?"), 1);
    assert_int_equal(count("SELECT /*? */ ?"), 1);
    assert_int_equal(count("SELECT ? /* open ?"), 1);
    assert_int_equal(count("SELECT /*/ ? */ ?"), 1);
    /* quotes inside a comment are text, comments inside quotes too */
    assert_int_equal(count("SELECT /* it's */ ?, '/* ?', '-- ?', ?"), 2);
    assert_int_equal(count("SELECT '#?' # '?\n, ?"), 1);
}

static void
scan_counts_in_executable_comments(void **state)
{
    (void) state;
    /* the server runs their text: its ? are placeholders */
    assert_int_equal(count("SELECT 1 /*!50000 , ? */"), 1);
    assert_int_equal(count("SELECT 1 /*M!100000 , ? */, ?"), 2);
    assert_int_equal(count("SELECT 1 /*!50000 , '?' */"), 0);
    assert_int_equal(count("SELECT 1 /*!50000 , ? -- ?\n */ ?"), 2);
    assert_int_equal(count("SELECT 1 /*!50000 /* ? */ ? */ ?"), 2);
    /* a star and a slash outside one are text */
    assert_int_equal(count("SELECT ? */ ?"), 2);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(
            scan_counts_placeholders_outside_strings_and_identifiers),
        cmocka_unit_test(scan_skips_comments),
        cmocka_unit_test(scan_counts_in_executable_comments),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
