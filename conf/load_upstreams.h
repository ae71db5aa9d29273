/* SPDX-License-Identifier: BSD-2-Clause */
/* upstreams: and etcd: of the config, read by load_upstreams.c for the
 * loader. */
#ifndef FPMD_CONF_LOAD_UPSTREAMS_H
#define FPMD_CONF_LOAD_UPSTREAMS_H

#include "conf/yaml_reader.h"

void fpmd_conf_read_upstreams(struct fpmd_yaml_ctx *c,
                              const struct fpmd_yaml_node *v,
                              const char *key);
/* etcd: of the config. */
void fpmd_conf_read_etcd(struct fpmd_yaml_ctx *c,
                         const struct fpmd_yaml_node *v, const char *key);
/* Once the whole file is read: what ties upstreams to the rest. */
void fpmd_conf_check_upstreams(struct fpmd_yaml_ctx *c);

/* balancer: v names a kind (fpmd/balance.h): FPMD_OK with *kind set, or
 * FPMD_ERROR after reporting it at v. Pools take the key too. */
int fpmd_conf_read_balancer(struct fpmd_yaml_ctx *c,
                            const struct fpmd_yaml_node *v, const char *key,
                            unsigned *kind);

#endif
