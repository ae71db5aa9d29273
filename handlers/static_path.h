/* SPDX-License-Identifier: BSD-2-Clause */
/* The file system part of the static file handler, unit-tested on its
 * own. */
#ifndef FPMD_STATIC_PATH_H
#define FPMD_STATIC_PATH_H

#include <stdbool.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "fpmd/fpmd.h"

/* Opens what a static route serves for rel (the route wildcard's part,
 * decoded and normalized) beneath st->root. raw_uri is the target as the
 * client sent it, checked for encoded separators. With follow_symlinks
 * off no symlink is crossed, in any component; the kernel resolves the
 * whole path from a descriptor of the root, so nothing outside it is
 * opened, whatever is renamed or swapped meanwhile. Returns 200 with *fd
 * open (the caller closes it), *sb its fstat and name the path the file
 * has (for its type); else *fd is -1 and the status is 301 (a directory
 * named without its trailing slash), 403 (a symlink not followed, a way
 * out of the root, a denied extension, no permission) or 404. */
int fpmd_static_open(const struct fpmd_static_conf *st, const char *raw_uri,
                     const char *rel, int *fd, struct stat *sb, char *name,
                     size_t namelen);

/* The open fpmd_static_open falls back to without openat2: path (no "."
 * or "..", no empty component) opened one component at a time from
 * rootfd, each with O_NOFOLLOW unless follow. Returns the descriptor, or
 * -1 with errno (ELOOP for a symlink, EXDEV for a dot segment). Exposed
 * for its unit test. */
int fpmd_static_walk(int rootfd, const char *path, bool follow);

/* One "bytes=" range of a size-byte file: 206 with *first and *len set, 416
 * when unsatisfiable, 0 when the header is not a single byte range (the
 * whole file is sent then, as RFC 9110 §14.2 allows). */
int fpmd_static_range(const char *range, off_t size, off_t *first,
                      off_t *len);

#endif
