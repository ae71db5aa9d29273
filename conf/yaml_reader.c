/* SPDX-License-Identifier: BSD-2-Clause */
/* The config's YAML, read. libyaml's events are first built into a small
 * tree that keeps every node's position; the loader then walks the tree
 * with the readers below. Every problem is collected as "file:line:column:
 * message" and all of them are reported together (HAProxy's habit). */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "conf/arena.h"
#include "conf/yaml_reader.h"
#include "fpmd/conf.h"

#define CONF_MAX_DEPTH 32

void
fpmd_yaml_error_at(struct fpmd_yaml_ctx *c, const struct fpmd_yaml_node *n,
                   const char *fmt, ...)
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

void
fpmd_yaml_free(struct fpmd_yaml_node *n)
{
    if (n == NULL)
        return;
    for (size_t i = 0; i < n->nkids; i++)
        fpmd_yaml_free(n->kids[i]);
    free(n->kids);
    free(n->value);
    free(n);
}

/* Where a libyaml mark (0-based) points, as a node errors can name. */
static struct fpmd_yaml_node
locate(const yaml_mark_t *mark)
{
    return (struct fpmd_yaml_node) {.line = (unsigned) mark->line + 1,
                                    .column = (unsigned) mark->column + 1};
}

static struct fpmd_yaml_node *
make_node(enum fpmd_yaml_type type, const yaml_mark_t *mark)
{
    struct fpmd_yaml_node *n = malloc(sizeof(*n));

    if (n == NULL)
        return NULL;
    *n = locate(mark);
    n->type = type;
    return n;
}

static int
add_kid(struct fpmd_yaml_node *parent, struct fpmd_yaml_node *kid)
{
    struct fpmd_yaml_node **grown;

    grown = realloc(parent->kids, (parent->nkids + 1) * sizeof(*grown));
    if (grown == NULL)
        return FPMD_ERROR;
    parent->kids = grown;
    parent->kids[parent->nkids++] = kid;
    return FPMD_OK;
}

int
fpmd_yaml_is_null(const struct fpmd_yaml_node *n)
{
    return n->type == FPMD_YAML_SCALAR && n->plain
        && (n->value[0] == '\0' || strcmp(n->value, "~") == 0
            || strcmp(n->value, "null") == 0 || strcmp(n->value, "Null") == 0
            || strcmp(n->value, "NULL") == 0);
}

struct fpmd_yaml_node *
fpmd_yaml_parse(struct fpmd_yaml_ctx *c, const char *text, size_t len)
{
    yaml_parser_t parser;
    yaml_event_t ev;
    struct fpmd_yaml_node *stack[CONF_MAX_DEPTH + 1];
    struct fpmd_yaml_node *root = NULL;
    int depth = 0, docs = 0, done = 0, failed = 0;

    if (!yaml_parser_initialize(&parser)) {
        fpmd_yaml_error_at(c, NULL, "out of memory");
        return NULL;
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *) text, len);
    while (!done && !failed) {
        struct fpmd_yaml_node *n = NULL;

        if (!yaml_parser_parse(&parser, &ev)) {
            struct fpmd_yaml_node at = locate(&parser.problem_mark);

            fpmd_yaml_error_at(c, &at, "YAML syntax: %s%s%s",
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
                struct fpmd_yaml_node at = locate(&ev.start_mark);

                fpmd_yaml_error_at(c, &at, "only one YAML document is allowed");
                failed = 1;
            }
            break;
        case YAML_ALIAS_EVENT: {
            struct fpmd_yaml_node at = locate(&ev.start_mark);

            fpmd_yaml_error_at(c, &at,
                               "YAML aliases (*name) are not supported; "
                               "write the value out");
            failed = 1;
            break;
        }
        case YAML_SCALAR_EVENT:
            n = make_node(FPMD_YAML_SCALAR, &ev.start_mark);
            if (n != NULL) {
                n->value = strndup((const char *) ev.data.scalar.value,
                                   ev.data.scalar.length);
                n->plain = ev.data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
                if (n->value == NULL) {
                    fpmd_yaml_free(n);
                    n = NULL;
                }
            }
            break;
        case YAML_MAPPING_START_EVENT:
        case YAML_SEQUENCE_START_EVENT:
            n = make_node(ev.type == YAML_MAPPING_START_EVENT ? FPMD_YAML_MAP
                                                              : FPMD_YAML_SEQ,
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
                fpmd_yaml_error_at(c, NULL, "out of memory");
                failed = 1;
            } else if (depth == 0) {
                if (root != NULL) {
                    fpmd_yaml_free(n);
                    failed = 1;
                } else {
                    root = n;
                }
            } else if (add_kid(stack[depth - 1], n) != FPMD_OK) {
                fpmd_yaml_free(n);
                failed = 1;
            }
            if (!failed && n->type != FPMD_YAML_SCALAR) {
                if (depth >= CONF_MAX_DEPTH) {
                    fpmd_yaml_error_at(c, n, "nested deeper than %d levels",
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
        fpmd_yaml_free(root);
        return NULL;
    }
    if (root == NULL)
        fpmd_yaml_error_at(c, NULL, "the configuration is empty");
    return root;
}

/* --- values ----------------------------------------------------------- */

/* The number s starts with into *v, end after it; FPMD_ERROR when s does
 * not start with a digit or the number overflows. */
static int
read_number(const char *s, unsigned long long *v, char **end)
{
    if (!isdigit((unsigned char) s[0]))
        return FPMD_ERROR;
    errno = 0;
    *v = strtoull(s, end, 10);
    return errno == 0 ? FPMD_OK : FPMD_ERROR;
}

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

    if (read_number(s, &v, &end) != FPMD_OK)
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

    if (read_number(s, &v, &end) != FPMD_OK)
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
fpmd_yaml_scalar(struct fpmd_yaml_ctx *c, const struct fpmd_yaml_node *n,
                 const char *key)
{
    if (n->type != FPMD_YAML_SCALAR) {
        fpmd_yaml_error_at(c, n, "%s: expected a value, found a %s", key,
                           n->type == FPMD_YAML_MAP ? "mapping" : "list");
        return NULL;
    }
    return n->value;
}

void
fpmd_yaml_get_str(struct fpmd_yaml_ctx *c, const struct fpmd_yaml_node *n,
                  const char *key, char **out)
{
    const char *v = fpmd_yaml_scalar(c, n, key);

    if (v == NULL)
        return;
    *out = fpmd_yaml_is_null(n) ? NULL : fpmd_conf_strdup(c->arena, v);
}

void
fpmd_yaml_get_uint(struct fpmd_yaml_ctx *c, const struct fpmd_yaml_node *n,
                   const char *key, unsigned min, unsigned max, unsigned *out)
{
    const char *v = fpmd_yaml_scalar(c, n, key);
    unsigned long long x;
    char *end;

    if (v == NULL)
        return;
    if (read_number(v, &x, &end) != FPMD_OK || *end != '\0' || x < min
        || x > max) {
        fpmd_yaml_error_at(c, n,
                           "%s: \"%s\" is not a whole number from %u to %u",
                           key, v, min, max);
        return;
    }
    *out = (unsigned) x;
}

void
fpmd_yaml_get_bool(struct fpmd_yaml_ctx *c, const struct fpmd_yaml_node *n,
                   const char *key, bool *out)
{
    static const char *const yes[] = {"true", "yes", "on", "True", "Yes",
                                      "On", "TRUE", "YES", "ON"};
    static const char *const no[] = {"false", "no", "off", "False", "No",
                                     "Off", "FALSE", "NO", "OFF"};
    const char *v = fpmd_yaml_scalar(c, n, key);

    if (v == NULL)
        return;
    for (size_t i = 0; i < FPMD_ARRAY_LEN(yes); i++) {
        if (strcmp(v, yes[i]) == 0) {
            *out = true;
            return;
        }
        if (strcmp(v, no[i]) == 0) {
            *out = false;
            return;
        }
    }
    fpmd_yaml_error_at(c, n, "%s: \"%s\" is not a boolean (true or false)", key,
                       v);
}

void
fpmd_yaml_get_duration(struct fpmd_yaml_ctx *c, const struct fpmd_yaml_node *n,
                       const char *key, uint64_t *out)
{
    const char *v = fpmd_yaml_scalar(c, n, key);

    if (v != NULL && fpmd_conf_parse_duration(v, out) != FPMD_OK)
        fpmd_yaml_error_at(c, n,
                           "%s: \"%s\" is not a duration (e.g. 500ms, 10s, 2m, "
                           "1h; a bare number is seconds)", key, v);
}

void
fpmd_yaml_get_size(struct fpmd_yaml_ctx *c, const struct fpmd_yaml_node *n,
                   const char *key, size_t *out)
{
    const char *v = fpmd_yaml_scalar(c, n, key);

    if (v != NULL && fpmd_conf_parse_size(v, out) != FPMD_OK)
        fpmd_yaml_error_at(c, n,
                           "%s: \"%s\" is not a size (e.g. 512, 64k, 16m, 1g)",
                           key, v);
}

/* --- keys ------------------------------------------------------------- */

/* Calls each key's handler; reports unknown and repeated keys. */
void
fpmd_yaml_walk_map(struct fpmd_yaml_ctx *c, const struct fpmd_yaml_node *map,
                   const char *where, const struct fpmd_yaml_key *keys,
                   size_t nkeys)
{
    if (map->type != FPMD_YAML_MAP) {
        fpmd_yaml_error_at(c, map, "%s: expected a mapping", where);
        return;
    }
    for (size_t i = 0; i + 1 < map->nkids; i += 2) {
        const struct fpmd_yaml_node *k = map->kids[i], *v = map->kids[i + 1];
        size_t j;

        if (k->type != FPMD_YAML_SCALAR) {
            fpmd_yaml_error_at(c, k, "%s: keys must be plain names", where);
            continue;
        }
        for (j = 0; j < i; j += 2) {
            if (map->kids[j]->type == FPMD_YAML_SCALAR
                && strcmp(map->kids[j]->value, k->value) == 0)
                break;
        }
        if (j < i) {
            fpmd_yaml_error_at(c, k,
                               "duplicate key \"%s\" in %s (first at line %u)",
                               k->value, where, map->kids[j]->line);
            continue;
        }
        for (j = 0; j < nkeys; j++) {
            if (strcmp(keys[j].name, k->value) == 0)
                break;
        }
        if (j == nkeys) {
            fpmd_yaml_error_at(c, k, "unknown key \"%s\" in %s", k->value,
                               where);
            continue;
        }
        keys[j].fn(c, v, k->value);
    }
}

/* The array behind a list key (listen:, routes:), one element per item;
 * NULL after reporting a non-list. */
void *
fpmd_yaml_list_items(struct fpmd_yaml_ctx *c, const struct fpmd_yaml_node *v,
                     const char *key, const char *what, size_t size)
{
    if (v->type != FPMD_YAML_SEQ) {
        fpmd_yaml_error_at(c, v, "%s: expected a list of %s", key, what);
        return NULL;
    }
    return fpmd_conf_alloc(c->arena, v->nkids ? v->nkids : 1, size);
}

void
fpmd_yaml_set_pos(struct fpmd_conf_pos *pos, const struct fpmd_yaml_ctx *c,
                  const struct fpmd_yaml_node *n)
{
    pos->file = c->file;
    pos->line = n->line;
    pos->column = n->column;
}

/* A relative path in the config is relative to the config file, so that
 * what it names does not depend on the cwd of whoever loads it. */
char *
fpmd_yaml_relative(const struct fpmd_yaml_ctx *c, const char *path)
{
    const char *slash = strrchr(c->file, '/');
    char buf[PATH_MAX];

    if (path[0] == '/')
        return fpmd_conf_strdup(c->arena, path);
    if ((size_t) snprintf(buf, sizeof(buf), "%.*s%s%s",
                          slash ? (int) (slash - c->file) : 1,
                          slash ? c->file : ".", "/", path) >= sizeof(buf))
        return NULL;
    return fpmd_conf_strdup(c->arena, buf);
}
