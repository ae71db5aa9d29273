/* SPDX-License-Identifier: BSD-2-Clause */
/* libFuzzer target for the shadow comparison: the input is two bodies
 * cut at its first byte's offset, compared as JSON and as bytes with a
 * few ignored fields; a body always equals itself, and where is always a
 * terminated string. */
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "migrate/compare.h"
#include "tests/fuzz/cut.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char *const ignore[] = {"a", "a.b", "items.id"};
    const char *a, *b;
    char where[64];
    size_t cut;

    if (size == 0)
        return 0;
    cut = fuzz_cut(&data, &size);
    a = (const char *) data;
    b = a + cut;
    for (int json = 0; json < 2; json++) {
        int same = fpmd_compare_bodies(a, cut, b, size - cut, json, ignore,
                                       3, where, sizeof(where));

        assert(same == 0 || same == 1);
        assert(memchr(where, '\0', sizeof(where)) != NULL);
        assert(fpmd_compare_bodies(a, cut, a, cut, json, ignore, 3, where,
                                   sizeof(where)) == 1);
    }
    return 0;
}
