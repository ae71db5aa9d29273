/* SPDX-License-Identifier: BSD-2-Clause */
/* php-fpm's access.format: one line per request from %-codes (php-fpm's
 * fpm_log.c semantics). Pure formatting; the caller writes the line. */
#ifndef FPMD_ACCESS_LOG_H
#define FPMD_ACCESS_LOG_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "fpmd/common.h"

struct evbuffer;

struct fpmd_access_info {
    const char *pool, *method, *uri, *query, *script, *remote_addr;
    const char *remote_user;        /* NULL: "-" */
    int status;
    uint64_t content_length;
    uint64_t start_us, end_us, cpu_us, memory;
    pid_t pid, ppid;
    /* %{NAME}e: a request param; %{Name}o: a response header. NULL when
     * absent. */
    const char *(*param)(void *ctx, const char *name);
    const char *(*out_header)(void *ctx, const char *name);
    /* %x, %{trace_id}x: the trace id; %{traceparent}x: the request's
     * own traceparent; %{parent}x: the one it came with. NULL: "-". */
    const char *(*trace)(void *ctx, const char *what);
    void *ctx;
};

/* Appends one line, '\n' included. Request-derived text is escaped (\xHH
 * for control bytes, quotes and backslashes) so it cannot forge a line.
 * FPMD_OK or FPMD_ERROR (out of memory). */
int fpmd_access_log_format(struct evbuffer *out, const char *fmt,
                           const struct fpmd_access_info *ai);

/* Checks a format at load time: FPMD_OK, or FPMD_ERROR with err naming the
 * unknown code and its offset. */
int fpmd_access_log_validate(const char *fmt, char *err, size_t errlen);

/* php-fpm's default access.format. */
extern const char fpmd_access_log_default_format[];

#endif
