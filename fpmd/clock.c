/* SPDX-License-Identifier: BSD-2-Clause */
#include "config.h"

#include <sys/time.h>
#include <time.h>

#include "fpmd/clock.h"

uint64_t
fpmd_now_us(void)
{
    struct timeval tv;

    gettimeofday(&tv, NULL);
    return (uint64_t) tv.tv_sec * 1000000 + (uint64_t) tv.tv_usec;
}

uint64_t
fpmd_mono_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t) ts.tv_sec * 1000000000 + (uint64_t) ts.tv_nsec;
}
