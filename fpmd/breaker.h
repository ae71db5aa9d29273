/* SPDX-License-Identifier: BSD-2-Clause */
/* A circuit breaker per upstream server, shared by every process of a
 * pool: closed, calls go; open after too many failures, calls are
 * refused at once for open_us; then half-open, a few probe calls decide
 * whether it closes or opens again. Its state lives in memory the caller
 * maps before fork, under one robust process-shared mutex, and a process
 * killed in the middle of a call leaves it usable. Time is always the
 * caller's: microseconds of one monotonic clock, the same in every
 * process (fpmd_mono_ns() / 1000). */
#ifndef FPMD_BREAKER_H
#define FPMD_BREAKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fpmd/common.h"

/* Read at each call, so that a reload may change it; a breaker has no
 * copy of it. */
struct fpmd_breaker_conf {
    unsigned failures;      /* consecutive failures that open it; 0: not
                             * this rule */
    unsigned error_rate;    /* percent (1..100) of failed calls in the
                             * window that opens it; 0: not this rule */
    unsigned min_calls;     /* calls in the window before error_rate
                             * applies */
    uint64_t window_us;     /* the error-rate window, kept in 10 buckets
                             * of window_us / 10 (at least 1 us) */
    uint64_t open_us;       /* how long it stays open before half-open;
                             * also how long a probe may take before it
                             * counts as failed */
    unsigned probes;        /* calls let through half-open (0 counts as
                             * 1); that many successes close it, one
                             * failure opens it again */
};

enum fpmd_breaker_state {
    FPMD_BREAKER_CLOSED,
    FPMD_BREAKER_OPEN,
    FPMD_BREAKER_HALF_OPEN,
};

struct fpmd_breaker;

/* A consistent copy, for the status page. */
struct fpmd_breaker_stats {
    enum fpmd_breaker_state state;
    uint64_t opened;            /* times it opened, from closed or from
                                 * half-open */
    uint64_t rejected;          /* calls refused, open or half-open */
    uint64_t window_calls;      /* calls reported closed, in the window */
    uint64_t window_failures;   /* of which failed */
};

/* The bytes one breaker takes in the caller's mapping: a multiple of 64,
 * so that breakers laid side by side from a 64-byte aligned start (an
 * mmap'd region is) are each aligned and share no cache line. */
size_t fpmd_breaker_size(void);

/* Makes b, in fpmd_breaker_size() bytes of zeroed shared memory (MAP_SHARED
 * | MAP_ANONYMOUS), before any fork: closed, counters 0. FPMD_OK, or
 * FPMD_ERROR when the process-shared robust mutex cannot be made. Never
 * destroyed: the memory goes with the last mapping. */
int fpmd_breaker_init(struct fpmd_breaker *b);

/* May a call go at now_us? FPMD_OK: closed (*probe false), or one of the
 * half-open probes (*probe true), and *retry_us 0. FPMD_AGAIN: open, with
 * *retry_us the time left until it turns half-open; or half-open with
 * every probe out, with *retry_us the time left until they count as
 * failed (when one ends first, it is sooner). A call allowed must be
 * reported, once, with fpmd_breaker_report.
 * The clock moves the state here: an open breaker whose open_us has
 * passed turns half-open, and a half-open one opens again when open_us
 * has passed since the last probe went out and a probe is still
 * unreported (or the probes' verdict missing): a probe whose process
 * died counts as failed then, instead of holding the breaker half-open.
 * These changes are not reported as changes; the next report tells the
 * state. */
int fpmd_breaker_allow(struct fpmd_breaker *b,
                       const struct fpmd_breaker_conf *c, uint64_t now_us,
                       bool *probe, uint64_t *retry_us);

/* The end of a call allow let through: ok or failed, probe as allow said.
 * Closed: the call counts in the window, and a failure opens the breaker
 * when failures in a row reach c->failures, or when the window holds at
 * least c->min_calls calls of which at least c->error_rate percent
 * failed; a success never opens it. Half-open: a probe's failure
 * opens it again, its success counts toward c->probes, which close it
 * (the window starting empty); a report that is not a probe's, or of a
 * probe while none is out (one already counted as failed), changes
 * nothing. Open: nothing changes. Returns the state after, with *changed
 * true when this report changed it: exactly one report sees each change
 * it makes, so that the caller logs and counts it once. A probe of an
 * earlier half-open period reported late, while probes of the current
 * one are out, counts as one of them. */
enum fpmd_breaker_state fpmd_breaker_report(struct fpmd_breaker *b,
                                            const struct fpmd_breaker_conf *c,
                                            uint64_t now_us, bool ok,
                                            bool probe, bool *changed);

/* Copies b's state and counters into *out, the window's as of now_us
 * (the window's width as the last report's conf had it). The state is
 * the last one a call set: an open breaker past its open_us reads open
 * until the next allow. */
void fpmd_breaker_stats(struct fpmd_breaker *b, uint64_t now_us,
                        struct fpmd_breaker_stats *out);

/* b closed, its counters and window emptied: the breaker of a slot that
 * now holds another server (discovery.h). */
void fpmd_breaker_reset(struct fpmd_breaker *b);

/* "closed", "open" or "half_open"; NULL for a value that is no state. */
const char *fpmd_breaker_state_name(enum fpmd_breaker_state s);

/* n breakers in one shared mapping, initialized: what the master maps
 * for a generation's upstream servers before it forks. NULL when the
 * mapping or a mutex cannot be made. */
struct fpmd_breaker_set *fpmd_breaker_set_new(size_t n);
/* Breaker i of the set (i < n). */
struct fpmd_breaker *fpmd_breaker_set_at(struct fpmd_breaker_set *set,
                                         size_t i);
/* Unmaps it; NULL is fine. */
void fpmd_breaker_set_free(struct fpmd_breaker_set *set);

#endif
