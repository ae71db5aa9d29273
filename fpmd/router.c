/* SPDX-License-Identifier: BSD-2-Clause */
/* Route table construction and lookup. Registered handlers come from the
 * "fpmd_handlers" linker section, whose order is undefined: they are sorted
 * by name at first use so messages and `--routes` output are stable. */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fpmd/router.h"

/* An empty section must still link: weak bounds resolve to NULL. */
extern const struct fpmd_handler_def *__start_fpmd_handlers[]
    __attribute__((weak));
extern const struct fpmd_handler_def *__stop_fpmd_handlers[]
    __attribute__((weak));

struct path_entry {
    char *path;             /* NULL: empty slot */
    struct fpmd_route **routes;
    size_t nroutes;
};

struct fpmd_router {
    struct path_entry *slots;
    size_t nslots;          /* power of two */
    struct fpmd_route *routes;
    size_t nroutes;
};

static const struct fpmd_handler_def **handlers;
static size_t nhandlers;

static int
cmp_handler(const void *a, const void *b)
{
    const struct fpmd_handler_def *const *x = a, *const *y = b;

    return strcmp((*x)->name, (*y)->name);
}

static void
load_handlers(void)
{
    size_t n;

    if (handlers != NULL || __start_fpmd_handlers == NULL)
        return;
    n = (size_t) (__stop_fpmd_handlers - __start_fpmd_handlers);
    handlers = malloc((n ? n : 1) * sizeof(*handlers));
    FPMD_ASSERT(handlers != NULL);
    for (size_t i = 0; i < n; i++)
        handlers[i] = __start_fpmd_handlers[i];
    qsort(handlers, n, sizeof(*handlers), cmp_handler);
    nhandlers = n;
}

const struct fpmd_handler_def *
fpmd_handler_find(const char *name)
{
    size_t lo = 0, hi;

    load_handlers();
    hi = nhandlers;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(name, handlers[mid]->name);

        if (c == 0)
            return handlers[mid];
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

static uint64_t
hash_path(const char *s)
{
    uint64_t h = 14695981039346656037ULL;   /* FNV-1a */

    for (; *s != '\0'; s++) {
        h ^= (unsigned char) *s;
        h *= 1099511628211ULL;
    }
    return h;
}

static struct path_entry *
find_slot(const struct fpmd_router *r, const char *path)
{
    size_t mask = r->nslots - 1;
    size_t i = (size_t) hash_path(path) & mask;

    while (r->slots[i].path != NULL && strcmp(r->slots[i].path, path) != 0)
        i = (i + 1) & mask;
    return &r->slots[i];
}

/* 1 when method is one of the comma-separated tokens of list. */
static int
method_in(const char *list, const char *method)
{
    size_t mlen = strlen(method);
    const char *p = list;

    while (*p != '\0') {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t) (end - p) : strlen(p);

        if (len == mlen && strncmp(p, method, len) == 0)
            return 1;
        p += len;
        if (*p == ',')
            p++;
    }
    return 0;
}

/* Two routes collide when some method reaches both. */
static int
methods_overlap(const char *a, const char *b)
{
    const char *p;

    if (a == NULL || b == NULL)
        return 1;
    for (p = a; *p != '\0';) {
        char tok[32];
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t) (end - p) : strlen(p);

        if (len < sizeof(tok)) {
            memcpy(tok, p, len);
            tok[len] = '\0';
            if (method_in(b, tok))
                return 1;
        }
        p += len;
        if (*p == ',')
            p++;
    }
    return 0;
}

static void
err_append(char *err, size_t errlen, size_t *off, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (*off >= errlen)
        return;
    va_start(ap, fmt);
    n = vsnprintf(err + *off, errlen - *off, fmt, ap);
    va_end(ap);
    if (n > 0)
        *off += (size_t) n < errlen - *off ? (size_t) n : errlen - *off;
}

static char *
dup_or_null(const char *s)
{
    char *d;

    if (s == NULL || strcmp(s, "*") == 0)
        return NULL;
    d = strdup(s);
    FPMD_ASSERT(d != NULL);
    return d;
}

static char *
where_str(const char *file, unsigned line, unsigned column)
{
    char buf[512];

    if (column != 0)
        snprintf(buf, sizeof(buf), "%s:%u:%u", file, line, column);
    else
        snprintf(buf, sizeof(buf), "%s:%u", file, line);
    return strdup(buf);
}

/* Adds a route unless an identical one exists; refuses an overlapping one
 * that names another handler. */
static int
add_route(struct fpmd_router *r, const char *methods, const char *path,
          const struct fpmd_handler_def *h, char *where, char *err,
          size_t errlen, size_t *off)
{
    struct path_entry *e = find_slot(r, path);
    struct fpmd_route *rt, **grown;
    char *m = dup_or_null(methods);

    if (e->path != NULL) {
        for (size_t i = 0; i < e->nroutes; i++) {
            struct fpmd_route *o = e->routes[i];
            int same_methods = (o->methods == NULL && m == NULL)
                || (o->methods && m && strcmp(o->methods, m) == 0);

            if (!methods_overlap(o->methods, m))
                continue;
            if (o->handler == h && same_methods) {
                free(m);
                free(where);
                return FPMD_OK;
            }
            err_append(err, errlen, off,
                       "%s: route %s %s duplicates the one declared at %s\n",
                       where, m ? m : "*", path, o->where);
            free(m);
            free(where);
            return FPMD_ERROR;
        }
    }
    rt = &r->routes[r->nroutes++];
    rt->path = strdup(path);
    rt->methods = m;
    rt->handler = h;
    rt->where = where;
    FPMD_ASSERT(rt->path != NULL && where != NULL);
    if (e->path == NULL) {
        e->path = rt->path;
    }
    grown = realloc(e->routes, (e->nroutes + 1) * sizeof(*grown));
    FPMD_ASSERT(grown != NULL);
    e->routes = grown;
    e->routes[e->nroutes++] = rt;
    return FPMD_OK;
}

static int
add_builtin(struct fpmd_router *r, const char *name, const char *path,
            const struct fpmd_conf *conf, char *err, size_t errlen,
            size_t *off)
{
    const struct fpmd_handler_def *h;

    if (path == NULL || path[0] == '\0')
        return FPMD_OK;
    h = fpmd_handler_find(name);
    if (h == NULL) {
        err_append(err, errlen, off, "%s: built-in handler \"%s\" missing\n",
                   conf->file, name);
        return FPMD_ERROR;
    }
    return add_route(r, NULL, path, h, where_str(conf->file, 0, 0), err,
                     errlen, off);
}

struct fpmd_router *
fpmd_router_build(const struct fpmd_conf *conf, char *err, size_t errlen)
{
    struct fpmd_router *r;
    size_t max = conf->nroutes + 2, off = 0;
    int rc = FPMD_OK;

    load_handlers();
    max += nhandlers;
    if (errlen > 0)
        err[0] = '\0';
    r = calloc(1, sizeof(*r));
    FPMD_ASSERT(r != NULL);
    r->nslots = 16;
    while (r->nslots < max * 2)
        r->nslots *= 2;
    r->slots = calloc(r->nslots, sizeof(*r->slots));
    r->routes = calloc(max, sizeof(*r->routes));
    FPMD_ASSERT(r->slots != NULL && r->routes != NULL);

    for (size_t i = 0; i < nhandlers; i++) {
        const struct fpmd_handler_def *h = handlers[i];

        if (i > 0 && strcmp(handlers[i - 1]->name, h->name) == 0) {
            err_append(err, errlen, &off,
                       "%s:%d: handler \"%s\" also registered at %s:%d\n",
                       h->file, h->line, h->name, handlers[i - 1]->file,
                       handlers[i - 1]->line);
            rc = FPMD_ERROR;
        }
        if (h->path == NULL)
            continue;
        if (add_route(r, h->methods, h->path, h,
                      where_str(h->file, (unsigned) h->line, 0), err, errlen,
                      &off) != FPMD_OK)
            rc = FPMD_ERROR;
    }
    if (add_builtin(r, "status", conf->status.path, conf, err, errlen, &off)
            != FPMD_OK
        || add_builtin(r, "ping", conf->status.ping_path, conf, err, errlen,
                       &off) != FPMD_OK)
        rc = FPMD_ERROR;
    for (size_t i = 0; i < conf->nroutes; i++) {
        const struct fpmd_conf_route *cr = &conf->routes[i];
        const struct fpmd_handler_def *h = fpmd_handler_find(cr->handler);
        char *where = where_str(cr->pos.file ? cr->pos.file : conf->file,
                                cr->pos.line, cr->pos.column);

        if (h == NULL) {
            err_append(err, errlen, &off, "%s: unknown handler \"%s\"\n",
                       where, cr->handler);
            free(where);
            rc = FPMD_ERROR;
            continue;
        }
        if (add_route(r, cr->methods, cr->path, h, where, err, errlen, &off)
            != FPMD_OK)
            rc = FPMD_ERROR;
    }
    if (rc != FPMD_OK) {
        fpmd_router_free(r);
        return NULL;
    }
    return r;
}

void
fpmd_router_free(struct fpmd_router *r)
{
    if (r == NULL)
        return;
    for (size_t i = 0; i < r->nslots; i++)
        free(r->slots[i].routes);
    for (size_t i = 0; i < r->nroutes; i++) {
        free(r->routes[i].path);
        free(r->routes[i].methods);
        free(r->routes[i].where);
    }
    free(r->slots);
    free(r->routes);
    free(r);
}

static void
allow_append(char *allow, size_t allowlen, size_t *off, const char *m,
             size_t mlen)
{
    int n;

    if (*off >= allowlen)
        return;
    n = snprintf(allow + *off, allowlen - *off, "%s%.*s", *off ? ", " : "",
                 (int) mlen, m);
    if (n > 0)
        *off += (size_t) n < allowlen - *off ? (size_t) n : allowlen - *off;
}

int
fpmd_router_match(const struct fpmd_router *r, const char *method,
                  const char *path, const struct fpmd_route **out,
                  char *allow, size_t allowlen)
{
    const struct path_entry *e = find_slot(r, path);
    size_t off = 0;
    int has_get = 0, has_head = 0;

    if (e->path == NULL)
        return 404;
    for (size_t i = 0; i < e->nroutes; i++) {
        const struct fpmd_route *rt = e->routes[i];

        if (rt->methods == NULL || method_in(rt->methods, method)
            || (strcmp(method, "HEAD") == 0 && method_in(rt->methods, "GET"))) {
            *out = rt;
            return 200;
        }
    }
    if (allowlen > 0)
        allow[0] = '\0';
    for (size_t i = 0; i < e->nroutes; i++) {
        const char *p = e->routes[i]->methods;

        while (*p != '\0') {
            const char *end = strchr(p, ',');
            size_t len = end ? (size_t) (end - p) : strlen(p);

            has_get |= len == 3 && strncmp(p, "GET", 3) == 0;
            has_head |= len == 4 && strncmp(p, "HEAD", 4) == 0;
            allow_append(allow, allowlen, &off, p, len);
            p += len;
            if (*p == ',')
                p++;
        }
    }
    if (has_get && !has_head)
        allow_append(allow, allowlen, &off, "HEAD", 4);
    return 405;
}

void
fpmd_router_print(const struct fpmd_router *r, FILE *out)
{
    for (size_t i = 0; i < r->nroutes; i++) {
        const struct fpmd_route *rt = &r->routes[i];

        fprintf(out, "%-12s %-32s %-16s %s\n",
                rt->methods ? rt->methods : "*", rt->path, rt->handler->name,
                rt->where);
    }
}
