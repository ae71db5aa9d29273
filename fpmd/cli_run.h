/* SPDX-License-Identifier: BSD-2-Clause */
/* fpmd run: one request through a worker's request path, in-process;
 * fpmd task: one task. */
#ifndef FPMD_CLI_RUN_H
#define FPMD_CLI_RUN_H

#include "fpmd/conf.h"

/* argv: "run", METHOD, PATH and run's options. Prints the answer to
 * stdout; returns the exit code: 0 for a status below 400, 4 for 4xx, 5
 * for 5xx, 1 without an answer, 64 for bad usage, 78 when the config's
 * handlers, modules or pools cannot be set up. */
int fpmd_cli_run(const struct fpmd_conf *conf, int argc, char **argv);

/* argv: "task", NAME and its INPUT (- for stdin). Prints the task's
 * result to stdout; returns 0 when it returned FPMD_OK, 1 when it failed
 * or timed out, 64 for bad usage or an unknown task, 78 as above. */
int fpmd_cli_task(const struct fpmd_conf *conf, int argc, char **argv);

#endif
