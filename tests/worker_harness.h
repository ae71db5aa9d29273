/* SPDX-License-Identifier: BSD-2-Clause */
/* A worker set up in the test's own process (conf/demo.yaml,
 * built-in handlers, logging quiet) so connections can be driven over a
 * socketpair with fpmd_worker_take(): shared by the HTTP fuzz target and
 * the llhttp glue's unit tests. The loop and config are fpmd_process's;
 * fpmd_conn_open_count() says when every connection is gone. */
#ifndef FPMD_TESTS_WORKER_HARNESS_H
#define FPMD_TESTS_WORKER_HARNESS_H

#include "fpmd/conn.h"
#include "fpmd/process.h"
#include "fpmd/worker.h"

/* Fills fpmd_process and wires the worker's request side. FPMD_ERROR when
 * something is out. */
int fpmd_test_worker_setup(void);
/* The same on another config: name is the file it stands for (relative
 * paths in it are taken from that file's directory). */
int fpmd_test_worker_setup_conf(const char *name, const char *text);

#endif
