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

static void
error_log_escapes_what_a_message_carries(void **state)
{
    struct fpmd_conf conf;
    char path[] = "/tmp/fpmd-test-log-XXXXXX", text[4096], big[3000];
    int fd = mkstemp(path);

    (void) state;
    assert_true(fd >= 0);
    close(fd);
    memset(&conf, 0, sizeof(conf));
    conf.log.error = path;
    conf.log.level = FPMD_LOG_NOTICE;
    assert_int_equal(fpmd_log_open(&conf), FPMD_OK);
    fpmd_log_set_prefix("[pool www] ");
    /* a URI nginx decoded from %0A%5B..., a terminal escape, a backslash */
    fpmd_log(FPMD_LOG_WARNING, "GET %s: failed",
             "/a\n[01-Jan-2026 00:00:00] ALERT: forged\r\x1b[2J\\");
    assert_int_equal(lines(path, text, sizeof(text)), 1);
    assert_non_null(strstr(text, "WARNING: [pool www] GET /a\\x0A[01-Jan-2026 "
                             "00:00:00] ALERT: forged\\x0D\\x1B[2J\\x5C: "
                             "failed\n"));
    /* a message longer than a line still makes one line */
    memset(big, '\n', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    fpmd_log(FPMD_LOG_WARNING, "%s", big);
    assert_int_equal(lines(path, text, sizeof(text)), 2);
    /* several lines of errors: one log line each, none empty */
    fpmd_log_lines(FPMD_LOG_ERROR, "reload failed: ",
                   "a.yaml:1:1: x\n\na.yaml:2:1: y\x01\n");
    assert_int_equal(lines(path, text, sizeof(text)), 4);
    assert_non_null(strstr(text, "ERROR: [pool www] reload failed: a.yaml:1:1: "
                             "x\n"));
    assert_non_null(strstr(text, "reload failed: a.yaml:2:1: y\\x01\n"));
    fpmd_log_set_prefix(NULL);
    fpmd_log_close();
    unlink(path);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(tally_writes_a_count_not_a_line_each),
        cmocka_unit_test(error_log_escapes_what_a_message_carries),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
