/* SPDX-License-Identifier: BSD-2-Clause */
/* pools: and legacy: of the config, read by load_pools.c for the loader
 * (load.c). */
#ifndef FPMD_CONF_LOAD_POOLS_H
#define FPMD_CONF_LOAD_POOLS_H

#include "conf/yaml_reader.h"

/* The pools: and legacy: keys' handlers. */
void fpmd_conf_read_pools(struct fpmd_yaml_ctx *c,
                          const struct fpmd_yaml_node *v, const char *key);
void fpmd_conf_read_legacy(struct fpmd_yaml_ctx *c,
                           const struct fpmd_yaml_node *v, const char *key);

#endif
