/* SPDX-License-Identifier: BSD-2-Clause */
/* php-fpm 8.2's directives as import-fpm reads them (fpm_conf.c's
 * ini_fpm_global_options and ini_fpm_pool_options): where each may stand,
 * how php-fpm parses its value, the fpmd key it becomes or why it has
 * none. Not for use outside import-fpm (import_fpm.c). */
#ifndef FPMD_MIGRATE_TOOL_FPM_DIRECTIVES_H
#define FPMD_MIGRATE_TOOL_FPM_DIRECTIVES_H

#define R_PHP "stays with php-fpm (PHP ini setting)"
#define R_ENV "passed to the legacy php-fpm's own pool"
#define R_UNKNOWN "not a php-fpm 8.2 directive: php-fpm refuses it"
#define R_RLIMIT "fpmd sets no resource limits: set it in fpmd's systemd " \
    "unit (LimitNOFILE=, LimitCORE=) or with ulimit"
#define R_SYSLOG "fpmd logs to a file or stderr, not to syslog"

/* The directives that become fpmd keys; one value each, the last one
 * read wins as in php-fpm. */
enum slot {
    G_PID, G_ERROR_LOG, G_LOG_LEVEL, G_ER_THRESHOLD, G_ER_INTERVAL,
    G_CONTROL, G_DAEMONIZE,
    P_PREFIX, P_USER, P_GROUP, P_LISTEN, P_BACKLOG, P_OWNER, P_LGROUP,
    P_MODE, P_ALLOWED, P_PM, P_CHILDREN, P_START, P_MIN_SPARE,
    P_MAX_SPARE, P_SPAWN, P_IDLE, P_MAX_REQUESTS, P_STATUS, P_PING,
    P_PONG, P_TERMINATE, P_SLOW_TIMEOUT, P_SLOWLOG, P_ACCESS_LOG,
    P_ACCESS_FORMAT,
    NSLOTS,
    UNMAPPED = -1
};

/* How php-fpm reads a directive's value (fpm_conf.c's parsers). */
enum type { T_STR, T_INT, T_TIME, T_BOOL, T_PM, T_LEVEL, T_RLIMIT };

#define IN_GLOBAL 1u
#define IN_POOL 2u

struct directive {
    const char *name;
    unsigned scope;
    enum type type;
    int slot;               /* UNMAPPED: reason says why */
    const char *reason;
};

/* The fpmd key of a slot, as the report names it. */
const char *fpmd_fpm_slot_key(int slot);

/* The directive named name (in any case); NULL when php-fpm has none. */
const struct directive *fpmd_fpm_directive_find(const char *name);

/* Why an array directive (env[], php_value[]...; its name compared
 * case-sensitively, as php-fpm does) stays with php-fpm; NULL for a name
 * that is not one. */
const char *fpmd_fpm_array_reason(const char *name);

#endif
