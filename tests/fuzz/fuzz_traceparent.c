/* SPDX-License-Identifier: BSD-2-Clause */
/* libFuzzer target for the traceparent parser: it never reads past the
 * length it is given, and what it accepts formats back to the same
 * fields (a version 00 header to the same bytes). */
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fpmd/traceparent.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* a copy of exactly size bytes: ASan sees any read beyond */
    char *s = malloc(size ? size : 1);
    struct fpmd_traceparent tp, again;
    char out[FPMD_TRACEPARENT_LEN + 1];

    if (s == NULL)
        return 0;
    memcpy(s, data, size);
    if (fpmd_traceparent_parse(s, size, &tp)) {
        fpmd_traceparent_format(&tp, out);
        assert(fpmd_traceparent_parse(out, FPMD_TRACEPARENT_LEN, &again));
        assert(memcmp(&tp, &again, sizeof(tp)) == 0);
        if (size == FPMD_TRACEPARENT_LEN && s[0] == '0' && s[1] == '0')
            assert(memcmp(out, s, size) == 0);
    }
    free(s);
    return 0;
}
