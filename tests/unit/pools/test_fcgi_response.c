/* SPDX-License-Identifier: BSD-2-Clause */
/* The client side of FastCGI: a php-fpm answer (STDOUT in records with
 * padding, STDERR, the end of STDOUT, END_REQUEST) parsed whole and one
 * byte at a time, where it stops, and the answers a reused connection
 * must not accept. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <event2/buffer.h>
#include <fastcgi.h>

#include "fpmd/fcgi.h"
#include "pools/fcgi_response.h"

struct seen {
    char out[256], err[64];
    size_t nout, nerr;
    int stdout_ends, ends;
    uint32_t app;
    uint8_t proto;
};

static int
on_stdout(void *ctx, const uint8_t *p, size_t n)
{
    struct seen *s = ctx;

    if (n == 0) {
        s->stdout_ends++;
        return FPMD_OK;
    }
    memcpy(s->out + s->nout, p, n);
    s->nout += n;
    return FPMD_OK;
}

static int
on_stderr(void *ctx, const uint8_t *p, size_t n)
{
    struct seen *s = ctx;

    memcpy(s->err + s->nerr, p, n);
    s->nerr += n;
    return FPMD_OK;
}

static int
on_end(void *ctx, uint32_t app, uint8_t proto)
{
    struct seen *s = ctx;

    s->ends++;
    s->app = app;
    s->proto = proto;
    return FPMD_OK;
}

static const struct fpmd_fcgi_response_callbacks cbs = {
    on_stdout, on_stderr, on_end,
};

/* Parses wire in pieces of step bytes (0: whole); returns the last result
 * and the bytes consumed in all. */
static int
parse(const uint8_t *wire, size_t len, size_t step, uint16_t id,
      struct seen *s, size_t *total)
{
    struct fpmd_fcgi_response r;
    size_t pos = 0, used;
    int rc = FPMD_OK;

    memset(s, 0, sizeof(*s));
    fpmd_fcgi_response_init(&r, id);
    *total = 0;
    while (pos < len && rc == FPMD_OK) {
        size_t n = step == 0 || len - pos < step ? len - pos : step;

        rc = fpmd_fcgi_response_parse(&r, &cbs, s, wire + pos, n, &used);
        *total += used;
        pos += n;
    }
    return rc;
}

static size_t
answer(struct evbuffer *b, uint16_t id)
{
    fpmd_fcgi_write_stream(b, FCGI_STDOUT, id, "Status: 200\r\n\r\n", 15);
    fpmd_fcgi_write_stream(b, FCGI_STDERR, id, "PHP Notice", 10);
    fpmd_fcgi_write_stream(b, FCGI_STDOUT, id, "hello", 5);
    fpmd_fcgi_write_eos(b, FCGI_STDOUT, id);
    fpmd_fcgi_write_end_request(b, id, 7, FCGI_REQUEST_COMPLETE);
    return evbuffer_get_length(b);
}

static void
answer_parsed_in_any_pieces(void **state)
{
    struct evbuffer *b = evbuffer_new();
    size_t len = answer(b, 3), total;
    uint8_t *wire;
    struct seen s;

    (void) state;
    evbuffer_add(b, "NEXT", 4);     /* not ours: must stay unconsumed */
    wire = evbuffer_pullup(b, -1);
    for (size_t step = 0; step <= 9; step++) {
        assert_int_equal(parse(wire, len + 4, step, 3, &s, &total),
                         FPMD_DONE);
        assert_int_equal(total, len);
        assert_int_equal(s.nout, 20);
        assert_memory_equal(s.out, "Status: 200\r\n\r\nhello", 20);
        assert_memory_equal(s.err, "PHP Notice", 10);
        assert_int_equal(s.stdout_ends, 1);
        assert_int_equal(s.ends, 1);
        assert_int_equal(s.app, 7);
        assert_int_equal(s.proto, FCGI_REQUEST_COMPLETE);
    }
    evbuffer_free(b);
}

static void
answers_a_reused_connection_refuses(void **state)
{
    struct evbuffer *b = evbuffer_new();
    uint8_t *wire;
    size_t len, total;
    struct seen s;

    (void) state;
    /* another request's answer */
    len = answer(b, 4);
    wire = evbuffer_pullup(b, -1);
    assert_int_equal(parse(wire, len, 0, 3, &s, &total), FPMD_ERROR);
    evbuffer_drain(b, len);
    /* a record type applications send only to management queries */
    fpmd_fcgi_write_unknown_type(b, 42);
    len = evbuffer_get_length(b);
    wire = evbuffer_pullup(b, -1);
    assert_int_equal(parse(wire, len, 0, 0, &s, &total), FPMD_ERROR);
    evbuffer_drain(b, len);
    /* STDOUT after its end */
    fpmd_fcgi_write_eos(b, FCGI_STDOUT, 1);
    fpmd_fcgi_write_stream(b, FCGI_STDOUT, 1, "late", 4);
    len = evbuffer_get_length(b);
    wire = evbuffer_pullup(b, -1);
    assert_int_equal(parse(wire, len, 0, 1, &s, &total), FPMD_ERROR);
    evbuffer_drain(b, len);
    evbuffer_free(b);
    /* a short END_REQUEST; version 2 */
    {
        static const uint8_t short_end[] = {1, FCGI_END_REQUEST, 0, 1, 0, 4,
                                            0, 0, 0, 0, 0, 0};
        static const uint8_t v2[] = {2, FCGI_STDOUT, 0, 1, 0, 0, 0, 0};

        assert_int_equal(parse(short_end, sizeof(short_end), 0, 1, &s,
                               &total), FPMD_ERROR);
        assert_int_equal(parse(v2, sizeof(v2), 0, 1, &s, &total),
                         FPMD_ERROR);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(answer_parsed_in_any_pieces),
        cmocka_unit_test(answers_a_reused_connection_refuses),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
