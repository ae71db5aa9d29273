/* SPDX-License-Identifier: BSD-2-Clause */
/* Binary upgrade (README "Upgrading the binary"): on SIGHUP or fpmd -s
 * upgrade, the master starts the binary found at its own path again,
 * with the same arguments and its listening sockets inherited; the new
 * master adopts them for the addresses its config names, starts its
 * workers and says so on a pipe; only then does the old master stop,
 * gracefully, leaving the sockets (and the pid file) to the new one. A
 * new binary that fails to start leaves the old one serving. */
#ifndef FPMD_UPGRADE_H
#define FPMD_UPGRADE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "fpmd/listen.h"

/* At start: what a later upgrade runs, argv and the binary's own path
 * (read now: once the file is replaced, /proc/self/exe names the old
 * one, deleted). */
void fpmd_upgrade_init(char *const *argv);

/* The old master: forks and execs the binary with ls[0..n) passed
 * (their descriptors open across exec, named by address in the
 * environment), and the workers' handoff pair (handoff.h), so that the
 * old workers give their kept connections to the new ones as on a
 * reload. The child's pid, *ready_fd the pipe its verdict comes on (the
 * serving master's pid in decimal, which a -D start makes another than
 * the child's; EOF: it failed); -1 when it could not start (logged). */
pid_t fpmd_upgrade_spawn(const struct fpmd_listener *ls, size_t n,
                         const int handoff[2], int *ready_fd);

/* The new master, first thing: the listeners an old master passed (each
 * a listening socket, with the address it was configured with), *n of
 * them, and its handoff pair in handoff (-1s when none came); the
 * environment cleaned of them; NULL with *n 0 when this is no upgrade.
 * Those left unadopted are the caller's to close. */
struct fpmd_listener *fpmd_upgrade_inherited(size_t *n, int handoff[2]);

/* The new master, its workers accepting: tells the old one its pid
 * (nothing when this is no upgrade). */
void fpmd_upgrade_ready(void);

#endif
