/* SPDX-License-Identifier: BSD-2-Clause */
/* Status page formats: php-fpm 8.2's exact pages with fpmd's figures
 * after its own, JSON that parses with every field, markup and labels
 * that hostile request text cannot break, php-fpm's state names only,
 * OpenMetrics names, query parsing. */
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
static const struct fpmd_status_flight flights[2] = {
    {"POST", "/slow", "POST /slow", 1700000098000000ULL},
    {"GET", "/status?json&full", "", 1700000099999000ULL},
};

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
    rows[1].start_us = 1700000050000000ULL;
    rows[1].requests = 4;
    rows[1].in_flight = 2;
    rows[1].connections = 2;
    rows[1].req = none;
    rows[1].req.method = "POST";
    rows[1].req.uri = "/slow";
    rows[1].req.script = "/www/slow.php";
    rows[1].req.content_length = 3;
    rows[1].req.start_us = 1700000098000000ULL;
    rows[1].req.cpu_us = 77;        /* a stale figure: not shown */
    rows[1].req.memory = 4096;
    rows[1].flights = flights;
    rows[1].nflights = 2;
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
    assert_string_equal(ct, "text/plain;charset=UTF-8");
    free(s);
    s = render(FPMD_STATUS_TEXT, 1, &ct);
    assert_non_null(strstr(s, "\n************************\npid:                  100\n"
                              "state:                Idle\n"));
    assert_non_null(strstr(s, "request URI:          /x\"><script>alert(1)</script>?&\n"));
    /* php-fpm's fields end the row, fpmd's follow */
    assert_non_null(strstr(s, "last request cpu:     50.00\n"
                              "last request memory:  0\n"
                              "in flight:            0\n"
                              "connections:          0\n"
                              "free requests:        21\n"
                              "free buffers:         22\n"
                              "free stacks:          23\n"
                              "free connections:     24\n"));
    t = 1700000050;
    localtime_r(&t, &tm);
    strftime(start, sizeof(start), "%d/%b/%Y:%H:%M:%S %z", &tm);
    /* the busy row is its oldest request, so far, without CPU or memory */
    snprintf(expect, sizeof(expect),
             "\n************************\n"
             "pid:                  101\n"
             "state:                Running\n"
             "start time:           %s\n"
             "start since:          50\n"
             "requests:             4\n"
             "request duration:     2000000\n"
             "request method:       POST\n"
             "request URI:          /slow\n"
             "content length:       3\n"
             "user:                 -\n"
             "script:               /www/slow.php\n"
             "last request cpu:     0.00\n"
             "last request memory:  0\n"
             "in flight:            2\n", start);
    assert_non_null(strstr(s, expect));
    assert_non_null(strstr(s, "free connections:     0\n"
                              "in flight duration:   2000000\n"
                              "in flight method:     POST\n"
                              "in flight uri:        /slow\n"
                              "in flight route:      POST /slow\n"
                              "in flight duration:   1000\n"
                              "in flight method:     GET\n"
                              "in flight uri:        /status?json&full\n"
                              "in flight route:      -\n"));
    assert_int_equal(strcmp(s + strlen(s) - 24, "in flight route:      -\n"),
                     0);
    free(s);
}

/* php-fpm's JSON, byte for byte, then fpmd's keys: php-fpm_exporter's
 * fix-up of request URIs depends on the keys around "request uri". */
static void
status_json_is_php_fpm_then_fpmd(void **state)
{
    const char *ct;
    char *s = render(FPMD_STATUS_JSON, 1, &ct);

    (void) state;
    assert_string_equal(ct, "application/json");
    assert_string_equal(s,
        "{\"pool\":\"www\",\"process manager\":\"dynamic\","
        "\"start time\":1700000000,\"start since\":100,\"accepted conn\":5,"
        "\"listen queue\":1,\"max listen queue\":4,\"listen queue len\":511,"
        "\"idle processes\":1,\"active processes\":1,\"total processes\":2,"
        "\"max active processes\":2,\"max children reached\":3,"
        "\"slow requests\":6, \"processes\":["
        "{\"pid\":100,\"state\":\"Idle\",\"start time\":1700000000,"
        "\"start since\":100,\"requests\":9,\"request duration\":1000,"
        "\"request method\":\"GET\",\"request uri\":\"/x\\\"><script>"
        "alert(1)</script>\\u000a&\",\"content length\":0,\"user\":\"-\","
        "\"script\":\"-\",\"last request cpu\":50.00,"
        "\"last request memory\":0,\"in flight\":0,\"connections\":0,"
        "\"free requests\":21,\"free buffers\":22,\"free stacks\":23,"
        "\"free connections\":24,\"oldest in flight\":[]},"
        "{\"pid\":101,\"state\":\"Running\",\"start time\":1700000050,"
        "\"start since\":50,\"requests\":4,\"request duration\":2000000,"
        "\"request method\":\"POST\",\"request uri\":\"/slow\","
        "\"content length\":3,\"user\":\"-\",\"script\":\"/www/slow.php\","
        "\"last request cpu\":0.00,\"last request memory\":0,"
        "\"in flight\":2,\"connections\":2,\"free requests\":0,"
        "\"free buffers\":0,\"free stacks\":0,\"free connections\":0,"
        "\"oldest in flight\":[{\"duration\":2000000,\"method\":\"POST\","
        "\"uri\":\"/slow\",\"route\":\"POST /slow\"},{\"duration\":1000,"
        "\"method\":\"GET\",\"uri\":\"/status?json&full\",\"route\":\"-\"}]}"
        "],\"in flight requests\":7,\"refused requests\":8,"
        "\"free requests\":11,"
        "\"free buffers\":12,\"free stacks\":13,\"free connections\":14}");
    free(s);
    s = render(FPMD_STATUS_JSON, 0, &ct);
    assert_non_null(strstr(s, "\"slow requests\":6,\"in flight requests\":7,"));
    assert_null(strstr(s, "processes\":["));
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

/* php-fpm's XML puts a process on one line and ends without a newline. */
static void
status_xml_is_php_fpm_then_fpmd(void **state)
{
    const char *tail = "<free-connections>14</free-connections>\n"
                       "</status>";
    const char *ct;
    char *s = render(FPMD_STATUS_XML, 1, &ct);

    (void) state;
    assert_string_equal(ct, "text/xml;charset=UTF-8");
    assert_non_null(strstr(s,
        "<?xml version=\"1.0\" ?>\n<status>\n<pool>www</pool>\n"
        "<process-manager>dynamic</process-manager>\n"
        "<start-time>1700000000</start-time>\n"
        "<start-since>100</start-since>\n<accepted-conn>5</accepted-conn>\n"
        "<listen-queue>1</listen-queue>\n"
        "<max-listen-queue>4</max-listen-queue>\n"
        "<listen-queue-len>511</listen-queue-len>\n"
        "<idle-processes>1</idle-processes>\n"
        "<active-processes>1</active-processes>\n"
        "<total-processes>2</total-processes>\n"
        "<max-active-processes>2</max-active-processes>\n"
        "<max-children-reached>3</max-children-reached>\n"
        "<slow-requests>6</slow-requests>\n<processes>\n"
        "<process><pid>100</pid><state>Idle</state>"
        "<start-time>1700000000</start-time><start-since>100</start-since>"
        "<requests>9</requests><request-duration>1000</request-duration>"
        "<request-method>GET</request-method><request-uri>/x&quot;&gt;"
        "&lt;script&gt;alert(1)&lt;/script&gt;?&amp;</request-uri>"
        "<content-length>0</content-length><user>-</user>"
        "<script>-</script><last-request-cpu>50.00</last-request-cpu>"
        "<last-request-memory>0</last-request-memory><in-flight>0"
        "</in-flight>") == s);
    assert_non_null(strstr(s,
        "<oldest-in-flight><request><duration>2000000</duration>"
        "<method>POST</method><uri>/slow</uri><route>POST /slow</route>"
        "</request><request><duration>1000</duration>"));
    assert_non_null(strstr(s, "</oldest-in-flight></process>\n"
                              "</processes>\n"
                              "<in-flight-requests>7</in-flight-requests>\n"
                              "<refused-requests>8</refused-requests>\n"));
    assert_int_equal(strcmp(s + strlen(s) - strlen(tail), tail), 0);
    free(s);
}

static void
status_markup_escapes_request_text(void **state)
{
    const char *ct;
    char *s;

    (void) state;
    s = render(FPMD_STATUS_XML, 1, &ct);
    assert_null(strstr(s, "<script>alert"));
    assert_non_null(strstr(s, "<request-uri>/x&quot;&gt;&lt;script&gt;"));
    free(s);
    s = render(FPMD_STATUS_HTML, 1, &ct);
    assert_string_equal(ct, "text/html;charset=UTF-8");
    assert_null(strstr(s, "<script>alert"));
    free(s);
}

/* php-fpm's two tables (the pool's, th/td rows; the processes', one
 * header row), fpmd's rows and columns after its own, then fpmd's
 * tables. */
static void
status_html_is_php_fpm_then_fpmd(void **state)
{
    const char *ct;
    char *s = render(FPMD_STATUS_HTML, 1, &ct);

    (void) state;
    assert_non_null(strstr(s,
        "<head><title>PHP-FPM Status Page</title></head>\n<body>\n<table>\n"
        "<tr><th>pool</th><td>www</td></tr>\n"));
    assert_non_null(strstr(s,
        "<tr><th>slow requests</th><td>6</td></tr>\n"
        "<tr><th>in flight requests</th><td>7</td></tr>\n"
        "<tr><th>refused requests</th><td>8</td></tr>\n"));
    assert_non_null(strstr(s,
        "</table>\n<table border=\"1\">\n<tr><th>pid</th><th>state</th>"
        "<th>start time</th><th>start since</th><th>requests</th>"
        "<th>request duration</th><th>request method</th>"
        "<th>request uri</th><th>content length</th><th>user</th>"
        "<th>script</th><th>last request cpu</th>"
        "<th>last request memory</th><th>in flight</th>"));
    assert_non_null(strstr(s, "<tr><td>101</td><td>Running</td>"));
    assert_non_null(strstr(s, "<tr><th>pid</th><th>duration</th>"
                              "<th>method</th><th>uri</th><th>route</th>"
                              "</tr>\n<tr><td>101</td><td>2000000</td>"
                              "<td>POST</td><td>/slow</td>"
                              "<td>POST /slow</td></tr>\n"));
    assert_int_equal(strcmp(s + strlen(s) - 23, "</table>\n</body></html>"),
                     0);
    free(s);
}

/* A worker that is starting is Idle, as a new php-fpm child is: parsers
 * know php-fpm's states only. */
static void
status_states_are_php_fpm_names(void **state)
{
    struct fpmd_status_snapshot v = view();
    const char *ct;
    char *s;

    (void) state;
    rows[0].state = FPMD_PROC_STARTING;
    rows[1].state = FPMD_PROC_FINISHING;
    s = render_view(&v, FPMD_STATUS_TEXT, 1, &ct);
    assert_non_null(strstr(s, "pid:                  100\n"
                              "state:                Idle\n"));
    assert_non_null(strstr(s, "pid:                  101\n"
                              "state:                Finishing\n"));
    assert_null(strstr(s, "Starting"));
    free(s);
}

/* Bytes that are not UTF-8 become '?', in every format: one request
 * must not make the page unreadable to a JSON, XML or OpenMetrics
 * reader. */
static void
status_request_text_stays_utf8(void **state)
{
    struct fpmd_status_snapshot v = view();
    const char *ct;
    char *s;

    (void) state;
    rows[0].req.uri = "/\xff\xc3\xa9\xe2\x82\xac\xc0\xaf\xed\xa0\x80";
    s = render_view(&v, FPMD_STATUS_JSON, 1, &ct);
    assert_non_null(strstr(s, "\"request uri\":\"/?\xc3\xa9\xe2\x82\xac??"
                              "???\""));
    free(s);
    s = render_view(&v, FPMD_STATUS_OPENMETRICS, 1, &ct);
    assert_non_null(strstr(s, "uri=\"/?\xc3\xa9\xe2\x82\xac?????\""));
    free(s);
}

static void
status_openmetrics_has_php_fpm_names(void **state)
{
    const char *ct;
    char *s = render(FPMD_STATUS_OPENMETRICS, 0, &ct);

    (void) state;
    assert_string_equal(ct, "application/openmetrics-text; version=1.0.0; "
                            "charset=utf-8");
    assert_non_null(strstr(s, "# HELP phpfpm_up Could pool www using a "
                              "dynamic PM on PHP-FPM be reached?\n"
                              "# TYPE phpfpm_up gauge\nphpfpm_up 1\n"));
    assert_non_null(strstr(s, "phpfpm_accepted_connections 5\n"));
    /* php-fpm writes this one's TYPE first */
    assert_non_null(strstr(s, "# TYPE phpfpm_listen_queue_length gauge\n"
                              "# HELP phpfpm_listen_queue_length The size "
                              "of the socket queue of pending "
                              "connections.\nphpfpm_listen_queue_length "
                              "511\n"));
    assert_non_null(strstr(s, "phpfpm_slow_requests 6\n# HELP "
                              "fpmd_in_flight_requests "));
    assert_non_null(strstr(s, "# TYPE fpmd_refused_requests_total counter\n"
                              "fpmd_refused_requests_total 8\n"));
    assert_non_null(strstr(s, "fpmd_free_connections 14\n"));
    assert_null(strstr(s, "phpfpm_refused"));
    assert_null(strstr(s, "phpfpm_free"));
    assert_null(strstr(s, "fpmd_process_"));
    assert_int_equal(strcmp(s + strlen(s) - 6, "# EOF\n"), 0);
    free(s);
    s = render(FPMD_STATUS_OPENMETRICS, 1, &ct);
    assert_non_null(strstr(s, "# TYPE fpmd_process_state gauge\n"
                              "fpmd_process_state{pid=\"100\","
                              "state=\"Idle\"} 1\n"
                              "fpmd_process_state{pid=\"101\","
                              "state=\"Running\"} 1\n"));
    assert_non_null(strstr(s, "# TYPE fpmd_process_requests_total counter\n"
                              "fpmd_process_requests_total{pid=\"100\"} 9\n"));
    assert_non_null(strstr(s, "fpmd_process_request_duration_seconds"
                              "{pid=\"101\"} 2.000000\n"));
    assert_non_null(strstr(s, "fpmd_process_last_request_cpu_seconds"
                              "{pid=\"100\"} 0.000500\n"));
    assert_non_null(strstr(s, "fpmd_process_request_info{pid=\"101\","
                              "method=\"POST\",uri=\"/slow\","
                              "script=\"/www/slow.php\",user=\"\"} 1\n"));
    assert_non_null(strstr(s, "fpmd_process_request_info{pid=\"100\","
                              "method=\"GET\",uri=\"/x\\\"><script>alert(1)"
                              "</script>\\n&\","));
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
    r->native.sum_us = 250000;
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
            assert_non_null(strstr(s, "# TYPE fpmd_route_duration_seconds "
                                      "summary\n"));
            assert_non_null(strstr(s, "fpmd_route_duration_seconds{route="
                                      "\"GET /api/user.php?action=\\\"show"
                                      "\\\"\",handler=\"user_show\","
                                      "side=\"native\",quantile=\"0.99\"}"
                                      " 0.086108\n"));
            assert_non_null(strstr(s, "fpmd_route_duration_seconds_count{"
                                      "route=\"GET /api/user.php?action=\\"
                                      "\"show\\\"\",handler=\"user_show\","
                                      "side=\"native\"} 98\n"));
            assert_non_null(strstr(s, "fpmd_route_duration_seconds_sum{"
                                      "route=\"GET /api/user.php?action=\\"
                                      "\"show\\\"\",handler=\"user_show\","
                                      "side=\"native\"} 0.250000\n"));
            assert_non_null(strstr(s, "fpmd_route_errors_total{route=\"GET "
                                      "/api/user.php?action=\\\"show\\\""
                                      "\",handler=\"user_show\",side=\""
                                      "native\"} 1\n"));
            assert_non_null(strstr(s, "fpmd_route_shadow_mismatches_total{"
                                      "route=\"GET /api/user.php?action=\\"
                                      "\"show\\\"\",handler=\"user_show\"}"
                                      " 3\n"));
            assert_null(strstr(s, "_ms"));
            assert_null(strstr(s, "phpfpm_route"));
            break;
        }
        free(s);
    }
    /* no answer, no quantile */
    r->legacy.requests = 0;
    s = render_view(&v, FPMD_STATUS_OPENMETRICS, 0, &ct);
    assert_non_null(strstr(s, "side=\"legacy\",quantile=\"0.5\"} NaN\n"));
    free(s);
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
            assert_non_null(strstr(s, "fpmd_backend_in_use{backend="
                                      "\"cache\"} 2\n"));
            assert_non_null(strstr(s, "# TYPE fpmd_backend_exhausted_total "
                                      "counter\nfpmd_backend_exhausted_total"
                                      "{backend=\"cache\"} 0\n"
                                      "fpmd_backend_exhausted_total{backend="
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
    /* php-fpm's precedence, whatever the order */
    fpmd_status_parse_query("xml&html", &f, &full);
    assert_int_equal(f, FPMD_STATUS_HTML);
    fpmd_status_parse_query("json&xml", &f, &full);
    assert_int_equal(f, FPMD_STATUS_XML);
    fpmd_status_parse_query("openmetrics&json", &f, &full);
    assert_int_equal(f, FPMD_STATUS_JSON);
    fpmd_status_parse_query("full=1&openmetrics", &f, &full);
    assert_int_equal(f, FPMD_STATUS_OPENMETRICS);
    assert_int_equal(full, 1);
    fpmd_status_parse_query("fullish&jsonp", &f, &full);
    assert_int_equal(f, FPMD_STATUS_TEXT);
    assert_int_equal(full, 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(status_text_matches_php_fpm_layout),
        cmocka_unit_test(status_json_is_php_fpm_then_fpmd),
        cmocka_unit_test(status_json_parses_with_every_field),
        cmocka_unit_test(status_xml_is_php_fpm_then_fpmd),
        cmocka_unit_test(status_markup_escapes_request_text),
        cmocka_unit_test(status_html_is_php_fpm_then_fpmd),
        cmocka_unit_test(status_states_are_php_fpm_names),
        cmocka_unit_test(status_request_text_stays_utf8),
        cmocka_unit_test(status_openmetrics_has_php_fpm_names),
        cmocka_unit_test(status_backends_in_every_format),
        cmocka_unit_test(status_routes_in_every_format),
        cmocka_unit_test(status_query_picks_format_and_full),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
