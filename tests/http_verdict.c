/* SPDX-License-Identifier: BSD-2-Clause */
/* fpmd's verdict on an HTTP/1 request, for the differential check
 * against a strict reference parser (tests/integration/
 * test_http_differential.py). Each file named (or stdin) is written into
 * a real HTTP connection of a worker set up in this process, as
 * tests/fuzz/fuzz_http.c does, so the bytes take the listener's own way:
 * fpmd's CRLF scan, llhttp, the glue's checks and limits. One JSON line
 * per input:
 *   {"accept": true, "method": M, "target": REQUEST_URI,
 *    "version": "HTTP/1.1", "headers": [[CGI name, value], ...],
 *    "body": hex of the decoded body}
 * when a handler got the first request and its whole body, or
 *   {"accept": false, "status": N, "reason": WHY}
 * with the status of the answer fpmd gave instead (0: none, the input
 * ended before a request was complete) and the reason its log line gave
 * ("" when none did). Only the first request of an input is reported
 * in full; for where it ends, an accepted one also says how fpmd took the
 * bytes after it: "next" is {"accept": true, "method": M, "target": T}
 * when a second request's head reached a handler, {"accept": false,
 * "status": N, "reason": WHY} when fpmd refused it, null when nothing
 * followed (or only an incomplete request, or the first closed the
 * connection). Later requests are answered and not reported.
 * Headers are what a handler sees: CGI names (HTTP_ + upper case, '-' to
 * '_', CONTENT_TYPE and CONTENT_LENGTH), repeats joined, names with '_'
 * and Proxy dropped, as fpmd passes them on. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>
#include <json-c/json.h>

#include "fpmd/fpmd.h"
#include "fpmd/log.h"
#include "fpmd/req.h"
#include "tests/worker_harness.h"

/* Inputs bigger than one socket buffer would need a reader loop. */
#define INPUT_MAX 60000

static struct {
    unsigned requests;          /* that reached the hook */
    int accept;                 /* the first's whole body was read */
    struct json_object *verdict;
    struct json_object *next;   /* the second's method and target */
} first;

static char *
hex(const char *p, size_t n)
{
    static const char digits[] = "0123456789abcdef";
    char *s = malloc(2 * n + 1);

    if (s == NULL)
        abort();
    for (size_t i = 0; i < n; i++) {
        s[2 * i] = digits[(unsigned char) p[i] >> 4];
        s[2 * i + 1] = digits[(unsigned char) p[i] & 15];
    }
    s[2 * n] = '\0';
    return s;
}

static void
add_string(struct json_object *o, const char *key, const char *value)
{
    json_object_object_add(o, key, json_object_new_string(value));
}

/* {"accept": true, "method": M, "target": T}: what is said of a head. */
static struct json_object *
accepted(struct fpmd_req *req)
{
    struct json_object *o = json_object_new_object();

    json_object_object_add(o, "accept", json_object_new_boolean(1));
    add_string(o, "method", fpmd_req_method(req));
    add_string(o, "target", fpmd_req_param(req, "REQUEST_URI"));
    return o;
}

static int
is_header(const char *name)
{
    return strncmp(name, "HTTP_", 5) == 0
        || strcmp(name, "CONTENT_TYPE") == 0
        || strcmp(name, "CONTENT_LENGTH") == 0;
}

/* Outermost before hook: it sees every request the codec handed on,
 * before routing answers it. */
FPMD_HOOK(http_verdict, FPMD_HOOK_BEFORE, -1000000)
{
    struct json_object *o, *headers;
    const char *body, *name, *value;
    size_t blen;
    int status;
    char *h;

    /* The second request's head is reported, later ones not at all; a
     * codec's own answer to the first (413 over limits.body, 417) goes
     * out as it would. */
    if (++first.requests > 1) {
        if (first.requests == 2)
            first.next = accepted(req);
        return fpmd_reply(req, 200, NULL, "", 0) == FPMD_OK ? FPMD_DONE
                                                            : FPMD_ERROR;
    }
    if (req->route_status == 413 || req->route_status == 417)
        return FPMD_OK;
    if (fpmd_req_body_whole(req, (size_t) 1 << 30, &body, &blen, &status)
        != FPMD_OK) {
        /* the codec's answer, if it gave one, is already out */
        fpmd_reply_error(req, status, NULL);
        return FPMD_DONE;
    }
    o = accepted(req);
    headers = json_object_new_array();
    add_string(o, "version", fpmd_req_param(req, "SERVER_PROTOCOL"));
    for (size_t i = 0; fpmd_req_param_at(req, i, &name, &value) == FPMD_OK;
         i++) {
        struct json_object *pair;

        if (!is_header(name))
            continue;
        pair = json_object_new_array();
        json_object_array_add(pair, json_object_new_string(name));
        json_object_array_add(pair, json_object_new_string(value));
        json_object_array_add(headers, pair);
    }
    json_object_object_add(o, "headers", headers);
    h = hex(body, blen);
    add_string(o, "body", h);
    free(h);
    first.verdict = o;
    first.accept = 1;
    return fpmd_reply(req, 200, NULL, "", 0) == FPMD_OK ? FPMD_DONE
                                                        : FPMD_ERROR;
}

/* The reason of the codec's log line for a refused request ("http
 * verdict: 400 Bad Request: bare LF"), read back from the log file. */
static void
log_reason(int log_fd, char *why, size_t len)
{
    static const char tag[] = "http verdict: ";
    static char text[8192];
    ssize_t n = pread(log_fd, text, sizeof(text) - 1, 0);
    char *at, *end;

    why[0] = '\0';
    if (n <= 0)
        return;
    text[n] = '\0';
    if ((at = strstr(text, tag)) == NULL
        || (at = strstr(at + sizeof(tag) - 1, ": ")) == NULL)
        return;
    at += 2;
    end = strchr(at, '\n');
    snprintf(why, len, "%.*s", (int) (end ? end - at : (long) strlen(at)),
             at);
}

/* The statuses of the final answers at the start of out, at most max:
 * interim 100s are skipped, and each answer's Content-Length (every
 * answer here has one) says where the next begins. */
static size_t
answer_statuses(const char *out, size_t n, int *st, size_t max)
{
    static const char cl[] = "\r\nContent-Length: ";
    size_t pos = 0, k = 0;

    while (k < max && n - pos > 12 && memcmp(out + pos, "HTTP/1.1 ", 9) == 0) {
        const char *head = out + pos;
        const char *end = memmem(head, n - pos, "\r\n\r\n", 4);
        const char *len;
        int status = atoi(head + 9);

        if (end == NULL)
            break;
        len = memmem(head, (size_t) (end - head), cl, sizeof(cl) - 1);
        pos = (size_t) (end + 4 - out)
            + (len ? strtoul(len + sizeof(cl) - 1, NULL, 10) : 0);
        if (status != 100)
            st[k++] = status;
        if (pos >= n)
            break;
    }
    return k;
}

static struct json_object *
refusal(int status, const char *why)
{
    struct json_object *o = json_object_new_object();

    json_object_object_add(o, "accept", json_object_new_boolean(0));
    json_object_object_add(o, "status", json_object_new_int(status));
    add_string(o, "reason", why);
    return o;
}

static int
verdict(const char *what, const uint8_t *data, size_t size, int log_fd)
{
    static char out[1 << 20];
    char why[512];
    size_t got = 0, nst;
    int sv[2], st[2];
    ssize_t r;

    memset(&first, 0, sizeof(first));
    if (ftruncate(log_fd, 0) != 0) {       /* the log appends */
        fprintf(stderr, "http-verdict: cannot truncate the log\n");
        return -1;
    }
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) != 0
        || fpmd_worker_take(sv[0], "verdict", FPMD_PROTO_HTTP) != FPMD_OK) {
        fprintf(stderr, "http-verdict: %s: cannot set up a connection\n",
                what);
        return -1;
    }
    if (size > 0 && write(sv[1], data, size) != (ssize_t) size) {
        fprintf(stderr, "http-verdict: %s: short write\n", what);
        return -1;
    }
    shutdown(sv[1], SHUT_WR);
    for (int i = 0; i < 256 && fpmd_conn_open_count() > 0; i++) {
        event_base_loop(fpmd_process.base, EVLOOP_NONBLOCK);
        while (got < sizeof(out)
               && (r = read(sv[1], out + got, sizeof(out) - got)) > 0)
            got += (size_t) r;
    }
    close(sv[1]);
    for (int i = 0; i < 64 && fpmd_conn_open_count() > 0; i++)
        event_base_loop(fpmd_process.base, EVLOOP_NONBLOCK);
    /* the first refusal logged is the first request's, or when that was
     * accepted, the second's */
    log_reason(log_fd, why, sizeof(why));
    nst = answer_statuses(out, got, st, 2);
    if (!first.accept) {
        json_object_put(first.next);
        first.verdict = refusal(nst > 0 ? st[0] : 0, why);
    } else if (first.next != NULL) {
        json_object_object_add(first.verdict, "next", first.next);
    } else {
        json_object_object_add(first.verdict, "next",
                               nst > 1 ? refusal(st[1], why) : NULL);
    }
    printf("%s\n", json_object_to_json_string_ext(
                       first.verdict, JSON_C_TO_STRING_PLAIN
                                          | JSON_C_TO_STRING_NOSLASHESCAPE));
    json_object_put(first.verdict);
    return 0;
}

static int
verdict_file(const char *path, int log_fd)
{
    static uint8_t buf[INPUT_MAX + 1];
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    size_t n;

    if (f == NULL) {
        fprintf(stderr, "http-verdict: cannot open %s\n", path);
        return -1;
    }
    n = fread(buf, 1, sizeof(buf), f);
    if (f != stdin)
        fclose(f);
    if (n > INPUT_MAX) {
        fprintf(stderr, "http-verdict: %s: over %d bytes\n", path,
                INPUT_MAX);
        return -1;
    }
    return verdict(path, buf, n, log_fd);
}

/* The codec says why it refused a request in a notice on the error log:
 * that goes to a file of its own, emptied and read back per input. */
static int
log_to_file(void)
{
    char path[] = "/tmp/http-verdict-XXXXXX";
    struct fpmd_conf conf = *fpmd_process.conf;
    int fd = mkstemp(path);

    if (fd < 0)
        return -1;
    conf.log.error = path;
    conf.log.access = NULL;
    conf.log.slow = NULL;
    conf.log.level = FPMD_LOG_NOTICE;
    if (fpmd_log_open(&conf) != FPMD_OK) {
        close(fd);
        fd = -1;
    }
    unlink(path);
    return fd;
}

int
main(int argc, char **argv)
{
    int log_fd, rc = 0;

    if (fpmd_test_worker_setup() != FPMD_OK
        || (log_fd = log_to_file()) < 0) {
        fprintf(stderr, "http-verdict: worker setup failed\n");
        return 1;
    }
    if (argc < 2)
        rc = verdict_file("-", log_fd);
    for (int i = 1; i < argc && rc == 0; i++) {
        rc = verdict_file(argv[i], log_fd);
        fflush(stdout);
    }
    close(log_fd);
    return rc == 0 ? 0 : 1;
}
