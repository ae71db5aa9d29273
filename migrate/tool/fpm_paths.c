/* SPDX-License-Identifier: BSD-2-Clause */
/* Paths and listen addresses in php-fpm's config (see fpm_paths.h). */
#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "migrate/tool/fpm_ini.h"
#include "migrate/tool/fpm_paths.h"

char *
fpmd_fpm_format(const char *fmt, ...)
{
    va_list ap;
    char *s;

    va_start(ap, fmt);
    if (vasprintf(&s, fmt, ap) < 0)
        s = NULL;
    va_end(ap);
    return s;
}

/* path against base when relative (php-fpm's fpm_evaluate_full_path). */
char *
fpmd_fpm_resolve(const char *path, const char *base)
{
    return path[0] == '/' ? strdup(path)
                          : fpmd_fpm_format("%s/%s", base, path);
}

/* A file of fpmd's own beside one php-fpm keeps writing: "x.log" ->
 * "x.fpmd.log". The legacy php-fpm still runs, with its pid file and
 * logs; two daemons on one pid file would have each stopped for the
 * other. */
char *
fpmd_fpm_sibling(const char *path)
{
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    const char *dot = strrchr(base, '.');

    if (dot == NULL || dot == base)
        return fpmd_fpm_format("%s.fpmd", path);
    return fpmd_fpm_format("%.*s.fpmd%s", (int) (dot - path), path, dot);
}

int
fpmd_fpm_is_ip(const char *host, int family)
{
    unsigned char buf[sizeof(struct in6_addr)];

    return inet_pton(family, host, buf) == 1;
}

static int
parse_port(const char *s, unsigned *port)
{
    long long v;

    if (!isdigit((unsigned char) s[0])
        || fpmd_fpm_ini_int(s, 1, 65535, &v) != FPMD_OK)
        return FPMD_ERROR;
    *port = (unsigned) v;
    return FPMD_OK;
}

/* php-fpm's listen: "port", "ip:port", "[ipv6]:port", "/path" (relative
 * paths against base). NULL, or why it is refused. */
const char *
fpmd_fpm_parse_listen(const char *v, const char *base,
                      struct fpmd_fpm_addr *a)
{
    const char *colon;
    size_t hlen;

    memset(a, 0, sizeof(*a));
    if (v[0] != '\0' && strspn(v, "0123456789") == strlen(v)) {
        a->any = a->dual = 1;
        return parse_port(v, &a->port) == FPMD_OK ? NULL
                                                  : "the port must be 1 "
                                                    "to 65535";
    }
    if (strchr(v, ':') == NULL) {
        if (v[0] == '\0')
            return "an empty address";
        a->unix_socket = 1;
        a->path = fpmd_fpm_resolve(v, base);
        if (a->path == NULL)
            return "out of memory";
        return strlen(a->path) < 108 ? NULL
                                     : "a unix socket path longer than 107 "
                                       "bytes";
    }
    if (v[0] == '[') {
        const char *close = strchr(v, ']');

        if (close == NULL || close[1] != ':')
            return "not [IPv6]:PORT";
        hlen = (size_t) (close - v - 1);
        if (hlen >= sizeof(a->host))
            return "not an IPv6 address";
        memcpy(a->host, v + 1, hlen);
        a->host[hlen] = '\0';
        if (!fpmd_fpm_is_ip(a->host, AF_INET6))
            return "not an IPv6 address in [...]";
        colon = close + 1;
        a->any = a->dual = strcmp(a->host, "::") == 0;
    } else {
        colon = strrchr(v, ':');
        hlen = (size_t) (colon - v);
        if (hlen == 0 || hlen >= sizeof(a->host))
            return "not HOST:PORT";
        memcpy(a->host, v, hlen);
        a->host[hlen] = '\0';
        if (strcmp(a->host, "*") == 0 || strcmp(a->host, "0.0.0.0") == 0)
            a->any = 1;
        else if (strcmp(a->host, "localhost") != 0
                 && !fpmd_fpm_is_ip(a->host, AF_INET))
            return "fpmd takes IP addresses, not host names (a lookup "
                   "would block): write the address";
    }
    return parse_port(colon + 1, &a->port) == FPMD_OK
               ? NULL : "the port must be 1 to 65535";
}

/* An address as fpmd's listen: takes it. */
char *
fpmd_fpm_listen_text(const struct fpmd_fpm_addr *a, int v6)
{
    if (a->unix_socket)
        return strdup(a->path);
    if (a->dual)
        return v6 ? fpmd_fpm_format("[::]:%u", a->port)
                  : fpmd_fpm_format("0.0.0.0:%u", a->port);
    if (strchr(a->host, ':') != NULL)
        return fpmd_fpm_format("[%s]:%u", a->host, a->port);
    return fpmd_fpm_format("%s:%u", a->host, a->port);
}

/* Where fpmd connects to reach what listens at a: a connectable host
 * ("localhost" may be ::1 or 127.0.0.1 to php-fpm: name one). */
char *
fpmd_fpm_connect_text(const struct fpmd_fpm_addr *a, unsigned port)
{
    if (a->unix_socket)
        return strdup(a->path);
    if (a->any || strcmp(a->host, "localhost") == 0)
        return fpmd_fpm_format("127.0.0.1:%u", port);
    if (strchr(a->host, ':') != NULL)
        return fpmd_fpm_format("[%s]:%u", a->host, port);
    return fpmd_fpm_format("%s:%u", a->host, port);
}

/* The pool's new address by default: the TCP port + 1, or the socket
 * "X.sock" beside it as "X-legacy.sock". */
char *
fpmd_fpm_default_legacy(const struct fpmd_fpm_addr *a)
{
    if (a->unix_socket) {
        size_t len = strlen(a->path);

        if (len > 5 && strcmp(a->path + len - 5, ".sock") == 0)
            return fpmd_fpm_format("%.*s-legacy.sock", (int) (len - 5),
                                   a->path);
        return fpmd_fpm_format("%s-legacy", a->path);
    }
    if (a->port == 65535)
        return NULL;
    return fpmd_fpm_connect_text(a, a->port + 1);
}

/* Whether connecting to b reaches what listens at a. */
int
fpmd_fpm_same_place(const struct fpmd_fpm_addr *a,
                    const struct fpmd_fpm_addr *b)
{
    if (a->unix_socket || b->unix_socket)
        return a->unix_socket && b->unix_socket
            && strcmp(a->path, b->path) == 0;
    return a->port == b->port
        && (a->any || b->any || strcmp(a->host, b->host) == 0);
}

