/* SPDX-License-Identifier: BSD-2-Clause */
/* libFuzzer target for the legacy backend's CGI response head: the input
 * (its first byte picks where it is cut in two) is fed in two pieces; a
 * head that is accepted has a status of three digits, token names and
 * values free of CR, LF and NUL, ends inside the input, and is kept as
 * the input's first bytes. */
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>


#include "migrate/cgi_head.h"
#include "tests/fuzz/cut.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fpmd_cgi_head h;
    size_t cut, used = 0;
    int rc;

    if (size == 0)
        return 0;
    cut = fuzz_cut(&data, &size);
    fpmd_cgi_head_init(&h, 512);
    rc = fpmd_cgi_head_feed(&h, data, cut, &used);
    if (rc == FPMD_AGAIN) {
        rc = fpmd_cgi_head_feed(&h, data + cut, size - cut, &used);
        if (rc == FPMD_OK) {
            assert(used <= size - cut);
            assert(h.raw_len == cut + used);
        }
    } else if (rc == FPMD_OK) {
        assert(used <= cut);
        assert(h.raw_len == used);
    }
    if (rc == FPMD_OK) {
        assert(memcmp(h.raw, data, h.raw_len) == 0);
        assert(h.status >= 100 && h.status <= 999);
        for (size_t i = 0; i < h.nheaders; i++) {
            assert(h.headers[i].name[0] != '\0');
            assert(strpbrk(h.headers[i].name, " \t\r\n:") == NULL);
            assert(strpbrk(h.headers[i].value, "\r\n") == NULL);
        }
    }
    fpmd_cgi_head_free(&h);
    return 0;
}
