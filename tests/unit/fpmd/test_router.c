/* SPDX-License-Identifier: BSD-2-Clause */
/* The router: handlers collected from the linker section, config routes by
 * handler name, exact matches, 404/405 with Allow, HEAD through GET, and
 * duplicate routes refused with both places named. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fpmd/conf.h"
#include "fpmd/router.h"

void
fpmd_assert_fail(const char *expr, const char *file, int line)
{
    fail_msg("assertion %s failed at %s:%d", expr, file, line);
    abort();
}

FPMD_ROUTE(users, "GET,POST", "/users")
{
    (void) req;
    return FPMD_OK;
}

FPMD_HANDLER(hello)
{
    (void) req;
    return FPMD_OK;
}

FPMD_HANDLER(status)
{
    (void) req;
    return FPMD_OK;
}

FPMD_HANDLER(ping)
{
    (void) req;
    return FPMD_OK;
}

static void
init_conf(struct fpmd_conf *c, struct fpmd_conf_route *routes, size_t n)
{
    memset(c, 0, sizeof(*c));
    c->file = "test.yaml";
    c->status.path = "/status";
    c->status.ping_path = "/ping";
    c->routes = routes;
    c->nroutes = n;
}

static void
router_matches_config_and_section_routes(void **state)
{
    struct fpmd_conf_route routes[] = {
        {"GET", "/hello", "hello", {"test.yaml", 3, 5}},
    };
    struct fpmd_conf conf;
    const struct fpmd_route *rt = NULL;
    struct fpmd_router *r;
    char err[512], allow[64];

    (void) state;
    init_conf(&conf, routes, 1);
    r = fpmd_router_build(&conf, err, sizeof(err));
    assert_non_null(r);
    assert_int_equal(fpmd_router_match(r, "GET", "/hello", &rt, allow,
                                       sizeof(allow)), 200);
    assert_string_equal(rt->handler->name, "hello");
    assert_int_equal(fpmd_router_match(r, "POST", "/users", &rt, allow,
                                       sizeof(allow)), 200);
    assert_string_equal(rt->handler->name, "users");
    assert_int_equal(fpmd_router_match(r, "DELETE", "/status", &rt, allow,
                                       sizeof(allow)), 200);
    assert_string_equal(rt->handler->name, "status");
    assert_int_equal(fpmd_router_match(r, "GET", "/nope", &rt, allow,
                                       sizeof(allow)), 404);
    fpmd_router_free(r);
}

static void
router_answers_405_with_allow_and_serves_head_by_get(void **state)
{
    struct fpmd_conf_route routes[] = {
        {"GET", "/hello", "hello", {"test.yaml", 3, 5}},
    };
    struct fpmd_conf conf;
    const struct fpmd_route *rt = NULL;
    struct fpmd_router *r;
    char err[512], allow[64];

    (void) state;
    init_conf(&conf, routes, 1);
    r = fpmd_router_build(&conf, err, sizeof(err));
    assert_non_null(r);
    assert_int_equal(fpmd_router_match(r, "HEAD", "/hello", &rt, allow,
                                       sizeof(allow)), 200);
    assert_int_equal(fpmd_router_match(r, "POST", "/hello", &rt, allow,
                                       sizeof(allow)), 405);
    assert_string_equal(allow, "GET, HEAD");
    assert_int_equal(fpmd_router_match(r, "DELETE", "/users", &rt, allow,
                                       sizeof(allow)), 405);
    assert_string_equal(allow, "GET, POST, HEAD");
    fpmd_router_free(r);
}

static void
router_refuses_duplicate_route_naming_both_places(void **state)
{
    struct fpmd_conf_route routes[] = {
        {"GET", "/hello", "hello", {"test.yaml", 3, 5}},
        {"GET,PUT", "/hello", "status", {"test.yaml", 5, 5}},
        {"POST", "/users", "hello", {"test.yaml", 7, 5}},
        {NULL, "/x", "missing", {"test.yaml", 9, 14}},
    };
    struct fpmd_conf conf;
    char err[1024];

    (void) state;
    init_conf(&conf, routes, 4);
    assert_null(fpmd_router_build(&conf, err, sizeof(err)));
    assert_non_null(strstr(err, "test.yaml:5:5: route GET,PUT /hello "
                                "duplicates the one declared at "
                                "test.yaml:3:5"));
    assert_non_null(strstr(err, "test.yaml:7:5: route POST /users "
                                "duplicates the one declared at "));
    assert_non_null(strstr(err, "test_router.c:"));
    assert_non_null(strstr(err, "test.yaml:9:14: unknown handler \"missing\""));
}

static void
router_accepts_a_config_route_identical_to_the_declared_one(void **state)
{
    struct fpmd_conf_route routes[] = {
        {"GET,POST", "/users", "users", {"test.yaml", 3, 5}},
        {"PUT", "/users", "hello", {"test.yaml", 5, 5}},
    };
    struct fpmd_conf conf;
    const struct fpmd_route *rt = NULL;
    struct fpmd_router *r;
    char err[512], allow[64];

    (void) state;
    init_conf(&conf, routes, 2);
    r = fpmd_router_build(&conf, err, sizeof(err));
    assert_non_null(r);
    assert_int_equal(fpmd_router_match(r, "PUT", "/users", &rt, allow,
                                       sizeof(allow)), 200);
    assert_string_equal(rt->handler->name, "hello");
    fpmd_router_free(r);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(router_matches_config_and_section_routes),
        cmocka_unit_test(router_answers_405_with_allow_and_serves_head_by_get),
        cmocka_unit_test(router_refuses_duplicate_route_naming_both_places),
        cmocka_unit_test(router_accepts_a_config_route_identical_to_the_declared_one),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
