/* SPDX-License-Identifier: BSD-2-Clause */
/* watch: true, for development: the master reloads (as on SIGUSR2) when
 * the config file or a handler module it names is written or replaced.
 * inotify watches each file's directory, so that a file an editor or a
 * linker replaces by a rename is seen as well as one written in place. */
#ifndef FPMD_WATCH_H
#define FPMD_WATCH_H

#include <stdbool.h>

#include "fpmd/conf.h"

/* An inotify descriptor watching conf's files (NULL paths aside), or -1
 * after logging why not. The caller polls it and closes it. */
int fpmd_watch_open(const struct fpmd_conf *conf);

/* Reads what fd has: true when one of the watched files changed (its
 * name is logged). */
bool fpmd_watch_changed(int fd);

/* Closes fd (-1: none) and forgets its files. */
void fpmd_watch_close(int fd);

#endif
