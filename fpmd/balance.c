/* SPDX-License-Identifier: BSD-2-Clause */
/* Server selection for outbound calls. A balancer holds the servers'
 * weights and what each kind remembers between picks: the round-robin
 * cursor, smooth weighted round-robin's current weights, the random
 * generator's state, the hash ring. Usability is the caller's, given at
 * each pick, so nothing here changes when a server goes down or comes
 * back, and the ring never has to be rebuilt. */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "fpmd/balance.h"

struct point {
    uint64_t hash;
    uint32_t server;
};

struct fpmd_balancer {
    enum fpmd_balance_kind kind;
    unsigned n;
    unsigned next;              /* where round-robin's scan starts */
    uint64_t rng;               /* xorshift64*, never 0 */
    unsigned *weight;
    int64_t *current;           /* WEIGHTED only */
    struct point *ring;         /* HASH only, sorted by hash */
    size_t npoints;
};

static const char *const kind_names[] = {
    [FPMD_BALANCE_ROUND_ROBIN] = "round_robin",
    [FPMD_BALANCE_RANDOM] = "random",
    [FPMD_BALANCE_WEIGHTED] = "weighted",
    [FPMD_BALANCE_LEAST_IN_FLIGHT] = "least_in_flight",
    [FPMD_BALANCE_HASH] = "hash",
};

/* The ring's hash, for points and keys alike: FNV-1a over the bytes,
 * then MurmurHash3's 64-bit finalizer, because FNV-1a alone leaves
 * "name#1" and "name#2" close together on the ring. Unkeyed on purpose:
 * every process and every restart must place a key on the same server,
 * and a client can steer its keys to one server anyway. */
#define FNV_OFFSET 0xcbf29ce484222325ULL
#define FNV_PRIME 0x100000001b3ULL

static uint64_t
fnv1a(uint64_t h, const void *data, size_t len)
{
    const unsigned char *p = data;

    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= FNV_PRIME;
    }
    return h;
}

static uint64_t
fmix64(uint64_t h)
{
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return h;
}

/* The hash of "name#i", as if the string were written out. */
static uint64_t
point_hash(const char *name, uint64_t i)
{
    char digits[20];
    size_t nd = 0;
    uint64_t h = fnv1a(FNV_OFFSET, name, strlen(name));

    h = fnv1a(h, "#", 1);
    do {
        digits[sizeof(digits) - ++nd] = (char) ('0' + i % 10);
        i /= 10;
    } while (i > 0);
    return fmix64(fnv1a(h, digits + sizeof(digits) - nd, nd));
}

static int
by_hash(const void *a, const void *b)
{
    const struct point *x = a, *y = b;

    if (x->hash != y->hash)
        return x->hash < y->hash ? -1 : 1;
    /* equal hashes of two servers: the ring is still the same in every
     * process */
    return x->server < y->server ? -1 : x->server > y->server;
}

/* The points a server of weight w gets on a ring of total weight. */
static uint64_t
points_of(unsigned w, uint64_t total)
{
    uint64_t pts;

    if (total * FPMD_BALANCE_RING_POINTS <= FPMD_BALANCE_RING_MAX)
        return (uint64_t) w * FPMD_BALANCE_RING_POINTS;
    pts = (uint64_t) w * FPMD_BALANCE_RING_MAX / total;
    return pts > 0 ? pts : 1;
}

static int
build_ring(struct fpmd_balancer *b, const char *const *names)
{
    uint64_t total = 0;
    size_t k = 0;

    /* two servers of one name would share their points, and one of them
     * get no key; n <= 1024 makes the check half a million strcmp at
     * most, once */
    for (unsigned i = 0; i < b->n; i++) {
        if (names[i] == NULL)
            return FPMD_ERROR;
        for (unsigned j = 0; j < i; j++) {
            if (strcmp(names[i], names[j]) == 0)
                return FPMD_ERROR;
        }
        total += b->weight[i];
    }
    for (unsigned i = 0; i < b->n; i++)
        b->npoints += points_of(b->weight[i], total);
    b->ring = calloc(b->npoints, sizeof(*b->ring));
    if (b->ring == NULL)
        return FPMD_ERROR;
    for (unsigned i = 0; i < b->n; i++) {
        uint64_t pts = points_of(b->weight[i], total);

        for (uint64_t p = 0; p < pts; p++) {
            b->ring[k].hash = point_hash(names[i], p);
            b->ring[k].server = i;
            k++;
        }
    }
    qsort(b->ring, b->npoints, sizeof(*b->ring), by_hash);
    return FPMD_OK;
}

struct fpmd_balancer *
fpmd_balancer_new(enum fpmd_balance_kind kind, size_t n,
                  const unsigned *weights, const char *const *names)
{
    struct fpmd_balancer *b;
    uint64_t seed;

    if ((unsigned) kind >= FPMD_ARRAY_LEN(kind_names) || n == 0
        || n > FPMD_BALANCE_MAX_SERVERS
        || (kind == FPMD_BALANCE_HASH && names == NULL))
        return NULL;
    for (size_t i = 0; weights != NULL && i < n; i++) {
        if (weights[i] == 0 || weights[i] > FPMD_BALANCE_MAX_WEIGHT)
            return NULL;
    }
    b = calloc(1, sizeof(*b));
    if (b == NULL)
        return NULL;
    b->kind = kind;
    b->n = (unsigned) n;
    b->weight = calloc(n, sizeof(*b->weight));
    if (b->weight == NULL)
        goto fail;
    for (size_t i = 0; i < n; i++)
        b->weight[i] = weights != NULL ? weights[i] : 1;
    if (kind == FPMD_BALANCE_WEIGHTED
        && (b->current = calloc(n, sizeof(*b->current))) == NULL)
        goto fail;
    if (kind == FPMD_BALANCE_HASH && build_ring(b, names) != FPMD_OK)
        goto fail;
    if (kind == FPMD_BALANCE_RANDOM) {
        if (getrandom(&seed, sizeof(seed), 0) != (ssize_t) sizeof(seed))
            goto fail;
        fpmd_balancer_seed(b, seed);
    }
    return b;

fail:
    fpmd_balancer_free(b);
    return NULL;
}

void
fpmd_balancer_free(struct fpmd_balancer *b)
{
    if (b == NULL)
        return;
    free(b->weight);
    free(b->current);
    free(b->ring);
    free(b);
}

void
fpmd_balancer_seed(struct fpmd_balancer *b, uint64_t seed)
{
    /* splitmix64 spreads small seeds over the state, which xorshift
     * needs non-zero */
    uint64_t z = seed + 0x9e3779b97f4a7c15ULL;

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    b->rng = z != 0 ? z : 0x9e3779b97f4a7c15ULL;
}

/* xorshift64* (Vigna, 2016): plenty for spreading load, and a state per
 * balancer rather than rand()'s one per process. */
static uint64_t
next_random(struct fpmd_balancer *b)
{
    uint64_t x = b->rng;

    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    b->rng = x;
    return x * 0x2545f4914f6cdd1dULL;
}

static bool
is_usable(const bool *usable, unsigned i)
{
    return usable == NULL || usable[i];
}

static int
pick_round_robin(struct fpmd_balancer *b, const bool *usable)
{
    for (unsigned k = 0; k < b->n; k++) {
        unsigned i = (b->next + k) % b->n;

        if (is_usable(usable, i)) {
            b->next = (i + 1) % b->n;
            return (int) i;
        }
    }
    return -1;
}

static int
pick_random(struct fpmd_balancer *b, const bool *usable)
{
    uint64_t total = 0, r;

    for (unsigned i = 0; i < b->n; i++) {
        if (is_usable(usable, i))
            total += b->weight[i];
    }
    if (total == 0)
        return -1;
    /* the modulo's bias is total / 2^64, below 1e-13 */
    r = next_random(b) % total;
    for (unsigned i = 0;; i++) {
        if (!is_usable(usable, i))
            continue;
        if (r < b->weight[i])
            return (int) i;
        r -= b->weight[i];
    }
}

static int
pick_weighted(struct fpmd_balancer *b, const bool *usable)
{
    int64_t total = 0;
    int best = -1;

    for (unsigned i = 0; i < b->n; i++) {
        if (!is_usable(usable, i))
            continue;
        b->current[i] += b->weight[i];
        total += b->weight[i];
        if (best < 0 || b->current[i] > b->current[best])
            best = (int) i;
    }
    if (best >= 0)
        b->current[best] -= total;
    return best;
}

static int
pick_least_in_flight(struct fpmd_balancer *b, const bool *usable,
                     const unsigned *in_flight)
{
    int best = -1;

    /* from the cursor, so that the first of equal loads rotates */
    for (unsigned k = 0; k < b->n; k++) {
        unsigned i = (b->next + k) % b->n;

        if (!is_usable(usable, i))
            continue;
        if (best < 0) {
            best = (int) i;
        } else if (in_flight != NULL
                   /* a / wa < c / wc, without division */
                   && (uint64_t) in_flight[i] * b->weight[best]
                      < (uint64_t) in_flight[best] * b->weight[i]) {
            best = (int) i;
        }
    }
    if (best >= 0)
        b->next = ((unsigned) best + 1) % b->n;
    return best;
}

static int
pick_hash(struct fpmd_balancer *b, const bool *usable, const void *key,
          size_t len)
{
    uint64_t h = fmix64(fnv1a(FNV_OFFSET, key, len));
    size_t lo = 0, hi = b->npoints;
    unsigned i;

    for (i = 0; i < b->n && !is_usable(usable, i); i++)
        ;
    if (i == b->n)
        return -1;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;

        if (b->ring[mid].hash < h)
            lo = mid + 1;
        else
            hi = mid;
    }
    /* every server has a point, and one is usable: this ends */
    for (size_t k = lo;; k++) {
        const struct point *p = &b->ring[k % b->npoints];

        if (is_usable(usable, p->server))
            return (int) p->server;
    }
}

int
fpmd_balancer_pick(struct fpmd_balancer *b, const bool *usable,
                   const unsigned *in_flight, const void *key, size_t len)
{
    switch (b->kind) {
    case FPMD_BALANCE_RANDOM:
        return pick_random(b, usable);
    case FPMD_BALANCE_WEIGHTED:
        return pick_weighted(b, usable);
    case FPMD_BALANCE_LEAST_IN_FLIGHT:
        return pick_least_in_flight(b, usable, in_flight);
    case FPMD_BALANCE_HASH:
        if (key != NULL)
            return pick_hash(b, usable, key, len);
        break;
    case FPMD_BALANCE_ROUND_ROBIN:
        break;
    }
    return pick_round_robin(b, usable);
}

int
fpmd_balance_parse(const char *name, enum fpmd_balance_kind *kind)
{
    for (size_t i = 0; i < FPMD_ARRAY_LEN(kind_names); i++) {
        if (strcmp(name, kind_names[i]) == 0) {
            *kind = (enum fpmd_balance_kind) i;
            return FPMD_OK;
        }
    }
    return FPMD_ERROR;
}

const char *
fpmd_balance_name(enum fpmd_balance_kind kind)
{
    if ((unsigned) kind >= FPMD_ARRAY_LEN(kind_names))
        return NULL;
    return kind_names[kind];
}
