/* SPDX-License-Identifier: BSD-2-Clause */
/* fpmd-migrate: the tools of a move from php-fpm to fpmd. import-fpm turns
 * php-fpm pool files into an fpmd config that passes everything through
 * to the old pool; import-unit does the same for NGINX Unit's /config and
 * its PHP applications; scan ranks the legacy routes of an access log by
 * traffic; check verifies a config's routes and shims. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "migrate/tool/migrate_cli.h"

static void
usage(FILE *out)
{
    fprintf(out,
        "Usage: fpmd-migrate COMMAND [ARGS]\n"
        "  import-fpm [-o FILE] [--legacy ADDR] FILE...\n"
        "                 php-fpm.conf / pool.d/*.conf to an fpmd YAML\n"
        "  import-unit [-o FILE] [--php-fpm-pool FILE] UNIT.json\n"
        "                 NGINX Unit's /config to an fpmd YAML and php-fpm "
        "pools\n"
        "  scan [--format LOG_FORMAT] [--config FILE] [--top N] LOG...\n"
        "                 legacy routes of an nginx access log by traffic\n"
        "  check CONFIG   every route has a handler; no shim is shadowed\n"
        "Run fpmd-migrate COMMAND --help for a command's options.\n");
}

int
main(int argc, char **argv)
{
    static const struct {
        const char *name;
        int (*fn)(int, char **);
    } cmds[] = {
        {"import-fpm", fpmd_migrate_import_fpm},
        {"import-unit", fpmd_migrate_import_unit},
        {"scan", fpmd_migrate_scan},
        {"check", fpmd_migrate_check},
    };

    if (argc < 2) {
        usage(stderr);
        return FPMD_MIGRATE_EXIT_USAGE;
    }
    if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(argv[1], "-v") == 0 || strcmp(argv[1], "--version") == 0) {
        printf("fpmd-migrate %s\n", PACKAGE_VERSION);
        return 0;
    }
    for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
        if (strcmp(argv[1], cmds[i].name) == 0)
            return cmds[i].fn(argc - 1, argv + 1);
    }
    fprintf(stderr, "fpmd-migrate: unknown command \"%s\"\n", argv[1]);
    usage(stderr);
    return FPMD_MIGRATE_EXIT_USAGE;
}
