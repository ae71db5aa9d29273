/* SPDX-License-Identifier: BSD-2-Clause */
/* Return codes, assertions and small helpers shared by every module.
 * Included by fpmd/fpmd.h, so handlers see the same codes. */
#ifndef FPMD_COMMON_H
#define FPMD_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FPMD_OK        0
#define FPMD_ERROR    -1
#define FPMD_AGAIN    -2
#define FPMD_DECLINED -3
#define FPMD_DONE     -4

/* Stays on in release builds: a broken invariant in a daemon is better a
 * logged abort of one worker than silent corruption (Redis's serverAssert). */
#define FPMD_ASSERT(e) \
    ((e) ? (void) 0 : fpmd_assert_fail(#e, __FILE__, __LINE__))

void fpmd_assert_fail(const char *expr, const char *file, int line)
    __attribute__((noreturn));

#define FPMD_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#define FPMD_UNUSED __attribute__((unused))

/* Set where AddressSanitizer instruments the file: gcc says so with
 * __SANITIZE_ADDRESS__, clang with __has_feature. */
#if defined(__SANITIZE_ADDRESS__)
#define FPMD_UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define FPMD_UNDER_ASAN 1
#endif
#endif

#endif
