/* SPDX-License-Identifier: BSD-2-Clause */
/* A user process (processes: in the config, FPMD_PROCESS in code), its
 * side of the fork: the worker's request engine without listeners, its
 * code called again and again, each call a background request; QUIT or
 * TERM abort the call running, and the process exits once it returned. The master's side
 * (spawning, back-off, reloads) is in master.c. */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <event2/event.h>

#include "fpmd/log.h"
#include "fpmd/process.h"
#include "fpmd/req.h"
#include "fpmd/sched.h"
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
on_stop(const struct signalfd_siginfo *si)
{
    fpmd_log(FPMD_LOG_DEBUG, "stopping (signal %u)", si->ssi_signo);
    up.stopping = true;
    if (up.req != NULL)
        fpmd_req_abort(up.req);
    else
        event_base_loopbreak(fpmd_process.base);
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

/* Once the engine is up (its modules may declare the process): the
 * first call. */
static int
start(void)
{
    up.def = fpmd_process_find(up.cp->name);
    if (up.def == NULL) {
        fpmd_log(FPMD_LOG_ALERT, "cannot start: no such FPMD_PROCESS");
        return FPMD_ERROR;
    }
    start_call(-1, 0, NULL);
    return up.req != NULL || up.rc == FPMD_OK ? FPMD_OK : FPMD_ERROR;
}

int
fpmd_user_process_main(const struct fpmd_conf *conf, size_t index,
                       unsigned instance)
{
    char prefix[64];
    int rc;

    up.cp = &conf->processes[index];
    up.instance = instance;
    snprintf(prefix, sizeof(prefix), "process %s %d: ", up.cp->name,
             (int) getpid());
    fpmd_log_set_prefix(prefix);
    rc = fpmd_worker_run_alone(conf, on_stop, start);
    return rc == FPMD_OK && (up.stopping || up.rc == FPMD_OK) ? 0 : 1;
}
