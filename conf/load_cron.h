/* SPDX-License-Identifier: BSD-2-Clause */
/* cron: of the config, read by load_cron.c for the loader (load.c). */
#ifndef FPMD_CONF_LOAD_CRON_H
#define FPMD_CONF_LOAD_CRON_H

#include "conf/yaml_reader.h"

/* The cron: key's handler. */
void fpmd_conf_read_cron(struct fpmd_yaml_ctx *c,
                         const struct fpmd_yaml_node *v, const char *key);

#endif
