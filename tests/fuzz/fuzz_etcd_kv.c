/* SPDX-License-Identifier: BSD-2-Clause */
/* libFuzzer target for etcd's gateway JSON. The first byte picks the
 * mode (bit 0: the first line is a range's answer, or a watch message
 * like the rest), the set's max_keys (bits 1-4: 0 to 15) and how many
 * servers are asked for (bits 5-7: 0 to 21); the rest is cut into lines,
 * each loaded or applied as the agent does, a heap copy of exactly its
 * bytes. After each: the return code and why agree, a refused range and
 * a watch that is over leave the set as it was, the revision never goes
 * back, the servers are at most what was asked for and the set's keys,
 * each a valid http(s) URL short enough for a slot, weighted 1..1000,
 * and listed once. The whole input goes through base64 and back
 * unchanged, and decoding it as base64 keeps to the room the contract
 * gives. */
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fpmd/common.h"
#include "fpmd/conf.h"
#include "fpmd/etcd_kv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define ALL 16      /* at least the most keys a set keeps */

/* The set's servers, at most max, into out (room for ALL), checked. */
static size_t
check_servers(const struct fpmd_etcd_set *s, size_t max,
              struct fpmd_discovered *out)
{
    struct fpmd_discovered *few = malloc((max ? max : 1) * sizeof(*few));
    size_t n = fpmd_etcd_set_servers(s, out, ALL), k;

    assert(few != NULL);
    for (size_t i = 0; i < n; i++) {
        size_t len = strnlen(out[i].url, FPMD_DISCOVERY_URL_MAX);

        assert(len > 0 && len < FPMD_DISCOVERY_URL_MAX);
        assert(fpmd_conf_http_url_valid(out[i].url));
        assert(out[i].weight >= 1 && out[i].weight <= 1000);
        for (size_t j = 0; j < i; j++)
            assert(strcmp(out[j].url, out[i].url) != 0);
    }
    /* asked for fewer: the first ones */
    k = fpmd_etcd_set_servers(s, few, max);
    assert(k == (n < max ? n : max));
    assert(k == 0 || memcmp(few, out, k * sizeof(*few)) == 0);
    free(few);
    return n;
}

/* len bytes of base64 decoded into a buffer of exactly the room the
 * contract asks for: the length, *out the bytes (the caller frees). */
static long
decode(const char *in, size_t len, unsigned char **out)
{
    *out = malloc(len / 4 * 3 + 1);
    assert(*out != NULL);
    return fpmd_etcd_b64_decode(in, len, *out);
}

static void
check_base64(const uint8_t *data, size_t size)
{
    char *enc = malloc(FPMD_ETCD_B64_LEN(size));
    unsigned char *dec;
    size_t n;
    long back;

    assert(enc != NULL);
    n = fpmd_etcd_b64_encode(data, size, enc);
    assert(n == FPMD_ETCD_B64_LEN(size) - 1 && enc[n] == '\0');
    assert(decode(enc, n, &dec) == (long) size);
    assert(size == 0 || memcmp(dec, data, size) == 0);
    free(dec);
    free(enc);
    /* the input itself as base64: what decodes encodes back as long */
    back = decode((const char *) data, size, &dec);
    assert(back >= -1);
    if (back >= 0) {
        enc = malloc(FPMD_ETCD_B64_LEN((size_t) back));
        assert(enc != NULL);
        assert(fpmd_etcd_b64_encode(dec, (size_t) back, enc) == size);
        free(enc);
    }
    free(dec);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fpmd_discovered before[ALL], after[ALL];
    struct fpmd_etcd_set *s;
    size_t max_keys, max, nbefore, dropped = 0;
    int64_t revision = 0;
    bool range;

    if (size == 0)
        return 0;
    range = data[0] & 1;
    max_keys = (data[0] >> 1) & 15;
    max = 3 * (size_t) (data[0] >> 5);
    data++;
    size--;
    check_base64(data, size);
    s = fpmd_etcd_set_new(max_keys);
    assert(s != NULL);
    nbefore = check_servers(s, max, before);
    for (size_t off = 0; off < size;) {
        const uint8_t *nl = memchr(data + off, '\n', size - off);
        size_t len = nl != NULL ? (size_t) (nl - (data + off)) : size - off;
        char *line = malloc(len ? len : 1), why[128] = "";
        int64_t was = revision;
        size_t n;
        int rc;

        assert(line != NULL);
        memcpy(line, data + off, len);
        if (range && off == 0)
            rc = fpmd_etcd_set_load(s, line, len, &revision, why,
                                    sizeof(why));
        else
            rc = fpmd_etcd_set_apply(s, line, len, &revision, why,
                                     sizeof(why));
        free(line);
        assert(rc == FPMD_OK || rc == FPMD_AGAIN || rc == FPMD_ERROR);
        assert((rc == FPMD_OK) == (why[0] == '\0'));
        if (range && off == 0)
            assert(rc == FPMD_OK ? revision >= 0 : revision == was);
        else
            assert(rc == FPMD_OK ? revision >= was : revision == was);
        n = check_servers(s, max, after);
        assert(n <= max_keys);
        if (rc == FPMD_AGAIN || (range && off == 0 && rc == FPMD_ERROR))
            assert(n == nbefore
                   && (n == 0 || memcmp(after, before, n * sizeof(*after))
                                     == 0));
        memcpy(before, after, sizeof(after));
        nbefore = n;
        assert(fpmd_etcd_set_dropped(s) >= dropped);
        dropped = fpmd_etcd_set_dropped(s);
        off += len + 1;
    }
    fpmd_etcd_set_free(s);
    return 0;
}
