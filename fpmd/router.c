/* SPDX-License-Identifier: BSD-2-Clause */
/* Route table construction and lookup. Handlers register themselves from
 * constructors in an undefined order: they are sorted by name at first use
 * so messages and `--routes` output are stable. */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fpmd/router.h"
#include "fpmd/uri.h"

struct route_list {
    struct fpmd_route **v;
    size_t n;
};

struct path_entry {
    char *path;             /* NULL: empty slot */
    struct route_list routes;
};

/* One segment of the pattern tree. */
struct seg_node {
    char *seg;              /* literal text, or the {param} name */
    struct seg_node **kids; /* literal children */
    size_t nkids;
    struct seg_node *param; /* the {name} child */
    struct route_list here; /* patterns ending at this node */
    struct route_list wild; /* "this/ *" patterns */
};

struct cache_slot {
    char path[FPMD_ROUTE_CACHE_PATH];
    char method[16];
    int status;
    struct fpmd_route_match m;
};

/* Shims by script, each list in config order. */
struct shim_slot {
    const char *script;     /* NULL: empty slot */
    struct route_list shims;
};

struct fpmd_router {
    struct shim_slot *shim_slots;
    size_t nshim_slots;     /* power of two; 0: no script shims */
    struct route_list prefix_shims;
    size_t nshims;
    struct path_entry *slots;
    size_t nslots;          /* power of two */
    struct fpmd_route *routes;
    size_t nroutes;
    struct seg_node root;
    size_t npatterns;
    struct cache_slot *cache;
    uint64_t cache_hits, cache_misses;
};

static const struct fpmd_handler_def **handlers;
static size_t nhandlers, handlers_cap;
static int handlers_sorted;

void
fpmd_handler_register(const struct fpmd_handler_def *def)
{
    if (nhandlers == handlers_cap) {
        size_t cap = handlers_cap ? handlers_cap * 2 : 32;
        const struct fpmd_handler_def **grown =
            realloc(handlers, cap * sizeof(*grown));

        FPMD_ASSERT(grown != NULL);
        handlers = grown;
        handlers_cap = cap;
    }
    handlers[nhandlers++] = def;
    handlers_sorted = 0;
}

static int
cmp_handler(const void *a, const void *b)
{
    const struct fpmd_handler_def *const *x = a, *const *y = b;
    int c = strcmp((*x)->name, (*y)->name);

    if (c == 0)
        c = strcmp((*x)->file, (*y)->file);
    return c != 0 ? c : (*x)->line - (*y)->line;
}

static void
sort_handlers(void)
{
    if (handlers_sorted)
        return;
    if (nhandlers > 0)
        qsort(handlers, nhandlers, sizeof(*handlers), cmp_handler);
    handlers_sorted = 1;
}

const struct fpmd_handler_def *
fpmd_handler_find(const char *name)
{
    size_t lo = 0, hi;

    sort_handlers();
    hi = nhandlers;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(name, handlers[mid]->name);

        if (c == 0) {
            while (mid > 0 && strcmp(name, handlers[mid - 1]->name) == 0)
                mid--;
            return handlers[mid];
        }
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

/* The slot of path, whose hash_path() is h. */
static struct path_entry *
find_slot_h(const struct fpmd_router *r, const char *path, uint64_t h)
{
    size_t mask = r->nslots - 1;
    size_t i = (size_t) h & mask;

    while (r->slots[i].path != NULL && strcmp(r->slots[i].path, path) != 0)
        i = (i + 1) & mask;
    return &r->slots[i];
}

static struct path_entry *
find_slot(const struct fpmd_router *r, const char *path)
{
    return find_slot_h(r, path, hash_path(path));
}

/* 1 when method is one of the comma-separated tokens of list. */
bool
fpmd_method_in(const char *list, const char *method)
{
    size_t mlen = strlen(method);
    const char *p = list;

    while (*p != '\0') {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t) (end - p) : strlen(p);

        if (len == mlen && strncmp(p, method, len) == 0)
            return true;
        p += len;
        if (*p == ',')
            p++;
    }
    return false;
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
            if (fpmd_method_in(b, tok))
                return 1;
        }
        p += len;
        if (*p == ',')
            p++;
    }
    return 0;
}

static void err_append(char *err, size_t errlen, size_t *off,
                       const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

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

static void
list_push(struct route_list *l, struct fpmd_route *rt)
{
    struct fpmd_route **grown = realloc(l->v, (l->n + 1) * sizeof(*grown));

    FPMD_ASSERT(grown != NULL);
    l->v = grown;
    l->v[l->n++] = rt;
}

/* Refuses a route that a method of an existing one on the same path or
 * pattern also reaches, unless it is the very same route again (a config
 * route repeating a handler's own declaration): 1 = add, 0 = skip it,
 * -1 = refused. */
static int
check_overlap(const struct route_list *l, const char *m, const char *path,
              const struct fpmd_handler_def *h, const char *where, char *err,
              size_t errlen, size_t *off)
{
    for (size_t i = 0; i < l->n; i++) {
        const struct fpmd_route *o = l->v[i];
        int same_methods = (o->methods == NULL && m == NULL)
            || (o->methods && m && strcmp(o->methods, m) == 0);

        if (!methods_overlap(o->methods, m))
            continue;
        if (o->handler == h && same_methods && strcmp(o->path, path) == 0)
            return 0;
        err_append(err, errlen, off,
                   "%s: route %s %s duplicates the one declared at %s\n",
                   where, m ? m : "*", path, o->where);
        return -1;
    }
    return 1;
}

static bool
valid_param_name(const char *s, size_t len)
{
    if (len == 0 || !((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A'
                      && s[0] <= 'Z') || s[0] == '_'))
        return false;
    for (size_t i = 1; i < len; i++) {
        char c = s[i];

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
              || (c >= '0' && c <= '9') || c == '_'))
            return false;
    }
    return true;
}

static struct seg_node *
node_child(struct seg_node *n, const char *seg, size_t len)
{
    struct seg_node *k, **grown;

    for (size_t i = 0; i < n->nkids; i++) {
        if (strlen(n->kids[i]->seg) == len
            && memcmp(n->kids[i]->seg, seg, len) == 0)
            return n->kids[i];
    }
    k = calloc(1, sizeof(*k));
    grown = realloc(n->kids, (n->nkids + 1) * sizeof(*grown));
    FPMD_ASSERT(k != NULL && grown != NULL);
    k->seg = strndup(seg, len);
    FPMD_ASSERT(k->seg != NULL);
    n->kids = grown;
    n->kids[n->nkids++] = k;
    return k;
}

/* Walks (growing) the tree along pattern; returns the list the route goes
 * in, NULL with an error written when the pattern is malformed. */
static struct route_list *
pattern_list(struct fpmd_router *r, const char *path, const char *where,
             char *err, size_t errlen, size_t *off)
{
    struct seg_node *n = &r->root;
    const char *p = path + 1;
    unsigned nparams = 0;

    for (;;) {
        const char *end = strchr(p, '/');
        size_t len = end ? (size_t) (end - p) : strlen(p);

        if (len == 1 && p[0] == '*' && end == NULL)
            return &n->wild;
        if (len >= 2 && p[0] == '{' && p[len - 1] == '}') {
            if (!valid_param_name(p + 1, len - 2)
                || ++nparams >= FPMD_ROUTE_MAX_PARAMS) {
                err_append(err, errlen, off, "%s: route %s: {%.*s} is not a "
                           "parameter name, or one too many (at most %d)\n",
                           where, path, (int) (len - 2), p + 1,
                           FPMD_ROUTE_MAX_PARAMS - 1);
                return NULL;
            }
            if (n->param == NULL) {
                n->param = calloc(1, sizeof(*n->param));
                FPMD_ASSERT(n->param != NULL);
                n->param->seg = strndup(p + 1, len - 2);
                FPMD_ASSERT(n->param->seg != NULL);
            } else if (strlen(n->param->seg) != len - 2
                       || memcmp(n->param->seg, p + 1, len - 2) != 0) {
                err_append(err, errlen, off, "%s: route %s: {%.*s} where "
                           "another route has {%s}\n", where, path,
                           (int) (len - 2), p + 1, n->param->seg);
                return NULL;
            }
            n = n->param;
        } else if (memchr(p, '{', len) || memchr(p, '}', len)
                   || memchr(p, '*', len)) {
            err_append(err, errlen, off, "%s: route %s: {param} must be a "
                       "whole segment and * only the last one\n", where,
                       path);
            return NULL;
        } else {
            n = node_child(n, p, len);
        }
        if (end == NULL)
            return &n->here;
        p = end + 1;
    }
}

static bool
is_pattern(const char *path)
{
    return strchr(path, '{') != NULL || strchr(path, '*') != NULL;
}

/* Adds a route unless an identical one exists; refuses an overlapping one
 * that names another handler. Takes where. */
static int
add_route(struct fpmd_router *r, const char *methods, const char *path,
          const struct fpmd_handler_def *h, const struct fpmd_conf_route *cr,
          char *where, char *err, size_t errlen, size_t *off)
{
    struct route_list *l;
    struct path_entry *e = NULL;
    struct fpmd_route *rt;
    char *m;
    int rc;

    if (is_pattern(path)) {
        l = pattern_list(r, path, where, err, errlen, off);
        if (l == NULL) {
            free(where);
            return FPMD_ERROR;
        }
    } else {
        e = find_slot(r, path);
        l = &e->routes;
    }
    m = dup_or_null(methods);
    rc = check_overlap(l, m, path, h, where, err, errlen, off);
    if (rc <= 0) {
        free(m);
        free(where);
        return rc == 0 ? FPMD_OK : FPMD_ERROR;
    }
    rt = &r->routes[r->nroutes++];
    rt->path = strdup(path);
    rt->methods = m;
    rt->handler = h;
    rt->conf = cr;
    rt->where = where;
    FPMD_ASSERT(rt->path != NULL && where != NULL);
    if (e != NULL && e->path == NULL)
        e->path = rt->path;
    if (e == NULL)
        r->npatterns++;
    list_push(l, rt);
    return FPMD_OK;
}

static struct shim_slot *
shim_slot(const struct fpmd_router *r, const char *script)
{
    size_t mask = r->nshim_slots - 1;
    size_t i = (size_t) hash_path(script) & mask;

    while (r->shim_slots[i].script != NULL
           && strcmp(r->shim_slots[i].script, script) != 0)
        i = (i + 1) & mask;
    return &r->shim_slots[i];
}

/* A shim is tried before the path routes, in config order; it collides
 * with nothing (an earlier one that takes all its requests is what
 * fpmd_router_shadowed reports). Takes where. */
static void
add_shim(struct fpmd_router *r, const struct fpmd_handler_def *h,
         const struct fpmd_conf_route *cr, char *where)
{
    struct fpmd_route *rt = &r->routes[r->nroutes++];

    rt->path = strdup(cr->path);
    rt->methods = dup_or_null(cr->methods);
    rt->handler = h;
    rt->conf = cr;
    rt->where = where;
    FPMD_ASSERT(rt->path != NULL && where != NULL);
    if (cr->shim->path_info != NULL) {
        const char *p = cr->shim->path_info;
        size_t n = 0;

        rt->info_names = calloc(strlen(p) / 3 + 1, sizeof(char *));
        FPMD_ASSERT(rt->info_names != NULL);
        while ((p = strchr(p, '{')) != NULL) {
            const char *close = strchr(p, '}');

            rt->info_names[n] = strndup(p + 1, (size_t) (close - p - 1));
            FPMD_ASSERT(rt->info_names[n] != NULL);
            n++;
            p = close;
        }
    }
    if (cr->shim->script != NULL) {
        struct shim_slot *slot = shim_slot(r, cr->shim->script);

        if (slot->script == NULL)
            slot->script = cr->shim->script;
        list_push(&slot->shims, rt);
    } else {
        list_push(&r->prefix_shims, rt);
    }
    r->nshims++;
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
    return add_route(r, NULL, path, h, NULL, where_str(conf->file, 0, 0),
                     err, errlen, off);
}

struct fpmd_router *
fpmd_router_build(const struct fpmd_conf *conf, char *err, size_t errlen)
{
    struct fpmd_router *r;
    size_t max = conf->nroutes + 4, off = 0;
    int rc = FPMD_OK;

    sort_handlers();
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
    for (size_t i = 0; i < conf->nroutes; i++) {
        if (conf->routes[i].shim != NULL)
            r->nshim_slots++;
    }
    if (r->nshim_slots > 0) {
        size_t n = 16;

        while (n < r->nshim_slots * 2)
            n *= 2;
        r->nshim_slots = n;
        r->shim_slots = calloc(n, sizeof(*r->shim_slots));
        FPMD_ASSERT(r->shim_slots != NULL);
    }

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
        if (add_route(r, h->methods, h->path, h, NULL,
                      where_str(h->file, (unsigned) h->line, 0), err, errlen,
                      &off) != FPMD_OK)
            rc = FPMD_ERROR;
    }
    if (add_builtin(r, "status", conf->status.path, conf, err, errlen, &off)
            != FPMD_OK
        || add_builtin(r, "ping", conf->status.ping_path, conf, err, errlen,
                       &off) != FPMD_OK
        || add_builtin(r, "live", conf->status.live_path, conf, err, errlen,
                       &off) != FPMD_OK
        || add_builtin(r, "ready", conf->status.ready_path, conf, err, errlen,
                       &off) != FPMD_OK)
        rc = FPMD_ERROR;
    for (size_t i = 0; i < conf->nroutes; i++) {
        const struct fpmd_conf_route *cr = &conf->routes[i];
        const struct fpmd_handler_def *h = fpmd_handler_find(cr->handler);
        const struct fpmd_handler_def *split = NULL;
        size_t before;
        char *where = where_str(cr->pos.file ? cr->pos.file : conf->file,
                                cr->pos.line, cr->pos.column);

        if (h == NULL) {
            err_append(err, errlen, &off, "%s: unknown handler \"%s\"\n",
                       where, cr->handler);
            free(where);
            rc = FPMD_ERROR;
            continue;
        }
        before = r->nroutes;
        if ((cr->shadow != NULL || cr->canary != NULL)
            && (split = fpmd_handler_find("shadow_canary")) == NULL) {
            err_append(err, errlen, &off, "%s: shadow: and canary: need "
                       "the migrate handlers\n", where);
            free(where);
            rc = FPMD_ERROR;
            continue;
        }
        if (cr->shim != NULL)
            add_shim(r, split ? split : h, cr, where);
        else if (add_route(r, cr->methods, cr->path, split ? split : h, cr,
                           where, err, errlen, &off) != FPMD_OK)
            rc = FPMD_ERROR;
        if (split != NULL && r->nroutes > before)
            r->routes[before].native = h;
    }
    if (rc != FPMD_OK) {
        fpmd_router_free(r);
        return NULL;
    }
    if (r->npatterns > 0) {
        r->cache = calloc(FPMD_ROUTE_CACHE_SLOTS, sizeof(*r->cache));
        FPMD_ASSERT(r->cache != NULL);
    }
    return r;
}

static void
node_free(struct seg_node *n)
{
    for (size_t i = 0; i < n->nkids; i++) {
        node_free(n->kids[i]);
        free(n->kids[i]);
    }
    if (n->param != NULL) {
        node_free(n->param);
        free(n->param);
    }
    free(n->kids);
    free(n->seg);
    free(n->here.v);
    free(n->wild.v);
}

void
fpmd_router_free(struct fpmd_router *r)
{
    if (r == NULL)
        return;
    for (size_t i = 0; i < r->nslots; i++)
        free(r->slots[i].routes.v);
    for (size_t i = 0; i < r->nshim_slots; i++)
        free(r->shim_slots[i].shims.v);
    free(r->shim_slots);
    free(r->prefix_shims.v);
    for (size_t i = 0; i < r->nroutes; i++) {
        free(r->routes[i].path);
        free(r->routes[i].methods);
        free(r->routes[i].where);
        for (char **n = r->routes[i].info_names; n && *n; n++)
            free(*n);
        free(r->routes[i].info_names);
    }
    node_free(&r->root);
    free(r->cache);
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

/* 1 when a route of methods (NULL: any) takes method, HEAD through
 * GET. */
static int
method_allows(const char *methods, const char *method)
{
    return methods == NULL || fpmd_method_in(methods, method)
        || (strcmp(method, "HEAD") == 0 && fpmd_method_in(methods, "GET"));
}

/* The route of l that method reaches (HEAD through GET); with method NULL,
 * any route. */
static const struct fpmd_route *
pick(const struct route_list *l, const char *method)
{
    for (size_t i = 0; i < l->n; i++) {
        const struct fpmd_route *rt = l->v[i];

        if (method == NULL || method_allows(rt->methods, method))
            return rt;
    }
    return NULL;
}

static void
allow_of(const struct route_list *l, char *allow, size_t allowlen)
{
    size_t off = 0;
    int has_get = 0, has_head = 0;

    if (allowlen > 0)
        allow[0] = '\0';
    for (size_t i = 0; i < l->n; i++) {
        const char *p = l->v[i]->methods;

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
}

/* Each param sets its source: a shim that failed part way has left its
 * own in m, and the path routes tried next must not inherit them. */
static int
add_param(struct fpmd_route_match *m, const char *name, size_t off,
          size_t len, enum fpmd_param_src src)
{
    if (m->nparams >= FPMD_ROUTE_MAX_PARAMS || off > UINT16_MAX
        || len > UINT16_MAX)
        return 0;
    m->params[m->nparams].name = name;
    m->params[m->nparams].off = (uint16_t) off;
    m->params[m->nparams].len = (uint16_t) len;
    m->params[m->nparams].src = (uint8_t) src;
    m->nparams++;
    return 1;
}

/* Depth-first over the tree from n at path offset pos (just past a '/'):
 * literal child, then {param}, then the wildcard. On success the list that
 * held the route is returned and m->params filled. */
static const struct route_list *
walk(const struct seg_node *n, const char *path, size_t pos,
     const char *method, struct fpmd_route_match *m)
{
    const char *p = path + pos;
    const char *end = strchr(p, '/');
    size_t len = end ? (size_t) (end - p) : strlen(p);
    const struct route_list *found;
    unsigned saved = m->nparams;

    for (size_t i = 0; i < n->nkids; i++) {
        const struct seg_node *k = n->kids[i];

        if (strlen(k->seg) != len || memcmp(k->seg, p, len) != 0)
            continue;
        if (end == NULL) {
            if ((m->route = pick(&k->here, method)) != NULL)
                return &k->here;
        } else if ((found = walk(k, path, pos + len + 1, method, m)) != NULL)
            return found;
        break;
    }
    if (n->param != NULL && len > 0
        && add_param(m, n->param->seg, pos, len, FPMD_PARAM_PATH)) {
        if (end == NULL) {
            if ((m->route = pick(&n->param->here, method)) != NULL)
                return &n->param->here;
        } else if ((found = walk(n->param, path, pos + len + 1, method, m))
                   != NULL)
            return found;
        m->nparams = saved;
    }
    if ((m->route = pick(&n->wild, method)) != NULL
        && add_param(m, "*", pos, strlen(p), FPMD_PARAM_PATH))
        return &n->wild;
    m->route = NULL;
    return NULL;
}

/* The cache key: the path's hash (ph) extended by the method. */
static uint64_t
hash_key(const char *method, uint64_t ph)
{
    uint64_t h = ph;

    for (; *method != '\0'; method++) {
        h ^= (unsigned char) *method;
        h *= 1099511628211ULL;
    }
    return h;
}

static int
match_tree(struct fpmd_router *r, const char *method, const char *path,
           struct fpmd_route_match *m)
{
    const struct route_list *l;

    if (path[0] != '/' || r->npatterns == 0)
        return 404;
    if (walk(&r->root, path, 1, method, m) != NULL)
        return 200;
    m->nparams = 0;
    l = walk(&r->root, path, 1, NULL, m);
    m->route = NULL;
    m->nparams = 0;
    if (l == NULL)
        return 404;
    allow_of(l, m->allow, sizeof(m->allow));
    return 405;
}

/* The status a path and method route to: 200, 404 or 405. */
static int
match_path(struct fpmd_router *r, const char *method, const char *path,
           struct fpmd_route_match *m)
{
    uint64_t ph = hash_path(path);
    const struct path_entry *e = find_slot_h(r, path, ph);
    struct cache_slot *slot = NULL;
    size_t plen, mlen;
    int status;

    m->route = NULL;
    m->nparams = 0;
    m->allow[0] = '\0';
    if (e->path != NULL && (m->route = pick(&e->routes, method)) != NULL)
        return 200;
    plen = strlen(path);
    mlen = strlen(method);
    if (plen > UINT16_MAX)
        return 404;
    if (r->cache != NULL && plen < sizeof(slot->path)
        && mlen < sizeof(slot->method)) {
        slot = &r->cache[hash_key(method, ph) % FPMD_ROUTE_CACHE_SLOTS];
        if (slot->status != 0 && strcmp(slot->path, path) == 0
            && strcmp(slot->method, method) == 0) {
            r->cache_hits++;
            *m = slot->m;
            return slot->status;
        }
        r->cache_misses++;
    }
    status = match_tree(r, method, path, m);
    if (status == 404 && e->path != NULL) {
        allow_of(&e->routes, m->allow, sizeof(m->allow));
        status = 405;
    }
    if (slot != NULL) {
        memcpy(slot->path, path, plen + 1);
        memcpy(slot->method, method, mlen + 1);
        slot->status = status;
        slot->m = *m;
    }
    return status;
}

/* 1 when s[0..len), form-decoded ('+', %XX), is want. */
static int
form_equal(const char *s, size_t len, const char *want)
{
    size_t i = 0;

    while (i < len) {
        int c = fpmd_form_char(s, len, &i);

        if (*want == '\0' || (unsigned char) *want != c)
            return 0;
        want++;
    }
    return *want == '\0';
}

/* The first name=value of query named name: the value's offset and
 * length; 0 when absent. */
static int
query_find(const char *query, const char *name, size_t *off, size_t *len)
{
    const char *p = query;

    while (*p != '\0') {
        const char *amp = strchr(p, '&');
        size_t plen = amp ? (size_t) (amp - p) : strlen(p);
        const char *eq = memchr(p, '=', plen);
        size_t nlen = eq ? (size_t) (eq - p) : plen;

        if (form_equal(p, nlen, name)) {
            *off = (size_t) ((eq ? eq + 1 : p + plen) - query);
            *len = eq ? plen - nlen - 1 : 0;
            return 1;
        }
        p += plen;
        if (*p == '&')
            p++;
    }
    return 0;
}

/* A path_info: pattern against info, {name} segments and a last "*"
 * captured as params. */
static int
info_match(const char *pat, const char *info, char *const *names,
           struct fpmd_route_match *m)
{
    const char *p = pat, *s = info;

    for (;;) {
        const char *pend, *send;
        size_t plen, slen;

        if (*p != '/' || *s != '/')
            return *p == '\0' && *s == '\0';
        p++;
        s++;
        pend = strchr(p, '/');
        plen = pend ? (size_t) (pend - p) : strlen(p);
        send = strchr(s, '/');
        slen = send ? (size_t) (send - s) : strlen(s);
        if (plen == 1 && *p == '*' && pend == NULL)
            return add_param(m, "*", (size_t) (s - info), strlen(s),
                             FPMD_PARAM_PATH_INFO);
        if (plen >= 2 && p[0] == '{') {
            if (slen == 0)
                return 0;
            if (!add_param(m, *names++, (size_t) (s - info), slen,
                           FPMD_PARAM_PATH_INFO))
                return 0;
        } else if (plen != slen || memcmp(p, s, plen) != 0) {
            return 0;
        }
        p += plen;
        s += slen;
    }
}

/* 1 when every condition of shim route rt holds for q; m->params filled
 * then. */
static int
shim_holds(const struct fpmd_route *rt, const struct fpmd_route_req *q,
           struct fpmd_route_match *m)
{
    const struct fpmd_conf_shim *sh = rt->conf->shim;
    size_t off, len;

    m->nparams = 0;
    if (!method_allows(rt->methods, q->method))
        return 0;
    if (sh->prefix != NULL) {
        size_t plen = strlen(sh->prefix);

        if (strncmp(q->path, sh->prefix, plen) != 0
            || !add_param(m, "*", plen, strlen(q->path) - plen,
                          FPMD_PARAM_PATH))
            return 0;
    }
    for (size_t i = 0; i < sh->nquery; i++) {
        const struct fpmd_conf_pair *c = &sh->query[i];

        if (q->query == NULL || !query_find(q->query, c->name, &off, &len))
            return 0;
        if (strcmp(c->value, "*") != 0
            && !form_equal(q->query + off, len, c->value))
            return 0;
        if (!add_param(m, c->name, off, len, FPMD_PARAM_QUERY))
            return 0;
    }
    return sh->path_info == NULL
        || info_match(sh->path_info, q->path_info ? q->path_info : "",
                      rt->info_names, m);
}

static int
match_shims(struct fpmd_router *r, const struct fpmd_route_req *q,
            struct fpmd_route_match *m)
{
    const struct route_list *a = NULL, *b = &r->prefix_shims;
    size_t i = 0, j = 0;

    if (r->nshim_slots > 0) {
        const struct shim_slot *slot =
            shim_slot(r, q->script ? q->script : q->path);

        if (slot->script != NULL)
            a = &slot->shims;
    }
    /* Both lists are in config order: merged, the first that holds wins. */
    while ((a != NULL && i < a->n) || j < b->n) {
        const struct fpmd_route *rt;

        if (a != NULL && i < a->n && (j >= b->n || a->v[i] < b->v[j]))
            rt = a->v[i++];
        else
            rt = b->v[j++];
        if (shim_holds(rt, q, m)) {
            m->route = rt;
            return 200;
        }
    }
    m->nparams = 0;
    return 404;
}

int
fpmd_router_match(struct fpmd_router *r, const char *method,
                  const char *path, struct fpmd_route_match *m)
{
    m->status = match_path(r, method, path, m);
    return m->status == 200 ? FPMD_OK : FPMD_DECLINED;
}

int
fpmd_router_match_req(struct fpmd_router *r, const struct fpmd_route_req *q,
                      struct fpmd_route_match *m)
{
    m->route = NULL;
    m->allow[0] = '\0';
    if (r->nshims > 0 && match_shims(r, q, m) == 200) {
        m->status = 200;
        return FPMD_OK;
    }
    return fpmd_router_match(r, q->method, q->path, m);
}

const char *
fpmd_route_handler_name(const struct fpmd_route *rt)
{
    return rt->native != NULL ? rt->native->name : rt->handler->name;
}

bool
fpmd_router_has_shims(const struct fpmd_router *r)
{
    return r->nshims > 0;
}

/* 1 when every request shim b takes, a takes too. */
static int
shim_covers(const struct fpmd_route *a, const struct fpmd_route *b)
{
    const struct fpmd_conf_shim *x = a->conf->shim, *y = b->conf->shim;

    if (a->methods != NULL) {
        const char *p = b->methods;

        if (p == NULL)
            return 0;
        while (*p != '\0') {
            size_t len = strcspn(p, ",");
            char tok[32];

            if (len >= sizeof(tok))
                return 0;
            memcpy(tok, p, len);
            tok[len] = '\0';
            if (!method_allows(a->methods, tok))
                return 0;
            p += len + (p[len] == ',');
        }
    }
    if (x->script != NULL
        && (y->script == NULL || strcmp(x->script, y->script) != 0))
        return 0;
    if (x->prefix != NULL
        && (y->prefix == NULL
            || strncmp(y->prefix, x->prefix, strlen(x->prefix)) != 0))
        return 0;
    if (x->path_info != NULL
        && (y->path_info == NULL || strcmp(x->path_info, y->path_info) != 0))
        return 0;
    for (size_t i = 0; i < x->nquery; i++) {
        size_t k;

        for (k = 0; k < y->nquery; k++) {
            if (strcmp(x->query[i].name, y->query[k].name) == 0)
                break;
        }
        if (k == y->nquery || (strcmp(x->query[i].value, "*") != 0
                               && strcmp(x->query[i].value,
                                         y->query[k].value) != 0))
            return 0;
    }
    return 1;
}

size_t
fpmd_router_shadowed(const struct fpmd_router *r,
                     const struct fpmd_route **shadowed,
                     const struct fpmd_route **by, size_t max)
{
    size_t n = 0;

    for (size_t i = 0; i < r->nroutes; i++) {
        const struct fpmd_route *b = &r->routes[i];

        if (b->conf == NULL || b->conf->shim == NULL)
            continue;
        for (size_t j = 0; j < i; j++) {
            const struct fpmd_route *a = &r->routes[j];

            if (a->conf == NULL || a->conf->shim == NULL
                || !shim_covers(a, b))
                continue;
            if (n < max) {
                shadowed[n] = b;
                by[n] = a;
            }
            n++;
            break;
        }
    }
    return n;
}

void
fpmd_router_stats(const struct fpmd_router *r, struct fpmd_router_stats *out)
{
    out->cache_hits = r->cache_hits;
    out->cache_misses = r->cache_misses;
    out->patterns = r->npatterns;
    out->exact = r->nroutes - r->npatterns;
}

void
fpmd_router_print(const struct fpmd_router *r, FILE *out)
{
    for (size_t i = 0; i < r->nroutes; i++) {
        const struct fpmd_route *rt = &r->routes[i];

        fprintf(out, "%-12s %-32s %-16s %s%s%s%s\n",
                rt->methods ? rt->methods : "*", rt->path,
                fpmd_route_handler_name(rt), rt->where,
                rt->conf && rt->conf->shim ? " (shim)" : "",
                rt->conf && rt->conf->shadow ? " (shadow)" : "",
                rt->conf && rt->conf->canary ? " (canary)" : "");
    }
}
