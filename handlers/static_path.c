/* SPDX-License-Identifier: BSD-2-Clause */
/* What a static route may open: the request's path beneath the route's
 * root, resolved by the kernel in one openat2(2) call (or a walk of
 * O_NOFOLLOW opens where it lacks one), so that no check of a name is
 * ever separated from the open it vouches for. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/openat2.h>

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

/* What every open of a served file asks for: never a controlling
 * terminal, never a wait on a FIFO. */
#define SERVE_FLAGS (O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC)

int
fpmd_static_walk(int rootfd, const char *path, bool follow)
{
    char comp[NAME_MAX + 1];
    const char *p = path;
    int dir = rootfd;

    if (follow)
        return openat(rootfd, path, SERVE_FLAGS);
    for (;;) {
        const char *slash = strchr(p, '/');
        size_t len = slash ? (size_t) (slash - p) : strlen(p);
        int next, err;

        if (len == 0 || len > NAME_MAX || (p[0] == '.' && (len == 1
                                             || (len == 2 && p[1] == '.')))) {
            err = len > NAME_MAX ? ENAMETOOLONG : EXDEV;
            next = -1;
        } else {
            memcpy(comp, p, len);
            comp[len] = '\0';
            /* The last component is the file, any other a directory; none
             * is crossed if it is a symlink, so swapping one in between
             * two requests (or two components) leads nowhere. */
            next = openat(dir, comp, slash == NULL
                          ? SERVE_FLAGS | O_NOFOLLOW
                          : O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            err = errno;
            if (next < 0 && err == ENOTDIR) {
                struct stat sb;

                /* O_DIRECTORY met a symlink: as openat2 says, ELOOP */
                if (fstatat(dir, comp, &sb, AT_SYMLINK_NOFOLLOW) == 0
                    && S_ISLNK(sb.st_mode))
                    err = ELOOP;
            }
        }
        if (dir != rootfd)
            close(dir);
        if (next < 0 || slash == NULL) {
            errno = err;
            return next;
        }
        dir = next;
        p = slash + 1;
    }
}

/* The kernel resolves path beneath rootfd (RESOLVE_BENEATH) crossing no
 * symlink (RESOLVE_NO_SYMLINKS) in one call: nothing a request names can
 * leave the root, whatever is renamed meanwhile. Without openat2 (before
 * Linux 5.6, or a seccomp filter that refuses it: ENOSYS, or EPERM in
 * older container runtimes) the component walk does the same. */
static int
open_beneath(int rootfd, const char *path, bool follow)
{
    static bool no_openat2;
    struct open_how how;
    int fd;

    if (follow || no_openat2)
        return fpmd_static_walk(rootfd, path, follow);
    memset(&how, 0, sizeof(how));
    how.flags = SERVE_FLAGS;
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS
        | RESOLVE_NO_MAGICLINKS;
    fd = (int) syscall(SYS_openat2, rootfd, path, &how, sizeof(how));
    if (fd >= 0 || (errno != ENOSYS && errno != EPERM))
        return fd;
    no_openat2 = true;
    return fpmd_static_walk(rootfd, path, follow);
}

static int
status_of(int err)
{
    switch (err) {
    case ELOOP:         /* a symlink, and follow_symlinks is off */
    case EXDEV:         /* out of the root */
    case EACCES:
    case EPERM:
        return 403;
    default:
        return 404;
    }
}

/* The name the kernel has for what fd opened: the file's own, not the
 * symlink's that led there, for the denied extensions and the type. */
static int
opened_name(int fd, char *name, size_t namelen)
{
    char link[64];
    ssize_t n;

    snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
    n = readlink(link, name, namelen);
    if (n < 0 || (size_t) n >= namelen)
        return FPMD_ERROR;
    name[n] = '\0';
    return FPMD_OK;
}

int
fpmd_static_open(const struct fpmd_static_conf *st, const char *raw_uri,
                 const char *rel, int *fd, struct stat *sb, char *name,
                 size_t namelen)
{
    size_t rlen = strlen(rel);
    int dir_request = rlen == 0 || rel[rlen - 1] == '/';
    char path[PATH_MAX];
    int rootfd, n, status = 200;

    *fd = -1;
    if (encoded_separator(raw_uri) || !rel_safe(rel))
        return 404;
    if (dir_request && st->index == NULL)
        return 404;
    n = snprintf(path, sizeof(path), "%s%s", rel,
                 dir_request ? st->index : "");
    if (n < 0 || (size_t) n >= sizeof(path))
        return 404;
    if (denied(st, path))
        return 403;
    rootfd = open(st->root, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (rootfd < 0)
        return status_of(errno);
    *fd = open_beneath(rootfd, path, st->follow_symlinks);
    if (*fd < 0)
        status = status_of(errno);
    close(rootfd);
    if (status == 200 && fstat(*fd, sb) != 0)
        status = 404;
    else if (status == 200 && S_ISDIR(sb->st_mode))
        status = dir_request ? 404 : 301;
    else if (status == 200 && !S_ISREG(sb->st_mode))
        status = 404;
    else if (status == 200 && (opened_name(*fd, name, namelen) != FPMD_OK
                               || denied(st, name)))
        status = 403;
    if (status != 200 && *fd >= 0) {
        close(*fd);
        *fd = -1;
    }
    return status;
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
