/* SPDX-License-Identifier: BSD-2-Clause */
/* php-fpm's own config files (php-fpm.conf, pool.d/NAME.conf) read as
 * php-fpm 8.2 reads them (sapi/fpm/fpm/fpm_conf.c over Zend's INI scanner
 * in its normal mode), into a flat list of entries in file order, for
 * fpmd-migrate import-fpm. A checked reader: every problem is kept as
 * "file:line:column: message" and reading goes on, so all of them are
 * reported at once.
 *
 * What a line may be: blank; a comment (";" anywhere outside quotes, "#"
 * first on the line); "[name]" ("[global]", any case, is the global
 * section; any other name opens a pool, reopened case-insensitively);
 * "name = value" or "name[key] = value" (env[], php_value[],
 * php_admin_value[], php_flag[], php_admin_flag[], access.suppress_path[]).
 * A value is unquoted text (trailing blanks dropped), "double quoted"
 * (\" \\ \$ are escapes, ${NAME} is expanded), 'single quoted' (raw) and
 * ${NAME} (the environment variable, empty when unset) run together; a
 * whole unquoted yes/on/true reads as "1", no/off/false/none/null as "",
 * as php-fpm sees them. Quotes end on their line: php-fpm reads one line
 * at a time. "$pool" in a pool's values becomes the pool's name.
 *
 * "include = pattern" is glob(3)-expanded and each file read where the
 * line stands, with the section carried across as php-fpm does; a
 * relative pattern resolves against prefix (php-fpm's -p) when set, else
 * against the including file's directory (php-fpm would use its build
 * prefix, /usr on Debian, which a relative include rarely means). */
#ifndef FPMD_MIGRATE_TOOL_FPM_INI_H
#define FPMD_MIGRATE_TOOL_FPM_INI_H

#include <stddef.h>
#include <stdint.h>

#include "fpmd/common.h"

#define FPMD_FPM_INI_LINE_MAX 8192          /* bytes, without the newline */
#define FPMD_FPM_INI_FILE_MAX (1024 * 1024) /* bytes of one file */
#define FPMD_FPM_INI_VALUE_MAX 65536        /* bytes of a value, expanded */
#define FPMD_FPM_INI_DEPTH_MAX 5    /* files open at once: php-fpm's limit */
#define FPMD_FPM_INI_FILES_MAX 256          /* files read in all */
#define FPMD_FPM_INI_ENTRIES_MAX 65536
#define FPMD_FPM_INI_ERRORS_MAX 100         /* kept; more are only counted */

/* fpmd_fpm_ini_entry.pool of an entry of [global] (or before any
 * section). */
#define FPMD_FPM_INI_GLOBAL ((size_t) -1)

struct fpmd_fpm_ini_entry {
    const char *file;       /* one of fpmd_fpm_ini.files */
    unsigned line;          /* 1-based */
    unsigned column;        /* of the name, 1-based */
    unsigned value_column;  /* of the value's first byte */
    size_t pool;            /* index in fpmd_fpm_ini.pools, or GLOBAL */
    char *name;             /* as written: "pm.max_children", "env" */
    char *key;              /* name[key]: the key ("" for name[]); NULL
                             * for a plain name */
    char *value;            /* quotes, ${NAME}, $pool and yes/no done */
    unsigned included;      /* an include line: the files it read */
};

struct fpmd_fpm_ini_pool {
    char *name;             /* as first written */
    const char *file;       /* where it was first opened */
    unsigned line, column;
};

struct fpmd_fpm_ini {
    /* Options, set after fpmd_fpm_ini_init and before reading. */
    const char *prefix;     /* relative includes: NULL, the including
                             * file's directory; else this directory */
    int follow_includes;    /* 1 (default); 0 keeps include lines as
                             * entries without reading them */

    /* What was read; every string is owned by the ini. */
    struct fpmd_fpm_ini_entry *entries;
    size_t nentries;
    struct fpmd_fpm_ini_pool *pools;    /* in the order first opened */
    size_t npools;
    char **files;           /* every file read, in order */
    size_t nfiles;
    char *errors;           /* "file:line:column: message\n"...; NULL */
    unsigned nerrors;       /* counted, even past ERRORS_MAX */
    char *notes;            /* what php-fpm would warn about and go on
                             * (an include matching nothing, an unset
                             * ${NAME}), in the same form; NULL: none */
    int unreadable;         /* 1: a file could not be opened or read */
    int nomem;              /* 1: memory ran out; what was read is cut */

    /* Reading state. */
    size_t cur_pool;
    unsigned depth;
    char *open[FPMD_FPM_INI_DEPTH_MAX];  /* real paths being read */
    char **reals;           /* real path of each of files, NULL for a
                             * buffer */
    size_t entries_cap, pools_cap, files_cap, reals_cap, errors_len,
        notes_len;
};

void fpmd_fpm_ini_init(struct fpmd_fpm_ini *ini);
void fpmd_fpm_ini_free(struct fpmd_fpm_ini *ini);

/* Reads one top-level file (and what it includes), starting in
 * [global]. FPMD_OK, or FPMD_ERROR when something was wrong: then
 * ini->errors says what and ini->unreadable whether a file could not be
 * read. Further files may be read into the same ini; a file already read
 * (through an include of an earlier one) is skipped with a note. */
int fpmd_fpm_ini_read_file(struct fpmd_fpm_ini *ini, const char *path);

/* The same from text in memory (len bytes, NUL bytes refused); name is
 * used in messages, and its directory for relative includes. */
int fpmd_fpm_ini_read_buffer(struct fpmd_fpm_ini *ini, const char *name,
                             const char *text, size_t len);

/* Values as php-fpm's directives take them. Each returns FPMD_OK and sets
 * *out, or FPMD_ERROR (out untouched) for anything php-fpm would refuse
 * or that is out of [min, max]. */

/* A time: whole seconds with an optional s, m, h or d suffix (php-fpm's
 * fpm_conf_set_time); at most INT_MAX seconds. */
int fpmd_fpm_ini_seconds(const char *v, uint64_t *out);

/* The same time in fpmd's duration syntax, in the largest unit that
 * keeps it exact: "30" -> "30s", "120" -> "2m", "1d" -> "24h". */
int fpmd_fpm_ini_duration(const char *v, char *out, size_t outlen);

/* An integer, "-" allowed (php-fpm's fpm_conf_set_integer), in range. */
int fpmd_fpm_ini_int(const char *v, long long min, long long max,
                     long long *out);

/* A boolean: "1" or "" as the reader leaves yes and no, and (quoted)
 * 0, yes, no, on, off, true, false in any case. */
int fpmd_fpm_ini_bool(const char *v, int *out);

/* rlimit_core / rlimit_files: "unlimited" (any case) is -1, else a
 * count from 0. */
int fpmd_fpm_ini_rlimit(const char *v, long long *out);

#endif
