/* SPDX-License-Identifier: BSD-2-Clause */
/* Fixed-size shared-memory tables (Swoole\Table's idea): rows of typed
 * columns under arbitrary byte keys, in one shared mapping the master
 * creates before fork, so that every process it forks reads and writes
 * the same rows. Nothing grows after create and no operation allocates;
 * a process killed in the middle of an operation leaves the table usable
 * by the others (see "Crash safety" in table.c). */
#ifndef FPMD_TABLE_H
#define FPMD_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fpmd/common.h"

/* Return codes beyond common.h's, for fpmd_table_strerror. */
#define FPMD_TABLE_NOT_FOUND    -100    /* no such row (or it expired) */
#define FPMD_TABLE_FULL         -101    /* every row is in use */
#define FPMD_TABLE_KEY_TOO_LONG -102    /* longer than the key size */
#define FPMD_TABLE_TOO_LONG     -103    /* bytes longer than the column */
#define FPMD_TABLE_NO_COLUMN    -104    /* no column of that index/name */
#define FPMD_TABLE_WRONG_TYPE   -105    /* the column has another type */
#define FPMD_TABLE_TOO_SMALL    -106    /* the caller's buffer is */
#define FPMD_TABLE_OVERFLOW     -107    /* incr would leave int64 */
#define FPMD_TABLE_MISMATCH     -108    /* cas: the value was another */

#define FPMD_TABLE_NAME_LEN 64          /* table and column names, NUL
                                         * included */
#define FPMD_TABLE_MAX_COLUMNS 32
#define FPMD_TABLE_KEY_DEFAULT 64
#define FPMD_TABLE_KEY_MAX 1024
#define FPMD_TABLE_BYTES_MAX (1u << 20) /* one bytes column */
#define FPMD_TABLE_MAX_ROWS (1u << 30)
#define FPMD_TABLE_MAX_MEMORY ((uint64_t) 1 << 30)  /* one mapping */

enum fpmd_table_type {
    FPMD_TABLE_INT = 1,     /* int64_t */
    FPMD_TABLE_FLOAT = 2,   /* double */
    FPMD_TABLE_BYTES = 3,   /* up to size bytes, any of them */
};

struct fpmd_table_column {
    const char *name;
    enum fpmd_table_type type;
    uint32_t size;          /* FPMD_TABLE_BYTES: the longest value;
                             * ignored for the others */
};

/* What create reads; nothing of it is kept (names are copied). */
struct fpmd_table_spec {
    const char *name;
    uint32_t rows;          /* capacity, 1 .. FPMD_TABLE_MAX_ROWS */
    uint32_t key_size;      /* longest key in bytes; 0: the default */
    const struct fpmd_table_column *columns;
    uint32_t ncolumns;      /* 0 .. FPMD_TABLE_MAX_COLUMNS; 0 makes a set
                             * of keys */
};

/* One column's value for the row-wise calls, columns in spec order. */
struct fpmd_table_value {
    int64_t i;              /* FPMD_TABLE_INT */
    double f;               /* FPMD_TABLE_FLOAT */
    /* FPMD_TABLE_BYTES: set_row stores data[0..len); get_row copies the
     * value into buf (cap bytes) and sets len. */
    const void *data;
    void *buf;
    size_t cap;
    size_t len;
};

struct fpmd_table_stats {
    uint32_t rows;          /* capacity */
    uint32_t used;          /* as fpmd_table_count */
    uint64_t memory;        /* bytes of the mapping */
    uint64_t full;          /* inserts refused with FPMD_TABLE_FULL */
    uint64_t expired;       /* rows reclaimed after their TTL */
    uint64_t recovered;     /* locks taken over from a process that died
                             * holding them */
};

struct fpmd_table;

/* Maps a new table laid out from spec (before fork, so children inherit
 * it); the caller owns it and frees it with fpmd_table_destroy, once, in
 * the process that created it (children just exit). NULL on a spec that
 * is invalid or too large, or when mmap or getrandom fails, with a
 * message naming the table in err. */
struct fpmd_table *fpmd_table_create(const struct fpmd_table_spec *spec,
                                     char *err, size_t errlen);
void fpmd_table_destroy(struct fpmd_table *t);

/* true when spec would create a table of t's exact layout: same rows,
 * key size and columns (names, types, sizes, order), the name aside. A
 * config reload keeps such a table, rows and all. */
bool fpmd_table_same_layout(const struct fpmd_table *t,
                            const struct fpmd_table_spec *spec);

const char *fpmd_table_name(const struct fpmd_table *t);
/* The index of the column called name, or FPMD_TABLE_NO_COLUMN. Every
 * call below that takes a column takes this index, and answers a
 * negative one with FPMD_TABLE_NO_COLUMN, so a lookup's failure can be
 * passed straight through. */
int fpmd_table_column(const struct fpmd_table *t, const char *name);
uint32_t fpmd_table_capacity(const struct fpmd_table *t);
/* Rows in use now: expired ones not yet reclaimed included, and those a
 * process killed mid-call was adding or deleting, until the next call on
 * their stripe (or the next refusal for a full table) gives them back. */
uint32_t fpmd_table_count(const struct fpmd_table *t);
void fpmd_table_stats(const struct fpmd_table *t,
                      struct fpmd_table_stats *out);
/* A message for any code the calls below return; never NULL. */
const char *fpmd_table_strerror(int code);

/* Every call below locks the stripe of key (one of 256, chosen by the
 * key's hash) for its duration, so one call on one key is atomic with
 * respect to every other process; calls never suspend the coroutine and
 * wait at most for another process's call on a key of the same stripe.
 * Not async-signal-safe: no call from a signal handler. A key is klen
 * bytes of anything; longer than the table's key size is
 * FPMD_TABLE_KEY_TOO_LONG. FPMD_ERROR only if a lock reports itself
 * unrecoverable, which the recovery here never leaves one. */

/* Copies one value of the row out. FPMD_OK; FPMD_TABLE_NOT_FOUND;
 * FPMD_TABLE_NO_COLUMN, FPMD_TABLE_WRONG_TYPE; get_bytes: when the value
 * is longer than cap, FPMD_TABLE_TOO_SMALL with nothing copied and *len
 * set to its length (a buffer of the column's size always does). */
int fpmd_table_get_int(struct fpmd_table *t, const void *key, size_t klen,
                       int col, int64_t *out);
int fpmd_table_get_float(struct fpmd_table *t, const void *key, size_t klen,
                         int col, double *out);
int fpmd_table_get_bytes(struct fpmd_table *t, const void *key, size_t klen,
                         int col, void *buf, size_t cap, size_t *len);
/* Copies the whole row into vals[0..nvals), nvals being the column
 * count (else FPMD_TABLE_NO_COLUMN), in one critical section: a
 * consistent snapshot. Bytes columns as get_bytes, except that one
 * FPMD_TABLE_TOO_SMALL copies no column at all. */
int fpmd_table_get_row(struct fpmd_table *t, const void *key, size_t klen,
                       struct fpmd_table_value *vals, size_t nvals);

/* Set one column, creating the row when missing (its other columns 0 and
 * empty, no TTL); an existing row keeps its TTL. FPMD_OK;
 * FPMD_TABLE_FULL; FPMD_TABLE_NO_COLUMN, FPMD_TABLE_WRONG_TYPE,
 * FPMD_TABLE_TOO_LONG, checked before anything changes. */
int fpmd_table_set_int(struct fpmd_table *t, const void *key, size_t klen,
                       int col, int64_t v);
int fpmd_table_set_float(struct fpmd_table *t, const void *key, size_t klen,
                         int col, double v);
int fpmd_table_set_bytes(struct fpmd_table *t, const void *key, size_t klen,
                         int col, const void *v, size_t len);
/* Sets every column from vals[0..nvals) (nvals the column count) and the
 * row's TTL: expires ttl_ms milliseconds from now, never with 0 (like
 * Redis's SET, a whole-row set replaces the TTL). Creates the row when
 * missing. Codes as the single-column setters. */
int fpmd_table_set_row(struct fpmd_table *t, const void *key, size_t klen,
                       const struct fpmd_table_value *vals, size_t nvals,
                       uint64_t ttl_ms);
/* Gives an existing row a TTL of ttl_ms from now; 0 removes its TTL.
 * FPMD_OK or FPMD_TABLE_NOT_FOUND. */
int fpmd_table_expire(struct fpmd_table *t, const void *key, size_t klen,
                      uint64_t ttl_ms);

/* FPMD_OK or FPMD_TABLE_NOT_FOUND. */
int fpmd_table_delete(struct fpmd_table *t, const void *key, size_t klen);
bool fpmd_table_exists(struct fpmd_table *t, const void *key, size_t klen);

/* Adds delta to an int column and stores the sum in *result (may be
 * NULL); a missing row is created with 0 first. FPMD_TABLE_OVERFLOW
 * leaves the value as it was. Other codes as the setters. */
int fpmd_table_incr(struct fpmd_table *t, const void *key, size_t klen,
                    int col, int64_t delta, int64_t *result);
/* Same for a float column (IEEE addition: no overflow code). */
int fpmd_table_incr_float(struct fpmd_table *t, const void *key,
                          size_t klen, int col, double delta,
                          double *result);
/* Compare and set an int column: when it holds *expected, stores desired
 * and returns FPMD_OK; else returns FPMD_TABLE_MISMATCH and puts the
 * value it holds in *expected (C11's compare_exchange). A missing row
 * holds 0, as for incr: cas from 0 creates it. Other codes as the
 * setters. */
int fpmd_table_cas(struct fpmd_table *t, const void *key, size_t klen,
                   int col, int64_t *expected, int64_t desired);

#endif
