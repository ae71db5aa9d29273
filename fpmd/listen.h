/* SPDX-License-Identifier: BSD-2-Clause */
/* Listening sockets. The master binds them once and keeps them open across
 * reloads (a reload reuses the descriptor of an unchanged address, so the
 * kernel's accept queue is never closed); workers inherit them. */
#ifndef FPMD_LISTEN_H
#define FPMD_LISTEN_H

#include <netinet/in.h>
#include <stdbool.h>
#include <sys/socket.h>

#include "fpmd/conf.h"

struct fpmd_allow {
    int family;                 /* AF_INET or AF_INET6 */
    union {
        struct in_addr v4;
        struct in6_addr v6;
    } addr;
};

struct fpmd_listener {
    int fd;
    enum fpmd_listen_proto proto;
    int family;                 /* AF_INET, AF_INET6, AF_UNIX */
    char *address;              /* as configured */
    struct fpmd_allow *allow;   /* NULL: every peer is allowed */
    size_t nallow;
    bool inherited;             /* passed by systemd (socket activation):
                                 * its socket unit owns the address, the
                                 * backlog and a unix path's owner and
                                 * mode; the path is never unlinked */
};

/* Binds and listens on cl (non-blocking, close-on-exec). For a unix path, a
 * stale socket file (connect refused) is replaced, one that something
 * accepts on is refused; then owner/group/mode are applied. Logs and
 * returns FPMD_ERROR on failure. */
int fpmd_listener_open(struct fpmd_listener *l,
                       const struct fpmd_conf_listen *cl);

/* Socket activation: takes for cl the first of fds[0..nfds) that is a
 * listening stream socket bound to cl's address (fd -1: taken already)
 * and sets that entry to -1. FPMD_OK when taken, FPMD_DECLINED when none
 * matches, FPMD_ERROR (logged) when the match cannot be set up. */
int fpmd_listener_inherit(struct fpmd_listener *l,
                          const struct fpmd_conf_listen *cl, int *fds,
                          size_t nfds);

/* What fd is bound to, for a message: "127.0.0.1:9000", "[::1]:9000",
 * "/run/fpmd/www.sock", or what else it is. */
const char *fpmd_listen_fd_name(int fd, char *buf, size_t len);

/* Takes over l->fd from old when both name the same address, so a reload
 * never closes a live accept queue (a changed protocol applies to the
 * same socket). FPMD_OK when taken. */
int fpmd_listener_adopt(struct fpmd_listener *l,
                        const struct fpmd_conf_listen *cl,
                        struct fpmd_listener *old);

/* Refreshes the allowed_clients list of l from cl. */
int fpmd_listener_set_allow(struct fpmd_listener *l,
                            const struct fpmd_conf_listen *cl);

/* Closes the socket (unlinking a unix path when unlink_path is set) and
 * frees what l owns. */
void fpmd_listener_close(struct fpmd_listener *l, int unlink_path);

/* php-fpm's listen.allowed_clients: 1 when the peer may talk to us. Unix
 * sockets are always allowed. IPv4-mapped IPv6 peers match IPv4 entries. */
bool fpmd_listener_allows(const struct fpmd_listener *l,
                         const struct sockaddr *sa, socklen_t salen);

/* Kernel accept-queue figures for the status page ("listen queue",
 * "listen queue len"); FPMD_ERROR when the kernel does not tell. */
int fpmd_listener_queue(const struct fpmd_listener *l, unsigned *queued,
                        unsigned *backlog);

/* Parses "host:port" / "[v6]:port" into sa; FPMD_ERROR on a bad form. */
int fpmd_listen_parse_inet(const char *address, struct sockaddr_storage *ss,
                           socklen_t *sslen);

/* Renders a peer address for logs ("127.0.0.1", "::1", "unix"). */
const char *fpmd_sockaddr_ntop(const struct sockaddr *sa, char *buf,
                               size_t len);

#endif
