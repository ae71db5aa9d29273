/* SPDX-License-Identifier: BSD-2-Clause */
/* php-fpm's status page formats (fpm_status.c): plain text, JSON, XML,
 * HTML and OpenMetrics, with php-fpm's field names and order, fpmd's own
 * fields after them. Pure: the caller builds the view from sanitized
 * scoreboard copies. */
#ifndef FPMD_STATUS_RENDER_H
#define FPMD_STATUS_RENDER_H

#include <stddef.h>
#include <stdint.h>

#include "fpmd/common.h"
#include "fpmd/scoreboard.h"

struct evbuffer;

enum fpmd_status_format {
    FPMD_STATUS_TEXT,
    FPMD_STATUS_JSON,
    FPMD_STATUS_XML,
    FPMD_STATUS_HTML,
    FPMD_STATUS_OPENMETRICS,
};

/* A backend pool summed over the workers (fpmd's own section). */
struct fpmd_status_backend {
    char name[FPMD_SB_BACKEND_LEN];
    uint64_t size, idle, in_use, waiters;
    uint64_t calls, timeouts, errors, reconnects, exhausted;
};

/* A config route summed over the workers: one side each for the C handler
 * and the legacy backend. */
struct fpmd_status_side {
    uint64_t requests, errors;
    uint64_t hist[FPMD_SB_HIST];
};

struct fpmd_status_route {
    char label[FPMD_SB_ROUTE_LEN];
    char handler[FPMD_SB_HANDLER_LEN];
    struct fpmd_status_side native, legacy;
    uint64_t shadow_compared, shadow_mismatches, shadow_errors;
    uint64_t canary_fallbacks;
};

struct fpmd_status_view {
    const char *pool;
    const char *pm;             /* "static", "dynamic", "ondemand" */
    uint64_t start_us, now_us;
    uint64_t accepted_conn;
    uint32_t listen_queue, max_listen_queue, listen_queue_len;
    uint32_t idle, active, total, max_active;
    uint64_t max_children_reached, slow_requests;
    uint64_t in_flight;         /* fpmd: requests running in the pool */
    /* fpmd: objects on the workers' free lists, as of their last tick */
    uint64_t free_reqs, free_buffers, free_stacks, free_conns;
    const struct fpmd_sb_slot *slots;
    size_t nslots;
    struct fpmd_status_backend backends[FPMD_SB_BACKENDS];
    size_t nbackends;
    struct fpmd_status_route routes[FPMD_SB_ROUTES];
    size_t nroutes;
};

/* php-fpm's query words: json, xml, html, openmetrics, full, in any
 * order, '&'-separated. */
void fpmd_status_parse_query(const char *query, enum fpmd_status_format *fmt,
                             int *full);

/* Appends the page; *content_type gets php-fpm's value for the format. */
int fpmd_status_render(struct evbuffer *out, const struct fpmd_status_view *v,
                       enum fpmd_status_format fmt, int full,
                       const char **content_type);

/* php-fpm's no-cache headers, name/value pairs, NULL-terminated. */
extern const char *const fpmd_status_headers[];

#endif
