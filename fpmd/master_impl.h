/* SPDX-License-Identifier: BSD-2-Clause */
/* The master's own state, shared by master.c (generations, workers, the
 * process manager, signals, the loop) and master_procs.c (what a forked
 * child does first, user and task processes, the task queue). Private to
 * those two. */
#ifndef FPMD_MASTER_IMPL_H
#define FPMD_MASTER_IMPL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "fpmd/breaker.h"
#include "fpmd/listen.h"
#include "fpmd/ratelimit.h"
#include "fpmd/master.h"
#include "fpmd/scoreboard.h"
#include "fpmd/systemd.h"
#include "fpmd/table.h"
#include "fpmd/task_board.h"

#define EXIT_CONFIG 78
/* Fast stop: how long children get for SIGTERM before SIGKILL. */
#define FAST_STOP_US 1000000

struct gen {
    uint32_t id;
    struct fpmd_conf *conf;
    struct fpmd_listener *listeners;
    size_t nlisteners;
    struct fpmd_scoreboard *sb;
    struct fpmd_creds creds;    /* what its workers run as */
    struct fpmd_table **tables; /* conf's, in its order (tables.h) */
    size_t ntables;
    struct fpmd_breaker_set *breakers;  /* its upstream servers', in
                                         * conf's order; NULL: none */
    struct fpmd_discovery *discovery;   /* its upstreams' discovered
                                         * servers; NULL: none */
    struct fpmd_ratelimit *ratelimit;   /* its routes' rate_limit: buckets;
                                         * NULL: none */
    size_t ratelimit_bytes;
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
    bool agent;                 /* the etcd agent (etcd_agent.h) */
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
    /* A binary upgrade (upgrade.h): the new master started, the pipe
     * its verdict comes on, and by when; upgraded once it serves. */
    pid_t upgrade_pid;
    int upgrade_fd;
    uint64_t upgrade_deadline_us;
    bool upgraded;
    struct gen *inherited;      /* an old master's listeners, until the
                                 * first generation adopted them */
    char *pid_file;             /* NULL: none */
    struct fpmd_systemd sd;
    bool awaiting_ready;        /* READY=1 waits for a worker of cur to
                                 * accept */
    bool ready_logged;          /* "ready to handle connections" said */
    char reload_note[96];       /* heads systemd's STATUS after a failed
                                 * reload, until one succeeds; "": none */
    int *passed;                /* the sockets systemd passed, -1 once a
                                 * listener took one; NULL after the
                                 * first generation's start */
    size_t npassed;
    uint64_t requests_dead;     /* finished and slow requests of the
                                 * workers reaped, for the STATUS line */
    uint64_t slow_dead;
};

enum { STOP_GRACEFUL = 1, STOP_FAST = 2 };

/* --- master_deaths.c ---------------------------------------------------- */

/* A worker crashed at now: php-fpm's emergency_restart_threshold counts
 * it, and asks for a reload once reached. */
void fpmd_master_note_crash(struct master *m, uint64_t now);
/* The crash-loop back-off heard how c ended (status, as waitpid gave). */
void fpmd_master_track_backoff(struct master *m, const struct child *c,
                               int status, uint64_t now);
/* The kernel's OOM kill counters read again: 1 when one rose. */
int fpmd_master_note_oom_kills(struct master *m);
/* The log line of c killed by sig after lived seconds. */
void fpmd_master_log_signal_death(const struct master *m,
                                  const struct child *c, int sig,
                                  double lived, int oom_kills_rose);

/* --- master_procs.c ---------------------------------------------------- */

/* In a new child, before it runs anything of its own: what is only the
 * master's closed, signals as the child kind wants them, privileges
 * dropped, g's tables attached. */
void fpmd_master_child_detach(struct master *m, struct gen *g);

/* The task queue, made for the first generation with task processes and
 * sized for each: FPMD_ERROR (logged) when conf's max_payload cannot fit. */
int fpmd_master_tasks_open(struct master *m, const struct fpmd_conf *conf);
/* A child's result socket pair: [0] it reads, [1] it sends along with
 * each frame, and the master keeps a copy of [1] to answer for a task
 * process that dies. -1s when g has no task processes. */
void fpmd_master_reply_pair(const struct master *m, const struct gen *g,
                            int r[2]);
/* In a new child: the task queue as g and the child's kind have it (r:
 * its pair from fpmd_master_reply_pair); the other children's result
 * sockets closed. */
void fpmd_master_child_tasks(const struct master *m, const struct gen *g,
                             const int r[2], bool task_process);
/* At the master's end: what is still queued logged and counted as
 * dropped; the queue and the board freed. */
void fpmd_master_tasks_close(struct master *m);

/* g's user and task processes started. */
void fpmd_master_uprocs_start(struct master *m, struct gen *g);
/* Those of generations other than keep (NULL: all) asked to stop with
 * sig; task processes get SIGQUIT with task_quit (FPMD_TASK_QUIT_*), or
 * are left running when it is -1. */
void fpmd_master_uprocs_stop(struct master *m, const struct gen *keep,
                             int sig, int task_quit);
/* pid ended: true when it was a user or task process. */
bool fpmd_master_uproc_reaped(struct master *m, pid_t pid, int status,
                              uint64_t now);
/* Starts, kills and times them; the ms to the next start, or -1. */
int fpmd_master_uprocs_maintain(struct master *m, uint64_t now);
/* A graceful stop with no worker or user process left: the task
 * processes are told to empty the queue and end. */
void fpmd_master_tasks_drain(struct master *m);

#endif
