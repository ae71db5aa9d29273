/* SPDX-License-Identifier: BSD-2-Clause */
/* The master's children besides the workers, and what every child does
 * first: privileges dropped (who to, fpmd_master_creds, resolved before
 * any fork) and the master's own descriptors closed
 * (fpmd_master_child_detach); user processes (processes:) and task
 * processes (tasks.workers), started, restarted after a back-off,
 * stopped and reaped; the task queue's master side (task.h): the queue
 * kept across generations, each child's result socket, the answer for a
 * task whose process died, and the tasks left queued at the end. The
 * workers themselves and the process manager are master.c's. */
#include "config.h"

#include <grp.h>
#include <pwd.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fpmd/clock.h"
#include "fpmd/etcd_agent.h"
#include "fpmd/log.h"
#include "fpmd/master_impl.h"
#include "fpmd/process.h"
#include "fpmd/tables.h"
#include "fpmd/task.h"
#include "fpmd/user_process.h"

/* A user process that ends younger than this counts as failing: it is
 * started again after a back-off that doubles from UPROC_BACKOFF_MIN_US
 * with each such end in a row, up to UPROC_BACKOFF_MAX_US. */
#define UPROC_YOUNG_US 10000000
#define UPROC_BACKOFF_MIN_US 100000
#define UPROC_BACKOFF_MAX_US 30000000
/* A task still running this long past tasks.timeout is killed. */
#define TASK_OVERRUN_US 1000000
/* A task process blocks this long at most sending a result. */
#define TASK_SEND_TIMEOUT_US 1000000

/* --- the task queue --------------------------------------------------- */

/* The queue's socket buffer: whole frames of queued tasks, as many as
 * fit (tasks.queue bounds their number first). */
#define TASK_QUEUE_BUFFER (16u << 20)

static size_t
task_frame_max(const struct fpmd_conf *conf)
{
    return FPMD_TASK_FRAME_HEAD + FPMD_TASK_TEXT_MAX + conf->tasks.max_payload;
}

/* Asks for want bytes of send buffer on fd (past net.core.wmem_max when
 * the master is root): FPMD_OK when a message of need bytes fits; *got
 * is what the kernel gave. */
static int
send_buffer(int fd, size_t want, size_t need, int *got)
{
    int v = want > INT_MAX / 2 ? INT_MAX / 2 : (int) want;
    socklen_t len = sizeof(*got);

    if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &v, sizeof(v)) < 0)
        setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &v, sizeof(v));
    if (getsockopt(fd, SOL_SOCKET, SO_SNDBUF, got, &len) < 0)
        *got = 0;
    /* the kernel's own bytes for a message come out of the buffer too */
    return *got > 0 && (size_t) *got >= need + 1024 ? FPMD_OK : FPMD_ERROR;
}

/* The queue, made for the first generation with task processes and sized
 * for each. */
int
fpmd_master_tasks_open(struct master *m, const struct fpmd_conf *conf)
{
    size_t frame = task_frame_max(conf);
    int got;

    if (conf->tasks.workers == 0)
        return FPMD_OK;
    if (m->taskq[0] < 0
        && socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, m->taskq)
               < 0) {
        fpmd_log_errno(FPMD_LOG_ALERT, "socketpair (task queue)");
        m->taskq[0] = m->taskq[1] = -1;
        return FPMD_ERROR;
    }
    if (send_buffer(m->taskq[0], frame * 4 > TASK_QUEUE_BUFFER
                                     ? frame * 4 : TASK_QUEUE_BUFFER,
                    frame, &got) != FPMD_OK) {
        fpmd_log(FPMD_LOG_ERROR, "%s:%u:%u: tasks.max_payload: a task frame "
                 "of %zu bytes does not fit the queue's socket buffer (%d "
                 "bytes): lower it, raise net.core.wmem_max or start fpmd as "
                 "root", conf->tasks.pos.file ? conf->tasks.pos.file
                                              : conf->file,
                 conf->tasks.pos.line, conf->tasks.pos.column, frame, got);
        return FPMD_ERROR;
    }
    return FPMD_OK;
}

/* A child's result socket pair: [0] it reads, [1] it sends along with
 * each frame, and the master keeps a copy of [1] to answer for a task
 * process that dies. -1s when g has no task processes. */
void
fpmd_master_reply_pair(const struct master *m, const struct gen *g,
                       int r[2])
{
    size_t frame = task_frame_max(g->conf);
    struct timeval tv = {TASK_SEND_TIMEOUT_US / 1000000,
                         TASK_SEND_TIMEOUT_US % 1000000};
    int got;

    r[0] = r[1] = -1;
    if (g->conf->tasks.workers == 0 || m->taskq[0] < 0)
        return;
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, r) < 0) {
        fpmd_log_errno(FPMD_LOG_ERROR, "socketpair (task results): this "
                       "process starts no task");
        r[0] = r[1] = -1;
        return;
    }
    /* a result is as large as a frame the queue took */
    send_buffer(r[1], frame * 4, frame, &got);
    setsockopt(r[1], SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

/* In a new child: the queue as its generation and kind have it (r: its
 * result pair, from reply_pair); the other children's result sockets,
 * which are the master's, closed. */
void
fpmd_master_child_tasks(const struct master *m, const struct gen *g,
                        const int r[2], bool task_process)
{
    for (size_t i = 0; i < m->nchildren_cap; i++) {
        if (m->children[i].pid != 0 && m->children[i].reply_fd >= 0)
            close(m->children[i].reply_fd);
    }
    for (size_t i = 0; i < m->nuprocs; i++) {
        if (m->uprocs[i].pid != 0 && m->uprocs[i].reply_fd >= 0)
            close(m->uprocs[i].reply_fd);
    }
    fpmd_process.tasks = m->board;
    if (m->taskq[0] < 0)
        return;
    if (g->conf->tasks.workers == 0 || (!task_process && r[0] < 0)) {
        close(m->taskq[0]);
        close(m->taskq[1]);
        return;
    }
    fpmd_process.task_queue = m->taskq[0];
    if (task_process)
        fpmd_process.task_take = m->taskq[1];
    else
        close(m->taskq[1]);
    fpmd_process.task_reply = r[0];
    fpmd_process.task_reply_to = r[1];
}

/* The child or user process pid's result socket, -1: none. */
static int
reply_fd_of(const struct master *m, pid_t pid)
{
    for (size_t i = 0; i < m->nchildren_cap; i++) {
        if (m->children[i].pid == pid)
            return m->children[i].reply_fd;
    }
    for (size_t i = 0; i < m->nuprocs; i++) {
        if (m->uprocs[i].pid == pid)
            return m->uprocs[i].reply_fd;
    }
    return -1;
}

/* Task process u ended. A task it was running is lost: counted, logged,
 * and its sender told at once rather than at its timeout. */
static void
task_process_ended(struct master *m, const struct uproc *u, int status)
{
    struct fpmd_task_slot *s = &m->board->slots[u->index];
    char name[FPMD_TASK_NAME_MAX + 1], text[FPMD_TASK_TEXT_MAX + 1];

    m->board->workers--;
    if (__atomic_load_n(&s->busy, __ATOMIC_ACQUIRE)) {
        memcpy(name, s->name, sizeof(name) - 1);
        name[sizeof(name) - 1] = '\0';
        snprintf(text, sizeof(text), "task %s lost: its task process %d %s "
                 "%d%s", name, (int) u->pid,
                 WIFSIGNALED(status) ? "died on signal" : "exited with code",
                 WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status),
                 u->overran ? " (killed: it ran past tasks.timeout)" : "");
        fpmd_task_board_add(u->overran ? &m->board->failed
                                       : &m->board->dropped, 1);
        fpmd_log(FPMD_LOG_WARNING, "[pool %s] %s (id %llu from %d)",
                 u->gen->conf->pool_name, text, (unsigned long long) s->id,
                 (int) s->sender);
        if (!s->noreply) {
            struct fpmd_task_frame f = {
                .kind = FPMD_TASK_FRAME_RESULT, .code = FPMD_TASK_DIED,
                .sender = getpid(), .id = s->id, .text = text,
                .text_len = strlen(text)};
            uint8_t frame[FPMD_TASK_FRAME_HEAD + FPMD_TASK_TEXT_MAX];
            int fd = reply_fd_of(m, s->sender);

            if (fd >= 0)
                send(fd, frame, fpmd_task_frame_head(&f, frame),
                     MSG_DONTWAIT | MSG_NOSIGNAL);
        }
    }
    memset(s, 0, sizeof(*s));
}

/* A task process running one past tasks.timeout is killed: its loop may
 * be blocked by the task (that is what task processes are for), so
 * nothing in it could stop the task. */
static void
task_overrun(struct uproc *u, const struct fpmd_task_slot *s, uint64_t now)
{
    uint64_t bound = u->gen->conf->tasks.timeout_ms * 1000 + TASK_OVERRUN_US;
    uint64_t start = s->start_us;

    if (u->killed || !__atomic_load_n(&s->busy, __ATOMIC_ACQUIRE)
        || now <= start || now - start <= bound)
        return;
    fpmd_log(FPMD_LOG_WARNING, "[pool %s] task %.64s (id %llu) still running "
             "%.1f s after its start (tasks.timeout %.1f s): killing task "
             "process %d", u->gen->conf->pool_name, s->name,
             (unsigned long long) s->id, (double) (now - start) / 1e6,
             (double) u->gen->conf->tasks.timeout_ms / 1e3, (int) u->pid);
    u->killed = u->overran = true;
    kill(u->pid, SIGKILL);
}

/* At the end: what is still queued will not run. Each is counted and
 * logged (the first ones by name), never dropped silently. */
void
fpmd_master_tasks_close(struct master *m)
{
    uint8_t buf[FPMD_TASK_FRAME_HEAD + FPMD_TASK_NAME_MAX];
    unsigned long n = 0;

    if (m->taskq[1] >= 0) {
        for (;;) {
            union {
                struct cmsghdr align;
                char buf[CMSG_SPACE(sizeof(int) * 4)];
            } ctl;
            struct iovec iov = {buf, sizeof(buf)};
            struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1,
                                 .msg_control = ctl.buf,
                                 .msg_controllen = sizeof(ctl.buf)};
            struct fpmd_task_frame f = {0};
            const char *why;
            size_t used;
            ssize_t got = recvmsg(m->taskq[1], &msg, MSG_DONTWAIT);

            if (got <= 0)
                break;
            for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c != NULL;
                 c = CMSG_NXTHDR(&msg, c)) {
                for (size_t i = 0; c->cmsg_type == SCM_RIGHTS
                     && i < (c->cmsg_len - CMSG_LEN(0)) / sizeof(int); i++) {
                    int fd;

                    memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
                    close(fd);
                }
            }
            n++;
            fpmd_task_board_add(&m->board->dropped, 1);
            /* cut at the name: the parse stops short of the payload */
            fpmd_task_frame_parse(buf, (size_t) got, FPMD_TASK_PAYLOAD_MAX,
                                  &f, &used, &why);
            if (n <= 20)
                fpmd_log(FPMD_LOG_WARNING, "task %.*s (id %llu from %d) "
                         "dropped: fpmd stopped before it ran",
                         f.text ? (int) f.text_len : 1, f.text ? f.text : "?",
                         (unsigned long long) f.id, (int) f.sender);
        }
        if (n > 20)
            fpmd_log(FPMD_LOG_WARNING, "%lu queued tasks dropped in all: fpmd "
                     "stopped before they ran", n);
        close(m->taskq[0]);
        close(m->taskq[1]);
    }
    fpmd_task_board_free(m->board);
}

int
fpmd_master_creds(const struct fpmd_conf *conf, bool allow_root,
                  struct fpmd_creds *out)
{
    const char *pool = conf->pool_name;
    struct passwd *pw;
    struct group *gr;

    memset(out, 0, sizeof(*out));
    if (geteuid() != 0)
        return FPMD_OK;
    if (conf->user == NULL && !allow_root) {
        fpmd_log(FPMD_LOG_ALERT, "[pool %s] user has not been defined", pool);
        return FPMD_ERROR;
    }
    if (conf->user != NULL) {
        pw = getpwnam(conf->user);
        if (pw == NULL) {
            fpmd_log(FPMD_LOG_ERROR, "[pool %s] cannot get uid for user '%s'",
                     pool, conf->user);
            return FPMD_ERROR;
        }
        out->uid = pw->pw_uid;
        out->gid = pw->pw_gid;
        out->set_uid = out->set_gid = true;
    }
    if (conf->group != NULL) {
        gr = getgrnam(conf->group);
        if (gr == NULL) {
            fpmd_log(FPMD_LOG_ERROR, "[pool %s] cannot get gid for group "
                     "'%s'", pool, conf->group);
            return FPMD_ERROR;
        }
        out->gid = gr->gr_gid;
        out->set_gid = true;
    }
    if (!allow_root && (out->uid == 0 || out->gid == 0)) {
        fpmd_log(FPMD_LOG_ERROR, "[pool %s] please specify user and group "
                 "other than root", pool);
        return FPMD_ERROR;
    }
    return FPMD_OK;
}

static int
drop_privileges(const struct fpmd_conf *conf, const struct fpmd_creds *cr)
{
    if (cr->set_gid && setgid(cr->gid) < 0) {
        fpmd_log_errno(FPMD_LOG_ALERT, "[pool %s] cannot set gid %d",
                       conf->pool_name, (int) cr->gid);
        return FPMD_ERROR;
    }
    /* Supplementary groups: the user's, or none, never the master's. */
    if ((cr->set_uid ? initgroups(conf->user, cr->gid)
                     : cr->set_gid ? setgroups(0, NULL) : 0) < 0) {
        fpmd_log_errno(FPMD_LOG_ALERT, "[pool %s] cannot set the groups of "
                       "user %s", conf->pool_name,
                       conf->user ? conf->user : "-");
        return FPMD_ERROR;
    }
    if (cr->set_uid && setuid(cr->uid) < 0) {
        fpmd_log_errno(FPMD_LOG_ALERT, "[pool %s] cannot switch to user %s",
                       conf->pool_name, conf->user);
        return FPMD_ERROR;
    }
    return FPMD_OK;
}

/* In a new child, before it runs anything of its own: what is only the
 * master's closed, signals as the child kind wants them, privileges
 * dropped. */
void
fpmd_master_child_detach(struct master *m, struct gen *g)
{
    sigset_t unblock;

    close(m->sigfd);
    if (m->opts->ready_fd >= 0)
        close(m->opts->ready_fd);
    /* The worker reads USR1/QUIT/TERM/INT through its own signalfd, so they
     * stay blocked; everything else gets its default back. */
    sigemptyset(&unblock);
    sigaddset(&unblock, SIGCHLD);
    sigaddset(&unblock, SIGUSR2);
    sigaddset(&unblock, SIGHUP);
    sigprocmask(SIG_UNBLOCK, &unblock, NULL);
    signal(SIGUSR2, SIG_IGN);
    signal(SIGHUP, SIG_IGN);
    signal(SIGCHLD, SIG_DFL);
    for (struct gen *o = m->old; o != NULL; o = o->next) {
        for (size_t i = 0; i < o->nlisteners; i++) {
            if (o->listeners[i].fd >= 0)
                close(o->listeners[i].fd);
        }
    }
    if (drop_privileges(g->conf, &g->creds) != FPMD_OK)
        _exit(EXIT_CONFIG);
    fpmd_process.breakers = g->breakers;
    fpmd_process.discovery = g->discovery;
    fpmd_process.ratelimit = g->ratelimit;
    fpmd_tables_attach(g->conf, g->tables);
}

/* --- user and task processes ------------------------------------------ */

/* For the log: "process NAME" and "task process" read alike. */
static const char *
uproc_name(const struct uproc *u)
{
    return u->task ? "process" : u->agent ? "etcd"
                   : u->gen->conf->processes[u->index].name;
}

/* A free row of the task board for a task process starting. */
static bool
task_slot(const struct master *m, size_t *index)
{
    for (size_t i = 0; i < FPMD_TASK_SLOTS; i++) {
        if (m->board->slots[i].pid == 0) {
            *index = i;
            return true;
        }
    }
    return false;
}

static void
uproc_start(struct master *m, struct uproc *u)
{
    const char *name = uproc_name(u);
    int reply[2] = {-1, -1};
    pid_t pid;

    if (u->task && !task_slot(m, &u->index)) {
        fpmd_log(FPMD_LOG_ALERT, "no task board row free: task process not "
                 "started");
        u->next_start_us = fpmd_now_us() + UPROC_BACKOFF_MAX_US;
        return;
    }
    if (!u->task)
        fpmd_master_reply_pair(m, u->gen, reply);
    pid = fork();
    if (pid < 0) {
        fpmd_log_errno(FPMD_LOG_ERROR, "fork() failed (%s %s)",
                       u->task ? "task" : "process", name);
        u->next_start_us = fpmd_now_us() + UPROC_BACKOFF_MAX_US;
        if (reply[0] >= 0) {
            close(reply[0]);
            close(reply[1]);
        }
        return;
    }
    if (pid == 0) {
        /* nothing of the listeners or the workers' handoff is its own: a
         * listener it held would stay open after a graceful stop */
        for (size_t i = 0; i < u->gen->nlisteners; i++) {
            if (u->gen->listeners[i].fd >= 0)
                close(u->gen->listeners[i].fd);
        }
        close(m->handoff[0]);
        close(m->handoff[1]);
        fpmd_master_child_detach(m, u->gen);
        fpmd_master_child_tasks(m, u->gen, reply, u->task);
        exit(u->task ? fpmd_task_process_main(u->gen->conf,
                                              &m->board->slots[u->index])
             : u->agent ? fpmd_etcd_agent_main(u->gen->conf)
                     : fpmd_user_process_main(u->gen->conf, u->index,
                                              u->instance));
    }
    if (reply[0] >= 0)
        close(reply[0]);
    u->reply_fd = reply[1];
    u->pid = pid;
    u->started_us = fpmd_now_us();
    u->next_start_us = 0;
    u->killed = u->overran = false;
    if (u->task) {
        m->board->slots[u->index].pid = pid;
        m->board->workers++;
    }
    if (u->sb != NULL) {
        u->sb->start_us = u->started_us;
        u->sb->pid = pid;
    }
    fpmd_log(FPMD_LOG_NOTICE, "[pool %s] %s %s %u started (pid %d)",
             u->gen->conf->pool_name, u->task ? "task" : "process", name,
             u->instance, (int) pid);
}

/* g's user processes, each instance of each entry, its task processes
 * and its etcd agent, started. */
void
fpmd_master_uprocs_start(struct master *m, struct gen *g)
{
    bool agent = fpmd_etcd_agent_wanted(g->conf);
    size_t n = g->conf->tasks.workers + agent;

    for (size_t i = 0; i < g->conf->nprocesses; i++)
        n += g->conf->processes[i].count;
    if (n == 0)
        return;
    struct uproc *grown = realloc(m->uprocs,
                                  (m->nuprocs + n) * sizeof(*grown));
    if (grown == NULL) {
        fpmd_log(FPMD_LOG_ALERT, "out of memory: no user or task process "
                 "started");
        return;
    }
    m->uprocs = grown;
    n = 0;
    for (size_t i = 0; i <= g->conf->nprocesses + 1; i++) {
        bool task = i == g->conf->nprocesses;
        bool is_agent = i == g->conf->nprocesses + 1;
        unsigned count = task ? g->conf->tasks.workers : is_agent ? agent
                              : g->conf->processes[i].count;
        const char *name = is_agent ? "etcd" : task ? NULL
                                    : g->conf->processes[i].name;

        for (unsigned k = 0; k < count; k++) {
            struct uproc *u = &m->uprocs[m->nuprocs++];

            memset(u, 0, sizeof(*u));
            u->gen = g;
            u->task = task;
            u->agent = is_agent;
            u->index = i;
            u->instance = k;
            u->reply_fd = -1;
            if (!task && n < FPMD_SB_UPROCS) {
                u->sb = &g->sb->uprocs[n++];
                fpmd_scoreboard_copy_str(u->sb->name, sizeof(u->sb->name),
                                         name, strlen(name));
                u->sb->instance = k;
            }
            g->live++;
            uproc_start(m, u);
        }
    }
}

static void
uproc_remove(struct master *m, size_t i)
{
    m->uprocs[i].gen->live--;
    m->uprocs[i] = m->uprocs[--m->nuprocs];
}

/* Asks the user and task processes of generations other than keep (NULL:
 * all) to stop: sig, and no start again. Task processes get SIGQUIT with
 * task_quit (FPMD_TASK_QUIT_*), or are left running when it is -1. */
void
fpmd_master_uprocs_stop(struct master *m, const struct gen *keep, int sig,
                        int task_quit)
{
    for (size_t i = 0; i < m->nuprocs; i++) {
        struct uproc *u = &m->uprocs[i];

        if (u->gen == keep || (u->task && sig == SIGQUIT && task_quit < 0))
            continue;
        if (u->pid == 0) {
            /* waiting out a back-off: nothing to stop */
            uproc_remove(m, i--);
            continue;
        }
        if (u->quit_us == 0)
            u->quit_us = fpmd_now_us();
        if (u->task && sig == SIGQUIT)
            sigqueue(u->pid, SIGQUIT, (union sigval) {.sival_int = task_quit});
        else
            kill(u->pid, sig);
    }
}

/* The back-off before u starts again after ending unasked at now. A task
 * process that left on its own (tasks.max_requests), or that the master
 * killed for a task that overran, is replaced at once. */
static uint64_t
uproc_delay(struct uproc *u, int status, uint64_t now)
{
    uint64_t lived = now - u->started_us, delay;

    if (u->task && (u->overran
                    || (WIFEXITED(status) && WEXITSTATUS(status) == 0))) {
        u->fails = 0;
        return 0;
    }
    u->fails = lived < UPROC_YOUNG_US ? u->fails + 1 : 0;
    delay = u->fails == 0 ? UPROC_BACKOFF_MIN_US
        : u->fails > 9 ? UPROC_BACKOFF_MAX_US
        : UPROC_BACKOFF_MIN_US << u->fails;
    return delay > UPROC_BACKOFF_MAX_US ? UPROC_BACKOFF_MAX_US : delay;
}

/* pid ended: true when it was a user or task process. One asked to stop,
 * or of a generation gone, is forgotten; another starts again after its
 * back-off. */
bool
fpmd_master_uproc_reaped(struct master *m, pid_t pid, int status,
                         uint64_t now)
{
    for (size_t i = 0; i < m->nuprocs; i++) {
        struct uproc *u = &m->uprocs[i];
        const char *name;
        uint64_t delay;

        if (u->pid != pid)
            continue;
        name = uproc_name(u);
        if (u->task)
            task_process_ended(m, u, status);
        if (u->reply_fd >= 0)
            close(u->reply_fd);
        u->reply_fd = -1;
        u->pid = 0;
        if (u->quit_us != 0 || m->stopping || u->gen != m->cur) {
            fpmd_log(FPMD_LOG_NOTICE, "[pool %s] %s %s %u (pid %d) ended",
                     u->gen->conf->pool_name, u->task ? "task" : "process",
                     name, u->instance, (int) pid);
            uproc_remove(m, i);
            return true;
        }
        delay = uproc_delay(u, status, now);
        u->next_start_us = now + delay;
        if (u->sb != NULL) {
            u->sb->pid = 0;
            u->sb->restarts++;
        }
        fpmd_log(delay == 0 ? FPMD_LOG_NOTICE : FPMD_LOG_WARNING,
                 "[pool %s] %s %s %u (pid %d) %s %d after %.3f s; "
                 "starting it again in %.1f s", u->gen->conf->pool_name,
                 u->task ? "task" : "process", name, u->instance, (int) pid,
                 WIFSIGNALED(status) ? "died on signal" : "exited with code",
                 WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status),
                 (double) (now - u->started_us) / 1e6, (double) delay / 1e6);
        return true;
    }
    return false;
}

/* Starts those whose back-off is over; kills those that outlived
 * process_control_timeout (or the fast stop's second) after being asked
 * to stop, and task processes whose task overran. The time to the next
 * start, in ms, or -1. */
int
fpmd_master_uprocs_maintain(struct master *m, uint64_t now)
{
    int next = -1;

    for (size_t i = 0; i < m->nuprocs; i++) {
        struct uproc *u = &m->uprocs[i];
        uint64_t limit = u->gen->conf->timeouts.process_control_ms * 1000;

        if (m->stopping == STOP_FAST)
            limit = FAST_STOP_US;
        if (u->pid != 0 && u->task)
            task_overrun(u, &m->board->slots[u->index], now);
        if (u->pid != 0 && u->quit_us != 0 && !u->killed && limit != 0
            && now - u->quit_us > limit) {
            fpmd_log(FPMD_LOG_WARNING, "[pool %s] process %d still running "
                     "after process_control_timeout, sending SIGKILL",
                     u->gen->conf->pool_name, (int) u->pid);
            u->killed = true;
            kill(u->pid, SIGKILL);
        }
        if (u->pid != 0 || u->quit_us != 0 || m->stopping)
            continue;
        if (now >= u->next_start_us)
            uproc_start(m, u);
        else if (next < 0 || (u->next_start_us - now) / 1000 < (uint64_t) next)
            next = (int) ((u->next_start_us - now) / 1000) + 1;
    }
    return next;
}

/* A graceful stop: once no worker or user process is left to start a
 * task, the task processes empty the queue and end. */
void
fpmd_master_tasks_drain(struct master *m)
{
    if (m->stopping != STOP_GRACEFUL || m->tasks_draining)
        return;
    for (size_t i = 0; i < m->nchildren_cap; i++) {
        if (m->children[i].pid != 0)
            return;
    }
    for (size_t i = 0; i < m->nuprocs; i++) {
        if (m->uprocs[i].pid != 0 && !m->uprocs[i].task)
            return;
    }
    m->tasks_draining = true;
    fpmd_master_uprocs_stop(m, NULL, SIGQUIT, FPMD_TASK_QUIT_DRAIN);
}
