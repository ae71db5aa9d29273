/* SPDX-License-Identifier: BSD-2-Clause */
/* libFuzzer target for the FastCGI codec: the input is parsed as a record
 * stream in pieces whose sizes come from the first byte; PARAMS content is
 * decoded as name-value pairs and fed back through the writers. Invariants
 * are asserted: consumed never exceeds what was given, and a parser that
 * erred stays in error. */
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <fastcgi.h>

#include "fpmd/fcgi.h"

struct state {
    struct evbuffer *params;
    struct evbuffer *out;
};

static int
on_pair(void *ctx, const uint8_t *name, size_t nlen, const uint8_t *value,
        size_t vlen)
{
    struct state *s = ctx;

    assert(fpmd_fcgi_nv_encode(s->out, (const char *) name, nlen,
                               (const char *) value, vlen) == FPMD_OK);
    return FPMD_OK;
}

static int
on_begin(void *ctx, uint16_t id, uint16_t role, uint8_t flags)
{
    struct state *s = ctx;

    (void) role;
    return fpmd_fcgi_write_begin_request(s->out, id, role, flags);
}

static int
on_params(void *ctx, uint16_t id, const uint8_t *p, size_t n)
{
    struct state *s = ctx;

    (void) id;
    if (n > 0)
        return evbuffer_add(s->params, p, n) == 0 ? FPMD_OK : FPMD_ERROR;
    fpmd_fcgi_nv_parse(evbuffer_pullup(s->params, -1),
                       evbuffer_get_length(s->params), on_pair, s);
    evbuffer_drain(s->params, evbuffer_get_length(s->params));
    return FPMD_OK;
}

static int
on_stdin(void *ctx, uint16_t id, const uint8_t *p, size_t n)
{
    struct state *s = ctx;

    if (n == 0)
        return fpmd_fcgi_write_eos(s->out, FCGI_STDOUT, id);
    return fpmd_fcgi_write_stream(s->out, FCGI_STDOUT, id, p, n);
}

static int
on_data(void *ctx, uint16_t id, const uint8_t *p, size_t n)
{
    (void) ctx;
    (void) id;
    (void) p;
    (void) n;
    return FPMD_OK;
}

static int
on_abort(void *ctx, uint16_t id)
{
    struct state *s = ctx;

    return fpmd_fcgi_write_end_request(s->out, id, 0, FCGI_REQUEST_COMPLETE);
}

static int
on_get_values(void *ctx, const uint8_t *p, size_t n)
{
    struct state *s = ctx;

    return fpmd_fcgi_write_get_values_result(s->out, p, n, 10, 10, 1);
}

static int
on_unknown(void *ctx, uint8_t type)
{
    struct state *s = ctx;

    return fpmd_fcgi_write_unknown_type(s->out, type);
}

static const struct fpmd_fcgi_callbacks cbs = {
    on_begin, on_params, on_stdin, on_data, on_abort, on_get_values,
    on_unknown,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fpmd_fcgi_parser p;
    struct state s;
    size_t piece, off = 0;

    if (size == 0)
        return 0;
    piece = (size_t) data[0] % 17 + 1;
    data++;
    size--;
    s.params = evbuffer_new();
    s.out = evbuffer_new();
    fpmd_fcgi_parser_init(&p);
    while (off < size) {
        size_t len = piece < size - off ? piece : size - off, used = 0;
        int rc = fpmd_fcgi_parse(&p, &cbs, &s, data + off, len, &used);

        assert(used <= len);
        if (rc == FPMD_ERROR) {
            assert(p.framer.err != NULL);
            assert(fpmd_fcgi_parse(&p, &cbs, &s, data, size, &used)
                   == FPMD_ERROR);
            break;
        }
        off += used;
        if (used == 0)
            break;
    }
    fpmd_fcgi_parser_reset(&p);
    evbuffer_free(s.params);
    evbuffer_free(s.out);
    return 0;
}
