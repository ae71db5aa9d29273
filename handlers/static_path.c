/* SPDX-License-Identifier: BSD-2-Clause */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "handlers/static_path.h"

/* %2F, %5C (encoded separators) and %00 in the path part of the target:
 * a web server may decode them differently than the file system splits. */
static int
encoded_separator(const char *uri)
{
    for (const char *p = uri; *p != '\0' && *p != '?'; p++) {
        if (*p == '\\')
            return 1;
        if (*p == '%' && p[1] != '\0'
            && ((p[1] == '2' && (p[2] == 'f' || p[2] == 'F'))
                || (p[1] == '5' && (p[2] == 'c' || p[2] == 'C'))
                || (p[1] == '0' && p[2] == '0')))
            return 1;
    }
    return 0;
}

/* rel must not climb: no "." or ".." segment, no backslash. */
static int
rel_safe(const char *rel)
{
    const char *p = rel;

    if (strchr(rel, '\\') != NULL || rel[0] == '/')
        return 0;
    while (*p != '\0') {
        const char *end = strchr(p, '/');
        size_t len = end ? (size_t) (end - p) : strlen(p);

        if ((len == 1 && p[0] == '.') || (len == 2 && p[0] == '.'
                                          && p[1] == '.'))
            return 0;
        if (len == 0 && end != NULL)
            return 0;
        p += len + (end != NULL);
    }
    return 1;
}

static int
denied(const struct fpmd_static_conf *st, const char *path)
{
    const char *base = strrchr(path, '/');
    size_t blen;

    base = base ? base + 1 : path;
    blen = strlen(base);
    for (size_t i = 0; i < st->ndeny_ext; i++) {
        size_t elen = strlen(st->deny_ext[i]);

        if (blen >= elen
            && strcasecmp(base + blen - elen, st->deny_ext[i]) == 0)
            return 1;
    }
    return 0;
}

static int
within(const char *root, const char *path)
{
    size_t rlen = strlen(root);

    if (rlen == 1 && root[0] == '/')
        return 1;
    return strncmp(path, root, rlen) == 0
        && (path[rlen] == '\0' || path[rlen] == '/');
}

int
fpmd_static_resolve(const struct fpmd_static_conf *st, const char *raw_uri,
                    const char *rel, char *full, size_t fulllen, char *real,
                    size_t reallen)
{
    size_t rlen = strlen(rel);
    int dir_request = rlen == 0 || rel[rlen - 1] == '/';
    struct stat sb;
    char buf[PATH_MAX];
    int n;

    if (encoded_separator(raw_uri) || !rel_safe(rel))
        return 404;
    if (dir_request && st->index == NULL)
        return 404;
    n = snprintf(full, fulllen, "%s/%s%s", st->root, rel,
                 dir_request ? st->index : "");
    if (n < 0 || (size_t) n >= fulllen)
        return 404;
    if (denied(st, full))
        return 403;
    if (realpath(full, buf) == NULL)
        return errno == EACCES ? 403 : 404;
    if (!st->follow_symlinks && !within(st->root, buf))
        return 403;
    if (denied(st, buf))
        return 403;
    if (stat(buf, &sb) != 0)
        return 404;
    if (S_ISDIR(sb.st_mode))
        return dir_request ? 404 : 301;
    if (!S_ISREG(sb.st_mode))
        return 404;
    if ((size_t) snprintf(real, reallen, "%s", buf) >= reallen)
        return 404;
    return 200;
}

static int
parse_off(const char **p, off_t *out)
{
    uintmax_t v = 0;

    if (!isdigit((unsigned char) **p))
        return -1;
    while (isdigit((unsigned char) **p)) {
        if (v > (uintmax_t) (INT64_MAX - 9) / 10)
            return -1;
        v = v * 10 + (uintmax_t) (**p - '0');
        (*p)++;
    }
    *out = (off_t) v;
    return 0;
}

int
fpmd_static_range(const char *range, off_t size, off_t *first, off_t *len)
{
    const char *p = range;
    off_t a, b;

    if (strncasecmp(p, "bytes=", 6) != 0)
        return 0;
    p += 6;
    while (*p == ' ')
        p++;
    if (*p == '-') {                /* suffix: the last b bytes */
        p++;
        if (parse_off(&p, &b) != 0 || *p != '\0')
            return 0;
        if (b == 0 || size == 0)
            return 416;
        *first = b >= size ? 0 : size - b;
        *len = size - *first;
        return 206;
    }
    if (parse_off(&p, &a) != 0 || *p != '-')
        return 0;
    p++;
    if (*p == '\0') {
        b = size - 1;
    } else if (parse_off(&p, &b) != 0 || *p != '\0' || b < a) {
        return 0;
    }
    if (a >= size)
        return 416;
    if (b >= size)
        b = size - 1;
    *first = a;
    *len = b - a + 1;
    return 206;
}
