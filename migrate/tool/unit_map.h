/* SPDX-License-Identifier: BSD-2-Clause */
/* NGINX Unit's /config (JSON) as an fpmd config and the php-fpm pools that
 * take Unit's PHP applications, for fpmd-migrate import-unit. Pure text in,
 * text out: no file is read or written here, so the fuzz target and the
 * unit tests run the whole mapping. Every object of the input ends up in
 * the report with its JSON pointer ("/routes/0/match/headers"): mapped,
 * applied, or unsupported and why. */
#ifndef FPMD_MIGRATE_TOOL_UNIT_MAP_H
#define FPMD_MIGRATE_TOOL_UNIT_MAP_H

#include <stddef.h>

/* Nesting the reader takes; Unit's own configs need 8 or so. */
#define FPMD_UNIT_DEPTH_MAX 32
/* Route steps, applications, listeners mapped at most (each). */
#define FPMD_UNIT_ITEMS_MAX 1024

struct fpmd_unit_opts {
    const char *socket_dir;     /* where each php-fpm pool listens:
                                 * DIR/unit-APP.sock */
};

struct fpmd_unit_out {
    char *yaml;                 /* the fpmd config, without the report */
    char *pool;                 /* php-fpm pool sections; NULL: no PHP
                                 * application */
    char **report;              /* one line each */
    size_t nreport;
    char **errors;              /* "line:column: ..." or "/pointer: ..." */
    size_t nerrors;
    unsigned mapped, applied, unsupported;
    int nomem;
};

/* Maps text (len bytes, need not end in NUL). FPMD_OK with yaml, pool
 * and report set; FPMD_ERROR with errors (the input is not JSON, or not
 * a Unit config: wrong types, bad values) or nomem. out is zeroed first;
 * free it with fpmd_unit_out_free whatever the result. */
int fpmd_unit_map(const char *text, size_t len,
                  const struct fpmd_unit_opts *opts,
                  struct fpmd_unit_out *out);
void fpmd_unit_out_free(struct fpmd_unit_out *out);

/* What fpmd's router can do with a Unit "uri" pattern. */
enum fpmd_unit_uri_kind {
    FPMD_UNIT_URI_NONE = 0,     /* fpmd cannot match it: *why says so */
    FPMD_UNIT_URI_ANY,          /* "*" */
    FPMD_UNIT_URI_EXACT,        /* "/a/b": path "/a/b" */
    FPMD_UNIT_URI_TREE,         /* "/a/" then '*': the same path, a route
                                 * pattern */
    FPMD_UNIT_URI_PREFIX,       /* "/a*": path "/a" (a shim's prefix) */
};

/* pattern as fpmd can route it; path (of pathlen bytes) gets what fpmd
 * matches. */
enum fpmd_unit_uri_kind fpmd_unit_uri(const char *pattern, char *path,
                                      size_t pathlen, const char **why);

/* A share ("/srv/www$uri") as a static root ("/srv/www"): FPMD_OK, or
 * FPMD_ERROR with *why. */
int fpmd_unit_share_root(const char *share, char *root, size_t rootlen,
                         const char **why);

/* A Unit listener name ("*:80", "127.0.0.1:8080", "[::1]:80",
 * "unix:/run/app.sock") as fpmd's listen address: FPMD_OK, or
 * FPMD_ERROR with *why. */
int fpmd_unit_listen_addr(const char *name, char *addr, size_t addrlen,
                          const char **why);

/* A JSON pointer token: '~' as "~0", '/' as "~1" (RFC 6901 §3); NULL
 * when memory ran out. */
char *fpmd_unit_pointer(const char *parent, const char *token);

#endif
