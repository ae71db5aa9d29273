/* SPDX-License-Identifier: BSD-2-Clause */
/* fpmd-migrate's subcommands. Each takes the arguments after its name
 * (argv[0] is the subcommand) and returns the process exit status: 0 done,
 * 1 the input had problems it reported, 64 usage, 66 an input could not
 * be read, 78 a config that does not load. */
#ifndef FPMD_MIGRATE_TOOL_MIGRATE_CLI_H
#define FPMD_MIGRATE_TOOL_MIGRATE_CLI_H

#include <stddef.h>

#define FPMD_MIGRATE_EXIT_PROBLEMS 1
#define FPMD_MIGRATE_EXIT_USAGE 64
#define FPMD_MIGRATE_EXIT_NOINPUT 66
#define FPMD_MIGRATE_EXIT_CONFIG 78

int fpmd_migrate_import_fpm(int argc, char **argv);
int fpmd_migrate_import_unit(int argc, char **argv);

/* The imports' output: the YAML through fpmd's loader and route table,
 * what `fpmd -t` says of it (FPMD_OK, or FPMD_ERROR with the errors on
 * stderr); text written to path (NULL: stdout), FPMD_ERROR after saying
 * why on stderr. */
int fpmd_migrate_self_check(const char *name, const char *text, size_t len);
int fpmd_migrate_write_out(const char *path, const char *text, size_t len);
int fpmd_migrate_scan(int argc, char **argv);
int fpmd_migrate_check(int argc, char **argv);

#endif
