/* SPDX-License-Identifier: BSD-2-Clause */
/* Request-target normalization for the HTTP codec, so handlers and the
 * static file server see the same path behind nginx (which normalizes
 * before DOCUMENT_URI) and without it. */
#include "config.h"

#include <string.h>
#include <strings.h>

#include "fpmd/common.h"
#include "fpmd/uri.h"

int
fpmd_hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int
fpmd_form_char(const char *s, size_t n, size_t *i)
{
    int c = (unsigned char) s[*i], hi, lo;

    if (c == '+') {
        (*i)++;
        return ' ';
    }
    if (c == '%' && n - *i >= 3 && (hi = fpmd_hexval(s[*i + 1])) >= 0
        && (lo = fpmd_hexval(s[*i + 2])) >= 0) {
        *i += 3;
        return hi * 16 + lo;
    }
    (*i)++;
    return c;
}

int
fpmd_uri_normalize(const char *in, size_t len, char *out, size_t *outlen)
{
    const char *end = in + len, *q;
    size_t o = 0;

    q = memchr(in, '?', len);
    if (q != NULL)
        end = q;
    /* absolute-form (RFC 9112 §3.2.2): the path starts after authority */
    if ((size_t) (end - in) > 7 && (strncasecmp(in, "http://", 7) == 0
                                    || strncasecmp(in, "https://", 8) == 0)) {
        const char *p = in + (in[4] == ':' ? 7 : 8);

        while (p < end && *p != '/')
            p++;
        if (p == end) {
            out[0] = '/';
            *outlen = 1;
            out[1] = '\0';
            return FPMD_OK;
        }
        in = p;
    }
    if (in >= end || in[0] != '/')
        return FPMD_ERROR;
    for (const char *p = in; p < end;) {
        char c = *p;

        if (c == '%') {
            int hi, lo;

            if (end - p < 3 || (hi = fpmd_hexval(p[1])) < 0
                || (lo = fpmd_hexval(p[2])) < 0)
                return FPMD_ERROR;
            c = (char) (hi * 16 + lo);
            if (c == '\0')
                return FPMD_ERROR;
            p += 3;
        } else {
            p++;
        }
        if (c == '/' && o > 0 && out[o - 1] == '/')
            continue;
        out[o++] = c;
        /* a segment just ended: resolve it if it was "." or ".." */
        if (c == '/' || p == end) {
            size_t seg_end = c == '/' ? o - 1 : o;
            size_t seg_start = seg_end;

            while (seg_start > 0 && out[seg_start - 1] != '/')
                seg_start--;
            if (seg_end - seg_start == 1 && out[seg_start] == '.') {
                o = seg_start;
            } else if (seg_end - seg_start == 2 && out[seg_start] == '.'
                       && out[seg_start + 1] == '.') {
                if (seg_start <= 1)
                    return FPMD_ERROR;
                o = seg_start - 1;
                while (o > 0 && out[o - 1] != '/')
                    o--;
            }
        }
    }
    if (o == 0)
        out[o++] = '/';
    out[o] = '\0';
    *outlen = o;
    return FPMD_OK;
}
