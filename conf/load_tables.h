/* SPDX-License-Identifier: BSD-2-Clause */
/* tables: of the config, read by load_tables.c for the loader (load.c). */
#ifndef FPMD_CONF_LOAD_TABLES_H
#define FPMD_CONF_LOAD_TABLES_H

#include "conf/yaml_reader.h"

/* The tables: key's handler. */
void fpmd_conf_read_tables(struct fpmd_yaml_ctx *c,
                           const struct fpmd_yaml_node *v, const char *key);

#endif
