/* SPDX-License-Identifier: BSD-2-Clause */
/* Status page rendering. One table of fields drives every format, so the
 * names and their order stay php-fpm's everywhere; each format only knows
 * how to print a name, a value and how to escape request-derived text. */
#include "config.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "handlers/status_render.h"

const char *const fpmd_status_headers[] = {
    "Expires", "Thu, 01 Jan 1970 00:00:00 GMT",
    "Cache-Control", "no-cache, no-store, must-revalidate, max-age=0",
    NULL,
};

static const char *const content_types[] = {
    [FPMD_STATUS_TEXT] = "text/plain",
    [FPMD_STATUS_JSON] = "application/json",
    [FPMD_STATUS_XML] = "text/xml",
    [FPMD_STATUS_HTML] = "text/html",
    [FPMD_STATUS_OPENMETRICS] =
        "application/openmetrics-text; version=1.0.0; charset=utf-8",
};

void
fpmd_status_parse_query(const char *query, enum fpmd_status_format *fmt,
                        int *full)
{
    static const struct {
        const char *word;
        enum fpmd_status_format fmt;
    } words[] = {
        {"json", FPMD_STATUS_JSON}, {"xml", FPMD_STATUS_XML},
        {"html", FPMD_STATUS_HTML}, {"openmetrics", FPMD_STATUS_OPENMETRICS},
    };
    const char *p = query ? query : "";

    *fmt = FPMD_STATUS_TEXT;
    *full = 0;
    while (*p != '\0') {
        const char *end = strchr(p, '&');
        size_t len = end ? (size_t) (end - p) : strlen(p);
        const char *eq = memchr(p, '=', len);
        size_t wlen = eq ? (size_t) (eq - p) : len;

        if (wlen == 4 && strncmp(p, "full", 4) == 0)
            *full = 1;
        for (size_t i = 0; i < FPMD_ARRAY_LEN(words); i++) {
            if (wlen == strlen(words[i].word)
                && strncmp(p, words[i].word, wlen) == 0)
                *fmt = words[i].fmt;
        }
        p += len;
        if (*p == '&')
            p++;
    }
}

/* --- escaping --------------------------------------------------------- */

static void
esc_json(FILE *out, const char *s)
{
    for (; *s != '\0'; s++) {
        unsigned char ch = (unsigned char) *s;

        if (ch == '"' || ch == '\\')
            fprintf(out, "\\%c", ch);
        else if (ch < 0x20 || ch == 0x7f)
            fprintf(out, "\\u%04x", ch);
        else
            fputc(*s, out);
    }
}

static void
esc_markup(FILE *out, const char *s)
{
    for (; *s != '\0'; s++) {
        unsigned char ch = (unsigned char) *s;

        switch (ch) {
        case '&': fputs("&amp;", out); break;
        case '<': fputs("&lt;", out); break;
        case '>': fputs("&gt;", out); break;
        case '"': fputs("&quot;", out); break;
        case '\'': fputs("&#39;", out); break;
        default:
            /* XML 1.0 allows no C0 controls but tab, LF, CR */
            if (ch < 0x20 || ch == 0x7f)
                fputs("?", out);
            else
                fputc(*s, out);
        }
    }
}

static void
esc_text(FILE *out, const char *s)
{
    for (; *s != '\0'; s++) {
        unsigned char ch = (unsigned char) *s;

        fputc(ch < 0x20 || ch == 0x7f ? '?' : *s, out);
    }
}

/* --- fields ----------------------------------------------------------- */

enum kind { K_STR, K_NUM, K_TIME, K_FLOAT };

struct field {
    const char *name;       /* as JSON and XML spell it */
    enum kind kind;
    const char *str;        /* K_STR: request-derived or fixed text */
    uint64_t num;           /* K_NUM, K_TIME (seconds since the epoch) */
    double flt;
};

static void
fmt_time(char *buf, size_t len, uint64_t secs)
{
    time_t t = (time_t) secs;
    struct tm tm;

    localtime_r(&t, &tm);
    strftime(buf, len, "%d/%b/%Y:%H:%M:%S %z", &tm);
}

/* A name as XML wants it: php-fpm writes "start time" as <start-time>. */
static void
xml_name(FILE *out, const char *name)
{
    for (; *name != '\0'; name++)
        fputc(*name == ' ' ? '-' : *name, out);
}

/* php-fpm's text and HTML pages spell one name differently. */
static const char *
display_name(const struct field *f, enum fpmd_status_format fmt)
{
    if ((fmt == FPMD_STATUS_TEXT || fmt == FPMD_STATUS_HTML)
        && strcmp(f->name, "request uri") == 0)
        return "request URI";
    return f->name;
}

static void
put_field(FILE *out, enum fpmd_status_format fmt,
          const struct field *f, int first)
{
    const char *name = display_name(f, fmt);
    char tbuf[64];

    switch (fmt) {
    case FPMD_STATUS_TEXT:
        fprintf(out, "%s:%*s", name, (int) (21 - strlen(name)), "");
        break;
    case FPMD_STATUS_JSON:
        fprintf(out, "%s\"%s\":", first ? "" : ",", f->name);
        break;
    case FPMD_STATUS_XML:
        fputs("<", out);
        xml_name(out, f->name);
        fputs(">", out);
        break;
    case FPMD_STATUS_HTML:
        fprintf(out, "<tr><th>%s</th><td>", name);
        break;
    default:
        return;
    }
    switch (f->kind) {
    case K_STR:
        if (fmt == FPMD_STATUS_JSON) {
            fputs("\"", out);
            esc_json(out, f->str);
            fputs("\"", out);
        } else if (fmt == FPMD_STATUS_TEXT) {
            esc_text(out, f->str);
        } else {
            esc_markup(out, f->str);
        }
        break;
    case K_NUM:
        fprintf(out, "%llu", (unsigned long long) f->num);
        break;
    case K_TIME:
        if (fmt == FPMD_STATUS_JSON || fmt == FPMD_STATUS_XML) {
            fprintf(out, "%llu", (unsigned long long) f->num);
        } else {
            fmt_time(tbuf, sizeof(tbuf), f->num);
            fputs(tbuf, out);
        }
        break;
    case K_FLOAT:
        fprintf(out, "%.2f", f->flt);
        break;
    }
    switch (fmt) {
    case FPMD_STATUS_TEXT:
        fputs("\n", out);
        break;
    case FPMD_STATUS_XML:
        fputs("</", out);
        xml_name(out, f->name);
        fputs(">\n", out);
        break;
    case FPMD_STATUS_HTML:
        fputs("</td></tr>\n", out);
        break;
    default:
        break;
    }
}

static size_t
pool_fields(const struct fpmd_status_snapshot *v, struct field *f)
{
    uint64_t since = v->now_us > v->start_us
        ? (v->now_us - v->start_us) / 1000000 : 0;
    size_t n = 0;

    /* php-fpm's order (fpm_status.c), then fpmd's own. */
    f[n++] = (struct field) {"pool", K_STR, v->pool, 0, 0};
    f[n++] = (struct field) {"process manager", K_STR, v->pm, 0, 0};
    f[n++] = (struct field) {"start time", K_TIME, NULL, v->start_us / 1000000, 0};
    f[n++] = (struct field) {"start since", K_NUM, NULL, since, 0};
    f[n++] = (struct field) {"accepted conn", K_NUM, NULL, v->accepted_conn, 0};
    f[n++] = (struct field) {"listen queue", K_NUM, NULL, v->listen_queue, 0};
    f[n++] = (struct field) {"max listen queue", K_NUM, NULL,
                             v->max_listen_queue, 0};
    f[n++] = (struct field) {"listen queue len", K_NUM, NULL,
                             v->listen_queue_len, 0};
    f[n++] = (struct field) {"idle processes", K_NUM, NULL, v->idle, 0};
    f[n++] = (struct field) {"active processes", K_NUM, NULL, v->active, 0};
    f[n++] = (struct field) {"total processes", K_NUM, NULL, v->nprocs, 0};
    f[n++] = (struct field) {"max active processes", K_NUM, NULL,
                             v->max_active, 0};
    f[n++] = (struct field) {"max children reached", K_NUM, NULL,
                             v->max_children_reached, 0};
    f[n++] = (struct field) {"slow requests", K_NUM, NULL, v->slow_requests, 0};
    f[n++] = (struct field) {"in flight requests", K_NUM, NULL, v->in_flight, 0};
    f[n++] = (struct field) {"refused requests", K_NUM, NULL,
                             v->refused_requests, 0};
    f[n++] = (struct field) {"free requests", K_NUM, NULL, v->free_reqs, 0};
    f[n++] = (struct field) {"free buffers", K_NUM, NULL, v->free_buffers, 0};
    f[n++] = (struct field) {"free stacks", K_NUM, NULL, v->free_stacks, 0};
    f[n++] = (struct field) {"free connections", K_NUM, NULL, v->free_conns, 0};
    return n;
}

static const char *
state_name(enum fpmd_proc_state state)
{
    switch (state) {
    case FPMD_PROC_STARTING:
        return "Starting";
    case FPMD_PROC_IDLE:
        return "Idle";
    case FPMD_PROC_BUSY:
        return "Running";
    case FPMD_PROC_FINISHING:
        return "Finishing";
    default:
        return "Unknown";
    }
}

static size_t
proc_fields(const struct fpmd_status_snapshot *v,
            const struct fpmd_status_proc *s, struct field *f)
{
    const struct fpmd_status_request *r = &s->req;
    uint64_t since = v->now_us > s->start_us
        ? (v->now_us - s->start_us) / 1000000 : 0;
    uint64_t duration = r->duration_us;
    double cpu = 0;
    size_t n = 0;

    /* A request still running shows its duration so far, as php-fpm. */
    if (s->state == FPMD_PROC_BUSY && r->start_us != 0
        && v->now_us > r->start_us)
        duration = v->now_us - r->start_us;
    if (r->duration_us > 0)
        cpu = 100.0 * (double) r->cpu_us / (double) r->duration_us;
    f[n++] = (struct field) {"pid", K_NUM, NULL, (uint64_t) s->pid, 0};
    f[n++] = (struct field) {"state", K_STR, state_name(s->state), 0, 0};
    f[n++] = (struct field) {"start time", K_TIME, NULL, s->start_us / 1000000, 0};
    f[n++] = (struct field) {"start since", K_NUM, NULL, since, 0};
    f[n++] = (struct field) {"requests", K_NUM, NULL, s->requests, 0};
    f[n++] = (struct field) {"request duration", K_NUM, NULL, duration, 0};
    f[n++] = (struct field) {"request method", K_STR,
                             r->method[0] ? r->method : "-", 0, 0};
    f[n++] = (struct field) {"request uri", K_STR, r->uri[0] ? r->uri : "-",
                             0, 0};
    f[n++] = (struct field) {"content length", K_NUM, NULL,
                             r->content_length, 0};
    f[n++] = (struct field) {"user", K_STR, r->user[0] ? r->user : "-", 0, 0};
    f[n++] = (struct field) {"script", K_STR, r->script[0] ? r->script : "-",
                             0, 0};
    f[n++] = (struct field) {"last request cpu", K_FLOAT, NULL, 0, cpu};
    f[n++] = (struct field) {"last request memory", K_NUM, NULL, r->memory, 0};
    f[n++] = (struct field) {"in flight", K_NUM, NULL, s->in_flight, 0};
    f[n++] = (struct field) {"connections", K_NUM, NULL, s->connections, 0};
    f[n++] = (struct field) {"free requests", K_NUM, NULL, s->free_reqs, 0};
    f[n++] = (struct field) {"free buffers", K_NUM, NULL, s->free_buffers, 0};
    f[n++] = (struct field) {"free stacks", K_NUM, NULL, s->free_stacks, 0};
    f[n++] = (struct field) {"free connections", K_NUM, NULL, s->free_conns,
                             0};
    return n;
}

static size_t
backend_fields(const struct fpmd_status_backend *b,
               enum fpmd_status_format fmt, struct field *f)
{
    size_t n = 0;

    /* In text, a block that starts "backend: NAME" reads on its own. */
    f[n++] = (struct field) {fmt == FPMD_STATUS_TEXT ? "backend" : "name",
                             K_STR, b->name, 0, 0};
    f[n++] = (struct field) {"size", K_NUM, NULL, b->size, 0};
    f[n++] = (struct field) {"idle", K_NUM, NULL, b->idle, 0};
    f[n++] = (struct field) {"in use", K_NUM, NULL, b->in_use, 0};
    f[n++] = (struct field) {"waiters", K_NUM, NULL, b->waiters, 0};
    f[n++] = (struct field) {"calls", K_NUM, NULL, b->calls, 0};
    f[n++] = (struct field) {"timeouts", K_NUM, NULL, b->timeouts, 0};
    f[n++] = (struct field) {"errors", K_NUM, NULL, b->errors, 0};
    f[n++] = (struct field) {"reconnects", K_NUM, NULL, b->reconnects, 0};
    f[n++] = (struct field) {"exhausted", K_NUM, NULL, b->exhausted, 0};
    return n;
}

static size_t
route_fields(const struct fpmd_status_route *r, enum fpmd_status_format fmt,
             struct field *f)
{
    size_t n = 0;

    f[n++] = (struct field) {fmt == FPMD_STATUS_TEXT ? "route" : "name",
                             K_STR, r->label, 0, 0};
    f[n++] = (struct field) {"handler", K_STR, r->handler, 0, 0};
    f[n++] = (struct field) {"native requests", K_NUM, NULL,
                             r->native.requests, 0};
    f[n++] = (struct field) {"native errors", K_NUM, NULL, r->native.errors,
                             0};
    f[n++] = (struct field) {"native p50 ms", K_FLOAT, NULL, 0,
                             r->native.p50_ms};
    f[n++] = (struct field) {"native p99 ms", K_FLOAT, NULL, 0,
                             r->native.p99_ms};
    f[n++] = (struct field) {"legacy requests", K_NUM, NULL,
                             r->legacy.requests, 0};
    f[n++] = (struct field) {"legacy errors", K_NUM, NULL, r->legacy.errors,
                             0};
    f[n++] = (struct field) {"legacy p50 ms", K_FLOAT, NULL, 0,
                             r->legacy.p50_ms};
    f[n++] = (struct field) {"legacy p99 ms", K_FLOAT, NULL, 0,
                             r->legacy.p99_ms};
    f[n++] = (struct field) {"shadow compared", K_NUM, NULL,
                             r->shadow_compared, 0};
    f[n++] = (struct field) {"shadow mismatches", K_NUM, NULL,
                             r->shadow_mismatches, 0};
    f[n++] = (struct field) {"shadow errors", K_NUM, NULL, r->shadow_errors,
                             0};
    f[n++] = (struct field) {"canary fallbacks", K_NUM, NULL,
                             r->canary_fallbacks, 0};
    return n;
}

static size_t
list_backend(const struct fpmd_status_snapshot *v, size_t i,
             enum fpmd_status_format fmt, struct field *f)
{
    return backend_fields(&v->backends[i], fmt, f);
}

static size_t
list_route(const struct fpmd_status_snapshot *v, size_t i,
           enum fpmd_status_format fmt, struct field *f)
{
    return route_fields(&v->routes[i], fmt, f);
}

/* fpmd's own lists after php-fpm's pool fields (backend pools, routes):
 * a block per item in text, a list in JSON and XML, a table each in
 * HTML. */
static void
render_list(FILE *out, const struct fpmd_status_snapshot *v,
            enum fpmd_status_format fmt, const char *list, const char *item,
            size_t count,
            size_t (*fields)(const struct fpmd_status_snapshot *, size_t,
                             enum fpmd_status_format, struct field *))
{
    struct field f[16];
    size_t n;

    if (count == 0)
        return;
    if (fmt == FPMD_STATUS_JSON)
        fprintf(out, ",\"%s\":[", list);
    else if (fmt == FPMD_STATUS_XML)
        fprintf(out, "<%s>\n", list);
    else if (fmt == FPMD_STATUS_HTML)
        fputs("</table>\n", out);
    for (size_t i = 0; i < count; i++) {
        if (fmt == FPMD_STATUS_TEXT)
            fputs("\n", out);
        else if (fmt == FPMD_STATUS_JSON)
            fputs(i ? ",{" : "{", out);
        else if (fmt == FPMD_STATUS_XML)
            fprintf(out, "<%s>\n", item);
        else
            fputs("<table border=\"1\">\n", out);
        n = fields(v, i, fmt, f);
        for (size_t j = 0; j < n; j++)
            put_field(out, fmt, &f[j], j == 0);
        if (fmt == FPMD_STATUS_JSON)
            fputs("}", out);
        else if (fmt == FPMD_STATUS_XML)
            fprintf(out, "</%s>\n", item);
        else if (fmt == FPMD_STATUS_HTML)
            fputs("</table>\n", out);
    }
    if (fmt == FPMD_STATUS_JSON)
        fputs("]", out);
    else if (fmt == FPMD_STATUS_XML)
        fprintf(out, "</%s>\n", list);
    else if (fmt == FPMD_STATUS_HTML)
        fputs("<table>\n", out);
}

/* --- openmetrics ------------------------------------------------------ */

static void
metric(FILE *out, const char *name, const char *type,
       const char *help, uint64_t value)
{
    fprintf(out, "# HELP phpfpm_%s %s\n# TYPE phpfpm_%s %s\n"
            "phpfpm_%s %llu\n", name, help, name, type, name,
            (unsigned long long) value);
}

/* One family per backend statistic, a sample per pool; pool names are
 * config names of [A-Za-z0-9_-], safe as label values. */
static void
render_backend_metrics(FILE *out, const struct fpmd_status_snapshot *v)
{
    static const struct {
        const char *name, *type, *help;
        size_t off;
    } stats[] = {
#define STAT_(name, type, help) \
    {#name, type, help, offsetof(struct fpmd_status_backend, name)}
        STAT_(size, "gauge", "connections open"),
        STAT_(idle, "gauge", "connections idle"),
        STAT_(in_use, "gauge", "connections lent to requests"),
        STAT_(waiters, "gauge", "calls waiting for a connection"),
        STAT_(calls, "counter", "calls made"),
        STAT_(timeouts, "counter", "calls and connects that timed out"),
        STAT_(errors, "counter", "calls and connects that failed"),
        STAT_(reconnects, "counter", "connections opened after the first"),
        STAT_(exhausted, "counter",
              "calls refused: wait queue full or wait timed out"),
#undef STAT_
    };

    if (v->nbackends == 0)
        return;
    for (size_t s = 0; s < FPMD_ARRAY_LEN(stats); s++) {
        fprintf(out, "# HELP phpfpm_backend_%s fpmd: backend "
                "pool %s, summed over the workers.\n"
                "# TYPE phpfpm_backend_%s %s\n", stats[s].name,
                stats[s].help, stats[s].name, stats[s].type);
        for (size_t i = 0; i < v->nbackends; i++) {
            const struct fpmd_status_backend *b = &v->backends[i];
            uint64_t value;

            memcpy(&value, (const char *) b + stats[s].off, sizeof(value));
            fprintf(out, "phpfpm_backend_%s{backend=\"%s\"} "
                    "%llu\n", stats[s].name, b->name,
                    (unsigned long long) value);
        }
    }
}

/* A label value as OpenMetrics wants it: \\, \" and \n escaped. */
static void
esc_label(FILE *out, const char *s)
{
    for (; *s != '\0'; s++) {
        if (*s == '\\' || *s == '"')
            fprintf(out, "\\%c", *s);
        else if (*s == '\n')
            fputs("\\n", out);
        else
            fputc(*s, out);
    }
}

static void
route_sample(FILE *out, const char *family,
             const struct fpmd_status_route *r, const char *side,
             const char *value)
{
    fprintf(out, "phpfpm_route_%s{route=\"", family);
    esc_label(out, r->label);
    fputs("\",handler=\"", out);
    esc_label(out, r->handler);
    if (side != NULL)
        fprintf(out, "\",side=\"%s", side);
    fprintf(out, "\"} %s\n", value);
}

/* Per config route: counters by side (native, legacy), latency quantiles
 * as gauges, shadow and canary counters. */
static void
render_route_metrics(FILE *out, const struct fpmd_status_snapshot *v)
{
    static const struct {
        const char *name, *type, *help;
    } fams[] = {
        {"requests", "counter", "requests answered, by side"},
        {"errors", "counter", "answers that were a 5xx or cut short"},
        {"p50_ms", "gauge", "median latency in ms (sqrt(2) buckets)"},
        {"p99_ms", "gauge", "99th percentile latency in ms"},
        {"shadow_compared", "counter", "shadow answers compared"},
        {"shadow_mismatches", "counter", "shadow answers that differed"},
        {"shadow_errors", "counter", "shadow calls that failed"},
        {"canary_fallbacks", "counter", "canary fallbacks to legacy"},
    };
    char val[64];

    if (v->nroutes == 0)
        return;
    for (size_t fam = 0; fam < FPMD_ARRAY_LEN(fams); fam++) {
        fprintf(out, "# HELP phpfpm_route_%s fpmd: per config "
                "route, summed over the workers: %s.\n"
                "# TYPE phpfpm_route_%s %s\n", fams[fam].name,
                fams[fam].help, fams[fam].name, fams[fam].type);
        for (size_t i = 0; i < v->nroutes; i++) {
            const struct fpmd_status_route *r = &v->routes[i];
            const struct fpmd_status_side *sides[2] = {&r->native,
                                                       &r->legacy};
            const uint64_t extra[4] = {r->shadow_compared,
                                       r->shadow_mismatches,
                                       r->shadow_errors, r->canary_fallbacks};

            if (fam >= 4) {
                snprintf(val, sizeof(val), "%llu",
                         (unsigned long long) extra[fam - 4]);
                route_sample(out, fams[fam].name, r, NULL, val);
                continue;
            }
            for (int s2 = 0; s2 < 2; s2++) {
                const struct fpmd_status_side *sd = sides[s2];

                if (fam < 2)
                    snprintf(val, sizeof(val), "%llu", (unsigned long long)
                             (fam == 0 ? sd->requests : sd->errors));
                else
                    snprintf(val, sizeof(val), "%.3f",
                             fam == 2 ? sd->p50_ms : sd->p99_ms);
                route_sample(out, fams[fam].name, r,
                             s2 == 0 ? "native" : "legacy", val);
            }
        }
    }
}

static void
render_openmetrics(FILE *out, const struct fpmd_status_snapshot *v)
{
    char help[256];
    uint64_t since = v->now_us > v->start_us
        ? (v->now_us - v->start_us) / 1000000 : 0;

    /* The pool name is configuration, not request data, but it still goes
     * through the label-safe filter: HELP text ends at a newline. */
    snprintf(help, sizeof(help), "Could pool %s using a %s PM on PHP-FPM be "
             "reached?", v->pool, v->pm);
    for (char *p = help; *p != '\0'; p++) {
        if ((unsigned char) *p < 0x20)
            *p = '?';
    }
    metric(out, "up", "gauge", help, 1);
    metric(out, "start_since", "counter",
           "The number of seconds since FPM has started.", since);
    metric(out, "accepted_connections", "counter",
           "The number of requests accepted by the pool.", v->accepted_conn);
    metric(out, "listen_queue", "gauge",
           "The number of requests in the queue of pending connections.",
           v->listen_queue);
    metric(out, "max_listen_queue", "counter",
           "The maximum number of requests in the queue of pending "
           "connections since FPM has started.", v->max_listen_queue);
    metric(out, "listen_queue_length", "gauge",
           "The size of the socket queue of pending connections.",
           v->listen_queue_len);
    metric(out, "idle_processes", "gauge",
           "The number of idle processes.", v->idle);
    metric(out, "active_processes", "gauge",
           "The number of active processes.", v->active);
    metric(out, "total_processes", "gauge",
           "The number of idle + active processes.", v->nprocs);
    metric(out, "max_active_processes", "counter",
           "The maximum number of active processes since FPM has started.",
           v->max_active);
    metric(out, "max_children_reached", "counter",
           "The number of times, the process limit has been reached, when "
           "pm tries to start more children (works only for pm 'dynamic' "
           "and 'ondemand').", v->max_children_reached);
    metric(out, "slow_requests", "counter",
           "The number of requests that exceeded your "
           "'request_slowlog_timeout' value.", v->slow_requests);
    metric(out, "in_flight_requests", "gauge",
           "fpmd: the number of requests running in the pool.", v->in_flight);
    metric(out, "refused_requests", "counter",
           "fpmd: requests answered 503 without running: pm.max_queue "
           "reached or timeouts.queue waited.", v->refused_requests);
    metric(out, "free_requests", "gauge",
           "fpmd: request objects on the workers' free lists.", v->free_reqs);
    metric(out, "free_buffers", "gauge",
           "fpmd: arena chunks on the workers' free lists.", v->free_buffers);
    metric(out, "free_stacks", "gauge",
           "fpmd: coroutine stacks on the workers' free lists.",
           v->free_stacks);
    metric(out, "free_connections", "gauge",
           "fpmd: connection objects on the workers' free lists.",
           v->free_conns);
    render_backend_metrics(out, v);
    render_route_metrics(out, v);
    fputs("# EOF\n", out);
}

/* --- pages ------------------------------------------------------------ */

int
fpmd_status_render(FILE *out, const struct fpmd_status_snapshot *v,
                   enum fpmd_status_format fmt, int full,
                   const char **content_type)
{
    struct field f[24];
    size_t n;

    *content_type = content_types[fmt];
    if (fmt == FPMD_STATUS_OPENMETRICS) {
        render_openmetrics(out, v);
        return ferror(out) ? FPMD_ERROR : FPMD_OK;
    }
    if (fmt == FPMD_STATUS_JSON)
        fputs("{", out);
    else if (fmt == FPMD_STATUS_XML)
        fprintf(out, "<?xml version=\"1.0\" ?>\n<status>\n");
    else if (fmt == FPMD_STATUS_HTML)
        fprintf(out, "<!DOCTYPE html PUBLIC \"-//W3C//DTD XHTML "
            "1.0 Strict//EN\" \"http://www.w3.org/TR/xhtml1/DTD/"
            "xhtml1-strict.dtd\">\n<html xmlns=\"http://www.w3.org/1999/"
            "xhtml\" xml:lang=\"en\" lang=\"en\">\n<head><title>PHP-FPM "
            "Status Page</title></head>\n<body>\n<table>\n");
    n = pool_fields(v, f);
    for (size_t i = 0; i < n; i++)
        put_field(out, fmt, &f[i], i == 0);
    render_list(out, v, fmt, "backends", "backend", v->nbackends,
                list_backend);
    render_list(out, v, fmt, "routes", "route", v->nroutes, list_route);
    if (full) {
        if (fmt == FPMD_STATUS_JSON)
            fputs(",\"processes\":[", out);
        else if (fmt == FPMD_STATUS_XML)
            fputs("<processes>\n", out);
        else if (fmt == FPMD_STATUS_HTML)
            fputs("</table>\n", out);
        for (size_t p = 0; p < v->nprocs; p++) {
            if (fmt == FPMD_STATUS_TEXT)
                fputs("\n************************\n", out);
            else if (fmt == FPMD_STATUS_JSON)
                fputs(p ? ",{" : "{", out);
            else if (fmt == FPMD_STATUS_XML)
                fputs("<process>\n", out);
            else
                fputs("<table border=\"1\">\n", out);
            n = proc_fields(v, &v->procs[p], f);
            for (size_t i = 0; i < n; i++)
                put_field(out, fmt, &f[i], i == 0);
            if (fmt == FPMD_STATUS_JSON)
                fputs("}", out);
            else if (fmt == FPMD_STATUS_XML)
                fputs("</process>\n", out);
            else if (fmt == FPMD_STATUS_HTML)
                fputs("</table>\n", out);
        }
        if (fmt == FPMD_STATUS_JSON)
            fputs("]", out);
        else if (fmt == FPMD_STATUS_XML)
            fputs("</processes>\n", out);
        else if (fmt == FPMD_STATUS_HTML)
            fputs("<table>\n", out);
    }
    if (fmt == FPMD_STATUS_JSON)
        fputs("}", out);
    else if (fmt == FPMD_STATUS_XML)
        fputs("</status>\n", out);
    else if (fmt == FPMD_STATUS_HTML)
        fputs("</table>\n</body>\n</html>\n", out);
    return ferror(out) ? FPMD_ERROR : FPMD_OK;
}
