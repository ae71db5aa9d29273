/* SPDX-License-Identifier: BSD-2-Clause */
/* The YAML loader: values and defaults, and errors that name
 * file:line:column, all reported at once. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "fpmd/conf.h"

static char err[8192];

static struct fpmd_conf *
load(const char *text)
{
    return fpmd_conf_load_buffer("t.yaml", text, strlen(text), err,
                                 sizeof(err));
}

static void
expect_error(const char *text, const char *where_and_what)
{
    struct fpmd_conf *c = load(text);

    if (c != NULL)
        fpmd_conf_free(c);
    assert_null(c);
    if (strstr(err, where_and_what) == NULL)
        fail_msg("expected \"%s\" in:\n%s", where_and_what, err);
}

static void
conf_embedded_default_loads(void **state)
{
    struct fpmd_conf *c = fpmd_conf_load(NULL, err, sizeof(err));

    (void) state;
    assert_non_null(c);
    assert_int_equal(c->nlisten, 2);
    assert_string_equal(c->listen[0].address, "127.0.0.1:9000");
    assert_int_equal(c->listen[0].proto, FPMD_PROTO_FASTCGI);
    assert_string_equal(c->listen[1].address, "127.0.0.1:8080");
    assert_int_equal(c->listen[1].proto, FPMD_PROTO_HTTP);
    assert_string_equal(c->server_token, "fpmd");
    assert_int_equal(c->limits.headers, 100);
    assert_int_equal(c->limits.fastcgi_requests, 128);
    assert_int_equal(c->pm.mode, FPMD_PM_STATIC);
    assert_int_equal(c->pm.max_children, 0);
    assert_int_equal(c->pm.max_queue, 1024);
    assert_int_equal(c->timeouts.queue_ms, 10000);
    assert_int_equal(c->timeouts.blocked_loop_ms, 30000);
    assert_string_equal(c->status.path, "/status");
    assert_string_equal(c->status.ping_response, "pong");
    assert_string_equal(c->user, "nobody");
    /* only the two demo routes; nothing that echoes a request, no
     * backend and no credentials (those are conf/demo.yaml's) */
    assert_int_equal(c->nroutes, 2);
    assert_string_equal(c->routes[0].handler, "hello");
    assert_string_equal(c->routes[0].methods, "GET");
    assert_string_equal(c->routes[1].handler, "json");
    assert_int_equal(c->nbackends, 0);
    fpmd_conf_free(c);
}

static void
conf_demo_file_loads(void **state)
{
    const char *top = getenv("top_srcdir");
    char path[4096];
    struct fpmd_conf *c;

    (void) state;
    snprintf(path, sizeof(path), "%s/conf/demo.yaml", top ? top : ".");
    c = fpmd_conf_load(path, err, sizeof(err));
    if (c == NULL)
        fail_msg("%s", err);
    assert_int_equal(c->nroutes, 6);
    assert_string_equal(c->routes[2].handler, "probe");
    assert_null(c->routes[2].methods);
    assert_string_equal(c->routes[3].handler, "io_fast");
    assert_string_equal(c->routes[4].handler, "io_wait");
    assert_string_equal(c->routes[5].handler, "timer_lateness");
    assert_int_equal(c->nbackends, 2);
    assert_int_equal(c->backends[0].driver, FPMD_DRIVER_REDIS);
    assert_int_equal(c->backends[1].driver, FPMD_DRIVER_MYSQL);
    assert_string_equal(c->backends[1].database, "bench");
    fpmd_conf_free(c);
}

/* cron: and tables: as the master takes them: the expression parsed,
 * every: in ms, the columns' types and sizes; watch: as a flag. */
static void
conf_reads_cron_tables_and_watch(void **state)
{
    struct fpmd_conf *c = load(
        "listen:\n  - fastcgi: 127.0.0.1:9000\nwatch: yes\n"
        "cron:\n"
        "  - {name: a, schedule: '30 2 * * MON-FRI', timezone: UTC, "
        "handler: h}\n"
        "  - {name: b, every: 1500ms, handler: h, overlap: true}\n"
        "tables:\n"
        "  t:\n    rows: 100\n    key_size: 16\n    columns:\n"
        "      - {name: n, type: int}\n"
        "      - {name: s, type: bytes, size: 8}\n");

    (void) state;
    if (c == NULL)
        fail_msg("%s", err);
    assert_true(c->watch);
    assert_int_equal(c->ncron, 2);
    assert_string_equal(c->cron[0].schedule, "30 2 * * MON-FRI");
    assert_int_equal(c->cron[0].expr.min, 1ULL << 30);
    assert_int_equal(c->cron[0].expr.hour, 1u << 2);
    assert_int_equal(c->cron[0].expr.dow, 0x3e);
    assert_string_equal(c->cron[0].timezone, "UTC");
    assert_false(c->cron[0].overlap);
    assert_null(c->cron[1].schedule);
    assert_int_equal(c->cron[1].every_ms, 1500);
    assert_true(c->cron[1].overlap);
    assert_int_equal(c->ntables, 1);
    assert_string_equal(c->tables[0].name, "t");
    assert_int_equal(c->tables[0].rows, 100);
    assert_int_equal(c->tables[0].key_size, 16);
    assert_int_equal(c->tables[0].ncolumns, 2);
    assert_int_equal(c->tables[0].columns[0].type, FPMD_CONF_TABLE_INT);
    assert_int_equal(c->tables[0].columns[1].type, FPMD_CONF_TABLE_BYTES);
    assert_int_equal(c->tables[0].columns[1].size, 8);
    fpmd_conf_free(c);
}

static void
conf_reads_every_section(void **state)
{
    struct fpmd_conf *c = load(
        "pool: api\nuser: www-data\npid: /run/f.pid\ndaemonize: yes\n"
        "listen:\n"
        "  - fastcgi: '[::1]:9001'\n    backlog: 64\n"
        "    allowed_clients: 127.0.0.1, ::1\n"
        "  - fastcgi: /run/f.sock\n    mode: \"0600\"\n    owner: www-data\n"
        "pm:\n  mode: dynamic\n  max_children: 10\n  start_servers: 3\n"
        "  min_spare_servers: 2\n  max_spare_servers: 4\n"
        "  max_requests: 500\n  max_concurrency: 1\n  stack_size: 128k\n"
        "  max_queue: 0\n  max_requests_jitter: 50\n  max_memory: 256m\n"
        "emergency_restart_threshold: 3\nemergency_restart_interval: 1m\n"
        "timeouts: { request_terminate: 30s, slowlog: 250ms, keepalive: 1h,\n"
        "            queue: 2s, blocked_loop: 0 }\n"
        "limits: { params: 64k, body: 2m, connections: 100 }\n"
        "status: { path: ~, ping: /health, ping_response: ok }\n"
        "log: { error: /tmp/e.log, level: warning, access: /tmp/a.log }\n"
        "routes:\n  - match: GET,POST /x\n    handler: probe\n");

    (void) state;
    if (c == NULL)
        fail_msg("%s", err);
    assert_string_equal(c->pool_name, "api");
    assert_int_equal(c->daemonize, 1);
    assert_int_equal(c->nlisten, 2);
    assert_int_equal(c->listen[0].backlog, 64);
    assert_string_equal(c->listen[0].allowed_clients[0], "127.0.0.1");
    assert_string_equal(c->listen[0].allowed_clients[1], "::1");
    assert_null(c->listen[0].allowed_clients[2]);
    assert_int_equal(c->listen[1].mode, 0600);
    assert_int_equal(c->pm.mode, FPMD_PM_DYNAMIC);
    assert_int_equal(c->pm.start_servers, 3);
    assert_int_equal(c->pm.max_concurrency, 1);
    assert_int_equal(c->pm.stack_size, 128 * 1024);
    assert_int_equal(c->pm.max_queue, 0);
    assert_int_equal(c->pm.max_requests_jitter, 50);
    assert_int_equal(c->pm.max_memory, 256 * 1024 * 1024);
    assert_int_equal(c->emergency_restart_interval_ms, 60000);
    assert_int_equal(c->timeouts.request_terminate_ms, 30000);
    assert_int_equal(c->timeouts.slowlog_ms, 250);
    assert_int_equal(c->timeouts.keepalive_ms, 3600000);
    assert_int_equal(c->timeouts.queue_ms, 2000);
    assert_int_equal(c->timeouts.blocked_loop_ms, 0);
    assert_int_equal(c->timeouts.header_read_ms, 10000);
    assert_int_equal(c->limits.body, 2 * 1024 * 1024);
    assert_null(c->status.path);
    assert_string_equal(c->status.ping_path, "/health");
    assert_int_equal(c->log.level, FPMD_LOG_WARNING);
    assert_string_equal(c->routes[0].methods, "GET,POST");
    assert_string_equal(c->routes[0].path, "/x");
    assert_int_equal(c->routes[0].pos.line, 32);
    assert_int_equal(c->routes[0].pos.column, 12);
    fpmd_conf_free(c);
}

static void
conf_reports_unknown_keys_and_bad_values_with_positions(void **state)
{
    (void) state;
    expect_error("listen:\n  - fastcgi: 127.0.0.1:9000\npm:\n"
                 "  max_chidren: 3\n", "t.yaml:4:3: unknown key \"max_chidren\" in pm");
    expect_error("listen:\n  - fastcgi: 127.0.0.1:9000\npm:\n  mode: stattic\n",
                 "t.yaml:4:9: pm.mode: \"stattic\" is not one of static, "
                 "dynamic, ondemand");
    expect_error("listen:\n  - fastcgi: 127.0.0.1:99999\n",
                 "t.yaml:2:14: fastcgi: \"127.0.0.1:99999\" is not host:port");
    expect_error("listen:\n  - fastcgi: 127.0.0.1:9000\n"
                 "timeouts: { slowlog: 10x }\n",
                 "t.yaml:3:22: slowlog: \"10x\" is not a duration");
    expect_error("listen:\n  - fastcgi: 127.0.0.1:9000\npm:\n"
                 "  max_queue: many\n", "t.yaml:4:14: max_queue: \"many\"");
    expect_error("listen:\n  - fastcgi: 127.0.0.1:9000\n"
                 "timeouts: { queue: soon }\n",
                 "t.yaml:3:20: queue: \"soon\" is not a duration");
    expect_error("listen:\n  - fastcgi: 127.0.0.1:9000\npm:\n"
                 "  max_memory: 1m\n",
                 "t.yaml:4:15: pm.max_memory: must be 0 (no bound) or at "
                 "least 8m");
    expect_error("listen:\n  - fastcgi: 127.0.0.1:9000\n"
                 "timeouts:\n  blocked_loop: 1s\n",
                 "t.yaml:4:17: timeouts.blocked_loop: must be 0 (off) or at "
                 "least 2s");
    expect_error("listen:\n  - fastcgi: 127.0.0.1:9000\nlimits:\n  body: lots\n",
                 "t.yaml:4:9: body: \"lots\" is not a size");
    expect_error("listen:\n  - fastcgi: 127.0.0.1:9000\n"
                 "limits: { fastcgi_requests: 65536 }\n",
                 "t.yaml:3:29: fastcgi_requests: \"65536\" is not a whole "
                 "number from 1 to 65535");
    expect_error("listen:\n  - fastcgi: 127.0.0.1:9000\npm: static\n",
                 "t.yaml:3:5: pm: expected a mapping");
    expect_error("listen:\n  - fastcgi: 127.0.0.1:9000\n    mode: \"0600\"\n",
                 "t.yaml:2:5: listen: owner, group and mode apply to unix "
                 "sockets only");
    expect_error("listen:\n  - backlog: 5\n",
                 "t.yaml:2:5: listen: each entry needs exactly one of");
    expect_error("pool: a\npool: b\nlisten:\n  - fastcgi: 127.0.0.1:1\n",
                 "t.yaml:2:1: duplicate key \"pool\"");
    expect_error("listen:\n  - fastcgi: 127.0.0.1:1\nroutes:\n"
                 "  - match: get /x\n    handler: h\n",
                 "t.yaml:4:12: routes.match: \"get /x\" is not");
    expect_error("listen:\n  - fastcgi: 127.0.0.1:1\nroutes:\n  - match: /x\n",
                 "t.yaml:4:5: routes: each route needs handler");
    expect_error("a: &x 1\nb: *x\n", "t.yaml:2:4: YAML aliases");
    expect_error("listen:\n\t- x\n", "t.yaml:2:1: YAML syntax");
    expect_error("", "t.yaml:1:1: the configuration is empty");
    expect_error("pool: www\n", "listen: at least one listener is needed");
    expect_error("listen:\n  - fastcgi: 127.0.0.1:1\n    allowed_clients: "
                 "[10.0.0.300]\n",
                 "t.yaml:3:23: allowed_clients: \"10.0.0.300\" is not an IPv4");
}

static void
conf_applies_php_fpm_dynamic_checks(void **state)
{
    (void) state;
    expect_error("listen:\n  - fastcgi: 127.0.0.1:1\npm:\n  mode: dynamic\n"
                 "  max_children: 4\n  min_spare_servers: 3\n"
                 "  max_spare_servers: 2\n",
                 "t.yaml:4:3: pm.min_spare_servers (3) must not be greater "
                 "than pm.max_spare_servers (2)");
    expect_error("listen:\n  - fastcgi: 127.0.0.1:1\npm:\n  mode: dynamic\n"
                 "  max_children: 2\n  max_spare_servers: 3\n",
                 "pm.max_spare_servers (3) must not be greater than "
                 "pm.max_children (2)");
    expect_error("listen:\n  - fastcgi: 127.0.0.1:1\npm:\n  mode: dynamic\n"
                 "  start_servers: 9\n",
                 "pm.start_servers (9) must be from pm.min_spare_servers");
}

static void
conf_reports_every_error_at_once(void **state)
{
    int lines = 0;

    (void) state;
    expect_error("listen:\n  - fastcgi: nowhere\npm:\n  mode: x\n"
                 "  max_children: -1\nlog:\n  level: loud\nextra: 1\n",
                 "t.yaml:2:14:");
    for (const char *p = err; *p != '\0'; p++)
        lines += *p == '\n';
    assert_int_equal(lines, 5);
    assert_non_null(strstr(err, "t.yaml:4:9:"));
    assert_non_null(strstr(err, "t.yaml:5:17:"));
    assert_non_null(strstr(err, "t.yaml:7:10:"));
    assert_non_null(strstr(err, "t.yaml:8:1: unknown key \"extra\""));
}

static void
conf_parses_durations_and_sizes(void **state)
{
    uint64_t ms;
    size_t n;

    (void) state;
    assert_int_equal(fpmd_conf_parse_duration("0", &ms), FPMD_OK);
    assert_int_equal(ms, 0);
    assert_int_equal(fpmd_conf_parse_duration("15", &ms), FPMD_OK);
    assert_int_equal(ms, 15000);
    assert_int_equal(fpmd_conf_parse_duration("2h", &ms), FPMD_OK);
    assert_int_equal(ms, 7200000);
    assert_int_equal(fpmd_conf_parse_duration("1.5s", &ms), FPMD_ERROR);
    assert_int_equal(fpmd_conf_parse_duration("-1", &ms), FPMD_ERROR);
    assert_int_equal(fpmd_conf_parse_duration("s", &ms), FPMD_ERROR);
    assert_int_equal(fpmd_conf_parse_duration("99999999999999999999h", &ms),
                     FPMD_ERROR);
    assert_int_equal(fpmd_conf_parse_duration("18446744073709551615h", &ms),
                     FPMD_ERROR);
    assert_int_equal(fpmd_conf_parse_size("64k", &n), FPMD_OK);
    assert_int_equal(n, 65536);
    assert_int_equal(fpmd_conf_parse_size("1G", &n), FPMD_OK);
    assert_int_equal(n, 1 << 30);
    assert_int_equal(fpmd_conf_parse_size("12", &n), FPMD_OK);
    assert_int_equal(n, 12);
    assert_int_equal(fpmd_conf_parse_size("1kb", &n), FPMD_ERROR);
    assert_int_equal(fpmd_conf_parse_size("16777216000000000000g", &n),
                     FPMD_ERROR);
}

static void
conf_file_errors_name_the_path(void **state)
{
    char path[] = "/tmp/fpmd-conf-XXXXXX";
    int fd = mkstemp(path);
    struct fpmd_conf *c;

    (void) state;
    assert_true(fd >= 0);
    assert_true(write(fd, "listen:\n  - fastcgi: 127.0.0.1:1\nbogus: 1\n", 42)
                == 42);
    close(fd);
    c = fpmd_conf_load(path, err, sizeof(err));
    assert_null(c);
    assert_non_null(strstr(err, path));
    assert_non_null(strstr(err, ":3:1: unknown key \"bogus\""));
    unlink(path);
    assert_null(fpmd_conf_load("/nonexistent/x.yaml", err, sizeof(err)));
    assert_non_null(strstr(err, "/nonexistent/x.yaml: cannot open"));
}

static void
conf_documented_example_loads(void **state)
{
    const char *top = getenv("top_srcdir");
    char path[4096];
    struct fpmd_conf *c;

    (void) state;
    snprintf(path, sizeof(path), "%s/conf/fpmd.yaml.example",
             top ? top : ".");
    c = fpmd_conf_load(path, err, sizeof(err));
    if (c == NULL)
        fail_msg("%s", err);
    assert_int_equal(c->nlisten, 4);
    assert_int_equal(c->listen[3].proto, FPMD_PROTO_JSONRPC_LINES);
    assert_string_equal(c->rpc_path, "/rpc");
    assert_int_equal(c->pm.mode, FPMD_PM_DYNAMIC);
    assert_int_equal(c->pm.max_children, 8);
    assert_int_equal(c->timeouts.slowlog_ms, 5000);
    assert_int_equal(c->nroutes, 3);
    fpmd_conf_free(c);
}

static void
conf_reads_static_routes_modules_and_body_limits(void **state)
{
    struct fpmd_conf *c;

    (void) state;
    c = load("listen:\n  - http: 127.0.0.1:8080\n"
             "limits: { parsed_body: 4k, form_fields: 9, json_depth: 3 }\n"
             "modules:\n  - /opt/m.so\n  - rel/m.so\n"
             "routes:\n  - match: /assets/*\n    static:\n"
             "      root: /tmp\n      index: i.html\n"
             "      follow_symlinks: true\n"
             "      deny_extensions: [.php, .INC]\n");
    if (c == NULL)
        fail_msg("%s", err);
    assert_int_equal(c->limits.parsed_body, 4096);
    assert_int_equal(c->limits.form_fields, 9);
    assert_int_equal(c->limits.json_depth, 3);
    assert_int_equal(c->nmodules, 2);
    assert_string_equal(c->modules[0].path, "/opt/m.so");
    assert_string_equal(c->modules[1].path, "./rel/m.so");
    assert_int_equal(c->modules[1].pos.line, 6);
    assert_string_equal(c->routes[0].handler, "static");
    assert_string_equal(c->routes[0].methods, "GET,HEAD");
    assert_string_equal(c->routes[0].static_files->root, "/tmp");
    assert_string_equal(c->routes[0].static_files->index, "i.html");
    assert_int_equal(c->routes[0].static_files->follow_symlinks, 1);
    assert_int_equal(c->routes[0].static_files->ndeny_ext, 2);
    assert_string_equal(c->routes[0].static_files->deny_ext[1], ".INC");
    fpmd_conf_free(c);

    expect_error("listen:\n  - http: 127.0.0.1:8080\nroutes:\n"
                 "  - match: /a/*\n    static: { root: /nonexistent-fpmd }\n",
                 "t.yaml:5:21: root: \"/nonexistent-fpmd\": No such file");
    expect_error("listen:\n  - http: 127.0.0.1:8080\nroutes:\n"
                 "  - match: /a\n    static: { root: /tmp }\n",
                 "t.yaml:4:5: routes: a static: route matches a prefix");
    expect_error("listen:\n  - http: 127.0.0.1:8080\nroutes:\n"
                 "  - match: /a/*\n    handler: hello\n"
                 "    static: { root: /tmp }\n",
                 "t.yaml:4:5: routes: a route has handler: or static:");
    expect_error("listen:\n  - http: 127.0.0.1:8080\nroutes:\n"
                 "  - match: /a/*\n    static: { index: x }\n",
                 "t.yaml:5:13: routes.static: needs root: DIR");
    expect_error("listen:\n  - http: 127.0.0.1:8080\nroutes:\n"
                 "  - match: /a/*\n    static:\n      root: /tmp\n"
                 "      deny_extensions: [php]\n",
                 "t.yaml:7:25: deny_extensions: \"php\" is not an extension");
    expect_error("listen:\n  - http: 127.0.0.1:8080\nmodules: x.so\n",
                 "t.yaml:3:10: modules: expected a list of module paths");
}

/* A relative module path past PATH_MAX is refused at its entry: a NULL
 * path would make dlopen() load the program itself. */
static void
conf_refuses_a_module_path_too_long(void **state)
{
    static char text[8192];
    size_t n;

    (void) state;
    n = (size_t) snprintf(text, sizeof(text), "modules:\n  - ");
    memset(text + n, 'm', 5000);
    strcpy(text + n + 5000, ".so\n");
    expect_error(text, "t.yaml:2:5: modules: path too long");
}

static void
conf_reads_pools(void **state)
{
    struct fpmd_conf *c;
    const struct fpmd_conf_backend *b;

    (void) state;
    c = load("listen:\n  - http: 127.0.0.1:8080\n"
             "pools:\n  cache:\n    driver: redis\n    servers:\n"
             "      - localhost:6379\n"
             "      - { address: \"[::1]:6380\", role: replica }\n"
             "      - /run/redis.sock\n"
             "    password: pw\n    database: 2\n    min: 1\n    max: 8\n"
             "    wait_queue: 5\n    wait_timeout: 250ms\n"
             "    connect_timeout: 2s\n    timeout: 300ms\n"
             "    idle_timeout: 0\n    max_lifetime: 10m\n"
             "  other: { driver: redis, servers: [10.0.0.1:1, 10.0.0.2:2], "
             "shard: on }\n");
    if (c == NULL)
        fail_msg("%s", err);
    assert_int_equal(c->nbackends, 2);
    b = &c->backends[0];
    assert_string_equal(b->name, "cache");
    assert_int_equal(b->driver, FPMD_DRIVER_REDIS);
    assert_int_equal(b->nservers, 3);
    assert_string_equal(b->servers[0].host, "127.0.0.1");
    assert_int_equal(b->servers[0].port, 6379);
    assert_string_equal(b->servers[1].host, "::1");
    assert_int_equal(b->servers[1].port, 6380);
    assert_int_equal(b->servers[1].role, FPMD_ROLE_REPLICA);
    assert_string_equal(b->servers[2].path, "/run/redis.sock");
    assert_string_equal(b->password, "pw");
    assert_string_equal(b->database, "2");
    assert_int_equal(b->min, 1);
    assert_int_equal(b->max, 8);
    assert_int_equal(b->wait_queue, 5);
    assert_int_equal(b->wait_timeout_ms, 250);
    assert_int_equal(b->connect_timeout_ms, 2000);
    assert_int_equal(b->timeout_ms, 300);
    assert_int_equal(b->idle_timeout_ms, 0);
    assert_int_equal(b->max_lifetime_ms, 600000);
    b = &c->backends[1];
    assert_int_equal(b->shard, 1);
    assert_int_equal(b->max, 16);               /* defaults */
    assert_int_equal(b->timeout_ms, 1000);
    assert_int_equal(b->wait_queue, 1024);
    fpmd_conf_free(c);

    c = load("listen:\n  - http: 127.0.0.1:8080\n"
             "pools:\n  docs: { driver: mongo, servers: [127.0.0.1:27017, "
             "127.0.0.2:27017], database: app, threads: 2 }\n");
    if (c == NULL)
        fail_msg("%s", err);
    assert_int_equal(c->backends[0].driver, FPMD_DRIVER_MONGO);
    assert_int_equal(c->backends[0].threads, 2);
    assert_int_equal(c->backends[0].nservers, 2);
    fpmd_conf_free(c);
    c = load("listen:\n  - fastcgi: 127.0.0.1:9000\n"
             "legacy: { fastcgi: /run/php/php8.2-fpm.sock, max: 8 }\n"
             "routes:\n  - match: \"*\"\n    to: legacy\n");
    if (c == NULL)
        fail_msg("%s", err);
    assert_string_equal(c->backends[0].name, "legacy");
    assert_int_equal(c->backends[0].driver, FPMD_DRIVER_FASTCGI);
    assert_string_equal(c->backends[0].servers[0].path,
                        "/run/php/php8.2-fpm.sock");
    assert_int_equal(c->backends[0].max, 8);
    assert_int_equal(c->backends[0].timeout_ms, 60000);
    assert_int_equal(c->backends[0].wait_timeout_ms, 60000);
    assert_string_equal(c->routes[0].path, "/*");
    assert_string_equal(c->routes[0].handler, "legacy");
    fpmd_conf_free(c);
    expect_error("legacy: { fastcgi: 127.0.0.1:9001, min: 1, "
                 "keep_alive: false }\n",
                 "t.yaml:1:9: legacy: min: connections are opened per "
                 "request unless keep_alive: true");
    c = load("listen:\n  - fastcgi: 127.0.0.1:9000\n"
             "legacy: { fastcgi: 127.0.0.1:9001, keep_alive: false }\n");
    if (c == NULL)
        fail_msg("%s", err);
    assert_int_equal(c->backends[0].keep_alive, 0);
    assert_int_equal(c->backends[0].max, 64);
    assert_null(c->backends[0].document_root);
    /* pass-through changes nothing unless asked: stderr logged as
     * before, no request id added */
    assert_true(c->backends[0].log_stderr);
    assert_false(c->backends[0].send_request_id);
    fpmd_conf_free(c);
    c = load("listen:\n  - fastcgi: 127.0.0.1:9000\n"
             "legacy: { fastcgi: 127.0.0.1:9001, log_stderr: false,\n"
             "          send_request_id: true }\n");
    if (c == NULL)
        fail_msg("%s", err);
    assert_false(c->backends[0].log_stderr);
    assert_true(c->backends[0].send_request_id);
    fpmd_conf_free(c);
    expect_error("legacy: { fastcgi: 127.0.0.1:9001, log_stderr: often }\n",
                 "t.yaml:1:48: log_stderr: \"often\" is not a boolean");
    expect_error("legacy:\n  main: { fastcgi: 127.0.0.1:9001, "
                 "send_request_id: 1x }\n",
                 "t.yaml:2:53: send_request_id: \"1x\" is not a boolean");
    c = load("listen:\n  - fastcgi: 127.0.0.1:9000\n"
             "legacy: { fastcgi: 127.0.0.1:9001, document_root: /srv/www }\n");
    if (c == NULL)
        fail_msg("%s", err);
    assert_string_equal(c->backends[0].document_root, "/srv/www");
    fpmd_conf_free(c);
    expect_error("legacy: { fastcgi: 127.0.0.1:9001, document_root: www }\n",
                 "t.yaml:1:51: document_root: \"www\" is not an absolute "
                 "path");
    expect_error("legacy: { max: 2 }\n",
                 "t.yaml:1:9: legacy: needs fastcgi: ADDRESS");
    expect_error("routes:\n  - match: /x\n    to: php\n",
                 "t.yaml:3:9: routes.to: \"php\" is not legacy, "
                 "legacy:NAME or a status");
    expect_error("pools:\n  d: { driver: mongo, servers: [1.2.3.4:1] }\n",
                 "t.yaml:2:3: pools.d: database: a mongo pool needs one");
    expect_error("pools:\n  c: { driver: redis, servers: [1.2.3.4:1], "
                 "threads: 2 }\n",
                 "t.yaml:2:3: pools.c: threads: is for mongo pools");
    expect_error("pools:\n  c:\n    driver: memcache\n    servers: [1.2.3.4:1]\n",
                 "t.yaml:3:13: driver: \"memcache\" is not redis");
    expect_error("pools:\n  c: { driver: redis, servers: [redis.local:6379] }\n",
                 "t.yaml:2:33: servers: \"redis.local\" is not an IP address");
    expect_error("pools:\n  c: { driver: redis, servers: [1.2.3.4] }\n",
                 "t.yaml:2:33: servers: \"1.2.3.4\" is not HOST:PORT");
    expect_error("pools:\n  c: { driver: redis, servers: [1.2.3.4:0] }\n",
                 "t.yaml:2:33: servers: \"0\": the port must be 1 to 65535");
    expect_error("pools:\n  c: { driver: redis }\n",
                 "t.yaml:2:3: pools.c: servers: needs at least one address");
    expect_error("pools:\n  c:\n    driver: redis\n    servers:\n"
                 "      - { address: 1.2.3.4:1, role: replica }\n",
                 "t.yaml:2:3: pools.c: servers: needs a primary");
    expect_error("pools:\n  c: { driver: redis, servers: [1.2.3.4:1], "
                 "min: 9, max: 2 }\n",
                 "t.yaml:2:3: pools.c: min (9) is above max (2)");
    expect_error("pools:\n  c: { driver: redis, servers: [1.2.3.4:1], "
                 "database: x }\n",
                 "t.yaml:2:3: pools.c: database: a redis database is a number");
    expect_error("pools:\n  c.d: { driver: redis, servers: [1.2.3.4:1] }\n",
                 "t.yaml:2:3: pools: a pool name is 1 to 31 letters");
    expect_error("pools:\n  c: { driver: redis, servers: [1.2.3.4:1], "
                 "size: 3 }\n",
                 "t.yaml:2:45: unknown key \"size\" in pools");
}

static void
conf_shims_named_legacy_pools_and_to_status(void **state)
{
    const struct fpmd_conf_route *r;
    struct fpmd_conf *c;

    (void) state;
    c = load("listen:\n  - fastcgi: 127.0.0.1:9000\n"
             "legacy:\n"
             "  old: { fastcgi: 127.0.0.1:9001 }\n"
             "  admin: { fastcgi: /run/admin.sock, max: 2 }\n"
             "routes:\n"
             "  - match: { script: /api/user.php, method: GET,\n"
             "             query: { action: show, id: \"*\" } }\n"
             "    handler: hello\n"
             "  - match: { script: /index.php, path_info: \"/u/{id}/*\" }\n"
             "    handler: hello\n"
             "  - match: { prefix: /admin/ }\n"
             "    to: legacy:admin\n"
             "    params: { HTTP_X_TRACE: on, SCRIPT_NAME: /a.php }\n"
             "  - match: GET /gone.php\n"
             "    to: 410\n"
             "  - match: \"*\"\n"
             "    to: legacy:old\n");
    if (c == NULL)
        fail_msg("%s", err);
    assert_int_equal(c->nbackends, 2);
    assert_string_equal(c->backends[1].name, "admin");
    assert_int_equal(c->backends[1].driver, FPMD_DRIVER_FASTCGI);
    assert_int_equal(c->backends[1].max, 2);
    r = &c->routes[0];
    assert_non_null(r->shim);
    assert_string_equal(r->shim->script, "/api/user.php");
    assert_string_equal(r->methods, "GET");
    assert_int_equal(r->shim->nquery, 2);
    assert_string_equal(r->shim->query[1].value, "*");
    assert_string_equal(r->path, "/api/user.php?action=show&id=*");
    assert_int_equal(r->pos.line, 7);
    assert_string_equal(c->routes[1].path, "/index.php path_info=/u/{id}/*");
    r = &c->routes[2];
    assert_string_equal(r->path, "/admin/*");
    assert_string_equal(r->handler, "legacy");
    assert_string_equal(r->legacy, "admin");
    assert_int_equal(r->nparams, 2);
    assert_string_equal(r->params[1].name, "SCRIPT_NAME");
    assert_string_equal(c->routes[3].handler, "answer_status");
    assert_int_equal(c->routes[3].to_status, 410);
    assert_null(c->routes[3].shim);
    assert_string_equal(c->routes[4].legacy, "old");
    fpmd_conf_free(c);

    expect_error("listen:\n  - fastcgi: 127.0.0.1:9000\n"
                 "routes:\n  - match: \"*\"\n    to: legacy\n",
                 "t.yaml:4:12: routes: to: legacy: no such legacy pool \"legacy\"");
    expect_error("listen:\n  - fastcgi: 127.0.0.1:9000\n"
                 "pools:\n  cache: { driver: redis, servers: [1.2.3.4:1] }\n"
                 "routes:\n  - match: \"*\"\n    to: legacy:cache\n",
                 "t.yaml:6:12: routes: to: legacy: pool \"cache\" is not a "
                 "legacy");
    expect_error("routes:\n  - match: { query: { a: b } }\n    handler: x\n",
                 "t.yaml:2:12: routes.match: a shim needs script: or "
                 "prefix:");
    expect_error("routes:\n  - match: { script: a.php }\n    handler: x\n",
                 "t.yaml:2:22: routes.match.script: \"a.php\" is a path");
    expect_error("routes:\n  - match: { script: /a.php, path_info: \"/{a-b}\" }\n"
                 "    handler: x\n",
                 "t.yaml:2:41: routes.match.path_info: \"/{a-b}\" is not");
    expect_error("routes:\n  - match: { script: /a.php, method: get }\n"
                 "    handler: x\n",
                 "t.yaml:2:38: routes.match.method: \"get\" is not");
    expect_error("routes:\n  - match: { script: /a.php, query: { a: \"\" } }"
                 "\n    handler: x\n",
                 "routes.match.query: a: an empty value");
    expect_error("routes:\n  - match: /x\n    to: 302\n",
                 "t.yaml:3:9: routes.to: \"302\" is not legacy");
    expect_error("routes:\n  - match: /x\n    handler: x\n"
                 "    params: { A: b }\n",
                 "t.yaml:2:5: routes: params: is for routes that reach "
                 "legacy");
    c = load("listen:\n  - fastcgi: 127.0.0.1:9000\n"
             "legacy: { fastcgi: 127.0.0.1:9001 }\n"
             "routes:\n"
             "  - match: /a\n    handler: hello\n    shadow: true\n"
             "  - match: /b\n    handler: hello\n    canary: 12.5%\n"
             "  - match: /c\n    handler: hello\n"
             "    shadow: { methods: \"GET,PUT\", ignore: [a.b, c],\n"
             "              max_body: 64k, max_in_flight: 2 }\n"
             "    canary: { percent: 100%, max_error_rate: 0.5%,\n"
             "              max_p99: 250ms, window: 5s, cooldown: 1m,\n"
             "              min_requests: 3 }\n");
    if (c == NULL)
        fail_msg("%s", err);
    assert_string_equal(c->routes[0].shadow->methods, "GET,HEAD");
    assert_string_equal(c->routes[0].shadow->legacy, "legacy");
    assert_int_equal(c->routes[0].shadow->max_body, 1024 * 1024);
    assert_int_equal(c->routes[1].canary->percent_x100, 1250);
    assert_int_equal(c->routes[1].canary->max_error_x100, 500);
    assert_int_equal(c->routes[2].shadow->nignore, 2);
    assert_string_equal(c->routes[2].shadow->ignore[0], "a.b");
    assert_int_equal(c->routes[2].shadow->max_body, 64 * 1024);
    assert_int_equal(c->routes[2].canary->percent_x100, 10000);
    assert_int_equal(c->routes[2].canary->max_error_x100, 50);
    assert_int_equal(c->routes[2].canary->max_p99_ms, 250);
    assert_int_equal(c->routes[2].canary->cooldown_ms, 60000);
    fpmd_conf_free(c);
    expect_error("routes:\n  - match: /a\n    handler: x\n"
                 "    canary: 101%\n",
                 "t.yaml:4:13: canary: \"101%\" is not a percentage");
    expect_error("routes:\n  - match: /a\n    handler: x\n"
                 "    canary: { max_p99: 1s }\n",
                 "t.yaml:4:13: routes.canary: needs percent: N%");
    expect_error("routes:\n  - match: /a\n    to: legacy\n"
                 "    shadow: true\n",
                 "t.yaml:2:5: routes: shadow: and canary: are for routes "
                 "with handler: NAME");
    expect_error("routes:\n  - match: /a\n    handler: x\n"
                 "    shadow: { ignore: [a..b] }\n",
                 "t.yaml:4:24: ignore: \"a..b\" is not a field path");
    expect_error("listen:\n  - fastcgi: 127.0.0.1:9000\n"
                 "routes:\n  - match: /a\n    handler: hello\n"
                 "    shadow: { legacy: old }\n",
                 "t.yaml:4:12: routes: shadow: no such legacy pool \"old\"");
    expect_error("request_id: \"X Id\"\n",
                 "t.yaml:1:13: request_id: \"X Id\" is not a header name");
    c = load("listen:\n  - http: 127.0.0.1:8080\nrequest_id: off\n");
    if (c == NULL)
        fail_msg("%s", err);
    assert_null(c->request_id);
    fpmd_conf_free(c);
}

static void
conf_reads_allowed_clients(void **state)
{
    struct fpmd_conf *c;

    (void) state;
    c = load("listen:\n"
             "  - fastcgi: 127.0.0.1:9000\n"
             "    allowed_clients: \" 10.0.0.1,,::1 ,\"\n"
             "  - fastcgi: 127.0.0.1:9001\n"
             "    allowed_clients: [10.0.0.2, \"::2\"]\n"
             "  - fastcgi: 127.0.0.1:9002\n    allowed_clients: []\n"
             "  - fastcgi: 127.0.0.1:9003\n    allowed_clients: \"\"\n");
    if (c == NULL)
        fail_msg("%s", err);
    assert_string_equal(c->listen[0].allowed_clients[0], "10.0.0.1");
    assert_string_equal(c->listen[0].allowed_clients[1], "::1");
    assert_null(c->listen[0].allowed_clients[2]);
    assert_string_equal(c->listen[1].allowed_clients[0], "10.0.0.2");
    assert_string_equal(c->listen[1].allowed_clients[1], "::2");
    assert_null(c->listen[1].allowed_clients[2]);
    assert_null(c->listen[2].allowed_clients);
    assert_null(c->listen[3].allowed_clients);
    fpmd_conf_free(c);
    expect_error("listen:\n  - fastcgi: 127.0.0.1:1\n"
                 "    allowed_clients: {a: b}\n",
                 "t.yaml:3:22: allowed_clients: expected a list of IP "
                 "addresses");
}

static void
conf_reads_seccomp_and_its_allow_list(void **state)
{
    struct fpmd_conf *c;

    (void) state;
    c = load("listen:\n  - fastcgi: 127.0.0.1:9000\n");
    if (c == NULL)
        fail_msg("%s", err);
    assert_int_equal(c->seccomp.mode, FPMD_SECCOMP_OFF);
    assert_null(c->seccomp.allow);
    fpmd_conf_free(c);
    /* fstatat64 is 32-bit architectures' name: a config for several
     * machines may list it */
    c = load("listen:\n  - fastcgi: 127.0.0.1:9000\nseccomp: log\n"
             "seccomp_allow: [ptrace, fstatat64]\n");
    if (c == NULL)
        fail_msg("%s", err);
    assert_int_equal(c->seccomp.mode, FPMD_SECCOMP_LOG);
    assert_string_equal(c->seccomp.allow[0], "ptrace");
    assert_string_equal(c->seccomp.allow[1], "fstatat64");
    assert_null(c->seccomp.allow[2]);
    fpmd_conf_free(c);
    c = load("listen:\n  - fastcgi: 127.0.0.1:9000\nseccomp: On\n"
             "seccomp_allow: []\n");
    if (c == NULL)
        fail_msg("%s", err);
    assert_int_equal(c->seccomp.mode, FPMD_SECCOMP_ON);
    assert_null(c->seccomp.allow[0]);
    fpmd_conf_free(c);
    c = load("listen:\n  - fastcgi: 127.0.0.1:9000\nseccomp: false\n");
    if (c == NULL)
        fail_msg("%s", err);
    assert_int_equal(c->seccomp.mode, FPMD_SECCOMP_OFF);
    fpmd_conf_free(c);
    expect_error("listen:\n  - fastcgi: 127.0.0.1:1\nseccomp: strict\n",
                 "t.yaml:3:10: seccomp: \"strict\" is not one of off, on, "
                 "log");
    expect_error("listen:\n  - fastcgi: 127.0.0.1:1\n"
                 "seccomp_allow:\n  - read\n  - PTRACE\n",
                 "t.yaml:5:5: seccomp_allow: \"PTRACE\" is not a system "
                 "call libseccomp knows");
    expect_error("listen:\n  - fastcgi: 127.0.0.1:1\nseccomp_allow: ptrace\n",
                 "t.yaml:3:16: seccomp_allow: expected a list");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(conf_shims_named_legacy_pools_and_to_status),
        cmocka_unit_test(conf_embedded_default_loads),
        cmocka_unit_test(conf_demo_file_loads),
        cmocka_unit_test(conf_refuses_a_module_path_too_long),
        cmocka_unit_test(conf_reads_every_section),
        cmocka_unit_test(conf_reads_cron_tables_and_watch),
        cmocka_unit_test(conf_reports_unknown_keys_and_bad_values_with_positions),
        cmocka_unit_test(conf_applies_php_fpm_dynamic_checks),
        cmocka_unit_test(conf_reports_every_error_at_once),
        cmocka_unit_test(conf_parses_durations_and_sizes),
        cmocka_unit_test(conf_file_errors_name_the_path),
        cmocka_unit_test(conf_documented_example_loads),
        cmocka_unit_test(conf_reads_static_routes_modules_and_body_limits),
        cmocka_unit_test(conf_reads_pools),
        cmocka_unit_test(conf_reads_allowed_clients),
        cmocka_unit_test(conf_reads_seccomp_and_its_allow_list),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
