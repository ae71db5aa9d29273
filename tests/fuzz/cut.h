/* SPDX-License-Identifier: BSD-2-Clause */
/* For fuzz targets that feed their input in two pieces: the first byte
 * picks where the rest is cut. */
#ifndef FPMD_TESTS_FUZZ_CUT_H
#define FPMD_TESTS_FUZZ_CUT_H

#include <stddef.h>
#include <stdint.h>

/* Takes the first byte off *data (size must be above 0) and returns the
 * offset in what is left where it cuts, at most *size. */
static inline size_t
fuzz_cut(const uint8_t **data, size_t *size)
{
    size_t cut = (*data)[0] % *size;

    (*data)++;
    (*size)--;
    return cut < *size ? cut : *size;
}

#endif
