/* SPDX-License-Identifier: BSD-2-Clause */
/* Which server of an upstream an outbound call goes to: round-robin,
 * weighted random, nginx's smooth weighted round-robin, least in flight
 * and a consistent-hash ring. A balancer is one process's: plain memory,
 * no locks, no clock; the caller says which servers are usable at each
 * pick (its breakers and health checks decide that). */
#ifndef FPMD_BALANCE_H
#define FPMD_BALANCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fpmd/common.h"

#define FPMD_BALANCE_MAX_SERVERS 1024
#define FPMD_BALANCE_MAX_WEIGHT 1000
/* Points a hash ring gets per unit of weight (nginx's hash consistent,
 * after ketama). */
#define FPMD_BALANCE_RING_POINTS 160
/* The most points one ring holds (16 bytes each): past it, every
 * server's share is scaled down in proportion to its weight, one point
 * at least. */
#define FPMD_BALANCE_RING_MAX (1u << 18)

enum fpmd_balance_kind {
    FPMD_BALANCE_ROUND_ROBIN,
    FPMD_BALANCE_RANDOM,
    FPMD_BALANCE_WEIGHTED,
    FPMD_BALANCE_LEAST_IN_FLIGHT,
    FPMD_BALANCE_HASH,
};

struct fpmd_balancer;

/* A balancer over n servers (1 .. FPMD_BALANCE_MAX_SERVERS), numbered 0
 * to n - 1 as in weights and names. weights: 1 .. FPMD_BALANCE_MAX_WEIGHT
 * each, NULL for all 1; round-robin ignores them. names: read by HASH
 * only, which needs them (distinct, NUL-terminated) to place each server
 * on the ring from "name#i" (i = 0, 1, ...), so that every process, and
 * every restart, with the same names has the same ring; nothing of them
 * is kept, the caller may free them on return. RANDOM seeds its
 * generator from getrandom(): a balancer made before fork would give
 * each child the same sequence, so make it in the child. NULL when
 * memory is out, getrandom fails, or an argument is out of range (kind,
 * n, a weight; HASH without names or with two alike). Free with
 * fpmd_balancer_free. Not thread-safe. */
struct fpmd_balancer *fpmd_balancer_new(enum fpmd_balance_kind kind,
                                        size_t n, const unsigned *weights,
                                        const char *const *names);
/* Frees b; NULL does nothing. */
void fpmd_balancer_free(struct fpmd_balancer *b);

/* Restarts RANDOM's generator from seed, so that a test sees the same
 * picks each run; any seed, 0 included, is fine. Other kinds ignore it. */
void fpmd_balancer_seed(struct fpmd_balancer *b, uint64_t seed);

/* The index of the server to call, among those with usable[i] true
 * (usable NULL: all are; otherwise n entries), or -1 when none is. What
 * each kind picks:
 *  - ROUND_ROBIN: the next usable one after the last pick, so that the
 *    usable ones take turns whichever are not.
 *  - RANDOM: one at random, with probability weight / (sum of the
 *    usable's weights).
 *  - WEIGHTED: nginx's smooth weighted round-robin (ngx_http_upstream_
 *    round_robin.c): each usable server's current weight grows by its
 *    weight, the largest is picked (the first on a tie) and loses the
 *    usable's total; weights 5, 1, 1 give a a b a c a a, then again.
 *  - LEAST_IN_FLIGHT: the smallest in_flight[i] / weight (in_flight NULL:
 *    all 0; otherwise n entries), ties going round-robin, so that equal
 *    loads take turns.
 *  - HASH: the owner of the first ring point at or after the hash of the
 *    len bytes at key (the same 64-bit hash the points have), walking
 *    the ring on past unusable servers' points; a server going unusable
 *    moves only the keys it owned. key NULL: round-robin.
 * A pick is O(n), a HASH pick O(log points) while the owner is usable. */
int fpmd_balancer_pick(struct fpmd_balancer *b, const bool *usable,
                       const unsigned *in_flight, const void *key,
                       size_t len);

/* The kind a config names: "round_robin", "random", "weighted",
 * "least_in_flight" or "hash", exactly. FPMD_OK with *kind set, or
 * FPMD_ERROR for any other name, *kind untouched. */
int fpmd_balance_parse(const char *name, enum fpmd_balance_kind *kind);
/* The name fpmd_balance_parse takes for kind; NULL for a value that is
 * no kind. */
const char *fpmd_balance_name(enum fpmd_balance_kind kind);

#endif
