/* SPDX-License-Identifier: BSD-2-Clause */
/* Comparing two answers' bodies for shadow mode: as JSON when both parse
 * as JSON (key order ignored, numbers by value, listed fields left out),
 * else byte for byte. */
#ifndef FPMD_MIGRATE_COMPARE_H
#define FPMD_MIGRATE_COMPARE_H

#include <stddef.h>

/* Deepest JSON compared; deeper documents compare as bytes. */
#define FPMD_COMPARE_DEPTH 64

/* 1 when a and b say the same, 0 when not, with where the first
 * difference is ("$.user.name", "$.items[3]", "byte 17", "length")
 * written to where. json: try JSON first. ignore (nignore of them) are
 * dotted field paths from the top ("meta.generated_at"); arrays add no
 * segment, so "items.id" leaves out the id of every item. */
int fpmd_compare_bodies(const char *a, size_t alen, const char *b,
                        size_t blen, int json, char *const *ignore,
                        size_t nignore, char *where, size_t wlen);

#endif
