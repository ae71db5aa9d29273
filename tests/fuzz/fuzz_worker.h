/* SPDX-License-Identifier: BSD-2-Clause */
/* The in-process worker of the connection fuzz targets (fuzz_worker.c). */
#ifndef FPMD_TESTS_FUZZ_FUZZ_WORKER_H
#define FPMD_TESTS_FUZZ_FUZZ_WORKER_H

#include <stddef.h>
#include <stdint.h>

#include "fpmd/conf.h"

/* The most an input may write: one socket buffer, so that no write
 * blocks. */
#define FPMD_FUZZ_MAX_INPUT 60000

/* Makes the worker once: its file tree, config, access log and rate
 * limit buckets (the tree is removed at exit). Aborts when it cannot. */
void fpmd_fuzz_worker_setup(void);

/* Writes size bytes of data into a new connection of the worker speaking
 * proto, in pieces of piece bytes with a loop pass after each (0: all at
 * once), runs linger more passes (a web server keeps its half open while
 * it waits for the answers), closes the writing half, and runs the loop
 * until the connection is gone (the peer leaves after 32 passes, as a
 * client whose answer never comes). */
void fpmd_fuzz_connection(enum fpmd_listen_proto proto, const uint8_t *data,
                          size_t size, size_t piece, unsigned linger);

#endif
