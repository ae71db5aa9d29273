/* SPDX-License-Identifier: BSD-2-Clause */
/* The memory of a loaded config (struct fpmd_conf_arena, fpmd/conf.h):
 * every string and array the config points to is a piece of its arena,
 * taken here and never freed alone; fpmd_conf_arena_free() frees them all.
 * Not for use outside conf/. */
#ifndef FPMD_CONF_ARENA_H
#define FPMD_CONF_ARENA_H

#include <stddef.h>

#include "fpmd/conf.h"

/* n zeroed elements of size bytes, aligned for any type; NULL when out of
 * memory. */
void *fpmd_conf_alloc(struct fpmd_conf_arena *a, size_t n, size_t size);
/* Copies of s, and of at most n bytes of s; NULL when out of memory. */
char *fpmd_conf_strdup(struct fpmd_conf_arena *a, const char *s);
char *fpmd_conf_strndup(struct fpmd_conf_arena *a, const char *s, size_t n);
/* Frees every piece; the arena is empty again. */
void fpmd_conf_arena_free(struct fpmd_conf_arena *a);

#endif
