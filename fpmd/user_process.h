/* SPDX-License-Identifier: BSD-2-Clause */
/* User processes (processes: in the config): the registry of their code
 * and the forked process's main. */
#ifndef FPMD_USER_PROCESS_H
#define FPMD_USER_PROCESS_H

#include <stddef.h>

#include "fpmd/conf.h"
#include "fpmd/fpmd.h"

/* The FPMD_PROCESS called name (built in, or from a module already
 * loaded), NULL when none is. */
const struct fpmd_process_def *fpmd_process_find(const char *name);

/* In the forked child, privileges dropped: runs conf->processes[index]'s
 * code until it returns or a QUIT/TERM aborts it. Returns the exit code:
 * 0 when the code returned FPMD_OK, 1 otherwise. */
int fpmd_user_process_main(const struct fpmd_conf *conf, size_t index,
                           unsigned instance);

#endif
