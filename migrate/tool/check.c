/* SPDX-License-Identifier: BSD-2-Clause */
/* fpmd-migrate check CONFIG: what `fpmd -t` checks (the config loads,
 * every route names a handler, no two routes collide), plus the shims an
 * earlier shim always takes first, which fpmd accepts but which can
 * never answer. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fpmd/prepare.h"
#include "fpmd/router.h"
#include "migrate/tool/migrate_cli.h"

#define MAX_REPORTED 1000

int
fpmd_migrate_check(int argc, char **argv)
{
    const struct fpmd_route **shadowed, **by;
    struct fpmd_router *router;
    struct fpmd_conf *conf;
    size_t n, nroutes = 0, nshims = 0;
    char err[16384];

    if (argc != 2 || argv[1][0] == '-') {
        fprintf(argc == 2 && strcmp(argv[1], "--help") == 0 ? stdout
                                                            : stderr,
                "Usage: fpmd-migrate check CONFIG\n");
        return argc == 2 && strcmp(argv[1], "--help") == 0
            ? 0 : FPMD_MIGRATE_EXIT_USAGE;
    }
    conf = fpmd_conf_load(argv[1], err, sizeof(err));
    if (conf == NULL) {
        fputs(err, stderr);
        return FPMD_MIGRATE_EXIT_CONFIG;
    }
    router = fpmd_prepare(conf, err, sizeof(err));
    if (router == NULL) {
        fputs(err, stderr);
        fpmd_conf_free(conf);
        return FPMD_MIGRATE_EXIT_PROBLEMS;
    }
    shadowed = calloc(MAX_REPORTED, sizeof(*shadowed));
    by = calloc(MAX_REPORTED, sizeof(*by));
    if (shadowed == NULL || by == NULL) {
        free(shadowed);
        free(by);
        fpmd_router_free(router);
        fpmd_conf_free(conf);
        fprintf(stderr, "fpmd-migrate: out of memory\n");
        return FPMD_MIGRATE_EXIT_PROBLEMS;
    }
    n = fpmd_router_shadowed(router, shadowed, by, MAX_REPORTED);
    for (size_t i = 0; i < n && i < MAX_REPORTED; i++)
        printf("%s: shim %s%s%s (%s) is shadowed by the one at %s (%s): "
               "it never answers\n", shadowed[i]->where,
               shadowed[i]->methods ? shadowed[i]->methods : "",
               shadowed[i]->methods ? " " : "", shadowed[i]->path,
               fpmd_route_handler_name(shadowed[i]), by[i]->where,
               fpmd_route_handler_name(by[i]));
    if (n > MAX_REPORTED)
        printf("... and %zu more\n", n - MAX_REPORTED);
    for (size_t i = 0; i < conf->nroutes; i++) {
        nroutes++;
        nshims += conf->routes[i].shim != NULL;
    }
    printf("%s: %zu routes, %zu shims, %zu shadowed\n", conf->file, nroutes,
           nshims, n);
    free(shadowed);
    free(by);
    fpmd_router_free(router);
    fpmd_conf_free(conf);
    return n > 0 ? FPMD_MIGRATE_EXIT_PROBLEMS : 0;
}
