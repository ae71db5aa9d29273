/* SPDX-License-Identifier: BSD-2-Clause */
/* Shared token buckets: one mapping holds a random SipHash key, 64
 * striped robust mutexes and the buckets, in windows of 8. A key's hash
 * picks its window, where it may sit in any of the 8 buckets; the
 * window's stripe lock covers them all, so a take is one lock, 8
 * compares and a little arithmetic, and a full window makes room by
 * itself (a bucket refilled to burst first, then the least recently
 * used).
 *
 * Tokens are fixed point, TOKEN units each, counted at the time of the
 * last token taken; what a bucket holds now is that plus the refill
 * since, floored to a unit. Refill and wait are both computed by
 * refill(), so that a take retried after the wait a refusal gave
 * succeeds at exactly that microsecond; a rate that is not a whole
 * number of units a microsecond loses under one unit a take.
 *
 * Crash safety: a process may die anywhere, holding its stripe's lock,
 * and the next process to take it (EOWNERDEAD) goes on. A bucket given
 * to a key gets its hash last, so that one cut short matches no key; the
 * worst a death leaves is one bucket's tokens torn and a counter off by
 * the dead process's take. */
#include "config.h"

#include <endian.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <string.h>
#include <sys/random.h>

#include "fpmd/ratelimit.h"
#include "fpmd/siphash.h"
#include "fpmd/ratelimit_impl.h"

#define NSTRIPES 64u
#define WINDOW 8u
#define CACHE_LINE 64
#define TOKEN 1000000000ull     /* units of a token */

struct stripe {
    pthread_mutex_t lock;
    /* its windows' counters, written under the lock, read without */
    uint64_t allowed, limited, in_use, evicted;
} __attribute__((aligned(CACHE_LINE)));

struct bucket {
    uint64_t hash;
    uint64_t klen;
    uint64_t tokens;            /* units at last_us */
    uint64_t last_us;           /* when the last token was taken */
    uint64_t seen_us;           /* the last take, refused ones too */
    uint64_t full_us;           /* when it holds burst again */
    uint32_t used;
    uint32_t pad;
    unsigned char key[FPMD_RATELIMIT_KEY_BYTES];
};

struct fpmd_ratelimit {
    uint64_t sipkey[2];
    uint32_t windows;
    struct stripe stripes[NSTRIPES];
    struct bucket buckets[];
};

static int
take_lock(struct stripe *s)
{
    int rc = pthread_mutex_lock(&s->lock);

    if (rc == EOWNERDEAD)
        rc = pthread_mutex_consistent(&s->lock);
    return rc == 0 ? FPMD_OK : FPMD_ERROR;
}

static void
lock(struct stripe *s)
{
    int rc = take_lock(s);

    /* robust, and made consistent by whoever finds its owner dead: it
     * fails only on memory that holds no rate limiter */
    FPMD_ASSERT(rc == FPMD_OK);
}

static void
bump(uint64_t *counter)
{
    __atomic_add_fetch(counter, 1, __ATOMIC_RELAXED);
}

static uint64_t
after(uint64_t t, uint64_t d)
{
    uint64_t r;

    return __builtin_add_overflow(t, d, &r) ? UINT64_MAX : r;
}

/* The units us microseconds add, floored. */
static uint64_t
refill(double per_us, uint64_t us)
{
    double units = (double) us * per_us;

    return units < 0x1p64 ? (uint64_t) units : UINT64_MAX;
}

/* The fewest microseconds whose refill is need units or more: refill()
 * is monotonic in us, so the first guess from the division needs at
 * most a few steps either way. Past 2^53 us (285 years), doubles no
 * longer count single microseconds and the guess is the answer. */
static uint64_t
time_for(double per_us, uint64_t need)
{
    double guess = ceil((double) need / per_us);
    uint64_t us;

    if (!(guess < 0x1p53))
        return guess < 0x1p64 ? (uint64_t) guess : UINT64_MAX;
    us = (uint64_t) guess;
    while (us > 0 && refill(per_us, us - 1) >= need)
        us--;
    while (refill(per_us, us) < need)
        us++;
    return us;
}

/* The bytes of a key of len that a bucket keeps. */
static size_t
kept(size_t len)
{
    return len < FPMD_RATELIMIT_KEY_BYTES ? len : FPMD_RATELIMIT_KEY_BYTES;
}

static bool
matches(const struct bucket *k, uint64_t hash, const void *key, size_t len)
{
    return k->used && k->hash == hash && k->klen == len
        && (len == 0 || memcmp(k->key, key, kept(len)) == 0);
}

/* The bucket of key in window w (its stripe s locked): the one it has,
 * or one given to it, full. */
static struct bucket *
bucket_of(struct fpmd_ratelimit *rl, struct stripe *s, uint64_t w,
          uint64_t hash, const void *key, size_t len, uint64_t now,
          uint64_t cap)
{
    struct bucket *win = &rl->buckets[w * WINDOW];
    struct bucket *empty = NULL, *full = NULL, *lru = NULL, *k;

    for (unsigned i = 0; i < WINDOW; i++) {
        k = &win[i];
        if (!k->used) {
            if (empty == NULL)
                empty = k;
        } else if (matches(k, hash, key, len)) {
            return k;
        } else if (now >= k->full_us) {
            if (full == NULL)
                full = k;
        } else if (lru == NULL || k->seen_us < lru->seen_us) {
            lru = k;
        }
    }
    k = empty != NULL ? empty : full != NULL ? full : lru;
    if (len > 0)
        memcpy(k->key, key, kept(len));
    k->klen = len;
    k->tokens = cap;
    k->last_us = now;
    k->seen_us = now;
    k->full_us = now;
    __atomic_store_n(&k->hash, hash, __ATOMIC_RELEASE);
    if (empty != NULL) {
        __atomic_store_n(&k->used, 1, __ATOMIC_RELEASE);
        bump(&s->in_use);
    } else if (full == NULL) {
        bump(&s->evicted);
    }
    return k;
}

size_t
fpmd_ratelimit_size(unsigned keys)
{
    if (keys < FPMD_RATELIMIT_MIN_KEYS || keys > FPMD_RATELIMIT_MAX_KEYS)
        return 0;
    return sizeof(struct fpmd_ratelimit)
        + (size_t) (keys + WINDOW - 1) / WINDOW * WINDOW
          * sizeof(struct bucket);
}

int
fpmd_ratelimit_init(struct fpmd_ratelimit *rl, unsigned keys)
{
    pthread_mutexattr_t attr;
    int rc;

    if (fpmd_ratelimit_size(keys) == 0
        || getrandom(rl->sipkey, sizeof(rl->sipkey), 0)
           != (ssize_t) sizeof(rl->sipkey))
        return FPMD_ERROR;
    rl->windows = (keys + WINDOW - 1) / WINDOW;
    if (pthread_mutexattr_init(&attr) != 0)
        return FPMD_ERROR;
    /* robust: the death of a process holding one is reported to the next
     * one, not a deadlock of the pool */
    rc = pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
    if (rc == 0)
        rc = pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
    for (unsigned i = 0; rc == 0 && i < NSTRIPES; i++)
        rc = pthread_mutex_init(&rl->stripes[i].lock, &attr);
    pthread_mutexattr_destroy(&attr);
    return rc == 0 ? FPMD_OK : FPMD_ERROR;
}

int
fpmd_ratelimit_take(struct fpmd_ratelimit *rl, const void *key, size_t len,
                    double rate, unsigned burst, uint64_t now_us,
                    uint64_t *retry_us)
{
    double per_us = rate * (double) (TOKEN / 1000000);
    uint64_t cap = (uint64_t) burst * TOKEN, hash, w, have, at;
    struct bucket *k;
    struct stripe *s;
    int rc;

    *retry_us = 0;
    if (!(rate > 0) || !isfinite(per_us) || burst < 1)
        return FPMD_ERROR;
    hash = fpmd_siphash13(rl->sipkey, key, len);
    w = hash % rl->windows;
    s = &rl->stripes[w % NSTRIPES];
    lock(s);
    k = bucket_of(rl, s, w, hash, key, len, now_us, cap);
    /* a clock read before the last take's, from another process, adds
     * nothing rather than going back */
    have = now_us > k->last_us ? refill(per_us, now_us - k->last_us) : 0;
    if (__builtin_add_overflow(have, k->tokens, &have) || have > cap)
        have = cap;
    if (now_us > k->seen_us)
        k->seen_us = now_us;
    if (have >= TOKEN) {
        k->tokens = have - TOKEN;
        if (now_us > k->last_us)
            k->last_us = now_us;
        k->full_us = after(k->last_us, time_for(per_us, cap - k->tokens));
        bump(&s->allowed);
        rc = FPMD_OK;
    } else {
        /* not capped, so k->tokens < TOKEN: the wait is from last_us */
        at = after(k->last_us, time_for(per_us, TOKEN - k->tokens));
        *retry_us = at == UINT64_MAX ? UINT64_MAX : at - now_us;
        bump(&s->limited);
        rc = FPMD_AGAIN;
    }
    pthread_mutex_unlock(&s->lock);
    return rc;
}

void
fpmd_ratelimit_stats(struct fpmd_ratelimit *rl,
                     struct fpmd_ratelimit_stats *out)
{
    memset(out, 0, sizeof(*out));
    for (unsigned i = 0; i < NSTRIPES; i++) {
        struct stripe *s = &rl->stripes[i];

        out->allowed += __atomic_load_n(&s->allowed, __ATOMIC_RELAXED);
        out->limited += __atomic_load_n(&s->limited, __ATOMIC_RELAXED);
        out->keys_in_use += __atomic_load_n(&s->in_use, __ATOMIC_RELAXED);
        out->evicted += __atomic_load_n(&s->evicted, __ATOMIC_RELAXED);
    }
}

int
fpmd_ratelimit_lock_key(struct fpmd_ratelimit *rl, const void *key,
                        size_t len)
{
    uint64_t w = fpmd_siphash13(rl->sipkey, key, len) % rl->windows;

    return take_lock(&rl->stripes[w % NSTRIPES]);
}
