/* SPDX-License-Identifier: BSD-2-Clause */
/* FastCGI server side of a worker: accepted connections become requests.
 * Shares its connection plumbing with the HTTP side (conn.h). */
#ifndef FPMD_FCGI_CONN_H
#define FPMD_FCGI_CONN_H

#include <stddef.h>

#include "fpmd/conf.h"

/* Once per worker, after its event base exists: timeouts from conf. */
void fpmd_fcgi_conn_setup(const struct fpmd_conf *conf);

/* Takes ownership of an accepted, non-blocking socket. FPMD_ERROR (and the
 * caller closes fd) when memory is out. */
int fpmd_fcgi_conn_new(int fd, const char *peer);

/* Connection objects on this process's free list (0 in debug-alloc
 * builds). */
size_t fpmd_fcgi_conn_cached(void);

#endif
