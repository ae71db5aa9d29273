/* SPDX-License-Identifier: BSD-2-Clause */
/* libFuzzer target for the php-fpm INI reader (migrate/tool/fpm_ini.c), from a
 * buffer with includes kept as entries but not followed, so a run never
 * depends on the files of the machine. Whatever the input: every entry
 * has a name and a value and points at a line of its file, every pool
 * index is one the reader made, an error count comes with its text, and
 * each value goes through php-fpm's value types without harm; a time
 * that reads comes out in fpmd's duration syntax. */
#include <assert.h>
#include <ctype.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "migrate/tool/fpm_ini.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_value(const char *v)
{
    char d[32];
    uint64_t s;
    long long n;
    int b;

    if (fpmd_fpm_ini_seconds(v, &s) == FPMD_OK) {
        size_t len;

        assert(s <= 2147483647u);
        assert(fpmd_fpm_ini_duration(v, d, sizeof(d)) == FPMD_OK);
        len = strlen(d);
        assert(len >= 2 && strchr("smh", d[len - 1]) != NULL);
        for (size_t i = 0; i + 1 < len; i++)
            assert(isdigit((unsigned char) d[i]));
    }
    (void) fpmd_fpm_ini_int(v, -1000, 1000, &n);
    (void) fpmd_fpm_ini_bool(v, &b);
    if (fpmd_fpm_ini_rlimit(v, &n) == FPMD_OK)
        assert(n >= -1);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fpmd_fpm_ini ini;
    unsigned lines = 1;
    int rc;

    for (size_t i = 0; i < size; i++)
        lines += data[i] == '\n';
    fpmd_fpm_ini_init(&ini);
    ini.follow_includes = 0;
    rc = fpmd_fpm_ini_read_buffer(&ini, "fuzz.conf", (const char *) data,
                                  size);
    assert(rc == FPMD_OK || rc == FPMD_ERROR);
    assert((rc == FPMD_ERROR) == (ini.nerrors > 0 || ini.nomem));
    assert(ini.nerrors == 0 || ini.errors != NULL || ini.nomem);
    assert(ini.unreadable == 0);
    for (size_t i = 0; i < ini.nentries; i++) {
        const struct fpmd_fpm_ini_entry *e = &ini.entries[i];

        assert(e->name != NULL && e->name[0] != '\0');
        assert(e->value != NULL);
        assert(strlen(e->value) <= FPMD_FPM_INI_VALUE_MAX);
        assert(e->line >= 1 && e->line <= lines);
        assert(e->column >= 1 && e->value_column > e->column);
        assert(e->pool == FPMD_FPM_INI_GLOBAL || e->pool < ini.npools);
        assert(e->file == ini.files[0]);
        assert(e->included == 0);
        check_value(e->value);
    }
    for (size_t i = 0; i < ini.npools; i++)
        assert(ini.pools[i].name[0] != '\0');
    fpmd_fpm_ini_free(&ini);
    return 0;
}
