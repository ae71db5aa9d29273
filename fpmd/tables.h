/* SPDX-License-Identifier: BSD-2-Clause */
/* The config's shared tables in this process: the master maps those of
 * a generation before it forks, keeping each one a reload leaves
 * unchanged (rows and all); its children find them by name
 * (fpmd_table, in fpmd.h). */
#ifndef FPMD_TABLES_H
#define FPMD_TABLES_H

#include <stddef.h>

#include "fpmd/conf.h"
#include "fpmd/table.h"

/* conf's tables, one per conf->tables entry, in its order: a table of
 * prev (prev_conf's, may be NULL) with the same name and layout is taken
 * as it is, any other is mapped anew. prev is left as it is: until
 * fpmd_tables_commit, a failure is undone with fpmd_tables_drop(tables,
 * n, prev, nprev). NULL with a message in err when one cannot be
 * mapped. */
struct fpmd_table **fpmd_tables_open(const struct fpmd_conf *conf,
                                     struct fpmd_table **prev,
                                     const struct fpmd_conf *prev_conf,
                                     char *err, size_t errlen);

/* The tables taken from prev now belong to tables alone (their slots in
 * prev become NULL, so prev's close leaves them), and the log says which
 * were kept and which start empty. */
void fpmd_tables_commit(const struct fpmd_conf *conf,
                        struct fpmd_table **tables, struct fpmd_table **prev,
                        size_t nprev);

/* Unmaps those of the n tables that are not among keep's nkeep (the
 * master's copies: children keep theirs), and frees the array. */
void fpmd_tables_drop(struct fpmd_table **tables, size_t n,
                      struct fpmd_table **keep, size_t nkeep);

/* Unmaps the n tables, and frees the array. */
void fpmd_tables_close(struct fpmd_table **tables, size_t n);

/* In a child, before it runs anything: the tables fpmd_table finds. */
void fpmd_tables_attach(const struct fpmd_conf *conf,
                        struct fpmd_table **tables);

/* The attached tables' figures, in req's memory; 0 when there are
 * none or memory is out. */
size_t fpmd_tables_status(struct fpmd_req *req,
                          const struct fpmd_status_table **out);

#endif
