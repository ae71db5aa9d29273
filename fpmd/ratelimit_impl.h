/* SPDX-License-Identifier: BSD-2-Clause */
/* ratelimit.c's locks from outside, for its unit test only: a test child
 * takes one and dies holding it, as a worker killed in the middle of a
 * take would. Not part of the rate limiter's API. */
#ifndef FPMD_RATELIMIT_IMPL_H
#define FPMD_RATELIMIT_IMPL_H

#include <stddef.h>

struct fpmd_ratelimit;

/* Locks the stripe that key hashes to, as a take of key does; there is no
 * unlock, the caller is to die. FPMD_OK, or FPMD_ERROR. */
int fpmd_ratelimit_lock_key(struct fpmd_ratelimit *rl, const void *key,
                            size_t len);

#endif
