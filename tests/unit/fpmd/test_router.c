/* SPDX-License-Identifier: BSD-2-Clause */
/* The router: handlers collected from the linker section, config routes by
 * handler name, exact matches, {param} and wildcard patterns, the match
 * cache, 404/405 with Allow, HEAD through GET, and duplicate or malformed
 * routes refused with their places named. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
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
        {"GET", "/hello", "hello", {"test.yaml", 3, 5}, NULL},
    };
    struct fpmd_conf conf;
    struct fpmd_route_match m;
    struct fpmd_router *r;
    char err[512];

    (void) state;
    init_conf(&conf, routes, 1);
    r = fpmd_router_build(&conf, err, sizeof(err));
    assert_non_null(r);
    assert_int_equal(fpmd_router_match(r, "GET", "/hello", &m), 200);
    assert_string_equal(m.route->handler->name, "hello");
    assert_int_equal(fpmd_router_match(r, "POST", "/users", &m), 200);
    assert_string_equal(m.route->handler->name, "users");
    assert_int_equal(fpmd_router_match(r, "DELETE", "/status", &m), 200);
    assert_string_equal(m.route->handler->name, "status");
    assert_int_equal(fpmd_router_match(r, "GET", "/nope", &m), 404);
    fpmd_router_free(r);
}

static void
router_answers_405_with_allow_and_serves_head_by_get(void **state)
{
    struct fpmd_conf_route routes[] = {
        {"GET", "/hello", "hello", {"test.yaml", 3, 5}, NULL},
    };
    struct fpmd_conf conf;
    struct fpmd_route_match m;
    struct fpmd_router *r;
    char err[512];

    (void) state;
    init_conf(&conf, routes, 1);
    r = fpmd_router_build(&conf, err, sizeof(err));
    assert_non_null(r);
    assert_int_equal(fpmd_router_match(r, "HEAD", "/hello", &m), 200);
    assert_int_equal(fpmd_router_match(r, "POST", "/hello", &m), 405);
    assert_string_equal(m.allow, "GET, HEAD");
    assert_int_equal(fpmd_router_match(r, "DELETE", "/users", &m), 405);
    assert_string_equal(m.allow, "GET, POST, HEAD");
    fpmd_router_free(r);
}

static void
router_refuses_duplicate_route_naming_both_places(void **state)
{
    struct fpmd_conf_route routes[] = {
        {"GET", "/hello", "hello", {"test.yaml", 3, 5}, NULL},
        {"GET,PUT", "/hello", "status", {"test.yaml", 5, 5}, NULL},
        {"POST", "/users", "hello", {"test.yaml", 7, 5}, NULL},
        {NULL, "/x", "missing", {"test.yaml", 9, 14}, NULL},
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
        {"GET,POST", "/users", "users", {"test.yaml", 3, 5}, NULL},
        {"PUT", "/users", "hello", {"test.yaml", 5, 5}, NULL},
    };
    struct fpmd_conf conf;
    struct fpmd_route_match m;
    struct fpmd_router *r;
    char err[512];

    (void) state;
    init_conf(&conf, routes, 2);
    r = fpmd_router_build(&conf, err, sizeof(err));
    assert_non_null(r);
    assert_int_equal(fpmd_router_match(r, "PUT", "/users", &m), 200);
    assert_string_equal(m.route->handler->name, "hello");
    fpmd_router_free(r);
}

static const char *
param(const struct fpmd_route_match *m, const char *path, const char *name,
      char *buf, size_t len)
{
    for (unsigned i = 0; i < m->nparams; i++) {
        if (strcmp(m->params[i].name, name) == 0) {
            snprintf(buf, len, "%.*s", (int) m->params[i].len,
                     path + m->params[i].off);
            return buf;
        }
    }
    return NULL;
}

static void
router_matches_params_and_wildcards_by_precedence(void **state)
{
    struct fpmd_conf_route routes[] = {
        {"GET", "/users/{id}", "hello", {"test.yaml", 3, 5}, NULL},
        {"GET", "/users/me", "status", {"test.yaml", 4, 5}, NULL},
        {"DELETE", "/users/{id}/posts/{post}", "ping", {"test.yaml", 5, 5}, NULL},
        {"GET", "/files/*", "hello", {"test.yaml", 6, 5}, NULL},
        {"GET", "/users/{id}/*", "ping", {"test.yaml", 7, 5}, NULL},
    };
    struct fpmd_conf conf;
    struct fpmd_route_match m;
    struct fpmd_router *r;
    char err[512], buf[64];
    const char *p;

    (void) state;
    init_conf(&conf, routes, 5);
    r = fpmd_router_build(&conf, err, sizeof(err));
    assert_non_null(r);

    p = "/users/42";
    assert_int_equal(fpmd_router_match(r, "GET", p, &m), 200);
    assert_string_equal(m.route->path, "/users/{id}");
    assert_int_equal(m.nparams, 1);
    assert_string_equal(param(&m, p, "id", buf, sizeof(buf)), "42");

    /* a literal segment beats a parameter */
    assert_int_equal(fpmd_router_match(r, "GET", "/users/me", &m), 200);
    assert_string_equal(m.route->handler->name, "status");
    assert_int_equal(m.nparams, 0);

    p = "/users/7/posts/99";
    assert_int_equal(fpmd_router_match(r, "DELETE", p, &m), 200);
    assert_string_equal(param(&m, p, "id", buf, sizeof(buf)), "7");
    assert_string_equal(param(&m, p, "post", buf, sizeof(buf)), "99");

    /* the same path for GET falls back to the wildcard under {id} */
    assert_int_equal(fpmd_router_match(r, "GET", p, &m), 200);
    assert_string_equal(m.route->path, "/users/{id}/*");
    assert_string_equal(param(&m, p, "*", buf, sizeof(buf)), "posts/99");

    p = "/files/css/site.css";
    assert_int_equal(fpmd_router_match(r, "HEAD", p, &m), 200);
    assert_string_equal(param(&m, p, "*", buf, sizeof(buf)), "css/site.css");
    assert_int_equal(fpmd_router_match(r, "GET", "/files/", &m), 200);
    assert_string_equal(param(&m, "/files/", "*", buf, sizeof(buf)), "");
    assert_int_equal(fpmd_router_match(r, "GET", "/files", &m), 404);
    assert_int_equal(fpmd_router_match(r, "GET", "/users/", &m), 404);
    assert_int_equal(fpmd_router_match(r, "GET", "/users//x", &m), 404);
    assert_int_equal(fpmd_router_match(r, "GET", "/nope/1", &m), 404);

    assert_int_equal(fpmd_router_match(r, "POST", "/users/42", &m), 405);
    assert_string_equal(m.allow, "GET, HEAD");
    assert_int_equal(fpmd_router_match(r, "PUT", "/users/1/posts/2", &m),
                     405);
    assert_string_equal(m.allow, "DELETE");
    fpmd_router_free(r);
}

static void
router_cache_answers_repeats_and_stays_bounded(void **state)
{
    struct fpmd_conf_route routes[] = {
        {"GET", "/u/{id}", "hello", {"test.yaml", 3, 5}, NULL},
    };
    struct fpmd_conf conf;
    struct fpmd_route_match m;
    struct fpmd_router_stats st;
    struct fpmd_router *r;
    char err[512], path[64], buf[64];

    (void) state;
    init_conf(&conf, routes, 1);
    r = fpmd_router_build(&conf, err, sizeof(err));
    assert_non_null(r);
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < 4 * FPMD_ROUTE_CACHE_SLOTS; i++) {
            snprintf(path, sizeof(path), "/u/%d", i);
            assert_int_equal(fpmd_router_match(r, "GET", path, &m), 200);
            snprintf(err, sizeof(err), "%d", i);
            assert_string_equal(param(&m, path, "id", buf, sizeof(buf)), err);
        }
    }
    assert_int_equal(fpmd_router_match(r, "GET", "/u/5", &m), 200);
    assert_int_equal(fpmd_router_match(r, "GET", "/u/5", &m), 200);
    assert_string_equal(param(&m, "/u/5", "id", buf, sizeof(buf)), "5");
    assert_int_equal(fpmd_router_match(r, "POST", "/u/5", &m), 405);
    assert_int_equal(fpmd_router_match(r, "POST", "/u/5", &m), 405);
    assert_string_equal(m.allow, "GET, HEAD");
    fpmd_router_stats(r, &st);
    assert_true(st.cache_hits >= 2);
    /* 2048 paths through 512 slots: at most 512 survive a round */
    assert_true(st.cache_misses >= 7 * FPMD_ROUTE_CACHE_SLOTS);
    assert_int_equal(st.patterns, 1);
    fpmd_router_free(r);
}

static void
router_refuses_malformed_patterns(void **state)
{
    struct fpmd_conf_route routes[] = {
        {"GET", "/a/{id}", "hello", {"test.yaml", 3, 5}, NULL},
        {"GET", "/a/{uid}/x", "hello", {"test.yaml", 4, 5}, NULL},
        {"GET", "/b/x{id}", "hello", {"test.yaml", 5, 5}, NULL},
        {"GET", "/c/*/d", "hello", {"test.yaml", 6, 5}, NULL},
        {"GET", "/d/{1x}", "hello", {"test.yaml", 7, 5}, NULL},
        {"GET", "/a/{id}", "status", {"test.yaml", 8, 5}, NULL},
    };
    struct fpmd_conf conf;
    char err[2048];

    (void) state;
    init_conf(&conf, routes, 6);
    assert_null(fpmd_router_build(&conf, err, sizeof(err)));
    assert_non_null(strstr(err, "test.yaml:4:5: route /a/{uid}/x: {uid} "
                                "where another route has {id}"));
    assert_non_null(strstr(err, "test.yaml:5:5: route /b/x{id}: {param} "
                                "must be a whole segment"));
    assert_non_null(strstr(err, "test.yaml:6:5: route /c/*/d:"));
    assert_non_null(strstr(err, "test.yaml:7:5: route /d/{1x}: {1x} is not"));
    assert_non_null(strstr(err, "test.yaml:8:5: route GET /a/{id} duplicates "
                                "the one declared at test.yaml:3:5"));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(router_matches_config_and_section_routes),
        cmocka_unit_test(router_answers_405_with_allow_and_serves_head_by_get),
        cmocka_unit_test(router_refuses_duplicate_route_naming_both_places),
        cmocka_unit_test(router_accepts_a_config_route_identical_to_the_declared_one),
        cmocka_unit_test(router_matches_params_and_wildcards_by_precedence),
        cmocka_unit_test(router_cache_answers_repeats_and_stays_bounded),
        cmocka_unit_test(router_refuses_malformed_patterns),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
