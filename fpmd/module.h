/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef FPMD_MODULE_H
#define FPMD_MODULE_H

#include "fpmd/conf.h"

/* dlopen()s every module of conf into this process, registering its
 * handlers. FPMD_ERROR with a "file:line:column: module: reason" line per
 * failure appended to err (NUL-terminated on entry). */
int fpmd_modules_load(const struct fpmd_conf *conf, char *err, size_t errlen);

#endif
