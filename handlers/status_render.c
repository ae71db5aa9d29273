/* SPDX-License-Identifier: BSD-2-Clause */
/* Status page rendering. Where php-fpm 8.2 has a page (fpm_status.c), it
 * is php-fpm's: its keys in its order, its value formats, its layout and
 * state names. fpmd's own figures come after php-fpm's in each object
 * (the pool, a process) and as blocks and series of their own (backends,
 * routes, requests in flight, fpmd_* metrics), where the parsers written
 * for php-fpm (php-fpm_exporter, Telegraf, Netdata, Metricbeat, Zabbix)
 * pass over them. One table of fields per object drives every format;
 * each format only knows how to print a name, a value, and how to escape
 * request-derived text. */
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

/* As php-fpm sends them: PHP adds its default charset to text types. */
static const char *const content_types[] = {
    [FPMD_STATUS_TEXT] = "text/plain;charset=UTF-8",
    [FPMD_STATUS_JSON] = "application/json",
    [FPMD_STATUS_XML] = "text/xml;charset=UTF-8",
    [FPMD_STATUS_HTML] = "text/html;charset=UTF-8",
    [FPMD_STATUS_OPENMETRICS] =
        "application/openmetrics-text; version=1.0.0; charset=utf-8",
};

void
fpmd_status_parse_query(const char *query, enum fpmd_status_format *fmt,
                        int *full)
{
    /* php-fpm's precedence when several are given: html, xml, json,
     * openmetrics. */
    static const struct {
        const char *word;
        enum fpmd_status_format fmt;
    } words[] = {
        {"html", FPMD_STATUS_HTML}, {"xml", FPMD_STATUS_XML},
        {"json", FPMD_STATUS_JSON}, {"openmetrics", FPMD_STATUS_OPENMETRICS},
    };
    size_t best = FPMD_ARRAY_LEN(words);
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
        for (size_t i = 0; i < best; i++) {
            if (wlen == strlen(words[i].word)
                && strncmp(p, words[i].word, wlen) == 0)
                best = i;
        }
        p += len;
        if (*p == '&')
            p++;
    }
    if (best < FPMD_ARRAY_LEN(words))
        *fmt = words[best].fmt;
}

/* --- escaping --------------------------------------------------------- */

/* The length of the well-formed UTF-8 sequence at s (RFC 3629: no
 * overlong forms, no surrogates, nothing past U+10FFFF), 0 when there is
 * none: request text is whatever a client sent, and JSON, XML and
 * OpenMetrics readers refuse a whole page over one bad byte. */
static size_t
utf8_len(const unsigned char *s)
{
    unsigned char c = s[0];
    size_t n;
    unsigned char lo = 0x80, hi = 0xbf;

    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf)
        n = 2;
    else if (c >= 0xe0 && c <= 0xef)
        n = 3;
    else if (c >= 0xf0 && c <= 0xf4)
        n = 4;
    else
        return 0;
    if (c == 0xe0)
        lo = 0xa0;
    else if (c == 0xed)
        hi = 0x9f;
    else if (c == 0xf0)
        lo = 0x90;
    else if (c == 0xf4)
        hi = 0x8f;
    if (s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < n; i++) {
        if (s[i] < 0x80 || s[i] > 0xbf)
            return 0;
    }
    return n;
}

/* Writes s with each ASCII byte through esc (which writes it, escaped or
 * not), well-formed UTF-8 as it is, and '?' for any other byte. */
static void
put_text(FILE *out, const char *s, void (*esc)(FILE *, unsigned char))
{
    const unsigned char *p = (const unsigned char *) s;

    while (*p != '\0') {
        size_t n = utf8_len(p);

        if (n == 1)
            esc(out, *p);
        else if (n == 0)
            fputc('?', out);
        else
            fwrite(p, 1, n, out);
        p += n ? n : 1;
    }
}

static void
esc_json(FILE *out, unsigned char ch)
{
    if (ch == '"' || ch == '\\')
        fprintf(out, "\\%c", ch);
    else if (ch < 0x20 || ch == 0x7f)
        fprintf(out, "\\u%04x", ch);
    else
        fputc(ch, out);
}

static void
esc_markup(FILE *out, unsigned char ch)
{
    switch (ch) {
    case '&': fputs("&amp;", out); break;
    case '<': fputs("&lt;", out); break;
    case '>': fputs("&gt;", out); break;
    case '"': fputs("&quot;", out); break;
    case '\'': fputs("&#39;", out); break;
    default:
        /* XML 1.0 allows no C0 controls but tab, LF, CR */
        fputc(ch < 0x20 || ch == 0x7f ? '?' : ch, out);
    }
}

/* A line of text: one field a line, so no control character. */
static void
esc_text(FILE *out, unsigned char ch)
{
    fputc(ch < 0x20 || ch == 0x7f ? '?' : ch, out);
}

/* An OpenMetrics label value: \\, \" and \n escaped, other controls
 * dropped to '?'. */
static void
esc_label(FILE *out, unsigned char ch)
{
    if (ch == '\\' || ch == '"')
        fprintf(out, "\\%c", ch);
    else if (ch == '\n')
        fputs("\\n", out);
    else
        fputc(ch < 0x20 || ch == 0x7f ? '?' : ch, out);
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

/* Where a field goes: on a line of its own (the pool, a block), or inside
 * a process row, which php-fpm's XML and HTML put on one line. */
enum place { TOP, ROW };

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

/* php-fpm's plain text spells one name its own way. */
static const char *
text_name(const struct field *f)
{
    return strcmp(f->name, "request uri") == 0 ? "request URI" : f->name;
}

static void
put_value(FILE *out, enum fpmd_status_format fmt, const struct field *f)
{
    char tbuf[64];

    switch (f->kind) {
    case K_STR:
        if (fmt == FPMD_STATUS_JSON) {
            fputs("\"", out);
            put_text(out, f->str, esc_json);
            fputs("\"", out);
        } else {
            put_text(out, f->str, fmt == FPMD_STATUS_TEXT ? esc_text
                                                          : esc_markup);
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
}

static void
put_field(FILE *out, enum fpmd_status_format fmt, enum place place,
          const struct field *f, bool first)
{
    switch (fmt) {
    case FPMD_STATUS_TEXT:
        fprintf(out, "%s:%*s", text_name(f),
                (int) (21 - strlen(text_name(f))), "");
        put_value(out, fmt, f);
        fputs("\n", out);
        break;
    case FPMD_STATUS_JSON:
        fprintf(out, "%s\"%s\":", first ? "" : ",", f->name);
        put_value(out, fmt, f);
        break;
    case FPMD_STATUS_XML:
        fputs("<", out);
        xml_name(out, f->name);
        fputs(">", out);
        put_value(out, fmt, f);
        fputs("</", out);
        xml_name(out, f->name);
        fputs(place == TOP ? ">\n" : ">", out);
        break;
    case FPMD_STATUS_HTML:
        if (place == TOP)
            fprintf(out, "<tr><th>%s</th><td>", f->name);
        else
            fputs("<td>", out);
        put_value(out, fmt, f);
        fputs(place == TOP ? "</td></tr>\n" : "</td>", out);
        break;
    default:
        break;
    }
}

static void
put_fields(FILE *out, enum fpmd_status_format fmt, enum place place,
           const struct field *f, size_t n, bool first)
{
    for (size_t i = 0; i < n; i++)
        put_field(out, fmt, place, &f[i], first && i == 0);
}

static uint64_t
seconds_since(uint64_t now_us, uint64_t then_us)
{
    return now_us > then_us ? (now_us - then_us) / 1000000 : 0;
}

/* php-fpm's pool fields, in its order. */
static size_t
pool_fields(const struct fpmd_status_snapshot *v, struct field *f)
{
    size_t n = 0;

    f[n++] = (struct field) {"pool", K_STR, v->pool, 0, 0};
    f[n++] = (struct field) {"process manager", K_STR, v->pm, 0, 0};
    f[n++] = (struct field) {"start time", K_TIME, NULL,
                             v->start_us / 1000000, 0};
    f[n++] = (struct field) {"start since", K_NUM, NULL,
                             seconds_since(v->now_us, v->start_us), 0};
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
    return n;
}

/* fpmd's pool fields, after php-fpm's. */
static size_t
pool_extra_fields(const struct fpmd_status_snapshot *v, struct field *f)
{
    size_t n = 0;

    f[n++] = (struct field) {"in flight requests", K_NUM, NULL, v->in_flight,
                             0};
    f[n++] = (struct field) {"refused requests", K_NUM, NULL,
                             v->refused_requests, 0};
    f[n++] = (struct field) {"free requests", K_NUM, NULL, v->free_reqs, 0};
    f[n++] = (struct field) {"free buffers", K_NUM, NULL, v->free_buffers, 0};
    f[n++] = (struct field) {"free stacks", K_NUM, NULL, v->free_stacks, 0};
    f[n++] = (struct field) {"free connections", K_NUM, NULL, v->free_conns,
                             0};
    if (v->tasks != NULL) {
        const struct fpmd_status_tasks *t = v->tasks;

        f[n++] = (struct field) {"task processes", K_NUM, NULL, t->workers,
                                 0};
        f[n++] = (struct field) {"tasks running", K_NUM, NULL, t->running,
                                 0};
        f[n++] = (struct field) {"tasks queued", K_NUM, NULL, t->queued, 0};
        f[n++] = (struct field) {"tasks done", K_NUM, NULL, t->done, 0};
        f[n++] = (struct field) {"tasks failed", K_NUM, NULL, t->failed, 0};
        f[n++] = (struct field) {"tasks timed out", K_NUM, NULL,
                                 t->timed_out, 0};
        f[n++] = (struct field) {"tasks rejected", K_NUM, NULL, t->rejected,
                                 0};
        f[n++] = (struct field) {"tasks dropped", K_NUM, NULL, t->dropped,
                                 0};
    }
    return n;
}

/* php-fpm's request stages a process can be in, as fpm_request.c names
 * them; fpmd's workers are only ever in three of them, and nothing else
 * may appear where parsers expect these. */
static const char *
state_name(enum fpmd_proc_state state)
{
    switch (state) {
    case FPMD_PROC_BUSY:
        return "Running";
    case FPMD_PROC_FINISHING:
        return "Finishing";
    default:                /* starting: php-fpm's new child is Idle too */
        return "Idle";
    }
}

/* The figures of a process row. php-fpm shows the request a process runs
 * with its duration so far and no CPU or memory yet, and once it is done
 * its duration, CPU and memory; fpmd's row is the oldest request in
 * flight, so a long one stays in sight whatever else the worker runs. */
struct row_figures {
    uint64_t duration_us;
    double cpu;             /* percent of its duration */
    uint64_t cpu_us;
    uint64_t memory;
};

static struct row_figures
row_figures(const struct fpmd_status_snapshot *v,
            const struct fpmd_status_proc *s)
{
    const struct fpmd_status_request *r = &s->req;
    struct row_figures x = {r->duration_us, 0, r->cpu_us, r->memory};

    if (s->in_flight > 0 && r->start_us != 0) {
        x.duration_us = v->now_us > r->start_us ? v->now_us - r->start_us : 0;
        x.cpu_us = 0;
        x.memory = 0;
    } else if (r->duration_us > 0) {
        x.cpu = 100.0 * (double) r->cpu_us / (double) r->duration_us;
    }
    return x;
}

/* php-fpm's process fields, in its order. */
static size_t
proc_fields(const struct fpmd_status_snapshot *v,
            const struct fpmd_status_proc *s, struct field *f)
{
    const struct fpmd_status_request *r = &s->req;
    struct row_figures x = row_figures(v, s);
    size_t n = 0;

    f[n++] = (struct field) {"pid", K_NUM, NULL, (uint64_t) s->pid, 0};
    f[n++] = (struct field) {"state", K_STR, state_name(s->state), 0, 0};
    f[n++] = (struct field) {"start time", K_TIME, NULL,
                             s->start_us / 1000000, 0};
    f[n++] = (struct field) {"start since", K_NUM, NULL,
                             seconds_since(v->now_us, s->start_us), 0};
    f[n++] = (struct field) {"requests", K_NUM, NULL, s->requests, 0};
    f[n++] = (struct field) {"request duration", K_NUM, NULL, x.duration_us,
                             0};
    f[n++] = (struct field) {"request method", K_STR,
                             r->method[0] ? r->method : "-", 0, 0};
    f[n++] = (struct field) {"request uri", K_STR, r->uri[0] ? r->uri : "-",
                             0, 0};
    f[n++] = (struct field) {"content length", K_NUM, NULL,
                             r->content_length, 0};
    f[n++] = (struct field) {"user", K_STR, r->user[0] ? r->user : "-", 0, 0};
    f[n++] = (struct field) {"script", K_STR, r->script[0] ? r->script : "-",
                             0, 0};
    f[n++] = (struct field) {"last request cpu", K_FLOAT, NULL, 0, x.cpu};
    f[n++] = (struct field) {"last request memory", K_NUM, NULL, x.memory, 0};
    return n;
}

/* fpmd's process fields, after php-fpm's. */
static size_t
proc_extra_fields(const struct fpmd_status_proc *s, struct field *f)
{
    size_t n = 0;

    f[n++] = (struct field) {"in flight", K_NUM, NULL, s->in_flight, 0};
    f[n++] = (struct field) {"connections", K_NUM, NULL, s->connections, 0};
    f[n++] = (struct field) {"free requests", K_NUM, NULL, s->free_reqs, 0};
    f[n++] = (struct field) {"free buffers", K_NUM, NULL, s->free_buffers, 0};
    f[n++] = (struct field) {"free stacks", K_NUM, NULL, s->free_stacks, 0};
    f[n++] = (struct field) {"free connections", K_NUM, NULL, s->free_conns,
                             0};
    return n;
}

/* A request in flight; prefix names it in plain text, where its fields
 * stand among the process's. */
static size_t
flight_fields(const struct fpmd_status_snapshot *v,
              const struct fpmd_status_flight *fl, bool prefix,
              struct field *f)
{
    size_t n = 0;

    f[n++] = (struct field) {prefix ? "in flight duration" : "duration",
                             K_NUM, NULL,
                             v->now_us > fl->start_us
                                 ? v->now_us - fl->start_us : 0, 0};
    f[n++] = (struct field) {prefix ? "in flight method" : "method", K_STR,
                             fl->method[0] ? fl->method : "-", 0, 0};
    f[n++] = (struct field) {prefix ? "in flight uri" : "uri", K_STR,
                             fl->uri[0] ? fl->uri : "-", 0, 0};
    f[n++] = (struct field) {prefix ? "in flight route" : "route", K_STR,
                             fl->route[0] ? fl->route : "-", 0, 0};
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
    f[n++] = (struct field) {"rate limited", K_NUM, NULL, r->rate_limited,
                             0};
    f[n++] = (struct field) {"concurrency refused", K_NUM, NULL,
                             r->concurrency_refused, 0};
    return n;
}

static size_t
list_table(const struct fpmd_status_snapshot *v, size_t i,
           enum fpmd_status_format fmt, struct field *f)
{
    const struct fpmd_status_table *t = &v->tables[i];
    size_t n = 0;

    f[n++] = (struct field) {fmt == FPMD_STATUS_TEXT ? "table" : "name",
                             K_STR, t->name, 0, 0};
    f[n++] = (struct field) {"rows", K_NUM, NULL, t->rows, 0};
    f[n++] = (struct field) {"rows used", K_NUM, NULL, t->used, 0};
    f[n++] = (struct field) {"memory", K_NUM, NULL, t->memory, 0};
    f[n++] = (struct field) {"full", K_NUM, NULL, t->full, 0};
    f[n++] = (struct field) {"expired", K_NUM, NULL, t->expired, 0};
    f[n++] = (struct field) {"recovered", K_NUM, NULL, t->recovered, 0};
    return n;
}

static size_t
list_user_process(const struct fpmd_status_snapshot *v, size_t i,
                  enum fpmd_status_format fmt, struct field *f)
{
    const struct fpmd_status_user_process *u = &v->user_processes[i];
    size_t n = 0;

    f[n++] = (struct field) {fmt == FPMD_STATUS_TEXT ? "user process"
                                                     : "name",
                             K_STR, u->name, 0, 0};
    f[n++] = (struct field) {"instance", K_NUM, NULL, u->instance, 0};
    f[n++] = (struct field) {"pid", K_NUM, NULL, (uint64_t) u->pid, 0};
    f[n++] = (struct field) {"state", K_STR, u->pid ? "running"
                                                    : "starting again",
                             0, 0};
    f[n++] = (struct field) {"start since", K_NUM, NULL,
                             u->pid && v->now_us > u->start_us
                                 ? (v->now_us - u->start_us) / 1000000 : 0,
                             0};
    f[n++] = (struct field) {"restarts", K_NUM, NULL, u->restarts, 0};
    return n;
}

static size_t
list_upstream_server(const struct fpmd_status_snapshot *v, size_t i,
                     enum fpmd_status_format fmt, struct field *f)
{
    const struct fpmd_status_upstream_server *u = &v->upstream_servers[i];
    size_t n = 0;

    f[n++] = (struct field) {fmt == FPMD_STATUS_TEXT ? "upstream"
                                                     : "name",
                             K_STR, u->upstream, 0, 0};
    f[n++] = (struct field) {"server", K_STR, u->server, 0, 0};
    f[n++] = (struct field) {"circuit", K_STR, u->circuit, 0, 0};
    f[n++] = (struct field) {"circuit opened", K_NUM, NULL, u->opened, 0};
    f[n++] = (struct field) {"circuit refused", K_NUM, NULL, u->refused, 0};
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

/* fpmd's lists of the pool (backend pools, routes): a block per item in
 * text, a list in JSON and XML, a table each in HTML. */
static void
render_list(FILE *out, const struct fpmd_status_snapshot *v,
            enum fpmd_status_format fmt, const char *list, const char *item,
            size_t count,
            size_t (*fields)(const struct fpmd_status_snapshot *, size_t,
                             enum fpmd_status_format, struct field *))
{
    struct field f[24];

    if (count == 0)
        return;
    if (fmt == FPMD_STATUS_JSON)
        fprintf(out, ",\"%s\":[", list);
    else if (fmt == FPMD_STATUS_XML)
        fprintf(out, "<%s>\n", list);
    for (size_t i = 0; i < count; i++) {
        if (fmt == FPMD_STATUS_TEXT)
            fputs("\n", out);
        else if (fmt == FPMD_STATUS_JSON)
            fputs(i ? ",{" : "{", out);
        else if (fmt == FPMD_STATUS_XML)
            fprintf(out, "<%s>\n", item);
        else
            fputs("<table border=\"1\">\n", out);
        put_fields(out, fmt, TOP, f, fields(v, i, fmt, f), true);
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
}

/* --- processes (full) ------------------------------------------------- */

/* A process's requests in flight after its fields: lines of their own in
 * text, a list in JSON and XML. */
static void
render_flights(FILE *out, const struct fpmd_status_snapshot *v,
               const struct fpmd_status_proc *s, enum fpmd_status_format fmt)
{
    struct field f[4];
    size_t n;

    if (fmt == FPMD_STATUS_JSON)
        fputs(",\"oldest in flight\":[", out);
    else if (fmt == FPMD_STATUS_XML)
        fputs("<oldest-in-flight>", out);
    for (size_t i = 0; i < s->nflights; i++) {
        n = flight_fields(v, &s->flights[i], fmt == FPMD_STATUS_TEXT, f);
        if (fmt == FPMD_STATUS_JSON)
            fputs(i ? ",{" : "{", out);
        else if (fmt == FPMD_STATUS_XML)
            fputs("<request>", out);
        put_fields(out, fmt, ROW, f, n, true);
        if (fmt == FPMD_STATUS_JSON)
            fputs("}", out);
        else if (fmt == FPMD_STATUS_XML)
            fputs("</request>", out);
    }
    if (fmt == FPMD_STATUS_JSON)
        fputs("]", out);
    else if (fmt == FPMD_STATUS_XML)
        fputs("</oldest-in-flight>", out);
}

/* HTML: php-fpm's one table of processes, fpmd's columns after its own,
 * then a table of the requests in flight. */
static void
render_procs_html(FILE *out, const struct fpmd_status_snapshot *v)
{
    struct field f[24], fl[4];
    size_t n = 0;
    struct fpmd_status_proc none = {0};
    struct fpmd_status_flight nofl = {"", "", "", 0};

    /* The headers are the names of the rows' own fields, so that they
     * cannot drift apart. */
    none.req.method = none.req.uri = none.req.script = none.req.user = "";
    fputs("<table border=\"1\">\n<tr>", out);
    n = proc_fields(v, &none, f);
    n += proc_extra_fields(&none, f + n);
    for (size_t i = 0; i < n; i++)
        fprintf(out, "<th>%s</th>", f[i].name);
    fputs("</tr>\n", out);
    for (size_t p = 0; p < v->nprocs; p++) {
        n = proc_fields(v, &v->procs[p], f);
        n += proc_extra_fields(&v->procs[p], f + n);
        fputs("<tr>", out);
        put_fields(out, FPMD_STATUS_HTML, ROW, f, n, true);
        fputs("</tr>\n", out);
    }
    fputs("</table>\n<table border=\"1\">\n<tr><th>pid</th>", out);
    n = flight_fields(v, &nofl, false, fl);
    for (size_t i = 0; i < n; i++)
        fprintf(out, "<th>%s</th>", fl[i].name);
    fputs("</tr>\n", out);
    for (size_t p = 0; p < v->nprocs; p++) {
        for (size_t i = 0; i < v->procs[p].nflights; i++) {
            fprintf(out, "<tr><td>%d</td>", (int) v->procs[p].pid);
            put_fields(out, FPMD_STATUS_HTML, ROW, fl,
                       flight_fields(v, &v->procs[p].flights[i], false, fl),
                       true);
            fputs("</tr>\n", out);
        }
    }
    fputs("</table>\n", out);
}

static void
render_procs(FILE *out, const struct fpmd_status_snapshot *v,
             enum fpmd_status_format fmt)
{
    struct field f[24];
    size_t n;

    if (fmt == FPMD_STATUS_HTML) {
        render_procs_html(out, v);
        return;
    }
    if (fmt == FPMD_STATUS_JSON)
        fputs(", \"processes\":[", out);
    else if (fmt == FPMD_STATUS_XML)
        fputs("<processes>\n", out);
    for (size_t p = 0; p < v->nprocs; p++) {
        const struct fpmd_status_proc *s = &v->procs[p];

        if (fmt == FPMD_STATUS_TEXT)
            fputs("\n************************\n", out);
        else if (fmt == FPMD_STATUS_JSON)
            fputs(p ? ",{" : "{", out);
        else
            fputs("<process>", out);
        n = proc_fields(v, s, f);
        n += proc_extra_fields(s, f + n);
        put_fields(out, fmt, ROW, f, n, true);
        render_flights(out, v, s, fmt);
        if (fmt == FPMD_STATUS_JSON)
            fputs("}", out);
        else if (fmt == FPMD_STATUS_XML)
            fputs("</process>\n", out);
    }
    if (fmt == FPMD_STATUS_JSON)
        fputs("]", out);
    else if (fmt == FPMD_STATUS_XML)
        fputs("</processes>\n", out);
}

/* --- openmetrics ------------------------------------------------------ */

/* php-fpm's families, as fpm_status.c writes them (its listen queue
 * length puts TYPE before HELP). */
static void
php_metric(FILE *out, const char *name, const char *type,
           const char *help, uint64_t value, bool type_first)
{
    if (type_first)
        fprintf(out, "# TYPE phpfpm_%s %s\n# HELP phpfpm_%s %s\n", name,
                type, name, help);
    else
        fprintf(out, "# HELP phpfpm_%s %s\n# TYPE phpfpm_%s %s\n", name,
                help, name, type);
    fprintf(out, "phpfpm_%s %llu\n", name, (unsigned long long) value);
}

/* fpmd's families, named as Prometheus names them: fpmd_ first, base
 * units, counters ending in _total (the family is named as its samples,
 * so that Prometheus text readers and promtool tie them together). */
static void
family(FILE *out, const char *name, const char *type, const char *help)
{
    fprintf(out, "# HELP fpmd_%s fpmd: %s\n# TYPE fpmd_%s %s\n", name, help,
            name, type);
}

static void
label(FILE *out, const char *name, const char *value, bool first)
{
    fprintf(out, "%s%s=\"", first ? "{" : ",", name);
    put_text(out, value, esc_label);
    fputs("\"", out);
}

static void
render_pool_metrics(FILE *out, const struct fpmd_status_snapshot *v)
{
    char help[256];

    /* The pool name is configuration, not request data, but HELP text
     * still ends at a newline. */
    snprintf(help, sizeof(help), "Could pool %s using a %s PM on PHP-FPM be "
             "reached?", v->pool, v->pm);
    for (char *p = help; *p != '\0'; p++) {
        if ((unsigned char) *p < 0x20)
            *p = '?';
    }
    php_metric(out, "up", "gauge", help, 1, false);
    php_metric(out, "start_since", "counter",
               "The number of seconds since FPM has started.",
               seconds_since(v->now_us, v->start_us), false);
    php_metric(out, "accepted_connections", "counter",
               "The number of requests accepted by the pool.",
               v->accepted_conn, false);
    php_metric(out, "listen_queue", "gauge",
               "The number of requests in the queue of pending connections.",
               v->listen_queue, false);
    php_metric(out, "max_listen_queue", "counter",
               "The maximum number of requests in the queue of pending "
               "connections since FPM has started.", v->max_listen_queue,
               false);
    php_metric(out, "listen_queue_length", "gauge",
               "The size of the socket queue of pending connections.",
               v->listen_queue_len, true);
    php_metric(out, "idle_processes", "gauge",
               "The number of idle processes.", v->idle, false);
    php_metric(out, "active_processes", "gauge",
               "The number of active processes.", v->active, false);
    php_metric(out, "total_processes", "gauge",
               "The number of idle + active processes.", v->nprocs, false);
    php_metric(out, "max_active_processes", "counter",
               "The maximum number of active processes since FPM has "
               "started.", v->max_active, false);
    php_metric(out, "max_children_reached", "counter",
               "The number of times, the process limit has been reached, "
               "when pm tries to start more children (works only for pm "
               "'dynamic' and 'ondemand').", v->max_children_reached, false);
    php_metric(out, "slow_requests", "counter",
               "The number of requests that exceeded your "
               "'request_slowlog_timeout' value.", v->slow_requests, false);

    family(out, "in_flight_requests", "gauge",
           "requests running in the pool.");
    fprintf(out, "fpmd_in_flight_requests %llu\n",
            (unsigned long long) v->in_flight);
    family(out, "refused_requests_total", "counter",
           "requests answered 503 without running: pm.max_queue reached "
           "or timeouts.queue waited.");
    fprintf(out, "fpmd_refused_requests_total %llu\n",
            (unsigned long long) v->refused_requests);
    family(out, "free_requests", "gauge",
           "request objects on the workers' free lists.");
    fprintf(out, "fpmd_free_requests %llu\n",
            (unsigned long long) v->free_reqs);
    family(out, "free_buffers", "gauge",
           "arena chunks on the workers' free lists.");
    fprintf(out, "fpmd_free_buffers %llu\n",
            (unsigned long long) v->free_buffers);
    family(out, "free_stacks", "gauge",
           "coroutine stacks on the workers' free lists.");
    fprintf(out, "fpmd_free_stacks %llu\n",
            (unsigned long long) v->free_stacks);
    family(out, "free_connections", "gauge",
           "connection objects on the workers' free lists.");
    fprintf(out, "fpmd_free_connections %llu\n",
            (unsigned long long) v->free_conns);
}

struct stat_def {
    const char *name, *type, *help;
    size_t off;                 /* of its uint64_t in the item */
};

/* One family per statistic of stats, a sample per item: n items of size
 * bytes from items, each named by the string at name_off, in a label
 * called label_name; what says whose figures they are. */
static void
render_stat_families(FILE *out, const struct stat_def *stats, size_t nstats,
                     const char *what, const char *label_name,
                     const void *items, size_t n, size_t size,
                     size_t name_off)
{
    char help[160];

    if (n == 0)
        return;
    for (size_t s = 0; s < nstats; s++) {
        snprintf(help, sizeof(help), "%s %s.", what, stats[s].help);
        family(out, stats[s].name, stats[s].type, help);
        for (size_t i = 0; i < n; i++) {
            const char *item = (const char *) items + i * size;
            const char *name;
            uint64_t value;

            memcpy(&name, item + name_off, sizeof(name));
            memcpy(&value, item + stats[s].off, sizeof(value));
            fprintf(out, "fpmd_%s", stats[s].name);
            label(out, label_name, name, true);
            fprintf(out, "} %llu\n", (unsigned long long) value);
        }
    }
}

#define STAT_(type_, field, name, kind, help) \
    {name, kind, help, offsetof(type_, field)}

/* One family per backend statistic, a sample per pool. */
static void
render_backend_metrics(FILE *out, const struct fpmd_status_snapshot *v)
{
    static const struct stat_def stats[] = {
#define B_(...) STAT_(struct fpmd_status_backend, __VA_ARGS__)
        B_(size, "backend_size", "gauge", "connections open"),
        B_(idle, "backend_idle", "gauge", "connections idle"),
        B_(in_use, "backend_in_use", "gauge",
           "connections lent to requests"),
        B_(waiters, "backend_waiters", "gauge",
           "calls waiting for a connection"),
        B_(calls, "backend_calls_total", "counter", "calls made"),
        B_(timeouts, "backend_timeouts_total", "counter",
           "calls and connects that timed out"),
        B_(errors, "backend_errors_total", "counter",
           "calls and connects that failed"),
        B_(reconnects, "backend_reconnects_total", "counter",
           "connections opened after the first"),
        B_(exhausted, "backend_exhausted_total", "counter",
           "calls refused: wait queue full or wait timed out"),
#undef B_
    };

    render_stat_families(out, stats, FPMD_ARRAY_LEN(stats),
                         "backend pool, summed over the workers:",
                         "backend", v->backends, v->nbackends,
                         sizeof(*v->backends),
                         offsetof(struct fpmd_status_backend, name));
}

/* One family per shared table statistic, a sample per table. */
static void
render_table_metrics(FILE *out, const struct fpmd_status_snapshot *v)
{
    static const struct stat_def stats[] = {
#define T_(...) STAT_(struct fpmd_status_table, __VA_ARGS__)
        T_(rows, "table_rows", "gauge", "rows it holds at most"),
        T_(used, "table_rows_used", "gauge", "rows in use"),
        T_(memory, "table_memory_bytes", "gauge", "bytes of its mapping"),
        T_(full, "table_full_total", "counter",
           "new keys refused: it was full"),
        T_(expired, "table_expired_total", "counter",
           "rows reclaimed after their TTL"),
        T_(recovered, "table_recovered_total", "counter",
           "locks taken over from a process that died holding them"),
#undef T_
    };

    render_stat_families(out, stats, FPMD_ARRAY_LEN(stats), "shared table:",
                         "table", v->tables, v->ntables, sizeof(*v->tables),
                         offsetof(struct fpmd_status_table, name));
}

#undef STAT_

/* Per user process: up (1, or 0 while it waits out a back-off) and its
 * restarts. */
static void
render_user_process_metrics(FILE *out, const struct fpmd_status_snapshot *v)
{
    static const struct {
        const char *name, *type, *help;
    } fam[] = {
        {"user_process_up", "gauge",
         "user process: 1 running, 0 waiting to start again."},
        {"user_process_restarts_total", "counter",
         "user process: started again after an end nobody asked for."},
    };
    char instance[16];

    if (v->nuser_processes == 0)
        return;
    for (size_t k = 0; k < FPMD_ARRAY_LEN(fam); k++) {
        family(out, fam[k].name, fam[k].type, fam[k].help);
        for (size_t i = 0; i < v->nuser_processes; i++) {
            const struct fpmd_status_user_process *u = &v->user_processes[i];

            snprintf(instance, sizeof(instance), "%u", u->instance);
            fprintf(out, "fpmd_%s", fam[k].name);
            label(out, "process", u->name, true);
            label(out, "instance", instance, false);
            fprintf(out, "} %llu\n", k == 0 ? (unsigned long long) (u->pid != 0)
                                            : (unsigned long long) u->restarts);
        }
    }
}

static void
render_upstream_metrics(FILE *out, const struct fpmd_status_snapshot *v)
{
    static const char *const states[] = {"closed", "open", "half_open"};

    if (v->nupstream_servers == 0)
        return;
    family(out, "upstream_circuit", "gauge", "an upstream server's circuit "
           "breaker: 1 for the state it is in.");
    for (size_t i = 0; i < v->nupstream_servers; i++) {
        const struct fpmd_status_upstream_server *u = &v->upstream_servers[i];

        for (size_t s = 0; s < FPMD_ARRAY_LEN(states); s++) {
            fputs("fpmd_upstream_circuit", out);
            label(out, "upstream", u->upstream, true);
            label(out, "server", u->server, false);
            label(out, "state", states[s], false);
            fprintf(out, "} %d\n", strcmp(u->circuit, states[s]) == 0);
        }
    }
    family(out, "upstream_circuit_opened_total", "counter", "times an "
           "upstream server's circuit opened.");
    for (size_t i = 0; i < v->nupstream_servers; i++) {
        fputs("fpmd_upstream_circuit_opened_total", out);
        label(out, "upstream", v->upstream_servers[i].upstream, true);
        label(out, "server", v->upstream_servers[i].server, false);
        fprintf(out, "} %llu\n",
                (unsigned long long) v->upstream_servers[i].opened);
    }
    family(out, "upstream_circuit_refused_total", "counter", "calls an "
           "upstream server's open circuit refused.");
    for (size_t i = 0; i < v->nupstream_servers; i++) {
        fputs("fpmd_upstream_circuit_refused_total", out);
        label(out, "upstream", v->upstream_servers[i].upstream, true);
        label(out, "server", v->upstream_servers[i].server, false);
        fprintf(out, "} %llu\n",
                (unsigned long long) v->upstream_servers[i].refused);
    }
}

static void
render_task_metrics(FILE *out, const struct fpmd_status_snapshot *v)
{
    const struct fpmd_status_tasks *t = v->tasks;
    const struct {
        const char *name, *type, *help;
        uint64_t value;
    } m[] = {
        {"task_processes", "gauge", "task processes running.",
         t ? t->workers : 0},
        {"tasks_running", "gauge", "tasks running in the task processes.",
         t ? t->running : 0},
        {"tasks_queued", "gauge", "tasks waiting in the queue.",
         t ? t->queued : 0},
        {"tasks_done_total", "counter", "tasks that returned FPMD_OK.",
         t ? t->done : 0},
        {"tasks_failed_total", "counter", "tasks that failed or could not "
         "run.", t ? t->failed : 0},
        {"tasks_timed_out_total", "counter", "task awaits that gave up at "
         "tasks.timeout.", t ? t->timed_out : 0},
        {"tasks_rejected_total", "counter", "tasks not queued: the queue "
         "was full.", t ? t->rejected : 0},
        {"tasks_dropped_total", "counter", "queued tasks never finished: "
         "their process died, or fpmd stopped first.", t ? t->dropped : 0},
    };

    if (t == NULL)
        return;
    for (size_t i = 0; i < FPMD_ARRAY_LEN(m); i++) {
        family(out, m[i].name, m[i].type, m[i].help);
        fprintf(out, "fpmd_%s %llu\n", m[i].name,
                (unsigned long long) m[i].value);
    }
}

static void
route_labels(FILE *out, const char *family_name, const char *suffix,
             const struct fpmd_status_route *r, const char *side)
{
    fprintf(out, "fpmd_%s%s", family_name, suffix);
    label(out, "route", r->label, true);
    label(out, "handler", r->handler, false);
    if (side != NULL)
        label(out, "side", side, false);
}

/* A quantile in seconds; NaN when nothing was measured, as a summary
 * with no observations has it. */
static void
put_quantile(FILE *out, uint64_t count, double ms)
{
    if (count == 0)
        fputs(" NaN\n", out);
    else
        fprintf(out, " %.6f\n", ms / 1000.0);
}

/* Per config route and side (native, legacy): latency as a summary
 * (quantiles from the √2 histogram, sum and count exact) and errors;
 * per route the shadow and canary counters. */
static void
render_route_metrics(FILE *out, const struct fpmd_status_snapshot *v)
{
    static const char *const sides[2] = {"native", "legacy"};
    static const struct {
        const char *name, *help;
        size_t off;
    } counters[] = {
        {"route_shadow_compared_total", "shadow answers compared.",
         offsetof(struct fpmd_status_route, shadow_compared)},
        {"route_shadow_mismatches_total", "shadow answers that differed.",
         offsetof(struct fpmd_status_route, shadow_mismatches)},
        {"route_shadow_errors_total", "shadow calls that failed.",
         offsetof(struct fpmd_status_route, shadow_errors)},
        {"route_canary_fallbacks_total", "canary fallbacks to legacy.",
         offsetof(struct fpmd_status_route, canary_fallbacks)},
        {"route_rate_limited_total", "requests answered 429 by the route's "
         "rate_limit.", offsetof(struct fpmd_status_route, rate_limited)},
        {"route_concurrency_refused_total", "requests answered 503 by the "
         "route's concurrency bound.",
         offsetof(struct fpmd_status_route, concurrency_refused)},
    };

    if (v->nroutes == 0)
        return;
    family(out, "route_duration_seconds", "summary",
           "time to answer, per config route and side, summed over the "
           "workers (quantiles about +-20%).");
    for (size_t i = 0; i < v->nroutes; i++) {
        const struct fpmd_status_route *r = &v->routes[i];

        for (int s = 0; s < 2; s++) {
            const struct fpmd_status_side *sd = s ? &r->legacy : &r->native;

            route_labels(out, "route_duration_seconds", "", r, sides[s]);
            fputs(",quantile=\"0.5\"}", out);
            put_quantile(out, sd->requests, sd->p50_ms);
            route_labels(out, "route_duration_seconds", "", r, sides[s]);
            fputs(",quantile=\"0.99\"}", out);
            put_quantile(out, sd->requests, sd->p99_ms);
            route_labels(out, "route_duration_seconds", "_sum", r, sides[s]);
            fprintf(out, "} %.6f\n", (double) sd->sum_us / 1e6);
            route_labels(out, "route_duration_seconds", "_count", r,
                         sides[s]);
            fprintf(out, "} %llu\n", (unsigned long long) sd->requests);
        }
    }
    family(out, "route_errors_total", "counter",
           "answers that were a 5xx or cut short, per config route and "
           "side.");
    for (size_t i = 0; i < v->nroutes; i++) {
        for (int s = 0; s < 2; s++) {
            route_labels(out, "route_errors_total", "", &v->routes[i],
                         sides[s]);
            fprintf(out, "} %llu\n", (unsigned long long)
                    (s ? v->routes[i].legacy.errors
                       : v->routes[i].native.errors));
        }
    }
    for (size_t c = 0; c < FPMD_ARRAY_LEN(counters); c++) {
        family(out, counters[c].name, "counter", counters[c].help);
        for (size_t i = 0; i < v->nroutes; i++) {
            uint64_t value;

            memcpy(&value, (const char *) &v->routes[i] + counters[c].off,
                   sizeof(value));
            route_labels(out, counters[c].name, "", &v->routes[i], NULL);
            fprintf(out, "} %llu\n", (unsigned long long) value);
        }
    }
}

/* --- histograms ------------------------------------------------------- */

/* le bounds of the histogram families: every other bound of the √2
 * buckets (50 us x 2^(j/2) for even j), 100 us to 1.6384 s, so that
 * each cumulative count is exact; slower answers count in +Inf only. */
#define LE_FIRST 2
#define LE_LAST 30

/* The labels of one histogram's samples, after its name: "{a=\"x\""
 * with no closing brace; NULL for a histogram without labels. */
typedef void (*labels_fn)(FILE *out, const void *arg);

static void
put_labels(FILE *out, labels_fn labels, const void *arg, const char *le)
{
    if (labels != NULL) {
        labels(out, arg);
        if (le != NULL)
            fprintf(out, ",le=\"%s\"", le);
        fputs("}", out);
    } else if (le != NULL) {
        fprintf(out, "{le=\"%s\"}", le);
    }
}

/* One histogram's samples (Prometheus: cumulative _bucket counts up to
 * le="+Inf", which is _count, then _sum). */
static void
put_hist(FILE *out, const char *name, labels_fn labels, const void *arg,
         const struct fpmd_status_hist *h)
{
    uint64_t seen = 0;
    char le[32];
    unsigned j = 0;

    for (unsigned b = LE_FIRST; b <= LE_LAST; b += 2) {
        for (; j < b; j++)
            seen += h->bucket[j];
        snprintf(le, sizeof(le), "%g", (double) (50ULL << (b / 2)) / 1e6);
        fprintf(out, "fpmd_%s_bucket", name);
        put_labels(out, labels, arg, le);
        fprintf(out, " %llu\n", (unsigned long long) seen);
    }
    for (; j < FPMD_STATUS_HIST; j++)
        seen += h->bucket[j];
    fprintf(out, "fpmd_%s_bucket", name);
    put_labels(out, labels, arg, "+Inf");
    fprintf(out, " %llu\nfpmd_%s_sum", (unsigned long long) seen, name);
    put_labels(out, labels, arg, NULL);
    fprintf(out, " %.6f\nfpmd_%s_count", (double) h->sum_us / 1e6, name);
    put_labels(out, labels, arg, NULL);
    fprintf(out, " %llu\n", (unsigned long long) seen);
}

struct route_side {
    const struct fpmd_status_route *r;
    const char *side;
};

static void
route_side_labels(FILE *out, const void *arg)
{
    const struct route_side *rs = arg;

    label(out, "route", rs->r->label, true);
    label(out, "handler", rs->r->handler, false);
    label(out, "side", rs->side, false);
}

static void
pool_labels(FILE *out, const void *arg)
{
    label(out, "pool", arg, true);
}

/* Route latencies, pool waits and loop lag as Prometheus histograms:
 * histogram_quantile() over any set of them, unlike the summary's
 * quantiles, which cannot be added up. */
static void
render_histograms(FILE *out, const struct fpmd_status_snapshot *v)
{
    static const char *const sides[2] = {"native", "legacy"};
    char pid[24];

    if (v->route_hists != NULL && v->nroutes > 0) {
        family(out, "route_request_duration_seconds", "histogram",
               "time to answer, per config route and side, summed over "
               "the workers.");
        for (size_t i = 0; i < v->nroutes; i++) {
            for (int s = 0; s < 2; s++) {
                struct route_side rs = {&v->routes[i], sides[s]};

                put_hist(out, "route_request_duration_seconds",
                         route_side_labels, &rs, &v->route_hists[2 * i + s]);
            }
        }
    }
    if (v->backend_waits != NULL && v->nbackends > 0) {
        family(out, "pool_wait_seconds", "histogram",
               "a call's wait for a connection of its pool, 0 when one "
               "was idle (HTTP upstreams queue inside libcurl: 0).");
        for (size_t i = 0; i < v->nbackends; i++)
            put_hist(out, "pool_wait_seconds", pool_labels,
                     v->backends[i].name, &v->backend_waits[i]);
    }
    if (v->proc_lag_max_us == NULL)
        return;
    family(out, "loop_lag_seconds", "histogram",
           "how late the workers' event loops ran a 100 ms timer.");
    put_hist(out, "loop_lag_seconds", NULL, NULL, &v->loop_lag);
    family(out, "loop_lag_max_seconds", "gauge",
           "a worker's event loop: the most a 100 ms timer was late in "
           "the last 10 to 20 s.");
    for (size_t p = 0; p < v->nprocs; p++) {
        snprintf(pid, sizeof(pid), "%d", (int) v->procs[p].pid);
        fputs("fpmd_loop_lag_max_seconds", out);
        label(out, "pid", pid, true);
        fprintf(out, "} %.6f\n", (double) v->proc_lag_max_us[p] / 1e6);
    }
}

/* ?openmetrics&full: php-fpm's per-process rows, which its OpenMetrics
 * page lacks, as one family per figure with a sample per process. */
static void
render_proc_metrics(FILE *out, const struct fpmd_status_snapshot *v)
{
    enum { STATE, START, REQUESTS, DURATION, CPU, MEMORY, LENGTH, IN_FLIGHT,
           CONNECTIONS, INFO };
    static const struct {
        const char *name, *type, *help;
    } fams[] = {
        [STATE] = {"process_state", "gauge",
                   "1 for the process's state, php-fpm's name in label "
                   "state."},
        [START] = {"process_start_time_seconds", "gauge",
                   "when the process started, seconds since the epoch."},
        [REQUESTS] = {"process_requests_total", "counter",
                      "requests the process answered."},
        [DURATION] = {"process_request_duration_seconds", "gauge",
                      "php-fpm's request duration: the oldest request in "
                      "flight so far, else the last one."},
        [CPU] = {"process_last_request_cpu_seconds", "gauge",
                 "CPU time of the last request, 0 while one runs."},
        [MEMORY] = {"process_last_request_memory_bytes", "gauge",
                    "peak memory of the last request, 0 while one runs."},
        [LENGTH] = {"process_request_content_length_bytes", "gauge",
                    "request body length of the row's request."},
        [IN_FLIGHT] = {"process_in_flight_requests", "gauge",
                       "requests the process runs."},
        [CONNECTIONS] = {"process_connections", "gauge",
                         "connections the process holds open."},
        [INFO] = {"process_request_info", "gauge",
                  "1, with the row's request in the labels."},
    };
    char pid[24];

    for (size_t fam = 0; fam < FPMD_ARRAY_LEN(fams); fam++) {
        family(out, fams[fam].name, fams[fam].type, fams[fam].help);
        for (size_t p = 0; p < v->nprocs; p++) {
            const struct fpmd_status_proc *s = &v->procs[p];
            struct row_figures x = row_figures(v, s);

            snprintf(pid, sizeof(pid), "%d", (int) s->pid);
            fprintf(out, "fpmd_%s", fams[fam].name);
            label(out, "pid", pid, true);
            switch (fam) {
            case STATE:
                label(out, "state", state_name(s->state), false);
                fputs("} 1\n", out);
                break;
            case START:
                fprintf(out, "} %llu\n",
                        (unsigned long long) (s->start_us / 1000000));
                break;
            case REQUESTS:
                fprintf(out, "} %llu\n", (unsigned long long) s->requests);
                break;
            case DURATION:
                fprintf(out, "} %.6f\n", (double) x.duration_us / 1e6);
                break;
            case CPU:
                fprintf(out, "} %.6f\n", (double) x.cpu_us / 1e6);
                break;
            case MEMORY:
                fprintf(out, "} %llu\n", (unsigned long long) x.memory);
                break;
            case LENGTH:
                fprintf(out, "} %llu\n",
                        (unsigned long long) s->req.content_length);
                break;
            case IN_FLIGHT:
                fprintf(out, "} %u\n", (unsigned) s->in_flight);
                break;
            case CONNECTIONS:
                fprintf(out, "} %u\n", (unsigned) s->connections);
                break;
            default:
                label(out, "method", s->req.method, false);
                label(out, "uri", s->req.uri, false);
                label(out, "script", s->req.script, false);
                label(out, "user", s->req.user, false);
                fputs("} 1\n", out);
                break;
            }
        }
    }
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
        render_pool_metrics(out, v);
        render_backend_metrics(out, v);
        render_table_metrics(out, v);
        render_user_process_metrics(out, v);
        render_task_metrics(out, v);
        render_upstream_metrics(out, v);
        render_route_metrics(out, v);
        render_histograms(out, v);
        if (full)
            render_proc_metrics(out, v);
        fputs("# EOF\n", out);
        return ferror(out) ? FPMD_ERROR : FPMD_OK;
    }
    if (fmt == FPMD_STATUS_JSON)
        fputs("{", out);
    else if (fmt == FPMD_STATUS_XML)
        fputs("<?xml version=\"1.0\" ?>\n<status>\n", out);
    else if (fmt == FPMD_STATUS_HTML)
        fputs("<!DOCTYPE html PUBLIC \"-//W3C//DTD XHTML 1.0 Strict//EN\" "
              "\"http://www.w3.org/TR/xhtml1/DTD/xhtml1-strict.dtd\">\n"
              "<html xmlns=\"http://www.w3.org/1999/xhtml\" xml:lang=\"en\" "
              "lang=\"en\">\n<head><title>PHP-FPM Status Page</title>"
              "</head>\n<body>\n<table>\n", out);
    put_fields(out, fmt, TOP, f, pool_fields(v, f), true);
    /* Plain text keeps fpmd's pool figures and blocks before the process
     * rows: a reader that splits the page at the rows' stars takes them
     * as the pool's, never as the last process's. Elsewhere they follow
     * php-fpm's whole page. */
    if (full && fmt != FPMD_STATUS_TEXT && fmt != FPMD_STATUS_HTML)
        render_procs(out, v, fmt);
    n = pool_extra_fields(v, f);
    put_fields(out, fmt, TOP, f, n, false);
    if (fmt == FPMD_STATUS_HTML) {
        fputs("</table>\n", out);
        if (full)
            render_procs(out, v, fmt);
    }
    render_list(out, v, fmt, "backends", "backend", v->nbackends,
                list_backend);
    render_list(out, v, fmt, "routes", "route", v->nroutes, list_route);
    render_list(out, v, fmt, "tables", "table", v->ntables, list_table);
    render_list(out, v, fmt, "user_processes", "user_process",
                v->nuser_processes, list_user_process);
    render_list(out, v, fmt, "upstream_servers", "upstream_server",
                v->nupstream_servers, list_upstream_server);
    if (full && fmt == FPMD_STATUS_TEXT)
        render_procs(out, v, fmt);
    if (fmt == FPMD_STATUS_JSON)
        fputs("}", out);
    else if (fmt == FPMD_STATUS_XML)
        fputs("</status>", out);
    else if (fmt == FPMD_STATUS_HTML)
        fputs("</body></html>", out);
    return ferror(out) ? FPMD_ERROR : FPMD_OK;
}
