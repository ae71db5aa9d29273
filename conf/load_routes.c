/* SPDX-License-Identifier: BSD-2-Clause */
/* routes: of the config (fpmd/conf.h, struct fpmd_conf_route): path
 * routes ("GET /users/{id}"), shims (match: {script: ..., query: ...}),
 * static files, and where a route sends its requests (handler:, to:
 * legacy[:NAME], to: 404). */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/arena.h"
#include "conf/load_routes.h"
#include "conf/yaml_reader.h"
#include "fpmd/conf.h"

static struct fpmd_conf_route *cur_route;

static int
valid_method(const char *m, size_t len)
{
    if (len == 0 || len > 20)
        return 0;
    for (size_t i = 0; i < len; i++) {
        if (!isupper((unsigned char) m[i]))
            return 0;
    }
    return 1;
}

/* "GET,POST": each an upper-case token. */
static int
valid_methods(const char *m, size_t n)
{
    const char *p = m, *end = m + n;

    while (p < end) {
        const char *comma = memchr(p, ',', (size_t) (end - p));
        size_t len = comma ? (size_t) (comma - p) : (size_t) (end - p);

        if (!valid_method(p, len))
            return 0;
        p += len + (comma != NULL);
    }
    return n > 0 && m[n - 1] != ',';
}

/* A shim's pattern over PATH_INFO has the route path's syntax. */
static int
valid_info_pattern(const char *p)
{
    if (p[0] != '/' || strchr(p, ' ') != NULL)
        return 0;
    for (const char *s = p + 1;;) {
        const char *end = strchr(s, '/');
        size_t len = end ? (size_t) (end - s) : strlen(s);
        const char *brace = memchr(s, '{', len);

        if (len == 1 && s[0] == '*' && end == NULL)
            return 1;
        if (brace != NULL) {
            if (brace != s || len < 3 || s[len - 1] != '}')
                return 0;
            for (size_t i = 1; i + 1 < len; i++) {
                if (!isalnum((unsigned char) s[i]) && s[i] != '_')
                    return 0;
            }
        }
        if (brace == NULL && (memchr(s, '}', len) || memchr(s, '*', len)))
            return 0;
        if (end == NULL)
            return 1;
        s = end + 1;
    }
}

static struct fpmd_conf_shim *cur_shim;

KEYFN(k_sh_script)
{
    const char *s = fpmd_yaml_scalar(c, v, key);

    if (s == NULL)
        return;
    if (s[0] != '/' || strchr(s, '?') != NULL) {
        fpmd_yaml_error_at(c, v,
                           "routes.match.script: \"%s\" is a path from the "
                           "document root: \"/api/user.php\"", s);
        return;
    }
    fpmd_yaml_get_str(c, v, key, &cur_shim->script);
}

KEYFN(k_sh_prefix)
{
    const char *s = fpmd_yaml_scalar(c, v, key);

    if (s == NULL)
        return;
    if (s[0] != '/') {
        fpmd_yaml_error_at(c, v,
                           "routes.match.prefix: \"%s\" must start with /", s);
        return;
    }
    fpmd_yaml_get_str(c, v, key, &cur_shim->prefix);
}

KEYFN(k_sh_info)
{
    const char *s = fpmd_yaml_scalar(c, v, key);

    if (s == NULL)
        return;
    if (!valid_info_pattern(s)) {
        fpmd_yaml_error_at(c, v, "routes.match.path_info: \"%s\" is not a path "
                           "pattern (\"/users/{id}\", \"/files/*\")", s);
        return;
    }
    fpmd_yaml_get_str(c, v, key, &cur_shim->path_info);
}

KEYFN(k_sh_method)
{
    const char *s = fpmd_yaml_scalar(c, v, key);

    if (s == NULL)
        return;
    if (!valid_methods(s, strlen(s))) {
        fpmd_yaml_error_at(c, v, "routes.match.method: \"%s\" is not METHOD or "
                           "METHOD,METHOD (upper case)", s);
        return;
    }
    fpmd_yaml_get_str(c, v, key, &cur_route->methods);
}

/* A mapping of names to values, into a pair array; NULL after reporting
 * a bad one. */
static struct fpmd_conf_pair *
read_pairs(struct fpmd_yaml_ctx *c, const struct fpmd_yaml_node *v,
           const char *key, size_t *n)
{
    struct fpmd_conf_pair *pairs;

    *n = 0;
    if (v->type != FPMD_YAML_MAP || v->nkids == 0) {
        fpmd_yaml_error_at(c, v, "%s: expected a mapping of names to values",
                           key);
        return NULL;
    }
    pairs = fpmd_conf_alloc(c->arena, v->nkids / 2, sizeof(*pairs));
    if (pairs == NULL)
        return NULL;
    for (size_t i = 0; i + 1 < v->nkids; i += 2) {
        const char *name = fpmd_yaml_scalar(c, v->kids[i], key);
        const char *val = fpmd_yaml_scalar(c, v->kids[i + 1], key);

        if (name == NULL || val == NULL)
            continue;
        if (name[0] == '\0') {
            fpmd_yaml_error_at(c, v->kids[i], "%s: an empty name", key);
            continue;
        }
        pairs[*n].name = fpmd_conf_strdup(c->arena, name);
        pairs[*n].value = fpmd_conf_strdup(c->arena, val);
        if (pairs[*n].name != NULL && pairs[*n].value != NULL)
            (*n)++;
    }
    return pairs;
}

KEYFN(k_sh_query)
{
    if (cur_shim->query != NULL)
        return;
    cur_shim->query = read_pairs(c, v, key, &cur_shim->nquery);
    for (size_t i = 0; i < cur_shim->nquery; i++) {
        if (cur_shim->query[i].value[0] == '\0')
            fpmd_yaml_error_at(c, v, "routes.match.query: %s: an empty value "
                               "(\"*\" matches any)", cur_shim->query[i].name);
    }
}

static const struct fpmd_yaml_key shim_keys[] = {
    {"script", k_sh_script}, {"prefix", k_sh_prefix},
    {"path_info", k_sh_info}, {"method", k_sh_method},
    {"query", k_sh_query},
};

/* How a shim shows in messages, --routes and the status page:
 * "/api/user.php?action=show", "/blog/" "*" + " path_info=/{id}". */
static char *
shim_label(struct fpmd_conf_arena *a, const struct fpmd_conf_shim *sh)
{
    size_t len = 64;
    char *buf, *p;

    len += strlen(sh->script ? sh->script : sh->prefix);
    len += sh->path_info ? strlen(sh->path_info) : 0;
    for (size_t i = 0; i < sh->nquery; i++)
        len += strlen(sh->query[i].name) + strlen(sh->query[i].value) + 2;
    buf = fpmd_conf_alloc(a, len, 1);
    if (buf == NULL)
        return NULL;
    p = buf + sprintf(buf, "%s%s", sh->script ? sh->script : sh->prefix,
                      sh->script ? "" : "*");
    for (size_t i = 0; i < sh->nquery; i++)
        p += sprintf(p, "%c%s=%s", i == 0 ? '?' : '&', sh->query[i].name,
                     sh->query[i].value);
    if (sh->path_info != NULL)
        sprintf(p, " path_info=%s", sh->path_info);
    return buf;
}

/* match: {script: /api/user.php, method: GET, query: {action: show}}. */
static void
match_shim(struct fpmd_yaml_ctx *c, const struct fpmd_yaml_node *v)
{
    unsigned nerrors = c->nerrors;

    if (cur_route->shim != NULL)
        return;
    cur_shim = fpmd_conf_alloc(c->arena, 1, sizeof(*cur_shim));
    if (cur_shim == NULL)
        return;
    cur_route->shim = cur_shim;
    fpmd_yaml_walk_map(c, v, "routes.match", shim_keys,
                       FPMD_ARRAY_LEN(shim_keys));
    if (c->nerrors != nerrors)
        return;
    if ((cur_shim->script == NULL) == (cur_shim->prefix == NULL)) {
        fpmd_yaml_error_at(c, v,
                           "routes.match: a shim needs script: or prefix: "
                           "(one of them)");
        return;
    }
    cur_route->path = shim_label(c->arena, cur_shim);
}

KEYFN(k_r_match)
{
    const char *m;
    const char *sp;

    cur_route->pos.line = v->line;
    cur_route->pos.column = v->column;
    if (v->type == FPMD_YAML_MAP) {
        match_shim(c, v);
        return;
    }
    if ((m = fpmd_yaml_scalar(c, v, key)) == NULL)
        return;
    sp = strchr(m, ' ');
    if (sp != NULL) {
        if (!valid_methods(m, (size_t) (sp - m))) {
            fpmd_yaml_error_at(c, v,
                               "routes.match: \"%s\" is not \"METHOD[,METHOD] "
                               "/path\" or \"/path\" (methods in upper case)",
                               m);
            return;
        }
        cur_route->methods = fpmd_conf_strndup(c->arena, m,
                                               (size_t) (sp - m));
        while (*sp == ' ')
            sp++;
        m = sp;
    }
    if (strcmp(m, "*") == 0)
        m = "/*";       /* everything no other route takes */
    if (m[0] != '/' || strchr(m, ' ') != NULL) {
        fpmd_yaml_error_at(c, v,
                           "routes.match: path \"%s\" must start with / "
                           "and have no spaces", m);
        return;
    }
    cur_route->path = fpmd_conf_strdup(c->arena, m);
}

KEYFN(k_r_handler) { fpmd_yaml_get_str(c, v, key, &cur_route->handler); }

/* to: legacy[:NAME] sends the route's requests, unchanged, to a legacy
 * pool; to: 404 (or another 4xx/5xx) answers that status and nothing
 * else. */
KEYFN(k_r_to)
{
    const char *to = fpmd_yaml_scalar(c, v, key);
    char *end;
    long st;

    if (to == NULL)
        return;
    if (cur_route->handler != NULL) {
        fpmd_yaml_error_at(c, v,
                           "routes: a route has handler: or to:, not both");
        return;
    }
    if (strcmp(to, "legacy") == 0 || strncmp(to, "legacy:", 7) == 0) {
        cur_route->legacy = fpmd_conf_strdup(c->arena,
                                             to[6] == ':' ? to + 7 : "legacy");
        cur_route->handler = fpmd_conf_strdup(c->arena, "legacy");
        return;
    }
    errno = 0;
    st = strtol(to, &end, 10);
    if (isdigit((unsigned char) to[0]) && *end == '\0' && errno == 0
        && st >= 400 && st <= 599) {
        cur_route->to_status = (int) st;
        cur_route->handler = fpmd_conf_strdup(c->arena, "answer_status");
        return;
    }
    fpmd_yaml_error_at(c, v,
                       "routes.to: \"%s\" is not legacy, legacy:NAME or a "
                       "status from 400 to 599", to);
}

/* "10%", "10", "12.5%": a share in 1/100 %, 0 to 10000. */
static void
get_percent(struct fpmd_yaml_ctx *c, const struct fpmd_yaml_node *v,
            const char *key, unsigned *out)
{
    const char *s = fpmd_yaml_scalar(c, v, key);
    unsigned whole = 0, frac = 0, digits = 0;
    const char *p;

    if (s == NULL)
        return;
    for (p = s; *p >= '0' && *p <= '9' && whole <= 100; p++)
        whole = whole * 10 + (unsigned) (*p - '0');
    if (*p == '.')
        for (p++; *p >= '0' && *p <= '9'; p++, digits++)
            frac = digits < 2 ? frac * 10 + (unsigned) (*p - '0') : frac;
    if (digits == 1)
        frac *= 10;
    if (p == s || (*p == '%' ? p[1] != '\0' : *p != '\0')
        || whole * 100 + frac > 10000) {
        fpmd_yaml_error_at(c, v, "%s: \"%s\" is not a percentage from 0%% to "
                           "100%%", key, s);
        return;
    }
    *out = whole * 100 + frac;
}

static struct fpmd_conf_shadow *cur_shadow;
static struct fpmd_conf_canary *cur_canary;

KEYFN(k_sw_legacy) { fpmd_yaml_get_str(c, v, key, &cur_shadow->legacy); }
KEYFN(k_sw_methods)
{
    const char *s = fpmd_yaml_scalar(c, v, key);

    if (s == NULL)
        return;
    if (!valid_methods(s, strlen(s))) {
        fpmd_yaml_error_at(c, v, "%s: \"%s\" is not METHOD or METHOD,METHOD "
                           "(upper case)", key, s);
        return;
    }
    fpmd_yaml_get_str(c, v, key, &cur_shadow->methods);
}
KEYFN(k_sw_ignore)
{
    if (v->type != FPMD_YAML_SEQ) {
        fpmd_yaml_error_at(c, v, "%s: expected a list of JSON fields", key);
        return;
    }
    if (cur_shadow->ignore != NULL)
        return;
    cur_shadow->ignore = fpmd_conf_alloc(c->arena, v->nkids + 1,
                                         sizeof(char *));
    if (cur_shadow->ignore == NULL)
        return;
    for (size_t i = 0; i < v->nkids; i++) {
        const char *f = fpmd_yaml_scalar(c, v->kids[i], key);

        if (f == NULL)
            continue;
        if (f[0] == '\0' || f[0] == '.' || f[strlen(f) - 1] == '.'
            || strstr(f, "..") != NULL) {
            fpmd_yaml_error_at(c, v->kids[i], "%s: \"%s\" is not a field path "
                               "(\"meta.generated_at\")", key, f);
            continue;
        }
        cur_shadow->ignore[cur_shadow->nignore++] =
            fpmd_conf_strdup(c->arena, f);
    }
}
KEYFN(k_sw_max_body) { fpmd_yaml_get_size(c, v, key, &cur_shadow->max_body); }
KEYFN(k_sw_in_flight)
{
    fpmd_yaml_get_uint(c, v, key, 1, 100000, &cur_shadow->max_in_flight);
}

static const struct fpmd_yaml_key shadow_keys[] = {
    {"legacy", k_sw_legacy}, {"methods", k_sw_methods},
    {"ignore", k_sw_ignore}, {"max_body", k_sw_max_body},
    {"max_in_flight", k_sw_in_flight},
};

/* shadow: true, or shadow: {legacy:, methods:, ignore:, max_body:,
 * max_in_flight:}. */
KEYFN(k_r_shadow)
{
    bool on = true;

    if (cur_route->shadow != NULL)
        return;
    if (v->type == FPMD_YAML_SCALAR) {
        fpmd_yaml_get_bool(c, v, key, &on);
        if (!on)
            return;
    }
    cur_shadow = fpmd_conf_alloc(c->arena, 1, sizeof(*cur_shadow));
    if (cur_shadow == NULL)
        return;
    cur_shadow->max_body = 1024 * 1024;
    cur_shadow->max_in_flight = 16;
    cur_route->shadow = cur_shadow;
    if (v->type != FPMD_YAML_SCALAR)
        fpmd_yaml_walk_map(c, v, "routes.shadow", shadow_keys,
                           FPMD_ARRAY_LEN(shadow_keys));
    if (cur_shadow->legacy == NULL)
        cur_shadow->legacy = fpmd_conf_strdup(c->arena, "legacy");
    if (cur_shadow->methods == NULL)
        cur_shadow->methods = fpmd_conf_strdup(c->arena, "GET,HEAD");
}

KEYFN(k_cn_legacy) { fpmd_yaml_get_str(c, v, key, &cur_canary->legacy); }
KEYFN(k_cn_percent) { get_percent(c, v, key, &cur_canary->percent_x100); }
KEYFN(k_cn_errors) { get_percent(c, v, key, &cur_canary->max_error_x100); }
KEYFN(k_cn_p99) { fpmd_yaml_get_duration(c, v, key, &cur_canary->max_p99_ms); }
KEYFN(k_cn_min)
{
    fpmd_yaml_get_uint(c, v, key, 1, 1000000, &cur_canary->min_requests);
}
KEYFN(k_cn_window)
{
    fpmd_yaml_get_duration(c, v, key, &cur_canary->window_ms);
}
KEYFN(k_cn_cooldown)
{
    fpmd_yaml_get_duration(c, v, key, &cur_canary->cooldown_ms);
}

static const struct fpmd_yaml_key canary_keys[] = {
    {"legacy", k_cn_legacy}, {"percent", k_cn_percent},
    {"max_error_rate", k_cn_errors}, {"max_p99", k_cn_p99},
    {"min_requests", k_cn_min}, {"window", k_cn_window},
    {"cooldown", k_cn_cooldown},
};

/* canary: 10%, or canary: {percent:, legacy:, max_error_rate:, max_p99:,
 * min_requests:, window:, cooldown:}. */
KEYFN(k_r_canary)
{
    if (cur_route->canary != NULL)
        return;
    cur_canary = fpmd_conf_alloc(c->arena, 1, sizeof(*cur_canary));
    if (cur_canary == NULL)
        return;
    cur_canary->percent_x100 = 10001;
    cur_canary->max_error_x100 = 500;
    cur_canary->min_requests = 20;
    cur_canary->window_ms = 10000;
    cur_canary->cooldown_ms = 60000;
    cur_route->canary = cur_canary;
    if (v->type == FPMD_YAML_SCALAR)
        get_percent(c, v, key, &cur_canary->percent_x100);
    else
        fpmd_yaml_walk_map(c, v, "routes.canary", canary_keys,
                           FPMD_ARRAY_LEN(canary_keys));
    if (cur_canary->percent_x100 > 10000 && v->type != FPMD_YAML_SCALAR)
        fpmd_yaml_error_at(c, v, "routes.canary: needs percent: N%%");
    if (cur_canary->window_ms == 0 || cur_canary->cooldown_ms == 0)
        fpmd_yaml_error_at(c, v, "routes.canary: window and cooldown must be "
                           "above 0");
    if (cur_canary->legacy == NULL)
        cur_canary->legacy = fpmd_conf_strdup(c->arena, "legacy");
}

/* params: CGI params a legacy route adds to (or overrides in) what goes
 * to php-fpm. */
KEYFN(k_r_params)
{
    if (cur_route->params != NULL)
        return;
    cur_route->params = read_pairs(c, v, key, &cur_route->nparams);
}

static char *
resolve_path(const struct fpmd_yaml_ctx *c, const char *path)
{
    char *joined = fpmd_yaml_relative(c, path);
    char real[PATH_MAX];

    if (joined == NULL || realpath(joined, real) == NULL)
        return NULL;
    return fpmd_conf_strdup(c->arena, real);
}

KEYFN(k_st_root)
{
    const char *root = fpmd_yaml_scalar(c, v, key);

    if (root == NULL || fpmd_yaml_is_null(v))
        return;
    /* Resolved once, relative to the config file's directory, so the
     * containment check compares real paths whatever the cwd is later. */
    cur_route->static_files->root = resolve_path(c, root);
    if (cur_route->static_files->root == NULL)
        fpmd_yaml_error_at(c, v, "%s: \"%s\": %s", key, root, strerror(errno));
}
KEYFN(k_st_index)
{
    fpmd_yaml_get_str(c, v, key, &cur_route->static_files->index);
}
KEYFN(k_st_follow)
{
    fpmd_yaml_get_bool(c, v, key, &cur_route->static_files->follow_symlinks);
}
KEYFN(k_st_deny)
{
    struct fpmd_conf_static *st = cur_route->static_files;

    if (v->type != FPMD_YAML_SEQ) {
        fpmd_yaml_error_at(c, v, "%s: expected a list of extensions", key);
        return;
    }
    st->ndeny_ext = 0;
    st->deny_ext = fpmd_conf_alloc(c->arena, v->nkids ? v->nkids : 1,
                                   sizeof(*st->deny_ext));
    if (st->deny_ext == NULL)
        return;
    for (size_t i = 0; i < v->nkids; i++) {
        const char *e = fpmd_yaml_scalar(c, v->kids[i], key);

        if (e == NULL)
            continue;
        if (e[0] != '.' || e[1] == '\0' || strchr(e, '/') != NULL) {
            fpmd_yaml_error_at(c, v->kids[i],
                               "%s: \"%s\" is not an extension like "
                               "\".php\"", key, e);
            continue;
        }
        st->deny_ext[st->ndeny_ext++] = fpmd_conf_strdup(c->arena, e);
    }
}

static const struct fpmd_yaml_key static_keys[] = {
    {"root", k_st_root}, {"index", k_st_index},
    {"follow_symlinks", k_st_follow}, {"deny_extensions", k_st_deny},
};

KEYFN(k_r_static)
{
    struct fpmd_conf_static *st;
    unsigned nerrors = c->nerrors;

    if (cur_route->static_files != NULL)
        return;
    st = fpmd_conf_alloc(c->arena, 1, sizeof(*st));
    if (st == NULL)
        return;
    st->deny_ext = fpmd_conf_alloc(c->arena, 1, sizeof(*st->deny_ext));
    if (st->deny_ext != NULL
        && (st->deny_ext[0] = fpmd_conf_strdup(c->arena, ".php")) != NULL)
        st->ndeny_ext = 1;

    cur_route->static_files = st;
    fpmd_yaml_walk_map(c, v, "routes.static", static_keys,
                       FPMD_ARRAY_LEN(static_keys));
    if (v->type == FPMD_YAML_MAP && st->root == NULL && c->nerrors == nerrors)
        fpmd_yaml_error_at(c, v, "routes.static: needs root: DIR");
}

/* rate_limit: rate: 100/s (or /m, /h; a bare number is per second),
 * burst: N (default: the rate per second, at least 1), key: route, addr,
 * header:NAME or param:NAME. */
static struct fpmd_conf_rate_limit *cur_rl;

KEYFN(k_rl_rate)
{
    const char *v_ = fpmd_yaml_scalar(c, v, key);
    char *end;
    double n, per = 1;

    if (v_ == NULL)
        return;
    n = strtod(v_, &end);
    if (*end == '/') {
        per = strcmp(end, "/s") == 0 ? 1 : strcmp(end, "/m") == 0 ? 60
            : strcmp(end, "/h") == 0 ? 3600 : 0;
    } else if (*end != '\0') {
        per = 0;
    }
    if (end == v_ || per == 0 || !(n > 0) || n / per > 1e9) {
        fpmd_yaml_error_at(c, v, "rate_limit.%s: \"%s\" is not a positive "
                           "N/s, N/m or N/h", key, v_);
        return;
    }
    cur_rl->rate = n / per;
}

KEYFN(k_rl_burst)
{
    fpmd_yaml_get_uint(c, v, key, 1, 1000000000, &cur_rl->burst);
}

KEYFN(k_rl_key)
{
    const char *k = fpmd_yaml_scalar(c, v, key);

    if (k == NULL)
        return;
    if (strcmp(k, "route") == 0) {
        cur_rl->key = FPMD_RATE_KEY_ROUTE;
    } else if (strcmp(k, "addr") == 0) {
        cur_rl->key = FPMD_RATE_KEY_ADDR;
    } else if (strncmp(k, "header:", 7) == 0 && k[7] != '\0') {
        char cgi[128] = "HTTP_";
        size_t i;

        for (i = 0; k[7 + i] != '\0' && i + 6 < sizeof(cgi); i++) {
            char ch = k[7 + i];

            cgi[5 + i] = ch == '-' ? '_' : (char) toupper((unsigned char) ch);
        }
        cgi[5 + i] = '\0';
        cur_rl->key = FPMD_RATE_KEY_HEADER;
        cur_rl->name = fpmd_conf_strdup(c->arena, cgi);
    } else if (strncmp(k, "param:", 6) == 0 && k[6] != '\0') {
        cur_rl->key = FPMD_RATE_KEY_PARAM;
        cur_rl->name = fpmd_conf_strdup(c->arena, k + 6);
    } else {
        fpmd_yaml_error_at(c, v, "rate_limit.%s: \"%s\" is not route, addr, "
                           "header:NAME or param:NAME", key, k);
    }
}

static const struct fpmd_yaml_key rate_limit_keys[] = {
    {"rate", k_rl_rate}, {"burst", k_rl_burst}, {"key", k_rl_key},
};

KEYFN(k_r_rate_limit)
{
    unsigned nerrors = c->nerrors;

    cur_rl = fpmd_conf_alloc(c->arena, 1, sizeof(*cur_rl));
    if (cur_rl == NULL)
        return;
    cur_route->rate_limit = cur_rl;
    fpmd_yaml_walk_map(c, v, "routes.rate_limit", rate_limit_keys,
                       FPMD_ARRAY_LEN(rate_limit_keys));
    if (v->type != FPMD_YAML_MAP || c->nerrors != nerrors)
        return;
    if (cur_rl->rate == 0)
        fpmd_yaml_error_at(c, v, "routes.rate_limit: rate: is required");
    if (cur_rl->burst == 0)
        cur_rl->burst = cur_rl->rate < 1 ? 1 : (unsigned) (cur_rl->rate + 0.5);
}

KEYFN(k_r_concurrency)
{
    fpmd_yaml_get_uint(c, v, key, 1, 1000000, &cur_route->concurrency);
}

static const struct fpmd_yaml_key route_keys[] = {
    {"match", k_r_match}, {"handler", k_r_handler}, {"static", k_r_static},
    {"to", k_r_to}, {"params", k_r_params}, {"shadow", k_r_shadow},
    {"canary", k_r_canary}, {"rate_limit", k_r_rate_limit},
    {"concurrency", k_r_concurrency},
};

void
fpmd_conf_read_routes(struct fpmd_yaml_ctx *c, const struct fpmd_yaml_node *v,
                      const char *key)
{
    struct fpmd_conf *conf = c->conf;

    conf->routes =
        fpmd_yaml_list_items(c, v, key, "routes", sizeof(*conf->routes));
    if (conf->routes == NULL)
        return;
    for (size_t i = 0; i < v->nkids; i++) {
        const struct fpmd_yaml_node *item = v->kids[i];

        cur_route = &conf->routes[conf->nroutes++];
        fpmd_yaml_set_pos(&cur_route->pos, c, item);
        fpmd_yaml_walk_map(c, item, "routes", route_keys,
                           FPMD_ARRAY_LEN(route_keys));
        if (item->type != FPMD_YAML_MAP)
            continue;
        if ((cur_route->rate_limit != NULL || cur_route->concurrency != 0)
            && conf->nroutes > FPMD_MAX_LIMITED_ROUTES)
            fpmd_yaml_error_at(c, item, "routes: rate_limit: and "
                               "concurrency: apply to the first %d routes",
                               FPMD_MAX_LIMITED_ROUTES);
        if (cur_route->path == NULL && cur_route->shim == NULL)
            fpmd_yaml_error_at(c, item,
                               "routes: each route needs match: \"[METHOD] "
                               "/path\" or match: {script: ...}");
        if (cur_route->params != NULL && cur_route->legacy == NULL
            && cur_route->canary == NULL && cur_route->shadow == NULL)
            fpmd_yaml_error_at(c, item, "routes: params: is for routes that "
                               "reach legacy (to: legacy, shadow:, canary:)");
        if ((cur_route->shadow != NULL || cur_route->canary != NULL)
            && (cur_route->legacy != NULL || cur_route->to_status != 0
                || cur_route->static_files != NULL))
            fpmd_yaml_error_at(c, item, "routes: shadow: and canary: are for "
                               "routes with handler: NAME");
        if (cur_route->static_files != NULL && cur_route->shim != NULL) {
            fpmd_yaml_error_at(c, item, "routes: a static: route matches a "
                               "path prefix, not a shim");
        } else if (cur_route->static_files != NULL) {
            size_t len = cur_route->path ? strlen(cur_route->path) : 0;

            if (cur_route->handler != NULL)
                fpmd_yaml_error_at(c, item,
                                   "routes: a route has handler: or static:, "
                                   "not both");
            else if (len > 0 && (len < 2
                                 || strcmp(cur_route->path + len - 2, "/*")
                                     != 0))
                fpmd_yaml_error_at(c, item,
                                   "routes: a static: route matches a prefix: "
                                   "\"GET /assets/*\"");
            else
                cur_route->handler = fpmd_conf_strdup(c->arena, "static");
            if (cur_route->methods == NULL)
                cur_route->methods = fpmd_conf_strdup(c->arena, "GET,HEAD");
        } else if (cur_route->handler == NULL) {
            fpmd_yaml_error_at(c, item,
                               "routes: each route needs handler: NAME, "
                               "to: legacy or static: {root: DIR}");
        }
    }
}

static void
check_legacy_pool(struct fpmd_yaml_ctx *c, const struct fpmd_yaml_node *at,
                  const char *what, const char *name)
{
    const struct fpmd_conf *conf = c->conf;
    size_t j;

    for (j = 0; j < conf->nbackends; j++) {
        if (strcmp(conf->backends[j].name, name) == 0)
            break;
    }
    if (j == conf->nbackends)
        fpmd_yaml_error_at(c, at,
                           "routes: %s: no such legacy pool \"%s\" "
                           "(legacy: {fastcgi: ADDRESS} is the pool legacy; "
                           "legacy: {NAME: {fastcgi: ADDRESS}} names one)",
                           what, name);
    else if (conf->backends[j].driver != FPMD_DRIVER_FASTCGI)
        fpmd_yaml_error_at(c, at, "routes: %s: pool \"%s\" is not a legacy "
                           "(FastCGI) pool", what, name);
}

/* Once legacy: is read too (it may come after routes:): each route that
 * reaches legacy names a legacy pool. */
void
fpmd_conf_check_routes(struct fpmd_yaml_ctx *c)
{
    const struct fpmd_conf *conf = c->conf;

    for (size_t i = 0; i < conf->nroutes; i++) {
        const struct fpmd_conf_route *r = &conf->routes[i];
        struct fpmd_yaml_node at = {.line = r->pos.line,
                                    .column = r->pos.column};

        if (r->legacy != NULL)
            check_legacy_pool(c, &at, "to: legacy", r->legacy);
        if (r->shadow != NULL)
            check_legacy_pool(c, &at, "shadow", r->shadow->legacy);
        if (r->canary != NULL)
            check_legacy_pool(c, &at, "canary", r->canary->legacy);
    }
}
