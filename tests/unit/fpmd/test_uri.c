/* SPDX-License-Identifier: BSD-2-Clause */
/* Request-target normalization: decoding, merged slashes, dot segments,
 * absolute-form, and the targets refused with a 400. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "fpmd/common.h"
#include "fpmd/uri.h"

static const char *
norm(const char *in)
{
    static char out[512];
    size_t len;

    if (fpmd_uri_normalize(in, strlen(in), out, &len) != FPMD_OK)
        return NULL;
    assert_int_equal(len, strlen(out));
    return out;
}

static void
uri_normalizes_like_nginx(void **state)
{
    (void) state;
    assert_string_equal(norm("/"), "/");
    assert_string_equal(norm("/a/b?x=/../.."), "/a/b");
    assert_string_equal(norm("/a//b///c"), "/a/b/c");
    assert_string_equal(norm("/a/./b/."), "/a/b/");
    assert_string_equal(norm("/a/b/../c"), "/a/c");
    assert_string_equal(norm("/a/b/.."), "/a/");
    assert_string_equal(norm("/a/%2e%2E/c"), "/c");
    assert_string_equal(norm("/a%2Fb"), "/a/b");
    assert_string_equal(norm("/caf%C3%A9%20x"), "/caf\xc3\xa9 x");
    assert_string_equal(norm("/a+b"), "/a+b");
    assert_string_equal(norm("http://h.example:8080/p/../q?z"), "/q");
    assert_string_equal(norm("https://h.example"), "/");
}

static void
uri_refuses_what_cannot_be_a_path(void **state)
{
    (void) state;
    assert_null(norm("/.."));
    assert_null(norm("/a/../.."));
    assert_null(norm("/%2e%2e/etc/passwd"));
    assert_null(norm("/a/..%2f..%2fb"));
    assert_null(norm("/a%00.txt"));
    assert_null(norm("/a%zz"));
    assert_null(norm("/a%2"));
    assert_null(norm("a/b"));
    assert_null(norm("*"));
    assert_null(norm("?q"));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(uri_normalizes_like_nginx),
        cmocka_unit_test(uri_refuses_what_cannot_be_a_path),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
