/* SPDX-License-Identifier: BSD-2-Clause */
#include "config.h"

#include <string.h>

#include <fastcgi.h>

#include "pools/fcgi_response.h"

enum {
    ST_HEADER,
    ST_CONTENT,
    ST_PADDING,
    ST_DONE,
};

void
fpmd_fcgi_response_init(struct fpmd_fcgi_response *r, uint16_t id)
{
    memset(r, 0, sizeof(*r));
    r->id = id;
    r->state = ST_HEADER;
}

static int
fail(struct fpmd_fcgi_response *r, const char *why)
{
    r->err = why;
    return FPMD_ERROR;
}

static int
start_record(struct fpmd_fcgi_response *r,
             const struct fpmd_fcgi_response_callbacks *cb, void *ctx)
{
    const FCGI_Header *h = (const FCGI_Header *) r->hdr;
    uint16_t id = (uint16_t) ((h->requestIdB1 << 8) | h->requestIdB0);

    if (h->version != FCGI_VERSION_1)
        return fail(r, "unsupported record version");
    if (id != r->id)
        return fail(r, "a record for another request id");
    r->type = h->type;
    r->clen = (size_t) ((h->contentLengthB1 << 8) | h->contentLengthB0);
    r->plen = h->paddingLength;
    r->cpos = 0;
    r->hlen = 0;
    r->state = ST_CONTENT;
    switch (r->type) {
    case FCGI_STDOUT:
        if (r->stdout_ended && r->clen > 0)
            return fail(r, "STDOUT after its end");
        if (r->clen == 0 && !r->stdout_ended) {
            r->stdout_ended = 1;
            return cb->on_stdout(ctx, NULL, 0);
        }
        return FPMD_OK;
    case FCGI_STDERR:
        return FPMD_OK;
    case FCGI_END_REQUEST:
        if (r->clen != sizeof(FCGI_EndRequestBody))
            return fail(r, "END_REQUEST body is not 8 bytes");
        return FPMD_OK;
    default:
        return fail(r, "a record type an application does not send here");
    }
}

/* The record's content is complete: END_REQUEST reports. */
static int
end_content(struct fpmd_fcgi_response *r,
            const struct fpmd_fcgi_response_callbacks *cb, void *ctx)
{
    const FCGI_EndRequestBody *b = (const FCGI_EndRequestBody *) r->end;

    r->state = r->plen > 0 ? ST_PADDING : ST_HEADER;
    if (r->type != FCGI_END_REQUEST)
        return FPMD_OK;
    if (r->plen == 0)
        r->state = ST_DONE;
    return cb->on_end(ctx, ((uint32_t) b->appStatusB3 << 24)
                               | ((uint32_t) b->appStatusB2 << 16)
                               | ((uint32_t) b->appStatusB1 << 8)
                               | b->appStatusB0,
                      b->protocolStatus);
}

int
fpmd_fcgi_response_parse(struct fpmd_fcgi_response *r,
                         const struct fpmd_fcgi_response_callbacks *cb,
                         void *ctx, const uint8_t *buf, size_t len,
                         size_t *consumed)
{
    size_t pos = 0, take;
    int rc = FPMD_OK;

    *consumed = 0;
    if (r->err != NULL)
        return FPMD_ERROR;
    while (pos < len && rc == FPMD_OK && r->state != ST_DONE) {
        size_t avail = len - pos;

        switch (r->state) {
        case ST_HEADER:
            take = sizeof(r->hdr) - r->hlen < avail ? sizeof(r->hdr) - r->hlen
                                                    : avail;
            memcpy(r->hdr + r->hlen, buf + pos, take);
            r->hlen += take;
            pos += take;
            if (r->hlen < sizeof(r->hdr))
                break;
            rc = start_record(r, cb, ctx);
            if (rc == FPMD_ERROR && r->err != NULL)
                break;
            if (r->clen == 0) {
                int rc2 = end_content(r, cb, ctx);

                if (rc == FPMD_OK)
                    rc = rc2;
            }
            break;
        case ST_CONTENT:
            take = r->clen - r->cpos < avail ? r->clen - r->cpos : avail;
            if (r->type == FCGI_STDOUT)
                rc = cb->on_stdout(ctx, buf + pos, take);
            else if (r->type == FCGI_STDERR)
                rc = cb->on_stderr(ctx, buf + pos, take);
            else
                memcpy(r->end + r->cpos, buf + pos, take);
            r->cpos += take;
            pos += take;
            if (r->cpos == r->clen) {
                int rc2 = end_content(r, cb, ctx);

                if (rc == FPMD_OK)
                    rc = rc2;
            }
            break;
        case ST_PADDING:
            take = r->plen < avail ? r->plen : avail;
            r->plen -= take;
            pos += take;
            if (r->plen == 0)
                r->state = r->type == FCGI_END_REQUEST ? ST_DONE : ST_HEADER;
            break;
        }
    }
    *consumed = pos;
    if (r->err != NULL)
        return FPMD_ERROR;
    if (rc == FPMD_OK && r->state == ST_DONE)
        return FPMD_DONE;
    return rc;
}
