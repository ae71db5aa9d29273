/* SPDX-License-Identifier: BSD-2-Clause */
/* Shadow comparison: JSON structurally (key order, number forms, ignored
 * fields through arrays), bytes otherwise, and where they differ. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "migrate/compare.h"

static char where[256];

static int
cmp(const char *a, const char *b, int json, char *const *ignore,
    size_t nignore)
{
    return fpmd_compare_bodies(a, strlen(a), b, strlen(b), json, ignore,
                               nignore, where, sizeof(where));
}

static void
compare_json_structurally(void **state)
{
    char *ignore[] = {"meta.generated_at", "items.etag", "now"};

    (void) state;
    assert_int_equal(cmp("{\"a\":1,\"b\":[1,2]}", " {\"b\":[1, 2], "
                         "\"a\":1.0}\n", 1, NULL, 0), 1);
    assert_string_equal(where, "");
    assert_int_equal(cmp("{\"a\":{\"b\":\"x\"}}", "{\"a\":{\"b\":\"y\"}}", 1,
                         NULL, 0), 0);
    assert_string_equal(where, "$.a.b");
    assert_int_equal(cmp("{\"a\":[1,2,3]}", "{\"a\":[1,2]}", 1, NULL, 0), 0);
    assert_string_equal(where, "$.a.length");
    assert_int_equal(cmp("{\"a\":[{\"id\":1},{\"id\":2}]}",
                         "{\"a\":[{\"id\":1},{\"id\":3}]}", 1, NULL, 0), 0);
    assert_string_equal(where, "$.a[1].id");
    assert_int_equal(cmp("{\"a\":1}", "{\"a\":1,\"b\":null}", 1, NULL, 0),
                     0);
    assert_string_equal(where, "$.b");
    assert_int_equal(cmp("{\"a\":\"1\"}", "{\"a\":1}", 1, NULL, 0), 0);
    assert_int_equal(cmp("[true]", "[false]", 1, NULL, 0), 0);
    assert_string_equal(where, "$[0]");

    /* ignored fields, at the top, nested, and through arrays */
    assert_int_equal(cmp("{\"now\":1,\"meta\":{\"generated_at\":5,\"v\":2},"
                         "\"items\":[{\"id\":1,\"etag\":\"x\"}]}",
                         "{\"now\":2,\"meta\":{\"generated_at\":6,\"v\":2},"
                         "\"items\":[{\"id\":1,\"etag\":\"y\"}]}", 1, ignore,
                         3), 1);
    assert_int_equal(cmp("{\"meta\":{\"generated_at\":5,\"v\":2}}",
                         "{\"meta\":{\"v\":3}}", 1, ignore, 3), 0);
    assert_string_equal(where, "$.meta.v");
    /* a field of that name elsewhere still counts */
    assert_int_equal(cmp("{\"x\":{\"now\":1}}", "{\"x\":{\"now\":2}}", 1,
                         ignore, 3), 0);
    assert_string_equal(where, "$.x.now");
}

static void
compare_bytes_when_not_json(void **state)
{
    (void) state;
    assert_int_equal(cmp("hello", "hello", 1, NULL, 0), 1);
    assert_int_equal(cmp("hello", "help!", 1, NULL, 0), 0);
    assert_string_equal(where, "byte 3");
    assert_int_equal(cmp("{\"a\":1}", "{\"a\":1}x", 1, NULL, 0), 0);
    assert_string_equal(where, "byte 7");
    /* json off: key order matters */
    assert_int_equal(cmp("{\"a\":1,\"b\":2}", "{\"b\":2,\"a\":1}", 0, NULL,
                         0), 0);
    assert_int_equal(cmp("", "", 1, NULL, 0), 1);
    assert_int_equal(fpmd_compare_bodies("a\0b", 3, "a\0c", 3, 0, NULL, 0,
                                         where, sizeof(where)), 0);
    assert_string_equal(where, "byte 2");
}

static void
compare_refuses_deep_json_as_json(void **state)
{
    char a[400], b[400];
    size_t n = 0;

    (void) state;
    for (int i = 0; i < 100; i++)
        a[n++] = '[';
    for (int i = 0; i < 100; i++)
        a[n++] = ']';
    a[n] = '\0';
    memcpy(b, a, n + 1);
    /* too deep to parse: compared as the same bytes */
    assert_int_equal(cmp(a, b, 1, NULL, 0), 1);
    b[150] = ' ';
    assert_int_equal(cmp(a, b, 1, NULL, 0), 0);
    assert_string_equal(where, "byte 150");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(compare_json_structurally),
        cmocka_unit_test(compare_bytes_when_not_json),
        cmocka_unit_test(compare_refuses_deep_json_as_json),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
