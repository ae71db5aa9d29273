/* SPDX-License-Identifier: BSD-2-Clause */
/* The one escaping rule of fpmd's logs (error, access, slow): whatever a
 * request carried is written so that no byte of it can end a line, start
 * another or reach a terminal as a control sequence. nginx's access log
 * rule (ngx_http_log_escape): such bytes become \xHH. */
#ifndef FPMD_ESCAPE_H
#define FPMD_ESCAPE_H

#include <stdbool.h>
#include <stddef.h>

/* Also escape '"', for text written between double quotes (the access
 * log's "%m %r", the slow log's request = "..."). */
#define FPMD_ESCAPE_QUOTE 1u

/* true when c is written as \xHH: a byte below 0x20, 0x7f and above (so
 * no UTF-8 encoded C1 control either), '\\' (so a literal "\x0A" in the
 * input cannot pass for an escaped newline), and '"' with
 * FPMD_ESCAPE_QUOTE. */
static inline bool
fpmd_escape_byte(unsigned char c, unsigned flags)
{
    return c < 0x20 || c >= 0x7f || c == '\\'
        || (c == '"' && (flags & FPMD_ESCAPE_QUOTE));
}

/* Writes src[0..len) escaped into dst, NUL-terminated, within cap bytes
 * (cap >= 1): what does not fit is left out, never half an escape.
 * Returns the bytes written, without the NUL. 4 * len + 1 is always
 * enough. */
size_t fpmd_escape(char *dst, size_t cap, const char *src, size_t len,
                   unsigned flags);

#endif
