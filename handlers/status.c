/* SPDX-License-Identifier: BSD-2-Clause */
/* php-fpm's ping and status pages, and the liveness and readiness probes
 * (README "Health probes"). The status handler renders a snapshot
 * of the pool (fpmd_status_snapshot: sanitized copies of the scoreboard)
 * with status_render.c, whole in memory so that the page goes out with
 * its length. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fpmd/fpmd.h"
#include "handlers/status_render.h"

static int
send_no_cache(struct fpmd_req *req)
{
    for (size_t i = 0; fpmd_status_headers[i] != NULL; i += 2) {
        if (fpmd_resp_header(req, fpmd_status_headers[i],
                             fpmd_status_headers[i + 1]) != FPMD_OK)
            return FPMD_ERROR;
    }
    return FPMD_OK;
}

FPMD_HANDLER(ping)
{
    const char *pong = fpmd_ping_response();

    if (send_no_cache(req) != FPMD_OK)
        return FPMD_ERROR;
    return fpmd_reply(req, 200, "text/plain", pong, strlen(pong));
}

/* Any worker that runs its loop answers: the process is up. */
FPMD_HANDLER(live)
{
    if (send_no_cache(req) != FPMD_OK)
        return FPMD_ERROR;
    return fpmd_reply(req, 200, "text/plain", "live\n", 5);
}

static int
not_ready(struct fpmd_req *req, const char *why)
{
    char *body = fpmd_alloc(req, strlen(why) + 2);

    if (body == NULL || send_no_cache(req) != FPMD_OK)
        return FPMD_ERROR;
    memcpy(body, why, strlen(why));
    body[strlen(why)] = '\n';
    return fpmd_reply(req, 503, "text/plain", body, strlen(why) + 1);
}

/* 200 while workers accept, the pool is not stopping and each of
 * status.ready_pools is reachable from this worker; else 503 with the
 * first reason found. */
FPMD_HANDLER(ready)
{
    const char *why = fpmd_health_unready();

    if (why != NULL)
        return not_ready(req, why);
    for (const char *const *p = fpmd_health_ready_pools(); *p != NULL; p++) {
        if (fpmd_pool_reachable(req, *p, &why) != FPMD_OK)
            return not_ready(req, why);
    }
    if (send_no_cache(req) != FPMD_OK)
        return FPMD_ERROR;
    return fpmd_reply(req, 200, "text/plain", "ready\n", 6);
}

FPMD_HANDLER(status)
{
    const struct fpmd_status_snapshot *v = fpmd_status_snapshot(req);
    enum fpmd_status_format fmt;
    const char *ctype = "text/plain";
    char *page = NULL;
    size_t len = 0;
    FILE *out;
    int full, rc;

    if (v == NULL || (out = open_memstream(&page, &len)) == NULL)
        return FPMD_ERROR;
    fpmd_status_parse_query(fpmd_req_query(req), &fmt, &full);
    rc = fpmd_status_render(out, v, fmt, full, &ctype);
    if (fclose(out) != 0)
        rc = FPMD_ERROR;
    if (fpmd_defer(req, free, page) != FPMD_OK) {
        free(page);
        return FPMD_ERROR;
    }
    if (rc != FPMD_OK || send_no_cache(req) != FPMD_OK)
        return FPMD_ERROR;
    return fpmd_reply(req, 200, ctype, page, len);
}
