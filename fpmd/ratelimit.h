/* SPDX-License-Identifier: BSD-2-Clause */
/* Token buckets under byte keys (a client address, a header's value),
 * shared by every process of a pool: one fixed region the caller maps
 * before fork, which never grows, never fails for want of room, and
 * survives a process killed in the middle of a call. Time is always the
 * caller's: microseconds of one monotonic clock, the same in every
 * process (fpmd_mono_ns() / 1000). */
#ifndef FPMD_RATELIMIT_H
#define FPMD_RATELIMIT_H

#include <stddef.h>
#include <stdint.h>

#include "fpmd/common.h"

#define FPMD_RATELIMIT_MIN_KEYS 16
#define FPMD_RATELIMIT_MAX_KEYS (1u << 20)
/* Bytes of a key kept to tell keys apart; past them, the key's hash. */
#define FPMD_RATELIMIT_KEY_BYTES 64

struct fpmd_ratelimit;

/* Counters since init, summed over every process. */
struct fpmd_ratelimit_stats {
    uint64_t allowed;       /* takes that got a token */
    uint64_t limited;       /* takes refused */
    uint64_t keys_in_use;   /* buckets holding a key: buckets refilled to
                             * burst count until another key reuses them */
    uint64_t evicted;       /* buckets not yet full given to another key */
};

/* The bytes a region of `keys` buckets takes (keys rounded up to a
 * multiple of 8), or 0 when keys is not FPMD_RATELIMIT_MIN_KEYS ..
 * FPMD_RATELIMIT_MAX_KEYS. The region must start 64-byte aligned (an
 * mmap'd one does). */
size_t fpmd_ratelimit_size(unsigned keys);

/* Makes rl in fpmd_ratelimit_size(keys) bytes of zeroed shared memory
 * (MAP_SHARED | MAP_ANONYMOUS), before any fork: every bucket free, and a
 * random key for the region's SipHash. FPMD_OK, or FPMD_ERROR when keys
 * is out of range, getrandom fails or the process-shared robust mutexes
 * cannot be made. Never destroyed: the memory goes with the last
 * mapping. */
int fpmd_ratelimit_init(struct fpmd_ratelimit *rl, unsigned keys);

/* Takes one token from the bucket of the len bytes at key (NULL when len
 * is 0), at now_us. A bucket holds up to burst tokens (burst >= 1) and
 * gains rate tokens a second (rate > 0, finite), in fixed point of 1e-9
 * token; a key not seen yet, or whose bucket went to another key, starts
 * full. So, from full, exactly burst takes succeed at once, then one more
 * each 1/rate seconds, to the microsecond, for as long as the bucket is
 * not full meanwhile (a full one gains nothing). FPMD_OK; FPMD_AGAIN when
 * the bucket holds less than a token, with *retry_us the exact
 * microseconds until it holds one (rounded up: what Retry-After says;
 * UINT64_MAX when that is past 2^64 us); FPMD_ERROR when rate or burst is
 * out of range. A refused take costs no token, and rate and burst may
 * change from call to call (the bucket keeps its tokens, capped at the
 * new burst).
 * Keys are the same when their lengths, first FPMD_RATELIMIT_KEY_BYTES
 * bytes and 64-bit SipHash-1-3 under the region's random key all are:
 * two keys of up to that many bytes only when equal, longer ones when
 * equal or, with odds of 2^-64 a pair that a client cannot steer, when
 * their hashes collide.
 * A key goes to one of the region's windows of 8 buckets by its hash;
 * when none of the 8 holds it, it takes a free one, else one that has
 * refilled to burst (which is as good as none), else the least recently
 * used one (a refused take is a use), counted in evicted: that bucket's
 * key starts full again when next seen, so size the region to the keys
 * in use at once. Never suspends; holds one of 64 striped locks for a
 * few compares and the bucket's arithmetic. */
int fpmd_ratelimit_take(struct fpmd_ratelimit *rl, const void *key,
                        size_t len, double rate, unsigned burst,
                        uint64_t now_us, uint64_t *retry_us);

/* Copies the counters, each read on its own (not one instant's). */
void fpmd_ratelimit_stats(struct fpmd_ratelimit *rl,
                          struct fpmd_ratelimit_stats *out);

#endif
