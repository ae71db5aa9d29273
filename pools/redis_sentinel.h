/* SPDX-License-Identifier: BSD-2-Clause */
/* A redis pool's master as its sentinels name it (sentinels: in the
 * config), per worker: asked for when first needed and again after any
 * doubt, and followed through a subscription to +switch-master. Once a
 * call asked for a replica, also the replicas they list as up, each in a
 * replica slot of the pool (its nodes 1 .. FPMD_SENTINEL_MAX_REPLICAS),
 * kept current from the sentinels' events and a periodic refresh. The
 * driver (redis.c) connects only where this says, checks the server's
 * ROLE, and does not reuse a connection made before a change. */
#ifndef FPMD_POOLS_REDIS_SENTINEL_H
#define FPMD_POOLS_REDIS_SENTINEL_H

#include <stdbool.h>
#include <stdint.h>

#include "fpmd/conf.h"

struct fpmd_sentinel;

/* A connection waiting for the master's address. */
struct fpmd_sentinel_waiter {
    struct fpmd_sentinel_waiter *next;
    /* From the loop, once: ok with the address known, or not (why). */
    void (*cb)(struct fpmd_sentinel_waiter *w, bool ok, const char *why);
};

/* conf's state in this process, made (and its subscription started) on
 * first use. NULL when memory is out. */
struct fpmd_sentinel *fpmd_sentinel_of(const struct fpmd_conf_backend *conf);

/* The master as last heard: true with its address, false while unknown
 * (then fpmd_sentinel_wait). */
bool fpmd_sentinel_master(const struct fpmd_sentinel *s, const char **host,
                          unsigned *port);
/* Bumped at every change of master (slot -1) or of a replica slot's
 * server (slot 0 .. FPMD_SENTINEL_MAX_REPLICAS - 1): a connection made
 * under an older one is not lent again. */
uint64_t fpmd_sentinel_epoch(const struct fpmd_sentinel *s, int slot);

/* A call asked for a replica: from now on the replicas are learnt and
 * kept current (the first time, a query starts). */
void fpmd_sentinel_want_replicas(struct fpmd_sentinel *s);
/* Replica slot slot's server: true with its address, false while the
 * slot is empty. */
bool fpmd_sentinel_replica(const struct fpmd_sentinel *s, int slot,
                           const char **host, unsigned *port);
/* A replica refused, or is not one (its ROLE): the sentinels are asked
 * for the replicas again (once replicas are wanted). */
void fpmd_sentinel_replicas_stale(struct fpmd_sentinel *s);

/* w waits for the address (a query to the sentinels starts if none
 * runs); fpmd_sentinel_unwait takes it back before its callback. */
void fpmd_sentinel_wait(struct fpmd_sentinel *s,
                        struct fpmd_sentinel_waiter *w);
void fpmd_sentinel_unwait(struct fpmd_sentinel *s,
                          struct fpmd_sentinel_waiter *w);

/* What was heard is in doubt (the server refused, or says it is not a
 * master, or answered READONLY): the next connection asks again. */
void fpmd_sentinel_stale(struct fpmd_sentinel *s);

/* The worker stops: every state and its connections go. */
void fpmd_sentinel_stop_all(void);

#endif
