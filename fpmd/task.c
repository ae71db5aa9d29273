/* SPDX-License-Identifier: BSD-2-Clause */
/* Tasks (task.h): FPMD_TASK's registry, a run as a background request,
 * and the task process: it takes one frame at a time off the queue that
 * every task process shares (SOCK_SEQPACKET: whole frames, each to one
 * reader), runs it, and sends the result on the descriptor that came with
 * the frame, the sender's own result socket. While it runs one it reads
 * no other, so an idle process takes the next, and its board row names
 * the one it runs: the master answers for it if the process dies. */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <event2/event.h>
#include <json-c/json.h>

#include "fpmd/clock.h"
#include "fpmd/log.h"
#include "fpmd/process.h"
#include "fpmd/req.h"
#include "fpmd/sched.h"
#include "fpmd/task.h"
#include "fpmd/task_frame.h"
#include "fpmd/worker.h"

#define DEFS_MAX 256
#define RUN_KEY "fpmd.task"

static struct {
    const struct fpmd_task_def *defs[DEFS_MAX];
    size_t ndefs;
} registry;

void
fpmd_task_register(const struct fpmd_task_def *def)
{
    if (!fpmd_task_name_valid(def->name, strlen(def->name))) {
        fpmd_log(FPMD_LOG_ALERT, "%s:%d: task %s: a task name is 1 to %d of "
                 "A-Z a-z 0-9 _ . -; it cannot run", def->file, def->line,
                 def->name, FPMD_TASK_NAME_MAX);
        return;
    }
    if (registry.ndefs == DEFS_MAX) {
        fpmd_log(FPMD_LOG_ALERT, "%s:%d: task %s: more than %d are declared; "
                 "it cannot run", def->file, def->line, def->name, DEFS_MAX);
        return;
    }
    registry.defs[registry.ndefs++] = def;
}

const struct fpmd_task_def *
fpmd_task_find(const char *name, size_t len)
{
    for (size_t i = 0; i < registry.ndefs; i++) {
        if (strlen(registry.defs[i]->name) == len
            && memcmp(registry.defs[i]->name, name, len) == 0)
            return registry.defs[i];
    }
    return NULL;
}

/* --- a run ---------------------------------------------------------- */

struct run {
    const struct fpmd_task_def *def;
    const void *in;
    size_t in_len;
    struct json_object *in_json;
    bool in_parsed;
    const void *out;
    size_t out_len;
    int rc;
    fpmd_task_done_fn done;
    void *arg;
};

const void *
fpmd_task_input(struct fpmd_req *req, size_t *len)
{
    struct run *r = fpmd_req_get(req, RUN_KEY);

    *len = r != NULL ? r->in_len : 0;
    return r != NULL ? r->in : NULL;
}

struct json_object *
fpmd_task_input_json(struct fpmd_req *req)
{
    struct run *r = fpmd_req_get(req, RUN_KEY);

    if (r == NULL)
        return NULL;
    if (!r->in_parsed) {
        r->in_parsed = true;
        r->in_json = fpmd_req_json_keep(
            req, fpmd_json_parse(r->in, r->in_len,
                                 fpmd_process.conf->limits.json_depth));
    }
    return r->in_json;
}

int
fpmd_task_return(struct fpmd_req *req, const void *data, size_t len)
{
    struct run *r = fpmd_req_get(req, RUN_KEY);
    char *copy;

    if (r == NULL || len > fpmd_process.conf->tasks.max_payload)
        return FPMD_ERROR;
    copy = fpmd_alloc(req, len + 1);
    if (copy == NULL)
        return FPMD_ERROR;
    if (len > 0)
        memcpy(copy, data, len);
    copy[len] = '\0';
    r->out = copy;
    r->out_len = len;
    return FPMD_OK;
}

int
fpmd_task_return_json(struct fpmd_req *req, struct json_object *obj)
{
    size_t len;
    const char *s = json_object_to_json_string_length(obj,
                                                      JSON_C_TO_STRING_PLAIN,
                                                      &len);

    return s != NULL ? fpmd_task_return(req, s, len) : FPMD_ERROR;
}

static int
run_body(struct fpmd_req *req)
{
    struct run *r = fpmd_req_get(req, RUN_KEY);

    r->rc = r->def->fn(req);
    return r->rc;
}

/* The run's request ends, however it came: the result is still in its
 * memory. */
static void
run_end(void *arg)
{
    struct run *r = arg;
    char text[128];

    if (r->rc == FPMD_OK) {
        r->done(r->arg, FPMD_TASK_DONE, r->out, r->out_len, "");
        return;
    }
    snprintf(text, sizeof(text), "task %s failed", r->def->name);
    r->done(r->arg, FPMD_TASK_FAILED, NULL, 0, text);
}

struct fpmd_req *
fpmd_task_run(const struct fpmd_task_def *def, const void *in, size_t len,
              fpmd_task_done_fn done, void *arg)
{
    struct fpmd_req *req = fpmd_req_new_run("TASK", (const char *const[]) {
        "FPMD_TASK_NAME", def->name, NULL});
    struct run *r = req ? fpmd_alloc(req, sizeof(*r)) : NULL;
    void *copy = r ? fpmd_alloc(req, len + 1) : NULL;

    if (copy == NULL || fpmd_req_set(req, RUN_KEY, r) != FPMD_OK
        || fpmd_defer(req, run_end, r) != FPMD_OK) {
        if (req != NULL)
            fpmd_req_free(req);
        return NULL;
    }
    if (len > 0)
        memcpy(copy, in, len);
    ((char *) copy)[len] = '\0';
    memset(r, 0, sizeof(*r));
    r->def = def;
    r->in = copy;
    r->in_len = len;
    r->rc = FPMD_ERROR;
    r->done = done;
    r->arg = arg;
    fpmd_sched_start_run(req, run_body);
    return req;
}

/* --- the task process ------------------------------------------------ */

static struct {
    const struct fpmd_conf *conf;
    struct fpmd_task_slot *slot;
    uint8_t *buf;
    size_t cap;
    struct event *take_ev;
    struct fpmd_req *req;
    int reply_fd;               /* the running task's sender's, or -1 */
    uint64_t id;
    uint64_t ran;
    bool running;
    bool stopping;              /* finish the running task, then exit */
    bool draining;              /* take tasks until the queue is empty */
    bool aborted;               /* TERM: no result to wait for */
} tp = {.reply_fd = -1};

static void
send_result(int fd, uint64_t id, unsigned code, const void *out, size_t len,
            const char *text)
{
    struct fpmd_task_frame f = {
        .kind = FPMD_TASK_FRAME_RESULT, .code = code, .sender = getpid(),
        .id = id, .text = text, .text_len = strlen(text), .payload = out,
        .len = len};
    uint8_t head[FPMD_TASK_FRAME_HEAD + FPMD_TASK_TEXT_MAX];
    struct iovec iov[2] = {{head, fpmd_task_frame_head(&f, head)},
                           {(void *) out, len}};
    struct msghdr msg = {.msg_iov = iov, .msg_iovlen = len > 0 ? 2 : 1};

    /* Blocking, bounded by the socket's send timeout (the master set it):
     * a sender that is gone refuses at once. */
    if (sendmsg(fd, &msg, MSG_NOSIGNAL) < 0)
        fpmd_log(errno == EPIPE || errno == ECONNREFUSED ? FPMD_LOG_DEBUG
                                                         : FPMD_LOG_WARNING,
                 "task result %llu not delivered: %s",
                 (unsigned long long) id, strerror(errno));
}

static void
slot_clear(void)
{
    __atomic_store_n(&tp.slot->busy, 0, __ATOMIC_RELEASE);
}

static void
slot_set(const struct fpmd_task_frame *f)
{
    struct fpmd_task_slot *s = tp.slot;

    s->sender = f->sender;
    s->noreply = (f->code & FPMD_TASK_NOREPLY) != 0;
    s->id = f->id;
    s->start_us = fpmd_now_us();
    memcpy(s->name, f->text, f->text_len);
    s->name[f->text_len] = '\0';
    __atomic_store_n(&s->busy, 1, __ATOMIC_RELEASE);
}

static void
next_or_exit(void)
{
    if ((tp.stopping && !tp.draining) || tp.aborted
        || (tp.conf->tasks.max_requests != 0
            && tp.ran >= tp.conf->tasks.max_requests))
        event_base_loopbreak(fpmd_process.base);
    else
        event_add(tp.take_ev, NULL);
}

static void
on_done(void *arg, unsigned code, const void *out, size_t len,
        const char *text)
{
    struct fpmd_task_board *b = fpmd_process.tasks;

    (void) arg;
    if (tp.reply_fd >= 0) {
        send_result(tp.reply_fd, tp.id, code, out, len, text);
        close(tp.reply_fd);
        tp.reply_fd = -1;
    } else if (code != FPMD_TASK_DONE) {
        fpmd_log(FPMD_LOG_WARNING, "%s (posted, id %llu)", text,
                 (unsigned long long) tp.id);
    }
    fpmd_task_board_add(code == FPMD_TASK_DONE ? &b->done : &b->failed, 1);
    slot_clear();
    tp.req = NULL;
    tp.running = false;
    tp.ran++;
    next_or_exit();
}

/* A frame that cannot run: answered at once (when it wants an answer)
 * and counted as failed. */
static void
refuse(const struct fpmd_task_frame *f, int fd, unsigned code,
       const char *why)
{
    char text[160];

    snprintf(text, sizeof(text), "task %.*s refused: %s",
             (int) (f->text_len < 64 ? f->text_len : 64),
             f->text ? f->text : "", why);
    fpmd_log(FPMD_LOG_WARNING, "%s", text);
    if (fd >= 0 && !(f->code & FPMD_TASK_NOREPLY))
        send_result(fd, f->id, code, NULL, 0, text);
    fpmd_task_board_add(&fpmd_process.tasks->failed, 1);
}

/* One frame off the queue into tp.buf: its length, 0 when the queue is
 * empty, -1 after an error. *fd is the descriptor that came with it. */
static ssize_t
take(int *fd, bool *truncated)
{
    union {
        struct cmsghdr align;
        char buf[CMSG_SPACE(sizeof(int) * 4)];
    } ctl;
    struct iovec iov = {tp.buf, tp.cap};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1,
                         .msg_control = ctl.buf,
                         .msg_controllen = sizeof(ctl.buf)};
    ssize_t n;

    *fd = -1;
    n = recvmsg(fpmd_process.task_take, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
    if (n < 0)
        return errno == EAGAIN || errno == EINTR ? 0 : -1;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c != NULL;
         c = CMSG_NXTHDR(&msg, c)) {
        size_t nfd;

        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
            continue;
        nfd = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < nfd; i++) {
            int got;

            memcpy(&got, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
            if (*fd < 0)
                *fd = got;
            else
                close(got);
        }
    }
    *truncated = (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) != 0;
    return n == 0 ? -1 : n;
}

static void
on_take(evutil_socket_t sfd, short what, void *arg)
{
    (void) sfd;
    (void) what;
    (void) arg;
    while (!tp.running && !tp.aborted && (!tp.stopping || tp.draining)) {
        struct fpmd_task_frame f = {0};
        const struct fpmd_task_def *def;
        struct fpmd_req *req;
        const char *why;
        bool truncated = false;
        size_t used;
        int fd, rc;
        ssize_t n = take(&fd, &truncated);

        if (n == 0) {
            if (tp.draining)
                event_base_loopbreak(fpmd_process.base);
            return;
        }
        if (n < 0) {
            fpmd_log_errno(FPMD_LOG_ALERT, "task queue");
            event_base_loopbreak(fpmd_process.base);
            return;
        }
        fpmd_task_board_dequeue(fpmd_process.tasks);
        rc = fpmd_task_frame_parse(tp.buf, (size_t) n,
                                   tp.conf->tasks.max_payload, &f, &used,
                                   &why);
        if (rc == FPMD_OK && (truncated || used != (size_t) n
                              || f.kind != FPMD_TASK_FRAME_RUN)) {
            rc = FPMD_ERROR;
            why = "not one whole run frame";
        }
        if (rc != FPMD_OK) {
            /* the head may still say who waits, and for what */
            if (n >= FPMD_TASK_FRAME_HEAD && f.kind == FPMD_TASK_FRAME_RUN)
                refuse(&f, fd, FPMD_TASK_REFUSED,
                       rc == FPMD_AGAIN || truncated
                           ? "larger than tasks.max_payload allows here"
                           : why);
            else
                fpmd_log(FPMD_LOG_WARNING, "task queue: a frame dropped: %s",
                         rc == FPMD_AGAIN ? "cut short" : why);
            if (fd >= 0)
                close(fd);
            continue;
        }
        def = fpmd_task_find(f.text, f.text_len);
        if (def == NULL) {
            refuse(&f, fd, FPMD_TASK_UNKNOWN, "no such FPMD_TASK here");
            if (fd >= 0)
                close(fd);
            continue;
        }
        tp.reply_fd = (f.code & FPMD_TASK_NOREPLY) ? -1 : fd;
        if (tp.reply_fd < 0 && fd >= 0)
            close(fd);
        tp.id = f.id;
        slot_set(&f);
        tp.running = true;
        event_del(tp.take_ev);
        req = fpmd_task_run(def, f.payload, f.len, on_done, NULL);
        if (req == NULL) {
            fpmd_log(FPMD_LOG_ALERT, "out of memory");
            on_done(NULL, FPMD_TASK_FAILED, NULL, 0, "task process out of "
                    "memory");
        } else if (tp.running) {
            /* still running: it did not end before its first wait */
            tp.req = req;
        }
    }
}

static void
on_stop(const struct signalfd_siginfo *si)
{
    if (si->ssi_signo == SIGQUIT) {
        tp.stopping = true;
        tp.draining = si->ssi_code == SI_QUEUE
            && si->ssi_int == FPMD_TASK_QUIT_DRAIN;
    } else {
        tp.aborted = true;
    }
    if (tp.running) {
        /* a reload or a stop lets the task finish; TERM does not */
        if (tp.aborted)
            fpmd_req_abort(tp.req);
    } else if (tp.draining && !tp.aborted) {
        on_take(-1, 0, NULL);
    } else {
        event_base_loopbreak(fpmd_process.base);
    }
}

static int
start(void)
{
    tp.take_ev = event_new(fpmd_process.base, fpmd_process.task_take,
                           EV_READ | EV_PERSIST, on_take, NULL);
    return tp.take_ev != NULL && event_add(tp.take_ev, NULL) == 0
        ? FPMD_OK : FPMD_ERROR;
}

int
fpmd_task_process_main(const struct fpmd_conf *conf,
                       struct fpmd_task_slot *slot)
{
    char prefix[48];
    int rc = FPMD_ERROR;

    snprintf(prefix, sizeof(prefix), "task process %d: ", (int) getpid());
    fpmd_log_set_prefix(prefix);
    fpmd_process.task_process = true;
    tp.conf = conf;
    tp.slot = slot;
    tp.cap = FPMD_TASK_FRAME_HEAD + FPMD_TASK_TEXT_MAX + conf->tasks.max_payload
        + 1;
    tp.buf = malloc(tp.cap);
    if (tp.buf == NULL)
        fpmd_log(FPMD_LOG_ALERT, "cannot start: out of memory");
    else
        rc = fpmd_worker_run_alone(conf, on_stop, start);
    if (tp.take_ev != NULL)
        event_free(tp.take_ev);
    free(tp.buf);
    return rc == FPMD_OK ? 0 : 1;
}
