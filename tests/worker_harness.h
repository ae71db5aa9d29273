/* SPDX-License-Identifier: BSD-2-Clause */
/* A worker set up in the test's own process (embedded default config,
 * built-in handlers, logging quiet) so connections can be driven over a
 * socketpair with fpmd_worker_take(): shared by the HTTP fuzz target and
 * the llhttp glue's unit tests. */
#ifndef FPMD_TESTS_WORKER_HARNESS_H
#define FPMD_TESTS_WORKER_HARNESS_H

#include "fpmd/worker.h"

/* Fills *w and makes it fpmd_worker. FPMD_ERROR when something is out. */
int fpmd_test_worker_setup(struct fpmd_worker *w);

#endif
