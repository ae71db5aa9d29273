/* SPDX-License-Identifier: BSD-2-Clause */
/* The HTTP/1.1 side of a worker (standalone mode, no proxy in front):
 * accepted connections become requests for the same handlers. Shares its
 * connection plumbing with the FastCGI side (conn.h). */
#ifndef FPMD_HTTP_CONN_H
#define FPMD_HTTP_CONN_H

#include <stddef.h>

/* Once per process. */
void fpmd_http_conn_setup(void);

/* Takes ownership of an accepted, non-blocking socket that already carried
 * served requests (a sibling's, handed over); FPMD_ERROR (the caller
 * closes fd) when memory is out. */
int fpmd_http_conn_new(int fd, const char *peer, unsigned served);

/* Connection objects on this process's free list (0 in debug-alloc
 * builds). */
size_t fpmd_http_conn_cached(void);
/* Frees spare connection objects beyond keep; returns how many. */
size_t fpmd_http_conn_trim(size_t keep);

#endif
