/* SPDX-License-Identifier: BSD-2-Clause */
/* The catalogue of php-fpm 8.2's directives (see fpm_directives.h). */
#include "config.h"

#include <stddef.h>
#include <string.h>
#include <strings.h>

#include "fpmd/common.h"
#include "migrate/tool/fpm_directives.h"

/* The fpmd key of each slot, as the report names it. */
static const char *const slot_keys[NSLOTS] = {
    [G_PID] = "pid", [G_ERROR_LOG] = "log.error",
    [G_LOG_LEVEL] = "log.level",
    [G_ER_THRESHOLD] = "emergency_restart_threshold",
    [G_ER_INTERVAL] = "emergency_restart_interval",
    [G_CONTROL] = "timeouts.process_control", [G_DAEMONIZE] = "daemonize",
    [P_PREFIX] = "(relative paths)", [P_USER] = "user",
    [P_GROUP] = "group", [P_LISTEN] = "listen[].fastcgi",
    [P_BACKLOG] = "listen[].backlog", [P_OWNER] = "listen[].owner",
    [P_LGROUP] = "listen[].group", [P_MODE] = "listen[].mode",
    [P_ALLOWED] = "listen[].allowed_clients", [P_PM] = "pm.mode",
    [P_CHILDREN] = "pm.max_children", [P_START] = "pm.start_servers",
    [P_MIN_SPARE] = "pm.min_spare_servers",
    [P_MAX_SPARE] = "pm.max_spare_servers",
    [P_SPAWN] = "pm.max_spawn_rate", [P_IDLE] = "pm.process_idle_timeout",
    [P_MAX_REQUESTS] = "pm.max_requests", [P_STATUS] = "status.path",
    [P_PING] = "status.ping", [P_PONG] = "status.ping_response",
    [P_TERMINATE] = "timeouts.request_terminate",
    [P_SLOW_TIMEOUT] = "timeouts.slowlog", [P_SLOWLOG] = "log.slow",
    [P_ACCESS_LOG] = "log.access", [P_ACCESS_FORMAT] = "log.access_format",
};

/* php-fpm 8.2's directives (fpm_conf.c's ini_fpm_global_options and
 * ini_fpm_pool_options). */
static const struct directive directives[] = {
    {"pid", IN_GLOBAL, T_STR, G_PID, NULL},
    {"error_log", IN_GLOBAL, T_STR, G_ERROR_LOG, NULL},
    {"log_level", IN_GLOBAL, T_LEVEL, G_LOG_LEVEL, NULL},
    {"emergency_restart_threshold", IN_GLOBAL, T_INT, G_ER_THRESHOLD, NULL},
    {"emergency_restart_interval", IN_GLOBAL, T_TIME, G_ER_INTERVAL, NULL},
    {"process_control_timeout", IN_GLOBAL, T_TIME, G_CONTROL, NULL},
    {"daemonize", IN_GLOBAL, T_BOOL, G_DAEMONIZE, NULL},
    {"syslog.ident", IN_GLOBAL, T_STR, UNMAPPED, R_SYSLOG},
    {"syslog.facility", IN_GLOBAL, T_STR, UNMAPPED, R_SYSLOG},
    {"log_buffering", IN_GLOBAL, T_BOOL, UNMAPPED,
     "fpmd writes each log line with one write(2): there is no buffer "
     "to turn off"},
    {"log_limit", IN_GLOBAL, T_INT, UNMAPPED,
     "fpmd cuts log lines at a fixed 2048 bytes"},
    {"process.max", IN_GLOBAL, T_INT, UNMAPPED,
     "fpmd runs one pool: pm.max_children bounds its workers"},
    {"events.mechanism", IN_GLOBAL, T_STR, UNMAPPED,
     "fpmd's workers run libevent, which picks epoll on Linux itself"},
    {"systemd_interval", IN_GLOBAL, T_TIME, UNMAPPED,
     "fpmd does not report its status to systemd (no sd_notify)"},
    {"process.priority", IN_GLOBAL | IN_POOL, T_INT, UNMAPPED,
     "fpmd does not renice its processes: set Nice= in its systemd unit"},
    {"rlimit_files", IN_GLOBAL | IN_POOL, T_INT, UNMAPPED, R_RLIMIT},
    {"rlimit_core", IN_GLOBAL | IN_POOL, T_RLIMIT, UNMAPPED, R_RLIMIT},
    {"prefix", IN_POOL, T_STR, P_PREFIX, NULL},
    {"user", IN_POOL, T_STR, P_USER, NULL},
    {"group", IN_POOL, T_STR, P_GROUP, NULL},
    {"listen", IN_POOL, T_STR, P_LISTEN, NULL},
    {"listen.backlog", IN_POOL, T_INT, P_BACKLOG, NULL},
    {"listen.owner", IN_POOL, T_STR, P_OWNER, NULL},
    {"listen.group", IN_POOL, T_STR, P_LGROUP, NULL},
    {"listen.mode", IN_POOL, T_STR, P_MODE, NULL},
    {"listen.allowed_clients", IN_POOL, T_STR, P_ALLOWED, NULL},
    {"listen.acl_users", IN_POOL, T_STR, UNMAPPED,
     "fpmd sets no POSIX ACL on its socket: use listen.owner, "
     "listen.group and listen.mode"},
    {"listen.acl_groups", IN_POOL, T_STR, UNMAPPED,
     "fpmd sets no POSIX ACL on its socket: use listen.owner, "
     "listen.group and listen.mode"},
    {"listen.setfib", IN_POOL, T_INT, UNMAPPED,
     "a FreeBSD routing table (SO_SETFIB): fpmd runs on Linux"},
    {"process.dumpable", IN_POOL, T_BOOL, UNMAPPED,
     "fpmd does not set PR_SET_DUMPABLE on its workers"},
    {"pm", IN_POOL, T_PM, P_PM, NULL},
    {"pm.max_children", IN_POOL, T_INT, P_CHILDREN, NULL},
    {"pm.start_servers", IN_POOL, T_INT, P_START, NULL},
    {"pm.min_spare_servers", IN_POOL, T_INT, P_MIN_SPARE, NULL},
    {"pm.max_spare_servers", IN_POOL, T_INT, P_MAX_SPARE, NULL},
    {"pm.max_spawn_rate", IN_POOL, T_INT, P_SPAWN, NULL},
    {"pm.process_idle_timeout", IN_POOL, T_TIME, P_IDLE, NULL},
    {"pm.max_requests", IN_POOL, T_INT, P_MAX_REQUESTS, NULL},
    {"pm.status_path", IN_POOL, T_STR, P_STATUS, NULL},
    {"pm.status_listen", IN_POOL, T_STR, UNMAPPED,
     "fpmd has no separate status listener: its status page "
     "(status.path) answers on its listen addresses"},
    {"ping.path", IN_POOL, T_STR, P_PING, NULL},
    {"ping.response", IN_POOL, T_STR, P_PONG, NULL},
    {"access.log", IN_POOL, T_STR, P_ACCESS_LOG, NULL},
    {"access.format", IN_POOL, T_STR, P_ACCESS_FORMAT, NULL},
    {"slowlog", IN_POOL, T_STR, P_SLOWLOG, NULL},
    {"request_slowlog_timeout", IN_POOL, T_TIME, P_SLOW_TIMEOUT, NULL},
    {"request_slowlog_trace_depth", IN_POOL, T_INT, UNMAPPED,
     "fpmd's slow log names the route and the URI: there is no PHP "
     "backtrace to cut"},
    {"request_terminate_timeout", IN_POOL, T_TIME, P_TERMINATE, NULL},
    {"request_terminate_timeout_track_finished", IN_POOL, T_BOOL, UNMAPPED,
     "about PHP's fastcgi_finish_request(): stays with the legacy "
     "php-fpm's pool"},
    {"chroot", IN_POOL, T_STR, UNMAPPED,
     "fpmd does not chroot its workers; the legacy php-fpm keeps its "
     "chroot for the PHP it runs"},
    {"chdir", IN_POOL, T_STR, UNMAPPED,
     "fpmd's workers do not chdir (its relative paths are relative to "
     "its config file); the legacy php-fpm keeps its chdir"},
    {"catch_workers_output", IN_POOL, T_BOOL, UNMAPPED,
     "about php-fpm's children's stdout and stderr: php-fpm keeps it; "
     "fpmd's workers write to fpmd's error log"},
    {"decorate_workers_output", IN_POOL, T_BOOL, UNMAPPED,
     "about php-fpm's children's stdout and stderr: php-fpm keeps it; "
     "fpmd's workers write to fpmd's error log"},
    {"clear_env", IN_POOL, T_BOOL, UNMAPPED,
     "the environment of PHP's workers: stays with the legacy php-fpm; "
     "fpmd passes each request's CGI params unchanged"},
    {"security.limit_extensions", IN_POOL, T_STR, UNMAPPED,
     "fpmd runs no scripts: the legacy php-fpm keeps checking the "
     "scripts it runs (fpmd's static: routes refuse .php with "
     "deny_extensions)"},
    {"apparmor_hat", IN_POOL, T_STR, UNMAPPED,
     "fpmd does not change AppArmor hats"},
};

/* The array directives, name[key] (compared case-sensitively, as
 * php-fpm does). */
static const struct {
    const char *name;
    const char *reason;
} arrays[] = {
    {"env", R_ENV},
    {"php_value", R_PHP},
    {"php_admin_value", R_PHP},
    {"php_flag", R_PHP},
    {"php_admin_flag", R_PHP},
    {"access.suppress_path", "fpmd's access log has no per-path "
     "suppression; php-fpm keeps it for its own log"},
};


const char *
fpmd_fpm_slot_key(int slot)
{
    return slot >= 0 && slot < NSLOTS ? slot_keys[slot] : "?";
}

const struct directive *
fpmd_fpm_directive_find(const char *name)
{
    for (size_t i = 0; i < FPMD_ARRAY_LEN(directives); i++) {
        if (strcasecmp(directives[i].name, name) == 0)
            return &directives[i];
    }
    return NULL;
}

const char *
fpmd_fpm_array_reason(const char *name)
{
    for (size_t i = 0; i < FPMD_ARRAY_LEN(arrays); i++) {
        if (strcmp(arrays[i].name, name) == 0)
            return arrays[i].reason;
    }
    return NULL;
}
