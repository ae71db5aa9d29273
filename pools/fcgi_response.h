/* SPDX-License-Identifier: BSD-2-Clause */
/* What a legacy FastCGI application (php-fpm) sends back for one request:
 * STDOUT and STDERR streams, then END_REQUEST (FastCGI 1.0 §5.3). An
 * incremental parser for the client side; anything else on the
 * connection — another request id, a record type an application does not
 * send, a short END_REQUEST, bytes after it — is an error, since the
 * connection is reused only when the exchange ended cleanly. */
#ifndef FPMD_POOLS_FCGI_RESPONSE_H
#define FPMD_POOLS_FCGI_RESPONSE_H

#include <stddef.h>
#include <stdint.h>

#include "fpmd/common.h"
#include "fpmd/fcgi.h"

struct fpmd_fcgi_response {
    struct fpmd_fcgi_framer framer;     /* framer.err: why it failed */
    uint16_t id;            /* the request id expected */
    uint8_t end[8];         /* END_REQUEST body */
    int stdout_ended;
};

struct fpmd_fcgi_response_callbacks {
    /* n == 0: the STDOUT stream ended */
    int (*on_stdout)(void *ctx, const uint8_t *p, size_t n);
    int (*on_stderr)(void *ctx, const uint8_t *p, size_t n);
    int (*on_end)(void *ctx, uint32_t app_status, uint8_t protocol_status);
};

void fpmd_fcgi_response_init(struct fpmd_fcgi_response *r, uint16_t id);

/* Consumes up to len bytes (*consumed says how many). FPMD_OK: more is
 * expected; FPMD_DONE: END_REQUEST came, and the bytes after it were not
 * consumed; FPMD_ERROR: r->framer.err says why; a callback's own
 * non-FPMD_OK result stops parsing after that callback's bytes. */
int fpmd_fcgi_response_parse(struct fpmd_fcgi_response *r,
                             const struct fpmd_fcgi_response_callbacks *cb,
                             void *ctx, const uint8_t *buf, size_t len,
                             size_t *consumed);

#endif
