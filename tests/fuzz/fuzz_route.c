/* SPDX-License-Identifier: BSD-2-Clause */
/* libFuzzer target for what a request's own bytes reach in routing: the
 * script / PATH_INFO split of CGI values, the shims' matching of a query
 * and a PATH_INFO, and the path routes' table. The input is eight
 * NUL-separated fields: SCRIPT_NAME, PATH_INFO, SCRIPT_FILENAME,
 * DOCUMENT_ROOT, the path, the query, the method ("": GET), and routes
 * added to a fixed table, a line each ("METHOD[,METHOD] /path" or
 * "/path", as the config's match: takes them). Every piece the split
 * returns lies inside its input, and every matched param inside the
 * string it names. The path routes' answer is checked against a plain
 * matcher written from the README's rules: 200 with a route that takes
 * the path and the method, an exact path before a pattern and literal
 * segments before {param} before a wildcard, each param the segment its
 * pattern names; else 405 when a route takes the path, else 404. Asked
 * again, the route cache must give the same answer. A table with added
 * routes is built, printed (fpmd -t --routes) and freed each run. The
 * path is also normalized as the HTTP codec does it (check_normalize). */
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fpmd/cgi_path.h"
#include "fpmd/router.h"
#include "fpmd/uri.h"

#define NFIELDS 8
#define MAX_ADDED 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

FPMD_HANDLER(fuzz_shim)
{
    (void) req;
    return FPMD_OK;
}

static struct fpmd_conf_pair q1[] = {{"action", "show"}, {"id", "*"}};
static struct fpmd_conf_pair q2[] = {{"r", "post/view"}};
static struct fpmd_conf_shim shims[] = {
    {"/api/user.php", NULL, NULL, q1, 2},
    {"/index.php", NULL, "/users/{id}/*", q2, 1},
    {NULL, "/blog/", "/{a}/{b}", NULL, 0},
};

/* Exact paths (one method-split pair), patterns that share prefixes with
 * them and with each other, a wildcard beside a {param}, an empty segment
 * and the most params a pattern may have. */
static const char *const fixed[][2] = {
    {"GET,POST", "/users/me"},
    {"GET", "/users/{id}"},
    {"DELETE", "/users/{id}"},
    {"GET", "/users/{id}/posts/{post}"},
    {NULL, "/files/*"},
    {"PUT", "/files/{name}/lock"},
    {"GET", "/h"},
    {"HEAD", "/h/x"},
    {"POST", "/a//b"},
    {"GET", "/t/{a}/{b}/{c}/{d}/{e}/{f}/{g}"},
    {"GET", "/t/{a}/*"},
};

#define NFIXED (sizeof(fixed) / sizeof(fixed[0]))
#define NSHIMS (sizeof(shims) / sizeof(shims[0]))

struct table {
    struct fpmd_conf conf;
    struct fpmd_conf_route routes[NSHIMS + NFIXED + MAX_ADDED];
};

static void
table_init(struct table *t)
{
    memset(t, 0, sizeof(*t));
    t->conf.file = "fuzz";
    t->conf.routes = t->routes;
    for (size_t i = 0; i < NSHIMS; i++) {
        t->routes[i].path = "shim";
        t->routes[i].shim = &shims[i];
        t->routes[i].methods = i == 0 ? "GET" : NULL;
    }
    for (size_t i = 0; i < NFIXED; i++) {
        t->routes[NSHIMS + i].methods = (char *) fixed[i][0];
        t->routes[NSHIMS + i].path = (char *) fixed[i][1];
    }
    t->conf.nroutes = NSHIMS + NFIXED;
    for (size_t i = 0; i < t->conf.nroutes; i++)
        t->routes[i].handler = "fuzz_shim";
}

/* The config loader's own rule for match:'s methods. */
static int
valid_methods(const char *m, size_t n)
{
    size_t tok = 0;

    for (size_t i = 0; i < n; i++) {
        if (m[i] == ',') {
            if (tok == 0)
                return 0;
            tok = 0;
        } else if (m[i] >= 'A' && m[i] <= 'Z' && tok < 20) {
            tok++;
        } else {
            return 0;
        }
    }
    return tok > 0;
}

/* Adds the lines of s the config loader would take; s is cut in place. */
static void
table_add(struct table *t, char *s)
{
    while (*s != '\0' && t->conf.nroutes < NSHIMS + NFIXED + MAX_ADDED) {
        char *nl = strchr(s, '\n'), *path = s, *sp;
        struct fpmd_conf_route *cr = &t->routes[t->conf.nroutes];

        if (nl != NULL)
            *nl = '\0';
        cr->methods = NULL;
        sp = strchr(s, ' ');
        if (sp != NULL && valid_methods(s, (size_t) (sp - s))) {
            *sp = '\0';
            cr->methods = s;
            path = sp + 1;
        }
        if (path[0] == '/' && strchr(path, ' ') == NULL) {
            cr->path = path;
            cr->handler = "fuzz_shim";
            t->conf.nroutes++;
        }
        if (nl == NULL)
            break;
        s = nl + 1;
    }
}

/* Whether method is one of list's comma-separated tokens: a method with
 * a comma in it (FastCGI passes REQUEST_METHOD as sent) is none. */
static int
has_method(const char *list, const char *method)
{
    size_t n = strlen(method);

    if (strchr(method, ',') != NULL)
        return 0;
    for (const char *p = list; p != NULL; p = strchr(p, ',')) {
        p += *p == ',';
        if (strncmp(p, method, n) == 0 && (p[n] == ',' || p[n] == '\0'))
            return 1;
    }
    return 0;
}

static int
takes_method(const char *methods, const char *method)
{
    return methods == NULL || has_method(methods, method)
        || (strcmp(method, "HEAD") == 0 && has_method(methods, "GET"));
}

static int
is_exact(const char *pat)
{
    return strchr(pat, '{') == NULL && strchr(pat, '*') == NULL;
}

struct want {
    unsigned n;
    struct fpmd_route_param params[FPMD_ROUTE_MAX_PARAMS];
};

/* Whether pattern pat takes path, segment by segment; w gets the params. */
static int
takes_path(const char *pat, const char *path, struct want *w)
{
    const char *p = pat + 1, *s = path + 1;

    w->n = 0;
    if (is_exact(pat))
        return strcmp(pat, path) == 0;
    if (path[0] != '/')
        return 0;
    for (;;) {
        const char *pe = strchr(p, '/'), *se = strchr(s, '/');
        size_t plen = pe ? (size_t) (pe - p) : strlen(p);
        size_t slen = se ? (size_t) (se - s) : strlen(s);

        if (plen == 1 && p[0] == '*' && pe == NULL) {
            w->params[w->n].name = "*";
            w->params[w->n].off = (uint16_t) (s - path);
            w->params[w->n++].len = (uint16_t) strlen(s);
            return 1;
        }
        if (p[0] == '{') {
            if (slen == 0)
                return 0;
            w->params[w->n].name = p + 1;   /* up to the '}' */
            w->params[w->n].off = (uint16_t) (s - path);
            w->params[w->n++].len = (uint16_t) slen;
        } else if (plen != slen || memcmp(p, s, plen) != 0) {
            return 0;
        }
        if (pe == NULL || se == NULL)
            return pe == NULL && se == NULL;
        p = pe + 1;
        s = se + 1;
    }
}

static int
seg_kind(const char *seg)
{
    return seg[0] == '{' ? 1 : seg[0] == '*' && seg[1] == '\0' ? 2 : 0;
}

/* For two patterns that take the same path: < 0 when a goes first, its
 * first segment of another kind being the more literal one. */
static int
precedence(const char *a, const char *b)
{
    for (;;) {
        const char *ae = strchr(++a, '/'), *be = strchr(++b, '/');
        int c = seg_kind(a) - seg_kind(b);

        if (c != 0 || ae == NULL || be == NULL)
            return c;
        a = ae;
        b = be;
    }
}

static void
check_paths(struct fpmd_router *r, const struct table *t, const char *method,
            const char *path)
{
    struct fpmd_route_match m, again;
    struct want w, got;
    const char *best = NULL;
    int rc, any_path = 0, exact_method = 0;

    if (strlen(path) > UINT16_MAX)
        return;
    for (size_t i = 0; i < t->conf.nroutes; i++) {
        const struct fpmd_conf_route *cr = &t->routes[i];

        if (cr->shim != NULL || !takes_path(cr->path, path, &w))
            continue;
        any_path = 1;
        if (!takes_method(cr->methods, method))
            continue;
        if (is_exact(cr->path))
            exact_method = 1;
        else if (best == NULL || precedence(cr->path, best) < 0)
            best = cr->path;
    }
    rc = fpmd_router_match(r, method, path, &m);
    assert((rc == FPMD_OK) == (m.status == 200));
    assert((m.route != NULL) == (m.status == 200));
    assert(m.status == (exact_method || best != NULL ? 200
                        : any_path ? 405 : 404));
    assert(memchr(m.allow, '\0', sizeof(m.allow)) != NULL);
    assert((m.status == 405) == (m.allow[0] != '\0'));
    if (m.status == 200) {
        assert(m.route->conf == NULL || m.route->conf->shim == NULL);
        assert(takes_method(m.route->methods, method));
        assert(takes_path(m.route->path, path, &got));
        assert(is_exact(m.route->path) == exact_method);
        assert(exact_method || precedence(m.route->path, best) == 0);
        assert(m.nparams == got.n);
        for (unsigned i = 0; i < m.nparams; i++) {
            const char *name = m.params[i].name;

            assert(m.params[i].src == FPMD_PARAM_PATH);
            assert(m.params[i].off == got.params[i].off);
            assert(m.params[i].len == got.params[i].len);
            assert(strcmp(got.params[i].name, "*") == 0
                   ? strcmp(name, "*") == 0
                   : strncmp(got.params[i].name, name, strlen(name)) == 0
                     && got.params[i].name[strlen(name)] == '}');
        }
    }
    assert(fpmd_router_match(r, method, path, &again) == rc);
    assert(again.status == m.status && again.route == m.route);
    assert(again.nparams == m.nparams);
    for (unsigned i = 0; i < m.nparams; i++)
        assert(again.params[i].name == m.params[i].name
               && again.params[i].off == m.params[i].off
               && again.params[i].len == m.params[i].len
               && again.params[i].src == m.params[i].src);
    assert(strcmp(again.allow, m.allow) == 0);
}

/* The HTTP codec's path of a request target (what it routes, what the
 * static handler serves): a path that starts with '/', no longer than
 * the target, with no empty (but a last), "." or ".." segment, which
 * normalizes to itself when nothing in it would be decoded or cut. */
static void
check_normalize(const char *target)
{
    size_t len = strlen(target), olen, olen2;
    char *out = malloc(len + 2), *again = malloc(len + 2);

    if (out != NULL && again != NULL
        && fpmd_uri_normalize(target, len, out, &olen) == FPMD_OK) {
        assert(olen >= 1 && olen <= len && out[0] == '/');
        assert(out[olen] == '\0' && strlen(out) == olen);
        for (const char *seg = out + 1; seg <= out + olen;) {
            const char *end = strchr(seg, '/');
            size_t n = end ? (size_t) (end - seg) : strlen(seg);

            assert(n > 0 || end == NULL);
            assert(!(n == 1 && seg[0] == '.'));
            assert(!(n == 2 && seg[0] == '.' && seg[1] == '.'));
            seg += n + 1;
        }
        if (strpbrk(out, "%?") == NULL) {
            assert(fpmd_uri_normalize(out, olen, again, &olen2) == FPMD_OK);
            assert(olen2 == olen && memcmp(again, out, olen) == 0);
        }
    }
    free(out);
    free(again);
}

static int
inside(const char *p, size_t len, const char *s)
{
    return s != NULL && p >= s && p + len <= s + strlen(s);
}

static void
check_shims(struct fpmd_router *r, char *const *f, const char *method)
{
    struct fpmd_cgi_vars in;
    struct fpmd_cgi_split out;
    struct fpmd_route_match m;
    struct fpmd_route_req q;
    char *script, *info = NULL;

    in.script_name = f[0][0] == '-' ? NULL : f[0];
    in.path_info = f[1][0] == '-' ? NULL : f[1];
    in.script_filename = f[2];
    in.document_root = f[3];
    in.path = f[4];
    fpmd_cgi_split(&in, &out);
    assert(inside(out.script, out.script_len, in.script_name)
           || inside(out.script, out.script_len, in.script_filename)
           || inside(out.script, out.script_len, in.path));
    if (out.path_info != NULL)
        assert(inside(out.path_info, out.path_info_len, in.path_info)
               || inside(out.path_info, out.path_info_len, out.script));
    script = strndup(out.script, out.script_len);
    if (out.path_info != NULL)
        info = strndup(out.path_info, out.path_info_len);
    q.method = method;
    q.path = in.path;
    q.script = script;
    q.path_info = info;
    q.query = f[5];
    if (script != NULL && fpmd_router_match_req(r, &q, &m) == FPMD_OK) {
        for (unsigned i = 0; i < m.nparams; i++) {
            const char *src = m.params[i].src == FPMD_PARAM_QUERY ? q.query
                : m.params[i].src == FPMD_PARAM_PATH_INFO ? q.path_info
                : q.path;

            assert(inside(src + m.params[i].off, m.params[i].len, src));
        }
    }
    free(script);
    free(info);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct fpmd_router *fixed_router;
    static struct table fixed_table, added;
    static FILE *devnull;
    char *buf = malloc(size + NFIELDS + 1), *f[NFIELDS];
    struct fpmd_router *r;
    const struct table *t = &fixed_table;
    const char *method;
    char err[4096];
    size_t pos = 0;

    if (buf == NULL)
        return 0;
    if (fixed_router == NULL) {
        devnull = fopen("/dev/null", "w");
        assert(devnull != NULL);
        table_init(&fixed_table);
        fixed_router = fpmd_router_build(&fixed_table.conf, err, sizeof(err));
        assert(fixed_router != NULL);
    }
    memcpy(buf, data, size);
    memset(buf + size, 0, NFIELDS + 1);
    for (int i = 0; i < NFIELDS; i++) {
        f[i] = buf + pos;
        pos += strlen(buf + pos) + (pos < size ? 1 : 0);
        if (pos > size)
            pos = size;
    }
    method = f[6][0] != '\0' ? f[6] : "GET";
    r = fixed_router;
    if (f[7][0] != '\0') {
        table_init(&added);
        table_add(&added, f[7]);
        t = &added;
        r = fpmd_router_build(&added.conf, err, sizeof(err));
        /* Refused: the table names its clash, in a bounded message. */
        if (r == NULL)
            assert(err[0] != '\0' && memchr(err, '\0', sizeof(err)) != NULL);
    }
    check_normalize(f[4]);
    if (r != NULL) {
        check_shims(r, f, method);
        check_paths(r, t, method, f[4]);
        if (r != fixed_router) {
            fpmd_router_print(r, devnull);
            fpmd_router_free(r);
        }
    }
    free(buf);
    return 0;
}
