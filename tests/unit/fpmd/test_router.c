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

/* A config route, as the loader would fill it. */
#define ROUTE(m, p, h, l, c)                                                 \
    {.methods = m, .path = p, .handler = h, .pos = {"test.yaml", l, c}}

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

/* The HTTP status a request routes to, checking the return code agrees:
 * FPMD_OK for a route, FPMD_DECLINED with the status for none. */
static int
status_of(int rc, const struct fpmd_route_match *m)
{
    assert_int_equal(rc, m->status == 200 ? FPMD_OK : FPMD_DECLINED);
    return m->status;
}

#define MATCH(r, method, path, m) \
    status_of(fpmd_router_match(r, method, path, m), m)
#define MATCH_REQ(r, q, m) status_of(fpmd_router_match_req(r, q, m), m)

static void
router_matches_config_and_section_routes(void **state)
{
    struct fpmd_conf_route routes[] = {
        ROUTE("GET", "/hello", "hello", 3, 5),
    };
    struct fpmd_conf conf;
    struct fpmd_route_match m;
    struct fpmd_router *r;
    char err[512];

    (void) state;
    init_conf(&conf, routes, 1);
    r = fpmd_router_build(&conf, err, sizeof(err));
    assert_non_null(r);
    assert_int_equal(MATCH(r, "GET", "/hello", &m), 200);
    assert_string_equal(m.route->handler->name, "hello");
    assert_int_equal(MATCH(r, "POST", "/users", &m), 200);
    assert_string_equal(m.route->handler->name, "users");
    assert_int_equal(MATCH(r, "DELETE", "/status", &m), 200);
    assert_string_equal(m.route->handler->name, "status");
    assert_int_equal(MATCH(r, "GET", "/nope", &m), 404);
    fpmd_router_free(r);
}

static void
router_answers_405_with_allow_and_serves_head_by_get(void **state)
{
    struct fpmd_conf_route routes[] = {
        ROUTE("GET", "/hello", "hello", 3, 5),
    };
    struct fpmd_conf conf;
    struct fpmd_route_match m;
    struct fpmd_router *r;
    char err[512];

    (void) state;
    init_conf(&conf, routes, 1);
    r = fpmd_router_build(&conf, err, sizeof(err));
    assert_non_null(r);
    assert_int_equal(MATCH(r, "HEAD", "/hello", &m), 200);
    assert_int_equal(MATCH(r, "POST", "/hello", &m), 405);
    assert_string_equal(m.allow, "GET, HEAD");
    assert_int_equal(MATCH(r, "DELETE", "/users", &m), 405);
    assert_string_equal(m.allow, "GET, POST, HEAD");
    fpmd_router_free(r);
}

static void
router_refuses_duplicate_route_naming_both_places(void **state)
{
    struct fpmd_conf_route routes[] = {
        ROUTE("GET", "/hello", "hello", 3, 5),
        ROUTE("GET,PUT", "/hello", "status", 5, 5),
        ROUTE("POST", "/users", "hello", 7, 5),
        ROUTE(NULL, "/x", "missing", 9, 14),
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
        ROUTE("GET,POST", "/users", "users", 3, 5),
        ROUTE("PUT", "/users", "hello", 5, 5),
    };
    struct fpmd_conf conf;
    struct fpmd_route_match m;
    struct fpmd_router *r;
    char err[512];

    (void) state;
    init_conf(&conf, routes, 2);
    r = fpmd_router_build(&conf, err, sizeof(err));
    assert_non_null(r);
    assert_int_equal(MATCH(r, "PUT", "/users", &m), 200);
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
        ROUTE("GET", "/users/{id}", "hello", 3, 5),
        ROUTE("GET", "/users/me", "status", 4, 5),
        ROUTE("DELETE", "/users/{id}/posts/{post}", "ping", 5, 5),
        ROUTE("GET", "/files/*", "hello", 6, 5),
        ROUTE("GET", "/users/{id}/*", "ping", 7, 5),
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
    assert_int_equal(MATCH(r, "GET", p, &m), 200);
    assert_string_equal(m.route->path, "/users/{id}");
    assert_int_equal(m.nparams, 1);
    assert_string_equal(param(&m, p, "id", buf, sizeof(buf)), "42");

    /* a literal segment beats a parameter */
    assert_int_equal(MATCH(r, "GET", "/users/me", &m), 200);
    assert_string_equal(m.route->handler->name, "status");
    assert_int_equal(m.nparams, 0);

    p = "/users/7/posts/99";
    assert_int_equal(MATCH(r, "DELETE", p, &m), 200);
    assert_string_equal(param(&m, p, "id", buf, sizeof(buf)), "7");
    assert_string_equal(param(&m, p, "post", buf, sizeof(buf)), "99");

    /* the same path for GET falls back to the wildcard under {id} */
    assert_int_equal(MATCH(r, "GET", p, &m), 200);
    assert_string_equal(m.route->path, "/users/{id}/*");
    assert_string_equal(param(&m, p, "*", buf, sizeof(buf)), "posts/99");

    p = "/files/css/site.css";
    assert_int_equal(MATCH(r, "HEAD", p, &m), 200);
    assert_string_equal(param(&m, p, "*", buf, sizeof(buf)), "css/site.css");
    assert_int_equal(MATCH(r, "GET", "/files/", &m), 200);
    assert_string_equal(param(&m, "/files/", "*", buf, sizeof(buf)), "");
    assert_int_equal(MATCH(r, "GET", "/files", &m), 404);
    assert_int_equal(MATCH(r, "GET", "/users/", &m), 404);
    assert_int_equal(MATCH(r, "GET", "/users//x", &m), 404);
    assert_int_equal(MATCH(r, "GET", "/nope/1", &m), 404);

    assert_int_equal(MATCH(r, "POST", "/users/42", &m), 405);
    assert_string_equal(m.allow, "GET, HEAD");
    assert_int_equal(MATCH(r, "PUT", "/users/1/posts/2", &m),
                     405);
    assert_string_equal(m.allow, "DELETE");
    fpmd_router_free(r);
}

static void
router_cache_answers_repeats_and_stays_bounded(void **state)
{
    struct fpmd_conf_route routes[] = {
        ROUTE("GET", "/u/{id}", "hello", 3, 5),
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
            assert_int_equal(MATCH(r, "GET", path, &m), 200);
            snprintf(err, sizeof(err), "%d", i);
            assert_string_equal(param(&m, path, "id", buf, sizeof(buf)), err);
        }
    }
    assert_int_equal(MATCH(r, "GET", "/u/5", &m), 200);
    assert_int_equal(MATCH(r, "GET", "/u/5", &m), 200);
    assert_string_equal(param(&m, "/u/5", "id", buf, sizeof(buf)), "5");
    assert_int_equal(MATCH(r, "POST", "/u/5", &m), 405);
    assert_int_equal(MATCH(r, "POST", "/u/5", &m), 405);
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
        ROUTE("GET", "/a/{id}", "hello", 3, 5),
        ROUTE("GET", "/a/{uid}/x", "hello", 4, 5),
        ROUTE("GET", "/b/x{id}", "hello", 5, 5),
        ROUTE("GET", "/c/*/d", "hello", 6, 5),
        ROUTE("GET", "/d/{1x}", "hello", 7, 5),
        ROUTE("GET", "/a/{id}", "status", 8, 5),
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

/* A param of a shim match, from whichever source it points into. */
static const char *
qparam(const struct fpmd_route_match *m, const struct fpmd_route_req *q,
       const char *name, char *buf, size_t len)
{
    for (unsigned i = 0; i < m->nparams; i++) {
        const struct fpmd_route_param *p = &m->params[i];
        const char *src = p->src == FPMD_PARAM_QUERY ? q->query
            : p->src == FPMD_PARAM_PATH_INFO ? q->path_info : q->path;

        if (strcmp(p->name, name) == 0) {
            snprintf(buf, len, "%.*s", (int) p->len, src + p->off);
            return buf;
        }
    }
    return NULL;
}

static const char *
routed(struct fpmd_router *r, const char *method, const char *script,
       const char *path_info, const char *query, struct fpmd_route_match *m)
{
    struct fpmd_route_req q = {method, script, script, path_info, query};

    if (MATCH_REQ(r, &q, m) != 200)
        return "-";
    return m->route->handler->name;
}

static void
router_matches_shims_in_config_order(void **state)
{
    struct fpmd_conf_pair show = {"action", "show"}, any_r = {"r", "*"};
    struct fpmd_conf_pair view[] = {{"r", "post/view"}, {"id", "*"}};
    struct fpmd_conf_shim s_show = {.script = "/api/user.php",
                                    .query = &show, .nquery = 1};
    struct fpmd_conf_shim s_view = {.script = "/index.php", .query = view,
                                    .nquery = 2};
    struct fpmd_conf_shim s_any = {.script = "/index.php", .query = &any_r,
                                   .nquery = 1};
    struct fpmd_conf_shim s_info = {.script = "/app.php",
                                    .path_info = "/users/{id}/*"};
    struct fpmd_conf_shim s_blog = {.prefix = "/blog/"};
    struct fpmd_conf_route routes[] = {
        ROUTE("GET", "/api/user.php?action=show", "hello", 3, 5),
        ROUTE(NULL, "/index.php?r=post/view&id=*", "status", 5, 5),
        ROUTE(NULL, "/index.php?r=*", "ping", 7, 5),
        ROUTE("GET", "/app.php path_info=/users/{id}/*", "users", 9, 5),
        ROUTE("POST", "/blog/*", "status", 11, 5),
        ROUTE(NULL, "/*", "hello", 13, 5),
    };
    struct fpmd_route_req q = {"GET", "/app.php", "/app.php",
                               "/users/42/avatar/big", ""};
    struct fpmd_conf conf;
    struct fpmd_route_match m;
    struct fpmd_router *r;
    char err[512], buf[64];

    (void) state;
    routes[0].shim = &s_show;
    routes[1].shim = &s_view;
    routes[2].shim = &s_any;
    routes[3].shim = &s_info;
    routes[4].shim = &s_blog;
    routes[5].handler = "status";
    init_conf(&conf, routes, 6);
    r = fpmd_router_build(&conf, err, sizeof(err));
    assert_non_null(r);
    assert_true(fpmd_router_has_shims(r));

    /* by script and query value; another value falls through */
    assert_string_equal(routed(r, "GET", "/api/user.php", NULL,
                               "id=5&action=show", &m), "hello");
    assert_int_equal(m.route->conf->pos.line, 3);
    assert_string_equal(routed(r, "HEAD", "/api/user.php", NULL,
                               "action=show", &m), "hello");
    assert_int_equal(routed(r, "POST", "/api/user.php", NULL, "action=show",
                            &m)[0], 's');
    assert_int_equal(m.route->conf->pos.line, 13);
    routed(r, "GET", "/api/user.php", NULL, "action=edit", &m);
    assert_int_equal(m.route->conf->pos.line, 13);
    routed(r, "GET", "/api/user.php", NULL, "xaction=show", &m);
    assert_int_equal(m.route->conf->pos.line, 13);
    routed(r, "GET", "/api/user.php", NULL, NULL, &m);
    assert_int_equal(m.route->conf->pos.line, 13);

    /* front controller: the more specific shim first wins; decoded
     * comparison; the matched values are params */
    q.script = q.path = "/index.php";
    q.path_info = NULL;
    q.query = "r=post%2Fview&id=7";
    assert_int_equal(MATCH_REQ(r, &q, &m), 200);
    assert_int_equal(m.route->conf->pos.line, 5);
    assert_string_equal(qparam(&m, &q, "r", buf, sizeof(buf)),
                        "post%2Fview");
    assert_string_equal(qparam(&m, &q, "id", buf, sizeof(buf)), "7");
    q.query = "r=post/view";
    assert_int_equal(MATCH_REQ(r, &q, &m), 200);
    assert_int_equal(m.route->conf->pos.line, 7);
    q.query = "r=";
    assert_int_equal(MATCH_REQ(r, &q, &m), 200);
    assert_int_equal(m.route->conf->pos.line, 7);
    assert_string_equal(qparam(&m, &q, "r", buf, sizeof(buf)), "");
    q.query = "r+x=1";
    assert_int_equal(MATCH_REQ(r, &q, &m), 200);
    assert_int_equal(m.route->conf->pos.line, 13);

    /* PATH_INFO pattern with {id} and a trailing wildcard */
    q.script = q.path = "/app.php";
    q.path_info = "/users/42/avatar/big";
    assert_int_equal(MATCH_REQ(r, &q, &m), 200);
    assert_string_equal(m.route->handler->name, "users");
    assert_string_equal(qparam(&m, &q, "id", buf, sizeof(buf)), "42");
    assert_string_equal(qparam(&m, &q, "*", buf, sizeof(buf)), "avatar/big");
    q.path_info = "/users//x";
    assert_int_equal(MATCH_REQ(r, &q, &m), 200);
    assert_int_equal(m.route->conf->pos.line, 13);
    q.path_info = NULL;
    assert_int_equal(MATCH_REQ(r, &q, &m), 200);
    assert_int_equal(m.route->conf->pos.line, 13);

    /* a path prefix, its rest as "*"; method-bound */
    q.method = "POST";
    q.script = q.path = "/blog/2024/hello";
    assert_int_equal(MATCH_REQ(r, &q, &m), 200);
    assert_int_equal(m.route->conf->pos.line, 11);
    assert_string_equal(qparam(&m, &q, "*", buf, sizeof(buf)), "2024/hello");
    q.method = "GET";
    assert_int_equal(MATCH_REQ(r, &q, &m), 200);
    assert_int_equal(m.route->conf->pos.line, 13);
    fpmd_router_free(r);
}

/* A shim that held for the query but not for PATH_INFO leaves query
 * params in m; the path route matched next gives its params from the
 * path, and so does the route cache's copy. */
static void
router_gives_path_params_from_the_path_after_a_shim_fails(void **state)
{
    struct fpmd_conf_pair view = {"r", "post/view"};
    struct fpmd_conf_shim s_view = {.script = "/index.php", .query = &view,
                                    .nquery = 1, .path_info = "/users/{id}"};
    struct fpmd_conf_route routes[] = {
        ROUTE("GET", "/index.php?r=post/view", "hello", 3, 5),
        ROUTE("GET", "/index.php/{rest}", "status", 5, 5),
    };
    struct fpmd_route_req q = {"GET", "/index.php/abc", "/index.php", "/abc",
                               "r=post/view"};
    struct fpmd_conf conf;
    struct fpmd_route_match m;
    struct fpmd_router *r;
    char err[512], buf[64];

    (void) state;
    routes[0].shim = &s_view;
    init_conf(&conf, routes, 2);
    r = fpmd_router_build(&conf, err, sizeof(err));
    assert_non_null(r);
    assert_int_equal(MATCH_REQ(r, &q, &m), 200);
    assert_string_equal(m.route->handler->name, "status");
    assert_int_equal(m.nparams, 1);
    assert_int_equal(m.params[0].src, FPMD_PARAM_PATH);
    assert_string_equal(qparam(&m, &q, "rest", buf, sizeof(buf)), "abc");
    memset(&m, 0, sizeof(m));
    assert_int_equal(MATCH(r, "GET", "/index.php/abc", &m), 200);
    assert_int_equal(m.params[0].src, FPMD_PARAM_PATH);
    fpmd_router_free(r);
}

static void
router_reports_shims_an_earlier_one_shadows(void **state)
{
    struct fpmd_conf_pair any_r = {"r", "*"}, view = {"r", "post/view"};
    struct fpmd_conf_pair show = {"action", "show"};
    struct fpmd_conf_shim s_any = {.script = "/index.php", .query = &any_r,
                                   .nquery = 1};
    struct fpmd_conf_shim s_view = {.script = "/index.php", .query = &view,
                                    .nquery = 1};
    struct fpmd_conf_shim s_show = {.script = "/index.php", .query = &show,
                                    .nquery = 1};
    struct fpmd_conf_shim s_blog = {.prefix = "/blog/"};
    struct fpmd_conf_shim s_blog2 = {.prefix = "/blog/2024/"};
    struct fpmd_conf_route routes[] = {
        ROUTE(NULL, "/index.php?r=*", "hello", 3, 5),
        ROUTE("GET", "/index.php?r=post/view", "status", 5, 5),
        ROUTE("GET", "/index.php?action=show", "status", 7, 5),
        ROUTE("GET,POST", "/blog/*", "status", 9, 5),
        ROUTE("POST", "/blog/2024/*", "ping", 11, 5),
        ROUTE("GET", "/blog/2024/*", "ping", 13, 5),
    };
    const struct fpmd_route *shadowed[4], *by[4];
    struct fpmd_conf conf;
    struct fpmd_router *r;
    char err[512];

    (void) state;
    routes[0].shim = &s_any;
    routes[1].shim = &s_view;
    routes[2].shim = &s_show;
    routes[3].shim = &s_blog;
    routes[4].shim = &s_blog2;
    routes[5].shim = &s_blog2;
    init_conf(&conf, routes, 6);
    r = fpmd_router_build(&conf, err, sizeof(err));
    assert_non_null(r);
    assert_int_equal(fpmd_router_shadowed(r, shadowed, by, 4), 3);
    assert_int_equal(shadowed[0]->conf->pos.line, 5);
    assert_int_equal(by[0]->conf->pos.line, 3);
    assert_int_equal(shadowed[1]->conf->pos.line, 11);
    assert_int_equal(by[1]->conf->pos.line, 9);
    assert_int_equal(shadowed[2]->conf->pos.line, 13);
    assert_int_equal(by[2]->conf->pos.line, 9);
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
        cmocka_unit_test(router_matches_params_and_wildcards_by_precedence),
        cmocka_unit_test(router_cache_answers_repeats_and_stays_bounded),
        cmocka_unit_test(router_refuses_malformed_patterns),
        cmocka_unit_test(router_matches_shims_in_config_order),
        cmocka_unit_test(router_gives_path_params_from_the_path_after_a_shim_fails),
        cmocka_unit_test(router_reports_shims_an_earlier_one_shadows),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
