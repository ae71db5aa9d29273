/* SPDX-License-Identifier: BSD-2-Clause */
/* import-unit's mapping (see unit_map.h): Unit's listeners, routes,
 * applications and settings read with json-c, checked for the types
 * Unit's own validation wants, and written as fpmd YAML plus php-fpm pool
 * sections. Every string made on the way is kept on one list and freed
 * at the end, so the walk never frees as it goes. */
#include "config.h"

#include <ctype.h>
#include <json-c/json.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fpmd/common.h"
#include "migrate/tool/unit_map.h"
#include "migrate/tool/yaml_text.h"

/* fpmd's legacy pools (FPMD_MAX_BACKENDS, FPMD_BACKEND_NAME_MAX in
 * fpmd/conf.h, which this library does not include). */
#define LEGACY_POOLS_MAX 16
#define LEGACY_NAME_MAX 31
/* sockaddr_un's sun_path, less its NUL. */
#define SOCKET_PATH_MAX 107

struct strs {
    char **v;
    size_t n, cap;
};

struct pool {               /* an fpmd legacy pool: an app or a target */
    char *name;
    size_t app;
    char *root;             /* document_root */
    char *script_filename;  /* a target's script: params for its routes */
    char *script_name;
};

struct app {
    char *name;
    char *sock;             /* php-fpm's listen */
    struct strs ini;        /* the pool section's lines */
    const char *pm;         /* static, dynamic or ondemand */
    long long children, spare, idle;
    char *timeout;          /* limits.timeout: legacy.timeout */
};

enum region { R_EXACT, R_TREE, R_PREFIX, R_SCRIPT };
enum action { A_LEGACY, A_STATIC, A_STATUS };

struct route {
    const char *from;       /* the step's pointer */
    char *methods;          /* "GET,HEAD"; NULL any */
    enum region region;
    char *path;             /* exact, a tree ("/a/" and "*"), a prefix or
                             * a script */
    char *text;             /* match: as YAML */
    char **qname, **qvalue; /* a shim's query: */
    size_t nq;
    enum action action;
    size_t pool;
    char *root, *index;
    int follow;
    int status;
};

struct map {
    const struct fpmd_unit_opts *opts;
    struct fpmd_unit_out *out;
    struct strs keep;       /* everything allocated, freed at the end */
    struct strs errors, report, listens;
    struct app *apps;
    size_t napps;
    struct pool pools[LEGACY_POOLS_MAX];
    size_t npools;
    struct route *routes;
    size_t nroutes;
    const char *table;      /* the listeners' pass */
    const char *table_from;
    /* settings and access_log, as YAML values */
    char *header_read, *body_read, *keepalive, *body, *access;
    int hide_server;
    size_t pm_app;          /* the app whose processes fpmd's pm takes */
    int have_pm;
};

/* --- memory and text -------------------------------------------------- */

static void
strs_add(struct map *m, struct strs *l, char *s)
{
    if (s == NULL) {
        m->out->nomem = 1;
        return;
    }
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        char **grown = realloc(l->v, cap * sizeof(*grown));

        if (grown == NULL) {
            free(s);
            m->out->nomem = 1;
            return;
        }
        l->v = grown;
        l->cap = cap;
    }
    l->v[l->n++] = s;
}

static void
strs_free(struct strs *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    memset(l, 0, sizeof(*l));
}

/* p (from malloc), kept until the end of the mapping; NULL when memory
 * ran out. */
static void *
keep(struct map *m, void *p)
{
    size_t n = m->keep.n;

    strs_add(m, &m->keep, p);
    return m->keep.n > n ? p : NULL;
}

static char *
vfmt(const char *f, va_list ap) __attribute__((format(printf, 1, 0)));

static char *
vfmt(const char *f, va_list ap)
{
    char *s;

    return vasprintf(&s, f, ap) < 0 ? NULL : s;
}

static char *
fmt(struct map *m, const char *f, ...) __attribute__((format(printf, 2, 3)));

static char *
fmt(struct map *m, const char *f, ...)
{
    va_list ap;
    char *s;

    va_start(ap, f);
    s = vfmt(f, ap);
    va_end(ap);
    return keep(m, s);
}

/* s as YAML text; NULL (memory ran out) when s is. */
static char *
quote(struct map *m, const char *s)
{
    return keep(m, s ? fpmd_yaml_quote(s) : NULL);
}

char *
fpmd_unit_pointer(const char *parent, const char *token)
{
    size_t plen = strlen(parent), n = plen + 2;
    char *s, *o;

    for (const char *t = token; *t != '\0'; t++)
        n += *t == '~' || *t == '/' ? 2 : 1;
    s = malloc(n);
    if (s == NULL)
        return NULL;
    memcpy(s, parent, plen);
    o = s + plen;
    *o++ = '/';
    for (const char *t = token; *t != '\0'; t++) {
        if (*t == '~' || *t == '/') {
            *o++ = '~';
            *o++ = *t == '~' ? '0' : '1';
        } else {
            *o++ = *t;
        }
    }
    *o = '\0';
    return s;
}

static char *
ptr(struct map *m, const char *parent, const char *token)
{
    return keep(m, fpmd_unit_pointer(parent, token));
}

static char *
ptr_i(struct map *m, const char *parent, size_t i)
{
    return fmt(m, "%s/%zu", parent, i);
}

/* --- the report ------------------------------------------------------- */

/* line with its control bytes as \xHH: a key of the input cannot start
 * a line of its own in the report. Takes line. */
static char *
clean(char *line)
{
    size_t n = 0;
    char *out, *o;

    if (line == NULL)
        return NULL;
    for (const char *c = line; *c != '\0'; c++)
        n += (unsigned char) *c < ' ' || *c == 0x7f ? 4 : 1;
    out = malloc(n + 1);
    for (o = out, n = 0; out != NULL && line[n] != '\0'; n++) {
        unsigned char ch = (unsigned char) line[n];

        if (ch < ' ' || ch == 0x7f)
            o += sprintf(o, "\\x%02X", ch);
        else
            *o++ = (char) ch;
    }
    if (out != NULL)
        *o = '\0';
    free(line);
    return out;
}

enum kind { MAPPED, APPLIED, UNSUPPORTED };

static void
say(struct map *m, const char *where, enum kind kind, const char *f, ...)
    __attribute__((format(printf, 4, 5)));

static void
say(struct map *m, const char *where, enum kind kind, const char *f, ...)
{
    static const char *const prefix[] = {
        [MAPPED] = "mapped to ", [APPLIED] = "applied: ",
        [UNSUPPORTED] = "unsupported: ",
    };
    va_list ap;
    char *text, *line = NULL;

    va_start(ap, f);
    text = vfmt(f, ap);
    va_end(ap);
    if (text != NULL && asprintf(&line, "%s: %s%s", where ? where : "(null)",
                                 prefix[kind], text) < 0)
        line = NULL;
    free(text);
    strs_add(m, &m->report, clean(line));
    if (kind == MAPPED)
        m->out->mapped++;
    else if (kind == APPLIED)
        m->out->applied++;
    else
        m->out->unsupported++;
}

static void
fail(struct map *m, const char *where, const char *f, ...)
    __attribute__((format(printf, 3, 4)));

static void
fail(struct map *m, const char *where, const char *f, ...)
{
    va_list ap;
    char *text, *line = NULL;

    va_start(ap, f);
    text = vfmt(f, ap);
    va_end(ap);
    if (text != NULL
        && asprintf(&line, "%s: %s", where ? where : "(null)", text) < 0)
        line = NULL;
    free(text);
    strs_add(m, &m->errors, clean(line));
}

/* --- reading values --------------------------------------------------- */

static const char *
type_name(json_object *v)
{
    switch (json_object_get_type(v)) {
    case json_type_null: return "null";
    case json_type_boolean: return "a boolean";
    case json_type_double: return "a number with a fraction";
    case json_type_int: return "a number";
    case json_type_object: return "an object";
    case json_type_array: return "an array";
    case json_type_string: return "a string";
    }
    return "a value";
}

/* v as a string without NUL bytes; NULL after an error. */
static const char *
want_str(struct map *m, json_object *v, const char *where)
{
    const char *s;

    if (!json_object_is_type(v, json_type_string)) {
        fail(m, where, "expected a string, not %s", type_name(v));
        return NULL;
    }
    s = json_object_get_string(v);
    if (strlen(s) != (size_t) json_object_get_string_len(v)) {
        fail(m, where, "a string with a NUL byte");
        return NULL;
    }
    return s;
}

static int
want_obj(struct map *m, json_object *v, const char *where)
{
    if (json_object_is_type(v, json_type_object))
        return 1;
    fail(m, where, "expected an object, not %s", type_name(v));
    return 0;
}

/* v as a boolean; -1 after an error. */
static int
want_bool(struct map *m, json_object *v, const char *where)
{
    if (json_object_is_type(v, json_type_boolean))
        return json_object_get_boolean(v);
    fail(m, where, "expected true or false, not %s", type_name(v));
    return -1;
}

/* A whole number from min to max; FPMD_ERROR after an error. */
static int
want_int(struct map *m, json_object *v, const char *where, long long min,
         long long max, long long *n)
{
    if (!json_object_is_type(v, json_type_int)) {
        fail(m, where, "expected a whole number, not %s", type_name(v));
        return FPMD_ERROR;
    }
    *n = json_object_get_int64(v);
    if (*n < min || *n > max) {
        fail(m, where, "%lld: Unit takes %lld to %lld", *n, min, max);
        return FPMD_ERROR;
    }
    return FPMD_OK;
}

/* v as a list of strings: a string alone or an array of them; the count,
 * or -1 after an error. */
static long
want_strs(struct map *m, json_object *v, const char *where,
          const char **items, size_t max)
{
    size_t n;

    if (json_object_is_type(v, json_type_string)) {
        items[0] = want_str(m, v, where);
        return items[0] ? 1 : -1;
    }
    if (!json_object_is_type(v, json_type_array)) {
        fail(m, where, "expected a string or an array of strings, not %s",
              type_name(v));
        return -1;
    }
    n = json_object_array_length(v);
    if (n == 0 || n > max) {
        fail(m, where, "%zu patterns: Unit takes 1, fpmd-migrate at most "
              "%zu", n, max);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        items[i] = want_str(m, json_object_array_get_idx(v, i),
                            ptr_i(m, where, i));
        if (items[i] == NULL)
            return -1;
    }
    return (long) n;
}

/* --- pure helpers ----------------------------------------------------- */

enum fpmd_unit_uri_kind
fpmd_unit_uri(const char *p, char *path, size_t pathlen, const char **why)
{
    size_t len = strlen(p);
    const char *star = strchr(p, '*');

    *why = NULL;
    if (p[0] == '!') {
        *why = "a negation: fpmd's routes say what they match, not what "
               "they do not";
        return FPMD_UNIT_URI_NONE;
    }
    if (p[0] == '~') {
        *why = "a regular expression: fpmd's routes match exact paths, "
               "{param} segments and a trailing *";
        return FPMD_UNIT_URI_NONE;
    }
    if (strcmp(p, "*") == 0)
        return FPMD_UNIT_URI_ANY;
    if (p[0] != '/') {
        *why = "a wildcard before the path (a suffix like *.php): fpmd's "
               "routes match exact paths, {param} segments and a trailing *";
        return FPMD_UNIT_URI_NONE;
    }
    if ((star != NULL && star != p + len - 1) || len >= pathlen) {
        *why = star != NULL ? "a wildcard inside the path: fpmd's routes take "
                              "* only at the end"
                            : "longer than fpmd-migrate takes";
        return FPMD_UNIT_URI_NONE;
    }
    for (const char *c = p; *c != '\0'; c++) {
        /* fpmd reads {name} as a parameter and a space as the end of the
         * path; Unit's patterns are bytes of the decoded path */
        if (*c == '{' || *c == '}' || (unsigned char) *c <= ' '
            || *c == 0x7f) {
            *why = "a brace, a space or a control byte: fpmd's route "
                   "syntax cannot say it";
            return FPMD_UNIT_URI_NONE;
        }
    }
    memcpy(path, p, len + 1);
    if (star == NULL)
        return FPMD_UNIT_URI_EXACT;
    if (len >= 2 && p[len - 2] == '/')
        return FPMD_UNIT_URI_TREE;
    path[len - 1] = '\0';
    return FPMD_UNIT_URI_PREFIX;
}

int
fpmd_unit_share_root(const char *share, char *root, size_t rootlen,
                     const char **why)
{
    size_t len = strlen(share), cut;

    *why = NULL;
    if (len > 4 && strcmp(share + len - 4, "$uri") == 0)
        cut = len - 4;
    else if (len > 6 && strcmp(share + len - 6, "${uri}") == 0)
        cut = len - 6;
    else {
        *why = strchr(share, '$') != NULL
            ? "variables other than a trailing $uri: fpmd serves the "
              "request's path under one root"
            : "a fixed file: fpmd's static routes serve a directory tree "
              "(DIR$uri)";
        return FPMD_ERROR;
    }
    if (share[0] != '/' || memchr(share, '$', cut) != NULL) {
        *why = share[0] != '/' ? "not an absolute path"
                               : "variables other than a trailing $uri: "
                                 "fpmd serves the request's path under one "
                                 "root";
        return FPMD_ERROR;
    }
    /* "$uri" starts with '/': "/srv/www/$uri" and "/srv/www$uri" name the
     * same files */
    while (cut > 1 && share[cut - 1] == '/')
        cut--;
    if (cut >= rootlen) {
        *why = "longer than fpmd-migrate takes";
        return FPMD_ERROR;
    }
    memcpy(root, share, cut);
    root[cut] = '\0';
    return FPMD_OK;
}

int
fpmd_unit_listen_addr(const char *name, char *addr, size_t addrlen,
                      const char **why)
{
    const char *colon;
    char *end;
    long port;

    *why = "not *:PORT, IPv4:PORT, [IPv6]:PORT or unix:/PATH";
    if (strncmp(name, "unix:", 5) == 0) {
        if (name[5] != '/' || strlen(name + 5) > SOCKET_PATH_MAX) {
            *why = "a unix socket path must be absolute and at most 107 "
                   "bytes";
            return FPMD_ERROR;
        }
        snprintf(addr, addrlen, "%s", name + 5);
        return strlen(name + 5) < addrlen ? FPMD_OK : FPMD_ERROR;
    }
    colon = strrchr(name, ':');
    if (colon == NULL || colon == name || strlen(name) >= addrlen)
        return FPMD_ERROR;
    port = strtol(colon + 1, &end, 10);
    if (!isdigit((unsigned char) colon[1]) || *end != '\0' || port < 1
        || port > 65535)
        return FPMD_ERROR;
    if (name[0] == '[' ? colon[-1] != ']'
                       : strspn(name, "*0123456789.")
                             != (size_t) (colon - name))
        return FPMD_ERROR;
    memcpy(addr, name, strlen(name) + 1);
    *why = NULL;
    return FPMD_OK;
}

/* An fpmd legacy pool name: 1 to 31 of [A-Za-z0-9_-]. */
static int
legacy_name_ok(const char *s)
{
    size_t len = strlen(s);

    return len >= 1 && len <= LEGACY_NAME_MAX
        && strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                  "0123456789_-") == len;
}

/* A php-fpm INI value: plain, or double-quoted with php-fpm's escapes;
 * NULL for a value no INI line can carry. */
static char *
ini_value(struct map *m, const char *v)
{
    size_t n = strlen(v);
    char *q, *o;

    if (n > 0 && strspn(v, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRST"
                        "UVWXYZ0123456789_./-:") == n)
        return fmt(m, "%s", v);
    for (size_t i = 0; i < n; i++) {
        if ((unsigned char) v[i] < ' ' || v[i] == 0x7f)
            return NULL;
    }
    q = malloc(2 * n + 3);
    if (q == NULL)
        return keep(m, q);
    o = q;
    *o++ = '"';
    for (size_t i = 0; i < n; i++) {
        if (v[i] == '"' || v[i] == '\\' || v[i] == '$')
            *o++ = '\\';
        *o++ = v[i];
    }
    *o++ = '"';
    *o = '\0';
    return keep(m, q);
}

/* --- settings and access_log ------------------------------------------ */

static char *
seconds(struct map *m, json_object *v, const char *where)
{
    long long n;

    if (want_int(m, v, where, 0, 86400 * 365, &n) != FPMD_OK)
        return NULL;
    return fmt(m, "%llds", n);
}

static void
map_http(struct map *m, json_object *http, const char *where)
{
    if (!want_obj(m, http, where))
        return;
    json_object_object_foreach(http, k, v) {
        const char *at = ptr(m, where, k);
        char **slot = strcmp(k, "header_read_timeout") == 0 ? &m->header_read
            : strcmp(k, "body_read_timeout") == 0 ? &m->body_read
            : strcmp(k, "idle_timeout") == 0 ? &m->keepalive : NULL;
        long long n;

        if (slot != NULL) {
            *slot = seconds(m, v, at);
            if (*slot != NULL)
                say(m, at, MAPPED, "timeouts.%s: %s%s", slot == &m->header_read
                    ? "header_read" : slot == &m->body_read ? "body_read"
                                                            : "keepalive",
                    *slot, slot == &m->body_read
                    ? " (fpmd's is a deadline from the head's end, "
                      "lengthened by limits.body_min_rate, not Unit's time "
                      "between two reads)" : "");
        } else if (strcmp(k, "max_body_size") == 0) {
            if (want_int(m, v, at, 0, (long long) 1 << 40, &n) == FPMD_OK) {
                m->body = fmt(m, "%lld", n);
                say(m, at, MAPPED, "limits.body: %lld", n);
            }
        } else if (strcmp(k, "send_timeout") == 0) {
            say(m, at, UNSUPPORTED, "fpmd has no send timeout: a slow "
                "reader holds only its connection's buffers");
        } else if (strcmp(k, "discard_unsafe_fields") == 0) {
            int b = want_bool(m, v, at);

            if (b == 1)
                say(m, at, APPLIED, "fpmd always drops header fields with "
                    "'_' in their names");
            else if (b == 0)
                say(m, at, UNSUPPORTED, "false: fpmd always drops header "
                    "fields with '_' (httpoxy and CGI name clashes)");
        } else if (strcmp(k, "server_version") == 0) {
            int b = want_bool(m, v, at);

            m->hide_server = b == 0;
            if (b >= 0)
                say(m, at, MAPPED, "server_token: %s", m->hide_server
                    ? "null" : "fpmd (its default)");
        } else {
            say(m, at, UNSUPPORTED, "fpmd has no such HTTP setting");
        }
    }
}

static void
map_settings(struct map *m, json_object *s)
{
    if (!want_obj(m, s, "/settings"))
        return;
    json_object_object_foreach(s, k, v) {
        const char *at = ptr(m, "/settings", k);

        if (strcmp(k, "http") == 0)
            map_http(m, v, at);
        else
            say(m, at, UNSUPPORTED, "fpmd has no such setting");
    }
}

static void
map_access_log(struct map *m, json_object *v)
{
    const char *path = NULL;

    if (json_object_is_type(v, json_type_object)) {
        json_object_object_foreach(v, k, val) {
            const char *at = ptr(m, "/access_log", k);

            if (strcmp(k, "path") == 0) {
                path = want_str(m, val, at);
                if (path != NULL && path[0] == '/')
                    say(m, at, MAPPED, "log.access: %s", path);
            } else if (strcmp(k, "format") == 0) {
                say(m, at, UNSUPPORTED, "fpmd writes php-fpm's access.format "
                    "%%-codes, not Unit's variables: log.access_format "
                    "keeps fpmd's default");
            } else {
                say(m, at, UNSUPPORTED, "fpmd logs every request");
            }
        }
    } else {
        path = want_str(m, v, "/access_log");
        if (path != NULL && path[0] == '/')
            say(m, "/access_log", MAPPED, "log.access: %s (in fpmd's "
                "default format, not Unit's combined one)", path);
    }
    if (path != NULL && path[0] != '/')
        fail(m, "/access_log", "\"%s\" is not an absolute path", path);
    else if (path != NULL)
        m->access = quote(m, path);
}

/* --- applications ----------------------------------------------------- */

/* A line of app's pool section; NULL key or value: memory ran out. */
static void
ini(struct map *m, struct app *a, const char *key, const char *value)
{
    char *line = NULL;

    if (key == NULL || value == NULL
        || asprintf(&line, "%s = %s", key, value) < 0)
        line = NULL;
    strs_add(m, &a->ini, line);
}

/* A legacy pool for app (a target when target is not NULL). */
static struct pool *
add_pool(struct map *m, size_t app, const char *target, const char *where)
{
    struct pool *p;
    char *name = target ? fmt(m, "%s_%s", m->apps[app].name, target)
                        : m->apps[app].name;

    if (name == NULL)
        return NULL;
    if (!legacy_name_ok(name)) {
        say(m, where, UNSUPPORTED, "\"%s\" cannot name an fpmd legacy pool "
            "(1 to %d letters, digits, '_' or '-'): routes to it are left "
            "out", name, LEGACY_NAME_MAX);
        return NULL;
    }
    if (m->npools == LEGACY_POOLS_MAX) {
        say(m, where, UNSUPPORTED, "fpmd takes at most %d legacy pools: "
            "routes to it are left out", LEGACY_POOLS_MAX);
        return NULL;
    }
    p = &m->pools[m->npools++];
    memset(p, 0, sizeof(*p));
    p->name = name;
    p->app = app;
    return p;
}

/* root, script, index of an app or a target into p. */
static void
map_target(struct map *m, json_object *obj, const char *where, struct pool *p,
           int is_app)
{
    const char *script = NULL;

    json_object_object_foreach(obj, k, v) {
        const char *at = ptr(m, where, k);
        const char *s;

        if (strcmp(k, "root") == 0) {
            s = want_str(m, v, at);
            if (s != NULL && s[0] != '/') {
                fail(m, at, "\"%s\" is not an absolute path", s);
            } else if (s != NULL) {
                p->root = quote(m, s);
                say(m, at, MAPPED, "legacy.%s.document_root: %s", p->name, s);
            }
        } else if (strcmp(k, "script") == 0) {
            script = want_str(m, v, at);
            if (script != NULL)
                say(m, at, MAPPED, "params SCRIPT_FILENAME and SCRIPT_NAME "
                    "of the routes to legacy:%s: every request runs %s",
                    p->name, script);
        } else if (strcmp(k, "index") == 0) {
            if (want_str(m, v, at) != NULL)
                say(m, at, UNSUPPORTED, "fpmd passes a path ending in / to "
                    "php-fpm as it is, with no index appended: route such "
                    "paths to a target with script");
        } else if (!is_app) {
            say(m, at, UNSUPPORTED, "not a key of a PHP target");
        }
    }
    if (p->root == NULL) {
        fail(m, where, "no root: Unit needs one for a PHP application");
        return;
    }
    if (script != NULL) {
        const char *r = json_object_get_string(
            json_object_object_get(obj, "root"));
        size_t rlen = strlen(r);

        while (rlen > 1 && r[rlen - 1] == '/')
            rlen--;
        while (script[0] == '/')
            script++;
        p->script_filename = quote(m, fmt(m, "%.*s/%s", (int) rlen, r,
                                          script));
        p->script_name = quote(m, fmt(m, "/%s", script));
    }
}

/* processes: a number (static) or {max, spare, idle_timeout}. */
static void
map_processes(struct map *m, struct app *a, json_object *v, const char *at)
{
    long long max = 1, spare = 0, idle = 15;

    if (json_object_is_type(v, json_type_int)) {
        if (want_int(m, v, at, 1, 100000, &max) != FPMD_OK)
            return;
        a->children = max;
        say(m, at, MAPPED, "the pool's pm = static, pm.max_children = %lld "
            "(and fpmd's pm)", max);
        return;
    }
    if (!want_obj(m, v, at))
        return;
    json_object_object_foreach(v, k, val) {
        const char *kat = ptr(m, at, k);
        int rc = FPMD_ERROR;

        if (strcmp(k, "max") == 0)
            rc = want_int(m, val, kat, 1, 100000, &max);
        else if (strcmp(k, "spare") == 0)
            rc = want_int(m, val, kat, 0, 100000, &spare);
        else if (strcmp(k, "idle_timeout") == 0)
            rc = want_int(m, val, kat, 0, 86400 * 365, &idle);
        else
            say(m, kat, UNSUPPORTED, "not a key of processes");
        if (rc != FPMD_OK)
            continue;
        if (strcmp(k, "idle_timeout") == 0 && spare > 0)
            say(m, kat, UNSUPPORTED, "php-fpm's pm = dynamic stops idle "
                "children above pm.max_spare_servers within a second; it "
                "has no idle timeout");
        else
            say(m, kat, MAPPED, "the pool's pm.%s (and fpmd's pm)",
                strcmp(k, "max") == 0 ? "max_children"
                : strcmp(k, "spare") == 0 ? "start_servers, "
                  "pm.min_spare_servers, pm.max_spare_servers (pm = dynamic; "
                  "0: pm = ondemand)" : "process_idle_timeout");
    }
    if (spare > max) {
        fail(m, at, "spare (%lld) above max (%lld)", spare, max);
        return;
    }
    /* Unit forks up to max, keeps spare idle and stops idle ones above
     * spare after idle_timeout: php-fpm's dynamic with spare, or
     * ondemand when nothing is kept idle */
    a->pm = spare == 0 ? "ondemand" : "dynamic";
    a->children = max;
    a->spare = spare;
    a->idle = idle;
}

/* The pool's pm lines, Unit's default (one process) when it said none. */
static void
pool_pm(struct map *m, struct app *a)
{
    ini(m, a, "pm", a->pm);
    ini(m, a, "pm.max_children", fmt(m, "%lld", a->children));
    if (strcmp(a->pm, "dynamic") == 0) {
        ini(m, a, "pm.start_servers", fmt(m, "%lld", a->spare));
        ini(m, a, "pm.min_spare_servers", fmt(m, "%lld", a->spare));
        ini(m, a, "pm.max_spare_servers", fmt(m, "%lld", a->spare));
    } else if (strcmp(a->pm, "ondemand") == 0) {
        ini(m, a, "pm.process_idle_timeout", fmt(m, "%llds", a->idle));
    }
}

static void
map_limits(struct map *m, struct app *a, json_object *v, const char *at)
{
    if (!want_obj(m, v, at))
        return;
    json_object_object_foreach(v, k, val) {
        const char *kat = ptr(m, at, k);
        long long n;

        if (strcmp(k, "timeout") == 0) {
            if (want_int(m, val, kat, 1, 86400 * 365, &n) != FPMD_OK)
                continue;
            a->timeout = fmt(m, "%llds", n);
            ini(m, a, "request_terminate_timeout", a->timeout);
            say(m, kat, MAPPED, "the pool's request_terminate_timeout and "
                "fpmd's legacy timeout: %llds", n);
        } else if (strcmp(k, "requests") == 0) {
            if (want_int(m, val, kat, 1, 4294967295LL, &n) != FPMD_OK)
                continue;
            ini(m, a, "pm.max_requests", fmt(m, "%lld", n));
            say(m, kat, MAPPED, "the pool's pm.max_requests = %lld", n);
        } else {
            say(m, kat, UNSUPPORTED, "php-fpm has no such limit");
        }
    }
}

/* options: {file, admin: {...}, user: {...}}. */
static void
map_options(struct map *m, struct app *a, json_object *v, const char *at)
{
    if (!want_obj(m, v, at))
        return;
    json_object_object_foreach(v, k, val) {
        const char *kat = ptr(m, at, k);
        int admin = strcmp(k, "admin") == 0;

        if (!admin && strcmp(k, "user") != 0) {
            say(m, kat, UNSUPPORTED, strcmp(k, "file") == 0
                ? "php-fpm reads one php.ini for all pools: set its values "
                  "with options.admin or options.user"
                : "not a key of options");
            continue;
        }
        if (!want_obj(m, val, kat))
            continue;
        json_object_object_foreach(val, name, value) {
            const char *vat = ptr(m, kat, name);
            const char *s = want_str(m, value, vat);
            char *iv = s ? ini_value(m, s) : NULL;

            if (s == NULL)
                continue;
            if (iv == NULL || strpbrk(name, "[]=\n\r;") != NULL) {
                say(m, vat, UNSUPPORTED, "no php-fpm line can carry it");
                continue;
            }
            ini(m, a, fmt(m, "%s[%s]", admin ? "php_admin_value" : "php_value",
                          name), iv);
            say(m, vat, MAPPED, "the pool's %s[%s]", admin ? "php_admin_value"
                : "php_value", name);
        }
    }
}

static void
map_app(struct map *m, const char *name, json_object *obj)
{
    const char *where = ptr(m, "/applications", name);
    json_object *type = json_object_object_get(obj, "type");
    const char *t = type ? want_str(m, type, ptr(m, where, "type")) : NULL;
    struct app *a = &m->apps[m->napps];
    json_object *targets = json_object_object_get(obj, "targets");
    size_t idx = m->napps;

    if (!want_obj(m, obj, where))
        return;
    if (type == NULL) {
        fail(m, where, "no type: Unit needs one");
        return;
    }
    if (t == NULL)
        return;
    if (strncmp(t, "php", 3) != 0 || (t[3] != '\0' && t[3] != ' ')) {
        say(m, where, UNSUPPORTED, "a %s application: fpmd passes requests "
            "to php-fpm only; routes to it are left out", t);
        return;
    }
    if (!legacy_name_ok(name)) {
        say(m, where, UNSUPPORTED, "the name cannot name a php-fpm pool and "
            "an fpmd legacy pool (1 to %d letters, digits, '_' or '-'); "
            "routes to it are left out", LEGACY_NAME_MAX);
        return;
    }
    memset(a, 0, sizeof(*a));
    a->name = keep(m, strdup(name));
    a->pm = "static";
    a->children = 1;
    a->sock = fmt(m, "%s/unit-%s.sock", m->opts->socket_dir, name);
    if (a->name == NULL || a->sock == NULL)
        return;
    if (strlen(a->sock) > SOCKET_PATH_MAX || ini_value(m, a->sock) == NULL) {
        say(m, where, UNSUPPORTED, "its php-fpm socket %s is longer than a "
            "unix socket path takes: give a shorter --socket-dir", a->sock);
        return;
    }
    m->napps++;
    say(m, ptr(m, where, "type"), MAPPED, "a php-fpm pool [%s] listening "
        "on %s, reached as legacy pool%s %s%s", name, a->sock,
        targets ? "s" : "", name, targets ? "_TARGET" : "");
    ini(m, a, "listen", ini_value(m, a->sock));
    a->sock = quote(m, a->sock);
    ini(m, a, "listen.mode", "0660");
    if (targets != NULL && want_obj(m, targets, ptr(m, where, "targets"))) {
        const char *tw = ptr(m, where, "targets");

        json_object_object_foreach(targets, tn, tv) {
            const char *at = ptr(m, tw, tn);
            struct pool *p;

            if (!want_obj(m, tv, at) || (p = add_pool(m, idx, tn, at)) == NULL)
                continue;
            map_target(m, tv, at, p, 0);
        }
    } else if (targets == NULL) {
        struct pool *p = add_pool(m, idx, NULL, where);

        if (p != NULL)
            map_target(m, obj, where, p, 1);
    }
    json_object_object_foreach(obj, k, v) {
        const char *at = ptr(m, where, k);
        const char *s;

        if (strcmp(k, "type") == 0 || strcmp(k, "targets") == 0
            || strcmp(k, "root") == 0 || strcmp(k, "script") == 0
            || strcmp(k, "index") == 0) {
            if (targets != NULL && strcmp(k, "type") != 0
                && strcmp(k, "targets") != 0)
                say(m, at, UNSUPPORTED, "Unit refuses it beside targets");
        } else if (strcmp(k, "processes") == 0) {
            map_processes(m, a, v, at);
        } else if (strcmp(k, "limits") == 0) {
            map_limits(m, a, v, at);
        } else if (strcmp(k, "options") == 0) {
            map_options(m, a, v, at);
        } else if (strcmp(k, "user") == 0 || strcmp(k, "group") == 0
                   || strcmp(k, "working_directory") == 0) {
            if ((s = want_str(m, v, at)) == NULL)
                continue;
            if (ini_value(m, s) == NULL) {
                say(m, at, UNSUPPORTED, "no php-fpm line can carry it");
                continue;
            }
            ini(m, a, k[0] == 'w' ? "chdir" : k, ini_value(m, s));
            say(m, at, MAPPED, "the pool's %s = %s",
                k[0] == 'w' ? "chdir" : k, s);
        } else if (strcmp(k, "environment") == 0) {
            if (!want_obj(m, v, at))
                continue;
            json_object_object_foreach(v, en, ev) {
                const char *eat = ptr(m, at, en);

                if ((s = want_str(m, ev, eat)) == NULL)
                    continue;
                if (ini_value(m, s) == NULL
                    || strpbrk(en, "[]=\n\r;") != NULL) {
                    say(m, eat, UNSUPPORTED, "no php-fpm line can carry it");
                    continue;
                }
                ini(m, a, fmt(m, "env[%s]", en), ini_value(m, s));
                say(m, eat, MAPPED, "the pool's env[%s]", en);
            }
        } else if (strcmp(k, "stdout") == 0 || strcmp(k, "stderr") == 0) {
            say(m, at, UNSUPPORTED, "php-fpm logs its children's output "
                "to its error_log with catch_workers_output = yes");
        } else if (strcmp(k, "isolation") == 0) {
            say(m, at, UNSUPPORTED, "php-fpm has no namespaces or cgroups; "
                "run it in the container or unit that isolates it");
        } else {
            say(m, at, UNSUPPORTED, "php-fpm has no such setting");
        }
    }
    pool_pm(m, a);
    if (!m->have_pm) {
        m->have_pm = 1;
        m->pm_app = idx;
    }
}

/* --- routes ----------------------------------------------------------- */

static const char *
pool_name(const struct map *m, const struct route *r)
{
    return m->pools[r->pool].name;
}

/* applications/NAME[/TARGET]: the legacy pool, or -1 (reported). */
static long
find_pool(struct map *m, const char *pass, const char *at)
{
    const char *name = pass + strlen("applications/");
    const char *slash = strchr(name, '/');
    size_t nlen = slash ? (size_t) (slash - name) : strlen(name);

    for (size_t i = 0; i < m->npools; i++) {
        const struct app *a = &m->apps[m->pools[i].app];
        const char *pn = m->pools[i].name;

        if (strlen(a->name) != nlen || strncmp(a->name, name, nlen) != 0)
            continue;
        if (slash == NULL && strcmp(pn, a->name) == 0)
            return (long) i;
        if (slash != NULL && strncmp(pn, a->name, nlen) == 0
            && pn[nlen] == '_' && strcmp(pn + nlen + 1, slash + 1) == 0)
            return (long) i;
    }
    say(m, at, UNSUPPORTED, "%s is not a PHP application or target that "
        "fpmd passes to: the step is left out", pass);
    return -1;
}

/* 1 when the method tok (len bytes) is in list ("GET,POST"). */
static int
method_in(const char *list, const char *tok, size_t len)
{
    for (const char *q = list; *q != '\0';) {
        size_t ql = strcspn(q, ",");

        if (ql == len && strncmp(q, tok, len) == 0)
            return 1;
        q += ql + (q[ql] == ',');
    }
    return 0;
}

/* How many of b's methods are a's (NULL: every method), and of how
 * many; *total 0 when b is every method. */
static size_t
methods_shared(const char *a, const char *b, size_t *total)
{
    size_t shared = 0;

    *total = 0;
    for (const char *p = b ? b : ""; *p != '\0';) {
        size_t len = strcspn(p, ",");

        (*total)++;
        shared += a == NULL || method_in(a, p, len);
        p += len + (p[len] == ',');
    }
    return shared;
}

/* 1 when every method of b is one of a's. */
static int
methods_cover(const char *a, const char *b)
{
    size_t total, shared = methods_shared(a, b, &total);

    return a == NULL || (b != NULL && shared == total);
}

static int
methods_overlap(const char *a, const char *b)
{
    size_t total;

    return a == NULL || b == NULL || methods_shared(a, b, &total) > 0;
}

/* b's methods less a's ("" when none is left). */
static char *
methods_less(struct map *m, const char *b, const char *a)
{
    char *out = fmt(m, "%s", "");

    for (const char *p = b; out != NULL && *p != '\0';) {
        size_t len = strcspn(p, ",");

        if (!method_in(a, p, len))
            out = fmt(m, "%s%s%.*s", out, out[0] ? "," : "", (int) len, p);
        p += len + (p[len] == ',');
    }
    return out;
}

/* The paths a region takes: every one starting with its text (a tree, a
 * prefix), or the one (exact, script). */
static int
region_prefix(const struct route *r, const char **p)
{
    if (r->region == R_TREE) {
        *p = r->path;
        return (int) strlen(r->path) - 1;       /* without the '*' */
    }
    *p = r->path;
    return r->region == R_PREFIX ? (int) strlen(r->path) : -1;
}

/* 1 when every path of b is one of a's. */
static int
region_covers(const struct route *a, const struct route *b)
{
    const char *ap, *bp;
    int alen = region_prefix(a, &ap), blen = region_prefix(b, &bp);

    if (alen < 0)
        return blen < 0 && strcmp(a->path, b->path) == 0;
    return strncmp(ap, bp, (size_t) alen) == 0
        && (blen < 0 || blen >= alen);
}

/* 1 when a's query conditions are all among b's. */
static int
query_covers(const struct route *a, const struct route *b)
{
    for (size_t i = 0; i < a->nq; i++) {
        size_t j;

        for (j = 0; j < b->nq; j++) {
            if (strcmp(a->qname[i], b->qname[j]) == 0
                && (strcmp(a->qvalue[i], "*") == 0
                    || strcmp(a->qvalue[i], b->qvalue[j]) == 0))
                break;
        }
        if (j == b->nq)
            return 0;
    }
    return 1;
}

static int
is_shim(const struct route *r)
{
    return r->region == R_PREFIX || r->region == R_SCRIPT || r->nq > 0;
}

/* Unit takes the first step that matches, fpmd the most specific route
 * (shims first): r goes in unless an earlier route takes all of its
 * requests, and with its methods cut where fpmd would refuse two routes
 * on one path. 1 to add it. */
static int
fits(struct map *m, struct route *r)
{
    for (size_t i = 0; i < m->nroutes; i++) {
        const struct route *e = &m->routes[i];

        if (!methods_overlap(e->methods, r->methods))
            continue;
        if (region_covers(e, r) && methods_cover(e->methods, r->methods)
            && query_covers(e, r)) {
            say(m, r->from, APPLIED, "%s%s%s is never reached: %s takes "
                "every request it matches first; left out", r->methods
                ? r->methods : "", r->methods ? " " : "", r->path, e->from);
            return 0;
        }
        if (!is_shim(e) && !is_shim(r) && strcmp(e->path, r->path) == 0) {
            /* fpmd refuses two routes on one path that a method reaches
             * both: the later keeps the methods the earlier leaves */
            if (r->methods == NULL) {
                say(m, r->from, UNSUPPORTED, "%s: %s takes %s of it first, "
                    "and fpmd cannot route \"every other method\"; left out",
                    r->path, e->from, e->methods);
                return 0;
            }
            r->methods = methods_less(m, r->methods, e->methods);
            if (r->methods == NULL || r->methods[0] == '\0')
                return 0;
            say(m, r->from, APPLIED, "%s: %s takes %s first: this route "
                "keeps %s", r->path, e->from, e->methods, r->methods);
            continue;
        }
        /* shims go first in config order, then the most specific path */
        if (region_covers(e, r) && !is_shim(e))
            say(m, r->from, UNSUPPORTED, "order: Unit gives %s %s to %s "
                "first; fpmd's router picks this more specific route for "
                "it%s", r->methods ? r->methods : "every method of",
                r->path, e->from, is_shim(r) ? " (shims come first)" : "");
    }
    return 1;
}

static void
add_route(struct map *m, const struct route *tmpl)
{
    struct route r = *tmpl;

    if (!fits(m, &r))
        return;
    r.text = r.region == R_EXACT || r.region == R_TREE
        ? quote(m, fmt(m, "%s%s%s", r.methods ? r.methods : "",
                       r.methods ? " " : "", r.path))
        : quote(m, r.path);
    if (r.text == NULL)
        return;
    if (m->nroutes == FPMD_UNIT_ITEMS_MAX * 4) {
        say(m, r.from, UNSUPPORTED, "more routes than fpmd-migrate writes");
        return;
    }
    m->routes[m->nroutes++] = r;
}

/* The action: what a route does, in tmpl; FPMD_ERROR when the step is
 * left out (reported). */
static int
map_action(struct map *m, json_object *act, const char *at,
           struct route *tmpl)
{
    json_object *share = json_object_object_get(act, "share");
    json_object *ret = json_object_object_get(act, "return");
    json_object *pass = json_object_object_get(act, "pass");
    int rc = FPMD_ERROR;
    long long st;

    if (!want_obj(m, act, at))
        return FPMD_ERROR;
    json_object_object_foreach(act, k, v) {
        const char *kat = ptr(m, at, k);
        const char *s;

        if (strcmp(k, "pass") == 0) {
            long pool;

            if ((s = want_str(m, v, kat)) == NULL)
                continue;
            if (strncmp(s, "applications/", 13) != 0) {
                say(m, kat, UNSUPPORTED, "%s: fpmd's routes pass to php-fpm "
                    "pools only (%s); the step is left out", s,
                    strncmp(s, "upstreams/", 10) == 0
                    ? "an upstream is for handlers' HTTP calls"
                    : strncmp(s, "routes/", 7) == 0
                    ? "fpmd has one route table" : "not a Unit target");
                continue;
            }
            if ((pool = find_pool(m, s, kat)) < 0)
                continue;
            tmpl->action = A_LEGACY;
            tmpl->pool = (size_t) pool;
            say(m, kat, MAPPED, "to: legacy:%s", pool_name(m, tmpl));
            rc = FPMD_OK;
        } else if (strcmp(k, "share") == 0) {
            const char *shares[1];
            char root[4096];
            const char *why;

            if (json_object_is_type(v, json_type_array)
                && json_object_array_length(v) > 1) {
                say(m, kat, UNSUPPORTED, "several shares: fpmd serves one "
                    "root; the first is tried alone");
                v = json_object_array_get_idx(v, 0);
                kat = ptr_i(m, kat, 0);
            }
            if (want_strs(m, v, kat, shares, 1) != 1)
                continue;
            if (fpmd_unit_share_root(shares[0], root, sizeof(root), &why)
                != FPMD_OK) {
                say(m, kat, UNSUPPORTED, "%s: %s; the step is left out",
                    shares[0], why);
                continue;
            }
            tmpl->action = A_STATIC;
            tmpl->root = fmt(m, "%s", root);
            if (tmpl->index == NULL)
                tmpl->index = quote(m, "index.html");
            say(m, kat, MAPPED, "static.root: %s, plus the route's path "
                "before its * (fpmd serves the rest of the path under the "
                "root, Unit all of it); index index.html and symlinks "
                "followed, as Unit's defaults", root);
            rc = FPMD_OK;
        } else if (strcmp(k, "index") == 0 && share != NULL) {
            if ((s = want_str(m, v, kat)) == NULL)
                continue;
            tmpl->index = quote(m, s);
            say(m, kat, MAPPED, "static.index: %s", s);
        } else if (strcmp(k, "follow_symlinks") == 0 && share != NULL) {
            int b = want_bool(m, v, kat);

            if (b < 0)
                continue;
            tmpl->follow = b;
            say(m, kat, MAPPED, "static.follow_symlinks: %s",
                b ? "true" : "false");
        } else if (strcmp(k, "chroot") == 0 && share != NULL) {
            say(m, kat, APPLIED, "fpmd's static routes never serve a file "
                "outside their root (openat2 RESOLVE_BENEATH)");
        } else if (strcmp(k, "traverse_mounts") == 0 && share != NULL) {
            say(m, kat, UNSUPPORTED, "fpmd's static routes cross mount "
                "points below their root");
        } else if (strcmp(k, "types") == 0 && share != NULL) {
            say(m, kat, UNSUPPORTED, "fpmd filters by extension "
                "(static.deny_extensions, .php by default), not by MIME "
                "type");
        } else if (strcmp(k, "fallback") == 0 && share != NULL) {
            say(m, kat, UNSUPPORTED, "fpmd's static route answers 404 for a "
                "missing file: it has no fallback action");
        } else if (strcmp(k, "return") == 0) {
            if (want_int(m, v, kat, 0, 999, &st) != FPMD_OK)
                continue;
            if (st < 400 || st > 599) {
                say(m, kat, UNSUPPORTED, "%lld: fpmd's to: answers a status "
                    "from 400 to 599; a %lld needs a handler; the step is "
                    "left out", st, st);
                continue;
            }
            tmpl->action = A_STATUS;
            tmpl->status = (int) st;
            say(m, kat, MAPPED, "to: %lld", st);
            rc = FPMD_OK;
        } else if (strcmp(k, "location") == 0 && ret != NULL) {
            say(m, kat, UNSUPPORTED, "fpmd's to: answers a status with no "
                "Location header");
        } else if (strcmp(k, "proxy") == 0) {
            say(m, kat, UNSUPPORTED, "fpmd's routes do not proxy HTTP (its "
                "upstreams are for handlers' fpmd_http_* calls); the step "
                "is left out");
        } else if (strcmp(k, "rewrite") == 0) {
            say(m, kat, UNSUPPORTED, "fpmd does not rewrite the path; the "
                "step is left out");
            return FPMD_ERROR;
        } else if (strcmp(k, "response_headers") == 0) {
            say(m, kat, UNSUPPORTED, "fpmd's routes add no response "
                "headers");
        } else {
            say(m, kat, UNSUPPORTED, "%s", pass || share || ret
                ? "not a key of this action" : "not an action fpmd knows");
        }
    }
    return rc;
}

/* A match condition fpmd cannot test: "*" (everything) is applied,
 * anything else leaves the step out. FPMD_OK to go on. */
static int
untestable(struct map *m, json_object *v, const char *at, const char *what)
{
    if (json_object_is_type(v, json_type_string)
        && strcmp(json_object_get_string(v), "*") == 0) {
        say(m, at, APPLIED, "\"*\" matches every request");
        return FPMD_OK;
    }
    say(m, at, UNSUPPORTED, "fpmd routes on method and path, not %s; the "
        "step is left out", what);
    return FPMD_ERROR;
}

/* arguments: {name: value} (or an array of them, any one matching) as
 * shim queries; values exact or "*". The count, -1 when the step is left
 * out. */
static long
map_arguments(struct map *m, json_object *v, const char *at,
              json_object **sets, size_t max)
{
    size_t n = 1;

    if (json_object_is_type(v, json_type_array)) {
        n = json_object_array_length(v);
        if (n == 0 || n > max) {
            fail(m, at, "%zu argument sets: fpmd-migrate takes 1 to %zu", n,
                  max);
            return -1;
        }
        for (size_t i = 0; i < n; i++)
            sets[i] = json_object_array_get_idx(v, i);
    } else {
        sets[0] = v;
    }
    for (size_t i = 0; i < n; i++) {
        const char *sat = n > 1 || json_object_is_type(v, json_type_array)
            ? ptr_i(m, at, i) : at;

        if (!want_obj(m, sets[i], sat))
            return -1;
        json_object_object_foreach(sets[i], name, val) {
            const char *vat = ptr(m, sat, name);
            const char *s = want_str(m, val, vat);

            if (s == NULL)
                return -1;
            if (s[0] == '\0' || s[0] == '!' || s[0] == '~'
                || (strchr(s, '*') != NULL && strcmp(s, "*") != 0)
                || name[0] == '\0') {
                say(m, vat, UNSUPPORTED, "fpmd's shims match an argument's "
                    "exact value or \"*\"; the step is left out");
                return -1;
            }
        }
    }
    return (long) n;
}

/* method: upper-case tokens, joined; NULL with *any for "*"; NULL after
 * a report (the step is left out). */
static char *
map_methods(struct map *m, json_object *v, const char *at, int *any)
{
    const char *items[32];
    long n = want_strs(m, v, at, items, 32);
    char *out = NULL;

    *any = 0;
    for (long i = 0; i < n; i++) {
        char tok[24];
        size_t len = strlen(items[i]);

        if (strcmp(items[i], "*") == 0) {
            *any = 1;
            return NULL;
        }
        if (len == 0 || len >= sizeof(tok)) {
            say(m, at, UNSUPPORTED, "\"%s\" is not a method fpmd routes; the "
                "step is left out", items[i]);
            return NULL;
        }
        for (size_t j = 0; j <= len; j++)
            tok[j] = (char) toupper((unsigned char) items[i][j]);
        if (strspn(tok, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != len) {
            say(m, at, UNSUPPORTED, "\"%s\": %s; the step is left out",
                items[i], tok[0] == '!' ? "a negation: fpmd's routes say "
                "what they match" : "fpmd routes on method names only");
            return NULL;
        }
        out = fmt(m, "%s%s%s", out ? out : "", out ? "," : "", tok);
    }
    if (out != NULL && n > 0)
        say(m, at, MAPPED, "match: %s", out);
    return out;
}

#define URIS_MAX 64
#define ARG_SETS_MAX 16

static void
map_step(struct map *m, json_object *step, const char *at)
{
    json_object *match = json_object_object_get(step, "match");
    json_object *act = json_object_object_get(step, "action");
    const char *mat = ptr(m, at, "match");
    struct route tmpl;
    const char *uris[URIS_MAX];
    json_object *sets[ARG_SETS_MAX];
    long nuris = 0, nsets = 0;
    int any, left_out = 0;

    if (!want_obj(m, step, at))
        return;
    memset(&tmpl, 0, sizeof(tmpl));
    tmpl.from = at;
    tmpl.follow = 1;        /* Unit's share follows symlinks by default */
    json_object_object_foreach(step, sk, sv) {
        (void) sv;
        if (strcmp(sk, "match") != 0 && strcmp(sk, "action") != 0)
            say(m, ptr(m, at, sk), UNSUPPORTED, "not a key of a route step");
    }
    if (act == NULL) {
        fail(m, at, "no action: Unit needs one");
        return;
    }
    if (match != NULL && want_obj(m, match, mat)) {
        json_object_object_foreach(match, k, v) {
            const char *kat = ptr(m, mat, k);

            if (strcmp(k, "method") == 0) {
                tmpl.methods = map_methods(m, v, kat, &any);
                left_out |= tmpl.methods == NULL && !any;
                if (any)
                    say(m, kat, APPLIED, "\"*\" matches every method");
            } else if (strcmp(k, "uri") == 0) {
                nuris = want_strs(m, v, kat, uris, URIS_MAX);
                left_out |= nuris < 0;
            } else if (strcmp(k, "arguments") == 0) {
                nsets = map_arguments(m, v, kat, sets, ARG_SETS_MAX);
                left_out |= nsets < 0;
                if (nsets > 0)
                    say(m, kat, MAPPED, "match.query of %ld shim(s)", nsets);
            } else if (strcmp(k, "scheme") == 0) {
                const char *s = want_str(m, v, kat);

                if (s != NULL && strcmp(s, "http") == 0) {
                    say(m, kat, APPLIED, "every request fpmd serves is "
                        "http (it has no TLS listener)");
                } else if (s != NULL) {
                    say(m, kat, UNSUPPORTED, "fpmd has no TLS listener: "
                        "no request is %s; the step is left out", s);
                    left_out = 1;
                } else {
                    left_out = 1;
                }
            } else if (strcmp(k, "host") == 0 || strcmp(k, "headers") == 0
                       || strcmp(k, "cookies") == 0
                       || strcmp(k, "query") == 0
                       || strcmp(k, "source") == 0
                       || strcmp(k, "destination") == 0) {
                left_out |= untestable(m, v, kat, k) != FPMD_OK;
            } else {
                say(m, kat, UNSUPPORTED, "not a match condition fpmd-migrate "
                    "knows; the step is left out");
                left_out = 1;
            }
        }
    }
    if (left_out) {
        say(m, ptr(m, at, "action"), UNSUPPORTED, "the step is left out "
            "for its match");
        return;
    }
    if (map_action(m, act, ptr(m, at, "action"), &tmpl) != FPMD_OK
        || m->out->nomem)
        return;
    if (nuris == 0) {
        uris[0] = "*";
        nuris = 1;
    }
    for (long i = 0; i < nuris; i++) {
        const char *uat = json_object_is_type(
            json_object_object_get(match, "uri"), json_type_array)
            ? ptr_i(m, ptr(m, mat, "uri"), (size_t) i) : ptr(m, mat, "uri");
        char path[1024];
        const char *why;
        enum fpmd_unit_uri_kind kind = fpmd_unit_uri(uris[i], path,
                                                     sizeof(path), &why);
        struct route r = tmpl;

        if (kind == FPMD_UNIT_URI_NONE) {
            say(m, uat, UNSUPPORTED, "%s: %s; requests it matches go on to "
                "the steps below", uris[i], why);
            continue;
        }
        r.region = kind == FPMD_UNIT_URI_ANY ? R_TREE
            : kind == FPMD_UNIT_URI_EXACT ? R_EXACT
            : kind == FPMD_UNIT_URI_TREE ? R_TREE : R_PREFIX;
        r.path = fmt(m, "%s", kind == FPMD_UNIT_URI_ANY ? "/*" : path);
        if (r.path == NULL)
            return;
        if (nsets > 0 && r.region == R_EXACT)
            r.region = R_SCRIPT;
        if (nsets > 0 && r.region == R_TREE) {
            /* a shim takes a prefix: a tree less its star */
            r.region = R_PREFIX;
            r.path = fmt(m, "%.*s", (int) strlen(r.path) - 1, r.path);
        }
        if (r.action == A_STATIC && (r.region != R_TREE || nsets > 0)) {
            say(m, uat, UNSUPPORTED, "%s: fpmd's static routes serve a "
                "tree (\"/assets/*\"), with no query condition; left out",
                uris[i]);
            continue;
        }
        if (r.action == A_STATIC) {
            /* Unit serves DIR$uri, fpmd the path after the tree's prefix
             * under its root: the prefix moves into the root */
            const char *under = fmt(m, "%s%.*s", strcmp(tmpl.root, "/") == 0
                                    ? "" : tmpl.root,
                                    (int) strlen(r.path) - 2, r.path);

            r.root = under == NULL ? NULL
                : quote(m, under[0] != '\0' ? under : "/");
            if (r.root == NULL)
                return;
        }
        if (match != NULL && json_object_object_get(match, "uri") != NULL)
            say(m, uat, MAPPED, "match: %s%s%s", r.region == R_PREFIX
                ? "{prefix: " : r.region == R_SCRIPT ? "{script: " : "",
                r.path, r.region == R_PREFIX || r.region == R_SCRIPT ? "}"
                                                                     : "");
        for (long s = 0; s < (nsets > 0 ? nsets : 1); s++) {
            struct route q = r;

            if (nsets > 0) {
                size_t nq = (size_t) json_object_object_length(sets[s]), j = 0;

                q.qname = keep(m, calloc(nq + 1, sizeof(char *)));
                q.qvalue = keep(m, calloc(nq + 1, sizeof(char *)));
                if (q.qname == NULL || q.qvalue == NULL)
                    return;
                json_object_object_foreach(sets[s], an, av) {
                    q.qname[j] = quote(m, an);
                    q.qvalue[j++] = quote(m, json_object_get_string(av));
                }
                q.nq = j;
            }
            add_route(m, &q);
        }
    }
}

static void
map_table(struct map *m, json_object *routes, const char *at)
{
    size_t n;

    if (!json_object_is_type(routes, json_type_array)) {
        fail(m, at, "expected an array of route steps, not %s",
              type_name(routes));
        return;
    }
    n = json_object_array_length(routes);
    for (size_t i = 0; i < n && !m->out->nomem; i++) {
        if (i == FPMD_UNIT_ITEMS_MAX) {
            say(m, ptr_i(m, at, i), UNSUPPORTED, "%zu steps: fpmd-migrate "
                "maps the first %d", n, FPMD_UNIT_ITEMS_MAX);
            break;
        }
        map_step(m, json_object_array_get_idx(routes, i), ptr_i(m, at, i));
    }
}

/* --- listeners -------------------------------------------------------- */

static void
map_listener(struct map *m, const char *name, json_object *obj)
{
    const char *at = ptr(m, "/listeners", name);
    json_object *pass = NULL;
    const char *p, *why, *pat = NULL;
    char addr[256];
    int ok = 1, old_form = 0;

    if (!want_obj(m, obj, at))
        return;
    json_object_object_foreach(obj, k, v) {
        const char *kat = ptr(m, at, k);

        if (strcmp(k, "pass") == 0 || strcmp(k, "application") == 0) {
            /* "application": NAME is Unit 1.10's pass */
            old_form = k[0] == 'a';
            pass = v;
            pat = kat;
        } else if (strcmp(k, "tls") == 0) {
            say(m, kat, UNSUPPORTED, "fpmd has no TLS server: put a TLS "
                "terminator (nginx, HAProxy) in front of an http listener; "
                "the listener is left out");
            ok = 0;
        } else if (strcmp(k, "forwarded") == 0
                   || strcmp(k, "client_ip") == 0) {
            say(m, kat, UNSUPPORTED, "fpmd takes the peer's address as "
                "REMOTE_ADDR, not a header's");
        } else {
            say(m, kat, UNSUPPORTED, "not a key of a listener");
        }
    }
    if (pass == NULL) {
        fail(m, at, "no pass: Unit needs one");
        return;
    }
    if ((p = want_str(m, pass, pat)) == NULL)
        return;
    if (old_form)
        p = fmt(m, "applications/%s", p);
    if (!ok || p == NULL)
        return;
    if (fpmd_unit_listen_addr(name, addr, sizeof(addr), &why) != FPMD_OK) {
        say(m, at, UNSUPPORTED, "%s; the listener is left out", why);
        return;
    }
    if (m->table != NULL && strcmp(m->table, p) != 0) {
        say(m, at, UNSUPPORTED, "passes to %s, and %s to %s: fpmd routes "
            "all its listeners with one table; the listener is left out",
            p, m->table_from, m->table);
        return;
    }
    if (m->listens.n == FPMD_UNIT_ITEMS_MAX) {
        say(m, at, UNSUPPORTED, "more listeners than fpmd-migrate writes");
        return;
    }
    m->table = p;
    m->table_from = at;
    strs_add(m, &m->listens, fpmd_yaml_quote(addr));
    say(m, at, MAPPED, "listen[].http: %s", addr);
    say(m, pat, APPLIED, "the listener's requests go to %s", p);
}

/* --- writing ---------------------------------------------------------- */

static void
write_route(FILE *f, const struct map *m, const struct route *r)
{
    if (r->region == R_EXACT || r->region == R_TREE) {
        fprintf(f, "  - match: %s\n", r->text);
    } else {
        fprintf(f, "  - match:\n      %s: %s\n", r->region == R_SCRIPT
                ? "script" : "prefix", r->text);
        if (r->methods != NULL)
            fprintf(f, "      method: %s\n", r->methods);
        if (r->nq > 0)
            fputs("      query:\n", f);
        for (size_t i = 0; i < r->nq; i++)
            fprintf(f, "        %s: %s\n", r->qname[i], r->qvalue[i]);
    }
    if (r->action == A_STATUS) {
        fprintf(f, "    to: %d\n", r->status);
    } else if (r->action == A_STATIC) {
        fprintf(f, "    static:\n      root: %s\n      index: %s\n"
                "      follow_symlinks: %s\n", r->root, r->index,
                r->follow ? "true" : "false");
    } else {
        const struct pool *p = &m->pools[r->pool];

        fprintf(f, "    to: \"legacy:%s\"\n", p->name);
        if (p->script_filename != NULL)
            fprintf(f, "    params:\n      SCRIPT_FILENAME: %s\n"
                    "      SCRIPT_NAME: %s\n", p->script_filename,
                    p->script_name);
    }
}

/* legacy max: php-fpm gives a kept-alive connection one child, so
 * fpmd's workers x max stay within the pool's children. */
static long long
legacy_max(const struct map *m, const struct app *a)
{
    long long workers = m->apps[m->pm_app].children;
    long long max = a->children / (workers > 0 ? workers : 1);

    return max < 1 ? 1 : max;
}

/* fpmd's pm follows the first PHP application's pool: as many workers
 * as it has children, each with one connection to it. */
static void
write_pm(FILE *f, const struct map *m)
{
    const struct app *a = &m->apps[m->pm_app];

    fprintf(f, "pm:\n  mode: %s\n  max_children: %lld\n", a->pm,
            a->children);
    if (strcmp(a->pm, "dynamic") == 0)
        fprintf(f, "  start_servers: %lld\n  min_spare_servers: %lld\n"
                "  max_spare_servers: %lld\n", a->spare, a->spare, a->spare);
    else if (strcmp(a->pm, "ondemand") == 0)
        fprintf(f, "  process_idle_timeout: %llds\n", a->idle);
}

static char *
write_yaml(struct map *m)
{
    char *text = NULL;
    size_t len;
    FILE *f = open_memstream(&text, &len);

    if (f == NULL)
        return NULL;
    fputs("listen:\n", f);
    for (size_t i = 0; i < m->listens.n; i++)
        fprintf(f, "  - http: %s\n", m->listens.v[i]);
    if (m->have_pm)
        write_pm(f, m);
    if (m->header_read || m->body_read || m->keepalive)
        fputs("timeouts:\n", f);
    if (m->header_read)
        fprintf(f, "  header_read: %s\n", m->header_read);
    if (m->body_read)
        fprintf(f, "  body_read: %s\n", m->body_read);
    if (m->keepalive)
        fprintf(f, "  keepalive: %s\n", m->keepalive);
    if (m->body)
        fprintf(f, "limits:\n  body: %s\n", m->body);
    if (m->hide_server)
        fputs("server_token: null\n", f);
    /* Unit answers no status or ping page: those paths stay the app's */
    fputs("status:\n  path: null\n  ping: null\n", f);
    if (m->access)
        fprintf(f, "log:\n  access: %s\n", m->access);
    if (m->npools > 0)
        fputs("legacy:\n", f);
    for (size_t i = 0; i < m->npools; i++) {
        const struct pool *p = &m->pools[i];
        const struct app *a = &m->apps[p->app];

        fprintf(f, "  %s:\n    fastcgi: %s\n    document_root: %s\n"
                "    max: %lld\n", p->name, a->sock, p->root,
                legacy_max(m, a));
        if (a->timeout)
            fprintf(f, "    timeout: %s\n", a->timeout);
    }
    fputs(m->nroutes ? "routes:\n" : "routes: []\n", f);
    for (size_t i = 0; i < m->nroutes; i++)
        write_route(f, m, &m->routes[i]);
    if (fclose(f) != 0) {
        free(text);
        return NULL;
    }
    return text;
}

static char *
write_pool(struct map *m)
{
    char *text = NULL;
    size_t len;
    FILE *f;

    if (m->napps == 0)
        return NULL;
    f = open_memstream(&text, &len);
    if (f == NULL) {
        m->out->nomem = 1;
        return NULL;
    }
    fputs("; php-fpm pools written by fpmd-migrate import-unit for NGINX "
          "Unit's PHP\n; applications: include this file from "
          "php-fpm.conf (Debian: put it in\n; /etc/php/8.2/fpm/pool.d/). "
          "fpmd passes requests to them.\n", f);
    for (size_t i = 0; i < m->napps; i++) {
        const struct app *a = &m->apps[i];

        fprintf(f, "\n[%s]\n", a->name);
        for (size_t j = 0; j < a->ini.n; j++)
            fprintf(f, "%s\n", a->ini.v[j]);
    }
    if (fclose(f) != 0) {
        free(text);
        m->out->nomem = 1;
        return NULL;
    }
    return text;
}

/* --- the whole config ------------------------------------------------- */

static json_object *
parse(struct map *m, const char *text, size_t len)
{
    json_tokener *tok = json_tokener_new_ex(FPMD_UNIT_DEPTH_MAX);
    json_object *root;
    size_t end, line = 1, col = 1;
    enum json_tokener_error jerr;

    if (tok == NULL) {
        m->out->nomem = 1;
        return NULL;
    }
    /* YAML holds UTF-8 only: other bytes are an error here, not later */
    json_tokener_set_flags(tok, JSON_TOKENER_VALIDATE_UTF8);
    if (len > 0x7fffffff) {
        json_tokener_free(tok);
        fail(m, "1:1", "larger than 2 GiB");
        return NULL;
    }
    root = json_tokener_parse_ex(tok, text, (int) len);
    jerr = json_tokener_get_error(tok);
    end = json_tokener_get_parse_end(tok);
    if (root == NULL && jerr == json_tokener_continue)
        jerr = json_tokener_error_parse_eof;
    /* the text ended early: the place is after its last byte */
    if (jerr == json_tokener_error_parse_eof)
        end = len;
    while (root != NULL && end < len && strchr(" \t\r\n", text[end]) != NULL
           && text[end] != '\0')
        end++;
    for (size_t i = 0; i < end && i < len; i++) {
        line += text[i] == '\n';
        col = text[i] == '\n' ? 1 : col + 1;
    }
    if (root == NULL || end < len) {
        const char *why = root == NULL ? json_tokener_error_desc(jerr)
                                       : "more after the JSON text";

        fail(m, fmt(m, "%zu:%zu", line, col), "not JSON: %s%s", why,
              jerr == json_tokener_error_depth ? " (fpmd-migrate reads "
              "32 levels)" : "");
        json_object_put(root);
        root = NULL;
    }
    json_tokener_free(tok);
    return root;
}

static void
map_all(struct map *m, json_object *root)
{
    json_object *apps = json_object_object_get(root, "applications");
    json_object *listeners = json_object_object_get(root, "listeners");
    json_object *routes = json_object_object_get(root, "routes");

    json_object_object_foreach(root, k, v) {
        const char *at = ptr(m, "", k);

        if (strcmp(k, "settings") == 0)
            map_settings(m, v);
        else if (strcmp(k, "access_log") == 0)
            map_access_log(m, v);
        else if (strcmp(k, "upstreams") == 0 && want_obj(m, v, at)) {
            json_object_object_foreach(v, un, uv) {
                (void) uv;
                say(m, ptr(m, at, un), UNSUPPORTED, "fpmd's routes do not "
                    "proxy: an fpmd upstream serves handlers' fpmd_http_* "
                    "calls");
            }
        } else if (strcmp(k, "applications") != 0
                   && strcmp(k, "listeners") != 0
                   && strcmp(k, "routes") != 0 && strcmp(k, "upstreams") != 0)
            say(m, at, UNSUPPORTED, "not a section of Unit's /config");
    }
    if (apps != NULL && want_obj(m, apps, "/applications")) {
        size_t n = (size_t) json_object_object_length(apps);

        m->apps = keep(m, calloc(n + 1, sizeof(*m->apps)));
        if (m->apps == NULL)
            return;
        json_object_object_foreach(apps, an, av) {
            if (m->napps == FPMD_UNIT_ITEMS_MAX)
                break;
            map_app(m, an, av);
        }
    }
    if (listeners == NULL || !want_obj(m, listeners, "/listeners")) {
        if (listeners == NULL)
            fail(m, "/listeners", "none: fpmd needs a listener");
        return;
    }
    json_object_object_foreach(listeners, ln, lv) {
        map_listener(m, ln, lv);
    }
    if (m->listens.n == 0) {
        fail(m, "/listeners", "none that fpmd can take (see the report)");
        return;
    }
    m->routes = keep(m, calloc(FPMD_UNIT_ITEMS_MAX * 4,
                               sizeof(*m->routes)));
    if (m->routes == NULL)
        return;
    if (strcmp(m->table, "routes") == 0 && routes != NULL
        && json_object_is_type(routes, json_type_array)) {
        map_table(m, routes, "/routes");
    } else if (strncmp(m->table, "routes/", 7) == 0 && routes != NULL
               && json_object_is_type(routes, json_type_object)) {
        json_object *set = json_object_object_get(routes, m->table + 7);

        if (set == NULL)
            fail(m, m->table_from, "no route set %s", m->table);
        else
            map_table(m, set, ptr(m, "/routes", m->table + 7));
    } else if (strncmp(m->table, "routes", 6) == 0) {
        fail(m, m->table_from, "%s: no such routes (%s)", m->table, routes
              ? "an array is \"routes\", an object's sets \"routes/NAME\""
              : "there is no routes section");
    } else {
        /* a listener straight to an app: one route for everything */
        json_object *step = json_object_new_object();
        json_object *act = json_object_new_object();

        if (step == NULL || act == NULL
            || json_object_object_add(act, "pass", json_object_new_string(
                                          m->table)) != 0
            || json_object_object_add(step, "action", act) != 0) {
            json_object_put(step);
            json_object_put(act);
            m->out->nomem = 1;
            return;
        }
        map_step(m, step, m->table_from);
        json_object_put(step);
    }
    if (routes != NULL && json_object_is_type(routes, json_type_object)) {
        json_object_object_foreach(routes, rn, rv) {
            (void) rv;
            if (strncmp(m->table, "routes/", 7) != 0
                || strcmp(m->table + 7, rn) != 0)
                say(m, ptr(m, "/routes", rn), UNSUPPORTED, "no listener "
                    "passes to it in fpmd's one route table");
        }
    }
}

static void
export(struct strs *from, char ***v, size_t *n)
{
    *v = from->v;
    *n = from->n;
    memset(from, 0, sizeof(*from));
}

int
fpmd_unit_map(const char *text, size_t len,
              const struct fpmd_unit_opts *opts, struct fpmd_unit_out *out)
{
    struct map m;
    json_object *root;

    memset(out, 0, sizeof(*out));
    memset(&m, 0, sizeof(m));
    m.opts = opts;
    m.out = out;
    root = parse(&m, text, len);
    if (root != NULL && !json_object_is_type(root, json_type_object))
        fail(&m, "/", "expected an object (Unit's /config), not %s",
              type_name(root));
    else if (root != NULL)
        map_all(&m, root);
    json_object_put(root);
    if (m.errors.n == 0 && !out->nomem) {
        out->yaml = write_yaml(&m);
        out->pool = write_pool(&m);
        out->nomem |= out->yaml == NULL;
    }
    export(&m.report, &out->report, &out->nreport);
    export(&m.errors, &out->errors, &out->nerrors);
    for (size_t i = 0; i < m.napps; i++)
        strs_free(&m.apps[i].ini);
    strs_free(&m.listens);
    strs_free(&m.keep);
    return out->nerrors == 0 && !out->nomem && out->yaml != NULL
        ? FPMD_OK : FPMD_ERROR;
}

void
fpmd_unit_out_free(struct fpmd_unit_out *out)
{
    for (size_t i = 0; i < out->nreport; i++)
        free(out->report[i]);
    for (size_t i = 0; i < out->nerrors; i++)
        free(out->errors[i]);
    free(out->report);
    free(out->errors);
    free(out->yaml);
    free(out->pool);
    memset(out, 0, sizeof(*out));
}
