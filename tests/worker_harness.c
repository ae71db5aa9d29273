/* SPDX-License-Identifier: BSD-2-Clause */
#include "config.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "fpmd/log.h"
#include "fpmd/router.h"
#include "tests/worker_harness.h"

/* conf/demo.yaml, compiled in (conf/include.am): the tests drive /probe. */
extern const char fpmd_conf_demo_yaml[];

int
fpmd_test_worker_setup(void)
{
    return fpmd_test_worker_setup_conf("conf/demo.yaml", fpmd_conf_demo_yaml);
}

int
fpmd_test_worker_setup_conf(const char *name, const char *text)
{
    static char err[4096];
    struct fpmd_conf *conf = fpmd_conf_load_buffer(name, text, strlen(text),
                                                   err, sizeof(err));
    struct fpmd_router *router;

    if (conf == NULL)
        goto fail;
    /* as the master does before it forks workers: a peer gone is EPIPE */
    signal(SIGPIPE, SIG_IGN);
    /* quiet: every refused input would log a line */
    conf->log.level = FPMD_LOG_ALERT;
    fpmd_log_set_level(FPMD_LOG_ALERT);
    router = fpmd_router_build(conf, err, sizeof(err));
    if (router == NULL)
        goto fail;
    return fpmd_worker_setup_alone(conf, router) == FPMD_OK ? FPMD_OK
                                                             : FPMD_ERROR;
fail:
    fprintf(stderr, "%s\n", err);
    return FPMD_ERROR;
}
