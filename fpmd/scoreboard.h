/* SPDX-License-Identifier: BSD-2-Clause */
/* The shared-memory scoreboard: one slot per worker process, written by
 * that worker, read by the master (process manager) and by any worker that
 * renders the status page. Readers never trust a slot: every string is
 * copied with a bound and terminated, every number clamped, as php-fpm
 * learned from CVE-2021-21703. */
#ifndef FPMD_SCOREBOARD_H
#define FPMD_SCOREBOARD_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define FPMD_SB_METHOD_LEN 16
#define FPMD_SB_URI_LEN 256
#define FPMD_SB_SCRIPT_LEN 256
#define FPMD_SB_USER_LEN 64
#define FPMD_SB_POOL_LEN 64
#define FPMD_SB_BACKENDS 80         /* FPMD_MAX_BACKENDS pools, then
                                     * FPMD_MAX_UPSTREAMS upstreams */
#define FPMD_SB_BACKEND_LEN 32
#define FPMD_SB_ROUTES 64           /* config routes with statistics */
#define FPMD_SB_ROUTE_LEN 96
#define FPMD_SB_HANDLER_LEN 32
#define FPMD_SB_HIST 32             /* latency buckets, see below */
#define FPMD_SB_FLIGHTS 16          /* in-flight requests listed per worker */

enum fpmd_sb_state {
    FPMD_SB_FREE = 0,       /* slot unused */
    FPMD_SB_STARTING = 1,   /* forked, not yet accepting */
    FPMD_SB_IDLE = 2,       /* accepting, no request in flight */
    FPMD_SB_BUSY = 3,       /* at least one request in flight */
    FPMD_SB_FINISHING = 4,  /* graceful exit: drains, accepts nothing */
};

/* php-fpm's per-process row: the oldest request the worker has in flight,
 * or when it has none its last request. */
struct fpmd_sb_request {
    char method[FPMD_SB_METHOD_LEN];
    char uri[FPMD_SB_URI_LEN];
    char script[FPMD_SB_SCRIPT_LEN];
    char user[FPMD_SB_USER_LEN];
    uint64_t content_length;
    uint64_t start_us;          /* wall clock, µs since the epoch */
    uint64_t duration_us;       /* 0 while running */
    uint64_t cpu_us;            /* time its handler ran on the CPU */
    uint64_t memory;            /* peak arena bytes */
};

/* The request whose handler the worker ran last: while its event loop is
 * blocked, the one that blocks it, which the master's blocked-loop warning
 * names. Apart from php-fpm's row, which stays the oldest in flight. */
struct fpmd_sb_running {
    char method[FPMD_SB_METHOD_LEN];
    char uri[FPMD_SB_URI_LEN];
    char script[FPMD_SB_SCRIPT_LEN];
};

/* One backend pool as one worker sees it: gauges as of its last tick,
 * counters since it started. Named, since workers of two generations may
 * order their pools differently. */
struct fpmd_sb_backend {
    char name[FPMD_SB_BACKEND_LEN];     /* "" ends the list */
    uint32_t size, idle, in_use, waiters;
    uint64_t calls, timeouts, errors, reconnects, exhausted;
    /* Calls' waits for a connection, from the call to the connection
     * lent (0 when one was idle), bucketed as route latencies are. */
    uint64_t waits, wait_sum_us;
    uint32_t wait_hist[FPMD_SB_HIST];
};

/* Latencies of one side of a route: bucket i counts answers that took
 * [50 µs x 2^(i/2), 50 µs x 2^((i+1)/2)), the first and last taking what
 * is below and above. */
struct fpmd_sb_side {
    uint64_t requests, errors;      /* errors: a 5xx, or cut short */
    uint64_t sum_us;                /* their latencies added up */
    uint32_t hist[FPMD_SB_HIST];
};

/* One config route as one worker served it, counters since it started;
 * matched across workers by label and handler. */
struct fpmd_sb_route {
    char label[FPMD_SB_ROUTE_LEN];      /* "GET /api/user.php?action=show";
                                         * "" ends the list */
    char handler[FPMD_SB_HANDLER_LEN];
    struct fpmd_sb_side native, legacy;
    uint64_t shadow_compared, shadow_mismatches, shadow_errors;
    uint64_t canary_fallbacks;
    uint64_t rate_limited;              /* answered 429 by rate_limit: */
    uint64_t concurrency_refused;       /* answered 503 by concurrency: */
    uint32_t in_flight;                 /* now, counted for concurrency: */
};

struct fpmd_sb_slot {
    /* Written by the worker. */
    volatile uint32_t seq;      /* odd while the worker writes (seqlock) */
    pid_t pid;
    uint32_t generation;        /* config generation the worker runs */
    uint32_t state;             /* enum fpmd_sb_state */
    uint64_t start_us;          /* when the worker started */
    uint64_t accepted_conn;     /* connections accepted */
    uint64_t requests;          /* requests finished */
    uint32_t in_flight;         /* requests running now */
    uint32_t max_in_flight;
    uint32_t queued;            /* requests waiting for a max_concurrency
                                 * slot now */
    uint32_t max_queued;
    uint32_t connections;       /* open connections */
    uint32_t taking;            /* 1 while it takes new connections */
    uint32_t hot_conns;         /* connections in use: a request runs on
                                 * them or ended on them in the last
                                 * second (each tick) */
    uint64_t last_idle_us;      /* when in_flight last dropped to 0 */
    uint64_t heartbeat_us;      /* the event loop's last tick: a stale one
                                 * means a handler blocks the loop */
    uint64_t slow_requests;
    uint64_t terminated_requests;
    uint64_t refused_requests;  /* answered 503: pm.max_queue reached, or
                                 * waited timeouts.queue */
    /* the worker's free lists, each second */
    uint32_t free_reqs, free_buffers, free_stacks, free_conns;
    /* Event-loop lag: how late a 100 ms timer fires, every 100 ms;
     * lag_max_us the most of the last 10 to 20 s. */
    uint64_t lag_max_us, lags, lag_sum_us;
    uint32_t lag_hist[FPMD_SB_HIST];
    struct fpmd_sb_request req;
    struct fpmd_sb_running running;
    struct fpmd_sb_backend backends[FPMD_SB_BACKENDS];
};

/* A worker's route rows, apart from its slot so that copies of slots stay
 * small; written under the slot's seqlock. */
struct fpmd_sb_routes {
    struct fpmd_sb_route r[FPMD_SB_ROUTES];
};

/* One request a worker has in flight. */
struct fpmd_sb_flight {
    uint64_t start_us;              /* µs since the epoch; 0: entry unused */
    char method[FPMD_SB_METHOD_LEN];
    char uri[FPMD_SB_URI_LEN];
    char route[FPMD_SB_ROUTE_LEN];  /* "GET /users/{id}"; "" when none
                                     * matched */
};

/* The oldest FPMD_SB_FLIGHTS requests a worker has in flight, in no
 * particular order (readers sort by start); beside its slot like the
 * route rows, written under the slot's seqlock. */
struct fpmd_sb_flights {
    struct fpmd_sb_flight f[FPMD_SB_FLIGHTS];
};

/* Pool-wide counters written by the master. */
struct fpmd_sb_pool {
    char name[FPMD_SB_POOL_LEN];
    uint32_t pm_mode;           /* enum fpmd_pm_mode */
    uint64_t start_us;
    uint64_t max_children_reached;
    uint32_t max_active;        /* high water mark of busy workers */
    uint32_t max_listen_queue;
    uint64_t accepted_conn_dead; /* counted from slots of workers gone */
    uint64_t slow_requests_dead;
    uint64_t refused_requests_dead;
};

/* A user process (processes: in the config) as the master last wrote it:
 * the master alone writes, each field whole and aligned; a reader copies
 * the entry, and a pid that changes under it shows on one page. */
#define FPMD_SB_UPROCS 64
#define FPMD_SB_UPROC_LEN 32
struct fpmd_sb_uproc {
    char name[FPMD_SB_UPROC_LEN];   /* "" ends the list */
    uint32_t instance;
    int32_t pid;                    /* 0: waiting to start again */
    uint64_t start_us;              /* wall clock, of the running one */
    uint64_t restarts;              /* started again after an end unasked */
};

struct fpmd_scoreboard {
    struct fpmd_sb_pool pool;
    struct fpmd_sb_uproc uprocs[FPMD_SB_UPROCS];
    uint32_t nslots;
    struct fpmd_sb_routes *routes;  /* nslots of them, in the same mapping */
    struct fpmd_sb_flights *flights; /* nslots of them, after the routes */
    struct fpmd_sb_slot slots[];
};

/* Maps a new shared anonymous scoreboard of nslots slots (before fork, so
 * workers inherit it). NULL on failure, errno set. */
struct fpmd_scoreboard *fpmd_scoreboard_new(uint32_t nslots);
void fpmd_scoreboard_free(struct fpmd_scoreboard *sb);

/* Worker side: bracket every write to the own slot. */
void fpmd_scoreboard_begin_write(struct fpmd_sb_slot *slot);
void fpmd_scoreboard_end_write(struct fpmd_sb_slot *slot);

/* Reader side: copies slot i into *out, sanitized (strings terminated,
 * state in range). Retries a torn read a few times; returns FPMD_OK, or
 * FPMD_ERROR for a free slot or index out of range. */
int fpmd_scoreboard_read(const struct fpmd_scoreboard *sb, uint32_t i,
                         struct fpmd_sb_slot *out);

/* Reader side, for a worker (slot self) that cannot start a request at
 * once: true when another worker of sb could (accepting, with fewer than
 * max_concurrency requests running and none waiting), is starting, or
 * when a slot is free (the process manager is about to fork a worker
 * into it). Reads a few fields of each slot in place, without the
 * seqlock: a stale answer costs one handoff or one queued request. */
bool fpmd_scoreboard_room_elsewhere(const struct fpmd_scoreboard *sb,
                                    uint32_t self, uint32_t max_concurrency);

/* Reader side, for balancing: the fewest open connections (*conns) and
 * the fewest in use (*hot) another worker of sb holds among those taking
 * new ones (accepting, its loop ticked within the last two seconds as of
 * now_us); UINT32_MAX when none. Reads in place, without the seqlock, as
 * above. */
void fpmd_scoreboard_fewest_elsewhere(const struct fpmd_scoreboard *sb,
                                      uint32_t self, uint64_t now_us,
                                      uint32_t *conns, uint32_t *hot);

/* Reader side for slot i's route rows, like fpmd_scoreboard_read. */
int fpmd_scoreboard_read_routes(const struct fpmd_scoreboard *sb, uint32_t i,
                                struct fpmd_sb_routes *out);

/* Reader side for slot i's in-flight requests, like fpmd_scoreboard_read. */
int fpmd_scoreboard_read_flights(const struct fpmd_scoreboard *sb, uint32_t i,
                                 struct fpmd_sb_flights *out);

/* The histogram bucket of a latency in microseconds. */
unsigned fpmd_sb_hist_bucket(uint64_t us);
/* The q-quantile (0 < q < 1) of a histogram, in milliseconds, taken at
 * the geometric middle of its bucket; 0 when it counts nothing. */
double fpmd_sb_hist_quantile(const uint64_t *hist, double q);

/* Bounded string copy into a fixed field: truncates, always terminates. */
void fpmd_scoreboard_copy_str(char *dst, size_t dstlen, const char *src,
                              size_t srclen);

#endif
