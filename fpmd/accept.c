/* SPDX-License-Identifier: BSD-2-Clause */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fpmd/accept.h"
#include "fpmd/clock.h"
#include "fpmd/conn.h"
#include "fpmd/handoff.h"
#include "fpmd/log.h"
#include "fpmd/process.h"
#include "fpmd/scoreboard.h"
#include "fpmd/sched.h"

#define ACCEPT_BATCH 16
/* Accepting paused by an error resumes after this, or at the next close. */
#define PAUSE_MS 100
/* How many connections, or connections in use, a worker may hold beyond
 * a sibling that takes them before it passes it some of its own
 * (fpmd_accept_excess). */
#define SHARE_SLACK 4
/* One that left new connections to a sibling looks again this soon:
 * nothing of its own need happen meanwhile, and the sibling, holding
 * more by then but seeing it take none, would take a whole burst. */
#define SHARE_RECHECK_MS 10

static struct {
    struct fpmd_listener *listeners;
    size_t nlisteners;
    struct event **evs;         /* one per listener, then the handoff one */
    size_t nevs;
    int rx;
    fpmd_accept_take_fn take;
    bool stopped;               /* finishing: never again */
    int reserve;                /* a spare descriptor, so that a socket
                                 * received from a sibling always has a
                                 * slot (else the kernel drops it) */
    bool on;
    bool paused;
    struct event *resume_ev;
    struct event *share_ev;
} acc = {.rx = -1, .reserve = -1};

static struct fpmd_log_tally refused_tally, error_tally, full_tally,
    pending_tally, handoff_tally;

static bool
waiting_conns(void)
{
    return fpmd_conn_count(FPMD_CONN_HEAD) + fpmd_conn_count(FPMD_CONN_IDLE)
        + fpmd_conn_count(FPMD_CONN_LINGER) > 0;
}

/* Only what a request holds stops a worker from accepting: connections
 * without one can be closed to make room. A worker at its cap leaves new
 * connections to siblings with room (or to one about to be forked); once
 * the whole pool is busy it takes them again, so that their requests
 * wait in its bounded queue or are refused at once, instead of waiting
 * in the listen queue for as long as it takes. */
static bool
may_accept(void)
{
    return !acc.stopped && !acc.paused
        && (!fpmd_sched_at_capacity() || fpmd_sched_pool_saturated())
        && (fpmd_conn_open_count() < fpmd_process.conf->limits.connections
            || waiting_conns());
}

/* New connections go by count alone: of any two workers one holds no
 * more than the other, so someone takes them. */
static bool
over_share(void)
{
    unsigned conns, hot;

    fpmd_accept_excess(&conns, &hot);
    return conns > 0;
}

static unsigned
excess(uint32_t mine, uint32_t fewest)
{
    if (fewest == UINT32_MAX || mine <= fewest + SHARE_SLACK)
        return 0;
    return (mine - fewest) / 2;
}

void
fpmd_accept_excess(unsigned *conns, unsigned *hot)
{
    const struct fpmd_scoreboard *sb = fpmd_process.sb;
    uint32_t fewest_conns, fewest_hot;

    *conns = *hot = 0;
    if (sb == NULL || fpmd_process.slot == NULL)
        return;
    fpmd_scoreboard_fewest_elsewhere(
        sb, (uint32_t) (fpmd_process.slot - sb->slots), fpmd_now_us(),
        &fewest_conns, &fewest_hot);
    *conns = excess(fpmd_conn_open_count(), fewest_conns);
    *hot = excess(__atomic_load_n(&fpmd_process.slot->hot_conns,
                                  __ATOMIC_RELAXED), fewest_hot);
}

/* Connections taken in one wakeup: no more than could start a request
 * now, so that a burst spreads over the workers instead of queueing in
 * the first one awake; one at a time once the pool is saturated. */
static int
batch(void)
{
    unsigned room = fpmd_sched_room();

    if (room == 0)
        return 1;
    return room < ACCEPT_BATCH ? (int) room : ACCEPT_BATCH;
}

static void
set_on(bool on)
{
    if (acc.on == on)
        return;
    for (size_t i = 0; i < acc.nevs; i++) {
        if (on)
            event_add(acc.evs[i], NULL);
        else
            event_del(acc.evs[i]);
    }
    acc.on = on;
    if (fpmd_process.slot != NULL)
        __atomic_store_n(&fpmd_process.slot->taking, on, __ATOMIC_RELAXED);
}

void
fpmd_accept_update(void)
{
    bool may = may_accept(), over = may && over_share();

    set_on(may && !over);
    if (over && acc.share_ev != NULL
        && !evtimer_pending(acc.share_ev, NULL)) {
        struct timeval tv = {0, SHARE_RECHECK_MS * 1000};

        evtimer_add(acc.share_ev, &tv);
    }
}

static void
on_share_recheck(evutil_socket_t fd, short what, void *arg)
{
    fpmd_accept_update();
}

static void
pause_accepting(void)
{
    struct timeval tv = {0, PAUSE_MS * 1000};

    acc.paused = true;
    set_on(0);
    event_add(acc.resume_ev, &tv);
}

static void
on_resume(evutil_socket_t fd, short what, void *arg)
{
    acc.paused = false;
    fpmd_accept_update();
}

void
fpmd_accept_conn_closed(void)
{
    if (acc.paused) {
        event_del(acc.resume_ev);
        acc.paused = false;
    }
}

/* At limits.connections, the connection waiting longest without a request
 * goes. false when none can go yet: accepting then pauses, as the listening
 * socket stays readable. */
static bool
make_room(void)
{
    unsigned max = fpmd_process.conf->limits.connections;

    if (fpmd_conn_open_count() < max)
        return true;
    if (!fpmd_conn_evict(false))
        return false;
    fpmd_log_tally(&full_tally, FPMD_LOG_WARNING, "limits.connections (%u) "
                   "reached: closed the connection waiting longest for a "
                   "request", max);
    return true;
}

static void
bound_pending(void)
{
    unsigned max = fpmd_process.conf->limits.pending_connections;

    while (fpmd_conn_count(FPMD_CONN_HEAD) > max && fpmd_conn_evict(true))
        fpmd_log_tally(&pending_tally, FPMD_LOG_WARNING,
                       "limits.pending_connections (%u) reached: closed the "
                       "connection waiting longest for its request", max);
}

/* true to go on accepting, false to stop for this wakeup. Out of descriptors,
 * one held by a connection without a request is freed; otherwise, and
 * for any error that leaves the queue as it was, accepting pauses: the
 * listening socket stays readable, and going on would spin. */
static bool
accept_failed(const char *what)
{
    int err = errno;

    switch (err) {
    case EAGAIN:
    case EINTR:
        return false;
    case ECONNABORTED:
    case EPROTO:
    case EPERM:
        return true;       /* that connection is gone; the next may be fine */
    case EMFILE:
    case ENFILE:
        if (fpmd_conn_evict(false)) {
            fpmd_log_tally(&error_tally, FPMD_LOG_WARNING, "%s: %s: closed "
                           "the connection waiting longest for a request",
                           what, strerror(err));
            return true;
        }
        break;
    default:
        break;
    }
    fpmd_log_tally(&error_tally, FPMD_LOG_ERROR, "%s: %s; accepting paused "
                   "until a connection closes", what, strerror(err));
    pause_accepting();
    return false;
}

/* php-fpm's listen.allowed_clients: a peer not allowed is dropped before
 * any byte is read. */
static void
admit(const struct fpmd_listener *l, int cfd,
      const struct sockaddr_storage *ss, socklen_t sslen)
{
    char peer[64];

    fpmd_sockaddr_ntop((const struct sockaddr *) ss, peer, sizeof(peer));
    if (!fpmd_listener_allows(l, (const struct sockaddr *) ss, sslen)) {
        fpmd_log_tally(&refused_tally, FPMD_LOG_WARNING, "Connection "
                       "disallowed: IP address '%s' has been dropped.", peer);
        close(cfd);
        return;
    }
    acc.take(cfd, peer, l->proto, 0, 1);
}

static void
on_accept(evutil_socket_t fd, short what, void *arg)
{
    struct fpmd_listener *l = arg;
    struct sockaddr_storage ss;
    char where[300];

    snprintf(where, sizeof(where), "accept on %s", l->address);
    for (int i = 0; i < batch() && acc.on; i++) {
        socklen_t sslen = sizeof(ss);
        int cfd;

        if (!make_room()) {
            pause_accepting();
            break;
        }
        cfd = accept4(fd, (struct sockaddr *) &ss, &sslen,
                      SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (cfd < 0) {
            if (accept_failed(where))
                continue;
            return;
        }
        admit(l, cfd, &ss, sslen);
        bound_pending();
    }
    fpmd_accept_update();
}

static int
open_reserve(void)
{
    return open("/dev/null", O_RDONLY | O_CLOEXEC);
}

static void
on_handoff(evutil_socket_t fd, short what, void *arg)
{
    char peer[64];

    for (int i = 0; i < batch() && acc.on; i++) {
        unsigned served;
        int cfd, proto, rc;

        if (!make_room()) {
            pause_accepting();
            break;
        }
        if (acc.reserve < 0 && (acc.reserve = open_reserve()) < 0) {
            if (accept_failed("handoff"))
                continue;
            return;
        }
        close(acc.reserve);
        rc = fpmd_handoff_recv(fd, &cfd, &proto, &served, peer, sizeof(peer));
        acc.reserve = open_reserve();
        if (rc == FPMD_AGAIN)
            break;
        if (rc != FPMD_OK) {
            fpmd_log_tally(&handoff_tally, FPMD_LOG_ERROR, "handoff: a "
                           "message without a usable socket was dropped");
            continue;
        }
        acc.take(cfd, peer, proto, served, 0);
        bound_pending();
    }
    fpmd_accept_update();
}

int
fpmd_accept_setup(struct fpmd_listener *listeners, size_t nlisteners, int rx,
                  fpmd_accept_take_fn take)
{
    struct event_base *base = fpmd_process.base;

    acc.listeners = listeners;
    acc.nlisteners = nlisteners;
    acc.rx = rx;
    acc.take = take;
    acc.on = acc.paused = acc.stopped = false;
    acc.nevs = 0;
    acc.evs = calloc(nlisteners + 1, sizeof(*acc.evs));
    acc.resume_ev = evtimer_new(base, on_resume, NULL);
    acc.share_ev = evtimer_new(base, on_share_recheck, NULL);
    if (acc.evs == NULL || acc.resume_ev == NULL || acc.share_ev == NULL)
        return FPMD_ERROR;
    for (size_t i = 0; i < nlisteners; i++) {
        acc.evs[i] = event_new(base, listeners[i].fd, EV_READ | EV_PERSIST,
                               on_accept, &listeners[i]);
        if (acc.evs[i] == NULL)
            return FPMD_ERROR;
        acc.nevs++;
    }
    if (rx >= 0) {
        acc.evs[acc.nevs] = event_new(base, rx, EV_READ | EV_PERSIST,
                                      on_handoff, NULL);
        if (acc.evs[acc.nevs] == NULL)
            return FPMD_ERROR;
        acc.nevs++;
        acc.reserve = open_reserve();
    }
    return FPMD_OK;
}

void
fpmd_accept_free(void)
{
    for (size_t i = 0; i < acc.nevs; i++)
        event_free(acc.evs[i]);
    free(acc.evs);
    acc.evs = NULL;
    acc.nevs = 0;
    acc.on = 0;
    if (acc.resume_ev != NULL)
        event_free(acc.resume_ev);
    acc.resume_ev = NULL;
    if (acc.share_ev != NULL)
        event_free(acc.share_ev);
    acc.share_ev = NULL;
    if (acc.reserve >= 0)
        close(acc.reserve);
    acc.reserve = -1;
}

void
fpmd_accept_stop(void)
{
    acc.stopped = true;
    set_on(0);
}

void
fpmd_accept_close_listeners(void)
{
    unsigned max = fpmd_process.conf->limits.connections;

    fpmd_accept_stop();
    for (size_t i = 0; i < acc.nlisteners; i++) {
        struct fpmd_listener *l = &acc.listeners[i];

        if (l->fd < 0)
            continue;
        while (fpmd_conn_open_count() < max) {
            struct sockaddr_storage ss;
            socklen_t sslen = sizeof(ss);
            int cfd = accept4(l->fd, (struct sockaddr *) &ss, &sslen,
                              SOCK_NONBLOCK | SOCK_CLOEXEC);

            if (cfd < 0)
                break;
            admit(l, cfd, &ss, sslen);
        }
        close(l->fd);
        l->fd = -1;
    }
}
