/* SPDX-License-Identifier: BSD-2-Clause */
#include "config.h"

#include <stdio.h>

#include "migrate/migrate_cli.h"

int
fpmd_migrate_scan(int argc, char **argv)
{
    (void) argc;
    fprintf(stderr, "fpmd-migrate: %s is not built yet\n", argv[0]);
    return FPMD_MIGRATE_EXIT_USAGE;
}
