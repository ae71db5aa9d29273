/* SPDX-License-Identifier: BSD-2-Clause */
/* Script and PATH_INFO arithmetic (see cgi_path.h). Every "a - b" below
 * follows a check that b <= a. */
#include "config.h"

#include <string.h>

#include "fpmd/cgi_path.h"

/* Where a ".php" segment ends inside s[0..len): the offset of the '/'
 * after the first ".php/", or len when there is none. */
static size_t
php_script_end(const char *s, size_t len)
{
    for (size_t i = 0; i + 5 <= len; i++) {
        if (memcmp(s + i, ".php/", 5) == 0 && i > 0 && s[i - 1] != '/')
            return i + 4;
    }
    return len;
}

void
fpmd_cgi_split(const struct fpmd_cgi_vars *in, struct fpmd_cgi_split *out)
{
    const char *s = NULL;
    size_t slen = 0, end;

    if (in->script_name != NULL && in->script_name[0] != '\0') {
        s = in->script_name;
        slen = strlen(s);
        if (in->path_info != NULL) {
            size_t pilen = strlen(in->path_info);

            if (pilen > 0 && pilen < slen
                && memcmp(s + (slen - pilen), in->path_info, pilen) == 0)
                slen -= pilen;
        }
    } else if (in->script_filename != NULL && in->document_root != NULL
               && in->document_root[0] != '\0') {
        size_t rlen = strlen(in->document_root);
        size_t flen = strlen(in->script_filename);

        /* "/srv/www/" and "/srv/www" name the same root. */
        if (in->document_root[rlen - 1] == '/')
            rlen--;
        if (flen > rlen && in->script_filename[rlen] == '/'
            && memcmp(in->script_filename, in->document_root, rlen) == 0) {
            s = in->script_filename + rlen;
            slen = flen - rlen;
        }
    }
    if (s == NULL) {
        s = in->path;
        slen = strlen(s);
    }
    end = php_script_end(s, slen);
    out->script = s;
    out->script_len = end;
    if (in->path_info != NULL) {
        out->path_info = in->path_info;
        out->path_info_len = strlen(in->path_info);
    } else if (end < slen) {
        out->path_info = s + end;
        out->path_info_len = slen - end;
    } else {
        out->path_info = NULL;
        out->path_info_len = 0;
    }
}
