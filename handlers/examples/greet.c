/* SPDX-License-Identifier: BSD-2-Clause */
/* A handler module: built on its own against the installed fpmd.h, listed
 * under modules: in the config, loaded by every worker at start and again
 * by the new workers of a SIGUSR2 reload. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <fpmd/fpmd.h>

#ifndef GREETING
#define GREETING "hello"
#endif

/* GET /greet/{name}?times=N: "hello, NAME" N times (1 to 10). */
FPMD_ROUTE(greet, "GET", "/greet/{name}")
{
    const char *name = fpmd_req_route_param(req, "name");
    const char *times = fpmd_req_query_arg(req, "times");
    int n = times ? atoi(times) : 1;
    char line[256];

    if (n < 1 || n > 10)
        return fpmd_reply_error(req, 400, "times must be 1 to 10");
    fpmd_resp_header(req, "Content-Type", "text/plain; charset=utf-8");
    for (int i = 0; i < n; i++) {
        int len = snprintf(line, sizeof(line), "%s, %s\n", GREETING, name);

        if (len < 0 || (size_t) len >= sizeof(line))
            return fpmd_reply_error(req, 414, "name too long");
        /* streamed: chunked over HTTP, STDOUT records over FastCGI */
        if (fpmd_resp_write(req, line, (size_t) len) != FPMD_OK)
            return FPMD_ERROR;
    }
    return FPMD_OK;
}

/* A before hook on every request of the worker: tags greet's answers. */
FPMD_HOOK(greet_tag, FPMD_HOOK_BEFORE, 50)
{
    const char *h = fpmd_req_handler(req);

    if (h != NULL && strcmp(h, "greet") == 0)
        return fpmd_resp_header(req, "X-Greet-Module", GREETING);
    return FPMD_OK;
}
