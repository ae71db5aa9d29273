/* SPDX-License-Identifier: BSD-2-Clause */
/* upstreams: of the config (fpmd/conf.h, struct fpmd_conf_upstream): the
 * HTTP services the client calls by name, their servers and settings,
 * checked with the loader's file:line:column errors. */
#include "config.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "conf/arena.h"
#include "conf/load_upstreams.h"
#include "conf/yaml_reader.h"
#include "fpmd/balance.h"
#include "fpmd/conf.h"

static struct fpmd_conf_upstream *cur;
static struct fpmd_conf_upstream_server *cur_server;

/* http:// or https://, a host (a name, IPv4 or [IPv6]) and an optional
 * port and path: the client resolves names off the loop, so any host
 * may be named here. */
bool
fpmd_conf_http_url_valid(const char *u)
{
    const char *host = strncasecmp(u, "http://", 7) == 0 ? u + 7
        : strncasecmp(u, "https://", 8) == 0 ? u + 8 : NULL;

    if (host == NULL || *host == '\0' || *host == '/' || *host == ':')
        return false;
    for (const char *p = u; *p; p++) {
        if ((unsigned char) *p <= 0x20 || *p == 0x7f || *p == '?'
            || *p == '#')
            return false;
    }
    return true;
}

KEYFN(k_s_url)
{
    fpmd_yaml_get_str(c, v, key, &cur_server->url);
    if (cur_server->url != NULL && !fpmd_conf_http_url_valid(cur_server->url))
        fpmd_yaml_error_at(c, v, "%s: \"%s\" is not an http:// or https:// "
                           "URL without a query", key, cur_server->url);
}

KEYFN(k_s_weight)
{
    fpmd_yaml_get_uint(c, v, key, 1, 1000, &cur_server->weight);
}

static const struct fpmd_yaml_key server_keys[] = {
    {"url", k_s_url}, {"weight", k_s_weight},
};

/* A list of URLs, or of {url, weight}. */
KEYFN(k_servers)
{
    cur->servers = fpmd_yaml_list_items(c, v, key, "servers",
                                        sizeof(*cur->servers));
    if (cur->servers == NULL)
        return;
    if (v->nkids == 0 || v->nkids > 1024) {
        fpmd_yaml_error_at(c, v, "%s: 1 to 1024 servers", key);
        return;
    }
    for (size_t i = 0; i < v->nkids; i++) {
        const struct fpmd_yaml_node *item = v->kids[i];

        cur_server = &cur->servers[cur->nservers++];
        cur_server->weight = 1;
        fpmd_yaml_set_pos(&cur_server->pos, c, item);
        if (item->type == FPMD_YAML_SCALAR) {
            k_s_url(c, item, "servers");
            continue;
        }
        fpmd_yaml_walk_map(c, item, "servers", server_keys,
                           FPMD_ARRAY_LEN(server_keys));
        if (item->type == FPMD_YAML_MAP && cur_server->url == NULL)
            fpmd_yaml_error_at(c, item, "servers: each needs a url:");
    }
}

int
fpmd_conf_read_balancer(struct fpmd_yaml_ctx *c,
                        const struct fpmd_yaml_node *v, const char *key,
                        unsigned *out)
{
    const char *name = fpmd_yaml_scalar(c, v, key);
    enum fpmd_balance_kind kind;

    if (name == NULL)
        return FPMD_ERROR;
    if (fpmd_balance_parse(name, &kind) != FPMD_OK) {
        fpmd_yaml_error_at(c, v, "%s: \"%s\" is not one of round_robin, "
                           "random, weighted, least_in_flight, hash", key,
                           name);
        return FPMD_ERROR;
    }
    *out = kind;
    return FPMD_OK;
}

KEYFN(k_balancer) { fpmd_conf_read_balancer(c, v, key, &cur->balancer); }

KEYFN(k_timeout) { fpmd_yaml_get_duration(c, v, key, &cur->timeout_ms); }
KEYFN(k_connect)
{
    fpmd_yaml_get_duration(c, v, key, &cur->connect_timeout_ms);
}
KEYFN(k_max_conns)
{
    fpmd_yaml_get_uint(c, v, key, 1, 100000, &cur->max_connections);
}
KEYFN(k_retries) { fpmd_yaml_get_uint(c, v, key, 0, 16, &cur->retries); }
KEYFN(k_max_body) { fpmd_yaml_get_size(c, v, key, &cur->max_body); }
KEYFN(k_tls_verify) { fpmd_yaml_get_bool(c, v, key, &cur->tls_verify); }
KEYFN(k_tls_ca)
{
    char *ca = NULL;

    fpmd_yaml_get_str(c, v, key, &ca);
    if (ca != NULL)
        cur->tls_ca = fpmd_yaml_relative(c, ca);
}

static const struct fpmd_yaml_key tls_keys[] = {
    {"verify", k_tls_verify}, {"ca", k_tls_ca},
};

KEYFN(k_rpc_path)
{
    fpmd_yaml_get_str(c, v, key, &cur->rpc_path);
    if (cur->rpc_path != NULL && cur->rpc_path[0] != '/')
        fpmd_yaml_error_at(c, v, "%s: a path, starting with /", key);
}

KEYFN(k_tls)
{
    fpmd_yaml_walk_map(c, v, "tls", tls_keys, FPMD_ARRAY_LEN(tls_keys));
}

KEYFN(k_b_failures)
{
    fpmd_yaml_get_uint(c, v, key, 0, 1000000, &cur->breaker.failures);
}
KEYFN(k_b_rate)
{
    fpmd_yaml_get_uint(c, v, key, 0, 100, &cur->breaker.error_rate);
}
KEYFN(k_b_min)
{
    fpmd_yaml_get_uint(c, v, key, 1, 1000000, &cur->breaker.min_calls);
}
/* A duration of at least 1ms, kept in microseconds. */
static void
get_us(struct fpmd_yaml_ctx *c, const struct fpmd_yaml_node *v,
       const char *key, uint64_t *us)
{
    uint64_t ms = *us / 1000;

    fpmd_yaml_get_duration(c, v, key, &ms);
    if (ms == 0)
        fpmd_yaml_error_at(c, v, "breaker.%s: at least 1ms", key);
    *us = ms * 1000;
}

KEYFN(k_b_window) { get_us(c, v, key, &cur->breaker.window_us); }
KEYFN(k_b_open) { get_us(c, v, key, &cur->breaker.open_us); }
KEYFN(k_b_probes)
{
    fpmd_yaml_get_uint(c, v, key, 1, 1000, &cur->breaker.probes);
}

static const struct fpmd_yaml_key breaker_keys[] = {
    {"failures", k_b_failures}, {"error_rate", k_b_rate},
    {"min_calls", k_b_min}, {"window", k_b_window}, {"open", k_b_open},
    {"probes", k_b_probes},
};

/* breaker: a map, or off (it never opens). */
KEYFN(k_breaker)
{
    if (v->type == FPMD_YAML_SCALAR
        && (strcmp(v->value, "off") == 0 || strcmp(v->value, "false") == 0)) {
        cur->breaker.failures = 0;
        cur->breaker.error_rate = 0;
        return;
    }
    fpmd_yaml_walk_map(c, v, "breaker", breaker_keys,
                       FPMD_ARRAY_LEN(breaker_keys));
}

KEYFN(k_f_status)
{
    fpmd_yaml_get_uint(c, v, key, 100, 999, &cur->fallback.status);
}
KEYFN(k_f_type)
{
    fpmd_yaml_get_str(c, v, key, &cur->fallback.content_type);
}
KEYFN(k_f_body) { fpmd_yaml_get_str(c, v, key, &cur->fallback.body); }

static const struct fpmd_yaml_key fallback_keys[] = {
    {"status", k_f_status}, {"content_type", k_f_type}, {"body", k_f_body},
};

KEYFN(k_fallback)
{
    fpmd_yaml_walk_map(c, v, "fallback", fallback_keys,
                       FPMD_ARRAY_LEN(fallback_keys));
    if (v->type == FPMD_YAML_MAP && cur->fallback.status == 0)
        fpmd_yaml_error_at(c, v, "%s: status: is required", key);
}

/* An etcd key prefix: /, then printable bytes without spaces; a trailing
 * / is dropped (keys go under PREFIX/). */
static void
get_prefix(struct fpmd_yaml_ctx *c, const struct fpmd_yaml_node *v,
           const char *key, const char *text, char **out)
{
    size_t len = strlen(text);

    for (const char *p = text; *p; p++) {
        if ((unsigned char) *p <= 0x20 || *p == 0x7f) {
            fpmd_yaml_error_at(c, v, "%s: \"%s\" has a space or a control "
                               "character", key, text);
            return;
        }
    }
    while (len > 1 && text[len - 1] == '/')
        len--;
    if (text[0] != '/' || len < 2 || len > 512) {
        fpmd_yaml_error_at(c, v, "%s: a key prefix, /... (2 to 512 bytes)",
                           key);
        return;
    }
    *out = fpmd_conf_strndup(c->arena, text, len);
}

/* discover: etcd:/PREFIX, the only registry there is. */
KEYFN(k_discover)
{
    const char *d = fpmd_yaml_scalar(c, v, key);

    if (d == NULL)
        return;
    if (strncmp(d, "etcd:", 5) != 0) {
        fpmd_yaml_error_at(c, v, "%s: \"%s\" is not etcd:/PREFIX", key, d);
        return;
    }
    get_prefix(c, v, key, d + 5, &cur->discover);
}

KEYFN(k_max_servers)
{
    fpmd_yaml_get_uint(c, v, key, 1, FPMD_BALANCE_MAX_SERVERS,
                       &cur->max_servers);
}

static const struct fpmd_yaml_key upstream_keys[] = {
    {"servers", k_servers}, {"balancer", k_balancer},
    {"discover", k_discover}, {"max_servers", k_max_servers},
    {"timeout", k_timeout}, {"connect_timeout", k_connect},
    {"max_connections", k_max_conns}, {"retries", k_retries},
    {"max_body", k_max_body}, {"tls", k_tls}, {"breaker", k_breaker},
    {"fallback", k_fallback}, {"rpc_path", k_rpc_path},
};

static bool
name_valid(const char *name)
{
    size_t len = strlen(name);

    for (size_t j = 0; j < len; j++) {
        if (!isalnum((unsigned char) name[j]) && name[j] != '_'
            && name[j] != '-')
            return false;
    }
    return len > 0 && len <= FPMD_BACKEND_NAME_MAX;
}

void
fpmd_conf_read_upstreams(struct fpmd_yaml_ctx *c,
                         const struct fpmd_yaml_node *v, const char *key)
{
    struct fpmd_conf *conf = c->conf;

    if (v->type != FPMD_YAML_MAP) {
        fpmd_yaml_error_at(c, v, "%s: expected a mapping of upstream names",
                           key);
        return;
    }
    if (v->nkids / 2 > FPMD_MAX_UPSTREAMS) {
        fpmd_yaml_error_at(c, v, "%s: at most %d", key, FPMD_MAX_UPSTREAMS);
        return;
    }
    conf->upstreams = fpmd_conf_alloc(c->arena, v->nkids / 2 + 1,
                                      sizeof(*conf->upstreams));
    if (conf->upstreams == NULL)
        return;
    for (size_t i = 0; i + 1 < v->nkids; i += 2) {
        const struct fpmd_yaml_node *k = v->kids[i], *item = v->kids[i + 1];
        const char *name = k->type == FPMD_YAML_SCALAR ? k->value : "";

        if (!name_valid(name)) {
            fpmd_yaml_error_at(c, k, "upstreams: a name is 1 to %d letters, "
                               "digits, '_' or '-'", FPMD_BACKEND_NAME_MAX);
            continue;
        }
        for (size_t j = 0; j < conf->nupstreams; j++) {
            if (strcmp(conf->upstreams[j].name, name) == 0)
                fpmd_yaml_error_at(c, k, "duplicate upstream \"%s\"", name);
        }
        cur = &conf->upstreams[conf->nupstreams++];
        cur->name = fpmd_conf_strdup(c->arena, name);
        cur->balancer = FPMD_BALANCE_ROUND_ROBIN;
        cur->timeout_ms = 10000;
        cur->connect_timeout_ms = 1000;
        cur->max_connections = 32;
        cur->retries = 1;
        cur->max_body = 8 * 1024 * 1024;
        cur->max_servers = 64;
        cur->tls_verify = true;
        cur->breaker = (struct fpmd_breaker_conf) {
            .failures = 5, .min_calls = 20, .window_us = 10000000,
            .open_us = 5000000, .probes = 1};
        fpmd_yaml_set_pos(&cur->pos, c, k);
        fpmd_yaml_walk_map(c, item, "upstreams", upstream_keys,
                           FPMD_ARRAY_LEN(upstream_keys));
        if (item->type != FPMD_YAML_MAP)
            continue;
        if ((cur->nservers == 0) == (cur->discover == NULL))
            fpmd_yaml_error_at(c, k, "upstreams.%s: one of servers: or "
                               "discover: is needed", name);
        if (cur->timeout_ms == 0 || cur->connect_timeout_ms == 0)
            fpmd_yaml_error_at(c, k, "upstreams.%s: timeout and "
                               "connect_timeout must be above 0", name);
    }
}

/* --- etcd: ------------------------------------------------------------- */

static struct fpmd_conf_etcd *etcd;

KEYFN(k_e_endpoints)
{
    etcd->endpoints = fpmd_yaml_list_items(c, v, key, "endpoints",
                                           sizeof(*etcd->endpoints));
    if (etcd->endpoints == NULL)
        return;
    if (v->nkids == 0 || v->nkids > 16) {
        fpmd_yaml_error_at(c, v, "%s: 1 to 16 URLs", key);
        etcd->endpoints = NULL;
        return;
    }
    for (size_t i = 0; i < v->nkids; i++) {
        char *url = NULL;
        size_t len;

        fpmd_yaml_get_str(c, v->kids[i], key, &url);
        if (url == NULL)
            continue;
        len = strlen(url);
        while (len > 0 && url[len - 1] == '/')
            url[--len] = '\0';
        if (!fpmd_conf_http_url_valid(url) || strchr(strchr(url, ':') + 3, '/') != NULL)
            fpmd_yaml_error_at(c, v->kids[i], "%s: \"%s\" is not an "
                               "http:// or https:// URL of host and port",
                               key, url);
        etcd->endpoints[etcd->nendpoints++] = url;
    }
}

KEYFN(k_e_timeout) { fpmd_yaml_get_duration(c, v, key, &etcd->timeout_ms); }
KEYFN(k_e_retry) { fpmd_yaml_get_duration(c, v, key, &etcd->retry_ms); }
KEYFN(k_e_ttl) { fpmd_yaml_get_duration(c, v, key, &etcd->ttl_ms); }
KEYFN(k_e_prefix)
{
    const char *p = fpmd_yaml_scalar(c, v, key);

    if (p != NULL)
        get_prefix(c, v, key, p, &etcd->prefix);
}
KEYFN(k_e_advertise)
{
    fpmd_yaml_get_str(c, v, key, &etcd->advertise);
    if (etcd->advertise != NULL
        && (etcd->advertise[0] == '\0'
            || strpbrk(etcd->advertise, " /:?#@") != NULL)
        && !(etcd->advertise[0] == '['
             && strchr(etcd->advertise, ']') != NULL))
        fpmd_yaml_error_at(c, v, "%s: a host name, an IPv4 address or an "
                           "[IPv6] address", key);
}
KEYFN(k_e_weight)
{
    fpmd_yaml_get_uint(c, v, key, 1, FPMD_BALANCE_MAX_WEIGHT, &etcd->weight);
}

static const struct fpmd_yaml_key etcd_keys[] = {
    {"endpoints", k_e_endpoints}, {"timeout", k_e_timeout},
    {"retry", k_e_retry}, {"ttl", k_e_ttl}, {"prefix", k_e_prefix},
    {"advertise", k_e_advertise}, {"weight", k_e_weight},
};

void
fpmd_conf_read_etcd(struct fpmd_yaml_ctx *c, const struct fpmd_yaml_node *v,
                    const char *key)
{
    etcd = &c->conf->etcd;
    etcd->timeout_ms = 3000;
    etcd->retry_ms = 1000;
    etcd->ttl_ms = 10000;
    etcd->weight = 1;
    fpmd_yaml_set_pos(&etcd->pos, c, v);
    fpmd_yaml_walk_map(c, v, key, etcd_keys, FPMD_ARRAY_LEN(etcd_keys));
    if (v->type != FPMD_YAML_MAP)
        return;
    if (etcd->endpoints == NULL)
        fpmd_yaml_error_at(c, v, "%s: endpoints: is required", key);
    if (etcd->timeout_ms == 0 || etcd->retry_ms == 0)
        fpmd_yaml_error_at(c, v, "%s: timeout and retry must be above 0",
                           key);
    /* the lease is renewed every third of it: a call to etcd must fit */
    if (etcd->ttl_ms < 2000 || etcd->ttl_ms > 3600000)
        fpmd_yaml_error_at(c, v, "%s: ttl: 2s to 1h", key);
    else if (etcd->timeout_ms > etcd->ttl_ms / 3)
        fpmd_yaml_error_at(c, v, "%s: timeout: at most a third of ttl:",
                           key);
}

/* What needs the whole file: a name the status page shows once, and an
 * etcd: for every discover:. */
void
fpmd_conf_check_upstreams(struct fpmd_yaml_ctx *c)
{
    const struct fpmd_conf *conf = c->conf;

    for (size_t i = 0; i < conf->nupstreams; i++) {
        const struct fpmd_conf_upstream *u = &conf->upstreams[i];
        struct fpmd_yaml_node at = {.line = u->pos.line,
                                    .column = u->pos.column};

        for (size_t j = 0; j < conf->nbackends; j++) {
            if (strcmp(conf->backends[j].name, u->name) == 0)
                fpmd_yaml_error_at(c, &at, "upstreams: \"%s\" is a pool's "
                                   "name too", u->name);
        }
        if (u->discover != NULL && conf->etcd.endpoints == NULL)
            fpmd_yaml_error_at(c, &at, "upstreams.%s: discover: needs etcd: "
                               "with its endpoints", u->name);
    }
}
