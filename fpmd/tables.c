/* SPDX-License-Identifier: BSD-2-Clause */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fpmd/log.h"
#include "fpmd/tables.h"

_Static_assert((int) FPMD_CONF_TABLE_INT == (int) FPMD_TABLE_INT
               && (int) FPMD_CONF_TABLE_FLOAT == (int) FPMD_TABLE_FLOAT
               && (int) FPMD_CONF_TABLE_BYTES == (int) FPMD_TABLE_BYTES,
               "the config's column types are the table's");

static struct {
    const struct fpmd_conf *conf;
    struct fpmd_table **tables;
} attached;

/* ct as a spec; cols holds its columns (FPMD_TABLE_MAX_COLUMNS). */
static void
spec_of(const struct fpmd_conf_table *ct, struct fpmd_table_column *cols,
        struct fpmd_table_spec *spec)
{
    for (size_t i = 0; i < ct->ncolumns; i++)
        cols[i] = (struct fpmd_table_column) {
            ct->columns[i].name, (enum fpmd_table_type) ct->columns[i].type,
            ct->columns[i].size};
    *spec = (struct fpmd_table_spec) {ct->name, ct->rows, ct->key_size, cols,
                                      (uint32_t) ct->ncolumns};
}

/* The index in prev of the table ct can take over, or -1. */
static long
reusable(const struct fpmd_conf_table *ct, struct fpmd_table **prev,
         const struct fpmd_conf *prev_conf,
         const struct fpmd_table_spec *spec)
{
    for (size_t j = 0; prev != NULL && j < prev_conf->ntables; j++) {
        if (prev[j] != NULL && strcmp(prev_conf->tables[j].name, ct->name) == 0
            && fpmd_table_same_layout(prev[j], spec))
            return (long) j;
    }
    return -1;
}

struct fpmd_table **
fpmd_tables_open(const struct fpmd_conf *conf, struct fpmd_table **prev,
                 const struct fpmd_conf *prev_conf, char *err, size_t errlen)
{
    struct fpmd_table **tables = calloc(conf->ntables + 1, sizeof(*tables));
    struct fpmd_table_column cols[FPMD_TABLE_MAX_COLUMNS];
    struct fpmd_table_spec spec;

    if (tables == NULL) {
        snprintf(err, errlen, "tables: out of memory");
        return NULL;
    }
    for (size_t i = 0; i < conf->ntables; i++) {
        long j;

        spec_of(&conf->tables[i], cols, &spec);
        j = reusable(&conf->tables[i], prev, prev_conf, &spec);
        tables[i] = j >= 0 ? prev[j] : fpmd_table_create(&spec, err, errlen);
        if (tables[i] == NULL) {
            fpmd_tables_drop(tables, i, prev,
                             prev_conf ? prev_conf->ntables : 0);
            return NULL;
        }
    }
    return tables;
}

static bool
among(const struct fpmd_table *t, struct fpmd_table **set, size_t n)
{
    for (size_t i = 0; set != NULL && i < n; i++) {
        if (set[i] == t)
            return true;
    }
    return false;
}

void
fpmd_tables_commit(const struct fpmd_conf *conf, struct fpmd_table **tables,
                   struct fpmd_table **prev, size_t nprev)
{
    for (size_t i = 0; i < conf->ntables; i++) {
        const char *name = conf->tables[i].name;
        bool kept = false;

        for (size_t j = 0; prev != NULL && j < nprev; j++) {
            if (prev[j] == tables[i]) {
                prev[j] = NULL;
                kept = true;
            }
        }
        if (kept)
            fpmd_log(FPMD_LOG_NOTICE, "table %s kept: %u of %u rows in use",
                     name, fpmd_table_count(tables[i]),
                     fpmd_table_capacity(tables[i]));
        else if (prev != NULL)
            fpmd_log(FPMD_LOG_NOTICE, "table %s starts empty (new, or its "
                     "layout changed)", name);
    }
}

void
fpmd_tables_drop(struct fpmd_table **tables, size_t n,
                 struct fpmd_table **keep, size_t nkeep)
{
    if (tables == NULL)
        return;
    for (size_t i = 0; i < n; i++) {
        if (!among(tables[i], keep, nkeep))
            fpmd_table_destroy(tables[i]);
    }
    free(tables);
}

void
fpmd_tables_close(struct fpmd_table **tables, size_t n)
{
    fpmd_tables_drop(tables, n, NULL, 0);
}

void
fpmd_tables_attach(const struct fpmd_conf *conf, struct fpmd_table **tables)
{
    attached.conf = conf;
    attached.tables = tables;
}

struct fpmd_table *
fpmd_table(const char *name)
{
    for (size_t i = 0; attached.conf != NULL && i < attached.conf->ntables;
         i++) {
        if (strcmp(attached.conf->tables[i].name, name) == 0)
            return attached.tables[i];
    }
    return NULL;
}

size_t
fpmd_tables_status(struct fpmd_req *req, const struct fpmd_status_table **out)
{
    size_t n = attached.conf ? attached.conf->ntables : 0;
    struct fpmd_status_table *t = n ? fpmd_alloc(req, n * sizeof(*t)) : NULL;

    *out = t;
    if (t == NULL)
        return 0;
    for (size_t i = 0; i < n; i++) {
        struct fpmd_table_stats st;

        fpmd_table_stats(attached.tables[i], &st);
        t[i] = (struct fpmd_status_table) {
            attached.conf->tables[i].name, st.rows, st.used, st.memory,
            st.full, st.expired, st.recovered};
    }
    return n;
}
