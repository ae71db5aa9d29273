/* SPDX-License-Identifier: BSD-2-Clause */
/* The pure part of the static file handler, unit-tested on its own. */
#ifndef FPMD_STATIC_PATH_H
#define FPMD_STATIC_PATH_H

#include <sys/types.h>

#include "fpmd/fpmd.h"

/* Maps rel (the route wildcard's part, decoded and normalized) under
 * st->root. raw_uri is the target as the client sent it, checked for
 * encoded separators. Returns 200 with the file's resolved path in real,
 * 301 when rel names a directory without its trailing slash, 403 (outside
 * the root through a symlink, denied extension, unreadable) or 404. full
 * receives root + rel. */
int fpmd_static_resolve(const struct fpmd_static_conf *st, const char *raw_uri,
                        const char *rel, char *full, size_t fulllen,
                        char *real, size_t reallen);

/* One "bytes=" range of a size-byte file: 206 with *first and *len set, 416
 * when unsatisfiable, 0 when the header is not a single byte range (the
 * whole file is sent then, as RFC 9110 §14.2 allows). */
int fpmd_static_range(const char *range, off_t size, off_t *first,
                      off_t *len);

#endif
