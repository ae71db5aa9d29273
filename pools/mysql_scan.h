/* SPDX-License-Identifier: BSD-2-Clause */
/* Where a statement's ? placeholders are, as MariaDB's lexer would split
 * the statement (sql_lex.cc): the one thing fpmd_mysql reads its varargs
 * by, so a ? the server would not see as one must never count. */
#ifndef FPMD_POOLS_MYSQL_SCAN_H
#define FPMD_POOLS_MYSQL_SCAN_H

#include <stddef.h>

/* Counts the ? of sql (NUL-terminated) that are placeholders and stores
 * the offsets of the first max of them in offs (NULL when max is 0).
 * Not placeholders: a ? inside '...' or "..." (a backslash escapes the
 * next byte, a doubled quote stays inside), `...` (a doubled backtick
 * stays inside), a # or "-- " comment (the second dash followed by a
 * space or control byte, or the end) to the end of its line, or a
 * comment. The text of an executable comment (MySQL's, MariaDB's) runs
 * on the server, so its ? count. Whatever is left open at the end (a
 * quote, a comment) holds no placeholder. */
size_t fpmd_mysql_scan_placeholders(const char *sql, size_t *offs,
                                    size_t max);

#endif
