/* SPDX-License-Identifier: BSD-2-Clause */
/* nginx access log lines for fpmd-migrate scan: a reader that cuts a log
 * into lines with one fixed buffer, a log_format string compiled once into
 * a matcher, a line matched against it into the request's method, target,
 * status and time, and the legacy PHP route a request is counted under
 * (method, script, path info, route-designating query parameters).
 * Nothing here allocates per line: a line is matched in the reader's
 * buffer, a route is built in the caller's struct. */
#ifndef FPMD_MIGRATE_TOOL_LOG_LINE_H
#define FPMD_MIGRATE_TOOL_LOG_LINE_H

#include <stddef.h>
#include <stdint.h>

#include "fpmd/common.h"

/* nginx's predefined format (ngx_http_log_module.c) */
#define FPMD_LOG_FORMAT_COMBINED                                         \
    "$remote_addr - $remote_user [$time_local] \"$request\" $status "   \
    "$body_bytes_sent \"$http_referer\" \"$http_user_agent\""

#define FPMD_LOG_FORMAT_MAX 4096    /* bytes of a format's text */
#define FPMD_LOG_METHOD_MAX 15
/* nginx's default large_client_header_buffers: a longer request line is
 * a 414 that never reached PHP */
#define FPMD_LOG_PATH_MAX 8192
#define FPMD_LOG_KEY_MAX 1024       /* a route longer than this is "other" */
#define FPMD_LOG_PARAMS_MAX 32      /* route-designating parameter names */
#define FPMD_LOG_PARAM_NAME_MAX 64

#define FPMD_LOG_READ_CHUNK (256 * 1024)

/* Lines of a file descriptor, in constant memory: max_line +
 * FPMD_LOG_READ_CHUNK bytes however long the input or its lines. */
struct fpmd_log_reader {
    uint64_t lineno;            /* of the line last returned, from 1 */
    int fd;                     /* not owned */
    char *buf;
    size_t cap, max_line, start, end;
    int skipping, eof;
};

/* FPMD_ERROR when the buffer cannot be allocated. */
int fpmd_log_reader_init(struct fpmd_log_reader *rd, int fd,
                         size_t max_line);
void fpmd_log_reader_free(struct fpmd_log_reader *rd);

/* The next line: FPMD_OK with *line and *len (its LF or CRLF removed; in
 * the reader's buffer, which the line may be modified in, until the next
 * call); FPMD_DECLINED for a line longer than max_line, which is skipped
 * (its number in lineno) without ever being held whole; FPMD_DONE at the
 * end (a last line without LF counts); FPMD_ERROR when read(2) failed,
 * with errno. */
int fpmd_log_reader_next(struct fpmd_log_reader *rd, char **line,
                         size_t *len);

struct fpmd_log_format;

/* Compiles an nginx log_format: "$name" and "${name}" variables with
 * literal text between them, as written in nginx.conf (one or more quoted
 * strings, with nginx's \" \' \\ \t \r \n escapes, and a final ';'), or,
 * when it does not read or compile so, the text as it is. NULL or
 * "combined" is FPMD_LOG_FORMAT_COMBINED. The format must give the
 * request: $request, or $request_method with $request_uri or $uri. NULL
 * with the reason in err when it does not compile; two variables with no
 * text between them are refused, as nothing would tell where one ends.
 * The caller owns the result: fpmd_log_format_free. */
struct fpmd_log_format *fpmd_log_format_compile(const char *text, char *err,
                                                size_t errlen);
void fpmd_log_format_free(struct fpmd_log_format *f);

/* 1 when the format's lines carry a time: $request_time, or else
 * $upstream_response_time. */
int fpmd_log_format_timed(const struct fpmd_log_format *f);

/* One matched line. Pointers are into the caller's line. */
struct fpmd_log_entry {
    const char *method;
    size_t method_len;
    const char *target;         /* path?query as the client sent it, or
                                 * nginx's $uri (target_is_uri) */
    size_t target_len;
    int target_is_uri;          /* already decoded and normalized */
    const char *args;           /* with $uri: $args; NULL: none */
    size_t args_len;
    int status;                 /* 100..999; 0: no $status in the format */
    int64_t time_us;            /* -1: no time in the format, or "-" */
};

/* Matches line (len bytes, without its newline) against f: each variable
 * takes the text up to the next occurrence of the literal after it, the
 * last one the rest of the line. The fields used are unescaped in place
 * (nginx writes '"', '\' and non-printable bytes as \xXX), so the line is
 * modified and e points into it. FPMD_OK; FPMD_DECLINED: the line matches
 * but holds no request line (nginx logs "-" or the client's garbage for a
 * 400 or 408); FPMD_ERROR: it does not match, or $status or a time is not
 * what nginx writes, and the line is left unchanged. *why says which (a
 * static string). */
int fpmd_log_line_parse(const struct fpmd_log_format *f, char *line,
                        size_t len, struct fpmd_log_entry *e,
                        const char **why);

/* The parameters that pick a front controller's page when none are given:
 * r route action act do c m a controller module page. */
extern const char *const fpmd_log_route_params_default[];
extern const size_t fpmd_log_route_params_ndefault;

/* The legacy PHP route of a request. */
struct fpmd_log_route {
    char method[FPMD_LOG_METHOD_MAX + 1];
    char path[FPMD_LOG_PATH_MAX + 1];   /* decoded, normalized as nginx's
                                         * $uri: script + path info */
    size_t path_len;
    size_t script_len;          /* path[0, script_len) is the script */
    char key[FPMD_LOG_KEY_MAX + 1];     /* "/index.php/x?r=post/view" */
    size_t key_len;
    size_t query_off;           /* key + query_off: "r=post/view" (the
                                 * route params), 0: none */
};

/* Builds the route of e: the path decoded and normalized as nginx does
 * before its "location ~ [^/]\.php(/|$)", cut after its first segment
 * ending in ".php" (the script; the rest is path info), and the values of
 * the query parameters named in params, in that order, the last of a
 * repeated one, as PHP's $_GET sees them. The key shows the path and the
 * parameters in printable ASCII: other bytes and the delimiters as %XX,
 * so that one request always gives one key and a key reads back.
 * FPMD_OK; FPMD_DECLINED: not a PHP script (static/other, including
 * targets nginx refuses: a bad escape, a NUL, ".." above the root, over
 * FPMD_LOG_PATH_MAX); FPMD_ERROR: a PHP script whose key is longer than
 * FPMD_LOG_KEY_MAX. */
int fpmd_log_route_of(const struct fpmd_log_entry *e,
                      const char *const *params, size_t nparams,
                      struct fpmd_log_route *r);

#endif
