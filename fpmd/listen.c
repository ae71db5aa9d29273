/* SPDX-License-Identifier: BSD-2-Clause */
/* Binding TCP and unix listeners (or taking those systemd passed),
 * php-fpm's allowed_clients filter and the kernel's listen-queue
 * figures. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/tcp.h>
#include <pwd.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

#include "fpmd/listen.h"
#include "fpmd/log.h"

int
fpmd_listen_parse_inet(const char *address, struct sockaddr_storage *ss,
                       socklen_t *sslen)
{
    char host[INET6_ADDRSTRLEN + 1];
    const char *colon, *hstart, *hend;
    char *end;
    long port;

    memset(ss, 0, sizeof(*ss));
    if (address[0] == '[') {
        hstart = address + 1;
        hend = strchr(hstart, ']');
        if (hend == NULL || hend[1] != ':')
            return FPMD_ERROR;
        colon = hend + 1;
    } else {
        colon = strrchr(address, ':');
        if (colon == NULL)
            return FPMD_ERROR;
        hstart = address;
        hend = colon;
    }
    if (hend - hstart <= 0 || (size_t) (hend - hstart) >= sizeof(host))
        return FPMD_ERROR;
    memcpy(host, hstart, (size_t) (hend - hstart));
    host[hend - hstart] = '\0';
    errno = 0;
    port = strtol(colon + 1, &end, 10);
    if (errno != 0 || *end != '\0' || end == colon + 1 || port < 1
        || port > 65535)
        return FPMD_ERROR;

    if (address[0] != '[') {
        struct sockaddr_in *sin = (struct sockaddr_in *) ss;

        if (strcmp(host, "*") == 0 || strcmp(host, "0.0.0.0") == 0)
            sin->sin_addr.s_addr = htonl(INADDR_ANY);
        else if (strcmp(host, "localhost") == 0)
            sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        else if (inet_pton(AF_INET, host, &sin->sin_addr) != 1)
            return FPMD_ERROR;
        sin->sin_family = AF_INET;
        sin->sin_port = htons((uint16_t) port);
        *sslen = sizeof(*sin);
    } else {
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *) ss;

        if (inet_pton(AF_INET6, host, &sin6->sin6_addr) != 1)
            return FPMD_ERROR;
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons((uint16_t) port);
        *sslen = sizeof(*sin6);
    }
    return FPMD_OK;
}

static int
set_socket_flags(int fd)
{
    int flags = fcntl(fd, F_GETFL);

    if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)
        return FPMD_ERROR;
    return fcntl(fd, F_SETFD, FD_CLOEXEC) < 0 ? FPMD_ERROR : FPMD_OK;
}

static int
open_inet(struct fpmd_listener *l, const struct fpmd_conf_listen *cl)
{
    struct sockaddr_storage ss;
    socklen_t sslen;
    int one = 1;

    if (fpmd_listen_parse_inet(cl->address, &ss, &sslen) != FPMD_OK) {
        fpmd_log(FPMD_LOG_ERROR, "listen %s: not host:port or [v6]:port",
                 cl->address);
        return FPMD_ERROR;
    }
    l->family = ss.ss_family;
    l->fd = socket(ss.ss_family, SOCK_STREAM, 0);
    if (l->fd < 0) {
        fpmd_log_errno(FPMD_LOG_ERROR, "listen %s: socket()", cl->address);
        return FPMD_ERROR;
    }
    setsockopt(l->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    /* Accepted sockets inherit it on Linux: answers leave in one write
     * already, and Nagle would only delay the last segment of a streamed
     * one. */
    setsockopt(l->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (ss.ss_family == AF_INET6)
        setsockopt(l->fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    if (bind(l->fd, (struct sockaddr *) &ss, sslen) < 0) {
        fpmd_log_errno(FPMD_LOG_ERROR, "listen %s: bind()", cl->address);
        return FPMD_ERROR;
    }
    return FPMD_OK;
}

static int
apply_unix_owner(const struct fpmd_conf_listen *cl)
{
    uid_t uid = (uid_t) -1;
    gid_t gid = (gid_t) -1;
    mode_t mode = cl->mode >= 0 ? (mode_t) cl->mode : 0660;

    if (cl->owner != NULL) {
        struct passwd *pw = getpwnam(cl->owner);

        if (pw == NULL) {
            fpmd_log(FPMD_LOG_ERROR, "listen %s: unknown owner \"%s\"",
                     cl->address, cl->owner);
            return FPMD_ERROR;
        }
        uid = pw->pw_uid;
        gid = pw->pw_gid;
    }
    if (cl->group != NULL) {
        struct group *gr = getgrnam(cl->group);

        if (gr == NULL) {
            fpmd_log(FPMD_LOG_ERROR, "listen %s: unknown group \"%s\"",
                     cl->address, cl->group);
            return FPMD_ERROR;
        }
        gid = gr->gr_gid;
    }
    if ((uid != (uid_t) -1 || gid != (gid_t) -1)
        && chown(cl->address, uid, gid) < 0) {
        fpmd_log_errno(FPMD_LOG_ERROR, "listen %s: chown()", cl->address);
        return FPMD_ERROR;
    }
    if (chmod(cl->address, mode) < 0) {
        fpmd_log_errno(FPMD_LOG_ERROR, "listen %s: chmod()", cl->address);
        return FPMD_ERROR;
    }
    return FPMD_OK;
}

/* Unlinks the socket file at sun only when nobody accepts on it: a
 * refused connect is a file left by a dead process; a connect that gets
 * through or finds the queue full (EAGAIN) means a live server, whose
 * path is never taken over (php-fpm: "Another FPM instance seems to
 * already listen on ..."). A reload never comes here for a path the
 * running generation holds: it adopts that descriptor. */
static int
unlink_stale(const struct sockaddr_un *sun, const char *path)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int rc, err;

    if (fd < 0) {
        fpmd_log_errno(FPMD_LOG_ERROR, "listen %s: socket()", path);
        return FPMD_ERROR;
    }
    rc = connect(fd, (const struct sockaddr *) sun, sizeof(*sun));
    err = errno;
    close(fd);
    if (rc == 0 || err == EAGAIN || err == EINPROGRESS) {
        fpmd_log(FPMD_LOG_ERROR, "listen %s: another process seems to "
                 "already listen on it", path);
        return FPMD_ERROR;
    }
    if (err == ENOENT)
        return FPMD_OK;
    if (err != ECONNREFUSED) {
        errno = err;
        fpmd_log_errno(FPMD_LOG_ERROR, "listen %s: cannot tell whether "
                       "something listens on it: connect()", path);
        return FPMD_ERROR;
    }
    if (unlink(path) < 0 && errno != ENOENT) {
        fpmd_log_errno(FPMD_LOG_ERROR, "listen %s: unlink()", path);
        return FPMD_ERROR;
    }
    return FPMD_OK;
}

static int
open_unix(struct fpmd_listener *l, const struct fpmd_conf_listen *cl)
{
    struct sockaddr_un sun;
    struct stat st;

    if (strlen(cl->address) >= sizeof(sun.sun_path)) {
        fpmd_log(FPMD_LOG_ERROR, "listen %s: path longer than %zu bytes",
                 cl->address, sizeof(sun.sun_path) - 1);
        return FPMD_ERROR;
    }
    memset(&sun, 0, sizeof(sun));
    sun.sun_family = AF_UNIX;
    memcpy(sun.sun_path, cl->address, strlen(cl->address));
    l->family = AF_UNIX;
    /* A socket file left by a crashed run would make bind fail; anything
     * that is not a socket is the operator's file and stays. */
    if (lstat(cl->address, &st) == 0 && S_ISSOCK(st.st_mode)
        && unlink_stale(&sun, cl->address) != FPMD_OK)
        return FPMD_ERROR;
    l->fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (l->fd < 0) {
        fpmd_log_errno(FPMD_LOG_ERROR, "listen %s: socket()", cl->address);
        return FPMD_ERROR;
    }
    if (bind(l->fd, (struct sockaddr *) &sun, sizeof(sun)) < 0) {
        fpmd_log_errno(FPMD_LOG_ERROR, "listen %s: bind()", cl->address);
        return FPMD_ERROR;
    }
    return apply_unix_owner(cl);
}

int
fpmd_listener_set_allow(struct fpmd_listener *l,
                        const struct fpmd_conf_listen *cl)
{
    size_t n = 0;

    free(l->allow);
    l->allow = NULL;
    l->nallow = 0;
    if (cl->allowed_clients == NULL)
        return FPMD_OK;
    while (cl->allowed_clients[n] != NULL)
        n++;
    l->allow = calloc(n ? n : 1, sizeof(*l->allow));
    if (l->allow == NULL)
        return FPMD_ERROR;
    for (size_t i = 0; i < n; i++) {
        struct fpmd_allow *a = &l->allow[l->nallow];
        const char *ip = cl->allowed_clients[i];

        if (inet_pton(AF_INET, ip, &a->addr.v4) == 1)
            a->family = AF_INET;
        else if (inet_pton(AF_INET6, ip, &a->addr.v6) == 1)
            a->family = AF_INET6;
        else {
            fpmd_log(FPMD_LOG_WARNING,
                     "listen %s: allowed_clients \"%s\" is not an IP address",
                     cl->address, ip);
            continue;
        }
        l->nallow++;
    }
    return FPMD_OK;
}

int
fpmd_listener_open(struct fpmd_listener *l, const struct fpmd_conf_listen *cl)
{
    int rc;

    memset(l, 0, sizeof(*l));
    l->fd = -1;
    l->proto = cl->proto;
    l->address = strdup(cl->address);
    if (l->address == NULL)
        return FPMD_ERROR;
    rc = cl->address[0] == '/' ? open_unix(l, cl) : open_inet(l, cl);
    if (rc == FPMD_OK && set_socket_flags(l->fd) != FPMD_OK) {
        fpmd_log_errno(FPMD_LOG_ERROR, "listen %s: fcntl()", cl->address);
        rc = FPMD_ERROR;
    }
    if (rc == FPMD_OK && listen(l->fd, cl->backlog) < 0) {
        fpmd_log_errno(FPMD_LOG_ERROR, "listen %s: listen()", cl->address);
        rc = FPMD_ERROR;
    }
    if (rc == FPMD_OK)
        rc = fpmd_listener_set_allow(l, cl);
    if (rc != FPMD_OK)
        fpmd_listener_close(l, 0);
    return rc;
}

/* 1 when fd is a listening stream socket bound to cl's address. */
static int
inherited_matches(int fd, const struct fpmd_conf_listen *cl)
{
    struct sockaddr_storage ss;
    socklen_t sslen;

    if (cl->address[0] == '/')
        return sd_is_socket_unix(fd, SOCK_STREAM, 1, cl->address, 0) > 0;
    /* a bad address is open_inet's to report */
    if (fpmd_listen_parse_inet(cl->address, &ss, &sslen) != FPMD_OK)
        return 0;
    return sd_is_socket_sockaddr(fd, SOCK_STREAM, (struct sockaddr *) &ss,
                                 sslen, 1) > 0;
}

int
fpmd_listener_inherit(struct fpmd_listener *l,
                      const struct fpmd_conf_listen *cl, int *fds,
                      size_t nfds)
{
    struct sockaddr_storage ss;
    socklen_t sslen = sizeof(ss);
    size_t i;

    for (i = 0; i < nfds; i++) {
        if (fds[i] >= 0 && inherited_matches(fds[i], cl))
            break;
    }
    if (i == nfds)
        return FPMD_DECLINED;
    memset(l, 0, sizeof(*l));
    l->fd = fds[i];
    fds[i] = -1;
    l->proto = cl->proto;
    l->inherited = true;
    l->address = strdup(cl->address);
    if (getsockname(l->fd, (struct sockaddr *) &ss, &sslen) == 0)
        l->family = ss.ss_family;
    /* The workers accept without blocking, as on a socket of our own. */
    if (l->address == NULL || set_socket_flags(l->fd) != FPMD_OK
        || fpmd_listener_set_allow(l, cl) != FPMD_OK) {
        fpmd_log_errno(FPMD_LOG_ERROR, "listen %s: the socket systemd "
                       "passed (fd %d)", cl->address, l->fd);
        fpmd_listener_close(l, 0);
        return FPMD_ERROR;
    }
    return FPMD_OK;
}

const char *
fpmd_listen_fd_name(int fd, char *buf, size_t len)
{
    struct sockaddr_storage ss;
    socklen_t sslen = sizeof(ss);
    char host[INET6_ADDRSTRLEN];
    const struct sockaddr_un *sun = (const struct sockaddr_un *) &ss;
    in_port_t port;

    if (sd_is_socket(fd, AF_UNSPEC, SOCK_STREAM, 1) <= 0
        || getsockname(fd, (struct sockaddr *) &ss, &sslen) < 0) {
        snprintf(buf, len, "not a listening stream socket");
        return buf;
    }
    switch (ss.ss_family) {
    case AF_INET:
    case AF_INET6:
        port = ss.ss_family == AF_INET
            ? ((const struct sockaddr_in *) &ss)->sin_port
            : ((const struct sockaddr_in6 *) &ss)->sin6_port;
        snprintf(buf, len, ss.ss_family == AF_INET ? "%s:%u" : "[%s]:%u",
                 fpmd_sockaddr_ntop((struct sockaddr *) &ss, host,
                                    sizeof(host)), ntohs(port));
        break;
    case AF_UNIX:
        /* an abstract name starts with a NUL: shown as a socket unit's
         * ListenStream= writes it, with '@' */
        if (sslen > offsetof(struct sockaddr_un, sun_path)
            && sun->sun_path[0] == '\0')
            snprintf(buf, len, "@%.*s",
                     (int) (sslen - offsetof(struct sockaddr_un, sun_path)
                            - 1), sun->sun_path + 1);
        else
            snprintf(buf, len, "%s", sslen > offsetof(struct sockaddr_un,
                                                      sun_path)
                                         ? sun->sun_path : "(unnamed)");
        break;
    default:
        snprintf(buf, len, "a socket of family %d", ss.ss_family);
        break;
    }
    return buf;
}

int
fpmd_listener_adopt(struct fpmd_listener *l, const struct fpmd_conf_listen *cl,
                    struct fpmd_listener *old)
{
    if (old->fd < 0 || strcmp(old->address, cl->address) != 0)
        return FPMD_DECLINED;
    memset(l, 0, sizeof(*l));
    l->fd = old->fd;
    l->proto = cl->proto;
    l->family = old->family;
    l->address = old->address;
    l->inherited = old->inherited;
    old->fd = -1;
    old->address = NULL;
    if (l->inherited)
        return fpmd_listener_set_allow(l, cl);
    /* A changed backlog takes effect on the live socket. */
    listen(l->fd, cl->backlog);
    if (l->family == AF_UNIX)
        apply_unix_owner(cl);
    return fpmd_listener_set_allow(l, cl);
}

void
fpmd_listener_close(struct fpmd_listener *l, int unlink_path)
{
    if (l->fd >= 0) {
        close(l->fd);
        if (unlink_path && l->family == AF_UNIX && l->address != NULL
            && !l->inherited)
            unlink(l->address);
    }
    l->fd = -1;
    free(l->address);
    l->address = NULL;
    free(l->allow);
    l->allow = NULL;
    l->nallow = 0;
}

bool
fpmd_listener_allows(const struct fpmd_listener *l, const struct sockaddr *sa,
                     socklen_t salen)
{
    struct in_addr v4;
    int family = sa->sa_family;
    const void *addr = NULL;

    if (l->allow == NULL || family == AF_UNIX)
        return true;
    if (family == AF_INET && salen >= sizeof(struct sockaddr_in)) {
        addr = &((const struct sockaddr_in *) sa)->sin_addr;
    } else if (family == AF_INET6 && salen >= sizeof(struct sockaddr_in6)) {
        const struct in6_addr *a6 = &((const struct sockaddr_in6 *) sa)->sin6_addr;

        if (IN6_IS_ADDR_V4MAPPED(a6)) {
            memcpy(&v4, &a6->s6_addr[12], sizeof(v4));
            family = AF_INET;
            addr = &v4;
        } else {
            addr = a6;
        }
    } else {
        return false;
    }
    for (size_t i = 0; i < l->nallow; i++) {
        if (l->allow[i].family != family)
            continue;
        if (family == AF_INET
            && memcmp(&l->allow[i].addr.v4, addr, sizeof(struct in_addr)) == 0)
            return true;
        if (family == AF_INET6
            && memcmp(&l->allow[i].addr.v6, addr, sizeof(struct in6_addr)) == 0)
            return true;
    }
    return false;
}

int
fpmd_listener_queue(const struct fpmd_listener *l, unsigned *queued,
                    unsigned *backlog)
{
    struct tcp_info info;
    socklen_t len = sizeof(info);

    /* Linux reports a listening socket's accept queue in tcp_info:
     * tcpi_unacked is the current length, tcpi_sacked the backlog (the
     * same source php-fpm's fpm_socket_get_listening_queue uses). */
    if (l->family == AF_UNIX)
        return FPMD_ERROR;
    if (getsockopt(l->fd, IPPROTO_TCP, TCP_INFO, &info, &len) < 0)
        return FPMD_ERROR;
    *queued = info.tcpi_unacked;
    *backlog = info.tcpi_sacked;
    return FPMD_OK;
}

const char *
fpmd_sockaddr_ntop(const struct sockaddr *sa, char *buf, size_t len)
{
    if (sa->sa_family == AF_INET)
        return inet_ntop(AF_INET, &((const struct sockaddr_in *) sa)->sin_addr,
                         buf, (socklen_t) len);
    if (sa->sa_family == AF_INET6)
        return inet_ntop(AF_INET6,
                         &((const struct sockaddr_in6 *) sa)->sin6_addr, buf,
                         (socklen_t) len);
    snprintf(buf, len, "unix");
    return buf;
}
