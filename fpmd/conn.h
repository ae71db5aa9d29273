/* SPDX-License-Identifier: BSD-2-Clause */
/* What every accepted connection of a worker shares, whatever its codec:
 * the socket and its events, the output buffer and its flushing with
 * high/low-water marks, one timer, closing, and the rule that a connection
 * is freed only once it is closed and no request refers to it. A codec
 * embeds struct fpmd_conn first in its own connection and supplies the
 * ops. */
#ifndef FPMD_CONN_H
#define FPMD_CONN_H

#include <stdint.h>

#include <event2/event.h>
#include <event2/event_struct.h>

/* Output above HIGH parks writers; they resume below LOW. */
#define FPMD_CONN_OUT_HIGH (256 * 1024)
#define FPMD_CONN_OUT_LOW (64 * 1024)

struct fpmd_conn;

struct fpmd_conn_ops {
    /* Bytes may be read: read and parse. Returns 1 to stop reading for now
     * (input paused), 0 to keep reading. */
    int (*read)(struct fpmd_conn *c);
    /* The connection's timer fired. */
    void (*timeout)(struct fpmd_conn *c);
    /* Re-arms the timer for the connection's state (fpmd_conn_timer). */
    void (*update_timer)(struct fpmd_conn *c);
    /* Output fell below the low-water mark: wake parked writers. */
    void (*drained)(struct fpmd_conn *c);
    /* The socket is closed: abort requests that run, free the others. */
    void (*closed)(struct fpmd_conn *c);
    /* 1 while requests still refer to the connection. */
    int (*busy)(const struct fpmd_conn *c);
    /* 1 when no request is half received, so close_after_flush may close. */
    int (*idle)(const struct fpmd_conn *c);
    /* Graceful exit: 1 when the connection may close right now; otherwise
     * the codec arranges for it to close after its current answer. */
    int (*drain)(struct fpmd_conn *c);
    /* Optional: 1 when the peer will send nothing more and all it sent
     * was read, so a close needs no lingering (NULL: always linger). */
    int (*input_done)(const struct fpmd_conn *c);
    /* Frees the codec's object (which holds this struct). */
    void (*destroy)(struct fpmd_conn *c);
};

struct fpmd_conn {
    struct fpmd_conn *prev, *next;  /* every connection of the worker */
    const struct fpmd_conn_ops *ops;
    int fd;
    struct event read_ev, write_ev, timer_ev;
    struct evbuffer *out;
    unsigned timer_armed:1;
    unsigned write_armed:1;
    unsigned closed:1;
    unsigned close_after_flush:1;
    unsigned in_callback:1;         /* inside ops->read */
    unsigned fresh:1;               /* no request started yet */
    unsigned lingering:1;           /* answered, half-closed, draining */
    char peer[64];
};

/* Sets c up on an accepted, non-blocking socket and starts reading.
 * FPMD_ERROR when memory is out (the caller closes fd and frees c). */
int fpmd_conn_init(struct fpmd_conn *c, const struct fpmd_conn_ops *ops,
                   int fd, const char *peer);

/* Writes what the output buffer holds; closes when close_after_flush is
 * set and the codec is idle; wakes writers below the low-water mark. */
void fpmd_conn_flush(struct fpmd_conn *c);
/* Flushes at the end of ops->read, or later in this loop pass when
 * called from elsewhere; at once over the high-water mark. */
void fpmd_conn_after_write(struct fpmd_conn *c);
int fpmd_conn_congested(const struct fpmd_conn *c);

void fpmd_conn_close(struct fpmd_conn *c);
/* After a request ended: flush, then free the connection or re-arm its
 * timer; nothing when inside ops->read, whose end does the same. */
void fpmd_conn_settle(struct fpmd_conn *c);
/* Frees c when closed, not busy, and not inside its own read callback. */
void fpmd_conn_maybe_free(struct fpmd_conn *c);

/* Arms the timer (tv from fpmd_conn_timeout), or disarms it (NULL). */
void fpmd_conn_timer(struct fpmd_conn *c, const struct timeval *tv);
/* A duration shared by many connections: O(1) to arm (libevent's common
 * timeouts). */
const struct timeval *fpmd_conn_timeout(uint64_t ms);

/* Runs ops->read again on the next loop pass (never on the caller's
 * stack: callers may be handlers inside a coroutine). */
void fpmd_conn_read_again(struct fpmd_conn *c);

/* The connection's first request started: it no longer counts as fresh
 * toward max_concurrency. */
void fpmd_conn_unfresh(struct fpmd_conn *c);

/* Graceful exit of the worker: idle connections close now, the others
 * after their answer. */
void fpmd_conn_drain_all(void);
/* Fast exit. */
void fpmd_conn_close_all(void);

#endif
