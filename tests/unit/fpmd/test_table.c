/* SPDX-License-Identifier: BSD-2-Clause */
/* Shared-memory tables: typed values in and out, every refusal with its
 * own code, rows found again after collisions and deletes, counters exact
 * under eight processes, and a table that outlives processes killed
 * holding its locks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "fpmd/table.h"
#include "fpmd/table_impl.h"

enum { HITS, RATE, BODY };

static const struct fpmd_table_column columns[] = {
    { "hits", FPMD_TABLE_INT, 0 },
    { "rate", FPMD_TABLE_FLOAT, 0 },
    { "body", FPMD_TABLE_BYTES, 16 },
};

static struct fpmd_table *
make(uint32_t rows)
{
    struct fpmd_table_spec spec = {
        .name = "t", .rows = rows, .key_size = 32,
        .columns = columns, .ncolumns = FPMD_ARRAY_LEN(columns),
    };
    char err[256] = "";
    struct fpmd_table *t = fpmd_table_create(&spec, err, sizeof(err));

    if (t == NULL)
        fail_msg("create: %s", err);
    return t;
}

static int
key_of(char *buf, size_t cap, const char *prefix, int i)
{
    return snprintf(buf, cap, "%s%d", prefix, i);
}

static void
sleep_ms(long ms)
{
    struct timespec ts = { 0, ms * 1000000 };

    nanosleep(&ts, NULL);
}

/* Forks n children that run fn(t, i) all at once (each waits for the
 * pipe's end of file) and exit with its status; true when every one
 * exited 0. */
static bool
run_children(struct fpmd_table *t, int n, int (*fn)(struct fpmd_table *, int))
{
    pid_t pids[16];
    bool ok = true;
    int go[2], status;
    char c;

    assert_int_equal(pipe(go), 0);
    for (int i = 0; i < n; i++) {
        pids[i] = fork();
        assert_true(pids[i] >= 0);
        if (pids[i] == 0) {
            close(go[1]);
            if (read(go[0], &c, 1) != 0)
                _exit(2);
            _exit(fn(t, i));
        }
    }
    close(go[0]);
    close(go[1]);
    for (int i = 0; i < n; i++) {
        assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
        ok = ok && WIFEXITED(status) && WEXITSTATUS(status) == 0;
    }
    return ok;
}

static void
table_sets_and_gets_each_type(void **state)
{
    struct fpmd_table *t = make(16);
    struct fpmd_table_value row[3], out[3];
    char body[16];
    int64_t i;
    double f;
    size_t len;

    (void) state;
    assert_string_equal(fpmd_table_name(t), "t");
    assert_int_equal(fpmd_table_column(t, "rate"), RATE);
    assert_int_equal(fpmd_table_capacity(t), 16);
    assert_int_equal(fpmd_table_set_int(t, "a", 1, HITS, -42), FPMD_OK);
    assert_int_equal(fpmd_table_set_float(t, "a", 1, RATE, 2.5), FPMD_OK);
    assert_int_equal(fpmd_table_set_bytes(t, "a", 1, BODY, "x\0y", 3),
                     FPMD_OK);
    assert_int_equal(fpmd_table_get_int(t, "a", 1, HITS, &i), FPMD_OK);
    assert_int_equal(i, -42);
    assert_int_equal(fpmd_table_get_float(t, "a", 1, RATE, &f), FPMD_OK);
    assert_true(f == 2.5);
    assert_int_equal(fpmd_table_get_bytes(t, "a", 1, BODY, body,
                                          sizeof(body), &len), FPMD_OK);
    assert_int_equal(len, 3);
    assert_memory_equal(body, "x\0y", 3);

    /* a row created by one column has the others 0 and empty */
    assert_int_equal(fpmd_table_set_float(t, "b", 1, RATE, 1.0), FPMD_OK);
    assert_int_equal(fpmd_table_get_int(t, "b", 1, HITS, &i), FPMD_OK);
    assert_int_equal(i, 0);
    assert_int_equal(fpmd_table_get_bytes(t, "b", 1, BODY, body,
                                          sizeof(body), &len), FPMD_OK);
    assert_int_equal(len, 0);

    /* whole rows, in and out; keys are bytes, NULs and all, even none */
    memset(row, 0, sizeof(row));
    row[HITS].i = INT64_MAX;
    row[RATE].f = -0.125;
    row[BODY].data = "0123456789abcdef";
    row[BODY].len = 16;
    assert_int_equal(fpmd_table_set_row(t, "k\0z", 3, row, 3, 0), FPMD_OK);
    assert_int_equal(fpmd_table_set_row(t, "", 0, row, 3, 0), FPMD_OK);
    memset(out, 0, sizeof(out));
    out[BODY].buf = body;
    out[BODY].cap = sizeof(body);
    assert_int_equal(fpmd_table_get_row(t, "k\0z", 3, out, 3), FPMD_OK);
    assert_int_equal(out[HITS].i, INT64_MAX);
    assert_true(out[RATE].f == -0.125);
    assert_int_equal(out[BODY].len, 16);
    assert_memory_equal(body, "0123456789abcdef", 16);
    assert_int_equal(fpmd_table_get_row(t, "", 0, out, 3), FPMD_OK);
    assert_int_equal(fpmd_table_get_row(t, "k", 1, out, 3),
                     FPMD_TABLE_NOT_FOUND);
    assert_int_equal(fpmd_table_count(t), 4);

    /* counters */
    assert_int_equal(fpmd_table_incr(t, "n", 1, HITS, 5, &i), FPMD_OK);
    assert_int_equal(i, 5);
    assert_int_equal(fpmd_table_incr(t, "n", 1, HITS, -7, &i), FPMD_OK);
    assert_int_equal(i, -2);
    assert_int_equal(fpmd_table_incr(t, "k\0z", 3, HITS, 1, &i),
                     FPMD_TABLE_OVERFLOW);
    assert_int_equal(fpmd_table_get_int(t, "k\0z", 3, HITS, &i), FPMD_OK);
    assert_int_equal(i, INT64_MAX);
    assert_int_equal(fpmd_table_incr_float(t, "n", 1, RATE, 0.5, &f),
                     FPMD_OK);
    assert_int_equal(fpmd_table_incr_float(t, "n", 1, RATE, 0.25, &f),
                     FPMD_OK);
    assert_true(f == 0.75);
    i = 0;
    assert_int_equal(fpmd_table_cas(t, "n", 1, HITS, &i, 9),
                     FPMD_TABLE_MISMATCH);
    assert_int_equal(i, -2);
    assert_int_equal(fpmd_table_cas(t, "n", 1, HITS, &i, 9), FPMD_OK);
    assert_int_equal(fpmd_table_get_int(t, "n", 1, HITS, &i), FPMD_OK);
    assert_int_equal(i, 9);
    /* a missing row holds 0, and cas from 0 creates it */
    i = 3;
    assert_int_equal(fpmd_table_cas(t, "m", 1, HITS, &i, 1),
                     FPMD_TABLE_MISMATCH);
    assert_int_equal(i, 0);
    assert_false(fpmd_table_exists(t, "m", 1));
    assert_int_equal(fpmd_table_cas(t, "m", 1, HITS, &i, 1), FPMD_OK);
    assert_true(fpmd_table_exists(t, "m", 1));
    fpmd_table_destroy(t);
}

static void
table_refuses_bad_calls_with_their_own_codes(void **state)
{
    struct fpmd_table *t = make(16);
    char key[33], body[16];
    struct fpmd_table_value row[3];
    size_t len = 0;
    int64_t i;
    double f;

    (void) state;
    memset(key, 'k', sizeof(key));
    assert_int_equal(fpmd_table_set_int(t, key, 33, HITS, 1),
                     FPMD_TABLE_KEY_TOO_LONG);
    assert_int_equal(fpmd_table_get_int(t, key, 33, HITS, &i),
                     FPMD_TABLE_KEY_TOO_LONG);
    assert_false(fpmd_table_exists(t, key, 33));
    assert_int_equal(fpmd_table_delete(t, key, 33),
                     FPMD_TABLE_KEY_TOO_LONG);
    assert_int_equal(fpmd_table_set_int(t, key, 32, HITS, 1), FPMD_OK);
    assert_int_equal(fpmd_table_set_bytes(t, "a", 1, BODY, body, 17),
                     FPMD_TABLE_TOO_LONG);
    assert_int_equal(fpmd_table_set_int(t, "a", 1, RATE, 1),
                     FPMD_TABLE_WRONG_TYPE);
    assert_int_equal(fpmd_table_incr(t, "a", 1, BODY, 1, NULL),
                     FPMD_TABLE_WRONG_TYPE);
    assert_int_equal(fpmd_table_get_float(t, "a", 1, HITS, &f),
                     FPMD_TABLE_WRONG_TYPE);
    assert_int_equal(fpmd_table_set_int(t, "a", 1, 3, 1),
                     FPMD_TABLE_NO_COLUMN);
    /* a failed name lookup passes straight through */
    assert_int_equal(fpmd_table_incr(t, "a", 1,
                                     fpmd_table_column(t, "nope"), 1, NULL),
                     FPMD_TABLE_NO_COLUMN);
    assert_int_equal(fpmd_table_get_int(t, "a", 1, HITS, &i),
                     FPMD_TABLE_NOT_FOUND);
    /* none of the refusals above made a row */
    assert_int_equal(fpmd_table_count(t), 1);

    assert_int_equal(fpmd_table_set_bytes(t, "a", 1, BODY, "0123456789", 10),
                     FPMD_OK);
    assert_int_equal(fpmd_table_get_bytes(t, "a", 1, BODY, body, 9, &len),
                     FPMD_TABLE_TOO_SMALL);
    assert_int_equal(len, 10);
    memset(row, 0, sizeof(row));
    row[BODY].buf = body;
    row[BODY].cap = 4;
    assert_int_equal(fpmd_table_get_row(t, "a", 1, row, 3),
                     FPMD_TABLE_TOO_SMALL);
    assert_int_equal(row[BODY].len, 10);
    assert_int_equal(fpmd_table_get_row(t, "a", 1, row, 2),
                     FPMD_TABLE_NO_COLUMN);
    row[BODY].data = body;
    row[BODY].len = 17;
    assert_int_equal(fpmd_table_set_row(t, "b", 1, row, 3, 0),
                     FPMD_TABLE_TOO_LONG);
    assert_false(fpmd_table_exists(t, "b", 1));

    for (int code = FPMD_TABLE_MISMATCH; code <= FPMD_TABLE_NOT_FOUND;
         code++)
        assert_string_not_equal(fpmd_table_strerror(code),
                                fpmd_table_strerror(-12345));
    fpmd_table_destroy(t);
}

static void
table_deletes_rows(void **state)
{
    struct fpmd_table *t = make(16);

    (void) state;
    assert_int_equal(fpmd_table_set_int(t, "a", 1, HITS, 1), FPMD_OK);
    assert_int_equal(fpmd_table_set_int(t, "b", 1, HITS, 2), FPMD_OK);
    assert_true(fpmd_table_exists(t, "a", 1));
    assert_int_equal(fpmd_table_count(t), 2);
    assert_int_equal(fpmd_table_delete(t, "a", 1), FPMD_OK);
    assert_false(fpmd_table_exists(t, "a", 1));
    assert_true(fpmd_table_exists(t, "b", 1));
    assert_int_equal(fpmd_table_delete(t, "a", 1), FPMD_TABLE_NOT_FOUND);
    assert_int_equal(fpmd_table_count(t), 1);
    fpmd_table_destroy(t);
}

static void
table_refuses_a_row_when_full_until_one_is_deleted(void **state)
{
    struct fpmd_table *t = make(8);
    struct fpmd_table_stats st;
    char key[16];
    int64_t v;

    (void) state;
    for (int i = 0; i < 8; i++)
        assert_int_equal(fpmd_table_set_int(t, key, key_of(key, sizeof(key),
                                                           "k", i),
                                            HITS, i), FPMD_OK);
    assert_int_equal(fpmd_table_set_int(t, "new", 3, HITS, 1),
                     FPMD_TABLE_FULL);
    assert_int_equal(fpmd_table_incr(t, "new", 3, HITS, 1, NULL),
                     FPMD_TABLE_FULL);
    /* rows in place still change */
    assert_int_equal(fpmd_table_incr(t, "k7", 2, HITS, 1, &v), FPMD_OK);
    assert_int_equal(v, 8);
    fpmd_table_stats(t, &st);
    assert_int_equal(st.rows, 8);
    assert_int_equal(st.used, 8);
    assert_int_equal(st.full, 2);
    assert_true(st.memory > 8 * 32);
    assert_int_equal(fpmd_table_delete(t, "k3", 2), FPMD_OK);
    assert_int_equal(fpmd_table_set_int(t, "new", 3, HITS, 1), FPMD_OK);
    assert_int_equal(fpmd_table_set_int(t, "k3", 2, HITS, 1),
                     FPMD_TABLE_FULL);
    for (int i = 0; i < 8; i++) {
        int rc = fpmd_table_get_int(t, key, key_of(key, sizeof(key), "k", i),
                                    HITS, &v);

        assert_int_equal(rc, i == 3 ? FPMD_TABLE_NOT_FOUND : FPMD_OK);
        if (rc == FPMD_OK)
            assert_int_equal(v, i == 7 ? 8 : i);
    }
    fpmd_table_destroy(t);
}

/* key (one byte) reads as missing within 40 ms. */
static bool
gone_soon(struct fpmd_table *t, const char *key)
{
    for (int waited = 0; fpmd_table_exists(t, key, 1) && waited < 40;
         waited++)
        sleep_ms(1);
    return !fpmd_table_exists(t, key, 1);
}

static void
table_expires_rows_after_their_ttl(void **state)
{
    struct fpmd_table *t = make(5);
    struct fpmd_table_value row[3];
    struct fpmd_table_stats st;
    int rc = FPMD_TABLE_FULL;
    int64_t v;

    (void) state;
    memset(row, 0, sizeof(row));
    row[HITS].i = 7;
    assert_int_equal(fpmd_table_set_row(t, "a", 1, row, 3, 10), FPMD_OK);
    assert_int_equal(fpmd_table_set_row(t, "b", 1, row, 3, 10), FPMD_OK);
    /* expire() gives a TTL and takes it away; a column set keeps it */
    assert_int_equal(fpmd_table_set_int(t, "c", 1, HITS, 1), FPMD_OK);
    assert_int_equal(fpmd_table_expire(t, "c", 1, 10), FPMD_OK);
    assert_int_equal(fpmd_table_set_int(t, "c", 1, HITS, 2), FPMD_OK);
    assert_int_equal(fpmd_table_set_row(t, "d", 1, row, 3, 10), FPMD_OK);
    assert_int_equal(fpmd_table_expire(t, "d", 1, 0), FPMD_OK);
    /* a whole-row set replaces the TTL, with none too */
    assert_int_equal(fpmd_table_set_row(t, "f", 1, row, 3, 10), FPMD_OK);
    assert_int_equal(fpmd_table_set_row(t, "f", 1, row, 3, 0), FPMD_OK);
    assert_int_equal(fpmd_table_expire(t, "zz", 2, 10), FPMD_TABLE_NOT_FOUND);
    assert_int_equal(fpmd_table_get_int(t, "a", 1, HITS, &v), FPMD_OK);
    assert_int_equal(v, 7);

    /* full of rows that expire soon: a new one gets in as soon as they
     * have, reclaimed by the insert itself */
    for (int waited = 0; rc == FPMD_TABLE_FULL && waited < 40; waited++) {
        rc = fpmd_table_set_int(t, "e", 1, HITS, 5);
        if (rc == FPMD_TABLE_FULL)
            sleep_ms(1);
    }
    assert_int_equal(rc, FPMD_OK);
    /* the insert needed one of them gone; a loaded machine may have set
     * the others' TTLs a few ms later */
    assert_true(gone_soon(t, "a"));
    assert_true(gone_soon(t, "b"));
    assert_true(gone_soon(t, "c"));
    assert_true(fpmd_table_exists(t, "d", 1));
    assert_true(fpmd_table_exists(t, "f", 1));
    assert_int_equal(fpmd_table_get_int(t, "e", 1, HITS, &v), FPMD_OK);
    assert_int_equal(v, 5);
    assert_int_equal(fpmd_table_count(t), 3);
    fpmd_table_stats(t, &st);
    assert_int_equal(st.expired, 3);
    /* an expired counter starts again from 0 */
    assert_int_equal(fpmd_table_incr(t, "a", 1, HITS, 1, &v), FPMD_OK);
    assert_int_equal(v, 1);
    fpmd_table_destroy(t);
}

static void
table_without_columns_is_a_set_of_keys(void **state)
{
    struct fpmd_table_spec spec = { .name = "seen", .rows = 2 };
    struct fpmd_table *t = fpmd_table_create(&spec, NULL, 0);

    (void) state;
    assert_non_null(t);
    assert_int_equal(fpmd_table_set_row(t, "a", 1, NULL, 0, 0), FPMD_OK);
    assert_int_equal(fpmd_table_set_row(t, "b", 1, NULL, 0, 0), FPMD_OK);
    assert_int_equal(fpmd_table_set_row(t, "c", 1, NULL, 0, 0),
                     FPMD_TABLE_FULL);
    assert_true(fpmd_table_exists(t, "a", 1));
    assert_int_equal(fpmd_table_get_row(t, "b", 1, NULL, 0), FPMD_OK);
    assert_int_equal(fpmd_table_incr(t, "a", 1, 0, 1, NULL),
                     FPMD_TABLE_NO_COLUMN);
    assert_true(fpmd_table_same_layout(t, &spec));
    fpmd_table_destroy(t);
}

static void
table_tells_which_specs_keep_their_layout(void **state)
{
    struct fpmd_table_column cols[3];
    struct fpmd_table_spec spec = {
        .name = "other name", .rows = 16, .key_size = 32,
        .columns = cols, .ncolumns = 3,
    };
    struct fpmd_table *t = make(16);

    (void) state;
    memcpy(cols, columns, sizeof(cols));
    assert_true(fpmd_table_same_layout(t, &spec));
    /* an int's size means nothing */
    cols[HITS].size = 99;
    assert_true(fpmd_table_same_layout(t, &spec));
    spec.rows = 17;
    assert_false(fpmd_table_same_layout(t, &spec));
    spec.rows = 16;
    spec.key_size = 0;      /* the default, 64 */
    assert_false(fpmd_table_same_layout(t, &spec));
    spec.key_size = 32;
    cols[BODY].size = 17;
    assert_false(fpmd_table_same_layout(t, &spec));
    cols[BODY].size = 16;
    cols[RATE].type = FPMD_TABLE_INT;
    assert_false(fpmd_table_same_layout(t, &spec));
    cols[RATE].type = FPMD_TABLE_FLOAT;
    cols[RATE].name = "Rate";
    assert_false(fpmd_table_same_layout(t, &spec));
    cols[RATE].name = "rate";
    spec.ncolumns = 2;
    assert_false(fpmd_table_same_layout(t, &spec));
    spec.ncolumns = 3;
    cols[HITS] = columns[RATE];
    cols[RATE] = columns[HITS];
    assert_false(fpmd_table_same_layout(t, &spec));
    fpmd_table_destroy(t);

    spec.key_size = 0;
    spec.columns = columns;
    t = fpmd_table_create(&spec, NULL, 0);
    assert_non_null(t);
    spec.key_size = FPMD_TABLE_KEY_DEFAULT;
    assert_true(fpmd_table_same_layout(t, &spec));
    fpmd_table_destroy(t);
}

/* create's refusal of spec, its message holding want. */
static void
refuses(const struct fpmd_table_spec *spec, const char *want)
{
    char err[256] = "";

    assert_null(fpmd_table_create(spec, err, sizeof(err)));
    if (strstr(err, want) == NULL)
        fail_msg("\"%s\" does not say \"%s\"", err, want);
}

static void
table_create_refuses_bad_specs(void **state)
{
    char longname[FPMD_TABLE_NAME_LEN + 1];
    struct fpmd_table_column cols[FPMD_TABLE_MAX_COLUMNS + 1];
    struct fpmd_table_spec spec = {
        .name = "sessions", .rows = 16, .columns = cols, .ncolumns = 2,
    };

    (void) state;
    memset(longname, 'n', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';
    for (size_t i = 0; i < FPMD_ARRAY_LEN(cols); i++)
        cols[i] = (struct fpmd_table_column) { "c", FPMD_TABLE_INT, 0 };
    cols[0].name = "user";
    cols[1] = (struct fpmd_table_column) { "data", FPMD_TABLE_BYTES, 1024 };

    spec.name = "";
    refuses(&spec, "needs a name");
    spec.name = longname;
    refuses(&spec, "needs a name");
    spec.name = "sessions";
    spec.rows = 0;
    refuses(&spec, "table \"sessions\": rows is 0");
    spec.rows = 16;
    spec.key_size = FPMD_TABLE_KEY_MAX + 1;
    refuses(&spec, "key size 1025");
    spec.key_size = 0;
    spec.ncolumns = FPMD_TABLE_MAX_COLUMNS + 1;
    refuses(&spec, "33 columns");
    spec.ncolumns = 3;
    cols[2].name = "user";
    refuses(&spec, "two columns named \"user\"");
    cols[2].name = "";
    refuses(&spec, "column 3 needs a name");
    cols[2].name = "n";
    cols[2].type = 0;
    refuses(&spec, "column \"n\" has no type");
    cols[2].type = FPMD_TABLE_BYTES;
    cols[2].size = 0;
    refuses(&spec, "bytes column \"n\" has size 0");
    cols[2].size = FPMD_TABLE_BYTES_MAX + 1;
    refuses(&spec, "has size 1048577");
    spec.ncolumns = 2;
    /* (32 + 64 + 8 + 1032) bytes a row: 900,000 rows fit in 1 GiB */
    spec.rows = 900000;
    {
        char err[256] = "";
        struct fpmd_table *t = fpmd_table_create(&spec, err, sizeof(err));

        if (t == NULL)
            fail_msg("create: %s", err);
        fpmd_table_destroy(t);
    }
    spec.rows = 2000000;
    refuses(&spec, "table \"sessions\": 2000000 rows of 1136 bytes need "
            "2175 MiB, more than the 1024 MiB");
    spec.rows = FPMD_TABLE_MAX_ROWS + 1;
    refuses(&spec, "rows is 1073741825");
}

static void
table_finds_every_key_after_collisions_and_deletes(void **state)
{
    enum { N = 3000 };
    struct fpmd_table *t = make(N);
    char key[32];
    int64_t v;

    (void) state;
    /* 3000 rows in 4096 chains: many chains of several rows */
    for (int i = 0; i < N; i++)
        assert_int_equal(fpmd_table_set_int(t, key, key_of(key, sizeof(key),
                                                           "key:", i),
                                            HITS, i), FPMD_OK);
    assert_int_equal(fpmd_table_set_int(t, "one more", 8, HITS, 0),
                     FPMD_TABLE_FULL);
    /* every other key, and every third, from the middle of chains too */
    for (int i = 0; i < N; i++) {
        if (i % 2 == 0 || i % 3 == 0)
            assert_int_equal(fpmd_table_delete(t, key,
                                               key_of(key, sizeof(key),
                                                      "key:", i)), FPMD_OK);
    }
    assert_int_equal(fpmd_table_count(t), N / 3);
    for (int i = 0; i < N; i++) {
        int klen = key_of(key, sizeof(key), "key:", i);
        bool gone = i % 2 == 0 || i % 3 == 0;

        assert_int_equal(fpmd_table_get_int(t, key, klen, HITS, &v),
                         gone ? FPMD_TABLE_NOT_FOUND : FPMD_OK);
        if (!gone)
            assert_int_equal(v, i);
    }
    /* the deleted ones back with new values, and to the last row */
    for (int i = 0; i < N; i++) {
        if (i % 2 == 0 || i % 3 == 0)
            assert_int_equal(fpmd_table_set_int(t, key,
                                                key_of(key, sizeof(key),
                                                       "key:", i),
                                                HITS, -i), FPMD_OK);
    }
    assert_int_equal(fpmd_table_count(t), N);
    assert_int_equal(fpmd_table_set_int(t, "one more", 8, HITS, 0),
                     FPMD_TABLE_FULL);
    for (int i = 0; i < N; i++) {
        assert_int_equal(fpmd_table_get_int(t, key,
                                            key_of(key, sizeof(key), "key:",
                                                   i), HITS, &v), FPMD_OK);
        assert_int_equal(v, i % 2 == 0 || i % 3 == 0 ? -i : i);
    }
    fpmd_table_destroy(t);
}

enum { CHILDREN = 8, INCRS = 20000, CASES = 5000 };

static int
incr_many(struct fpmd_table *t, int child)
{
    char own[16];
    int klen = key_of(own, sizeof(own), "own", child);

    for (int i = 0; i < INCRS; i++) {
        if (fpmd_table_incr(t, "shared", 6, HITS, 1, NULL) != FPMD_OK
            || fpmd_table_incr(t, own, klen, HITS, 1, NULL) != FPMD_OK)
            return 1;
    }
    return 0;
}

static void
table_counts_exactly_under_eight_processes(void **state)
{
    struct fpmd_table *t = make(64);
    char own[16];
    int64_t v;

    (void) state;
    assert_true(run_children(t, CHILDREN, incr_many));
    assert_int_equal(fpmd_table_get_int(t, "shared", 6, HITS, &v), FPMD_OK);
    assert_int_equal(v, CHILDREN * INCRS);
    for (int i = 0; i < CHILDREN; i++) {
        assert_int_equal(fpmd_table_get_int(t, own,
                                            key_of(own, sizeof(own), "own", i),
                                            HITS, &v), FPMD_OK);
        assert_int_equal(v, INCRS);
    }
    fpmd_table_destroy(t);
}

static int
cas_many(struct fpmd_table *t, int child)
{
    int64_t seen = 0;
    int done = 0, rc;

    while (done < CASES) {
        rc = fpmd_table_cas(t, "cas", 3, HITS, &seen, seen + 1);
        if (rc == FPMD_OK) {
            seen++;
            done++;
        } else if (rc != FPMD_TABLE_MISMATCH) {
            return 1;
        }
    }
    return 0;
}

static void
table_compares_and_sets_exactly_under_eight_processes(void **state)
{
    struct fpmd_table *t = make(64);
    int64_t v;

    (void) state;
    assert_true(run_children(t, CHILDREN, cas_many));
    assert_int_equal(fpmd_table_get_int(t, "cas", 3, HITS, &v), FPMD_OK);
    assert_int_equal(v, CHILDREN * CASES);
    fpmd_table_destroy(t);
}

/* Forks a child that takes a lock and dies holding it. */
static void
die_holding(struct fpmd_table *t, const char *key)
{
    int status;
    pid_t pid;

    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        if ((key != NULL ? fpmd_table_lock_key(t, key, strlen(key))
             : fpmd_table_lock_rows(t)) == FPMD_OK)
            raise(SIGKILL);
        _exit(1);
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
}

static void
table_survives_a_process_killed_holding_a_lock(void **state)
{
    struct fpmd_table *t = make(64);
    struct fpmd_table_stats st;
    int64_t v;

    (void) state;
    assert_int_equal(fpmd_table_set_int(t, "hot", 3, HITS, 41), FPMD_OK);
    die_holding(t, "hot");
    /* a deadlock fails the test instead of hanging it */
    alarm(10);
    assert_int_equal(fpmd_table_incr(t, "hot", 3, HITS, 1, &v), FPMD_OK);
    assert_int_equal(v, 42);
    assert_int_equal(fpmd_table_incr(t, "hot", 3, HITS, 1, &v), FPMD_OK);
    assert_int_equal(v, 43);
    alarm(0);
    fpmd_table_stats(t, &st);
    assert_int_equal(st.recovered, 1);
    assert_int_equal(st.used, 1);
    fpmd_table_destroy(t);
}

static void
table_survives_a_process_killed_holding_the_free_list(void **state)
{
    struct fpmd_table *t = make(32);
    struct fpmd_table_stats st;
    char key[16];
    int64_t v;

    (void) state;
    /* holes in the middle: the free list is rebuilt from the rows */
    for (int i = 0; i < 20; i++)
        assert_int_equal(fpmd_table_set_int(t, key, key_of(key, sizeof(key),
                                                           "k", i),
                                            HITS, i), FPMD_OK);
    for (int i = 0; i < 20; i += 4)
        assert_int_equal(fpmd_table_delete(t, key, key_of(key, sizeof(key),
                                                          "k", i)), FPMD_OK);
    die_holding(t, NULL);
    alarm(10);
    for (int i = 0; i < 17; i++)
        assert_int_equal(fpmd_table_set_int(t, key, key_of(key, sizeof(key),
                                                           "new", i),
                                            HITS, -i), FPMD_OK);
    assert_int_equal(fpmd_table_set_int(t, "over", 4, HITS, 1),
                     FPMD_TABLE_FULL);
    alarm(0);
    for (int i = 0; i < 20; i++) {
        int rc = fpmd_table_get_int(t, key, key_of(key, sizeof(key), "k", i),
                                    HITS, &v);

        assert_int_equal(rc, i % 4 == 0 ? FPMD_TABLE_NOT_FOUND : FPMD_OK);
        if (rc == FPMD_OK)
            assert_int_equal(v, i);
    }
    for (int i = 0; i < 17; i++) {
        assert_int_equal(fpmd_table_get_int(t, key,
                                            key_of(key, sizeof(key), "new", i),
                                            HITS, &v), FPMD_OK);
        assert_int_equal(v, -i);
    }
    fpmd_table_stats(t, &st);
    assert_int_equal(st.recovered, 1);
    assert_int_equal(st.used, 32);
    fpmd_table_destroy(t);
}

static int
churn(struct fpmd_table *t, int child)
{
    struct fpmd_table_value row[3];
    char key[16];

    memset(row, 0, sizeof(row));
    row[BODY].data = "0123456789abcdef";
    row[BODY].len = 16;
    for (int i = 0;; i++) {
        row[HITS].i = i;
        fpmd_table_set_row(t, key, key_of(key, sizeof(key), "c", i % 1024),
                           row, 3, 0);
        fpmd_table_delete(t, key, key_of(key, sizeof(key), "c",
                                         (i + 512) % 1024));
        fpmd_table_incr(t, "n", 1, HITS, 1, NULL);
    }
    return 0;
}

/* Inserts new keys until the table refuses twice, 2 ms apart (the full
 * table's reclaim runs at most once a millisecond); returns how many went
 * in. */
static int
fill(struct fpmd_table *t)
{
    char key[16];
    int n = 0, rc;

    for (;;) {
        rc = fpmd_table_set_int(t, key, key_of(key, sizeof(key), "f", n),
                                HITS, n);
        if (rc == FPMD_TABLE_FULL) {
            sleep_ms(2);
            rc = fpmd_table_set_int(t, key, key_of(key, sizeof(key), "f", n),
                                    HITS, n);
        }
        if (rc == FPMD_TABLE_FULL)
            return n;
        assert_int_equal(rc, FPMD_OK);
        n++;
    }
}

static void
table_loses_no_row_to_processes_killed_mid_call(void **state)
{
    enum { ROWS = 600, ROUNDS = 20 };
    struct fpmd_table *t = make(ROWS);
    struct fpmd_table_stats st;
    int status, live = 0, filled;
    char key[16];
    pid_t pid;

    (void) state;
    alarm(30);
    for (int round = 0; round < ROUNDS; round++) {
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0)
            _exit(churn(t, 0));
        sleep_ms(1 + round % 3);
        kill(pid, SIGKILL);
        assert_int_equal(waitpid(pid, &status, 0), pid);
    }
    /* whatever they left, every row is either found or free again */
    filled = fill(t);
    for (int i = 0; i < 1024; i++)
        live += fpmd_table_exists(t, key, key_of(key, sizeof(key), "c", i));
    live += fpmd_table_exists(t, "n", 1);
    for (int i = 0; i < filled; i++)
        assert_true(fpmd_table_exists(t, key, key_of(key, sizeof(key), "f",
                                                     i)));
    assert_int_equal(live + filled, ROWS);
    assert_int_equal(fpmd_table_count(t), ROWS);
    fpmd_table_stats(t, &st);
    print_message("# %d kills, %" PRIu64 " locks recovered, %d rows live\n",
                  ROUNDS, st.recovered, live);
    /* and rows keep coming and going */
    assert_int_equal(fpmd_table_delete(t, "f0", 2), FPMD_OK);
    assert_int_equal(fpmd_table_set_int(t, "g", 1, HITS, 1), FPMD_OK);
    alarm(0);
    fpmd_table_destroy(t);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(table_sets_and_gets_each_type),
        cmocka_unit_test(table_refuses_bad_calls_with_their_own_codes),
        cmocka_unit_test(table_deletes_rows),
        cmocka_unit_test(table_refuses_a_row_when_full_until_one_is_deleted),
        cmocka_unit_test(table_expires_rows_after_their_ttl),
        cmocka_unit_test(table_without_columns_is_a_set_of_keys),
        cmocka_unit_test(table_tells_which_specs_keep_their_layout),
        cmocka_unit_test(table_create_refuses_bad_specs),
        cmocka_unit_test(table_finds_every_key_after_collisions_and_deletes),
        cmocka_unit_test(table_counts_exactly_under_eight_processes),
        cmocka_unit_test(table_compares_and_sets_exactly_under_eight_processes),
        cmocka_unit_test(table_survives_a_process_killed_holding_a_lock),
        cmocka_unit_test(table_survives_a_process_killed_holding_the_free_list),
        cmocka_unit_test(table_loses_no_row_to_processes_killed_mid_call),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
