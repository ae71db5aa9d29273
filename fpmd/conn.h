/* SPDX-License-Identifier: BSD-2-Clause */
/* What every accepted connection of a worker shares, whatever its codec:
 * the socket and its events, the output buffer and its flushing with
 * high/low-water marks, the phase the connection is in and the deadline
 * that goes with it, closing, and the rule that a connection is freed only
 * once it is closed and no request refers to it. A codec embeds struct
 * fpmd_conn first in its own connection and supplies the ops. */
#ifndef FPMD_CONN_H
#define FPMD_CONN_H

#include <stdint.h>
#include <sys/queue.h>

#include <event2/event.h>
#include <event2/event_struct.h>

#include "fpmd/conf.h"

/* A connection's read buffer. It holds one only while it has input read
 * and not yet parsed (a pipelined request waiting, a body window full):
 * a peer that sends a head a byte at a time costs a connection object,
 * not a buffer. */
#define FPMD_CONN_RBUF 16384

/* Output above HIGH parks writers; they resume below LOW. */
#define FPMD_CONN_OUT_HIGH (256 * 1024)
#define FPMD_CONN_OUT_LOW (64 * 1024)

/* Where a connection stands. Each phase has one deadline, counted from
 * when the connection entered it (not re-armed by bytes arriving, so a
 * peer cannot stretch it by drip-feeding). HEAD, IDLE and LINGER hold no
 * started request: such a connection may be closed to make room. */
enum fpmd_conn_phase {
    FPMD_CONN_ACTIVE,   /* a request runs; its handler has the time */
    FPMD_CONN_HEAD,     /* no request started yet: timeouts.header_read */
    FPMD_CONN_BODY,     /* HTTP body arriving: timeouts.body_read */
    FPMD_CONN_IDLE,     /* kept alive between requests: timeouts.keepalive */
    FPMD_CONN_LINGER,   /* answered, half-closed, reading to the peer's EOF */
    FPMD_CONN_NPHASES
};

struct fpmd_conn;

struct fpmd_conn_ops {
    /* Bytes may be read: read and parse. Returns 1 to stop reading for now
     * (input paused), 0 to keep reading. */
    int (*read)(struct fpmd_conn *c);
    /* The deadline of the connection's phase passed (HEAD or BODY; conn.c
     * closes IDLE and LINGER ones itself). */
    void (*timeout)(struct fpmd_conn *c);
    /* The phase the codec's state puts the connection in. */
    enum fpmd_conn_phase (*phase)(const struct fpmd_conn *c);
    /* Output fell below the low-water mark: wake parked writers. */
    void (*drained)(struct fpmd_conn *c);
    /* The socket is closed: abort requests that run, free the others. */
    void (*closed)(struct fpmd_conn *c);
    /* 1 while requests still refer to the connection. */
    bool (*busy)(const struct fpmd_conn *c);
    /* 1 when no request is half received, so close_after_flush may close. */
    bool (*idle)(const struct fpmd_conn *c);
    /* 1 when the connection holds nothing of a request (no request, no
     * byte read and not yet parsed): its socket alone carries it, so it
     * can be handed to another worker or closed without losing anything
     * it received. */
    bool (*at_rest)(const struct fpmd_conn *c);
    /* Optional: 1 when the peer will send nothing more and all it sent
     * was read, so a close needs no lingering (NULL: always linger). */
    bool (*input_done)(const struct fpmd_conn *c);
    /* Requests the connection has answered, carried along a handoff. */
    unsigned (*served)(const struct fpmd_conn *c);
    /* Frees the codec's object (which holds this struct). */
    void (*destroy)(struct fpmd_conn *c);
};

struct fpmd_conn {
    struct fpmd_conn *prev, *next;  /* every connection of the worker */
    TAILQ_ENTRY(fpmd_conn) phase_link;  /* HEAD, IDLE, LINGER: oldest first */
    const struct fpmd_conn_ops *ops;
    int fd;
    struct event read_ev, write_ev, timer_ev;
    struct evbuffer *out;
    enum fpmd_conn_phase phase;
    uint64_t phase_ms;              /* monotonic, when the phase began */
    uint64_t used_ms;               /* when a request last ended on it in
                                     * this worker; 0: none yet */
    unsigned timer_armed:1;
    unsigned write_armed:1;
    unsigned closed:1;
    unsigned close_after_flush:1;
    unsigned in_callback:1;         /* inside ops->read */
    unsigned corked:1;              /* TCP_CORK: see fpmd_conn_flush */
    unsigned char proto;            /* enum fpmd_listen_proto */
    char peer[64];
};

/* Once per worker, after its event base exists: the phases' deadlines;
 * tx, where connections go to siblings (handoff.h; -1: nowhere); gone,
 * called once a connection is closed and freed (or handed over). */
void fpmd_conn_setup(const struct fpmd_conf *conf, int tx, void (*gone)(void));
/* Connections open in this process. */
unsigned fpmd_conn_open_count(void);

/* Sets c up on an accepted, non-blocking socket and starts reading.
 * FPMD_ERROR when memory is out (the caller closes fd and frees c). */
int fpmd_conn_init(struct fpmd_conn *c, const struct fpmd_conn_ops *ops,
                   int fd, const char *peer, int proto);

/* Writes what the output buffer holds; closes when close_after_flush is
 * set and the codec is idle; wakes writers below the low-water mark. */
void fpmd_conn_flush(struct fpmd_conn *c);
/* Flushes at the end of ops->read, or later in this loop pass when
 * called from elsewhere; at once over the high-water mark. */
void fpmd_conn_after_write(struct fpmd_conn *c);
bool fpmd_conn_congested(const struct fpmd_conn *c);

void fpmd_conn_close(struct fpmd_conn *c);
/* After a request ended: flush, then free the connection or move it to
 * its next phase; nothing when inside ops->read, whose end does the same. */
void fpmd_conn_settle(struct fpmd_conn *c);
/* Frees c when closed, not busy, and not inside its own read callback. */
void fpmd_conn_maybe_free(struct fpmd_conn *c);

/* Puts c in the phase its codec says (ops->phase), arming that phase's
 * deadline when the phase changes. */
void fpmd_conn_update(struct fpmd_conn *c);
/* Fires c's timer again in ms (a deadline the codec extended). */
void fpmd_conn_extend(struct fpmd_conn *c, uint64_t ms);
/* Milliseconds c has been in its phase. */
uint64_t fpmd_conn_phase_age(const struct fpmd_conn *c);

/* Runs ops->read again on the next loop pass (never on the caller's
 * stack: callers may be handlers inside a coroutine). */
void fpmd_conn_read_again(struct fpmd_conn *c);

/* A read buffer of FPMD_CONN_RBUF bytes (NULL when memory is out), and
 * back to the worker's spares; trim frees spares beyond keep. */
uint8_t *fpmd_conn_rbuf_get(void);
void fpmd_conn_rbuf_put(uint8_t *buf);
size_t fpmd_conn_rbuf_trim(size_t keep);

/* Connections without a started request, per phase. */
unsigned fpmd_conn_count(enum fpmd_conn_phase phase);
/* Closes the connection that has waited longest without a started request:
 * a lingering one first, then one whose head has not come in a second,
 * then an idle kept-alive one (only heads, with heads_only). false when
 * there is none. */
bool fpmd_conn_evict(bool heads_only);

/* Connections in use: a request runs on them, or ended on them within
 * the last second. A web server reuses the kept connection it released
 * last (nginx's keepalive cache is a stack), so these carry the load and
 * the others wait, cold; a worker's share of the load is its share of
 * these. Walks every connection. */
unsigned fpmd_conn_hot_count(void);

/* Gives kept-alive connections at rest (between requests, nothing read
 * and not parsed, nothing to write) to siblings over the handoff socket,
 * as a finishing worker does: up to hot_n of those in use, the one
 * released last first, then cold ones, idle longest first, up to n in
 * all; the worker holds more than its share (fpmd_accept_excess).
 * Nothing while finishing. How many went. */
unsigned fpmd_conn_pass_on(unsigned hot_n, unsigned n);

/* Graceful exit of the worker. With handoff, connections at rest go to the
 * worker's siblings now and the others once their answer is out; without,
 * answers close their connection and a connection at rest is closed once
 * it has been idle a moment. */
void fpmd_conn_drain_all(int handoff);
/* 1 during a graceful stop: answers close their connection (HTTP says
 * Connection: close; FastCGI closes after END_REQUEST). */
bool fpmd_conn_draining(void);
/* Fast exit. */
void fpmd_conn_close_all(void);

#endif
