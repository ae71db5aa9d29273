/* SPDX-License-Identifier: BSD-2-Clause */
/* tables: of the config (fpmd/conf.h, struct fpmd_conf_table): shared
 * tables by name, their capacity, key size and typed columns, checked
 * with the loader's file:line:column errors. What only the size of the
 * whole can refuse (over 1 GiB) is refused when the master maps it. */
#include "config.h"

#include <string.h>

#include "conf/arena.h"
#include "conf/load_tables.h"
#include "conf/yaml_reader.h"
#include "fpmd/conf.h"

/* fpmd/table.h's bounds, which this library does not link. */
#define NAME_MAX_LEN 63
#define MAX_COLUMNS 32
#define KEY_MAX 1024
#define BYTES_MAX (1u << 20)
#define ROWS_MAX (1u << 30)

static struct fpmd_conf_table *cur;
static struct fpmd_conf_table_column *cur_col;

static void
check_name(struct fpmd_yaml_ctx *c, const struct fpmd_yaml_node *n,
           const char *what, const char *name)
{
    if (name[0] == '\0' || strlen(name) > NAME_MAX_LEN)
        fpmd_yaml_error_at(c, n, "%s: a name of 1 to %d bytes", what,
                           NAME_MAX_LEN);
}

KEYFN(k_col_name)
{
    fpmd_yaml_get_str(c, v, key, &cur_col->name);
    if (cur_col->name != NULL)
        check_name(c, v, "columns: name", cur_col->name);
}

KEYFN(k_col_type)
{
    const char *t = fpmd_yaml_scalar(c, v, key);

    if (t == NULL)
        return;
    if (strcmp(t, "int") == 0)
        cur_col->type = FPMD_CONF_TABLE_INT;
    else if (strcmp(t, "float") == 0)
        cur_col->type = FPMD_CONF_TABLE_FLOAT;
    else if (strcmp(t, "bytes") == 0)
        cur_col->type = FPMD_CONF_TABLE_BYTES;
    else
        fpmd_yaml_error_at(c, v, "%s: \"%s\" is not int, float or bytes", key,
                           t);
}

KEYFN(k_col_size)
{
    fpmd_yaml_get_uint(c, v, key, 1, BYTES_MAX, &cur_col->size);
}

static const struct fpmd_yaml_key column_keys[] = {
    {"name", k_col_name}, {"type", k_col_type}, {"size", k_col_size},
};

KEYFN(k_rows) { fpmd_yaml_get_uint(c, v, key, 1, ROWS_MAX, &cur->rows); }
KEYFN(k_key_size)
{
    fpmd_yaml_get_uint(c, v, key, 1, KEY_MAX, &cur->key_size);
}

KEYFN(k_columns)
{
    cur->columns = fpmd_yaml_list_items(c, v, key, "columns",
                                        sizeof(*cur->columns));
    if (cur->columns == NULL)
        return;
    if (v->nkids > MAX_COLUMNS) {
        fpmd_yaml_error_at(c, v, "%s: at most %d columns", key, MAX_COLUMNS);
        return;
    }
    for (size_t i = 0; i < v->nkids; i++) {
        const struct fpmd_yaml_node *item = v->kids[i];

        cur_col = &cur->columns[cur->ncolumns++];
        fpmd_yaml_set_pos(&cur_col->pos, c, item);
        fpmd_yaml_walk_map(c, item, "columns", column_keys,
                           FPMD_ARRAY_LEN(column_keys));
        if (item->type != FPMD_YAML_MAP)
            continue;
        if (cur_col->name == NULL || cur_col->type == 0) {
            fpmd_yaml_error_at(c, item, "columns: each needs a name: and a "
                               "type:");
            continue;
        }
        if ((cur_col->type == FPMD_CONF_TABLE_BYTES) != (cur_col->size > 0))
            fpmd_yaml_error_at(c, item, "columns: %s: size: is %s",
                               cur_col->name,
                               cur_col->type == FPMD_CONF_TABLE_BYTES
                                   ? "needed for bytes"
                                   : "for bytes only");
        for (size_t j = 0; j + 1 < cur->ncolumns; j++) {
            if (cur->columns[j].name != NULL
                && strcmp(cur->columns[j].name, cur_col->name) == 0)
                fpmd_yaml_error_at(c, item, "columns: a second column named "
                                   "\"%s\"", cur_col->name);
        }
    }
}

static const struct fpmd_yaml_key table_keys[] = {
    {"rows", k_rows}, {"key_size", k_key_size}, {"columns", k_columns},
};

void
fpmd_conf_read_tables(struct fpmd_yaml_ctx *c, const struct fpmd_yaml_node *v,
                      const char *key)
{
    struct fpmd_conf *conf = c->conf;

    if (v->type != FPMD_YAML_MAP) {
        fpmd_yaml_error_at(c, v, "%s: expected a mapping of table names",
                           key);
        return;
    }
    conf->tables = fpmd_conf_alloc(c->arena, v->nkids / 2 + 1,
                                   sizeof(*conf->tables));
    if (conf->tables == NULL)
        return;
    for (size_t i = 0; i + 1 < v->nkids; i += 2) {
        const struct fpmd_yaml_node *k = v->kids[i], *item = v->kids[i + 1];

        cur = &conf->tables[conf->ntables++];
        fpmd_yaml_set_pos(&cur->pos, c, k);
        cur->name = fpmd_conf_strdup(c->arena, k->type == FPMD_YAML_SCALAR
                                                   ? k->value : "");
        if (cur->name == NULL)
            return;
        check_name(c, k, "tables", cur->name);
        for (size_t j = 0; j + 1 < conf->ntables; j++) {
            if (strcmp(conf->tables[j].name, cur->name) == 0)
                fpmd_yaml_error_at(c, k, "tables: a second table named "
                                   "\"%s\"", cur->name);
        }
        fpmd_yaml_walk_map(c, item, "tables", table_keys,
                           FPMD_ARRAY_LEN(table_keys));
        if (item->type == FPMD_YAML_MAP && cur->rows == 0)
            fpmd_yaml_error_at(c, item, "tables: %s: rows: is needed (the "
                               "capacity, fixed)", cur->name);
    }
}
