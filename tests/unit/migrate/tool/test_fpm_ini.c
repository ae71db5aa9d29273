/* SPDX-License-Identifier: BSD-2-Clause */
/* php-fpm's INI files as fpmd-migrate reads them: quoting and comments,
 * sections and $pool, ${NAME}, arrays, every error with its
 * file:line:column, includes through globs in temp dirs, include loops
 * and depth, the size limits, and php-fpm's value types (time suffixes,
 * booleans, rlimits). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "migrate/tool/fpm_ini.h"

static int
read_text(struct fpmd_fpm_ini *ini, const char *text)
{
    fpmd_fpm_ini_init(ini);
    return fpmd_fpm_ini_read_buffer(ini, "t.conf", text, strlen(text));
}

/* The n-th entry named name (any pool); NULL if none. */
static const struct fpmd_fpm_ini_entry *
entry(const struct fpmd_fpm_ini *ini, const char *name, unsigned n)
{
    for (size_t i = 0; i < ini->nentries; i++) {
        if (strcmp(ini->entries[i].name, name) == 0 && n-- == 0)
            return &ini->entries[i];
    }
    return NULL;
}

static const char *
value(const struct fpmd_fpm_ini *ini, const char *name)
{
    const struct fpmd_fpm_ini_entry *e = entry(ini, name, 0);

    return e ? e->value : NULL;
}

/* Asserts that text is refused with exactly this first error. */
static void
refused(const char *text, const char *error)
{
    struct fpmd_fpm_ini ini;

    assert_int_equal(read_text(&ini, text), FPMD_ERROR);
    assert_non_null(ini.errors);
    if (strncmp(ini.errors, error, strlen(error)) != 0)
        fail_msg("for %s\nwanted %s\ngot    %s", text, error, ini.errors);
    fpmd_fpm_ini_free(&ini);
}

static void
quotes_and_comments_read_as_php_fpm_reads_them(void **state)
{
    struct fpmd_fpm_ini ini;

    (void) state;
    assert_int_equal(read_text(&ini,
        "; a comment\n"
        "# another\n"
        "\n"
        "   \t\n"
        "[www]\n"
        "plain = /a/b c  ; trailing comment\n"
        "dq = \"x ; y # z\"\n"
        "esc = \"say \\\"hi\\\" \\\\ \\$5 \\n\"\n"
        "sq = 'raw \\\" $pool ${HOME}'\n"
        "joined = \"a\" 'b' c\n"
        "  indented=1\n"
        "hash = a#b\n"
        "empty =\n"
        "access.format = \"%R - %u %t \\\"%m %r\\\" %s\"\r\n"), FPMD_OK);
    assert_int_equal(ini.npools, 1);
    assert_string_equal(value(&ini, "plain"), "/a/b c");
    assert_string_equal(value(&ini, "dq"), "x ; y # z");
    assert_string_equal(value(&ini, "esc"), "say \"hi\" \\ $5 \\n");
    /* single quotes are raw; $pool still becomes the pool's name, as
     * php-fpm expands it after the INI parse */
    assert_string_equal(value(&ini, "sq"), "raw \\\" www ${HOME}");
    /* blanks between pieces stay, as Zend's scanner keeps them */
    assert_string_equal(value(&ini, "joined"), "a b c");
    assert_string_equal(value(&ini, "indented"), "1");
    assert_string_equal(value(&ini, "hash"), "a#b");
    assert_string_equal(value(&ini, "empty"), "");
    assert_string_equal(value(&ini, "access.format"),
                        "%R - %u %t \"%m %r\" %s");
    assert_int_equal(entry(&ini, "plain", 0)->line, 6);
    assert_int_equal(entry(&ini, "plain", 0)->column, 1);
    assert_int_equal(entry(&ini, "plain", 0)->value_column, 9);
    assert_int_equal(entry(&ini, "indented", 0)->column, 3);
    assert_null(ini.errors);
    fpmd_fpm_ini_free(&ini);
}

static void
bare_yes_and_no_become_php_fpm_booleans(void **state)
{
    struct fpmd_fpm_ini ini;
    int b = -1;

    (void) state;
    assert_int_equal(read_text(&ini,
        "a = yes\nb = Off\nc = none\nd = \"yes\"\ne = TRUE ; c\n"
        "f = yes please\n"), FPMD_OK);
    assert_string_equal(value(&ini, "a"), "1");
    assert_string_equal(value(&ini, "b"), "");
    assert_string_equal(value(&ini, "c"), "");
    assert_string_equal(value(&ini, "d"), "yes");
    assert_string_equal(value(&ini, "e"), "1");
    assert_string_equal(value(&ini, "f"), "yes please");
    assert_int_equal(fpmd_fpm_ini_bool(value(&ini, "a"), &b), FPMD_OK);
    assert_int_equal(b, 1);
    assert_int_equal(fpmd_fpm_ini_bool(value(&ini, "b"), &b), FPMD_OK);
    assert_int_equal(b, 0);
    assert_int_equal(fpmd_fpm_ini_bool("maybe", &b), FPMD_ERROR);
    fpmd_fpm_ini_free(&ini);
}

static void
sections_pools_and_dollar_pool(void **state)
{
    struct fpmd_fpm_ini ini;

    (void) state;
    assert_int_equal(read_text(&ini,
        "pid = /run/a.pid\n"
        "[www]\n"
        "listen = /run/php/$pool.sock\n"
        "[ api ]\n"
        "slowlog = /var/log/$pool-$pool.slow\n"
        "[GLOBAL]\n"
        "error_log = /var/log/x.log\n"
        "[WWW]\n"
        "user = www-data\n"), FPMD_OK);
    assert_int_equal(ini.npools, 2);
    assert_string_equal(ini.pools[0].name, "www");
    assert_string_equal(ini.pools[1].name, "api");
    assert_int_equal(ini.pools[1].line, 4);
    assert_int_equal(ini.pools[1].column, 3);
    assert_int_equal(entry(&ini, "pid", 0)->pool, FPMD_FPM_INI_GLOBAL);
    assert_int_equal(entry(&ini, "error_log", 0)->pool, FPMD_FPM_INI_GLOBAL);
    assert_string_equal(value(&ini, "listen"), "/run/php/www.sock");
    assert_string_equal(value(&ini, "slowlog"), "/var/log/api-api.slow");
    /* a section reopened in another case is the same pool */
    assert_int_equal(entry(&ini, "user", 0)->pool, 0);
    fpmd_fpm_ini_free(&ini);

    refused("[global]\npid = /run/$pool.pid\n",
            "t.conf:2:7: \"$pool\" outside a pool section");
}

static void
environment_variables_are_expanded(void **state)
{
    struct fpmd_fpm_ini ini;

    (void) state;
    assert_int_equal(setenv("FPMD_TEST_PORT", "9123", 1), 0);
    unsetenv("FPMD_TEST_UNSET");
    assert_int_equal(read_text(&ini,
        "[www]\n"
        "listen = 127.0.0.1:${FPMD_TEST_PORT}\n"
        "q = \"<${FPMD_TEST_PORT}>\"\n"
        "u = a${FPMD_TEST_UNSET}b\n"), FPMD_OK);
    assert_string_equal(value(&ini, "listen"), "127.0.0.1:9123");
    assert_string_equal(value(&ini, "q"), "<9123>");
    assert_string_equal(value(&ini, "u"), "ab");
    /* an unset variable reads as empty, and the reader says so */
    assert_non_null(ini.notes);
    assert_non_null(strstr(ini.notes, "t.conf:4:6: ${FPMD_TEST_UNSET} is "
                                      "not set"));
    fpmd_fpm_ini_free(&ini);
}

static void
arrays_keep_their_keys(void **state)
{
    struct fpmd_fpm_ini ini;
    const struct fpmd_fpm_ini_entry *e;

    (void) state;
    assert_int_equal(read_text(&ini,
        "[www]\n"
        "env[PATH] = /usr/bin:/bin\n"
        "env[ TMP ] = /tmp/$pool\n"
        "php_value[error_reporting] = E_ALL & ~E_NOTICE\n"
        "php_admin_value[\"memory_limit\"] = 256M\n"
        "php_flag[display_errors] = off\n"
        "php_admin_flag[log_errors] = on\n"
        "access.suppress_path[] = /ping\n"), FPMD_OK);
    e = entry(&ini, "env", 1);
    assert_string_equal(e->key, "TMP");
    assert_string_equal(e->value, "/tmp/www");
    assert_string_equal(entry(&ini, "env", 0)->key, "PATH");
    assert_string_equal(value(&ini, "php_value"), "E_ALL & ~E_NOTICE");
    assert_string_equal(entry(&ini, "php_admin_value", 0)->key,
                        "memory_limit");
    assert_string_equal(value(&ini, "php_flag"), "");
    assert_string_equal(value(&ini, "php_admin_flag"), "1");
    assert_string_equal(entry(&ini, "access.suppress_path", 0)->key, "");
    assert_null(entry(&ini, "listen", 0));
    fpmd_fpm_ini_free(&ini);

    refused("env[X] = 1\n", "t.conf:1:1: env[X]: arrays are not allowed "
            "in [global]");
    refused("[p]\nenv[] = 1\n", "t.conf:2:1: env[] needs a key");
    refused("[p]\nenv[X] =\n", "t.conf:2:9: env[X] has an empty value");
    refused("[p]\naccess.suppress_path[x] = /a\n",
            "t.conf:2:1: access.suppress_path[] takes no key");
}

static void
every_error_names_file_line_and_column(void **state)
{
    struct fpmd_fpm_ini ini;

    (void) state;
    refused("[www]\nlisten 127.0.0.1:9000\n",
            "t.conf:2:8: expected \"=\" after \"listen\"");
    refused("[www\n", "t.conf:1:1: \"[\" without its \"]\"");
    refused("[]\n", "t.conf:1:1: an empty section name");
    refused("[www] x\n", "t.conf:1:7: unexpected text after the section");
    refused("a = \"open\n", "t.conf:1:5: a double-quoted value must end on "
            "its line");
    refused("a = x 'open\n", "t.conf:1:7: a single-quoted value must end");
    refused("a = ${NOPE\n", "t.conf:1:5: \"${\" without its \"}\"");
    refused("a = ${}\n", "t.conf:1:5: \"${...}\" needs a name");
    refused("a = ${A-B}\n", "t.conf:1:8: \"${A-B}\": a variable name");
    refused("= 1\n", "t.conf:1:1: expected a directive name");
    refused("env[X = 1\n", "t.conf:1:4: \"env[\" without its \"]\"");
    refused("a = 1\rb = 2\n", "t.conf:1:6: a carriage return inside a line");
    /* every error at once, the good lines still read */
    assert_int_equal(read_text(&ini, "[p]\nbad\nok = 1\n= 2\nalso bad\n"),
                     FPMD_ERROR);
    assert_int_equal(ini.nerrors, 3);
    assert_string_equal(ini.errors,
                        "t.conf:2:4: expected \"=\" after \"bad\"\n"
                        "t.conf:4:1: expected a directive name, a [section] "
                        "or a comment\n"
                        "t.conf:5:6: expected \"=\" after \"also\"\n");
    assert_string_equal(value(&ini, "ok"), "1");
    fpmd_fpm_ini_free(&ini);
}

static void
a_nul_byte_is_refused_where_it_is(void **state)
{
    static const char text[] = "a = 1\nb = x\0y\n";
    struct fpmd_fpm_ini ini;

    (void) state;
    fpmd_fpm_ini_init(&ini);
    assert_int_equal(fpmd_fpm_ini_read_buffer(&ini, "n.conf", text,
                                              sizeof(text) - 1),
                     FPMD_ERROR);
    assert_string_equal(ini.errors, "n.conf:2:6: a NUL byte\n");
    fpmd_fpm_ini_free(&ini);
}

static void
lines_and_files_have_limits(void **state)
{
    struct fpmd_fpm_ini ini;
    size_t big = FPMD_FPM_INI_FILE_MAX + 1;
    char *text = malloc(big + 1);

    (void) state;
    assert_non_null(text);
    /* a line of exactly the limit is read, one byte more is not */
    memset(text, 'x', big);
    memcpy(text, "a = ", 4);
    text[FPMD_FPM_INI_LINE_MAX] = '\n';
    text[FPMD_FPM_INI_LINE_MAX + 1] = '\0';
    assert_int_equal(read_text(&ini, text), FPMD_OK);
    assert_int_equal(strlen(value(&ini, "a")), FPMD_FPM_INI_LINE_MAX - 4);
    fpmd_fpm_ini_free(&ini);
    text[FPMD_FPM_INI_LINE_MAX] = 'x';
    text[FPMD_FPM_INI_LINE_MAX + 1] = '\n';
    text[FPMD_FPM_INI_LINE_MAX + 2] = '\0';
    assert_int_equal(read_text(&ini, text), FPMD_ERROR);
    assert_string_equal(ini.errors, "t.conf:1:8193: a line longer than "
                        "8192 bytes\n");
    fpmd_fpm_ini_free(&ini);
    /* a file over 1 MiB is refused whole */
    for (size_t i = 0; i < big; i++)
        text[i] = i % 64 == 63 ? '\n' : ';';
    fpmd_fpm_ini_init(&ini);
    assert_int_equal(fpmd_fpm_ini_read_buffer(&ini, "big.conf", text, big),
                     FPMD_ERROR);
    assert_string_equal(ini.errors, "big.conf: larger than 1 MiB\n");
    fpmd_fpm_ini_free(&ini);
    free(text);
}

/* --- includes, in a temp dir ----------------------------------------- */

static char tmp[64];

static int
make_tmp(void **state)
{
    (void) state;
    snprintf(tmp, sizeof(tmp), "/tmp/fpmd-fpm-ini-XXXXXX");
    return mkdtemp(tmp) == NULL ? -1 : 0;
}

static int
remove_tmp(void **state)
{
    char cmd[128];

    (void) state;
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp);
    return system(cmd) == 0 ? 0 : -1;
}

static void
put(const char *name, const char *text)
{
    char path[256];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", tmp, name);
    f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fputs(text, f) >= 0, 1);
    assert_int_equal(fclose(f), 0);
}

static void
in_tmp(char *out, size_t len, const char *name)
{
    snprintf(out, len, "%s/%s", tmp, name);
}

static void
includes_follow_globs_where_they_stand(void **state)
{
    struct fpmd_fpm_ini ini;
    char path[256], dir[256];

    (void) state;
    in_tmp(dir, sizeof(dir), "pool.d");
    assert_int_equal(mkdir(dir, 0755), 0);
    in_tmp(dir, sizeof(dir), "pool.d/sub.conf");
    assert_int_equal(mkdir(dir, 0755), 0);     /* a directory: skipped */
    put("main.conf", "[global]\npid = /run/p.pid\n"
                     "include = pool.d/*.conf\n"
                     "after = 1\n"
                     "include = pool.d/*.none\n");
    put("pool.d/b.conf", "[b]\nlisten = /run/$pool.sock\n");
    put("pool.d/a.conf", "[a]\nlisten = 127.0.0.1:9000\n");
    in_tmp(path, sizeof(path), "main.conf");
    fpmd_fpm_ini_init(&ini);
    assert_int_equal(fpmd_fpm_ini_read_file(&ini, path), FPMD_OK);
    assert_int_equal(ini.nfiles, 3);
    assert_string_equal(ini.files[0], path);
    in_tmp(path, sizeof(path), "pool.d/a.conf");
    assert_string_equal(ini.files[1], path);   /* glob(3)'s sorted order */
    assert_int_equal(ini.npools, 2);
    assert_string_equal(ini.pools[0].name, "a");
    assert_string_equal(entry(&ini, "listen", 1)->value, "/run/b.sock");
    assert_string_equal(entry(&ini, "listen", 1)->file, ini.files[2]);
    assert_int_equal(entry(&ini, "listen", 1)->line, 2);
    assert_int_equal(entry(&ini, "include", 0)->included, 2);
    assert_int_equal(entry(&ini, "include", 1)->included, 0);
    /* as in php-fpm, the section goes on from the last included file */
    assert_int_equal(entry(&ini, "after", 0)->pool, 1);
    assert_non_null(ini.notes);
    assert_non_null(strstr(ini.notes, "main.conf:5:11: include \""));
    assert_non_null(strstr(ini.notes, "matches no file"));
    /* a file already read through an include is not read again */
    assert_int_equal(fpmd_fpm_ini_read_file(&ini, path), FPMD_OK);
    assert_int_equal(ini.nfiles, 3);
    assert_non_null(strstr(ini.notes, "already read"));
    fpmd_fpm_ini_free(&ini);
}

static void
a_prefix_takes_relative_includes(void **state)
{
    struct fpmd_fpm_ini ini;
    char path[256], dir[256];

    (void) state;
    in_tmp(dir, sizeof(dir), "etc");
    assert_int_equal(mkdir(dir, 0755), 0);
    put("etc/p.conf", "[p]\nx = 1\n");
    put("main2.conf", "include = etc/p.conf\n");
    in_tmp(path, sizeof(path), "main2.conf");
    fpmd_fpm_ini_init(&ini);
    ini.prefix = "/nonexistent-prefix";
    assert_int_equal(fpmd_fpm_ini_read_file(&ini, path), FPMD_OK);
    assert_int_equal(ini.nfiles, 1);
    assert_non_null(strstr(ini.notes, "/nonexistent-prefix/etc/p.conf"));
    fpmd_fpm_ini_free(&ini);
    fpmd_fpm_ini_init(&ini);
    ini.prefix = tmp;
    assert_int_equal(fpmd_fpm_ini_read_file(&ini, path), FPMD_OK);
    assert_int_equal(ini.nfiles, 2);
    assert_string_equal(value(&ini, "x"), "1");
    fpmd_fpm_ini_free(&ini);
}

static void
include_loops_and_depth_are_bounded(void **state)
{
    struct fpmd_fpm_ini ini;
    char path[256], text[64];

    (void) state;
    put("loop1.conf", "include = loop2.conf\n");
    put("loop2.conf", "[p]\ninclude = loop1.conf\n");
    in_tmp(path, sizeof(path), "loop1.conf");
    fpmd_fpm_ini_init(&ini);
    assert_int_equal(fpmd_fpm_ini_read_file(&ini, path), FPMD_ERROR);
    assert_int_equal(ini.nerrors, 1);
    assert_non_null(strstr(ini.errors, "loop2.conf:2:11: include: "));
    assert_non_null(strstr(ini.errors, "an include loop"));
    assert_int_equal(ini.unreadable, 0);
    fpmd_fpm_ini_free(&ini);

    /* php-fpm reads at most 5 files nested: d1 .. d5 are read, d6 not */
    for (int i = 1; i <= 6; i++) {
        char name[32];

        snprintf(name, sizeof(name), "d%d.conf", i);
        snprintf(text, sizeof(text), "level%d = %d\ninclude = d%d.conf\n",
                 i, i, i + 1);
        put(name, text);
    }
    in_tmp(path, sizeof(path), "d1.conf");
    fpmd_fpm_ini_init(&ini);
    assert_int_equal(fpmd_fpm_ini_read_file(&ini, path), FPMD_ERROR);
    assert_int_equal(ini.nfiles, 5);
    assert_non_null(value(&ini, "level5"));
    assert_null(value(&ini, "level6"));
    assert_non_null(strstr(ini.errors, "d5.conf:2:11: include: "));
    assert_non_null(strstr(ini.errors, "nested more than 5 files deep"));
    fpmd_fpm_ini_free(&ini);
}

static void
a_missing_file_is_unreadable(void **state)
{
    struct fpmd_fpm_ini ini;
    char path[256];

    (void) state;
    in_tmp(path, sizeof(path), "no-such.conf");
    fpmd_fpm_ini_init(&ini);
    assert_int_equal(fpmd_fpm_ini_read_file(&ini, path), FPMD_ERROR);
    assert_int_equal(ini.unreadable, 1);
    assert_non_null(strstr(ini.errors, "no-such.conf: cannot open: No such "
                                       "file or directory"));
    fpmd_fpm_ini_free(&ini);
    /* an include naming no file is a warning to php-fpm, as to us */
    put("inc-missing.conf", "\ninclude = /nonexistent/x.conf\n");
    in_tmp(path, sizeof(path), "inc-missing.conf");
    fpmd_fpm_ini_init(&ini);
    assert_int_equal(fpmd_fpm_ini_read_file(&ini, path), FPMD_OK);
    assert_non_null(strstr(ini.notes, "inc-missing.conf:2:11: include "
                                      "\"/nonexistent/x.conf\" matches no "
                                      "file"));
    fpmd_fpm_ini_free(&ini);
    /* a glob into a directory that is not there stops php-fpm (glob(3)
     * with GLOB_ERR fails): an input that cannot be read */
    put("inc-nodir.conf", "include = /nonexistent/*.conf\n");
    in_tmp(path, sizeof(path), "inc-nodir.conf");
    fpmd_fpm_ini_init(&ini);
    assert_int_equal(fpmd_fpm_ini_read_file(&ini, path), FPMD_ERROR);
    assert_int_equal(ini.unreadable, 1);
    assert_non_null(strstr(ini.errors, "inc-nodir.conf:1:11: include "
                                       "\"/nonexistent/*.conf\": a "
                                       "directory it names cannot be "
                                       "read"));
    fpmd_fpm_ini_free(&ini);
}

/* --- values ----------------------------------------------------------- */

static void
time_suffixes_become_fpmd_durations(void **state)
{
    static const struct {
        const char *in, *out;
    } ok[] = {
        {"30", "30s"}, {"30s", "30s"}, {"90", "90s"}, {"120", "2m"},
        {"5m", "5m"}, {"90m", "90m"}, {"2h", "2h"}, {"1d", "24h"},
        {"0", "0s"}, {"0s", "0s"}, {"3600", "1h"}, {"86400s", "24h"},
    };
    static const char *const bad[] = {
        "", "s", "10x", "-1", "1.5", " 5", "5 ", "10S", "1w", "5ms",
        "2147483648", "24856d", "99999999999999999999",
    };
    uint64_t s = 0;
    char out[32];

    (void) state;
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        assert_int_equal(fpmd_fpm_ini_duration(ok[i].in, out, sizeof(out)),
                         FPMD_OK);
        assert_string_equal(out, ok[i].out);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (fpmd_fpm_ini_seconds(bad[i], &s) != FPMD_ERROR)
            fail_msg("\"%s\" read as %llu seconds", bad[i],
                     (unsigned long long) s);
    }
    assert_int_equal(fpmd_fpm_ini_seconds("1d", &s), FPMD_OK);
    assert_int_equal(s, 86400);
    assert_int_equal(fpmd_fpm_ini_seconds("2147483647", &s), FPMD_OK);
    assert_int_equal(fpmd_fpm_ini_duration("5m", out, 2), FPMD_ERROR);
}

static void
integers_and_rlimits(void **state)
{
    long long n = 0;

    (void) state;
    assert_int_equal(fpmd_fpm_ini_int("5", 1, 10, &n), FPMD_OK);
    assert_int_equal(n, 5);
    assert_int_equal(fpmd_fpm_ini_int("-1", -1, 10, &n), FPMD_OK);
    assert_int_equal(n, -1);
    assert_int_equal(fpmd_fpm_ini_int("11", 1, 10, &n), FPMD_ERROR);
    assert_int_equal(fpmd_fpm_ini_int("", 0, 10, &n), FPMD_ERROR);
    assert_int_equal(fpmd_fpm_ini_int("-", 0, 10, &n), FPMD_ERROR);
    assert_int_equal(fpmd_fpm_ini_int("1k", 0, 10000, &n), FPMD_ERROR);
    assert_int_equal(fpmd_fpm_ini_int("99999999999999999999", 0,
                                      INT64_MAX, &n), FPMD_ERROR);
    assert_int_equal(fpmd_fpm_ini_rlimit("unlimited", &n), FPMD_OK);
    assert_int_equal(n, -1);
    assert_int_equal(fpmd_fpm_ini_rlimit("UNLIMITED", &n), FPMD_OK);
    assert_int_equal(fpmd_fpm_ini_rlimit("0", &n), FPMD_OK);
    assert_int_equal(n, 0);
    assert_int_equal(fpmd_fpm_ini_rlimit("65536", &n), FPMD_OK);
    assert_int_equal(n, 65536);
    assert_int_equal(fpmd_fpm_ini_rlimit("-1", &n), FPMD_ERROR);
    assert_int_equal(fpmd_fpm_ini_rlimit("lots", &n), FPMD_ERROR);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(quotes_and_comments_read_as_php_fpm_reads_them),
        cmocka_unit_test(bare_yes_and_no_become_php_fpm_booleans),
        cmocka_unit_test(sections_pools_and_dollar_pool),
        cmocka_unit_test(environment_variables_are_expanded),
        cmocka_unit_test(arrays_keep_their_keys),
        cmocka_unit_test(every_error_names_file_line_and_column),
        cmocka_unit_test(a_nul_byte_is_refused_where_it_is),
        cmocka_unit_test(lines_and_files_have_limits),
        cmocka_unit_test(includes_follow_globs_where_they_stand),
        cmocka_unit_test(a_prefix_takes_relative_includes),
        cmocka_unit_test(include_loops_and_depth_are_bounded),
        cmocka_unit_test(a_missing_file_is_unreadable),
        cmocka_unit_test(time_suffixes_become_fpmd_durations),
        cmocka_unit_test(integers_and_rlimits),
    };

    return cmocka_run_group_tests(tests, make_tmp, remove_tmp);
}
