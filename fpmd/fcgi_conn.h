/* SPDX-License-Identifier: BSD-2-Clause */
/* FastCGI server side of a worker: accepted connections become requests.
 * Shares its connection plumbing with the HTTP side (conn.h). */
#ifndef FPMD_FCGI_CONN_H
#define FPMD_FCGI_CONN_H

#include <stddef.h>

/* Takes ownership of an accepted, non-blocking socket; served is non-zero
 * for a sibling's connection that already carried requests. FPMD_ERROR
 * (and the caller closes fd) when memory is out. */
int fpmd_fcgi_conn_new(int fd, const char *peer, unsigned served);

/* Connection objects on this process's free list (0 in debug-alloc
 * builds). */
size_t fpmd_fcgi_conn_cached(void);
/* Frees spare connection objects beyond keep; returns how many. */
size_t fpmd_fcgi_conn_trim(size_t keep);

#endif
