/* SPDX-License-Identifier: BSD-2-Clause */
/* The sending side of tasks (fpmd.h, "tasks"): fpmd_task_start queues a
 * run frame on the pool's task queue with this process's result socket
 * attached (SCM_RIGHTS), so that whichever task process takes it answers
 * here, whatever generation either belongs to; the call waits in a table
 * of ids until its result frame comes back, its timeout passes or its
 * request ends. fpmd run and fpmd task have no queue: a task runs there,
 * in a coroutine of the same process. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <event2/event.h>
#include <json-c/json.h>

#include "fpmd/log.h"
#include "fpmd/process.h"
#include "fpmd/req.h"
#include "fpmd/service.h"
#include "fpmd/task.h"
#include "fpmd/task_frame.h"
#include "pools/pool.h"

#define BUCKETS 1024

struct task_call {
    struct fpmd_call *call;
    struct task_call *next;     /* its bucket's */
    uint64_t id;
    char tname[FPMD_TASK_NAME_MAX + 1];
    const void *result;
    size_t len;
    struct json_object *json;
    bool json_parsed;
    struct inline_run *run;     /* fpmd run: the run it waits for */
};

/* fpmd run's run of a task outlives its caller's request when that ends
 * first: the run holds this, the call only points at it. The run starts
 * from the loop, never inside the caller's coroutine. */
struct inline_run {
    struct task_call *tc;       /* NULL once the caller is gone */
    const struct fpmd_task_def *def;
    size_t len;
    char in[];                  /* the input, until the run copied it */
};

static struct {
    struct task_call *buckets[BUCKETS];
    uint8_t *buf;
    size_t cap;
    struct event *ev;
    uint64_t last_id;
    unsigned inline_runs;       /* fpmd run: started, not ended */
} tc_state;

static struct task_call **
bucket(uint64_t id)
{
    return &tc_state.buckets[id & (BUCKETS - 1)];
}

static void
forget(struct task_call *tc)
{
    for (struct task_call **pp = bucket(tc->id); *pp != NULL;
         pp = &(*pp)->next) {
        if (*pp == tc) {
            *pp = tc->next;
            return;
        }
    }
}

static struct task_call *
find(uint64_t id)
{
    for (struct task_call *tc = *bucket(id); tc != NULL; tc = tc->next) {
        if (tc->id == id)
            return tc;
    }
    return NULL;
}

static void
on_cancel(struct fpmd_call *call)
{
    struct task_call *tc = call->driver;

    if (tc->run != NULL)
        tc->run->tc = NULL;
    else
        forget(tc);
}

static void
on_timeout(struct fpmd_call *call)
{
    struct task_call *tc = call->driver;
    char msg[160];

    on_cancel(call);
    if (fpmd_process.tasks != NULL)
        fpmd_task_board_add(&fpmd_process.tasks->timed_out, 1);
    snprintf(msg, sizeof(msg), "no result of task %s within tasks.timeout "
             "(%llu ms)", tc->tname, (unsigned long long)
             fpmd_process.conf->tasks.timeout_ms);
    fpmd_call_other_done(call, FPMD_CALL_TIMEOUT, msg);
}

static void
describe(const struct fpmd_call *call, char *buf, size_t len)
{
    const struct task_call *tc = call->driver;

    snprintf(buf, len, "task %s", tc->tname);
}

static const struct fpmd_call_ops task_ops = {on_cancel, on_timeout, false,
                                              describe};

/* A result came for tc: DONE's output copied into the caller's request. */
static void
answer(struct task_call *tc, unsigned code, const void *out, size_t len,
       const char *text)
{
    char *copy;

    if (code != FPMD_TASK_DONE) {
        fpmd_call_other_done(tc->call, FPMD_CALL_FAILED, text);
        return;
    }
    copy = fpmd_alloc(tc->call->req, len + 1);
    if (copy == NULL) {
        fpmd_call_other_done(tc->call, FPMD_CALL_FAILED, "out of memory for "
                             "the task's result");
        return;
    }
    if (len > 0)
        memcpy(copy, out, len);
    copy[len] = '\0';
    tc->result = copy;
    tc->len = len;
    fpmd_call_other_done(tc->call, FPMD_CALL_OK, NULL);
}

static void
on_result(evutil_socket_t fd, short what, void *arg)
{
    (void) what;
    (void) arg;
    for (;;) {
        struct fpmd_task_frame f = {0};
        struct task_call *tc;
        const char *why;
        size_t used;
        char text[FPMD_TASK_TEXT_MAX + 1];
        ssize_t n = recv(fd, tc_state.buf, tc_state.cap,
                         MSG_DONTWAIT | MSG_TRUNC);
        int rc;

        if (n <= 0)
            return;
        /* MSG_TRUNC: n is the frame's whole length, even past the buffer
         * (a result from a task process of a generation with a larger
         * tasks.max_payload) */
        rc = fpmd_task_frame_parse(tc_state.buf, (size_t) n < tc_state.cap
                                   ? (size_t) n : tc_state.cap,
                                   fpmd_process.conf->tasks.max_payload, &f,
                                   &used, &why);
        if (rc == FPMD_OK && (used != (size_t) n
                              || f.kind != FPMD_TASK_FRAME_RESULT)) {
            rc = FPMD_ERROR;
            why = "not one whole result frame";
        }
        /* a result after the caller gave up (timeout, request gone) */
        tc = n >= FPMD_TASK_FRAME_HEAD && f.kind == FPMD_TASK_FRAME_RESULT
            ? find(f.id) : NULL;
        if (rc != FPMD_OK) {
            fpmd_log(FPMD_LOG_WARNING, "task results: a frame dropped: %s",
                     rc == FPMD_AGAIN ? "cut short" : why);
            if (tc != NULL) {
                forget(tc);
                answer(tc, FPMD_TASK_FAILED, NULL, 0, "the task's result "
                       "is over tasks.max_payload");
            }
            continue;
        }
        if (tc == NULL)
            continue;
        forget(tc);
        if (f.text_len > 0)
            memcpy(text, f.text, f.text_len);
        text[f.text_len] = '\0';
        answer(tc, f.code, f.payload, f.len, text);
    }
}

static void
inline_done(void *arg, unsigned code, const void *out, size_t len,
            const char *text)
{
    struct inline_run *run = arg;

    if (run->tc != NULL) {
        run->tc->run = NULL;
        answer(run->tc, code, out, len, text);
    } else if (code != FPMD_TASK_DONE) {
        fpmd_log(FPMD_LOG_WARNING, "%s", text);
    }
    free(run);
    tc_state.inline_runs--;
}

unsigned
fpmd_task_inline_runs(void)
{
    return tc_state.inline_runs;
}

static void
inline_start(evutil_socket_t fd, short what, void *arg)
{
    struct inline_run *run = arg;

    (void) fd;
    (void) what;
    if (fpmd_task_run(run->def, run->in, run->len, inline_done, run) == NULL)
        inline_done(run, FPMD_TASK_FAILED, NULL, 0, "out of memory");
}

/* def on a copy of data, from the next loop pass; tc (NULL: posted)
 * gets the result. */
static int
inline_run(const struct fpmd_task_def *def, const void *data, size_t len,
           struct task_call *tc)
{
    struct inline_run *run = malloc(sizeof(*run) + len);

    if (run == NULL)
        return FPMD_ERROR;
    run->tc = tc;
    run->def = def;
    run->len = len;
    if (len > 0)
        memcpy(run->in, data, len);
    if (event_base_once(fpmd_process.base, -1, EV_TIMEOUT, inline_start, run,
                        NULL) != 0) {
        free(run);
        return FPMD_ERROR;
    }
    if (tc != NULL)
        tc->run = run;
    tc_state.inline_runs++;
    return FPMD_OK;
}

/* The frame for name on the queue, with our result socket unless
 * noreply. FPMD_OK, FPMD_AGAIN when the queue is full, FPMD_ERROR. */
static int
send_frame(const char *name, size_t name_len, const void *data, size_t len,
           uint64_t id, bool noreply, const char **why)
{
    struct fpmd_task_board *b = fpmd_process.tasks;
    struct fpmd_task_frame f = {
        .kind = FPMD_TASK_FRAME_RUN, .code = noreply ? FPMD_TASK_NOREPLY : 0,
        .sender = getpid(), .id = id, .text = name, .text_len = name_len,
        .payload = data, .len = len};
    uint8_t head[FPMD_TASK_FRAME_HEAD + FPMD_TASK_TEXT_MAX];
    struct iovec iov[2] = {{head, fpmd_task_frame_head(&f, head)},
                           {(void *) data, len}};
    union {
        struct cmsghdr align;
        char buf[CMSG_SPACE(sizeof(int))];
    } ctl;
    struct msghdr msg = {.msg_iov = iov, .msg_iovlen = len > 0 ? 2 : 1};

    if (!noreply) {
        struct cmsghdr *c;

        msg.msg_control = ctl.buf;
        msg.msg_controllen = sizeof(ctl.buf);
        c = CMSG_FIRSTHDR(&msg);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(c), &fpmd_process.task_reply_to, sizeof(int));
    }
    if (!fpmd_task_board_enqueue(b, fpmd_process.conf->tasks.queue)) {
        *why = "the task queue is full (tasks.queue)";
        fpmd_task_board_add(&b->rejected, 1);
        return FPMD_AGAIN;
    }
    if (sendmsg(fpmd_process.task_queue, &msg, MSG_DONTWAIT | MSG_NOSIGNAL)
        >= 0)
        return FPMD_OK;
    fpmd_task_board_dequeue(b);
    /* The socket's buffer, or the kernel's bound on descriptors in
     * flight (the open-files limit of this user), is full too. */
    if (errno == EAGAIN || errno == ENOBUFS || errno == ETOOMANYREFS) {
        *why = errno == ETOOMANYREFS
            ? "the task queue is full (descriptors in flight: raise "
              "rlimit_files)"
            : "the task queue is full (its socket buffer)";
        fpmd_task_board_add(&b->rejected, 1);
        return FPMD_AGAIN;
    }
    *why = strerror(errno);
    return FPMD_ERROR;
}

/* What keeps name with len bytes of input from being queued here (and
 * awaited), and the call status that says so; NULL when nothing does. */
static const char *
refusal(const char *name, size_t len, bool await,
        const struct fpmd_task_def **def, enum fpmd_call_status *status)
{
    *def = name != NULL ? fpmd_task_find(name, strlen(name)) : NULL;
    *status = FPMD_CALL_INVALID;
    if (*def == NULL)
        return "no such FPMD_TASK";
    if (len > fpmd_process.conf->tasks.max_payload)
        return "its input is over tasks.max_payload";
    if (fpmd_process.task_queue < 0 && !fpmd_process.task_inline) {
        *status = FPMD_CALL_DOWN;
        return "no task processes (tasks.workers is 0)";
    }
    if (await && fpmd_process.task_process)
        return "a task awaits no task (fpmd_task_post queues one)";
    return NULL;
}

struct fpmd_call *
fpmd_task_start(struct fpmd_req *req, const char *name, const void *data,
                size_t len)
{
    struct task_call *tc = fpmd_alloc(req, sizeof(*tc));
    struct fpmd_call *call = tc ? fpmd_call_new_other(req, &task_ops, tc)
                                : NULL;
    const struct fpmd_task_def *def;
    enum fpmd_call_status status;
    const char *why;
    int rc;

    if (call == NULL)
        return NULL;
    memset(tc, 0, sizeof(*tc));
    tc->call = call;
    snprintf(tc->tname, sizeof(tc->tname), "%s", name ? name : "");
    why = refusal(name, len, true, &def, &status);
    if (why != NULL) {
        fpmd_pool_call_fail(call, status, "task %s: %s", tc->tname, why);
        return call;
    }
    if (fpmd_process.task_inline) {
        if (inline_run(def, data, len, tc) != FPMD_OK)
            fpmd_pool_call_fail(call, FPMD_CALL_FAILED, "out of memory");
        else
            fpmd_call_other_wait(call, fpmd_process.conf->tasks.timeout_ms);
        return call;
    }
    tc->id = ++tc_state.last_id;
    rc = send_frame(def->name, strlen(def->name), data, len, tc->id, false,
                    &why);
    if (rc != FPMD_OK) {
        fpmd_pool_call_fail(call, rc == FPMD_AGAIN ? FPMD_CALL_EXHAUSTED
                                                   : FPMD_CALL_FAILED,
                            "task %s: %s", tc->tname, why);
        return call;
    }
    tc->next = *bucket(tc->id);
    *bucket(tc->id) = tc;
    fpmd_call_other_wait(call, fpmd_process.conf->tasks.timeout_ms);
    return call;
}

static const char *
json_text(struct json_object *obj, size_t *len)
{
    return json_object_to_json_string_length(obj, JSON_C_TO_STRING_PLAIN,
                                              len);
}

struct fpmd_call *
fpmd_task_start_json(struct fpmd_req *req, const char *name,
                     struct json_object *arg)
{
    size_t len;
    const char *s = json_text(arg, &len);

    return fpmd_task_start(req, name, s ? s : "null", s ? len : 4);
}

const void *
fpmd_task_result(const struct fpmd_call *call, size_t *len)
{
    const struct task_call *tc = call->driver;

    if (call->ops != &task_ops || call->status != FPMD_CALL_OK) {
        *len = 0;
        return NULL;
    }
    *len = tc->len;
    return tc->result;
}

struct json_object *
fpmd_task_result_json(struct fpmd_call *call)
{
    struct task_call *tc = call->driver;

    if (call->ops != &task_ops || call->status != FPMD_CALL_OK)
        return NULL;
    if (!tc->json_parsed) {
        tc->json_parsed = true;
        tc->json = fpmd_req_json_keep(
            call->req, fpmd_json_parse(tc->result, tc->len,
                                       fpmd_process.conf->limits.json_depth));
    }
    return tc->json;
}

int
fpmd_task_post(const char *name, const void *data, size_t len)
{
    const struct fpmd_task_def *def;
    enum fpmd_call_status status;
    const char *why = refusal(name, len, false, &def, &status);
    int rc;

    if (why == NULL && fpmd_process.task_inline) {
        if (inline_run(def, data, len, NULL) == FPMD_OK)
            return FPMD_OK;
        why = "out of memory";
    }
    if (why != NULL) {
        fpmd_log(FPMD_LOG_WARNING, "task %s not posted: %s",
                 name ? name : "-", why);
        return FPMD_ERROR;
    }
    rc = send_frame(def->name, strlen(def->name), data, len,
                    ++tc_state.last_id, true, &why);
    if (rc != FPMD_OK)
        fpmd_log(FPMD_LOG_WARNING, "task %s not posted: %s", def->name, why);
    return rc;
}

int
fpmd_task_post_json(const char *name, struct json_object *arg)
{
    size_t len;
    const char *s = json_text(arg, &len);

    return fpmd_task_post(name, s ? s : "null", s ? len : 4);
}

/* --- the process's result socket -------------------------------------- */

static int
start(const struct fpmd_conf *conf, struct event_base *base)
{
    int fd = fpmd_process.task_reply;

    if (fd < 0)
        return FPMD_OK;
    tc_state.cap = FPMD_TASK_FRAME_HEAD + FPMD_TASK_TEXT_MAX
        + conf->tasks.max_payload + 1;
    tc_state.buf = malloc(tc_state.cap);
    tc_state.ev = event_new(base, fd, EV_READ | EV_PERSIST, on_result, NULL);
    if (tc_state.buf == NULL || tc_state.ev == NULL
        || fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0
        || event_add(tc_state.ev, NULL) != 0) {
        fpmd_log(FPMD_LOG_ALERT, "tasks: out of memory");
        return FPMD_ERROR;
    }
    return FPMD_OK;
}

static void
stop(void)
{
    if (tc_state.ev != NULL)
        event_free(tc_state.ev);
    free(tc_state.buf);
    memset(&tc_state, 0, sizeof(tc_state));
}

static struct fpmd_service service = {
    .name = "tasks", .start = start, .stop = stop,
};

__attribute__((constructor)) static void
register_service(void)
{
    fpmd_service_register(&service);
}
