/* SPDX-License-Identifier: BSD-2-Clause */
/* Circuit breakers in shared memory, each under its own robust mutex,
 * held for a few comparisons and stores; no call allocates or reads a
 * clock.
 *
 * Crash safety: a process may die holding the lock, and the next one to
 * take it (EOWNERDEAD) goes on with what it left. Every change of state
 * stores the state word last, so that a change cut short leaves the old
 * state with fields that state does not read. Half-open, a probe is
 * counted out before it is counted sent, and counted ok before it stops
 * being out, so that sent <= out + oks holds whatever store a process
 * dies after: half-open is either waiting on a probe that is out, which
 * expires, or has a probe left to send; it cannot wedge. The dead
 * process's own call may be missing from the counters. */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <sys/mman.h>

#include "fpmd/breaker.h"
#include "fpmd/breaker_impl.h"

#define BUCKETS 10
#define CACHE_LINE 64

/* One tenth of the error-rate window. */
struct bucket {
    uint64_t epoch;             /* now / bucket_us of its calls */
    uint64_t calls, failures;
};

struct fpmd_breaker {
    pthread_mutex_t lock;
    uint32_t state;
    uint32_t consecutive;       /* closed: failures in a row */
    uint32_t sent;              /* half-open: probes let through */
    uint32_t out;               /* half-open: probes not reported yet */
    uint32_t oks;               /* half-open: probes that succeeded */
    uint64_t opened_at;         /* open: since when */
    uint64_t probe_at;          /* half-open: the last probe's start */
    uint64_t bucket_us;         /* as the last report's conf had it */
    uint64_t opened, rejected;
    struct bucket window[BUCKETS];
} __attribute__((aligned(CACHE_LINE)));

static const char *const state_names[] = {
    [FPMD_BREAKER_CLOSED] = "closed",
    [FPMD_BREAKER_OPEN] = "open",
    [FPMD_BREAKER_HALF_OPEN] = "half_open",
};

static int
take_lock(struct fpmd_breaker *b)
{
    int rc = pthread_mutex_lock(&b->lock);

    if (rc == EOWNERDEAD)
        rc = pthread_mutex_consistent(&b->lock);
    return rc == 0 ? FPMD_OK : FPMD_ERROR;
}

static void
lock(struct fpmd_breaker *b)
{
    int rc = take_lock(b);

    /* robust, and made consistent by whoever finds its owner dead: it
     * fails only on memory that holds no breaker */
    FPMD_ASSERT(rc == FPMD_OK);
}

static void
unlock(struct fpmd_breaker *b)
{
    pthread_mutex_unlock(&b->lock);
}

/* A release store: the compiler keeps every store before it before it,
 * which is the order a process killed in between leaves behind. */
static void
set(uint32_t *field, uint32_t v)
{
    __atomic_store_n(field, v, __ATOMIC_RELEASE);
}

static uint64_t
after(uint64_t t, uint64_t d)
{
    uint64_t r;

    return __builtin_add_overflow(t, d, &r) ? UINT64_MAX : r;
}

static unsigned
probes_of(const struct fpmd_breaker_conf *c)
{
    return c->probes > 0 ? c->probes : 1;
}

static void
trip(struct fpmd_breaker *b, uint64_t now)
{
    b->opened_at = now;
    b->opened++;
    b->consecutive = 0;
    set(&b->state, FPMD_BREAKER_OPEN);
}

static void
half_open(struct fpmd_breaker *b)
{
    b->sent = 0;
    b->out = 0;
    b->oks = 0;
    set(&b->state, FPMD_BREAKER_HALF_OPEN);
}

static void
close_breaker(struct fpmd_breaker *b)
{
    /* the failures that opened it would open it again at the next one */
    memset(b->window, 0, sizeof(b->window));
    b->consecutive = 0;
    set(&b->state, FPMD_BREAKER_CLOSED);
}

static void
count(struct fpmd_breaker *b, const struct fpmd_breaker_conf *c,
      uint64_t now, bool ok)
{
    struct bucket *k;
    uint64_t epoch;

    b->bucket_us = c->window_us / BUCKETS > 0 ? c->window_us / BUCKETS : 1;
    epoch = now / b->bucket_us;
    k = &b->window[epoch % BUCKETS];
    /* a later epoch than now's is a process's whose clock read came
     * after ours: its bucket is the current one */
    if (k->epoch < epoch) {
        k->epoch = epoch;
        k->calls = 0;
        k->failures = 0;
    }
    k->calls++;
    if (!ok)
        k->failures++;
}

static void
window_sum(const struct fpmd_breaker *b, uint64_t now, uint64_t *calls,
           uint64_t *failures)
{
    uint64_t epoch;

    *calls = 0;
    *failures = 0;
    if (b->bucket_us == 0)
        return;
    epoch = now / b->bucket_us;
    for (int i = 0; i < BUCKETS; i++) {
        if (b->window[i].epoch + BUCKETS > epoch) {
            *calls += b->window[i].calls;
            *failures += b->window[i].failures;
        }
    }
}

/* Closed, after a failure was counted. */
static bool
should_open(const struct fpmd_breaker *b, const struct fpmd_breaker_conf *c,
            uint64_t now)
{
    uint64_t calls, failures;

    if (c->failures > 0 && b->consecutive >= c->failures)
        return true;
    if (c->error_rate == 0)
        return false;
    window_sum(b, now, &calls, &failures);
    return calls >= c->min_calls
        && failures * 100 >= (uint64_t) c->error_rate * calls;
}

size_t
fpmd_breaker_size(void)
{
    return sizeof(struct fpmd_breaker);
}

int
fpmd_breaker_init(struct fpmd_breaker *b)
{
    pthread_mutexattr_t attr;
    int rc;

    if (pthread_mutexattr_init(&attr) != 0)
        return FPMD_ERROR;
    /* robust: the death of a process holding it is reported to the next
     * one, not a deadlock of the pool */
    rc = pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
    if (rc == 0)
        rc = pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
    if (rc == 0)
        rc = pthread_mutex_init(&b->lock, &attr);
    pthread_mutexattr_destroy(&attr);
    return rc == 0 ? FPMD_OK : FPMD_ERROR;
}

int
fpmd_breaker_allow(struct fpmd_breaker *b, const struct fpmd_breaker_conf *c,
                   uint64_t now_us, bool *probe, uint64_t *retry_us)
{
    unsigned probes = probes_of(c);
    int rc = FPMD_OK;

    *probe = false;
    *retry_us = 0;
    lock(b);
    if (b->state == FPMD_BREAKER_HALF_OPEN
        && (b->out > 0 || b->sent >= probes)
        && now_us >= after(b->probe_at, c->open_us))
        trip(b, now_us);
    if (b->state == FPMD_BREAKER_OPEN
        && now_us >= after(b->opened_at, c->open_us))
        half_open(b);
    if (b->state == FPMD_BREAKER_OPEN) {
        rc = FPMD_AGAIN;
        *retry_us = after(b->opened_at, c->open_us) - now_us;
    } else if (b->state == FPMD_BREAKER_HALF_OPEN) {
        if (b->sent < probes) {
            /* another process's earlier clock read must not make the
             * probes expire sooner */
            if (now_us > b->probe_at || b->sent == 0)
                b->probe_at = now_us;
            set(&b->out, b->out + 1);
            set(&b->sent, b->sent + 1);
            *probe = true;
        } else {
            rc = FPMD_AGAIN;
            *retry_us = after(b->probe_at, c->open_us) - now_us;
        }
    }
    if (rc == FPMD_AGAIN)
        b->rejected++;
    unlock(b);
    return rc;
}

enum fpmd_breaker_state
fpmd_breaker_report(struct fpmd_breaker *b, const struct fpmd_breaker_conf *c,
                    uint64_t now_us, bool ok, bool probe, bool *changed)
{
    enum fpmd_breaker_state s;

    *changed = false;
    lock(b);
    if (b->state == FPMD_BREAKER_CLOSED) {
        count(b, c, now_us, ok);
        if (ok) {
            b->consecutive = 0;
        } else {
            b->consecutive++;
            if (should_open(b, c, now_us)) {
                trip(b, now_us);
                *changed = true;
            }
        }
    } else if (b->state == FPMD_BREAKER_HALF_OPEN && probe && b->out > 0) {
        if (!ok) {
            trip(b, now_us);
            *changed = true;
        } else {
            set(&b->oks, b->oks + 1);
            set(&b->out, b->out - 1);
            if (b->oks >= probes_of(c)) {
                close_breaker(b);
                *changed = true;
            }
        }
    }
    s = (enum fpmd_breaker_state) b->state;
    unlock(b);
    return s;
}

void
fpmd_breaker_stats(struct fpmd_breaker *b, uint64_t now_us,
                   struct fpmd_breaker_stats *out)
{
    lock(b);
    out->state = (enum fpmd_breaker_state) b->state;
    out->opened = b->opened;
    out->rejected = b->rejected;
    window_sum(b, now_us, &out->window_calls, &out->window_failures);
    unlock(b);
}

void
fpmd_breaker_reset(struct fpmd_breaker *b)
{
    lock(b);
    b->consecutive = b->sent = b->out = b->oks = 0;
    b->opened_at = b->probe_at = 0;
    b->opened = b->rejected = 0;
    memset(b->window, 0, sizeof(b->window));
    set(&b->state, FPMD_BREAKER_CLOSED);
    unlock(b);
}

const char *
fpmd_breaker_state_name(enum fpmd_breaker_state s)
{
    if ((unsigned) s >= FPMD_ARRAY_LEN(state_names))
        return NULL;
    return state_names[s];
}

struct fpmd_breaker_set {
    size_t n;
    size_t bytes;
    struct fpmd_breaker b[];
};

struct fpmd_breaker_set *
fpmd_breaker_set_new(size_t n)
{
    size_t bytes = sizeof(struct fpmd_breaker_set)
        + n * sizeof(struct fpmd_breaker);
    struct fpmd_breaker_set *set = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
                                        MAP_SHARED | MAP_ANONYMOUS, -1, 0);

    if (set == MAP_FAILED)
        return NULL;
    set->n = n;
    set->bytes = bytes;
    for (size_t i = 0; i < n; i++) {
        if (fpmd_breaker_init(&set->b[i]) != FPMD_OK) {
            munmap(set, bytes);
            return NULL;
        }
    }
    return set;
}

struct fpmd_breaker *
fpmd_breaker_set_at(struct fpmd_breaker_set *set, size_t i)
{
    FPMD_ASSERT(i < set->n);
    return &set->b[i];
}

void
fpmd_breaker_set_free(struct fpmd_breaker_set *set)
{
    if (set != NULL)
        munmap(set, set->bytes);
}

int
fpmd_breaker_lock(struct fpmd_breaker *b)
{
    return take_lock(b);
}
