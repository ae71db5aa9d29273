/* SPDX-License-Identifier: BSD-2-Clause */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fpmd/common.h"
#include "fpmd/handoff.h"
#include "fpmd/conf.h"

#define HANDOFF_VERSION 1

struct wire {
    uint8_t version;
    uint8_t proto;
    uint8_t pad[2];
    uint32_t served;
    char peer[64];
};

int
fpmd_handoff_pair(int sv[2])
{
    return socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC,
                      0, sv) == 0 ? FPMD_OK : FPMD_ERROR;
}

int
fpmd_handoff_send(int sock, int fd, int proto, unsigned served,
                  const char *peer)
{
    struct wire w;
    union {
        struct cmsghdr h;
        char buf[CMSG_SPACE(sizeof(int))];
    } ctl;
    struct iovec iov = {&w, sizeof(w)};
    struct msghdr msg;
    struct cmsghdr *cm;

    memset(&w, 0, sizeof(w));
    w.version = HANDOFF_VERSION;
    w.proto = (uint8_t) proto;
    w.served = served;
    snprintf(w.peer, sizeof(w.peer), "%s", peer);
    memset(&ctl, 0, sizeof(ctl));
    memset(&msg, 0, sizeof(msg));
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = ctl.buf;
    msg.msg_controllen = sizeof(ctl.buf);
    cm = CMSG_FIRSTHDR(&msg);
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    cm->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(cm), &fd, sizeof(int));
    while (sendmsg(sock, &msg, MSG_NOSIGNAL) < 0) {
        if (errno == EINTR)
            continue;
        /* ETOOMANYREFS: the user's sockets in flight reached its
         * descriptor limit until the receivers take some. */
        return errno == EAGAIN || errno == ENOBUFS || errno == ETOOMANYREFS
            ? FPMD_AGAIN : FPMD_ERROR;
    }
    return FPMD_OK;
}

/* Closes every descriptor a message carried; returns the first one kept
 * open when keep_first, else -1. */
static int
take_fds(struct msghdr *msg, int keep_first)
{
    int kept = -1;

    for (struct cmsghdr *cm = CMSG_FIRSTHDR(msg); cm != NULL;
         cm = CMSG_NXTHDR(msg, cm)) {
        size_t n;

        if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
            continue;
        n = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < n; i++) {
            int fd;

            memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
            if (kept < 0 && keep_first)
                kept = fd;
            else
                close(fd);
        }
    }
    return kept;
}

int
fpmd_handoff_recv(int sock, int *fd, int *proto, unsigned *served,
                  char *peer, size_t peerlen)
{
    struct wire w;
    union {
        struct cmsghdr h;
        char buf[CMSG_SPACE(4 * sizeof(int))];
    } ctl;
    struct iovec iov = {&w, sizeof(w)};
    struct msghdr msg;
    ssize_t n;
    int ok;

    memset(&msg, 0, sizeof(msg));
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = ctl.buf;
    msg.msg_controllen = sizeof(ctl.buf);
    do {
        n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
    } while (n < 0 && errno == EINTR);
    if (n < 0)
        return errno == EAGAIN ? FPMD_AGAIN : FPMD_ERROR;
    ok = (size_t) n == sizeof(w) && !(msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC))
        && w.version == HANDOFF_VERSION
        && w.proto <= FPMD_PROTO_JSONRPC_NETSTRING
        && memchr(w.peer, '\0', sizeof(w.peer)) != NULL;
    *fd = take_fds(&msg, ok);
    if (*fd < 0)
        return FPMD_ERROR;
    *proto = w.proto;
    *served = w.served;
    snprintf(peer, peerlen, "%s", w.peer);
    return FPMD_OK;
}
