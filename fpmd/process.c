/* SPDX-License-Identifier: BSD-2-Clause */
#include "config.h"

#include "fpmd/process.h"

struct fpmd_process fpmd_process;
