/* SPDX-License-Identifier: BSD-2-Clause */
/* The FastCGI codec: every record type, every input split at every byte
 * offset giving the same callback trace, protocol errors, the framer's
 * spans and last record, name-value lengths (1 and 4 bytes, overlong,
 * overflowing) and the writers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <event2/buffer.h>
#include <fastcgi.h>

#include "fpmd/fcgi.h"

/* Every callback appends a line to the trace; streamed content is merged
 * per record so traces compare equal however the input was split. */
struct trace {
    char buf[65536];
    size_t len;
    int last_stream;        /* type of the content being merged, 0: none */
    uint16_t last_id;
};

static void
tr(struct trace *t, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(t->buf + t->len, sizeof(t->buf) - t->len, fmt, ap);
    va_end(ap);
    assert_true(n > 0 && (size_t) n < sizeof(t->buf) - t->len);
    t->len += (size_t) n;
    t->last_stream = 0;
}

static void
tr_content(struct trace *t, int type, uint16_t id, const uint8_t *p, size_t n)
{
    if (n == 0) {
        tr(t, "\n%d:%u:end", type, id);
        return;
    }
    if (t->last_stream != type || t->last_id != id) {
        tr(t, "\n%d:%u:", type, id);
        t->last_stream = type;
        t->last_id = id;
    }
    for (size_t i = 0; i < n; i++) {
        assert_true(t->len < sizeof(t->buf) - 1);
        t->buf[t->len++] = (char) (p[i] >= 32 && p[i] < 127 ? p[i] : '.');
    }
}

static int
cb_begin(void *ctx, uint16_t id, uint16_t role, uint8_t flags)
{
    tr(ctx, "\nbegin %u role %u flags %u", id, role, flags);
    return FPMD_OK;
}

static int
cb_params(void *ctx, uint16_t id, const uint8_t *p, size_t n)
{
    tr_content(ctx, FCGI_PARAMS, id, p, n);
    return FPMD_OK;
}

static int
cb_stdin(void *ctx, uint16_t id, const uint8_t *p, size_t n)
{
    tr_content(ctx, FCGI_STDIN, id, p, n);
    return FPMD_OK;
}

static int
cb_data(void *ctx, uint16_t id, const uint8_t *p, size_t n)
{
    tr_content(ctx, FCGI_DATA, id, p, n);
    return FPMD_OK;
}

static int
cb_abort(void *ctx, uint16_t id)
{
    tr(ctx, "\nabort %u", id);
    return FPMD_OK;
}

static int
cb_get_values(void *ctx, const uint8_t *p, size_t n)
{
    tr(ctx, "\nget_values %zu", n);
    tr_content(ctx, FCGI_GET_VALUES, 0, p, n);
    return FPMD_OK;
}

static int
cb_unknown(void *ctx, uint8_t type)
{
    tr(ctx, "\nunknown %u", type);
    return FPMD_OK;
}

static const struct fpmd_fcgi_callbacks cbs = {
    cb_begin, cb_params, cb_stdin, cb_data, cb_abort, cb_get_values,
    cb_unknown,
};

static size_t
rec(uint8_t *out, int version, int type, uint16_t id, const void *content,
    size_t clen, size_t plen)
{
    out[0] = (uint8_t) version;
    out[1] = (uint8_t) type;
    out[2] = (uint8_t) (id >> 8);
    out[3] = (uint8_t) id;
    out[4] = (uint8_t) (clen >> 8);
    out[5] = (uint8_t) clen;
    out[6] = (uint8_t) plen;
    out[7] = 0;
    if (clen > 0)
        memcpy(out + 8, content, clen);
    memset(out + 8 + clen, 0xee, plen);
    return 8 + clen + plen;
}

/* A request stream with every server-bound record type: two interleaved
 * requests, padding, a zero-length record, GET_VALUES, an unknown
 * management type, DATA and ABORT. */
static size_t
sample(uint8_t *b)
{
    static const uint8_t begin1[8] = {0, 1, FCGI_KEEP_CONN, 0, 0, 0, 0, 0};
    static const uint8_t begin2[8] = {0, 1, 0, 0, 0, 0, 0, 0};
    static const uint8_t gv[] = "\x0e\x00" "FCGI_MAX_CONNS";
    size_t n = 0;

    n += rec(b + n, 1, FCGI_GET_VALUES, 0, gv, sizeof(gv) - 1, 2);
    n += rec(b + n, 1, FCGI_BEGIN_REQUEST, 1, begin1, 8, 0);
    n += rec(b + n, 1, FCGI_BEGIN_REQUEST, 2, begin2, 8, 0);
    n += rec(b + n, 1, FCGI_PARAMS, 1, "\x01\x01" "AB", 4, 4);
    n += rec(b + n, 1, FCGI_PARAMS, 2, "\x01\x02" "CDE", 5, 3);
    n += rec(b + n, 1, FCGI_PARAMS, 1, "", 0, 0);
    n += rec(b + n, 1, FCGI_PARAMS, 2, "", 0, 7);
    n += rec(b + n, 1, FCGI_STDIN, 2, "hello", 5, 3);
    n += rec(b + n, 1, 42, 0, "xyz", 3, 0);
    n += rec(b + n, 1, FCGI_STDIN, 1, "", 0, 0);
    n += rec(b + n, 1, FCGI_DATA, 2, "dd", 2, 0);
    n += rec(b + n, 1, FCGI_ABORT_REQUEST, 2, NULL, 0, 0);
    return n;
}

static const char sample_trace[] =
    "\nget_values 16\n9:0:..FCGI_MAX_CONNS"
    "\nbegin 1 role 1 flags 1"
    "\nbegin 2 role 1 flags 0"
    "\n4:1:..AB\n4:2:..CDE\n4:1:end\n4:2:end"
    "\n5:2:hello\nunknown 42\n5:1:end\n8:2:dd\nabort 2";

static void
parse_all(const uint8_t *b, size_t n, size_t split, struct trace *t)
{
    struct fpmd_fcgi_parser p;
    size_t used;

    fpmd_fcgi_parser_init(&p);
    memset(t, 0, sizeof(*t));
    for (size_t off = 0; off < n;) {
        size_t len = split == 0 || split > n - off ? n - off : split;

        assert_int_equal(fpmd_fcgi_parse(&p, &cbs, t, b + off, len, &used),
                         FPMD_OK);
        assert_int_equal(used, len);
        off += len;
    }
    assert_true(fpmd_fcgi_parser_idle(&p));
    fpmd_fcgi_parser_reset(&p);
}

static void
fcgi_parses_every_record_type(void **state)
{
    uint8_t b[512];
    struct trace t;
    size_t n = sample(b);

    (void) state;
    parse_all(b, n, 0, &t);
    t.buf[t.len] = '\0';
    assert_string_equal(t.buf, sample_trace);
}

static void
fcgi_gives_the_same_trace_for_every_split(void **state)
{
    uint8_t b[512];
    struct trace whole, t;
    size_t n = sample(b);

    (void) state;
    parse_all(b, n, 0, &whole);
    for (size_t split = 1; split < n; split++) {
        parse_all(b, n, split, &t);
        assert_int_equal(t.len, whole.len);
        assert_memory_equal(t.buf, whole.buf, t.len);
    }
    /* two pieces cut at every offset */
    for (size_t cut = 1; cut < n; cut++) {
        struct fpmd_fcgi_parser p;
        size_t used;

        fpmd_fcgi_parser_init(&p);
        memset(&t, 0, sizeof(t));
        assert_int_equal(fpmd_fcgi_parse(&p, &cbs, &t, b, cut, &used), FPMD_OK);
        assert_int_equal(fpmd_fcgi_parse(&p, &cbs, &t, b + cut, n - cut, &used),
                         FPMD_OK);
        assert_int_equal(t.len, whole.len);
        assert_memory_equal(t.buf, whole.buf, t.len);
        fpmd_fcgi_parser_reset(&p);
    }
}

static int
parse_error(const uint8_t *b, size_t n, const char **err)
{
    struct fpmd_fcgi_parser p;
    struct trace t;
    size_t used;
    int rc;

    fpmd_fcgi_parser_init(&p);
    memset(&t, 0, sizeof(t));
    rc = fpmd_fcgi_parse(&p, &cbs, &t, b, n, &used);
    *err = p.framer.err;
    fpmd_fcgi_parser_reset(&p);
    return rc;
}

static void
fcgi_rejects_record_version_2(void **state)
{
    uint8_t b[64];
    const char *err;

    (void) state;
    rec(b, 2, FCGI_BEGIN_REQUEST, 1, "\0\1\0\0\0\0\0\0", 8, 0);
    assert_int_equal(parse_error(b, 16, &err), FPMD_ERROR);
    assert_non_null(strstr(err, "version"));
}

static void
fcgi_rejects_malformed_records(void **state)
{
    uint8_t b[64];
    const char *err;

    (void) state;
    rec(b, 1, FCGI_BEGIN_REQUEST, 1, "\0\1\0\0", 4, 0);
    assert_int_equal(parse_error(b, 12, &err), FPMD_ERROR);
    assert_non_null(strstr(err, "8 bytes"));
    rec(b, 1, FCGI_PARAMS, 0, "ab", 2, 0);
    assert_int_equal(parse_error(b, 10, &err), FPMD_ERROR);
    assert_non_null(strstr(err, "id 0"));
    rec(b, 1, FCGI_STDOUT, 1, "ab", 2, 0);
    assert_int_equal(parse_error(b, 10, &err), FPMD_ERROR);
    rec(b, 1, FCGI_END_REQUEST, 1, "\0\0\0\0\0\0\0\0", 8, 0);
    assert_int_equal(parse_error(b, 16, &err), FPMD_ERROR);
    rec(b, 1, FCGI_GET_VALUES, 3, "", 0, 0);
    assert_int_equal(parse_error(b, 8, &err), FPMD_ERROR);
}

static int
stop_stdin(void *ctx, uint16_t id, const uint8_t *p, size_t n)
{
    (void) id;
    (void) p;
    *(size_t *) ctx += n;
    return FPMD_AGAIN;
}

static void
fcgi_resumes_after_a_callback_pauses(void **state)
{
    struct fpmd_fcgi_callbacks pausing = cbs;
    struct fpmd_fcgi_parser p;
    uint8_t b[128];
    size_t n = 0, used, got = 0, off = 0;
    int rounds = 0;

    (void) state;
    pausing.on_stdin = stop_stdin;
    n += rec(b + n, 1, FCGI_STDIN, 1, "0123456789", 10, 6);
    n += rec(b + n, 1, FCGI_STDIN, 1, "abcdef", 6, 2);
    fpmd_fcgi_parser_init(&p);
    while (off < n) {
        int rc = fpmd_fcgi_parse(&p, &pausing, &got, b + off, n - off, &used);

        off += used;
        rounds++;
        assert_true(rc == FPMD_AGAIN || (rc == FPMD_OK && off == n));
    }
    assert_int_equal(got, 16);
    assert_true(rounds >= 2);
    fpmd_fcgi_parser_reset(&p);
}

/* The framer on its own: where the content it hands out lies, and where
 * it stops for a record its owner marks last. */
struct spans {
    const uint8_t *lo, *hi;     /* the buffer being fed */
    size_t content;
    int ends;
};

static int
span_header(void *ctx, struct fpmd_fcgi_framer *f)
{
    (void) ctx;
    f->last = f->type == FCGI_END_REQUEST;
    return FPMD_OK;
}

static int
span_content(void *ctx, struct fpmd_fcgi_framer *f, const uint8_t *p,
             size_t n)
{
    struct spans *s = ctx;

    (void) f;
    assert_true(p >= s->lo && n <= (size_t) (s->hi - p));
    s->content += n;
    return FPMD_OK;
}

static int
span_end(void *ctx, struct fpmd_fcgi_framer *f)
{
    (void) f;
    ((struct spans *) ctx)->ends++;
    return FPMD_OK;
}

static void
framer_hands_out_spans_and_stops_at_the_last(void **state)
{
    static const struct fpmd_fcgi_framer_ops ops = {
        span_header, span_content, span_end,
    };
    static const uint8_t end[8] = {0};
    uint8_t b[128];
    size_t n = 0, used;

    (void) state;
    n += rec(b + n, 1, FCGI_STDOUT, 1, "0123456789", 10, 6);
    n += rec(b + n, 1, FCGI_END_REQUEST, 1, end, 8, 3);
    memcpy(b + n, "NEXT", 4);
    for (size_t cut = 1; cut < n; cut++) {
        struct fpmd_fcgi_framer f;
        struct spans s = {b, b + cut, 0, 0};

        fpmd_fcgi_framer_init(&f);
        assert_int_equal(fpmd_fcgi_framer_feed(&f, &ops, &s, b, cut, &used),
                         FPMD_OK);
        assert_int_equal(used, cut);
        s.lo = b + cut;
        s.hi = b + n + 4;
        assert_int_equal(fpmd_fcgi_framer_feed(&f, &ops, &s, b + cut,
                                               n + 4 - cut, &used),
                         FPMD_DONE);
        assert_int_equal(used, n - cut);
        assert_int_equal(s.content, 18);
        assert_int_equal(s.ends, 2);
        assert_int_equal(fpmd_fcgi_framer_feed(&f, &ops, &s, b + n, 4, &used),
                         FPMD_DONE);
        assert_int_equal(used, 0);
    }
}

struct pairs {
    char names[8][300];
    size_t vlens[8];
    int n;
};

static int
collect(void *ctx, const uint8_t *name, size_t nlen, const uint8_t *value,
        size_t vlen)
{
    struct pairs *pr = ctx;

    (void) value;
    assert_true(nlen < sizeof(pr->names[0]) && pr->n < 8);
    memcpy(pr->names[pr->n], name, nlen);
    pr->names[pr->n][nlen] = '\0';
    pr->vlens[pr->n++] = vlen;
    return FPMD_OK;
}

static void
fcgi_decodes_one_and_four_byte_lengths(void **state)
{
    struct evbuffer *b = evbuffer_new();
    char big[200], val[70000];
    struct pairs pr;

    (void) state;
    memset(big, 'N', sizeof(big));
    memset(val, 'v', sizeof(val));
    assert_int_equal(fpmd_fcgi_nv_encode(b, "A", 1, "x", 1), FPMD_OK);
    assert_int_equal(fpmd_fcgi_nv_encode(b, big, sizeof(big), "", 0), FPMD_OK);
    assert_int_equal(fpmd_fcgi_nv_encode(b, "V", 1, val, sizeof(val)), FPMD_OK);
    memset(&pr, 0, sizeof(pr));
    assert_int_equal(fpmd_fcgi_nv_parse(evbuffer_pullup(b, -1),
                                        evbuffer_get_length(b), collect, &pr),
                     FPMD_OK);
    assert_int_equal(pr.n, 3);
    assert_string_equal(pr.names[0], "A");
    assert_int_equal(strlen(pr.names[1]), 200);
    assert_int_equal(pr.vlens[2], sizeof(val));
    evbuffer_free(b);
}

static void
fcgi_rejects_overlong_and_truncated_pairs(void **state)
{
    static const uint8_t huge[] = {0xff, 0xff, 0xff, 0xff, 0x01, 'a', 'b'};
    static const uint8_t wrap[] = {0x01, 0xff, 0xff, 0xff, 0xff, 'a', 'b'};
    static const uint8_t short_len[] = {0x85, 0x01};
    static const uint8_t short_val[] = {0x01, 0x05, 'a', 'b'};
    struct pairs pr;

    (void) state;
    memset(&pr, 0, sizeof(pr));
    assert_int_equal(fpmd_fcgi_nv_parse(huge, sizeof(huge), collect, &pr),
                     FPMD_ERROR);
    assert_int_equal(fpmd_fcgi_nv_parse(wrap, sizeof(wrap), collect, &pr),
                     FPMD_ERROR);
    assert_int_equal(fpmd_fcgi_nv_parse(short_len, sizeof(short_len), collect,
                                        &pr), FPMD_ERROR);
    assert_int_equal(fpmd_fcgi_nv_parse(short_val, sizeof(short_val), collect,
                                        &pr), FPMD_ERROR);
    assert_int_equal(pr.n, 0);
    assert_int_equal(fpmd_fcgi_nv_encode(NULL, "a", (size_t) 0x80000000, "",
                                         0), FPMD_ERROR);
}

static void
fcgi_writes_bounded_padded_stdout(void **state)
{
    struct evbuffer *b = evbuffer_new();
    static uint8_t body[200000];
    size_t total = 0, n;
    uint8_t *p;

    (void) state;
    memset(body, 'x', sizeof(body));
    assert_int_equal(fpmd_fcgi_write_stream(b, FCGI_STDOUT, 7, body, 0),
                     FPMD_ERROR);
    assert_int_equal(fpmd_fcgi_write_stream(b, FCGI_STDOUT, 7, body,
                                            sizeof(body)), FPMD_OK);
    assert_int_equal(fpmd_fcgi_write_eos(b, FCGI_STDOUT, 7), FPMD_OK);
    assert_int_equal(fpmd_fcgi_write_end_request(b, 7, 0,
                                                 FCGI_REQUEST_COMPLETE),
                     FPMD_OK);
    n = evbuffer_get_length(b);
    p = evbuffer_pullup(b, -1);
    for (size_t off = 0; off < n;) {
        size_t clen = (size_t) (p[off + 4] << 8 | p[off + 5]);
        size_t plen = p[off + 6];

        assert_int_equal(p[off], 1);
        assert_int_equal(p[off + 3], 7);
        assert_int_equal((clen + plen) % 8, 0);
        if (p[off + 1] == FCGI_STDOUT) {
            assert_true(clen <= 65535);
            assert_true(clen > 0 || total == sizeof(body));
            total += clen;
        } else {
            assert_int_equal(p[off + 1], FCGI_END_REQUEST);
            assert_int_equal(clen, 8);
            assert_int_equal(p[off + 8 + 4], FCGI_REQUEST_COMPLETE);
            assert_int_equal(off + 8 + clen + plen, n);
        }
        off += 8 + clen + plen;
    }
    assert_int_equal(total, sizeof(body));
    evbuffer_free(b);
}

static void
fcgi_answers_get_values_with_known_names_only(void **state)
{
    struct evbuffer *q = evbuffer_new(), *b = evbuffer_new();
    struct pairs pr;
    uint8_t *p;
    size_t clen;

    (void) state;
    fpmd_fcgi_nv_encode(q, "FCGI_MPXS_CONNS", 15, "", 0);
    fpmd_fcgi_nv_encode(q, "NOPE", 4, "", 0);
    fpmd_fcgi_nv_encode(q, "FCGI_MAX_REQS", 13, "", 0);
    assert_int_equal(fpmd_fcgi_write_get_values_result(
                         b, evbuffer_pullup(q, -1), evbuffer_get_length(q),
                         100, 50, 1), FPMD_OK);
    p = evbuffer_pullup(b, -1);
    assert_int_equal(p[1], FCGI_GET_VALUES_RESULT);
    assert_int_equal(p[2] | p[3], 0);
    clen = (size_t) (p[4] << 8 | p[5]);
    memset(&pr, 0, sizeof(pr));
    assert_int_equal(fpmd_fcgi_nv_parse(p + 8, clen, collect, &pr), FPMD_OK);
    assert_int_equal(pr.n, 2);
    assert_string_equal(pr.names[0], "FCGI_MPXS_CONNS");
    assert_string_equal(pr.names[1], "FCGI_MAX_REQS");
    assert_memory_equal(p + 8 + 2 + 15, "1", 1);
    evbuffer_free(q);
    evbuffer_free(b);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(fcgi_parses_every_record_type),
        cmocka_unit_test(fcgi_gives_the_same_trace_for_every_split),
        cmocka_unit_test(fcgi_rejects_record_version_2),
        cmocka_unit_test(fcgi_rejects_malformed_records),
        cmocka_unit_test(fcgi_resumes_after_a_callback_pauses),
        cmocka_unit_test(framer_hands_out_spans_and_stops_at_the_last),
        cmocka_unit_test(fcgi_decodes_one_and_four_byte_lengths),
        cmocka_unit_test(fcgi_rejects_overlong_and_truncated_pairs),
        cmocka_unit_test(fcgi_writes_bounded_padded_stdout),
        cmocka_unit_test(fcgi_answers_get_values_with_known_names_only),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
