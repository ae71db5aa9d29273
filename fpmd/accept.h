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

/* What becomes of an accepted socket (its peer, its protocol, the
 * requests it carried already when a sibling handed it over, and whether
 * it is newly accepted): the worker makes it a codec's connection. */
typedef int (*fpmd_accept_take_fn)(int fd, const char *peer, int proto,
                                   unsigned served, int accepted);

/* Once per worker, after fpmd_process is filled in: one event per
 * listener and one for the handoff socket rx (-1: none). FPMD_ERROR when
 * out of memory. */
int fpmd_accept_setup(struct fpmd_listener *listeners, size_t nlisteners,
                      int rx, fpmd_accept_take_fn take);
void fpmd_accept_free(void);

/* Turns accepting on or off for the worker's state now (call after it
 * changes: requests started or ended, connections opened or closed,
 * finishing). */
void fpmd_accept_update(void);
/* Connections and their load are spread over the workers: nginx keeps
 * its upstream connections open for keepalive_requests, so a worker that
 * took a recycled sibling's whole share while the replacement started
 * would serve them all, on one core and with its own pools, until they
 * close. nginx also reuses the one it released last, so how many a
 * worker holds says little of its load: the load is in those in use
 * (fpmd_conn_hot_count, published each tick). A worker holding more than
 * a few connections beyond a sibling that takes them stops taking new
 * ones, and looks again shortly (accept.c). How many of its own it
 * should pass on (half the difference; 0 when it holds its share):
 * *conns by count, *hot of those in use. */
void fpmd_accept_excess(unsigned *conns, unsigned *hot);
/* A connection closed: accepting paused by a lack of descriptors resumes. */
void fpmd_accept_conn_closed(void);

/* The worker is finishing: accepting never resumes. */
void fpmd_accept_stop(void);
/* A graceful stop: takes every connection queued on the listeners, then
 * closes this worker's copies of them (the last close makes the address
 * refuse connections); accepting never resumes. */
void fpmd_accept_close_listeners(void);

#endif
