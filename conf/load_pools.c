/* SPDX-License-Identifier: BSD-2-Clause */
/* pools: and legacy: of the config (fpmd/conf.h, struct
 * fpmd_conf_backend): backend pools and the legacy php-fpm, their servers
 * and settings, checked with the loader's file:line:column errors. */
#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/arena.h"
#include "conf/load_pools.h"
#include "conf/load_upstreams.h"
#include "conf/yaml_reader.h"
#include "fpmd/balance.h"
#include "fpmd/conf.h"

static struct fpmd_conf_backend *cur_backend;

/* "127.0.0.1:6379", "[::1]:6379", "localhost:6379" or "/run/x.sock".
 * Names other than localhost are refused: the drivers would resolve them
 * with a blocking lookup inside the worker's loop. */
static void
server_address(struct fpmd_yaml_ctx *c, const struct fpmd_yaml_node *n,
               const char *key, struct fpmd_conf_server *s)
{
    const char *v = fpmd_yaml_scalar(c, n, key), *colon;
    char host[64];
    unsigned char addr[16];
    unsigned long port;
    size_t hlen;
    char *end;

    if (v == NULL)
        return;
    fpmd_yaml_set_pos(&s->pos, c, n);
    if (v[0] == '/') {
        if (strlen(v) >= 108) {
            fpmd_yaml_error_at(c, n, "%s: unix socket path too long", key);
            return;
        }
        s->path = fpmd_conf_strdup(c->arena, v);
        return;
    }
    if (v[0] == '[') {
        const char *close = strchr(v, ']');

        colon = close != NULL && close[1] == ':' ? close + 1 : NULL;
        hlen = close != NULL ? (size_t) (close - v - 1) : 0;
        v++;
    } else {
        colon = strrchr(v, ':');
        hlen = colon != NULL ? (size_t) (colon - v) : 0;
    }
    if (colon == NULL || hlen == 0 || hlen >= sizeof(host)) {
        fpmd_yaml_error_at(c, n, "%s: \"%s\" is not HOST:PORT or a /unix/path",
                           key, v);
        return;
    }
    memcpy(host, v, hlen);
    host[hlen] = '\0';
    errno = 0;
    port = strtoul(colon + 1, &end, 10);
    if (!isdigit((unsigned char) colon[1]) || *end != '\0' || errno != 0
        || port == 0 || port > 65535) {
        fpmd_yaml_error_at(c, n, "%s: \"%s\": the port must be 1 to 65535", key,
                           colon + 1);
        return;
    }
    if (strcmp(host, "localhost") == 0)
        snprintf(host, sizeof(host), "127.0.0.1");
    if (inet_pton(AF_INET, host, addr) != 1
        && inet_pton(AF_INET6, host, addr) != 1) {
        fpmd_yaml_error_at(c, n,
                           "%s: \"%s\" is not an IP address (host names "
                           "are not resolved: a lookup would block the "
                           "worker)", key, host);
        return;
    }
    s->host = fpmd_conf_strdup(c->arena, host);
    s->port = (unsigned) port;
}

static struct fpmd_conf_server *cur_server;

KEYFN(k_srv_address) { server_address(c, v, key, cur_server); }
KEYFN(k_srv_role)
{
    const char *r = fpmd_yaml_scalar(c, v, key);

    if (r == NULL)
        return;
    if (strcmp(r, "primary") == 0)
        cur_server->role = FPMD_ROLE_PRIMARY;
    else if (strcmp(r, "replica") == 0)
        cur_server->role = FPMD_ROLE_REPLICA;
    else
        fpmd_yaml_error_at(c, v, "%s: \"%s\" is not primary or replica", key,
                           r);
}

KEYFN(k_srv_weight)
{
    fpmd_yaml_get_uint(c, v, key, 1, 1000, &cur_server->weight);
}

static const struct fpmd_yaml_key server_keys[] = {
    {"address", k_srv_address}, {"role", k_srv_role},
    {"weight", k_srv_weight},
};

/* A list of HOST:PORT (or { address, role }) into *out. */
static void
server_list(struct fpmd_yaml_ctx *c, const struct fpmd_yaml_node *v,
            const char *key, struct fpmd_conf_server **out, size_t *n)
{
    struct fpmd_conf_server *list =
        fpmd_yaml_list_items(c, v, key, key, sizeof(*list));

    if (list == NULL)
        return;
    *out = list;
    if (v->nkids > FPMD_MAX_BACKEND_SERVERS) {
        fpmd_yaml_error_at(c, v, "%s: at most %d servers", key,
                           FPMD_MAX_BACKEND_SERVERS);
        return;
    }
    for (size_t i = 0; i < v->nkids; i++) {
        const struct fpmd_yaml_node *item = v->kids[i];

        cur_server = &list[(*n)++];
        fpmd_yaml_set_pos(&cur_server->pos, c, item);
        if (item->type == FPMD_YAML_MAP) {
            fpmd_yaml_walk_map(c, item, "servers", server_keys,
                               FPMD_ARRAY_LEN(server_keys));
            if (cur_server->host == NULL && cur_server->path == NULL)
                fpmd_yaml_error_at(c, item,
                                   "servers: each server needs address:");
        } else {
            server_address(c, item, key, cur_server);
        }
    }
}

KEYFN(k_b_servers)
{
    server_list(c, v, key, &cur_backend->servers, &cur_backend->nservers);
}

KEYFN(k_b_sentinels)
{
    server_list(c, v, key, &cur_backend->sentinels,
                &cur_backend->nsentinels);
}
KEYFN(k_b_master) { fpmd_yaml_get_str(c, v, key, &cur_backend->master_name); }
KEYFN(k_b_sentinel_password)
{
    fpmd_yaml_get_str(c, v, key, &cur_backend->sentinel_password);
}

KEYFN(k_b_driver)
{
    const char *d = fpmd_yaml_scalar(c, v, key);

    if (d == NULL)
        return;
    if (strcmp(d, "redis") == 0)
        cur_backend->driver = FPMD_DRIVER_REDIS;
    else if (strcmp(d, "mysql") == 0)
        cur_backend->driver = FPMD_DRIVER_MYSQL;
    else if (strcmp(d, "mongo") == 0)
        cur_backend->driver = FPMD_DRIVER_MONGO;
    else
        fpmd_yaml_error_at(c, v, "%s: \"%s\" is not redis, mysql or mongo", key,
                           d);
}

KEYFN(k_b_user) { fpmd_yaml_get_str(c, v, key, &cur_backend->user); }
KEYFN(k_b_password) { fpmd_yaml_get_str(c, v, key, &cur_backend->password); }
KEYFN(k_b_database) { fpmd_yaml_get_str(c, v, key, &cur_backend->database); }
KEYFN(k_b_min) { fpmd_yaml_get_uint(c, v, key, 0, 10000, &cur_backend->min); }
KEYFN(k_b_max) { fpmd_yaml_get_uint(c, v, key, 1, 10000, &cur_backend->max); }
KEYFN(k_b_queue)
{
    fpmd_yaml_get_uint(c, v, key, 0, 1000000, &cur_backend->wait_queue);
}
KEYFN(k_b_wait)
{
    fpmd_yaml_get_duration(c, v, key, &cur_backend->wait_timeout_ms);
}
KEYFN(k_b_connect)
{
    fpmd_yaml_get_duration(c, v, key, &cur_backend->connect_timeout_ms);
}
KEYFN(k_b_timeout)
{
    fpmd_yaml_get_duration(c, v, key, &cur_backend->timeout_ms);
}
KEYFN(k_b_idle)
{
    fpmd_yaml_get_duration(c, v, key, &cur_backend->idle_timeout_ms);
}
KEYFN(k_b_lifetime)
{
    fpmd_yaml_get_duration(c, v, key, &cur_backend->max_lifetime_ms);
}
KEYFN(k_b_shard) { fpmd_yaml_get_bool(c, v, key, &cur_backend->shard); }
KEYFN(k_b_balancer)
{
    cur_backend->balanced = fpmd_conf_read_balancer(c, v, key,
                                                    &cur_backend->balancer)
                            == FPMD_OK;
}
KEYFN(k_b_threads)
{
    fpmd_yaml_get_uint(c, v, key, 1, 64, &cur_backend->threads);
}

static const struct fpmd_yaml_key backend_keys[] = {
    {"driver", k_b_driver}, {"servers", k_b_servers}, {"user", k_b_user},
    {"password", k_b_password}, {"database", k_b_database},
    {"min", k_b_min}, {"max", k_b_max}, {"wait_queue", k_b_queue},
    {"wait_timeout", k_b_wait}, {"connect_timeout", k_b_connect},
    {"timeout", k_b_timeout}, {"idle_timeout", k_b_idle},
    {"max_lifetime", k_b_lifetime}, {"shard", k_b_shard},
    {"threads", k_b_threads}, {"sentinels", k_b_sentinels},
    {"master", k_b_master}, {"sentinel_password", k_b_sentinel_password},
    {"balancer", k_b_balancer},
};

/* sentinels: the pool's one primary is whichever they name, and its
 * replica slots whichever they list as up (placeholder servers, with
 * neither host nor path). */
static void
sentinel_check(struct fpmd_yaml_ctx *c, const struct fpmd_yaml_node *item,
               struct fpmd_conf_backend *b)
{
    if (b->nsentinels == 0) {
        if (b->master_name != NULL || b->sentinel_password != NULL)
            fpmd_yaml_error_at(c, item, "pools.%s: master: and "
                               "sentinel_password: go with sentinels:",
                               b->name);
        return;
    }
    if (b->driver != FPMD_DRIVER_REDIS || b->nservers != 0 || b->shard
        || b->master_name == NULL) {
        fpmd_yaml_error_at(c, item, "pools.%s: sentinels: is for a redis "
                           "pool without servers: or shard:, with master: "
                           "(the sentinels' name for it)", b->name);
        return;
    }
    b->servers = fpmd_conf_alloc(c->arena, 1 + FPMD_SENTINEL_MAX_REPLICAS,
                                 sizeof(*b->servers));
    if (b->servers == NULL)
        return;
    b->nservers = 1 + FPMD_SENTINEL_MAX_REPLICAS;
    for (size_t i = 1; i < b->nservers; i++)
        b->servers[i].role = FPMD_ROLE_REPLICA;
}

static bool
same_address(const struct fpmd_conf_server *a,
             const struct fpmd_conf_server *b)
{
    if (a->path != NULL || b->path != NULL)
        return a->path != NULL && b->path != NULL
            && strcmp(a->path, b->path) == 0;
    return a->host != NULL && b->host != NULL && a->port == b->port
        && strcmp(a->host, b->host) == 0;
}

/* balancer: and weight:. Sharding picks the server itself, and
 * mongo-c-driver does its own server selection; a hash ring places each
 * server by its address, so two alike would share their keys. */
static void
balancer_check(struct fpmd_yaml_ctx *c, const struct fpmd_yaml_node *item,
               const struct fpmd_conf_backend *b)
{
    for (size_t i = 0; i < b->nservers && !b->balanced; i++) {
        if (b->servers[i].weight != 0) {
            fpmd_yaml_error_at(c, item, "pools.%s: weight: goes with "
                               "balancer:", b->name);
            return;
        }
    }
    if (!b->balanced)
        return;
    if (b->shard || b->driver == FPMD_DRIVER_MONGO) {
        fpmd_yaml_error_at(c, item, "pools.%s: balancer: is not for %s",
                           b->name, b->shard ? "a sharded pool (shard: "
                           "picks the server)" : "a mongo pool (the driver "
                           "picks the server)");
        return;
    }
    for (size_t i = 0; i < b->nservers; i++) {
        for (size_t j = 0; j < i && b->balancer == FPMD_BALANCE_HASH; j++) {
            if (same_address(&b->servers[i], &b->servers[j])) {
                fpmd_yaml_error_at(c, item, "pools.%s: balancer: hash needs "
                                   "each server once (server %zu is server "
                                   "%zu again)", b->name, i + 1, j + 1);
                return;
            }
        }
    }
}

static void
backend_check(struct fpmd_yaml_ctx *c, const struct fpmd_yaml_node *item,
              struct fpmd_conf_backend *b)
{
    size_t primaries = 0;

    sentinel_check(c, item, b);
    balancer_check(c, item, b);
    for (size_t i = 0; i < b->nservers; i++)
        primaries += b->servers[i].role == FPMD_ROLE_PRIMARY;
    if (b->nservers == 0)
        fpmd_yaml_error_at(c, item,
                           "pools.%s: servers: needs at least one address",
                           b->name);
    else if (primaries == 0 && b->driver != FPMD_DRIVER_MONGO)
        fpmd_yaml_error_at(c, item, "pools.%s: servers: needs a primary",
                           b->name);
    if (b->min > b->max)
        fpmd_yaml_error_at(c, item, "pools.%s: min (%u) is above max (%u)",
                           b->name, b->min, b->max);
    if (b->shard && b->driver != FPMD_DRIVER_REDIS)
        fpmd_yaml_error_at(c, item, "pools.%s: shard: is for redis pools",
                           b->name);
    if (b->threads != 4 && b->driver != FPMD_DRIVER_MONGO)
        fpmd_yaml_error_at(c, item, "pools.%s: threads: is for mongo pools",
                           b->name);
    if (b->driver == FPMD_DRIVER_MONGO && b->database == NULL)
        fpmd_yaml_error_at(c, item,
                           "pools.%s: database: a mongo pool needs one",
                           b->name);
    if (b->driver == FPMD_DRIVER_REDIS && b->database != NULL) {
        char *end;
        unsigned long db;

        errno = 0;
        db = strtoul(b->database, &end, 10);
        if (!isdigit((unsigned char) b->database[0]) || *end != '\0'
            || errno != 0 || db > 1000000)
            fpmd_yaml_error_at(c, item,
                               "pools.%s: database: a redis database is a "
                               "number", b->name);
    }
    if (b->timeout_ms == 0 || b->connect_timeout_ms == 0)
        fpmd_yaml_error_at(c, item,
                           "pools.%s: timeout and connect_timeout must be "
                           "above 0", b->name);
}

/* A new backend named name, with the pool defaults; NULL after reporting
 * a bad or repeated name. Pools and legacy pools share the names. */
static struct fpmd_conf_backend *
new_backend(struct fpmd_yaml_ctx *c, const struct fpmd_yaml_node *k,
            const char *name)
{
    struct fpmd_conf *conf = c->conf;
    struct fpmd_conf_backend *b;
    size_t len = strlen(name), j;

    for (j = 0; j < len; j++) {
        if (!isalnum((unsigned char) name[j]) && name[j] != '_'
            && name[j] != '-')
            break;
    }
    if (len == 0 || len > FPMD_BACKEND_NAME_MAX || j < len) {
        fpmd_yaml_error_at(c, k,
                           "pools: a pool name is 1 to %d letters, digits, "
                           "'_' or '-'", FPMD_BACKEND_NAME_MAX);
        return NULL;
    }
    for (j = 0; j < conf->nbackends; j++) {
        if (strcmp(conf->backends[j].name, name) == 0) {
            fpmd_yaml_error_at(c, k, "duplicate pool \"%s\"", name);
            return NULL;
        }
    }
    if (conf->nbackends == FPMD_MAX_BACKENDS) {
        fpmd_yaml_error_at(c, k, "at most %d pools, legacy ones included",
                           FPMD_MAX_BACKENDS);
        return NULL;
    }
    /* Room for every pool at the first one: an arena does not grow an
     * array in place, and there are at most FPMD_MAX_BACKENDS. */
    if (conf->backends == NULL)
        conf->backends = fpmd_conf_alloc(c->arena, FPMD_MAX_BACKENDS,
                                         sizeof(*conf->backends));
    if (conf->backends == NULL)
        return NULL;
    b = &conf->backends[conf->nbackends++];
    b->name = fpmd_conf_strdup(c->arena, name);
    b->max = 16;
    b->wait_queue = 1024;
    b->wait_timeout_ms = 1000;
    b->connect_timeout_ms = 1000;
    b->timeout_ms = 1000;
    b->idle_timeout_ms = 60000;
    b->max_lifetime_ms = 3600000;
    b->threads = 4;
    fpmd_yaml_set_pos(&b->pos, c, k);
    return b;
}

void
fpmd_conf_read_pools(struct fpmd_yaml_ctx *c, const struct fpmd_yaml_node *v,
                     const char *key)
{
    if (v->type != FPMD_YAML_MAP) {
        fpmd_yaml_error_at(c, v, "%s: expected a mapping of pool names", key);
        return;
    }
    for (size_t i = 0; i + 1 < v->nkids; i += 2) {
        const struct fpmd_yaml_node *k = v->kids[i], *item = v->kids[i + 1];

        cur_backend =
            new_backend(c, k, k->type == FPMD_YAML_SCALAR ? k->value : "");
        if (cur_backend == NULL)
            continue;
        fpmd_yaml_walk_map(c, item, "pools", backend_keys,
                           FPMD_ARRAY_LEN(backend_keys));
        if (item->type == FPMD_YAML_MAP)
            backend_check(c, k, cur_backend);
    }
}

/* legacy: the php-fpm that answers whatever fpmd does not, as a FastCGI
 * pool named "legacy". */
KEYFN(k_lg_fastcgi)
{
    cur_backend->servers = fpmd_conf_alloc(c->arena, 1,
                                           sizeof(*cur_backend->servers));
    if (cur_backend->servers == NULL)
        return;
    cur_backend->nservers = 1;
    server_address(c, v, key, &cur_backend->servers[0]);
}

KEYFN(k_lg_keep) { fpmd_yaml_get_bool(c, v, key, &cur_backend->keep_alive); }
/* php-fpm's document root, which may be another machine's or container's
 * path: kept as written, not resolved here. */
KEYFN(k_lg_root)
{
    const char *r = fpmd_yaml_scalar(c, v, key);

    if (r == NULL)
        return;
    if (r[0] != '/' || strstr(r, "/../") != NULL
        || strcmp(r + strlen(r) - (strlen(r) >= 3 ? 3 : 0), "/..") == 0) {
        fpmd_yaml_error_at(c, v, "%s: \"%s\" is not an absolute path", key, r);
        return;
    }
    fpmd_yaml_get_str(c, v, key, &cur_backend->document_root);
}

KEYFN(k_lg_log_stderr)
{
    fpmd_yaml_get_bool(c, v, key, &cur_backend->log_stderr);
}

KEYFN(k_lg_request_id)
{
    fpmd_yaml_get_bool(c, v, key, &cur_backend->send_request_id);
}

KEYFN(k_lg_traceparent)
{
    fpmd_yaml_get_bool(c, v, key, &cur_backend->send_traceparent);
}

static const struct fpmd_yaml_key legacy_keys[] = {
    {"fastcgi", k_lg_fastcgi}, {"keep_alive", k_lg_keep},
    {"document_root", k_lg_root}, {"log_stderr", k_lg_log_stderr},
    {"send_request_id", k_lg_request_id},
    {"send_traceparent", k_lg_traceparent},
    {"min", k_b_min}, {"max", k_b_max},
    {"wait_queue", k_b_queue}, {"wait_timeout", k_b_wait},
    {"connect_timeout", k_b_connect}, {"timeout", k_b_timeout},
    {"idle_timeout", k_b_idle}, {"max_lifetime", k_b_lifetime},
};

static void
legacy_pool(struct fpmd_yaml_ctx *c, const struct fpmd_yaml_node *k,
            const struct fpmd_yaml_node *v, const char *name, const char *where)
{
    cur_backend = new_backend(c, k, name);
    if (cur_backend == NULL)
        return;
    cur_backend->driver = FPMD_DRIVER_FASTCGI;
    /* Kept-alive connections save a connect and a close per request,
     * which costs a quarter of the throughput on a busy box. */
    cur_backend->keep_alive = 1;
    /* php-fpm's stderr stays in fpmd's log, where it always was, beside
     * the web server's. */
    cur_backend->log_stderr = 1;
    cur_backend->timeout_ms = 60000;
    cur_backend->wait_timeout_ms = 60000;
    cur_backend->max = 0;       /* set below, once keep_alive is known */
    fpmd_yaml_walk_map(c, v, where, legacy_keys, FPMD_ARRAY_LEN(legacy_keys));
    /* Kept alive, a connection holds one php-fpm child until it closes:
     * more of them than children would wait unserved in its backlog. One
     * per request, connections beyond the children just wait there. */
    if (cur_backend->max == 0)
        cur_backend->max = cur_backend->keep_alive ? 4 : 64;
    if (v->type == FPMD_YAML_MAP && cur_backend->nservers == 0)
        fpmd_yaml_error_at(c, v,
                           "%s: needs fastcgi: ADDRESS (php-fpm's listen)",
                           where);
    else if (cur_backend->min > cur_backend->max)
        fpmd_yaml_error_at(c, v, "%s: min (%u) is above max (%u)", where,
                           cur_backend->min, cur_backend->max);
    else if (cur_backend->min > 0 && !cur_backend->keep_alive)
        fpmd_yaml_error_at(c, v, "%s: min: connections are opened per request "
                           "unless keep_alive: true (an idle one would hold a "
                           "php-fpm child)", where);
}

/* legacy: {fastcgi: ADDR, ...} is the pool "legacy"; legacy: {NAME:
 * {fastcgi: ADDR, ...}, ...} names several (to: legacy:NAME). */
void
fpmd_conf_read_legacy(struct fpmd_yaml_ctx *c, const struct fpmd_yaml_node *v,
                      const char *key)
{
    char where[64];

    if (v->type != FPMD_YAML_MAP) {
        fpmd_yaml_error_at(c, v,
                           "%s: expected {fastcgi: ADDRESS} or named legacy "
                           "pools {NAME: {fastcgi: ADDRESS}}", key);
        return;
    }
    for (size_t i = 0; i + 1 < v->nkids; i += 2) {
        if (v->kids[i + 1]->type != FPMD_YAML_MAP) {
            legacy_pool(c, v, v, "legacy", key);
            return;
        }
    }
    for (size_t i = 0; i + 1 < v->nkids; i += 2) {
        const struct fpmd_yaml_node *k = v->kids[i];
        const char *name = k->type == FPMD_YAML_SCALAR ? k->value : "";

        snprintf(where, sizeof(where), "legacy.%.40s", name);
        legacy_pool(c, k, v->kids[i + 1], name, where);
    }
}
