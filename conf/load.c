/* SPDX-License-Identifier: BSD-2-Clause */
/* The YAML config loader: the top-level keys and the small sections
 * (listen:, pm:, timeouts:, limits:, status:, log:, modules:), read with
 * yaml_reader.h against the schema below; routes: and pools:/legacy: have
 * files of their own. The entry points of fpmd/conf.h. */
#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "conf/arena.h"
#include "conf/load_cron.h"
#include "conf/load_pools.h"
#include "conf/load_tables.h"
#include "conf/load_upstreams.h"
#include "conf/load_routes.h"
#include "conf/yaml_reader.h"
#include "fpmd/conf.h"

#define CONF_MAX_BYTES (4 * 1024 * 1024)

/* top level scalars */
KEYFN(k_pool) { fpmd_yaml_get_str(c, v, key, &c->conf->pool_name); }
KEYFN(k_user) { fpmd_yaml_get_str(c, v, key, &c->conf->user); }
KEYFN(k_group) { fpmd_yaml_get_str(c, v, key, &c->conf->group); }
KEYFN(k_pid) { fpmd_yaml_get_str(c, v, key, &c->conf->pid_file); }
KEYFN(k_watch) { fpmd_yaml_get_bool(c, v, key, &c->conf->watch); }
KEYFN(k_daemonize)
{
    bool on = c->conf->daemonize == 1;

    fpmd_yaml_get_bool(c, v, key, &on);
    c->conf->daemonize = on;
}
KEYFN(k_er_threshold)
{
    fpmd_yaml_get_uint(c, v, key, 0, 1000000,
                       &c->conf->emergency_restart_threshold);
}
KEYFN(k_er_interval)
{
    fpmd_yaml_get_duration(c, v, key, &c->conf->emergency_restart_interval_ms);
}

/* seccomp: off, on or log; YAML's other words for a boolean count as off
 * and on. */
KEYFN(k_seccomp)
{
    static const char *const on[] = {"on", "true", "yes"};
    static const char *const off[] = {"off", "false", "no"};
    const char *m = fpmd_yaml_scalar(c, v, key);

    if (m == NULL)
        return;
    for (size_t i = 0; i < FPMD_ARRAY_LEN(on); i++) {
        if (strcasecmp(m, on[i]) == 0) {
            c->conf->seccomp.mode = FPMD_SECCOMP_ON;
            return;
        }
        if (strcasecmp(m, off[i]) == 0) {
            c->conf->seccomp.mode = FPMD_SECCOMP_OFF;
            return;
        }
    }
    if (strcasecmp(m, "log") == 0)
        c->conf->seccomp.mode = FPMD_SECCOMP_LOG;
    else
        fpmd_yaml_error_at(c, v, "seccomp: \"%s\" is not one of off, on, "
                           "log", m);
}

/* seccomp_allow: system call names, checked against libseccomp's table
 * (of every architecture it knows: a name of another one is accepted and
 * means nothing here, so one config serves several machines). */
KEYFN(k_seccomp_allow)
{
    char **names;
    size_t n = 0;

    if (fpmd_yaml_list_items(c, v, key, "system call names",
                             sizeof(*names)) == NULL
        || (names = fpmd_conf_alloc(c->arena, v->nkids + 1,
                                    sizeof(*names))) == NULL)
        return;
    for (size_t i = 0; i < v->nkids; i++) {
        const char *name = fpmd_yaml_scalar(c, v->kids[i], key);

        if (name == NULL)
            continue;
        if (seccomp_syscall_resolve_name(name) == __NR_SCMP_ERROR) {
            fpmd_yaml_error_at(c, v->kids[i], "%s: \"%s\" is not a system "
                               "call libseccomp knows", key, name);
            continue;
        }
        names[n++] = fpmd_conf_strdup(c->arena, name);
    }
    names[n] = NULL;
    c->conf->seccomp.allow = names;
}

/* listen entries */
static struct fpmd_conf_listen *cur_listen;
static int cur_listen_kinds;

static int
valid_ip(const char *s)
{
    unsigned char buf[sizeof(struct in6_addr)];

    return inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1;
}

static int
valid_inet_address(const char *a)
{
    const char *colon, *hend;
    char host[64];
    char *end;
    long port;

    if (a[0] == '[') {
        hend = strchr(a, ']');
        if (hend == NULL || hend[1] != ':'
            || (size_t) (hend - a - 1) >= sizeof(host))
            return 0;
        memcpy(host, a + 1, (size_t) (hend - a - 1));
        host[hend - a - 1] = '\0';
        colon = hend + 1;
        if (!valid_ip(host) || strchr(host, ':') == NULL)
            return 0;
    } else {
        colon = strrchr(a, ':');
        if (colon == NULL || colon == a || (size_t) (colon - a) >= sizeof(host))
            return 0;
        memcpy(host, a, (size_t) (colon - a));
        host[colon - a] = '\0';
        if (strcmp(host, "*") != 0 && strcmp(host, "localhost") != 0) {
            struct in_addr in;

            if (inet_pton(AF_INET, host, &in) != 1)
                return 0;
        }
    }
    errno = 0;
    port = strtol(colon + 1, &end, 10);
    return end != colon + 1 && *end == '\0' && errno == 0 && port >= 1
        && port <= 65535;
}

static void
listen_address(struct fpmd_yaml_ctx *c, const struct fpmd_yaml_node *v,
               const char *key, enum fpmd_listen_proto proto)
{
    const char *a = fpmd_yaml_scalar(c, v, key);

    cur_listen_kinds++;
    if (a == NULL)
        return;
    cur_listen->proto = proto;
    cur_listen->address = fpmd_conf_strdup(c->arena, a);
    cur_listen->pos.line = v->line;
    cur_listen->pos.column = v->column;
    if (a[0] == '/') {
        if (strlen(a) >= 108)
            fpmd_yaml_error_at(c, v,
                               "%s: unix socket path longer than 107 bytes",
                               key);
    } else if (!valid_inet_address(a)) {
        fpmd_yaml_error_at(c, v,
                           "%s: \"%s\" is not host:port, [ipv6]:port or an "
                           "absolute unix socket path", key, a);
    }
}

KEYFN(k_l_fastcgi) { listen_address(c, v, key, FPMD_PROTO_FASTCGI); }
KEYFN(k_l_http) { listen_address(c, v, key, FPMD_PROTO_HTTP); }
KEYFN(k_l_jsonrpc) { listen_address(c, v, key, FPMD_PROTO_JSONRPC_LINES); }

/* framing: of a jsonrpc: listener; walked after its address (YAML keeps
 * no order we could rely on, so it is applied at the entry's end). */
static const char *cur_framing;
static const struct fpmd_yaml_node *cur_framing_at;

KEYFN(k_l_framing)
{
    cur_framing = fpmd_yaml_scalar(c, v, key);
    cur_framing_at = v;
}
KEYFN(k_l_backlog)
{
    unsigned b = (unsigned) cur_listen->backlog;

    fpmd_yaml_get_uint(c, v, key, 1, 65535, &b);
    cur_listen->backlog = (int) b;
}
KEYFN(k_l_owner) { fpmd_yaml_get_str(c, v, key, &cur_listen->owner); }
KEYFN(k_l_group) { fpmd_yaml_get_str(c, v, key, &cur_listen->group); }
KEYFN(k_l_mode)
{
    const char *m = fpmd_yaml_scalar(c, v, key);
    char *end;
    long mode;

    if (m == NULL)
        return;
    errno = 0;
    mode = strtol(m, &end, 8);
    if (m[0] == '\0' || *end != '\0' || errno != 0 || mode < 0
        || mode > 07777) {
        fpmd_yaml_error_at(c, v,
                           "%s: \"%s\" is not an octal file mode like \"0660\"",
                           key, m);
        return;
    }
    cur_listen->mode = (int) mode;
}

/* How many addresses v may hold: a list's items, or the comma-separated
 * fields of a string. */
static size_t
count_clients(const struct fpmd_yaml_node *v)
{
    size_t n = 1;

    if (v->type != FPMD_YAML_SCALAR)
        return v->nkids;
    for (const char *p = v->value; (p = strchr(p, ',')) != NULL; p++)
        n++;
    return n;
}

/* Adds the address in s (len bytes, blanks around it dropped) to list,
 * which has room for it. */
static void
add_client(struct fpmd_yaml_ctx *c, const struct fpmd_yaml_node *at,
           const char *s, size_t len, char **list, size_t *n)
{
    char *ip;

    while (len > 0 && isspace((unsigned char) *s)) {
        s++;
        len--;
    }
    while (len > 0 && isspace((unsigned char) s[len - 1]))
        len--;
    if (len == 0)
        return;
    ip = fpmd_conf_strndup(c->arena, s, len);
    if (ip == NULL)
        return;
    if (valid_ip(ip))
        list[(*n)++] = ip;
    else
        fpmd_yaml_error_at(c, at,
                           "allowed_clients: \"%s\" is not an IPv4 or IPv6 "
                           "address", ip);
}

KEYFN(k_l_allowed)
{
    char **list;
    size_t n = 0;

    if (v->type != FPMD_YAML_SCALAR && v->type != FPMD_YAML_SEQ) {
        fpmd_yaml_error_at(c, v, "%s: expected a list of IP addresses", key);
        return;
    }
    /* room for every address and the NULL after them */
    list = fpmd_conf_alloc(c->arena, count_clients(v) + 1, sizeof(*list));
    if (list == NULL)
        return;
    if (v->type == FPMD_YAML_SCALAR) {
        /* php-fpm's listen.allowed_clients is one comma-separated string */
        const char *p = v->value;

        while (*p != '\0') {
            const char *comma = strchr(p, ',');
            size_t len = comma ? (size_t) (comma - p) : strlen(p);

            add_client(c, v, p, len, list, &n);
            p += len;
            if (*p == ',')
                p++;
        }
    } else {
        for (size_t i = 0; i < v->nkids; i++) {
            const char *ip = fpmd_yaml_scalar(c, v->kids[i], key);

            if (ip != NULL)
                add_client(c, v->kids[i], ip, strlen(ip), list, &n);
        }
    }
    cur_listen->allowed_clients = n > 0 ? list : NULL;
}

static const struct fpmd_yaml_key listen_keys[] = {
    {"fastcgi", k_l_fastcgi}, {"http", k_l_http}, {"backlog", k_l_backlog},
    {"allowed_clients", k_l_allowed}, {"owner", k_l_owner},
    {"group", k_l_group}, {"mode", k_l_mode}, {"jsonrpc", k_l_jsonrpc},
    {"framing", k_l_framing},
};

KEYFN(k_listen)
{
    struct fpmd_conf *conf = c->conf;

    conf->listen = fpmd_yaml_list_items(c, v, key, "listeners",
                                        sizeof(*conf->listen));
    if (conf->listen == NULL)
        return;
    for (size_t i = 0; i < v->nkids; i++) {
        const struct fpmd_yaml_node *item = v->kids[i];

        cur_listen = &conf->listen[conf->nlisten++];
        cur_listen->backlog = 511;
        cur_listen->mode = -1;
        fpmd_yaml_set_pos(&cur_listen->pos, c, item);
        cur_listen_kinds = 0;
        cur_framing = NULL;
        fpmd_yaml_walk_map(c, item, "listen", listen_keys,
                           FPMD_ARRAY_LEN(listen_keys));
        if (item->type != FPMD_YAML_MAP)
            continue;
        if (cur_framing != NULL) {
            if (cur_listen->proto != FPMD_PROTO_JSONRPC_LINES)
                fpmd_yaml_error_at(c, cur_framing_at, "framing: is for "
                                   "jsonrpc: listeners");
            else if (strcmp(cur_framing, "netstring") == 0)
                cur_listen->proto = FPMD_PROTO_JSONRPC_NETSTRING;
            else if (strcmp(cur_framing, "lines") != 0)
                fpmd_yaml_error_at(c, cur_framing_at, "framing: \"%s\" is "
                                   "not lines or netstring", cur_framing);
        }
        if (cur_listen_kinds != 1)
            fpmd_yaml_error_at(c, item,
                               "listen: each entry needs exactly one of "
                               "fastcgi:, http: or jsonrpc:");
        else if (cur_listen->address != NULL && cur_listen->address[0] != '/'
                 && (cur_listen->owner || cur_listen->group
                     || cur_listen->mode >= 0))
            fpmd_yaml_error_at(c, item,
                               "listen: owner, group and mode apply to unix "
                               "sockets only");
        if (cur_listen->address == NULL)
            cur_listen->address = fpmd_conf_strdup(c->arena, "");
    }
}

/* pm */
KEYFN(k_pm_mode)
{
    const char *m = fpmd_yaml_scalar(c, v, key);

    if (m == NULL)
        return;
    if (strcmp(m, "static") == 0)
        c->conf->pm.mode = FPMD_PM_STATIC;
    else if (strcmp(m, "dynamic") == 0)
        c->conf->pm.mode = FPMD_PM_DYNAMIC;
    else if (strcmp(m, "ondemand") == 0)
        c->conf->pm.mode = FPMD_PM_ONDEMAND;
    else
        fpmd_yaml_error_at(c, v,
                           "pm.mode: \"%s\" is not one of static, dynamic, "
                           "ondemand", m);
}

static bool pm_has_start;

KEYFN(k_pm_max_children)
{
    fpmd_yaml_get_uint(c, v, key, 1, 100000, &c->conf->pm.max_children);
}
KEYFN(k_pm_start)
{
    pm_has_start = true;
    fpmd_yaml_get_uint(c, v, key, 1, 100000, &c->conf->pm.start_servers);
}
KEYFN(k_pm_min_spare)
{
    fpmd_yaml_get_uint(c, v, key, 1, 100000, &c->conf->pm.min_spare_servers);
}
KEYFN(k_pm_max_spare)
{
    fpmd_yaml_get_uint(c, v, key, 1, 100000, &c->conf->pm.max_spare_servers);
}
KEYFN(k_pm_spawn_rate)
{
    fpmd_yaml_get_uint(c, v, key, 1, 1024, &c->conf->pm.max_spawn_rate);
}
KEYFN(k_pm_idle)
{
    fpmd_yaml_get_duration(c, v, key, &c->conf->pm.process_idle_timeout_ms);
}
KEYFN(k_pm_max_requests)
{
    fpmd_yaml_get_uint(c, v, key, 0, UINT_MAX, &c->conf->pm.max_requests);
}
KEYFN(k_pm_jitter)
{
    fpmd_yaml_get_uint(c, v, key, 0, UINT_MAX,
                       &c->conf->pm.max_requests_jitter);
}
KEYFN(k_pm_concurrency)
{
    fpmd_yaml_get_uint(c, v, key, 1, 1000000, &c->conf->pm.max_concurrency);
}
KEYFN(k_pm_queue)
{
    fpmd_yaml_get_uint(c, v, key, 0, 1000000, &c->conf->pm.max_queue);
}
KEYFN(k_pm_stack)
{
    fpmd_yaml_get_size(c, v, key, &c->conf->pm.stack_size);
    if (c->conf->pm.stack_size < 16384 || c->conf->pm.stack_size > (1u << 30))
        fpmd_yaml_error_at(c, v, "pm.stack_size: must be from 16k to 1g");
}

/* A bound below what a worker needs to start would recycle it for ever. */
KEYFN(k_pm_memory)
{
    fpmd_yaml_get_size(c, v, key, &c->conf->pm.max_memory);
    if (c->conf->pm.max_memory != 0 && c->conf->pm.max_memory < (8u << 20))
        fpmd_yaml_error_at(c, v, "pm.max_memory: must be 0 (no bound) or at "
                           "least 8m");
}

static const struct fpmd_yaml_key pm_keys[] = {
    {"mode", k_pm_mode}, {"max_children", k_pm_max_children},
    {"start_servers", k_pm_start}, {"min_spare_servers", k_pm_min_spare},
    {"max_spare_servers", k_pm_max_spare},
    {"max_spawn_rate", k_pm_spawn_rate},
    {"process_idle_timeout", k_pm_idle}, {"max_requests", k_pm_max_requests},
    {"max_requests_jitter", k_pm_jitter},
    {"max_concurrency", k_pm_concurrency}, {"max_queue", k_pm_queue},
    {"stack_size", k_pm_stack}, {"max_memory", k_pm_memory},
};

/* php-fpm's fpm_conf.c checks for pm = dynamic, at the pm block. */
static void
check_pm(struct fpmd_yaml_ctx *c, const struct fpmd_yaml_node *at)
{
    struct fpmd_conf *conf = c->conf;
    unsigned mc = conf->pm.max_children;

    if (conf->pm.mode != FPMD_PM_DYNAMIC)
        return;
    if (conf->pm.min_spare_servers > conf->pm.max_spare_servers)
        fpmd_yaml_error_at(c, at,
                           "pm.min_spare_servers (%u) must not be greater than "
                           "pm.max_spare_servers (%u)",
                           conf->pm.min_spare_servers,
                           conf->pm.max_spare_servers);
    if (mc != 0 && conf->pm.max_spare_servers > mc)
        fpmd_yaml_error_at(c, at,
                           "pm.max_spare_servers (%u) must not be greater than "
                           "pm.max_children (%u)",
                           conf->pm.max_spare_servers, mc);
    if (pm_has_start
        && (conf->pm.start_servers < conf->pm.min_spare_servers
            || conf->pm.start_servers > conf->pm.max_spare_servers))
        fpmd_yaml_error_at(c, at, "pm.start_servers (%u) must be from "
                           "pm.min_spare_servers (%u) to "
                           "pm.max_spare_servers (%u)",
                           conf->pm.start_servers, conf->pm.min_spare_servers,
                           conf->pm.max_spare_servers);
}

KEYFN(k_pm)
{
    pm_has_start = false;
    fpmd_yaml_walk_map(c, v, "pm", pm_keys, FPMD_ARRAY_LEN(pm_keys));
    if (v->type == FPMD_YAML_MAP)
        check_pm(c, v);
}

/* timeouts, limits, status, log */
KEYFN(k_t_terminate)
{
    fpmd_yaml_get_duration(c, v, key, &c->conf->timeouts.request_terminate_ms);
}
KEYFN(k_t_slowlog)
{
    fpmd_yaml_get_duration(c, v, key, &c->conf->timeouts.slowlog_ms);
}
KEYFN(k_t_control)
{
    fpmd_yaml_get_duration(c, v, key, &c->conf->timeouts.process_control_ms);
}
KEYFN(k_t_header)
{
    fpmd_yaml_get_duration(c, v, key, &c->conf->timeouts.header_read_ms);
    if (c->conf->timeouts.header_read_ms == 0)
        fpmd_yaml_error_at(c, v, "timeouts.header_read: must be above 0");
}
KEYFN(k_t_keepalive)
{
    fpmd_yaml_get_duration(c, v, key, &c->conf->timeouts.keepalive_ms);
    if (c->conf->timeouts.keepalive_ms == 0)
        fpmd_yaml_error_at(c, v, "timeouts.keepalive: must be above 0");
}

KEYFN(k_t_body)
{
    fpmd_yaml_get_duration(c, v, key, &c->conf->timeouts.body_read_ms);
    if (c->conf->timeouts.body_read_ms == 0)
        fpmd_yaml_error_at(c, v, "timeouts.body_read: must be above 0");
}

KEYFN(k_t_queue)
{
    fpmd_yaml_get_duration(c, v, key, &c->conf->timeouts.queue_ms);
}
/* The worker's heartbeat ticks once a second: a shorter bound would kill
 * healthy workers. */
KEYFN(k_t_blocked)
{
    uint64_t *ms = &c->conf->timeouts.blocked_loop_ms;

    fpmd_yaml_get_duration(c, v, key, ms);
    if (*ms != 0 && *ms < 2000)
        fpmd_yaml_error_at(c, v, "timeouts.blocked_loop: must be 0 (off) or "
                           "at least 2s");
}

static const struct fpmd_yaml_key timeout_keys[] = {
    {"request_terminate", k_t_terminate}, {"slowlog", k_t_slowlog},
    {"process_control", k_t_control}, {"header_read", k_t_header},
    {"keepalive", k_t_keepalive}, {"body_read", k_t_body},
    {"queue", k_t_queue}, {"blocked_loop", k_t_blocked},
};

KEYFN(k_timeouts)
{
    fpmd_yaml_walk_map(c, v, "timeouts", timeout_keys,
                       FPMD_ARRAY_LEN(timeout_keys));
}

KEYFN(k_lim_params)
{
    fpmd_yaml_get_size(c, v, key, &c->conf->limits.params);
    if (c->conf->limits.params < 1024)
        fpmd_yaml_error_at(c, v, "limits.params: must be at least 1k");
}
KEYFN(k_lim_body) { fpmd_yaml_get_size(c, v, key, &c->conf->limits.body); }
KEYFN(k_lim_conns)
{
    fpmd_yaml_get_uint(c, v, key, 1, 1000000, &c->conf->limits.connections);
}

KEYFN(k_lim_pending)
{
    fpmd_yaml_get_uint(c, v, key, 1, 1000000,
                       &c->conf->limits.pending_connections);
}
KEYFN(k_lim_fcgi_reqs)
{
    /* request ids are 16 bits and 0 is the management id */
    fpmd_yaml_get_uint(c, v, key, 1, 65535,
                       &c->conf->limits.fastcgi_requests);
}
KEYFN(k_lim_rate)
{
    fpmd_yaml_get_size(c, v, key, &c->conf->limits.body_min_rate);
}

KEYFN(k_lim_uri)
{
    fpmd_yaml_get_size(c, v, key, &c->conf->limits.uri);
    if (c->conf->limits.uri < 256)
        fpmd_yaml_error_at(c, v, "limits.uri: must be at least 256");
}
KEYFN(k_lim_header)
{
    fpmd_yaml_get_size(c, v, key, &c->conf->limits.header);
    if (c->conf->limits.header < 1024)
        fpmd_yaml_error_at(c, v, "limits.header: must be at least 1k");
}
KEYFN(k_lim_headers)
{
    fpmd_yaml_get_uint(c, v, key, 1, 100000, &c->conf->limits.headers);
}
KEYFN(k_lim_rpc)
{
    fpmd_yaml_get_uint(c, v, key, 0, UINT_MAX,
                       &c->conf->limits.requests_per_connection);
}

KEYFN(k_lim_rpc_batch)
{
    fpmd_yaml_get_uint(c, v, key, 1, 100000, &c->conf->limits.rpc_batch);
}

KEYFN(k_lim_rl_keys)
{
    fpmd_yaml_get_uint(c, v, key, 16, 1u << 20,
                       &c->conf->limits.rate_limit_keys);
}

KEYFN(k_lim_parsed)
{
    fpmd_yaml_get_size(c, v, key, &c->conf->limits.parsed_body);
}
KEYFN(k_lim_req_mem)
{
    fpmd_yaml_get_size(c, v, key, &c->conf->limits.request_memory);
    if (c->conf->limits.request_memory < 64 * 1024)
        fpmd_yaml_error_at(c, v, "limits.request_memory: must be at least "
                           "64k");
}
KEYFN(k_lim_reqs_mem)
{
    fpmd_yaml_get_size(c, v, key, &c->conf->limits.requests_memory);
    if (c->conf->limits.requests_memory != 0
        && c->conf->limits.requests_memory < 1024 * 1024)
        fpmd_yaml_error_at(c, v, "limits.requests_memory: must be 0 (no "
                           "bound) or at least 1m");
}
KEYFN(k_lim_fields)
{
    fpmd_yaml_get_uint(c, v, key, 1, 1000000, &c->conf->limits.form_fields);
}
KEYFN(k_lim_depth)
{
    fpmd_yaml_get_uint(c, v, key, 1, 1000, &c->conf->limits.json_depth);
}

static const struct fpmd_yaml_key limit_keys[] = {
    {"params", k_lim_params}, {"body", k_lim_body},
    {"connections", k_lim_conns}, {"pending_connections", k_lim_pending},
    {"fastcgi_requests", k_lim_fcgi_reqs},
    {"body_min_rate", k_lim_rate}, {"uri", k_lim_uri},
    {"header", k_lim_header}, {"headers", k_lim_headers},
    {"requests_per_connection", k_lim_rpc}, {"parsed_body", k_lim_parsed},
    {"form_fields", k_lim_fields}, {"json_depth", k_lim_depth},
    {"rate_limit_keys", k_lim_rl_keys}, {"rpc_batch", k_lim_rpc_batch},
    {"request_memory", k_lim_req_mem}, {"requests_memory", k_lim_reqs_mem},
};

KEYFN(k_limits)
{
    fpmd_yaml_walk_map(c, v, "limits", limit_keys, FPMD_ARRAY_LEN(limit_keys));
}

static void
get_path(struct fpmd_yaml_ctx *c, const struct fpmd_yaml_node *v,
         const char *key, char **out)
{
    fpmd_yaml_get_str(c, v, key, out);
    if (*out != NULL && (*out)[0] == '\0')
        *out = NULL;
    if (*out != NULL && (*out)[0] != '/')
        fpmd_yaml_error_at(c, v, "%s: \"%s\" must start with /", key, *out);
}

KEYFN(k_s_path) { get_path(c, v, "status.path", &c->conf->status.path); }
KEYFN(k_s_ping) { get_path(c, v, "status.ping", &c->conf->status.ping_path); }
KEYFN(k_s_pong)
{
    fpmd_yaml_get_str(c, v, key, &c->conf->status.ping_response);
    if (c->conf->status.ping_response == NULL)
        c->conf->status.ping_response = fpmd_conf_strdup(c->arena, "pong");
}

KEYFN(k_s_live) { get_path(c, v, "status.live", &c->conf->status.live_path); }
KEYFN(k_s_ready)
{
    get_path(c, v, "status.ready", &c->conf->status.ready_path);
}

/* Pool names, checked against pools: and legacy: once both are read
 * (fpmd_conf_check_ready_pools). */
KEYFN(k_s_ready_pools)
{
    struct fpmd_conf *conf = c->conf;
    char **names;
    size_t n = 0;

    /* reports what is not a list; the copy has room for the NULL */
    if (fpmd_yaml_list_items(c, v, key, "pool names", sizeof(*names)) == NULL
        || (names = fpmd_conf_alloc(c->arena, v->nkids + 1,
                                    sizeof(*names))) == NULL)
        return;
    for (size_t i = 0; i < v->nkids; i++)
        fpmd_yaml_get_str(c, v->kids[i], key, &names[n++]);
    names[n] = NULL;
    fpmd_yaml_set_pos(&conf->status.ready_pools_pos, c, v);
    conf->status.ready_pools = names;
}

static const struct fpmd_yaml_key status_keys[] = {
    {"path", k_s_path}, {"ping", k_s_ping}, {"ping_response", k_s_pong},
    {"live", k_s_live}, {"ready", k_s_ready},
    {"ready_pools", k_s_ready_pools},
};

/* Each of status.ready_pools names a pool of pools: or legacy:. */
static void
check_ready_pools(struct fpmd_yaml_ctx *c)
{
    const struct fpmd_conf *conf = c->conf;
    struct fpmd_yaml_node at = {.line = conf->status.ready_pools_pos.line,
                                .column = conf->status.ready_pools_pos.column};

    for (char **p = conf->status.ready_pools; p != NULL && *p != NULL; p++) {
        size_t j = 0;

        while (j < conf->nbackends && strcmp(conf->backends[j].name, *p) != 0)
            j++;
        if (j == conf->nbackends)
            fpmd_yaml_error_at(c, &at, "status.ready_pools: no such pool "
                               "\"%s\"", *p);
    }
}

KEYFN(k_status)
{
    fpmd_yaml_walk_map(c, v, "status", status_keys,
                       FPMD_ARRAY_LEN(status_keys));
}

KEYFN(k_log_error) { fpmd_yaml_get_str(c, v, key, &c->conf->log.error); }
KEYFN(k_log_access) { fpmd_yaml_get_str(c, v, key, &c->conf->log.access); }
KEYFN(k_log_format)
{
    fpmd_yaml_get_str(c, v, key, &c->conf->log.access_format);
}
KEYFN(k_log_slow) { fpmd_yaml_get_str(c, v, key, &c->conf->log.slow); }
KEYFN(k_log_level)
{
    static const char *const names[] = {"debug", "notice", "warning",
                                        "error", "alert"};
    const char *l = fpmd_yaml_scalar(c, v, key);

    if (l == NULL)
        return;
    for (size_t i = 0; i < FPMD_ARRAY_LEN(names); i++) {
        if (strcasecmp(l, names[i]) == 0) {
            c->conf->log.level = (enum fpmd_log_level) i;
            return;
        }
    }
    fpmd_yaml_error_at(c, v,
                       "log.level: \"%s\" is not one of debug, notice, "
                       "warning, error, alert", l);
}

static const struct fpmd_yaml_key log_keys[] = {
    {"error", k_log_error}, {"level", k_log_level},
    {"access", k_log_access}, {"access_format", k_log_format},
    {"slow", k_log_slow},
};

KEYFN(k_log)
{
    fpmd_yaml_walk_map(c, v, "log", log_keys, FPMD_ARRAY_LEN(log_keys));
}

KEYFN(k_modules)
{
    struct fpmd_conf *conf = c->conf;

    conf->modules = fpmd_yaml_list_items(c, v, key, "module paths",
                                         sizeof(*conf->modules));
    if (conf->modules == NULL)
        return;
    for (size_t i = 0; i < v->nkids; i++) {
        const char *path = fpmd_yaml_scalar(c, v->kids[i], key);
        char *full;

        if (path == NULL)
            continue;
        full = fpmd_yaml_relative(c, path);
        /* a NULL path would make dlopen() hand back the program itself */
        if (full == NULL) {
            fpmd_yaml_error_at(c, v->kids[i], "%s: path too long", key);
            continue;
        }
        fpmd_yaml_set_pos(&conf->modules[conf->nmodules].pos, c, v->kids[i]);
        conf->modules[conf->nmodules++].path = full;
    }
}

/* processes: user processes, by FPMD_PROCESS name. */
static struct fpmd_conf_process *cur_process;

KEYFN(k_p_name) { fpmd_yaml_get_str(c, v, key, &cur_process->name); }
KEYFN(k_p_count)
{
    fpmd_yaml_get_uint(c, v, key, 1, 64, &cur_process->count);
}

static const struct fpmd_yaml_key process_keys[] = {
    {"name", k_p_name}, {"count", k_p_count},
};

KEYFN(k_processes)
{
    struct fpmd_conf *conf = c->conf;

    conf->processes = fpmd_yaml_list_items(c, v, key, "user processes",
                                           sizeof(*conf->processes));
    if (conf->processes == NULL)
        return;
    for (size_t i = 0; i < v->nkids; i++) {
        const struct fpmd_yaml_node *item = v->kids[i];

        cur_process = &conf->processes[conf->nprocesses++];
        cur_process->count = 1;
        fpmd_yaml_set_pos(&cur_process->pos, c, item);
        fpmd_yaml_walk_map(c, item, "processes", process_keys,
                           FPMD_ARRAY_LEN(process_keys));
        if (item->type == FPMD_YAML_MAP && cur_process->name == NULL)
            fpmd_yaml_error_at(c, item, "processes: each needs a name: (an "
                               "FPMD_PROCESS's)");
        for (size_t j = 0; cur_process->name && j + 1 < conf->nprocesses;
             j++) {
            if (conf->processes[j].name != NULL
                && strcmp(conf->processes[j].name, cur_process->name) == 0)
                fpmd_yaml_error_at(c, item, "processes: %s is listed twice "
                                   "(count: runs more)", cur_process->name);
        }
    }
}

/* tasks: the task processes. */
KEYFN(k_tk_workers)
{
    fpmd_yaml_get_uint(c, v, key, 0, FPMD_TASK_WORKERS_MAX,
                       &c->conf->tasks.workers);
}
KEYFN(k_tk_queue)
{
    fpmd_yaml_get_uint(c, v, key, 1, 1000000, &c->conf->tasks.queue);
}
KEYFN(k_tk_timeout)
{
    fpmd_yaml_get_duration(c, v, key, &c->conf->tasks.timeout_ms);
    if (c->conf->tasks.timeout_ms == 0)
        fpmd_yaml_error_at(c, v, "tasks.%s: a task needs a bound (at least "
                           "1ms)", key);
}
KEYFN(k_tk_max_requests)
{
    fpmd_yaml_get_uint(c, v, key, 0, UINT_MAX, &c->conf->tasks.max_requests);
}
KEYFN(k_tk_max_payload)
{
    fpmd_yaml_get_size(c, v, key, &c->conf->tasks.max_payload);
    if (c->conf->tasks.max_payload > FPMD_TASK_PAYLOAD_MAX)
        fpmd_yaml_error_at(c, v, "tasks.%s: at most 16m", key);
}

static const struct fpmd_yaml_key tasks_keys[] = {
    {"workers", k_tk_workers}, {"queue", k_tk_queue},
    {"timeout", k_tk_timeout}, {"max_requests", k_tk_max_requests},
    {"max_payload", k_tk_max_payload},
};

KEYFN(k_tasks)
{
    fpmd_yaml_set_pos(&c->conf->tasks.pos, c, v);
    fpmd_yaml_walk_map(c, v, "tasks", tasks_keys,
                       FPMD_ARRAY_LEN(tasks_keys));
}

KEYFN(k_server_token) { fpmd_yaml_get_str(c, v, key, &c->conf->server_token); }
KEYFN(k_rpc_path)
{
    fpmd_yaml_get_str(c, v, key, &c->conf->rpc_path);
    if (c->conf->rpc_path != NULL && c->conf->rpc_path[0] != '/')
        fpmd_yaml_error_at(c, v, "%s: a path, starting with /", key);
}

/* request_id: HEADER, or off. */
KEYFN(k_request_id)
{
    const char *h = fpmd_yaml_scalar(c, v, key);
    size_t len;

    if (h == NULL)
        return;
    c->conf->request_id = NULL;
    if (fpmd_yaml_is_null(v) || strcmp(h, "off") == 0
        || strcmp(h, "false") == 0)
        return;
    len = strspn(h, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                 "0123456789-_");
    if (len == 0 || h[len] != '\0' || len > 64) {
        fpmd_yaml_error_at(c, v, "request_id: \"%s\" is not a header name (or "
                           "off)", h);
        return;
    }
    c->conf->request_id = fpmd_conf_strdup(c->arena, h);
}

static const struct fpmd_yaml_key top_keys[] = {
    {"server_token", k_server_token}, {"request_id", k_request_id},
    {"pool", k_pool}, {"user", k_user},
    {"group", k_group}, {"pid", k_pid},
    {"daemonize", k_daemonize}, {"listen", k_listen}, {"pm", k_pm},
    {"emergency_restart_threshold", k_er_threshold},
    {"emergency_restart_interval", k_er_interval},
    {"timeouts", k_timeouts}, {"limits", k_limits}, {"status", k_status},
    {"log", k_log}, {"routes", fpmd_conf_read_routes}, {"modules", k_modules},
    {"pools", fpmd_conf_read_pools}, {"legacy", fpmd_conf_read_legacy},
    {"cron", fpmd_conf_read_cron}, {"tables", fpmd_conf_read_tables},
    {"watch", k_watch}, {"processes", k_processes}, {"tasks", k_tasks},
    {"upstreams", fpmd_conf_read_upstreams}, {"rpc_path", k_rpc_path},
    {"etcd", fpmd_conf_read_etcd}, {"seccomp", k_seccomp},
    {"seccomp_allow", k_seccomp_allow},
};

/* --- entry points ----------------------------------------------------- */

void
fpmd_conf_defaults(struct fpmd_conf *conf)
{
    memset(conf, 0, sizeof(*conf));
    conf->daemonize = -1;
    conf->pm.mode = FPMD_PM_STATIC;
    conf->pm.min_spare_servers = 1;
    conf->pm.max_spare_servers = 3;
    conf->pm.max_spawn_rate = 32;
    conf->pm.process_idle_timeout_ms = 10000;
    conf->pm.max_concurrency = 1024;
    conf->pm.max_queue = 1024;
    conf->pm.stack_size = 256 * 1024;
    conf->timeouts.process_control_ms = 10000;
    conf->timeouts.header_read_ms = 10000;
    conf->timeouts.keepalive_ms = 75000;
    conf->limits.params = 256 * 1024;
    conf->limits.body = 64 * 1024 * 1024;
    conf->limits.connections = 4096;
    conf->limits.pending_connections = 1024;
    conf->limits.fastcgi_requests = 128;
    conf->limits.body_min_rate = 500;
    conf->limits.uri = 8 * 1024;
    conf->limits.header = 32 * 1024;
    conf->limits.headers = 100;
    conf->limits.requests_per_connection = 1000;
    conf->limits.parsed_body = 1024 * 1024;
    conf->limits.form_fields = 1000;
    conf->limits.json_depth = 64;
    conf->limits.rate_limit_keys = 16384;
    conf->limits.rpc_batch = 100;
    conf->limits.requests_memory = 512 * 1024 * 1024;
    conf->timeouts.body_read_ms = 60000;
    conf->timeouts.queue_ms = 10000;
    conf->timeouts.blocked_loop_ms = 30000;
    conf->log.level = FPMD_LOG_NOTICE;
    conf->tasks.queue = 1024;
    conf->tasks.timeout_ms = 30000;
    conf->tasks.max_payload = 64 * 1024;
}

static int
set_default_strings(struct fpmd_conf *conf)
{
    if (conf->pool_name == NULL)
        conf->pool_name = fpmd_conf_strdup(&conf->arena, "www");
    if (conf->status.ping_response == NULL)
        conf->status.ping_response = fpmd_conf_strdup(&conf->arena, "pong");
    return conf->pool_name && conf->status.ping_response ? FPMD_OK
                                                         : FPMD_ERROR;
}

struct fpmd_conf *
fpmd_conf_load_buffer(const char *name, const char *text, size_t len,
                      char *errbuf, size_t errlen)
{
    struct fpmd_conf *conf = calloc(1, sizeof(*conf));
    struct fpmd_yaml_ctx c = {name, errbuf, errlen, 0, 0, conf, NULL};
    struct fpmd_yaml_node *root;

    if (errlen > 0)
        errbuf[0] = '\0';
    if (conf == NULL)
        return NULL;
    fpmd_conf_defaults(conf);
    c.arena = &conf->arena;
    conf->file = fpmd_conf_strdup(c.arena, name);
    conf->status.path = fpmd_conf_strdup(c.arena, "/status");
    conf->status.ping_path = fpmd_conf_strdup(c.arena, "/ping");
    conf->server_token = fpmd_conf_strdup(c.arena, "fpmd");
    conf->request_id = fpmd_conf_strdup(c.arena, "X-Request-Id");
    conf->rpc_path = fpmd_conf_strdup(c.arena, "/rpc");
    if (conf->file == NULL || set_default_strings(conf) != FPMD_OK) {
        fpmd_conf_free(conf);
        return NULL;
    }
    c.file = conf->file;
    root = fpmd_yaml_parse(&c, text, len);
    if (root != NULL) {
        fpmd_yaml_walk_map(&c, root, "the top level", top_keys,
                           FPMD_ARRAY_LEN(top_keys));
        if (root->type == FPMD_YAML_MAP && conf->nlisten == 0)
            fpmd_yaml_error_at(&c, root,
                               "listen: at least one listener is needed");
        if (c.nerrors == 0)
            fpmd_conf_check_routes(&c);
        check_ready_pools(&c);
        fpmd_conf_check_upstreams(&c);
    }
    fpmd_yaml_free(root);
    if (c.nerrors > 0 || root == NULL) {
        fpmd_conf_free(conf);
        return NULL;
    }
    return conf;
}

struct fpmd_conf *
fpmd_conf_load(const char *path, char *errbuf, size_t errlen)
{
    struct fpmd_conf *conf;
    FILE *f;
    char *text;
    size_t len;

    if (path == NULL)
        return fpmd_conf_load_buffer("(embedded)", fpmd_conf_default_yaml,
                                     strlen(fpmd_conf_default_yaml), errbuf,
                                     errlen);
    f = fopen(path, "r");
    if (f == NULL) {
        snprintf(errbuf, errlen, "%s: cannot open: %s\n", path,
                 strerror(errno));
        return NULL;
    }
    text = malloc(CONF_MAX_BYTES + 1);
    if (text == NULL) {
        fclose(f);
        snprintf(errbuf, errlen, "%s: out of memory\n", path);
        return NULL;
    }
    len = fread(text, 1, CONF_MAX_BYTES + 1, f);
    if (ferror(f) || len > CONF_MAX_BYTES) {
        snprintf(errbuf, errlen, "%s: %s\n", path,
                 ferror(f) ? "read error" : "larger than 4 MiB");
        fclose(f);
        free(text);
        return NULL;
    }
    fclose(f);
    conf = fpmd_conf_load_buffer(path, text, len, errbuf, errlen);
    free(text);
    return conf;
}

void
fpmd_conf_free(struct fpmd_conf *conf)
{
    if (conf == NULL)
        return;
    fpmd_conf_arena_free(&conf->arena);
    free(conf);
}
