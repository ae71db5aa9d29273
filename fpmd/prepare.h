/* SPDX-License-Identifier: BSD-2-Clause */
/* What a loaded config still needs from the daemon itself before it can
 * run: its handler modules loaded, its routes built, its access log
 * format checked. */
#ifndef FPMD_PREPARE_H
#define FPMD_PREPARE_H

#include <stddef.h>

#include "fpmd/conf.h"
#include "fpmd/router.h"

/* In this process: returns the route table, or NULL with every error in
 * err. Workers start with it; `-t` runs it. */
struct fpmd_router *fpmd_prepare(const struct fpmd_conf *conf, char *err,
                                 size_t errlen);

/* fpmd_prepare in a short-lived child, so the calling process never maps
 * a module. FPMD_OK, or FPMD_ERROR with every error in err. */
int fpmd_prepare_in_child(const struct fpmd_conf *conf, char *err,
                          size_t errlen);

#endif
