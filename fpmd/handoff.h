/* SPDX-License-Identifier: BSD-2-Clause */
/* Accepted connections passed between workers. A worker that is finishing
 * (a reload, max_requests, a spare the process manager stops) gives each
 * connection at rest (no request under way, nothing read and not parsed)
 * to a sibling instead of closing it: the socket travels with SCM_RIGHTS
 * over one SOCK_SEQPACKET pair the master made before the first fork, and
 * whatever the peer sends meanwhile waits in the socket for the sibling.
 * No connection a peer may be writing on is ever closed for a reload. */
#ifndef FPMD_HANDOFF_H
#define FPMD_HANDOFF_H

#include <stddef.h>

/* The pair: sv[0] is read by workers taking connections, sv[1] written by
 * workers giving them. Non-blocking, close-on-exec. */
int fpmd_handoff_pair(int sv[2]);

/* Sends fd with what the receiver needs to go on serving it. FPMD_AGAIN
 * when the queue is full for now, FPMD_ERROR when fd cannot travel. */
int fpmd_handoff_send(int sock, int fd, int proto, unsigned served,
                      const char *peer);

/* Takes one connection: *fd (non-blocking, close-on-exec), its protocol,
 * the requests it already carried and its peer. FPMD_AGAIN when none is
 * waiting; FPMD_ERROR for a message that carried no usable socket (it is
 * dropped). */
int fpmd_handoff_recv(int sock, int *fd, int *proto, unsigned *served,
                      char *peer, size_t peerlen);

#endif
