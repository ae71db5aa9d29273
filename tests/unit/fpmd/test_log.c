/* SPDX-License-Identifier: BSD-2-Clause */
/* The error log's counted lines: an event repeated thousands of times
 * writes one line at once, then one a second with the count, and the
 * count that is left is written by the next flush a second on. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "fpmd/log.h"

static size_t
lines(const char *path, char *out, size_t outlen)
{
    FILE *f = fopen(path, "r");
    size_t n = 0, len;

    assert_non_null(f);
    len = fread(out, 1, outlen - 1, f);
    out[len] = '\0';
    fclose(f);
    for (size_t i = 0; i < len; i++)
        n += out[i] == '\n';
    return n;
}

static void
tally_writes_a_count_not_a_line_each(void **state)
{
    static struct fpmd_log_tally t;
    struct fpmd_conf conf;
    char path[] = "/tmp/fpmd-test-log-XXXXXX", text[4096];
    int fd = mkstemp(path);

    (void) state;
    assert_true(fd >= 0);
    close(fd);
    memset(&conf, 0, sizeof(conf));
    conf.log.error = path;
    conf.log.level = FPMD_LOG_NOTICE;
    assert_int_equal(fpmd_log_open(&conf), FPMD_OK);
    for (int i = 0; i < 5000; i++)
        fpmd_log_tally(&t, FPMD_LOG_WARNING, "accept on %s: refused", "x");
    fpmd_log_tally_flush();
    assert_int_equal(lines(path, text, sizeof(text)), 1);
    assert_non_null(strstr(text, "WARNING: accept on x: refused\n"));
    sleep(1);
    fpmd_log_tally_flush();
    assert_int_equal(lines(path, text, sizeof(text)), 2);
    assert_non_null(strstr(text, "refused (4999 times in the last "));
    fpmd_log_tally_flush();
    assert_int_equal(lines(path, text, sizeof(text)), 2);
    /* below the log level, nothing is counted or written */
    fpmd_log_set_level(FPMD_LOG_ERROR);
    fpmd_log_tally(&t, FPMD_LOG_WARNING, "quiet");
    sleep(1);
    fpmd_log_tally_flush();
    assert_int_equal(lines(path, text, sizeof(text)), 2);
    fpmd_log_close();
    unlink(path);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(tally_writes_a_count_not_a_line_each),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
