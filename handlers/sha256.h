/* SPDX-License-Identifier: BSD-2-Clause */
/* SHA-256 (FIPS 180-4), streaming; used by the probe handler to fingerprint
 * request bodies without keeping them. */
#ifndef FPMD_SHA256_H
#define FPMD_SHA256_H

#include <stddef.h>
#include <stdint.h>

struct fpmd_sha256 {
    uint32_t h[8];
    uint64_t len;           /* bytes hashed */
    uint8_t buf[64];
    size_t nbuf;
};

void fpmd_sha256_init(struct fpmd_sha256 *s);
void fpmd_sha256_update(struct fpmd_sha256 *s, const void *data, size_t len);
/* Writes 64 lowercase hex digits and a NUL. */
void fpmd_sha256_hex(struct fpmd_sha256 *s, char out[65]);

#endif
