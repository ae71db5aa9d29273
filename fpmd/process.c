/* SPDX-License-Identifier: BSD-2-Clause */
#include "config.h"

#include "fpmd/process.h"

struct fpmd_process fpmd_process = {
    .task_queue = -1, .task_take = -1, .task_reply = -1, .task_reply_to = -1,
};
