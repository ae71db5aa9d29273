/* SPDX-License-Identifier: BSD-2-Clause */
/* SHA-256 against the FIPS 180-4 example vectors, fed whole and in every
 * split, so the streaming buffer logic is covered. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "handlers/sha256.h"

static void
digest(const char *msg, size_t len, size_t split, char out[65])
{
    struct fpmd_sha256 s;

    fpmd_sha256_init(&s);
    fpmd_sha256_update(&s, msg, split);
    fpmd_sha256_update(&s, msg + split, len - split);
    fpmd_sha256_hex(&s, out);
}

static void
sha256_matches_fips_vectors(void **state)
{
    static const struct {
        const char *msg, *hex;
    } v[] = {
        {"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
        {"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
        {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
         "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
    };
    char out[65];

    (void) state;
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        size_t len = strlen(v[i].msg);

        for (size_t split = 0; split <= len; split++) {
            digest(v[i].msg, len, split, out);
            assert_string_equal(out, v[i].hex);
        }
    }
}

static void
sha256_hashes_a_million_a(void **state)
{
    struct fpmd_sha256 s;
    char block[1000], out[65];

    (void) state;
    memset(block, 'a', sizeof(block));
    fpmd_sha256_init(&s);
    for (int i = 0; i < 1000; i++)
        fpmd_sha256_update(&s, block, sizeof(block));
    fpmd_sha256_hex(&s, out);
    assert_string_equal(out, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sha256_matches_fips_vectors),
        cmocka_unit_test(sha256_hashes_a_million_a),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
