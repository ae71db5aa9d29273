/* SPDX-License-Identifier: BSD-2-Clause */
/* table.c's locks from outside, for its unit test only: a test child
 * takes one and dies holding it, as a worker killed in the middle of a
 * call would. Not part of the table's API, and fpmd.h will never declare
 * it. */
#ifndef FPMD_TABLE_IMPL_H
#define FPMD_TABLE_IMPL_H

#include <stddef.h>

struct fpmd_table;

/* Lock the stripe that key hashes to, as every call on key does, or the
 * free list's lock, as every call that adds or removes a row does; there
 * is no unlock, the caller is to die. FPMD_OK, or FPMD_ERROR. */
int fpmd_table_lock_key(struct fpmd_table *t, const void *key, size_t klen);
int fpmd_table_lock_rows(struct fpmd_table *t);

#endif
