/* SPDX-License-Identifier: BSD-2-Clause */
/* Paths and listen addresses as php-fpm reads them in its config, and as
 * fpmd's config writes them, for import-fpm. Strings returned are new
 * (the caller frees them); NULL when memory is out. */
#ifndef FPMD_MIGRATE_TOOL_FPM_PATHS_H
#define FPMD_MIGRATE_TOOL_FPM_PATHS_H

#include <netinet/in.h>
#include <arpa/inet.h>

/* A php-fpm listen address (fpm_sockets_domain_from_address). */
struct fpmd_fpm_addr {
    int unix_socket;
    int any;                /* all addresses: "port", "[::]:port",
                             * "0.0.0.0:port", "*:port" */
    int dual;               /* IPv6 and IPv4-mapped ("port", "[::]") */
    char host[INET6_ADDRSTRLEN];    /* numeric, "localhost" */
    unsigned port;
    char *path;             /* unix: absolute */
};

char *fpmd_fpm_format(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

/* path against base when relative (php-fpm's fpm_evaluate_full_path). */
char *fpmd_fpm_resolve(const char *path, const char *base);
/* A file of fpmd's own beside one php-fpm keeps writing: "x.log" ->
 * "x.fpmd.log". */
char *fpmd_fpm_sibling(const char *path);
/* 1 when host is a numeric address of family. */
int fpmd_fpm_is_ip(const char *host, int family);
/* php-fpm's listen: "port", "ip:port", "[ipv6]:port", "/path" (relative
 * paths against base). NULL, or why it is refused. */
const char *fpmd_fpm_parse_listen(const char *v, const char *base,
                                  struct fpmd_fpm_addr *a);
/* a as fpmd's listen: takes it (v6: the IPv6 half of a dual one). */
char *fpmd_fpm_listen_text(const struct fpmd_fpm_addr *a, int v6);
/* Where fpmd connects to reach what listens at a, on port. */
char *fpmd_fpm_connect_text(const struct fpmd_fpm_addr *a, unsigned port);
/* The pool's new address by default: the TCP port + 1, or the socket
 * "X.sock" beside it as "X-legacy.sock"; NULL for port 65535. */
char *fpmd_fpm_default_legacy(const struct fpmd_fpm_addr *a);
/* Whether connecting to b reaches what listens at a. */
int fpmd_fpm_same_place(const struct fpmd_fpm_addr *a,
                        const struct fpmd_fpm_addr *b);

#endif
