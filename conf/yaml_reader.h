/* SPDX-License-Identifier: BSD-2-Clause */
/* Reading the config's YAML: the document as a tree whose nodes keep their
 * file:line:column, readers of one value, a walker that hands each key of
 * a mapping to its handler, and the error list all of them add to (every
 * problem, not only the first). What the config's sections mean is the
 * loader's (load*.c); this file knows YAML and value syntax only. Not for
 * use outside conf/. */
#ifndef FPMD_CONF_YAML_READER_H
#define FPMD_CONF_YAML_READER_H

#include <stddef.h>
#include <stdint.h>

#include "fpmd/conf.h"

enum fpmd_yaml_type { FPMD_YAML_SCALAR, FPMD_YAML_MAP, FPMD_YAML_SEQ };

struct fpmd_yaml_node {
    enum fpmd_yaml_type type;
    char *value;            /* scalar text */
    int plain;              /* unquoted scalar: ~ and empty mean null */
    unsigned line, column;  /* 1-based */
    struct fpmd_yaml_node **kids;   /* map: key, value, key, value...;
                                     * seq: items */
    size_t nkids;
};

/* One load: where its errors go, the config its key handlers fill and
 * the arena what they read is copied to (the config's). */
struct fpmd_yaml_ctx {
    const char *file;       /* in messages; positions point to it */
    char *err;
    size_t errlen, errpos;
    unsigned nerrors;
    struct fpmd_conf *conf;
    struct fpmd_conf_arena *arena;
};

typedef void (*fpmd_yaml_key_fn)(struct fpmd_yaml_ctx *c,
                                 const struct fpmd_yaml_node *v,
                                 const char *key);

struct fpmd_yaml_key {
    const char *name;
    fpmd_yaml_key_fn fn;
};

/* Defines the handler of a key (static). */
#define KEYFN(name)                                                         \
    static void name(struct fpmd_yaml_ctx *c,                               \
                     const struct fpmd_yaml_node *v, const char *key)

/* Adds "file:line:column: message" (n NULL: line 1) and counts it. */
void fpmd_yaml_error_at(struct fpmd_yaml_ctx *c,
                        const struct fpmd_yaml_node *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The document's tree; NULL after reporting a syntax error, more than one
 * document, an alias, nesting too deep or an empty file. */
struct fpmd_yaml_node *fpmd_yaml_parse(struct fpmd_yaml_ctx *c,
                                       const char *text, size_t len);
void fpmd_yaml_free(struct fpmd_yaml_node *root);

/* A plain ~, null or nothing. */
int fpmd_yaml_is_null(const struct fpmd_yaml_node *n);

/* Readers of one value; each reports a bad one and leaves *out alone. */
const char *fpmd_yaml_scalar(struct fpmd_yaml_ctx *c,
                             const struct fpmd_yaml_node *n, const char *key);
void fpmd_yaml_get_str(struct fpmd_yaml_ctx *c, const struct fpmd_yaml_node *n,
                       const char *key, char **out);
void fpmd_yaml_get_uint(struct fpmd_yaml_ctx *c,
                        const struct fpmd_yaml_node *n, const char *key,
                        unsigned min, unsigned max, unsigned *out);
void fpmd_yaml_get_bool(struct fpmd_yaml_ctx *c,
                        const struct fpmd_yaml_node *n, const char *key,
                        bool *out);
void fpmd_yaml_get_size(struct fpmd_yaml_ctx *c,
                        const struct fpmd_yaml_node *n, const char *key,
                        size_t *out);
void fpmd_yaml_get_duration(struct fpmd_yaml_ctx *c,
                            const struct fpmd_yaml_node *n, const char *key,
                            uint64_t *out);
/* A zeroed array for the items of a sequence; NULL after reporting a
 * value that is not one. */
void *fpmd_yaml_list_items(struct fpmd_yaml_ctx *c,
                           const struct fpmd_yaml_node *v, const char *key,
                           const char *what, size_t size);
void fpmd_yaml_set_pos(struct fpmd_conf_pos *pos,
                       const struct fpmd_yaml_ctx *c,
                       const struct fpmd_yaml_node *n);

/* Calls each key's handler; reports unknown and repeated keys. */
void fpmd_yaml_walk_map(struct fpmd_yaml_ctx *c,
                        const struct fpmd_yaml_node *map, const char *where,
                        const struct fpmd_yaml_key *keys, size_t nkeys);

/* path made relative to the config file's directory (absolute paths
 * unchanged), in the arena; NULL when too long or memory is out. */
char *fpmd_yaml_relative(const struct fpmd_yaml_ctx *c, const char *path);

#endif
