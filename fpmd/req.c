/* SPDX-License-Identifier: BSD-2-Clause */
/* The handler API over struct fpmd_req: accessors, body reads, response
 * writes, sleeping, arena and defers. Everything that parks a handler goes
 * through one wait state and the request's wake event, so a codec or timer
 * never resumes a coroutine from inside another one. */
#include "config.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>

#include "fpmd/freelist.h"
#include "fpmd/cgi_path.h"
#include "fpmd/clock.h"
#include "fpmd/log.h"
#include "fpmd/req.h"
#include "fpmd/router.h"
#include "fpmd/uri.h"
#include "fpmd/process.h"

/* Body bytes buffered ahead of the handler before the codec stops reading:
 * bounds memory per upload while keeping the pipe full. */
#define BODY_WINDOW (256 * 1024)
#define REQ_CACHE_MAX 1024

struct fpmd_defer {
    struct fpmd_defer *next;
    void (*fn)(void *);
    void *arg;
};

static struct fpmd_freelist spare_reqs = FPMD_FREELIST_INIT(REQ_CACHE_MAX);

static void on_wake(evutil_socket_t fd, short what, void *arg);

/* Whoever runs handlers (the request engine) continues a parked one. */
static void (*resume)(struct fpmd_req *req);

void
fpmd_req_on_wake(void (*fn)(struct fpmd_req *req))
{
    resume = fn;
}

size_t
fpmd_req_cached(void)
{
    return spare_reqs.n;
}

size_t
fpmd_req_trim(size_t keep)
{
    return fpmd_freelist_trim(&spare_reqs, keep, free);
}

struct fpmd_req *
fpmd_req_new(const struct fpmd_req_ops *ops, void *conn, uint16_t id)
{
    struct fpmd_req *req = fpmd_freelist_get(&spare_reqs);

    if (req == NULL) {
        req = malloc(sizeof(*req));
        if (req == NULL)
            return NULL;
    }
    memset(req, 0, sizeof(*req));
    req->ops = ops;
    req->conn = conn;
    req->id = id;
    req->status = 200;
    req->content_length = -1;
    req->headers_tail = &req->headers;
    req->method = req->path = req->uri = "";
    req->query = req->remote_addr = "";
    fpmd_arena_init(&req->arena, fpmd_process.conf != NULL
                                     ? fpmd_req_memory_cap(fpmd_process.conf)
                                     : 0);
    event_assign(&req->wake_ev, fpmd_process.base, -1, 0, on_wake, req);
    req->params_raw = evbuffer_new();
    if (req->params_raw == NULL) {
        fpmd_req_free(req);
        return NULL;
    }
    return req;
}

void
fpmd_req_free(struct fpmd_req *req)
{
    struct fpmd_defer *d;

    if (req->co != NULL) {
        fpmd_coro_free(req->co);
        req->co = NULL;
    }
    if (req->wake_armed || req->wait != FPMD_WAIT_NONE)
        event_del(&req->wake_ev);
    if (req->term_armed)
        event_del(&req->term_ev);
    if (req->slow_armed)
        event_del(&req->slow_ev);
    /* Defers run latest first, like a stack unwinding. */
    while ((d = req->defers) != NULL) {
        req->defers = d->next;
        d->fn(d->arg);
    }
    if (req->params_raw != NULL)
        evbuffer_free(req->params_raw);
    if (req->body != NULL)
        evbuffer_free(req->body);
    fpmd_arena_reset(&req->arena);
    if (!fpmd_freelist_put(&spare_reqs, req))
        free(req);
}

/* --- params ----------------------------------------------------------- */

int
fpmd_req_add_param(struct fpmd_req *req, const void *name, size_t nlen,
                   const void *value, size_t vlen)
{
    char *n, *v;

    /* Doubling: the arena keeps every outgrown array until the request
     * ends, so growing by a fixed step would hold (and copy) a square of
     * the params a hostile FastCGI client can pack into limits.params. */
    if (req->nparams == req->params_cap) {
        size_t cap = req->params_cap ? req->params_cap * 2 : 32;
        struct fpmd_param *grown = fpmd_alloc(req, cap * sizeof(*grown));

        if (grown == NULL)
            return FPMD_ERROR;
        if (req->nparams > 0)
            memcpy(grown, req->params, req->nparams * sizeof(*grown));
        req->params = grown;
        req->params_cap = cap;
    }
    n = fpmd_strndup(req, name, nlen);
    v = fpmd_strndup(req, value, vlen);
    if (n == NULL || v == NULL)
        return FPMD_ERROR;
    req->params[req->nparams].name = n;
    req->params[req->nparams].value = v;
    req->nparams++;
    return FPMD_OK;
}

void
fpmd_req_derive(struct fpmd_req *req)
{
    const char *script = NULL, *doc_uri = NULL, *query = NULL, *cl = NULL;
    const char *q;

    /* One pass; for a repeated param the last one wins, as in
     * fpmd_req_param(). */
    for (size_t i = 0; i < req->nparams; i++) {
        const char *n = req->params[i].name, *v = req->params[i].value;

        switch (n[0]) {
        case 'R':
            if (strcmp(n, "REQUEST_METHOD") == 0 && v[0] != '\0')
                req->method = v;
            else if (strcmp(n, "REQUEST_URI") == 0 && v[0] != '\0')
                req->uri = v;
            else if (strcmp(n, "REMOTE_ADDR") == 0 && v[0] != '\0')
                req->remote_addr = v;
            break;
        case 'Q':
            if (strcmp(n, "QUERY_STRING") == 0)
                query = v;
            break;
        case 'S':
            if (strcmp(n, "SCRIPT_NAME") == 0)
                script = v;
            break;
        case 'D':
            if (strcmp(n, "DOCUMENT_URI") == 0)
                doc_uri = v;
            break;
        case 'C':
            if (strcmp(n, "CONTENT_LENGTH") == 0)
                cl = v;
            break;
        default:
            break;
        }
    }
    if (query != NULL)
        req->query = query;
    else if ((q = strchr(req->uri, '?')) != NULL)
        req->query = q + 1;
    /* Routing path, first present: SCRIPT_NAME (what php-fpm runs, so legacy
     * script routes match), DOCUMENT_URI (nginx's normalized path), then
     * REQUEST_URI without its query. */
    if (script != NULL && script[0] != '\0')
        req->path = script;
    else if (doc_uri != NULL && doc_uri[0] != '\0')
        req->path = doc_uri;
    else if (req->uri[0] != '\0') {
        q = strchr(req->uri, '?');
        req->path = q ? fpmd_strndup(req, req->uri, (size_t) (q - req->uri))
                      : req->uri;
        if (req->path == NULL)
            req->path = "";
    }
    if (cl != NULL && cl[0] != '\0') {
        char *end;
        long long n = strtoll(cl, &end, 10);

        if (*end == '\0' && n >= 0)
            req->content_length = n;
    }
    req->is_head = strcmp(req->method, "HEAD") == 0;
}

static int
discard(struct fpmd_req *req, const void *data, size_t len)
{
    (void) req;
    (void) data;
    (void) len;
    return FPMD_OK;
}

static void
background_finish(struct fpmd_req *req)
{
    (void) req;
}

static bool
background_congested(struct fpmd_req *req)
{
    (void) req;
    return false;
}

static const struct fpmd_req_ops background_ops = {
    discard, discard, background_finish, fpmd_req_free,
    background_congested, NULL, NULL, NULL,
};

struct fpmd_req *
fpmd_req_new_background(void)
{
    struct fpmd_req *req = fpmd_req_new(&background_ops, NULL, 0);

    if (req != NULL)
        req->background = 1;
    return req;
}

static int
add_str_param(struct fpmd_req *req, const char *name, const char *value)
{
    return fpmd_req_add_param(req, name, strlen(name), value, strlen(value));
}

struct fpmd_req *
fpmd_req_new_run(const char *method, const char *const *params)
{
    struct fpmd_req *req = fpmd_req_new_background();

    if (req == NULL)
        return NULL;
    if (add_str_param(req, "REQUEST_METHOD", method) != FPMD_OK)
        goto fail;
    for (size_t i = 0; params[i] != NULL; i += 2) {
        if (add_str_param(req, params[i], params[i + 1]) != FPMD_OK)
            goto fail;
    }
    fpmd_req_derive(req);
    fpmd_req_body_end(req);
    return req;
fail:
    fpmd_req_free(req);
    return NULL;
}

const char *
fpmd_req_resp_header(const struct fpmd_req *req, const char *name)
{
    for (const struct fpmd_resp_header *h = req->headers; h != NULL;
         h = h->next) {
        if (strcasecmp(h->name, name) == 0)
            return h->value;
    }
    return NULL;
}

int
fpmd_req_split(struct fpmd_req *req)
{
    struct fpmd_cgi_vars in = {
        fpmd_req_param(req, "SCRIPT_NAME"), fpmd_req_param(req, "PATH_INFO"),
        fpmd_req_param(req, "SCRIPT_FILENAME"),
        fpmd_req_param(req, "DOCUMENT_ROOT"), req->path,
    };
    struct fpmd_cgi_split out;

    if (req->script != NULL)
        return FPMD_OK;
    fpmd_cgi_split(&in, &out);
    req->script = out.script[out.script_len] == '\0'
        ? out.script : fpmd_strndup(req, out.script, out.script_len);
    if (out.path_info != NULL)
        req->path_info = out.path_info[out.path_info_len] == '\0'
            ? out.path_info
            : fpmd_strndup(req, out.path_info, out.path_info_len);
    if (req->script == NULL || (out.path_info && req->path_info == NULL)) {
        req->script = NULL;
        return FPMD_ERROR;
    }
    return FPMD_OK;
}

const char *
fpmd_req_script(struct fpmd_req *req)
{
    return fpmd_req_split(req) == FPMD_OK ? req->script : req->path;
}

const char *
fpmd_req_path_info(struct fpmd_req *req)
{
    return fpmd_req_split(req) == FPMD_OK ? req->path_info : NULL;
}

const char *
fpmd_req_method(const struct fpmd_req *req)
{
    return req->method;
}

const char *
fpmd_req_path(const struct fpmd_req *req)
{
    return req->path;
}

const char *
fpmd_req_uri(const struct fpmd_req *req)
{
    return req->uri;
}

const char *
fpmd_req_query(const struct fpmd_req *req)
{
    return req->query;
}

const char *
fpmd_req_param(const struct fpmd_req *req, const char *name)
{
    /* Last wins: a param repeated by a web server config override (nginx
     * "fastcgi_param X" after an include) means the later one. */
    for (size_t i = req->nparams; i > 0; i--) {
        if (strcmp(req->params[i - 1].name, name) == 0)
            return req->params[i - 1].value;
    }
    return NULL;
}

size_t
fpmd_req_nparams(const struct fpmd_req *req)
{
    return req->nparams;
}

int
fpmd_req_param_at(const struct fpmd_req *req, size_t i, const char **name,
                  const char **value)
{
    if (i >= req->nparams)
        return FPMD_ERROR;
    *name = req->params[i].name;
    *value = req->params[i].value;
    return FPMD_OK;
}

const char *
fpmd_req_header(struct fpmd_req *req, const char *name)
{
    size_t pos = 0;

    return fpmd_req_header_next(req, name, &pos);
}

int64_t
fpmd_req_content_length(const struct fpmd_req *req)
{
    return req->content_length;
}

/* Decodes %XX and '+' in place; a malformed escape stays as it is. */
static void
url_decode(char *s)
{
    size_t n = strlen(s), i = 0, o = 0;

    while (i < n)
        s[o++] = (char) fpmd_form_char(s, n, &i);
    s[o] = '\0';
}

int
fpmd_req_parse_pairs(struct fpmd_req *req, const char *s, size_t len,
                     size_t max, struct fpmd_param **out, size_t *n)
{
    const char *p = s, *end = s + len;
    size_t cap = 1;

    for (const char *c = s; c < end; c++)
        cap += *c == '&';
    if (cap > max)
        cap = max;
    *n = 0;
    *out = fpmd_alloc(req, (cap ? cap : 1) * sizeof(**out));
    if (*out == NULL)
        return FPMD_ERROR;
    while (p < end) {
        const char *amp = memchr(p, '&', (size_t) (end - p));
        size_t flen = amp ? (size_t) (amp - p) : (size_t) (end - p);
        const char *eq = memchr(p, '=', flen);
        char *name, *value;

        if (flen > 0) {
            if (*n == cap)
                return FPMD_AGAIN;
            name = fpmd_strndup(req, p, eq ? (size_t) (eq - p) : flen);
            value = eq ? fpmd_strndup(req, eq + 1,
                                      flen - (size_t) (eq - p) - 1)
                       : fpmd_strdup(req, "");
            if (name == NULL || value == NULL)
                return FPMD_ERROR;
            url_decode(name);
            url_decode(value);
            (*out)[*n].name = name;
            (*out)[*n].value = value;
            (*n)++;
        }
        p += flen + (amp != NULL);
    }
    return FPMD_OK;
}

static void
parse_query(struct fpmd_req *req)
{
    req->query_parsed = true;
    /* A query has no field limit of its own: limits.uri bounds it. */
    if (fpmd_req_parse_pairs(req, req->query, strlen(req->query), SIZE_MAX,
                             &req->query_args, &req->nquery_args) != FPMD_OK)
        req->nquery_args = 0;
}

const char *
fpmd_req_query_arg(struct fpmd_req *req, const char *name)
{
    if (!req->query_parsed)
        parse_query(req);
    for (size_t i = 0; i < req->nquery_args; i++) {
        if (strcmp(req->query_args[i].name, name) == 0)
            return req->query_args[i].value;
    }
    return NULL;
}

size_t
fpmd_req_nquery_args(struct fpmd_req *req)
{
    if (!req->query_parsed)
        parse_query(req);
    return req->nquery_args;
}

int
fpmd_req_query_arg_at(struct fpmd_req *req, size_t i, const char **name,
                      const char **value)
{
    if (i >= fpmd_req_nquery_args(req))
        return FPMD_ERROR;
    *name = req->query_args[i].name;
    *value = req->query_args[i].value;
    return FPMD_OK;
}

const char *
fpmd_req_route_param(struct fpmd_req *req, const char *name)
{
    const struct fpmd_route_match *m = &req->match;

    for (unsigned i = 0; i < m->nparams; i++) {
        const struct fpmd_route_param *p = &m->params[i];

        if (strcmp(p->name, name) != 0)
            continue;
        switch (p->src) {
        case FPMD_PARAM_QUERY:
        {
            char *v = fpmd_strndup(req, req->query + p->off, p->len);

            if (v != NULL)
                url_decode(v);
            return v;
        }
        case FPMD_PARAM_PATH_INFO:
            return fpmd_strndup(req, req->path_info + p->off, p->len);
        default:
            return fpmd_strndup(req, req->path + p->off, p->len);
        }
    }
    return NULL;
}

const char *
fpmd_req_handler(const struct fpmd_req *req)
{
    return req->route_status == 200 && req->match.route != NULL
        ? fpmd_route_handler_name(req->match.route) : NULL;
}

uint64_t
fpmd_req_start_us(const struct fpmd_req *req)
{
    return req->start_us;
}

int
fpmd_req_set(struct fpmd_req *req, const char *key, void *value)
{
    struct fpmd_kv *kv;

    for (kv = req->kv; kv != NULL; kv = kv->next) {
        if (strcmp(kv->key, key) == 0) {
            kv->value = value;
            return FPMD_OK;
        }
    }
    kv = fpmd_alloc(req, sizeof(*kv));
    if (kv == NULL || (kv->key = fpmd_strdup(req, key)) == NULL)
        return FPMD_ERROR;
    kv->value = value;
    kv->next = req->kv;
    req->kv = kv;
    return FPMD_OK;
}

void *
fpmd_req_get(const struct fpmd_req *req, const char *key)
{
    for (const struct fpmd_kv *kv = req->kv; kv != NULL; kv = kv->next) {
        if (strcmp(kv->key, key) == 0)
            return kv->value;
    }
    return NULL;
}

const char *
fpmd_req_remote_addr(const struct fpmd_req *req)
{
    return req->remote_addr;
}

/* The CGI name of a header: HTTP_ + upper case, '-' to '_'; Content-Type
 * and Content-Length have their own meta-variables (RFC 3875 §4.1). */
static int
cgi_header_name(const char *name, char *key, size_t keylen)
{
    size_t n = 5;

    if (strcasecmp(name, "Content-Type") == 0) {
        snprintf(key, keylen, "CONTENT_TYPE");
        return FPMD_OK;
    }
    if (strcasecmp(name, "Content-Length") == 0) {
        snprintf(key, keylen, "CONTENT_LENGTH");
        return FPMD_OK;
    }
    memcpy(key, "HTTP_", 5);
    for (const char *p = name; *p != '\0'; p++) {
        if (n + 1 >= keylen)
            return FPMD_ERROR;
        key[n++] = *p == '-' ? '_' : (char) toupper((unsigned char) *p);
    }
    key[n] = '\0';
    return FPMD_OK;
}

const char *
fpmd_req_header_next(const struct fpmd_req *req, const char *name,
                     size_t *pos)
{
    char key[256];

    if (cgi_header_name(name, key, sizeof(key)) != FPMD_OK)
        return NULL;
    for (; *pos < req->nparams; (*pos)++) {
        if (strcmp(req->params[*pos].name, key) == 0)
            return req->params[(*pos)++].value;
    }
    return NULL;
}

const char *
fpmd_req_cookie(struct fpmd_req *req, const char *name)
{
    size_t nlen = strlen(name), pos = 0;
    const char *h;

    while ((h = fpmd_req_header_next(req, "Cookie", &pos)) != NULL) {
        const char *p = h;

        while (*p != '\0') {
            const char *end = strchr(p, ';');
            size_t len = end ? (size_t) (end - p) : strlen(p);
            const char *eq;

            while (len > 0 && (*p == ' ' || *p == '\t')) {
                p++;
                len--;
            }
            eq = memchr(p, '=', len);
            if (eq != NULL && (size_t) (eq - p) == nlen
                && memcmp(p, name, nlen) == 0) {
                const char *v = eq + 1;
                size_t vlen = len - nlen - 1;

                while (vlen > 0 && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t'))
                    vlen--;
                if (vlen >= 2 && v[0] == '"' && v[vlen - 1] == '"') {
                    v++;
                    vlen -= 2;
                }
                return fpmd_strndup(req, v, vlen);
            }
            p += len;
            if (*p == ';')
                p++;
        }
    }
    return NULL;
}

bool
fpmd_req_aborted(const struct fpmd_req *req)
{
    return req->aborted;
}

/* --- waiting ---------------------------------------------------------- */

/* Parks the running handler until something calls wake(). */
static void
wait_for(struct fpmd_req *req, enum fpmd_req_wait what)
{
    FPMD_ASSERT(fpmd_coro_current() == req->co && req->co != NULL);
    req->wait = what;
    fpmd_coro_yield();
    req->wait = FPMD_WAIT_NONE;
}

/* Schedules the parked handler to continue on the next loop pass; never
 * resumes it directly, so the caller's stack frames stay valid. */
static void
wake(struct fpmd_req *req)
{
    if (req->wait == FPMD_WAIT_NONE || req->co == NULL)
        return;
    if (req->wake_armed) {
        event_del(&req->wake_ev);
        req->wake_armed = false;
    }
    event_active(&req->wake_ev, EV_TIMEOUT, 0);
    req->wake_armed = true;
}

static void
on_wake(evutil_socket_t fd, short what, void *arg)
{
    struct fpmd_req *req = arg;

    req->wake_armed = false;
    if (req->wait == FPMD_WAIT_NONE)
        return;
    resume(req);
}

int
fpmd_sleep(struct fpmd_req *req, uint64_t ms)
{
    struct timeval tv = {(time_t) (ms / 1000), (suseconds_t) (ms % 1000) * 1000};

    if (req->aborted)
        return FPMD_ERROR;
    evtimer_add(&req->wake_ev, &tv);
    req->wake_armed = true;
    wait_for(req, FPMD_WAIT_SLEEP);
    return req->aborted ? FPMD_ERROR : FPMD_OK;
}

int
fpmd_req_suspend(struct fpmd_req *req)
{
    if (req->aborted)
        return FPMD_ERROR;
    wait_for(req, FPMD_WAIT_EXTERNAL);
    return req->aborted ? FPMD_ERROR : FPMD_OK;
}

int
fpmd_req_suspend_on(struct fpmd_req *req, fpmd_req_waiting_fn fn,
                    const void *arg)
{
    int rc;

    if (req->waiting_arg != arg) {
        req->waiting_arg = arg;
        req->waiting_since_ns = fpmd_mono_ns();
    }
    req->waiting_fn = fn;
    rc = fpmd_req_suspend(req);
    req->waiting_fn = NULL;
    return rc;
}

void
fpmd_req_wake(struct fpmd_req *req)
{
    if (req->wait == FPMD_WAIT_EXTERNAL)
        wake(req);
}

void
fpmd_req_abort(struct fpmd_req *req)
{
    req->aborted = 1;
    wake(req);
}

void
fpmd_req_client_gone(struct fpmd_req *req)
{
    req->client_gone = 1;
    fpmd_req_abort(req);
}

void
fpmd_req_drained(struct fpmd_req *req)
{
    if (req->wait == FPMD_WAIT_DRAIN)
        wake(req);
}

/* --- body ------------------------------------------------------------- */

int
fpmd_req_body_feed(struct fpmd_req *req, const void *data, size_t len)
{
    const struct fpmd_conf *conf = fpmd_process.conf;

    req->body_received += len;
    if (req->body_received > conf->limits.body) {
        if (!req->body_too_large)
            fpmd_log(FPMD_LOG_WARNING, "%s %s: body over limits.body (%zu bytes)",
                     req->method, req->uri, conf->limits.body);
        req->body_too_large = 1;
        if (req->body != NULL)
            evbuffer_drain(req->body, evbuffer_get_length(req->body));
        if (req->wait == FPMD_WAIT_BODY)
            wake(req);
        return 0;
    }
    /* Most requests have no body: its buffer exists only once one comes. */
    if (req->body == NULL)
        req->body = evbuffer_new();
    if (req->body == NULL || evbuffer_add(req->body, data, len) != 0) {
        fpmd_req_abort(req);
        return 0;
    }
    if (req->wait == FPMD_WAIT_BODY)
        wake(req);
    return evbuffer_get_length(req->body) >= BODY_WINDOW;
}

void
fpmd_req_body_end(struct fpmd_req *req)
{
    req->body_eof = 1;
    if (req->wait == FPMD_WAIT_BODY)
        wake(req);
}

static void
free_evbuffer(void *b)
{
    evbuffer_free(b);
}

struct evbuffer *
fpmd_req_evbuffer(struct fpmd_req *req)
{
    struct evbuffer *b = evbuffer_new();

    if (b != NULL && fpmd_defer(req, free_evbuffer, b) != FPMD_OK) {
        evbuffer_free(b);
        return NULL;
    }
    return b;
}

int
fpmd_req_capture(struct fpmd_req *req, size_t max)
{
    if (req->capture_out != NULL)
        return FPMD_OK;
    req->capture_in = fpmd_req_evbuffer(req);
    req->capture_out = fpmd_req_evbuffer(req);
    req->capture_max = max;
    if (req->capture_in == NULL || req->capture_out == NULL) {
        req->capture_in = req->capture_out = NULL;
        return FPMD_ERROR;
    }
    return FPMD_OK;
}

static void
capture(struct fpmd_req *req, struct evbuffer *to, const void *data,
        size_t len)
{
    if (to == NULL || req->capture_over || len == 0)
        return;
    if (evbuffer_get_length(to) + len > req->capture_max
        || evbuffer_add(to, data, len) != 0)
        req->capture_over = 1;
}

ssize_t
fpmd_req_body_read(struct fpmd_req *req, void *buf, size_t len)
{
    int n;

    for (;;) {
        if (req->aborted || req->body_too_large)
            return -1;
        if ((req->body != NULL && evbuffer_get_length(req->body) > 0)
            || req->body_eof)
            break;
        wait_for(req, FPMD_WAIT_BODY);
    }
    if (req->body == NULL)
        return 0;
    if (len > INT32_MAX)
        len = INT32_MAX;
    n = evbuffer_remove(req->body, buf, len);
    if (n < 0)
        return -1;
    capture(req, req->capture_in, buf, (size_t) n);
    if (n > 0 && req->ops->body_consumed != NULL
        && evbuffer_get_length(req->body) < BODY_WINDOW / 2)
        req->ops->body_consumed(req);
    return n;
}

/* --- response --------------------------------------------------------- */

static const struct {
    int code;
    const char *reason;
} reasons[] = {
    {100, "Continue"}, {101, "Switching Protocols"}, {200, "OK"},
    {201, "Created"}, {202, "Accepted"}, {204, "No Content"},
    {206, "Partial Content"}, {301, "Moved Permanently"}, {302, "Found"},
    {303, "See Other"}, {304, "Not Modified"}, {307, "Temporary Redirect"},
    {308, "Permanent Redirect"}, {400, "Bad Request"}, {401, "Unauthorized"},
    {403, "Forbidden"}, {404, "Not Found"}, {405, "Method Not Allowed"},
    {408, "Request Timeout"}, {409, "Conflict"}, {410, "Gone"},
    {411, "Length Required"}, {413, "Content Too Large"},
    {414, "URI Too Long"}, {415, "Unsupported Media Type"},
    {416, "Range Not Satisfiable"}, {417, "Expectation Failed"},
    {422, "Unprocessable Content"},
    {429, "Too Many Requests"}, {431, "Request Header Fields Too Large"},
    {500, "Internal Server Error"}, {501, "Not Implemented"},
    {502, "Bad Gateway"}, {503, "Service Unavailable"},
    {504, "Gateway Timeout"}, {505, "HTTP Version Not Supported"},
};

const char *
fpmd_status_reason(int status)
{
    for (size_t i = 0; i < FPMD_ARRAY_LEN(reasons); i++) {
        if (reasons[i].code == status)
            return reasons[i].reason;
    }
    return "Unknown";
}

int
fpmd_resp_status(struct fpmd_req *req, int status)
{
    if (req->head_sent || status < 100 || status > 999)
        return FPMD_ERROR;
    req->status = status;
    return FPMD_OK;
}

int
fpmd_header_valid(const char *name, const char *value)
{
    /* RFC 9110 §5.6.2 tchar. */
    static const char tchar_extra[] = "!#$%&'*+-.^_`|~";

    if (name[0] == '\0')
        return 0;
    for (const char *p = name; *p != '\0'; p++) {
        if (!isalnum((unsigned char) *p) && strchr(tchar_extra, *p) == NULL)
            return 0;
    }
    for (const char *p = value; *p != '\0'; p++) {
        if (*p == '\r' || *p == '\n')
            return 0;
    }
    return 1;
}

int
fpmd_resp_header(struct fpmd_req *req, const char *name, const char *value)
{
    struct fpmd_resp_header *h;

    if (req->head_sent)
        return FPMD_ERROR;
    if (!fpmd_header_valid(name, value)) {
        fpmd_log(FPMD_LOG_ERROR,
                 "%s %s: handler tried to send an invalid header (CR, LF or "
                 "a non-token name); refused",
                 req->method, req->uri);
        return FPMD_ERROR;
    }
    h = fpmd_alloc(req, sizeof(*h));
    if (h == NULL)
        return FPMD_ERROR;
    h->name = fpmd_strdup(req, name);
    h->value = fpmd_strdup(req, value);
    if (h->name == NULL || h->value == NULL)
        return FPMD_ERROR;
    h->next = NULL;
    *req->headers_tail = h;
    req->headers_tail = &h->next;
    return FPMD_OK;
}

bool
fpmd_resp_started(const struct fpmd_req *req)
{
    return req->head_sent;
}

/* "Name: value\r\n" for each header of the list from h, count of them
 * (SIZE_MAX: all), at p when p is not NULL: the bytes it takes. */
static size_t
format_headers(const struct fpmd_resp_header *h, size_t count, char *p)
{
    size_t total = 0;

    for (; h != NULL && count > 0; h = h->next, count--) {
        size_t nl = strlen(h->name), vl = strlen(h->value);

        if (p != NULL) {
            memcpy(p + total, h->name, nl);
            memcpy(p + total + nl, ": ", 2);
            memcpy(p + total + nl + 2, h->value, vl);
            memcpy(p + total + nl + 2 + vl, "\r\n", 2);
        }
        total += nl + vl + 4;
    }
    return total;
}

/* Whether the head needs a Status line. php-fpm sends none for 200, and
 * a web server takes a head without one for a 200 (Caddy 2.6 would show
 * the line to the client as a header), but for one with a Location,
 * which a Status-less head makes a redirect of (RFC 3875 §6.2.3). */
static bool
needs_status(const struct fpmd_req *req)
{
    if (req->status != 200)
        return true;
    for (const struct fpmd_resp_header *h = req->headers; h != NULL;
         h = h->next) {
        if (strcasecmp(h->name, "Location") == 0)
            return true;
    }
    return false;
}

size_t
fpmd_req_format_cgi_head(const struct fpmd_req *req, char *buf, size_t len)
{
    const char *reason = fpmd_status_reason(req->status);
    size_t need, n = 0;
    bool status;

    /* A backend's own head goes as it came, after what was set before
     * it. */
    if (req->cgi_head != NULL) {
        need = format_headers(req->headers, req->cgi_head_after, NULL)
            + req->cgi_head_len;
        if (need > len)
            return need;
        n = format_headers(req->headers, req->cgi_head_after, buf);
        memcpy(buf + n, req->cgi_head, req->cgi_head_len);
        return need;
    }
    status = needs_status(req);
    need = (status ? strlen("Status: 000 \r\n") + strlen(reason) : 0)
        + format_headers(req->headers, SIZE_MAX, NULL) + 2;
    if (need > len)
        return need;
    if (status)
        n = (size_t) sprintf(buf, "Status: %03d %s\r\n", req->status % 1000,
                             reason);
    n += format_headers(req->headers, SIZE_MAX, buf + n);
    memcpy(buf + n, "\r\n", 2);
    return n + 2;
}

int
fpmd_resp_cgi_head(struct fpmd_req *req, const char *head, size_t len,
                   size_t nown)
{
    size_t total = 0;

    for (const struct fpmd_resp_header *h = req->headers; h != NULL;
         h = h->next)
        total++;
    if (req->head_sent || nown > total)
        return FPMD_ERROR;
    req->cgi_head = head;
    req->cgi_head_len = len;
    req->cgi_head_after = total - nown;
    return FPMD_OK;
}

/* Backpressure: a slow reader parks only this handler, never grows the
 * queue past the codec's high-water mark by more than one write. */
static int
wait_drained(struct fpmd_req *req)
{
    while (req->co != NULL && fpmd_coro_current() == req->co
           && req->ops->congested(req) && !req->aborted)
        wait_for(req, FPMD_WAIT_DRAIN);
    return req->aborted ? FPMD_ERROR : FPMD_OK;
}

int
fpmd_resp_stderr(struct fpmd_req *req, const void *data, size_t len)
{
    if (req->ops->write_stderr == NULL)
        return FPMD_DECLINED;
    if (req->aborted || req->finished
        || req->ops->write_stderr(req, data, len) != FPMD_OK)
        return FPMD_ERROR;
    return wait_drained(req);
}

int
fpmd_resp_write(struct fpmd_req *req, const void *data, size_t len)
{
    int rc;

    if (req->aborted || req->finished)
        return FPMD_ERROR;
    if (!req->head_sent) {
        req->head_sent = 1;
        rc = req->ops->write_head(req, data, len);
    } else if (len == 0) {
        return FPMD_OK;
    } else {
        rc = req->ops->write_body(req, data, len);
    }
    if (rc != FPMD_OK)
        return rc;
    capture(req, req->capture_out, data, len);
    req->bytes_sent += len;
    return wait_drained(req);
}

int
fpmd_reply(struct fpmd_req *req, int status, const char *content_type,
           const void *body, size_t len)
{
    if (fpmd_resp_status(req, status) != FPMD_OK)
        return FPMD_ERROR;
    if (content_type != NULL
        && fpmd_resp_header(req, "Content-Type", content_type) != FPMD_OK)
        return FPMD_ERROR;
    /* The codec may frame it with a length instead of chunks. */
    req->whole = !req->head_sent;
    return fpmd_resp_write(req, body, len);
}

int
fpmd_reply_error(struct fpmd_req *req, int status, const char *msg)
{
    char body[512];
    int n;

    n = snprintf(body, sizeof(body), "%d %s%s%s\n", status,
                 fpmd_status_reason(status), msg ? ": " : "", msg ? msg : "");
    if (n < 0)
        return FPMD_ERROR;
    if ((size_t) n >= sizeof(body))
        n = sizeof(body) - 1;
    return fpmd_reply(req, status, "text/plain; charset=utf-8", body,
                      (size_t) n);
}

/* --- memory ----------------------------------------------------------- */

size_t
fpmd_req_memory_cap(const struct fpmd_conf *conf)
{
    const size_t slack = 16 * 1024 * 1024;
    size_t body = conf->limits.body > conf->limits.parsed_body
        ? conf->limits.body : conf->limits.parsed_body;

    if (conf->limits.request_memory != 0)
        return conf->limits.request_memory;
    return body > SIZE_MAX - conf->limits.params - slack
        ? SIZE_MAX : conf->limits.params + body + slack;
}

void
fpmd_req_memory_refused(struct fpmd_req *req)
{
    const struct fpmd_conf *conf = fpmd_process.conf;
    const char *method = req->method, *uri = req->uri;

    if (req->arena.refused == FPMD_ARENA_PROCESS_FULL)
        req->memory_full = 1;
    if (req->memory_refused || req->arena.refused == FPMD_ARENA_OK)
        return;
    req->memory_refused = 1;
    /* Refused while its params or head are read, a request has no
     * method or URI yet. */
    if (*req->method == '\0') {
        method = "-";
        uri = "(head)";
    }
    if (req->arena.refused == FPMD_ARENA_OVER_CAP)
        fpmd_log(FPMD_LOG_WARNING, "%s %s: request memory over "
                 "limits.request_memory (%zu bytes)", method, uri,
                 fpmd_req_memory_cap(conf));
    else if (req->arena.refused == FPMD_ARENA_PROCESS_FULL)
        fpmd_log(FPMD_LOG_WARNING, "%s %s: this worker's requests hold "
                 "limits.requests_memory (%zu bytes, %zu held): refused",
                 method, uri, conf->limits.requests_memory,
                 fpmd_arena_held());
    else
        fpmd_log(FPMD_LOG_WARNING, "%s %s: out of memory", method, uri);
}

int
fpmd_req_refused_status(const struct fpmd_req *req, int over_cap)
{
    switch (req->arena.refused) {
    case FPMD_ARENA_OK:
        return 0;
    case FPMD_ARENA_OVER_CAP:
        return over_cap;
    case FPMD_ARENA_PROCESS_FULL:
        return 503;
    default:
        return 500;
    }
}

void *
fpmd_alloc(struct fpmd_req *req, size_t size)
{
    void *p = fpmd_arena_alloc(&req->arena, size);

    if (p == NULL)
        fpmd_req_memory_refused(req);
    return p;
}

char *
fpmd_strndup(struct fpmd_req *req, const char *s, size_t n)
{
    char *d;

    if (n == SIZE_MAX)
        return NULL;
    d = fpmd_alloc(req, n + 1);
    if (d == NULL)
        return NULL;
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

char *
fpmd_strdup(struct fpmd_req *req, const char *s)
{
    return fpmd_strndup(req, s, strlen(s));
}

int
fpmd_defer(struct fpmd_req *req, void (*fn)(void *), void *arg)
{
    struct fpmd_defer *d = fpmd_alloc(req, sizeof(*d));

    if (d == NULL)
        return FPMD_ERROR;
    d->fn = fn;
    d->arg = arg;
    d->next = req->defers;
    req->defers = d;
    return FPMD_OK;
}

void
fpmd_log_req(struct fpmd_req *req, int level, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    fpmd_log((enum fpmd_log_level) level, "%s %s: %s", req->method, req->uri,
             msg);
}
