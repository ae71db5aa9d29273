/* SPDX-License-Identifier: BSD-2-Clause */
/* Scoreboard mapping, the writer's seqlock and the reader's sanitizing
 * copy. A worker may be killed mid-write or be compromised: readers retry
 * a torn slot a few times and then take it as it is, but clamped. */
#include "config.h"

#include <math.h>

#include <string.h>
#include <sys/mman.h>

#include "fpmd/common.h"
#include "fpmd/scoreboard.h"

static size_t
sb_size(uint32_t nslots)
{
    return sizeof(struct fpmd_scoreboard)
        + (size_t) nslots * sizeof(struct fpmd_sb_slot)
        + (size_t) nslots * sizeof(struct fpmd_sb_routes)
        + (size_t) nslots * sizeof(struct fpmd_sb_flights);
}

struct fpmd_scoreboard *
fpmd_scoreboard_new(uint32_t nslots)
{
    struct fpmd_scoreboard *sb;

    sb = mmap(NULL, sb_size(nslots), PROT_READ | PROT_WRITE,
              MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (sb == MAP_FAILED)
        return NULL;
    memset(sb, 0, sb_size(nslots));
    sb->nslots = nslots;
    /* Slots are 8-byte aligned, and so is what follows them. */
    sb->routes = (struct fpmd_sb_routes *) (void *) &sb->slots[nslots];
    sb->flights = (struct fpmd_sb_flights *) (void *) &sb->routes[nslots];
    return sb;
}

void
fpmd_scoreboard_free(struct fpmd_scoreboard *sb)
{
    if (sb != NULL)
        munmap(sb, sb_size(sb->nslots));
}

void
fpmd_scoreboard_begin_write(struct fpmd_sb_slot *slot)
{
    slot->seq++;
    __atomic_thread_fence(__ATOMIC_RELEASE);
}

void
fpmd_scoreboard_end_write(struct fpmd_sb_slot *slot)
{
    __atomic_thread_fence(__ATOMIC_RELEASE);
    slot->seq++;
}

void
fpmd_scoreboard_copy_str(char *dst, size_t dstlen, const char *src,
                         size_t srclen)
{
    size_t n;

    if (dstlen == 0)
        return;
    n = strnlen(src, srclen);
    if (n >= dstlen)
        n = dstlen - 1;
    memcpy(dst, src, n);
    dst[n] = '\0';
}

static void
terminate_field(char *s, size_t len)
{
    s[len - 1] = '\0';
}

/* Copies len bytes of what slot's writer guards, retrying a copy torn by
 * a write a few times. */
static void
seq_copy(const struct fpmd_sb_slot *slot, void *out, const void *src,
         size_t len)
{
    uint32_t before, after;

    for (int tries = 0; tries < 8; tries++) {
        before = slot->seq;
        __atomic_thread_fence(__ATOMIC_ACQUIRE);
        memcpy(out, src, len);
        __atomic_thread_fence(__ATOMIC_ACQUIRE);
        after = slot->seq;
        if (before == after && (before & 1) == 0)
            break;
    }
}

int
fpmd_scoreboard_read(const struct fpmd_scoreboard *sb, uint32_t i,
                     struct fpmd_sb_slot *out)
{
    if (sb == NULL || i >= sb->nslots)
        return FPMD_ERROR;
    seq_copy(&sb->slots[i], out, &sb->slots[i], sizeof(*out));
    /* Whatever the worker wrote, the copy is safe to print and index. */
    terminate_field(out->req.method, sizeof(out->req.method));
    terminate_field(out->req.uri, sizeof(out->req.uri));
    terminate_field(out->req.script, sizeof(out->req.script));
    terminate_field(out->req.user, sizeof(out->req.user));
    terminate_field(out->running.method, sizeof(out->running.method));
    terminate_field(out->running.uri, sizeof(out->running.uri));
    terminate_field(out->running.script, sizeof(out->running.script));
    for (size_t b = 0; b < FPMD_SB_BACKENDS; b++)
        terminate_field(out->backends[b].name, sizeof(out->backends[b].name));
    if (out->state > FPMD_SB_FINISHING)
        out->state = FPMD_SB_FINISHING;
    if (out->pid <= 0 || out->state == FPMD_SB_FREE)
        return FPMD_ERROR;
    return FPMD_OK;
}

bool
fpmd_scoreboard_room_elsewhere(const struct fpmd_scoreboard *sb,
                               uint32_t self, uint32_t max_concurrency)
{
    for (uint32_t i = 0; i < sb->nslots; i++) {
        const struct fpmd_sb_slot *s = &sb->slots[i];
        uint32_t state, busy;

        if (i == self)
            continue;
        state = __atomic_load_n(&s->state, __ATOMIC_RELAXED);
        if (state == FPMD_SB_FREE || state == FPMD_SB_STARTING)
            return true;
        if (state != FPMD_SB_IDLE && state != FPMD_SB_BUSY)
            continue;
        busy = __atomic_load_n(&s->in_flight, __ATOMIC_RELAXED)
            + __atomic_load_n(&s->queued, __ATOMIC_RELAXED);
        if (busy < max_concurrency)
            return true;
    }
    return false;
}

/* A worker's loop ticks every second: one silent for longer is blocked
 * and takes nothing, whatever its slot says. */
#define TICK_STALE_US 2000000

void
fpmd_scoreboard_fewest_elsewhere(const struct fpmd_scoreboard *sb,
                                 uint32_t self, uint64_t now_us,
                                 uint32_t *conns, uint32_t *hot)
{
    *conns = *hot = UINT32_MAX;
    for (uint32_t i = 0; i < sb->nslots; i++) {
        const struct fpmd_sb_slot *s = &sb->slots[i];
        uint32_t state, n;
        uint64_t beat;

        if (i == self)
            continue;
        state = __atomic_load_n(&s->state, __ATOMIC_RELAXED);
        if ((state != FPMD_SB_IDLE && state != FPMD_SB_BUSY)
            || !__atomic_load_n(&s->taking, __ATOMIC_RELAXED))
            continue;
        beat = __atomic_load_n(&s->heartbeat_us, __ATOMIC_RELAXED);
        if (now_us > beat && now_us - beat > TICK_STALE_US)
            continue;
        n = __atomic_load_n(&s->connections, __ATOMIC_RELAXED);
        if (n < *conns)
            *conns = n;
        n = __atomic_load_n(&s->hot_conns, __ATOMIC_RELAXED);
        if (n < *hot)
            *hot = n;
    }
}

int
fpmd_scoreboard_read_routes(const struct fpmd_scoreboard *sb, uint32_t i,
                            struct fpmd_sb_routes *out)
{
    if (sb == NULL || i >= sb->nslots)
        return FPMD_ERROR;
    seq_copy(&sb->slots[i], out, &sb->routes[i], sizeof(*out));
    for (size_t r = 0; r < FPMD_SB_ROUTES; r++) {
        terminate_field(out->r[r].label, sizeof(out->r[r].label));
        terminate_field(out->r[r].handler, sizeof(out->r[r].handler));
    }
    return FPMD_OK;
}

int
fpmd_scoreboard_read_flights(const struct fpmd_scoreboard *sb, uint32_t i,
                             struct fpmd_sb_flights *out)
{
    if (sb == NULL || i >= sb->nslots)
        return FPMD_ERROR;
    seq_copy(&sb->slots[i], out, &sb->flights[i], sizeof(*out));
    for (size_t f = 0; f < FPMD_SB_FLIGHTS; f++) {
        terminate_field(out->f[f].method, sizeof(out->f[f].method));
        terminate_field(out->f[f].uri, sizeof(out->f[f].uri));
        terminate_field(out->f[f].route, sizeof(out->f[f].route));
    }
    return FPMD_OK;
}

/* The lower bound of bucket i, 50 us x 2^(i/2); 181/128 ~ 2^(1/2). */
static uint64_t
hist_bound(unsigned i)
{
    uint64_t b = 50ULL << (i / 2);

    return i % 2 ? b * 181 / 128 : b;
}

unsigned
fpmd_sb_hist_bucket(uint64_t us)
{
    for (unsigned i = 1; i < FPMD_SB_HIST; i++) {
        if (us < hist_bound(i))
            return i - 1;
    }
    return FPMD_SB_HIST - 1;
}

double
fpmd_sb_hist_quantile(const uint64_t *hist, double q)
{
    uint64_t total = 0, seen = 0;
    unsigned i;

    for (i = 0; i < FPMD_SB_HIST; i++)
        total += hist[i];
    if (total == 0)
        return 0.0;
    for (i = 0; i + 1 < FPMD_SB_HIST; i++) {
        seen += hist[i];
        if ((double) seen >= q * (double) total)
            break;
    }
    return 0.05 * pow(2.0, ((double) i + 0.5) / 2.0);
}
