/* SPDX-License-Identifier: BSD-2-Clause */
/* Writing YAML text that libyaml (fpmd's loader) reads back as written:
 * scalars and comments, whatever bytes a php-fpm config held. */
#ifndef FPMD_MIGRATE_TOOL_YAML_TEXT_H
#define FPMD_MIGRATE_TOOL_YAML_TEXT_H

#include <stdio.h>

/* s as a YAML scalar that reads back as s: plain when that is safe, else
 * double-quoted with escapes. NULL when s is not UTF-8 (no YAML string
 * can hold it) or memory ran out; the caller frees it. */
char *fpmd_yaml_quote(const char *s);

/* line as a YAML comment: anything a comment cannot hold (a line break,
 * a control character, bytes that are not UTF-8) escaped. */
void fpmd_yaml_comment(FILE *f, const char *line);

#endif
