/* SPDX-License-Identifier: BSD-2-Clause */
/* libFuzzer target for fpmd_mysql's placeholder scanner: every offset it
 * gives is a '?' of the statement, in order, counted the same with and
 * without offsets; and the statement with each of them replaced by a
 * quoted literal, as fpmd_mysql sends it, has none left: a literal can
 * neither open nor close a string or a comment around another '?'. */
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pools/mysql_scan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *sql = malloc(size + 1), *out;
    size_t *offs, n, qs = 0, pos = 0, o = 0;

    if (sql == NULL)
        return 0;
    memcpy(sql, data, size);
    sql[size] = '\0';
    size = strlen(sql);
    for (size_t i = 0; i < size; i++)
        qs += sql[i] == '?';
    offs = malloc((qs + 1) * sizeof(*offs));
    out = malloc(size + 3 * qs + 1);
    if (offs == NULL || out == NULL)
        goto done;
    n = fpmd_mysql_scan_placeholders(sql, offs, qs);
    assert(n <= qs);
    assert(n == fpmd_mysql_scan_placeholders(sql, NULL, 0));
    for (size_t i = 0; i < n; i++) {
        assert(offs[i] < size && sql[offs[i]] == '?');
        assert(i == 0 || offs[i] > offs[i - 1]);
        memcpy(out + o, sql + pos, offs[i] - pos);
        o += offs[i] - pos;
        memcpy(out + o, "'x'", 3);
        o += 3;
        pos = offs[i] + 1;
    }
    memcpy(out + o, sql + pos, size - pos);
    out[o + size - pos] = '\0';
    assert(fpmd_mysql_scan_placeholders(out, NULL, 0) == 0);
done:
    free(offs);
    free(out);
    free(sql);
    return 0;
}
