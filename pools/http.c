/* SPDX-License-Identifier: BSD-2-Clause */
/* The HTTP client (fpmd.h, "HTTP client"): libcurl's multi-socket API on
 * the worker's libevent loop. libcurl brings what an outbound HTTP call
 * needs and fpmd should not write again: TLS, HTTP/2, redirects, proxies
 * from the environment, name resolution off the loop (its threaded
 * resolver). One multi handle per upstream, so that each has its own
 * connection cache and its own bound on connections per server, and one
 * for plain URLs; connections live across requests. A call is a
 * fpmd_call answered here: awaited, failed and cancelled like a pool's.
 * A stream (fpmd_http_stream_*) is such a call whose body goes to its
 * reader, and whose request body comes from its writer, piece by piece:
 * libcurl's pause (CURL_WRITEFUNC_PAUSE, CURL_READFUNC_PAUSE) holds the
 * transfer while the other side has nothing to give or no room to take.
 *
 * libcurl asks for socket events (CURLMOPT_SOCKETFUNCTION) and one
 * timeout (CURLMOPT_TIMERFUNCTION); both become libevent events whose
 * callbacks hand the socket back with curl_multi_socket_action, then
 * collect the transfers that ended. */
#include "config.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>
#include <event2/event.h>
#include <event2/event_struct.h>

#include "fpmd/balance.h"
#include "fpmd/breaker.h"
#include "fpmd/clock.h"
#include "fpmd/discovery.h"
#include "fpmd/log.h"
#include "fpmd/process.h"
#include "fpmd/req.h"
#include "fpmd/request_id.h"
#include "fpmd/scoreboard.h"
#include "fpmd/service.h"
#include "pools/pool.h"

/* Plain URLs (no upstream): the upstream defaults (README "HTTP
 * client"). */
#define PLAIN_TIMEOUT_MS 10000
#define PLAIN_CONNECT_MS 1000
#define PLAIN_MAX_CONNS 32
#define PLAIN_MAX_BODY (8u * 1024 * 1024)
/* The call's own guard past libcurl's timeout, which ends it first. */
#define GUARD_MS 1000
/* Headers of one answer, at most: a server cannot make a call hold
 * unbounded memory before its body. */
#define HEAD_MAX (64u * 1024)
/* Easy handles kept for the next calls, per worker: curl_easy_init and
 * its cleanup cost more than a reset. */
#define SPARE_EASY 256

struct multi {
    CURLM *m;
    struct event timer;
    const struct fpmd_conf_upstream *conf;  /* NULL: plain URLs */
    size_t index;                           /* conf's, in the upstreams */
    struct fpmd_balancer *balancer;
    size_t nservers;                        /* its slots */
    const char **urls;                      /* each slot's, "": empty */
    unsigned *weights;
    struct fpmd_discovered *found;          /* discover: the list as last
                                             * read; NULL: servers: */
    uint64_t version;                       /* of found */
    unsigned *in_flight;                    /* per server */
    size_t first;                           /* its servers' breakers: from
                                             * this one of the set */
    uint64_t calls, errors, timeouts, retries, active;
    uint64_t refused;                       /* circuits open: no server */
};

struct sock {
    struct event ev;
    struct multi *multi;
    int what;                   /* CURL_POLL_* it waits for */
};

struct hcall {
    struct fpmd_call *call;
    struct multi *multi;
    CURL *easy;
    struct curl_slist *headers;
    const char *path;           /* upstream: the request's path */
    const char *method;         /* in the request's memory */
    const char *hash_key;       /* balancer hash; NULL: none */
    int server;                 /* upstream: the one tried; -1: none */
    const char *server_url;     /* its URL, in the request's memory: a
                                 * discovered slot may change meanwhile */
    bool probe;                 /* its breaker is half-open: a probe */
    bool circuit_open;          /* no server: every circuit open */
    bool none_found;            /* no server: none discovered */
    unsigned tries;
    char *head;                 /* the answer's header lines */
    size_t head_len;
    char *body;                 /* malloc'd, given to the request */
    size_t body_len, body_cap, max_body;
    bool too_large;
    uint64_t timeout_ms;        /* the whole call; FPMD_HTTP_NO_TIMEOUT */
    struct fpmd_http_stream *stream;    /* NULL: a whole call */
    struct fpmd_http_response resp;
};

/* A streamed call. The answer's body waits for the reader in win, at
 * most FPMD_HTTP_STREAM_WINDOW bytes past which the transfer pauses (one
 * piece libcurl hands over at once may go beyond, into an empty window);
 * the request's body is the writer's bytes, pending while it waits for
 * libcurl to take them, never copied. */
struct fpmd_http_stream {
    struct hcall hc;
    char *win;                  /* malloc'd */
    size_t win_off, win_len, win_cap;
    size_t fallback_off;        /* a fallback: answer's body, read so far */
    const char *pending;        /* the writer's; NULL when none waits */
    size_t pending_len;
    uint64_t announced;         /* its Content-Length; 0: chunked */
    uint64_t written;           /* given to fpmd_http_stream_write */
    uint64_t taken;             /* ...and taken by libcurl */
    bool body_stream;
    bool ended;                 /* fpmd_http_stream_end was called */
    bool eof_taken;             /* libcurl has read the chunked end */
    bool head_done;             /* the answer's head is in hc.resp */
    bool head_given;            /* ...and fpmd_http_stream_response gave it */
    bool recv_paused, send_paused;
    bool closed;
};

static struct {
    struct event_base *base;
    struct multi plain;
    struct multi *ups;          /* conf->upstreams' */
    size_t nups;
    struct fpmd_breaker_set *breakers;  /* the master's, or own_breakers */
    struct fpmd_breaker_set *own_breakers;  /* fpmd run: no master's */
    CURL *spare[SPARE_EASY];
    size_t nspare;
    bool global_init;
} H;

/* --- libcurl on libevent ---------------------------------------------- */

static void check_done(struct multi *mu);

static void
on_event(evutil_socket_t fd, short what, void *arg)
{
    struct sock *k = arg;
    struct multi *mu = k->multi;
    int running;

    curl_multi_socket_action(mu->m, fd,
                             ((what & EV_READ) ? CURL_CSELECT_IN : 0)
                             | ((what & EV_WRITE) ? CURL_CSELECT_OUT : 0),
                             &running);
    check_done(mu);
}

static int
on_socket(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp)
{
    struct multi *mu = userp;
    struct sock *k = socketp;
    short events;

    (void) easy;
    if (what == CURL_POLL_REMOVE) {
        if (k != NULL) {
            event_del(&k->ev);
            free(k);
        }
        curl_multi_assign(mu->m, s, NULL);
        return 0;
    }
    if (k == NULL) {
        k = calloc(1, sizeof(*k));
        if (k == NULL)
            return -1;
        k->multi = mu;
        curl_multi_assign(mu->m, s, k);
    } else if (k->what == what) {
        /* libcurl says it again at each transfer on a kept connection:
         * no epoll_ctl for nothing */
        return 0;
    } else {
        event_del(&k->ev);
    }
    k->what = what;
    events = EV_PERSIST | ((what & CURL_POLL_IN) ? EV_READ : 0)
        | ((what & CURL_POLL_OUT) ? EV_WRITE : 0);
    event_assign(&k->ev, H.base, s, events, on_event, k);
    return event_add(&k->ev, NULL) == 0 ? 0 : -1;
}

static void
on_timer(evutil_socket_t fd, short what, void *arg)
{
    struct multi *mu = arg;
    int running;

    (void) fd;
    (void) what;
    curl_multi_socket_action(mu->m, CURL_SOCKET_TIMEOUT, 0, &running);
    check_done(mu);
}

static int
on_timer_set(CURLM *m, long ms, void *userp)
{
    struct multi *mu = userp;
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};

    (void) m;
    if (ms < 0)
        evtimer_del(&mu->timer);
    else
        evtimer_add(&mu->timer, &tv);
    return 0;
}

/* mu's balancer over its slots as they are now; the one it had stays
 * when a new one cannot be made. */
static int
balancer_build(struct multi *mu)
{
    const char **names = calloc(mu->nservers, sizeof(*names));
    char (*empty)[24] = calloc(mu->nservers, sizeof(*empty));
    struct fpmd_balancer *b = NULL;

    if (names != NULL && empty != NULL) {
        for (size_t i = 0; i < mu->nservers; i++) {
            /* an empty slot's name only keeps the names distinct */
            snprintf(empty[i], sizeof(empty[i]), "-%zu", i);
            names[i] = mu->urls[i][0] != '\0' ? mu->urls[i] : empty[i];
        }
        b = fpmd_balancer_new(mu->conf->balancer, mu->nservers, mu->weights,
                              names);
    }
    free(names);
    free(empty);
    if (b == NULL)
        return FPMD_ERROR;
    fpmd_balancer_free(mu->balancer);
    mu->balancer = b;
    return FPMD_OK;
}

/* A discovered upstream's slots as the agent published them last. */
static void
refresh(struct multi *mu)
{
    const struct fpmd_discovery *d = fpmd_process.discovery;
    uint64_t v;

    if (mu->found == NULL || d == NULL
        || (v = fpmd_discovery_version(d, mu->index)) == mu->version
        || (v = fpmd_discovery_read(d, mu->index, mu->found)) == 0)
        return;
    for (size_t i = 0; i < mu->nservers; i++) {
        mu->urls[i] = mu->found[i].url;
        mu->weights[i] = mu->found[i].weight ? mu->found[i].weight : 1;
    }
    if (balancer_build(mu) == FPMD_OK)
        mu->version = v;
}

static int
multi_open(struct multi *mu, const struct fpmd_conf_upstream *u)
{
    unsigned conns = u ? u->max_connections : PLAIN_MAX_CONNS;

    mu->conf = u;
    mu->m = curl_multi_init();
    if (mu->m == NULL)
        return FPMD_ERROR;
    evtimer_assign(&mu->timer, H.base, on_timer, mu);
    curl_multi_setopt(mu->m, CURLMOPT_SOCKETFUNCTION, on_socket);
    curl_multi_setopt(mu->m, CURLMOPT_SOCKETDATA, mu);
    curl_multi_setopt(mu->m, CURLMOPT_TIMERFUNCTION, on_timer_set);
    curl_multi_setopt(mu->m, CURLMOPT_TIMERDATA, mu);
    curl_multi_setopt(mu->m, CURLMOPT_MAX_HOST_CONNECTIONS, (long) conns);
    if (u == NULL) {
        curl_multi_setopt(mu->m, CURLMOPT_MAXCONNECTS, (long) conns * 4);
        return FPMD_OK;
    }
    mu->nservers = fpmd_conf_upstream_slots(u);
    curl_multi_setopt(mu->m, CURLMOPT_MAXCONNECTS,
                      (long) conns * (long) mu->nservers);
    mu->in_flight = calloc(mu->nservers, sizeof(*mu->in_flight));
    mu->urls = calloc(mu->nservers, sizeof(*mu->urls));
    mu->weights = calloc(mu->nservers, sizeof(*mu->weights));
    if (mu->in_flight == NULL || mu->urls == NULL || mu->weights == NULL)
        return FPMD_ERROR;
    if (u->discover != NULL) {
        mu->found = calloc(mu->nservers, sizeof(*mu->found));
        if (mu->found == NULL)
            return FPMD_ERROR;
    }
    for (size_t i = 0; i < mu->nservers; i++) {
        mu->urls[i] = u->discover ? "" : u->servers[i].url;
        mu->weights[i] = u->discover ? 1 : u->servers[i].weight;
    }
    return balancer_build(mu);
}

static void
multi_close(struct multi *mu)
{
    if (mu->m != NULL) {
        evtimer_del(&mu->timer);
        curl_multi_cleanup(mu->m);
    }
    fpmd_balancer_free(mu->balancer);
    free(mu->in_flight);
    free(mu->urls);
    free(mu->weights);
    free(mu->found);
    memset(mu, 0, sizeof(*mu));
}

/* --- a call ------------------------------------------------------------ */

static size_t
on_body(char *data, size_t size, size_t n, void *arg)
{
    struct hcall *hc = arg;
    size_t len = size * n;

    if (hc->body_len + len > hc->max_body) {
        hc->too_large = true;
        return 0;
    }
    if (hc->body_len + len + 1 > hc->body_cap) {
        size_t cap = hc->body_cap ? hc->body_cap * 2 : 16384;
        char *grown;

        while (cap < hc->body_len + len + 1)
            cap *= 2;
        grown = realloc(hc->body, cap);
        if (grown == NULL)
            return 0;
        hc->body = grown;
        hc->body_cap = cap;
    }
    memcpy(hc->body + hc->body_len, data, len);
    hc->body_len += len;
    return len;
}

static int stream_head(struct fpmd_http_stream *s);

/* Header lines of the last answer only: a redirect's or a 100 Continue's
 * come first and are dropped at the next status line. */
static size_t
on_header(char *data, size_t size, size_t n, void *arg)
{
    struct hcall *hc = arg;
    size_t len = size * n;

    /* a stream's trailers come after its head was given: not part of it */
    if (hc->stream != NULL && hc->stream->head_done)
        return len;
    if (len >= 5 && strncmp(data, "HTTP/", 5) == 0)
        hc->head_len = 0;
    if (hc->head_len + len > HEAD_MAX)
        return 0;
    if (hc->head == NULL && (hc->head = malloc(HEAD_MAX)) == NULL)
        return 0;
    memcpy(hc->head + hc->head_len, data, len);
    hc->head_len += len;
    /* a stream's reader waits for the end of the head, not the transfer */
    if (hc->stream != NULL && (len == 1 || (len == 2 && data[0] == '\r'))
        && stream_head(hc->stream) != FPMD_OK)
        return 0;
    return len;
}

/* Everything malloc'd and the easy handle, once the transfer is out of
 * its multi. */
static void
hcall_release(struct hcall *hc)
{
    if (hc->easy != NULL) {
        curl_multi_remove_handle(hc->multi->m, hc->easy);
        if (H.nspare < SPARE_EASY) {
            curl_easy_reset(hc->easy);
            H.spare[H.nspare++] = hc->easy;
        } else {
            curl_easy_cleanup(hc->easy);
        }
        hc->easy = NULL;
    }
    curl_slist_free_all(hc->headers);
    hc->headers = NULL;
    free(hc->head);
    hc->head = NULL;
    free(hc->body);
    hc->body = NULL;
    if (hc->server >= 0)
        hc->multi->in_flight[hc->server]--;
    hc->server = -1;
    hc->multi->active--;
}

static void
on_cancel(struct fpmd_call *call)
{
    hcall_release(call->driver);
}

static void
on_timeout(struct fpmd_call *call)
{
    struct hcall *hc = call->driver;

    hcall_release(hc);
    hc->multi->timeouts++;
    fpmd_call_other_done(call, FPMD_CALL_TIMEOUT, "no answer in time");
}

/* The method and the URL (an upstream's: its name, the server tried,
 * the path), truncated. */
static void
describe(const struct fpmd_call *call, char *buf, size_t len)
{
    const struct hcall *hc = call->driver;
    const struct fpmd_conf_upstream *u = hc->multi->conf;

    if (u != NULL)
        snprintf(buf, len, "http upstream %s, server %.80s, %s %.120s",
                 u->name, hc->server_url ? hc->server_url : "none yet",
                 hc->method, hc->path);
    else
        snprintf(buf, len, "http %s %.160s", hc->method, hc->path);
}

static const struct fpmd_call_ops http_ops = {on_cancel, on_timeout, false,
                                              describe};
static const struct fpmd_call_ops stream_ops = {on_cancel, on_timeout, true,
                                                describe};

/* The answer's headers as name/value pairs in the request's memory. */
static int
parse_head(struct hcall *hc)
{
    struct fpmd_req *req = hc->call->req;
    struct fpmd_http_header *h;
    size_t n = 0, i = 0;
    char *line, *end;

    for (size_t k = 0; k < hc->head_len; k++)
        n += hc->head[k] == '\n';
    h = fpmd_alloc(req, (n + 1) * sizeof(*h));
    if (h == NULL)
        return FPMD_ERROR;
    for (line = hc->head; line < hc->head + hc->head_len; line = end + 1) {
        char *colon, *v, *stop;

        end = memchr(line, '\n', (size_t) (hc->head + hc->head_len - line));
        if (end == NULL)
            break;
        stop = end > line && end[-1] == '\r' ? end - 1 : end;
        colon = memchr(line, ':', (size_t) (stop - line));
        if (colon == NULL || strncmp(line, "HTTP/", 5) == 0)
            continue;
        for (v = colon + 1; v < stop && (*v == ' ' || *v == '\t'); v++)
            ;
        h[i].name = fpmd_strndup(req, line, (size_t) (colon - line));
        h[i].value = fpmd_strndup(req, v, (size_t) (stop - v));
        if (h[i].name == NULL || h[i].value == NULL)
            return FPMD_ERROR;
        i++;
    }
    hc->resp.headers = h;
    hc->resp.nheaders = i;
    return FPMD_OK;
}

/* The answer's status, server and headers into hc->resp. */
static int
answer_head(struct hcall *hc, long status)
{
    hc->resp.status = (int) status;
    hc->resp.server = hc->server >= 0 ? hc->server_url : NULL;
    return parse_head(hc);
}

/* --- a stream's side of libcurl ------------------------------------- */

/* The blank line after a head: a 1xx's is followed by the answer's;
 * the answer's is given to the reader. */
static int
stream_head(struct fpmd_http_stream *s)
{
    long status = 0;

    curl_easy_getinfo(s->hc.easy, CURLINFO_RESPONSE_CODE, &status);
    if (status < 200)
        return FPMD_OK;
    if (answer_head(&s->hc, status) != FPMD_OK)
        return FPMD_ERROR;
    s->head_done = true;
    fpmd_req_wake(s->hc.call->req);
    return FPMD_OK;
}

/* Body bytes into the window for the reader; a window already holding
 * bytes and without room pauses the transfer until a read drains it. */
static size_t
on_stream_body(char *data, size_t size, size_t n, void *arg)
{
    struct fpmd_http_stream *s = arg;
    size_t len = size * n, need = s->win_len + len;

    if (s->win_len > 0 && need > FPMD_HTTP_STREAM_WINDOW) {
        s->recv_paused = true;
        return CURL_WRITEFUNC_PAUSE;
    }
    if (s->win_off > 0 && s->win_off + need > s->win_cap) {
        memmove(s->win, s->win + s->win_off, s->win_len);
        s->win_off = 0;
    }
    if (need > s->win_cap) {
        size_t cap = need > FPMD_HTTP_STREAM_WINDOW ? need
                                                    : FPMD_HTTP_STREAM_WINDOW;
        char *grown = realloc(s->win, cap);

        if (grown == NULL)
            return 0;
        s->win = grown;
        s->win_cap = cap;
    }
    memcpy(s->win + s->win_off + s->win_len, data, len);
    s->win_len += len;
    fpmd_req_wake(s->hc.call->req);
    return len;
}

/* The writer's pending bytes to libcurl; none pending pauses the upload
 * until the next write or the end (then 0: the chunked end). */
static size_t
on_send(char *buf, size_t size, size_t n, void *arg)
{
    struct fpmd_http_stream *s = arg;
    size_t len = size * n;

    if (s->pending_len == 0) {
        if (!s->ended) {
            s->send_paused = true;
            return CURL_READFUNC_PAUSE;
        }
        s->eof_taken = true;
        fpmd_req_wake(s->hc.call->req);
        return 0;
    }
    if (len > s->pending_len)
        len = s->pending_len;
    memcpy(buf, s->pending, len);
    s->pending += len;
    s->pending_len -= len;
    s->taken += len;
    if (s->pending_len == 0)
        fpmd_req_wake(s->hc.call->req);
    return len;
}

static int place(struct hcall *hc, char *why, size_t len);

static struct fpmd_breaker *
breaker_of(const struct multi *mu, int server)
{
    return fpmd_breaker_set_at(H.breakers, mu->first + (size_t) server);
}

/* The breaker of hc's server hears how the call went: an answer below
 * 500 is a success; a 5xx, a timeout or a broken exchange a failure. A
 * change of state is logged by the process whose report made it. */
static void
report(struct hcall *hc, bool ok)
{
    struct multi *mu = hc->multi;
    enum fpmd_breaker_state st;
    bool changed;

    if (mu->conf == NULL || hc->server < 0)
        return;
    st = fpmd_breaker_report(breaker_of(mu, hc->server), &mu->conf->breaker,
                             fpmd_mono_ns() / 1000, ok, hc->probe, &changed);
    if (changed)
        fpmd_log(st == FPMD_BREAKER_OPEN ? FPMD_LOG_WARNING
                                         : FPMD_LOG_NOTICE,
                 "upstream %s: server %s: circuit %s%s", mu->conf->name,
                 hc->server_url,
                 fpmd_breaker_state_name(st), st == FPMD_BREAKER_OPEN
                 ? ": calls to it fail at once until it half-opens" : "");
}

/* The upstream's fallback: answer, for a call no server may take. */
static bool
fallback(struct hcall *hc)
{
    const struct fpmd_conf_upstream *u = hc->multi->conf;
    struct fpmd_http_header *h;

    if (u == NULL || !hc->circuit_open || u->fallback.status == 0)
        return false;
    h = fpmd_alloc(hc->call->req, sizeof(*h));
    if (h == NULL)
        return false;
    h->name = "Content-Type";
    h->value = u->fallback.content_type ? u->fallback.content_type
                                        : "text/plain";
    hc->resp = (struct fpmd_http_response) {
        .status = (int) u->fallback.status, .headers = h, .nheaders = 1,
        .body = u->fallback.body ? u->fallback.body : "",
        .body_len = u->fallback.body ? strlen(u->fallback.body) : 0,
        .fallback = true};
    return true;
}

/* A call no server took: its fallback answer, or the failure. */
static void
refuse(struct hcall *hc, enum fpmd_call_status st, const char *why)
{
    if (hc->circuit_open)
        hc->multi->refused++;
    hcall_release(hc);
    if (fallback(hc)) {
        if (hc->stream != NULL)
            hc->stream->head_done = true;
        fpmd_call_other_done(hc->call, FPMD_CALL_OK, NULL);
    } else {
        fpmd_call_other_done(hc->call, hc->circuit_open || hc->none_found
                                       ? FPMD_CALL_DOWN : st, why);
    }
}

/* A transfer ended with code: the answer, a second server, or the
 * failure. */
static void
finish(struct hcall *hc, CURLcode code)
{
    struct multi *mu = hc->multi;
    const char *server = hc->server >= 0 ? hc->server_url : NULL;
    char why[CURL_ERROR_SIZE + 128];
    long status = 0;
    enum fpmd_call_status st;

    curl_multi_remove_handle(mu->m, hc->easy);
    if (code == CURLE_OK && hc->stream != NULL) {
        /* its body went to the reader; the head, unless a body-less
         * answer ended before its blank line was seen */
        curl_easy_getinfo(hc->easy, CURLINFO_RESPONSE_CODE, &status);
        if (hc->stream->head_done || answer_head(hc, status) == FPMD_OK) {
            hc->stream->head_done = true;
            report(hc, hc->resp.status < 500);
            hcall_release(hc);
            fpmd_call_other_done(hc->call, FPMD_CALL_OK, NULL);
            return;
        }
        code = CURLE_OUT_OF_MEMORY;
    } else if (code == CURLE_OK) {
        curl_easy_getinfo(hc->easy, CURLINFO_RESPONSE_CODE, &status);
        hc->resp.body = hc->body ? hc->body : "";
        hc->resp.body_len = hc->body_len;
        if (hc->body != NULL) {
            hc->body[hc->body_len] = '\0';
            if (fpmd_defer(hc->call->req, free, hc->body) != FPMD_OK)
                code = CURLE_OUT_OF_MEMORY;
            else
                hc->body = NULL;
        }
        if (code == CURLE_OK && answer_head(hc, status) == FPMD_OK) {
            report(hc, status < 500);
            hcall_release(hc);
            fpmd_call_other_done(hc->call, FPMD_CALL_OK, NULL);
            return;
        }
        code = CURLE_OUT_OF_MEMORY;
    }
    report(hc, false);
    /* nothing was sent to a server that refused the connection: another
     * may take the call */
    if ((code == CURLE_COULDNT_CONNECT || code == CURLE_COULDNT_RESOLVE_HOST)
        && mu->conf != NULL && hc->tries <= mu->conf->retries
        && (hc->stream == NULL || hc->stream->taken == 0)) {
        mu->retries++;
        if (place(hc, why, sizeof(why)) == FPMD_OK)
            return;
        if (hc->circuit_open) {
            refuse(hc, FPMD_CALL_DOWN, why);
            return;
        }
    }
    st = code == CURLE_OPERATION_TIMEDOUT ? FPMD_CALL_TIMEOUT
        : FPMD_CALL_FAILED;
    if (hc->too_large) {
        snprintf(why, sizeof(why), "the answer's body is over max_body (%zu "
                 "bytes)", hc->max_body);
        fpmd_log(FPMD_LOG_WARNING, "http %s: %s", server ? server
                 : mu->conf ? mu->conf->name : "call", why);
    } else {
        snprintf(why, sizeof(why), "%s%s%s", server ? server : "",
                 server ? ": " : "", curl_easy_strerror(code));
    }
    if (st == FPMD_CALL_TIMEOUT)
        mu->timeouts++;
    else
        mu->errors++;
    hcall_release(hc);
    fpmd_call_other_done(hc->call, st, why);
}

static void
check_done(struct multi *mu)
{
    CURLMsg *msg;
    int left;

    while ((msg = curl_multi_info_read(mu->m, &left)) != NULL) {
        struct hcall *hc = NULL;

        if (msg->msg != CURLMSG_DONE)
            continue;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &hc);
        if (hc != NULL)
            finish(hc, msg->data.result);
    }
}

/* Points hc at a server of its upstream (another one on a retry) and
 * hands it to libcurl. FPMD_ERROR with why when no server is left. */
static int
place(struct hcall *hc, char *why, size_t len)
{
    struct multi *mu = hc->multi;
    const struct fpmd_conf_upstream *u = mu->conf;
    bool usable[1024];
    char url[4096];
    int s;

    if (u != NULL) {
        uint64_t now = fpmd_mono_ns() / 1000, wait = UINT64_MAX, retry;
        size_t live = 0;

        refresh(mu);
        for (size_t i = 0; i < mu->nservers; i++)
            live += mu->urls[i][0] != '\0';
        for (size_t i = 0; i < mu->nservers; i++)
            usable[i] = mu->urls[i][0] != '\0'
                && !(hc->tries > 0 && (int) i == hc->server && live > 1);
        if (hc->server >= 0)
            mu->in_flight[hc->server]--;
        /* the balancer's pick, unless its circuit is open: then the
         * next pick among the rest */
        for (;;) {
            s = fpmd_balancer_pick(mu->balancer, usable, mu->in_flight,
                                   hc->hash_key, hc->hash_key
                                   ? strlen(hc->hash_key) : 0);
            if (s < 0 || fpmd_breaker_allow(breaker_of(mu, s), &u->breaker,
                                            now, &hc->probe, &retry)
                             == FPMD_OK)
                break;
            usable[s] = false;
            if (retry < wait)
                wait = retry;
        }
        hc->server = s;
        if (s < 0) {
            hc->circuit_open = wait != UINT64_MAX;
            if (hc->circuit_open)
                snprintf(why, len, "upstream %s: every server's circuit is "
                         "open (the next half-opens in %llu ms)", u->name,
                         (unsigned long long) (wait + 999) / 1000);
            else if ((hc->none_found = live == 0 && u->discover != NULL))
                snprintf(why, len, "upstream %s: no server discovered under "
                         "%s/%s", u->name, u->discover, fpmd_process.discovery
                         ? "" : " (fpmd run does not ask etcd)");
            else
                snprintf(why, len, "upstream %s: no server to try", u->name);
            return FPMD_ERROR;
        }
        mu->in_flight[s]++;
        hc->server_url = fpmd_strdup(hc->call->req, mu->urls[s]);
        if (hc->server_url == NULL) {
            snprintf(why, len, "out of memory");
            return FPMD_ERROR;
        }
        if ((size_t) snprintf(url, sizeof(url), "%s%s",
                              mu->urls[s], hc->path) >= sizeof(url)) {
            snprintf(why, len, "the URL is too long");
            return FPMD_ERROR;
        }
        curl_easy_setopt(hc->easy, CURLOPT_URL, url);
    }
    hc->tries++;
    hc->head_len = 0;
    hc->body_len = 0;
    if (curl_multi_add_handle(mu->m, hc->easy) != CURLM_OK) {
        snprintf(why, len, "libcurl refused the transfer");
        return FPMD_ERROR;
    }
    return FPMD_OK;
}

static struct multi *
multi_of(const char *upstream)
{
    if (upstream == NULL)
        return &H.plain;
    for (size_t i = 0; i < H.nups; i++) {
        if (strcmp(H.ups[i].conf->name, upstream) == 0)
            return &H.ups[i];
    }
    return NULL;
}

/* CR, LF or NUL in a header would split it into two. */
static bool
header_safe(const char *s)
{
    return s != NULL && strpbrk(s, "\r\n") == NULL;
}

static int
setup_easy(struct hcall *hc, const struct fpmd_http_request *r,
           char *why, size_t len)
{
    const struct fpmd_conf_upstream *u = hc->multi->conf;
    const char *method = r->method ? r->method
        : r->body || (hc->stream && r->body_stream) ? "POST" : "GET";
    char line[8192];
    bool traced = false;

    hc->method = r->method ? fpmd_strdup(hc->call->req, r->method) : method;
    hc->easy = H.nspare > 0 ? H.spare[--H.nspare] : curl_easy_init();
    if (hc->method == NULL || hc->easy == NULL) {
        snprintf(why, len, "out of memory");
        return FPMD_ERROR;
    }
    for (size_t i = 0; i < r->nheaders; i++) {
        struct curl_slist *l;

        if (!header_safe(r->headers[i].name)
            || !header_safe(r->headers[i].value)
            || strchr(r->headers[i].name, ':') != NULL
            || (size_t) snprintf(line, sizeof(line), "%s: %s",
                                 r->headers[i].name, r->headers[i].value)
                   >= sizeof(line)) {
            snprintf(why, len, "header %zu is not a valid Name: value", i);
            return FPMD_ERROR;
        }
        l = curl_slist_append(hc->headers, line);
        if (l == NULL) {
            snprintf(why, len, "out of memory");
            return FPMD_ERROR;
        }
        hc->headers = l;
        traced |= strcasecmp(r->headers[i].name, "traceparent") == 0;
    }
    /* The call is a span of the request's trace (W3C Trace Context
     * §3.2), unless the caller put its own traceparent. */
    if (!traced) {
        struct curl_slist *l;

        memcpy(line, "traceparent: ", 13);
        if (fpmd_request_trace_child(hc->call->req, line + 13) != FPMD_OK
            || (l = curl_slist_append(hc->headers, line)) == NULL) {
            snprintf(why, len, "out of memory");
            return FPMD_ERROR;
        }
        hc->headers = l;
    }
    /* a POST waits for no 100 Continue: the body goes at once */
    hc->headers = curl_slist_append(hc->headers, "Expect:");
    curl_easy_setopt(hc->easy, CURLOPT_PRIVATE, hc);
    curl_easy_setopt(hc->easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(hc->easy, CURLOPT_HTTPHEADER, hc->headers);
    curl_easy_setopt(hc->easy, CURLOPT_CUSTOMREQUEST, method);
    if (strcmp(method, "HEAD") == 0)
        curl_easy_setopt(hc->easy, CURLOPT_NOBODY, 1L);
    /* libcurl's own copy: the caller's buffer may go before a retry */
    if (hc->stream != NULL && r->body_stream) {
        /* the size unknown (-1): chunked */
        curl_easy_setopt(hc->easy, CURLOPT_POST, 1L);
        curl_easy_setopt(hc->easy, CURLOPT_POSTFIELDSIZE_LARGE, r->body_len
                         ? (curl_off_t) r->body_len : (curl_off_t) -1);
        curl_easy_setopt(hc->easy, CURLOPT_READFUNCTION, on_send);
        curl_easy_setopt(hc->easy, CURLOPT_READDATA, hc->stream);
    } else if (r->body != NULL) {
        curl_easy_setopt(hc->easy, CURLOPT_POSTFIELDSIZE_LARGE,
                         (curl_off_t) r->body_len);
        curl_easy_setopt(hc->easy, CURLOPT_COPYPOSTFIELDS, r->body);
    }
    if (hc->stream != NULL) {
        curl_easy_setopt(hc->easy, CURLOPT_WRITEFUNCTION, on_stream_body);
        curl_easy_setopt(hc->easy, CURLOPT_WRITEDATA, hc->stream);
    } else {
        curl_easy_setopt(hc->easy, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(hc->easy, CURLOPT_WRITEDATA, hc);
    }
    curl_easy_setopt(hc->easy, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(hc->easy, CURLOPT_HEADERDATA, hc);
    /* a proxy's CONNECT answer is not the server's head */
    curl_easy_setopt(hc->easy, CURLOPT_SUPPRESS_CONNECT_HEADERS, 1L);
    /* libcurl's 0 is no timeout */
    curl_easy_setopt(hc->easy, CURLOPT_TIMEOUT_MS,
                     hc->timeout_ms == FPMD_HTTP_NO_TIMEOUT ? 0L
                     : (long) hc->timeout_ms);
    curl_easy_setopt(hc->easy, CURLOPT_CONNECTTIMEOUT_MS,
                     (long) (u ? u->connect_timeout_ms : PLAIN_CONNECT_MS));
    curl_easy_setopt(hc->easy, CURLOPT_PROTOCOLS_STR, "http,https");
    if (u != NULL) {
        curl_easy_setopt(hc->easy, CURLOPT_SSL_VERIFYPEER,
                         u->tls_verify ? 1L : 0L);
        curl_easy_setopt(hc->easy, CURLOPT_SSL_VERIFYHOST,
                         u->tls_verify ? 2L : 0L);
        if (u->tls_ca != NULL)
            curl_easy_setopt(hc->easy, CURLOPT_CAINFO, u->tls_ca);
    } else {
        curl_easy_setopt(hc->easy, CURLOPT_URL, r->url);
    }
    return FPMD_OK;
}

/* Starts hc (zeroed, its stream set) for r: placed on a server and
 * handed to libcurl, or done at once with the reason. NULL when memory
 * is out. */
static struct fpmd_call *
call_start(struct fpmd_req *req, struct hcall *hc,
           const struct fpmd_http_request *r)
{
    struct fpmd_call *call = fpmd_call_new_other(
        req, hc->stream ? &stream_ops : &http_ops, hc);
    const struct fpmd_conf_upstream *u;
    uint64_t guard;
    char why[256];

    if (call == NULL)
        return NULL;
    hc->call = call;
    hc->server = -1;
    hc->multi = multi_of(r->upstream);
    if (hc->multi == NULL || hc->multi->m == NULL) {
        fpmd_pool_call_fail(call, FPMD_CALL_INVALID, hc->multi == NULL
                            ? "no upstream named \"%s\""
                            : "the HTTP client is not running (%s)",
                            r->upstream ? r->upstream : "plain URLs");
        return call;
    }
    u = hc->multi->conf;
    if (r->url == NULL || (u != NULL ? r->url[0] != '/'
                           : strncasecmp(r->url, "http://", 7) != 0
                             && strncasecmp(r->url, "https://", 8) != 0)) {
        fpmd_pool_call_fail(call, FPMD_CALL_INVALID, u != NULL
                            ? "an upstream's call needs a path (/...)"
                            : "a plain call needs an http:// or https:// "
                              "URL");
        return call;
    }
    if (fpmd_req_aborted(req)) {
        fpmd_pool_call_fail(call, FPMD_CALL_ABORTED, "request ended first");
        return call;
    }
    hc->path = fpmd_strdup(req, r->url);
    hc->hash_key = r->hash_key ? fpmd_strdup(req, r->hash_key) : NULL;
    if (hc->path == NULL || (r->hash_key != NULL && hc->hash_key == NULL))
        return NULL;
    hc->max_body = u ? u->max_body : PLAIN_MAX_BODY;
    hc->timeout_ms = r->timeout_ms ? r->timeout_ms
        : u ? u->timeout_ms : PLAIN_TIMEOUT_MS;
    /* libcurl takes a long (32 bits on some systems): 24 days at most */
    if (hc->timeout_ms != FPMD_HTTP_NO_TIMEOUT && hc->timeout_ms > INT_MAX)
        hc->timeout_ms = INT_MAX;
    hc->multi->active++;
    hc->multi->calls++;
    if (setup_easy(hc, r, why, sizeof(why)) != FPMD_OK
        || place(hc, why, sizeof(why)) != FPMD_OK) {
        refuse(hc, FPMD_CALL_INVALID, why);
        return call;
    }
    /* libcurl ends the transfer first; this guards against its silence */
    guard = hc->timeout_ms == FPMD_HTTP_NO_TIMEOUT ? FPMD_CALL_NO_TIMEOUT
        : hc->timeout_ms * (u ? u->retries + 1 : 1) + GUARD_MS;
    fpmd_call_other_wait(call, guard);
    return call;
}

/* Zeroed request memory for a call's state. */
static void *
alloc_zeroed(struct fpmd_req *req, size_t size)
{
    void *p = fpmd_alloc(req, size);

    if (p != NULL)
        memset(p, 0, size);
    return p;
}

struct fpmd_call *
fpmd_http_start(struct fpmd_req *req, const struct fpmd_http_request *r)
{
    struct hcall *hc = alloc_zeroed(req, sizeof(*hc));

    return hc != NULL ? call_start(req, hc, r) : NULL;
}

const struct fpmd_http_response *
fpmd_http_response(const struct fpmd_call *call)
{
    const struct hcall *hc = call->driver;

    return call->ops == &http_ops && call->status == FPMD_CALL_OK
        ? &hc->resp : NULL;
}

const char *
fpmd_http_header(const struct fpmd_http_response *r, const char *name)
{
    for (size_t i = r->nheaders; i-- > 0;) {
        if (strcasecmp(r->headers[i].name, name) == 0)
            return r->headers[i].value;
    }
    return NULL;
}

const struct fpmd_http_response *
fpmd_http_request(struct fpmd_req *req, const struct fpmd_http_request *r)
{
    struct fpmd_call *call = fpmd_http_start(req, r);

    return call != NULL && fpmd_await(req, call) == FPMD_OK
        ? fpmd_http_response(call) : NULL;
}

const struct fpmd_http_response *
fpmd_http_get(struct fpmd_req *req, const char *upstream, const char *url)
{
    struct fpmd_http_request r = {.upstream = upstream, .url = url};

    return fpmd_http_request(req, &r);
}

const struct fpmd_http_response *
fpmd_http_post(struct fpmd_req *req, const char *upstream, const char *url,
               const char *content_type, const void *body, size_t len)
{
    struct fpmd_http_header h = {"Content-Type", content_type};
    struct fpmd_http_request r = {
        .upstream = upstream, .url = url, .headers = &h,
        .nheaders = content_type ? 1 : 0, .body = body ? body : "",
        .body_len = len};

    return fpmd_http_request(req, &r);
}

/* --- streams ---------------------------------------------------------- */

static void
stream_at_end(void *arg)
{
    fpmd_http_stream_close(arg);
}

struct fpmd_http_stream *
fpmd_http_stream_open(struct fpmd_req *req, const struct fpmd_http_request *r)
{
    struct fpmd_http_stream *s = alloc_zeroed(req, sizeof(*s));

    if (s == NULL)
        return NULL;
    s->hc.stream = s;
    s->body_stream = r->body_stream;
    s->announced = r->body_stream ? r->body_len : 0;
    /* before the call: a stream never closed is closed at the end, and a
     * transfer left paused goes with it */
    if (fpmd_defer(req, stream_at_end, s) != FPMD_OK)
        return NULL;
    if (call_start(req, &s->hc, r) == NULL) {
        s->closed = true;
        return NULL;
    }
    return s;
}

/* The transfer is over: done, failed, cancelled. */
static bool
stream_over(const struct fpmd_http_stream *s)
{
    return fpmd_call_status(s->hc.call) != FPMD_CALL_PENDING;
}

/* A call out of order: logged, and the stream fails as a bad call does
 * (fpmd_call_failed says which) unless it is over already. */
static void
stream_misuse(struct fpmd_http_stream *s, const char *why)
{
    struct fpmd_call *call = s->hc.call;

    fpmd_log_req(call->req, FPMD_LOG_ERROR, "http stream: %s", why);
    if (stream_over(s))
        return;
    hcall_release(&s->hc);
    fpmd_call_other_done(call, FPMD_CALL_INVALID, why);
}

/* Lets libcurl go on in a direction paused for want of the other side. */
static void
stream_resume(struct fpmd_http_stream *s, bool *paused)
{
    if (!*paused || stream_over(s))
        return;
    *paused = false;
    /* it may hand held bytes over at once, and pause again */
    curl_easy_pause(s->hc.easy, (s->recv_paused ? CURLPAUSE_RECV : 0)
                                | (s->send_paused ? CURLPAUSE_SEND : 0));
}

/* Parks the handler until ready(s) or the transfer is over. FPMD_ERROR
 * when the request was aborted: the transfer is cancelled then. */
static int
stream_wait(struct fpmd_http_stream *s,
            bool (*ready)(const struct fpmd_http_stream *))
{
    while (!ready(s) && !stream_over(s)) {
        if (fpmd_req_suspend_on(s->hc.call->req, fpmd_call_describe,
                                s->hc.call) != FPMD_OK) {
            fpmd_call_other_cancel(s->hc.call);
            return FPMD_ERROR;
        }
    }
    return FPMD_OK;
}

static bool
body_taken(const struct fpmd_http_stream *s)
{
    return s->pending_len == 0;
}

static bool
eof_taken(const struct fpmd_http_stream *s)
{
    return s->eof_taken;
}

static bool
head_done(const struct fpmd_http_stream *s)
{
    return s->head_done;
}

static bool
body_in(const struct fpmd_http_stream *s)
{
    return s->win_len > 0;
}

/* FPMD_OK when the request's body may still be written to s; else why
 * not, logged as misuse when it is the caller's. */
static int
stream_writable(struct fpmd_http_stream *s, const char *fn)
{
    char why[160];

    if (s == NULL || s->closed)
        return FPMD_ERROR;
    if (s->body_stream && !s->ended)
        return stream_over(s) ? FPMD_ERROR : FPMD_OK;
    snprintf(why, sizeof(why), "%s %s", fn, s->body_stream
             ? "after fpmd_http_stream_end"
             : "on a stream opened without body_stream");
    stream_misuse(s, why);
    return FPMD_ERROR;
}

int
fpmd_http_stream_write(struct fpmd_http_stream *s, const void *data,
                       size_t len)
{
    bool taken;

    if (stream_writable(s, "fpmd_http_stream_write") != FPMD_OK)
        return FPMD_ERROR;
    if (s->announced != 0 && len > s->announced - s->written) {
        stream_misuse(s, "fpmd_http_stream_write past the body_len "
                      "announced");
        return FPMD_ERROR;
    }
    s->pending = data;
    s->pending_len = len;
    s->written += len;
    stream_resume(s, &s->send_paused);
    taken = stream_wait(s, body_taken) == FPMD_OK && s->pending_len == 0;
    /* libcurl never reads the writer's buffer after this */
    s->pending = NULL;
    s->pending_len = 0;
    return taken ? FPMD_OK : FPMD_ERROR;
}

int
fpmd_http_stream_end(struct fpmd_http_stream *s)
{
    if (stream_writable(s, "fpmd_http_stream_end") != FPMD_OK)
        return FPMD_ERROR;
    s->ended = true;
    /* a Content-Length ends the body by itself: libcurl asks no more */
    if (s->announced != 0) {
        if (s->written == s->announced)
            return FPMD_OK;
        stream_misuse(s, "fpmd_http_stream_end short of the body_len "
                      "announced");
        return FPMD_ERROR;
    }
    stream_resume(s, &s->send_paused);
    return stream_wait(s, eof_taken) == FPMD_OK && s->eof_taken
        ? FPMD_OK : FPMD_ERROR;
}

const struct fpmd_http_response *
fpmd_http_stream_response(struct fpmd_http_stream *s)
{
    if (s == NULL || s->closed || stream_wait(s, head_done) != FPMD_OK
        || !s->head_done)
        return NULL;
    s->head_given = true;
    return &s->hc.resp;
}

ssize_t
fpmd_http_stream_read(struct fpmd_http_stream *s, void *buf, size_t cap)
{
    const struct fpmd_http_response *resp;
    size_t n;

    if (s == NULL || s->closed)
        return -1;
    resp = &s->hc.resp;
    if (!s->head_given) {
        if (!stream_over(s) || fpmd_call_status(s->hc.call) == FPMD_CALL_OK)
            stream_misuse(s, "fpmd_http_stream_read before "
                          "fpmd_http_stream_response");
        return -1;
    }
    if (resp->fallback) {
        n = resp->body_len - s->fallback_off;
        n = n < cap ? n : cap;
        memcpy(buf, resp->body + s->fallback_off, n);
        s->fallback_off += n;
        return (ssize_t) n;
    }
    if (stream_wait(s, body_in) != FPMD_OK
        || (stream_over(s) && fpmd_call_status(s->hc.call) != FPMD_CALL_OK))
        return -1;
    n = s->win_len < cap ? s->win_len : cap;
    memcpy(buf, s->win + s->win_off, n);
    s->win_off += n;
    s->win_len -= n;
    if (s->win_len == 0)
        s->win_off = 0;
    /* room for what libcurl holds back: half the window free */
    if (s->win_len <= FPMD_HTTP_STREAM_WINDOW / 2)
        stream_resume(s, &s->recv_paused);
    return (ssize_t) n;
}

void
fpmd_http_stream_close(struct fpmd_http_stream *s)
{
    if (s == NULL || s->closed)
        return;
    s->closed = true;
    fpmd_call_other_cancel(s->hc.call);
    free(s->win);
    s->win = NULL;
    s->win_len = 0;
}

/* --- the worker service ----------------------------------------------- */

/* The upstreams' rows of the status page, after the pools' (the pools
 * service writes those). */
static void
publish(void)
{
    const struct fpmd_conf *conf = fpmd_process.conf;
    struct fpmd_sb_slot *slot = fpmd_process.slot;

    fpmd_scoreboard_begin_write(slot);
    for (size_t i = 0; i < H.nups
         && conf->nbackends + i < FPMD_SB_BACKENDS; i++) {
        const struct multi *mu = &H.ups[i];
        struct fpmd_sb_backend *b = &slot->backends[conf->nbackends + i];

        memset(b, 0, sizeof(*b));
        snprintf(b->name, sizeof(b->name), "%s", mu->conf->name);
        b->size = (uint32_t) (mu->conf->max_connections * mu->nservers);
        b->in_use = (uint32_t) mu->active;
        b->calls = mu->calls;
        b->timeouts = mu->timeouts;
        b->errors = mu->errors;
        b->reconnects = mu->retries;
        b->exhausted = mu->refused;
    }
    fpmd_scoreboard_end_write(slot);
}

static void
stop(void)
{
    for (size_t i = 0; i < H.nups; i++)
        multi_close(&H.ups[i]);
    free(H.ups);
    H.ups = NULL;
    H.nups = 0;
    multi_close(&H.plain);
    while (H.nspare > 0)
        curl_easy_cleanup(H.spare[--H.nspare]);
    fpmd_breaker_set_free(H.own_breakers);
    H.own_breakers = NULL;
    H.breakers = NULL;
}

static int
start(const struct fpmd_conf *conf, struct event_base *base)
{
    H.base = base;
    if (!H.global_init) {
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
            fpmd_log(FPMD_LOG_ALERT, "libcurl: global init failed");
            return FPMD_ERROR;
        }
        H.global_init = true;
    }
    if (multi_open(&H.plain, NULL) != FPMD_OK)
        goto fail;
    H.ups = calloc(conf->nupstreams ? conf->nupstreams : 1, sizeof(*H.ups));
    if (H.ups == NULL)
        goto fail;
    for (size_t first = 0; H.nups < conf->nupstreams; H.nups++) {
        H.ups[H.nups].first = first;
        H.ups[H.nups].index = H.nups;
        first += fpmd_conf_upstream_slots(&conf->upstreams[H.nups]);
        if (multi_open(&H.ups[H.nups], &conf->upstreams[H.nups]) != FPMD_OK) {
            H.nups++;
            goto fail;
        }
        /* fpmd run has no master to map them: its own, for itself */
        if (H.nups + 1 == conf->nupstreams && fpmd_process.breakers == NULL
            && (H.own_breakers = fpmd_breaker_set_new(first)) == NULL)
            goto fail;
    }
    H.breakers = fpmd_process.breakers ? fpmd_process.breakers
                                       : H.own_breakers;
    publish();
    return FPMD_OK;
fail:
    fpmd_log(FPMD_LOG_ALERT, "the HTTP client cannot start: out of memory");
    stop();
    return FPMD_ERROR;
}

static struct fpmd_service service = {
    .name = "http", .start = start, .tick = publish, .stop = stop,
};

__attribute__((constructor)) static void
register_service(void)
{
    fpmd_service_register(&service);
}
