/* SPDX-License-Identifier: BSD-2-Clause */
/* Routes that share their requests between a C handler and the legacy
 * php-fpm while the handler earns trust.
 *
 * canary: a share of the route's requests runs the handler, the rest go
 * to legacy; when the handler's errors or p99 over a window cross their
 * bounds, every request goes to legacy for a cooldown, then the canary
 * resumes. Each worker decides on its own requests.
 *
 * shadow: the client gets the handler's answer; once it is out, the same
 * request is sent to legacy from a background request, and the two
 * answers are compared (status, then body: JSON structurally). Counters
 * go to the route's status row; mismatches are logged with both answers,
 * cut short, at most once a second per route and worker. */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "fpmd/fpmd.h"
#include "fpmd/log.h"
#include "fpmd/req.h"
#include "fpmd/sched.h"
#include "fpmd/request_id.h"
#include "fpmd/router.h"
#include "fpmd/scoreboard.h"
#include "fpmd/service.h"
#include "fpmd/clock.h"
#include "fpmd/process.h"
#include "migrate/compare.h"
#include "migrate/legacy.h"

#define LOG_BODY 512            /* bytes of each answer in a mismatch log */

/* One config route's state in this worker. */
struct split_state {
    /* canary */
    uint64_t window_start_us, fallback_until_us;
    unsigned n, errors;
    uint64_t hist[FPMD_SB_HIST];
    /* shadow */
    unsigned in_flight;
    uint64_t last_log_us;
    unsigned suppressed;
};

/* The worker's, made when it starts (after fork: never shared) and
 * freed when its loop ends. */
static struct split_state *states;
static size_t nstates;
static uint64_t rnd_state;

static int
split_start(const struct fpmd_conf *conf, struct event_base *base)
{
    (void) base;
    states = calloc(conf->nroutes ? conf->nroutes : 1, sizeof(*states));
    nstates = states != NULL ? conf->nroutes : 0;
    if (states == NULL)
        fpmd_log(FPMD_LOG_ERROR, "shadow and canary: out of memory");
    return states != NULL ? FPMD_OK : FPMD_ERROR;
}

static void
split_stop(void)
{
    free(states);
    states = NULL;
    nstates = 0;
}

static struct fpmd_service split_service = {
    .name = "shadow_canary", .start = split_start, .stop = split_stop,
};

__attribute__((constructor)) static void
register_split(void)
{
    fpmd_service_register(&split_service);
}

static struct split_state *
state_of(const struct fpmd_conf_route *cr)
{
    size_t i = (size_t) (cr - fpmd_process.conf->routes);

    return i < nstates ? &states[i] : NULL;
}

/* The route's status row, written under the slot's seqlock; NULL past
 * the rows the scoreboard has. */
static struct fpmd_sb_route *
row_of(const struct fpmd_conf_route *cr)
{
    size_t i = (size_t) (cr - fpmd_process.conf->routes);

    return i < FPMD_SB_ROUTES ? &fpmd_process.routes->r[i] : NULL;
}

static void
count(const struct fpmd_conf_route *cr, size_t field_offset)
{
    struct fpmd_sb_route *row = row_of(cr);

    if (row == NULL)
        return;
    fpmd_scoreboard_begin_write(fpmd_process.slot);
    (*(uint64_t *) (void *) ((char *) row + field_offset))++;
    fpmd_scoreboard_end_write(fpmd_process.slot);
}

static const char *
route_label(const struct fpmd_conf_route *cr)
{
    return cr->path != NULL ? cr->path : "?";
}

/* --- canary ------------------------------------------------------------ */

static unsigned
random_below(unsigned n)
{
    uint64_t x = rnd_state;

    if (x == 0)
        x = fpmd_now_us() ^ ((uint64_t) getpid() << 32) ^ 0x9e3779b97f4a7c15;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    rnd_state = x;
    return (unsigned) (x % n);
}

/* 1 when this request goes to legacy. */
static int
canary_to_legacy(const struct fpmd_conf_route *cr, struct split_state *st,
                 uint64_t now)
{
    if (st != NULL && st->fallback_until_us != 0) {
        if (now < st->fallback_until_us)
            return 1;
        st->fallback_until_us = 0;
        st->window_start_us = now;
        fpmd_log(FPMD_LOG_NOTICE, "canary: route %s: back to %u.%02u%% to "
                 "its handler after the cooldown", route_label(cr),
                 cr->canary->percent_x100 / 100,
                 cr->canary->percent_x100 % 100);
    }
    return random_below(10000) >= cr->canary->percent_x100;
}

static void
canary_record(const struct fpmd_conf_route *cr, struct split_state *st,
              int failed, uint64_t us, uint64_t now)
{
    const struct fpmd_conf_canary *c = cr->canary;
    double p99;
    unsigned rate_x100;

    if (st == NULL)
        return;
    if (now - st->window_start_us >= c->window_ms * 1000) {
        st->window_start_us = now;
        st->n = st->errors = 0;
        memset(st->hist, 0, sizeof(st->hist));
    }
    st->n++;
    st->errors += failed != 0;
    st->hist[fpmd_sb_hist_bucket(us)]++;
    if (st->n < c->min_requests)
        return;
    rate_x100 = (unsigned) ((uint64_t) st->errors * 10000 / st->n);
    p99 = fpmd_sb_hist_quantile(st->hist, 0.99);
    if (rate_x100 <= c->max_error_x100
        && (c->max_p99_ms == 0 || p99 <= (double) c->max_p99_ms))
        return;
    fpmd_log(FPMD_LOG_WARNING, "canary: route %s falls back to legacy for "
             "%.1fs: error rate %u.%02u%% (bound %u.%02u%%), p99 %.1f ms "
             "(bound %" PRIu64 " ms) over %u requests", route_label(cr),
             (double) c->cooldown_ms / 1000.0, rate_x100 / 100,
             rate_x100 % 100, c->max_error_x100 / 100,
             c->max_error_x100 % 100, p99, c->max_p99_ms, st->n);
    st->fallback_until_us = now + c->cooldown_ms * 1000;
    st->n = st->errors = 0;
    memset(st->hist, 0, sizeof(st->hist));
    count(cr, offsetof(struct fpmd_sb_route, canary_fallbacks));
}

/* --- shadow ------------------------------------------------------------ */

/* What a shadow request needs of the request it copies. */
struct shadow_job {
    const struct fpmd_conf_route *cr;
    int status;
    const char *content_type;
    struct evbuffer *native_body;
    struct fpmd_req *bg;
    int done;                   /* compared, or counted as an error */
};

/* A body's first bytes for a log line, control bytes as '?'. */
static void
log_snippet(struct evbuffer *b, char *out, size_t outlen)
{
    size_t n = evbuffer_get_length(b);

    if (n > outlen - 4)
        n = outlen - 4;
    evbuffer_copyout(b, out, n);
    for (size_t i = 0; i < n; i++) {
        if ((unsigned char) out[i] < 0x20 || out[i] == 0x7f)
            out[i] = '?';
    }
    strcpy(out + n, evbuffer_get_length(b) > n ? "..." : "");
}

static void
log_mismatch(struct fpmd_req *bg, const struct shadow_job *job,
             const struct fpmd_legacy_answer *a, const char *where)
{
    struct split_state *st = state_of(job->cr);
    uint64_t now = fpmd_now_us();
    char native[LOG_BODY + 4], legacy[LOG_BODY + 4];

    if (st != NULL && now - st->last_log_us < 1000000) {
        st->suppressed++;
        return;
    }
    log_snippet(job->native_body, native, sizeof(native));
    log_snippet(a->body, legacy, sizeof(legacy));
    fpmd_log(FPMD_LOG_WARNING, "shadow: route %s: %s %s (request id %s) "
             "differs at %s: native %d \"%s\", legacy %d \"%s\"%s%u more "
             "mismatches not logged", route_label(job->cr),
             fpmd_req_method(bg), fpmd_req_uri(bg), fpmd_req_id(bg), where,
             job->status, native, a->status, legacy, "; ",
             st != NULL ? st->suppressed : 0);
    if (st != NULL) {
        st->last_log_us = now;
        st->suppressed = 0;
    }
}

static bool
is_json(const char *content_type)
{
    return content_type != NULL && strcasestr(content_type, "json") != NULL;
}

/* The background request: ask legacy, compare, count. */
static int
shadow_run(struct fpmd_req *bg)
{
    struct shadow_job *job = fpmd_req_get(bg, "shadow");
    const struct fpmd_conf_shadow *sh = job->cr->shadow;
    struct fpmd_legacy_answer a;
    char where[256];
    int same;

    if (fpmd_legacy_fetch(bg, sh->legacy, job->cr, sh->max_body, &a)
        != FPMD_OK || a.over) {
        fpmd_log(FPMD_LOG_DEBUG, "shadow: route %s: %s %s: %s",
                 route_label(job->cr), fpmd_req_method(bg), fpmd_req_uri(bg),
                 a.over ? "the legacy body is over max_body" : a.error);
        count(job->cr, offsetof(struct fpmd_sb_route, shadow_errors));
    } else {
        if (job->status != a.status) {
            snprintf(where, sizeof(where), "status");
            same = 0;
        } else {
            size_t nlen = evbuffer_get_length(job->native_body);
            size_t llen = evbuffer_get_length(a.body);

            same = fpmd_compare_bodies(
                (const char *) evbuffer_pullup(job->native_body, -1), nlen,
                (const char *) evbuffer_pullup(a.body, -1), llen,
                is_json(job->content_type) || is_json(a.content_type),
                sh->ignore, sh->nignore, where, sizeof(where));
        }
        count(job->cr, offsetof(struct fpmd_sb_route, shadow_compared));
        if (!same) {
            count(job->cr, offsetof(struct fpmd_sb_route, shadow_mismatches));
            log_mismatch(bg, job, &a, where);
        }
    }
    job->done = 1;
    return FPMD_OK;
}

/* However the background request ends (compared, failed to start, cut
 * by request_terminate_timeout): its place is free again, and one that
 * compared nothing is a shadow error. */
static void
shadow_done(void *arg)
{
    struct shadow_job *job = arg;
    struct split_state *st = state_of(job->cr);

    if (st != NULL && st->in_flight > 0)
        st->in_flight--;
    if (!job->done)
        count(job->cr, offsetof(struct fpmd_sb_route, shadow_errors));
}

static void
shadow_start(evutil_socket_t fd, short what, void *arg)
{
    struct shadow_job *job = arg;

    (void) fd;
    (void) what;
    /* On failure the request is freed, and shadow_done counts it. */
    fpmd_sched_start_background(job->bg, shadow_run);
}

static int
copy_buffer(struct fpmd_req *bg, struct evbuffer *from, struct evbuffer **to)
{
    *to = fpmd_req_evbuffer(bg);
    return *to != NULL && evbuffer_add_buffer(*to, from) == 0
        ? FPMD_OK : FPMD_ERROR;
}

/* When the client's request ends (its answer is out): a background copy
 * of it, started on the next loop pass rather than inside this one's
 * teardown. */
static void
shadow_spawn(void *arg)
{
    struct fpmd_req *req = arg;
    const struct fpmd_conf_route *cr = req->match.route->conf;
    struct split_state *st = state_of(cr);
    struct fpmd_req *bg = NULL;
    struct shadow_job *job;
    struct evbuffer *body;
    const char *ct;
    size_t i;
    int ok, deferred = 0;

    /* An answer cut short, or one that was not all seen, compares with
     * nothing. A body the handler left unread was not seen either. */
    ok = req->finished && !req->aborted && !req->terminated
        && !req->capture_over
        && (req->body == NULL || evbuffer_get_length(req->body) == 0)
        && (req->body_eof || req->content_length <= 0);
    if (ok)
        bg = fpmd_req_new_background();
    job = bg != NULL ? fpmd_alloc(bg, sizeof(*job)) : NULL;
    ok = job != NULL;
    if (ok) {
        memset(job, 0, sizeof(*job));
        job->cr = cr;
        ok = deferred = fpmd_defer(bg, shadow_done, job) == FPMD_OK;
    }
    for (i = 0; ok && i < req->nparams; i++)
        ok = fpmd_req_add_param(bg, req->params[i].name,
                                strlen(req->params[i].name),
                                req->params[i].value,
                                strlen(req->params[i].value)) == FPMD_OK;
    if (ok) {
        fpmd_req_derive(bg);
        ct = fpmd_req_resp_header(req, "Content-Type");
        job->status = req->status;
        job->content_type = ct != NULL ? fpmd_strdup(bg, ct) : NULL;
        job->bg = bg;
        bg->request_id = fpmd_request_id(req) != NULL
            ? fpmd_strdup(bg, req->request_id) : NULL;
        ok = copy_buffer(bg, req->capture_out, &job->native_body) == FPMD_OK
            && copy_buffer(bg, req->capture_in, &body) == FPMD_OK
            && fpmd_req_set(bg, "shadow", job) == FPMD_OK;
    }
    if (ok && evbuffer_get_length(body) > 0)
        fpmd_req_body_feed(bg, evbuffer_pullup(body, -1),
                           evbuffer_get_length(body));
    if (ok) {
        fpmd_req_body_end(bg);
        ok = event_base_once(fpmd_process.base, -1, EV_TIMEOUT, shadow_start,
                             job, NULL) == 0;
    }
    if (ok)
        return;
    if (deferred) {
        fpmd_req_free(bg);      /* shadow_done counts it */
        return;
    }
    if (bg != NULL)
        fpmd_req_free(bg);
    if (st != NULL && st->in_flight > 0)
        st->in_flight--;
    count(cr, offsetof(struct fpmd_sb_route, shadow_errors));
}

/* Sets req up to be shadowed when it ends, or counts why it will not
 * be. */
static void
shadow_prepare(struct fpmd_req *req, const struct fpmd_conf_route *cr,
               struct split_state *st)
{
    const struct fpmd_conf_shadow *sh = cr->shadow;

    if (!fpmd_method_in(sh->methods, fpmd_req_method(req)))
        return;
    if (st == NULL || st->in_flight >= sh->max_in_flight
        || fpmd_req_capture(req, sh->max_body) != FPMD_OK) {
        count(cr, offsetof(struct fpmd_sb_route, shadow_errors));
        return;
    }
    if (fpmd_defer(req, shadow_spawn, req) != FPMD_OK) {
        count(cr, offsetof(struct fpmd_sb_route, shadow_errors));
        return;
    }
    st->in_flight++;
}

/* --- the route's handler --------------------------------------------- */

FPMD_HANDLER(shadow_canary)
{
    const struct fpmd_route *rt = req->match.route;
    const struct fpmd_conf_route *cr = rt->conf;
    struct split_state *st = state_of(cr);
    uint64_t t0 = fpmd_now_us();
    int rc;

    if (cr->canary != NULL && canary_to_legacy(cr, st, t0))
        return fpmd_legacy_forward(req, cr->canary->legacy, cr);
    if (cr->shadow != NULL)
        shadow_prepare(req, cr, st);
    rc = rt->native->fn(req);
    if (cr->canary != NULL) {
        uint64_t now = fpmd_now_us();

        canary_record(cr, st, rc != FPMD_OK || req->status >= 500, now - t0,
                      now);
    }
    return rc;
}
