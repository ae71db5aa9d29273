/* SPDX-License-Identifier: BSD-2-Clause */
/* A worker's death, as the master reads it: what the log says (a signal
 * by name, the OOM killer when the kernel's counters rose), the
 * crash-loop back-off for workers that cannot start, and php-fpm's
 * emergency_restart_threshold. The reaping itself is master.c's. */
#include "config.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "fpmd/log.h"
#include "fpmd/master_impl.h"

/* A child that dies younger than this counts toward the crash-loop
 * back-off. */
#define FAST_FAILURE_US 1000000
#define BACKOFF_MAX_US 30000000

static const char *
signal_name(int sig)
{
    static char buf[32];
    const char *abbrev = sigabbrev_np(sig);

    snprintf(buf, sizeof(buf), "SIG%s", abbrev ? abbrev : "?");
    return buf;
}

void
fpmd_master_note_crash(struct master *m, uint64_t now)
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
void
fpmd_master_track_backoff(struct master *m, const struct child *c,
                          int status, uint64_t now)
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
int
fpmd_master_note_oom_kills(struct master *m)
{
    uint64_t sys = read_oom_kill("/proc/vmstat");
    uint64_t cg = read_cgroup_oom_kill();
    int rose = sys > m->oom_kills_sys || cg > m->oom_kills_cg;

    m->oom_kills_sys = sys;
    m->oom_kills_cg = cg;
    return rose;
}

void
fpmd_master_log_signal_death(const struct master *m, const struct child *c,
                             int sig, double lived, int oom_kills_rose)
{
    const char *pool = c->gen->conf->pool_name;

    if (sig == SIGKILL && !sent_by_master(m, c, sig) && oom_kills_rose) {
        fpmd_log(FPMD_LOG_WARNING, "[pool %s] child %d was killed by the OOM "
                 "killer (SIGKILL) after %.6f seconds from start; lower "
                 "pm.max_children or memory use", pool, (int) c->pid, lived);
        return;
    }
    /* SIGSYS is what a seccomp kill looks like from here; which call it
     * was, only the kernel's audit line says. */
    if (sig == SIGSYS && !sent_by_master(m, c, sig)
        && c->gen->conf->seccomp.mode == FPMD_SECCOMP_ON) {
        fpmd_log(FPMD_LOG_WARNING, "[pool %s] child %d exited on signal %d "
                 "(SIGSYS) after %.6f seconds from start: killed by seccomp, "
                 "a system call outside the allow-list (the kernel log names "
                 "it: audit type=1326 ... syscall=N); run with seccomp: log "
                 "to find what it needs, then add it to seccomp_allow", pool,
                 (int) c->pid, sig, lived);
        return;
    }
    fpmd_log(sent_by_master(m, c, sig) ? FPMD_LOG_NOTICE : FPMD_LOG_WARNING,
             "[pool %s] child %d exited on signal %d (%s) after %.6f "
             "seconds from start", pool, (int) c->pid, sig, signal_name(sig),
             lived);
}
