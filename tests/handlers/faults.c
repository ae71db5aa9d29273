/* SPDX-License-Identifier: BSD-2-Clause */
/* Handlers that misbehave on purpose, linked only into the test daemon
 * (tests/fpmd-test): they let integration tests check what fpmd does when
 * a handler overflows its coroutine stack, never yields, is ended by the
 * OOM killer or by request_terminate_timeout midway through its answer,
 * keeps memory it allocated, or makes a system call seccomp forbids. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fpmd/fpmd.h"

static int
recurse(volatile char *prev, long depth)
{
    volatile char frame[1024];

    frame[0] = prev ? prev[0] : 1;
    if (depth == 0)
        return frame[0];
    return recurse(frame, depth - 1) + frame[0];
}

/* GET /fault/overflow: recursion far deeper than pm.stack_size. */
FPMD_ROUTE(fault_overflow, "GET", "/fault/overflow")
{
    int n = recurse(NULL, 1L << 30);

    return fpmd_reply(req, 200, "text/plain", &n, 0);
}

/* GET /fault/spin?ms=N[&after_ms=M]: burns the CPU without yielding,
 * after a sleep of M ms that does yield (so that other requests start
 * meanwhile). */
FPMD_ROUTE(fault_spin, "GET", "/fault/spin")
{
    const char *v = fpmd_req_query_arg(req, "ms");
    const char *after = fpmd_req_query_arg(req, "after_ms");
    long ms = v ? strtol(v, NULL, 10) : 1000;
    struct timespec t0, t;

    if (after != NULL
        && fpmd_sleep(req, strtoull(after, NULL, 10)) != FPMD_OK)
        return FPMD_ERROR;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    do {
        clock_gettime(CLOCK_MONOTONIC, &t);
    } while ((t.tv_sec - t0.tv_sec) * 1000
             + (t.tv_nsec - t0.tv_nsec) / 1000000 < ms);
    return fpmd_reply(req, 200, "text/plain", "spun\n", 5);
}

/* GET /fault/alloc?mb=N: touches N MiB, so that in a memory-limited cgroup
 * the kernel's OOM killer ends the worker. */
FPMD_ROUTE(fault_alloc, "GET", "/fault/alloc")
{
    const char *v = fpmd_req_query_arg(req, "mb");
    size_t len = (size_t) (v ? strtoul(v, NULL, 10) : 1) << 20;
    volatile char *p = malloc(len);

    if (p == NULL)
        return fpmd_reply(req, 503, "text/plain", "no memory\n", 10);
    for (size_t i = 0; i < len; i += 4096)
        p[i] = 1;
    free((void *) p);
    return fpmd_reply(req, 200, "text/plain", "allocated\n", 10);
}

/* Blocks /fault/hold keeps, as a leak would, until the worker exits. */
static void **held;
static size_t nheld;

/* GET /fault/hold?mb=N: allocates and touches N MiB that the worker keeps,
 * so that its resident set grows past pm.max_memory. */
FPMD_ROUTE(fault_hold, "GET", "/fault/hold")
{
    const char *v = fpmd_req_query_arg(req, "mb");
    size_t len = (size_t) (v ? strtoul(v, NULL, 10) : 1) << 20;
    void **more = realloc(held, (nheld + 1) * sizeof(*held));
    char *p;

    if (more == NULL)
        return fpmd_reply(req, 503, "text/plain", "no memory\n", 10);
    held = more;
    p = malloc(len);
    if (p == NULL)
        return fpmd_reply(req, 503, "text/plain", "no memory\n", 10);
    memset(p, 1, len);
    held[nheld++] = p;
    return fpmd_reply(req, 200, "text/plain", "held\n", 5);
}

/* GET /fault/stall: starts a streamed answer, then sleeps for ever. */
FPMD_ROUTE(fault_stall, "GET", "/fault/stall")
{
    if (fpmd_resp_write(req, "started\n", 8) != FPMD_OK)
        return FPMD_ERROR;
    return fpmd_sleep(req, 3600 * 1000);
}

/* GET /fault/execve: tries to start a program (one that does not exist,
 * so that where the call is let through nothing runs): seccomp: on kills
 * the worker with SIGSYS, seccomp: log and off answer with the error. */
FPMD_ROUTE(fault_execve, "GET", "/fault/execve")
{
    char *const argv[] = {"fpmd-no-such-program", NULL};
    char msg[128];
    int n;

    execve("/nonexistent/fpmd-no-such-program", argv, argv + 1);
    n = snprintf(msg, sizeof(msg), "execve: %s\n", strerror(errno));
    return fpmd_reply(req, 200, "text/plain", msg, (size_t) n);
}
