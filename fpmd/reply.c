/* SPDX-License-Identifier: BSD-2-Clause */
/* Whole-response helpers built on the core writer (fpmd_reply,
 * fpmd_resp_write): JSON bodies, JSON errors, redirects and files. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "fpmd/log.h"
#include "fpmd/req.h"

int
fpmd_reply_json(struct fpmd_req *req, int status, struct json_object *obj)
{
    size_t len;
    const char *text = json_object_to_json_string_length(
        obj, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);

    if (text == NULL)
        return FPMD_ERROR;
    return fpmd_reply(req, status, "application/json", text, len);
}

int
fpmd_reply_error_json(struct fpmd_req *req, int status, const char *msg)
{
    struct json_object *root = json_object_new_object();
    struct json_object *err = json_object_new_object();
    int rc = FPMD_ERROR;

    if (root != NULL && err != NULL
        && json_object_object_add(root, "error", err) == 0) {
        err = NULL;     /* root holds it now */
        json_object_object_add(json_object_object_get(root, "error"),
                               "status", json_object_new_int(status));
        json_object_object_add(json_object_object_get(root, "error"),
                               "message", json_object_new_string(
                                   msg ? msg : fpmd_status_reason(status)));
        rc = fpmd_reply_json(req, status, root);
    }
    json_object_put(err);
    json_object_put(root);
    return rc;
}

int
fpmd_redirect(struct fpmd_req *req, int status, const char *location)
{
    char body[256];
    int n;

    if (status != 301 && status != 302 && status != 303 && status != 307
        && status != 308)
        return FPMD_ERROR;
    if (fpmd_resp_status(req, status) != FPMD_OK
        || fpmd_resp_header(req, "Location", location) != FPMD_OK)
        return FPMD_ERROR;
    n = snprintf(body, sizeof(body), "%d %s\n", status,
                 fpmd_status_reason(status));
    return fpmd_reply(req, status, "text/plain; charset=utf-8", body,
                      (size_t) n);
}

/* Without a zero-copy path the file goes through the writer in slices,
 * each one suspending while the peer is behind. */
static int
copy_file(struct fpmd_req *req, int fd, off_t offset, off_t len)
{
    char buf[32768];

    while (len > 0) {
        size_t want = len < (off_t) sizeof(buf) ? (size_t) len : sizeof(buf);
        ssize_t n = pread(fd, buf, want, offset);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            fpmd_log_req(req, FPMD_LOG_ERROR, "sendfile: file shrank or "
                         "failed at offset %jd: %s", (intmax_t) offset,
                         n < 0 ? strerror(errno) : "end of file");
            return FPMD_ERROR;
        }
        if (fpmd_resp_write(req, buf, (size_t) n) != FPMD_OK)
            return FPMD_ERROR;
        offset += n;
        len -= n;
    }
    return FPMD_OK;
}

int
fpmd_resp_sendfile(struct fpmd_req *req, int fd, off_t offset, off_t len)
{
    char clen[32];
    int dup_fd;

    if (req->head_sent || offset < 0 || len < 0)
        return FPMD_ERROR;
    /* A shadow comparison does not read files back. */
    req->capture_over = req->capture_out != NULL;
    snprintf(clen, sizeof(clen), "%jd", (intmax_t) len);
    if (fpmd_resp_header(req, "Content-Length", clen) != FPMD_OK)
        return FPMD_ERROR;
    if (req->ops->write_file == NULL || len == 0 || req->is_head)
        return len == 0 || req->is_head ? fpmd_resp_write(req, "", 0)
                                        : copy_file(req, fd, offset, len);
    if (fpmd_resp_write(req, "", 0) != FPMD_OK)
        return FPMD_ERROR;
    dup_fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (dup_fd < 0)
        return FPMD_ERROR;
    if (req->ops->write_file(req, dup_fd, offset, len) != FPMD_OK)
        return FPMD_ERROR;
    req->bytes_sent += (uint64_t) len;
    return FPMD_OK;
}
