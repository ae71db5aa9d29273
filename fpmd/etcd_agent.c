/* SPDX-License-Identifier: BSD-2-Clause */
/* The etcd agent (etcd_agent.h). Its work is rounds, each a background
 * request on the worker's engine, so that its calls are plain
 * sequential code on the HTTP client and each round's memory goes with
 * it: a registration round grants a lease and puts the listeners' keys,
 * or renews the lease; a watch round reads an upstream's keys (a range)
 * and then follows them (a watch) for a bounded number of messages. A
 * timer starts the next round. etcd unreachable: the lists stay as they
 * are, one log line says so, and the rounds go on every etcd.retry until
 * it answers. */
#include "config.h"

#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/event_struct.h>
#include <json-c/json.h>

#include "fpmd/breaker.h"
#include "fpmd/clock.h"
#include "fpmd/discovery.h"
#include "fpmd/etcd_agent.h"
#include "fpmd/etcd_kv.h"
#include "fpmd/fpmd.h"
#include "fpmd/log.h"
#include "fpmd/process.h"
#include "fpmd/req.h"
#include "fpmd/sched.h"
#include "fpmd/worker.h"

/* Keys an upstream's prefix may hold that the agent keeps: a bound on
 * its memory whatever is written under the prefix. */
#define KEYS_PER_SLOT 4
#define KEYS_MIN 256
/* A watch round ends after this many messages and the next takes over
 * at the revision reached: a request's memory grows with its calls. */
#define WATCH_MESSAGES 1000
/* One watch message: its buffer starts at MESSAGE_MIN and doubles up to
 * MESSAGE_MAX (etcd's own requests stop at 1.5 MiB). */
#define MESSAGE_MIN (64u << 10)
#define MESSAGE_MAX (8u << 20)
/* A graceful stop waits this long at most for each endpoint to revoke
 * the lease. */
#define REVOKE_TIMEOUT_MS 1000

struct watch {
    size_t upstream;                /* in conf->upstreams */
    size_t first;                   /* its first breaker in the set */
    struct fpmd_etcd_set *set;
    int64_t revision;               /* reached; 0: read the range first */
    struct fpmd_req *req;           /* its round; NULL between rounds */
    struct event timer;             /* the next round */
    uint64_t next_ms;               /* set by a round: when the next */
    bool down;                      /* etcd unreachable, said */
    bool over;                      /* more servers than slots, said */
    bool published;                 /* once at least */
    struct fpmd_discovered *list;   /* what a publication is made of */
    size_t list_cap;
    struct fpmd_discovered *last;   /* what was published last */
    size_t nlast;
    bool *fresh;
    char *msg;                      /* a watch message being read */
    size_t msg_len, msg_cap;
};

static struct {
    const struct fpmd_conf *conf;
    const struct fpmd_conf_etcd *e;
    size_t endpoint;                /* the one to try first */
    struct fpmd_req *reg;           /* the registration's round */
    struct event reg_timer;
    uint64_t reg_next_ms;
    char lease[24];                 /* its ID, "": none held */
    uint64_t lease_ok_us;           /* when etcd last said it lives */
    bool reg_down;
    struct watch *watches;
    size_t nwatches;
    bool stopping;
    struct fpmd_req *revoke;
} A;

bool
fpmd_etcd_agent_wanted(const struct fpmd_conf *conf)
{
    if (conf->etcd.endpoints == NULL)
        return false;
    if (conf->etcd.prefix != NULL)
        return true;
    for (size_t i = 0; i < conf->nupstreams; i++) {
        if (conf->upstreams[i].discover != NULL)
            return true;
    }
    return false;
}

/* --- calls to etcd ------------------------------------------------------ */

/* A JSON string with s in base64: what the gateway takes for bytes. */
static struct json_object *
b64_string(const char *s, size_t len)
{
    char *text = malloc(FPMD_ETCD_B64_LEN(len));
    struct json_object *o;

    if (text == NULL)
        return NULL;
    fpmd_etcd_b64_encode(s, len, text);
    o = json_object_new_string(text);
    free(text);
    return o;
}

static const char *
json_text(struct json_object *o)
{
    return json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
}

/* The endpoints' URL for path, from the one that answered last. */
static void
endpoint_url(size_t t, const char *path, char *url, size_t len)
{
    snprintf(url, len, "%s%s",
             A.e->endpoints[(A.endpoint + t) % A.e->nendpoints], path);
}

/* body POSTed to path, endpoint after endpoint until one answers: its
 * answer's JSON object (the caller puts it) with *etcd_said true when
 * etcd itself refused (an error status: another endpoint of the cluster
 * would say the same). NULL with why when none answered or the answer
 * is not etcd's. */
static struct json_object *
etcd_post_within(struct fpmd_req *req, const char *path,
                 struct json_object *body, uint64_t timeout_ms,
                 bool *etcd_said, char *why, size_t len)
{
    const char *text = json_text(body);
    struct fpmd_http_header h = {"Content-Type", "application/json"};

    *etcd_said = false;
    snprintf(why, len, "out of memory");
    for (size_t t = 0; text != NULL && t < A.e->nendpoints; t++) {
        char url[600];
        struct fpmd_http_request r = {
            .url = url, .headers = &h, .nheaders = 1, .body = text,
            .body_len = strlen(text), .timeout_ms = timeout_ms};
        const struct fpmd_http_response *resp;
        struct json_object *o, *msg;

        endpoint_url(t, path, url, sizeof(url));
        resp = fpmd_http_request(req, &r);
        if (resp == NULL) {
            const struct fpmd_call *c = fpmd_call_failed(req);

            snprintf(why, len, "%s: %s", url, c ? fpmd_call_error(c) : "?");
            if (fpmd_req_aborted(req))
                break;
            continue;
        }
        o = fpmd_json_parse(resp->body, resp->body_len, FPMD_ETCD_JSON_DEPTH);
        if (o == NULL || !json_object_is_type(o, json_type_object)) {
            snprintf(why, len, "%s: HTTP %d, and no JSON object", url,
                     resp->status);
            json_object_put(o);
            continue;
        }
        A.endpoint = (A.endpoint + t) % A.e->nendpoints;
        if (resp->status == 200)
            return o;
        *etcd_said = true;
        snprintf(why, len, "%s: HTTP %d: %s", url, resp->status,
                 json_object_object_get_ex(o, "message", &msg)
                 ? json_object_get_string(msg) : "(no message)");
        json_object_put(o);
        return NULL;
    }
    return NULL;
}

static struct json_object *
etcd_post(struct fpmd_req *req, const char *path, struct json_object *body,
          bool *etcd_said, char *why, size_t len)
{
    return etcd_post_within(req, path, body, A.e->timeout_ms, etcd_said, why,
                            len);
}

/* Whatever gateway error a round met: said once, until etcd answers. */
static void
say_down(bool *down, const char *what, const char *why)
{
    if (*down)
        return;
    *down = true;
    fpmd_log(FPMD_LOG_WARNING, "%s: %s; trying again every %llu ms",
             what, why, (unsigned long long) A.e->retry_ms);
}

/* --- registration -------------------------------------------------------- */

/* A's listener i as "host:port" to be reached at (a wildcard address
 * takes etcd.advertise, or the host name): FPMD_OK, or FPMD_ERROR for a
 * unix socket, which no other host can reach. */
static int
reachable_at(const struct fpmd_conf_listen *l, char *out, size_t len)
{
    const char *a = l->address, *colon;
    char host[256];

    if (a[0] == '/' || (colon = strrchr(a, ':')) == NULL)
        return FPMD_ERROR;
    if (strncmp(a, "*:", 2) == 0 || strncmp(a, "0.0.0.0:", 8) == 0
        || strncmp(a, "[::]:", 5) == 0) {
        if (A.e->advertise != NULL)
            snprintf(host, sizeof(host), "%s", A.e->advertise);
        else if (gethostname(host, sizeof(host)) != 0)
            return FPMD_ERROR;
        host[sizeof(host) - 1] = '\0';
        snprintf(out, len, "%s%s", host, colon);
        return FPMD_OK;
    }
    snprintf(out, len, "%s", a);
    return FPMD_OK;
}

/* What the key of a listener holds: its URL and how to speak to it. */
static struct json_object *
listener_value(const struct fpmd_conf_listen *l, const char *at)
{
    static const char *const scheme[] = {
        [FPMD_PROTO_FASTCGI] = "fcgi", [FPMD_PROTO_HTTP] = "http",
        [FPMD_PROTO_JSONRPC_LINES] = "tcp",
        [FPMD_PROTO_JSONRPC_NETSTRING] = "tcp"};
    static const char *const proto[] = {
        [FPMD_PROTO_FASTCGI] = "fastcgi", [FPMD_PROTO_HTTP] = "http",
        [FPMD_PROTO_JSONRPC_LINES] = "jsonrpc-lines",
        [FPMD_PROTO_JSONRPC_NETSTRING] = "jsonrpc-netstring"};
    struct json_object *v = json_object_new_object();
    char url[320];

    if (v == NULL)
        return NULL;
    snprintf(url, sizeof(url), "%s://%s", scheme[l->proto], at);
    json_object_object_add(v, "url", json_object_new_string(url));
    json_object_object_add(v, "protocol",
                           json_object_new_string(proto[l->proto]));
    json_object_object_add(v, "weight", json_object_new_int((int)
                                                            A.e->weight));
    json_object_object_add(v, "pool",
                           json_object_new_string(A.conf->pool_name));
    json_object_object_add(v, "pid", json_object_new_int((int) getppid()));
    return v;
}

/* Puts listener l's key under the lease. */
static int
put_listener(struct fpmd_req *req, const struct fpmd_conf_listen *l,
             bool *etcd_said, char *why, size_t len)
{
    struct json_object *body, *value, *o;
    char at[300], key[900];
    const char *v;

    if (reachable_at(l, at, sizeof(at)) != FPMD_OK)
        return FPMD_OK;
    snprintf(key, sizeof(key), "%s/%s", A.e->prefix, at);
    value = listener_value(l, at);
    body = json_object_new_object();
    v = value ? json_text(value) : NULL;
    if (body == NULL || v == NULL) {
        json_object_put(value);
        json_object_put(body);
        snprintf(why, len, "out of memory");
        return FPMD_ERROR;
    }
    json_object_object_add(body, "key", b64_string(key, strlen(key)));
    json_object_object_add(body, "value", b64_string(v, strlen(v)));
    json_object_object_add(body, "lease", json_object_new_string(A.lease));
    json_object_put(value);
    o = etcd_post(req, "/v3/kv/put", body, etcd_said, why, len);
    json_object_put(body);
    json_object_put(o);
    return o != NULL ? FPMD_OK : FPMD_ERROR;
}

/* A lease granted and every TCP listener's key put under it: the number
 * of keys, or -1 (why). */
static int
register_all(struct fpmd_req *req, char *why, size_t len)
{
    struct json_object *body = json_object_new_object(), *o, *id;
    bool said;
    int n = 0;

    if (body == NULL)
        return -1;
    json_object_object_add(body, "TTL", json_object_new_int64(
                                            (int64_t) (A.e->ttl_ms / 1000)));
    o = etcd_post(req, "/v3/lease/grant", body, &said, why, len);
    json_object_put(body);
    if (o == NULL)
        return -1;
    if (!json_object_object_get_ex(o, "ID", &id)
        || strlen(json_object_get_string(id)) >= sizeof(A.lease)) {
        snprintf(why, len, "the lease grant's answer has no ID");
        json_object_put(o);
        return -1;
    }
    snprintf(A.lease, sizeof(A.lease), "%s", json_object_get_string(id));
    json_object_put(o);
    A.lease_ok_us = fpmd_mono_ns() / 1000;
    for (size_t i = 0; i < A.conf->nlisten; i++) {
        const struct fpmd_conf_listen *l = &A.conf->listen[i];

        if (put_listener(req, l, &said, why, len) != FPMD_OK) {
            /* a lease half used would keep the keys put so far: the
             * next round starts again from a new one */
            A.lease[0] = '\0';
            return -1;
        }
        n += l->address[0] != '/';
    }
    return n;
}

/* 1: the lease lives on; 0: etcd no longer has it; -1: no answer. */
static int
keep_alive(struct fpmd_req *req, char *why, size_t len)
{
    struct json_object *body = json_object_new_object(), *o, *r, *ttl;
    int64_t left = 0;
    bool said;

    if (body == NULL)
        return -1;
    json_object_object_add(body, "ID", json_object_new_string(A.lease));
    o = etcd_post(req, "/v3/lease/keepalive", body, &said, why, len);
    json_object_put(body);
    if (o == NULL)
        return said ? 0 : -1;
    /* the gateway leaves TTL out when it is 0: the lease is gone */
    if (json_object_object_get_ex(o, "result", &r)
        && json_object_object_get_ex(r, "TTL", &ttl))
        left = json_object_get_int64(ttl);
    json_object_put(o);
    return left > 0;
}

static int
reg_round(struct fpmd_req *req)
{
    uint64_t now = fpmd_mono_ns() / 1000;
    char why[700];
    int rc;

    A.reg_next_ms = A.e->retry_ms;
    if (A.lease[0] != '\0') {
        rc = keep_alive(req, why, sizeof(why));
        if (rc > 0) {
            A.lease_ok_us = now;
            A.reg_next_ms = A.e->ttl_ms / 3;
            if (A.reg_down)
                fpmd_log(FPMD_LOG_NOTICE, "etcd answers again; lease %s kept", A.lease);
            A.reg_down = false;
            return FPMD_OK;
        }
        if (fpmd_req_aborted(req))
            return FPMD_OK;
        if (rc == 0 || now - A.lease_ok_us > A.e->ttl_ms * 1000) {
            fpmd_log(FPMD_LOG_NOTICE, "lease %s %s: registering again", A.lease, rc == 0 ? "is gone" : "has expired");
            A.lease[0] = '\0';
            A.reg_next_ms = 0;
        } else {
            say_down(&A.reg_down, "the lease's keep-alive failed", why);
        }
        return FPMD_OK;
    }
    rc = register_all(req, why, sizeof(why));
    if (rc < 0) {
        if (!fpmd_req_aborted(req))
            say_down(&A.reg_down, "cannot register the listeners", why);
        return FPMD_OK;
    }
    A.reg_down = false;
    A.reg_next_ms = A.e->ttl_ms / 3;
    fpmd_log(FPMD_LOG_NOTICE, "%d listeners registered under %s/ (lease %s, "
             "ttl %llu s)", rc, A.e->prefix, A.lease,
             (unsigned long long) (A.e->ttl_ms / 1000));
    return FPMD_OK;
}

static int
revoke_round(struct fpmd_req *req)
{
    struct json_object *body = json_object_new_object(), *o;
    char why[700];
    bool said;

    if (body == NULL)
        return FPMD_OK;
    json_object_object_add(body, "ID", json_object_new_string(A.lease));
    /* the stop waits on it: a short bound, whatever etcd.timeout says */
    o = etcd_post_within(req, "/v3/lease/revoke", body, REVOKE_TIMEOUT_MS,
                         &said, why, sizeof(why));
    json_object_put(body);
    if (o != NULL)
        fpmd_log(FPMD_LOG_NOTICE, "lease %s revoked: the listeners' keys are "
                 "gone", A.lease);
    else
        fpmd_log(FPMD_LOG_WARNING, "cannot revoke lease %s (%s): the keys go "
                 "when it expires", A.lease, why);
    json_object_put(o);
    A.lease[0] = '\0';
    return FPMD_OK;
}

/* --- discovery ------------------------------------------------------------ */

/* The set's servers made the upstream's list, when they changed. */
static void
publish(struct watch *w)
{
    const struct fpmd_conf_upstream *u = &A.conf->upstreams[w->upstream];
    size_t n = fpmd_etcd_set_servers(w->set, w->list, w->list_cap), left;

    if (w->published && n == w->nlast
        && memcmp(w->list, w->last, n * sizeof(*w->list)) == 0)
        return;
    w->published = true;
    left = fpmd_discovery_publish(fpmd_process.discovery, w->upstream,
                                  w->list, n, w->fresh);
    for (size_t k = 0; k < u->max_servers; k++) {
        if (w->fresh[k] && fpmd_process.breakers != NULL)
            fpmd_breaker_reset(fpmd_breaker_set_at(fpmd_process.breakers,
                                                   w->first + k));
    }
    memcpy(w->last, w->list, n * sizeof(*w->list));
    w->nlast = n;
    fpmd_log(FPMD_LOG_NOTICE, "upstream %s: %zu servers under %s/",
             u->name, n - left, u->discover);
    if (left > 0 && !w->over)
        fpmd_log(FPMD_LOG_WARNING, "upstream %s: %zu servers left out "
                 "(max_servers %u)", u->name, left, u->max_servers);
    w->over = left > 0;
}

static struct json_object *
range_body(const struct watch *w, bool watch)
{
    const char *prefix = A.conf->upstreams[w->upstream].discover;
    size_t len = strlen(prefix) + 1;
    char *key = malloc(len + 1), *end = malloc(len + 1);
    struct json_object *r = json_object_new_object(), *outer = NULL;

    if (key != NULL && end != NULL && r != NULL) {
        snprintf(key, len + 1, "%s/", prefix);
        fpmd_etcd_range_end(key, len, end);
        json_object_object_add(r, "key", b64_string(key, len));
        json_object_object_add(r, "range_end", b64_string(end, len));
        if (watch) {
            json_object_object_add(r, "start_revision",
                                   json_object_new_int64(w->revision + 1));
            outer = json_object_new_object();
            if (outer != NULL)
                json_object_object_add(outer, "create_request", r);
            else
                json_object_put(r);
            r = outer;
        }
    } else {
        json_object_put(r);
        r = NULL;
    }
    free(key);
    free(end);
    return r;
}

static int
read_range(struct fpmd_req *req, struct watch *w, char *why, size_t len)
{
    struct json_object *body = range_body(w, false), *o;
    const char *text;
    bool said;
    int rc;

    if (body == NULL)
        return FPMD_ERROR;
    o = etcd_post(req, "/v3/kv/range", body, &said, why, len);
    json_object_put(body);
    if (o == NULL)
        return FPMD_ERROR;
    text = json_text(o);
    rc = text != NULL ? fpmd_etcd_set_load(w->set, text, strlen(text),
                                           &w->revision, why, len)
                      : FPMD_ERROR;
    json_object_put(o);
    return rc;
}

/* The complete lines of w->msg applied: FPMD_OK, or FPMD_AGAIN and
 * FPMD_ERROR as fpmd_etcd_set_apply says them. *messages counts them. */
static int
apply_lines(struct watch *w, unsigned *messages, char *why, size_t len)
{
    size_t start = 0;
    char *nl;
    int rc = FPMD_OK;

    while (rc == FPMD_OK && (nl = memchr(w->msg + start, '\n',
                                         w->msg_len - start)) != NULL) {
        size_t n = (size_t) (nl - (w->msg + start));

        if (n > 0) {
            rc = fpmd_etcd_set_apply(w->set, w->msg + start, n, &w->revision,
                                     why, len);
            ++*messages;
        }
        start += n + 1;
    }
    memmove(w->msg, w->msg + start, w->msg_len - start);
    w->msg_len -= start;
    if (rc == FPMD_OK)
        publish(w);
    return rc;
}

/* Follows the keys from w->revision on, until etcd ends the watch, a
 * message asks for the range again, or WATCH_MESSAGES came. FPMD_OK:
 * ended by count; FPMD_ERROR: the range is read again (why). */
static int
follow(struct fpmd_req *req, struct watch *w, char *why, size_t len)
{
    struct json_object *body = range_body(w, true);
    const char *text = body ? json_text(body) : NULL;
    struct fpmd_http_header h = {"Content-Type", "application/json"};
    const struct fpmd_http_response *resp;
    struct fpmd_http_stream *s;
    unsigned messages = 0;
    char url[600];
    int rc = FPMD_ERROR;

    snprintf(why, len, "out of memory");
    if (text == NULL) {
        json_object_put(body);
        return FPMD_ERROR;
    }
    endpoint_url(0, "/v3/watch", url, sizeof(url));
    s = fpmd_http_stream_open(req, &(struct fpmd_http_request) {
        .url = url, .headers = &h, .nheaders = 1, .body = text,
        .body_len = strlen(text), .timeout_ms = FPMD_HTTP_NO_TIMEOUT});
    json_object_put(body);
    if (s == NULL)
        return FPMD_ERROR;
    resp = fpmd_http_stream_response(s);
    if (resp == NULL || resp->status != 200) {
        const struct fpmd_call *c = fpmd_call_failed(req);

        if (resp != NULL)
            snprintf(why, len, "%s: HTTP %d", url, resp->status);
        else
            snprintf(why, len, "%s: %s", url, c ? fpmd_call_error(c) : "?");
        fpmd_http_stream_close(s);
        return FPMD_ERROR;
    }
    w->msg_len = 0;
    while (messages < WATCH_MESSAGES) {
        ssize_t got;

        if (w->msg_len == w->msg_cap) {
            char *grown = w->msg_cap < MESSAGE_MAX
                ? realloc(w->msg, w->msg_cap * 2) : NULL;

            if (grown == NULL) {
                snprintf(why, len, "a watch message over %zu bytes",
                         w->msg_cap);
                break;
            }
            w->msg = grown;
            w->msg_cap *= 2;
        }
        got = fpmd_http_stream_read(s, w->msg + w->msg_len,
                                    w->msg_cap - w->msg_len);
        if (got <= 0) {
            snprintf(why, len, "%s: the watch ended%s", url,
                     got < 0 ? " with an error" : "");
            break;
        }
        w->msg_len += (size_t) got;
        rc = apply_lines(w, &messages, why, len);
        if (rc != FPMD_OK)
            break;
        if (w->down)
            fpmd_log(FPMD_LOG_NOTICE, "etcd answers again; upstream %s "
                     "followed", A.conf->upstreams[w->upstream].name);
        w->down = false;
    }
    fpmd_http_stream_close(s);
    return messages >= WATCH_MESSAGES && rc == FPMD_OK ? FPMD_OK
                                                       : FPMD_ERROR;
}

static struct watch *
watch_of(struct fpmd_req *req)
{
    const char *i = fpmd_req_param(req, "FPMD_ETCD_WATCH");

    return &A.watches[strtoul(i, NULL, 10)];
}

static int
watch_round(struct fpmd_req *req)
{
    struct watch *w = watch_of(req);
    const char *name = A.conf->upstreams[w->upstream].name;
    char why[700], what[128];

    w->next_ms = A.e->retry_ms;
    snprintf(what, sizeof(what), "upstream %s keeps its last list", name);
    if (w->revision == 0) {
        if (read_range(req, w, why, sizeof(why)) != FPMD_OK) {
            w->revision = 0;
            if (!fpmd_req_aborted(req))
                say_down(&w->down, what, why);
            return FPMD_OK;
        }
        publish(w);
    }
    if (follow(req, w, why, sizeof(why)) == FPMD_OK) {
        w->next_ms = 0;
        return FPMD_OK;
    }
    /* whatever ended it, what changed meanwhile is read whole */
    w->revision = 0;
    if (!fpmd_req_aborted(req))
        say_down(&w->down, what, why);
    return FPMD_OK;
}

/* --- rounds, the loop, the stop -------------------------------------------- */

static void finish(void);

/* A round's request, started with param FPMD_ETCD_WATCH (index) when
 * it is a watch's; *slot holds it until it ends. */
static void
round_start(struct fpmd_req **slot, fpmd_handler_fn fn, const char *watch,
            void (*on_end)(void *), void *arg)
{
    struct fpmd_req *req = fpmd_req_new_run("ETCD", (const char *const[]) {
        watch ? "FPMD_ETCD_WATCH" : NULL, watch, NULL});

    if (req == NULL || fpmd_defer(req, on_end, arg) != FPMD_OK) {
        fpmd_log(FPMD_LOG_ALERT, "out of memory: the agent stops");
        if (req != NULL)
            fpmd_req_free(req);
        event_base_loopbreak(fpmd_process.base);
        return;
    }
    *slot = req;
    fpmd_sched_start_run(req, fn);
}

static void
timer_in(struct event *ev, uint64_t ms)
{
    struct timeval tv = {(time_t) (ms / 1000), (suseconds_t) (ms % 1000)
                                               * 1000};

    if (!A.stopping)
        evtimer_add(ev, &tv);
}

static void
reg_end(void *arg)
{
    (void) arg;
    A.reg = NULL;
    if (A.stopping)
        finish();
    else
        timer_in(&A.reg_timer, A.reg_next_ms);
}

static void
reg_go(evutil_socket_t fd, short what, void *arg)
{
    (void) fd;
    (void) what;
    (void) arg;
    round_start(&A.reg, reg_round, NULL, reg_end, NULL);
}

static void
watch_end(void *arg)
{
    struct watch *w = arg;

    w->req = NULL;
    if (A.stopping)
        finish();
    else
        timer_in(&w->timer, w->next_ms);
}

static void
watch_go(evutil_socket_t fd, short what, void *arg)
{
    struct watch *w = arg;
    char index[24];

    (void) fd;
    (void) what;
    snprintf(index, sizeof(index), "%zu", (size_t) (w - A.watches));
    round_start(&w->req, watch_round, index, watch_end, w);
}

static void
revoke_end(void *arg)
{
    (void) arg;
    A.revoke = NULL;
    event_base_loopbreak(fpmd_process.base);
}

/* Once no round runs any more: the lease revoked, then the end. */
static void
finish(void)
{
    if (A.reg != NULL || A.revoke != NULL)
        return;
    for (size_t i = 0; i < A.nwatches; i++) {
        if (A.watches[i].req != NULL)
            return;
    }
    if (A.lease[0] == '\0') {
        event_base_loopbreak(fpmd_process.base);
        return;
    }
    round_start(&A.revoke, revoke_round, NULL, revoke_end, NULL);
}

static void
on_stop(const struct signalfd_siginfo *si)
{
    if (A.stopping)
        return;
    fpmd_log(FPMD_LOG_DEBUG, "stopping (signal %u)", si->ssi_signo);
    A.stopping = true;
    evtimer_del(&A.reg_timer);
    if (A.reg != NULL)
        fpmd_req_abort(A.reg);
    for (size_t i = 0; i < A.nwatches; i++) {
        evtimer_del(&A.watches[i].timer);
        if (A.watches[i].req != NULL)
            fpmd_req_abort(A.watches[i].req);
    }
    finish();
}

static int
watches_make(void)
{
    size_t first = 0;

    A.watches = calloc(A.conf->nupstreams ? A.conf->nupstreams : 1,
                       sizeof(*A.watches));
    if (A.watches == NULL)
        return FPMD_ERROR;
    for (size_t i = 0; i < A.conf->nupstreams; i++) {
        const struct fpmd_conf_upstream *u = &A.conf->upstreams[i];
        struct watch *w = &A.watches[A.nwatches];
        size_t keys = u->max_servers * KEYS_PER_SLOT;

        if (u->discover == NULL) {
            first += fpmd_conf_upstream_slots(u);
            continue;
        }
        if (keys < KEYS_MIN)
            keys = KEYS_MIN;
        w->upstream = i;
        w->first = first;
        first += u->max_servers;
        w->list_cap = keys;
        w->set = fpmd_etcd_set_new(keys);
        w->list = calloc(keys, sizeof(*w->list));
        w->last = calloc(keys, sizeof(*w->last));
        w->fresh = calloc(u->max_servers, sizeof(*w->fresh));
        w->msg_cap = MESSAGE_MIN;
        w->msg = malloc(w->msg_cap);
        A.nwatches++;
        if (w->set == NULL || w->list == NULL || w->last == NULL
            || w->fresh == NULL || w->msg == NULL)
            return FPMD_ERROR;
        evtimer_assign(&w->timer, fpmd_process.base, watch_go, w);
    }
    return FPMD_OK;
}

static void
watches_free(void)
{
    for (size_t i = 0; i < A.nwatches; i++) {
        struct watch *w = &A.watches[i];

        fpmd_etcd_set_free(w->set);
        free(w->list);
        free(w->last);
        free(w->fresh);
        free(w->msg);
    }
    free(A.watches);
    A.watches = NULL;
    A.nwatches = 0;
}

static int
start(void)
{
    if (fpmd_process.discovery == NULL && A.conf->etcd.prefix == NULL)
        return FPMD_ERROR;
    if (watches_make() != FPMD_OK) {
        fpmd_log(FPMD_LOG_ALERT, "out of memory");
        return FPMD_ERROR;
    }
    if (A.nwatches > 0 && fpmd_process.discovery == NULL) {
        fpmd_log(FPMD_LOG_ALERT, "the discovered servers' lists are not "
                 "mapped");
        return FPMD_ERROR;
    }
    evtimer_assign(&A.reg_timer, fpmd_process.base, reg_go, NULL);
    if (A.e->prefix != NULL)
        reg_go(-1, 0, NULL);
    for (size_t i = 0; i < A.nwatches; i++)
        watch_go(-1, 0, &A.watches[i]);
    return FPMD_OK;
}

int
fpmd_etcd_agent_main(const struct fpmd_conf *conf)
{
    char prefix[64];
    int rc;

    A.conf = conf;
    A.e = &conf->etcd;
    snprintf(prefix, sizeof(prefix), "etcd agent %d: ", (int) getpid());
    fpmd_log_set_prefix(prefix);
    rc = fpmd_worker_run_alone(conf, on_stop, start);
    watches_free();
    return rc == FPMD_OK ? 0 : 1;
}
