/* SPDX-License-Identifier: BSD-2-Clause */
/* fpmd-migrate scan: the legacy PHP routes of nginx access logs ranked by
 * hits and by total time, the "what is left to port" report. One
 * streaming pass with a fixed buffer: memory is that buffer plus the
 * route table, which --max-routes bounds (later routes count as "other"),
 * whatever the size of the logs. With --config, each route is asked of
 * the router fpmd would build, and marked native unless it goes to
 * php-fpm. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fpmd/conf.h"
#include "fpmd/module.h"
#include "fpmd/router.h"
#include "migrate/tool/log_line.h"
#include "migrate/tool/migrate_cli.h"

#define DEFAULT_TOP 20
#define DEFAULT_MAX_ROUTES 100000
#define MAX_ROUTES_LIMIT (1u << 24)
#define DEFAULT_MAX_LINE (64 * 1024)
#define MAX_LINE_LIMIT (16 * 1024 * 1024)
#define SAMPLES 5               /* bad lines of each kind shown */
#define SAMPLE_BYTES 160

/* p99 from a histogram of milliseconds per route: exact below 8 ms, then
 * four buckets per power of two (an answer within 25% above) up to 2^23
 * ms, two hours, the last one holding anything longer too. The route's
 * maximum caps the answer. */
#define HIST_EXACT 8
#define HIST_BUCKETS (HIST_EXACT + 4 * 20)

struct route {
    char *route;                /* the key; the same allocation holds the
                                 * decoded path after its NUL */
    const char *path;
    size_t route_len, script_len, query_off;
    uint64_t hash;
    uint64_t hits, timed, total_us, max_us, n4xx, n5xx;
    uint64_t *hist;             /* NULL until the route's first time */
    char method[FPMD_LOG_METHOD_MAX + 1];
    int native;
};

struct table {
    struct route *v;
    size_t n, cap, max;
    uint32_t *slots;            /* index + 1, 0: free; open addressing */
    size_t nslots;
};

enum sort {
    SORT_BOTH = 0,
    SORT_HITS,
    SORT_TIME,
};

struct scan {
    const char *format, *config;
    const char *params[FPMD_LOG_PARAMS_MAX];
    size_t nparams;
    size_t top, max_line;
    int json;
    enum sort sort;

    struct fpmd_log_format *fmt;
    struct fpmd_conf *conf;     /* the router points into it */
    struct fpmd_router *router;
    struct table t;
    struct fpmd_log_route r;    /* the current line's */
    unsigned shown_unparsed, shown_long;    /* lines shown on stderr */

    uint64_t lines, too_long, unparsed, no_request, static_other, legacy;
    uint64_t other_hits, other_timed, other_us;     /* table full, long key */
    uint64_t native_hits;
    size_t native_routes;
};

static void
usage(FILE *out)
{
    fprintf(out,
        "Usage: fpmd-migrate scan [OPTIONS] LOG...   (LOG - is stdin)\n"
        "Ranks the legacy PHP routes of nginx access logs by hits and by\n"
        "total time.\n"
        "  --format FMT         the log_format that wrote the logs, as in\n"
        "                       nginx.conf (default: combined, which has no\n"
        "                       time; add $request_time to rank by time)\n"
        "  --config FILE        mark the routes fpmd FILE serves natively\n"
        "  --route-param NAME   a query parameter that picks a front\n"
        "                       controller's page (repeat; default r route\n"
        "                       action act do c m a controller module page)\n"
        "  --top N              rows per ranking (default %d, 0: all)\n"
        "  --sort hits|time     one ranking only\n"
        "  --json               machine-readable output\n"
        "  --max-routes N       routes kept (default %d; beyond: other)\n"
        "  --max-line SIZE      longer lines are skipped (default 64k)\n",
        DEFAULT_TOP, DEFAULT_MAX_ROUTES);
}

static int
parse_count(const char *s, size_t min, size_t max, size_t *out)
{
    char *end;
    unsigned long long v;

    if (s[0] < '0' || s[0] > '9')
        return FPMD_ERROR;
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < min || v > max)
        return FPMD_ERROR;
    *out = (size_t) v;
    return FPMD_OK;
}

static int
parse_args(struct scan *s, int argc, char **argv)
{
    static const struct option longopts[] = {
        {"format", required_argument, NULL, 'f'},
        {"config", required_argument, NULL, 'c'},
        {"route-param", required_argument, NULL, 'p'},
        {"top", required_argument, NULL, 'n'},
        {"sort", required_argument, NULL, 's'},
        {"json", no_argument, NULL, 'j'},
        {"max-routes", required_argument, NULL, 'R'},
        {"max-line", required_argument, NULL, 'L'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    size_t max_line = DEFAULT_MAX_LINE;
    int c;

    s->top = DEFAULT_TOP;
    s->t.max = DEFAULT_MAX_ROUTES;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'f':
            s->format = optarg;
            break;
        case 'c':
            s->config = optarg;
            break;
        case 'p':
            if (s->nparams == FPMD_LOG_PARAMS_MAX || optarg[0] == '\0'
                || strlen(optarg) > FPMD_LOG_PARAM_NAME_MAX) {
                fprintf(stderr, "fpmd-migrate: --route-param \"%s\": at "
                        "most %d names of 1 to %d bytes\n", optarg,
                        FPMD_LOG_PARAMS_MAX, FPMD_LOG_PARAM_NAME_MAX);
                return FPMD_ERROR;
            }
            s->params[s->nparams++] = optarg;
            break;
        case 'n':
            if (parse_count(optarg, 0, SIZE_MAX, &s->top) != FPMD_OK) {
                fprintf(stderr, "fpmd-migrate: --top \"%s\": not a count\n",
                        optarg);
                return FPMD_ERROR;
            }
            break;
        case 's':
            if (strcmp(optarg, "hits") == 0) {
                s->sort = SORT_HITS;
            } else if (strcmp(optarg, "time") == 0) {
                s->sort = SORT_TIME;
            } else {
                fprintf(stderr, "fpmd-migrate: --sort \"%s\": hits or "
                        "time\n", optarg);
                return FPMD_ERROR;
            }
            break;
        case 'j':
            s->json = 1;
            break;
        case 'R':
            if (parse_count(optarg, 1, MAX_ROUTES_LIMIT, &s->t.max)
                != FPMD_OK) {
                fprintf(stderr, "fpmd-migrate: --max-routes \"%s\": 1 to "
                        "%u\n", optarg, MAX_ROUTES_LIMIT);
                return FPMD_ERROR;
            }
            break;
        case 'L':
            if (fpmd_conf_parse_size(optarg, &max_line) != FPMD_OK
                || max_line < 1024 || max_line > MAX_LINE_LIMIT) {
                fprintf(stderr, "fpmd-migrate: --max-line \"%s\": a size "
                        "from 1k to 16m\n", optarg);
                return FPMD_ERROR;
            }
            break;
        case 'h':
            usage(stdout);
            return FPMD_DONE;
        default:
            usage(stderr);
            return FPMD_ERROR;
        }
    }
    s->max_line = max_line;
    if (s->nparams == 0) {
        for (size_t i = 0; i < fpmd_log_route_params_ndefault; i++)
            s->params[s->nparams++] = fpmd_log_route_params_default[i];
    }
    if (optind == argc) {
        fprintf(stderr, "fpmd-migrate: scan: no LOG given (- for stdin)\n");
        usage(stderr);
        return FPMD_ERROR;
    }
    return FPMD_OK;
}

/* --- the route table ------------------------------------------------- */

static uint64_t
hash_route(const struct fpmd_log_route *r)
{
    uint64_t h = 14695981039346656037ULL;

    for (const char *p = r->method; *p != '\0'; p++)
        h = (h ^ (unsigned char) *p) * 1099511628211ULL;
    h = (h ^ ' ') * 1099511628211ULL;
    for (size_t i = 0; i < r->key_len; i++)
        h = (h ^ (unsigned char) r->key[i]) * 1099511628211ULL;
    return h;
}

static void
table_rehash(struct table *t, size_t nslots)
{
    uint32_t *slots = calloc(nslots, sizeof(*slots));

    FPMD_ASSERT(slots != NULL);
    for (size_t i = 0; i < t->n; i++) {
        size_t j = t->v[i].hash & (nslots - 1);

        while (slots[j] != 0)
            j = (j + 1) & (nslots - 1);
        slots[j] = (uint32_t) (i + 1);
    }
    free(t->slots);
    t->slots = slots;
    t->nslots = nslots;
}

/* The row of r, added if new; NULL when the table is full. */
static struct route *
table_get(struct table *t, const struct fpmd_log_route *r)
{
    uint64_t h = hash_route(r);
    size_t i = h & (t->nslots - 1);
    struct route *rt;

    for (; t->slots[i] != 0; i = (i + 1) & (t->nslots - 1)) {
        rt = &t->v[t->slots[i] - 1];
        if (rt->hash == h && rt->route_len == r->key_len
            && strcmp(rt->method, r->method) == 0
            && memcmp(rt->route, r->key, r->key_len) == 0)
            return rt;
    }
    if (t->n == t->max)
        return NULL;
    if (t->n == t->cap) {
        size_t cap = t->cap * 2 < t->max ? t->cap * 2 : t->max;
        struct route *v = realloc(t->v, cap * sizeof(*v));

        FPMD_ASSERT(v != NULL);
        t->v = v;
        t->cap = cap;
    }
    if ((t->n + 1) * 2 > t->nslots) {
        table_rehash(t, t->nslots * 2);
        for (i = h & (t->nslots - 1); t->slots[i] != 0;
             i = (i + 1) & (t->nslots - 1))
            ;
    }
    rt = &t->v[t->n];
    memset(rt, 0, sizeof(*rt));
    rt->route = malloc(r->key_len + 1 + r->path_len + 1);
    FPMD_ASSERT(rt->route != NULL);
    memcpy(rt->route, r->key, r->key_len + 1);
    memcpy(rt->route + r->key_len + 1, r->path, r->path_len + 1);
    rt->path = rt->route + r->key_len + 1;
    rt->route_len = r->key_len;
    rt->script_len = r->script_len;
    rt->query_off = r->query_off;
    rt->hash = h;
    memcpy(rt->method, r->method, sizeof(rt->method));
    t->slots[i] = (uint32_t) (t->n + 1);
    t->n++;
    return rt;
}

static void
table_init(struct table *t)
{
    t->cap = t->max < 1024 ? t->max : 1024;
    t->v = malloc(t->cap * sizeof(*t->v));
    FPMD_ASSERT(t->v != NULL);
    table_rehash(t, 2048);
}

static void
table_free(struct table *t)
{
    for (size_t i = 0; i < t->n; i++) {
        free(t->v[i].route);
        free(t->v[i].hist);
    }
    free(t->v);
    free(t->slots);
}

static unsigned
bucket_of(uint64_t ms)
{
    unsigned k, b;

    if (ms < HIST_EXACT)
        return (unsigned) ms;
    k = 63 - (unsigned) __builtin_clzll(ms);          /* k >= 3 */
    b = HIST_EXACT + (k - 3) * 4 + (unsigned) ((ms >> (k - 2)) & 3);
    return b < HIST_BUCKETS ? b : HIST_BUCKETS - 1;
}

/* The largest value bucket b holds. */
static uint64_t
bucket_top(unsigned b)
{
    unsigned k, sub;

    if (b < HIST_EXACT)
        return b;
    if (b == HIST_BUCKETS - 1)
        return UINT64_MAX;
    k = 3 + (b - HIST_EXACT) / 4;
    sub = (b - HIST_EXACT) % 4;
    return (1ULL << k) + (uint64_t) (sub + 1) * (1ULL << (k - 2)) - 1;
}

/* Nearest rank: the smallest time at least 99% of the timed hits took no
 * more than, up to its bucket's resolution. */
static uint64_t
p99_ms(const struct route *rt)
{
    uint64_t want = (rt->timed * 99 + 99) / 100, seen = 0;
    uint64_t max_ms = rt->max_us / 1000;

    for (unsigned b = 0; b < HIST_BUCKETS; b++) {
        seen += rt->hist[b];
        if (seen >= want)
            return bucket_top(b) < max_ms ? bucket_top(b) : max_ms;
    }
    return max_ms;
}

static void
count_hit(struct route *rt, const struct fpmd_log_entry *e)
{
    rt->hits++;
    if (e->status >= 500 && e->status <= 599)
        rt->n5xx++;
    else if (e->status >= 400 && e->status <= 499)
        rt->n4xx++;
    if (e->time_us < 0)
        return;
    if (rt->hist == NULL) {
        rt->hist = calloc(HIST_BUCKETS, sizeof(*rt->hist));
        FPMD_ASSERT(rt->hist != NULL);
    }
    rt->timed++;
    rt->total_us += (uint64_t) e->time_us;
    if ((uint64_t) e->time_us > rt->max_us)
        rt->max_us = (uint64_t) e->time_us;
    rt->hist[bucket_of((uint64_t) e->time_us / 1000)]++;
}

/* --- reading ------------------------------------------------------------ */

/* The first lines that could not be used, with where they are; escaped
 * so that a log cannot write to the terminal. */
static void
sample(unsigned *shown, const char *name, uint64_t lineno, const char *why,
       const char *line, size_t len)
{
    if (*shown >= SAMPLES)
        return;
    (*shown)++;
    fprintf(stderr, "fpmd-migrate: %s:%llu: %s", name,
            (unsigned long long) lineno, why);
    if (line != NULL) {
        fputs(": \"", stderr);
        for (size_t i = 0; i < len && i < SAMPLE_BYTES; i++) {
            unsigned char c = (unsigned char) line[i];

            if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\')
                fprintf(stderr, "\\x%02X", c);
            else
                fputc(c, stderr);
        }
        fputs(len > SAMPLE_BYTES ? "\"..." : "\"", stderr);
    }
    fputc('\n', stderr);
}

static void
one_line(struct scan *s, char *line, size_t len, const char *name,
         uint64_t lineno)
{
    struct fpmd_log_entry e;
    struct route *rt;
    const char *why;
    int rc;

    rc = fpmd_log_line_parse(s->fmt, line, len, &e, &why);
    if (rc == FPMD_ERROR) {
        s->unparsed++;
        sample(&s->shown_unparsed, name, lineno, why, line, len);
        return;
    }
    if (rc == FPMD_DECLINED) {
        s->no_request++;
        return;
    }
    rc = fpmd_log_route_of(&e, s->params, s->nparams, &s->r);
    if (rc == FPMD_DECLINED) {
        s->static_other++;
        return;
    }
    s->legacy++;
    rt = rc == FPMD_OK ? table_get(&s->t, &s->r) : NULL;
    if (rt != NULL) {
        count_hit(rt, &e);
    } else {
        s->other_hits++;
        if (e.time_us >= 0) {
            s->other_timed++;
            s->other_us += (uint64_t) e.time_us;
        }
    }
}

static int
scan_fd(struct scan *s, int fd, const char *name)
{
    struct fpmd_log_reader rd;
    char *line;
    size_t len;
    int rc;

    if (fpmd_log_reader_init(&rd, fd, s->max_line) != FPMD_OK) {
        fprintf(stderr, "fpmd-migrate: %s: out of memory\n", name);
        return FPMD_ERROR;
    }
    while ((rc = fpmd_log_reader_next(&rd, &line, &len)) != FPMD_DONE) {
        if (rc == FPMD_ERROR) {
            fprintf(stderr, "fpmd-migrate: %s: %s\n", name,
                    strerror(errno));
            break;
        }
        s->lines++;
        if (rc == FPMD_DECLINED) {
            s->too_long++;
            sample(&s->shown_long, name, rd.lineno,
                   "longer than --max-line, skipped", NULL, 0);
            continue;
        }
        one_line(s, line, len, name, rd.lineno);
    }
    fpmd_log_reader_free(&rd);
    return rc == FPMD_DONE ? FPMD_OK : FPMD_ERROR;
}

static int
scan_file(struct scan *s, const char *path)
{
    int fd, rc;

    if (strcmp(path, "-") == 0)
        return scan_fd(s, STDIN_FILENO, "(stdin)");
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        fprintf(stderr, "fpmd-migrate: %s: %s\n", path, strerror(errno));
        return FPMD_ERROR;
    }
    rc = scan_fd(s, fd, path);
    if (close(fd) != 0 && rc == FPMD_OK) {
        fprintf(stderr, "fpmd-migrate: %s: %s\n", path, strerror(errno));
        rc = FPMD_ERROR;
    }
    return rc;
}

/* --- native routes ---------------------------------------------------- */

/* The loader's and the router's errors, one per line. */
static void
print_errors(const char *err)
{
    size_t len = strlen(err);

    fprintf(stderr, "%s%s", err, len > 0 && err[len - 1] != '\n' ? "\n"
            : "");
}

static int
load_router(struct scan *s)
{
    char err[8192];

    s->conf = fpmd_conf_load(s->config, err, sizeof(err));
    if (s->conf == NULL) {
        print_errors(err);
        return FPMD_ERROR;
    }
    err[0] = '\0';
    /* a module's handlers are routes like built-in ones (fpmd -t) */
    if (fpmd_modules_load(s->conf, err, sizeof(err)) == FPMD_OK)
        s->router = fpmd_router_build(s->conf, err, sizeof(err));
    if (s->router == NULL) {
        print_errors(err);
        return FPMD_ERROR;
    }
    return FPMD_OK;
}

/* Asks the router what fpmd would do with a request of the route: the
 * path, its script and path info, and the route's parameters as the
 * query. Native: a handler other than the pass-through has it (its own,
 * behind a shadow or canary split). */
static bool
is_native(struct fpmd_router *router, const struct route *rt)
{
    char script[FPMD_LOG_KEY_MAX + 1];
    struct fpmd_route_match m;
    struct fpmd_route_req q = {
        .method = rt->method,
        .path = rt->path,
        .script = script,
        .path_info = rt->path[rt->script_len] != '\0'
                     ? rt->path + rt->script_len : NULL,
        .query = rt->query_off != 0 ? rt->route + rt->query_off : NULL,
    };

    memcpy(script, rt->path, rt->script_len);
    script[rt->script_len] = '\0';
    return fpmd_router_match_req(router, &q, &m) == FPMD_OK
        && strcmp(fpmd_route_handler_name(m.route), "legacy") != 0;
}

/* --- the report ----------------------------------------------------- */

static int
cmp_hits(const void *a, const void *b)
{
    const struct route *x = *(const struct route *const *) a;
    const struct route *y = *(const struct route *const *) b;
    int c;

    if (x->hits != y->hits)
        return x->hits > y->hits ? -1 : 1;
    if (x->total_us != y->total_us)
        return x->total_us > y->total_us ? -1 : 1;
    c = strcmp(x->method, y->method);
    return c != 0 ? c : strcmp(x->route, y->route);
}

static int
cmp_time(const void *a, const void *b)
{
    const struct route *x = *(const struct route *const *) a;
    const struct route *y = *(const struct route *const *) b;
    int c;

    if (x->total_us != y->total_us)
        return x->total_us > y->total_us ? -1 : 1;
    if (x->hits != y->hits)
        return x->hits > y->hits ? -1 : 1;
    c = strcmp(x->method, y->method);
    return c != 0 ? c : strcmp(x->route, y->route);
}

static double
pct(uint64_t part, uint64_t whole)
{
    return whole == 0 ? 0.0 : 100.0 * (double) part / (double) whole;
}

static void
print_table(const struct scan *s, const char *title, struct route **v,
            size_t n)
{
    size_t rows = s->top == 0 || s->top > n ? n : s->top;

    printf("Legacy PHP routes by %s (%zu of %zu)\n", title, rows, n);
    printf("%4s %10s %6s %11s %9s %7s %6s %6s %s%-7s %s\n", "rank", "hits",
           "%hits", "total s", "avg ms", "p99 ms", "4xx", "5xx",
           s->router != NULL ? "native " : "", "method", "route");
    for (size_t i = 0; i < rows; i++) {
        const struct route *rt = v[i];
        char total[32] = "-", avg[32] = "-", p99[32] = "-";

        if (rt->timed > 0) {
            uint64_t ms = (rt->total_us + 500) / 1000;

            snprintf(total, sizeof(total), "%llu.%03llu",
                     (unsigned long long) (ms / 1000),
                     (unsigned long long) (ms % 1000));
            snprintf(avg, sizeof(avg), "%.1f",
                     (double) rt->total_us / (double) rt->timed / 1000.0);
            snprintf(p99, sizeof(p99), "%llu",
                     (unsigned long long) p99_ms(rt));
        }
        printf("%4zu %10llu %5.1f%% %11s %9s %7s %6llu %6llu %s%-7s %s\n",
               i + 1, (unsigned long long) rt->hits, pct(rt->hits,
               s->legacy), total, avg, p99, (unsigned long long) rt->n4xx,
               (unsigned long long) rt->n5xx,
               s->router == NULL ? "" : rt->native ? "yes    " : "no     ",
               rt->method, rt->route);
    }
    printf("\n");
}

static void
print_text(const struct scan *s, struct route **by_hits,
           struct route **by_time)
{
    uint64_t parsed = s->legacy + s->static_other;

    if (s->sort != SORT_TIME || by_time == NULL)
        print_table(s, "hits", by_hits, s->t.n);
    if (by_time != NULL)
        print_table(s, "total time", by_time, s->t.n);
    else if (!fpmd_log_format_timed(s->fmt))
        printf("No time in the log format ($request_time or "
               "$upstream_response_time): ranked by hits only.\n\n");
    printf("lines read     %llu\n", (unsigned long long) s->lines);
    printf("parsed         %llu\n", (unsigned long long) parsed);
    printf("skipped        %llu (%llu longer than %zu bytes, %llu not "
           "matching the format, %llu without a request line)\n",
           (unsigned long long) (s->too_long + s->unparsed + s->no_request),
           (unsigned long long) s->too_long, s->max_line,
           (unsigned long long) s->unparsed,
           (unsigned long long) s->no_request);
    printf("legacy PHP     %llu hits, %zu routes", (unsigned long long)
           s->legacy, s->t.n);
    if (s->other_hits > 0)
        printf(", %llu hits as other (over --max-routes or %d bytes)",
               (unsigned long long) s->other_hits, FPMD_LOG_KEY_MAX);
    printf("\nstatic/other   %llu hits\n", (unsigned long long)
           s->static_other);
    if (s->router != NULL)
        printf("native         %.1f%% of legacy hits (%zu of %zu routes) "
               "in %s\n", pct(s->native_hits, s->legacy), s->native_routes,
               s->t.n, s->config);
}

static void
json_route(const struct scan *s, const struct route *rt, size_t rank)
{
    printf("{\"rank\": %zu, \"method\": \"%s\", \"route\": \"%s\", "
           "\"hits\": %llu, \"pct\": %.3f, \"4xx\": %llu, \"5xx\": %llu",
           rank, rt->method, rt->route, (unsigned long long) rt->hits,
           pct(rt->hits, s->legacy), (unsigned long long) rt->n4xx,
           (unsigned long long) rt->n5xx);
    if (rt->timed > 0)
        printf(", \"timed\": %llu, \"total_us\": %llu, \"avg_ms\": %.3f, "
               "\"p99_ms\": %llu", (unsigned long long) rt->timed,
               (unsigned long long) rt->total_us,
               (double) rt->total_us / (double) rt->timed / 1000.0,
               (unsigned long long) p99_ms(rt));
    else
        printf(", \"timed\": 0, \"total_us\": null, \"avg_ms\": null, "
               "\"p99_ms\": null");
    if (s->router != NULL)
        printf(", \"native\": %s", rt->native ? "true" : "false");
    printf("}");
}

static void
json_list(const struct scan *s, const char *name, struct route **v)
{
    size_t rows = s->top == 0 || s->top > s->t.n ? s->t.n : s->top;

    printf(",\n \"%s\": [", name);
    for (size_t i = 0; i < rows; i++) {
        printf(i == 0 ? "\n  " : ",\n  ");
        json_route(s, v[i], i + 1);
    }
    printf("]");
}

/* Keys and methods are printable ASCII without '"' or '\' (log_line.h),
 * so they go into JSON strings as they are. */
static void
print_json(const struct scan *s, struct route **by_hits,
           struct route **by_time)
{
    printf("{\"lines\": {\"read\": %llu, \"parsed\": %llu, \"too_long\": "
           "%llu, \"unparsed\": %llu, \"no_request\": %llu},\n",
           (unsigned long long) s->lines,
           (unsigned long long) (s->legacy + s->static_other),
           (unsigned long long) s->too_long,
           (unsigned long long) s->unparsed,
           (unsigned long long) s->no_request);
    printf(" \"timed\": %s, \"legacy_hits\": %llu, \"routes\": %zu, "
           "\"static_other_hits\": %llu,\n", by_time != NULL ? "true"
           : "false", (unsigned long long) s->legacy, s->t.n,
           (unsigned long long) s->static_other);
    printf(" \"other\": {\"hits\": %llu, \"timed\": %llu, \"total_us\": "
           "%llu}", (unsigned long long) s->other_hits,
           (unsigned long long) s->other_timed,
           (unsigned long long) s->other_us);
    if (s->router != NULL)
        printf(",\n \"native_hits\": %llu, \"native_routes\": %zu, "
               "\"native_pct\": %.3f", (unsigned long long) s->native_hits,
               s->native_routes, pct(s->native_hits, s->legacy));
    if (s->sort != SORT_TIME || by_time == NULL)
        json_list(s, "by_hits", by_hits);
    if (by_time != NULL)
        json_list(s, "by_time", by_time);
    printf("\n}\n");
}

static void
report(struct scan *s)
{
    struct route **by_hits = NULL, **by_time = NULL;

    for (size_t i = 0; s->router != NULL && i < s->t.n; i++) {
        struct route *rt = &s->t.v[i];

        rt->native = is_native(s->router, rt);
        if (rt->native) {
            s->native_hits += rt->hits;
            s->native_routes++;
        }
    }
    by_hits = malloc((s->t.n + 1) * sizeof(*by_hits));
    FPMD_ASSERT(by_hits != NULL);
    for (size_t i = 0; i < s->t.n; i++)
        by_hits[i] = &s->t.v[i];
    if (fpmd_log_format_timed(s->fmt) && s->sort != SORT_HITS) {
        by_time = malloc((s->t.n + 1) * sizeof(*by_time));
        FPMD_ASSERT(by_time != NULL);
        memcpy(by_time, by_hits, s->t.n * sizeof(*by_time));
        qsort(by_time, s->t.n, sizeof(*by_time), cmp_time);
    }
    qsort(by_hits, s->t.n, sizeof(*by_hits), cmp_hits);
    if (s->json)
        print_json(s, by_hits, by_time);
    else
        print_text(s, by_hits, by_time);
    free(by_hits);
    free(by_time);
}

/* The report, then how many bad lines were not shown. 1 when lines were
 * skipped, as migrate_cli.h has it. */
static int
finish(struct scan *s)
{
    uint64_t skipped = s->unparsed + s->too_long;
    uint64_t shown = s->shown_unparsed + s->shown_long;

    report(s);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "fpmd-migrate: stdout: %s\n", strerror(errno));
        return FPMD_MIGRATE_EXIT_PROBLEMS;
    }
    if (skipped > shown)
        fprintf(stderr, "fpmd-migrate: %llu more lines skipped\n",
                (unsigned long long) (skipped - shown));
    return skipped > 0 ? FPMD_MIGRATE_EXIT_PROBLEMS : 0;
}

int
fpmd_migrate_scan(int argc, char **argv)
{
    struct scan *s = calloc(1, sizeof(*s));
    char err[256];
    int rc, status = 0;

    FPMD_ASSERT(s != NULL);
    rc = parse_args(s, argc, argv);
    if (rc != FPMD_OK) {
        free(s);
        return rc == FPMD_DONE ? 0 : FPMD_MIGRATE_EXIT_USAGE;
    }
    s->fmt = fpmd_log_format_compile(s->format, err, sizeof(err));
    if (s->fmt == NULL) {
        fprintf(stderr, "fpmd-migrate: --format: %s\n", err);
        free(s);
        return FPMD_MIGRATE_EXIT_USAGE;
    }
    if (s->config != NULL && load_router(s) != FPMD_OK) {
        status = FPMD_MIGRATE_EXIT_CONFIG;
        goto done;
    }
    table_init(&s->t);
    for (int i = optind; i < argc; i++) {
        if (scan_file(s, argv[i]) != FPMD_OK) {
            status = FPMD_MIGRATE_EXIT_NOINPUT;
            break;
        }
    }
    if (status == 0)
        status = finish(s);
    table_free(&s->t);
done:
    if (s->router != NULL)
        fpmd_router_free(s->router);
    if (s->conf != NULL)
        fpmd_conf_free(s->conf);
    fpmd_log_format_free(s->fmt);
    free(s);
    return status;
}
