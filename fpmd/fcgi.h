/* SPDX-License-Identifier: BSD-2-Clause */
/* The FastCGI 1.0 wire format: the record framer both sides of the
 * protocol share, the server's incremental request parser on top of it,
 * the name-value pair decoder, and record writers. No sockets here: every
 * byte comes from a caller, so the whole module is fuzzable. Constants and
 * record layouts come from libfcgi's fastcgi.h. */
#ifndef FPMD_FCGI_H
#define FPMD_FCGI_H

#include <stddef.h>
#include <stdint.h>

#include "fpmd/common.h"

struct evbuffer;

/* Record framing (FastCGI 1.0 §3.3): header, content, padding, in bytes
 * split anywhere. The framer checks the version and hands content out as
 * spans of the buffer it is fed: no stream is copied on its way through.
 * What a record means is its owner's: the server parser below, the
 * upstream client's response parser (pools/fcgi_response.h). */
struct fpmd_fcgi_framer {
    uint8_t hdr[8];         /* record header being collected */
    size_t hlen;
    int state;              /* header, content, padding or done */
    uint8_t type;
    uint16_t id;
    size_t clen;            /* content length of the current record */
    size_t cpos;            /* content bytes already handed out */
    size_t plen;            /* padding bytes still to skip */
    int last;               /* set by on_header: no record follows */
    const char *err;        /* what was wrong, after FPMD_ERROR */
};

struct fpmd_fcgi_framer_ops {
    /* A version 1 header: f->type, f->id and f->clen are the record's.
     * A record its owner refuses ends in fpmd_fcgi_framer_fail. */
    int (*on_header)(void *ctx, struct fpmd_fcgi_framer *f);
    /* n > 0 content bytes, in the buffer fed; f->cpos came before them. */
    int (*on_content)(void *ctx, struct fpmd_fcgi_framer *f,
                      const uint8_t *p, size_t n);
    /* The content is complete (padding may follow). Runs even when the
     * op before it returned non-FPMD_OK: the record is consumed. */
    int (*on_end)(void *ctx, struct fpmd_fcgi_framer *f);
};

void fpmd_fcgi_framer_init(struct fpmd_fcgi_framer *f);
/* Leaves f in error for why; FPMD_ERROR, for an op to return. */
int fpmd_fcgi_framer_fail(struct fpmd_fcgi_framer *f, const char *why);

/* Consumes up to len bytes, calling ops as records come. FPMD_OK once all
 * of buf is consumed; FPMD_DONE once the record marked last is, padding
 * included (what follows it is never consumed); FPMD_ERROR on a protocol
 * violation (f->err names it; f is then unusable); or the first
 * non-FPMD_OK value an op returned, with *consumed telling how far it got
 * (the op's bytes included) so the caller can resume with the rest
 * later. */
int fpmd_fcgi_framer_feed(struct fpmd_fcgi_framer *f,
                          const struct fpmd_fcgi_framer_ops *ops, void *ctx,
                          const uint8_t *buf, size_t len, size_t *consumed);

/* The server side: the records a web server sends (FastCGI 1.0 §5). */
struct fpmd_fcgi_parser {
    struct fpmd_fcgi_framer framer;
    uint8_t body[8];        /* BEGIN_REQUEST body */
    uint8_t *gv;            /* GET_VALUES content, only while collecting */
};

struct fpmd_fcgi_callbacks {
    int (*on_begin)(void *ctx, uint16_t id, uint16_t role, uint8_t flags);
    /* n == 0: the end of the PARAMS stream */
    int (*on_params)(void *ctx, uint16_t id, const uint8_t *p, size_t n);
    /* n == 0: the end of the STDIN stream */
    int (*on_stdin)(void *ctx, uint16_t id, const uint8_t *p, size_t n);
    int (*on_data)(void *ctx, uint16_t id, const uint8_t *p, size_t n);
    int (*on_abort)(void *ctx, uint16_t id);
    /* whole GET_VALUES content */
    int (*on_get_values)(void *ctx, const uint8_t *p, size_t n);
    /* a record type this side does not know */
    int (*on_unknown_type)(void *ctx, uint8_t type);
};

void fpmd_fcgi_parser_init(struct fpmd_fcgi_parser *p);
/* Frees what a parser holds mid-record (a partial GET_VALUES). */
void fpmd_fcgi_parser_reset(struct fpmd_fcgi_parser *p);

/* Consumes up to len bytes, calling back as records complete or content
 * arrives. Returns FPMD_OK once all of buf is consumed, FPMD_ERROR on a
 * protocol violation (p->framer.err names it; the parser is then
 * unusable), or the first non-FPMD_OK value a callback returned, with
 * *consumed telling how far it got (the callback's bytes included) so the
 * caller can resume with the rest later. */
int fpmd_fcgi_parse(struct fpmd_fcgi_parser *p,
                    const struct fpmd_fcgi_callbacks *cb, void *ctx,
                    const uint8_t *buf, size_t len, size_t *consumed);

/* 1 when the parser stands between records. */
bool fpmd_fcgi_parser_idle(const struct fpmd_fcgi_parser *p);

typedef int (*fpmd_fcgi_nv_fn)(void *ctx, const uint8_t *name, size_t nlen,
                               const uint8_t *value, size_t vlen);

/* Decodes a complete name-value stream (FastCGI 1.0 §3.4). FPMD_OK,
 * FPMD_ERROR on a truncated or overlong pair, or the callback's non-OK
 * value. */
int fpmd_fcgi_nv_parse(const uint8_t *buf, size_t len, fpmd_fcgi_nv_fn fn,
                       void *ctx);

/* Appends one encoded pair. FPMD_ERROR when a length exceeds 0x7fffffff. */
int fpmd_fcgi_nv_encode(struct evbuffer *out, const char *name, size_t nlen,
                        const char *value, size_t vlen);

/* Appends len > 0 bytes of a stream (STDOUT, STDERR, PARAMS, STDIN) as
 * records of at most 65535 content bytes, each padded to a multiple of 8.
 * len == 0 is refused: an empty record is only ever a terminator. */
int fpmd_fcgi_write_stream(struct evbuffer *out, uint8_t type, uint16_t id,
                           const void *data, size_t len);
/* The empty record that ends a stream. */
int fpmd_fcgi_write_eos(struct evbuffer *out, uint8_t type, uint16_t id);
int fpmd_fcgi_write_end_request(struct evbuffer *out, uint16_t id,
                                uint32_t app_status, uint8_t protocol_status);
int fpmd_fcgi_write_unknown_type(struct evbuffer *out, uint8_t type);
int fpmd_fcgi_write_begin_request(struct evbuffer *out, uint16_t id,
                                  uint16_t role, uint8_t flags);
/* Answers a GET_VALUES query: the names this side knows (FCGI_MAX_CONNS,
 * FCGI_MAX_REQS, FCGI_MPXS_CONNS) with the given values; others are left
 * out (FastCGI 1.0 §4.1). */
int fpmd_fcgi_write_get_values_result(struct evbuffer *out,
                                      const uint8_t *query, size_t qlen,
                                      unsigned max_conns, unsigned max_reqs,
                                      int mpxs);

#endif
