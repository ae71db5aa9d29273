/* SPDX-License-Identifier: BSD-2-Clause */
/* The YAML config loader. libyaml's events are first built into a small
 * tree that keeps every node's position, then the tree is checked against
 * the schema below. Every problem is collected as "file:line:column:
 * message" and all of them are reported together (HAProxy's habit). */
#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <yaml.h>

#include "conf/load.h"
#include "fpmd/conf.h"

#define CONF_MAX_BYTES (4 * 1024 * 1024)
#define CONF_MAX_DEPTH 32

void
conf_error_at(struct ctx *c, const struct node *n, const char *fmt, ...)
{
    va_list ap;
    int r;

    c->nerrors++;
    if (c->errpos + 1 >= c->errlen)
        return;
    r = snprintf(c->err + c->errpos, c->errlen - c->errpos, "%s:%u:%u: ",
                 c->file, n ? n->line : 1, n ? n->column : 1);
    if (r > 0)
        c->errpos += (size_t) r;
    if (c->errpos + 1 >= c->errlen) {
        c->errpos = c->errlen - 1;
        return;
    }
    va_start(ap, fmt);
    r = vsnprintf(c->err + c->errpos, c->errlen - c->errpos, fmt, ap);
    va_end(ap);
    if (r > 0)
        c->errpos += (size_t) r;
    if (c->errpos + 2 >= c->errlen) {
        c->errpos = c->errlen - 2;
    }
    c->err[c->errpos++] = '\n';
    c->err[c->errpos] = '\0';
}

/* --- the tree --------------------------------------------------------- */

static void
node_free(struct node *n)
{
    if (n == NULL)
        return;
    for (size_t i = 0; i < n->nkids; i++)
        node_free(n->kids[i]);
    free(n->kids);
    free(n->value);
    free(n);
}

static struct node *
node_new(enum node_type type, const yaml_mark_t *mark)
{
    struct node *n = calloc(1, sizeof(*n));

    if (n == NULL)
        return NULL;
    n->type = type;
    n->line = (unsigned) mark->line + 1;
    n->column = (unsigned) mark->column + 1;
    return n;
}

static int
node_add(struct node *parent, struct node *kid)
{
    struct node **grown;

    grown = realloc(parent->kids, (parent->nkids + 1) * sizeof(*grown));
    if (grown == NULL)
        return FPMD_ERROR;
    parent->kids = grown;
    parent->kids[parent->nkids++] = kid;
    return FPMD_OK;
}

static int
is_null(const struct node *n)
{
    return n->type == N_SCALAR && n->plain
        && (n->value[0] == '\0' || strcmp(n->value, "~") == 0
            || strcmp(n->value, "null") == 0 || strcmp(n->value, "Null") == 0
            || strcmp(n->value, "NULL") == 0);
}

/* Builds the document's tree; NULL after reporting a syntax error. */
static struct node *
parse_tree(struct ctx *c, const char *text, size_t len)
{
    yaml_parser_t parser;
    yaml_event_t ev;
    struct node *stack[CONF_MAX_DEPTH + 1];
    struct node *root = NULL;
    int depth = 0, docs = 0, done = 0, failed = 0;

    if (!yaml_parser_initialize(&parser)) {
        conf_error_at(c, NULL, "out of memory");
        return NULL;
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *) text, len);
    while (!done && !failed) {
        struct node *n = NULL;

        if (!yaml_parser_parse(&parser, &ev)) {
            struct node at = {.line = (unsigned) parser.problem_mark.line + 1,
                              .column = (unsigned) parser.problem_mark.column + 1};

            conf_error_at(c, &at, "YAML syntax: %s%s%s",
                          parser.problem ? parser.problem : "error",
                          parser.context ? " " : "",
                          parser.context ? parser.context : "");
            failed = 1;
            break;
        }
        switch (ev.type) {
        case YAML_STREAM_END_EVENT:
            done = 1;
            break;
        case YAML_DOCUMENT_START_EVENT:
            if (++docs > 1) {
                struct node at = {.line = (unsigned) ev.start_mark.line + 1,
                                  .column = (unsigned) ev.start_mark.column + 1};

                conf_error_at(c, &at, "only one YAML document is allowed");
                failed = 1;
            }
            break;
        case YAML_ALIAS_EVENT: {
            struct node at = {.line = (unsigned) ev.start_mark.line + 1,
                              .column = (unsigned) ev.start_mark.column + 1};

            conf_error_at(c, &at, "YAML aliases (*name) are not supported; "
                          "write the value out");
            failed = 1;
            break;
        }
        case YAML_SCALAR_EVENT:
            n = node_new(N_SCALAR, &ev.start_mark);
            if (n != NULL) {
                n->value = strndup((const char *) ev.data.scalar.value,
                                   ev.data.scalar.length);
                n->plain = ev.data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
                if (n->value == NULL) {
                    node_free(n);
                    n = NULL;
                }
            }
            break;
        case YAML_MAPPING_START_EVENT:
        case YAML_SEQUENCE_START_EVENT:
            n = node_new(ev.type == YAML_MAPPING_START_EVENT ? N_MAP : N_SEQ,
                         &ev.start_mark);
            break;
        case YAML_MAPPING_END_EVENT:
        case YAML_SEQUENCE_END_EVENT:
            if (depth > 0)
                depth--;
            break;
        default:
            break;
        }
        if ((ev.type == YAML_SCALAR_EVENT || ev.type == YAML_MAPPING_START_EVENT
             || ev.type == YAML_SEQUENCE_START_EVENT) && !failed) {
            if (n == NULL) {
                conf_error_at(c, NULL, "out of memory");
                failed = 1;
            } else if (depth == 0) {
                if (root != NULL) {
                    node_free(n);
                    failed = 1;
                } else {
                    root = n;
                }
            } else if (node_add(stack[depth - 1], n) != FPMD_OK) {
                node_free(n);
                failed = 1;
            }
            if (!failed && n->type != N_SCALAR) {
                if (depth >= CONF_MAX_DEPTH) {
                    conf_error_at(c, n, "nested deeper than %d levels",
                                  CONF_MAX_DEPTH);
                    failed = 1;
                } else {
                    stack[depth++] = n;
                }
            }
        }
        yaml_event_delete(&ev);
    }
    yaml_parser_delete(&parser);
    if (failed) {
        node_free(root);
        return NULL;
    }
    if (root == NULL)
        conf_error_at(c, NULL, "the configuration is empty");
    return root;
}

/* --- values ----------------------------------------------------------- */

int
fpmd_conf_parse_duration(const char *s, uint64_t *ms)
{
    static const struct {
        const char *suffix;
        uint64_t ms;
    } units[] = {{"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000},
                 {"", 1000}};
    unsigned long long v;
    char *end;

    if (!isdigit((unsigned char) s[0]))
        return FPMD_ERROR;
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno != 0)
        return FPMD_ERROR;
    for (size_t i = 0; i < FPMD_ARRAY_LEN(units); i++) {
        if (strcmp(end, units[i].suffix) == 0) {
            if (v > UINT64_MAX / units[i].ms)
                return FPMD_ERROR;
            *ms = v * units[i].ms;
            return FPMD_OK;
        }
    }
    return FPMD_ERROR;
}

int
fpmd_conf_parse_size(const char *s, size_t *bytes)
{
    unsigned long long v, mult = 1;
    char *end;

    if (!isdigit((unsigned char) s[0]))
        return FPMD_ERROR;
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno != 0)
        return FPMD_ERROR;
    switch (tolower((unsigned char) *end)) {
    case '\0':
        break;
    case 'k':
        mult = 1ULL << 10;
        break;
    case 'm':
        mult = 1ULL << 20;
        break;
    case 'g':
        mult = 1ULL << 30;
        break;
    default:
        return FPMD_ERROR;
    }
    if (*end != '\0' && end[1] != '\0')
        return FPMD_ERROR;
    if (v > SIZE_MAX / mult)
        return FPMD_ERROR;
    *bytes = (size_t) (v * mult);
    return FPMD_OK;
}

const char *
conf_scalar(struct ctx *c, const struct node *n, const char *key)
{
    if (n->type != N_SCALAR) {
        conf_error_at(c, n, "%s: expected a value, found a %s", key,
                      n->type == N_MAP ? "mapping" : "list");
        return NULL;
    }
    return n->value;
}

void
conf_get_str(struct ctx *c, const struct node *n, const char *key, char **out)
{
    const char *v = conf_scalar(c, n, key);

    if (v == NULL)
        return;
    free(*out);
    *out = is_null(n) ? NULL : strdup(v);
}

void
conf_get_uint(struct ctx *c, const struct node *n, const char *key,
              unsigned min, unsigned max, unsigned *out)
{
    const char *v = conf_scalar(c, n, key);
    unsigned long long x;
    char *end;

    if (v == NULL)
        return;
    errno = 0;
    x = strtoull(v, &end, 10);
    if (!isdigit((unsigned char) v[0]) || *end != '\0' || errno != 0
        || x < min || x > max) {
        conf_error_at(c, n, "%s: \"%s\" is not a whole number from %u to %u",
                      key, v, min, max);
        return;
    }
    *out = (unsigned) x;
}

void
conf_get_bool(struct ctx *c, const struct node *n, const char *key, int *out)
{
    static const char *const yes[] = {"true", "yes", "on", "True", "Yes",
                                      "On", "TRUE", "YES", "ON"};
    static const char *const no[] = {"false", "no", "off", "False", "No",
                                     "Off", "FALSE", "NO", "OFF"};
    const char *v = conf_scalar(c, n, key);

    if (v == NULL)
        return;
    for (size_t i = 0; i < FPMD_ARRAY_LEN(yes); i++) {
        if (strcmp(v, yes[i]) == 0) {
            *out = 1;
            return;
        }
        if (strcmp(v, no[i]) == 0) {
            *out = 0;
            return;
        }
    }
    conf_error_at(c, n, "%s: \"%s\" is not a boolean (true or false)", key, v);
}

void
conf_get_duration(struct ctx *c, const struct node *n, const char *key,
                  uint64_t *out)
{
    const char *v = conf_scalar(c, n, key);

    if (v != NULL && fpmd_conf_parse_duration(v, out) != FPMD_OK)
        conf_error_at(c, n,
                      "%s: \"%s\" is not a duration (e.g. 500ms, 10s, 2m, "
                      "1h; a bare number is seconds)", key, v);
}

void
conf_get_size(struct ctx *c, const struct node *n, const char *key,
              size_t *out)
{
    const char *v = conf_scalar(c, n, key);

    if (v != NULL && fpmd_conf_parse_size(v, out) != FPMD_OK)
        conf_error_at(c, n,
                      "%s: \"%s\" is not a size (e.g. 512, 64k, 16m, 1g)",
                      key, v);
}

/* --- schema ----------------------------------------------------------- */

/* Calls each key's handler; reports unknown and repeated keys. */
void
conf_walk_map(struct ctx *c, const struct node *map, const char *where,
              const struct key *keys, size_t nkeys)
{
    if (map->type != N_MAP) {
        conf_error_at(c, map, "%s: expected a mapping", where);
        return;
    }
    for (size_t i = 0; i + 1 < map->nkids; i += 2) {
        const struct node *k = map->kids[i], *v = map->kids[i + 1];
        size_t j;

        if (k->type != N_SCALAR) {
            conf_error_at(c, k, "%s: keys must be plain names", where);
            continue;
        }
        for (j = 0; j < i; j += 2) {
            if (map->kids[j]->type == N_SCALAR
                && strcmp(map->kids[j]->value, k->value) == 0)
                break;
        }
        if (j < i) {
            conf_error_at(c, k,
                          "duplicate key \"%s\" in %s (first at line %u)",
                          k->value, where, map->kids[j]->line);
            continue;
        }
        for (j = 0; j < nkeys; j++) {
            if (strcmp(keys[j].name, k->value) == 0)
                break;
        }
        if (j == nkeys) {
            conf_error_at(c, k, "unknown key \"%s\" in %s", k->value, where);
            continue;
        }
        keys[j].fn(c, v, k->value);
    }
}


/* top level scalars */
KEYFN(k_pool) { conf_get_str(c, v, key, &c->conf->pool_name); }
KEYFN(k_user) { conf_get_str(c, v, key, &c->conf->user); }
KEYFN(k_group) { conf_get_str(c, v, key, &c->conf->group); }
KEYFN(k_pid) { conf_get_str(c, v, key, &c->conf->pid_file); }
KEYFN(k_daemonize) { conf_get_bool(c, v, key, &c->conf->daemonize); }
KEYFN(k_er_threshold)
{
    conf_get_uint(c, v, key, 0, 1000000,
                  &c->conf->emergency_restart_threshold);
}
KEYFN(k_er_interval)
{
    conf_get_duration(c, v, key, &c->conf->emergency_restart_interval_ms);
}

/* listen entries */
static struct fpmd_conf_listen *cur_listen;
static int cur_listen_kinds;

static int
valid_ip(const char *s)
{
    unsigned char buf[sizeof(struct in6_addr)];

    return inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1;
}

static int
valid_inet_address(const char *a)
{
    const char *colon, *hend;
    char host[64];
    char *end;
    long port;

    if (a[0] == '[') {
        hend = strchr(a, ']');
        if (hend == NULL || hend[1] != ':' || (size_t) (hend - a - 1) >= sizeof(host))
            return 0;
        memcpy(host, a + 1, (size_t) (hend - a - 1));
        host[hend - a - 1] = '\0';
        colon = hend + 1;
        if (!valid_ip(host) || strchr(host, ':') == NULL)
            return 0;
    } else {
        colon = strrchr(a, ':');
        if (colon == NULL || colon == a || (size_t) (colon - a) >= sizeof(host))
            return 0;
        memcpy(host, a, (size_t) (colon - a));
        host[colon - a] = '\0';
        if (strcmp(host, "*") != 0 && strcmp(host, "localhost") != 0) {
            struct in_addr in;

            if (inet_pton(AF_INET, host, &in) != 1)
                return 0;
        }
    }
    errno = 0;
    port = strtol(colon + 1, &end, 10);
    return end != colon + 1 && *end == '\0' && errno == 0 && port >= 1
        && port <= 65535;
}

static void
listen_address(struct ctx *c, const struct node *v, const char *key,
               enum fpmd_listen_proto proto)
{
    const char *a = conf_scalar(c, v, key);

    cur_listen_kinds++;
    if (a == NULL)
        return;
    cur_listen->proto = proto;
    free(cur_listen->address);
    cur_listen->address = strdup(a);
    cur_listen->pos.line = v->line;
    cur_listen->pos.column = v->column;
    if (a[0] == '/') {
        if (strlen(a) >= 108)
            conf_error_at(c, v, "%s: unix socket path longer than 107 bytes",
                          key);
    } else if (!valid_inet_address(a)) {
        conf_error_at(c, v, "%s: \"%s\" is not host:port, [ipv6]:port or an "
                      "absolute unix socket path", key, a);
    }
}

KEYFN(k_l_fastcgi) { listen_address(c, v, key, FPMD_PROTO_FASTCGI); }
KEYFN(k_l_http) { listen_address(c, v, key, FPMD_PROTO_HTTP); }
KEYFN(k_l_backlog)
{
    unsigned b = (unsigned) cur_listen->backlog;

    conf_get_uint(c, v, key, 1, 65535, &b);
    cur_listen->backlog = (int) b;
}
KEYFN(k_l_owner) { conf_get_str(c, v, key, &cur_listen->owner); }
KEYFN(k_l_group) { conf_get_str(c, v, key, &cur_listen->group); }
KEYFN(k_l_mode)
{
    const char *m = conf_scalar(c, v, key);
    char *end;
    long mode;

    if (m == NULL)
        return;
    errno = 0;
    mode = strtol(m, &end, 8);
    if (m[0] == '\0' || *end != '\0' || errno != 0 || mode < 0
        || mode > 07777) {
        conf_error_at(c, v,
                      "%s: \"%s\" is not an octal file mode like \"0660\"",
                      key, m);
        return;
    }
    cur_listen->mode = (int) mode;
}

static int
add_client(struct ctx *c, const struct node *at, const char *s, size_t len,
           char ***list, size_t *n)
{
    char **grown;
    char *ip;

    while (len > 0 && isspace((unsigned char) *s)) {
        s++;
        len--;
    }
    while (len > 0 && isspace((unsigned char) s[len - 1]))
        len--;
    if (len == 0)
        return FPMD_OK;
    ip = strndup(s, len);
    if (ip == NULL)
        return FPMD_ERROR;
    if (!valid_ip(ip)) {
        conf_error_at(c, at, "allowed_clients: \"%s\" is not an IPv4 or IPv6 "
                      "address", ip);
        free(ip);
        return FPMD_OK;
    }
    grown = realloc(*list, (*n + 2) * sizeof(*grown));
    if (grown == NULL) {
        free(ip);
        return FPMD_ERROR;
    }
    grown[(*n)++] = ip;
    grown[*n] = NULL;
    *list = grown;
    return FPMD_OK;
}

KEYFN(k_l_allowed)
{
    char **list = NULL;
    size_t n = 0;

    if (v->type == N_SCALAR) {
        /* php-fpm's listen.allowed_clients is one comma-separated string */
        const char *p = v->value;

        while (*p != '\0') {
            const char *comma = strchr(p, ',');
            size_t len = comma ? (size_t) (comma - p) : strlen(p);

            add_client(c, v, p, len, &list, &n);
            p += len;
            if (*p == ',')
                p++;
        }
    } else if (v->type == N_SEQ) {
        for (size_t i = 0; i < v->nkids; i++) {
            const char *ip = conf_scalar(c, v->kids[i], key);

            if (ip != NULL)
                add_client(c, v->kids[i], ip, strlen(ip), &list, &n);
        }
    } else {
        conf_error_at(c, v, "%s: expected a list of IP addresses", key);
    }
    if (cur_listen->allowed_clients != NULL) {
        for (char **p = cur_listen->allowed_clients; *p != NULL; p++)
            free(*p);
        free(cur_listen->allowed_clients);
    }
    cur_listen->allowed_clients = list;
}

static const struct key listen_keys[] = {
    {"fastcgi", k_l_fastcgi}, {"http", k_l_http}, {"backlog", k_l_backlog},
    {"allowed_clients", k_l_allowed}, {"owner", k_l_owner},
    {"group", k_l_group}, {"mode", k_l_mode},
};

/* The array behind a list key (listen:, routes:), one element per item;
 * NULL after reporting a non-list. */
void *
conf_list_items(struct ctx *c, const struct node *v, const char *key,
                const char *what, size_t size)
{
    if (v->type != N_SEQ) {
        conf_error_at(c, v, "%s: expected a list of %s", key, what);
        return NULL;
    }
    return calloc(v->nkids ? v->nkids : 1, size);
}

void
conf_set_pos(struct fpmd_conf_pos *pos, const struct ctx *c,
             const struct node *n)
{
    pos->file = c->conf->file;
    pos->line = n->line;
    pos->column = n->column;
}

KEYFN(k_listen)
{
    struct fpmd_conf *conf = c->conf;

    conf->listen = conf_list_items(c, v, key, "listeners",
                                   sizeof(*conf->listen));
    if (conf->listen == NULL)
        return;
    for (size_t i = 0; i < v->nkids; i++) {
        const struct node *item = v->kids[i];

        cur_listen = &conf->listen[conf->nlisten++];
        cur_listen->backlog = 511;
        cur_listen->mode = -1;
        conf_set_pos(&cur_listen->pos, c, item);
        cur_listen_kinds = 0;
        conf_walk_map(c, item, "listen", listen_keys,
                      FPMD_ARRAY_LEN(listen_keys));
        if (item->type != N_MAP)
            continue;
        if (cur_listen_kinds != 1)
            conf_error_at(c, item, "listen: each entry needs exactly one of "
                          "fastcgi: or http:");
        else if (cur_listen->address != NULL && cur_listen->address[0] != '/'
                 && (cur_listen->owner || cur_listen->group
                     || cur_listen->mode >= 0))
            conf_error_at(c, item,
                          "listen: owner, group and mode apply to unix "
                          "sockets only");
        if (cur_listen->address == NULL) {
            cur_listen->address = strdup("");
        }
    }
}

/* pm */
KEYFN(k_pm_mode)
{
    const char *m = conf_scalar(c, v, key);

    if (m == NULL)
        return;
    if (strcmp(m, "static") == 0)
        c->conf->pm.mode = FPMD_PM_STATIC;
    else if (strcmp(m, "dynamic") == 0)
        c->conf->pm.mode = FPMD_PM_DYNAMIC;
    else if (strcmp(m, "ondemand") == 0)
        c->conf->pm.mode = FPMD_PM_ONDEMAND;
    else
        conf_error_at(c, v, "pm.mode: \"%s\" is not one of static, dynamic, "
                      "ondemand", m);
}

static int pm_has_start, pm_has_min, pm_has_max;

KEYFN(k_pm_max_children)
{
    conf_get_uint(c, v, key, 1, 100000, &c->conf->pm.max_children);
}
KEYFN(k_pm_start)
{
    pm_has_start = 1;
    conf_get_uint(c, v, key, 1, 100000, &c->conf->pm.start_servers);
}
KEYFN(k_pm_min_spare)
{
    pm_has_min = 1;
    conf_get_uint(c, v, key, 1, 100000, &c->conf->pm.min_spare_servers);
}
KEYFN(k_pm_max_spare)
{
    pm_has_max = 1;
    conf_get_uint(c, v, key, 1, 100000, &c->conf->pm.max_spare_servers);
}
KEYFN(k_pm_spawn_rate)
{
    conf_get_uint(c, v, key, 1, 1024, &c->conf->pm.max_spawn_rate);
}
KEYFN(k_pm_idle)
{
    conf_get_duration(c, v, key, &c->conf->pm.process_idle_timeout_ms);
}
KEYFN(k_pm_max_requests)
{
    conf_get_uint(c, v, key, 0, UINT_MAX, &c->conf->pm.max_requests);
}
KEYFN(k_pm_concurrency)
{
    conf_get_uint(c, v, key, 1, 1000000, &c->conf->pm.max_concurrency);
}
KEYFN(k_pm_stack)
{
    conf_get_size(c, v, key, &c->conf->pm.stack_size);
    if (c->conf->pm.stack_size < 16384 || c->conf->pm.stack_size > (1u << 30))
        conf_error_at(c, v, "pm.stack_size: must be from 16k to 1g");
}

static const struct key pm_keys[] = {
    {"mode", k_pm_mode}, {"max_children", k_pm_max_children},
    {"start_servers", k_pm_start}, {"min_spare_servers", k_pm_min_spare},
    {"max_spare_servers", k_pm_max_spare},
    {"max_spawn_rate", k_pm_spawn_rate},
    {"process_idle_timeout", k_pm_idle}, {"max_requests", k_pm_max_requests},
    {"max_concurrency", k_pm_concurrency}, {"stack_size", k_pm_stack},
};

/* php-fpm's fpm_conf.c checks for pm = dynamic, at the pm block. */
static void
check_pm(struct ctx *c, const struct node *at)
{
    struct fpmd_conf *conf = c->conf;
    unsigned mc = conf->pm.max_children;

    if (conf->pm.mode != FPMD_PM_DYNAMIC)
        return;
    if (conf->pm.min_spare_servers > conf->pm.max_spare_servers)
        conf_error_at(c, at,
                      "pm.min_spare_servers (%u) must not be greater than "
                      "pm.max_spare_servers (%u)", conf->pm.min_spare_servers,
                      conf->pm.max_spare_servers);
    if (mc != 0 && conf->pm.max_spare_servers > mc)
        conf_error_at(c, at,
                      "pm.max_spare_servers (%u) must not be greater than "
                      "pm.max_children (%u)", conf->pm.max_spare_servers, mc);
    if (pm_has_start && (conf->pm.start_servers < conf->pm.min_spare_servers
                         || conf->pm.start_servers > conf->pm.max_spare_servers))
        conf_error_at(c, at, "pm.start_servers (%u) must be from "
                      "pm.min_spare_servers (%u) to pm.max_spare_servers (%u)",
                      conf->pm.start_servers, conf->pm.min_spare_servers,
                      conf->pm.max_spare_servers);
}

KEYFN(k_pm)
{
    pm_has_start = pm_has_min = pm_has_max = 0;
    conf_walk_map(c, v, "pm", pm_keys, FPMD_ARRAY_LEN(pm_keys));
    if (v->type == N_MAP)
        check_pm(c, v);
}

/* timeouts, limits, status, log */
KEYFN(k_t_terminate)
{
    conf_get_duration(c, v, key, &c->conf->timeouts.request_terminate_ms);
}
KEYFN(k_t_slowlog)
{
    conf_get_duration(c, v, key, &c->conf->timeouts.slowlog_ms);
}
KEYFN(k_t_control)
{
    conf_get_duration(c, v, key, &c->conf->timeouts.process_control_ms);
}
KEYFN(k_t_header)
{
    conf_get_duration(c, v, key, &c->conf->timeouts.header_read_ms);
    if (c->conf->timeouts.header_read_ms == 0)
        conf_error_at(c, v, "timeouts.header_read: must be above 0");
}
KEYFN(k_t_keepalive)
{
    conf_get_duration(c, v, key, &c->conf->timeouts.keepalive_ms);
    if (c->conf->timeouts.keepalive_ms == 0)
        conf_error_at(c, v, "timeouts.keepalive: must be above 0");
}

KEYFN(k_t_body)
{
    conf_get_duration(c, v, key, &c->conf->timeouts.body_read_ms);
    if (c->conf->timeouts.body_read_ms == 0)
        conf_error_at(c, v, "timeouts.body_read: must be above 0");
}

static const struct key timeout_keys[] = {
    {"request_terminate", k_t_terminate}, {"slowlog", k_t_slowlog},
    {"process_control", k_t_control}, {"header_read", k_t_header},
    {"keepalive", k_t_keepalive}, {"body_read", k_t_body},
};

KEYFN(k_timeouts)
{
    conf_walk_map(c, v, "timeouts", timeout_keys,
                  FPMD_ARRAY_LEN(timeout_keys));
}

KEYFN(k_lim_params)
{
    conf_get_size(c, v, key, &c->conf->limits.params);
    if (c->conf->limits.params < 1024)
        conf_error_at(c, v, "limits.params: must be at least 1k");
}
KEYFN(k_lim_body) { conf_get_size(c, v, key, &c->conf->limits.body); }
KEYFN(k_lim_conns)
{
    conf_get_uint(c, v, key, 1, 1000000, &c->conf->limits.connections);
}

KEYFN(k_lim_pending)
{
    conf_get_uint(c, v, key, 1, 1000000,
                  &c->conf->limits.pending_connections);
}
KEYFN(k_lim_rate)
{
    conf_get_size(c, v, key, &c->conf->limits.body_min_rate);
}

KEYFN(k_lim_uri)
{
    conf_get_size(c, v, key, &c->conf->limits.uri);
    if (c->conf->limits.uri < 256)
        conf_error_at(c, v, "limits.uri: must be at least 256");
}
KEYFN(k_lim_header)
{
    conf_get_size(c, v, key, &c->conf->limits.header);
    if (c->conf->limits.header < 1024)
        conf_error_at(c, v, "limits.header: must be at least 1k");
}
KEYFN(k_lim_headers)
{
    conf_get_uint(c, v, key, 1, 100000, &c->conf->limits.headers);
}
KEYFN(k_lim_rpc)
{
    conf_get_uint(c, v, key, 0, UINT_MAX,
                  &c->conf->limits.requests_per_connection);
}

KEYFN(k_lim_parsed) { conf_get_size(c, v, key, &c->conf->limits.parsed_body); }
KEYFN(k_lim_fields)
{
    conf_get_uint(c, v, key, 1, 1000000, &c->conf->limits.form_fields);
}
KEYFN(k_lim_depth)
{
    conf_get_uint(c, v, key, 1, 1000, &c->conf->limits.json_depth);
}

static const struct key limit_keys[] = {
    {"params", k_lim_params}, {"body", k_lim_body},
    {"connections", k_lim_conns}, {"pending_connections", k_lim_pending},
    {"body_min_rate", k_lim_rate}, {"uri", k_lim_uri},
    {"header", k_lim_header}, {"headers", k_lim_headers},
    {"requests_per_connection", k_lim_rpc}, {"parsed_body", k_lim_parsed},
    {"form_fields", k_lim_fields}, {"json_depth", k_lim_depth},
};

KEYFN(k_limits)
{
    conf_walk_map(c, v, "limits", limit_keys, FPMD_ARRAY_LEN(limit_keys));
}

static void
get_path(struct ctx *c, const struct node *v, const char *key, char **out)
{
    conf_get_str(c, v, key, out);
    if (*out != NULL && (*out)[0] == '\0') {
        free(*out);
        *out = NULL;
    }
    if (*out != NULL && (*out)[0] != '/')
        conf_error_at(c, v, "%s: \"%s\" must start with /", key, *out);
}

KEYFN(k_s_path) { get_path(c, v, "status.path", &c->conf->status.path); }
KEYFN(k_s_ping) { get_path(c, v, "status.ping", &c->conf->status.ping_path); }
KEYFN(k_s_pong)
{
    conf_get_str(c, v, key, &c->conf->status.ping_response);
    if (c->conf->status.ping_response == NULL)
        c->conf->status.ping_response = strdup("pong");
}

static const struct key status_keys[] = {
    {"path", k_s_path}, {"ping", k_s_ping}, {"ping_response", k_s_pong},
};

KEYFN(k_status)
{
    conf_walk_map(c, v, "status", status_keys, FPMD_ARRAY_LEN(status_keys));
}

KEYFN(k_log_error) { conf_get_str(c, v, key, &c->conf->log.error); }
KEYFN(k_log_access) { conf_get_str(c, v, key, &c->conf->log.access); }
KEYFN(k_log_format) { conf_get_str(c, v, key, &c->conf->log.access_format); }
KEYFN(k_log_slow) { conf_get_str(c, v, key, &c->conf->log.slow); }
KEYFN(k_log_level)
{
    static const char *const names[] = {"debug", "notice", "warning",
                                        "error", "alert"};
    const char *l = conf_scalar(c, v, key);

    if (l == NULL)
        return;
    for (size_t i = 0; i < FPMD_ARRAY_LEN(names); i++) {
        if (strcasecmp(l, names[i]) == 0) {
            c->conf->log.level = (enum fpmd_log_level) i;
            return;
        }
    }
    conf_error_at(c, v,
                  "log.level: \"%s\" is not one of debug, notice, warning, "
                  "error, alert", l);
}

static const struct key log_keys[] = {
    {"error", k_log_error}, {"level", k_log_level},
    {"access", k_log_access}, {"access_format", k_log_format},
    {"slow", k_log_slow},
};

KEYFN(k_log)
{
    conf_walk_map(c, v, "log", log_keys, FPMD_ARRAY_LEN(log_keys));
}

/* A relative path in the config is relative to the config file, so that
 * what it names does not depend on the cwd of whoever loads it. */
char *
conf_relative(const struct ctx *c, const char *path)
{
    const char *slash = strrchr(c->file, '/');
    char buf[PATH_MAX];

    if (path[0] == '/')
        return strdup(path);
    if ((size_t) snprintf(buf, sizeof(buf), "%.*s%s%s",
                          slash ? (int) (slash - c->file) : 1,
                          slash ? c->file : ".", "/", path) >= sizeof(buf))
        return NULL;
    return strdup(buf);
}

KEYFN(k_modules)
{
    struct fpmd_conf *conf = c->conf;

    conf->modules = conf_list_items(c, v, key, "module paths",
                                    sizeof(*conf->modules));
    if (conf->modules == NULL)
        return;
    for (size_t i = 0; i < v->nkids; i++) {
        const char *path = conf_scalar(c, v->kids[i], key);

        if (path == NULL)
            continue;
        conf_set_pos(&conf->modules[conf->nmodules].pos, c, v->kids[i]);
        conf->modules[conf->nmodules++].path = conf_relative(c, path);
    }
}

KEYFN(k_server_token) { conf_get_str(c, v, key, &c->conf->server_token); }

/* request_id: HEADER, or off. */
KEYFN(k_request_id)
{
    const char *h = conf_scalar(c, v, key);
    size_t len;

    if (h == NULL)
        return;
    free(c->conf->request_id);
    c->conf->request_id = NULL;
    if (is_null(v) || strcmp(h, "off") == 0 || strcmp(h, "false") == 0)
        return;
    len = strspn(h, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                 "0123456789-_");
    if (len == 0 || h[len] != '\0' || len > 64) {
        conf_error_at(c, v, "request_id: \"%s\" is not a header name (or "
                      "off)", h);
        return;
    }
    c->conf->request_id = strdup(h);
}

static const struct key top_keys[] = {
    {"server_token", k_server_token}, {"request_id", k_request_id},
    {"pool", k_pool}, {"user", k_user},
    {"group", k_group}, {"pid", k_pid},
    {"daemonize", k_daemonize}, {"listen", k_listen}, {"pm", k_pm},
    {"emergency_restart_threshold", k_er_threshold},
    {"emergency_restart_interval", k_er_interval},
    {"timeouts", k_timeouts}, {"limits", k_limits}, {"status", k_status},
    {"log", k_log}, {"routes", conf_k_routes}, {"modules", k_modules},
    {"pools", conf_k_pools}, {"legacy", conf_k_legacy},
};

/* --- entry points ----------------------------------------------------- */

void
fpmd_conf_defaults(struct fpmd_conf *conf)
{
    memset(conf, 0, sizeof(*conf));
    conf->daemonize = -1;
    conf->pm.mode = FPMD_PM_STATIC;
    conf->pm.min_spare_servers = 1;
    conf->pm.max_spare_servers = 3;
    conf->pm.max_spawn_rate = 32;
    conf->pm.process_idle_timeout_ms = 10000;
    conf->pm.max_concurrency = 1024;
    conf->pm.stack_size = 256 * 1024;
    conf->timeouts.process_control_ms = 10000;
    conf->timeouts.header_read_ms = 10000;
    conf->timeouts.keepalive_ms = 75000;
    conf->limits.params = 256 * 1024;
    conf->limits.body = 64 * 1024 * 1024;
    conf->limits.connections = 4096;
    conf->limits.pending_connections = 1024;
    conf->limits.body_min_rate = 500;
    conf->limits.uri = 8 * 1024;
    conf->limits.header = 32 * 1024;
    conf->limits.headers = 100;
    conf->limits.requests_per_connection = 1000;
    conf->limits.parsed_body = 1024 * 1024;
    conf->limits.form_fields = 1000;
    conf->limits.json_depth = 64;
    conf->timeouts.body_read_ms = 60000;
    conf->log.level = FPMD_LOG_NOTICE;
}

static int
set_default_strings(struct fpmd_conf *conf)
{
    if (conf->pool_name == NULL)
        conf->pool_name = strdup("www");
    if (conf->status.ping_response == NULL)
        conf->status.ping_response = strdup("pong");
    return conf->pool_name && conf->status.ping_response ? FPMD_OK
                                                         : FPMD_ERROR;
}

struct fpmd_conf *
fpmd_conf_load_buffer(const char *name, const char *text, size_t len,
                      char *errbuf, size_t errlen)
{
    struct fpmd_conf *conf = calloc(1, sizeof(*conf));
    struct ctx c = {name, errbuf, errlen, 0, 0, conf};
    struct node *root;

    if (errlen > 0)
        errbuf[0] = '\0';
    if (conf == NULL)
        return NULL;
    fpmd_conf_defaults(conf);
    conf->file = strdup(name);
    conf->status.path = strdup("/status");
    conf->status.ping_path = strdup("/ping");
    conf->server_token = strdup("fpmd");
    conf->request_id = strdup("X-Request-Id");
    if (conf->file == NULL || set_default_strings(conf) != FPMD_OK) {
        fpmd_conf_free(conf);
        return NULL;
    }
    c.file = conf->file;
    root = parse_tree(&c, text, len);
    if (root != NULL) {
        conf_walk_map(&c, root, "the top level", top_keys,
                      FPMD_ARRAY_LEN(top_keys));
        if (root->type == N_MAP && conf->nlisten == 0)
            conf_error_at(&c, root, "listen: at least one listener is needed");
        if (c.nerrors == 0)
            conf_check_routes(&c);
    }
    node_free(root);
    if (c.nerrors > 0 || root == NULL) {
        fpmd_conf_free(conf);
        return NULL;
    }
    return conf;
}

struct fpmd_conf *
fpmd_conf_load(const char *path, char *errbuf, size_t errlen)
{
    struct fpmd_conf *conf;
    FILE *f;
    char *text;
    size_t len;

    if (path == NULL)
        return fpmd_conf_load_buffer("(embedded)", fpmd_conf_default_yaml,
                                     strlen(fpmd_conf_default_yaml), errbuf,
                                     errlen);
    f = fopen(path, "r");
    if (f == NULL) {
        snprintf(errbuf, errlen, "%s: cannot open: %s\n", path,
                 strerror(errno));
        return NULL;
    }
    text = malloc(CONF_MAX_BYTES + 1);
    if (text == NULL) {
        fclose(f);
        snprintf(errbuf, errlen, "%s: out of memory\n", path);
        return NULL;
    }
    len = fread(text, 1, CONF_MAX_BYTES + 1, f);
    if (ferror(f) || len > CONF_MAX_BYTES) {
        snprintf(errbuf, errlen, "%s: %s\n", path,
                 ferror(f) ? "read error" : "larger than 4 MiB");
        fclose(f);
        free(text);
        return NULL;
    }
    fclose(f);
    conf = fpmd_conf_load_buffer(path, text, len, errbuf, errlen);
    free(text);
    return conf;
}

void
fpmd_conf_free(struct fpmd_conf *conf)
{
    if (conf == NULL)
        return;
    for (size_t i = 0; i < conf->nlisten; i++) {
        struct fpmd_conf_listen *l = &conf->listen[i];

        free(l->address);
        if (l->allowed_clients != NULL) {
            for (char **p = l->allowed_clients; *p != NULL; p++)
                free(*p);
            free(l->allowed_clients);
        }
        free(l->owner);
        free(l->group);
    }
    free(conf->listen);
    conf_routes_free(conf);
    for (size_t i = 0; i < conf->nbackends; i++) {
        struct fpmd_conf_backend *b = &conf->backends[i];

        for (size_t j = 0; j < b->nservers; j++) {
            free(b->servers[j].host);
            free(b->servers[j].path);
        }
        free(b->servers);
        free(b->name);
        free(b->user);
        free(b->password);
        free(b->database);
        free(b->document_root);
    }
    free(conf->backends);
    for (size_t i = 0; i < conf->nmodules; i++)
        free(conf->modules[i].path);
    free(conf->modules);
    free(conf->pool_name);
    free(conf->user);
    free(conf->group);
    free(conf->pid_file);
    free(conf->server_token);
    free(conf->request_id);
    free(conf->status.path);
    free(conf->status.ping_path);
    free(conf->status.ping_response);
    free(conf->log.error);
    free(conf->log.access);
    free(conf->log.access_format);
    free(conf->log.slow);
    free(conf->file);
    free(conf);
}
