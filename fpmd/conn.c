/* SPDX-License-Identifier: BSD-2-Clause */
/* Connection plumbing shared by the FastCGI and HTTP codecs. The read
 * callback is the only place a codec parses; everything that happens
 * inside it defers flushing and freeing to its end, so no frame above
 * ever sees its connection freed. */
#include "config.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>

#include "fpmd/conn.h"
#include "fpmd/freelist.h"
#include "fpmd/log.h"
#include "fpmd/process.h"
#include "fpmd/clock.h"
#include "fpmd/handoff.h"
#include "fpmd/sched.h"

static struct fpmd_conn *conns;
static unsigned nconns;
static int handoff_tx = -1;         /* where connections go to siblings */
static void (*conn_gone)(void);

/* Connections without a started request, oldest first, per phase. */
TAILQ_HEAD(phase_list, fpmd_conn);
static struct phase_list waiting[FPMD_CONN_NPHASES] = {
    TAILQ_HEAD_INITIALIZER(waiting[0]), TAILQ_HEAD_INITIALIZER(waiting[1]),
    TAILQ_HEAD_INITIALIZER(waiting[2]), TAILQ_HEAD_INITIALIZER(waiting[3]),
    TAILQ_HEAD_INITIALIZER(waiting[4]),
};
static unsigned nwaiting[FPMD_CONN_NPHASES];

static const struct timeval *phase_tv[FPMD_CONN_NPHASES];

#define SPARE_RBUFS 64
static struct fpmd_freelist spare_rbufs = FPMD_FREELIST_INIT(SPARE_RBUFS);

/* How long a half-closed connection waits for its peer's EOF. */
#define LINGER_MS 1000
/* A graceful stop closes a kept-alive connection once it has been idle
 * this long: one the peer is using gets its next request answered (and
 * closed after it) first. */
#define STOP_IDLE_MS 1000
/* Only a head this old may be closed to make room. */
#define EVICT_HEAD_MIN_MS 1000
/* A handoff refused for lack of room in the queue is tried again after. */
#define HANDOFF_RETRY_MS 10
/* A connection a request ended on this recently is in use (hot). */
#define HOT_MS 1000

static struct {
    unsigned on:1;          /* the worker is finishing */
    unsigned handoff:1;     /* siblings take connections at rest */
    struct event retry_ev;
    unsigned retry_armed:1;
} drain;

static bool
listed(enum fpmd_conn_phase p)
{
    return p == FPMD_CONN_HEAD || p == FPMD_CONN_IDLE || p == FPMD_CONN_LINGER;
}

static uint64_t
mono_ms(void)
{
    return fpmd_mono_ns() / 1000000;
}

void
fpmd_conn_setup(const struct fpmd_conf *conf, int tx, void (*gone)(void))
{
    struct event_base *base = fpmd_process.base;
    const uint64_t ms[FPMD_CONN_NPHASES] = {
        [FPMD_CONN_HEAD] = conf->timeouts.header_read_ms,
        [FPMD_CONN_BODY] = conf->timeouts.body_read_ms,
        [FPMD_CONN_IDLE] = conf->timeouts.keepalive_ms,
        [FPMD_CONN_LINGER] = LINGER_MS,
    };

    for (int p = 0; p < FPMD_CONN_NPHASES; p++) {
        struct timeval tv = {(time_t) (ms[p] / 1000),
                             (suseconds_t) (ms[p] % 1000) * 1000};

        phase_tv[p] = ms[p] ? event_base_init_common_timeout(base, &tv)
                            : NULL;
    }
    drain.on = drain.handoff = drain.retry_armed = 0;
    handoff_tx = tx;
    conn_gone = gone;
}

unsigned
fpmd_conn_open_count(void)
{
    return nconns;
}

static void
arm(struct fpmd_conn *c, const struct timeval *tv)
{
    if (tv == NULL) {
        if (c->timer_armed)
            event_del(&c->timer_ev);
        c->timer_armed = 0;
        return;
    }
    event_add(&c->timer_ev, tv);
    c->timer_armed = 1;
}

void
fpmd_conn_extend(struct fpmd_conn *c, uint64_t ms)
{
    struct timeval tv = {(time_t) (ms / 1000), (suseconds_t) (ms % 1000) * 1000};

    arm(c, &tv);
}

uint64_t
fpmd_conn_phase_age(const struct fpmd_conn *c)
{
    return mono_ms() - c->phase_ms;
}

/* A graceful stop: an idle connection gets what is left of STOP_IDLE_MS. */
static void
arm_stop_idle(struct fpmd_conn *c)
{
    uint64_t age = fpmd_conn_phase_age(c);

    fpmd_conn_extend(c, age < STOP_IDLE_MS ? STOP_IDLE_MS - age : 0);
}

static void
set_phase(struct fpmd_conn *c, enum fpmd_conn_phase p)
{
    /* A request that started and ended inside one read left the phase
     * IDLE throughout: its end starts the idle time again (deadline, and
     * place in the queue), else a connection in steady use would be
     * closed, or evicted first, as if idle since its first answer. */
    if (p == c->phase && !(p == FPMD_CONN_IDLE && c->used_ms > c->phase_ms))
        return;
    if (listed(c->phase)) {
        TAILQ_REMOVE(&waiting[c->phase], c, phase_link);
        nwaiting[c->phase]--;
    }
    c->phase = p;
    c->phase_ms = mono_ms();
    if (listed(p)) {
        TAILQ_INSERT_TAIL(&waiting[p], c, phase_link);
        nwaiting[p]++;
    }
    if (p == FPMD_CONN_IDLE && drain.on && !drain.handoff)
        arm_stop_idle(c);
    else
        arm(c, phase_tv[p]);
}

static void
unlist(struct fpmd_conn *c)
{
    set_phase(c, FPMD_CONN_ACTIVE);
}

/* Reads and drops what the peer still sends after the answer; closes at
 * its EOF (or on an error). */
static void
drain_input(struct fpmd_conn *c)
{
    char scratch[4096];
    ssize_t n;

    while ((n = read(c->fd, scratch, sizeof(scratch))) > 0)
        ;
    if (n == 0 || (errno != EAGAIN && errno != EINTR))
        fpmd_conn_close(c);
}

/* Closing a socket whose input was not all read makes the kernel send an
 * RST, and a peer that gets one may drop the answer it has not read yet
 * (nginx does, when a handler answers before the request body ended, as
 * with fastcgi_request_buffering off). So: half-close, read and drop
 * until the peer's EOF, then close; LINGER_MS at most. */
static void
linger(struct fpmd_conn *c)
{
    shutdown(c->fd, SHUT_WR);
    set_phase(c, FPMD_CONN_LINGER);
    event_add(&c->read_ev, NULL);
    drain_input(c);
}

/* Gives c's socket to a sibling worker; the peer's next bytes wait in the
 * socket for it. FPMD_AGAIN when the queue is full for now. */
static int
hand_off(struct fpmd_conn *c)
{
    static struct fpmd_log_tally failed;
    int rc;

    if (handoff_tx < 0)
        return FPMD_ERROR;
    rc = fpmd_handoff_send(handoff_tx, c->fd, c->proto, c->ops->served(c),
                           c->peer);
    if (rc == FPMD_ERROR)
        fpmd_log_tally(&failed, FPMD_LOG_ERROR, "handoff of a connection "
                       "from %s failed: %s; it stays here", c->peer,
                       strerror(errno));
    if (rc != FPMD_OK)
        return rc;
    fpmd_conn_close(c);
    return FPMD_OK;
}

/* 1 when c's socket alone carries it: no request, nothing read and not
 * parsed, nothing to write. */
static bool
movable(const struct fpmd_conn *c)
{
    return !c->closed && !c->in_callback && !c->close_after_flush
        && (c->phase == FPMD_CONN_IDLE || c->phase == FPMD_CONN_HEAD)
        && evbuffer_get_length(c->out) == 0 && c->ops->at_rest(c);
}

static bool
may_hand_off(const struct fpmd_conn *c)
{
    return drain.on && drain.handoff && movable(c);
}

static void on_retry(evutil_socket_t fd, short what, void *arg);

static void
arm_retry(void)
{
    struct timeval tv = {0, HANDOFF_RETRY_MS * 1000};

    if (drain.retry_armed)
        return;
    event_assign(&drain.retry_ev, fpmd_process.base, -1, 0, on_retry, NULL);
    event_add(&drain.retry_ev, &tv);
    drain.retry_armed = 1;
}

/* Moves every connection at rest to a sibling; when the queue has no room
 * for more yet, the rest is tried again shortly, and a worker that cannot
 * hand off at all drains as for a stop. */
static void
hand_off_all(void)
{
    struct fpmd_conn *c, *next;

    for (c = conns; c != NULL; c = next) {
        int rc;

        next = c->next;
        if (!may_hand_off(c))
            continue;
        rc = hand_off(c);
        if (rc == FPMD_AGAIN) {
            arm_retry();
            return;
        }
        if (rc == FPMD_ERROR) {
            fpmd_conn_drain_all(0);
            return;
        }
        fpmd_conn_maybe_free(c);
    }
}

static void
on_retry(evutil_socket_t fd, short what, void *arg)
{
    drain.retry_armed = 0;
    hand_off_all();
}

static bool
hot(const struct fpmd_conn *c, uint64_t now)
{
    return c->phase == FPMD_CONN_ACTIVE || c->phase == FPMD_CONN_BODY
        || (c->used_ms != 0 && now - c->used_ms < HOT_MS);
}

unsigned
fpmd_conn_hot_count(void)
{
    uint64_t now = mono_ms();
    unsigned n = 0;

    for (const struct fpmd_conn *c = conns; c != NULL; c = c->next)
        n += !c->closed && hot(c, now);
    return n;
}

/* A full queue or a failure: FPMD_ERROR, and the rest stay, looked at
 * again on the next tick. */
static int
pass(struct fpmd_conn *c)
{
    if (hand_off(c) != FPMD_OK)
        return FPMD_ERROR;
    fpmd_conn_maybe_free(c);
    return FPMD_OK;
}

unsigned
fpmd_conn_pass_on(unsigned hot_n, unsigned n)
{
    struct fpmd_conn *c, *other;
    uint64_t now = mono_ms();
    unsigned moved = 0;

    if (drain.on)
        return 0;
    /* Kept-alive ones only: a new connection that has sent nothing yet
     * would get a fresh header_read deadline where it lands. Those in
     * use released last first: the web server takes them next. One
     * received from a sibling and not used here since is cold, and so
     * is every one idle for longer than HOT_MS, as the rest of the
     * queue. */
    for (c = TAILQ_LAST(&waiting[FPMD_CONN_IDLE], phase_list);
         c != NULL && moved < hot_n && now - c->phase_ms < HOT_MS;
         c = other) {
        other = TAILQ_PREV(c, phase_list, phase_link);
        if (!hot(c, now) || !movable(c))
            continue;
        if (pass(c) != FPMD_OK)
            return moved;
        moved++;
    }
    /* The rest of the count from cold ones, idle longest first: they
     * carry no load where they go. */
    for (c = TAILQ_FIRST(&waiting[FPMD_CONN_IDLE]); c != NULL && moved < n;
         c = other) {
        other = TAILQ_NEXT(c, phase_link);
        if (hot(c, now) || !movable(c))
            continue;
        if (pass(c) != FPMD_OK)
            break;
        moved++;
    }
    return moved;
}

void
fpmd_conn_update(struct fpmd_conn *c)
{
    if (c->closed || c->phase == FPMD_CONN_LINGER)
        return;
    set_phase(c, c->ops->phase(c));
    /* Never frees c (callers go on using it): a failed handoff is left to
     * the retry, which may. */
    if (may_hand_off(c) && hand_off(c) != FPMD_OK)
        arm_retry();
}

static void
on_read(evutil_socket_t fd, short what, void *arg)
{
    struct fpmd_conn *c = arg;
    int paused;

    if (c->phase == FPMD_CONN_LINGER) {
        drain_input(c);
        fpmd_conn_maybe_free(c);
        return;
    }
    /* Its next request could not start here now: rather than queue it
     * behind this worker's requests, a sibling that has room (or one about
     * to be forked) takes the connection, unread. When the whole pool is
     * busy it is read here, and its request waits or is refused. */
    if (fpmd_sched_at_capacity() && movable(c) && !fpmd_sched_pool_saturated()
        && hand_off(c) == FPMD_OK) {
        fpmd_conn_maybe_free(c);
        return;
    }
    c->in_callback = 1;
    paused = c->ops->read(c);
    c->in_callback = 0;
    if (!c->closed) {
        /* Closing: no new request is read, but the rest of one already
         * under way is (the tail of a body answered early), so that the
         * codec gets back to idle and the connection can close. */
        if (paused || (c->close_after_flush && c->ops->idle(c)))
            event_del(&c->read_ev);
        else
            event_add(&c->read_ev, NULL);
        fpmd_conn_flush(c);
    }
    fpmd_conn_update(c);
    fpmd_conn_maybe_free(c);
}

static void
on_write(evutil_socket_t fd, short what, void *arg)
{
    struct fpmd_conn *c = arg;

    c->write_armed = 0;
    fpmd_conn_flush(c);
    fpmd_conn_maybe_free(c);
}

/* A graceful stop's idle connection: closed unless a request is already
 * waiting in it, which the read event then serves. */
static void
close_if_quiet(struct fpmd_conn *c)
{
    char b;
    ssize_t n = recv(c->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);

    if (n <= 0)
        fpmd_conn_close(c);
}

static void
on_timer(evutil_socket_t fd, short what, void *arg)
{
    struct fpmd_conn *c = arg;

    c->timer_armed = 0;
    switch (c->phase) {
    case FPMD_CONN_LINGER:      /* the peer never closed: enough */
        fpmd_conn_close(c);
        break;
    case FPMD_CONN_IDLE:
        if (drain.on && !drain.handoff) {
            close_if_quiet(c);
        } else {
            fpmd_log(FPMD_LOG_DEBUG, "%s: keep-alive timeout", c->peer);
            fpmd_conn_close(c);
        }
        break;
    default:
        c->ops->timeout(c);
        if (!c->closed)
            fpmd_conn_flush(c);
        break;
    }
    fpmd_conn_maybe_free(c);
}

int
fpmd_conn_init(struct fpmd_conn *c, const struct fpmd_conn_ops *ops, int fd,
               const char *peer, int proto)
{
    c->out = evbuffer_new();
    if (c->out == NULL)
        return FPMD_ERROR;
    c->ops = ops;
    c->fd = fd;
    c->proto = (unsigned char) proto;
    c->phase = FPMD_CONN_ACTIVE;
    snprintf(c->peer, sizeof(c->peer), "%s", peer);
    event_assign(&c->read_ev, fpmd_process.base, fd, EV_READ | EV_PERSIST,
                 on_read, c);
    event_assign(&c->write_ev, fpmd_process.base, fd, EV_WRITE, on_write, c);
    event_assign(&c->timer_ev, fpmd_process.base, -1, 0, on_timer, c);
    event_add(&c->read_ev, NULL);
    c->next = conns;
    if (conns != NULL)
        conns->prev = c;
    conns = c;
    nconns++;
    fpmd_conn_update(c);
    return FPMD_OK;
}

bool
fpmd_conn_congested(const struct fpmd_conn *c)
{
    return !c->closed && evbuffer_get_length(c->out) > FPMD_CONN_OUT_HIGH;
}

void
fpmd_conn_after_write(struct fpmd_conn *c)
{
    if (evbuffer_get_length(c->out) > FPMD_CONN_OUT_HIGH)
        fpmd_conn_flush(c);
    else if (!c->in_callback && !c->closed)
        /* A handler resumed by another socket's event (a backend's) writes
         * its answer in pieces and then ends it: the write goes out once,
         * later in this loop pass, with all of them. */
        event_active(&c->write_ev, EV_WRITE, 1);
}

/* A stop closes a kept connection right after its last answer; a web
 * server that reuses it before it sees the FIN has its next request
 * reset. Corked, the answer's last bytes wait for the close and leave in
 * one TCP segment with the FIN, so the peer learns both at once (nginx
 * then never reuses the connection). Unix sockets have no such thing. */
static void
cork(struct fpmd_conn *c)
{
    int one = 1;

    c->corked = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_CORK, &one, sizeof(one));
}

void
fpmd_conn_flush(struct fpmd_conn *c)
{
    if (c->close_after_flush && !c->corked && fpmd_conn_draining())
        cork(c);
    while (!c->closed && evbuffer_get_length(c->out) > 0) {
        if (evbuffer_write(c->out, c->fd) < 0) {
            if (errno == EAGAIN || errno == EINTR)
                break;
            if (errno != EPIPE && errno != ECONNRESET)
                fpmd_log_errno(FPMD_LOG_NOTICE, "%s: write", c->peer);
            fpmd_conn_close(c);
            return;
        }
    }
    if (c->closed)
        return;
    if (evbuffer_get_length(c->out) > 0) {
        if (!c->write_armed) {
            event_add(&c->write_ev, NULL);
            c->write_armed = 1;
        }
    } else {
        if (c->write_armed) {
            event_del(&c->write_ev);
            c->write_armed = 0;
        }
        if (c->close_after_flush && !c->ops->busy(c) && c->ops->idle(c)
            && c->phase != FPMD_CONN_LINGER) {
            /* RFC 9112 §9.6: half-close first, so the peer reads the
             * answer before it sees the connection go; unless the peer
             * has said all it will, and nothing of it is left unread. */
            if (c->ops->input_done != NULL && c->ops->input_done(c))
                fpmd_conn_close(c);
            else
                linger(c);
            return;
        }
    }
    if (evbuffer_get_length(c->out) < FPMD_CONN_OUT_LOW)
        c->ops->drained(c);
}

void
fpmd_conn_close(struct fpmd_conn *c)
{
    if (c->closed)
        return;
    c->closed = 1;
    unlist(c);
    event_del(&c->read_ev);
    event_del(&c->write_ev);
    arm(c, NULL);
    c->write_armed = 0;
    close(c->fd);
    c->fd = -1;
    c->ops->closed(c);
}

void
fpmd_conn_settle(struct fpmd_conn *c)
{
    /* a request may start and end inside one read: the phase shows it
     * only through this (set_phase) */
    c->used_ms = mono_ms();
    if (c->in_callback)
        return;
    fpmd_conn_flush(c);
    fpmd_conn_update(c);
    fpmd_conn_maybe_free(c);
}

void
fpmd_conn_maybe_free(struct fpmd_conn *c)
{
    if (!c->closed || c->in_callback || c->ops->busy(c))
        return;
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        conns = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    evbuffer_free(c->out);
    nconns--;
    if (conn_gone != NULL)
        conn_gone();
    c->ops->destroy(c);
}

void
fpmd_conn_read_again(struct fpmd_conn *c)
{
    if (!c->closed)
        event_active(&c->read_ev, EV_READ, 0);
}

uint8_t *
fpmd_conn_rbuf_get(void)
{
    uint8_t *buf = fpmd_freelist_get(&spare_rbufs);

    return buf != NULL ? buf : malloc(FPMD_CONN_RBUF);
}

void
fpmd_conn_rbuf_put(uint8_t *buf)
{
    if (buf != NULL && !fpmd_freelist_put(&spare_rbufs, buf))
        free(buf);
}

size_t
fpmd_conn_rbuf_trim(size_t keep)
{
    return fpmd_freelist_trim(&spare_rbufs, keep, free);
}

unsigned
fpmd_conn_count(enum fpmd_conn_phase phase)
{
    return listed(phase) ? nwaiting[phase] : 0;
}

bool
fpmd_conn_evict(bool heads_only)
{
    static const enum fpmd_conn_phase order[] = {
        FPMD_CONN_LINGER, FPMD_CONN_HEAD, FPMD_CONN_IDLE,
    };

    for (size_t i = 0; i < FPMD_ARRAY_LEN(order); i++) {
        struct fpmd_conn *c = TAILQ_FIRST(&waiting[order[i]]);

        if (c == NULL || (heads_only && order[i] != FPMD_CONN_HEAD))
            continue;
        /* A head younger than this is most likely a request whose bytes
         * are in the socket, not read yet. */
        if (order[i] == FPMD_CONN_HEAD
            && fpmd_conn_phase_age(c) < EVICT_HEAD_MIN_MS)
            continue;
        fpmd_conn_close(c);
        fpmd_conn_maybe_free(c);
        return true;
    }
    return false;
}

void
fpmd_conn_drain_all(int handoff)
{
    struct fpmd_conn *c;

    drain.on = 1;
    drain.handoff = handoff != 0;
    if (drain.handoff) {
        hand_off_all();
        return;
    }
    /* Answers under way close their connection (the codecs ask
     * fpmd_conn_draining()); one accepted but silent yet is waited for
     * (its HEAD deadline bounds it): its peer chose this worker, and
     * closing would fail a request about to arrive. */
    for (c = conns; c != NULL; c = c->next) {
        if (!c->closed && c->phase == FPMD_CONN_IDLE && c->ops->at_rest(c))
            arm_stop_idle(c);
    }
}

bool
fpmd_conn_draining(void)
{
    return drain.on && !drain.handoff;
}

void
fpmd_conn_close_all(void)
{
    struct fpmd_conn *c, *next;

    if (drain.retry_armed)
        event_del(&drain.retry_ev);
    drain.retry_armed = 0;
    for (c = conns; c != NULL; c = next) {
        next = c->next;
        fpmd_conn_close(c);
        fpmd_conn_maybe_free(c);
    }
}
