/* SPDX-License-Identifier: BSD-2-Clause */
/* breaker.c's lock from outside, for its unit test only: a test child
 * takes it and dies holding it, as a worker killed in the middle of a
 * call would. Not part of the breaker's API. */
#ifndef FPMD_BREAKER_IMPL_H
#define FPMD_BREAKER_IMPL_H

struct fpmd_breaker;

/* Locks b as every call on it does; there is no unlock, the caller is to
 * die. FPMD_OK, or FPMD_ERROR. */
int fpmd_breaker_lock(struct fpmd_breaker *b);

#endif
