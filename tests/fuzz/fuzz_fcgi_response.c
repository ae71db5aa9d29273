/* SPDX-License-Identifier: BSD-2-Clause */
/* libFuzzer target for the FastCGI response parser (request id 1): the
 * input is fed in two pieces (its first byte picks the cut); consumed
 * counts never exceed what was given, and once END_REQUEST is reported
 * nothing more is consumed. */
#include <assert.h>
#include <stddef.h>
#include <stdint.h>

#include "pools/fcgi_response.h"
#include "tests/fuzz/cut.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
take(void *ctx, const uint8_t *p, size_t n)
{
    (void) ctx;
    (void) p;
    (void) n;
    return FPMD_OK;
}

static int
end(void *ctx, uint32_t app, uint8_t proto)
{
    (void) ctx;
    (void) app;
    (void) proto;
    return FPMD_OK;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const struct fpmd_fcgi_response_callbacks cb = {take, take, end};
    struct fpmd_fcgi_response r;
    size_t cut, used;
    int rc;

    if (size == 0)
        return 0;
    cut = fuzz_cut(&data, &size);
    fpmd_fcgi_response_init(&r, 1);
    rc = fpmd_fcgi_response_parse(&r, &cb, NULL, data, cut, &used);
    assert(used <= cut);
    if (rc == FPMD_OK) {
        rc = fpmd_fcgi_response_parse(&r, &cb, NULL, data + cut, size - cut,
                                      &used);
        assert(used <= size - cut);
    }
    if (rc == FPMD_DONE) {
        rc = fpmd_fcgi_response_parse(&r, &cb, NULL, data, size, &used);
        assert(rc == FPMD_DONE && used == 0);
    }
    return 0;
}
