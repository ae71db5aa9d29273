/* SPDX-License-Identifier: BSD-2-Clause */
/* Status page formats: php-fpm's exact plain text, JSON that parses with
 * every field, markup that hostile request text cannot break, query
 * parsing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "handlers/status_render.h"

static struct fpmd_status_proc rows[2];
static struct fpmd_status_backend backends[2];
static struct fpmd_status_route routes[1];

static struct fpmd_status_snapshot
view(void)
{
    struct fpmd_status_snapshot v = {
        .pool = "www", .pm = "dynamic",
        .start_us = 1700000000000000ULL, .now_us = 1700000100000000ULL,
        .accepted_conn = 5, .listen_queue = 1, .max_listen_queue = 4,
        .listen_queue_len = 511, .idle = 1, .active = 1,
        .max_active = 2, .max_children_reached = 3, .slow_requests = 6,
        .in_flight = 7, .free_reqs = 11, .free_buffers = 12,
        .free_stacks = 13, .free_conns = 14, .procs = rows, .nprocs = 2,
        .backends = backends, .routes = routes, .refused_requests = 8,
    };
    static const struct fpmd_status_request none = {
        .method = "", .uri = "", .script = "", .user = "",
    };

    memset(rows, 0, sizeof(rows));
    memset(backends, 0, sizeof(backends));
    memset(routes, 0, sizeof(routes));
    rows[0].pid = 100;
    rows[0].state = FPMD_PROC_IDLE;
    rows[0].start_us = 1700000000000000ULL;
    rows[0].requests = 9;
    rows[0].req = none;
    rows[0].req.method = "GET";
    rows[0].req.uri = "/x\"><script>alert(1)</script>\n&";
    rows[0].req.duration_us = 1000;
    rows[0].req.cpu_us = 500;
    rows[0].free_reqs = 21;
    rows[0].free_buffers = 22;
    rows[0].free_stacks = 23;
    rows[0].free_conns = 24;
    rows[1].pid = 101;
    rows[1].state = FPMD_PROC_BUSY;
    rows[1].req = none;
    return v;
}

/* The page for v as a string (the caller frees it). */
static char *
render_view(const struct fpmd_status_snapshot *v, enum fpmd_status_format f,
            int full, const char **ctype)
{
    char *s = NULL;
    size_t n = 0;
    FILE *out = open_memstream(&s, &n);

    assert_non_null(out);
    assert_int_equal(fpmd_status_render(out, v, f, full, ctype), FPMD_OK);
    assert_int_equal(fclose(out), 0);
    return s;
}

static char *
render(enum fpmd_status_format f, int full, const char **ctype)
{
    struct fpmd_status_snapshot v = view();

    return render_view(&v, f, full, ctype);
}

static void
status_text_matches_php_fpm_layout(void **state)
{
    const char *ct;
    char *s = render(FPMD_STATUS_TEXT, 0, &ct);
    char start[64], expect[1024];
    time_t t = 1700000000;
    struct tm tm;

    (void) state;
    localtime_r(&t, &tm);
    strftime(start, sizeof(start), "%d/%b/%Y:%H:%M:%S %z", &tm);
    snprintf(expect, sizeof(expect),
             "pool:                 www\n"
             "process manager:      dynamic\n"
             "start time:           %s\n"
             "start since:          100\n"
             "accepted conn:        5\n"
             "listen queue:         1\n"
             "max listen queue:     4\n"
             "listen queue len:     511\n"
             "idle processes:       1\n"
             "active processes:     1\n"
             "total processes:      2\n"
             "max active processes: 2\n"
             "max children reached: 3\n"
             "slow requests:        6\n"
             "in flight requests:   7\n"
             "refused requests:     8\n"
             "free requests:        11\n"
             "free buffers:         12\n"
             "free stacks:          13\n"
             "free connections:     14\n", start);
    assert_string_equal(s, expect);
    assert_string_equal(ct, "text/plain");
    free(s);
    s = render(FPMD_STATUS_TEXT, 1, &ct);
    assert_non_null(strstr(s, "\n************************\npid:                  100\n"
                              "state:                Idle\n"));
    assert_non_null(strstr(s, "request URI:          /x\"><script>alert(1)</script>?&\n"));
    assert_non_null(strstr(s, "last request cpu:     50.00\n"));
    assert_non_null(strstr(s, "free requests:        21\n"
                              "free buffers:         22\n"
                              "free stacks:          23\n"
                              "free connections:     24\n"));
    free(s);
}

static void
status_json_parses_with_every_field(void **state)
{
    const char *ct;
    char *s = render(FPMD_STATUS_JSON, 1, &ct);
    json_object *j = json_tokener_parse(s), *procs, *p0, *v;

    (void) state;
    assert_non_null(j);
    assert_string_equal(ct, "application/json");
    assert_true(json_object_object_get_ex(j, "start time", &v));
    assert_int_equal(json_object_get_int64(v), 1700000000);
    assert_true(json_object_object_get_ex(j, "max children reached", &v));
    assert_int_equal(json_object_get_int(v), 3);
    assert_true(json_object_object_get_ex(j, "processes", &procs));
    assert_int_equal(json_object_array_length(procs), 2);
    p0 = json_object_array_get_idx(procs, 0);
    assert_true(json_object_object_get_ex(p0, "request uri", &v));
    assert_string_equal(json_object_get_string(v),
                        "/x\"><script>alert(1)</script>\n&");
    assert_true(json_object_object_get_ex(p0, "state", &v));
    assert_string_equal(json_object_get_string(v), "Idle");
    json_object_put(j);
    free(s);
}

static void
status_markup_escapes_request_text(void **state)
{
    const char *ct;
    char *s;

    (void) state;
    s = render(FPMD_STATUS_XML, 1, &ct);
    assert_string_equal(ct, "text/xml");
    assert_null(strstr(s, "<script>alert"));
    assert_non_null(strstr(s, "<request-uri>/x&quot;&gt;&lt;script&gt;"));
    assert_non_null(strstr(s, "<pool>www</pool>"));
    assert_non_null(strstr(s, "</status>\n"));
    free(s);
    s = render(FPMD_STATUS_HTML, 1, &ct);
    assert_string_equal(ct, "text/html");
    assert_null(strstr(s, "<script>alert"));
    free(s);
}

static void
status_openmetrics_has_php_fpm_names(void **state)
{
    const char *ct;
    char *s = render(FPMD_STATUS_OPENMETRICS, 0, &ct);

    (void) state;
    assert_non_null(strstr(ct, "application/openmetrics-text"));
    assert_non_null(strstr(s, "# TYPE phpfpm_up gauge\nphpfpm_up 1\n"));
    assert_non_null(strstr(s, "phpfpm_accepted_connections 5\n"));
    assert_non_null(strstr(s, "phpfpm_listen_queue_length 511\n"));
    assert_non_null(strstr(s, "phpfpm_max_children_reached 3\n"));
    assert_non_null(strstr(s, "phpfpm_free_connections 14\n"));
    assert_non_null(strstr(s, "phpfpm_refused_requests 8\n"));
    assert_int_equal(strcmp(s + strlen(s) - 6, "# EOF\n"), 0);
    free(s);
}

static void
status_routes_in_every_format(void **state)
{
    struct fpmd_status_snapshot v = view();
    struct fpmd_status_route *r = &routes[0];
    const char *ct;
    json_object *j, *list, *r0, *x;
    char *s;

    (void) state;
    v.nroutes = 1;
    r->label = "GET /api/user.php?action=\"show\"";
    r->handler = "user_show";
    r->native.requests = 98;
    r->native.errors = 1;
    r->native.p50_ms = 0.951;
    r->native.p99_ms = 86.108;
    r->legacy.requests = 2;
    r->shadow_compared = 40;
    r->shadow_mismatches = 3;
    for (int f = FPMD_STATUS_TEXT; f <= FPMD_STATUS_OPENMETRICS; f++) {
        s = render_view(&v, f, 0, &ct);
        switch (f) {
        case FPMD_STATUS_TEXT:
            assert_non_null(strstr(s, "\nroute:                GET /api/"
                                      "user.php?action=\"show\"\n"
                                      "handler:              user_show\n"
                                      "native requests:      98\n"
                                      "native errors:        1\n"
                                      "native p50 ms:        0.95\n"
                                      "native p99 ms:        86.11\n"
                                      "legacy requests:      2\n"));
            assert_non_null(strstr(s, "shadow mismatches:    3\n"));
            break;
        case FPMD_STATUS_JSON:
            j = json_tokener_parse(s);
            assert_non_null(j);
            assert_true(json_object_object_get_ex(j, "routes", &list));
            assert_int_equal(json_object_array_length(list), 1);
            r0 = json_object_array_get_idx(list, 0);
            assert_true(json_object_object_get_ex(r0, "name", &x));
            assert_string_equal(json_object_get_string(x),
                                "GET /api/user.php?action=\"show\"");
            assert_true(json_object_object_get_ex(r0, "shadow compared",
                                                  &x));
            assert_int_equal(json_object_get_int(x), 40);
            json_object_put(j);
            break;
        case FPMD_STATUS_XML:
            assert_non_null(strstr(s, "<routes>\n<route>\n<name>GET /api/"
                                      "user.php?action=&quot;show&quot;"
                                      "</name>\n<handler>user_show"));
            assert_non_null(strstr(s, "<native-p99-ms>86.11</native-p99-ms>"));
            break;
        case FPMD_STATUS_HTML:
            assert_non_null(strstr(s, "<tr><th>legacy requests</th><td>2"));
            break;
        default:
            assert_non_null(strstr(s, "phpfpm_route_requests{route=\"GET "
                                      "/api/user.php?action=\\\"show\\\"\","
                                      "handler=\"user_show\",side=\"native\"}"
                                      " 98\n"));
            assert_non_null(strstr(s, "phpfpm_route_p99_ms{route="));
            assert_non_null(strstr(s, ",side=\"native\"} 86.108\n"));
            assert_non_null(strstr(s, "phpfpm_route_shadow_mismatches{route"
                                      "=\"GET /api/user.php?action=\\\"show"
                                      "\\\"\",handler=\"user_show\"} 3\n"));
            break;
        }
        free(s);
    }
}

static void
status_backends_in_every_format(void **state)
{
    struct fpmd_status_snapshot v = view();
    const char *ct;
    json_object *j, *list, *b0, *x;
    char *s;

    (void) state;
    v.nbackends = 2;
    backends[0].name = "cache";
    backends[0].size = 3;
    backends[0].in_use = 2;
    backends[0].timeouts = 5;
    backends[1].name = "db";
    backends[1].exhausted = 7;
    for (int f = FPMD_STATUS_TEXT; f <= FPMD_STATUS_OPENMETRICS; f++) {
        s = render_view(&v, f, 1, &ct);
        switch (f) {
        case FPMD_STATUS_TEXT:
            assert_non_null(strstr(s, "\nbackend:              cache\n"
                                      "size:                 3\n"
                                      "idle:                 0\n"
                                      "in use:               2\n"));
            break;
        case FPMD_STATUS_JSON:
            j = json_tokener_parse(s);
            assert_non_null(j);
            assert_true(json_object_object_get_ex(j, "backends", &list));
            assert_int_equal(json_object_array_length(list), 2);
            b0 = json_object_array_get_idx(list, 0);
            assert_true(json_object_object_get_ex(b0, "timeouts", &x));
            assert_int_equal(json_object_get_int(x), 5);
            json_object_put(j);
            break;
        case FPMD_STATUS_XML:
            assert_non_null(strstr(s, "<backends>\n<backend>\n<name>cache"
                                      "</name>\n<size>3</size>\n"));
            assert_non_null(strstr(s, "<in-use>2</in-use>"));
            break;
        case FPMD_STATUS_HTML:
            assert_non_null(strstr(s, "<tr><th>name</th><td>db</td></tr>"));
            break;
        default:
            assert_non_null(strstr(s, "phpfpm_backend_in_use{backend="
                                      "\"cache\"} 2\n"));
            assert_non_null(strstr(s, "phpfpm_backend_exhausted{backend="
                                      "\"db\"} 7\n"));
            assert_int_equal(strcmp(s + strlen(s) - 6, "# EOF\n"), 0);
            break;
        }
        free(s);
    }
}

static void
status_query_picks_format_and_full(void **state)
{
    enum fpmd_status_format f;
    int full;

    (void) state;
    fpmd_status_parse_query("", &f, &full);
    assert_int_equal(f, FPMD_STATUS_TEXT);
    assert_int_equal(full, 0);
    fpmd_status_parse_query("json&full", &f, &full);
    assert_int_equal(f, FPMD_STATUS_JSON);
    assert_int_equal(full, 1);
    fpmd_status_parse_query("full&xml", &f, &full);
    assert_int_equal(f, FPMD_STATUS_XML);
    fpmd_status_parse_query("openmetrics", &f, &full);
    assert_int_equal(f, FPMD_STATUS_OPENMETRICS);
    fpmd_status_parse_query("fullish&jsonp", &f, &full);
    assert_int_equal(f, FPMD_STATUS_TEXT);
    assert_int_equal(full, 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(status_text_matches_php_fpm_layout),
        cmocka_unit_test(status_json_parses_with_every_field),
        cmocka_unit_test(status_markup_escapes_request_text),
        cmocka_unit_test(status_openmetrics_has_php_fpm_names),
        cmocka_unit_test(status_backends_in_every_format),
        cmocka_unit_test(status_routes_in_every_format),
        cmocka_unit_test(status_query_picks_format_and_full),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
