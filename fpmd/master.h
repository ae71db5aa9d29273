/* SPDX-License-Identifier: BSD-2-Clause */
/* The master process: owns the listeners and the config generations,
 * forks workers and keeps their number where the process manager (pm)
 * wants it, and turns signals into reloads and stops. */
#ifndef FPMD_MASTER_H
#define FPMD_MASTER_H

#include "fpmd/conf.h"
#include "fpmd/router.h"

struct fpmd_master_opts {
    const char *conf_path;      /* NULL: embedded default */
    const char *pid_file;       /* NULL: none */
    int daemonize;
    int ready_fd;               /* -1, or a pipe to report startup on */
};

/* The checks a loaded config still needs from the daemon itself, in this
 * process: loads its handler modules, builds the routes against the
 * registered handlers, checks the access log format. Returns the route
 * table, or NULL with every error in err. Workers start with it; `-t`
 * runs it. */
struct fpmd_router *fpmd_master_check(const struct fpmd_conf *conf,
                                      char *err, size_t errlen);

/* fpmd_master_check in a short-lived child, so the master itself never
 * maps a module. FPMD_OK, or FPMD_ERROR with every error in err. */
int fpmd_master_prepare(const struct fpmd_conf *conf, char *err,
                        size_t errlen);

/* Takes ownership of conf. Binds every listener, starts the workers and
 * supervises them until a stop signal. Returns the process exit code (0
 * after a clean stop, 78 when startup failed). */
int fpmd_master_run(struct fpmd_conf *conf,
                    const struct fpmd_master_opts *opts);

#endif
