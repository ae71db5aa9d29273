/* SPDX-License-Identifier: BSD-2-Clause */
/* The master: a poll(2) loop over a signalfd (and, for pm ondemand, the
 * listeners). No libevent here, so forked workers inherit no event state.
 * Each config generation owns its conf, routes, listeners and scoreboard;
 * a reload starts the new generation's workers before the old ones are
 * asked to finish, and listener descriptors move from one generation to
 * the next, so the accept queue never closes. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fpmd/access_log.h"
#include "fpmd/clock.h"
#include "fpmd/cron_run.h"
#include "fpmd/handoff.h"
#include "fpmd/log.h"
#include "fpmd/master.h"
#include "fpmd/prepare.h"
#include "fpmd/process.h"
#include "fpmd/listen.h"
#include "fpmd/scoreboard.h"
#include "fpmd/tables.h"
#include "fpmd/task.h"
#include "fpmd/user_process.h"
#include "fpmd/watch.h"
#include "fpmd/worker.h"

#define EXIT_CONFIG 78
/* A child that dies younger than this counts toward the crash-loop
 * back-off. */
#define FAST_FAILURE_US 1000000
#define BACKOFF_MAX_US 30000000
/* A user process that ends younger than this counts as failing: it is
 * started again after a back-off that doubles from UPROC_BACKOFF_MIN_US
 * with each such end in a row, up to UPROC_BACKOFF_MAX_US. */
#define UPROC_YOUNG_US 10000000
#define UPROC_BACKOFF_MIN_US 100000
#define UPROC_BACKOFF_MAX_US 30000000
/* watch: how long the watched files stay quiet before the reload. */
#define WATCH_QUIET_US 300000
/* Fast stop: how long workers get for SIGTERM before SIGKILL. */
#define FAST_STOP_US 1000000
/* A task still running this long past tasks.timeout is killed. */
#define TASK_OVERRUN_US 1000000
/* A task process blocks this long at most sending a result. */
#define TASK_SEND_TIMEOUT_US 1000000

struct gen {
    uint32_t id;
    struct fpmd_conf *conf;
    struct fpmd_listener *listeners;
    size_t nlisteners;
    struct fpmd_scoreboard *sb;
    struct fpmd_creds creds;    /* what its workers run as */
    struct fpmd_table **tables; /* conf's, in its order (tables.h) */
    size_t ntables;
    unsigned live;              /* children running this generation */
    struct gen *next;           /* older generations still draining */
};

struct child {
    pid_t pid;                  /* 0: entry unused */
    struct gen *gen;
    uint32_t slot;
    uint64_t started_us;
    uint64_t quit_us;           /* when SIGQUIT was sent, 0: not yet */
    bool killed;
    int reply_fd;               /* its task results' socket (the master
                                 * answers for a task process that died),
                                 * -1: none */
};

/* A user process (processes: in the config), or a task process
 * (tasks.workers): an instance of its generation's config, started again
 * after a back-off when it ends unasked. */
struct uproc {
    pid_t pid;                  /* 0: waiting for next_start_us */
    struct gen *gen;
    bool task;                  /* a task process */
    size_t index;               /* in gen->conf->processes; a task
                                 * process's row on the task board */
    unsigned instance;
    uint64_t started_us;
    uint64_t next_start_us;
    uint64_t quit_us;           /* asked to stop: not started again */
    unsigned fails;             /* ended young, in a row */
    bool killed;
    bool overran;               /* killed for running past tasks.timeout */
    int reply_fd;               /* as a child's */
    struct fpmd_sb_uproc *sb;   /* its status page entry, NULL: none */
};

struct master {
    const struct fpmd_master_opts *opts;
    struct gen *cur;
    struct gen *old;
    struct child *children;
    size_t nchildren_cap;
    struct uproc *uprocs;
    size_t nuprocs;
    int sigfd;
    int stopping;               /* 0, STOP_GRACEFUL, STOP_FAST */
    uint64_t stop_us;
    unsigned spawn_rate;        /* pm dynamic: next round's batch */
    unsigned fast_failures;
    uint64_t next_spawn_us;     /* crash-loop back-off */
    uint64_t oom_kills_sys;     /* the kernel's counters, last reading */
    uint64_t oom_kills_cg;
    uint64_t *crashes;          /* emergency_restart ring */
    size_t ncrashes;
    uint64_t last_maintenance_us;
    uint32_t forks;             /* workers forked, for max_requests_jitter */
    uint64_t ondemand_quiet_until_us;
    bool reload_pending;
    int uproc_next_ms;          /* to the next user process start, -1 */
    int watch_fd;               /* watch: true, else -1 (watch.h) */
    uint64_t watch_due_us;      /* a change seen: reload then; 0: none */
    int handoff[2];             /* workers pass connections (handoff.h) */
    /* The task queue (task.h): [0] where frames go in, [1] where task
     * processes take them; made with the first generation that has task
     * processes and kept, with what is queued in it, to the end. */
    int taskq[2];
    struct fpmd_task_board *board;
    bool tasks_draining;        /* stopping: told to empty the queue */
};

enum { STOP_GRACEFUL = 1, STOP_FAST = 2 };

static unsigned
ncpus(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);

    return n > 0 ? (unsigned) n : 1;
}

static const char *
pm_name(enum fpmd_pm_mode m)
{
    return m == FPMD_PM_DYNAMIC ? "dynamic"
        : m == FPMD_PM_ONDEMAND ? "ondemand" : "static";
}

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
static int
tasks_open(struct master *m, const struct fpmd_conf *conf)
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
static void
reply_pair(const struct master *m, const struct gen *g, int r[2])
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
static void
child_tasks(const struct master *m, const struct gen *g, const int r[2],
            bool task_process)
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
static void
tasks_close(struct master *m)
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

/* --- generations ------------------------------------------------------ */

static unsigned
max_children(const struct fpmd_conf *conf)
{
    return conf->pm.max_children ? conf->pm.max_children : ncpus();
}

static void
gen_free(struct gen *g, int unlink_paths)
{
    for (size_t i = 0; i < g->nlisteners; i++)
        fpmd_listener_close(&g->listeners[i], unlink_paths);
    free(g->listeners);
    fpmd_tables_close(g->tables, g->ntables);
    fpmd_scoreboard_free(g->sb);
    fpmd_conf_free(g->conf);
    free(g);
}

/* Opens conf's listeners, adopting the descriptors of prev's listeners
 * for unchanged addresses. On failure nothing of prev is touched. */
static int
gen_listen(struct gen *g, struct gen *prev)
{
    const struct fpmd_conf *conf = g->conf;
    int *adopt;
    size_t i;

    g->listeners = calloc(conf->nlisten ? conf->nlisten : 1,
                          sizeof(*g->listeners));
    adopt = calloc(conf->nlisten ? conf->nlisten : 1, sizeof(*adopt));
    if (g->listeners == NULL || adopt == NULL) {
        free(adopt);
        return FPMD_ERROR;
    }
    for (i = 0; i < conf->nlisten; i++) {
        adopt[i] = -1;
        for (size_t j = 0; prev != NULL && j < prev->nlisteners; j++) {
            if (prev->listeners[j].fd >= 0
                && strcmp(prev->listeners[j].address,
                          conf->listen[i].address) == 0)
                adopt[i] = (int) j;
        }
        g->listeners[i].fd = -1;
    }
    for (i = 0; i < conf->nlisten; i++) {
        if (adopt[i] >= 0)
            continue;
        if (fpmd_listener_open(&g->listeners[i], &conf->listen[i]) != FPMD_OK)
            break;
    }
    if (i < conf->nlisten) {
        for (size_t j = 0; j < i; j++) {
            if (adopt[j] < 0)
                fpmd_listener_close(&g->listeners[j], 1);
        }
        free(adopt);
        return FPMD_ERROR;
    }
    for (i = 0; i < conf->nlisten; i++) {
        if (adopt[i] >= 0)
            fpmd_listener_adopt(&g->listeners[i], &conf->listen[i],
                                &prev->listeners[adopt[i]]);
    }
    g->nlisteners = conf->nlisten;
    free(adopt);
    return FPMD_OK;
}

static struct gen *
gen_new(struct master *m, struct fpmd_conf *conf, struct gen *prev)
{
    struct gen *g = calloc(1, sizeof(*g));
    char err[512];

    if (g == NULL)
        return NULL;
    g->id = prev ? prev->id + 1 : 1;
    g->conf = conf;
    if (conf->pm.max_children == 0)
        conf->pm.max_children = ncpus();
    g->sb = fpmd_scoreboard_new(max_children(conf));
    if (fpmd_master_creds(conf, m->opts->allow_root, &g->creds) != FPMD_OK
        || g->sb == NULL || tasks_open(m, conf) != FPMD_OK) {
        /* conf stays with the caller on failure */
        g->conf = NULL;
        gen_free(g, 0);
        return NULL;
    }
    g->tables = fpmd_tables_open(conf, prev ? prev->tables : NULL,
                                 prev ? prev->conf : NULL, err, sizeof(err));
    if (g->tables == NULL)
        fpmd_log(FPMD_LOG_ERROR, "%s", err);
    if (g->tables == NULL || gen_listen(g, prev) != FPMD_OK) {
        /* prev's tables stay prev's */
        fpmd_tables_drop(g->tables, conf->ntables, prev ? prev->tables : NULL,
                         prev ? prev->ntables : 0);
        g->tables = NULL;
        g->conf = NULL;
        gen_free(g, 0);
        return NULL;
    }
    g->ntables = conf->ntables;
    fpmd_tables_commit(conf, g->tables, prev ? prev->tables : NULL,
                       prev ? prev->ntables : 0);
    fpmd_scoreboard_copy_str(g->sb->pool.name, sizeof(g->sb->pool.name),
                             conf->pool_name, strlen(conf->pool_name));
    g->sb->pool.pm_mode = conf->pm.mode;
    g->sb->pool.start_us = prev ? prev->sb->pool.start_us : fpmd_now_us();
    return g;
}

/* --- children --------------------------------------------------------- */

static struct child *
child_alloc(struct master *m)
{
    for (size_t i = 0; i < m->nchildren_cap; i++) {
        if (m->children[i].pid == 0)
            return &m->children[i];
    }
    size_t old = m->nchildren_cap;
    size_t cap = old ? old * 2 : 16;
    struct child *grown = realloc(m->children, cap * sizeof(*grown));

    if (grown == NULL)
        return NULL;
    memset(grown + old, 0, (cap - old) * sizeof(*grown));
    for (size_t i = old; i < cap; i++)
        grown[i].reply_fd = -1;
    m->children = grown;
    m->nchildren_cap = cap;
    return &m->children[old];
}

static int
free_slot(struct master *m, struct gen *g, uint32_t *slot)
{
    for (uint32_t s = 0; s < g->sb->nslots; s++) {
        int used = 0;

        for (size_t i = 0; i < m->nchildren_cap && !used; i++)
            used = m->children[i].pid != 0 && m->children[i].gen == g
                && m->children[i].slot == s;
        if (!used) {
            *slot = s;
            return FPMD_OK;
        }
    }
    return FPMD_ERROR;
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

/* A worker's recycling count: pm.max_requests and a share of its jitter.
 * The shares follow the golden ratio's multiples (Fibonacci hashing): any
 * run of consecutive forks lands spread over [0, jitter], so workers
 * started together recycle apart, reproducibly. */
static uint64_t
worker_max_requests(const struct fpmd_conf *conf, uint32_t fork)
{
    uint32_t spread = fork * 2654435769u;

    if (conf->pm.max_requests == 0)
        return 0;
    return conf->pm.max_requests
        + (((uint64_t) spread * ((uint64_t) conf->pm.max_requests_jitter + 1))
           >> 32);
}

/* In a new child, before it runs anything of its own: what is only the
 * master's closed, signals as the child kind wants them, privileges
 * dropped. */
static void
child_detach(struct master *m, struct gen *g)
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
    fpmd_tables_attach(g->conf, g->tables);
}

static void
child_main(struct master *m, struct gen *g, uint32_t slot,
           uint64_t max_requests, const int reply[2])
{
    child_detach(m, g);
    child_tasks(m, g, reply, false);
    exit(fpmd_worker_main(g->conf, g->listeners, g->nlisteners, g->sb, slot,
                          g->id, m->handoff, max_requests));
}

/* --- user and task processes ------------------------------------------ */

/* For the log: "process NAME" and "task process" read alike. */
static const char *
uproc_name(const struct uproc *u)
{
    return u->task ? "process" : u->gen->conf->processes[u->index].name;
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
        reply_pair(m, u->gen, reply);
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
        child_detach(m, u->gen);
        child_tasks(m, u->gen, reply, u->task);
        exit(u->task ? fpmd_task_process_main(u->gen->conf,
                                              &m->board->slots[u->index])
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

/* g's user processes, each instance of each entry, and its task
 * processes, started. */
static void
uprocs_start(struct master *m, struct gen *g)
{
    size_t n = g->conf->tasks.workers;

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
    for (size_t i = 0; i <= g->conf->nprocesses; i++) {
        bool task = i == g->conf->nprocesses;
        unsigned count = task ? g->conf->tasks.workers
                              : g->conf->processes[i].count;

        for (unsigned k = 0; k < count; k++) {
            struct uproc *u = &m->uprocs[m->nuprocs++];

            memset(u, 0, sizeof(*u));
            u->gen = g;
            u->task = task;
            u->index = i;
            u->instance = k;
            u->reply_fd = -1;
            if (!task && n < FPMD_SB_UPROCS) {
                u->sb = &g->sb->uprocs[n++];
                fpmd_scoreboard_copy_str(u->sb->name, sizeof(u->sb->name),
                                         g->conf->processes[i].name,
                                         strlen(g->conf->processes[i].name));
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
static void
uprocs_stop(struct master *m, const struct gen *keep, int sig, int task_quit)
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
static bool
uproc_reaped(struct master *m, pid_t pid, int status, uint64_t now)
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
static int
uprocs_maintain(struct master *m, uint64_t now)
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
static void
tasks_drain_when_alone(struct master *m)
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
    uprocs_stop(m, NULL, SIGQUIT, FPMD_TASK_QUIT_DRAIN);
}

static int
spawn(struct master *m, struct gen *g)
{
    struct child *c;
    uint64_t max_requests;
    uint32_t slot;
    int reply[2];
    pid_t pid;

    if (free_slot(m, g, &slot) != FPMD_OK)
        return FPMD_ERROR;
    c = child_alloc(m);
    if (c == NULL)
        return FPMD_ERROR;
    memset(&g->sb->slots[slot], 0, sizeof(g->sb->slots[slot]));
    g->sb->slots[slot].state = FPMD_SB_STARTING;
    g->sb->slots[slot].start_us = fpmd_now_us();
    max_requests = worker_max_requests(g->conf, m->forks++);
    reply_pair(m, g, reply);
    pid = fork();
    if (pid < 0) {
        fpmd_log_errno(FPMD_LOG_ERROR, "fork() failed");
        g->sb->slots[slot].state = FPMD_SB_FREE;
        if (reply[0] >= 0) {
            close(reply[0]);
            close(reply[1]);
        }
        return FPMD_ERROR;
    }
    if (pid == 0)
        child_main(m, g, slot, max_requests, reply);
    if (reply[0] >= 0)
        close(reply[0]);
    c->reply_fd = reply[1];
    c->pid = pid;
    c->gen = g;
    c->slot = slot;
    c->started_us = fpmd_now_us();
    c->quit_us = 0;
    c->killed = false;
    g->live++;
    fpmd_log(FPMD_LOG_NOTICE, "[pool %s] child %d started", g->conf->pool_name,
             (int) pid);
    return FPMD_OK;
}

/* SIGQUIT carries what the worker does with its kept-alive connections
 * (sigqueue's value; a plain kill from an operator means handoff). */
static void
send_quit(struct child *c, enum fpmd_worker_quit how)
{
    union sigval v = {.sival_int = (int) how};

    if (c->quit_us != 0 && how == FPMD_QUIT_HANDOFF)
        return;
    if (c->quit_us == 0)
        c->quit_us = fpmd_now_us();
    sigqueue(c->pid, SIGQUIT, v);
}

/* The master's own view of a child's slot, sanitized. */
static int
read_slot(const struct child *c, struct fpmd_sb_slot *out)
{
    return fpmd_scoreboard_read(c->gen->sb, c->slot, out);
}

/* 1 when c is a running child of g, not asked to quit, idle now; its
 * slot is copied to *s. */
static int
idle_child(const struct child *c, const struct gen *g, struct fpmd_sb_slot *s)
{
    return c->pid != 0 && c->gen == g && c->quit_us == 0
        && read_slot(c, s) == FPMD_OK && s->state == FPMD_SB_IDLE;
}

static unsigned
count_children(const struct master *m, const struct gen *g, unsigned *idle,
               unsigned *busy)
{
    unsigned total = 0;

    *idle = *busy = 0;
    for (size_t i = 0; i < m->nchildren_cap; i++) {
        const struct child *c = &m->children[i];
        struct fpmd_sb_slot s;

        if (c->pid == 0 || c->gen != g || c->quit_us != 0)
            continue;
        total++;
        /* A child still starting counts as idle: it will be, and counting
         * it avoids forking a second one for the same gap. */
        if (read_slot(c, &s) != FPMD_OK || s.state == FPMD_SB_STARTING
            || s.state == FPMD_SB_IDLE)
            (*idle)++;
        else if (s.state == FPMD_SB_BUSY)
            (*busy)++;
    }
    return total;
}

static const char *
signal_name(int sig)
{
    static char buf[32];
    const char *abbrev = sigabbrev_np(sig);

    snprintf(buf, sizeof(buf), "SIG%s", abbrev ? abbrev : "?");
    return buf;
}

static void
note_crash(struct master *m, uint64_t now)
{
    struct fpmd_conf *conf = m->cur->conf;
    size_t keep = 0;

    if (conf->emergency_restart_threshold == 0
        || conf->emergency_restart_interval_ms == 0)
        return;
    if (m->crashes == NULL) {
        m->crashes = calloc(conf->emergency_restart_threshold,
                            sizeof(*m->crashes));
        if (m->crashes == NULL)
            return;
        m->ncrashes = 0;
    }
    for (size_t i = 0; i < m->ncrashes; i++) {
        if (now - m->crashes[i] <= conf->emergency_restart_interval_ms * 1000)
            m->crashes[keep++] = m->crashes[i];
    }
    m->ncrashes = keep;
    if (m->ncrashes < conf->emergency_restart_threshold)
        m->crashes[m->ncrashes++] = now;
    if (m->ncrashes >= conf->emergency_restart_threshold) {
        fpmd_log(FPMD_LOG_WARNING, "failed processes threshold (%u in %.0f "
                 "sec) is reached, initiating reload",
                 conf->emergency_restart_threshold,
                 (double) conf->emergency_restart_interval_ms / 1000.0);
        m->ncrashes = 0;
        m->reload_pending = true;
    }
}

/* Signals that mean the worker itself went wrong (a fault, abort(), a
 * seccomp kill), as opposed to one sent from outside to end it. */
static int
crash_signal(int sig)
{
    switch (sig) {
    case SIGSEGV:
    case SIGBUS:
    case SIGILL:
    case SIGFPE:
    case SIGABRT:
    case SIGSYS:
    case SIGTRAP:
        return 1;
    default:
        return 0;
    }
}

static int
sent_by_master(const struct master *m, const struct child *c, int sig)
{
    return c->killed || (m->stopping && sig == SIGTERM);
}

static void
back_off(struct master *m, const struct child *c, uint64_t now)
{
    uint64_t delay = 100000ULL << (m->fast_failures < 8 ? m->fast_failures
                                                        : 8);

    m->fast_failures++;
    if (delay > BACKOFF_MAX_US)
        delay = BACKOFF_MAX_US;
    m->next_spawn_us = now + delay;
    if (m->fast_failures >= 3)
        fpmd_log(FPMD_LOG_WARNING, "[pool %s] children keep dying at start "
                 "(%u in a row); next spawn in %.1f s",
                 c->gen->conf->pool_name, m->fast_failures,
                 (double) delay / 1e6);
}

/* The crash-loop back-off is about workers that cannot start: a young one
 * that exits non-zero (a config or module failure, the privilege drop) or
 * crashes feeds it; one that lived, or left cleanly, starts its count over.
 * A kill from outside (an operator, the OOM killer) says nothing either
 * way, so it does neither: feeding the back-off would let kills empty the
 * pool, and starting the count over would let kills hold a crash loop at
 * 0.1 s. */
static void
track_backoff(struct master *m, const struct child *c, int status,
              uint64_t now)
{
    int failed;

    if (WIFSIGNALED(status)) {
        int sig = WTERMSIG(status);

        if (sent_by_master(m, c, sig))
            failed = 0;
        else if (crash_signal(sig))
            failed = 1;
        else
            return;
    } else {
        failed = WEXITSTATUS(status) != 0;
    }
    if (!failed || now - c->started_us >= FAST_FAILURE_US)
        m->fast_failures = 0;
    else if (c->quit_us == 0)
        back_off(m, c, now);
}

/* The first "oom_kill N" of a kernel counter file; 0 when unreadable. */
static uint64_t
read_oom_kill(const char *path)
{
    FILE *f = fopen(path, "re");
    char line[256];
    unsigned long long n = 0;

    if (f == NULL)
        return 0;
    while (fgets(line, sizeof(line), f) != NULL
           && sscanf(line, "oom_kill %llu", &n) != 1)
        ;
    fclose(f);
    return n;
}

/* Workers are born in the master's cgroup, so on cgroup v2 its
 * memory.events counts their OOM kills, including those of a cgroup
 * limit; re-read each time, as the master may have been moved. */
static uint64_t
read_cgroup_oom_kill(void)
{
    FILE *f = fopen("/proc/self/cgroup", "re");
    char line[4096], path[4096 + 64];
    uint64_t n = 0;

    if (f == NULL)
        return 0;
    while (fgets(line, sizeof(line), f) != NULL) {
        if (strncmp(line, "0::", 3) == 0) {
            line[strcspn(line, "\n")] = '\0';
            snprintf(path, sizeof(path), "/sys/fs/cgroup%s/memory.events",
                     line + 3);
            n = read_oom_kill(path);
            break;
        }
    }
    fclose(f);
    return n;
}

/* Reads the kernel's OOM-kill counters (system-wide, and the master's
 * cgroup) and returns 1 when either rose since the last reading. The
 * kernel counts a kill before it sends the SIGKILL, so a victim being
 * reaped is already counted. */
static int
note_oom_kills(struct master *m)
{
    uint64_t sys = read_oom_kill("/proc/vmstat");
    uint64_t cg = read_cgroup_oom_kill();
    int rose = sys > m->oom_kills_sys || cg > m->oom_kills_cg;

    m->oom_kills_sys = sys;
    m->oom_kills_cg = cg;
    return rose;
}

static void
log_signal_death(const struct master *m, const struct child *c, int sig,
                 double lived, int oom_kills_rose)
{
    const char *pool = c->gen->conf->pool_name;

    if (sig == SIGKILL && !sent_by_master(m, c, sig) && oom_kills_rose) {
        fpmd_log(FPMD_LOG_WARNING, "[pool %s] child %d was killed by the OOM "
                 "killer (SIGKILL) after %.6f seconds from start; lower "
                 "pm.max_children or memory use", pool, (int) c->pid, lived);
        return;
    }
    fpmd_log(sent_by_master(m, c, sig) ? FPMD_LOG_NOTICE : FPMD_LOG_WARNING,
             "[pool %s] child %d exited on signal %d (%s) after %.6f "
             "seconds from start", pool, (int) c->pid, sig, signal_name(sig),
             lived);
}

static void
reap(struct master *m)
{
    int status;
    pid_t pid;

    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        struct child *c = NULL;
        uint64_t now = fpmd_now_us();
        struct fpmd_sb_slot s;
        double lived;
        int oom_kills_rose;

        if (uproc_reaped(m, pid, status, now))
            continue;
        for (size_t i = 0; i < m->nchildren_cap && c == NULL; i++) {
            if (m->children[i].pid == pid)
                c = &m->children[i];
        }
        if (c == NULL)
            continue;
        lived = (double) (now - c->started_us) / 1e6;
        oom_kills_rose = note_oom_kills(m);
        if (WIFSIGNALED(status)) {
            int sig = WTERMSIG(status);

            log_signal_death(m, c, sig, lived, oom_kills_rose);
            if (sig == SIGSEGV || sig == SIGBUS)
                note_crash(m, now);
        } else {
            fpmd_log(WEXITSTATUS(status) != 0 ? FPMD_LOG_WARNING
                                              : FPMD_LOG_NOTICE,
                     "[pool %s] child %d exited with code %d after %.6f "
                     "seconds from start", c->gen->conf->pool_name, (int) pid,
                     WEXITSTATUS(status), lived);
        }
        track_backoff(m, c, status, now);
        fpmd_cron_reaped(pid);
        /* Carry the dead child's counters into the pool totals. */
        if (read_slot(c, &s) == FPMD_OK || s.pid == pid) {
            c->gen->sb->pool.accepted_conn_dead += s.accepted_conn;
            c->gen->sb->pool.slow_requests_dead += s.slow_requests;
            c->gen->sb->pool.refused_requests_dead += s.refused_requests;
        }
        memset(&c->gen->sb->slots[c->slot], 0, sizeof(struct fpmd_sb_slot));
        c->gen->live--;
        c->pid = 0;
        if (c->reply_fd >= 0)
            close(c->reply_fd);
        c->reply_fd = -1;
    }
}

static void
free_drained_gens(struct master *m)
{
    for (struct gen **pp = &m->old; *pp != NULL;) {
        struct gen *g = *pp;

        if (g->live == 0) {
            *pp = g->next;
            gen_free(g, 0);
        } else {
            pp = &g->next;
        }
    }
}

/* --- process manager -------------------------------------------------- */

static void
pm_static(struct master *m, struct gen *g)
{
    unsigned idle, busy, total = count_children(m, g, &idle, &busy);

    while (total < g->conf->pm.max_children && spawn(m, g) == FPMD_OK)
        total++;
}

static void
pm_dynamic(struct master *m, struct gen *g)
{
    const struct fpmd_conf *conf = g->conf;
    unsigned idle, busy, total = count_children(m, g, &idle, &busy);

    if (idle > conf->pm.max_spare_servers) {
        struct child *oldest = NULL;
        uint64_t oldest_idle = UINT64_MAX;

        /* One per round, the child idle the longest (php-fpm does the
         * same once a second). */
        for (size_t i = 0; i < m->nchildren_cap; i++) {
            struct child *c = &m->children[i];
            struct fpmd_sb_slot s;

            if (!idle_child(c, g, &s))
                continue;
            if (s.last_idle_us < oldest_idle) {
                oldest_idle = s.last_idle_us;
                oldest = c;
            }
        }
        if (oldest != NULL)
            send_quit(oldest, FPMD_QUIT_HANDOFF);
        m->spawn_rate = 1;
        return;
    }
    if (idle >= conf->pm.min_spare_servers) {
        m->spawn_rate = 1;
        return;
    }
    if (total >= conf->pm.max_children) {
        g->sb->pool.max_children_reached++;
        fpmd_log(FPMD_LOG_WARNING, "[pool %s] server reached pm.max_children "
                 "setting (%u), consider raising it", conf->pool_name,
                 conf->pm.max_children);
        return;
    }
    unsigned want = conf->pm.min_spare_servers - idle;

    if (want > m->spawn_rate)
        want = m->spawn_rate;
    if (want > conf->pm.max_children - total)
        want = conf->pm.max_children - total;
    if (m->spawn_rate > 8)
        fpmd_log(FPMD_LOG_WARNING, "[pool %s] seems busy (you may need to "
                 "increase pm.start_servers, or pm.min/max_spare_servers), "
                 "spawning %u children, there are %u idle, and %u total "
                 "children", conf->pool_name, want, idle, total);
    for (unsigned i = 0; i < want; i++)
        spawn(m, g);
    if (m->spawn_rate < conf->pm.max_spawn_rate)
        m->spawn_rate *= 2;
    if (m->spawn_rate > conf->pm.max_spawn_rate)
        m->spawn_rate = conf->pm.max_spawn_rate;
}

static void
pm_ondemand_reap(struct master *m, struct gen *g, uint64_t now)
{
    uint64_t limit = g->conf->pm.process_idle_timeout_ms * 1000;

    for (size_t i = 0; i < m->nchildren_cap; i++) {
        struct child *c = &m->children[i];
        struct fpmd_sb_slot s;

        if (!idle_child(c, g, &s))
            continue;
        /* Handing its connections over would only fork a worker to hold
         * them: the idle ones are closed, as php-fpm does. */
        if (now > s.last_idle_us && now - s.last_idle_us > limit)
            send_quit(c, FPMD_QUIT_CLOSE);
    }
}

/* How long a worker's loop may go without a tick while it has requests in
 * flight: timeouts.blocked_loop, or request_terminate_timeout (and the
 * tick's second of slack) when that is shorter, since a handler that
 * blocks the loop keeps its own terminate timer from firing; 0: never
 * killed for it. */
static uint64_t
blocked_loop_bound_us(const struct fpmd_conf *conf)
{
    uint64_t bound = conf->timeouts.blocked_loop_ms * 1000;
    uint64_t term = conf->timeouts.request_terminate_ms * 1000;

    if (term != 0 && (bound == 0 || term + 2000000 < bound))
        bound = term + 2000000;
    return bound;
}

/* A handler that never yields blocks its worker's loop, and with it every
 * request the worker multiplexes; no timer of the worker can fire, and a
 * SIGTERM or SIGQUIT would wait in its signalfd for the loop too, so the
 * master kills it outright (php-fpm ends such a child as well). The
 * slot's running record names the request whose handler the worker ran
 * last, the one that blocks it: php-fpm's row is the oldest in flight,
 * which need not be that one. */
static void
check_heartbeat(struct child *c, const struct fpmd_sb_slot *s, uint64_t now)
{
    const struct fpmd_conf *conf = c->gen->conf;
    uint64_t bound = blocked_loop_bound_us(conf);

    if (bound == 0 || s->in_flight == 0
        || (s->state != FPMD_SB_BUSY && s->state != FPMD_SB_FINISHING)
        || now <= s->heartbeat_us || now - s->heartbeat_us <= bound)
        return;
    fpmd_log(FPMD_LOG_WARNING, "[pool %s] child %d, script '%s' (request: "
             "\"%s %s\") event loop blocked (%.3f sec), killing it with "
             "SIGKILL", conf->pool_name, (int) c->pid, s->running.script,
             s->running.method, s->running.uri,
             (double) (now - s->heartbeat_us) / 1e6);
    c->killed = true;
    kill(c->pid, SIGKILL);
}

static void
enforce_deadlines(struct master *m, uint64_t now)
{
    for (size_t i = 0; i < m->nchildren_cap; i++) {
        struct child *c = &m->children[i];
        const struct fpmd_conf *conf;
        struct fpmd_sb_slot s;

        if (c->pid == 0 || c->killed)
            continue;
        conf = c->gen->conf;
        if (m->stopping == STOP_FAST && now - m->stop_us > FAST_STOP_US) {
            c->killed = true;
            kill(c->pid, SIGKILL);
            continue;
        }
        if (c->quit_us != 0 && conf->timeouts.process_control_ms != 0
            && now - c->quit_us > conf->timeouts.process_control_ms * 1000) {
            fpmd_log(FPMD_LOG_WARNING, "[pool %s] child %d still running "
                     "after process_control_timeout, sending SIGKILL",
                     conf->pool_name, (int) c->pid);
            c->killed = true;
            kill(c->pid, SIGKILL);
            continue;
        }
        if (read_slot(c, &s) == FPMD_OK)
            check_heartbeat(c, &s, now);
    }
}

/* What the status page calls the listen queue: connections in the
 * listeners' accept queues and requests waiting in the workers' queues
 * (README "Admission control"); its high-water mark, sampled here. */
static void
update_pool_stats(struct master *m, struct gen *g)
{
    unsigned idle, busy;
    unsigned queued = 0;

    count_children(m, g, &idle, &busy);
    if (busy > g->sb->pool.max_active)
        g->sb->pool.max_active = busy;
    for (size_t i = 0; i < m->nchildren_cap; i++) {
        const struct child *c = &m->children[i];
        struct fpmd_sb_slot s;

        if (c->pid != 0 && c->gen == g && read_slot(c, &s) == FPMD_OK)
            queued += s.queued;
    }
    for (size_t i = 0; i < g->nlisteners; i++) {
        unsigned q, backlog;

        if (fpmd_listener_queue(&g->listeners[i], &q, &backlog) == FPMD_OK)
            queued += q;
    }
    if (queued > g->sb->pool.max_listen_queue)
        g->sb->pool.max_listen_queue = queued;
}

static void
maintain(struct master *m)
{
    uint64_t now = fpmd_now_us();
    struct gen *g = m->cur;

    enforce_deadlines(m, now);
    m->uproc_next_ms = uprocs_maintain(m, now);
    if (m->stopping)
        return;
    update_pool_stats(m, g);
    if (now < m->next_spawn_us)
        return;
    switch (g->conf->pm.mode) {
    case FPMD_PM_STATIC:
        pm_static(m, g);
        break;
    case FPMD_PM_DYNAMIC:
        if (now - m->last_maintenance_us >= 1000000) {
            m->last_maintenance_us = now;
            pm_dynamic(m, g);
        }
        break;
    case FPMD_PM_ONDEMAND:
        pm_ondemand_reap(m, g, now);
        break;
    }
}

/* ondemand: a connection is waiting and nobody idle will take it. */
static void
ondemand_spawn(struct master *m)
{
    struct gen *g = m->cur;
    unsigned idle, busy, total = count_children(m, g, &idle, &busy);

    if (idle > 0)
        return;
    if (total >= g->conf->pm.max_children) {
        g->sb->pool.max_children_reached++;
        return;
    }
    spawn(m, g);
}

static void
start_generation(struct master *m, struct gen *g)
{
    unsigned n;

    switch (g->conf->pm.mode) {
    case FPMD_PM_STATIC:
        n = g->conf->pm.max_children;
        break;
    case FPMD_PM_DYNAMIC:
        n = g->conf->pm.start_servers;
        if (n == 0)
            n = g->conf->pm.min_spare_servers
                + (g->conf->pm.max_spare_servers
                   - g->conf->pm.min_spare_servers) / 2;
        break;
    default:
        n = 0;
        break;
    }
    m->spawn_rate = 1;
    for (unsigned i = 0; i < n; i++)
        spawn(m, g);
}

/* --- signals ---------------------------------------------------------- */

static void
reload(struct master *m)
{
    char err[8192];
    struct fpmd_conf *conf;
    struct gen *g, *prev = m->cur;

    fpmd_log(FPMD_LOG_NOTICE, "Reloading in progress ...");
    conf = fpmd_conf_load(m->opts->conf_path, err, sizeof(err));
    if (conf == NULL) {
        fpmd_log_lines(FPMD_LOG_ERROR, "reload failed, keeping the running "
                       "configuration: ", err);
        return;
    }
    if (fpmd_prepare_in_child(conf, err, sizeof(err)) != FPMD_OK) {
        fpmd_log_lines(FPMD_LOG_ERROR, "reload failed, keeping the running "
                       "configuration: ", err);
        fpmd_conf_free(conf);
        return;
    }
    g = gen_new(m, conf, prev);
    if (g == NULL) {
        fpmd_log(FPMD_LOG_ERROR, "reload failed, keeping the running "
                 "configuration");
        fpmd_conf_free(conf);
        return;
    }
    fpmd_log_open(conf);
    m->cur = g;
    fpmd_cron_load(conf);
    fpmd_watch_close(m->watch_fd);
    m->watch_fd = conf->watch ? fpmd_watch_open(conf) : -1;
    /* New workers first, then the old ones are told to finish: there is
     * never a moment without someone accepting. */
    start_generation(m, g);
    uprocs_start(m, g);
    for (size_t i = 0; i < m->nchildren_cap; i++) {
        if (m->children[i].pid != 0 && m->children[i].gen == prev)
            send_quit(&m->children[i], FPMD_QUIT_HANDOFF);
    }
    /* a generation without task processes leaves none to take the queue */
    uprocs_stop(m, g, SIGQUIT, g->conf->tasks.workers
                                   ? FPMD_TASK_QUIT_FINISH
                                   : FPMD_TASK_QUIT_DRAIN);
    for (size_t i = 0; i < prev->nlisteners; i++)
        fpmd_listener_close(&prev->listeners[i], 1);
    prev->next = m->old;
    m->old = prev;
    free(m->crashes);
    m->crashes = NULL;
    m->fast_failures = 0;
    m->next_spawn_us = 0;
    fpmd_log(FPMD_LOG_NOTICE, "configuration reloaded (generation %u)",
             g->id);
    free_drained_gens(m);
}

static void
stop(struct master *m, int how)
{
    if (m->stopping >= how)
        return;
    m->stopping = how;
    m->stop_us = fpmd_now_us();
    fpmd_log(FPMD_LOG_NOTICE, how == STOP_FAST ? "Terminating ..."
                                               : "Finishing ...");
    for (size_t i = 0; i < m->nchildren_cap; i++) {
        struct child *c = &m->children[i];

        if (c->pid == 0)
            continue;
        if (how == STOP_FAST)
            kill(c->pid, SIGTERM);
        else
            send_quit(c, FPMD_QUIT_CLOSE);
    }
    uprocs_stop(m, NULL, how == STOP_FAST ? SIGTERM : SIGQUIT, -1);
    /* The workers take what is queued and close their copies; with the
     * last close the address refuses new connections at once, so a web
     * server can send them elsewhere (nginx does, POSTs included, when
     * the connect fails) instead of queueing them to be reset at exit. */
    if (how == STOP_GRACEFUL) {
        for (size_t i = 0; i < m->cur->nlisteners; i++)
            fpmd_listener_close(&m->cur->listeners[i], 1);
    }
}

static void
forward_usr1(struct master *m)
{
    fpmd_log(FPMD_LOG_NOTICE, "reopening log files");
    fpmd_log_reopen();
    for (size_t i = 0; i < m->nchildren_cap; i++) {
        if (m->children[i].pid != 0)
            kill(m->children[i].pid, SIGUSR1);
    }
    for (size_t i = 0; i < m->nuprocs; i++) {
        if (m->uprocs[i].pid != 0)
            kill(m->uprocs[i].pid, SIGUSR1);
    }
}

static void
read_signals(struct master *m)
{
    struct signalfd_siginfo si;

    while (read(m->sigfd, &si, sizeof(si)) == (ssize_t) sizeof(si)) {
        if ((int) si.ssi_signo == FPMD_SIG_CRON) {
            fpmd_cron_done((pid_t) si.ssi_pid, si.ssi_ptr);
            continue;
        }
        switch (si.ssi_signo) {
        case SIGCHLD:
            /* reaped after every signal is read: a worker's last cron
             * answer, queued before its exit, must count first */
            break;
        case SIGUSR1:
            forward_usr1(m);
            break;
        case SIGUSR2:
            if (!m->stopping)
                m->reload_pending = true;
            break;
        case SIGQUIT:
            stop(m, STOP_GRACEFUL);
            break;
        case SIGTERM:
        case SIGINT:
            stop(m, STOP_FAST);
            break;
        default:
            break;
        }
    }
}

static int
setup_signals(struct master *m)
{
    sigset_t set;

    signal(SIGPIPE, SIG_IGN);
    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    sigaddset(&set, SIGUSR1);
    sigaddset(&set, SIGUSR2);
    sigaddset(&set, SIGQUIT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, FPMD_SIG_CRON);
    if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
        return FPMD_ERROR;
    m->sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    return m->sigfd < 0 ? FPMD_ERROR : FPMD_OK;
}

/* --- main loop -------------------------------------------------------- */

static int
live_children(const struct master *m)
{
    int n = 0;

    for (size_t i = 0; i < m->nchildren_cap; i++)
        n += m->children[i].pid != 0;
    for (size_t i = 0; i < m->nuprocs; i++)
        n += m->uprocs[i].pid != 0;
    return n;
}

/* The worker a cron tick runs in: of the current generation's, not
 * asked to quit, the one with the fewest requests in flight; with pm
 * ondemand and none running, a new one (the run waits for it in its
 * signal queue). */
static pid_t
cron_pick(void *arg)
{
    struct master *m = arg;
    struct child *best = NULL;
    unsigned best_load = UINT32_MAX;

    for (int tries = 0; tries < 2 && best == NULL; tries++) {
        for (size_t i = 0; i < m->nchildren_cap; i++) {
            struct child *c = &m->children[i];
            struct fpmd_sb_slot s;
            unsigned load;

            if (c->pid == 0 || c->gen != m->cur || c->quit_us != 0)
                continue;
            load = read_slot(c, &s) == FPMD_OK ? s.in_flight : UINT32_MAX - 1;
            if (best == NULL || load < best_load) {
                best = c;
                best_load = load;
            }
        }
        if (best == NULL && tries == 0
            && m->cur->conf->pm.mode == FPMD_PM_ONDEMAND
            && fpmd_now_us() >= m->next_spawn_us)
            spawn(m, m->cur);
    }
    return best ? best->pid : 0;
}

static void
loop(struct master *m)
{
    struct pollfd pfd[1 + 1 + 64 + 1];

    while (!(m->stopping && live_children(m) == 0)) {
        struct gen *g = m->cur;
        nfds_t n = 1, listeners;
        int timeout = 1000, rc;
        uint64_t now = fpmd_now_us();
        unsigned idle, busy;

        pfd[0].fd = m->sigfd;
        pfd[0].events = POLLIN;
        if (m->watch_fd >= 0) {
            pfd[n].fd = m->watch_fd;
            pfd[n++].events = POLLIN;
        }
        listeners = n;
        if (!m->stopping && g->conf->pm.mode == FPMD_PM_ONDEMAND
            && now >= m->ondemand_quiet_until_us && now >= m->next_spawn_us
            && count_children(m, g, &idle, &busy) < g->conf->pm.max_children
            && idle == 0) {
            for (size_t i = 0; i < g->nlisteners && n < FPMD_ARRAY_LEN(pfd) - 1;
                 i++) {
                pfd[n].fd = g->listeners[i].fd;
                pfd[n].events = POLLIN;
                n++;
            }
            /* connections a stopped worker handed over wait there too */
            pfd[n].fd = m->handoff[0];
            pfd[n].events = POLLIN;
            n++;
        }
        if (g->conf->pm.mode == FPMD_PM_ONDEMAND || m->stopping)
            timeout = 100;
        if (m->next_spawn_us > now && m->next_spawn_us - now < 1000000)
            timeout = (int) ((m->next_spawn_us - now) / 1000) + 1;
        if (m->uproc_next_ms >= 0 && m->uproc_next_ms < timeout)
            timeout = m->uproc_next_ms;
        if (m->watch_due_us != 0)
            timeout = m->watch_due_us > now
                ? (int) ((m->watch_due_us - now) / 1000) + 1 : 0;
        if (!m->stopping) {
            int due = fpmd_cron_timeout_ms();

            if (due >= 0 && due < timeout)
                timeout = due;
        }
        rc = poll(pfd, n, timeout);
        if (rc < 0 && errno != EINTR) {
            fpmd_log_errno(FPMD_LOG_ALERT, "poll()");
            break;
        }
        if (rc > 0 && (pfd[0].revents & POLLIN))
            read_signals(m);
        /* An editor or a linker writes a file in several steps: the
         * reload waits for them to be quiet a moment. */
        if (rc > 0 && listeners > 1 && (pfd[1].revents & POLLIN)
            && fpmd_watch_changed(m->watch_fd))
            m->watch_due_us = fpmd_now_us() + WATCH_QUIET_US;
        if (m->watch_due_us != 0 && fpmd_now_us() >= m->watch_due_us) {
            m->watch_due_us = 0;
            m->reload_pending = true;
        }
        if (rc > 0) {
            for (nfds_t i = listeners; i < n; i++) {
                if (pfd[i].revents & POLLIN) {
                    ondemand_spawn(m);
                    /* give the new child time to accept before looking
                     * at the queue again */
                    m->ondemand_quiet_until_us = fpmd_now_us() + 50000;
                    break;
                }
            }
        }
        reap(m);
        if (m->reload_pending && !m->stopping) {
            m->reload_pending = false;
            reload(m);
        }
        maintain(m);
        tasks_drain_when_alone(m);
        if (!m->stopping)
            fpmd_cron_fire(cron_pick, m);
        free_drained_gens(m);
    }
}

static int
write_pid_file(const char *path)
{
    FILE *f = fopen(path, "w");

    if (f == NULL) {
        fpmd_log_errno(FPMD_LOG_ALERT, "cannot write pid file %s", path);
        return FPMD_ERROR;
    }
    fprintf(f, "%d\n", (int) getpid());
    fclose(f);
    return FPMD_OK;
}

static void
report_ready(const struct fpmd_master_opts *opts, char status)
{
    if (opts->ready_fd < 0)
        return;
    if (write(opts->ready_fd, &status, 1) < 0)
        return;
    close(opts->ready_fd);
}

int
fpmd_master_run(struct fpmd_conf *conf, const struct fpmd_master_opts *opts)
{
    struct master m;
    int started = 0;
    char *pid_file = opts->pid_file ? strdup(opts->pid_file)
                   : conf->pid_file ? strdup(conf->pid_file) : NULL;

    memset(&m, 0, sizeof(m));
    m.opts = opts;
    m.sigfd = -1;
    m.watch_fd = -1;
    m.uproc_next_ms = -1;
    m.handoff[0] = m.handoff[1] = -1;
    m.taskq[0] = m.taskq[1] = -1;
    m.board = fpmd_task_board_new();
    if (m.board == NULL || setup_signals(&m) != FPMD_OK) {
        fpmd_log_errno(FPMD_LOG_ALERT, "cannot set up signals");
        fpmd_task_board_free(m.board);
        report_ready(opts, 1);
        return EXIT_CONFIG;
    }
    m.cur = gen_new(&m, conf, NULL);
    if (m.cur == NULL) {
        fpmd_log(FPMD_LOG_ERROR, "FPM initialization failed");
        fpmd_conf_free(conf);
        tasks_close(&m);
        report_ready(opts, 1);
        return EXIT_CONFIG;
    }
    if (fpmd_handoff_pair(m.handoff) != FPMD_OK)
        fpmd_log_errno(FPMD_LOG_ALERT, "socketpair (handoff)");
    else if (pid_file == NULL || write_pid_file(pid_file) == FPMD_OK)
        started = 1;
    if (!started) {
        if (m.handoff[0] >= 0) {
            close(m.handoff[0]);
            close(m.handoff[1]);
        }
        free(pid_file);
        gen_free(m.cur, 1);
        tasks_close(&m);
        report_ready(opts, 1);
        return EXIT_CONFIG;
    }
    fpmd_log(FPMD_LOG_NOTICE, "fpmd %s started (pool %s, pm %s, %u "
             "children)", PACKAGE_VERSION, conf->pool_name,
             pm_name(conf->pm.mode), conf->pm.max_children);
    fpmd_log(FPMD_LOG_NOTICE, "ready to handle connections");
    /* the baseline a first OOM kill is told by */
    note_oom_kills(&m);
    fpmd_cron_load(conf);
    if (conf->watch)
        m.watch_fd = fpmd_watch_open(conf);
    start_generation(&m, m.cur);
    uprocs_start(&m, m.cur);
    report_ready(opts, 0);
    loop(&m);

    while (m.old != NULL) {
        struct gen *g = m.old;

        m.old = g->next;
        gen_free(g, 0);
    }
    gen_free(m.cur, 1);
    if (pid_file != NULL)
        unlink(pid_file);
    free(pid_file);
    fpmd_cron_free();
    tasks_close(&m);
    fpmd_watch_close(m.watch_fd);
    free(m.uprocs);
    free(m.children);
    free(m.crashes);
    close(m.sigfd);
    close(m.handoff[0]);
    close(m.handoff[1]);
    fpmd_log(FPMD_LOG_NOTICE, "exiting, bye-bye!");
    return 0;
}
