/* SPDX-License-Identifier: BSD-2-Clause */
/* Readying a loaded config for the daemon: load its handler modules, build
 * its routes against the registered handlers, check its access log format.
 * `fpmd -t`, the master (in a short-lived child, so that it never maps a
 * module itself), every worker and `fpmd-migrate check` all go through
 * here, so they accept and refuse the same configs. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fpmd/access_log.h"
#include "fpmd/module.h"
#include "fpmd/prepare.h"
#include "fpmd/task.h"
#include "fpmd/user_process.h"

struct fpmd_router *
fpmd_prepare(const struct fpmd_conf *conf, char *err, size_t errlen)
{
    struct fpmd_router *r;
    size_t used;
    bool bad;

    if (errlen > 0)
        err[0] = '\0';
    if (fpmd_modules_load(conf, err, errlen) != FPMD_OK)
        return NULL;

    r = fpmd_router_build(conf, err, errlen);
    if (r == NULL)
        return NULL;
    used = strlen(err);
    bad = false;
    for (size_t i = 0; i < conf->ncron; i++) {
        const struct fpmd_conf_cron *cc = &conf->cron[i];

        if (cc->task != NULL && conf->tasks.workers == 0) {
            snprintf(err + used, errlen - used, "%s:%u:%u: cron %s: a task "
                     "entry needs task processes (tasks.workers)\n",
                     cc->pos.file ? cc->pos.file : conf->file, cc->pos.line,
                     cc->pos.column, cc->name);
            used += strlen(err + used);
            bad = true;
            continue;
        }
        if (cc->handler != NULL ? fpmd_handler_find(cc->handler) != NULL
                                : fpmd_task_find(cc->task, strlen(cc->task))
                                      != NULL)
            continue;
        snprintf(err + used, errlen - used, "%s:%u:%u: cron %s: unknown "
                 "%s \"%s\"\n", cc->pos.file ? cc->pos.file : conf->file,
                 cc->pos.line, cc->pos.column, cc->name,
                 cc->handler ? "handler" : "task",
                 cc->handler ? cc->handler : cc->task);
        used += strlen(err + used);
        bad = true;
    }
    for (size_t i = 0; i < conf->nprocesses; i++) {
        const struct fpmd_conf_process *cp = &conf->processes[i];

        if (fpmd_process_find(cp->name) != NULL)
            continue;
        snprintf(err + used, errlen - used, "%s:%u:%u: processes: no "
                 "FPMD_PROCESS named \"%s\"\n",
                 cp->pos.file ? cp->pos.file : conf->file, cp->pos.line,
                 cp->pos.column, cp->name);
        used += strlen(err + used);
        bad = true;
    }
    if (bad) {
        fpmd_router_free(r);
        return NULL;
    }
    if (conf->log.access_format != NULL && used + 1 < errlen) {
        char msg[256];

        if (fpmd_access_log_validate(conf->log.access_format, msg,
                                     sizeof(msg)) != FPMD_OK) {
            snprintf(err + used, errlen - used, "%s: log.%s\n", conf->file,
                     msg);
            fpmd_router_free(r);
            return NULL;
        }
    }
    return r;
}

int
fpmd_prepare_in_child(const struct fpmd_conf *conf, char *err, size_t errlen)
{
    size_t used = 0;
    int fds[2], status;
    pid_t pid;

    if (errlen > 0)
        err[0] = '\0';
    if (pipe2(fds, O_CLOEXEC) != 0)
        return FPMD_ERROR;
    pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        return FPMD_ERROR;
    }
    if (pid == 0) {
        struct fpmd_router *r;
        const char *p = err;
        size_t left;

        close(fds[0]);
        r = fpmd_prepare(conf, err, errlen);
        for (left = strlen(err); left > 0;) {
            ssize_t n = write(fds[1], p, left);

            if (n <= 0)
                break;
            p += n;
            left -= (size_t) n;
        }
        _exit(r != NULL ? 0 : 1);
    }
    close(fds[1]);
    for (;;) {
        ssize_t n = read(fds[0], err + used, errlen - used - 1);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        used += (size_t) n;
        if (used + 1 >= errlen)
            break;
    }
    err[used] = '\0';
    close(fds[0]);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return FPMD_OK;
    if (used == 0)
        snprintf(err, errlen, "%s: the configuration check died (signal "
                 "%d)\n", conf->file,
                 WIFSIGNALED(status) ? WTERMSIG(status) : 0);
    return FPMD_ERROR;
}
