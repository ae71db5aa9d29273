/* SPDX-License-Identifier: BSD-2-Clause */
/* fpmd-migrate import-unit: NGINX Unit's /config (the JSON `unitc /config`
 * prints) to an fpmd config, and Unit's PHP applications to php-fpm pools
 * that fpmd passes requests to (unit_map.c does the mapping). The report
 * accounts for every object of the input by its JSON pointer, on stderr
 * (or -r FILE) and atop the YAML. The YAML goes through fpmd's loader and
 * route table before it is written: what comes out loads, or the command
 * says why and exits 78. */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "fpmd/common.h"
#include "migrate/tool/migrate_cli.h"
#include "migrate/tool/unit_map.h"
#include "migrate/tool/yaml_text.h"

/* Unit's own configs are a few KiB; this bounds what is read whole. */
#define INPUT_MAX (16 * 1024 * 1024)

struct import_unit {
    const char *in, *out, *pool_out, *report_out;
    struct fpmd_unit_opts opts;
    char *pool_default;
};

static void
usage(FILE *out)
{
    fprintf(out,
        "Usage: fpmd-migrate import-unit [-o OUT.yaml] [--php-fpm-pool "
        "POOL.conf]\n"
        "                                [--socket-dir DIR] [-r REPORT] "
        "UNIT.json\n"
        "  UNIT.json          Unit's /config, as `unitc /config` prints it "
        "(- : stdin)\n"
        "  -o, --output F     write the YAML to F (default: stdout)\n"
        "  --php-fpm-pool F   write the php-fpm pools of Unit's PHP "
        "applications to F\n"
        "                     (default: OUT less .yaml, plus .php-fpm.conf; "
        "none\n"
        "                     without -o)\n"
        "  --socket-dir DIR   where those pools listen, DIR/unit-APP.sock "
        "(default\n"
        "                     /run/php)\n"
        "  -r, --report F     the report to F instead of stderr\n"
        "The report (every object by its JSON pointer: mapped, applied, or "
        "why not)\nalso heads the YAML. Exit: 0 done, 1 the input is not "
        "Unit's JSON, 64 usage,\n66 unreadable, 73 an output not written, "
        "78 the result does not load in fpmd.\n");
}

static int
parse_args(struct import_unit *u, int argc, char **argv)
{
    static const struct option longopts[] = {
        {"output", required_argument, NULL, 'o'},
        {"php-fpm-pool", required_argument, NULL, 'p'},
        {"socket-dir", required_argument, NULL, 's'},
        {"report", required_argument, NULL, 'r'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;

    u->opts.socket_dir = "/run/php";
    while ((c = getopt_long(argc, argv, "ho:r:", longopts, NULL)) != -1) {
        switch (c) {
        case 'o':
            u->out = strcmp(optarg, "-") == 0 ? NULL : optarg;
            break;
        case 'p':
            u->pool_out = optarg;
            break;
        case 's':
            if (optarg[0] != '/') {
                fprintf(stderr, "fpmd-migrate: --socket-dir \"%s\": an "
                        "absolute directory\n", optarg);
                return FPMD_ERROR;
            }
            u->opts.socket_dir = optarg;
            break;
        case 'r':
            u->report_out = optarg;
            break;
        case 'h':
            usage(stdout);
            return FPMD_DONE;
        default:
            usage(stderr);
            return FPMD_ERROR;
        }
    }
    if (optind + 1 != argc) {
        fprintf(stderr, "fpmd-migrate: import-unit: %s\n", optind == argc
                ? "no UNIT.json given" : "one UNIT.json at a time");
        usage(stderr);
        return FPMD_ERROR;
    }
    u->in = argv[optind];
    if (u->pool_out == NULL && u->out != NULL) {
        size_t len = strlen(u->out);

        if (len > 5 && strcmp(u->out + len - 5, ".yaml") == 0)
            len -= 5;
        else if (len > 4 && strcmp(u->out + len - 4, ".yml") == 0)
            len -= 4;
        if (asprintf(&u->pool_default, "%.*s.php-fpm.conf", (int) len,
                     u->out) < 0)
            return FPMD_ERROR;
        u->pool_out = u->pool_default;
    }
    return FPMD_OK;
}

/* The whole input, NUL-ended, in *text; an exit status on failure. */
static int
read_input(const char *path, char **text, size_t *len)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
    char *buf;
    size_t n;

    if (f == NULL) {
        fprintf(stderr, "%s: %s\n", path, strerror(errno));
        return FPMD_MIGRATE_EXIT_NOINPUT;
    }
    buf = malloc(INPUT_MAX + 1);
    if (buf == NULL) {
        if (f != stdin)
            fclose(f);
        fprintf(stderr, "fpmd-migrate: out of memory\n");
        return FPMD_MIGRATE_EXIT_PROBLEMS;
    }
    n = fread(buf, 1, INPUT_MAX + 1, f);
    if (ferror(f)) {
        fprintf(stderr, "%s: %s\n", path, strerror(errno));
        free(buf);
        if (f != stdin)
            fclose(f);
        return FPMD_MIGRATE_EXIT_NOINPUT;
    }
    if (f != stdin)
        fclose(f);
    if (n > INPUT_MAX) {
        fprintf(stderr, "%s: over %d MiB: not a Unit config\n", path,
                INPUT_MAX >> 20);
        free(buf);
        return FPMD_MIGRATE_EXIT_PROBLEMS;
    }
    buf[n] = '\0';
    *text = buf;
    *len = n;
    return 0;
}

static void
put(FILE *f, const char *line, int comment)
{
    if (comment)
        fpmd_yaml_comment(f, line);
    else
        fprintf(f, "%s\n", line);
}

/* The report: a head, out's lines, where the pools went, a summary; as
 * YAML comments when comment is set. */
static void
print_report(FILE *f, const struct import_unit *u,
             const struct fpmd_unit_out *out, int comment)
{
    char line[1024];

    snprintf(line, sizeof(line), "fpmd-migrate import-unit: %s: %zu "
             "object(s) reported", u->in, out->nreport);
    put(f, line, comment);
    for (size_t i = 0; i < out->nreport; i++)
        put(f, out->report[i], comment);
    if (out->pool != NULL && u->pool_out == NULL) {
        put(f, "note: the php-fpm pools were not written: give "
            "--php-fpm-pool FILE (or -o)", comment);
    } else if (out->pool != NULL) {
        snprintf(line, sizeof(line), "note: php-fpm pools written to %s: "
                 "include it from php-fpm.conf and start php-fpm before "
                 "fpmd", u->pool_out);
        put(f, line, comment);
    }
    snprintf(line, sizeof(line), "summary: %u mapped, %u applied, %u "
             "unsupported", out->mapped, out->applied, out->unsupported);
    put(f, line, comment);
}

/* Maps, reports, checks and writes; the exit status. */
static int
import(struct import_unit *u, const char *text, size_t len)
{
    struct fpmd_unit_out out;
    char *head = NULL;
    size_t hlen;
    FILE *f;
    int rc;

    if (fpmd_unit_map(text, len, &u->opts, &out) != FPMD_OK) {
        for (size_t i = 0; i < out.nerrors; i++)
            fprintf(stderr, "%s%s%s\n", out.errors[i][0] == '/' ? "" : u->in,
                    out.errors[i][0] == '/' ? "" : ":", out.errors[i]);
        if (out.nomem)
            fprintf(stderr, "fpmd-migrate: out of memory\n");
        fpmd_unit_out_free(&out);
        return FPMD_MIGRATE_EXIT_PROBLEMS;
    }
    f = u->report_out ? fopen(u->report_out, "w") : stderr;
    if (f == NULL) {
        fprintf(stderr, "fpmd-migrate: %s: %s\n", u->report_out,
                strerror(errno));
        fpmd_unit_out_free(&out);
        return EX_CANTCREAT;
    }
    print_report(f, u, &out, 0);
    if (f != stderr && fclose(f) != 0) {
        fprintf(stderr, "fpmd-migrate: %s: %s\n", u->report_out,
                strerror(errno));
        fpmd_unit_out_free(&out);
        return EX_CANTCREAT;
    }
    f = open_memstream(&head, &hlen);
    if (f == NULL) {
        fpmd_unit_out_free(&out);
        return FPMD_MIGRATE_EXIT_PROBLEMS;
    }
    fputs("# fpmd config written by fpmd-migrate import-unit from NGINX "
          "Unit's /config.\n# Every object read, and what became of it:\n",
          f);
    print_report(f, u, &out, 1);
    fprintf(f, "\n%s", out.yaml);
    if (fclose(f) != 0) {
        free(head);
        fpmd_unit_out_free(&out);
        return FPMD_MIGRATE_EXIT_PROBLEMS;
    }
    rc = fpmd_migrate_self_check(u->out ? u->out : "(stdout)", head, hlen);
    if (fpmd_migrate_write_out(u->out, head, hlen) != FPMD_OK
        || (out.pool != NULL && u->pool_out != NULL
            && fpmd_migrate_write_out(u->pool_out, out.pool,
                                      strlen(out.pool)) != FPMD_OK))
        rc = EX_CANTCREAT;
    else
        rc = rc == FPMD_OK ? 0 : FPMD_MIGRATE_EXIT_CONFIG;
    free(head);
    fpmd_unit_out_free(&out);
    return rc;
}

int
fpmd_migrate_import_unit(int argc, char **argv)
{
    struct import_unit u;
    char *text = NULL;
    size_t len = 0;
    int rc;

    memset(&u, 0, sizeof(u));
    rc = parse_args(&u, argc, argv);
    if (rc != FPMD_OK) {
        free(u.pool_default);
        return rc == FPMD_DONE ? 0 : FPMD_MIGRATE_EXIT_USAGE;
    }
    rc = read_input(u.in, &text, &len);
    if (rc == 0)
        rc = import(&u, text, len);
    free(text);
    free(u.pool_default);
    return rc;
}
