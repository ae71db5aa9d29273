/* SPDX-License-Identifier: BSD-2-Clause */
/* W3C Trace Context's traceparent header (W3C Recommendation, "Trace
 * Context" §3.2): version-traceid-parentid-flags in lowercase hex. Pure
 * parsing and formatting; the request's trace lives in request_id.c. */
#ifndef FPMD_TRACEPARENT_H
#define FPMD_TRACEPARENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* "00-" 32 hex "-" 16 hex "-" 2 hex */
#define FPMD_TRACEPARENT_LEN 55

struct fpmd_traceparent {
    uint8_t trace_id[16];
    uint8_t parent_id[8];
    uint8_t flags;
};

/* Parses the len bytes at s into *out. Version 00 is exactly
 * FPMD_TRACEPARENT_LEN bytes; a later version (01..fe) may go on after a
 * '-' (§3.2.4: parse what version 00 defines, keep going); version ff, a
 * trace id or parent id of all zeros, uppercase hex or any other shape
 * is refused. true when it is valid (*out then filled). */
bool fpmd_traceparent_parse(const char *s, size_t len,
                            struct fpmd_traceparent *out);

/* Writes "00-<trace id>-<parent id>-<flags>" and a NUL: out has room for
 * FPMD_TRACEPARENT_LEN + 1 bytes. */
void fpmd_traceparent_format(const struct fpmd_traceparent *tp, char *out);

/* Writes n bytes as 2n lowercase hex digits and a NUL. */
void fpmd_traceparent_hex(const uint8_t *bytes, size_t n, char *out);

#endif
