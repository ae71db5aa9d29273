/* SPDX-License-Identifier: BSD-2-Clause */
/* The llhttp glue: requests written into a real HTTP connection of a
 * worker set up in this process (embedded default config, built-in
 * handlers) over a socketpair, whole and one byte per loop turn. Checks
 * the CGI params it builds, the framing answers and pipelining order. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>

#include "tests/worker_harness.h"


static int
setup(void **state)
{
    (void) state;
    signal(SIGPIPE, SIG_IGN);
    return fpmd_test_worker_setup() == FPMD_OK ? 0 : -1;
}

static void
drain(int fd, char *out, size_t outlen, size_t *used)
{
    ssize_t n;

    while (*used + 1 < outlen
           && (n = read(fd, out + *used, outlen - 1 - *used)) > 0)
        *used += (size_t) n;
    out[*used] = '\0';
}

/* Feeds in (whole, or a byte per loop turn) and returns what came back
 * until the connection closed. */
static size_t
exchange(const char *in, int bytewise, char *out, size_t outlen)
{
    size_t len = strlen(in), used = 0;
    int sv[2];

    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv),
                     0);
    assert_int_equal(fpmd_worker_take(sv[0], "test", FPMD_PROTO_HTTP),
                     FPMD_OK);
    for (size_t i = 0; i < len; i += bytewise ? 1 : len) {
        size_t n = bytewise ? 1 : len;

        /* refused midway: the server may have closed already */
        if (write(sv[1], in + i, n) != (ssize_t) n)
            break;
        event_base_loop(fpmd_process.base, EVLOOP_NONBLOCK);
        drain(sv[1], out, outlen, &used);
    }
    shutdown(sv[1], SHUT_WR);
    for (int i = 0; i < 200 && fpmd_conn_open_count() > 0; i++) {
        event_base_loop(fpmd_process.base, EVLOOP_NONBLOCK);
        drain(sv[1], out, outlen, &used);
    }
    close(sv[1]);
    assert_int_equal(fpmd_conn_open_count(), 0);
    return used;
}

/* Status codes of every response in out, in order. */
static int
statuses(const char *out, int *st, int max)
{
    int n = 0;

    for (const char *p = out; (p = strstr(p, "HTTP/1.1 ")) != NULL && n < max;
         p += 9)
        st[n++] = atoi(p + 9);
    return n;
}

/* out without its Date header line, which differs between two runs. */
static void
strip_date(char *out)
{
    char *d;

    while ((d = strstr(out, "\r\nDate: ")) != NULL) {
        char *end = strstr(d + 2, "\r\n");

        memmove(d, end, strlen(end) + 1);
    }
}

static void
http_builds_cgi_params_like_a_web_server(void **state)
{
    static char out[65536];
    const char *req = "GET /x/../probe?a=1 HTTP/1.1\r\nHost: h\r\n"
                      "X-Forwarded-For: 1.2.3.4\r\nX_Under: 1\r\n"
                      "Proxy: http://evil/\r\nContent-Type: text/x\r\n"
                      "Connection: close\r\n\r\n";

    (void) state;
    exchange(req, 0, out, sizeof(out));
    assert_non_null(strstr(out, "HTTP/1.1 200 OK\r\n"));
    assert_non_null(strstr(out, "\"DOCUMENT_URI\":\"/probe\""));
    assert_non_null(strstr(out, "\"REQUEST_URI\":\"/x/../probe?a=1\""));
    assert_non_null(strstr(out, "\"QUERY_STRING\":\"a=1\""));
    assert_non_null(strstr(out, "\"HTTP_X_FORWARDED_FOR\":\"1.2.3.4\""));
    assert_non_null(strstr(out, "\"CONTENT_TYPE\":\"text/x\""));
    assert_null(strstr(out, "HTTP_PROXY"));
    assert_null(strstr(out, "HTTP_X_UNDER"));
}

static void
http_answers_the_same_whatever_the_split(void **state)
{
    static char whole[65536], bytes[65536];
    const char *req = "POST /probe HTTP/1.1\r\nHost: h\r\n"
                      "Transfer-Encoding: chunked\r\n\r\n"
                      "5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nT: x\r\n\r\n"
                      "GET /hello HTTP/1.1\r\nHost: h\r\n"
                      "Connection: close\r\n\r\n";

    (void) state;
    exchange(req, 0, whole, sizeof(whole));
    exchange(req, 1, bytes, sizeof(bytes));
    strip_date(whole);
    strip_date(bytes);
    assert_string_equal(whole, bytes);
    /* sha256("hello world") */
    assert_non_null(strstr(whole, "b94d27b9934d3e08a52e52d7da7dabfac484efe3"
                                  "7a5380ee9088f7ace2efcde9"));
    assert_non_null(strstr(whole, "hello world\n"));
}

static void
http_pipelined_answers_keep_request_order(void **state)
{
    static char out[65536];
    const char *req = "GET /json HTTP/1.1\r\nHost: h\r\n\r\n"
                      "GET /nowhere HTTP/1.1\r\nHost: h\r\n\r\n"
                      "POST /hello HTTP/1.1\r\nHost: h\r\n\r\n"
                      "HEAD /hello HTTP/1.1\r\nHost: h\r\n\r\n"
                      "GET /hello HTTP/1.1\r\nHost: h\r\n"
                      "Connection: close\r\n\r\n";
    int st[8];

    (void) state;
    exchange(req, 0, out, sizeof(out));
    assert_int_equal(statuses(out, st, 8), 5);
    assert_int_equal(st[0], 200);
    assert_int_equal(st[1], 404);
    assert_int_equal(st[2], 405);
    assert_int_equal(st[3], 200);
    assert_int_equal(st[4], 200);
    assert_non_null(strstr(out, "Allow: GET, HEAD\r\n"));
}

/* A request answered at once (/hello) leaves no pause between it and the
 * next one in the same read: the next head must still meet the codec's
 * own checks (bare LF, obs-fold, spacing), not only llhttp's. */
static void
http_pipelined_heads_are_checked_like_the_first(void **state)
{
    static const char *const second[] = {
        "GET /hello HTTP/1.1\nHost: h\r\n\r\n",
        "GET /hello HTTP/1.1\r\nHost: h\r\nX: a\r\n b\r\n\r\n",
        "GET  /hello HTTP/1.1\r\nHost: h\r\n\r\n",
        "GET /hello HTTP/1.1\r\nHost: h\r\n\n",
    };
    static char out[65536];
    int st[4];

    (void) state;
    for (size_t i = 0; i < FPMD_ARRAY_LEN(second); i++) {
        char in[512];

        snprintf(in, sizeof(in), "GET /hello HTTP/1.1\r\nHost: h\r\n\r\n%s",
                 second[i]);
        exchange(in, 0, out, sizeof(out));
        if (statuses(out, st, 4) != 2 || st[0] != 200 || st[1] != 400)
            fail_msg("case %zu: got %.200s", i, out);
    }
}

static const struct {
    const char *in;
    int status;
} framing[] = {
    {"POST /probe HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n"
     "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400},
    {"POST /probe HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n"
     "Content-Length: 4\r\n\r\nabcd", 400},
    {"POST /probe HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
     "0x5\r\nhello\r\n0\r\n\r\n", 400},
    {"POST /probe HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
     "1_0\r\nxxxxxxxxxxxxxxxx\r\n0\r\n\r\n", 400},
    {"GET /hello HTTP/1.1\nHost: a\n\n", 400},
    {"GET /hello HTTP/1.1\r\nHost: a\rX: b\r\n\r\n", 400},
    {"GET /hello HTTP/1.1\r\nHost : a\r\n\r\n", 400},
    {"GET /hello HTTP/1.1\r\nHost: a\r\nX: b\r\n c\r\n\r\n", 400},
    /* an empty field name: its value must not join the next field's */
    {"GET /hello HTTP/1.1\r\nX: 1\r\n:.evil\r\nHost: a\r\n\r\n", 400},
    {"GET /hello HTTP/1.1\r\nHost: a\r\n:\r\n\r\n", 400},
    {"POST /probe HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n",
     501},
    {"POST /probe HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
     411},
    {"GET /a/../../x HTTP/1.1\r\nHost: a\r\n\r\n", 400},
    {"GET /a%00 HTTP/1.1\r\nHost: a\r\n\r\n", 400},
    {"GET /hello HTTP/1.1\r\n\r\n", 400},
};

static void
http_framing_errors_answer_once_and_close(void **state)
{
    static char out[65536];
    int st[4];

    (void) state;
    for (size_t i = 0; i < FPMD_ARRAY_LEN(framing); i++) {
        for (int bytewise = 0; bytewise < 2; bytewise++) {
            char in[1024];

            /* a valid request behind the bad one is never answered */
            snprintf(in, sizeof(in), "%sGET /hello HTTP/1.1\r\nHost: a\r\n"
                     "\r\n", framing[i].in);
            exchange(in, bytewise, out, sizeof(out));
            if (statuses(out, st, 4) != 1 || st[0] != framing[i].status)
                fail_msg("case %zu (%s): got %.60s", i,
                         bytewise ? "bytewise" : "whole", out);
            assert_non_null(strstr(out, "Connection: close\r\n"));
        }
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(http_builds_cgi_params_like_a_web_server),
        cmocka_unit_test(http_answers_the_same_whatever_the_split),
        cmocka_unit_test(http_pipelined_answers_keep_request_order),
        cmocka_unit_test(http_pipelined_heads_are_checked_like_the_first),
        cmocka_unit_test(http_framing_errors_answer_once_and_close),
    };

    return cmocka_run_group_tests(tests, setup, NULL);
}
