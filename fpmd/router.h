/* SPDX-License-Identifier: BSD-2-Clause */
/* The route table: handlers registered in the binary or in handler modules
 * (FPMD_ROUTE / FPMD_HANDLER) plus the config's routes, built once per
 * worker. Exact paths live in a hash; patterns with {param} segments and a
 * trailing * wildcard in a segment tree, whose answers a bounded cache keeps
 * per worker. */
#ifndef FPMD_ROUTER_H
#define FPMD_ROUTER_H

#include <stdio.h>

#include "fpmd/conf.h"
#include "fpmd/fpmd.h"

#define FPMD_ROUTE_MAX_PARAMS 8
#define FPMD_ROUTE_CACHE_SLOTS 512
#define FPMD_ROUTE_CACHE_PATH 128   /* longer paths are never cached */

struct fpmd_route {
    char *path;             /* for a shim, its label */
    char *methods;          /* "GET,POST", NULL: any method */
    const struct fpmd_handler_def *handler;
    /* For a route with shadow: or canary:, handler is the one that splits
     * its requests (migrate/shadow_canary.c) and native the route's own. */
    const struct fpmd_handler_def *native;
    const struct fpmd_conf_route *conf;     /* the config route, if any */
    char *where;            /* "file:line" or "file:line:column" */
    char **info_names;      /* a shim's path_info {names}, NULL-ended */
};

enum fpmd_param_src {
    FPMD_PARAM_PATH = 0,    /* the matched path */
    FPMD_PARAM_QUERY,       /* the raw query (percent-encoded) */
    FPMD_PARAM_PATH_INFO,
};

struct fpmd_route_param {
    const char *name;       /* owned by the router; "*" for the wildcard */
    uint16_t off, len;      /* the value, within its source */
    uint8_t src;            /* enum fpmd_param_src */
};

struct fpmd_route_match {
    const struct fpmd_route *route;
    unsigned nparams;
    struct fpmd_route_param params[FPMD_ROUTE_MAX_PARAMS];
    char allow[128];        /* for a 405: "GET, HEAD" */
    int status;             /* the HTTP status it routes to: 200, 404, 405 */
};

/* The name of the handler a route runs for its requests (the route's
 * own, behind any shadow or canary split). */
const char *fpmd_route_handler_name(const struct fpmd_route *rt);

struct fpmd_router_stats {
    uint64_t cache_hits, cache_misses;
    size_t exact, patterns;
};

struct fpmd_router;

/* Builds the table for conf. NULL on error, with every error (unknown
 * handler, duplicate method+path naming both places, bad pattern) one per
 * line in err. */
struct fpmd_router *fpmd_router_build(const struct fpmd_conf *conf, char *err,
                                      size_t errlen);
void fpmd_router_free(struct fpmd_router *r);

/* Picks the route for method + path: FPMD_OK (m->route and m->params set,
 * m->status 200), or FPMD_DECLINED with m->status 404, or 405 and the
 * allowed methods in m->allow. Precedence: exact path,
 * then literal segments before {param} before a wildcard. HEAD is served
 * by a GET route. Paths of at most 64 KiB. */
int fpmd_router_match(struct fpmd_router *r, const char *method,
                      const char *path, struct fpmd_route_match *m);

/* A request as routes and shims see it. */
struct fpmd_route_req {
    const char *method;
    const char *path;       /* what exact and pattern routes match */
    const char *script;     /* what a shim's script: matches (README
                             * "Shims"); NULL: path */
    const char *path_info;  /* NULL: none */
    const char *query;      /* raw, without '?'; NULL: none */
};

/* Like fpmd_router_match, shims first: the first shim (in config order)
 * whose every condition holds wins, then the path routes. A match's
 * params may then point into q->query or q->path_info (see
 * fpmd_route_param.src), which must outlive m. */
int fpmd_router_match_req(struct fpmd_router *r,
                          const struct fpmd_route_req *q,
                          struct fpmd_route_match *m);

/* 1 when the table has shims (and routing needs fpmd_route_req.script). */
bool fpmd_router_has_shims(const struct fpmd_router *r);

/* Shims that an earlier shim takes every request of: the count, with up
 * to max (shadowed, by) pairs written. */
size_t fpmd_router_shadowed(const struct fpmd_router *r,
                            const struct fpmd_route **shadowed,
                            const struct fpmd_route **by, size_t max);

void fpmd_router_stats(const struct fpmd_router *r,
                       struct fpmd_router_stats *out);

/* 1 when method is one of the comma-separated tokens of list ("GET,HEAD"),
 * compared exactly. */
bool fpmd_method_in(const char *list, const char *method);

/* A registered handler by name; NULL when none. */
const struct fpmd_handler_def *fpmd_handler_find(const char *name);

/* The table, one route a line, for `fpmd -t --routes`. */
void fpmd_router_print(const struct fpmd_router *r, FILE *out);

#endif
