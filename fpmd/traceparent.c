/* SPDX-License-Identifier: BSD-2-Clause */
/* traceparent parsing and formatting (W3C Trace Context §3.2). A header
 * that does not parse is not an error: the caller starts a new trace, as
 * §3.2.2.5 asks ("the vendor MUST create a new traceparent"). */
#include "config.h"

#include <string.h>

#include "fpmd/traceparent.h"

static int
hex_digit(char c)
{
    /* §3.2.2: lowercase only; "00-ABC..." is not a traceparent */
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* n bytes from 2n hex digits at s; false at a non-digit. */
static bool
unhex(const char *s, uint8_t *out, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int hi = hex_digit(s[2 * i]), lo = hex_digit(s[2 * i + 1]);

        if (hi < 0 || lo < 0)
            return false;
        out[i] = (uint8_t) (hi << 4 | lo);
    }
    return true;
}

static bool
all_zero(const uint8_t *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (b[i] != 0)
            return false;
    }
    return true;
}

bool
fpmd_traceparent_parse(const char *s, size_t len,
                       struct fpmd_traceparent *out)
{
    struct fpmd_traceparent tp;
    uint8_t version;

    if (len < FPMD_TRACEPARENT_LEN || !unhex(s, &version, 1)
        || version == 0xff || s[2] != '-' || s[35] != '-' || s[52] != '-')
        return false;
    if (len > FPMD_TRACEPARENT_LEN
        && (version == 0 || s[FPMD_TRACEPARENT_LEN] != '-'))
        return false;
    if (!unhex(s + 3, tp.trace_id, sizeof(tp.trace_id))
        || !unhex(s + 36, tp.parent_id, sizeof(tp.parent_id))
        || !unhex(s + 53, &tp.flags, 1)
        || all_zero(tp.trace_id, sizeof(tp.trace_id))
        || all_zero(tp.parent_id, sizeof(tp.parent_id)))
        return false;
    *out = tp;
    return true;
}

void
fpmd_traceparent_hex(const uint8_t *bytes, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";

    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[bytes[i] >> 4];
        out[2 * i + 1] = digits[bytes[i] & 15];
    }
    out[2 * n] = '\0';
}

void
fpmd_traceparent_format(const struct fpmd_traceparent *tp, char *out)
{
    memcpy(out, "00-", 3);
    fpmd_traceparent_hex(tp->trace_id, sizeof(tp->trace_id), out + 3);
    out[35] = '-';
    fpmd_traceparent_hex(tp->parent_id, sizeof(tp->parent_id), out + 36);
    out[52] = '-';
    fpmd_traceparent_hex(&tp->flags, 1, out + 53);
}
