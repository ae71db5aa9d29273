/* SPDX-License-Identifier: BSD-2-Clause */
/* Shared-memory tables: one mapping holds the layout, the locks, the
 * buckets and the rows. A key's SipHash-1-3 under the table's random key
 * picks its bucket, whose chain of rows is protected by one of 256
 * striped robust mutexes; rows come from one free list under its own
 * lock. Links are row indexes plus one (0 ends a chain, so a fresh
 * mapping is all empty chains), never pointers.
 *
 * Invariant, between critical sections: a row owned by stripe s (owner
 * s + 1) is linked in one chain of stripe s; an unowned row (owner 0) is
 * on the free list, or at or past `fresh` and never used.
 *
 * Crash safety: a process may die anywhere, holding locks. Every change
 * to a chain is one aligned store, made after the row it links is
 * complete (insert) or before the row is given back (delete), so the
 * chains never map a key to a half-written row; the next process that
 * takes a dead process's lock (EOWNERDEAD) repairs what the owner field
 * tells: the free list is rebuilt from it, and rows owned by the stripe
 * but in none of its chains (taken or unlinked by the dead process) go
 * back to it. Values the dead process was writing may stay torn. */
#include "config.h"

#include <endian.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>

#include "fpmd/clock.h"
#include "fpmd/siphash.h"
#include "fpmd/table.h"
#include "fpmd/table_impl.h"

#define NSTRIPES 256u
#define CACHE_LINE 64
/* A cache line of buckets for each stripe, so that no two stripes'
 * inserts and deletes write the same line. */
#define MIN_BUCKETS (NSTRIPES * CACHE_LINE / 4)
#define NONE 0u

struct column {
    char name[FPMD_TABLE_NAME_LEN];
    uint32_t type;
    uint32_t size;          /* bytes: the longest value */
    uint32_t offset;        /* of the value in a row's data */
    uint32_t pad;
};

struct stripe {
    pthread_mutex_t lock;
} __attribute__((aligned(CACHE_LINE)));

/* A row's head; its data holds the key (key_size rounded up to 8), then
 * each column's value: 8 bytes for int and float, a struct bytes_cell
 * for bytes. */
struct row {
    uint32_t owner;         /* 0 free; s + 1: stripe s's */
    uint32_t next;          /* index + 1 of the next row in the chain or
                             * the free list */
    uint32_t klen;
    uint32_t pad;
    uint64_t hash;
    uint64_t expires_ms;    /* CLOCK_MONOTONIC, the same in every
                             * process; 0 never */
    unsigned char data[];
};

struct bytes_cell {
    uint32_t len;
    uint32_t pad;
    unsigned char data[];
};

struct fpmd_table {
    /* Layout, written once by create. */
    char name[FPMD_TABLE_NAME_LEN];
    uint64_t size;
    uint64_t sipkey[2];
    uint32_t rows, key_size, ncolumns, row_size;
    uint32_t values_off;            /* of the first value in row data */
    uint32_t nbuckets;              /* a power of two, at least
                                     * MIN_BUCKETS */
    uint64_t off_stripes, off_buckets, off_rows;
    struct column columns[FPMD_TABLE_MAX_COLUMNS];

    /* Rows, under alloc.lock; used is read without it. */
    struct {
        pthread_mutex_t lock;
        uint32_t free_head;
        uint32_t fresh;
        uint32_t used;
    } alloc __attribute__((aligned(CACHE_LINE)));

    /* Atomics, written by any process. */
    struct {
        uint64_t expiry_hint;       /* no row expires before */
        uint64_t last_reclaim_ms;
        uint64_t full, expired, recovered;
    } shared __attribute__((aligned(CACHE_LINE)));
};

static struct stripe *
stripe_at(struct fpmd_table *t, uint32_t s)
{
    return (struct stripe *) (void *) ((char *) t + t->off_stripes) + s;
}

static uint32_t
stripe_of(uint64_t hash)
{
    return (uint32_t) (hash % NSTRIPES);
}

/* Stripe s's buckets, nbuckets / NSTRIPES of them side by side. */
static uint32_t *
stripe_buckets(struct fpmd_table *t, uint32_t s)
{
    return (uint32_t *) (void *) ((char *) t + t->off_buckets)
        + (uint64_t) s * (t->nbuckets / NSTRIPES);
}

static uint32_t *
bucket_at(struct fpmd_table *t, uint64_t hash)
{
    return stripe_buckets(t, stripe_of(hash))
        + (hash / NSTRIPES & (t->nbuckets / NSTRIPES - 1));
}

/* The row a link names: index + 1. */
static struct row *
row_at(struct fpmd_table *t, uint32_t link)
{
    return (struct row *) (void *) ((char *) t + t->off_rows
                                    + (uint64_t) (link - 1) * t->row_size);
}

static uint32_t
link_of(struct fpmd_table *t, const struct row *r)
{
    return (uint32_t) (((const char *) r - ((const char *) t + t->off_rows))
                       / t->row_size) + 1;
}

static uint64_t
now_ms(void)
{
    return fpmd_mono_ns() / 1000000;
}

static uint64_t
expiry_after(uint64_t now, uint64_t ttl_ms)
{
    uint64_t at;

    if (ttl_ms == 0)
        return 0;
    if (__builtin_add_overflow(now, ttl_ms, &at))
        return UINT64_MAX;
    return at;
}

static void
lower_hint(struct fpmd_table *t, uint64_t at)
{
    uint64_t cur = __atomic_load_n(&t->shared.expiry_hint, __ATOMIC_RELAXED);

    while (at < cur
           && !__atomic_compare_exchange_n(&t->shared.expiry_hint, &cur, at,
                                           true, __ATOMIC_RELAXED,
                                           __ATOMIC_RELAXED))
        ;
}

/* The free list, under alloc.lock. A row's owner is what recovery
 * trusts, so it changes before the list does: whatever point a process
 * dies at, rebuild_free_list makes the list exact again. */

static void
rebuild_free_list(struct fpmd_table *t)
{
    uint32_t head = NONE, used = 0;

    for (uint32_t link = 1; link <= t->alloc.fresh; link++) {
        struct row *r = row_at(t, link);

        if (__atomic_load_n(&r->owner, __ATOMIC_RELAXED) != 0) {
            used++;
            continue;
        }
        r->next = head;
        head = link;
    }
    t->alloc.free_head = head;
    __atomic_store_n(&t->alloc.used, used, __ATOMIC_RELAXED);
}

static int
lock_alloc(struct fpmd_table *t)
{
    int rc = pthread_mutex_lock(&t->alloc.lock);

    if (rc == EOWNERDEAD) {
        rebuild_free_list(t);
        __atomic_add_fetch(&t->shared.recovered, 1, __ATOMIC_RELAXED);
        rc = pthread_mutex_consistent(&t->alloc.lock);
    }
    return rc == 0 ? FPMD_OK : FPMD_ERROR;
}

/* A row for stripe s, owned by it and not yet linked anywhere; NULL when
 * every row is in use. */
static struct row *
take_row(struct fpmd_table *t, uint32_t s)
{
    struct row *r = NULL;
    uint32_t link;

    if (lock_alloc(t) != FPMD_OK)
        return NULL;
    if (t->alloc.free_head != NONE) {
        link = t->alloc.free_head;
        r = row_at(t, link);
        __atomic_store_n(&r->owner, s + 1, __ATOMIC_RELEASE);
        t->alloc.free_head = r->next;
    } else if (t->alloc.fresh < t->rows) {
        /* fresh first: a process dying before the owner is set leaves an
         * unowned row below fresh, which the rebuild finds */
        link = t->alloc.fresh + 1;
        __atomic_store_n(&t->alloc.fresh, link, __ATOMIC_RELEASE);
        r = row_at(t, link);
        __atomic_store_n(&r->owner, s + 1, __ATOMIC_RELEASE);
    }
    if (r != NULL)
        __atomic_add_fetch(&t->alloc.used, 1, __ATOMIC_RELAXED);
    pthread_mutex_unlock(&t->alloc.lock);
    return r;
}

/* Gives back a row already unlinked from its chain. */
static void
give_row(struct fpmd_table *t, struct row *r)
{
    if (lock_alloc(t) != FPMD_OK)
        return;
    __atomic_store_n(&r->owner, 0, __ATOMIC_RELEASE);
    r->next = t->alloc.free_head;
    t->alloc.free_head = link_of(t, r);
    __atomic_sub_fetch(&t->alloc.used, 1, __ATOMIC_RELAXED);
    pthread_mutex_unlock(&t->alloc.lock);
}

/* true when r is linked in the chain its hash names, that chain being
 * stripe s's. */
static bool
is_linked(struct fpmd_table *t, uint32_t s, const struct row *r)
{
    uint32_t target = link_of(t, r), link;

    if (stripe_of(r->hash) != s)
        return false;
    link = *bucket_at(t, r->hash);
    for (uint32_t steps = 0; link != NONE && steps < t->rows; steps++) {
        if (link == target)
            return true;
        link = row_at(t, link)->next;
    }
    return false;
}

/* Stripe s's lock came from a process that died holding it: rows it had
 * taken for s and not linked yet, or unlinked and not given back yet, go
 * back to the free list. O(rows), once per death. */
static void
recover_stripe(struct fpmd_table *t, uint32_t s)
{
    uint32_t fresh = __atomic_load_n(&t->alloc.fresh, __ATOMIC_RELAXED);

    for (uint32_t link = 1; link <= fresh; link++) {
        struct row *r = row_at(t, link);

        if (__atomic_load_n(&r->owner, __ATOMIC_ACQUIRE) == s + 1
            && !is_linked(t, s, r))
            give_row(t, r);
    }
    /* it may have died sweeping, the hint raised and not lowered back */
    __atomic_store_n(&t->shared.expiry_hint, 0, __ATOMIC_RELAXED);
    __atomic_add_fetch(&t->shared.recovered, 1, __ATOMIC_RELAXED);
}

/* What locking stripe s returned, as FPMD_OK (taken, recovered first
 * when its owner had died), FPMD_AGAIN (busy, from a trylock) or
 * FPMD_ERROR. */
static int
settle_lock(struct fpmd_table *t, uint32_t s, int rc)
{
    if (rc == EOWNERDEAD) {
        recover_stripe(t, s);
        rc = pthread_mutex_consistent(&stripe_at(t, s)->lock);
    }
    return rc == 0 ? FPMD_OK : rc == EBUSY ? FPMD_AGAIN : FPMD_ERROR;
}

static int
lock_stripe(struct fpmd_table *t, uint32_t s)
{
    return settle_lock(t, s, pthread_mutex_lock(&stripe_at(t, s)->lock));
}

static void
unlock_stripe(struct fpmd_table *t, uint32_t s)
{
    pthread_mutex_unlock(&stripe_at(t, s)->lock);
}

static bool
has_expired(const struct row *r, uint64_t *now)
{
    if (r->expires_ms == 0)
        return false;
    if (*now == 0)
        *now = now_ms();
    return *now >= r->expires_ms;
}

/* Unlinks the row *link names (one store) and gives it back. */
static void
drop_row(struct fpmd_table *t, uint32_t *link)
{
    struct row *r = row_at(t, *link);

    __atomic_store_n(link, r->next, __ATOMIC_RELEASE);
    give_row(t, r);
}

/* Removes the expired rows of stripe s's chains (s locked), and lowers
 * the hint to the expiry of every row left with one. */
static uint32_t
sweep_stripe(struct fpmd_table *t, uint32_t s, uint64_t now)
{
    uint32_t *buckets = stripe_buckets(t, s), freed = 0;

    for (uint32_t b = 0; b < t->nbuckets / NSTRIPES; b++) {
        uint32_t *link = &buckets[b];

        while (*link != NONE) {
            struct row *r = row_at(t, *link);

            if (r->expires_ms != 0 && now >= r->expires_ms) {
                drop_row(t, link);
                freed++;
                continue;
            }
            if (r->expires_ms != 0)
                lower_hint(t, r->expires_ms);
            link = &r->next;
        }
    }
    return freed;
}

/* The table is full and stripe `held` is locked: visits every stripe,
 * which recovers those of dead processes, and when some row may have
 * expired, sweeps them. At most once a millisecond across processes, so
 * that a flood of refused inserts costs no more than that; a stripe
 * locked by another process is left for the next time. true when a row
 * came free. */
static bool
reclaim(struct fpmd_table *t, uint32_t held)
{
    uint64_t now = now_ms(), last, used;
    uint32_t freed = 0;
    bool sweep;

    last = __atomic_load_n(&t->shared.last_reclaim_ms, __ATOMIC_RELAXED);
    if (now <= last
        || !__atomic_compare_exchange_n(&t->shared.last_reclaim_ms, &last,
                                        now, false, __ATOMIC_RELAXED,
                                        __ATOMIC_RELAXED))
        return false;
    used = __atomic_load_n(&t->alloc.used, __ATOMIC_RELAXED);
    sweep = now >= __atomic_load_n(&t->shared.expiry_hint, __ATOMIC_RELAXED);
    if (sweep)
        __atomic_store_n(&t->shared.expiry_hint, UINT64_MAX,
                         __ATOMIC_RELAXED);
    for (uint32_t s = 0; s < NSTRIPES; s++) {
        if (s != held) {
            int rc = settle_lock(t, s,
                               pthread_mutex_trylock(&stripe_at(t, s)->lock));

            if (rc != FPMD_OK) {
                if (sweep)
                    lower_hint(t, now);
                continue;
            }
        }
        if (sweep)
            freed += sweep_stripe(t, s, now);
        if (s != held)
            unlock_stripe(t, s);
    }
    if (freed > 0)
        __atomic_add_fetch(&t->shared.expired, freed, __ATOMIC_RELAXED);
    return __atomic_load_n(&t->alloc.used, __ATOMIC_RELAXED) < used
        || freed > 0;
}

/* One call's key: checked, hashed, its stripe locked. */
struct op {
    const unsigned char *key;
    uint32_t klen;
    uint32_t stripe;
    uint64_t hash;
    uint64_t now;           /* ms, read once when first needed */
};

static int
begin(struct fpmd_table *t, const void *key, size_t klen, struct op *op)
{
    if (klen > t->key_size)
        return FPMD_TABLE_KEY_TOO_LONG;
    op->key = key;
    op->klen = (uint32_t) klen;
    op->hash = fpmd_siphash13(t->sipkey, key, klen);
    op->stripe = stripe_of(op->hash);
    op->now = 0;
    return lock_stripe(t, op->stripe);
}

static void
end(struct fpmd_table *t, const struct op *op)
{
    unlock_stripe(t, op->stripe);
}

/* The link naming op's row, or NULL; expired rows met on the way are
 * removed. */
static uint32_t *
find(struct fpmd_table *t, struct op *op)
{
    uint32_t *link = bucket_at(t, op->hash);

    while (*link != NONE) {
        struct row *r = row_at(t, *link);

        if (has_expired(r, &op->now)) {
            drop_row(t, link);
            __atomic_add_fetch(&t->shared.expired, 1, __ATOMIC_RELAXED);
            continue;
        }
        if (r->hash == op->hash && r->klen == op->klen
            && (op->klen == 0 || memcmp(r->data, op->key, op->klen) == 0))
            return link;
        link = &r->next;
    }
    return NULL;
}

static struct row *
find_row(struct fpmd_table *t, struct op *op)
{
    uint32_t *link = find(t, op);

    return link != NULL ? row_at(t, *link) : NULL;
}

/* A new row for op's key, which find did not find: values 0 and empty,
 * no TTL. NULL when the table is full. */
static struct row *
add_row(struct fpmd_table *t, struct op *op)
{
    struct row *r = take_row(t, op->stripe);
    uint32_t *head;

    if (r == NULL && reclaim(t, op->stripe))
        r = take_row(t, op->stripe);
    if (r == NULL) {
        __atomic_add_fetch(&t->shared.full, 1, __ATOMIC_RELAXED);
        return NULL;
    }
    r->klen = op->klen;
    r->hash = op->hash;
    r->expires_ms = 0;
    if (op->klen > 0)
        memcpy(r->data, op->key, op->klen);
    memset(r->data + t->values_off, 0,
           t->row_size - sizeof(struct row) - t->values_off);
    head = bucket_at(t, op->hash);
    r->next = *head;
    /* the one store that makes the row findable, after all of it */
    __atomic_store_n(head, link_of(t, r), __ATOMIC_RELEASE);
    return r;
}

static struct row *
find_or_add(struct fpmd_table *t, struct op *op)
{
    struct row *r = find_row(t, op);

    return r != NULL ? r : add_row(t, op);
}

static int
column(const struct fpmd_table *t, int col, uint32_t type,
       const struct column **c)
{
    if (col < 0 || (uint32_t) col >= t->ncolumns)
        return FPMD_TABLE_NO_COLUMN;
    *c = &t->columns[col];
    return (*c)->type == type ? FPMD_OK : FPMD_TABLE_WRONG_TYPE;
}

static unsigned char *
cell(struct row *r, const struct column *c)
{
    return r->data + c->offset;
}

static struct bytes_cell *
bytes_cell(struct row *r, const struct column *c)
{
    return (struct bytes_cell *) (void *) cell(r, c);
}

/* A bytes value's length: a dead writer cannot leave one longer than its
 * column, but a copy out of the mapping is bounded by the column anyway. */
static size_t
bytes_len(const struct bytes_cell *b, const struct column *c)
{
    return b->len <= c->size ? b->len : c->size;
}

static void
put_bytes(struct row *r, const struct column *c, const void *v, size_t len)
{
    struct bytes_cell *b = bytes_cell(r, c);

    if (len > 0)
        memcpy(b->data, v, len);
    b->len = (uint32_t) len;
}

static void
set_ttl(struct fpmd_table *t, struct row *r, struct op *op, uint64_t ttl_ms)
{
    if (ttl_ms != 0 && op->now == 0)
        op->now = now_ms();
    r->expires_ms = expiry_after(op->now, ttl_ms);
    if (r->expires_ms != 0)
        lower_hint(t, r->expires_ms);
}

/* Copies out the 8-byte value of an int or float column. */
static int
get_word(struct fpmd_table *t, const void *key, size_t klen, int col,
         uint32_t type, void *out)
{
    const struct column *c;
    struct row *r;
    struct op op;
    int rc;

    if ((rc = column(t, col, type, &c)) != FPMD_OK
        || (rc = begin(t, key, klen, &op)) != FPMD_OK)
        return rc;
    r = find_row(t, &op);
    if (r != NULL)
        memcpy(out, cell(r, c), 8);
    end(t, &op);
    return r != NULL ? FPMD_OK : FPMD_TABLE_NOT_FOUND;
}

static int
set_word(struct fpmd_table *t, const void *key, size_t klen, int col,
         uint32_t type, const void *v)
{
    const struct column *c;
    struct row *r;
    struct op op;
    int rc;

    if ((rc = column(t, col, type, &c)) != FPMD_OK
        || (rc = begin(t, key, klen, &op)) != FPMD_OK)
        return rc;
    r = find_or_add(t, &op);
    if (r != NULL)
        memcpy(cell(r, c), v, 8);
    end(t, &op);
    return r != NULL ? FPMD_OK : FPMD_TABLE_FULL;
}

int
fpmd_table_get_int(struct fpmd_table *t, const void *key, size_t klen,
                   int col, int64_t *out)
{
    return get_word(t, key, klen, col, FPMD_TABLE_INT, out);
}

int
fpmd_table_get_float(struct fpmd_table *t, const void *key, size_t klen,
                     int col, double *out)
{
    return get_word(t, key, klen, col, FPMD_TABLE_FLOAT, out);
}

int
fpmd_table_get_bytes(struct fpmd_table *t, const void *key, size_t klen,
                     int col, void *buf, size_t cap, size_t *len)
{
    const struct column *c;
    struct row *r;
    struct op op;
    int rc;

    if ((rc = column(t, col, FPMD_TABLE_BYTES, &c)) != FPMD_OK
        || (rc = begin(t, key, klen, &op)) != FPMD_OK)
        return rc;
    r = find_row(t, &op);
    if (r == NULL) {
        rc = FPMD_TABLE_NOT_FOUND;
    } else {
        const struct bytes_cell *b = bytes_cell(r, c);

        *len = bytes_len(b, c);
        if (*len > cap)
            rc = FPMD_TABLE_TOO_SMALL;
        else if (*len > 0)
            memcpy(buf, b->data, *len);
    }
    end(t, &op);
    return rc;
}

int
fpmd_table_get_row(struct fpmd_table *t, const void *key, size_t klen,
                   struct fpmd_table_value *vals, size_t nvals)
{
    struct row *r;
    struct op op;
    int rc;

    if (nvals != t->ncolumns)
        return FPMD_TABLE_NO_COLUMN;
    if ((rc = begin(t, key, klen, &op)) != FPMD_OK)
        return rc;
    r = find_row(t, &op);
    if (r == NULL) {
        end(t, &op);
        return FPMD_TABLE_NOT_FOUND;
    }
    for (uint32_t i = 0; i < t->ncolumns; i++) {
        const struct column *c = &t->columns[i];

        if (c->type != FPMD_TABLE_BYTES)
            continue;
        vals[i].len = bytes_len(bytes_cell(r, c), c);
        if (vals[i].len > vals[i].cap)
            rc = FPMD_TABLE_TOO_SMALL;
    }
    for (uint32_t i = 0; rc == FPMD_OK && i < t->ncolumns; i++) {
        const struct column *c = &t->columns[i];

        if (c->type == FPMD_TABLE_INT)
            memcpy(&vals[i].i, cell(r, c), 8);
        else if (c->type == FPMD_TABLE_FLOAT)
            memcpy(&vals[i].f, cell(r, c), 8);
        else if (vals[i].len > 0)
            memcpy(vals[i].buf, bytes_cell(r, c)->data, vals[i].len);
    }
    end(t, &op);
    return rc;
}

int
fpmd_table_set_int(struct fpmd_table *t, const void *key, size_t klen,
                   int col, int64_t v)
{
    return set_word(t, key, klen, col, FPMD_TABLE_INT, &v);
}

int
fpmd_table_set_float(struct fpmd_table *t, const void *key, size_t klen,
                     int col, double v)
{
    return set_word(t, key, klen, col, FPMD_TABLE_FLOAT, &v);
}

int
fpmd_table_set_bytes(struct fpmd_table *t, const void *key, size_t klen,
                     int col, const void *v, size_t len)
{
    const struct column *c;
    struct row *r;
    struct op op;
    int rc;

    if ((rc = column(t, col, FPMD_TABLE_BYTES, &c)) != FPMD_OK)
        return rc;
    if (len > c->size)
        return FPMD_TABLE_TOO_LONG;
    if ((rc = begin(t, key, klen, &op)) != FPMD_OK)
        return rc;
    r = find_or_add(t, &op);
    if (r != NULL)
        put_bytes(r, c, v, len);
    end(t, &op);
    return r != NULL ? FPMD_OK : FPMD_TABLE_FULL;
}

int
fpmd_table_set_row(struct fpmd_table *t, const void *key, size_t klen,
                   const struct fpmd_table_value *vals, size_t nvals,
                   uint64_t ttl_ms)
{
    struct row *r;
    struct op op;
    int rc;

    if (nvals != t->ncolumns)
        return FPMD_TABLE_NO_COLUMN;
    for (uint32_t i = 0; i < t->ncolumns; i++) {
        if (t->columns[i].type == FPMD_TABLE_BYTES
            && vals[i].len > t->columns[i].size)
            return FPMD_TABLE_TOO_LONG;
    }
    if ((rc = begin(t, key, klen, &op)) != FPMD_OK)
        return rc;
    r = find_or_add(t, &op);
    if (r == NULL) {
        end(t, &op);
        return FPMD_TABLE_FULL;
    }
    for (uint32_t i = 0; i < t->ncolumns; i++) {
        const struct column *c = &t->columns[i];

        if (c->type == FPMD_TABLE_INT)
            memcpy(cell(r, c), &vals[i].i, 8);
        else if (c->type == FPMD_TABLE_FLOAT)
            memcpy(cell(r, c), &vals[i].f, 8);
        else
            put_bytes(r, c, vals[i].data, vals[i].len);
    }
    set_ttl(t, r, &op, ttl_ms);
    end(t, &op);
    return FPMD_OK;
}

int
fpmd_table_expire(struct fpmd_table *t, const void *key, size_t klen,
                  uint64_t ttl_ms)
{
    struct row *r;
    struct op op;
    int rc;

    if ((rc = begin(t, key, klen, &op)) != FPMD_OK)
        return rc;
    r = find_row(t, &op);
    if (r != NULL)
        set_ttl(t, r, &op, ttl_ms);
    end(t, &op);
    return r != NULL ? FPMD_OK : FPMD_TABLE_NOT_FOUND;
}

int
fpmd_table_delete(struct fpmd_table *t, const void *key, size_t klen)
{
    uint32_t *link;
    struct op op;
    int rc;

    if ((rc = begin(t, key, klen, &op)) != FPMD_OK)
        return rc;
    link = find(t, &op);
    if (link != NULL)
        drop_row(t, link);
    end(t, &op);
    return link != NULL ? FPMD_OK : FPMD_TABLE_NOT_FOUND;
}

bool
fpmd_table_exists(struct fpmd_table *t, const void *key, size_t klen)
{
    struct row *r;
    struct op op;

    if (begin(t, key, klen, &op) != FPMD_OK)
        return false;
    r = find_row(t, &op);
    end(t, &op);
    return r != NULL;
}

int
fpmd_table_incr(struct fpmd_table *t, const void *key, size_t klen, int col,
                int64_t delta, int64_t *result)
{
    const struct column *c;
    int64_t v, sum;
    struct row *r;
    struct op op;
    int rc;

    if ((rc = column(t, col, FPMD_TABLE_INT, &c)) != FPMD_OK
        || (rc = begin(t, key, klen, &op)) != FPMD_OK)
        return rc;
    r = find_or_add(t, &op);
    if (r == NULL) {
        rc = FPMD_TABLE_FULL;
    } else {
        memcpy(&v, cell(r, c), 8);
        if (__builtin_add_overflow(v, delta, &sum)) {
            rc = FPMD_TABLE_OVERFLOW;
        } else {
            memcpy(cell(r, c), &sum, 8);
            if (result != NULL)
                *result = sum;
        }
    }
    end(t, &op);
    return rc;
}

int
fpmd_table_incr_float(struct fpmd_table *t, const void *key, size_t klen,
                      int col, double delta, double *result)
{
    const struct column *c;
    struct row *r;
    struct op op;
    double v;
    int rc;

    if ((rc = column(t, col, FPMD_TABLE_FLOAT, &c)) != FPMD_OK
        || (rc = begin(t, key, klen, &op)) != FPMD_OK)
        return rc;
    r = find_or_add(t, &op);
    if (r != NULL) {
        memcpy(&v, cell(r, c), 8);
        v += delta;
        memcpy(cell(r, c), &v, 8);
        if (result != NULL)
            *result = v;
    }
    end(t, &op);
    return r != NULL ? FPMD_OK : FPMD_TABLE_FULL;
}

int
fpmd_table_cas(struct fpmd_table *t, const void *key, size_t klen, int col,
               int64_t *expected, int64_t desired)
{
    const struct column *c;
    int64_t v = 0;
    struct row *r;
    struct op op;
    int rc;

    if ((rc = column(t, col, FPMD_TABLE_INT, &c)) != FPMD_OK
        || (rc = begin(t, key, klen, &op)) != FPMD_OK)
        return rc;
    r = find_row(t, &op);
    if (r != NULL)
        memcpy(&v, cell(r, c), 8);
    if (v != *expected) {
        *expected = v;
        rc = FPMD_TABLE_MISMATCH;
    } else {
        if (r == NULL)
            r = add_row(t, &op);
        if (r != NULL)
            memcpy(cell(r, c), &desired, 8);
        else
            rc = FPMD_TABLE_FULL;
    }
    end(t, &op);
    return rc;
}

int
fpmd_table_lock_key(struct fpmd_table *t, const void *key, size_t klen)
{
    struct op op;

    return begin(t, key, klen, &op) == FPMD_OK ? FPMD_OK : FPMD_ERROR;
}

int
fpmd_table_lock_rows(struct fpmd_table *t)
{
    return lock_alloc(t);
}

const char *
fpmd_table_name(const struct fpmd_table *t)
{
    return t->name;
}

int
fpmd_table_column(const struct fpmd_table *t, const char *name)
{
    for (uint32_t i = 0; i < t->ncolumns; i++) {
        if (strcmp(t->columns[i].name, name) == 0)
            return (int) i;
    }
    return FPMD_TABLE_NO_COLUMN;
}

uint32_t
fpmd_table_capacity(const struct fpmd_table *t)
{
    return t->rows;
}

uint32_t
fpmd_table_count(const struct fpmd_table *t)
{
    return __atomic_load_n(&t->alloc.used, __ATOMIC_RELAXED);
}

void
fpmd_table_stats(const struct fpmd_table *t, struct fpmd_table_stats *out)
{
    out->rows = t->rows;
    out->used = fpmd_table_count(t);
    out->memory = t->size;
    out->full = __atomic_load_n(&t->shared.full, __ATOMIC_RELAXED);
    out->expired = __atomic_load_n(&t->shared.expired, __ATOMIC_RELAXED);
    out->recovered = __atomic_load_n(&t->shared.recovered, __ATOMIC_RELAXED);
}

const char *
fpmd_table_strerror(int code)
{
    switch (code) {
    case FPMD_OK:
        return "success";
    case FPMD_TABLE_NOT_FOUND:
        return "no such row";
    case FPMD_TABLE_FULL:
        return "table full: every row is in use";
    case FPMD_TABLE_KEY_TOO_LONG:
        return "key longer than the table's key size";
    case FPMD_TABLE_TOO_LONG:
        return "value longer than its column's size";
    case FPMD_TABLE_NO_COLUMN:
        return "no such column";
    case FPMD_TABLE_WRONG_TYPE:
        return "the column holds another type";
    case FPMD_TABLE_TOO_SMALL:
        return "buffer smaller than the value";
    case FPMD_TABLE_OVERFLOW:
        return "the sum would overflow a 64-bit integer";
    case FPMD_TABLE_MISMATCH:
        return "the value was not the one expected";
    case FPMD_ERROR:
        return "table lock unusable";
    default:
        return "unknown table error";
    }
}

/* Create: the spec checked, the mapping laid out from it. */

static uint32_t
round8(uint64_t n)
{
    return (uint32_t) ((n + 7) & ~(uint64_t) 7);
}

static uint64_t
round_line(uint64_t n)
{
    return (n + CACHE_LINE - 1) & ~(uint64_t) (CACHE_LINE - 1);
}

static uint32_t
key_size_of(const struct fpmd_table_spec *spec)
{
    return spec->key_size != 0 ? spec->key_size : FPMD_TABLE_KEY_DEFAULT;
}

/* The bytes a value of c takes in a row. */
static uint32_t
cell_size(const struct fpmd_table_column *c)
{
    if (c->type == FPMD_TABLE_BYTES)
        return round8(sizeof(struct bytes_cell) + (uint64_t) c->size);
    return 8;
}

static int
check_column(const struct fpmd_table_spec *spec, uint32_t i, char *err,
             size_t errlen)
{
    const struct fpmd_table_column *c = &spec->columns[i];

    if (c->name == NULL || c->name[0] == '\0'
        || strlen(c->name) >= FPMD_TABLE_NAME_LEN) {
        snprintf(err, errlen, "table \"%s\": column %" PRIu32 " needs a "
                 "name of 1 to %d bytes", spec->name, i + 1,
                 FPMD_TABLE_NAME_LEN - 1);
        return FPMD_ERROR;
    }
    for (uint32_t j = 0; j < i; j++) {
        if (strcmp(spec->columns[j].name, c->name) == 0) {
            snprintf(err, errlen, "table \"%s\": two columns named \"%s\"",
                     spec->name, c->name);
            return FPMD_ERROR;
        }
    }
    if (c->type != FPMD_TABLE_INT && c->type != FPMD_TABLE_FLOAT
        && c->type != FPMD_TABLE_BYTES) {
        snprintf(err, errlen, "table \"%s\": column \"%s\" has no type "
                 "(int, float or bytes)", spec->name, c->name);
        return FPMD_ERROR;
    }
    if (c->type == FPMD_TABLE_BYTES
        && (c->size == 0 || c->size > FPMD_TABLE_BYTES_MAX)) {
        snprintf(err, errlen, "table \"%s\": bytes column \"%s\" has size "
                 "%" PRIu32 ", not 1 to %u", spec->name, c->name, c->size,
                 FPMD_TABLE_BYTES_MAX);
        return FPMD_ERROR;
    }
    return FPMD_OK;
}

static int
check_spec(const struct fpmd_table_spec *spec, char *err, size_t errlen)
{
    if (spec->name == NULL || spec->name[0] == '\0'
        || strlen(spec->name) >= FPMD_TABLE_NAME_LEN) {
        snprintf(err, errlen, "a table needs a name of 1 to %d bytes",
                 FPMD_TABLE_NAME_LEN - 1);
        return FPMD_ERROR;
    }
    if (spec->rows == 0 || spec->rows > FPMD_TABLE_MAX_ROWS) {
        snprintf(err, errlen, "table \"%s\": rows is %" PRIu32 ", not 1 to "
                 "%u", spec->name, spec->rows, FPMD_TABLE_MAX_ROWS);
        return FPMD_ERROR;
    }
    if (key_size_of(spec) > FPMD_TABLE_KEY_MAX) {
        snprintf(err, errlen, "table \"%s\": key size %" PRIu32 " is more "
                 "than %d", spec->name, spec->key_size, FPMD_TABLE_KEY_MAX);
        return FPMD_ERROR;
    }
    if (spec->ncolumns > FPMD_TABLE_MAX_COLUMNS
        || (spec->ncolumns > 0 && spec->columns == NULL)) {
        snprintf(err, errlen, "table \"%s\": %" PRIu32 " columns, not 0 to "
                 "%d", spec->name, spec->ncolumns, FPMD_TABLE_MAX_COLUMNS);
        return FPMD_ERROR;
    }
    for (uint32_t i = 0; i < spec->ncolumns; i++) {
        if (check_column(spec, i, err, errlen) != FPMD_OK)
            return FPMD_ERROR;
    }
    return FPMD_OK;
}

/* Lays t out from spec, the mapping's size left to the caller. FPMD_ERROR
 * when it would take more than FPMD_TABLE_MAX_MEMORY. */
static int
lay_out(struct fpmd_table *t, const struct fpmd_table_spec *spec, char *err,
        size_t errlen)
{
    uint64_t row_size, rows_bytes, size;
    uint32_t off;

    t->rows = spec->rows;
    t->key_size = key_size_of(spec);
    t->ncolumns = spec->ncolumns;
    t->values_off = round8(t->key_size);
    off = t->values_off;
    for (uint32_t i = 0; i < spec->ncolumns; i++) {
        t->columns[i].offset = off;
        off += cell_size(&spec->columns[i]);
    }
    row_size = sizeof(struct row) + (uint64_t) off;
    t->nbuckets = MIN_BUCKETS;
    while (t->nbuckets < t->rows)
        t->nbuckets *= 2;
    t->off_stripes = round_line(sizeof(*t));
    t->off_buckets = t->off_stripes + NSTRIPES * sizeof(struct stripe);
    t->off_rows = round_line(t->off_buckets + (uint64_t) t->nbuckets * 4);
    if (__builtin_mul_overflow(row_size, (uint64_t) t->rows, &rows_bytes)
        || __builtin_add_overflow(t->off_rows, rows_bytes, &size))
        size = UINT64_MAX;
    if (size > FPMD_TABLE_MAX_MEMORY) {
        snprintf(err, errlen, "table \"%s\": %" PRIu32 " rows of %" PRIu64
                 " bytes need %" PRIu64 " MiB, more than the %" PRIu64
                 " MiB a table may take", spec->name, spec->rows, row_size,
                 size / (1024 * 1024) + (size % (1024 * 1024) != 0),
                 FPMD_TABLE_MAX_MEMORY / (1024 * 1024));
        return FPMD_ERROR;
    }
    t->row_size = (uint32_t) row_size;
    t->size = size;
    return FPMD_OK;
}

static int
init_locks(struct fpmd_table *t)
{
    pthread_mutexattr_t attr;
    int rc;

    if ((rc = pthread_mutexattr_init(&attr)) != 0)
        return rc;
    /* shared by every process that maps the table; robust, so that the
     * death of one holding it is reported to the next, not a deadlock */
    rc = pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
    if (rc == 0)
        rc = pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
    if (rc == 0)
        rc = pthread_mutex_init(&t->alloc.lock, &attr);
    for (uint32_t s = 0; rc == 0 && s < NSTRIPES; s++)
        rc = pthread_mutex_init(&stripe_at(t, s)->lock, &attr);
    pthread_mutexattr_destroy(&attr);
    return rc;
}

struct fpmd_table *
fpmd_table_create(const struct fpmd_table_spec *spec, char *err,
                  size_t errlen)
{
    struct fpmd_table layout, *t;
    uint64_t sipkey[2];
    int rc;

    memset(&layout, 0, sizeof(layout));
    if (check_spec(spec, err, errlen) != FPMD_OK
        || lay_out(&layout, spec, err, errlen) != FPMD_OK)
        return NULL;
    if (getrandom(sipkey, sizeof(sipkey), 0) != (ssize_t) sizeof(sipkey)) {
        snprintf(err, errlen, "table \"%s\": getrandom: %s", spec->name,
                 strerror(errno));
        return NULL;
    }
    /* anonymous pages come zeroed: every chain empty, every row unowned;
     * rows are touched only once used */
    t = mmap(NULL, layout.size, PROT_READ | PROT_WRITE,
             MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (t == MAP_FAILED) {
        snprintf(err, errlen, "table \"%s\": mmap of %" PRIu64 " bytes: %s",
                 spec->name, layout.size, strerror(errno));
        return NULL;
    }
    memcpy(t, &layout, sizeof(layout));
    memcpy(t->name, spec->name, strlen(spec->name) + 1);
    memcpy(t->sipkey, sipkey, sizeof(sipkey));
    for (uint32_t i = 0; i < spec->ncolumns; i++) {
        const struct fpmd_table_column *c = &spec->columns[i];

        memcpy(t->columns[i].name, c->name, strlen(c->name) + 1);
        t->columns[i].type = c->type;
        t->columns[i].size = c->type == FPMD_TABLE_BYTES ? c->size : 8;
    }
    t->shared.expiry_hint = UINT64_MAX;
    if ((rc = init_locks(t)) != 0) {
        snprintf(err, errlen, "table \"%s\": process-shared robust mutex: "
                 "%s", spec->name, strerror(rc));
        munmap(t, layout.size);
        return NULL;
    }
    return t;
}

void
fpmd_table_destroy(struct fpmd_table *t)
{
    /* Unmaps this process's view only. The mutexes are not destroyed:
     * children forked before (old workers draining after a reload) may
     * still use the table, and pthread_mutex_destroy would be wrong for
     * them; the memory goes with the last mapping. */
    if (t != NULL)
        munmap(t, t->size);
}

bool
fpmd_table_same_layout(const struct fpmd_table *t,
                       const struct fpmd_table_spec *spec)
{
    if (spec->rows != t->rows || key_size_of(spec) != t->key_size
        || spec->ncolumns != t->ncolumns
        || (spec->ncolumns > 0 && spec->columns == NULL))
        return false;
    for (uint32_t i = 0; i < t->ncolumns; i++) {
        const struct fpmd_table_column *c = &spec->columns[i];

        if (c->name == NULL || strcmp(c->name, t->columns[i].name) != 0
            || (uint32_t) c->type != t->columns[i].type
            || (c->type == FPMD_TABLE_BYTES && c->size != t->columns[i].size))
            return false;
    }
    return true;
}
