/* SPDX-License-Identifier: BSD-2-Clause */
/* The master process: owns the listeners and the config generations,
 * forks workers and keeps their number where the process manager (pm)
 * wants it, and turns signals into reloads and stops. */
#ifndef FPMD_MASTER_H
#define FPMD_MASTER_H

#include <stdbool.h>
#include <sys/types.h>

#include "fpmd/conf.h"

struct fpmd_master_opts {
    const char *conf_path;      /* NULL: embedded default */
    const char *pid_file;       /* NULL: none */
    int daemonize;
    int ready_fd;               /* -1, or a pipe to report startup on */
    bool allow_root;            /* -R: workers may run as root */
    int listen_fds;             /* sockets systemd passed from fd 3 on
                                 * (fpmd_systemd_listen_fds), 0: none */
    char *const *argv;          /* main's: what a binary upgrade runs */
};

/* Who a generation's workers run as, resolved by the master before any
 * fork so that a bad name fails the start or the reload, not every
 * worker. set_uid/set_gid false: the master's own. */
struct fpmd_creds {
    uid_t uid;
    gid_t gid;
    bool set_uid;
    bool set_gid;
};

/* php-fpm's rule (fpm_conf.c, fpm_unix.c): a master running as root forks
 * workers as root only with -R. Resolves conf's user and group into *out
 * (they apply only when the master is root) and returns FPMD_OK, or logs
 * php-fpm's line ("[pool www] user has not been defined", "... please
 * specify user and group other than root", "cannot get uid for user
 * 'x'") and returns FPMD_ERROR. */
int fpmd_master_creds(const struct fpmd_conf *conf, bool allow_root,
                      struct fpmd_creds *out);

/* Takes ownership of conf. Binds every listener (or takes the socket
 * systemd passed for its address: each of opts->listen_fds must be one a
 * listener names), starts the workers and supervises them until a stop
 * signal, telling systemd where it stands when it runs under it. Returns the process exit code (0
 * after a clean stop, 78 when startup failed). */
int fpmd_master_run(struct fpmd_conf *conf,
                    const struct fpmd_master_opts *opts);

#endif
