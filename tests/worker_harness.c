/* SPDX-License-Identifier: BSD-2-Clause */
#include "config.h"

#include <string.h>

#include <event2/event.h>

#include "fpmd/coro.h"
#include "fpmd/log.h"
#include "fpmd/router.h"
#include "tests/worker_harness.h"

int
fpmd_test_worker_setup(void)
{
    static char err[4096];
    struct fpmd_conf *conf = fpmd_conf_load(NULL, err, sizeof(err));
    struct fpmd_scoreboard *sb;
    struct fpmd_router *router;
    struct fpmd_coro_pool *coros;

    if (conf == NULL)
        return FPMD_ERROR;
    /* quiet: every refused input would log a line */
    conf->log.level = FPMD_LOG_ALERT;
    fpmd_log_set_level(FPMD_LOG_ALERT);
    router = fpmd_router_build(conf, err, sizeof(err));
    sb = fpmd_scoreboard_new(1);
    coros = fpmd_coro_pool_new(conf->pm.stack_size, 16);
    fpmd_process.base = event_base_new();
    fpmd_process.conf = conf;
    if (router == NULL || sb == NULL || coros == NULL
        || fpmd_process.base == NULL)
        return FPMD_ERROR;
    fpmd_process.sb = sb;
    fpmd_process.slot = &sb->slots[0];
    fpmd_process.routes = &sb->routes[0];
    fpmd_process.flights = &sb->flights[0];
    fpmd_worker_setup_engine(router, coros, -1);
    return FPMD_OK;
}
