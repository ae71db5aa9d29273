/* SPDX-License-Identifier: BSD-2-Clause */
/* The etcd agent (README "Service discovery"): a process the master
 * keeps running, one per generation, when the config has etcd: with a
 * prefix to register under or an upstream with discover:. It registers
 * the generation's TCP listeners under a lease it keeps alive and
 * revokes when asked to stop, and keeps each discovered upstream's list
 * (discovery.h) current with a watch. It talks to etcd's HTTP/JSON
 * gateway with the HTTP client, as any handler would. */
#ifndef FPMD_ETCD_AGENT_H
#define FPMD_ETCD_AGENT_H

#include <stdbool.h>

#include "fpmd/conf.h"

/* Whether conf needs the agent. */
bool fpmd_etcd_agent_wanted(const struct fpmd_conf *conf);

/* In the forked child, privileges dropped: runs until QUIT or TERM (a
 * lease held is revoked first). The exit code. */
int fpmd_etcd_agent_main(const struct fpmd_conf *conf);

#endif
