/* SPDX-License-Identifier: BSD-2-Clause */
/* How a worker takes connections: from its listeners and, during reloads
 * and recycling, from siblings handing theirs over (handoff.h). It takes
 * them while it could start one more request; a connection that has not
 * started one yet never counts toward that, so slow or silent peers cannot
 * stop a worker from accepting. They are bounded apart: past
 * limits.pending_connections, or when descriptors or limits.connections
 * run out, the connection that has waited longest without a request is
 * closed to make room. Accept errors pause accepting (never a busy loop)
 * and are logged as counts. */
#ifndef FPMD_ACCEPT_H
#define FPMD_ACCEPT_H

#include "fpmd/listen.h"

/* Once per worker, after its event base exists: one event per listener
 * and one for the handoff socket rx (-1: none); tx is where this worker
 * hands its own connections (-1: none). FPMD_ERROR when out of memory. */
int fpmd_accept_setup(struct fpmd_listener *listeners, size_t nlisteners,
                      int rx, int tx);
void fpmd_accept_free(void);

/* Turns accepting on or off for the worker's state now (call after it
 * changes: requests started or ended, connections opened or closed,
 * finishing). */
void fpmd_accept_update(void);
/* A connection closed: accepting paused by a lack of descriptors resumes. */
void fpmd_accept_conn_closed(void);

/* A graceful stop: takes every connection queued on the listeners, then
 * closes this worker's copies of them (the last close makes the address
 * refuse connections). Accepting never resumes. */
void fpmd_accept_close_listeners(void);

/* Sends a connection to a sibling (FPMD_OK, FPMD_AGAIN, FPMD_ERROR;
 * FPMD_ERROR also when this worker has nowhere to send it). */
int fpmd_accept_hand_off(int fd, int proto, unsigned served, const char *peer);

#endif
