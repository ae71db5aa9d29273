/* SPDX-License-Identifier: BSD-2-Clause */
/* libFuzzer target for the HTTP request path: the input is written into a
 * real HTTP connection of a worker set up in this process (embedded default
 * config, built-in handlers), over a socketpair, and the loop is run until
 * the connection is gone. It covers the CRLF checks, the llhttp glue, the
 * request building and the handlers' answers; sanitizers catch the rest.
 * The peer's half is then closed, so every input ends in a freed
 * connection and a worker with nothing open. */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>

#include "tests/worker_harness.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int sv[2], peer_open = 1;
    char sink[65536];

    if (fpmd_process.base == NULL && fpmd_test_worker_setup() != FPMD_OK)
        abort();
    if (size > 60000)
        return 0;       /* one socket buffer: the write below never blocks */
    assert(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) == 0);
    if (fpmd_worker_take(sv[0], "fuzz", FPMD_PROTO_HTTP) != FPMD_OK) {
        close(sv[1]);
        return 0;
    }
    if (size > 0)
        assert(write(sv[1], data, size) == (ssize_t) size);
    shutdown(sv[1], SHUT_WR);
    for (int i = 0; i < 64 && fpmd_conn_open_count() > 0; i++) {
        event_base_loop(fpmd_process.base, EVLOOP_NONBLOCK);
        while (read(sv[1], sink, sizeof(sink)) > 0)
            ;
        if (i == 32) {
            close(sv[1]);       /* a handler that sleeps: the client leaves */
            peer_open = 0;
        }
    }
    if (peer_open)
        close(sv[1]);
    for (int i = 0; i < 64 && fpmd_conn_open_count() > 0; i++)
        event_base_loop(fpmd_process.base, EVLOOP_NONBLOCK);
    assert(fpmd_conn_open_count() == 0);
    return 0;
}
