/* SPDX-License-Identifier: BSD-2-Clause */
/* Access log lines from php-fpm's %-codes, and escaping of request text. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <event2/buffer.h>

#include "fpmd/access_log.h"

static const char *
param(void *ctx, const char *name)
{
    (void) ctx;
    return strcmp(name, "HTTP_HOST") == 0 ? "example.org" : NULL;
}

static const char *
out_header(void *ctx, const char *name)
{
    (void) ctx;
    return strcmp(name, "Content-Type") == 0 ? "text/plain" : NULL;
}

static struct fpmd_access_info
info(void)
{
    struct fpmd_access_info ai = {
        .pool = "www", .method = "GET", .uri = "/a/b?x=1", .query = "x=1",
        .script = "/srv/a.php", .remote_addr = "127.0.0.1",
        .remote_user = NULL, .status = 201, .content_length = 12,
        .start_us = 1700000000000000ULL, .end_us = 1700000000250000ULL,
        .cpu_us = 50000, .memory = 3 * 1024 * 1024, .pid = 42, .ppid = 7,
        .param = param, .out_header = out_header, .ctx = NULL,
    };

    return ai;
}

static char line[4096];

static const char *
fmt(const char *f, const struct fpmd_access_info *ai)
{
    struct evbuffer *b = evbuffer_new();
    size_t n;

    assert_int_equal(fpmd_access_log_format(b, f, ai), FPMD_OK);
    n = evbuffer_get_length(b);
    assert_true(n < sizeof(line));
    evbuffer_remove(b, line, n);
    line[n] = '\0';
    evbuffer_free(b);
    return line;
}

static void
access_log_formats_each_code(void **state)
{
    struct fpmd_access_info ai = info();

    (void) state;
    assert_string_equal(fmt("%R %u %m %r%Q%q %s", &ai),
                        "127.0.0.1 - GET /a/b?x=1 201\n");
    assert_string_equal(fmt("%n %p %P %l %f", &ai),
                        "www 42 7 12 /srv/a.php\n");
    assert_string_equal(fmt("%d %{seconds}d %{micro}d", &ai),
                        "250.000 0.250 250000\n");
    assert_string_equal(fmt("%M %{kilo}M %{mega}M", &ai),
                        "3145728 3072 3\n");
    assert_string_equal(fmt("%C", &ai), "20.00\n");
    assert_string_equal(fmt("%{HTTP_HOST}e %{NOPE}e %{Content-Type}o %%", &ai),
                        "example.org - text/plain %\n");
    assert_string_equal(fmt("%{%Y}t", &ai), "2023\n");
    ai.query = "";
    assert_string_equal(fmt("%r%Q%q", &ai), "/a/b\n");
}

static void
access_log_escapes_request_text(void **state)
{
    struct fpmd_access_info ai = info();

    (void) state;
    ai.uri = "/x\n[fake] line\"\\";
    ai.method = "G\x01T";
    assert_string_equal(fmt("%m %r", &ai),
                        "G\\x01T /x\\x0A[fake] line\\x22\\x5C\n");
    /* UTF-8 (a C1 control among it), DEL, and a URI longer than one
     * escaping round */
    ai.uri = "/caf\xc3\xa9\xc2\x9b\x7f";
    assert_string_equal(fmt("%r", &ai), "/caf\\xC3\\xA9\\xC2\\x9B\\x7F\n");
    {
        char uri[1001], want[4000];

        memset(uri, 'a', sizeof(uri) - 1);
        uri[sizeof(uri) - 1] = '\0';
        uri[600] = '\n';
        ai.uri = uri;
        snprintf(want, sizeof(want), "%.600s\\x0A%s\n", uri, uri + 601);
        assert_string_equal(fmt("%r", &ai), want);
    }
}

static void
access_log_validates_formats(void **state)
{
    char err[128];

    (void) state;
    assert_int_equal(fpmd_access_log_validate(fpmd_access_log_default_format,
                                              err, sizeof(err)), FPMD_OK);
    assert_int_equal(fpmd_access_log_validate("%{seconds}d %Z", err,
                                              sizeof(err)), FPMD_ERROR);
    assert_non_null(strstr(err, "%Z"));
    assert_int_equal(fpmd_access_log_validate("%{oops", err, sizeof(err)),
                     FPMD_ERROR);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(access_log_formats_each_code),
        cmocka_unit_test(access_log_escapes_request_text),
        cmocka_unit_test(access_log_validates_formats),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
