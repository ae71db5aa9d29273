/* SPDX-License-Identifier: BSD-2-Clause */
/* php-fpm's ping and status pages. The status handler reads the running
 * generation's scoreboard through sanitizing copies and renders it with
 * status_render.c; it never trusts what another worker wrote. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "fpmd/fpmd.h"
#include "fpmd/process.h"
#include "fpmd/clock.h"
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
    const char *pong = fpmd_process.conf->status.ping_response;

    if (send_no_cache(req) != FPMD_OK)
        return FPMD_ERROR;
    return fpmd_reply(req, 200, "text/plain", pong, strlen(pong));
}

static const char *
pm_name(uint32_t mode)
{
    return mode == FPMD_PM_DYNAMIC ? "dynamic"
        : mode == FPMD_PM_ONDEMAND ? "ondemand" : "static";
}

static void
free_evbuffer(void *b)
{
    evbuffer_free(b);
}

/* Adds one worker's view of its backend pools into v, matched by name. */
static void
add_backends(struct fpmd_status_view *v, const struct fpmd_sb_slot *slot)
{
    for (size_t i = 0; i < FPMD_SB_BACKENDS && slot->backends[i].name[0];
         i++) {
        const struct fpmd_sb_backend *s = &slot->backends[i];
        struct fpmd_status_backend *b = NULL;

        for (size_t j = 0; j < v->nbackends && b == NULL; j++) {
            if (strcmp(v->backends[j].name, s->name) == 0)
                b = &v->backends[j];
        }
        if (b == NULL) {
            if (v->nbackends == FPMD_SB_BACKENDS)
                continue;
            b = &v->backends[v->nbackends++];
            memcpy(b->name, s->name, sizeof(b->name));
        }
        b->size += s->size;
        b->idle += s->idle;
        b->in_use += s->in_use;
        b->waiters += s->waiters;
        b->calls += s->calls;
        b->timeouts += s->timeouts;
        b->errors += s->errors;
        b->reconnects += s->reconnects;
        b->exhausted += s->exhausted;
    }
}

static void
add_side(struct fpmd_status_side *to, const struct fpmd_sb_side *from)
{
    to->requests += from->requests;
    to->errors += from->errors;
    for (size_t i = 0; i < FPMD_SB_HIST; i++)
        to->hist[i] += from->hist[i];
}

/* Adds one worker's route rows into v, matched by label and handler (two
 * generations may list different routes). */
static void
add_routes(struct fpmd_status_view *v, const struct fpmd_sb_routes *rows)
{
    for (size_t i = 0; i < FPMD_SB_ROUTES && rows->r[i].label[0]; i++) {
        const struct fpmd_sb_route *s = &rows->r[i];
        struct fpmd_status_route *r = NULL;

        for (size_t j = 0; j < v->nroutes && r == NULL; j++) {
            if (strcmp(v->routes[j].label, s->label) == 0
                && strcmp(v->routes[j].handler, s->handler) == 0)
                r = &v->routes[j];
        }
        if (r == NULL) {
            if (v->nroutes == FPMD_SB_ROUTES)
                continue;
            r = &v->routes[v->nroutes++];
            memcpy(r->label, s->label, sizeof(r->label));
            memcpy(r->handler, s->handler, sizeof(r->handler));
        }
        add_side(&r->native, &s->native);
        add_side(&r->legacy, &s->legacy);
        r->shadow_compared += s->shadow_compared;
        r->shadow_mismatches += s->shadow_mismatches;
        r->shadow_errors += s->shadow_errors;
        r->canary_fallbacks += s->canary_fallbacks;
    }
}

/* Fills v from the scoreboard; slots is an arena array of nslots, rows
 * room for one worker's route rows. */
static void
snapshot(struct fpmd_status_view *v, struct fpmd_sb_slot *slots,
         struct fpmd_sb_routes *rows)
{
    const struct fpmd_scoreboard *sb = fpmd_process.sb;
    size_t n = 0;

    memset(v, 0, sizeof(*v));
    v->pool = fpmd_process.conf->pool_name;
    v->pm = pm_name(sb->pool.pm_mode);
    v->start_us = sb->pool.start_us;
    v->now_us = fpmd_now_us();
    v->accepted_conn = sb->pool.accepted_conn_dead;
    v->slow_requests = sb->pool.slow_requests_dead;
    v->max_children_reached = sb->pool.max_children_reached;
    for (uint32_t i = 0; i < sb->nslots; i++) {
        if (fpmd_scoreboard_read(sb, i, &slots[n]) != FPMD_OK)
            continue;
        v->accepted_conn += slots[n].accepted_conn;
        v->slow_requests += slots[n].slow_requests;
        v->in_flight += slots[n].in_flight;
        v->free_reqs += slots[n].free_reqs;
        v->free_buffers += slots[n].free_buffers;
        v->free_stacks += slots[n].free_stacks;
        v->free_conns += slots[n].free_conns;
        add_backends(v, &slots[n]);
        if (fpmd_scoreboard_read_routes(sb, i, rows) == FPMD_OK)
            add_routes(v, rows);
        if (slots[n].state == FPMD_SB_BUSY)
            v->active++;
        else if (slots[n].state == FPMD_SB_IDLE
                 || slots[n].state == FPMD_SB_STARTING)
            v->idle++;
        n++;
    }
    v->total = (uint32_t) n;
    v->max_active = sb->pool.max_active > v->active ? sb->pool.max_active
                                                    : v->active;
    for (size_t i = 0; i < fpmd_process.nlisteners; i++) {
        unsigned queued, backlog;

        if (fpmd_listener_queue(&fpmd_process.listeners[i], &queued, &backlog)
            == FPMD_OK) {
            v->listen_queue += queued;
            v->listen_queue_len += backlog;
        }
    }
    v->max_listen_queue = sb->pool.max_listen_queue > v->listen_queue
        ? sb->pool.max_listen_queue : v->listen_queue;
    v->slots = slots;
    v->nslots = n;
}

FPMD_HANDLER(status)
{
    enum fpmd_status_format fmt;
    struct fpmd_status_view *v = fpmd_alloc(req, sizeof(*v));
    struct fpmd_sb_routes *rows = fpmd_alloc(req, sizeof(*rows));
    struct fpmd_sb_slot *slots;
    const char *ctype = "text/plain";
    struct evbuffer *out;
    int full;

    slots = fpmd_alloc(req, fpmd_process.sb->nslots * sizeof(*slots) + 1);
    out = evbuffer_new();
    if (slots == NULL || out == NULL || v == NULL || rows == NULL) {
        if (out != NULL)
            evbuffer_free(out);
        return FPMD_ERROR;
    }
    if (fpmd_defer(req, free_evbuffer, out) != FPMD_OK) {
        evbuffer_free(out);
        return FPMD_ERROR;
    }
    fpmd_status_parse_query(fpmd_req_query(req), &fmt, &full);
    snapshot(v, slots, rows);
    if (fpmd_status_render(out, v, fmt, full, &ctype) != FPMD_OK
        || send_no_cache(req) != FPMD_OK)
        return FPMD_ERROR;
    return fpmd_reply(req, 200, ctype, evbuffer_pullup(out, -1),
                      evbuffer_get_length(out));
}
