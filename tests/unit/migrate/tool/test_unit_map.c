/* SPDX-License-Identifier: BSD-2-Clause */
/* import-unit's mapping helpers: Unit's uri patterns as fpmd routes,
 * shares as static roots, listener names as listen addresses, JSON
 * pointers; and whole small configs through fpmd_unit_map: what the
 * routes become, which steps are left out, the errors for bad input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fpmd/common.h"
#include "migrate/tool/unit_map.h"

static void
uri_patterns_become_paths_trees_and_prefixes(void **state)
{
    char path[64];
    const char *why;

    (void) state;
    assert_int_equal(fpmd_unit_uri("/a/b", path, sizeof(path), &why),
                     FPMD_UNIT_URI_EXACT);
    assert_string_equal(path, "/a/b");
    assert_int_equal(fpmd_unit_uri("/a/*", path, sizeof(path), &why),
                     FPMD_UNIT_URI_TREE);
    assert_string_equal(path, "/a/*");
    assert_int_equal(fpmd_unit_uri("/blog*", path, sizeof(path), &why),
                     FPMD_UNIT_URI_PREFIX);
    assert_string_equal(path, "/blog");
    assert_int_equal(fpmd_unit_uri("*", path, sizeof(path), &why),
                     FPMD_UNIT_URI_ANY);
}

static void
uri_patterns_fpmd_cannot_route_say_why(void **state)
{
    static const char *const bad[] = {"*.php", "!/admin", "~^/x$",
                                      "/a/*/b", "/{id}", "/a b", "x"};
    char path[8];
    const char *why;

    (void) state;
    for (size_t i = 0; i < FPMD_ARRAY_LEN(bad); i++) {
        why = NULL;
        assert_int_equal(fpmd_unit_uri(bad[i], path, sizeof(path), &why),
                         FPMD_UNIT_URI_NONE);
        assert_non_null(why);
    }
    assert_int_equal(fpmd_unit_uri("/longer-than-eight", path, sizeof(path),
                                   &why), FPMD_UNIT_URI_NONE);
}

static void
shares_with_a_trailing_uri_are_roots(void **state)
{
    char root[32];
    const char *why;

    (void) state;
    assert_int_equal(fpmd_unit_share_root("/srv/www$uri", root, sizeof(root),
                                          &why), FPMD_OK);
    assert_string_equal(root, "/srv/www");
    assert_int_equal(fpmd_unit_share_root("/srv/www/${uri}", root,
                                          sizeof(root), &why), FPMD_OK);
    assert_string_equal(root, "/srv/www");
    assert_int_equal(fpmd_unit_share_root("/$uri", root, sizeof(root), &why),
                     FPMD_OK);
    assert_string_equal(root, "/");
    assert_int_equal(fpmd_unit_share_root("/srv/index.html", root,
                                          sizeof(root), &why), FPMD_ERROR);
    assert_non_null(strstr(why, "fixed file"));
    assert_int_equal(fpmd_unit_share_root("/srv/$host$uri", root,
                                          sizeof(root), &why), FPMD_ERROR);
    assert_int_equal(fpmd_unit_share_root("srv$uri", root, sizeof(root),
                                          &why), FPMD_ERROR);
}

static void
listener_names_become_listen_addresses(void **state)
{
    char addr[64];
    const char *why;

    (void) state;
    assert_int_equal(fpmd_unit_listen_addr("*:80", addr, sizeof(addr), &why),
                     FPMD_OK);
    assert_string_equal(addr, "*:80");
    assert_int_equal(fpmd_unit_listen_addr("[::1]:8080", addr, sizeof(addr),
                                           &why), FPMD_OK);
    assert_int_equal(fpmd_unit_listen_addr("unix:/run/u.sock", addr,
                                           sizeof(addr), &why), FPMD_OK);
    assert_string_equal(addr, "/run/u.sock");
    assert_int_equal(fpmd_unit_listen_addr("unix:rel.sock", addr,
                                           sizeof(addr), &why), FPMD_ERROR);
    assert_int_equal(fpmd_unit_listen_addr("*:0", addr, sizeof(addr), &why),
                     FPMD_ERROR);
    assert_int_equal(fpmd_unit_listen_addr("host:80", addr, sizeof(addr),
                                           &why), FPMD_ERROR);
}

static void
json_pointers_escape_tilde_and_slash(void **state)
{
    char *p = fpmd_unit_pointer("/listeners", "unix:/a~b");

    (void) state;
    assert_string_equal(p, "/listeners/unix:~1a~0b");
    free(p);
}

/* The report line for where, or NULL. */
static const char *
line_for(const struct fpmd_unit_out *out, const char *where)
{
    size_t n = strlen(where);

    for (size_t i = 0; i < out->nreport; i++) {
        if (strncmp(out->report[i], where, n) == 0
            && out->report[i][n] == ':')
            return out->report[i];
    }
    return NULL;
}

static int
map(const char *json, struct fpmd_unit_out *out)
{
    struct fpmd_unit_opts opts = {.socket_dir = "/run/php"};

    return fpmd_unit_map(json, strlen(json), &opts, out);
}

static void
a_later_step_an_earlier_one_covers_is_left_out(void **state)
{
    struct fpmd_unit_out out;

    (void) state;
    assert_int_equal(map("{\"listeners\": {\"*:80\": {\"pass\": \"routes\"}},"
                         "\"routes\": [{\"match\": {\"uri\": \"/a/*\"}, "
                         "\"action\": {\"return\": 404}}, {\"match\": "
                         "{\"uri\": \"/a/b\", \"method\": \"GET\"}, "
                         "\"action\": {\"return\": 410}}]}", &out),
                     FPMD_OK);
    assert_non_null(strstr(line_for(&out, "/routes/1"), "left out"));
    assert_non_null(strstr(out.yaml, "match: \"/a/*\"\n    to: 404"));
    assert_null(strstr(out.yaml, "410"));
    fpmd_unit_out_free(&out);
}

static void
a_later_route_on_one_path_keeps_the_other_methods(void **state)
{
    struct fpmd_unit_out out;

    (void) state;
    assert_int_equal(map("{\"listeners\": {\"*:80\": {\"pass\": \"routes\"}},"
                         "\"routes\": [{\"match\": {\"uri\": \"/x\", "
                         "\"method\": \"GET\"}, \"action\": {\"return\": "
                         "404}}, {\"match\": {\"uri\": \"/x\", \"method\": "
                         "[\"get\", \"POST\"]}, \"action\": {\"return\": "
                         "405}}]}", &out), FPMD_OK);
    assert_non_null(strstr(out.yaml, "match: \"POST /x\"\n    to: 405"));
    fpmd_unit_out_free(&out);
}

static void
arguments_become_a_shim_query(void **state)
{
    struct fpmd_unit_out out;

    (void) state;
    assert_int_equal(map("{\"listeners\": {\"*:80\": {\"pass\": \"routes\"}},"
                         "\"routes\": [{\"match\": {\"uri\": \"/s\", "
                         "\"arguments\": {\"q\": \"*\"}}, \"action\": "
                         "{\"return\": 404}}]}", &out), FPMD_OK);
    assert_non_null(strstr(out.yaml, "script: /s\n      query:\n"
                                     "        q: \"*\"\n"));
    fpmd_unit_out_free(&out);
}

static void
wrong_types_and_bad_json_are_errors(void **state)
{
    static const char *const bad[] = {
        "", "[]", "{\"listeners\": []}", "{\"listeners\": {\"*:80\": 1}}",
        "{\"listeners\": {\"*:80\": {\"pass\": 5}}}",
        "{\"listeners\": {\"*:80\": {\"pass\": \"routes\"}}, \"routes\": "
        "[{\"action\": {\"return\": \"404\"}}]}",
        "{\"listeners\": {}}", "{} {}", "{\"a\": \"\\xff\"}",
    };
    struct fpmd_unit_out out;

    (void) state;
    for (size_t i = 0; i < FPMD_ARRAY_LEN(bad); i++) {
        assert_int_equal(map(bad[i], &out), FPMD_ERROR);
        assert_true(out.nerrors > 0);
        assert_null(out.yaml);
        fpmd_unit_out_free(&out);
    }
}

static void
nesting_is_bounded(void **state)
{
    char deep[4 * FPMD_UNIT_DEPTH_MAX + 1];
    struct fpmd_unit_out out;

    (void) state;
    memset(deep, '[', sizeof(deep) - 1);
    deep[sizeof(deep) - 1] = '\0';
    assert_int_equal(map(deep, &out), FPMD_ERROR);
    assert_non_null(strstr(out.errors[0], "deep"));
    fpmd_unit_out_free(&out);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(uri_patterns_become_paths_trees_and_prefixes),
        cmocka_unit_test(uri_patterns_fpmd_cannot_route_say_why),
        cmocka_unit_test(shares_with_a_trailing_uri_are_roots),
        cmocka_unit_test(listener_names_become_listen_addresses),
        cmocka_unit_test(json_pointers_escape_tilde_and_slash),
        cmocka_unit_test(a_later_step_an_earlier_one_covers_is_left_out),
        cmocka_unit_test(a_later_route_on_one_path_keeps_the_other_methods),
        cmocka_unit_test(arguments_become_a_shim_query),
        cmocka_unit_test(wrong_types_and_bad_json_are_errors),
        cmocka_unit_test(nesting_is_bounded),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
