/* SPDX-License-Identifier: BSD-2-Clause */
/* The records of php-fpm's answer, on fpmd/fcgi.c's framer. */
#include "config.h"

#include <string.h>

#include <fastcgi.h>

#include "pools/fcgi_response.h"

void
fpmd_fcgi_response_init(struct fpmd_fcgi_response *r, uint16_t id)
{
    memset(r, 0, sizeof(*r));
    fpmd_fcgi_framer_init(&r->framer);
    r->id = id;
}

/* One fpmd_fcgi_response_parse call: the parser and whom it reports to. */
struct response_feed {
    struct fpmd_fcgi_response *r;
    const struct fpmd_fcgi_response_callbacks *cb;
    void *ctx;
};

static int
response_header(void *arg, struct fpmd_fcgi_framer *f)
{
    struct response_feed *s = arg;
    struct fpmd_fcgi_response *r = s->r;

    if (f->id != r->id)
        return fpmd_fcgi_framer_fail(f, "a record for another request id");
    switch (f->type) {
    case FCGI_STDOUT:
        if (r->stdout_ended && f->clen > 0)
            return fpmd_fcgi_framer_fail(f, "STDOUT after its end");
        if (f->clen == 0 && !r->stdout_ended) {
            r->stdout_ended = 1;
            return s->cb->on_stdout(s->ctx, NULL, 0);
        }
        return FPMD_OK;
    case FCGI_STDERR:
        return FPMD_OK;
    case FCGI_END_REQUEST:
        if (f->clen != sizeof(FCGI_EndRequestBody))
            return fpmd_fcgi_framer_fail(f, "END_REQUEST body is not 8 bytes");
        /* the exchange ends here: what follows is the caller's */
        f->last = 1;
        return FPMD_OK;
    default:
        return fpmd_fcgi_framer_fail(
            f, "a record type an application does not send here");
    }
}

static int
response_content(void *arg, struct fpmd_fcgi_framer *f, const uint8_t *p,
                 size_t n)
{
    struct response_feed *s = arg;

    if (f->type == FCGI_STDOUT)
        return s->cb->on_stdout(s->ctx, p, n);
    if (f->type == FCGI_STDERR)
        return s->cb->on_stderr(s->ctx, p, n);
    memcpy(s->r->end + f->cpos, p, n);
    return FPMD_OK;
}

/* The record's content is complete: END_REQUEST reports. */
static int
response_end(void *arg, struct fpmd_fcgi_framer *f)
{
    struct response_feed *s = arg;
    const FCGI_EndRequestBody *b = (const FCGI_EndRequestBody *) s->r->end;

    if (f->type != FCGI_END_REQUEST)
        return FPMD_OK;
    return s->cb->on_end(s->ctx, ((uint32_t) b->appStatusB3 << 24)
                                     | ((uint32_t) b->appStatusB2 << 16)
                                     | ((uint32_t) b->appStatusB1 << 8)
                                     | b->appStatusB0,
                         b->protocolStatus);
}

static const struct fpmd_fcgi_framer_ops response_ops = {
    response_header, response_content, response_end,
};

int
fpmd_fcgi_response_parse(struct fpmd_fcgi_response *r,
                         const struct fpmd_fcgi_response_callbacks *cb,
                         void *ctx, const uint8_t *buf, size_t len,
                         size_t *consumed)
{
    struct response_feed s = {r, cb, ctx};

    return fpmd_fcgi_framer_feed(&r->framer, &response_ops, &s, buf, len,
                                 consumed);
}
