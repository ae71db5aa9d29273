/* SPDX-License-Identifier: BSD-2-Clause */
/* Which of the replicas Redis Sentinel lists a sentinel pool reads from,
 * and in which of its replica slots (the pool's placeholder nodes). A
 * slot keeps its server while the sentinels list it as up, so that its
 * connections stay open; plain data, no I/O. */
#ifndef FPMD_POOLS_SENTINEL_REPLICAS_H
#define FPMD_POOLS_SENTINEL_REPLICAS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct fpmd_replica_slot {
    char host[64];
    unsigned port;
    bool filled;
    uint64_t epoch;             /* bumped at every change of server */
};

struct fpmd_replica_addr {
    const char *host;           /* hlen bytes, not NUL-terminated */
    size_t hlen;
    unsigned port;
};

/* Whether an entry of SENTINEL replicas can serve reads: its flags (a
 * comma-separated list) name none of s_down, o_down, disconnected, and
 * its master-link-status is "ok" (it is in sync). NULL: not reported,
 * so not up. */
bool fpmd_replica_up(const char *flags, const char *link);

/* Updates slots (n of them) to the replicas up now (up, nup; an
 * address longer than a slot holds is left out): a slot whose server is
 * still listed keeps it; one whose server is not is emptied; listed
 * servers without a slot take the empty ones, in list order, as long as
 * there are some. changed[i] (n entries) says whether slot i changed
 * server (its epoch was bumped). */
void fpmd_replica_slots_update(struct fpmd_replica_slot *slots, size_t n,
                               const struct fpmd_replica_addr *up,
                               size_t nup, bool *changed);

#endif
