/* SPDX-License-Identifier: BSD-2-Clause */
/* The request API without sockets: header checks of the response writer
 * (no CR/LF, token names: never a split response), the CGI head (no
 * Status line for a plain 200) and a legacy backend's head passed on as
 * it came, query argument decoding, header lookup through CGI names,
 * routing path order, and defers. A minimal worker is set up in-process;
 * the codec ops only record what would be written. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <event2/buffer.h>

#include "fpmd/log.h"
#include "fpmd/process.h"
#include "fpmd/req.h"

static struct fpmd_conf conf;
static struct evbuffer *written;

static int
rec_head(struct fpmd_req *req, const void *body, size_t blen)
{
    char head[1024];
    size_t n = fpmd_req_format_cgi_head(req, head, sizeof(head));

    assert_true(n <= sizeof(head));
    evbuffer_add(written, head, n);
    evbuffer_add(written, body, blen);
    return FPMD_OK;
}

static int
rec_body(struct fpmd_req *req, const void *body, size_t blen)
{
    (void) req;
    evbuffer_add(written, body, blen);
    return FPMD_OK;
}

static void
nop_req(struct fpmd_req *req)
{
    (void) req;
}

static bool
never(struct fpmd_req *req)
{
    (void) req;
    return false;
}

static const struct fpmd_req_ops ops = {
    rec_head, rec_body, nop_req, nop_req, never, nop_req, NULL, NULL,
};

static int
setup(void **state)
{
    (void) state;
    fpmd_conf_defaults(&conf);
    fpmd_process.conf = &conf;
    fpmd_process.base = event_base_new();
    written = evbuffer_new();
    fpmd_log_set_level(FPMD_LOG_ALERT);
    return 0;
}

static int
teardown(void **state)
{
    (void) state;
    evbuffer_free(written);
    event_base_free(fpmd_process.base);
    return 0;
}

static struct fpmd_req *
new_req(const char *const *params)
{
    struct fpmd_req *req = fpmd_req_new(&ops, NULL, 1);

    assert_non_null(req);
    for (size_t i = 0; params[i] != NULL; i += 2)
        assert_int_equal(fpmd_req_add_param(req, params[i], strlen(params[i]),
                                            params[i + 1],
                                            strlen(params[i + 1])), FPMD_OK);
    fpmd_req_derive(req);
    return req;
}

static char *
output(void)
{
    size_t n = evbuffer_get_length(written);
    char *s = malloc(n + 1);

    evbuffer_remove(written, s, n);
    s[n] = '\0';
    return s;
}

static void
req_refuses_header_injection(void **state)
{
    static const char *const p[] = {"REQUEST_METHOD", "GET", NULL};
    struct fpmd_req *req = new_req(p);

    (void) state;
    assert_int_equal(fpmd_resp_header(req, "X-A", "b\r\nSet-Cookie: evil=1"),
                     FPMD_ERROR);
    assert_int_equal(fpmd_resp_header(req, "X-A", "b\nc"), FPMD_ERROR);
    assert_int_equal(fpmd_resp_header(req, "X A", "b"), FPMD_ERROR);
    assert_int_equal(fpmd_resp_header(req, "X:A", "b"), FPMD_ERROR);
    assert_int_equal(fpmd_resp_header(req, "", "b"), FPMD_ERROR);
    assert_int_equal(fpmd_resp_header(req, "Set-Cookie", "a=1"), FPMD_OK);
    assert_int_equal(fpmd_resp_header(req, "Set-Cookie", "b=2"), FPMD_OK);
    assert_int_equal(fpmd_reply(req, 201, "text/plain", "ok", 2), FPMD_OK);
    char *out = output();
    assert_string_equal(out, "Status: 201 Created\r\nSet-Cookie: a=1\r\n"
                             "Set-Cookie: b=2\r\nContent-Type: text/plain\r\n"
                             "\r\nok");
    free(out);
    /* the head is gone: status and headers can no longer change */
    assert_int_equal(fpmd_resp_status(req, 500), FPMD_ERROR);
    assert_int_equal(fpmd_resp_header(req, "X-Late", "1"), FPMD_ERROR);
    fpmd_req_free(req);
}

/* As php-fpm: a 200 goes without a Status line, but for one with a
 * Location, which would otherwise make a redirect of it. */
static void
req_sends_no_status_line_for_a_plain_200(void **state)
{
    static const char *const p[] = {"REQUEST_METHOD", "GET", NULL};
    struct fpmd_req *req = new_req(p);
    char *out;

    (void) state;
    assert_int_equal(fpmd_reply(req, 200, "text/plain", "ok", 2), FPMD_OK);
    out = output();
    assert_string_equal(out, "Content-Type: text/plain\r\n\r\nok");
    free(out);
    fpmd_req_free(req);

    req = new_req(p);
    assert_int_equal(fpmd_resp_header(req, "location", "/x"), FPMD_OK);
    assert_int_equal(fpmd_reply(req, 200, "text/plain", "ok", 2), FPMD_OK);
    out = output();
    assert_string_equal(out, "Status: 200 OK\r\nlocation: /x\r\n"
                             "Content-Type: text/plain\r\n\r\nok");
    free(out);
    fpmd_req_free(req);
}

static void
req_passes_a_backends_cgi_head_on_as_it_came(void **state)
{
    static const char *const p[] = {"REQUEST_METHOD", "GET", NULL};
    static const char head[] = "x-lower:  a \nX-Rep: 1\r\nX-Rep: 2\r\n\r\n";
    struct fpmd_req *req = new_req(p);
    char *out;

    (void) state;
    /* a hook's header, then the backend's own, parsed */
    assert_int_equal(fpmd_resp_header(req, "X-Hook", "h"), FPMD_OK);
    assert_int_equal(fpmd_resp_header(req, "x-lower", "a"), FPMD_OK);
    assert_int_equal(fpmd_resp_header(req, "X-Rep", "1"), FPMD_OK);
    assert_int_equal(fpmd_resp_header(req, "X-Rep", "2"), FPMD_OK);
    assert_int_equal(fpmd_resp_cgi_head(req, head, sizeof(head) - 1, 5),
                     FPMD_ERROR);
    assert_int_equal(fpmd_resp_cgi_head(req, head, sizeof(head) - 1, 3),
                     FPMD_OK);
    /* no STDERR channel in these ops */
    assert_int_equal(fpmd_resp_stderr(req, "e", 1), FPMD_DECLINED);
    assert_int_equal(fpmd_resp_write(req, "body", 4), FPMD_OK);
    out = output();
    /* no Status line: the backend sent none */
    assert_string_equal(out, "X-Hook: h\r\nx-lower:  a \nX-Rep: 1\r\n"
                             "X-Rep: 2\r\n\r\nbody");
    free(out);
    /* the access log and an HTTP client see the parsed ones */
    assert_string_equal(fpmd_req_resp_header(req, "X-LOWER"), "a");
    assert_int_equal(fpmd_resp_cgi_head(req, head, sizeof(head) - 1, 3),
                     FPMD_ERROR);
    fpmd_req_free(req);
}

static void
req_decodes_query_args_and_finds_headers(void **state)
{
    static const char *const p[] = {
        "REQUEST_METHOD", "GET",
        "REQUEST_URI", "/a%20b?x=1&name=J%C3%BCrgen+M&empty=&flag&x=2",
        "HTTP_USER_AGENT", "curl",
        "CONTENT_TYPE", "text/plain",
        NULL,
    };
    struct fpmd_req *req = new_req(p);

    (void) state;
    assert_string_equal(fpmd_req_query(req),
                        "x=1&name=J%C3%BCrgen+M&empty=&flag&x=2");
    assert_string_equal(fpmd_req_query_arg(req, "x"), "1");
    assert_string_equal(fpmd_req_query_arg(req, "name"), "J\xc3\xbcrgen M");
    assert_string_equal(fpmd_req_query_arg(req, "empty"), "");
    assert_string_equal(fpmd_req_query_arg(req, "flag"), "");
    assert_null(fpmd_req_query_arg(req, "nope"));
    assert_string_equal(fpmd_req_header(req, "user-agent"), "curl");
    assert_string_equal(fpmd_req_header(req, "Content-Type"), "text/plain");
    assert_null(fpmd_req_header(req, "Accept"));
    assert_string_equal(fpmd_req_path(req), "/a%20b");
    fpmd_req_free(req);
}

static void
req_routes_on_script_name_then_document_uri(void **state)
{
    static const char *const a[] = {
        "SCRIPT_NAME", "/index.php", "DOCUMENT_URI", "/index.php/x",
        "REQUEST_URI", "/index.php/x?y", NULL,
    };
    static const char *const b[] = {
        "SCRIPT_NAME", "", "DOCUMENT_URI", "/doc", "REQUEST_URI", "/raw?q",
        NULL,
    };
    static const char *const c[] = {"REQUEST_URI", "/raw?q", NULL};
    struct fpmd_req *req;

    (void) state;
    req = new_req(a);
    assert_string_equal(fpmd_req_path(req), "/index.php");
    fpmd_req_free(req);
    req = new_req(b);
    assert_string_equal(fpmd_req_path(req), "/doc");
    fpmd_req_free(req);
    req = new_req(c);
    assert_string_equal(fpmd_req_path(req), "/raw");
    assert_string_equal(fpmd_req_query(req), "q");
    fpmd_req_free(req);
}

static int order[4];
static int norder;

static void
record(void *arg)
{
    order[norder++] = (int) (intptr_t) arg;
}

static void
req_runs_defers_latest_first(void **state)
{
    static const char *const p[] = {NULL};
    struct fpmd_req *req = new_req(p);

    (void) state;
    norder = 0;
    assert_int_equal(fpmd_defer(req, record, (void *) 1), FPMD_OK);
    assert_int_equal(fpmd_defer(req, record, (void *) 2), FPMD_OK);
    assert_int_equal(fpmd_defer(req, record, (void *) 3), FPMD_OK);
    fpmd_req_free(req);
    assert_int_equal(norder, 3);
    assert_int_equal(order[0], 3);
    assert_int_equal(order[2], 1);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(req_refuses_header_injection),
        cmocka_unit_test(req_sends_no_status_line_for_a_plain_200),
        cmocka_unit_test(req_passes_a_backends_cgi_head_on_as_it_came),
        cmocka_unit_test(req_decodes_query_args_and_finds_headers),
        cmocka_unit_test(req_routes_on_script_name_then_document_uri),
        cmocka_unit_test(req_runs_defers_latest_first),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
