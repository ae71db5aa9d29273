/* SPDX-License-Identifier: BSD-2-Clause */
/* Fuzz targets linked without the daemon's log: a failed FPMD_ASSERT is a
 * crash for the fuzzer to keep. */
#include <stdlib.h>

#include "fpmd/common.h"

void
fpmd_assert_fail(const char *expr, const char *file, int line)
{
    (void) expr;
    (void) file;
    (void) line;
    abort();
}
