/* SPDX-License-Identifier: BSD-2-Clause */
/* The test handlers' clock, for the times they report: CLOCK_MONOTONIC
 * in milliseconds. */
#ifndef FPMD_TESTS_HANDLERS_CLOCK_H
#define FPMD_TESTS_HANDLERS_CLOCK_H

#include <time.h>

static inline double
now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec * 1e3 + (double) ts.tv_nsec / 1e6;
}

#endif
