/* SPDX-License-Identifier: BSD-2-Clause */
/* The CGI response head a legacy FastCGI backend (php-fpm) sends at the
 * start of STDOUT: "Name: value" lines ending in CRLF or LF, then an empty
 * line (RFC 3875 §6.3). The backend is a trust boundary (Apache's
 * CVE-2014-3583): before any of it is re-emitted, every line is checked,
 * and a head with a bare CR, a NUL, a folded line, a name that is not a
 * token, a bad Status or more than max bytes is refused whole. Fed
 * incrementally, in whatever pieces STDOUT records bring. The head's
 * bytes are kept as they came, for a FastCGI client that must get them
 * unchanged. */
#ifndef FPMD_MIGRATE_CGI_HEAD_H
#define FPMD_MIGRATE_CGI_HEAD_H

#include <stddef.h>

#include "fpmd/common.h"

struct fpmd_cgi_header {
    const char *name;           /* NUL-terminated, inside the head's buffer */
    const char *value;          /* leading and trailing blanks removed */
};

struct fpmd_cgi_head {
    /* once fpmd_cgi_head_feed returned FPMD_OK */
    int status;                 /* Status:, else 302 with a Location, else 200 */
    struct fpmd_cgi_header *headers;    /* in order, repeats kept; no Status */
    size_t nheaders;
    const char *raw;            /* the head as sent, its empty line
                                 * included: raw_len bytes */
    size_t raw_len;
    /* after FPMD_ERROR */
    const char *err;

    char *buf;                  /* the head's bytes so far, unchanged */
    char *text;                 /* a copy, cut into the headers' strings */
    size_t len;
    size_t max;
    size_t scan;                /* where the line being looked at starts */
};

void fpmd_cgi_head_init(struct fpmd_cgi_head *h, size_t max);
void fpmd_cgi_head_free(struct fpmd_cgi_head *h);

/* Feeds STDOUT bytes. FPMD_AGAIN: all of them were head, more is needed.
 * FPMD_OK: the head is complete and parsed; the first *used bytes of data
 * were its end, the rest is body. FPMD_ERROR: refused (h->err says why);
 * nothing of it may be sent on. */
int fpmd_cgi_head_feed(struct fpmd_cgi_head *h, const void *data, size_t len,
                       size_t *used);

#endif
