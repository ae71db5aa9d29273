/* SPDX-License-Identifier: BSD-2-Clause */
/* libFuzzer target for the HTTP request path: the input is what a client
 * sends on one connection to a worker (tests/fuzz/fuzz_worker.c), all at
 * once. It covers the CRLF checks, the llhttp glue, the request
 * building, routing and shims, rate limits, the handlers' answers (the
 * built-in ones, static files, and the readers of
 * tests/fuzz/http_routes.c) and the access log; sanitizers catch the
 * rest. Every input ends in a freed connection and a worker with nothing
 * open. */
#include <stdint.h>

#include "tests/fuzz/fuzz_worker.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fpmd_fuzz_worker_setup();
    if (size <= FPMD_FUZZ_MAX_INPUT)
        fpmd_fuzz_connection(FPMD_PROTO_HTTP, data, size, 0, 0);
    return 0;
}
