/* SPDX-License-Identifier: BSD-2-Clause */
/* nginx access log lines: the reader's bounds, combined and custom
 * formats (${var}, quoted as in nginx.conf), nginx's \xXX escapes, times,
 * lines that must not match, and the route keys of PHP scripts and front
 * controllers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "migrate/tool/log_line.h"

#define TIMED "$remote_addr [$time_local] \"$request\" $status " \
              "$request_time \"$upstream_response_time\""
#define UPSTREAM "\"$request\" $status $upstream_response_time"

struct parsed {
    struct fpmd_log_entry e;
    const char *why;
    char line[4096];
    int rc;
};

static struct parsed *
parse(const char *format, const char *line)
{
    static struct parsed p;
    struct fpmd_log_format *f;
    char err[256];

    f = fpmd_log_format_compile(format, err, sizeof(err));
    assert_non_null(f);
    memset(&p, 0, sizeof(p));
    assert_true(strlen(line) < sizeof(p.line));
    strcpy(p.line, line);
    p.rc = fpmd_log_line_parse(f, p.line, strlen(line), &p.e, &p.why);
    fpmd_log_format_free(f);
    return &p;
}

static void
assert_field(const char *p, size_t n, const char *want)
{
    assert_non_null(p);
    assert_int_equal(n, strlen(want));
    assert_memory_equal(p, want, n);
}

/* The route key of a request target, default parameters; NULL when it is
 * not a PHP route. */
static const char *
key_of(const char *method, const char *target)
{
    static struct fpmd_log_route r;
    struct fpmd_log_entry e = {
        .method = method, .method_len = strlen(method),
        .target = target, .target_len = strlen(target),
        .time_us = -1,
    };
    int rc = fpmd_log_route_of(&e, fpmd_log_route_params_default,
                               fpmd_log_route_params_ndefault, &r);

    if (rc == FPMD_DECLINED)
        return NULL;
    assert_int_equal(rc, FPMD_OK);
    assert_int_equal(strlen(r.key), r.key_len);
    assert_string_equal(r.method, method);
    return r.key;
}

static void
combined_line_gives_request_and_status_without_time(void **state)
{
    struct parsed *p;

    (void) state;
    p = parse(NULL, "203.0.113.9 - alice [10/Oct/2024:13:55:36 +0000] "
              "\"GET /api/user.php?action=show&id=5 HTTP/1.1\" 200 2326 "
              "\"https://example.com/\" \"Mozilla/5.0 (X11; Linux)\"");
    assert_int_equal(p->rc, FPMD_OK);
    assert_field(p->e.method, p->e.method_len, "GET");
    assert_field(p->e.target, p->e.target_len,
                 "/api/user.php?action=show&id=5");
    assert_false(p->e.target_is_uri);
    assert_int_equal(p->e.status, 200);
    assert_int_equal(p->e.time_us, -1);

    p = parse("combined", "::1 - - [10/Oct/2024:13:55:36 +0000] "
              "\"POST /index.php HTTP/2.0\" 302 0 \"-\" \"-\"");
    assert_int_equal(p->rc, FPMD_OK);
    assert_field(p->e.method, p->e.method_len, "POST");
    assert_int_equal(p->e.status, 302);
    /* HTTP/0.9 has no version */
    p = parse(NULL, "::1 - - [t] \"GET /a.php\" 200 0 \"-\" \"-\"");
    assert_int_equal(p->rc, FPMD_OK);
    assert_field(p->e.target, p->e.target_len, "/a.php");
}

static void
escaped_quotes_and_bytes_are_unescaped(void **state)
{
    struct parsed *p;

    (void) state;
    /* a client's '"' cannot end the field: nginx wrote \x22 */
    p = parse(NULL, "10.0.0.1 - - [t] \"GET /a.php?r=\\x22x\\x22\\x5C "
              "HTTP/1.1\" 404 0 \"-\" \"curl \\x22quoted\\x22\"");
    assert_int_equal(p->rc, FPMD_OK);
    assert_field(p->e.target, p->e.target_len, "/a.php?r=\"x\"\\");
    assert_int_equal(p->e.status, 404);
    /* a lone backslash or a bad escape stays as written */
    p = parse(NULL, "10.0.0.1 - - [t] \"GET /a\\xZZ\\x4 HTTP/1.1\" 200 0 "
              "\"-\" \"-\"");
    assert_int_equal(p->rc, FPMD_OK);
    assert_field(p->e.target, p->e.target_len, "/a\\xZZ\\x4");
}

static void
request_time_and_upstream_times(void **state)
{
    struct parsed *p;

    (void) state;
    p = parse(TIMED, "1.2.3.4 [t] \"GET /x.php HTTP/1.1\" 200 0.123 "
              "\"0.100\"");
    assert_int_equal(p->rc, FPMD_OK);
    assert_int_equal(p->e.time_us, 123000);
    p = parse(TIMED, "1.2.3.4 [t] \"GET /x.php HTTP/1.1\" 200 12 \"-\"");
    assert_int_equal(p->e.time_us, 12000000);
    p = parse(TIMED, "1.2.3.4 [t] \"GET /x.php HTTP/1.1\" 200 0.1234567 "
              "\"-\"");
    assert_int_equal(p->e.time_us, 123456);
    p = parse(TIMED, "1.2.3.4 [t] \"GET /x.php HTTP/1.1\" 499 - \"-\"");
    assert_int_equal(p->rc, FPMD_OK);
    assert_int_equal(p->e.time_us, -1);

    /* without $request_time: upstream tries and redirects are summed */
    p = parse(UPSTREAM, "\"GET /x.php HTTP/1.1\" 502 0.010, 0.020 : 0.005");
    assert_int_equal(p->rc, FPMD_OK);
    assert_int_equal(p->e.time_us, 35000);
    p = parse(UPSTREAM, "\"GET /x.php HTTP/1.1\" 502 -, 0.020");
    assert_int_equal(p->e.time_us, 20000);
    p = parse(UPSTREAM, "\"GET /x.php HTTP/1.1\" 502 - : -");
    assert_int_equal(p->rc, FPMD_OK);
    assert_int_equal(p->e.time_us, -1);
}

static void
braced_variables_and_nginx_conf_quoting(void **state)
{
    struct fpmd_log_format *f;
    struct parsed *p;
    char err[256];

    (void) state;
    p = parse("${request_method}:${request_uri}|${status}|${request_time}s",
              "PUT:/v1/item.php?a=1|201|0.250s");
    assert_int_equal(p->rc, FPMD_OK);
    assert_field(p->e.method, p->e.method_len, "PUT");
    assert_field(p->e.target, p->e.target_len, "/v1/item.php?a=1");
    assert_int_equal(p->e.status, 201);
    assert_int_equal(p->e.time_us, 250000);

    /* pasted from nginx.conf: two quoted strings, an escaped quote, ';' */
    p = parse("'$remote_addr \"$request\" ' \"$status \\\"$uri\\\"\";",
              "1.1.1.1 \"GET /x HTTP/1.1\" 200 \"/x\"");
    assert_int_equal(p->rc, FPMD_OK);
    assert_int_equal(p->e.status, 200);

    f = fpmd_log_format_compile("$request_method $request_uri", err,
                                sizeof(err));
    assert_non_null(f);
    assert_false(fpmd_log_format_timed(f));
    fpmd_log_format_free(f);
    f = fpmd_log_format_compile("$request $upstream_response_time", err,
                                sizeof(err));
    assert_non_null(f);
    assert_true(fpmd_log_format_timed(f));
    fpmd_log_format_free(f);
}

static void
uri_and_args_are_taken_as_decoded(void **state)
{
    struct parsed *p;

    (void) state;
    p = parse("$request_method \"$uri\" \"$args\" $status",
              "GET \"/a b/index.php\" \"r=x%2Fy\" 200");
    assert_int_equal(p->rc, FPMD_OK);
    assert_true(p->e.target_is_uri);
    assert_field(p->e.target, p->e.target_len, "/a b/index.php");
    assert_field(p->e.args, p->e.args_len, "r=x%2Fy");
    p = parse("$request_method \"$uri\" \"$args\" $status",
              "GET \"/index.php\" \"-\" 200");
    assert_int_equal(p->rc, FPMD_OK);
    assert_null(p->e.args);
}

static void
formats_that_cannot_work_are_refused(void **state)
{
    static const char *const bad[] = {
        "$remote_addr$request",         /* nothing between them */
        "$status $request_time",        /* no request */
        "$request_method $status",
        "$request $",
        "$request ${status",
        "$request ${}",
        "'$status",
        "'$request$status'",
        "",
        "  ",
    };
    struct parsed *p;
    char err[256];

    (void) state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        assert_null(fpmd_log_format_compile(bad[i], err, sizeof(err)));
        assert_true(err[0] != '\0');
    }
    assert_null(fpmd_log_format_compile("$a$b", err, sizeof(err)));
    assert_non_null(strstr(err, "$b follows $a"));

    /* not nginx.conf quoting after all: taken as written */
    p = parse("'$request' x", "'GET /a.php HTTP/1.1' x");
    assert_int_equal(p->rc, FPMD_OK);
    p = parse("\"$request\" \"$status\"", "\"GET /a.php HTTP/1.1\" \"200\"");
    assert_int_equal(p->rc, FPMD_OK);
    assert_int_equal(p->e.status, 200);
}

static void
garbage_lines_do_not_match_and_stay_as_read(void **state)
{
    static const char *const bad[] = {
        "",
        "garbage",
        "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
        "1.2.3.4 - - [t] \"GET / HTTP/1.1\" 200",       /* cut short */
        "1.2.3.4 - - [t] \"GET / HTTP/1.1\" 20 0 \"-\" \"-\"",
        "1.2.3.4 - - [t] \"GET / HTTP/1.1\" 2000 0 \"-\" \"-\"",
        "1.2.3.4 - - [t] \"GET / HTTP/1.1\" abc 0 \"-\" \"-\"",
        "1.2.3.4 - - [t] \"GET / HTTP/1.1\" 200 0 \"-\" \"-\" extra",
    };
    struct parsed *p;

    (void) state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        p = parse(NULL, bad[i]);
        assert_int_equal(p->rc, FPMD_ERROR);
        assert_non_null(p->why);
        assert_string_equal(p->line, bad[i]);
    }
    p = parse(NULL, "1.2.3.4 - - [t] \"GET /\\x22 HTTP/1.1\" 2x0 0 \"-\" "
              "\"-\"");
    assert_int_equal(p->rc, FPMD_ERROR);
    assert_string_equal(p->why, "$status is not three digits");
    assert_non_null(strstr(p->line, "\\x22"));      /* not unescaped */
    p = parse(TIMED, "1.2.3.4 [t] \"GET /x.php HTTP/1.1\" 200 0.1s \"-\"");
    assert_int_equal(p->rc, FPMD_ERROR);
    p = parse(TIMED, "1.2.3.4 [t] \"GET /x.php HTTP/1.1\" 200 .5 \"-\"");
    assert_int_equal(p->rc, FPMD_ERROR);
    p = parse(TIMED, "1.2.3.4 [t] \"GET /x.php HTTP/1.1\" 200 1. \"-\"");
    assert_int_equal(p->rc, FPMD_ERROR);
    /* with $request_time, $upstream_response_time is not used */
    p = parse(TIMED, "1.2.3.4 [t] \"GET /x.php HTTP/1.1\" 200 0.1 \"x\"");
    assert_int_equal(p->rc, FPMD_OK);
    p = parse(UPSTREAM, "\"GET /x.php HTTP/1.1\" 200 0.1,x");
    assert_int_equal(p->rc, FPMD_ERROR);
}

static void
lines_without_a_request_are_declined(void **state)
{
    struct parsed *p;

    (void) state;
    p = parse(NULL, "1.2.3.4 - - [t] \"-\" 400 0 \"-\" \"-\"");
    assert_int_equal(p->rc, FPMD_DECLINED);
    p = parse(NULL, "1.2.3.4 - - [t] \"\\x16\\x03\\x01\" 400 157 \"-\" \"-\"");
    assert_int_equal(p->rc, FPMD_DECLINED);
    p = parse(NULL, "1.2.3.4 - - [t] \"G(T /a.php HTTP/1.1\" 400 0 \"-\" "
              "\"-\"");
    assert_int_equal(p->rc, FPMD_DECLINED);
    p = parse(NULL, "1.2.3.4 - - [t] \"GET  HTTP/1.1\" 400 0 \"-\" \"-\"");
    assert_int_equal(p->rc, FPMD_DECLINED);
}

static void
php_scripts_are_keyed_by_their_decoded_path(void **state)
{
    (void) state;
    assert_string_equal(key_of("GET", "/index.php"), "/index.php");
    assert_string_equal(key_of("GET", "/index.php/foo/bar?x=1"),
                        "/index.php/foo/bar");
    assert_string_equal(key_of("GET", "/api/user%2Ephp"), "/api/user.php");
    assert_string_equal(key_of("GET", "/a/./b/../c.php"), "/a/c.php");
    assert_string_equal(key_of("GET", "//x.php"), "/x.php");
    assert_string_equal(key_of("GET", "http://h.example/x.php?q"), "/x.php");
    assert_string_equal(key_of("GET", "/caf%C3%A9%20x.php"),
                        "/caf%C3%A9%20x.php");
    assert_string_equal(key_of("GET", "/a%25b.php"), "/a%25b.php");
    assert_string_equal(key_of("GET", "/a.php.bak/b.php/c"),
                        "/a.php.bak/b.php/c");

    /* the script and the path info, as nginx's fastcgi_split_path_info */
    {
        struct fpmd_log_route r;
        struct fpmd_log_entry e = {
            .method = "GET", .method_len = 3,
            .target = "/index.php/foo?r=a", .target_len = 18,
        };

        assert_int_equal(fpmd_log_route_of(&e, NULL, 0, &r), FPMD_OK);
        assert_int_equal(r.script_len, strlen("/index.php"));
        assert_string_equal(r.path, "/index.php/foo");
        assert_int_equal(r.query_off, 0);
    }

    assert_null(key_of("GET", "/"));
    assert_null(key_of("GET", "/style.css"));
    assert_null(key_of("GET", "/.php"));            /* "[^/]\.php" */
    assert_null(key_of("GET", "/x.phps"));
    assert_null(key_of("GET", "/x.PHP"));           /* nginx's ~ is exact */
    assert_null(key_of("GET", "/a.php.txt"));
    assert_null(key_of("GET", "/?x=.php"));
    assert_null(key_of("GET", "/x%00.php"));       /* nginx: 400 */
    assert_null(key_of("GET", "/x%zz.php"));
    assert_null(key_of("GET", "/../x.php"));
    assert_null(key_of("GET", "x.php"));
    assert_null(key_of("GET", "*"));
    assert_null(key_of("GET(", "/x.php"));
}

static void
front_controllers_are_keyed_by_their_route_params(void **state)
{
    static const char *const mine[] = {"page", "lang"};
    struct fpmd_log_route r;
    struct fpmd_log_entry e = {.method = "GET", .method_len = 3};

    (void) state;
    assert_string_equal(key_of("GET", "/api/user.php?action=show&id=5"),
                        "/api/user.php?action=show");
    assert_string_equal(key_of("GET", "/index.php?r=post/view&id=1"),
                        "/index.php?r=post/view");
    assert_string_equal(key_of("GET", "/index.php?r=post%2Fview"),
                        "/index.php?r=post/view");
    /* one key whatever the order; the list's order */
    assert_string_equal(key_of("GET", "/x.php?a=show&id=1&c=user"),
                        "/x.php?c=user&a=show");
    assert_string_equal(key_of("GET", "/x.php?c=user&a=show"),
                        "/x.php?c=user&a=show");
    /* PHP keeps the last; '+' is a space; no '=' is an empty value */
    assert_string_equal(key_of("GET", "/x.php?do=a&do=b"), "/x.php?do=b");
    assert_string_equal(key_of("GET", "/x.php?page=a+b%26c%3D"),
                        "/x.php?page=a%20b%26c%3D");
    assert_string_equal(key_of("GET", "/x.php?action&x=1"),
                        "/x.php?action=");
    assert_string_equal(key_of("GET", "/x.php?%61ction=1"),
                        "/x.php?action=1");
    assert_string_equal(key_of("GET", "/x.php?action[]=1&ACTION=2&id=3"),
                        "/x.php");
    assert_string_equal(key_of("GET", "/x.php?page=%22%5C%zz"),
                        "/x.php?page=%22%5C%25zz");

    e.target = "/x.php?action=1&page=2&lang=fr";
    e.target_len = strlen(e.target);
    assert_int_equal(fpmd_log_route_of(&e, mine, 2, &r), FPMD_OK);
    assert_string_equal(r.key, "/x.php?page=2&lang=fr");
    assert_string_equal(r.key + r.query_off, "page=2&lang=fr");

    /* $uri is decoded already; its query comes from $args */
    e.target = "/a%2Fb.php";
    e.target_len = strlen(e.target);
    e.target_is_uri = 1;
    e.args = "action=x";
    e.args_len = 8;
    assert_int_equal(fpmd_log_route_of(&e, fpmd_log_route_params_default,
                                       fpmd_log_route_params_ndefault, &r),
                     FPMD_OK);
    assert_string_equal(r.key, "/a%252Fb.php?action=x");
    assert_string_equal(r.path, "/a%2Fb.php");
}

static void
keys_and_paths_are_bounded(void **state)
{
    static char target[FPMD_LOG_PATH_MAX + 64];
    struct fpmd_log_route r;
    struct fpmd_log_entry e = {.method = "GET", .method_len = 3};

    (void) state;
    e.target = target;
    /* a key over FPMD_LOG_KEY_MAX: a PHP route, but "other" */
    memset(target, 'a', sizeof(target));
    memcpy(target, "/x.php?action=", 14);
    e.target_len = 14 + FPMD_LOG_KEY_MAX;
    assert_int_equal(fpmd_log_route_of(&e, fpmd_log_route_params_default,
                                       fpmd_log_route_params_ndefault, &r),
                     FPMD_ERROR);
    /* encoding triples a byte: the bound counts the key, not the input */
    memset(target + 14, ' ', FPMD_LOG_KEY_MAX / 3);
    e.target_len = 14 + FPMD_LOG_KEY_MAX / 3;
    assert_int_equal(fpmd_log_route_of(&e, fpmd_log_route_params_default,
                                       fpmd_log_route_params_ndefault, &r),
                     FPMD_ERROR);
    e.target_len = 14 + FPMD_LOG_KEY_MAX / 3 - 6;
    assert_int_equal(fpmd_log_route_of(&e, fpmd_log_route_params_default,
                                       fpmd_log_route_params_ndefault, &r),
                     FPMD_OK);
    assert_true(r.key_len <= FPMD_LOG_KEY_MAX);
    /* a path nginx would have refused with a 414 by default */
    memset(target, 'a', sizeof(target));
    target[0] = '/';
    memcpy(target + FPMD_LOG_PATH_MAX, ".php", 4);
    e.target_len = FPMD_LOG_PATH_MAX + 4;
    assert_int_equal(fpmd_log_route_of(&e, NULL, 0, &r), FPMD_DECLINED);
}

/* A temporary file holding text, at offset 0. */
static int
file_of(const char *text, size_t len)
{
    FILE *f = tmpfile();
    int fd;

    assert_non_null(f);
    fd = dup(fileno(f));
    fclose(f);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, len), (ssize_t) len);
    assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
    return fd;
}

static void
reader_cuts_lines_and_skips_long_ones_in_bounded_memory(void **state)
{
    /* a line far longer than the buffer, between short ones */
    size_t long_len = 3 * (1024 + FPMD_LOG_READ_CHUNK);
    size_t len = 2048 + long_len;
    char *text = malloc(len), *line;
    struct fpmd_log_reader rd;
    size_t n, o = 0, l;
    int fd;

    (void) state;
    assert_non_null(text);
    memcpy(text, "one\r\n\ntwo\n", 10);
    o = 10;
    memset(text + o, 'x', long_len);
    o += long_len;
    text[o++] = '\n';
    memset(text + o, 'x', 1024);
    o += 1024;
    memcpy(text + o, "\nlast", 5);
    o += 5;
    assert_true(o <= len);
    fd = file_of(text, o);
    assert_int_equal(fpmd_log_reader_init(&rd, fd, 1024), FPMD_OK);
    assert_int_equal(rd.cap, 1024 + FPMD_LOG_READ_CHUNK);

    assert_int_equal(fpmd_log_reader_next(&rd, &line, &l), FPMD_OK);
    assert_int_equal(l, 3);
    assert_memory_equal(line, "one", 3);
    assert_int_equal(fpmd_log_reader_next(&rd, &line, &l), FPMD_OK);
    assert_int_equal(l, 0);
    assert_int_equal(fpmd_log_reader_next(&rd, &line, &l), FPMD_OK);
    assert_int_equal(rd.lineno, 3);
    assert_int_equal(fpmd_log_reader_next(&rd, &line, &l), FPMD_DECLINED);
    assert_int_equal(rd.lineno, 4);
    /* exactly max_line is kept */
    assert_int_equal(fpmd_log_reader_next(&rd, &line, &l), FPMD_OK);
    assert_int_equal(l, 1024);
    assert_int_equal(rd.lineno, 5);
    assert_int_equal(fpmd_log_reader_next(&rd, &line, &l), FPMD_OK);
    assert_int_equal(l, 4);
    assert_memory_equal(line, "last", 4);
    assert_int_equal(fpmd_log_reader_next(&rd, &line, &l), FPMD_DONE);
    assert_int_equal(fpmd_log_reader_next(&rd, &line, &l), FPMD_DONE);
    fpmd_log_reader_free(&rd);
    close(fd);

    /* a line one byte over, complete in the buffer; a long last line */
    n = 0;
    memset(text, 'y', 3000);
    text[1025] = '\n';
    fd = file_of(text, 3000);
    assert_int_equal(fpmd_log_reader_init(&rd, fd, 1024), FPMD_OK);
    assert_int_equal(fpmd_log_reader_next(&rd, &line, &l), FPMD_DECLINED);
    assert_int_equal(fpmd_log_reader_next(&rd, &line, &l), FPMD_DECLINED);
    assert_int_equal(rd.lineno, 2);
    while (fpmd_log_reader_next(&rd, &line, &l) != FPMD_DONE)
        n++;
    assert_int_equal(n, 0);
    fpmd_log_reader_free(&rd);
    close(fd);
    free(text);

    /* a closed descriptor */
    assert_int_equal(fpmd_log_reader_init(&rd, -1, 1024), FPMD_OK);
    assert_int_equal(fpmd_log_reader_next(&rd, &line, &l), FPMD_ERROR);
    fpmd_log_reader_free(&rd);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(combined_line_gives_request_and_status_without_time),
        cmocka_unit_test(escaped_quotes_and_bytes_are_unescaped),
        cmocka_unit_test(request_time_and_upstream_times),
        cmocka_unit_test(braced_variables_and_nginx_conf_quoting),
        cmocka_unit_test(uri_and_args_are_taken_as_decoded),
        cmocka_unit_test(formats_that_cannot_work_are_refused),
        cmocka_unit_test(garbage_lines_do_not_match_and_stay_as_read),
        cmocka_unit_test(lines_without_a_request_are_declined),
        cmocka_unit_test(php_scripts_are_keyed_by_their_decoded_path),
        cmocka_unit_test(front_controllers_are_keyed_by_their_route_params),
        cmocka_unit_test(keys_and_paths_are_bounded),
        cmocka_unit_test(
            reader_cuts_lines_and_skips_long_ones_in_bounded_memory),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
