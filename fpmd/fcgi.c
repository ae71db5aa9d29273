/* SPDX-License-Identifier: BSD-2-Clause */
/* FastCGI record parsing and writing. The framer keeps one record header,
 * the server parser one BEGIN_REQUEST body and one GET_VALUES content;
 * everything else streams through. Lengths are size_t and checked before
 * any arithmetic (CVE-2025-23016 is what unchecked name-value lengths lead
 * to). */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <fastcgi.h>

#include "fpmd/fcgi.h"

enum { ST_HEADER, ST_CONTENT, ST_PADDING, ST_DONE };

/* --- record framing --------------------------------------------------- */

void
fpmd_fcgi_framer_init(struct fpmd_fcgi_framer *f)
{
    memset(f, 0, sizeof(*f));
    f->state = ST_HEADER;
}

int
fpmd_fcgi_framer_fail(struct fpmd_fcgi_framer *f, const char *why)
{
    f->err = why;
    return FPMD_ERROR;
}

/* feed and its steps are inlined into each entry point (always_inline:
 * at -O2 GCC keeps one copy), so that in fpmd_fcgi_parse the server's ops
 * are known and called directly: the server's hot path pays no indirect
 * call per record for the framing. */

/* Checks a complete header and hands the record to its owner. */
static inline __attribute__((always_inline)) int
start_record(struct fpmd_fcgi_framer *f,
             const struct fpmd_fcgi_framer_ops *ops, void *ctx)
{
    const FCGI_Header *h = (const FCGI_Header *) f->hdr;

    if (h->version != FCGI_VERSION_1)
        return fpmd_fcgi_framer_fail(f, "unsupported record version");
    f->type = h->type;
    f->id = (uint16_t) ((h->requestIdB1 << 8) | h->requestIdB0);
    f->clen = (size_t) ((h->contentLengthB1 << 8) | h->contentLengthB0);
    f->plen = h->paddingLength;
    f->cpos = 0;
    f->hlen = 0;
    f->state = ST_CONTENT;
    return ops->on_header(ctx, f);
}

/* The record's content is complete. */
static inline __attribute__((always_inline)) int
end_content(struct fpmd_fcgi_framer *f,
            const struct fpmd_fcgi_framer_ops *ops, void *ctx)
{
    f->state = f->plen > 0 ? ST_PADDING : f->last ? ST_DONE : ST_HEADER;
    return ops->on_end(ctx, f);
}

static inline __attribute__((always_inline)) int
feed(struct fpmd_fcgi_framer *f, const struct fpmd_fcgi_framer_ops *ops,
     void *ctx, const uint8_t *buf, size_t len, size_t *consumed)
{
    size_t pos = 0;
    int rc = FPMD_OK;

    *consumed = 0;
    if (f->err != NULL)
        return FPMD_ERROR;
    while (pos < len && rc == FPMD_OK && f->state != ST_DONE) {
        size_t avail = len - pos, take;

        switch (f->state) {
        case ST_HEADER:
            take = sizeof(f->hdr) - f->hlen;
            if (take > avail)
                take = avail;
            memcpy(f->hdr + f->hlen, buf + pos, take);
            f->hlen += take;
            pos += take;
            if (f->hlen < sizeof(f->hdr))
                break;
            rc = start_record(f, ops, ctx);
            if (rc == FPMD_ERROR && f->err != NULL)
                break;
            if (f->clen == 0) {
                int rc2 = end_content(f, ops, ctx);

                if (rc == FPMD_OK)
                    rc = rc2;
            }
            break;
        case ST_CONTENT:
            take = f->clen - f->cpos;
            if (take > avail)
                take = avail;
            rc = ops->on_content(ctx, f, buf + pos, take);
            f->cpos += take;
            pos += take;
            if (f->cpos == f->clen) {
                int rc2 = end_content(f, ops, ctx);

                if (rc == FPMD_OK)
                    rc = rc2;
            }
            break;
        case ST_PADDING:
            take = f->plen < avail ? f->plen : avail;
            f->plen -= take;
            pos += take;
            if (f->plen == 0)
                f->state = f->last ? ST_DONE : ST_HEADER;
            break;
        }
    }
    *consumed = pos;
    if (rc == FPMD_OK && f->state == ST_DONE)
        return FPMD_DONE;
    return rc;
}

int
fpmd_fcgi_framer_feed(struct fpmd_fcgi_framer *f,
                      const struct fpmd_fcgi_framer_ops *ops, void *ctx,
                      const uint8_t *buf, size_t len, size_t *consumed)
{
    return feed(f, ops, ctx, buf, len, consumed);
}

/* --- the server's records --------------------------------------------- */

/* One fpmd_fcgi_parse call: the parser and whom it reports to. */
struct server_feed {
    struct fpmd_fcgi_parser *p;
    const struct fpmd_fcgi_callbacks *cb;
    void *ctx;
};

void
fpmd_fcgi_parser_init(struct fpmd_fcgi_parser *p)
{
    memset(p, 0, sizeof(*p));
    fpmd_fcgi_framer_init(&p->framer);
}

void
fpmd_fcgi_parser_reset(struct fpmd_fcgi_parser *p)
{
    free(p->gv);
    fpmd_fcgi_parser_init(p);
}

bool
fpmd_fcgi_parser_idle(const struct fpmd_fcgi_parser *p)
{
    return p->framer.state == ST_HEADER && p->framer.hlen == 0;
}

static bool
is_application_type(uint8_t type)
{
    return type == FCGI_BEGIN_REQUEST || type == FCGI_ABORT_REQUEST
        || type == FCGI_PARAMS || type == FCGI_STDIN || type == FCGI_DATA;
}

/* Decides what a record is right away: records without content fire
 * their callback here. */
static int
server_header(void *arg, struct fpmd_fcgi_framer *f)
{
    struct server_feed *s = arg;
    const struct fpmd_fcgi_callbacks *cb = s->cb;

    /* FastCGI 1.0 §3.3: id 0 is for management records only. */
    if (is_application_type(f->type) && f->id == FCGI_NULL_REQUEST_ID)
        return fpmd_fcgi_framer_fail(f,
                                     "application record with request id 0");
    switch (f->type) {
    case FCGI_BEGIN_REQUEST:
        if (f->clen != sizeof(FCGI_BeginRequestBody))
            return fpmd_fcgi_framer_fail(f,
                                         "BEGIN_REQUEST body is not 8 bytes");
        return FPMD_OK;
    case FCGI_ABORT_REQUEST:
        return FPMD_OK;
    case FCGI_PARAMS:
    case FCGI_STDIN:
    case FCGI_DATA:
        if (f->clen == 0) {
            int (*fn)(void *, uint16_t, const uint8_t *, size_t) =
                f->type == FCGI_PARAMS ? cb->on_params
                : f->type == FCGI_STDIN ? cb->on_stdin : cb->on_data;

            return fn(s->ctx, f->id, NULL, 0);
        }
        return FPMD_OK;
    case FCGI_GET_VALUES:
        if (f->id != FCGI_NULL_REQUEST_ID)
            return fpmd_fcgi_framer_fail(f, "GET_VALUES with a request id");
        if (f->clen > 0) {
            s->p->gv = malloc(f->clen);
            if (s->p->gv == NULL)
                return fpmd_fcgi_framer_fail(f, "out of memory");
        }
        return FPMD_OK;
    case FCGI_END_REQUEST:
    case FCGI_STDOUT:
    case FCGI_STDERR:
    case FCGI_GET_VALUES_RESULT:
    case FCGI_UNKNOWN_TYPE:
        return fpmd_fcgi_framer_fail(f,
                                     "record type sent only by applications");
    default:
        return FPMD_OK;     /* unknown type: answered once skipped */
    }
}

static int
server_content(void *arg, struct fpmd_fcgi_framer *f, const uint8_t *p,
               size_t n)
{
    struct server_feed *s = arg;

    switch (f->type) {
    case FCGI_BEGIN_REQUEST:
        memcpy(s->p->body + f->cpos, p, n);
        return FPMD_OK;
    case FCGI_GET_VALUES:
        memcpy(s->p->gv + f->cpos, p, n);
        return FPMD_OK;
    case FCGI_PARAMS:
        return s->cb->on_params(s->ctx, f->id, p, n);
    case FCGI_STDIN:
        return s->cb->on_stdin(s->ctx, f->id, p, n);
    case FCGI_DATA:
        return s->cb->on_data(s->ctx, f->id, p, n);
    default:
        return FPMD_OK;     /* ABORT content and unknown types: skipped */
    }
}

static int
server_end(void *arg, struct fpmd_fcgi_framer *f)
{
    struct server_feed *s = arg;
    int rc;

    switch (f->type) {
    case FCGI_BEGIN_REQUEST: {
        const FCGI_BeginRequestBody *b =
            (const FCGI_BeginRequestBody *) s->p->body;

        return s->cb->on_begin(s->ctx, f->id,
                               (uint16_t) ((b->roleB1 << 8) | b->roleB0),
                               b->flags);
    }
    case FCGI_ABORT_REQUEST:
        return s->cb->on_abort(s->ctx, f->id);
    case FCGI_GET_VALUES:
        rc = s->cb->on_get_values(s->ctx, s->p->gv, f->clen);
        free(s->p->gv);
        s->p->gv = NULL;
        return rc;
    case FCGI_PARAMS:
    case FCGI_STDIN:
    case FCGI_DATA:
        return FPMD_OK;
    default:
        return s->cb->on_unknown_type(s->ctx, f->type);
    }
}

static const struct fpmd_fcgi_framer_ops server_ops = {
    server_header, server_content, server_end,
};

int
fpmd_fcgi_parse(struct fpmd_fcgi_parser *p, const struct fpmd_fcgi_callbacks *cb,
                void *ctx, const uint8_t *buf, size_t len, size_t *consumed)
{
    struct server_feed s = {p, cb, ctx};

    return feed(&p->framer, &server_ops, &s, buf, len, consumed);
}

/* Reads one 1- or 4-byte length (§3.4); 0 bytes used means truncated. */
static size_t
read_len(const uint8_t *p, size_t avail, size_t *out)
{
    if (avail < 1)
        return 0;
    if ((p[0] & 0x80) == 0) {
        *out = p[0];
        return 1;
    }
    if (avail < 4)
        return 0;
    *out = ((size_t) (p[0] & 0x7f) << 24) | ((size_t) p[1] << 16)
        | ((size_t) p[2] << 8) | p[3];
    return 4;
}

int
fpmd_fcgi_nv_parse(const uint8_t *buf, size_t len, fpmd_fcgi_nv_fn fn,
                   void *ctx)
{
    size_t pos = 0;

    while (pos < len) {
        size_t nlen, vlen, used;
        int rc;

        used = read_len(buf + pos, len - pos, &nlen);
        if (used == 0)
            return FPMD_ERROR;
        pos += used;
        used = read_len(buf + pos, len - pos, &vlen);
        if (used == 0)
            return FPMD_ERROR;
        pos += used;
        /* Each length is checked against what is left, never summed
         * first: no wrap-around whatever the peer claims. */
        if (nlen > len - pos || vlen > len - pos - nlen)
            return FPMD_ERROR;
        rc = fn(ctx, buf + pos, nlen, buf + pos + nlen, vlen);
        if (rc != FPMD_OK)
            return rc;
        pos += nlen + vlen;
    }
    return FPMD_OK;
}

static int
add_len(struct evbuffer *out, size_t n)
{
    uint8_t b[4];

    if (n < 0x80) {
        b[0] = (uint8_t) n;
        return evbuffer_add(out, b, 1) == 0 ? FPMD_OK : FPMD_ERROR;
    }
    b[0] = (uint8_t) ((n >> 24) | 0x80);
    b[1] = (uint8_t) (n >> 16);
    b[2] = (uint8_t) (n >> 8);
    b[3] = (uint8_t) n;
    return evbuffer_add(out, b, 4) == 0 ? FPMD_OK : FPMD_ERROR;
}

int
fpmd_fcgi_nv_encode(struct evbuffer *out, const char *name, size_t nlen,
                    const char *value, size_t vlen)
{
    if (nlen > 0x7fffffff || vlen > 0x7fffffff)
        return FPMD_ERROR;
    if (add_len(out, nlen) != FPMD_OK || add_len(out, vlen) != FPMD_OK
        || evbuffer_add(out, name, nlen) != 0
        || evbuffer_add(out, value, vlen) != 0)
        return FPMD_ERROR;
    return FPMD_OK;
}

static int
write_record(struct evbuffer *out, uint8_t type, uint16_t id,
             const void *data, size_t len)
{
    static const uint8_t zeros[8];
    uint8_t pad = (uint8_t) ((8 - len % 8) % 8);
    FCGI_Header h = {
        FCGI_VERSION_1, type, (unsigned char) (id >> 8), (unsigned char) id,
        (unsigned char) (len >> 8), (unsigned char) len, pad, 0,
    };

    if (len > FCGI_MAX_LENGTH)
        return FPMD_ERROR;
    if (evbuffer_add(out, &h, sizeof(h)) != 0
        || (len > 0 && evbuffer_add(out, data, len) != 0)
        || (pad > 0 && evbuffer_add(out, zeros, pad) != 0))
        return FPMD_ERROR;
    return FPMD_OK;
}

int
fpmd_fcgi_write_stream(struct evbuffer *out, uint8_t type, uint16_t id,
                       const void *data, size_t len)
{
    const uint8_t *p = data;

    if (len == 0)
        return FPMD_ERROR;
    while (len > 0) {
        size_t n = len > FCGI_MAX_LENGTH ? FCGI_MAX_LENGTH : len;

        if (write_record(out, type, id, p, n) != FPMD_OK)
            return FPMD_ERROR;
        p += n;
        len -= n;
    }
    return FPMD_OK;
}

int
fpmd_fcgi_write_eos(struct evbuffer *out, uint8_t type, uint16_t id)
{
    return write_record(out, type, id, NULL, 0);
}

int
fpmd_fcgi_write_end_request(struct evbuffer *out, uint16_t id,
                            uint32_t app_status, uint8_t protocol_status)
{
    FCGI_EndRequestBody b = {
        (unsigned char) (app_status >> 24), (unsigned char) (app_status >> 16),
        (unsigned char) (app_status >> 8), (unsigned char) app_status,
        protocol_status, {0, 0, 0},
    };

    return write_record(out, FCGI_END_REQUEST, id, &b, sizeof(b));
}

int
fpmd_fcgi_write_unknown_type(struct evbuffer *out, uint8_t type)
{
    FCGI_UnknownTypeBody b = {type, {0}};

    return write_record(out, FCGI_UNKNOWN_TYPE, FCGI_NULL_REQUEST_ID, &b,
                        sizeof(b));
}

int
fpmd_fcgi_write_begin_request(struct evbuffer *out, uint16_t id,
                              uint16_t role, uint8_t flags)
{
    FCGI_BeginRequestBody b = {
        (unsigned char) (role >> 8), (unsigned char) role, flags, {0},
    };

    return write_record(out, FCGI_BEGIN_REQUEST, id, &b, sizeof(b));
}

struct gv_answer {
    struct evbuffer *buf;
    unsigned max_conns, max_reqs;
    int mpxs;
};

static int
answer_value(void *ctx, const uint8_t *name, size_t nlen, const uint8_t *value,
             size_t vlen)
{
    struct gv_answer *a = ctx;
    char num[24];
    const char *key;
    int n;

    (void) value;
    (void) vlen;
    if (nlen == strlen(FCGI_MAX_CONNS)
        && memcmp(name, FCGI_MAX_CONNS, nlen) == 0) {
        key = FCGI_MAX_CONNS;
        n = snprintf(num, sizeof(num), "%u", a->max_conns);
    } else if (nlen == strlen(FCGI_MAX_REQS)
               && memcmp(name, FCGI_MAX_REQS, nlen) == 0) {
        key = FCGI_MAX_REQS;
        n = snprintf(num, sizeof(num), "%u", a->max_reqs);
    } else if (nlen == strlen(FCGI_MPXS_CONNS)
               && memcmp(name, FCGI_MPXS_CONNS, nlen) == 0) {
        key = FCGI_MPXS_CONNS;
        n = snprintf(num, sizeof(num), "%d", a->mpxs ? 1 : 0);
    } else {
        return FPMD_OK;
    }
    return fpmd_fcgi_nv_encode(a->buf, key, strlen(key), num, (size_t) n);
}

int
fpmd_fcgi_write_get_values_result(struct evbuffer *out, const uint8_t *query,
                                  size_t qlen, unsigned max_conns,
                                  unsigned max_reqs, int mpxs)
{
    struct gv_answer a = {evbuffer_new(), max_conns, max_reqs, mpxs};
    int rc;

    if (a.buf == NULL)
        return FPMD_ERROR;
    /* A malformed query still gets an answer for the well-formed prefix. */
    fpmd_fcgi_nv_parse(query, qlen, answer_value, &a);
    rc = write_record(out, FCGI_GET_VALUES_RESULT, FCGI_NULL_REQUEST_ID,
                      evbuffer_pullup(a.buf, -1), evbuffer_get_length(a.buf));
    evbuffer_free(a.buf);
    return rc;
}
