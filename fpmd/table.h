/* SPDX-License-Identifier: BSD-2-Clause */
/* Fixed-size shared-memory tables (Swoole\Table's idea): rows of typed
 * columns under arbitrary byte keys, in one shared mapping the master
 * creates before fork, so that every process it forks reads and writes
 * the same rows. Nothing grows after create and no operation allocates;
 * a process killed in the middle of an operation leaves the table usable
 * by the others (see "Crash safety" in table.c). What handlers call is
 * in fpmd.h ("shared tables"); here, what the master needs to make
 * them. */
#ifndef FPMD_TABLE_H
#define FPMD_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fpmd/fpmd.h"

#define FPMD_TABLE_NAME_LEN 64          /* table and column names, NUL
                                         * included */
#define FPMD_TABLE_MAX_COLUMNS 32
#define FPMD_TABLE_KEY_DEFAULT 64
#define FPMD_TABLE_KEY_MAX 1024
#define FPMD_TABLE_BYTES_MAX (1u << 20) /* one bytes column */
#define FPMD_TABLE_MAX_ROWS (1u << 30)
#define FPMD_TABLE_MAX_MEMORY ((uint64_t) 1 << 30)  /* one mapping */

struct fpmd_table_column {
    const char *name;
    enum fpmd_table_type type;
    uint32_t size;          /* FPMD_TABLE_BYTES: the longest value;
                             * ignored for the others */
};

/* What create reads; nothing of it is kept (names are copied). */
struct fpmd_table_spec {
    const char *name;
    uint32_t rows;          /* capacity, 1 .. FPMD_TABLE_MAX_ROWS */
    uint32_t key_size;      /* longest key in bytes; 0: the default */
    const struct fpmd_table_column *columns;
    uint32_t ncolumns;      /* 0 .. FPMD_TABLE_MAX_COLUMNS; 0 makes a set
                             * of keys */
};

/* Maps a new table laid out from spec (before fork, so children inherit
 * it); the caller owns it and frees it with fpmd_table_destroy, once, in
 * the process that created it (children just exit). NULL on a spec that
 * is invalid or too large, or when mmap or getrandom fails, with a
 * message naming the table in err. */
struct fpmd_table *fpmd_table_create(const struct fpmd_table_spec *spec,
                                     char *err, size_t errlen);
void fpmd_table_destroy(struct fpmd_table *t);

/* true when spec would create a table of t's exact layout: same rows,
 * key size and columns (names, types, sizes, order), the name aside. A
 * config reload keeps such a table, rows and all. */
bool fpmd_table_same_layout(const struct fpmd_table *t,
                            const struct fpmd_table_spec *spec);

#endif
