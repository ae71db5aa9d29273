/* SPDX-License-Identifier: BSD-2-Clause */
/* routes: of the config, read by load_routes.c for the loader (load.c). */
#ifndef FPMD_CONF_LOAD_ROUTES_H
#define FPMD_CONF_LOAD_ROUTES_H

#include "conf/yaml_reader.h"

/* The routes: key's handler. */
void fpmd_conf_read_routes(struct fpmd_yaml_ctx *c,
                           const struct fpmd_yaml_node *v, const char *key);
/* After the walk: what routes refer to elsewhere in the config. */
void fpmd_conf_check_routes(struct fpmd_yaml_ctx *c);

#endif
