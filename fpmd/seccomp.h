/* SPDX-License-Identifier: BSD-2-Clause */
/* A worker's seccomp filter: the system calls it and its libraries make
 * while serving, allowed; any other one kills it (seccomp: on) or is made
 * and logged by the kernel (seccomp: log). */
#ifndef FPMD_SECCOMP_H
#define FPMD_SECCOMP_H

#include "fpmd/conf.h"

/* Loads the filter conf->seccomp asks for into every thread of the
 * calling process: fpmd's allow-list plus conf->seccomp.allow. Nothing
 * when it is off. Call it once start-up is over (privileges dropped,
 * modules loaded, services started): from then on the process cannot
 * widen the list. FPMD_OK, or FPMD_ERROR after logging why. */
int fpmd_seccomp_install(const struct fpmd_conf *conf);

#endif
