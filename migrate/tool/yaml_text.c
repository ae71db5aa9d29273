/* SPDX-License-Identifier: BSD-2-Clause */
/* YAML text for import-fpm's output (see yaml_text.h). */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fpmd/common.h"
#include "migrate/tool/yaml_text.h"

/* The code point at s (of n bytes) and its length; -1 for bytes that are
 * not UTF-8 (overlong forms and surrogates included). */
static long
utf8_next(const unsigned char *s, size_t n, size_t *len)
{
    long cp;
    size_t need;

    *len = 1;
    if (s[0] < 0x80)
        return s[0];
    if (s[0] >= 0xc2 && s[0] <= 0xdf) {
        need = 1;
        cp = s[0] & 0x1f;
    } else if (s[0] >= 0xe0 && s[0] <= 0xef) {
        need = 2;
        cp = s[0] & 0x0f;
    } else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
        need = 3;
        cp = s[0] & 0x07;
    } else {
        return -1;
    }
    if (n < need + 1)
        return -1;
    for (size_t i = 1; i <= need; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return -1;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if ((need == 2 && cp < 0x800) || (need == 3 && cp < 0x10000)
        || (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
        return -1;
    *len = need + 1;
    return cp;
}

/* What libyaml reads as itself: its printable set less the line breaks
 * (NEL, LS, PS), which a scalar would fold, and the byte order mark. */
static int
yaml_printable(long cp)
{
    return (cp >= 0x20 && cp <= 0x7e)
        || (cp >= 0xa0 && cp <= 0xd7ff && cp != 0x2028 && cp != 0x2029)
        || (cp >= 0xe000 && cp <= 0xfffd && cp != 0xfeff)
        || (cp >= 0x10000 && cp <= 0x10ffff);
}

/* s as a YAML scalar that reads back as s: plain when that is safe, else
 * double-quoted with escapes. NULL when s is not UTF-8 (no YAML string
 * can hold it) or memory ran out. */
char *
fpmd_yaml_quote(const char *s)
{
    static const char *const words[] = {"y", "n", "yes", "no", "true",
                                        "false", "on", "off", "null"};
    const unsigned char *p = (const unsigned char *) s;
    size_t n = strlen(s), used, len;
    int plain = n > 0 && (isalpha(p[0]) || p[0] == '_' || p[0] == '/');
    char *out, *o;

    for (size_t i = 0; i < n && plain; i++)
        plain = isalnum(p[i]) || strchr("_./-", p[i]) != NULL;
    for (size_t i = 0; i < FPMD_ARRAY_LEN(words) && plain; i++)
        plain = strcasecmp(s, words[i]) != 0;
    if (plain)
        return strdup(s);
    out = malloc(n * 10 + 3);
    if (out == NULL)
        return NULL;
    o = out;
    *o++ = '"';
    for (size_t i = 0; i < n; i += len) {
        long cp = utf8_next(p + i, n - i, &len);

        if (cp < 0) {
            free(out);
            return NULL;
        }
        if (cp == '"' || cp == '\\') {
            *o++ = '\\';
            *o++ = (char) cp;
        } else if (yaml_printable(cp)) {
            memcpy(o, p + i, len);
            o += len;
        } else if (cp == '\n' || cp == '\t' || cp == '\r') {
            *o++ = '\\';
            *o++ = cp == '\n' ? 'n' : cp == '\t' ? 't' : 'r';
        } else {
            used = (size_t) sprintf(o, cp < 0x100 ? "\\x%02lX"
                                    : cp < 0x10000 ? "\\u%04lX"
                                                   : "\\U%08lX", cp);
            o += used;
        }
    }
    *o++ = '"';
    *o = '\0';
    return out;
}

/* A report line as a YAML comment: anything a comment cannot hold (a
 * line break, a control character, bytes that are not UTF-8) escaped. */
void
fpmd_yaml_comment(FILE *f, const char *line)
{
    const unsigned char *p = (const unsigned char *) line;
    size_t n = strlen(line), len;

    fputs("# ", f);
    for (size_t i = 0; i < n; i += len) {
        long cp = utf8_next(p + i, n - i, &len);

        if (cp >= 0 && yaml_printable(cp))
            fwrite(p + i, 1, len, f);
        else
            for (size_t j = 0; j < len; j++)
                fprintf(f, "\\x%02X", p[i + j]);
    }
    fputc('\n', f);
}

