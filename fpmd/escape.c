/* SPDX-License-Identifier: BSD-2-Clause */
/* Log escaping (escape.h): one rule for the error, access and slow logs. */
#include "config.h"

#include "fpmd/escape.h"

size_t
fpmd_escape(char *dst, size_t cap, const char *src, size_t len,
            unsigned flags)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = 0;

    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char) src[i];

        if (!fpmd_escape_byte(c, flags)) {
            if (n + 1 >= cap)
                break;
            dst[n++] = (char) c;
            continue;
        }
        if (n + 4 >= cap)
            break;
        dst[n++] = '\\';
        dst[n++] = 'x';
        dst[n++] = hex[c >> 4];
        dst[n++] = hex[c & 0xf];
    }
    dst[n] = '\0';
    return n;
}
