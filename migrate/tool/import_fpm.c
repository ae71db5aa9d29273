/* SPDX-License-Identifier: BSD-2-Clause */
/* fpmd-migrate import-fpm: php-fpm's config (php-fpm.conf and its pool
 * files) to an fpmd config that takes one pool's place and hands every
 * request on to that pool, moved to a new address, through the legacy
 * pass-through. Every directive read is accounted for in a report (on
 * stderr, and as comments atop the YAML): mapped to an fpmd key, applied,
 * overridden, or not supported and why. The YAML goes through fpmd's own
 * loader before it is written: what comes out loads, or the command says
 * why and exits 78. */
#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sysexits.h>

#include "fpmd/conf.h"
#include "fpmd/prepare.h"
#include "fpmd/router.h"
#include "migrate/tool/fpm_directives.h"
#include "migrate/tool/fpm_ini.h"
#include "migrate/tool/fpm_paths.h"
#include "migrate/tool/migrate_cli.h"
#include "migrate/tool/yaml_text.h"

/* Where php-fpm resolves relative paths when built as Debian builds it
 * and started without -p (fpm_evaluate_full_path): a pool's files
 * against PHP_PREFIX, pid and error_log against PHP_LOCALSTATEDIR.
 * --prefix stands for -p and takes the place of both. */
#define PHP_PREFIX "/usr"
#define PHP_LOCALSTATEDIR "/var"

enum kind {
    K_ERROR = 0,            /* reported as an error, not in the report */
    K_PENDING,              /* a slot's value, mapped once the pool is
                             * chosen */
    K_MAPPED,
    K_APPLIED,
    K_UNSUPPORTED,
    K_OVERRIDDEN,
};

struct outcome {
    enum kind kind;
    char *text;             /* mapped: "key: value"; else why */
    const struct fpmd_fpm_ini_entry *by;    /* K_OVERRIDDEN: the later one */
};

struct pool_view {
    const struct fpmd_fpm_ini_entry *slot[NSLOTS];
    char *base;             /* where its relative paths resolve */
    struct fpmd_fpm_addr addr;
    int listen_ok;          /* addr is its listen */
    char *legacy;           /* where fpmd reaches it: YAML text */
    char *legacy_raw;
    unsigned children;
    char *timeout;          /* legacy timeout: its request_terminate */
};

struct lines {
    char **v;
    size_t n, cap;
};

struct import {
    const char *out_path, *legacy_opt, *pool_opt, *prefix;

    struct fpmd_fpm_ini ini;
    struct outcome *outcomes;       /* one per ini entry */
    struct pool_view global;        /* slot[] only */
    struct pool_view *pools;
    size_t primary;

    char *out[NSLOTS];              /* YAML text of each slot written */
    char *listens[2];               /* fpmd's listen addresses, YAML */
    size_t nlistens;

    struct lines errors;            /* file:line:column: ... */
    struct lines notes;             /* after the entries in the report */
    struct lines report;
    int nomem;
};

/* --- small helpers ---------------------------------------------------- */

/* Keeps s (owned; NULL counts as memory running out). */
static void
lines_add(struct import *imp, struct lines *l, char *s)
{
    char **grown;

    if (s == NULL) {
        imp->nomem = 1;
        return;
    }
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 32;

        grown = realloc(l->v, cap * sizeof(*grown));
        if (grown == NULL) {
            free(s);
            imp->nomem = 1;
            return;
        }
        l->v = grown;
        l->cap = cap;
    }
    l->v[l->n++] = s;
}

static void
lines_free(struct lines *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
}

/* Each line of a "...\n..." block. */
static void
lines_split(struct import *imp, struct lines *l, const char *text)
{
    while (text != NULL && *text != '\0') {
        const char *nl = strchr(text, '\n');
        size_t len = nl ? (size_t) (nl - text) : strlen(text);

        lines_add(imp, l, strndup(text, len));
        text += len + (nl != NULL);
    }
}

static const char *
section_of(const struct import *imp, const struct fpmd_fpm_ini_entry *e)
{
    return e->pool == FPMD_FPM_INI_GLOBAL ? "global"
                                          : imp->ini.pools[e->pool].name;
}

/* Adds "where: message" to the errors; where is taken. */
static void
add_error(struct import *imp, char *where, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

static void
add_error(struct import *imp, char *where, const char *fmt, va_list ap)
{
    char *msg;

    if (vasprintf(&msg, fmt, ap) < 0)
        msg = NULL;
    if (msg == NULL || where == NULL)
        imp->nomem = 1;
    else
        lines_add(imp, &imp->errors, fpmd_fpm_format("%s: %s", where, msg));
    free(where);
    free(msg);
}

/* An error at an entry: "file:line:column: [pool] name: message". */
static void
problem(struct import *imp, const struct fpmd_fpm_ini_entry *e, unsigned col,
        const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void
problem(struct import *imp, const struct fpmd_fpm_ini_entry *e, unsigned col,
        const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    add_error(imp, fpmd_fpm_format("%s:%u:%u: [%s] %s%s%s%s", e->file,
                                   e->line, col, section_of(imp, e), e->name,
                                   e->key ? "[" : "", e->key ? e->key : "",
                                   e->key ? "]" : ""), fmt, ap);
    va_end(ap);
}

static void
set_outcome(struct import *imp, struct outcome *o, enum kind kind,
            char *text)
{
    if (text == NULL)
        imp->nomem = 1;
    free(o->text);
    o->kind = kind;
    o->text = text;
}

/* --- reading the directives ------------------------------------------- */

/* The value as php-fpm's parser for the type would take it; reports and
 * returns FPMD_ERROR when php-fpm would refuse it. */
static int
check_type(struct import *imp, const struct fpmd_fpm_ini_entry *e,
           enum type type)
{
    static const char *const pms[] = {"static", "dynamic", "ondemand"};
    static const char *const levels[] = {"debug", "notice", "warning",
                                         "warn", "error", "alert"};
    const char *v = e->value;
    long long n;
    uint64_t s;
    int b;

    switch (type) {
    case T_STR:
        return FPMD_OK;
    case T_INT:
        if (fpmd_fpm_ini_int(v, INT_MIN, INT_MAX, &n) == FPMD_OK)
            return FPMD_OK;
        problem(imp, e, e->value_column, "\"%s\" is not a whole number", v);
        return FPMD_ERROR;
    case T_TIME:
        if (fpmd_fpm_ini_seconds(v, &s) == FPMD_OK)
            return FPMD_OK;
        problem(imp, e, e->value_column, "\"%s\" is not a time (whole "
                "seconds, or a number with s, m, h or d)", v);
        return FPMD_ERROR;
    case T_BOOL:
        if (fpmd_fpm_ini_bool(v, &b) == FPMD_OK)
            return FPMD_OK;
        problem(imp, e, e->value_column, "\"%s\" is not yes or no", v);
        return FPMD_ERROR;
    case T_RLIMIT:
        if (fpmd_fpm_ini_rlimit(v, &n) == FPMD_OK)
            return FPMD_OK;
        problem(imp, e, e->value_column, "\"%s\" is not a count from 0 or "
                "unlimited", v);
        return FPMD_ERROR;
    case T_PM:
        for (size_t i = 0; i < FPMD_ARRAY_LEN(pms); i++) {
            if (strcasecmp(v, pms[i]) == 0)
                return FPMD_OK;
        }
        problem(imp, e, e->value_column, "\"%s\" is not static, dynamic or "
                "ondemand", v);
        return FPMD_ERROR;
    case T_LEVEL:
        for (size_t i = 0; i < FPMD_ARRAY_LEN(levels); i++) {
            if (strcasecmp(v, levels[i]) == 0)
                return FPMD_OK;
        }
        problem(imp, e, e->value_column, "\"%s\" is not one of alert, "
                "error, warning, notice, debug", v);
        return FPMD_ERROR;
    }
    return FPMD_ERROR;
}

static void
classify_array(struct import *imp, const struct fpmd_fpm_ini_entry *e,
               struct outcome *o)
{
    int b;

    const char *why = fpmd_fpm_array_reason(e->name);

    if (why != NULL) {
        /* php-fpm turns these into booleans and refuses anything else */
        if (strstr(e->name, "_flag") != NULL
            && fpmd_fpm_ini_bool(e->value, &b) != FPMD_OK) {
            problem(imp, e, e->value_column, "\"%s\" is not on or off",
                    e->value);
            return;
        }
        set_outcome(imp, o, K_UNSUPPORTED, strdup(why));
        return;
    }
    set_outcome(imp, o, K_UNSUPPORTED, strdup(R_UNKNOWN));
}

/* Every entry: checked as php-fpm would, then unsupported (and why), or
 * kept in its section's slot for mapping, the earlier value overridden. */
static void
classify(struct import *imp)
{
    for (size_t i = 0; i < imp->ini.nentries; i++) {
        const struct fpmd_fpm_ini_entry *e = &imp->ini.entries[i];
        struct outcome *o = &imp->outcomes[i];
        const struct directive *d;
        struct pool_view *view;
        unsigned scope = e->pool == FPMD_FPM_INI_GLOBAL ? IN_GLOBAL
                                                        : IN_POOL;

        if (e->key == NULL && strcmp(e->name, "include") == 0) {
            set_outcome(imp, o, K_APPLIED, e->included > 0
                        ? fpmd_fpm_format("read %u file(s) here", e->included)
                        : strdup("matched no file"));
            continue;
        }
        if (e->key != NULL) {
            classify_array(imp, e, o);
            continue;
        }
        d = fpmd_fpm_directive_find(e->name);
        if (d == NULL) {
            set_outcome(imp, o, K_UNSUPPORTED, strdup(R_UNKNOWN));
            continue;
        }
        if ((d->scope & scope) == 0) {
            set_outcome(imp, o, K_UNSUPPORTED, strdup(
                scope == IN_GLOBAL
                    ? "a pool directive: php-fpm refuses it in [global]"
                    : "a [global] directive: php-fpm refuses it in a pool"));
            continue;
        }
        if (d->slot == UNMAPPED && check_type(imp, e, d->type) == FPMD_OK) {
            set_outcome(imp, o, K_UNSUPPORTED, strdup(d->reason));
            continue;
        }
        if (d->slot == UNMAPPED)
            continue;
        view = scope == IN_GLOBAL ? &imp->global : &imp->pools[e->pool];
        if (view->slot[d->slot] != NULL) {
            struct outcome *prev =
                &imp->outcomes[view->slot[d->slot] - imp->ini.entries];

            set_outcome(imp, prev, K_OVERRIDDEN, strdup("overridden"));
            prev->by = e;
        }
        /* a value php-fpm refuses keeps its slot, as an error: no
         * "missing" error follows from it */
        view->slot[d->slot] = e;
        if (check_type(imp, e, d->type) == FPMD_OK)
            o->kind = K_PENDING;
    }
}

/* --- mapping ---------------------------------------------------------- */

static struct outcome *
outcome_of(struct import *imp, const struct fpmd_fpm_ini_entry *e)
{
    return &imp->outcomes[e - imp->ini.entries];
}

/* A copy in lower case (php-fpm takes pm and log_level in any case,
 * fpmd in lower case); NULL when memory ran out. */
static char *
lower_dup(const char *s)
{
    char *copy = strdup(s);

    for (char *c = copy; c != NULL && *c != '\0'; c++)
        *c = (char) tolower((unsigned char) *c);
    return copy;
}

/* The entry in a slot of [global] or of the pool fpmd takes. */
static const struct fpmd_fpm_ini_entry *
slot_entry(const struct import *imp, int slot)
{
    return slot < P_PREFIX ? imp->global.slot[slot]
                           : imp->pools[imp->primary].slot[slot];
}

/* The slot's entry when it is there and still to be mapped. */
static const struct fpmd_fpm_ini_entry *
pending(struct import *imp, const struct pool_view *view, int slot)
{
    const struct fpmd_fpm_ini_entry *e = view->slot[slot];

    return e != NULL && outcome_of(imp, e)->kind == K_PENDING ? e : NULL;
}

/* slot's entry mapped to text (owned; its YAML value). */
static void
mapped(struct import *imp, int slot, char *text, const char *why)
{
    const struct fpmd_fpm_ini_entry *e = slot_entry(imp, slot);

    if (text == NULL) {
        /* a value no YAML can carry was reported where it was made */
        if (imp->errors.n == 0)
            imp->nomem = 1;
        return;
    }
    imp->out[slot] = text;
    set_outcome(imp, outcome_of(imp, e), K_MAPPED,
                fpmd_fpm_format("mapped to %s: %s%s%s",
                                fpmd_fpm_slot_key(slot), text,
                                why ? " " : "", why ? why : ""));
}

static void
not_mapped(struct import *imp, const struct fpmd_fpm_ini_entry *e,
           enum kind kind, char *why)
{
    set_outcome(imp, outcome_of(imp, e), kind, why);
}

/* A string slot as YAML; reports a value no YAML can carry. */
static char *
quoted(struct import *imp, const struct fpmd_fpm_ini_entry *e,
       const char *v)
{
    char *q = fpmd_yaml_quote(v);

    if (q == NULL)
        problem(imp, e, e->value_column, "not valid UTF-8: no YAML string "
                "can carry it");
    return q;
}

static void
map_int(struct import *imp, int slot, long long min, long long max)
{
    const struct fpmd_fpm_ini_entry *e = slot_entry(imp, slot);
    long long n;

    if (fpmd_fpm_ini_int(e->value, min, max, &n) != FPMD_OK) {
        problem(imp, e, e->value_column, "%s: fpmd takes %lld to %lld",
                e->value, min, max);
        return;
    }
    mapped(imp, slot, fpmd_fpm_format("%lld", n), NULL);
}

static void
map_duration(struct import *imp, int slot)
{
    const struct fpmd_fpm_ini_entry *e = slot_entry(imp, slot);
    char d[32];

    if (fpmd_fpm_ini_duration(e->value, d, sizeof(d)) == FPMD_OK)
        mapped(imp, slot, strdup(d), NULL);
}

/* A file php-fpm writes, as fpmd's own file beside it; empty: off. */
static void
map_file(struct import *imp, int slot, const char *base)
{
    const struct fpmd_fpm_ini_entry *e = slot_entry(imp, slot);
    char *path, *mine, *q;

    if (e->value[0] == '\0') {
        not_mapped(imp, e, K_APPLIED, strdup("empty: fpmd's default "
                                             "stays"));
        return;
    }
    path = fpmd_fpm_resolve(e->value, base);
    mine = path ? fpmd_fpm_sibling(path) : NULL;
    q = mine ? quoted(imp, e, mine) : NULL;
    if (q != NULL)
        mapped(imp, slot, q, "(fpmd's own file: the legacy php-fpm keeps "
               "writing its own)");
    else if (mine == NULL)
        imp->nomem = 1;
    free(path);
    free(mine);
}

/* pm.status_path and ping.path: php-fpm's rules for them (a '/', then
 * letters, digits and /_-.~); empty: no page. */
static void
map_page(struct import *imp, int slot)
{
    const struct fpmd_fpm_ini_entry *e = imp->pools[imp->primary].slot[slot];
    const char *v = e->value;

    if (v[0] == '\0') {
        not_mapped(imp, e, K_APPLIED, strdup("empty: no page"));
        return;
    }
    if (v[0] != '/' || strlen(v) < 2
        || strspn(v, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                  "0123456789/_-.~") != strlen(v)) {
        problem(imp, e, e->value_column, "\"%s\": php-fpm takes a '/' then "
                "letters, digits and /_-.~", v);
        return;
    }
    mapped(imp, slot, strdup(v), NULL);
}

/* "127.0.0.1, ::1" (php-fpm's comma-separated list) as a YAML list. */
static void
map_allowed(struct import *imp)
{
    const struct fpmd_fpm_ini_entry *e =
        imp->pools[imp->primary].slot[P_ALLOWED];
    const char *p = e->value;
    char *list = strdup("["), *grown;
    size_t count = 0;

    while (list != NULL && *p != '\0') {
        size_t len = strcspn(p, ","), skip = 0;
        char ip[INET6_ADDRSTRLEN + 1];

        while (skip < len && isspace((unsigned char) p[skip]))
            skip++;
        while (len > skip && isspace((unsigned char) p[len - 1]))
            len--;
        if (len > skip) {
            if (len - skip >= sizeof(ip)) {
                ip[0] = '\0';
            } else {
                memcpy(ip, p + skip, len - skip);
                ip[len - skip] = '\0';
            }
            if (!fpmd_fpm_is_ip(ip, AF_INET)
                && !fpmd_fpm_is_ip(ip, AF_INET6)) {
                problem(imp, e, e->value_column, "\"%.*s\" is not an IPv4 "
                        "or IPv6 address", (int) (len - skip), p + skip);
                free(list);
                return;
            }
            grown = fpmd_fpm_format("%s%s\"%s\"", list, count ? ", " : "", ip);
            free(list);
            list = grown;
            count++;
        }
        p += strcspn(p, ",");
        if (*p == ',')
            p++;
    }
    if (list != NULL && count == 0) {
        free(list);
        not_mapped(imp, e, K_APPLIED, strdup("empty: any client may "
                                             "connect, as fpmd's default"));
        return;
    }
    grown = list ? fpmd_fpm_format("%s]", list) : NULL;
    free(list);
    mapped(imp, P_ALLOWED, grown, NULL);
}

static void
map_backlog(struct import *imp)
{
    const struct fpmd_fpm_ini_entry *e =
        imp->pools[imp->primary].slot[P_BACKLOG];
    long long n;

    if (fpmd_fpm_ini_int(e->value, -1, INT_MAX, &n) != FPMD_OK || n == 0) {
        problem(imp, e, e->value_column, "%s: fpmd takes 1 to 65535 (-1 for "
                "the most)", e->value);
        return;
    }
    if (n == -1 || n > 65535)
        mapped(imp, P_BACKLOG, strdup("65535"), "(the most fpmd takes; the "
               "kernel caps it at net.core.somaxconn)");
    else
        mapped(imp, P_BACKLOG, fpmd_fpm_format("%lld", n), NULL);
}

/* Slots that only one pm mode reads (php-fpm's docs: "Used only when pm
 * is set to dynamic"). */
static int
pm_reads(const char *mode, int slot)
{
    if (slot == P_IDLE)
        return strcasecmp(mode, "ondemand") == 0;
    if (slot == P_START || slot == P_MIN_SPARE || slot == P_MAX_SPARE
        || slot == P_SPAWN)
        return strcasecmp(mode, "dynamic") == 0;
    return 1;
}

static void
map_global(struct import *imp)
{
    const char *base = imp->prefix ? imp->prefix : PHP_LOCALSTATEDIR;
    struct pool_view *g = &imp->global;
    char *lower;
    int b;

    if (pending(imp, g, G_PID))
        map_file(imp, G_PID, base);
    if (pending(imp, g, G_ERROR_LOG)) {
        if (strcasecmp(g->slot[G_ERROR_LOG]->value, "syslog") == 0)
            not_mapped(imp, g->slot[G_ERROR_LOG], K_UNSUPPORTED,
                       strdup(R_SYSLOG ": log.error stays unset "
                              "(stderr)"));
        else
            map_file(imp, G_ERROR_LOG, base);
    }
    if (pending(imp, g, G_LOG_LEVEL)) {
        lower = lower_dup(g->slot[G_LOG_LEVEL]->value);
        if (lower != NULL && strcmp(lower, "warn") == 0) {
            free(lower);
            lower = strdup("warning");
        }
        mapped(imp, G_LOG_LEVEL, lower, NULL);
    }
    if (pending(imp, g, G_ER_THRESHOLD))
        map_int(imp, G_ER_THRESHOLD, 0, 1000000);
    if (pending(imp, g, G_ER_INTERVAL))
        map_duration(imp, G_ER_INTERVAL);
    if (pending(imp, g, G_CONTROL))
        map_duration(imp, G_CONTROL);
    if (pending(imp, g, G_DAEMONIZE)
        && fpmd_fpm_ini_bool(g->slot[G_DAEMONIZE]->value, &b) == FPMD_OK)
        mapped(imp, G_DAEMONIZE, strdup(b ? "true" : "false"), NULL);
}

static void
map_primary(struct import *imp)
{
    struct pool_view *p = &imp->pools[imp->primary];
    const char *mode = p->slot[P_PM] ? p->slot[P_PM]->value : "static";

    for (int slot = P_PREFIX; slot < NSLOTS; slot++) {
        const struct fpmd_fpm_ini_entry *e = pending(imp, p, slot);

        if (e == NULL)
            continue;
        if (!pm_reads(mode, slot)) {
            not_mapped(imp, e, K_UNSUPPORTED,
                       fpmd_fpm_format("php-fpm reads it only with pm = "
                                       "%s (this pool: %s)",
                                       slot == P_IDLE ? "ondemand"
                                                      : "dynamic",
                                       mode));
            continue;
        }
        if ((slot == P_OWNER || slot == P_LGROUP || slot == P_MODE)
            && !p->addr.unix_socket) {
            not_mapped(imp, e, K_UNSUPPORTED, strdup(
                "listen is TCP: php-fpm applies it to unix sockets only, "
                "and fpmd refuses it on TCP"));
            continue;
        }
        switch (slot) {
        case P_PREFIX:
            not_mapped(imp, e, K_APPLIED, fpmd_fpm_format(
                "the pool's relative paths resolve against %s", p->base));
            break;
        case P_USER:
        case P_GROUP:
        case P_OWNER:
        case P_LGROUP:
        case P_ACCESS_FORMAT:
            mapped(imp, slot, quoted(imp, e, e->value), NULL);
            break;
        case P_MODE:
            if (e->value[0] == '\0'
                || strspn(e->value, "01234567") != strlen(e->value)
                || strtol(e->value, NULL, 8) > 07777) {
                problem(imp, e, e->value_column, "\"%s\" is not an octal "
                        "file mode like 0660", e->value);
                break;
            }
            mapped(imp, slot, fpmd_fpm_format("\"%s\"", e->value), NULL);
            break;
        case P_LISTEN:
            break;          /* with the legacy addresses */
        case P_BACKLOG:
            map_backlog(imp);
            break;
        case P_ALLOWED:
            map_allowed(imp);
            break;
        case P_PM:
            mapped(imp, slot, lower_dup(e->value), NULL);
            break;
        case P_CHILDREN:
        case P_MIN_SPARE:
        case P_MAX_SPARE:
            map_int(imp, slot, 1, 100000);
            break;
        case P_START:
            if (strcmp(e->value, "0") == 0)
                not_mapped(imp, e, K_APPLIED, strdup(
                    "0: computed from the spare counts, as fpmd does"));
            else
                map_int(imp, slot, 1, 100000);
            break;
        case P_SPAWN:
            map_int(imp, slot, 1, 1024);
            break;
        case P_MAX_REQUESTS:
            map_int(imp, slot, 0, UINT_MAX);
            break;
        case P_IDLE:
        case P_TERMINATE:
        case P_SLOW_TIMEOUT:
            map_duration(imp, slot);
            break;
        case P_STATUS:
        case P_PING:
            map_page(imp, slot);
            break;
        case P_PONG:
            if (imp->out[P_PING] == NULL)
                not_mapped(imp, e, K_UNSUPPORTED, strdup(
                    "php-fpm answers no ping without ping.path"));
            else if (e->value[0] == '\0')
                problem(imp, e, e->value_column, "php-fpm refuses an empty "
                        "ping.response");
            else
                mapped(imp, slot, quoted(imp, e, e->value), NULL);
            break;
        case P_SLOWLOG:
        case P_ACCESS_LOG:
            map_file(imp, slot, p->base);
            break;
        }
    }
}

/* The pools php-fpm keeps: reached as legacy pools at their own
 * addresses. */
static void
map_other(struct import *imp, size_t i)
{
    struct pool_view *p = &imp->pools[i];
    const char *name = imp->ini.pools[i].name;

    for (int slot = P_PREFIX; slot < NSLOTS; slot++) {
        const struct fpmd_fpm_ini_entry *e = pending(imp, p, slot);

        if (e == NULL)
            continue;
        if (slot == P_LISTEN)
            not_mapped(imp, e, K_MAPPED, fpmd_fpm_format(
                "mapped to legacy.%s.fastcgi: %s (unchanged: pool %s "
                "stays in php-fpm where it is)", name, p->legacy, name));
        else if (slot == P_PREFIX)
            not_mapped(imp, e, K_APPLIED, fpmd_fpm_format(
                "the pool's relative paths resolve against %s", p->base));
        else if (slot == P_CHILDREN || (slot == P_TERMINATE && p->timeout))
            not_mapped(imp, e, K_APPLIED, fpmd_fpm_format(
                "pool %s stays in php-fpm; this sets legacy.%s.%s", name,
                name, slot == P_CHILDREN ? "max" : "timeout"));
        else
            not_mapped(imp, e, K_UNSUPPORTED, fpmd_fpm_format(
                "pool %s stays in php-fpm: fpmd runs one pool (%s) and "
                "reaches %s as legacy pool %s", name,
                imp->ini.pools[imp->primary].name, name, name));
    }
}

/* A pool-level error at its [name] line. */
static void
pool_problem(struct import *imp, size_t i, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
pool_problem(struct import *imp, size_t i, const char *fmt, ...)
{
    const struct fpmd_fpm_ini_pool *pool = &imp->ini.pools[i];
    va_list ap;

    va_start(ap, fmt);
    add_error(imp, fpmd_fpm_format("%s:%u:%u: [%s]", pool->file, pool->line,
                                   pool->column, pool->name), fmt, ap);
    va_end(ap);
}

/* What fpmd needs of every pool: where it listens, its children, where
 * its relative paths resolve, and its legacy settings. */
static void
prepare_pools(struct import *imp)
{
    const char *gbase = imp->prefix ? imp->prefix : PHP_PREFIX;

    for (size_t i = 0; i < imp->ini.npools; i++) {
        struct pool_view *p = &imp->pools[i];
        const struct fpmd_fpm_ini_entry *e;
        const char *why;
        long long n;
        uint64_t s;
        char d[32];

        e = p->slot[P_PREFIX];
        p->base = e != NULL && e->value[0] != '\0'
            ? fpmd_fpm_resolve(e->value, gbase) : strdup(gbase);
        if (p->base == NULL) {
            imp->nomem = 1;
            return;
        }
        e = p->slot[P_LISTEN];
        if (e == NULL || e->value[0] == '\0') {
            pool_problem(imp, i, "no listen (php-fpm refuses a pool "
                         "without one)");
        } else if ((why = fpmd_fpm_parse_listen(e->value, p->base, &p->addr))
                   != NULL) {
            problem(imp, e, e->value_column, "\"%s\": %s", e->value, why);
        } else {
            p->listen_ok = 1;
        }
        e = p->slot[P_CHILDREN];
        if (e == NULL)
            pool_problem(imp, i, "no pm.max_children (php-fpm refuses a "
                         "pool without it)");
        else if (fpmd_fpm_ini_int(e->value, 1, 100000, &n) == FPMD_OK)
            p->children = (unsigned) n;
        else if (i != imp->primary && pending(imp, p, P_CHILDREN))
            problem(imp, e, e->value_column, "%s: php-fpm takes 1 or more",
                    e->value);
        e = pending(imp, p, P_TERMINATE);
        if (e != NULL && fpmd_fpm_ini_seconds(e->value, &s) == FPMD_OK
            && s > 0
            && fpmd_fpm_ini_duration(e->value, d, sizeof(d)) == FPMD_OK) {
            /* fpmd's legacy timeout counts silence: php-fpm ends a request
             * at request_terminate_timeout anyway, so no later */
            p->timeout = strdup(d);
            if (p->timeout == NULL)
                imp->nomem = 1;
        }
        if (i == imp->primary && p->slot[P_PM] == NULL)
            pool_problem(imp, i, "no pm (php-fpm refuses a pool without "
                         "one)");
    }
}

static int
legacy_name_ok(const char *name)
{
    size_t len = strlen(name);

    return len >= 1 && len <= FPMD_BACKEND_NAME_MAX
        && strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                  "0123456789_-") == len;
}

/* --legacy ADDR: what fpmd's legacy fastcgi: takes. */
static int
legacy_opt_ok(const char *v, struct fpmd_fpm_addr *a)
{
    const char *why = fpmd_fpm_parse_listen(v, "/", a);

    if (v[0] != '/' && strchr(v, ':') == NULL)
        return 0;
    return why == NULL && !a->any;
}

/* Where each pool is reached: the chosen one at its new address, the
 * others where they are; fpmd's own listen addresses. */
static int
place_pools(struct import *imp)
{
    struct pool_view *p = &imp->pools[imp->primary];
    const struct fpmd_fpm_ini_entry *e = p->slot[P_LISTEN];
    struct fpmd_fpm_addr moved;
    char *raw, *pool_text;

    for (size_t i = 0; i < imp->ini.npools; i++) {
        struct pool_view *o = &imp->pools[i];

        if (i == imp->primary)
            continue;
        raw = fpmd_fpm_connect_text(&o->addr, o->addr.port);
        o->legacy_raw = raw;
        o->legacy = raw ? fpmd_yaml_quote(raw) : NULL;
        if (o->legacy == NULL) {
            imp->nomem = 1;
            return FPMD_ERROR;
        }
        if (!legacy_name_ok(imp->ini.pools[i].name))
            pool_problem(imp, i, "the name cannot name an fpmd legacy pool "
                         "(1 to %d letters, digits, '_' or '-')",
                         FPMD_BACKEND_NAME_MAX);
    }
    pool_text = fpmd_yaml_quote(imp->ini.pools[imp->primary].name);
    if (pool_text == NULL)
        pool_problem(imp, imp->primary, "the name is not valid UTF-8: no "
                     "YAML string can carry it");
    free(pool_text);
    if (imp->ini.npools > 1 && !legacy_name_ok(
            imp->ini.pools[imp->primary].name))
        pool_problem(imp, imp->primary, "the name cannot name an fpmd "
                     "legacy pool (1 to %d letters, digits, '_' or '-')",
                     FPMD_BACKEND_NAME_MAX);
    if (imp->legacy_opt != NULL) {
        if (!legacy_opt_ok(imp->legacy_opt, &moved)) {
            free(moved.path);
            fprintf(stderr, "fpmd-migrate: --legacy \"%s\": not IP:PORT, "
                    "[IPv6]:PORT or an absolute unix socket path\n",
                    imp->legacy_opt);
            return FPMD_DECLINED;
        }
        raw = strdup(imp->legacy_opt);
    } else {
        raw = fpmd_fpm_default_legacy(&p->addr);
        if (raw == NULL) {
            problem(imp, e, e->value_column, "port 65535: there is no next "
                    "port for php-fpm; give one with --legacy ADDR");
            return FPMD_ERROR;
        }
        if (fpmd_fpm_parse_listen(raw, "/", &moved) != NULL) {
            problem(imp, e, e->value_column, "\"%s\" is too long for the "
                    "legacy socket; give one with --legacy ADDR", raw);
            free(moved.path);
            free(raw);
            return FPMD_ERROR;
        }
    }
    p->legacy_raw = raw;
    p->legacy = raw ? fpmd_yaml_quote(raw) : NULL;
    if (p->legacy == NULL) {
        free(moved.path);
        imp->nomem = 1;
        return FPMD_ERROR;
    }
    if (fpmd_fpm_same_place(&p->addr, &moved))
        problem(imp, e, e->value_column, "the legacy address %s is where "
                "fpmd listens: requests would come back to fpmd", raw);
    for (size_t i = 0; i < imp->ini.npools; i++) {
        if (i != imp->primary
            && fpmd_fpm_same_place(&imp->pools[i].addr, &moved))
            problem(imp, e, e->value_column, "the legacy address %s is "
                    "pool %s's listen; give another with --legacy ADDR",
                    raw, imp->ini.pools[i].name);
    }
    free(moved.path);
    imp->listens[0] = fpmd_fpm_listen_text(&p->addr, 0);
    imp->nlistens = 1;
    if (p->addr.dual) {
        /* php-fpm's "port" and "[::]" take IPv4 too; fpmd binds IPv6
         * sockets IPv6-only, so the IPv4 side gets its own */
        imp->listens[1] = fpmd_fpm_listen_text(&p->addr, 1);
        imp->nlistens = 2;
    }
    for (size_t i = 0; i < imp->nlistens; i++) {
        char *q = imp->listens[i] ? fpmd_yaml_quote(imp->listens[i]) : NULL;

        free(imp->listens[i]);
        imp->listens[i] = q;
        if (q == NULL) {
            imp->nomem = 1;
            return FPMD_ERROR;
        }
    }
    set_outcome(imp, outcome_of(imp, e), K_MAPPED, fpmd_fpm_format(
        "mapped to listen[].fastcgi: %s%s%s (fpmd takes this address; "
        "php-fpm moves to legacy%s%s.fastcgi: %s)", imp->listens[0],
        imp->nlistens > 1 ? " and " : "",
        imp->nlistens > 1 ? imp->listens[1] : "",
        imp->ini.npools > 1 ? "." : "",
        imp->ini.npools > 1 ? imp->ini.pools[imp->primary].name : "",
        p->legacy));
    return FPMD_OK;
}

/* legacy.max: php-fpm gives a kept-alive connection one child until it
 * closes, so fpmd's workers x max must stay within its children. */
static unsigned
legacy_max(const struct import *imp, const struct pool_view *p)
{
    unsigned workers = imp->pools[imp->primary].children;
    unsigned max = workers > 0 ? p->children / workers : 1;

    return max < 1 ? 1 : max > 10000 ? 10000 : max;
}

/* --- the report and the YAML ------------------------------------------ */

static void
note(struct import *imp, char *text)
{
    lines_add(imp, &imp->notes, text);
}

static void
build_notes(struct import *imp)
{
    struct pool_view *p = &imp->pools[imp->primary];
    const char *name = imp->ini.pools[imp->primary].name;
    const struct fpmd_fpm_ini_entry *listen = p->slot[P_LISTEN];
    const struct fpmd_fpm_ini_entry *allowed = p->slot[P_ALLOWED];
    int multi = imp->ini.npools > 1;

    note(imp, fpmd_fpm_format(
            "to do: move php-fpm's [%s] listen (%s:%u) from %s to %s (listen "
            "= %s), restart php-fpm, then start fpmd on this config: it "
            "takes %s and passes every request on to php-fpm there", name,
            listen->file, listen->line, listen->value, p->legacy_raw,
            p->legacy_raw, listen->value));
    if (p->addr.unix_socket)
        note(imp, fpmd_fpm_format(
                "php-fpm's listen.owner, listen.group and listen.mode for %s "
                "must let fpmd's workers%s%s%s connect", p->legacy_raw,
                imp->out[P_USER] ? " (user " : "",
                imp->out[P_USER] ? p->slot[P_USER]->value : "",
                imp->out[P_USER] ? ")" : ""));
    if (allowed != NULL && !p->addr.unix_socket && imp->out[P_ALLOWED]
        && strstr(allowed->value, "127.0.0.1") == NULL
        && strstr(allowed->value, "::1") == NULL)
        note(imp, fpmd_fpm_format(
                "php-fpm's listen.allowed_clients (%s:%u) must admit fpmd: "
                "add the address fpmd connects from (127.0.0.1)",
                allowed->file, allowed->line));
    if (imp->out[P_STATUS] == NULL || imp->out[P_PING] == NULL)
        note(imp, strdup("status.path / status.ping: null where php-fpm "
                         "serves no such page, so those paths keep going "
                         "to php-fpm; set them to turn fpmd's pages on"));
    note(imp, fpmd_fpm_format(
            "legacy%s%s.max: %u: fpmd's %u worker(s) x %u connection(s) stay "
            "within php-fpm's pm.max_children (%u): php-fpm gives a "
            "kept-alive connection one child", multi ? "." : "",
            multi ? name : "", legacy_max(imp, p), p->children,
            legacy_max(imp, p), p->children));
    if (p->timeout != NULL)
        note(imp, fpmd_fpm_format(
                "legacy%s%s.timeout: %s, the pool's request_terminate_timeout",
                multi ? "." : "", multi ? name : "", p->timeout));
    for (size_t i = 0; i < imp->ini.nentries && imp->prefix == NULL; i++) {
        const struct fpmd_fpm_ini_entry *e = &imp->ini.entries[i];

        if (e->key == NULL && strcmp(e->name, "include") == 0
            && e->value[0] != '/')
            note(imp, fpmd_fpm_format(
                    "%s:%u: include \"%s\" was read from the including "
                    "file's directory; php-fpm itself reads it from its "
                    "prefix (%s, or -p: give that as --prefix)", e->file,
                    e->line, e->value, PHP_PREFIX));
    }
    if (multi)
        note(imp, fpmd_fpm_format(
                "several pools: legacy: names each (legacy: {NAME: {fastcgi: "
                "ADDR}}) and \"*\" goes to legacy:%s; the other pools stay "
                "in php-fpm at their own listen", name));
}

static void
build_report(struct import *imp)
{
    unsigned count[K_OVERRIDDEN + 1] = {0};
    struct lines *r = &imp->report;

    lines_add(imp, r, fpmd_fpm_format(
            "fpmd-migrate import-fpm: %zu directive(s) in %zu file(s); "
            "fpmd's pool: %s", imp->ini.nentries, imp->ini.nfiles,
            imp->ini.pools[imp->primary].name));
    for (size_t i = 0; i < imp->ini.nfiles; i++)
        lines_add(imp, r, fpmd_fpm_format("read %s", imp->ini.files[i]));
    for (size_t i = 0; i < imp->ini.nentries; i++) {
        const struct fpmd_fpm_ini_entry *e = &imp->ini.entries[i];
        const struct outcome *o = &imp->outcomes[i];
        static const char *const kinds[] = {
            [K_ERROR] = "", [K_PENDING] = "", [K_MAPPED] = "",
            [K_APPLIED] = "applied: ", [K_UNSUPPORTED] = "unsupported: ",
            [K_OVERRIDDEN] = "",
        };

        count[o->kind]++;
        if (o->kind == K_OVERRIDDEN)
            lines_add(imp, r, fpmd_fpm_format(
                "%s:%u:%u: [%s] %s: overridden by %s:%u (php-fpm keeps the "
                "last value)", e->file, e->line, e->column,
                section_of(imp, e), e->name, o->by->file, o->by->line));
        else
            lines_add(imp, r, fpmd_fpm_format(
                "%s:%u:%u: [%s] %s%s%s%s: %s%s", e->file, e->line,
                e->column, section_of(imp, e), e->name, e->key ? "[" : "",
                e->key ? e->key : "", e->key ? "]" : "", kinds[o->kind],
                o->text ? o->text : ""));
    }
    lines_split(imp, r, imp->ini.notes);
    for (size_t i = 0; i < imp->notes.n; i++)
        lines_add(imp, r, strdup(imp->notes.v[i]));
    lines_add(imp, r, fpmd_fpm_format(
            "summary: %u mapped, %u applied, %u unsupported, %u overridden",
            count[K_MAPPED], count[K_APPLIED], count[K_UNSUPPORTED],
            count[K_OVERRIDDEN]));
}

static void
yaml_key(FILE *f, const char *indent, const char *key, const char *value)
{
    if (value != NULL)
        fprintf(f, "%s%s: %s\n", indent, key, value);
}

/* A block of slots, written when one of them is. */
static void
yaml_block(FILE *f, const struct import *imp, const char *name,
           const int *slots, const char *const *keys, size_t n)
{
    size_t i;

    for (i = 0; i < n && imp->out[slots[i]] == NULL; i++)
        ;
    if (i == n)
        return;
    fprintf(f, "%s:\n", name);
    for (i = 0; i < n; i++)
        yaml_key(f, "  ", keys[i], imp->out[slots[i]]);
}

static void
write_yaml(FILE *f, struct import *imp)
{
    static const int pm_slots[] = {P_PM, P_CHILDREN, P_START, P_MIN_SPARE,
                                   P_MAX_SPARE, P_SPAWN, P_IDLE,
                                   P_MAX_REQUESTS};
    static const char *const pm_keys[] = {
        "mode", "max_children", "start_servers", "min_spare_servers",
        "max_spare_servers", "max_spawn_rate", "process_idle_timeout",
        "max_requests"};
    static const int t_slots[] = {P_TERMINATE, P_SLOW_TIMEOUT, G_CONTROL};
    static const char *const t_keys[] = {"request_terminate", "slowlog",
                                         "process_control"};
    static const int log_slots[] = {G_ERROR_LOG, G_LOG_LEVEL, P_ACCESS_LOG,
                                    P_ACCESS_FORMAT, P_SLOWLOG};
    static const char *const log_keys[] = {"error", "level", "access",
                                           "access_format", "slow"};
    const struct pool_view *p = &imp->pools[imp->primary];
    int multi = imp->ini.npools > 1;
    char *pool = fpmd_yaml_quote(imp->ini.pools[imp->primary].name);

    fputs("# fpmd config written by fpmd-migrate import-fpm from php-fpm's "
          "config.\n# Every php-fpm directive read, and what became of "
          "it:\n", f);
    for (size_t i = 0; i < imp->report.n; i++)
        fpmd_yaml_comment(f, imp->report.v[i]);
    fputs("\n", f);
    yaml_key(f, "", "pool", pool ? pool : "\"\"");
    free(pool);
    yaml_key(f, "", "user", imp->out[P_USER]);
    yaml_key(f, "", "group", imp->out[P_GROUP]);
    yaml_key(f, "", "pid", imp->out[G_PID]);
    yaml_key(f, "", "daemonize", imp->out[G_DAEMONIZE]);
    yaml_key(f, "", "emergency_restart_threshold",
             imp->out[G_ER_THRESHOLD]);
    yaml_key(f, "", "emergency_restart_interval", imp->out[G_ER_INTERVAL]);
    fputs("listen:\n", f);
    for (size_t i = 0; i < imp->nlistens; i++) {
        fprintf(f, "  - fastcgi: %s\n", imp->listens[i]);
        yaml_key(f, "    ", "backlog", imp->out[P_BACKLOG]);
        yaml_key(f, "    ", "allowed_clients", imp->out[P_ALLOWED]);
        yaml_key(f, "    ", "owner", imp->out[P_OWNER]);
        yaml_key(f, "    ", "group", imp->out[P_LGROUP]);
        yaml_key(f, "    ", "mode", imp->out[P_MODE]);
    }
    yaml_block(f, imp, "pm", pm_slots, pm_keys, FPMD_ARRAY_LEN(pm_slots));
    yaml_block(f, imp, "timeouts", t_slots, t_keys,
               FPMD_ARRAY_LEN(t_slots));
    fputs("status:\n", f);
    yaml_key(f, "  ", "path", imp->out[P_STATUS] ? imp->out[P_STATUS]
                                                 : "null");
    yaml_key(f, "  ", "ping", imp->out[P_PING] ? imp->out[P_PING] : "null");
    yaml_key(f, "  ", "ping_response", imp->out[P_PONG]);
    yaml_block(f, imp, "log", log_slots, log_keys,
               FPMD_ARRAY_LEN(log_slots));
    fputs("legacy:\n", f);
    if (!multi) {
        fprintf(f, "  fastcgi: %s\n  max: %u\n", p->legacy,
                legacy_max(imp, p));
        yaml_key(f, "  ", "timeout", p->timeout);
    }
    for (size_t i = 0; multi && i < imp->ini.npools; i++) {
        const struct pool_view *o = &imp->pools[i];

        fprintf(f, "  %s:\n    fastcgi: %s\n    max: %u\n",
                imp->ini.pools[i].name, o->legacy, legacy_max(imp, o));
        yaml_key(f, "    ", "timeout", o->timeout);
    }
    fputs("routes:\n  - match: \"*\"\n", f);
    if (multi)
        fprintf(f, "    to: \"legacy:%s\"\n",
                imp->ini.pools[imp->primary].name);
    else
        fputs("    to: legacy\n", f);
}

/* --- the command ------------------------------------------------------ */

static void
usage(FILE *out)
{
    fprintf(out,
        "Usage: fpmd-migrate import-fpm [-o OUT.yaml] [--legacy ADDR] "
        "[--pool NAME]\n"
        "                               [--prefix DIR] FILE...\n"
        "  FILE...          php-fpm.conf and/or pool files (includes are "
        "followed)\n"
        "  -o, --output F   write the YAML to F (default: stdout)\n"
        "  --legacy ADDR    where the old pool moves (default: its TCP "
        "port + 1,\n"
        "                   or X.sock -> X-legacy.sock)\n"
        "  --pool NAME      the pool fpmd replaces (default: the first)\n"
        "  --prefix DIR     php-fpm's -p: relative paths and includes "
        "resolve there\n"
        "The report (every directive: mapped, or why not) goes to stderr "
        "and atop\nthe YAML. Exit: 0 done, 1 problems in the input, 64 "
        "usage, 66 a file\nunreadable, 78 the result does not load in "
        "fpmd.\n");
}

static int
parse_args(struct import *imp, int argc, char **argv)
{
    static const struct option longopts[] = {
        {"output", required_argument, NULL, 'o'},
        {"legacy", required_argument, NULL, 'l'},
        {"pool", required_argument, NULL, 'p'},
        {"prefix", required_argument, NULL, 'P'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;

    while ((c = getopt_long(argc, argv, "ho:", longopts, NULL)) != -1) {
        switch (c) {
        case 'o':
            imp->out_path = strcmp(optarg, "-") == 0 ? NULL : optarg;
            break;
        case 'l':
            imp->legacy_opt = optarg;
            break;
        case 'p':
            imp->pool_opt = optarg;
            break;
        case 'P':
            if (optarg[0] != '/') {
                fprintf(stderr, "fpmd-migrate: --prefix \"%s\": an "
                        "absolute directory, as php-fpm's -p\n", optarg);
                return FPMD_ERROR;
            }
            imp->prefix = optarg;
            break;
        case 'h':
            usage(stdout);
            return FPMD_DONE;
        default:
            usage(stderr);
            return FPMD_ERROR;
        }
    }
    if (optind == argc) {
        fprintf(stderr, "fpmd-migrate: import-fpm: no FILE given\n");
        usage(stderr);
        return FPMD_ERROR;
    }
    return FPMD_OK;
}

static void
print_lines(FILE *f, const struct lines *l)
{
    for (size_t i = 0; i < l->n; i++)
        fprintf(f, "%s\n", l->v[i]);
}

/* Reads every FILE; an exit status when that already ends the command. */
static int
read_inputs(struct import *imp, int argc, char **argv)
{
    fpmd_fpm_ini_init(&imp->ini);
    imp->ini.prefix = imp->prefix;
    for (int i = optind; i < argc; i++)
        fpmd_fpm_ini_read_file(&imp->ini, argv[i]);
    if (imp->ini.nomem) {
        fprintf(stderr, "fpmd-migrate: out of memory\n");
        return FPMD_MIGRATE_EXIT_PROBLEMS;
    }
    if (imp->ini.nerrors > 0) {
        fputs(imp->ini.errors ? imp->ini.errors : "", stderr);
        if (imp->ini.nerrors > FPMD_FPM_INI_ERRORS_MAX)
            fprintf(stderr, "fpmd-migrate: and %u more errors\n",
                    imp->ini.nerrors - FPMD_FPM_INI_ERRORS_MAX);
        return imp->ini.unreadable ? FPMD_MIGRATE_EXIT_NOINPUT
                                   : FPMD_MIGRATE_EXIT_PROBLEMS;
    }
    if (imp->ini.npools == 0) {
        fprintf(stderr, "%s: no pool section: php-fpm needs at least one "
                "[name]\n", argv[optind]);
        return FPMD_MIGRATE_EXIT_PROBLEMS;
    }
    if (imp->ini.npools > FPMD_MAX_BACKENDS) {
        fprintf(stderr, "fpmd-migrate: %zu pools: fpmd takes at most %d "
                "legacy pools; import fewer files\n", imp->ini.npools,
                FPMD_MAX_BACKENDS);
        return FPMD_MIGRATE_EXIT_PROBLEMS;
    }
    return 0;
}

static int
choose_pool(struct import *imp)
{
    if (imp->pool_opt == NULL)
        return FPMD_OK;
    for (size_t i = 0; i < imp->ini.npools; i++) {
        if (strcasecmp(imp->ini.pools[i].name, imp->pool_opt) == 0) {
            imp->primary = i;
            return FPMD_OK;
        }
    }
    fprintf(stderr, "fpmd-migrate: --pool %s: no such pool; there are:",
            imp->pool_opt);
    for (size_t i = 0; i < imp->ini.npools; i++)
        fprintf(stderr, " %s", imp->ini.pools[i].name);
    fputc('\n', stderr);
    return FPMD_ERROR;
}

int
fpmd_migrate_self_check(const char *name, const char *text, size_t len)
{
    char err[16384];
    struct fpmd_conf *conf = fpmd_conf_load_buffer(name, text, len, err,
                                                   sizeof(err));
    struct fpmd_router *router = NULL;

    if (conf != NULL)
        router = fpmd_prepare(conf, err, sizeof(err));
    if (router != NULL) {
        fpmd_router_free(router);
        fpmd_conf_free(conf);
        return FPMD_OK;
    }
    if (conf != NULL)
        fpmd_conf_free(conf);
    fprintf(stderr, "fpmd-migrate: the config written does not load in "
            "this fpmd:\n%s", err);
    return FPMD_ERROR;
}

int
fpmd_migrate_write_out(const char *path, const char *text, size_t len)
{
    FILE *f = path ? fopen(path, "w") : stdout;

    if (f == NULL) {
        fprintf(stderr, "fpmd-migrate: %s: %s\n", path, strerror(errno));
        return FPMD_ERROR;
    }
    if (fwrite(text, 1, len, f) != len || fflush(f) != 0
        || (path != NULL && fclose(f) != 0)) {
        fprintf(stderr, "fpmd-migrate: %s: %s\n", path ? path : "stdout",
                strerror(errno));
        if (path != NULL && f != NULL)
            fclose(f);
        return FPMD_ERROR;
    }
    return FPMD_OK;
}

static void
import_free(struct import *imp)
{
    for (size_t i = 0; i < imp->ini.nentries && imp->outcomes; i++)
        free(imp->outcomes[i].text);
    free(imp->outcomes);
    for (size_t i = 0; i < imp->ini.npools && imp->pools; i++) {
        free(imp->pools[i].base);
        free(imp->pools[i].addr.path);
        free(imp->pools[i].legacy);
        free(imp->pools[i].legacy_raw);
        free(imp->pools[i].timeout);
    }
    free(imp->pools);
    for (int i = 0; i < NSLOTS; i++)
        free(imp->out[i]);
    for (size_t i = 0; i < imp->nlistens; i++)
        free(imp->listens[i]);
    lines_free(&imp->errors);
    lines_free(&imp->notes);
    lines_free(&imp->report);
    fpmd_fpm_ini_free(&imp->ini);
}

/* Classifies, maps and writes; the exit status. */
static int
import(struct import *imp)
{
    char *text = NULL;
    size_t len = 0;
    FILE *mem;
    int rc;

    imp->outcomes = calloc(imp->ini.nentries + 1, sizeof(*imp->outcomes));
    imp->pools = calloc(imp->ini.npools, sizeof(*imp->pools));
    if (imp->outcomes == NULL || imp->pools == NULL)
        return FPMD_ERROR;
    classify(imp);
    prepare_pools(imp);
    if (imp->nomem)
        return FPMD_ERROR;
    /* the mapping goes on past errors so all of them are reported; only
     * the addresses need every pool's listen */
    rc = FPMD_ERROR;
    for (size_t i = 0; i < imp->ini.npools; i++) {
        if (!imp->pools[i].listen_ok)
            break;
        if (i + 1 == imp->ini.npools)
            rc = place_pools(imp);
    }
    if (rc == FPMD_DECLINED)
        return FPMD_MIGRATE_EXIT_USAGE;
    map_global(imp);
    map_primary(imp);
    for (size_t i = 0; i < imp->ini.npools && rc == FPMD_OK; i++) {
        if (i != imp->primary)
            map_other(imp, i);
    }
    if (imp->errors.n > 0 || imp->nomem || rc != FPMD_OK)
        return FPMD_ERROR;
    build_notes(imp);
    build_report(imp);
    mem = open_memstream(&text, &len);
    if (mem == NULL || imp->nomem)
        return FPMD_ERROR;
    write_yaml(mem, imp);
    if (fclose(mem) != 0) {
        free(text);
        return FPMD_ERROR;
    }
    print_lines(stderr, &imp->report);
    rc = fpmd_migrate_self_check(imp->out_path ? imp->out_path : "(stdout)",
                                 text, len);
    if (fpmd_migrate_write_out(imp->out_path, text, len) != FPMD_OK) {
        free(text);
        return EX_CANTCREAT;
    }
    free(text);
    return rc == FPMD_OK ? 0 : FPMD_MIGRATE_EXIT_CONFIG;
}

int
fpmd_migrate_import_fpm(int argc, char **argv)
{
    struct import imp;
    int rc;

    memset(&imp, 0, sizeof(imp));
    rc = parse_args(&imp, argc, argv);
    if (rc != FPMD_OK)
        return rc == FPMD_DONE ? 0 : FPMD_MIGRATE_EXIT_USAGE;
    rc = read_inputs(&imp, argc, argv);
    if (rc == 0 && choose_pool(&imp) != FPMD_OK)
        rc = FPMD_MIGRATE_EXIT_USAGE;
    if (rc == 0) {
        rc = import(&imp);
        if (rc == FPMD_ERROR) {
            print_lines(stderr, &imp.errors);
            if (imp.nomem || imp.errors.n == 0)
                fprintf(stderr, "fpmd-migrate: out of memory\n");
            rc = FPMD_MIGRATE_EXIT_PROBLEMS;
        }
    }
    import_free(&imp);
    return rc;
}
