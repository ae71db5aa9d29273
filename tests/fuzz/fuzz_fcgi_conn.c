/* SPDX-License-Identifier: BSD-2-Clause */
/* libFuzzer target for the FastCGI request path: after one byte that
 * picks the size of the pieces it is written in (((byte % 17) + 1) * 37
 * bytes, a loop pass after each, so records arrive split at every
 * offset), the input is what a web server sends on one connection to a
 * worker (tests/fuzz/fuzz_worker.c): BEGIN_REQUEST, PARAMS, STDIN,
 * ABORT_REQUEST and GET_VALUES records, several requests multiplexed or
 * one after another. It covers fcgi_conn.c's records-to-requests, the
 * params' CGI meaning (SCRIPT_NAME, PATH_INFO, HTTP_*), routing and shims,
 * the handlers' answers as STDOUT and END_REQUEST, and the access log;
 * the record codec alone is fuzz_fcgi's. The first byte is fuzz_fcgi's
 * too, so the two targets share their seeds' format. */
#include <stdint.h>

#include "tests/fuzz/fuzz_worker.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fpmd_fuzz_worker_setup();
    if (size >= 1 && size - 1 <= FPMD_FUZZ_MAX_INPUT)
        fpmd_fuzz_connection(FPMD_PROTO_FASTCGI, data + 1, size - 1,
                             (size_t) (data[0] % 17 + 1) * 37, 16);
    return 0;
}
