/* SPDX-License-Identifier: BSD-2-Clause */
/* Static files for `static:` routes (a prefix ending in a wildcard): the
 * wildcard's part of the path under the route's root, sent with
 * sendfile(2). Dot segments, encoded slashes or backslashes and NUL are
 * refused before anything is opened; the file is opened beneath the root
 * by the kernel (static_path.c), crossing no symlink unless
 * follow_symlinks; files with a denied extension (.php by default) are
 * never sent, so source code is never served as text (php-fpm's
 * security.limit_extensions lesson). */
#include "config.h"

#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fpmd/fpmd.h"
#include "handlers/static_path.h"

static const struct {
    const char *ext;
    const char *type;
} mime_types[] = {
    {"html", "text/html; charset=utf-8"}, {"htm", "text/html; charset=utf-8"},
    {"css", "text/css; charset=utf-8"}, {"js", "text/javascript; charset=utf-8"},
    {"mjs", "text/javascript; charset=utf-8"},
    {"json", "application/json"}, {"map", "application/json"},
    {"txt", "text/plain; charset=utf-8"}, {"csv", "text/csv; charset=utf-8"},
    {"xml", "application/xml"}, {"svg", "image/svg+xml"},
    {"png", "image/png"}, {"jpg", "image/jpeg"}, {"jpeg", "image/jpeg"},
    {"gif", "image/gif"}, {"webp", "image/webp"}, {"avif", "image/avif"},
    {"ico", "image/x-icon"}, {"bmp", "image/bmp"},
    {"woff", "font/woff"}, {"woff2", "font/woff2"}, {"ttf", "font/ttf"},
    {"otf", "font/otf"}, {"pdf", "application/pdf"},
    {"zip", "application/zip"}, {"gz", "application/gzip"},
    {"wasm", "application/wasm"}, {"mp4", "video/mp4"},
    {"webm", "video/webm"}, {"mp3", "audio/mpeg"}, {"ogg", "audio/ogg"},
    {"wav", "audio/wav"},
};

static const char *
mime_type(const char *name)
{
    const char *dot = strrchr(name, '.');

    if (dot != NULL && strchr(dot, '/') == NULL) {
        for (size_t i = 0; i < FPMD_ARRAY_LEN(mime_types); i++) {
            if (strcasecmp(dot + 1, mime_types[i].ext) == 0)
                return mime_types[i].type;
        }
    }
    return "application/octet-stream";
}

static void
http_date(time_t t, char *buf, size_t len)
{
    struct tm tm;

    gmtime_r(&t, &tm);
    strftime(buf, len, "%a, %d %b %Y %H:%M:%S GMT", &tm);
}

static int
parse_http_date(const char *s, time_t *out)
{
    struct tm tm;
    const char *end;

    memset(&tm, 0, sizeof(tm));
    end = strptime(s, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    if (end == NULL || *end != '\0')
        return FPMD_ERROR;
    *out = timegm(&tm);
    return FPMD_OK;
}

/* If-None-Match: "*" or a list containing etag (weak comparison). */
static int
etag_listed(const char *list, const char *etag)
{
    size_t elen = strlen(etag);

    for (const char *p = list; *p != '\0';) {
        while (*p == ' ' || *p == ',')
            p++;
        if (*p == '*')
            return 1;
        if (strncmp(p, "W/", 2) == 0)
            p += 2;
        if (strncmp(p, etag, elen) == 0)
            return 1;
        while (*p != '\0' && *p != ',')
            p++;
    }
    return 0;
}

static int
not_modified(struct fpmd_req *req, const char *etag, time_t mtime)
{
    const char *inm = fpmd_req_header(req, "If-None-Match");
    const char *ims = fpmd_req_header(req, "If-Modified-Since");
    time_t since;

    /* RFC 9110 §13.1.3: If-None-Match wins when both are present. */
    if (inm != NULL)
        return etag_listed(inm, etag);
    return ims != NULL && parse_http_date(ims, &since) == FPMD_OK
        && mtime <= since;
}

static int
send_file(struct fpmd_req *req, const char *name, int fd,
          const struct stat *sb)
{
    char etag[64], lastmod[64], crange[96];
    const char *range = fpmd_req_header(req, "Range");
    const char *if_range = fpmd_req_header(req, "If-Range");
    off_t first = 0, len = sb->st_size;
    int rc;

    snprintf(etag, sizeof(etag), "\"%jx-%jx\"", (intmax_t) sb->st_mtime,
             (intmax_t) sb->st_size);
    http_date(sb->st_mtime, lastmod, sizeof(lastmod));
    if (fpmd_resp_header(req, "ETag", etag) != FPMD_OK
        || fpmd_resp_header(req, "Last-Modified", lastmod) != FPMD_OK
        || fpmd_resp_header(req, "Accept-Ranges", "bytes") != FPMD_OK)
        return FPMD_ERROR;
    if (not_modified(req, etag, sb->st_mtime)) {
        fpmd_resp_status(req, 304);
        return fpmd_resp_write(req, "", 0);
    }
    /* If-Range that no longer matches: the whole file instead. */
    if (range != NULL && if_range != NULL && strcmp(if_range, etag) != 0
        && strcmp(if_range, lastmod) != 0)
        range = NULL;
    if (range != NULL) {
        switch (fpmd_static_range(range, sb->st_size, &first, &len)) {
        case 206:
            snprintf(crange, sizeof(crange), "bytes %jd-%jd/%jd",
                     (intmax_t) first, (intmax_t) (first + len - 1),
                     (intmax_t) sb->st_size);
            fpmd_resp_header(req, "Content-Range", crange);
            fpmd_resp_status(req, 206);
            break;
        case 416:
            snprintf(crange, sizeof(crange), "bytes */%jd",
                     (intmax_t) sb->st_size);
            fpmd_resp_header(req, "Content-Range", crange);
            return fpmd_reply_error(req, 416, NULL);
        default:            /* not a single byte range: the whole file */
            break;
        }
    }
    if (fpmd_resp_header(req, "Content-Type", mime_type(name)) != FPMD_OK)
        return FPMD_ERROR;
    rc = fpmd_resp_sendfile(req, fd, first, len);
    return rc;
}

static void
close_fd(void *arg)
{
    close((int) (intptr_t) arg);
}

FPMD_HANDLER(static)
{
    struct fpmd_static_conf st;
    const char *rel = fpmd_req_route_param(req, "*");
    char name[PATH_MAX];
    struct stat sb;
    int fd, status;

    if (fpmd_req_static_conf(req, &st) != FPMD_OK || rel == NULL)
        return fpmd_reply_error(req, 404, NULL);
    status = fpmd_static_open(&st, fpmd_req_uri(req), rel, &fd, &sb, name,
                              sizeof(name));
    if (status == 301) {
        const char *uri = fpmd_req_uri(req);
        const char *q = strchr(uri, '?');
        char *loc = fpmd_alloc(req, strlen(uri) + 2);

        if (loc == NULL)
            return FPMD_ERROR;
        /* the same target with a slash before its query */
        snprintf(loc, strlen(uri) + 2, "%.*s/%s",
                 (int) (q ? (size_t) (q - uri) : strlen(uri)), uri,
                 q ? q : "");
        return fpmd_redirect(req, 301, loc);
    }
    if (status != 200)
        return fpmd_reply_error(req, status, NULL);
    if (fpmd_defer(req, close_fd, (void *) (intptr_t) fd) != FPMD_OK) {
        close(fd);
        return FPMD_ERROR;
    }
    return send_file(req, name, fd, &sb);
}
