/* SPDX-License-Identifier: BSD-2-Clause */
/* A user process (processes: in the config, FPMD_PROCESS in code), its
 * side of the fork: the worker's request engine without listeners, its
 * code called again and again, each call a background request; QUIT or
 * TERM abort the call running, and the process exits once it returned. The master's side
 * (spawning, back-off, reloads) is in master.c. */
#include "config.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <event2/event.h>

#include "fpmd/log.h"
#include "fpmd/prepare.h"
#include "fpmd/process.h"
#include "fpmd/req.h"
#include "fpmd/sched.h"
#include "fpmd/service.h"
#include "fpmd/user_process.h"
#include "fpmd/worker.h"

#define DEFS_MAX 64

static struct {
    const struct fpmd_process_def *defs[DEFS_MAX];
    size_t ndefs;
    const struct fpmd_conf_process *cp;
    const struct fpmd_process_def *def;
    unsigned instance;
    uint64_t calls;
    struct fpmd_req *req;       /* the call running; NULL between calls */
    bool stopping;
    int rc;                     /* the last call's */
} up;

void
fpmd_process_register(const struct fpmd_process_def *def)
{
    if (up.ndefs == DEFS_MAX) {
        fpmd_log(FPMD_LOG_ALERT, "%s:%d: process %s: more than %d are "
                 "declared; it cannot run", def->file, def->line, def->name,
                 DEFS_MAX);
        return;
    }
    up.defs[up.ndefs++] = def;
}

const struct fpmd_process_def *
fpmd_process_find(const char *name)
{
    for (size_t i = 0; i < up.ndefs; i++) {
        if (strcmp(up.defs[i]->name, name) == 0)
            return up.defs[i];
    }
    return NULL;
}

static void start_call(evutil_socket_t fd, short what, void *arg);

static void
on_signal(evutil_socket_t fd, short what, void *arg)
{
    struct signalfd_siginfo si;

    (void) what;
    (void) arg;
    while (read(fd, &si, sizeof(si)) == (ssize_t) sizeof(si)) {
        if (si.ssi_signo == SIGUSR1) {
            fpmd_log_reopen();
            continue;
        }
        fpmd_log(FPMD_LOG_DEBUG, "stopping (signal %u)", si.ssi_signo);
        up.stopping = true;
        if (up.req != NULL)
            fpmd_req_abort(up.req);
        else
            event_base_loopbreak(fpmd_process.base);
    }
}

/* A call ended: the next one starts on the next loop pass, from a stack
 * of its own, so that a body returning at once does not recurse. */
static void
call_end(void *arg)
{
    (void) arg;
    up.req = NULL;
    if (up.stopping || up.rc != FPMD_OK
        || event_base_once(fpmd_process.base, -1, EV_TIMEOUT, start_call,
                           NULL, NULL) != 0)
        event_base_loopbreak(fpmd_process.base);
}

static int
run_body(struct fpmd_req *req)
{
    up.rc = up.def->fn(req);
    if (up.rc != FPMD_OK && !up.stopping)
        fpmd_log(FPMD_LOG_WARNING, "returned an error: the process ends");
    return up.rc;
}

static void
start_call(evutil_socket_t fd, short what, void *arg)
{
    struct fpmd_req *req;
    char instance[16], call[24];

    (void) fd;
    (void) what;
    (void) arg;
    snprintf(instance, sizeof(instance), "%u", up.instance);
    snprintf(call, sizeof(call), "%llu", (unsigned long long) up.calls++);
    up.rc = FPMD_ERROR;
    req = fpmd_req_new_run("PROCESS", (const char *const[]) {
        "FPMD_PROCESS_NAME", up.cp->name, "FPMD_PROCESS_INSTANCE", instance,
        "FPMD_PROCESS_CALL", call, NULL});
    if (req == NULL || fpmd_defer(req, call_end, NULL) != FPMD_OK) {
        fpmd_log(FPMD_LOG_ALERT, "out of memory");
        if (req != NULL)
            fpmd_req_free(req);
        event_base_loopbreak(fpmd_process.base);
        return;
    }
    up.req = req;
    fpmd_sched_start_run(req, run_body);
}

int
fpmd_user_process_main(const struct fpmd_conf *conf, size_t index,
                       unsigned instance)
{
    const struct fpmd_conf_process *cp = &conf->processes[index];
    const struct fpmd_process_def *def;
    char err[16384], prefix[64];
    struct fpmd_router *router;
    struct event *sigev;
    sigset_t set;
    int sfd;

    snprintf(prefix, sizeof(prefix), "process %s %d: ", cp->name,
             (int) getpid());
    fpmd_log_set_prefix(prefix);
    /* modules first: they may declare the process */
    router = fpmd_prepare(conf, err, sizeof(err));
    def = router ? fpmd_process_find(cp->name) : NULL;
    sigemptyset(&set);
    sigaddset(&set, SIGQUIT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGUSR1);
    sfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (def == NULL || sfd < 0
        || fpmd_worker_setup_alone(conf, router) != FPMD_OK) {
        fpmd_log(FPMD_LOG_ALERT, "cannot start: %s", router == NULL ? err
                 : def == NULL ? "no such FPMD_PROCESS" : "out of memory");
        return 1;
    }
    sigev = event_new(fpmd_process.base, sfd, EV_READ | EV_PERSIST, on_signal,
                      NULL);
    if (sigev == NULL || event_add(sigev, NULL) != 0
        || fpmd_services_start(conf, fpmd_process.base) != FPMD_OK) {
        fpmd_log(FPMD_LOG_ALERT, "cannot start its services");
        return 1;
    }
    up.cp = cp;
    up.def = def;
    up.instance = instance;
    start_call(-1, 0, NULL);
    if (up.req != NULL || up.rc == FPMD_OK)
        event_base_dispatch(fpmd_process.base);
    fpmd_services_stop();
    event_free(sigev);
    close(sfd);
    fpmd_router_free(router);
    return up.stopping || up.rc == FPMD_OK ? 0 : 1;
}
