/* SPDX-License-Identifier: BSD-2-Clause */
/* Table operations per second from 1, 2 and 4 processes, each on keys of
 * its own and all on one hot key. Built with the daemon, never run by
 * make check; run it from a build without sanitizers:
 *
 *   build/plain/tests/bench/table_bench [milliseconds per cell, 500]
 *
 * Every cell forks its processes (a pipe's end of file starts them
 * together), which count calls for the given time; the cell is their sum
 * over the slowest one's time. */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fpmd/clock.h"
#include "fpmd/table.h"

enum { KEYS = 50000, ROWS = 65536, MAXPROC = 4 };
enum { N, F, B };

static const struct fpmd_table_column columns[] = {
    { "n", FPMD_TABLE_INT, 0 },
    { "f", FPMD_TABLE_FLOAT, 0 },
    { "b", FPMD_TABLE_BYTES, 32 },
};

static char keys[KEYS][16];
static size_t klens[KEYS];

struct result {
    uint64_t calls;
    uint64_t ns;
};

struct bench {
    const char *name;
    int (*call)(struct fpmd_table *t, const char *key, size_t klen);
};

static int
call_get(struct fpmd_table *t, const char *key, size_t klen)
{
    int64_t v;

    return fpmd_table_get_int(t, key, klen, N, &v);
}

static int
call_set(struct fpmd_table *t, const char *key, size_t klen)
{
    return fpmd_table_set_int(t, key, klen, N, 42);
}

static int
call_incr(struct fpmd_table *t, const char *key, size_t klen)
{
    return fpmd_table_incr(t, key, klen, N, 1, NULL);
}

static int
call_set_bytes(struct fpmd_table *t, const char *key, size_t klen)
{
    return fpmd_table_set_bytes(t, key, klen, B,
                                "0123456789abcdef0123456789abcdef", 32);
}

static int
call_get_row(struct fpmd_table *t, const char *key, size_t klen)
{
    char buf[32];
    struct fpmd_table_value row[3] = { [B] = { .buf = buf, .cap = 32 } };

    return fpmd_table_get_row(t, key, klen, row, 3);
}

/* A row that comes and goes: add a key none of the others use, drop it. */
static int
call_add_delete(struct fpmd_table *t, const char *key, size_t klen)
{
    char tmp[20] = "new:";
    int rc;

    memcpy(tmp + 4, key, klen);
    rc = fpmd_table_set_int(t, tmp, klen + 4, N, 1);
    return rc != FPMD_OK ? rc : fpmd_table_delete(t, tmp, klen + 4);
}

static const struct bench benches[] = {
    { "get_int", call_get },
    { "set_int", call_set },
    { "incr", call_incr },
    { "set_bytes (32 B)", call_set_bytes },
    { "get_row (3 columns)", call_get_row },
    { "add + delete", call_add_delete },
};

/* One process's share: its own slice of the keys, or the hot key. */
static void
hammer(struct fpmd_table *t, const struct bench *b, int self, int nproc,
       bool hot, uint64_t ms, struct result *out)
{
    uint32_t first = (uint32_t) (KEYS / nproc * self);
    uint32_t span = (uint32_t) (KEYS / nproc), i = 0;
    uint64_t start = fpmd_mono_ns(), calls = 0, now = start;

    while (now - start < ms * 1000000) {
        for (int n = 0; n < 256; n++) {
            uint32_t k = first + i;
            int rc = hot ? b->call(t, "hot", 3)
                         : b->call(t, keys[k], klens[k]);

            if (rc != FPMD_OK) {
                fprintf(stderr, "%s: %s\n", b->name, fpmd_table_strerror(rc));
                _exit(1);
            }
            if (++i == span)
                i = 0;
        }
        calls += 256;
        now = fpmd_mono_ns();
    }
    out->calls = calls;
    out->ns = now - start;
}

/* Calls per second of nproc processes together. */
static double
run(struct fpmd_table *t, const struct bench *b, int nproc, bool hot,
    uint64_t ms, struct result *res)
{
    uint64_t calls = 0, ns = 0;
    pid_t pids[MAXPROC];
    int go[2], status;
    char c;

    if (pipe(go) != 0) {
        perror("pipe");
        exit(1);
    }
    for (int p = 0; p < nproc; p++) {
        pids[p] = fork();
        if (pids[p] < 0) {
            perror("fork");
            exit(1);
        }
        if (pids[p] == 0) {
            close(go[1]);
            if (read(go[0], &c, 1) != 0)
                _exit(1);
            hammer(t, b, p, nproc, hot, ms, &res[p]);
            _exit(0);
        }
    }
    close(go[0]);
    close(go[1]);
    for (int p = 0; p < nproc; p++) {
        if (waitpid(pids[p], &status, 0) != pids[p] || !WIFEXITED(status)
            || WEXITSTATUS(status) != 0) {
            fprintf(stderr, "%s: a process failed\n", b->name);
            exit(1);
        }
        calls += res[p].calls;
        if (res[p].ns > ns)
            ns = res[p].ns;
    }
    return (double) calls * 1e9 / (double) ns;
}

int
main(int argc, char **argv)
{
    struct fpmd_table_spec spec = {
        .name = "bench", .rows = ROWS, .key_size = 32,
        .columns = columns, .ncolumns = 3,
    };
    static const int nprocs[] = { 1, 2, 4 };
    uint64_t ms = argc > 1 ? strtoull(argv[1], NULL, 10) : 500;
    struct fpmd_table_stats st;
    struct fpmd_table *t;
    struct result *res;
    char err[256];

    t = fpmd_table_create(&spec, err, sizeof(err));
    if (t == NULL) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    res = mmap(NULL, sizeof(*res) * MAXPROC, PROT_READ | PROT_WRITE,
               MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (res == MAP_FAILED) {
        perror("mmap");
        return 1;
    }
    for (int k = 0; k < KEYS; k++) {
        klens[k] = (size_t) snprintf(keys[k], sizeof(keys[k]), "key:%d", k);
        if (fpmd_table_set_int(t, keys[k], klens[k], N, k) != FPMD_OK) {
            fprintf(stderr, "fill: %s\n", keys[k]);
            return 1;
        }
    }
    if (fpmd_table_set_int(t, "hot", 3, N, 0) != FPMD_OK)
        return 1;
    printf("%d rows of %d in use, %ld CPUs online, %" PRIu64 " ms a cell; "
           "calls per second, all processes together\n\n",
           KEYS + 1, ROWS, sysconf(_SC_NPROCESSORS_ONLN), ms);
    printf("| call | keys | 1 process | 2 processes | 4 processes |\n");
    printf("|---|---|---:|---:|---:|\n");
    for (size_t i = 0; i < FPMD_ARRAY_LEN(benches); i++) {
        for (int hot = 0; hot < 2; hot++) {
            /* a hot key that comes and goes would measure one row's
             * free list round trip from every process: same as distinct */
            if (hot && benches[i].call == call_add_delete)
                continue;
            printf("| %s | %s |", benches[i].name, hot ? "one hot" : "own");
            for (size_t p = 0; p < FPMD_ARRAY_LEN(nprocs); p++) {
                printf(" %.2f M |", run(t, &benches[i], nprocs[p], hot, ms,
                                        res) / 1e6);
                fflush(stdout);
            }
            printf("\n");
        }
    }
    fpmd_table_stats(t, &st);
    printf("\nafterwards: %" PRIu32 " rows in use, %" PRIu64 " bytes mapped, "
           "%" PRIu64 " refused full\n", st.used, st.memory, st.full);
    munmap(res, sizeof(*res) * MAXPROC);
    fpmd_table_destroy(t);
    return 0;
}
