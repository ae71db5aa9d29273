/* SPDX-License-Identifier: BSD-2-Clause */
/* The raw TCP JSON-RPC side of a worker (listen: - jsonrpc:): each frame
 * becomes a POST of its text to rpc_path, routed, hooked, limited and
 * logged as any request, and its answer goes back framed. */
#ifndef FPMD_RPC_CONN_H
#define FPMD_RPC_CONN_H

/* Takes ownership of an accepted, non-blocking socket of a jsonrpc
 * listener (proto: its framing, enum fpmd_listen_proto), served answers
 * into it already (a sibling's, handed over); FPMD_ERROR (the caller
 * closes fd) when memory is out. */
int fpmd_rpc_conn_new(int fd, const char *peer, unsigned served, int proto);

#endif
