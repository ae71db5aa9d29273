/* SPDX-License-Identifier: BSD-2-Clause */
/* The route table: handlers registered in the binary (FPMD_ROUTE /
 * FPMD_HANDLER, collected from a linker section) plus the config's routes,
 * built once per config generation in the master, inherited read-only by
 * that generation's workers. Exact paths live in a hash. */
#ifndef FPMD_ROUTER_H
#define FPMD_ROUTER_H

#include <stdio.h>

#include "fpmd/conf.h"
#include "fpmd/fpmd.h"

struct fpmd_route {
    char *path;
    char *methods;          /* "GET,POST", NULL: any method */
    const struct fpmd_handler_def *handler;
    char *where;            /* "file:line" or "file:line:column" */
};

struct fpmd_router;

/* Builds the table for conf. NULL on error, with every error (unknown
 * handler, duplicate method+path naming both places) one per line in
 * err. */
struct fpmd_router *fpmd_router_build(const struct fpmd_conf *conf, char *err,
                                      size_t errlen);
void fpmd_router_free(struct fpmd_router *r);

/* Picks the route for method + path: 200 (found, *out set), 404, or 405
 * with the allowed methods written to allow ("GET, HEAD"). HEAD is served
 * by a GET route. */
int fpmd_router_match(const struct fpmd_router *r, const char *method,
                      const char *path, const struct fpmd_route **out,
                      char *allow, size_t allowlen);

/* A registered handler by name; NULL when none. */
const struct fpmd_handler_def *fpmd_handler_find(const char *name);

/* The table, one route a line, for `fpmd -t --routes`. */
void fpmd_router_print(const struct fpmd_router *r, FILE *out);

#endif
