/* SPDX-License-Identifier: BSD-2-Clause */
/* What every unit test linked without the daemon's log needs: an
 * FPMD_ASSERT that fails inside a test reports through cmocka, naming the
 * expression and its place, instead of logging and aborting. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "fpmd/common.h"

void
fpmd_assert_fail(const char *expr, const char *file, int line)
{
    fail_msg("assertion %s failed at %s:%d", expr, file, line);
    abort();
}
