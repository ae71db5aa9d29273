/* SPDX-License-Identifier: BSD-2-Clause */
/* The legacy backend's CGI response head: whole and one byte at a time,
 * where the body starts, the head's bytes as they came, Status and
 * Location, repeated headers, and every line a trust boundary must
 * refuse. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "migrate/cgi_head.h"

/* Feeds text whole (step 0) or step bytes at a time; returns the result
 * and, on FPMD_OK, the offset where the body starts. */
static int
feed(struct fpmd_cgi_head *h, const char *text, size_t step, size_t *body)
{
    size_t len = strlen(text), pos = 0, used = 0;
    int rc = FPMD_AGAIN;

    fpmd_cgi_head_init(h, 256);
    while (pos < len && rc == FPMD_AGAIN) {
        size_t n = step == 0 || len - pos < step ? len - pos : step;

        rc = fpmd_cgi_head_feed(h, text + pos, n, &used);
        if (rc == FPMD_OK)
            *body = pos + used;
        pos += n;
    }
    return rc;
}

static void
head_and_body_split_anywhere(void **state)
{
    static const char resp[] = "Status: 404 Not Found\r\n"
                               "Content-Type: text/html\r\n"
                               "Set-Cookie: a=1\r\n"
                               "Set-Cookie:   b=2  \r\n"
                               "\r\n<html>body\r\n\r\n";
    struct fpmd_cgi_head h;

    (void) state;
    for (size_t step = 0; step <= sizeof(resp); step++) {
        size_t body = 0;

        assert_int_equal(feed(&h, resp, step, &body), FPMD_OK);
        assert_string_equal(resp + body, "<html>body\r\n\r\n");
        /* kept as sent: blanks, case and the Status line included */
        assert_int_equal(h.raw_len, body);
        assert_memory_equal(h.raw, resp, body);
        assert_int_equal(h.status, 404);
        assert_int_equal(h.nheaders, 3);
        assert_string_equal(h.headers[0].name, "Content-Type");
        assert_string_equal(h.headers[0].value, "text/html");
        assert_string_equal(h.headers[1].value, "a=1");
        assert_string_equal(h.headers[2].name, "Set-Cookie");
        assert_string_equal(h.headers[2].value, "b=2");
        fpmd_cgi_head_free(&h);
    }
}

static void
lf_only_empty_heads_and_redirects(void **state)
{
    struct fpmd_cgi_head h;
    size_t body = 0;

    (void) state;
    assert_int_equal(feed(&h, "X-A: 1\nX-B:2\n\nrest", 0, &body), FPMD_OK);
    assert_int_equal(h.status, 200);
    assert_int_equal(h.nheaders, 2);
    assert_string_equal(h.headers[1].value, "2");
    assert_int_equal(body, 14);
    assert_int_equal(h.raw_len, 14);
    assert_memory_equal(h.raw, "X-A: 1\nX-B:2\n\n", 14);
    fpmd_cgi_head_free(&h);

    assert_int_equal(feed(&h, "\r\nbody", 0, &body), FPMD_OK);
    assert_int_equal(h.nheaders, 0);
    assert_int_equal(body, 2);
    fpmd_cgi_head_free(&h);

    assert_int_equal(feed(&h, "Location: /next\r\n\r\n", 0, &body), FPMD_OK);
    assert_int_equal(h.status, 302);
    fpmd_cgi_head_free(&h);

    assert_int_equal(feed(&h, "Location: /next\r\nStatus: 301\r\n\r\n", 0,
                          &body), FPMD_OK);
    assert_int_equal(h.status, 301);
    assert_int_equal(h.nheaders, 1);
    fpmd_cgi_head_free(&h);

    /* not ended yet */
    assert_int_equal(feed(&h, "X-A: 1\r\n", 0, &body), FPMD_AGAIN);
    fpmd_cgi_head_free(&h);
}

static void
hostile_heads_are_refused_whole(void **state)
{
    static const struct {
        const char *text;
        const char *why;
    } bad[] = {
        {"X-A: 1\rSet-Cookie: evil\r\n\r\n", "bare CR"},
        {"X-A: 1\r\n folded\r\n\r\n", "folded"},
        {"X A: 1\r\n\r\n", "not a token"},
        {"X-A : 1\r\n\r\n", "not a token"},
        {": 1\r\n\r\n", "without a name"},
        {"no colon\r\n\r\n", "without a name"},
        {"Status: 20\r\n\r\n", "3-digit"},
        {"Status: 099\r\n\r\n", "3-digit"},
        {"Status: 2000\r\n\r\n", "3-digit"},
        {"Status: 200\r\nStatus: 500\r\n\r\n", "two Status"},
    };
    struct fpmd_cgi_head h;
    size_t body;

    (void) state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(feed(&h, bad[i].text, 0, &body), FPMD_ERROR);
        assert_non_null(strstr(h.err, bad[i].why));
        fpmd_cgi_head_free(&h);
    }
    /* a NUL, which strlen-driven feeding cannot carry */
    fpmd_cgi_head_init(&h, 256);
    assert_int_equal(fpmd_cgi_head_feed(&h, "X-A: a\0b\r\n\r\n", 12, &body),
                     FPMD_ERROR);
    assert_non_null(strstr(h.err, "NUL"));
    fpmd_cgi_head_free(&h);
}

static void
a_head_over_its_limit_is_refused(void **state)
{
    char big[600];
    struct fpmd_cgi_head h;
    size_t body;

    (void) state;
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    memcpy(big, "X-Big: ", 7);
    assert_int_equal(feed(&h, big, 0, &body), FPMD_ERROR);
    assert_non_null(strstr(h.err, "limit"));
    fpmd_cgi_head_free(&h);
    /* a head that fits, followed by a long body in the same piece */
    memcpy(big, "X-A: 1\r\n\r\n", 10);
    assert_int_equal(feed(&h, big, 0, &body), FPMD_OK);
    assert_int_equal(body, 10);
    fpmd_cgi_head_free(&h);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(head_and_body_split_anywhere),
        cmocka_unit_test(lf_only_empty_heads_and_redirects),
        cmocka_unit_test(hostile_heads_are_refused_whole),
        cmocka_unit_test(a_head_over_its_limit_is_refused),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
