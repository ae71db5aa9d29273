/* SPDX-License-Identifier: BSD-2-Clause */
/* php-fpm's INI files read line by line, as php-fpm 8.2 reads them
 * (fpm_conf_load_ini_file hands Zend's scanner one line at a time):
 * sections, directives, quoting, ${NAME}, $pool, includes with their
 * depth, loops and limits, and the value types of php-fpm's directives.
 * The grammar is in fpm_ini.h. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "migrate/tool/fpm_ini.h"

/* The line being read, for messages. */
struct src {
    const char *file;
    unsigned line;
};

/* A value as it is built. */
struct buf {
    char *p;
    size_t len, cap;
    int over;               /* past FPMD_FPM_INI_VALUE_MAX */
    int nomem;
};

static void
buf_add(struct buf *b, const char *s, size_t n)
{
    char *grown;
    size_t cap;

    if (b->over || b->nomem)
        return;
    if (b->len + n > FPMD_FPM_INI_VALUE_MAX) {
        b->over = 1;
        return;
    }
    if (b->len + n + 1 > b->cap) {
        cap = b->cap ? b->cap : 64;
        while (cap < b->len + n + 1)
            cap *= 2;
        grown = realloc(b->p, cap);
        if (grown == NULL) {
            b->nomem = 1;
            return;
        }
        b->p = grown;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

/* Appends to a growing message list. */
static void
vappend(struct fpmd_fpm_ini *ini, char **list, size_t *len, const char *fmt,
        va_list ap) __attribute__((format(printf, 4, 0)));

static void
vappend(struct fpmd_fpm_ini *ini, char **list, size_t *len, const char *fmt,
        va_list ap)
{
    va_list copy;
    char *grown;
    int n;

    va_copy(copy, ap);
    n = vsnprintf(NULL, 0, fmt, copy);
    va_end(copy);
    if (n < 0)
        return;
    grown = realloc(*list, *len + (size_t) n + 1);
    if (grown == NULL) {
        ini->nomem = 1;
        return;
    }
    *list = grown;
    vsnprintf(*list + *len, (size_t) n + 1, fmt, ap);
    *len += (size_t) n;
}

static void
append(struct fpmd_fpm_ini *ini, char **list, size_t *len, const char *fmt,
       ...) __attribute__((format(printf, 4, 5)));

static void
append(struct fpmd_fpm_ini *ini, char **list, size_t *len, const char *fmt,
       ...)
{
    va_list ap;

    va_start(ap, fmt);
    vappend(ini, list, len, fmt, ap);
    va_end(ap);
}

/* An error or a note, "file:line:column: message"; with src NULL the
 * message names its file itself ("file: message"). Errors past
 * ERRORS_MAX are only counted. */
static void
report(struct fpmd_fpm_ini *ini, int is_error, const struct src *src,
       unsigned col, const char *fmt, va_list ap)
    __attribute__((format(printf, 5, 0)));

static void
report(struct fpmd_fpm_ini *ini, int is_error, const struct src *src,
       unsigned col, const char *fmt, va_list ap)
{
    char **list = is_error ? &ini->errors : &ini->notes;
    size_t *len = is_error ? &ini->errors_len : &ini->notes_len;

    if (is_error && ++ini->nerrors > FPMD_FPM_INI_ERRORS_MAX)
        return;
    if (src != NULL)
        append(ini, list, len, "%s:%u:%u: ", src->file, src->line, col);
    vappend(ini, list, len, fmt, ap);
    append(ini, list, len, "\n");
}

static void
error_at(struct fpmd_fpm_ini *ini, const struct src *src, unsigned col,
         const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void
error_at(struct fpmd_fpm_ini *ini, const struct src *src, unsigned col,
         const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    report(ini, 1, src, col, fmt, ap);
    va_end(ap);
}

static void
note_at(struct fpmd_fpm_ini *ini, const struct src *src, unsigned col,
        const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void
note_at(struct fpmd_fpm_ini *ini, const struct src *src, unsigned col,
        const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    report(ini, 0, src, col, fmt, ap);
    va_end(ap);
}

static unsigned
col_of(const char *line, const char *p)
{
    return (unsigned) (p - line) + 1;
}

static const char *
skip_blanks(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    return p;
}

static int
name_char(int c)
{
    return isalnum(c) || c == '_' || c == '.' || c == '-';
}

/* "${NAME}" at p: the environment variable's value, empty when unset as
 * Zend's scanner has it. Returns what follows, NULL after an error. */
static const char *
parse_var(struct fpmd_fpm_ini *ini, const struct src *src, const char *line,
          const char *p, const char *end, struct buf *out)
{
    const char *name = p + 2, *close = name, *v;
    char var[256];

    while (close < end && *close != '}')
        close++;
    if (close == end) {
        error_at(ini, src, col_of(line, p), "\"${\" without its \"}\"");
        return NULL;
    }
    if (close == name || (size_t) (close - name) >= sizeof(var)) {
        error_at(ini, src, col_of(line, p),
                 "\"${...}\" needs a name of 1 to %zu bytes",
                 sizeof(var) - 1);
        return NULL;
    }
    for (const char *c = name; c < close; c++) {
        if (!isalnum((unsigned char) *c) && *c != '_' && *c != '.') {
            error_at(ini, src, col_of(line, c),
                     "\"${%.*s}\": a variable name is letters, digits, "
                     "'_' and '.'", (int) (close - name), name);
            return NULL;
        }
    }
    memcpy(var, name, (size_t) (close - name));
    var[close - name] = '\0';
    v = getenv(var);
    if (v == NULL)
        note_at(ini, src, col_of(line, p),
                "${%s} is not set here: read as empty (php-fpm reads it "
                "from its own environment)", var);
    else
        buf_add(out, v, strlen(v));
    return close + 1;
}

/* A value from p to the line's end or its ';' comment. FPMD_OK with *out
 * set, or FPMD_ERROR after reporting. */
static int
parse_value(struct fpmd_fpm_ini *ini, const struct src *src, const char *line,
            const char *p, const char *end, struct buf *out)
{
    static const char *const yes[] = {"true", "on", "yes"};
    static const char *const no[] = {"false", "off", "no", "none", "null"};
    size_t keep = 0;        /* trailing unquoted blanks are dropped */
    int plain = 1;

    buf_add(out, "", 0);
    while (p < end && *p != ';') {
        const char *open = p;

        if (*p == '"') {
            plain = 0;
            for (p++; p < end && *p != '"';) {
                if (*p == '\\' && p + 1 < end
                    && (p[1] == '"' || p[1] == '\\' || p[1] == '$')) {
                    buf_add(out, p + 1, 1);
                    p += 2;
                } else if (*p == '$' && p + 1 < end && p[1] == '{') {
                    p = parse_var(ini, src, line, p, end, out);
                    if (p == NULL)
                        return FPMD_ERROR;
                } else {
                    buf_add(out, p++, 1);
                }
            }
            if (p == end) {
                error_at(ini, src, col_of(line, open),
                         "a double-quoted value must end on its line "
                         "(php-fpm reads one line at a time)");
                return FPMD_ERROR;
            }
            p++;
            keep = out->len;
        } else if (*p == '\'') {
            const char *close = memchr(p + 1, '\'', (size_t) (end - p - 1));

            plain = 0;
            if (close == NULL) {
                error_at(ini, src, col_of(line, open),
                         "a single-quoted value must end on its line "
                         "(php-fpm reads one line at a time)");
                return FPMD_ERROR;
            }
            buf_add(out, p + 1, (size_t) (close - p - 1));
            p = close + 1;
            keep = out->len;
        } else if (*p == '$' && p + 1 < end && p[1] == '{') {
            plain = 0;
            p = parse_var(ini, src, line, p, end, out);
            if (p == NULL)
                return FPMD_ERROR;
            keep = out->len;
        } else {
            buf_add(out, p, 1);
            if (*p != ' ' && *p != '\t')
                keep = out->len;
            p++;
        }
    }
    if (out->nomem) {
        ini->nomem = 1;
        return FPMD_ERROR;
    }
    if (out->over) {
        error_at(ini, src, col_of(line, p),
                 "a value longer than %d bytes", FPMD_FPM_INI_VALUE_MAX);
        return FPMD_ERROR;
    }
    out->len = keep;
    out->p[keep] = '\0';
    if (!plain)
        return FPMD_OK;
    /* Zend's scanner turns a bare yes or no into "1" or "": php-fpm's
     * booleans only ever see those two. */
    for (size_t i = 0; i < FPMD_ARRAY_LEN(yes); i++) {
        if (strcasecmp(out->p, yes[i]) == 0) {
            strcpy(out->p, "1");
            out->len = 1;
        }
    }
    for (size_t i = 0; i < FPMD_ARRAY_LEN(no); i++) {
        if (strcasecmp(out->p, no[i]) == 0) {
            out->p[0] = '\0';
            out->len = 0;
        }
    }
    return FPMD_OK;
}

/* Each "$pool" of v replaced by name (php-fpm's
 * fpm_conf_expand_pool_name); NULL when memory ran out. */
static char *
expand_pool(const char *v, const char *name)
{
    size_t n = 0, nlen = strlen(name), len;
    const char *p;
    char *out, *o;

    for (p = v; (p = strstr(p, "$pool")) != NULL; p += 5)
        n++;
    len = strlen(v) + n * nlen - n * 5;
    out = malloc(len + 1);
    if (out == NULL)
        return NULL;
    for (o = out; *v != '\0';) {
        if (strncmp(v, "$pool", 5) == 0) {
            memcpy(o, name, nlen);
            o += nlen;
            v += 5;
        } else {
            *o++ = *v++;
        }
    }
    *o = '\0';
    return out;
}

/* Grows *array (of *cap elements of size) to hold one more than n. */
static int
grow(struct fpmd_fpm_ini *ini, void **array, size_t *cap, size_t n,
     size_t size)
{
    void *grown;
    size_t want;

    if (n < *cap)
        return FPMD_OK;
    want = *cap ? *cap * 2 : 16;
    grown = realloc(*array, want * size);
    if (grown == NULL) {
        ini->nomem = 1;
        return FPMD_ERROR;
    }
    *array = grown;
    *cap = want;
    return FPMD_OK;
}

static void
open_section(struct fpmd_fpm_ini *ini, const struct src *src, unsigned col,
             const char *name, size_t len)
{
    struct fpmd_fpm_ini_pool *pool;

    if (len == 6 && strncasecmp(name, "global", 6) == 0) {
        ini->cur_pool = FPMD_FPM_INI_GLOBAL;
        return;
    }
    /* php-fpm brings back a pool of the same name, in any case */
    for (size_t i = 0; i < ini->npools; i++) {
        if (strlen(ini->pools[i].name) == len
            && strncasecmp(ini->pools[i].name, name, len) == 0) {
            ini->cur_pool = i;
            return;
        }
    }
    if (grow(ini, (void **) &ini->pools, &ini->pools_cap, ini->npools,
             sizeof(*ini->pools)) != FPMD_OK)
        return;
    pool = &ini->pools[ini->npools];
    pool->name = strndup(name, len);
    if (pool->name == NULL) {
        ini->nomem = 1;
        return;
    }
    pool->file = src->file;
    pool->line = src->line;
    pool->column = col;
    ini->cur_pool = ini->npools++;
}

static void
section_line(struct fpmd_fpm_ini *ini, const struct src *src,
             const char *line, const char *p, const char *end)
{
    const char *close = memchr(p, ']', (size_t) (end - p));
    const char *name = skip_blanks(p + 1, end), *nend;

    if (close == NULL) {
        error_at(ini, src, col_of(line, p), "\"[\" without its \"]\"");
        return;
    }
    nend = close;
    while (nend > name && (nend[-1] == ' ' || nend[-1] == '\t'))
        nend--;
    if (nend <= name) {
        error_at(ini, src, col_of(line, p), "an empty section name");
        return;
    }
    for (const char *c = name; c < nend; c++) {
        if (iscntrl((unsigned char) *c) && *c != '\t') {
            error_at(ini, src, col_of(line, c),
                     "a control character in a section name");
            return;
        }
    }
    p = skip_blanks(close + 1, end);
    if (p < end && *p != ';' && *p != '#') {
        error_at(ini, src, col_of(line, p),
                 "unexpected text after the section's \"]\"");
        return;
    }
    open_section(ini, src, col_of(line, name), name, (size_t) (nend - name));
}

static void read_path(struct fpmd_fpm_ini *ini, const char *path,
                      const struct src *from, unsigned col);

/* include = pattern, read where it stands (php-fpm's
 * fpm_conf_ini_parser_include: glob with GLOB_ERR | GLOB_MARK, in glob's
 * order, directories skipped). */
static void
include(struct fpmd_fpm_ini *ini, const struct src *src, unsigned col,
        size_t entry, const char *pattern)
{
    char path[PATH_MAX];
    const char *slash = strrchr(src->file, '/');
    glob_t g;
    int n, rc;

    if (!ini->follow_includes)
        return;
    if (pattern[0] == '\0') {
        error_at(ini, src, col, "include needs a file or a pattern");
        return;
    }
    if (pattern[0] == '/')
        n = snprintf(path, sizeof(path), "%s", pattern);
    else if (ini->prefix != NULL)
        n = snprintf(path, sizeof(path), "%s/%s", ini->prefix, pattern);
    else if (slash != NULL)
        n = snprintf(path, sizeof(path), "%.*s/%s",
                     (int) (slash - src->file), src->file, pattern);
    else
        n = snprintf(path, sizeof(path), "%s", pattern);
    if (n < 0 || (size_t) n >= sizeof(path)) {
        error_at(ini, src, col, "include: the path is longer than %d bytes",
                 PATH_MAX - 1);
        return;
    }
    rc = glob(path, GLOB_ERR | GLOB_MARK, NULL, &g);
    if (rc == GLOB_NOMATCH) {
        note_at(ini, src, col, "include \"%s\" matches no file: nothing "
                "read (php-fpm warns and goes on)", path);
    } else if (rc != 0) {
        error_at(ini, src, col, "include \"%s\": %s", path,
                 rc == GLOB_NOSPACE ? "out of memory"
                                    : "a directory it names cannot be read");
        ini->unreadable |= rc == GLOB_ABORTED;
    } else {
        for (size_t i = 0; i < g.gl_pathc && !ini->nomem; i++) {
            size_t len = strlen(g.gl_pathv[i]), before = ini->nfiles;

            if (len == 0 || g.gl_pathv[i][len - 1] == '/')
                continue;
            read_path(ini, g.gl_pathv[i], src, col);
            ini->entries[entry].included += ini->nfiles > before;
        }
    }
    globfree(&g);
}

/* What php-fpm checks of an array entry (fpm_conf_ini_parser_array). */
static int
check_array(struct fpmd_fpm_ini *ini, const struct src *src, unsigned col,
            unsigned vcol, const char *name, const char *key,
            const char *value)
{
    if (ini->cur_pool == FPMD_FPM_INI_GLOBAL) {
        error_at(ini, src, col, "%s[%s]: arrays are not allowed in [global] "
                 "(php-fpm refuses them)", name, key);
        return FPMD_ERROR;
    }
    if (strcmp(name, "access.suppress_path") == 0) {
        if (key[0] != '\0') {
            error_at(ini, src, col, "access.suppress_path[] takes no key");
            return FPMD_ERROR;
        }
        if (value[0] != '/') {
            error_at(ini, src, vcol, "access.suppress_path[]: a path must "
                     "begin with '/'");
            return FPMD_ERROR;
        }
    } else if (key[0] == '\0') {
        error_at(ini, src, col, "%s[] needs a key: %s[NAME]", name, name);
        return FPMD_ERROR;
    }
    if (strcmp(name, "env") == 0 && value[0] == '\0') {
        error_at(ini, src, vcol, "env[%s] has an empty value (php-fpm "
                 "refuses it)", key);
        return FPMD_ERROR;
    }
    return FPMD_OK;
}

/* Keeps the entry; takes value over (and frees it on failure). */
static void
add_entry(struct fpmd_fpm_ini *ini, const struct src *src, unsigned col,
          unsigned vcol, const char *name, size_t namelen, const char *key,
          size_t keylen, char *value)
{
    struct fpmd_fpm_ini_entry *e;
    int is_include = key == NULL && namelen == 7
                     && memcmp(name, "include", 7) == 0;
    size_t index = ini->nentries;

    if (ini->nentries >= FPMD_FPM_INI_ENTRIES_MAX) {
        error_at(ini, src, col, "more than %d directives",
                 FPMD_FPM_INI_ENTRIES_MAX);
        free(value);
        return;
    }
    if (!is_include && ini->cur_pool != FPMD_FPM_INI_GLOBAL
        && strstr(value, "$pool") != NULL) {
        char *expanded = expand_pool(value, ini->pools[ini->cur_pool].name);

        free(value);
        if (expanded == NULL) {
            ini->nomem = 1;
            return;
        }
        value = expanded;
    } else if (!is_include && strstr(value, "$pool") != NULL) {
        error_at(ini, src, vcol, "\"$pool\" outside a pool section: "
                 "php-fpm has no pool name to put there");
        free(value);
        return;
    }
    if (grow(ini, (void **) &ini->entries, &ini->entries_cap,
             ini->nentries, sizeof(*ini->entries)) != FPMD_OK) {
        free(value);
        return;
    }
    e = &ini->entries[ini->nentries];
    memset(e, 0, sizeof(*e));
    e->file = src->file;
    e->line = src->line;
    e->column = col;
    e->value_column = vcol;
    e->pool = ini->cur_pool;
    e->value = value;
    e->name = strndup(name, namelen);
    e->key = key != NULL ? strndup(key, keylen) : NULL;
    ini->nentries++;
    if (e->name == NULL || (key != NULL && e->key == NULL)) {
        ini->nomem = 1;
        return;
    }
    if (key != NULL
        && check_array(ini, src, col, vcol, e->name, e->key, value)
               != FPMD_OK)
        return;
    if (is_include)
        include(ini, src, vcol, index, value);
}

static void
parse_line(struct fpmd_fpm_ini *ini, const struct src *src, const char *line,
           size_t len)
{
    const char *end = line + len, *p, *name, *key = NULL, *cr;
    size_t namelen, keylen = 0;
    struct buf value = {0};
    unsigned col, vcol;

    /* CRLF files: Zend's scanner takes "\r\n" as one newline */
    if (len > 0 && line[len - 1] == '\r')
        end--;
    cr = memchr(line, '\r', (size_t) (end - line));
    if (cr != NULL) {
        error_at(ini, src, col_of(line, cr),
                 "a carriage return inside a line");
        return;
    }
    p = skip_blanks(line, end);
    if (p == end || *p == ';' || *p == '#')
        return;
    if (*p == '[') {
        section_line(ini, src, line, p, end);
        return;
    }
    name = p;
    col = col_of(line, p);
    while (p < end && name_char((unsigned char) *p))
        p++;
    if (p == name) {
        error_at(ini, src, col, "expected a directive name, a [section] or "
                 "a comment");
        return;
    }
    namelen = (size_t) (p - name);
    if (p < end && *p == '[') {
        const char *close = memchr(p + 1, ']', (size_t) (end - p - 1));

        if (close == NULL) {
            error_at(ini, src, col_of(line, p), "\"%.*s[\" without its "
                     "\"]\"", (int) namelen, name);
            return;
        }
        key = skip_blanks(p + 1, close);
        keylen = (size_t) (close - key);
        while (keylen > 0 && (key[keylen - 1] == ' '
                              || key[keylen - 1] == '\t'))
            keylen--;
        if (keylen >= 2 && (key[0] == '"' || key[0] == '\'')
            && key[keylen - 1] == key[0]) {
            key++;
            keylen -= 2;
        }
        p = close + 1;
    }
    p = skip_blanks(p, end);
    if (p == end || *p != '=') {
        error_at(ini, src, col_of(line, p), "expected \"=\" after \"%.*s\"",
                 (int) namelen, name);
        return;
    }
    p = skip_blanks(p + 1, end);
    vcol = col_of(line, p);
    if (parse_value(ini, src, line, p, end, &value) != FPMD_OK) {
        free(value.p);
        return;
    }
    add_entry(ini, src, col, vcol, name, namelen, key, keylen, value.p);
}

static void
parse_text(struct fpmd_fpm_ini *ini, const char *file, const char *text,
           size_t len)
{
    struct src src = {file, 0};
    const char *p = text, *end = text + len;

    while (p < end && !ini->nomem) {
        const char *nl = memchr(p, '\n', (size_t) (end - p));
        const char *le = nl != NULL ? nl : end;
        const char *nul = memchr(p, '\0', (size_t) (le - p));

        src.line++;
        if ((size_t) (le - p) > FPMD_FPM_INI_LINE_MAX)
            error_at(ini, &src, FPMD_FPM_INI_LINE_MAX + 1,
                     "a line longer than %d bytes", FPMD_FPM_INI_LINE_MAX);
        else if (nul != NULL)
            error_at(ini, &src, col_of(p, nul), "a NUL byte");
        else
            parse_line(ini, &src, p, (size_t) (le - p));
        p = nl != NULL ? nl + 1 : end;
    }
}

/* Keeps path among the files read; the copy that entries point to. */
static const char *
add_file(struct fpmd_fpm_ini *ini, const char *path, const char *real)
{
    char *copy, *real_copy = NULL;

    if (grow(ini, (void **) &ini->files, &ini->files_cap, ini->nfiles,
             sizeof(*ini->files)) != FPMD_OK
        || grow(ini, (void **) &ini->reals, &ini->reals_cap, ini->nfiles,
                sizeof(*ini->reals)) != FPMD_OK)
        return NULL;
    copy = strdup(path);
    if (real != NULL)
        real_copy = strdup(real);
    if (copy == NULL || (real != NULL && real_copy == NULL)) {
        free(copy);
        free(real_copy);
        ini->nomem = 1;
        return NULL;
    }
    ini->reals[ini->nfiles] = real_copy;
    ini->files[ini->nfiles++] = copy;
    return copy;
}

/* A message about path: at the include line that named it, else about
 * the file itself. */
static void
file_error(struct fpmd_fpm_ini *ini, const struct src *from, unsigned col,
           const char *path, const char *what, const char *why)
{
    if (from != NULL)
        error_at(ini, from, col, "include: %s: %s%s%s", path, what,
                 why ? ": " : "", why ? why : "");
    else
        error_at(ini, NULL, 0, "%s: %s%s%s", path, what, why ? ": " : "",
                 why ? why : "");
}

/* Reads the whole of a file of at most FILE_MAX bytes into *text. */
static int
slurp(int fd, char **text, size_t *len)
{
    char *buf = malloc(FPMD_FPM_INI_FILE_MAX + 1);
    size_t got = 0;
    ssize_t n;

    if (buf == NULL)
        return ENOMEM;
    while (got <= FPMD_FPM_INI_FILE_MAX) {
        n = read(fd, buf + got, FPMD_FPM_INI_FILE_MAX + 1 - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int err = errno;

            free(buf);
            return err;
        }
        if (n == 0)
            break;
        got += (size_t) n;
    }
    *text = buf;
    *len = got;
    return 0;
}

static void
read_path(struct fpmd_fpm_ini *ini, const char *path, const struct src *from,
          unsigned col)
{
    struct stat st;
    const char *file;
    char *real, *text = NULL;
    size_t len = 0;
    int fd, err;

    if (ini->nfiles >= FPMD_FPM_INI_FILES_MAX) {
        file_error(ini, from, col, path, "not read: more than 256 files",
                   NULL);
        return;
    }
    if (ini->depth >= FPMD_FPM_INI_DEPTH_MAX) {
        file_error(ini, from, col, path, "not read: includes nested more "
                   "than 5 files deep (php-fpm's limit)", NULL);
        return;
    }
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        file_error(ini, from, col, path, "cannot open", strerror(errno));
        ini->unreadable = 1;
        return;
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        file_error(ini, from, col, path, "not a regular file", NULL);
        ini->unreadable = 1;
        close(fd);
        return;
    }
    real = realpath(path, NULL);
    if (real == NULL) {
        file_error(ini, from, col, path, "cannot resolve", strerror(errno));
        ini->unreadable = 1;
        close(fd);
        return;
    }
    for (unsigned i = 0; i < ini->depth; i++) {
        if (ini->open[i] != NULL && strcmp(ini->open[i], real) == 0) {
            file_error(ini, from, col, path, "an include loop: this file "
                       "is already being read", NULL);
            free(real);
            close(fd);
            return;
        }
    }
    err = slurp(fd, &text, &len);
    close(fd);
    if (err != 0) {
        file_error(ini, from, col, path, "cannot read", strerror(err));
        ini->unreadable = 1;
        free(real);
        return;
    }
    if (len > FPMD_FPM_INI_FILE_MAX) {
        file_error(ini, from, col, path, "larger than 1 MiB", NULL);
    } else if ((file = add_file(ini, path, real)) != NULL) {
        ini->open[ini->depth++] = real;
        parse_text(ini, file, text, len);
        ini->open[--ini->depth] = NULL;
    }
    free(real);
    free(text);
}

void
fpmd_fpm_ini_init(struct fpmd_fpm_ini *ini)
{
    memset(ini, 0, sizeof(*ini));
    ini->follow_includes = 1;
    ini->cur_pool = FPMD_FPM_INI_GLOBAL;
}

void
fpmd_fpm_ini_free(struct fpmd_fpm_ini *ini)
{
    for (size_t i = 0; i < ini->nentries; i++) {
        free(ini->entries[i].name);
        free(ini->entries[i].key);
        free(ini->entries[i].value);
    }
    free(ini->entries);
    for (size_t i = 0; i < ini->npools; i++)
        free(ini->pools[i].name);
    free(ini->pools);
    for (size_t i = 0; i < ini->nfiles; i++) {
        free(ini->files[i]);
        free(ini->reals[i]);
    }
    free(ini->files);
    free(ini->reals);
    free(ini->errors);
    free(ini->notes);
    memset(ini, 0, sizeof(*ini));
}

static int
outcome(const struct fpmd_fpm_ini *ini, unsigned errors_before)
{
    return ini->nerrors > errors_before || ini->nomem ? FPMD_ERROR : FPMD_OK;
}

int
fpmd_fpm_ini_read_file(struct fpmd_fpm_ini *ini, const char *path)
{
    unsigned before = ini->nerrors;
    char *real = realpath(path, NULL);

    if (real != NULL) {
        for (size_t i = 0; i < ini->nfiles; i++) {
            if (ini->reals[i] != NULL && strcmp(ini->reals[i], real) == 0) {
                note_at(ini, NULL, 0, "%s: already read (as %s): not read "
                        "again", path, ini->files[i]);
                free(real);
                return outcome(ini, before);
            }
        }
        free(real);
    }
    ini->cur_pool = FPMD_FPM_INI_GLOBAL;
    read_path(ini, path, NULL, 0);
    return outcome(ini, before);
}

int
fpmd_fpm_ini_read_buffer(struct fpmd_fpm_ini *ini, const char *name,
                         const char *text, size_t len)
{
    unsigned before = ini->nerrors;
    const char *file;

    if (len > FPMD_FPM_INI_FILE_MAX) {
        error_at(ini, NULL, 0, "%s: larger than 1 MiB", name);
        return FPMD_ERROR;
    }
    if (ini->nfiles >= FPMD_FPM_INI_FILES_MAX) {
        error_at(ini, NULL, 0, "%s: not read: more than 256 files", name);
        return FPMD_ERROR;
    }
    file = add_file(ini, name, NULL);
    if (file == NULL)
        return FPMD_ERROR;
    ini->cur_pool = FPMD_FPM_INI_GLOBAL;
    ini->open[ini->depth++] = NULL;
    parse_text(ini, file, text, len);
    ini->depth--;
    return outcome(ini, before);
}

/* --- values ----------------------------------------------------------- */

int
fpmd_fpm_ini_seconds(const char *v, uint64_t *out)
{
    static const struct {
        char suffix;
        uint64_t seconds;
    } units[] = {{'s', 1}, {'m', 60}, {'h', 3600}, {'d', 86400}};
    size_t len = strlen(v), digits = len;
    uint64_t mult = 1, n = 0;

    if (len == 0)
        return FPMD_ERROR;
    for (size_t i = 0; i < FPMD_ARRAY_LEN(units); i++) {
        if (v[len - 1] == units[i].suffix) {
            mult = units[i].seconds;
            digits = len - 1;
        }
    }
    if (digits == 0)
        return FPMD_ERROR;
    for (size_t i = 0; i < digits; i++) {
        if (!isdigit((unsigned char) v[i]))
            return FPMD_ERROR;
        n = n * 10 + (uint64_t) (v[i] - '0');
        if (n > INT_MAX)
            return FPMD_ERROR;
    }
    /* php-fpm keeps seconds in an int */
    if (n > INT_MAX / mult)
        return FPMD_ERROR;
    *out = n * mult;
    return FPMD_OK;
}

int
fpmd_fpm_ini_duration(const char *v, char *out, size_t outlen)
{
    unsigned long long s;
    uint64_t seconds;
    char unit = 's';
    int n;

    if (fpmd_fpm_ini_seconds(v, &seconds) != FPMD_OK)
        return FPMD_ERROR;
    s = seconds;
    if (s != 0 && s % 3600 == 0) {
        s /= 3600;
        unit = 'h';
    } else if (s != 0 && s % 60 == 0) {
        s /= 60;
        unit = 'm';
    }
    n = snprintf(out, outlen, "%llu%c", s, unit);
    return n > 0 && (size_t) n < outlen ? FPMD_OK : FPMD_ERROR;
}

int
fpmd_fpm_ini_int(const char *v, long long min, long long max,
                 long long *out)
{
    const char *p = v[0] == '-' ? v + 1 : v;
    long long n;

    if (*p == '\0')
        return FPMD_ERROR;
    for (const char *c = p; *c != '\0'; c++) {
        if (!isdigit((unsigned char) *c))
            return FPMD_ERROR;
    }
    errno = 0;
    n = strtoll(v, NULL, 10);
    if (errno != 0 || n < min || n > max)
        return FPMD_ERROR;
    *out = n;
    return FPMD_OK;
}

int
fpmd_fpm_ini_bool(const char *v, int *out)
{
    static const char *const yes[] = {"1", "yes", "on", "true"};
    static const char *const no[] = {"", "0", "no", "off", "false"};

    for (size_t i = 0; i < FPMD_ARRAY_LEN(yes); i++) {
        if (strcasecmp(v, yes[i]) == 0) {
            *out = 1;
            return FPMD_OK;
        }
    }
    for (size_t i = 0; i < FPMD_ARRAY_LEN(no); i++) {
        if (strcasecmp(v, no[i]) == 0) {
            *out = 0;
            return FPMD_OK;
        }
    }
    return FPMD_ERROR;
}

int
fpmd_fpm_ini_rlimit(const char *v, long long *out)
{
    if (strcasecmp(v, "unlimited") == 0) {
        *out = -1;
        return FPMD_OK;
    }
    return fpmd_fpm_ini_int(v, 0, INT_MAX, out);
}
