/* SPDX-License-Identifier: BSD-2-Clause */
/* SipHash-1-3 (Aumasson and Bernstein; the variant Rust and CPython hash
 * their tables with): a keyed hash, so that keys chosen by a client
 * cannot all land in one chain of a shared table or rate limiter. */
#ifndef FPMD_SIPHASH_H
#define FPMD_SIPHASH_H

#include <stddef.h>
#include <stdint.h>

uint64_t fpmd_siphash13(const uint64_t k[2], const void *in, size_t len);

#endif
