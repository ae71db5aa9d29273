/* SPDX-License-Identifier: BSD-2-Clause */
/* The clocks every part of the daemon reads: wall time for what is shown
 * (logs, the status page) and a monotonic one for durations. Both are
 * vDSO calls, cheap enough for every request. */
#ifndef FPMD_CLOCK_H
#define FPMD_CLOCK_H

#include <stdint.h>

/* Microseconds since the epoch. */
uint64_t fpmd_now_us(void);
/* Nanoseconds of a monotonic clock. */
uint64_t fpmd_mono_ns(void);

#endif
