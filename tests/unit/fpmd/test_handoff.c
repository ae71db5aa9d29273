/* SPDX-License-Identifier: BSD-2-Clause */
/* Connections passed between workers: a socket sent over the pair is the
 * same connection on the other side (bytes written before and after the
 * handoff all arrive), with its protocol, served count and peer; messages
 * that do not carry exactly what is expected are dropped, their sockets
 * closed. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "fpmd/conf.h"
#include "fpmd/handoff.h"

static void
handoff_passes_a_connection_with_its_state(void **state)
{
    int pair[2], conn[2], fd = -1, proto = -1;
    unsigned served = 0;
    char peer[64], buf[16];

    (void) state;
    assert_int_equal(fpmd_handoff_pair(pair), FPMD_OK);
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, conn), 0);
    /* the peer writes before the handoff, the receiver reads after */
    assert_int_equal(write(conn[1], "ping", 4), 4);
    assert_int_equal(fpmd_handoff_send(pair[1], conn[0], FPMD_PROTO_HTTP, 7,
                                       "192.0.2.1"), FPMD_OK);
    close(conn[0]);
    assert_int_equal(fpmd_handoff_recv(pair[0], &fd, &proto, &served, peer,
                                       sizeof(peer)), FPMD_OK);
    assert_true(fd >= 0);
    assert_int_equal(proto, FPMD_PROTO_HTTP);
    assert_int_equal(served, 7);
    assert_string_equal(peer, "192.0.2.1");
    assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
    assert_int_equal(read(fd, buf, sizeof(buf)), 4);
    assert_memory_equal(buf, "ping", 4);
    assert_int_equal(write(fd, "pong", 4), 4);
    assert_int_equal(read(conn[1], buf, sizeof(buf)), 4);
    assert_memory_equal(buf, "pong", 4);
    close(fd);
    close(conn[1]);
    close(pair[0]);
    close(pair[1]);
}

static void
handoff_says_again_when_nothing_waits(void **state)
{
    int pair[2], fd, proto;
    unsigned served;
    char peer[64];

    (void) state;
    assert_int_equal(fpmd_handoff_pair(pair), FPMD_OK);
    assert_int_equal(fpmd_handoff_recv(pair[0], &fd, &proto, &served, peer,
                                       sizeof(peer)), FPMD_AGAIN);
    close(pair[0]);
    close(pair[1]);
}

static void
handoff_drops_what_is_not_a_connection(void **state)
{
    int pair[2], conn[2], fd, proto;
    unsigned served;
    char peer[64], junk[80], b;

    (void) state;
    assert_int_equal(fpmd_handoff_pair(pair), FPMD_OK);
    /* no socket at all */
    memset(junk, 'x', sizeof(junk));
    assert_int_equal(send(pair[1], junk, 72, 0), 72);
    assert_int_equal(fpmd_handoff_recv(pair[0], &fd, &proto, &served, peer,
                                       sizeof(peer)), FPMD_ERROR);
    /* a socket with a message of the wrong shape: dropped and closed, so
     * its peer sees the end */
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, conn), 0);
    assert_int_equal(fpmd_handoff_send(pair[1], conn[0], 9, 0, "p"), FPMD_OK);
    close(conn[0]);
    assert_int_equal(fpmd_handoff_recv(pair[0], &fd, &proto, &served, peer,
                                       sizeof(peer)), FPMD_ERROR);
    assert_int_equal(read(conn[1], &b, 1), 0);
    close(conn[1]);
    assert_int_equal(fpmd_handoff_recv(pair[0], &fd, &proto, &served, peer,
                                       sizeof(peer)), FPMD_AGAIN);
    close(pair[0]);
    close(pair[1]);
}

static void
handoff_truncates_a_long_peer(void **state)
{
    int pair[2], conn[2], fd, proto;
    unsigned served;
    char peer[64], longpeer[200];

    (void) state;
    memset(longpeer, 'a', sizeof(longpeer) - 1);
    longpeer[sizeof(longpeer) - 1] = '\0';
    assert_int_equal(fpmd_handoff_pair(pair), FPMD_OK);
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, conn), 0);
    assert_int_equal(fpmd_handoff_send(pair[1], conn[0], FPMD_PROTO_FASTCGI,
                                       0, longpeer), FPMD_OK);
    assert_int_equal(fpmd_handoff_recv(pair[0], &fd, &proto, &served, peer,
                                       sizeof(peer)), FPMD_OK);
    assert_int_equal(strlen(peer), 63);
    assert_int_equal(proto, FPMD_PROTO_FASTCGI);
    close(fd);
    close(conn[0]);
    close(conn[1]);
    close(pair[0]);
    close(pair[1]);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(handoff_passes_a_connection_with_its_state),
        cmocka_unit_test(handoff_says_again_when_nothing_waits),
        cmocka_unit_test(handoff_drops_what_is_not_a_connection),
        cmocka_unit_test(handoff_truncates_a_long_peer),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
