/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef FPMD_HOOKS_H
#define FPMD_HOOKS_H

#include "fpmd/fpmd.h"

/* Runs req through the before hooks, handler, then the on-error and after
 * hooks (see fpmd.h). Returns FPMD_OK, or FPMD_ERROR when the request
 * failed and nothing may have answered it; a failure after the head
 * leaves the answer cut short (req->cut_short) instead. */
int fpmd_hooks_run(struct fpmd_req *req, fpmd_handler_fn handler);

/* Every registered hook in running order, for `fpmd -t --routes`. */
size_t fpmd_hooks_list(const struct fpmd_hook_def ***out);

#endif
