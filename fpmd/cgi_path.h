/* SPDX-License-Identifier: BSD-2-Clause */
/* The script a request names and the PATH_INFO after it, from what the
 * web server sent (or, without one, from the URL path). Pure arithmetic
 * on lengths that are compared before any subtraction: php-fpm's
 * CVE-2019-11043 was a PATH_INFO offset computed from lengths that did
 * not hold, and a pointer that went before its buffer. */
#ifndef FPMD_CGI_PATH_H
#define FPMD_CGI_PATH_H

#include <stddef.h>

struct fpmd_cgi_vars {
    const char *script_name;        /* SCRIPT_NAME; NULL: absent */
    const char *path_info;          /* PATH_INFO; NULL: absent */
    const char *script_filename;    /* SCRIPT_FILENAME; NULL: absent */
    const char *document_root;      /* DOCUMENT_ROOT; NULL: absent */
    const char *path;               /* the URL path; never NULL */
};

/* Pieces of the inputs (nothing is copied): script[0..script_len) and,
 * when path_info is not NULL, path_info[0..path_info_len). */
struct fpmd_cgi_split {
    const char *script;
    size_t script_len;
    const char *path_info;
    size_t path_info_len;
};

/* The script is SCRIPT_NAME, less a PATH_INFO it ends with (servers that
 * put the whole path in SCRIPT_NAME); else SCRIPT_FILENAME under
 * DOCUMENT_ROOT; else the URL path. A script with a ".php/" inside keeps
 * what comes before the "/" and the rest becomes the PATH_INFO, unless the
 * server sent a PATH_INFO (even empty): what it says is kept. */
void fpmd_cgi_split(const struct fpmd_cgi_vars *in,
                    struct fpmd_cgi_split *out);

#endif
