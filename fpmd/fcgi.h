/* SPDX-License-Identifier: BSD-2-Clause */
/* The FastCGI 1.0 wire format: an incremental record parser that accepts
 * bytes split anywhere and streams record content to callbacks, the
 * name-value pair decoder, and record writers. No sockets here: every byte
 * comes from a caller, so the whole module is fuzzable. Constants and
 * record layouts come from libfcgi's fastcgi.h. */
#ifndef FPMD_FCGI_H
#define FPMD_FCGI_H

#include <stddef.h>
#include <stdint.h>

#include "fpmd/common.h"

struct evbuffer;

struct fpmd_fcgi_parser {
    uint8_t hdr[8];         /* record header being collected */
    size_t hlen;
    int state;              /* header, content or padding */
    uint8_t type;
    uint16_t id;
    size_t clen;            /* content length of the current record */
    size_t cpos;            /* content bytes already seen */
    size_t plen;            /* padding bytes still to skip */
    uint8_t body[8];        /* BEGIN_REQUEST body */
    uint8_t *gv;            /* GET_VALUES content, only while collecting */
    const char *err;        /* what was wrong, after FPMD_ERROR */
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
 * protocol violation (p->err names it; the parser is then unusable), or
 * the first non-FPMD_OK value a callback returned, with *consumed telling
 * how far it got (the callback's bytes included) so the caller can resume
 * with the rest later. */
int fpmd_fcgi_parse(struct fpmd_fcgi_parser *p,
                    const struct fpmd_fcgi_callbacks *cb, void *ctx,
                    const uint8_t *buf, size_t len, size_t *consumed);

/* 1 when the parser stands between records. */
int fpmd_fcgi_parser_idle(const struct fpmd_fcgi_parser *p);

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
