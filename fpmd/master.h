/* SPDX-License-Identifier: BSD-2-Clause */
/* The master process: owns the listeners and the config generations,
 * forks workers and keeps their number where the process manager (pm)
 * wants it, and turns signals into reloads and stops. */
#ifndef FPMD_MASTER_H
#define FPMD_MASTER_H

#include "fpmd/conf.h"

struct fpmd_master_opts {
    const char *conf_path;      /* NULL: embedded default */
    const char *pid_file;       /* NULL: none */
    int daemonize;
    int ready_fd;               /* -1, or a pipe to report startup on */
};

/* Takes ownership of conf. Binds every listener, starts the workers and
 * supervises them until a stop signal. Returns the process exit code (0
 * after a clean stop, 78 when startup failed). */
int fpmd_master_run(struct fpmd_conf *conf,
                    const struct fpmd_master_opts *opts);

#endif
