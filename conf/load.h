/* SPDX-License-Identifier: BSD-2-Clause */
/* Inside the YAML loader: the document tree it walks, the context errors
 * go to (file:line:column, all of them), and the value readers and schema
 * walker that every section's parser shares. Not for use outside conf/. */
#ifndef FPMD_CONF_LOAD_H
#define FPMD_CONF_LOAD_H

#include <stddef.h>
#include <stdint.h>

#include "fpmd/conf.h"

enum node_type { N_SCALAR, N_MAP, N_SEQ };

struct node {
    enum node_type type;
    char *value;            /* scalar text */
    int plain;              /* unquoted scalar: ~ and empty mean null */
    unsigned line, column;  /* 1-based */
    struct node **kids;     /* map: key, value, key, value...; seq: items */
    size_t nkids;
};

struct ctx {
    const char *file;
    char *err;
    size_t errlen, errpos;
    unsigned nerrors;
    struct fpmd_conf *conf;
};

typedef void (*key_fn)(struct ctx *c, const struct node *v, const char *key);

struct key {
    const char *name;
    key_fn fn;
};

#define KEYFN(name) \
    static void name(struct ctx *c, const struct node *v, const char *key)

/* Adds "file:line:column: message" (n NULL: line 1) and counts it. */
void conf_error_at(struct ctx *c, const struct node *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Readers of one value; each reports a bad one and leaves *out alone. */
const char *conf_scalar(struct ctx *c, const struct node *n, const char *key);
void conf_get_str(struct ctx *c, const struct node *n, const char *key,
                  char **out);
void conf_get_uint(struct ctx *c, const struct node *n, const char *key,
                   unsigned min, unsigned max, unsigned *out);
void conf_get_bool(struct ctx *c, const struct node *n, const char *key,
                   int *out);
void conf_get_size(struct ctx *c, const struct node *n, const char *key,
                   size_t *out);
void conf_get_duration(struct ctx *c, const struct node *n, const char *key,
                       uint64_t *out);
/* A zeroed array for the items of a sequence; NULL after reporting a
 * value that is not one. */
void *conf_list_items(struct ctx *c, const struct node *v, const char *key,
                      const char *what, size_t size);
void conf_set_pos(struct fpmd_conf_pos *pos, const struct ctx *c,
                  const struct node *n);

/* Calls each key's handler; reports unknown and repeated keys. */
void conf_walk_map(struct ctx *c, const struct node *map, const char *where,
                   const struct key *keys, size_t nkeys);

/* path made relative to the config file's directory (absolute paths
 * unchanged); NULL when too long or memory is out. */
char *conf_relative(const struct ctx *c, const char *path);

/* Top-level sections parsed in their own files. */
void conf_k_routes(struct ctx *c, const struct node *v, const char *key);
/* After the walk: what routes refer to elsewhere in the config. */
void conf_check_routes(struct ctx *c);
void conf_routes_free(struct fpmd_conf *conf);
void conf_k_pools(struct ctx *c, const struct node *v, const char *key);
void conf_k_legacy(struct ctx *c, const struct node *v, const char *key);

#endif
