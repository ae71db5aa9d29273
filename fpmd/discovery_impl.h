/* SPDX-License-Identifier: BSD-2-Clause */
/* discovery.c's write from outside, for its unit test only: a list left
 * as a writer killed in the middle of a write leaves it. Not part of the
 * lists' API. */
#ifndef FPMD_DISCOVERY_IMPL_H
#define FPMD_DISCOVERY_IMPL_H

#include <stddef.h>

struct fpmd_discovery;

/* Upstream i's list marked as being written, and nothing more: no
 * writer will end the write. */
void fpmd_discovery_begin_write(struct fpmd_discovery *d, size_t i);

#endif
