/* SPDX-License-Identifier: BSD-2-Clause */
/* fpmd run METHOD PATH: one request through the same router, hooks,
 * handlers and pools as a worker's, in this process, for a system crontab
 * or a deploy script. The request goes in as HTTP/1.1 over a socketpair
 * whose other end the worker's own HTTP codec holds, so nothing of the
 * request path is done differently; the answer is printed as it comes.
 * fpmd task NAME [INPUT]: one task, run as a task process runs it. Both
 * run the tasks their code starts in this process too: there is no task
 * queue here. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "fpmd/cli_run.h"
#include "fpmd/log.h"
#include "fpmd/prepare.h"
#include "fpmd/process.h"
#include "fpmd/service.h"
#include "fpmd/tables.h"
#include "fpmd/task.h"
#include "fpmd/worker.h"

#define EXIT_USAGE 64
#define EXIT_CONFIG 78
/* The answer's status, when it is not one: a broken or missing answer. */
#define EXIT_NO_ANSWER 1
/* fpmd task: the task failed. */
#define EXIT_TASK_FAILED 1

static struct {
    int fd;                     /* our end of the socketpair */
    struct evbuffer *out;       /* request bytes not yet written */
    struct evbuffer *answer;
    struct event *rev, *wev;
} run;

static void
usage(FILE *out)
{
    fprintf(out,
        "Usage: fpmd [-y FILE] run METHOD PATH [-H 'Name: value']... "
        "[-d FILE|-]\n"
        "  -H, --header 'Name: value'  a request header (repeatable)\n"
        "  -d, --body FILE             the request body, - for stdin\n"
        "Prints the HTTP answer; exits 0 for a status below 400, 4 for "
        "4xx, 5 for 5xx,\n1 without an answer.\n");
}

static void
on_write(evutil_socket_t fd, short what, void *arg)
{
    (void) what;
    (void) arg;
    if (evbuffer_write(run.out, fd) < 0 && errno != EAGAIN) {
        fprintf(stderr, "fpmd: run: write: %s\n", strerror(errno));
        event_base_loopbreak(fpmd_process.base);
        return;
    }
    /* No half-close after the request: the codec would take the EOF for
     * a client gone and abandon the request. */
    if (evbuffer_get_length(run.out) > 0)
        event_add(run.wev, NULL);
}

/* The codec closes its end after the answer (Connection: close). */
static void
on_read(evutil_socket_t fd, short what, void *arg)
{
    int n;

    (void) what;
    (void) arg;
    n = evbuffer_read(run.answer, fd, 65536);
    if (n > 0 || (n < 0 && errno == EAGAIN))
        return;
    event_base_loopbreak(fpmd_process.base);
}

/* The request as HTTP/1.1 bytes in run.out. */
static int
build_request(const char *method, const char *path, char **headers,
              size_t nheaders, const char *body_path)
{
    bool has_host = false;
    struct evbuffer *body = evbuffer_new();
    int fd = -1;

    if (body == NULL)
        return FPMD_ERROR;
    if (body_path != NULL) {
        fd = strcmp(body_path, "-") == 0 ? STDIN_FILENO
                                         : open(body_path, O_RDONLY);
        if (fd < 0) {
            fprintf(stderr, "fpmd: run: %s: %s\n", body_path,
                    strerror(errno));
            evbuffer_free(body);
            return FPMD_ERROR;
        }
        while (evbuffer_read(body, fd, 65536) > 0)
            ;
        if (fd != STDIN_FILENO)
            close(fd);
    }
    evbuffer_add_printf(run.out, "%s %s HTTP/1.1\r\n", method, path);
    for (size_t i = 0; i < nheaders; i++) {
        if (strchr(headers[i], ':') == NULL) {
            fprintf(stderr, "fpmd: run: header \"%s\" is not Name: value\n",
                    headers[i]);
            evbuffer_free(body);
            return FPMD_ERROR;
        }
        has_host |= strncasecmp(headers[i], "host:", 5) == 0;
        evbuffer_add_printf(run.out, "%s\r\n", headers[i]);
    }
    if (!has_host)
        evbuffer_add_printf(run.out, "Host: localhost\r\n");
    if (body_path != NULL)
        evbuffer_add_printf(run.out, "Content-Length: %zu\r\n",
                            evbuffer_get_length(body));
    evbuffer_add_printf(run.out, "Connection: close\r\n\r\n");
    evbuffer_add_buffer(run.out, body);
    evbuffer_free(body);
    return FPMD_OK;
}

/* The worker's request side in this process: what fpmd_worker_main sets
 * up but the listeners, the master's scoreboard and the signals. */
static int
setup(const struct fpmd_conf *conf, struct fpmd_table ***tables)
{
    char err[16384];
    struct fpmd_router *router = fpmd_prepare(conf, err, sizeof(err));

    if (router == NULL) {
        fprintf(stderr, "%s", err);
        return FPMD_ERROR;
    }
    *tables = fpmd_tables_open(conf, NULL, NULL, err, sizeof(err));
    if (*tables == NULL || fpmd_worker_setup_alone(conf, router) != FPMD_OK) {
        fprintf(stderr, "fpmd: run: setup failed: %s\n",
                *tables ? "out of memory" : err);
        return FPMD_ERROR;
    }
    fpmd_tables_attach(conf, *tables);
    fpmd_process.task_inline = true;
    if (fpmd_services_start(conf, fpmd_process.base) != FPMD_OK) {
        fprintf(stderr, "fpmd: run: a service failed to start\n");
        return FPMD_ERROR;
    }
    return FPMD_OK;
}

/* 0 below 400, 4 and 5 for 4xx and 5xx, EXIT_NO_ANSWER without one. */
static int
exit_code(struct evbuffer *answer)
{
    size_t len = evbuffer_get_length(answer);
    const char *head = (const char *) evbuffer_pullup(answer, len < 12 ? -1
                                                                      : 12);
    int status;

    if (len < 12 || sscanf(head, "HTTP/1.%*1d %3d", &status) != 1)
        return EXIT_NO_ANSWER;
    return status < 400 ? 0 : status < 500 ? 4 : 5;
}

int
fpmd_cli_run(const struct fpmd_conf *conf, int argc, char **argv)
{
    static const struct option longopts[] = {
        {"header", required_argument, NULL, 'H'},
        {"body", required_argument, NULL, 'd'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    char **headers = calloc((size_t) argc + 1, sizeof(*headers));
    struct fpmd_table **tables = NULL;
    const char *body = NULL;
    size_t nheaders = 0;
    int c, sv[2], rc = EXIT_CONFIG;

    optind = 0;     /* 0: glibc starts its scan afresh */
    while (headers != NULL
           && (c = getopt_long(argc, argv, "H:d:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'H':
            headers[nheaders++] = optarg;
            break;
        case 'd':
            body = optarg;
            break;
        case 'h':
            usage(stdout);
            free(headers);
            return 0;
        default:
            usage(stderr);
            free(headers);
            return EXIT_USAGE;
        }
    }
    if (headers == NULL || argc - optind != 2 || argv[optind + 1][0] != '/') {
        usage(stderr);
        free(headers);
        return EXIT_USAGE;
    }
    run.out = evbuffer_new();
    run.answer = evbuffer_new();
    if (run.out == NULL || run.answer == NULL
        || build_request(argv[optind], argv[optind + 1], headers, nheaders,
                         body) != FPMD_OK
        || setup(conf, &tables) != FPMD_OK)
        goto out;
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv)
        < 0 || fpmd_worker_take(sv[0], "127.0.0.1", FPMD_PROTO_HTTP) != FPMD_OK) {
        fprintf(stderr, "fpmd: run: socketpair: %s\n", strerror(errno));
        goto out;
    }
    run.fd = sv[1];
    run.rev = event_new(fpmd_process.base, run.fd, EV_READ | EV_PERSIST,
                        on_read, NULL);
    run.wev = event_new(fpmd_process.base, run.fd, EV_WRITE, on_write, NULL);
    if (run.rev == NULL || run.wev == NULL)
        goto out;
    event_add(run.rev, NULL);
    event_add(run.wev, NULL);
    event_base_dispatch(fpmd_process.base);
    /* a task the request posted runs to its end first */
    while (fpmd_task_inline_runs() > 0)
        event_base_loop(fpmd_process.base, EVLOOP_ONCE);
    fwrite(evbuffer_pullup(run.answer, -1), 1,
           evbuffer_get_length(run.answer), stdout);
    fflush(stdout);
    rc = exit_code(run.answer);
    fpmd_services_stop();
out:
    if (run.fd > 0)
        close(run.fd);
    if (run.rev != NULL)
        event_free(run.rev);
    if (run.wev != NULL)
        event_free(run.wev);
    if (run.out != NULL)
        evbuffer_free(run.out);
    if (run.answer != NULL)
        evbuffer_free(run.answer);
    free(headers);
    return rc;
}

/* --- fpmd task ---------------------------------------------------------- */

static struct {
    int rc;
    bool done;                  /* it may end before the loop runs */
    struct event *timeout;
} task;

static void
task_done(void *arg, unsigned code, const void *out, size_t len,
          const char *text)
{
    (void) arg;
    if (code == FPMD_TASK_DONE) {
        fwrite(out, 1, len, stdout);
        if (len > 0 && ((const char *) out)[len - 1] != '\n'
            && isatty(STDOUT_FILENO))
            putchar('\n');
        task.rc = 0;
    } else {
        fprintf(stderr, "fpmd: %s\n", text);
        task.rc = EXIT_TASK_FAILED;
    }
    task.done = true;
    event_base_loopbreak(fpmd_process.base);
}

static void
task_timeout(evutil_socket_t fd, short what, void *arg)
{
    (void) fd;
    (void) what;
    (void) arg;
    fprintf(stderr, "fpmd: task: no result within tasks.timeout (%llu ms)\n",
            (unsigned long long) fpmd_process.conf->tasks.timeout_ms);
    task.rc = EXIT_TASK_FAILED;
    event_base_loopbreak(fpmd_process.base);
}

/* INPUT, or stdin for "-", or nothing, into *out. */
static int
task_input(const char *arg, struct evbuffer *out)
{
    if (arg == NULL)
        return FPMD_OK;
    if (strcmp(arg, "-") != 0)
        return evbuffer_add(out, arg, strlen(arg)) == 0 ? FPMD_OK
                                                       : FPMD_ERROR;
    while (evbuffer_read(out, STDIN_FILENO, 65536) > 0)
        ;
    return FPMD_OK;
}

int
fpmd_cli_task(const struct fpmd_conf *conf, int argc, char **argv)
{
    const struct fpmd_task_def *def;
    struct fpmd_table **tables = NULL;
    struct evbuffer *in = evbuffer_new();
    struct timeval tv = {(time_t) (conf->tasks.timeout_ms / 1000),
                         (suseconds_t) (conf->tasks.timeout_ms % 1000) * 1000};
    int rc = EXIT_CONFIG;

    if (argc < 2 || argc > 3 || strcmp(argv[1], "--help") == 0) {
        fprintf(argc == 2 && strcmp(argv[1], "--help") == 0 ? stdout : stderr,
                "Usage: fpmd [-y FILE] task NAME [INPUT|-]\n"
                "Runs the FPMD_TASK NAME in this process with INPUT (JSON "
                "or any bytes; - reads\nstdin), prints its result and exits "
                "0, or 1 when it fails.\n");
        evbuffer_free(in);
        return argc == 2 && strcmp(argv[1], "--help") == 0 ? 0 : EXIT_USAGE;
    }
    if (in == NULL || setup(conf, &tables) != FPMD_OK)
        goto out;
    def = fpmd_task_find(argv[1], strlen(argv[1]));
    if (def == NULL) {
        fprintf(stderr, "fpmd: task: no FPMD_TASK named \"%s\"\n", argv[1]);
        rc = EXIT_USAGE;
        goto stop;
    }
    if (task_input(argc == 3 ? argv[2] : NULL, in) != FPMD_OK
        || evbuffer_get_length(in) > conf->tasks.max_payload) {
        fprintf(stderr, "fpmd: task: the input is over tasks.max_payload "
                "(%zu bytes)\n", conf->tasks.max_payload);
        rc = EXIT_USAGE;
        goto stop;
    }
    task.rc = EXIT_TASK_FAILED;
    task.timeout = evtimer_new(fpmd_process.base, task_timeout, NULL);
    if (task.timeout == NULL || evtimer_add(task.timeout, &tv) != 0
        || fpmd_task_run(def, evbuffer_pullup(in, -1),
                         evbuffer_get_length(in), task_done, NULL) == NULL) {
        fprintf(stderr, "fpmd: task: out of memory\n");
        goto stop;
    }
    if (!task.done)
        event_base_dispatch(fpmd_process.base);
    fflush(stdout);
    rc = task.rc;
stop:
    fpmd_services_stop();
out:
    if (task.timeout != NULL)
        event_free(task.timeout);
    if (in != NULL)
        evbuffer_free(in);
    return rc;
}
