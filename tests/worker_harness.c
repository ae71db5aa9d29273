/* SPDX-License-Identifier: BSD-2-Clause */
#include "config.h"

#include <string.h>

#include <event2/event.h>

#include "fpmd/conn.h"
#include "fpmd/coro.h"
#include "fpmd/http_conn.h"
#include "fpmd/log.h"
#include "fpmd/process.h"
#include "fpmd/router.h"
#include "tests/worker_harness.h"

int
fpmd_test_worker_setup(struct fpmd_worker *w)
{
    static char err[4096];
    struct fpmd_conf *conf = fpmd_conf_load(NULL, err, sizeof(err));

    if (conf == NULL)
        return FPMD_ERROR;
    /* quiet: every refused input would log a line */
    conf->log.level = FPMD_LOG_ALERT;
    fpmd_log_set_level(FPMD_LOG_ALERT);
    memset(w, 0, sizeof(*w));
    w->conf = conf;
    w->router = fpmd_router_build(conf, err, sizeof(err));
    w->sb = fpmd_scoreboard_new(1);
    w->queue_tail = &w->queue_head;
    w->signal_fd = -1;
    w->base = event_base_new();
    w->coros = fpmd_coro_pool_new(conf->pm.stack_size, 16);
    if (w->router == NULL || w->sb == NULL || w->base == NULL
        || w->coros == NULL)
        return FPMD_ERROR;
    w->slot = &w->sb->slots[0];
    w->routes = &w->sb->routes[0];
    fpmd_worker = w;
    fpmd_process.base = w->base;
    fpmd_process.conf = conf;
    fpmd_process.slot = w->slot;
    fpmd_process.routes = w->routes;
    fpmd_conn_setup(conf);
    fpmd_http_conn_setup();
    return FPMD_OK;
}
