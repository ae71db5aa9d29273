/* SPDX-License-Identifier: BSD-2-Clause */
/* fpmd run: one request through a worker's request path, in-process. */
#ifndef FPMD_CLI_RUN_H
#define FPMD_CLI_RUN_H

#include "fpmd/conf.h"

/* argv: "run", METHOD, PATH and run's options. Prints the answer to
 * stdout; returns the exit code: 0 for a status below 400, 4 for 4xx, 5
 * for 5xx, 1 without an answer, 64 for bad usage, 78 when the config's
 * handlers, modules or pools cannot be set up. */
int fpmd_cli_run(const struct fpmd_conf *conf, int argc, char **argv);

#endif
