/* SPDX-License-Identifier: BSD-2-Clause */
/* libFuzzer target for the YAML config loader: any input either loads or
 * is refused with at least one "name:line:column: message" line. */
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fpmd/conf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[4096];
    struct fpmd_conf *conf;

    conf = fpmd_conf_load_buffer("fuzz.yaml", (const char *) data, size, err,
                                 sizeof(err));
    if (conf == NULL)
        assert(strncmp(err, "fuzz.yaml:", 10) == 0);
    fpmd_conf_free(conf);
    return 0;
}
