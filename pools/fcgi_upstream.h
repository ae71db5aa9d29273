/* SPDX-License-Identifier: BSD-2-Clause */
/* FastCGI upstream pools (a legacy php-fpm behind fpmd): one request at a
 * time per connection, FCGI_KEEP_CONN, each connection reused only after
 * a clean END_REQUEST that came once exactly CONTENT_LENGTH bytes of body
 * had gone (php-fpm closes a kept connection on STDIN it did not read).
 * The request body and the answer stream through in bounded pieces both
 * ways: neither ever sits whole in memory. */
#ifndef FPMD_POOLS_FCGI_UPSTREAM_H
#define FPMD_POOLS_FCGI_UPSTREAM_H

#include <stddef.h>
#include <sys/types.h>

#include "fpmd/fpmd.h"

/* Starts req on pool: BEGIN_REQUEST, then every CGI param exactly as
 * req received it, but those named in extra (nextra name, value pairs,
 * flattened), which go with extra's values instead. With keep_stderr the
 * answer's STDERR is read with its STDOUT, in order
 * (fpmd_fcgi_upstream_read); without, it is only logged. Either way the
 * pool's log_stderr decides whether fpmd logs it too; kept or not, it
 * counts in the window read ahead of the handler. NULL when memory is
 * out. Never suspends. */
struct fpmd_call *fpmd_fcgi_upstream_start(struct fpmd_req *req,
                                           const char *pool,
                                           const char *const *extra,
                                           size_t nextra, bool keep_stderr);
/* Sends len bytes of request body (len 0: its end); nothing reaches the
 * backend before the first call, which writes the params with it.
 * Suspends while the connection is not lent yet or its output is over the
 * high-water mark. FPMD_DONE when the backend takes no more of it: it
 * answered already without reading it all, or the write failed (it
 * closed, having answered or not): send no more, read the answer, whose
 * END_REQUEST decides. FPMD_ERROR once the call failed. */
int fpmd_fcgi_upstream_stdin(struct fpmd_call *call, const void *data,
                             size_t len);
/* Copies up to len bytes of the answer into buf, in the order the backend
 * sent them: STDOUT, or STDERR when the call keeps it and *is_stderr
 * comes back true. Suspends until there are some. 0 at STDOUT's end (the
 * call then says whether it ended well); -1 when the call failed first. */
ssize_t fpmd_fcgi_upstream_read(struct fpmd_call *call, void *buf,
                                size_t len, bool *is_stderr);

/* A WARNING about req in the shape of php-fpm's stderr lines: "METHOD
 * URI: who (route R, request id I): message", "-" for a route or an id it
 * does not have. Operators follow one request across fpmd's log and
 * php-fpm's by them. */
void fpmd_fcgi_upstream_log(struct fpmd_req *req, const char *who,
                            const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
