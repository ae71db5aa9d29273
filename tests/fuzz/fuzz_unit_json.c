/* SPDX-License-Identifier: BSD-2-Clause */
/* libFuzzer target for import-unit's mapping (migrate/tool/unit_map.c):
 * Unit's /config JSON, hostile or not, to fpmd YAML. Whatever the input:
 * the result is a config and a report, or errors, never both; every
 * report line starts with a JSON pointer and holds no control byte (a
 * key of the input cannot forge a line); the counts add up to the lines. */
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "fpmd/common.h"
#include "migrate/tool/unit_map.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_line(const char *line)
{
    for (const char *c = line; *c != '\0'; c++)
        assert((unsigned char) *c >= ' ' && *c != 0x7f);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fpmd_unit_opts opts = {.socket_dir = "/run/php"};
    struct fpmd_unit_out out;
    int rc = fpmd_unit_map((const char *) data, size, &opts, &out);

    assert(rc == FPMD_OK || rc == FPMD_ERROR);
    assert((rc == FPMD_OK) == (out.yaml != NULL));
    assert(rc == FPMD_ERROR || out.nerrors == 0);
    assert(rc == FPMD_OK || out.nerrors > 0 || out.nomem);
    assert(out.mapped + out.applied + out.unsupported == out.nreport);
    for (size_t i = 0; i < out.nreport; i++) {
        assert(out.report[i][0] == '/');
        check_line(out.report[i]);
    }
    for (size_t i = 0; i < out.nerrors; i++)
        check_line(out.errors[i]);
    if (out.yaml != NULL)
        assert(strncmp(out.yaml, "listen:\n  - http: ", 18) == 0);
    fpmd_unit_out_free(&out);
    return 0;
}
