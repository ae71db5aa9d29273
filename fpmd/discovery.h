/* SPDX-License-Identifier: BSD-2-Clause */
/* The servers the etcd agent found for the upstreams with discover:
 * (README "Service discovery"), in memory the master maps for a
 * generation before it forks: the agent writes, every process of the
 * generation reads. A server keeps its slot while it stays listed, so
 * that its circuit breaker (slot i of the upstream's, in the generation's
 * breaker set) and its place in a hash ring stay its own; a new server
 * takes a free slot. Each list is a sequence lock: a reader copies it
 * whole and tries again when a write went on meanwhile, so a reader
 * never waits and never sees half of a change. */
#ifndef FPMD_DISCOVERY_H
#define FPMD_DISCOVERY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fpmd/conf.h"

#define FPMD_DISCOVERY_URL_MAX 256

/* One slot: a server, or nothing (url ""). */
struct fpmd_discovered {
    char url[FPMD_DISCOVERY_URL_MAX];
    unsigned weight;
};

struct fpmd_discovery;

/* A list for each of conf's upstreams with discover: (room for its
 * max_servers), none published yet. NULL when conf has none, or when
 * the mapping fails (errno set). */
struct fpmd_discovery *fpmd_discovery_new(const struct fpmd_conf *conf);
/* Unmaps it; NULL is fine. */
void fpmd_discovery_free(struct fpmd_discovery *d);

/* A new generation starts where the last one was: each list of to whose
 * upstream from_conf has too, by name and with the same discover:, gets
 * from's copy, so that a reload does not leave the workers without
 * servers until the new agent has asked etcd. */
void fpmd_discovery_carry(struct fpmd_discovery *to,
                          const struct fpmd_conf *to_conf,
                          const struct fpmd_discovery *from,
                          const struct fpmd_conf *from_conf);

/* How many times upstream i's list was published: 0 never (the agent
 * has not heard from etcd yet), and 0 for an upstream without
 * discover:. A reader compares it with its copy's to know it must read
 * again. */
uint64_t fpmd_discovery_version(const struct fpmd_discovery *d, size_t i);

/* Copies upstream i's slots, its max_servers of them, into out: the
 * version copied, 0 when none was published yet (out: empty slots).
 * Without waiting: 0 too, out as it was, when a write went on at each
 * of its tries (a writer may have died in the middle of one) or memory
 * is out. */
uint64_t fpmd_discovery_read(const struct fpmd_discovery *d, size_t i,
                             struct fpmd_discovered *out);

/* The agent's: servers (n, distinct URLs shorter than
 * FPMD_DISCOVERY_URL_MAX) become upstream i's list. A server listed
 * before keeps its slot (its weight updated), one gone frees its slot,
 * a new one takes a free slot: one that was empty before this call
 * first, then one this call freed, so that a server just gone leaves
 * its slot (and breaker) to a newcomer only when no other is free.
 * fresh[k] tells whether slot k now holds a server it did not hold
 * before (its breaker must start closed). Returns how many of servers
 * found no free slot (past max_servers): they are left out. */
size_t fpmd_discovery_publish(struct fpmd_discovery *d, size_t i,
                              const struct fpmd_discovered *servers,
                              size_t n, bool *fresh);

#endif
