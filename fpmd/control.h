/* SPDX-License-Identifier: BSD-2-Clause */
/* fpmd -s ACTION: signals the running master through its pid file, as
 * nginx -s does, so a deploy script need not know the signal numbers. */
#ifndef FPMD_CONTROL_H
#define FPMD_CONTROL_H

/* Sends the master named in pid_file the signal for action: "reload"
 * (USR2), "reopen" (USR1), "quit" (QUIT, graceful) or "stop" (TERM).
 * Returns 0, or prints why not to stderr and returns 64 for an unknown
 * action, 1 when there is no running master to signal. It does not wait
 * for the master to act. */
int fpmd_control_signal(const char *pid_file, const char *action);

#endif
