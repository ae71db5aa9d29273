/* SPDX-License-Identifier: BSD-2-Clause */
/* Requests to a legacy FastCGI pool (the old php-fpm): passed through to
 * the client, or fetched for a comparison. Both send the request's params
 * as received (with the route's params:, and the request id when the pool
 * has send_request_id) and its body as the handler reads it. */
#ifndef FPMD_MIGRATE_LEGACY_H
#define FPMD_MIGRATE_LEGACY_H

#include <stddef.h>

#include "fpmd/conf.h"
#include "fpmd/fpmd.h"

struct evbuffer;

/* Hands req to pool and streams the answer to the client; cr (NULL:
 * none) adds its params:. What a handler returns. Suspends. */
int fpmd_legacy_forward(struct fpmd_req *req, const char *pool,
                        const struct fpmd_conf_route *cr);

/* A legacy answer read whole, for comparing. */
struct fpmd_legacy_answer {
    int status;                 /* 0: the call failed (error says why) */
    const char *content_type;   /* NULL: none */
    struct evbuffer *body;      /* up to max bytes, owned by the request */
    int over;                   /* the body was longer than max */
    const char *error;
};

/* Sends req to pool and reads its answer into a (the rest of a body over
 * max is read and dropped). FPMD_OK when an answer came. Suspends. */
int fpmd_legacy_fetch(struct fpmd_req *req, const char *pool,
                      const struct fpmd_conf_route *cr, size_t max,
                      struct fpmd_legacy_answer *a);

#endif
