/* SPDX-License-Identifier: BSD-2-Clause */
/* The placeholder scanner of fpmd_mysql (mysql_scan.h). Rules from
 * MariaDB's lexer (sql/sql_lex.cc): "--" starts a comment only when the
 * next byte is a space or a control byte (or the statement ends), "#"
 * always, and a comment opened with "!" or "M!" is executable. */
#include "config.h"

#include <stdbool.h>

#include "pools/mysql_scan.h"

/* After the quoted text that starts at p (a quote or a backtick): the
 * byte past its closing quote, or the end of sql. */
static const char *
skip_quoted(const char *p)
{
    char q = *p++;

    for (; *p != '\0'; p++) {
        if (*p == '\\' && q != '`' && p[1] != '\0')
            p++;
        else if (*p == q)
            return p + 1;
    }
    return p;
}

static bool
dash_comment(const char *p)
{
    return p[0] == '-' && p[1] == '-'
        && ((unsigned char) p[2] <= ' ' || p[2] == 0x7f);
}

size_t
fpmd_mysql_scan_placeholders(const char *sql, size_t *offs, size_t max)
{
    const char *p = sql;
    bool executable = false;    /* inside an executable comment */
    size_t n = 0;

    while (*p != '\0') {
        if (*p == '\'' || *p == '"' || *p == '`') {
            p = skip_quoted(p);
        } else if (*p == '#' || dash_comment(p)) {
            while (*p != '\0' && *p != '\n')
                p++;
        } else if (p[0] == '/' && p[1] == '*') {
            if (!executable && (p[2] == '!' || (p[2] == 'M' && p[3] == '!'))) {
                executable = true;
                p += p[2] == '!' ? 3 : 4;
                continue;
            }
            for (p += 2; *p != '\0' && !(p[0] == '*' && p[1] == '/'); p++)
                ;
            if (*p != '\0')
                p += 2;
        } else if (executable && p[0] == '*' && p[1] == '/') {
            executable = false;
            p += 2;
        } else {
            if (*p == '?') {
                if (n < max)
                    offs[n] = (size_t) (p - sql);
                n++;
            }
            p++;
        }
    }
    return n;
}
